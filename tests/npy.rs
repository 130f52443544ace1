//! NPY files for numpy: the dtype of every kind of field, the header's bytes
//! and alignment, the packets' bytes after it, and the streaming writer.

mod common;

use common::{Biome, Cell};
use parallelizer::prelude::*;
use parallelizer::NpyWriter;

#[task(packet = Cell)]
pub struct Terrain;

#[worker(Terrain)]
fn terrain(task_id: usize) -> Cell {
    Cell {
        height: task_id as f32,
        normal: Vec3::new(0.0, 1.0, task_id as f64),
        biome: Biome::Forest,
        name: FixedStr::new(&format!("c{task_id}")).unwrap(),
        color: Color3::new(1.0, 0.0, 0.2),
        wet: task_id % 3 == 0,
    }
}

#[task(packet = (u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, FixedBytes<5>))]
pub struct Numbers;

#[worker(Numbers)]
fn numbers(
    task_id: usize,
) -> (
    u8,
    i8,
    u16,
    i16,
    u32,
    i32,
    u64,
    i64,
    f32,
    f64,
    bool,
    FixedBytes<5>,
) {
    let i = task_id;
    (
        i as u8,
        i as i8,
        i as u16,
        i as i16,
        i as u32,
        i as i32,
        i as u64,
        i as i64,
        i as f32,
        i as f64,
        true,
        FixedBytes::new(&[1, 2]).unwrap(),
    )
}

const CELL_DTYPE: &str = "[('height', '<f4'), ('normal', [('x', '<f8'), ('y', '<f8'), \
     ('z', '<f8')]), ('biome', '|u1'), ('name', [('len', '<u4'), ('bytes', '|S8')]), \
     ('color', [('r', '|u1'), ('g', '|u1'), ('b', '|u1')]), ('wet', '|b1')]";

#[test]
fn dtype_of_a_named_packet_nests_structs_and_slots() {
    assert_eq!(Terrain::schema().numpy_dtype(), CELL_DTYPE);
}

#[test]
fn dtype_of_every_number_kind_is_little_endian() {
    assert_eq!(
        Numbers::schema().numpy_dtype(),
        "[('0', '|u1'), ('1', '|i1'), ('2', '<u2'), ('3', '<i2'), ('4', '<u4'), \
         ('5', '<i4'), ('6', '<u8'), ('7', '<i8'), ('8', '<f4'), ('9', '<f8'), \
         ('10', '|b1'), ('11', [('len', '<u2'), ('bytes', '|u1', (5,))])]"
    );
}

/// The header's parts: magic, version, length, dictionary, padding.
fn split_header(file: &[u8]) -> (u8, usize, &str) {
    assert_eq!(&file[..6], b"\x93NUMPY");
    assert_eq!(file[7], 0);
    let (prefix, len) = match file[6] {
        1 => (10, u16::from_le_bytes([file[8], file[9]]) as usize),
        2 | 3 => (
            12,
            u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize,
        ),
        v => panic!("version {v}"),
    };
    let header = std::str::from_utf8(&file[prefix..prefix + len]).unwrap();
    (file[6], prefix + len, header)
}

#[test]
fn write_npy_header_is_aligned_and_the_data_is_the_packets(
) -> Result<(), Box<dyn std::error::Error>> {
    let coordinator = Coordinator::new(4);
    for count in [0, 1, 7, 1000] {
        let results = coordinator.dispatch(Terrain, count, 16)?;
        let mut file = Vec::new();
        results.write_npy(&mut file)?;
        let (version, data, header) = split_header(&file);
        assert_eq!(version, 1);
        assert_eq!(data % 64, 0, "data starts at a multiple of 64");
        assert!(header.ends_with('\n'));
        let dict = header.trim_end_matches('\n').trim_end_matches(' ');
        assert_eq!(
            dict,
            format!("{{'descr': {CELL_DTYPE}, 'fortran_order': False, 'shape': ({count},), }}")
        );
        // Padded with spaces only, and only as much as the alignment needs.
        assert!(header.len() - dict.len() - 1 < 64);
        assert_eq!(&file[data..], results.as_bytes());
    }
    Ok(())
}

#[test]
fn header_bytes_of_a_small_packet() -> Result<(), Box<dyn std::error::Error>> {
    #[task(packet = (u16, bool))]
    pub struct Pair;

    #[worker(Pair)]
    fn pair(task_id: usize) -> (u16, bool) {
        (task_id as u16 * 3, task_id % 2 == 1)
    }

    let results = Coordinator::new(2).dispatch(Pair, 2, 1)?;
    let mut file = Vec::new();
    results.write_npy(&mut file)?;
    let dict = b"{'descr': [('0', '<u2'), ('1', '|b1')], 'fortran_order': False, 'shape': (2,), }";
    let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    expected.extend_from_slice(dict);
    expected.resize(127, b' ');
    expected.push(b'\n');
    expected.extend_from_slice(&[0, 0, 0, 3, 0, 1]);
    assert_eq!(file, expected);
    Ok(())
}

#[test]
fn streaming_writer_matches_write_npy_and_checks_the_count(
) -> Result<(), Box<dyn std::error::Error>> {
    let coordinator = Coordinator::new(4);
    let results = coordinator.dispatch(Terrain, 100, 16)?;
    let mut whole = Vec::new();
    results.write_npy(&mut whole)?;

    let mut npy = NpyWriter::<Terrain, _>::new(Vec::new(), 100)?;
    for batch in coordinator.stream(Terrain, 100, 30) {
        npy.write(batch?.packets())?;
    }
    assert_eq!((npy.declared(), npy.written()), (100, 100));
    assert_eq!(npy.finish()?, whole);

    // Too many packets: refused, nothing written.
    let mut npy = NpyWriter::<Terrain, _>::new(Vec::new(), 10)?;
    let error = npy.write(results.packets()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(npy.written(), 0);
    // Too few: `finish` fails.
    npy.write(&results.packets()[..9])?;
    let error = npy.finish().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    Ok(())
}
