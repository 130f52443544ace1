//! The same dispatch across the processes (ranks) of an MPI job: feature `mpi`.
//!
//! Every rank runs the same binary, so every rank has the same tasks and
//! workers compiled in, and defines the same memory. A cluster dispatch is a
//! collective call: every rank makes it, with the same task, threads and
//! batch size. Rank 0 leads: it hands out *chunks* (ranges of whole batches)
//! to whichever rank asks, itself included, and receives the packets of each
//! chunk straight into its slot of the merged buffer. A rank that finishes
//! early asks again sooner, so it takes more chunks; chunks shrink as the job
//! nears its end (guided self-scheduling), so the ranks finish together.
//!
//! # Wire protocol
//!
//! All traffic runs on a duplicate of `MPI_COMM_WORLD`, so it never mixes
//! with the program's own MPI messages. Each message is a header of six
//! `u64`s or a piece of bytes:
//!
//! - a rank asks rank 0 for work (`READY`), or returns a chunk (`DONE`,
//!   followed by its packets) or its failure (`PANICKED`, `FAILED`,
//!   `CANCELLED`, followed by the message);
//! - rank 0 answers with a chunk (`CHUNK`, a range of batches), the end of
//!   the job (`FINISHED`) or its failure (`FAILURE`, followed by the message),
//!   and may send `CANCEL` to a rank whose chunk is running once the job has
//!   failed.
//!
//! Counts are packets and batches, carried as `u64`; the bytes go in pieces
//! of at most [`Cluster::set_max_message_bytes`] (1 GiB by default), so no
//! MPI count comes near `i32::MAX` however large the results. Every rank
//! gets exactly one final answer per dispatch, and no message outlives its
//! dispatch, so dispatches can follow each other on one cluster.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::buffers::BufferPool;
use crate::coordinator::Coordinator;
use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::job::Shape;
use crate::results::Results;
use crate::task::{FieldError, Task, Worker};
use mpi::environment::Universe;
use mpi::request::Request;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Equivalence, Root};
use mpi::traits::{Destination, Source};
use mpi::{Rank, Tag, Threading};

/// The processes of an MPI job, ready to share dispatches: feature `mpi`.
///
/// Run the same program on every rank (`mpirun -np 3 ./program`, or `srun`
/// under SLURM). Each rank creates its coordinator and defines its tasks'
/// memory with the same code, then every rank makes the same
/// [`dispatch`](Self::dispatch) calls in the same order. Batches are shared
/// out across the ranks as they ask for work, each rank runs its share on its
/// own coordinator's pool, and rank 0 gets the whole [`Results`], in task-id
/// order, byte for byte what `coordinator.dispatch` would give in one
/// process; the other ranks get `None` once the job has finished.
///
/// ```no_run
/// use parallelizer::prelude::*;
/// use parallelizer::Cluster;
///
/// #[task(packet = (u64,))]
/// pub struct Square;
///
/// #[worker(Square)]
/// fn square(task_id: usize) -> (u64,) {
///     ((task_id * task_id) as u64,)
/// }
///
/// # fn main() -> Result<(), parallelizer::Error> {
/// let cluster = Cluster::init()?; // once per process, on the main thread
/// let coordinator = Coordinator::new(64);
/// // Every rank makes this call; rank 0 gets the results.
/// if let Some(results) = cluster.dispatch(&coordinator, Square, 1_000_000, 1000)? {
///     assert_eq!(results.get(999), Some((998_001,)));
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Failures
///
/// A worker that panics on any rank fails the dispatch on every rank with
/// the same [`Error::ClusterWorkerPanicked`], naming the rank and the task
/// id; chunks still running elsewhere are cancelled at their next batch
/// boundary. A rank that cannot take part (say, a task whose memory it never
/// defined) fails it everywhere with [`Error::ClusterRankFailed`], and ranks
/// whose calls differ with [`Error::ClusterMismatch`]. The cluster can run
/// further dispatches after a failed one.
///
/// A rank that dies ends the whole MPI job: `mpirun` (or `srun`) kills the
/// other ranks. A rank that panics outside a worker does the same: dropping a
/// `Cluster` while panicking aborts the MPI job rather than leave the other
/// ranks waiting for this one.
///
/// # Threads
///
/// MPI is initialized with `MPI_THREAD_FUNNELED`: only the thread that called
/// [`init`](Self::init) talks MPI, which the type enforces (a `Cluster` is
/// neither `Send` nor `Sync`). The coordinator's pool threads only run
/// workers.
pub struct Cluster {
    /// A duplicate of the world, for this type's own messages. Freed before
    /// the universe finalizes MPI (fields drop in order).
    comm: SimpleCommunicator,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    max_message: usize,
    /// Rank 0's result buffers, handed back by dropped results for reuse.
    buffers: Arc<BufferPool>,
    /// Finalizes MPI when dropped, after the communicators above.
    _universe: Universe,
    /// MPI calls stay on the thread that initialized MPI.
    funneled: PhantomData<*const ()>,
}

