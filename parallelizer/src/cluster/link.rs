//! The cluster's messages on MPI: the [`protocol`](super::protocol)'s
//! headers sent and received on the cluster's own communicator, the bytes
//! that follow them in pieces, and the polite polling that every wait uses.
//!
//! The only file of the cluster, with the public API's few calls, that
//! talks MPI: the leader, the follower and the heartbeat send and receive
//! typed messages through a [`Link`], and a message that breaks the protocol
//! ends the MPI job here.
//!
//! Nothing here waits for another rank, but [`Link::connect`] and
//! [`leader_elsewhere`], which `Cluster::init` calls, every rank with it.
//! Headers and heartbeats are a few dozen bytes, which MPI sends at once
//! (eagerly) whatever the receiver does; the bytes that follow a header
//! travel as non-blocking operations that the caller polls, between
//! heartbeats, until they end or their peer is lost, or as buffered sends,
//! which end at once. Those bytes go in pieces of at most [`WHOLE_PIECE`],
//! which the network transport also sends eagerly: a piece that a receiver
//! can probe has arrived whole, so receiving it never waits for the
//! network, and a peer lost mid-transfer strands no receive (see
//! [`WHOLE_PIECE`]).
//!
//! A rank on another node than rank 0 sends to rank 0 through MPI's buffer
//! for buffered sends (`MPI_Bsend`), which the cluster attaches there,
//! [`SEND_BUFFER`] bytes: such a send copies the bytes there and ends at
//! once, so a rank cut off from rank 0 is never stuck in a send behind a
//! dead link, and goes on to notice rank 0's silence. Rank 0 acknowledges
//! the pieces it receives with credits, so that at most [`CREDIT_WINDOW`]
//! pieces wait in that buffer.

use std::fmt;
use std::thread;
use std::time::Duration;

use super::protocol::{Beat, Header, Hello, Reply, Request, FOLLOWER_BEAT, HEADER_LEN};
use super::protocol::{TAG_BEAT, TAG_CANCEL, TAG_DATA, TAG_HELLO, TAG_REPLY, TAG_REQUEST};
use crate::error::Error;
use mpi::collective::SystemOperation;
use mpi::point_to_point::{Message, Status};
use mpi::request::{LocalScope, Request as MpiRequest, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::Source;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Equivalence};
use mpi::{Rank, Tag};

/// The exit code of an MPI job aborted because a message broke the protocol.
const ABORT_PROTOCOL: i32 = 70;

/// The exit code of an MPI job aborted because a rank stopped answering.
pub(super) const ABORT_RANK_LOST: i32 = 69;

/// The largest piece of bytes a rank sends, whatever the cluster's largest
/// message: 60 KiB, under the 64 KiB (header included) up to which Open
/// MPI's TCP transport sends a message eagerly, in one fragment.
///
/// Why: a receive that has begun cannot be given up (MPI keeps its memory
/// until it ends, and rsmpi will not let it go without `unsafe`), so a peer
/// lost while a large message crossed the network used to leave rank 0 no
/// way out but to abort the MPI job. An eager message is matched, and
/// probed, only once its last byte is in: rank 0 starts receiving a piece
/// only once the piece is here, and the receive ends at once. Transports
/// with a smaller eager limit (Open MPI's shared memory: 4 KiB, which reads
/// the sender's memory directly instead) keep the last resort of aborting.
pub(super) const WHOLE_PIECE: usize = 60 << 10;

/// How many pieces a rank may send rank 0 beyond those rank 0 has
/// acknowledged: 32 pieces, 1.9 MiB, enough to keep a 10 Gbit/s link busy
/// over a round trip of 1.5 ms.
pub(super) const CREDIT_WINDOW: usize = 32;

/// Rank 0 acknowledges a rank's pieces every this many.
pub(super) const CREDIT_EVERY: usize = 8;
const _: () = assert!(CREDIT_EVERY < CREDIT_WINDOW);

/// The most a buffered send takes in MPI's buffer beyond its bytes
/// (`MPI_BSEND_OVERHEAD` is 128 bytes in Open MPI, other MPIs differ).
const BSEND_OVERHEAD: usize = 1 << 10;

/// The size of MPI's buffer for buffered sends that the cluster attaches:
/// twice what a rank can have on its way to rank 0 (a window of pieces, and
/// a header for each and a few more), so that a buffered send always finds
/// room however the buffer is cut up.
pub(super) const SEND_BUFFER: usize =
    2 * (CREDIT_WINDOW * (WHOLE_PIECE + BSEND_OVERHEAD) + (CREDIT_WINDOW + 16) * BSEND_OVERHEAD);

/// A non-blocking send or receive of bytes in a dispatch's scope.
pub(super) type Transfer<'s, 'b, D> = MpiRequest<'b, D, &'s LocalScope<'b>>;

