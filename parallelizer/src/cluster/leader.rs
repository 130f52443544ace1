//! Rank 0's side of a dispatch: it gathers every rank's call and says
//! whether the dispatch can run, hands out chunks to whichever rank asks,
//! itself included, receives each chunk's packets straight into its slot of
//! the merged buffer, several ranks' at once, and once the job has failed
//! stops every running chunk and tells every rank why.
//!
//! A [`Leader`] is the dispatch's state on rank 0, and each thing that can
//! happen to it is one method: its own chunk finished, a request arrived
//! (and which), a piece of packets arrived, a rank fell silent, the job
//! failed, the job is over. Its loop only polls for these events, beating
//! and sleeping when none came.

use std::collections::VecDeque;
use std::mem;
use std::ops::Range;
use std::time::Instant;

use super::heartbeat::{lost, Heartbeat};
use super::link::{Idle, Transfer};
use super::protocol::{clip, Call, Cause, Failure, Reply, Request};
use super::share::{Running, Share};
use crate::error::Error;
use crate::task::Worker;
use mpi::request::LocalScope;

/// Rank 0's side of the start of a dispatch: waits for every rank to join
/// with its call (rank 0's own is `call`, and `own` is why it cannot take
/// part, if it cannot), and tells every rank whether the dispatch of task
/// `task` runs. `Ok` if it does. The error of a rank that cannot take part
/// reaches every rank as [`Error::ClusterRankFailed`].
///
/// A rank is waited for until it joins (it may be busy with the program's
/// own work) for as long as the cluster's join timeout, by default without a
/// time limit, and from then on watched.
pub(super) fn start(
    heart: &mut Heartbeat<'_>,
    call: &Call,
    own: Option<&Error>,
    task: &'static str,
) -> Result<(), Error> {
    let size = heart.link.size;
    let mut calls = vec![None; size];
    let mut messages = vec![String::new(); size];
    calls[0] = Some(call.clone());
    messages[0] = own.map(|error| clip(error.to_string())).unwrap_or_default();
    let mut joined = 1;
    let mut idle = Idle::default();
    while joined < size {
        heart.tick();
        let mut busy = false;
        for _ in 0..size {
            let Some((from, request)) = heart.link.try_receive_request() else {
                break;
            };
            busy = true;
            let Request::Join { call, len } = request else {
                heart
                    .link
                    .protocol_error("a request from a rank that has not joined the dispatch");
            };
            if from == 0 || calls[from].is_some() {
                heart
                    .link
                    .protocol_error("a rank that joins a dispatch twice");
            }
            heart.watch.expect(from, Instant::now());
            if len > 0 {
                match heart.receive_text(from, len, "a rank's message") {
                    Ok(text) => messages[from] = text,
                    Err(error) => return Err(tell_joined(heart, error)),
                }
            }
            calls[from] = Some(call);
            joined += 1;
        }
        if let Some((rank, silent_for)) = heart.watch.silent(Instant::now()) {
            return Err(tell_joined(heart, lost(rank, silent_for)));
        }
        // A rank that has not joined within the join timeout, if one is set.
        if let Some(rank) = (1..size).find(|&rank| calls[rank].is_none()) {
            if let Err(error) = heart.check_arrival(rank) {
                return Err(tell_joined(heart, error));
            }
        }
        if busy {
            idle.reset();
        } else {
            idle.pause();
        }
    }

    let calls: Vec<Call> = calls.into_iter().flatten().collect();
    for (rank, theirs) in calls.iter().enumerate().skip(1) {
        if let Some((what, expected, found)) = calls[0].difference(theirs) {
            let reply = Reply::Mismatch {
                rank,
                what,
                expected,
                found,
            };
            for to in 1..size {
                heart.link.send_reply(to, &reply);
            }
            return Err(Error::ClusterMismatch {
                task,
                rank,
                what,
                expected,
                found,
            });
        }
    }
    // The lowest rank that cannot take part tells everyone why.
    let Some(failed) = calls.iter().position(|call| call.failed) else {
        return Ok(());
    };
    let error = Error::ClusterRankFailed {
        task,
        rank: failed,
        message: mem::take(&mut messages[failed]),
    };
    Err(tell_joined(heart, error))
}

/// Tells every rank that joined the dispatch and is still watched that it
/// failed with `error`, and returns the error: `error`, or the loss of a
/// rank that fell silent meanwhile.
fn tell_joined(heart: &mut Heartbeat<'_>, error: Error) -> Error {
    if let Error::ClusterRankLost { rank, .. } = error {
        heart.watch.release(rank);
    }
    match end(heart, Some(&error)) {
        Ok(()) => error,
        Err(lost) => lost,
    }
}

