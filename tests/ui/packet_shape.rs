use parallelizer::prelude::*;

#[task(packet = u32)]
pub struct Bare;

#[task(packet = (u32))]
pub struct Parenthesized;

#[task(packet = ())]
pub struct Empty;

#[task(memory = u32)]
pub struct NoPacket;

#[task(packet = (u32,), colour = u8)]
pub struct UnknownKey;

#[task(packet = (u32,))]
pub struct NotUnit {
    pub field: u32,
}

fn main() {}
