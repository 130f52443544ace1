//! Heap use of a 100,000,000-task stream, counted by a counting global
//! allocator.
//!
//! Issue target: a job of 100,000,000 tasks runs through a stream, every
//! batch checked, with a peak heap that does not grow with the job: at most
//! the window's batches plus the one the consumer holds, however many
//! batches the job has. This file holds a single test so that no other test
//! allocates while it counts.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use parallelizer::prelude::*;

mod counting;

#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

#[task(packet = (u32,))]
pub struct Tick;

#[worker(Tick)]
fn tick(task_id: usize) -> (u32,) {
    (task_id as u32,)
}

const BATCH: usize = 65_536;
const WINDOW: usize = 4;
/// One batch's packets: 256 KiB.
const BATCH_BYTES: usize = BATCH * 4;
/// The window's batches, the one the consumer holds, and 64 KiB for the
/// stream's own bookkeeping and the pool's job boxes.
const BOUND: usize = (WINDOW + 1) * BATCH_BYTES + (64 << 10);

/// What one stream allocated.
struct Heap {
    allocations: usize,
    /// Allocations of a batch buffer's size or more.
    buffers: usize,
    /// The peak heap above the start, in bytes.
    peak: usize,
    /// The heap above the start once the stream has ended, in bytes.
    left: usize,
}

/// Streams `threads` task ids, checking every packet of every batch.
fn stream(coordinator: &Coordinator, threads: usize) -> Heap {
    let mark = counting::Mark::now();
    let mut next_id = 0;
    for batch in coordinator.stream(Tick, threads, BATCH).window(WINDOW) {
        let batch = batch.unwrap();
        assert_eq!(batch.first_id(), next_id);
        assert_eq!(batch.len(), BATCH.min(threads - next_id));
        // Read as little-endian u32s straight from the bytes: the cheapest
        // full check in a debug build.
        let mut expected = next_id as u32;
        for packet in batch.as_bytes().chunks_exact(4) {
            assert_eq!(
                u32::from_le_bytes([packet[0], packet[1], packet[2], packet[3]]),
                expected
            );
            expected = expected.wrapping_add(1);
        }
        next_id += batch.len();
    }
    assert_eq!(next_id, threads);
    Heap {
        allocations: mark.allocations(),
        buffers: mark.large(),
        peak: mark.peak(),
        left: mark.left(),
    }
}

#[test]
fn a_hundred_million_task_stream_runs_in_a_fixed_heap() {
    counting::LARGE_FROM.store(BATCH_BYTES, Relaxed);
    let coordinator = Coordinator::builder()
        .actors(64)
        .threads(2)
        .build()
        .unwrap();
    // Warm up, so the pool's threads and their thread-locals exist.
    coordinator.stream(Tick, 1000, 10).for_each(drop);

    for threads in [1_000_000, 100_000_000] {
        let started = Instant::now();
        let Heap {
            allocations,
            buffers,
            peak,
            left,
        } = stream(&coordinator, threads);
        let batches = threads.div_ceil(BATCH);
        eprintln!(
            "{threads} tasks in {batches} batches: {:?}, {allocations} allocations \
             ({buffers} of batch buffers), peak {peak} bytes (bound {BOUND}; \
             the whole job is {} bytes)",
            started.elapsed(),
            threads * 4,
        );
        assert!(peak <= BOUND, "peak {peak} bytes > {BOUND}");
        // Buffers are recycled: the window's and the consumer's, allocated
        // once, however many batches pass through them.
        assert!(buffers <= WINDOW + 1, "{buffers} batch buffers allocated");
        // And freed when the stream ends.
        assert!(left < BATCH_BYTES, "{left} bytes left after the stream");
    }
}
