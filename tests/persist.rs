//! Results files: round trips, schema fingerprints, and every way a file can
//! be refused (another schema, truncation, corrupt headers, schemas and
//! packets), in the current format (2) and in format 1, which stays readable.

use std::io::{self, Read, Write};

use parallelizer::persist::{
    FormatVersion, CHUNK_BYTES, FORMAT_VERSION, HEADER_SIZE, MAGIC, MAX_SCHEMA_SIZE, TRAILER_SIZE,
};
use parallelizer::prelude::*;
use parallelizer::{InvalidValue, PacketWriter, Schema};

/// Not `common::Hello`: the files here are written without defining any
/// memory, and each packet's text differs (`id 42`), which the checks read
/// back. The name stays `Hello`, which the errors name.
#[task(packet = (u16, FixedStr<11>))]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize) -> (u16, FixedStr<11>) {
    let text = format!("id {task_id}");
    ((task_id * 3) as u16, FixedStr::new(&text).unwrap())
}

/// Hello's packet under another name.
#[task(packet = (u16, FixedStr<11>))]
pub struct Renamed;

/// Hello's packet, its types named by their paths.
#[task(packet = (::core::primitive::u16, parallelizer::FixedStr<11>))]
pub struct Qualified;

/// Hello's fields in the other order.
#[task(packet = (FixedStr<11>, u16))]
pub struct Flipped;

/// Hello with a longer string.
#[task(packet = (u16, FixedStr<12>))]
pub struct Longer;

/// Same size as Hello's first field, another type.
#[task(packet = (i16, FixedStr<11>))]
pub struct Signed;

const PACKET: usize = 17;

/// Where the schema ends in a file of format 2: after the header, the
/// schema's size and the schema.
fn start() -> usize {
    HEADER_SIZE + 4 + Hello::schema().canonical_encoding().len()
}

/// Where a small file's packets start in format 2: after the schema, the
/// header's checksum, and the first chunk's count. The chunk's checksum
/// follows them.
fn packets_at() -> usize {
    start() + 4 + 4
}

/// The CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) of `bytes`, as
/// docs/FORMAT.md defines it, bit by bit.
fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |crc, _| {
            (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg())
        })
    })
}

/// Recomputes every checksum of a format-2 Hello file of one chunk (or
/// none), so that a test reaches the checks behind them.
fn reseal(file: &mut [u8]) {
    let end = start();
    let checksum = crc32c(&file[..end]);
    file[end..end + 4].copy_from_slice(&checksum.to_le_bytes());
    let chunk = end + 4;
    let n = u32::from_le_bytes(file[chunk..chunk + 4].try_into().unwrap());
    let mut digest = Vec::new();
    let mut trailer = chunk;
    if n > 0 {
        let len = n as usize * PACKET;
        let mut covered = 0u64.to_le_bytes().to_vec();
        covered.extend_from_slice(&n.to_le_bytes());
        covered.extend_from_slice(&file[chunk + 4..chunk + 4 + len]);
        let checksum = crc32c(&covered);
        file[chunk + 4 + len..chunk + 8 + len].copy_from_slice(&checksum.to_le_bytes());
        digest.extend_from_slice(&checksum.to_le_bytes());
        trailer = chunk + 8 + len;
    }
    file[trailer + 12..trailer + 16].copy_from_slice(&crc32c(&digest).to_le_bytes());
    let checksum = crc32c(&file[trailer..trailer + 16]);
    file[trailer + 16..trailer + 20].copy_from_slice(&checksum.to_le_bytes());
}

fn hello_results(threads: usize) -> Results<Hello> {
    Coordinator::new(4).dispatch(Hello, threads, 7).unwrap()
}

fn hello_file(threads: usize) -> Vec<u8> {
    let mut file = Vec::new();
    hello_results(threads).write_to(&mut file).unwrap();
    file
}

/// The same file in format version 1.
fn hello_file_v1(threads: usize) -> Vec<u8> {
    let mut file = Vec::new();
    hello_results(threads)
        .write_to_format(&mut file, FormatVersion::V1)
        .unwrap();
    file
}

fn read_hello(file: &[u8]) -> Result<Results<Hello>, Error> {
    Results::<Hello>::read_from(file)
}

// Round trips.

#[test]
fn results_round_trip_through_a_vec() -> Result<(), Error> {
    let results = hello_results(100);
    let mut file = Vec::new();
    results.write_to(&mut file)?;
    assert_eq!(file.len(), packets_at() + 100 * PACKET + 4 + TRAILER_SIZE);
    assert_eq!(
        &file[packets_at()..file.len() - 4 - TRAILER_SIZE],
        results.as_bytes()
    );
    let read = read_hello(&file)?;
    assert_eq!(read, results);
    assert_eq!(read.get(42), Some((126, FixedStr::new("id 42")?)));
    // Format 1: the header, then the packets.
    let file = hello_file_v1(100);
    assert_eq!(file.len(), HEADER_SIZE + 100 * PACKET);
    assert_eq!(&file[HEADER_SIZE..], results.as_bytes());
    assert_eq!(read_hello(&file)?, results);
    Ok(())
}

