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
//! # Files
//!
//! - this one: the public [`Cluster`] API, and the collective start of a
//!   dispatch, in which every rank checks that all make the same call (a
//!   barrier is that start, with no job after it);
//! - [`protocol`]: the messages of a dispatch as Rust types, encoded to and
//!   decoded from the fixed headers that travel, in one place;
//! - [`link`]: those messages on MPI, and the polite polling of every wait;
//! - [`heartbeat`]: the heartbeats that tell a lost rank from a busy one,
//!   during a dispatch, and the waits for transfers that keep beating;
//! - [`leader`]: rank 0's side of a dispatch, one method per event;
//! - [`follower`]: the side of every other rank;
//! - [`plan`]: how a job is cut into chunks;
//! - [`share`]: how a rank runs its chunks (global task ids) on its
//!   coordinator;
//! - [`to_file`]: a job streamed into a results file on rank 0, a window of
//!   chunks at a time, and resumed from it.
//!
//! All traffic runs on a duplicate of `MPI_COMM_WORLD`, so it never mixes
//! with the program's own MPI messages. Counts are packets and batches,
//! carried as `u64`; the bytes go in pieces of at most 60 KiB (less if
//! [`Cluster::set_max_message_bytes`] says so), which arrive whole before
//! rank 0 receives them (see `link`), so no MPI count comes near `i32::MAX`
//! however large the results, and a lost peer strands no receive on rank
//! 0. Every rank gets exactly
//! one final answer per dispatch, all at once, and no message but the
//! heartbeats outlives its dispatch, so dispatches can follow each other on
//! one cluster. A dispatch makes no collective MPI call: its start is
//! messages to and from rank 0 like the rest, so that every wait in it
//! beats, and a lost rank ends it.

mod follower;
mod heartbeat;
mod leader;
mod link;
mod plan;
mod protocol;
mod share;
mod to_file;

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::buffer::{BufferPool, PacketBuffer};
use crate::coordinator::Coordinator;
use crate::error::Error;
use crate::results::Results;
use crate::resume::{FileOptions, RunSummary};
use crate::run;
use crate::task::{Task, Worker};
use crate::wire::WireType;
use follower::Follower;
use heartbeat::{Heartbeat, BEAT_PERIOD};
use link::{rank_index, BeatSend, Idle, Link, ABORT_RANK_LOST};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator;
use mpi::Threading;
use plan::Plan;
use protocol::{clip, Call, Collective};
use share::Share;
use to_file::FileJob;
use zerocopy::IntoBytes;

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
/// # Lost ranks
///
/// A rank that stops answering without dying (its host cut off, its process
/// frozen) is noticed by its heartbeats: during a dispatch, rank 0 and every
/// other rank send each other one every 250 ms, on the cluster's own
/// messages. Once one has been silent for longer than the
/// [peer timeout](Self::set_peer_timeout) (5 s by default), the dispatch
/// fails with [`Error::ClusterRankLost`] on every rank that can still talk:
/// rank 0 names the silent rank and tells the others; a rank cut off from
/// rank 0 names rank 0. The cluster is then unusable: its later dispatches
/// fail with the same error at once, and dropping it ends the MPI job with
/// `MPI_Abort` (exit code 69), since finalizing MPI would wait for the lost
/// rank forever. Rank 0 returns the error even when the lost rank's packets
/// were on their way: they travel in pieces of at most 60 KiB, which Open
/// MPI's TCP transport sends whole (eagerly), and rank 0 receives a piece
/// only once all of it is there. The other ranks return it too when they
/// lose rank 0 while they send it packets (they are cut off, or rank 0's
/// host is): a rank on another node than rank 0 sends to it through MPI's
/// buffer for buffered sends, which the cluster attaches there (about
/// 4 MiB), as rank 0's credit allows, so no send of theirs waits for a dead
/// link. (Ranks on rank 0's node send directly, through shared memory, which
/// no cable cuts.)
///
/// A transfer can still be stranded (MPI keeps its memory until it ends,
/// and cannot cancel it) where these do not hold: a receive of rank 0's
/// under way with a transport that sends 60 KiB in parts; rank 0's send of
/// a failure's message (up to 64 KiB) to a cut-off rank not yet found
/// silent, if the link's own buffers do not take it; a rank on rank 0's
/// node sending a piece to a frozen rank 0. The rank holding it then, as a
/// last resort, prints the error and ends the MPI job at once rather than
/// return.
///
/// A long job that must survive a lost node writes its results as it goes
/// with [`run_to_file`](Self::run_to_file): started again on the ranks that
/// remain, it resumes after the last chunk the file holds.
///
/// Ranks are only watched inside a dispatch, once they have joined it: a
/// rank busy with the program's own work between dispatches (rank 0 writing
/// results, say) sends no heartbeats, and the others wait for it at the
/// start of the next dispatch, as for any collective call, however long,
/// unless a [join timeout](Self::set_join_timeout) is set. A
/// [`barrier`](Self::barrier) is watched the same way, joined ranks by
/// their heartbeats and absent ones by the join timeout: a rank lost in it
/// makes [`checked_barrier`](Self::checked_barrier) fail with
/// [`Error::ClusterRankLost`] (and [`barrier`](Self::barrier) return, the
/// cluster unusable), rather than wait forever.
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
    /// This rank is on another node than rank 0, and sends it buffered.
    buffered: bool,
    /// On rank 0: which ranks send it buffered.
    buffered_peers: Vec<bool>,
    peer_timeout: Duration,
    join_timeout: Option<Duration>,
    /// Rank 0's result buffers, handed back by dropped results for reuse.
    buffers: Arc<BufferPool>,
    /// What lasts from one dispatch to the next.
    state: RefCell<State>,
    /// Finalizes MPI when dropped, after the communicators above.
    _universe: Universe,
    /// MPI calls stay on the thread that initialized MPI.
    funneled: PhantomData<*const ()>,
}

