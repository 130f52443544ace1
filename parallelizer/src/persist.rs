//! Results files: a task's packets behind a small header that names their
//! schema, written to any [`io::Write`] and read back from any [`io::Read`].
//!
//! A file is a [`HEADER_SIZE`]-byte header, then (from format version 2) the
//! packet's [schema](crate::Schema) and a CRC-32C checksum of both, then the
//! packets as [`Results::as_bytes`] holds them: in format 2 in chunks, each
//! with its count and checksum, and a [`TRAILER_SIZE`]-byte trailer with the
//! count and a checksum over the chunks' checksums. Every number is
//! little-endian:
//!
//! | offset | size | field | value |
//! |---|---|---|---|
//! | 0 | 4 | magic | [`MAGIC`], `b"PRLZ"` |
//! | 4 | 2 | format version | [`FORMAT_VERSION`] (u16), 2; or 1 |
//! | 6 | 2 | reserved | 0 (u16); 2 if a job record follows the header checksum (`Coordinator::run_to_file`) |
//! | 8 | 8 | schema fingerprint | [`Schema::fingerprint`](crate::Schema::fingerprint) (u64) |
//! | 16 | 4 | packet size | `Task::PACKET_SIZE` (u32) |
//! | 20 | 8 | count | the number of packets (u64); [`UNKNOWN_COUNT`] if not known in advance (version 2) |
//! | 28 | 4 | schema size | the schema's size in bytes, `S` (u32); version 2 only |
//! | 32 | `S` | schema | [`Schema::canonical_encoding`](crate::Schema::canonical_encoding); version 2 only |
//! | 32 + `S` | 4 | header checksum | CRC-32C of bytes `0 .. 32 + S`; version 2 only |
//!
//! Then, in version 2, chunks of `n ≥ 1` packets (`n` as u32, the packets,
//! then a CRC-32C of the chunk's index, `n` and packets), and the trailer: `0`
//! (u32), the count (u64), the CRC-32C of the chunks' checksums, the CRC-32C
//! of the trailer's 16 bytes so far, and [`END_MAGIC`]. In version 1 the
//! packets follow the header directly.
//!
//! Reading checks every header field against the task, so a file written by
//! another schema, a truncated file or a corrupt header is an [`Error`],
//! never garbage: a file written by another layout is refused with an error
//! that names the first field that differs. In version 2 every checksum is
//! checked, so a corrupted byte anywhere or a file cut anywhere is an error
//! that names the part (the header, the schema, chunk `k`, the trailer)
//! and its offset, never a shorter result. Then every packet is validated
//! as by [`Results::from_bytes`]. `docs/FORMAT.md` in the repository
//! specifies the format in full.
//!
//! Write whole results with [`Results::write_to`], or packets chunk by chunk
//! with a [`PacketWriter`]; read them with [`Results::read_from`], or with no
//! Rust type, from the schema the file stores, with [`ResultsFile`] (one
//! reader serves both, so they check the same things the same way). A reader
//! reads exactly one file's bytes, so several files can follow each other in
//! one stream. Files of format version 1, which carry only a fingerprint of
//! the declared type names, are still read, and written on request
//! ([`FormatVersion::V1`]).

use std::fmt;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::sync::mpsc::{sync_channel, Receiver};

use zerocopy::IntoBytes;

use crate::error::Error;
use crate::results::Results;
pub use crate::results_file::{ResultsFile, ResultsReader};
use crate::resume::MAX_JOB_RECORD_SIZE;
use crate::schema::{first_difference, fnv1a};
use crate::task::{v1_fingerprint, Task};

/// The first 4 bytes of every results file.
pub const MAGIC: [u8; 4] = *b"PRLZ";

/// The format version this release writes, and the newest it reads: 2. It
/// reads every version from 1 up.
pub const FORMAT_VERSION: u16 = 2;

/// The size in bytes of the fixed header every results file starts with.
/// From format version 2 the packet's schema follows it: a `u32` size, then
/// the schema.
pub const HEADER_SIZE: usize = 28;

/// The most bytes a file's schema may have: far more than any packet's
/// (a few kilobytes for hundreds of fields), so that a corrupt size cannot
/// make a reader allocate much.
pub const MAX_SCHEMA_SIZE: usize = 16 << 20;

/// A format version a results file can be written in.
///
/// ```
/// use parallelizer::persist::FormatVersion;
///
/// assert_eq!(FormatVersion::default(), FormatVersion::V2);
/// assert_eq!(FormatVersion::V1.number(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FormatVersion {
    /// Version 1: the header's fingerprint hashes the fields' declared type
    /// names and sizes; no schema is stored. For readers of releases before
    /// version 2. A reader can say only that the schema differs, not where.
    V1,
    /// Version 2, the default: the header's fingerprint is
    /// [`Schema::fingerprint`](crate::Schema::fingerprint), and the schema
    /// itself follows the header, so that a reader of another layout names
    /// the first field that differs.
    #[default]
    V2,
}

impl FormatVersion {
    /// The version's number, as the header holds it.
    pub const fn number(self) -> u16 {
        match self {
            FormatVersion::V1 => 1,
            FormatVersion::V2 => 2,
        }
    }
}

/// Packets are read in chunks of at most this many bytes, so a corrupt count
/// cannot make the reader allocate more than the data it actually finds.
const READ_CHUNK: usize = 1 << 20;

/// The count a version-2 header holds when the writer did not know it in
/// advance ([`PacketWriter::streaming`]): the trailer says it.
pub const UNKNOWN_COUNT: u64 = u64::MAX;

/// The packet bytes a [`PacketWriter`] of format version 2 puts in one chunk:
/// the most whole packets within 1 MiB, and at least 1. A reader accepts
/// chunks of any size from 1 packet up.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A chunk is checksummed and written in pieces of this many bytes, which
/// stay in the CPU's cache between the two.
const WRITE_PIECE: usize = 32 << 10;

/// The size in bytes of the trailer that ends a file of format version 2.
pub const TRAILER_SIZE: usize = 24;

/// The last 4 bytes of a file of format version 2, ending its trailer.
pub const END_MAGIC: [u8; 4] = *b"ZLRP";

/// The state of a version-2 writer: the packets waiting for a full chunk,
/// and what the trailer will say.
struct Chunks {
    /// Whole packets per chunk.
    packets: usize,
    /// The bytes of the `pending` packets not written yet.
    buffer: Vec<u8>,
    pending: usize,
    /// The number of chunks written.
    index: u64,
    /// CRC-32C over the chunk checksums so far.
    digest: u32,
}

/// Bit 1 of a version-2 header's reserved field: a job record follows the
/// header's checksum (a file of `Coordinator::run_to_file`).
pub(crate) const JOB_RECORD_FLAG: u16 = 1 << 1;

