//! Arrow export (feature `arrow`): the column type and every value of every
//! field of the all-types packet (as a tuple and as its named twin) and of
//! the issue's `Cell`, checked against `results.get(i)`; the IPC file read
//! back with arrow-rs's own reader; a results file's batch, read with no
//! Rust type, against the typed results'; and the errors of bad buffers and
//! inconsistent schemas.

mod common;

#[allow(dead_code)]
#[path = "../examples/all_types.rs"]
mod all_types;

use std::io::{self, Cursor, Write};
use std::sync::Arc;

use all_types::{Everything, EverythingNamed};
use common::{Biome, Cell};
use parallelizer::arrow::arrow_array::cast::AsArray;
use parallelizer::arrow::arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int8Type, UInt16Type, UInt32Type, UInt8Type,
};
use parallelizer::arrow::arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use parallelizer::arrow::arrow_ipc::reader::FileReader;
use parallelizer::arrow::arrow_schema::{DataType, Field, Fields};
use parallelizer::arrow::{self, FINGERPRINT_KEY, TASK_KEY};
use parallelizer::prelude::*;
use parallelizer::{InvalidValue, ResultsFile, Shape, Variant};

const COUNT: usize = 1000;

#[task(packet = Cell)]
pub struct Terrain;

const BIOMES: [Biome; 4] = [Biome::Ocean, Biome::Plains, Biome::Forest, Biome::Mountain];

#[worker(Terrain)]
fn terrain(task_id: usize) -> Cell {
    let shade = (task_id % 256) as f32 / 255.0;
    Cell {
        height: task_id as f32 * 0.25,
        normal: Vec3::new(0.0, 1.0, task_id as f64 / 3.0),
        biome: BIOMES[task_id % 4],
        // Multi-byte UTF-8 too: "é" is 2 bytes.
        name: FixedStr::new(&format!("é{}", task_id % 997)).unwrap(),
        color: Color3::new(shade, 0.0, 1.0 - shade),
        wet: task_id % 3 == 0,
    }
}

fn field(name: &str, data_type: DataType) -> Field {
    Field::new(name, data_type, false)
}

fn structure(parts: &[(&str, DataType)]) -> DataType {
    DataType::Struct(Fields::from(
        parts
            .iter()
            .map(|(name, data_type)| field(name, data_type.clone()))
            .collect::<Vec<_>>(),
    ))
}

fn xyz(data_type: DataType) -> DataType {
    structure(&[
        ("x", data_type.clone()),
        ("y", data_type.clone()),
        ("z", data_type),
    ])
}

fn xy(data_type: DataType) -> DataType {
    structure(&[("x", data_type.clone()), ("y", data_type)])
}

/// The all-types packet's column types, in order.
fn all_types_columns() -> Vec<DataType> {
    use DataType::*;
    vec![
        UInt8,
        Int8,
        UInt16,
        Int16,
        UInt32,
        Int32,
        Float32,
        Float64,
        Boolean,
        Utf8,
        xyz(Float64),
        xyz(Int16),
        xy(Float64),
        xy(Int16),
        structure(&[("position", xyz(Float64)), ("rotation", xyz(Float64))]),
        structure(&[("position", xyz(Float32)), ("rotation", xyz(Float32))]),
        structure(&[("position", xyz(Float32)), ("angle_codes", xyz(UInt16))]),
        structure(&[("r", UInt8), ("g", UInt8), ("b", UInt8)]),
        UInt16,
        Binary,
    ]
}

/// The child `name` of a struct column.
fn part<'a>(column: &'a dyn Array, name: &str) -> &'a ArrayRef {
    column
        .as_struct()
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no part {name}"))
}

/// The values of the `x`, `y` (and `z`) parts of a struct column, as `T`.
fn parts<T: parallelizer::arrow::arrow_array::ArrowPrimitiveType>(
    column: &dyn Array,
    names: &[&str],
    row: usize,
) -> Vec<T::Native> {
    names
        .iter()
        .map(|name| part(column, name).as_primitive::<T>().value(row))
        .collect()
}

