//! Per-actor state (`#[task(state = ...)]`), checked from outside as a user
//! would write it: one state per actor, kept across batches and dispatches,
//! batch `k` always with actor `k % actors`, in batch order, whatever the
//! pool or the way of running, and the reductions `take_states` gathers.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use parallelizer::prelude::*;

/// Runs `scenario` on another thread, so a hang fails the test.
fn within<R: Send + 'static>(scenario: impl FnOnce() -> R + Send + 'static) -> R {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(scenario()));
    receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the scenario hung (or panicked)")
}

fn coordinator(actors: usize, threads: usize) -> Coordinator {
    Coordinator::builder()
        .actors(actors)
        .threads(threads)
        .build()
        .expect("a small pool starts")
}

// ---------------------------------------------------------------------------
// The contract, as written there.

#[derive(Default)]
pub struct Scratch {
    pub rng: u64,
    pub calls: u64,
    pub sum: f64,
}

pub struct Params {
    pub scale: f64,
}

#[task(packet = (f64,), memory = Params, state = Scratch)]
pub struct Sample;

#[worker(Sample)]
fn sample(task_id: usize, params: &Params, state: &mut Scratch) -> (f64,) {
    state.calls += 1;
    state.rng = xorshift(state.rng ^ task_id as u64);
    let value = (state.rng >> 11) as f64 / (1u64 << 53) as f64 * params.scale;
    state.sum += value;
    (value,)
}

fn xorshift(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn seed(actor: usize) -> u64 {
    0x5eed ^ (actor as u64) << 32
}

#[test]
fn the_contract_example_works() -> Result<(), Error> {
    let coordinator = Coordinator::new(64);
    coordinator.define(Sample, Params { scale: 2.0 });
    coordinator.define_state(Sample, |actor: usize| Scratch {
        rng: seed(actor),
        ..Default::default()
    });
    let results = coordinator.dispatch(Sample, 1_000_000, 1000)?;
    let states: Vec<Scratch> = coordinator.take_states(Sample);
    assert_eq!(states.len(), 64);
    assert_eq!(states.iter().map(|s| s.calls).sum::<u64>(), 1_000_000);
    // The states summed exactly what the results hold, actor by actor.
    let from_results: f64 = results.iter().map(|(value,)| value).sum();
    let from_states: f64 = states.iter().map(|s| s.sum).sum();
    assert!((from_results - from_states).abs() < 1e-6 * from_results);
    // The actors start again from the initializer.
    assert!(coordinator.take_states(Sample).iter().all(|s| s.calls == 0));
    Ok(())
}

// ---------------------------------------------------------------------------
// Which actor runs which batch, and in what order.

/// The batches an actor ran, by their first task id, in the order it ran
/// them.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Seen {
    pub batches: Vec<usize>,
    pub calls: usize,
}

/// `args` is the batch size, so the worker can tell where batches start.
#[task(packet = (u32,), args = usize, state = Seen)]
pub struct Track;

#[worker(Track)]
fn track(task_id: usize, batch: &usize, seen: &mut Seen) -> (u32,) {
    if task_id % batch == 0 {
        seen.batches.push(task_id);
    }
    seen.calls += 1;
    (seen.batches.len() as u32,)
}

/// What every actor must have seen: batch `k` on actor `k % actors`, in
/// order.
fn expected(threads: usize, batch: usize, actors: usize) -> Vec<Seen> {
    let mut seen = vec![Seen::default(); actors];
    for k in 0..threads.div_ceil(batch) {
        let state = &mut seen[k % actors];
        state.batches.push(k * batch);
        state.calls += batch.min(threads - k * batch);
    }
    seen
}

