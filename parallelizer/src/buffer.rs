//! Owned packet buffers, and the pool that recycles them.
//!
//! Every packet buffer of the crate (the merged buffer of [`Results`], each
//! stream [`Batch`]) is a [`PacketBuffer`]: bytes holding whole packets, the
//! views over them, and a weak handle to the [`BufferPool`] it goes back to
//! when dropped.
//!
//! Why recycle: a fresh result buffer of tens of MiB costs a page fault per
//! 4 KiB page on every dispatch (allocators map large blocks fresh and unmap
//! them on free). A loop that dispatches, reads and drops its results pays
//! that every time; handing dropped buffers back lets the next dispatch write
//! into pages that are already mapped.
//!
//! [`Results`]: crate::Results
//! [`Batch`]: crate::Batch

use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError, Weak};

use zerocopy::{FromBytes, FromZeros};

use crate::task::Task;

/// How many dropped buffers a pool keeps by default.
pub(crate) const DEFAULT_KEPT: usize = 4;

/// A recycled buffer is handed out only if its capacity is at most this many
/// times the size asked for (plus [`SLACK`]), so a small dispatch never pins
/// a huge block.
const MAX_WASTE_FACTOR: usize = 2;

/// Waste allowed on top of the factor, so small jobs reuse each other's
/// buffers: 1 MiB, a few hundred pages.
const SLACK: usize = 1 << 20;

/// A kept buffer that this many takes in a row could not use is freed:
/// memory a program stopped asking for goes back to the system.
const IDLE_TAKES: u32 = 16;

/// A miss count that frees its buffer at the end of this take.
const FREE_NOW: u32 = u32::MAX - 1;

/// Buffers handed back by dropped packet buffers, for reuse.
///
/// The rule: a pool keeps at most `bound` buffers; a take gets the smallest
/// kept buffer that fits and is at most about twice the size asked for
/// ([`MAX_WASTE_FACTOR`] plus [`SLACK`]), else a fresh one; a kept buffer
/// that [`IDLE_TAKES`] takes in a row could not use is freed.
#[derive(Debug)]
pub(crate) struct BufferPool {
    kept: Mutex<Kept>,
}

#[derive(Debug)]
struct Kept {
    /// Each buffer with the number of takes in a row that could not use it.
    buffers: Vec<(Vec<u8>, u32)>,
    bound: usize,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool::with_bound(DEFAULT_KEPT)
    }
}

