//! Cluster dispatch across the ranks of an MPI job (feature `mpi`).
//!
//! This test has its own `main` (`harness = false`). Run without `mpirun`
//! (`cargo test --features mpi --test cluster`), it launches itself under
//! `mpirun --oversubscribe --allow-run-as-root -np 3`, then `-np 1`, and
//! checks that every rank passed. Under `mpirun`, every rank runs the same
//! checks in the same order, collectively, and asserts on its own side of
//! each; a failed assertion on any rank aborts the whole MPI job, which the
//! launcher reports. Then it launches 3 ranks twice more, with the last rank
//! dying during a dispatch (`abort`) or panicking before it (`panic`), and
//! checks that mpirun ends the job with an error instead of hanging.
#![cfg(feature = "mpi")]

use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parallelizer::mpi::traits::*;
use parallelizer::prelude::*;
use parallelizer::Cluster;

/// Memory of the even job.
pub struct Terrain {
    pub seed: u64,
    pub name: String,
}

#[task(packet = (u32, u64, FixedStr<12>, bool), memory = Terrain, args = u32)]
pub struct Tile;

#[worker(Tile)]
fn tile(task_id: usize, terrain: &Terrain, scale: &u32) -> (u32, u64, FixedStr<12>, bool) {
    let mixed = (task_id as u64 ^ terrain.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let name = FixedStr::new(&format!("{}{}", terrain.name, task_id % 1000)).unwrap();
    (task_id as u32 * scale, mixed, name, task_id % 3 == 0)
}

/// A packet struct, with a nested struct and an enum: the struct job's.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Site {
    pub id: u32,
    pub kind: Kind,
    pub at: Vec3i16,
    pub label: FixedStr<8>,
}

#[derive(WireType, Debug, Clone, Copy, PartialEq)]
#[repr(u16)]
pub enum Kind {
    Well = 3,
    Mine = 300,
}

#[task(packet = Site, args = u32)]
pub struct Sites;

#[worker(Sites)]
fn sites(task_id: usize, seed: &u32) -> Site {
    let id = task_id as u32 ^ seed;
    Site {
        id,
        kind: if id % 2 == 0 { Kind::Well } else { Kind::Mine },
        at: Vec3i16::new(task_id as i16, -(task_id as i16), 7),
        label: FixedStr::new(&format!("s{}", task_id % 1000)).unwrap(),
    }
}

/// Memory of the uneven job: how slow this rank is, and how many task ids it
/// ran.
pub struct Load {
    pub slow: Duration,
    pub ran: Arc<AtomicUsize>,
}

#[task(packet = (u64, f32), memory = Load)]
pub struct Uneven;

/// Costs differ a lot from one task id to the next: one id in about 20
/// sleeps half a millisecond, the others compute for a varying while.
#[worker(Uneven)]
fn uneven(task_id: usize, load: &Load) -> (u64, f32) {
    load.ran.fetch_add(1, Ordering::Relaxed);
    if task_id % 97 < 5 {
        thread::sleep(Duration::from_micros(500));
    }
    if !load.slow.is_zero() {
        thread::sleep(load.slow);
    }
    let mut x = task_id as u64;
    for _ in 0..(task_id % 13) * 50 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    (x, (task_id as f32).sqrt())
}

/// Memory of the job that fails: whether this rank's worker panics.
pub struct Fuse {
    pub lit: bool,
}

#[task(packet = (u32,), memory = Fuse)]
pub struct Fragile;

#[worker(Fragile)]
fn fragile(task_id: usize, fuse: &Fuse) -> (u32,) {
    thread::sleep(Duration::from_micros(200));
    if fuse.lit {
        panic!("boom at task {task_id}");
    }
    (task_id as u32,)
}

/// A task whose memory one rank leaves undefined.
#[task(packet = (u32,), memory = u32)]
pub struct Lonely;

#[worker(Lonely)]
fn lonely(task_id: usize, offset: &u32) -> (u32,) {
    (task_id as u32 + offset,)
}

/// A task whose worker ends its process on the last rank.
#[task(packet = (u32,))]
pub struct Doomed;

#[worker(Doomed)]
fn doomed(task_id: usize) -> (u32,) {
    thread::sleep(Duration::from_micros(200));
    (task_id as u32,)
}

/// Set (to `abort` or `panic`) for the runs in which the last rank dies.
const FAULT: &str = "PARALLELIZER_TEST_FAULT";

