use parallelizer::prelude::*;

#[task(packet = (u16,))]
pub struct Lonely;

fn main() {
    let coordinator = Coordinator::new(4);
    let _ = coordinator.dispatch(Lonely, 10, 2);
}
