//! The traits that `#[task]` and `#[worker]` implement.

pub(crate) use crate::schema::Fnv1a;
use crate::schema::Schema;
use crate::wire::{intern, without_paths, InvalidValue, Shape, WireBytes};

/// A typed task: its packet schema, its memory and its per-dispatch arguments.
///
/// Implemented by [`#[task]`](crate::task) on a unit struct. The trait is
/// sealed: only the macro implements it, and a hand-written impl is a compile
/// error. The unit value (`Hello`) names the task in calls such as
/// [`Coordinator::dispatch`](crate::Coordinator::dispatch).
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[task(packet = (u16, FixedStr<11>))]
/// pub struct Hello;
///
/// assert_eq!(Hello::NAME, "Hello");
/// assert_eq!(Hello::PACKET_SIZE, 2 + 11 + 4);
/// let packet = Hello::encode((7, FixedStr::new("Hello World").unwrap()));
/// assert_eq!(Hello::decode(&packet).0, 7);
/// ```
pub trait Task: sealed::SealedTask + Sized + 'static {
    /// What a worker returns for one task id: the tuple of the packet's value
    /// types, in order, or the struct of `#[task(packet = Struct)]`.
    type Output;

    /// The generated wire struct: every field's wire form in order, with no
    /// padding, so its bytes are exactly the packet's bytes. For
    /// `packet = Struct`, the struct's wire form, with its field names.
    type Packet: WireBytes;

    /// Read-only data that every worker call sees (`memory = Type`), or `()`.
    type Memory: Send + Sync + 'static;

    /// A value passed to every worker call of one dispatch (`args = Type`),
    /// or `()`.
    type Args: Send + Sync + 'static;

    /// The task's name: the struct's identifier.
    const NAME: &'static str;

    /// The size of one packet in bytes.
    const PACKET_SIZE: usize;

    /// Whether the task declares `memory`, which must then be
    /// [defined](crate::Coordinator::define) before a dispatch.
    const HAS_MEMORY: bool;

    /// The declared type of each packet field, as written in the attribute
    /// (for `packet = Struct`, as written in the struct).
    const FIELD_TYPES: &'static [&'static str];

    /// The wire size in bytes of each packet field, in order: they add up to
    /// [`PACKET_SIZE`](Self::PACKET_SIZE).
    const FIELD_SIZES: &'static [usize];

    /// Writes one output in wire form.
    fn encode(output: Self::Output) -> Self::Packet;

    /// Reads one output back from its wire form.
    fn decode(packet: &Self::Packet) -> Self::Output;

    /// Checks every field of a packet read from outside.
    fn validate(packet: &Self::Packet) -> Result<(), FieldError>;

    /// The packet's layout as a tree: every field's name, type, offset,
    /// size, kind and parts, and the [fingerprint](Schema::fingerprint) that
    /// results files carry.
    fn schema() -> Schema {
        Schema::of::<Self>()
    }

    /// The packet's [`Shape`]: a struct whose fields are the packet's
    /// fields, each described by its own type ([`WireType::shape`]).
    /// [`schema`](Self::schema) is built from it.
    ///
    /// `#[task]` implements it; the default describes each field as raw
    /// bytes of its size, named after its position.
    ///
    /// [`WireType::shape`]: crate::WireType::shape
    fn packet_shape() -> Shape {
        let fields = Self::FIELD_TYPES
            .iter()
            .zip(Self::FIELD_SIZES)
            .enumerate()
            .map(|(index, (&type_name, &size))| {
                (intern(index.to_string()), Shape::raw(type_name, size))
            });
        Shape::structure(Self::NAME, fields)
    }
}

/// The supertrait that seals [`Task`].
pub(crate) mod sealed {
    /// Implemented by `#[task]` beside [`Task`](super::Task), through
    /// `parallelizer::__private`; no other code outside this crate should.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a task: `Task` is sealed, only `#[task]` implements it",
        label = "declare the task with `#[task(packet = (...))]` on the struct instead"
    )]
    pub trait SealedTask {}
}

/// A task with its worker function: what a coordinator can dispatch.
///
/// Implemented by [`#[worker(Task)]`](crate::worker) on a plain function.
#[diagnostic::on_unimplemented(
    message = "task `{Self}` has no worker",
    label = "no `#[worker({Self})]` function is defined for this task",
    note = "define one: `#[worker({Self})] fn work(task_id: usize) -> (...) {{ ... }}` \
            (add `memory: &Memory`, `args: &Args` and `state: &mut State` parameters if the \
            task declares them)"
)]
pub trait Worker: TaskState {
    /// Runs the worker function for one task id.
    ///
    /// For a task that declares `state`, the call gets a state of its own,
    /// made by [`TaskState::default_state`] and dropped afterwards.
    ///
    /// # Panics
    ///
    /// If the task declares a `state` whose type does not implement
    /// `Default`: call [`run_with_state`](Self::run_with_state) instead.
    fn run(task_id: usize, memory: &Self::Memory, args: &Self::Args) -> Self::Output {
        let mut state = Self::default_state().unwrap_or_else(|| {
            panic!(
                "task `{}` declares a state that does not implement `Default`: \
                 call `run_with_state` with a state",
                Self::NAME
            )
        });
        Self::run_with_state(task_id, memory, args, &mut state)
    }

