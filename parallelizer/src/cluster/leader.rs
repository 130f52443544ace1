//! Rank 0's side of a dispatch: it hands out chunks to whichever rank asks,
//! itself included, receives each chunk's packets straight into its slot of
//! the merged buffer, and once the job has failed stops every running chunk
//! and tells every rank why.
//!
//! A [`Leader`] is the dispatch's state on rank 0, and each thing that can
//! happen to it is one method: its own chunk finished, a request arrived
//! (and which), the job failed, the job's outcome became known. Its loop
//! only polls for these events, sleeping when none came.

use std::ops::Range;

use super::link::{Idle, Link};
use super::protocol::{Failure, Reply, Request};
use super::share::{Running, Share};
use crate::error::Error;
use crate::task::Worker;

/// Rank 0's side of a dispatch: the merged packets of every chunk in
/// `bytes`, or the first failure.
pub(super) fn lead<T: Worker>(
    link: Link<'_>,
    job: Share<'_, T>,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, Error> {
    if link.size == 1 {
        // A cluster of one runs the whole job as one local chunk.
        return job.run_here(0, &(0..job.plan.batches));
    }
    Leader::new(link, job, bytes).run()
}

/// What rank 0 knows of another rank during a dispatch.
#[derive(Debug, Clone, Default)]
struct Peer {
    /// The batches it is running.
    chunk: Option<Range<usize>>,
    /// It asked for work when none was left: it waits for the outcome.
    parked: bool,
    /// It has had its last answer.
    ended: bool,
    /// It was sent a cancel during this dispatch.
    cancel_sent: bool,
}

/// A dispatch on rank 0.
struct Leader<'a, T: Worker> {
    link: Link<'a>,
    job: Share<'a, T>,
    /// The results buffer, which every chunk's packets fill.
    bytes: Vec<u8>,
    /// Every rank, by rank; rank 0 is this one, and never waits for answers.
    peers: Vec<Peer>,
    /// The first failure, after which no chunk starts.
    failure: Option<Error>,
    /// This rank's own chunk, running on its pool.
    local: Option<(Range<usize>, Running<T>)>,
}

impl<'a, T: Worker> Leader<'a, T> {
    fn new(link: Link<'a>, job: Share<'a, T>, bytes: Vec<u8>) -> Self {
        let mut peers = vec![Peer::default(); link.size];
        peers[0].ended = true;
        Leader {
            link,
            job,
            bytes,
            peers,
            failure: None,
            local: None,
        }
    }

    /// Runs the dispatch until every rank has had its last answer and this
    /// rank's chunk has stopped.
    fn run(mut self) -> Result<Vec<u8>, Error> {
        let mut idle = Idle::default();
        while self.local.is_some() || !self.peers.iter().all(|peer| peer.ended) {
            let mut busy = false;
            if self
                .local
                .as_ref()
                .is_some_and(|(_, run)| run.is_finished())
            {
                self.local_chunk_finished();
                busy = true;
            }
            busy |= self.start_local_chunk();
            if let Some((from, request)) = self.link.try_receive_request() {
                self.request_arrived(from, request);
                busy = true;
            }
            self.release_parked();
            if busy {
                idle.reset();
            } else {
                idle.pause();
            }
        }
        match self.failure {
            Some(error) => Err(error),
            None => Ok(self.bytes),
        }
    }

    /// This rank's chunk finished: its packets go to their slot, or its
    /// error fails the job.
    fn local_chunk_finished(&mut self) {
        let (batches, run) = self.local.take().expect("a chunk that finished");
        match run.wait() {
            Ok(results) => {
                let ids = self.job.plan.ids(&batches);
                self.bytes[self.job.plan.byte_range::<T>(&ids)].copy_from_slice(results.as_bytes());
            }
            Err(error) => self.job_failed(self.job.chunk_error(0, error)),
        }
    }

    /// This rank takes the next chunk, if it has none and the job has not
    /// failed. Whether it took one.
    fn start_local_chunk(&mut self) -> bool {
        if self.local.is_some() || self.failure.is_some() {
            return false;
        }
        let Some(batches) = self.job.plan.take() else {
            return false;
        };
        let run = self.job.spawn(&batches);
        self.local = Some((batches, run));
        true
    }

