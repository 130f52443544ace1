//! Running one job: cutting task ids into batches, dealing batches to actors,
//! and writing packets straight into the merged buffer.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rayon::ThreadPool;
use zerocopy::FromBytes;

use crate::buffers::{resize, BufferPool};
use crate::error::Error;
use crate::results::Results;
use crate::task::{Task, Worker};
use crate::trace;

/// The shape of a job, checked before anything runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub threads: usize,
    pub batch: usize,
    pub actors: usize,
}

impl Shape {
    /// Checks the batch size.
    pub fn new<T: Task>(threads: usize, batch: usize, actors: usize) -> Result<Self, Error> {
        if batch == 0 {
            return Err(Error::ZeroBatchSize { task: T::NAME });
        }
        Ok(Shape {
            threads,
            batch,
            actors,
        })
    }

    /// The result buffer's size, if it fits in memory's address space.
    fn buffer_len<T: Task>(&self) -> Result<usize, Error> {
        self.threads
            .checked_mul(T::PACKET_SIZE)
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or(Error::ResultsTooLarge {
                task: T::NAME,
                threads: self.threads,
                packet_size: T::PACKET_SIZE,
            })
    }
}

/// Shared between a running job, its handle and its coordinator: asks the
/// job to stop at the next batch boundary, and counts finished tasks.
#[derive(Debug)]
pub(crate) struct Control {
    task: &'static str,
    total: usize,
    stop: AtomicBool,
    done: AtomicUsize,
    failure: Mutex<Option<Error>>,
    started: Instant,
    /// Nanoseconds after `started` at which the job times out; `NO_DEADLINE`
    /// if it never does. Read once per batch, so the clock is read only by
    /// jobs that have a deadline.
    deadline: AtomicU64,
}

const NO_DEADLINE: u64 = u64::MAX;

impl Control {
    pub fn new(task: &'static str, total: usize) -> Self {
        Control {
            task,
            total,
            stop: AtomicBool::new(false),
            done: AtomicUsize::new(0),
            failure: Mutex::new(None),
            started: Instant::now(),
            deadline: AtomicU64::new(NO_DEADLINE),
        }
    }

    /// Stops the job at its next batch boundary; the first reason wins.
    pub fn stop(&self, reason: Error) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert(reason);
        self.stop.store(true, Ordering::Release);
    }

    /// Makes the job time out at `deadline` (checked at batch boundaries).
    pub fn set_deadline(&self, deadline: Instant) {
        let nanos = deadline.saturating_duration_since(self.started).as_nanos();
        self.deadline.store(
            u64::try_from(nanos).unwrap_or(NO_DEADLINE - 1),
            Ordering::Relaxed,
        );
    }

    /// Whether the job must stop before its next batch.
    fn stopped(&self) -> bool {
        if self.stop.load(Ordering::Acquire) {
            return true;
        }
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline != NO_DEADLINE && self.started.elapsed().as_nanos() >= u128::from(deadline) {
            self.stop(Error::TimedOut {
                task: self.task,
                after: Duration::from_nanos(deadline),
            });
            return true;
        }
        false
    }

    fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// How far the job has come.
    pub fn progress(&self) -> Progress {
        Progress {
            done: self.done.load(Ordering::Relaxed),
            total: self.total,
        }
    }
}

/// How far a dispatch has come: task ids finished out of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Task ids finished so far (counted a batch at a time).
    pub done: usize,
    /// Task ids in the dispatch.
    pub total: usize,
}

impl Progress {
    /// The finished share, from 0.0 to 1.0 (1.0 for an empty dispatch).
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }
}

/// Everything a job needs to run, owned, so it can move to another thread.
pub(crate) struct Job<T: Worker> {
    pub shape: Shape,
    pub memory: Arc<T::Memory>,
    pub args: T::Args,
    pub control: Arc<Control>,
}

/// Where a job's batches run.
#[derive(Clone, Copy)]
pub(crate) enum Runner<'a> {
    /// The caller waits for the job: what is too cheap to be worth a hand-off
    /// runs on its thread, the rest on this pool.
    Caller(&'a ThreadPool),
    /// The job already runs on its pool (a spawned dispatch).
    Pool,
}

