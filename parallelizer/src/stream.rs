//! Streaming a job batch by batch, in task-id order, in bounded memory.
//!
//! A stream runs its batches on the coordinator's pool in *lanes*: pool jobs
//! that claim batches in task-id order, one at a time, and never block. A
//! lane stops when the window is full; the consumer starts lanes again as it
//! takes batches, so a slow consumer leaves the pool free for other work
//! instead of tying threads up.

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use rayon::ThreadPool;

use crate::buffer::{packet_views, BufferPool, PacketBuffer};
use crate::control::{self, Abort, Ticket};
use crate::error::Error;
use crate::run;
use crate::task::{Task, Worker};

/// The batches of a job in task-id order, each handed out as soon as it and
/// every batch before it are done; returned by
/// [`Coordinator::stream`](crate::Coordinator::stream).
///
/// Each item is a [`Batch`] or the error that ended the stream; after an
/// error, or after the last batch, the stream yields `None`.
///
/// # Memory
///
/// At most [`window`](Self::window) batches are *ahead* of the consumer:
/// claimed by the pool (running, or done and waiting to be taken) but not yet
/// returned by [`next`](Iterator::next). When the window is full, no further
/// batch starts until the consumer takes one, so a slow consumer slows the
/// workers down instead of growing memory. A stream therefore holds at most
/// `window + h` batch buffers of `batch * PACKET_SIZE` bytes, where `h` is
/// the number of batches the consumer holds at once (1 in a plain `for`
/// loop), however many task ids the job has. The buffers are recycled: a
/// `for` loop allocates each of them once, and the stream frees them when it
/// ends. The default window is 4 batches per lane, where the stream has
/// `min(actors, threads)` lanes.
///
/// # Scheduling
///
/// Nothing runs until the first call to `next`. Batches start in task-id
/// order on up to `min(actors, threads)` pool jobs at once (a stream does not
/// deal batch `k` to actor `k % actors` as a dispatch does), and a pool job
/// never waits for the consumer. A stream may be consumed inside a worker or
/// a callback of its own coordinator: waiting there runs pending pool work
/// instead of blocking the thread.
///
/// # Ending early
///
/// Dropping the stream starts no further batch; batches already running
/// finish on the pool and are dropped. Destroying the coordinator ends the
/// stream: its next item is [`Error::CoordinatorDestroyed`], at once.
#[must_use = "a stream runs nothing until it is iterated"]
pub struct Stream<T: Task> {
    /// `None` once the stream has ended (or failed before it started).
    shared: Option<Arc<Shared<T>>>,
    /// A bad request, yielded as the first item.
    error: Option<Error>,
    /// The coordinator's pool: weak, so that a stream never keeps it alive.
    pool: Weak<ThreadPool>,
    /// How many lanes may run at once.
    lanes: usize,
    /// Batches not yet yielded.
    remaining: usize,
    /// Keeps the stream registered with its coordinator while it runs.
    ticket: Ticket,
    /// The terminal progress bar, if asked for.
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl<T: Task> Stream<T> {
    /// A stream of `shape.threads` task ids in batches of `shape.batch`, on
    /// `lanes` lanes of `pool`. Checks that one batch fits in memory's
    /// address space.
    pub(crate) fn new(
        threads: usize,
        batch: usize,
        memory: Arc<T::Memory>,
        args: T::Args,
        pool: Weak<ThreadPool>,
        lanes: usize,
    ) -> Self {
        if let Err(error) =
            run::check_batch::<T>(batch).and_then(|()| run::buffer_len::<T>(batch.min(threads)))
        {
            return Self::failed(error);
        }
        let lanes = lanes.max(1);
        let window = 4 * lanes;
        let batches = threads.div_ceil(batch);
        // The window's buffers and the one a consumer holds, so a plain `for`
        // loop never allocates a buffer twice.
        let spare = Arc::new(BufferPool::with_bound(window + 1));
        let shared = Arc::new(Shared {
            memory,
            args,
            threads,
            batch,
            batches,
            state: Mutex::new(State {
                window,
                claimed: 0,
                yielded: 0,
                ahead: VecDeque::with_capacity(window),
                lanes: 0,
                stopped: false,
                destroyed: false,
            }),
            ready: Condvar::new(),
            spare,
        });
        Stream {
            shared: Some(shared),
            error: None,
            pool,
            lanes,
            remaining: batches,
            ticket: Ticket::default(),
            #[cfg(feature = "progress")]
            bar: None,
        }
    }

    /// A stream whose only item is `error`.
    pub(crate) fn failed(error: Error) -> Self {
        Stream {
            shared: None,
            error: Some(error),
            pool: Weak::new(),
            lanes: 1,
            remaining: 0,
            ticket: Ticket::default(),
            #[cfg(feature = "progress")]
            bar: None,
        }
    }

    /// What the coordinator ends when it is destroyed.
    pub(crate) fn abort_handle(&self) -> Option<Weak<dyn Abort>> {
        let shared = self.shared.as_ref()?;
        let weak: Weak<dyn Abort> = Arc::downgrade(shared) as Weak<Shared<T>>;
        Some(weak)
    }

    /// Keeps the stream registered with its coordinator until it ends.
    pub(crate) fn set_ticket(&mut self, ticket: Ticket) {
        self.ticket = ticket;
    }

    /// Sets how many batches may be computed ahead of the consumer (see
    /// [Memory](Self#memory)); 0 counts as 1.
    ///
    /// With a window of `w`, at most `w` batches are running or done and
    /// waiting at any time, besides the batches the consumer holds: a window
    /// of 1 computes the next batch while the consumer works on this one.
    /// A window of at least the lane count keeps every lane busy when the
    /// consumer keeps up. Set it before the first batch is taken (nothing
    /// runs before); it may also be changed later, and applies from the next
    /// batch that starts.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u32,))]
    /// pub struct Count;
    ///
    /// #[worker(Count)]
    /// fn count(task_id: usize) -> (u32,) {
    ///     (task_id as u32,)
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let coordinator = Coordinator::new(8);
    /// let mut out = std::io::sink();
    /// // About 4 MiB of packets in all, but at most 2 batches of 16 KiB are
    /// // computed ahead of this loop, however slow the writer is.
    /// for batch in coordinator.stream(Count, 1 << 20, 4096).window(2) {
    ///     out.write_all(batch?.as_bytes())?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn window(self, batches: usize) -> Self {
        if let Some(shared) = &self.shared {
            let window = batches.max(1);
            shared.lock().window = window;
            shared.spare.set_bound(window.saturating_add(1));
        }
        self
    }

