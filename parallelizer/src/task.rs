//! The traits that `#[task]` and `#[worker]` implement.

use std::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::wire::InvalidValue;

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
    /// types, in order.
    type Output;

    /// The generated wire struct: every field's wire form in order, with no
    /// padding, so its bytes are exactly the packet's bytes.
    type Packet: FromBytes
        + IntoBytes
        + KnownLayout
        + Immutable
        + Unaligned
        + Copy
        + fmt::Debug
        + Send
        + Sync
        + 'static;

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

    /// The declared type of each packet field, as written in the attribute.
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

    /// The packet's layout: every field's name, type, offset and size, and
    /// the [fingerprint](Schema::fingerprint) that results files carry.
    fn schema() -> Schema {
        Schema::of::<Self>()
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

/// The layout of a task's packet: its fields in order, with their declared
/// types, offsets and sizes.
///
/// A packet is its fields' wire forms back to back, with no padding, so each
/// field's offset is the sum of the sizes before it. The
/// [fingerprint](Self::fingerprint) identifies the layout in the header of a
/// [results file](crate::persist).
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[task(packet = (u16, FixedStr<11>))]
/// pub struct Hello;
///
/// let schema = Hello::schema();
/// assert_eq!(schema.task(), "Hello");
/// assert_eq!(schema.packet_size(), 17);
/// let text = &schema.fields()[1];
/// assert_eq!((text.name(), text.type_name()), ("1", "FixedStr<11>"));
/// assert_eq!((text.offset(), text.size()), (2, 15));
/// assert_eq!(schema.fingerprint(), 0x0338_4ab8_37a7_1ea4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schema {
    task: &'static str,
    fields: Vec<SchemaField>,
    packet_size: usize,
}

/// One field of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaField {
    name: String,
    type_name: &'static str,
    offset: usize,
    size: usize,
}

impl Schema {
    /// The schema of task `T`: the same as `T::schema()`.
    pub fn of<T: Task>() -> Schema {
        debug_assert_eq!(T::FIELD_TYPES.len(), T::FIELD_SIZES.len());
        let mut offset = 0;
        let fields = T::FIELD_TYPES
            .iter()
            .zip(T::FIELD_SIZES)
            .enumerate()
            .map(|(index, (&type_name, &size))| {
                let field = SchemaField {
                    name: index.to_string(),
                    type_name,
                    offset,
                    size,
                };
                offset += size;
                field
            })
            .collect();
        debug_assert_eq!(offset, T::PACKET_SIZE);
        Schema {
            task: T::NAME,
            fields,
            packet_size: T::PACKET_SIZE,
        }
    }

    /// The task's name. It is not part of the [fingerprint](Self::fingerprint).
    pub fn task(&self) -> &'static str {
        self.task
    }

    /// The packet's fields, in declaration order.
    pub fn fields(&self) -> &[SchemaField] {
        &self.fields
    }

    /// The size of one packet in bytes: the sum of the fields' sizes.
    pub fn packet_size(&self) -> usize {
        self.packet_size
    }

    /// A 64-bit hash of the packet's layout, stable across platforms,
    /// compilers and releases: equal for tasks whose packets have the same
    /// field types in the same order, whatever the tasks are named.
    ///
    /// It is the 64-bit FNV-1a hash of this encoding, every integer a
    /// little-endian `u64`: the number of fields, then for each field its
    /// size in bytes, the length in bytes of its canonical type name and that
    /// name's UTF-8 bytes. The canonical type name is the
    /// [type name](SchemaField::type_name) without whitespace and without path
    /// qualifiers (each `::` and the identifier before it are dropped), so
    /// `parallelizer::FixedStr<11>` and `FixedStr<11>` are the same type. A
    /// type alias is a different name, so it gives a different fingerprint.
    /// `docs/FORMAT.md` in the repository has a worked example.
    pub fn fingerprint(&self) -> u64 {
        let mut hash = Fnv1a::new();
        hash.write_u64(self.fields.len() as u64);
        for field in &self.fields {
            let name = canonical_type_name(field.type_name);
            hash.write_u64(field.size as u64);
            hash.write_u64(name.len() as u64);
            hash.write(name.as_bytes());
        }
        hash.finish()
    }
}

impl SchemaField {
    /// The field's name: its position in the packet tuple, `"0"`, `"1"`, ...
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's type as written in `#[task(packet = ...)]`, such as
    /// `"FixedStr<11>"`.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Where the field starts in a packet, in bytes.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The field's wire size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// A type name without whitespace or path qualifiers:
/// `::parallelizer::FixedStr< 11 >` becomes `FixedStr<11>`.
fn canonical_type_name(type_name: &str) -> String {
    let mut name = String::with_capacity(type_name.len());
    let mut chars = type_name
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            let qualifier = name
                .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                .len();
            name.truncate(qualifier);
        } else {
            name.push(c);
        }
    }
    name
}

/// The 64-bit FNV-1a hash: tiny, and fixed by its definition, unlike std's
/// `Hasher`s.
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn write_u64(&mut self, value: u64) {
        self.write(&value.to_le_bytes());
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_its_published_test_vectors() {
        let hash = |bytes: &[u8]| {
            let mut hash = Fnv1a::new();
            hash.write(bytes);
            hash.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

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
