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
//! checks that mpirun ends the job with an error instead of hanging; and
//! once more with the last rank frozen (SIGSTOP) in the middle of a long
//! dispatch, which every other rank must report as lost within the peer
//! timeout (plus 5 s), and after which mpirun must exit within 30 s, with no
//! rank process left. Last, it launches 3 ranks twice with the last rank
//! busy between calls (`late`): dispatches, then barriers; the others wait
//! for it within the join timeout, and report it as lost past it.
//!
//! Inside `.ci/test-hosts` (which sets `PARALLELIZER_TEST_HOSTS`), the same
//! runs go across its hosts, network namespaces joined by a bridge: every
//! rank the hostfile has room for (3 hosts x 2 ranks), on TCP only. There,
//! one more run cuts the last host's cable in the middle of the long
//! dispatch: rank 0 must name a rank of that host, and the ranks of that
//! host, cut off, rank 0; and one more unplugs it while packets cross it, in
//! a job of large results, where every rank must return the error all the
//! same, the cut-off ones too (their sends to rank 0 are buffered).
#![cfg(feature = "mpi")]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parallelizer::mpi::traits::*;
use parallelizer::prelude::*;
use parallelizer::{Cluster, FileOptions};

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

/// A job to a file whose start fails: its memory is left undefined on the
/// last rank.
#[task(packet = (u32,), memory = u32)]
pub struct Unopened;

#[worker(Unopened)]
fn unopened(task_id: usize, offset: &u32) -> (u32,) {
    (task_id as u32 + offset,)
}

/// Counts each actor's calls in its state.
#[task(packet = (u64,), state = u64)]
pub struct Tally;

#[worker(Tally)]
fn tally(task_id: usize, calls: &mut u64) -> (u64,) {
    *calls += 1;
    (task_id as u64,)
}

#[task(packet = (u32,))]
pub struct Doomed;

#[worker(Doomed)]
fn doomed(task_id: usize) -> (u32,) {
    thread::sleep(Duration::from_micros(200));
    (task_id as u32,)
}

/// The long job in which a rank is lost: 5 ms a task, small packets, so
/// that a chunk runs for seconds and its packets fit one small message.
#[task(packet = (u32,))]
pub struct Sleepy;

#[worker(Sleepy)]
fn sleepy(task_id: usize) -> (u32,) {
    thread::sleep(Duration::from_millis(5));
    (task_id as u32,)
}

/// The job of large results in which a host is cut off: 64 MiB a dispatch.
#[task(packet = (u64, u64, u64, u64))]
pub struct Bulk;

#[worker(Bulk)]
fn bulk(task_id: usize) -> (u64, u64, u64, u64) {
    let id = task_id as u64;
    (id, id ^ 1, id.rotate_left(7), !id)
}

/// Memory of the job written to a file across the test hosts: whether
/// its workers take their time (on the ranks) or not (the reference run).
pub struct Pace {
    pub slow: bool,
}

/// The long job written to a file, in which a host is cut off: 32-byte
/// packets, about 30 µs a task when slow (1 ms every 32 task ids).
#[task(packet = (u64, u64, u64, u64), memory = Pace)]
pub struct Paced;

#[worker(Paced)]
fn paced(task_id: usize, pace: &Pace) -> (u64, u64, u64, u64) {
    if pace.slow && task_id % 32 == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let id = task_id as u64;
    (id.wrapping_mul(0x9e37_79b9_7f4a_7c15), id, !id, id >> 3)
}

/// The task ids of the `Paced` job, in batches of `PACED_BATCH`: 96 MB.
const PACED_IDS: usize = 3_000_000;
const PACED_BATCH: usize = 1000;

/// Set (to `abort` or `panic`) for the runs in which the last rank dies,
/// to `lost` for those in which a rank is lost in the middle of a long
/// dispatch, and to `lost-bulk` for the one in which a host is cut off
/// during dispatches of large results.
const FAULT: &str = "PARALLELIZER_TEST_FAULT";

/// Where each rank of a `lost` run writes how its dispatch ended (a rank
/// cut off from mpirun cannot print).
const REPORT: &str = "PARALLELIZER_TEST_REPORT";

/// The results file of the `file-lost` and `file-resume` runs.
const FILE: &str = "PARALLELIZER_TEST_FILE";

/// Set by `.ci/test-hosts`: the directory that describes its hosts.
const TEST_HOSTS: &str = "PARALLELIZER_TEST_HOSTS";

/// The peer timeout of the `lost` runs.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

fn main() {
    let under_mpi = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    match std::env::var(FAULT) {
        Ok(fault) if under_mpi && fault.starts_with("file") => run_paced_to_file(),
        Ok(fault) if under_mpi && fault.starts_with("late") => join_late(&fault),
        Ok(fault) if under_mpi && fault == "disk-full" => fill_the_disk(),
        Ok(fault) if under_mpi && fault.starts_with("lost") => lose_a_rank(&fault),
        Ok(fault) if under_mpi => die_on_the_last_rank(&fault),
        _ if under_mpi => run_checks(),
        _ => launch(),
    }
}

