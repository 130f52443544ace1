//! Frame latency: how long each dispatch takes, not just the typical one.
//!
//! Frame after frame, `dispatch_into` fills results it keeps, as a game loop
//! would, and the tuned rayon loop (`rayon_tuned` of `benches/dispatch.rs`)
//! does the same work into a `Vec` it keeps. The two sides take turns frame
//! by frame (which one goes first alternates), so both see the same machine.
//! For each job and side it prints the latency percentiles, and for each job
//! how many frames took more than twice the median.
//!
//! `cargo bench --bench latency`; plain `Instant` timing, no criterion.
//!
//! - `LATENCY_FRAMES`: frames a job and side (default 10,000).
//! - `LATENCY_SMALL_FRAMES`, `LATENCY_LARGE_FRAMES`: the same for one job
//!   (10,000 large frames take minutes).
//! - `LATENCY_CSV=path`: also writes every frame's two times there (job,
//!   frame, ours_ns, rayon_ns), to look into the slow frames.
//!
//! Before the timed frames, a tenth as many (at least 5) warm both sides up.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use parallelizer::prelude::*;

mod common;
use common::{baseline_tuned, Job, Mix, ACTORS, LARGE, SMALL};

const DEFAULT_FRAMES: usize = 10_000;

/// Frames of one job and side, in nanoseconds, in the order they ran.
struct Frames {
    ours: Vec<u64>,
    rayon: Vec<u64>,
}

/// The frame count for `job`: `LATENCY_<JOB>_FRAMES`, else `LATENCY_FRAMES`,
/// else the default.
fn frames_for(job: &Job) -> usize {
    let own = format!("LATENCY_{}_FRAMES", job.name.to_uppercase());
    for name in [own.as_str(), "LATENCY_FRAMES"] {
        if let Ok(value) = std::env::var(name) {
            return match value.trim().parse() {
                Ok(frames) if frames > 0 => frames,
                _ => panic!("{name}={value:?}: expected a whole number of frames above 0"),
            };
        }
    }
    DEFAULT_FRAMES
}

fn nanos(started: Instant) -> u64 {
    started.elapsed().as_nanos().try_into().unwrap_or(u64::MAX)
}

/// Runs `frames` frames of `job` on each side, taking turns, after the
/// warm-up.
fn run(coordinator: &Coordinator, job: &Job, frames: usize) -> Frames {
    let mut results = Results::new();
    let mut kept = Vec::new();
    let mut ours_frame = || {
        let started = Instant::now();
        coordinator
            .dispatch_into(Mix, job.threads, job.batch, &mut results)
            .expect("the dispatch succeeds");
        black_box(&mut results);
        nanos(started)
    };
    let mut rayon_frame = || {
        let started = Instant::now();
        baseline_tuned(&mut kept, job.threads, job.batch);
        black_box(&mut kept);
        nanos(started)
    };
    let warm_up = (frames / 10).max(5);
    let mut times = Frames {
        ours: Vec::with_capacity(frames),
        rayon: Vec::with_capacity(frames),
    };
    for frame in 0..warm_up + frames {
        let (ours, rayon) = if frame % 2 == 0 {
            let ours = ours_frame();
            (ours, rayon_frame())
        } else {
            let rayon = rayon_frame();
            (ours_frame(), rayon)
        };
        if frame >= warm_up {
            times.ours.push(ours);
            times.rayon.push(rayon);
        }
    }
    assert_eq!(results.len(), job.threads);
    assert_eq!(kept.len(), job.threads);
    times
}

/// One side's frames of one job: the times in order and sorted.
struct Side<'a> {
    name: &'static str,
    times: &'a [u64],
    sorted: Vec<u64>,
}

impl<'a> Side<'a> {
    fn new(name: &'static str, times: &'a [u64]) -> Self {
        let mut sorted = times.to_vec();
        sorted.sort_unstable();
        Side {
            name,
            times,
            sorted,
        }
    }

