//! RFC 4028 session timers on both legs: a dialog whose far end stops
//! refreshing it (a phone that lost power, a carrier that forgot the call)
//! is ended, so it holds no agent, trunk channel or port pair.
//!
//! The caller's leg: the INVITE's `Session-Expires` is negotiated in our
//! 2xx ([`session_timer::uas_decide`]); an interval below our Min-SE gets
//! 422. The dialled leg: our INVITE asks for a timer, a 422 is retried
//! with the Min-SE asked for, and the 2xx says who refreshes. When we
//! refresh we send UPDATE (or re-INVITE with our SDP when the peer does
//! not allow UPDATE) at half the interval; when the peer refreshes, its
//! re-INVITE or UPDATE restarts the timer. An expired leg ends the call,
//! with the disposition in the CDR.

use bytes::Bytes;
use tokio::time::Instant;
use tracing::{info, warn};
use waihu_call::{HangupCause, Party};
use waihu_sip::message::{HeaderName, Method, Request, Response};
use waihu_sip::session_timer::{self, Decision, SessionTimer, TimerAction};

use super::super::FromCall;
use super::Session;
use crate::acd::AgentOp;

/// A session refresh in `dialog`: UPDATE when the peer allows it (no
/// body), else a re-INVITE repeating our SDP.
fn refresh_request(
    dialog: &mut waihu_sip::dialog::Dialog,
    timer: &SessionTimer,
    min_se: u32,
    update: bool,
    sdp: Option<String>,
    via: waihu_sip::message::Via,
    contact: String,
) -> Option<Request> {
    let method = if update {
        Method::Update
    } else {
        Method::Invite
    };
    let mut request = dialog.create_request(method.clone(), via).ok()?;
    for (name, value) in timer.request_headers(min_se) {
        request.headers.push(name, value);
    }
    request.headers.push(HeaderName::Contact, contact);
    if method == Method::Invite
        && let Some(sdp) = sdp
    {
        request
            .headers
            .push(HeaderName::ContentType, "application/sdp");
        request.body = Bytes::from(sdp);
    }
    Some(request)
}

/// Whether a peer's Allow header lists UPDATE.
pub(super) fn allows_update(headers: &waihu_sip::message::Headers) -> bool {
    headers
        .tokens(&HeaderName::Allow)
        .any(|m| m.eq_ignore_ascii_case("UPDATE"))
}

impl Session {
    /// The INVITE's session timer. False when it was refused (a 422 with
    /// our Min-SE, or 420 when timers are off and the caller requires them).
    pub(super) async fn timer_check(&mut self) -> bool {
        let decision = session_timer::uas_decide(&self.ctx.session_timer, &self.invite);
        let refused = match decision {
            Decision::Reject422 { min_se } => {
                let mut r = session_timer::response_422(&self.invite, min_se);
                r.to.set_tag(&self.local_tag);
                Some(r)
            }
            Decision::Reject420 => {
                let mut r = self.response(420);
                r.headers.push(HeaderName::Unsupported, "timer");
                Some(r)
            }
            _ => None,
        };
        if let Some(response) = refused {
            info!(call_id = %self.call_id, status = response.status, "session timer refused");
            let status = response.status;
            self.respond(response).await;
            self.ended = Some(super::Ending {
                by: Party::Switch,
                cause: HangupCause::Failure,
                sip_status: Some(status),
            });
            return false;
        }
        self.timer_decision = Some(decision);
        true
    }

    /// The session-timer headers of our 2xx, and the caller's leg timer
    /// started with it.
    pub(super) fn timer_on_answer(&mut self, response: &mut Response) {
        let Some(decision) = self.timer_decision.take() else {
            return;
        };
        if let Decision::Accept {
            headers_for_2xx, ..
        } = &decision
        {
            for (name, value) in headers_for_2xx {
                response.headers.push(name.clone(), value.clone());
            }
        }
        self.timer_a = decision
            .negotiated()
            .map(|n| SessionTimer::new(n, Instant::now().into_std()));
    }

    /// A re-INVITE or UPDATE from the caller refreshes its leg's timer;
    /// the 2xx repeats the (re)negotiated interval.
    pub(super) fn timer_refreshed_by_caller(&mut self, request: &Request, response: &mut Response) {
        if response.status != 200 {
            return;
        }
        let Some(timer) = self.timer_a.as_mut() else {
            return;
        };
        let decision = session_timer::uas_decide(&self.ctx.session_timer, request);
        if let Decision::Accept {
            headers_for_2xx, ..
        } = &decision
        {
            for (name, value) in headers_for_2xx {
                response.headers.push(name.clone(), value.clone());
            }
        }
        match decision.negotiated() {
            Some(n) => timer.renegotiated(n, Instant::now().into_std()),
            None => timer.refreshed(Instant::now().into_std()),
        }
    }