/// The packets in each chunk this crate writes, but perhaps the last.
pub(crate) fn packets_per_chunk<T: Task>() -> usize {
    (CHUNK_BYTES / T::PACKET_SIZE.max(1)).clamp(1, u32::MAX as usize)
}

/// The checksum of chunk `index` of `count` packets, whose bytes are
/// `bytes`: CRC-32C over the index (u64), the count (u32) and the bytes.
pub(crate) fn chunk_checksum(index: u64, count: u32, bytes: &[u8]) -> u32 {
    let mut prefix = [0; 12];
    prefix[..8].copy_from_slice(&index.to_le_bytes());
    prefix[8..].copy_from_slice(&count.to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c(&prefix), bytes)
}

/// From this many whole chunks in one write, their checksums are taken on
/// other threads while the chunks are written.
const PARALLEL_CHUNKS: usize = 4;

/// Writes `bytes`, whole chunks of `len` bytes (`chunks.packets` packets
/// each), while up to 7 other threads take the chunks' checksums a chunk or
/// two ahead of the writer. The copy into the writer and the checksum run at
/// the same time, and each chunk is still in the shared cache when the second
/// of them reads it: one pass over memory, not two (taking all the checksums
/// first and then writing read every byte twice from memory).
fn write_pipelined<W: Write>(
    writer: &mut W,
    chunks: &mut Chunks,
    bytes: &[u8],
    len: usize,
) -> io::Result<()> {
    let n = chunks.packets as u32;
    let first = chunks.index;
    let parts = bytes.len() / len;
    let threads = std::thread::available_parallelism()
        .map_or(1, |threads| threads.get().saturating_sub(1))
        .clamp(1, 7)
        .min(parts);
    std::thread::scope(|scope| {
        // Chunk k's checksum comes from thread k % threads, in order; a
        // bound of one waiting checksum keeps each thread just ahead.
        let checksums: Vec<Receiver<u32>> = (0..threads)
            .map(|t| {
                let (sender, receiver) = sync_channel(1);
                scope.spawn(move || {
                    for (k, part) in bytes.chunks(len).enumerate().skip(t).step_by(threads) {
                        // The writer failed and dropped its receivers.
                        if sender
                            .send(chunk_checksum(first + k as u64, n, part))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
                receiver
            })
            .collect();
        let count = n.to_le_bytes();
        for (k, chunk) in bytes.chunks(len).enumerate() {
            writer.write_all(&count)?;
            writer.write_all(chunk)?;
            let checksum = checksums[k % threads]
                .recv()
                .map_err(|_| io::Error::other("a checksum thread ended early"))?;
            writer.write_all(&checksum.to_le_bytes())?;
            chunks.index += 1;
            chunks.digest = crc32c::crc32c_append(chunks.digest, &checksum.to_le_bytes());
        }
        Ok(())
    })
}

/// The 24-byte trailer of a file of `count` packets whose chunk checksums
/// hash to `digest`.
pub(crate) fn trailer(count: u64, digest: u32) -> [u8; TRAILER_SIZE] {
    let mut trailer = [0; TRAILER_SIZE];
    trailer[4..12].copy_from_slice(&count.to_le_bytes());
    trailer[12..16].copy_from_slice(&digest.to_le_bytes());
    let checksum = crc32c::crc32c(&trailer[..16]);
    trailer[16..20].copy_from_slice(&checksum.to_le_bytes());
    trailer[20..].copy_from_slice(&END_MAGIC);
    trailer
}

/// Writes a results file packet chunk by packet chunk: the header on
/// creation, then packets as they come, for results that are produced (or
/// streamed) in parts.
///
/// The number of packets is declared up front with [`new`](Self::new), as
/// the header holds it: the writer refuses packets beyond it, and
/// [`finish`](Self::finish) refuses to finish short. A
/// [`streaming`](Self::streaming) writer needs no count: the trailer that
/// [`finish`](Self::finish) writes says it. In format version 2 the writer
/// gathers packets into chunks of [`CHUNK_BYTES`] (a write that fills chunks
/// writes them straight from its slice; the rest waits for the next write or
/// `finish`), so the file's bytes do not depend on how the packets were
/// split into writes. In version 1 each [`write`](Self::write) is one
/// `write_all` on the underlying writer: wrap a file in a
/// [`BufWriter`](std::io::BufWriter) when writing many small chunks. Once the
/// underlying writer fails, every later call returns the same error, as the
/// file is incomplete.
///
/// ```
/// use parallelizer::prelude::*;
/// use parallelizer::PacketWriter;
///
/// #[task(packet = (u32, bool))]
/// pub struct Parity;
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let first = [Parity::encode((0, true)), Parity::encode((1, false))];
/// let second = [Parity::encode((2, true))];
///
/// let mut writer = PacketWriter::<Parity, _>::new(Vec::new(), 3)?;
/// writer.write(&first)?;
/// writer.write(&second)?;
/// let file: Vec<u8> = writer.finish()?;
///
/// let results = Results::<Parity>::read_from(file.as_slice())?;
/// assert_eq!(results.get(2), Some((2, true)));
/// # Ok(())
/// # }
/// ```
pub struct PacketWriter<T: Task, W: Write> {
    writer: W,
    /// The count declared up front; `None` for a streaming writer.
    declared: Option<usize>,
    written: usize,
    /// Version 2's chunks; `None` for version 1.
    chunks: Option<Chunks>,
    /// The error the underlying writer gave, repeated by every later call.
    failed: Option<Error>,
    task: PhantomData<fn() -> T>,
}

impl<T: Task, W: Write> PacketWriter<T, W> {
    /// Writes the header of a file of `count` packets of task `T`.
    ///
    /// # Errors
    ///
    /// [`Error::WriteFailed`] if the writer fails; [`Error::FileTooLarge`] if
    /// the file's size would not fit in `u64` (or the packet size in `u32`).
    pub fn new(writer: W, count: usize) -> Result<Self, Error> {
        Self::with_format(writer, count, FormatVersion::default())
    }

    /// Writes the header of a file of `count` packets of task `T` in format
    /// `version`; [`new`](Self::new) writes the current one.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::persist::FormatVersion;
    ///
    /// #[task(packet = (u32,))]
    /// pub struct Count;
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// // For a reader of a release before format version 2.
    /// let mut writer = PacketWriter::<Count, _>::with_format(Vec::new(), 1, FormatVersion::V1)?;
    /// writer.write(&[Count::encode((7,))])?;
    /// let file = writer.finish()?;
    /// assert_eq!((&file[4..6], file.len()), (&[1, 0][..], 28 + 4));
    /// assert_eq!(Results::<Count>::read_from(file.as_slice())?.get(0), Some((7,)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_format(writer: W, count: usize, version: FormatVersion) -> Result<Self, Error> {
        Self::start(writer, Some(count), version)
    }

    /// Writes the header of a file of format version 2 whose number of
    /// packets is not known in advance: the header says it is unknown
    /// ([`UNKNOWN_COUNT`]), and [`finish`](Self::finish) writes it in the
    /// trailer. Any number of packets may be written.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::PacketWriter;
    ///
    /// #[task(packet = (u32,))]
    /// pub struct Count;
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let mut writer = PacketWriter::<Count, _>::streaming(Vec::new())?;
    /// for i in 0..10 {
    ///     writer.write(&[Count::encode((i,))])?;
    /// }
    /// let file = writer.finish()?;
    /// let results = Results::<Count>::read_from(file.as_slice())?;
    /// assert_eq!((results.len(), results.get(9)), (10, Some((9,))));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::WriteFailed`] if the writer fails; [`Error::FileTooLarge`] if
    /// the packet size does not fit in `u32`.
    pub fn streaming(writer: W) -> Result<Self, Error> {
        Self::start(writer, None, FormatVersion::V2)
    }

    fn start(mut writer: W, count: Option<usize>, version: FormatVersion) -> Result<Self, Error> {
        let header = header_of::<T>(count, version)?;
        writer.write_all(&header).map_err(write_failed::<T>)?;
        let chunks = (version == FormatVersion::V2).then(|| Chunks {
            packets: packets_per_chunk::<T>(),
            buffer: Vec::new(),
            pending: 0,
            index: 0,
            digest: 0,
        });
        Ok(PacketWriter {
            writer,
            declared: count,
            written: 0,
            chunks,
            failed: None,
            task: PhantomData,
        })
    }

    /// Writes a chunk of `n` packets whose bytes are `bytes`: its count, the
    /// bytes, then its checksum.
    fn write_chunk(writer: &mut W, chunks: &mut Chunks, n: usize, bytes: &[u8]) -> io::Result<()> {
        // `n` is at most `chunks.packets`, which fits in u32.
        let count = n as u32;
        writer.write_all(&count.to_le_bytes())?;
        // The checksum of each piece is taken right before it is written,
        // while it is in the cache: one pass over memory, not two.
        let mut checksum = chunk_checksum(chunks.index, count, &[]);
        for piece in bytes.chunks(WRITE_PIECE) {
            checksum = crc32c::crc32c_append(checksum, piece);
            writer.write_all(piece)?;
        }
        writer.write_all(&checksum.to_le_bytes())?;
        chunks.index += 1;
        chunks.digest = crc32c::crc32c_append(chunks.digest, &checksum.to_le_bytes());
        Ok(())
    }

    /// Writes `packets` as version 2 does: whole chunks straight from
    /// `packets`, the rest kept for the next chunk.
    fn write_chunked(&mut self, mut packets: &[T::Packet]) -> io::Result<()> {
        let Some(chunks) = self.chunks.as_mut() else {
            return self.writer.write_all(packets.as_bytes());
        };
        if chunks.pending > 0 {
            let take = (chunks.packets - chunks.pending).min(packets.len());
            chunks.buffer.extend_from_slice(packets[..take].as_bytes());
            chunks.pending += take;
            packets = &packets[take..];
            if chunks.pending == chunks.packets {
                let buffer = std::mem::take(&mut chunks.buffer);
                let result = Self::write_chunk(&mut self.writer, chunks, chunks.packets, &buffer);
                chunks.buffer = buffer;
                chunks.buffer.clear();
                chunks.pending = 0;
                result?;
            }
        }
        let full = packets.len() / chunks.packets;
        if full >= PARALLEL_CHUNKS && T::PACKET_SIZE > 0 {
            // Many whole chunks at once (`Results::write_to`).
            let (whole, rest) = packets.split_at(full * chunks.packets);
            let len = chunks.packets * T::PACKET_SIZE;
            write_pipelined(&mut self.writer, chunks, whole.as_bytes(), len)?;
            packets = rest;
        }
        while packets.len() >= chunks.packets {
            let (chunk, rest) = packets.split_at(chunks.packets);
            Self::write_chunk(&mut self.writer, chunks, chunks.packets, chunk.as_bytes())?;
            packets = rest;
        }
        if !packets.is_empty() {
            chunks.buffer.extend_from_slice(packets.as_bytes());
            chunks.pending += packets.len();
        }
        Ok(())
    }

    /// Writes the last chunk and the trailer (version 2), then flushes.
    fn write_end(&mut self) -> io::Result<()> {
        if let Some(chunks) = self.chunks.as_mut() {
            if chunks.pending > 0 {
                let buffer = std::mem::take(&mut chunks.buffer);
                Self::write_chunk(&mut self.writer, chunks, chunks.pending, &buffer)?;
                chunks.pending = 0;
            }
            self.writer
                .write_all(&trailer(self.written as u64, chunks.digest))?;
        }
        self.writer.flush()
    }

    /// Writes the next packets.
    ///
    /// # Errors
    ///
    /// [`Error::PacketCount`] if this would write more packets than declared
    /// (nothing is written then); [`Error::WriteFailed`] if the writer fails
    /// now or failed before.
    pub fn write(&mut self, packets: &[T::Packet]) -> Result<(), Error> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let written = self.written.saturating_add(packets.len());
        if let Some(declared) = self.declared {
            if written > declared {
                return Err(Error::PacketCount {
                    task: T::NAME,
                    declared,
                    written,
                });
            }
        }
        if let Err(error) = self.write_chunked(packets) {
            let error = write_failed::<T>(error);
            self.failed = Some(error.clone());
            return Err(error);
        }
        self.written = written;
        Ok(())
    }

    /// The number of packets declared when the writer was created;
    /// `usize::MAX`, no limit, for a [`streaming`](Self::streaming) one.
    pub fn declared(&self) -> usize {
        self.declared.unwrap_or(usize::MAX)
    }

    /// The number of packets written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// A version-2 writer that goes on after `chunks` whole chunks of
    /// `written` packets whose checksums hash to `digest`, already in the
    /// file `writer` writes the rest of (`resume`). Writes nothing now.
    pub(crate) fn resuming(writer: W, chunks: u64, digest: u32, written: usize) -> Self {
        PacketWriter {
            writer,
            declared: None,
            written,
            chunks: Some(Chunks {
                packets: packets_per_chunk::<T>(),
                buffer: Vec::new(),
                pending: 0,
                index: chunks,
                digest,
            }),
            failed: None,
            task: PhantomData,
        }
    }

    /// The underlying writer: after [`write`](Self::write) returns, it has
    /// been given whole chunks only (`resume` flushes and syncs it).
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// Checks that every declared packet was written, writes the last chunk
    /// and the trailer (format version 2), flushes the writer and gives it
    /// back. A file whose writer was not finished has no trailer, and reads
    /// as truncated.
    ///
    /// # Errors
    ///
    /// [`Error::PacketCount`] if fewer packets than declared were written;
    /// [`Error::WriteFailed`] if the writer fails or failed before.
    pub fn finish(mut self) -> Result<W, Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if let Some(declared) = self.declared {
            if self.written != declared {
                return Err(Error::PacketCount {
                    task: T::NAME,
                    declared,
                    written: self.written,
                });
            }
        }
        self.write_end().map_err(write_failed::<T>)?;
        Ok(self.writer)
    }
}

