//! Events for event-sink plugins, and their delivery off the call's path.
//!
//! The hot path ([`Fanout::emit`]) only wraps the event in an `Arc` and
//! pushes it on each sink's bounded queue: no JSON, no plugin code, no
//! system call, no lock held while anything slow runs. When a queue is
//! full (its plugin is behind) the event is dropped for that sink and
//! counted, rather than making a call wait. Each sink has a thread that
//! takes the queue every few milliseconds, serialises each event and
//! calls the plugin, in order.
//!
//! This module depends on nothing else of the crate, so the benchmark
//! (`benches/plugin_events.rs`) measures this very code.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;

/// Something that happened, as plugins receive it (one JSON object).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A call's progress.
    Call {
        at_ms: i64,
        call_id: String,
        #[serde(flatten)]
        event: CallEvent,
    },
    /// An agent changed state (`ready`, `paused`, `talking`, ...).
    Agent {
        at_ms: i64,
        agent: String,
        from: String,
        to: String,
        reason: Option<String>,
        queue: Option<String>,
        call_id: Option<String>,
    },
    /// A call's life in a queue (`joined`, `offered`, `answered`, `abandoned`, ...).
    Queue {
        at_ms: i64,
        queue: String,
        call_id: String,
        event: String,
        agent: Option<String>,
        detail: Option<String>,
    },
    /// A campaign was created or changed state (`running`, `paused`, `finished`).
    Campaign {
        at_ms: i64,
        campaign: String,
        state: String,
    },
    /// A contact list was imported into a campaign through the API (one
    /// event per list, not per row: a list may have a million).
    Import {
        at_ms: i64,
        campaign: String,
        /// New contacts.
        inserted: u64,
        /// Rows that updated a contact already in the campaign.
        merged: u64,
        /// Rows refused (bad number, bad time zone...).
        bad: u64,
    },
    /// A contact of a campaign: dialled, and the attempt's outcome.
    Contact {
        at_ms: i64,
        campaign: String,
        contact_id: i64,
        attempt_id: Option<i64>,
        phone: String,
        event: String,
        outcome: Option<String>,
    },
}

/// What happened to a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// An inbound call arrived, or a campaign call was dialled.
    Started {
        from: String,
        to: String,
        campaign: Option<String>,
    },
    /// The called party answered.
    Answered,
    /// An answering machine answered a campaign call.
    Machine,
    /// An agent took the call.
    Connected { agent: String },
    /// The call is over.
    Ended {
        outcome: String,
        sip_status: Option<u16>,
        talk_ms: Option<i64>,
    },
}

/// How often a sink's thread takes what was queued. The hot path never
/// wakes it: waking a sleeping thread is a system call per event (about a
/// microsecond, per sink), polling is a few wake-ups a second per plugin
/// and events reach plugins within this delay.
const POLL: Duration = Duration::from_millis(5);

/// One sink's queue, shared by its senders and its thread.
#[derive(Debug)]
struct Queue {
    events: Mutex<VecDeque<Arc<Event>>>,
    capacity: usize,
    /// The last sender is gone: deliver what is queued, then end.
    closed: AtomicBool,
}

/// Closes the queue when the last [`Sink`] clone is dropped.
#[derive(Debug)]
struct Sender {
    queue: Arc<Queue>,
    dropped: Arc<AtomicU64>,
    queued: Arc<AtomicU64>,
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
    }
}

/// The sending half of one sink's queue.
#[derive(Debug, Clone)]
pub struct Sink(Arc<Sender>);

