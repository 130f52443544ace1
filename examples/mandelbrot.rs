//! A picture through a dispatch: the Mandelbrot set, one task per pixel.
//!
//! Each worker derives its pixel from the task id (`x = id % width`,
//! `y = id / width`) and returns one `Color3`, whose wire form is three bytes
//! r, g, b. So the merged result buffer *is* the image's raw RGB data, in
//! row order: it goes to the PNG encoder as it is, with no copy and no
//! conversion.
//!
//! Run it with `cargo run --release --example mandelbrot [OUTPUT.png]`
//! (default `mandelbrot.png` in the system's temporary folder).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use parallelizer::prelude::*;

/// The part of the complex plane to draw, passed to every worker call.
pub struct View {
    pub width: u32,
    pub height: u32,
    pub center: (f64, f64),
    /// Plane units per pixel.
    pub scale: f64,
    pub max_iterations: u32,
}

#[task(packet = (Color3,), args = View)]
pub struct Mandelbrot;

#[worker(Mandelbrot)]
fn pixel(task_id: usize, view: &View) -> (Color3,) {
    let width = view.width as usize;
    let (x, y) = ((task_id % width) as f64, (task_id / width) as f64);
    let c_re = view.center.0 + (x - f64::from(view.width) / 2.0) * view.scale;
    let c_im = view.center.1 + (y - f64::from(view.height) / 2.0) * view.scale;
    let (mut re, mut im) = (0.0_f64, 0.0_f64);
    let mut iteration = 0;
    while iteration < view.max_iterations && re * re + im * im <= 256.0 {
        (re, im) = (re * re - im * im + c_re, 2.0 * re * im + c_im);
        iteration += 1;
    }
    if iteration == view.max_iterations {
        return (Color3::new(0.0, 0.0, 0.0),);
    }
    // Smooth iteration count, then a cheap cyclic palette.
    let smooth =
        f64::from(iteration) + 1.0 - (re * re + im * im).ln().ln() / std::f64::consts::LN_2;
    let t = smooth.sqrt() * 0.35;
    let channel = |phase: f64| (0.5 + 0.5 * (std::f64::consts::TAU * (t + phase)).cos()) as f32;
    (Color3::new(channel(0.0), channel(0.15), channel(0.35)),)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let output = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mandelbrot.png"));
    let view = View {
        width: 720,
        height: 480,
        center: (-0.7453, 0.1127),
        scale: 0.000_016,
        max_iterations: 800,
    };
    let (width, height) = (view.width, view.height);
    let pixels = (width * height) as usize;

    let coordinator = Coordinator::new(256);
    let started = Instant::now();
    // One row per batch: rows far from the set are cheap, rows through it
    // are not, and batches dealt round-robin to the actors even that out.
    let image = coordinator.dispatch_with(Mandelbrot, pixels, width as usize, view)?;
    let elapsed = started.elapsed();
    assert_eq!(image.as_bytes().len(), pixels * 3, "three bytes per pixel");

    let mut encoder = png::Encoder::new(BufWriter::new(File::create(&output)?), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // The merged buffer is the image: r, g, b per pixel, rows in order.
    encoder.write_header()?.write_image_data(image.as_bytes())?;

    println!(
        "{width}x{height} pixels ({pixels} tasks) on {} threads in {elapsed:.2?}; wrote {}",
        coordinator.threads(),
        output.display()
    );
    Ok(())
}
