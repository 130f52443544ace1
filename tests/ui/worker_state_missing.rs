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

// The task declares a state, the worker does not take it.
#[worker(Sample)]
fn sample(task_id: usize, params: &Params) -> (f64,) {
    (task_id as f64 * params.scale,)
}

fn main() {}
