//! Heap use of a large dispatch, counted by a counting global allocator.
//!
//! Issue target: one 5,000,000-task dispatch makes at most 2 heap
//! allocations per batch in total, and its peak heap beyond the packets
//! themselves stays under 5% of the packets' size. This file holds a single
//! test so that no other test allocates while it counts.

use parallelizer::prelude::*;

mod counting;

#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

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
    let mark = counting::Mark::now();
    let results = coordinator.dispatch(Mix, threads, batch).unwrap();
    let counted = mark.allocations();
    let packets = threads * Mix::PACKET_SIZE;
    let beyond = mark.peak().saturating_sub(packets);
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