/// Gives every rank that joined the dispatch and still waits for it (is
/// watched) its last answer: that the job finished, or that it failed with
/// `failure`. `Ok`, or the loss of a rank that fell silent meanwhile.
pub(super) fn end(heart: &mut Heartbeat<'_>, failure: Option<&Error>) -> Result<(), Error> {
    let mut outcome = Ok(());
    for rank in 1..heart.link.size {
        if heart.watch.watches(rank) {
            let error = outcome.as_ref().err().or(failure);
            if let Err(lost) = send_end(heart, rank, error, false) {
                outcome = Err(lost);
            }
            heart.watch.release(rank);
        }
    }
    outcome
}

/// Rank 0's side of a barrier (`call`, which names no task: `task` is the
/// name its errors give): waits for every rank to join, as at the start of a
/// dispatch, then releases them all.
pub(super) fn barrier(
    heart: &mut Heartbeat<'_>,
    call: &Call,
    task: &'static str,
) -> Result<(), Error> {
    start(heart, call, None, task)?;
    release_barrier(heart)
}

/// Rank 0's end of a barrier that every rank joined: tells every rank to go
/// on, and returns once each has said it does ([`Request::Released`]), or
/// with the loss of a rank that fell silent first.
///
/// Waiting for them makes the ranks leave together, within a poll: rank 0
/// would otherwise leave first, up to a sleep of the others' polls ahead,
/// and wait for them at the start of whatever follows, its polls asleep in
/// turn by then.
fn release_barrier(heart: &mut Heartbeat<'_>) -> Result<(), Error> {
    let size = heart.link.size;
    for rank in 1..size {
        heart.link.send_reply(rank, &Reply::Finished);
    }
    // Each rank's own next request: one that has left may already have
    // joined the next call.
    let mut waiting: Vec<usize> = (1..size).collect();
    let mut idle = Idle::default();
    while !waiting.is_empty() {
        heart.tick();
        let before = waiting.len();
        waiting.retain(|&rank| match heart.link.try_receive_request_from(rank) {
            None => true,
            Some(Request::Released) => {
                heart.watch.release(rank);
                false
            }
            Some(_) => heart
                .link
                .protocol_error("a request in a barrier from a rank it had not released"),
        });
        for &rank in &waiting {
            heart.check(rank)?;
        }
        if waiting.len() < before {
            idle.reset();
        } else {
            idle.pause();
        }
    }
    Ok(())
}

/// Gives `rank` its last answer of the dispatch: the job's failure, or that
/// it finished.
fn send_end(
    heart: &mut Heartbeat<'_>,
    rank: usize,
    failure: Option<&Error>,
    cancel_sent: bool,
) -> Result<(), Error> {
    let Some(error) = failure else {
        heart.link.send_reply(rank, &Reply::Finished);
        return Ok(());
    };
    let (failure, message) = Failure::of(error);
    heart.link.send_reply(
        rank,
        &Reply::Failed {
            failure,
            cancel_sent,
        },
    );
    heart.send_bytes(
        rank,
        message.as_bytes(),
        "the message of the dispatch's failure",
    )
}

/// Rank 0's side of a dispatch that every rank joined: the merged packets of
/// every chunk in `bytes`, or the first failure (the loss of a rank before
/// any other).
pub(super) fn lead<T: Worker>(
    heart: &mut Heartbeat<'_>,
    job: Share<'_, T>,
    bytes: &mut [u8],
) -> Result<(), Error> {
    mpi::request::scope(|scope| Leader::new(heart, job, scope, bytes, 0, true).run())
}

/// Rank 0's side of a window of a dispatch that every rank joined: `job`
/// hands out the window's batches only, whose packets land in `bytes`, the
/// window's results. Once they are all in, the window ends with no word to
/// the other ranks, which wait for the next window's chunks or for
/// [`end`]. If the job fails, every rank learns it, as in [`lead`].
pub(super) fn lead_window<T: Worker>(
    heart: &mut Heartbeat<'_>,
    job: Share<'_, T>,
    first_id: usize,
    bytes: &mut [u8],
) -> Result<(), Error> {
    let base = first_id * T::PACKET_SIZE;
    mpi::request::scope(|scope| Leader::new(heart, job, scope, bytes, base, false).run())
}

