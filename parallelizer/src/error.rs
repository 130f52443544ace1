//! The one error type of the crate.

use std::fmt;
use std::time::Duration;

use crate::wire::InvalidValue;

/// Everything that can go wrong in parallelizer.
///
/// Every message says what went wrong and how to fix it. The enum is
/// `#[non_exhaustive]`: match the variants you care about and keep a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A value does not fit its fixed-size slot ([`FixedStr`](crate::FixedStr),
    /// [`FixedBytes`](crate::FixedBytes)). Nothing is ever truncated.
    ValueTooLong {
        /// The slot type, such as `"FixedStr<11>"`.
        type_name: String,
        /// How many bytes the slot holds.
        capacity: usize,
        /// How many bytes the value has.
        len: usize,
    },
    /// A dispatch was asked for batches of zero task ids.
    ZeroBatchSize {
        /// The task's name.
        task: &'static str,
    },
    /// A task that declares `memory` was dispatched before
    /// [`Coordinator::define`](crate::Coordinator::define) gave it one.
    MemoryNotDefined {
        /// The task's name.
        task: &'static str,
    },
    /// The result buffer of a job would not fit in `usize` bytes.
    ResultsTooLarge {
        /// The task's name.
        task: &'static str,
        /// The number of task ids asked for.
        threads: usize,
        /// The task's packet size in bytes.
        packet_size: usize,
    },
    /// The result buffer of a job could not be allocated.
    AllocationFailed {
        /// The task's name.
        task: &'static str,
        /// The size of the buffer that was asked for.
        bytes: usize,
    },
    /// A worker panicked; its dispatch failed, the coordinator goes on working.
    WorkerPanicked {
        /// The task's name.
        task: &'static str,
        /// The id of the task whose worker call panicked.
        task_id: usize,
        /// The panic message.
        message: String,
    },
    /// The coordinator was destroyed (or dropped) while this dispatch ran.
    CoordinatorDestroyed {
        /// The task's name.
        task: &'static str,
    },
    /// The dispatch was cancelled through its handle.
    Cancelled {
        /// The task's name.
        task: &'static str,
    },
    /// The dispatch passed its deadline before it finished.
    TimedOut {
        /// The task's name.
        task: &'static str,
        /// How long after its start the deadline fell.
        after: Duration,
    },
    /// A coordinator was asked for zero actors.
    NoActors,
    /// The coordinator's thread pool could not be started.
    ThreadPool {
        /// What the thread pool builder reported.
        message: String,
    },
    /// A raw buffer's length is not a whole number of packets.
    BufferLength {
        /// The task's name.
        task: &'static str,
        /// The buffer's length in bytes.
        len: usize,
        /// The task's packet size in bytes.
        packet_size: usize,
    },
    /// A packet of a raw buffer holds a value that its field type cannot hold.
    InvalidPacket {
        /// The task's name.
        task: &'static str,
        /// The index of the packet (the task id) in the buffer.
        index: usize,
        /// The index of the field in the packet.
        field: usize,
        /// The field's declared type, as written in `#[task(packet = ...)]`.
        field_type: &'static str,
        /// What is wrong with the value.
        reason: InvalidValue,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ValueTooLong {
                type_name,
                capacity,
                len,
            } => write!(
                f,
                "a value of {len} bytes does not fit {type_name}, which holds at most \
                 {capacity}: shorten the value or declare a larger slot"
            ),
            Error::ZeroBatchSize { task } => write!(
                f,
                "cannot dispatch task `{task}` in batches of 0 task ids: \
                 pass a batch size of at least 1"
            ),
            Error::MemoryNotDefined { task } => write!(
                f,
                "task `{task}` declares memory but none was defined: call \
                 `coordinator.define({task}, memory)` before dispatching it"
            ),
            Error::ResultsTooLarge {
                task,
                threads,
                packet_size,
            } => write!(
                f,
                "the results of task `{task}` ({threads} packets of {packet_size} bytes) \
                 do not fit in memory's address space: dispatch fewer task ids at a time"
            ),
            Error::AllocationFailed { task, bytes } => write!(
                f,
                "could not allocate the {bytes}-byte result buffer of task `{task}`: \
                 dispatch fewer task ids at a time"
            ),
            Error::WorkerPanicked {
                task,
                task_id,
                message,
            } => write!(
                f,
                "the worker of task `{task}` panicked on task id {task_id}: {message}"
            ),
            Error::CoordinatorDestroyed { task } => write!(
                f,
                "the coordinator was destroyed before the dispatch of task `{task}` \
                 finished: keep the coordinator alive until its dispatches complete"
            ),
            Error::Cancelled { task } => write!(
                f,
                "the dispatch of task `{task}` was cancelled before it finished"
            ),
            Error::TimedOut { task, after } => write!(
                f,
                "the dispatch of task `{task}` passed its deadline ({after:?} after it \
                 started) before it finished: allow more time or dispatch fewer task ids"
            ),
            Error::NoActors => write!(f, "a coordinator needs at least 1 actor, got 0"),
            Error::ThreadPool { message } => {
                write!(
                    f,
                    "could not start the coordinator's thread pool: {message}"
                )
            }
            Error::BufferLength {
                task,
                len,
                packet_size,
            } => write!(
                f,
                "a buffer of {len} bytes is not a whole number of task `{task}`'s \
                 {packet_size}-byte packets ({} whole packets and {} bytes left over): \
                 was it truncated, or written by another task?",
                len / packet_size,
                len % packet_size
            ),
            Error::InvalidPacket {
                task,
                index,
                field,
                field_type,
                reason,
            } => write!(
                f,
                "packet {index} of task `{task}`, field {field} ({field_type}): {reason}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidPacket { reason, .. } => Some(reason),
            _ => None,
        }
    }
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
