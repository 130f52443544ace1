//! Streaming a job batch by batch: order, contents, the window that bounds
//! memory, errors, and ending early.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parallelizer::prelude::*;
use parallelizer::{Batch, Stream};

mod common;
use common::{Affine, Gate, Identity, Scale};

fn coordinator() -> Coordinator {
    Coordinator::builder().actors(8).threads(2).build().unwrap()
}

/// Takes the next item on another thread, so a hang fails the test instead
/// of stalling it.
fn next_within<T: Worker>(
    mut stream: Stream<T>,
    limit: Duration,
) -> (Option<Result<Batch<T>, Error>>, Stream<T>) {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let item = stream.next();
        sender.send((item, stream)).unwrap();
    });
    receiver.recv_timeout(limit).expect("the stream hung")
}

#[test]
fn batches_come_in_task_id_order_with_every_packet_in_place() -> Result<(), Error> {
    let coordinator = coordinator();
    for (threads, batch) in [
        (1003, 10),
        (1000, 10),
        (5, 100),
        (1, 1),
        (4096, 64),
        (777, 1),
    ] {
        let stream = coordinator.stream(Identity, threads, batch);
        let batches = threads.div_ceil(batch);
        assert_eq!(stream.size_hint(), (1, Some(batches)));
        let mut concatenated = Vec::new();
        let mut next_id = 0;
        let mut count = 0;
        for item in stream {
            let batch_of = item?;
            let expected_len = batch.min(threads - next_id);
            assert_eq!(batch_of.first_id(), next_id);
            assert_eq!(batch_of.len(), expected_len);
            assert!(!batch_of.is_empty());
            assert_eq!(batch_of.task_ids(), next_id..next_id + expected_len);
            assert_eq!(batch_of.iter().len(), expected_len);
            for (index, (id,)) in batch_of.iter().enumerate() {
                assert_eq!(
                    id,
                    (next_id + index) as u64,
                    "batch at {next_id}, slot {index}"
                );
            }
            for (index, packet) in batch_of.packets().iter().enumerate() {
                assert_eq!(packet.0.get(), (next_id + index) as u64);
            }
            assert_eq!(batch_of.get(0), Some((next_id as u64,)));
            assert_eq!(batch_of.get(expected_len), None);
            assert_eq!(
                batch_of.packets().as_ptr().cast::<u8>(),
                batch_of.as_bytes().as_ptr(),
                "packets are a view of the same bytes"
            );
            concatenated.extend_from_slice(batch_of.as_bytes());
            next_id += expected_len;
            count += 1;
        }
        assert_eq!((next_id, count), (threads, batches));
        let results = coordinator.dispatch(Identity, threads, batch)?;
        assert_eq!(
            concatenated,
            results.as_bytes(),
            "{threads} in batches of {batch}"
        );
    }
    Ok(())
}

#[test]
fn an_empty_job_streams_no_batches() {
    let coordinator = coordinator();
    let mut stream = coordinator.stream(Identity, 0, 8);
    assert_eq!(stream.size_hint(), (0, Some(0)));
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());
}

#[test]
fn a_stream_keeps_the_memory_of_its_call_and_passes_its_args() -> Result<(), Error> {
    let coordinator = coordinator();
    coordinator.define(Affine, Scale { factor: 2.0 });
    let stream = coordinator.stream_with(Affine, 100, 7, 0.5);
    // Replaced before the stream runs anything: the stream still sees 2.0.
    coordinator.set_memory(Affine, Scale { factor: 3.0 });
    let outputs: Vec<(f64,)> = stream
        .map(|batch| batch.map(|batch| batch.iter().collect::<Vec<_>>()))
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    let expected: Vec<(f64,)> = (0..100).map(|i| (i as f64 * 2.0 + 0.5,)).collect();
    assert_eq!(outputs, expected);
    let later = coordinator
        .stream_with(Affine, 10, 4, 1.0)
        .next()
        .unwrap()?;
    assert_eq!(later.get(3), Some((10.0,)));
    Ok(())
}

