use parallelizer::prelude::*;

#[derive(Default)]
pub struct Scratch {
    pub calls: u64,
}

pub struct Params {
    pub scale: f64,
}

#[task(packet = (f64,), memory = Params, state = Scratch)]
pub struct Sample;

// The state is borrowed mutably, not shared.
#[worker(Sample)]
fn sample(task_id: usize, params: &Params, state: &Scratch) -> (f64,) {
    (task_id as f64 * params.scale + state.calls as f64,)
}

#[task(packet = (u64,), args = u64, state = Scratch)]
pub struct Other;

// The state of another type.
#[worker(Other)]
fn other(task_id: usize, args: &u64, state: &mut u64) -> (u64,) {
    *state += 1;
    (task_id as u64 + args,)
}

#[task(packet = (u64,), memory = Params, args = u64, state = Scratch)]
pub struct Full;

// State and args swapped.
#[worker(Full)]
fn full(task_id: usize, params: &Params, state: &mut Scratch, args: &u64) -> (u64,) {
    state.calls += 1;
    (task_id as u64 + args + params.scale as u64,)
}

fn main() {}
