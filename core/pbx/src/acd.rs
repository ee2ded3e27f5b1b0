//! The ACD on a task of its own: owns [`waihu_campaign::acd::Acd`], hands
//! offers and overflows to calls, and records every change.
//!
//! ```text
//!   call tasks ── enqueue / answered / missed / hung up / leave ──┐
//!   HTTP API, feature codes ── login / ready / pause / logout ───┤
//!   SIP driver ── registration gone ─────────────────────────────┤
//!                                                                 v
//!                                                        ACD task (ticks 5/s)
//!   call tasks <── Offer / Overflow ─────────────────────────────┤
//!   store (agent_state, acd_event) <── every change ─────────────┤
//!   Lua agent.on_state_change <── every agent change ────────────┘
//! ```
//! The store keeps each agent's latest state; at start the ACD is rebuilt
//! from it ([`Acd::restore`]), so a restart keeps who is logged in and who
//! is paused, and nobody stays Reserved or On-call for a call that died
//! with the old process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::time::{MissedTickBehavior, interval};
use tracing::{debug, info, warn};
use waihu_campaign::acd::{
    Acd, AcdError, Action, Agent, AgentConfig, AgentState, Change, QueueStatus, Saved,
};
use waihu_script::ScriptHost;
use waihu_store::{AcdEvent, AgentRow};

use crate::call::ToCall;
use crate::config::{Queue, Settings};
use crate::store::StoreHandle;

const TICK: Duration = Duration::from_millis(200);

/// What an agent asks of the ACD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentOp {
    Login,
    Ready,
    Pause(String),
    Logout(String),
}

/// The ACD's view, for the API and metrics.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Snapshot {
    pub agents: Vec<Agent>,
    pub queues: Vec<QueueStatus>,
    /// Blended agents free for outbound work: Ready, and needed by no
    /// waiting inbound call (what the dialer counts).
    pub outbound_ready: Vec<String>,
}