/// Counts the worker calls that have started.
pub struct Counter {
    started: Arc<AtomicUsize>,
}

#[task(packet = (u32,), memory = Counter)]
pub struct Counted;

#[worker(Counted)]
fn counted(task_id: usize, counter: &Counter) -> (u32,) {
    counter.started.fetch_add(1, Ordering::SeqCst);
    (task_id as u32,)
}

/// `coordinator` with `task` counting its worker calls in the counter it
/// returns.
fn counting<T: Task<Memory = Counter>>(
    coordinator: Coordinator,
    task: T,
) -> (Coordinator, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    coordinator.define(
        task,
        Counter {
            started: Arc::clone(&started),
        },
    );
    (coordinator, started)
}

fn counted_coordinator() -> (Coordinator, Arc<AtomicUsize>) {
    counting(coordinator(), Counted)
}

/// Consumes `stream` slowly; returns the most task ids ever started ahead of
/// the ones consumed, checking each batch on the way.
fn most_ahead(stream: Stream<Counted>, started: &AtomicUsize, pause: Duration) -> usize {
    let mut consumed = 0;
    let mut most = 0;
    for batch in stream {
        let batch = batch.unwrap();
        assert_eq!(batch.first_id(), consumed);
        assert!(batch
            .iter()
            .enumerate()
            .all(|(i, (id,))| id as usize == consumed + i));
        consumed += batch.len();
        // Only the consumer moves the window: while it holds this batch, the
        // workers can fill the window and no more. Measured after the pause,
        // when they have had the time to.
        thread::sleep(pause);
        most = most.max(started.load(Ordering::SeqCst) - consumed);
    }
    most
}

#[test]
fn a_slow_consumer_keeps_at_most_a_window_of_batches_ahead() {
    let (coordinator, started) = counted_coordinator();
    let (window, batch) = (3, 10);
    let stream = coordinator.stream(Counted, 1000, batch).window(window);
    // Nothing runs before the first batch is asked for.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(started.load(Ordering::SeqCst), 0);

    let most = most_ahead(stream, &started, Duration::from_millis(2));
    // At most `window` batches are claimed beyond the ones received, and
    // with a consumer this slow the workers fill the window.
    assert_eq!(most, window * batch);
    assert_eq!(started.load(Ordering::SeqCst), 1000);
}

#[test]
fn the_default_window_is_four_batches_per_lane() {
    // 8 actors on 2 threads: 2 lanes, a window of 8 batches.
    let (coordinator, started) = counted_coordinator();
    let stream = coordinator.stream(Counted, 600, 5);
    let most = most_ahead(stream, &started, Duration::from_millis(2));
    assert_eq!(most, 8 * 5);
}

#[test]
fn a_window_of_zero_counts_as_one() {
    let (coordinator, started) = counted_coordinator();
    let stream = coordinator.stream(Counted, 200, 10).window(0);
    let most = most_ahead(stream, &started, Duration::from_millis(2));
    assert_eq!(most, 10);
}

#[test]
fn a_stalled_stream_leaves_the_pool_free() {
    let coordinator = Arc::new(coordinator());
    let mut stream = coordinator.stream(Identity, 1_000_000, 100).window(4);
    assert_eq!(stream.next().unwrap().unwrap().first_id(), 0);
    // The consumer stops here with a full window; no pool thread waits for
    // it, so a dispatch on the same pool runs.
    thread::sleep(Duration::from_millis(20));
    let (sender, receiver) = mpsc::channel();
    let shared = Arc::clone(&coordinator);
    thread::spawn(move || sender.send(shared.dispatch(Identity, 10_000, 10)));
    let results = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("the dispatch hung behind a stalled stream")
        .unwrap();
    assert_eq!(results.get(9_999), Some((9_999,)));
    assert_eq!(stream.next().unwrap().unwrap().first_id(), 100);
}

