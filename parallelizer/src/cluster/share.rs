//! One rank's share of a cluster dispatch: how the job is cut (its
//! [`Plan`]), and what this rank runs its chunks with on its own
//! coordinator's pool. Both the leader and the follower run chunks through
//! it, and it turns a chunk's local error into the cluster's.

use std::ops::Range;
use std::sync::Arc;

use super::chunk::{Chunk, ChunkArgs};
use super::plan::Plan;
use crate::coordinator::Coordinator;
use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::task::{Task, Worker};

/// A chunk running on this rank's pool.
// swap: `Dispatch<T>`, with `Coordinator::spawn_ids`.
pub(super) type Running<T> = Dispatch<Chunk<T>>;

/// One rank's share of a dispatch: how the job is cut, and what its chunks
/// run with.
pub(super) struct Share<'a, T: Task> {
    coordinator: &'a Coordinator,
    pub(super) plan: Plan,
    memory: Arc<T::Memory>,
    args: Arc<T::Args>,
}

impl<'a, T: Worker> Share<'a, T> {
    pub(super) fn new(
        coordinator: &'a Coordinator,
        plan: Plan,
        memory: Arc<T::Memory>,
        args: Arc<T::Args>,
    ) -> Self {
        Share {
            coordinator,
            plan,
            memory,
            args,
        }
    }

    /// Starts `batches` on the coordinator's pool.
    pub(super) fn spawn(&self, batches: &Range<usize>) -> Running<T> {
        let ids = self.plan.ids(batches);
        // swap: coordinator.spawn_ids::<T>(ids, batch, memory, args)
        self.coordinator.spawn_with(
            Chunk::<T>::new(),
            ids.len(),
            self.plan.batch,
            ChunkArgs::new(ids.start, &self.memory, &self.args),
        )
    }

    /// Runs `batches` on the coordinator's pool and waits for them: their
    /// packets, or the cluster error of `rank`.
    pub(super) fn run_here(&self, rank: usize, batches: &Range<usize>) -> Result<Vec<u8>, Error> {
        let ids = self.plan.ids(batches);
        // swap: coordinator.run_ids::<T>(ids, batch, memory, args)
        self.coordinator
            .dispatch_with(
                Chunk::<T>::new(),
                ids.len(),
                self.plan.batch,
                ChunkArgs::new(ids.start, &self.memory, &self.args),
            )
            .map(|results| results.into_bytes())
            .map_err(|error| self.chunk_error(rank, batches, error))
    }

    /// The cluster error for `batches` of `rank`, which failed with `error`.
    pub(super) fn chunk_error(&self, rank: usize, batches: &Range<usize>, error: Error) -> Error {
        match error {
            Error::WorkerPanicked {
                task_id, message, ..
            } => Error::ClusterWorkerPanicked {
                task: T::NAME,
                rank,
                // swap: `task_id` as it is: `spawn_ids` gives global task ids.
                task_id: self.plan.ids(batches).start + task_id,
                message,
            },
            error => Error::ClusterRankFailed {
                task: T::NAME,
                rank,
                message: error.to_string(),
            },
        }
    }
}