/// About what handing a job to the pool and joining it costs: a blocking
/// job runs on the caller's thread unless the pool would save more than this.
const HANDOFF: Duration = Duration::from_micros(20);

/// Timings shorter than this say little: reading the clock alone takes tens
/// of nanoseconds.
const CLOCK_RESOLUTION: Duration = Duration::from_nanos(500);

impl<T: Worker> Job<T> {
    /// Runs the whole job and returns its results, in a buffer recycled
    /// through `buffers` when possible.
    pub fn run(self, buffers: &Arc<BufferPool>, runner: Runner<'_>) -> Result<Results<T>, Error> {
        let len = self.shape.buffer_len::<T>()?;
        let bytes = buffers.take(len).ok_or(Error::AllocationFailed {
            task: T::NAME,
            bytes: len,
        })?;
        // Built first, so that a failed job's buffer is recycled too.
        let mut results = Results::from_filled(bytes, Arc::downgrade(buffers));
        self.fill(results.buffer_mut(), runner)?;
        Ok(results)
    }

    /// Runs the whole job into `results`, reusing its buffer. On error the
    /// results are left empty.
    pub fn run_into(self, results: &mut Results<T>, runner: Runner<'_>) -> Result<(), Error> {
        let buffer = results.buffer_mut();
        let outcome = self.shape.buffer_len::<T>().and_then(|len| {
            resize(buffer, len).ok_or(Error::AllocationFailed {
                task: T::NAME,
                bytes: len,
            })?;
            self.fill(buffer, runner)
        });
        if outcome.is_err() {
            buffer.clear();
        }
        outcome
    }

    /// Runs every batch, writing each packet into its slot of `bytes`.
    fn fill(&self, bytes: &mut [u8], runner: Runner<'_>) -> Result<(), Error> {
        let Shape {
            threads,
            batch,
            actors,
        } = self.shape;
        let Ok(slots) = <[T::Packet]>::mut_from_bytes(bytes) else {
            unreachable!("the buffer holds `threads` unaligned packets")
        };
        debug_assert_eq!(slots.len(), threads);
        let span = trace::dispatch(T::NAME, threads, batch, actors);
        let _entered = trace::enter(&span);

        match runner {
            Runner::Caller(pool) => {
                let done_here = self.run_if_cheap(&span, slots, pool.current_num_threads());
                if done_here < slots.len() && !self.control.stopped() {
                    pool.install(|| self.run_on_pool(&span, slots, done_here));
                }
            }
            Runner::Pool => self.run_on_pool(&span, slots, 0),
        }
        self.control.take_failure().map_or(Ok(()), Err)
    }

    /// Runs the job's first task ids on this thread, in task-id order (so
    /// each actor's batches still run one after another), for as long as
    /// finishing here looks cheaper than handing the rest to the pool's
    /// `threads` threads: a cheap job thus runs here entirely. Pieces double
    /// in size without crossing a batch boundary, and the clock is read once
    /// the tasks run since the last reading reach a quarter of all run so
    /// far, so a job that turns out costly loses about a quarter of its
    /// first tasks' time. Returns how many task ids ran here.
    fn run_if_cheap(&self, span: &trace::Span, slots: &mut [T::Packet], threads: usize) -> usize {
        let (batch, len) = (self.shape.batch, slots.len());
        let started = Instant::now();
        let (mut ran, mut next_check) = (0, 1);
        while ran < len && !self.control.stopped() {
            let boundary = (ran + 1).next_multiple_of(batch).min(len);
            let piece = ran.max(1).min(boundary - ran);
            self.traced_batch(span, ran, &mut slots[ran..ran + piece]);
            ran += piece;
            if ran < next_check || ran == len {
                continue;
            }
            next_check = ran + (ran / 4).max(1);
            let elapsed = started.elapsed();
            // Time the pool would save on the rest: (threads - 1) / threads
            // of it, at the pace so far.
            let rest = elapsed.as_nanos() * (len - ran) as u128 / ran as u128;
            let saved = rest * (threads.max(1) - 1) as u128 / threads.max(1) as u128;
            if elapsed >= CLOCK_RESOLUTION && saved > HANDOFF.as_nanos() {
                break;
            }
        }
        ran
    }

