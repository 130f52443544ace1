//! Watching and steering a running dispatch: progress, cancellation and
//! deadlines.

use std::thread;
use std::time::{Duration, Instant};

use parallelizer::prelude::*;

mod common;
use common::wait_within;
use parallelizer::Progress;

#[task(packet = (u32,))]
pub struct Slow;

#[worker(Slow)]
fn slow(task_id: usize) -> (u32,) {
    thread::sleep(Duration::from_micros(100));
    (task_id as u32,)
}

fn coordinator() -> Coordinator {
    Coordinator::builder().actors(8).threads(2).build().unwrap()
}

#[test]
fn progress_counts_finished_tasks_up_to_the_total() {
    let coordinator = coordinator();
    let dispatch = coordinator.spawn(Slow, 2_000, 10);
    let mut seen = Vec::new();
    while !dispatch.is_finished() {
        seen.push(dispatch.progress());
        thread::sleep(Duration::from_millis(5));
    }
    let last = dispatch.progress();
    assert_eq!(
        last,
        Progress {
            done: 2_000,
            total: 2_000
        }
    );
    assert_eq!(last.fraction(), 1.0);
    assert!(
        seen.windows(2).all(|pair| pair[0].done <= pair[1].done),
        "progress went back"
    );
    assert!(seen
        .iter()
        .all(|progress| progress.total == 2_000 && progress.done % 10 == 0));
    assert!(dispatch.wait().is_ok());
}

#[test]
fn a_cancelled_dispatch_ends_soon_with_an_error_that_says_so() {
    let coordinator = coordinator();
    // About 5 s of work on 2 threads.
    let dispatch = coordinator.spawn(Slow, 100_000, 10);
    while dispatch.progress().done == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let cancelled_at = Instant::now();
    dispatch.cancel();
    let error = wait_within(dispatch, Duration::from_secs(10)).unwrap_err();
    assert_eq!(error, Error::Cancelled { task: "Slow" });
    assert!(error.to_string().contains("cancelled"), "{error}");
    // At the next batch boundary: a batch of 10 takes about 1 ms.
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        cancelled_at.elapsed()
    );
    // The coordinator goes on working.
    assert_eq!(
        coordinator.dispatch(Slow, 20, 5).unwrap().get(19),
        Some((19,))
    );
}

#[test]
fn cancelling_a_finished_dispatch_changes_nothing() {
    let coordinator = coordinator();
    let dispatch = coordinator.spawn(Slow, 20, 5);
    while !dispatch.is_finished() {
        thread::sleep(Duration::from_millis(1));
    }
    dispatch.cancel();
    assert_eq!(dispatch.wait().unwrap().len(), 20);
}

