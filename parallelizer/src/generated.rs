//! What the code that `#[task]` and `#[derive(WireType)]` generate calls,
//! named through `parallelizer::__private`. Not a public API.

use std::fmt;

use crate::task::FieldError;
use crate::wire::{intern, InvalidValue, Shape, WireBytes, WireType};

/// A struct that derives `WireType`, which can then be a whole packet:
/// `#[task(packet = Cell)]`. Implemented by `#[derive(WireType)]` on structs,
/// beside `WireType`, whose items it repeats so that a task names nothing
/// else of the type: a type that is not such a struct fails here once. It
/// does not require `Copy`, so that a struct without it fails once, on its
/// `WireType` impl, and not again in each task whose packet it is.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a whole packet: a packet is a tuple of wire types or a struct that derives `WireType`",
    label = "not a struct with `#[derive(WireType)]`",
    note = "add `#[derive(WireType)]` to `{Self}` if it is a struct of wire types, \
            or make it one field of a tuple packet: `packet = ({Self},)`"
)]
pub trait StructPacket: 'static {
    /// The struct's wire form: `<Self as WireType>::Wire`.
    type Wire: WireBytes;

    /// Each field's type, as declared in the struct.
    const FIELD_TYPES: &'static [&'static str];

    /// Each field's wire size in bytes.
    const FIELD_SIZES: &'static [usize];

    /// `WireType::to_wire`.
    fn to_wire(&self) -> Self::Wire;

    /// `WireType::from_wire`.
    fn from_wire(wire: &Self::Wire) -> Self;

    /// `WireType::validate`, the error naming the top-level field.
    fn validate(wire: &Self::Wire) -> Result<(), FieldError>;

    /// `Shape::of::<Self>()`.
    fn shape() -> Shape;
}

/// `Self`, once the check `C` of the code that names it has passed (it is
/// then 0): generated code names its fields' types through it, so that a
/// field that is not a wire type is reported once, by the check, and the
/// items that depend on it (and their uses) add no errors of their own.
pub trait Checked<const C: usize> {
    /// `Self`.
    type Is: WireType;
}

impl<T: WireType> Checked<0> for T {
    type Is = T;
}

/// A struct's field error as a packet's: the field's index, and the error
/// as it is, naming the field.
pub fn packet_field_error(reason: InvalidValue) -> FieldError {
    let field = match &reason {
        InvalidValue::Field { index, .. } => *index,
        _ => 0,
    };
    FieldError { field, reason }
}

/// A field's error, wrapped to name the field.
#[cold]
pub fn in_field(index: usize, name: &'static str, reason: InvalidValue) -> InvalidValue {
    InvalidValue::Field {
        index,
        name,
        reason: Box::new(reason),
    }
}

/// A field's shape, checked against its wire size as [`Shape::of`] does.
pub fn field_shape(name: &'static str, shape: Shape, size: usize) -> (&'static str, Shape) {
    (name, Shape::checked(shape, size))
}

/// A tuple packet's shape: a struct named after its fields' types, such as
/// `(u16, FixedStr<11>)`, whatever the attribute spelled.
pub fn tuple_shape<const N: usize>(fields: [(&'static str, Shape); N]) -> Shape {
    let names: Vec<_> = fields.iter().map(|(_, shape)| shape.type_name()).collect();
    let type_name = if names.len() == 1 {
        format!("({},)", names[0])
    } else {
        format!("({})", names.join(", "))
    };
    Shape::structure(intern(type_name), fields)
}

/// Prints what its function prints: how a derived struct's wire form
/// prints each field, with the field type's `WireType::fmt_wire`.
pub struct DebugWith<'a>(pub &'a dyn Fn(&mut fmt::Formatter<'_>) -> fmt::Result);

impl fmt::Debug for DebugWith<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}
