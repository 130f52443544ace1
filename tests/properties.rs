//! Property tests of the wire format, on arbitrary values:
//!
//! - exact types round-trip bit for bit through `Task::encode`/`decode` and
//!   through a real dispatch and raw buffer;
//! - `FixedStr::new` and `FixedBytes::new` refuse exactly the values longer
//!   than their slot, and never truncate;
//! - `Results::from_bytes` never panics on any bytes, and every buffer it
//!   accepts is canonical: re-encoding its outputs gives the same bytes;
//! - lossy types quantize once: re-encoding a decoded value gives the same
//!   wire bytes, and the decoded value is within the documented error.

use std::f64::consts::{PI, TAU};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use parallelizer::prelude::*;
use parallelizer::{InvalidValue, WireType};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};

/// One coordinator for every property: each dispatch passes its data as
/// `args`, so concurrent tests never share state through it.
fn coordinator() -> &'static Coordinator {
    static COORDINATOR: OnceLock<Coordinator> = OnceLock::new();
    COORDINATOR.get_or_init(|| {
        Coordinator::builder()
            .actors(8)
            .threads(2)
            .build()
            .expect("a coordinator on 2 threads")
    })
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Any value of an integer type, with its edges and zero drawn often.
macro_rules! integer {
    ($($name:ident: $ty:ty),+ $(,)?) => {$(
        fn $name() -> impl Strategy<Value = $ty> {
            prop_oneof![
                1 => Just(<$ty>::MIN),
                1 => Just(<$ty>::MAX),
                1 => Just(0 as $ty),
                1 => (0 as $ty)..=(16 as $ty),
                6 => any::<$ty>(),
            ]
        }
    )+};
}

integer!(
    any_u8: u8,
    any_i8: i8,
    any_u16: u16,
    any_i16: i16,
    any_u32: u32,
    any_i32: i32,
    any_u64: u64,
    any_i64: i64,
);

/// Any `f32` bit pattern, with NaNs (payloads and signs), infinities, zeros
/// and subnormals drawn often.
fn any_f32() -> impl Strategy<Value = f32> {
    let special = select(vec![
        0x7FC0_0000u32, // quiet NaN
        0xFFC0_0001,    // negative quiet NaN with a payload
        0x7F80_0001,    // signalling NaN
        0x7F80_0000,    // +inf
        0xFF80_0000,    // -inf
        0x8000_0000,    // -0.0
        0x0000_0001,    // smallest subnormal
        0x7F7F_FFFF,    // MAX
    ]);
    prop_oneof![1 => special, 3 => any::<u32>()].prop_map(f32::from_bits)
}

/// Any `f64` bit pattern, with the same specials drawn often.
fn any_f64() -> impl Strategy<Value = f64> {
    let special = select(vec![
        0x7FF8_0000_0000_0000u64, // quiet NaN
        0xFFF8_0000_DEAD_BEEF,    // negative quiet NaN with a payload
        0x7FF0_0000_0000_0001,    // signalling NaN
        0x7FF0_0000_0000_0000,    // +inf
        0xFFF0_0000_0000_0000,    // -inf
        0x8000_0000_0000_0000,    // -0.0
        0x0000_0000_0000_0001,    // smallest subnormal
        0x7FEF_FFFF_FFFF_FFFF,    // MAX
    ]);
    prop_oneof![1 => special, 3 => any::<u64>()].prop_map(f64::from_bits)
}

/// Strings of any characters (multi-byte UTF-8 included) of at most
/// `max_bytes` bytes: characters that would not fit are skipped.
fn string_within(max_bytes: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max_bytes).prop_map(move |chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() <= max_bytes {
                s.push(c);
            }
        }
        s
    })
}

fn any_fixed_str<const N: usize>() -> impl Strategy<Value = FixedStr<N>> {
    string_within(N).prop_map(|s| FixedStr::new(&s).expect("the string fits its slot"))
}

fn any_fixed_bytes<const N: usize>() -> impl Strategy<Value = FixedBytes<N>> {
    vec(any::<u8>(), 0..=N).prop_map(|b| FixedBytes::new(&b).expect("the bytes fit their slot"))
}

fn any_vec2() -> impl Strategy<Value = Vec2> {
    (any_f64(), any_f64()).prop_map(|(x, y)| Vec2::new(x, y))
}

fn any_vec3() -> impl Strategy<Value = Vec3> {
    (any_f64(), any_f64(), any_f64()).prop_map(|(x, y, z)| Vec3::new(x, y, z))
}

