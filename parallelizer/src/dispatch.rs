//! The handle of a dispatch running in the background.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::control::{self, Abort, Control, Progress};
use crate::error::Error;
use crate::results::Results;
use crate::state;
use crate::task::Task;

/// The outcome of a dispatch.
pub type Outcome<T> = Result<Results<T>, Error>;

type Callback<T> = Box<dyn FnOnce(Outcome<T>) + Send>;

/// A dispatch running in the background, returned by
/// [`Coordinator::spawn`](crate::Coordinator::spawn).
///
/// The handle is `Send + 'static`: it can move to another thread and outlive
/// its coordinator (if the coordinator is destroyed first, the dispatch ends
/// with [`Error::CoordinatorDestroyed`]). Dropping the handle detaches the
/// dispatch: it runs to the end and its results are dropped.
///
/// # Async
///
/// A `Dispatch` is also a [`Future`] of the same outcome, which needs no
/// executor of its own and no dependency on one: `.await` it on tokio or any
/// other executor, and the thread that finishes the job wakes it. Polling
/// never blocks the thread. [`cancel`](Self::cancel),
/// [`with_deadline`](Self::with_deadline) and [`progress`](Self::progress)
/// work on it as on any handle.
///
/// Dropping a future that has been polled and has not finished cancels its
/// dispatch, as async code expects of a future that is given up (a
/// `select!` that takes another branch, a timeout): the job stops at its
/// next batch boundary. A handle that was never polled is not a future in
/// use: dropping it detaches the dispatch, as before.
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
/// async fn serve(coordinator: &Coordinator) -> Result<u64, Error> {
///     let results = coordinator.spawn(Square, 1000, 50).await?;
///     Ok(results.get(999).unwrap().0)
/// }
///
/// # fn main() {
/// # // A minimal executor, to run the doctest without a dependency.
/// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     struct Unpark(std::thread::Thread);
/// #     impl std::task::Wake for Unpark {
/// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
/// #     }
/// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut future = std::pin::pin!(future);
/// #     loop {
/// #         match future.as_mut().poll(&mut cx) {
/// #             std::task::Poll::Ready(output) => return output,
/// #             std::task::Poll::Pending => std::thread::park(),
/// #         }
/// #     }
/// # }
/// let coordinator = Coordinator::new(8);
/// assert_eq!(block_on(serve(&coordinator)), Ok(998_001));
/// # }
/// ```
///
/// Blocking:
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
/// let pending = coordinator.spawn(Square, 1000, 50);
/// // ... the caller's thread is free here ...
/// let results = pending.wait()?;
/// assert_eq!(results.get(999), Some((998_001,)));
/// # Ok(())
/// # }
/// ```
pub struct Dispatch<T: Task> {
    shared: Arc<Completion<T>>,
    /// Polled as a future: dropping it unfinished cancels the dispatch.
    polled: bool,
}

impl<T: Task> Dispatch<T> {
    pub(crate) fn new(shared: Arc<Completion<T>>) -> Self {
        Dispatch {
            shared,
            polled: false,
        }
    }

    /// Before this thread waits for the dispatch: a dispatch of a stateful
    /// task that waits for the states a run on this thread holds would never
    /// start, so it fails now with [`Error::StateInUse`]. Otherwise the
    /// dispatch's batches hold what this thread holds, so that they, too,
    /// fail rather than wait for it.
    fn about_to_wait(&self) {
        let held = state::held_here();
        if self.shared.control.waited_on_by(held) {
            let error = Error::StateInUse { task: T::NAME };
            self.shared.control.stop(error.clone());
            self.shared.complete(Err(error));
        }
    }

    /// Blocks until the dispatch ends and returns its outcome.
    ///
    /// Called on a pool thread (from a worker, or from a callback), it runs
    /// pending pool work while it waits instead of blocking the thread, so a
    /// worker may wait on a dispatch of its own coordinator.
    ///
    /// # Errors
    ///
    /// Whatever ended the dispatch: a worker panic
    /// ([`Error::WorkerPanicked`]), the coordinator's destruction
    /// ([`Error::CoordinatorDestroyed`]), or a bad request (such as
    /// [`Error::ZeroBatchSize`]).
    pub fn wait(mut self) -> Outcome<T> {
        self.polled = false;
        self.about_to_wait();
        let shared = &self.shared;
        let mut state = control::wait_until(&shared.state, &shared.ready, |state| {
            !matches!(state, State::Running(_))
        });
        match std::mem::replace(&mut *state, State::Taken) {
            State::Finished(outcome) => outcome,
            // `wait` and `on_complete` take the only handle by value.
            State::Running(_) | State::Waiting(_) | State::Taken => {
                unreachable!("a dispatch's outcome is taken once")
            }
        }
    }

    /// [`wait`](Self::wait), drawing a progress bar on the terminal
    /// meanwhile: task ids done, rate and time left.
    ///
    /// The bar goes to standard error and is drawn only when that is a
    /// terminal, so logs and CI output stay clean. Needs the `progress`
    /// feature.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    #[cfg(feature = "progress")]
    pub fn wait_with_progress(self) -> Outcome<T> {
        let bar = crate::progress::bar(T::NAME, self.progress().total);
        while !self.finished_within(std::time::Duration::from_millis(100)) {
            bar.set_position(self.progress().done as u64);
        }
        bar.set_position(self.progress().done as u64);
        bar.finish_and_clear();
        self.wait()
    }

