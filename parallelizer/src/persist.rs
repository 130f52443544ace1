//! Results files: a task's packets behind a small header that names their
//! schema, written to any [`io::Write`] and read back from any [`io::Read`].
//!
//! A file is a [`HEADER_SIZE`]-byte header, then `count` packets exactly as
//! [`Results::as_bytes`] holds them. Every header number is little-endian:
//!
//! | offset | size | field | value |
//! |---|---|---|---|
//! | 0 | 4 | magic | [`MAGIC`], `b"PRLZ"` |
//! | 4 | 2 | format version | [`FORMAT_VERSION`] (u16) |
//! | 6 | 2 | reserved | 0 (u16) |
//! | 8 | 8 | schema fingerprint | [`Schema::fingerprint`](crate::Schema::fingerprint) (u64) |
//! | 16 | 4 | packet size | `Task::PACKET_SIZE` (u32) |
//! | 20 | 8 | count | the number of packets (u64) |
//!
//! Reading checks every header field against the task, so a file written by
//! another schema, a truncated file or a corrupt header is an [`Error`],
//! never garbage; then every packet is validated as by
//! [`Results::from_bytes`]. `docs/FORMAT.md` in the repository specifies the
//! format in full.
//!
//! Write whole results with [`Results::write_to`], or packets chunk by chunk
//! with a [`PacketWriter`]; read them with [`Results::read_from`]. A reader
//! reads exactly one file's bytes, so several files can follow each other in
//! one stream.

use std::fmt;
use std::io::{self, Read, Write};
use std::marker::PhantomData;

use zerocopy::IntoBytes;

use crate::error::Error;
use crate::results::Results;
use crate::task::Task;

/// The first 4 bytes of every results file.
pub const MAGIC: [u8; 4] = *b"PRLZ";

/// The format version this release writes, and the only one it reads.
pub const FORMAT_VERSION: u16 = 1;

/// The size of a results file header in bytes.
pub const HEADER_SIZE: usize = 28;

/// Packets are read in chunks of at most this many bytes, so a corrupt count
/// cannot make the reader allocate more than the data it actually finds.
const READ_CHUNK: usize = 1 << 20;

/// Writes a results file packet chunk by packet chunk: the header on
/// creation, then packets as they come, for results that are produced (or
/// streamed) in parts.
///
/// The number of packets is declared up front, as the header holds it: the
/// writer refuses packets beyond it, and [`finish`](Self::finish) refuses to
/// finish short. Each [`write`](Self::write) is one `write_all` on the
/// underlying writer: wrap a file in a [`BufWriter`](std::io::BufWriter) when
/// writing many small chunks. Once the underlying writer fails, every later
/// call returns the same error, as the file is incomplete.
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
    declared: usize,
    written: usize,
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
    pub fn new(mut writer: W, count: usize) -> Result<Self, Error> {
        let header = header_of::<T>(count)?;
        writer.write_all(&header).map_err(write_failed::<T>)?;
        Ok(PacketWriter {
            writer,
            declared: count,
            written: 0,
            failed: None,
            task: PhantomData,
        })
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
        if written > self.declared {
            return Err(Error::PacketCount {
                task: T::NAME,
                declared: self.declared,
                written,
            });
        }
        if let Err(error) = self.writer.write_all(packets.as_bytes()) {
            let error = write_failed::<T>(error);
            self.failed = Some(error.clone());
            return Err(error);
        }
        self.written = written;
        Ok(())
    }

    /// The number of packets declared when the writer was created.
    pub fn declared(&self) -> usize {
        self.declared
    }

    /// The number of packets written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Checks that every declared packet was written, flushes the writer and
    /// gives it back.
    ///
    /// # Errors
    ///
    /// [`Error::PacketCount`] if fewer packets than declared were written;
    /// [`Error::WriteFailed`] if the writer fails to flush or failed before.
    pub fn finish(mut self) -> Result<W, Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.written != self.declared {
            return Err(Error::PacketCount {
                task: T::NAME,
                declared: self.declared,
                written: self.written,
            });
        }
        self.writer.flush().map_err(write_failed::<T>)?;
        Ok(self.writer)
    }
}

