//! A packet's layout as a tree ([`Schema`]), its canonical encoding and the
//! fingerprint that hashes it, and the comparison that names the first field
//! where two layouts differ.
//!
//! The tree is built from the packet's [`Shape`]s, which every wire type
//! supplies itself: nothing here depends on how a type was spelled.

use std::fmt;

use crate::wire::{intern, Kind, Shape, Variant};

/// The layout of a task's packet: its fields in order, each with its name,
/// type, offset, size, kind and parts, down to the numbers, `bool`s, string
/// slots and enums that the bytes hold.
///
/// A packet is its fields' wire forms back to back, with no padding, so each
/// field's offset is the sum of the sizes before it, and each part's offset
/// is its field's plus the sizes of the parts before it. The tree is what the
/// [fingerprint](Self::fingerprint) hashes and what a
/// [results file](crate::persist) stores, so that a file written by another
/// layout is refused with an error naming the first field that differs.
///
/// ```
/// use parallelizer::prelude::*;
/// use parallelizer::Kind;
///
/// #[task(packet = (u16, FixedStr<11>))]
/// pub struct Hello;
///
/// let schema = Hello::schema();
/// assert_eq!(schema.task(), "Hello");
/// assert_eq!(schema.packet_size(), 17);
/// let text = &schema.fields()[1];
/// assert_eq!((text.name(), text.type_name()), ("1", "FixedStr<11>"));
/// assert_eq!((text.offset(), text.size()), (2, 15));
/// assert_eq!(text.kind(), &Kind::Str { capacity: 11 });
/// let len = &text.fields()[0];
/// assert_eq!((len.name(), len.kind(), len.offset()), ("len", &Kind::U32, 2));
/// assert_eq!(schema.field("1.bytes").map(|bytes| bytes.offset()), Some(6));
/// assert_eq!(schema.fingerprint(), 0x058d_b623_c69e_e6c2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schema {
    task: &'static str,
    type_name: &'static str,
    fields: Vec<SchemaField>,
    packet_size: usize,
}

/// One field of a [`Schema`], or one part of a field: a node of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaField {
    name: String,
    type_name: &'static str,
    offset: usize,
    size: usize,
    kind: Kind,
    fields: Vec<SchemaField>,
}

impl Schema {
    /// The schema of task `task`, whose packet is `packet`: a struct shape
    /// whose fields are the packet's fields.
    pub(crate) fn from_shape(task: &'static str, packet: Shape) -> Schema {
        let mut offset = 0;
        let fields = packet
            .fields()
            .iter()
            .map(|(name, shape)| {
                let field = SchemaField::new(name, shape, offset);
                offset += field.size;
                field
            })
            .collect();
        Schema {
            task,
            type_name: packet.type_name(),
            fields,
            packet_size: packet.size(),
        }
    }