fn snapshot(acd: &Acd, now: i64) -> Snapshot {
    Snapshot {
        agents: acd.agents().cloned().collect(),
        queues: acd.queues(now),
        outbound_ready: acd
            .outbound_ready()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

enum Msg {
    Enqueue {
        call: String,
        queue: String,
        priority: u8,
        skills: BTreeMap<String, u8>,
        inbox: mpsc::Sender<ToCall>,
        reply: oneshot::Sender<Result<u32, AcdError>>,
    },
    Leave {
        call: String,
        abandoned: bool,
    },
    Answered {
        call: String,
        agent: String,
        reply: oneshot::Sender<bool>,
    },
    Missed {
        call: String,
        agent: String,
    },
    Declined {
        call: String,
        agent: String,
    },
    HungUp {
        agent: String,
        /// A campaign call: wrap-up until its disposition (with the queue
        /// whose wrap-up time applies when the call came through none).
        hold: Option<Option<String>>,
    },
    Disposed {
        call: String,
    },
    ReserveOutbound {
        agent: String,
        call: String,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    Position {
        call: String,
        reply: oneshot::Sender<Option<u32>>,
    },
    Agent {
        agent: String,
        op: AgentOp,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
    /// The agent's phone is gone (registration expired, probes
    /// unanswered): log the agent out with `reason`.
    Gone {
        agent: String,
        reason: &'static str,
    },
}

/// A cheap handle to the ACD task.
#[derive(Clone, Debug)]
pub struct AcdHandle {
    tx: mpsc::Sender<Msg>,
    queues: Arc<HashMap<String, Queue>>,
    /// The latest state, refreshed every tick (for metrics, which cannot wait).
    latest: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    probe_every: Option<Duration>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("acd::Msg")
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Builds the ACD from the settings and the stored agent states, and
/// starts its task.
pub fn start(
    settings: &Settings,
    saved: Vec<AgentRow>,
    store: StoreHandle,
    scripts: Arc<ScriptHost>,
    plugins: Arc<crate::plugin::Plugins>,
) -> AcdHandle {
    let agents = settings
        .agents
        .iter()
        .map(|a| AgentConfig {
            name: a.id.clone(),
            skills: a.skills.clone(),
            outbound: a.outbound,
        })
        .collect();
    let queues: Vec<_> = settings.queues.iter().map(|q| q.acd.clone()).collect();
    let mut acd = Acd::new(agents, queues);
    let now = now_ms();
    acd.restore(
        saved.into_iter().filter_map(|row| {
            Some(Saved {
                state: AgentState::parse(&row.state)?,
                agent: row.agent,
                reason: row.reason,
                since_ms: row.since_ms,
                idle_since_ms: row.idle_since_ms,
                calls: row.calls,
                missed: row.missed,
            })
        }),
        now,
    );
    let logged_in = acd.agents().filter(|a| a.state.logged_in()).count();
    info!(
        agents = acd.agents().count(),
        logged_in,
        queues = settings.queues.len(),
        "acd ready"
    );
    let (tx, rx) = mpsc::channel(1024);
    let (latest_tx, latest) = tokio::sync::watch::channel(Arc::new(snapshot(&acd, now)));
    let task = Task {
        latest: latest_tx,
        acd,
        calls: HashMap::new(),
        store,
        hooks: hook_thread(scripts),
        plugins,
    };
    tokio::spawn(task.run(rx));
    AcdHandle {
        tx,
        latest,
        probe_every: (settings.acd.probe_interval_s > 0)
            .then(|| Duration::from_secs(settings.acd.probe_interval_s)),
        queues: Arc::new(
            settings
                .queues
                .iter()
                .map(|q| (q.acd.name.clone(), q.clone()))
                .collect(),
        ),
    }
}

impl AcdHandle {
    /// How often logged-in agents' phones are probed (`None`: never).
    pub fn probe_interval(&self) -> Option<Duration> {
        self.probe_every
    }

    /// The queue's configuration (music, announcements, overflow).
    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name)
    }

    async fn send(&self, msg: Msg) {
        if self.tx.send(msg).await.is_err() {
            debug!("acd task gone");
        }
    }

    /// Puts a call in a queue; its inbox gets the offers and the overflow.
    pub async fn enqueue(
        &self,
        call: &str,
        queue: &str,
        priority: u8,
        skills: BTreeMap<String, u8>,
        inbox: mpsc::Sender<ToCall>,
    ) -> Result<u32, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Enqueue {
            call: call.to_owned(),
            queue: queue.to_owned(),
            priority,
            skills,
            inbox,
            reply,
        })
        .await;
        match rx.await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the acd is not running".into()),
        }
    }

    pub async fn leave(&self, call: &str, abandoned: bool) {
        self.send(Msg::Leave {
            call: call.to_owned(),
            abandoned,
        })
        .await;
    }

    /// The agent's phone answered; false if the agent was not (or no
    /// longer) offered this call, and the leg should be hung up.
    pub async fn answered(&self, call: &str, agent: &str) -> bool {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Answered {
            call: call.to_owned(),
            agent: agent.to_owned(),
            reply,
        })
        .await;
        rx.await.unwrap_or(false)
    }

    pub async fn missed(&self, call: &str, agent: &str) {
        self.send(Msg::Missed {
            call: call.to_owned(),
            agent: agent.to_owned(),
        })
        .await;
    }

    /// The call could not be offered (it was leaving): the agent is free
    /// again, with no no-answer counted.
    pub async fn declined(&self, call: &str, agent: &str) {
        self.send(Msg::Declined {
            call: call.to_owned(),
            agent: agent.to_owned(),
        })
        .await;
    }

    pub async fn hung_up(&self, agent: &str) {
        self.send(Msg::HungUp {
            agent: agent.to_owned(),
            hold: None,
        })
        .await;
    }

    /// The agent's campaign call ended: wrap-up until the attempt's
    /// disposition is recorded ([`AcdHandle::disposed`]).
    pub async fn hung_up_awaiting_disposition(&self, agent: &str, queue: Option<String>) {
        self.send(Msg::HungUp {
            agent: agent.to_owned(),
            hold: Some(queue),
        })
        .await;
    }

    /// The disposition of `call` is on disk: its agent's wrap-up may end.
    pub async fn disposed(&self, call: &str) {
        self.send(Msg::Disposed {
            call: call.to_owned(),
        })
        .await;
    }

    /// Reserves a Ready blended agent for a call it dials itself (preview,
    /// manual): Reserved until the phone answers, then on the call.
    pub async fn reserve_outbound(&self, agent: &str, call: &str) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::ReserveOutbound {
            agent: agent.to_owned(),
            call: call.to_owned(),
            reply,
        })
        .await;
        match rx.await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the acd is not running".into()),
        }
    }

    pub async fn position(&self, call: &str) -> Option<u32> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Position {
            call: call.to_owned(),
            reply,
        })
        .await;
        rx.await.ok().flatten()
    }

    pub async fn agent(&self, agent: &str, op: AgentOp) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Agent {
            agent: agent.to_owned(),
            op,
            reply,
        })
        .await;
        match rx.await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the acd is not running".into()),
        }
    }

    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Snapshot { reply }).await;
        rx.await.ok()
    }

    /// The state as of the last tick (at most 200 ms old).
    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest.borrow().clone()
    }

    /// An agent's phone is gone (`unregistered`: no registration left;
    /// `unreachable`: it stopped answering OPTIONS): log the agent out.
    pub fn gone(&self, agent: &str, reason: &'static str) {
        let _ = self.tx.try_send(Msg::Gone {
            agent: agent.to_owned(),
            reason,
        });
    }
}

