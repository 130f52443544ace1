//! The merged result buffer of a dispatch, viewed without copying.

use std::fmt;
use std::io;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::sync::Weak;

use zerocopy::FromBytes;

use crate::buffers::BufferPool;
use crate::error::Error;
use crate::persist;
use crate::task::Task;

/// The results of one dispatch: one packet per task id, in task-id order, in
/// one contiguous little-endian buffer.
///
/// The buffer is the wire format: [`as_bytes`](Self::as_bytes) can be written
/// to a file or a socket as it is, and [`from_bytes`](Self::from_bytes) reads
/// it back after validating every packet.
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[task(packet = (u32, bool))]
/// pub struct Parity;
///
/// #[worker(Parity)]
/// fn parity(task_id: usize) -> (u32, bool) {
///     (task_id as u32, task_id % 2 == 0)
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let coordinator = Coordinator::new(4);
/// let results = coordinator.dispatch(Parity, 10, 3)?;
/// assert_eq!(results.len(), 10);
/// assert_eq!(results.get(4), Some((4, true)));
/// assert_eq!(results.as_bytes().len(), 10 * Parity::PACKET_SIZE);
///
/// let copy = Results::<Parity>::from_bytes(results.as_bytes().to_vec())?;
/// assert_eq!(copy, results);
/// # Ok(())
/// # }
/// ```
pub struct Results<T: Task> {
    bytes: Vec<u8>,
    /// Where the buffer goes when the results are dropped, so the next
    /// dispatch of the coordinator that made it can reuse it.
    recycle: Weak<BufferPool>,
    // `fn() -> T`: results are Send + Sync whatever the task struct is.
    task: PhantomData<fn() -> T>,
}

impl<T: Task> Results<T> {
    /// Wraps a buffer of whole packets that the coordinator fills.
    pub(crate) fn from_filled(bytes: Vec<u8>, recycle: Weak<BufferPool>) -> Self {
        debug_assert_eq!(bytes.len() % T::PACKET_SIZE, 0);
        Results {
            bytes,
            recycle,
            task: PhantomData,
        }
    }

    /// The buffer, for a job to refill.
    pub(crate) fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Empty results, whose buffer [`Coordinator::dispatch_into`] fills and
    /// then reuses dispatch after dispatch.
    ///
    /// [`Coordinator::dispatch_into`]: crate::Coordinator::dispatch_into
    pub fn new() -> Self {
        Self::from_filled(Vec::new(), Weak::new())
    }

    /// Reads results back from a raw buffer, such as one written from
    /// [`as_bytes`](Self::as_bytes) or [`into_bytes`](Self::into_bytes).
    ///
    /// Everything is validated up front, so the results are then read without
    /// further checks: the length must be a whole number of packets, and every
    /// field must hold a value of its type (string and buffer lengths within
    /// their slots, zero padding, UTF-8 strings, bools 0 or 1).
    ///
    /// # Errors
    ///
    /// [`Error::BufferLength`] or [`Error::InvalidPacket`], naming the first
    /// bad packet and field.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        if bytes.len() % T::PACKET_SIZE != 0 {
            return Err(Error::BufferLength {
                task: T::NAME,
                len: bytes.len(),
                packet_size: T::PACKET_SIZE,
            });
        }
        for (index, packet) in packets_of::<T>(&bytes).iter().enumerate() {
            T::validate(packet).map_err(|error| Error::InvalidPacket {
                task: T::NAME,
                index,
                field: error.field,
                field_type: T::FIELD_TYPES[error.field],
                reason: error.reason,
            })?;
        }
        Ok(Self::from_filled(bytes, Weak::new()))
    }

    /// The number of packets: the number of task ids dispatched.
    pub fn len(&self) -> usize {
        self.bytes.len() / T::PACKET_SIZE
    }

    /// Whether there are no results (a dispatch of 0 task ids).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The output of task id `index`, decoded from its packet, or `None` past
    /// the end.
    pub fn get(&self, index: usize) -> Option<T::Output> {
        self.packets().get(index).map(T::decode)
    }

    /// The outputs in task-id order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            packets: self.packets().iter(),
        }
    }

    /// The packets, viewed in place: no copy, no decoding.
    pub fn packets(&self) -> &[T::Packet] {
        packets_of::<T>(&self.bytes)
    }

    /// The merged raw buffer: `len() * PACKET_SIZE` bytes, packets in task-id
    /// order, each field little-endian.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Gives up the raw buffer without copying it.
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// Writes the results as a [results file](crate::persist): a 28-byte
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
    pub fn write_to<W: io::Write>(&self, writer: W) -> Result<(), Error> {
        persist::write_results(self, writer)
    }

    /// Reads results back from a [results file](crate::persist), such as one
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
    pub fn read_from<R: io::Read>(reader: R) -> Result<Self, Error> {
        persist::read_results(reader)
    }
}

pub(crate) fn packets_of<T: Task>(bytes: &[u8]) -> &[T::Packet] {
    // Packets are unaligned and the length is a whole number of packets (both
    // checked when the buffer was made), so the view always succeeds.
    <[T::Packet]>::ref_from_bytes(bytes).unwrap_or_default()
}

impl<T: Task> Clone for Results<T> {
    fn clone(&self) -> Self {
        Self::from_filled(self.bytes.clone(), self.recycle.clone())
    }
}

impl<T: Task> Default for Results<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Task> Drop for Results<T> {
    fn drop(&mut self) {
        if let Some(buffers) = self.recycle.upgrade() {
            buffers.give(std::mem::take(&mut self.bytes));
        }
    }
}

impl<T: Task> PartialEq for Results<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl<T: Task> Eq for Results<T> {}

impl<T: Task> fmt::Debug for Results<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Results")
            .field("task", &T::NAME)
            .field("len", &self.len())
            .field("packet_size", &T::PACKET_SIZE)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Task> IntoIterator for &'a Results<T> {
    type Item = T::Output;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Iterator over the outputs of [`Results`] (or of a stream's
/// [`Batch`](crate::Batch)), in task-id order.
pub struct Iter<'a, T: Task> {
    packets: std::slice::Iter<'a, T::Packet>,
}

impl<'a, T: Task> Iter<'a, T> {
    /// Decodes `packets` one by one.
    pub(crate) fn new(packets: &'a [T::Packet]) -> Self {
        Iter {
            packets: packets.iter(),
        }
    }
}

impl<T: Task> Iterator for Iter<'_, T> {
    type Item = T::Output;

    fn next(&mut self) -> Option<T::Output> {
        self.packets.next().map(T::decode)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.packets.size_hint()
    }

    fn nth(&mut self, n: usize) -> Option<T::Output> {
        self.packets.nth(n).map(T::decode)
    }
}

impl<T: Task> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<T::Output> {
        self.packets.next_back().map(T::decode)
    }
}

impl<T: Task> ExactSizeIterator for Iter<'_, T> {}

impl<T: Task> FusedIterator for Iter<'_, T> {}