fn check_all_types(batch: &RecordBatch, results: &Results<Everything>) {
    assert_eq!(batch.num_rows(), results.len());
    let types: Vec<DataType> = batch
        .schema()
        .fields()
        .iter()
        .map(|field| field.data_type().clone())
        .collect();
    assert_eq!(types, all_types_columns());
    assert!(batch.schema().fields().iter().all(|f| !f.is_nullable()));
    let c = |i: usize| batch.column(i).as_ref();
    for (row, out) in results.iter().enumerate() {
        assert_eq!(c(0).as_primitive::<UInt8Type>().value(row), out.0);
        assert_eq!(c(1).as_primitive::<Int8Type>().value(row), out.1);
        assert_eq!(c(2).as_primitive::<UInt16Type>().value(row), out.2);
        assert_eq!(c(3).as_primitive::<Int16Type>().value(row), out.3);
        assert_eq!(c(4).as_primitive::<UInt32Type>().value(row), out.4);
        assert_eq!(c(5).as_primitive::<Int32Type>().value(row), out.5);
        assert_eq!(c(6).as_primitive::<Float32Type>().value(row), out.6);
        assert_eq!(c(7).as_primitive::<Float64Type>().value(row), out.7);
        assert_eq!(c(8).as_boolean().value(row), out.8);
        assert_eq!(c(9).as_string::<i32>().value(row), out.9.as_str());
        let v = out.10;
        assert_eq!(
            parts::<Float64Type>(c(10), &["x", "y", "z"], row),
            [v.x, v.y, v.z]
        );
        let v = out.11;
        assert_eq!(
            parts::<Int16Type>(c(11), &["x", "y", "z"], row),
            [v.x, v.y, v.z]
        );
        let v = out.12;
        assert_eq!(parts::<Float64Type>(c(12), &["x", "y"], row), [v.x, v.y]);
        let v = out.13;
        assert_eq!(parts::<Int16Type>(c(13), &["x", "y"], row), [v.x, v.y]);
        let xyz = ["x", "y", "z"];
        let frame = out.14;
        let position = part(c(14), "position");
        let rotation = part(c(14), "rotation");
        let p = frame.position;
        let r = frame.rotation;
        assert_eq!(parts::<Float64Type>(position, &xyz, row), [p.x, p.y, p.z]);
        assert_eq!(parts::<Float64Type>(rotation, &xyz, row), [r.x, r.y, r.z]);
        let frame = out.15;
        let position = part(c(15), "position");
        let rotation = part(c(15), "rotation");
        assert_eq!(parts::<Float32Type>(position, &xyz, row), frame.position);
        assert_eq!(parts::<Float32Type>(rotation, &xyz, row), frame.rotation);
        let frame = out.16;
        let position = part(c(16), "position");
        let codes = part(c(16), "angle_codes");
        assert_eq!(parts::<Float32Type>(position, &xyz, row), frame.position);
        assert_eq!(parts::<UInt16Type>(codes, &xyz, row), frame.angle_codes);
        // Color3's wire form is its quantized levels.
        let color = out.17.to_wire();
        let rgb = parts::<UInt8Type>(c(17), &["r", "g", "b"], row);
        assert_eq!(rgb, [color.r, color.g, color.b]);
        assert_eq!(
            c(18).as_primitive::<UInt16Type>().value(row),
            out.18.to_bits()
        );
        assert_eq!(c(19).as_binary::<i32>().value(row), out.19.as_bytes());
    }
}

#[test]
fn every_field_of_the_all_types_tuple_packet() {
    let results = Coordinator::new(4).dispatch(Everything, COUNT, 64).unwrap();
    let batch = results.to_record_batch().unwrap();
    let names: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let schema = batch.schema();
    let found: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    assert_eq!(found, names.iter().collect::<Vec<_>>());
    check_all_types(&batch, &results);
    // A spot check of values that are not simply the id.
    assert_eq!(batch.column(9).as_string::<i32>().value(750), "task 750");
    let codes = part(batch.column(16), "angle_codes");
    assert_eq!(parts::<UInt16Type>(codes, &["y"], 750), [49151]);
}

