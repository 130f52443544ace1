//! A long job streamed to a file, with a progress bar.
//!
//! Ten million Monte Carlo tasks estimate pi: each task id seeds its own
//! random numbers, throws 32 points at the unit square and counts those in
//! the quarter circle. The batches come back in task-id order through a
//! stream, whose window bounds memory however long the job is; each batch is
//! summed in place (zero copy) and appended to a self-describing results
//! file, which is read back and checked at the end.
//!
//! Run it with `cargo run --release --example big_job [TASKS] [OUTPUT]`
//! (default 10,000,000 tasks, a file in the system's temporary folder). On a
//! terminal it draws a progress bar with rate and time left.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use parallelizer::prelude::*;
use parallelizer::PacketWriter;

const THROWS: u32 = 32;

#[task(packet = (u8, f32))]
pub struct Throws;

#[worker(Throws)]
fn throws(task_id: usize) -> (u8, f32) {
    let mut state = task_id as u64;
    let mut hits = 0;
    for _ in 0..THROWS {
        let (x, y) = (unit(&mut state), unit(&mut state));
        hits += u8::from(x * x + y * y <= 1.0);
    }
    (hits, 4.0 * f32::from(hits) / THROWS as f32)
}

/// splitmix64, mapped to [0, 1).
fn unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args.next().map_or(Ok(10_000_000), |tasks| tasks.parse())?;
    let output = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("parallelizer-big-job-{}.prlz", std::process::id()))
    });

    let coordinator = Coordinator::new(256);
    let started = Instant::now();
    let mut file = PacketWriter::<Throws, _>::new(BufWriter::new(File::create(&output)?), tasks)?;
    let mut hits = 0_u64;
    for batch in coordinator
        .stream(Throws, tasks, 65_536)
        .window(8)
        .progress_bar()
    {
        let batch = batch?;
        // Read in place: packet fields are little-endian wire values.
        hits += batch
            .packets()
            .iter()
            .map(|packet| u64::from(packet.0))
            .sum::<u64>();
        file.write(batch.packets())?;
    }
    file.finish()?;
    let elapsed = started.elapsed();
    let estimate = 4.0 * hits as f64 / (tasks as f64 * f64::from(THROWS));
    println!(
        "{tasks} tasks in {elapsed:.2?}: pi is about {estimate:.5}; wrote {} bytes to {}",
        std::fs::metadata(&output)?.len(),
        output.display()
    );

    // The file names its schema: read it back and check it against the stream.
    let results = Results::<Throws>::read_from(BufReader::new(File::open(&output)?))?;
    let reread: u64 = results.iter().map(|(hits, _)| u64::from(hits)).sum();
    assert_eq!((results.len(), reread), (tasks, hits));
    println!(
        "read back {} packets, the same {reread} hits",
        results.len()
    );
    std::fs::remove_file(&output)?;
    Ok(())
}