fn main() {
    let under_mpi = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    match std::env::var(FAULT) {
        Ok(fault) if under_mpi => die_on_the_last_rank(&fault),
        _ if under_mpi => run_checks(),
        _ => launch(),
    }
}

/// Runs this binary under `mpirun`, with 3 ranks (oversubscribing the
/// machine's cores) and with 1, and checks that every rank passed.
fn launch() {
    let version = Command::new("mpirun").arg("--version").output();
    if !version.is_ok_and(|output| output.status.success()) {
        panic!(
            "mpirun was not found: install Open MPI (Debian: `apt-get install openmpi-bin \
             libopenmpi-dev`), or run the workspace tests without `--features mpi`"
        );
    }
    let mut passed = 0;
    for ranks in [3, 1] {
        let run = mpirun(ranks, None, 300, "");
        print!("{}", run.stdout);
        eprint!("{}", run.stderr);
        assert!(
            run.status.success(),
            "mpirun -np {ranks} failed ({:?}; 124 is the 300 s timeout)",
            run.status
        );
        let summary = format!("every rank of {ranks}: ");
        assert!(
            run.stdout
                .lines()
                .any(|line| line.starts_with(&summary) && line.ends_with(" passed, 0 failed")),
            "rank 0 of `mpirun -np {ranks}` did not report its checks"
        );
        passed += 1;
    }
    // A rank that dies ends the MPI job: nothing waits for it.
    for fault in ["abort", "panic"] {
        let run = mpirun(
            3,
            Some(&format!("{FAULT}={fault}")),
            120,
            &format!(", the last rank dies ({fault})"),
        );
        let (stdout, stderr) = (&run.stdout, &run.stderr);
        let code = run.status.code();
        assert!(
            !run.status.success() && code != Some(124) && code != Some(137),
            "a dying rank must end the MPI job, not hang it or let it pass: {:?}\n\
             {stdout}\n{stderr}",
            run.status,
        );
        assert!(
            !stdout.contains("the dispatch returned"),
            "no rank may finish a dispatch that a dead rank took part in:\n{stdout}"
        );
        passed += 1;
    }
    println!("cluster: {passed} passed, 0 failed");
}

