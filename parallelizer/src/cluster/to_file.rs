//! A cluster job streamed into a results file on rank 0, and resumed from
//! it: [`Cluster::run_to_file`](super::Cluster::run_to_file).
//!
//! Once every rank has joined the call, rank 0 opens the file with the
//! writer of `Coordinator::run_to_file` ([`JobWriter`]), on a thread of its
//! own while it beats: it verifies what the file holds, drops a torn tail,
//! and learns the task id the job resumes at (a file of another job fails
//! the call on every rank). Verifying happens after the join so that however
//! long it takes on a large file, the other ranks, which already heard from
//! rank 0, do not count it against their join timeout. The job then runs as
//! one dispatch cut into *windows*, ranges of whole batches of about the
//! bytes between two syncs: rank 0 hands out the chunks of one window at a
//! time, and once all its packets are in, has them appended to the file and
//! synced on a thread of its own while it hands out the next window's (a
//! window waits for the write of the one before, beating meanwhile). The
//! other ranks see a dispatch like any other, which only hands out the
//! batches that remain; they wait for the next window's chunks as for any
//! answer, watched and watching.

use std::fs::File;
use std::path::Path;
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::Instant;

use super::heartbeat::Heartbeat;
use super::link::Idle;
use super::protocol::Collective;
use super::share::Share;
use super::{leader, Begun, Cluster, Follower};
use crate::coordinator::Coordinator;
use crate::error::Error;
use crate::results::Results;
use crate::resume::{self, resume_point, ArgsBytes, FileOptions, JobWriter, Opened, RunSummary};
use crate::task::{Task, Worker};

/// What a job to a file is: its shape, its args' bytes as the file records
/// them, where it goes and how often it syncs.
pub(super) struct FileJob<'p, T: Worker> {
    pub(super) threads: usize,
    pub(super) batch: usize,
    pub(super) args: T::Args,
    pub(super) args_bytes: ArgsBytes,
    pub(super) path: &'p Path,
    pub(super) options: &'p FileOptions,
}

/// This rank's side of `Cluster::run_to_file`: the summary on rank 0,
/// `None` on the other ranks.
pub(super) fn run<T: Worker>(
    cluster: &Cluster,
    heart: &mut Heartbeat<'_>,
    coordinator: &Coordinator,
    job: FileJob<'_, T>,
) -> Result<Option<RunSummary>, Error> {
    let FileJob {
        threads,
        batch,
        args,
        args_bytes,
        path,
        options,
    } = job;
    let local = Cluster::memory::<T>(coordinator, batch);
    let failed = local.as_ref().err();
    let first = match cluster.begin::<T>(heart, Collective::RunToFile, threads, batch, failed)? {
        Begun::Leader => None,
        Begun::Follower(batches) => Some(batches),
        Begun::Over => return Ok(None),
    };
    // No rank failed to prepare, this one neither.
    let memory = local?;
    let job = cluster.share::<T>(coordinator, threads, batch, memory, args);
    if let Some(batches) = first {
        return Follower::new(heart, job).run(batches).map(|()| None);
    }
    // Every rank has joined and is watched: rank 0 verifies the file while
    // it beats, and the others wait for their first chunk meanwhile.
    let name = path.display().to_string();
    let opened = beating::<T, _>(heart, || {
        let file = resume::open::<T>(path)?;
        JobWriter::<T, _>::open(file, &name, threads, batch, &args_bytes, options)
    });
    let mut writer = match opened.and_then(|opened| opened) {
        Ok(Opened::Resume(writer)) => writer,
        Ok(Opened::Complete) => {
            // Nothing to compute.
            leader::end(heart, None)?;
            return Ok(Some(RunSummary::complete(threads)));
        }
        Err(error) => return Err(tell(heart, error)),
    };
    let lanes = coordinator.threads().min(coordinator.actors());
    let kept = writer.kept();
    let written = thread::scope(|scope| {
        let appender = Appender::Idle(&mut *writer);
        windows(cluster, heart, &job, lanes, kept, scope, appender, options)
    });
    if let Err(error) = written {
        // The other ranks know already.
        writer.stop();
        return Err(error);
    }
    // If no thread can be started, the writer is dropped, which leaves
    // whole chunks unsynced: the next run verifies them.
    match beating::<T, _>(heart, move || writer.finish()).and_then(|summary| summary) {
        Ok(summary) => {
            leader::end(heart, None)?;
            Ok(Some(summary))
        }
        Err(error) => Err(tell(heart, error)),
    }
}

