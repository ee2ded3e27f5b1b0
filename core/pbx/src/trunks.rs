//! Carrier trunks at run time: who is registered, who is up, and the
//! per-trunk limits every originator goes through.
//!
//! The SIP side (registrations and OPTIONS keepalives) runs in the driver,
//! which owns the endpoint; it reports here. Calls ask here for a channel
//! on a trunk before their INVITE leaves, and give it back by dropping the
//! [`Channel`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde::Serialize;

use crate::config::Trunk;

/// What `GET /api/v1/trunks` shows of a trunk.
#[derive(Clone, Debug, Serialize)]
pub struct TrunkStatus {
    pub name: String,
    pub group: String,
    pub address: String,
    /// `disabled` (not registering), `registering`, `registered`, `failing`.
    pub registration: &'static str,
    /// Why it is failing.
    pub reason: Option<String>,
    /// Seconds until the registration expires (when registered).
    pub expires_in_s: Option<u64>,
    /// The last OPTIONS keepalive was answered (true until one is not).
    pub up: bool,
    pub channels: u32,
    pub max_channels: u32,
    pub max_cps: u32,
    /// Calls refused for the channel or call-rate limit.
    pub refused: u64,
}

#[derive(Debug)]
struct State {
    config: Trunk,
    status: TrunkStatus,
    /// Call-rate bucket: tokens and when they were last topped up.
    tokens: f64,
    refilled: Instant,
}

/// Why a trunk took no call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such trunk or group")]
    Unknown,
    #[error("every channel is in use")]
    Channels,
    #[error("calls-per-second limit reached")]
    Rate,
    #[error("down (OPTIONS unanswered)")]
    Down,
}

/// Every trunk, shared by the driver, the calls and the API.
#[derive(Debug)]
pub struct Trunks {
    states: Mutex<Vec<State>>,
}

/// A channel held on a trunk; dropping it frees the channel.
#[derive(Debug)]
pub struct Channel {
    trunks: Arc<Trunks>,
    index: usize,
    pub trunk: Trunk,
}

impl Drop for Channel {
    fn drop(&mut self) {
        if let Some(s) = self.trunks.lock().get_mut(self.index) {
            s.status.channels = s.status.channels.saturating_sub(1);
        }
    }
}

