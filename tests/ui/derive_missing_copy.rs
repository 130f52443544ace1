use parallelizer::prelude::*;

// A wire type is `Copy`: a derived struct without it is one error, on its
// name, suggesting the derive. Its use as a whole packet, with a worker and a
// dispatch, adds none.
#[derive(WireType, Debug, Clone)]
pub struct Cell {
    pub height: f32,
    pub wet: bool,
}

#[task(packet = Cell)]
pub struct Terrain;

#[worker(Terrain)]
fn terrain(task_id: usize) -> Cell {
    Cell {
        height: task_id as f32,
        wet: false,
    }
}

// As a tuple packet's field it is one more error, on the field: the tuple's
// code calls `WireType`'s items on `Cell`, and the compiler requires `Copy`
// (a supertrait) at every such call, outside the derive's reach.
#[task(packet = (u8, Cell))]
pub struct Tagged;

fn main() {
    let results = Coordinator::new(4).dispatch(Terrain, 10, 2).unwrap();
    let _ = results.get(3).map(|cell| cell.height);
}