/// Every way of running a dispatch, each from fresh states: the results'
/// bytes and the final states.
fn every_way(
    coordinator: &Coordinator,
    threads: usize,
    batch: usize,
) -> Vec<(&'static str, Vec<u8>, Vec<Seen>)> {
    let mut outcomes = Vec::new();
    let mut record = |way: &'static str, bytes: Vec<u8>| {
        outcomes.push((way, bytes, coordinator.take_states(Track)));
    };
    let results = coordinator
        .dispatch_with(Track, threads, batch, batch)
        .unwrap();
    record("dispatch", results.into_bytes());
    let mut results = Results::new();
    coordinator
        .dispatch_with_into(Track, threads, batch, batch, &mut results)
        .unwrap();
    record("dispatch_into", results.into_bytes());
    let results = coordinator
        .spawn_with(Track, threads, batch, batch)
        .wait()
        .unwrap();
    record("spawn", results.into_bytes());
    for window in [1, 3, 64] {
        let mut bytes = Vec::new();
        for item in coordinator
            .stream_with(Track, threads, batch, batch)
            .window(window)
        {
            bytes.extend_from_slice(item.unwrap().as_bytes());
        }
        record("stream", bytes);
    }
    outcomes
}

#[test]
fn batch_k_runs_on_actor_k_mod_actors_in_order_every_way_on_any_pool() {
    for threads in [1, 2, 3] {
        for (actors, ids, batch) in [(4, 1000, 7), (8, 4096, 64), (3, 10, 1), (256, 1024, 8)] {
            let coordinator = coordinator(actors, threads);
            let want = expected(ids, batch, actors);
            let mut bytes = None;
            for (way, got_bytes, got) in every_way(&coordinator, ids, batch) {
                assert_eq!(
                    got, want,
                    "{way}: {threads} threads, {actors} actors, {ids} ids in batches of {batch}"
                );
                // The same dispatch from the same states: the same bytes.
                let first = bytes.get_or_insert_with(|| got_bytes.clone());
                assert_eq!(&got_bytes, first, "{way}: the bytes differ");
            }
        }
    }
}

/// Slow enough per task that dispatches go to the pool rather than running
/// on the caller's thread.
#[task(packet = (u32,), args = usize, state = Seen)]
pub struct SlowTrack;

#[worker(SlowTrack)]
fn slow_track(task_id: usize, batch: &usize, seen: &mut Seen) -> (u32,) {
    thread::sleep(Duration::from_micros(20));
    if task_id % batch == 0 {
        seen.batches.push(task_id);
    }
    seen.calls += 1;
    (seen.calls as u32,)
}

#[test]
fn costly_jobs_on_the_pool_keep_the_rule_too() {
    for threads in [1, 2] {
        let coordinator = coordinator(5, threads);
        for (ids, batch) in [(600, 4), (300, 50)] {
            let first = coordinator
                .dispatch_with(SlowTrack, ids, batch, batch)
                .unwrap();
            let states = coordinator.take_states(SlowTrack);
            let batches: Vec<_> = states.iter().map(|s| s.batches.clone()).collect();
            let want: Vec<_> = expected(ids, batch, 5)
                .into_iter()
                .map(|s| s.batches)
                .collect();
            assert_eq!(
                batches, want,
                "{threads} threads, {ids} ids in batches of {batch}"
            );
            let again = coordinator
                .spawn_with(SlowTrack, ids, batch, batch)
                .wait()
                .unwrap();
            assert_eq!(again, first, "spawned: the bytes differ");
            coordinator.take_states(SlowTrack);
        }
    }
}

// ---------------------------------------------------------------------------
// The defect a new user met: a per-thread random generator gives a frame
// that depends on which thread ran which batch. Per-actor state does not.

thread_local! {
    static THREAD_RNG: Cell<u64> = const { Cell::new(1) };
}

#[task(packet = (u32,))]
pub struct ThreadNoise;

#[worker(ThreadNoise)]
fn thread_noise(_task_id: usize) -> (u32,) {
    thread::sleep(Duration::from_micros(5));
    THREAD_RNG.with(|rng| {
        rng.set(xorshift(rng.get()));
        ((rng.get() >> 32) as u32,)
    })
}

pub struct Rng(pub u64);

#[task(packet = (u32,), state = Rng)]
pub struct ActorNoise;

