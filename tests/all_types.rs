//! Every data type of the reference library in one packet: its size is the
//! reference's 205 bytes, its bytes are the reference table's little-endian
//! layout field by field (with our fixes: unsigned cframe18 codes, color3
//! decoded to `0..=1`, string slots zero-padded so later fields never shift),
//! and it survives a trip through a raw buffer.

use std::f64::consts::{FRAC_PI_2, PI, TAU};

use parallelizer::prelude::*;

#[task(packet = (
    u8, i8, u16, i16, u32, i32, f32, f64, bool, FixedStr<11>,
    Vec3, Vec3i16, Vec2, Vec2i16, CFrame, CFrameF32, CFrame18, Color3, Color3b16, FixedBytes<16>,
))]
pub struct AllTypes;

type Output = <AllTypes as Task>::Output;

/// The string of each task id: full, short and empty slots.
const TEXTS: [&str; 3] = ["Hello World", "Hi", ""];

/// Only the `u8` and the string depend on the task id, so packets of
/// different ids differ in those two fields and nowhere else.
#[worker(AllTypes)]
fn all_types(task_id: usize) -> Output {
    (
        task_id as u8,
        -2,
        0x1234,
        -300,
        0xDEAD_BEEF,
        -123_456,
        1.5,
        -2.25,
        true,
        FixedStr::new(TEXTS[task_id % 3]).unwrap(),
        Vec3::new(1.0, -2.0, 0.5),
        Vec3i16::new(-1, 0x0102, i16::MAX),
        Vec2::new(0.25, -0.0),
        Vec2i16::new(7, i16::MIN),
        CFrame::new(Vec3::new(10.0, 20.0, 30.0), Vec3::new(0.0, FRAC_PI_2, -1.0)),
        CFrameF32::new([1.0, -2.0, 0.5], [0.25, 0.0, -1.0]),
        // -π, 0 and a positive angle, whose code is above i16::MAX.
        CFrame18::from(CFrame::new(
            Vec3::new(1.5, -2.0, 4.0),
            Vec3::new(-PI, 0.0, 3.0),
        )),
        Color3::new(1.0, 0.5, 0.2),
        Color3b16::from(Color3::new(1.0, 0.5, 0.0)),
        FixedBytes::new(&[0xCA, 0xFE, 0x00, 0x01]).unwrap(),
    )
}

