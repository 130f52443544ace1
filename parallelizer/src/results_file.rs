//! A results file read with no Rust type: [`ResultsFile`], the packets and
//! the schema that the file itself stores.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use crate::error::Error;
use crate::persist::{
    read_failed_as, total_bytes, ChunkCursor, FrameReader, JobRecord, UNKNOWN_COUNT,
};
use crate::schema::{Schema, UNKNOWN_TASK};

/// A results file of format version 2, read and verified with no Rust
/// type: its packets' bytes and the [`Schema`] the file stores, from which
/// every field decodes ([`SchemaField::value`](crate::SchemaField::value)).
///
/// It is read by the same code as [`Results::read_from`](crate::Results::read_from),
/// which checks the same header, schema hash, header checksum, job record,
/// chunk checksums and trailer, and fails with the same errors (naming the
/// part and its offset) for a corrupt or truncated file; it just takes the
/// schema as the file says instead of comparing it with a task's, and does
/// not validate the packets up front (decoding a field does). Errors name
/// the task as [`ResultsFile::TASK`], `?`: the file does not record it.
///
/// ```
/// use parallelizer::prelude::*;
/// use parallelizer::{ResultsFile, Value};
///
/// #[task(packet = (u16, FixedStr<11>))]
/// pub struct Hello;
///
/// #[worker(Hello)]
/// fn hello(task_id: usize) -> (u16, FixedStr<11>) {
///     (task_id as u16 * 2, FixedStr::new("hi").unwrap())
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut bytes = Vec::new();
/// Coordinator::new(2).dispatch(Hello, 5, 2)?.write_to(&mut bytes)?;
///
/// let file = ResultsFile::read_from(bytes.as_slice())?;
/// assert_eq!((file.len(), file.format_version(), file.chunks()), (5, 2, 1));
/// let schema = file.schema();
/// assert_eq!(schema.packet_size(), Hello::PACKET_SIZE);
/// assert_eq!(schema.fingerprint(), Hello::schema().fingerprint());
/// let text = &schema.fields()[1];
/// assert_eq!((text.name(), text.type_name()), ("1", "string<11>"));
///
/// let packet = file.packet(3).unwrap();
/// assert_eq!(schema.fields()[0].value(packet)?, Value::UInt(6));
/// assert_eq!(text.value(packet)?.to_string(), "hi");
/// # Ok(())
/// # }
/// ```
///
/// It keeps every packet in memory: to look through a file larger than
/// memory, read it chunk by chunk with a [`ResultsReader`], which
/// [`read_from`](Self::read_from) collects.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsFile {
    version: u16,
    schema: Schema,
    job: Option<JobRecord>,
    count: usize,
    chunks: u64,
    bytes: Vec<u8>,
}

impl ResultsFile {
    /// The task name in the errors of a `ResultsFile` and in its schema's
    /// [`task`](Schema::task): `"?"`, since a results file does not record
    /// its task.
    pub const TASK: &'static str = UNKNOWN_TASK;

    /// Reads a results file from `reader`, up to the end of its trailer and
    /// no further, verifying every checksum. Memory grows with the bytes
    /// actually read (in steps of at most 1 MiB), never with a count the
    /// file claims.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::ResultsFile;
    ///
    /// #[task(packet = (u32,))]
    /// pub struct Count;
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let mut writer = PacketWriter::<Count, _>::new(Vec::new(), 1)?;
    /// writer.write(&[Count::encode((7,))])?;
    /// let mut bytes = writer.finish()?;
    ///
    /// assert_eq!(ResultsFile::read_from(bytes.as_slice())?.as_bytes(), &[7, 0, 0, 0]);
    /// let last = bytes.len() - 30;
    /// bytes[last] ^= 1; // a packet byte
    /// let error = ResultsFile::read_from(bytes.as_slice()).unwrap_err();
    /// assert!(error.to_string().contains("chunk 0, at byte"), "{error}");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Results::read_from`](crate::Results::read_from), but for the
    /// comparison with a task's schema and the packets' validation; and
    /// [`Error::NoStoredSchema`] for a file of format version 1, which does
    /// not store its schema; [`Error::CorruptSchema`] for a stored schema
    /// that does not decode, or whose nodes contradict each other (a struct
    /// whose size is not its fields' sum...); [`Error::CorruptFile`] in the
    /// header if its packet size is not the schema's, and in the job record
    /// if its fields contradict its size.
    pub fn read_from(reader: impl Read) -> Result<Self, Error> {
        let mut reader = ResultsReader::new(reader)?;
        let packet_size = reader.schema.packet_size();
        let too_large = |count| Error::FileTooLarge {
            task: Self::TASK,
            count,
            packet_size,
        };
        if let Some(declared) = reader.declared() {
            // Refused up front, as `Results::read_from` refuses it.
            if total_bytes(declared, packet_size).is_none() {
                return Err(too_large(declared));
            }
        }
        let mut bytes = Vec::new();
        while reader.read_chunk(&mut bytes)?.is_some() {}
        let Ok(count) = usize::try_from(reader.packets_read()) else {
            return Err(too_large(reader.packets_read()));
        };
        Ok(ResultsFile {
            version: reader.version,
            schema: reader.schema,
            job: reader.job,
            count,
            chunks: reader.cursor.index,
            bytes,
        })
    }