#[worker(ActorNoise)]
fn actor_noise(_task_id: usize, rng: &mut Rng) -> (u32,) {
    thread::sleep(Duration::from_micros(5));
    rng.0 = xorshift(rng.0);
    ((rng.0 >> 32) as u32,)
}

#[test]
fn a_frame_rendered_twice_has_the_same_bytes_on_pools_of_1_and_2() -> Result<(), Error> {
    let mut frames = Vec::new();
    for threads in [1, 2] {
        let coordinator = coordinator(16, threads);
        for _ in 0..2 {
            // Each frame starts from the same seeds.
            coordinator.define_state(ActorNoise, |actor| Rng(actor as u64 + 1));
            frames.push(coordinator.dispatch(ActorNoise, 4000, 50)?);
        }
    }
    assert!(frames.iter().all(|frame| frame == &frames[0]));

    // What the user did before: the thread-local generator carries on from
    // the previous frame, and its sequence splits by thread.
    let coordinator = coordinator(16, 2);
    let first = coordinator.dispatch(ThreadNoise, 4000, 50)?;
    let second = coordinator.dispatch(ThreadNoise, 4000, 50)?;
    assert_ne!(first, second, "a thread_local! generator repeats nothing");
    Ok(())
}

// ---------------------------------------------------------------------------
// Lifetime of the states.

#[derive(Default)]
pub struct Count(pub u64);

#[task(packet = (u8,), state = Count)]
pub struct Counter;

#[worker(Counter)]
fn counter(_task_id: usize, count: &mut Count) -> (u8,) {
    count.0 += 1;
    (0,)
}

fn counts(coordinator: &Coordinator) -> Vec<u64> {
    coordinator
        .take_states(Counter)
        .into_iter()
        .map(|c| c.0)
        .collect()
}

#[test]
fn states_default_and_last_across_dispatches_until_taken() -> Result<(), Error> {
    let coordinator = coordinator(4, 2);
    // Made by `Default` when first needed, even if nothing ran yet.
    assert_eq!(counts(&coordinator), [0, 0, 0, 0]);
    coordinator.dispatch(Counter, 40, 10)?;
    coordinator.dispatch(Counter, 20, 10)?;
    coordinator.spawn(Counter, 10, 10).wait()?;
    assert_eq!(counts(&coordinator), [30, 20, 10, 10]);
    assert_eq!(counts(&coordinator), [0, 0, 0, 0]);
    Ok(())
}

#[test]
fn a_new_initializer_replaces_the_states() -> Result<(), Error> {
    let coordinator = coordinator(3, 2);
    coordinator.define_state(Counter, |actor| Count(100 * actor as u64));
    coordinator.dispatch(Counter, 3, 1)?;
    coordinator.define_state(Counter, |_| Count(7));
    coordinator.dispatch(Counter, 3, 1)?;
    assert_eq!(counts(&coordinator), [8, 8, 8]);
    // Taken: made again from the initializer.
    assert_eq!(counts(&coordinator), [7, 7, 7]);
    Ok(())
}

#[test]
fn each_coordinator_has_its_own_states() -> Result<(), Error> {
    let (one, two) = (coordinator(2, 1), coordinator(2, 1));
    one.dispatch(Counter, 10, 5)?;
    assert_eq!(counts(&two), [0, 0]);
    assert_eq!(counts(&one), [5, 5]);
    Ok(())
}

/// A state without `Default`: it needs an initializer.
pub struct Seeded(pub u64);

#[task(packet = (u64,), state = Seeded)]
pub struct NeedsSeed;

#[worker(NeedsSeed)]
fn needs_seed(task_id: usize, seeded: &mut Seeded) -> (u64,) {
    (task_id as u64 + seeded.0,)
}

