//! The reference library's getting-started page, in Rust.
//!
//! A task returns a `u16` and an 11-byte string for each task id; a
//! coordinator with 256 actors runs task ids 0..1024 in batches of 8, and the
//! results come back in task-id order, in one merged buffer.
//!
//! Run it with `cargo run --example hello`.

use parallelizer::prelude::*;

/// The task's memory: read-only data every worker call sees.
pub struct Greeting {
    pub text: String,
}

#[task(packet = (u16, FixedStr<11>), memory = Greeting)]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize, memory: &Greeting) -> (u16, FixedStr<11>) {
    // "Hello World" is 11 bytes, so it always fits the slot.
    let text = FixedStr::new(&memory.text).expect("the greeting fits 11 bytes");
    ((task_id * 2) as u16, text)
}

fn main() -> Result<(), Error> {
    let coordinator = Coordinator::new(256); // 256 actors
    coordinator.define(
        Hello,
        Greeting {
            text: "Hello World".into(),
        },
    );

    let results = coordinator.dispatch(Hello, 1024, 8)?; // ids 0..1024, batches of 8 per actor
    assert_eq!(results.get(3), Some((6, FixedStr::new("Hello World")?)));

    println!(
        "{} results, {} bytes each, {} bytes in all",
        results.len(),
        Hello::PACKET_SIZE,
        results.as_bytes().len()
    );
    for (task_id, (number, text)) in results.iter().enumerate().take(4) {
        println!("task {task_id}: ({number}, {:?})", text.as_str());
    }
    println!("...");
    let (number, text) = results.get(1023).expect("1024 results");
    println!("task 1023: ({number}, {:?})", text.as_str());
    Ok(())
}
