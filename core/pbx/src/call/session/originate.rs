//! Campaign calls: the switch calls the customer.
//!
//! The dialer hands [`spawn_originate`] a [`Dialout`] whose attempt row is
//! already on disk. The task has no caller yet: it dials the customer
//! through the campaign's trunk group as a B leg (trunk limits, digest
//! challenges and failover as for any `call:dial`). When the customer
//! answers, that leg becomes the call's own leg (the "caller" of
//! everything that follows) and the call joins the campaign's queue. An
//! agent who answers in time is bridged as for an inbound queued call;
//! when the connect limit passes first, the customer hears the
//! safe-harbour message (who called, how to opt out) and the call counts
//! as abandoned. Every step is reported to the dialer as a
//! [`DialerEvent`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::info;
use waihu_call::{DialOutcome, Event, HangupCause, Party, PlayItem, QueueOutcome};
use waihu_sip::message::{Method, NameAddr, Request, SipUri, Uri};

use super::super::{CallContext, CallResult, DialerEvent, Dialout, FromCall, ToCall};
use super::{Parties, Session, Waiting, queue, unix_ms};
use crate::shutdown::Shutdown;

/// Priority of an answered campaign call in its queue: above inbound calls
/// of the default priority, since a live customer waits on a 2 s budget.
const CAMPAIGN_PRIORITY: u8 = 9;

/// The campaign side of an originated call.
#[derive(Debug)]
pub(super) struct Origin {
    pub dialout: Dialout,
    /// Agent first (preview, manual): the agent's phone answered, and
    /// when the customer joined them.
    pub agent_answered: bool,
    pub talking_since: Option<SystemTime>,
    /// When the customer answered, and by when an agent must have.
    pub answered_at: Option<Instant>,
    pub connect_by: Option<Instant>,
    pub connected: Option<String>,
    pub abandoned: bool,
    /// The final status of the last failed INVITE.
    pub failed_status: Option<u16>,
    pub outcome: Option<DialOutcome>,
    pub ring_ms: i64,
    /// Answering-machine detection while it listens (and, after a machine
    /// with the `message` action, while it waits for the beep).
    pub amd: Option<crate::plugin::AmdRunner>,
    /// An answering machine answered.
    pub machine: bool,
    /// Message action: run the flow by then, beep or not.
    pub message_by: Option<Instant>,
}

/// Starts a campaign call; returns where the driver sends it more.
pub fn spawn_originate(
    ctx: Arc<CallContext>,
    driver: mpsc::Sender<FromCall>,
    dialout: Dialout,
    shutdown: Shutdown,
) -> mpsc::Sender<ToCall> {
    // Not sent: what the CDR and the logs show as this call's parties.
    let uri = Uri::Sip(SipUri::new(
        Some(&dialout.number),
        waihu_sip::message::Host::Name(ctx.domain.clone()),
    ));
    let caller = dialout.caller_id.clone().unwrap_or_else(|| "waihu".into());
    let from = NameAddr::new(Uri::Sip(SipUri::new(
        Some(&caller),
        waihu_sip::message::Host::Name(ctx.domain.clone()),
    )));
    let invite = Request::new(
        Method::Invite,
        uri.clone(),
        waihu_sip::message::Via {
            transport: "UDP".into(),
            host: waihu_sip::message::Host::Name(ctx.domain.clone()),
            port: None,
            params: waihu_sip::message::Params::default(),
        },
        from,
        NameAddr::new(uri),
        &dialout.call_id,
        1,
    );
    let (mut session, tx) = Session::fresh(
        ctx,
        driver,
        Parties {
            invite,
            invite_id: None,
            // Set when the customer answers (their leg becomes the call's).
            peer: waihu_sip::Peer {
                transport: waihu_sip::Transport::Udp,
                addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            },
            user: format!("campaign:{}", dialout.campaign),
            local_tag: String::new(),
        },
    );
    session.vars = BTreeMap::from([
        ("campaign".to_owned(), dialout.campaign.clone()),
        ("attempt".to_owned(), dialout.attempt_id.to_string()),
    ]);
    if let Some(lang) = &dialout.lang {
        session.vars.insert("lang".to_owned(), lang.clone());
    }
    // Nobody to send a 180 to.
    session.sent_180 = true;
    session.origin = Some(Box::new(Origin {
        dialout,
        agent_answered: false,
        talking_since: None,
        answered_at: None,
        connect_by: None,
        connected: None,
        abandoned: false,
        failed_status: None,
        outcome: None,
        ring_ms: 0,
        amd: None,
        machine: false,
        message_by: None,
    }));
    session.launch(tx, shutdown)
}

