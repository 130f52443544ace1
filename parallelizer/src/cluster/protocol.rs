//! The cluster's wire protocol: every header a dispatch sends, as Rust types,
//! and the one place where they are encoded to, and decoded from, the fixed
//! form that travels over MPI.
//!
//! A header is six `u64`s: a kind, then the kind's fields, then zeros. The
//! leader and the follower never read a header by position; they send and
//! match on these types, and [`Link`](super::link::Link) moves them. Kept
//! apart from MPI so that every encoding is unit tested without `mpirun`.
//!
//! The messages of one dispatch:
//!
//! - every rank but 0 joins it with the call it makes ([`Request::Join`],
//!   whose kind says whether it is a dispatch, a job to a file or a barrier,
//!   followed by its error's message if it cannot take part); once every rank
//!   has joined, rank 0 answers each with the first chunk, or with why the
//!   dispatch fails ([`Reply::Mismatch`], [`Reply::Failed`]);
//! - a rank returns its chunk ([`Request::Done`], followed by the chunk's
//!   packets in pieces), its chunk's failure ([`Request::Failed`], followed by
//!   the message) or its cancelled chunk ([`Request::Cancelled`]), and so asks
//!   for more;
//! - rank 0 answers with a chunk ([`Reply::Chunk`]), the end of the job
//!   ([`Reply::Finished`]) or its failure ([`Reply::Failed`], followed by the
//!   message), and may send [`Reply::Cancel`] to a rank whose chunk is running
//!   once the job has failed;
//! - all along, rank 0 and each rank that has joined send each other
//!   heartbeats ([`Beat`]), on a tag of their own, with which rank 0 also
//!   acknowledges the pieces of a rank that sends buffered
//!   ([`Beat::Credit`]).
//!
//! A barrier is the start of a dispatch with no job: every rank joins it,
//! and rank 0 answers each with [`Reply::Finished`] once every rank has
//! joined (or with why it fails), heartbeats flowing meanwhile; each rank
//! then says it leaves ([`Request::Released`]), and rank 0 leaves last.
//!
//! Before any call, at `Cluster::init`, every rank and rank 0 exchange a
//! [`Hello`].
//!
//! A failure has one layout, [`Failure`], whichever way it travels.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use crate::error::Error;
use crate::task::{Fnv1a, Task};
use mpi::Tag;

/// Message tags on the cluster's communicator: a rank's requests to rank 0,
/// rank 0's replies, the bytes that follow a header, rank 0's cancels (on a
/// tag of their own, so that a rank can look for one while its chunk runs),
/// the heartbeats, both ways (with rank 0's credits), and the [`Hello`]s.
pub(super) const TAG_REQUEST: Tag = 1;
pub(super) const TAG_REPLY: Tag = 2;
pub(super) const TAG_DATA: Tag = 3;
pub(super) const TAG_CANCEL: Tag = 4;
pub(super) const TAG_BEAT: Tag = 5;
pub(super) const TAG_HELLO: Tag = 6;

/// The number of `u64`s in a header.
pub(super) const HEADER_LEN: usize = 6;

/// A header as it travels: a kind, then its fields, then zeros.
pub(super) type Header = [u64; HEADER_LEN];

/// The longest message of a rank that cannot take part in a dispatch, in
/// bytes: [`clip`] cuts it there before it is sent.
pub(super) const MAX_RANK_MESSAGE: usize = 1 << 16;

/// Header kinds. Requests, replies and beats have kinds of their own, so
/// that one sent the wrong way does not decode.
mod kind {
    pub(super) const JOIN: u64 = 1;
    pub(super) const JOIN_TO_FILE: u64 = 6;
    pub(super) const JOIN_BARRIER: u64 = 7;
    pub(super) const DONE: u64 = 2;
    pub(super) const FAILED: u64 = 3;
    pub(super) const CANCELLED: u64 = 4;
    pub(super) const RELEASED: u64 = 5;

    pub(super) const CHUNK: u64 = 11;
    pub(super) const FINISHED: u64 = 12;
    pub(super) const FAILURE: u64 = 13;
    pub(super) const CANCEL: u64 = 14;
    pub(super) const MISMATCH: u64 = 15;

    pub(super) const LEADER_BEAT: u64 = 21;
    pub(super) const FOLLOWER_BEAT: u64 = 22;
    pub(super) const CREDIT: u64 = 23;

    pub(super) const HELLO: u64 = 31;
}

/// What failed, in a [`Failure`]'s header.
mod cause {
    pub(super) const WORKER_PANICKED: u64 = 1;
    pub(super) const RANK_FAILED: u64 = 2;
    pub(super) const RANK_LOST: u64 = 3;
    pub(super) const JOB_MISMATCH: u64 = 4;
}

