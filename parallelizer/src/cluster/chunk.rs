//! A stand-in until the coordinator runs global task ids: `Chunk<T>`, task
//! `T` over the task ids of one chunk, which a coordinator runs as a
//! dispatch of its own.
//!
//! Its only users are [`Share`](super::share::Share)'s `spawn` and
//! `run_here`, the task-id offset in its `chunk_error`, and the type of a
//! running chunk (`Running<T>`), all in `share.rs` and each marked
//! `// swap:`. Once `Coordinator::spawn_ids` and `run_ids` run global task
//! ids, those places call them instead and this file goes.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::task::{FieldError, Task, Worker};

/// Task `T` over the task ids of one chunk: its local task id `i` is `T`'s
/// task id `first_id + i`, so a coordinator runs a chunk as a dispatch of
/// its own, packets and all, on its pool.
pub(super) struct Chunk<T>(PhantomData<fn() -> T>);

impl<T> Chunk<T> {
    pub(super) fn new() -> Self {
        Chunk(PhantomData)
    }
}

/// What a chunk's workers see: the offset of its task ids, and `T`'s memory
/// and args.
pub(super) struct ChunkArgs<T: Task> {
    first_id: usize,
    memory: Arc<T::Memory>,
    args: Arc<T::Args>,
}

impl<T: Task> ChunkArgs<T> {
    pub(super) fn new(first_id: usize, memory: &Arc<T::Memory>, args: &Arc<T::Args>) -> Self {
        ChunkArgs {
            first_id,
            memory: Arc::clone(memory),
            args: Arc::clone(args),
        }
    }
}

impl<T: Worker> Task for Chunk<T> {
    type Output = T::Output;
    type Packet = T::Packet;
    type Memory = ();
    type Args = ChunkArgs<T>;
    const NAME: &'static str = T::NAME;
    const PACKET_SIZE: usize = T::PACKET_SIZE;
    const HAS_MEMORY: bool = false;
    const FIELD_TYPES: &'static [&'static str] = T::FIELD_TYPES;
    const FIELD_SIZES: &'static [usize] = T::FIELD_SIZES;

    fn encode(output: Self::Output) -> Self::Packet {
        T::encode(output)
    }

    fn decode(packet: &Self::Packet) -> Self::Output {
        T::decode(packet)
    }

    fn validate(packet: &Self::Packet) -> Result<(), FieldError> {
        T::validate(packet)
    }
}

impl<T: Worker> Worker for Chunk<T> {
    fn run(task_id: usize, _memory: &(), args: &ChunkArgs<T>) -> T::Output {
        T::run(args.first_id + task_id, &args.memory, &args.args)
    }
}
