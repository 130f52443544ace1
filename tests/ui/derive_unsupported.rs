use parallelizer::prelude::*;

#[derive(WireType, Clone, Copy)]
pub struct Generic<T> {
    pub value: T,
}

#[derive(WireType, Clone, Copy)]
#[repr(u8)]
pub enum WithFields {
    Empty,
    Full(u32),
}

#[derive(WireType, Clone, Copy)]
pub enum NoRepr {
    A,
    B,
}

#[derive(WireType, Clone, Copy)]
#[repr(i32)]
pub enum Signed {
    A = -1,
    B = 1,
}

#[derive(WireType, Clone, Copy)]
pub struct Empty {}

#[derive(WireType, Clone, Copy)]
pub union Either {
    pub a: u32,
    pub b: f32,
}

// The types with errors are still wire types for their uses: no cascade.
#[derive(WireType, Clone, Copy)]
pub struct Uses {
    pub a: WithFields,
    pub b: NoRepr,
    pub c: Signed,
    pub d: Empty,
    pub e: Either,
}

#[task(packet = (NoRepr, Uses))]
pub struct Task1;

fn main() {}
