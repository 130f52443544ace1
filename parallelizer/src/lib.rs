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
//!   `memory` every worker call reads, the `args` of each dispatch, and the
//!   `state` each actor keeps from one batch to the next.
//! - [`#[worker(Task)]`](worker) on a plain function makes it the task's
//!   worker. A worker that does not match its task's packet is a compile error.
//! - A [`Coordinator`] owns a pool of actors on a rayon thread pool and
//!   dispatches task ids in batches; workers write their packets straight
//!   into one merged buffer, in task-id order, viewed by [`Results`].
//! - A [`Dispatch`] started in the background is also a [`Future`]: `.await`
//!   it on any executor.
//!
//! [`Future`]: std::future::Future
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
// error -> wire -> schema -> task -> generated, buffer -> control -> state ->
// trace, progress -> run -> results -> dispatch -> stream -> coordinator ->
// persist -> arrow (feature `arrow`) -> cluster.
#[cfg(feature = "arrow")]
pub mod arrow;
mod buffer;
#[cfg(feature = "mpi")]
mod cluster;
mod control;
mod coordinator;
mod dispatch;
mod error;
mod generated;
mod npy;
pub mod persist;
#[cfg(feature = "progress")]
mod progress;
mod results;
mod results_file;
mod resume;
mod run;
mod schema;
mod state;
mod stream;
mod task;
mod trace;
mod value;
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
pub use npy::NpyWriter;
pub use persist::{JobRecord, PacketWriter, ResultsFile, ResultsReader};
pub use results::Results;
pub use resume::{FileOptions, RunSummary};
pub use schema::{Schema, SchemaField};
pub use stream::{Batch, Stream};
pub use task::{FieldError, NoArgs, Task, TaskState, Worker};
pub use value::{DecodeError, Value};
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
/// - `state = Type`: each actor's own value, passed as `&mut Type` to the
///   worker for a whole batch and kept from one batch and dispatch to the
///   next; made by [`Coordinator::define_state`]'s initializer or by
///   `Default`, gathered by [`Coordinator::take_states`].
///
/// The macro implements [`Task`] and [`TaskState`] for the struct and
/// generates its packet struct, named after the task (`HelloPacket` for `Hello`): a tuple struct of
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
/// declares `memory`, then `&Args` exactly when it declares `args`, then
/// `&mut State` exactly when it declares `state`, and returns the packet's
/// tuple. It must be a free function (not a method), and each task has one
/// worker. Any mismatch is a compile error on the offending parameter or
/// return type, which says what that position takes: "the 2nd parameter of
/// this worker is its task's memory, `&Params`, not `&Camera`". Memory and
/// args may also be taken as what std's owning types deref to (`&[T]` for a
/// `Vec<T>`, `&str` for a `String`, `&T` for a `Box<T>` or an `Arc<T>`).
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[derive(Default)]
/// pub struct Hits {
///     pub odd: u64,
/// }
///
/// #[task(packet = (u64,), memory = Vec<u64>, args = u64, state = Hits)]
/// pub struct Lookup;
///
/// #[worker(Lookup)]
/// fn lookup(task_id: usize, table: &[u64], offset: &u64, hits: &mut Hits) -> (u64,) {
///     let value = table[task_id % table.len()] + offset;
///     hits.odd += value % 2;
///     (value,)
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let coordinator = Coordinator::new(4);
/// coordinator.define(Lookup, vec![1, 2, 3]);
/// let results = coordinator.dispatch_with(Lookup, 9, 2, 10)?;
/// assert_eq!(results.get(4), Some((12,)));
/// let odd: u64 = coordinator.take_states(Lookup).iter().map(|hits| hits.odd).sum();
/// assert_eq!(odd, 6);
/// # Ok(())
/// # }
/// ```
pub use parallelizer_macros::worker;