fn any_vec2i16() -> impl Strategy<Value = Vec2i16> {
    (any_i16(), any_i16()).prop_map(|(x, y)| Vec2i16::new(x, y))
}

fn any_vec3i16() -> impl Strategy<Value = Vec3i16> {
    (any_i16(), any_i16(), any_i16()).prop_map(|(x, y, z)| Vec3i16::new(x, y, z))
}

fn any_cframe() -> impl Strategy<Value = CFrame> {
    (any_vec3(), any_vec3()).prop_map(|(position, rotation)| CFrame::new(position, rotation))
}

// ---------------------------------------------------------------------------
// (a) Exact types round-trip bit for bit
// ---------------------------------------------------------------------------

/// Every exact type. The worker returns the outputs it is given, so a
/// dispatch writes arbitrary values through the real pipeline.
#[task(
    packet = (
        u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, FixedStr<8>, FixedBytes<16>,
        Vec2, Vec3, Vec2i16, Vec3i16, CFrame,
    ),
    args = Vec<<Exact as Task>::Output>,
)]
pub struct Exact;

type ExactOutput = <Exact as Task>::Output;

#[worker(Exact)]
fn exact(task_id: usize, outputs: &[ExactOutput]) -> ExactOutput {
    outputs[task_id]
}

/// An `Exact` output in three parts: proptest values need `Debug`, which
/// tuples of more than 12 fields do not have.
type ExactParts = (
    (u8, i8, u16, i16, u32, i32, u64, i64),
    (f32, f64, bool, FixedStr<8>, FixedBytes<16>),
    (Vec2, Vec3, Vec2i16, Vec3i16, CFrame),
);

fn any_exact() -> impl Strategy<Value = ExactParts> {
    (
        (
            any_u8(),
            any_i8(),
            any_u16(),
            any_i16(),
            any_u32(),
            any_i32(),
            any_u64(),
            any_i64(),
        ),
        (
            any_f32(),
            any_f64(),
            any::<bool>(),
            any_fixed_str::<8>(),
            any_fixed_bytes::<16>(),
        ),
        (
            any_vec2(),
            any_vec3(),
            any_vec2i16(),
            any_vec3i16(),
            any_cframe(),
        ),
    )
}

fn join(parts: &ExactParts) -> ExactOutput {
    let ((a, b, c, d, e, f, g, h), (i, j, k, l, m), (n, o, p, q, r)) = *parts;
    (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r)
}

fn vec2_bits(v: Vec2) -> [u64; 2] {
    [v.x, v.y].map(f64::to_bits)
}

fn vec3_bits(v: Vec3) -> [u64; 3] {
    [v.x, v.y, v.z].map(f64::to_bits)
}

/// Whether two outputs are the same bits, field by field (floats by their
/// bits, so NaN payloads and -0.0 count).
fn assert_identical(got: &ExactOutput, want: &ExactOutput) -> TestCaseResult {
    prop_assert_eq!(
        (got.0, got.1, got.2, got.3, got.4, got.5, got.6, got.7),
        (want.0, want.1, want.2, want.3, want.4, want.5, want.6, want.7)
    );
    prop_assert_eq!(got.8.to_bits(), want.8.to_bits());
    prop_assert_eq!(got.9.to_bits(), want.9.to_bits());
    prop_assert_eq!((got.10, got.11, got.12), (want.10, want.11, want.12));
    prop_assert_eq!(vec2_bits(got.13), vec2_bits(want.13));
    prop_assert_eq!(vec3_bits(got.14), vec3_bits(want.14));
    prop_assert_eq!((got.15, got.16), (want.15, want.16));
    prop_assert_eq!(vec3_bits(got.17.position), vec3_bits(want.17.position));
    prop_assert_eq!(vec3_bits(got.17.rotation), vec3_bits(want.17.rotation));
    Ok(())
}

proptest! {
    #[test]
    fn exact_types_round_trip_through_encode_and_decode(parts in any_exact()) {
        let output = join(&parts);
        assert_identical(&Exact::decode(&Exact::encode(output)), &output)?;
    }

    #[test]
    fn exact_types_round_trip_through_a_dispatch(
        parts in vec(any_exact(), 1..12),
        batch in 1usize..5,
    ) {
        let outputs: Vec<ExactOutput> = parts.iter().map(join).collect();
        let results = coordinator().dispatch_with(Exact, outputs.len(), batch, outputs.clone())?;
        prop_assert_eq!(results.len(), outputs.len());
        for (got, want) in results.iter().zip(&outputs) {
            assert_identical(&got, want)?;
        }
        // And through the raw buffer: it validates and reads back the same.
        let copy = Results::<Exact>::from_bytes(results.as_bytes().to_vec())?;
        prop_assert_eq!(&copy, &results);
        for (got, want) in copy.iter().zip(&outputs) {
            assert_identical(&got, want)?;
        }
    }
}

