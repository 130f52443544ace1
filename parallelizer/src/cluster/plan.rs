//! Chunk planning: how rank 0 cuts a cluster dispatch into chunks of whole
//! batches and hands them out in order, by guided self-scheduling.
//!
//! Pure arithmetic on batch indices and task ids, with no MPI in it, so it is
//! tested here on its own; the leader owns the one `Plan` of a dispatch, and
//! every rank uses its own copy to turn a chunk's batches into task ids.

use std::ops::Range;

use crate::task::Task;

/// The largest chunk, in bytes of packets, unless one batch is larger: what
/// a rank holds before it sends a chunk back.
const MAX_CHUNK_BYTES: usize = 64 << 20;

/// How a job is cut into chunks of whole batches, handed out in order.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    threads: usize,
    /// Task ids per batch.
    pub(super) batch: usize,
    /// Batches in the job.
    pub(super) batches: usize,
    /// The first batch not yet handed out.
    next: usize,
    /// The batch after the last one to hand out: the job's end, or a
    /// window's (see [`window`](Self::window)).
    end: usize,
    ranks: usize,
    min_chunk: usize,
    max_chunk: usize,
}

impl Plan {
    pub(super) fn new(
        threads: usize,
        batch: usize,
        packet_size: usize,
        ranks: usize,
        lanes: usize,
    ) -> Plan {
        let batch_bytes = batch.min(threads).max(1).saturating_mul(packet_size);
        let max_chunk = (MAX_CHUNK_BYTES / batch_bytes.max(1)).max(1);
        Plan {
            threads,
            batch,
            batches: threads.div_ceil(batch),
            next: 0,
            end: threads.div_ceil(batch),
            ranks: ranks.max(1),
            // Enough batches to keep a rank's pool busy.
            min_chunk: lanes.clamp(1, max_chunk),
            max_chunk,
        }
    }

    /// The next chunk: a share of what is left that shrinks as the job nears
    /// its end (guided self-scheduling), so a rank that asks sooner takes
    /// more and the last chunks are small.
    pub(super) fn take(&mut self) -> Option<Range<usize>> {
        let left = self.end - self.next;
        if left == 0 {
            return None;
        }
        let size = left
            .div_ceil(2 * self.ranks)
            .clamp(self.min_chunk, self.max_chunk)
            .min(left);
        let start = self.next;
        self.next += size;
        Some(start..self.next)
    }

    pub(super) fn is_exhausted(&self) -> bool {
        self.next == self.end
    }

    /// The plan that hands out `batches` of this job (a window of it), and
    /// no other, in chunks that shrink towards the window's end.
    pub(super) fn window(&self, batches: &Range<usize>) -> Plan {
        let end = batches.end.min(self.batches);
        Plan {
            next: batches.start.min(end),
            end,
            ..self.clone()
        }
    }

    /// The task ids of `batches`.
    pub(super) fn ids(&self, batches: &Range<usize>) -> Range<usize> {
        let start = batches.start.saturating_mul(self.batch).min(self.threads);
        let end = batches.end.saturating_mul(self.batch).min(self.threads);
        start..end
    }

    /// Where the packets of task ids `ids` lie in the results buffer.
    pub(super) fn byte_range<T: Task>(&self, ids: &Range<usize>) -> Range<usize> {
        ids.start * T::PACKET_SIZE..ids.end * T::PACKET_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_job_once_and_shrink() {
        for (threads, batch, ranks, lanes) in [(10_007, 64, 3, 2), (1000, 7, 1, 4), (5, 10, 4, 2)] {
            let mut plan = Plan::new(threads, batch, 17, ranks, lanes);
            let mut next = 0;
            let mut sizes = Vec::new();
            while let Some(batches) = plan.take() {
                assert_eq!(batches.start, next);
                assert!(!batches.is_empty());
                sizes.push(batches.len());
                next = batches.end;
            }
            assert_eq!(next, threads.div_ceil(batch));
            assert!(plan.is_exhausted());
            assert!(sizes.windows(2).all(|pair| pair[0] >= pair[1]), "{sizes:?}");
            let last = plan.ids(&(next - 1..next));
            assert_eq!(last.end, threads);
        }
    }

    #[test]
    fn a_window_hands_out_its_batches_only() {
        let plan = Plan::new(10_007, 64, 17, 3, 2);
        let mut window = plan.window(&(40..90));
        let mut next = 40;
        while let Some(batches) = window.take() {
            assert_eq!(batches.start, next);
            next = batches.end;
        }
        assert_eq!(next, 90);
        assert!(window.is_exhausted());
        // The job's bounds stay the job's.
        assert_eq!(window.batches, plan.batches);
        let mut last = plan.window(&(150..1000));
        assert_eq!(last.take().map(|batches| batches.start), Some(150));
        assert!(plan.window(&(157..157)).is_exhausted());
    }

    #[test]
    fn a_chunk_holds_at_most_64_mib_unless_a_batch_is_larger() {
        let plan = Plan::new(1 << 40, 1000, 205, 3, 2);
        assert_eq!(plan.max_chunk, (64 << 20) / (1000 * 205));
        let huge = Plan::new(1 << 40, 1 << 20, 205, 3, 2);
        assert_eq!(huge.max_chunk, 1);
        assert_eq!(huge.min_chunk, 1);
    }
}
