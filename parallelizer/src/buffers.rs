//! A small pool of result buffers that a coordinator recycles.
//!
//! A fresh result buffer of tens of MiB costs a page fault per 4 KiB page on
//! every dispatch (allocators map large blocks fresh and unmap them on free).
//! A loop that dispatches, reads and drops its results pays that every time;
//! handing dropped buffers back to the coordinator lets the next dispatch
//! write into pages that are already mapped.

use std::sync::{Mutex, PoisonError};

use zerocopy::FromZeros;

/// How many dropped buffers a coordinator keeps for reuse.
const KEPT: usize = 4;

/// Buffers handed back by dropped [`Results`](crate::Results).
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A buffer of exactly `len` bytes: a recycled one if one is free, else a
    /// fresh zeroed one. Its bytes are unspecified: the job overwrites them.
    ///
    /// Returns `None` if the memory cannot be allocated.
    pub fn take(&self, len: usize) -> Option<Vec<u8>> {
        let recycled = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let smallest_fit = free
                .iter()
                .enumerate()
                .filter(|(_, buffer)| buffer.capacity() >= len)
                .min_by_key(|(_, buffer)| buffer.capacity())
                .map(|(index, _)| index);
            match smallest_fit {
                Some(index) => Some(free.swap_remove(index)),
                None => {
                    // None fits: free the largest rather than copy it into a
                    // bigger block, so the pool follows a growing job.
                    let largest = free
                        .iter()
                        .enumerate()
                        .max_by_key(|(_, buffer)| buffer.capacity())
                        .map(|(index, _)| index);
                    drop(largest.map(|index| free.swap_remove(index)));
                    None
                }
            }
        };
        match recycled {
            Some(mut buffer) => {
                resize(&mut buffer, len)?;
                Some(buffer)
            }
            None => u8::new_vec_zeroed(len).ok(),
        }
    }

    /// Keeps a buffer for a later dispatch, if there is room.
    pub fn give(&self, buffer: Vec<u8>) {
        if buffer.capacity() == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEPT {
            free.push(buffer);
        }
    }

    #[cfg(test)]
    fn kept(&self) -> Vec<usize> {
        let free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        free.iter().map(Vec::capacity).collect()
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
    fn keeps_a_few_buffers_at_most() {
        let pool = BufferPool::default();
        for _ in 0..10 {
            pool.give(vec![0; 8]);
        }
        pool.give(Vec::new());
        assert_eq!(pool.kept().len(), KEPT);
        assert!(
            pool.take(usize::MAX / 2).is_none(),
            "an impossible size is refused"
        );
    }
}