/// Rank 0 runs the batches after the `kept` task ids that the file holds, a
/// window at a time,
/// and has each window's packets appended to the file and synced on a
/// thread of `scope` while the next window runs; returns once the last
/// window's write is over. An error is told to the other ranks.
#[allow(clippy::too_many_arguments)]
fn windows<'s, T: Worker>(
    cluster: &Cluster,
    heart: &mut Heartbeat<'_>,
    job: &Share<'_, T>,
    lanes: usize,
    kept: usize,
    scope: &'s Scope<'s, '_>,
    mut appender: Appender<'s, T>,
    options: &FileOptions,
) -> Result<(), Error> {
    let plan = &job.plan;
    let (mut next, mut skip) = resume_point(kept, plan.batch);
    let batch_bytes = plan.batch.saturating_mul(T::PACKET_SIZE).max(1);
    // Enough batches for every rank's pool, however few bytes between syncs.
    let fewest = cluster.size.saturating_mul(lanes).saturating_mul(4).max(1);
    let most = (options.bytes_between_syncs() / batch_bytes).max(fewest);
    let mut size = most;
    while next < plan.batches {
        let window = next..(next + size).min(plan.batches);
        let started = Instant::now();
        let bytes = match run_window(cluster, heart, job, &window) {
            Ok(bytes) => bytes,
            Err(error) => {
                // The first error is the job's; the write still ends.
                let _ = appender.settle(heart);
                return Err(error);
            }
        };
        // A window that took longer than the time between syncs makes the
        // next one shorter, in proportion; a quick one, longer again.
        let took = started.elapsed().as_secs_f64().max(1e-3);
        let ratio = options.time_between_syncs().as_secs_f64() / took;
        size = ((size as f64 * ratio) as usize).clamp(fewest, most);
        let (writer, written) = appender.settle(heart);
        if let Err(error) = written {
            return Err(tell(heart, error));
        }
        appender = match Appender::start(scope, writer, cluster.results::<T>(bytes), skip) {
            Ok(appender) => appender,
            Err(error) => return Err(tell(heart, error)),
        };
        skip = 0;
        next = window.end;
    }
    let (_, written) = appender.settle(heart);
    written.map_err(|error| tell(heart, error))
}

/// Rank 0's side of `window`: its packets, from every rank. An error is
/// told to the other ranks.
fn run_window<T: Worker>(
    cluster: &Cluster,
    heart: &mut Heartbeat<'_>,
    job: &Share<'_, T>,
    window: &std::ops::Range<usize>,
) -> Result<Vec<u8>, Error> {
    if cluster.size == 1 {
        return job.run_here(0, window);
    }
    let ids = job.plan.ids(window);
    let mut bytes = match cluster.buffer::<T>(ids.len() * T::PACKET_SIZE) {
        Ok(bytes) => bytes,
        Err(error) => return Err(tell(heart, error)),
    };
    leader::lead_window(heart, job.window(window), ids.start, &mut bytes)?;
    Ok(bytes)
}

/// A window's write: the writer back, and how the write went.
type Written<'s, T> = (&'s mut JobWriter<T, File>, Result<(), Error>);

/// Rank 0's file between two windows: idle, or the last window's packets
/// being appended and synced on a thread of their own while the next window
/// runs.
enum Appender<'s, T: Worker> {
    /// No write is under way.
    Idle(&'s mut JobWriter<T, File>),
    /// A window's write, which gives the writer back.
    Writing(ScopedJoinHandle<'s, Written<'s, T>>),
}

impl<'s, T: Worker> Appender<'s, T> {
    /// Starts appending `results`, but their first `skip` packets (which
    /// the file holds), and syncing them, on a thread of `scope`: an error
    /// if no thread can be started.
    fn start(
        scope: &'s Scope<'s, '_>,
        writer: &'s mut JobWriter<T, File>,
        results: Results<T>,
        skip: usize,
    ) -> Result<Self, Error> {
        let write = move || {
            let outcome = writer
                .write(&results.packets()[skip..])
                .and_then(|()| writer.sync());
            (writer, outcome)
        };
        spawn::<T, _>(scope, write).map(Appender::Writing)
    }

    /// Waits for the write under way, if any, beating meanwhile: the
    /// writer, and how that write went.
    fn settle(self, heart: &mut Heartbeat<'_>) -> Written<'s, T> {
        match self {
            Appender::Idle(writer) => (writer, Ok(())),
            Appender::Writing(write) => wait(heart, write),
        }
    }
}

/// Ends the job on every other rank, which waits for rank 0, with rank 0's
/// `error`; returns it (or the loss of a rank, if one fell silent).
fn tell(heart: &mut Heartbeat<'_>, error: Error) -> Error {
    match leader::end(heart, Some(&error)) {
        Ok(()) => error,
        Err(lost) => lost,
    }
}

/// Starts `work` (a task `T`'s file being opened or written) on a thread of
/// `scope`: [`Error::WriteFailed`] if the system cannot start one.
fn spawn<'s, T: Task, R: Send + 's>(
    scope: &'s Scope<'s, '_>,
    work: impl FnOnce() -> R + Send + 's,
) -> Result<ScopedJoinHandle<'s, R>, Error> {
    thread::Builder::new()
        .name("parallelizer-file".into())
        .spawn_scoped(scope, work)
        .map_err(|error| Error::WriteFailed {
            task: T::NAME,
            kind: error.kind(),
            message: format!(
                "could not start the thread that writes the file ({error}); free some \
                 threads or processes on rank 0's host"
            ),
        })
}

/// Waits for `work`, on a thread of its own, to end, while this thread
/// keeps beating, so that the other ranks, which wait for rank 0, do not
/// take it for lost: its outcome (its panic resumes here).
fn wait<R>(heart: &mut Heartbeat<'_>, work: ScopedJoinHandle<'_, R>) -> R {
    let mut idle = Idle::default();
    while !work.is_finished() {
        heart.tick();
        idle.pause();
    }
    work.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs `work` (the file of task `T` being opened or written, which may
/// take a while) on a thread of its own while this thread keeps beating:
/// its outcome, or [`Error::WriteFailed`] if no thread can be started.
fn beating<T: Task, R: Send>(
    heart: &mut Heartbeat<'_>,
    work: impl FnOnce() -> R + Send,
) -> Result<R, Error> {
    thread::scope(|scope| Ok(wait(heart, spawn::<T, _>(scope, work)?)))
}