#[test]
fn results_round_trip_through_a_file() -> Result<(), Box<dyn std::error::Error>> {
    let results = hello_results(1000);
    let path = std::env::temp_dir().join(format!(
        "parallelizer-persist-{}-round-trip.prlz",
        std::process::id()
    ));
    let written = (|| {
        results.write_to(io::BufWriter::new(std::fs::File::create(&path)?))?;
        let read = Results::<Hello>::read_from(io::BufReader::new(std::fs::File::open(&path)?))?;
        let len = std::fs::metadata(&path)?.len();
        Ok::<_, Box<dyn std::error::Error>>((read, len))
    })();
    std::fs::remove_file(&path)?;
    let (read, len) = written?;
    assert_eq!(
        len,
        (packets_at() + 1000 * PACKET + 4 + TRAILER_SIZE) as u64
    );
    assert_eq!(read, results);
    Ok(())
}

#[test]
fn empty_results_round_trip() -> Result<(), Error> {
    let mut file = Vec::new();
    Results::<Hello>::new().write_to(&mut file)?;
    assert_eq!(file.len(), start() + 4 + TRAILER_SIZE);
    assert!(read_hello(&file)?.is_empty());
    let mut file = Vec::new();
    Results::<Hello>::new().write_to_format(&mut file, FormatVersion::V1)?;
    assert_eq!(file.len(), HEADER_SIZE);
    assert!(read_hello(&file)?.is_empty());
    Ok(())
}

#[test]
fn the_header_is_laid_out_as_documented() {
    let file = hello_file(3);
    let schema = Hello::schema().canonical_encoding();
    let mut expected = Vec::new();
    expected.extend_from_slice(b"PRLZ");
    expected.extend_from_slice(&[2, 0]); // format version
    expected.extend_from_slice(&[0, 0]); // reserved
    expected.extend_from_slice(&Hello::schema().fingerprint().to_le_bytes());
    expected.extend_from_slice(&[17, 0, 0, 0]); // packet size
    expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]); // count
    expected.extend_from_slice(&(schema.len() as u32).to_le_bytes()); // schema size
    expected.extend_from_slice(&schema);
    assert_eq!(&file[..start()], expected.as_slice());
    assert_eq!((MAGIC, FORMAT_VERSION, HEADER_SIZE), (*b"PRLZ", 2, 28));

    // Format 1: no schema, and the fingerprint of the declared type names.
    let file = hello_file_v1(3);
    assert_eq!(&file[4..6], [1, 0]);
    assert_eq!(&file[8..16], 0x0338_4ab8_37a7_1ea4u64.to_le_bytes());
    assert_eq!(&file[16..HEADER_SIZE], &expected[16..HEADER_SIZE]);
}

#[test]
fn files_can_follow_each_other_in_one_stream() -> Result<(), Error> {
    let mut stream = hello_file(5);
    stream.extend_from_slice(&hello_file_v1(9));
    stream.extend_from_slice(&hello_file(2));
    let mut reader = stream.as_slice();
    assert_eq!(Results::<Hello>::read_from(&mut reader)?.len(), 5);
    assert_eq!(Results::<Hello>::read_from(&mut reader)?.len(), 9);
    assert_eq!(Results::<Hello>::read_from(&mut reader)?.len(), 2);
    assert!(reader.is_empty());
    Ok(())
}

/// Reads one byte at a time and is interrupted before every read.
struct Trickle<'a> {
    bytes: &'a [u8],
    interrupt: bool,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let len = buffer.len().min(self.bytes.len()).min(1);
        buffer[..len].copy_from_slice(&self.bytes[..len]);
        self.bytes = &self.bytes[len..];
        Ok(len)
    }
}

#[test]
fn short_and_interrupted_reads_are_retried() -> Result<(), Error> {
    let file = hello_file(20);
    let read = Results::<Hello>::read_from(Trickle {
        bytes: &file,
        interrupt: false,
    })?;
    assert_eq!(read, hello_results(20));
    Ok(())
}

// Schemas and fingerprints.

#[test]
fn a_schema_lists_names_types_offsets_and_sizes() {
    let schema = Hello::schema();
    assert_eq!(schema.task(), "Hello");
    assert_eq!(schema.packet_size(), 17);
    let fields = schema
        .fields()
        .iter()
        .map(|f| (f.name(), f.type_name(), f.offset(), f.size()))
        .collect::<Vec<_>>();
    assert_eq!(fields, [("0", "u16", 0, 2), ("1", "FixedStr<11>", 2, 15)]);
    assert_eq!(Hello::FIELD_SIZES, &[2, 15]);
    assert_eq!(Schema::of::<Hello>(), schema);
    assert_eq!(schema.type_name(), "(u16, FixedStr<11>)");
}

#[task(packet = (bool, Vec3, CFrame18, Color3, FixedBytes<4>, f64))]
pub struct Mixed;

#[test]
fn offsets_are_the_sums_of_the_sizes_before() {
    let schema = Mixed::schema();
    let layout = schema
        .fields()
        .iter()
        .map(|f| (f.offset(), f.size()))
        .collect::<Vec<_>>();
    assert_eq!(
        layout,
        [(0, 1), (1, 24), (25, 18), (43, 3), (46, 6), (52, 8)]
    );
    assert_eq!(schema.packet_size(), 60);
    assert_eq!(Mixed::PACKET_SIZE, 60);
}