impl<T: Task, W: Write> fmt::Debug for PacketWriter<T, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketWriter")
            .field("task", &T::NAME)
            .field("declared", &self.declared)
            .field("format", &if self.chunks.is_some() { 2 } else { 1 })
            .field("written", &self.written)
            .field("failed", &self.failed.is_some())
            .finish_non_exhaustive()
    }
}

/// Results files are written and read by methods of [`Results`], defined
/// here beside the format.
impl<T: Task> Results<T> {
    /// Writes the results as a [results file](self): a 28-byte
    /// header naming the task's [schema](Task::schema) and the number of
    /// packets, the schema itself and their checksum, then
    /// [`as_bytes`](Self::as_bytes) in checksummed chunks of 1 MiB, then the
    /// trailer. The writer is flushed; pass `&mut writer` to keep using it.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u16, FixedStr<5>))]
    /// pub struct Label;
    ///
    /// #[worker(Label)]
    /// fn label(task_id: usize) -> (u16, FixedStr<5>) {
    ///     (task_id as u16, FixedStr::new("tile").unwrap())
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let results = Coordinator::new(4).dispatch(Label, 100, 10)?;
    ///
    /// let mut file = Vec::new(); // or a `File`, a `BufWriter`, a socket...
    /// results.write_to(&mut file)?;
    /// let schema = Label::schema().canonical_encoding().len();
    /// // Header, schema and checksum; one chunk (count and checksum); trailer.
    /// assert_eq!(file.len(), 28 + 4 + schema + 4 + 8 + 100 * Label::PACKET_SIZE + 24);
    /// assert_eq!(&file[..4], b"PRLZ");
    ///
    /// let read = Results::<Label>::read_from(file.as_slice())?;
    /// assert_eq!(read, results);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::WriteFailed`] if the writer fails.
    pub fn write_to<W: Write>(&self, writer: W) -> Result<(), Error> {
        write_results(self, writer, FormatVersion::default())
    }