    /// Runs task ids `start..` on the current pool: batch k on actor
    /// k % actors, each actor's batches in order. Batch 0 may have begun on the caller's thread.
    fn run_on_pool(&self, span: &trace::Span, slots: &mut [T::Packet], start: usize) {
        let Shape { batch, actors, .. } = self.shape;
        let boundary = start.next_multiple_of(batch).min(slots.len());
        let packet_bytes = slots.len() * T::PACKET_SIZE;
        let (head, tail) = slots[start..].split_at_mut(boundary - start);
        let listed = tail.len().div_ceil(batch) + 1;
        if listed.saturating_mul(size_of::<(usize, &mut [T::Packet])>()) > packet_bytes / 20 {
            // Tiny batches: listing them would cost more than 5% of the
            // packets. Run rounds of `actors` consecutive batches instead, one
            // per actor, round after round, so each actor's batches still run
            // in order; nothing is allocated. Batch 0's rest runs first.
            if !head.is_empty() {
                self.traced_batch(span, start, head);
            }
            for (r, round) in tail.chunks_mut(batch.saturating_mul(actors)).enumerate() {
                if self.control.stopped() {
                    return;
                }
                let first_id = boundary + r * batch * actors;
                round
                    .par_chunks_mut(batch)
                    .enumerate()
                    .for_each(|(i, slots)| {
                        if !self.control.stopped() {
                            self.traced_batch(span, first_id + i * batch, slots);
                        }
                    });
            }
            return;
        }
        let mut batches: Vec<(usize, &mut [T::Packet])> = (!head.is_empty())
            .then_some((start, head))
            .into_iter()
            .chain(
                tail.chunks_mut(batch)
                    .enumerate()
                    .map(|(i, slots)| (boundary + i * batch, slots)),
            )
            .collect();

        let actor = |first_id: usize| (first_id / batch) % actors;
        if start.div_ceil(batch) + batches.len() <= actors {
            // Each actor runs one batch at most: no order to keep.
            batches.par_iter_mut().for_each(|(first_id, slots)| {
                if !self.control.stopped() {
                    self.traced_batch(span, *first_id, slots);
                }
            });
            return;
        }
        // Sorting the batches by actor makes each actor's batches one
        // contiguous lane, which runs them in order on one thread at a time.
        batches.sort_unstable_by_key(|&(first_id, _)| (actor(first_id), first_id));
        let lanes: Vec<_> = batches
            .chunk_by_mut(|a, b| actor(a.0) == actor(b.0))
            .collect();
        lanes.into_par_iter().for_each(|lane| {
            for (first_id, slots) in lane.iter_mut() {
                if self.control.stopped() {
                    return;
                }
                self.traced_batch(span, *first_id, slots);
            }
        });
    }

    /// Runs the batch (or the rest of the batch) that starts at `first_id`,
    /// inside a span naming its actor.
    fn traced_batch(&self, span: &trace::Span, first_id: usize, slots: &mut [T::Packet]) {
        let actor = (first_id / self.shape.batch) % self.shape.actors;
        let _batch = trace::batch(span, T::NAME, first_id, slots.len(), actor);
        self.run_batch(first_id, slots);
    }

    /// Runs one batch; a panicking worker stops the job with an error that
    /// names the task id.
    fn run_batch(&self, first_id: usize, slots: &mut [T::Packet]) {
        let memory = &*self.memory;
        let args = &self.args;
        let mut task_id = first_id;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            for slot in slots.iter_mut() {
                *slot = T::encode(T::run(task_id, memory, args));
                task_id += 1;
            }
        }));
        match outcome {
            Ok(()) => {
                self.control.done.fetch_add(slots.len(), Ordering::Relaxed);
            }
            Err(payload) => self.control.stop(Error::WorkerPanicked {
                task: T::NAME,
                task_id,
                message: panic_message(payload.as_ref()),
            }),
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}
