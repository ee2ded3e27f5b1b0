//! Automatic call distribution: agents, queues, and who takes which call.
//!
//! [`Acd`] is a state machine. The binary tells it what happens (an agent
//! logs in or pauses, a call joins a queue, an offered phone answers or
//! not, a call ends) and calls [`Acd::tick`] a few times a second; the tick
//! returns what to do ([`Action`]: ring these agents for that call,
//! overflow that call). Every change of an agent's state and every queue
//! event is recorded as a [`Change`] for the store, the hooks and the API
//! ([`Acd::drain_changes`]).
//!
//! # Agents
//! ```text
//!  LoggedOut ──login──> Ready ──offer──> Reserved ──answer──> OnCall
//!      ^                 ^ │ ^              │ no answer          │ hang-up
//!      │          ready  │ │ └──────────────┘ (N in a row:       v
//!      └──logout── Paused<─┘ pause              Paused no-answer) WrapUp ──> Ready
//! ```
//! A pause or logout asked for while an agent is Reserved or OnCall is
//! kept and applied when the call ends, so no call is cut by it.
//!
//! # Wrap-up held for a disposition
//! A campaign call ends in a wrap-up that lasts until the agent records
//! the attempt's disposition ([`Acd::hung_up_awaiting_disposition`], then
//! [`Acd::disposed`]): Ready is refused meanwhile, and a pause asked for
//! waits for it. Once the disposition is in, the queue's wrap-up time
//! (counted from the hang-up) runs out as usual, or the agent is Ready at
//! once when it already has. A disposition recorded during the call holds
//! nothing. Inbound calls wrap up for the queue's time alone.
//!
//! # Queues
//! Waiting calls are served highest priority first, then longest waiting,
//! across all queues (an agent in two queues takes the call that waited
//! longest). A call needing skills is offered only to agents with at least
//! those levels. The queue's strategy picks among the eligible Ready
//! agents: longest idle, round robin, fewest calls, ring all, or best
//! skilled. An agent who did not answer a call is not offered the same
//! call again until every other eligible agent has had it.
//!
//! # Blended agents
//! An agent marked `outbound` also serves campaigns, but inbound comes
//! first: [`Acd::outbound_ready`] lists only Ready agents that no waiting
//! inbound call could use, which is what the dialer counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Unix milliseconds.
pub type Ms = i64;

/// Where an agent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    LoggedOut,
    Ready,
    /// A call is ringing the agent's phone.
    Reserved,
    OnCall,
    /// After a call, for the queue's wrap-up time.
    WrapUp,
    Paused,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::Reserved => "reserved",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
            AgentState::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<AgentState> {
        Some(match s {
            "logged_out" => AgentState::LoggedOut,
            "ready" => AgentState::Ready,
            "reserved" => AgentState::Reserved,
            "on_call" => AgentState::OnCall,
            "wrap_up" => AgentState::WrapUp,
            "paused" => AgentState::Paused,
            _ => return None,
        })
    }

    /// Logged in, whatever doing.
    pub fn logged_in(self) -> bool {
        self != AgentState::LoggedOut
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a queue picks among its Ready agents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The agent whose last call ended longest ago (or who became ready
    /// longest ago).
    #[default]
    LongestIdle,
    /// The next member after the last one offered, in the queue's order.
    RoundRobin,
    /// The agent who answered the fewest calls.
    FewestCalls,
    /// Every eligible agent at once; the first to answer takes the call.
    RingAll,
    /// The agent with the highest levels in the skills the call needs.
    Skills,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::RingAll => "ring-all",
            Strategy::Skills => "skills",
        }
    }
}

/// A queue as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: String,
    pub strategy: Strategy,
    /// Agents who take this queue's calls, in order (round robin's order).
    pub members: Vec<String>,
    /// How long an offered phone rings before it counts as a no-answer.
    pub ring_timeout_ms: Ms,
    /// An agent's wrap-up time after a call of this queue.
    pub wrapup_ms: Ms,
    /// After this long in the queue a call overflows; `None`: never.
    pub max_wait_ms: Option<Ms>,
    /// No-answers in a row after which an agent is paused (`no-answer`);
    /// 0: never.
    pub max_no_answer: u32,
}

/// An agent as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentConfig {
    pub name: String,
    /// Skill name to level (1..=100).
    pub skills: BTreeMap<String, u8>,
    /// Blended: may also take outbound campaign calls.
    pub outbound: bool,
}

