//! A game-style terrain: a 512×512 grid of `Cell`s, each a struct packet with
//! a height, a normal, an enum biome, a name, a color and a flag, computed on
//! every core and redispatched every frame with new arguments (the tide)
//! into one kept buffer. Prints the timing of each frame, a small ASCII map
//! of the first and last frames, and the packet's schema.
//!
//! Run it with `cargo run --release --example terrain` (or without
//! `--release`, slower); `TERRAIN_FRAMES=30` for more frames.

use std::time::{Duration, Instant};

use parallelizer::prelude::*;

/// What a cell is, by height and tide: stored as one byte.
#[derive(WireType, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Biome {
    Ocean = 0,
    Beach = 1,
    Plains = 2,
    Forest = 3,
    Mountain = 7,
    Snow = 8,
}

impl Biome {
    const ALL: [Biome; 6] = [
        Biome::Ocean,
        Biome::Beach,
        Biome::Plains,
        Biome::Forest,
        Biome::Mountain,
        Biome::Snow,
    ];

    /// The biome's name: at most 8 bytes, so it fits the cell's `name`.
    fn name(self) -> &'static str {
        match self {
            Biome::Ocean => "Ocean",
            Biome::Beach => "Beach",
            Biome::Plains => "Plains",
            Biome::Forest => "Forest",
            Biome::Mountain => "Mountain",
            Biome::Snow => "Snow",
        }
    }

    /// The biome's character on the ASCII map.
    fn glyph(self) -> char {
        match self {
            Biome::Ocean => '~',
            Biome::Beach => '.',
            Biome::Plains => '"',
            Biome::Forest => 'T',
            Biome::Mountain => '^',
            Biome::Snow => '*',
        }
    }

    fn color(self) -> Color3 {
        match self {
            Biome::Ocean => Color3::new(0.1, 0.3, 0.8),
            Biome::Beach => Color3::new(0.9, 0.85, 0.6),
            Biome::Plains => Color3::new(0.5, 0.8, 0.3),
            Biome::Forest => Color3::new(0.1, 0.5, 0.2),
            Biome::Mountain => Color3::new(0.5, 0.45, 0.4),
            Biome::Snow => Color3::new(0.95, 0.95, 1.0),
        }
    }
}

/// One cell of the grid: the whole packet, 45 bytes on the wire.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Height above the sea floor, in `0..1`.
    pub height: f32,
    /// The surface's unit normal.
    pub normal: Vec3,
    pub biome: Biome,
    /// The biome's name, for a tooltip.
    pub name: FixedStr<8>,
    pub color: Color3,
    /// Whether the tide reaches it.
    pub wet: bool,
}

/// The task's memory: the world, the same every frame.
pub struct World {
    pub width: usize,
    pub seed: u32,
}

/// The task's args: what changes from one frame to the next.
pub struct Frame {
    /// The sea level, which rises and falls with the tide.
    pub sea_level: f32,
}

#[task(packet = Cell, memory = World, args = Frame)]
pub struct Terrain;

#[worker(Terrain)]
fn terrain(task_id: usize, world: &World, frame: &Frame) -> Cell {
    // Derive the position from the task id, as the reference advises.
    let (x, y) = (
        (task_id % world.width) as f32,
        (task_id / world.width) as f32,
    );
    let height = elevation(world.seed, x, y);
    // The normal from the slopes to the next cells.
    let dx = elevation(world.seed, x + 1.0, y) - height;
    let dy = elevation(world.seed, x, y + 1.0) - height;
    let (nx, ny, nz) = (-f64::from(dx) * 64.0, 1.0, -f64::from(dy) * 64.0);
    let length = (nx * nx + ny * ny + nz * nz).sqrt();
    let sea = frame.sea_level;
    let biome = match height {
        h if h < sea => Biome::Ocean,
        h if h < sea + 0.03 => Biome::Beach,
        h if h < 0.55 => Biome::Plains,
        h if h < 0.68 => Biome::Forest,
        h if h < 0.8 => Biome::Mountain,
        _ => Biome::Snow,
    };
    Cell {
        height,
        normal: Vec3::new(nx / length, ny / length, nz / length),
        biome,
        name: FixedStr::new(biome.name()).expect("every name fits 8 bytes"),
        color: biome.color(),
        wet: height < sea + 0.015,
    }
}

