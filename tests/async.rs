//! Dispatches and streams awaited on tokio: `Dispatch` is a `Future` and,
//! with the `futures` feature, `Stream` a `futures_core::Stream`, neither
//! tied to an executor, and neither ever blocks the executor's thread.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parallelizer::prelude::*;

/// A few hundred nanoseconds of integer mixing per task id.
#[task(packet = (u64,))]
pub struct Mix;

#[worker(Mix)]
fn mix(task_id: usize) -> (u64,) {
    let mut x = task_id as u64;
    for _ in 0..64 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd).wrapping_add(1);
    }
    (x,)
}

fn expected_mix(task_id: usize) -> u64 {
    mix(task_id).0
}

fn coordinator(threads: usize) -> Arc<Coordinator> {
    Arc::new(
        Coordinator::builder()
            .actors(16)
            .threads(threads)
            .build()
            .expect("a small pool starts"),
    )
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime starts")
}

#[test]
fn a_thousand_spawned_dispatches_complete_while_an_interval_keeps_ticking() {
    const DISPATCHES: usize = 1000;
    const IDS: usize = 2000;
    const PERIOD: Duration = Duration::from_millis(10);
    let runtime = current_thread();
    let coordinator = coordinator(2);
    let (gaps, elapsed, ticks) = runtime.block_on(async move {
        let started = Instant::now();
        let handles: Vec<_> = (0..DISPATCHES)
            .map(|_| tokio::spawn(coordinator.spawn(Mix, IDS, 100)))
            .collect();
        let done = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(PERIOD);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut last = Instant::now();
                let mut gaps = Vec::new();
                while done.load(Ordering::SeqCst) < DISPATCHES {
                    interval.tick().await;
                    let now = Instant::now();
                    gaps.push(now - last);
                    last = now;
                }
                gaps
            })
        };
        for handle in handles {
            let results = handle
                .await
                .expect("the task ran")
                .expect("the dispatch ran");
            assert_eq!(results.len(), IDS);
            assert_eq!(results.get(1999), Some((expected_mix(1999),)));
            done.fetch_add(1, Ordering::SeqCst);
        }
        let elapsed = started.elapsed();
        let gaps = ticker.await.expect("the ticker ran");
        let ticks = gaps.len();
        (gaps, elapsed, ticks)
    });
    // Had the executor's only thread blocked on a dispatch, the ticker
    // would have stalled for as long. It ticked at its period instead
    // (give or take the scheduling of a shared 2-core machine, whose two
    // pool threads are busy meanwhile).
    let longest = gaps.iter().skip(1).max().copied().unwrap_or_default();
    eprintln!("{DISPATCHES} dispatches in {elapsed:?}: {ticks} ticks, the longest gap {longest:?}");
    assert!(
        longest < Duration::from_millis(150),
        "the interval stalled for {longest:?} while the dispatches ran ({elapsed:?} in all)"
    );
    let expected = elapsed.as_secs_f64() / PERIOD.as_secs_f64();
    assert!(
        ticks as f64 >= expected * 0.5,
        "{ticks} ticks in {elapsed:?}, at a period of {PERIOD:?}"
    );
}

#[test]
fn dispatches_await_on_a_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let coordinator = coordinator(2);
    runtime.block_on(async move {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let coordinator = Arc::clone(&coordinator);
                tokio::spawn(async move {
                    let results = coordinator.spawn(Mix, 100 + i, 7).await?;
                    Ok::<_, Error>(results.get(99 + i).map(|(x,)| x))
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), Ok(Some(expected_mix(99 + i))));
        }
    });
}

#[tokio::test(flavor = "current_thread")]
async fn errors_cancel_and_deadlines_come_out_of_await() {
    let coordinator = coordinator(2);
    assert_eq!(
        coordinator.spawn(Mix, 10, 0).await.unwrap_err(),
        Error::ZeroBatchSize { task: "Mix" }
    );
    let cancelled = coordinator.spawn(Slow, 1000, 1);
    cancelled.cancel();
    assert_eq!(
        cancelled.await.unwrap_err(),
        Error::Cancelled { task: "Slow" }
    );
    let late = coordinator
        .spawn(Slow, 1000, 1)
        .with_deadline(Instant::now() + Duration::from_millis(20));
    assert!(matches!(
        late.await,
        Err(Error::TimedOut { task: "Slow", .. })
    ));
    // A finished dispatch is ready at the first poll.
    let finished = coordinator.spawn(Mix, 10, 5);
    while !finished.is_finished() {
        tokio::task::yield_now().await;
    }
    assert_eq!(finished.await.unwrap().len(), 10);
}

static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);

/// A millisecond per task id, counted as it starts.
#[task(packet = (u32,))]
pub struct Slow;

#[worker(Slow)]
fn slow(task_id: usize) -> (u32,) {
    SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(1));
    (task_id as u32,)
}

static COUNTED_STARTED: AtomicUsize = AtomicUsize::new(0);

/// As [`Slow`], with a counter of its own for the detach test.
#[task(packet = (u32,))]
pub struct Counted;