/// A follower's heartbeat on its way: its bytes are a `static`, so the
/// request can outlive a dispatch, or be given up.
pub(super) type BeatSend = MpiRequest<'static, Header>;

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
    /// The largest piece of bytes this rank sends: the cluster's largest
    /// message, at most [`WHOLE_PIECE`].
    pub(super) max_message: usize,
    /// This rank sends rank 0 buffered: it is on another node.
    pub(super) buffered: bool,
    /// On rank 0: which ranks send it buffered, and so wait for its credits.
    pub(super) buffered_peers: &'a [bool],
}

impl<'a> Link<'a> {
    pub(super) fn new(
        comm: &'a SimpleCommunicator,
        world: &'a SimpleCommunicator,
        max_message: usize,
        buffered: bool,
        buffered_peers: &'a [bool],
    ) -> Self {
        Link {
            comm,
            world,
            rank: rank_index(comm.rank()),
            size: rank_index(comm.size()),
            max_message: max_message.min(WHOLE_PIECE),
            buffered,
            buffered_peers,
        }
    }

    /// Opens the connection between rank 0 and every other rank, with a
    /// hello each way: at `Cluster::init`, which every rank calls anyway.
    ///
    /// MPI opens a connection at its first message, and opening it needs
    /// both ends: a rank whose first message reached a rank 0 busy with the
    /// program's own work would spin in that send (even a buffered one)
    /// until rank 0 next called MPI, taking a core from the ranks that work.
    ///
    /// Returns, on rank 0, which ranks send it buffered (by rank); on the
    /// others, nothing.
    pub(super) fn connect(&self) -> Vec<bool> {
        if self.rank != 0 {
            let hello = Hello {
                buffered: self.buffered,
            };
            self.send_header(0, TAG_HELLO, &hello.encode());
            self.receive_hello(self.comm.process_at_rank(0));
            return Vec::new();
        }
        let mut buffered = vec![None; self.size];
        buffered[0] = Some(false);
        for _ in 1..self.size {
            let (from, hello) = self.receive_hello(self.comm.any_process());
            if buffered[from].replace(hello.buffered).is_some() {
                self.protocol_error("a second hello from a rank");
            }
        }
        for rank in 1..self.size {
            self.send_header(rank, TAG_HELLO, &Hello { buffered: false }.encode());
        }
        buffered
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    }

