//! What a wire type says about its own layout: a [`Shape`], the tree that a
//! task's [`Schema`](crate::Schema) is built from.
//!
//! Every [`WireType`] describes itself with [`WireType::shape`]: built-in
//! types by what they are (a `u16`, a string slot of 11 bytes, a struct of
//! three `f64`s), derived types by their fields or variants. Nothing here
//! depends on how a type is spelled where it is used, so a type alias and the
//! type it names have the same shape.

use std::collections::BTreeSet;
use std::mem::size_of;
use std::sync::{Mutex, PoisonError};

use super::WireType;

/// What kind of value a wire field holds: the leaves of a
/// [`Schema`](crate::Schema) tree, and the structs and slots above them.
///
/// Every number is little-endian; a field's size is in its
/// [`Shape`] (or [`SchemaField`](crate::SchemaField)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// An unsigned 8-bit integer.
    U8,
    /// An unsigned 16-bit integer.
    U16,
    /// An unsigned 32-bit integer.
    U32,
    /// An unsigned 64-bit integer.
    U64,
    /// A signed 8-bit integer.
    I8,
    /// A signed 16-bit integer.
    I16,
    /// A signed 32-bit integer.
    I32,
    /// A signed 64-bit integer.
    I64,
    /// An IEEE 754 single-precision float.
    F32,
    /// An IEEE 754 double-precision float.
    F64,
    /// A `bool`: one byte, 1 or 0.
    Bool,
    /// A UTF-8 string slot, such as [`FixedStr<N>`](crate::FixedStr): a
    /// `u32` byte length, then `capacity` bytes, zero-padded.
    Str {
        /// The most bytes the string can hold.
        capacity: usize,
    },
    /// A byte slot, such as [`FixedBytes<N>`](crate::FixedBytes): a `u16`
    /// length, then `capacity` bytes, zero-padded.
    Bytes {
        /// The most bytes the slot can hold.
        capacity: usize,
    },
    /// A fieldless enum, stored as its discriminant: an unsigned integer of
    /// the field's size.
    Enum {
        /// The variants, in declaration order.
        variants: Vec<Variant>,
    },
    /// A struct: its fields, in order, are the field's children.
    Struct,
    /// Bytes with no further structure: a byte array, or a hand-written wire
    /// type that does not describe itself (see [`WireType::shape`]).
    Raw,
}

impl Kind {
    /// The size in bytes of a number or a `bool`; `None` for the other kinds,
    /// whose size depends on the type.
    pub fn fixed_size(&self) -> Option<usize> {
        Some(match self {
            Kind::U8 | Kind::I8 | Kind::Bool => 1,
            Kind::U16 | Kind::I16 => 2,
            Kind::U32 | Kind::I32 | Kind::F32 => 4,
            Kind::U64 | Kind::I64 | Kind::F64 => 8,
            _ => return None,
        })
    }

    /// The kind's name in a [`Schema`](crate::Schema)'s text: `"u16"`,
    /// `"string"`, `"enum"`, `"struct"`...
    pub fn name(&self) -> &'static str {
        match self {
            Kind::U8 => "u8",
            Kind::U16 => "u16",
            Kind::U32 => "u32",
            Kind::U64 => "u64",
            Kind::I8 => "i8",
            Kind::I16 => "i16",
            Kind::I32 => "i32",
            Kind::I64 => "i64",
            Kind::F32 => "f32",
            Kind::F64 => "f64",
            Kind::Bool => "bool",
            Kind::Str { .. } => "string",
            Kind::Bytes { .. } => "bytes",
            Kind::Enum { .. } => "enum",
            Kind::Struct => "struct",
            Kind::Raw => "raw bytes",
        }
    }
}

/// One variant of an enum [`Kind`]: its name and its discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    name: &'static str,
    value: u64,
}

impl Variant {
    /// A variant named `name` whose discriminant is `value`.
    pub const fn new(name: &'static str, value: u64) -> Self {
        Variant { name, value }
    }