    /// Writes the results as a results file of format `version`, such as
    /// [`FormatVersion::V1`] for a reader of an older release;
    /// [`write_to`](Self::write_to) writes the current one.
    ///
    /// # Errors
    ///
    /// [`Error::WriteFailed`] if the writer fails.
    pub fn write_to_format<W: Write>(
        &self,
        writer: W,
        version: FormatVersion,
    ) -> Result<(), Error> {
        write_results(self, writer, version)
    }

    /// Reads results back from a [results file](self), such as one
    /// [`write_to`](Self::write_to) or a [`PacketWriter`](crate::PacketWriter)
    /// wrote.
    ///
    /// A file of format version 2 may have been written with its count
    /// unknown ([`PacketWriter::streaming`]): the trailer says it.
    ///
    /// The header must be a results file of format version 1 or 2, with the
    /// task's [schema fingerprint](crate::Schema::fingerprint) (for version
    /// 1, the fingerprint of its declared field types) and packet size; then
    /// every packet is validated as by
    /// [`from_bytes`](Self::from_bytes). The reader is read up to the end of
    /// the packets and no further, so files can follow each other in one
    /// stream; memory grows with the bytes actually read, never with the
    /// count the header claims.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u32, bool))]
    /// pub struct Parity;
    ///
    /// #[task(packet = (bool, u32))]
    /// pub struct Flipped;
    ///
    /// #[worker(Parity)]
    /// fn parity(task_id: usize) -> (u32, bool) {
    ///     (task_id as u32, task_id % 2 == 0)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let mut file = Vec::new();
    /// Coordinator::new(4).dispatch(Parity, 10, 3)?.write_to(&mut file)?;
    ///
    /// let results = Results::<Parity>::read_from(file.as_slice())?;
    /// assert_eq!(results.get(4), Some((4, true)));
    ///
    /// // The same bytes read as another schema are refused, not misread,
    /// // naming the first field that differs.
    /// let error = Results::<Flipped>::read_from(file.as_slice()).unwrap_err();
    /// assert!(matches!(error, Error::SchemaFieldMismatch { .. }));
    /// assert!(error.to_string().contains("different schema"), "{error}");
    /// assert!(error.to_string().contains("at field `0` the file has `0`: u32 (4 bytes)"), "{error}");
    ///
    /// // So is a truncated file, or a corrupt one, naming where.
    /// let error = Results::<Parity>::read_from(&file[..file.len() - 1]).unwrap_err();
    /// assert!(matches!(error, Error::TruncatedFile { .. }));
    /// assert!(error.to_string().contains("ends inside the trailer"), "{error}");
    /// let mut corrupt = file.clone();
    /// corrupt[file.len() - 30] ^= 1; // in the last packet
    /// let error = Results::<Parity>::read_from(corrupt.as_slice()).unwrap_err();
    /// assert!(error.to_string().contains("chunk 0, at byte"), "{error}");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::ReadFailed`] if the reader fails;
    /// - [`Error::NotAResultsFile`], [`Error::UnsupportedFormatVersion`],
    ///   [`Error::ReservedHeaderBits`] or [`Error::PacketSizeMismatch`] for a
    ///   header this release cannot read;
    /// - [`Error::SchemaFieldMismatch`] for a file another schema wrote,
    ///   naming the first field that differs ([`Error::SchemaMismatch`] for
    ///   a file of format version 1, which stores no schema);
    /// - [`Error::TruncatedSchema`] or [`Error::CorruptSchema`] if the schema
    ///   stored after the header is cut short or corrupt;
    /// - [`Error::FileTooLarge`] if the header's count cannot fit in memory;
    /// - [`Error::TruncatedHeader`], [`Error::TruncatedFile`] or (format
    ///   version 1) [`Error::TruncatedPackets`] if the data ends early;
    /// - [`Error::ChecksumMismatch`] if the header (with the schema), a chunk
    ///   or the trailer fails its checksum, and [`Error::CorruptFile`] if the
    ///   trailer disagrees with the chunks or the header;
    /// - [`Error::InvalidPacket`] for a packet that fails validation;
    /// - [`Error::AllocationFailed`] if memory runs out.
    pub fn read_from<R: Read>(reader: R) -> Result<Self, Error> {
        read_results(reader)
    }
}

