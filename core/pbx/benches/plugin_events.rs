//! The cost of emitting one event on the hot path, with event-sink
//! plugins listening: `cargo bench -p waihu --bench plugin_events`.
//!
//! Goal (issue 8): under 1 µs per event on the call's path. What is
//! measured is what a call, the ACD or the dialer pays: building the
//! event (its strings) and `Fanout::emit` (an `Arc`, a read lock, one
//! `try_send` per sink). Serialising to JSON and the plugin's own work
//! happen on each sink's thread, off this path; here the sinks' threads
//! only count what they receive, so their queues keep draining. Rows:
//! one sink, three sinks, and a sink whose queue is full (the event is
//! dropped and counted: the path stays as cheap when a plugin is behind).
#![allow(clippy::unwrap_used)]

// The module itself, not a copy: it depends on nothing else of the crate.
#[path = "../src/plugin/events.rs"]
#[allow(dead_code)]
mod events;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use events::{CallEvent, Event, Fanout, SinkCounters, spawn_sink};

fn agent_event(n: i64) -> Event {
    Event::Agent {
        at_ms: n,
        agent: "1001".into(),
        from: "ready".into(),
        to: "talking".into(),
        reason: None,
        queue: Some("sales".into()),
        call_id: Some("a84b4c76e66710@pbx.example.com".into()),
    }
}

fn call_event(n: i64) -> Event {
    Event::Call {
        at_ms: n,
        call_id: "a84b4c76e66710@pbx.example.com".into(),
        event: CallEvent::Ended {
            outcome: "answered".into(),
            sip_status: Some(200),
            talk_ms: Some(61_000),
        },
    }
}

/// A fanout with `n` draining sinks (their threads serialise each event,
/// as the real ones do, then count it).
fn fanout(n: usize) -> (Fanout, Arc<AtomicU64>) {
    let fanout = Fanout::default();
    let got = Arc::new(AtomicU64::new(0));
    for i in 0..n {
        let got = got.clone();
        let counters = SinkCounters::default();
        let (sink, _thread) = spawn_sink(&format!("bench{i}"), 65_536, &counters, move |json| {
            black_box(json);
            got.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        fanout.set(&format!("bench{i}"), Some(sink));
    }
    (fanout, got)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("plugin_events");
    let mut n = 0i64;

    let (one, _) = fanout(1);
    g.bench_function("emit_agent_event_1_sink", |b| {
        b.iter(|| {
            n += 1;
            one.emit(black_box(agent_event(n)));
        });
    });
    g.bench_function("emit_call_event_1_sink", |b| {
        b.iter(|| {
            n += 1;
            one.emit(black_box(call_event(n)));
        });
    });

    let (three, _) = fanout(3);
    g.bench_function("emit_call_event_3_sinks", |b| {
        b.iter(|| {
            n += 1;
            three.emit(black_box(call_event(n)));
        });
    });

    // A sink whose thread never takes anything: after 16 events its queue
    // is full and every emit is a counted drop.
    let stuck = Fanout::default();
    let counters = SinkCounters::default();
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (sink, _thread) = spawn_sink("stuck", 16, &counters, move |_| {
        let _ = gate_rx.recv();
    })
    .unwrap();
    stuck.set("stuck", Some(sink));
    g.bench_function("emit_call_event_full_queue", |b| {
        b.iter(|| {
            n += 1;
            stuck.emit(black_box(call_event(n)));
        });
    });
    drop(gate_tx);

    let none = Fanout::default();
    g.bench_function("emit_call_event_no_sink", |b| {
        b.iter(|| {
            n += 1;
            none.emit(black_box(call_event(n)));
        });
    });
    g.finish();
    assert!(counters.dropped.load(Ordering::Relaxed) > 0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
