//! A reduction with per-actor state: a million samples, each actor binning
//! the ones it draws into a histogram of its own (no lock, no atomics), the
//! actors' histograms gathered with `take_states` and merged after the
//! dispatch, then checked against a sequential count.
//!
//! `cargo run --example histogram` (add `--release` for speed).

use std::time::Instant;

use parallelizer::prelude::*;

const BINS: usize = 32;
const SAMPLES: usize = 1_000_000;

/// The task's memory: what every worker call reads.
pub struct Distribution {
    pub seed: u64,
}

/// Each actor's state: the counts of the samples it drew, per bin.
#[derive(Default)]
pub struct Histogram {
    pub counts: [u64; BINS],
}

/// One sample per task id; each actor counts its own.
#[task(packet = (f32,), memory = Distribution, state = Histogram)]
pub struct Sample;

#[worker(Sample)]
fn sample(task_id: usize, distribution: &Distribution, histogram: &mut Histogram) -> (f32,) {
    let value = draw(distribution.seed, task_id);
    histogram.counts[bin(value)] += 1;
    (value,)
}

/// A bell-shaped sample in `[0, 1)`: the mean of four uniform draws, each
/// derived from the task id (as the reference advises), so a sequential
/// loop can draw the same ones.
fn draw(seed: u64, task_id: usize) -> f32 {
    let mut x = seed ^ (task_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut sum = 0.0;
    for _ in 0..4 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 29;
        sum += (x >> 40) as f32 / (1u64 << 24) as f32;
    }
    sum / 4.0
}

fn bin(value: f32) -> usize {
    ((value * BINS as f32) as usize).min(BINS - 1)
}

fn main() -> Result<(), Error> {
    let coordinator = Coordinator::new(64);
    coordinator.define(Sample, Distribution { seed: 2024 });

    let started = Instant::now();
    let results = coordinator.dispatch(Sample, SAMPLES, 1000)?;
    // One partial histogram per actor, in actor order; the actors start
    // again from `Default` for the next dispatch.
    let partials = coordinator.take_states(Sample);
    let mut merged = [0u64; BINS];
    for partial in &partials {
        for (total, count) in merged.iter_mut().zip(partial.counts) {
            *total += count;
        }
    }
    let parallel = started.elapsed();

    // The same count, sequentially.
    let started = Instant::now();
    let mut sequential = [0u64; BINS];
    for task_id in 0..SAMPLES {
        sequential[bin(draw(2024, task_id))] += 1;
    }
    let sequential_time = started.elapsed();
    assert_eq!(
        merged, sequential,
        "the merged histogram matches the sequential count"
    );
    assert_eq!(merged.iter().sum::<u64>(), SAMPLES as u64);
    // The results carry the samples themselves, in task-id order.
    assert_eq!(results.get(12345), Some((draw(2024, 12345),)));

    println!(
        "{SAMPLES} samples in {BINS} bins, {} actors' histograms merged \
         ({parallel:.2?}; sequentially {sequential_time:.2?}):",
        partials.len()
    );
    let widest = merged.iter().copied().max().unwrap_or(1).max(1);
    for (index, count) in merged.iter().enumerate() {
        let bar = "#".repeat((count * 60 / widest) as usize);
        println!("{:>5.3} {count:>7} {bar}", index as f32 / BINS as f32);
    }
    Ok(())
}
