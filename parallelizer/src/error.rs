//! The crate's error type, and the reasons a wire value can be invalid: the
//! bottom layer, which every other module uses and which uses none of them.

use std::io;
use std::time::Duration;

/// Everything that can go wrong in parallelizer.
///
/// Every message says what went wrong and how to fix it. The enum is
/// `#[non_exhaustive]`: match the variants you care about and keep a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value does not fit its fixed-size slot ([`FixedStr`](crate::FixedStr),
    /// [`FixedBytes`](crate::FixedBytes)). Nothing is ever truncated.
    #[error("a value of {len} bytes does not fit {type_name}, which holds at most {capacity}: shorten the value or declare a larger slot")]
    ValueTooLong {
        /// The slot type, such as `"FixedStr<11>"`.
        type_name: String,
        /// How many bytes the slot holds.
        capacity: usize,
        /// How many bytes the value has.
        len: usize,
    },
    /// A dispatch was asked for batches of zero task ids.
    #[error(
        "cannot dispatch task `{task}` in batches of 0 task ids: pass a batch size of at least 1"
    )]
    ZeroBatchSize {
        /// The task's name.
        task: &'static str,
    },
    /// A task that declares `memory` was dispatched before
    /// [`Coordinator::define`](crate::Coordinator::define) gave it one.
    #[error("task `{task}` declares memory but none was defined: call `coordinator.define({task}, memory)` before dispatching it")]
    MemoryNotDefined {
        /// The task's name.
        task: &'static str,
    },
    /// The result buffer of a job would not fit in `usize` bytes.
    #[error("the results of task `{task}` ({threads} packets of {packet_size} bytes) do not fit in memory's address space: dispatch fewer task ids at a time")]
    ResultsTooLarge {
        /// The task's name.
        task: &'static str,
        /// The number of task ids asked for.
        threads: usize,
        /// The task's packet size in bytes.
        packet_size: usize,
    },
    /// The result buffer of a job could not be allocated.
    #[error("could not allocate the {bytes}-byte result buffer of task `{task}`: dispatch fewer task ids at a time")]
    AllocationFailed {
        /// The task's name.
        task: &'static str,
        /// The size of the buffer that was asked for.
        bytes: usize,
    },
    /// A worker panicked; its dispatch failed, the coordinator goes on working.
    #[error("the worker of task `{task}` panicked on task id {task_id}: {message}")]
    WorkerPanicked {
        /// The task's name.
        task: &'static str,
        /// The id of the task whose worker call panicked.
        task_id: usize,
        /// The panic message.
        message: String,
    },
    /// The coordinator was destroyed (or dropped) while this dispatch ran.
    #[error("the coordinator was destroyed before the dispatch of task `{task}` finished: keep the coordinator alive until its dispatches complete")]
    CoordinatorDestroyed {
        /// The task's name.
        task: &'static str,
    },
    /// The dispatch was cancelled through its handle.
    #[error("the dispatch of task `{task}` was cancelled before it finished")]
    Cancelled {
        /// The task's name.
        task: &'static str,
    },
    /// The dispatch passed its deadline before it finished.
    #[error("the dispatch of task `{task}` passed its deadline ({after:?} after it started) before it finished: allow more time or dispatch fewer task ids")]
    TimedOut {
        /// The task's name.
        task: &'static str,
        /// How long after its start the deadline fell.
        after: Duration,
    },
    /// A coordinator was asked for zero actors.
    #[error("a coordinator needs at least 1 actor, got 0")]
    NoActors,
    /// The coordinator's thread pool could not be started.
    #[error("could not start the coordinator's thread pool: {message}")]
    ThreadPool {
        /// What the thread pool builder reported.
        message: String,
    },
    /// A raw buffer's length is not a whole number of packets.
    #[error("a buffer of {len} bytes is not a whole number of task `{task}`'s {packet_size}-byte packets ({} whole packets and {} bytes left over): was it truncated, or written by another task?", .len / .packet_size, .len % .packet_size)]
    BufferLength {
        /// The task's name.
        task: &'static str,
        /// The buffer's length in bytes.
        len: usize,
        /// The task's packet size in bytes.
        packet_size: usize,
    },
    /// A packet of a raw buffer holds a value that its field type cannot hold.
    #[error("packet {index} of task `{task}`, field {field} ({field_type}): {reason}")]
    InvalidPacket {
        /// The task's name.
        task: &'static str,
        /// The index of the packet (the task id) in the buffer.
        index: usize,
        /// The index of the field in the packet.
        field: usize,
        /// The field's declared type, as written in `#[task(packet = ...)]`
        /// (or in the struct of `#[task(packet = Struct)]`). A field of a
        /// derived struct nested in it is named by the reason
        /// ([`InvalidValue::Field`]).
        field_type: &'static str,
        /// What is wrong with the value.
        #[source]
        reason: InvalidValue,
    },
    /// The reader of a [results file](crate::persist) failed.
    #[error("could not read the results file of task `{task}`: {message} ({kind:?})")]
    ReadFailed {
        /// The task whose results were being read.
        task: &'static str,
        /// The kind of the I/O error.
        kind: io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
    /// The writer of a [results file](crate::persist) failed. A
    /// [`PacketWriter`](crate::PacketWriter) that saw this error refuses
    /// further packets with the same error: the file is incomplete.
    #[error("could not write the results file of task `{task}`: {message} ({kind:?}); the file is incomplete, write it again")]
    WriteFailed {
        /// The task whose results were being written.
        task: &'static str,
        /// The kind of the I/O error.
        kind: io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
    /// [`Coordinator::run_to_file`](crate::Coordinator::run_to_file) found
    /// a file that is not an interrupted or complete run of the same job (a
    /// different task or schema, another number of ids, batch size or args,
    /// or not a results file at all). The file is left as it was.
    #[error("the file {path} does not hold a run of this job of task `{task}`: {reason}; it was left as it is: remove it or write to another path")]
    JobMismatch {
        /// The task being run.
        task: &'static str,
        /// The file's path.
        path: String,
        /// What differs.
        reason: String,
    },
    /// The data does not start with the results file magic `PRLZ`.
    #[error("this is not a parallelizer results file: it starts with b\"{}\", not b\"PRLZ\"; read results of task `{task}` only from what `Results::write_to` or `PacketWriter` wrote", .found.escape_ascii())]
    NotAResultsFile {
        /// The task whose results were being read.
        task: &'static str,
        /// The first bytes found (at most 4).
        found: Vec<u8>,
    },
    /// The results file is in a format version this release cannot read.
    #[error("the results file of task `{task}` is in format version {found}, but this release of parallelizer reads only versions 1 to {supported}: read it with a release that supports version {found}")]
    UnsupportedFormatVersion {
        /// The task whose results were being read.
        task: &'static str,
        /// The file's format version.
        found: u16,
        /// The newest version this release reads, the one it writes; it
        /// reads every version from 1 up to it.
        supported: u16,
    },
    /// A results file of format version 1, which does not store its schema,
    /// was read with no Rust type ([`ResultsFile`](crate::ResultsFile), the
    /// `parallelizer` command-line tool).
    #[error("the results file is in format version {version}, which does not store its schema, so it cannot be read without the task that wrote it: read it with `Results::<Task>::read_from` (a task with the packet that wrote it) and write it again with `write_to`, which writes format version 2")]
    NoStoredSchema {
        /// The file's format version.
        version: u16,
    },
    /// The reserved field of a results file header is not zero.
    #[error("the reserved field of the results file header is {found:#06x}, not 0, reading task `{task}`: the file is corrupt, or uses a feature of a newer release of parallelizer")]
    ReservedHeaderBits {
        /// The task whose results were being read.
        task: &'static str,
        /// The reserved field's value.
        found: u16,
    },
    /// A results file of format version 1 was written by a task of a
    /// different schema: the fingerprint in its header is not the task's.
    /// A version-1 file stores nothing but that fingerprint, so the field
    /// that differs cannot be named; files of version 2 (what this release
    /// writes) are refused with [`Error::SchemaFieldMismatch`], which names it.
    ///
    /// Both fingerprints are version 1's, computed from the declared type
    /// names as `docs/FORMAT.md` specifies, not
    /// [`Schema::fingerprint`](crate::Schema::fingerprint).
    #[error("the results file was written by a different schema: its schema fingerprint is {found:#018x}, but task `{task}`'s is {expected:#018x}; read it as a task with the packet that wrote it (the same field types in the same order)")]
    SchemaMismatch {
        /// The task whose results were being read.
        task: &'static str,
        /// The fingerprint of the task's schema.
        expected: u64,
        /// The fingerprint in the file's header.
        found: u64,
    },
    /// A results file was written by a task of a different schema: the
    /// schema stored in the file (format version 2) is not the task's. The
    /// error names the first field, in declaration order, where they differ,
    /// and what each has there.
    #[error("the results file was written by a different schema: at field `{field}` the file has {found}, but task `{task}` has {expected}; read it as a task with the packet that wrote it (the same field names, kinds and sizes, in the same order)")]
    SchemaFieldMismatch {
        /// The task whose results were being read.
        task: &'static str,
        /// The path of the first field that differs, its names joined by
        /// dots (`"normal.y"`), as the task names it (as the file names it
        /// when the task has no such field).
        field: String,
        /// What the file's schema has there, such as ``"`y`: f32 (4 bytes)"``,
        /// or `"no field"`.
        found: String,
        /// What the task's schema has there, or `"no field"`.
        expected: String,
    },
    /// A results file (format version 2) ends inside the schema that follows
    /// its header.
    #[error("the results file of task `{task}` ends inside its schema: {expected} bytes of schema were expected after the header, {found} found; the file is truncated, write it again")]
    TruncatedSchema {
        /// The task whose results were being read.
        task: &'static str,
        /// The bytes of schema expected (with the schema's 4-byte length).
        expected: usize,
        /// The bytes found.
        found: usize,
    },
    /// The schema stored in a results file (format version 2) is corrupt:
    /// too long, not the hash in the header, or not a schema.
    #[error("the schema stored in the results file is corrupt, reading task `{task}`: {reason}; the file is corrupt, write it again")]
    CorruptSchema {
        /// The task whose results were being read.
        task: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The packet size in a results file header is not the task's, although
    /// the schema fingerprints match: the header is corrupt.
    #[error("the results file header says packets of {found} bytes, but task `{task}`'s packets are {expected} bytes although the schema fingerprints match: the header is corrupt")]
    PacketSizeMismatch {
        /// The task whose results were being read.
        task: &'static str,
        /// The task's packet size in bytes.
        expected: usize,
        /// The packet size in the file's header.
        found: u32,
    },
    /// A results file's packets would not fit in `u64` or in memory's address
    /// space (or its packet size in the header's `u32`).
    #[error("a results file of {count} packets of {packet_size} bytes (task `{task}`) is too large: its size must fit in u64 and in memory, its packet size in u32; the header is corrupt, or the file comes from a machine with more memory")]
    FileTooLarge {
        /// The task whose results were being read or written.
        task: &'static str,
        /// The number of packets.
        count: u64,
        /// The task's packet size in bytes.
        packet_size: usize,
    },
    /// A results file ends inside its header.
    #[error("{}", truncated_header(.task, *.found))]
    TruncatedHeader {
        /// The task whose results were being read.
        task: &'static str,
        /// How many bytes the file holds.
        found: usize,
    },
    /// A results file ends before the last of the packets its header declares.
    #[error("the results file of task `{task}` declares {} packets ({expected_bytes} bytes) but ends after {found_bytes} bytes of packets ({} whole packets): the file is truncated, write it again", .expected_bytes / (*.packet_size).max(1) as u64, .found_bytes / (*.packet_size).max(1) as u64)]
    TruncatedPackets {
        /// The task whose results were being read.
        task: &'static str,
        /// The bytes of packets the header declares.
        expected_bytes: u64,
        /// The bytes of packets the file holds.
        found_bytes: u64,
        /// The task's packet size in bytes.
        packet_size: usize,
    },
    /// A part of a results file of format version 2 fails its CRC-32C
    /// checksum: the header (with the schema), a chunk of packets, or the
    /// trailer.
    #[error("the results file of task `{task}` is corrupt: {part}, at byte {offset}, fails its checksum (stored {stored:#010x}, computed {computed:#010x}); the file is corrupt, write it again")]
    ChecksumMismatch {
        /// The task whose results were being read.
        task: &'static str,
        /// Where: `"the header"`, `"chunk 3"` (counted from 0) or
        /// `"the trailer"`.
        part: String,
        /// The byte offset in the file where that part starts.
        offset: u64,
        /// The checksum the file stores.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// A results file of format version 2 ends early: inside its header's
    /// checksum, a chunk of packets, or before or inside its trailer.
    #[error("the results file of task `{task}` ends inside {part}, which starts at byte {offset}, after {found} bytes in all: the file is truncated, write it again")]
    TruncatedFile {
        /// The task whose results were being read.
        task: &'static str,
        /// Where: `"the header"`, `"chunk 3"` (counted from 0) or
        /// `"the trailer"`.
        part: String,
        /// The byte offset in the file where that part starts.
        offset: u64,
        /// The bytes the file holds.
        found: u64,
    },
    /// A part of a results file of format version 2 is inconsistent although
    /// its checksum holds: a trailer whose count or chunk digest disagrees
    /// with the chunks, or more packets than the header declares.
    #[error("the results file of task `{task}` is corrupt: {part}, at byte {offset}: {reason}; the file is corrupt, write it again")]
    CorruptFile {
        /// The task whose results were being read.
        task: &'static str,
        /// Where: `"the header"`, `"chunk 3"` (counted from 0) or
        /// `"the trailer"`.
        part: String,
        /// The byte offset in the file where that part starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A [`PacketWriter`](crate::PacketWriter) was given more packets than it
    /// declared, or finished with fewer.
    #[error("{}", packet_count(.task, *.declared, *.written))]
    PacketCount {
        /// The task whose results were being written.
        task: &'static str,
        /// The number of packets declared when the writer was created.
        declared: usize,
        /// The number of packets written, or that the refused write would
        /// have made.
        written: usize,
    },
    /// MPI could not be initialized for a cluster (feature `mpi`): it was
    /// already initialized in this process, or it cannot give the threading
    /// level a cluster needs.
    #[error("could not initialize MPI for a cluster: {message}")]
    #[cfg(feature = "mpi")]
    ClusterInit {
        /// What went wrong.
        message: String,
    },
    /// A worker panicked on one rank of a cluster dispatch (feature `mpi`).
    /// Every rank's dispatch fails with this same error.
    #[error("the worker of task `{task}` panicked on rank {rank}, on task id {task_id}: {message}; the cluster dispatch failed on every rank")]
    #[cfg(feature = "mpi")]
    ClusterWorkerPanicked {
        /// The task's name.
        task: &'static str,
        /// The rank whose worker panicked.
        rank: usize,
        /// The id of the task whose worker call panicked.
        task_id: usize,
        /// The panic message.
        message: String,
    },
    /// One rank of a cluster dispatch could not take part in it, or failed
    /// for a reason other than a worker panic, such as a task whose memory
    /// that rank never defined (feature `mpi`). Every rank's dispatch fails
    /// with this same error.
    #[error("rank {rank} failed in the cluster dispatch of task `{task}`: {message}; the cluster dispatch failed on every rank")]
    #[cfg(feature = "mpi")]
    ClusterRankFailed {
        /// The task's name.
        task: &'static str,
        /// The lowest rank that failed.
        rank: usize,
        /// That rank's error message.
        message: String,
    },
    /// The ranks of a cluster dispatch (or barrier) were not all making the
    /// same call (feature `mpi`). Every rank's call fails with this same
    /// error, but for `task`.
    #[error("{}", cluster_mismatch(.task, *.rank, .what, *.expected, *.found))]
    #[cfg(feature = "mpi")]
    ClusterMismatch {
        /// The task's name, on this rank: the empty string `""` on a rank
        /// that called [`Cluster::checked_barrier`](crate::Cluster::checked_barrier)
        /// (or `barrier`), which names no task.
        task: &'static str,
        /// The lowest rank whose call differs from rank 0's.
        rank: usize,
        /// What differs: `"call"` (the ranks made different cluster calls:
        /// value 0 for `dispatch`, 1 for `run_to_file`, 2 for a barrier),
        /// `"task"` (the task's name or packet), `"threads"` or `"batch"`.
        what: &'static str,
        /// Rank 0's value (for `"task"`, a hash of its name and schema).
        expected: u64,
        /// That rank's value.
        found: u64,
    },
    /// A task that declares `state` was run with no way to make its actors'
    /// states: no [`Coordinator::define_state`](crate::Coordinator::define_state)
    /// initializer, and a state type that does not implement `Default`.
    #[error("task `{task}` declares a state that does not implement `Default`, and no initializer was defined: call `coordinator.define_state({task}, |actor| ...)` before dispatching it")]
    StateNotDefined {
        /// The task's name.
        task: &'static str,
    },
    /// The initializer given to
    /// [`Coordinator::define_state`](crate::Coordinator::define_state)
    /// panicked; the run that needed the state failed, and the actors'
    /// states are made again from the initializer next time.
    #[error("the state initializer of task `{task}` panicked for actor {actor}: {message}")]
    StatePanicked {
        /// The task's name.
        task: &'static str,
        /// The actor whose state was being made.
        actor: usize,
        /// The panic message.
        message: String,
    },
    /// A run of a task that declares `state` needed its actors' states
    /// while the states were held by a run that cannot end before this one:
    /// a worker of the task that dispatches, streams or waits for the same
    /// task on the same coordinator (directly, or through another dispatch
    /// that it waits for), or a stream of the task still open on the
    /// calling thread. Waiting would never end, so the run fails at once.
    #[error("task `{task}`'s actor states are held by a run that waits for this one (a worker of `{task}` that dispatches `{task}` on its own coordinator, or a stream of `{task}` still open on this thread): finish or drop that run first, or use another coordinator")]
    StateInUse {
        /// The task's name.
        task: &'static str,
    },
    /// A rank of a cluster dispatch (or of a
    /// [`checked_barrier`](crate::Cluster::checked_barrier)) stopped
    /// answering: no heartbeat came from it for longer than the cluster's
    /// peer timeout, or it did not show up within the join timeout (feature
    /// `mpi`). On rank 0 it names the silent rank; on a rank that lost rank 0
    /// (its host cut off, say) it names rank 0; the other ranks get rank 0's
    /// error. The cluster is then unusable: its later dispatches fail with
    /// this same error at once, and dropping it ends the MPI job
    /// (`MPI_Abort`).
    #[error("rank {rank} of the cluster stopped answering: nothing heard from it for {silent_for:.1?}, longer than the peer timeout (a host down, a cut link, or a frozen process); the cluster dispatch failed, and the MPI job ends when the cluster is dropped")]
    #[cfg(feature = "mpi")]
    ClusterRankLost {
        /// The rank that stopped answering.
        rank: usize,
        /// How long nothing was heard from it.
        silent_for: Duration,
    },
    /// A schema that cannot be exported to Arrow (feature `arrow`): a field
    /// whose size disagrees with its kind or lies outside the packet, or an
    /// enum whose discriminant is not 1, 2, 4 or 8 bytes. The schema is
    /// inconsistent: a hand-written `WireType::shape` that lies, or a
    /// corrupt file.
    #[error("cannot export the results of task `{task}` to Arrow: {reason}")]
    #[cfg(feature = "arrow")]
    ArrowExport {
        /// The task's name.
        task: &'static str,
        /// What is wrong, and how to fix it.
        reason: String,
    },
}

/// The size of a version-1 results file header, as `persist::HEADER_SIZE`
/// (a test there checks they agree); named here so that this module, which
/// every other one uses, depends on none of them.
const RESULTS_HEADER_SIZE: usize = 28;

fn truncated_header(task: &str, found: usize) -> String {
    if found == 0 {
        format!(
            "the results file of task `{task}` is empty: expected at least the \
             {RESULTS_HEADER_SIZE}-byte header"
        )
    } else {
        format!(
            "the results file of task `{task}` ends after {found} bytes, inside its \
             {RESULTS_HEADER_SIZE}-byte header: the file is truncated, write it again"
        )
    }
}

fn packet_count(task: &str, declared: usize, written: usize) -> String {
    if written > declared {
        format!(
            "a PacketWriter of task `{task}` declared {declared} packets, and this write \
             would make {written}: declare the right count when creating the writer"
        )
    } else {
        format!(
            "a PacketWriter of task `{task}` was finished after {written} of its \
             {declared} declared packets: write them all before finishing, or the file \
             reads as truncated"
        )
    }
}

/// The value of a barrier in a mismatch of calls, as the cluster's protocol
/// sends it (`Collective::Barrier`).
#[cfg(feature = "mpi")]
const BARRIER_CALL: u64 = 2;

#[cfg(feature = "mpi")]
fn cluster_mismatch(task: &str, rank: usize, what: &str, expected: u64, found: u64) -> String {
    let call = |value: u64| match value {
        0 => "dispatch",
        1 => "run_to_file",
        BARRIER_CALL => "barrier",
        _ => "another collective call",
    };
    // A barrier names no task: this rank's task, if it has one, goes with
    // the other side's call.
    let for_task = if task.is_empty() {
        String::new()
    } else {
        format!(" for task `{task}`")
    };
    if what == "call" && expected == BARRIER_CALL {
        format!(
            "rank {rank} called `{}`{for_task} while rank 0 called `barrier`: every rank \
             must make the same cluster calls, in the same order",
            call(found)
        )
    } else if what == "call" && found == BARRIER_CALL {
        format!(
            "rank {rank} called `barrier` while rank 0 called `{}`{for_task}: every rank \
             must make the same cluster calls, in the same order",
            call(expected)
        )
    } else if what == "call" {
        format!(
            "rank {rank} called `{}` for task `{task}` while rank 0 called `{}`: every \
             rank must make the same cluster calls, in the same order",
            call(found),
            call(expected)
        )
    } else if what == "task" {
        format!(
            "rank {rank} dispatched task `{task}` while rank 0 dispatched another task \
             (their names or packets differ): every rank must make the same cluster \
             dispatches, in the same order"
        )
    } else {
        format!(
            "rank {rank} dispatched task `{task}` with {what} = {found} while rank 0 \
             dispatched it with {what} = {expected}: every rank must make the same \
             cluster dispatches, in the same order"
        )
    }
}

/// Why a wire value read from a raw buffer is not a valid value of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidValue {
    /// A string or byte buffer's length prefix is larger than its slot.
    #[error("length prefix says {len} bytes but the slot holds at most {capacity}")]
    LengthExceedsSlot {
        /// The length the prefix claims.
        len: u64,
        /// The slot's capacity in bytes.
        capacity: usize,
    },
    /// A string's bytes are not UTF-8.
    #[error("string bytes are not UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        /// How many leading bytes are valid UTF-8.
        valid_up_to: usize,
    },
    /// The bytes after a string or byte buffer's length are not zero.
    #[error("padding after the value is not zero (first nonzero byte at offset {offset})")]
    NonZeroPadding {
        /// The first nonzero byte's offset in the slot's data bytes.
        offset: usize,
    },
    /// A `bool` byte is neither 0 nor 1.
    #[error("a bool must be 0 or 1, found {byte}")]
    InvalidBool {
        /// The byte found.
        byte: u8,
    },
    /// An enum's wire value is the discriminant of none of its variants.
    #[error("{value} is not a variant of `{type_name}`")]
    InvalidDiscriminant {
        /// The enum's name.
        type_name: &'static str,
        /// The value found.
        value: u64,
    },
    /// A field of a struct (`#[derive(WireType)]`) holds an invalid value.
    /// Nested structs nest this variant, down to the invalid value.
    #[error("field `{name}`: {reason}")]
    Field {
        /// The field's index in its struct.
        index: usize,
        /// The field's name: its identifier, or its position (`"0"`) in a
        /// tuple struct.
        name: &'static str,
        /// Why its value is invalid.
        #[source]
        reason: Box<InvalidValue>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_task_and_the_fix() {
        let message = Error::MemoryNotDefined { task: "Hello" }.to_string();
        assert!(message.contains("`Hello`"), "{message}");
        assert!(message.contains("coordinator.define(Hello"), "{message}");

        let message = Error::BufferLength {
            task: "Hello",
            len: 31,
            packet_size: 15,
        }
        .to_string();
        assert!(
            message.contains("2 whole packets and 1 bytes left over"),
            "{message}"
        );
    }

    #[test]
    fn error_is_thread_safe_and_static() {
        fn assert_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<Error>();
    }
}
