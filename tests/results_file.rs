//! `ResultsFile`: results files read with no Rust type, by the same reader
//! as `Results::read_from` (the same checks, the same errors), and their
//! fields decoded by the schema the file stores (`SchemaField::value`).

mod common;
mod crafted;

use common::{Biome, Cell};
use crafted::{crafted_file, crc32c, node, TAG_ENUM, TAG_STRUCT, TAG_U8};
use parallelizer::persist::FormatVersion;
use parallelizer::prelude::*;
use parallelizer::{DecodeError, InvalidValue, Kind, ResultsFile, SchemaField, Value};

#[task(packet = (
    u8, i8, u16, i16, u32, i32, f32, f64, bool, FixedStr<11>,
    Vec3, Vec3i16, Vec2, Vec2i16, CFrame, CFrameF32, CFrame18, Color3, Color3b16, FixedBytes<16>,
    u64, i64,
))]
pub struct AllTypes;

type Output = <AllTypes as Task>::Output;

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
        task_id % 2 == 0,
        FixedStr::new(["Hello World", "Hi", ""][task_id % 3]).unwrap(),
        Vec3::new(1.0, -2.0, 0.5),
        Vec3i16::new(-1, 0x0102, i16::MAX),
        Vec2::new(0.25, -0.0),
        Vec2i16::new(7, i16::MIN),
        CFrame::new(Vec3::new(10.0, 20.0, 30.0), Vec3::new(0.0, 1.0, -1.0)),
        CFrameF32::new([1.0, -2.0, 0.5], [0.25, 0.0, -1.0]),
        CFrame18::from(CFrame::new(
            Vec3::new(1.5, -2.0, 4.0),
            Vec3::new(0.0, 0.0, 0.0),
        )),
        Color3::new(1.0, 0.5, 0.2),
        Color3b16::from(Color3::new(1.0, 0.5, 0.0)),
        FixedBytes::new(&[0xCA, 0xFE, 0x00, 0x01]).unwrap(),
        u64::MAX,
        i64::MIN,
    )
}

#[task(packet = Cell)]
pub struct Cells;

#[worker(Cells)]
fn cells(task_id: usize) -> Cell {
    Cell {
        height: task_id as f32 / 2.0,
        normal: Vec3::new(0.0, 1.0, task_id as f64),
        biome: [Biome::Ocean, Biome::Mountain][task_id % 2],
        name: FixedStr::new(&format!("c{task_id}")).unwrap(),
        color: Color3::new(1.0, 0.0, 1.0),
        wet: task_id % 2 == 1,
    }
}

fn file_of<T: Task>(results: &Results<T>) -> Vec<u8> {
    let mut file = Vec::new();
    results.write_to(&mut file).unwrap();
    file
}

/// The row of packet `index` of `file`: every column's path and value, as
/// text.
fn row(file: &ResultsFile, index: usize) -> Vec<(String, String)> {
    let packet = file.packet(index).unwrap();
    file.schema()
        .columns()
        .into_iter()
        .map(|(path, field)| (path, field.value(packet).unwrap().to_string()))
        .collect()
}

/// A field's layout, for comparing a typed schema with a file's: name,
/// offset, size, kind and parts, not type names.
fn layout(field: &SchemaField) -> String {
    let parts: Vec<String> = field.fields().iter().map(layout).collect();
    format!(
        "{}@{}+{}:{:?}[{}]",
        field.name(),
        field.offset(),
        field.size(),
        field.kind(),
        parts.join(",")
    )
}