/// Message tags on the cluster's communicator.
const TAG_REQUEST: Tag = 1;
const TAG_REPLY: Tag = 2;
const TAG_DATA: Tag = 3;
const TAG_CANCEL: Tag = 4;

/// Header kinds from a rank to rank 0.
const READY: u64 = 1;
const DONE: u64 = 2;
const PANICKED: u64 = 3;
const FAILED: u64 = 4;
const CANCELLED: u64 = 5;
/// Header kinds from rank 0 to a rank.
const CHUNK: u64 = 11;
const FINISHED: u64 = 12;
const FAILURE: u64 = 13;
const CANCEL: u64 = 14;

/// Every header is six `u64`s: a kind, then its fields.
type Header = [u64; 6];

/// The largest MPI message by default: well below `i32::MAX` bytes.
const DEFAULT_MAX_MESSAGE: usize = 1 << 30;

/// The largest chunk, in bytes of packets, unless one batch is larger: what
/// a rank holds before it sends a chunk back.
const MAX_CHUNK_BYTES: usize = 64 << 20;

/// The exit code of an MPI job aborted because a rank panicked.
const ABORT_PANICKED: i32 = 101;
/// The exit code of an MPI job aborted because a message broke the protocol.
const ABORT_PROTOCOL: i32 = 70;