impl Sink {
    /// Offers an event without waiting: a full queue drops it (counted).
    pub fn offer(&self, event: &Arc<Event>) {
        let s = &self.0;
        let mut events = s
            .queue
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if events.len() >= s.queue.capacity {
            drop(events);
            s.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        events.push_back(Arc::clone(event));
        drop(events);
        s.queued.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters of one sink, shared with the metrics.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Events queued for delivery.
    pub queued: Arc<AtomicU64>,
    /// Events dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
}

/// Starts a sink: a thread named `name` that serialises each queued event
/// and hands the JSON to `deliver`, in order, until the last [`Sink`] is
/// dropped (then it delivers what is queued, and ends).
pub fn spawn_sink(
    name: &str,
    capacity: usize,
    counters: &SinkCounters,
    mut deliver: impl FnMut(&[u8]) + Send + 'static,
) -> std::io::Result<(Sink, std::thread::JoinHandle<()>)> {
    let queue = Arc::new(Queue {
        events: Mutex::new(VecDeque::new()),
        capacity: capacity.max(1),
        closed: AtomicBool::new(false),
    });
    let shared = queue.clone();
    let thread = std::thread::Builder::new()
        .name(format!("plugin-events-{name}"))
        .spawn(move || {
            let mut json = Vec::with_capacity(512);
            loop {
                // Read before taking: a close seen here means nothing more
                // can be queued after the take.
                let closed = shared.closed.load(Ordering::Acquire);
                let batch = std::mem::take(
                    &mut *shared
                        .events
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                for event in &batch {
                    json.clear();
                    if serde_json::to_writer(&mut json, &**event).is_ok() {
                        deliver(&json);
                    }
                }
                if closed {
                    return;
                }
                if batch.is_empty() {
                    std::thread::sleep(POLL);
                }
            }
        })?;
    Ok((
        Sink(Arc::new(Sender {
            queue,
            dropped: Arc::clone(&counters.dropped),
            queued: Arc::clone(&counters.queued),
        })),
        thread,
    ))
}

/// Every sink, each under a name; what the switch emits to.
#[derive(Debug, Default)]
pub struct Fanout {
    sinks: RwLock<Vec<(String, Sink)>>,
}

impl Fanout {
    /// Whether any sink listens (callers may skip building an event).
    pub fn is_empty(&self) -> bool {
        self.sinks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// Offers `event` to every sink; never blocks on a plugin.
    pub fn emit(&self, event: Event) {
        let sinks = self
            .sinks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sinks.is_empty() {
            return;
        }
        let event = Arc::new(event);
        for (_, sink) in sinks.iter() {
            sink.offer(&event);
        }
    }

    /// Puts `sink` under `name`, replacing (and so ending, once its queue
    /// is delivered) the previous one; `None` removes it.
    pub fn set(&self, name: &str, sink: Option<Sink>) {
        let mut sinks = self
            .sinks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sinks.retain(|(n, _)| n != name);
        if let Some(sink) = sink {
            sinks.push((name.to_owned(), sink));
        }
    }
}

/// Unix milliseconds now, for events.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(n: i64) -> Event {
        Event::Agent {
            at_ms: n,
            agent: "1001".into(),
            from: "paused".into(),
            to: "ready".into(),
            reason: None,
            queue: None,
            call_id: None,
        }
    }

    #[test]
    fn events_have_the_documented_json_shape() {
        let call = Event::Call {
            at_ms: 5,
            call_id: "c1".into(),
            event: CallEvent::Ended {
                outcome: "answered".into(),
                sip_status: Some(200),
                talk_ms: Some(1200),
            },
        };
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            serde_json::json!({"kind": "call", "at_ms": 5, "call_id": "c1", "event": "ended",
                "outcome": "answered", "sip_status": 200, "talk_ms": 1200})
        );
        let import = Event::Import {
            at_ms: 9,
            campaign: "renewals".into(),
            inserted: 3,
            merged: 1,
            bad: 2,
        };
        assert_eq!(
            serde_json::to_value(&import).unwrap(),
            serde_json::json!({"kind": "import", "at_ms": 9, "campaign": "renewals",
                "inserted": 3, "merged": 1, "bad": 2})
        );
        assert_eq!(
            serde_json::to_value(agent(7)).unwrap(),
            serde_json::json!({"kind": "agent", "at_ms": 7, "agent": "1001", "from": "paused",
                "to": "ready", "reason": null, "queue": null, "call_id": null})
        );
    }

    #[test]
    fn every_sink_gets_every_event_in_order() {
        let fanout = Fanout::default();
        assert!(fanout.is_empty());
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let counters = SinkCounters::default();
        let (sink, thread) = spawn_sink("t", 16, &counters, move |json| {
            let v: serde_json::Value = serde_json::from_slice(json).unwrap();
            got_tx.send(v["at_ms"].as_i64().unwrap()).unwrap();
        })
        .unwrap();
        fanout.set("t", Some(sink));
        for n in 0..5 {
            fanout.emit(agent(n));
        }
        fanout.set("t", None);
        thread.join().unwrap();
        assert_eq!(got_rx.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(counters.queued.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let fanout = Fanout::default();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let counters = SinkCounters::default();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (sink, thread) = spawn_sink("stuck", 2, &counters, move |_| {
            let _ = started_tx.send(());
            // Held until the test releases it: the plugin is "behind".
            let _ = release_rx.recv();
        })
        .unwrap();
        fanout.set("stuck", Some(sink));
        fanout.emit(agent(0));
        started_rx.recv().unwrap(); // the thread holds event 0
        for n in 1..=10 {
            fanout.emit(agent(n));
        }
        // Two fit in the queue; eight were dropped, none waited.
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 8);
        assert_eq!(counters.queued.load(Ordering::Relaxed), 3);
        fanout.set("stuck", None);
        drop(release_tx);
        thread.join().unwrap();
    }
}