/// An agent's state as stored, to rebuild from after a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub agent: String,
    pub state: AgentState,
    pub reason: Option<String>,
    pub since_ms: Ms,
    pub idle_since_ms: Option<Ms>,
    pub calls: u32,
    pub missed: u32,
}

/// What is asked for after a call ends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum After {
    Pause(String),
    Logout(String),
}

/// One agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub name: String,
    pub state: AgentState,
    /// Why paused or logged out (`no-answer`, `lunch`, `unregistered`...).
    pub reason: Option<String>,
    /// When the current state began.
    pub since_ms: Ms,
    /// When the agent last became free (end of the last call, or ready
    /// after login); longest idle orders by it.
    pub idle_since_ms: Option<Ms>,
    /// Calls answered (fewest calls orders by it).
    pub calls: u32,
    /// No-answers in a row.
    pub missed: u32,
    pub skills: BTreeMap<String, u8>,
    pub outbound: bool,
    /// The call offered or in progress.
    pub call: Option<String>,
    /// The queue of that call (`None` for an outbound call).
    pub queue: Option<String>,
    /// The call being wrapped up (in WrapUp).
    pub wrap_call: Option<String>,
    /// The wrap-up lasts until the disposition of `wrap_call` is recorded.
    pub needs_disposition: bool,
    #[serde(skip)]
    wrapup_until: Option<Ms>,
    /// The wrap-up time that runs once the disposition is in.
    #[serde(skip)]
    held_wrapup_ms: Ms,
    /// A disposition recorded while this call was still up.
    #[serde(skip)]
    disposed_call: Option<String>,
    #[serde(skip)]
    after: Option<After>,
}

impl Agent {
    /// When the wrap-up ends; `None` outside wrap-up and while a
    /// disposition is awaited.
    pub fn wrap_up_until(&self) -> Option<Ms> {
        self.wrapup_until
    }

    /// The state to store (what [`Acd::restore`] reads back).
    pub fn saved(&self) -> Saved {
        Saved {
            agent: self.name.clone(),
            state: self.state,
            reason: self.reason.clone(),
            since_ms: self.since_ms,
            idle_since_ms: self.idle_since_ms,
            calls: self.calls,
            missed: self.missed,
        }
    }

    fn has_skills(&self, needs: &BTreeMap<String, u8>) -> bool {
        needs
            .iter()
            .all(|(skill, level)| self.skills.get(skill).is_some_and(|l| l >= level))
    }

    fn skill_score(&self, needs: &BTreeMap<String, u8>) -> u32 {
        if needs.is_empty() {
            self.skills.values().map(|&l| u32::from(l)).sum()
        } else {
            needs
                .keys()
                .map(|s| u32::from(self.skills.get(s).copied().unwrap_or(0)))
                .sum()
        }
    }
}

/// Why a call overflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    /// It waited the queue's maximum.
    MaxWait,
    /// No member of the queue is logged in.
    NoAgents,
}

impl OverflowReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OverflowReason::MaxWait => "max_wait",
            OverflowReason::NoAgents => "no_agents",
        }
    }
}

/// What the ACD asks the switch to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ring these agents' phones for the call (several for ring-all; the
    /// first to answer takes it). Each agent is now Reserved; report back
    /// with [`Acd::answered`] or [`Acd::missed`] for each.
    Offer {
        call: String,
        queue: String,
        agents: Vec<String>,
        ring_timeout_ms: Ms,
    },
    /// The call overflows: the switch runs the overflow action, then calls
    /// [`Acd::leave`] (or [`Acd::enqueue`] into another queue).
    Overflow {
        call: String,
        queue: String,
        reason: OverflowReason,
        waited_ms: Ms,
        position: u32,
        priority: u8,
    },
}

/// A queue event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEvent {
    Enter,
    Offer,
    Answer,
    /// The caller hung up while waiting.
    Abandon,
    Overflow,
    /// The call left after an overflow action.
    Leave,
}

impl QueueEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueEvent::Enter => "enter",
            QueueEvent::Offer => "offer",
            QueueEvent::Answer => "answer",
            QueueEvent::Abandon => "abandon",
            QueueEvent::Overflow => "overflow",
            QueueEvent::Leave => "leave",
        }
    }
}