impl<T: Task, W: Write> fmt::Debug for PacketWriter<T, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketWriter")
            .field("task", &T::NAME)
            .field("declared", &self.declared)
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
    /// packets, then [`as_bytes`](Self::as_bytes) as it is. The writer is
    /// flushed; pass `&mut writer` to keep using it.
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
    /// assert_eq!(file.len(), 28 + 100 * Label::PACKET_SIZE);
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
        write_results(self, writer)
    }

    /// Reads results back from a [results file](self), such as one
    /// [`write_to`](Self::write_to) or a [`PacketWriter`](crate::PacketWriter)
    /// wrote.
    ///
    /// The header must be a results file of this format version, with the
    /// task's [schema fingerprint](crate::Schema::fingerprint) and packet
    /// size; then every packet is validated as by
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
    /// // The same bytes read as another schema are refused, not misread.
    /// let error = Results::<Flipped>::read_from(file.as_slice()).unwrap_err();
    /// assert!(matches!(error, Error::SchemaMismatch { .. }));
    /// assert!(error.to_string().contains("different schema"));
    ///
    /// // So is a truncated file.
    /// let error = Results::<Parity>::read_from(&file[..file.len() - 1]).unwrap_err();
    /// assert!(matches!(error, Error::TruncatedPackets { .. }));
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
    /// - [`Error::SchemaMismatch`] for a file another schema wrote;
    /// - [`Error::FileTooLarge`] if the header's count cannot fit in memory;
    /// - [`Error::TruncatedHeader`] or [`Error::TruncatedPackets`] if the
    ///   data ends early;
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
) -> Result<(), Error> {
    let mut writer = PacketWriter::<T, W>::new(writer, results.len())?;
    writer.write(results.packets())?;
    writer.finish().map(drop)
}

/// [`Results::read_from`]: checks the header against `T`, reads the packets
/// in bounded chunks, then validates them.
pub(crate) fn read_results<T: Task, R: Read>(mut reader: R) -> Result<Results<T>, Error> {
    let mut header = [0; HEADER_SIZE];
    let found = read_up_to(&mut reader, &mut header).map_err(read_failed::<T>)?;
    let magic = &header[..found.min(MAGIC.len())];
    if magic != &MAGIC[..magic.len()] {
        return Err(Error::NotAResultsFile {
            task: T::NAME,
            found: magic.to_vec(),
        });
    }
    if found < HEADER_SIZE {
        return Err(Error::TruncatedHeader {
            task: T::NAME,
            found,
        });
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedFormatVersion {
            task: T::NAME,
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let reserved = u16::from_le_bytes([header[6], header[7]]);
    if reserved != 0 {
        return Err(Error::ReservedHeaderBits {
            task: T::NAME,
            found: reserved,
        });
    }
    let fingerprint = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    let expected = T::schema().fingerprint();
    if fingerprint != expected {
        return Err(Error::SchemaMismatch {
            task: T::NAME,
            expected,
            found: fingerprint,
        });
    }
    let packet_size = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
    if usize::try_from(packet_size) != Ok(T::PACKET_SIZE) {
        return Err(Error::PacketSizeMismatch {
            task: T::NAME,
            expected: T::PACKET_SIZE,
            found: packet_size,
        });
    }
    let count = u64::from_le_bytes(header[20..28].try_into().expect("8 bytes"));
    let too_large = Error::FileTooLarge {
        task: T::NAME,
        count,
        packet_size: T::PACKET_SIZE,
    };
    let Some(total) = count.checked_mul(u64::from(packet_size)) else {
        return Err(too_large);
    };
    let Ok(total) = usize::try_from(total) else {
        return Err(too_large);
    };

    let mut bytes = Vec::new();
    while bytes.len() < total {
        let start = bytes.len();
        let chunk = (total - start).min(READ_CHUNK);
        bytes
            .try_reserve(chunk)
            .map_err(|_| Error::AllocationFailed {
                task: T::NAME,
                bytes: start + chunk,
            })?;
        bytes.resize(start + chunk, 0);
        let read = read_up_to(&mut reader, &mut bytes[start..]).map_err(read_failed::<T>)?;
        if read < chunk {
            return Err(Error::TruncatedPackets {
                task: T::NAME,
                expected_bytes: total as u64,
                found_bytes: (start + read) as u64,
                packet_size: T::PACKET_SIZE,
            });
        }
    }
    Results::from_bytes(bytes)
}

/// The header of a file of `count` packets of `T`.
fn header_of<T: Task>(count: usize) -> Result<[u8; HEADER_SIZE], Error> {
    let too_large = Error::FileTooLarge {
        task: T::NAME,
        count: count as u64,
        packet_size: T::PACKET_SIZE,
    };
    let Ok(packet_size) = u32::try_from(T::PACKET_SIZE) else {
        return Err(too_large);
    };
    if (count as u64).checked_mul(u64::from(packet_size)).is_none() {
        return Err(too_large);
    }
    let mut header = [0; HEADER_SIZE];
    header[0..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // 6..8: reserved, 0.
    header[8..16].copy_from_slice(&T::schema().fingerprint().to_le_bytes());
    header[16..20].copy_from_slice(&packet_size.to_le_bytes());
    header[20..28].copy_from_slice(&(count as u64).to_le_bytes());
    Ok(header)
}

/// Fills `buffer` from `reader` until it is full or the reader ends; returns
/// how many bytes were read.
fn read_up_to<R: Read>(reader: &mut R, buffer: &mut [u8]) -> io::Result<usize> {
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

fn read_failed<T: Task>(error: io::Error) -> Error {
    Error::ReadFailed {
        task: T::NAME,
        kind: error.kind(),
        message: error.to_string(),
    }
}

fn write_failed<T: Task>(error: io::Error) -> Error {
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
