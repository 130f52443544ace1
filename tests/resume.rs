//! Resumable long jobs (`Coordinator::run_to_file`): a child process
//! running a 50-million-id job is killed with SIGKILL at random moments,
//! each run resuming the last, and the finished file is byte for byte an
//! uninterrupted run's; a file of another job is never overwritten; a torn
//! tail is dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parallelizer::prelude::*;
use parallelizer::FileOptions;

/// The job of the kill test: 50 million ids, one byte each.
const IDS: usize = 50_000_000;
const BATCH: usize = 1 << 16;

#[task(packet = (u8,))]
pub struct Mix;

#[worker(Mix)]
fn mix(task_id: usize) -> (u8,) {
    let mut x = (task_id as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((x ^ (x >> 31)) as u8,)
}

#[task(packet = (u32,), args = Offset)]
pub struct Shifted;

#[derive(Debug, Clone, Copy, PartialEq, Eq, WireType)]
pub struct Offset {
    pub by: u32,
}

#[worker(Shifted)]
fn shifted(task_id: usize, args: &Offset) -> (u32,) {
    (task_id as u32 + args.by,)
}

const CHILD: &str = "PARALLELIZER_RESUME_CHILD";

fn coordinator() -> Coordinator {
    Coordinator::builder().actors(8).threads(2).build().unwrap()
}

fn options() -> FileOptions {
    // Synced at every 1 MiB chunk: a kill loses at most one chunk.
    FileOptions::new().sync_bytes(1 << 20)
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("parallelizer-resume-{}-{name}", std::process::id()))
}

/// In the child process (the test binary run again with `CHILD` set): runs
/// the job into the file `CHILD` names, and prints what it did.
#[test]
fn child_runs_the_job_when_asked() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let summary = coordinator()
        .run_to_file_options(Mix, IDS, BATCH, &path, &options())
        .unwrap();
    println!(
        "SUMMARY computed={} kept={}",
        summary.computed, summary.kept
    );
}