#[worker(Counted)]
fn counted(task_id: usize) -> (u32,) {
    COUNTED_STARTED.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(1));
    (task_id as u32,)
}

/// Waits until `counter` stops moving, and returns where it stopped.
fn settled(counter: &AtomicUsize) -> usize {
    let mut last = counter.load(Ordering::SeqCst);
    loop {
        thread::sleep(Duration::from_millis(50));
        let now = counter.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn dropping_a_polled_future_cancels_its_job_and_an_unpolled_one_detaches() {
    let coordinator = coordinator(2);
    let runtime = current_thread();
    // Polled, then given up: a timeout that takes the other branch.
    runtime.block_on(async {
        let mut dispatch = coordinator.spawn(Slow, 2000, 1);
        let waited = tokio::time::timeout(Duration::from_millis(30), &mut dispatch).await;
        assert!(waited.is_err(), "2000 ms of work did not finish in 30 ms");
        drop(dispatch);
    });
    // It stopped at a batch boundary, far from the end.
    let ran = settled(&SLOW_STARTED);
    assert!(
        ran < 1000,
        "{ran} of 2000 tasks ran after the future was dropped"
    );

    // Never polled: dropping it detaches, and the job runs to its end.
    drop(coordinator.spawn(Counted, 200, 1));
    let deadline = Instant::now() + Duration::from_secs(30);
    while COUNTED_STARTED.load(Ordering::SeqCst) < 200 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(settled(&COUNTED_STARTED), 200);
}

#[test]
fn wait_and_on_complete_still_work_beside_await() {
    let coordinator = coordinator(2);
    assert_eq!(coordinator.spawn(Mix, 100, 9).wait().unwrap().len(), 100);
    let (sender, receiver) = std::sync::mpsc::channel();
    coordinator
        .spawn(Mix, 100, 9)
        .on_complete(move |outcome| sender.send(outcome.map(|r| r.len())).unwrap());
    assert_eq!(
        receiver.recv_timeout(Duration::from_secs(30)).unwrap(),
        Ok(100)
    );
}

/// The next item of an async stream, through `futures_core::Stream` only.
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

#[tokio::test(flavor = "current_thread")]
async fn a_stream_is_an_async_stream_with_the_same_items() {
    let coordinator = coordinator(2);
    let blocking: Vec<u8> = coordinator
        .stream(Mix, 10_000, 64)
        .flat_map(|batch| batch.unwrap().as_bytes().to_vec())
        .collect();
    let mut stream = coordinator.stream(Mix, 10_000, 64);
    let mut bytes = Vec::new();
    let mut next_id = 0;
    while let Some(batch) = next(&mut stream).await {
        let batch = batch.unwrap();
        assert_eq!(batch.first_id(), next_id);
        next_id += batch.len();
        bytes.extend_from_slice(batch.as_bytes());
    }
    assert_eq!(next_id, 10_000);
    assert_eq!(bytes, blocking);
    assert!(futures_core::stream::FusedStream::is_terminated(&stream));
}

static WINDOWED_STARTED: AtomicUsize = AtomicUsize::new(0);

#[task(packet = (u32,))]
pub struct Windowed;

#[worker(Windowed)]
fn windowed(task_id: usize) -> (u32,) {
    WINDOWED_STARTED.fetch_add(1, Ordering::SeqCst);
    (task_id as u32,)
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_stream_keeps_its_window() {
    let coordinator = coordinator(2);
    let mut stream = coordinator.stream(Windowed, 64 * 10, 10).window(2);
    let mut taken = 0;
    while let Some(batch) = next(&mut stream).await {
        taken += 1;
        drop(batch.unwrap());
        // A slow consumer: the pool may run ahead by the window only.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = WINDOWED_STARTED.load(Ordering::SeqCst).div_ceil(10);
        assert!(
            started <= taken + 2,
            "{started} batches started, {taken} taken"
        );
    }
    assert_eq!(taken, 64);
}

/// Per-actor state under async: the same rule, the same reduction.
#[derive(Default)]
pub struct Tally(pub u64);

#[task(packet = (u8,), state = Tally)]
pub struct Tallied;

#[worker(Tallied)]
fn tallied(_task_id: usize, tally: &mut Tally) -> (u8,) {
    tally.0 += 1;
    (0,)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_dispatches_and_streams_await_too() {
    let coordinator = coordinator(2);
    let spawned: Vec<_> = (0..20)
        .map(|_| tokio::spawn(coordinator.spawn(Tallied, 1600, 10)))
        .collect();
    for handle in spawned {
        handle.await.unwrap().unwrap();
    }
    let mut stream = coordinator.stream(Tallied, 1600, 10);
    while let Some(batch) = next(&mut stream).await {
        batch.unwrap();
    }
    drop(stream);
    let tallies = coordinator.take_states(Tallied);
    assert_eq!(tallies.len(), 16);
    assert!(tallies.iter().all(|tally| tally.0 == 21 * 100));
}