/// A message from a rank to rank 0, on [`TAG_REQUEST`]. The first of a
/// dispatch joins it; each later one returns the rank's chunk; each one asks
/// for work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Request {
    /// The rank makes `call`; if it cannot take part, its error's message
    /// follows, `len` bytes of UTF-8.
    Join { call: Call, len: usize },
    /// The rank ran `batches`, its chunk; their packets follow, in pieces of
    /// at most the rank's largest message.
    Done { batches: Range<usize> },
    /// The rank's chunk failed; the message follows.
    Failed(Failure),
    /// The rank's chunk stopped at rank 0's [`Reply::Cancel`]; nothing
    /// follows.
    Cancelled,
    /// The rank took rank 0's [`Reply::Finished`] of a barrier, and leaves
    /// it.
    Released,
}

/// A message from rank 0 to a rank: on [`TAG_REPLY`] an answer to its
/// request, on [`TAG_CANCEL`] a [`Reply::Cancel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reply {
    /// Run `batches`, then ask again.
    Chunk { batches: Range<usize> },
    /// The job has finished: the rank's last answer of the dispatch.
    Finished,
    /// The job has failed: the rank's last answer of the dispatch; the
    /// message follows. `cancel_sent` says that rank 0 also sent the rank a
    /// [`Reply::Cancel`], which the rank must take before the next dispatch.
    Failed { failure: Failure, cancel_sent: bool },
    /// The job has failed: stop the running chunk at its next batch
    /// boundary, and return it as [`Request::Cancelled`] (or however it
    /// ended).
    Cancel,
    /// Rank `rank` joined with another call than rank 0's: the first
    /// argument that differs, rank 0's value and that rank's, as in
    /// [`Error::ClusterMismatch`]. The rank's last answer of the dispatch.
    Mismatch {
        rank: usize,
        what: &'static str,
        expected: u64,
        found: u64,
    },
}

/// A heartbeat, on [`TAG_BEAT`]: the sender is alive and inside a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Beat {
    /// Rank 0's, in its dispatch number `call` (counted from 1 on every
    /// rank), so that a beat of an earlier dispatch is told apart.
    Leader { call: u64 },
    /// Another rank's: always the same bytes, [`FOLLOWER_BEAT`], which can
    /// thus be sent without waiting for the send to end.
    Follower,
    /// Rank 0's acknowledgement, in dispatch number `call`, that it has
    /// received `pieces` pieces of bytes from the rank in that dispatch: the
    /// rank may have a window more on their way (see `link`). A sign of life
    /// too, so it travels with the beats.
    Credit { call: u64, pieces: u64 },
}

/// The one message of `Cluster::init`, on [`TAG_HELLO`]: every other rank
/// sends one to rank 0, which answers each, so that the connection between
/// them is open before the first call (see `Link::connect`). A rank's says
/// whether it sends rank 0 buffered, which rank 0 acknowledges (see `link`);
/// rank 0's says nothing (`buffered` is false).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hello {
    pub(super) buffered: bool,
}

impl Hello {
    pub(super) fn encode(&self) -> Header {
        [kind::HELLO, u64::from(self.buffered), 0, 0, 0, 0]
    }

    pub(super) fn decode(header: &Header) -> Result<Hello, BadHeader> {
        let fields = Fields(header);
        if header[0] != kind::HELLO {
            return Err(fields.bad("not a hello"));
        }
        fields.unused(2)?;
        Ok(Hello {
            buffered: fields.flag(1)?,
        })
    }
}

/// A follower's heartbeat as it travels, in a `static` so that its sends
/// need not finish before the rank moves on.
pub(super) static FOLLOWER_BEAT: Header = [kind::FOLLOWER_BEAT, 0, 0, 0, 0, 0];

/// A failed dispatch as it travels, either way: from the rank whose chunk
/// failed to rank 0 ([`Request::Failed`]), and from rank 0 to every other
/// rank ([`Reply::Failed`]). The same header fields in both directions; its
/// message, `len` bytes of UTF-8, follows the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    /// The rank where the dispatch failed.
    pub(super) rank: usize,
    /// What failed there.
    pub(super) cause: Cause,
    /// The length of the message, in bytes.
    pub(super) len: usize,
}

/// What failed, in a [`Failure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cause {
    /// The worker of task id `task_id` panicked.
    WorkerPanicked { task_id: usize },
    /// The rank could not take part, or failed otherwise.
    RankFailed,
    /// The rank stopped answering for `silent_for`.
    RankLost { silent_for: Duration },
    /// Rank 0's results file holds another job: the message is the file's
    /// path, its first `path_len` bytes, then what differs.
    JobMismatch { path_len: usize },
}

/// Which collective call a rank makes: it travels as the kind of its
/// [`Request::Join`], and as its value (`0`, `1`, `2`) in a mismatch, which
/// `Error::ClusterMismatch`'s message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Collective {
    /// `Cluster::dispatch` and `dispatch_with`.
    Dispatch = 0,
    /// `Cluster::run_to_file` and its variants.
    RunToFile = 1,
    /// `Cluster::checked_barrier` (and `barrier`): a call with no task, whose
    /// [`Call`] is [`Call::barrier`].
    Barrier = 2,
}

