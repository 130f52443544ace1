//! The traits that `#[task]` and `#[worker]` implement.

use std::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::wire::InvalidValue;

/// A typed task: its packet schema, its memory and its per-dispatch arguments.
///
/// Implemented by [`#[task]`](crate::task) on a unit struct; you do not
/// implement it by hand. The unit value (`Hello`) names the task in calls such
/// as [`Coordinator::dispatch`](crate::Coordinator::dispatch).
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
pub trait Task: Sized + 'static {
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

    /// Writes one output in wire form.
    fn encode(output: Self::Output) -> Self::Packet;

    /// Reads one output back from its wire form.
    fn decode(packet: &Self::Packet) -> Self::Output;

    /// Checks every field of a packet read from outside.
    fn validate(packet: &Self::Packet) -> Result<(), FieldError>;
}

/// A task with its worker function: what a coordinator can dispatch.
///
/// Implemented by [`#[worker(Task)]`](crate::worker) on a plain function.
#[diagnostic::on_unimplemented(
    message = "task `{Self}` has no worker",
    label = "no `#[worker({Self})]` function is defined for this task",
    note = "define one: `#[worker({Self})] fn work(task_id: usize) -> (...) {{ ... }}` \
            (add `memory: &Memory` and `args: &Args` parameters if the task declares them)"
)]
pub trait Worker: Task {
    /// Runs the worker function for one task id.
    fn run(task_id: usize, memory: &Self::Memory, args: &Self::Args) -> Self::Output;
}

/// The field of a packet that failed [`Task::validate`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's index in the packet.
    pub field: usize,
    /// Why its value is invalid.
    pub reason: InvalidValue,
}
