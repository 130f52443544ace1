//! The coordinator: a pool of actors that runs typed tasks in batches.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use crate::buffer::BufferPool;
use crate::control::{self, Control, Registry};
use crate::dispatch::{Completion, Dispatch};
use crate::error::Error;
use crate::results::Results;
use crate::resume::{self, FileOptions, RunSummary};
use crate::run::{Job, Runner};
use crate::state::{self, AnySet, Lease, StateSet};
use crate::stream::Stream;
use crate::task::{NoArgs, Task, TaskState, Worker};
use crate::wire::WireType;
use zerocopy::IntoBytes;

type MemoryMap = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;
type StateMap = HashMap<TypeId, AnySet>;

/// Runs typed tasks over ranges of task ids on a pool of actors, and merges
/// their packets into one buffer in task-id order.
///
/// Actors are the pool's logical workers: a dispatch cuts its task ids into
/// batches and batch `k` runs on actor `k % actors`, whose batches run one
/// after another. The actors share one rayon thread pool with as many threads
/// as the machine has cores, or `RAYON_NUM_THREADS` if it is set (see
/// [`CoordinatorBuilder::threads`]), so the
/// actor count is not the core count: as in the reference library, 64-256
/// actors spread the work well.
///
/// A `Coordinator` is `Send + Sync`: share it by reference (or in an `Arc`)
/// and dispatch from several threads at once.
///
/// ```
/// use parallelizer::prelude::*;
///
/// pub struct Greeting {
///     pub text: String,
/// }
///
/// #[task(packet = (u16, FixedStr<11>), memory = Greeting)]
/// pub struct Hello;
///
/// #[worker(Hello)]
/// fn hello(task_id: usize, memory: &Greeting) -> (u16, FixedStr<11>) {
///     ((task_id * 2) as u16, FixedStr::new(&memory.text).unwrap())
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let coordinator = Coordinator::new(256);
/// coordinator.define(Hello, Greeting { text: "Hello World".into() });
/// let results = coordinator.dispatch(Hello, 1024, 8)?;
/// assert_eq!(results.get(3), Some((6, FixedStr::new("Hello World")?)));
/// # Ok(())
/// # }
/// ```
pub struct Coordinator {
    actors: usize,
    /// Shared with streams, which hold it weakly.
    pool: Arc<rayon::ThreadPool>,
    memory: RwLock<MemoryMap>,
    /// Each stateful task's actor states, made when first needed.
    states: RwLock<StateMap>,
    /// Result buffers handed back by dropped results, for reuse.
    buffers: Arc<BufferPool>,
    /// Background dispatches and streams, ended by `destroy`.
    running: Arc<Registry>,
}

impl Coordinator {
    /// Creates a coordinator with `actors` actors on a thread pool with one
    /// thread per core.
    ///
    /// # Panics
    ///
    /// If `actors` is 0, or if the operating system cannot start the pool's
    /// threads. [`Coordinator::builder`] reports both as an [`Error`] instead.
    pub fn new(actors: usize) -> Self {
        match Self::builder().actors(actors).build() {
            Ok(coordinator) => coordinator,
            Err(error) => panic!("Coordinator::new({actors}): {error}"),
        }
    }

    /// Starts configuring a coordinator: actor count and thread count.
    pub fn builder() -> CoordinatorBuilder {
        CoordinatorBuilder::default()
    }

    /// The number of actors.
    pub fn actors(&self) -> usize {
        self.actors
    }

    /// The number of threads in the pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Gives a task the memory its workers read.
    ///
    /// A dispatch sees the memory defined when it was called, for its whole
    /// run. Defining it again replaces it, as [`set_memory`](Self::set_memory)
    /// does.
    pub fn define<T: Task>(&self, task: T, memory: T::Memory) {
        self.set_memory(task, memory);
    }

    /// Replaces a task's memory. Dispatches already running keep the memory
    /// they started with; later dispatches see the new one.
    pub fn set_memory<T: Task>(&self, _task: T, memory: T::Memory) {
        self.memory
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(TypeId::of::<T>(), Arc::new(memory));
    }

