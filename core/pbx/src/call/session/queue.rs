//! `call:queue(name)`: waiting in an ACD queue, the agent's leg, overflow,
//! and the agents' feature codes.
//!
//! The caller is answered and hears the queue's music, with its position
//! announced now and then. The ACD task offers the call to an agent: this
//! task rings the agent's phone (a B leg, as `call:dial` makes) while the
//! music goes on. An answer bridges the two; no answer, busy or an
//! unregistered phone is reported to the ACD as a miss and the call waits
//! on. When the call waits too long (or nobody is logged in) the ACD says
//! overflow and `queue.on_overflow` in Lua picks what happens.

use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use waihu_call::{Event, PlayItem, QueueOutcome, Tone, ToneRegion};
use waihu_media::player::Player;
use waihu_script::{OverflowAction, OverflowInfo};
use waihu_sip::message::NameAddr;

use super::super::FromCall;
use super::super::leg::player;
use super::{Session, Waiting, user_of};
use crate::acd::AgentOp;

/// The longest voicemail-style message a caller can leave on overflow.
const MAX_MESSAGE: Duration = Duration::from_secs(120);

/// A queued call's ACD side.
#[derive(Debug)]
pub(super) struct Queued {
    pub queue: String,
    /// In the ACD's waiting list now (not yet taken, not overflowed).
    pub waiting: bool,
    /// The agent whose phone rings, or who took the call.
    pub agent: Option<String>,
    /// When the agent answered.
    pub talking_since: Option<SystemTime>,
    next_announce: Option<Instant>,
}

/// What follows an overflow prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    /// Record the caller's message.
    Message,
    /// Reply `callback` to the route.
    Callback,
    /// Reply `hangup` to the route (which hangs up, as a rule).
    Hangup,
}

/// The queue figures kept for the CDR.
#[derive(Debug, Default)]
pub(super) struct QueueCdr {
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub entered: Option<SystemTime>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
}