    /// The next hello from `source`, and its sender; waits for it.
    fn receive_hello(&self, source: impl Source) -> (usize, Hello) {
        let mut header: Header = [0; HEADER_LEN];
        let status = source.receive_into_with_tag(&mut header[..], TAG_HELLO);
        self.check_count(&status);
        let hello = Hello::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad));
        (rank_index(status.source_rank()), hello)
    }

    /// Sends `request` to rank 0; buffered if this rank sends buffered, so
    /// that the send ends at once even behind a dead link.
    pub(super) fn send_request(&self, request: &Request) {
        let header = request.encode();
        if self.buffered {
            self.comm
                .process_at_rank(0)
                .buffered_send_with_tag(&header[..], TAG_REQUEST);
        } else {
            self.send_header(0, TAG_REQUEST, &header);
        }
    }

    /// The next request from any rank, if one has arrived, and its sender.
    pub(super) fn try_receive_request(&self) -> Option<(usize, Request)> {
        let (from, header) = self.try_receive_header(self.comm.any_process(), TAG_REQUEST)?;
        let request = Request::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad));
        Some((from, request))
    }

    /// The next request from `rank`, if one has arrived.
    pub(super) fn try_receive_request_from(&self, rank: usize) -> Option<Request> {
        let (_, header) =
            self.try_receive_header(self.comm.process_at_rank(rank as Rank), TAG_REQUEST)?;
        Some(Request::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad)))
    }

    /// Sends `reply` to `rank`, on the reply's tag.
    pub(super) fn send_reply(&self, rank: usize, reply: &Reply) {
        self.send_header(rank, reply.tag(), &reply.encode());
    }

    /// Rank 0's next answer, if it has arrived.
    pub(super) fn try_receive_reply(&self) -> Option<Reply> {
        let (_, header) = self.try_receive_header(self.comm.process_at_rank(0), TAG_REPLY)?;
        Some(Reply::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad)))
    }

    /// Takes rank 0's cancel, if it has arrived: whether it had.
    pub(super) fn try_take_cancel(&self) -> bool {
        let Some((_, header)) = self.try_receive_header(self.comm.process_at_rank(0), TAG_CANCEL)
        else {
            return false;
        };
        match Reply::decode(&header) {
            Ok(Reply::Cancel) => true,
            Ok(_) => self.protocol_error("a reply among the cancels"),
            Err(bad) => self.protocol_error(bad),
        }
    }

    /// Sends rank 0's heartbeat to `rank`.
    pub(super) fn send_leader_beat(&self, rank: usize, call: u64) {
        self.send_header(rank, TAG_BEAT, &Beat::Leader { call }.encode());
    }

    /// Tells `rank` that rank 0 has received `pieces` of its pieces of bytes
    /// in dispatch number `call`.
    pub(super) fn send_credit(&self, rank: usize, call: u64, pieces: usize) {
        let credit = Beat::Credit {
            call,
            pieces: pieces as u64,
        };
        self.send_header(rank, TAG_BEAT, &credit.encode());
    }

    /// Starts sending this rank's heartbeat to rank 0, without waiting for
    /// the send to end.
    pub(super) fn send_follower_beat(&self) -> BeatSend {
        self.comm
            .process_at_rank(0)
            .immediate_send_with_tag(StaticScope, &FOLLOWER_BEAT, TAG_BEAT)
    }

    /// The next heartbeat from any rank, if one has arrived, and its sender.
    pub(super) fn try_receive_beat(&self) -> Option<(usize, Beat)> {
        let (from, header) = self.try_receive_header(self.comm.any_process(), TAG_BEAT)?;
        let beat = Beat::decode(&header).unwrap_or_else(|bad| self.protocol_error(bad));
        Some((from, beat))
    }

    /// Sends `piece` to rank 0, after a header, buffered: the send ends at
    /// once. Only for a rank that sends buffered, within rank 0's credit.
    pub(super) fn send_buffered_piece(&self, piece: &[u8]) {
        self.comm
            .process_at_rank(0)
            .buffered_send_with_tag(piece, TAG_DATA);
    }

    /// Starts sending `piece` to `rank`, after a header.
    pub(super) fn send_piece<'s, 'b>(
        &self,
        scope: &'s LocalScope<'b>,
        rank: usize,
        piece: &'b [u8],
    ) -> Transfer<'s, 'b, [u8]> {
        self.comm
            .process_at_rank(rank as Rank)
            .immediate_send_with_tag(scope, piece, TAG_DATA)
    }

    /// The next piece of bytes from `rank`, if it has arrived: the message,
    /// to receive, and its length.
    pub(super) fn try_probe_piece(&self, rank: usize) -> Option<(Message, usize)> {
        let (message, status) = self
            .comm
            .process_at_rank(rank as Rank)
            .immediate_matched_probe_with_tag(TAG_DATA)?;
        let len = usize::try_from(status.count(u8::equivalent_datatype())).unwrap_or(0);
        Some((message, len))
    }

    /// Starts receiving `message`, a piece probed with
    /// [`try_probe_piece`](Self::try_probe_piece), into `piece`, which must
    /// be as long as the message.
    pub(super) fn receive_piece<'s, 'b>(
        &self,
        scope: &'s LocalScope<'b>,
        message: Message,
        piece: &'b mut [u8],
    ) -> Transfer<'s, 'b, [u8]> {
        message.immediate_matched_receive_into(scope, piece)
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

    /// Ends the MPI job: `error` (a lost rank) stranded `what`, a transfer
    /// that MPI still holds the memory of, so the dispatch cannot return.
    pub(super) fn stranded(&self, error: &Error, what: impl fmt::Display) -> ! {
        eprintln!(
            "parallelizer: rank {}: {error}; {what} was under way and MPI keeps its memory, so \
             the dispatch cannot return: aborting the MPI job",
            self.rank
        );
        self.world.abort(ABORT_RANK_LOST)
    }

    fn send_header(&self, rank: usize, tag: Tag, header: &Header) {
        self.comm
            .process_at_rank(rank as Rank)
            .send_with_tag(&header[..], tag);
    }

    /// The next header with `tag` from `source`, if one has arrived, and its
    /// sender.
    fn try_receive_header(&self, source: impl Source, tag: Tag) -> Option<(usize, Header)> {
        let (message, status) = source.immediate_matched_probe_with_tag(tag)?;
        let from = rank_index(status.source_rank());
        let mut header: Header = [0; HEADER_LEN];
        let status = message.matched_receive_into(&mut header[..]);
        self.check_count(&status);
        Some((from, header))
    }

    fn check_count(&self, status: &Status) {
        if usize::try_from(status.count(u64::equivalent_datatype())).ok() != Some(HEADER_LEN) {
            self.protocol_error("a header of the wrong size");
        }
    }
}

/// Whether this rank of `world` is on another node than rank 0 (they share
/// no memory): a collective call, made at `Cluster::init`.
pub(super) fn leader_elsewhere(world: &SimpleCommunicator) -> bool {
    let node = world.split_shared(world.rank());
    let mut lowest: Rank = 0;
    node.all_reduce_into(&world.rank(), &mut lowest, SystemOperation::min());
    lowest != 0
}

/// A rank or a size as an index.
pub(super) fn rank_index(rank: Rank) -> usize {
    usize::try_from(rank).expect("MPI ranks and sizes are not negative")
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