/// Something that changed, for the store, the hooks and the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Agent {
        at_ms: Ms,
        agent: String,
        from: AgentState,
        to: AgentState,
        reason: Option<String>,
        queue: Option<String>,
        call: Option<String>,
    },
    Queue {
        at_ms: Ms,
        queue: String,
        call: String,
        event: QueueEvent,
        agent: Option<String>,
        /// Milliseconds waited, for answer, abandon and overflow.
        waited_ms: Option<Ms>,
        detail: Option<String>,
    },
}

/// Why a request to the ACD was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcdError {
    #[error("no agent {0}")]
    UnknownAgent(String),
    #[error("no queue {0}")]
    UnknownQueue(String),
    #[error("agent {0} is not logged in")]
    NotLoggedIn(String),
    #[error("call {0} is already in a queue")]
    AlreadyQueued(String),
    #[error("agent {agent} is {state}, not free for a call")]
    NotReady { agent: String, state: AgentState },
    #[error("agent {agent} is wrapping up call {call}: its disposition comes first")]
    NeedsDisposition { agent: String, call: String },
}

/// A call in a queue.
#[derive(Clone, Debug)]
struct Waiting {
    call: String,
    queue: String,
    priority: u8,
    skills: BTreeMap<String, u8>,
    entered_ms: Ms,
    /// Arrival order, for ties.
    seq: u64,
    /// Agents ringing for it now.
    ringing: Vec<String>,
    /// Agents who did not answer it.
    tried: BTreeSet<String>,
    /// Overflow reported; no more offers.
    overflowing: bool,
}

#[derive(Clone, Debug)]
struct Queue {
    config: QueueConfig,
    /// Round robin: the index in `members` of the last agent offered.
    last: Option<usize>,
}

/// The queue figures the API and the wallboard show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    pub name: String,
    pub strategy: Strategy,
    pub waiting: u32,
    pub longest_wait_ms: Ms,
    pub members: u32,
    pub logged_in: u32,
    pub ready: u32,
}

/// Agents and queues.
#[derive(Clone, Debug)]
pub struct Acd {
    agents: BTreeMap<String, Agent>,
    queues: BTreeMap<String, Queue>,
    waiting: Vec<Waiting>,
    seq: u64,
    changes: Vec<Change>,
}

impl Acd {
    /// Every agent starts logged out; see [`Acd::restore`].
    pub fn new(agents: Vec<AgentConfig>, queues: Vec<QueueConfig>) -> Acd {
        let agents = agents
            .into_iter()
            .map(|a| {
                let agent = Agent {
                    name: a.name.clone(),
                    state: AgentState::LoggedOut,
                    reason: None,
                    since_ms: 0,
                    idle_since_ms: None,
                    calls: 0,
                    missed: 0,
                    skills: a.skills,
                    outbound: a.outbound,
                    call: None,
                    queue: None,
                    wrap_call: None,
                    needs_disposition: false,
                    wrapup_until: None,
                    held_wrapup_ms: 0,
                    disposed_call: None,
                    after: None,
                };
                (a.name, agent)
            })
            .collect();
        let queues = queues
            .into_iter()
            .map(|q| {
                (
                    q.name.clone(),
                    Queue {
                        config: q,
                        last: None,
                    },
                )
            })
            .collect();
        Acd {
            agents,
            queues,
            waiting: Vec::new(),
            seq: 0,
            changes: Vec::new(),
        }
    }

    /// Rebuilds agents from their stored state after a restart. The calls
    /// of the old process are gone, so an agent who was Reserved, OnCall or
    /// in WrapUp comes back Ready (reason `restart`); paused and logged-out
    /// agents stay so, with their reasons. Unknown agents are ignored.
    pub fn restore(&mut self, saved: impl IntoIterator<Item = Saved>, now: Ms) {
        for s in saved {
            let Some(agent) = self.agents.get_mut(&s.agent) else {
                continue;
            };
            agent.calls = s.calls;
            agent.missed = s.missed;
            agent.idle_since_ms = s.idle_since_ms;
            agent.state = s.state;
            agent.reason = s.reason;
            agent.since_ms = s.since_ms;
            if matches!(
                s.state,
                AgentState::Reserved | AgentState::OnCall | AgentState::WrapUp
            ) {
                let idle = agent.idle_since_ms.unwrap_or(now);
                agent.idle_since_ms = Some(idle);
                self.set(&s.agent, AgentState::Ready, Some("restart".into()), now);
            }
        }
    }