    /// Draws a progress bar on the terminal as batches are taken: task ids
    /// done, rate and time left. The bar goes to standard error and is drawn
    /// only when that is a terminal. Needs the `progress` feature.
    #[cfg(feature = "progress")]
    pub fn progress_bar(mut self) -> Self {
        if let Some(shared) = &self.shared {
            self.bar = Some(crate::progress::bar(T::NAME, shared.threads));
        }
        self
    }

    /// Ends the stream: no further batch starts, and the spare buffers are
    /// freed now rather than when the last lane lets go.
    fn finish(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.lock().stopped = true;
            shared.spare.set_bound(0);
        }
        self.remaining = 0;
        self.ticket = Ticket::default();
        #[cfg(feature = "progress")]
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl<T: Worker> Iterator for Stream<T> {
    type Item = Result<Batch<T>, Error>;

    /// Waits for the next batch in task-id order, starting work on the pool
    /// as the window allows.
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.error.take() {
            return Some(Err(error));
        }
        let shared = self.shared.as_ref()?;
        let item = shared.next_batch(&self.pool, self.lanes);
        match &item {
            Some(Ok(_batch)) => {
                self.remaining -= 1;
                #[cfg(feature = "progress")]
                if let Some(bar) = &self.bar {
                    bar.inc(_batch.len() as u64);
                }
            }
            _ => self.finish(),
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // An error takes the place of a batch and ends the stream.
        let most = self.remaining + usize::from(self.error.is_some());
        (most.min(1), Some(most))
    }
}

impl<T: Worker> FusedIterator for Stream<T> {}

impl<T: Task> Drop for Stream<T> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<T: Task> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Stream");
        debug.field("task", &T::NAME);
        if let Some(shared) = &self.shared {
            debug.field("window", &shared.lock().window);
        }
        debug
            .field("remaining", &self.remaining)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// One batch of a [`Stream`]: the packets of task ids
/// `first_id() .. first_id() + len()`, in order, in one contiguous
/// little-endian buffer laid out as [`Results`](crate::Results) lays out
/// its packets.
///
/// Dropping a batch hands its buffer back to the stream for a later batch.
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[task(packet = (u16, bool))]
/// pub struct Parity;
///
/// #[worker(Parity)]
/// fn parity(task_id: usize) -> (u16, bool) {
///     (task_id as u16, task_id % 2 == 0)
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let coordinator = Coordinator::new(4);
/// let mut stream = coordinator.stream(Parity, 10, 4);
/// let first = stream.next().unwrap()?;
/// assert_eq!((first.first_id(), first.len()), (0, 4));
/// let second = stream.next().unwrap()?;
/// assert_eq!(second.task_ids(), 4..8);
/// assert_eq!(second.get(1), Some((5, false))); // task id 5
/// assert_eq!(second.as_bytes().len(), 4 * Parity::PACKET_SIZE);
/// assert_eq!(second.packets()[1].0.get(), 5);
/// let last = stream.next().unwrap()?;
/// assert_eq!(last.iter().collect::<Vec<_>>(), [(8, true), (9, false)]);
/// assert!(stream.next().is_none());
/// # Ok(())
/// # }
/// ```
pub struct Batch<T: Task> {
    first_id: usize,
    /// The packets; when dropped, their buffer goes back to the stream.
    packets: PacketBuffer<T>,
}

impl<T: Task> Batch<T> {
    /// The task id of the batch's first packet.
    pub fn first_id(&self) -> usize {
        self.first_id
    }

