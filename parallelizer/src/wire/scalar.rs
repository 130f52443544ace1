//! Numbers and `bool`: each is its own little-endian bytes.
//!
//! Floats are stored by their bits, so every value round-trips exactly,
//! NaN payloads and `-0.0` included.

use std::fmt;

use zerocopy::little_endian;

use super::{InvalidValue, Kind, Shape, WireType};

/// Single bytes need no byte order: the value is its own wire form.
macro_rules! byte_wire {
    ($($ty:ident => $kind:ident),+) => {$(
        impl WireType for $ty {
            type Wire = $ty;

            fn to_wire(&self) -> $ty {
                *self
            }

            fn from_wire(wire: &$ty) -> $ty {
                *wire
            }

            fn validate(_: &$ty) -> Result<(), InvalidValue> {
                Ok(())
            }

            fn shape() -> Shape {
                Shape::number(stringify!($ty), Kind::$kind)
            }
        }
    )+};
}

/// Wider numbers are stored in zerocopy's little-endian wrapper of the same
/// width, which has no alignment and so packs without padding.
macro_rules! little_endian_wire {
    ($($ty:ident => $wire:ident, $kind:ident),+) => {$(
        impl WireType for $ty {
            type Wire = little_endian::$wire;

            fn to_wire(&self) -> little_endian::$wire {
                little_endian::$wire::new(*self)
            }

            fn from_wire(wire: &little_endian::$wire) -> $ty {
                wire.get()
            }

            fn validate(_: &little_endian::$wire) -> Result<(), InvalidValue> {
                Ok(())
            }

            fn shape() -> Shape {
                Shape::number(stringify!($ty), Kind::$kind)
            }

            /// The number, as `Debug` prints it.
            fn fmt_wire(wire: &little_endian::$wire, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&wire.get(), f)
            }
        }
    )+};
}

byte_wire!(u8 => U8, i8 => I8);

little_endian_wire!(
    u16 => U16, U16,
    u32 => U32, U32,
    u64 => U64, U64,
    i16 => I16, I16,
    i32 => I32, I32,
    i64 => I64, I64,
    f32 => F32, F32,
    f64 => F64, F64
);

/// A `bool` is one byte, 1 or 0. Reading is lenient (any nonzero byte is
/// `true`) so that [`WireType::from_wire`] stays total; [`WireType::validate`]
/// is strict.
impl WireType for bool {
    type Wire = u8;

    fn to_wire(&self) -> u8 {
        u8::from(*self)
    }

    fn from_wire(wire: &u8) -> bool {
        *wire != 0
    }

    fn validate(wire: &u8) -> Result<(), InvalidValue> {
        match *wire {
            0 | 1 => Ok(()),
            byte => Err(InvalidValue::InvalidBool { byte }),
        }
    }

    fn shape() -> Shape {
        Shape::number("bool", Kind::Bool)
    }

    /// `true` or `false`; a byte that is neither 0 nor 1 prints as
    /// `bool(byte)`.
    fn fmt_wire(wire: &u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *wire {
            0 => f.write_str("false"),
            1 => f.write_str("true"),
            byte => write!(f, "bool({byte})"),
        }
    }
}

const _: () = assert!(size_of::<<u8 as WireType>::Wire>() == 1);
const _: () = assert!(size_of::<<i8 as WireType>::Wire>() == 1);
const _: () = assert!(size_of::<<bool as WireType>::Wire>() == 1);
const _: () = assert!(size_of::<<u16 as WireType>::Wire>() == 2);
const _: () = assert!(size_of::<<i16 as WireType>::Wire>() == 2);
const _: () = assert!(size_of::<<u32 as WireType>::Wire>() == 4);
const _: () = assert!(size_of::<<i32 as WireType>::Wire>() == 4);
const _: () = assert!(size_of::<<f32 as WireType>::Wire>() == 4);
const _: () = assert!(size_of::<<u64 as WireType>::Wire>() == 8);
const _: () = assert!(size_of::<<i64 as WireType>::Wire>() == 8);
const _: () = assert!(size_of::<<f64 as WireType>::Wire>() == 8);

#[cfg(test)]
mod tests {
    use zerocopy::{FromBytes, IntoBytes};

    use super::*;

    /// Writes `value`, checks the wire validates, reads it back.
    fn round_trip<T: WireType>(value: T) -> T {
        let wire = value.to_wire();
        assert_eq!(T::validate(&wire), Ok(()));
        T::from_wire(&wire)
    }

    fn bytes_of<T: WireType>(value: T) -> Vec<u8> {
        value.to_wire().as_bytes().to_vec()
    }

    #[test]
    fn integers_round_trip_at_their_edges() {
        macro_rules! check {
            ($($ty:ty),+) => {$(
                for value in [<$ty>::MIN, <$ty>::MAX, 0, 1, <$ty>::MAX / 2] {
                    assert_eq!(round_trip(value), value, "{}", stringify!($ty));
                }
            )+};
        }
        check!(u8, u16, u32, u64, i8, i16, i32, i64);
        assert_eq!(round_trip(-1i64), -1);
    }

