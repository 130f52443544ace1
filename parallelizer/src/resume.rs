//! Resumable long jobs: [`Coordinator::run_to_file`] streams a job into a
//! results file a durable chunk at a time, and resumes an interrupted one.
//!
//! The file is a results file of format 2 (`docs/FORMAT.md`) written as
//! [`PacketWriter::streaming`] writes one, with one addition: bit 1 of the
//! header's reserved field is set, and a *job record* follows the header's
//! checksum, saying the job's shape: its number of task ids, its batch
//! size, and its args' wire bytes. [`Results::read_from`] reads such a file
//! like any other (it checks the job record's checksum and skips it).
//!
//! [`Coordinator::run_to_file`]: crate::Coordinator::run_to_file
//! [`PacketWriter::streaming`]: crate::PacketWriter::streaming
//! [`Results::read_from`]: crate::Results::read_from

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use zerocopy::IntoBytes;

use crate::error::Error;
use crate::persist::{
    chunk_checksum, header_of, packets_per_chunk, read_failed, read_up_to, trailer, write_failed,
    FormatVersion, PacketWriter, JOB_RECORD_FLAG, TRAILER_SIZE,
};
use crate::task::{Task, Worker};
use crate::Coordinator;

/// The most bytes a job record may have (its args' wire bytes and 21 more).
pub const MAX_JOB_RECORD_SIZE: usize = 16 << 20;

/// What [`Coordinator::run_to_file`](crate::Coordinator::run_to_file) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSummary {
    /// The task ids computed by this call.
    pub computed: usize,
    /// The task ids whose packets the file already held, verified, from an
    /// earlier run of the same job, and kept.
    pub kept: usize,
    /// The job's task ids: `computed + kept` once the call succeeds.
    pub total: usize,
}

impl RunSummary {
    /// The summary of a job of `threads` task ids whose file was complete
    /// already: every id kept, none computed.
    pub(crate) fn complete(threads: usize) -> Self {
        RunSummary {
            computed: 0,
            kept: threads,
            total: threads,
        }
    }
}

/// Where a job in batches of `batch` resumes when its file keeps the first
/// `kept` task ids' packets: the first batch to compute, and how many of
/// that batch's ids the file holds already (whole chunks need not end on a
/// batch boundary), whose packets are not written again.
pub(crate) fn resume_point(kept: usize, batch: usize) -> (usize, usize) {
    let first = kept / batch;
    (first, kept - first * batch)
}

/// How [`Coordinator::run_to_file_options`](crate::Coordinator::run_to_file_options)
/// makes its file durable: it flushes and syncs (`File::sync_data`) the
/// chunks written so far once this many bytes were written since the last
/// sync, or this much time has passed, whichever comes first, and at the
/// end. A run killed at any moment loses at most the packets since the last
/// sync. The defaults: every 8 MiB or 5 seconds, no progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    sync_bytes: usize,
    sync_interval: Duration,
    progress: bool,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            sync_bytes: 8 << 20,
            sync_interval: Duration::from_secs(5),
            progress: false,
        }
    }
}

impl FileOptions {
    /// The defaults: sync every 8 MiB or 5 seconds, no progress bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Syncs once this many packet bytes were written since the last sync
    /// (at least one chunk, 1 MiB, is written between syncs in any case).
    pub fn sync_bytes(mut self, bytes: usize) -> Self {
        self.sync_bytes = bytes;
        self
    }

    /// Syncs once this much time has passed since the last sync, at the
    /// next batch.
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// How many packet bytes may be written between syncs.
    pub(crate) fn bytes_between_syncs(&self) -> usize {
        self.sync_bytes
    }

    /// How long may pass between syncs.
    pub(crate) fn time_between_syncs(&self) -> Duration {
        self.sync_interval
    }

