//! Running task ids: the one primitive ([`fill`]) that runs a range of task
//! ids into their packet slots with one actor's state, and the scheduler
//! ([`Job`]) that cuts a range into batches and deals them to actors, each
//! batch with its actor's state. Blocking dispatches, spawned dispatches,
//! streams and cluster chunks all run through here.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::buffer::{resize, BufferPool, PacketBuffer};
use crate::control::{self, Control};
use crate::error::Error;
use crate::state;
use crate::task::{Task, Worker};
use crate::trace;

/// Runs task ids `ids` into `slots`, slot `i` getting task id
/// `ids.start + i`, every call with `state`, the state of the actor that
/// runs them. A panicking worker ends the fill with
/// [`Error::WorkerPanicked`] naming its task id; the slots before it are
/// filled, the rest are not, and the state is left as the panic left it.
pub(crate) fn fill<T: Worker>(
    ids: Range<usize>,
    slots: &mut [T::Packet],
    memory: &T::Memory,
    args: &T::Args,
    state: &mut T::State,
) -> Result<(), Error> {
    debug_assert_eq!(ids.len(), slots.len());
    let mut task_id = ids.start;
    control::catch(|| {
        for slot in slots.iter_mut() {
            *slot = T::encode(T::run_with_state(task_id, memory, args, state));
            task_id += 1;
        }
    })
    .map_err(|message| Error::WorkerPanicked {
        task: T::NAME,
        task_id,
        message,
    })
}

/// The size in bytes of `count` packets of `T`, if it fits in memory's
/// address space.
pub(crate) fn buffer_len<T: Task>(count: usize) -> Result<usize, Error> {
    count
        .checked_mul(T::PACKET_SIZE)
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or(Error::ResultsTooLarge {
            task: T::NAME,
            threads: count,
            packet_size: T::PACKET_SIZE,
        })
}

/// Checks a batch size.
pub(crate) fn check_batch<T: Task>(batch: usize) -> Result<(), Error> {
    if batch == 0 {
        return Err(Error::ZeroBatchSize { task: T::NAME });
    }
    Ok(())
}

/// A job: task ids `ids` in batches of `batch` (batch `k` holds ids
/// `k * batch ..`, counted from task id 0, and runs on actor `k % actors`
/// with that actor's state), with everything it needs, owned, so it can move
/// to another thread. The states are lent to each run.
pub(crate) struct Job<T: Worker> {
    ids: Range<usize>,
    batch: usize,
    actors: usize,
    memory: Arc<T::Memory>,
    args: Arc<T::Args>,
    control: Arc<Control>,
    /// The state set whose states the job's batches use, if any.
    own: Option<usize>,
    /// The state sets that the job's caller held when it waits for the job
    /// (see [`state`]): the job's batches hold them too.
    inherited: Vec<usize>,
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
    /// A job, once its batch size is checked.
    pub fn new(
        ids: Range<usize>,
        batch: usize,
        actors: usize,
        memory: Arc<T::Memory>,
        args: Arc<T::Args>,
        control: Arc<Control>,
    ) -> Result<Self, Error> {
        check_batch::<T>(batch)?;
        Ok(Job {
            ids,
            batch,
            actors: actors.max(1),
            memory,
            args,
            control,
            own: None,
            inherited: Vec::new(),
        })
    }

    /// Marks the state set `own` (the job's states) and those its caller
    /// holds, `inherited`, as held by the job's batches, so that a worker
    /// that would wait for one of them fails instead.
    pub fn hold(&mut self, own: Option<usize>, inherited: Vec<usize>) {
        self.own = own;
        self.inherited = inherited;
    }

    /// Marks what the job's batches hold on this thread, until dropped: once
    /// per stretch of batches that a thread runs, not per batch.
    #[inline]
    fn holding(&self) -> state::Holding {
        state::hold([
            self.own.as_slice(),
            &self.inherited,
            self.control.waiters_held(),
        ])
    }