/// Runs this binary under `mpirun` (on this machine with 3 ranks, then 1;
/// or across the test hosts), and checks that every rank passed; then the
/// runs in which a rank dies or is lost.
fn launch() {
    let place = Place::from_env();
    let version = Command::new("mpirun").arg("--version").output();
    if !version.is_ok_and(|output| output.status.success()) {
        panic!(
            "mpirun was not found: install Open MPI (Debian: `apt-get install openmpi-bin \
             libopenmpi-dev`), or run the workspace tests without `--features mpi`"
        );
    }
    let mut passed = 0;
    let everyone = place.ranks();
    let layouts = match place.hosts {
        Some(_) => vec![everyone],
        None => vec![everyone, 1],
    };
    for ranks in layouts {
        let run = place.mpirun(ranks, &[], 300, "");
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
        let run = place.mpirun(
            everyone,
            &[format!("{FAULT}={fault}")],
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
    // A rank that stops answering, frozen or cut off, ends the job too.
    lose_a_rank_and_check(&place, Loss::Frozen);
    passed += 1;
    // A rank busy between dispatches is waited for, within the join timeout,
    // and so is one busy before a barrier.
    for call in [LateCall::Dispatch, LateCall::Barrier] {
        join_late_and_check(&place, call);
        passed += 1;
    }
    // Rank 0's disk full in the middle of a job to a file, then resumed.
    if fill_the_disk_and_resume(&place) {
        passed += 1;
    }
    if place.hosts.is_some() {
        lose_a_rank_and_check(&place, Loss::Cut);
        lose_a_rank_and_check(&place, Loss::CutDuringTransfer);
        lose_a_host_and_resume(&place);
        passed += 3;
    }
    println!("cluster: {passed} passed, 0 failed");
}

/// Where the ranks run: this machine, or the hosts of `.ci/test-hosts`.
struct Place {
    hosts: Option<Hosts>,
}

/// The hosts of `.ci/test-hosts`.
struct Hosts {
    /// The directory that describes them.
    dir: PathBuf,
    /// How many there are.
    count: usize,
    /// The ranks each one runs.
    slots: usize,
}

impl Place {
    fn from_env() -> Place {
        let Some(dir) = std::env::var_os(TEST_HOSTS).map(PathBuf::from) else {
            return Place { hosts: None };
        };
        let hostfile = fs::read_to_string(dir.join("hostfile"))
            .unwrap_or_else(|error| panic!("{TEST_HOSTS} has no hostfile: {error}"));
        let slots: Vec<usize> = hostfile
            .lines()
            .map(|line| {
                let (_, slots) = line.split_once("slots=").expect("ADDRESS slots=N");
                slots.trim().parse().expect("a number of slots")
            })
            .collect();
        assert!(
            slots.len() >= 2,
            "the test hosts are at least 2: {hostfile}"
        );
        assert!(slots.iter().all(|&count| count == slots[0]), "{hostfile}");
        let hosts = Hosts {
            dir,
            count: slots.len(),
            slots: slots[0],
        };
        println!(
            "--- across the test hosts: {} hosts x {} ranks",
            hosts.count, hosts.slots
        );
        Place { hosts: Some(hosts) }
    }

    /// Every rank there is room for: 3 on this machine (more than its
    /// cores), each host's slots on the test hosts.
    fn ranks(&self) -> usize {
        match &self.hosts {
            Some(hosts) => hosts.count * hosts.slots,
            None => 3,
        }
    }

    /// `mpirun -np ranks` of this binary, with `env` (`NAME=value`) set on
    /// every rank, killed after `seconds`.
    fn command(&self, ranks: usize, env: &[String], seconds: u32) -> Command {
        self.command_on(ranks, env, seconds, &[])
    }

    /// [`command`](Self::command), with `options` for mpirun.
    fn command_on(&self, ranks: usize, env: &[String], seconds: u32, options: &[&str]) -> Command {
        let exe = std::env::current_exe().expect("the test binary knows its path");
        let mut command = Command::new("timeout");
        command.args(["--kill-after=10", &seconds.to_string()]);
        match &self.hosts {
            Some(hosts) => command.arg(hosts.dir.join("mpirun")),
            None => command.args(["mpirun", "--oversubscribe", "--allow-run-as-root"]),
        };
        command
            .args(options)
            .args(["--bind-to", "none"])
            .args(["-np", &ranks.to_string()]);
        for env in env {
            command.args(["-x", env]);
        }
        command.arg(exe);
        command
    }

    /// Runs `mpirun -np ranks` of this binary to its end (see
    /// [`command`](Self::command)); prints how it ended and how long it
    /// took, after `--- mpirun -np {ranks}{what}`.
    fn mpirun(&self, ranks: usize, env: &[String], seconds: u32, what: &str) -> Run {
        let started = Instant::now();
        let output = self
            .command(ranks, env, seconds)
            .output()
            .expect("`timeout` runs mpirun");
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

    /// Starts `mpirun -np ranks` of this binary (see
    /// [`command`](Self::command)), its output read line by line as it comes.
    fn spawn(&self, ranks: usize, env: &[String], seconds: u32) -> (Child, Receiver<Line>) {
        let mut child = self
            .command(ranks, env, seconds)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`timeout` runs mpirun");
        let lines = read_lines(&mut child);
        (child, lines)
    }

    /// `.ci/test-hosts SUBCOMMAND ARGS...`, for the test hosts: its output.
    fn test_hosts(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/test-hosts");
        let output = Command::new(script)
            .args(args)
            .output()
            .expect(".ci/test-hosts runs");
        assert!(
            output.status.success(),
            ".ci/test-hosts {args:?}: {:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The ids of the processes on test host `host` (1-based).
    fn pids_on(&self, host: usize) -> Vec<u32> {
        self.test_hosts(&["pids", &host.to_string()])
            .split_whitespace()
            .map(|pid| pid.parse().expect("a process id"))
            .collect()
    }
}

/// The address of test host `host` (1-based).
fn host_address(hosts: &Hosts, host: usize) -> String {
    let lines = fs::read_to_string(hosts.dir.join("hosts")).expect("the hosts' list");
    let line = lines.lines().nth(host - 1).expect("a line per host");
    line.split_whitespace()
        .nth(1)
        .expect("NAME ADDRESS ...")
        .to_string()
}

/// How one `mpirun` of this binary ended, and what it printed.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
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

/// How a rank is lost.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Loss {
    /// The last rank is stopped with SIGSTOP: frozen, not dead.
    Frozen,
    /// The last test host's cable is unplugged.
    Cut,
    /// The last test host's cable is unplugged while packets cross it:
    /// every rank returns the error as for any loss (see `Cluster`'s "Lost
    /// ranks").
    CutDuringTransfer,
}

/// A line that one of mpirun's outputs printed, and when it arrived.
struct Line {
    at: Instant,
    text: String,
    stderr: bool,
}

/// Every rank, on its own: prints its pid, then joins a long dispatch in
/// which a rank is lost (the launcher freezes it, or cuts its host off), or
/// with `lost-bulk` dispatches of 64 MiB until one fails, writes how the
/// dispatch ended to its report, and prints it. A dispatch after a loss must
/// fail at once, with the same error. Dropping the cluster then ends the MPI
/// job.
fn lose_a_rank(fault: &str) {
    let mut cluster = Cluster::init().expect("MPI initializes");
    cluster.set_peer_timeout(PEER_TIMEOUT);
    assert_eq!(cluster.peer_timeout(), PEER_TIMEOUT);
    let coordinator = Coordinator::builder()
        .actors(4)
        .threads(2)
        .build()
        .expect("a coordinator starts");
    let report = PathBuf::from(std::env::var_os(REPORT).expect("the launcher names a report"));
    let rank = cluster.rank();
    println!("rank {rank} pid {}", std::process::id());
    cluster.barrier();
    if rank == 0 {
        println!("the long dispatch started");
    }
    let outcome = if fault == "lost-bulk" {
        let mut outcome = Ok(None);
        for done in 0..30 {
            outcome = cluster
                .dispatch(&coordinator, Bulk, 2 << 20, 4096)
                .map(|_| None);
            if outcome.is_err() {
                break;
            }
            if rank == 0 {
                println!("dispatch {done} done");
            }
        }
        outcome
    } else {
        cluster.dispatch(&coordinator, Sleepy, 40_000, 10)
    };
    let line = match &outcome {
        Err(
            error @ Error::ClusterRankLost {
                rank: lost,
                silent_for,
            },
        ) => {
            let started = Instant::now();
            let again = cluster.dispatch(&coordinator, Sleepy, 40_000, 10);
            let took = started.elapsed();
            let again = match again {
                Err(same) if same == *error && took < Duration::from_millis(100) => {
                    "the same error at once".to_string()
                }
                again => format!(
                    "{:?} after {took:.1?}",
                    again.map(|results| results.map(|results| results.len()))
                ),
            };
            format!(
                "lost: rank {rank} names rank {lost}, silent for {silent_for:.1?}; again: {again}"
            )
        }
        outcome => format!(
            "unexpected: rank {rank}: {:?}",
            outcome
                .as_ref()
                .map(|results| results.as_ref().map(|results| results.len()))
        ),
    };
    fs::write(report.join(format!("rank-{rank}")), &line).expect("the report is written");
    println!("{line}");
    // Time for every rank to report before the first abort ends the job.
    thread::sleep(Duration::from_secs(1));
}

/// Loses a rank (`loss`) in the middle of a long dispatch, and checks that
/// rank 0 reports it within the peer timeout plus 5 s, that every other
/// rank that can still talk reports it too (naming the lost rank, or rank 0
/// if cut off from it), that mpirun exits with an error within 30 s, and
/// that no rank process is left.
fn lose_a_rank_and_check(place: &Place, loss: Loss) {
    let ranks = place.ranks();
    let report = std::env::temp_dir().join(format!(
        "parallelizer-cluster-test-{}-{loss:?}",
        std::process::id()
    ));
    fs::create_dir_all(&report).expect("a report directory");
    let bulk = loss == Loss::CutDuringTransfer;
    let env = [
        format!("{FAULT}={}", if bulk { "lost-bulk" } else { "lost" }),
        format!("{REPORT}={}", report.display()),
    ];
    println!("--- mpirun -np {ranks}, a rank is lost ({loss:?}), peer timeout {PEER_TIMEOUT:?}");
    let started = Instant::now();
    let (mut child, lines) = place.spawn(ranks, &env, 90);

    // Wait for every rank's pid, and for the dispatch to start (or with
    // large results, for the second one to end: the third is under way).
    let mut pids = BTreeMap::new();
    let mut output = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut dispatching = false;
    while pids.len() < ranks || !dispatching {
        let line = next_line(&lines, deadline, &mut output)
            .unwrap_or_else(|| panic!("the ranks did not start:\n{output}"));
        if let Some((rank, pid)) = parse_pid(&line.text) {
            pids.insert(rank, pid);
        }
        dispatching |= match bulk {
            false => line.text == "the long dispatch started",
            true => line.text == "dispatch 1 done",
        };
    }
    thread::sleep(Duration::from_millis(if bulk { 100 } else { 1500 }));

    // Lose a rank, or a host's ranks.
    let (lost_ranks, cut_host): (Vec<usize>, Option<usize>) = match (loss, &place.hosts) {
        (Loss::Frozen, _) => {
            let last = ranks - 1;
            let status = Command::new("kill")
                .args(["-STOP", &pids[&last].to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill -STOP {}", pids[&last]);
            println!("    froze rank {last} (pid {})", pids[&last]);
            (vec![last], None)
        }
        (Loss::Cut | Loss::CutDuringTransfer, Some(hosts)) => {
            let host = hosts.count;
            let cut = ranks_on(place, &pids, host);
            place.test_hosts(&["cable", &host.to_string(), "down"]);
            println!("    unplugged host h{host}'s cable: ranks {cut:?} cut off");
            (cut, Some(host))
        }
        (_, None) => unreachable!("only across the test hosts"),
    };
    let lost_at = Instant::now();

    // Rank 0 reports the loss.
    // Other ranks' reports are checked below, once they all wrote them.
    let named = await_report(&lines, &mut output, lost_at, "loss", "unexpected: rank 0");
    assert!(
        lost_ranks.contains(&named),
        "rank 0 named rank {named}, not one of the lost {lost_ranks:?}:\n{output}"
    );

    // mpirun ends, with an error, within 30 s.
    let status = await_exit(&mut child, &lines, &mut output, lost_at, "loss");
    let ended = lost_at.elapsed();
    while next_line(&lines, Instant::now() + Duration::from_secs(2), &mut output).is_some() {}
    println!(
        "    mpirun exited {:.1?} after the loss ({:.1?} in all): {status:?}",
        ended,
        started.elapsed()
    );
    assert!(!status.success(), "mpirun must fail:\n{output}");
    assert!(
        status.code() != Some(124) && status.code() != Some(137),
        "mpirun timed out:\n{output}"
    );

    // Every rank that could still talk reported the loss; the others (cut
    // off) named rank 0.
    for rank in 0..ranks {
        let path = report.join(format!("rank-{rank}"));
        let text = fs::read_to_string(&path).unwrap_or_default();
        // Open MPI wakes a frozen rank (SIGCONT) before it kills it: it may
        // then notice rank 0's silence in the meantime, and report it.
        let cut_off = lost_ranks.contains(&rank);
        if cut_off && loss == Loss::Frozen && text.is_empty() {
            continue;
        }
        let names = parse_lost(&text, rank)
            .unwrap_or_else(|| panic!("rank {rank} did not report the loss: {text:?}\n{output}"));
        if cut_off {
            assert_eq!(names, 0, "the lost rank {rank} must name rank 0: {text}");
        } else {
            assert!(lost_ranks.contains(&names), "rank {rank}: {text}");
        }
        assert!(
            text.ends_with("again: the same error at once"),
            "rank {rank}'s next dispatch: {text}"
        );
        if rank != 0 {
            println!("    rank {rank}: {text}");
        }
    }
    let _ = fs::remove_dir_all(&report);

    // No rank process is left, on any host.
    let gone_by = Instant::now() + Duration::from_secs(5);
    let left = loop {
        let left: Vec<(usize, u32)> = pids
            .iter()
            .filter(|(_, &pid)| is_running(pid))
            .map(|(&rank, &pid)| (rank, pid))
            .collect();
        if left.is_empty() || Instant::now() > gone_by {
            break left;
        }
        thread::sleep(Duration::from_millis(100));
    };
    if let Some(host) = cut_host {
        // What Open MPI left on the cut-off host, which the harness sweeps.
        for pid in place.pids_on(host) {
            let command = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            let command: String = command.chars().take(100).collect();
            println!("    left on the cut-off host h{host}, killed: pid {pid}: {command}");
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        place.test_hosts(&["cable", &host.to_string(), "up"]);
    }
    assert!(
        left.is_empty(),
        "rank processes left running (rank, pid): {left:?}\n{output}"
    );
}

/// Every rank, on its own, of the `file-lost` and `file-resume` runs: prints
/// its pid, then runs the slow `Paced` job into the file named by
/// [`FILE`], resuming what is there, and prints how it ended: the summary
/// (rank 0), or the loss of a rank. Dropping the cluster after a loss ends
/// the MPI job.
fn run_paced_to_file() {
    let mut cluster = Cluster::init().expect("MPI initializes");
    cluster.set_peer_timeout(PEER_TIMEOUT);
    let coordinator = Coordinator::builder()
        .actors(4)
        .threads(2)
        .build()
        .expect("a coordinator starts");
    coordinator.define(Paced, Pace { slow: true });
    let path = PathBuf::from(std::env::var_os(FILE).expect("the launcher names a file"));
    let rank = cluster.rank();
    println!("rank {rank} pid {}", std::process::id());
    cluster.barrier();
    let started = Instant::now();
    match cluster.run_to_file(&coordinator, Paced, PACED_IDS, PACED_BATCH, &path) {
        Ok(Some(summary)) => println!(
            "summary: kept {}, computed {}, total {}, in {:.1?}",
            summary.kept,
            summary.computed,
            summary.total,
            started.elapsed()
        ),
        Ok(None) => {}
        Err(Error::ClusterRankLost {
            rank: lost,
            silent_for,
        }) => {
            println!("lost: rank {rank} names rank {lost}, silent for {silent_for:.1?}");
            // Time for every rank to report before the first abort.
            thread::sleep(Duration::from_secs(1));
        }
        Err(error) => println!("unexpected: rank {rank}: {error}"),
    }
}

/// Runs the slow `Paced` job into a file across every test host, cuts the
/// last host's cable once some windows are in the file, and checks that
/// rank 0 reports the loss and that mpirun ends; then starts the same job again on
/// the remaining hosts only (the cable still unplugged), which must resume
/// after the last durable chunk, finish, and leave a file byte for byte the
/// one an uninterrupted run in one process writes.
fn lose_a_host_and_resume(place: &Place) {
    let hosts = place.hosts.as_ref().expect("only across the test hosts");
    let ranks = place.ranks();
    let dir =
        std::env::temp_dir().join(format!("parallelizer-cluster-file-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("a directory for the files");
    let path = dir.join("paced.prlz");
    let env = [
        format!("{FAULT}=file-lost"),
        format!("{FILE}={}", path.display()),
    ];
    println!("--- mpirun -np {ranks}, run_to_file, a host is cut off mid-job");
    let started = Instant::now();
    let (mut child, lines) = place.spawn(ranks, &env, 120);
    let mut output = String::new();
    let mut pids = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids.len() < ranks {
        let line = next_line(&lines, deadline, &mut output)
            .unwrap_or_else(|| panic!("the ranks did not start:\n{output}"));
        if let Some((rank, pid)) = parse_pid(&line.text) {
            pids.insert(rank, pid);
        }
    }
    // Some windows are durable: the cable goes once 24 MiB are in the file.
    let written = |path: &Path| fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while written(&path) < 24 << 20 {
        assert!(
            Instant::now() < deadline && child.try_wait().expect("mpirun's status").is_none(),
            "the job wrote {} bytes in 60 s:\n{output}",
            written(&path)
        );
        thread::sleep(Duration::from_millis(20));
    }
    let host = hosts.count;
    let cut = ranks_on(place, &pids, host);
    place.test_hosts(&["cable", &host.to_string(), "down"]);
    let lost_at = Instant::now();
    let before = written(&path);
    println!(
        "    unplugged h{host}'s cable {:.1?} after mpirun started, at {before} bytes of the \
         file: ranks {cut:?} cut off",
        started.elapsed()
    );

    let named = await_report(&lines, &mut output, lost_at, "cut", "unexpected");
    assert!(
        cut.contains(&named),
        "rank 0 named {named}, not one of {cut:?}"
    );
    let status = await_exit(&mut child, &lines, &mut output, lost_at, "cut");
    println!(
        "    mpirun exited {:.1?} after the cut: {status:?}",
        lost_at.elapsed()
    );
    assert!(!status.success(), "mpirun must fail:\n{output}");
    for pid in place.pids_on(host) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let interrupted = written(&path);

    // Again, on the remaining hosts, the cable still unplugged.
    let remaining = (hosts.count - 1) * hosts.slots;
    let on: Vec<String> = (1..hosts.count)
        .map(|host| format!("{}:{}", host_address(hosts, host), hosts.slots))
        .collect();
    let env = [
        format!("{FAULT}=file-resume"),
        format!("{FILE}={}", path.display()),
    ];
    let started = Instant::now();
    let output = place
        .command_on(remaining, &env, 180, &["--host", &on.join(",")])
        .output()
        .expect("`timeout` runs mpirun");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the resumed run failed: {:?}\n{stdout}\n{stderr}",
        output.status
    );
    let summary = stdout
        .lines()
        .find_map(|line| line.strip_prefix("summary: "))
        .unwrap_or_else(|| panic!("rank 0 printed no summary:\n{stdout}\n{stderr}"));
    let number = |name: &str| -> usize {
        let rest = &summary[summary.find(name).expect(name) + name.len() + 1..];
        rest.split(',')
            .next()
            .unwrap()
            .trim()
            .parse()
            .expect("a number")
    };
    let (kept, computed) = (number("kept"), number("computed"));
    println!(
        "    resumed on {remaining} ranks of {} hosts ({:.1?} in all): {summary}; the file had \
         {interrupted} bytes",
        hosts.count - 1,
        took
    );
    assert!(kept > 0, "the resumed run kept nothing: {summary}");
    assert_eq!(kept + computed, PACED_IDS, "{summary}");
    place.test_hosts(&["cable", &host.to_string(), "up"]);

    // The same file as an uninterrupted run's, in one process.
    let coordinator = Coordinator::new(4);
    coordinator.define(Paced, Pace { slow: false });
    let reference = dir.join("reference.prlz");
    let summary = coordinator
        .run_to_file(Paced, PACED_IDS, PACED_BATCH, &reference)
        .expect("the reference run");
    assert_eq!(summary.computed, PACED_IDS);
    let (ours, theirs) = (fs::read(&path).unwrap(), fs::read(&reference).unwrap());
    assert!(
        ours == theirs,
        "the resumed file differs from an uninterrupted run's ({} and {} bytes)",
        ours.len(),
        theirs.len()
    );
    println!(
        "    the resumed file is byte for byte an uninterrupted run's ({} bytes)",
        ours.len()
    );
    let _ = fs::remove_dir_all(&dir);
}

/// How long the last rank is busy before each call of the `late` run, and
/// the join timeout set before each (after the first).
const LATE: [(Duration, Option<Duration>); 3] = [
    (Duration::from_secs(3), None),
    (Duration::from_secs(1), Some(Duration::from_secs(2))),
    (Duration::from_secs(8), Some(Duration::from_secs(2))),
];

/// The collective call that every round of a `late` run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LateCall {
    /// `dispatch`, with `FAULT=late`.
    Dispatch,
    /// `checked_barrier`, with `FAULT=late-barrier`.
    Barrier,
}

impl LateCall {
    /// The value of [`FAULT`] that runs it.
    fn fault(self) -> &'static str {
        match self {
            LateCall::Dispatch => "late",
            LateCall::Barrier => "late-barrier",
        }
    }
}

/// Every rank of the `late` run (`fault`): three dispatches, or three
/// barriers, before each of which the last rank is busy (sleeps) for a
/// while: longer than the peer timeout without a join timeout, within the
/// join timeout, then well past it. Prints how each ended, with how long it
/// took, and after the loss how the next calls end.
fn join_late(fault: &str) {
    let call = if fault == LateCall::Barrier.fault() {
        LateCall::Barrier
    } else {
        LateCall::Dispatch
    };
    let mut cluster = Cluster::init().expect("MPI initializes");
    cluster.set_peer_timeout(PEER_TIMEOUT);
    let coordinator = Coordinator::new(2);
    let rank = cluster.rank();
    let last = cluster.size() - 1;
    let make_call = |cluster: &Cluster| match call {
        LateCall::Dispatch => cluster
            .dispatch(&coordinator, Doomed, 3000, 10)
            .map(|results| {
                if let Some(results) = results {
                    assert_eq!(results.get(2999), Some((2999,)));
                }
            }),
        LateCall::Barrier => cluster.checked_barrier(),
    };
    for (round, (busy, join_timeout)) in LATE.into_iter().enumerate() {
        cluster.set_join_timeout(join_timeout);
        assert_eq!(cluster.join_timeout(), join_timeout);
        if rank == last {
            thread::sleep(busy);
        }
        let started = Instant::now();
        let outcome = make_call(&cluster);
        let took = started.elapsed();
        match outcome {
            Ok(()) => println!("round {round}: rank {rank}: ok after {took:.1?}"),
            Err(
                error @ Error::ClusterRankLost {
                    rank: lost,
                    silent_for,
                },
            ) => {
                println!(
                    "round {round}: rank {rank} names rank {lost}, silent for {silent_for:.1?}, \
                     after {took:.1?}"
                );
                // The cluster is unusable: every later call ends at once,
                // with the same error (`barrier` without one).
                let started = Instant::now();
                let again = make_call(&cluster);
                cluster.barrier();
                let same = again.as_ref().err() == Some(&error);
                println!(
                    "then: rank {rank}: {} after {:.1?}",
                    if same { "the same error" } else { "unexpected" },
                    started.elapsed()
                );
                thread::sleep(Duration::from_secs(1));
                return;
            }
            Err(error) => println!("round {round}: rank {rank}: unexpected: {error}"),
        }
    }
}

/// The `late` run of `call`: a rank busy for longer than the peer timeout
/// between calls is waited for (no join timeout), and so is one busy within
/// the join timeout; one busy well past it is lost, within the join timeout
/// plus 3 s, on every rank that waits for it, whose next calls then fail at
/// once, and mpirun then ends.
fn join_late_and_check(place: &Place, call: LateCall) {
    let ranks = place.ranks();
    let run = place.mpirun(
        ranks,
        &[format!("{FAULT}={}", call.fault())],
        60,
        &format!(", the last rank busy between calls ({call:?})"),
    );
    let last = ranks - 1;
    let took = |line: &str| -> Duration {
        let after = line.rsplit("after ").next().expect("after T");
        let seconds = after.strip_suffix('s').expect("seconds");
        let (number, scale) = if let Some(millis) = seconds.strip_suffix('m') {
            (millis, 1e-3)
        } else if let Some(micros) = seconds.strip_suffix('µ') {
            (micros, 1e-6)
        } else {
            (seconds, 1.0)
        };
        let seconds = number.parse::<f64>().expect("a duration") * scale;
        Duration::from_secs_f64(seconds)
    };
    let line_of = |round: usize, rank: usize| {
        let prefix = format!("round {round}: rank {rank}");
        run.stdout
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line of {prefix}:\n{}\n{}", run.stdout, run.stderr))
    };
    for rank in 0..last {
        for round in 0..2 {
            let line = line_of(round, rank);
            assert!(line.contains(": ok after"), "{line}");
        }
        // Waited through the last rank's 3 s, then 1 s, of work.
        assert!(
            took(line_of(0, rank)) >= Duration::from_millis(2500),
            "{}",
            line_of(0, rank)
        );
        let line = line_of(2, rank);
        assert!(
            line.contains(&format!("names rank {last}, silent for")),
            "rank {rank} must name the late rank {last}: {line}\n{}",
            run.stdout
        );
        let waited = took(line);
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(5),
            "rank {rank} took {waited:?} to give up: {line}"
        );
        println!("    {line}");
        let prefix = format!("then: rank {rank}: ");
        let then = run
            .stdout
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line of {prefix}:\n{}", run.stdout));
        assert!(
            then.contains("the same error") && took(then) < Duration::from_millis(500),
            "after the loss, rank {rank}'s next calls must fail at once: {then}"
        );
    }
    assert!(!run.status.success(), "mpirun must fail:\n{}", run.stdout);
    assert!(
        run.status.code() != Some(124) && run.status.code() != Some(137),
        "mpirun timed out:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// The task ids of the `disk-full` runs' `Bulk` job: 12.8 MB of packets.
const FULL_IDS: usize = 400_000;

/// Every rank of the `disk-full` runs: the `Bulk` job into the file named by
/// [`FILE`] (on a small file system), synced every 1 MiB, then prints how it
/// ended; the cluster stays usable either way.
fn fill_the_disk() {
    let cluster = Cluster::init().expect("MPI initializes");
    let coordinator = Coordinator::new(2);
    let path = PathBuf::from(std::env::var_os(FILE).expect("the launcher names a file"));
    let rank = cluster.rank();
    let options = FileOptions::new().sync_bytes(1 << 20);
    let outcome = cluster.run_to_file_options(&coordinator, Bulk, FULL_IDS, 1000, &path, &options);
    match outcome {
        Ok(Some(summary)) => println!(
            "disk: rank 0: kept {}, computed {}",
            summary.kept, summary.computed
        ),
        Ok(None) => println!("disk: rank {rank}: done"),
        Err(error) => println!("disk: rank {rank}: {error:?}"),
    }
    // Still usable after rank 0's write failed.
    let results = cluster
        .dispatch(&coordinator, Bulk, 1000, 100)
        .expect("a dispatch after the job to a file");
    if let Some(results) = results {
        assert_eq!(results.get(999), Some(bulk(999)));
    }
    cluster.barrier();
}

/// Mounts a file system of 3 MiB (root only: else says so and returns
/// false) for a job to a file of 12.8 MB: rank 0's write fails when the
/// disk is full, with `WriteFailed` on rank 0 and `ClusterRankFailed` naming
/// rank 0 on the others; the file then reads as incomplete. Grown to 64 MiB,
/// the job started again resumes after the file's last whole chunk, and the
/// file is byte for byte an uninterrupted run's.
fn fill_the_disk_and_resume(place: &Place) -> bool {
    let ranks = place.ranks();
    let dir = std::env::temp_dir().join(format!("parallelizer-disk-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("a mount point");
    let mount = |options: &str| {
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|status| status.success())
    };
    if !mount("size=3m") {
        println!("--- skipped: a full disk (mounting a small tmpfs needs root)");
        let _ = fs::remove_dir(&dir);
        return false;
    }
    // Unmounted however this ends.
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
            let _ = fs::remove_dir(&self.0);
        }
    }
    let _unmount = Unmount(dir.clone());
    let path = dir.join("bulk.prlz");
    let env = [
        format!("{FAULT}=disk-full"),
        format!("{FILE}={}", path.display()),
    ];
    let run = place.mpirun(ranks, &env, 120, ", rank 0's disk full (3 MiB)");
    assert!(
        run.status.success(),
        "{:?}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    for rank in 0..ranks {
        let prefix = format!("disk: rank {rank}: ");
        let line = run
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no line of rank {rank}:\n{}", run.stdout));
        let expected = match rank {
            0 => "WriteFailed {",
            _ => "ClusterRankFailed { task: \"Bulk\", rank: 0,",
        };
        assert!(line.starts_with(expected), "rank {rank}: {line}");
        assert!(
            line.contains("No space left on device"),
            "rank {rank}: {line}"
        );
        if rank < 2 {
            println!(
                "    rank {rank}: {}",
                line.chars().take(150).collect::<String>()
            );
        }
    }
    let torn = fs::metadata(&path).expect("the file is there").len();
    let error = Results::<Bulk>::read_from(fs::File::open(&path).unwrap()).unwrap_err();
    assert!(matches!(error, Error::TruncatedFile { .. }), "{error:?}");

    assert!(
        Command::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(&dir)
            .status()
            .is_ok_and(|status| status.success()),
        "the tmpfs grows"
    );
    let run = place.mpirun(ranks, &env, 120, ", the disk grown, the job again");
    assert!(
        run.status.success(),
        "{:?}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    let line = run
        .stdout
        .lines()
        .find(|line| line.starts_with("disk: rank 0: kept "))
        .unwrap_or_else(|| panic!("no summary:\n{}", run.stdout));
    println!("    {line} (the full disk left {torn} bytes)");
    let kept: usize = line["disk: rank 0: kept ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(kept > 0, "{line}");
    let coordinator = Coordinator::new(2);
    let reference =
        std::env::temp_dir().join(format!("parallelizer-disk-{}.prlz", std::process::id()));
    coordinator
        .run_to_file(Bulk, FULL_IDS, 1000, &reference)
        .expect("the reference run");
    let same = fs::read(&path).unwrap() == fs::read(&reference).unwrap();
    let _ = fs::remove_file(&reference);
    assert!(same, "the resumed file differs from an uninterrupted run's");
    true
}

/// The ranks of `pids` (rank to pid) whose processes run on host `host`:
/// at least one, and not rank 0, which must live to report.
fn ranks_on(place: &Place, pids: &BTreeMap<usize, u32>, host: usize) -> Vec<usize> {
    let on_host = place.pids_on(host);
    let ranks: Vec<usize> = pids
        .iter()
        .filter(|(_, pid)| on_host.contains(pid))
        .map(|(&rank, _)| rank)
        .collect();
    assert!(
        !ranks.is_empty() && !ranks.contains(&0),
        "ranks on h{host}: {ranks:?}"
    );
    ranks
}

/// The rank that rank 0 names, in its report on standard output, within the
/// peer timeout + 5 s of the `what` (a loss, a cut) at `lost_at`. A line
/// that starts with `unexpected` (a report of another outcome) fails the
/// test, and so does rank 0 ending the job at once, a transfer stranded
/// (which pieces of packets small enough to arrive whole prevent).
fn await_report(
    lines: &Receiver<Line>,
    output: &mut String,
    lost_at: Instant,
    what: &str,
    unexpected: &str,
) -> usize {
    let deadline = lost_at + PEER_TIMEOUT + Duration::from_secs(5);
    loop {
        let line = next_line(lines, deadline, output).unwrap_or_else(|| {
            panic!("rank 0 did not report the {what} within {PEER_TIMEOUT:?} + 5 s:\n{output}")
        });
        assert!(
            !(line.stderr
                && line.text.starts_with("parallelizer: rank 0: ")
                && line.text.contains("was under way")),
            "rank 0 ended the job instead of returning the error: {}\n{output}",
            line.text
        );
        let named = (!line.stderr).then(|| parse_lost(&line.text, 0)).flatten();
        if let Some(named) = named {
            println!(
                "    rank 0 reported it {:.1?} after the {what}: {}",
                line.at - lost_at,
                line.text
            );
            return named;
        }
        assert!(
            !line.text.starts_with(unexpected),
            "{}\n{output}",
            line.text
        );
    }
}

/// How `mpirun` (`child`) exits, which it must within 30 s of the `what`
/// at `lost_at`; its output goes on being gathered into `output`.
fn await_exit(
    child: &mut Child,
    lines: &Receiver<Line>,
    output: &mut String,
    lost_at: Instant,
    what: &str,
) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("mpirun's status") {
            return status;
        }
        if lost_at.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            while next_line(lines, Instant::now(), output).is_some() {}
            panic!("mpirun did not exit within 30 s of the {what}:\n{output}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Every line mpirun prints, on either output, as it comes.
fn read_lines(child: &mut Child) -> Receiver<Line> {
    let (sender, receiver) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    for (output, stderr) in [
        (Box::new(stdout) as Box<dyn Read + Send>, false),
        (Box::new(stderr), true),
    ] {
        let sender = sender.clone();
        thread::spawn(move || {
            for text in BufReader::new(output).lines().map_while(Result::ok) {
                let line = Line {
                    at: Instant::now(),
                    text,
                    stderr,
                };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    receiver
}

/// The next line mpirun printed, on either output, also added to `output`;
/// `None` once `deadline` passed or mpirun's outputs closed.
fn next_line(lines: &Receiver<Line>, deadline: Instant, output: &mut String) -> Option<Line> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let line = match lines.recv_timeout(wait) {
        Ok(line) => line,
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
    };
    output.push_str(if line.stderr { "[stderr] " } else { "" });
    output.push_str(&line.text);
    output.push('\n');
    Some(line)
}

/// `rank R pid P`: (R, P).
fn parse_pid(text: &str) -> Option<(usize, u32)> {
    let (rank, pid) = text.strip_prefix("rank ")?.split_once(" pid ")?;
    Some((rank.parse().ok()?, pid.parse().ok()?))
}

/// The rank that rank `rank`'s report line `lost: rank R names rank N, ...`
/// names.
fn parse_lost(text: &str, rank: usize) -> Option<usize> {
    let rest = text.strip_prefix(&format!("lost: rank {rank} names rank "))?;
    rest.split(',').next()?.parse().ok()
}

/// Whether process `pid` is running: it exists, and is not a zombie.
fn is_running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command's closing parenthesis.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
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
        ("per-actor state on every rank", stateful_job),
        ("uneven job, balanced", uneven_job),
        ("small messages", small_messages),
        ("worker panic on the last rank", panic_on_last_rank),
        ("worker panic on rank 0", panic_on_rank_0),
        ("a dispatch after failures", even_job),
        ("a rank without the task's memory", missing_memory),
        ("zero batch size", zero_batch),
        ("empty job", empty_job),
        ("run_to_file, resumed, refused for another job", to_file),
        ("run_to_file without args", to_file_without_args),
        (
            "run_to_file, a worker panics, then resumed",
            to_file_after_a_panic,
        ),
        (
            "run_to_file opens the file once every rank joined",
            to_file_after_the_join,
        ),
        ("checked_barrier waits for every rank", checked_barrier),
    ];
    if cluster.size() >= 2 {
        checks.push(("calls that differ, dispatch against run_to_file", mismatch));
        checks.push((
            "calls that differ, barrier against dispatch",
            barrier_mismatch,
        ));
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

/// Each rank runs its chunks with its own actors' states: their calls, added
/// up over every rank, are the job's task ids, each counted once.
fn stateful_job(cluster: &mut Cluster, coordinator: &Coordinator) {
    let results = cluster
        .dispatch(coordinator, Tally, 3000, 50)
        .expect("the stateful job succeeds");
    if let Some(results) = results {
        assert_eq!(results.len(), 3000);
        assert!(results.iter().enumerate().all(|(i, (id,))| id == i as u64));
    }
    let states = coordinator.take_states(Tally);
    assert_eq!(states.len(), coordinator.actors());
    let here: u64 = states.iter().sum();
    let mut everywhere = 0_u64;
    cluster.world().all_reduce_into(
        &here,
        &mut everywhere,
        parallelizer::mpi::collective::SystemOperation::sum(),
    );
    assert_eq!(everywhere, 3000, "rank {} ran {here}", cluster.rank());
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

    // Rank 1 dispatches while the others write the job to a file.
    let path = shared_path(cluster, "mismatch");
    let error = if cluster.rank() == 1 {
        cluster.dispatch(coordinator, Lonely, 100, 10).map(|_| ())
    } else {
        cluster
            .run_to_file(coordinator, Lonely, 100, 10, &path)
            .map(|_| ())
    }
    .expect_err("rank 1 makes another call");
    assert_eq!(
        error,
        Error::ClusterMismatch {
            task: "Lonely",
            rank: 1,
            what: "call",
            expected: 1,
            found: 0,
        }
    );
    assert!(
        error.to_string().contains(
            "rank 1 called `dispatch` for task `Lonely` while rank 0 called `run_to_file`"
        ),
        "{error}"
    );
    if cluster.rank() == 0 {
        assert!(
            !path.exists(),
            "rank 0 created the file of a call that failed"
        );
    }
}

/// A checked barrier returns `Ok` on every rank, once every rank is in it:
/// a rank that arrives late is waited for.
fn checked_barrier(cluster: &mut Cluster, _coordinator: &Coordinator) {
    let last = cluster.size() - 1;
    cluster
        .checked_barrier()
        .expect("every rank passes the barrier");
    // Every rank is out of the barrier above at about the same time.
    let late = Duration::from_millis(300);
    if cluster.rank() == last {
        thread::sleep(late);
    }
    let started = Instant::now();
    cluster
        .checked_barrier()
        .expect("every rank passes the barrier, the last one late");
    if cluster.rank() != last {
        assert!(
            started.elapsed() >= late - Duration::from_millis(50),
            "rank {} left the barrier after {:?}, before the last rank was in it",
            cluster.rank(),
            started.elapsed()
        );
    }
    cluster.barrier();
}

/// One rank calls the barrier while the others dispatch, then the reverse:
/// every rank's call fails with a mismatch of calls that names `barrier`
/// (with no task on the ranks in the barrier), and the cluster goes on.
fn barrier_mismatch(cluster: &mut Cluster, coordinator: &Coordinator) {
    coordinator.define(Lonely, 5);
    for in_barrier in [0, 1] {
        let here = cluster.rank() == in_barrier;
        let error = if here {
            cluster.checked_barrier()
        } else {
            cluster.dispatch(coordinator, Lonely, 100, 10).map(|_| ())
        }
        .expect_err("one rank calls the barrier, the others dispatch");
        // Rank 1 is the lowest whose call differs from rank 0's either way.
        let (expected, found) = if in_barrier == 0 { (2, 0) } else { (0, 2) };
        assert_eq!(
            error,
            Error::ClusterMismatch {
                task: if here { "" } else { "Lonely" },
                rank: 1,
                what: "call",
                expected,
                found,
            }
        );
        let named = match (in_barrier, here) {
            (0, true) => "rank 1 called `dispatch` while rank 0 called `barrier`: every",
            (0, false) => {
                "rank 1 called `dispatch` for task `Lonely` while rank 0 called `barrier`: every"
            }
            (_, true) => "rank 1 called `barrier` while rank 0 called `dispatch`: every",
            (_, false) => {
                "rank 1 called `barrier` while rank 0 called `dispatch` for task `Lonely`: every"
            }
        };
        assert!(error.to_string().contains(named), "{error}");
    }
    // A mismatch leaves the cluster usable.
    let results = cluster
        .dispatch(coordinator, Lonely, 100, 10)
        .expect("a dispatch after the mismatch");
    if let Some(results) = results {
        assert_eq!(results.get(99), Some((104,)));
    }
    cluster
        .checked_barrier()
        .expect("a barrier after the mismatch");
}

/// A path for a results file named `name`, the same file name on every rank
/// (only rank 0's path is used: it alone writes the file).
fn shared_path(cluster: &Cluster, name: &str) -> PathBuf {
    let mut pid = std::process::id();
    cluster.world().process_at_rank(0).broadcast_into(&mut pid);
    std::env::temp_dir().join(format!("parallelizer-cluster-{pid}-{name}.prlz"))
}

/// A file written by the cluster, in windows of 1 MiB, is byte for byte the
/// one `Coordinator::run_to_file` writes; cut short anywhere, it resumes
/// after its last whole chunk and ends the same; complete, it is kept; a
/// file of another job is refused on every rank.
fn to_file(cluster: &mut Cluster, coordinator: &Coordinator) {
    let (threads, batch, scale) = (200_003, 100, 5);
    coordinator.define(
        Tile,
        Terrain {
            seed: 9,
            name: "file".into(),
        },
    );
    let path = shared_path(cluster, "tile");
    let options = FileOptions::new().sync_bytes(1 << 20);
    let run = |cluster: &Cluster| {
        cluster.run_to_file_with_options(coordinator, Tile, threads, batch, scale, &path, &options)
    };
    let summary = run(cluster).expect("the job to a file succeeds");
    let expected = if cluster.rank() == 0 {
        let summary = summary.expect("rank 0 gets the summary");
        assert_eq!((summary.computed, summary.kept), (threads, 0));
        let local = path.with_extension("local");
        let _ = fs::remove_file(&local);
        let here = coordinator
            .run_to_file_with(Tile, threads, batch, scale, &local)
            .unwrap();
        assert_eq!(here.computed, threads);
        let expected = fs::read(&local).unwrap();
        fs::remove_file(&local).unwrap();
        assert!(
            fs::read(&path).unwrap() == expected,
            "the cluster's file differs"
        );
        expected
    } else {
        assert_eq!(summary, None);
        Vec::new()
    };

    // Cut short: inside the header, mid-chunk, right after a chunk. A
    // chunk holds 1 MiB of packets, between its count and its checksum;
    // the last one is short, and the trailer is 24 bytes.
    let per_chunk = (1 << 20) / Tile::PACKET_SIZE;
    let chunk = 4 + per_chunk * Tile::PACKET_SIZE + 4;
    let last = 4 + (threads % per_chunk) * Tile::PACKET_SIZE + 4;
    let prefix = match cluster.rank() {
        0 => expected.len() - (threads / per_chunk) * chunk - last - 24,
        _ => 0,
    };
    for cut in [prefix / 2, prefix + 2 * chunk + 1001, prefix + 3 * chunk] {
        if cluster.rank() == 0 {
            let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(cut as u64).unwrap();
        }
        let summary = run(cluster).expect("the job resumes");
        if let Some(summary) = summary {
            let kept = (cut.saturating_sub(prefix) / chunk) * per_chunk;
            assert_eq!(
                (summary.kept, summary.computed),
                (kept, threads - kept),
                "cut at {cut}"
            );
            assert!(
                fs::read(&path).unwrap() == expected,
                "resumed at {cut}: the file differs"
            );
        }
    }
    // Complete: kept, nothing computed.
    let summary = run(cluster).expect("a complete file");
    if let Some(summary) = summary {
        assert_eq!((summary.kept, summary.computed), (threads, 0));
    }

    // Another job: refused on every rank, the file untouched.
    let error = cluster
        .run_to_file_with(coordinator, Tile, threads - 1, batch, scale, &path)
        .expect_err("a file of another job");
    match &error {
        Error::JobMismatch {
            task: "Tile",
            path: named,
            reason,
        } => {
            // Rank 0's path (on the test hosts, each host has a temporary
            // directory of its own: only the file's name is the same).
            assert_eq!(Path::new(named).file_name(), path.file_name());
            if cluster.rank() == 0 {
                assert_eq!(Path::new(named), path);
            }
            assert!(reason.contains("task ids"), "{reason}");
        }
        error => panic!("expected JobMismatch, got {error:?}"),
    }
    if cluster.rank() == 0 {
        assert!(fs::read(&path).unwrap() == expected, "the file was touched");
        fs::remove_file(&path).unwrap();
    }
    // The cluster goes on.
    cluster.barrier();
}

/// A task without args: the file records none, as the coordinator's does.
fn to_file_without_args(cluster: &mut Cluster, coordinator: &Coordinator) {
    let path = shared_path(cluster, "bulk");
    let summary = cluster
        .run_to_file(coordinator, Bulk, 100_000, 3000, &path)
        .expect("the job to a file succeeds");
    if let Some(summary) = summary {
        assert_eq!(summary.total, 100_000);
        let local = path.with_extension("local");
        coordinator
            .run_to_file(Bulk, 100_000, 3000, &local)
            .unwrap();
        assert!(fs::read(&path).unwrap() == fs::read(&local).unwrap());
        let results = Results::<Bulk>::read_from(fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(results.get(99_999), Some(bulk(99_999)));
        fs::remove_file(&path).unwrap();
        fs::remove_file(&local).unwrap();
    }
}

/// A worker that panics fails the job to a file on every rank; the file
/// keeps what was written, and the job resumes once the fault is gone.
fn to_file_after_a_panic(cluster: &mut Cluster, coordinator: &Coordinator) {
    let path = shared_path(cluster, "fragile");
    let last = cluster.size() - 1;
    let (threads, batch) = (6000, 10);
    coordinator.define(
        Fragile,
        Fuse {
            lit: cluster.rank() == last,
        },
    );
    let error = cluster
        .run_to_file(coordinator, Fragile, threads, batch, &path)
        .expect_err("a worker panics");
    assert!(
        matches!(error, Error::ClusterWorkerPanicked { task: "Fragile", rank, .. } if rank == last),
        "{error:?}"
    );
    coordinator.define(Fragile, Fuse { lit: false });
    let summary = cluster
        .run_to_file(coordinator, Fragile, threads, batch, &path)
        .expect("the job resumes");
    if let Some(summary) = summary {
        assert_eq!(summary.kept + summary.computed, threads);
        let results = Results::<Fragile>::read_from(fs::File::open(&path).unwrap()).unwrap();
        assert!(results
            .iter()
            .enumerate()
            .all(|(id, (value,))| value == id as u32));
        fs::remove_file(&path).unwrap();
    }
}

/// Rank 0 opens the file only once every rank has joined the call: a call
/// that another rank cannot take part in leaves no file behind; a file that
/// rank 0 cannot open fails the call with `WriteFailed` on rank 0 and
/// `ClusterRankFailed` naming rank 0 on the others; the cluster goes on.
fn to_file_after_the_join(cluster: &mut Cluster, coordinator: &Coordinator) {
    let path = shared_path(cluster, "unopened");
    let last = cluster.size() - 1;
    if cluster.rank() != last {
        coordinator.define(Unopened, 7);
    }
    let error = cluster
        .run_to_file(coordinator, Unopened, 1000, 10, &path)
        .expect_err("the last rank lacks the memory");
    assert!(
        matches!(&error, Error::ClusterRankFailed { rank, message, .. }
            if *rank == last && message.contains("coordinator.define(Unopened")),
        "{error:?}"
    );
    if cluster.rank() == 0 {
        assert!(
            !path.exists(),
            "rank 0 created the file of a call that failed"
        );
    }

    // Rank 0's path is a directory, which it cannot open as a file.
    coordinator.define(Unopened, 7);
    if cluster.rank() == 0 {
        fs::create_dir_all(&path).unwrap();
    }
    let error = cluster
        .run_to_file(coordinator, Unopened, 1000, 10, &path)
        .expect_err("rank 0 cannot open a directory as its file");
    if cluster.rank() == 0 {
        assert!(
            matches!(
                &error,
                Error::WriteFailed {
                    task: "Unopened",
                    ..
                }
            ),
            "{error:?}"
        );
        fs::remove_dir(&path).unwrap();
    } else {
        assert!(
            matches!(&error, Error::ClusterRankFailed { task: "Unopened", rank: 0, message }
                if message.contains("could not write the results file")),
            "{error:?}"
        );
    }
    let summary = cluster
        .run_to_file(coordinator, Unopened, 1000, 10, &path)
        .expect("the job to a file, once rank 0 can open it");
    if let Some(summary) = summary {
        assert_eq!((summary.computed, summary.kept), (1000, 0));
        let results = Results::<Unopened>::read_from(fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(results.get(999), Some((1006,)));
        fs::remove_file(&path).unwrap();
    }
}