impl Cluster {
    /// Initializes MPI for this process and returns its cluster.
    ///
    /// Call it once per process, on the main thread (the one that will make
    /// the dispatches), before anything else uses MPI. Dropping the cluster
    /// finalizes MPI; it cannot be initialized again in the same process.
    ///
    /// # Errors
    ///
    /// [`Error::ClusterInit`] if MPI was already initialized in this process,
    /// or if the MPI library cannot give `MPI_THREAD_FUNNELED`.
    pub fn init() -> Result<Cluster, Error> {
        let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Funneled)
        else {
            return Err(Error::ClusterInit {
                message: "MPI is already initialized in this process: call `Cluster::init` \
                          once, and let nothing else initialize MPI"
                    .into(),
            });
        };
        if threading < Threading::Funneled {
            return Err(Error::ClusterInit {
                message: format!(
                    "the MPI library offers the threading level {threading:?}, and a cluster \
                     needs Funneled (worker threads run while the main thread talks MPI)"
                ),
            });
        }
        let world = universe.world();
        let comm = world.duplicate();
        Ok(Cluster {
            rank: rank_index(world.rank()),
            size: rank_index(world.size()),
            comm,
            world,
            max_message: DEFAULT_MAX_MESSAGE,
            buffers: Arc::default(),
            _universe: universe,
            funneled: PhantomData,
        })
    }

    /// This process's rank: 0 to [`size`](Self::size) - 1. Rank 0 receives
    /// the results of every dispatch.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks (processes) in the MPI job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The world communicator, for the program's own MPI calls (through the
    /// [`mpi`](crate::mpi) crate that parallelizer re-exports). The cluster's
    /// messages travel on a communicator of their own.
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Waits until every rank has called `barrier`. The wait sleeps between
    /// polls rather than spinning, so ranks that wait leave the cores to
    /// ranks that work.
    pub fn barrier(&self) {
        wait_politely(self.comm.immediate_barrier());
    }

    /// Ends the whole MPI job at once, every rank with it (`MPI_Abort`).
    pub fn abort(&self, exit_code: i32) -> ! {
        self.world.abort(exit_code)
    }

    /// The largest MPI message this rank sends, in bytes: results go in
    /// pieces of at most this size. 1 GiB by default; at least 1, at most
    /// `i32::MAX`. Ranks need not agree on it.
    pub fn set_max_message_bytes(&mut self, bytes: usize) {
        self.max_message = bytes.clamp(1, i32::MAX as usize);
    }

    /// The largest MPI message this rank sends, in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message
    }

    /// Runs task ids `0..threads` in batches of `batch` across every rank and
    /// returns the results on rank 0, `None` on the other ranks.
    ///
    /// A collective call: every rank must make it, with the same task,
    /// `threads` and `batch`, and with the task's memory defined on its
    /// `coordinator` (by the same code). It returns on every rank once the
    /// whole job has finished or failed. Batch `k` holds ids
    /// `k * batch .. min((k + 1) * batch, threads)`, as in
    /// [`Coordinator::dispatch`]; whole batches are shared out, and each rank
    /// runs its batches on its coordinator's pool.
    ///
    /// # Errors
    ///
    /// The same error on every rank: [`Error::ClusterWorkerPanicked`] if a
    /// worker panicked on any rank, [`Error::ClusterRankFailed`] if a rank
    /// could not take part (it names the rank and carries its error, such as
    /// a zero batch size, memory not defined, or results too large for rank
    /// 0), [`Error::ClusterMismatch`] if the ranks' calls differ.
    pub fn dispatch<T: Worker<Args = ()>>(
        &self,
        coordinator: &Coordinator,
        task: T,
        threads: usize,
        batch: usize,
    ) -> Result<Option<Results<T>>, Error> {
        self.dispatch_with(coordinator, task, threads, batch, ())
    }

    /// [`dispatch`](Self::dispatch) for a task that declares `args`: every
    /// worker call on every rank gets `&args`, so every rank must pass the
    /// same value.
    ///
    /// # Errors
    ///
    /// As [`dispatch`](Self::dispatch).
    pub fn dispatch_with<T: Worker>(
        &self,
        coordinator: &Coordinator,
        _task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
    ) -> Result<Option<Results<T>>, Error> {
        let (memory, buffer) = self.agree::<T>(coordinator, threads, batch)?;
        let job = Share {
            coordinator,
            plan: Plan::new(
                threads,
                batch,
                T::PACKET_SIZE,
                self.size,
                coordinator.threads().min(coordinator.actors()),
            ),
            memory,
            args: Arc::new(args),
        };
        if self.rank == 0 {
            self.lead(job, buffer).map(Some)
        } else {
            self.follow(job).map(|()| None)
        }
    }

    /// The collective start of a dispatch: checks that every rank makes the
    /// same call and can take part, and returns the task's memory (and on
    /// rank 0 the results buffer), or the same error on every rank.
    fn agree<T: Worker>(
        &self,
        coordinator: &Coordinator,
        threads: usize,
        batch: usize,
    ) -> Result<(Arc<T::Memory>, Vec<u8>), Error> {
        // Ranks that arrive early sleep here rather than spin in the gather.
        self.barrier();
        let local = self.prepare::<T>(coordinator, threads, batch);
        let call: Header = [
            task_key::<T>(),
            threads as u64,
            batch as u64,
            u64::from(local.is_err()),
            0,
            0,
        ];
        let mut calls = vec![0u64; call.len() * self.size];
        self.comm.all_gather_into(&call[..], &mut calls[..]);
        let calls: Vec<&[u64]> = calls.chunks(call.len()).collect();

        for (rank, theirs) in calls.iter().enumerate().skip(1) {
            for (field, what) in [(0, "task"), (1, "threads"), (2, "batch")] {
                if theirs[field] != calls[0][field] {
                    return Err(Error::ClusterMismatch {
                        task: T::NAME,
                        rank,
                        what,
                        expected: calls[0][field],
                        found: theirs[field],
                    });
                }
            }
        }
        let Some(failed) = calls.iter().position(|theirs| theirs[3] != 0) else {
            return local;
        };
        // The lowest failing rank tells everyone why.
        let root = self.comm.process_at_rank(failed as Rank);
        let mut message = match &local {
            Err(error) if self.rank == failed => error.to_string().into_bytes(),
            _ => Vec::new(),
        };
        message.truncate(1 << 16);
        let mut len = [message.len() as u64];
        root.broadcast_into(&mut len[..]);
        message.resize(len[0] as usize, 0);
        if !message.is_empty() {
            root.broadcast_into(&mut message[..]);
        }
        Err(Error::ClusterRankFailed {
            task: T::NAME,
            rank: failed,
            message: String::from_utf8_lossy(&message).into_owned(),
        })
    }

    /// This rank's checks before a dispatch, as `Coordinator::dispatch` makes
    /// them: the batch size, the memory, and on rank 0 the results buffer.
    fn prepare<T: Worker>(
        &self,
        coordinator: &Coordinator,
        threads: usize,
        batch: usize,
    ) -> Result<(Arc<T::Memory>, Vec<u8>), Error> {
        Shape::new::<T>(threads, batch, coordinator.actors())?;
        let memory = coordinator.memory_of::<T>()?;
        if self.rank != 0 {
            return Ok((memory, Vec::new()));
        }
        let len = threads
            .checked_mul(T::PACKET_SIZE)
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or(Error::ResultsTooLarge {
                task: T::NAME,
                threads,
                packet_size: T::PACKET_SIZE,
            })?;
        // A cluster of one runs the whole job as one local chunk, whose
        // results are the buffer.
        let len = if self.size == 1 { 0 } else { len };
        let buffer = self.buffers.take(len).ok_or(Error::AllocationFailed {
            task: T::NAME,
            bytes: len,
        })?;
        Ok((memory, buffer))
    }

    /// Rank 0's side of a dispatch: hands out chunks, runs its own, and
    /// gathers every chunk's packets into `bytes`.
    fn lead<T: Worker>(
        &self,
        mut job: Share<'_, T>,
        mut bytes: Vec<u8>,
    ) -> Result<Results<T>, Error> {
        if self.size == 1 {
            let whole = 0..job.plan.batches;
            let results = job
                .run_here(&whole)
                .map_err(|error| chunk_error::<T>(0, 0, error))?;
            return Ok(self.results(results.into_bytes()));
        }
        let mut ranks = vec![Follower::default(); self.size];
        ranks[0].ended = true;
        let mut failure: Option<Error> = None;
        let mut local: Option<(Range<usize>, Dispatch<Chunk<T>>)> = None;
        let mut idle = Idle::default();
        loop {
            let mut busy = false;

            // This rank's own chunk.
            if local.as_ref().is_some_and(|(_, run)| run.is_finished()) {
                busy = true;
                let (batches, run) = local.take().expect("checked above");
                let ids = job.plan.ids(&batches);
                match run.wait() {
                    Ok(results) => {
                        bytes[job.plan.byte_range::<T>(&ids)].copy_from_slice(results.as_bytes())
                    }
                    Err(error) => {
                        failure.get_or_insert(chunk_error::<T>(0, ids.start, error));
                    }
                }
            }
            if local.is_none() && failure.is_none() {
                if let Some(batches) = job.plan.take() {
                    busy = true;
                    local = Some((batches.clone(), job.spawn(&batches)));
                }
            }

            // One message from another rank.
            if let Some((message, status)) = self
                .comm
                .any_process()
                .immediate_matched_probe_with_tag(TAG_REQUEST)
            {
                busy = true;
                let from = rank_index(status.source_rank());
                let mut header: Header = [0; 6];
                let status = message.matched_receive_into(&mut header[..]);
                self.check_count(&status, header.len(), "a request header");
                if from == 0 || from >= self.size || ranks[from].ended {
                    self.protocol_error("a request from a rank that has no dispatch running");
                }
                if header[0] != READY {
                    let Some(batches) = ranks[from].chunk.take() else {
                        self.protocol_error("a chunk returned by a rank that had none");
                    };
                    let ids = job.plan.ids(&batches);
                    match header[0] {
                        DONE => {
                            if header[1..3] != [batches.start as u64, batches.end as u64] {
                                self.protocol_error("a rank returned another chunk than its own");
                            }
                            self.receive_bytes(from, &mut bytes[job.plan.byte_range::<T>(&ids)]);
                        }
                        PANICKED | FAILED | CANCELLED => {
                            let message = self.receive_message(from, header[2]);
                            let error = (header[0] != CANCELLED)
                                .then(|| failure_of::<T>(header[0], from, header[1], message));
                            if let Some(error) = error {
                                failure.get_or_insert(error);
                            }
                        }
                        _ => self.protocol_error("an unknown request"),
                    }
                }
                if let Some(error) = &failure {
                    self.send_failure(from, error, &mut ranks[from]);
                } else if let Some(batches) = job.plan.take() {
                    let header = [CHUNK, batches.start as u64, batches.end as u64, 0, 0, 0];
                    self.send_header(from, TAG_REPLY, &header);
                    ranks[from].chunk = Some(batches);
                } else {
                    ranks[from].parked = true;
                }
            }

            // A failed job stops everywhere at the next batch boundary.
            if failure.is_some() {
                if let Some((_, run)) = &local {
                    run.cancel();
                }
                for (rank, follower) in ranks.iter_mut().enumerate() {
                    if follower.chunk.is_some() && !follower.cancel_sent {
                        self.send_header(rank, TAG_CANCEL, &[CANCEL, 0, 0, 0, 0, 0]);
                        follower.cancel_sent = true;
                    }
                }
            }

            // Ranks waiting for work learn the outcome once it is known.
            let finished = job.plan.is_exhausted()
                && local.is_none()
                && ranks.iter().all(|follower| follower.chunk.is_none());
            if finished || failure.is_some() {
                for (rank, follower) in ranks.iter_mut().enumerate() {
                    if !follower.parked || follower.ended {
                        continue;
                    }
                    match &failure {
                        Some(error) => self.send_failure(rank, error, follower),
                        None => {
                            self.send_header(rank, TAG_REPLY, &[FINISHED, 0, 0, 0, 0, 0]);
                            follower.ended = true;
                        }
                    }
                }
            }
            if local.is_none() && ranks.iter().all(|follower| follower.ended) {
                break;
            }
            if busy {
                idle.reset();
            } else {
                idle.pause();
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(self.results(bytes)),
        }
    }

    /// The side of a dispatch of every rank but 0: asks rank 0 for chunks,
    /// runs them, and sends their packets back until the job ends.
    fn follow<T: Worker>(&self, job: Share<'_, T>) -> Result<(), Error> {
        self.send_header(0, TAG_REQUEST, &[READY, 0, 0, 0, 0, 0]);
        let mut cancelled = false;
        loop {
            let reply = self.receive_header(TAG_REPLY);
            match reply[0] {
                CHUNK => {
                    let batches = to_index(reply[1])..to_index(reply[2]);
                    if batches.is_empty() || batches.end > job.plan.batches {
                        self.protocol_error("a chunk outside the job");
                    }
                    let ids = job.plan.ids(&batches);
                    let run = job.spawn(&batches);
                    let mut idle = Idle::default();
                    while !run.is_finished() {
                        if !cancelled && self.take_cancel(false) {
                            cancelled = true;
                            run.cancel();
                        } else {
                            idle.pause();
                        }
                    }
                    match run.wait() {
                        Ok(results) => {
                            let header = [DONE, reply[1], reply[2], 0, 0, 0];
                            self.send_header(0, TAG_REQUEST, &header);
                            self.send_bytes(0, results.as_bytes());
                        }
                        Err(Error::Cancelled { .. }) if cancelled => {
                            self.send_header(0, TAG_REQUEST, &[CANCELLED, 0, 0, 0, 0, 0]);
                        }
                        Err(error) => {
                            let error = chunk_error::<T>(self.rank, ids.start, error);
                            let (kind, task_id, message) = encode_failure(&error);
                            let header = [kind, task_id, message.len() as u64, 0, 0, 0];
                            self.send_header(0, TAG_REQUEST, &header);
                            self.send_bytes(0, message.as_bytes());
                        }
                    }
                }
                FINISHED => return Ok(()),
                FAILURE => {
                    let message = self.receive_message(0, reply[4]);
                    let error = failure_of::<T>(reply[2], to_index(reply[1]), reply[3], message);
                    // A cancel sent while this rank's chunk was returning is
                    // still queued: take it, so that it cannot reach the next
                    // dispatch.
                    if reply[5] != 0 && !cancelled {
                        self.take_cancel(true);
                    }
                    return Err(error);
                }
                _ => self.protocol_error("an unknown reply"),
            }
        }
    }

    /// Results whose buffer comes back to this cluster when they are dropped.
    fn results<T: Task>(&self, bytes: Vec<u8>) -> Results<T> {
        Results::from_filled(bytes, Arc::downgrade(&self.buffers))
    }

    /// Tells `rank` that the job failed, with `error`; its last answer.
    fn send_failure(&self, rank: usize, error: &Error, follower: &mut Follower) {
        let (kind, task_id, message) = encode_failure(error);
        let failed_rank = match error {
            Error::ClusterWorkerPanicked { rank, .. } | Error::ClusterRankFailed { rank, .. } => {
                *rank as u64
            }
            _ => 0,
        };
        let header = [
            FAILURE,
            failed_rank,
            kind,
            task_id,
            message.len() as u64,
            u64::from(follower.cancel_sent),
        ];
        self.send_header(rank, TAG_REPLY, &header);
        self.send_bytes(rank, message.as_bytes());
        follower.ended = true;
        follower.parked = false;
    }

    /// Takes rank 0's cancel message: whether one was there, or, if `wait`,
    /// once it is.
    fn take_cancel(&self, wait: bool) -> bool {
        let process = self.comm.process_at_rank(0);
        let mut idle = Idle::default();
        loop {
            if let Some((message, _)) = process.immediate_matched_probe_with_tag(TAG_CANCEL) {
                let mut header: Header = [0; 6];
                let status = message.matched_receive_into(&mut header[..]);
                self.check_count(&status, header.len(), "a cancel header");
                return true;
            }
            if !wait {
                return false;
            }
            idle.pause();
        }
    }

    fn send_header(&self, rank: usize, tag: Tag, header: &Header) {
        self.comm
            .process_at_rank(rank as Rank)
            .send_with_tag(&header[..], tag);
    }

    /// Waits, sleeping between polls, for rank 0's next header with `tag`.
    fn receive_header(&self, tag: Tag) -> Header {
        let process = self.comm.process_at_rank(0);
        let mut idle = Idle::default();
        loop {
            if let Some((message, _)) = process.immediate_matched_probe_with_tag(tag) {
                let mut header: Header = [0; 6];
                let status = message.matched_receive_into(&mut header[..]);
                self.check_count(&status, header.len(), "a header");
                return header;
            }
            idle.pause();
        }
    }

    /// Sends `bytes` to `rank` in pieces of at most `max_message` bytes.
    fn send_bytes(&self, rank: usize, bytes: &[u8]) {
        let process = self.comm.process_at_rank(rank as Rank);
        for piece in bytes.chunks(self.max_message) {
            process.send_with_tag(piece, TAG_DATA);
        }
    }

    /// Fills `bytes` from the pieces `rank` sends, whatever their sizes.
    fn receive_bytes(&self, rank: usize, mut bytes: &mut [u8]) {
        let process = self.comm.process_at_rank(rank as Rank);
        while !bytes.is_empty() {
            let (message, status) = process.matched_probe_with_tag(TAG_DATA);
            let len = usize::try_from(status.count(u8::equivalent_datatype())).unwrap_or(0);
            if len == 0 || len > bytes.len() {
                self.protocol_error("a piece of packets larger than its chunk");
            }
            let (piece, rest) = std::mem::take(&mut bytes).split_at_mut(len);
            message.matched_receive_into(piece);
            bytes = rest;
        }
    }

    /// Receives a failure message of `len` bytes from `rank`.
    fn receive_message(&self, rank: usize, len: u64) -> String {
        let Some(mut message) = usize::try_from(len)
            .ok()
            .filter(|&len| len <= 1 << 30)
            .map(|len| vec![0; len])
        else {
            self.protocol_error("a failure message larger than 1 GiB");
        };
        self.receive_bytes(rank, &mut message);
        String::from_utf8_lossy(&message).into_owned()
    }

    fn check_count(&self, status: &mpi::point_to_point::Status, expected: usize, what: &str) {
        if usize::try_from(status.count(u64::equivalent_datatype())).ok() != Some(expected) {
            self.protocol_error(&format!("{what} of the wrong size"));
        }
    }

    /// Ends the MPI job: a message broke the protocol (ranks running
    /// different builds, or a bug), and waiting could hang every rank.
    fn protocol_error(&self, what: &str) -> ! {
        eprintln!(
            "parallelizer: rank {} of the cluster received {what}: aborting the MPI job \
             (do all ranks run the same build, making the same dispatches?)",
            self.rank
        );
        self.world.abort(ABORT_PROTOCOL)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "parallelizer: rank {} panicked while it held the cluster: aborting the MPI \
                 job so that no other rank waits for it",
                self.rank
            );
            self.world.abort(ABORT_PANICKED);
        }
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("max_message_bytes", &self.max_message)
            .finish_non_exhaustive()
    }
}

