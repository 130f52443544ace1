//! Running one job: cutting task ids into batches, dealing batches to actors,
//! and writing packets straight into the merged buffer.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;
use zerocopy::{FromBytes, FromZeros};

use crate::error::Error;
use crate::results::Results;
use crate::task::{Task, Worker};

/// The shape of a job, checked before anything runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub threads: usize,
    pub batch: usize,
    pub actors: usize,
}

impl Shape {
    /// Checks the batch size and that the result buffer's size fits `usize`.
    pub fn new<T: Task>(threads: usize, batch: usize, actors: usize) -> Result<Self, Error> {
        if batch == 0 {
            return Err(Error::ZeroBatchSize { task: T::NAME });
        }
        Ok(Shape {
            threads,
            batch,
            actors,
        })
    }

    fn buffer_len<T: Task>(&self) -> Result<usize, Error> {
        self.threads
            .checked_mul(T::PACKET_SIZE)
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or(Error::ResultsTooLarge {
                task: T::NAME,
                threads: self.threads,
                packet_size: T::PACKET_SIZE,
            })
    }
}

/// Shared between a running job, its handle and its coordinator: asks the
/// job to stop at the next batch boundary, and counts finished tasks.
#[derive(Debug, Default)]
pub(crate) struct Control {
    stop: AtomicBool,
    done: AtomicUsize,
    failure: Mutex<Option<Error>>,
}

impl Control {
    /// Stops the job at its next batch boundary; the first reason wins.
    pub fn stop(&self, reason: Error) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert(reason);
        self.stop.store(true, Ordering::Release);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// How many task ids have finished.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

/// Everything a job needs to run, owned, so it can move to another thread.
pub(crate) struct Job<T: Worker> {
    pub shape: Shape,
    pub memory: Arc<T::Memory>,
    pub args: T::Args,
    pub control: Arc<Control>,
}

impl<T: Worker> Job<T> {
    /// Runs the whole job on the current rayon pool and returns its results.
    pub fn run(self) -> Result<Results<T>, Error> {
        let len = self.shape.buffer_len::<T>()?;
        let mut bytes = u8::new_vec_zeroed(len).map_err(|_| Error::AllocationFailed {
            task: T::NAME,
            bytes: len,
        })?;
        self.fill(&mut bytes);
        match self.control.take_failure() {
            Some(error) => Err(error),
            None => Ok(Results::from_filled(bytes)),
        }
    }

    /// Runs every batch, writing each packet into its slot of `bytes`.
    fn fill(&self, bytes: &mut [u8]) {
        let Shape {
            threads,
            batch,
            actors,
        } = self.shape;
        if threads == 0 {
            return;
        }
        let Ok(slots) = <[T::Packet]>::mut_from_bytes(bytes) else {
            unreachable!("the buffer holds `threads` unaligned packets")
        };

        // Batch k holds ids k*batch.. and runs on actor k % actors. Sorting
        // the batches by actor makes each actor's batches one contiguous
        // lane, which runs its batches in order on one thread at a time.
        let mut batches: Vec<(usize, &mut [T::Packet])> =
            slots.chunks_mut(batch).enumerate().collect();
        let batch_count = batches.len();
        if batch_count > actors {
            batches.sort_unstable_by_key(|&(k, _)| (k % actors, k));
        }
        let busy = actors.min(batch_count);
        let (per_actor, extra) = (batch_count / busy, batch_count % busy);
        let mut lanes = Vec::with_capacity(busy);
        let mut rest = batches.as_mut_slice();
        for actor in 0..busy {
            let (lane, tail) = rest.split_at_mut(per_actor + usize::from(actor < extra));
            lanes.push(lane);
            rest = tail;
        }

        lanes.into_par_iter().for_each(|lane| {
            for (k, slots) in lane.iter_mut() {
                if self.control.stopped() {
                    return;
                }
                self.run_batch(*k * batch, slots);
            }
        });
    }

    /// Runs one batch; a panicking worker stops the job with an error that
    /// names the task id.
    fn run_batch(&self, first_id: usize, slots: &mut [T::Packet]) {
        let memory = &*self.memory;
        let args = &self.args;
        let mut task_id = first_id;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            for slot in slots.iter_mut() {
                *slot = T::encode(T::run(task_id, memory, args));
                task_id += 1;
            }
        }));
        match outcome {
            Ok(()) => {
                self.control.done.fetch_add(slots.len(), Ordering::Relaxed);
            }
            Err(payload) => self.control.stop(Error::WorkerPanicked {
                task: T::NAME,
                task_id,
                message: panic_message(payload.as_ref()),
            }),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}
