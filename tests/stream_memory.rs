//! Heap use of a 100,000,000-task stream, counted by a counting global
//! allocator.
//!
//! Issue target: a job of 100,000,000 tasks runs through a stream, every
//! batch checked, with a peak heap that does not grow with the job: at most
//! the window's batches plus the one the consumer holds, however many
//! batches the job has. This file holds a single test so that no other test
//! allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use parallelizer::prelude::*;

/// Counts allocations, and those of a whole batch buffer or more, and
/// tracks the current and peak bytes in use.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LARGE: AtomicUsize = AtomicUsize::new(0);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    if bytes >= BATCH_BYTES {
        LARGE.fetch_add(1, Relaxed);
    }
    let now = IN_USE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's own arguments;
// the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        IN_USE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

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
    let allocations = ALLOCATIONS.load(Relaxed);
    let large = LARGE.load(Relaxed);
    let in_use = IN_USE.load(Relaxed);
    PEAK.store(in_use, Relaxed);
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
        allocations: ALLOCATIONS.load(Relaxed) - allocations,
        buffers: LARGE.load(Relaxed) - large,
        peak: PEAK.load(Relaxed).saturating_sub(in_use),
        left: IN_USE.load(Relaxed).saturating_sub(in_use),
    }
}

#[test]
fn a_hundred_million_task_stream_runs_in_a_fixed_heap() {
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