    /// The task's name. It is not part of the [fingerprint](Self::fingerprint).
    pub fn task(&self) -> &'static str {
        self.task
    }

    /// The packet's type: the struct's name for `#[task(packet = Cell)]`,
    /// the tuple of the fields' types, such as `"(u16, FixedStr<11>)"`, for
    /// a tuple packet. It is not part of the fingerprint.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The packet's fields, in declaration order: the tuple's elements, named
    /// `"0"`, `"1"`, ..., or the struct's fields.
    pub fn fields(&self) -> &[SchemaField] {
        &self.fields
    }

    /// The field or part at `path`: names joined by dots, such as `"normal"`
    /// or `"normal.y"`, or `"1.len"` in a tuple packet.
    pub fn field(&self, path: &str) -> Option<&SchemaField> {
        let mut names = path.split('.');
        let first = names.next()?;
        let mut field = self.fields.iter().find(|field| field.name == first)?;
        for name in names {
            field = field.fields.iter().find(|part| part.name == name)?;
        }
        Some(field)
    }

    /// The size of one packet in bytes: the sum of the fields' sizes.
    pub fn packet_size(&self) -> usize {
        self.packet_size
    }

    /// A 64-bit hash of the packet's layout, stable across platforms,
    /// compilers and releases: the 64-bit FNV-1a hash of the
    /// [canonical encoding](Self::canonical_encoding).
    ///
    /// It covers every field's and part's name, kind, size, capacity and
    /// enum variants, in order, so it changes when a field is renamed,
    /// reordered, retyped or resized, or a variant changes. It leaves out
    /// the task's name and every type name: a type alias, `FixedStr<{ 5 + 6
    /// }>` and `FixedStr<11>` give the same fingerprint, and two tasks with
    /// the same packet layout share one.
    pub fn fingerprint(&self) -> u64 {
        let mut hash = Fnv1a::new();
        self.encode(&mut hash);
        hash.finish()
    }

    /// The canonical encoding of the layout, which the
    /// [fingerprint](Self::fingerprint) hashes and a results file stores.
    ///
    /// Every integer is a little-endian `u64`. The packet is encoded as a
    /// node named `""` of kind struct whose children are its fields; a node
    /// is its name (byte length, then UTF-8 bytes), its kind's tag, its size
    /// in bytes, its kind's parameters (a string or byte slot's capacity; an
    /// enum's variant count, then each variant's name and value), its
    /// children's count, then its children. `docs/FORMAT.md` in the
    /// repository lists the tags and works an example through.
    pub fn canonical_encoding(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encode(&mut bytes);
        bytes
    }

    /// The packet's numpy structured dtype, as the `descr` of an NPY header:
    /// a Python literal list of `(name, format)` tuples that
    /// `numpy.dtype(ast.literal_eval(descr))` reads, whose item size is the
    /// packet size and whose offsets are the packet's, with no padding.
    ///
    /// Field names are the schema's (a tuple packet's fields are `'0'`,
    /// `'1'`, ...). Numbers are little-endian (`'<u2'`, `'<f8'`, `'|i1'`),
    /// a `bool` is `'|b1'`, an enum its discriminant's unsigned integer,
    /// a struct or a built-in compound type ([`Vec3`](crate::Vec3),
    /// [`Color3`](crate::Color3), ...) a nested dtype of its parts, a string
    /// slot `[('len', '<u4'), ('bytes', '|S11')]` (numpy's bytes type, which
    /// drops the zero padding), a byte slot `[('len', '<u2'), ('bytes',
    /// '|u1', (16,))]` (an array of the slot's bytes, since trailing zeros
    /// may be data), raw bytes `('|u1', (n,))`.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u16, FixedStr<11>, Color3))]
    /// pub struct Hello;
    ///
    /// assert_eq!(
    ///     Hello::schema().numpy_dtype(),
    ///     "[('0', '<u2'), ('1', [('len', '<u4'), ('bytes', '|S11')]), \
    ///      ('2', [('r', '|u1'), ('g', '|u1'), ('b', '|u1')])]"
    /// );
    /// ```
    pub fn numpy_dtype(&self) -> String {
        crate::npy::dtype(self)
    }

    fn encode(&self, out: &mut impl Sink) {
        encode_node(out, "", &Kind::Struct, self.packet_size, &self.fields);
    }

    /// The schema a [canonical encoding](Self::canonical_encoding) describes,
    /// as a results file stores it: what
    /// [`ResultsFile::schema`](crate::ResultsFile::schema) gives.
    ///
    /// The encoding holds neither the task's name nor type names: the
    /// schema's [`task`](Self::task) is [`UNKNOWN_TASK`], `"?"`; its
    /// [`type_name`](Self::type_name) is `"struct"`; and each field's type
    /// name is its kind's, as [`generic_type_name`] gives: `"u16"`,
    /// `"string<11>"`, `"bytes<16>"`, `"enum u8"`, `"struct"`, `"[u8; 8]"`.
    /// Enum variant names are kept for the program's life (as
    /// [`Variant`](crate::Variant) names are `&'static str`), once per
    /// distinct name.
    ///
    /// Every node is checked to mean what it says: a number's size is its
    /// kind's, a struct's the sum of its fields', a string slot is a `u32`
    /// `len` and `capacity` raw `bytes`, a byte slot a `u16` `len` and raw
    /// `bytes`, an enum's discriminant is 1, 2, 4 or 8 bytes ([`check_field`]).
    /// And it must be a layout that can be read: the packet is at least 1
    /// byte (a packet of 0 bytes would let a file claim any number of
    /// packets in no bytes), and no struct has two fields of the same name (a
    /// table's columns, a numpy dtype's fields would clash). The macros
    /// write neither; a hand-written `WireType::shape` could. `Err` says
    /// what is wrong.
    pub(crate) fn from_canonical_encoding(bytes: &[u8]) -> Result<Schema, String> {
        let root = decode(bytes)?;
        if root.tag != TAG_STRUCT || !root.name.is_empty() {
            return Err("it does not encode a packet".into());
        }
        let fields = SchemaField::from_nodes("", &root.parts, 0)?;
        let packet_size = checked_size(&root, &fields, "the packet")?;
        if packet_size == 0 {
            return Err(
                "it describes packets of 0 bytes, which cannot be read (a file of them \
                 could claim any number of packets in no bytes)"
                    .into(),
            );
        }
        Ok(Schema {
            task: UNKNOWN_TASK,
            type_name: "struct",
            fields,
            packet_size,
        })
    }

    /// The schema's tree without its title line: what `Display` prints
    /// after `"Task: Type, N bytes"`, one line per field and part with its
    /// offset, size, name and type, parts indented under their field.
    /// Control characters in field and variant names (which a schema read
    /// from a file may hold) are escaped as Rust escapes them: `\n`,
    /// `\u{1b}`.
    ///
    /// ```
    /// use parallelizer::prelude::*;
    ///
    /// #[task(packet = (u16, bool))]
    /// pub struct Flags;
    ///
    /// assert_eq!(Flags::schema().tree().to_string(), "\
    /// offset  size  field
    ///      0     2  0: u16
    ///      2     1  1: bool
    /// ");
    /// ```
    pub fn tree(&self) -> impl fmt::Display + '_ {
        Tree(self)
    }
}

/// The task name of a [`Schema`] read from a results file, which does not
/// record it.
pub(crate) const UNKNOWN_TASK: &str = "?";

