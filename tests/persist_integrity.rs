//! Format 2's integrity: every single corrupted byte of a file, and every
//! cut, is an error that names where (the header, the schema, chunk `k`, the
//! trailer), never a shorter result; streaming writes; bounded memory.

use parallelizer::persist::{FormatVersion, CHUNK_BYTES, TRAILER_SIZE, UNKNOWN_COUNT};
use parallelizer::prelude::*;
use parallelizer::PacketWriter;

#[task(packet = (u16, FixedStr<11>))]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize) -> (u16, FixedStr<11>) {
    let text = format!("id {task_id}");
    ((task_id * 3) as u16, FixedStr::new(&text).unwrap())
}

const PACKET: usize = 17;

/// CRC-32C, bit by bit, as docs/FORMAT.md defines it.
fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |crc, _| {
            (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg())
        })
    })
}

fn results(threads: usize) -> Results<Hello> {
    Coordinator::new(4).dispatch(Hello, threads, 64).unwrap()
}

fn file_of(results: &Results<Hello>) -> Vec<u8> {
    let mut file = Vec::new();
    results.write_to(&mut file).unwrap();
    file
}

fn read(file: &[u8]) -> Result<Results<Hello>, Error> {
    Results::<Hello>::read_from(file)
}

/// Where the header's checksum ends and chunk 0 starts.
fn chunks_at() -> usize {
    28 + 4 + Hello::schema().canonical_encoding().len() + 4
}

/// The part an error names, from its message.
fn part_named(error: &Error) -> &'static str {
    let message = error.to_string();
    for (words, part) in [
        ("schema stored in the results file", "schema"),
        ("ends inside its schema", "schema"),
        ("chunk ", "chunk"),
        ("the trailer", "trailer"),
        ("the header", "header"),
        ("results file header", "header"),
        ("format version", "header"),
        ("not a parallelizer results file", "header"),
    ] {
        if message.contains(words) {
            return part;
        }
    }
    panic!("the error names no part of the file: {message}")
}

/// The part byte `at` of a one-chunk file of `len` bytes is in.
fn part_of(at: usize, len: usize) -> &'static str {
    let schema = 28 + 4..chunks_at() - 4;
    if schema.contains(&at) {
        "schema"
    } else if at < chunks_at() {
        "header"
    } else if at < len - TRAILER_SIZE {
        "chunk"
    } else {
        "trailer"
    }
}

