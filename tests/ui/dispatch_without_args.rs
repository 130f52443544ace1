use parallelizer::prelude::*;

#[task(packet = (u32, u32), args = u32)]
pub struct Grid;

#[worker(Grid)]
fn grid(task_id: usize, width: &u32) -> (u32, u32) {
    (task_id as u32 % width, task_id as u32 / width)
}

fn main() {
    let coordinator = Coordinator::new(4);
    let _ = coordinator.dispatch(Grid, 10, 2);
}
