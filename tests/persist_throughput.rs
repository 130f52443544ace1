//! Throughput of results files, format 2 against format 1 and against
//! `as_bytes` + `from_bytes`, in one run. Ignored by default; run with
//!
//! ```text
//! cargo test --release --test persist_throughput -- --ignored --nocapture
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use parallelizer::persist::FormatVersion;
use parallelizer::prelude::*;

#[task(packet = (u64, f64))]
pub struct Numbers;

#[worker(Numbers)]
fn numbers(task_id: usize) -> (u64, f64) {
    (task_id as u64, task_id as f64 * 0.5)
}

#[task(packet = (u16, FixedStr<11>))]
pub struct Labels;

#[worker(Labels)]
fn labels(task_id: usize) -> (u16, FixedStr<11>) {
    (
        task_id as u16,
        FixedStr::new(&format!("id {task_id}")).unwrap(),
    )
}

const RUNS: usize = 15;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(mut run: impl FnMut()) -> Duration {
    run(); // warm up
    median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed()
            })
            .collect(),
    )
}

fn measure<T: Task>(results: &Results<T>) {
    let bytes = results.as_bytes().len();
    let mut file = Vec::with_capacity(bytes + (1 << 20));
    let mut write = |version: Option<FormatVersion>| {
        time(|| {
            file.clear();
            match version {
                Some(version) => results.write_to_format(&mut file, version).unwrap(),
                None => file.extend_from_slice(results.as_bytes()),
            }
            std::hint::black_box(&file);
        })
    };
    let writes = [
        write(None),
        write(Some(FormatVersion::V1)),
        write(Some(FormatVersion::V2)),
    ];
    let mut v1 = Vec::new();
    results.write_to_format(&mut v1, FormatVersion::V1).unwrap();
    let mut v2 = Vec::new();
    results.write_to(&mut v2).unwrap();
    let reads = [
        time(|| {
            let read = Results::<T>::from_bytes(results.as_bytes().to_vec()).unwrap();
            std::hint::black_box(read);
        }),
        time(|| {
            std::hint::black_box(Results::<T>::read_from(v1.as_slice()).unwrap());
        }),
        time(|| {
            std::hint::black_box(Results::<T>::read_from(v2.as_slice()).unwrap());
        }),
    ];
    // The same through a file (the page cache: no disk's speed), as a job
    // writes its results.
    let path = std::env::temp_dir().join(format!(
        "parallelizer-throughput-{}.prlz",
        std::process::id()
    ));
    let to_file = |version: Option<FormatVersion>| {
        let write = time(|| {
            let mut file = std::fs::File::create(&path).unwrap();
            match version {
                Some(version) => results.write_to_format(&mut file, version).unwrap(),
                None => file.write_all(results.as_bytes()).unwrap(),
            }
        });
        let read = time(|| match version {
            Some(_) => {
                let file = std::fs::File::open(&path).unwrap();
                std::hint::black_box(Results::<T>::read_from(file).unwrap());
            }
            None => {
                let bytes = std::fs::read(&path).unwrap();
                std::hint::black_box(Results::<T>::from_bytes(bytes).unwrap());
            }
        });
        (write, read)
    };
    let files = [
        to_file(None),
        to_file(Some(FormatVersion::V1)),
        to_file(Some(FormatVersion::V2)),
    ];
    std::fs::remove_file(&path).unwrap();
    let file_writes = files.map(|(write, _)| write);
    let file_reads = files.map(|(_, read)| read);
    let gib = |time: Duration| bytes as f64 / time.as_secs_f64() / f64::from(1 << 30);
    println!(
        "{} ({} packets, {} MiB), median of {RUNS}, GiB/s of packets:",
        T::NAME,
        results.len(),
        bytes >> 20
    );
    for (what, [bytes, v1, v2]) in [
        ("write to a Vec", writes),
        ("read from a slice", reads),
        ("write to a File", file_writes),
        ("read from a File", file_reads),
    ] {
        println!(
            "  {what:17}  as_bytes/from_bytes {:6.2}  format 1 {:6.2}  format 2 {:6.2}  (format 2 / format 1: {:.0}%)",
            gib(bytes),
            gib(v1),
            gib(v2),
            100.0 * v1.as_secs_f64() / v2.as_secs_f64()
        );
    }
}

#[test]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
fn format_2_costs_little_over_format_1() {
    let coordinator = Coordinator::new(8);
    measure(&coordinator.dispatch(Numbers, 16 << 20, 1 << 16).unwrap());
    measure(&coordinator.dispatch(Labels, 8 << 20, 1 << 16).unwrap());
}
