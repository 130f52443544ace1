//! `#[derive(WireType)]`: named, tuple and nested structs and fieldless
//! enums, as packet fields and as whole packets (`#[task(packet = Cell)]`):
//! their bytes, their validation, their schema and their `Debug`.

mod common;

use common::{Biome, Cell, CellWire};
use parallelizer::prelude::*;
use parallelizer::zerocopy::IntoBytes;
use parallelizer::{InvalidValue, Kind, Schema, Shape, Variant};

#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Pair(pub u16, pub i16);

/// A derived struct is a whole packet.
#[task(packet = Cell, args = f32)]
pub struct Terrain;

#[worker(Terrain)]
fn terrain(task_id: usize, offset: &f32) -> Cell {
    cell(task_id, *offset)
}

/// And a field of a tuple packet, nested.
#[task(packet = (u8, Cell, Pair))]
pub struct Mixed;

#[worker(Mixed)]
fn mixed(task_id: usize) -> (u8, Cell, Pair) {
    (
        task_id as u8,
        cell(task_id, 0.0),
        Pair(task_id as u16, -(task_id as i16)),
    )
}

const BIOMES: [Biome; 4] = [Biome::Ocean, Biome::Plains, Biome::Forest, Biome::Mountain];

fn cell(task_id: usize, offset: f32) -> Cell {
    Cell {
        height: task_id as f32 + offset,
        normal: Vec3::new(0.0, 1.0, task_id as f64),
        biome: BIOMES[task_id % 4],
        name: FixedStr::new(&format!("c{task_id}")).unwrap(),
        color: Color3::new(1.0, 0.0, 0.2),
        wet: task_id % 3 == 0,
    }
}

#[test]
fn the_issue_contract() -> Result<(), Error> {
    let coordinator = Coordinator::new(16);
    let results = coordinator.dispatch_with(Terrain, 512 * 512, 256, 0.5)?;
    let cell: Cell = results.get(7).unwrap();
    assert_eq!(cell, self::cell(7, 0.5));
    assert_eq!(Terrain::PACKET_SIZE, 4 + 24 + 1 + 12 + 3 + 1);
    assert_eq!(results.iter().nth(9), Some(self::cell(9, 0.5)));
    assert_eq!(results.iter().count(), 512 * 512);
    Ok(())
}

#[test]
fn a_struct_packet_has_the_bytes_of_the_same_fields_as_a_tuple() -> Result<(), Error> {
    #[task(packet = (f32, Vec3, Biome, FixedStr<8>, Color3, bool), args = f32)]
    pub struct Flat;

    #[worker(Flat)]
    fn flat(task_id: usize, offset: &f32) -> (f32, Vec3, Biome, FixedStr<8>, Color3, bool) {
        let c = cell(task_id, *offset);
        (c.height, c.normal, c.biome, c.name, c.color, c.wet)
    }

    let coordinator = Coordinator::new(8);
    let structs = coordinator.dispatch_with(Terrain, 1000, 16, 0.25)?;
    let tuples = coordinator.dispatch_with(Flat, 1000, 16, 0.25)?;
    assert_eq!(structs.as_bytes(), tuples.as_bytes());
    assert_eq!(Terrain::FIELD_SIZES, Flat::FIELD_SIZES);
    assert_eq!(
        Terrain::FIELD_TYPES,
        ["f32", "Vec3", "Biome", "FixedStr<8>", "Color3", "bool"]
    );
    // The bytes of one cell, by hand.
    let mut expected = Vec::new();
    expected.extend(3.25f32.to_le_bytes());
    for v in [0.0f64, 1.0, 3.0] {
        expected.extend(v.to_le_bytes());
    }
    expected.push(7); // Mountain
    expected.extend([2, 0, 0, 0, b'c', b'3', 0, 0, 0, 0, 0, 0]);
    expected.extend([255, 0, 51]);
    expected.push(1); // 3 % 3 == 0
    assert_eq!(structs.packets()[3].as_bytes(), expected.as_slice());
    Ok(())
}