/// The fingerprint in the header of a format-1 file of `T`.
fn v1_fingerprint<T: Task>() -> u64 {
    let mut file = Vec::new();
    Results::<T>::new()
        .write_to_format(&mut file, FormatVersion::V1)
        .unwrap();
    u64::from_le_bytes(file[8..16].try_into().unwrap())
}

#[test]
fn fingerprints_are_stable() {
    // Computed once from the definition in docs/FORMAT.md: a change here
    // means files written before can no longer be read.
    assert_eq!(Hello::schema().fingerprint(), 0x058d_b623_c69e_e6c2);
    assert_eq!(Flipped::schema().fingerprint(), 0x2029_16ec_4f88_bf56);
    assert_eq!(Mixed::schema().fingerprint(), 0xba97_82b1_920d_1255);
    // Format 1's fingerprints, of the declared type names, are those files
    // of format 1 carry, as before format 2.
    assert_eq!(v1_fingerprint::<Hello>(), 0x0338_4ab8_37a7_1ea4);
    assert_eq!(v1_fingerprint::<Flipped>(), 0x7e7c_c84a_59d1_f8e0);
    assert_eq!(v1_fingerprint::<Mixed>(), 0x35a6_abd2_5606_cb98);
}

#[test]
fn task_names_and_paths_do_not_change_the_fingerprint() {
    let hello = Hello::schema().fingerprint();
    assert_eq!(Renamed::schema().fingerprint(), hello);
    assert_eq!(Qualified::schema().fingerprint(), hello);
    assert_eq!(
        Qualified::schema().fields()[1].type_name(),
        "FixedStr<11>",
        "the schema shows the type as it names itself"
    );
    assert_eq!(v1_fingerprint::<Qualified>(), v1_fingerprint::<Hello>());
}

/// Hello's packet, its types spelled otherwise.
type Text = FixedStr<{ 5 + 6 }>;

#[task(packet = (u16, Text))]
pub struct Aliased;

#[test]
fn aliases_and_const_expressions_give_the_same_schema() -> Result<(), Error> {
    let mut aliased = Aliased::schema();
    assert_eq!(aliased.fingerprint(), Hello::schema().fingerprint());
    assert_eq!(aliased.fields(), Hello::schema().fields());
    assert_eq!(aliased.task(), "Aliased");
    // Files of format 2 are read across the spellings.
    let results = Results::<Aliased>::read_from(hello_file(4).as_slice())?;
    assert_eq!(results.get(3), Some((9, FixedStr::new("id 3")?)));
    aliased = Schema::of::<Aliased>();
    assert_eq!(aliased.fields()[1].type_name(), "FixedStr<11>");
    // Format 1 hashed the spelling, so its files are not.
    assert!(matches!(
        Results::<Aliased>::read_from(hello_file_v1(4).as_slice()),
        Err(Error::SchemaMismatch { .. })
    ));
    Ok(())
}

#[test]
fn field_order_types_and_sizes_change_the_fingerprint() {
    let fingerprints = [
        Hello::schema().fingerprint(),
        Flipped::schema().fingerprint(),
        Longer::schema().fingerprint(),
        Signed::schema().fingerprint(),
        Mixed::schema().fingerprint(),
    ];
    for (i, a) in fingerprints.iter().enumerate() {
        for b in &fingerprints[i + 1..] {
            assert_ne!(a, b, "{fingerprints:x?}");
        }
    }
}

// Files of another schema.

#[test]
fn a_file_of_another_schema_is_refused_naming_the_first_field_that_differs() {
    let file = hello_file(4);
    let error = Results::<Flipped>::read_from(file.as_slice()).unwrap_err();
    assert_eq!(
        error,
        Error::SchemaFieldMismatch {
            task: "Flipped",
            field: "0".into(),
            found: "`0`: u16 (2 bytes)".into(),
            expected: "`0`: a string of at most 11 bytes (15 bytes)".into(),
        }
    );
    let message = error.to_string();
    assert!(message.contains("different schema"), "{message}");
    assert!(
        message.contains(
            "at field `0` the file has `0`: u16 (2 bytes), but task `Flipped` has `0`: a \
             string of at most 11 bytes (15 bytes)"
        ),
        "{message}"
    );
    let error = Results::<Longer>::read_from(file.as_slice()).unwrap_err();
    assert!(
        matches!(&error, Error::SchemaFieldMismatch { field, .. } if field == "1"),
        "{error:?}"
    );
    let error = Results::<Signed>::read_from(file.as_slice()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the file has `0`: u16 (2 bytes), but task `Signed` has `0`: i16 (2 bytes)"),
        "{error}"
    );
}

#[test]
fn a_file_of_format_1_and_another_schema_is_refused() {
    let file = hello_file_v1(4);
    let error = Results::<Flipped>::read_from(file.as_slice()).unwrap_err();
    let (expected, found) = (v1_fingerprint::<Flipped>(), v1_fingerprint::<Hello>());
    assert_eq!(
        error,
        Error::SchemaMismatch {
            task: "Flipped",
            expected,
            found
        }
    );
    let message = error.to_string();
    assert!(message.contains("different schema"), "{message}");
    assert!(message.contains("`Flipped`"), "{message}");
    assert!(message.contains(&format!("{expected:#018x}")), "{message}");
    assert!(message.contains(&format!("{found:#018x}")), "{message}");

    for error in [
        Results::<Longer>::read_from(file.as_slice()).unwrap_err(),
        Results::<Signed>::read_from(file.as_slice()).unwrap_err(),
    ] {
        assert!(matches!(error, Error::SchemaMismatch { .. }), "{error:?}");
    }
}

