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

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use parallelizer::prelude::*;
use rayon::prelude::*;

const LARGE: usize = 2_000_000;
const LARGE_BATCH: usize = 4096;
const SMALL: usize = 1024;
const SMALL_BATCH: usize = 8;

const WORDS: [&str; 8] = [
    "Hello World",
    "Parallelize",
    "Coordinator",
    "Batch jobs!",
    "Little end.",
    "Zero copies",
    "Rayon pools",
    "Fixed slots",
];

/// The shared work: a few rounds of integer mixing, then a number and a word.
#[inline]
fn work(task_id: usize) -> (u16, &'static str) {
    let mut x = task_id as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    (x as u16, WORDS[(x >> 61) as usize])
}

/// The baseline's record: what a hand-written loop would store for the same
/// output (number, string length, string bytes).
fn record(task_id: usize) -> (u16, u8, [u8; 11]) {
    let (number, word) = work(task_id);
    let mut bytes = [0; 11];
    bytes[..word.len()].copy_from_slice(word.as_bytes());
    (number, word.len() as u8, bytes)
}

#[task(packet = (u16, FixedStr<11>))]
pub struct Mix;

#[worker(Mix)]
fn mix(task_id: usize) -> (u16, FixedStr<11>) {
    let (number, word) = work(task_id);
    (number, FixedStr::new(word).expect("every word is 11 bytes"))
}

fn baseline(n: usize, batch: usize) -> Vec<(u16, u8, [u8; 11])> {
    (0..n)
        .into_par_iter()
        .with_min_len(batch)
        .map(record)
        .collect()
}

/// The baseline tuned by hand: each record's fields written in place in a
/// vector it keeps. (Building the `(u16, u8, [u8; 11])` tuple and storing it
/// whole, as `collect` does, compiles to slower code: about 3x here.)
fn baseline_tuned(out: &mut Vec<(u16, u8, [u8; 11])>, n: usize, batch: usize) {
    out.resize(n, (0, 0, [0; 11]));
    out.par_chunks_mut(batch)
        .enumerate()
        .for_each(|(k, chunk)| {
            for (i, slot) in chunk.iter_mut().enumerate() {
                let (number, word) = work(k * batch + i);
                slot.0 = number;
                slot.1 = word.len() as u8;
                slot.2[..word.len()].copy_from_slice(word.as_bytes());
            }
        });
}

/// The baseline writing into a vector it keeps, as `dispatch_into` does.
fn baseline_into(out: &mut Vec<(u16, u8, [u8; 11])>, n: usize, batch: usize) {
    out.clear();
    out.par_extend((0..n).into_par_iter().with_min_len(batch).map(record));
}

fn large(c: &mut Criterion) {
    let coordinator = Coordinator::new(256);
    let mut group = c.benchmark_group("large");
    group.sample_size(30);
    group.bench_function("rayon", |b| {
        b.iter(|| black_box(baseline(LARGE, LARGE_BATCH)))
    });
    let mut kept = Vec::new();
    group.bench_function("rayon_into", |b| {
        b.iter(|| {
            baseline_into(&mut kept, LARGE, LARGE_BATCH);
            black_box(kept.len())
        })
    });
    let mut tuned = Vec::new();
    group.bench_function("rayon_tuned", |b| {
        b.iter(|| {
            baseline_tuned(&mut tuned, LARGE, LARGE_BATCH);
            black_box(tuned.len())
        })
    });
    group.bench_function("dispatch", |b| {
        b.iter(|| black_box(coordinator.dispatch(Mix, LARGE, LARGE_BATCH).unwrap()))
    });
    let mut results = Results::new();
    group.bench_function("dispatch_into", |b| {
        b.iter(|| {
            coordinator
                .dispatch_into(Mix, LARGE, LARGE_BATCH, &mut results)
                .unwrap();
            black_box(results.len())
        })
    });
    group.bench_function("sequential", |b| {
        b.iter(|| black_box((0..LARGE).map(record).collect::<Vec<_>>()))
    });
    group.finish();
}

fn small(c: &mut Criterion) {
    let coordinator = Coordinator::new(256);
    let mut group = c.benchmark_group("small");
    group.bench_function("rayon", |b| {
        b.iter(|| black_box(baseline(SMALL, SMALL_BATCH)))
    });
    let mut kept = Vec::new();
    group.bench_function("rayon_into", |b| {
        b.iter(|| {
            baseline_into(&mut kept, SMALL, SMALL_BATCH);
            black_box(kept.len())
        })
    });
    let mut tuned = Vec::new();
    group.bench_function("rayon_tuned", |b| {
        b.iter(|| {
            baseline_tuned(&mut tuned, SMALL, SMALL_BATCH);
            black_box(tuned.len())
        })
    });
    group.bench_function("dispatch", |b| {
        b.iter(|| black_box(coordinator.dispatch(Mix, SMALL, SMALL_BATCH).unwrap()))
    });
    let mut results = Results::new();
    group.bench_function("dispatch_into", |b| {
        b.iter(|| {
            coordinator
                .dispatch_into(Mix, SMALL, SMALL_BATCH, &mut results)
                .unwrap();
            black_box(results.len())
        })
    });
    group.finish();
}

fn leave(c: &mut Criterion) {
    let coordinator = Coordinator::new(256);
    let results = coordinator.dispatch(Mix, LARGE, LARGE_BATCH).unwrap();
    let values: Vec<(u16, String)> = (0..LARGE)
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
            b.iter(|| black_box(coordinator.dispatch(Mix, LARGE, LARGE_BATCH).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, large, small, leave, scaling);
criterion_main!(benches);
