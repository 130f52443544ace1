// ci: skip: needs --features mpi and mpirun
//! One job shared by every rank of an MPI job, gathered on rank 0: the
//! Mandelbrot set's escape counts, whose cost differs a lot from pixel to
//! pixel, so the ranks that finish their chunks early take more.
//!
//! ```sh
//! cargo build --release --features mpi --example cluster
//! mpirun -np 3 target/release/examples/cluster
//! # as root, or with more ranks than cores:
//! mpirun --oversubscribe --allow-run-as-root -np 3 target/release/examples/cluster
//! ```
//!
//! For each of three jobs, rank 0 first times a local dispatch (the other
//! ranks wait, asleep), then the cluster dispatch of the same job, checks
//! that both give the same bytes, and prints the ratio of their times: what
//! the MPI path costs (or gains). The jobs: the Mandelbrot set (costly,
//! uneven tasks, small results), 4 Mi cheap tasks with 64 MiB of results
//! (moving packets), and 1000 cheap tasks (a dispatch's fixed cost). For the
//! 64 MiB, it also prints the gather's throughput: the bytes that ranks on
//! other hosts than rank 0's (by `MPI_Get_processor_name`) computed, per
//! second of the dispatch. Last, the 64 MiB job goes into a results file on
//! rank 0 with `Cluster::run_to_file`, against `Coordinator::run_to_file` in
//! one process: the same bytes, and what the windows and syncs cost. A
//! debug build renders a smaller image.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parallelizer::mpi::traits::*;
use parallelizer::prelude::*;
use parallelizer::Cluster;

/// The task's memory: the image's size, the iteration limit, and how many
/// pixels this rank computed (to show how the ranks share the job).
pub struct View {
    pub width: usize,
    pub height: usize,
    pub limit: u16,
    pub computed: Arc<AtomicUsize>,
}

#[task(packet = (u16,), memory = View)]
#[derive(Clone, Copy)]
pub struct Escape;

/// The number of iterations before the pixel's point escapes, or `limit`.
#[worker(Escape)]
fn escape(task_id: usize, view: &View) -> (u16,) {
    view.computed.fetch_add(1, Ordering::Relaxed);
    let (x, y) = (task_id % view.width, task_id / view.width);
    let cx = -2.2 + 3.0 * x as f64 / view.width as f64;
    let cy = -1.2 + 2.4 * y as f64 / view.height as f64;
    let (mut zx, mut zy) = (0.0f64, 0.0f64);
    let mut count = 0;
    while count < view.limit && zx * zx + zy * zy <= 4.0 {
        (zx, zy) = (zx * zx - zy * zy + cx, 2.0 * zx * zy + cy);
        count += 1;
    }
    (count,)
}

/// How many task ids this rank computed.
pub struct Tally {
    pub computed: Arc<AtomicUsize>,
}

/// A cheap task with large results: what moving packets costs.
#[task(packet = (u64, u64), memory = Tally)]
#[derive(Clone, Copy)]
pub struct Noise;

#[worker(Noise)]
fn noise(task_id: usize, tally: &Tally) -> (u64, u64) {
    tally.computed.fetch_add(1, Ordering::Relaxed);
    let mixed = (task_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed, mixed.rotate_left(17) ^ task_id as u64)
}

