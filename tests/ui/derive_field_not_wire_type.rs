use parallelizer::prelude::*;

#[derive(Clone, Copy)]
pub struct Meters(f64);

// A field whose type is no wire type: an error on the field's type, and one
// on the struct's name, where its wire form is named (as a tuple packet with
// such a field has one on the packet).
#[derive(WireType, Clone, Copy)]
pub struct Reading {
    pub id: u32,
    pub distance: Meters,
    pub ok: bool,
}

// As a whole packet, the task's packet is the struct's wire form: one error
// there too. Its worker adds none.
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

fn main() {}
