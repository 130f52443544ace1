use parallelizer::prelude::*;

#[derive(Clone, Copy)]
pub struct Meters(f64);

// A field whose type is no wire type: one error, on the field's type. The
// struct's wire form and impls, and its uses as a whole packet (with a
// worker and a dispatch), as a tuple packet's field and as a field of
// another derived struct, add none.
#[derive(WireType, Clone, Copy)]
pub struct Reading {
    pub id: u32,
    pub distance: Meters,
    pub ok: bool,
}

#[task(packet = Reading)]
pub struct Readings;

#[worker(Readings)]
fn readings(task_id: usize) -> Reading {
    Reading {
        id: task_id as u32,
        distance: Meters(1.0),
        ok: true,
    }
}

#[task(packet = (u8, Reading))]
pub struct Tagged;

#[derive(WireType, Clone, Copy)]
pub struct Outer {
    pub inner: Reading,
    pub n: u8,
}

#[task(packet = Outer)]
pub struct Outers;

fn main() {
    let results = Coordinator::new(4).dispatch(Readings, 10, 2).unwrap();
    let _ = results.get(3).map(|reading| reading.id);
}
