//! `call:dial(target)`: the second leg of a call, and the bridge.
//!
//! waihu is a B2BUA: the B leg is a dialog of its own (own Call-ID, tags,
//! CSeq) and its media is anchored on its own port pair. While B rings the
//! caller hears 180; when B answers, the caller is answered (if the route
//! had not already) and packets are relayed between the two legs, each leg
//! accepting only its own peer's source.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use waihu_call::{DialOutcome, Event};
use waihu_sip::Peer;
use waihu_sip::auth::client as auth_client;
use waihu_sip::dialog::Dialog;
use waihu_sip::endpoint::ServerTxId;
use waihu_sip::message::{HeaderName, Host, Method, NameAddr, Request, Response, SipUri, Uri};
use waihu_sip::sdp::{self, Direction, LocalMedia};
use waihu_sip::session_timer;

use super::super::FromCall;
use super::super::leg::Leg;
use super::{Session, Waiting};
use crate::rtp_ports::PortPair;
use crate::trunks::Channel;

/// The B leg.
#[derive(Debug)]
pub(super) struct BLeg {
    call_id: String,
    invite: Request,
    peer: Peer,
    local: LocalMedia,
    /// Held from the offer until the answer tells where to send.
    pair: Option<PortPair>,
    pub(super) leg: Option<Leg>,
    pub(super) dialog: Option<Dialog>,
    state: BState,
    /// The trunk channel held and the number called, when through a trunk.
    trunk: Option<(Channel, String)>,
    /// Trunks left to try if this one fails over (last first).
    failover: Vec<crate::config::Trunk>,
    ring: Duration,
    /// Challenges answered for this attempt.
    challenges: u32,
    /// The agent rung for a queued call (the call waits on if it fails).
    pub(super) agent: Option<String>,
    /// The session timer we ask for, and the one running once answered.
    uac_timer: session_timer::UacNegotiation,
    pub(super) timer: Option<session_timer::SessionTimer>,
    /// The far end allows UPDATE (our refreshes use it).
    pub(super) allows_update: bool,
}

impl BLeg {
    pub(super) fn call_id(&self) -> &str {
        &self.call_id
    }

    pub(super) fn peer(&self) -> Peer {
        self.peer
    }

    /// The leg's media once the answer (or early media) says where to
    /// send: the port pair held since the offer, with the offer's SDP
    /// origin and the negotiated codec pinned (the bridge relays packets
    /// as they are). `None` if the pair is gone already.
    fn media(
        &mut self,
        negotiated: &sdp::Negotiated,
        ctx: &super::super::CallContext,
        listening: bool,
    ) -> Option<Leg> {
        let pair = self.pair.take()?;
        let offer = sdp::offer(&self.local).to_string();
        let mut leg = Leg::new(pair, negotiated, offer, ctx, Instant::now());
        leg.set_origin(self.local.session_id, self.local.session_version);
        leg.pin_codec(negotiated.codec);
        leg.set_listening(listening);
        Some(leg)
    }

    /// Our tag in this leg's dialog (the From tag of our INVITE).
    pub(super) fn local_tag(&self) -> Option<String> {
        self.invite.from.tag().map(str::to_owned)
    }
}

/// Where a B leg goes.
#[derive(Debug)]
struct Attempt {
    uri: Uri,
    peer: Peer,
    from: NameAddr,
    to: NameAddr,
    trunk: Option<(Channel, String)>,
}