    /// Opens and reads the results file at `path`, as
    /// [`read_from`](Self::read_from) does.
    ///
    /// ```no_run
    /// use parallelizer::ResultsFile;
    ///
    /// let file = ResultsFile::open("samples.prlz")?;
    /// println!("{} packets\n{}", file.len(), file.schema().tree());
    /// # Ok::<(), parallelizer::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ReadFailed`] if the file cannot be opened; else as
    /// [`read_from`](Self::read_from).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let file = File::open(path).map_err(|error| read_failed_as(Self::TASK, error))?;
        Self::read_from(BufReader::with_capacity(1 << 16, file))
    }

    /// The packet layout the file stores, from its canonical encoding:
    /// field names, kinds, offsets, sizes, string and byte slot capacities,
    /// enum variants. The file records neither the task's name nor type
    /// names: [`task`](Schema::task) is [`TASK`](Self::TASK), `"?"`, the
    /// packet's [`type_name`](Schema::type_name) is `"struct"`, and each
    /// field's is its kind's: `"u16"`, `"f64"`, `"bool"`, `"string<11>"`
    /// (a [`FixedStr<11>`](crate::FixedStr)), `"bytes<16>"` (a
    /// [`FixedBytes<16>`](crate::FixedBytes)), `"enum u8"` (an enum whose
    /// discriminant is a `u8`), `"struct"` (a derived struct, or a built-in
    /// one such as [`Vec3`](crate::Vec3)), `"[u8; 8]"` (raw bytes). Its
    /// [`fingerprint`](Schema::fingerprint) and
    /// [`canonical_encoding`](Schema::canonical_encoding) are the file's.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The file's format version: 2 (files of version 1 store no schema,
    /// and are refused).
    pub fn format_version(&self) -> u16 {
        self.version
    }

    /// The job the file records, if
    /// [`Coordinator::run_to_file`](crate::Coordinator::run_to_file) wrote
    /// it; `None` for a file of [`Results::write_to`](crate::Results::write_to)
    /// or a [`PacketWriter`](crate::PacketWriter).
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::ResultsFile;
    ///
    /// #[task(packet = (u16,))]
    /// pub struct Double;
    ///
    /// #[worker(Double)]
    /// fn double(task_id: usize) -> (u16,) {
    ///     (task_id as u16 * 2,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let mut bytes = Vec::new();
    /// Coordinator::new(2).dispatch(Double, 3, 2)?.write_to(&mut bytes)?;
    /// let file = ResultsFile::read_from(bytes.as_slice())?;
    /// assert_eq!(file.job(), None); // `write_to` records no job
    /// # Ok(())
    /// # }
    /// ```
    pub fn job(&self) -> Option<&JobRecord> {
        self.job.as_ref()
    }

    /// The number of chunks of packets the file holds, each of whose
    /// checksums was verified (and then the trailer's digest of them all).
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The number of packets.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the file holds no packets.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bytes of packet `index` (the output of task id `index`), or
    /// `None` past the end: [`Schema::packet_size`] bytes, each field at its
    /// offset.
    pub fn packet(&self, index: usize) -> Option<&[u8]> {
        if index >= self.count {
            return None;
        }
        let size = self.schema.packet_size();
        self.bytes.get(index * size..(index + 1) * size)
    }

    /// The packets in order, each as [`packet`](Self::packet) gives it.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::ResultsFile;
    ///
    /// #[task(packet = (u16,))]
    /// pub struct Double;
    ///
    /// #[worker(Double)]
    /// fn double(task_id: usize) -> (u16,) {
    ///     (task_id as u16 * 2,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let mut bytes = Vec::new();
    /// Coordinator::new(2).dispatch(Double, 3, 2)?.write_to(&mut bytes)?;
    /// let file = ResultsFile::read_from(bytes.as_slice())?;
    /// let packets: Vec<&[u8]> = file.packets().collect();
    /// assert_eq!(packets, [&[0, 0][..], &[2, 0][..], &[4, 0][..]]);
    /// assert_eq!(file.as_bytes(), &[0, 0, 2, 0, 4, 0]);
    /// assert_eq!((file.len(), file.is_empty(), file.packet(3)), (3, false, None));
    /// # Ok(())
    /// # }
    /// ```
    pub fn packets(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        let size = self.schema.packet_size();
        (0..self.count).map(move |index| &self.bytes[index * size..(index + 1) * size])
    }

    /// All the packets' bytes, back to back: what
    /// [`Results::as_bytes`](crate::Results::as_bytes) holds for the task
    /// that wrote them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Writes the packets as an NPY file whose structured dtype is the
    /// file's schema: the same bytes as
    /// [`Results::write_npy`](crate::Results::write_npy) writes for the task
    /// that wrote the file. The bytes are copied as they are, their values
    /// not checked: decode every packet's fields first
    /// ([`SchemaField::value`](crate::SchemaField::value)) to refuse a file
    /// whose checksums hold but whose values are invalid, as the
    /// `parallelizer` command does.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::ResultsFile;
    ///
    /// #[task(packet = (u16, bool))]
    /// pub struct Parity;
    ///
    /// #[worker(Parity)]
    /// fn parity(task_id: usize) -> (u16, bool) {
    ///     (task_id as u16, task_id % 2 == 0)
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let results = Coordinator::new(2).dispatch(Parity, 10, 4)?;
    /// let mut file = Vec::new();
    /// results.write_to(&mut file)?;
    /// let (mut typed, mut untyped) = (Vec::new(), Vec::new());
    /// results.write_npy(&mut typed)?;
    /// ResultsFile::read_from(file.as_slice())?.write_npy(&mut untyped)?;
    /// assert_eq!(typed, untyped);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write_npy<W: Write>(&self, writer: W) -> io::Result<()> {
        crate::npy::write(&self.schema, self.count, &self.bytes, writer)
    }
}