struct Task {
    latest: tokio::sync::watch::Sender<Arc<Snapshot>>,
    acd: Acd,
    /// Where each queued call's offers go.
    calls: HashMap<String, mpsc::Sender<ToCall>>,
    store: StoreHandle,
    /// To the thread that runs `agent.on_state_change`, in order.
    hooks: std::sync::mpsc::Sender<Vec<waihu_script::AgentChange>>,
    /// Event-sink plugins get every agent and queue change.
    plugins: Arc<crate::plugin::Plugins>,
}

/// Runs `agent.on_state_change` for each change, in order, on a thread of
/// its own so that Lua never holds up the ACD.
fn hook_thread(
    scripts: Arc<ScriptHost>,
) -> std::sync::mpsc::Sender<Vec<waihu_script::AgentChange>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<waihu_script::AgentChange>>();
    let spawned = std::thread::Builder::new()
        .name("waihu-agent-hook".into())
        .spawn(move || {
            for batch in rx {
                let version = scripts.current();
                for change in batch {
                    if let Err(e) = version.agent_state_change(&change) {
                        warn!(agent = %change.agent, error = %e, "agent.on_state_change failed");
                    }
                }
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "no thread for agent.on_state_change: the hook will not run");
    }
    tx
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut tick = interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => self.on_msg(msg),
                    None => break,
                },
                _ = tick.tick() => {}
            }
            let now = now_ms();
            let actions = self.acd.tick(now);
            for action in actions {
                self.dispatch(action, now);
            }
            self.record();
            self.latest.send_replace(Arc::new(snapshot(&self.acd, now)));
        }
        self.record();
    }

    fn on_msg(&mut self, msg: Msg) {
        let now = now_ms();
        match msg {
            Msg::Enqueue {
                call,
                queue,
                priority,
                skills,
                inbox,
                reply,
            } => {
                let result = self.acd.enqueue(&call, &queue, priority, skills, now);
                if result.is_ok() {
                    self.calls.insert(call, inbox);
                }
                let _ = reply.send(result);
            }
            Msg::Leave { call, abandoned } => {
                self.acd.leave(&call, abandoned, now);
                self.calls.remove(&call);
            }
            Msg::Answered { call, agent, reply } => {
                let ok = self.acd.answered(&call, &agent, now).is_ok();
                if ok {
                    self.calls.remove(&call);
                }
                let _ = reply.send(ok);
            }
            Msg::Missed { call, agent } => self.acd.missed(&call, &agent, now),
            Msg::Declined { call, agent } => self.acd.declined(&call, &agent, now),
            Msg::HungUp { agent, hold: None } => self.acd.hung_up(&agent, now),
            Msg::HungUp {
                agent,
                hold: Some(queue),
            } => self
                .acd
                .hung_up_awaiting_disposition(&agent, queue.as_deref(), now),
            Msg::Disposed { call } => {
                for agent in self.acd.disposed(&call, now) {
                    debug!(%agent, call_id = %call, "disposition in: the wrap-up may end");
                }
            }
            Msg::ReserveOutbound { agent, call, reply } => {
                let _ = reply.send(self.acd.reserve_outbound(&agent, &call, now));
            }
            Msg::Position { call, reply } => {
                let _ = reply.send(self.acd.position(&call));
            }
            Msg::Agent { agent, op, reply } => {
                let result = match op {
                    AgentOp::Login => self.acd.login(&agent, now),
                    AgentOp::Ready => self.acd.ready(&agent, now),
                    AgentOp::Pause(reason) => self.acd.pause(&agent, &reason, now),
                    AgentOp::Logout(reason) => self.acd.logout(&agent, &reason, now),
                };
                let _ = reply.send(result);
            }
            Msg::Snapshot { reply } => {
                let _ = reply.send(snapshot(&self.acd, now));
            }
            Msg::Gone { agent, reason } => {
                if self.acd.agent(&agent).is_some_and(|a| a.state.logged_in()) {
                    info!(%agent, reason, "agent's phone is gone: logging the agent out");
                    let _ = self.acd.logout(&agent, reason, now);
                }
            }
        }
    }

    fn dispatch(&mut self, action: Action, now: i64) {
        let call = match &action {
            Action::Offer { call, .. } | Action::Overflow { call, .. } => call.clone(),
        };
        let Some(inbox) = self.calls.get(&call) else {
            self.acd.leave(&call, true, now);
            return;
        };
        let message = match action {
            Action::Offer {
                agents,
                queue,
                ring_timeout_ms,
                ..
            } => ToCall::Offer {
                agents,
                queue,
                ring_timeout: Duration::from_millis(u64::try_from(ring_timeout_ms).unwrap_or(0)),
            },
            Action::Overflow {
                queue,
                reason,
                waited_ms,
                position,
                priority,
                ..
            } => ToCall::Overflow {
                queue,
                reason: reason.as_str(),
                waited_ms,
                position,
                priority,
            },
        };
        if inbox.try_send(message).is_err() {
            // The call ended (its Leave is on the way) or is swamped.
            warn!(call_id = %call, "queued call did not take its offer");
            self.calls.remove(&call);
            self.acd.leave(&call, true, now);
        }
    }

    /// Stores the changes since the last time and runs the agent hook.
    fn record(&mut self) {
        let changes = self.acd.drain_changes();
        if changes.is_empty() {
            return;
        }
        let mut events = Vec::with_capacity(changes.len());
        let mut rows: BTreeMap<String, AgentRow> = BTreeMap::new();
        let mut hooks = Vec::new();
        for change in changes {
            match change {
                Change::Agent {
                    at_ms,
                    agent,
                    from,
                    to,
                    reason,
                    queue,
                    call,
                } => {
                    debug!(%agent, %from, %to, ?reason, "agent state");
                    if self.plugins.wants_events() {
                        self.plugins.emit(crate::plugin::Event::Agent {
                            at_ms,
                            agent: agent.clone(),
                            from: from.as_str().into(),
                            to: to.as_str().into(),
                            reason: reason.clone(),
                            queue: queue.clone(),
                            call_id: call.clone(),
                        });
                    }
                    if let Some(a) = self.acd.agent(&agent) {
                        let s = a.saved();
                        rows.insert(
                            agent.clone(),
                            AgentRow {
                                agent: s.agent,
                                state: s.state.as_str().into(),
                                reason: s.reason,
                                since_ms: s.since_ms,
                                idle_since_ms: s.idle_since_ms,
                                calls: s.calls,
                                missed: s.missed,
                            },
                        );
                    }
                    hooks.push(waihu_script::AgentChange {
                        agent: agent.clone(),
                        from: from.as_str().into(),
                        to: to.as_str().into(),
                        reason: reason.clone(),
                        queue: queue.clone(),
                        call_id: call.clone(),
                        at_ms,
                    });
                    events.push(AcdEvent {
                        at_ms,
                        kind: "agent".into(),
                        agent: Some(agent),
                        queue,
                        call_id: call,
                        event: to.as_str().into(),
                        from_state: Some(from.as_str().into()),
                        reason,
                        ..AcdEvent::default()
                    });
                }
                Change::Queue {
                    at_ms,
                    queue,
                    call,
                    event,
                    agent,
                    waited_ms,
                    detail,
                } => {
                    if self.plugins.wants_events() {
                        self.plugins.emit(crate::plugin::Event::Queue {
                            at_ms,
                            queue: queue.clone(),
                            call_id: call.clone(),
                            event: event.as_str().into(),
                            agent: agent.clone(),
                            detail: detail.clone(),
                        });
                    }
                    let detail = match (waited_ms, detail) {
                        (Some(w), Some(d)) => Some(format!("waited_ms={w} {d}")),
                        (Some(w), None) => Some(format!("waited_ms={w}")),
                        (None, d) => d,
                    };
                    events.push(AcdEvent {
                        at_ms,
                        kind: "queue".into(),
                        agent,
                        queue: Some(queue),
                        call_id: Some(call),
                        event: event.as_str().into(),
                        detail,
                        ..AcdEvent::default()
                    });
                }
            }
        }
        self.store.spawn(move |store| {
            for row in rows.values() {
                if let Err(e) = store.save_agent(row) {
                    warn!(agent = %row.agent, error = %e, "agent state not stored");
                }
            }
            if let Err(e) = store.insert_acd_events(&events) {
                warn!(error = %e, "acd events not stored");
            }
        });
        if !hooks.is_empty() && self.hooks.send(hooks).is_err() {
            debug!("agent hook thread gone");
        }
    }
}
