//! The side of a dispatch of every rank but 0: it joins the dispatch, asks
//! rank 0 for chunks, runs each on its own coordinator's pool while it
//! watches for a cancel, and returns each chunk (its packets, or its
//! failure) with its next request, until rank 0 answers that the job has
//! finished or failed. While a chunk's packets are on their way, rank 0's
//! answer may already have come: the next chunk then runs meanwhile.

use std::ops::Range;
use std::time::Instant;

use super::heartbeat::{Heartbeat, Step};
use super::link::Idle;
use super::protocol::{Call, Failure, Reply, Request};
use super::share::{Running, Share};
use crate::error::Error;
use crate::task::Worker;

/// Joins a dispatch of the task named `task` with `call` (and `message`, why
/// this rank cannot take part, if it cannot), and waits for rank 0's
/// verdict: the first chunk, `None` if the job has none to run (it is empty,
/// or the call is a barrier), or why the dispatch fails.
///
/// Rank 0 is waited for until it is known to be in the dispatch (it may be
/// busy with the program's own work) for as long as the cluster's join
/// timeout, by default without a time limit, and from then on watched.
pub(super) fn join(
    heart: &mut Heartbeat<'_>,
    call: &Call,
    message: &str,
    task: &'static str,
) -> Result<Option<Range<usize>>, Error> {
    heart.link.send_request(&Request::Join {
        call: call.clone(),
        len: message.len(),
    });
    heart.send_bytes(0, message.as_bytes(), "its message")?;
    match wait_reply(heart)? {
        Reply::Chunk { batches } => Ok(Some(batches)),
        Reply::Finished => Ok(None),
        Reply::Failed {
            failure,
            cancel_sent: false,
        } => Err(receive_failure(heart, failure, task)?),
        Reply::Mismatch {
            rank,
            what,
            expected,
            found,
        } => Err(Error::ClusterMismatch {
            task,
            rank,
            what,
            expected,
            found,
        }),
        Reply::Failed { .. } | Reply::Cancel => heart
            .link
            .protocol_error("a cancel before the dispatch started"),
    }
}

/// A rank's side of a barrier (`call`, which names no task: `task` is the
/// name its errors give): joins it, waits for rank 0's release, and says
/// that it leaves (see `leader::barrier`).
pub(super) fn barrier(
    heart: &mut Heartbeat<'_>,
    call: &Call,
    task: &'static str,
) -> Result<(), Error> {
    match join(heart, call, "", task)? {
        None => {
            heart.link.send_request(&Request::Released);
            Ok(())
        }
        Some(_) => heart.link.protocol_error("a chunk in answer to a barrier"),
    }
}

/// Waits for rank 0's next answer, beating meanwhile.
fn wait_reply(heart: &mut Heartbeat<'_>) -> Result<Reply, Error> {
    let mut idle = Idle::default();
    loop {
        if let Some(reply) = heart.link.try_receive_reply() {
            heart.watch.heard(0, Instant::now(), true);
            return Ok(reply);
        }
        heart.tick();
        heart.check_arrival(0)?;
        idle.pause();
    }
}

/// Receives the message of `failure`, which rank 0 sends after it: the
/// error of the dispatch of the task named `task`.
fn receive_failure(
    heart: &mut Heartbeat<'_>,
    failure: Failure,
    task: &'static str,
) -> Result<Error, Error> {
    let len = failure.len;
    let message = heart.receive_text(0, len, "the message of the dispatch's failure")?;
    Ok(failure.into_error(task, message))
}

/// A dispatch on a rank other than 0, once it started.
pub(super) struct Follower<'h, 'l, 'c, T: Worker> {
    heart: &'h mut Heartbeat<'l>,
    job: Share<'c, T>,
    /// This rank took rank 0's cancel during this dispatch.
    cancelled: bool,
    /// Rank 0's answer, taken while this rank was busy.
    next: Option<Reply>,
    /// The chunk running on this rank's pool.
    running: Option<(Range<usize>, Running<T>)>,
}

impl<'h, 'l, 'c, T: Worker> Follower<'h, 'l, 'c, T> {
    pub(super) fn new(heart: &'h mut Heartbeat<'l>, job: Share<'c, T>) -> Self {
        Follower {
            heart,
            job,
            cancelled: false,
            next: None,
            running: None,
        }
    }