#[test]
fn the_untyped_reader_reads_what_the_typed_one_reads() {
    let results = Coordinator::new(2).dispatch(AllTypes, 100, 7).unwrap();
    let bytes = file_of(&results);
    let file = ResultsFile::read_from(bytes.as_slice()).unwrap();
    assert_eq!((file.len(), file.is_empty()), (100, false));
    assert_eq!((file.format_version(), file.chunks()), (2, 1));
    assert_eq!(file.job(), None);
    assert_eq!(file.as_bytes(), results.as_bytes());
    assert_eq!(file.packets().len(), 100);
    assert!(file
        .packets()
        .eq(results.as_bytes().chunks(AllTypes::PACKET_SIZE)));
    assert_eq!(file.packet(100), None);

    let (stored, task) = (file.schema(), AllTypes::schema());
    assert_eq!(stored.canonical_encoding(), task.canonical_encoding());
    assert_eq!(stored.fingerprint(), task.fingerprint());
    assert_eq!(stored.packet_size(), AllTypes::PACKET_SIZE);
    assert_eq!((stored.task(), stored.type_name()), ("?", "struct"));
    let layouts = |schema: &parallelizer::Schema| -> Vec<String> {
        schema.fields().iter().map(layout).collect()
    };
    assert_eq!(layouts(stored), layouts(&task));
    let types: Vec<&str> = stored.fields().iter().map(SchemaField::type_name).collect();
    assert_eq!(
        types,
        [
            "u8",
            "i8",
            "u16",
            "i16",
            "u32",
            "i32",
            "f32",
            "f64",
            "bool",
            "string<11>",
            "struct",
            "struct",
            "struct",
            "struct",
            "struct",
            "struct",
            "struct",
            "struct",
            "u16",
            "bytes<16>",
            "u64",
            "i64"
        ]
    );

    let (mut typed, mut untyped) = (Vec::new(), Vec::new());
    results.write_npy(&mut typed).unwrap();
    file.write_npy(&mut untyped).unwrap();
    assert_eq!(typed, untyped);
}

#[test]
fn every_kind_of_field_decodes_by_the_stored_schema() {
    let results = Coordinator::new(2).dispatch(AllTypes, 3, 7).unwrap();
    let file = ResultsFile::read_from(file_of(&results).as_slice()).unwrap();
    let row = row(&file, 1);
    let get = |path: &str| {
        row.iter()
            .find(|(column, _)| column == path)
            .unwrap_or_else(|| panic!("no column {path} in {row:?}"))
            .1
            .as_str()
    };
    for (path, value) in [
        ("0", "1"),
        ("1", "-2"),
        ("2", "4660"),
        ("3", "-300"),
        ("4", "3735928559"),
        ("5", "-123456"),
        ("6", "1.5"),
        ("7", "-2.25"),
        ("8", "false"),
        ("9", "Hi"),
        ("10.x", "1.0"),
        ("10.z", "0.5"),
        ("11.x", "-1"),
        ("11.z", "32767"),
        ("12.y", "-0.0"),
        ("13.y", "-32768"),
        ("14.position.x", "10.0"),
        ("14.rotation.z", "-1.0"),
        ("15.position.y", "-2.0"),
        ("16.position.z", "4.0"),
        ("17.r", "255"),
        ("17.g", "127"),
        ("17.b", "51"),
        ("19", "cafe0001"),
        ("20", "18446744073709551615"),
        ("21", "-9223372036854775808"),
    ] {
        assert_eq!(get(path), value, "column {path}");
    }
    // Every leaf is a column: 10 numbers and slots, 3 + 3 + 2 + 2 vector
    // parts, 6 + 6 + 6 cframe parts, 3 color channels, a u16, a slot, 2.
    assert_eq!(row.len(), 10 + 10 + 18 + 3 + 1 + 1 + 2);
    let color = file.schema().field("18").unwrap().offset();
    let packet = file.packet(1).unwrap();
    let expected = u16::from_le_bytes([packet[color], packet[color + 1]]);
    assert_eq!(get("18"), expected.to_string());
    assert_ne!(expected, 0);
}