#[test]
fn a_state_without_default_needs_an_initializer() -> Result<(), Error> {
    let coordinator = coordinator(2, 2);
    let error = coordinator.dispatch(NeedsSeed, 10, 5).unwrap_err();
    assert_eq!(error, Error::StateNotDefined { task: "NeedsSeed" });
    assert!(
        error.to_string().contains("define_state(NeedsSeed"),
        "{error}"
    );
    let error = coordinator.spawn(NeedsSeed, 10, 5).wait().unwrap_err();
    assert_eq!(error, Error::StateNotDefined { task: "NeedsSeed" });
    let mut stream = coordinator.stream(NeedsSeed, 10, 5);
    assert_eq!(
        stream.next().unwrap().unwrap_err(),
        Error::StateNotDefined { task: "NeedsSeed" }
    );
    assert!(stream.next().is_none());

    coordinator.define_state(NeedsSeed, |actor| Seeded(1000 * actor as u64));
    let results = coordinator.dispatch(NeedsSeed, 10, 5)?;
    assert_eq!(results.get(7), Some((1007,)));
    Ok(())
}

#[test]
fn a_panicking_initializer_fails_the_run_and_is_tried_again() -> Result<(), Error> {
    let coordinator = coordinator(3, 2);
    coordinator.define_state(Counter, |actor| {
        assert!(actor != 2, "actor 2 cannot start");
        Count(0)
    });
    let error = coordinator.dispatch(Counter, 9, 1).unwrap_err();
    assert!(
        matches!(error, Error::StatePanicked { task: "Counter", actor: 2, ref message } if message.contains("actor 2 cannot start")),
        "{error:?}"
    );
    coordinator.define_state(Counter, |_| Count(0));
    coordinator.dispatch(Counter, 9, 1)?;
    assert_eq!(counts(&coordinator), [3, 3, 3]);
    Ok(())
}

// ---------------------------------------------------------------------------
// Panics leave the state as it was at the panic.

#[derive(Default, Debug, PartialEq)]
pub struct Progress {
    pub done: Vec<usize>,
}

#[task(packet = (u8,), state = Progress)]
pub struct Fragile;

#[worker(Fragile)]
fn fragile(task_id: usize, progress: &mut Progress) -> (u8,) {
    progress.done.push(task_id);
    assert!(task_id != 13, "task 13 fails");
    (0,)
}

#[test]
fn a_panic_leaves_the_state_as_it_was_and_take_states_returns_it() {
    // One thread, one actor: the job runs in task-id order.
    let coordinator = coordinator(1, 1);
    let error = coordinator.dispatch(Fragile, 20, 5).unwrap_err();
    assert!(
        matches!(error, Error::WorkerPanicked { task_id: 13, .. }),
        "{error:?}"
    );
    let states = coordinator.take_states(Fragile);
    assert_eq!(states[0].done, (0..=13).collect::<Vec<_>>());
    // Not poisoned: the coordinator and the task go on working.
    assert!(coordinator.dispatch(Fragile, 10, 5).is_ok());
    assert_eq!(coordinator.take_states(Fragile)[0].done.len(), 10);
}

// ---------------------------------------------------------------------------
// Runs of one stateful task take turns with the states.

