//! Coordinate frames: a position and XYZ Euler angles in radians, at three
//! precisions. [`CFrame`] is exact; [`CFrameF32`] and [`CFrame18`] are smaller,
//! and lose precision only when they are made from a [`CFrame`].

use std::f64::consts::{PI, TAU};
use std::fmt;

use zerocopy::{little_endian, FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{InvalidValue, Shape, Vec3, Vec3Wire, WireType};

/// A position and a rotation (XYZ Euler angles, radians), as `f64`: 48 bytes
/// on the wire, exact.
///
/// # Examples
///
/// ```
/// use parallelizer::{CFrame, Vec3, WireType};
/// use std::f64::consts::FRAC_PI_2;
///
/// let frame = CFrame::new(Vec3::new(1.0, 2.0, 3.0), Vec3::new(0.0, FRAC_PI_2, 0.0));
/// assert_eq!(CFrame::from_wire(&frame.to_wire()), frame);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct CFrame {
    /// The position.
    pub position: Vec3,
    /// The rotation, as X, Y and Z Euler angles in radians.
    pub rotation: Vec3,
}

impl CFrame {
    /// A frame from its position and rotation.
    pub const fn new(position: Vec3, rotation: Vec3) -> Self {
        Self { position, rotation }
    }
}

/// The wire form of [`CFrame`]: 48 bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct CFrameWire {
    /// The position: x, y, z as little-endian `f64`.
    pub position: Vec3Wire,
    /// The rotation: X, Y, Z Euler angles as little-endian `f64`.
    pub rotation: Vec3Wire,
}

impl WireType for CFrame {
    type Wire = CFrameWire;

    fn to_wire(&self) -> CFrameWire {
        CFrameWire {
            position: self.position.to_wire(),
            rotation: self.rotation.to_wire(),
        }
    }

    fn from_wire(wire: &CFrameWire) -> Self {
        Self::new(
            Vec3::from_wire(&wire.position),
            Vec3::from_wire(&wire.rotation),
        )
    }

    fn validate(_: &CFrameWire) -> Result<(), InvalidValue> {
        Ok(())
    }

    /// A struct of a position and a rotation, each a [`Vec3`].
    fn shape() -> Shape {
        Shape::structure(
            "CFrame",
            [
                ("position", Shape::of::<Vec3>()),
                ("rotation", Shape::of::<Vec3>()),
            ],
        )
    }
}

/// A [`CFrame`] in `f32`: 24 bytes on the wire.
///
/// Exact on the wire; converting from a [`CFrame`] rounds each number to the
/// nearest `f32`.
///
/// # Examples
///
/// ```
/// use parallelizer::{CFrame, CFrameF32, Vec3, WireType};
///
/// let exact = CFrame::new(Vec3::new(0.1, 2.0, 3.0), Vec3::new(0.0, 1.5, 0.0));
/// let frame = CFrameF32::from(exact);
/// assert_eq!(frame, CFrameF32::new([0.1, 2.0, 3.0], [0.0, 1.5, 0.0]));
/// assert_eq!(CFrameF32::from_wire(&frame.to_wire()), frame);
///
/// // Back to f64: 0.1 became the f32 nearest to it.
/// assert_eq!(CFrame::from(frame).position.x, f64::from(0.1f32));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct CFrameF32 {
    /// The position: x, y, z.
    pub position: [f32; 3],
    /// The rotation: X, Y, Z Euler angles in radians.
    pub rotation: [f32; 3],
}

impl CFrameF32 {
    /// A frame from its position and rotation.
    pub const fn new(position: [f32; 3], rotation: [f32; 3]) -> Self {
        Self { position, rotation }
    }
}

/// The wire form of [`CFrameF32`]: 24 bytes. `Debug` prints the numbers.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct CFrameF32Wire {
    /// The position: x, y, z as little-endian `f32`.
    pub position: [little_endian::F32; 3],
    /// The rotation: X, Y, Z Euler angles as little-endian `f32`.
    pub rotation: [little_endian::F32; 3],
}

impl WireType for CFrameF32 {
    type Wire = CFrameF32Wire;

    fn to_wire(&self) -> CFrameF32Wire {
        CFrameF32Wire {
            position: self.position.map(little_endian::F32::new),
            rotation: self.rotation.map(little_endian::F32::new),
        }
    }

