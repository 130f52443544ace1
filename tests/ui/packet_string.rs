use parallelizer::prelude::*;

#[task(packet = (u16, String))]
pub struct Named;

fn main() {}
