//! Wire types: the values a packet can hold, and their fixed-size,
//! little-endian byte forms.
//!
//! Every value type `T` implements [`WireType`], which names its wire form
//! `T::Wire`: a plain struct of bytes (zerocopy `FromBytes + IntoBytes +
//! Unaligned`, no padding) whose size is the reference library's wire size.
//! A task's packet is a `#[repr(C)]` struct of these wire forms, so a packet's
//! bytes are exactly the concatenation of its fields' bytes.
//!
//! | type | bytes | layout |
//! |---|---|---|
//! | `u8`, `i8`, `bool` | 1 | `bool` is 1 or 0 |
//! | `u16`, `i16` | 2 | little-endian |
//! | `u32`, `i32`, `f32` | 4 | little-endian |
//! | `u64`, `i64`, `f64` | 8 | little-endian |
//! | [`FixedStr<N>`] | N + 4 | u32 byte length, then the UTF-8 bytes, zero-padded |
//! | [`FixedBytes<N>`] | N + 2 | u16 byte length, then the bytes, zero-padded |
//! | [`Vec3`] | 24 | x, y, z as f64 |
//! | [`Vec3i16`] | 6 | x, y, z as i16 |
//! | [`Vec2`] | 16 | x, y as f64 |
//! | [`Vec2i16`] | 4 | x, y as i16 |
//! | [`CFrame`] | 48 | position x, y, z, then XYZ Euler angles (radians), as f64 |
//! | [`CFrameF32`] | 24 | the same six numbers as f32 |
//! | [`CFrame18`] | 18 | position as three f32, then each angle as an unsigned 16-bit code |
//! | [`Color3`] | 3 | r, g, b as `floor(v * 255)` |
//! | [`Color3b16`] | 2 | RGB565 in a u16 |

use std::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

mod cframe;
mod color;
mod fixed;
mod scalar;
mod shape;
mod vector;

/// Re-exported here beside the wire types it describes.
pub use crate::error::InvalidValue;
pub use cframe::{CFrame, CFrame18, CFrame18Wire, CFrameF32, CFrameF32Wire, CFrameWire};
pub use color::{Color3, Color3Wire, Color3b16};
pub(crate) use fixed::{check_len, check_padding};
pub use fixed::{FixedBytes, FixedBytesWire, FixedStr, FixedStrWire};
pub(crate) use shape::{intern, short_type_name, without_paths};
pub use shape::{Kind, Shape, Variant};
pub use vector::{Vec2, Vec2Wire, Vec2i16, Vec2i16Wire, Vec3, Vec3Wire, Vec3i16, Vec3i16Wire};

/// What every wire form is: plain bytes that zerocopy reads and writes in
/// place (no padding, no alignment), copyable, printable, and shared freely
/// between threads. Implemented for every type with these traits: a wire
/// form, a task's packet and a derived type's wire form all are `WireBytes`.
pub trait WireBytes:
    FromBytes
    + IntoBytes
    + KnownLayout
    + Immutable
    + Unaligned
    + Copy
    + fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<T> WireBytes for T where
    T: FromBytes
        + IntoBytes
        + KnownLayout
        + Immutable
        + Unaligned
        + Copy
        + fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// A value with a fixed-size, little-endian wire form: anything that can be a
/// field of a task's packet.
///
/// Implemented for every value type of the crate. For your own types,
/// derive it: `#[derive(WireType)]` on a struct whose fields are wire types
/// (named or tuple fields, nested to any depth) or on a fieldless enum with
/// `#[repr(u8)]`, `#[repr(u16)]` or `#[repr(u32)]` (see
/// [`derive@crate::WireType`]).
///
/// You can also implement it by hand: derive the zerocopy traits on a
/// `#[repr(C)]` struct of byte-order-aware fields (such as
/// [`zerocopy::little_endian::U32`]) and convert to and from it. Override
/// [`shape`](Self::shape) to describe the layout in a task's
/// [`Schema`](crate::Schema); without it the type is described as raw bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a wire type, so it cannot be a packet field",
    label = "not a fixed-size wire type",
    note = "packet fields have a fixed size: u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, \
            bool, FixedStr<N>, FixedBytes<N>, Vec2, Vec2i16, Vec3, Vec3i16, CFrame, CFrameF32, \
            CFrame18, Color3 or Color3b16, or a struct or fieldless enum of your own with \
            `#[derive(WireType)]`"
)]
pub trait WireType: Copy + 'static {
    /// The wire form: exactly the bytes this value occupies in a packet. It
    /// must not be empty: a packet has at least one byte.
    type Wire: WireBytes;

    /// Writes the value in its wire form.
    fn to_wire(&self) -> Self::Wire;

    /// Reads a value back from its wire form.
    ///
    /// Total: it never panics. On a wire value that [`validate`](Self::validate)
    /// rejects it returns some value of the type; buffers from workers and from
    /// [`Results::from_bytes`](crate::Results::from_bytes) are always valid.
    fn from_wire(wire: &Self::Wire) -> Self;

    /// Checks that a wire value read from outside holds a value of this type.
    fn validate(wire: &Self::Wire) -> Result<(), InvalidValue>;

    /// Describes the wire form's layout: its type name, [`Kind`] and parts.
    /// A task's [`Schema`](crate::Schema), and so the fingerprint in its
    /// results files, is built from its fields' shapes.
    ///
    /// Every type of the crate and every `#[derive(WireType)]` describes
    /// itself. The default, for a hand-written impl that does not, is
    /// [`Shape::raw`]: the wire form's size in raw bytes, named after the
    /// type. Override it so that schemas show the type's parts and tell
    /// layouts of the same size apart:
    ///
    /// ```
    /// use parallelizer::{InvalidValue, Shape, WireType};
    /// use parallelizer::zerocopy::little_endian::U16;
    ///
    /// /// Meters, stored in centimetres as a u16.
    /// #[derive(Clone, Copy)]
    /// pub struct Height(pub f32);
    ///
    /// impl WireType for Height {
    ///     type Wire = U16;
    ///
    ///     fn to_wire(&self) -> U16 {
    ///         U16::new((self.0 * 100.0) as u16)
    ///     }
    ///
    ///     fn from_wire(wire: &U16) -> Self {
    ///         Height(f32::from(wire.get()) / 100.0)
    ///     }
    ///
    ///     fn validate(_: &U16) -> Result<(), InvalidValue> {
    ///         Ok(())
    ///     }
    ///
    ///     fn shape() -> Shape {
    ///         Shape::of::<u16>().with_type_name("Height")
    ///     }
    /// }
    ///
    /// assert_eq!(Shape::of::<Height>().type_name(), "Height");
    /// assert_eq!(Shape::of::<Height>().size(), 2);
    /// ```
    fn shape() -> Shape {
        Shape::raw(short_type_name::<Self>(), std::mem::size_of::<Self::Wire>())
    }

    /// Formats a wire value for `Debug` as the value it holds: numbers as
    /// numbers, `bool`s as `true` or `false`, strings as text. The wire forms
    /// of derived structs print their fields this way. The default is the
    /// wire form's own `Debug`.
    fn fmt_wire(wire: &Self::Wire, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(wire, f)
    }
}
