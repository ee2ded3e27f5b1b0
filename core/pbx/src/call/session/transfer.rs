//! Blind transfer: the bridged party (an agent's phone) sends REFER, or
//! the API gives the call a `transfer` command. The caller stays; the
//! other leg ends and a new one rings the target, the caller hearing
//! ringback meanwhile. The route's pending `call:dial` or `call:queue`
//! gets its reply when the transferred call ends, as it would have.
//!
//! A command (not a REFER) may also name `queue:NAME`: the caller joins
//! that queue, hearing its music, and its agents are offered the call as
//! for any queued call; the route's pending `call:queue` gets the new
//! queue's reply.
//!
//! RFC 3515: a REFER is answered 202, then the implicit subscription gets
//! NOTIFYs with a `message/sipfrag` of the progress: 100 Trying at once,
//! 200 OK (terminated) once the new leg is on its way; then waihu ends
//! the transferor's dialog itself (BYE), which a blind transfer expects.

use tracing::{info, warn};
use waihu_call::{Event, QueueOutcome};
use waihu_sip::endpoint::ServerTxId;
use waihu_sip::message::{HeaderName, Method, Request, Response, Uri};
use waihu_sip::refer;

use super::super::FromCall;
use super::{Session, Waiting};

/// The queue priority of a call transferred to a queue (the highest).
const TRANSFER_PRIORITY: u8 = 9;

/// What the route waits for when its call is transferred.
#[derive(Debug, Clone)]
pub(super) enum Pending {
    Dial,
    /// `call:queue`: the agent who transferred the call.
    Queue(String),
}

/// The dial target for a transfer: a registered user by its user part, or
/// a number through the trunks.
fn target_of(uri: &Uri) -> Option<String> {
    let user = match uri {
        Uri::Sip(sip) => sip.user_unescaped()?,
        Uri::Other { scheme, rest } if scheme == "tel" => {
            rest.split(';').next().unwrap_or_default().to_owned()
        }
        Uri::Other { .. } => return None,
    };
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+*#_.-".contains(&b));
    if !ok {
        return None;
    }
    // A number (6+ digits, maybe with +) goes out through the trunks.
    let digits = user.trim_start_matches('+');
    if digits.len() >= 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("pstn:{user}"))
    } else {
        Some(user)
    }
}

impl Session {
    /// A REFER inside the B dialog: the bridged party transfers the caller.
    pub(super) async fn on_b_refer(&mut self, id: ServerTxId, request: Request) {
        let status = match refer::refer_to(&request) {
            Ok(to) => match target_of(&to.uri) {
                Some(target) if self.transferable() => {
                    let transferor = self.b.as_ref().and_then(|b| b.agent.clone());
                    // Toll fraud: an agent may send the caller out through a
                    // trunk only with allow_pstn.
                    let pstn_ok = !target.starts_with("pstn:")
                        || transferor
                            .as_ref()
                            .is_some_and(|a| self.ctx.pstn_agents.contains(a));
                    if pstn_ok {
                        self.respond_b(id, &request, 202).await;
                        self.notify_b(100).await;
                        self.transfer(&target).await;
                        return;
                    }
                    warn!(call_id = %self.call_id, %target, "transfer to the PSTN refused: no allow_pstn");
                    403
                }
                Some(_) => 488,
                None => 404,
            },
            Err(e) => {
                info!(call_id = %self.call_id, error = %e, "REFER refused");
                e.status()
            }
        };
        self.respond_b(id, &request, status).await;
    }

    /// Whether the call has a bridged other party to transfer away from.
    fn transferable(&self) -> bool {
        matches!(self.waiting, Waiting::Bridge) && self.b.is_some()
    }

    /// `transfer` from the API.
    pub(super) async fn api_transfer(&mut self, target: &str) -> Event {
        if !self.transferable() {
            return Event::Failed {
                reason: "the call is not bridged to another party".into(),
            };
        }
        if let Some(queue) = target.strip_prefix("queue:") {
            if self.ctx.acd.queue(queue).is_none() {
                return Event::Failed {
                    reason: format!("no queue {queue}"),
                };
            }
            self.transfer_to_queue(queue).await;
            return Event::Transferred;
        }
        self.transfer(target).await;
        Event::Transferred
    }

