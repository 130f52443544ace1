//! Streaming a job batch by batch, in task-id order, in bounded memory.
//!
//! A stream runs its batches on the coordinator's pool in *lanes*: pool jobs
//! that claim batches in task-id order, one at a time, and never block. A
//! lane stops when the window is full; the consumer starts lanes again as it
//! takes batches, so a slow consumer leaves the pool free for other work
//! instead of tying threads up.
//!
//! Batch `k` runs on actor `k % actors` with that actor's state, as in a
//! dispatch: it is claimed only once batch `k - actors`, the actor's batch
//! before it, is done, so each actor's batches run in order, one at a time,
//! whatever the lanes and the window. The stream borrows the task's states
//! when its first batch is asked for and gives them back when it ends.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Poll, Waker};

use rayon::ThreadPool;

use crate::buffer::{packet_views, BufferPool, PacketBuffer};
use crate::control::{self, Abort, Ticket};
use crate::error::Error;
use crate::run;
use crate::state::{self, AnySet, Lease, StateSet};
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
/// order on up to `min(actors, threads)` pool jobs at once, and a pool job
/// never waits for the consumer. As in a dispatch, batch `k` runs on actor
/// `k % actors`, with that actor's [state](crate::Coordinator::define_state),
/// and each actor's batches run in order, one at a time: batch `k` starts
/// once batch `k - actors` is done. A stream may be consumed inside a worker
/// or a callback of its own coordinator: waiting there runs pending pool work
/// instead of blocking the thread.
///
/// # State
///
/// A stream of a task that declares `state` borrows every actor's state
/// when its first batch is asked for (waiting for its turn if another run of
/// the task holds them), and gives them back when it ends: after its last
/// batch or an error, or once it is dropped and its running batches are
/// done. Meanwhile other dispatches of the task wait, so iterate a stream to
/// its end or drop it before dispatching its task again on the same thread
/// (such a dispatch fails with [`Error::StateInUse`] rather than waiting
/// forever).
///
/// # Async
///
/// With the `futures` feature, `Stream` is also a
/// [`futures_core::Stream`](https://docs.rs/futures-core) of the same items,
/// in the same order and window: polling it never blocks the thread.
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

