//! Typed, batched, data-parallel tasks whose results land in one compact,
//! fixed-size, little-endian buffer.
//!
//! Write one plain function, run it over millions of task ids on every core,
//! and read the results in place: no deserialization, ready to write to disk
//! or send over a network as they are. The design ports the Roblox Luau
//! library Parallelizer to Rust, with its schemas checked at compile time.
//!
//! - [`#[task]`](task) on a unit struct declares a task: its packet (the
//!   ordered [wire types](wire) each task id returns), and optionally the
//!   `memory` every worker call reads and the `args` of each dispatch.
//! - [`#[worker(Task)]`](worker) on a plain function makes it the task's
//!   worker. A worker that does not match its task's packet is a compile error.
//! - A [`Coordinator`] owns a pool of actors on a rayon thread pool and
//!   dispatches task ids in batches; workers write their packets straight
//!   into one merged buffer, in task-id order, viewed by [`Results`].
//!
//! ```
//! use parallelizer::prelude::*;
//!
//! pub struct Greeting {
//!     pub text: String,
//! }
//!
//! #[task(packet = (u16, FixedStr<11>), memory = Greeting)]
//! pub struct Hello;
//!
//! #[worker(Hello)]
//! fn hello(task_id: usize, memory: &Greeting) -> (u16, FixedStr<11>) {
//!     ((task_id * 2) as u16, FixedStr::new(&memory.text).unwrap())
//! }
//!
//! # fn main() -> Result<(), parallelizer::Error> {
//! let coordinator = Coordinator::new(256); // 256 actors
//! coordinator.define(Hello, Greeting { text: "Hello World".into() });
//! let results = coordinator.dispatch(Hello, 1024, 8)?; // ids 0..1024, batches of 8
//! assert_eq!(results.get(3), Some((6, FixedStr::new("Hello World")?)));
//!
//! // The merged buffer: 1024 packets of 2 + (4 + 11) bytes, little-endian.
//! assert_eq!(results.as_bytes().len(), 1024 * 17);
//! assert_eq!(&results.as_bytes()[17 * 3..17 * 3 + 6], &[6, 0, 11, 0, 0, 0]);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Lets the crate's own unit tests use `#[task]`, whose code names `::parallelizer`.
#[cfg(test)]
extern crate self as parallelizer;

// The modules form layers, each using only those before it:
// error -> wire -> schema -> task -> generated, buffer -> control -> trace,
// progress -> run -> results -> dispatch -> stream -> coordinator -> persist
// -> cluster.
mod buffer;
#[cfg(feature = "mpi")]
mod cluster;
mod control;
mod coordinator;
mod dispatch;
mod error;
mod generated;
pub mod persist;
#[cfg(feature = "progress")]
mod progress;
mod results;
mod run;
mod schema;
mod stream;
mod task;
mod trace;
pub mod wire;

pub use buffer::Iter;
#[cfg(feature = "mpi")]
pub use cluster::Cluster;
pub use control::Progress;
pub use coordinator::{Coordinator, CoordinatorBuilder};
pub use dispatch::{Dispatch, Outcome};
pub use error::Error;
/// The rsmpi crate (feature `mpi`), which [`Cluster`] runs on: the version to
/// use for the program's own MPI calls on [`Cluster::world`].
#[cfg(feature = "mpi")]
pub use mpi;
pub use persist::PacketWriter;
pub use results::Results;
pub use schema::{Schema, SchemaField};
pub use stream::{Batch, Stream};
pub use task::{FieldError, Task, Worker};
/// The zerocopy crate, whose traits packets implement: with
/// [`IntoBytes`](zerocopy::IntoBytes) in scope, `packet.as_bytes()` gives one
/// packet's bytes.
pub use zerocopy;

pub use wire::{
    CFrame, CFrame18, CFrameF32, Color3, Color3b16, FixedBytes, FixedStr, InvalidValue, Kind,
    Shape, Variant, Vec2, Vec2i16, Vec3, Vec3i16, WireType,
};

/// Declares a task on a unit struct: its packet, and optionally its memory
/// and per-dispatch arguments.
///
/// ```
/// use parallelizer::prelude::*;
///
/// pub struct Terrain {
///     pub seed: u64,
/// }
///
/// #[task(packet = (u16, FixedStr<11>))]
/// pub struct Plain;
///
/// #[task(packet = (f32, Vec3, bool), memory = Terrain, args = f64)]
/// pub struct Scatter;
///
/// assert_eq!(Plain::PACKET_SIZE, 17);
/// assert_eq!(Scatter::PACKET_SIZE, 4 + 24 + 1);
/// ```
///
/// - `packet = (T1, ..., Tn)`: the tuple each worker call returns; every `Ti`
///   is a [`WireType`]. One field is written `(T,)`.
/// - `packet = Type`, where `Type` is a struct with
///   [`#[derive(WireType)]`](derive@WireType): the worker returns `Type`,
///   and [`Results::get`] and [`iter`](Results::iter) give it back. The
///   packet is the struct's wire form, with the same bytes as a tuple of its
///   fields.
/// - `memory = Type`: read-only data every worker call sees as `&Type`; set
///   with [`Coordinator::define`].
/// - `args = Type`: a value passed as `&Type` to every worker call of one
///   dispatch, given to [`Coordinator::dispatch_with`].
///
/// The macro implements [`Task`] for the struct and generates its packet
/// struct, named after the task (`HelloPacket` for `Hello`): a tuple struct of
/// the fields' wire forms with the zerocopy traits, so
/// [`Results::packets`] can be read in place. For `packet = Type`,
/// `HelloPacket` names the struct's wire form, `TypeWire`, whose fields
/// have the struct's names.
pub use parallelizer_macros::task;