// ---------------------------------------------------------------------------
// (b) Fixed slots refuse exactly what does not fit, and never truncate
// ---------------------------------------------------------------------------

fn check_fixed_str<const N: usize>(s: &str) -> TestCaseResult {
    match FixedStr::<N>::new(s) {
        Ok(fixed) => {
            prop_assert!(
                s.len() <= N,
                "{s:?} ({} bytes) accepted by FixedStr<{N}>",
                s.len()
            );
            prop_assert_eq!(fixed.as_str(), s);
            prop_assert_eq!(fixed.len(), s.len());
        }
        Err(error) => {
            prop_assert!(
                s.len() > N,
                "{s:?} ({} bytes) refused by FixedStr<{N}>",
                s.len()
            );
            prop_assert_eq!(
                error,
                Error::ValueTooLong {
                    type_name: format!("FixedStr<{N}>"),
                    capacity: N,
                    len: s.len(),
                }
            );
        }
    }
    Ok(())
}

fn check_fixed_bytes<const N: usize>(bytes: &[u8]) -> TestCaseResult {
    match FixedBytes::<N>::new(bytes) {
        Ok(fixed) => {
            prop_assert!(bytes.len() <= N);
            prop_assert_eq!(fixed.as_bytes(), bytes);
        }
        Err(error) => {
            prop_assert!(bytes.len() > N);
            prop_assert_eq!(
                error,
                Error::ValueTooLong {
                    type_name: format!("FixedBytes<{N}>"),
                    capacity: N,
                    len: bytes.len(),
                }
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn fixed_str_refuses_exactly_the_strings_longer_than_its_slot(
        // Up to 16 characters of up to 4 bytes: on both sides of every slot.
        chars in vec(any::<char>(), 0..16),
    ) {
        let s: String = chars.into_iter().collect();
        check_fixed_str::<0>(&s)?;
        check_fixed_str::<1>(&s)?;
        check_fixed_str::<4>(&s)?;
        check_fixed_str::<8>(&s)?;
        check_fixed_str::<11>(&s)?;
        check_fixed_str::<32>(&s)?;
    }

    #[test]
    fn fixed_bytes_refuses_exactly_the_buffers_longer_than_its_slot(
        bytes in vec(any::<u8>(), 0..24),
    ) {
        check_fixed_bytes::<0>(&bytes)?;
        check_fixed_bytes::<3>(&bytes)?;
        check_fixed_bytes::<16>(&bytes)?;
    }
}

// ---------------------------------------------------------------------------
// (c) Raw buffers: never a panic, and what is accepted is canonical
// ---------------------------------------------------------------------------

/// Small slots, so that arbitrary bytes often make a valid packet. The
/// worker returns the outputs it is given, to re-encode decoded outputs
/// through a real dispatch.
#[task(
    packet = (bool, FixedStr<3>, FixedBytes<4>, u16),
    args = Vec<(bool, FixedStr<3>, FixedBytes<4>, u16)>,
)]
pub struct Loose;

#[worker(Loose)]
fn loose(
    task_id: usize,
    outputs: &[(bool, FixedStr<3>, FixedBytes<4>, u16)],
) -> (bool, FixedStr<3>, FixedBytes<4>, u16) {
    outputs[task_id]
}

/// The bytes of one valid `Loose` packet, written by hand: a bool byte, a u32
/// length and 3 string bytes, a u16 length and 4 bytes, a u16.
fn loose_packet_bytes(flag: bool, s: &str, b: &[u8], n: u16) -> Vec<u8> {
    let mut bytes = vec![u8::from(flag)];
    bytes.extend((s.len() as u32).to_le_bytes());
    bytes.extend(s.as_bytes());
    bytes.resize(1 + 4 + 3, 0);
    bytes.extend((b.len() as u16).to_le_bytes());
    bytes.extend(b);
    bytes.resize(1 + 7 + 2 + 4, 0);
    bytes.extend(n.to_le_bytes());
    bytes
}

/// Byte values that often hit a field's edge: 0 and 1 (valid bools, small
/// lengths), lengths just past a slot, UTF-8 lead and continuation bytes.
fn edgy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => Just(0u8),
        2 => 0u8..=5,
        1 => select(vec![0x7F, 0x80, 0xBF, 0xC3, 0xE6, 0xF0, 0xFF]),
        2 => any::<u8>(),
    ]
}

