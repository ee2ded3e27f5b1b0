//! The non-INVITE client transaction (RFC 3261 17.1.2).
//!
//! ```text
//!  Trying --1xx--> Proceeding --1xx--> Proceeding
//!     |                |
//!     +--200-699-------+--> Completed --Timer K--> Terminated
//!     +--Timer F-------+--> Terminated (Timeout event)
//! ```
//! Timer E retransmits the request: T1 doubling up to T2 in Trying, every T2
//! in Proceeding. Timer F keeps running in Proceeding.

use std::mem;
use std::time::Duration;

use super::timer::TimerKind;
use super::{Io, TransactionState};
use crate::Peer;
use crate::message::{Request, Response};

#[derive(Debug)]
struct Sent {
    bytes: Vec<u8>,
    peer: Peer,
}

/// Waiting for any response; timer E doubling up to T2.
#[derive(Debug)]
pub(super) struct Trying {
    timer_e: Duration,
}

/// A provisional response came; timer E now fires every T2.
#[derive(Debug)]
pub(super) struct Proceeding;

/// A final response came; absorbing its retransmissions until timer K.
#[derive(Debug)]
pub(super) struct Completed;

#[derive(Debug)]
pub(super) enum State {
    Trying(Trying),
    Proceeding(Proceeding),
    Completed(Completed),
    Terminated,
}

#[derive(Debug)]
pub(super) struct ClientNonInvite {
    sent: Sent,
    state: State,
}

impl ClientNonInvite {
    pub(super) fn start(request: &Request, peer: Peer, io: &mut Io<'_>) -> ClientNonInvite {
        let bytes = request.to_bytes();
        io.send(peer, bytes.clone());
        let t1 = io.timers().t1;
        if !peer.transport.is_reliable() {
            io.arm(TimerKind::E, t1);
        }
        io.arm(TimerKind::F, io.timers().transaction_timeout());
        ClientNonInvite {
            sent: Sent { bytes, peer },
            state: State::Trying(Trying { timer_e: t1 }),
        }
    }

    pub(super) fn state(&self) -> Option<TransactionState> {
        match self.state {
            State::Trying(_) => Some(TransactionState::Trying),
            State::Proceeding(_) => Some(TransactionState::Proceeding),
            State::Completed(_) => Some(TransactionState::Completed),
            State::Terminated => None,
        }
    }

    pub(super) fn on_response(&mut self, response: Response, io: &mut Io<'_>) -> Option<Response> {
        let (state, up) = match mem::replace(&mut self.state, State::Terminated) {
            // Trying and Proceeding react alike; only timer E's pace differs.
            State::Trying(_) | State::Proceeding(_) => {
                waiting_on_response(&self.sent, response, io)
            }
            State::Completed(c) => (State::Completed(c), None),
            State::Terminated => (State::Terminated, None),
        };
        self.state = state;
        up
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind, io: &mut Io<'_>) {
        self.state = match (mem::replace(&mut self.state, State::Terminated), kind) {
            (State::Trying(s), TimerKind::E) => s.on_timer_e(&self.sent, io),
            (State::Proceeding(s), TimerKind::E) => s.on_timer_e(&self.sent, io),
            (State::Trying(_) | State::Proceeding(_), TimerKind::F) => {
                io.report_timeout();
                State::Terminated
            }
            (State::Completed(_), TimerKind::K) => State::Terminated,
            (state, _) => state,
        };
    }
}

/// A response in Trying or Proceeding.
fn waiting_on_response(
    sent: &Sent,
    response: Response,
    io: &mut Io<'_>,
) -> (State, Option<Response>) {
    if response.status < 200 {
        return (State::Proceeding(Proceeding), Some(response));
    }
    io.disarm(TimerKind::E);
    io.disarm(TimerKind::F);
    let wait = io.timers().timer_k(sent.peer.transport.is_reliable());
    if wait.is_zero() {
        return (State::Terminated, Some(response));
    }
    io.arm(TimerKind::K, wait);
    (State::Completed(Completed), Some(response))
}

impl Trying {
    fn on_timer_e(self, sent: &Sent, io: &mut Io<'_>) -> State {
        io.send(sent.peer, sent.bytes.clone());
        let timer_e = io.timers().doubled(self.timer_e);
        io.arm(TimerKind::E, timer_e);
        State::Trying(Trying { timer_e })
    }
}

impl Proceeding {
    fn on_timer_e(self, sent: &Sent, io: &mut Io<'_>) -> State {
        io.send(sent.peer, sent.bytes.clone());
        io.arm(TimerKind::E, io.timers().t2);
        State::Proceeding(self)
    }
}
