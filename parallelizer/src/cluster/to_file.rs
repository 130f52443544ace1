//! A cluster job streamed into a results file on rank 0, and resumed from
//! it: [`Cluster::run_to_file`](super::Cluster::run_to_file).
//!
//! Rank 0 opens the file before the job starts, with the writer of
//! `Coordinator::run_to_file` ([`JobWriter`]): it verifies what the file
//! holds, drops a torn tail, and learns the task id the job resumes at (a
//! file of another job fails the start on every rank). The job then runs as
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
use std::thread;
use std::time::Instant;

use super::heartbeat::Heartbeat;
use super::link::Idle;
use super::share::Share;
use super::{leader, Begun, Cluster, Follower};
use crate::coordinator::Coordinator;
use crate::error::Error;
use crate::persist::write_failed;
use crate::results::Results;
use crate::resume::{self, ArgsBytes, FileOptions, JobWriter, Opened, RunSummary};
use crate::task::Worker;

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
    let local = Cluster::memory::<T>(coordinator, batch).and_then(|memory| {
        let opened = if cluster.rank == 0 {
            let file = resume::open::<T>(path)?;
            let name = path.display().to_string();
            Some(JobWriter::<T, _>::open(
                file,
                &name,
                threads,
                batch,
                &args_bytes,
                options,
            )?)
        } else {
            None
        };
        Ok((memory, opened))
    });
    let first = match cluster.begin::<T>(heart, threads, batch, local.as_ref().err())? {
        Begun::Leader => None,
        Begun::Follower(batches) => Some(batches),
        Begun::Over => return Ok(None),
    };
    // No rank failed to prepare, this one neither.
    let (memory, opened) = local?;
    let job = cluster.share::<T>(coordinator, threads, batch, memory, args);
    if let Some(batches) = first {
        return Follower::new(heart, job).run(batches).map(|()| None);
    }
    let writer = match opened {
        Some(Opened::Resume(writer)) => writer,
        _ => {
            // A complete file: nothing to compute.
            leader::end(heart, None)?;
            return Ok(Some(RunSummary {
                computed: 0,
                kept: threads,
                total: threads,
            }));
        }
    };
    let lanes = coordinator.threads().min(coordinator.actors());
    let mut appender = Appender::new(writer);
    let outcome = windows(cluster, heart, &job, lanes, &mut appender, options);
    let (writer, written) = appender.into_writer(heart);
    let outcome = match (outcome, written) {
        // The other ranks know already.
        (Err(error), _) => Err(error),
        (Ok(()), Err(error)) => Err(tell(heart, error)),
        (Ok(()), Ok(())) => Ok(()),
    };
    if let Err(error) = outcome {
        writer.stop();
        return Err(error);
    }
    match beating(heart, move || writer.finish()) {
        Ok(summary) => {
            leader::end(heart, None)?;
            Ok(Some(summary))
        }
        Err(error) => Err(tell(heart, error)),
    }
}