impl Session {
    pub(super) fn is_originated(&self) -> bool {
        self.origin.is_some()
    }

    /// The first step of a campaign call: dial the customer, or (preview,
    /// manual) the agent first.
    pub(super) async fn originate(&mut self) {
        let Some(o) = self.origin.as_ref() else {
            return;
        };
        if let Some(agent) = o.dialout.agent.clone() {
            info!(call_id = %self.call_id, %agent, "calling the agent first");
            if let Some(Event::DialDone { outcome }) = self.start_dial(&agent, 30).await {
                self.ctx.acd.declined(&self.call_id, &agent).await;
                self.origin_failed(outcome).await;
            }
            return;
        }
        let (group, number, ring) = (
            o.dialout.trunk_group.clone(),
            o.dialout.number.clone(),
            o.dialout.ring_timeout,
        );
        self.next_b_call_id = Some(self.call_id.clone());
        if let Some(Event::DialDone { outcome }) = self.dial_campaign(&group, &number, ring).await {
            self.origin_failed(outcome).await;
        }
    }

    /// The customer's leg failed (busy, no answer, ...): the call is over.
    pub(super) async fn origin_failed(&mut self, outcome: DialOutcome) {
        if let Some(o) = self.origin.as_mut() {
            o.outcome = Some(outcome);
        }
        self.waiting = Waiting::Nothing;
        self.end(Party::Callee, HangupCause::Unavailable).await;
    }

    pub(super) fn note_failed_status(&mut self, status: u16) {
        if let Some(o) = self.origin.as_mut() {
            o.failed_status = Some(status);
        }
    }

    /// The first leg answered: the customer's (the call joins the
    /// campaign's queue) or, agent first, the agent's (the customer is
    /// dialled now, the agent hearing it ring).
    pub(super) async fn origin_answered(&mut self) {
        if let Some(agent) = self.origin.as_ref().and_then(|o| o.dialout.agent.clone()) {
            self.agent_on_line(agent).await;
            return;
        }
        let now = Instant::now();
        let ring_ms =
            i64::try_from(self.started.elapsed().map_or(0, |d| d.as_millis())).unwrap_or(i64::MAX);
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        o.answered_at = Some(now);
        o.ring_ms = ring_ms;
        self.answered = Some(SystemTime::now());
        self.ctx.registry.answered(&self.call_id);
        info!(call_id = %self.call_id, "customer answered");
        if let Some((config, _)) = o.dialout.amd.clone() {
            // Who answered decides what follows: listen first.
            o.amd = Some(config.start());
            if let Some(leg) = self.leg.as_mut() {
                leg.set_listening(true);
            }
            self.waiting = Waiting::Amd;
            return;
        }
        let _ = o.dialout.report.send(DialerEvent::Answered {
            attempt_id: o.dialout.attempt_id,
            ring_ms,
        });
        self.origin_proceed().await;
    }

    /// A person (or nobody we could tell) answered: the broadcast flow
    /// runs, or the call waits in the queue for an agent within the
    /// connect limit.
    async fn origin_proceed(&mut self) {
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        let queue = o.dialout.queue.clone();
        let broadcast = o.dialout.broadcast.clone();
        let number = o.dialout.number.clone();
        if broadcast.is_none() {
            o.connect_by = Some(Instant::now() + o.dialout.connect_limit);
        }
        if let Some((flow, contact)) = broadcast {
            self.start_broadcast(&flow, &number, contact).await;
            return;
        }
        let Some(queue) = queue else {
            self.abandon("no queue").await;
            return;
        };
        if let Some(Event::Failed { reason }) = self
            .start_queue(queue, CAMPAIGN_PRIORITY, BTreeMap::new())
            .await
        {
            self.abandon(&reason).await;
        }
    }