/// [`Results::write_to`]: the header, then the buffer as it is.
pub(crate) fn write_results<T: Task, W: Write>(
    results: &Results<T>,
    writer: W,
    version: FormatVersion,
) -> Result<(), Error> {
    let mut writer = PacketWriter::<T, W>::with_format(writer, results.len(), version)?;
    writer.write(results.packets())?;
    writer.finish().map(drop)
}

/// [`Results::read_from`]: the [`FrameReader`]'s parts, each checked against
/// `T` as soon as it is read (the schema, the packet size), then the
/// packets validated.
pub(crate) fn read_results<T: Task, R: Read>(reader: R) -> Result<Results<T>, Error> {
    let mut file = FrameReader::new(reader, T::NAME);
    let header = file.header()?;
    if header.version == 1 {
        let expected = v1_fingerprint::<T>();
        if header.fingerprint != expected && header.fingerprint == T::schema().fingerprint() {
            // A file of version 2 whose version field was damaged.
            return Err(Error::CorruptFile {
                task: T::NAME,
                part: "the header".into(),
                offset: 0,
                reason: "it says format version 1, but holds the task's fingerprint of \
                         version 2: its version field is corrupt"
                    .into(),
            });
        }
        if header.fingerprint != expected {
            return Err(Error::SchemaMismatch {
                task: T::NAME,
                expected,
                found: header.fingerprint,
            });
        }
    } else {
        let stored = file.schema(&header)?;
        check_schema::<T>(&stored, header.fingerprint)?;
    }
    if header.job_record {
        file.job_record()?;
    }
    if usize::try_from(header.packet_size) != Ok(T::PACKET_SIZE) {
        return Err(Error::PacketSizeMismatch {
            task: T::NAME,
            expected: T::PACKET_SIZE,
            found: header.packet_size,
        });
    }
    let bytes = file.packets(&header, T::PACKET_SIZE)?;
    Results::from_bytes(bytes)
}

/// A results file's fixed header, as [`FrameReader::header`] read and
/// checked it.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The header's bytes, which the header checksum covers.
    pub bytes: [u8; HEADER_SIZE],
    /// 1 or 2.
    pub version: u16,
    /// Whether a job record follows the header checksum (version 2).
    pub job_record: bool,
    pub fingerprint: u64,
    pub packet_size: u32,
    /// [`UNKNOWN_COUNT`] if the writer did not know it.
    pub count: u64,
}

/// Where [`FrameReader::next_chunk`] is in a version-2 file's chunks: what
/// the trailer is checked against.
#[derive(Debug, Clone)]
pub(crate) struct ChunkCursor {
    /// The number of chunks read and verified.
    pub index: u64,
    /// The number of packets in them.
    pub count: u64,
    /// CRC-32C over their checksums.
    digest: u32,
    /// The count the header declares, if it does.
    declared: Option<u64>,
    /// Whether the trailer was read and verified.
    pub done: bool,
}

impl ChunkCursor {
    /// Before the first chunk of a file whose header declares `declared`
    /// packets (`None`: [`UNKNOWN_COUNT`]).
    pub(crate) fn new(declared: Option<u64>) -> Self {
        ChunkCursor {
            index: 0,
            count: 0,
            digest: 0,
            declared,
            done: false,
        }
    }

    /// The count the header declares, if it does.
    pub(crate) fn declared(&self) -> Option<u64> {
        self.declared
    }
}

/// Reads a results file part by part, in the order `docs/FORMAT.md` gives,
/// checking each part's own framing and checksum as it goes; what the parts
/// must say for a given task is its caller's business.
///
/// This is the one reader of the format: [`Results::read_from`] checks the
/// parts against its task between the calls, and
/// [`ResultsFile`](crate::ResultsFile) takes them as the file says. Errors
/// name `task`. Memory grows with the bytes actually read, never with a
/// count the file claims.
pub(crate) struct FrameReader<R> {
    reader: R,
    task: &'static str,
    /// The offset of the next part: the bytes read so far.
    offset: u64,
}

impl<R: Read> FrameReader<R> {
    pub(crate) fn new(reader: R, task: &'static str) -> Self {
        FrameReader {
            reader,
            task,
            offset: 0,
        }
    }

    fn read_up_to(&mut self, buffer: &mut [u8]) -> Result<usize, Error> {
        read_up_to(&mut self.reader, buffer).map_err(|error| read_failed_as(self.task, error))
    }

