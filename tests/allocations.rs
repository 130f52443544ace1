//! Heap use of a large dispatch, counted by a counting global allocator.
//!
//! Issue target: one 5,000,000-task dispatch makes at most 2 heap
//! allocations per batch in total, and its peak heap beyond the packets
//! themselves stays under 5% of the packets' size. This file holds a single
//! test so that no other test allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parallelizer::prelude::*;

/// Counts allocations and tracks the current and peak bytes in use.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = IN_USE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's own arguments;
// the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        grew(new_size);
        IN_USE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[task(packet = (u16, FixedStr<11>))]
pub struct Mix;

#[worker(Mix)]
fn mix(task_id: usize) -> (u16, FixedStr<11>) {
    let word = ["Hello World", "Fixed slots"][task_id % 2];
    (
        (task_id as u16).wrapping_mul(31),
        FixedStr::new(word).unwrap(),
    )
}

/// Allocation count and peak bytes beyond the packets, for one dispatch.
fn measure(coordinator: &Coordinator, threads: usize, batch: usize) -> (usize, usize) {
    let allocations = ALLOCATIONS.load(Relaxed);
    let in_use = IN_USE.load(Relaxed);
    PEAK.store(in_use, Relaxed);
    let results = coordinator.dispatch(Mix, threads, batch).unwrap();
    let counted = ALLOCATIONS.load(Relaxed) - allocations;
    let packets = threads * Mix::PACKET_SIZE;
    let beyond = PEAK.load(Relaxed).saturating_sub(in_use + packets);
    assert_eq!(results.len(), threads);
    assert_eq!(
        results.get(threads - 1).unwrap().0,
        ((threads - 1) as u16).wrapping_mul(31)
    );
    (counted, beyond)
}

#[test]
fn a_five_million_task_dispatch_allocates_little_beyond_its_packets() {
    const THREADS: usize = 5_000_000;
    let packets = THREADS * Mix::PACKET_SIZE;
    for batch in [4096, 256, 64] {
        // A fresh coordinator, warmed up on a tiny job so that its threads
        // and their thread-locals exist; its pool of buffers is near empty.
        let coordinator = Coordinator::new(256);
        coordinator.dispatch(Mix, 100, 10).unwrap();

        let batches = THREADS.div_ceil(batch);
        let (allocations, beyond) = measure(&coordinator, THREADS, batch);
        eprintln!(
            "batch {batch}: {allocations} allocations for {batches} batches, \
             peak {beyond} bytes beyond {packets} bytes of packets"
        );
        assert!(
            allocations <= 2 * batches,
            "{allocations} allocations for {batches} batches"
        );
        assert!(
            beyond * 20 < packets,
            "peak {beyond} bytes beyond {packets} bytes of packets"
        );

        // Dispatching again reuses the dropped buffer: nothing that grows
        // with the job is allocated.
        let (allocations, _) = measure(&coordinator, THREADS, batch);
        eprintln!("batch {batch}, buffer reused: {allocations} allocations");
        assert!(allocations <= 2 * batches);
    }
}
