//! 2D and 3D vectors, of `f64` or of `i16`. Each component is stored
//! little-endian in field order, so every value round-trips exactly.

use std::fmt;

use zerocopy::{little_endian, FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{InvalidValue, Shape, WireType};

/// Declares a vector's wire struct (one little-endian field per component,
/// named like the value's) and its lossless [`WireType`] impl.
macro_rules! vector_wire {
    ($value:ident => $wire:ident { $($field:ident),+ }: $le:ident as $num:ident, $bytes:literal) => {
        #[doc = concat!("The wire form of [`", stringify!($value), "`]: ", $bytes, " bytes.")]
        ///
        /// `Debug` prints the components as numbers.
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash,
            FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
        )]
        #[repr(C)]
        pub struct $wire {
            $(
                #[doc = concat!("`", stringify!($field), "`, little-endian.")]
                pub $field: little_endian::$le,
            )+
        }

        impl fmt::Debug for $wire {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($wire))
                    $(.field(stringify!($field), &self.$field.get()))+
                    .finish()
            }
        }

        impl WireType for $value {
            type Wire = $wire;

            fn to_wire(&self) -> $wire {
                $wire { $($field: little_endian::$le::new(self.$field)),+ }
            }

            fn from_wire(wire: &$wire) -> Self {
                Self { $($field: wire.$field.get()),+ }
            }

            fn validate(_: &$wire) -> Result<(), InvalidValue> {
                Ok(())
            }

            #[doc = concat!("A struct of ", $(stringify!($field), " ",)+ "as `", stringify!($num), "`.")]
            fn shape() -> Shape {
                Shape::structure(
                    stringify!($value),
                    [$((stringify!($field), Shape::of::<$num>())),+],
                )
            }
        }

        const _: () = assert!(size_of::<$wire>() == $bytes);
    };
}

/// A 3D vector of `f64`: 24 bytes on the wire.
///
/// # Examples
///
/// ```
/// use parallelizer::{Vec3, WireType};
///
/// let v = Vec3::new(1.0, -2.5, f64::INFINITY);
/// assert_eq!(Vec3::from_wire(&v.to_wire()), v);
/// assert_eq!(v.to_wire().x.get(), 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Vec3 {
    /// The x component.
    pub x: f64,
    /// The y component.
    pub y: f64,
    /// The z component.
    pub z: f64,
}

impl Vec3 {
    /// A vector from its components.
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }
}

vector_wire!(Vec3 => Vec3Wire { x, y, z }: F64 as f64, 24);

/// A 3D vector of `i16`: 6 bytes on the wire.
///
/// # Examples
///
/// ```
/// use parallelizer::{Vec3i16, WireType};
///
/// let v = Vec3i16::new(i16::MIN, 0, i16::MAX);
/// assert_eq!(Vec3i16::from_wire(&v.to_wire()), v);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Vec3i16 {
    /// The x component.
    pub x: i16,
    /// The y component.
    pub y: i16,
    /// The z component.
    pub z: i16,
}

impl Vec3i16 {
    /// A vector from its components.
    pub const fn new(x: i16, y: i16, z: i16) -> Self {
        Self { x, y, z }
    }
}

vector_wire!(Vec3i16 => Vec3i16Wire { x, y, z }: I16 as i16, 6);

/// A 2D vector of `f64`: 16 bytes on the wire.
///
/// # Examples
///
/// ```
/// use parallelizer::{Vec2, WireType};
///
/// let v = Vec2::new(0.5, -0.0);
/// assert_eq!(Vec2::from_wire(&v.to_wire()), v);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Vec2 {
    /// The x component.
    pub x: f64,
    /// The y component.
    pub y: f64,
}

impl Vec2 {
    /// A vector from its components.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

vector_wire!(Vec2 => Vec2Wire { x, y }: F64 as f64, 16);

/// A 2D vector of `i16`: 4 bytes on the wire.
///
/// # Examples
///
/// ```
/// use parallelizer::{Vec2i16, WireType};
///
/// let v = Vec2i16::new(-1, 300);
/// assert_eq!(Vec2i16::from_wire(&v.to_wire()), v);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Vec2i16 {
    /// The x component.
    pub x: i16,
    /// The y component.
    pub y: i16,
}