/// The type name a [`Schema`] read from a results file gives a field of
/// `kind` and `size` bytes, since the file records kinds, not type names:
/// the kind's name for a number or a `bool` (`"u16"`), `"string<N>"` and
/// `"bytes<N>"` for slots of capacity `N`, `"enum u8"` (the discriminant's
/// type) for an enum, `"struct"` for a struct, `"[u8; N]"` for raw bytes.
pub(crate) fn generic_type_name(kind: &Kind, size: usize) -> String {
    match kind {
        Kind::Str { capacity } => format!("string<{capacity}>"),
        Kind::Bytes { capacity } => format!("bytes<{capacity}>"),
        Kind::Enum { .. } => format!("enum {}", unsigned_name(size)),
        Kind::Raw => format!("[u8; {size}]"),
        kind => kind.name().to_string(),
    }
}

/// The size of a struct `node` whose decoded fields are `fields`: the sum
/// of theirs, which the node must say.
fn checked_size(node: &Node, fields: &[SchemaField], what: &str) -> Result<usize, String> {
    let sum = fields
        .iter()
        .try_fold(0usize, |sum, field| sum.checked_add(field.size))
        .ok_or_else(|| format!("{what} is larger than memory"))?;
    if node.size != sum as u64 {
        return Err(format!(
            "{what} says {} bytes, but its fields make {sum}",
            node.size
        ));
    }
    Ok(sum)
}

/// [`Schema::tree`].
struct Tree<'a>(&'a Schema);

impl fmt::Display for Tree<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "offset  size  field")?;
        for field in &self.0.fields {
            field.write_tree(f, 0)?;
        }
        Ok(())
    }
}

impl SchemaField {
    /// The field for `shape`, named `name`, at `offset`, with its parts.
    fn new(name: &str, shape: &Shape, offset: usize) -> SchemaField {
        let mut part_offset = offset;
        let fields = shape
            .fields()
            .iter()
            .map(|(name, part)| {
                let part = SchemaField::new(name, part, part_offset);
                part_offset += part.size;
                part
            })
            .collect();
        SchemaField {
            name: name.to_string(),
            type_name: shape.type_name(),
            offset,
            size: shape.size(),
            kind: shape.kind().clone(),
            fields,
        }
    }

    /// The fields that decoded `nodes` of a canonical encoding describe, the
    /// first at `offset`, inside the field at `path`.
    fn from_nodes(path: &str, nodes: &[Node], offset: usize) -> Result<Vec<SchemaField>, String> {
        let mut offset = offset;
        let mut fields = Vec::with_capacity(nodes.len());
        let mut names = std::collections::HashSet::with_capacity(nodes.len());
        for node in nodes {
            // A set, not a scan of the names before: a schema may hold
            // hundreds of thousands of fields.
            if !names.insert(node.name.as_str()) {
                let within = if path.is_empty() {
                    "the packet".to_string()
                } else {
                    format!("field `{path}`")
                };
                return Err(format!(
                    "{within} has two fields named `{}`, which cannot be read (a table's \
                     columns and a numpy dtype's fields need distinct names)",
                    node.name
                ));
            }
            let field = SchemaField::from_node(&join(path, &node.name), node, offset)?;
            offset = offset
                .checked_add(field.size)
                .ok_or_else(|| format!("field `{path}` is larger than memory"))?;
            fields.push(field);
        }
        Ok(fields)
    }

    /// The field that `node`, at `path` and `offset`, describes: see
    /// [`Schema::from_canonical_encoding`].
    fn from_node(path: &str, node: &Node, offset: usize) -> Result<SchemaField, String> {
        let size = usize::try_from(node.size)
            .map_err(|_| format!("field `{path}` is larger than memory"))?;
        let capacity = usize::try_from(node.capacity)
            .map_err(|_| format!("field `{path}` is larger than memory"))?;
        let fields = SchemaField::from_nodes(path, &node.parts, offset)?;
        let kind = match node.tag {
            TAG_STR => Kind::Str { capacity },
            TAG_BYTES => Kind::Bytes { capacity },
            TAG_ENUM => Kind::Enum {
                variants: node
                    .variants
                    .iter()
                    .map(|(name, value)| Variant::new(intern(name.clone()), *value))
                    .collect(),
            },
            TAG_STRUCT => Kind::Struct,
            TAG_RAW => Kind::Raw,
            tag => {
                number_kind(tag).ok_or_else(|| format!("field `{path}` has the kind tag {tag}"))?
            }
        };
        let field = SchemaField {
            name: node.name.clone(),
            type_name: intern(generic_type_name(&kind, size)),
            offset,
            size,
            kind,
            fields,
        };
        // The packet's own size is checked against its fields' once they
        // are all read.
        check_field(&field, usize::MAX).map_err(|reason| format!("field `{path}` {reason}"))?;
        Ok(field)
    }

    /// The field's name: its position in a tuple packet (`"0"`, `"1"`, ...),
    /// its name in a struct, or its part's name (`"x"`, `"len"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's type, as the type names itself, such as
    /// `"FixedStr<11>"` or `"Cell"`: the same whatever alias or path the
    /// packet used for it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Where the field starts in a packet, in bytes.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The field's wire size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// What kind of value the field holds.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The field's parts, in order, each with its absolute offset: a
    /// struct's fields, a string slot's `len` and `bytes`, a vector's `x`,
    /// `y` and `z`; none for a number, a `bool`, an enum or raw bytes.
    pub fn fields(&self) -> &[SchemaField] {
        &self.fields
    }
}

