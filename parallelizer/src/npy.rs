//! Results as NPY files, numpy's own array format: a header whose structured
//! dtype is the packet layout ([`Schema::numpy_dtype`]), then the packets'
//! bytes exactly as [`Results::as_bytes`] holds them, so that
//! `numpy.load("x.npy", mmap_mode="r")["height"]` reads a field without
//! copying anything.
//!
//! The header follows the NPY format (version 1.0, or 2.0 for a header of
//! 64 KiB or more, or 3.0 for field names that are not ASCII): the magic
//! string `\x93NUMPY`, the version, the header's length, then the Python
//! literal `{'descr': ..., 'fortran_order': False, 'shape': (n,), }` padded
//! with spaces and ended by a newline so that the packets start at a
//! multiple of 64 bytes.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::marker::PhantomData;

use zerocopy::IntoBytes;

use crate::results::Results;
use crate::schema::{Schema, SchemaField};
use crate::task::Task;
use crate::wire::Kind;

/// The NPY data starts at a multiple of this many bytes.
const ALIGN: usize = 64;

/// The numpy `descr` of the packet: see [`Schema::numpy_dtype`].
pub(crate) fn dtype(schema: &Schema) -> String {
    let mut out = String::new();
    write_fields(&mut out, schema.fields());
    out
}

/// `[('name', format), ...]` for `fields`.
fn write_fields(out: &mut String, fields: &[SchemaField]) {
    out.push('[');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_field(out, field, field.kind());
    }
    out.push(']');
}

/// `('name', format)` or `('name', format, (n,))` for one field; `parent`
/// is the kind of the node that holds it (its own kind for a packet field).
fn write_field(out: &mut String, field: &SchemaField, parent: &Kind) {
    out.push('(');
    write_literal(out, field.name());
    out.push_str(", ");
    let size = field.size();
    match field.kind() {
        Kind::Raw if matches!(parent, Kind::Str { .. }) => {
            // A string slot's bytes: numpy's bytes type, which reads as
            // Python `bytes` with the zero padding stripped.
            let _ = write!(out, "'|S{size}'");
        }
        Kind::Raw => {
            // Raw bytes, and a byte slot's bytes (whose trailing zeros may be
            // data): an array of `size` bytes.
            let _ = write!(out, "'|u1', ({size},)");
        }
        kind if !field.fields().is_empty() => {
            // A struct, a built-in compound type, a string or byte slot: a
            // nested dtype of its parts, which tell each part's parent kind.
            out.push('[');
            for (i, part) in field.fields().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_field(out, part, kind);
            }
            out.push(']');
        }
        kind => out.push_str(&leaf_format(kind, size)),
    }
    out.push(')');
}

/// The quoted numpy format of a field with no parts.
fn leaf_format(kind: &Kind, size: usize) -> String {
    let format = match kind {
        Kind::U8 => "|u1",
        Kind::I8 => "|i1",
        Kind::Bool => "|b1",
        Kind::U16 => "<u2",
        Kind::I16 => "<i2",
        Kind::U32 => "<u4",
        Kind::I32 => "<i4",
        Kind::F32 => "<f4",
        Kind::U64 => "<u8",
        Kind::I64 => "<i8",
        Kind::F64 => "<f8",
        Kind::Enum { .. } => match size {
            1 => "|u1",
            2 => "<u2",
            4 => "<u4",
            8 => "<u8",
            _ => return format!("'|V{size}'"),
        },
        // A slot or struct without parts: opaque bytes of its size.
        _ => return format!("'|V{size}'"),
    };
    format!("'{format}'")
}

/// `text` as a single-quoted Python string literal.
fn write_literal(out: &mut String, text: &str) {
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// The whole NPY header for `count` packets of `schema`: magic, version,
/// length and the padded dictionary, a multiple of 64 bytes long.
pub(crate) fn header(schema: &Schema, count: usize) -> Vec<u8> {
    let dict = format!(
        "{{'descr': {}, 'fortran_order': False, 'shape': ({count},), }}",
        dtype(schema)
    );
    let utf8 = !dict.is_ascii();
    // Version 1.0 has a 2-byte length; 2.0 and 3.0 a 4-byte one.
    let prefix = if utf8 || dict.len() + 1 + 10 > u16::MAX as usize {
        12
    } else {
        10
    };
    let unpadded = prefix + dict.len() + 1;
    let total = unpadded.div_ceil(ALIGN) * ALIGN;
    let len = total - prefix;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY");
    if prefix == 10 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[if utf8 { 3 } else { 2 }, 0]);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

impl<T: Task> Results<T> {
    /// Writes the results as an NPY file: a header whose structured dtype is
    /// the packet layout ([`Schema::numpy_dtype`]), then
    /// [`as_bytes`](Self::as_bytes) as it is, starting at a multiple of 64
    /// bytes. numpy reads it with `numpy.load(path, mmap_mode="r")`, each
    /// field a view of the file's bytes.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u16, bool))]
    /// pub struct Parity;
    ///
    /// #[worker(Parity)]
    /// fn parity(task_id: usize) -> (u16, bool) {
    ///     (task_id as u16, task_id % 2 == 0)
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let results = Coordinator::new(2).dispatch(Parity, 10, 4)?;
    /// let mut file = Vec::new();
    /// results.write_npy(&mut file)?;
    /// assert_eq!(&file[..8], b"\x93NUMPY\x01\x00");
    /// // The header is padded to 128 bytes, then come the packets.
    /// assert_eq!(file.len(), 128 + 10 * 3);
    /// assert_eq!(&file[128..], results.as_bytes());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write_npy<W: Write>(&self, writer: W) -> io::Result<()> {
        write(&T::schema(), self.len(), self.as_bytes(), writer)
    }
}

