//! The cluster's messages on MPI: the [`protocol`](super::protocol)'s
//! headers sent and received on the cluster's own communicator, the bytes
//! that follow them in pieces, the collective start's gather and broadcast,
//! and the polite polling that every wait uses.
//!
//! The only file of the cluster, with the public API's few calls, that
//! talks MPI: the leader and the follower send and receive typed messages
//! through a [`Link`], and a message that breaks the protocol ends the MPI
//! job here.

use std::fmt;
use std::thread;
use std::time::Duration;

use super::protocol::{Call, Failure, Header, Reply, Request};
use super::protocol::{HEADER_LEN, TAG_CANCEL, TAG_DATA, TAG_REPLY, TAG_REQUEST};
use crate::error::Error;
use mpi::point_to_point::Status;
use mpi::request::Request as MpiRequest;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Source;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Equivalence, Root};
use mpi::{Rank, Tag};

/// The exit code of an MPI job aborted because a message broke the protocol.
const ABORT_PROTOCOL: i32 = 70;

/// The largest failure message a rank accepts, in bytes.
const MAX_FAILURE_MESSAGE: usize = 1 << 30;

/// This rank's end of the cluster's communicator, for one dispatch.
#[derive(Clone, Copy)]
pub(super) struct Link<'a> {
    /// The cluster's own duplicate of the world.
    comm: &'a SimpleCommunicator,
    /// The world, which a protocol error aborts.
    world: &'a SimpleCommunicator,
    /// This rank.
    pub(super) rank: usize,
    /// The number of ranks.
    pub(super) size: usize,
    /// The largest piece of bytes this rank sends.
    max_message: usize,
}

impl<'a> Link<'a> {
    pub(super) fn new(
        comm: &'a SimpleCommunicator,
        world: &'a SimpleCommunicator,
        max_message: usize,
    ) -> Self {
        Link {
            comm,
            world,
            rank: rank_index(comm.rank()),
            size: rank_index(comm.size()),
            max_message,
        }
    }

    /// Waits until every rank has called `barrier`, sleeping between polls.
    pub(super) fn barrier(&self) {
        wait_politely(self.comm.immediate_barrier());
    }