    /// Steps 1 to 4: the magic, the whole header, a version this release
    /// reads and the reserved field.
    pub(crate) fn header(&mut self) -> Result<Header, Error> {
        let task = self.task;
        let mut bytes = [0; HEADER_SIZE];
        let found = self.read_up_to(&mut bytes)?;
        let magic = &bytes[..found.min(MAGIC.len())];
        if magic != &MAGIC[..magic.len()] {
            return Err(Error::NotAResultsFile {
                task,
                found: magic.to_vec(),
            });
        }
        if found < HEADER_SIZE {
            return Err(Error::TruncatedHeader { task, found });
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedFormatVersion {
                task,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let reserved = u16::from_le_bytes([bytes[6], bytes[7]]);
        // From version 2, bit 1 says a job record follows the header's
        // checksum (`resume`); every other bit is reserved.
        if reserved & !JOB_RECORD_FLAG != 0 || (version == 1 && reserved != 0) {
            return Err(Error::ReservedHeaderBits {
                task,
                found: reserved,
            });
        }
        self.offset = HEADER_SIZE as u64;
        Ok(Header {
            bytes,
            version,
            job_record: version > 1 && reserved & JOB_RECORD_FLAG != 0,
            fingerprint: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            packet_size: u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")),
            count: u64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes")),
        })
    }

    /// Steps 5 to 7 (version 2): the schema after the header, which must
    /// hash to the header's fingerprint, and the header checksum. Returns the
    /// schema's canonical encoding as stored.
    pub(crate) fn schema(&mut self, header: &Header) -> Result<Vec<u8>, Error> {
        let task = self.task;
        let mut size = [0; 4];
        let found = self.read_up_to(&mut size)?;
        if found < size.len() {
            return Err(Error::TruncatedSchema {
                task,
                expected: size.len(),
                found,
            });
        }
        let size_bytes = size;
        let size = u32::from_le_bytes(size) as usize;
        if size > MAX_SCHEMA_SIZE {
            return Err(Error::CorruptSchema {
                task,
                reason: format!(
                    "its size is {size} bytes, more than the {MAX_SCHEMA_SIZE} a schema may have"
                ),
            });
        }
        // Read as it comes, as packets are: a size that lies costs no more
        // memory than the bytes actually there.
        let mut stored = Vec::new();
        Read::by_ref(&mut self.reader)
            .take(size as u64)
            .read_to_end(&mut stored)
            .map_err(|error| read_failed_as(task, error))?;
        if stored.len() < size {
            return Err(Error::TruncatedSchema {
                task,
                expected: 4 + size,
                found: 4 + stored.len(),
            });
        }
        let mut checksum = [0; 4];
        let found = self.read_up_to(&mut checksum)?;
        let end = (HEADER_SIZE + 4 + size) as u64;
        if found < checksum.len() {
            return Err(Error::TruncatedFile {
                task,
                part: "the header".into(),
                offset: 0,
                found: end + found as u64,
            });
        }
        // The schema's hash first: a changed schema byte is named as such.
        let fingerprint = header.fingerprint;
        if fnv1a(&stored) != fingerprint {
            return Err(Error::CorruptSchema {
                task,
                reason: format!(
                    "its hash is not the fingerprint {fingerprint:#018x} in the header"
                ),
            });
        }
        let stored_checksum = u32::from_le_bytes(checksum);
        let computed = crc32c::crc32c_append(
            crc32c::crc32c_append(crc32c::crc32c(&header.bytes), &size_bytes),
            &stored,
        );
        checksum_matches(task, "the header".into(), 0, stored_checksum, computed)?;
        self.offset = end + 4;
        Ok(stored)
    }

    /// The job record that follows the header checksum when the header says
    /// so: its size, its checksum, and its fields (`docs/FORMAT.md`, "The
    /// job record").
    pub(crate) fn job_record(&mut self) -> Result<JobRecord, Error> {
        let (task, offset) = (self.task, self.offset);
        let part = || "the job record".to_string();
        let truncated = |found: u64| Error::TruncatedFile {
            task,
            part: part(),
            offset,
            found,
        };
        let corrupt = |reason: String| Error::CorruptFile {
            task,
            part: part(),
            offset,
            reason,
        };
        let mut size = [0; 4];
        let found = self.read_up_to(&mut size)?;
        if found < 4 {
            return Err(truncated(offset + found as u64));
        }
        let len = u32::from_le_bytes(size) as usize;
        if len > MAX_JOB_RECORD_SIZE {
            return Err(corrupt(format!(
                "its size is {len} bytes, more than the {MAX_JOB_RECORD_SIZE} it may have"
            )));
        }
        let mut record = size.to_vec();
        let read = Read::by_ref(&mut self.reader)
            .take(len as u64 + 4)
            .read_to_end(&mut record)
            .map_err(|error| read_failed_as(task, error))?;
        if read < len + 4 {
            return Err(truncated(offset + 4 + read as u64));
        }
        let at = record.len() - 4;
        let stored = u32::from_le_bytes(record[at..].try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(&record[..at]);
        checksum_matches(task, part(), offset, stored, computed)?;
        let fields = &record[4..at];
        if fields.len() < JOB_RECORD_FIXED {
            return Err(corrupt(format!(
                "its size is {len} bytes, less than the {JOB_RECORD_FIXED} of its fixed fields"
            )));
        }
        let u64_at = |at: usize| u64::from_le_bytes(fields[at..at + 8].try_into().expect("8"));
        let args_size = u32::from_le_bytes(fields[17..21].try_into().expect("4 bytes")) as usize;
        let args = &fields[JOB_RECORD_FIXED..];
        if args_size != args.len() {
            return Err(corrupt(format!(
                "it says {args_size} bytes of args, but holds {}",
                args.len()
            )));
        }
        let args = match fields[16] {
            0 if args.is_empty() => None,
            0 => {
                return Err(corrupt(format!(
                    "its args kind is 0 (no args), but it holds {args_size} bytes of args"
                )))
            }
            1 => Some(args.to_vec()),
            kind => {
                return Err(corrupt(format!(
                    "its args kind is {kind}, not 0 (no args) or 1 (with {args_size} bytes of args)"
                )))
            }
        };
        self.offset = offset + 8 + len as u64;
        Ok(JobRecord {
            threads: u64_at(0),
            batch: u64_at(8),
            args,
        })
    }

    /// Steps 10 to 12: the packets' bytes of a file of packets of
    /// `packet_size` bytes whose header is `header`, every chunk and the
    /// trailer verified (version 2), or all the header declares (version 1).
    pub(crate) fn packets(
        &mut self,
        header: &Header,
        packet_size: usize,
    ) -> Result<Vec<u8>, Error> {
        let task = self.task;
        let count = header.count;
        let too_large = Error::FileTooLarge {
            task,
            count,
            packet_size,
        };
        if header.version > 1 && count == UNKNOWN_COUNT {
            return self.chunks(packet_size, None);
        }
        let Some(total) = total_bytes(count, packet_size) else {
            return Err(too_large);
        };
        if header.version > 1 {
            return self.chunks(packet_size, Some(count));
        }
        let mut bytes = Vec::new();
        let read = self.read_appending(&mut bytes, total)?;
        if read < total {
            return Err(Error::TruncatedPackets {
                task,
                expected_bytes: total as u64,
                found_bytes: read as u64,
                packet_size,
            });
        }
        Ok(bytes)
    }

    /// Appends up to `len` bytes to `bytes`, in steps of at most
    /// [`READ_CHUNK`] so that memory grows only with the bytes there;
    /// returns how many were read.
    fn read_appending(&mut self, bytes: &mut Vec<u8>, len: usize) -> Result<usize, Error> {
        let mut done = 0;
        while done < len {
            let start = bytes.len();
            let step = (len - done).min(READ_CHUNK);
            bytes
                .try_reserve(step)
                .map_err(|_| Error::AllocationFailed {
                    task: self.task,
                    bytes: start + step,
                })?;
            bytes.resize(start + step, 0);
            let read = self.read_up_to(&mut bytes[start..])?;
            bytes.truncate(start + read);
            done += read;
            if read < step {
                break;
            }
        }
        Ok(done)
    }

    /// The chunks and the trailer of a version-2 file, checking every
    /// checksum, and the trailer's count against the chunks' and `declared`,
    /// the header's: every [`next_chunk`](Self::next_chunk), collected.
    fn chunks(&mut self, packet_size: usize, declared: Option<u64>) -> Result<Vec<u8>, Error> {
        let mut cursor = ChunkCursor::new(declared);
        let mut bytes = Vec::new();
        while self
            .next_chunk(&mut cursor, packet_size, &mut bytes)?
            .is_some()
        {}
        Ok(bytes)
    }

    /// Reads the next chunk of a version-2 file of packets of `packet_size`
    /// bytes, at `cursor`, appending its packets to `bytes` (in steps of at
    /// most [`READ_CHUNK`]), and verifies its checksum: `Some` of its
    /// number of packets. At the trailer, verifies it against the chunks
    /// before it instead (the count, the digest of their checksums and the
    /// header's declared count): `None`, and `None` again after that.
    ///
    /// On an error, `bytes` may hold part of the chunk.
    pub(crate) fn next_chunk(
        &mut self,
        cursor: &mut ChunkCursor,
        packet_size: usize,
        bytes: &mut Vec<u8>,
    ) -> Result<Option<u32>, Error> {
        if cursor.done {
            return Ok(None);
        }
        let task = self.task;
        let index = cursor.index;
        let declared = cursor.declared;
        let truncated = |part: String, at: u64, found: u64| Error::TruncatedFile {
            task,
            part,
            offset: at,
            found,
        };
        let offset = self.offset;
        let part = format!("chunk {index}");
        let mut frame = [0; 8];
        let found = self.read_up_to(&mut frame[..4])?;
        if found < 4 {
            let part = if found == 0 {
                "the trailer".into()
            } else {
                part
            };
            return Err(truncated(part, offset, offset + found as u64));
        }
        let n = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
        if n == 0 {
            self.trailer(cursor.count, cursor.digest, declared)?;
            cursor.done = true;
            return Ok(None);
        }
        let new_count = cursor.count + u64::from(n);
        if declared.is_some_and(|declared| new_count > declared) {
            return Err(Error::CorruptFile {
                task,
                part,
                offset,
                reason: format!(
                    "its {n} packets make {new_count}, more than the {} the header declares",
                    declared.unwrap_or_default()
                ),
            });
        }
        let len = u64::from(n) * packet_size as u64;
        let Ok(len) = usize::try_from(len) else {
            return Err(Error::FileTooLarge {
                task,
                count: new_count,
                packet_size,
            });
        };
        let begin = bytes.len();
        let read = self.read_appending(bytes, len)?;
        if read < len {
            return Err(truncated(part, offset, offset + 4 + read as u64));
        }
        let found = self.read_up_to(&mut frame[4..])?;
        if found < 4 {
            let found = offset + 4 + len as u64 + found as u64;
            return Err(truncated(part, offset, found));
        }
        let stored = u32::from_le_bytes(frame[4..].try_into().expect("4 bytes"));
        let computed = chunk_checksum(index, n, &bytes[begin..]);
        checksum_matches(task, part, offset, stored, computed)?;
        cursor.digest = crc32c::crc32c_append(cursor.digest, &stored.to_le_bytes());
        self.offset = offset + 8 + len as u64;
        cursor.count = new_count;
        cursor.index += 1;
        Ok(Some(n))
    }

    /// The rest of the trailer at the current offset, whose 4 zero bytes
    /// were read, checked against the `count` packets of the chunks before
    /// it, the `digest` of their checksums and the header's `declared` count.
    fn trailer(&mut self, count: u64, digest: u32, declared: Option<u64>) -> Result<(), Error> {
        let (task, offset) = (self.task, self.offset);
        let mut trailer = [0; TRAILER_SIZE];
        let found = self.read_up_to(&mut trailer[4..])?;
        let part = || "the trailer".to_string();
        if found < TRAILER_SIZE - 4 {
            return Err(Error::TruncatedFile {
                task,
                part: part(),
                offset,
                found: offset + 4 + found as u64,
            });
        }
        let corrupt = |reason: String| Error::CorruptFile {
            task,
            part: part(),
            offset,
            reason,
        };
        let stored = u32::from_le_bytes(trailer[16..20].try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(&trailer[..16]);
        checksum_matches(task, part(), offset, stored, computed)?;
        if trailer[20..] != END_MAGIC {
            return Err(corrupt(format!(
                "it ends with b\"{}\", not b\"ZLRP\"",
                trailer[20..].escape_ascii()
            )));
        }
        let recorded = u64::from_le_bytes(trailer[4..12].try_into().expect("8 bytes"));
        if recorded != count {
            return Err(corrupt(format!(
                "it records {recorded} packets, but the chunks before it hold {count}"
            )));
        }
        if let Some(declared) = declared {
            if declared != count {
                return Err(corrupt(format!(
                    "it records {count} packets, but the header declares {declared}"
                )));
            }
        }
        let recorded = u32::from_le_bytes(trailer[12..16].try_into().expect("4 bytes"));
        if recorded != digest {
            return Err(corrupt(format!(
                "its digest of the chunk checksums is {recorded:#010x}, but the chunks' is {digest:#010x}"
            )));
        }
        self.offset = offset + TRAILER_SIZE as u64;
        Ok(())
    }
}

/// The bytes of a job record before its args: ids (u64), batch (u64), args
/// kind (u8), args size (u32).
const JOB_RECORD_FIXED: usize = 21;

/// The job a file of [`Coordinator::run_to_file`](crate::Coordinator::run_to_file)
/// records after its header (`docs/FORMAT.md`, "The job record"): what a
/// later run compares with its own to resume it.
///
/// [`ResultsFile::job`](crate::ResultsFile::job) gives it.
///
/// ```
/// use parallelizer::prelude::*;
/// use parallelizer::ResultsFile;
///
/// #[task(packet = (u32,), args = u16)]
/// pub struct Scaled;
///
/// #[worker(Scaled)]
/// fn scaled(task_id: usize, factor: &u16) -> (u32,) {
///     (task_id as u32 * u32::from(*factor),)
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let path = std::env::temp_dir().join(format!("job-record-doc-{}.prlz", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// Coordinator::new(2).run_to_file_with(Scaled, 100, 16, 3, &path)?;
/// let file = ResultsFile::open(&path)?;
/// let job = file.job().expect("run_to_file records its job");
/// assert_eq!((job.threads(), job.batch()), (100, 16));
/// assert_eq!(job.args(), Some(&[3, 0][..])); // the u16 3, little-endian
/// # std::fs::remove_file(&path).unwrap();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobRecord {
    threads: u64,
    batch: u64,
    args: Option<Vec<u8>>,
}

impl JobRecord {
    /// The job's number of task ids (`threads` of `run_to_file`).
    pub fn threads(&self) -> u64 {
        self.threads
    }

    /// The job's batch size.
    pub fn batch(&self) -> u64 {
        self.batch
    }

    /// The args' wire bytes ([`WireType::to_wire`](crate::WireType::to_wire)),
    /// as in a packet; `None` for a task without args.
    pub fn args(&self) -> Option<&[u8]> {
        self.args.as_deref()
    }
}

/// Step 8: checks that the schema a version-2 file stored, whose hash is the
/// header's `fingerprint`, is `T`'s; if not, names the first field where
/// they differ.
fn check_schema<T: Task>(stored: &[u8], fingerprint: u64) -> Result<(), Error> {
    let schema = T::schema();
    let expected = schema.fingerprint();
    if fingerprint == expected {
        return Ok(());
    }
    match first_difference(stored, &schema) {
        Ok(Some(difference)) => Err(Error::SchemaFieldMismatch {
            task: T::NAME,
            field: difference.field,
            found: difference.found,
            expected: difference.expected,
        }),
        // Equal layouts have equal encodings, so equal fingerprints: only a
        // hash collision between stored schemas gets here.
        Ok(None) => Err(Error::SchemaMismatch {
            task: T::NAME,
            expected,
            found: fingerprint,
        }),
        Err(reason) => Err(Error::CorruptSchema {
            task: T::NAME,
            reason,
        }),
    }
}

/// `Ok` if the checksum `stored` in `part` (at byte `offset`) of a file of
/// `task` is the one `computed` from the bytes it covers.
fn checksum_matches(
    task: &'static str,
    part: String,
    offset: u64,
    stored: u32,
    computed: u32,
) -> Result<(), Error> {
    if stored == computed {
        return Ok(());
    }
    Err(Error::ChecksumMismatch {
        task,
        part,
        offset,
        stored,
        computed,
    })
}

/// The bytes of `count` packets of `packet_size` bytes, if they fit in
/// this machine's memory: a declared count is refused up front when they
/// do not (`Error::FileTooLarge`), before anything is read.
pub(crate) fn total_bytes(count: u64, packet_size: usize) -> Option<usize> {
    let total = count.checked_mul(u64::try_from(packet_size).ok()?)?;
    usize::try_from(total).ok()
}

/// The header of a file of `count` packets of `T` in format `version`,
/// with the schema that follows it from version 2.
pub(crate) fn header_of<T: Task>(
    count: Option<usize>,
    version: FormatVersion,
) -> Result<Vec<u8>, Error> {
    let count = count.map_or(UNKNOWN_COUNT, |count| count as u64);
    let too_large = Error::FileTooLarge {
        task: T::NAME,
        count,
        packet_size: T::PACKET_SIZE,
    };
    let Ok(packet_size) = u32::try_from(T::PACKET_SIZE) else {
        return Err(too_large);
    };
    if count != UNKNOWN_COUNT && count.checked_mul(u64::from(packet_size)).is_none() {
        return Err(too_large);
    }
    let (fingerprint, schema) = match version {
        FormatVersion::V1 => (v1_fingerprint::<T>(), None),
        FormatVersion::V2 => {
            let schema = T::schema();
            (schema.fingerprint(), Some(schema.canonical_encoding()))
        }
    };
    let mut header = Vec::with_capacity(HEADER_SIZE + 4 + schema.as_ref().map_or(0, Vec::len));
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&version.number().to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes()); // reserved
    header.extend_from_slice(&fingerprint.to_le_bytes());
    header.extend_from_slice(&packet_size.to_le_bytes());
    header.extend_from_slice(&count.to_le_bytes());
    if let Some(schema) = schema {
        // Far below u32::MAX: a schema is a few bytes per field.
        header.extend_from_slice(&(schema.len() as u32).to_le_bytes());
        header.extend_from_slice(&schema);
        let checksum = crc32c::crc32c(&header);
        header.extend_from_slice(&checksum.to_le_bytes());
    }
    Ok(header)
}

/// Fills `buffer` from `reader` until it is full or the reader ends; returns
/// how many bytes were read.
pub(crate) fn read_up_to<R: Read>(reader: &mut R, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

pub(crate) fn read_failed<T: Task>(error: io::Error) -> Error {
    read_failed_as(T::NAME, error)
}

/// [`Error::ReadFailed`] reading a file of `task`.
pub(crate) fn read_failed_as(task: &'static str, error: io::Error) -> Error {
    Error::ReadFailed {
        task,
        kind: error.kind(),
        message: error.to_string(),
    }
}

pub(crate) fn write_failed<T: Task>(error: io::Error) -> Error {
    Error::WriteFailed {
        task: T::NAME,
        kind: error.kind(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_records_are_read_and_their_fields_checked() {
        // A record of these fields, with its size and a checksum that holds.
        let record = |fields: &[u8]| {
            let mut record = (fields.len() as u32).to_le_bytes().to_vec();
            record.extend_from_slice(fields);
            let checksum = crc32c::crc32c(&record);
            record.extend_from_slice(&checksum.to_le_bytes());
            record
        };
        let fields = |kind: u8, size: u32, args: &[u8]| {
            let mut fields = 7u64.to_le_bytes().to_vec();
            fields.extend_from_slice(&3u64.to_le_bytes());
            fields.push(kind);
            fields.extend_from_slice(&size.to_le_bytes());
            fields.extend_from_slice(args);
            fields
        };
        let read = |bytes: Vec<u8>| FrameReader::new(bytes.as_slice(), "T").job_record();
        let job = read(record(&fields(1, 2, &[9, 8]))).unwrap();
        assert_eq!(
            (job.threads(), job.batch(), job.args()),
            (7, 3, Some(&[9, 8][..]))
        );
        assert_eq!(read(record(&fields(0, 0, &[]))).unwrap().args(), None);
        for (fields, reason) in [
            (
                fields(1, 3, &[9, 8]),
                "it says 3 bytes of args, but holds 2",
            ),
            (
                fields(0, 1, &[9]),
                "its args kind is 0 (no args), but it holds 1 bytes",
            ),
            (
                fields(2, 0, &[]),
                "its args kind is 2, not 0 (no args) or 1",
            ),
            (vec![0; 20], "less than the 21 of its fixed fields"),
        ] {
            let error = read(record(&fields)).unwrap_err();
            assert!(matches!(error, Error::CorruptFile { .. }), "{error:?}");
            assert!(error.to_string().contains(reason), "{error}");
        }
        let mut broken = record(&fields(0, 0, &[]));
        broken[5] ^= 1;
        let error = read(broken).unwrap_err();
        assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error:?}");
    }

    #[test]
    fn truncated_header_messages_give_this_header_size() {
        for found in [0, 5] {
            let message = Error::TruncatedHeader {
                task: "Hello",
                found,
            }
            .to_string();
            assert!(
                message.contains(&format!("{HEADER_SIZE}-byte header")),
                "{message}"
            );
        }
    }
}