impl BufferPool {
    /// A pool that keeps at most `bound` buffers.
    pub fn with_bound(bound: usize) -> Self {
        BufferPool {
            kept: Mutex::new(Kept {
                buffers: Vec::new(),
                bound,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A buffer of exactly `len` bytes: a recycled one if a kept one fits
    /// without much waste, else a fresh zeroed one. Its bytes are
    /// unspecified: the job overwrites them.
    ///
    /// Returns `None` if the memory cannot be allocated.
    pub fn take(&self, len: usize) -> Option<Vec<u8>> {
        let most = len.saturating_mul(MAX_WASTE_FACTOR).saturating_add(SLACK);
        let fits = |buffer: &Vec<u8>| (len..=most).contains(&buffer.capacity());
        let (recycled, freed) = {
            let mut kept = self.lock();
            let best = kept
                .buffers
                .iter()
                .enumerate()
                .filter(|(_, (buffer, _))| fits(buffer))
                .min_by_key(|(_, (buffer, _))| buffer.capacity())
                .map(|(index, _)| index);
            let recycled = best.map(|index| kept.buffers.swap_remove(index).0);
            if recycled.is_none() {
                // None fits: free the largest that is too small rather than
                // keep it, so the pool follows a growing job.
                let largest_short = kept
                    .buffers
                    .iter()
                    .enumerate()
                    .filter(|(_, (buffer, _))| buffer.capacity() < len)
                    .max_by_key(|(_, (buffer, _))| buffer.capacity())
                    .map(|(index, _)| index);
                if let Some(index) = largest_short {
                    kept.buffers[index].1 = FREE_NOW;
                }
            }
            for (buffer, misses) in &mut kept.buffers {
                *misses = if fits(buffer) {
                    0
                } else {
                    misses.saturating_add(1)
                };
            }
            // Freed outside the lock: unmapping a large block takes time.
            let (idle, busy): (Vec<_>, Vec<_>) = std::mem::take(&mut kept.buffers)
                .into_iter()
                .partition(|&(_, misses)| misses > IDLE_TAKES);
            kept.buffers = busy;
            (recycled, idle)
        };
        drop(freed);
        match recycled {
            Some(mut buffer) => {
                resize(&mut buffer, len)?;
                Some(buffer)
            }
            None => u8::new_vec_zeroed(len).ok(),
        }
    }

    /// Keeps a buffer for a later take, if there is room.
    pub fn give(&self, buffer: Vec<u8>) {
        if buffer.capacity() == 0 {
            return;
        }
        let mut kept = self.lock();
        if kept.buffers.len() < kept.bound {
            kept.buffers.push((buffer, 0));
        }
    }

    /// Keeps at most `bound` buffers from now on, freeing any beyond it.
    pub fn set_bound(&self, bound: usize) {
        let extra = {
            let mut kept = self.lock();
            kept.bound = bound;
            let keep = kept.buffers.len().min(bound);
            kept.buffers.split_off(keep)
        };
        drop(extra);
    }

    #[cfg(test)]
    fn kept(&self) -> Vec<usize> {
        self.lock()
            .buffers
            .iter()
            .map(|(buffer, _)| buffer.capacity())
            .collect()
    }
}

/// Sets a buffer's length to `len` for a job to overwrite: within capacity
/// it allocates nothing and writes only bytes past the old length. Returns
/// `None` if the memory cannot be allocated.
pub(crate) fn resize(buffer: &mut Vec<u8>, len: usize) -> Option<()> {
    if let Some(more) = len.checked_sub(buffer.len()) {
        buffer.try_reserve_exact(more).ok()?;
    }
    buffer.resize(len, 0);
    Some(())
}

/// Whole packets of task `T` in one owned little-endian buffer, with the
/// views over them, going back to its pool when dropped.
pub(crate) struct PacketBuffer<T: Task> {
    bytes: Vec<u8>,
    /// Where the buffer goes when dropped.
    recycle: Weak<BufferPool>,
    // `fn() -> T`: buffers are Send + Sync whatever the task struct is.
    task: PhantomData<fn() -> T>,
}

impl<T: Task> PacketBuffer<T> {
    /// Wraps bytes that hold (or will be filled with) whole packets.
    pub fn new(bytes: Vec<u8>, recycle: Weak<BufferPool>) -> Self {
        debug_assert_eq!(bytes.len() % T::PACKET_SIZE, 0);
        PacketBuffer {
            bytes,
            recycle,
            task: PhantomData,
        }
    }

    /// The bytes, for a job to refill (keeping whole packets).
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The packets, mutable in place, for a job to fill.
    pub fn slots_mut(&mut self) -> &mut [T::Packet] {
        // Packets are unaligned and the length is a whole number of packets.
        <[T::Packet]>::mut_from_bytes(&mut self.bytes).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        // `#[task]` refuses packets of 0 bytes at compile time.
        self.bytes.len() / T::PACKET_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<T::Output> {
        self.packets().get(index).map(T::decode)
    }

    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            packets: self.packets().iter(),
        }
    }

    pub fn packets(&self) -> &[T::Packet] {
        // Packets are unaligned and the length is a whole number of packets
        // (checked when the buffer was made), so the view always succeeds.
        <[T::Packet]>::ref_from_bytes(&self.bytes).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Gives up the bytes without copying them; they are not recycled.
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

impl<T: Task> Clone for PacketBuffer<T> {
    fn clone(&self) -> Self {
        Self::new(self.bytes.clone(), self.recycle.clone())
    }
}

impl<T: Task> PartialEq for PacketBuffer<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl<T: Task> Drop for PacketBuffer<T> {
    fn drop(&mut self) {
        if let Some(pool) = self.recycle.upgrade() {
            pool.give(std::mem::take(&mut self.bytes));
        }
    }
}

impl<T: Task> fmt::Debug for PacketBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketBuffer")
            .field("task", &T::NAME)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The views of a type that wraps a [`PacketBuffer`] in its field `packets`
/// ([`Results`](crate::Results), [`Batch`](crate::Batch)): written once here,
/// with each wrapper's own words for what its length and indices mean.
macro_rules! packet_views {
    (
        $wrapper:ident,
        len: $len:literal,
        is_empty: $is_empty:literal,
        get: $get:literal,
        as_bytes: $as_bytes:literal $(,)?
    ) => {
        impl<T: $crate::task::Task> $wrapper<T> {
            #[doc = $len]
            pub fn len(&self) -> usize {
                self.packets.len()
            }

            #[doc = $is_empty]
            pub fn is_empty(&self) -> bool {
                self.packets.is_empty()
            }

            #[doc = $get]
            pub fn get(&self, index: usize) -> Option<T::Output> {
                self.packets.get(index)
            }

            /// The outputs in task-id order.
            pub fn iter(&self) -> $crate::buffer::Iter<'_, T> {
                self.packets.iter()
            }

            /// The packets, viewed in place: no copy, no decoding.
            pub fn packets(&self) -> &[T::Packet] {
                self.packets.packets()
            }

            #[doc = $as_bytes]
            pub fn as_bytes(&self) -> &[u8] {
                self.packets.as_bytes()
            }
        }

        impl<'a, T: $crate::task::Task> IntoIterator for &'a $wrapper<T> {
            type Item = T::Output;
            type IntoIter = $crate::buffer::Iter<'a, T>;

            fn into_iter(self) -> Self::IntoIter {
                self.iter()
            }
        }
    };
}
pub(crate) use packet_views;

/// Iterator over the outputs of [`Results`](crate::Results) (or of a
/// stream's [`Batch`](crate::Batch)), in task-id order.
pub struct Iter<'a, T: Task> {
    packets: std::slice::Iter<'a, T::Packet>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_smallest_buffer_that_fits() {
        let pool = BufferPool::default();
        pool.give(vec![1; 100]);
        pool.give(vec![2; 10]);
        pool.give(vec![3; 50]);
        let buffer = pool.take(40).unwrap();
        assert_eq!((buffer.len(), buffer.capacity(), buffer[0]), (40, 50, 3));
        assert_eq!(pool.kept(), vec![100, 10]);
    }

    #[test]
    fn frees_the_largest_buffer_when_none_fits() {
        let pool = BufferPool::default();
        pool.give(vec![7; 10]);
        pool.give(vec![8; 20]);
        let buffer = pool.take(30).unwrap();
        assert_eq!(buffer, vec![0; 30]);
        assert_eq!(pool.kept(), vec![10]);
    }

    #[test]
    fn never_hands_out_a_buffer_much_larger_than_asked() {
        let pool = BufferPool::default();
        let big = 8 * SLACK;
        pool.give(vec![5; big]);
        let small = pool.take(1000).unwrap();
        assert_eq!(small.len(), 1000);
        assert!(small.capacity() < big, "{}", small.capacity());
        // The big one stays for a job of its size.
        assert_eq!(pool.kept(), vec![big]);
        assert_eq!(pool.take(big / 2 + 1).unwrap().capacity(), big);
    }

    #[test]
    fn frees_buffers_that_stay_idle() {
        let pool = BufferPool::default();
        pool.give(vec![1; 4 * SLACK]);
        for _ in 0..IDLE_TAKES {
            drop(pool.take(10));
        }
        assert_eq!(pool.kept(), vec![4 * SLACK]);
        drop(pool.take(10));
        assert!(pool.kept().is_empty());
    }

    #[test]
    fn keeps_a_few_buffers_at_most() {
        let pool = BufferPool::default();
        for _ in 0..10 {
            pool.give(vec![0; 8]);
        }
        pool.give(Vec::new());
        assert_eq!(pool.kept().len(), DEFAULT_KEPT);
        pool.set_bound(1);
        assert_eq!(pool.kept().len(), 1);
        assert!(
            pool.take(usize::MAX / 2).is_none(),
            "an impossible size is refused"
        );
    }
}