#[test]
fn the_same_packet_under_another_name_is_accepted() -> Result<(), Error> {
    let results = hello_results(10);
    let mut file = Vec::new();
    results.write_to(&mut file)?;
    let renamed = Results::<Renamed>::read_from(file.as_slice())?;
    assert_eq!(renamed.as_bytes(), results.as_bytes());
    let qualified = Results::<Qualified>::read_from(file.as_slice())?;
    assert_eq!(qualified.get(9), results.get(9));
    let file = hello_file_v1(10);
    assert_eq!(Results::<Renamed>::read_from(file.as_slice())?, renamed);
    assert_eq!(Results::<Qualified>::read_from(file.as_slice())?, qualified);
    Ok(())
}

// Truncated and corrupt files.

#[test]
fn a_truncated_header_is_refused() {
    let file = hello_file(2);
    for cut in [0, 1, 3, 4, 8, 16, 27] {
        let error = read_hello(&file[..cut]).unwrap_err();
        assert_eq!(
            error,
            Error::TruncatedHeader {
                task: "Hello",
                found: cut
            },
            "cut at {cut}"
        );
    }
    let message = read_hello(&file[..0]).unwrap_err().to_string();
    assert!(message.contains("empty"), "{message}");
    let message = read_hello(&file[..10]).unwrap_err().to_string();
    assert!(message.contains("ends after 10 bytes"), "{message}");
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn truncated_packets_are_refused() {
    for (file, start) in [(hello_file_v1(10), HEADER_SIZE)] {
        for cut in [start, start + 1, start + PACKET, file.len() - 1] {
            let error = read_hello(&file[..cut]).unwrap_err();
            assert_eq!(
                error,
                Error::TruncatedPackets {
                    task: "Hello",
                    expected_bytes: 170,
                    found_bytes: (cut - start) as u64,
                    packet_size: PACKET,
                },
                "cut at {cut}"
            );
        }
    }
    let file = hello_file_v1(10);
    let message = read_hello(&file[..file.len() - 1]).unwrap_err().to_string();
    assert!(
        message.contains("declares 10 packets (170 bytes) but ends after 169 bytes"),
        "{message}"
    );
    assert!(message.contains("9 whole packets"), "{message}");
    // Format 2: the part the file ends in is named.
    let file = hello_file(10);
    for (cut, part, offset) in [
        (start() + 4, "the trailer", start() + 4),
        (start() + 5, "chunk 0", start() + 4),
        (packets_at() + PACKET, "chunk 0", start() + 4),
        (
            file.len() - TRAILER_SIZE,
            "the trailer",
            file.len() - TRAILER_SIZE,
        ),
        (file.len() - 1, "the trailer", file.len() - TRAILER_SIZE),
    ] {
        let error = read_hello(&file[..cut]).unwrap_err();
        assert_eq!(
            error,
            Error::TruncatedFile {
                task: "Hello",
                part: part.into(),
                offset: offset as u64,
                found: cut as u64,
            },
            "cut at {cut}"
        );
        assert!(error.to_string().contains("truncated"), "{error}");
    }
}

/// A file of 3 packets with `bytes` at `at`, its checksums made right again.
fn patched(at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut file = hello_file(3);
    file[at..at + bytes.len()].copy_from_slice(bytes);
    reseal(&mut file);
    file
}

/// As [`patched`], in format 1.
fn patched_v1(at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut file = hello_file_v1(3);
    file[at..at + bytes.len()].copy_from_slice(bytes);
    file
}

#[test]
fn a_bad_magic_is_refused() {
    let error = read_hello(&patched(0, b"PK\x03\x04")).unwrap_err();
    assert_eq!(
        error,
        Error::NotAResultsFile {
            task: "Hello",
            found: b"PK\x03\x04".to_vec()
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("not a parallelizer results file"),
        "{message}"
    );
    assert!(message.contains(r#"b"PK\x03\x04""#), "{message}");
    // Even when there is less than a magic.
    assert!(matches!(
        read_hello(b"{\n"),
        Err(Error::NotAResultsFile { .. })
    ));
}

#[test]
fn an_unknown_version_is_refused() {
    let error = read_hello(&patched(4, &3u16.to_le_bytes())).unwrap_err();
    assert_eq!(
        error,
        Error::UnsupportedFormatVersion {
            task: "Hello",
            found: 3,
            supported: 2
        }
    );
    assert!(error.to_string().contains("version 3"), "{error}");
    assert!(error.to_string().contains("versions 1 to 2"), "{error}");
    let error = read_hello(&patched(4, &[0, 0])).unwrap_err();
    assert!(matches!(
        error,
        Error::UnsupportedFormatVersion { found: 0, .. }
    ));
}

#[test]
fn nonzero_reserved_bits_are_refused() {
    for reserved in [[1, 0], [0, 0x80]] {
        let error = read_hello(&patched(6, &reserved)).unwrap_err();
        assert_eq!(
            error,
            Error::ReservedHeaderBits {
                task: "Hello",
                found: u16::from_le_bytes(reserved)
            }
        );
    }
}

#[test]
fn a_wrong_packet_size_is_refused() {
    let error = read_hello(&patched(16, &18u32.to_le_bytes())).unwrap_err();
    assert_eq!(
        error,
        Error::PacketSizeMismatch {
            task: "Hello",
            expected: 17,
            found: 18
        }
    );
    assert!(error.to_string().contains("corrupt"), "{error}");
}

#[test]
fn a_count_that_overflows_is_refused() {
    // In format 2, u64::MAX is the count of a streamed file: the trailer's.
    assert_eq!(
        read_hello(&patched(20, &u64::MAX.to_le_bytes()))
            .unwrap()
            .len(),
        3
    );
    let error = read_hello(&patched_v1(20, &u64::MAX.to_le_bytes())).unwrap_err();
    assert_eq!(
        error,
        Error::FileTooLarge {
            task: "Hello",
            count: u64::MAX,
            packet_size: 17
        }
    );
    let error = read_hello(&patched(20, &(u64::MAX / 17 + 1).to_le_bytes())).unwrap_err();
    assert!(matches!(error, Error::FileTooLarge { .. }), "{error:?}");
}

#[test]
fn a_huge_count_is_not_trusted_for_allocation() {
    // 2^40 packets of 17 bytes (17 TiB) fit in u64 (and a 64-bit usize), but
    // the file holds 3: the reader reads what is there and reports the rest.
    let count = 1u64 << 40;
    let error = read_hello(&patched_v1(20, &count.to_le_bytes())).unwrap_err();
    if cfg!(target_pointer_width = "64") {
        assert_eq!(
            error,
            Error::TruncatedPackets {
                task: "Hello",
                expected_bytes: count * 17,
                found_bytes: 3 * 17,
                packet_size: 17,
            }
        );
    } else {
        assert!(matches!(error, Error::FileTooLarge { .. }), "{error:?}");
    }
    // Format 2 reads the chunks there, then finds the trailer's count is not
    // the header's.
    let error = read_hello(&patched(20, &count.to_le_bytes())).unwrap_err();
    if cfg!(target_pointer_width = "64") {
        assert!(
            matches!(&error, Error::CorruptFile { part, reason, .. }
                if part == "the trailer" && reason.contains("header declares 1099511627776")),
            "{error:?}"
        );
    }
}

#[test]
fn corrupt_packets_are_refused_by_validation() {
    // Packet 1's string length (at offset 2 of the packet) beyond its slot.
    let error = read_hello(&patched(packets_at() + PACKET + 2, &[12])).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidPacket {
            task: "Hello",
            index: 1,
            field: 1,
            field_type: "FixedStr<11>",
            reason: InvalidValue::LengthExceedsSlot {
                len: 12,
                capacity: 11
            },
        }
    );
    // Packet 2's string bytes not UTF-8.
    let error = read_hello(&patched(packets_at() + 2 * PACKET + 6, &[0xff])).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidPacket {
                index: 2,
                reason: InvalidValue::InvalidUtf8 { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

// PacketWriter.

#[test]
fn chunked_writes_give_the_same_file_as_write_to() -> Result<(), Error> {
    let results = hello_results(50);
    let mut writer = PacketWriter::<Hello, _>::new(Vec::new(), 50)?;
    for chunk in results.packets().chunks(7) {
        writer.write(chunk)?;
    }
    writer.write(&[])?;
    assert_eq!((writer.written(), writer.declared()), (50, 50));
    let file = writer.finish()?;
    assert_eq!(file, hello_file(50));
    Ok(())
}

#[test]
fn writing_more_than_declared_is_refused() -> Result<(), Error> {
    let results = hello_results(5);
    let mut writer = PacketWriter::<Hello, _>::new(Vec::new(), 4)?;
    writer.write(&results.packets()[..3])?;
    let error = writer.write(&results.packets()[3..]).unwrap_err();
    assert_eq!(
        error,
        Error::PacketCount {
            task: "Hello",
            declared: 4,
            written: 5
        }
    );
    assert!(error.to_string().contains("would make 5"), "{error}");
    // Nothing was written: the writer goes on.
    assert_eq!(writer.written(), 3);
    writer.write(&results.packets()[3..4])?;
    let file = writer.finish()?;
    assert_eq!(
        read_hello(&file)?.as_bytes(),
        &results.as_bytes()[..4 * PACKET]
    );
    Ok(())
}

#[test]
fn finishing_short_is_refused() -> Result<(), Error> {
    let results = hello_results(5);
    let mut writer = PacketWriter::<Hello, _>::new(Vec::new(), 5)?;
    writer.write(&results.packets()[..2])?;
    let error = writer.finish().unwrap_err();
    assert_eq!(
        error,
        Error::PacketCount {
            task: "Hello",
            declared: 5,
            written: 2
        }
    );
    assert!(error.to_string().contains("after 2 of its 5"), "{error}");
    Ok(())
}

/// Accepts `room` bytes, then fails.
#[derive(Debug)]
struct Full {
    room: usize,
}

impl Write for Full {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "disk full"));
        }
        let len = buffer.len().min(self.room);
        self.room -= len;
        Ok(len)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_writer_stays_failed() -> Result<(), Error> {
    let error = hello_results(3).write_to(Full { room: 10 }).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::WriteFailed { task: "Hello", kind: io::ErrorKind::WriteZero, message }
                if message == "disk full"
        ),
        "{error:?}"
    );

    let results = hello_results(3);
    let room = HEADER_SIZE + 12;
    let mut writer = PacketWriter::<Hello, _>::with_format(Full { room }, 3, FormatVersion::V1)?;
    let first = writer.write(results.packets()).unwrap_err();
    assert!(matches!(first, Error::WriteFailed { .. }), "{first:?}");
    assert_eq!(writer.write(&[]).unwrap_err(), first);
    assert_eq!(writer.written(), 0);
    assert_eq!(writer.finish().unwrap_err(), first);
    // Format 2 gathers small writes into a chunk: the chunk is written, and
    // fails, at the latest when the writer finishes.
    let mut writer = PacketWriter::<Hello, _>::new(Full { room: start() + 12 }, 3)?;
    writer.write(results.packets())?;
    let error = writer.finish().unwrap_err();
    assert!(matches!(error, Error::WriteFailed { .. }), "{error:?}");
    Ok(())
}

#[test]
fn a_writer_that_fails_inside_many_whole_chunks_fails_the_write() {
    // 6 MiB in one write: its chunks' checksums are taken on other threads
    // while they are written. The writer fails in the third chunk; the
    // checksum threads must stop, not hang, and the error must come back.
    let count = 6 * CHUNK_BYTES / Hello::PACKET_SIZE;
    let results = hello_results(count);
    for room in [0, start() + 10, 2 * CHUNK_BYTES + 5] {
        let error = results.write_to(Full { room }).unwrap_err();
        assert!(
            matches!(
                &error,
                Error::WriteFailed {
                    kind: io::ErrorKind::WriteZero,
                    ..
                }
            ),
            "room {room}: {error:?}"
        );
    }
}

/// Gives `good` bytes, then fails.
struct Broken<'a> {
    good: &'a [u8],
}

impl Read for Broken<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.good.is_empty() {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        }
        self.good.read(buffer)
    }
}

