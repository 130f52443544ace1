//! RGB colors: [`Color3`] in 3 bytes (8 bits a channel) and [`Color3b16`] in 2
//! (RGB565).
//!
//! Both quantize a channel `v` in `0..=1` to `floor(v × max)` (max is 255, 31
//! or 63) after clamping it to `0..=1`, with NaN read as 0, and decode a level
//! as `level / max`. Decoded values quantize back to the same levels.

use std::fmt;

use zerocopy::{little_endian, FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{InvalidValue, Shape, WireType};

/// An RGB color with channels in `0..=1`: 3 bytes on the wire, one per channel.
///
/// The wire form is lossy: each channel is written as `floor(v × 255)` after
/// clamping to `0..=1` (NaN counts as 0), and read back as `byte / 255`.
///
/// # Examples
///
/// ```
/// use parallelizer::{Color3, WireType};
///
/// let orange = Color3::new(1.0, 0.5, 0.0);
/// let wire = orange.to_wire();
/// assert_eq!([wire.r, wire.g, wire.b], [255, 127, 0]);
///
/// // 0.5 comes back as 127 / 255.
/// assert_eq!(Color3::from_wire(&wire), Color3::new(1.0, 127.0 / 255.0, 0.0));
///
/// // Out-of-range channels are clamped.
/// let wire = Color3::new(2.0, -1.0, f32::NAN).to_wire();
/// assert_eq!([wire.r, wire.g, wire.b], [255, 0, 0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Color3 {
    /// Red, in `0..=1`.
    pub r: f32,
    /// Green, in `0..=1`.
    pub g: f32,
    /// Blue, in `0..=1`.
    pub b: f32,
}

impl Color3 {
    /// A color from its channels, each in `0..=1`.
    pub const fn new(r: f32, g: f32, b: f32) -> Self {
        Self { r, g, b }
    }
}

/// The wire form of [`Color3`]: one byte per channel, `0..=255`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Color3Wire {
    /// Red, `floor(r × 255)`.
    pub r: u8,
    /// Green, `floor(g × 255)`.
    pub g: u8,
    /// Blue, `floor(b × 255)`.
    pub b: u8,
}

impl WireType for Color3 {
    type Wire = Color3Wire;

    fn to_wire(&self) -> Color3Wire {
        // Levels are at most 255, so the casts are exact.
        Color3Wire {
            r: quantize(self.r, 255) as u8,
            g: quantize(self.g, 255) as u8,
            b: quantize(self.b, 255) as u8,
        }
    }

    fn from_wire(wire: &Color3Wire) -> Self {
        Self::new(
            dequantize(wire.r.into(), 255),
            dequantize(wire.g.into(), 255),
            dequantize(wire.b.into(), 255),
        )
    }

    fn validate(_: &Color3Wire) -> Result<(), InvalidValue> {
        Ok(())
    }

    /// A struct of r, g and b, as bytes.
    fn shape() -> Shape {
        Shape::structure(
            "Color3",
            [
                ("r", Shape::of::<u8>()),
                ("g", Shape::of::<u8>()),
                ("b", Shape::of::<u8>()),
            ],
        )
    }
}

/// An RGB color packed as RGB565 in a `u16`: 5 bits of red, 6 of green, 5 of
/// blue, 2 bytes on the wire.
///
/// It stores the packed bits, so it is exact on the wire; precision is lost
/// once, when it is made from a [`Color3`]: the bits are
/// `floor(r × 31) << 11 | floor(g × 63) << 5 | floor(b × 31)` after clamping
/// each channel to `0..=1` (NaN counts as 0). Back to a [`Color3`], a level
/// `l` of `max` becomes `l / max`.
///
/// # Examples
///
/// ```
/// use parallelizer::{Color3, Color3b16, WireType};
///
/// let red = Color3b16::from(Color3::new(1.0, 0.0, 0.0));
/// assert_eq!(red.to_bits(), 0xF800);
/// assert_eq!(Color3b16::from_wire(&red.to_wire()), red);
///
/// // 0.5 of 63 green levels is level 31, which reads back as 31 / 63.
/// let teal = Color3::from(Color3b16::from(Color3::new(0.0, 0.5, 1.0)));
/// assert_eq!(teal, Color3::new(0.0, 31.0 / 63.0, 1.0));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Color3b16(u16);

impl Color3b16 {
    /// A color from its RGB565 bits.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// The RGB565 bits: red in bits 11-15, green in 5-10, blue in 0-4.
    pub const fn to_bits(self) -> u16 {
        self.0
    }
}

impl fmt::Debug for Color3b16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Color3b16({:#06x})", self.0)
    }
}

impl WireType for Color3b16 {
    type Wire = little_endian::U16;

    fn to_wire(&self) -> little_endian::U16 {
        little_endian::U16::new(self.0)
    }

    fn from_wire(wire: &little_endian::U16) -> Self {
        Self(wire.get())
    }

    fn validate(_: &little_endian::U16) -> Result<(), InvalidValue> {
        Ok(())
    }

    /// A `u16` of RGB565 bits.
    fn shape() -> Shape {
        Shape::of::<u16>().with_type_name("Color3b16")
    }

    /// As the color prints: `Color3b16(0xf800)`.
    fn fmt_wire(wire: &little_endian::U16, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Self::from_wire(wire), f)
    }
}

impl From<Color3> for Color3b16 {
    /// Quantizes each channel: see [`Color3b16`].
    fn from(color: Color3) -> Self {
        Self(quantize(color.r, 31) << 11 | quantize(color.g, 63) << 5 | quantize(color.b, 31))
    }
}