    /// The task ids of the batch: `first_id() .. first_id() + len()`.
    pub fn task_ids(&self) -> Range<usize> {
        self.first_id..self.first_id + self.len()
    }
}

packet_views!(
    Batch,
    len: "The number of packets: the stream's batch size, except for a shorter last batch.",
    is_empty: "Whether the batch has no packets (never the case for a batch that a stream \
               yields).",
    get: "The output of the batch's `index`th task, task id `first_id() + index`, \
          decoded from its packet; `None` past the end.",
    as_bytes: "The batch's raw buffer: `len() * PACKET_SIZE` bytes, packets in task-id \
               order, each field little-endian. The buffers of a stream's batches, one \
               after another, are the bytes of \
               [`Results::as_bytes`](crate::Results::as_bytes) for the same job.",
);

impl<T: Task> fmt::Debug for Batch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("task", &T::NAME)
            .field("first_id", &self.first_id)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// What the consumer and the lanes of one stream share.
struct Shared<T: Task> {
    memory: Arc<T::Memory>,
    args: T::Args,
    threads: usize,
    batch: usize,
    /// The number of batches: `ceil(threads / batch)`.
    batches: usize,
    state: Mutex<State>,
    /// Signalled when the consumer's next batch is done, or on abort.
    ready: Condvar,
    /// Buffers of dropped batches, for later batches.
    spare: Arc<BufferPool>,
}

struct State {
    /// At most this many batches are claimed and not yet yielded (≥ 1).
    window: usize,
    /// Batches `0..claimed` have been claimed by lanes, in order.
    claimed: usize,
    /// Batches `0..yielded` have been handed to the consumer.
    yielded: usize,
    /// The outcomes of batches `yielded..claimed`; `None` while running.
    ahead: VecDeque<Option<Result<Vec<u8>, Error>>>,
    /// Lanes started and not yet stopped.
    lanes: usize,
    /// No further batch may be claimed: a batch failed, the stream ended, or
    /// the coordinator was destroyed.
    stopped: bool,
    /// The coordinator was destroyed.
    destroyed: bool,
}

impl State {
    /// Claims the next batch, if the window and the job allow it.
    fn claim(&mut self, batches: usize) -> Option<usize> {
        if self.stopped || self.claimed == batches || self.ahead.len() >= self.window {
            return None;
        }
        self.ahead.push_back(None);
        self.claimed += 1;
        Some(self.claimed - 1)
    }