/// How a collective call started on this rank.
enum Begun {
    /// This rank is rank 0, and the job runs.
    Leader,
    /// The job runs, and this rank's first chunk is these batches.
    Follower(Range<usize>),
    /// The job is over already (it had nothing to run).
    Over,
}

/// What a cluster keeps from one dispatch to the next.
#[derive(Default)]
struct State {
    /// The loss of a rank, which made the cluster unusable.
    lost: Option<Error>,
    /// The number of collective calls made (dispatches, jobs to a file and
    /// barriers), this rank's and every rank's alike.
    dispatches: u64,
    /// This rank's last heartbeat to rank 0, if its send may not have ended.
    beat: Option<BeatSend>,
}

/// The largest MPI message by default: well below `i32::MAX` bytes.
const DEFAULT_MAX_MESSAGE: usize = 1 << 30;

/// How long a rank may be silent, by default, before it is taken for lost.
const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest peer timeout: four heartbeats.
const MIN_PEER_TIMEOUT: Duration = Duration::from_secs(1);
const _: () = assert!(MIN_PEER_TIMEOUT.as_millis() >= 4 * BEAT_PERIOD.as_millis());

/// How long a cluster that is dropped waits for its last heartbeat's send.
const LAST_BEAT_WAIT: Duration = Duration::from_secs(1);

/// The exit code of an MPI job aborted because a rank panicked.
const ABORT_PANICKED: i32 = 101;