    /// Runs the whole job into a buffer from `buffers`, recycled when
    /// possible, with the actors' `states` (one per actor).
    pub fn run(
        &self,
        buffers: &Arc<BufferPool>,
        states: &mut [T::State],
        runner: Runner<'_>,
    ) -> Result<PacketBuffer<T>, Error> {
        let len = buffer_len::<T>(self.ids.len())?;
        let bytes = buffers.take(len).ok_or(Error::AllocationFailed {
            task: T::NAME,
            bytes: len,
        })?;
        // Wrapped first, so that a failed job's buffer is recycled too.
        let mut packets = PacketBuffer::new(bytes, Arc::downgrade(buffers));
        self.fill_all(packets.slots_mut(), states, runner)?;
        Ok(packets)
    }

    /// Runs the whole job into `packets`, reusing its buffer. On error the
    /// buffer is left empty.
    pub fn run_into(
        &self,
        packets: &mut PacketBuffer<T>,
        states: &mut [T::State],
        runner: Runner<'_>,
    ) -> Result<(), Error> {
        let outcome = buffer_len::<T>(self.ids.len()).and_then(|len| {
            resize(packets.bytes_mut(), len).ok_or(Error::AllocationFailed {
                task: T::NAME,
                bytes: len,
            })?;
            self.fill_all(packets.slots_mut(), states, runner)
        });
        if outcome.is_err() {
            packets.bytes_mut().clear();
        }
        outcome
    }

    /// Drops the job's memory and args where a panic in their `Drop` is
    /// contained. Called once the job's outcome is delivered.
    pub fn release(self) {
        control::drop_caught(self);
    }

    /// Runs every batch, writing each packet into its slot.
    fn fill_all(
        &self,
        slots: &mut [T::Packet],
        states: &mut [T::State],
        runner: Runner<'_>,
    ) -> Result<(), Error> {
        debug_assert_eq!(slots.len(), self.ids.len());
        debug_assert_eq!(states.len(), self.actors);
        let span = trace::dispatch(T::NAME, self.ids.len(), self.batch, self.actors);
        let _entered = trace::enter(&span);
        match runner {
            Runner::Caller(pool) => {
                let held = self.holding();
                let done_here = self.run_if_cheap(&span, slots, states, pool.current_num_threads());
                drop(held);
                if done_here < slots.len() && !self.control.stopped() {
                    pool.install(|| self.run_on_pool(&span, slots, states, done_here));
                }
            }
            Runner::Pool => self.run_on_pool(&span, slots, states, 0),
        }
        self.control.take_failure().map_or(Ok(()), Err)
    }

    /// The index in `slots` of the first batch boundary after slot `from`
    /// (the end if none).
    fn next_boundary(&self, from: usize, len: usize) -> usize {
        let id = self.ids.start + from;
        ((id + 1).next_multiple_of(self.batch) - self.ids.start).min(len)
    }