    /// One 20 ms frame of the customer's audio for the machine detector.
    pub(super) async fn amd_frame(&mut self, frame: &[i16]) {
        use waihu_media::amd::{Detector, Verdict};
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        let at_ms = o.answered_at.map_or(0, |t| {
            u32::try_from(t.elapsed().as_millis()).unwrap_or(u32::MAX)
        });
        let Some(detector) = o.amd.as_mut() else {
            return;
        };
        if o.machine {
            // Message action: the beep has ended, or we stop waiting.
            let _ = detector.push(frame, at_ms);
            let beep_over = detector.beep().is_some_and(|b| b.end_ms.is_some());
            if beep_over || o.message_by.is_some_and(|by| Instant::now() >= by) {
                o.amd = None;
                self.vars.insert("machine".into(), "yes".into());
                self.amd_done();
                self.origin_proceed().await;
            }
            return;
        }
        let decision = match detector.push(frame, at_ms) {
            Some(d) => d,
            // A detector that never decides is cut off.
            None if at_ms > 10_000 => detector.finish(at_ms),
            None => return,
        };
        info!(
            call_id = %self.call_id, verdict = ?decision.verdict, at_ms = decision.at_ms,
            reason = %decision.reason, "answering-machine detection"
        );
        self.vars.insert(
            "amd".into(),
            format!("{:?}", decision.verdict).to_lowercase(),
        );
        let attempt_id = o.dialout.attempt_id;
        let ring_ms = o.ring_ms;
        if decision.verdict != Verdict::Machine {
            o.amd = None;
            let _ = o.dialout.report.send(DialerEvent::Answered {
                attempt_id,
                ring_ms,
            });
            self.amd_done();
            self.origin_proceed().await;
            return;
        }
        o.machine = true;
        let _ = o.dialout.report.send(DialerEvent::Machine {
            attempt_id,
            ring_ms,
        });
        let leave_message = o.dialout.broadcast.is_some()
            && matches!(o.dialout.amd, Some((_, super::super::AmdAction::Message)));
        if leave_message {
            // Greetings run long; a machine with no beep gets the message
            // when this passes.
            o.message_by = Some(Instant::now() + std::time::Duration::from_secs(20));
            return;
        }
        o.amd = None;
        self.amd_done();
        self.end(Party::Switch, HangupCause::Normal).await;
    }

    /// Detection is over: the leg stops keeping audio unless recorded.
    fn amd_done(&mut self) {
        let recording = self.recording.is_some();
        if let Some(leg) = self.leg.as_mut() {
            leg.set_listening(recording);
        }
        if matches!(self.waiting, Waiting::Amd) {
            self.waiting = Waiting::Nothing;
        }
    }