    fn from_wire(wire: &CFrameF32Wire) -> Self {
        Self::new(
            wire.position.map(little_endian::F32::get),
            wire.rotation.map(little_endian::F32::get),
        )
    }

    fn validate(_: &CFrameF32Wire) -> Result<(), InvalidValue> {
        Ok(())
    }

    /// A struct of a position and a rotation, each x, y, z as `f32`.
    fn shape() -> Shape {
        Shape::structure(
            "CFrameF32",
            [
                ("position", xyz::<f32>("[f32; 3]")),
                ("rotation", xyz::<f32>("[f32; 3]")),
            ],
        )
    }
}

impl fmt::Debug for CFrameF32Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CFrameF32Wire")
            .field("position", &self.position.map(little_endian::F32::get))
            .field("rotation", &self.rotation.map(little_endian::F32::get))
            .finish()
    }
}

impl From<CFrame> for CFrameF32 {
    /// Rounds each number to the nearest `f32` (out of range ones become
    /// infinite).
    fn from(frame: CFrame) -> Self {
        Self::new(to_f32(frame.position), to_f32(frame.rotation))
    }
}

impl From<CFrameF32> for CFrame {
    /// Exact.
    fn from(frame: CFrameF32) -> Self {
        Self::new(to_vec3(frame.position), to_vec3(frame.rotation))
    }
}

/// A [`CFrame`] in 18 bytes: the position as `f32`, each angle as a 16-bit
/// code.
///
/// It stores the codes themselves, so it is exact on the wire and compares
/// codes, not radians; the precision is lost once, in
/// [`CFrame18::angle_to_code`], when it is made from a [`CFrame`].
/// An angle `a` is wrapped into `[-π, π)` and coded as the unsigned
/// `round((a + π) / 2π × 65535)`, which decodes as `code / 65535 × 2π − π`:
/// a step of about 0.0001 rad (0.0055°).
///
/// # Examples
///
/// ```
/// use parallelizer::{CFrame, CFrame18, Vec3, WireType};
/// use std::f64::consts::PI;
///
/// let frame = CFrame::new(Vec3::new(1.0, 2.0, 3.0), Vec3::new(-PI, 0.0, 3.0));
/// let small = CFrame18::from(frame);
/// assert_eq!(small.position, [1.0, 2.0, 3.0]);
/// assert_eq!(small.angle_codes, [0, 32768, 64058]);
/// assert_eq!(CFrame18::from_wire(&small.to_wire()), small);
///
/// // Back to radians: within half a step of the original angles.
/// let back = CFrame::from(small);
/// assert_eq!(back.rotation.x, -PI);
/// assert!((back.rotation.z - 3.0).abs() < 5e-5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CFrame18 {
    /// The position: x, y, z.
    pub position: [f32; 3],
    /// The X, Y, Z Euler angles as codes (see [`CFrame18::code_to_angle`]).
    pub angle_codes: [u16; 3],
}

impl CFrame18 {
    /// A frame from its position and its angles' codes.
    pub const fn new(position: [f32; 3], angle_codes: [u16; 3]) -> Self {
        Self {
            position,
            angle_codes,
        }
    }

    /// The code of an angle in radians: the angle is wrapped into `[-π, π)`,
    /// then coded as `round((angle + π) / 2π × 65535)`.
    ///
    /// Angles within half a step below `π` round to 65535, which decodes as
    /// `π`: the same rotation as `-π`. A NaN or infinite angle is coded as 0
    /// rad.
    ///
    /// ```
    /// use parallelizer::CFrame18;
    /// use std::f64::consts::PI;
    ///
    /// assert_eq!(CFrame18::angle_to_code(-PI), 0);
    /// assert_eq!(CFrame18::angle_to_code(0.0), 32768);
    /// assert_eq!(CFrame18::angle_to_code(PI / 2.0), 49151);
    /// assert_eq!(CFrame18::angle_to_code(PI / 2.0 + 2.0 * PI), 49151);
    /// ```
    pub fn angle_to_code(angle: f64) -> u16 {
        let angle = if angle.is_finite() { angle } else { 0.0 };
        // In [0, 2π]: rem_euclid may round up to exactly 2π, which codes as 65535.
        let turn = (angle + PI).rem_euclid(TAU) / TAU;
        // In [0, 65535], so the cast is exact.
        (turn * 65535.0).round() as u16
    }