#[test]
fn a_named_packet_decodes_to_structs_enums_and_strings() {
    let results = Coordinator::new(2).dispatch(Cells, 4, 3).unwrap();
    let file = ResultsFile::read_from(file_of(&results).as_slice()).unwrap();
    let schema = file.schema();
    let packet = file.packet(3).unwrap();
    let value = |path: &str| schema.field(path).unwrap().value(packet).unwrap();
    assert_eq!(value("height"), Value::F32(1.5));
    assert_eq!(
        value("normal"),
        Value::Struct(vec![
            ("x".into(), Value::F64(0.0)),
            ("y".into(), Value::F64(1.0)),
            ("z".into(), Value::F64(3.0)),
        ])
    );
    assert_eq!(value("normal").to_string(), "{x: 0.0, y: 1.0, z: 3.0}");
    let Value::Enum(biome) = value("biome") else {
        panic!("an enum")
    };
    assert_eq!((biome.name(), biome.value()), ("Mountain", 7));
    assert_eq!(value("name"), Value::Str("c3".into()));
    assert_eq!(value("name.len"), Value::UInt(2));
    assert_eq!(value("wet"), Value::Bool(true));
    assert_eq!(value("color").to_string(), "{r: 255, g: 0, b: 255}");
    assert_eq!(
        schema.field("biome").unwrap().kind(),
        &Kind::Enum {
            variants: vec![
                parallelizer::Variant::new("Ocean", 0),
                parallelizer::Variant::new("Plains", 1),
                parallelizer::Variant::new("Forest", 2),
                parallelizer::Variant::new("Mountain", 7),
            ]
        }
    );
    assert_eq!(
        schema.tree().to_string(),
        "\
offset  size  field
     0     4  height: f32
     4    24  normal: struct
     4     8    x: f64
    12     8    y: f64
    20     8    z: f64
    28     1  biome: enum u8 (Ocean = 0, Plains = 1, Forest = 2, Mountain = 7)
    29    12  name: string<8>
    29     4    len: u32
    33     8    bytes: [u8; 8]
    41     3  color: struct
    41     1    r: u8
    42     1    g: u8
    43     1    b: u8
    44     1  wet: bool
"
    );
}

#[test]
fn every_corrupted_byte_and_every_cut_is_the_typed_readers_error() {
    let results = Coordinator::new(2).dispatch(Cells, 5, 2).unwrap();
    let bytes = file_of(&results);
    // The typed reader's message, with the task the file does not record.
    let typed = |bytes: &[u8]| {
        Results::<Cells>::read_from(bytes)
            .unwrap_err()
            .to_string()
            .replace("`Cells`", "`?`")
    };
    let untyped = |bytes: &[u8]| ResultsFile::read_from(bytes).unwrap_err().to_string();
    for at in 0..bytes.len() {
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 0x01;
        assert_eq!(untyped(&corrupt), typed(&corrupt), "byte {at}");
    }
    for len in 0..bytes.len() {
        assert_eq!(untyped(&bytes[..len]), typed(&bytes[..len]), "cut at {len}");
    }
    // Several files follow each other in one stream.
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    let mut stream = two.as_slice();
    for _ in 0..2 {
        assert_eq!(ResultsFile::read_from(&mut stream).unwrap().len(), 5);
    }
    assert!(stream.is_empty());
}