/// Derives [`WireType`](trait@WireType) for a struct of wire types or a
/// fieldless enum, so that it can be a packet field, or a whole packet
/// (`#[task(packet = Type)]`, for a struct).
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[derive(WireType, Debug, Clone, Copy, PartialEq)]
/// #[repr(u8)]
/// pub enum Biome { Ocean, Plains, Forest, Mountain = 7 }
///
/// #[derive(WireType, Debug, Clone, Copy, PartialEq)]
/// pub struct Cell {
///     pub height: f32,
///     pub biome: Biome,
///     pub name: FixedStr<8>,
/// }
///
/// #[derive(WireType, Debug, Clone, Copy, PartialEq)]
/// pub struct Pair(pub u16, pub Cell);
///
/// let cell = Cell { height: 1.5, biome: Biome::Mountain, name: FixedStr::new("peak")? };
/// let wire = cell.to_wire();
/// assert_eq!((wire.height.get(), wire.name.len.get()), (1.5, 4));
/// assert_eq!(Cell::from_wire(&wire), cell);
/// assert_eq!(
///     format!("{wire:?}"),
///     r#"CellWire { height: 1.5, biome: Mountain, name: FixedStrWire<8>("peak") }"#
/// );
/// assert_eq!(size_of::<<Pair as WireType>::Wire>(), 2 + 4 + 1 + 12);
/// # Ok::<(), parallelizer::Error>(())
/// ```
///
/// - **A struct** with named fields, or a tuple struct, whose fields are all
///   wire types: built-in, derived (nested to any depth) or hand-written.
///   Its wire form, generated beside it and named after it (`CellWire` for
///   `Cell`, with the same visibility), is its fields' wire forms in
///   declaration order, packed with no padding, little-endian: exactly a
///   tuple packet of the same fields. Its fields have the struct's names
///   (`0`, `1`, ... for a tuple struct), and its `Debug` prints their
///   values. [`validate`](WireType::validate) checks every field, nested
///   ones too; an error names the field ([`InvalidValue::Field`]).
/// - **A fieldless enum** with `#[repr(u8)]`, `#[repr(u16)]` or
///   `#[repr(u32)]`, whose discriminants may be explicit or implicit. Its
///   wire form (`BiomeWire`) is the discriminant, little-endian. A value that
///   is no variant's discriminant fails validation
///   ([`InvalidValue::InvalidDiscriminant`]): reading it from a buffer or a
///   file is an [`Error::InvalidPacket`] naming the field and the value,
///   never a panic.
///
/// The type must be `Copy`, as every wire type is, and cannot be generic.
/// Its [`shape`](WireType::shape) names its fields and variants, so a
/// task's [`Schema`] shows them, and renaming or reordering them changes the
/// schema's fingerprint.
pub use parallelizer_macros::WireType;

/// Makes a plain function the worker of a task.
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[task(packet = (u32, u32), args = u32)]
/// pub struct Grid;
///
/// #[worker(Grid)]
/// fn cell(task_id: usize, width: &u32) -> (u32, u32) {
///     (task_id as u32 % width, task_id as u32 / width)
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let coordinator = Coordinator::new(16);
/// let results = coordinator.dispatch_with(Grid, 12, 4, 4)?;
/// assert_eq!(results.get(6), Some((2, 1)));
/// # Ok(())
/// # }
/// ```
///
/// The function takes `task_id: usize`, then `&Memory` exactly when the task
/// declares `memory`, then `&Args` exactly when it declares `args`, and
/// returns the packet's tuple. It must be a free function (not a method), and
/// each task has one worker. Any mismatch is a compile error on the offending
/// parameter or return type.
pub use parallelizer_macros::worker;

/// Everything a user of the crate needs, in one import.
pub mod prelude {
    pub use crate::{task, worker};
    pub use crate::{
        Batch, CFrame, CFrame18, CFrameF32, Color3, Color3b16, Coordinator, Dispatch, Error,
        FixedBytes, FixedStr, PacketWriter, Progress, Results, Stream, Task, Vec2, Vec2i16, Vec3,
        Vec3i16, WireType, Worker,
    };
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Items that the code generated by `#[task]` and `#[worker]` names. Not a
/// public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::generated::{
        field_shape, in_field, packet_field_error, tuple_shape, DebugWith, StructPacket,
    };
    pub use crate::task::sealed::SealedTask;
    pub use crate::task::{FieldError, Task, Worker};
    pub use crate::wire::{InvalidValue, Shape, Variant, WireType};
    pub use zerocopy;

    /// The parameters a task's worker takes after `task_id`, for a worker of
    /// `N` parameters in all. Implemented by `#[task]` for its one `N`.
    #[diagnostic::on_unimplemented(
        message = "this worker of task `{Self}` has the wrong number of parameters",
        label = "`{Self}`'s worker does not take this many parameters ({N})",
        note = "a worker takes `task_id: usize`, then `&Memory` if the task declares \
                `memory = ...`, then `&Args` if it declares `args = ...`"
    )]
    pub trait WorkerParams<const N: usize>: Task {
        /// References to the parameters after `task_id`, in order.
        type Params<'a>;

        /// Picks the parameters a worker of `N` parameters takes.
        fn params<'a>(memory: &'a Self::Memory, args: &'a Self::Args) -> Self::Params<'a>;
    }
}
