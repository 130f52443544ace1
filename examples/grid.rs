//! The reference library's tip, "derive data from the task id instead of
//! sending it", on a `width × height` grid.
//!
//! A dispatch sends the grid's shape once, as its `args`; each worker call
//! finds its own cell from its task id (`x = id % width`, `y = id / width`,
//! 0-based) and computes the signed distance from that cell to a circle, and
//! a checkerboard bit. The results arrive in task-id order, which is
//! row-major order, so they print as they are.
//!
//! Run it with `cargo run --example grid`.

use parallelizer::prelude::*;

/// What every worker call of one dispatch needs: a few numbers, not a list of
/// cells. It changes per dispatch, so it is the task's `args`; `memory` is
/// for large read-only data that outlives dispatches.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    /// The circle's radius, in columns; it is centred on the grid.
    pub radius: f32,
}

/// Per cell: the signed distance to the circle's edge (negative inside), and
/// which colour of a checkerboard of 4 × 2 cells the cell is.
#[task(packet = (f32, bool), args = Grid)]
pub struct Circle;

#[worker(Circle)]
fn circle(task_id: usize, grid: &Grid) -> (f32, bool) {
    let (x, y) = (task_id % grid.width, task_id / grid.width);
    // A terminal cell is about twice as tall as it is wide: a row counts as
    // two columns, so the circle looks round.
    let dx = x as f32 - (grid.width / 2) as f32;
    let dy = 2.0 * (y as f32 - (grid.height / 2) as f32);
    let distance = dx.hypot(dy) - grid.radius;
    let dark = (x / 4 + y / 2) % 2 == 0;
    (distance, dark)
}

/// One character per cell: a checkerboard inside the circle, its rim, and a
/// halo fading out.
fn glyph((distance, dark): (f32, bool)) -> char {
    match distance {
        d if d < -0.5 && dark => '#',
        d if d < -0.5 => '+',
        d if d <= 0.5 => 'O',
        d if d < 2.5 => ':',
        d if d < 4.5 => '.',
        _ => ' ',
    }
}

fn main() -> Result<(), Error> {
    let grid = Grid {
        width: 41,
        height: 21,
        radius: 18.0,
    };
    let cells = grid.width * grid.height;

    let coordinator = Coordinator::new(64);
    // One row per batch: batch k is row k.
    let results = coordinator.dispatch_with(Circle, cells, grid.width, grid)?;

    println!(
        "{} x {} grid: {cells} cells of {} bytes ({} bytes of results) from {} bytes of args",
        grid.width,
        grid.height,
        Circle::PACKET_SIZE,
        results.as_bytes().len(),
        size_of::<Grid>()
    );
    let glyphs: Vec<char> = results.iter().map(glyph).collect();
    for row in glyphs.chunks(grid.width) {
        println!("{}", row.iter().collect::<String>());
    }

    // The centre cell (20, 10) is task id 10 * 41 + 20, a radius inside.
    let id = |x: usize, y: usize| y * grid.width + x;
    assert_eq!(results.get(id(20, 10)), Some((-18.0, true)));
    // The middle of the left edge is 20 columns out: 2 outside the circle.
    assert_eq!(results.get(id(0, 10)), Some((2.0, false)));
    // The middle of the top edge is 10 rows (20 columns) up: 2 outside too.
    assert_eq!(results.get(id(20, 0)), Some((2.0, false)));
    // The corner is far outside.
    let (corner, _) = results.get(id(40, 20)).expect("the grid has 861 cells");
    assert!((corner - (800f32.sqrt() - 18.0)).abs() < 1e-4, "{corner}");
    assert_eq!(results.len(), cells);
    Ok(())
}