impl Vec2i16 {
    /// A vector from its components.
    pub const fn new(x: i16, y: i16) -> Self {
        Self { x, y }
    }
}

vector_wire!(Vec2i16 => Vec2i16Wire { x, y }: I16 as i16, 4);

#[cfg(test)]
mod tests {
    use zerocopy::IntoBytes;

    use super::*;

    fn round_trip<T: WireType>(value: T) -> T {
        let wire = value.to_wire();
        assert_eq!(T::validate(&wire), Ok(()));
        T::from_wire(&wire)
    }

    #[test]
    fn integer_vectors_round_trip_at_their_edges() {
        for (a, b, c) in [(i16::MIN, 0, i16::MAX), (i16::MAX, i16::MIN, -1), (0, 0, 0)] {
            assert_eq!(round_trip(Vec3i16::new(a, b, c)), Vec3i16::new(a, b, c));
            assert_eq!(round_trip(Vec2i16::new(a, b)), Vec2i16::new(a, b));
        }
    }

    #[test]
    fn float_vectors_round_trip_bit_exactly() {
        let nan = f64::from_bits(0xFFF8_0000_DEAD_BEEF);
        let specials = [
            nan,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::from_bits(1), // smallest subnormal
            f64::MAX,
            f64::MIN,
        ];
        for &a in &specials {
            for &b in &specials {
                let v3 = round_trip(Vec3::new(a, b, -a));
                let bits = [v3.x, v3.y, v3.z].map(f64::to_bits);
                assert_eq!(bits, [a, b, -a].map(f64::to_bits));
                let v2 = round_trip(Vec2::new(a, b));
                assert_eq!([v2.x, v2.y].map(f64::to_bits), [a, b].map(f64::to_bits));
            }
        }
    }

    #[test]
    fn components_are_little_endian_in_field_order() {
        assert_eq!(
            Vec3i16::new(0x0102, -2, 0x7F00).to_wire().as_bytes(),
            [0x02, 0x01, 0xFE, 0xFF, 0x00, 0x7F]
        );
        assert_eq!(
            Vec2i16::new(1, i16::MIN).to_wire().as_bytes(),
            [1, 0, 0, 0x80]
        );
        let bytes = Vec3::new(1.0, 2.0, -0.0).to_wire();
        let expected: Vec<u8> = [1.0f64, 2.0, -0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(bytes.as_bytes(), expected);
        assert_eq!(
            Vec2::new(1.0, 0.0).to_wire().as_bytes(),
            [0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn wire_forms_print_their_components() {
        let wire = Vec3::new(1.0, -2.5, 0.0).to_wire();
        assert_eq!(format!("{wire:?}"), "Vec3Wire { x: 1.0, y: -2.5, z: 0.0 }");
        let wire = Vec2i16::new(-1, 300).to_wire();
        assert_eq!(format!("{wire:?}"), "Vec2i16Wire { x: -1, y: 300 }");
    }

    #[test]
    fn vectors_describe_their_components() {
        use crate::wire::Kind;

        let shape = Shape::of::<Vec3i16>();
        assert_eq!(
            (shape.type_name(), shape.kind(), shape.size()),
            ("Vec3i16", &Kind::Struct, 6)
        );
        let parts: Vec<_> = shape
            .fields()
            .iter()
            .map(|(name, part)| (*name, part.kind().clone()))
            .collect();
        assert_eq!(
            parts,
            [("x", Kind::I16), ("y", Kind::I16), ("z", Kind::I16)]
        );
        assert_eq!(Shape::of::<Vec2>().size(), 16);
        assert_eq!(Shape::of::<Vec2>().fields()[1].1.kind(), &Kind::F64);
    }

    #[test]
    fn default_is_zero() {
        assert_eq!(Vec3::default(), Vec3::new(0.0, 0.0, 0.0));
        assert_eq!(Vec2i16::default(), Vec2i16::new(0, 0));
        assert_eq!(Vec3i16::default().to_wire().as_bytes(), [0; 6]);
    }
}