fn ms_between(a: SystemTime, b: SystemTime) -> i64 {
    b.duration_since(a)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Session {
    /// `call:queue`: joins the queue; the reply comes when it is over.
    pub(super) async fn start_queue(
        &mut self,
        queue: String,
        priority: u8,
        skills: std::collections::BTreeMap<String, u8>,
    ) -> Option<Event> {
        if self.b.is_some() {
            return Some(Event::Failed {
                reason: "the call is already connected to another party".into(),
            });
        }
        let Some(config) = self.ctx.acd.queue(&queue).cloned() else {
            return Some(Event::Failed {
                reason: format!("no queue {queue}"),
            });
        };
        let moh = match self.moh(&config.moh) {
            Ok(p) => p,
            Err(reason) => return Some(Event::Failed { reason }),
        };
        let position = match self
            .ctx
            .acd
            .enqueue(&self.call_id, &queue, priority, skills, self.me.clone())
            .await
        {
            Ok(p) => p,
            Err(reason) => return Some(Event::Failed { reason }),
        };
        info!(call_id = %self.call_id, %queue, position, "queued");
        self.queue_cdr.queue = Some(queue.clone());
        self.queue_cdr.entered.get_or_insert_with(SystemTime::now);
        self.queued = Some(Queued {
            queue,
            waiting: true,
            agent: None,
            talking_since: None,
            next_announce: config.announce_every.map(|every| Instant::now() + every),
        });
        self.waiting = Waiting::Queue { player: moh };
        None
    }

    fn moh(&self, names: &[String]) -> Result<Player, String> {
        let items: Vec<PlayItem> = names
            .iter()
            .map(|n| PlayItem::Prompt { name: n.clone() })
            .collect();
        player(&self.ctx, &items).or_else(|_| {
            // A queue whose music is missing still gives the caller a
            // sound: ringback, rather than silence that sounds like a drop.
            player(
                &self.ctx,
                &[PlayItem::Tone {
                    tone: Tone::Ringback(ToneRegion::Configured),
                    ms: 600_000,
                }],
            )
        })
    }

    /// A frame of the queue's music or announcement; the position is
    /// announced when it is due.
    pub(super) async fn queue_frame(
        &mut self,
        now: Instant,
    ) -> Option<[i16; super::super::leg::FRAME_SAMPLES]> {
        let due = self
            .queued
            .as_ref()
            .and_then(|q| q.next_announce)
            .is_some_and(|t| now >= t);
        if due {
            self.announce_position(now).await;
        }
        let leg = self.leg.as_mut()?;
        let Waiting::Queue { player } = &mut self.waiting else {
            return None;
        };
        let (sent, done) = leg.play_frame(player);
        if done {
            // The music (or an announcement) ended: the music again.
            let names = self
                .queued
                .as_ref()
                .and_then(|q| self.ctx.acd.queue(&q.queue))
                .map(|c| c.moh.clone())
                .unwrap_or_default();
            if let Ok(moh) = self.moh(&names) {
                self.waiting = Waiting::Queue { player: moh };
            }
        }
        sent
    }

    async fn announce_position(&mut self, now: Instant) {
        let Some(q) = self.queued.as_mut() else {
            return;
        };
        let Some(config) = self.ctx.acd.queue(&q.queue).cloned() else {
            return;
        };
        q.next_announce = config.announce_every.map(|every| now + every);
        if q.agent.is_some() {
            return;
        }
        let Some(position) = self.ctx.acd.position(&self.call_id).await else {
            return;
        };
        let lang = &config.language;
        let mut items = vec![PlayItem::Prompt {
            name: format!("{lang}/queue_position"),
        }];
        items.extend(position.to_string().chars().map(|d| PlayItem::Prompt {
            name: format!("{lang}/digits/{d}"),
        }));
        items.push(PlayItem::Silence { ms: 500 });
        match player(&self.ctx, &items) {
            Ok(p) => {
                debug!(call_id = %self.call_id, position, "position announced");
                self.waiting = Waiting::Queue { player: p };
            }
            Err(e) => warn!(call_id = %self.call_id, error = %e, "no position announcement"),
        }
    }

    /// The ACD offers the call to agents: ring their phones (several at
    /// once for ring-all; the first to answer takes the call).
    pub(super) async fn on_offer(&mut self, agents: Vec<String>, ring_timeout: Duration) {
        let waiting = self
            .queued
            .as_ref()
            .is_some_and(|q| q.waiting && q.agent.is_none());
        if !waiting || self.b.is_some() || self.ended.is_some() {
            // Not this call's moment (it is leaving): hand the agents back.
            for agent in agents {
                self.ctx.acd.declined(&self.call_id, &agent).await;
            }
            return;
        }
        for agent in agents {
            let (reply, answer) = oneshot::channel();
            self.send(FromCall::Lookup {
                user: agent.clone(),
                reply,
            })
            .await;
            let targets = answer.await.unwrap_or_default();
            let Some((uri, peer)) = targets.into_iter().next() else {
                info!(call_id = %self.call_id, %agent, "agent's phone is not registered");
                self.ctx.acd.missed(&self.call_id, &agent).await;
                continue;
            };
            let mut from = NameAddr::new(self.invite.from.uri.clone());
            from.display = self.invite.from.display.clone();
            let to = NameAddr::new(super::dial::uri_for(&agent, &self.ctx.domain));
            info!(call_id = %self.call_id, %agent, "offering the call to an agent");
            self.launch_agent(uri, peer, from, to, agent, ring_timeout)
                .await;
        }
        if let Some(q) = self.queued.as_mut() {
            q.agent = self.b.as_ref().and_then(|b| b.agent.clone());
        }
    }

    /// The agent's phone did not take the call: back to waiting (unless
    /// other agents' phones still ring for it).
    pub(super) async fn agent_missed(&mut self, agent: &str) {
        if self.b.is_none()
            && let Some(fork) = self.forks.pop()
        {
            self.b = Some(fork);
        }
        let ringing = self.b.as_ref().and_then(|b| b.agent.clone());
        if let Some(q) = self.queued.as_mut() {
            q.agent = ringing;
        }
        self.ctx.acd.missed(&self.call_id, agent).await;
    }

    /// The agent's phone answered. False if the ACD no longer has the
    /// call for this agent (the leg is then hung up).
    pub(super) async fn agent_answered(&mut self, agent: &str) -> bool {
        if !self.ctx.acd.answered(&self.call_id, agent).await {
            return false;
        }
        let now = SystemTime::now();
        if let Some(q) = self.queued.as_mut() {
            q.waiting = false;
            q.agent = Some(agent.to_owned());
            q.talking_since = Some(now);
        }
        self.queue_cdr.agent = Some(agent.to_owned());
        self.queue_cdr.wait_ms = self.queue_cdr.entered.map(|e| ms_between(e, now));
        info!(call_id = %self.call_id, %agent, "agent took the call");
        if !self.is_originated() {
            self.ctx
                .plugins
                .emit_call(&self.call_id, || crate::plugin::CallEvent::Connected {
                    agent: agent.to_owned(),
                });
        }
        self.origin_connected(agent);
        true
    }

    /// The bridge with the agent ended: wrap-up for the agent, and the
    /// route goes on.
    pub(super) async fn agent_done(&mut self) -> Option<Event> {
        let q = self.queued.take()?;
        let agent = q.agent?;
        if let Some(since) = q.talking_since {
            self.queue_cdr.talk_ms = Some(ms_between(since, SystemTime::now()));
        }
        self.agent_hung_up(&agent).await;
        Some(Event::QueueDone {
            outcome: QueueOutcome::Answered,
            detail: Some(agent),
        })
    }

    /// The call is ending: tell the ACD whatever it still needs to know.
    pub(super) async fn queue_finish(&mut self) {
        let Some(q) = self.queued.take() else {
            return;
        };
        match (q.talking_since, q.agent) {
            (Some(since), Some(agent)) => {
                self.queue_cdr.talk_ms = Some(ms_between(since, SystemTime::now()));
                self.agent_hung_up(&agent).await;
            }
            _ => {
                if self.queue_cdr.wait_ms.is_none() {
                    self.queue_cdr.wait_ms = self
                        .queue_cdr
                        .entered
                        .map(|e| ms_between(e, SystemTime::now()));
                }
                self.ctx.acd.leave(&self.call_id, q.waiting).await;
            }
        }
    }

    /// The ACD gave up on the call: Lua's `queue.on_overflow` (or the
    /// queue's default, a message and hang-up) picks what happens.
    pub(super) async fn on_overflow(
        &mut self,
        queue: String,
        reason: &'static str,
        waited_ms: i64,
        position: u32,
        priority: u8,
    ) {
        let still = self
            .queued
            .as_ref()
            .is_some_and(|q| q.waiting && q.queue == queue);
        if !still || self.ended.is_some() {
            return;
        }
        info!(call_id = %self.call_id, %queue, reason, waited_ms, "queue overflow");
        let info = OverflowInfo {
            call_id: self.call_id.clone(),
            from: user_of(&self.invite.from.uri).unwrap_or_default(),
            to: user_of(&self.invite.uri).unwrap_or_default(),
            queue: queue.clone(),
            waited_s: u32::try_from(waited_ms / 1000).unwrap_or(u32::MAX),
            position,
            priority,
            reason: reason.to_owned(),
        };
        let version = match self.route.as_ref() {
            Some(route) => route.version().clone(),
            None => self.ctx.scripts.current(),
        };
        let default_prompt = self.ctx.acd.queue(&queue).map(|c| {
            c.overflow_prompt
                .clone()
                .unwrap_or_else(|| format!("{}/queue_busy", c.language))
        });
        let action = match version.queue_overflow(&info) {
            Ok(Some(action)) => action,
            Ok(None) => OverflowAction::Hangup {
                prompt: default_prompt.clone(),
            },
            Err(e) => {
                warn!(call_id = %self.call_id, error = %e, "queue.on_overflow failed; hanging up with the queue's message");
                OverflowAction::Hangup {
                    prompt: default_prompt.clone(),
                }
            }
        };
        // Whatever happens next, the call leaves this queue.
        self.ctx.acd.leave(&self.call_id, false).await;
        if let Some(q) = self.queued.as_mut() {
            q.waiting = false;
        }
        let (prompt, then) = match action {
            OverflowAction::Queue { queue: next } => {
                let (priority, skills) = (priority, std::collections::BTreeMap::new());
                self.queued = None;
                info!(call_id = %self.call_id, from = %queue, to = %next, "overflow to another queue");
                if let Some(reply) = self.start_queue(next, priority, skills).await {
                    // The other queue does not exist: the route hears why.
                    self.waiting = Waiting::Nothing;
                    self.advance(Some(reply)).await;
                }
                return;
            }
            OverflowAction::Voicemail { prompt } => (prompt, Then::Message),
            OverflowAction::Callback { prompt } => {
                let number = info.from.clone();
                let (call_id, q) = (self.call_id.clone(), queue.clone());
                let at = super::unix_ms(SystemTime::now());
                self.ctx.store.spawn(move |store| {
                    if let Err(e) = store.insert_callback(at, &number, &q, &call_id) {
                        warn!(%call_id, error = %e, "callback request not stored");
                    }
                });
                (prompt, Then::Callback)
            }
            OverflowAction::Hangup { prompt } => (prompt.or(default_prompt), Then::Hangup),
        };
        self.queued = None;
        let mut items: Vec<PlayItem> = prompt
            .into_iter()
            .map(|name| PlayItem::Prompt { name })
            .collect();
        if then == Then::Message {
            items.push(PlayItem::Silence { ms: 200 });
            items.push(PlayItem::Tone {
                tone: Tone::Busy(ToneRegion::NorthAmerica),
                ms: 250,
            });
        }
        let player = player(&self.ctx, &items).unwrap_or_else(|e| {
            warn!(call_id = %self.call_id, error = %e, "overflow prompt missing");
            Player::new(Vec::new())
        });
        self.waiting = Waiting::Overflow { player, then };
    }

    /// The overflow prompt has played.
    pub(super) async fn overflow_prompted(&mut self, then: Then) -> Option<Event> {
        match then {
            Then::Callback => Some(Event::QueueDone {
                outcome: QueueOutcome::Callback,
                detail: None,
            }),
            // The route decides what follows (the shipped one hangs up).
            Then::Hangup => Some(Event::QueueDone {
                outcome: QueueOutcome::Hangup,
                detail: None,
            }),
            Then::Message => {
                let file = format!(
                    "messages/{}.wav",
                    self.call_id.replace(['/', '\\', '.'], "_")
                );
                match self.start_recording(&file, waihu_call::RecordMode::Mono) {
                    Event::RecordingStarted { .. } => {
                        self.waiting = Waiting::Message {
                            deadline: Instant::now() + MAX_MESSAGE,
                        };
                        None
                    }
                    other => Some(other),
                }
            }
        }
    }

    /// The caller's message is done (pound key or time).
    pub(super) fn message_done(&mut self) -> Event {
        self.waiting = Waiting::Nothing;
        let path = self.stop_recording();
        Event::QueueDone {
            outcome: QueueOutcome::Voicemail,
            detail: path,
        }
    }

    /// A feature code dialled by an agent (`*41` log in, ...), or `None`
    /// when the call is not one. The call is answered, the state changed,
    /// a confirmation played, and the call hung up.
    pub(super) async fn feature_code(&mut self) -> Option<Vec<PlayItem>> {
        let to = user_of(&self.invite.uri)?;
        let codes = &self.ctx.feature_codes;
        let (op, prompt) = if to == codes.login_code {
            (AgentOp::Login, "agent_login")
        } else if to == codes.logout_code {
            (AgentOp::Logout("phone".into()), "agent_logout")
        } else if to == codes.pause_code {
            (AgentOp::Pause("phone".into()), "agent_pause")
        } else if to == codes.ready_code {
            (AgentOp::Ready, "agent_ready")
        } else {
            return None;
        };
        let agent = self.user.clone();
        let result = self.ctx.acd.agent(&agent, op.clone()).await;
        info!(call_id = %self.call_id, %agent, ?op, ?result, "feature code");
        Some(match result {
            Ok(()) => vec![PlayItem::Prompt {
                name: format!("en/{prompt}"),
            }],
            Err(_) => vec![PlayItem::Prompt {
                name: "en/invalid".into(),
            }],
        })
    }
}