    /// Every rank's call, in rank order, gathered on every rank.
    pub(super) fn gather_calls(&self, call: &Call) -> Vec<Call> {
        let mut headers = vec![0u64; HEADER_LEN * self.size];
        self.comm
            .all_gather_into(&call.encode()[..], &mut headers[..]);
        headers
            .chunks_exact(HEADER_LEN)
            .map(|header| {
                let header = header.try_into().expect("chunks of a header's length");
                Call::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad))
            })
            .collect()
    }

    /// `root`'s `message`, on every rank (the other ranks pass an empty one).
    pub(super) fn broadcast_message(&self, root: usize, message: String) -> String {
        let root = self.comm.process_at_rank(root as Rank);
        let mut message = message.into_bytes();
        let mut len = [message.len() as u64];
        root.broadcast_into(&mut len[..]);
        message.resize(to_index(len[0]), 0);
        if !message.is_empty() {
            root.broadcast_into(&mut message[..]);
        }
        String::from_utf8_lossy(&message).into_owned()
    }

    /// Sends `request` to rank 0.
    pub(super) fn send_request(&self, request: &Request) {
        self.send_header(0, TAG_REQUEST, &request.encode());
    }

    /// The next request from any rank, if one has arrived, and its sender.
    pub(super) fn try_receive_request(&self) -> Option<(usize, Request)> {
        let (message, status) = self
            .comm
            .any_process()
            .immediate_matched_probe_with_tag(TAG_REQUEST)?;
        let from = rank_index(status.source_rank());
        let mut header: Header = [0; HEADER_LEN];
        let status = message.matched_receive_into(&mut header[..]);
        self.check_count(&status, "a request header");
        let request = Request::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad));
        Some((from, request))
    }

    /// Sends `reply` to `rank`, on the reply's tag.
    pub(super) fn send_reply(&self, rank: usize, reply: &Reply) {
        self.send_header(rank, reply.tag(), &reply.encode());
    }

    /// Waits, sleeping between polls, for rank 0's next answer.
    pub(super) fn receive_reply(&self) -> Reply {
        self.receive_from_0(TAG_REPLY, true)
            .expect("a wait ends with a reply")
    }

    /// Takes rank 0's cancel: whether one was there, or, if `wait`, once it
    /// is.
    pub(super) fn take_cancel(&self, wait: bool) -> bool {
        match self.receive_from_0(TAG_CANCEL, wait) {
            None => false,
            Some(Reply::Cancel) => true,
            Some(_) => self.protocol_error("a reply among the cancels"),
        }
    }

    /// Receives the message of `failure` from `rank`: the error of task
    /// `task` that it carries.
    pub(super) fn receive_failure(
        &self,
        rank: usize,
        failure: Failure,
        task: &'static str,
    ) -> Error {
        if failure.len > MAX_FAILURE_MESSAGE {
            self.protocol_error("a failure message larger than 1 GiB");
        }
        let mut message = vec![0; failure.len];
        self.receive_bytes(rank, &mut message);
        failure.into_error(task, String::from_utf8_lossy(&message).into_owned())
    }

    /// Sends `bytes` to `rank` in pieces of at most `max_message` bytes.
    pub(super) fn send_bytes(&self, rank: usize, bytes: &[u8]) {
        let process = self.comm.process_at_rank(rank as Rank);
        for piece in bytes.chunks(self.max_message) {
            process.send_with_tag(piece, TAG_DATA);
        }
    }

    /// Fills `bytes` from the pieces `rank` sends, whatever their sizes.
    pub(super) fn receive_bytes(&self, rank: usize, mut bytes: &mut [u8]) {
        let process = self.comm.process_at_rank(rank as Rank);
        while !bytes.is_empty() {
            let (message, status) = process.matched_probe_with_tag(TAG_DATA);
            let len = usize::try_from(status.count(u8::equivalent_datatype())).unwrap_or(0);
            if len == 0 || len > bytes.len() {
                self.protocol_error("a piece of bytes larger than what it belongs to");
            }
            let (piece, rest) = std::mem::take(&mut bytes).split_at_mut(len);
            message.matched_receive_into(piece);
            bytes = rest;
        }
    }

    /// Ends the MPI job: a message broke the protocol (ranks running
    /// different builds, or a bug), and waiting could hang every rank.
    pub(super) fn protocol_error(&self, what: impl fmt::Display) -> ! {
        eprintln!(
            "parallelizer: rank {} of the cluster received {what}: aborting the MPI job \
             (do all ranks run the same build, making the same dispatches?)",
            self.rank
        );
        self.world.abort(ABORT_PROTOCOL)
    }

    fn send_header(&self, rank: usize, tag: Tag, header: &Header) {
        self.comm
            .process_at_rank(rank as Rank)
            .send_with_tag(&header[..], tag);
    }

    /// Rank 0's next header with `tag`, decoded: waits for it, sleeping
    /// between polls, if `wait`, or else is `None` unless it is there.
    fn receive_from_0(&self, tag: Tag, wait: bool) -> Option<Reply> {
        let process = self.comm.process_at_rank(0);
        let mut idle = Idle::default();
        loop {
            if let Some((message, _)) = process.immediate_matched_probe_with_tag(tag) {
                let mut header: Header = [0; HEADER_LEN];
                let status = message.matched_receive_into(&mut header[..]);
                self.check_count(&status, "a reply header");
                return Some(Reply::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad)));
            }
            if !wait {
                return None;
            }
            idle.pause();
        }
    }

    fn check_count(&self, status: &Status, what: &str) {
        if usize::try_from(status.count(u64::equivalent_datatype())).ok() != Some(HEADER_LEN) {
            self.protocol_error(format_args!("{what} of the wrong size"));
        }
    }
}

/// A rank or a size as an index.
pub(super) fn rank_index(rank: Rank) -> usize {
    usize::try_from(rank).expect("MPI ranks and sizes are not negative")
}

fn to_index(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Waits for an MPI request, sleeping between polls.
fn wait_politely(mut request: MpiRequest<'static, ()>) {
    let mut idle = Idle::default();
    loop {
        match request.test() {
            Ok(_) => return,
            Err(pending) => request = pending,
        }
        idle.pause();
    }
}

/// A poll loop's pause: a few yields, then sleeps that double up to 1 ms.
/// A rank that waits thus leaves the cores to the ranks that work (several
/// ranks often share a machine), at the cost of at most a millisecond of
/// latency.
#[derive(Debug, Default)]
pub(super) struct Idle {
    polls: u32,
}

impl Idle {
    const YIELDS: u32 = 16;

    pub(super) fn pause(&mut self) {
        if self.polls < Self::YIELDS {
            thread::yield_now();
        } else {
            let doublings = (self.polls - Self::YIELDS).min(5);
            let pause = Duration::from_micros(50 << doublings).min(Duration::from_millis(1));
            thread::sleep(pause);
        }
        self.polls = self.polls.saturating_add(1);
    }

    pub(super) fn reset(&mut self) {
        self.polls = 0;
    }
}
