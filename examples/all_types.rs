//! Every data type of the reference library in one packet: the twenty types
//! of its wire table, 205 bytes in all as in the reference's own test, then
//! its named twin, a struct with the same twenty fields that derives
//! `WireType` (the same bytes, with names and `Debug`), then a task with the
//! two types we add, `u64` and `i64`.
//!
//! Run it with `cargo run --example all_types`.

use std::f64::consts::PI;

use parallelizer::prelude::*;

/// One field of every type, in the reference table's order.
#[task(packet = (
    u8, i8, u16, i16, u32, i32, f32, f64, bool, FixedStr<11>,
    Vec3, Vec3i16, Vec2, Vec2i16, CFrame, CFrameF32, CFrame18, Color3, Color3b16, FixedBytes<16>,
))]
pub struct Everything;

// Checked at compile time: the reference's own test expects 205 bytes.
const _: () = assert!(Everything::PACKET_SIZE == 205);

/// Every field is derived from the task id. The return type names the task's
/// output rather than spelling the twenty types out again.
#[worker(Everything)]
fn everything(task_id: usize) -> <Everything as Task>::Output {
    let i = task_id as f64;
    // An angle that sweeps the whole circle over 1000 task ids.
    let angle = i / 1000.0 * 2.0 * PI - PI;
    let frame = CFrame::new(Vec3::new(i, i * 0.5, -i), Vec3::new(0.0, angle, -angle));
    let shade = (task_id % 256) as f32 / 255.0;
    let color = Color3::new(shade, 1.0 - shade, 0.5);
    (
        task_id as u8,
        (task_id as i8).wrapping_neg(),
        task_id as u16,
        -(task_id as i16),
        (task_id * task_id) as u32,
        -((task_id * task_id) as i32),
        i.sqrt() as f32,
        i.sqrt(),
        task_id % 2 == 0,
        // "task 999999" is 11 bytes: every id below a million fits.
        FixedStr::new(&format!("task {task_id}")).expect("fits 11 bytes"),
        Vec3::new(i, -i, 0.5),
        Vec3i16::new(task_id as i16, -(task_id as i16), 0),
        Vec2::new(angle.cos(), angle.sin()),
        Vec2i16::new(-(task_id as i16), task_id as i16),
        frame,
        CFrameF32::from(frame),
        CFrame18::from(frame),
        color,
        Color3b16::from(color),
        FixedBytes::new(&(task_id as u32).to_le_bytes()).expect("4 bytes fit 16"),
    )
}

/// The same twenty fields with names: a struct that derives `WireType` is a
/// whole packet, with exactly the tuple's bytes.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Record {
    pub byte: u8,
    pub signed_byte: i8,
    pub short: u16,
    pub signed_short: i16,
    pub int: u32,
    pub signed_int: i32,
    pub single: f32,
    pub double: f64,
    pub even: bool,
    pub label: FixedStr<11>,
    pub position: Vec3,
    pub cell: Vec3i16,
    pub direction: Vec2,
    pub tile: Vec2i16,
    pub frame: CFrame,
    pub frame_f32: CFrameF32,
    pub frame18: CFrame18,
    pub color: Color3,
    pub color16: Color3b16,
    pub bytes: FixedBytes<16>,
}

#[task(packet = Record)]
pub struct EverythingNamed;

const _: () = assert!(EverythingNamed::PACKET_SIZE == 205);

/// The tuple worker's output, field by field under its name.
#[worker(EverythingNamed)]
fn everything_named(task_id: usize) -> Record {
    let out = everything(task_id);
    Record {
        byte: out.0,
        signed_byte: out.1,
        short: out.2,
        signed_short: out.3,
        int: out.4,
        signed_int: out.5,
        single: out.6,
        double: out.7,
        even: out.8,
        label: out.9,
        position: out.10,
        cell: out.11,
        direction: out.12,
        tile: out.13,
        frame: out.14,
        frame_f32: out.15,
        frame18: out.16,
        color: out.17,
        color16: out.18,
        bytes: out.19,
    }
}

/// Fibonacci numbers and powers of -2: soon past 32 bits.
#[task(packet = (u64, i64))]
pub struct Wide;

#[worker(Wide)]
fn wide(task_id: usize) -> (u64, i64) {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..task_id {
        (a, b) = (b, a + b);
    }
    (a, (-2i64).pow(task_id as u32))
}