/// How one `mpirun` of this binary ended, and what it printed.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs this binary under `mpirun -np ranks`, oversubscribing the machine's
/// cores, with `env` (`NAME=value`) set on every rank, and kills it after
/// `seconds`; prints how it ended and how long it took, after `--- mpirun -np
/// {ranks}{what}`.
fn mpirun(ranks: usize, env: Option<&str>, seconds: u32, what: &str) -> Run {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let started = Instant::now();
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=10", &seconds.to_string()])
        .args([
            "mpirun",
            "--oversubscribe",
            "--allow-run-as-root",
            "--bind-to",
            "none",
        ])
        .args(["-np", &ranks.to_string()]);
    if let Some(env) = env {
        command.args(["-x", env]);
    }
    let output = command.arg(&exe).output().expect("`timeout` runs mpirun");
    println!(
        "--- mpirun -np {ranks}{what}: {:?}, {:.1?}",
        output.status,
        started.elapsed()
    );
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The last rank dies during a dispatch (`abort`: its worker aborts the
/// process) or before it (`panic`: it panics while it holds the cluster);
/// the others are inside the dispatch. mpirun must end them all.
fn die_on_the_last_rank(fault: &str) {
    let cluster = Cluster::init().expect("MPI initializes");
    let coordinator = Coordinator::new(4);
    let last = cluster.size() - 1;
    if cluster.rank() == last && fault == "panic" {
        panic!("rank {last} panics outside a worker, as planned");
    }
    if cluster.rank() == last {
        // Dies in the middle of the dispatch, from a pool thread.
        thread::spawn(|| {
            thread::sleep(Duration::from_millis(50));
            std::process::abort();
        });
    }
    let outcome = cluster.dispatch(&coordinator, Doomed, 20_000, 10);
    println!(
        "rank {}: the dispatch returned {:?}",
        cluster.rank(),
        outcome.map(|results| results.map(|results| results.len()))
    );
}

type Check = fn(&mut Cluster, &Coordinator);

/// Every rank runs every check, in the same order.
fn run_checks() {
    let mut cluster = Cluster::init().expect("MPI initializes");
    let coordinator = Coordinator::builder()
        .actors(16)
        .threads(2)
        .build()
        .expect("a coordinator starts");
    let mut checks: Vec<(&str, Check)> = vec![
        ("even job", even_job),
        ("struct packets", struct_job),
        ("uneven job, balanced", uneven_job),
        ("small messages", small_messages),
        ("worker panic on the last rank", panic_on_last_rank),
        ("worker panic on rank 0", panic_on_rank_0),
        ("a dispatch after failures", even_job),
        ("a rank without the task's memory", missing_memory),
        ("zero batch size", zero_batch),
        ("empty job", empty_job),
    ];
    if cluster.size() >= 2 {
        checks.push(("calls that differ", mismatch));
    }
    for (name, check) in &checks {
        let started = Instant::now();
        check(&mut cluster, &coordinator);
        if cluster.rank() == 0 {
            println!("ok: {name} ({:.1?})", started.elapsed());
        }
    }
    cluster.barrier();
    if cluster.rank() == 0 {
        println!(
            "every rank of {}: {} passed, 0 failed",
            cluster.size(),
            checks.len()
        );
    }
}

fn even_job(cluster: &mut Cluster, coordinator: &Coordinator) {
    let terrain = || Terrain {
        seed: 42,
        name: "tile".into(),
    };
    coordinator.define(Tile, terrain());
    let results = cluster
        .dispatch_with(coordinator, Tile, 6000, 100, 3)
        .expect("the even job succeeds");
    match results {
        Some(results) => {
            assert_eq!(cluster.rank(), 0);
            let local = coordinator.dispatch_with(Tile, 6000, 100, 3).unwrap();
            assert_eq!(results.len(), 6000);
            assert_eq!(results.as_bytes(), local.as_bytes());
            assert_eq!(results.get(5999), local.get(5999));
        }
        None => assert_ne!(cluster.rank(), 0, "rank 0 gets the results"),
    }
}

fn struct_job(cluster: &mut Cluster, coordinator: &Coordinator) {
    let results = cluster
        .dispatch_with(coordinator, Sites, 5003, 64, 11)
        .expect("the struct job succeeds");
    if let Some(results) = results {
        let local = coordinator.dispatch_with(Sites, 5003, 64, 11).unwrap();
        assert_eq!(results.as_bytes(), local.as_bytes());
        assert_eq!(results.get(4321), Some(sites(4321, &11)));
        assert_eq!(results.packets()[7].id.get(), 7 ^ 11);
    }
}

fn uneven_job(cluster: &mut Cluster, coordinator: &Coordinator) {
    let (threads, batch) = (10_007, 64);
    // Rank 1 is much slower per task: it should end up with fewer of them.
    let slow = if cluster.rank() == 1 {
        Duration::from_micros(200)
    } else {
        Duration::ZERO
    };
    let ran = Arc::new(AtomicUsize::new(0));
    coordinator.define(
        Uneven,
        Load {
            slow,
            ran: Arc::clone(&ran),
        },
    );
    let results = cluster
        .dispatch(coordinator, Uneven, threads, batch)
        .expect("the uneven job succeeds");

    // How many task ids each rank ran, gathered on every rank.
    let ran = ran.load(Ordering::Relaxed) as u64;
    let mut counts = vec![0u64; cluster.size()];
    cluster.world().all_gather_into(&ran, &mut counts[..]);
    assert_eq!(counts.iter().sum::<u64>(), threads as u64, "{counts:?}");

    if let Some(results) = results {
        let local = coordinator.dispatch(Uneven, threads, batch).unwrap();
        assert_eq!(results.len(), threads);
        assert_eq!(results.as_bytes(), local.as_bytes());
        println!("   task ids run per rank: {counts:?} (rank 1, if any, is slow)");
    }
    if cluster.size() >= 3 {
        let fastest = counts[0].max(counts[2]);
        assert!(
            counts[1] < fastest,
            "the slow rank 1 ran as many task ids as the fastest: {counts:?}"
        );
        assert!(counts.iter().all(|&count| count > 0), "{counts:?}");
    }
}

fn small_messages(cluster: &mut Cluster, coordinator: &Coordinator) {
    // 1000 bytes is not a whole number of Tile's 29-byte packets: pieces cut
    // packets in two, and the receiver joins them.
    assert_eq!(Tile::PACKET_SIZE, 29);
    cluster.set_max_message_bytes(1000);
    coordinator.define(
        Tile,
        Terrain {
            seed: 7,
            name: "piece".into(),
        },
    );
    let results = cluster
        .dispatch_with(coordinator, Tile, 5003, 7, 11)
        .expect("the job in small messages succeeds");
    if let Some(results) = results {
        let local = coordinator.dispatch_with(Tile, 5003, 7, 11).unwrap();
        assert_eq!(results.as_bytes(), local.as_bytes());
    }
    cluster.set_max_message_bytes(usize::MAX);
    assert_eq!(cluster.max_message_bytes(), i32::MAX as usize);
}

/// Every rank gets the same error, naming `rank` and the task id whose
/// worker panicked.
fn panicking_job(cluster: &mut Cluster, coordinator: &Coordinator, rank: usize) {
    coordinator.define(
        Fragile,
        Fuse {
            lit: cluster.rank() == rank,
        },
    );
    let started = Instant::now();
    let error = cluster
        .dispatch(coordinator, Fragile, 2000, 10)
        .expect_err("a worker panics");
    let Error::ClusterWorkerPanicked {
        task,
        rank: failed,
        task_id,
        ref message,
    } = error
    else {
        panic!("expected ClusterWorkerPanicked, got {error:?}");
    };
    assert_eq!(task, "Fragile");
    assert_eq!(failed, rank);
    assert_eq!(message, &format!("boom at task {task_id}"));
    let text = error.to_string();
    assert!(text.contains(&format!("rank {rank}")), "{text}");
    assert!(text.contains(&format!("task id {task_id}")), "{text}");

    let mut task_ids = vec![0u64; cluster.size()];
    cluster
        .world()
        .all_gather_into(&(task_id as u64), &mut task_ids[..]);
    assert!(
        task_ids.iter().all(|&id| id == task_id as u64),
        "every rank names the same task id: {task_ids:?}"
    );
    if cluster.rank() == 0 {
        println!("   {text} (after {:.1?})", started.elapsed());
    }
}

fn panic_on_last_rank(cluster: &mut Cluster, coordinator: &Coordinator) {
    let last = cluster.size() - 1;
    panicking_job(cluster, coordinator, last);
}

fn panic_on_rank_0(cluster: &mut Cluster, coordinator: &Coordinator) {
    panicking_job(cluster, coordinator, 0);
}

fn missing_memory(cluster: &mut Cluster, coordinator: &Coordinator) {
    let last = cluster.size() - 1;
    if cluster.rank() != last {
        coordinator.define(Lonely, 5);
    }
    let error = cluster
        .dispatch(coordinator, Lonely, 100, 10)
        .expect_err("one rank lacks the memory");
    match &error {
        Error::ClusterRankFailed {
            task: "Lonely",
            rank,
            message,
        } => {
            assert_eq!(*rank, last);
            assert!(message.contains("coordinator.define(Lonely"), "{message}");
        }
        error => panic!("expected ClusterRankFailed, got {error:?}"),
    }
}

fn zero_batch(cluster: &mut Cluster, coordinator: &Coordinator) {
    coordinator.define(Lonely, 5);
    let error = cluster
        .dispatch(coordinator, Lonely, 100, 0)
        .expect_err("batches of 0");
    assert!(
        matches!(&error, Error::ClusterRankFailed { rank: 0, message, .. }
            if message.contains("batches of 0")),
        "{error:?}"
    );
}

fn empty_job(cluster: &mut Cluster, coordinator: &Coordinator) {
    coordinator.define(Lonely, 5);
    let results = cluster
        .dispatch(coordinator, Lonely, 0, 10)
        .expect("an empty job succeeds");
    match results {
        Some(results) => assert!(results.is_empty()),
        None => assert_ne!(cluster.rank(), 0),
    }
}

fn mismatch(cluster: &mut Cluster, coordinator: &Coordinator) {
    coordinator.define(Lonely, 5);
    let threads = if cluster.rank() == 1 { 101 } else { 100 };
    let error = cluster
        .dispatch(coordinator, Lonely, threads, 10)
        .expect_err("rank 1 asks for more task ids");
    assert_eq!(
        error,
        Error::ClusterMismatch {
            task: "Lonely",
            rank: 1,
            what: "threads",
            expected: 100,
            found: 101,
        }
    );
}
