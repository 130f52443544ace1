//! A struct packet (`#[task(packet = Cell)]`, `Cell` deriving `WireType`)
//! against the same fields as a tuple packet, side by side in one run.
//!
//! Both tasks do the same work and write the same bytes (checked first).
//! For each job the two sides take turns, run by run (which one goes first
//! alternates), so both see the same machine; each measurement prints the
//! median of each side and their ratio, struct / tuple. Measured:
//!
//! - `dispatch_into`: a dispatch into results it keeps (the game loop);
//! - `iter`: decoding every packet back to the user's values (all of them:
//!   each value goes through `black_box`);
//! - `from_bytes`: validating a raw buffer of every packet.
//!
//! Jobs: `large` (2,000,000 task ids in batches of 4096) and `small` (1024 in
//! batches of 8, on 256 actors). `cargo bench --bench struct_packets`; plain
//! `Instant` timing, no criterion. `STRUCT_RUNS` sets the runs of each side
//! of a measurement (default 200; 20 for `large`'s, which take longer).

use std::hint::black_box;
use std::time::Instant;

use parallelizer::prelude::*;

// The jobs of the other benchmarks; not their work or their task.
#[allow(dead_code)]
mod common;
use common::{Job, ACTORS, LARGE, SMALL};

#[derive(WireType, Debug, Clone, Copy, PartialEq)]
#[repr(u8)]
pub enum Biome {
    Ocean = 0,
    Plains = 1,
    Forest = 2,
    Mountain = 7,
}

/// The cell: 45 bytes.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub height: f32,
    pub normal: Vec3,
    pub biome: Biome,
    pub name: FixedStr<8>,
    pub color: Color3,
    pub wet: bool,
}

type Fields = (f32, Vec3, Biome, FixedStr<8>, Color3, bool);

#[task(packet = Cell)]
pub struct AsStruct;

#[task(packet = (f32, Vec3, Biome, FixedStr<8>, Color3, bool))]
pub struct AsTuple;

const BIOMES: [(Biome, &str); 4] = [
    (Biome::Ocean, "ocean"),
    (Biome::Plains, "plains"),
    (Biome::Forest, "forest"),
    (Biome::Mountain, "mountain"),
];

/// The shared work: a few rounds of integer mixing, then the fields.
#[inline]
fn fields(task_id: usize) -> Fields {
    let mut x = task_id as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    let height = (x & 0xffff) as f32 / 65535.0;
    let (biome, name) = BIOMES[(x >> 62) as usize];
    (
        height,
        Vec3::new(0.0, 1.0, height.into()),
        biome,
        FixedStr::new(name).expect("every name fits 8 bytes"),
        Color3::new(height, 0.5, 1.0 - height),
        x & 1 == 1,
    )
}

#[worker(AsStruct)]
fn as_struct(task_id: usize) -> Cell {
    let (height, normal, biome, name, color, wet) = fields(task_id);
    Cell {
        height,
        normal,
        biome,
        name,
        color,
        wet,
    }
}

#[worker(AsTuple)]
fn as_tuple(task_id: usize) -> Fields {
    fields(task_id)
}

fn runs_for(job: &Job) -> usize {
    match std::env::var("STRUCT_RUNS") {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("STRUCT_RUNS={value:?}: expected a whole number")),
        Err(_) if job.name == "large" => 20,
        Err(_) => 200,
    }
}

fn median(mut nanos: Vec<u64>) -> u64 {
    nanos.sort_unstable();
    nanos[nanos.len() / 2]
}

fn show(nanos: u64) -> String {
    match nanos {
        n if n >= 10_000_000 => format!("{:.1} ms", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.1} µs", n as f64 / 1e3),
        n => format!("{n} ns"),
    }
}

/// Runs `structs` and `tuples` `runs` times each, taking turns after a few
/// warm-up rounds, and prints their medians and ratio.
fn compare(
    job: &Job,
    what: &str,
    runs: usize,
    mut structs: impl FnMut(),
    mut tuples: impl FnMut(),
) -> f64 {
    let time = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        started.elapsed().as_nanos() as u64
    };
    for _ in 0..(runs / 10).max(3) {
        time(&mut structs);
        time(&mut tuples);
    }
    let (mut struct_nanos, mut tuple_nanos) = (Vec::new(), Vec::new());
    for run in 0..runs {
        if run % 2 == 0 {
            struct_nanos.push(time(&mut structs));
            tuple_nanos.push(time(&mut tuples));
        } else {
            tuple_nanos.push(time(&mut tuples));
            struct_nanos.push(time(&mut structs));
        }
    }
    let (s, t) = (median(struct_nanos), median(tuple_nanos));
    let ratio = s as f64 / t as f64;
    println!(
        "{:<6} {:<14} struct {:>10}  tuple {:>10}  struct/tuple {ratio:.3}  ({runs} runs each)",
        job.name,
        what,
        show(s),
        show(t)
    );
    ratio
}

fn main() {
    let coordinator = Coordinator::new(ACTORS);
    for job in [&LARGE, &SMALL] {
        let runs = runs_for(job);
        let mut structs = Results::new();
        let mut tuples = Results::new();
        coordinator
            .dispatch_into(AsStruct, job.threads, job.batch, &mut structs)
            .unwrap();
        coordinator
            .dispatch_into(AsTuple, job.threads, job.batch, &mut tuples)
            .unwrap();
        assert_eq!(
            structs.as_bytes(),
            tuples.as_bytes(),
            "both sides write the same bytes"
        );

        compare(
            job,
            "dispatch_into",
            runs,
            || {
                coordinator
                    .dispatch_into(AsStruct, job.threads, job.batch, &mut structs)
                    .unwrap();
                black_box(&mut structs);
            },
            || {
                coordinator
                    .dispatch_into(AsTuple, job.threads, job.batch, &mut tuples)
                    .unwrap();
                black_box(&mut tuples);
            },
        );
        compare(
            job,
            "iter",
            runs,
            || {
                for cell in &structs {
                    black_box(cell);
                }
            },
            || {
                for fields in &tuples {
                    black_box(fields);
                }
            },
        );
        let bytes = structs.as_bytes().to_vec();
        let (mut struct_bytes, mut tuple_bytes) = (bytes.clone(), bytes);
        compare(
            job,
            "from_bytes",
            runs,
            || {
                let read = Results::<AsStruct>::from_bytes(std::mem::take(&mut struct_bytes));
                struct_bytes = read.unwrap().into_bytes();
            },
            || {
                let read = Results::<AsTuple>::from_bytes(std::mem::take(&mut tuple_bytes));
                tuple_bytes = read.unwrap().into_bytes();
            },
        );
    }
}