    /// Gives a task that declares `state` the initializer of its actors'
    /// states: actor `a`'s state is `init(a)`.
    ///
    /// Each actor keeps its own state from one batch and one dispatch to the
    /// next; the worker gets `&mut` to it for a whole batch, with no lock
    /// per task. The states are made when a run first needs them, all at
    /// once, by this initializer, or by `Default` if none was given. Defining
    /// an initializer again drops the states made so far (those a running
    /// dispatch holds, when it ends): the next run starts from the new one.
    /// [`take_states`](Self::take_states) gathers them.
    ///
    /// Batch `k` of a dispatch always runs with the state of actor
    /// `k % actors`, and each actor's batches run in order, whatever the
    /// pool, the timing, or the way the task runs (blocking, spawned,
    /// streamed, into existing results, or a cluster's chunks on each
    /// rank's own coordinator): a worker that uses its state
    /// deterministically makes the same bytes and the same final states
    /// from the same states. Runs of one stateful task take turns with the
    /// states, in the order they were asked for; runs of other tasks do not
    /// wait.
    ///
    /// A worker that panics leaves its actor's state as the panic left it:
    /// the dispatch fails with [`Error::WorkerPanicked`], the state is not
    /// poisoned, and [`take_states`](Self::take_states) returns it as it is.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// /// A small random generator per actor: no lock, no `thread_local!`.
    /// pub struct Rng {
    ///     pub seed: u64,
    ///     pub draws: u64,
    /// }
    ///
    /// #[task(packet = (u32,), state = Rng)]
    /// pub struct Noise;
    ///
    /// #[worker(Noise)]
    /// fn noise(_task_id: usize, rng: &mut Rng) -> (u32,) {
    ///     rng.seed ^= rng.seed << 13;
    ///     rng.seed ^= rng.seed >> 7;
    ///     rng.seed ^= rng.seed << 17;
    ///     rng.draws += 1;
    ///     ((rng.seed >> 32) as u32,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let coordinator = Coordinator::new(8);
    /// coordinator.define_state(Noise, |actor| Rng { seed: 1 + actor as u64, draws: 0 });
    /// let first = coordinator.dispatch(Noise, 10_000, 100)?;
    ///
    /// // The same dispatch from the same states gives the same bytes.
    /// let other = Coordinator::builder().actors(8).threads(1).build()?;
    /// other.define_state(Noise, |actor| Rng { seed: 1 + actor as u64, draws: 0 });
    /// assert_eq!(other.dispatch(Noise, 10_000, 100)?, first);
    ///
    /// let states = coordinator.take_states(Noise);
    /// assert_eq!(states.len(), 8);
    /// assert_eq!(states.iter().map(|rng| rng.draws).sum::<u64>(), 10_000);
    /// # Ok(())
    /// # }
    /// ```
    pub fn define_state<T, F>(&self, _task: T, init: F)
    where
        T: TaskState,
        F: Fn(usize) -> T::State + Send + Sync + 'static,
    {
        self.state_set::<T>().define(Arc::new(init));
    }