/// A readable tree: one line per field and part, with its offset, size,
/// name and type, parts indented under their field.
///
/// ```
/// use parallelizer::prelude::*;
///
/// #[derive(WireType, Debug, Clone, Copy, PartialEq)]
/// #[repr(u8)]
/// pub enum Biome { Ocean = 0, Plains = 1, Forest = 2, Mountain = 7 }
///
/// #[derive(WireType, Debug, Clone, Copy, PartialEq)]
/// pub struct Cell {
///     pub height: f32,
///     pub normal: Vec3,
///     pub biome: Biome,
///     pub name: FixedStr<8>,
///     pub color: Color3,
///     pub wet: bool,
/// }
///
/// #[task(packet = Cell, args = f32)]
/// pub struct Terrain;
///
/// assert_eq!(Terrain::schema().to_string(), "\
/// Terrain: Cell, 45 bytes
/// offset  size  field
///      0     4  height: f32
///      4    24  normal: Vec3
///      4     8    x: f64
///     12     8    y: f64
///     20     8    z: f64
///     28     1  biome: Biome (enum u8: Ocean = 0, Plains = 1, Forest = 2, Mountain = 7)
///     29    12  name: FixedStr<8> (string of at most 8 bytes)
///     29     4    len: u32
///     33     8    bytes: [u8; 8]
///     41     3  color: Color3
///     41     1    r: u8
///     42     1    g: u8
///     43     1    b: u8
///     44     1  wet: bool
/// ");
/// ```
impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {}, {} bytes",
            self.task, self.type_name, self.packet_size
        )?;
        write!(f, "{}", self.tree())
    }
}

impl SchemaField {
    fn write_tree(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        write!(
            f,
            "{:>6}  {:>4}  {:indent$}{}: {}",
            self.offset,
            self.size,
            "",
            Escaped(&self.name),
            self.type_name,
            indent = depth * 2
        )?;
        // A schema read from a file names types by their kind already.
        let generic = self.type_name == generic_type_name(&self.kind, self.size);
        match &self.kind {
            Kind::Enum { variants } => {
                if generic {
                    f.write_str(" (")?;
                } else {
                    write!(f, " (enum {}:", unsigned_name(self.size))?;
                }
                for (i, variant) in variants.iter().enumerate() {
                    let comma = match (i, generic) {
                        (0, true) => "",
                        (0, false) => " ",
                        _ => ", ",
                    };
                    write!(
                        f,
                        "{comma}{} = {}",
                        Escaped(variant.name()),
                        variant.value()
                    )?;
                }
                f.write_str(")")?;
            }
            Kind::Str { .. } | Kind::Bytes { .. } if generic => {}
            Kind::Str { capacity } => write!(f, " (string of at most {capacity} bytes)")?,
            Kind::Bytes { capacity } => write!(f, " (bytes, at most {capacity})")?,
            Kind::Struct => {}
            Kind::Raw if self.type_name.starts_with("[u8;") => {}
            kind if kind.name() != self.type_name => write!(f, " ({})", kind.name())?,
            _ => {}
        }
        writeln!(f)?;
        for part in &self.fields {
            part.write_tree(f, depth + 1)?;
        }
        Ok(())
    }
}

/// A name as the tree prints it: control characters (a newline, a
/// terminal escape) escaped as Rust escapes them (`\n`, `\u{1b}`), since a
/// name read from a file may hold anything and must neither break the tree's
/// lines nor reach a terminal raw.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The unsigned integer of `size` bytes, which an enum's discriminant is.
fn unsigned_name(size: usize) -> String {
    match size {
        1 => "u8".into(),
        2 => "u16".into(),
        4 => "u32".into(),
        8 => "u64".into(),
        size => format!("of {size} bytes"),
    }
}

/// The tag of each kind in the canonical encoding.
fn tag(kind: &Kind) -> u64 {
    match kind {
        Kind::U8 => 1,
        Kind::U16 => 2,
        Kind::U32 => 3,
        Kind::U64 => 4,
        Kind::I8 => 5,
        Kind::I16 => 6,
        Kind::I32 => 7,
        Kind::I64 => 8,
        Kind::F32 => 9,
        Kind::F64 => 10,
        Kind::Bool => 11,
        Kind::Str { .. } => 12,
        Kind::Bytes { .. } => 13,
        Kind::Enum { .. } => 14,
        Kind::Struct => 15,
        Kind::Raw => 16,
    }
}

const TAG_STR: u64 = 12;
const TAG_BYTES: u64 = 13;
const TAG_ENUM: u64 = 14;
const TAG_STRUCT: u64 = 15;
const TAG_RAW: u64 = 16;
const TAG_MAX: u64 = TAG_RAW;

/// Where the canonical encoding goes: bytes, or straight into a hash.
trait Sink {
    fn bytes(&mut self, bytes: &[u8]);

    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    fn str(&mut self, text: &str) {
        self.u64(text.len() as u64);
        self.bytes(text.as_bytes());
    }
}

impl Sink for Vec<u8> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Fnv1a {
    fn bytes(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }
}

