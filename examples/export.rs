//! Results as NPY files for numpy and Arrow IPC files for pyarrow, Polars,
//! pandas and DuckDB: the all-types packet (as a tuple and as its named
//! twin) and a named `Cell` packet with an enum, each written with
//! `Results::write_npy` and `Results::write_arrow_ipc`, and the `Cell`
//! results once more a batch at a time with `NpyWriter`.
//!
//! Run it with `cargo run --example export -- OUTDIR`; with no argument it
//! writes to a fresh directory under the system's temporary directory. CI
//! then reads the files with numpy (`tests/python/test_npy.py`) and the
//! Arrow readers (`tests/python/test_arrow.py`).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use parallelizer::prelude::*;
use parallelizer::NpyWriter;

// The all-types tasks `Everything` (a tuple packet) and `EverythingNamed`
// (the struct `Record`), with their workers: the very same code as the
// `all_types` example, whose `main` is not used here.
#[allow(dead_code)]
#[path = "all_types.rs"]
mod all_types;

use all_types::{Everything, EverythingNamed};

/// A terrain cell's kind: its discriminant is what numpy sees.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
#[repr(u8)]
pub enum Biome {
    Ocean = 0,
    Plains = 1,
    Forest = 2,
    Mountain = 7,
}

/// One terrain cell, a named packet with nested built-in types.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub height: f32,
    pub normal: Vec3,
    pub biome: Biome,
    pub name: FixedStr<8>,
    pub color: Color3,
    pub wet: bool,
}

#[task(packet = Cell, args = f32)]
pub struct Terrain;

const BIOMES: [Biome; 4] = [Biome::Ocean, Biome::Plains, Biome::Forest, Biome::Mountain];

#[worker(Terrain)]
fn terrain(task_id: usize, offset: &f32) -> Cell {
    let shade = (task_id % 256) as f32 / 255.0;
    Cell {
        height: task_id as f32 * 0.25 + offset,
        normal: Vec3::new(0.0, 1.0, task_id as f64 / 3.0),
        biome: BIOMES[task_id % 4],
        name: FixedStr::new(&format!("c{task_id}")).expect("ids below 10^7 fit 8 bytes"),
        color: Color3::new(shade, 0.0, 1.0 - shade),
        wet: task_id % 3 == 0,
    }
}

/// The number of task ids of each file.
const COUNT: usize = 1000;
/// The `Terrain` task's argument: added to every height.
const OFFSET: f32 = 0.5;

fn create(dir: &Path, name: &str) -> Result<BufWriter<File>, Box<dyn std::error::Error>> {
    let path = dir.join(name);
    println!("writing {}", path.display());
    Ok(BufWriter::new(File::create(path)?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("parallelizer-export-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let coordinator = Coordinator::new(8);

    let everything = coordinator.dispatch(Everything, COUNT, 64)?;
    everything.write_npy(create(&dir, "all_types.npy")?)?;
    println!("  dtype {}", Everything::schema().numpy_dtype());
    everything.write_arrow_ipc(create(&dir, "all_types.arrow")?)?;

    let named = coordinator.dispatch(EverythingNamed, COUNT, 64)?;
    assert_eq!(named.as_bytes(), everything.as_bytes());
    named.write_npy(create(&dir, "all_types_named.npy")?)?;
    println!("  dtype {}", EverythingNamed::schema().numpy_dtype());
    named.write_arrow_ipc(create(&dir, "all_types_named.arrow")?)?;

    let cells = coordinator.dispatch_with(Terrain, COUNT, 64, OFFSET)?;
    cells.write_npy(create(&dir, "cells.npy")?)?;
    println!("  dtype {}", Terrain::schema().numpy_dtype());
    cells.write_arrow_ipc(create(&dir, "cells.arrow")?)?;

    // The same file a batch at a time: the header is written first, with
    // the count, then each batch's packets as they come.
    let mut npy = NpyWriter::<Terrain, _>::new(create(&dir, "cells_streamed.npy")?, COUNT)?;
    for batch in coordinator.stream_with(Terrain, COUNT, 100, OFFSET) {
        npy.write(batch?.packets())?;
    }
    npy.finish()?;

    println!(
        "wrote 4 NPY files and 3 Arrow IPC files of {COUNT} packets to {}",
        dir.display()
    );
    Ok(())
}