    /// The nearest-rank `p` quantile.
    fn quantile(&self, p: f64) -> u64 {
        let rank = (p * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    fn median(&self) -> u64 {
        self.quantile(0.5)
    }

    /// Which frames took more than twice the median, in order.
    fn slow(&self) -> Vec<bool> {
        let median = self.median();
        self.times.iter().map(|&time| time > 2 * median).collect()
    }
}

/// A time in the unit that suits it.
fn show(nanos: u64) -> String {
    match nanos {
        0..=999 => format!("{nanos} ns"),
        1_000..=999_999 => format!("{:.2} µs", nanos as f64 / 1e3),
        _ => format!("{:.3} ms", nanos as f64 / 1e6),
    }
}

const HEADER: [&str; 11] = [
    "job",
    "side",
    "frames",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "p99/p50",
    "ours/rayon",
    ">2x p50",
];

fn print_row(cells: [&str; 11]) {
    let [job, side, cells @ ..] = cells;
    print!("{job:<6} {side:<12}");
    for cell in cells {
        print!(" {cell:>10}");
    }
    println!();
}

/// A job's two rows of the table.
fn report(job: &Job, ours: &Side, rayon: &Side) {
    for side in [ours, rayon] {
        let versus = if side.name == ours.name {
            format!("{:.2}", ours.median() as f64 / rayon.median() as f64)
        } else {
            String::new()
        };
        let slow = side.slow().iter().filter(|&&slow| slow).count();
        print_row([
            job.name,
            side.name,
            &side.times.len().to_string(),
            &show(side.median()),
            &show(side.quantile(0.9)),
            &show(side.quantile(0.99)),
            &show(side.quantile(0.999)),
            &show(side.quantile(1.0)),
            &format!("{:.2}", side.quantile(0.99) as f64 / side.median() as f64),
            &versus,
            &slow.to_string(),
        ]);
    }
}

/// Our frames over twice the median: how many, how many of them fell in a
/// frame where rayon was over twice its median too (a sign that the machine,
/// not the dispatch, was busy), and the first of them.
fn report_slow(job: &Job, ours: &Side, rayon: &Side) {
    let (ours_slow, rayon_slow) = (ours.slow(), rayon.slow());
    let count = ours_slow.iter().filter(|&&slow| slow).count();
    let both = ours_slow
        .iter()
        .zip(&rayon_slow)
        .filter(|(&ours, &rayon)| ours && rayon)
        .count();
    let first: Vec<usize> = (0..ours_slow.len())
        .filter(|&frame| ours_slow[frame])
        .take(10)
        .collect();
    let first = if first.is_empty() {
        String::new()
    } else {
        format!("; the first at frames {first:?}")
    };
    println!(
        "{}: ours over 2x its median in {count} of {} frames ({:.2}%), rayon too in {both} \
         of them{first}",
        job.name,
        ours.times.len(),
        100.0 * count as f64 / ours.times.len() as f64,
    );
}

fn write_csv(path: &str, runs: &[(&Job, Frames)]) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(file, "job,frame,ours_ns,rayon_ns")?;
    for (job, times) in runs {
        for (frame, (ours, rayon)) in times.ours.iter().zip(&times.rayon).enumerate() {
            writeln!(file, "{},{frame},{ours},{rayon}", job.name)?;
        }
    }
    file.flush()
}

fn main() {
    let coordinator = Coordinator::new(ACTORS);
    let mut runs = Vec::new();
    for job in [&SMALL, &LARGE] {
        let frames = frames_for(job);
        eprintln!(
            "latency: {} job ({} ids, batch {}, {ACTORS} actors), {frames} frames a side",
            job.name, job.threads, job.batch
        );
        let started = Instant::now();
        let times = run(&coordinator, job, frames);
        eprintln!(
            "latency: {} job done in {:.1?}",
            job.name,
            started.elapsed()
        );
        runs.push((job, times));
    }
    let sides: Vec<_> = runs
        .iter()
        .map(|(job, times)| {
            let ours = Side::new("ours", &times.ours);
            (*job, ours, Side::new("rayon_tuned", &times.rayon))
        })
        .collect();
    println!();
    print_row(HEADER);
    for (job, ours, rayon) in &sides {
        report(job, ours, rayon);
    }
    println!("ours/rayon: ours' median over rayon_tuned's (lower is better)");
    println!(">2x p50: frames that took more than twice their side's median");
    for (job, ours, rayon) in &sides {
        report_slow(job, ours, rayon);
    }
    if let Ok(path) = std::env::var("LATENCY_CSV") {
        write_csv(&path, &runs).unwrap_or_else(|error| panic!("LATENCY_CSV={path}: {error}"));
        println!("every frame's times: {path}");
    }
}