#[test]
fn reader_errors_are_reported() {
    let file = hello_file(3);
    for good in [0, 20, HEADER_SIZE + 5] {
        let error = Results::<Hello>::read_from(Broken {
            good: &file[..good],
        })
        .unwrap_err();
        assert_eq!(
            error,
            Error::ReadFailed {
                task: "Hello",
                kind: io::ErrorKind::ConnectionReset,
                message: "reset".into()
            }
        );
        assert!(error.to_string().contains("could not read"), "{error}");
    }
}

/// The example file of format 1 in docs/FORMAT.md.
#[task(packet = (u16, bool, FixedStr<3>))]
pub struct Tiny;

#[test]
fn the_format_doc_example_is_exact() -> Result<(), Error> {
    assert_eq!(v1_fingerprint::<Tiny>(), 0x3ec8_af0d_bae8_af92);
    let packets = [
        Tiny::encode((7, true, FixedStr::new("hi")?)),
        Tiny::encode((513, false, FixedStr::new("abc")?)),
    ];
    let mut writer = PacketWriter::<Tiny, _>::with_format(Vec::new(), 2, FormatVersion::V1)?;
    writer.write(&packets)?;
    let file = writer.finish()?;
    #[rustfmt::skip]
    let expected: [u8; 48] = [
        0x50, 0x52, 0x4c, 0x5a, 0x01, 0x00, 0x00, 0x00, 0x92, 0xaf, 0xe8, 0xba, 0x0d, 0xaf, 0xc8, 0x3e,
        0x0a, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 0x02,
        0x00, 0x00, 0x00, 0x68, 0x69, 0x00, 0x01, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x61, 0x62, 0x63,
    ];
    assert_eq!(file, expected);
    let results = Results::<Tiny>::read_from(file.as_slice())?;
    assert_eq!(results.get(1), Some((513, false, FixedStr::new("abc")?)));
    Ok(())
}