    /// The angle in radians of a code: `code / 65535 × 2π − π`, in `[-π, π]`.
    ///
    /// ```
    /// use parallelizer::CFrame18;
    /// use std::f64::consts::PI;
    ///
    /// assert_eq!(CFrame18::code_to_angle(0), -PI);
    /// assert_eq!(CFrame18::code_to_angle(65535), PI);
    /// ```
    pub fn code_to_angle(code: u16) -> f64 {
        f64::from(code) / 65535.0 * TAU - PI
    }
}

impl Default for CFrame18 {
    /// The origin with no rotation: the codes of 0 rad (32768), not code 0,
    /// which is -π.
    fn default() -> Self {
        Self::from(CFrame::default())
    }
}

/// The wire form of [`CFrame18`]: 18 bytes. `Debug` prints the numbers.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct CFrame18Wire {
    /// The position: x, y, z as little-endian `f32`.
    pub position: [little_endian::F32; 3],
    /// The X, Y, Z angle codes as little-endian unsigned `u16`.
    pub angle_codes: [little_endian::U16; 3],
}

impl WireType for CFrame18 {
    type Wire = CFrame18Wire;

    fn to_wire(&self) -> CFrame18Wire {
        CFrame18Wire {
            position: self.position.map(little_endian::F32::new),
            angle_codes: self.angle_codes.map(little_endian::U16::new),
        }
    }

    fn from_wire(wire: &CFrame18Wire) -> Self {
        Self::new(
            wire.position.map(little_endian::F32::get),
            wire.angle_codes.map(little_endian::U16::get),
        )
    }

    fn validate(_: &CFrame18Wire) -> Result<(), InvalidValue> {
        Ok(())
    }

    /// A struct of a position (x, y, z as `f32`) and the angles' codes (x,
    /// y, z as `u16`).
    fn shape() -> Shape {
        Shape::structure(
            "CFrame18",
            [
                ("position", xyz::<f32>("[f32; 3]")),
                ("angle_codes", xyz::<u16>("[u16; 3]")),
            ],
        )
    }
}

impl fmt::Debug for CFrame18Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CFrame18Wire")
            .field("position", &self.position.map(little_endian::F32::get))
            .field(
                "angle_codes",
                &self.angle_codes.map(little_endian::U16::get),
            )
            .finish()
    }
}

/// Three numbers of type `T`, named x, y and z.
fn xyz<T: WireType>(type_name: &'static str) -> Shape {
    Shape::structure(
        type_name,
        [
            ("x", Shape::of::<T>()),
            ("y", Shape::of::<T>()),
            ("z", Shape::of::<T>()),
        ],
    )
}

impl From<CFrame> for CFrame18 {
    /// Rounds the position to the nearest `f32`s and codes each angle with
    /// [`CFrame18::angle_to_code`].
    fn from(frame: CFrame) -> Self {
        let Vec3 { x, y, z } = frame.rotation;
        Self::new(
            to_f32(frame.position),
            [x, y, z].map(CFrame18::angle_to_code),
        )
    }
}

impl From<CFrame18> for CFrame {
    /// Decodes each angle with [`CFrame18::code_to_angle`].
    fn from(frame: CFrame18) -> Self {
        let [x, y, z] = frame.angle_codes.map(CFrame18::code_to_angle);
        Self::new(to_vec3(frame.position), Vec3::new(x, y, z))
    }
}

fn to_f32(v: Vec3) -> [f32; 3] {
    // `as` rounds to nearest; f32 has no `From<f64>`.
    [v.x as f32, v.y as f32, v.z as f32]
}

fn to_vec3([x, y, z]: [f32; 3]) -> Vec3 {
    Vec3::new(x.into(), y.into(), z.into())
}

const _: () = assert!(size_of::<CFrameWire>() == 48);
const _: () = assert!(size_of::<CFrameF32Wire>() == 24);
const _: () = assert!(size_of::<CFrame18Wire>() == 18);

#[cfg(test)]
mod tests {
    use std::f64::consts::FRAC_PI_2;

    use zerocopy::IntoBytes;

    use super::*;

    /// Half a code step, the most an angle moves through its code, plus
    /// room for floating-point rounding.
    const MAX_ERROR: f64 = TAU / 65535.0 / 2.0 + 1e-12;

    fn round_trip<T: WireType>(value: T) -> T {
        let wire = value.to_wire();
        assert_eq!(T::validate(&wire), Ok(()));
        T::from_wire(&wire)
    }

