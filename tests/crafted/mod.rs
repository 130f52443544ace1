//! Results files built byte by byte, as docs/FORMAT.md lays them out, so
//! that tests can write what no writer of this crate writes (a value that
//! is not valid, a schema that cannot be read) with checksums that hold.
//! Shared by `tests/results_file.rs` and the CLI's tests.
#![allow(dead_code)] // each test file uses its own share of them

/// CRC-32C, bit by bit, as docs/FORMAT.md defines it.
pub fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |crc, _| {
            (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg())
        })
    })
}

/// FNV-1a 64, as docs/FORMAT.md defines the fingerprint.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The kind tags of the canonical schema encoding (docs/FORMAT.md).
pub const TAG_U8: u64 = 1;
pub const TAG_U32: u64 = 3;
pub const TAG_BOOL: u64 = 11;
pub const TAG_STR: u64 = 12;
pub const TAG_ENUM: u64 = 14;
pub const TAG_STRUCT: u64 = 15;
pub const TAG_RAW: u64 = 16;

/// A node of a canonical schema encoding: name, tag, size, the kind's
/// parameters (already encoded), children.
pub fn node(name: &str, tag: u64, size: u64, params: &[u8], children: &[Vec<u8>]) -> Vec<u8> {
    let mut out = (name.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(params);
    out.extend_from_slice(&(children.len() as u64).to_le_bytes());
    for child in children {
        out.extend_from_slice(child);
    }
    out
}

/// A version-2 file whose stored schema is `schema` (any bytes), whose
/// header says packets of `packet_size` bytes and an unknown count, and
/// whose chunks say `n` packets and hold `bytes`: every checksum and the
/// trailer hold.
pub fn crafted_file(schema: &[u8], packet_size: u32, chunks: &[(u32, &[u8])]) -> Vec<u8> {
    let mut file = b"PRLZ".to_vec();
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&0u16.to_le_bytes());
    file.extend_from_slice(&fnv1a(schema).to_le_bytes());
    file.extend_from_slice(&packet_size.to_le_bytes());
    file.extend_from_slice(&u64::MAX.to_le_bytes());
    file.extend_from_slice(&(schema.len() as u32).to_le_bytes());
    file.extend_from_slice(schema);
    file.extend_from_slice(&crc32c(&file).to_le_bytes());
    let mut digest = Vec::new();
    let mut count = 0u64;
    for (index, (n, bytes)) in chunks.iter().enumerate() {
        let mut covered = (index as u64).to_le_bytes().to_vec();
        covered.extend_from_slice(&n.to_le_bytes());
        covered.extend_from_slice(bytes);
        let checksum = crc32c(&covered).to_le_bytes();
        file.extend_from_slice(&n.to_le_bytes());
        file.extend_from_slice(bytes);
        file.extend_from_slice(&checksum);
        digest.extend_from_slice(&checksum);
        count += u64::from(*n);
    }
    let mut trailer = 0u32.to_le_bytes().to_vec();
    trailer.extend_from_slice(&count.to_le_bytes());
    trailer.extend_from_slice(&crc32c(&digest).to_le_bytes());
    trailer.extend_from_slice(&crc32c(&trailer).to_le_bytes());
    trailer.extend_from_slice(b"ZLRP");
    file.extend_from_slice(&trailer);
    file
}

/// A file whose packets, of `packet_size` bytes, are the struct of
/// `fields` (nodes), holding `packets` (back to back) in one chunk.
pub fn crafted(fields: &[Vec<u8>], packet_size: u32, packets: &[u8]) -> Vec<u8> {
    let schema = node("", TAG_STRUCT, u64::from(packet_size), &[], fields);
    let n = (packets.len() / packet_size as usize) as u32;
    crafted_file(&schema, packet_size, &[(n, packets)])
}
