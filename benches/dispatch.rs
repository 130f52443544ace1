//! Coordinator dispatches against the hand-written rayon loop doing the same
//! work, measured side by side in one run (`cargo bench`).
//!
//! - `large`: 2,000,000 task ids in batches of 4096, plus a sequential loop.
//! - `small`: 1024 task ids in batches of 8 on 256 actors, as a game loop
//!   dispatches every frame.
//! - `leave`: the large job's results written to a `Vec<u8>` and read back
//!   validated, against serde + bincode on `Vec<(u16, String)>`; into a fresh
//!   `Vec` each time, and into one that is kept.
//! - `scaling`: the large job on pools of 1 and 2 threads.
//! - `state_large`, `state_small`: each job's `dispatch` and `dispatch_into`
//!   of `Mix` (`without`) beside the same work with a per-actor state that
//!   every call reads (`MixState`, `with`), and one that every call also
//!   updates (`MixCount`, `with_counter`: the user's own read-modify-write
//!   per task id), on one coordinator. Filter with
//!   `cargo bench --bench dispatch -- state_`.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use parallelizer::prelude::*;
use rayon::prelude::*;

mod common;
use common::{baseline_tuned, work, Job, Mix, Record, ACTORS, LARGE, SMALL};

/// What each actor of [`MixState`] and [`MixCount`] keeps.
#[derive(Default)]
pub struct Salt {
    /// Mixed into every number: 0, so the packets are [`Mix`]'s.
    pub salt: u16,
    /// How many task ids the actor ran ([`MixCount`] only).
    pub calls: u64,
}

/// [`Mix`] with a per-actor state that every call reads.
#[task(packet = (u16, FixedStr<11>), state = Salt)]
pub struct MixState;

#[worker(MixState)]
fn mix_state(task_id: usize, state: &mut Salt) -> (u16, FixedStr<11>) {
    let (number, word) = work(task_id);
    (
        number ^ state.salt,
        FixedStr::new(word).expect("every word is 11 bytes"),
    )
}

/// [`MixState`] whose calls also count themselves in the state: a
/// read-modify-write per task id, the user's own work.
#[task(packet = (u16, FixedStr<11>), state = Salt)]
pub struct MixCount;

#[worker(MixCount)]
fn mix_count(task_id: usize, state: &mut Salt) -> (u16, FixedStr<11>) {
    state.calls += 1;
    let (number, word) = work(task_id);
    (
        number ^ state.salt,
        FixedStr::new(word).expect("every word is 11 bytes"),
    )
}

/// The baseline's record of one task id.
fn record(task_id: usize) -> Record {
    let (number, word) = work(task_id);
    let mut bytes = [0; 11];
    bytes[..word.len()].copy_from_slice(word.as_bytes());
    (number, word.len() as u8, bytes)
}

fn baseline(n: usize, batch: usize) -> Vec<Record> {
    (0..n)
        .into_par_iter()
        .with_min_len(batch)
        .map(record)
        .collect()
}

/// The baseline writing into a vector it keeps, as `dispatch_into` does.
fn baseline_into(out: &mut Vec<Record>, n: usize, batch: usize) {
    out.clear();
    out.par_extend((0..n).into_par_iter().with_min_len(batch).map(record));
}

/// A job's group, named after it, `samples` samples a benchmark: the three
/// rayon loops against `dispatch` and `dispatch_into`. The caller may add
/// more and finishes it.
fn job_group<'a>(c: &'a mut Criterion, job: &Job, samples: usize) -> BenchmarkGroup<'a, WallTime> {
    let Job {
        name,
        threads: n,
        batch,
    } = *job;
    let coordinator = Coordinator::new(ACTORS);
    let mut group = c.benchmark_group(name);
    group.sample_size(samples);
    group.bench_function("rayon", |b| b.iter(|| black_box(baseline(n, batch))));
    let mut kept = Vec::new();
    group.bench_function("rayon_into", |b| {
        b.iter(|| {
            baseline_into(&mut kept, n, batch);
            black_box(kept.len())
        })
    });
    let mut tuned = Vec::new();
    group.bench_function("rayon_tuned", |b| {
        b.iter(|| {
            baseline_tuned(&mut tuned, n, batch);
            black_box(tuned.len())
        })
    });
    group.bench_function("dispatch", |b| {
        b.iter(|| black_box(coordinator.dispatch(Mix, n, batch).unwrap()))
    });
    let mut results = Results::new();
    group.bench_function("dispatch_into", |b| {
        b.iter(|| {
            coordinator
                .dispatch_into(Mix, n, batch, &mut results)
                .unwrap();
            black_box(results.len())
        })
    });
    group
}