/// Buffers of every kind: valid buffers with a few bytes overwritten (often
/// harmlessly), sometimes cut or lengthened; buffers of edge bytes; and
/// plain random bytes.
fn any_buffer() -> impl Strategy<Value = Vec<u8>> {
    let packet = (
        any::<bool>(),
        string_within(3),
        vec(any::<u8>(), 0..=4),
        any::<u16>(),
    )
        .prop_map(|(flag, s, b, n)| loose_packet_bytes(flag, &s, &b, n));
    let mutated = (
        vec(packet, 0..6),
        vec((any::<prop::sample::Index>(), edgy_byte()), 0..3),
        prop_oneof![6 => Just(0isize), 1 => -3isize..=3],
    )
        .prop_map(|(packets, writes, resize)| {
            let mut bytes = packets.concat();
            if !bytes.is_empty() {
                for (at, byte) in writes {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            let len = bytes.len().saturating_add_signed(resize);
            bytes.resize(len, 0);
            bytes
        });
    prop_oneof![
        6 => mutated,
        2 => vec(edgy_byte(), 0..100),
        1 => vec(any::<u8>(), 0..100),
    ]
}

/// The property for one buffer; returns whether it was accepted.
fn check_buffer(bytes: Vec<u8>) -> Result<bool, TestCaseError> {
    let size = Loose::PACKET_SIZE;
    match Results::<Loose>::from_bytes(bytes.clone()) {
        Ok(results) => {
            prop_assert_eq!(results.as_bytes(), bytes.as_slice());
            let outputs: Vec<_> = results.iter().collect();
            // Re-encoding each output gives its packet back, field by field
            // (each field's wire form is exactly its bytes)...
            for (output, packet) in outputs.iter().zip(results.packets()) {
                let again = Loose::encode(*output);
                prop_assert_eq!(
                    (again.0, again.1, again.2, again.3),
                    (packet.0, packet.1, packet.2, packet.3)
                );
            }
            // ...and dispatching the outputs writes the very same buffer.
            let written = coordinator().dispatch_with(Loose, outputs.len(), 2, outputs)?;
            prop_assert_eq!(written.as_bytes(), bytes.as_slice());
            Ok(true)
        }
        Err(Error::BufferLength {
            task,
            len,
            packet_size,
        }) => {
            prop_assert_eq!((task, len, packet_size), ("Loose", bytes.len(), size));
            prop_assert!(len % size != 0);
            Ok(false)
        }
        Err(Error::InvalidPacket {
            task,
            index,
            field,
            field_type,
            reason,
        }) => {
            prop_assert_eq!(task, "Loose");
            prop_assert_eq!(bytes.len() % size, 0);
            prop_assert!(index < bytes.len() / size);
            prop_assert_eq!(field_type, Loose::FIELD_TYPES[field]);
            // The reason fits the field: u16 fields never fail.
            let fits = match (field, &reason) {
                (0, InvalidValue::InvalidBool { byte }) => *byte == bytes[index * size],
                (1, InvalidValue::LengthExceedsSlot { capacity: 3, .. })
                | (1, InvalidValue::InvalidUtf8 { .. })
                | (1, InvalidValue::NonZeroPadding { .. })
                | (2, InvalidValue::LengthExceedsSlot { capacity: 4, .. })
                | (2, InvalidValue::NonZeroPadding { .. }) => true,
                _ => false,
            };
            prop_assert!(fits, "field {} cannot fail with {:?}", field, reason);
            // It names the first bad packet: the ones before it are valid.
            prop_assert!(Results::<Loose>::from_bytes(bytes[..index * size].to_vec()).is_ok());
            prop_assert!(Results::<Loose>::from_bytes(
                bytes[index * size..(index + 1) * size].to_vec()
            )
            .is_err());
            Ok(false)
        }
        Err(other) => Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
    }
}

#[test]
fn from_bytes_never_panics_and_accepts_only_canonical_buffers() {
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let config = Config::with_cases(512);
    let cases = config.cases as usize;
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&any_buffer(), |bytes| {
        let counter = if check_buffer(bytes)? {
            &accepted
        } else {
            &refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    // The property is not vacuous: both paths ran many times.
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    assert!(
        accepted >= cases / 10,
        "only {accepted} of {cases} buffers accepted"
    );
    assert!(
        refused >= cases / 10,
        "only {refused} of {cases} buffers refused"
    );
}

// ---------------------------------------------------------------------------
// (d) Lossy types quantize once, within their documented error
// ---------------------------------------------------------------------------

#[task(
    packet = (Color3, Color3b16, CFrame18, CFrameF32),
    args = Vec<(Color3, Color3b16, CFrame18, CFrameF32)>,
)]
pub struct Lossy;

type LossyOutput = (Color3, Color3b16, CFrame18, CFrameF32);

#[worker(Lossy)]
fn lossy(task_id: usize, outputs: &[LossyOutput]) -> LossyOutput {
    outputs[task_id]
}

/// Half an angle code step, the most an angle moves through its code, plus
/// room for floating-point rounding.
const HALF_STEP: f64 = TAU / 65535.0 / 2.0 + 1e-9;

/// A color channel: mostly in `0..=1`, its edges, and some out of range.
fn channel() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => 0.0f32..=1.0,
        1 => select(vec![0.0f32, 1.0, 0.5, 1.0 / 255.0, 254.5 / 255.0]),
        1 => -2.0f32..3.0,
    ]
}

