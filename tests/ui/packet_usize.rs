use parallelizer::prelude::*;

#[task(packet = (usize,))]
pub struct Count;

#[task(packet = (u8, isize))]
pub struct Offset;

fn main() {}
