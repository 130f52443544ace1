//! The merged result buffer of a dispatch, viewed without copying.

use std::fmt;
use std::sync::Weak;

use crate::buffer::{packet_views, PacketBuffer};
use crate::error::Error;
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
    /// The packets; when dropped, their buffer goes back to the coordinator
    /// that made it, for its next dispatch.
    packets: PacketBuffer<T>,
}

impl<T: Task> Results<T> {
    /// Wraps a buffer of whole packets that a job filled.
    pub(crate) fn from_packets(packets: PacketBuffer<T>) -> Self {
        Results { packets }
    }

    /// The buffer, for a job to refill.
    pub(crate) fn buffer_mut(&mut self) -> &mut PacketBuffer<T> {
        &mut self.packets
    }

    /// Empty results, whose buffer [`Coordinator::dispatch_into`] fills and
    /// then reuses dispatch after dispatch.
    ///
    /// [`Coordinator::dispatch_into`]: crate::Coordinator::dispatch_into
    pub fn new() -> Self {
        Self::from_packets(PacketBuffer::new(Vec::new(), Weak::new()))
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
        let packets = PacketBuffer::new(bytes, Weak::new());
        for (index, packet) in packets.packets().iter().enumerate() {
            T::validate(packet).map_err(|error| Error::InvalidPacket {
                task: T::NAME,
                index,
                field: error.field,
                field_type: T::FIELD_TYPES[error.field],
                reason: error.reason,
            })?;
        }
        Ok(Self::from_packets(packets))
    }

    /// Gives up the raw buffer without copying it.
    pub fn into_bytes(self) -> Vec<u8> {
        self.packets.into_bytes()
    }
}
packet_views!(
    Results,
    len: "The number of packets: the number of task ids dispatched.",
    is_empty: "Whether there are no results (a dispatch of 0 task ids).",
    get: "The output of task id `index`, decoded from its packet, or `None` past the end.",
    as_bytes: "The merged raw buffer: `len() * PACKET_SIZE` bytes, packets in task-id \
               order, each field little-endian.",
);

impl<T: Task> Clone for Results<T> {
    fn clone(&self) -> Self {
        Self::from_packets(self.packets.clone())
    }
}

impl<T: Task> Default for Results<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Task> PartialEq for Results<T> {
    fn eq(&self, other: &Self) -> bool {
        self.packets == other.packets
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
