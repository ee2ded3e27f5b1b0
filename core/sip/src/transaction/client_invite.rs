//! The INVITE client transaction (RFC 3261 17.1.1, with the RFC 6026
//! Accepted state).
//!
//! ```text
//!  Calling --1xx--> Proceeding --1xx--> Proceeding
//!     |                 |
//!     +----2xx----------+--> Accepted --Timer M--> Terminated
//!     +--300-699--------+--> Completed --Timer D--> Terminated (ACK sent)
//!     +--Timer B--> Terminated (Timeout event)
//! ```

use std::mem;
use std::time::Duration;

use bytes::Bytes;

use super::timer::TimerKind;
use super::{ClientKey, Io, TransactionState};
use crate::Peer;
use crate::message::{CSeq, HeaderName, Headers, Method, Request, Response};

/// What every state shares: the INVITE as sent and where it went.
#[derive(Debug)]
struct Sent {
    request: Request,
    bytes: Vec<u8>,
    peer: Peer,
}

/// Waiting for any response; retransmitting on timer A.
#[derive(Debug)]
pub(super) struct Calling {
    timer_a: Duration,
}

/// A provisional response came; waiting for the final one, no retransmissions.
#[derive(Debug)]
pub(super) struct Proceeding;

/// A non-2xx final response came and was acknowledged; absorbing its
/// retransmissions (each gets the ACK again) until timer D.
#[derive(Debug)]
pub(super) struct Completed {
    ack: Vec<u8>,
}

/// A 2xx came (RFC 6026); further 2xx (retransmissions, other forks) still
/// go to the TU, which sends the ACKs, until timer M.
#[derive(Debug)]
pub(super) struct Accepted;

#[derive(Debug)]
pub(super) enum State {
    Calling(Calling),
    Proceeding(Proceeding),
    Completed(Completed),
    Accepted(Accepted),
    Terminated,
}

/// RFC 3261 9.1: a CANCEL may only leave once a provisional response came.
#[derive(Debug)]
pub(super) enum Cancel {
    NotRequested,
    /// Asked for in Calling: sent on the first provisional response.
    Deferred {
        key: ClientKey,
        request: Box<Request>,
    },
    Sent,
}

#[derive(Debug)]
pub(super) struct ClientInvite {
    sent: Sent,
    state: State,
    pub(super) cancel: Cancel,
}

impl ClientInvite {
    pub(super) fn start(request: Request, peer: Peer, io: &mut Io<'_>) -> ClientInvite {
        let bytes = request.to_bytes();
        io.send(peer, bytes.clone());
        let t1 = io.timers().t1;
        if !peer.transport.is_reliable() {
            io.arm(TimerKind::A, t1);
        }
        io.arm(TimerKind::B, io.timers().transaction_timeout());
        ClientInvite {
            sent: Sent {
                request,
                bytes,
                peer,
            },
            state: State::Calling(Calling { timer_a: t1 }),
            cancel: Cancel::NotRequested,
        }
    }

    pub(super) fn state(&self) -> Option<TransactionState> {
        match self.state {
            State::Calling(_) => Some(TransactionState::Calling),
            State::Proceeding(_) => Some(TransactionState::Proceeding),
            State::Completed(_) => Some(TransactionState::Completed),
            State::Accepted(_) => Some(TransactionState::Accepted),
            State::Terminated => None,
        }
    }

    pub(super) fn peer(&self) -> Peer {
        self.sent.peer
    }

    /// A response matched this transaction; returns it when the TU must see it.
    pub(super) fn on_response(&mut self, response: Response, io: &mut Io<'_>) -> Option<Response> {
        let (state, up) = match mem::replace(&mut self.state, State::Terminated) {
            State::Calling(s) => s.on_response(&self.sent, response, io),
            State::Proceeding(s) => s.on_response(&self.sent, response, io),
            State::Completed(s) => s.on_response(&self.sent, &response, io),
            State::Accepted(s) => s.on_response(response),
            State::Terminated => (State::Terminated, None),
        };
        self.state = state;
        up
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind, io: &mut Io<'_>) {
        self.state = match (mem::replace(&mut self.state, State::Terminated), kind) {
            (State::Calling(s), TimerKind::A) => s.on_timer_a(&self.sent, io),
            (State::Calling(_), TimerKind::B) => {
                io.report_timeout();
                State::Terminated
            }
            (State::Completed(_), TimerKind::D) | (State::Accepted(_), TimerKind::M) => {
                State::Terminated
            }
            // A timer left over from an earlier state: states disarm what
            // they no longer need, so this is only defensive.
            (state, _) => state,
        };
    }