/// A results file of format version 2 read chunk by chunk, with no Rust
/// type: the header, stored [`Schema`] and job record on
/// [`new`](Self::new), then each chunk's packets, verified by its checksum,
/// as [`read_chunk`](Self::read_chunk) is called, then the trailer, checked
/// against the chunks before it. Memory holds one chunk at a time, so a
/// file larger than memory can be looked through, verified, or converted
/// packet by packet: this crate's writers make chunks of about 1 MiB (a
/// file may hold larger ones: a chunk's count is the file's, and its bytes
/// are read in steps of 1 MiB, so memory grows only with the bytes the file
/// actually holds).
///
/// This is the one reader of [`ResultsFile::read_from`], which reads every
/// chunk into one buffer: the same checks, the same errors. A file is only
/// known to be whole once `read_chunk` has returned `None` (the trailer
/// verified): packets handed out before an error were verified by their own
/// chunk's checksum, but the file may be cut or corrupt further on.
///
/// ```
/// use parallelizer::prelude::*;
/// use parallelizer::persist::ResultsReader;
///
/// #[task(packet = (u32,))]
/// pub struct Count;
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let mut writer = PacketWriter::<Count, _>::streaming(Vec::new())?;
/// writer.write(&[Count::encode((1,)), Count::encode((2,))])?;
/// let bytes = writer.finish()?;
///
/// let mut reader = ResultsReader::new(bytes.as_slice())?;
/// assert_eq!(reader.schema().packet_size(), 4);
/// let mut chunk = Vec::new();
/// let mut sum = 0;
/// while let Some(packets) = reader.read_chunk(&mut chunk)? {
///     assert_eq!(chunk.len(), packets * 4);
///     sum += chunk.chunks(4).map(|p| u32::from_le_bytes(p.try_into().unwrap())).sum::<u32>();
///     chunk.clear(); // keep one chunk at a time
/// }
/// assert_eq!((sum, reader.packets_read(), reader.is_verified()), (3, 2, true));
/// # Ok(())
/// # }
/// ```
pub struct ResultsReader<R> {
    file: FrameReader<R>,
    version: u16,
    schema: Schema,
    job: Option<JobRecord>,
    packet_size: usize,
    cursor: ChunkCursor,
}

