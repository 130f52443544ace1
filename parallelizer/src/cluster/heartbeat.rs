//! Heartbeats: how a rank knows, during a dispatch, that the ranks it waits
//! for are still there.
//!
//! Rank 0 and every other rank that has joined a dispatch send each other a
//! heartbeat every [`BEAT_PERIOD`], on the cluster's communicator, from the
//! loops in which they wait anyway; any message from a peer counts as one.
//! A peer silent for longer than the cluster's peer timeout is lost: the
//! dispatch fails with [`Error::ClusterRankLost`].
//!
//! A rank only watches a peer once that peer is known to be in the dispatch
//! (rank 0 watches a rank from its join, a rank watches rank 0 from its
//! first heartbeat or answer of this dispatch): until then the peer may be
//! busy with the program's own work between dispatches, which sends no
//! heartbeats, and waiting for it is a collective call's usual wait.
//!
//! [`Watch`] is the bookkeeping, with no MPI in it, tested here; a
//! [`Heartbeat`] sends and takes the beats through the [`Link`], and waits
//! for the transfers of bytes while it beats.

use std::iter::Peekable;
use std::mem;
use std::slice;
use std::time::{Duration, Instant};

use super::link::{BeatSend, Idle, Link, Transfer, CREDIT_EVERY, CREDIT_WINDOW};
use super::protocol::Beat;
use crate::error::Error;
use mpi::point_to_point::Status;
use mpi::request::{LocalScope, Request as MpiRequest, Scope};

/// How often a rank sends each peer it watches a heartbeat. The peer timeout
/// is at least four periods.
pub(super) const BEAT_PERIOD: Duration = Duration::from_millis(250);

/// How long a transfer that a lost peer stranded may take to let go of its
/// memory once cancelled, before the MPI job is aborted.
const CANCEL_WAIT: Duration = Duration::from_millis(500);

/// The error of a peer silent for `silent_for`.
pub(super) fn lost(rank: usize, silent_for: Duration) -> Error {
    Error::ClusterRankLost { rank, silent_for }
}

/// Which peers a rank watches, when it last heard from each, and when it
/// beats each next.
#[derive(Debug, Clone)]
pub(super) struct Watch {
    timeout: Duration,
    /// By rank: `None` for a peer not watched (this rank, a peer not yet in
    /// the dispatch, or one done with it).
    peers: Vec<Option<Seen>>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    heard: Instant,
    next_beat: Instant,
}

impl Watch {
    pub(super) fn new(size: usize, timeout: Duration) -> Watch {
        Watch {
            timeout,
            peers: vec![None; size],
        }
    }

    /// Starts watching `rank`, heard from `now`, and beats it at once.
    pub(super) fn expect(&mut self, rank: usize, now: Instant) {
        self.peers[rank] = Some(Seen {
            heard: now,
            next_beat: now,
        });
    }

    /// Heard from `rank` `now`: starts watching it if `present` (the message
    /// shows that it is in this dispatch), else only refreshes it if watched.
    pub(super) fn heard(&mut self, rank: usize, now: Instant, present: bool) {
        match &mut self.peers[rank] {
            Some(seen) => seen.heard = seen.heard.max(now),
            None if present => self.expect(rank, now),
            None => {}
        }
    }

    /// Stops watching `rank`: it is done with the dispatch, or lost.
    pub(super) fn release(&mut self, rank: usize) {
        self.peers[rank] = None;
    }

    /// Whether `rank` is watched.
    pub(super) fn watches(&self, rank: usize) -> bool {
        self.peers[rank].is_some()
    }

    /// The watched peers whose heartbeat is due `now`, each then scheduled
    /// a period later.
    pub(super) fn due(&mut self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        for (rank, seen) in self.peers.iter_mut().enumerate() {
            if let Some(seen) = seen.as_mut().filter(|seen| seen.next_beat <= now) {
                seen.next_beat = now + BEAT_PERIOD;
                due.push(rank);
            }
        }
        due
    }

    /// How long `rank` has been silent `now`, if that is longer than the
    /// timeout and it is watched.
    pub(super) fn silent_for(&self, rank: usize, now: Instant) -> Option<Duration> {
        let seen = self.peers[rank]?;
        let silent_for = now.saturating_duration_since(seen.heard);
        (silent_for > self.timeout).then_some(silent_for)
    }