#[test]
fn every_corrupted_byte_of_a_small_file_is_an_error_that_says_where() {
    let file = file_of(&results(3));
    let len = file.len();
    let mut checked = 0;
    for at in 0..len {
        for mask in 1..=255u8 {
            let mut corrupt = file.clone();
            corrupt[at] ^= mask;
            let error = match read(&corrupt) {
                Ok(read) => panic!(
                    "byte {at} ^ {mask:#04x}: read {} packets, no error",
                    read.len()
                ),
                Err(error) => error,
            };
            let found = part_named(&error);
            let expected = part_of(at, len);
            // A chunk's count that changed may make it run into the trailer,
            // or one that became 0 makes the trailer start early; a trailer's
            // end marker that is no longer 0 reads as a chunk at the
            // trailer's offset; a schema size that changed makes the schema
            // end elsewhere.
            let near = matches!(
                (expected, found),
                ("chunk", "trailer") | ("trailer", "chunk") | ("header", "schema")
            );
            assert!(
                found == expected || near,
                "byte {at} ^ {mask:#04x} (in the {expected}) reported in the {found}: {error}"
            );
            if (chunks_at() + 4..len - TRAILER_SIZE).contains(&at) {
                assert!(
                    matches!(&error, Error::ChecksumMismatch { part, .. } if part == "chunk 0"),
                    "byte {at}: {error:?}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, len * 255);
}

#[test]
fn a_small_file_cut_anywhere_is_an_error() {
    for threads in [0, 3] {
        let file = file_of(&results(threads));
        for cut in 0..file.len() {
            let error = read(&file[..cut])
                .map(|read| read.len())
                .expect_err(&format!("cut at {cut}"));
            assert!(
                error.to_string().contains("truncated")
                    || matches!(
                        error,
                        Error::NotAResultsFile { .. } | Error::TruncatedHeader { .. }
                    ),
                "cut at {cut}: {error}"
            );
        }
        assert_eq!(read(&file).unwrap().len(), threads);
    }
}

#[test]
fn a_file_of_several_chunks_checks_each() {
    // 2 full chunks and a part of one.
    let per_chunk = CHUNK_BYTES / PACKET;
    let threads = 2 * per_chunk + 1000;
    let results = results(threads);
    let file = file_of(&results);
    assert_eq!(read(&file).unwrap(), results);
    let chunk = 8 + per_chunk * PACKET;
    let starts = [chunks_at(), chunks_at() + chunk, chunks_at() + 2 * chunk];
    assert_eq!(
        file.len(),
        starts[2] + 8 + 1000 * PACKET + TRAILER_SIZE,
        "chunks of {per_chunk} packets"
    );
    for (k, &start) in starts.iter().enumerate() {
        for at in [
            start,
            start + 3,
            start + 4,
            start + 7,
            start + 8,
            start + 5000,
        ] {
            let mut corrupt = file.clone();
            corrupt[at] ^= 0x10;
            let error = read(&corrupt).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(&format!("chunk {k}")) || message.contains("the trailer"),
                "byte {at}: {message}"
            );
            if at >= start + 4 {
                assert!(
                    message.contains(&format!("chunk {k}, at byte {start}")),
                    "{message}"
                );
            }
        }
        for cut in [start, start + 1, start + 8, start + 100] {
            let error = read(&file[..cut]).unwrap_err();
            assert!(matches!(error, Error::TruncatedFile { .. }), "{error:?}");
        }
    }
    // Two chunks swapped (their counts are equal): each chunk's checksum
    // covers its index.
    let mut swapped = file.clone();
    swapped[starts[0]..starts[1]].copy_from_slice(&file[starts[1]..starts[2]]);
    swapped[starts[1]..starts[2]].copy_from_slice(&file[starts[0]..starts[1]]);
    let error = read(&swapped).unwrap_err();
    assert!(error.to_string().contains("chunk 0"), "{error}");
    // A chunk dropped: the next is read with the wrong index.
    let mut dropped = file[..starts[1]].to_vec();
    dropped.extend_from_slice(&file[starts[2]..]);
    let error = read(&dropped).unwrap_err();
    assert!(error.to_string().contains("chunk 1"), "{error}");
}

#[test]
fn streaming_writes_need_no_count_and_give_the_same_packets() -> Result<(), Error> {
    let per_chunk = CHUNK_BYTES / PACKET;
    // From 4 whole chunks in one write, their checksums are taken in parallel.
    for threads in [
        0,
        1,
        7,
        per_chunk,
        per_chunk + 1,
        3 * per_chunk - 1,
        5 * per_chunk + 3,
    ] {
        let results = results(threads);
        let declared = file_of(&results);
        for split in [1, 1000, per_chunk - 1, per_chunk + 5] {
            let mut writer = PacketWriter::<Hello, _>::streaming(Vec::new())?;
            assert_eq!(writer.declared(), usize::MAX);
            for part in results.packets().chunks(split.min(threads.max(1))) {
                writer.write(part)?;
            }
            assert_eq!(writer.written(), threads);
            let file = writer.finish()?;
            assert_eq!(&file[20..28], &UNKNOWN_COUNT.to_le_bytes());
            assert_eq!(
                read(&file)?,
                results,
                "{threads} packets in writes of {split}"
            );
            // The same bytes as with a declared count, but for the header's
            // count and checksum.
            assert_eq!(file.len(), declared.len());
            let chunks = chunks_at();
            assert_eq!(file[chunks..], declared[chunks..]);
            if split > 1000 {
                break;
            }
        }
    }
    Ok(())
}

#[test]
fn an_unfinished_writer_leaves_a_file_that_is_not_read_as_complete() -> Result<(), Error> {
    let results = results(3 * CHUNK_BYTES / PACKET);
    let mut file = Vec::new();
    let mut writer = PacketWriter::<Hello, _>::streaming(&mut file)?;
    writer.write(results.packets())?;
    drop(writer);
    let error = read(&file).unwrap_err();
    assert!(
        matches!(&error, Error::TruncatedFile { part, .. } if part == "the trailer"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_declared_count_is_checked_against_the_trailer() {
    let file = file_of(&results(5));
    // A header count of 4, its checksum made right: chunk 0 holds more.
    let mut corrupt = file.clone();
    corrupt[20..28].copy_from_slice(&4u64.to_le_bytes());
    let end = chunks_at() - 4;
    let checksum = crc32c(&corrupt[..end]);
    corrupt[end..end + 4].copy_from_slice(&checksum.to_le_bytes());
    let error = read(&corrupt).unwrap_err();
    assert!(
        matches!(&error, Error::CorruptFile { part, .. } if part == "chunk 0"),
        "{error:?}"
    );
    // And of 6: the trailer says 5.
    corrupt[20..28].copy_from_slice(&6u64.to_le_bytes());
    let checksum = crc32c(&corrupt[..end]);
    corrupt[end..end + 4].copy_from_slice(&checksum.to_le_bytes());
    let error = read(&corrupt).unwrap_err();
    assert!(error.to_string().contains("header declares 6"), "{error}");
}

#[test]
fn a_lying_chunk_count_costs_no_more_memory_than_the_data() {
    // Chunk 0 of a file of unknown count claims u32::MAX packets (73 GB):
    // the reader reads what is there.
    let mut writer = PacketWriter::<Hello, _>::streaming(Vec::new()).unwrap();
    writer.write(results(3).packets()).unwrap();
    let mut file = writer.finish().unwrap();
    let at = chunks_at();
    file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let error = read(&file).unwrap_err();
    assert!(
        matches!(&error, Error::TruncatedFile { part, .. } if part == "chunk 0"),
        "{error:?}"
    );
}

#[test]
fn version_1_files_still_read() -> Result<(), Error> {
    let results = results(100);
    let mut file = Vec::new();
    results.write_to_format(&mut file, FormatVersion::V1)?;
    assert_eq!(file.len(), 28 + 100 * PACKET);
    assert_eq!(read(&file)?, results);
    Ok(())
}