    /// Takes every actor's state of a task, one per actor in actor order,
    /// and starts the actors again from the initializer (or `Default`).
    ///
    /// This is how a job reduces: each actor accumulates into its state,
    /// and the states gathered after the dispatch are the partial results.
    /// States that no run has made yet are made now. Waits for the runs of
    /// the task that hold the states (dispatches still running, a stream
    /// not yet ended or dropped). For a task without state, `actors` units.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[derive(Default)]
    /// pub struct Sum {
    ///     pub total: u64,
    /// }
    ///
    /// #[task(packet = (u8,), state = Sum)]
    /// pub struct Add;
    ///
    /// #[worker(Add)]
    /// fn add(task_id: usize, sum: &mut Sum) -> (u8,) {
    ///     sum.total += task_id as u64;
    ///     (0,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let coordinator = Coordinator::new(4);
    /// coordinator.dispatch(Add, 1000, 10)?;
    /// let sums = coordinator.take_states(Add);
    /// assert_eq!(sums.iter().map(|sum| sum.total).sum::<u64>(), 999 * 1000 / 2);
    /// // The actors start again from `Default`.
    /// assert!(coordinator.take_states(Add).iter().all(|sum| sum.total == 0));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the states cannot be made ([`Error::StateNotDefined`],
    /// [`Error::StatePanicked`]), or if waiting would never end
    /// ([`Error::StateInUse`]: called from a worker of the same task, or
    /// while a stream of the task is open on this thread).
    pub fn take_states<T: TaskState>(&self, _task: T) -> Vec<T::State> {
        let taken = if T::HAS_STATE {
            self.state_set::<T>().take()
        } else {
            Ok(Lease::stateless::<T>(self.actors).take_states())
        };
        taken.unwrap_or_else(|error| panic!("take_states({}): {error}", T::NAME))
    }