/// Rank 0 runs the batches after those the file keeps, a window at a time,
/// and has each window's packets appended to the file and synced while the
/// next window runs. An error is told to the other ranks.
fn windows<T: Worker>(
    cluster: &Cluster,
    heart: &mut Heartbeat<'_>,
    job: &Share<'_, T>,
    lanes: usize,
    appender: &mut Appender<T>,
    options: &FileOptions,
) -> Result<(), Error> {
    let plan = &job.plan;
    let kept = appender.kept;
    let mut next = kept / plan.batch;
    // The ids of the first window that the file already holds.
    let mut skip = kept - next * plan.batch;
    let batch_bytes = plan.batch.saturating_mul(T::PACKET_SIZE).max(1);
    // Enough batches for every rank's pool, however few bytes between syncs.
    let fewest = cluster.size.saturating_mul(lanes).saturating_mul(4).max(1);
    let most = (options.bytes_between_syncs() / batch_bytes).max(fewest);
    let mut size = most;
    while next < plan.batches {
        let window = next..(next + size).min(plan.batches);
        let ids = plan.ids(&window);
        let started = Instant::now();
        let bytes = if cluster.size == 1 {
            job.run_here(0, &window)?
        } else {
            let mut bytes = match cluster.buffer::<T>(ids.len() * T::PACKET_SIZE) {
                Ok(bytes) => bytes,
                Err(error) => return Err(tell(heart, error)),
            };
            leader::lead_window(heart, job.window(&window), ids.start, &mut bytes)?;
            bytes
        };
        // A window that took longer than the time between syncs makes the
        // next one shorter, in proportion; a quick one, longer again.
        let took = started.elapsed().as_secs_f64().max(1e-3);
        let ratio = options.time_between_syncs().as_secs_f64() / took;
        size = ((size as f64 * ratio) as usize).clamp(fewest, most);
        if let Err(error) = appender.append(heart, cluster.results::<T>(bytes), skip) {
            return Err(tell(heart, error));
        }
        skip = 0;
        next = window.end;
    }
    Ok(())
}

/// A window's write: the writer back, and how the write went.
type Written<T> = (Box<JobWriter<T, File>>, Result<(), Error>);

/// Rank 0's file, to which each window's packets are appended and synced on
/// a thread of their own, while the next window runs.
struct Appender<T: Worker> {
    /// The task ids the file held when it was opened.
    kept: usize,
    /// The writer, while no window is being written.
    idle: Option<Box<JobWriter<T, File>>>,
    /// The window being written, which gives the writer back.
    busy: Option<thread::JoinHandle<Written<T>>>,
}

impl<T: Worker> Appender<T> {
    fn new(writer: Box<JobWriter<T, File>>) -> Self {
        Appender {
            kept: writer.kept(),
            idle: Some(writer),
            busy: None,
        }
    }

    /// Starts appending `results`, but their first `skip` packets (which
    /// the file holds), once the window before is written: the error of
    /// that window's write, if it failed.
    fn append(
        &mut self,
        heart: &mut Heartbeat<'_>,
        results: Results<T>,
        skip: usize,
    ) -> Result<(), Error> {
        self.settle(heart)?;
        let mut writer = self.idle.take().expect("no window is being written");
        let write = move || {
            let outcome = writer
                .write(&results.packets()[skip..])
                .and_then(|()| writer.sync());
            (writer, outcome)
        };
        let spawned = thread::Builder::new()
            .name("parallelizer-file".into())
            .spawn(write)
            .map_err(write_failed::<T>)?;
        self.busy = Some(spawned);
        Ok(())
    }

    /// Waits for the window being written, if any, beating meanwhile: how
    /// its write went.
    fn settle(&mut self, heart: &mut Heartbeat<'_>) -> Result<(), Error> {
        let Some(busy) = self.busy.take() else {
            return Ok(());
        };
        let mut idle = Idle::default();
        while !busy.is_finished() {
            heart.tick();
            idle.pause();
        }
        let (writer, outcome) = busy
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.idle = Some(writer);
        outcome
    }

    /// The writer, once the last window's write is over, and how it went.
    fn into_writer(mut self, heart: &mut Heartbeat<'_>) -> Written<T> {
        let outcome = self.settle(heart);
        let writer = self.idle.take().expect("no window is being written");
        (writer, outcome)
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

/// Runs `work` (a write to the file, which may take a while) on a thread of
/// its own while this thread keeps beating, so that the other ranks, which
/// wait for rank 0, do not take it for lost.
fn beating<R: Send>(heart: &mut Heartbeat<'_>, work: impl FnOnce() -> R + Send) -> R {
    thread::scope(|scope| {
        let worker = scope.spawn(work);
        let mut idle = Idle::default();
        while !worker.is_finished() {
            heart.tick();
            idle.pause();
        }
        match worker.join() {
            Ok(outcome) => outcome,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
