//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses its own share of them

use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use parallelizer::prelude::*;

/// Holds workers back until the test opens it.
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    pub fn pass(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }
}

/// Waits for a dispatch on another thread, so a hang fails the test instead
/// of stalling it.
pub fn wait_within<T: Task>(dispatch: Dispatch<T>, limit: Duration) -> Result<Results<T>, Error> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(dispatch.wait()));
    receiver.recv_timeout(limit).expect("the dispatch hung")
}

/// Memory for [`Hello`]: the text every packet carries.
pub struct Greeting {
    pub text: String,
}

/// The README's example task: `(task_id * 2, the greeting)`.
#[task(packet = (u16, FixedStr<11>), memory = Greeting)]
pub struct Hello;

#[worker(Hello)]
fn hello(task_id: usize, memory: &Greeting) -> (u16, FixedStr<11>) {
    ((task_id * 2) as u16, FixedStr::new(&memory.text).unwrap())
}

/// Returns its own id, so every slot shows which task wrote it.
#[task(packet = (u64,))]
pub struct Identity;

#[worker(Identity)]
fn identity(task_id: usize) -> (u64,) {
    (task_id as u64,)
}

/// Memory for [`Affine`].
pub struct Scale {
    pub factor: f64,
}

/// `task_id * factor + offset`: memory and args in one task.
#[task(packet = (f64,), memory = Scale, args = f64)]
pub struct Affine;

#[worker(Affine)]
fn affine(task_id: usize, scale: &Scale, offset: &f64) -> (f64,) {
    (task_id as f64 * scale.factor + offset,)
}

/// The named packet: an enum biome inside a struct cell.
/// A fieldless enum on the wire: its `u8` discriminant.
#[derive(WireType, Debug, Clone, Copy, PartialEq)]
#[repr(u8)]
pub enum Biome {
    Ocean = 0,
    Plains = 1,
    Forest = 2,
    Mountain = 7,
}

#[derive(WireType, Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub height: f32,
    pub normal: Vec3,
    pub biome: Biome,
    pub name: FixedStr<8>,
    pub color: Color3,
    pub wet: bool,
}