/// What rank 0 knows of another rank during a dispatch.
#[derive(Default)]
struct Peer<'s, 'b> {
    /// The batches it is running, and their slot in the results.
    chunk: Option<(Range<usize>, &'b mut [u8])>,
    /// The packets of the chunks it returned, on their way into their slots,
    /// in the order it sent them: a rank that sent a chunk's packets may run
    /// and return its next chunk before rank 0 has received them all.
    incoming: VecDeque<Incoming<'s, 'b>>,
    /// It has had its last answer, or is lost.
    ended: bool,
    /// It stopped answering: whatever it may still send is ignored.
    lost: bool,
    /// It was sent a cancel during this dispatch.
    cancel_sent: bool,
}

/// The packets of a returned chunk, arriving in pieces.
struct Incoming<'s, 'b> {
    /// The part of the chunk's slot that no piece has filled yet.
    rest: &'b mut [u8],
    /// The piece being received.
    piece: Option<Transfer<'s, 'b, [u8]>>,
}

/// This rank's own chunk, running on its pool, and its slot.
struct Local<'b, T: Worker> {
    slot: &'b mut [u8],
    run: Running<T>,
}

/// A dispatch on rank 0.
struct Leader<'h, 'l, 'c, 's, 'b, T: Worker> {
    heart: &'h mut Heartbeat<'l>,
    job: Share<'c, T>,
    /// The scope of every receive of packets: no receive outlives the
    /// dispatch.
    scope: &'s LocalScope<'b>,
    /// The part of the results buffer that no chunk has taken yet: chunks
    /// are handed out in order, so each takes the slot at its front.
    rest: &'b mut [u8],
    /// Bytes of the results buffer taken so far.
    taken: usize,
    /// Every rank, by rank; rank 0 is this one, and never waits for answers.
    peers: Vec<Peer<'s, 'b>>,
    /// The first failure, after which no chunk starts.
    failure: Option<Error>,
    /// The first rank lost, which is the dispatch's outcome whatever else
    /// failed.
    lost: Option<Error>,
    /// This rank's own chunk.
    local: Option<Local<'b, T>>,
    /// Whether the job's end is this dispatch's: else the leader runs a
    /// window of it, and its end is told by [`end`].
    concludes: bool,
    /// The window's batches are all in, and the job has not failed.
    window_done: bool,
}

impl<'h, 'l, 'c, 's, 'b, T: Worker> Leader<'h, 'l, 'c, 's, 'b, T> {
    fn new(
        heart: &'h mut Heartbeat<'l>,
        job: Share<'c, T>,
        scope: &'s LocalScope<'b>,
        bytes: &'b mut [u8],
        base: usize,
        concludes: bool,
    ) -> Self {
        let mut peers: Vec<Peer<'s, 'b>> = (0..heart.link.size).map(|_| Peer::default()).collect();
        peers[0].ended = true;
        Leader {
            heart,
            job,
            scope,
            rest: bytes,
            taken: base,
            peers,
            failure: None,
            lost: None,
            local: None,
            concludes,
            window_done: false,
        }
    }