/// What rank 0 knows of another rank during a dispatch.
#[derive(Debug, Clone, Default)]
struct Follower {
    /// The batches it is running.
    chunk: Option<Range<usize>>,
    /// It asked for work when none was left: it waits for the outcome.
    parked: bool,
    /// It has had its last answer.
    ended: bool,
    /// It was sent a cancel during this dispatch.
    cancel_sent: bool,
}

/// One rank's share of a dispatch: how the job is cut, and what its chunks
/// run with.
struct Share<'a, T: Task> {
    coordinator: &'a Coordinator,
    plan: Plan,
    memory: Arc<T::Memory>,
    args: Arc<T::Args>,
}

impl<T: Worker> Share<'_, T> {
    fn chunk_args(&self, ids: &Range<usize>) -> ChunkArgs<T> {
        ChunkArgs {
            first_id: ids.start,
            memory: Arc::clone(&self.memory),
            args: Arc::clone(&self.args),
        }
    }

    /// Starts `batches` on the coordinator's pool.
    fn spawn(&self, batches: &Range<usize>) -> Dispatch<Chunk<T>> {
        let ids = self.plan.ids(batches);
        self.coordinator.spawn_with(
            Chunk::new(),
            ids.len(),
            self.plan.batch,
            self.chunk_args(&ids),
        )
    }

    /// Runs `batches` and waits for them.
    fn run_here(&self, batches: &Range<usize>) -> Result<Results<Chunk<T>>, Error> {
        let ids = self.plan.ids(batches);
        self.coordinator.dispatch_with(
            Chunk::new(),
            ids.len(),
            self.plan.batch,
            self.chunk_args(&ids),
        )
    }
}