    /// Runs task ids `0..threads` in batches of `batch` and returns their
    /// results in task-id order.
    ///
    /// Batch `k` holds ids `k * batch .. min((k + 1) * batch, threads)` and
    /// runs on actor `k % actors`. The calling thread waits. A job too cheap
    /// to be worth handing to the pool (judged by timing its first task ids,
    /// against the tens of microseconds a hand-off costs) runs on the calling
    /// thread instead, in task-id order, and so does every blocking dispatch
    /// of a one-thread pool; any other job runs on the pool.
    ///
    /// The results' buffer comes from the coordinator's recycled buffers
    /// when one fits: results it made hand their buffer back when dropped.
    /// It keeps at most 4; a dispatch gets a kept buffer only if its
    /// capacity is at most twice the size asked for plus 1 MiB (so a small
    /// result never pins a huge block), and a kept buffer that 16 dispatches
    /// in a row could not use is freed.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroBatchSize`] if `batch` is 0, [`Error::MemoryNotDefined`]
    /// if the task declares memory that was never defined,
    /// [`Error::ResultsTooLarge`] or [`Error::AllocationFailed`] if the
    /// results do not fit in memory, [`Error::WorkerPanicked`] if a worker
    /// panicked.
    pub fn dispatch<T: Worker>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
    ) -> Result<Results<T>, Error>
    where
        T::Args: NoArgs<T>,
    {
        self.dispatch_with(task, threads, batch, NoArgs::none())
    }

    /// [`dispatch`](Self::dispatch) with the batch size that deals the task
    /// ids equally to the actors: `ceil(threads / actors)`, at least 1.
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch).
    pub fn dispatch_equally<T: Worker>(&self, task: T, threads: usize) -> Result<Results<T>, Error>
    where
        T::Args: NoArgs<T>,
    {
        self.dispatch(task, threads, self.equal_batch(threads))
    }

    /// [`dispatch_equally`](Self::dispatch_equally) for a task that declares
    /// `args`.
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch).
    pub fn dispatch_equally_with<T: Worker>(
        &self,
        task: T,
        threads: usize,
        args: T::Args,
    ) -> Result<Results<T>, Error> {
        self.dispatch_with(task, threads, self.equal_batch(threads), args)
    }

    /// [`dispatch`](Self::dispatch) for a task that declares `args`: every
    /// worker call of this dispatch gets `&args`.
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch).
    pub fn dispatch_with<T: Worker>(
        &self,
        _task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
    ) -> Result<Results<T>, Error> {
        self.run_ids::<T>(0..threads, batch, self.memory_of::<T>()?, Arc::new(args))
    }

    /// [`dispatch`](Self::dispatch) into existing results, reusing their
    /// buffer: a loop that dispatches every frame allocates nothing once the
    /// buffer has grown to the job's size.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (f32,))]
    /// pub struct Wave;
    ///
    /// #[worker(Wave)]
    /// fn wave(task_id: usize) -> (f32,) {
    ///     ((task_id as f32 * 0.1).sin(),)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let coordinator = Coordinator::new(64);
    /// let mut results = Results::new();
    /// for _frame in 0..3 {
    ///     coordinator.dispatch_into(Wave, 4096, 64, &mut results)?;
    ///     assert_eq!(results.len(), 4096);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch); on error `results` is left empty.
    pub fn dispatch_into<T: Worker>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
        results: &mut Results<T>,
    ) -> Result<(), Error>
    where
        T::Args: NoArgs<T>,
    {
        self.dispatch_with_into(task, threads, batch, NoArgs::none(), results)
    }

    /// [`dispatch_with`](Self::dispatch_with) into existing results, reusing
    /// their buffer, as [`dispatch_into`](Self::dispatch_into) does.
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch); on error `results` is left empty.
    pub fn dispatch_with_into<T: Worker>(
        &self,
        _task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
        results: &mut Results<T>,
    ) -> Result<(), Error> {
        let control = Arc::new(Control::new(T::NAME, threads));
        let job = self.memory_of::<T>().and_then(|memory| {
            let job = Job::new(
                0..threads,
                batch,
                self.actors,
                memory,
                Arc::new(args),
                control,
            )?;
            Ok((job, self.lease::<T>()?))
        });
        let (mut job, mut lease) = match job {
            Ok(job) => job,
            Err(error) => {
                results.buffer_mut().bytes_mut().clear();
                return Err(error);
            }
        };
        job.hold(lease.id(), state::held_here());
        let outcome = match lease.prepare() {
            Ok(states) => job.run_into(results.buffer_mut(), states, Runner::Caller(&self.pool)),
            Err(error) => {
                results.buffer_mut().bytes_mut().clear();
                Err(error)
            }
        };
        drop(lease);
        job.release();
        outcome
    }

    /// Starts a dispatch in the background and returns its handle at once.
    ///
    /// None of the job runs on the calling thread. Errors that
    /// [`dispatch`](Self::dispatch) would return come out of
    /// [`Dispatch::wait`] (or the callback of [`Dispatch::on_complete`]).
    /// The handle is also a [`Future`](std::future::Future) of the same
    /// outcome: `.await` it on any executor (see [`Dispatch`]). A dispatch of
    /// a task that declares `state` starts once it has the actors' states
    /// (see [`define_state`](Self::define_state)), waiting its turn without
    /// holding a pool thread.
    pub fn spawn<T: Worker>(&self, task: T, threads: usize, batch: usize) -> Dispatch<T>
    where
        T::Args: NoArgs<T>,
    {
        self.spawn_with(task, threads, batch, NoArgs::none())
    }

    /// [`spawn`](Self::spawn) for a task that declares `args`.
    pub fn spawn_with<T: Worker>(
        &self,
        _task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
    ) -> Dispatch<T> {
        match self.memory_of::<T>() {
            Ok(memory) => self.spawn_ids(0..threads, batch, memory, Arc::new(args)),
            Err(error) => {
                let control = Arc::new(Control::new(T::NAME, threads));
                let completion = Completion::<T>::new(control);
                completion.complete(Err(error));
                Dispatch::new(Arc::new(completion))
            }
        }
    }

    /// Runs task ids `ids` (batch `k` holding ids `k * batch ..`, counted
    /// from 0, on actor `k % actors`) with the given memory and args, and
    /// returns their packets in order. A cluster runs its chunks this way.
    pub(crate) fn run_ids<T: Worker>(
        &self,
        ids: Range<usize>,
        batch: usize,
        memory: Arc<T::Memory>,
        args: Arc<T::Args>,
    ) -> Result<Results<T>, Error> {
        let control = Arc::new(Control::new(T::NAME, ids.len()));
        let mut job = Job::new(ids, batch, self.actors, memory, args, control)?;
        let mut lease = self.lease::<T>()?;
        // The batches hold the states, and whatever the caller's held: a
        // worker of this job that would wait for either fails instead.
        job.hold(lease.id(), state::held_here());
        let outcome = lease
            .prepare()
            .and_then(|states| job.run(&self.buffers, states, Runner::Caller(&self.pool)));
        // Given back before the job's values are dropped, which runs user
        // code.
        drop(lease);
        job.release();
        outcome.map(Results::from_packets)
    }

    /// [`run_ids`](Self::run_ids) in the background.
    pub(crate) fn spawn_ids<T: Worker>(
        &self,
        ids: Range<usize>,
        batch: usize,
        memory: Arc<T::Memory>,
        args: Arc<T::Args>,
    ) -> Dispatch<T> {
        let control = Arc::new(Control::new(T::NAME, ids.len()));
        let completion = Arc::new(Completion::<T>::new(Arc::clone(&control)));
        match Job::new(ids, batch, self.actors, memory, args, Arc::clone(&control)) {
            Err(error) => completion.complete(Err(error)),
            Ok(mut job) => {
                let ticket = self.running.track(Arc::downgrade(&completion) as _);
                let delivery = Arc::clone(&completion);
                let buffers = Arc::clone(&self.buffers);
                let pool = Arc::downgrade(&self.pool);
                // Starts the job on the pool once it has the states: now, or
                // when its turn comes, so no pool thread waits for them.
                let start = move |mut lease: Lease<T::State>| {
                    control.set_queued_for(None);
                    let Some(pool) = pool.upgrade() else {
                        delivery.complete(Err(Error::CoordinatorDestroyed { task: T::NAME }));
                        return Err(lease);
                    };
                    pool.spawn(move || {
                        job.hold(lease.id(), Vec::new());
                        let outcome = lease
                            .prepare()
                            .and_then(|states| job.run(&buffers, states, Runner::Pool));
                        // The states go back first: a callback may run the
                        // task again.
                        drop(lease);
                        drop((ticket, buffers));
                        // Delivered before the job's values are dropped,
                        // which runs user code that may even destroy this
                        // coordinator.
                        delivery.complete(outcome.map(Results::from_packets));
                        job.release();
                    });
                    Ok(())
                };
                if T::HAS_STATE {
                    let set = self.state_set::<T>();
                    completion
                        .control
                        .set_queued_for(Some(Arc::clone(&set) as _));
                    set.acquire_later(false, start);
                } else if let Err(lease) = start(Lease::stateless::<T>(self.actors)) {
                    drop(lease);
                }
            }
        }
        Dispatch::new(completion)
    }

    /// Runs task ids `0..threads` in batches of `batch` and streams the
    /// batches back in task-id order, each as soon as it and every batch
    /// before it are done, in memory bounded by the stream's
    /// [window](Stream::window) however large the job.
    ///
    /// Nothing runs until the first batch is asked for; the batches then run
    /// on the pool, at most the window's worth ahead of the consumer. The
    /// task's memory is the one defined at this call, as for
    /// [`dispatch`](Self::dispatch).
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u64,))]
    /// pub struct Square;
    ///
    /// #[worker(Square)]
    /// fn square(task_id: usize) -> (u64,) {
    ///     ((task_id * task_id) as u64,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let coordinator = Coordinator::new(8);
    /// let mut next_id = 0;
    /// for batch in coordinator.stream(Square, 1000, 64) {
    ///     let batch = batch?;
    ///     // In task-id order; the last batch holds the 1000 % 64 ids left.
    ///     assert_eq!(batch.first_id(), next_id);
    ///     assert_eq!(batch.len(), if next_id == 960 { 40 } else { 64 });
    ///     assert_eq!(batch.get(1), Some((((next_id + 1) * (next_id + 1)) as u64,)));
    ///     assert_eq!(batch.as_bytes().len(), batch.len() * 8);
    ///     next_id += batch.len();
    /// }
    /// assert_eq!(next_id, 1000);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The stream's items are errors where [`dispatch`](Self::dispatch)
    /// would fail: a bad request ([`Error::ZeroBatchSize`],
    /// [`Error::MemoryNotDefined`], or [`Error::ResultsTooLarge`] for a batch
    /// too large for memory's address space) is the first and only item; a
    /// batch that fails ([`Error::WorkerPanicked`],
    /// [`Error::AllocationFailed`]) comes in its place, after every batch
    /// before it; [`Error::CoordinatorDestroyed`] comes at once if the
    /// coordinator is destroyed. The stream ends after an error.
    pub fn stream<T: Worker>(&self, task: T, threads: usize, batch: usize) -> Stream<T>
    where
        T::Args: NoArgs<T>,
    {
        self.stream_with(task, threads, batch, NoArgs::none())
    }

    /// [`stream`](Self::stream) for a task that declares `args`.
    pub fn stream_with<T: Worker>(
        &self,
        _task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
    ) -> Stream<T> {
        let memory = match self.memory_of::<T>() {
            Ok(memory) => memory,
            Err(error) => return Stream::failed(error),
        };
        let lanes = self.actors.min(self.threads());
        let set = T::HAS_STATE.then(|| self.state_set::<T>());
        let mut stream = Stream::new(
            threads,
            batch,
            memory,
            args,
            Arc::downgrade(&self.pool),
            lanes,
            self.actors,
            set,
        );
        if let Some(work) = stream.abort_handle() {
            stream.set_ticket(self.running.track(work));
        }
        stream
    }

    /// Runs task ids `0..threads` in batches of `batch` and streams their
    /// packets into the results file at `path`, a durable chunk at a time
    /// (flushed and synced every 8 MiB or 5 seconds; see
    /// [`run_to_file_options`](Self::run_to_file_options)), in memory
    /// bounded as for [`stream`](Self::stream) however large the job.
    ///
    /// The file is a results file of format 2 that also records the job's
    /// shape: the task's schema, `threads`, `batch` and the args (none
    /// here; [`run_to_file_with`](Self::run_to_file_with) records their
    /// wire bytes). [`Results::read_from`] reads it once complete.
    ///
    /// If `path` already holds a run of the same job that was interrupted
    /// (killed, or stopped by an error), the chunks that are there are
    /// verified, a torn tail is dropped (the file is truncated after the
    /// last chunk that verifies) and the job resumes after it: the
    /// finished file is byte for byte the one an uninterrupted run writes,
    /// provided the task's output depends only on its id, memory and args.
    /// A complete file of the same job is verified and kept: the call
    /// returns at once. The [`RunSummary`] says how many ids were computed
    /// now and how many kept.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u64,))]
    /// pub struct Square;
    ///
    /// #[worker(Square)]
    /// fn square(task_id: usize) -> (u64,) {
    ///     ((task_id * task_id) as u64,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let path = std::env::temp_dir().join(format!("squares-{}.prlz", std::process::id()));
    /// let coordinator = Coordinator::new(4);
    /// let summary = coordinator.run_to_file(Square, 100_000, 1000, &path)?;
    /// assert_eq!((summary.computed, summary.kept), (100_000, 0));
    /// // Run again: the file is complete, nothing is computed.
    /// let summary = coordinator.run_to_file(Square, 100_000, 1000, &path)?;
    /// assert_eq!((summary.computed, summary.kept), (0, 100_000));
    /// let results = Results::<Square>::read_from(std::fs::File::open(&path).unwrap())?;
    /// assert_eq!(results.get(300), Some((90_000,)));
    /// // Another job's file is never overwritten.
    /// let other = coordinator.run_to_file(Square, 5, 1000, &path).unwrap_err();
    /// assert!(matches!(other, Error::JobMismatch { .. }));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::JobMismatch`] if the file holds anything but a run of this
    /// job (it is left untouched); [`Error::WriteFailed`] or
    /// [`Error::ReadFailed`] if the file cannot be opened, read or written
    /// (a disk full: the file keeps its whole chunks and resumes, and never
    /// reads as complete); a stream's errors ([`Error::ZeroBatchSize`],
    /// [`Error::MemoryNotDefined`], [`Error::WorkerPanicked`], ...), after
    /// which the file resumes too.
    pub fn run_to_file<T: Worker>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
        path: impl AsRef<Path>,
    ) -> Result<RunSummary, Error>
    where
        T::Args: NoArgs<T>,
    {
        self.run_to_file_options(task, threads, batch, path, &FileOptions::default())
    }

    /// [`run_to_file`](Self::run_to_file) for a task whose `args` are a
    /// [`WireType`]: the file records their wire bytes, and resumes only a
    /// run with the same bytes.
    pub fn run_to_file_with<T: Worker>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
        path: impl AsRef<Path>,
    ) -> Result<RunSummary, Error>
    where
        T::Args: WireType,
    {
        self.run_to_file_with_options(task, threads, batch, args, path, &FileOptions::default())
    }

    /// [`run_to_file`](Self::run_to_file) with the given sync interval and
    /// progress bar.
    pub fn run_to_file_options<T: Worker>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
        path: impl AsRef<Path>,
        options: &FileOptions,
    ) -> Result<RunSummary, Error>
    where
        T::Args: NoArgs<T>,
    {
        if batch == 0 {
            return Err(Error::ZeroBatchSize { task: T::NAME });
        }
        let path = path.as_ref();
        let file = resume::open::<T>(path)?;
        let name = path.display().to_string();
        resume::run_to(
            self,
            task,
            threads,
            batch,
            NoArgs::none(),
            None,
            file,
            &name,
            options,
        )
    }

    /// [`run_to_file_with`](Self::run_to_file_with) with the given sync
    /// interval and progress bar.
    pub fn run_to_file_with_options<T: Worker>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
        path: impl AsRef<Path>,
        options: &FileOptions,
    ) -> Result<RunSummary, Error>
    where
        T::Args: WireType,
    {
        if batch == 0 {
            return Err(Error::ZeroBatchSize { task: T::NAME });
        }
        let path = path.as_ref();
        let file = resume::open::<T>(path)?;
        let name = path.display().to_string();
        let bytes = Some(args.to_wire().as_bytes().to_vec());
        resume::run_to(
            self, task, threads, batch, args, bytes, file, &name, options,
        )
    }

    /// Shuts the coordinator down.
    ///
    /// Background dispatches still running stop at their next batch boundary,
    /// and their handles resolve at once to
    /// [`Error::CoordinatorDestroyed`]; so do streams, at their next item.
    /// Nothing waits for a whole job. The result buffers kept for reuse are
    /// freed, and so are the actors' states (those a run still holds when it
    /// ends). Dropping the coordinator does the same.
    pub fn destroy(self) {}

    /// The task's actor states: made empty when first asked for.
    fn state_set<T: TaskState>(&self) -> Arc<StateSet<T::State>> {
        let key = TypeId::of::<T>();
        let found = self
            .states
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let set = match found {
            Some(set) => set,
            None => Arc::clone(
                self.states
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(key)
                    .or_insert_with(|| Arc::new(StateSet::new::<T>(self.actors))),
            ),
        };
        set.downcast::<StateSet<T::State>>()
            .unwrap_or_else(|_| unreachable!("states stored under a task's TypeId have its type"))
    }

    /// Lends the task's actor states to a run on this thread, waiting for
    /// its turn: `()`s for a task without state.
    fn lease<T: TaskState>(&self) -> Result<Lease<T::State>, Error> {
        if T::HAS_STATE {
            self.state_set::<T>().acquire()
        } else {
            Ok(Lease::stateless::<T>(self.actors))
        }
    }

    fn equal_batch(&self, threads: usize) -> usize {
        threads.div_ceil(self.actors).max(1)
    }

    pub(crate) fn memory_of<T: Task>(&self) -> Result<Arc<T::Memory>, Error> {
        let defined = self
            .memory
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&TypeId::of::<T>())
            .cloned();
        match defined.map(Arc::downcast::<T::Memory>) {
            Some(Ok(memory)) => Ok(memory),
            // Keyed by the task's TypeId, so the type always matches.
            Some(Err(_)) => unreachable!("memory stored under a task's TypeId has its type"),
            None if T::HAS_MEMORY => Err(Error::MemoryNotDefined { task: T::NAME }),
            None => memory_not_declared::<T>(),
        }
    }
}

