//! Results as Arrow (feature `arrow`): a [`RecordBatch`] with one column per
//! packet field, and the Arrow IPC file that Polars, pandas (through
//! pyarrow) and DuckDB read.
//!
//! Everything is driven by a [`Schema`], the packet's layout tree, and
//! nothing else: [`record_batch`] and [`write_ipc`] read any packed buffer
//! whose schema is known, whether it comes from a task's type
//! ([`Task::schema`]) or from a results file read without one.
//! [`Results::to_record_batch`] and [`Results::write_arrow_ipc`] are the
//! same for a task's results, [`ResultsFile::to_record_batch`] and
//! [`ResultsFile::write_arrow_ipc`] for a results file read with no Rust
//! type.
//!
//! | packet field | Arrow column |
//! |---|---|
//! | `u8` ... `u64`, `i8` ... `i64`, `f32`, `f64` | `UInt8` ... `UInt64`, `Int8` ... `Int64`, `Float32`, `Float64` |
//! | `bool` | `Boolean` |
//! | string slot ([`FixedStr<N>`](crate::FixedStr)) | `Utf8`: the string itself |
//! | byte slot ([`FixedBytes<N>`](crate::FixedBytes)) | `Binary`: the slot's first `len` bytes |
//! | struct, built-in compound type ([`Vec3`](crate::Vec3), [`CFrame`](crate::CFrame), [`Color3`](crate::Color3), ...) | `Struct` of its parts, recursively |
//! | enum | `Dictionary` of the variants' names, in declaration order, keyed by an unsigned integer as wide as the discriminant |
//! | raw bytes (`[u8; N]`, a wire type that does not describe itself) | `FixedSizeBinary(N)` |
//!
//! Columns are named by the schema (a tuple packet's are `"0"`, `"1"`, ...)
//! and hold no nulls. A string or byte column whose packets could hold more
//! than 2 GiB in all (packets × capacity) is `LargeUtf8` or `LargeBinary`
//! instead, whose offsets are 64-bit. A `Color3b16` is its `u16` bits, as
//! in the packet. The Arrow schema's metadata holds the task's name
//! ([`TASK_KEY`], `parallelizer.task`) and the schema's
//! [fingerprint](Schema::fingerprint) as 16 lowercase hex digits
//! ([`FINGERPRINT_KEY`], `parallelizer.fingerprint`). A schema read from a
//! results file ([`ResultsFile`]) records no task name (its
//! [`task`](Schema::task) is [`ResultsFile::TASK`], `"?"`): its batches
//! have no `parallelizer.task` key at all, rather than a made-up name.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, GenericBinaryBuilder, GenericStringBuilder};
use arrow_array::types::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, FixedSizeBinaryArray, OffsetSizeTrait, PrimitiveArray,
    RecordBatch, RecordBatchOptions, StringArray, StructArray,
};
use arrow_buffer::{ArrowNativeType, BooleanBuffer, Buffer, ScalarBuffer};
use arrow_ipc::writer::FileWriter;
use arrow_schema::{ArrowError, Field, Fields};

use crate::error::{Error, InvalidValue};
use crate::persist::ResultsFile;
use crate::results::Results;
use crate::schema::{check_field, Schema, SchemaField, UNKNOWN_TASK};
use crate::task::Task;
use crate::value::leaf::{self, Discriminants, Number, Slot};
use crate::wire::{intern, Kind, Variant};

/// The arrow-rs crates at the versions this module builds with, so that a
/// program handles the batches it gets without adding them at a matching
/// version itself.
pub use {arrow_array, arrow_buffer, arrow_ipc, arrow_schema};

/// The Arrow schema metadata key of the task's name; absent for a schema
/// read from a results file, which records no task name.
pub const TASK_KEY: &str = "parallelizer.task";
/// The Arrow schema metadata key of the schema's
/// [fingerprint](Schema::fingerprint), 16 lowercase hex digits.
pub const FINGERPRINT_KEY: &str = "parallelizer.fingerprint";