    /// Runs the worker function for one task id with an actor's state (the
    /// `&mut ()` of a task that declares none).
    fn run_with_state(
        task_id: usize,
        memory: &Self::Memory,
        args: &Self::Args,
        state: &mut Self::State,
    ) -> Self::Output;
}

/// The state each actor keeps for a task (`state = Type`), from one batch
/// and one dispatch to the next.
///
/// Implemented by [`#[task]`](crate::task) beside [`Task`], for every task:
/// a task that declares no `state` has the state `()`. See
/// [`Coordinator::define_state`](crate::Coordinator::define_state).
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[derive(Default)]
/// pub struct Tally {
///     pub calls: u64,
/// }
///
/// #[task(packet = (u32,), state = Tally)]
/// pub struct Counted;
///
/// #[task(packet = (u32,))]
/// pub struct Plain;
///
/// assert!(Counted::HAS_STATE && !Plain::HAS_STATE);
/// assert_eq!(Counted::default_state().map(|tally| tally.calls), Some(0));
/// ```
pub trait TaskState: Task {
    /// What each actor keeps (`state = Type`), or `()`. Each actor's state
    /// is used by one batch at a time, so it needs to be `Send` but not
    /// `Sync`.
    type State: Send + 'static;

    /// Whether the task declares `state`.
    const HAS_STATE: bool;

    /// The state an actor starts with when no initializer was given with
    /// [`Coordinator::define_state`](crate::Coordinator::define_state):
    /// `Default::default()`, or `None` if the state type does not implement
    /// `Default`.
    fn default_state() -> Option<Self::State>;
}

/// Implemented by `()` only: the `Args` of a task that declares no `args`.
///
/// [`Coordinator::dispatch`](crate::Coordinator::dispatch) and the other
/// calls without `args` require it, so that calling one on a task that
/// declares `args` says to use the `_with` call instead.
#[diagnostic::on_unimplemented(
    message = "task `{T}` declares `args`, so it is dispatched with the `_with` calls",
    label = "`{T}` takes args of type `{Self}`: call `dispatch_with({T}, threads, batch, args)` \
             (or `spawn_with`, `stream_with`, `dispatch_with_into`, `dispatch_equally_with`)",
    note = "`dispatch`, `spawn`, `stream`, `dispatch_into` and `dispatch_equally` are for \
            tasks without `args`"
)]
pub trait NoArgs<T>: Sized {
    /// The value: `()`.
    fn none() -> Self;
}

impl<T> NoArgs<T> for () {
    #[inline]
    fn none() -> Self {}
}

/// The field of a packet that failed [`Task::validate`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's index in the packet.
    pub field: usize,
    /// Why its value is invalid.
    pub reason: InvalidValue,
}

impl Schema {
    /// The schema of task `T`: the same as `T::schema()`, built from
    /// [`T::packet_shape()`](Task::packet_shape).
    pub fn of<T: Task>() -> Schema {
        let schema = Schema::from_shape(T::NAME, T::packet_shape());
        debug_assert_eq!(schema.packet_size(), T::PACKET_SIZE);
        schema
    }
}

/// The fingerprint of `T`'s packet in a results file of format version 1:
/// the FNV-1a 64 hash of the number of fields, then each field's size, and
/// its declared type's name without whitespace or paths (`docs/FORMAT.md`).
/// Kept so that version-1 files stay readable (and writable).
pub(crate) fn v1_fingerprint<T: Task>() -> u64 {
    debug_assert_eq!(T::FIELD_TYPES.len(), T::FIELD_SIZES.len());
    let mut hash = Fnv1a::new();
    hash.write_u64(T::FIELD_TYPES.len() as u64);
    for (type_name, &size) in T::FIELD_TYPES.iter().zip(T::FIELD_SIZES) {
        let name = canonical_type_name(type_name);
        hash.write_u64(size as u64);
        hash.write_u64(name.len() as u64);
        hash.write(name.as_bytes());
    }
    hash.finish()
}

/// A type name without whitespace or path qualifiers:
/// `::parallelizer::FixedStr< 11 >` becomes `FixedStr<11>`.
fn canonical_type_name(type_name: &str) -> String {
    without_paths(type_name.chars().filter(|c| !c.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_type_names_drop_whitespace_and_paths() {
        assert_eq!(canonical_type_name("u16"), "u16");
        assert_eq!(canonical_type_name("FixedStr<11>"), "FixedStr<11>");
        assert_eq!(
            canonical_type_name("::parallelizer::wire::FixedStr < 11 >"),
            "FixedStr<11>"
        );
        assert_eq!(
            canonical_type_name("my_crate::Pair<a::B, c::D>"),
            "Pair<B,D>"
        );
    }
}
