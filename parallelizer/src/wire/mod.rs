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
mod vector;

/// Re-exported here beside the wire types it describes.
pub use crate::error::InvalidValue;
pub use cframe::{CFrame, CFrame18, CFrame18Wire, CFrameF32, CFrameF32Wire, CFrameWire};
pub use color::{Color3, Color3Wire, Color3b16};
pub use fixed::{FixedBytes, FixedBytesWire, FixedStr, FixedStrWire};
pub use vector::{Vec2, Vec2Wire, Vec2i16, Vec2i16Wire, Vec3, Vec3Wire, Vec3i16, Vec3i16Wire};

/// A value with a fixed-size, little-endian wire form: anything that can be a
/// field of a task's packet.
///
/// Implemented for every value type of the crate. You can implement it for
/// your own types too: derive the zerocopy traits on a `#[repr(C)]` struct of
/// byte-order-aware fields (such as [`zerocopy::little_endian::U32`]) and
/// convert to and from it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a wire type, so it cannot be a packet field",
    label = "not a fixed-size wire type",
    note = "packet fields have a fixed size: u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, \
            bool, FixedStr<N>, FixedBytes<N>, Vec2, Vec2i16, Vec3, Vec3i16, CFrame, CFrameF32, \
            CFrame18, Color3 or Color3b16"
)]
pub trait WireType: Copy + 'static {
    /// The wire form: exactly the bytes this value occupies in a packet. It
    /// must not be empty: a packet has at least one byte.
    type Wire: FromBytes
        + IntoBytes
        + KnownLayout
        + Immutable
        + Unaligned
        + Copy
        + fmt::Debug
        + Send
        + Sync
        + 'static;

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
}