#[test]
fn the_named_twin_has_the_same_columns_under_its_field_names() {
    let coordinator = Coordinator::new(4);
    let tuple = coordinator.dispatch(Everything, COUNT, 64).unwrap();
    let named = coordinator.dispatch(EverythingNamed, COUNT, 64).unwrap();
    let tuple_batch = tuple.to_record_batch().unwrap();
    let batch = named.to_record_batch().unwrap();
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let named_schema = EverythingNamed::schema();
    let expected: Vec<&str> = named_schema
        .fields()
        .iter()
        .map(|field| field.name())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(names[..3], ["byte", "signed_byte", "short"]);
    assert_eq!(names[19], "bytes");
    assert_eq!(batch.columns(), tuple_batch.columns());
    // Every value, by name, against the record.
    let c = |name: &str| batch.column_by_name(name).unwrap().as_ref();
    for (row, record) in named.iter().enumerate() {
        assert_eq!(
            c("byte").as_primitive::<UInt8Type>().value(row),
            record.byte
        );
        assert_eq!(
            c("signed_int").as_primitive::<Int32Type>().value(row),
            record.signed_int
        );
        assert_eq!(
            c("double").as_primitive::<Float64Type>().value(row),
            record.double
        );
        assert_eq!(c("even").as_boolean().value(row), record.even);
        assert_eq!(
            c("label").as_string::<i32>().value(row),
            record.label.as_str()
        );
        let codes = part(c("frame18"), "angle_codes");
        assert_eq!(
            parts::<UInt16Type>(codes, &["x", "y", "z"], row),
            record.frame18.angle_codes
        );
        assert_eq!(
            c("bytes").as_binary::<i32>().value(row),
            record.bytes.as_bytes()
        );
    }
    // The metadata: each task's name and fingerprint (which covers the
    // fields' names, so the two differ).
    let fingerprint = format!("{:016x}", named_schema.fingerprint());
    assert_eq!(fingerprint.len(), 16);
    assert_eq!(schema.metadata()[TASK_KEY], "EverythingNamed");
    assert_eq!(schema.metadata()[FINGERPRINT_KEY], fingerprint);
    let tuple_metadata = tuple_batch.schema().metadata().clone();
    assert_eq!(tuple_metadata[TASK_KEY], "Everything");
    assert_eq!(
        tuple_metadata[FINGERPRINT_KEY],
        format!("{:016x}", Everything::schema().fingerprint())
    );
    assert_ne!(tuple_metadata[FINGERPRINT_KEY], fingerprint);
}

fn cell_schema() -> Vec<Field> {
    use DataType::*;
    vec![
        field("height", Float32),
        field("normal", xyz(Float64)),
        field("biome", Dictionary(Box::new(UInt8), Box::new(Utf8))),
        field("name", Utf8),
        field(
            "color",
            structure(&[("r", UInt8), ("g", UInt8), ("b", UInt8)]),
        ),
        field("wet", Boolean),
    ]
}

fn check_cells(batch: &RecordBatch, results: &Results<Terrain>) {
    let schema = batch.schema();
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    assert_eq!(fields, cell_schema());
    assert_eq!(batch.num_rows(), results.len());
    let c = |name: &str| batch.column_by_name(name).unwrap().as_ref();
    let biome = c("biome").as_dictionary::<UInt8Type>();
    // The dictionary is the variants' names in declaration order.
    let variants = biome.values().as_string::<i32>();
    let variants: Vec<&str> = variants.iter().map(Option::unwrap).collect();
    assert_eq!(variants, ["Ocean", "Plains", "Forest", "Mountain"]);
    for (row, cell) in results.iter().enumerate() {
        assert_eq!(
            c("height").as_primitive::<Float32Type>().value(row),
            cell.height
        );
        let n = cell.normal;
        let normal = parts::<Float64Type>(c("normal"), &["x", "y", "z"], row);
        assert_eq!(normal, [n.x, n.y, n.z]);
        let key = biome.keys().value(row);
        assert_eq!(variants[usize::from(key)], format!("{:?}", cell.biome));
        assert_eq!(c("name").as_string::<i32>().value(row), cell.name.as_str());
        let color = cell.color.to_wire();
        let rgb = parts::<UInt8Type>(c("color"), &["r", "g", "b"], row);
        assert_eq!(rgb, [color.r, color.g, color.b]);
        assert_eq!(c("wet").as_boolean().value(row), cell.wet);
    }
}

