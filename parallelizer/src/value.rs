//! A packet's fields decoded by their [`Schema`] alone, with no Rust type:
//! [`SchemaField::value`] gives a field's [`Value`], and
//! [`Schema::columns`] the fields a table or a CSV file shows.
//!
//! This is how a reader with nothing but a results file's own schema (the
//! `parallelizer` command-line tool, [`ResultsFile`](crate::ResultsFile))
//! reads packets. A value is checked as the typed reader checks it: a
//! string's length within its slot, its bytes UTF-8 and its padding zero, a
//! `bool` 0 or 1, an enum one of its variants; anything else is a
//! [`DecodeError`], never a panic.

use std::fmt;

use crate::error::InvalidValue;
use crate::schema::{Schema, SchemaField};
use crate::wire::{Kind, Variant};
use leaf::{Discriminants, Number, Slot};

/// One field's value, decoded from a packet by its [`SchemaField`].
///
/// `Display` writes it as a table cell or a CSV field shows it: numbers in
/// decimal (floats as Rust's `Debug` does, the shortest text that reads
/// back to the same value: `1.0`, `0.1`, `1e-7`, `NaN`, `inf`), `true` or
/// `false`, a string as its text, bytes in lowercase hex, an enum as its
/// variant's name, a struct as `{x: 1.0, y: 2.0}`.
///
/// ```
/// use parallelizer::Value;
///
/// assert_eq!(Value::F64(1.0).to_string(), "1.0");
/// assert_eq!(Value::Str("héllo".into()).to_string(), "héllo");
/// assert_eq!(Value::Bytes(vec![0xca, 0xfe]).to_string(), "cafe");
/// let point = Value::Struct(vec![("x".into(), Value::Int(-1)), ("y".into(), Value::UInt(2))]);
/// assert_eq!(point.to_string(), "{x: -1, y: 2}");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// An unsigned integer: `u8`, `u16`, `u32` or `u64`.
    UInt(u64),
    /// A signed integer: `i8`, `i16`, `i32` or `i64`.
    Int(i64),
    /// An `f32`.
    F32(f32),
    /// An `f64`.
    F64(f64),
    /// A `bool`.
    Bool(bool),
    /// A string slot's text ([`FixedStr`](crate::FixedStr)).
    Str(String),
    /// A byte slot's bytes, up to its length ([`FixedBytes`](crate::FixedBytes)).
    Bytes(Vec<u8>),
    /// An enum's variant: its name and discriminant.
    Enum(Variant),
    /// A struct's fields, named, in order (a derived struct, or a built-in
    /// compound type such as [`Vec3`](crate::Vec3) or [`Color3`](crate::Color3)).
    Struct(Vec<(String, Value)>),
    /// Bytes with no further structure: a field of [`Kind::Raw`], or an enum
    /// whose discriminant is wider than 8 bytes.
    Raw(Vec<u8>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::UInt(value) => write!(f, "{value}"),
            Value::Int(value) => write!(f, "{value}"),
            Value::F32(value) => write!(f, "{value:?}"),
            Value::F64(value) => write!(f, "{value:?}"),
            Value::Bool(value) => write!(f, "{value}"),
            Value::Str(text) => f.write_str(text),
            Value::Bytes(bytes) | Value::Raw(bytes) => {
                bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Value::Enum(variant) => f.write_str(variant.name()),
            Value::Struct(fields) => {
                f.write_str("{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    let comma = if i == 0 { "" } else { ", " };
                    write!(f, "{comma}{name}: {value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Why a field of a packet could not be decoded by [`SchemaField::value`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet given is shorter than the field's end.
    #[error("field `{field}` ends at byte {end}, past the end of the {len}-byte packet given: pass a whole packet of the field's schema")]
    PacketTooShort {
        /// The field's name, with the path from the field decoded down to
        /// it (`"normal.x"`).
        field: String,
        /// The offset where the field ends.
        end: usize,
        /// The length of the packet given.
        len: usize,
    },
    /// The field holds a value that its kind cannot hold.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The field's name, with the path from the field decoded down to
        /// the invalid value (`"name"`, `"normal.x"`).
        field: String,
        /// What is wrong with the value.
        #[source]
        reason: InvalidValue,
    },
}

impl SchemaField {
    /// Decodes this field from `packet`, a whole packet of its schema (the
    /// field is at its [`offset`](Self::offset) in it), by its kind and
    /// parts alone.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    /// use parallelizer::Value;
    ///
    /// #[task(packet = (u16, FixedStr<5>))]
    /// pub struct Label;
    ///
    /// let packet = Label::encode((7, FixedStr::new("tile").unwrap()));
    /// let bytes = zerocopy::IntoBytes::as_bytes(&packet);
    /// let schema = Label::schema();
    /// assert_eq!(schema.fields()[0].value(bytes), Ok(Value::UInt(7)));
    /// assert_eq!(schema.fields()[1].value(bytes), Ok(Value::Str("tile".into())));
    ///
    /// // A string that is not UTF-8 is an error, not a panic.
    /// let mut broken = bytes.to_vec();
    /// broken[6] = 0xff;
    /// let error = schema.fields()[1].value(&broken).unwrap_err();
    /// assert_eq!(error.to_string(), "field `1`: string bytes are not UTF-8 (valid up to byte 0)");
    /// ```
    ///
    /// # Errors
    ///
    /// [`DecodeError::PacketTooShort`] if `packet` ends before the field
    /// does; [`DecodeError::Invalid`] if it holds no value of its kind: a
    /// slot's length beyond its capacity, a string that is not UTF-8,
    /// nonzero padding after a slot's value, a `bool` other than 0 or 1, an
    /// enum value that is none of its variants'.
    pub fn value(&self, packet: &[u8]) -> Result<Value, DecodeError> {
        decode(self, packet, self.name())
    }
}

impl Schema {
    /// The columns of a table of the packets: every field with its dotted
    /// path (`"normal.x"`), structs (derived or built-in, such as
    /// [`Vec3`](crate::Vec3)) expanded into their fields, every other field
    /// (a number, a `bool`, a string or byte slot, an enum, raw bytes)
    /// whole, in declaration order.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (f32, Vec3, FixedStr<8>))]
    /// pub struct Probe;
    ///
    /// let schema = Probe::schema();
    /// let names: Vec<String> = schema.columns().into_iter().map(|(path, _)| path).collect();
    /// assert_eq!(names, ["0", "1.x", "1.y", "1.z", "2"]);
    /// ```
    pub fn columns(&self) -> Vec<(String, &SchemaField)> {
        let mut columns = Vec::new();
        for field in self.fields() {
            push_columns(&mut columns, field.name().to_string(), field);
        }
        columns
    }
}

fn push_columns<'a>(
    columns: &mut Vec<(String, &'a SchemaField)>,
    path: String,
    field: &'a SchemaField,
) {
    if *field.kind() == Kind::Struct {
        for part in field.fields() {
            push_columns(columns, format!("{path}.{}", part.name()), part);
        }
    } else {
        columns.push((path, field));
    }
}

/// [`SchemaField::value`] of `field`, named `path` in errors.
fn decode(field: &SchemaField, packet: &[u8], path: &str) -> Result<Value, DecodeError> {
    let end = field.offset().saturating_add(field.size());
    let Some(bytes) = packet.get(field.offset()..end) else {
        return Err(DecodeError::PacketTooShort {
            field: path.to_string(),
            end,
            len: packet.len(),
        });
    };
    let invalid = |reason| DecodeError::Invalid {
        field: path.to_string(),
        reason,
    };
    Ok(match field.kind() {
        Kind::U8 => Value::UInt(u8::read(bytes).into()),
        Kind::U16 => Value::UInt(u16::read(bytes).into()),
        Kind::U32 => Value::UInt(u32::read(bytes).into()),
        Kind::U64 => Value::UInt(u64::read(bytes)),
        Kind::I8 => Value::Int(i8::read(bytes).into()),
        Kind::I16 => Value::Int(i16::read(bytes).into()),
        Kind::I32 => Value::Int(i32::read(bytes).into()),
        Kind::I64 => Value::Int(i64::read(bytes)),
        Kind::F32 => Value::F32(f32::read(bytes)),
        Kind::F64 => Value::F64(f64::read(bytes)),
        Kind::Bool => Value::Bool(leaf::boolean(u8::read(bytes)).map_err(invalid)?),
        Kind::Str { capacity } => {
            let text = Slot::string(*capacity).text(bytes).map_err(invalid)?;
            Value::Str(text.to_string())
        }
        Kind::Bytes { capacity } => {
            let data = Slot::bytes(*capacity).data(bytes).map_err(invalid)?;
            Value::Bytes(data.to_vec())
        }
        Kind::Enum { .. } if bytes.len() > 8 => Value::Raw(bytes.to_vec()),
        Kind::Enum { variants } => {
            let variants = Discriminants::new(field.type_name(), variants);
            Value::Enum(*variants.variant(bytes).map_err(invalid)?)
        }
        Kind::Struct => Value::Struct(
            field
                .fields()
                .iter()
                .map(|part| {
                    let path = format!("{path}.{}", part.name());
                    Ok((part.name().to_string(), decode(part, packet, &path)?))
                })
                .collect::<Result<_, DecodeError>>()?,
        ),
        Kind::Raw => Value::Raw(bytes.to_vec()),
    })
}

/// The one decoder of a leaf of a packet (a number, a `bool`, a string or
/// byte slot, an enum's discriminant) from its bytes, with the checks of
/// the typed reader, and [`InvalidValue`] as the one error.
///
/// Both readers by schema use it: [`SchemaField::value`] for one field of
/// one packet, and the `arrow` module's column builders, which call it per
/// value of a column (and build no [`Value`]s). It uses nothing but the
/// `error` and `wire` modules, so the schema's consistency check
/// (`schema::check_field`) takes its slot layout from here too.
///
/// Each function takes the field's bytes, as many as its schema says; fewer
/// (a schema that lies about a size) never panic: missing bytes read as
/// zero and a slot's capacity is cut to the bytes there are.
pub(crate) mod leaf {
    use crate::error::InvalidValue;
    use crate::wire::{check_len, check_padding, Kind, Variant, WireType};

    /// A number kind's Rust type: reads itself from little-endian bytes.
    pub(crate) trait Number: Copy {
        /// The number from its little-endian `bytes`: its size's worth of
        /// them, missing ones read as zero, any beyond ignored.
        fn read(bytes: &[u8]) -> Self;
    }

    macro_rules! number {
        ($($ty:ty),*) => {$(
            impl Number for $ty {
                #[inline]
                fn read(bytes: &[u8]) -> Self {
                    let mut word = [0; size_of::<$ty>()];
                    let n = bytes.len().min(word.len());
                    word[..n].copy_from_slice(&bytes[..n]);
                    <$ty>::from_le_bytes(word)
                }
            }
        )*};
    }

    number!(u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);

    /// A `bool` from its byte, checked as the `bool` wire type checks it:
    /// 0 or 1.
    #[inline]
    pub(crate) fn boolean(byte: u8) -> Result<bool, InvalidValue> {
        <bool as WireType>::validate(&byte)?;
        Ok(byte != 0)
    }

    /// `bytes` as a string, if they are UTF-8.
    #[inline]
    pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, InvalidValue> {
        std::str::from_utf8(bytes).map_err(|error| InvalidValue::InvalidUtf8 {
            valid_up_to: error.valid_up_to(),
        })
    }

    /// The layout of a string slot ([`FixedStr`](crate::FixedStr)) or a
    /// byte slot ([`FixedBytes`](crate::FixedBytes)): a little-endian
    /// length prefix (`len`), then `capacity` bytes (`bytes`), the used
    /// ones first and zeros after them.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) struct Slot {
        /// The most bytes the slot holds.
        pub(crate) capacity: usize,
        /// The kind of the length prefix: `u32` for a string, `u16` for
        /// bytes.
        pub(crate) len: Kind,
        /// The length prefix's size in bytes.
        pub(crate) prefix: usize,
    }

    impl Slot {
        /// A string slot of `capacity` bytes: its length is a `u32`.
        pub(crate) fn string(capacity: usize) -> Slot {
            Slot {
                capacity,
                len: Kind::U32,
                prefix: 4,
            }
        }

        /// A byte slot of `capacity` bytes: its length is a `u16`.
        pub(crate) fn bytes(capacity: usize) -> Slot {
            Slot {
                capacity,
                len: Kind::U16,
                prefix: 2,
            }
        }

        /// The slot of a field of kind `kind`, if it is a string or a byte
        /// slot.
        pub(crate) fn of(kind: &Kind) -> Option<Slot> {
            match kind {
                Kind::Str { capacity } => Some(Slot::string(*capacity)),
                Kind::Bytes { capacity } => Some(Slot::bytes(*capacity)),
                _ => None,
            }
        }

        /// The slot's size in bytes, prefix and capacity; `None` if it
        /// overflows.
        pub(crate) fn size(&self) -> Option<usize> {
            self.capacity.checked_add(self.prefix)
        }

        /// The used bytes of the slot whose bytes (prefix, then data) are
        /// `bytes`, checked as the typed reader checks them: the length
        /// within the capacity, zeros after it.
        #[inline]
        pub(crate) fn data<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], InvalidValue> {
            let (len, data) = bytes.split_at(self.prefix.min(bytes.len()));
            let len = check_len(u64::read(len), self.capacity.min(data.len()))?;
            check_padding(data, len)?;
            Ok(&data[..len])
        }

        /// The text of the string slot whose bytes are `bytes`: its
        /// [`data`](Self::data), checked to be UTF-8.
        #[inline]
        pub(crate) fn text<'a>(&self, bytes: &'a [u8]) -> Result<&'a str, InvalidValue> {
            utf8(self.data(bytes)?)
        }
    }

    /// An enum's variants, looked up by discriminant: a little-endian
    /// unsigned integer of up to 8 bytes.
    pub(crate) struct Discriminants<'a> {
        type_name: &'static str,
        variants: &'a [Variant],
        /// `(discriminant, position)`, sorted, the first declared first
        /// among equal discriminants; empty (no allocation) for an enum of
        /// at most `LINEAR` variants, which a scan finds faster.
        sorted: Vec<(u64, usize)>,
    }

    /// Up to this many variants, a lookup scans them in declaration order:
    /// building a table per value decoded would cost more than it saves.
    const LINEAR: usize = 16;

    impl<'a> Discriminants<'a> {
        /// The lookup of `variants`, of the enum named `type_name` (in
        /// errors).
        pub(crate) fn new(type_name: &'static str, variants: &'a [Variant]) -> Self {
            let mut sorted: Vec<(u64, usize)> = Vec::new();
            if variants.len() > LINEAR {
                sorted = variants
                    .iter()
                    .enumerate()
                    .map(|(position, variant)| (variant.value(), position))
                    .collect();
                sorted.sort_unstable();
            }
            Discriminants {
                type_name,
                variants,
                sorted,
            }
        }

        /// The position, in declaration order, of the variant whose
        /// discriminant `bytes` hold.
        #[inline]
        pub(crate) fn position(&self, bytes: &[u8]) -> Result<usize, InvalidValue> {
            let value = u64::read(bytes);
            let found = if self.sorted.is_empty() {
                self.variants
                    .iter()
                    .position(|variant| variant.value() == value)
            } else {
                let at = self.sorted.partition_point(|&(found, _)| found < value);
                self.sorted
                    .get(at)
                    .filter(|&&(found, _)| found == value)
                    .map(|&(_, position)| position)
            };
            found.ok_or(InvalidValue::InvalidDiscriminant {
                type_name: self.type_name,
                value,
            })
        }

        /// The variant whose discriminant `bytes` hold.
        pub(crate) fn variant(&self, bytes: &[u8]) -> Result<&'a Variant, InvalidValue> {
            Ok(&self.variants[self.position(bytes)?])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Shape;

    fn schema(fields: Vec<(&'static str, Shape)>) -> Schema {
        Schema::from_shape("Test", Shape::structure("Test", fields))
    }

    #[test]
    fn numbers_of_every_width_and_sign() {
        let schema = schema(vec![
            ("a", Shape::of::<i8>()),
            ("b", Shape::of::<i16>()),
            ("c", Shape::of::<i32>()),
            ("d", Shape::of::<i64>()),
            ("e", Shape::of::<u64>()),
            ("f", Shape::of::<f32>()),
        ]);
        let mut packet = vec![0xff, 0xfe, 0xff];
        packet.extend_from_slice(&(-70_000i32).to_le_bytes());
        packet.extend_from_slice(&i64::MIN.to_le_bytes());
        packet.extend_from_slice(&u64::MAX.to_le_bytes());
        packet.extend_from_slice(&0.1f32.to_le_bytes());
        let values: Vec<Value> = schema
            .fields()
            .iter()
            .map(|field| field.value(&packet).unwrap())
            .collect();
        assert_eq!(
            values,
            [
                Value::Int(-1),
                Value::Int(-2),
                Value::Int(-70_000),
                Value::Int(i64::MIN),
                Value::UInt(u64::MAX),
                Value::F32(0.1),
            ]
        );
        assert_eq!(values[5].to_string(), "0.1");
    }

    #[test]
    fn invalid_values_are_errors_naming_the_field() {
        let schema = schema(vec![
            ("ok", Shape::of::<bool>()),
            ("s", Shape::of::<crate::FixedStr<3>>()),
            ("b", Shape::of::<crate::FixedBytes<2>>()),
        ]);
        let field = |name| schema.field(name).unwrap();
        let packet = [2, 4, 0, 0, 0, b'a', b'b', b'c', 1, 0, 7, 0];
        let error = field("ok").value(&packet).unwrap_err();
        assert_eq!(
            error.to_string(),
            "field `ok`: a bool must be 0 or 1, found 2"
        );
        let error = field("s").value(&packet).unwrap_err();
        assert!(matches!(
            error,
            DecodeError::Invalid {
                reason: InvalidValue::LengthExceedsSlot {
                    len: 4,
                    capacity: 3
                },
                ..
            }
        ));
        assert_eq!(field("b").value(&packet), Ok(Value::Bytes(vec![7])));
        let padded = [0, 1, 0, 0, 0, b'a', b'b', 0, 0, 0, 0, 0];
        let error = field("s").value(&padded).unwrap_err();
        assert!(error.to_string().contains("padding"), "{error}");
        let error = field("b").value(&packet[..11]).unwrap_err();
        assert_eq!(
            error,
            DecodeError::PacketTooShort {
                field: "b".into(),
                end: 12,
                len: 11
            }
        );
    }

    #[test]
    fn leaf_decoders_read_short_bytes_without_panicking() {
        use leaf::{Discriminants, Number, Slot};

        assert_eq!(u32::read(&[1, 2]), 0x0201);
        assert_eq!(i16::read(&[0xfe, 0xff, 9]), -2);
        assert_eq!(Slot::string(3).text(&[2, 0, 0, 0, b'h', b'i', 0]), Ok("hi"));
        assert_eq!(Slot::bytes(3).data(&[1, 0, 7, 0, 0]), Ok(&[7][..]));
        // A slot cut short: its capacity is what is there.
        assert_eq!(
            Slot::string(8).data(&[1]),
            Err(InvalidValue::LengthExceedsSlot {
                len: 1,
                capacity: 0
            })
        );
        assert_eq!(Slot::string(8).data(&[]), Ok(&[][..]));
        // The first declared of equal discriminants; none is an error.
        let variants = [
            Variant::new("A", 7),
            Variant::new("B", 0),
            Variant::new("C", 7),
        ];
        let lookup = Discriminants::new("E", &variants);
        assert_eq!(lookup.position(&[7]), Ok(0));
        assert_eq!(lookup.position(&[0, 0]), Ok(1));
        assert_eq!(lookup.variant(&[0]).map(Variant::name), Ok("B"));
        assert_eq!(
            lookup.position(&[3]),
            Err(InvalidValue::InvalidDiscriminant {
                type_name: "E",
                value: 3
            })
        );
    }

    /// Every node of `fields`, checked by the schema's consistency rule.
    fn check_all(fields: &[SchemaField], packet_size: usize) -> Result<(), String> {
        fields.iter().try_for_each(|field| {
            crate::schema::check_field(field, packet_size)
                .map_err(|reason| format!("`{}` {reason}", field.name()))?;
            check_all(field.fields(), packet_size)
        })
    }

    #[test]
    fn the_consistency_rule_accepts_every_built_in_shape() {
        let enumeration = |size| Shape::enumeration("E", size, [Variant::new("A", 0)]);
        let schema = schema(vec![
            ("a", Shape::of::<u8>()),
            ("b", Shape::of::<i64>()),
            ("c", Shape::of::<f32>()),
            ("d", Shape::of::<bool>()),
            ("e", Shape::of::<crate::FixedStr<5>>()),
            ("f", Shape::of::<crate::FixedBytes<3>>()),
            ("g", Shape::of::<crate::Vec3>()),
            ("h", Shape::of::<crate::CFrame>()),
            ("i", Shape::of::<crate::Color3>()),
            ("j", enumeration(1)),
            ("k", enumeration(2)),
            ("l", enumeration(4)),
            ("m", enumeration(8)),
            ("n", Shape::raw("Blob", 5)),
        ]);
        assert_eq!(check_all(schema.fields(), schema.packet_size()), Ok(()));
        for size in [0, 3, 16] {
            let schema =
                Schema::from_shape("Test", Shape::structure("Test", [("e", enumeration(size))]));
            assert_eq!(
                check_all(schema.fields(), schema.packet_size()),
                Err(format!(
                    "`e` is {size} bytes, but an enum's discriminant is 1, 2, 4 or 8 bytes"
                ))
            );
        }
        // A field that does not fit the packet it is said to be in.
        assert_eq!(
            crate::schema::check_field(&schema.fields()[1], 4),
            Err("is 8 bytes at offset 1, beyond the 4-byte packet".to_string())
        );
    }
}
