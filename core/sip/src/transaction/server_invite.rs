//! The INVITE server transaction (RFC 3261 17.2.1, with the RFC 6026
//! Accepted state).
//!
//! ```text
//!  Proceeding --1xx from TU--> Proceeding
//!     +--2xx from TU-----> Accepted --ACK--> (TU gets it, retransmission stops)
//!     |                       +--Timer L--> Terminated
//!     +--300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated
//!                              +--Timer H--> Terminated (AckTimeout event)
//! ```
//! Unlike a bare RFC 6026 transaction, Accepted also retransmits the 2xx
//! (T1 doubling up to T2) until the ACK, the UAS core's duty in RFC 3261
//! 13.3.1.4, so all retransmission timing lives in one timer queue.

use std::mem;
use std::time::Duration;

use super::timer::TimerKind;
use super::{Incoming, Io, TransactionError, TransactionState};
use crate::Peer;
use crate::message::{HeaderName, Request, Response};

/// RFC 3261 17.2.1: without an answer from the TU in 200 ms, send 100 Trying.
const TRYING_DELAY: Duration = Duration::from_millis(200);

/// The TU has the INVITE; retransmissions get the last provisional response.
#[derive(Debug)]
pub(super) struct Proceeding {
    last: Option<Vec<u8>>,
}

/// A non-2xx final response went out; retransmitted on timer G until the ACK.
#[derive(Debug)]
pub(super) struct Completed {
    response: Vec<u8>,
    timer_g: Duration,
}

/// The ACK came; absorbing ACK retransmissions until timer I.
#[derive(Debug)]
pub(super) struct Confirmed;

/// A 2xx went out (RFC 6026); retransmitted until the ACK, then INVITE
/// retransmissions are absorbed until timer L.
#[derive(Debug)]
pub(super) struct Accepted {
    response: Vec<u8>,
    to_tag: Option<String>,
    interval: Duration,
    acked: bool,
}

#[derive(Debug)]
pub(super) enum State {
    Proceeding(Proceeding),
    Completed(Completed),
    Confirmed(Confirmed),
    Accepted(Accepted),
    Terminated,
}

#[derive(Debug)]
pub(super) struct ServerInvite {
    peer: Peer,
    state: State,
}

impl ServerInvite {
    pub(super) fn start(peer: Peer, io: &mut Io<'_>) -> ServerInvite {
        io.arm(TimerKind::Trying, TRYING_DELAY);
        ServerInvite {
            peer,
            state: State::Proceeding(Proceeding { last: None }),
        }
    }

    pub(super) fn state(&self) -> Option<TransactionState> {
        match self.state {
            State::Proceeding(_) => Some(TransactionState::Proceeding),
            State::Completed(_) => Some(TransactionState::Completed),
            State::Confirmed(_) => Some(TransactionState::Confirmed),
            State::Accepted(_) => Some(TransactionState::Accepted),
            State::Terminated => None,
        }
    }

    /// The INVITE again: absorbed, with the last response re-sent.
    pub(super) fn on_retransmission(&mut self, io: &mut Io<'_>) -> Incoming {
        let last = match &self.state {
            State::Proceeding(s) => s.last.as_ref(),
            State::Completed(s) => Some(&s.response),
            // RFC 6026 7.1: Accepted absorbs without re-sending; timer-driven
            // 2xx retransmission already covers a lost 2xx.
            State::Accepted(_) | State::Confirmed(_) | State::Terminated => None,
        };
        if let Some(bytes) = last {
            io.send(self.peer, bytes.clone());
        }
        Incoming::Absorbed
    }

    /// An ACK matched this transaction: by branch (non-2xx, or a peer that
    /// reuses the INVITE branch) or by dialog identifiers (2xx).
    pub(super) fn on_ack(&mut self, ack: Request, io: &mut Io<'_>) -> Incoming {
        let (state, incoming) = match mem::replace(&mut self.state, State::Terminated) {
            State::Completed(_) => {
                io.disarm(TimerKind::G);
                io.disarm(TimerKind::H);
                (Confirmed::enter(self.peer, io), Incoming::Absorbed)
            }
            State::Accepted(s) => s.on_ack(ack, io),
            state => (state, Incoming::Absorbed),
        };
        self.state = state;
        incoming
    }

    pub(super) fn respond(
        &mut self,
        response: &Response,
        io: &mut Io<'_>,
    ) -> Result<(), TransactionError> {
        let (state, result) = match mem::replace(&mut self.state, State::Terminated) {
            State::Proceeding(s) => (s.respond(self.peer, response, io), Ok(())),
            State::Accepted(s) if (200..=299).contains(&response.status) => {
                // RFC 6026 7.1: a 2xx the TU passes again goes straight out.
                io.send(self.peer, response.to_bytes());
                (State::Accepted(s), Ok(()))
            }
            state => (state, Err(TransactionError::AlreadyFinal)),
        };
        self.state = state;
        result
    }