    /// Runs the job's first task ids on this thread, in task-id order (so
    /// each actor's batches still run one after another), for as long as
    /// finishing here looks cheaper than handing the rest to the pool's
    /// `threads` threads: a cheap job thus runs here entirely. Pieces double
    /// in size without crossing a batch boundary, and the clock is read once
    /// the tasks run since the last reading reach a quarter of all run so
    /// far, so a job that turns out costly loses about a quarter of its
    /// first tasks' time. Returns how many task ids ran here.
    fn run_if_cheap(
        &self,
        span: &trace::Span,
        slots: &mut [T::Packet],
        states: &mut [T::State],
        threads: usize,
    ) -> usize {
        let len = slots.len();
        let started = Instant::now();
        let (mut ran, mut next_check) = (0, 1);
        // The actor of the batch holding slot `ran`, kept up to date without
        // dividing: the next batch is the next actor's.
        let mut actor = self.actor(0);
        while ran < len && !self.control.stopped() {
            let boundary = self.next_boundary(ran, len);
            let piece = ran.max(1).min(boundary - ran);
            self.traced_batch(span, ran, &mut slots[ran..ran + piece], &mut states[actor]);
            ran += piece;
            if ran == boundary {
                actor += 1;
                if actor == self.actors {
                    actor = 0;
                }
            }
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

    /// Runs slots `start..` on the current pool: batch k on actor
    /// k % actors with that actor's state, each actor's batches in order.
    /// The batch holding slot `start` may have begun on the caller's thread.
    fn run_on_pool(
        &self,
        span: &trace::Span,
        slots: &mut [T::Packet],
        states: &mut [T::State],
        start: usize,
    ) {
        let (batch, actors) = (self.batch, self.actors);
        if start == slots.len() {
            return;
        }
        let _held = self.holding();
        let boundary =
            ((self.ids.start + start).next_multiple_of(batch) - self.ids.start).min(slots.len());
        let packet_bytes = slots.len() * T::PACKET_SIZE;
        let (head, tail) = slots[start..].split_at_mut(boundary - start);
        let listed = tail.len().div_ceil(batch) + 1;
        if listed.saturating_mul(size_of::<(usize, &mut [T::Packet])>()) > packet_bytes / 20 {
            // Tiny batches: listing them would cost more than 5% of the
            // packets. Run rounds of `actors` consecutive batches instead, one
            // per actor, round after round, so each actor's batches still run
            // in order; nothing is allocated. The first batch's rest runs
            // first. Batch `i` of every round runs on actor
            // `(first + i) % actors`, where `first` is the tail's first
            // batch's actor.
            if !head.is_empty() {
                let state = &mut states[self.actor(start)];
                self.traced_batch(span, start, head, state);
            }
            if tail.is_empty() {
                return;
            }
            // Rotated so that batch `i` of every round and state `i` are one
            // actor's; rotated back afterwards.
            let first_actor = self.actor(boundary);
            states.rotate_left(first_actor);
            for (r, round) in tail.chunks_mut(batch.saturating_mul(actors)).enumerate() {
                if self.control.stopped() {
                    break;
                }
                let first = boundary + r * batch * actors;
                round
                    .par_chunks_mut(batch)
                    .zip(states.par_iter_mut())
                    .enumerate()
                    .for_each_init(
                        || self.holding(),
                        |_held, (i, (slots, state))| {
                            if !self.control.stopped() {
                                self.traced_batch(span, first + i * batch, slots, state);
                            }
                        },
                    );
            }
            states.rotate_right(first_actor);
            return;
        }
        // Slot indices of each batch's first packet, with its slots.
        let mut batches: Vec<(usize, &mut [T::Packet])> = (!head.is_empty())
            .then_some((start, head))
            .into_iter()
            .chain(
                tail.chunks_mut(batch)
                    .enumerate()
                    .map(|(i, slots)| (boundary + i * batch, slots)),
            )
            .collect();

        // Sorting the batches by actor makes each actor's batches one
        // contiguous lane, which runs them in order on one thread at a time,
        // with the actor's state: the lanes take the states in actor order.
        let actor = |first: usize| self.actor(first);
        batches.sort_unstable_by_key(|&(first, _)| (actor(first), first));
        let mut states = states.iter_mut().enumerate();
        let lanes: Vec<_> = batches
            .chunk_by_mut(|a, b| actor(a.0) == actor(b.0))
            .map(|lane| {
                let lane_actor = actor(lane[0].0);
                let state = states
                    .by_ref()
                    .find_map(|(index, state)| (index == lane_actor).then_some(state))
                    .unwrap_or_else(|| unreachable!("the lanes are in actor order"));
                (state, lane)
            })
            .collect();
        lanes.into_par_iter().for_each(|(state, lane)| {
            let _held = self.holding();
            for (first, slots) in lane.iter_mut() {
                if self.control.stopped() {
                    return;
                }
                self.traced_batch(span, *first, slots, state);
            }
        });
    }

    /// The actor that runs the batch holding slot `index`.
    fn actor(&self, index: usize) -> usize {
        ((self.ids.start + index) / self.batch) % self.actors
    }

    /// Runs the slots from `index` on (one batch, or the rest of one) with
    /// their actor's state, inside a span naming the actor; a failure stops
    /// the job.
    fn traced_batch(
        &self,
        span: &trace::Span,
        index: usize,
        slots: &mut [T::Packet],
        state: &mut T::State,
    ) {
        let first_id = self.ids.start + index;
        let _batch = trace::batch(span, T::NAME, first_id, slots.len(), self.actor(index));
        match fill::<T>(
            first_id..first_id + slots.len(),
            slots,
            &self.memory,
            &self.args,
            state,
        ) {
            Ok(()) => self.control.finished(slots.len()),
            Err(error) => self.control.stop(error),
        }
    }
}