#[test]
fn a_run_to_file_records_its_job() {
    let path = std::env::temp_dir().join(format!("results-file-job-{}.prlz", std::process::id()));
    let _ = std::fs::remove_file(&path);
    Coordinator::new(2)
        .run_to_file(Cells, 50_000, 999, &path)
        .unwrap();
    let file = ResultsFile::open(&path).unwrap();
    let job = file.job().unwrap();
    assert_eq!(
        (job.threads(), job.batch(), job.args()),
        (50_000, 999, None)
    );
    assert_eq!(file.len(), 50_000);
    // 23 301 packets of 45 bytes in a chunk of 1 MiB.
    assert_eq!(file.chunks(), 3);
    let typed = Results::<Cells>::read_from(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(file.as_bytes(), typed.as_bytes());
    std::fs::remove_file(&path).unwrap();

    let error = ResultsFile::open(&path).unwrap_err();
    assert!(matches!(
        error,
        Error::ReadFailed {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
}

#[test]
fn a_version_1_file_is_refused_saying_how_to_convert_it() {
    let results = Coordinator::new(2).dispatch(Cells, 3, 2).unwrap();
    let mut bytes = Vec::new();
    results
        .write_to_format(&mut bytes, FormatVersion::V1)
        .unwrap();
    let error = ResultsFile::read_from(bytes.as_slice()).unwrap_err();
    assert_eq!(error, Error::NoStoredSchema { version: 1 });
    let message = error.to_string();
    assert!(message.contains("does not store its schema"), "{message}");
    assert!(message.contains("Results::<Task>::read_from"), "{message}");
    assert!(
        message.contains("write it again with `write_to`"),
        "{message}"
    );
    // Converted as the message says, it reads.
    let converted = file_of(&Results::<Cells>::read_from(bytes.as_slice()).unwrap());
    assert_eq!(
        ResultsFile::read_from(converted.as_slice()).unwrap().len(),
        3
    );
}

#[test]
fn an_invalid_value_is_a_decode_error_not_a_panic() {
    let results = Coordinator::new(2).dispatch(Cells, 2, 2).unwrap();
    let mut bytes = file_of(&results);
    // One chunk of 2 packets, then the trailer; rewrite packet 1's name as
    // bytes that are not UTF-8, with checksums that hold.
    let trailer = bytes.len() - 24;
    let chunk = trailer - 4 - 2 * 45 - 4;
    let name = chunk + 4 + 45 + 29;
    bytes[name + 4] = 0xff;
    let mut covered = 0u64.to_le_bytes().to_vec();
    covered.extend_from_slice(&2u32.to_le_bytes());
    covered.extend_from_slice(&bytes[chunk + 4..trailer - 4]);
    let checksum = crc32c(&covered).to_le_bytes();
    bytes[trailer - 4..trailer].copy_from_slice(&checksum);
    bytes[trailer + 12..trailer + 16].copy_from_slice(&crc32c(&checksum).to_le_bytes());
    let sealed = crc32c(&bytes[trailer..trailer + 16]).to_le_bytes();
    bytes[trailer + 16..trailer + 20].copy_from_slice(&sealed);

    // The typed reader validates every packet.
    let error = Results::<Cells>::read_from(bytes.as_slice()).unwrap_err();
    assert!(
        matches!(error, Error::InvalidPacket { index: 1, .. }),
        "{error:?}"
    );
    // The untyped one reads the bytes; decoding the field says what is wrong.
    let file = ResultsFile::read_from(bytes.as_slice()).unwrap();
    let field = file.schema().field("name").unwrap();
    assert_eq!(
        field.value(file.packet(0).unwrap()),
        Ok(Value::Str("c0".into()))
    );
    assert_eq!(
        field.value(file.packet(1).unwrap()),
        Err(DecodeError::Invalid {
            field: "name".into(),
            reason: InvalidValue::InvalidUtf8 { valid_up_to: 0 },
        })
    );
    // A packet cut short is an error too.
    let error = file
        .schema()
        .field("wet")
        .unwrap()
        .value(&[0; 44])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `wet` ends at byte 45, past the end of the 44-byte packet given: pass a whole \
         packet of the field's schema"
    );
}

#[test]
fn crafted_files_are_read_as_written() {
    // The helper makes files the reader takes: one u8 field, 3 packets.
    let schema = node("", TAG_STRUCT, 1, &[], &[node("a", TAG_U8, 1, &[], &[])]);
    let file =
        ResultsFile::read_from(crafted_file(&schema, 1, &[(3, &[7, 8, 9])]).as_slice()).unwrap();
    assert_eq!((file.len(), file.as_bytes()), (3, &[7, 8, 9][..]));
}

#[test]
fn a_stored_schema_of_packets_of_0_bytes_is_refused() {
    // A packet with no fields, and 4 chunks that each claim 2^32 - 1 of
    // its packets in no bytes: 124 bytes that would be 17 179 869 180
    // packets.
    let schema = node("", TAG_STRUCT, 0, &[], &[]);
    let bytes = crafted_file(&schema, 0, &[(u32::MAX, &[][..]); 4]);
    assert_eq!(bytes.len(), 124);
    let error = ResultsFile::read_from(bytes.as_slice()).unwrap_err();
    assert!(matches!(error, Error::CorruptSchema { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("it describes packets of 0 bytes, which cannot be read"),
        "{error}"
    );
}

#[test]
fn stored_schemas_that_no_writer_makes_are_refused() {
    let refused = |schema: Vec<u8>, size: u32, words: &str| {
        let bytes = crafted_file(&schema, size, &[(1, &vec![0; size as usize])]);
        let error = ResultsFile::read_from(bytes.as_slice()).unwrap_err();
        assert!(matches!(error, Error::CorruptSchema { .. }), "{error:?}");
        assert!(error.to_string().contains(words), "{error}");
    };
    // An enum of 3 bytes (Arrow has no such integer).
    let mut variants = 1u64.to_le_bytes().to_vec();
    variants.extend_from_slice(&1u64.to_le_bytes());
    variants.push(b'X');
    variants.extend_from_slice(&0u64.to_le_bytes());
    refused(
        node(
            "",
            TAG_STRUCT,
            3,
            &[],
            &[node("e", TAG_ENUM, 3, &variants, &[])],
        ),
        3,
        "field `e` is 3 bytes, but an enum's discriminant is 1, 2, 4 or 8 bytes",
    );
    // Two fields named `a` (a numpy dtype cannot have both).
    let a = node("a", TAG_U8, 1, &[], &[]);
    refused(
        node("", TAG_STRUCT, 2, &[], &[a.clone(), a]),
        2,
        "the packet has two fields named `a`",
    );
}

#[test]
fn a_results_reader_hands_out_verified_chunks_one_at_a_time() {
    use parallelizer::persist::ResultsReader;

    // 50 000 packets of 45 bytes: chunks of 23 301 packets, 3 chunks.
    let results = Coordinator::new(2).dispatch(Cells, 50_000, 999).unwrap();
    let bytes = file_of(&results);
    let whole = ResultsFile::read_from(bytes.as_slice()).unwrap();

    let mut reader = ResultsReader::new(bytes.as_slice()).unwrap();
    assert_eq!(reader.schema(), whole.schema());
    assert_eq!(
        (reader.format_version(), reader.job(), reader.declared()),
        (2, None, Some(50_000))
    );
    let mut chunk = Vec::new();
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    while let Some(n) = reader.read_chunk(&mut chunk).unwrap() {
        assert_eq!(chunk.len(), n * 45);
        sizes.push(n);
        seen.extend_from_slice(&chunk);
        chunk.clear();
    }
    assert_eq!(sizes, [23_301, 23_301, 3_398]);
    assert_eq!(seen, whole.as_bytes());
    assert_eq!(
        (
            reader.packets_read(),
            reader.chunks_read(),
            reader.is_verified()
        ),
        (50_000, 3, true)
    );
    assert_eq!(reader.read_chunk(&mut chunk), Ok(None));
    assert!(chunk.is_empty());

    // A corrupt byte in the last chunk: the first two are handed out, the
    // third is the error `ResultsFile::read_from` gives.
    let mut corrupt = bytes.clone();
    let at = corrupt.len() - 24 - 4 - 7;
    corrupt[at] ^= 1;
    let mut reader = ResultsReader::new(corrupt.as_slice()).unwrap();
    assert_eq!(reader.read_chunk(&mut chunk), Ok(Some(23_301)));
    assert_eq!(reader.read_chunk(&mut chunk), Ok(Some(23_301)));
    let error = reader.read_chunk(&mut chunk).unwrap_err();
    assert_eq!(
        error,
        ResultsFile::read_from(corrupt.as_slice()).unwrap_err()
    );
    assert!(error.to_string().contains("chunk 2, at byte"), "{error}");
    assert!(!reader.is_verified());
}
