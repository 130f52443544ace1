use parallelizer::prelude::*;

#[task(packet = (Vec<u8>, u32, &'static str))]
pub struct Blob;

fn main() {}