/// The packets of `packets`, whose layout is `schema`, as an Arrow record
/// batch: one row per packet, one column per field of the packet, mapped as
/// the [module](self) describes.
///
/// ```
/// use parallelizer::arrow::arrow_array::{Array, StringArray, UInt16Array};
/// use parallelizer::prelude::*;
///
/// #[task(packet = (u16, FixedStr<5>))]
/// pub struct Label;
///
/// #[worker(Label)]
/// fn label(task_id: usize) -> (u16, FixedStr<5>) {
///     (task_id as u16 * 10, FixedStr::new(&format!("#{task_id}")).unwrap())
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let results = Coordinator::new(2).dispatch(Label, 3, 2)?;
/// let batch = parallelizer::arrow::record_batch(&Label::schema(), results.as_bytes())?;
/// assert_eq!((batch.num_rows(), batch.num_columns()), (3, 2));
/// let numbers = batch.column(0).as_any().downcast_ref::<UInt16Array>().unwrap();
/// assert_eq!(numbers.values(), &[0, 10, 20]);
/// let labels = batch.column_by_name("1").unwrap();
/// let labels = labels.as_any().downcast_ref::<StringArray>().unwrap();
/// assert_eq!(labels.value(2), "#2");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// - [`Error::BufferLength`] if `packets` is not a whole number of packets;
/// - [`Error::InvalidPacket`] for a value that its field cannot hold: a
///   string or byte length beyond its slot, a string that is not UTF-8,
///   padding that is not zero, a `bool` that is neither 0 nor 1, an enum
///   discriminant that names no variant. It names the packet, the field and
///   the value: the first bad packet of the first column that has one;
/// - [`Error::ArrowExport`] for a schema whose fields disagree with their
///   kinds or the packet size (a hand-written `WireType::shape` that lies,
///   or a corrupt file).
pub fn record_batch(schema: &Schema, packets: &[u8]) -> Result<RecordBatch, Error> {
    let packets = Packets::new(schema, packets)?;
    // As `Results::from_bytes` reports them: a struct packet's fields by
    // name, a tuple packet's (whose type is the tuple of its fields' types)
    // by position only.
    let named = !schema.type_name().starts_with('(');
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (index, field) in schema.fields().iter().enumerate() {
        let column = column(field, &packets, field.name()).map_err(|failure| match failure {
            Failure::Value {
                index: packet,
                reason,
            } => Error::InvalidPacket {
                task: schema.task(),
                index: packet,
                field: index,
                field_type: field.type_name(),
                reason: if named {
                    in_field(index, field, reason)
                } else {
                    reason
                },
            },
            Failure::Schema(reason) => export_error(schema, reason),
        })?;
        fields.push(Field::new(field.name(), column.data_type().clone(), false));
        columns.push(column);
    }
    let mut metadata = HashMap::from([(
        FINGERPRINT_KEY.to_string(),
        format!("{:016x}", schema.fingerprint()),
    )]);
    // A schema read from a file knows no task name: no key, rather than "?".
    if schema.task() != UNKNOWN_TASK {
        metadata.insert(TASK_KEY.to_string(), schema.task().to_string());
    }
    let arrow_schema = arrow_schema::Schema::new_with_metadata(fields, metadata);
    // The row count is given, for a packet of no fields.
    let options = RecordBatchOptions::new().with_row_count(Some(packets.count));
    RecordBatch::try_new_with_options(Arc::new(arrow_schema), columns, &options)
        .map_err(|error| export_error(schema, error.to_string()))
}

/// Writes the packets of `packets`, whose layout is `schema`, as an Arrow IPC
/// file (the random-access "file" format, also called Feather version 2) of
/// one [record batch](record_batch).
///
/// pyarrow reads it with `pyarrow.ipc.open_file`, Polars with
/// `polars.read_ipc`, pandas with `pandas.read_feather`, DuckDB through
/// pyarrow. The writer is not buffered here: give it a `BufWriter` for a
/// file.
///
/// ```
/// use parallelizer::arrow::arrow_ipc::reader::FileReader;
/// use parallelizer::prelude::*;
///
/// #[task(packet = (f64, bool))]
/// pub struct Half;
///
/// #[worker(Half)]
/// fn half(task_id: usize) -> (f64, bool) {
///     (task_id as f64 / 2.0, task_id % 2 == 0)
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let results = Coordinator::new(2).dispatch(Half, 100, 10)?;
/// let mut file = Vec::new();
/// parallelizer::arrow::write_ipc(&Half::schema(), results.as_bytes(), &mut file)?;
/// assert_eq!(&file[..6], b"ARROW1");
///
/// let mut reader = FileReader::try_new(std::io::Cursor::new(file), None)?;
/// let batch = reader.next().unwrap()?;
/// assert_eq!(batch, results.to_record_batch()?);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`record_batch`], and [`Error::WriteFailed`] if the writer fails.
pub fn write_ipc<W: Write>(schema: &Schema, packets: &[u8], writer: W) -> Result<(), Error> {
    let batch = record_batch(schema, packets)?;
    let written = FileWriter::try_new(writer, &batch.schema()).and_then(|mut file| {
        file.write(&batch)?;
        file.finish()
    });
    written.map_err(|error| {
        let (kind, message) = match error {
            ArrowError::IoError(message, error) => (error.kind(), message),
            error => (std::io::ErrorKind::Other, error.to_string()),
        };
        Error::WriteFailed {
            task: schema.task(),
            kind,
            message: format!("writing an Arrow IPC file: {message}"),
        }
    })
}