    /// Runs the dispatch until every rank has had its last answer (or is
    /// lost), every packet is in, and this rank's chunk has stopped.
    fn run(mut self) -> Result<(), Error> {
        for rank in 1..self.peers.len() {
            self.answer(rank);
        }
        let mut idle = Idle::default();
        while !self.window_done
            && (self.local.is_some() || !self.peers.iter().all(|peer| peer.ended))
        {
            self.heart.tick();
            let mut busy = self.local_chunk();
            busy |= self.take_requests();
            busy |= self.receive_packets();
            self.check_silence();
            self.release();
            if busy {
                idle.reset();
            } else {
                idle.pause();
            }
        }
        match self.lost.or(self.failure) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// This rank's chunk: if it finished, its packets go to their slot, or
    /// its error fails the job; then it takes the next one, if it has none
    /// and the job has not failed. Whether anything happened.
    fn local_chunk(&mut self) -> bool {
        let mut busy = false;
        if self
            .local
            .as_ref()
            .is_some_and(|local| local.run.is_finished())
        {
            let Local { slot, run } = self.local.take().expect("a chunk that finished");
            match run.wait() {
                Ok(results) => slot.copy_from_slice(results.as_bytes()),
                Err(error) => self.job_failed(self.job.chunk_error(0, error)),
            }
            busy = true;
        }
        if self.local.is_none() && self.failure.is_none() {
            if let Some(batches) = self.job.plan.take() {
                let slot = self.take_slot(&batches);
                let run = self.job.spawn(&batches);
                self.local = Some(Local { slot, run });
                busy = true;
            }
        }
        busy
    }

    /// Takes the requests that arrived, a bounded number. Whether any did.
    fn take_requests(&mut self) -> bool {
        for taken in 0..self.peers.len() {
            let Some((from, request)) = self.heart.link.try_receive_request() else {
                return taken > 0;
            };
            self.request_arrived(from, request);
        }
        true
    }

    /// A request from rank `from` arrived: it returns its chunk, and is
    /// answered at once, while the chunk's packets arrive.
    fn request_arrived(&mut self, from: usize, request: Request) {
        if self.peers.get(from).is_some_and(|peer| peer.lost) {
            // A rank taken for lost that was only slow (a frozen process
            // woken up): too late, the dispatch has failed without it.
            return;
        }
        if from == 0 || from >= self.peers.len() || self.peers[from].ended {
            self.heart
                .link
                .protocol_error("a request from a rank that has no dispatch running");
        }
        self.heart.watch.heard(from, Instant::now(), false);
        match request {
            Request::Join { .. } => self
                .heart
                .link
                .protocol_error("a rank that joins a dispatch twice"),
            Request::Done { batches } => self.chunk_done(from, &batches),
            Request::Failed(failure) => {
                if !self.chunk_failed(from, failure) {
                    return;
                }
            }
            Request::Cancelled => self.chunk_cancelled(from),
            Request::Released => self
                .heart
                .link
                .protocol_error("a barrier's release in a dispatch"),
        }
        self.answer(from);
    }

    /// Rank `from` ran `batches`: their packets follow, into their slot.
    fn chunk_done(&mut self, from: usize, batches: &Range<usize>) {
        let (chunk, slot) = self.take_chunk(from);
        if chunk != *batches {
            self.heart
                .link
                .protocol_error("a rank returned another chunk than its own");
        }
        self.peers[from].incoming.push_back(Incoming {
            rest: slot,
            piece: None,
        });
    }

    /// Rank `from`'s chunk failed: its message follows, and the job fails.
    /// Whether the rank is still there to answer.
    fn chunk_failed(&mut self, from: usize, failure: Failure) -> bool {
        self.take_chunk(from);
        if failure.rank != from {
            self.heart
                .link
                .protocol_error("a rank's failure that names another rank");
        }
        if matches!(failure.cause, Cause::RankLost { .. }) {
            self.heart
                .link
                .protocol_error("a rank's chunk that failed with a lost rank");
        }
        let len = failure.len;
        let message = self
            .receive_all_pieces(from)
            .and_then(|()| self.heart.receive_text(from, len, "a chunk's failure"));
        match message {
            Ok(message) => {
                self.job_failed(failure.into_error(T::NAME, message));
                true
            }
            Err(error) => {
                self.peer_lost(from, error);
                false
            }
        }
    }

    /// Rank `from`'s chunk stopped at the cancel it was sent.
    fn chunk_cancelled(&mut self, from: usize) {
        self.take_chunk(from);
        if !self.peers[from].cancel_sent {
            self.heart
                .link
                .protocol_error("a chunk cancelled without a cancel");
        }
    }

    /// Moves the pieces of packets on: takes those received, and starts
    /// receiving each rank's next one that has arrived. Whether anything
    /// happened.
    fn receive_packets(&mut self) -> bool {
        let mut busy = false;
        for rank in 1..self.peers.len() {
            busy |= self.receive_pieces(rank);
        }
        busy
    }

    /// [`receive_packets`](Self::receive_packets) from `rank`: its pieces
    /// arrive in the order it sent them, and fill its returned chunks in
    /// that order. Whether anything happened.
    fn receive_pieces(&mut self, rank: usize) -> bool {
        let Some(incoming) = self.peers[rank].incoming.front_mut() else {
            return false;
        };
        let mut busy = false;
        if let Some(piece) = incoming.piece.take() {
            match piece.test() {
                Ok(_) => {
                    self.heart.watch.heard(rank, Instant::now(), false);
                    self.heart.piece_received(rank, incoming.rest.is_empty());
                    busy = true;
                }
                Err(pending) => {
                    incoming.piece = Some(pending);
                    return false;
                }
            }
        }
        if incoming.rest.is_empty() {
            self.peers[rank].incoming.pop_front();
            return true;
        }
        if let Some((message, len)) = self.heart.link.try_probe_piece(rank) {
            if len == 0 || len > incoming.rest.len() {
                self.heart
                    .link
                    .protocol_error("a piece of packets larger than its chunk");
            }
            let (piece, rest) = mem::take(&mut incoming.rest).split_at_mut(len);
            incoming.rest = rest;
            incoming.piece = Some(self.heart.link.receive_piece(self.scope, message, piece));
            busy = true;
        }
        busy
    }

    /// Receives every packet `rank` sent before what follows now (a
    /// failure's message, on the same tag), beating meanwhile.
    fn receive_all_pieces(&mut self, rank: usize) -> Result<(), Error> {
        let mut idle = Idle::default();
        while !self.peers[rank].incoming.is_empty() {
            if self.receive_pieces(rank) {
                idle.reset();
                continue;
            }
            self.heart.tick();
            self.heart.check(rank)?;
            idle.pause();
        }
        Ok(())
    }

    /// Every rank silent for longer than the timeout is lost.
    fn check_silence(&mut self) {
        let now = Instant::now();
        while let Some((rank, silent_for)) = self.heart.watch.silent(now) {
            self.peer_lost(rank, lost(rank, silent_for));
        }
    }

    /// `rank` is lost, with `error`: nothing more is expected from it, the
    /// receive of its packets (if one is under way) is given up, and the
    /// job fails.
    fn peer_lost(&mut self, rank: usize, error: Error) {
        self.heart.watch.release(rank);
        let peer = &mut self.peers[rank];
        peer.ended = true;
        peer.lost = true;
        peer.chunk = None;
        if let Some(Incoming {
            piece: Some(piece), ..
        }) = mem::take(&mut peer.incoming).pop_front()
        {
            let what = format!("the receive of rank {rank}'s packets");
            self.heart.abandon(piece, &error, &what);
        }
        if self.lost.is_none() {
            self.lost = Some(error.clone());
        }
        self.job_failed(error);
    }

    /// The job failed with `error`, unless it already had: every running
    /// chunk stops at its next batch boundary, and no other starts. The
    /// first failure is the job's.
    fn job_failed(&mut self, error: Error) {
        if self.failure.is_some() {
            return;
        }
        self.failure = Some(error);
        if let Some(local) = &self.local {
            local.run.cancel();
        }
        for (rank, peer) in self.peers.iter_mut().enumerate() {
            if peer.chunk.is_some() && !peer.cancel_sent && !peer.ended {
                self.heart.link.send_reply(rank, &Reply::Cancel);
                peer.cancel_sent = true;
            }
        }
    }

    /// Once the job is over (finished, or failed and every running chunk
    /// back) and every packet is in, every rank that waits learns its
    /// outcome, all at once: so no rank starts its next dispatch while this
    /// one still runs here.
    fn release(&mut self) {
        let over = (self.failure.is_some() || self.job.plan.is_exhausted())
            && self.local.is_none()
            && self
                .peers
                .iter()
                .all(|peer| peer.chunk.is_none() && peer.incoming.is_empty());
        if !over {
            return;
        }
        if self.failure.is_none() && !self.concludes {
            self.window_done = true;
            return;
        }
        for rank in 1..self.peers.len() {
            if self.peers[rank].ended {
                continue;
            }
            let outcome = self.lost.clone().or_else(|| self.failure.clone());
            let cancel_sent = self.peers[rank].cancel_sent;
            if let Err(error) = send_end(self.heart, rank, outcome.as_ref(), cancel_sent) {
                if self.lost.is_none() {
                    self.lost = Some(error);
                }
            }
            self.heart.watch.release(rank);
            self.peers[rank].ended = true;
        }
    }

    /// Answers `rank`, which has no chunk: with the next chunk, unless the
    /// job has failed or none is left; then it waits for the job's outcome.
    fn answer(&mut self, rank: usize) {
        if self.failure.is_some() {
            return;
        }
        if let Some(batches) = self.job.plan.take() {
            let slot = self.take_slot(&batches);
            let reply = Reply::Chunk {
                batches: batches.clone(),
            };
            self.heart.link.send_reply(rank, &reply);
            self.peers[rank].chunk = Some((batches, slot));
        }
    }

    /// The slot of `batches`, the chunk just taken from the plan: the front
    /// of what is left of the results buffer.
    fn take_slot(&mut self, batches: &Range<usize>) -> &'b mut [u8] {
        let range = self.job.plan.byte_range::<T>(&self.job.plan.ids(batches));
        debug_assert_eq!(range.start, self.taken, "chunks are taken in order");
        let (slot, rest) = mem::take(&mut self.rest).split_at_mut(range.len());
        self.rest = rest;
        self.taken = range.end;
        slot
    }

    /// The chunk rank `from` returns, and its slot.
    fn take_chunk(&mut self, from: usize) -> (Range<usize>, &'b mut [u8]) {
        match self.peers[from].chunk.take() {
            Some(chunk) => chunk,
            None => self
                .heart
                .link
                .protocol_error("a chunk returned by a rank that had none"),
        }
    }
}
