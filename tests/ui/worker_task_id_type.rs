use parallelizer::prelude::*;

#[task(packet = (u16,))]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: u32) -> (u16,) {
    (task_id as u16,)
}

fn main() {}