    /// Logs an agent in, Ready. Logging in again is harmless.
    pub fn login(&mut self, agent: &str, now: Ms) -> Result<(), AcdError> {
        let a = self.agent_mut(agent)?;
        if a.state.logged_in() {
            return Ok(());
        }
        a.idle_since_ms = Some(now);
        a.missed = 0;
        self.set(agent, AgentState::Ready, None, now);
        Ok(())
    }

    /// Back to Ready from a pause or wrap-up; during a call it cancels a
    /// pause or logout asked for meanwhile.
    pub fn ready(&mut self, agent: &str, now: Ms) -> Result<(), AcdError> {
        let a = self.agent_mut(agent)?;
        match a.state {
            AgentState::LoggedOut => Err(AcdError::NotLoggedIn(agent.to_owned())),
            AgentState::Ready => Ok(()),
            AgentState::Reserved | AgentState::OnCall => {
                a.after = None;
                Ok(())
            }
            AgentState::WrapUp if a.needs_disposition => Err(AcdError::NeedsDisposition {
                agent: agent.to_owned(),
                call: a.wrap_call.clone().unwrap_or_default(),
            }),
            AgentState::Paused | AgentState::WrapUp => {
                a.missed = 0;
                a.wrapup_until = None;
                if a.idle_since_ms.is_none() {
                    a.idle_since_ms = Some(now);
                }
                self.set(agent, AgentState::Ready, None, now);
                Ok(())
            }
        }
    }

    /// Pauses an agent with a reason; during a call, once it ends.
    pub fn pause(&mut self, agent: &str, reason: &str, now: Ms) -> Result<(), AcdError> {
        let a = self.agent_mut(agent)?;
        match a.state {
            AgentState::LoggedOut => Err(AcdError::NotLoggedIn(agent.to_owned())),
            AgentState::Reserved | AgentState::OnCall => {
                a.after = Some(After::Pause(reason.to_owned()));
                Ok(())
            }
            AgentState::WrapUp if a.needs_disposition => {
                a.after = Some(After::Pause(reason.to_owned()));
                Ok(())
            }
            AgentState::Ready | AgentState::WrapUp | AgentState::Paused => {
                a.wrapup_until = None;
                self.set(agent, AgentState::Paused, Some(reason.to_owned()), now);
                Ok(())
            }
        }
    }

    /// Logs an agent out (`reason`: `api`, `phone`, `unregistered`,
    /// `unreachable`...); during a call, once it ends.
    pub fn logout(&mut self, agent: &str, reason: &str, now: Ms) -> Result<(), AcdError> {
        let a = self.agent_mut(agent)?;
        match a.state {
            AgentState::LoggedOut => Ok(()),
            AgentState::Reserved | AgentState::OnCall => {
                a.after = Some(After::Logout(reason.to_owned()));
                Ok(())
            }
            _ => {
                a.wrapup_until = None;
                self.set(agent, AgentState::LoggedOut, Some(reason.to_owned()), now);
                Ok(())
            }
        }
    }

    /// A call joins a queue; returns its position (1 = next).
    pub fn enqueue(
        &mut self,
        call: &str,
        queue: &str,
        priority: u8,
        skills: BTreeMap<String, u8>,
        now: Ms,
    ) -> Result<u32, AcdError> {
        if !self.queues.contains_key(queue) {
            return Err(AcdError::UnknownQueue(queue.to_owned()));
        }
        if self.waiting.iter().any(|w| w.call == call) {
            return Err(AcdError::AlreadyQueued(call.to_owned()));
        }
        self.seq += 1;
        self.waiting.push(Waiting {
            call: call.to_owned(),
            queue: queue.to_owned(),
            priority,
            skills,
            entered_ms: now,
            seq: self.seq,
            ringing: Vec::new(),
            tried: BTreeSet::new(),
            overflowing: false,
        });
        self.queue_change(queue, call, QueueEvent::Enter, None, None, None, now);
        Ok(self.position(call).unwrap_or(1))
    }

    /// The call left its queue without an agent: the caller hung up
    /// (`abandoned`), or its overflow action is done. Agents ringing for it
    /// are free again, with no no-answer counted.
    pub fn leave(&mut self, call: &str, abandoned: bool, now: Ms) {
        let Some(i) = self.waiting.iter().position(|w| w.call == call) else {
            return;
        };
        let w = self.waiting.remove(i);
        for agent in &w.ringing {
            self.release(agent, now);
        }
        let event = if abandoned {
            QueueEvent::Abandon
        } else {
            QueueEvent::Leave
        };
        let waited = now - w.entered_ms;
        self.queue_change(&w.queue, call, event, None, Some(waited), None, now);
    }

