//! Re-entrancy: a worker, or an `on_complete` callback, that dispatches,
//! spawns and waits, streams, or awaits on its own coordinator never hangs,
//! on pools of 1 and 2 threads, whether the outer job blocks its caller or
//! was spawned (so its workers run on pool threads). Each scenario runs on
//! a thread of its own with a time limit, so a hang fails the test.

use std::future::Future;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake};
use std::thread::{self, Thread};
use std::time::Duration;

use parallelizer::prelude::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs `scenario` on another thread, so a hang fails the test.
fn within<R: Send + 'static>(what: &str, scenario: impl FnOnce() -> R + Send + 'static) -> R {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(scenario()));
    receiver
        .recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{what}: hung (or panicked)"))
}

/// The smallest executor: polls on this thread, parks between polls. What a
/// user would reach for to await inside a plain function.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// What the inner work sums: task ids `0..100`.
const INNER: u64 = 99 * 100 / 2;

#[task(packet = (u64,))]
pub struct Inner;

#[worker(Inner)]
fn inner(task_id: usize) -> (u64,) {
    (task_id as u64,)
}

/// How a worker or callback uses its own coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Dispatch,
    SpawnAndWait,
    Stream,
    Await,
}

const WAYS: [Way; 4] = [Way::Dispatch, Way::SpawnAndWait, Way::Stream, Way::Await];

/// Runs the inner work on `coordinator` that way, and sums it.
fn inner_sum(coordinator: &Coordinator, way: Way) -> u64 {
    let sum = |results: Results<Inner>| results.iter().map(|(id,)| id).sum::<u64>();
    match way {
        Way::Dispatch => sum(coordinator.dispatch(Inner, 100, 10).unwrap()),
        Way::SpawnAndWait => sum(coordinator.spawn(Inner, 100, 10).wait().unwrap()),
        Way::Stream => coordinator
            .stream(Inner, 100, 10)
            .window(1)
            .map(|batch| batch.unwrap().iter().map(|(id,)| id).sum::<u64>())
            .sum(),
        Way::Await => sum(block_on(coordinator.spawn(Inner, 100, 10)).unwrap()),
    }
}

pub struct Own {
    pub coordinator: Arc<Coordinator>,
    pub way: Way,
}

/// A worker that runs the inner work on its own coordinator.
#[task(packet = (u64,), args = Own)]
pub struct Outer;

#[worker(Outer)]
fn outer(_task_id: usize, own: &Own) -> (u64,) {
    (inner_sum(&own.coordinator, own.way),)
}

/// The same, from a worker that has a state of its own.
#[derive(Default)]
pub struct Calls(pub u64);

#[task(packet = (u64,), args = Own, state = Calls)]
pub struct StatefulOuter;

#[worker(StatefulOuter)]
fn stateful_outer(_task_id: usize, own: &Own, calls: &mut Calls) -> (u64,) {
    calls.0 += 1;
    (inner_sum(&own.coordinator, own.way),)
}

fn pool(threads: usize) -> Arc<Coordinator> {
    Arc::new(
        Coordinator::builder()
            .actors(4)
            .threads(threads)
            .build()
            .expect("a small pool starts"),
    )
}

fn own(coordinator: &Arc<Coordinator>, way: Way) -> Own {
    Own {
        coordinator: Arc::clone(coordinator),
        way,
    }
}

#[test]
fn a_worker_that_uses_its_own_coordinator_never_hangs() {
    for threads in [1, 2] {
        for way in WAYS {
            let what = format!("{way:?} inside a worker, {threads} threads");
            let sums = within(&what, move || {
                let coordinator = pool(threads);
                let blocking = coordinator
                    .dispatch_with(Outer, 6, 1, own(&coordinator, way))
                    .unwrap();
                let spawned = coordinator
                    .spawn_with(Outer, 6, 1, own(&coordinator, way))
                    .wait()
                    .unwrap();
                let stateful = coordinator
                    .spawn_with(StatefulOuter, 6, 2, own(&coordinator, way))
                    .wait()
                    .unwrap();
                let streamed: Vec<u64> = coordinator
                    .stream_with(Outer, 6, 1, own(&coordinator, way))
                    .flat_map(|batch| batch.unwrap().iter().map(|(sum,)| sum).collect::<Vec<_>>())
                    .collect();
                let calls: u64 = coordinator
                    .take_states(StatefulOuter)
                    .iter()
                    .map(|calls| calls.0)
                    .sum();
                let mut sums: Vec<u64> = blocking.iter().map(|(sum,)| sum).collect();
                sums.extend(spawned.iter().map(|(sum,)| sum));
                sums.extend(stateful.iter().map(|(sum,)| sum));
                sums.extend(streamed);
                (sums, calls)
            });
            assert_eq!(sums, (vec![INNER; 24], 6), "{what}");
        }
    }
}

#[test]
fn a_callback_that_uses_its_own_coordinator_never_hangs() {
    for threads in [1, 2] {
        for way in WAYS {
            let what = format!("{way:?} inside on_complete, {threads} threads");
            let sum = within(&what, move || {
                let coordinator = pool(threads);
                let (sender, receiver) = mpsc::channel();
                let handle = Arc::clone(&coordinator);
                // Long enough that the callback usually runs on the pool
                // thread that finishes the job.
                coordinator
                    .spawn(Inner, 10_000, 10)
                    .on_complete(move |outcome| {
                        outcome.unwrap();
                        sender.send(inner_sum(&handle, way)).unwrap();
                    });
                let sum = receiver.recv().unwrap();
                // And once more, registered after the job has finished: the
                // callback runs at once on this thread.
                let finished = coordinator.spawn(Inner, 10, 10);
                while !finished.is_finished() {
                    thread::yield_now();
                }
                let (sender, receiver) = mpsc::channel();
                let handle = Arc::clone(&coordinator);
                finished.on_complete(move |_| sender.send(inner_sum(&handle, way)).unwrap());
                (sum, receiver.recv().unwrap())
            });
            assert_eq!(sum, (INNER, INNER), "{what}");
        }
    }
}

/// A worker that awaits with an async stream of its own coordinator.
#[task(packet = (u64,), args = Arc<Coordinator>)]
pub struct AsyncStreamInside;

#[worker(AsyncStreamInside)]
fn async_stream_inside(_task_id: usize, coordinator: &Arc<Coordinator>) -> (u64,) {
    let mut stream = coordinator.stream(Inner, 100, 10).window(1);
    let sum = block_on(async {
        let mut sum = 0;
        while let Some(batch) = std::future::poll_fn(|cx| {
            futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), cx)
        })
        .await
        {
            sum += batch.unwrap().iter().map(|(id,)| id).sum::<u64>();
        }
        sum
    });
    (sum,)
}

#[test]
fn a_worker_that_awaits_a_stream_of_its_own_coordinator_never_hangs() {
    for threads in [1, 2] {
        let sums = within("an async stream inside a worker", move || {
            let coordinator = pool(threads);
            let results = coordinator
                .spawn_with(AsyncStreamInside, 4, 1, Arc::clone(&coordinator))
                .wait()
                .unwrap();
            results.iter().map(|(sum,)| sum).collect::<Vec<_>>()
        });
        assert_eq!(sums, vec![INNER; 4], "{threads} threads");
    }
}