    /// The variant's name, as declared.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The variant's discriminant: the value its wire form holds.
    pub const fn value(&self) -> u64 {
        self.value
    }
}

/// A wire type's description of its own layout: its type name, its
/// [`Kind`], its size in bytes and its named parts, in order.
///
/// [`WireType::shape`] returns one; a task's [`Schema`](crate::Schema) is the
/// tree of its packet's shapes, with offsets. A struct's size is the sum of
/// its fields' sizes: parts are packed with no padding, as wire forms are.
///
/// ```
/// use parallelizer::{Kind, Shape, Vec3};
///
/// let vec3 = Shape::of::<Vec3>();
/// assert_eq!((vec3.type_name(), vec3.kind(), vec3.size()), ("Vec3", &Kind::Struct, 24));
/// let names: Vec<&str> = vec3.fields().iter().map(|(name, _)| *name).collect();
/// assert_eq!(names, ["x", "y", "z"]);
/// assert_eq!(vec3.fields()[1].1, Shape::of::<f64>());
///
/// // A hand-written wire type describes itself from the shapes of its parts.
/// let point = Shape::structure("Point", [("x", Shape::of::<i16>()), ("y", Shape::of::<i16>())]);
/// assert_eq!(point.size(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    type_name: &'static str,
    kind: Kind,
    size: usize,
    fields: Vec<(&'static str, Shape)>,
}

impl Shape {
    /// The shape of wire type `T`: [`T::shape()`](WireType::shape), checked
    /// against the size of `T`'s wire form. A shape that disagrees with it
    /// (a mistake in a hand-written `shape`) is replaced by
    /// [`raw`](Self::raw) bytes of the right size, so offsets never lie.
    pub fn of<T: WireType>() -> Shape {
        Shape::checked(T::shape(), size_of::<T::Wire>())
    }

    /// `shape` if its size is `size`, else `size` raw bytes of its type name.
    pub(crate) fn checked(shape: Shape, size: usize) -> Shape {
        if shape.size == size {
            shape
        } else {
            Shape::raw(shape.type_name, size)
        }
    }

    /// A number or a `bool`: one of the kinds with a
    /// [fixed size](Kind::fixed_size).
    pub(crate) fn number(type_name: &'static str, kind: Kind) -> Shape {
        let size = kind.fixed_size().expect("a number kind");
        Shape {
            type_name,
            kind,
            size,
            fields: Vec::new(),
        }
    }

    /// A string slot of `capacity` bytes: its `len` (u32), then its `bytes`.
    pub(crate) fn string(type_name: &'static str, capacity: usize) -> Shape {
        Shape {
            type_name,
            kind: Kind::Str { capacity },
            size: capacity + 4,
            fields: vec![
                ("len", Shape::number("u32", Kind::U32)),
                ("bytes", Shape::byte_array(capacity)),
            ],
        }
    }

    /// A byte slot of `capacity` bytes: its `len` (u16), then its `bytes`.
    pub(crate) fn bytes(type_name: &'static str, capacity: usize) -> Shape {
        Shape {
            type_name,
            kind: Kind::Bytes { capacity },
            size: capacity + 2,
            fields: vec![
                ("len", Shape::number("u16", Kind::U16)),
                ("bytes", Shape::byte_array(capacity)),
            ],
        }
    }

    /// `[u8; len]`.
    fn byte_array(len: usize) -> Shape {
        Shape::raw(intern(format!("[u8; {len}]")), len)
    }