#[test]
fn a_bad_request_is_the_first_and_only_item() {
    let coordinator = coordinator();
    let mut stream = coordinator.stream(Identity, 10, 0);
    assert_eq!(stream.size_hint(), (1, Some(1)));
    assert_eq!(
        stream.next().unwrap().unwrap_err(),
        Error::ZeroBatchSize { task: "Identity" }
    );
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());

    // As for a dispatch, a zero batch size is an error even with no task ids.
    let mut stream = coordinator.stream(Identity, 0, 0);
    assert!(matches!(
        stream.next(),
        Some(Err(Error::ZeroBatchSize { .. }))
    ));

    let mut stream = coordinator.stream(Counted, 10, 2);
    let error = stream.next().unwrap().unwrap_err();
    assert_eq!(error, Error::MemoryNotDefined { task: "Counted" });
    assert!(
        error.to_string().contains("coordinator.define(Counted"),
        "{error}"
    );
    assert!(stream.next().is_none());

    // A batch too large for the address space is refused up front.
    let mut stream = coordinator.stream(Identity, usize::MAX, usize::MAX / 4);
    assert!(matches!(
        stream.next(),
        Some(Err(Error::ResultsTooLarge {
            task: "Identity",
            ..
        }))
    ));
    assert!(stream.next().is_none());
}

#[test]
fn a_batch_that_cannot_be_allocated_fails_in_its_place() {
    let coordinator = coordinator();
    // Half the address space per batch: within `isize::MAX`, so accepted up
    // front, but no allocator can give it.
    let huge = isize::MAX as usize / 2 / Identity::PACKET_SIZE;
    let mut stream = coordinator.stream(Identity, huge, huge);
    let error = stream.next().unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            Error::AllocationFailed {
                task: "Identity",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(stream.next().is_none());
    assert_eq!(
        coordinator
            .stream(Identity, 10, 4)
            .nth(2)
            .unwrap()
            .unwrap()
            .len(),
        2
    );
}

#[task(packet = (u32,))]
pub struct Fragile;

#[worker(Fragile)]
fn fragile(task_id: usize) -> (u32,) {
    if task_id == 37 {
        // Let the later failure below happen first: the stream still
        // reports this one, in order.
        thread::sleep(Duration::from_millis(100));
        panic!("task {task_id} went boom");
    }
    if task_id == 52 {
        panic!("task {task_id} went boom too");
    }
    (task_id as u32,)
}

#[test]
fn a_panicking_worker_ends_the_stream_at_its_batch() -> Result<(), Error> {
    let coordinator = coordinator();
    let mut stream = coordinator.stream(Fragile, 10_000, 5).window(16);
    // Batches 0..7 hold ids 0..35; batch 7 (ids 35..40) holds the panic.
    for k in 0..7 {
        let batch = stream.next().unwrap()?;
        assert_eq!((batch.first_id(), batch.len()), (k * 5, 5));
    }
    match stream.next().unwrap().unwrap_err() {
        Error::WorkerPanicked {
            task,
            task_id,
            message,
        } => {
            assert_eq!((task, task_id), ("Fragile", 37));
            assert_eq!(message, "task 37 went boom");
        }
        other => panic!("expected a worker panic, got {other:?}"),
    }
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());
    assert_eq!(stream.size_hint(), (0, Some(0)));

    // The coordinator goes on working.
    let results = coordinator.dispatch(Fragile, 37, 5)?;
    assert_eq!(results.get(36), Some((36,)));
    Ok(())
}

#[task(packet = (u32,), memory = Counter)]
pub struct Slow;

#[worker(Slow)]
fn slow(task_id: usize, counter: &Counter) -> (u32,) {
    counter.started.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_micros(100));
    (task_id as u32,)
}

fn slow_coordinator() -> (Coordinator, Arc<AtomicUsize>) {
    let coordinator = Coordinator::builder().actors(4).threads(2).build().unwrap();
    counting(coordinator, Slow)
}