#[test]
fn packets_view_in_place_with_named_fields() -> Result<(), Error> {
    let results = Coordinator::new(4).dispatch_with(Terrain, 10, 3, 0.0)?;
    let packet: &TerrainPacket = &results.packets()[5];
    let packet: &CellWire = packet;
    assert_eq!(packet.height.get(), 5.0);
    assert_eq!(packet.normal.z.get(), 5.0);
    assert_eq!(packet.biome, Biome::Plains.to_wire());
    assert_eq!(packet.name.len.get(), 2);
    assert_eq!(packet.wet, 0);
    assert_eq!(Cell::from_wire(packet), cell(5, 0.0));
    assert_eq!(
        format!("{packet:?}"),
        "CellWire { height: 5.0, normal: Vec3Wire { x: 0.0, y: 1.0, z: 5.0 }, biome: Plains, \
         name: FixedStrWire<8>(\"c5\"), color: Color3Wire { r: 255, g: 0, b: 51 }, wet: false }"
    );
    let mixed = Coordinator::new(4).dispatch(Mixed, 3, 1)?;
    let packet = &mixed.packets()[2];
    assert_eq!(packet.2, Pair(2, -2).to_wire());
    assert_eq!(format!("{:?}", packet.2), "PairWire(2, -2)");
    Ok(())
}

#[test]
fn nested_structs_round_trip() -> Result<(), Error> {
    let results = Coordinator::new(4).dispatch(Mixed, 50, 7)?;
    for (task_id, (byte, c, pair)) in results.iter().enumerate() {
        assert_eq!(byte, task_id as u8);
        assert_eq!(c, cell(task_id, 0.0));
        assert_eq!(pair, Pair(task_id as u16, -(task_id as i16)));
    }
    assert_eq!(Mixed::PACKET_SIZE, 1 + 45 + 4);
    let copy = Results::<Mixed>::from_bytes(results.as_bytes().to_vec())?;
    assert_eq!(copy, results);
    Ok(())
}

#[derive(WireType, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Wide {
    A = 300,
    B,
    C = 1,
}

#[derive(WireType, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Huge {
    Small,
    Big = 0xDEAD_BEEF,
}

#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Deep {
    pub inner: Inner,
    pub huge: Huge,
}

#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Inner {
    pub pair: Pair,
    pub wide: Wide,
    pub flag: bool,
}

#[test]
fn enums_are_their_discriminants_little_endian() {
    assert_eq!(Biome::Mountain.to_wire().as_bytes(), [7]);
    assert_eq!(Wide::A.to_wire().as_bytes(), 300u16.to_le_bytes());
    assert_eq!(Wide::B.to_wire().as_bytes(), 301u16.to_le_bytes());
    assert_eq!(Wide::C.to_wire().as_bytes(), [1, 0]);
    assert_eq!(Huge::Big.to_wire().as_bytes(), 0xDEAD_BEEFu32.to_le_bytes());
    for wide in [Wide::A, Wide::B, Wide::C] {
        assert_eq!(Wide::validate(&wide.to_wire()), Ok(()));
        assert_eq!(Wide::from_wire(&wide.to_wire()), wide);
    }
    assert_eq!(format!("{:?}", Huge::Big.to_wire()), "Big");
    let deep = Deep {
        inner: Inner {
            pair: Pair(1, -1),
            wide: Wide::B,
            flag: true,
        },
        huge: Huge::Big,
    };
    let wire = deep.to_wire();
    assert_eq!(
        wire.as_bytes(),
        [1, 0, 0xFF, 0xFF, 45, 1, 1, 0xEF, 0xBE, 0xAD, 0xDE]
    );
    assert_eq!(Deep::from_wire(&wire), deep);
    assert_eq!(
        format!("{wire:?}"),
        "DeepWire { inner: InnerWire { pair: PairWire(1, -1), wide: B, flag: true }, huge: Big }"
    );
}