fn any_color() -> impl Strategy<Value = Color3> {
    (channel(), channel(), channel()).prop_map(|(r, g, b)| Color3::new(r, g, b))
}

/// A coordinate that fits an `f32`, at every scale.
fn coordinate() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        -1.0f64..1.0,
        select(vec![0.0f64, -0.0, 0.1, 1e-3, 3e38, -3e38]),
    ]
}

/// An angle in radians, within a few turns, and the edges of the code range.
fn angle() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -PI..PI,
        2 => -20.0f64..20.0,
        1 => select(vec![-PI, PI, 0.0, PI - 1e-9, -PI + 1e-9, PI / 2.0]),
    ]
}

fn any_lossy_frame() -> impl Strategy<Value = CFrame> {
    (
        (coordinate(), coordinate(), coordinate()),
        (angle(), angle(), angle()),
    )
        .prop_map(|((x, y, z), (a, b, c))| CFrame::new(Vec3::new(x, y, z), Vec3::new(a, b, c)))
}

/// `got` is `want` rounded to the nearest `f32`.
fn within_f32_rounding(got: f64, want: f64) -> bool {
    // Half an f32 ulp relative, and half the smallest subnormal absolute.
    (got - want).abs() <= want.abs() * f64::from(f32::EPSILON) / 2.0 + 1e-45
}

/// The signed difference of two angles, in `[-π, π)`.
fn angle_diff(a: f64, b: f64) -> f64 {
    (a - b + PI).rem_euclid(TAU) - PI
}

/// Encoding the decoded output gives the same wire form, field by field.
fn assert_stable(output: LossyOutput) -> TestCaseResult {
    let wire = Lossy::encode(output);
    let again = Lossy::encode(Lossy::decode(&wire));
    prop_assert_eq!(
        (again.0, again.1, again.2, again.3),
        (wire.0, wire.1, wire.2, wire.3)
    );
    Ok(())
}

