use parallelizer::prelude::*;

// A wire type is `Copy`: a struct or an enum that derives neither `Clone` nor
// `Copy` is one error each, on its name, suggesting the derive.
#[derive(WireType)]
pub struct Pair(pub u16, pub i16);

#[derive(WireType)]
#[repr(u8)]
pub enum Side {
    Left,
    Right,
}

fn main() {}
