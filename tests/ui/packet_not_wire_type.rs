use parallelizer::prelude::*;

#[derive(Clone, Copy)]
pub struct Meters(f64);

#[task(packet = (u16, Meters))]
pub struct Distance;

#[worker(Distance)]
fn distance(task_id: usize) -> (u16, Meters) {
    (task_id as u16, Meters(1.0))
}

fn main() {}