    /// A struct of `fields`, named, in order: its size is the sum of theirs.
    ///
    /// ```
    /// use parallelizer::{Kind, Shape};
    ///
    /// let shape = Shape::structure("Reading", [("id", Shape::of::<u32>()), ("ok", Shape::of::<bool>())]);
    /// assert_eq!((shape.kind(), shape.size()), (&Kind::Struct, 5));
    /// ```
    pub fn structure(
        type_name: &'static str,
        fields: impl IntoIterator<Item = (&'static str, Shape)>,
    ) -> Shape {
        let fields: Vec<_> = fields.into_iter().collect();
        Shape {
            type_name,
            kind: Kind::Struct,
            size: fields.iter().map(|(_, field)| field.size).sum(),
            fields,
        }
    }

    /// A fieldless enum whose discriminant is an unsigned integer of `size`
    /// bytes, with its variants in declaration order.
    ///
    /// ```
    /// use parallelizer::{Kind, Shape, Variant};
    ///
    /// let shape = Shape::enumeration("Side", 1, [Variant::new("Left", 0), Variant::new("Right", 1)]);
    /// assert!(matches!(shape.kind(), Kind::Enum { variants } if variants.len() == 2));
    /// ```
    pub fn enumeration(
        type_name: &'static str,
        size: usize,
        variants: impl IntoIterator<Item = Variant>,
    ) -> Shape {
        Shape {
            type_name,
            kind: Kind::Enum {
                variants: variants.into_iter().collect(),
            },
            size,
            fields: Vec::new(),
        }
    }

    /// `size` bytes with no further structure: what a hand-written wire type
    /// that does not override [`WireType::shape`] is.
    pub fn raw(type_name: &'static str, size: usize) -> Shape {
        Shape {
            type_name,
            kind: Kind::Raw,
            size,
            fields: Vec::new(),
        }
    }

    /// The same shape under another type name, for a wire type whose wire
    /// form is another type's:
    /// `Shape::of::<u16>().with_type_name("Color3b16")`.
    pub fn with_type_name(mut self, type_name: &'static str) -> Shape {
        self.type_name = type_name;
        self
    }

    /// The type's name, such as `"FixedStr<11>"` or `"Cell"`: what the type
    /// calls itself, whatever alias or path named it. It is shown, but not
    /// part of the [fingerprint](crate::Schema::fingerprint).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// What kind of value the type is.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The size of the wire form in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The named parts, in order: a struct's fields, a string slot's `len`
    /// and `bytes`; none for numbers, `bool`s, enums and raw bytes.
    pub fn fields(&self) -> &[(&'static str, Shape)] {
        &self.fields
    }
}

/// A `&'static str` holding `name`: computed type names (`FixedStr<11>`) are
/// kept once each for the program's life, as literal names are. A program has
/// finitely many types, so those are finitely many names; a schema read from
/// a results file (`ResultsFile`) adds its variant names and slot types, each
/// distinct name kept once, so a process that reads files of ever new
/// schemas keeps their names (at most a schema's 16 MiB each).
pub(crate) fn intern(name: String) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&kept) = names.get(name.as_str()) {
        return kept;
    }
    let kept: &'static str = Box::leak(name.into_boxed_str());
    names.insert(kept);
    kept
}

/// `T`'s name without paths (`parallelizer::wire::FixedStr<3>` is
/// `FixedStr<3>`): what an undescribed hand-written wire type is called.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    intern(without_paths(std::any::type_name::<T>().chars()))
}

/// A type name with each path qualifier (`a::b::`) dropped.
pub(crate) fn without_paths(type_name: impl Iterator<Item = char>) -> String {
    let mut name = String::new();
    let mut chars = type_name.peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            let qualifier = name
                .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                .len();
            name.truncate(qualifier);
        } else {
            name.push(c);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_names_are_shared() {
        let a = intern("FixedStr<7>".to_string());
        let b = intern(format!("FixedStr<{}>", 7));
        assert!(std::ptr::eq(a, b));
    }

    #[test]
    fn short_type_names_drop_paths() {
        assert_eq!(short_type_name::<u16>(), "u16");
        assert_eq!(short_type_name::<crate::FixedStr<3>>(), "FixedStr<3>");
        assert_eq!(
            short_type_name::<Option<std::collections::HashMap<u8, u8>>>(),
            "Option<HashMap<u8, u8>>"
        );
    }

    #[test]
    fn a_lying_shape_becomes_raw_bytes_of_the_wire_size() {
        let shape = Shape::checked(Shape::structure("Two", [("a", Shape::of::<u8>())]), 2);
        assert_eq!(shape, Shape::raw("Two", 2));
    }
}