/// xorshift64*, seeded from the clock (printed, to rerun a failure).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn spawn_child(path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_runs_the_job_when_asked",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn killed_runs_resume_to_the_uninterrupted_file() {
    let reference = temp("reference.prlz");
    let path = temp("killed.prlz");
    let _ = std::fs::remove_file(&reference);
    let _ = std::fs::remove_file(&path);

    let started = Instant::now();
    let summary = coordinator()
        .run_to_file_options(Mix, IDS, BATCH, &reference, &options())
        .unwrap();
    let uninterrupted = started.elapsed();
    assert_eq!(
        (summary.computed, summary.kept, summary.total),
        (IDS, 0, IDS)
    );
    let expected = std::fs::read(&reference).unwrap();
    std::fs::remove_file(&reference).unwrap();
    let chunk = (1 << 20) + 8;
    // Header, schema and job record: the chunks and the trailer follow.
    let prefix = expected.len() - 24 - (IDS / (1 << 20)) * chunk - (8 + IDS % (1 << 20));

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    eprintln!(
        "seed {seed}; uninterrupted run {uninterrupted:?}, {} bytes",
        expected.len()
    );
    // Kills at a random moment: once the file has grown by a random
    // number of bytes past what the last run left (few: while the child
    // starts up, scans the file or drops its torn tail), polled every
    // millisecond.
    let mut kills = Vec::new();
    let mut last_len = 0;
    let deadline = Instant::now() + Duration::from_secs(50);
    while kills.len() < 10 {
        assert!(Instant::now() < deadline, "too slow: {kills:?}");
        // Up to 1.6 times an even share of what is left for the kills
        // still to come, so that they spread over the whole job and never
        // reach its end.
        let share = (expected.len() - last_len) * 8 / 5 / (11 - kills.len());
        let target = last_len + (rng.next() % share as u64) as usize;
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len() as usize);
        let mut child = spawn_child(&path);
        let started = Instant::now();
        let mut ended = false;
        while size() < target {
            if child.try_wait().unwrap().is_some() {
                ended = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if ended || child.try_wait().unwrap().is_some() {
            // It finished first: start over, so that every kill counts.
            eprintln!("a run ended before its kill; starting over");
            std::fs::remove_file(&path).unwrap();
            kills.clear();
            last_len = 0;
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let after = started.elapsed();
        let len = size();
        let whole = len.saturating_sub(prefix) / chunk;
        eprintln!(
            "run {}: killed {after:?} after its start, aiming at {target} bytes; \
             file {len} bytes ({whole} whole chunks, {} ids)",
            kills.len() + 1,
            whole << 20
        );
        kills.push((after, len));
        // Each run resumed the last: the file never shrinks by more than a
        // torn tail (less than one chunk).
        assert!(len + chunk >= last_len, "{len} after {last_len}");
        last_len = len.max(last_len);
    }
    let output = spawn_child(&path).wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest may print the test's name on the same line.
    let line = stdout
        .lines()
        .find_map(|line| line.find("SUMMARY").map(|at| &line[at..]))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    eprintln!("final run: {line}");
    let found = std::fs::read(&path).unwrap();
    assert!(found == expected, "the resumed file differs");
    let results = Results::<Mix>::read_from(&found[..]).unwrap();
    assert_eq!(results.len(), IDS);
    assert_eq!(results.get(12_345_678), Some(mix(12_345_678)));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_torn_tail_is_dropped_and_a_complete_file_kept() {
    let coordinator = coordinator();
    let path = temp("torn.prlz");
    let _ = std::fs::remove_file(&path);
    let ids = 3_000_000;
    coordinator.run_to_file(Mix, ids, 1000, &path).unwrap();
    let whole = std::fs::read(&path).unwrap();
    // Cut anywhere: the file resumes to the same bytes.
    for cut in [0, 5, 40, 2_000_000, whole.len() - 30, whole.len() - 1] {
        std::fs::write(&path, &whole[..cut]).unwrap();
        let error = Results::<Mix>::read_from(&whole[..cut]).unwrap_err();
        assert!(!matches!(error, Error::JobMismatch { .. }));
        let summary = coordinator.run_to_file(Mix, ids, 1000, &path).unwrap();
        assert_eq!(summary.computed + summary.kept, ids, "cut at {cut}");
        assert_eq!(std::fs::read(&path).unwrap(), whole, "cut at {cut}");
    }
    // A corrupted chunk and everything after it are computed again.
    let mut corrupt = whole.clone();
    let at = whole.len() - 1_500_000;
    corrupt[at] ^= 1;
    std::fs::write(&path, &corrupt).unwrap();
    let summary = coordinator.run_to_file(Mix, ids, 1000, &path).unwrap();
    assert!(summary.kept > 0 && summary.computed > 0, "{summary:?}");
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    // Complete: kept at once.
    let summary = coordinator.run_to_file(Mix, ids, 1000, &path).unwrap();
    assert_eq!((summary.computed, summary.kept), (0, ids));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_file_of_another_job_is_an_error_and_left_alone() {
    let coordinator = coordinator();
    coordinator.define(Shifted, ());
    let path = temp("other.prlz");
    let _ = std::fs::remove_file(&path);
    let summary = coordinator
        .run_to_file_with(Shifted, 10_000, 100, Offset { by: 7 }, &path)
        .unwrap();
    assert_eq!(summary.computed, 10_000);
    let bytes = std::fs::read(&path).unwrap();
    let results = Results::<Shifted>::read_from(&bytes[..]).unwrap();
    assert_eq!(results.get(5), Some((12,)));
    let refused = |error: Error, says: &str| match error {
        Error::JobMismatch { reason, .. } => assert!(reason.contains(says), "{reason}"),
        other => panic!("{other:?}"),
    };
    let other_args = coordinator.run_to_file_with(Shifted, 10_000, 100, Offset { by: 8 }, &path);
    refused(other_args.unwrap_err(), "args");
    let other_ids = coordinator.run_to_file_with(Shifted, 9_999, 100, Offset { by: 7 }, &path);
    refused(other_ids.unwrap_err(), "9999");
    let other_batch = coordinator.run_to_file_with(Shifted, 10_000, 10, Offset { by: 7 }, &path);
    refused(other_batch.unwrap_err(), "batches of 100");
    refused(
        coordinator
            .run_to_file(Mix, 10_000, 100, &path)
            .unwrap_err(),
        "header",
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // A plain results file, or not a results file at all.
    results
        .write_to(std::fs::File::create(&path).unwrap())
        .unwrap();
    let plain = std::fs::read(&path).unwrap();
    let error = coordinator.run_to_file_with(Shifted, 10_000, 100, Offset { by: 7 }, &path);
    refused(error.unwrap_err(), "plain");
    assert_eq!(std::fs::read(&path).unwrap(), plain);
    std::fs::write(&path, b"hello, world").unwrap();
    refused(
        coordinator.run_to_file(Mix, 10, 1, &path).unwrap_err(),
        "not a",
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"hello, world");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn every_byte_of_a_job_file_is_checked_by_readers() {
    let coordinator = coordinator();
    let path = temp("flip.prlz");
    let _ = std::fs::remove_file(&path);
    coordinator
        .run_to_file_with(Shifted, 300, 7, Offset { by: 1 }, &path)
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let results = Results::<Shifted>::read_from(&bytes[..]).unwrap();
    assert_eq!(results.get(299), Some((300,)));
    for at in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        assert!(
            Results::<Shifted>::read_from(&flipped[..]).is_err(),
            "byte {at} flipped"
        );
        assert!(
            Results::<Shifted>::read_from(&bytes[..at]).is_err(),
            "cut at {at}"
        );
    }
}

/// Panics at task id `at`, if set: a job stopped by an error.
pub struct Fuse {
    pub at: Option<usize>,
}

#[task(packet = (u32,), memory = Fuse)]
pub struct Fused;

#[worker(Fused)]
fn fused(task_id: usize, fuse: &Fuse) -> (u32,) {
    assert!(fuse.at != Some(task_id), "blown at {task_id}");
    ((task_id as u32).wrapping_mul(3),)
}

#[test]
fn a_job_stopped_by_an_error_resumes() {
    let coordinator = coordinator();
    let path = temp("fused.prlz");
    let reference = temp("fused-reference.prlz");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&reference);
    let ids = 2_000_000;
    coordinator.define(Fused, Fuse { at: None });
    coordinator
        .run_to_file(Fused, ids, 1000, &reference)
        .unwrap();
    coordinator.set_memory(
        Fused,
        Fuse {
            at: Some(1_234_567),
        },
    );
    let error = coordinator
        .run_to_file(Fused, ids, 1000, &path)
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::WorkerPanicked {
                task_id: 1_234_567,
                ..
            }
        ),
        "{error:?}"
    );
    let partial = std::fs::read(&path).unwrap();
    assert!(Results::<Fused>::read_from(&partial[..]).is_err());
    coordinator.set_memory(Fused, Fuse { at: None });
    let summary = coordinator.run_to_file(Fused, ids, 1000, &path).unwrap();
    // The whole chunks before id 1 234 567: 262 144 ids of 4 bytes each.
    assert_eq!(summary.kept, 4 * 262_144, "{summary:?}");
    assert_eq!(summary.computed, ids - summary.kept);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&reference).unwrap()
    );
    // A zero batch size is refused before the file is touched.
    let error = coordinator.run_to_file(Fused, ids, 0, &path).unwrap_err();
    assert!(matches!(error, Error::ZeroBatchSize { .. }));
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&reference).unwrap();
}

#[test]
fn options_change_when_the_file_is_synced_not_its_bytes() {
    let coordinator = coordinator();
    let (a, b) = (temp("options-a.prlz"), temp("options-b.prlz"));
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    coordinator.run_to_file(Mix, 1_500_000, 999, &a).unwrap();
    // Synced at every batch, with a progress bar (drawn only on a terminal).
    let every_batch = FileOptions::new()
        .sync_bytes(0)
        .sync_interval(Duration::ZERO)
        .progress_bar(true);
    let summary = coordinator
        .run_to_file_options(Mix, 1_500_000, 999, &b, &every_batch)
        .unwrap();
    assert_eq!(
        (summary.computed, summary.kept, summary.total),
        (1_500_000, 0, 1_500_000)
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();
}
