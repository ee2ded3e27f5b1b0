//! The non-INVITE server transaction (RFC 3261 17.2.2).
//!
//! ```text
//!  Trying --1xx from TU--> Proceeding --1xx from TU--> Proceeding
//!     |                       |
//!     +--200-699 from TU------+--> Completed --Timer J--> Terminated
//! ```
//! Request retransmissions are absorbed: nothing is sent in Trying, the last
//! response is re-sent in Proceeding and Completed.

use std::mem;

use super::timer::TimerKind;
use super::{Incoming, Io, TransactionError, TransactionState};
use crate::Peer;
use crate::message::Response;

/// The TU has the request and has not answered yet.
#[derive(Debug)]
pub(super) struct Trying;

/// The TU sent a provisional response.
#[derive(Debug)]
pub(super) struct Proceeding {
    last: Vec<u8>,
}

/// The final response went out; kept for retransmitted requests until timer J.
#[derive(Debug)]
pub(super) struct Completed {
    response: Vec<u8>,
}

#[derive(Debug)]
pub(super) enum State {
    Trying(Trying),
    Proceeding(Proceeding),
    Completed(Completed),
    Terminated,
}

#[derive(Debug)]
pub(super) struct ServerNonInvite {
    peer: Peer,
    state: State,
}

impl ServerNonInvite {
    pub(super) fn start(peer: Peer) -> ServerNonInvite {
        ServerNonInvite {
            peer,
            state: State::Trying(Trying),
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

    pub(super) fn on_retransmission(&mut self, io: &mut Io<'_>) -> Incoming {
        let last = match &self.state {
            State::Proceeding(s) => Some(&s.last),
            State::Completed(s) => Some(&s.response),
            State::Trying(_) | State::Terminated => None,
        };
        if let Some(bytes) = last {
            io.send(self.peer, bytes.clone());
        }
        Incoming::Absorbed
    }

    pub(super) fn respond(
        &mut self,
        response: &Response,
        io: &mut Io<'_>,
    ) -> Result<(), TransactionError> {
        let (state, result) = match mem::replace(&mut self.state, State::Terminated) {
            State::Trying(_) | State::Proceeding(_) => (self.answer(response, io), Ok(())),
            state => (state, Err(TransactionError::AlreadyFinal)),
        };
        self.state = state;
        result
    }

    /// A response from the TU in Trying or Proceeding.
    fn answer(&self, response: &Response, io: &mut Io<'_>) -> State {
        let bytes = response.to_bytes();
        io.send(self.peer, bytes.clone());
        if response.status < 200 {
            return State::Proceeding(Proceeding { last: bytes });
        }
        let wait = io.timers().timer_j(self.peer.transport.is_reliable());
        if wait.is_zero() {
            return State::Terminated;
        }
        io.arm(TimerKind::J, wait);
        State::Completed(Completed { response: bytes })
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind) {
        if let (State::Completed(_), TimerKind::J) = (&self.state, kind) {
            self.state = State::Terminated;
        }
    }
}