/// Everything a user of the crate needs, in one import.
pub mod prelude {
    pub use crate::TaskState;
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
        field_shape, in_field, packet_field_error, tuple_shape, Checked, DebugWith, StructPacket,
    };
    pub use crate::task::sealed::SealedTask;
    pub use crate::task::{FieldError, Task, TaskState, Worker};
    pub use crate::wire::{InvalidValue, Shape, Variant, WireType};
    pub use zerocopy;

    /// The parameters a task's worker takes after `task_id`, for a worker of
    /// `N` parameters in all. Implemented by `#[task]` for its one `N`.
    #[diagnostic::on_unimplemented(
        message = "this worker of task `{Self}` has the wrong number of parameters",
        label = "`{Self}`'s worker does not take this many parameters ({N})",
        note = "a worker takes `task_id: usize`, then `&Memory` if the task declares \
                `memory = ...`, then `&Args` if it declares `args = ...`, then `&mut State` \
                if it declares `state = ...`"
    )]
    pub trait WorkerParams<const N: usize>: crate::TaskState {
        /// The parameters after `task_id`, in order, each in the wrapper of
        /// its position and kind ([`params`](self::params)).
        type Params<'a>;

        /// Picks the parameters a worker of `N` parameters takes.
        fn params<'a>(
            memory: &'a Self::Memory,
            args: &'a Self::Args,
            state: &'a mut Self::State,
        ) -> Self::Params<'a>;
    }

    /// The wrappers of a worker's parameters after `task_id`: one per
    /// position and kind, so that a parameter of the wrong type is reported
    /// on the user's type with what that position takes and why. Each
    /// wrapper's `param()` is the parameter, if the worker declares it as the
    /// type the position takes (memory and args may also be taken as what
    /// one of std's owning types derefs to, as a function parameter could:
    /// `&[T]` for a `Vec<T>`, `&str` for a `String`, `&T` for a `Box<T>` or
    /// an `Arc<T>`, ...).
    pub mod params {
        use std::borrow::Cow;
        use std::ffi::{CStr, CString, OsStr, OsString};
        use std::path::{Path, PathBuf};
        use std::sync::Arc;

        /// Implements a `Reach` trait: `&Self` coerces to `&U`.
        macro_rules! reach {
            ($reach:ident) => {
                reach!($reach:
                    [T: ?Sized] T => T;
                    [T] Vec<T> => [T];
                    [T, const N: usize] [T; N] => [T];
                    [] String => str;
                    [] PathBuf => Path;
                    [] OsString => OsStr;
                    [] CString => CStr;
                    [T: ?Sized] Box<T> => T;
                    [T: ?Sized] Arc<T> => T;
                    [T: ?Sized + ToOwned] Cow<'_, T> => T;
                );
            };
            ($reach:ident: $([$($generic:tt)*] $from:ty => $to:ty;)*) => {$(
                impl<$($generic)*> $reach<$to> for $from {
                    #[inline]
                    fn reach(&self) -> &$to {
                        self
                    }
                }
            )*};
        }

        /// The 2nd parameter: the task's memory.
        pub struct Memory2<R>(pub R);

        impl<R> Memory2<R> {
            /// The parameter, if the worker declares it as `R` (or, for a
            /// reference, as what its referent derefs to).
            #[inline]
            pub fn param<P: FromMemory2<R>>(self) -> P {
                P::from_param(self.0)
            }
        }

        /// Implemented by the references that [`Memory2`]'s position takes.
        #[diagnostic::on_unimplemented(
            message = "the 2nd parameter of this worker is its task's memory, `{R}`, not `{Self}`",
            label = "expected `{R}`: the 2nd parameter is the task's memory",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait FromMemory2<R> {
            /// The parameter, from the wrapped reference.
            fn from_param(param: R) -> Self;
        }

        impl<'a, R: ?Sized + ReachMemory2<U>, U: ?Sized> FromMemory2<&'a R> for &'a U {
            #[inline]
            fn from_param(param: &'a R) -> &'a U {
                param.reach()
            }
        }

        /// `&Self` coerces to `&U`, the type of [`Memory2`]'s position.
        #[diagnostic::on_unimplemented(
            message = "the 2nd parameter of this worker is its task's memory, `&{Self}`, not `&{U}`",
            label = "expected `&{Self}`: the 2nd parameter is the task's memory",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait ReachMemory2<U: ?Sized> {
            /// `&U` from `&self`.
            fn reach(&self) -> &U;
        }

        reach!(ReachMemory2);

        /// The 2nd parameter: the dispatch's args (the task declares no memory).
        pub struct Args2<R>(pub R);

        impl<R> Args2<R> {
            /// The parameter, if the worker declares it as `R` (or, for a
            /// reference, as what its referent derefs to).
            #[inline]
            pub fn param<P: FromArgs2<R>>(self) -> P {
                P::from_param(self.0)
            }
        }

        /// Implemented by the references that [`Args2`]'s position takes.
        #[diagnostic::on_unimplemented(
            message = "the 2nd parameter of this worker is its task's args, `{R}`, not `{Self}`",
            label = "expected `{R}`: the 2nd parameter is the task's args, as the task declares no memory",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait FromArgs2<R> {
            /// The parameter, from the wrapped reference.
            fn from_param(param: R) -> Self;
        }

        impl<'a, R: ?Sized + ReachArgs2<U>, U: ?Sized> FromArgs2<&'a R> for &'a U {
            #[inline]
            fn from_param(param: &'a R) -> &'a U {
                param.reach()
            }
        }

        /// `&Self` coerces to `&U`, the type of [`Args2`]'s position.
        #[diagnostic::on_unimplemented(
            message = "the 2nd parameter of this worker is its task's args, `&{Self}`, not `&{U}`",
            label = "expected `&{Self}`: the 2nd parameter is the task's args, as the task declares no memory",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait ReachArgs2<U: ?Sized> {
            /// `&U` from `&self`.
            fn reach(&self) -> &U;
        }

        reach!(ReachArgs2);

        /// The 3rd parameter: the dispatch's args (after the memory).
        pub struct Args3<R>(pub R);

        impl<R> Args3<R> {
            /// The parameter, if the worker declares it as `R` (or, for a
            /// reference, as what its referent derefs to).
            #[inline]
            pub fn param<P: FromArgs3<R>>(self) -> P {
                P::from_param(self.0)
            }
        }

        /// Implemented by the references that [`Args3`]'s position takes.
        #[diagnostic::on_unimplemented(
            message = "the 3rd parameter of this worker is its task's args, `{R}`, not `{Self}`",
            label = "expected `{R}`: the 3rd parameter is the task's args, after its memory",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait FromArgs3<R> {
            /// The parameter, from the wrapped reference.
            fn from_param(param: R) -> Self;
        }

        impl<'a, R: ?Sized + ReachArgs3<U>, U: ?Sized> FromArgs3<&'a R> for &'a U {
            #[inline]
            fn from_param(param: &'a R) -> &'a U {
                param.reach()
            }
        }

        /// `&Self` coerces to `&U`, the type of [`Args3`]'s position.
        #[diagnostic::on_unimplemented(
            message = "the 3rd parameter of this worker is its task's args, `&{Self}`, not `&{U}`",
            label = "expected `&{Self}`: the 3rd parameter is the task's args, after its memory",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait ReachArgs3<U: ?Sized> {
            /// `&U` from `&self`.
            fn reach(&self) -> &U;
        }

        reach!(ReachArgs3);

        /// The 2nd parameter: the actor's state (the task declares no memory and no args).
        pub struct State2<R>(pub R);

        impl<R> State2<R> {
            /// The parameter, if the worker declares it as `R`.
            #[inline]
            pub fn param<U: IsState2<R>>(self) -> U {
                U::from_param(self.0)
            }
        }

        /// Implemented by the type of [`State2`]'s position only.
        #[diagnostic::on_unimplemented(
            message = "the 2nd parameter of this worker is its actor's state, `{R}`, not `{Self}`",
            label = "expected `{R}`: the 2nd parameter is the actor's state, as the task declares no memory and no args",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait IsState2<R> {
            /// The parameter itself.
            fn from_param(param: R) -> Self;
        }

        impl<R> IsState2<R> for R {
            #[inline]
            fn from_param(param: R) -> R {
                param
            }
        }

        /// The 3rd parameter: the actor's state (after the memory or the args).
        pub struct State3<R>(pub R);

        impl<R> State3<R> {
            /// The parameter, if the worker declares it as `R`.
            #[inline]
            pub fn param<U: IsState3<R>>(self) -> U {
                U::from_param(self.0)
            }
        }

        /// Implemented by the type of [`State3`]'s position only.
        #[diagnostic::on_unimplemented(
            message = "the 3rd parameter of this worker is its actor's state, `{R}`, not `{Self}`",
            label = "expected `{R}`: the 3rd parameter is the actor's state, after the task's memory or args",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait IsState3<R> {
            /// The parameter itself.
            fn from_param(param: R) -> Self;
        }

        impl<R> IsState3<R> for R {
            #[inline]
            fn from_param(param: R) -> R {
                param
            }
        }

        /// The 4th parameter: the actor's state (after the memory and the args).
        pub struct State4<R>(pub R);

        impl<R> State4<R> {
            /// The parameter, if the worker declares it as `R`.
            #[inline]
            pub fn param<U: IsState4<R>>(self) -> U {
                U::from_param(self.0)
            }
        }

        /// Implemented by the type of [`State4`]'s position only.
        #[diagnostic::on_unimplemented(
            message = "the 4th parameter of this worker is its actor's state, `{R}`, not `{Self}`",
            label = "expected `{R}`: the 4th parameter is the actor's state, after the task's memory and args",
            note = "a worker takes `task_id: usize`, then `&Memory` if its task declares \
                    `memory = ...`, then `&Args` if it declares `args = ...`, then \
                    `&mut State` if it declares `state = ...`"
        )]
        pub trait IsState4<R> {
            /// The parameter itself.
            fn from_param(param: R) -> Self;
        }

        impl<R> IsState4<R> for R {
            #[inline]
            fn from_param(param: R) -> R {
                param
            }
        }
    }

    /// Tells whether a state type implements `Default`, in the code that
    /// `#[task]` generates for one concrete type: `(&&StateProbe::<S>::new()).state()`
    /// picks [`ViaDefault`] when `S: Default`, [`ViaNothing`] otherwise.
    pub struct StateProbe<S>(core::marker::PhantomData<fn() -> S>);

    impl<S> StateProbe<S> {
        /// The probe.
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            StateProbe(core::marker::PhantomData)
        }
    }

    /// The state type implements `Default`.
    pub trait ViaDefault<S> {
        /// `Some(S::default())`.
        fn state(&self) -> Option<S>;
    }

    impl<S: Default> ViaDefault<S> for &StateProbe<S> {
        #[inline]
        fn state(&self) -> Option<S> {
            Some(S::default())
        }
    }

    /// The state type does not implement `Default`.
    pub trait ViaNothing<S> {
        /// `None`.
        fn state(&self) -> Option<S>;
    }

    impl<S> ViaNothing<S> for StateProbe<S> {
        #[inline]
        fn state(&self) -> Option<S> {
            None
        }
    }
}