    /// The watched peer silent the longest `now`, if longer than the
    /// timeout, and for how long.
    pub(super) fn silent(&self, now: Instant) -> Option<(usize, Duration)> {
        (0..self.peers.len())
            .filter_map(|rank| Some((rank, self.silent_for(rank, now)?)))
            .max_by_key(|&(rank, silent_for)| (silent_for, usize::MAX - rank))
    }
}

/// A sending rank's count, in one call, of the pieces of bytes it sent rank
/// 0 buffered and of those rank 0 has acknowledged: at most
/// [`CREDIT_WINDOW`] may wait unacknowledged (see `link`).
#[derive(Debug, Clone, Default)]
pub(super) struct Credit {
    sent: usize,
    acknowledged: usize,
}

impl Credit {
    /// Whether one more piece may go.
    pub(super) fn allows_one(&self) -> bool {
        self.sent - self.acknowledged < CREDIT_WINDOW
    }

    pub(super) fn sent_one(&mut self) {
        self.sent += 1;
    }

    /// Rank 0 has received `pieces` of them (credits may come out of order
    /// with the beats, and never count more than were sent).
    pub(super) fn acknowledge(&mut self, pieces: usize) {
        self.acknowledged = self.acknowledged.max(pieces.min(self.sent));
    }
}

/// Rank 0's count, in one call, of the pieces of bytes received from each
/// rank that sends buffered, and when to acknowledge them.
#[derive(Debug, Clone)]
pub(super) struct Acks {
    /// By rank: `None` for a rank that sends directly, which waits for none.
    received: Vec<Option<usize>>,
}

impl Acks {
    /// The counts of the ranks that send buffered: `buffered`, by rank.
    pub(super) fn new(buffered: &[bool]) -> Acks {
        Acks {
            received: buffered.iter().map(|&b| b.then_some(0)).collect(),
        }
    }

    /// One more piece from `rank`, `last` of what was announced (a chunk's
    /// packets, a message): the count to acknowledge now, if any (every
    /// [`CREDIT_EVERY`] pieces, and at the last).
    pub(super) fn received(&mut self, rank: usize, last: bool) -> Option<usize> {
        let received = self.received.get_mut(rank)?.as_mut()?;
        *received += 1;
        (last || *received % CREDIT_EVERY == 0).then_some(*received)
    }
}

/// A rank's heartbeats during one dispatch, and its waits for transfers,
/// during which it keeps beating.
pub(super) struct Heartbeat<'a> {
    pub(super) link: Link<'a>,
    pub(super) watch: Watch,
    /// This dispatch's number, counted from 1 on every rank alike, which
    /// rank 0's beats carry.
    call: u64,
    /// A follower's last beat to rank 0, whose send may not have ended: the
    /// next one waits for it, so beats never pile up behind a dead link.
    sending: &'a mut Option<BeatSend>,
    /// How long a peer may take to show up in this call, if not forever.
    join_timeout: Option<Duration>,
    /// When this rank began the call.
    started: Instant,
    /// On a rank that sends rank 0 buffered: its pieces in this call.
    credit: Credit,
    /// On rank 0: the pieces received in this call from each rank that
    /// sends buffered.
    acks: Acks,
}

/// Pieces of bytes on their way from this rank to rank `to`, which
/// [`Heartbeat::send_step`] moves on.
///
/// To a rank 0 on another node, a rank sends them buffered (see `link`):
/// each send ends at once, and at most a credit window of them wait in
/// MPI's buffer. Otherwise it sends one at a time, non-blocking: through
/// shared memory, where MPI moves a piece of more than 4 KiB in several
/// steps that a buffered send would make slow, and where no link can be
/// cut; and from rank 0, whose messages to a rank are too few to jam a link.
pub(super) struct Outbox<'s, 'b> {
    scope: &'s LocalScope<'b>,
    to: usize,
    pieces: Peekable<slice::Chunks<'b, u8>>,
    /// The non-blocking send under way.
    sending: Option<Transfer<'s, 'b, [u8]>>,
}

/// What a [`Heartbeat::send_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Every piece is sent.
    Done,
    /// A send ended or started.
    Moved,
    /// Nothing could move (a send under way, or no credit): it beat.
    Waiting,
}

impl<'a> Heartbeat<'a> {
    pub(super) fn new(
        link: Link<'a>,
        timeout: Duration,
        call: u64,
        sending: &'a mut Option<BeatSend>,
        join_timeout: Option<Duration>,
    ) -> Self {
        Heartbeat {
            link,
            watch: Watch::new(link.size, timeout),
            call,
            sending,
            join_timeout,
            started: Instant::now(),
            credit: Credit::default(),
            acks: Acks::new(link.buffered_peers),
        }
    }