impl<T: Task> Results<T> {
    /// The results as an Arrow record batch: one row per task id, one
    /// column per packet field, mapped as the [`arrow`](crate::arrow)
    /// module describes (strings as `Utf8`, structs as `Struct`, enums as
    /// dictionaries of their variants' names, ...). The values are copied
    /// out of the packet buffer, a column at a time.
    ///
    /// ```
    /// use parallelizer::arrow::arrow_array::{Array, Float64Array, StructArray};
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (Vec3,))]
    /// pub struct Points;
    ///
    /// #[worker(Points)]
    /// fn points(task_id: usize) -> (Vec3,) {
    ///     (Vec3::new(task_id as f64, 0.0, -1.0),)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let batch = Coordinator::new(2).dispatch(Points, 4, 2)?.to_record_batch()?;
    /// let point = batch.column(0).as_any().downcast_ref::<StructArray>().unwrap();
    /// let x = point.column_by_name("x").unwrap();
    /// let x = x.as_any().downcast_ref::<Float64Array>().unwrap();
    /// assert_eq!(x.values(), &[0.0, 1.0, 2.0, 3.0]);
    /// assert_eq!(batch.schema().metadata()["parallelizer.task"], "Points");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`record_batch`]. Results that a dispatch made, or that
    /// [`from_bytes`](Self::from_bytes) validated, hold valid packets, so
    /// only a hand-written [`WireType::shape`](crate::WireType::shape) that
    /// lies about its layout fails here.
    pub fn to_record_batch(&self) -> Result<RecordBatch, Error> {
        record_batch(&T::schema(), self.as_bytes())
    }

    /// Writes the results as an Arrow IPC file: see [`write_ipc`].
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u32,))]
    /// pub struct Square;
    ///
    /// #[worker(Square)]
    /// fn square(task_id: usize) -> (u32,) {
    ///     ((task_id * task_id) as u32,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let results = Coordinator::new(2).dispatch(Square, 10, 5)?;
    /// let mut file = Vec::new();
    /// results.write_arrow_ipc(&mut file)?;
    /// assert!(file.starts_with(b"ARROW1") && file.ends_with(b"ARROW1"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_record_batch`](Self::to_record_batch), and
    /// [`Error::WriteFailed`] if the writer fails.
    pub fn write_arrow_ipc<W: Write>(&self, writer: W) -> Result<(), Error> {
        write_ipc(&T::schema(), self.as_bytes(), writer)
    }
}

impl ResultsFile {
    /// The file's packets as an Arrow record batch, decoded by the schema
    /// the file stores: the same columns, names and values as
    /// [`Results::to_record_batch`] gives for the task that wrote the file.
    /// The file records no task name, so the Arrow schema's metadata holds
    /// the [fingerprint](FINGERPRINT_KEY) only, no [`TASK_KEY`].
    ///
    /// ```
    /// use parallelizer::arrow::{FINGERPRINT_KEY, TASK_KEY};
    /// use parallelizer::prelude::*;
    /// use parallelizer::ResultsFile;
    ///
    /// #[task(packet = (u16, FixedStr<4>))]
    /// pub struct Tag;
    ///
    /// #[worker(Tag)]
    /// fn tag(task_id: usize) -> (u16, FixedStr<4>) {
    ///     (task_id as u16, FixedStr::new("t").unwrap())
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let results = Coordinator::new(2).dispatch(Tag, 6, 2)?;
    /// let mut bytes = Vec::new();
    /// results.write_to(&mut bytes)?;
    /// let batch = ResultsFile::read_from(bytes.as_slice())?.to_record_batch()?;
    /// let typed = results.to_record_batch()?;
    /// assert_eq!(batch.columns(), typed.columns());
    /// assert_eq!(batch.schema().fields(), typed.schema().fields());
    /// let metadata = batch.schema().metadata().clone();
    /// assert_eq!(metadata.get(TASK_KEY), None);
    /// assert_eq!(metadata[FINGERPRINT_KEY], typed.schema().metadata()[FINGERPRINT_KEY]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`record_batch`], naming the task as [`ResultsFile::TASK`]. A
    /// file's packets are not validated when it is read, so this is where
    /// a value its field cannot hold (a string that is not UTF-8...) is
    /// found: [`Error::InvalidPacket`].
    pub fn to_record_batch(&self) -> Result<RecordBatch, Error> {
        record_batch(self.schema(), self.as_bytes())
    }