    #[test]
    fn integers_are_little_endian() {
        assert_eq!(bytes_of(0xABu8), [0xAB]);
        assert_eq!(bytes_of(-2i8), [0xFE]);
        assert_eq!(bytes_of(0x1234u16), [0x34, 0x12]);
        assert_eq!(bytes_of(-2i16), [0xFE, 0xFF]);
        assert_eq!(bytes_of(0x1234_5678u32), [0x78, 0x56, 0x34, 0x12]);
        assert_eq!(bytes_of(i32::MIN), [0, 0, 0, 0x80]);
        assert_eq!(bytes_of(0x0102_0304_0506_0708u64), [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(bytes_of(-1i64), [0xFF; 8]);
    }

    #[test]
    fn floats_are_little_endian_ieee754() {
        assert_eq!(bytes_of(1.0f32), [0, 0, 0x80, 0x3F]);
        assert_eq!(bytes_of(-2.5f64), (-2.5f64).to_le_bytes());
        assert_eq!(bytes_of(1.0f64), [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]);
    }

    #[test]
    fn f32_round_trips_bit_exactly() {
        let bits = [
            0x7FC0_0000, // quiet NaN
            0xFFC0_0001, // negative quiet NaN with a payload
            0x7F80_0001, // signalling NaN
            0x7FBF_FFFF, // signalling NaN, largest payload
            0x7F80_0000, // +inf
            0xFF80_0000, // -inf
            0x8000_0000, // -0.0
            0x0000_0000, // +0.0
            0x0000_0001, // smallest subnormal
            0x807F_FFFF, // largest negative subnormal
            0x7F7F_FFFF, // MAX
            0x0080_0000, // MIN_POSITIVE
        ];
        for bits in bits {
            let back = round_trip(f32::from_bits(bits));
            assert_eq!(back.to_bits(), bits, "{bits:#010x}");
        }
    }

    #[test]
    fn f64_round_trips_bit_exactly() {
        let bits = [
            0x7FF8_0000_0000_0000, // quiet NaN
            0xFFF8_0000_DEAD_BEEF, // negative quiet NaN with a payload
            0x7FF0_0000_0000_0001, // signalling NaN
            0x7FF0_0000_0000_0000, // +inf
            0xFFF0_0000_0000_0000, // -inf
            0x8000_0000_0000_0000, // -0.0
            0x0000_0000_0000_0001, // smallest subnormal
            0x800F_FFFF_FFFF_FFFF, // largest negative subnormal
            0x7FEF_FFFF_FFFF_FFFF, // MAX
        ];
        for bits in bits {
            let back = round_trip(f64::from_bits(bits));
            assert_eq!(back.to_bits(), bits, "{bits:#018x}");
        }
    }

    #[test]
    fn float_wire_bytes_read_back_bit_exactly() {
        // A NaN with a payload arriving from a raw buffer keeps its payload.
        let bytes = [0x01, 0x00, 0xC0, 0xFF];
        let wire = little_endian::F32::read_from_bytes(&bytes).unwrap();
        assert_eq!(f32::validate(&wire), Ok(()));
        assert_eq!(f32::from_wire(&wire).to_bits(), 0xFFC0_0001);
    }

    #[test]
    fn bool_is_one_or_zero() {
        assert_eq!(bytes_of(true), [1]);
        assert_eq!(bytes_of(false), [0]);
        assert!(round_trip(true));
        assert!(!round_trip(false));
    }

    /// `T::fmt_wire` of `value`'s wire form, as `Debug` would print it.
    fn wire_debug<T: WireType>(value: T) -> String {
        struct Wire<T: WireType>(T::Wire);
        impl<T: WireType> fmt::Debug for Wire<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                T::fmt_wire(&self.0, f)
            }
        }
        format!("{:?}", Wire::<T>(value.to_wire()))
    }

    #[test]
    fn wire_forms_print_as_their_values() {
        assert_eq!(wire_debug(7u8), "7");
        assert_eq!(wire_debug(-3i8), "-3");
        assert_eq!(wire_debug(513u16), "513");
        assert_eq!(wire_debug(-70_000i32), "-70000");
        assert_eq!(wire_debug(u64::MAX), "18446744073709551615");
        assert_eq!(wire_debug(1.5f32), "1.5");
        assert_eq!(wire_debug(-0.25f64), "-0.25");
        assert_eq!(wire_debug(true), "true");
        assert_eq!(wire_debug(false), "false");
        let mut text = String::new();
        fmt::write(&mut text, format_args!("{:?}", BoolByte(2))).unwrap();
        assert_eq!(text, "bool(2)");
    }

    struct BoolByte(u8);

    impl fmt::Debug for BoolByte {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            bool::fmt_wire(&self.0, f)
        }
    }

    #[test]
    fn numbers_describe_themselves() {
        let shapes = [
            (Shape::of::<u8>(), "u8", Kind::U8, 1),
            (Shape::of::<i8>(), "i8", Kind::I8, 1),
            (Shape::of::<bool>(), "bool", Kind::Bool, 1),
            (Shape::of::<u16>(), "u16", Kind::U16, 2),
            (Shape::of::<i16>(), "i16", Kind::I16, 2),
            (Shape::of::<u32>(), "u32", Kind::U32, 4),
            (Shape::of::<i32>(), "i32", Kind::I32, 4),
            (Shape::of::<f32>(), "f32", Kind::F32, 4),
            (Shape::of::<u64>(), "u64", Kind::U64, 8),
            (Shape::of::<i64>(), "i64", Kind::I64, 8),
            (Shape::of::<f64>(), "f64", Kind::F64, 8),
        ];
        for (shape, name, kind, size) in shapes {
            assert_eq!(
                (shape.type_name(), shape.kind(), shape.size()),
                (name, &kind, size)
            );
            assert!(shape.fields().is_empty());
        }
    }

    #[test]
    fn bool_rejects_other_bytes_but_reads_them_as_true() {
        for byte in [2u8, 0x80, 255] {
            assert_eq!(
                bool::validate(&byte),
                Err(InvalidValue::InvalidBool { byte })
            );
            assert!(bool::from_wire(&byte));
        }
    }
}
