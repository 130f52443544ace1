//! Dispatch semantics, checked from outside as a user would write them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use parallelizer::prelude::*;

mod common;
use common::{wait_within, Affine, Gate, Greeting, Hello, Identity, Scale};

#[test]
fn the_contract_example_works() -> Result<(), Error> {
    let coordinator = Coordinator::new(256);
    coordinator.define(
        Hello,
        Greeting {
            text: "Hello World".into(),
        },
    );
    let results = coordinator.dispatch(Hello, 1024, 8)?;
    assert_eq!(results.get(3), Some((6, FixedStr::new("Hello World")?)));
    assert_eq!(results.len(), 1024);
    assert_eq!(results.get(1024), None);
    Ok(())
}

fn assert_identity(results: &Results<Identity>, threads: usize) {
    assert_eq!(results.len(), threads);
    assert_eq!(results.iter().len(), threads);
    for (index, (id,)) in results.iter().enumerate() {
        assert_eq!(id, index as u64, "slot {index} holds task {id}");
    }
}

#[test]
fn every_task_id_lands_in_its_slot_whatever_the_batching() -> Result<(), Error> {
    let coordinator = Coordinator::new(7);
    for (threads, batch) in [
        (1000, 7),
        (1000, 1),
        (1000, 1000),
        (1000, 5000),
        (1, 1),
        (13, 4),
        (4096, 64),
    ] {
        let results = coordinator.dispatch(Identity, threads, batch)?;
        assert_identity(&results, threads);
    }
    Ok(())
}

#[test]
fn fewer_tasks_than_actors() -> Result<(), Error> {
    let coordinator = Coordinator::new(256);
    assert_identity(&coordinator.dispatch(Identity, 5, 8)?, 5);
    // The reference computes a batch size of 0 here; ours is at least 1.
    assert_identity(&coordinator.dispatch_equally(Identity, 5)?, 5);
    assert_identity(&coordinator.dispatch_equally(Identity, 1000)?, 1000);
    Ok(())
}

#[test]
fn zero_threads_gives_empty_results() -> Result<(), Error> {
    let coordinator = Coordinator::new(4);
    let results = coordinator.dispatch(Identity, 0, 8)?;
    assert!(results.is_empty());
    assert_eq!(results.len(), 0);
    assert!(results.as_bytes().is_empty());
    assert_eq!(results.iter().next(), None);
    assert!(coordinator.dispatch_equally(Identity, 0)?.is_empty());
    Ok(())
}

#[test]
fn zero_batch_is_an_error_that_says_so() {
    let coordinator = Coordinator::new(4);
    let error = coordinator.dispatch(Identity, 10, 0).unwrap_err();
    assert_eq!(error, Error::ZeroBatchSize { task: "Identity" });
    assert!(
        error.to_string().contains("batch size of at least 1"),
        "{error}"
    );
    let error = coordinator.spawn(Identity, 10, 0).wait().unwrap_err();
    assert_eq!(error, Error::ZeroBatchSize { task: "Identity" });
}

#[test]
fn dispatching_before_define_names_the_task() {
    let coordinator = Coordinator::new(4);
    let error = coordinator.dispatch(Hello, 10, 2).unwrap_err();
    assert_eq!(error, Error::MemoryNotDefined { task: "Hello" });
    assert!(
        error.to_string().contains("coordinator.define(Hello"),
        "{error}"
    );
}

/// Records the order in which task ids run; the test keeps the other `Arc`.
pub struct Log {
    order: Arc<Mutex<Vec<usize>>>,
}

#[task(packet = (u8,), memory = Log)]
pub struct Logged;

#[worker(Logged)]
fn logged(task_id: usize, log: &Log) -> (u8,) {
    // Costly enough that the dispatch goes to the pool, not the caller's thread.
    thread::sleep(Duration::from_micros(20));
    log.order.lock().unwrap().push(task_id);
    (0,)
}