/// What a rank brings to the start of a dispatch, in its
/// [`Request::Join`]: the call it makes, and whether it can take part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Call {
    /// Which collective call it is.
    pub(super) collective: Collective,
    /// A hash of the task's name and packet schema ([`Call::of`]).
    pub(super) task: u64,
    pub(super) threads: u64,
    pub(super) batch: u64,
    /// This rank cannot take part: the lowest such rank's message is sent to
    /// every rank.
    pub(super) failed: bool,
}

/// A header that is not one this protocol sends: the peer runs another
/// build, or there is a bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadHeader {
    /// What is wrong with it.
    pub(super) why: &'static str,
    pub(super) header: Header,
}

impl fmt::Display for BadHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a malformed header ({}): {:?}", self.why, self.header)
    }
}

impl Request {
    pub(super) fn encode(&self) -> Header {
        match self {
            Request::Join { call, len } => [
                match call.collective {
                    Collective::Dispatch => kind::JOIN,
                    Collective::RunToFile => kind::JOIN_TO_FILE,
                    Collective::Barrier => kind::JOIN_BARRIER,
                },
                call.task,
                call.threads,
                call.batch,
                u64::from(call.failed),
                *len as u64,
            ],
            Request::Done { batches } => [
                kind::DONE,
                batches.start as u64,
                batches.end as u64,
                0,
                0,
                0,
            ],
            Request::Failed(failure) => failure.encode(kind::FAILED, 0),
            Request::Cancelled => [kind::CANCELLED, 0, 0, 0, 0, 0],
            Request::Released => [kind::RELEASED, 0, 0, 0, 0, 0],
        }
    }

    pub(super) fn decode(header: &Header) -> Result<Request, BadHeader> {
        let fields = Fields(header);
        match header[0] {
            kind::JOIN | kind::JOIN_TO_FILE => {
                let call = Call {
                    collective: if header[0] == kind::JOIN {
                        Collective::Dispatch
                    } else {
                        Collective::RunToFile
                    },
                    task: header[1],
                    threads: header[2],
                    batch: header[3],
                    failed: fields.flag(4)?,
                };
                let len = fields.index(5)?;
                if len > 0 && !call.failed {
                    return Err(fields.bad("a message from a rank that can take part"));
                }
                Ok(Request::Join { call, len })
            }
            // A barrier has no task, no job, and nothing that can fail.
            kind::JOIN_BARRIER => fields.unused(1).map(|()| Request::Join {
                call: Call::barrier(),
                len: 0,
            }),
            kind::DONE => {
                let batches = fields.range(1)?;
                if batches.is_empty() {
                    return Err(fields.bad("an empty chunk"));
                }
                fields.unused(3)?;
                Ok(Request::Done { batches })
            }
            kind::FAILED => {
                let failure = Failure::decode(&fields)?;
                fields.unused(5)?;
                Ok(Request::Failed(failure))
            }
            kind::CANCELLED => fields.unused(1).map(|()| Request::Cancelled),
            kind::RELEASED => fields.unused(1).map(|()| Request::Released),
            _ => Err(fields.bad("an unknown request kind")),
        }
    }
}

impl Reply {
    /// The tag it travels on.
    pub(super) fn tag(&self) -> Tag {
        match self {
            Reply::Cancel => TAG_CANCEL,
            _ => TAG_REPLY,
        }
    }

    pub(super) fn encode(&self) -> Header {
        match self {
            Reply::Chunk { batches } => [
                kind::CHUNK,
                batches.start as u64,
                batches.end as u64,
                0,
                0,
                0,
            ],
            Reply::Finished => [kind::FINISHED, 0, 0, 0, 0, 0],
            Reply::Failed {
                failure,
                cancel_sent,
            } => failure.encode(kind::FAILURE, u64::from(*cancel_sent)),
            Reply::Cancel => [kind::CANCEL, 0, 0, 0, 0, 0],
            Reply::Mismatch {
                rank,
                what,
                expected,
                found,
            } => {
                let what = Call::ARGUMENTS
                    .iter()
                    .position(|argument| argument == what)
                    .expect("a mismatch names one of the call's arguments");
                [
                    kind::MISMATCH,
                    *rank as u64,
                    what as u64,
                    *expected,
                    *found,
                    0,
                ]
            }
        }
    }