    /// Sends the heartbeats that are due and takes those that arrived: a
    /// few, so that the call is short.
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        for rank in self.watch.due(now) {
            if self.link.rank == 0 {
                self.link.send_leader_beat(rank, self.call);
            } else {
                self.beat_leader();
            }
        }
        for _ in 0..self.link.size + 8 {
            let Some((from, beat)) = self.link.try_receive_beat() else {
                break;
            };
            match (self.link.rank, beat) {
                (0, Beat::Follower) if from != 0 => self.watch.heard(from, now, false),
                // A beat of an earlier dispatch does not show that rank 0
                // is in this one.
                (rank, Beat::Leader { call }) if rank != 0 && from == 0 => {
                    if call == self.call {
                        self.watch.heard(0, now, true);
                    }
                }
                // A credit of an earlier dispatch came after its end.
                (rank, Beat::Credit { call, pieces }) if rank != 0 && from == 0 => {
                    if call == self.call {
                        self.watch.heard(0, now, true);
                        let pieces = usize::try_from(pieces).unwrap_or(usize::MAX);
                        self.credit.acknowledge(pieces);
                    }
                }
                _ => self
                    .link
                    .protocol_error("a heartbeat from a rank that sends none"),
            }
        }
    }

    /// A follower's beat to rank 0, unless its last one is still on its way.
    fn beat_leader(&mut self) {
        if let Some(sending) = self.sending.take() {
            if let Err(pending) = sending.test() {
                *self.sending = Some(pending);
                return;
            }
        }
        *self.sending = Some(self.link.send_follower_beat());
    }

    /// The error of `rank`, if it is silent for longer than the timeout.
    pub(super) fn check(&self, rank: usize) -> Result<(), Error> {
        match self.watch.silent_for(rank, Instant::now()) {
            Some(silent_for) => Err(lost(rank, silent_for)),
            None => Ok(()),
        }
    }

    /// [`check`](Self::check) for a peer that is watched; for one not yet
    /// known to be in this call (it may be busy with the program's own
    /// work), the error of its absence once the join timeout, if any, has
    /// passed since this rank began the call.
    pub(super) fn check_arrival(&self, rank: usize) -> Result<(), Error> {
        if self.watch.watches(rank) {
            return self.check(rank);
        }
        let waited = self.started.elapsed();
        match self.join_timeout {
            Some(timeout) if waited > timeout => Err(lost(rank, waited)),
            _ => Ok(()),
        }
    }

    /// Waits for `transfer`, with `peer`, to end, beating meanwhile. If the
    /// peer is lost first, gives the transfer up (see
    /// [`abandon`](Self::abandon)) and returns the loss.
    pub(super) fn settle<'b, D: ?Sized, S: Scope<'b>>(
        &mut self,
        mut transfer: MpiRequest<'b, D, S>,
        peer: usize,
        what: &str,
    ) -> Result<Status, Error> {
        let mut idle = Idle::default();
        loop {
            match transfer.test() {
                Ok(status) => return Ok(status),
                Err(pending) => transfer = pending,
            }
            self.tick();
            if let Err(error) = self.check(peer) {
                self.abandon(transfer, &error, what);
                return Err(error);
            }
            idle.pause();
        }
    }

    /// Gives up `transfer`, which `error` (a lost peer) stranded: cancels
    /// it, and waits a moment for MPI to let go of its memory. A receive
    /// whose message had not begun to arrive lets go; one under way, and a
    /// send, may not: the memory is MPI's until the transfer ends, which it
    /// never will, so then the MPI job ends here, `error` printed, rather
    /// than the dispatch return and the memory be reused.
    pub(super) fn abandon<'b, D: ?Sized, S: Scope<'b>>(
        &mut self,
        mut transfer: MpiRequest<'b, D, S>,
        error: &Error,
        what: &str,
    ) {
        transfer.cancel();
        let deadline = Instant::now() + CANCEL_WAIT;
        let mut idle = Idle::default();
        loop {
            match transfer.test() {
                Ok(_) => return,
                Err(pending) => transfer = pending,
            }
            if Instant::now() >= deadline {
                mem::forget(transfer);
                self.link.stranded(error, what);
            }
            idle.pause();
        }
    }

    /// An outbox for `bytes`, to send with [`send_step`](Self::send_step)
    /// in `scope`.
    pub(super) fn outbox<'s, 'b>(
        &self,
        scope: &'s LocalScope<'b>,
        to: usize,
        bytes: &'b [u8],
    ) -> Outbox<'s, 'b> {
        Outbox {
            scope,
            to,
            pieces: bytes.chunks(self.link.max_message).peekable(),
            sending: None,
        }
    }

    /// Moves `outbox` on by a step: ends the send under way, or starts the
    /// next piece's (buffered, if this rank sends rank 0 buffered and rank
    /// 0's credit allows it). When nothing could move, beats, and checks the
    /// receiver's silence: if it is lost, gives the send under way up (see
    /// [`abandon`](Self::abandon), `what` naming it) and returns the loss.
    pub(super) fn send_step(
        &mut self,
        outbox: &mut Outbox<'_, '_>,
        what: &str,
    ) -> Result<Step, Error> {
        let to = outbox.to;
        if let Some(sending) = outbox.sending.take() {
            match sending.test() {
                Ok(_) => return Ok(Step::Moved),
                Err(pending) => outbox.sending = Some(pending),
            }
        } else if let Some(&piece) = outbox.pieces.peek() {
            if to != 0 || !self.link.buffered {
                outbox.sending = Some(self.link.send_piece(outbox.scope, to, piece));
                outbox.pieces.next();
                return Ok(Step::Moved);
            }
            if self.credit.allows_one() {
                self.link.send_buffered_piece(piece);
                self.credit.sent_one();
                outbox.pieces.next();
                return Ok(Step::Moved);
            }
        } else {
            return Ok(Step::Done);
        }
        self.tick();
        // Rank 0 may not be in this call yet (a joining rank's message).
        if let Err(error) = self.check_arrival(to) {
            if let Some(sending) = outbox.sending.take() {
                self.abandon(sending, &error, what);
            }
            return Err(error);
        }
        Ok(Step::Waiting)
    }

    /// On rank 0: one more piece of bytes received from `rank`, `last` of
    /// what was announced: acknowledged as [`Acks`] says.
    pub(super) fn piece_received(&mut self, rank: usize, last: bool) {
        if let Some(pieces) = self.acks.received(rank, last) {
            self.link.send_credit(rank, self.call, pieces);
        }
    }

    /// Sends `bytes` to `rank` in pieces of at most the link's largest
    /// message, after a header that announced them, beating meanwhile.
    pub(super) fn send_bytes(
        &mut self,
        rank: usize,
        bytes: &[u8],
        what: &str,
    ) -> Result<(), Error> {
        mpi::request::scope(|scope: &LocalScope<'_>| {
            let mut outbox = self.outbox(scope, rank, bytes);
            let mut idle = Idle::default();
            loop {
                match self.send_step(&mut outbox, what)? {
                    Step::Done => return Ok(()),
                    Step::Moved => idle.reset(),
                    Step::Waiting => idle.pause(),
                }
            }
        })
    }

    /// Receives the `len` bytes of UTF-8 that `rank` sends after a header,
    /// in pieces of whatever size, beating meanwhile.
    pub(super) fn receive_text(
        &mut self,
        rank: usize,
        len: usize,
        what: &str,
    ) -> Result<String, Error> {
        let mut bytes = vec![0; len];
        mpi::request::scope(|scope: &LocalScope<'_>| {
            let mut rest = &mut bytes[..];
            let mut idle = Idle::default();
            while !rest.is_empty() {
                let Some((message, len)) = self.link.try_probe_piece(rank) else {
                    self.tick();
                    self.check(rank)?;
                    idle.pause();
                    continue;
                };
                if len == 0 || len > rest.len() {
                    self.link
                        .protocol_error("a piece of bytes larger than what it belongs to");
                }
                let (piece, tail) = mem::take(&mut rest).split_at_mut(len);
                let transfer = self.link.receive_piece(scope, message, piece);
                self.settle(transfer, rank, what)?;
                if self.link.rank == 0 {
                    self.piece_received(rank, tail.is_empty());
                }
                rest = tail;
                idle.reset();
            }
            Ok::<(), Error>(())
        })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(2);

    #[test]
    fn a_full_window_waits_for_credit() {
        let mut credit = Credit::default();
        for _ in 0..CREDIT_WINDOW {
            assert!(credit.allows_one());
            credit.sent_one();
        }
        assert!(!credit.allows_one(), "a window of pieces on their way");
        credit.acknowledge(CREDIT_EVERY);
        for _ in 0..CREDIT_EVERY {
            assert!(credit.allows_one());
            credit.sent_one();
        }
        assert!(!credit.allows_one());
    }

    #[test]
    fn credits_never_go_back_nor_beyond_what_was_sent() {
        let mut credit = Credit::default();
        for _ in 0..CREDIT_WINDOW {
            credit.sent_one();
        }
        credit.acknowledge(16);
        credit.acknowledge(8);
        assert_eq!(credit.acknowledged, 16, "a late credit counts no less");
        credit.acknowledge(usize::MAX);
        assert_eq!(credit.acknowledged, CREDIT_WINDOW);
        assert!(credit.allows_one());
    }

    #[test]
    fn rank_0_acknowledges_every_few_pieces_and_the_last() {
        let mut acks = Acks::new(&[false, true, false]);
        let credits: Vec<Option<usize>> = (1..=2 * CREDIT_EVERY)
            .map(|piece| acks.received(1, piece == CREDIT_EVERY + 3))
            .collect();
        let sent: Vec<usize> = credits.iter().flatten().copied().collect();
        assert_eq!(sent, [CREDIT_EVERY, CREDIT_EVERY + 3, 2 * CREDIT_EVERY]);
        // A rank that sends directly waits for no credit, nor rank 0.
        assert_eq!(acks.received(2, true), None);
        assert_eq!(acks.received(0, true), None);
    }

    #[test]
    fn a_peer_is_watched_from_when_it_is_known_to_be_there() {
        let start = Instant::now();
        let mut watch = Watch::new(3, TIMEOUT);
        // Heard, but not known to be in the dispatch: not watched.
        watch.heard(1, start, false);
        assert!(!watch.watches(1));
        assert_eq!(watch.silent(start + TIMEOUT * 10), None);
        watch.heard(1, start, true);
        assert!(watch.watches(1));
        assert_eq!(watch.silent_for(1, start + TIMEOUT), None);
        let later = start + TIMEOUT + Duration::from_millis(1);
        assert_eq!(
            watch.silent_for(1, later),
            Some(TIMEOUT + Duration::from_millis(1))
        );
        assert_eq!(
            watch.silent(later),
            Some((1, TIMEOUT + Duration::from_millis(1)))
        );
        watch.release(1);
        assert_eq!(watch.silent(later), None);
    }

    #[test]
    fn hearing_from_a_peer_keeps_it_alive() {
        let start = Instant::now();
        let mut watch = Watch::new(2, TIMEOUT);
        watch.expect(1, start);
        for step in 1..100 {
            let now = start + BEAT_PERIOD * step;
            watch.heard(1, now, false);
            assert_eq!(watch.silent(now + TIMEOUT), None);
        }
        // A late message does not move the last heard back.
        watch.heard(1, start, false);
        assert_eq!(watch.silent(start + BEAT_PERIOD * 99 + TIMEOUT), None);
    }

    #[test]
    fn the_longest_silent_peer_is_lost_first() {
        let start = Instant::now();
        let mut watch = Watch::new(4, TIMEOUT);
        watch.expect(1, start + Duration::from_millis(300));
        watch.expect(2, start);
        watch.expect(3, start);
        let later = start + TIMEOUT * 2;
        // Ranks 2 and 3 were silent as long: the lower one is named.
        assert_eq!(watch.silent(later), Some((2, TIMEOUT * 2)));
        watch.release(2);
        assert_eq!(watch.silent(later), Some((3, TIMEOUT * 2)));
        watch.release(3);
        assert_eq!(
            watch.silent(later),
            Some((1, TIMEOUT * 2 - Duration::from_millis(300)))
        );
    }

    #[test]
    fn beats_are_due_once_a_period_to_watched_peers() {
        let start = Instant::now();
        let mut watch = Watch::new(4, TIMEOUT);
        assert!(watch.due(start).is_empty());
        watch.expect(3, start);
        watch.expect(1, start);
        assert_eq!(watch.due(start), [1, 3]);
        assert!(watch.due(start + BEAT_PERIOD / 2).is_empty());
        assert_eq!(watch.due(start + BEAT_PERIOD), [1, 3]);
        watch.release(1);
        assert_eq!(watch.due(start + BEAT_PERIOD * 3), [3]);
    }
}
