//! Every transaction timer lives here: one ordered queue behind
//! [`super::Transactions::poll_timeout`].
//!
//! A state machine arms and disarms timers by kind; the queue keeps them in
//! deadline order. At equal deadlines the timers that end a transaction (B, F,
//! H, L, M, D, I, J, K) come before the ones that retransmit, so a
//! transaction that times out never sends one last copy at the same instant.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::{ClientKey, ServerKey};

/// The RFC 3261 section 17 timers, the RFC 6026 ones (L, M), and the two
/// duties the RFC gives the transaction user that this layer takes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum TimerKind {
    /// Client INVITE: no final response (Calling state), 64*T1.
    B,
    /// Client non-INVITE: no final response, 64*T1.
    F,
    /// Server INVITE: no ACK for a non-2xx final response, 64*T1.
    H,
    /// Server INVITE (RFC 6026): end of the Accepted state, 64*T1.
    L,
    /// Client INVITE (RFC 6026): end of the Accepted state, 64*T1.
    M,
    /// Client INVITE: wait for final response retransmissions in Completed.
    D,
    /// Server INVITE: wait for ACK retransmissions in Confirmed.
    I,
    /// Server non-INVITE: wait for request retransmissions in Completed.
    J,
    /// Client non-INVITE: wait for response retransmissions in Completed.
    K,
    /// Client INVITE request retransmission.
    A,
    /// Client non-INVITE request retransmission.
    E,
    /// Server INVITE non-2xx final response retransmission.
    G,
    /// Server INVITE 2xx retransmission until the ACK (RFC 3261 13.3.1.4,
    /// a UAS core duty done here so every retransmission shares one queue).
    Retransmit2xx,
    /// Server INVITE: send 100 Trying if the TU has not answered within
    /// 200 ms (RFC 3261 17.2.1).
    Trying,
}

impl TimerKind {
    const ALL: [TimerKind; 14] = [
        TimerKind::B,
        TimerKind::F,
        TimerKind::H,
        TimerKind::L,
        TimerKind::M,
        TimerKind::D,
        TimerKind::I,
        TimerKind::J,
        TimerKind::K,
        TimerKind::A,
        TimerKind::E,
        TimerKind::G,
        TimerKind::Retransmit2xx,
        TimerKind::Trying,
    ];
}

/// Which transaction a timer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum TxRef {
    Client(ClientKey),
    Server(ServerKey),
}

#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    order: BTreeSet<(Instant, TimerKind, TxRef)>,
    armed: HashMap<(TxRef, TimerKind), Instant>,
}

impl TimerQueue {
    /// Arms (or re-arms) one timer of one transaction.
    pub(super) fn arm(&mut self, tx: TxRef, kind: TimerKind, at: Instant) {
        if let Some(old) = self.armed.insert((tx, kind), at) {
            self.order.remove(&(old, kind, tx));
        }
        self.order.insert((at, kind, tx));
    }

    pub(super) fn disarm(&mut self, tx: TxRef, kind: TimerKind) {
        if let Some(old) = self.armed.remove(&(tx, kind)) {
            self.order.remove(&(old, kind, tx));
        }
    }

    /// Disarms every timer of a transaction that ended.
    pub(super) fn clear(&mut self, tx: TxRef) {
        for kind in TimerKind::ALL {
            self.disarm(tx, kind);
        }
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _, _)| *at)
    }

    /// The earliest timer due at `now`, removed from the queue.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(TxRef, TimerKind)> {
        let (at, _, _) = self.order.first()?;
        if *at > now {
            return None;
        }
        let (_, kind, tx) = self.order.pop_first()?;
        self.armed.remove(&(tx, kind));
        Some((tx, kind))
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }
}