fn main() -> Result<(), Error> {
    let cluster = Cluster::init()?;
    let (width, height, limit, runs) = if cfg!(debug_assertions) {
        (300, 200, 500, 3)
    } else {
        (1200, 800, 2000, 5)
    };
    let computed = Arc::new(AtomicUsize::new(0));
    let coordinator = Coordinator::new(64);
    coordinator.define(
        Escape,
        View {
            width,
            height,
            limit,
            computed: Arc::clone(&computed),
        },
    );

    // One row per batch.
    let reset = || computed.store(0, Ordering::Relaxed);
    let escape = compare(
        &cluster,
        &coordinator,
        Escape,
        width * height,
        width,
        runs,
        reset,
        |_| (),
    )?;
    let mut shares = vec![0u64; cluster.size()];
    let computed = computed.load(Ordering::Relaxed) as u64;
    cluster.world().all_gather_into(&computed, &mut shares[..]);

    // The gather's throughput: what ranks on other hosts computed, per
    // second of each cluster dispatch.
    let computed = Arc::new(AtomicUsize::new(0));
    coordinator.define(
        Noise,
        Tally {
            computed: Arc::clone(&computed),
        },
    );
    let host = host_key();
    let mut remote = Vec::new();
    let mut throughputs = Vec::new();
    let tally = |took: Duration| {
        let computed = computed.swap(0, Ordering::Relaxed) as u64;
        let mut counts = vec![0u64; 2 * cluster.size()];
        cluster
            .world()
            .all_gather_into(&[host, computed][..], &mut counts[..]);
        let bytes: u64 = counts
            .chunks_exact(2)
            .filter(|rank| rank[0] != counts[0])
            .map(|rank| rank[1] * Noise::PACKET_SIZE as u64)
            .sum();
        remote.push(bytes);
        throughputs.push(bytes as f64 / took.as_secs_f64());
    };
    let noise = compare(
        &cluster,
        &coordinator,
        Noise,
        4 << 20,
        4096,
        runs,
        || (),
        tally,
    )?;
    let tiny = compare(
        &cluster,
        &coordinator,
        Noise,
        1000,
        10,
        4 * runs,
        || (),
        |_| (),
    )?;

    // The 64 MiB job again, into a results file on rank 0, as
    // `Coordinator::run_to_file` would write it in one process.
    let to_file = to_file(&cluster, &coordinator, 4 << 20, 4096)?;

    let (Some(escape), Some(noise), Some(tiny), Some(to_file)) = (escape, noise, tiny, to_file)
    else {
        return Ok(()); // not rank 0: the jobs are done
    };
    print_thumbnail(&escape.results, width, height, limit);
    println!(
        "{} ranks; local: 1 process, {} pool threads; median times",
        cluster.size(),
        coordinator.threads()
    );
    println!("pixels computed per rank, in the last cluster run: {shares:?}");
    escape.report(&format!(
        "Mandelbrot {width}x{height}, up to {limit} iterations"
    ));
    noise.report("4 Mi cheap tasks, 64 MiB of results");
    tiny.report("1000 cheap tasks (a dispatch's fixed cost)");
    let remote = median(&mut remote);
    if remote == 0 {
        println!("gather: every rank runs on rank 0's host, no packet crossed a network");
    } else {
        throughputs.sort_by(f64::total_cmp);
        let throughput = throughputs[throughputs.len() / 2];
        println!(
            "gather of the 64 MiB: {:.1} MiB a run from other hosts' ranks, {:.1} MB/s \
             ({:.2} Gbit/s), median",
            remote as f64 / (1 << 20) as f64,
            throughput / 1e6,
            throughput * 8.0 / 1e9
        );
    }
    println!(
        "{:<45} local {:>9.2?}  cluster {:>9.2?}  cluster/local {:.2}",
        "64 MiB into a file (run_to_file)",
        to_file.0,
        to_file.1,
        to_file.1.as_secs_f64() / to_file.0.as_secs_f64()
    );
    println!("the gathered bytes equal the local dispatch's, for every job, and the files too");
    Ok(())
}

/// Rank 0's timings of one job, and its results.
struct Timing<T: Task> {
    local: Duration,
    cluster: Duration,
    results: Results<T>,
}

impl<T: Task> Timing<T> {
    fn report(&self, job: &str) {
        println!(
            "{job:<45} local {:>9.2?}  cluster {:>9.2?}  cluster/local {:.2}",
            self.local,
            self.cluster,
            self.cluster.as_secs_f64() / self.local.as_secs_f64()
        );
    }
}