    /// The angle `a` after a trip through its code.
    fn through_code(a: f64) -> f64 {
        CFrame18::code_to_angle(CFrame18::angle_to_code(a))
    }

    /// The signed difference of two angles, in [-π, π).
    fn angle_diff(a: f64, b: f64) -> f64 {
        (a - b + PI).rem_euclid(TAU) - PI
    }

    #[test]
    fn cframe_round_trips_exactly() {
        let nan = f64::from_bits(0x7FF0_0000_0000_0001);
        let frame = CFrame::new(
            Vec3::new(f64::MAX, -0.0, f64::from_bits(1)),
            Vec3::new(f64::NEG_INFINITY, PI, nan),
        );
        let back = round_trip(frame);
        assert_eq!(back.position, frame.position);
        assert_eq!(back.rotation.x, f64::NEG_INFINITY);
        assert_eq!(back.rotation.z.to_bits(), nan.to_bits());
        assert_eq!(back.position.y.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn cframe_wire_is_position_then_rotation() {
        let frame = CFrame::new(Vec3::new(1.0, 2.0, 3.0), Vec3::new(4.0, 5.0, 6.0));
        let expected: Vec<u8> = (1..=6).flat_map(|v| f64::from(v).to_le_bytes()).collect();
        assert_eq!(frame.to_wire().as_bytes(), expected);
    }

    #[test]
    fn cframe_f32_round_trips_and_converts() {
        let frame = CFrameF32::new([f32::MIN, -0.0, f32::from_bits(1)], [f32::NAN, 1.5, -3.0]);
        let back = round_trip(frame);
        assert_eq!(
            back.position.map(f32::to_bits),
            frame.position.map(f32::to_bits)
        );
        assert_eq!(
            back.rotation.map(f32::to_bits),
            frame.rotation.map(f32::to_bits)
        );

        let exact = CFrame::new(Vec3::new(1.0, -2.0, 0.5), Vec3::new(0.25, 0.0, -1.0));
        let small = CFrameF32::from(exact);
        assert_eq!(small, CFrameF32::new([1.0, -2.0, 0.5], [0.25, 0.0, -1.0]));
        assert_eq!(CFrame::from(small), exact);
        assert_eq!(
            CFrameF32::from(CFrame::new(Vec3::new(1e300, 0.1, 0.0), Vec3::default())).position[..2],
            [f32::INFINITY, 0.1]
        );

        let expected: Vec<u8> = [1.0f32, -2.0, 0.5, 0.25, 0.0, -1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(small.to_wire().as_bytes(), expected);
    }

    #[test]
    fn angle_codes_at_the_edges() {
        assert_eq!(CFrame18::angle_to_code(-PI), 0);
        assert_eq!(CFrame18::angle_to_code(0.0), 32768);
        assert_eq!(CFrame18::angle_to_code(FRAC_PI_2), 49151);
        assert_eq!(CFrame18::angle_to_code(-FRAC_PI_2), 16384);
        // Just below π rounds to the last code, which decodes as π.
        assert_eq!(CFrame18::angle_to_code(PI - 1e-9), 65535);
        assert_eq!(CFrame18::code_to_angle(65535), PI);
        assert_eq!(CFrame18::code_to_angle(0), -PI);
        // π itself wraps to -π.
        assert_eq!(CFrame18::angle_to_code(PI), 0);
    }

    #[test]
    fn angle_codes_are_unsigned() {
        // The reference wrote codes through a signed writer; positive angles
        // have codes above i16::MAX and must survive.
        let code = CFrame18::angle_to_code(3.0);
        assert!(code > 32767, "{code}");
        let frame = CFrame18::new([0.0; 3], [code, 65535, 32768]);
        assert_eq!(round_trip(frame), frame);
        assert!((CFrame::from(frame).rotation.x - 3.0).abs() <= MAX_ERROR);
        assert_eq!(
            &frame.to_wire().as_bytes()[12..],
            [code.to_le_bytes(), [0xFF, 0xFF], [0x00, 0x80]].concat()
        );
    }

    #[test]
    fn angles_outside_pi_are_wrapped() {
        for a in [PI + 0.5, 3.0 * PI, 10.0, -7.0, -PI - 1e-3, 1e6] {
            let wrapped = (a + PI).rem_euclid(TAU) - PI;
            assert_eq!(
                CFrame18::angle_to_code(a),
                CFrame18::angle_to_code(wrapped),
                "{a}"
            );
            assert!(angle_diff(through_code(a), a).abs() <= MAX_ERROR, "{a}");
        }
        assert_eq!(
            CFrame18::angle_to_code(PI + 0.5),
            CFrame18::angle_to_code(-PI + 0.5)
        );
    }

    #[test]
    fn angles_move_at_most_half_a_step() {
        for i in -1000..=1000 {
            let a = f64::from(i) * PI / 1000.0 * 0.999_999;
            let back = through_code(a);
            assert!((back - a).abs() <= MAX_ERROR, "{a} -> {back}");
        }
    }

    #[test]
    fn codes_survive_decoding_and_recoding() {
        for code in 0..=u16::MAX {
            let again = CFrame18::angle_to_code(CFrame18::code_to_angle(code));
            // 65535 decodes as π, the same rotation as -π: code 0.
            let expected = if code == u16::MAX { 0 } else { code };
            assert_eq!(again, expected, "{code}");
        }
    }

    #[test]
    fn frames_describe_their_parts() {
        let shape = Shape::of::<CFrame>();
        assert_eq!((shape.type_name(), shape.size()), ("CFrame", 48));
        assert_eq!(shape.fields()[1], ("rotation", Shape::of::<Vec3>()));
        let shape = Shape::of::<CFrame18>();
        assert_eq!(shape.size(), 18);
        let (name, codes) = &shape.fields()[1];
        assert_eq!(
            (*name, codes.type_name(), codes.size()),
            ("angle_codes", "[u16; 3]", 6)
        );
        assert_eq!(Shape::of::<CFrameF32>().fields()[0].1.size(), 12);
    }

    #[test]
    fn wire_forms_print_their_numbers() {
        let wire = CFrame18::new([1.0, 2.0, 3.0], [0, 32768, 65535]).to_wire();
        assert_eq!(
            format!("{wire:?}"),
            "CFrame18Wire { position: [1.0, 2.0, 3.0], angle_codes: [0, 32768, 65535] }"
        );
        let wire = CFrameF32::new([0.5; 3], [-1.0; 3]).to_wire();
        assert_eq!(
            format!("{wire:?}"),
            "CFrameF32Wire { position: [0.5, 0.5, 0.5], rotation: [-1.0, -1.0, -1.0] }"
        );
        let wire = CFrame::default().to_wire();
        assert!(format!("{wire:?}").starts_with("CFrameWire { position: Vec3Wire { x: 0.0,"));
    }

    #[test]
    fn default_is_the_code_of_no_rotation() {
        assert_eq!(CFrame18::default(), CFrame18::new([0.0; 3], [32768; 3]));
        let back = CFrame::from(CFrame18::default());
        assert_eq!(back.position, Vec3::default());
        assert!(back.rotation.x.abs() <= MAX_ERROR);
        assert_eq!(CFrameF32::default(), CFrameF32::from(CFrame::default()));
    }

    #[test]
    fn non_finite_angles_code_as_zero() {
        for a in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(CFrame18::angle_to_code(a), CFrame18::angle_to_code(0.0));
        }
    }

    #[test]
    fn cframe18_converts_and_round_trips() {
        let exact = CFrame::new(Vec3::new(1.5, -2.0, 1e-3), Vec3::new(-PI, 0.0, FRAC_PI_2));
        let small = CFrame18::from(exact);
        assert_eq!(small, CFrame18::new([1.5, -2.0, 1e-3], [0, 32768, 49151]));
        assert_eq!(round_trip(small), small);

        let back = CFrame::from(small);
        assert_eq!(back.position, Vec3::new(1.5, -2.0, f64::from(1e-3f32)));
        assert_eq!(back.rotation.x, -PI);
        for (got, want) in [(back.rotation.y, 0.0), (back.rotation.z, FRAC_PI_2)] {
            assert!((got - want).abs() <= MAX_ERROR, "{got} vs {want}");
        }
        // Converting again is stable: the loss happens once.
        assert_eq!(CFrame18::from(back), small);

        let mut expected: Vec<u8> = [1.5f32, -2.0, 1e-3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        expected.extend_from_slice(&[0, 0, 0x00, 0x80, 0xFF, 0xBF]);
        assert_eq!(small.to_wire().as_bytes(), expected);
    }
}