fn main() -> Result<(), Error> {
    let coordinator = Coordinator::new(64);

    let results = coordinator.dispatch(Everything, 1000, 16)?;
    println!(
        "{} packets of {} bytes: {} bytes in all",
        results.len(),
        Everything::PACKET_SIZE,
        results.as_bytes().len()
    );

    let id = 750;
    let out = results.get(id).expect("1000 results");
    // A tuple of 20 fields has no `Debug`: print the fields one by one.
    println!("task {id}, decoded:");
    let types = Everything::FIELD_TYPES;
    println!("  {:>14}: {}", types[0], out.0);
    println!("  {:>14}: {}", types[1], out.1);
    println!("  {:>14}: {}", types[2], out.2);
    println!("  {:>14}: {}", types[3], out.3);
    println!("  {:>14}: {}", types[4], out.4);
    println!("  {:>14}: {}", types[5], out.5);
    println!("  {:>14}: {}", types[6], out.6);
    println!("  {:>14}: {}", types[7], out.7);
    println!("  {:>14}: {}", types[8], out.8);
    println!("  {:>14}: {:?}", types[9], out.9.as_str());
    println!("  {:>14}: {:?}", types[10], out.10);
    println!("  {:>14}: {:?}", types[11], out.11);
    println!("  {:>14}: {:?}", types[12], out.12);
    println!("  {:>14}: {:?}", types[13], out.13);
    println!("  {:>14}: {:?}", types[14], out.14);
    println!("  {:>14}: {:?}", types[15], out.15);
    println!("  {:>14}: {:?}", types[16], out.16);
    println!("  {:>14}: {:?}", types[17], out.17);
    println!("  {:>14}: {:?}", types[18], out.18);
    println!("  {:>14}: {:?}", types[19], out.19);

    // Exact types come back as the worker returned them.
    assert_eq!((out.0, out.1, out.2, out.3), (238, 18, 750, -750));
    assert_eq!((out.4, out.5), (562_500, -562_500));
    assert_eq!(out.9.as_str(), "task 750");
    assert_eq!(out.19.as_bytes(), 750u32.to_le_bytes());
    // The angle of task 750 is π/2, a positive angle: its cframe18 code is
    // above i16::MAX and decodes back to within half a code step.
    assert_eq!(out.16.angle_codes[1], 49151);
    let rotation = CFrame::from(out.16).rotation;
    println!("  CFrame18 rotation in radians: {rotation:?}");
    assert!((rotation.y - PI / 2.0).abs() < 5e-5);
    // color3 decodes to 0..=1, each channel `floor(v * 255) / 255`. The
    // floor is the reference's: green, `1 - 238/255` in f32, is a hair under
    // 17/255 and lands on level 16.
    assert_eq!(
        out.17,
        Color3::new(238.0 / 255.0, 16.0 / 255.0, 127.0 / 255.0)
    );

    // The named twin: the same bytes, and a record that prints itself.
    let named = coordinator.dispatch(EverythingNamed, 1000, 16)?;
    assert_eq!(named.as_bytes(), results.as_bytes());
    let record = named.get(id).expect("1000 results");
    println!("\ntask {id}, as the named twin's record:\n{record:#?}");
    assert_eq!(
        (record.byte, record.short, record.signed_int),
        (238, 750, -562_500)
    );
    assert_eq!(record.label.as_str(), "task 750");
    assert_eq!(record.frame18.angle_codes[1], 49151);
    // Read in place, by name, without decoding the packet.
    let packet = &named.packets()[id];
    assert_eq!((packet.int.get(), packet.even), (562_500, 1));
    println!("its schema:\n{}", EverythingNamed::schema());

    let wide = coordinator.dispatch_equally(Wide, 63)?;
    println!(
        "\n{} packets of {} bytes of u64 and i64:",
        wide.len(),
        Wide::PACKET_SIZE
    );
    for (task_id, (fibonacci, power)) in wide.iter().enumerate().skip(58) {
        println!("  task {task_id}: fib = {fibonacci}, (-2)^{task_id} = {power}");
    }
    assert_eq!(wide.get(62), Some((4_052_739_537_881, 1 << 62)));
    assert_eq!(wide.get(61), Some((2_504_730_781_961, -(1 << 61))));
    Ok(())
}