/// Waits until `started` stops moving, and returns it.
fn settled(started: &AtomicUsize) -> usize {
    let mut last = started.load(Ordering::SeqCst);
    loop {
        thread::sleep(Duration::from_millis(50));
        let now = started.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn dropping_a_stream_early_starts_no_further_batch() {
    let (coordinator, started) = slow_coordinator();
    // About 14 hours of work on 2 threads: only the drop can end it.
    let mut stream = coordinator.stream(Slow, 1_000_000_000, 10).window(6);
    for k in 0..3 {
        assert_eq!(stream.next().unwrap().unwrap().first_id(), k * 10);
    }
    let dropped_at = Instant::now();
    drop(stream);
    assert!(
        dropped_at.elapsed() < Duration::from_millis(100),
        "dropping the stream waited {:?}",
        dropped_at.elapsed()
    );
    // Batches claimed before the drop finish; nothing else starts.
    let stopped_at = settled(&started);
    assert!(stopped_at <= (3 + 6) * 10, "{stopped_at} tasks started");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(started.load(Ordering::SeqCst), stopped_at);
    // The coordinator goes on working.
    let mut stream = coordinator.stream(Slow, 20, 5);
    assert_eq!(stream.nth(3).unwrap().unwrap().get(4), Some((19,)));
}

#[test]
fn destroying_the_coordinator_ends_its_streams() {
    let (coordinator, started) = slow_coordinator();
    let mut running = coordinator.stream(Slow, 1_000_000_000, 10);
    assert_eq!(running.next().unwrap().unwrap().len(), 10);
    let unstarted = coordinator.stream(Slow, 1_000_000_000, 10);
    coordinator.destroy();

    let (item, mut running) = next_within(running, Duration::from_secs(10));
    let error = item.unwrap().unwrap_err();
    assert_eq!(error, Error::CoordinatorDestroyed { task: "Slow" });
    assert!(error.to_string().contains("destroyed"), "{error}");
    assert!(running.next().is_none());

    let (item, mut unstarted) = next_within(unstarted, Duration::from_secs(10));
    assert!(matches!(
        item,
        Some(Err(Error::CoordinatorDestroyed { .. }))
    ));
    assert!(unstarted.next().is_none());

    let stopped_at = settled(&started);
    assert!(stopped_at <= (1 + 8) * 10, "{stopped_at} tasks started");
}

#[task(packet = (u32,), memory = Arc<Gate>)]
pub struct Gated;

#[worker(Gated)]
fn gated(task_id: usize, gate: &Arc<Gate>) -> (u32,) {
    gate.pass();
    (task_id as u32,)
}

#[test]
fn a_consumer_waiting_on_a_destroyed_coordinator_wakes_up() {
    let coordinator = coordinator();
    let gate = Arc::new(Gate::default());
    coordinator.define(Gated, Arc::clone(&gate));
    let stream = coordinator.stream(Gated, 100, 10);
    let (sender, receiver) = mpsc::channel();
    let consumer = thread::spawn(move || {
        let mut stream = stream;
        sender.send(stream.next()).unwrap();
        stream.next().is_none()
    });
    // The consumer waits for a batch that cannot finish while the gate is
    // shut; destroying the coordinator wakes it at once.
    thread::sleep(Duration::from_millis(50));
    coordinator.destroy();
    let item = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the consumer hung");
    assert!(matches!(
        item,
        Some(Err(Error::CoordinatorDestroyed { .. }))
    ));
    assert!(consumer.join().unwrap());
    gate.open();
}

#[test]
fn streams_and_batches_are_thread_safe() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Stream<Identity>>();
    send_sync::<Batch<Identity>>();
    // A batch outlives its stream and its coordinator.
    let coordinator = coordinator();
    let batch = coordinator
        .stream(Identity, 100, 30)
        .nth(3)
        .unwrap()
        .unwrap();
    coordinator.destroy();
    assert_eq!(batch.task_ids(), 90..100);
    assert_eq!((&batch).into_iter().next_back(), Some((99,)));
    let text = format!("{batch:?}");
    assert!(
        text.contains("Identity") && text.contains("first_id: 90"),
        "{text}"
    );
}