    pub(super) fn decode(header: &Header) -> Result<Reply, BadHeader> {
        let fields = Fields(header);
        match header[0] {
            kind::CHUNK => {
                let batches = fields.range(1)?;
                if batches.is_empty() {
                    return Err(fields.bad("an empty chunk"));
                }
                fields.unused(3)?;
                Ok(Reply::Chunk { batches })
            }
            kind::FINISHED => fields.unused(1).map(|()| Reply::Finished),
            kind::FAILURE => Ok(Reply::Failed {
                failure: Failure::decode(&fields)?,
                cancel_sent: fields.flag(5)?,
            }),
            kind::CANCEL => fields.unused(1).map(|()| Reply::Cancel),
            kind::MISMATCH => {
                let what = Call::ARGUMENTS
                    .get(fields.index(2)?)
                    .ok_or_else(|| fields.bad("an unknown argument in a mismatch"))?;
                fields.unused(5)?;
                Ok(Reply::Mismatch {
                    rank: fields.index(1)?,
                    what,
                    expected: header[3],
                    found: header[4],
                })
            }
            _ => Err(fields.bad("an unknown reply kind")),
        }
    }
}

impl Beat {
    pub(super) fn encode(&self) -> Header {
        match self {
            Beat::Leader { call } => [kind::LEADER_BEAT, *call, 0, 0, 0, 0],
            Beat::Follower => FOLLOWER_BEAT,
            Beat::Credit { call, pieces } => [kind::CREDIT, *call, *pieces, 0, 0, 0],
        }
    }

    pub(super) fn decode(header: &Header) -> Result<Beat, BadHeader> {
        let fields = Fields(header);
        match header[0] {
            kind::LEADER_BEAT => fields.unused(2).map(|()| Beat::Leader { call: header[1] }),
            kind::FOLLOWER_BEAT => fields.unused(1).map(|()| Beat::Follower),
            kind::CREDIT => fields.unused(3).map(|()| Beat::Credit {
                call: header[1],
                pieces: header[2],
            }),
            _ => Err(fields.bad("an unknown heartbeat kind")),
        }
    }
}

impl Failure {
    /// How `error` travels: its header fields, and its message. A cluster
    /// error keeps its rank, cause and message; any other error is rank 0's,
    /// and its message is its text.
    pub(super) fn of(error: &Error) -> (Failure, String) {
        let (rank, cause, message) = match error {
            Error::ClusterWorkerPanicked {
                rank,
                task_id,
                message,
                ..
            } => (
                *rank,
                Cause::WorkerPanicked { task_id: *task_id },
                message.clone(),
            ),
            Error::ClusterRankFailed { rank, message, .. } => {
                (*rank, Cause::RankFailed, message.clone())
            }
            Error::ClusterRankLost { rank, silent_for } => (
                *rank,
                Cause::RankLost {
                    silent_for: *silent_for,
                },
                String::new(),
            ),
            Error::JobMismatch { path, reason, .. } => (
                0,
                Cause::JobMismatch {
                    path_len: path.len(),
                },
                format!("{path}{reason}"),
            ),
            error => (0, Cause::RankFailed, error.to_string()),
        };
        let failure = Failure {
            rank,
            cause,
            len: message.len(),
        };
        (failure, message)
    }

    /// The error of task `task` that arrived as this failure, with its
    /// `message`.
    pub(super) fn into_error(self, task: &'static str, message: String) -> Error {
        match self.cause {
            Cause::WorkerPanicked { task_id } => Error::ClusterWorkerPanicked {
                task,
                rank: self.rank,
                task_id,
                message,
            },
            Cause::RankFailed => Error::ClusterRankFailed {
                task,
                rank: self.rank,
                message,
            },
            Cause::RankLost { silent_for } => Error::ClusterRankLost {
                rank: self.rank,
                silent_for,
            },
            Cause::JobMismatch { path_len } => {
                let mut path = message;
                // Decoded with `path_len` at most the message's length; a
                // boundary inside a character (another build) cuts nothing.
                let reason = if path.is_char_boundary(path_len) {
                    path.split_off(path_len)
                } else {
                    String::new()
                };
                Error::JobMismatch { task, path, reason }
            }
        }
    }

    /// Its header as `kind`, with `last` in the field after its own.
    fn encode(&self, kind: u64, last: u64) -> Header {
        let (cause, detail) = match self.cause {
            Cause::WorkerPanicked { task_id } => (cause::WORKER_PANICKED, task_id as u64),
            Cause::RankFailed => (cause::RANK_FAILED, 0),
            Cause::RankLost { silent_for } => (
                cause::RANK_LOST,
                u64::try_from(silent_for.as_nanos()).unwrap_or(u64::MAX),
            ),
            Cause::JobMismatch { path_len } => (cause::JOB_MISMATCH, path_len as u64),
        };
        [kind, self.rank as u64, cause, detail, self.len as u64, last]
    }

