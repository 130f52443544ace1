//! Per-actor state (`#[task(state = ...)]`): each actor's state of one task
//! on one coordinator, lent whole to one run at a time.
//!
//! A [`StateSet`] holds the states between runs. A run (a blocking or
//! spawned dispatch, a stream, a cluster chunk) borrows every actor's state
//! at once as a [`Lease`] and gives it back when it ends, so runs of one
//! stateful task take turns, in the order they asked, and each actor's state
//! is used by one batch at a time with no lock per task. A run that cannot
//! have the states at once waits in the set's queue: a thread that blocks
//! waits for its turn, a spawned job or a stream is started when its turn
//! comes, so no pool thread is held up.
//!
//! Waiting for states that a run up this thread's stack holds (a worker of
//! the task that dispatches the same task) would never end: each thread
//! keeps the list of the sets its running batches hold, and such a wait
//! fails at once with [`Error::StateInUse`].

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, ThreadId};

use crate::control::{self, StateQueue};
use crate::error::Error;
use crate::task::TaskState;

/// Makes actor `actor`'s state: the initializer of `define_state`.
pub(crate) type Init<S> = Arc<dyn Fn(usize) -> S + Send + Sync>;

/// Takes the states when it is a waiter's turn; gives the lease back as
/// `Err` if it no longer wants them.
type Waiter<S> = Box<dyn FnOnce(Lease<S>) -> Result<(), Lease<S>> + Send>;

/// Every actor's state of one task on one coordinator.
pub(crate) struct StateSet<S: Send + 'static> {
    task: &'static str,
    actors: usize,
    /// `Default::default()` when the state type has it.
    default: fn() -> Option<S>,
    inner: Mutex<Inner<S>>,
}

struct Inner<S: Send + 'static> {
    /// The states while no run holds them; empty until they are made.
    states: Vec<S>,
    /// Who holds the states, if anyone.
    holder: Option<Holder>,
    init: Option<Init<S>>,
    /// Bumped when the states are replaced (`define_state`) or taken
    /// (`take_states`): states lent before are dropped when given back.
    generation: u64,
    /// Runs waiting for the states, in the order they asked.
    queue: VecDeque<Waiter<S>>,
}

/// Who holds a set's states.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// A dispatch, or `take_states`.
    Run,
    /// A stream consumed on this thread.
    Stream(ThreadId),
}

