use parallelizer::prelude::*;

// A struct without `#[derive(WireType)]` as a whole packet.
#[derive(Clone, Copy)]
pub struct Plain {
    pub a: u32,
}

#[task(packet = Plain)]
pub struct Whole;

#[worker(Whole)]
fn whole(task_id: usize) -> Plain {
    Plain { a: task_id as u32 }
}

// A derived enum is a field, not a whole packet.
#[derive(WireType, Clone, Copy)]
#[repr(u8)]
pub enum Side {
    Left,
    Right,
}

#[task(packet = Side)]
pub struct Sides;

fn main() {
    let coordinator = Coordinator::new(4);
    let results = coordinator.dispatch(Whole, 10, 2).unwrap();
    let _ = results.get(0).map(|plain| plain.a);
}
