//! Lifecycle defects that must stay fixed: re-entrant streams, user code
//! that panics outside a worker, the last coordinator handle dropped inside
//! a job, recycled buffers that pin memory, impossible pool sizes.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{Gate, Identity};
use parallelizer::prelude::*;

/// Runs `scenario` on another thread, so a hang fails the test.
fn within<R: Send + 'static>(limit: Duration, scenario: impl FnOnce() -> R + Send + 'static) -> R {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(scenario()));
    receiver
        .recv_timeout(limit)
        .expect("the scenario hung (or panicked)")
}

fn pool(threads: usize) -> Arc<Coordinator> {
    Arc::new(
        Coordinator::builder()
            .actors(8)
            .threads(threads)
            .build()
            .expect("a small pool starts"),
    )
}

/// Sums task ids `0..100` through a stream of its own coordinator.
#[task(packet = (u64,), args = Arc<Coordinator>)]
pub struct StreamInside;

#[worker(StreamInside)]
fn stream_inside(_task_id: usize, coordinator: &Arc<Coordinator>) -> (u64,) {
    let mut sum = 0;
    for batch in coordinator.stream(Identity, 100, 10).window(1) {
        sum += batch
            .expect("the inner stream runs")
            .iter()
            .map(|(id,)| id)
            .sum::<u64>();
    }
    (sum,)
}

const INNER_SUM: u64 = 99 * 100 / 2;

#[test]
fn a_worker_can_iterate_a_stream_of_its_own_coordinator() {
    for threads in [1, 2] {
        // Spawned: every outer worker runs on a pool thread.
        let results = within(Duration::from_secs(60), move || {
            let coordinator = pool(threads);
            let handle = Arc::clone(&coordinator);
            coordinator
                .spawn_with(StreamInside, 6, 1, handle)
                .wait()
                .expect("the outer dispatch completes")
        });
        assert!(results.iter().all(|(sum,)| sum == INNER_SUM), "{threads}");

        // Blocking: the outer tasks are costly, so most run on the pool.
        let results = within(Duration::from_secs(60), move || {
            let coordinator = pool(threads);
            let handle = Arc::clone(&coordinator);
            coordinator
                .dispatch_with(StreamInside, 6, 1, handle)
                .expect("the outer dispatch completes")
        });
        assert!(results.iter().all(|(sum,)| sum == INNER_SUM), "{threads}");
    }
}

#[test]
fn a_callback_can_iterate_a_stream_of_its_own_coordinator() {
    for threads in [1, 2] {
        let sum = within(Duration::from_secs(60), move || {
            let coordinator = pool(threads);
            let (sender, receiver) = mpsc::channel();
            let inner = Arc::clone(&coordinator);
            coordinator
                .spawn(Identity, 10, 1)
                .on_complete(move |outcome| {
                    outcome.expect("the first dispatch completes");
                    let sum: u64 = inner
                        .stream(Identity, 100, 10)
                        .map(|batch| batch.unwrap().iter().map(|(id,)| id).sum::<u64>())
                        .sum();
                    sender.send(sum).unwrap();
                });
            receiver.recv().expect("the callback ran")
        });
        assert_eq!(sum, INNER_SUM, "{threads}");
    }
}

/// Memory whose `Drop` panics when it is armed.
pub struct Fuse {
    armed: bool,
    gate: Arc<Gate>,
}

impl Drop for Fuse {
    fn drop(&mut self) {
        if self.armed {
            panic!("a memory's Drop panicked");
        }
    }
}

#[task(packet = (u8,), memory = Fuse)]
pub struct Fused;

#[worker(Fused)]
fn fused(_task_id: usize, fuse: &Fuse) -> (u8,) {
    fuse.gate.pass();
    (1,)
}

#[test]
fn a_memory_whose_drop_panics_on_a_pool_thread_does_not_abort() {
    let coordinator = pool(2);
    for spawned in [true, false] {
        let gate = Arc::new(Gate::default());
        coordinator.define(
            Fused,
            Fuse {
                armed: true,
                gate: Arc::clone(&gate),
            },
        );
        let opener = Arc::clone(&gate);
        let coordinator_ref = &coordinator;
        let results = thread::scope(|scope| {
            let running = scope.spawn(move || {
                if spawned {
                    coordinator_ref.spawn(Fused, 64, 4).wait()
                } else {
                    coordinator_ref.dispatch(Fused, 64, 4)
                }
            });
            // Replace the memory while the job holds the old one, so the
            // job drops the last reference when it ends.
            thread::sleep(Duration::from_millis(50));
            coordinator.set_memory(
                Fused,
                Fuse {
                    armed: false,
                    gate: Arc::new(Gate::default()),
                },
            );
            opener.open();
            running.join().expect("the dispatch does not panic")
        });
        let results = results.expect("the work was done, and its results stand");
        assert_eq!(results.len(), 64);
    }
    // The pool is still alive.
    assert_eq!(coordinator.dispatch(Identity, 100, 10).unwrap().len(), 100);
}