impl Trunks {
    pub fn new(trunks: &[Trunk], now: Instant) -> Arc<Trunks> {
        let states = trunks
            .iter()
            .map(|t| State {
                status: TrunkStatus {
                    name: t.name.clone(),
                    group: t.group.clone(),
                    address: t.addr.to_string(),
                    registration: if t.register {
                        "registering"
                    } else {
                        "disabled"
                    },
                    reason: None,
                    expires_in_s: None,
                    up: true,
                    channels: 0,
                    max_channels: t.max_channels,
                    max_cps: t.max_cps,
                    refused: 0,
                },
                tokens: f64::from(t.max_cps),
                refilled: now,
                config: t.clone(),
            })
            .collect();
        Arc::new(Trunks {
            states: Mutex::new(states),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<State>> {
        self.states.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every trunk's configuration.
    pub fn configs(&self) -> Vec<Trunk> {
        self.lock().iter().map(|s| s.config.clone()).collect()
    }

    /// The trunks to try for `name`: the trunk of that name, or the trunks
    /// of the group of that name in configuration order.
    pub fn candidates(&self, name: &str) -> Vec<Trunk> {
        let states = self.lock();
        if let Some(s) = states.iter().find(|s| s.config.name == name) {
            return vec![s.config.clone()];
        }
        states
            .iter()
            .filter(|s| s.config.group == name)
            .map(|s| s.config.clone())
            .collect()
    }

    /// Takes a channel on `name` for an outbound call, within its limits.
    pub fn acquire(self: &Arc<Self>, name: &str, now: Instant) -> Result<Channel, Refusal> {
        let mut states = self.lock();
        let (index, s) = states
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.config.name == name)
            .ok_or(Refusal::Unknown)?;
        if !s.status.up {
            return Err(Refusal::Down);
        }
        if s.status.channels >= s.config.max_channels {
            s.status.refused += 1;
            return Err(Refusal::Channels);
        }
        let rate = f64::from(s.config.max_cps);
        let elapsed = now.saturating_duration_since(s.refilled).as_secs_f64();
        s.tokens = (s.tokens + elapsed * rate).min(rate);
        s.refilled = now;
        if s.tokens < 1.0 {
            s.status.refused += 1;
            return Err(Refusal::Rate);
        }
        s.tokens -= 1.0;
        s.status.channels += 1;
        let trunk = s.config.clone();
        drop(states);
        Ok(Channel {
            trunks: Arc::clone(self),
            index,
            trunk,
        })
    }

    /// Counts an inbound call on the trunk `name` against its channels.
    pub fn inbound(self: &Arc<Self>, name: &str) -> Result<Channel, Refusal> {
        let mut states = self.lock();
        let (index, s) = states
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.config.name == name)
            .ok_or(Refusal::Unknown)?;
        if s.status.channels >= s.config.max_channels {
            s.status.refused += 1;
            return Err(Refusal::Channels);
        }
        s.status.channels += 1;
        let trunk = s.config.clone();
        drop(states);
        Ok(Channel {
            trunks: Arc::clone(self),
            index,
            trunk,
        })
    }

    pub fn set_registration(
        &self,
        name: &str,
        registration: &'static str,
        reason: Option<String>,
        expires_in_s: Option<u64>,
    ) {
        if let Some(s) = self.lock().iter_mut().find(|s| s.config.name == name) {
            s.status.registration = registration;
            s.status.reason = reason;
            s.status.expires_in_s = expires_in_s;
        }
    }

    pub fn set_up(&self, name: &str, up: bool) {
        if let Some(s) = self.lock().iter_mut().find(|s| s.config.name == name) {
            s.status.up = up;
        }
    }

    pub fn statuses(&self) -> Vec<TrunkStatus> {
        self.lock().iter().map(|s| s.status.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn trunk(name: &str, group: &str, channels: u32, cps: u32) -> Trunk {
        Trunk {
            name: name.into(),
            host: "192.0.2.1".into(),
            addr: "192.0.2.1:5060".parse().expect("addr"),
            transport: waihu_sip::Transport::Udp,
            credentials: None,
            realm: None,
            register: false,
            register_expires: Duration::from_secs(600),
            from_user: "waihu".into(),
            caller_id: None,
            max_channels: channels,
            max_cps: cps,
            group: group.into(),
            acl: Vec::new(),
            keepalive: None,
        }
    }

    #[allow(clippy::disallowed_methods)]
    fn base() -> Instant {
        Instant::now()
    }

    #[test]
    fn channels_are_counted_and_given_back_on_drop() {
        let t0 = base();
        let trunks = Trunks::new(&[trunk("a", "default", 2, 100)], t0);
        let one = trunks.acquire("a", t0).expect("first");
        let two = trunks.acquire("a", t0).expect("second");
        assert_eq!(trunks.acquire("a", t0).err(), Some(Refusal::Channels));
        drop(one);
        let _three = trunks.acquire("a", t0).expect("a freed channel");
        drop(two);
        assert_eq!(trunks.statuses()[0].channels, 1);
        assert_eq!(trunks.statuses()[0].refused, 1);
    }

    #[test]
    fn the_call_rate_is_a_bucket_refilled_over_time() {
        let t0 = base();
        let trunks = Trunks::new(&[trunk("a", "default", 100, 2)], t0);
        let _a = trunks.acquire("a", t0).expect("1");
        let _b = trunks.acquire("a", t0).expect("2");
        assert_eq!(trunks.acquire("a", t0).err(), Some(Refusal::Rate));
        let _c = trunks
            .acquire("a", t0 + Duration::from_millis(600))
            .expect("a token came back after half a second");
    }

    #[test]
    fn groups_keep_configuration_order_and_names_pick_one_trunk() {
        let t0 = base();
        let trunks = Trunks::new(
            &[
                trunk("b", "out", 1, 1),
                trunk("x", "other", 1, 1),
                trunk("a", "out", 1, 1),
            ],
            t0,
        );
        let names = |v: Vec<Trunk>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(names(trunks.candidates("out")), ["b", "a"]);
        assert_eq!(names(trunks.candidates("x")), ["x"]);
        assert!(trunks.candidates("none").is_empty());
        trunks.set_up("b", false);
        assert_eq!(trunks.acquire("b", t0).err(), Some(Refusal::Down));
    }
}