/// Smooth hills: four octaves of value noise, in `0..1`.
fn elevation(seed: u32, x: f32, y: f32) -> f32 {
    let mut total = 0.0;
    let mut amplitude = 0.5;
    let mut scale = 1.0 / 128.0;
    for octave in 0..4 {
        total += amplitude * value_noise(seed.wrapping_add(octave), x * scale, y * scale);
        amplitude *= 0.5;
        scale *= 2.0;
    }
    total / 0.9375
}

/// Noise in `0..1`: random values at integer points, smoothly interpolated.
fn value_noise(seed: u32, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (smooth(x - x0), smooth(y - y0));
    let corner = |dx: i32, dy: i32| lattice(seed, x0 as i32 + dx, y0 as i32 + dy);
    let top = corner(0, 0) + (corner(1, 0) - corner(0, 0)) * fx;
    let bottom = corner(0, 1) + (corner(1, 1) - corner(0, 1)) * fx;
    top + (bottom - top) * fy
}

fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// A random value in `0..1` for an integer point.
fn lattice(seed: u32, x: i32, y: i32) -> f32 {
    let mut h = seed ^ (x as u32).wrapping_mul(0x27d4_eb2d) ^ (y as u32).wrapping_mul(0x1656_67b1);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    (h & 0x00ff_ffff) as f32 / 0x0100_0000 as f32
}

const WIDTH: usize = 512;

/// Prints the grid shrunk to 64×32 characters, one per 8×16 cells.
fn print_map(results: &Results<Terrain>) {
    for row in (0..WIDTH).step_by(16) {
        let line: String = (0..WIDTH)
            .step_by(8)
            .map(|column| {
                // Read the biome in place, without decoding the whole cell.
                let packet = &results.packets()[row * WIDTH + column];
                Biome::from_wire(&packet.biome).glyph()
            })
            .collect();
        println!("  {line}");
    }
}

fn main() -> Result<(), Error> {
    let frames: usize = std::env::var("TERRAIN_FRAMES")
        .ok()
        .and_then(|frames| frames.parse().ok())
        .unwrap_or(12);
    let coordinator = Coordinator::new(256);
    coordinator.define(
        Terrain,
        World {
            width: WIDTH,
            seed: 2024,
        },
    );

    // One buffer for every frame: once it has grown, a frame allocates
    // nothing.
    let mut results = Results::new();
    let mut times = Vec::with_capacity(frames);
    for frame in 0..frames {
        let tide = (frame as f32 / 4.0).sin();
        let args = Frame {
            sea_level: 0.42 + 0.05 * tide,
        };
        let started = Instant::now();
        coordinator.dispatch_with_into(Terrain, WIDTH * WIDTH, 256, args, &mut results)?;
        let elapsed = started.elapsed();
        times.push(elapsed);

        let mut counts = [0usize; 6];
        for packet in results.packets() {
            let biome = Biome::from_wire(&packet.biome);
            counts[Biome::ALL
                .iter()
                .position(|&b| b == biome)
                .expect("a biome")] += 1;
        }
        let shares: Vec<String> = Biome::ALL
            .iter()
            .zip(counts)
            .map(|(biome, count)| {
                format!(
                    "{} {:>4.1}%",
                    biome.glyph(),
                    100.0 * count as f64 / results.len() as f64
                )
            })
            .collect();
        println!(
            "frame {frame:>2}: {} cells ({:.1} MB) in {:>6.2} ms | {}",
            results.len(),
            results.as_bytes().len() as f64 / 1e6,
            elapsed.as_secs_f64() * 1e3,
            shares.join("  ")
        );
        if frame == 0 || frame + 1 == frames {
            print_map(&results);
        }
    }

    let mut sorted = times.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let total: Duration = times.iter().sum();
    println!(
        "\n{frames} frames of {} cells: median {:.2} ms a frame, {:.1} ms in all",
        WIDTH * WIDTH,
        median.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );

    // The user's own struct comes back, decoding only the packet asked for.
    let center = WIDTH * WIDTH / 2 + WIDTH / 2;
    let cell: Cell = results.get(center).expect("the grid's center");
    println!("\nthe center cell: {cell:?}");
    println!("its packet, in place: {:?}", results.packets()[center]);
    assert_eq!(Terrain::PACKET_SIZE, 4 + 24 + 1 + 12 + 3 + 1);
    assert_eq!(cell.name.as_str(), cell.biome.name());
    println!("\n{}", Terrain::schema());
    Ok(())
}