    /// How many more batches could be claimed now.
    fn claimable(&self, batches: usize) -> usize {
        if self.stopped {
            return 0;
        }
        (batches - self.claimed).min(self.window.saturating_sub(self.ahead.len()))
    }
}

impl<T: Task> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State> {
        control::lock(&self.state)
    }
}

impl<T: Worker> Shared<T> {
    /// Waits for the consumer's next batch; `None` after the last one.
    fn next_batch(
        self: &Arc<Self>,
        pool: &Weak<ThreadPool>,
        lanes: usize,
    ) -> Option<Result<Batch<T>, Error>> {
        let destroyed = || Some(Err(Error::CoordinatorDestroyed { task: T::NAME }));
        let mut state = self.lock();
        loop {
            if state.destroyed {
                return destroyed();
            }
            if state.yielded == self.batches {
                return None;
            }
            if let Some(Some(_)) = state.ahead.front() {
                let Some(Some(outcome)) = state.ahead.pop_front() else {
                    unreachable!("the front batch is done")
                };
                let first_id = state.yielded * self.batch;
                state.yielded += 1;
                // Room for one more batch: start it before the consumer
                // works on this one.
                if outcome.is_ok() && !self.start_lanes(&mut state, pool, lanes) {
                    return destroyed();
                }
                return Some(outcome.map(|bytes| Batch {
                    first_id,
                    packets: PacketBuffer::new(bytes, Arc::downgrade(&self.spare)),
                }));
            }
            if !self.start_lanes(&mut state, pool, lanes) {
                return destroyed();
            }
            state = control::wait(state, &self.state, &self.ready);
        }
    }

    /// Starts as many lanes as there are batches to claim, up to `lanes` in
    /// all. Returns `false` if the coordinator's pool is gone.
    fn start_lanes(
        self: &Arc<Self>,
        state: &mut State,
        pool: &Weak<ThreadPool>,
        lanes: usize,
    ) -> bool {
        let wanted = state
            .claimable(self.batches)
            .min(lanes.saturating_sub(state.lanes));
        if wanted == 0 {
            return true;
        }
        let Some(pool) = pool.upgrade() else {
            return false;
        };
        for _ in 0..wanted {
            state.lanes += 1;
            let shared = Arc::clone(self);
            pool.spawn(move || shared.lane());
        }
        true
    }

    /// A lane: runs batches in claim order until none can be claimed.
    fn lane(&self) {
        let mut state = self.lock();
        while let Some(k) = state.claim(self.batches) {
            drop(state);
            let outcome = self.run_batch(k);
            state = self.lock();
            if outcome.is_err() {
                state.stopped = true;
            }
            // Batches are yielded only once done, so `k >= yielded`.
            let index = k - state.yielded;
            state.ahead[index] = Some(outcome);
            if index == 0 {
                self.ready.notify_one();
            }
        }
        state.lanes -= 1;
    }

    /// Runs batch `k` into a recycled buffer.
    fn run_batch(&self, k: usize) -> Result<Vec<u8>, Error> {
        let first_id = k * self.batch;
        let ids = first_id..self.threads.min(first_id + self.batch);
        // Checked when the stream was made: a batch fits in `isize::MAX`.
        let size = ids.len() * T::PACKET_SIZE;
        let Some(bytes) = self.spare.take(size) else {
            return Err(Error::AllocationFailed {
                task: T::NAME,
                bytes: size,
            });
        };
        let mut packets = PacketBuffer::<T>::new(bytes, Arc::downgrade(&self.spare));
        run::fill::<T>(ids, packets.slots_mut(), &self.memory, &self.args)?;
        Ok(packets.into_bytes())
    }
}

impl<T: Task> Abort for Shared<T> {
    /// Ends the stream: no further batch starts, and the consumer's next item
    /// is [`Error::CoordinatorDestroyed`].
    fn abort(&self) {
        let mut state = self.lock();
        state.stopped = true;
        state.destroyed = true;
        self.ready.notify_all();
    }
}
