//! The merged buffer: its bytes, zero-copy views, and validated reads of raw
//! buffers.

use parallelizer::prelude::*;
use parallelizer::InvalidValue;

mod common;
use common::{Greeting, Hello};

fn hello_results(threads: usize) -> Results<Hello> {
    let coordinator = Coordinator::new(16);
    coordinator.define(
        Hello,
        Greeting {
            text: "Hello World".into(),
        },
    );
    coordinator.dispatch(Hello, threads, 8).unwrap()
}

#[test]
fn the_buffer_holds_the_reference_wire_format_in_task_order() {
    let results = hello_results(300);
    assert_eq!(Hello::PACKET_SIZE, 17);
    let bytes = results.as_bytes();
    assert_eq!(bytes.len(), 300 * 17);
    for (id, packet) in bytes.chunks(17).enumerate() {
        let number = ((id * 2) as u16).to_le_bytes();
        let mut expected = vec![number[0], number[1], 11, 0, 0, 0];
        expected.extend_from_slice(b"Hello World");
        assert_eq!(packet, expected.as_slice(), "packet {id}");
    }
}

#[test]
fn packets_are_a_view_of_the_same_bytes() {
    let results = hello_results(40);
    let packets = results.packets();
    assert_eq!(packets.len(), 40);
    assert_eq!(packets.as_ptr().cast::<u8>(), results.as_bytes().as_ptr());
    assert_eq!(packets[3].0.get(), 6);
    assert_eq!(packets[3].1.len.get(), 11);

    let address = results.as_bytes().as_ptr();
    let bytes = results.into_bytes();
    assert_eq!(
        bytes.as_ptr(),
        address,
        "into_bytes gives up the buffer without copying"
    );
}

#[test]
fn iteration_is_in_task_order_and_exact_size() {
    let results = hello_results(25);
    let mut iter = results.iter();
    assert_eq!(iter.len(), 25);
    assert_eq!(iter.next().map(|(n, _)| n), Some(0));
    assert_eq!(iter.next_back().map(|(n, _)| n), Some(48));
    assert_eq!(iter.len(), 23);
    let numbers: Vec<u16> = (&results).into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, (0..25).map(|i| i * 2).collect::<Vec<u16>>());
}

#[test]
fn from_bytes_reads_back_what_as_bytes_wrote() -> Result<(), Error> {
    let results = hello_results(100);
    let copy = Results::<Hello>::from_bytes(results.as_bytes().to_vec())?;
    assert_eq!(copy, results);
    assert_eq!(copy.get(99), results.get(99));
    assert!(Results::<Hello>::from_bytes(Vec::new())?.is_empty());
    Ok(())
}

#[test]
fn a_buffer_that_is_not_whole_packets_is_refused() {
    let mut bytes = hello_results(3).into_bytes();
    bytes.pop();
    let error = Results::<Hello>::from_bytes(bytes).unwrap_err();
    assert_eq!(
        error,
        Error::BufferLength {
            task: "Hello",
            len: 50,
            packet_size: 17
        }
    );
    assert!(error.to_string().contains("truncated"), "{error}");
}

/// Corrupts one byte of packet 2 and returns the error `from_bytes` gives.
fn corrupt(offset_in_packet: usize, byte: u8) -> Error {
    let mut bytes = hello_results(5).into_bytes();
    bytes[2 * 17 + offset_in_packet] = byte;
    Results::<Hello>::from_bytes(bytes).unwrap_err()
}

#[test]
fn string_length_beyond_the_slot_is_refused() {
    let error = corrupt(2, 12);
    assert_eq!(
        error,
        Error::InvalidPacket {
            task: "Hello",
            index: 2,
            field: 1,
            field_type: "FixedStr<11>",
            reason: InvalidValue::LengthExceedsSlot {
                len: 12,
                capacity: 11
            },
        }
    );
    assert!(error.to_string().contains("packet 2"), "{error}");
    assert!(error.to_string().contains("FixedStr<11>"), "{error}");
    // The huge lengths a corrupt prefix can claim, too.
    assert!(matches!(
        corrupt(5, 0xff),
        Error::InvalidPacket { field: 1, .. }
    ));
}

#[test]
fn strings_that_are_not_utf8_are_refused() {
    let error = corrupt(6, 0xff);
    assert!(
        matches!(
            error,
            Error::InvalidPacket {
                index: 2,
                field: 1,
                reason: InvalidValue::InvalidUtf8 { valid_up_to: 0 },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn bytes_past_a_strings_length_must_be_zero() {
    let coordinator = Coordinator::new(4);
    coordinator.define(Hello, Greeting { text: "Hi".into() });
    let mut bytes = coordinator.dispatch(Hello, 2, 1).unwrap().into_bytes();
    assert_eq!(&bytes[17 + 2..17 + 8], &[2, 0, 0, 0, b'H', b'i']);
    bytes[17 + 16] = b'!';
    let error = Results::<Hello>::from_bytes(bytes).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidPacket {
                index: 1,
                reason: InvalidValue::NonZeroPadding { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[task(packet = (bool, u8))]
pub struct Flag;

#[worker(Flag)]
fn flag(task_id: usize) -> (bool, u8) {
    (task_id % 3 == 0, task_id as u8)
}

#[test]
fn bools_must_be_zero_or_one() {
    let coordinator = Coordinator::new(4);
    let mut bytes = coordinator.dispatch(Flag, 10, 4).unwrap().into_bytes();
    assert_eq!(&bytes[..6], &[1, 0, 0, 1, 0, 2]);
    bytes[8] = 2;
    let error = Results::<Flag>::from_bytes(bytes).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidPacket {
            task: "Flag",
            index: 4,
            field: 0,
            field_type: "bool",
            reason: InvalidValue::InvalidBool { byte: 2 },
        }
    );
}

/// 24 fields: longer than any tuple std implements traits for.
#[task(packet = (
    u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8,
    u16, u16, u16, u16, u16, u16, u16, u16, u16, u16, u16, u32,
))]
pub struct Wide;

#[worker(Wide)]
#[rustfmt::skip]
#[allow(clippy::type_complexity)]
fn wide(task_id: usize) -> (
    u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8,
    u16, u16, u16, u16, u16, u16, u16, u16, u16, u16, u16, u32,
) {
    let b = task_id as u8;
    let w = task_id as u16;
    (b, b, b, b, b, b, b, b, b, b, b, b.wrapping_add(1), w, w, w, w, w, w, w, w, w, w, w + 2, task_id as u32 * 3)
}

#[test]
fn packets_of_more_than_twelve_fields_work() -> Result<(), Error> {
    assert_eq!(Wide::PACKET_SIZE, 12 + 11 * 2 + 4);
    let results = Coordinator::new(8).dispatch(Wide, 300, 7)?;
    let output = results.get(299).unwrap();
    assert_eq!(
        (output.0, output.11, output.12, output.22, output.23),
        (43, 44, 299, 301, 897)
    );
    let copy = Results::<Wide>::from_bytes(results.as_bytes().to_vec())?;
    assert_eq!(copy, results);
    Ok(())
}

#[test]
fn packets_compare_and_give_their_bytes() {
    use parallelizer::zerocopy::IntoBytes;

    let results = hello_results(4);
    let packets = results.packets();
    assert_eq!(packets[1], packets[1]);
    assert_ne!(packets[1], packets[2]);
    assert_eq!(packets[2].as_bytes(), &results.as_bytes()[2 * 17..3 * 17]);
    assert_eq!(Hello::encode(results.get(2).unwrap()), packets[2]);
}
