//! The coordinator: a pool of actors that runs typed tasks in batches.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, PoisonError, RwLock};

use crate::buffer::BufferPool;
use crate::control::{self, Control, Registry};
use crate::dispatch::{Completion, Dispatch};
use crate::error::Error;
use crate::results::Results;
use crate::run::{Job, Runner};
use crate::stream::Stream;
use crate::task::{Task, Worker};

type MemoryMap = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

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
    pub fn dispatch<T: Worker<Args = ()>>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
    ) -> Result<Results<T>, Error> {
        self.dispatch_with(task, threads, batch, ())
    }

    /// [`dispatch`](Self::dispatch) with the batch size that deals the task
    /// ids equally to the actors: `ceil(threads / actors)`, at least 1.
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch).
    pub fn dispatch_equally<T: Worker<Args = ()>>(
        &self,
        task: T,
        threads: usize,
    ) -> Result<Results<T>, Error> {
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
    pub fn dispatch_into<T: Worker<Args = ()>>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
        results: &mut Results<T>,
    ) -> Result<(), Error> {
        self.dispatch_with_into(task, threads, batch, (), results)
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
            Job::new(
                0..threads,
                batch,
                self.actors,
                memory,
                Arc::new(args),
                control,
            )
        });
        let job = match job {
            Ok(job) => job,
            Err(error) => {
                results.buffer_mut().bytes_mut().clear();
                return Err(error);
            }
        };
        let outcome = job.run_into(results.buffer_mut(), Runner::Caller(&self.pool));
        job.release();
        outcome
    }

    /// Starts a dispatch in the background and returns its handle at once.
    ///
    /// None of the job runs on the calling thread. Errors that
    /// [`dispatch`](Self::dispatch) would return come out of
    /// [`Dispatch::wait`] (or the callback of [`Dispatch::on_complete`]).
    pub fn spawn<T: Worker<Args = ()>>(
        &self,
        task: T,
        threads: usize,
        batch: usize,
    ) -> Dispatch<T> {
        self.spawn_with(task, threads, batch, ())
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
        let job = Job::new(ids, batch, self.actors, memory, args, control)?;
        let outcome = job.run(&self.buffers, Runner::Caller(&self.pool));
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
        match Job::new(ids, batch, self.actors, memory, args, control) {
            Err(error) => completion.complete(Err(error)),
            Ok(job) => {
                let ticket = self.running.track(Arc::downgrade(&completion) as _);
                let delivery = Arc::clone(&completion);
                let buffers = Arc::clone(&self.buffers);
                self.pool.spawn(move || {
                    let outcome = job.run(&buffers, Runner::Pool);
                    drop((ticket, buffers));
                    // Delivered before the job's values are dropped, which
                    // runs user code that may even destroy this coordinator.
                    delivery.complete(outcome.map(Results::from_packets));
                    job.release();
                });
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
    pub fn stream<T: Worker<Args = ()>>(&self, task: T, threads: usize, batch: usize) -> Stream<T> {
        self.stream_with(task, threads, batch, ())
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
        let mut stream = Stream::new(
            threads,
            batch,
            memory,
            args,
            Arc::downgrade(&self.pool),
            lanes,
        );
        if let Some(work) = stream.abort_handle() {
            stream.set_ticket(self.running.track(work));
        }
        stream
    }

    /// Shuts the coordinator down.
    ///
    /// Background dispatches still running stop at their next batch boundary,
    /// and their handles resolve at once to
    /// [`Error::CoordinatorDestroyed`]; so do streams, at their next item.
    /// Nothing waits for a whole job. The result buffers kept for reuse are
    /// freed. Dropping the coordinator does the same.
    pub fn destroy(self) {}

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
