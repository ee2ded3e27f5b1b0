//! A bridge relayed by the relay engine (`call::relay`) instead of this
//! task: while parked, the task only waits for its inbox, for the engine
//! giving the legs back, and for timers that are not about media.
//! Anything else it does with the call starts by taking the legs back, so
//! the rest of the session never sees a parked leg.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};
use waihu_call::{HangupCause, Party};
use waihu_sip::session_timer::SessionTimer;

use super::super::ToCall;
use super::super::leg::{Heard, Leg};
use super::{Session, Waiting};
use crate::call::relay::{self, Back, Why};

/// How long a parked call sleeps when no timer of its own is set; it
/// just looks again then.
const NO_TIMER: Duration = Duration::from_secs(3600);

/// How long a bridge is relayed by its own task before the engine takes
/// it. Handing the legs over and back costs a dozen system calls and two
/// trips between threads, more than a bridge of a few packets saves; the
/// first second also carries the caller's ACK and the source filter's
/// probation. The task wakes for every packet meanwhile, so it notices.
pub(super) const PARK_AFTER: Duration = Duration::from_secs(1);

impl Session {
    /// Whether the bridge may go to the engine: packets only go from one
    /// leg to the other, and nobody needs the audio or the frame clock.
    fn relays_plainly(&self) -> bool {
        let Some(b) = self.b.as_ref() else {
            return false;
        };
        matches!(self.waiting, Waiting::Bridge)
            && self
                .bridged_at
                .is_some_and(|at| at.elapsed() >= PARK_AFTER)
            && !self.park_refused
            && self.ended.is_none()
            && self.hold_music.is_none()
            && self.recording.is_none()
            && self.forks.is_empty()
            // The caller's in-band digits are heard (CDR, buffered digits);
            // the dialled party's are not acted on during a bridge.
            && self.leg.as_ref().is_some_and(|l| l.relays_plainly(true))
            && b.leg.as_ref().is_some_and(|l| l.relays_plainly(false))
    }

    /// Moves the bridge's legs into the relay engine; false if they stay.
    pub(super) fn park(&mut self) -> bool {
        if !self.relays_plainly() {
            return false;
        }
        let (Some(mut a), Some(mut b)) =
            (self.leg.take(), self.b.as_mut().and_then(|b| b.leg.take()))
        else {
            return false;
        };
        let sockets = match (a.take_socket(), b.take_socket()) {
            (Ok(sa), Ok(sb)) => [sa, sb],
            (a_socket, b_socket) => {
                warn!(call_id = %self.call_id, "rtp socket not handed to the relay engine");
                self.park_refused = true;
                self.put_back(a, a_socket.ok(), b, b_socket.ok());
                return false;
            }
        };
        match relay::park([Box::new(a), Box::new(b)], sockets) {
            Ok(parked) => {
                debug!(call_id = %self.call_id, "bridge handed to the relay engine");
                self.parked = Some(parked);
                true
            }
            Err(back) => {
                self.park_refused = true;
                let Back {
                    legs: [a, b],
                    sockets: [sa, sb],
                    ..
                } = back;
                self.put_back(*a, Some(sa), *b, Some(sb));
                false
            }
        }
    }

    /// Takes the legs back from the engine (nothing if not parked).
    pub(super) async fn unpark(&mut self) {
        let Some(parked) = self.parked.take() else {
            return;
        };
        match parked.unpark().await {
            Some(back) => self.restore(back).await,
            None => self.legs_lost().await,
        }
    }

    /// One turn of the call's loop while parked. The task sleeps until a
    /// message, the engine, or its next non-media timer wakes it, not on
    /// the housekeeping interval: a parked bridge should cost nothing.
    pub(super) async fn parked_turn(&mut self) {
        let wake_at = self.next_timer_while_parked();
        let Some(parked) = self.parked.as_mut() else {
            return;
        };
        tokio::select! {
            message = self.inbox.recv() => {
                // The caller's ACK for our 2xx changes nothing (see
                // `on_sip`); one that comes late, or again, after the
                // bridge parked is no reason for a trip to the engine.
                if matches!(message, Some(ToCall::Ack)) {
                    return;
                }
                self.unpark().await;
                match message {
                    Some(message) => self.on_sip(message).await,
                    None => self.end(Party::Switch, HangupCause::Failure).await,
                }
            }
            back = parked.returned() => {
                self.parked = None;
                match back {
                    Some(back) => {
                        let timeout = back.why == Why::MediaTimeout;
                        self.restore(back).await;
                        if timeout {
                            // Fires the timeout the engine saw due.
                            self.housekeeping(Instant::now()).await;
                        }
                    }
                    None => self.legs_lost().await,
                }
            }
            _ = tokio::time::sleep_until(wake_at) => {
                self.unpark().await;
                self.housekeeping(Instant::now()).await;
            }
        }
    }

    /// When the first timer that is not about media (the engine watches
    /// those) is due: a session timer's refresh or expiry, a campaign
    /// call's connect limit. Far off when there is none.
    fn next_timer_while_parked(&self) -> Instant {
        let session = [
            self.timer_a.as_ref(),
            self.b.as_ref().and_then(|b| b.timer.as_ref()),
        ]
        .into_iter()
        .flatten()
        .filter_map(SessionTimer::next_deadline)
        .map(Instant::from_std);
        let connect = self.origin.as_ref().and_then(|o| o.connect_by);
        session
            .chain(connect)
            .min()
            .unwrap_or_else(|| Instant::now() + NO_TIMER)
    }

    async fn restore(&mut self, back: Back) {
        let Back {
            legs: [a, b],
            sockets: [sa, sb],
            digits,
            why,
        } = back;
        if why == Why::Failed {
            warn!(call_id = %self.call_id, "relay engine could not carry the bridge: relaying here");
            self.park_refused = true;
        }
        debug!(call_id = %self.call_id, ?why, "bridge back from the relay engine");
        self.put_back(*a, Some(sa), *b, Some(sb));
        let now = Instant::now();
        for digit in digits {
            self.on_heard(Heard::Digit(digit), now).await;
        }
    }

    /// Puts the legs where they were, with the sockets they were given.
    fn put_back(
        &mut self,
        mut a: Leg,
        a_socket: Option<std::net::UdpSocket>,
        mut b: Leg,
        b_socket: Option<std::net::UdpSocket>,
    ) {
        for (leg, socket, side) in [(&mut a, a_socket, "caller"), (&mut b, b_socket, "dialled")] {
            let Some(socket) = socket else { continue };
            if let Err(e) = leg.restore_socket(socket) {
                warn!(call_id = %self.call_id, side, error = %e, "rtp socket not restored: the leg is mute");
            }
        }
        self.leg = Some(a);
        match self.b.as_mut() {
            Some(bl) => bl.leg = Some(b),
            // Nothing changes `b` while parked; were it gone, the leg's
            // ports go back to the pool here.
            None => drop(b),
        }
    }

    /// The engine thread holding the legs is gone, and the legs with it.
    async fn legs_lost(&mut self) {
        warn!(call_id = %self.call_id, "relay engine lost the bridge: ending the call");
        self.end(Party::Switch, HangupCause::Failure).await;
    }
}
