//! OPTIONS probes to the phones of logged-in agents: a phone that stops
//! answering (unplugged, out of Wi-Fi, crashed) has its agent logged out
//! (`unreachable`) before the ACD offers it a call it cannot take. A phone
//! whose registration expires is logged out by the registrar's event.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::info;
use waihu_sip::endpoint::{ClientTxId, Endpoint};

use crate::acd::AcdHandle;

#[derive(Debug)]
pub(super) struct Probes {
    acd: AcdHandle,
    every: Duration,
    next: Instant,
    /// Probe in flight -> the agent it is for.
    txs: HashMap<ClientTxId, String>,
    local: SocketAddr,
    seed: u64,
    sent: u64,
}

impl Probes {
    pub fn new(acd: AcdHandle, every: Duration, local: SocketAddr, now: Instant) -> Probes {
        Probes {
            acd,
            every,
            next: now + every,
            txs: HashMap::new(),
            local,
            seed: getrandom::u64().unwrap_or(0x7072_6f62),
            sent: 0,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }

    /// Every interval, one OPTIONS to each logged-in agent's phone (its
    /// best registered contact), unless one is still in flight.
    pub fn poll(&mut self, now: Instant, endpoint: &mut Endpoint) {
        if now < self.next {
            return;
        }
        self.next = now + self.every;
        let snapshot = self.acd.latest();
        for agent in snapshot.agents.iter().filter(|a| a.state.logged_in()) {
            if self.txs.values().any(|a| *a == agent.name) {
                continue;
            }
            let Some((uri, peer)) = endpoint.targets(now, &agent.name).into_iter().next() else {
                continue;
            };
            self.sent += 1;
            let request = super::trunking::options_request(
                uri,
                peer.transport,
                "waihu",
                self.local,
                self.seed ^ self.sent.rotate_left(23),
            );
            if let Ok(id) = endpoint.send_request(now, request, peer) {
                self.txs.insert(id, agent.name.clone());
            }
        }
    }

    /// Any answer means the phone is there. True if it was a probe's.
    pub fn on_response(&mut self, id: ClientTxId) -> bool {
        self.txs.remove(&id).is_some()
    }

    /// No answer at all: the agent is logged out. True if it was a probe's.
    pub fn on_timeout(&mut self, id: ClientTxId) -> bool {
        let Some(agent) = self.txs.remove(&id) else {
            return false;
        };
        info!(%agent, "agent's phone does not answer OPTIONS: logging the agent out");
        self.acd.gone(&agent, "unreachable");
        true
    }
}
