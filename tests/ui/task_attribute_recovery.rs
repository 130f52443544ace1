// A mistake in #[task]'s attribute is one error: the rest of the attribute
// is still read, so the task's worker and dispatch add no errors.
use parallelizer::prelude::*;
use std::collections::HashMap;

pub struct Greeting;

#[task(packet = (u32), memory = Greeting)]
pub struct Parenthesized;

#[worker(Parenthesized)]
fn parenthesized(task_id: usize, _memory: &Greeting) -> (u32,) {
    (task_id as u32,)
}

#[task(packet = (u32, FixedStr<3>), colour = u8, args = u8)]
pub struct UnknownKey;

#[worker(UnknownKey)]
fn unknown_key(task_id: usize, _args: &u8) -> (u32, FixedStr<3>) {
    (task_id as u32, FixedStr::new("abc").unwrap())
}

#[task(packet = (u32,), memory = HashMap<u32 u32>, args = u8)]
pub struct BrokenMemory;

#[worker(BrokenMemory)]
fn broken_memory(task_id: usize, _args: &u8) -> (u32,) {
    (task_id as u32,)
}

#[task(packet = (u16,) args = u8)]
pub struct MissingComma;

#[worker(MissingComma)]
fn missing_comma(task_id: usize) -> (u16,) {
    (task_id as u16,)
}

#[task(packet = (u16,), packet = (u32,))]
pub struct Twice;

#[worker(Twice)]
fn twice(task_id: usize) -> (u16,) {
    (task_id as u16,)
}

fn main() {
    let coordinator = Coordinator::new(4);
    coordinator.define(Parenthesized, Greeting);
    let (_,): (u32,) = coordinator
        .dispatch(Parenthesized, 10, 2)
        .unwrap()
        .get(0)
        .unwrap();
    let _: Option<(u32, FixedStr<3>)> = coordinator
        .dispatch_with(UnknownKey, 1, 10, 2)
        .unwrap()
        .get(0);
    let _ = coordinator.dispatch_with(BrokenMemory, 1, 10, 2);
    let _ = coordinator.dispatch(MissingComma, 10, 2);
    let _ = coordinator.dispatch(Twice, 10, 2);
    let _: HashMap<u8, u8> = HashMap::new();
}