impl<S: Send + 'static> StateSet<S> {
    pub fn new<T: TaskState<State = S>>(actors: usize) -> Self {
        StateSet {
            task: T::NAME,
            actors,
            default: T::default_state,
            inner: Mutex::new(Inner {
                states: Vec::new(),
                holder: None,
                init: None,
                generation: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    /// The set's identity, for the per-thread lists of held sets: its
    /// address, which its `Arc` keeps while anyone can hold it.
    pub fn id(&self) -> usize {
        std::ptr::from_ref(self) as *const () as usize
    }

    /// Replaces the initializer; the states made before are dropped (now,
    /// or when the run that holds them gives them back).
    pub fn define(&self, init: Init<S>) {
        let mut inner = control::lock(&self.inner);
        inner.init = Some(init);
        inner.generation += 1;
        let old = std::mem::take(&mut inner.states);
        drop(inner);
        control::drop_caught(old);
    }

    /// Whether waiting for the states here would never end: a run up this
    /// thread's stack holds them, or a stream open on this thread does.
    pub fn would_deadlock(&self) -> bool {
        StateQueue::would_deadlock(self, &held_here())
    }

    /// Lends the states to a run on this thread, waiting for its turn.
    ///
    /// # Errors
    ///
    /// [`Error::StateInUse`] if the wait would never end.
    pub fn acquire(self: &Arc<Self>) -> Result<Lease<S>, Error> {
        let in_use = Error::StateInUse { task: self.task };
        if holds(self.id()) {
            return Err(in_use);
        }
        let mut inner = control::lock(&self.inner);
        if inner.holder.is_none() && inner.queue.is_empty() {
            return Ok(self.lend(&mut inner, Holder::Run));
        }
        if inner.holder == Some(Holder::Stream(thread::current().id())) {
            return Err(in_use);
        }
        let turn = Arc::new(Turn {
            lease: Mutex::new(TurnState::Waiting),
            ready: Condvar::new(),
        });
        let given = Arc::clone(&turn);
        inner.queue.push_back(Box::new(move |lease| {
            let mut state = control::lock(&given.lease);
            *state = TurnState::Given(lease);
            given.ready.notify_all();
            Ok(())
        }));
        drop(inner);
        let mut state = control::wait_until(&turn.lease, &turn.ready, |state| {
            matches!(state, TurnState::Given(_))
        });
        match std::mem::replace(&mut *state, TurnState::Waiting) {
            TurnState::Given(lease) => Ok(lease),
            TurnState::Waiting => unreachable!("waited until the lease was given"),
        }
    }

    /// Lends the states to `waiter` now if they are free, else when its turn
    /// comes (on the thread that gives them back). `stream` marks a stream
    /// consumed on this thread as their holder.
    pub fn acquire_later(
        self: &Arc<Self>,
        stream: bool,
        waiter: impl FnOnce(Lease<S>) -> Result<(), Lease<S>> + Send + 'static,
    ) {
        let holder = if stream {
            Holder::Stream(thread::current().id())
        } else {
            Holder::Run
        };
        let mut inner = control::lock(&self.inner);
        if inner.holder.is_none() && inner.queue.is_empty() {
            let lease = self.lend(&mut inner, holder);
            drop(inner);
            if let Err(lease) = waiter(lease) {
                drop(lease);
            }
        } else {
            let set = Arc::clone(self);
            inner.queue.push_back(Box::new(move |lease| {
                if holder != Holder::Run {
                    control::lock(&set.inner).holder = Some(holder);
                }
                waiter(lease)
            }));
        }
    }

    /// Takes every actor's state out of the set, made now if they were not;
    /// the actors start again from the initializer. Waits for the runs that
    /// hold them.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire) and [`Lease::prepare`].
    pub fn take(self: &Arc<Self>) -> Result<Vec<S>, Error> {
        let mut lease = self.acquire()?;
        lease.prepare()?;
        Ok(std::mem::take(&mut lease.states))
    }

    fn lend(self: &Arc<Self>, inner: &mut Inner<S>, holder: Holder) -> Lease<S> {
        inner.holder = Some(holder);
        Lease {
            set: Some(Arc::clone(self)),
            states: std::mem::take(&mut inner.states),
            generation: inner.generation,
        }
    }

    /// Takes the states back and lends them to the next waiter, if any.
    fn give_back(self: &Arc<Self>, mut states: Vec<S>, generation: u64) {
        let mut inner = control::lock(&self.inner);
        let mut stale = Vec::new();
        if generation != inner.generation {
            stale.push(std::mem::take(&mut states));
            states = std::mem::take(&mut inner.states);
        }
        loop {
            let Some(waiter) = inner.queue.pop_front() else {
                inner.states = states;
                inner.holder = None;
                break;
            };
            inner.holder = Some(Holder::Run);
            let lease = Lease {
                set: Some(Arc::clone(self)),
                states,
                generation: inner.generation,
            };
            drop(inner);
            match waiter(lease) {
                Ok(()) => {
                    control::drop_caught(stale);
                    return;
                }
                Err(mut lease) => {
                    lease.set = None;
                    inner = control::lock(&self.inner);
                    if lease.generation == inner.generation {
                        states = std::mem::take(&mut lease.states);
                    } else {
                        stale.push(std::mem::take(&mut lease.states));
                        states = std::mem::take(&mut inner.states);
                    }
                }
            }
        }
        drop(inner);
        control::drop_caught(stale);
    }
}

impl<S: Send + 'static> std::fmt::Debug for StateSet<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSet")
            .field("task", &self.task)
            .field("actors", &self.actors)
            .finish_non_exhaustive()
    }
}

impl<S: Send + 'static> StateQueue for StateSet<S> {
    fn would_deadlock(&self, held: &[usize]) -> bool {
        held.contains(&self.id())
            || control::lock(&self.inner).holder == Some(Holder::Stream(thread::current().id()))
    }
}

/// A thread's turn in a set's queue.
struct Turn<S: Send + 'static> {
    lease: Mutex<TurnState<S>>,
    ready: Condvar,
}