    /// The agent answered the call offered: On-call. Other agents ringing
    /// for it (ring-all) are free again; the switch cancels their legs.
    /// Returns how long the call waited.
    pub fn answered(&mut self, call: &str, agent: &str, now: Ms) -> Result<Ms, AcdError> {
        let a = self.agent_mut(agent)?;
        if a.state != AgentState::Reserved || a.call.as_deref() != Some(call) {
            return Err(AcdError::NotReady {
                agent: agent.to_owned(),
                state: a.state,
            });
        }
        a.calls += 1;
        a.missed = 0;
        let queue = a.queue.clone();
        self.set(agent, AgentState::OnCall, None, now);
        let Some(i) = self.waiting.iter().position(|w| w.call == call) else {
            // An outbound call: nothing was waiting.
            return Ok(0);
        };
        let w = self.waiting.remove(i);
        for other in w.ringing.iter().filter(|o| *o != agent) {
            self.release(other, now);
        }
        let waited = now - w.entered_ms;
        self.queue_change(
            queue.as_deref().unwrap_or(&w.queue),
            call,
            QueueEvent::Answer,
            Some(agent),
            Some(waited),
            None,
            now,
        );
        Ok(waited)
    }

    /// The agent's phone did not take the call (no answer, busy, rejected,
    /// unreachable). After the queue's `max_no_answer` in a row the agent
    /// is paused with reason `no-answer`. The call stays in its queue.
    pub fn missed(&mut self, call: &str, agent: &str, now: Ms) {
        if let Some(w) = self.waiting.iter_mut().find(|w| w.call == call) {
            w.ringing.retain(|a| a != agent);
            w.tried.insert(agent.to_owned());
        }
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.state != AgentState::Reserved || a.call.as_deref() != Some(call) {
            return;
        }
        a.missed += 1;
        let limit = a
            .queue
            .as_ref()
            .and_then(|q| self.queues.get(q))
            .map_or(0, |q| q.config.max_no_answer);
        let missed = a.missed;
        if limit > 0 && missed >= limit && a.after.is_none() {
            a.after = Some(After::Pause("no-answer".into()));
        }
        self.release(agent, now);
    }

    /// The offer could not be made (the call was leaving, the switch
    /// could not ring the phone for a reason of its own): the agent is
    /// free again and no no-answer is counted.
    pub fn declined(&mut self, call: &str, agent: &str, now: Ms) {
        if let Some(w) = self.waiting.iter_mut().find(|w| w.call == call) {
            w.ringing.retain(|a| a != agent);
        }
        if self
            .agents
            .get(agent)
            .is_some_and(|a| a.state == AgentState::Reserved && a.call.as_deref() == Some(call))
        {
            self.release(agent, now);
        }
    }

    /// The agent's call ended: wrap-up for the queue's time (then Ready),
    /// or whatever pause or logout was asked for during the call.
    pub fn hung_up(&mut self, agent: &str, now: Ms) {
        self.end_call(agent, None, now);
    }

    /// The agent's campaign call ended: wrap-up until its disposition is
    /// recorded ([`Acd::disposed`]), unless it already is. `queue` gives
    /// the wrap-up time when the call came through none (agent first).
    pub fn hung_up_awaiting_disposition(&mut self, agent: &str, queue: Option<&str>, now: Ms) {
        self.end_call(agent, Some(queue), now);
    }