    /// A request from rank `from` arrived: it returns its chunk, if it had
    /// one, and is answered.
    fn request_arrived(&mut self, from: usize, request: Request) {
        if from == 0 || from >= self.peers.len() || self.peers[from].ended {
            self.link
                .protocol_error("a request from a rank that has no dispatch running");
        }
        match request {
            Request::Ready => {
                if self.peers[from].chunk.is_some() {
                    self.link
                        .protocol_error("a request for work from a rank that has a chunk");
                }
            }
            Request::Done { batches } => self.chunk_done(from, &batches),
            Request::Failed(failure) => self.chunk_failed(from, failure),
            Request::Cancelled => self.chunk_cancelled(from),
        }
        self.answer(from);
    }

    /// Rank `from` ran `batches`: their packets follow, into their slot.
    fn chunk_done(&mut self, from: usize, batches: &Range<usize>) {
        if self.take_chunk(from) != *batches {
            self.link
                .protocol_error("a rank returned another chunk than its own");
        }
        let ids = self.job.plan.ids(batches);
        let slot = &mut self.bytes[self.job.plan.byte_range::<T>(&ids)];
        self.link.receive_bytes(from, slot);
    }

    /// Rank `from`'s chunk failed: its message follows, and the job fails.
    fn chunk_failed(&mut self, from: usize, failure: Failure) {
        self.take_chunk(from);
        if failure.rank != from {
            self.link
                .protocol_error("a rank's failure that names another rank");
        }
        let error = self.link.receive_failure(from, failure, T::NAME);
        self.job_failed(error);
    }

    /// Rank `from`'s chunk stopped at the cancel it was sent.
    fn chunk_cancelled(&mut self, from: usize) {
        self.take_chunk(from);
        if !self.peers[from].cancel_sent {
            self.link
                .protocol_error("a chunk cancelled without a cancel");
        }
    }

    /// The job failed with `error`, unless it already had: every running
    /// chunk stops at its next batch boundary, and no other starts. The
    /// first failure is the job's.
    fn job_failed(&mut self, error: Error) {
        if self.failure.is_some() {
            return;
        }
        self.failure = Some(error);
        if let Some((_, run)) = &self.local {
            run.cancel();
        }
        for (rank, peer) in self.peers.iter_mut().enumerate() {
            if peer.chunk.is_some() && !peer.cancel_sent {
                self.link.send_reply(rank, &Reply::Cancel);
                peer.cancel_sent = true;
            }
        }
    }

    /// Once the job has finished or failed, the ranks parked waiting for
    /// work learn its outcome.
    fn release_parked(&mut self) {
        let finished = self.job.plan.is_exhausted()
            && self.local.is_none()
            && self.peers.iter().all(|peer| peer.chunk.is_none());
        if !finished && self.failure.is_none() {
            return;
        }
        for rank in 0..self.peers.len() {
            let peer = &self.peers[rank];
            if peer.parked && !peer.ended {
                self.end(rank);
            }
        }
    }

    /// Answers `rank`, which has no chunk: with the next chunk, or when none
    /// is left with nothing until the job's outcome is known (it parks), or
    /// with the job's failure.
    fn answer(&mut self, rank: usize) {
        if self.failure.is_some() {
            self.end(rank);
        } else if let Some(batches) = self.job.plan.take() {
            let reply = Reply::Chunk {
                batches: batches.clone(),
            };
            self.link.send_reply(rank, &reply);
            self.peers[rank].chunk = Some(batches);
        } else {
            self.peers[rank].parked = true;
        }
    }

    /// Gives `rank` its last answer of the dispatch: the job's failure, or
    /// that it has finished.
    fn end(&mut self, rank: usize) {
        let peer = &mut self.peers[rank];
        match &self.failure {
            Some(error) => {
                let (failure, message) = Failure::of(error);
                let cancel_sent = peer.cancel_sent;
                let reply = Reply::Failed {
                    failure,
                    cancel_sent,
                };
                self.link.send_reply(rank, &reply);
                self.link.send_bytes(rank, message.as_bytes());
            }
            None => self.link.send_reply(rank, &Reply::Finished),
        }
        peer.ended = true;
        peer.parked = false;
    }

    /// The chunk rank `from` returns.
    fn take_chunk(&mut self, from: usize) -> Range<usize> {
        match self.peers[from].chunk.take() {
            Some(batches) => batches,
            None => self
                .link
                .protocol_error("a chunk returned by a rank that had none"),
        }
    }
}