enum TurnState<S: Send + 'static> {
    Waiting,
    Given(Lease<S>),
}

/// Every actor's state, lent to one run; given back when dropped.
pub(crate) struct Lease<S: Send + 'static> {
    /// `None` for a task without state, whose states are `()`s.
    set: Option<Arc<StateSet<S>>>,
    /// One per actor once made; empty before.
    states: Vec<S>,
    generation: u64,
}

impl<S: Send + 'static> Lease<S> {
    /// The states of a task without state: `actors` units, which need no
    /// set and no memory.
    pub fn stateless<T: TaskState<State = S>>(actors: usize) -> Self {
        debug_assert!(!T::HAS_STATE);
        let mut states = Vec::new();
        states.resize_with(actors, || {
            T::default_state().unwrap_or_else(|| unreachable!("`()` is `Default`"))
        });
        Lease {
            set: None,
            states,
            generation: 0,
        }
    }

    /// The held set's identity, if the task has state.
    pub fn id(&self) -> Option<usize> {
        self.set.as_deref().map(StateSet::id)
    }

    /// Every actor's state, in actor order, made first if need be: by the
    /// initializer, else by `Default`.
    ///
    /// # Errors
    ///
    /// [`Error::StateNotDefined`] if there is neither, or
    /// [`Error::StatePanicked`] if the initializer panicked (the states made
    /// so far are dropped).
    pub fn prepare(&mut self) -> Result<&mut [S], Error> {
        let Some(set) = &self.set else {
            return Ok(&mut self.states);
        };
        if self.states.len() == set.actors {
            return Ok(&mut self.states);
        }
        let init = control::lock(&set.inner).init.clone();
        let mut states = Vec::with_capacity(set.actors);
        for actor in 0..set.actors {
            let state = match &init {
                Some(init) => {
                    control::catch(|| init(actor)).map_err(|message| Error::StatePanicked {
                        task: set.task,
                        actor,
                        message,
                    })
                }
                None => (set.default)().ok_or(Error::StateNotDefined { task: set.task }),
            };
            match state {
                Ok(state) => states.push(state),
                Err(error) => {
                    control::drop_caught(states);
                    return Err(error);
                }
            }
        }
        self.states = states;
        Ok(&mut self.states)
    }

    /// Hands the states out, leaving the lease empty; put them back with
    /// [`restore`](Self::restore).
    pub fn take_states(&mut self) -> Vec<S> {
        std::mem::take(&mut self.states)
    }

    /// Puts back what [`take_states`](Self::take_states) handed out.
    pub fn restore(&mut self, states: Vec<S>) {
        self.states = states;
    }
}

impl<S: Send + 'static> Drop for Lease<S> {
    fn drop(&mut self) {
        if let Some(set) = self.set.take() {
            set.give_back(std::mem::take(&mut self.states), self.generation);
        }
    }
}

/// A set's states, type-erased, for a coordinator's map of them.
pub(crate) type AnySet = Arc<dyn Any + Send + Sync>;

thread_local! {
    /// The sets whose states the batches running on this thread's stack
    /// hold, and those of the runs waiting for them.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Whether a run up this thread's stack holds the set `id`.
pub(crate) fn holds(id: usize) -> bool {
    HELD.with(|held| held.borrow().contains(&id))
}

/// The sets this thread's runs hold.
pub(crate) fn held_here() -> Vec<usize> {
    HELD.with(|held| held.borrow().clone())
}

/// Marks the sets in `parts` as held on this thread until dropped: what a
/// stretch of batches of a run that holds (or whose waiters hold) them does.
/// Costs one branch when they are all empty.
#[inline]
pub(crate) fn hold(parts: [&[usize]; 3]) -> Holding {
    if parts.iter().all(|part| part.is_empty()) {
        return Holding(None);
    }
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        let len = held.len();
        for part in parts {
            held.extend_from_slice(part);
        }
        Holding(Some(len))
    })
}

/// Unmarks what [`hold`] marked.
pub(crate) struct Holding(Option<usize>);

impl Drop for Holding {
    fn drop(&mut self) {
        if let Some(len) = self.0 {
            HELD.with(|held| held.borrow_mut().truncate(len));
        }
    }
}