    /// Ends the current other leg and puts the caller in `queue`, ahead of
    /// calls of lower priority: they have been served once already.
    async fn transfer_to_queue(&mut self, queue: &str) {
        let Some(old) = self.b.take() else {
            return;
        };
        info!(call_id = %self.call_id, %queue, from = ?old.agent, "blind transfer to a queue");
        self.vars
            .insert("transferred_to".into(), format!("queue:{queue}"));
        if old.agent.is_some() {
            // The agent's part is over (wrap-up); the route's reply now
            // comes from the new queue.
            let _ = self.agent_done().await;
        }
        self.b = Some(old);
        self.end_b().await;
        if let Some(old) = self.b.take() {
            self.stale.push(old);
        }
        self.waiting = Waiting::Nothing;
        let skills = std::collections::BTreeMap::new();
        if let Some(Event::Failed { reason }) = self
            .start_queue(queue.to_owned(), TRANSFER_PRIORITY, skills)
            .await
        {
            warn!(call_id = %self.call_id, %queue, %reason, "the transferred call could not join the queue");
            self.end(waihu_call::Party::Switch, waihu_call::HangupCause::Failure)
                .await;
        }
    }

    /// Ends the current other leg and dials `target` for the caller.
    async fn transfer(&mut self, target: &str) {
        let Some(old) = self.b.take() else {
            return;
        };
        info!(call_id = %self.call_id, %target, from = ?old.agent, "blind transfer");
        self.vars.insert("transferred_to".into(), target.to_owned());
        let pending = match old.agent.clone() {
            Some(agent) => {
                // The agent's part of the call is over: wrap-up.
                // (Its reply is for the route when the new leg ends.)
                let _ = self.agent_done().await;
                Pending::Queue(agent)
            }
            None => Pending::Dial,
        };
        // The transferor hears the end of the subscription, then BYE.
        self.b = Some(old);
        self.notify_b(200).await;
        self.end_b().await;
        if let Some(old) = self.b.take() {
            self.stale.push(old);
        }
        self.transferred = Some(pending);
        self.waiting = Waiting::Nothing;
        let timeout_s = 60;
        if let Some(event) = self.start_dial(target, timeout_s).await {
            // The target could not even be tried: the route hears how.
            self.transfer_done(event).await;
        }
    }

    /// Turns the end of a transferred call into the reply the route waits
    /// for, and gives it.
    pub(super) async fn transfer_done(&mut self, event: Event) {
        let reply = match (self.transferred.take(), event) {
            (Some(Pending::Queue(agent)), Event::DialDone { .. }) => Event::QueueDone {
                outcome: QueueOutcome::Answered,
                detail: Some(agent),
            },
            (_, event) => event,
        };
        self.waiting = Waiting::Nothing;
        if self.ended.is_none() {
            // Boxed: a route's transfer command can end here, in advance.
            Box::pin(self.advance(Some(reply))).await;
        }
    }

    async fn respond_b(&mut self, id: ServerTxId, request: &Request, status: u16) {
        let mut response = Response::to_request(request, status);
        if status == 202 {
            response.headers.push(HeaderName::Contact, self.contact());
        }
        self.send(FromCall::Respond {
            id,
            response: Box::new(response),
        })
        .await;
    }

    /// A NOTIFY of the REFER's progress to the B leg.
    async fn notify_b(&mut self, status: u16) {
        let via = self.via();
        let contact = self.contact();
        let Some(b) = self.b.as_mut() else {
            return;
        };
        let Some(dialog) = b.dialog.as_mut() else {
            return;
        };
        match refer::create_notify(dialog, via, status, refer::DEFAULT_SUBSCRIPTION_S, None) {
            Ok(mut notify) => {
                notify.headers.push(HeaderName::Contact, contact);
                let peer = b.peer();
                self.send(FromCall::Send {
                    request: Box::new(notify),
                    peer,
                })
                .await;
            }
            Err(e) => warn!(call_id = %self.call_id, error = %e, "no NOTIFY for the REFER"),
        }
    }
}

/// Whether a request is a REFER.
pub(super) fn is_refer(request: &Request) -> bool {
    request.method == Method::Refer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        waihu_sip::message::parse_uri(s).expect("uri")
    }

    #[test]
    fn transfer_targets_are_users_or_numbers() {
        assert_eq!(target_of(&uri("sip:1003@pbx")).as_deref(), Some("1003"));
        assert_eq!(
            target_of(&uri("sip:+8613800138000@pbx")).as_deref(),
            Some("pstn:+8613800138000")
        );
        assert_eq!(
            target_of(&uri("tel:02155556666;phone-context=x")).as_deref(),
            Some("pstn:02155556666")
        );
        assert_eq!(target_of(&uri("sip:pbx.example.com")), None);
        assert_eq!(target_of(&uri("sip:a%20b@pbx")), None);
    }
}
