use parallelizer::prelude::*;

#[derive(Default)]
pub struct Scratch {
    pub calls: u64,
}

#[task(packet = (u64,))]
pub struct Plain;

// The task declares no state, the worker takes one.
#[worker(Plain)]
fn plain(task_id: usize, state: &mut Scratch) -> (u64,) {
    state.calls += 1;
    (task_id as u64,)
}

fn main() {}