/// How a job is cut into chunks of whole batches, handed out in order.
#[derive(Debug, Clone)]
struct Plan {
    threads: usize,
    batch: usize,
    batches: usize,
    /// The first batch not yet handed out.
    next: usize,
    ranks: usize,
    min_chunk: usize,
    max_chunk: usize,
}

impl Plan {
    fn new(threads: usize, batch: usize, packet_size: usize, ranks: usize, lanes: usize) -> Plan {
        let batch_bytes = batch.min(threads).max(1).saturating_mul(packet_size);
        let max_chunk = (MAX_CHUNK_BYTES / batch_bytes.max(1)).max(1);
        Plan {
            threads,
            batch,
            batches: threads.div_ceil(batch),
            next: 0,
            ranks: ranks.max(1),
            // Enough batches to keep a rank's pool busy.
            min_chunk: lanes.clamp(1, max_chunk),
            max_chunk,
        }
    }

    /// The next chunk: a share of what is left that shrinks as the job nears
    /// its end (guided self-scheduling), so a rank that asks sooner takes
    /// more and the last chunks are small.
    fn take(&mut self) -> Option<Range<usize>> {
        let left = self.batches - self.next;
        if left == 0 {
            return None;
        }
        let size = left
            .div_ceil(2 * self.ranks)
            .clamp(self.min_chunk, self.max_chunk)
            .min(left);
        let start = self.next;
        self.next += size;
        Some(start..self.next)
    }