// Format 2: the schema after the header.

fn hello_schema_size() -> usize {
    Hello::schema().canonical_encoding().len()
}

#[test]
fn a_truncated_schema_is_refused() {
    let file = hello_file(2);
    for cut in [HEADER_SIZE, HEADER_SIZE + 3] {
        assert_eq!(
            read_hello(&file[..cut]).unwrap_err(),
            Error::TruncatedSchema {
                task: "Hello",
                expected: 4,
                found: cut - HEADER_SIZE
            },
            "cut at {cut}"
        );
    }
    for cut in [HEADER_SIZE + 4, start() - 1] {
        let error = read_hello(&file[..cut]).unwrap_err();
        assert_eq!(
            error,
            Error::TruncatedSchema {
                task: "Hello",
                expected: 4 + hello_schema_size(),
                found: cut - HEADER_SIZE
            },
            "cut at {cut}"
        );
        assert!(error.to_string().contains("truncated"), "{error}");
    }
}

#[test]
fn a_corrupt_schema_is_refused() {
    // A size beyond any schema's.
    let file = patched(HEADER_SIZE, &(MAX_SCHEMA_SIZE as u32 + 1).to_le_bytes());
    let error = read_hello(&file).unwrap_err();
    assert!(
        matches!(&error, Error::CorruptSchema { reason, .. } if reason.contains("more than")),
        "{error:?}"
    );
    // A schema that is not the one the header's fingerprint hashes.
    let error = read_hello(&patched(HEADER_SIZE + 4 + 9, b"x")).unwrap_err();
    assert!(
        matches!(&error, Error::CorruptSchema { reason, .. } if reason.contains("fingerprint")),
        "{error:?}"
    );
    assert!(error.to_string().contains("corrupt"), "{error}");
    // Bytes that hash right but are no schema: a writer's bug, never trusted.
    let mut file = Vec::new();
    file.extend_from_slice(&hello_file(0)[..HEADER_SIZE]);
    let junk = b"not a schema at all".to_vec();
    let fingerprint = fnv1a(&junk);
    file[8..16].copy_from_slice(&fingerprint.to_le_bytes());
    file.extend_from_slice(&(junk.len() as u32).to_le_bytes());
    file.extend_from_slice(&junk);
    let checksum = crc32c(&file);
    file.extend_from_slice(&checksum.to_le_bytes());
    let error = read_hello(&file).unwrap_err();
    assert!(matches!(error, Error::CorruptSchema { .. }), "{error:?}");
}

