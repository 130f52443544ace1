use parallelizer::prelude::*;

#[task(packet = (u16,))]
pub struct Hello;

#[worker(Hello)]
async fn asynchronous(task_id: usize) -> (u16,) {
    (task_id as u16,)
}

#[worker(Hello)]
fn no_return(task_id: usize) {
    let _ = task_id;
}

#[worker(Hello)]
fn generic<T>(task_id: usize) -> (u16,) {
    (task_id as u16,)
}

fn main() {}
