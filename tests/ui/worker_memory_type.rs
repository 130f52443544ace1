use parallelizer::prelude::*;

pub struct Greeting {
    pub text: String,
}

#[task(packet = (u16,), memory = Greeting)]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize, memory: &String) -> (u16,) {
    (task_id as u16 + memory.len() as u16,)
}

fn main() {}