/// The same, with packets large enough that the coordinator lists its
/// batches per actor instead of running rounds of tiny batches.
#[task(packet = (u8, FixedBytes<200>), memory = Log)]
pub struct LoggedWide;

#[worker(LoggedWide)]
fn logged_wide(task_id: usize, log: &Log) -> (u8, FixedBytes<200>) {
    (logged(task_id, log).0, FixedBytes::default())
}

/// The order task ids ran in, for both ways of dealing batches to actors.
fn run_orders(actors: usize, threads: usize, batch: usize) -> Result<[Vec<usize>; 2], Error> {
    let coordinator = Coordinator::builder().actors(actors).threads(2).build()?;
    let tiny = Arc::new(Mutex::new(Vec::new()));
    let wide = Arc::new(Mutex::new(Vec::new()));
    coordinator.define(
        Logged,
        Log {
            order: Arc::clone(&tiny),
        },
    );
    coordinator.define(
        LoggedWide,
        Log {
            order: Arc::clone(&wide),
        },
    );
    coordinator.dispatch(Logged, threads, batch)?;
    coordinator.dispatch(LoggedWide, threads, batch)?;
    let orders = [tiny.lock().unwrap().clone(), wide.lock().unwrap().clone()];
    Ok(orders)
}

#[test]
fn one_actor_runs_every_batch_in_order() -> Result<(), Error> {
    for order in run_orders(1, 1000, 7)? {
        assert_eq!(order, (0..1000).collect::<Vec<_>>());
    }
    Ok(())
}