#[test]
fn every_field_of_a_named_cell_packet() {
    let results = Coordinator::new(4).dispatch(Terrain, COUNT, 64).unwrap();
    let batch = results.to_record_batch().unwrap();
    check_cells(&batch, &results);
    // Mountain's discriminant is 7, its key its position: 3.
    let biome = batch.column(2).as_dictionary::<UInt8Type>();
    assert_eq!(biome.keys().values()[..5], [0, 1, 2, 3, 0]);
    assert_eq!(batch.column(3).as_string::<i32>().value(996), "é996",);
    assert_eq!(batch.schema().metadata()[TASK_KEY], "Terrain");
}

#[test]
fn the_ipc_file_reads_back_with_arrow_rs() {
    let coordinator = Coordinator::new(4);
    let cells = coordinator.dispatch(Terrain, COUNT, 64).unwrap();
    let everything = coordinator.dispatch(Everything, COUNT, 64).unwrap();
    for (file, expected) in [
        {
            let mut file = Vec::new();
            cells.write_arrow_ipc(&mut file).unwrap();
            (file, cells.to_record_batch().unwrap())
        },
        {
            let mut file = Vec::new();
            everything.write_arrow_ipc(&mut file).unwrap();
            (file, everything.to_record_batch().unwrap())
        },
    ] {
        assert!(file.starts_with(b"ARROW1\0\0") && file.ends_with(b"ARROW1"));
        let reader = FileReader::try_new(Cursor::new(file), None).unwrap();
        assert_eq!(reader.num_batches(), 1);
        assert_eq!(reader.schema(), expected.schema());
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches, [expected]);
    }
    // The batch read back is checked again field by field, against `get`.
    let mut file = Vec::new();
    arrow::write_ipc(&Terrain::schema(), cells.as_bytes(), &mut file).unwrap();
    let mut reader = FileReader::try_new(Cursor::new(file), None).unwrap();
    check_cells(&reader.next().unwrap().unwrap(), &cells);
}

#[test]
fn no_results_make_an_empty_batch_of_the_same_columns() {
    let results = Coordinator::new(2).dispatch(Terrain, 0, 1).unwrap();
    let batch = results.to_record_batch().unwrap();
    assert_eq!(batch.num_rows(), 0);
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    assert_eq!(fields, cell_schema());
    let mut file = Vec::new();
    results.write_arrow_ipc(&mut file).unwrap();
    let reader = FileReader::try_new(Cursor::new(file), None).unwrap();
    let rows: usize = reader.map(|batch| batch.unwrap().num_rows()).sum();
    assert_eq!(rows, 0);
}

