use parallelizer::prelude::*;

#[derive(WireType, Debug, Clone, Copy)]
pub struct Cell {
    pub height: f32,
    pub wet: bool,
}

// One mistake in the attribute of a task with a struct packet: that one
// error; the worker returning `Cell`, and the dispatch reading it back, add
// none.
#[task(packet = Cell, colour = u8)]
pub struct Terrain;

#[worker(Terrain)]
fn terrain(task_id: usize) -> Cell {
    Cell {
        height: task_id as f32,
        wet: false,
    }
}

fn main() {
    let results = Coordinator::new(4).dispatch(Terrain, 10, 2).unwrap();
    let cell: Option<Cell> = results.get(3);
    let _ = cell.map(|cell| cell.height);
}