#[test]
fn batch_k_runs_on_actor_k_mod_actors() -> Result<(), Error> {
    // With 3 actors and batches of 10, actor a runs batches a, a+3, a+6, ...
    // one after another: the ids of each actor's batches appear in order.
    let (actors, batch) = (3, 10);
    for order in run_orders(actors, 995, batch)? {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..995).collect::<Vec<_>>());
        for actor in 0..actors {
            let lane: Vec<usize> = order
                .iter()
                .copied()
                .filter(|id| (id / batch) % actors == actor)
                .collect();
            assert!(
                lane.windows(2).all(|pair| pair[0] < pair[1]),
                "actor {actor} ran its batches out of order: {lane:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn a_dispatch_keeps_the_memory_it_started_with() -> Result<(), Error> {
    let coordinator = Coordinator::new(4);
    let gate = Arc::new(Gate::default());
    coordinator.define(
        Gated,
        Versioned {
            version: 1,
            gate: Arc::clone(&gate),
        },
    );
    let first = coordinator.spawn(Gated, 100, 10);
    coordinator.set_memory(
        Gated,
        Versioned {
            version: 2,
            gate: Arc::clone(&gate),
        },
    );
    gate.open();
    assert!(first.wait()?.iter().all(|(version,)| version == 1));
    assert!(coordinator
        .dispatch(Gated, 100, 10)?
        .iter()
        .all(|(version,)| version == 2));
    Ok(())
}

pub struct Versioned {
    version: u32,
    gate: Arc<Gate>,
}

#[task(packet = (u32,), memory = Versioned)]
pub struct Gated;

#[worker(Gated)]
fn gated(_task_id: usize, memory: &Versioned) -> (u32,) {
    memory.gate.pass();
    (memory.version,)
}

#[test]
fn concurrent_dispatches_from_several_threads_each_get_their_own_results() {
    let coordinator = Coordinator::new(64);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let coordinator = &coordinator;
                scope.spawn(move || {
                    let threads = 5_000 + i * 777;
                    for _ in 0..5 {
                        let results = coordinator.dispatch(Identity, threads, 3 + i).unwrap();
                        assert_identity(&results, threads);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
    let spawned: Vec<_> = (1..8)
        .map(|i| (i * 1000, coordinator.spawn(Identity, i * 1000, i)))
        .collect();
    for (threads, dispatch) in spawned {
        assert_identity(&dispatch.wait().unwrap(), threads);
    }
}

#[task(packet = (u32,))]
pub struct Fragile;

#[worker(Fragile)]
fn fragile(task_id: usize) -> (u32,) {
    if task_id == 37 {
        panic!("task {task_id} went boom");
    }
    (task_id as u32,)
}

#[test]
fn a_panicking_worker_fails_its_dispatch_only() -> Result<(), Error> {
    let coordinator = Coordinator::new(8);
    let error = coordinator.dispatch(Fragile, 100, 5).unwrap_err();
    match &error {
        Error::WorkerPanicked {
            task,
            task_id,
            message,
        } => {
            assert_eq!((*task, *task_id), ("Fragile", 37));
            assert_eq!(message, "task 37 went boom");
        }
        other => panic!("expected a worker panic, got {other:?}"),
    }
    assert!(error.to_string().contains("task id 37"), "{error}");

    // Dispatches that do not reach id 37, running at the same time, succeed,
    // and the coordinator goes on working.
    let failing = coordinator.spawn(Fragile, 10_000, 3);
    let fine = coordinator.spawn(Identity, 10_000, 3);
    assert!(matches!(
        failing.wait(),
        Err(Error::WorkerPanicked { task_id: 37, .. })
    ));
    assert_identity(&fine.wait()?, 10_000);
    let results = coordinator.dispatch(Fragile, 37, 5)?;
    assert_eq!(results.get(36), Some((36,)));
    Ok(())
}

#[task(packet = (u32,))]
pub struct Slow;

#[worker(Slow)]
fn slow(task_id: usize) -> (u32,) {
    thread::sleep(Duration::from_micros(200));
    (task_id as u32,)
}

#[test]
fn destroy_ends_running_dispatches_with_an_error() {
    let coordinator = Coordinator::builder().actors(4).threads(2).build().unwrap();
    // About 50 s of work on 2 threads: only destroy can end it in time.
    let long = coordinator.spawn(Slow, 500_000, 100);
    let other = coordinator.spawn(Slow, 500_000, 100);
    while long.progress().done == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    coordinator.destroy();
    let error = wait_within(long, Duration::from_secs(10)).unwrap_err();
    assert_eq!(error, Error::CoordinatorDestroyed { task: "Slow" });
    assert!(error.to_string().contains("destroyed"), "{error}");
    assert!(matches!(
        wait_within(other, Duration::from_secs(10)),
        Err(Error::CoordinatorDestroyed { .. })
    ));
}

#[test]
fn dropping_the_coordinator_stops_its_jobs_at_a_batch_boundary() {
    let coordinator = Coordinator::builder().actors(2).threads(2).build().unwrap();
    let long = coordinator.spawn(Slow, 500_000, 10);
    while long.progress().done == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    drop(coordinator);
    thread::sleep(Duration::from_millis(50));
    let stopped_at = long.progress().done;
    thread::sleep(Duration::from_millis(200));
    // Each running batch may finish (at most 10 ids per thread), no more.
    assert!(
        long.progress().done <= stopped_at + 20,
        "{} > {stopped_at}",
        long.progress().done
    );
    assert!(long.progress().done < 500_000);
    assert!(wait_within(long, Duration::from_secs(10)).is_err());
}

#[test]
fn a_finished_handle_outlives_its_coordinator() -> Result<(), Error> {
    let coordinator = Coordinator::new(4);
    let dispatch = coordinator.spawn(Identity, 1000, 10);
    while !dispatch.is_finished() {
        thread::sleep(Duration::from_millis(1));
    }
    coordinator.destroy();
    assert_identity(&dispatch.wait()?, 1000);
    Ok(())
}

#[test]
fn spawn_runs_none_of_the_job_on_the_calling_thread() -> Result<(), Error> {
    let coordinator = Coordinator::new(4);
    let gate = Arc::new(Gate::default());
    coordinator.define(
        Gated,
        Versioned {
            version: 7,
            gate: Arc::clone(&gate),
        },
    );
    // Every worker call blocks until the gate opens: if spawn ran any of the
    // job here, it would never return to open it.
    let dispatch = coordinator.spawn(Gated, 50, 5);
    assert!(!dispatch.is_finished());
    gate.open();
    assert_eq!(dispatch.wait()?.get(49), Some((7,)));
    Ok(())
}

#[test]
fn the_callback_form_is_called_once_with_the_outcome() {
    let coordinator = Coordinator::new(8);
    let (sender, receiver) = mpsc::channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    coordinator
        .spawn(Identity, 10_000, 16)
        .on_complete(move |outcome| {
            counted.fetch_add(1, Ordering::SeqCst);
            sender.send(outcome).unwrap();
        });
    let results = receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_identity(&results, 10_000);

    // A failed dispatch reports its error through the callback too.
    let (sender, receiver) = mpsc::channel();
    coordinator
        .spawn(Fragile, 100, 1)
        .on_complete(move |outcome| sender.send(outcome).unwrap());
    let error = receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, Error::WorkerPanicked { task_id: 37, .. }));
    drop(coordinator);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[task(packet = (u32, u32), args = u32)]
pub struct Grid;

#[worker(Grid)]
fn grid(task_id: usize, width: &u32) -> (u32, u32) {
    (task_id as u32 % width, task_id as u32 / width)
}

#[test]
fn args_reach_every_worker_call_of_their_dispatch() -> Result<(), Error> {
    let coordinator = Coordinator::new(16);
    let cells = coordinator.dispatch_with(Grid, 12, 5, 4)?;
    assert_eq!(cells.get(0), Some((0, 0)));
    assert_eq!(cells.get(6), Some((2, 1)));
    assert_eq!(cells.get(11), Some((3, 2)));
    let wider = coordinator.spawn_with(Grid, 12, 5, 6).wait()?;
    assert_eq!(wider.get(6), Some((0, 1)));
    let equal = coordinator.dispatch_equally_with(Grid, 12, 4)?;
    assert_eq!(equal, cells);

    coordinator.define(Affine, Scale { factor: 2.0 });
    let line = coordinator.dispatch_with(Affine, 10, 3, 0.5)?;
    assert_eq!(
        line.iter().collect::<Vec<_>>(),
        (0..10).map(|i| (i as f64 * 2.0 + 0.5,)).collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn results_too_large_are_an_error_not_an_abort() {
    let coordinator = Coordinator::new(4);
    let error = coordinator
        .dispatch(Identity, usize::MAX / 4, 1024)
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::ResultsTooLarge {
                task: "Identity",
                ..
            }
        ),
        "{error:?}"
    );
    // 8 TiB: the size fits in usize but no allocator can give it.
    let error = coordinator.dispatch(Identity, 1 << 40, 1024).unwrap_err();
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
    assert!(error.to_string().contains("fewer task ids"), "{error}");
    // The coordinator is still fine.
    assert_identity(&coordinator.dispatch(Identity, 100, 10).unwrap(), 100);
}

#[test]
fn coordinator_and_handles_are_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync::<Coordinator>();
    send_sync::<Results<Hello>>();
    send_static::<Dispatch<Hello>>();
    send_sync::<Error>();
}

#[test]
fn zero_actors_is_an_error_from_the_builder() {
    assert_eq!(
        Coordinator::builder().actors(0).build().unwrap_err(),
        Error::NoActors
    );
    let coordinator = Coordinator::builder().actors(3).threads(1).build().unwrap();
    assert_eq!((coordinator.actors(), coordinator.threads()), (3, 1));
}

#[test]
fn dispatch_into_reuses_the_results_buffer() -> Result<(), Error> {
    let coordinator = Coordinator::new(16);
    let mut results = Results::new();
    assert!(results.is_empty());
    coordinator.dispatch_into(Identity, 5000, 64, &mut results)?;
    assert_identity(&results, 5000);
    let address = results.as_bytes().as_ptr();
    for threads in [5000, 4000, 1, 4999] {
        coordinator.dispatch_into(Identity, threads, 7, &mut results)?;
        assert_identity(&results, threads);
        assert_eq!(
            results.as_bytes().as_ptr(),
            address,
            "the buffer was reallocated"
        );
    }
    // A failed dispatch leaves the results empty, never half written.
    let error = coordinator
        .dispatch_into(Identity, 100, 0, &mut results)
        .unwrap_err();
    assert_eq!(error, Error::ZeroBatchSize { task: "Identity" });
    assert!(results.is_empty());
    let mut fragile = Results::new();
    assert!(coordinator
        .dispatch_into(Fragile, 100, 10, &mut fragile)
        .is_err());
    assert!(fragile.is_empty());
    Ok(())
}

#[test]
fn dropped_results_hand_their_buffer_to_the_next_dispatch() -> Result<(), Error> {
    let coordinator = Coordinator::new(16);
    let first = coordinator.dispatch(Identity, 100_000, 1024)?;
    let address = first.as_bytes().as_ptr();
    drop(first);
    let second = coordinator.dispatch(Identity, 100_000, 1024)?;
    assert_eq!(
        second.as_bytes().as_ptr(),
        address,
        "the dropped buffer was not reused"
    );
    assert_identity(&second, 100_000);
    // A smaller job reuses it too, and still sees only its own packets.
    drop(second);
    let third = coordinator.dispatch(Identity, 10, 3)?;
    assert_eq!(third.as_bytes().as_ptr(), address);
    assert_identity(&third, 10);
    // Results given away with into_bytes are not recycled.
    let bytes = third.into_bytes();
    let fourth = coordinator.dispatch(Identity, 10, 3)?;
    assert_ne!(fourth.as_bytes().as_ptr(), bytes.as_ptr());
    Ok(())
}

/// Records the thread each task id ran on; costly or cheap on demand.
#[task(packet = (u64,), args = Duration)]
pub struct Where;

#[worker(Where)]
fn where_(task_id: usize, cost: &Duration) -> (u64,) {
    if !cost.is_zero() {
        thread::sleep(*cost);
    }
    let on_pool = thread::current()
        .name()
        .is_some_and(|name| name.starts_with("parallelizer-"));
    (task_id as u64 * 2 + u64::from(on_pool),)
}

#[test]
fn a_cheap_dispatch_runs_on_the_calling_thread_a_costly_one_on_the_pool() -> Result<(), Error> {
    let coordinator = Coordinator::new(64);
    // A few cheap tasks cost less than handing them to the pool. The choice
    // is timed, so a machine busy elsewhere may hand off now and then; one
    // of several tries suffices.
    let all_here = (0..50).any(|_| {
        let cheap = coordinator
            .dispatch_with(Where, 6, 2, Duration::ZERO)
            .unwrap();
        assert_eq!(cheap.len(), 6);
        cheap
            .iter()
            .enumerate()
            .all(|(id, (value,))| value == id as u64 * 2)
    });
    assert!(all_here, "a cheap dispatch never ran on the calling thread");
    // Costly tasks: the first runs here while it is timed, the rest of its
    // batch and every other batch on the pool, each in its own slot.
    let costly = coordinator.dispatch_with(Where, 200, 8, Duration::from_micros(300))?;
    for (id, (value,)) in costly.iter().enumerate() {
        assert_eq!(value / 2, id as u64, "slot {id}");
        assert_eq!(value % 2 == 1, id > 0, "task {id} ran on the wrong side");
    }
    // A spawned dispatch never runs on the calling thread, however cheap.
    let spawned = coordinator
        .spawn_with(Where, 64, 8, Duration::ZERO)
        .wait()?;
    assert!(spawned.iter().all(|(value,)| value % 2 == 1));
    Ok(())
}