#[test]
fn a_value_that_is_no_variant_is_refused_naming_the_field_and_the_value() {
    let mut wire = Biome::Forest.to_wire();
    wire.0 = 9;
    assert_eq!(
        Biome::validate(&wire),
        Err(InvalidValue::InvalidDiscriminant {
            type_name: "Biome",
            value: 9
        })
    );
    // Read anyway, it is some variant: never a panic.
    assert_eq!(Biome::from_wire(&wire), Biome::Ocean);
    assert_eq!(format!("{wire:?}"), "Biome(9)");

    // In a whole packet: the field is named by its index, its type and its name.
    let results = Coordinator::new(4)
        .dispatch_with(Terrain, 4, 2, 0.0)
        .unwrap();
    let mut bytes = results.into_bytes();
    bytes[2 * Terrain::PACKET_SIZE + 28] = 9;
    let error = Results::<Terrain>::from_bytes(bytes).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidPacket {
            task: "Terrain",
            index: 2,
            field: 2,
            field_type: "Biome",
            reason: InvalidValue::Field {
                index: 2,
                name: "biome",
                reason: Box::new(InvalidValue::InvalidDiscriminant {
                    type_name: "Biome",
                    value: 9
                }),
            },
        }
    );
    assert_eq!(
        error.to_string(),
        "packet 2 of task `Terrain`, field 2 (Biome): field `biome`: 9 is not a variant of `Biome`"
    );

    // Nested in a tuple packet's field.
    let results = Coordinator::new(4).dispatch(Mixed, 2, 2).unwrap();
    let mut bytes = results.into_bytes();
    bytes[Mixed::PACKET_SIZE + 1 + 28] = 3;
    let error = Results::<Mixed>::from_bytes(bytes).unwrap_err();
    assert_eq!(
        error.to_string(),
        "packet 1 of task `Mixed`, field 1 (Cell): field `biome`: 3 is not a variant of `Biome`"
    );
}

#[test]
fn validation_checks_every_nested_field() {
    let deep = Deep {
        inner: Inner {
            pair: Pair(1, 2),
            wide: Wide::A,
            flag: false,
        },
        huge: Huge::Small,
    };
    let mut wire = deep.to_wire();
    wire.inner.flag = 2;
    assert_eq!(
        Deep::validate(&wire),
        Err(InvalidValue::Field {
            index: 0,
            name: "inner",
            reason: Box::new(InvalidValue::Field {
                index: 2,
                name: "flag",
                reason: Box::new(InvalidValue::InvalidBool { byte: 2 }),
            }),
        })
    );
    let mut wire = deep.to_wire();
    wire.huge.0.set(5);
    let error = Deep::validate(&wire).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `huge`: 5 is not a variant of `Huge`"
    );
    let mut wire = deep.to_wire();
    wire.inner.wide.0.set(2);
    let error = Deep::validate(&wire).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `inner`: field `wide`: 2 is not a variant of `Wide`"
    );

    // A string slot in a struct.
    let mut wire = cell(1, 0.0).to_wire();
    wire.name.bytes[7] = b'x';
    assert_eq!(
        Cell::validate(&wire).unwrap_err().to_string(),
        "field `name`: padding after the value is not zero (first nonzero byte at offset 7)"
    );
}

#[test]
fn the_schema_is_the_layout_as_a_tree() {
    let schema = Terrain::schema();
    assert_eq!(schema.type_name(), "Cell");
    assert_eq!(schema.packet_size(), 45);
    let top: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name(), f.type_name(), f.offset(), f.size()))
        .collect();
    assert_eq!(
        top,
        [
            ("height", "f32", 0, 4),
            ("normal", "Vec3", 4, 24),
            ("biome", "Biome", 28, 1),
            ("name", "FixedStr<8>", 29, 12),
            ("color", "Color3", 41, 3),
            ("wet", "bool", 44, 1),
        ]
    );
    let y = schema.field("normal.y").unwrap();
    assert_eq!((y.offset(), y.size(), y.kind()), (12, 8, &Kind::F64));
    assert_eq!(
        schema.field("biome").unwrap().kind(),
        &Kind::Enum {
            variants: vec![
                Variant::new("Ocean", 0),
                Variant::new("Plains", 1),
                Variant::new("Forest", 2),
                Variant::new("Mountain", 7),
            ]
        }
    );
    assert_eq!(schema.field("color.g").unwrap().kind(), &Kind::U8);
    assert_eq!(schema.field("name.bytes").unwrap().offset(), 33);
    assert!(schema.field("normal.w").is_none());

    let mixed = Mixed::schema();
    assert_eq!(mixed.type_name(), "(u8, Cell, Pair)");
    assert_eq!(mixed.field("1.normal.z").unwrap().offset(), 1 + 4 + 16);
    assert_eq!(mixed.field("2.1").unwrap().kind(), &Kind::I16);
    let deep = Shape::of::<Deep>();
    assert_eq!(deep.fields()[0].1.fields()[1].1.size(), 2);
    assert_eq!(Schema::of::<Terrain>(), schema);
}