    /// Runs chunks, `first` the first, until rank 0 gives the job's outcome.
    pub(super) fn run(mut self, first: Range<usize>) -> Result<(), Error> {
        self.start_chunk(first);
        loop {
            if self.running.is_none() {
                let reply = match self.next.take() {
                    Some(reply) => reply,
                    None => wait_reply(self.heart)?,
                };
                match reply {
                    Reply::Chunk { batches } => self.start_chunk(batches),
                    Reply::Finished => return Ok(()),
                    Reply::Failed {
                        failure,
                        cancel_sent,
                    } => return Err(self.job_failed(failure, cancel_sent)?),
                    Reply::Mismatch { .. } | Reply::Cancel => self
                        .heart
                        .link
                        .protocol_error("a start's answer in the middle of a dispatch"),
                }
            }
            self.wait_chunk()?;
            let (batches, run) = self.running.take().expect("a chunk that finished");
            self.return_chunk(batches, run.wait())?;
        }
    }

    /// Starts `batches` on this rank's pool (and cancels it at once if this
    /// rank already took rank 0's cancel: the job has failed).
    fn start_chunk(&mut self, batches: Range<usize>) {
        if batches.end > self.job.plan.batches {
            self.heart.link.protocol_error("a chunk outside the job");
        }
        let run = self.job.spawn(&batches);
        if self.cancelled {
            run.cancel();
        }
        self.running = Some((batches, run));
    }

    /// Waits for the running chunk to finish, stopping it at rank 0's cancel.
    fn wait_chunk(&mut self) -> Result<(), Error> {
        let mut idle = Idle::default();
        loop {
            if self
                .running
                .as_ref()
                .is_some_and(|(_, run)| run.is_finished())
            {
                return Ok(());
            }
            self.heart.tick();
            self.take_cancel();
            self.heart.check(0)?;
            idle.pause();
        }
    }

    /// Returns `batches` to rank 0: their packets, their failure, or that
    /// they were cancelled.
    fn return_chunk(
        &mut self,
        batches: Range<usize>,
        outcome: Result<crate::Results<T>, Error>,
    ) -> Result<(), Error> {
        match outcome {
            Ok(results) => {
                self.heart.link.send_request(&Request::Done { batches });
                self.send_packets(results.as_bytes())
            }
            Err(Error::Cancelled { .. }) if self.cancelled => {
                self.heart.link.send_request(&Request::Cancelled);
                Ok(())
            }
            Err(error) => {
                let error = self.job.chunk_error(self.heart.link.rank, error);
                let (failure, message) = Failure::of(&error);
                self.heart.link.send_request(&Request::Failed(failure));
                self.heart
                    .send_bytes(0, message.as_bytes(), "its chunk's failure")
            }
        }
    }

    /// Sends a chunk's packets to rank 0, in pieces of at most the link's
    /// largest message. Meanwhile it beats, takes rank 0's answer (and
    /// starts the next chunk it brings) and its cancel.
    fn send_packets(&mut self, bytes: &[u8]) -> Result<(), Error> {
        mpi::request::scope(|scope| {
            let mut outbox = self.heart.outbox(scope, 0, bytes);
            let mut idle = Idle::default();
            loop {
                match self
                    .heart
                    .send_step(&mut outbox, "the send of its chunk's packets")?
                {
                    Step::Done => return Ok(()),
                    Step::Moved => idle.reset(),
                    Step::Waiting => {
                        self.take_messages();
                        idle.pause();
                    }
                }
            }
        })
    }

    /// Takes rank 0's answer, if it came (and starts the chunk it brings),
    /// and its cancel.
    fn take_messages(&mut self) {
        if self.next.is_none() {
            if let Some(reply) = self.heart.link.try_receive_reply() {
                self.heart.watch.heard(0, Instant::now(), true);
                match reply {
                    Reply::Chunk { batches } if self.running.is_none() => self.start_chunk(batches),
                    reply => self.next = Some(reply),
                }
            }
        }
        self.take_cancel();
    }

    /// Takes rank 0's cancel, if it came: the running chunk stops at its
    /// next batch boundary.
    fn take_cancel(&mut self) {
        if !self.cancelled && self.heart.link.try_take_cancel() {
            self.heart.watch.heard(0, Instant::now(), true);
            self.cancelled = true;
            if let Some((_, run)) = &self.running {
                run.cancel();
            }
        }
    }

    /// Rank 0 says the job failed with `failure`, whose message follows: the
    /// error. A cancel sent while this rank's chunk was returning is still
    /// queued: take it, so that it cannot reach the next dispatch.
    fn job_failed(&mut self, failure: Failure, cancel_sent: bool) -> Result<Error, Error> {
        let error = receive_failure(self.heart, failure, T::NAME)?;
        let mut idle = Idle::default();
        while cancel_sent && !self.cancelled {
            self.take_cancel();
            self.heart.tick();
            self.heart.check(0)?;
            idle.pause();
        }
        Ok(error)
    }
}

impl<T: Worker> Drop for Follower<'_, '_, '_, T> {
    /// A dispatch given up (rank 0 lost) stops its chunk.
    fn drop(&mut self) {
        if let Some((_, run)) = &self.running {
            run.cancel();
        }
    }
}