fn encode_node(out: &mut impl Sink, name: &str, kind: &Kind, size: usize, parts: &[SchemaField]) {
    out.str(name);
    out.u64(tag(kind));
    out.u64(size as u64);
    match kind {
        Kind::Str { capacity } | Kind::Bytes { capacity } => out.u64(*capacity as u64),
        Kind::Enum { variants } => {
            out.u64(variants.len() as u64);
            for variant in variants {
                out.str(variant.name());
                out.u64(variant.value());
            }
        }
        _ => {}
    }
    out.u64(parts.len() as u64);
    for part in parts {
        encode_node(out, &part.name, &part.kind, part.size, &part.fields);
    }
}

/// The 64-bit FNV-1a hash: tiny, and fixed by its definition, unlike std's
/// `Hasher`s.
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn write_u64(&mut self, value: u64) {
        self.write(&value.to_le_bytes());
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// The FNV-1a 64 hash of `bytes`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.write(bytes);
    hash.finish()
}

/// A node of a canonical encoding read back: what two layouts are compared
/// by. Names are owned, as they come from a file.
#[derive(Debug, PartialEq)]
struct Node {
    name: String,
    tag: u64,
    size: u64,
    /// A slot's capacity.
    capacity: u64,
    variants: Vec<(String, u64)>,
    parts: Vec<Node>,
}

/// Deeper than any real packet, shallow enough for any stack.
const MAX_DEPTH: usize = 64;

/// Reads a canonical encoding back, to its last byte.
fn decode(bytes: &[u8]) -> Result<Node, String> {
    let mut reader = Reader { bytes };
    let node = reader.node(0)?;
    if !reader.bytes.is_empty() {
        return Err(format!(
            "{} bytes follow the encoded packet",
            reader.bytes.len()
        ));
    }
    Ok(node)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn u64(&mut self) -> Result<u64, String> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<8>() else {
            return Err("it ends inside a number".into());
        };
        self.bytes = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// A count of things of at least `each` bytes that the rest can hold.
    fn count(&mut self, each: usize) -> Result<usize, String> {
        let count = self.u64()?;
        match usize::try_from(count) {
            Ok(count) if count.saturating_mul(each) <= self.bytes.len() => Ok(count),
            _ => Err(format!("it counts {count} items, more than it holds")),
        }
    }

    fn str(&mut self) -> Result<String, String> {
        let len = self.count(1)?;
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
    }

    fn node(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(format!("it nests deeper than {MAX_DEPTH} levels"));
        }
        let name = self.str()?;
        let tag = self.u64()?;
        if !(1..=TAG_MAX).contains(&tag) {
            return Err(format!("field `{name}` has the unknown kind tag {tag}"));
        }
        let size = self.u64()?;
        let mut node = Node {
            name,
            tag,
            size,
            capacity: 0,
            variants: Vec::new(),
            parts: Vec::new(),
        };
        match tag {
            TAG_STR | TAG_BYTES => node.capacity = self.u64()?,
            TAG_ENUM => {
                // A variant is at least its name's length and its value.
                let count = self.count(16)?;
                for _ in 0..count {
                    let name = self.str()?;
                    node.variants.push((name, self.u64()?));
                }
            }
            _ => {}
        }
        // A node is at least its name's length, tag, size and count.
        let count = self.count(32)?;
        for _ in 0..count {
            node.parts.push(self.node(depth + 1)?);
        }
        Ok(node)
    }
}

/// Where two layouts first differ: the path of the field, and what each
/// layout has there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    pub field: String,
    pub found: String,
    pub expected: String,
}

/// Compares the layout a file stored (`found`, a canonical encoding) with
/// `expected`'s: the first field, in declaration order, where they differ.
/// `Ok(None)` if they are the same; `Err` if `found` is not an encoding.
pub(crate) fn first_difference(
    found: &[u8],
    expected: &Schema,
) -> Result<Option<Difference>, String> {
    let found = decode(found)?;
    let expected = decode(&expected.canonical_encoding()).expect("an encoding reads back");
    if found.tag != TAG_STRUCT || !found.name.is_empty() {
        return Err("it does not encode a packet".into());
    }
    Ok(
        differ_in_parts("", &found.parts, &expected.parts).or_else(|| {
            (found.size != expected.size).then(|| Difference {
                field: String::new(),
                found: format!("a packet of {} bytes", found.size),
                expected: format!("a packet of {} bytes", expected.size),
            })
        }),
    )
}

fn differ_in_parts(path: &str, found: &[Node], expected: &[Node]) -> Option<Difference> {
    for index in 0..found.len().max(expected.len()) {
        let difference = match (found.get(index), expected.get(index)) {
            (Some(found), Some(expected)) => differ(path, found, expected),
            (Some(found), None) => Some(Difference {
                field: join(path, &found.name),
                found: describe(found),
                expected: "no field".into(),
            }),
            (None, Some(expected)) => Some(Difference {
                field: join(path, &expected.name),
                found: "no field".into(),
                expected: describe(expected),
            }),
            (None, None) => None,
        };
        if difference.is_some() {
            return difference;
        }
    }
    None
}