    /// Writes the file's packets as an Arrow IPC file: see [`write_ipc`]
    /// and [`to_record_batch`](Self::to_record_batch).
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::ResultsFile;
    ///
    /// #[task(packet = (u32,))]
    /// pub struct Square;
    ///
    /// #[worker(Square)]
    /// fn square(task_id: usize) -> (u32,) {
    ///     ((task_id * task_id) as u32,)
    /// }
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let results = Coordinator::new(2).dispatch(Square, 10, 5)?;
    /// let mut bytes = Vec::new();
    /// results.write_to(&mut bytes)?;
    /// let mut file = Vec::new();
    /// ResultsFile::read_from(bytes.as_slice())?.write_arrow_ipc(&mut file)?;
    /// assert!(file.starts_with(b"ARROW1") && file.ends_with(b"ARROW1"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_record_batch`](Self::to_record_batch), and
    /// [`Error::WriteFailed`] if the writer fails.
    pub fn write_arrow_ipc<W: Write>(&self, writer: W) -> Result<(), Error> {
        write_ipc(self.schema(), self.as_bytes(), writer)
    }
}

/// Why a column could not be built.
enum Failure {
    /// Packet `index` holds a value its field cannot hold.
    Value { index: usize, reason: InvalidValue },
    /// The schema cannot be mapped: why, naming the field.
    Schema(String),
}

fn export_error(schema: &Schema, reason: String) -> Error {
    Error::ArrowExport {
        task: schema.task(),
        reason,
    }
}

/// A buffer of whole packets.
struct Packets<'a> {
    bytes: &'a [u8],
    size: usize,
    count: usize,
}

impl<'a> Packets<'a> {
    fn new(schema: &Schema, bytes: &'a [u8]) -> Result<Self, Error> {
        let size = schema.packet_size();
        if size == 0 {
            if !bytes.is_empty() {
                return Err(export_error(
                    schema,
                    format!(
                        "its packets are 0 bytes, so {} bytes hold no whole number of \
                         them: pass an empty buffer",
                        bytes.len()
                    ),
                ));
            }
            return Ok(Packets {
                bytes,
                size,
                count: 0,
            });
        }
        if bytes.len() % size != 0 {
            return Err(Error::BufferLength {
                task: schema.task(),
                len: bytes.len(),
                packet_size: size,
            });
        }
        Ok(Packets {
            bytes,
            size,
            count: bytes.len() / size,
        })
    }

    /// Each packet's bytes, in order.
    fn iter(&self) -> impl Iterator<Item = &'a [u8]> {
        // With packets of 0 bytes, the buffer is empty (see `new`).
        self.bytes.chunks_exact(self.size.max(1))
    }

    /// Each packet's `N` bytes at `offset`.
    fn slices<const N: usize>(&self, offset: usize) -> impl Iterator<Item = [u8; N]> + 'a {
        self.iter().map(move |packet| {
            let mut bytes = [0; N];
            bytes.copy_from_slice(&packet[offset..offset + N]);
            bytes
        })
    }
}