/// The FNV-1a 64 hash, as docs/FORMAT.md defines it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn the_fingerprint_is_the_hash_of_the_stored_schema() {
    let file = hello_file(1);
    let stored = &file[HEADER_SIZE + 4..start()];
    assert_eq!(stored, Hello::schema().canonical_encoding().as_slice());
    assert_eq!(
        u64::from_le_bytes(file[8..16].try_into().unwrap()),
        fnv1a(stored)
    );
    assert_eq!(Hello::schema().fingerprint(), fnv1a(stored));
}

#[derive(WireType, Clone, Copy, Debug, PartialEq)]
#[repr(u8)]
pub enum Side {
    Left,
    Right,
}

/// The example of format 2 in docs/FORMAT.md.
#[derive(WireType, Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    pub id: u16,
    pub side: Side,
}

#[task(packet = Probe)]
pub struct Probes;

#[test]
fn the_format_2_doc_example_is_exact() -> Result<(), Error> {
    #[rustfmt::skip]
    let schema: [u8; 151] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x69, 0x64, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x73, 0x69, 0x64, 0x65, 0x0e, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4c, 0x65,
        0x66, 0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x52, 0x69, 0x67, 0x68, 0x74, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let encoding = Probes::schema().canonical_encoding();
    assert_eq!(encoding, schema);
    assert_eq!(Probes::schema().fingerprint(), 0xc779_1730_31e3_d361);
    assert_eq!(fnv1a(&schema), 0xc779_1730_31e3_d361);

    let mut writer = PacketWriter::<Probes, _>::new(Vec::new(), 2)?;
    writer.write(&[
        Probes::encode(Probe {
            id: 7,
            side: Side::Right,
        }),
        Probes::encode(Probe {
            id: 513,
            side: Side::Left,
        }),
    ])?;
    let file = writer.finish()?;
    let mut expected = Vec::new();
    expected.extend_from_slice(b"PRLZ");
    expected.extend_from_slice(&[0x02, 0x00, 0x00, 0x00]);
    expected.extend_from_slice(&[0x61, 0xd3, 0xe3, 0x31, 0x30, 0x17, 0x79, 0xc7]);
    expected.extend_from_slice(&[0x03, 0x00, 0x00, 0x00]);
    expected.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0x97, 0x00, 0x00, 0x00]);
    expected.extend_from_slice(&schema);
    expected.extend_from_slice(&[0x25, 0xe0, 0x28, 0xc3]); // header checksum
    expected.extend_from_slice(&[0x02, 0x00, 0x00, 0x00]); // chunk 0: 2 packets
    expected.extend_from_slice(&[0x07, 0x00, 0x01, 0x01, 0x02, 0x00]);
    expected.extend_from_slice(&[0x1a, 0xb8, 0x6d, 0x83]); // its checksum
    expected.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // the trailer's marker
    expected.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0]); // count 2
    expected.extend_from_slice(&[0x1c, 0xa2, 0xb6, 0x1b]); // chunk digest
    expected.extend_from_slice(&[0xe4, 0xda, 0x08, 0x3a]); // trailer checksum
    expected.extend_from_slice(b"ZLRP");
    assert_eq!(file, expected);
    assert_eq!(file.len(), 225);
    // The checksums are CRC-32C as docs/FORMAT.md defines them.
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    assert_eq!(crc32c(&file[..183]), 0xc328_e025);
    let mut chunk = 0u64.to_le_bytes().to_vec();
    chunk.extend_from_slice(&2u32.to_le_bytes());
    chunk.extend_from_slice(&file[191..197]);
    assert_eq!(crc32c(&chunk), 0x836d_b81a);
    assert_eq!(crc32c(&0x836d_b81au32.to_le_bytes()), 0x1bb6_a21c);
    assert_eq!(crc32c(&file[201..217]), 0x3a08_dae4);
    // Its hex dump in docs/FORMAT.md, byte for byte.
    let doc = include_str!("../docs/FORMAT.md");
    let dump = doc
        .split("```text\n")
        .find(|block| block.starts_with("00000000  50 52 4c 5a 02"))
        .expect("the hex dump of the complete file")
        .split("```")
        .next()
        .unwrap();
    let mut from_doc = Vec::new();
    for line in dump.lines() {
        let (offset, rest) = line.split_once("  ").unwrap();
        assert_eq!(
            usize::from_str_radix(offset, 16).unwrap(),
            from_doc.len(),
            "{line}"
        );
        let hex = rest.split("  |").next().unwrap();
        for byte in hex.split_whitespace() {
            from_doc.push(u8::from_str_radix(byte, 16).unwrap());
        }
    }
    assert_eq!(from_doc, file);
    let results = Results::<Probes>::read_from(file.as_slice())?;
    assert_eq!(
        results.iter().collect::<Vec<_>>(),
        [
            Probe {
                id: 7,
                side: Side::Right
            },
            Probe {
                id: 513,
                side: Side::Left
            }
        ]
    );
    Ok(())
}

