use parallelizer::prelude::*;

#[derive(Clone, Copy)]
pub struct Meters(f64);

// A type of the user's without `WireType` in a tuple packet: one error, on
// the field's type, saying to derive it; the packet and the worker add none.
#[task(packet = (u16, Meters))]
pub struct Distance;

#[worker(Distance)]
fn distance(task_id: usize) -> (u16, Meters) {
    (task_id as u16, Meters(1.0))
}

fn main() {}