    /// The CANCEL for this INVITE (RFC 3261 9.1): same Request-URI, Call-ID,
    /// From, To and CSeq number, the INVITE's top Via only, its Route set.
    pub(super) fn cancel_request(&self) -> Request {
        let invite = &self.sent.request;
        Request {
            method: Method::Cancel,
            uri: invite.uri.clone(),
            via: invite.via.first().cloned().into_iter().collect(),
            from: invite.from.clone(),
            to: invite.to.clone(),
            call_id: invite.call_id.clone(),
            cseq: CSeq {
                seq: invite.cseq.seq,
                method: Method::Cancel,
            },
            max_forwards: Some(70),
            headers: routes_of(invite),
            body: Bytes::new(),
        }
    }
}

impl Calling {
    fn on_response(
        self,
        sent: &Sent,
        response: Response,
        io: &mut Io<'_>,
    ) -> (State, Option<Response>) {
        io.disarm(TimerKind::A);
        io.disarm(TimerKind::B);
        Proceeding.on_response(sent, response, io)
    }

    fn on_timer_a(self, sent: &Sent, io: &mut Io<'_>) -> State {
        io.send(sent.peer, sent.bytes.clone());
        // Timer A doubles without a cap (RFC 3261 17.1.1.2); timer B ends it.
        let timer_a = self.timer_a.saturating_mul(2);
        io.arm(TimerKind::A, timer_a);
        State::Calling(Calling { timer_a })
    }
}

impl Proceeding {
    fn on_response(
        self,
        sent: &Sent,
        response: Response,
        io: &mut Io<'_>,
    ) -> (State, Option<Response>) {
        match response.status {
            0..=199 => (State::Proceeding(self), Some(response)),
            200..=299 => {
                io.arm(TimerKind::M, io.timers().transaction_timeout());
                (State::Accepted(Accepted), Some(response))
            }
            _ => (Completed::enter(sent, &response, io), Some(response)),
        }
    }
}

impl Completed {
    /// Sends the ACK for a non-2xx final response and waits for timer D.
    fn enter(sent: &Sent, response: &Response, io: &mut Io<'_>) -> State {
        let ack = ack_for(&sent.request, response).to_bytes();
        io.send(sent.peer, ack.clone());
        let wait = io.timers().timer_d(sent.peer.transport.is_reliable());
        if wait.is_zero() {
            return State::Terminated;
        }
        io.arm(TimerKind::D, wait);
        State::Completed(Completed { ack })
    }

    fn on_response(
        self,
        sent: &Sent,
        response: &Response,
        io: &mut Io<'_>,
    ) -> (State, Option<Response>) {
        if response.status >= 300 {
            // The final response again: our ACK was lost. Absorb and re-ACK.
            io.send(sent.peer, self.ack.clone());
        }
        (State::Completed(self), None)
    }
}

impl Accepted {
    fn on_response(self, response: Response) -> (State, Option<Response>) {
        let up = (200..=299).contains(&response.status).then_some(response);
        (State::Accepted(self), up)
    }
}

/// The ACK for a non-2xx final response (RFC 3261 17.1.1.3).
fn ack_for(invite: &Request, response: &Response) -> Request {
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        via: invite.via.first().cloned().into_iter().collect(),
        from: invite.from.clone(),
        to: response.to.clone(),
        call_id: invite.call_id.clone(),
        cseq: CSeq {
            seq: invite.cseq.seq,
            method: Method::Ack,
        },
        max_forwards: Some(70),
        headers: routes_of(invite),
        body: Bytes::new(),
    }
}

fn routes_of(request: &Request) -> Headers {
    let mut headers = Headers::new();
    for route in request.headers.get_all(&HeaderName::Route) {
        headers.push(HeaderName::Route, route);
    }
    headers
}