/// Packet `index`, field `field`, of `bytes` (whose packets are `Cell`s)
/// set to `value`, at `offset` within the field.
fn corrupt(bytes: &[u8], index: usize, field: &str, offset: usize, value: &[u8]) -> Vec<u8> {
    let schema = Terrain::schema();
    let at = index * schema.packet_size() + schema.field(field).unwrap().offset() + offset;
    let mut bytes = bytes.to_vec();
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

#[test]
fn bad_values_are_the_errors_that_from_bytes_gives() {
    let results = Coordinator::new(2).dispatch(Terrain, 20, 4).unwrap();
    let bytes = results.as_bytes();
    let schema = Terrain::schema();
    let cases = [
        // A length beyond the 8-byte slot.
        (
            corrupt(bytes, 5, "name", 0, &9u32.to_le_bytes()),
            InvalidValue::LengthExceedsSlot {
                len: 9,
                capacity: 8,
            },
        ),
        // Not UTF-8: a lone continuation byte in "é5".
        (
            corrupt(bytes, 5, "name", 4, &[0x80]),
            InvalidValue::InvalidUtf8 { valid_up_to: 0 },
        ),
        // A byte after the string's end.
        (
            corrupt(bytes, 5, "name", 4 + 7, &[1]),
            InvalidValue::NonZeroPadding { offset: 7 },
        ),
        (
            corrupt(bytes, 6, "wet", 0, &[2]),
            InvalidValue::InvalidBool { byte: 2 },
        ),
        // 3 is no Biome's discriminant (they are 0, 1, 2 and 7).
        (
            corrupt(bytes, 7, "biome", 0, &[3]),
            InvalidValue::InvalidDiscriminant {
                type_name: "Biome",
                value: 3,
            },
        ),
    ];
    for (bad, reason) in cases {
        let error = arrow::record_batch(&schema, &bad).unwrap_err();
        assert_eq!(
            error,
            Results::<Terrain>::from_bytes(bad.clone()).unwrap_err()
        );
        match &error {
            Error::InvalidPacket {
                task,
                reason: found,
                ..
            } => {
                assert_eq!(*task, "Terrain");
                // A struct packet's field, by name, as `from_bytes` says.
                let (index, name) = match reason {
                    InvalidValue::InvalidBool { .. } => (5, "wet"),
                    InvalidValue::InvalidDiscriminant { .. } => (2, "biome"),
                    _ => (3, "name"),
                };
                let expected = InvalidValue::Field {
                    index,
                    name,
                    reason: Box::new(reason),
                };
                assert_eq!(found, &expected);
            }
            other => panic!("expected InvalidPacket, got {other:?}"),
        }
        // Nothing is written.
        let mut file = Vec::new();
        assert_eq!(arrow::write_ipc(&schema, &bad, &mut file), Err(error));
        assert!(file.is_empty());
    }
}

/// A derived struct nested in a tuple packet, with a string inside.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Tag {
    pub id: u16,
    pub text: FixedStr<4>,
}

#[task(packet = (u8, Tag))]
pub struct Tagged;

#[worker(Tagged)]
fn tagged(task_id: usize) -> (u8, Tag) {
    let text = FixedStr::new(&format!("t{}", task_id % 100)).unwrap();
    (
        task_id as u8,
        Tag {
            id: task_id as u16,
            text,
        },
    )
}