/// Probe after a release renamed a field, widened one and added another.
mod later {
    use super::*;

    #[derive(WireType, Clone, Copy)]
    #[repr(u8)]
    pub enum Side {
        Left,
        Right,
        Up,
    }

    #[derive(WireType, Clone, Copy)]
    pub struct Renamed {
        pub key: u16,
        pub side: super::Side,
    }

    #[derive(WireType, Clone, Copy)]
    pub struct Wider {
        pub id: u32,
        pub side: super::Side,
    }

    #[derive(WireType, Clone, Copy)]
    pub struct Longer {
        pub id: u16,
        pub side: super::Side,
        pub seen: bool,
    }

    #[derive(WireType, Clone, Copy)]
    pub struct MoreSides {
        pub id: u16,
        pub side: Side,
    }

    #[task(packet = Renamed)]
    pub struct RenamedProbes;

    #[task(packet = Wider)]
    pub struct WiderProbes;

    #[task(packet = Longer)]
    pub struct LongerProbes;

    #[task(packet = MoreSides)]
    pub struct MoreSidesProbes;
}

#[test]
fn a_struct_layout_that_changed_is_refused_naming_the_field() -> Result<(), Error> {
    let mut file = Vec::new();
    let results = Results::<Probes>::from_bytes(vec![7, 0, 1, 1, 2, 0])?;
    results.write_to(&mut file)?;

    let error = Results::<later::RenamedProbes>::read_from(file.as_slice()).unwrap_err();
    assert_eq!(
        error,
        Error::SchemaFieldMismatch {
            task: "RenamedProbes",
            field: "key".into(),
            found: "`id`: u16 (2 bytes)".into(),
            expected: "`key`: u16 (2 bytes)".into(),
        }
    );
    let error = Results::<later::WiderProbes>::read_from(file.as_slice()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the results file was written by a different schema: at field `id` the file has `id`: \
         u16 (2 bytes), but task `WiderProbes` has `id`: u32 (4 bytes); read it as a task with \
         the packet that wrote it (the same field names, kinds and sizes, in the same order)"
    );
    let error = Results::<later::LongerProbes>::read_from(file.as_slice()).unwrap_err();
    assert!(
        matches!(&error, Error::SchemaFieldMismatch { field, found, expected, .. }
            if field == "seen" && found == "no field" && expected == "`seen`: bool (1 byte)"),
        "{error:?}"
    );
    let error = Results::<later::MoreSidesProbes>::read_from(file.as_slice()).unwrap_err();
    assert!(
        error.to_string().contains(
            "the file has `side`: an enum of 1 byte (Left = 0, Right = 1), but task \
             `MoreSidesProbes` has `side`: an enum of 1 byte (Left = 0, Right = 1, Up = 2)"
        ),
        "{error}"
    );
    Ok(())
}

#[test]
fn struct_packets_round_trip_through_files_of_both_formats() -> Result<(), Error> {
    let results = Results::<Probes>::from_bytes(vec![7, 0, 1, 1, 2, 0, 9, 9, 0])?;
    for version in [FormatVersion::V1, FormatVersion::V2] {
        let mut file = Vec::new();
        results.write_to_format(&mut file, version)?;
        assert_eq!(&file[4..6], &version.number().to_le_bytes());
        assert_eq!(Results::<Probes>::read_from(file.as_slice())?, results);
    }
    // A value that is no variant, in a file: refused, naming the field and the value.
    let mut file = Vec::new();
    results.write_to(&mut file)?;
    let last = file.len() - TRAILER_SIZE - 4 - 1;
    file[last] = 5;
    let mut covered = 0u64.to_le_bytes().to_vec();
    covered.extend_from_slice(&3u32.to_le_bytes());
    covered.extend_from_slice(&file[last - 8..=last]);
    let checksum = crc32c(&covered);
    file[last + 1..last + 5].copy_from_slice(&checksum.to_le_bytes());
    let trailer = last + 5;
    file[trailer + 12..trailer + 16]
        .copy_from_slice(&crc32c(&checksum.to_le_bytes()).to_le_bytes());
    let checksum = crc32c(&file[trailer..trailer + 16]);
    file[trailer + 16..trailer + 20].copy_from_slice(&checksum.to_le_bytes());
    let error = Results::<Probes>::read_from(file.as_slice()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "packet 2 of task `Probes`, field 1 (Side): field `side`: 5 is not a variant of `Side`"
    );
    Ok(())
}