/// Cell's fields, renamed.
#[derive(WireType, Clone, Copy)]
pub struct Renamed {
    pub height: f32,
    pub normal: Vec3,
    pub kind: Biome,
    pub name: FixedStr<8>,
    pub color: Color3,
    pub wet: bool,
}

#[task(packet = Renamed)]
pub struct RenamedTask;

/// Cell under another name: the same layout.
#[derive(WireType, Clone, Copy)]
pub struct Tile {
    pub height: f32,
    pub normal: Vec3,
    pub biome: Biome,
    pub name: FixedStr<8>,
    pub color: Color3,
    pub wet: bool,
}

#[task(packet = Tile)]
pub struct TileTask;

#[test]
fn names_are_in_the_fingerprint_type_names_are_not() {
    assert_eq!(
        TileTask::schema().fingerprint(),
        Terrain::schema().fingerprint()
    );
    assert_ne!(
        RenamedTask::schema().fingerprint(),
        Terrain::schema().fingerprint()
    );
    // The same fields as a tuple are named by position: another layout.
    #[task(packet = (f32, Vec3, Biome, FixedStr<8>, Color3, bool))]
    pub struct Flat;
    assert_ne!(
        Flat::schema().fingerprint(),
        Terrain::schema().fingerprint()
    );
    assert_eq!(Flat::PACKET_SIZE, Terrain::PACKET_SIZE);
}

// Struct packets through every way of running a task.

#[test]
fn dispatch_into_refills_a_kept_buffer_of_struct_packets() -> Result<(), Error> {
    let coordinator = Coordinator::new(16);
    let mut results = Results::new();
    coordinator.dispatch_with_into(Terrain, 4096, 64, 0.0, &mut results)?;
    let address = results.as_bytes().as_ptr();
    for (frame, threads) in [4096, 4000, 1, 4095].into_iter().enumerate() {
        let offset = frame as f32;
        coordinator.dispatch_with_into(Terrain, threads, 7, offset, &mut results)?;
        assert_eq!(results.len(), threads);
        assert_eq!(results.get(threads - 1), Some(cell(threads - 1, offset)));
        assert_eq!(
            results.as_bytes().as_ptr(),
            address,
            "the buffer was reallocated"
        );
    }
    Ok(())
}

#[test]
fn streams_give_struct_packets_batch_by_batch() -> Result<(), Error> {
    let coordinator = Coordinator::new(8);
    let whole = coordinator.dispatch_with(Terrain, 1000, 64, 2.0)?;
    let mut concatenated = Vec::new();
    for batch in coordinator.stream_with(Terrain, 1000, 64, 2.0).window(2) {
        let batch = batch?;
        for (index, task_id) in batch.task_ids().enumerate() {
            assert_eq!(batch.get(index), Some(cell(task_id, 2.0)));
            assert_eq!(batch.packets()[index].height.get(), task_id as f32 + 2.0);
        }
        concatenated.extend_from_slice(batch.as_bytes());
    }
    assert_eq!(concatenated, whole.as_bytes());
    Ok(())
}

#[test]
fn spawned_dispatches_give_struct_packets() -> Result<(), Error> {
    let coordinator = Coordinator::new(8);
    let dispatch = coordinator.spawn(Mixed, 300, 16);
    let results = dispatch.wait()?;
    assert_eq!(results.get(299).map(|(_, c, _)| c), Some(cell(299, 0.0)));
    Ok(())
}

/// A hand-written wire type that does not describe itself: raw bytes in the
/// schema, and everything else works.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meters(pub f32);

impl WireType for Meters {
    type Wire = parallelizer::zerocopy::little_endian::F32;

    fn to_wire(&self) -> Self::Wire {
        Self::Wire::new(self.0)
    }

    fn from_wire(wire: &Self::Wire) -> Self {
        Meters(wire.get())
    }

    fn validate(_: &Self::Wire) -> Result<(), InvalidValue> {
        Ok(())
    }
}

#[derive(WireType, Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub from: Meters,
    pub to: Meters,
}

#[task(packet = Span)]
pub struct Spans;

#[worker(Spans)]
fn spans(task_id: usize) -> Span {
    Span {
        from: Meters(task_id as f32),
        to: Meters(task_id as f32 + 0.5),
    }
}

