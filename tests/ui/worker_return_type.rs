use parallelizer::prelude::*;

#[task(packet = (u16, FixedStr<11>))]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize) -> (u16, String) {
    (task_id as u16, String::from("Hello World"))
}

fn main() {}