#[test]
fn a_dispatch_past_its_deadline_times_out() {
    let coordinator = coordinator();
    let started = Instant::now();
    let dispatch = coordinator
        .spawn(Slow, 100_000, 10)
        .with_deadline(started + Duration::from_millis(100));
    let error = wait_within(dispatch, Duration::from_secs(10)).unwrap_err();
    match error {
        Error::TimedOut { task, after } => {
            assert_eq!(task, "Slow");
            assert!(after <= Duration::from_millis(100), "{after:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A deadline that the job meets changes nothing.
    let dispatch = coordinator
        .spawn(Slow, 100, 10)
        .with_deadline(Instant::now() + Duration::from_secs(60));
    assert_eq!(dispatch.wait().unwrap().len(), 100);
}

#[test]
fn waiting_with_a_progress_bar_gives_the_same_outcome() {
    // Not a terminal here, so the bar is not drawn; the outcome is the same.
    let coordinator = coordinator();
    let results = coordinator
        .spawn(Slow, 500, 10)
        .wait_with_progress()
        .unwrap();
    assert_eq!(results.len(), 500);
    assert_eq!(results.get(499), Some((499,)));
    let error = coordinator
        .spawn(Slow, 500, 0)
        .wait_with_progress()
        .unwrap_err();
    assert_eq!(error, Error::ZeroBatchSize { task: "Slow" });
}

#[test]
fn a_stream_with_a_progress_bar_yields_the_same_batches() {
    let coordinator = coordinator();
    let plain: Vec<u8> = coordinator
        .stream(Slow, 300, 16)
        .flat_map(|batch| batch.unwrap().as_bytes().to_vec())
        .collect();
    let with_bar: Vec<u8> = coordinator
        .stream(Slow, 300, 16)
        .progress_bar()
        .flat_map(|batch| batch.unwrap().as_bytes().to_vec())
        .collect();
    assert_eq!(plain.len(), 300 * Slow::PACKET_SIZE);
    assert_eq!(plain, with_bar);
}

/// A worker that spawns a dispatch on its own coordinator and waits for it.
pub struct Inner {
    coordinator: std::sync::Mutex<Option<std::sync::Arc<Coordinator>>>,
}

#[task(packet = (u64,), memory = Inner)]
pub struct Outer;

#[worker(Outer)]
fn outer(task_id: usize, inner: &Inner) -> (u64,) {
    let coordinator = inner.coordinator.lock().unwrap().clone().unwrap();
    let results = coordinator.spawn(Slow, 4, 1).wait().unwrap();
    (task_id as u64 + results.iter().map(|(id,)| u64::from(id)).sum::<u64>(),)
}

#[test]
fn waiting_on_a_dispatch_from_a_pool_thread_does_not_hang() {
    // One pool thread: a worker that blocked in `wait` would leave none to
    // run the dispatch it waits for.
    let coordinator =
        std::sync::Arc::new(Coordinator::builder().actors(4).threads(1).build().unwrap());
    coordinator.define(
        Outer,
        Inner {
            coordinator: std::sync::Mutex::new(Some(std::sync::Arc::clone(&coordinator))),
        },
    );
    let results = wait_within(coordinator.spawn(Outer, 8, 1), Duration::from_secs(30)).unwrap();
    assert_eq!(results.get(5), Some((5 + 6,)));

    // A callback, which runs on the pool thread, may wait on another dispatch.
    let (sender, receiver) = std::sync::mpsc::channel();
    let again = std::sync::Arc::clone(&coordinator);
    coordinator.spawn(Slow, 4, 1).on_complete(move |first| {
        let second = again.spawn(Slow, 4, 1).wait();
        sender
            .send((first.is_ok(), second.map(|results| results.len())))
            .unwrap();
    });
    let (first_ok, second) = receiver.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(first_ok);
    assert_eq!(second, Ok(4));
    // Break the cycle coordinator -> memory -> coordinator.
    coordinator.define(
        Outer,
        Inner {
            coordinator: std::sync::Mutex::new(None),
        },
    );
}

#[task(packet = (u32, bool))]
pub struct Steep;

#[worker(Steep)]
fn steep(task_id: usize) -> (u32, bool) {
    // Cheap at first, then costly: a job whose cost shows late.
    if task_id >= 8 {
        thread::sleep(Duration::from_millis(20));
    }
    let on_pool = thread::current()
        .name()
        .is_some_and(|name| name.starts_with("parallelizer-"));
    (task_id as u32, on_pool)
}

#[test]
fn a_job_that_turns_costly_leaves_the_calling_thread_at_once() {
    let coordinator = coordinator();
    let results = coordinator.dispatch(Steep, 16, 1).unwrap();
    // Tasks 8.. are costly: the calling thread reads the clock after a
    // quarter more tasks than it has run (8 -> 10), so at most 2 of them run
    // there; the rest go to the pool.
    let mut costly_here = 0;
    for (id, (task_id, on_pool)) in results.iter().enumerate() {
        assert_eq!(task_id as usize, id);
        costly_here += usize::from(id >= 8 && !on_pool);
    }
    assert!(
        costly_here <= 2,
        "{costly_here} costly tasks ran on the calling thread"
    );
}

#[test]
fn a_huge_window_is_fine() {
    let coordinator = coordinator();
    let batches: usize = coordinator
        .stream(Slow, 40, 8)
        .window(usize::MAX)
        .map(|batch| batch.unwrap().len())
        .sum();
    assert_eq!(batches, 40);
}
