//! What the code that `#[task]` generates calls, named through
//! `parallelizer::__private`. Not a public API.

use crate::wire::{intern, Shape};

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
