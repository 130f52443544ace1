//! What the benchmarks share: the jobs, the work, our task doing it and the
//! tuned rayon loop doing the same (`mod common;` in each bench target).

use parallelizer::prelude::*;
use rayon::prelude::*;

/// One job: how many task ids, in batches of how many.
pub struct Job {
    /// The job's name, which names its benchmark group.
    pub name: &'static str,
    pub threads: usize,
    pub batch: usize,
}

/// 2,000,000 task ids in batches of 4096.
pub const LARGE: Job = Job {
    name: "large",
    threads: 2_000_000,
    batch: 4096,
};

/// 1024 task ids in batches of 8, as a game loop dispatches every frame.
pub const SMALL: Job = Job {
    name: "small",
    threads: 1024,
    batch: 8,
};

/// The actors of every benchmark's coordinator.
pub const ACTORS: usize = 256;

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
pub fn work(task_id: usize) -> (u16, &'static str) {
    let mut x = task_id as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    (x as u16, WORDS[(x >> 61) as usize])
}

/// What a hand-written loop stores for the same output: number, string
/// length, string bytes.
pub type Record = (u16, u8, [u8; 11]);

#[task(packet = (u16, FixedStr<11>))]
pub struct Mix;

#[worker(Mix)]
fn mix(task_id: usize) -> (u16, FixedStr<11>) {
    let (number, word) = work(task_id);
    (number, FixedStr::new(word).expect("every word is 11 bytes"))
}

/// The rayon baseline tuned by hand: each record's fields written in place in
/// a vector it keeps. (Building the `(u16, u8, [u8; 11])` tuple and storing
/// it whole, as `collect` does, compiles to slower code: about 3x here.)
pub fn baseline_tuned(out: &mut Vec<Record>, n: usize, batch: usize) {
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