    /// `hold`: the call's disposition is awaited (with the fallback queue).
    fn end_call(&mut self, agent: &str, hold: Option<Option<&str>>, now: Ms) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.state != AgentState::OnCall {
            return;
        }
        let fallback = hold.flatten();
        let wrapup = a
            .queue
            .as_deref()
            .or(fallback)
            .and_then(|q| self.queues.get(q))
            .map_or(0, |q| q.config.wrapup_ms);
        a.idle_since_ms = Some(now);
        let call = a.call.clone();
        let disposed = a.disposed_call.take();
        let held = hold.is_some() && call.is_some() && disposed != call;
        if held {
            // Any pause or logout asked for waits for the disposition too.
            a.wrap_call = call;
            a.needs_disposition = true;
            a.held_wrapup_ms = wrapup;
            a.wrapup_until = None;
            self.set(agent, AgentState::WrapUp, None, now);
        } else if let Some(after) = a.after.take() {
            self.apply(agent, after, now);
        } else if wrapup > 0 {
            a.wrapup_until = Some(now + wrapup);
            a.wrap_call = call;
            self.set(agent, AgentState::WrapUp, None, now);
        } else {
            self.set(agent, AgentState::Ready, None, now);
        }
    }

    /// The disposition of `call` is recorded: the held wrap-up of each
    /// agent who had the call (more than one after a transfer) ends when
    /// the wrap-up time since the hang-up has passed (at once if it has),
    /// and an agent still on it will not be held. Returns those agents.
    pub fn disposed(&mut self, call: &str, now: Ms) -> Vec<String> {
        let names: Vec<String> = self
            .agents
            .values()
            .filter(|a| {
                (a.state == AgentState::WrapUp
                    && a.needs_disposition
                    && a.wrap_call.as_deref() == Some(call))
                    || (matches!(a.state, AgentState::OnCall | AgentState::Reserved)
                        && a.call.as_deref() == Some(call))
            })
            .map(|a| a.name.clone())
            .collect();
        for name in &names {
            let Some(a) = self.agents.get_mut(name) else {
                continue;
            };
            if a.state != AgentState::WrapUp {
                a.disposed_call = Some(call.to_owned());
                continue;
            }
            a.needs_disposition = false;
            let until = a.since_ms + a.held_wrapup_ms;
            if let Some(after) = a.after.take() {
                self.apply(name, after, now);
            } else if until > now {
                a.wrapup_until = Some(until);
            } else {
                self.set(name, AgentState::Ready, None, now);
            }
        }
        names
    }

    /// Reserves a Ready blended agent for an outbound call (the dialer).
    pub fn reserve_outbound(&mut self, agent: &str, call: &str, now: Ms) -> Result<(), AcdError> {
        let a = self.agent_mut(agent)?;
        if a.state != AgentState::Ready || !a.outbound {
            return Err(AcdError::NotReady {
                agent: agent.to_owned(),
                state: a.state,
            });
        }
        a.call = Some(call.to_owned());
        a.queue = None;
        self.set(agent, AgentState::Reserved, None, now);
        Ok(())
    }

    /// Ready blended agents no waiting inbound call could use: the agents
    /// the dialer may count. Inbound first: while a call waits that an
    /// agent is eligible for, that agent is not offered to outbound.
    pub fn outbound_ready(&self) -> Vec<&str> {
        self.agents
            .values()
            .filter(|a| a.state == AgentState::Ready && a.outbound)
            .filter(|a| {
                !self.waiting.iter().any(|w| {
                    !w.overflowing && self.is_member(&w.queue, &a.name) && a.has_skills(&w.skills)
                })
            })
            .map(|a| a.name.as_str())
            .collect()
    }

    /// Ends wrap-ups that are due, overflows calls, and offers waiting
    /// calls to free agents.
    pub fn tick(&mut self, now: Ms) -> Vec<Action> {
        let mut actions = Vec::new();
        let due: Vec<String> = self
            .agents
            .values()
            .filter(|a| a.state == AgentState::WrapUp && a.wrapup_until.is_some_and(|t| t <= now))
            .map(|a| a.name.clone())
            .collect();
        for agent in due {
            if let Some(a) = self.agents.get_mut(&agent) {
                a.wrapup_until = None;
            }
            self.set(&agent, AgentState::Ready, None, now);
        }
        self.overflow(now, &mut actions);
        self.distribute(now, &mut actions);
        actions
    }

    fn overflow(&mut self, now: Ms, actions: &mut Vec<Action>) {
        let mut overflowed = Vec::new();
        for w in &self.waiting {
            if w.overflowing || !w.ringing.is_empty() {
                continue;
            }
            let Some(q) = self.queues.get(&w.queue) else {
                continue;
            };
            let waited = now - w.entered_ms;
            let reason = if q.config.max_wait_ms.is_some_and(|max| waited >= max) {
                OverflowReason::MaxWait
            } else if !q
                .config
                .members
                .iter()
                .any(|m| self.agents.get(m).is_some_and(|a| a.state.logged_in()))
            {
                OverflowReason::NoAgents
            } else {
                continue;
            };
            overflowed.push((w.call.clone(), reason, waited));
        }
        for (call, reason, waited) in overflowed {
            let position = self.position(&call).unwrap_or(1);
            let Some(w) = self.waiting.iter_mut().find(|w| w.call == call) else {
                continue;
            };
            w.overflowing = true;
            let (queue, priority) = (w.queue.clone(), w.priority);
            self.queue_change(
                &queue,
                &call,
                QueueEvent::Overflow,
                None,
                Some(waited),
                Some(reason.as_str().into()),
                now,
            );
            actions.push(Action::Overflow {
                call,
                queue,
                reason,
                waited_ms: waited,
                position,
                priority,
            });
        }
    }

    fn distribute(&mut self, now: Ms, actions: &mut Vec<Action>) {
        let mut order: Vec<usize> = (0..self.waiting.len())
            .filter(|&i| {
                let w = &self.waiting[i];
                !w.overflowing && w.ringing.is_empty()
            })
            .collect();
        order.sort_by_key(|&i| {
            let w = &self.waiting[i];
            (std::cmp::Reverse(w.priority), w.entered_ms, w.seq)
        });
        for i in order {
            let picked = self.pick(i);
            if picked.is_empty() {
                continue;
            }
            let w = &mut self.waiting[i];
            w.ringing = picked.clone();
            let (call, queue) = (w.call.clone(), w.queue.clone());
            let ring_timeout_ms = self
                .queues
                .get(&queue)
                .map_or(15_000, |q| q.config.ring_timeout_ms);
            for agent in &picked {
                if let Some(a) = self.agents.get_mut(agent) {
                    a.call = Some(call.clone());
                    a.queue = Some(queue.clone());
                }
                self.set(agent, AgentState::Reserved, None, now);
                self.queue_change(
                    &queue,
                    &call,
                    QueueEvent::Offer,
                    Some(agent),
                    None,
                    None,
                    now,
                );
            }
            actions.push(Action::Offer {
                call,
                queue,
                agents: picked,
                ring_timeout_ms,
            });
        }
    }

    /// The agents the waiting call `i` goes to now, by its queue's strategy.
    fn pick(&mut self, i: usize) -> Vec<String> {
        let w = &self.waiting[i];
        let Some(q) = self.queues.get(&w.queue) else {
            return Vec::new();
        };
        let eligible = |a: &Agent| a.state == AgentState::Ready && a.has_skills(&w.skills);
        let mut members: Vec<(usize, &Agent)> = q
            .config
            .members
            .iter()
            .enumerate()
            .filter_map(|(n, m)| self.agents.get(m).map(|a| (n, a)))
            .filter(|(_, a)| eligible(a))
            .collect();
        // Everyone eligible has missed this call: start a new round.
        let fresh: Vec<(usize, &Agent)> = members
            .iter()
            .copied()
            .filter(|(_, a)| !w.tried.contains(&a.name))
            .collect();
        let round_over = fresh.is_empty() && !members.is_empty();
        if !round_over {
            members = fresh;
        }
        if members.is_empty() {
            return Vec::new();
        }
        let idle = |a: &Agent| (a.idle_since_ms.unwrap_or(a.since_ms), a.name.clone());
        let chosen: Vec<(usize, String)> = match q.config.strategy {
            Strategy::RingAll => members.iter().map(|(n, a)| (*n, a.name.clone())).collect(),
            Strategy::LongestIdle => members
                .iter()
                .min_by_key(|(_, a)| idle(a))
                .map(|(n, a)| vec![(*n, a.name.clone())])
                .unwrap_or_default(),
            Strategy::FewestCalls => members
                .iter()
                .min_by_key(|(_, a)| (a.calls, idle(a)))
                .map(|(n, a)| vec![(*n, a.name.clone())])
                .unwrap_or_default(),
            Strategy::Skills => members
                .iter()
                .min_by_key(|(_, a)| (std::cmp::Reverse(a.skill_score(&w.skills)), idle(a)))
                .map(|(n, a)| vec![(*n, a.name.clone())])
                .unwrap_or_default(),
            Strategy::RoundRobin => {
                let start = q.last.map_or(0, |l| l + 1);
                let len = q.config.members.len().max(1);
                members
                    .iter()
                    .min_by_key(|(n, _)| (n + len - start % len) % len)
                    .map(|(n, a)| vec![(*n, a.name.clone())])
                    .unwrap_or_default()
            }
        };
        let last = chosen.last().map(|(n, _)| *n);
        let names = chosen.into_iter().map(|(_, a)| a).collect();
        if round_over {
            self.waiting[i].tried.clear();
        }
        if let (Some(q), Some(n)) = (self.queues.get_mut(&self.waiting[i].queue), last) {
            q.last = Some(n);
        }
        names
    }

    /// 1-based place of a waiting call among its queue's calls.
    pub fn position(&self, call: &str) -> Option<u32> {
        let w = self.waiting.iter().find(|w| w.call == call)?;
        let key = |x: &Waiting| (std::cmp::Reverse(x.priority), x.entered_ms, x.seq);
        let ahead = self
            .waiting
            .iter()
            .filter(|x| x.queue == w.queue && key(x) < key(w))
            .count();
        u32::try_from(ahead + 1).ok()
    }

    /// Whether `agent` is a member of `queue`.
    pub fn is_member(&self, queue: &str, agent: &str) -> bool {
        self.queues
            .get(queue)
            .is_some_and(|q| q.config.members.iter().any(|m| m == agent))
    }

    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.get(name)
    }

    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    pub fn queue_config(&self, name: &str) -> Option<&QueueConfig> {
        self.queues.get(name).map(|q| &q.config)
    }

    /// Each queue's figures at `now`.
    pub fn queues(&self, now: Ms) -> Vec<QueueStatus> {
        self.queues
            .values()
            .map(|q| {
                let waiting: Vec<&Waiting> = self
                    .waiting
                    .iter()
                    .filter(|w| w.queue == q.config.name)
                    .collect();
                let members: Vec<&Agent> = q
                    .config
                    .members
                    .iter()
                    .filter_map(|m| self.agents.get(m))
                    .collect();
                let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                QueueStatus {
                    name: q.config.name.clone(),
                    strategy: q.config.strategy,
                    waiting: count(waiting.len()),
                    longest_wait_ms: waiting
                        .iter()
                        .map(|w| now - w.entered_ms)
                        .max()
                        .unwrap_or(0),
                    members: count(members.len()),
                    logged_in: count(members.iter().filter(|a| a.state.logged_in()).count()),
                    ready: count(
                        members
                            .iter()
                            .filter(|a| a.state == AgentState::Ready)
                            .count(),
                    ),
                }
            })
            .collect()
    }

    /// The changes since the last drain, oldest first.
    pub fn drain_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    fn agent_mut(&mut self, agent: &str) -> Result<&mut Agent, AcdError> {
        self.agents
            .get_mut(agent)
            .ok_or_else(|| AcdError::UnknownAgent(agent.to_owned()))
    }

    /// Frees a Reserved agent whose offer ended without a call, applying a
    /// pause or logout asked for meanwhile.
    fn release(&mut self, agent: &str, now: Ms) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.state != AgentState::Reserved {
            return;
        }
        match a.after.take() {
            Some(after) => self.apply(agent, after, now),
            None => self.set(agent, AgentState::Ready, None, now),
        }
    }

    fn apply(&mut self, agent: &str, after: After, now: Ms) {
        match after {
            After::Pause(reason) => self.set(agent, AgentState::Paused, Some(reason), now),
            After::Logout(reason) => self.set(agent, AgentState::LoggedOut, Some(reason), now),
        }
    }

    /// Moves an agent to `to`, recording the change. A state without a
    /// call drops the call and queue.
    fn set(&mut self, agent: &str, to: AgentState, reason: Option<String>, now: Ms) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let from = a.state;
        let (queue, call) = (a.queue.clone(), a.call.clone());
        a.state = to;
        a.reason = reason.clone();
        a.since_ms = now;
        if !matches!(to, AgentState::Reserved | AgentState::OnCall) {
            a.call = None;
            if to != AgentState::WrapUp {
                a.queue = None;
            }
        }
        if to != AgentState::WrapUp {
            a.wrap_call = None;
            a.needs_disposition = false;
            a.held_wrapup_ms = 0;
        }
        if to != AgentState::OnCall {
            a.disposed_call = None;
        }
        if to == AgentState::LoggedOut {
            a.after = None;
        }
        self.changes.push(Change::Agent {
            at_ms: now,
            agent: agent.to_owned(),
            from,
            to,
            reason,
            queue,
            call,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn queue_change(
        &mut self,
        queue: &str,
        call: &str,
        event: QueueEvent,
        agent: Option<&str>,
        waited_ms: Option<Ms>,
        detail: Option<String>,
        now: Ms,
    ) {
        self.changes.push(Change::Queue {
            at_ms: now,
            queue: queue.to_owned(),
            call: call.to_owned(),
            event,
            agent: agent.map(str::to_owned),
            waited_ms,
            detail,
        });
    }
}

#[cfg(test)]
mod tests;
