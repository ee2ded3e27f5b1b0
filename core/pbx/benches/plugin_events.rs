//! The cost of emitting one event on the hot path, with event-sink
//! plugins listening: `cargo bench -p waihu --bench plugin_events`.
//!
//! Goal (issue 8): under 1 µs per event on the call's path. What is
//! measured is `Fanout::emit`, what a call, the ACD or the dialer pays
//! (an `Arc`, a read lock, one short locked push per sink), with the
//! sinks' threads serialising and counting what they receive as the real
//! ones do, off this path. Emits are timed in batches the queues hold,
//! with the sinks let to catch up between batches, so each timed emit is
//! a real enqueue, not a drop. Rows: building an event (for reference),
//! one sink, three sinks, a sink whose queue is full (the event is
//! dropped and counted: the path stays as cheap when a plugin is behind),
//! and no sink.
// Benches read the clock and may unwrap.
#![allow(clippy::unwrap_used)]

// The module itself, not a copy: it depends on nothing else of the crate.
#[path = "../src/plugin/events.rs"]
#[allow(dead_code)]
mod events;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
/// as the real ones do, then count it), and their drop counters.
fn fanout(n: usize) -> (Fanout, Arc<AtomicU64>, Vec<SinkCounters>) {
    let fanout = Fanout::default();
    let got = Arc::new(AtomicU64::new(0));
    let mut counters = Vec::new();
    for i in 0..n {
        let got = got.clone();
        let c = SinkCounters::default();
        let (sink, _thread) =
            spawn_sink(&format!("bench{i}"), 2 * BATCH as usize, &c, move |json| {
                black_box(json);
                got.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        fanout.set(&format!("bench{i}"), Some(sink));
        counters.push(c);
    }
    (fanout, got, counters)
}

/// Events emitted back to back before the sinks are let to catch up.
const BATCH: u64 = 10_000;

/// Times `iters` emits in batches the queues can hold, waiting (untimed)
/// between batches until every sink has delivered, so every timed emit
/// takes the enqueue path, never the drop path.
fn timed_emits(
    fanout: &Fanout,
    got: &AtomicU64,
    sinks: u64,
    iters: u64,
    make: impl Fn(i64) -> Event,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let n = BATCH.min(iters - done);
        let events: Vec<Event> = (0..n).map(|i| make(i as i64)).collect();
        let start = Instant::now();
        for e in events {
            fanout.emit(black_box(e));
        }
        total += start.elapsed();
        done += n;
        while got.load(Ordering::Relaxed) < done * sinks {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("plugin_events");

    // What a caller pays to build an event, for reference: the rows below
    // time `emit` alone (the events are built before the clock starts).
    g.bench_function("build_call_event", |b| {
        let mut n = 0;
        b.iter(|| {
            n += 1;
            black_box(call_event(n))
        });
    });

    let (one, got1, c1) = fanout(1);
    g.bench_function("emit_agent_event_1_sink", |b| {
        b.iter_custom(|iters| {
            got1.store(0, Ordering::Relaxed);
            timed_emits(&one, &got1, 1, iters, agent_event)
        });
    });
    g.bench_function("emit_call_event_1_sink", |b| {
        b.iter_custom(|iters| {
            got1.store(0, Ordering::Relaxed);
            timed_emits(&one, &got1, 1, iters, call_event)
        });
    });

    let (three, got3, c3) = fanout(3);
    g.bench_function("emit_call_event_3_sinks", |b| {
        b.iter_custom(|iters| {
            got3.store(0, Ordering::Relaxed);
            timed_emits(&three, &got3, 3, iters, call_event)
        });
    });
    for c in c1.iter().chain(&c3) {
        assert_eq!(
            c.dropped.load(Ordering::Relaxed),
            0,
            "a timed emit was dropped"
        );
    }

    // A sink whose thread never takes anything more: after 16 events its
    // queue is full and every emit is a counted drop.
    let stuck = Fanout::default();
    let counters = SinkCounters::default();
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (sink, _thread) = spawn_sink("stuck", 16, &counters, move |_| {
        let _ = gate_rx.recv();
    })
    .unwrap();
    stuck.set("stuck", Some(sink));
    let mut n = 0;
    g.bench_function("emit_call_event_full_queue", |b| {
        b.iter_batched(
            || {
                n += 1;
                call_event(n)
            },
            |e| stuck.emit(e),
            criterion::BatchSize::SmallInput,
        );
    });
    drop(gate_tx);
    assert!(counters.dropped.load(Ordering::Relaxed) > 0);

    let none = Fanout::default();
    g.bench_function("emit_call_event_no_sink", |b| {
        b.iter_batched(
            || {
                n += 1;
                call_event(n)
            },
            |e| none.emit(e),
            criterion::BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