proptest! {
    #[test]
    fn color3_quantizes_once_with_floor(color in any_color()) {
        let decoded = Color3::from_wire(&color.to_wire());
        for (got, want) in [(decoded.r, color.r), (decoded.g, color.g), (decoded.b, color.b)] {
            // floor(v × 255) / 255 of v clamped to 0..=1: at most one level
            // below, never above (up to f32 rounding of v × 255).
            let want = want.clamp(0.0, 1.0);
            prop_assert!((0.0..=1.0).contains(&got));
            prop_assert!(want - got < 1.0 / 255.0 + f32::EPSILON, "{} -> {}", want, got);
            prop_assert!(got - want <= f32::EPSILON, "{} -> {}", want, got);
        }
        // The decoded color encodes to the same bytes.
        prop_assert_eq!(decoded.to_wire(), color.to_wire());
    }

    #[test]
    fn color3b16_quantizes_once_with_floor(color in any_color()) {
        let packed = Color3b16::from(color);
        let decoded = Color3::from(packed);
        let channels = [
            (decoded.r, color.r, 31.0),
            (decoded.g, color.g, 63.0),
            (decoded.b, color.b, 31.0),
        ];
        for (got, want, levels) in channels {
            let want = want.clamp(0.0, 1.0);
            prop_assert!(want - got < 1.0 / levels + f32::EPSILON, "{} -> {}", want, got);
            prop_assert!(got - want <= f32::EPSILON, "{} -> {}", want, got);
        }
        prop_assert_eq!(Color3b16::from(decoded), packed);
    }

    #[test]
    fn cframe18_quantizes_once_within_half_a_step(frame in any_lossy_frame()) {
        let small = CFrame18::from(frame);
        let back = CFrame::from(small);
        for (got, want) in vec3_pairs(back.position, frame.position) {
            prop_assert!(within_f32_rounding(got, want), "{} -> {}", want, got);
        }
        for (got, want) in vec3_pairs(back.rotation, frame.rotation) {
            prop_assert!(angle_diff(got, want).abs() <= HALF_STEP, "{} -> {}", want, got);
        }
        // Coding the decoded frame again gives the same codes, except the
        // last code, π, which is the same rotation as code 0, -π.
        let again = CFrame18::from(back);
        prop_assert_eq!(
            again.position.map(f32::to_bits),
            small.position.map(f32::to_bits)
        );
        for (code, first) in again.angle_codes.into_iter().zip(small.angle_codes) {
            let same_rotation = first == u16::MAX && code == 0;
            prop_assert!(code == first || same_rotation, "{} -> {}", first, code);
        }
    }

    #[test]
    fn cframe_f32_quantizes_once_to_the_nearest_f32(frame in any_lossy_frame()) {
        let small = CFrameF32::from(frame);
        let back = CFrame::from(small);
        for (got, want) in vec3_pairs(back.position, frame.position)
            .into_iter()
            .chain(vec3_pairs(back.rotation, frame.rotation))
        {
            prop_assert!(within_f32_rounding(got, want), "{} -> {}", want, got);
        }
        let again = CFrameF32::from(back);
        prop_assert_eq!(cframe_f32_bits(again), cframe_f32_bits(small));
    }

    #[test]
    fn lossy_packets_are_stable_through_encode_and_a_dispatch(
        values in vec((any_color(), any_color(), any_lossy_frame()), 1..10),
    ) {
        let outputs: Vec<LossyOutput> = values
            .iter()
            .map(|&(c, c16, frame)| {
                (c, Color3b16::from(c16), CFrame18::from(frame), CFrameF32::from(frame))
            })
            .collect();
        for &output in &outputs {
            assert_stable(output)?;
        }
        let results = coordinator().dispatch_with(Lossy, outputs.len(), 3, outputs.clone())?;
        let packets = results.packets();
        for ((decoded, packet), &output) in results.iter().zip(packets).zip(&outputs) {
            let wire = Lossy::encode(output);
            prop_assert_eq!(
                (packet.0, packet.1, packet.2, packet.3),
                (wire.0, wire.1, wire.2, wire.3)
            );
            assert_stable(decoded)?;
            // Only Color3 changes in the trip; the others store their codes
            // and numbers as they are.
            prop_assert_eq!((decoded.1, decoded.2), (output.1, output.2));
            prop_assert_eq!(cframe_f32_bits(decoded.3), cframe_f32_bits(output.3));
        }
        // Re-dispatching the decoded outputs writes the same bytes.
        let decoded: Vec<LossyOutput> = results.iter().collect();
        let again = coordinator().dispatch_with(Lossy, decoded.len(), 2, decoded)?;
        prop_assert_eq!(again.as_bytes(), results.as_bytes());
    }

    #[test]
    fn any_lossy_wire_bytes_decode_and_encode_to_themselves(
        bytes in (0usize..4)
            .prop_flat_map(|packets| vec(any::<u8>(), packets * Lossy::PACKET_SIZE)),
    ) {
        // Every byte pattern is a valid lossy packet: the wire holds levels
        // and codes, which decode and re-encode exactly.
        let results = Results::<Lossy>::from_bytes(bytes.clone())?;
        let decoded: Vec<LossyOutput> = results.iter().collect();
        let again = coordinator().dispatch_with(Lossy, decoded.len(), 1, decoded)?;
        prop_assert_eq!(again.as_bytes(), bytes.as_slice());
    }
}

fn vec3_pairs(got: Vec3, want: Vec3) -> [(f64, f64); 3] {
    [(got.x, want.x), (got.y, want.y), (got.z, want.z)]
}

fn cframe_f32_bits(frame: CFrameF32) -> [[u32; 3]; 2] {
    [frame.position, frame.rotation].map(|v| v.map(f32::to_bits))
}