/// Writes a whole NPY file of the `count` packets of `schema` that `bytes`
/// holds: [`Results::write_npy`] and
/// [`ResultsFile::write_npy`](crate::ResultsFile::write_npy).
pub(crate) fn write<W: Write>(
    schema: &Schema,
    count: usize,
    bytes: &[u8],
    mut writer: W,
) -> io::Result<()> {
    writer.write_all(&header(schema, count))?;
    writer.write_all(bytes)?;
    writer.flush()
}

/// Writes an NPY file of a known number of packets a batch at a time, such as
/// the batches of a [`Stream`](crate::Stream), without holding them all.
///
/// The header, which carries the count, is written by [`new`](Self::new);
/// [`finish`](Self::finish) checks that exactly that many packets followed.
///
/// ```
/// use parallelizer::prelude::*;
/// use parallelizer::NpyWriter;
///
/// #[task(packet = (u32,))]
/// pub struct Square;
///
/// #[worker(Square)]
/// fn square(task_id: usize) -> (u32,) {
///     ((task_id * task_id) as u32,)
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let coordinator = Coordinator::new(2);
/// let mut npy = NpyWriter::<Square, _>::new(Vec::new(), 20)?;
/// for batch in coordinator.stream(Square, 20, 5) {
///     npy.write(batch?.packets())?;
/// }
/// let file = npy.finish()?;
/// assert_eq!(file.len(), 128 + 20 * 4);
/// # Ok(())
/// # }
/// ```
pub struct NpyWriter<T: Task, W: Write> {
    writer: W,
    declared: usize,
    written: usize,
    task: PhantomData<fn() -> T>,
}

impl<T: Task, W: Write> NpyWriter<T, W> {
    /// Writes the header of an NPY file of `count` packets.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn new(mut writer: W, count: usize) -> io::Result<Self> {
        writer.write_all(&header(&T::schema(), count))?;
        Ok(NpyWriter {
            writer,
            declared: count,
            written: 0,
            task: PhantomData,
        })
    }

    /// Writes the next packets.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if this would write more packets than
    /// declared (nothing is written then); the writer's error.
    pub fn write(&mut self, packets: &[T::Packet]) -> io::Result<()> {
        let written = self.written.saturating_add(packets.len());
        if written > self.declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "NPY file of {} packets of task {}: {written} written",
                    self.declared,
                    T::NAME
                ),
            ));
        }
        self.writer.write_all(packets.as_bytes())?;
        self.written = written;
        Ok(())
    }

    /// Writes the packets of `results`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub fn write_results(&mut self, results: &Results<T>) -> io::Result<()> {
        self.write(results.packets())
    }

    /// The number of packets declared in the header.
    pub fn declared(&self) -> usize {
        self.declared
    }

    /// The number of packets written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Checks that every declared packet was written, flushes the writer and
    /// gives it back.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if fewer packets than declared were
    /// written; the writer's error.
    pub fn finish(mut self) -> io::Result<W> {
        if self.written != self.declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "NPY file of {} packets of task {}: only {} written",
                    self.declared,
                    T::NAME,
                    self.written
                ),
            ));
        }
        self.writer.flush()?;
        Ok(self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Shape;

    fn schema(fields: Vec<(&'static str, Shape)>) -> Schema {
        Schema::from_shape("Test", Shape::structure("Test", fields))
    }

    /// The version, the header's declared length and the data's offset.
    fn parse(header: &[u8]) -> (u8, usize, usize) {
        assert_eq!(&header[..6], b"\x93NUMPY");
        match header[6] {
            1 => {
                let len = u16::from_le_bytes([header[8], header[9]]) as usize;
                (1, len, 10 + len)
            }
            v => {
                let len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
                (v, len, 12 + len)
            }
        }
    }

    #[test]
    fn raw_bytes_and_escaped_names() {
        let schema = schema(vec![
            ("it's", Shape::raw("[u8; 3]", 3)),
            ("a\\b", Shape::of::<u8>()),
        ]);
        assert_eq!(
            schema.numpy_dtype(),
            r"[('it\'s', '|u1', (3,)), ('a\\b', '|u1')]"
        );
    }

    #[test]
    fn a_header_of_64_kib_or_more_is_version_2() {
        let names: Vec<&'static str> = (0..5000)
            .map(|i| &*Box::leak(format!("field_{i:05}").into_boxed_str()))
            .collect();
        let schema = schema(
            names
                .iter()
                .map(|&name| (name, Shape::of::<u16>()))
                .collect(),
        );
        let header = header(&schema, 3);
        let (version, len, data) = parse(&header);
        assert_eq!(version, 2);
        assert!(len > usize::from(u16::MAX));
        assert_eq!((data, header.len() % ALIGN), (header.len(), 0));
        assert_eq!(header.last(), Some(&b'\n'));
    }

    #[test]
    fn non_ascii_names_are_version_3() {
        let schema = schema(vec![("höhe", Shape::of::<f32>())]);
        let header = header(&schema, 1);
        let (version, len, data) = parse(&header);
        assert_eq!((version, data, header.len()), (3, 128, 128));
        let dict = std::str::from_utf8(&header[12..12 + len]).unwrap();
        assert!(dict.starts_with("{'descr': [('höhe', '<f4')], "));
    }
}