impl<T: Worker> Stream<T> {
    /// A stream of `threads` task ids in batches of `batch`, on `lanes`
    /// lanes of `pool`, for `actors` actors whose states are in `set` (none
    /// for a task without state). Checks that one batch fits in memory's
    /// address space.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        threads: usize,
        batch: usize,
        memory: Arc<T::Memory>,
        args: T::Args,
        pool: Weak<ThreadPool>,
        lanes: usize,
        actors: usize,
        set: Option<Arc<StateSet<T::State>>>,
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
            actors: actors.max(1),
            set: set.map(|set| set as AnySet),
            held: OnceLock::new(),
            state: Mutex::new(State {
                window,
                claimed: 0,
                yielded: 0,
                ahead: VecDeque::with_capacity(window),
                lanes: 0,
                stopped: false,
                destroyed: false,
                states: Phase::NotAsked,
                actor_states: None,
                waker: None,
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
}

impl<T: Task> Stream<T> {
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

    /// Starts at batch `first` (ids `first * batch ..`), as if batches
    /// `0..first` had been taken: `resume` goes on after the packets a file
    /// kept. Only before the first item.
    pub(crate) fn starting_at_batch(mut self, first: usize) -> Self {
        if let Some(shared) = &self.shared {
            let first = first.min(shared.batches);
            let mut state = shared.lock();
            if state.yielded == 0 && state.claimed == 0 {
                state.yielded = first;
                state.claimed = first;
                drop(state);
                self.remaining = shared.batches - first;
            }
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

    /// Ends the stream: no further batch starts, the actors' states go
    /// back once no batch runs, and the spare buffers are freed now rather
    /// than when the last lane lets go.
    fn finish(&mut self) {
        if let Some(shared) = self.shared.take() {
            let mut state = shared.lock();
            state.stopped = true;
            let states = state.actor_states.take();
            drop(state);
            control::drop_caught(states);
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
        let Poll::Ready(item) = shared.next_batch(&self.pool, self.lanes, None) else {
            unreachable!("a blocking wait ends with an item")
        };
        self.took(&item);
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // An error takes the place of a batch and ends the stream.
        let most = self.remaining + usize::from(self.error.is_some());
        (most.min(1), Some(most))
    }
}

impl<T: Worker> Stream<T> {
    /// Counts a batch taken, or ends the stream after its last item.
    fn took(&mut self, item: &Option<Result<Batch<T>, Error>>) {
        match item {
            Some(Ok(_batch)) => {
                self.remaining -= 1;
                #[cfg(feature = "progress")]
                if let Some(bar) = &self.bar {
                    bar.inc(_batch.len() as u64);
                }
            }
            _ => self.finish(),
        }
    }
}

/// With the `futures` feature: the same items as the iterator, in the same
/// order and window, without blocking the polling thread. A consumer that
/// polls on a pool thread of the coordinator runs pending pool work first,
/// as a blocking one would while it waits.
#[cfg(feature = "futures")]
impl<T: Worker> futures_core::Stream for Stream<T> {
    type Item = Result<Batch<T>, Error>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(error) = this.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let Some(shared) = this.shared.as_ref() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(shared.next_batch(&this.pool, this.lanes, Some(cx.waker())));
        this.took(&item);
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        Iterator::size_hint(self)
    }
}

#[cfg(feature = "futures")]
impl<T: Worker> futures_core::FusedStream for Stream<T> {
    fn is_terminated(&self) -> bool {
        self.shared.is_none() && self.error.is_none()
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
    /// Batch `k` runs on actor `k % actors`.
    actors: usize,
    /// The task's `StateSet<T::State>`; `None` for a task without state.
    set: Option<AnySet>,
    /// The state sets the lanes' batches hold: the stream's own, and those
    /// its consumer's thread held when it asked for the first batch.
    held: OnceLock<Vec<usize>>,
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
    /// Whether the actors' states are there.
    states: Phase,
    /// Each actor's state, an `ActorStates<T::State>`, while the stream
    /// holds them. Each running batch holds a clone: the states go back to
    /// their set once the stream lets go and the last running batch is done.
    actor_states: Option<Arc<dyn Any + Send + Sync>>,
    /// The async consumer to wake when its next batch is done.
    waker: Option<Waker>,
}

/// How far a stream is in getting its actors' states.
enum Phase {
    /// Not asked for yet: nothing has run.
    NotAsked,
    /// Waiting for another run of the task to give them back.
    Waiting,
    /// In `Shared::states`: the lanes may run.
    Ready,
    /// They could not be had; the error is the consumer's next item.
    Failed(Option<Error>),
}

impl State {
    /// Whether batch `k` may be claimed now: the window has room and its
    /// actor's batch before it, `k - actors`, is done.
    fn can_claim(&self, k: usize, batches: usize, actors: usize) -> bool {
        if self.stopped || k >= batches || k - self.yielded >= self.window {
            return false;
        }
        match k.checked_sub(actors) {
            Some(before) if before >= self.yielded => {
                matches!(self.ahead.get(before - self.yielded), Some(Some(_)))
            }
            _ => true,
        }
    }

    /// Claims the next batch, if the window, the job and the actor rule
    /// allow it.
    fn claim(&mut self, batches: usize, actors: usize) -> Option<usize> {
        if !matches!(self.states, Phase::Ready) || !self.can_claim(self.claimed, batches, actors) {
            return None;
        }
        self.ahead.push_back(None);
        self.claimed += 1;
        Some(self.claimed - 1)
    }

    /// How many more batches could be claimed now, one after another, up to
    /// `most`.
    fn claimable(&self, batches: usize, actors: usize, most: usize) -> usize {
        if !matches!(self.states, Phase::Ready) {
            return 0;
        }
        (0..most)
            .take_while(|&i| self.can_claim(self.claimed + i, batches, actors))
            .count()
    }
}

/// Each actor's state while a stream holds them: one lock each, taken once
/// per batch, never contended (an actor's batches run one at a time).
struct ActorStates<S: Send + 'static> {
    states: Vec<Mutex<S>>,
    /// The lease to give the states back through, when the stream is gone.
    lease: Mutex<Option<Lease<S>>>,
}

impl<S: Send + 'static> Drop for ActorStates<S> {
    fn drop(&mut self) {
        if let Some(mut lease) = control::lock(&self.lease).take() {
            let states = std::mem::take(&mut self.states);
            lease.restore(
                states
                    .into_iter()
                    .map(|state| state.into_inner().unwrap_or_else(|e| e.into_inner()))
                    .collect(),
            );
        }
    }
}

impl<T: Task> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State> {
        control::lock(&self.state)
    }
}

impl<T: Worker> Shared<T> {
    /// The consumer's next batch; `None` after the last one. Without a
    /// `waker`, waits for it; with one, returns `Pending` and wakes it when
    /// the batch is done.
    fn next_batch(
        self: &Arc<Self>,
        pool: &Weak<ThreadPool>,
        lanes: usize,
        waker: Option<&Waker>,
    ) -> Poll<Option<Result<Batch<T>, Error>>> {
        let destroyed = || Poll::Ready(Some(Err(Error::CoordinatorDestroyed { task: T::NAME })));
        let mut state = self.lock();
        // Whether this thread found no pool work to run, last it looked.
        let mut pool_idle = false;
        loop {
            if state.destroyed {
                return destroyed();
            }
            if state.yielded == self.batches {
                return Poll::Ready(None);
            }
            if let Phase::Failed(error) = &mut state.states {
                let error = error.take();
                state.stopped = true;
                return Poll::Ready(error.map(Err));
            }
            if let Some(Some(_)) = state.ahead.front() {
                let Some(Some(outcome)) = state.ahead.pop_front() else {
                    unreachable!("the front batch is done")
                };
                let first_id = state.yielded * self.batch;
                state.yielded += 1;
                if state.yielded == self.batches {
                    // Every batch is done: the states go back now, before
                    // the consumer asks for the end.
                    let states = state.actor_states.take();
                    drop(state);
                    control::drop_caught(states);
                    state = self.lock();
                }
                // Room for one more batch: start it before the consumer
                // works on this one.
                if outcome.is_ok() && !self.start_lanes(&mut state, pool, lanes) {
                    return destroyed();
                }
                return Poll::Ready(Some(outcome.map(|bytes| Batch {
                    first_id,
                    packets: PacketBuffer::new(bytes, Arc::downgrade(&self.spare)),
                })));
            }
            if matches!(state.states, Phase::NotAsked) {
                state.states = Phase::Waiting;
                drop(state);
                self.ask_for_states();
                state = self.lock();
                continue;
            }
            if !self.start_lanes(&mut state, pool, lanes) {
                return destroyed();
            }
            let Some(waker) = waker else {
                state = control::wait(state, &self.state, &self.ready);
                continue;
            };
            if !pool_idle && rayon::current_thread_index().is_some() {
                // On a pool thread, the batch may be waiting for this very
                // thread: run pending pool work before giving up, then look
                // again from the top (the batch may be done meanwhile).
                drop(state);
                pool_idle = rayon::yield_now() != Some(rayon::Yield::Executed);
                state = self.lock();
                continue;
            }
            // Registered under the lock under which a lane marks the batch
            // done and takes the waker: no wake-up is lost.
            if !matches!(&state.waker, Some(stored) if stored.will_wake(waker)) {
                state.waker = Some(waker.clone());
            }
            return Poll::Pending;
        }
    }

    /// Asks for the actors' states: at once for a task without state, else
    /// from the task's set, in turn. Called once, without the state lock
    /// (the states may come at once, and be stored under it).
    fn ask_for_states(self: &Arc<Self>) {
        let mut held = state::held_here();
        let Some(set) = &self.set else {
            let _ = self.held.set(held);
            self.states_ready(Lease::stateless::<T>(self.actors));
            return;
        };
        let set = Arc::clone(set)
            .downcast::<StateSet<T::State>>()
            .unwrap_or_else(|_| unreachable!("a stream's set holds its task's states"));
        held.push(set.id());
        let _ = self.held.set(held);
        if set.would_deadlock() {
            self.states_failed(Error::StateInUse { task: T::NAME });
            return;
        }
        let shared = Arc::downgrade(self);
        set.acquire_later(true, move |lease| match shared.upgrade() {
            Some(shared) => {
                shared.states_ready(lease);
                Ok(())
            }
            None => Err(lease),
        });
    }

    /// Stores the lent states (made first if need be), or the error that
    /// making them gave, and wakes the consumer.
    fn states_ready(&self, mut lease: Lease<T::State>) {
        match lease.prepare() {
            Ok(_) => {
                let states = lease.take_states().into_iter().map(Mutex::new).collect();
                let states: Box<dyn Any + Send + Sync> = Box::new(ActorStates {
                    states,
                    lease: Mutex::new(Some(lease)),
                });
                let mut state = self.lock();
                if state.stopped {
                    drop(state);
                    control::drop_caught(states);
                    return;
                }
                state.actor_states = Some(Arc::from(states));
                state.states = Phase::Ready;
                drop(self.wake(state));
            }
            Err(error) => {
                drop(lease);
                self.states_failed(error);
            }
        }
    }

    fn states_failed(&self, error: Error) {
        let mut state = self.lock();
        state.states = Phase::Failed(Some(error));
        state.stopped = true;
        drop(self.wake(state));
    }

    /// Starts as many lanes as there are batches to claim, up to `lanes` in
    /// all. Returns `false` if the coordinator's pool is gone.
    fn start_lanes(
        self: &Arc<Self>,
        state: &mut State,
        pool: &Weak<ThreadPool>,
        lanes: usize,
    ) -> bool {
        let wanted = state.claimable(self.batches, self.actors, lanes.saturating_sub(state.lanes));
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
        while let Some(k) = state.claim(self.batches, self.actors) {
            let states = state.actor_states.clone();
            drop(state);
            let outcome = self.run_batch(k, states.as_deref());
            control::drop_caught(states);
            state = self.lock();
            if outcome.is_err() {
                state.stopped = true;
            }
            // Batches are yielded only once done, so `k >= yielded`.
            let index = k - state.yielded;
            state.ahead[index] = Some(outcome);
            if index == 0 {
                state = self.wake(state);
            }
        }
        state.lanes -= 1;
    }

    /// Runs batch `k` into a recycled buffer, with its actor's state.
    fn run_batch(
        &self,
        k: usize,
        states: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<Vec<u8>, Error> {
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
        let states = states
            .and_then(|states| states.downcast_ref::<ActorStates<T::State>>())
            .unwrap_or_else(|| unreachable!("lanes claim batches while the states are there"));
        let mut state = control::lock(&states.states[k % self.actors]);
        let held = self.held.get().map_or(&[][..], Vec::as_slice);
        let _held = state::hold([held, &[], &[]]);
        run::fill::<T>(
            ids,
            packets.slots_mut(),
            &self.memory,
            &self.args,
            &mut state,
        )?;
        Ok(packets.into_bytes())
    }
}

impl<T: Task> Shared<T> {
    /// Wakes the consumer: a blocking one and an async one.
    fn wake<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.ready.notify_all();
        if let Some(waker) = state.waker.take() {
            drop(state);
            waker.wake();
            state = self.lock();
        }
        state
    }
}

impl<T: Task> Abort for Shared<T> {
    /// Ends the stream: no further batch starts, and the consumer's next item
    /// is [`Error::CoordinatorDestroyed`].
    fn abort(&self) {
        let mut state = self.lock();
        state.stopped = true;
        state.destroyed = true;
        let states = state.actor_states.take();
        drop(self.wake(state));
        control::drop_caught(states);
    }
}