fn differ(path: &str, found: &Node, expected: &Node) -> Option<Difference> {
    let path = join(path, &expected.name);
    let here = || Difference {
        field: path.clone(),
        found: describe(found),
        expected: describe(expected),
    };
    let is_struct = expected.tag == TAG_STRUCT;
    if found.name != expected.name
        || found.tag != expected.tag
        || (!is_struct
            && (found.size != expected.size
                || found.capacity != expected.capacity
                || found.variants != expected.variants))
    {
        return Some(here());
    }
    // A struct differs where its fields first do; the parts of the other
    // kinds follow from what was compared.
    differ_in_parts(&path, &found.parts, &expected.parts)
        .or_else(|| (found.size != expected.size).then(here))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A node as an error names it: `` `height`: f32 (4 bytes) ``.
fn describe(node: &Node) -> String {
    let bytes = |size: u64| {
        if size == 1 {
            "1 byte".to_string()
        } else {
            format!("{size} bytes")
        }
    };
    let what = match node.tag {
        TAG_STRUCT => format!(
            "a struct of {} fields ({})",
            node.parts.len(),
            bytes(node.size)
        ),
        TAG_STR => format!(
            "a string of at most {} ({})",
            bytes(node.capacity),
            bytes(node.size)
        ),
        TAG_BYTES => format!("bytes, at most {} ({})", node.capacity, bytes(node.size)),
        TAG_ENUM => {
            let variants = node
                .variants
                .iter()
                .map(|(name, value)| format!("{name} = {value}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("an enum of {} ({variants})", bytes(node.size))
        }
        TAG_RAW => bytes(node.size) + " of raw bytes",
        tag => format!("{} ({})", kind_name(tag), bytes(node.size)),
    };
    format!("`{}`: {what}", node.name)
}

/// The name of a number's or `bool`'s tag.
fn kind_name(tag: u64) -> &'static str {
    number_kind(tag).as_ref().map_or("?", Kind::name)
}

/// The number's or `bool`'s kind whose tag is `tag`.
fn number_kind(tag: u64) -> Option<Kind> {
    let kinds = [
        Kind::U8,
        Kind::U16,
        Kind::U32,
        Kind::U64,
        Kind::I8,
        Kind::I16,
        Kind::I32,
        Kind::I64,
        Kind::F32,
        Kind::F64,
        Kind::Bool,
    ];
    kinds.into_iter().find(|kind| self::tag(kind) == tag)
}

/// Why `field`, a node of a schema whose packets are `packet_size` bytes,
/// does not mean what it says; `Ok` if it does. The one consistency rule of
/// a schema node, for every reader that walks the tree (call it on each
/// node read; it checks the node and where its parts lie, not the parts'
/// own kinds): the node lies within the packet; a number's or `bool`'s size
/// is its kind's; a struct's parts follow each other from its offset and
/// their sizes sum to its size; a string slot is a `u32` `len` and
/// `capacity` raw `bytes`, a byte slot a `u16` `len` and raw `bytes`; an
/// enum's discriminant is 1, 2, 4 or 8 bytes; no other kind has parts.
///
/// The reason follows the field's name: it starts with "is" or "has".
pub(crate) fn check_field(field: &SchemaField, packet_size: usize) -> Result<(), String> {
    use crate::value::leaf::Slot;
    let (offset, size, kind) = (field.offset, field.size, &field.kind);
    if offset
        .checked_add(size)
        .map_or(true, |end| end > packet_size)
    {
        return Err(format!(
            "is {size} bytes at offset {offset}, beyond the {packet_size}-byte packet"
        ));
    }
    let mut end = offset;
    for part in &field.fields {
        if part.offset != end {
            return Err(format!(
                "has its part `{}` at offset {}, not {end}",
                part.name, part.offset
            ));
        }
        end = end
            .checked_add(part.size)
            .ok_or("has parts larger than memory")?;
    }
    let name = kind.name();
    let expected = if let Some(slot) = Slot::of(kind) {
        let parts_ok = matches!(
            &field.fields[..],
            [len, bytes] if len.name == "len" && len.kind == slot.len
                && bytes.name == "bytes" && bytes.kind == Kind::Raw
                && bytes.size == slot.capacity
        );
        if !parts_ok {
            return Err(format!(
                "is a {name} slot of capacity {}, but its parts are not a `len` ({}) and {} \
                 raw `bytes`",
                slot.capacity,
                slot.len.name(),
                slot.capacity
            ));
        }
        slot.size()
    } else {
        match kind {
            Kind::Struct => Some(end - offset),
            _ if !field.fields.is_empty() => return Err(format!("is a {name}, but has parts")),
            Kind::Enum { .. } if ![1, 2, 4, 8].contains(&size) => {
                return Err(format!(
                    "is {size} bytes, but an enum's discriminant is 1, 2, 4 or 8 bytes"
                ));
            }
            kind => kind.fixed_size().or(Some(size)),
        }
    };
    match expected {
        Some(expected) if expected == size => Ok(()),
        Some(expected) if *kind == Kind::Struct => {
            Err(format!("says {size} bytes, but its fields make {expected}"))
        }
        Some(expected) => Err(format!(
            "is {size} bytes, but its kind ({name}) makes it {expected}"
        )),
        None => Err(format!(
            "is {size} bytes, which its kind ({name}) cannot be"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: Vec<(&'static str, Shape)>) -> Schema {
        Schema::from_shape("Test", Shape::structure("Test", fields))
    }

    #[test]
    fn fnv1a_matches_its_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_fingerprint_hashes_the_canonical_encoding() {
        let schema = schema(vec![("a", Shape::of::<u16>())]);
        assert_eq!(schema.fingerprint(), fnv1a(&schema.canonical_encoding()));
    }

    #[test]
    fn encodings_read_back() {
        let schema = schema(vec![
            ("a", Shape::of::<crate::FixedStr<3>>()),
            (
                "e",
                Shape::enumeration("E", 2, [Variant::new("X", 0), Variant::new("Y", 9)]),
            ),
        ]);
        let node = decode(&schema.canonical_encoding()).unwrap();
        assert_eq!(node.parts.len(), 2);
        assert_eq!(node.parts[0].capacity, 3);
        assert_eq!(node.parts[0].parts.len(), 2);
        assert_eq!(node.parts[1].variants, [("X".into(), 0), ("Y".into(), 9)]);
        assert_eq!(
            first_difference(&schema.canonical_encoding(), &schema),
            Ok(None)
        );
    }

    #[test]
    fn broken_encodings_are_refused() {
        let bytes = schema(vec![("a", Shape::of::<u16>())]).canonical_encoding();
        for cut in [0, 7, 8, 30, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).unwrap_err().contains("follow"));
        // A count far beyond the bytes there.
        let mut huge = bytes.clone();
        huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        // An unknown kind.
        let mut unknown = bytes;
        unknown[8..16].copy_from_slice(&99u64.to_le_bytes());
        assert!(decode(&unknown).unwrap_err().contains("tag 99"));
    }

    /// A node of a canonical encoding: name, tag, size, the kind's
    /// parameters (encoded), children.
    fn node(name: &str, tag: u64, size: u64, params: &[u8], children: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.str(name);
        out.u64(tag);
        out.u64(size);
        out.bytes(params);
        out.u64(children.len() as u64);
        for child in children {
            out.extend_from_slice(child);
        }
        out
    }

    #[test]
    fn stored_schemas_read_back_with_kind_type_names() {
        let typed = schema(vec![
            ("a", Shape::of::<u16>()),
            ("s", Shape::of::<crate::FixedStr<3>>()),
            ("v", Shape::of::<crate::Vec3>()),
            (
                "e",
                Shape::enumeration("E", 2, [Variant::new("X", 0), Variant::new("Y", 9)]),
            ),
            ("r", Shape::raw("Opaque", 5)),
        ]);
        let stored = Schema::from_canonical_encoding(&typed.canonical_encoding()).unwrap();
        assert_eq!(stored.canonical_encoding(), typed.canonical_encoding());
        assert_eq!(
            (stored.task(), stored.packet_size()),
            (UNKNOWN_TASK, 2 + 7 + 24 + 2 + 5)
        );
        let types: Vec<&str> = stored.fields().iter().map(|f| f.type_name()).collect();
        assert_eq!(types, ["u16", "string<3>", "struct", "enum u16", "[u8; 5]"]);
        assert_eq!(stored.field("v.z").map(|z| z.offset()), Some(25));
        assert_eq!(
            stored.to_string(),
            "\
?: struct, 40 bytes
offset  size  field
     0     2  a: u16
     2     7  s: string<3>
     2     4    len: u32
     6     3    bytes: [u8; 3]
     9    24  v: struct
     9     8    x: f64
    17     8    y: f64
    25     8    z: f64
    33     2  e: enum u16 (X = 0, Y = 9)
    35     5  r: [u8; 5]
"
        );
    }

    #[test]
    fn stored_schemas_that_contradict_themselves_are_refused() {
        let u16_node = |size| node("a", 2, size, &[], &[]);
        let packet = |size, children: &[Vec<u8>]| node("", TAG_STRUCT, size, &[], children);
        let refused = |bytes: Vec<u8>, words: &str| {
            let error = Schema::from_canonical_encoding(&bytes).unwrap_err();
            assert!(error.contains(words), "{error}");
        };
        assert!(Schema::from_canonical_encoding(&packet(2, &[u16_node(2)])).is_ok());
        refused(
            packet(3, &[u16_node(2)]),
            "the packet says 3 bytes, but its fields make 2",
        );
        refused(
            packet(3, &[u16_node(3)]),
            "field `a` is 3 bytes, but its kind (u16) makes it 2",
        );
        refused(
            packet(2, &[node("a", 2, 2, &[], &[u16_node(2)])]),
            "field `a` is a u16, but has parts",
        );
        refused(
            packet(7, &[node("s", TAG_STR, 7, &3u64.to_le_bytes(), &[])]),
            "field `s` is a string slot of capacity 3, but its parts are not a `len` (u32)",
        );
        let len = node("len", 3, 4, &[], &[]);
        let bytes = node("bytes", TAG_RAW, 3, &[], &[]);
        assert!(Schema::from_canonical_encoding(&packet(
            7,
            &[node(
                "s",
                TAG_STR,
                7,
                &3u64.to_le_bytes(),
                &[len.clone(), bytes.clone()]
            )]
        ))
        .is_ok());
        refused(
            packet(
                7,
                &[node("s", TAG_BYTES, 7, &3u64.to_le_bytes(), &[len, bytes])],
            ),
            "field `s` is a bytes slot of capacity 3, but its parts are not a `len` (u16)",
        );
        let mut variants = Vec::new();
        variants.u64(1);
        variants.str("X");
        variants.u64(0);
        assert!(Schema::from_canonical_encoding(&packet(
            1,
            &[node("e", TAG_ENUM, 1, &variants, &[])]
        ))
        .is_ok());
        refused(
            packet(9, &[node("e", TAG_ENUM, 9, &variants, &[])]),
            "field `e` is 9 bytes, but an enum's discriminant is 1, 2, 4 or 8 bytes",
        );
        refused(
            packet(1, &[node("v", TAG_STRUCT, 1, &[], &[u16_node(2)])]),
            "field `v` says 1 bytes, but its fields make 2",
        );
        refused(
            node("x", TAG_STRUCT, 0, &[], &[]),
            "does not encode a packet",
        );
    }

    #[test]
    fn stored_schemas_that_no_writer_makes_are_refused() {
        let packet = |size, children: &[Vec<u8>]| node("", TAG_STRUCT, size, &[], children);
        let refused = |bytes: Vec<u8>, words: &str| {
            let error = Schema::from_canonical_encoding(&bytes).unwrap_err();
            assert!(error.contains(words), "{error}");
        };
        // Packets of 0 bytes: none, or only empty structs.
        refused(packet(0, &[]), "packets of 0 bytes, which cannot be read");
        refused(
            packet(0, &[node("v", TAG_STRUCT, 0, &[], &[])]),
            "packets of 0 bytes",
        );
        // Enums of 3, 5, 6 or 7 bytes; 1, 2, 4 and 8 are read.
        let mut variants = Vec::new();
        variants.u64(1);
        variants.str("X");
        variants.u64(0);
        for size in 1..=8 {
            let bytes = packet(size, &[node("e", TAG_ENUM, size, &variants, &[])]);
            if [1, 2, 4, 8].contains(&size) {
                assert!(Schema::from_canonical_encoding(&bytes).is_ok(), "{size}");
            } else {
                refused(
                    bytes,
                    &format!("field `e` is {size} bytes, but an enum's discriminant is 1, 2, 4 or 8 bytes"),
                );
            }
        }
        // Two fields of one name, in the packet or in a struct; the same
        // name in different structs is fine.
        let u8_node = |name: &str| node(name, 1, 1, &[], &[]);
        refused(
            packet(2, &[u8_node("a"), u8_node("a")]),
            "the packet has two fields named `a`",
        );
        refused(
            packet(
                3,
                &[node(
                    "v",
                    TAG_STRUCT,
                    3,
                    &[],
                    &[u8_node("x"), u8_node("y"), u8_node("x")],
                )],
            ),
            "field `v` has two fields named `x`",
        );
        let nested = |name: &str| node(name, TAG_STRUCT, 1, &[], &[u8_node("x")]);
        assert!(Schema::from_canonical_encoding(&packet(2, &[nested("v"), nested("w")])).is_ok());
    }

    #[test]
    fn differences_name_the_first_field_that_differs() {
        let xyz = |kind: fn() -> Shape| {
            Shape::structure("V", [("x", kind()), ("y", kind()), ("z", kind())])
        };
        let expected = schema(vec![
            ("a", Shape::of::<u8>()),
            ("v", xyz(Shape::of::<f64>)),
            ("s", Shape::of::<crate::FixedStr<8>>()),
        ]);
        let check = |found: Schema, field: &str, what_found: &str, what_expected: &str| {
            let difference = first_difference(&found.canonical_encoding(), &expected)
                .unwrap()
                .expect("they differ");
            assert_eq!(
                difference,
                Difference {
                    field: field.into(),
                    found: what_found.into(),
                    expected: what_expected.into(),
                }
            );
        };
        check(
            schema(vec![
                ("a", Shape::of::<u8>()),
                ("v", xyz(Shape::of::<f32>)),
                ("s", Shape::of::<crate::FixedStr<8>>()),
            ]),
            "v.x",
            "`x`: f32 (4 bytes)",
            "`x`: f64 (8 bytes)",
        );
        check(
            schema(vec![("b", Shape::of::<u8>()), ("v", xyz(Shape::of::<f64>))]),
            "a",
            "`b`: u8 (1 byte)",
            "`a`: u8 (1 byte)",
        );
        check(
            schema(vec![
                ("a", Shape::of::<u8>()),
                ("v", xyz(Shape::of::<f64>)),
                ("s", Shape::of::<crate::FixedStr<9>>()),
            ]),
            "s",
            "`s`: a string of at most 9 bytes (13 bytes)",
            "`s`: a string of at most 8 bytes (12 bytes)",
        );
        check(
            schema(vec![("a", Shape::of::<u8>()), ("v", xyz(Shape::of::<f64>))]),
            "s",
            "no field",
            "`s`: a string of at most 8 bytes (12 bytes)",
        );
        check(
            schema(vec![
                ("a", Shape::of::<u8>()),
                ("v", xyz(Shape::of::<f64>)),
                ("s", Shape::of::<crate::FixedStr<8>>()),
                ("t", Shape::of::<bool>()),
            ]),
            "t",
            "`t`: bool (1 byte)",
            "no field",
        );
    }
}