#[test]
fn a_bad_value_in_a_nested_struct_names_its_field() {
    let results = Coordinator::new(2).dispatch(Tagged, 10, 4).unwrap();
    let schema = Tagged::schema();
    let at = 3 * schema.packet_size() + schema.field("1.text").unwrap().offset();
    let mut bad = results.as_bytes().to_vec();
    bad[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
    let error = arrow::record_batch(&schema, &bad).unwrap_err();
    assert_eq!(error, Results::<Tagged>::from_bytes(bad).unwrap_err());
    let message = error.to_string();
    assert!(message.contains("packet 3 of task `Tagged`"), "{message}");
    assert!(message.contains("field `text`"), "{message}");
    assert!(message.contains("5 bytes"), "{message}");
    // And the good results: the struct column of the derived struct.
    let batch = results.to_record_batch().unwrap();
    let tag = batch.column(1).as_struct();
    assert_eq!(tag.column_names(), ["id", "text"]);
    assert_eq!(tag.column(1).as_string::<i32>().value(7), "t7");
}

#[test]
fn a_buffer_of_no_whole_number_of_packets_is_refused() {
    let results = Coordinator::new(2).dispatch(Terrain, 3, 1).unwrap();
    let bytes = &results.as_bytes()[..3 * 45 - 1];
    let error = arrow::record_batch(&Terrain::schema(), bytes).unwrap_err();
    assert_eq!(
        error,
        Error::BufferLength {
            task: "Terrain",
            len: 134,
            packet_size: 45
        }
    );
    assert!(error
        .to_string()
        .contains("2 whole packets and 44 bytes left over"));
}

/// A hand-written wire type that does not describe itself: raw bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rgb(pub [u8; 3]);

impl WireType for Rgb {
    type Wire = [u8; 3];

    fn to_wire(&self) -> [u8; 3] {
        self.0
    }

    fn from_wire(wire: &[u8; 3]) -> Self {
        Rgb(*wire)
    }

    fn validate(_: &[u8; 3]) -> Result<(), InvalidValue> {
        Ok(())
    }
}

/// A hand-written wire type whose shape claims a 3-byte enum, which no
/// Arrow dictionary key is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Odd(pub [u8; 3]);

impl WireType for Odd {
    type Wire = [u8; 3];

    fn to_wire(&self) -> [u8; 3] {
        self.0
    }

    fn from_wire(wire: &[u8; 3]) -> Self {
        Odd(*wire)
    }

    fn validate(_: &[u8; 3]) -> Result<(), InvalidValue> {
        Ok(())
    }

    fn shape() -> Shape {
        Shape::enumeration("Odd", 3, [Variant::new("A", 0)])
    }
}

#[task(packet = (Rgb, u8))]
pub struct Raw;

#[worker(Raw)]
fn raw(task_id: usize) -> (Rgb, u8) {
    (Rgb([task_id as u8, 1, 2]), 9)
}

#[task(packet = (u8, Odd))]
pub struct Inconsistent;

#[worker(Inconsistent)]
fn inconsistent(task_id: usize) -> (u8, Odd) {
    (task_id as u8, Odd([0; 3]))
}

#[test]
fn raw_bytes_are_fixed_size_binary() {
    let results = Coordinator::new(2).dispatch(Raw, 5, 2).unwrap();
    let batch = results.to_record_batch().unwrap();
    assert_eq!(
        batch.schema().field(0).data_type(),
        &DataType::FixedSizeBinary(3)
    );
    let column = batch.column(0).as_fixed_size_binary();
    for (row, (rgb, _)) in results.iter().enumerate() {
        assert_eq!(column.value(row), rgb.0);
    }
}

#[test]
fn an_inconsistent_schema_is_an_error_that_names_the_field() {
    let results = Coordinator::new(2).dispatch(Inconsistent, 5, 2).unwrap();
    let error = results.to_record_batch().unwrap_err();
    assert!(
        matches!(
            error,
            Error::ArrowExport {
                task: "Inconsistent",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("field `1` (Odd) is 3 bytes"), "{message}");
    assert!(message.contains("WireType::shape"), "{message}");
}

/// A 2-byte enum, whose discriminants are far from its variants' positions.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
#[repr(u16)]
pub enum Level {
    Low = 1000,
    High = 2,
}

/// A hand-written wire type whose shape claims 300 variants in one byte.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crowded(pub u8);

impl WireType for Crowded {
    type Wire = u8;

    fn to_wire(&self) -> u8 {
        self.0
    }

    fn from_wire(wire: &u8) -> Self {
        Crowded(*wire)
    }

    fn validate(_: &u8) -> Result<(), InvalidValue> {
        Ok(())
    }

    fn shape() -> Shape {
        let variants = (0..300u64).map(|value| {
            let name: &'static str = Box::leak(format!("V{value}").into_boxed_str());
            Variant::new(name, value)
        });
        Shape::enumeration("Crowded", 1, variants)
    }
}

#[task(packet = (Level, Crowded))]
pub struct Levels;

#[worker(Levels)]
fn levels(task_id: usize) -> (Level, Crowded) {
    let level = if task_id % 2 == 0 {
        Level::Low
    } else {
        Level::High
    };
    (level, Crowded(task_id as u8))
}

#[test]
fn an_enum_is_keyed_by_its_discriminants_width_and_its_variants_position() {
    let results = Coordinator::new(2).dispatch(Levels, 6, 2).unwrap();
    // The whole packet fails on the crowded enum; its first field alone,
    // as a schema of one field, exports.
    let error = results.to_record_batch().unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::ArrowExport { task: "Levels", .. }),
        "{error:?}"
    );
    assert!(
        message.contains("field `1` (Crowded) has 300 variants"),
        "{message}"
    );

    let level = Shape::of::<Level>();
    assert_eq!(level.size(), 2);
    #[task(packet = (Level,))]
    pub struct OnlyLevels;
    #[worker(OnlyLevels)]
    fn only_levels(task_id: usize) -> (Level,) {
        (if task_id % 2 == 0 {
            Level::Low
        } else {
            Level::High
        },)
    }
    let results = Coordinator::new(2).dispatch(OnlyLevels, 6, 2).unwrap();
    let batch = results.to_record_batch().unwrap();
    assert_eq!(
        batch.schema().field(0).data_type(),
        &DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8))
    );
    let column = batch.column(0).as_dictionary::<UInt16Type>();
    assert_eq!(column.keys().values(), &[0, 1, 0, 1, 0, 1]);
    let names: Vec<&str> = column
        .values()
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    assert_eq!(names, ["Low", "High"]);
    // A discriminant that names no variant.
    let mut bad = results.as_bytes().to_vec();
    bad[4..6].copy_from_slice(&7u16.to_le_bytes());
    let error = arrow::record_batch(&OnlyLevels::schema(), &bad).unwrap_err();
    assert_eq!(error, Results::<OnlyLevels>::from_bytes(bad).unwrap_err());
    assert!(
        error.to_string().contains("packet 2 of task `OnlyLevels`"),
        "{error}"
    );
    assert!(
        error.to_string().contains("7 is not a variant of `Level`"),
        "{error}"
    );
}

