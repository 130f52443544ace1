//! Spans for profilers, with the `tracing` feature: one `dispatch` span per
//! job and one `batch` span per batch run (task name, task ids, actor); the
//! first batches of a dispatch timed on the calling thread come as several
//! smaller pieces. Streams emit no spans. Without the feature these are
//! no-ops that compile away.

#[cfg(feature = "tracing")]
mod imp {
    pub type Span = tracing::Span;
    pub type Entered<'a> = tracing::span::Entered<'a>;
    pub type EnteredBatch = tracing::span::EnteredSpan;

    pub fn dispatch(task: &'static str, threads: usize, batch: usize, actors: usize) -> Span {
        tracing::info_span!("dispatch", task, threads, batch, actors)
    }

    pub fn enter(span: &Span) -> Entered<'_> {
        span.enter()
    }

    /// Batch spans run on pool threads, so their parent is given, not taken
    /// from the thread's current span.
    pub fn batch(
        parent: &Span,
        task: &'static str,
        first_id: usize,
        len: usize,
        actor: usize,
    ) -> EnteredBatch {
        tracing::debug_span!(parent: parent, "batch", task, first_id, len, actor).entered()
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    #[derive(Debug, Clone)]
    pub struct Span;

    /// Stands for an entered span.
    pub struct Entered;

    pub fn dispatch(_task: &'static str, _threads: usize, _batch: usize, _actors: usize) -> Span {
        Span
    }

    pub fn enter(_span: &Span) -> Entered {
        Entered
    }

    pub fn batch(
        _parent: &Span,
        _task: &'static str,
        _first_id: usize,
        _len: usize,
        _actor: usize,
    ) -> Entered {
        Entered
    }
}

pub(crate) use imp::*;