impl<R: Read> ResultsReader<R> {
    /// Reads and verifies the header, the stored schema and the job record
    /// of the results file that `reader` holds, up to its first chunk.
    ///
    /// # Errors
    ///
    /// As [`ResultsFile::read_from`], for the parts before the packets.
    pub fn new(reader: R) -> Result<Self, Error> {
        let task = ResultsFile::TASK;
        let mut file = FrameReader::new(reader, task);
        let header = file.header()?;
        if header.version == 1 {
            return Err(Error::NoStoredSchema {
                version: header.version,
            });
        }
        let stored = file.schema(&header)?;
        let schema = Schema::from_canonical_encoding(&stored)
            .map_err(|reason| Error::CorruptSchema { task, reason })?;
        let job = if header.job_record {
            Some(file.job_record()?)
        } else {
            None
        };
        let packet_size = schema.packet_size();
        if u64::from(header.packet_size) != packet_size as u64 {
            return Err(Error::CorruptFile {
                task,
                part: "the header".into(),
                offset: 0,
                reason: format!(
                    "it says packets of {} bytes, but its schema's are {packet_size}",
                    header.packet_size
                ),
            });
        }
        let declared = (header.count != UNKNOWN_COUNT).then_some(header.count);
        Ok(ResultsReader {
            file,
            version: header.version,
            schema,
            job,
            packet_size,
            cursor: ChunkCursor::new(declared),
        })
    }

    /// Reads the next chunk, appending its packets' bytes to `bytes`, and
    /// verifies its checksum: `Some` of its number of packets. At the end
    /// of the chunks, reads and verifies the trailer instead: `None`, and
    /// `None` again after that. Clear `bytes` between calls to hold one
    /// chunk at a time, or keep appending to collect the file.
    ///
    /// # Errors
    ///
    /// As [`ResultsFile::read_from`], for this chunk or the trailer; then
    /// `bytes` may hold part of the chunk, unverified, after the bytes it
    /// held.
    pub fn read_chunk(&mut self, bytes: &mut Vec<u8>) -> Result<Option<usize>, Error> {
        let n = self
            .file
            .next_chunk(&mut self.cursor, self.packet_size, bytes)?;
        Ok(n.map(|n| n as usize))
    }

    /// The packet layout the file stores, as [`ResultsFile::schema`] gives
    /// it.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The file's format version: 2.
    pub fn format_version(&self) -> u16 {
        self.version
    }

    /// The job the file records, as [`ResultsFile::job`] gives it.
    pub fn job(&self) -> Option<&JobRecord> {
        self.job.as_ref()
    }

    /// The number of packets the header declares, or `None` if the writer
    /// did not know it (a streaming writer): the trailer, checked when
    /// reached, must say the same.
    pub fn declared(&self) -> Option<u64> {
        self.cursor.declared()
    }

    /// The number of packets in the chunks read and verified so far.
    pub fn packets_read(&self) -> u64 {
        self.cursor.count
    }

    /// The number of chunks read and verified so far.
    pub fn chunks_read(&self) -> u64 {
        self.cursor.index
    }

    /// Whether the trailer was read and verified: the whole file is.
    pub fn is_verified(&self) -> bool {
        self.cursor.done
    }
}

impl<R> std::fmt::Debug for ResultsReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsReader")
            .field("version", &self.version)
            .field("schema", &self.schema)
            .field("job", &self.job)
            .field("declared", &self.cursor.declared())
            .field("packets_read", &self.cursor.count)
            .field("chunks_read", &self.cursor.index)
            .field("verified", &self.cursor.done)
            .finish_non_exhaustive()
    }
}

impl ResultsReader<BufReader<File>> {
    /// Opens the results file at `path` and reads it up to its first chunk,
    /// as [`new`](Self::new) does.
    ///
    /// ```no_run
    /// use parallelizer::persist::ResultsReader;
    ///
    /// let mut reader = ResultsReader::open("samples.prlz")?;
    /// let mut chunk = Vec::new();
    /// while reader.read_chunk(&mut chunk)?.is_some() {
    ///     chunk.clear();
    /// }
    /// println!("{} packets, every checksum verified", reader.packets_read());
    /// # Ok::<(), parallelizer::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ReadFailed`] if the file cannot be opened; else as
    /// [`new`](Self::new).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let file = File::open(path).map_err(|error| read_failed_as(ResultsFile::TASK, error))?;
        Self::new(BufReader::with_capacity(1 << 16, file))
    }
}