/// `pstn:NUMBER` → (`default`, NUMBER); `trunk:NAME:NUMBER` → (NAME, NUMBER).
fn trunk_target(target: &str) -> Option<(&str, &str)> {
    if let Some(number) = target.strip_prefix("pstn:") {
        return Some(("default", number));
    }
    target.strip_prefix("trunk:")?.split_once(':')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BState {
    Calling {
        deadline: Instant,
    },
    /// We cancelled (ring timeout, or the caller left); a late 2xx is
    /// acknowledged and hung up.
    Cancelled,
    Bridged,
    Over,
}

impl Session {
    /// Starts the B leg; the reply comes when it fails or the bridge ends.
    ///
    /// `target` is a registered user (`"1001"`), `"pstn:NUMBER"` (through
    /// the trunk group `default`) or `"trunk:NAME:NUMBER"` (a trunk, or a
    /// group of trunks tried in order).
    pub(super) async fn start_dial(&mut self, target: &str, timeout_s: u32) -> Option<Event> {
        if self.b.is_some() {
            return Some(Event::Failed {
                reason: "this call is already dialling".into(),
            });
        }
        let ring = Duration::from_secs(u64::from(timeout_s.clamp(1, 600)));
        if let Some((group, number)) = trunk_target(target) {
            return self.dial_pstn(group, number, ring).await;
        }
        let (reply, answer) = oneshot::channel();
        self.send(FromCall::Lookup {
            user: target.to_owned(),
            reply,
        })
        .await;
        let targets = answer.await.unwrap_or_default();
        let Some((uri, peer)) = targets.into_iter().next() else {
            info!(call_id = %self.call_id, %target, "dial: not registered");
            return Some(Event::DialDone {
                outcome: DialOutcome::Unavailable,
            });
        };
        let mut from = NameAddr::new(self.invite.from.uri.clone());
        from.display = self.invite.from.display.clone();
        let to = NameAddr::new(uri_for(target, &self.ctx.domain));
        let attempt = Attempt {
            uri,
            peer,
            from,
            to,
            trunk: None,
        };
        self.launch_b(attempt, ring, Vec::new()).await
    }

    /// Out through a trunk group: toll-fraud check, then the first trunk
    /// with a free channel; the others wait for failover.
    async fn dial_pstn(&mut self, group: &str, number: &str, ring: Duration) -> Option<Event> {
        if !self.ctx.pstn_agents.contains(&self.user) {
            warn!(
                call_id = %self.call_id, user = %self.user, %number,
                "PSTN call refused: this caller has no allow_pstn permission"
            );
            return Some(Event::DialDone {
                outcome: DialOutcome::Rejected,
            });
        }
        // The dial point: the do-not-call table and `blacklist.check`
        // hold for dials from a route as for the dialer's.
        let path = if !self.user.starts_with("trunk:") {
            crate::dialpoint::DialPath::Manual
        } else {
            crate::dialpoint::DialPath::Lua
        };
        let number = match crate::dialpoint::check(&self.ctx, path, number, None, None, false).await
        {
            Ok(e164) => e164,
            Err(refused) => {
                warn!(call_id = %self.call_id, %number, %refused, "PSTN call refused at the dial point");
                return Some(Event::DialDone {
                    outcome: DialOutcome::Rejected,
                });
            }
        };
        self.dial_campaign(group, &number, ring).await
    }

    /// Out through a trunk group, the permission already settled (a
    /// campaign's calls are allowed by its configuration).
    pub(super) async fn dial_campaign(
        &mut self,
        group: &str,
        number: &str,
        ring: Duration,
    ) -> Option<Event> {
        if !number.chars().all(|c| c.is_ascii_digit() || c == '+') || number.is_empty() {
            return Some(Event::DialDone {
                outcome: DialOutcome::Unavailable,
            });
        }
        let mut candidates = self.ctx.trunks.candidates(group);
        candidates.reverse();
        self.next_trunk(number.to_owned(), candidates, ring).await
    }

    /// Tries the trunks left (last first in `left`) until one takes a channel.
    async fn next_trunk(
        &mut self,
        number: String,
        mut left: Vec<crate::config::Trunk>,
        ring: Duration,
    ) -> Option<Event> {
        while let Some(trunk) = left.pop() {
            let channel = match self
                .ctx
                .trunks
                .acquire(&trunk.name, std::time::Instant::now())
            {
                Ok(c) => c,
                Err(why) => {
                    info!(call_id = %self.call_id, trunk = %trunk.name, %why, "trunk skipped");
                    continue;
                }
            };
            let host = |ip: std::net::IpAddr| match ip {
                std::net::IpAddr::V4(v4) => Host::V4(v4),
                std::net::IpAddr::V6(v6) => Host::V6(v6),
            };
            let mut uri = SipUri::new(Some(&number), host(trunk.addr.ip()));
            uri.port = Some(trunk.addr.port());
            // A campaign's caller ID wins over the trunk's.
            let campaign_id = self
                .origin
                .as_ref()
                .and_then(|o| o.dialout.caller_id.clone());
            let caller = campaign_id
                .or_else(|| trunk.caller_id.clone())
                .unwrap_or_else(|| trunk.from_user.clone());
            let from = NameAddr::new(Uri::Sip(SipUri::new(
                Some(&caller),
                Host::Name(trunk.host.clone()),
            )));
            let to = NameAddr::new(Uri::Sip(SipUri::new(
                Some(&number),
                Host::Name(trunk.host.clone()),
            )));
            let attempt = Attempt {
                uri: Uri::Sip(uri),
                peer: Peer {
                    transport: trunk.transport,
                    addr: trunk.addr,
                },
                from,
                to,
                trunk: Some((channel, number.clone())),
            };
            return self.launch_b(attempt, ring, left).await;
        }
        info!(call_id = %self.call_id, %number, "no trunk could take the call");
        Some(Event::DialDone {
            outcome: DialOutcome::Failed,
        })
    }

    /// Sends the INVITE of a B leg.
    async fn launch_b(
        &mut self,
        attempt: Attempt,
        ring: Duration,
        failover: Vec<crate::config::Trunk>,
    ) -> Option<Event> {
        // Offer B the caller's codec only: the bridge then relays packets
        // untouched instead of transcoding. A campaign call has no caller
        // yet: it offers both laws.
        let (codecs, event_pt) = match self.leg.as_ref() {
            Some(a_leg) => (vec![a_leg.codec()], a_leg.event_type().unwrap_or(101)),
            None if self.is_originated() => (vec![sdp::Codec::Pcma, sdp::Codec::Pcmu], 101),
            None => {
                return Some(Event::Failed {
                    reason: "no media on the caller's leg".into(),
                });
            }
        };
        let pair = match self.ctx.ports.allocate() {
            Ok(pair) => pair,
            Err(e) => {
                warn!(call_id = %self.call_id, error = %e, "dial: no rtp port");
                return Some(Event::DialDone {
                    outcome: DialOutcome::Failed,
                });
            }
        };
        let local = LocalMedia {
            addr: self.ctx.advertise,
            port: pair.port,
            codecs,
            telephone_event_pt: Some(event_pt),
            ptime_ms: 20,
            session_id: self.number,
            session_version: 1,
            direction: Direction::SendRecv,
        };
        let offer = sdp::offer(&local).to_string();
        let call_id = self
            .next_b_call_id
            .take()
            .unwrap_or_else(|| format!("{}-b{}", super::new_id(), self.number));
        let Attempt {
            uri,
            peer,
            mut from,
            to,
            trunk,
        } = attempt;
        from.set_tag(&super::new_id());
        let mut invite = Request::new(Method::Invite, uri, self.via(), from, to, &call_id, 1);
        invite.headers.push(HeaderName::Contact, self.contact());
        let uac_timer = session_timer::UacNegotiation::new(&self.ctx.session_timer);
        if self.ctx.session_timer.enabled {
            for (name, value) in uac_timer.request_headers() {
                invite.headers.push(name, value);
            }
        }
        invite
            .headers
            .push(HeaderName::ContentType, "application/sdp");
        invite.body = Bytes::from(offer);
        self.send(FromCall::Claim {
            call_id: call_id.clone(),
            to: self.me.clone(),
        })
        .await;
        self.send(FromCall::Send {
            request: Box::new(invite.clone()),
            peer,
        })
        .await;
        self.dialled = invite.uri.as_sip().and_then(|u| u.user_unescaped());
        self.out_trunk = trunk.as_ref().map(|(c, _)| c.trunk.name.clone());
        info!(
            call_id = %self.call_id, b_call_id = %call_id, to = %invite.uri, peer = %peer.addr,
            trunk = trunk.as_ref().map_or("-", |(c, _)| c.trunk.name.as_str()), "dialling"
        );
        self.b = Some(BLeg {
            call_id,
            invite,
            peer,
            local,
            pair: Some(pair),
            leg: None,
            dialog: None,
            state: BState::Calling {
                deadline: Instant::now() + ring,
            },
            trunk,
            failover,
            ring,
            challenges: 0,
            agent: None,
            uac_timer,
            timer: None,
            allows_update: false,
        });
        if matches!(self.waiting, Waiting::Dial { .. }) {
            return None;
        }
        // Ten minutes of the configured ringback: longer than any ring timeout.
        let ringback = super::super::leg::player(
            &self.ctx,
            &[waihu_call::PlayItem::Tone {
                tone: waihu_call::Tone::Ringback(waihu_call::ToneRegion::Configured),
                ms: 600_000,
            }],
        )
        .unwrap_or_else(|_| waihu_media::player::Player::new(Vec::new()));
        self.waiting = Waiting::Dial { ringback };
        None
    }

    /// Rings an agent's phone for a queued call. The caller keeps hearing
    /// the queue's music; the outcome goes to the ACD.
    pub(super) async fn launch_agent(
        &mut self,
        uri: Uri,
        peer: Peer,
        from: NameAddr,
        to: NameAddr,
        agent: String,
        ring: Duration,
    ) {
        let attempt = Attempt {
            uri,
            peer,
            from,
            to,
            trunk: None,
        };
        let waiting = std::mem::replace(&mut self.waiting, Waiting::Nothing);
        // A leg already ringing (ring-all) stays first; the new one forks.
        let first = self.b.take();
        let failed = self.launch_b(attempt, ring, Vec::new()).await;
        self.waiting = waiting;
        let new = self.b.take();
        self.b = first;
        match (failed, new) {
            (None, Some(mut leg)) => {
                leg.agent = Some(agent);
                if self.b.is_none() {
                    self.b = Some(leg);
                } else {
                    self.forks.push(leg);
                }
            }
            _ => self.agent_missed(&agent).await,
        }
    }

    /// Whether a message belongs to a ring-all fork.
    pub(super) fn is_fork(&self, call_id: &str) -> bool {
        self.forks.iter().any(|f| f.call_id == call_id)
    }

    /// A response on a ring-all fork. A 2xx makes the fork the call's B
    /// leg (the others are cancelled); a failure drops it as a miss.
    pub(super) async fn on_fork_response(&mut self, response: Response, from: Peer) {
        if response.cseq.method != Method::Invite || response.status < 200 {
            return;
        }
        if response.status >= 300 {
            let call_id = response.call_id.clone();
            self.fork_failed(&call_id, Some(response.status)).await;
            return;
        }
        let Some(i) = self
            .forks
            .iter()
            .position(|f| f.call_id == response.call_id)
        else {
            return;
        };
        let winner = self.forks.remove(i);
        if let Some(first) = self.b.take() {
            if first.state == BState::Bridged {
                // Someone answered first: this answer is hung up.
                self.b = Some(first);
                self.stale.push(winner);
                self.on_stale_response(&response).await;
                return;
            }
            self.cancel_leg(first).await;
        }
        self.b = Some(winner);
        self.on_b_response(response, from).await;
        for fork in std::mem::take(&mut self.forks) {
            self.cancel_leg(fork).await;
        }
    }

    /// A fork that failed or timed out: a miss for its agent.
    pub(super) async fn fork_failed(&mut self, call_id: &str, status: Option<u16>) {
        let Some(i) = self.forks.iter().position(|f| f.call_id == call_id) else {
            return;
        };
        let fork = self.forks.remove(i);
        let agent = fork.agent.clone().unwrap_or_default();
        info!(call_id = %self.call_id, %agent, ?status, "agent did not take the call");
        self.send(FromCall::Release {
            call_ids: vec![fork.call_id],
            dialogs: Vec::new(),
        })
        .await;
        self.agent_missed(&agent).await;
    }

    /// Cancels a ringing leg that lost (ring-all) and keeps it to hang up
    /// a late answer. Its agent is freed by the ACD with the winner's answer.
    async fn cancel_leg(&mut self, mut leg: BLeg) {
        if matches!(leg.state, BState::Calling { .. }) {
            leg.state = BState::Cancelled;
            self.send(FromCall::Cancel {
                call_id: leg.call_id.clone(),
            })
            .await;
        }
        self.stale.push(leg);
    }

    /// An agent's leg failed (final error, timeout, ring timeout): it is
    /// dropped and the call waits on in its queue.
    async fn agent_leg_failed(&mut self, status: Option<u16>) {
        let Some(b) = self.b.take() else {
            return;
        };
        let agent = b.agent.clone().unwrap_or_default();
        info!(call_id = %self.call_id, %agent, ?status, "agent did not take the call");
        // A leg we cancelled may still answer: keep it to hang that up.
        if b.state == BState::Cancelled {
            self.stale.push(b);
        } else {
            self.send(FromCall::Release {
                call_ids: vec![b.call_id],
                dialogs: Vec::new(),
            })
            .await;
        }
        self.agent_missed(&agent).await;
    }

    /// A response for an agent leg given up on: a late 2xx is acknowledged
    /// and hung up. True if the response was one of these legs'.
    pub(super) async fn on_stale_response(&mut self, response: &Response) -> bool {
        let Some(i) = self
            .stale
            .iter()
            .position(|b| b.call_id == response.call_id)
        else {
            return false;
        };
        if response.cseq.method == Method::Invite && (200..300).contains(&response.status) {
            let via = self.via();
            let b = &mut self.stale[i];
            if b.dialog.is_none() {
                b.dialog = Dialog::uac(&b.invite, response).ok();
            }
            let peer = b.peer;
            let ack = b
                .dialog
                .as_ref()
                .and_then(|d| d.create_ack(response, via.clone()).ok());
            let bye = b
                .dialog
                .as_mut()
                .and_then(|d| d.create_request(Method::Bye, via).ok());
            for request in [ack, bye].into_iter().flatten() {
                let message = if request.method == Method::Ack {
                    FromCall::Ack {
                        request: Box::new(request),
                        peer,
                    }
                } else {
                    FromCall::Send {
                        request: Box::new(request),
                        peer,
                    }
                };
                self.send(message).await;
            }
        }
        true
    }

    /// A challenge from the trunk we called: answered once per INVITE,
    /// only if it came from that trunk's address and names its realm.
    /// True when a new INVITE went out.
    async fn answer_challenge(&mut self, response: &Response, from: Peer) -> bool {
        let Some(b) = self.b.as_mut() else {
            return false;
        };
        let Some((channel, _)) = b.trunk.as_ref() else {
            return false;
        };
        let trunk = &channel.trunk;
        let Some((user, password)) = trunk.credentials.clone() else {
            return false;
        };
        if from.addr != trunk.addr || b.challenges >= 2 {
            warn!(call_id = %self.call_id, from = %from.addr, "challenge not answered (stranger, or a second one)");
            return false;
        }
        let (header, answer_header) = if response.status == 407 {
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            )
        } else {
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        };
        let Some(challenge) = auth_client::pick_challenge(response.headers.get_all(&header)) else {
            return false;
        };
        if let Some(realm) = &trunk.realm {
            let named = auth_client::Challenge::parse(challenge)
                .ok()
                .map(|c| c.realm);
            if named.as_deref() != Some(realm.as_str()) {
                warn!(call_id = %self.call_id, trunk = %trunk.name, "challenge for another realm not answered");
                return false;
            }
        }
        let cnonce = super::new_id();
        let uri = b.invite.uri.to_string();
        let Ok(value) = auth_client::authorize(
            challenge,
            &Method::Invite,
            &uri,
            &user,
            &password,
            &cnonce,
            1,
        ) else {
            return false;
        };
        b.challenges += 1;
        self.resend_invite(
            &[HeaderName::Authorization, HeaderName::ProxyAuthorization],
            vec![(answer_header, value)],
        )
        .await;
        true
    }

    /// Sends the B leg's INVITE again (a new transaction: CSeq + 1, a new
    /// branch) without the headers `remove` and with `add`.
    async fn resend_invite(&mut self, remove: &[HeaderName], add: Vec<(HeaderName, String)>) {
        let via = self.via();
        let Some(b) = self.b.as_mut() else {
            return;
        };
        let mut invite = b.invite.clone();
        invite.cseq.seq += 1;
        invite.via = vec![via];
        for name in remove {
            invite.headers.remove(name);
        }
        for (name, value) in add {
            invite.headers.push(name, value);
        }
        b.invite = invite.clone();
        let peer = b.peer;
        self.send(FromCall::Send {
            request: Box::new(invite),
            peer,
        })
        .await;
    }

    /// Whether a SIP message belongs to the B leg.
    pub(super) fn is_b(&self, call_id: &str) -> bool {
        self.b.as_ref().is_some_and(|b| b.call_id == call_id)
    }

    pub(super) async fn on_b_response(&mut self, response: Response, from: Peer) {
        let Some(b) = self.b.as_mut() else {
            return;
        };
        if response.cseq.method == Method::Update {
            // The answer to our session refresh.
            if (200..300).contains(&response.status) {
                if let Some(t) = b.timer.as_mut() {
                    t.refreshed(Instant::now().into_std());
                }
            } else if matches!(response.status, 408 | 481) {
                self.b_vanished("session_expired").await;
                self.end(waihu_call::Party::Switch, waihu_call::HangupCause::Failure)
                    .await;
            }
            return;
        }
        if response.cseq.method != Method::Invite {
            // The answer to our BYE or CANCEL: nothing more to do.
            return;
        }
        let status = response.status;
        if status == 422
            && matches!(b.state, BState::Calling { .. })
            && let Some(interval) = b.uac_timer.on_422(&response)
        {
            // Session interval too small: again with what it asks for.
            info!(call_id = %self.call_id, interval, "422: retrying with a longer session interval");
            let headers = b.uac_timer.request_headers();
            self.resend_invite(
                &[
                    HeaderName::SessionExpires,
                    HeaderName::MinSe,
                    HeaderName::Supported,
                ],
                headers,
            )
            .await;
            return;
        }
        if status < 200 {
            if !response.body.is_empty() && matches!(status, 180 | 183) {
                // Early media: the carrier's announcements or ringback.
                self.early_media(&response).await;
                return;
            }
            if status == 180 && self.answered.is_none() && !self.sent_180 {
                self.sent_180 = true;
                let ringing = self.response(180);
                self.respond(ringing).await;
            }
            return;
        }
        if status >= 300 {
            if !matches!(b.state, BState::Calling { .. }) {
                return;
            }
            if matches!(status, 401 | 407) && self.answer_challenge(&response, from).await {
                return;
            }
            let Some(b) = self.b.as_mut() else {
                return;
            };
            b.state = BState::Over;
            if b.agent.is_some() {
                self.agent_leg_failed(Some(status)).await;
                return;
            }
            // 503 and 408 say "this carrier, not this number": the next
            // trunk of the group may still complete it. Busy, not found,
            // unavailable and 6xx are answers about the number.
            if matches!(status, 503 | 408) && !b.failover.is_empty() {
                info!(call_id = %self.call_id, status, "trunk failed; trying the next one");
                self.failover().await;
                return;
            }
            let outcome = outcome_of(status);
            self.note_failed_status(status);
            info!(call_id = %self.call_id, status, outcome = outcome.as_str(), "dial failed");
            self.dial_done(outcome).await;
            return;
        }
        // 2xx: acknowledge every copy (RFC 3261 13.2.2.4).
        if b.dialog.is_none() {
            match Dialog::uac(&b.invite, &response) {
                Ok(d) => b.dialog = Some(d),
                Err(e) => warn!(call_id = %self.call_id, error = %e, "no dialog from the 2xx"),
            }
            // The far end's BYE, re-INVITE or REFER in this dialog come
            // without credentials: vouch for them, from its address only.
            if let Some(local_tag) = b.local_tag() {
                let trust = FromCall::Trust {
                    call_id: b.call_id.clone(),
                    local_tag,
                    user: b.agent.clone().unwrap_or_else(|| "dialled".into()),
                    peer_ip: from.addr.ip(),
                };
                self.send(trust).await;
            }
        }
        let via = self.via();
        let Some(b) = self.b.as_mut() else {
            return;
        };
        if let Some(ack) = b
            .dialog
            .as_ref()
            .and_then(|d| d.create_ack(&response, via).ok())
        {
            let peer = b.peer;
            self.send(FromCall::Ack {
                request: Box::new(ack),
                peer,
            })
            .await;
        }
        // A campaign call's customer answering (not an agent's phone).
        let customer_answered = self.origin.is_some() && self.answered.is_none();
        let Some(b) = self.b.as_mut() else {
            return;
        };
        match b.state {
            BState::Calling { .. } => {
                b.allows_update = super::timer::allows_update(&response.headers);
                if self.ctx.session_timer.enabled {
                    b.timer = b
                        .uac_timer
                        .on_2xx(&response)
                        .map(|n| session_timer::SessionTimer::new(n, Instant::now().into_std()));
                }
            }
            BState::Cancelled => {
                // Answered after we gave up on it: hang it up.
                self.bye_b().await;
                return;
            }
            BState::Bridged => {
                // The 2xx of our re-INVITE refresh.
                if let Some(t) = b.timer.as_mut() {
                    match session_timer::negotiated_from_2xx(&response) {
                        Some(n) => t.renegotiated(n, Instant::now().into_std()),
                        None => t.refreshed(Instant::now().into_std()),
                    }
                }
                return;
            }
            BState::Over => return,
        }
        // After early media the leg exists already (RFC 3264: the 2xx
        // repeats the answer of the 183).
        if b.leg.is_none() {
            let negotiated = match sdp::parse(&response.body)
                .and_then(|answer| sdp::accept_answer(&b.local, &answer))
            {
                Ok(n) => n,
                Err(e) => {
                    warn!(call_id = %self.call_id, error = %e, "dial: unusable answer");
                    b.state = BState::Over;
                    self.bye_b().await;
                    self.dial_done(DialOutcome::Failed).await;
                    return;
                }
            };
            let Some(mut leg) = b.media(&negotiated, &self.ctx, self.recording.is_some()) else {
                return;
            };
            let stale = leg.discard_queued();
            if stale > 0 {
                debug!(call_id = %self.call_id, stale, "media sent before the answer dropped");
            }
            b.leg = Some(leg);
        }
        b.state = BState::Bridged;
        if b.agent.is_none() && customer_answered {
            self.promote_b();
            self.origin_answered().await;
            return;
        }
        if let Some(agent) = b.agent.clone()
            && !self.agent_answered(&agent).await
        {
            // The caller left, or the ACD gave the call up meanwhile.
            if let Some(b) = self.b.as_mut() {
                b.state = BState::Over;
            }
            self.bye_b().await;
            return;
        }
        if self.answered.is_none() {
            self.answer().await;
        }
        // Packets are relayed as they come: a re-INVITE from the caller
        // may not move it to another codec from now on.
        if let Some(a) = self.leg.as_mut() {
            let codec = a.codec();
            a.pin_codec(codec);
        }
        info!(call_id = %self.call_id, "bridged");
        self.waiting = Waiting::Bridge;
        self.bridged_at = Some(Instant::now());
        self.origin_bridged();
    }

    /// A provisional response with SDP: media flows before the answer.
    /// The B leg starts, the caller (if not answered) gets 183 with our
    /// SDP, and what B sends is relayed to the caller from now on.
    async fn early_media(&mut self, response: &Response) {
        let Some(b) = self.b.as_mut() else {
            return;
        };
        if b.leg.is_some() || !matches!(b.state, BState::Calling { .. }) || b.agent.is_some() {
            return;
        }
        let negotiated = match sdp::parse(&response.body)
            .and_then(|answer| sdp::accept_answer(&b.local, &answer))
        {
            Ok(n) => n,
            Err(e) => {
                debug!(call_id = %self.call_id, error = %e, "early media SDP not usable; ignored");
                return;
            }
        };
        let Some(leg) = b.media(&negotiated, &self.ctx, self.recording.is_some()) else {
            return;
        };
        b.leg = Some(leg);
        info!(call_id = %self.call_id, status = response.status, "early media from the dialled party");
        if self.answered.is_none()
            && let Some(sdp) = self.leg.as_ref().map(|l| l.local_sdp().to_owned())
        {
            let mut progress = self.response(183);
            progress
                .headers
                .push(HeaderName::ContentType, "application/sdp");
            progress.body = Bytes::from(sdp);
            self.respond(progress).await;
        }
    }

    /// Whether the dialled party sends early media (the caller hears it
    /// rather than our ringback).
    pub(super) fn b_early(&self) -> bool {
        self.b
            .as_ref()
            .is_some_and(|b| b.leg.is_some() && matches!(b.state, BState::Calling { .. }))
    }

    /// A request inside the B dialog (BYE, re-INVITE...).
    pub(super) async fn on_b_request(&mut self, id: ServerTxId, request: Request) {
        if super::transfer::is_refer(&request) {
            self.on_b_refer(id, request).await;
            return;
        }
        let status = match request.method {
            Method::Bye => 200,
            // Hold from the far phone needs no change to a packet relay.
            Method::Invite | Method::Info | Method::Update | Method::Options => 200,
            _ => 501,
        };
        let mut response = Response::to_request(&request, status);
        if matches!(request.method, Method::Invite | Method::Update)
            && let Some(b) = self.b.as_mut()
            && let Some(timer) = b.timer.as_mut()
        {
            // The far end refreshed the session.
            timer.refreshed(Instant::now().into_std());
            response.headers.push(
                HeaderName::SessionExpires,
                format!(
                    "{};refresher={}",
                    timer.interval_s(),
                    if timer.we_refresh() { "uas" } else { "uac" }
                ),
            );
        }
        if request.method == Method::Invite
            && let Some(leg) = self.b.as_mut().and_then(|b| b.leg.as_mut())
        {
            // Hold, resume or a new address from the far phone: answered
            // from its leg; the caller hears music while it holds.
            let answer = if request.body.is_empty() {
                Ok(leg.local_sdp().to_owned())
            } else {
                sdp::parse(&request.body)
                    .map_err(|e| e.sip_status())
                    .and_then(|offer| leg.renegotiate(&offer, Instant::now()))
            };
            match answer {
                Ok(sdp) => {
                    response
                        .headers
                        .push(HeaderName::ContentType, "application/sdp");
                    response.headers.push(HeaderName::Contact, self.contact());
                    response.body = Bytes::from(sdp);
                }
                Err(status) => response = Response::to_request(&request, status),
            }
            self.hold_changed();
        }
        self.send(FromCall::Respond {
            id,
            response: Box::new(response),
        })
        .await;
        if request.method == Method::Bye
            && let Some(b) = self.b.as_mut()
        {
            b.state = BState::Over;
            info!(call_id = %self.call_id, "the dialled party hung up");
            self.dial_done(DialOutcome::Completed).await;
        }
    }

    pub(super) async fn on_b_timeout(&mut self) {
        let Some(b) = self.b.as_mut() else {
            return;
        };
        if matches!(b.state, BState::Calling { .. }) {
            b.state = BState::Over;
            if b.agent.is_some() {
                self.agent_leg_failed(Some(408)).await;
                return;
            }
            if !b.failover.is_empty() {
                info!(call_id = %self.call_id, "trunk silent; trying the next one");
                self.failover().await;
                return;
            }
            self.dial_done(DialOutcome::NoAnswer).await;
        }
    }

    /// Drops the failed B leg (its channel and ports) and tries the next
    /// trunk of its group.
    async fn failover(&mut self) {
        let Some(old) = self.b.take() else {
            return;
        };
        let number = old
            .trunk
            .as_ref()
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        let (left, ring) = (old.failover, old.ring);
        self.send(FromCall::Release {
            call_ids: vec![old.call_id],
            dialogs: Vec::new(),
        })
        .await;
        if let Some(event) = self.next_trunk(number, left, ring).await {
            // Nothing left to try: the attempt has failed.
            self.waiting = Waiting::Nothing;
            if self.ended.is_none() {
                self.advance(Some(event)).await;
            }
        }
    }

    /// Ring timeout.
    pub(super) async fn dial_tick(&mut self, now: Instant) {
        let due: Vec<String> = self
            .forks
            .iter()
            .filter(|f| matches!(f.state, BState::Calling { deadline } if now >= deadline))
            .map(|f| f.call_id.clone())
            .collect();
        for call_id in due {
            if let Some(i) = self.forks.iter().position(|f| f.call_id == call_id) {
                let mut fork = self.forks.remove(i);
                fork.state = BState::Cancelled;
                let agent = fork.agent.clone().unwrap_or_default();
                self.send(FromCall::Cancel { call_id }).await;
                self.stale.push(fork);
                self.agent_missed(&agent).await;
            }
        }
        let Some(b) = self.b.as_mut() else {
            return;
        };
        if let BState::Calling { deadline } = b.state
            && now >= deadline
        {
            b.state = BState::Cancelled;
            let call_id = b.call_id.clone();
            let agent = b.agent.is_some();
            self.send(FromCall::Cancel { call_id }).await;
            if agent {
                self.agent_leg_failed(None).await;
                return;
            }
            self.dial_done(DialOutcome::NoAnswer).await;
        }
    }

    /// After a re-INVITE on either leg: while one side holds the other,
    /// the held party hears music on hold instead of the relay.
    pub(super) fn hold_changed(&mut self) {
        let a_holds = self.leg.as_ref().is_some_and(Leg::holds_us);
        let b_holds = self
            .b
            .as_ref()
            .and_then(|b| b.leg.as_ref())
            .is_some_and(Leg::holds_us);
        let held = a_holds || b_holds;
        if held && self.hold_music.is_none() {
            info!(call_id = %self.call_id, by_caller = a_holds, "call on hold: music for the held party");
            let items = [waihu_call::PlayItem::Prompt {
                name: "moh/default".into(),
            }];
            self.hold_music = Some(
                super::super::leg::player(&self.ctx, &items)
                    .unwrap_or_else(|_| waihu_media::player::Player::new(Vec::new())),
            );
        } else if !held && self.hold_music.is_some() {
            info!(call_id = %self.call_id, "call resumed");
            self.hold_music = None;
            let now = Instant::now();
            for leg in [
                self.leg.as_mut(),
                self.b.as_mut().and_then(|b| b.leg.as_mut()),
            ]
            .into_iter()
            .flatten()
            {
                leg.catch_up(now);
            }
        }
    }

    /// One frame of music on hold to the held party (the one not holding).
    pub(super) fn hold_frame(&mut self) {
        let a_holds = self.leg.as_ref().is_some_and(Leg::holds_us);
        let Some(music) = self.hold_music.as_mut() else {
            return;
        };
        let target = if a_holds {
            // The caller holds: the agent (or dialled party) hears music.
            self.b.as_mut().and_then(|b| b.leg.as_mut())
        } else {
            self.leg.as_mut()
        };
        let Some(leg) = target else {
            return;
        };
        if leg.holds_us() {
            // Both hold: nobody listens.
            return;
        }
        let (_, done) = leg.play_frame(music);
        if done {
            // Loop the music.
            let items = [waihu_call::PlayItem::Prompt {
                name: "moh/default".into(),
            }];
            if let Ok(p) = super::super::leg::player(&self.ctx, &items) {
                self.hold_music = Some(p);
            }
        }
    }

    /// Relays what the caller's leg just received to B.
    pub(super) fn relay_to_b(&mut self) {
        let (Some(a), Some(b)) = (
            self.leg.as_mut(),
            self.b.as_mut().and_then(|b| b.leg.as_mut()),
        ) else {
            return;
        };
        let event_type = a.event_type();
        if let Some(packet) = a.take_relayable() {
            b.relay(packet, event_type);
        }
    }

    /// Relays what B's leg just received to the caller.
    pub(super) fn relay_to_a(&mut self) {
        let (Some(a), Some(b)) = (
            self.leg.as_mut(),
            self.b.as_mut().and_then(|b| b.leg.as_mut()),
        ) else {
            return;
        };
        let event_type = b.event_type();
        if let Some(packet) = b.take_relayable() {
            a.relay(packet, event_type);
        }
    }

    /// Ends the B leg when the call ends: BYE if bridged, CANCEL if ringing.
    pub(super) async fn end_b(&mut self) {
        for fork in std::mem::take(&mut self.forks) {
            self.cancel_leg(fork).await;
        }
        let Some(b) = self.b.as_mut() else {
            return;
        };
        match b.state {
            BState::Calling { .. } => {
                b.state = BState::Cancelled;
                let call_id = b.call_id.clone();
                self.send(FromCall::Cancel { call_id }).await;
            }
            BState::Bridged => {
                b.state = BState::Over;
                self.bye_b().await;
            }
            BState::Cancelled | BState::Over => {}
        }
    }

    async fn bye_b(&mut self) {
        let via = self.via();
        let Some(b) = self.b.as_mut() else {
            return;
        };
        let Some(dialog) = b.dialog.as_mut() else {
            return;
        };
        match dialog.create_request(Method::Bye, via) {
            Ok(bye) => {
                let peer = b.peer;
                self.send(FromCall::Send {
                    request: Box::new(bye),
                    peer,
                })
                .await;
            }
            Err(e) => debug!(error = %e, "no BYE for the B leg"),
        }
    }

    async fn dial_done(&mut self, outcome: DialOutcome) {
        if self.b.as_ref().is_some_and(|b| b.agent.is_some()) {
            // The agent hung up: the route goes on after `call:queue`.
            if let Some(reply) = self.agent_done().await {
                self.waiting = Waiting::Nothing;
                if self.ended.is_none() {
                    self.advance(Some(reply)).await;
                }
            }
            return;
        }
        if matches!(self.waiting, Waiting::Dial { .. } | Waiting::Bridge) {
            if self.transferred.is_some() {
                self.transfer_done(Event::DialDone { outcome }).await;
                return;
            }
            self.waiting = Waiting::Nothing;
            if self.ended.is_none() {
                self.advance(Some(Event::DialDone { outcome })).await;
            }
        }
    }

    /// A campaign call's customer answered: their leg becomes the call's
    /// own (dialog, media, session timer, trunk channel), as if they had
    /// called us.
    fn promote_b(&mut self) {
        let Some(mut b) = self.b.take() else {
            return;
        };
        self.local_tag = b.local_tag().unwrap_or_default();
        if b.call_id != self.call_id {
            self.a_call_id = Some(b.call_id.clone());
        }
        self.dialog = b.dialog.take();
        self.leg = b.leg.take();
        self.peer = b.peer;
        self.timer_a = b.timer.take();
        self.a_allows_update = b.allows_update;
        self.inbound = b.trunk.take().map(|(channel, _)| channel);
        self.waiting = Waiting::Nothing;
    }

    pub(super) fn b_listen(&mut self, on: bool) {
        if let Some(leg) = self.b.as_mut().and_then(|b| b.leg.as_mut()) {
            leg.set_listening(on);
        }
    }

    /// B's audio of this frame, for the recording's right channel.
    pub(super) fn b_heard_frame(&mut self) -> Option<[i16; super::super::leg::FRAME_SAMPLES]> {
        self.b
            .as_mut()
            .and_then(|b| b.leg.as_mut())
            .and_then(Leg::take_heard_frame)
    }
}

/// `sip:target@domain`.
pub(super) fn uri_for(target: &str, domain: &str) -> Uri {
    waihu_sip::message::parse_uri(&format!("sip:{target}@{domain}")).unwrap_or_else(|_| {
        Uri::Other {
            scheme: "sip".into(),
            rest: format!("{target}@{domain}"),
        }
    })
}

/// How a failed attempt is reported to the route.
fn outcome_of(status: u16) -> DialOutcome {
    match status {
        486 | 600 => DialOutcome::Busy,
        408 | 480 | 487 => DialOutcome::NoAnswer,
        404 | 484 | 604 => DialOutcome::Unavailable,
        603 => DialOutcome::Rejected,
        _ => DialOutcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_map_to_outcomes() {
        assert_eq!(outcome_of(486), DialOutcome::Busy);
        assert_eq!(outcome_of(600), DialOutcome::Busy);
        assert_eq!(outcome_of(480), DialOutcome::NoAnswer);
        assert_eq!(outcome_of(404), DialOutcome::Unavailable);
        assert_eq!(outcome_of(603), DialOutcome::Rejected);
        assert_eq!(outcome_of(503), DialOutcome::Failed);
    }
}