    fn is_exhausted(&self) -> bool {
        self.next == self.batches
    }

    /// The task ids of `batches`.
    fn ids(&self, batches: &Range<usize>) -> Range<usize> {
        let start = batches.start.saturating_mul(self.batch).min(self.threads);
        let end = batches.end.saturating_mul(self.batch).min(self.threads);
        start..end
    }

    /// Where the packets of task ids `ids` lie in the results buffer.
    fn byte_range<T: Task>(&self, ids: &Range<usize>) -> Range<usize> {
        ids.start * T::PACKET_SIZE..ids.end * T::PACKET_SIZE
    }
}

/// Task `T` over the task ids of one chunk: its local task id `i` is `T`'s
/// task id `first_id + i`, so a coordinator runs a chunk as a dispatch of
/// its own, packets and all, on its pool.
struct Chunk<T>(PhantomData<fn() -> T>);

impl<T> Chunk<T> {
    fn new() -> Self {
        Chunk(PhantomData)
    }
}

/// What a chunk's workers see: the offset of its task ids, and `T`'s memory
/// and args.
struct ChunkArgs<T: Task> {
    first_id: usize,
    memory: Arc<T::Memory>,
    args: Arc<T::Args>,
}

impl<T: Worker> crate::task::sealed::SealedTask for Chunk<T> {}
impl<T: Worker> Task for Chunk<T> {
    type Output = T::Output;
    type Packet = T::Packet;
    type Memory = ();
    type Args = ChunkArgs<T>;
    const NAME: &'static str = T::NAME;
    const PACKET_SIZE: usize = T::PACKET_SIZE;
    const HAS_MEMORY: bool = false;
    const FIELD_TYPES: &'static [&'static str] = T::FIELD_TYPES;
    const FIELD_SIZES: &'static [usize] = T::FIELD_SIZES;

    fn encode(output: Self::Output) -> Self::Packet {
        T::encode(output)
    }

    fn decode(packet: &Self::Packet) -> Self::Output {
        T::decode(packet)
    }

    fn validate(packet: &Self::Packet) -> Result<(), FieldError> {
        T::validate(packet)
    }
}