    /// Draws a progress bar on standard error (when it is a terminal), from
    /// the ids kept to the job's end. Needs the `progress` feature; without
    /// it, this does nothing.
    pub fn progress_bar(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

/// The file a job is written to: a [`File`], or a test's wrapper that fails.
pub(crate) trait JobFile: Read + Write + Seek {
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
}

impl JobFile for File {
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// The args of a job as its record stores them: `None` for a task without
/// args, else their wire bytes.
pub(crate) type ArgsBytes = Option<Vec<u8>>;

/// The start of the file of a job of `T`: header, schema, header checksum
/// (with the job record flag) and the job record.
fn prefix_of<T: Task>(threads: usize, batch: usize, args: &ArgsBytes) -> Result<Vec<u8>, Error> {
    let mut header = header_of::<T>(None, FormatVersion::V2)?;
    header[6..8].copy_from_slice(&JOB_RECORD_FLAG.to_le_bytes());
    let at = header.len() - 4;
    let checksum = crc32c::crc32c(&header[..at]);
    header[at..].copy_from_slice(&checksum.to_le_bytes());
    let mut record = Vec::new();
    record.extend_from_slice(&(threads as u64).to_le_bytes());
    record.extend_from_slice(&(batch as u64).to_le_bytes());
    match args {
        None => {
            record.push(0);
            record.extend_from_slice(&0u32.to_le_bytes());
        }
        Some(bytes) => {
            record.push(1);
            let Ok(len) = u32::try_from(bytes.len()) else {
                return Err(Error::FileTooLarge {
                    task: T::NAME,
                    count: bytes.len() as u64,
                    packet_size: 1,
                });
            };
            record.extend_from_slice(&len.to_le_bytes());
            record.extend_from_slice(bytes);
        }
    }
    let start = header.len();
    // At most 21 bytes and the args' size, checked above.
    header.extend_from_slice(&(record.len() as u32).to_le_bytes());
    header.extend_from_slice(&record);
    let checksum = crc32c::crc32c(&header[start..]);
    header.extend_from_slice(&checksum.to_le_bytes());
    Ok(header)
}

/// What an existing file holds.
enum Found {
    /// A complete run of the job.
    Complete,
    /// The first `kept` packets, in `chunks` whole chunks whose checksums
    /// hash to `digest`, ending at byte `end`; anything after is torn.
    Partial {
        end: u64,
        chunks: u64,
        digest: u32,
        kept: usize,
    },
}

/// Why a file is not the job's, for [`Error::JobMismatch`].
fn mismatch(prefix: &[u8], found: &[u8]) -> String {
    if found.len() < 4 || found[..4] != prefix[..4] {
        return "it is not a parallelizer results file (its first bytes are not `PRLZ`)".into();
    }
    let schema_end = prefix.len().min(found.len());
    // The header up to its checksum ends where the job record starts.
    let header_end =
        32 + u32::from_le_bytes(prefix[28..32].try_into().expect("4 bytes")) as usize + 4;
    if found.len() < header_end.min(schema_end) || found[..header_end] != prefix[..header_end] {
        if found[6..8] != prefix[6..8] && found[..6] == prefix[..6] {
            return "it is a plain results file, not one of `run_to_file` (it has no job record)"
                .into();
        }
        return "its header or schema differs: a different task, packet layout or format".into();
    }
    let record = &found[header_end..schema_end];
    let expected = &prefix[header_end..schema_end];
    let field = |bytes: &[u8], at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let (threads, batch) = (field(expected, 4), field(expected, 12));
    let (found_threads, found_batch) = (field(record, 4), field(record, 12));
    if threads != found_threads {
        return format!(
            "it holds a job of {} task ids, not {}",
            found_threads.unwrap_or_default(),
            threads.unwrap_or_default()
        );
    }
    if batch != found_batch {
        return format!(
            "it holds a job in batches of {}, not {}",
            found_batch.unwrap_or_default(),
            batch.unwrap_or_default()
        );
    }
    "its job record differs: other args".into()
}

/// Reads what `file` holds of the job whose file starts with `prefix`:
/// verifies every chunk; a file of another job is an error.
fn scan<T: Task, F: JobFile>(
    file: &mut F,
    path: &str,
    prefix: &[u8],
    threads: usize,
) -> Result<Found, Error> {
    let len = file.seek(SeekFrom::End(0)).map_err(read_failed::<T>)?;
    file.seek(SeekFrom::Start(0)).map_err(read_failed::<T>)?;
    let mut start = vec![0; prefix.len()];
    let found = read_up_to(file, &mut start).map_err(read_failed::<T>)?;
    let empty = Found::Partial {
        end: 0,
        chunks: 0,
        digest: 0,
        kept: 0,
    };
    if found < prefix.len() {
        // A file cut inside what this job writes first was this job's,
        // torn while it was created (the prefix is written and synced
        // before any packet).
        if start[..found] == prefix[..found] {
            return Ok(empty);
        }
        return Err(Error::JobMismatch {
            task: T::NAME,
            path: path.into(),
            reason: mismatch(prefix, &start[..found]),
        });
    }
    if start != prefix {
        return Err(Error::JobMismatch {
            task: T::NAME,
            path: path.into(),
            reason: mismatch(prefix, &start),
        });
    }
    let full = packets_per_chunk::<T>();
    let packet_size = T::PACKET_SIZE as u64;
    let mut offset = prefix.len() as u64;
    let (mut chunks, mut digest, mut kept) = (0u64, 0u32, 0usize);
    let mut bytes = Vec::new();
    let torn = |end, chunks, digest, kept| {
        Ok(Found::Partial {
            end,
            chunks,
            digest,
            kept,
        })
    };
    loop {
        let mut count = [0; 4];
        if read_up_to(file, &mut count).map_err(read_failed::<T>)? < 4 {
            return torn(offset, chunks, digest, kept);
        }
        let n = u32::from_le_bytes(count) as usize;
        if n == 0 {
            // The trailer: the job is complete if it is exactly the one
            // this job's packets make, and ends the file.
            let mut rest = [0; TRAILER_SIZE];
            let read = read_up_to(file, &mut rest[4..]).map_err(read_failed::<T>)?;
            if kept == threads
                && read == TRAILER_SIZE - 4
                && rest == trailer(kept as u64, digest)
                && offset + TRAILER_SIZE as u64 == len
            {
                return Ok(Found::Complete);
            }
            return torn(offset, chunks, digest, kept);
        }
        if n > full || kept + n > threads {
            return torn(offset, chunks, digest, kept);
        }
        let size = n as u64 * packet_size;
        if offset + 8 + size > len {
            return torn(offset, chunks, digest, kept);
        }
        bytes.clear();
        let read = Read::by_ref(file)
            .take(size + 4)
            .read_to_end(&mut bytes)
            .map_err(read_failed::<T>)?;
        if read as u64 != size + 4 {
            return torn(offset, chunks, digest, kept);
        }
        let at = bytes.len() - 4;
        let stored = u32::from_le_bytes(bytes[at..].try_into().expect("4 bytes"));
        if chunk_checksum(chunks, n as u32, &bytes[..at]) != stored {
            return torn(offset, chunks, digest, kept);
        }
        if n < full {
            // A short chunk is the last: kept only if the trailer follows
            // it, else written again (so the file's chunks stay the ones an
            // uninterrupted run writes).
            let mut rest = [0; TRAILER_SIZE];
            let read = read_up_to(file, &mut rest).map_err(read_failed::<T>)?;
            let digest_after = crc32c::crc32c_append(digest, &stored.to_le_bytes());
            let end = offset + 8 + size;
            if kept + n == threads
                && read == TRAILER_SIZE
                && rest == trailer(threads as u64, digest_after)
                && end + TRAILER_SIZE as u64 == len
            {
                return Ok(Found::Complete);
            }
            return torn(offset, chunks, digest, kept);
        }
        digest = crc32c::crc32c_append(digest, &stored.to_le_bytes());
        chunks += 1;
        kept += n;
        offset += 8 + size;
    }
}

/// What a job's file holds once [`JobWriter::open`] verified it.
pub(crate) enum Opened<T: Task, F: JobFile> {
    /// A complete run of the job, kept as it is.
    Complete,
    /// The first packets of the job (perhaps none), verified, after which
    /// the writer appends.
    Resume(Box<JobWriter<T, F>>),
}

/// A job's results file, opened and verified, taking the packets after the
/// ones it kept: the one writer of both
/// [`Coordinator::run_to_file`](crate::Coordinator::run_to_file) and
/// `Cluster::run_to_file`, so that both write the same bytes and resume the
/// same way.
pub(crate) struct JobWriter<T: Task, F: JobFile> {
    writer: PacketWriter<T, BufWriter<F>>,
    /// The task ids of the job.
    threads: usize,
    /// The packets the file held, verified, when it was opened.
    kept: usize,
    options: FileOptions,
    /// Packet bytes written since the last sync, and when that was.
    unsynced: usize,
    last_sync: Instant,
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl<T: Task, F: JobFile> JobWriter<T, F> {
    /// Opens the job's `file` (read and write, not truncated) named `path`:
    /// verifies what it holds (an error if it is not a run of this job),
    /// drops a torn tail, writes the job's header and record to an empty
    /// file, and syncs it.
    pub(crate) fn open(
        mut file: F,
        path: &str,
        threads: usize,
        batch: usize,
        args_bytes: &ArgsBytes,
        options: &FileOptions,
    ) -> Result<Opened<T, F>, Error> {
        if batch == 0 {
            return Err(Error::ZeroBatchSize { task: T::NAME });
        }
        let prefix = prefix_of::<T>(threads, batch, args_bytes)?;
        let (end, chunks, digest, kept) = match scan::<T, F>(&mut file, path, &prefix, threads)? {
            Found::Complete => return Ok(Opened::Complete),
            Found::Partial {
                end,
                chunks,
                digest,
                kept,
            } => (end, chunks, digest, kept),
        };
        // Drops a torn tail, then writes (again) what this job writes first.
        file.set_len(end).map_err(write_failed::<T>)?;
        file.seek(SeekFrom::Start(end)).map_err(write_failed::<T>)?;
        if end == 0 {
            file.write_all(&prefix).map_err(write_failed::<T>)?;
        }
        file.sync().map_err(write_failed::<T>)?;
        let writer = PacketWriter::<T, _>::resuming(
            BufWriter::with_capacity(1 << 20, file),
            chunks,
            digest,
            kept,
        );
        #[cfg(feature = "progress")]
        let bar = options.progress.then(|| {
            let bar = crate::progress::bar(T::NAME, threads);
            bar.set_position(kept as u64);
            bar
        });
        Ok(Opened::Resume(Box::new(JobWriter {
            writer,
            threads,
            kept,
            options: options.clone(),
            unsynced: 0,
            last_sync: Instant::now(),
            #[cfg(feature = "progress")]
            bar,
        })))
    }

    /// The packets the file held, verified, when it was opened: the job
    /// resumes at this task id.
    pub(crate) fn kept(&self) -> usize {
        self.kept
    }

    /// Appends `packets`, the next task ids' in order, and syncs if the
    /// options say it is time.
    pub(crate) fn write(&mut self, packets: &[T::Packet]) -> Result<(), Error> {
        self.writer.write(packets)?;
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.inc(packets.len() as u64);
        }
        self.unsynced += packets.as_bytes().len();
        if self.unsynced >= self.options.bytes_between_syncs()
            || self.last_sync.elapsed() >= self.options.time_between_syncs()
        {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes the whole chunks written so far and syncs them to the disk,
    /// unless nothing was written since the last sync.
    pub(crate) fn sync(&mut self) -> Result<(), Error> {
        if self.unsynced > 0 {
            let file = self.writer.get_mut();
            file.flush().map_err(write_failed::<T>)?;
            file.get_mut().sync().map_err(write_failed::<T>)?;
            self.unsynced = 0;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Writes the trailer after the job's last packet and syncs: the file
    /// is complete.
    pub(crate) fn finish(mut self) -> Result<RunSummary, Error> {
        self.clear_bar();
        let written = self.writer.written();
        let (kept, threads) = (self.kept, self.threads);
        let file = self.writer.finish()?;
        let mut file = file
            .into_inner()
            .map_err(|error| write_failed::<T>(error.into_error()))?;
        file.sync().map_err(write_failed::<T>)?;
        Ok(RunSummary {
            computed: written - kept,
            kept,
            total: threads,
        })
    }

    /// Stops the job after an error: keeps what is whole, synced, for the
    /// next run to resume from (a failure to do so is left to that run).
    pub(crate) fn stop(mut self) {
        self.clear_bar();
        self.unsynced = self.unsynced.max(1);
        let _ = self.sync();
    }

    fn clear_bar(&mut self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// [`Coordinator::run_to_file_options`] on an open `file` (read and write,
/// not truncated) named `path`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_to<T: Worker, F: JobFile>(
    coordinator: &Coordinator,
    task: T,
    threads: usize,
    batch: usize,
    args: T::Args,
    args_bytes: ArgsBytes,
    file: F,
    path: &str,
    options: &FileOptions,
) -> Result<RunSummary, Error> {
    let mut writer =
        match JobWriter::<T, F>::open(file, path, threads, batch, &args_bytes, options)? {
            Opened::Complete => return Ok(RunSummary::complete(threads)),
            Opened::Resume(writer) => writer,
        };
    let (first, mut skip) = resume_point(writer.kept(), batch);
    let stream = coordinator
        .stream_with(task, threads, batch, args)
        .starting_at_batch(first);
    for item in stream {
        let outcome = item.and_then(|batch| {
            let packets = &batch.packets()[skip.min(batch.len())..];
            skip = skip.saturating_sub(batch.len());
            writer.write(packets)
        });
        if let Err(error) = outcome {
            // The error is the one that stopped this run.
            writer.stop();
            return Err(error);
        }
    }
    writer.finish()
}

/// Opens `path` for [`run_to`], creating it if needed, never truncating it.
pub(crate) fn open<T: Task>(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(write_failed::<T>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::Results;

    #[crate::task(packet = (u32,))]
    pub struct Tick;

    #[crate::worker(Tick)]
    fn tick(task_id: usize) -> (u32,) {
        ((task_id as u32).wrapping_mul(2_654_435_761),)
    }

    /// A file in memory that fails every write once `limit` bytes were
    /// written through it (a full disk).
    struct Full {
        data: io::Cursor<Vec<u8>>,
        limit: usize,
        written: usize,
    }

    impl Read for Full {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.data.read(buf)
        }
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written >= self.limit {
                return Err(io::Error::other("no space left on device (a test)"));
            }
            let n = buf.len().min(self.limit - self.written);
            self.written += n;
            self.data.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Full {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.data.seek(pos)
        }
    }

    impl JobFile for &mut Full {
        fn set_len(&mut self, len: u64) -> io::Result<()> {
            self.data.get_mut().truncate(len as usize);
            Ok(())
        }

        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_gives_an_error_and_a_file_that_resumes() {
        let coordinator = Coordinator::new(4);
        coordinator.define(Tick, ());
        let threads = 3_000_000;
        let options = FileOptions::new().sync_bytes(1 << 20);
        let expected = {
            let results = coordinator.dispatch(Tick, threads, 1000).unwrap();
            let mut bytes = Vec::new();
            let mut full = Full {
                data: io::Cursor::new(Vec::new()),
                limit: usize::MAX,
                written: 0,
            };
            let summary = run_to(
                &coordinator,
                Tick,
                threads,
                1000,
                (),
                None,
                &mut full,
                "x",
                &options,
            )
            .unwrap();
            assert_eq!(summary.computed, threads);
            bytes.extend_from_slice(full.data.get_ref());
            let read = Results::<Tick>::read_from(&bytes[..]).unwrap();
            assert_eq!(read.as_bytes(), results.as_bytes());
            bytes
        };
        let mut file = Full {
            data: io::Cursor::new(Vec::new()),
            limit: 0,
            written: 0,
        };
        let mut limits = Vec::new();
        // Fails after every ~2.5 MB, and resumes, until it completes.
        for round in 0.. {
            assert!(round < 20, "never completed");
            file.limit = file.written + 2_500_017;
            match run_to(
                &coordinator,
                Tick,
                threads,
                1000,
                (),
                None,
                &mut file,
                "x",
                &options,
            ) {
                Ok(summary) => {
                    assert_eq!(summary.computed + summary.kept, threads);
                    break;
                }
                Err(error) => {
                    assert!(
                        matches!(
                            error,
                            Error::WriteFailed {
                                kind: io::ErrorKind::Other,
                                ..
                            }
                        ),
                        "{error:?}"
                    );
                    // Never reads as complete.
                    let error = Results::<Tick>::read_from(&file.data.get_ref()[..]).unwrap_err();
                    assert!(matches!(error, Error::TruncatedFile { .. }), "{error:?}");
                    limits.push(file.data.get_ref().len());
                }
            }
        }
        assert!(limits.len() >= 3, "{limits:?}");
        assert_eq!(file.data.get_ref(), &expected);
    }
}