#[test]
fn hand_written_wire_types_nest_in_derived_structs() -> Result<(), Error> {
    let results = Coordinator::new(4).dispatch(Spans, 10, 3)?;
    assert_eq!(
        results.get(4),
        Some(Span {
            from: Meters(4.0),
            to: Meters(4.5)
        })
    );
    let schema = Spans::schema();
    let from = schema.field("from").unwrap();
    assert_eq!(
        (from.type_name(), from.kind(), from.size()),
        ("Meters", &Kind::Raw, 4)
    );
    assert_eq!(schema.field("to").unwrap().offset(), 4);
    assert_eq!(
        format!("{:?}", results.packets()[1]),
        "SpanWire { from: F32(1.0), to: F32(1.5) }"
    );
    Ok(())
}

/// Raw identifiers are named without their `r#`.
#[derive(WireType, Clone, Copy, Debug, PartialEq)]
pub struct Keywords {
    pub r#type: u8,
    pub r#match: bool,
}

#[test]
fn raw_identifiers_are_named_without_their_prefix() {
    let shape = Shape::of::<Keywords>();
    let names: Vec<_> = shape.fields().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["type", "match"]);
    let value = Keywords {
        r#type: 3,
        r#match: true,
    };
    let wire = value.to_wire();
    assert_eq!((wire.r#type, wire.r#match), (3, 1));
    assert_eq!(format!("{wire:?}"), "KeywordsWire { type: 3, match: true }");
    assert_eq!(Keywords::from_wire(&wire), value);
}

/// A struct packet and actor state together: each actor counts its calls
/// and numbers its own packets.
#[task(packet = Pair, state = u16)]
pub struct Numbered;

#[worker(Numbered)]
fn numbered(task_id: usize, calls: &mut u16) -> Pair {
    *calls += 1;
    Pair(*calls, task_id as i16)
}

#[test]
fn struct_packets_and_actor_state_work_together() -> Result<(), Error> {
    let coordinator = Coordinator::builder().actors(4).threads(2).build()?;
    let results = coordinator.dispatch(Numbered, 64, 4)?;
    // Batch k runs on actor k % 4, in order: actor 0 runs batches 0, 4, 8,
    // 12, so task 16 (batch 4) is its 5th call.
    assert_eq!(results.get(16), Some(Pair(5, 16)));
    assert_eq!(results.get(63), Some(Pair(16, 63)));
    let states = coordinator.take_states(Numbered);
    assert_eq!(states, vec![16; 4]);
    Ok(())
}

/// Derived types and tasks declared in a function body, and through a
/// `macro_rules!` macro, compile and run like any other: the generated
/// code's checks name the types by path, whatever the scope.
#[test]
fn derived_types_and_tasks_declared_in_a_function_body() -> Result<(), Error> {
    macro_rules! wire_struct {
        ($name:ident { $($field:ident: $ty:ty),* }) => {
            #[derive(WireType, Debug, Clone, Copy, PartialEq)]
            struct $name { $($field: $ty),* }
        };
    }
    wire_struct!(Local {
        id: u32,
        side: Side
    });

    #[derive(WireType, Debug, Clone, Copy, PartialEq)]
    #[repr(u16)]
    enum Side {
        Left = 3,
        Right = 300,
    }

    #[task(packet = Local)]
    struct Whole;

    #[worker(Whole)]
    fn whole(task_id: usize) -> Local {
        Local {
            id: task_id as u32,
            side: if task_id % 2 == 0 {
                Side::Left
            } else {
                Side::Right
            },
        }
    }

    macro_rules! tuple_task {
        ($name:ident, $packet:ty) => {
            #[task(packet = $packet)]
            struct $name;
        };
    }
    tuple_task!(Tuple, (Side, Local));

    #[worker(Tuple)]
    fn tuple(task_id: usize) -> (Side, Local) {
        (Side::Right, whole(task_id))
    }

    let coordinator = Coordinator::new(2);
    assert_eq!(Whole::PACKET_SIZE, 4 + 2);
    assert_eq!(Tuple::PACKET_SIZE, 2 + 4 + 2);
    let results = coordinator.dispatch(Whole, 4, 2)?;
    assert_eq!(
        results.get(3),
        Some(Local {
            id: 3,
            side: Side::Right
        })
    );
    let results = coordinator.dispatch(Tuple, 4, 2)?;
    assert_eq!(results.get(2), Some((Side::Right, whole(2))));
    Ok(())
}