    /// Broadcast: the campaign's Lua flow runs the answered call, pinned
    /// to the script version of the moment like any route.
    async fn start_broadcast(&mut self, flow: &str, number: &str, contact: waihu_script::Contact) {
        let version = self.ctx.scripts.pick(self.number);
        self.script_version = Some(version.info().number);
        let info = waihu_script::CallInfo {
            id: self.number,
            from: super::user_of(&self.invite.from.uri).unwrap_or_default(),
            to: number.to_owned(),
            vars: self.vars.clone(),
        };
        match version.start_broadcast(flow, info, contact) {
            Ok(route) => {
                self.route = Some(route);
                self.advance(None).await;
            }
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, %flow, error = %e, "broadcast flow failed to start");
                self.end(Party::Switch, HangupCause::Failure).await;
            }
        }
    }

    /// Agent first: the agent is on the line; dial the customer.
    async fn agent_on_line(&mut self, agent: String) {
        self.answered = Some(SystemTime::now());
        self.ctx.registry.answered(&self.call_id);
        if !self.ctx.acd.answered(&self.call_id, &agent).await {
            info!(call_id = %self.call_id, %agent, "the agent is no longer reserved for this call");
            self.end(Party::Switch, HangupCause::Normal).await;
            return;
        }
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        o.agent_answered = true;
        let (group, number, ring) = (
            o.dialout.trunk_group.clone(),
            o.dialout.number.clone(),
            o.dialout.ring_timeout,
        );
        info!(call_id = %self.call_id, %agent, %number, "agent on the line: dialling the customer");
        // The customer's INVITE carries the attempt's Call-ID.
        self.next_b_call_id = Some(self.call_id.clone());
        if let Some(Event::DialDone { outcome }) = self.dial_campaign(&group, &number, ring).await {
            self.origin_failed(outcome).await;
        }
    }

    /// Agent first: the customer answered and is bridged to the agent.
    pub(super) fn origin_bridged(&mut self) {
        let ring_ms =
            i64::try_from(self.started.elapsed().map_or(0, |d| d.as_millis())).unwrap_or(i64::MAX);
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        let Some(agent) = o.dialout.agent.clone() else {
            return;
        };
        o.answered_at = Some(Instant::now());
        o.connected = Some(agent.clone());
        o.ring_ms = ring_ms;
        o.talking_since = Some(SystemTime::now());
        self.queue_cdr.agent = Some(agent.clone());
        let _ = o.dialout.report.send(DialerEvent::Answered {
            attempt_id: o.dialout.attempt_id,
            ring_ms,
        });
        let _ = o.dialout.report.send(DialerEvent::Connected {
            attempt_id: o.dialout.attempt_id,
            agent,
            wait_ms: 0,
        });
    }

    /// The call is over: an agent called first goes to wrap-up (or is
    /// released if their phone never answered).
    pub(super) async fn origin_finish(&mut self) {
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        let Some(agent) = o.dialout.agent.clone() else {
            return;
        };
        let (since, agent_answered) = (o.talking_since.take(), o.agent_answered);
        if let Some(since) = since {
            self.queue_cdr.talk_ms = Some(
                SystemTime::now()
                    .duration_since(since)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            );
        }
        if agent_answered {
            self.agent_hung_up(&agent).await;
        } else {
            self.ctx.acd.declined(&self.call_id, &agent).await;
        }
    }

    /// The agent's part of the call is over: a campaign call with an agent
    /// is wrapped up until its disposition; any other call as its queue
    /// says.
    pub(super) async fn agent_hung_up(&self, agent: &str) {
        match self.origin.as_ref() {
            Some(o) if o.dialout.disposition_required && o.dialout.broadcast.is_none() => {
                self.ctx
                    .acd
                    .hung_up_awaiting_disposition(agent, o.dialout.queue.clone())
                    .await;
            }
            _ => self.ctx.acd.hung_up(agent).await,
        }
    }

    /// An agent took the answered call.
    pub(super) fn origin_connected(&mut self, agent: &str) {
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        if o.connected.is_some() {
            // Transferred to a queue and taken there: the dialer heard of
            // the connection already; the attempt's agent is the last one.
            o.connected = Some(agent.to_owned());
            return;
        }
        o.connect_by = None;
        o.connected = Some(agent.to_owned());
        let wait_ms = o.answered_at.map_or(0, |t| {
            i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX)
        });
        let _ = o.dialout.report.send(DialerEvent::Connected {
            attempt_id: o.dialout.attempt_id,
            agent: agent.to_owned(),
            wait_ms,
        });
    }

    /// The connect limit, checked with the call's other timers.
    pub(super) async fn origin_tick(&mut self, now: Instant) {
        let due = self
            .origin
            .as_ref()
            .and_then(|o| o.connect_by)
            .is_some_and(|by| now >= by);
        if due {
            self.abandon("no agent within the connect limit").await;
        }
    }

    /// No agent in time: leave the queue, play the safe-harbour message,
    /// then hang up.
    pub(super) async fn abandon(&mut self, why: &str) {
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        if o.abandoned || o.connected.is_some() {
            return;
        }
        o.abandoned = true;
        o.connect_by = None;
        let _ = o.dialout.report.send(DialerEvent::Abandoned {
            attempt_id: o.dialout.attempt_id,
        });
        let items: Vec<PlayItem> = o
            .dialout
            .safe_harbour
            .iter()
            .map(|name| PlayItem::Prompt { name: name.clone() })
            .collect();
        info!(call_id = %self.call_id, why, "abandoned: safe-harbour message");
        // Out of the queue, and any agent's phone that rings is cancelled.
        self.queue_finish().await;
        self.end_b().await;
        let player = super::super::leg::player(&self.ctx, &items)
            .unwrap_or_else(|_| waihu_media::player::Player::new(Vec::new()));
        self.waiting = Waiting::Overflow {
            player,
            then: queue::Then::Hangup,
        };
    }

    /// What a campaign call does with a reply its (absent) route would
    /// have had: whatever ends the queue or the message ends the call.
    pub(super) async fn origin_event(&mut self, reply: Option<Event>) {
        match reply {
            Some(Event::QueueDone { outcome, .. }) => {
                if outcome != QueueOutcome::Answered {
                    self.abandon("the queue gave up").await;
                    if !matches!(self.waiting, Waiting::Overflow { .. }) {
                        self.end(Party::Switch, HangupCause::Normal).await;
                    }
                    return;
                }
                self.end(Party::Callee, HangupCause::Normal).await;
            }
            Some(Event::DialDone { outcome }) if self.answered.is_none() => {
                self.origin_failed(outcome).await;
            }
            // Agent first: the customer's leg failed, or the bridge ended.
            Some(Event::DialDone { outcome })
                if self
                    .origin
                    .as_ref()
                    .is_some_and(|o| o.dialout.agent.is_some()) =>
            {
                if let Some(o) = self.origin.as_mut() {
                    o.outcome = Some(outcome);
                }
                self.end(Party::Callee, HangupCause::Normal).await;
            }
            Some(_) | None => {}
        }
    }

    /// The call is over: the dialer gets its result.
    pub(super) fn origin_report(&mut self, ended_ms: i64) {
        let Some(o) = self.origin.as_ref() else {
            return;
        };
        let agent_first = o.dialout.agent.is_some();
        let outcome = if o.machine {
            "machine"
        } else if agent_first && !o.agent_answered {
            // The customer was never dialled.
            "failed"
        } else if o.answered_at.is_some() {
            if o.connected.is_some() || o.dialout.broadcast.is_some() {
                "answered"
            } else {
                "abandoned"
            }
        } else {
            match (o.failed_status, o.outcome) {
                (Some(s), _) => status_outcome(s),
                (None, Some(DialOutcome::NoAnswer)) => "no_answer",
                (None, Some(DialOutcome::Busy)) => "busy",
                (None, Some(DialOutcome::Rejected)) => "rejected",
                (None, Some(DialOutcome::Unavailable)) => "invalid_number",
                _ => "failed",
            }
        };
        let result = CallResult {
            attempt_id: o.dialout.attempt_id,
            outcome: outcome.to_owned(),
            sip_status: o.failed_status,
            trunk: self.out_trunk.clone(),
            answered_ms: self.answered.map(unix_ms),
            ended_ms,
            ring_ms: o.ring_ms,
            agent: o.connected.clone(),
            talk_ms: self.queue_cdr.talk_ms,
            vars: self
                .vars
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "campaign" | "attempt"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let _ = o.dialout.report.send(DialerEvent::Ended(result));
    }
}

/// The outcome a final SIP status means for an attempt.
pub(super) fn status_outcome(status: u16) -> &'static str {
    match status {
        486 | 600 => "busy",
        408 | 480 | 487 => "no_answer",
        404 | 484 | 604 => "invalid_number",
        603 => "rejected",
        _ => "failed",
    }
}
