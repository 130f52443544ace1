//! With the `tracing` feature, a dispatch and each of its batches emit spans
//! that name the task, the task ids and the actor. This file holds one test:
//! it installs a global subscriber, which pool threads see.

use std::sync::{Arc, Mutex};

use parallelizer::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span as created: its name and its fields as text.
#[derive(Debug, Clone)]
struct SpanRecord {
    name: &'static str,
    fields: Vec<(String, String)>,
    parent: Option<u64>,
    id: u64,
}

impl SpanRecord {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Records every span it is told of; needs nothing beyond `tracing` itself.
#[derive(Default, Clone)]
struct Recorder {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let mut spans = self.spans.lock().unwrap();
        let mut fields = Vec::new();
        attributes.record(&mut Fields(&mut fields));
        let id = spans.len() as u64 + 1;
        spans.push(SpanRecord {
            name: attributes.metadata().name(),
            fields,
            parent: attributes.parent().map(Id::into_u64),
            id,
        });
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[task(packet = (u32,))]
pub struct Traced;

#[worker(Traced)]
fn traced(task_id: usize) -> (u32,) {
    // Costly enough that the dispatch goes to the pool.
    std::thread::sleep(std::time::Duration::from_micros(50));
    (task_id as u32,)
}

#[test]
fn a_dispatch_and_its_batches_emit_spans() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();

    // 10 batches of 10 on 4 actors: batch k runs on actor k % 4.
    let coordinator = Coordinator::builder().actors(4).threads(2).build().unwrap();
    let results = coordinator.dispatch(Traced, 95, 10).unwrap();
    assert_eq!(results.len(), 95);

    let spans = recorder.spans.lock().unwrap().clone();
    let dispatches: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "dispatch")
        .collect();
    assert_eq!(dispatches.len(), 1, "{spans:#?}");
    let dispatch = dispatches[0];
    assert_eq!(dispatch.field("task"), Some("Traced"));
    assert_eq!(dispatch.field("threads"), Some("95"));
    assert_eq!(dispatch.field("batch"), Some("10"));

    let mut batches: Vec<(usize, usize, usize)> = spans
        .iter()
        .filter(|span| span.name == "batch")
        .map(|span| {
            assert_eq!(span.field("task"), Some("Traced"));
            assert_eq!(
                span.parent,
                Some(dispatch.id),
                "a batch span's parent is its dispatch"
            );
            let number = |name| span.field(name).unwrap().parse::<usize>().unwrap();
            (number("first_id"), number("len"), number("actor"))
        })
        .collect();
    batches.sort_unstable();
    // The spans tile the task ids: batch k's span names actor k % 4. (A
    // dispatch may time task 0 on the caller's thread before handing the rest
    // of batch 0 to the pool, so batch 0 can come as two spans.)
    let mut next = 0;
    for &(first_id, len, actor) in &batches {
        assert_eq!(first_id, next, "{batches:?}");
        assert_eq!(actor, (first_id / 10) % 4, "{batches:?}");
        assert!(
            first_id % 10 + len <= 10,
            "a span crosses a batch boundary: {batches:?}"
        );
        next = first_id + len;
    }
    assert_eq!(next, 95);
    let whole: Vec<_> = batches
        .iter()
        .filter(|&&(first_id, ..)| first_id >= 10)
        .collect();
    let expected: Vec<_> = (1..10)
        .map(|k| (k * 10, if k == 9 { 5 } else { 10 }, k % 4))
        .collect();
    assert_eq!(whole, expected.iter().collect::<Vec<_>>());
}
