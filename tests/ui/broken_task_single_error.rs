// One mistake in `#[task]` is one error: the worker and the dispatch of the
// broken task add none of their own.
use parallelizer::prelude::*;

pub struct Greeting {
    pub text: String,
}

#[task(packet = (u16, String), memory = Greeting)]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize, memory: &Greeting) -> (u16, String) {
    (task_id as u16, memory.text.clone())
}

fn main() {
    let coordinator = Coordinator::new(4);
    coordinator.define(
        Hello,
        Greeting {
            text: "Hello".into(),
        },
    );
    let results = coordinator.dispatch(Hello, 10, 2).unwrap();
    let (id, text): (u16, String) = results.get(3).unwrap();
    let _ = (id, text);
}