impl<T: Worker> Worker for Chunk<T> {
    fn run(task_id: usize, _memory: &(), args: &ChunkArgs<T>) -> T::Output {
        T::run(args.first_id + task_id, &args.memory, &args.args)
    }
}

/// The cluster error for a chunk of `rank` whose task ids start at
/// `first_id` and that failed with `error`.
fn chunk_error<T: Task>(rank: usize, first_id: usize, error: Error) -> Error {
    match error {
        Error::WorkerPanicked {
            task_id, message, ..
        } => Error::ClusterWorkerPanicked {
            task: T::NAME,
            rank,
            task_id: first_id + task_id,
            message,
        },
        error => Error::ClusterRankFailed {
            task: T::NAME,
            rank,
            message: error.to_string(),
        },
    }
}

/// A cluster error as it travels: its kind, task id and message.
fn encode_failure(error: &Error) -> (u64, u64, String) {
    match error {
        Error::ClusterWorkerPanicked {
            task_id, message, ..
        } => (PANICKED, *task_id as u64, message.clone()),
        Error::ClusterRankFailed { message, .. } => (FAILED, 0, message.clone()),
        error => (FAILED, 0, error.to_string()),
    }
}

/// The cluster error that arrived as `kind`, from `rank`.
fn failure_of<T: Task>(kind: u64, rank: usize, task_id: u64, message: String) -> Error {
    if kind == PANICKED {
        Error::ClusterWorkerPanicked {
            task: T::NAME,
            rank,
            task_id: to_index(task_id),
            message,
        }
    } else {
        Error::ClusterRankFailed {
            task: T::NAME,
            rank,
            message,
        }
    }
}