    /// Both legs' timers: refreshes due, expiries. False if the call ended.
    pub(super) async fn timers(&mut self, now: Instant) -> bool {
        let a = self.timer_a.as_mut().map(|t| t.on_timeout(now.into_std()));
        match a {
            Some(TimerAction::SendRefresh) => self.refresh_a().await,
            Some(TimerAction::Expire) => {
                info!(call_id = %self.call_id, "caller's session expired (no refresh): ending the call");
                self.vars
                    .insert("disposition".into(), "session_expired".into());
                self.end(Party::Switch, HangupCause::Failure).await;
                return false;
            }
            _ => {}
        }
        let b = self
            .b
            .as_mut()
            .and_then(|b| b.timer.as_mut())
            .map(|t| t.on_timeout(now.into_std()));
        match b {
            Some(TimerAction::SendRefresh) => self.refresh_b().await,
            Some(TimerAction::Expire) => {
                info!(call_id = %self.call_id, "dialled party's session expired: ending the call");
                self.b_vanished("session_expired").await;
                self.end(Party::Switch, HangupCause::Failure).await;
                return false;
            }
            _ => {}
        }
        true
    }

    /// The dialled party is gone (no media, or its session expired): the
    /// CDR says so and, for an agent, the agent is paused once the call
    /// ends rather than offered the next call on a dead phone.
    pub(super) async fn b_vanished(&mut self, why: &str) {
        let agent = self.b.as_ref().and_then(|b| b.agent.clone());
        let disposition = if agent.is_some() { "agent_lost" } else { why };
        self.vars
            .insert("disposition".into(), disposition.to_owned());
        if let Some(agent) = agent {
            warn!(call_id = %self.call_id, %agent, why, "agent vanished mid-call");
            if let Err(e) = self
                .ctx
                .acd
                .agent(&agent, AgentOp::Pause("vanished".into()))
                .await
            {
                warn!(%agent, error = %e, "could not pause the vanished agent");
            }
        }
    }

    /// Sends our refresh on the caller's leg.
    async fn refresh_a(&mut self) {
        let via = self.via();
        let contact = self.contact();
        let min_se = self.ctx.session_timer.min_se_s;
        let sdp = self.leg.as_ref().map(|l| l.local_sdp().to_owned());
        let (Some(dialog), Some(timer)) = (self.dialog.as_mut(), self.timer_a.as_ref()) else {
            return;
        };
        let request = refresh_request(
            dialog,
            timer,
            min_se,
            self.a_allows_update,
            sdp,
            via,
            contact,
        );
        if let Some(request) = request {
            let peer = self.peer;
            self.send(FromCall::Send {
                request: Box::new(request),
                peer,
            })
            .await;
        }
    }

    /// Sends our refresh on the dialled leg.
    async fn refresh_b(&mut self) {
        let via = self.via();
        let contact = self.contact();
        let min_se = self.ctx.session_timer.min_se_s;
        let Some(b) = self.b.as_mut() else {
            return;
        };
        let sdp = b.leg.as_ref().map(|l| l.local_sdp().to_owned());
        let (Some(dialog), Some(timer)) = (b.dialog.as_mut(), b.timer.as_ref()) else {
            return;
        };
        let request = refresh_request(dialog, timer, min_se, b.allows_update, sdp, via, contact);
        if let Some(request) = request {
            let peer = b.peer();
            self.send(FromCall::Send {
                request: Box::new(request),
                peer,
            })
            .await;
        }
    }

    /// A response on the caller's leg to a request of ours: a refresh's
    /// 2xx (a re-INVITE's is acknowledged); a refresh that finds no dialog
    /// (408, 481) ends the call (RFC 4028 section 10).
    pub(super) async fn on_a_response(&mut self, response: &Response) {
        let method = response.cseq.method.clone();
        if !matches!(method, Method::Update | Method::Invite) || response.status < 200 {
            return;
        }
        if (200..300).contains(&response.status) {
            if method == Method::Invite {
                let via = self.via();
                let ack = self
                    .dialog
                    .as_ref()
                    .and_then(|d| d.create_ack(response, via).ok());
                if let Some(ack) = ack {
                    let peer = self.peer;
                    self.send(FromCall::Ack {
                        request: Box::new(ack),
                        peer,
                    })
                    .await;
                }
            }
            if let Some(t) = self.timer_a.as_mut() {
                match session_timer::negotiated_from_2xx(response) {
                    Some(n) => t.renegotiated(n, Instant::now().into_std()),
                    None => t.refreshed(Instant::now().into_std()),
                }
            }
        } else if matches!(response.status, 408 | 481) {
            info!(call_id = %self.call_id, status = response.status, "caller's dialog is gone");
            self.vars
                .insert("disposition".into(), "session_expired".into());
            self.end(Party::Switch, HangupCause::Failure).await;
        }
    }
}
