use parallelizer::prelude::*;
use parallelizer::InvalidValue;

// A wire type whose wire form is empty: a packet of it alone would have no
// bytes, and could not be counted in a buffer.
#[derive(Clone, Copy, Debug)]
pub struct Nothing;

impl WireType for Nothing {
    type Wire = ();

    fn to_wire(&self) {}

    fn from_wire(_wire: &()) -> Self {
        Nothing
    }

    fn validate(_wire: &()) -> Result<(), InvalidValue> {
        Ok(())
    }
}

#[task(packet = (Nothing,))]
pub struct Empty;

#[task(packet = (u32, Nothing))]
pub struct Marked;

#[worker(Marked)]
fn marked(task_id: usize) -> (u32, Nothing) {
    (task_id as u32, Nothing)
}

fn main() {
    let coordinator = Coordinator::new(4);
    let results = coordinator.dispatch(Marked, 10, 2).unwrap();
    let _ = results.len();
}