#[test]
fn concurrent_dispatches_of_one_task_take_turns() {
    let coordinator = Arc::new(coordinator(8, 2));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let coordinator = Arc::clone(&coordinator);
            thread::spawn(move || {
                for _ in 0..20 {
                    coordinator.dispatch(Counter, 800, 10).unwrap();
                    drop(coordinator.spawn(Counter, 80, 10));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // Each dispatch of 800 ids gives each of the 8 actors 100 calls; each
    // spawn 10. Spawned dispatches may still be running: take_states waits.
    let total: u64 = counts(&coordinator).iter().sum();
    assert_eq!(total, 4 * 20 * (800 + 80));
}

/// Counts how many of its batches run at once: never more than one per
/// actor, since a batch has its actor's state to itself.
#[derive(Default)]
pub struct Busy {
    pub running: bool,
}

static OVERLAPS: AtomicUsize = AtomicUsize::new(0);

#[task(packet = (u8,), state = Busy)]
pub struct Exclusive;

#[worker(Exclusive)]
fn exclusive(task_id: usize, busy: &mut Busy) -> (u8,) {
    // The first task of a batch of 4 marks the state; any other batch of
    // the actor running meanwhile would find the mark.
    if task_id % 4 == 0 {
        if busy.running {
            OVERLAPS.fetch_add(1, Ordering::SeqCst);
        }
        busy.running = true;
    }
    thread::sleep(Duration::from_micros(10));
    if task_id % 4 == 3 {
        busy.running = false;
    }
    (0,)
}

#[test]
fn no_two_batches_of_an_actor_run_at_once_across_runs() {
    let coordinator = Arc::new(coordinator(3, 2));
    let handles: Vec<_> = (0..6)
        .map(|_| coordinator.spawn(Exclusive, 400, 4))
        .collect();
    let streamer = {
        let coordinator = Arc::clone(&coordinator);
        thread::spawn(move || coordinator.stream(Exclusive, 400, 4).count())
    };
    coordinator.dispatch(Exclusive, 400, 4).unwrap();
    for handle in handles {
        handle.wait().unwrap();
    }
    assert_eq!(streamer.join().unwrap(), 100);
    assert_eq!(OVERLAPS.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// Waits that could never end fail instead.

/// A worker that runs its own task again on its own coordinator.
#[task(packet = (u8,), args = Arc<Coordinator>, state = Count)]
pub struct Recursive;

#[worker(Recursive)]
fn recursive(task_id: usize, coordinator: &Arc<Coordinator>, count: &mut Count) -> (u8,) {
    count.0 += 1;
    if task_id != 0 {
        return (0,);
    }
    let nested = coordinator.dispatch_with(Recursive, 4, 1, Arc::clone(coordinator));
    let spawned = coordinator
        .spawn_with(Recursive, 4, 1, Arc::clone(coordinator))
        .wait();
    let streamed = coordinator
        .stream_with(Recursive, 4, 1, Arc::clone(coordinator))
        .next()
        .map(|item| item.map(|_| ()));
    let in_use = Error::StateInUse { task: "Recursive" };
    let all_refused = nested.unwrap_err() == in_use
        && spawned.unwrap_err() == in_use
        && streamed == Some(Err(in_use));
    (u8::from(all_refused),)
}

#[test]
fn a_worker_that_runs_its_own_task_again_gets_an_error_not_a_hang() {
    for threads in [1, 2] {
        let results = within(move || {
            let coordinator = Arc::new(coordinator(2, threads));
            let inner = Arc::clone(&coordinator);
            let blocking = coordinator
                .dispatch_with(Recursive, 6, 2, Arc::clone(&inner))
                .unwrap();
            let spawned = coordinator
                .spawn_with(Recursive, 6, 2, Arc::clone(&inner))
                .wait()
                .unwrap();
            // The refused runs never took the states: 6 calls a dispatch.
            let total: u64 = coordinator
                .take_states(Recursive)
                .iter()
                .map(|count| count.0)
                .sum();
            (blocking.get(0), spawned.get(0), total)
        });
        assert_eq!(results, (Some((1,)), Some((1,)), 12), "{threads} threads");
    }
}

#[test]
fn a_dispatch_while_a_stream_of_its_task_is_open_on_this_thread_fails() -> Result<(), Error> {
    let coordinator = coordinator(2, 2);
    let mut stream = coordinator.stream(Counter, 10, 1);
    assert!(stream.next().is_some());
    assert_eq!(
        coordinator.dispatch(Counter, 10, 1).unwrap_err(),
        Error::StateInUse { task: "Counter" }
    );
    // Waiting for a spawned one would never end either.
    assert_eq!(
        coordinator.spawn(Counter, 10, 1).wait().unwrap_err(),
        Error::StateInUse { task: "Counter" }
    );
    // Other tasks run meanwhile.
    coordinator.dispatch_with(Track, 10, 1, 1)?;
    drop(stream);
    coordinator.dispatch(Counter, 10, 1)?;
    // The stream ran its first batch, and perhaps a window more.
    assert!(counts(&coordinator).iter().sum::<u64>() > 10);
    Ok(())
}