/// The memory of a task that declares none: its type is `()`.
fn memory_not_declared<T: Task>() -> Result<Arc<T::Memory>, Error> {
    let unit: Arc<dyn Any + Send + Sync> = Arc::new(());
    unit.downcast::<T::Memory>()
        .map_err(|_| Error::MemoryNotDefined { task: T::NAME })
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.running.abort_all();
    }
}

impl fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coordinator")
            .field("actors", &self.actors)
            .field("threads", &self.threads())
            .finish_non_exhaustive()
    }
}

/// Configures a [`Coordinator`]: `Coordinator::builder().actors(64).threads(2).build()`.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CoordinatorBuilder {
    actors: Option<usize>,
    threads: Option<usize>,
}

impl CoordinatorBuilder {
    /// The number of actors (default 256).
    pub fn actors(mut self, actors: usize) -> Self {
        self.actors = Some(actors);
        self
    }

    /// The number of pool threads (default, and for 0: the machine's
    /// available parallelism, or `RAYON_NUM_THREADS` if it is set), at most
    /// [`MAX_THREADS`](Self::MAX_THREADS).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Starts the coordinator's thread pool.
    ///
    /// # Errors
    ///
    /// [`Error::NoActors`] for 0 actors, [`Error::ThreadPool`] for more
    /// than [`MAX_THREADS`](Self::MAX_THREADS) threads or if the threads
    /// cannot be started.
    pub fn build(self) -> Result<Coordinator, Error> {
        let actors = self.actors.unwrap_or(DEFAULT_ACTORS);
        if actors == 0 {
            return Err(Error::NoActors);
        }
        let threads = self.threads.unwrap_or(0);
        if threads > Self::MAX_THREADS {
            return Err(Error::ThreadPool {
                message: format!(
                    "{threads} threads were asked for, more than the {} a pool may have: \
                     ask for at most about as many threads as the machine has cores \
                     (0 picks that number)",
                    Self::MAX_THREADS
                ),
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|index| format!("parallelizer-{index}"))
            .panic_handler(control::pool_panic_handler)
            .build()
            .map_err(|error| Error::ThreadPool {
                message: error.to_string(),
            })?;
        Ok(Coordinator {
            actors,
            pool: Arc::new(pool),
            memory: RwLock::default(),
            states: RwLock::default(),
            buffers: Arc::default(),
            running: Arc::default(),
        })
    }

    /// The most threads a pool may have. More threads than cores only adds
    /// switching; this bound turns a mistaken huge count into an error up
    /// front rather than a long failure inside the operating system.
    pub const MAX_THREADS: usize = 4096;
}

const DEFAULT_ACTORS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[crate::task(packet = (u32,))]
    pub struct Count;

    #[crate::worker(Count)]
    fn count(task_id: usize) -> (u32,) {
        (task_id as u32,)
    }

    #[test]
    fn finished_background_work_is_forgotten() {
        let coordinator = Coordinator::new(4);
        let handles: Vec<_> = (0..200).map(|_| coordinator.spawn(Count, 10, 2)).collect();
        let streams: Vec<_> = (0..3).map(|_| coordinator.stream(Count, 10, 2)).collect();
        // The streams have not started; spawned jobs may have finished.
        assert!(coordinator.running.tracked() >= 3);
        for stream in streams {
            assert_eq!(stream.count(), 5);
        }
        let results: Vec<_> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
        assert_eq!(results.len(), 200);
        assert_eq!(coordinator.running.tracked(), 0);
    }
}