    /// Whether the dispatch ends within `timeout`.
    #[cfg(feature = "progress")]
    fn finished_within(&self, timeout: std::time::Duration) -> bool {
        let state = self.shared.lock();
        let (state, _) = self
            .shared
            .ready
            .wait_timeout_while(state, timeout, |state| matches!(state, State::Running(_)))
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !matches!(*state, State::Running(_))
    }

    /// Calls `callback` once with the outcome, as the reference library's
    /// dispatch callback does, and returns at once.
    ///
    /// If the dispatch has already ended, `callback` runs now on this thread;
    /// otherwise it runs on the pool thread that ends the dispatch (or, if
    /// the coordinator is destroyed first, on the thread that destroys it).
    /// A callback may wait on another dispatch: on a pool thread, waiting
    /// runs pending pool work rather than blocking the thread. A panic in
    /// a callback on a pool thread is caught there (after the panic hook has
    /// reported it), so the pool goes on working.
    pub fn on_complete<F>(mut self, callback: F)
    where
        F: FnOnce(Outcome<T>) + Send + 'static,
    {
        self.polled = false;
        let mut state = self.shared.lock();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Finished(outcome) => {
                drop(state);
                callback(outcome);
            }
            State::Running(_) => *state = State::Waiting(Box::new(callback)),
            State::Waiting(_) | State::Taken => unreachable!("a dispatch's outcome is taken once"),
        }
    }

    /// Whether the dispatch has ended, so that [`wait`](Self::wait) would
    /// return at once.
    pub fn is_finished(&self) -> bool {
        matches!(*self.shared.lock(), State::Finished(_))
    }

    /// How far the dispatch has come: task ids finished out of the total.
    pub fn progress(&self) -> Progress {
        self.shared.control.progress()
    }

    /// Cancels the dispatch: it stops at its next batch boundary and ends
    /// with [`Error::Cancelled`]. Cancelling a dispatch that has already
    /// ended changes nothing; one that races with the dispatch's last batch
    /// may end it either way.
    pub fn cancel(&self) {
        self.shared.control.stop(Error::Cancelled { task: T::NAME });
    }

    /// Gives the dispatch a deadline: if it has not finished by then, it
    /// stops at its next batch boundary and ends with [`Error::TimedOut`].
    #[must_use]
    pub fn with_deadline(self, deadline: Instant) -> Self {
        self.shared.control.set_deadline(deadline);
        self
    }
}

/// The dispatch's outcome, as [`wait`](Dispatch::wait) returns it, without
/// blocking: the thread that ends the dispatch wakes the task.
impl<T: Task> Future for Dispatch<T> {
    type Output = Outcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        if !self.polled {
            self.polled = true;
            self.about_to_wait();
        }
        // On a pool thread (a worker that awaits), the job may be waiting
        // for this very thread: run pending pool work first, as `wait` does.
        if rayon::current_thread_index().is_some() {
            while !self.is_finished() && rayon::yield_now() == Some(rayon::Yield::Executed) {}
        }
        let mut state = self.shared.lock();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Finished(outcome) => {
                drop(state);
                self.polled = false;
                Poll::Ready(outcome)
            }
            State::Running(waker) => {
                let waker = match waker {
                    Some(stored) if stored.will_wake(cx.waker()) => stored,
                    _ => cx.waker().clone(),
                };
                *state = State::Running(Some(waker));
                Poll::Pending
            }
            State::Waiting(_) | State::Taken => {
                panic!("a `Dispatch` polled after it completed")
            }
        }
    }
}

/// Dropping a handle detaches its dispatch, unless it was polled as a
/// future and has not finished: that cancels the dispatch.
impl<T: Task> Drop for Dispatch<T> {
    fn drop(&mut self) {
        if self.polled && !self.is_finished() {
            self.cancel();
        }
    }
}

impl<T: Task> fmt::Debug for Dispatch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("task", &T::NAME)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

enum State<T: Task> {
    /// With the waker of the task that awaits it, if any.
    Running(Option<Waker>),
    Waiting(Callback<T>),
    Finished(Outcome<T>),
    Taken,
}

/// Where a background dispatch delivers its outcome: once, to whichever of
/// `wait` or a callback asks for it.
pub(crate) struct Completion<T: Task> {
    pub control: Arc<Control>,
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T: Task> Completion<T> {
    pub fn new(control: Arc<Control>) -> Self {
        Completion {
            control,
            state: Mutex::new(State::Running(None)),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        control::lock(&self.state)
    }

    /// Delivers the outcome; the first one wins and later ones are dropped.
    pub fn complete(&self, outcome: Outcome<T>) {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Running(waker) => {
                *state = State::Finished(outcome);
                self.ready.notify_all();
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            State::Waiting(callback) => {
                drop(state);
                // A panic in the callback is contained: the panic hook has
                // reported it, and the pool thread goes on.
                let _ = control::catch(|| callback(outcome));
            }
            done @ (State::Finished(_) | State::Taken) => *state = done,
        }
    }
}

impl<T: Task> Abort for Completion<T> {
    fn abort(&self) {
        let error = Error::CoordinatorDestroyed { task: T::NAME };
        self.control.stop(error.clone());
        self.complete(Err(error));
    }
}
