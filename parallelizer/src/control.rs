//! The lifecycle of running work, in one place: stopping (cancellation,
//! deadlines, failures), progress, panics, waiting without starving the pool,
//! and the registry of background work that a coordinator ends when it is
//! destroyed.
//!
//! As rayon-core keeps `unwind` and `latch` apart from its scheduler, the
//! schedulers here ([`run`](crate::run), [`stream`](crate::stream)) only
//! call into this module: every `catch_unwind` of the crate is in it.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::error::Error;

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
    /// The state sets that a thread waiting for the job holds (see
    /// [`state`](crate::state)): the job's batches hold them too.
    waiters_held: OnceLock<Vec<usize>>,
    /// The state set whose queue the job waits in, if any.
    queued_for: Mutex<Option<Arc<dyn StateQueue>>>,
}

/// A queue of runs waiting for a task's actor states (a
/// [`StateSet`](crate::state::StateSet)), as a job waiting in it sees it.
pub(crate) trait StateQueue: Send + Sync + std::fmt::Debug {
    /// Whether a thread that holds the sets `held` would wait for the queue
    /// forever: it holds this one, or a stream open on it does.
    fn would_deadlock(&self, held: &[usize]) -> bool;
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
            waiters_held: OnceLock::new(),
            queued_for: Mutex::new(None),
        }
    }

    /// Notes the state sets that a thread about to wait for the job holds
    /// (the first such thread's). Returns whether the job waits for states
    /// that this thread holds, which would never end.
    pub fn waited_on_by(&self, held: Vec<usize>) -> bool {
        let queued = lock(&self.queued_for).clone();
        let deadlock = queued.is_some_and(|queue| queue.would_deadlock(&held));
        if !held.is_empty() {
            let _ = self.waiters_held.set(held);
        }
        deadlock
    }

    /// The state sets that threads waiting for the job hold.
    #[inline]
    pub fn waiters_held(&self) -> &[usize] {
        self.waiters_held.get().map_or(&[], Vec::as_slice)
    }

    /// Notes that the job waits in `queue` (`None`: no longer).
    pub fn set_queued_for(&self, queue: Option<Arc<dyn StateQueue>>) {
        *lock(&self.queued_for) = queue;
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
    pub fn stopped(&self) -> bool {
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

    /// Counts `tasks` more finished task ids.
    pub fn finished(&self, tasks: usize) {
        self.done.fetch_add(tasks, Ordering::Relaxed);
    }

    /// Why the job stopped, if it did; taken once.
    pub fn take_failure(&self) -> Option<Error> {
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

/// Runs `f`, turning a panic into its message. The panic hook has already
/// reported it; the payload is dropped here, safely.
///
/// Inlined so that `f`, the workers' hot loop in [`run::fill`], is compiled
/// into its caller: called through this function instead, the loop ran 2.6
/// times slower (`cargo bench --bench dispatch`, large job).
///
/// [`run::fill`]: crate::run::fill
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        drop_caught(payload);
        message
    })
}

/// Drops a user value (memory, args, a panic payload) where a panic in its
/// `Drop` cannot unwind into the pool, which would abort the process. Such a
/// panic is reported by the panic hook and otherwise ignored: the work the
/// value served is done and its outcome stands.
pub(crate) fn drop_caught<V>(value: V) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        // A payload whose own `Drop` panics again is leaked, not dropped.
        if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
    }
}

/// What the pool does with a panic that escaped every catch (there should be
/// none): drop it safely instead of aborting the process, rayon's default.
pub(crate) fn pool_panic_handler(payload: Box<dyn Any + Send>) {
    drop_caught(payload);
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
pub(crate) fn lock<S>(mutex: &Mutex<S>) -> MutexGuard<'_, S> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `ready` until `done(&state)` holds, and returns the guard.
pub(crate) fn wait_until<'a, S>(
    mutex: &'a Mutex<S>,
    ready: &Condvar,
    mut done: impl FnMut(&S) -> bool,
) -> MutexGuard<'a, S> {
    let mut state = lock(mutex);
    while !done(&state) {
        state = wait(state, mutex, ready);
    }
    state
}

/// Waits once for `ready` to be signalled (or spuriously wakes), giving the
/// lock up meanwhile.
///
/// On a pool thread (a worker or a callback that waits for work of its own
/// coordinator), blocking could leave no thread to run that work: such a
/// thread runs pending pool work instead, then looks again.
pub(crate) fn wait<'a, S>(
    state: MutexGuard<'a, S>,
    mutex: &'a Mutex<S>,
    ready: &Condvar,
) -> MutexGuard<'a, S> {
    if rayon::current_thread_index().is_some() {
        drop(state);
        if let Some(rayon::Yield::Idle) = rayon::yield_now() {
            std::thread::sleep(Duration::from_micros(50));
        }
        lock(mutex)
    } else {
        ready.wait(state).unwrap_or_else(PoisonError::into_inner)
    }
}

/// Background work that a coordinator can end when it is destroyed.
pub(crate) trait Abort: Send + Sync {
    /// Stops the work at its next batch boundary and resolves its handle
    /// with [`Error::CoordinatorDestroyed`] now.
    fn abort(&self);
}

/// The background work of one coordinator: registered in O(1) when it
/// starts, forgotten in O(1) when it ends, ended all at once on destroy.
#[derive(Default)]
pub(crate) struct Registry {
    running: Mutex<HashMap<u64, Weak<dyn Abort>>>,
    next: AtomicU64,
}

impl Registry {
    /// Registers work; it stays registered until the ticket is dropped.
    pub fn track(self: &Arc<Self>, work: Weak<dyn Abort>) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).insert(id, work);
        Ticket {
            registry: Arc::downgrade(self),
            id,
        }
    }

    /// How much work is registered.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        lock(&self.running).len()
    }

    /// Ends every registered work.
    pub fn abort_all(&self) {
        let running = std::mem::take(&mut *lock(&self.running));
        for work in running.values().filter_map(Weak::upgrade) {
            work.abort();
        }
    }
}

/// Unregisters its work when dropped.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    registry: Weak<Registry>,
    id: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            lock(&registry.running).remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flag(AtomicBool);

    impl Abort for Flag {
        fn abort(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn tickets_unregister_their_work() {
        let registry = Arc::new(Registry::default());
        let kept = Arc::new(Flag(AtomicBool::new(false)));
        let ended = Arc::new(Flag(AtomicBool::new(false)));
        let _kept_ticket = registry.track(Arc::downgrade(&kept) as Weak<dyn Abort>);
        drop(registry.track(Arc::downgrade(&ended) as Weak<dyn Abort>));
        assert_eq!(lock(&registry.running).len(), 1);
        registry.abort_all();
        assert!(kept.0.load(Ordering::SeqCst));
        assert!(!ended.0.load(Ordering::SeqCst));
    }

    #[test]
    fn panics_in_drops_are_contained() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("boom");
            }
        }
        drop_caught(Bomb);
        let message = catch(|| std::panic::panic_any(String::from("worker failed")));
        assert_eq!(message.unwrap_err(), "worker failed");
        let message = catch(|| std::panic::panic_any(Bomb));
        assert_eq!(
            message.unwrap_err(),
            "a panic with a payload that is not a string"
        );
    }
}