fn large(c: &mut Criterion) {
    let mut group = job_group(c, &LARGE, 30);
    group.bench_function("sequential", |b| {
        b.iter(|| black_box((0..LARGE.threads).map(record).collect::<Vec<_>>()))
    });
    group.finish();
}

fn small(c: &mut Criterion) {
    // 100: criterion's default.
    job_group(c, &SMALL, 100).finish();
}

fn leave(c: &mut Criterion) {
    let coordinator = Coordinator::new(ACTORS);
    let results = coordinator
        .dispatch(Mix, LARGE.threads, LARGE.batch)
        .unwrap();
    let values: Vec<(u16, String)> = (0..LARGE.threads)
        .map(|id| {
            let (number, word) = work(id);
            (number, word.to_owned())
        })
        .collect();
    let mut group = c.benchmark_group("leave");
    group.sample_size(20);
    // Each side writes into a fresh Vec<u8> and reads it back, validated.
    group.bench_function("ours", |b| {
        b.iter(|| {
            let written = results.as_bytes().to_vec();
            black_box(Results::<Mix>::from_bytes(written).unwrap())
        })
    });
    group.bench_function("bincode", |b| {
        b.iter(|| {
            let written = bincode::serialize(&values).unwrap();
            black_box(bincode::deserialize::<Vec<(u16, String)>>(&written).unwrap())
        })
    });
    // Each side writes into a Vec<u8> it keeps, as a writer to a socket or
    // file buffer would; ours gets the Vec back from the results it read.
    let mut kept = Vec::new();
    group.bench_function("ours_reused", |b| {
        b.iter(|| {
            kept.clear();
            kept.extend_from_slice(results.as_bytes());
            let read = Results::<Mix>::from_bytes(std::mem::take(&mut kept)).unwrap();
            black_box(read.len());
            kept = read.into_bytes();
        })
    });
    let mut kept = Vec::new();
    group.bench_function("bincode_reused", |b| {
        b.iter(|| {
            kept.clear();
            bincode::serialize_into(&mut kept, &values).unwrap();
            black_box(bincode::deserialize::<Vec<(u16, String)>>(&kept).unwrap())
        })
    });
    group.finish();
}

fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    group.sample_size(20);
    for threads in [1, 2] {
        let coordinator = Coordinator::builder().threads(threads).build().unwrap();
        group.bench_with_input(BenchmarkId::new("dispatch", threads), &threads, |b, _| {
            b.iter(|| {
                black_box(
                    coordinator
                        .dispatch(Mix, LARGE.threads, LARGE.batch)
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

/// A task with a state against the same task without one, side by side.
fn state(c: &mut Criterion) {
    for (job, samples) in [(&LARGE, 30), (&SMALL, 100)] {
        let coordinator = Coordinator::new(ACTORS);
        let mut group = c.benchmark_group(format!("state_{}", job.name));
        group.sample_size(samples);
        let (n, batch) = (job.threads, job.batch);
        group.bench_function("dispatch/without", |b| {
            b.iter(|| black_box(coordinator.dispatch(Mix, n, batch).unwrap()))
        });
        group.bench_function("dispatch/with", |b| {
            b.iter(|| black_box(coordinator.dispatch(MixState, n, batch).unwrap()))
        });
        group.bench_function("dispatch/with_counter", |b| {
            b.iter(|| black_box(coordinator.dispatch(MixCount, n, batch).unwrap()))
        });
        let mut without = Results::new();
        group.bench_function("dispatch_into/without", |b| {
            b.iter(|| {
                coordinator
                    .dispatch_into(Mix, n, batch, &mut without)
                    .unwrap();
                black_box(without.len())
            })
        });
        let mut with = Results::new();
        group.bench_function("dispatch_into/with", |b| {
            b.iter(|| {
                coordinator
                    .dispatch_into(MixState, n, batch, &mut with)
                    .unwrap();
                black_box(with.len())
            })
        });
        group.finish();
        assert_eq!(with.as_bytes(), without.as_bytes());
        // Every call counted once, in some actor's state.
        let calls: u64 = coordinator
            .take_states(MixCount)
            .iter()
            .map(|state| state.calls)
            .sum();
        assert_eq!(calls % n as u64, 0);
    }
}

criterion_group!(benches, large, small, leave, scaling, state);
criterion_main!(benches);