/// The column of `field`, whose dotted path is `path`, checking first that
/// the field's layout is what its kind says and lies within the packet
/// ([`check_field`]).
fn column(field: &SchemaField, packets: &Packets, path: &str) -> Result<ArrayRef, Failure> {
    let size = field.size();
    let schema_error = |what: String| {
        Failure::Schema(format!(
            "field `{path}` ({}) {what}; the schema is inconsistent: fix the \
             `WireType::shape` of its type, or write the file again",
            field.type_name()
        ))
    };
    check_field(field, packets.size).map_err(schema_error)?;
    let offset = field.offset();
    Ok(match field.kind() {
        Kind::U8 => primitive::<UInt8Type, 1>(packets, offset),
        Kind::U16 => primitive::<UInt16Type, 2>(packets, offset),
        Kind::U32 => primitive::<UInt32Type, 4>(packets, offset),
        Kind::U64 => primitive::<UInt64Type, 8>(packets, offset),
        Kind::I8 => primitive::<Int8Type, 1>(packets, offset),
        Kind::I16 => primitive::<Int16Type, 2>(packets, offset),
        Kind::I32 => primitive::<Int32Type, 4>(packets, offset),
        Kind::I64 => primitive::<Int64Type, 8>(packets, offset),
        Kind::F32 => primitive::<Float32Type, 4>(packets, offset),
        Kind::F64 => primitive::<Float64Type, 8>(packets, offset),
        Kind::Bool => boolean(packets, offset)?,
        Kind::Str { capacity } => slots(packets, offset, Slot::string(*capacity), true)?,
        Kind::Bytes { capacity } => slots(packets, offset, Slot::bytes(*capacity), false)?,
        Kind::Enum { variants } => enumeration(field, variants, packets).ok_or_else(|| {
            schema_error(format!(
                "has {} variants, more than its {size}-byte discriminant tells apart",
                variants.len()
            ))
        })??,
        Kind::Struct => structure(field, packets, path)?,
        Kind::Raw => raw(packets, offset, size)
            .ok_or_else(|| schema_error("is too large for an Arrow fixed-size binary".into()))?,
    })
}

/// A number column: each packet's `N` bytes at `offset`, read as the
/// number they are ([`Number::read`]).
fn primitive<T: ArrowPrimitiveType, const N: usize>(packets: &Packets, offset: usize) -> ArrayRef
where
    T::Native: Number,
{
    let values: Vec<T::Native> = packets
        .slices::<N>(offset)
        .map(|bytes| T::Native::read(&bytes))
        .collect();
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(values), None))
}

/// A `bool` column, each byte checked as [`leaf::boolean`] checks it.
fn boolean(packets: &Packets, offset: usize) -> Result<ArrayRef, Failure> {
    let bytes: Vec<u8> = packets.slices::<1>(offset).map(|[byte]| byte).collect();
    for (index, &byte) in bytes.iter().enumerate() {
        leaf::boolean(byte).map_err(|reason| Failure::Value { index, reason })?;
    }
    let values = BooleanBuffer::collect_bool(bytes.len(), |index| bytes[index] != 0);
    Ok(Arc::new(BooleanArray::new(values, None)))
}

/// A string (`utf8`) or byte slot column of `slot`s at `offset`. Its
/// offsets are 64-bit if the slots could hold more than `i32::MAX` bytes in
/// all.
fn slots(packets: &Packets, offset: usize, slot: Slot, utf8: bool) -> Result<ArrayRef, Failure> {
    let small = packets
        .count
        .checked_mul(slot.capacity)
        .is_some_and(|total| total <= i32::MAX as usize);
    match (utf8, small) {
        (true, true) => strings::<i32>(packets, offset, &slot),
        (true, false) => strings::<i64>(packets, offset, &slot),
        (false, true) => binaries::<i32>(packets, offset, &slot),
        (false, false) => binaries::<i64>(packets, offset, &slot),
    }
}

/// Each packet's bytes of `slot` at `offset`.
fn slot_bytes<'a>(
    packets: &Packets<'a>,
    offset: usize,
    slot: &Slot,
) -> impl Iterator<Item = &'a [u8]> {
    // `check_field` made the slot's size its prefix and capacity.
    let end = offset + slot.prefix + slot.capacity;
    packets.iter().map(move |packet| &packet[offset..end])
}

fn strings<O: OffsetSizeTrait>(
    packets: &Packets,
    offset: usize,
    slot: &Slot,
) -> Result<ArrayRef, Failure> {
    let mut builder =
        GenericStringBuilder::<O>::with_capacity(packets.count, packets.count * slot.capacity);
    for (index, bytes) in slot_bytes(packets, offset, slot).enumerate() {
        let text = slot
            .text(bytes)
            .map_err(|reason| Failure::Value { index, reason })?;
        builder.append_value(text);
    }
    Ok(Arc::new(builder.finish()))
}

fn binaries<O: OffsetSizeTrait>(
    packets: &Packets,
    offset: usize,
    slot: &Slot,
) -> Result<ArrayRef, Failure> {
    let mut builder =
        GenericBinaryBuilder::<O>::with_capacity(packets.count, packets.count * slot.capacity);
    for (index, bytes) in slot_bytes(packets, offset, slot).enumerate() {
        let data = slot
            .data(bytes)
            .map_err(|reason| Failure::Value { index, reason })?;
        builder.append_value(data);
    }
    Ok(Arc::new(builder.finish()))
}

