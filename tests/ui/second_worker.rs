use parallelizer::prelude::*;

#[task(packet = (u16,))]
pub struct Hello;

#[worker(Hello)]
fn first(task_id: usize) -> (u16,) {
    (task_id as u16,)
}

#[worker(Hello)]
fn second(task_id: usize) -> (u16,) {
    (task_id as u16 + 1,)
}

fn main() {}
