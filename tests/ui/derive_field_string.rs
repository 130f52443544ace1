use parallelizer::prelude::*;

// A `String` field: our error on the field's type, saying what to use
// instead; the struct's uses as a whole packet and as a tuple packet's field
// add none.
//
// rustc's own E0204 follows, on the same struct: `String` is not `Copy`, so
// the `Copy` derive fails too. That is the `Copy` derive's error, which no
// other derive can silence; without `Copy`, `WireType`'s `Copy` bound fails
// instead. Either way it names the same field.
#[derive(WireType, Debug, Clone, Copy)]
pub struct Label {
    pub id: u32,
    pub text: String,
}

#[task(packet = Label)]
pub struct Labels;

#[worker(Labels)]
fn labels(task_id: usize) -> Label {
    Label {
        id: task_id as u32,
        text: String::new(),
    }
}

#[task(packet = (u8, Label))]
pub struct Tagged;

fn main() {}
