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
use crate::wire::{check_len, check_padding, Kind, Variant};

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
    // Up to 8 bytes, little-endian, as a u64 (a number's size is its kind's).
    let unsigned = |bytes: &[u8]| {
        let mut word = [0; 8];
        word[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
        u64::from_le_bytes(word)
    };
    // Sign-extends a `size`-byte integer.
    let signed = |bytes: &[u8]| {
        let shift = 64 - 8 * bytes.len().clamp(1, 8) as u32;
        ((unsigned(bytes) << shift) as i64) >> shift
    };
    Ok(match field.kind() {
        Kind::U8 | Kind::U16 | Kind::U32 | Kind::U64 => Value::UInt(unsigned(bytes)),
        Kind::I8 | Kind::I16 | Kind::I32 | Kind::I64 => Value::Int(signed(bytes)),
        Kind::F32 => Value::F32(f32::from_bits(unsigned(bytes) as u32)),
        Kind::F64 => Value::F64(f64::from_bits(unsigned(bytes))),
        Kind::Bool => match bytes.first().copied().unwrap_or(0) {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            byte => return Err(invalid(InvalidValue::InvalidBool { byte })),
        },
        Kind::Str { capacity } => {
            let slot = bytes.get(4..).unwrap_or_default();
            let text = slot_value(unsigned(&bytes[..4.min(bytes.len())]), *capacity, slot)
                .map_err(invalid)?;
            let text = std::str::from_utf8(text).map_err(|error| {
                invalid(InvalidValue::InvalidUtf8 {
                    valid_up_to: error.valid_up_to(),
                })
            })?;
            Value::Str(text.to_string())
        }
        Kind::Bytes { capacity } => {
            let slot = bytes.get(2..).unwrap_or_default();
            let data = slot_value(unsigned(&bytes[..2.min(bytes.len())]), *capacity, slot)
                .map_err(invalid)?;
            Value::Bytes(data.to_vec())
        }
        Kind::Enum { .. } if bytes.len() > 8 => Value::Raw(bytes.to_vec()),
        Kind::Enum { variants } => {
            let value = unsigned(bytes);
            let variant = variants.iter().find(|variant| variant.value() == value);
            match variant {
                Some(variant) => Value::Enum(*variant),
                None => {
                    return Err(invalid(InvalidValue::InvalidDiscriminant {
                        type_name: field.type_name(),
                        value,
                    }))
                }
            }
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

/// The value of a string or byte slot whose length prefix is `len` and
/// whose data bytes are `slot`, checked as the typed reader checks it.
fn slot_value(len: u64, capacity: usize, slot: &[u8]) -> Result<&[u8], InvalidValue> {
    let len = check_len(len, capacity.min(slot.len()))?;
    check_padding(slot, len)?;
    Ok(&slot[..len])
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
}
