//! One rank's share of a cluster dispatch: how the job is cut (its
//! [`Plan`]), and what this rank runs its chunks with on its own
//! coordinator's pool. Both the leader and the follower run chunks through
//! it, and it turns a chunk's local error into the cluster's.

use std::ops::Range;
use std::sync::Arc;

use super::plan::Plan;
use crate::coordinator::Coordinator;
use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::task::{Task, Worker};

/// A chunk running on this rank's pool.
pub(super) type Running<T> = Dispatch<T>;

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

    /// The same job, handing out `batches` only (see [`Plan::window`]).
    pub(super) fn window(&self, batches: &Range<usize>) -> Share<'a, T> {
        Share {
            coordinator: self.coordinator,
            plan: self.plan.window(batches),
            memory: Arc::clone(&self.memory),
            args: Arc::clone(&self.args),
        }
    }

    /// Starts `batches` on the coordinator's pool.
    pub(super) fn spawn(&self, batches: &Range<usize>) -> Running<T> {
        let ids = self.plan.ids(batches);
        self.coordinator.spawn_ids::<T>(
            ids,
            self.plan.batch,
            Arc::clone(&self.memory),
            Arc::clone(&self.args),
        )
    }

    /// Runs `batches` on the coordinator's pool and waits for them: their
    /// packets, or the cluster error of `rank`.
    pub(super) fn run_here(&self, rank: usize, batches: &Range<usize>) -> Result<Vec<u8>, Error> {
        let ids = self.plan.ids(batches);
        self.coordinator
            .run_ids::<T>(
                ids,
                self.plan.batch,
                Arc::clone(&self.memory),
                Arc::clone(&self.args),
            )
            .map(|results| results.into_bytes())
            .map_err(|error| self.chunk_error(rank, error))
    }

    /// The cluster error for `batches` of `rank`, which failed with `error`.
    pub(super) fn chunk_error(&self, rank: usize, error: Error) -> Error {
        match error {
            Error::WorkerPanicked {
                task_id, message, ..
            } => Error::ClusterWorkerPanicked {
                task: T::NAME,
                rank,
                // Chunks run global task ids.
                task_id,
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