/// A writer that fails once `room` bytes are written.
struct Full {
    room: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.room {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "disk full"));
        }
        self.room -= buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_is_a_write_error() {
    let results = Coordinator::new(2).dispatch(Terrain, 100, 10).unwrap();
    for room in [0, 100, 1000] {
        let error = results.write_arrow_ipc(Full { room }).unwrap_err();
        match &error {
            Error::WriteFailed { task, kind, .. } => {
                assert_eq!((*task, *kind), ("Terrain", io::ErrorKind::WriteZero));
            }
            other => panic!("expected WriteFailed, got {other:?}"),
        }
        assert!(error.to_string().contains("disk full"), "{error}");
    }
}

#[test]
fn the_batch_holds_its_own_copy_of_the_values() {
    let results = Coordinator::new(2).dispatch(Terrain, 10, 3).unwrap();
    let batch = results.to_record_batch().unwrap();
    drop(results);
    let height: Arc<dyn Array> = batch.column(0).clone();
    assert_eq!(height.as_primitive::<Float32Type>().value(8), 2.0);
    let normal: &StructArray = batch.column(1).as_struct();
    assert_eq!(normal.len(), 10);
}

/// `results` written as a results file and read back with no Rust type.
fn as_file<T: Task>(results: &Results<T>) -> ResultsFile {
    let mut bytes = Vec::new();
    results.write_to(&mut bytes).unwrap();
    ResultsFile::read_from(bytes.as_slice()).unwrap()
}

#[test]
fn a_results_files_batch_has_the_typed_results_columns() {
    let coordinator = Coordinator::new(4);
    let cells = coordinator.dispatch(Terrain, COUNT, 64).unwrap();
    let everything = coordinator.dispatch(Everything, COUNT, 64).unwrap();
    let named = coordinator.dispatch(EverythingNamed, COUNT, 64).unwrap();
    let pairs = [
        (as_file(&cells), cells.to_record_batch().unwrap()),
        (as_file(&everything), everything.to_record_batch().unwrap()),
        (as_file(&named), named.to_record_batch().unwrap()),
    ];
    for (file, typed) in &pairs {
        let batch = file.to_record_batch().unwrap();
        assert_eq!(batch.schema().fields(), typed.schema().fields());
        assert_eq!(batch.columns(), typed.columns());
        // The file records no task name: no task key, the same fingerprint.
        let metadata = batch.schema().metadata().clone();
        assert_eq!(metadata.get(TASK_KEY), None);
        assert_eq!(metadata.len(), 1);
        assert_eq!(
            metadata[FINGERPRINT_KEY],
            typed.schema().metadata()[FINGERPRINT_KEY]
        );
        assert_eq!(typed.schema().metadata().len(), 2);
        // Its IPC file reads back as its batch.
        let mut ipc = Vec::new();
        file.write_arrow_ipc(&mut ipc).unwrap();
        let mut reader = FileReader::try_new(Cursor::new(ipc), None).unwrap();
        assert_eq!(reader.schema(), batch.schema());
        assert_eq!(reader.next().unwrap().unwrap(), batch);
        assert!(reader.next().is_none());
    }
    // And every value, against `get`.
    check_cells(&pairs[0].0.to_record_batch().unwrap(), &cells);
    check_all_types(&pairs[1].0.to_record_batch().unwrap(), &everything);
}