/// An enum column, keyed by an unsigned integer as wide as the
/// discriminant (1, 2, 4 or 8 bytes: [`check_field`]); `None` if there are
/// more variants than keys.
fn enumeration(
    field: &SchemaField,
    variants: &[Variant],
    packets: &Packets,
) -> Option<Result<ArrayRef, Failure>> {
    match field.size() {
        1 => dictionary::<UInt8Type>(field, variants, packets),
        2 => dictionary::<UInt16Type>(field, variants, packets),
        4 => dictionary::<UInt32Type>(field, variants, packets),
        _ => dictionary::<UInt64Type>(field, variants, packets),
    }
}

/// An enum column: each packet's discriminant as the key of its variant in
/// a dictionary of the variants' names, in declaration order (the key is
/// the variant's position, found by [`Discriminants`]); `None` if there are
/// more variants than keys of type `K`.
fn dictionary<K: ArrowDictionaryKeyType>(
    field: &SchemaField,
    variants: &[Variant],
    packets: &Packets,
) -> Option<Result<ArrayRef, Failure>> {
    let (offset, end) = (field.offset(), field.offset() + field.size());
    // Each variant's key, by position.
    let keys: Vec<K::Native> = (0..variants.len())
        .map(K::Native::from_usize)
        .collect::<Option<_>>()?;
    let lookup = Discriminants::new(field.type_name(), variants);
    let column = packets
        .iter()
        .enumerate()
        .map(|(index, packet)| {
            lookup
                .position(&packet[offset..end])
                .map(|position| keys[position])
                .map_err(|reason| Failure::Value { index, reason })
        })
        .collect::<Result<Vec<K::Native>, Failure>>();
    Some(column.map(|keys| {
        let keys = PrimitiveArray::<K>::new(ScalarBuffer::from(keys), None);
        let names: StringArray = variants
            .iter()
            .map(|variant| Some(variant.name()))
            .collect();
        Arc::new(DictionaryArray::new(keys, Arc::new(names))) as ArrayRef
    }))
}

/// A struct column of the field's parts, each named and built as a column;
/// an invalid value in a part is reported as that part's
/// ([`InvalidValue::Field`]).
fn structure(field: &SchemaField, packets: &Packets, path: &str) -> Result<ArrayRef, Failure> {
    if field.fields().is_empty() {
        return Ok(Arc::new(StructArray::new_empty_fields(packets.count, None)));
    }
    let mut fields = Vec::with_capacity(field.fields().len());
    let mut columns = Vec::with_capacity(field.fields().len());
    for (index, part) in field.fields().iter().enumerate() {
        let column =
            column(part, packets, &format!("{path}.{}", part.name())).map_err(|failure| {
                match failure {
                    Failure::Value {
                        index: packet,
                        reason,
                    } => Failure::Value {
                        index: packet,
                        reason: in_field(index, part, reason),
                    },
                    schema => schema,
                }
            })?;
        fields.push(Field::new(part.name(), column.data_type().clone(), false));
        columns.push(column);
    }
    StructArray::try_new(Fields::from(fields), columns, None)
        .map(|array| Arc::new(array) as ArrayRef)
        .map_err(|error| Failure::Schema(format!("field `{path}`: {error}")))
}

/// `reason`, as the reason of field `field`, the `index`th of its struct.
fn in_field(index: usize, field: &SchemaField, reason: InvalidValue) -> InvalidValue {
    InvalidValue::Field {
        index,
        name: intern(field.name().to_string()),
        reason: Box::new(reason),
    }
}

/// A raw bytes column of `size` bytes per packet; `None` if `size` does not
/// fit Arrow's `i32`.
fn raw(packets: &Packets, offset: usize, size: usize) -> Option<ArrayRef> {
    let width = i32::try_from(size).ok()?;
    if size == 0 {
        // Arrow's constructor divides by the width: build a column of
        // 0-byte values with a builder instead.
        let mut builder = FixedSizeBinaryBuilder::new(0);
        for _ in 0..packets.count {
            builder.append_value([]).ok()?;
        }
        return Some(Arc::new(builder.finish()));
    }
    let mut bytes = Vec::with_capacity(packets.count * size);
    for packet in packets.iter() {
        bytes.extend_from_slice(&packet[offset..offset + size]);
    }
    let array = FixedSizeBinaryArray::new(width, Buffer::from_vec(bytes), None);
    Some(Arc::new(array))
}