    /// A timer fired; `invite` is the request that created the transaction.
    pub(super) fn on_timer(&mut self, kind: TimerKind, invite: &Request, io: &mut Io<'_>) {
        let peer = self.peer;
        self.state = match (mem::replace(&mut self.state, State::Terminated), kind) {
            (State::Proceeding(s), TimerKind::Trying) => s.on_timer_trying(invite, peer, io),
            (State::Completed(s), TimerKind::G) => s.on_timer_g(peer, io),
            (State::Completed(_), TimerKind::H) => {
                io.report_timeout();
                State::Terminated
            }
            (State::Confirmed(_), TimerKind::I) => State::Terminated,
            (State::Accepted(s), TimerKind::Retransmit2xx) => s.on_retransmit_timer(peer, io),
            (State::Accepted(s), TimerKind::L) => {
                if !s.acked {
                    io.report_timeout();
                }
                State::Terminated
            }
            (state, _) => state,
        };
    }
}

impl Proceeding {
    fn respond(self, peer: Peer, response: &Response, io: &mut Io<'_>) -> State {
        io.disarm(TimerKind::Trying);
        let bytes = response.to_bytes();
        io.send(peer, bytes.clone());
        let t1 = io.timers().t1;
        let timeout = io.timers().transaction_timeout();
        match response.status {
            0..=199 => State::Proceeding(Proceeding { last: Some(bytes) }),
            200..=299 => {
                // RFC 3261 13.3.1.4: "independent of whatever transport
                // protocols are used", so TCP retransmits the 2xx too.
                io.arm(TimerKind::Retransmit2xx, t1);
                io.arm(TimerKind::L, timeout);
                State::Accepted(Accepted {
                    response: bytes,
                    to_tag: response.to.tag().map(str::to_owned),
                    interval: t1,
                    acked: false,
                })
            }
            _ => {
                if !peer.transport.is_reliable() {
                    io.arm(TimerKind::G, t1);
                }
                io.arm(TimerKind::H, timeout);
                State::Completed(Completed {
                    response: bytes,
                    timer_g: t1,
                })
            }
        }
    }

    fn on_timer_trying(self, invite: &Request, peer: Peer, io: &mut Io<'_>) -> State {
        if self.last.is_some() {
            return State::Proceeding(self);
        }
        let mut trying = Response::to_request(invite, 100);
        // RFC 3261 8.2.6.1: a Timestamp in the request is echoed in the 100.
        if let Some(ts) = invite.headers.get(&HeaderName::Timestamp) {
            trying.headers.push(HeaderName::Timestamp, ts);
        }
        let bytes = trying.to_bytes();
        io.send(peer, bytes.clone());
        State::Proceeding(Proceeding { last: Some(bytes) })
    }
}

impl Completed {
    fn on_timer_g(self, peer: Peer, io: &mut Io<'_>) -> State {
        io.send(peer, self.response.clone());
        let timer_g = io.timers().doubled(self.timer_g);
        io.arm(TimerKind::G, timer_g);
        State::Completed(Completed { timer_g, ..self })
    }
}

impl Confirmed {
    fn enter(peer: Peer, io: &mut Io<'_>) -> State {
        let wait = io.timers().timer_i(peer.transport.is_reliable());
        if wait.is_zero() {
            return State::Terminated;
        }
        io.arm(TimerKind::I, wait);
        State::Confirmed(Confirmed)
    }
}

impl Accepted {
    fn on_ack(mut self, ack: Request, io: &mut Io<'_>) -> (State, Incoming) {
        if self.acked {
            return (State::Accepted(self), Incoming::Absorbed);
        }
        if ack.to.tag() != self.to_tag.as_deref() {
            // Not the ACK for our 2xx: the TU decides, retransmission goes on.
            return (State::Accepted(self), Incoming::Ack(ack));
        }
        self.acked = true;
        io.disarm(TimerKind::Retransmit2xx);
        (State::Accepted(self), Incoming::Ack(ack))
    }

    fn on_retransmit_timer(self, peer: Peer, io: &mut Io<'_>) -> State {
        io.send(peer, self.response.clone());
        let interval = io.timers().doubled(self.interval);
        io.arm(TimerKind::Retransmit2xx, interval);
        State::Accepted(Accepted { interval, ..self })
    }
}
