//! The side of a dispatch of every rank but 0: it asks rank 0 for chunks,
//! runs each on its own coordinator's pool while it watches for a cancel,
//! and returns each chunk (its packets, or its failure) with its next
//! request, until rank 0 answers that the job has finished or failed.

use std::ops::Range;

use super::link::{Idle, Link};
use super::protocol::{Failure, Reply, Request};
use super::share::Share;
use crate::error::Error;
use crate::task::Worker;

/// A dispatch on a rank other than 0.
pub(super) struct Follower<'a, T: Worker> {
    link: Link<'a>,
    job: Share<'a, T>,
    /// This rank took rank 0's cancel during this dispatch.
    cancelled: bool,
}

impl<'a, T: Worker> Follower<'a, T> {
    pub(super) fn new(link: Link<'a>, job: Share<'a, T>) -> Self {
        Follower {
            link,
            job,
            cancelled: false,
        }
    }

    /// Runs chunks until rank 0 gives the job's outcome.
    pub(super) fn run(mut self) -> Result<(), Error> {
        self.link.send_request(&Request::Ready);
        loop {
            match self.link.receive_reply() {
                Reply::Chunk { batches } => self.run_chunk(batches),
                Reply::Finished => return Ok(()),
                Reply::Failed {
                    failure,
                    cancel_sent,
                } => return Err(self.job_failed(failure, cancel_sent)),
                Reply::Cancel => self.link.protocol_error("a cancel among the replies"),
            }
        }
    }

    /// Runs `batches`, stopping at rank 0's cancel, and returns them to rank
    /// 0: their packets, their failure, or that they were cancelled.
    fn run_chunk(&mut self, batches: Range<usize>) {
        if batches.is_empty() || batches.end > self.job.plan.batches {
            self.link.protocol_error("a chunk outside the job");
        }
        let run = self.job.spawn(&batches);
        let mut idle = Idle::default();
        while !run.is_finished() {
            if !self.cancelled && self.link.take_cancel(false) {
                self.cancelled = true;
                run.cancel();
            } else {
                idle.pause();
            }
        }
        match run.wait() {
            Ok(results) => {
                self.link.send_request(&Request::Done { batches });
                self.link.send_bytes(0, results.as_bytes());
            }
            Err(Error::Cancelled { .. }) if self.cancelled => {
                self.link.send_request(&Request::Cancelled);
            }
            Err(error) => {
                let error = self.job.chunk_error(self.link.rank, error);
                let (failure, message) = Failure::of(&error);
                self.link.send_request(&Request::Failed(failure));
                self.link.send_bytes(0, message.as_bytes());
            }
        }
    }

    /// Rank 0 says the job failed with `failure`, whose message follows: the
    /// error. A cancel sent while this rank's chunk was returning is still
    /// queued: take it, so that it cannot reach the next dispatch.
    fn job_failed(&self, failure: Failure, cancel_sent: bool) -> Error {
        let error = self.link.receive_failure(0, failure, T::NAME);
        if cancel_sent && !self.cancelled {
            self.link.take_cancel(true);
        }
        error
    }
}