impl From<Color3b16> for Color3 {
    /// Exact: each level divided by its maximum.
    fn from(color: Color3b16) -> Self {
        let bits = color.0;
        Self::new(
            dequantize(bits >> 11, 31),
            dequantize(bits >> 5 & 63, 63),
            dequantize(bits & 31, 31),
        )
    }
}

/// `floor(v × max)`, with `v` clamped to `0..=1` and NaN read as 0.
fn quantize(v: f32, max: u16) -> u16 {
    if v.is_nan() {
        return 0;
    }
    // In [0, max]: the cast is exact.
    (v.clamp(0.0, 1.0) * f32::from(max)).floor() as u16
}

/// `level / max`.
fn dequantize(level: u16, max: u16) -> f32 {
    f32::from(level) / f32::from(max)
}

const _: () = assert!(size_of::<Color3Wire>() == 3);
const _: () = assert!(size_of::<<Color3b16 as WireType>::Wire>() == 2);

#[cfg(test)]
mod tests {
    use zerocopy::IntoBytes;

    use super::*;

    fn bytes(color: Color3) -> [u8; 3] {
        let wire = color.to_wire();
        assert_eq!(Color3::validate(&wire), Ok(()));
        [wire.r, wire.g, wire.b]
    }

    fn bits(r: f32, g: f32, b: f32) -> u16 {
        Color3b16::from(Color3::new(r, g, b)).to_bits()
    }

    #[test]
    fn color3_quantizes_with_floor() {
        assert_eq!(bytes(Color3::new(0.0, 1.0, 0.5)), [0, 255, 127]);
        assert_eq!(bytes(Color3::new(0.999, 1.0 / 255.0, 0.003)), [254, 1, 0]);
        assert_eq!(
            Color3::new(0.2, 0.4, 0.6).to_wire().as_bytes(),
            [51, 102, 153]
        );
    }

    #[test]
    fn color3_clamps_out_of_range_and_nan() {
        assert_eq!(bytes(Color3::new(-0.5, 1.5, f32::INFINITY)), [0, 255, 255]);
        assert_eq!(
            bytes(Color3::new(f32::NEG_INFINITY, -0.0, 1e30)),
            [0, 0, 255]
        );
        assert_eq!(bytes(Color3::new(f32::NAN, -f32::NAN, f32::NAN)), [0, 0, 0]);
    }

    #[test]
    fn color3_decodes_by_dividing_by_255() {
        let wire = Color3Wire {
            r: 0,
            g: 255,
            b: 51,
        };
        assert_eq!(Color3::from_wire(&wire), Color3::new(0.0, 1.0, 0.2));
        let half = Color3::from_wire(&Color3::new(0.5, 0.5, 0.5).to_wire());
        assert_eq!(half.r, 127.0 / 255.0);
    }

    #[test]
    fn every_color3_byte_survives_decoding_and_recoding() {
        for byte in 0..=u8::MAX {
            let wire = Color3Wire {
                r: byte,
                g: byte,
                b: byte,
            };
            assert_eq!(Color3::from_wire(&wire).to_wire(), wire, "{byte}");
        }
    }

    #[test]
    fn color3b16_packs_primaries() {
        assert_eq!(bits(0.0, 0.0, 0.0), 0x0000);
        assert_eq!(bits(1.0, 0.0, 0.0), 0xF800);
        assert_eq!(bits(0.0, 1.0, 0.0), 0x07E0);
        assert_eq!(bits(0.0, 0.0, 1.0), 0x001F);
        assert_eq!(bits(1.0, 1.0, 1.0), 0xFFFF);
        // floor(0.5 × 31) = 15, floor(0.5 × 63) = 31.
        assert_eq!(bits(0.5, 0.5, 0.5), 15 << 11 | 31 << 5 | 15);
    }

    #[test]
    fn color3b16_clamps_out_of_range_and_nan() {
        assert_eq!(bits(2.0, -1.0, f32::NAN), 0xF800);
        assert_eq!(bits(f32::NAN, f32::INFINITY, -0.0), 0x07E0);
    }

    #[test]
    fn color3b16_wire_is_little_endian_and_exact() {
        let red = Color3b16::from_bits(0xF800);
        assert_eq!(red.to_wire().as_bytes(), [0x00, 0xF8]);
        for raw in [0, 1, 0x1234, 0x8000, u16::MAX] {
            let color = Color3b16::from_bits(raw);
            assert_eq!(Color3b16::validate(&color.to_wire()), Ok(()));
            assert_eq!(Color3b16::from_wire(&color.to_wire()), color);
        }
        assert_eq!(format!("{red:?}"), "Color3b16(0xf800)");
        assert_eq!(Color3b16::default().to_bits(), 0);
    }

    #[test]
    fn color3b16_decodes_levels_over_their_maximum() {
        assert_eq!(
            Color3::from(Color3b16::from_bits(0xF800)),
            Color3::new(1.0, 0.0, 0.0)
        );
        assert_eq!(
            Color3::from(Color3b16::from_bits(0x07E0)),
            Color3::new(0.0, 1.0, 0.0)
        );
        assert_eq!(
            Color3::from(Color3b16::from_bits(0xFFFF)),
            Color3::new(1.0, 1.0, 1.0)
        );
        let c = Color3::from(Color3b16::from_bits(1 << 11 | 2 << 5 | 3));
        assert_eq!(c, Color3::new(1.0 / 31.0, 2.0 / 63.0, 3.0 / 31.0));
    }

    #[test]
    fn every_color3b16_survives_decoding_and_recoding() {
        for raw in 0..=u16::MAX {
            let color = Color3b16::from_bits(raw);
            assert_eq!(Color3b16::from(Color3::from(color)), color, "{raw:#06x}");
        }
    }
}