/// The packet of task id 1 (string "Hi"), written out by hand from the
/// reference's wire table.
fn expected_packet_of_id_1() -> Vec<u8> {
    fn f32s(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
    fn f64s(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    let mut bytes: Vec<u8> = Vec::new();
    bytes.push(1); // u8: the task id
    bytes.push(0xFE); // i8: -2
    bytes.extend([0x34, 0x12]); // u16: 0x1234
    bytes.extend([0xD4, 0xFE]); // i16: -300 = 0xFED4
    bytes.extend([0xEF, 0xBE, 0xAD, 0xDE]); // u32: 0xDEADBEEF
    bytes.extend([0xC0, 0x1D, 0xFE, 0xFF]); // i32: -123456 = 0xFFFE1DC0
    bytes.extend([0x00, 0x00, 0xC0, 0x3F]); // f32: 1.5
    bytes.extend(f64s(&[-2.25])); // f64
    bytes.push(1); // bool: true
    bytes.extend([2, 0, 0, 0]); // FixedStr<11>: u32 length 2...
    bytes.extend(b"Hi"); // ...the UTF-8 bytes...
    bytes.extend([0; 9]); // ...zero-padded to 11
    bytes.extend(f64s(&[1.0, -2.0, 0.5])); // Vec3
    bytes.extend([0xFF, 0xFF, 0x02, 0x01, 0xFF, 0x7F]); // Vec3i16: -1, 0x0102, 32767
    bytes.extend(f64s(&[0.25, -0.0])); // Vec2
    bytes.extend([7, 0, 0x00, 0x80]); // Vec2i16: 7, -32768
    bytes.extend(f64s(&[10.0, 20.0, 30.0, 0.0, FRAC_PI_2, -1.0])); // CFrame
    bytes.extend(f32s(&[1.0, -2.0, 0.5, 0.25, 0.0, -1.0])); // CFrameF32
    bytes.extend(f32s(&[1.5, -2.0, 4.0])); // CFrame18 position, then codes
    bytes.extend(0u16.to_le_bytes()); // round((-π + π) / 2π × 65535) = 0
    bytes.extend(32768u16.to_le_bytes()); // round(0.5 × 65535) = 32768
    bytes.extend(64058u16.to_le_bytes()); // round((3 + π) / 2π × 65535) = 64058
    bytes.extend([255, 127, 51]); // Color3: floor(v × 255) of 1.0, 0.5, 0.2
    bytes.extend((31u16 << 11 | 31 << 5).to_le_bytes()); // Color3b16: 31, 31, 0 in RGB565
    bytes.extend([4, 0]); // FixedBytes<16>: u16 length 4...
    bytes.extend([0xCA, 0xFE, 0x00, 0x01]); // ...the bytes...
    bytes.extend([0; 12]); // ...zero-padded to 16
    bytes
}

/// Field by field, as a tuple of more than 12 fields has no `PartialEq`.
fn assert_same(a: &Output, b: &Output) {
    assert_eq!(
        (a.0, a.1, a.2, a.3, a.4, a.5, a.6, a.7, a.8, a.9),
        (b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, b.8, b.9)
    );
    assert_eq!(
        (a.10, a.11, a.12, a.13, a.14, a.15, a.16, a.17, a.18, a.19),
        (b.10, b.11, b.12, b.13, b.14, b.15, b.16, b.17, b.18, b.19)
    );
}

fn dispatch(threads: usize) -> Results<AllTypes> {
    Coordinator::new(8).dispatch(AllTypes, threads, 4).unwrap()
}

#[test]
fn the_packet_is_205_bytes_as_in_the_reference() {
    assert_eq!(AllTypes::PACKET_SIZE, 205);
    assert_eq!(AllTypes::FIELD_TYPES.len(), 20);
    assert_eq!(AllTypes::FIELD_TYPES[9], "FixedStr<11>");
    assert_eq!(AllTypes::FIELD_TYPES[19], "FixedBytes<16>");
    assert_eq!(dispatch(3).as_bytes().len(), 3 * 205);
}

#[test]
fn the_bytes_are_the_reference_layout_field_by_field() {
    let expected = expected_packet_of_id_1();
    assert_eq!(expected.len(), 205);
    let results = dispatch(3);
    let packet = &results.as_bytes()[205..410];
    // Compare slot by slot first, so a failure names the field.
    let sizes = [
        1, 1, 2, 2, 4, 4, 4, 8, 1, 15, 24, 6, 16, 4, 48, 24, 18, 3, 2, 18,
    ];
    let mut offset = 0;
    for (field, size) in sizes.into_iter().enumerate() {
        assert_eq!(
            packet[offset..offset + size],
            expected[offset..offset + size],
            "field {field} ({}) at offset {offset}",
            AllTypes::FIELD_TYPES[field]
        );
        offset += size;
    }
    assert_eq!(offset, 205);
    assert_eq!(packet, expected.as_slice());
}

#[test]
fn the_packet_view_reads_the_same_fields() {
    let results = dispatch(3);
    let packet = &results.packets()[1];
    assert_eq!(packet.0, 1);
    assert_eq!(packet.4.get(), 0xDEAD_BEEF);
    assert_eq!(packet.9.len.get(), 2);
    assert_eq!(&packet.9.bytes[..3], b"Hi\0");
    assert_eq!(
        packet.16.angle_codes.map(|code| code.get()),
        [0, 32768, 64058]
    );
    assert_eq!([packet.17.r, packet.17.g, packet.17.b], [255, 127, 51]);
    assert_eq!(packet.19.len.get(), 4);
}

#[test]
fn lossy_fields_decode_as_the_fixed_reference_would() {
    let results = dispatch(2);
    let output = results.get(1).unwrap();

    // color3 decodes to 0..=1: each byte over 255.
    assert_eq!(output.17, Color3::new(1.0, 127.0 / 255.0, 51.0 / 255.0));
    assert_eq!(Color3::from(output.18), Color3::new(1.0, 31.0 / 63.0, 0.0));

    // cframe18 codes are unsigned: the positive angle comes back positive.
    assert_eq!(output.16.angle_codes, [0, 32768, 64058]);
    let frame = CFrame::from(output.16);
    assert_eq!(frame.position, Vec3::new(1.5, -2.0, 4.0));
    // Half a code step, plus room for floating-point rounding: 0 rad falls
    // halfway between two codes and comes back as π / 65535.
    let half_step = TAU / 65535.0 / 2.0 + 1e-12;
    assert_eq!(frame.rotation.x, -PI);
    assert!(frame.rotation.y.abs() <= half_step, "{}", frame.rotation.y);
    assert!(
        (frame.rotation.z - 3.0).abs() <= half_step,
        "{}",
        frame.rotation.z
    );
}

#[test]
fn a_short_string_does_not_shift_later_fields() {
    let results = dispatch(3);
    let bytes = results.as_bytes();
    let (full, short, empty) = (&bytes[..205], &bytes[205..410], &bytes[410..]);
    // The string slot is bytes 27..42: a u32 length, then 11 bytes.
    assert_eq!(&full[27..42], b"\x0b\0\0\0Hello World");
    assert_eq!(&short[27..42], b"\x02\0\0\0Hi\0\0\0\0\0\0\0\0\0");
    assert_eq!(&empty[27..42], [0; 15]);
    // Every later field sits at the same offset with the same bytes.
    assert_eq!(full[42..], short[42..]);
    assert_eq!(full[42..], empty[42..]);
    // Before the string, only the u8 (the task id) differs.
    assert_eq!(full[1..27], short[1..27]);
    assert_eq!([full[0], short[0], empty[0]], [0, 1, 2]);

    let decoded = results.get(1).unwrap();
    assert_eq!(decoded.9.as_str(), "Hi");
    assert_eq!(decoded.10, Vec3::new(1.0, -2.0, 0.5));
    assert_eq!(results.get(2).unwrap().9.as_str(), "");
}

#[test]
fn round_trip_through_a_raw_buffer() -> Result<(), Error> {
    let results = dispatch(50);
    let copy = Results::<AllTypes>::from_bytes(results.as_bytes().to_vec())?;
    assert_eq!(copy, results);
    assert_eq!(copy.len(), 50);
    for task_id in 0..50 {
        let output = copy.get(task_id).unwrap();
        // Every field comes back as the worker returned it, but the color3,
        // which the wire quantized: 0.5 is 127 / 255 now.
        let mut expected = all_types(task_id);
        expected.17 = Color3::new(1.0, 127.0 / 255.0, 51.0 / 255.0);
        assert_same(&output, &expected);
        assert_same(&output, &results.get(task_id).unwrap());
        assert_same(&AllTypes::decode(&AllTypes::encode(output)), &output);
    }
    assert!(copy.get(50).is_none());
    Ok(())
}

#[test]
fn a_corrupt_field_of_the_big_packet_is_named() {
    let mut bytes = dispatch(3).into_bytes();
    bytes[205 + 26] = 7; // the bool of packet 1
    let error = Results::<AllTypes>::from_bytes(bytes.clone()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidPacket {
                task: "AllTypes",
                index: 1,
                field: 8,
                field_type: "bool",
                ..
            }
        ),
        "{error:?}"
    );
    bytes[205 + 26] = 1;
    bytes[410 + 205 - 1] = 9; // the last padding byte of packet 2's FixedBytes<16>
    let error = Results::<AllTypes>::from_bytes(bytes).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidPacket {
                index: 2,
                field: 19,
                field_type: "FixedBytes<16>",
                ..
            }
        ),
        "{error:?}"
    );
}