    /// Decodes fields 1 to 4, as [`encode`](Self::encode) wrote them.
    fn decode(fields: &Fields<'_>) -> Result<Failure, BadHeader> {
        let cause = match fields.0[2] {
            cause::WORKER_PANICKED => Cause::WorkerPanicked {
                task_id: fields.index(3)?,
            },
            cause::RANK_FAILED if fields.0[3] == 0 => Cause::RankFailed,
            cause::RANK_FAILED => return Err(fields.bad("a task id in a rank's failure")),
            cause::RANK_LOST => Cause::RankLost {
                silent_for: Duration::from_nanos(fields.0[3]),
            },
            cause::JOB_MISMATCH if fields.0[3] <= fields.0[4] => Cause::JobMismatch {
                path_len: fields.index(3)?,
            },
            cause::JOB_MISMATCH => return Err(fields.bad("a path longer than its message")),
            _ => return Err(fields.bad("an unknown failure cause")),
        };
        Ok(Failure {
            rank: fields.index(1)?,
            cause,
            len: fields.index(4)?,
        })
    }
}

impl Call {
    /// The arguments that ranks must agree on, in the order they are
    /// compared, as [`Error::ClusterMismatch`] names them.
    pub(super) const ARGUMENTS: [&'static str; 4] = ["call", "task", "threads", "batch"];

    /// The `collective` call of task `T` over `threads` task ids in batches
    /// of `batch`, by a rank that can take part in it unless `failed`.
    pub(super) fn of<T: Task>(
        collective: Collective,
        threads: usize,
        batch: usize,
        failed: bool,
    ) -> Call {
        Call {
            collective,
            task: task_key::<T>(),
            threads: threads as u64,
            batch: batch as u64,
            failed,
        }
    }

    /// A barrier's call: it names no task and runs no job, so its other
    /// arguments are 0, and every rank can take part in it.
    pub(super) fn barrier() -> Call {
        Call {
            collective: Collective::Barrier,
            task: 0,
            threads: 0,
            batch: 0,
            failed: false,
        }
    }

    /// The first argument in which `theirs` differs from this call (rank
    /// 0's): its name, as in [`Error::ClusterMismatch`], this call's value,
    /// and theirs.
    pub(super) fn difference(&self, theirs: &Call) -> Option<(&'static str, u64, u64)> {
        let ours = [self.collective as u64, self.task, self.threads, self.batch];
        let theirs = [
            theirs.collective as u64,
            theirs.task,
            theirs.threads,
            theirs.batch,
        ];
        (0..Self::ARGUMENTS.len())
            .find(|&at| ours[at] != theirs[at])
            .map(|at| (Self::ARGUMENTS[at], ours[at], theirs[at]))
    }
}

/// A hash of the task's name and packet schema, which every rank of a
/// dispatch must share.
fn task_key<T: Task>() -> u64 {
    let mut hash = Fnv1a::new();
    hash.write(T::NAME.as_bytes());
    hash.write(&[0]);
    hash.write_u64(T::schema().fingerprint());
    hash.finish()
}

/// The message of a rank that cannot take part in a dispatch, as it is
/// broadcast: at most [`MAX_RANK_MESSAGE`] bytes, cut at a char boundary so
/// that no character is broken in two.
pub(super) fn clip(mut message: String) -> String {
    if message.len() > MAX_RANK_MESSAGE {
        let end = (0..=MAX_RANK_MESSAGE)
            .rev()
            .find(|&end| message.is_char_boundary(end))
            .unwrap_or(0);
        message.truncate(end);
    }
    message
}

/// A header's fields, read as the protocol defines them.
struct Fields<'a>(&'a Header);