#[test]
fn a_results_files_bad_value_is_an_error_naming_its_field() {
    use parallelizer::zerocopy::FromBytes;

    let results = Coordinator::new(2).dispatch(Terrain, 20, 4).unwrap();
    // A file's packets are validated when they are decoded: write one
    // whose packet 6 holds a `bool` of 2.
    let bad = corrupt(results.as_bytes(), 6, "wet", 0, &[2]);
    let packets = <[<Terrain as Task>::Packet]>::ref_from_bytes(&bad).unwrap();
    let mut writer = PacketWriter::<Terrain, _>::new(Vec::new(), packets.len()).unwrap();
    writer.write(packets).unwrap();
    let file = ResultsFile::read_from(writer.finish().unwrap().as_slice()).unwrap();
    let error = file.to_record_batch().unwrap_err();
    assert_eq!(
        error,
        Error::InvalidPacket {
            task: ResultsFile::TASK,
            index: 6,
            field: 5,
            field_type: "bool",
            reason: InvalidValue::Field {
                index: 5,
                name: "wet",
                reason: Box::new(InvalidValue::InvalidBool { byte: 2 }),
            },
        }
    );
    let mut ipc = Vec::new();
    assert_eq!(file.write_arrow_ipc(&mut ipc), Err(error));
    assert!(ipc.is_empty());
}

/// A hand-written wire type whose shape claims a 16-byte enum: wider than
/// any discriminant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wide(pub [u8; 16]);

impl WireType for Wide {
    type Wire = [u8; 16];

    fn to_wire(&self) -> [u8; 16] {
        self.0
    }

    fn from_wire(wire: &[u8; 16]) -> Self {
        Wide(*wire)
    }

    fn validate(_: &[u8; 16]) -> Result<(), InvalidValue> {
        Ok(())
    }

    fn shape() -> Shape {
        Shape::enumeration("Wide", 16, [Variant::new("A", 0)])
    }
}

#[task(packet = (Wide,))]
pub struct Wides;

#[worker(Wides)]
fn wides(_: usize) -> (Wide,) {
    (Wide([0; 16]),)
}

#[test]
fn an_enum_wider_than_8_bytes_is_an_inconsistent_schema() {
    let results = Coordinator::new(2).dispatch(Wides, 3, 2).unwrap();
    let error = results.to_record_batch().unwrap_err();
    assert!(
        matches!(error, Error::ArrowExport { task: "Wides", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(
            "field `0` (Wide) is 16 bytes, but an enum's discriminant is 1, 2, 4 or 8 bytes"
        ),
        "{message}"
    );
}

/// The median of `runs` timings of `f`, in seconds.
fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// What the export costs beside a plain copy of the packet bytes:
/// `cargo test --release --test arrow -- --ignored --nocapture`.
#[test]
#[ignore = "a timing: run with --release -- --ignored --nocapture"]
fn time_to_record_batch_of_a_million_cells() {
    const CELLS: usize = 1_000_000;
    let results = Coordinator::new(4).dispatch(Terrain, CELLS, 4096).unwrap();
    let bytes = results.as_bytes().len();
    let copy = median_seconds(7, || {
        std::hint::black_box(results.as_bytes().to_vec());
    });
    let batch = median_seconds(7, || {
        std::hint::black_box(results.to_record_batch().unwrap());
    });
    let mut file = Vec::with_capacity(2 * bytes);
    let ipc = median_seconds(7, || {
        file.clear();
        results.write_arrow_ipc(&mut file).unwrap();
    });
    let mib = bytes as f64 / (1 << 20) as f64;
    println!(
        "{CELLS} Cell packets ({mib:.1} MiB), median of 7: as_bytes().to_vec() {:.2} ms \
         ({:.0} MiB/s); to_record_batch {:.2} ms ({:.0} MiB/s, {:.1}x the copy); \
         write_arrow_ipc to memory {:.2} ms ({:.1} MiB file)",
        copy * 1e3,
        mib / copy,
        batch * 1e3,
        mib / batch,
        batch / copy,
        ipc * 1e3,
        file.len() as f64 / (1 << 20) as f64,
    );
    assert_eq!(results.to_record_batch().unwrap().num_rows(), CELLS);
}
