use parallelizer::prelude::*;

// Fields that can never be wire types get the same advice as in tuple
// packets, one error each; the structs' uses add none.
#[derive(WireType, Clone, Copy)]
pub struct Named {
    pub name: Option<u32>,
    pub id: usize,
}

#[derive(WireType, Clone, Copy)]
pub struct Positional(pub u8, pub &'static str);

#[task(packet = (Named, Positional))]
pub struct Uses;

fn main() {}