/// Args whose `Drop` panics.
pub struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        panic!("an args Drop panicked");
    }
}

#[task(packet = (u8,), args = Grenade)]
pub struct Armed;

#[worker(Armed)]
fn armed(task_id: usize, _grenade: &Grenade) -> (u8,) {
    (task_id as u8,)
}

#[test]
fn args_whose_drop_panics_do_not_abort_or_lose_results() {
    let coordinator = pool(2);
    let spawned = coordinator.spawn_with(Armed, 100, 10, Grenade).wait();
    assert_eq!(spawned.expect("spawned results stand").len(), 100);
    let blocking = coordinator.dispatch_with(Armed, 100, 10, Grenade);
    assert_eq!(blocking.expect("blocking results stand").len(), 100);
    assert_eq!(coordinator.dispatch(Identity, 10, 1).unwrap().len(), 10);
}

/// A panic payload whose own `Drop` panics.
pub struct Backfire;

impl Drop for Backfire {
    fn drop(&mut self) {
        panic!("a panic payload's Drop panicked");
    }
}

#[task(packet = (u8,))]
pub struct Misfire;

#[worker(Misfire)]
fn misfire(task_id: usize) -> (u8,) {
    if task_id == 7 {
        std::panic::panic_any(Backfire);
    }
    (0,)
}

#[test]
fn a_panic_payload_whose_drop_panics_is_an_error_not_an_abort() {
    let coordinator = pool(2);
    for spawned in [true, false] {
        let outcome = if spawned {
            coordinator.spawn(Misfire, 100, 10).wait()
        } else {
            coordinator.dispatch(Misfire, 100, 10)
        };
        assert!(
            matches!(outcome, Err(Error::WorkerPanicked { task_id: 7, .. })),
            "{outcome:?}"
        );
    }
    assert_eq!(coordinator.dispatch(Identity, 10, 1).unwrap().len(), 10);
}

/// Counts its calls; its args hold a coordinator.
#[task(packet = (u64,), args = Arc<Coordinator>)]
pub struct HoldsCoordinator;

static HELD_CALLS: AtomicUsize = AtomicUsize::new(0);

#[worker(HoldsCoordinator)]
fn holds_coordinator(task_id: usize, _coordinator: &Arc<Coordinator>) -> (u64,) {
    HELD_CALLS.fetch_add(1, Ordering::Relaxed);
    (task_id as u64,)
}

#[test]
fn a_job_holding_the_last_coordinator_delivers_its_results() {
    let results = within(Duration::from_secs(60), || {
        let coordinator = pool(2);
        let handle = Arc::clone(&coordinator);
        let dispatch = coordinator.spawn_with(HoldsCoordinator, 1000, 10, handle);
        // Now the job's args hold the last reference.
        drop(coordinator);
        dispatch.wait()
    });
    let results = results.expect("the job completed, so its results are delivered");
    assert_eq!(results.len(), 1000);
    assert_eq!(results.get(999), Some((999,)));
}

#[task(packet = (FixedBytes<1000>,))]
pub struct Wide;

#[worker(Wide)]
fn wide(_task_id: usize) -> (FixedBytes<1000>,) {
    (FixedBytes::new(&[7; 10]).unwrap(),)
}

#[test]
fn a_small_dispatch_never_gets_a_much_larger_recycled_buffer() {
    let coordinator = pool(2);
    // About 64 MiB of results, dropped into the coordinator's pool.
    drop(coordinator.dispatch(Wide, 64 * 1024, 1024).unwrap());
    let small = coordinator.dispatch(Wide, 1, 1).unwrap().into_bytes();
    assert_eq!(small.len(), 1002);
    assert!(
        small.capacity() <= 2 << 20,
        "a 1002-byte result kept a {}-byte buffer",
        small.capacity()
    );
    // A job of the same size still reuses the big buffer.
    drop(coordinator.dispatch(Wide, 64 * 1024, 1024).unwrap());
    let again = coordinator.dispatch(Wide, 64 * 1024, 1024).unwrap();
    assert_eq!(again.len(), 64 * 1024);
}

#[test]
fn an_impossible_thread_count_is_refused_up_front() {
    let error = Coordinator::builder()
        .threads(usize::MAX)
        .build()
        .expect_err("usize::MAX threads");
    assert!(matches!(error, Error::ThreadPool { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("threads"), "{message}");
    assert!(message.contains("at most"), "{message}");
}