/// The task name of a barrier, in its errors: it has no task.
const BARRIER_TASK: &str = "";

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
        let Some((mut universe, threading)) = mpi::initialize_with_threading(Threading::Funneled)
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
        let buffered = link::leader_elsewhere(&world);
        if buffered {
            // This rank sends to rank 0 buffered (see `link`).
            universe.set_buffer_size(link::SEND_BUFFER);
        }
        let buffered_peers = Link::new(&comm, &world, DEFAULT_MAX_MESSAGE, buffered, &[]).connect();
        Ok(Cluster {
            rank: rank_index(world.rank()),
            size: rank_index(world.size()),
            comm,
            world,
            max_message: DEFAULT_MAX_MESSAGE,
            buffered,
            buffered_peers,
            peer_timeout: DEFAULT_PEER_TIMEOUT,
            join_timeout: None,
            buffers: Arc::default(),
            state: RefCell::default(),
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
    /// messages travel on a communicator of their own. MPI's buffer for
    /// buffered sends (`MPI_Bsend`) is the cluster's on every rank on
    /// another node than rank 0: make no buffered sends of your own there,
    /// or they may take the room its messages need.
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Waits until every rank has called `barrier` (or
    /// [`checked_barrier`](Self::checked_barrier)), unless a rank is lost
    /// meanwhile.
    ///
    /// It is [`checked_barrier`](Self::checked_barrier) with its outcome
    /// dropped: a collective call made like the start of a dispatch, which
    /// waits for the other ranks (however long they take, unless a
    /// [join timeout](Self::set_join_timeout) is set) and watches those that
    /// joined with heartbeats, sleeping between polls rather than spinning,
    /// so ranks that wait leave the cores to ranks that work. If a rank is
    /// lost in it (a joined rank silent for the peer timeout, or one absent
    /// past the join timeout: see [Lost ranks](Self#lost-ranks)), it returns
    /// rather than wait forever; the loss is kept: the next dispatch returns
    /// it at once, and dropping the cluster ends the MPI job with
    /// `MPI_Abort`. Call [`checked_barrier`](Self::checked_barrier) to learn
    /// of it (or of ranks that make other calls meanwhile) where it happens.
    ///
    /// On a cluster that lost a rank it returns at once: there is no one
    /// left to wait for.
    pub fn barrier(&self) {
        let _ = self.checked_barrier();
    }

    /// Waits until every rank has called `checked_barrier` (or
    /// [`barrier`](Self::barrier)), and says whether they all did.
    ///
    /// A collective call, made like the start of a
    /// [`dispatch`](Self::dispatch) that runs no job: every rank joins it,
    /// rank 0 answers each once all have joined, and from its join on each
    /// rank is watched with heartbeats, so a rank lost in the barrier (its
    /// host cut off, its process frozen) ends it on every other rank within
    /// the [peer timeout](Self::set_peer_timeout). (Rank 0 leaves last, once
    /// each rank has said it leaves: a rank lost between rank 0's release and
    /// that word is reported by rank 0 alone, since the others have left.)
    /// A rank that has not
    /// joined yet is waited for however long it takes, as at the start of a
    /// dispatch, unless a [join timeout](Self::set_join_timeout) is set. The
    /// waits sleep between polls rather than spin, so ranks that wait leave
    /// the cores to ranks that work.
    ///
    /// ```no_run
    /// use parallelizer::Cluster;
    ///
    /// # fn main() -> Result<(), parallelizer::Error> {
    /// let mut cluster = Cluster::init()?;
    /// // A rank that has not shown up 10 minutes after this one is lost.
    /// cluster.set_join_timeout(Some(std::time::Duration::from_secs(600)));
    /// // ... each rank writes its part of the output ...
    /// // Every rank makes this call; it returns once every rank has.
    /// if let Err(error) = cluster.checked_barrier() {
    ///     // A rank was lost (or called something else): the job cannot go on.
    ///     eprintln!("rank {}: {error}", cluster.rank());
    ///     return Err(error);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ClusterRankLost`] if a rank stopped answering in the
    /// barrier, or did not show up within the join timeout (rank 0 names
    /// it; a rank that lost rank 0 names rank 0), or if a rank was lost
    /// earlier on this cluster (then at once): the cluster is then
    /// unusable, as after a dispatch that lost a rank.
    /// [`Error::ClusterMismatch`] (`what` is `"call"`) on every rank if a
    /// rank makes this call while another makes a dispatch or a
    /// [`run_to_file`](Self::run_to_file); a barrier names no task, so
    /// `task` is `""` on the ranks in the barrier. The cluster goes on after
    /// a mismatch.
    pub fn checked_barrier(&self) -> Result<(), Error> {
        self.collective(|heart| {
            let call = Call::barrier();
            if self.rank == 0 {
                leader::barrier(heart, &call, BARRIER_TASK)
            } else {
                follower::barrier(heart, &call, BARRIER_TASK)
            }
        })
    }

    /// Ends the whole MPI job at once, every rank with it (`MPI_Abort`).
    pub fn abort(&self, exit_code: i32) -> ! {
        self.world.abort(exit_code)
    }

    /// A cap, in bytes, on the pieces in which this rank sends results and
    /// messages: at least 1, at most `i32::MAX`, 1 GiB by default. Ranks
    /// need not agree on it.
    ///
    /// Pieces are never more than 60 KiB whatever the cap, so only a smaller
    /// value changes anything: it cuts the results finer (down to a byte,
    /// which tests use). Pieces that small travel eagerly on Open MPI's TCP
    /// transport (its eager limit is 64 KiB), so a piece that rank 0
    /// receives has arrived whole, and a rank lost mid-transfer cannot leave
    /// rank 0 waiting for the rest (see [Lost ranks](Self#lost-ranks)).
    pub fn set_max_message_bytes(&mut self, bytes: usize) {
        self.max_message = bytes.clamp(1, i32::MAX as usize);
    }

    /// The cap on this rank's pieces, as set: results go in pieces of at
    /// most this and at most 60 KiB.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message
    }

    /// How long a rank may be silent during a dispatch (or a
    /// [`checked_barrier`](Self::checked_barrier)) before this rank takes it
    /// for lost: the dispatch then fails with
    /// [`Error::ClusterRankLost`] (see [Lost ranks](Self#lost-ranks)). 5 s by
    /// default, at least 1 s (shorter values are raised to it).
    ///
    /// Ranks exchange heartbeats every 250 ms whatever their timeouts, so
    /// they need not agree on it; set it on every rank alike all the same,
    /// so that a silence is noticed as soon on every side. A longer timeout
    /// rides out longer stalls (a swapping host, a congested link) but
    /// notices a lost host later: a rank is silent while its main thread
    /// cannot run, so a timeout of a few seconds suits a loaded machine.
    pub fn set_peer_timeout(&mut self, timeout: Duration) {
        self.peer_timeout = timeout.max(MIN_PEER_TIMEOUT);
    }

    /// How long a rank may be silent during a dispatch before this rank
    /// takes it for lost.
    pub fn peer_timeout(&self) -> Duration {
        self.peer_timeout
    }

    /// How long this rank waits, at the start of a dispatch (or of
    /// [`run_to_file`](Self::run_to_file), or in a
    /// [`checked_barrier`](Self::checked_barrier)), for a rank that has not
    /// shown up in it yet, before it takes that rank for lost: `None`, the
    /// default, waits forever. At least 1 s (shorter values are raised to
    /// it).
    ///
    /// Between dispatches a rank sends no heartbeats (only the thread that
    /// made the cluster talks MPI, and it is busy with the program's own
    /// work), so a rank that has not joined a dispatch may be busy or gone:
    /// no one can tell. Rank 0 waits for every rank to join; every other
    /// rank waits for rank 0 until its first heartbeat of the dispatch,
    /// which it sends as soon as it is in it, whatever the other ranks do.
    /// With a join timeout, a rank still absent that long after this rank
    /// began the dispatch is lost: the dispatch fails with
    /// [`Error::ClusterRankLost`] (`silent_for` is how long this rank
    /// waited), as for a rank that falls silent in a dispatch, and the
    /// cluster is unusable from then on. Set it longer than the most work
    /// any rank does between two dispatches (rank 0 writing results, say),
    /// plus the peer timeout; set it alike on every rank. The work inside a
    /// call does not count: [`run_to_file`](Self::run_to_file) verifies an
    /// existing file only once every rank has joined, beating meanwhile, so
    /// however large the file, no rank takes rank 0 for lost while it reads
    /// it.
    pub fn set_join_timeout(&mut self, timeout: Option<Duration>) {
        self.join_timeout = timeout.map(|timeout| timeout.max(MIN_PEER_TIMEOUT));
    }

    /// How long this rank waits for a rank to show up at the start of a
    /// dispatch before it takes it for lost: `None`, forever.
    pub fn join_timeout(&self) -> Option<Duration> {
        self.join_timeout
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
    /// 0), [`Error::ClusterMismatch`] if the ranks' calls differ (another
    /// task, `threads` or `batch`, or a rank that calls
    /// [`run_to_file`](Self::run_to_file) instead).
    /// [`Error::ClusterRankLost`] if a rank stopped answering during the
    /// dispatch (rank 0 names it; a rank that lost rank 0 names rank 0), or
    /// if one did during an earlier dispatch of this cluster (then at once).
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
        self.collective(|heart| self.run(heart, coordinator, threads, batch, args))
    }

    /// Runs task ids `0..threads` in batches of `batch` across every rank
    /// and streams their packets, in task-id order, into the results file at
    /// `path` on rank 0, a durable chunk at a time, as
    /// [`Coordinator::run_to_file`] does in one process: the same file, byte
    /// for byte, and the same resume.
    ///
    /// A collective call like [`dispatch`](Self::dispatch): every rank makes
    /// it, with the same task, `threads`, `batch` (and `path`, which only
    /// rank 0 opens: the other ranks never touch it). It returns the
    /// [`RunSummary`] on rank 0 and `None` on the other ranks, once the file
    /// is complete or the job has failed.
    ///
    /// Once every rank has joined the call, rank 0 verifies what the file
    /// holds (beating meanwhile, so that the others wait for it however
    /// large the file is): if it is an interrupted run of the same job, say
    /// one that lost a host, a torn tail is dropped and the cluster computes
    /// only the task ids after the last chunk that verifies; a complete run
    /// is kept and nothing is computed. The job then runs in *windows* of
    /// about the bytes between two syncs (8 MiB by default; see
    /// [`run_to_file_options`](Self::run_to_file_options)), each shared out
    /// across the ranks as a dispatch's chunks are.
    ///
    /// Once a window's packets are all in, rank 0 appends them to the file
    /// and syncs it on a thread of its own, while it hands out the next
    /// window; a window's write waits for the one before. So by the time
    /// rank 0 hands out window `k + 2`, window `k` is on the disk, except
    /// its last packets that do not fill a chunk of the file (1 MiB of
    /// packets): those stay in rank 0's memory until the next window's write
    /// completes that chunk (or, for the last window, until the file is
    /// finished). A run that stops at any moment, however it stops, loses at
    /// most the window being computed, the window being written and that
    /// partial chunk; the next run, on the same ranks or on fewer (the file
    /// records the job, not the cluster), resumes after the file's last
    /// whole chunk.
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
    /// let cluster = Cluster::init()?;
    /// let coordinator = Coordinator::new(64);
    /// // Every rank makes this call; rank 0 writes the file and gets the summary.
    /// let path = "squares.prlz";
    /// if let Some(summary) = cluster.run_to_file(&coordinator, Square, 50_000_000, 1000, path)? {
    ///     // Started again after a lost host: what the file held is kept.
    ///     println!("computed {}, kept {}", summary.computed, summary.kept);
    ///     let results = Results::<Square>::read_from(std::fs::File::open(path).unwrap())?;
    ///     assert_eq!(results.get(3), Some((9,)));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`dispatch`](Self::dispatch)'s, on every rank. A call that fails
    /// before every rank has joined it (calls that differ, a rank that
    /// cannot take part) leaves the file as it was: rank 0 does not even
    /// create it. Then the file's errors, found by rank 0:
    ///
    /// - the file holds anything but a run of this job:
    ///   [`Error::JobMismatch`] on every rank, and the file is left
    ///   untouched;
    /// - rank 0 cannot open, read, write or sync the file (or start the
    ///   thread that writes it): [`Error::WriteFailed`] or
    ///   [`Error::ReadFailed`] on rank 0, and [`Error::ClusterRankFailed`]
    ///   naming rank 0, with that error's message, on every other rank. The
    ///   file keeps its whole chunks, for the next run to resume from.
    pub fn run_to_file<T: Worker<Args = ()>>(
        &self,
        coordinator: &Coordinator,
        task: T,
        threads: usize,
        batch: usize,
        path: impl AsRef<Path>,
    ) -> Result<Option<RunSummary>, Error> {
        self.run_to_file_options(
            coordinator,
            task,
            threads,
            batch,
            path,
            &FileOptions::default(),
        )
    }

    /// [`run_to_file`](Self::run_to_file) for a task whose `args` are a
    /// [`WireType`]: every rank passes the same value, and the file records
    /// its wire bytes, as [`Coordinator::run_to_file_with`] does.
    ///
    /// # Errors
    ///
    /// As [`run_to_file`](Self::run_to_file).
    pub fn run_to_file_with<T: Worker>(
        &self,
        coordinator: &Coordinator,
        task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
        path: impl AsRef<Path>,
    ) -> Result<Option<RunSummary>, Error>
    where
        T::Args: WireType,
    {
        self.run_to_file_with_options(
            coordinator,
            task,
            threads,
            batch,
            args,
            path,
            &FileOptions::default(),
        )
    }

    /// [`run_to_file`](Self::run_to_file) with the given sync interval and
    /// progress bar (drawn on rank 0): a window holds about
    /// [`FileOptions::sync_bytes`] of packets (and at least four batches per
    /// pool thread of every rank); one that takes longer than
    /// [`FileOptions::sync_interval`] makes the next ones shorter. Only rank
    /// 0's options count.
    ///
    /// # Errors
    ///
    /// As [`run_to_file`](Self::run_to_file).
    pub fn run_to_file_options<T: Worker<Args = ()>>(
        &self,
        coordinator: &Coordinator,
        _task: T,
        threads: usize,
        batch: usize,
        path: impl AsRef<Path>,
        options: &FileOptions,
    ) -> Result<Option<RunSummary>, Error> {
        let job = FileJob::<T> {
            threads,
            batch,
            args: (),
            args_bytes: None,
            path: path.as_ref(),
            options,
        };
        self.collective(|heart| to_file::run(self, heart, coordinator, job))
    }

    /// [`run_to_file_with`](Self::run_to_file_with) with the given sync
    /// interval and progress bar, as in
    /// [`run_to_file_options`](Self::run_to_file_options).
    ///
    /// # Errors
    ///
    /// As [`run_to_file`](Self::run_to_file).
    #[allow(clippy::too_many_arguments)]
    pub fn run_to_file_with_options<T: Worker>(
        &self,
        coordinator: &Coordinator,
        _task: T,
        threads: usize,
        batch: usize,
        args: T::Args,
        path: impl AsRef<Path>,
        options: &FileOptions,
    ) -> Result<Option<RunSummary>, Error>
    where
        T::Args: WireType,
    {
        let args_bytes = Some(args.to_wire().as_bytes().to_vec());
        let job = FileJob::<T> {
            threads,
            batch,
            args,
            args_bytes,
            path: path.as_ref(),
            options,
        };
        self.collective(|heart| to_file::run(self, heart, coordinator, job))
    }

    /// Runs `body`, this rank's side of a collective call, with this
    /// call's heartbeats; a cluster that lost a rank fails at once, and one
    /// that loses one now is unusable from then on.
    fn collective<R>(
        &self,
        body: impl FnOnce(&mut Heartbeat<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut state = self.state.borrow_mut();
        if let Some(lost) = &state.lost {
            return Err(lost.clone());
        }
        state.dispatches += 1;
        let call = state.dispatches;
        let outcome = {
            let mut heart = Heartbeat::new(
                self.link(),
                self.peer_timeout,
                call,
                &mut state.beat,
                self.join_timeout,
            );
            body(&mut heart)
        };
        if let Err(error @ Error::ClusterRankLost { .. }) = &outcome {
            state.lost = Some(error.clone());
        }
        outcome
    }

    /// A dispatch on this rank: its start, in which every rank says what it
    /// calls and whether it can take part, then its job.
    fn run<T: Worker>(
        &self,
        heart: &mut Heartbeat<'_>,
        coordinator: &Coordinator,
        threads: usize,
        batch: usize,
        args: T::Args,
    ) -> Result<Option<Results<T>>, Error> {
        let local = self.prepare::<T>(coordinator, threads, batch);
        let failed = local.as_ref().err();
        let first = match self.begin::<T>(heart, Collective::Dispatch, threads, batch, failed)? {
            Begun::Leader => None,
            Begun::Follower(batches) => Some(batches),
            Begun::Over => return Ok(None),
        };
        // No rank failed to prepare, this one neither.
        let (memory, mut buffer) = local?;
        let job = self.share::<T>(coordinator, threads, batch, memory, args);
        match first {
            Some(batches) => Follower::new(heart, job).run(batches).map(|()| None),
            None if self.size == 1 => {
                // A cluster of one runs the whole job as one local chunk.
                let bytes = job.run_here(0, &(0..job.plan.batches))?;
                Ok(Some(self.results(bytes)))
            }
            None => {
                leader::lead(heart, job, &mut buffer)?;
                Ok(Some(self.results(buffer)))
            }
        }
    }

    /// The start of the `collective` call of task `T` on this rank, in which
    /// every rank says what it calls and whether it can take part (`local`
    /// is why this one cannot, if it cannot). Rank 0 leads; every other
    /// rank learns its first chunk, or that the job is over at once.
    fn begin<T: Task>(
        &self,
        heart: &mut Heartbeat<'_>,
        collective: Collective,
        threads: usize,
        batch: usize,
        local: Option<&Error>,
    ) -> Result<Begun, Error> {
        let call = Call::of::<T>(collective, threads, batch, local.is_some());
        if self.rank == 0 {
            leader::start(heart, &call, local, T::NAME)?;
            return Ok(Begun::Leader);
        }
        let message = local.map(|error| clip(error.to_string()));
        Ok(
            match follower::join(
                heart,
                &call,
                message.as_deref().unwrap_or_default(),
                T::NAME,
            )? {
                Some(batches) => Begun::Follower(batches),
                // An empty job, over as soon as it started.
                None => Begun::Over,
            },
        )
    }

    /// This rank's share of a job that every rank joined.
    fn share<'c, T: Worker>(
        &self,
        coordinator: &'c Coordinator,
        threads: usize,
        batch: usize,
        memory: Arc<T::Memory>,
        args: T::Args,
    ) -> Share<'c, T> {
        let plan = Plan::new(
            threads,
            batch,
            T::PACKET_SIZE,
            self.size,
            coordinator.threads().min(coordinator.actors()),
        );
        Share::new(coordinator, plan, memory, Arc::new(args))
    }

    /// This rank's checks before a dispatch, as `Coordinator::dispatch` makes
    /// them: the batch size, the memory, and on rank 0 the results buffer.
    fn prepare<T: Worker>(
        &self,
        coordinator: &Coordinator,
        threads: usize,
        batch: usize,
    ) -> Result<(Arc<T::Memory>, Vec<u8>), Error> {
        let memory = Self::memory::<T>(coordinator, batch)?;
        if self.rank != 0 {
            return Ok((memory, Vec::new()));
        }
        let len = run::buffer_len::<T>(threads)?;
        // A cluster of one runs the whole job as one local chunk, whose
        // results are the buffer.
        let len = if self.size == 1 { 0 } else { len };
        Ok((memory, self.buffer::<T>(len)?))
    }

    /// Every rank's checks before a job: the batch size and the memory.
    fn memory<T: Worker>(coordinator: &Coordinator, batch: usize) -> Result<Arc<T::Memory>, Error> {
        run::check_batch::<T>(batch)?;
        coordinator.memory_of::<T>()
    }

    /// A buffer of `len` bytes for rank 0's results, from this cluster's
    /// pool.
    fn buffer<T: Task>(&self, len: usize) -> Result<Vec<u8>, Error> {
        self.buffers.take(len).ok_or(Error::AllocationFailed {
            task: T::NAME,
            bytes: len,
        })
    }

    /// Results whose buffer comes back to this cluster when they are dropped.
    fn results<T: Task>(&self, bytes: Vec<u8>) -> Results<T> {
        Results::from_packets(PacketBuffer::new(bytes, Arc::downgrade(&self.buffers)))
    }

    /// This rank's end of the cluster's communicator.
    fn link(&self) -> Link<'_> {
        Link::new(
            &self.comm,
            &self.world,
            self.max_message,
            self.buffered,
            &self.buffered_peers,
        )
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
        let state = self.state.get_mut();
        if let Some(lost) = &state.lost {
            eprintln!(
                "parallelizer: rank {}: {lost}: aborting the MPI job, since finalizing MPI \
                 would wait for that rank forever",
                self.rank
            );
            self.world.abort(ABORT_RANK_LOST);
        }
        // The last heartbeat's send ends at once unless rank 0 is gone; if it
        // does not, its bytes are a `static`, and the request can be left.
        if let Some(mut beat) = state.beat.take() {
            let deadline = Instant::now() + LAST_BEAT_WAIT;
            let mut idle = Idle::default();
            loop {
                match beat.test() {
                    Ok(_) => break,
                    Err(pending) if Instant::now() < deadline => beat = pending,
                    Err(pending) => {
                        mem::forget(pending);
                        break;
                    }
                }
                idle.pause();
            }
        }
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("max_message_bytes", &self.max_message)
            .field("peer_timeout", &self.peer_timeout)
            .field("join_timeout", &self.join_timeout)
            .finish_non_exhaustive()
    }
}