impl Fields<'_> {
    fn bad(&self, why: &'static str) -> BadHeader {
        BadHeader {
            why,
            header: *self.0,
        }
    }

    /// Field `at`, a count or an index on this machine.
    fn index(&self, at: usize) -> Result<usize, BadHeader> {
        usize::try_from(self.0[at]).map_err(|_| self.bad("a number too large for this machine"))
    }

    /// Fields `at` and `at + 1`, the start and end of a range of batches.
    fn range(&self, at: usize) -> Result<Range<usize>, BadHeader> {
        let range = self.index(at)?..self.index(at + 1)?;
        if range.start > range.end {
            return Err(self.bad("a range that ends before it starts"));
        }
        Ok(range)
    }

    /// Field `at`, 0 or 1.
    fn flag(&self, at: usize) -> Result<bool, BadHeader> {
        match self.0[at] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.bad("a flag neither 0 nor 1")),
        }
    }

    /// Fields `from` to the end, which this kind leaves 0.
    fn unused(&self, from: usize) -> Result<(), BadHeader> {
        if self.0[from..].iter().all(|&field| field == 0) {
            Ok(())
        } else {
            Err(self.bad("a field this kind does not use is set"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures() -> Vec<Failure> {
        vec![
            Failure {
                rank: 2,
                cause: Cause::WorkerPanicked { task_id: 1234 },
                len: 17,
            },
            Failure {
                rank: 1,
                cause: Cause::WorkerPanicked { task_id: 0 },
                len: 0,
            },
            Failure {
                rank: 0,
                cause: Cause::RankFailed,
                len: 1 << 16,
            },
            Failure {
                rank: 5,
                cause: Cause::RankLost {
                    silent_for: Duration::new(3, 141_592_653),
                },
                len: 0,
            },
            Failure {
                rank: 0,
                cause: Cause::JobMismatch { path_len: 12 },
                len: 40,
            },
        ]
    }

    fn calls() -> Vec<Call> {
        vec![
            Call {
                collective: Collective::Dispatch,
                task: u64::MAX,
                threads: 1_000_000,
                batch: 1000,
                failed: false,
            },
            Call {
                collective: Collective::RunToFile,
                task: u64::MAX,
                threads: 1_000_000,
                batch: 1000,
                failed: true,
            },
            Call {
                collective: Collective::Dispatch,
                task: 0,
                threads: 0,
                batch: 0,
                failed: true,
            },
            Call::barrier(),
        ]
    }

    fn requests() -> Vec<Request> {
        let mut requests = vec![
            Request::Done { batches: 0..1 },
            Request::Done {
                batches: 41..10_000,
            },
            Request::Cancelled,
            Request::Released,
        ];
        for call in calls() {
            let len = if call.failed { 700 } else { 0 };
            requests.push(Request::Join { call, len });
        }
        requests.extend(failures().into_iter().map(Request::Failed));
        requests
    }

    fn replies() -> Vec<Reply> {
        let mut replies = vec![
            Reply::Chunk { batches: 0..1 },
            Reply::Chunk {
                batches: 7..usize::MAX,
            },
            Reply::Finished,
            Reply::Cancel,
        ];
        for cancel_sent in [false, true] {
            replies.extend(failures().into_iter().map(|failure| Reply::Failed {
                failure,
                cancel_sent,
            }));
        }
        for what in Call::ARGUMENTS {
            replies.push(Reply::Mismatch {
                rank: 3,
                what,
                expected: 100,
                found: u64::MAX,
            });
        }
        replies
    }

    fn beats() -> Vec<Beat> {
        vec![
            Beat::Leader { call: 1 },
            Beat::Leader { call: u64::MAX },
            Beat::Follower,
            Beat::Credit { call: 1, pieces: 0 },
            Beat::Credit {
                call: u64::MAX,
                pieces: u64::MAX,
            },
        ]
    }

    #[test]
    fn hellos_round_trip_and_nothing_else_is_one() {
        for buffered in [false, true] {
            let hello = Hello { buffered };
            assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
        }
        let bad = |header: Header| Hello::decode(&header).map_err(|bad| bad.why);
        assert_eq!(bad(FOLLOWER_BEAT), Err("not a hello"));
        assert_eq!(
            bad([kind::HELLO, 2, 0, 0, 0, 0]),
            Err("a flag neither 0 nor 1")
        );
        assert!(bad([kind::HELLO, 1, 0, 0, 0, 9]).is_err());
        for decoded in [
            Request::decode(&Hello { buffered: true }.encode()).is_ok(),
            Reply::decode(&Hello { buffered: true }.encode()).is_ok(),
            Beat::decode(&Hello { buffered: true }.encode()).is_ok(),
        ] {
            assert!(!decoded, "a hello is no other message");
        }
    }

    #[test]
    fn every_request_round_trips() {
        for request in requests() {
            let header = request.encode();
            assert_eq!(Request::decode(&header), Ok(request.clone()), "{header:?}");
        }
    }

    #[test]
    fn every_reply_round_trips() {
        for reply in replies() {
            let header = reply.encode();
            assert_eq!(Reply::decode(&header), Ok(reply.clone()), "{header:?}");
        }
    }

    #[test]
    fn every_beat_round_trips() {
        for beat in beats() {
            let header = beat.encode();
            assert_eq!(Beat::decode(&header), Ok(beat.clone()), "{header:?}");
        }
        assert_eq!(Beat::decode(&FOLLOWER_BEAT), Ok(Beat::Follower));
    }

    #[test]
    fn only_cancels_travel_on_the_cancel_tag() {
        for reply in replies() {
            let cancel = reply == Reply::Cancel;
            assert_eq!(reply.tag() == TAG_CANCEL, cancel, "{reply:?}");
            assert_eq!(reply.tag() == TAG_REPLY, !cancel, "{reply:?}");
        }
    }

    #[test]
    fn a_failure_has_one_layout_both_ways() {
        for failure in failures() {
            let request = Request::Failed(failure.clone()).encode();
            let reply = Reply::Failed {
                failure,
                cancel_sent: true,
            }
            .encode();
            assert_eq!(request[1..5], reply[1..5]);
        }
    }

    #[test]
    fn unknown_and_misdirected_headers_are_errors() {
        let bad = |header: Header| {
            (
                Request::decode(&header).map_err(|bad| bad.why),
                Reply::decode(&header).map_err(|bad| bad.why),
                Beat::decode(&header).map_err(|bad| bad.why),
            )
        };
        for kind in [0, 8, 9, 10, 16, 20, 24, 31, 99, u64::MAX] {
            let (request, reply, beat) = bad([kind, 0, 0, 0, 0, 0]);
            assert_eq!(request, Err("an unknown request kind"));
            assert_eq!(reply, Err("an unknown reply kind"));
            assert_eq!(beat, Err("an unknown heartbeat kind"));
        }
        // Each side's headers are the other sides' unknown kinds.
        for request in requests() {
            let header = request.encode();
            assert!(Reply::decode(&header).is_err(), "{request:?}");
            assert!(Beat::decode(&header).is_err(), "{request:?}");
        }
        for reply in replies() {
            let header = reply.encode();
            assert!(Request::decode(&header).is_err(), "{reply:?}");
            assert!(Beat::decode(&header).is_err(), "{reply:?}");
        }
        for beat in beats() {
            let header = beat.encode();
            assert!(Request::decode(&header).is_err(), "{beat:?}");
            assert!(Reply::decode(&header).is_err(), "{beat:?}");
        }
        assert!(Request::decode(&[kind::JOIN, 1, 2, 3, 2, 0]).is_err());
        assert!(Request::decode(&[kind::JOIN, 1, 2, 3, 0, 9]).is_err());
        // A barrier's fields are all 0: no task, no job, no failure.
        for field in 1..HEADER_LEN {
            let mut header = [kind::JOIN_BARRIER, 0, 0, 0, 0, 0];
            header[field] = 1;
            assert_eq!(
                Request::decode(&header).map_err(|bad| bad.why),
                Err("a field this kind does not use is set"),
                "{header:?}"
            );
        }
        assert!(Request::decode(&[kind::DONE, 5, 4, 0, 0, 0]).is_err());
        assert!(Request::decode(&[kind::DONE, 4, 4, 0, 0, 0]).is_err());
        assert!(Request::decode(&[kind::DONE, 4, 5, 1, 0, 0]).is_err());
        assert!(Request::decode(&[kind::FAILED, 1, 9, 0, 0, 0]).is_err());
        assert!(Request::decode(&[kind::FAILED, 0, cause::JOB_MISMATCH, 5, 4, 0]).is_err());
        assert!(Request::decode(&[kind::FAILED, 1, cause::RANK_FAILED, 9, 0, 0]).is_err());
        assert!(Reply::decode(&[kind::FAILURE, 1, cause::RANK_FAILED, 0, 0, 2]).is_err());
        assert!(Reply::decode(&[kind::CHUNK, 3, 3, 0, 0, 0]).is_err());
        assert!(Reply::decode(&[kind::MISMATCH, 1, 4, 0, 0, 0]).is_err());
        assert!(Beat::decode(&[kind::LEADER_BEAT, 1, 1, 0, 0, 0]).is_err());
        assert!(Beat::decode(&[kind::FOLLOWER_BEAT, 1, 0, 0, 0, 0]).is_err());
        let error = Reply::decode(&[77, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a malformed header (an unknown reply kind): [77, 0, 0, 0, 0, 0]"
        );
    }

    #[test]
    fn cluster_errors_travel_whole() {
        for error in [
            Error::ClusterWorkerPanicked {
                task: "Fragile",
                rank: 2,
                task_id: 1999,
                message: "boom at task 1999".into(),
            },
            Error::ClusterRankFailed {
                task: "Fragile",
                rank: 1,
                message: "no memory — défini nowhere".into(),
            },
            Error::ClusterRankLost {
                rank: 4,
                silent_for: Duration::from_micros(5_000_123),
            },
            Error::JobMismatch {
                task: "Fragile",
                path: "/données/run.prlz".into(),
                reason: "it holds a job of 5 task ids, not 7".into(),
            },
            Error::JobMismatch {
                task: "Fragile",
                path: String::new(),
                reason: String::new(),
            },
        ] {
            let (failure, message) = Failure::of(&error);
            assert_eq!(failure.len, message.len());
            let header = Request::Failed(failure).encode();
            let Ok(Request::Failed(failure)) = Request::decode(&header) else {
                panic!("{header:?}");
            };
            assert_eq!(failure.into_error("Fragile", message), error);
        }
    }

    #[test]
    fn other_errors_travel_as_rank_0s_failure() {
        let error = Error::Cancelled { task: "Fragile" };
        let (failure, message) = Failure::of(&error);
        assert_eq!(message, error.to_string());
        assert_eq!(
            failure.into_error("Fragile", message.clone()),
            Error::ClusterRankFailed {
                task: "Fragile",
                rank: 0,
                message,
            }
        );
    }

    #[test]
    fn calls_differ_in_their_first_differing_argument() {
        let ours = Call {
            collective: Collective::Dispatch,
            task: 1,
            threads: 100,
            batch: 10,
            failed: false,
        };
        let mut theirs = Call {
            failed: true,
            ..ours.clone()
        };
        assert_eq!(ours.difference(&theirs), None);
        theirs.batch = 11;
        assert_eq!(ours.difference(&theirs), Some(("batch", 10, 11)));
        theirs.threads = 101;
        assert_eq!(ours.difference(&theirs), Some(("threads", 100, 101)));
        theirs.task = 2;
        assert_eq!(ours.difference(&theirs), Some(("task", 1, 2)));
        theirs.collective = Collective::RunToFile;
        assert_eq!(ours.difference(&theirs), Some(("call", 0, 1)));

        // A barrier against a dispatch differs in the call first, whatever
        // the dispatch's task, threads and batch.
        assert_eq!(ours.difference(&Call::barrier()), Some(("call", 0, 2)));
        assert_eq!(Call::barrier().difference(&ours), Some(("call", 2, 0)));
        assert_eq!(Call::barrier().difference(&Call::barrier()), None);
    }

    #[test]
    fn a_barrier_joins_with_its_own_kind() {
        let join = Request::Join {
            call: Call::barrier(),
            len: 0,
        };
        assert_eq!(join.encode(), [kind::JOIN_BARRIER, 0, 0, 0, 0, 0]);
        assert_eq!(
            Request::decode(&[kind::JOIN_BARRIER, 0, 0, 0, 0, 0]),
            Ok(join)
        );
        let kinds = [
            Collective::Dispatch,
            Collective::RunToFile,
            Collective::Barrier,
        ]
        .map(|collective| {
            let call = Call {
                collective,
                ..Call::barrier()
            };
            Request::Join { call, len: 0 }.encode()[0]
        });
        assert_eq!(kinds, [kind::JOIN, kind::JOIN_TO_FILE, kind::JOIN_BARRIER]);
    }

    #[test]
    fn a_mismatch_of_calls_names_them() {
        let error = Error::ClusterMismatch {
            task: "Tile",
            rank: 2,
            what: "call",
            expected: Collective::RunToFile as u64,
            found: Collective::Dispatch as u64,
        };
        let message = error.to_string();
        assert!(
            message.contains("rank 2 called `dispatch`")
                && message.contains("rank 0 called `run_to_file`"),
            "{message}"
        );
    }

    #[test]
    fn a_mismatch_with_a_barrier_names_it() {
        let mismatch = |task, expected: Collective, found: Collective| {
            Error::ClusterMismatch {
                task,
                rank: 2,
                what: "call",
                expected: expected as u64,
                found: found as u64,
            }
            .to_string()
        };
        let rule = ": every rank must make the same cluster calls, in the same order";
        // Rank 2 calls the barrier; rank 0 (and this rank) dispatch `Tile`.
        assert_eq!(
            mismatch("Tile", Collective::Dispatch, Collective::Barrier),
            format!("rank 2 called `barrier` while rank 0 called `dispatch` for task `Tile`{rule}")
        );
        // The same, on rank 2, which names no task.
        assert_eq!(
            mismatch("", Collective::Dispatch, Collective::Barrier),
            format!("rank 2 called `barrier` while rank 0 called `dispatch`{rule}")
        );
        // Rank 0 calls the barrier; rank 2 (and this rank) write to a file.
        assert_eq!(
            mismatch("Tile", Collective::Barrier, Collective::RunToFile),
            format!(
                "rank 2 called `run_to_file` for task `Tile` while rank 0 called `barrier`{rule}"
            )
        );
        assert_eq!(
            mismatch("", Collective::Barrier, Collective::Dispatch),
            format!("rank 2 called `dispatch` while rank 0 called `barrier`{rule}")
        );
        // Without a barrier, as before.
        assert_eq!(
            mismatch("Tile", Collective::RunToFile, Collective::Dispatch),
            format!(
                "rank 2 called `dispatch` for task `Tile` while rank 0 called `run_to_file`{rule}"
            )
        );
    }

    #[test]
    fn a_clipped_message_ends_at_a_char_boundary() {
        // A two-byte 'é' whose first byte is the last one allowed.
        let message = format!("{}é and more", "a".repeat(MAX_RANK_MESSAGE - 1));
        let clipped = clip(message.clone());
        assert_eq!(clipped.len(), MAX_RANK_MESSAGE - 1);
        assert!(
            message.starts_with(&clipped),
            "{:?}",
            &clipped[clipped.len() - 4..]
        );

        let fits = format!("{}é", "a".repeat(MAX_RANK_MESSAGE - 2));
        assert!(clip(fits.clone()) == fits);
        let short = "no memory for task `Lonely` — défini nowhere".to_string();
        assert_eq!(clip(short.clone()), short);
    }
}