/// A hash of the task's name and packet schema, which every rank of a
/// dispatch must share.
fn task_key<T: Task>() -> u64 {
    // 64-bit FNV-1a, as the schema fingerprint.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let fingerprint = T::schema().fingerprint().to_le_bytes();
    for &byte in T::NAME.as_bytes().iter().chain(&[0]).chain(&fingerprint) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn rank_index(rank: Rank) -> usize {
    usize::try_from(rank).expect("MPI ranks and sizes are not negative")
}

fn to_index(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Waits for an MPI request, sleeping between polls.
fn wait_politely(mut request: Request<'static, ()>) {
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
struct Idle {
    polls: u32,
}

impl Idle {
    const YIELDS: u32 = 16;

    fn pause(&mut self) {
        if self.polls < Self::YIELDS {
            thread::yield_now();
        } else {
            let doublings = (self.polls - Self::YIELDS).min(5);
            let pause = Duration::from_micros(50 << doublings).min(Duration::from_millis(1));
            thread::sleep(pause);
        }
        self.polls = self.polls.saturating_add(1);
    }

    fn reset(&mut self) {
        self.polls = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_job_once_and_shrink() {
        for (threads, batch, ranks, lanes) in [(10_007, 64, 3, 2), (1000, 7, 1, 4), (5, 10, 4, 2)] {
            let mut plan = Plan::new(threads, batch, 17, ranks, lanes);
            let mut next = 0;
            let mut sizes = Vec::new();
            while let Some(batches) = plan.take() {
                assert_eq!(batches.start, next);
                assert!(!batches.is_empty());
                sizes.push(batches.len());
                next = batches.end;
            }
            assert_eq!(next, threads.div_ceil(batch));
            assert!(plan.is_exhausted());
            assert!(sizes.windows(2).all(|pair| pair[0] >= pair[1]), "{sizes:?}");
            let last = plan.ids(&(next - 1..next));
            assert_eq!(last.end, threads);
        }
    }

    #[test]
    fn a_chunk_holds_at_most_64_mib_unless_a_batch_is_larger() {
        let plan = Plan::new(1 << 40, 1000, 205, 3, 2);
        assert_eq!(plan.max_chunk, (64 << 20) / (1000 * 205));
        let huge = Plan::new(1 << 40, 1 << 20, 205, 3, 2);
        assert_eq!(huge.max_chunk, 1);
        assert_eq!(huge.min_chunk, 1);
    }
}