/// Times `runs` local dispatches of a job on rank 0 (the other ranks wait,
/// asleep), then `runs` cluster dispatches of it on every rank, and checks
/// that they give the same bytes. Rank 0 gets the median times. `before`
/// runs before each cluster dispatch, and `after` after it, with its time,
/// on every rank.
#[allow(clippy::too_many_arguments)]
fn compare<T: Worker<Args = ()> + Copy>(
    cluster: &Cluster,
    coordinator: &Coordinator,
    task: T,
    threads: usize,
    batch: usize,
    runs: usize,
    before: impl Fn(),
    mut after: impl FnMut(Duration),
) -> Result<Option<Timing<T>>, Error> {
    let mut local = None;
    let mut local_times = Vec::new();
    if cluster.rank() == 0 {
        for _ in 0..runs {
            let started = Instant::now();
            local = Some(coordinator.dispatch(task, threads, batch)?);
            local_times.push(started.elapsed());
        }
    }
    let mut gathered = None;
    let mut cluster_times = Vec::new();
    for _ in 0..runs {
        cluster.barrier();
        before();
        let started = Instant::now();
        gathered = cluster.dispatch(coordinator, task, threads, batch)?;
        let took = started.elapsed();
        cluster_times.push(took);
        after(took);
    }
    let (Some(results), Some(local)) = (gathered, local) else {
        return Ok(None);
    };
    assert_eq!(results.as_bytes(), local.as_bytes(), "cluster == local");
    Ok(Some(Timing {
        local: median(&mut local_times),
        cluster: median(&mut cluster_times),
        results,
    }))
}

/// Rank 0 times `Coordinator::run_to_file` of the `Noise` job, then every
/// rank `Cluster::run_to_file` of it (into another file), and checks that
/// the two files are byte for byte the same. Rank 0 gets both times.
fn to_file(
    cluster: &Cluster,
    coordinator: &Coordinator,
    threads: usize,
    batch: usize,
) -> Result<Option<(Duration, Duration)>, Error> {
    let dir = std::env::temp_dir();
    let local_path = dir.join(format!("cluster-example-{}-local.prlz", std::process::id()));
    let cluster_path = dir.join(format!("cluster-example-{}.prlz", std::process::id()));
    let mut local = Duration::ZERO;
    if cluster.rank() == 0 {
        let started = Instant::now();
        coordinator.run_to_file(Noise, threads, batch, &local_path)?;
        local = started.elapsed();
    }
    cluster.barrier();
    let started = Instant::now();
    let summary = cluster.run_to_file(coordinator, Noise, threads, batch, &cluster_path)?;
    let took = started.elapsed();
    let Some(summary) = summary else {
        return Ok(None);
    };
    assert_eq!((summary.computed, summary.kept), (threads, 0));
    let same = std::fs::read(&local_path).ok() == std::fs::read(&cluster_path).ok();
    let _ = std::fs::remove_file(&local_path);
    let _ = std::fs::remove_file(&cluster_path);
    assert!(same, "the cluster's file equals the local one");
    Ok(Some((local, took)))
}

/// A small picture of the set: one character per block of pixels.
fn print_thumbnail(results: &Results<Escape>, width: usize, height: usize, limit: u16) {
    let (columns, rows) = (60, 20);
    for row in 0..rows {
        let line: String = (0..columns)
            .map(|column| {
                let id = (row * height / rows) * width + column * width / columns;
                match results.get(id) {
                    Some((count,)) if count == limit => '#',
                    Some((count,)) if count > 20 => '+',
                    Some((count,)) if count > 5 => '.',
                    _ => ' ',
                }
            })
            .collect();
        println!("{}", line.trim_end());
    }
}

fn median<V: Ord + Copy>(values: &mut [V]) -> V {
    values.sort_unstable();
    values[values.len() / 2]
}

/// A hash of this rank's host name, as MPI gives it: ranks with the same one
/// run on the same host.
fn host_key() -> u64 {
    let name = parallelizer::mpi::environment::processor_name().unwrap_or_default();
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
