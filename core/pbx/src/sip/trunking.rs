//! The driver's side of carrier trunks: outbound registrations (the
//! sans-IO `waihu_sip::trunk::Registration`) and OPTIONS keepalives, sent
//! through the endpoint like any request and reported to [`Trunks`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};
use waihu_sip::endpoint::{ClientTxId, Endpoint};
use waihu_sip::message::{Host, Method, NameAddr, Params, Request, Response, SipUri, Uri, Via};
use waihu_sip::transaction::{new_branch, new_tag};
use waihu_sip::trunk::{Registration, RegistrationConfig, RegistrationStatus};
use waihu_sip::{Peer, Transport};

use crate::config::Trunk;
use crate::trunks::Trunks;

#[derive(Debug, Clone, Copy)]
enum Tx {
    Register(usize),
    Options(usize),
}

#[derive(Debug)]
struct Keepalive {
    trunk: Trunk,
    every: Duration,
    next: Instant,
    in_flight: bool,
}

/// Registrations and keepalives of every trunk.
#[derive(Debug)]
pub(super) struct Trunking {
    table: Arc<Trunks>,
    registrations: Vec<(String, Registration)>,
    keepalives: Vec<Keepalive>,
    txs: HashMap<ClientTxId, Tx>,
    local: SocketAddr,
    seed: u64,
    /// The registration states last published, to log changes once.
    published: Vec<&'static str>,
    /// OPTIONS sent so far: each gets its own branch, tag and Call-ID.
    sent: u64,
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::V4(v4),
        IpAddr::V6(v6) => Host::V6(v6),
    }
}

fn sip_uri(user: Option<&str>, host: Host, port: Option<u16>) -> Uri {
    let mut uri = SipUri::new(user, host);
    uri.port = port;
    Uri::Sip(uri)
}

impl Trunking {
    /// `local` is the address carriers reach us at (advertised IP, SIP port).
    pub fn new(table: Arc<Trunks>, trunks: &[Trunk], local: SocketAddr, now: Instant) -> Trunking {
        let seed = getrandom::u64().unwrap_or(0x7472_756e_6b73);
        let registrations = trunks
            .iter()
            .filter(|t| t.register)
            .filter_map(|t| {
                let (username, password) = t.credentials.clone()?;
                let config = RegistrationConfig {
                    registrar: sip_uri(None, host_of(t.addr.ip()), Some(t.addr.port())),
                    aor: sip_uri(Some(&t.from_user), Host::Name(t.host.clone()), None),
                    contact: sip_uri(Some(&t.from_user), host_of(local.ip()), Some(local.port())),
                    username,
                    password,
                    realm: t.realm.clone(),
                    expires: t.register_expires,
                    transport: t.transport,
                    local,
                };
                Some((
                    t.name.clone(),
                    Registration::new(config, now, seed ^ hash(&t.name)),
                ))
            })
            .collect();
        let keepalives = trunks
            .iter()
            .filter_map(|t| {
                Some(Keepalive {
                    trunk: t.clone(),
                    every: t.keepalive?,
                    next: now,
                    in_flight: false,
                })
            })
            .collect();
        Trunking {
            table,
            registrations,
            keepalives,
            txs: HashMap::new(),
            local,
            seed,
            published: Vec::new(),
            sent: 0,
        }
    }

    /// Sends whatever is due.
    pub fn poll(&mut self, now: Instant, endpoint: &mut Endpoint) {
        for i in 0..self.registrations.len() {
            let (name, registration) = &mut self.registrations[i];
            let Some(request) = registration.poll_request(now) else {
                continue;
            };
            let config = registration.config();
            let peer = Peer {
                transport: config.transport,
                addr: match &config.registrar {
                    Uri::Sip(u) => match (&u.host, u.port) {
                        (Host::V4(ip), port) => SocketAddr::new((*ip).into(), port.unwrap_or(5060)),
                        (Host::V6(ip), port) => SocketAddr::new((*ip).into(), port.unwrap_or(5060)),
                        _ => continue,
                    },
                    _ => continue,
                },
            };
            match endpoint.send_request(now, request, peer) {
                Ok(id) => {
                    self.txs.insert(id, Tx::Register(i));
                }
                Err(e) => {
                    warn!(trunk = %name, error = %e, "REGISTER not sent");
                    registration.on_timeout(now);
                }
            }
        }
        for i in 0..self.keepalives.len() {
            let k = &mut self.keepalives[i];
            if k.in_flight || k.next > now {
                continue;
            }
            k.next = now + k.every;
            self.sent += 1;
            let target = sip_uri(None, host_of(k.trunk.addr.ip()), Some(k.trunk.addr.port()));
            let options = options_request(
                target,
                k.trunk.transport,
                &k.trunk.from_user,
                self.local,
                self.seed ^ self.sent.rotate_left(29),
            );
            let peer = Peer {
                transport: k.trunk.transport,
                addr: k.trunk.addr,
            };
            if let Ok(id) = endpoint.send_request(now, options, peer) {
                k.in_flight = true;
                self.txs.insert(id, Tx::Options(i));
            }
        }
        self.publish(now);
    }

    /// A response to one of ours; false if it is not a trunk's.
    pub fn on_response(&mut self, now: Instant, id: ClientTxId, response: &Response) -> bool {
        let Some(&tx) = self.txs.get(&id) else {
            return false;
        };
        if response.status < 200 {
            return true;
        }
        self.txs.remove(&id);
        match tx {
            Tx::Register(i) => {
                if let Some((_, r)) = self.registrations.get_mut(i) {
                    r.on_response(now, response);
                }
            }
            Tx::Options(i) => {
                if let Some(k) = self.keepalives.get_mut(i) {
                    // Any answer, even 401 or 405, shows the carrier is there.
                    k.in_flight = false;
                    self.table.set_up(&k.trunk.name, true);
                }
            }
        }
        self.publish(now);
        true
    }

    /// No answer to one of ours; false if it is not a trunk's.
    pub fn on_timeout(&mut self, now: Instant, id: ClientTxId) -> bool {
        let Some(tx) = self.txs.remove(&id) else {
            return false;
        };
        match tx {
            Tx::Register(i) => {
                if let Some((_, r)) = self.registrations.get_mut(i) {
                    r.on_timeout(now);
                }
            }
            Tx::Options(i) => {
                if let Some(k) = self.keepalives.get_mut(i) {
                    k.in_flight = false;
                    warn!(trunk = %k.trunk.name, "trunk did not answer OPTIONS: marked down");
                    self.table.set_up(&k.trunk.name, false);
                }
            }
        }
        self.publish(now);
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let registrations = self
            .registrations
            .iter()
            .filter_map(|(_, r)| r.poll_timeout());
        let keepalives = self
            .keepalives
            .iter()
            .filter(|k| !k.in_flight)
            .map(|k| k.next);
        registrations.chain(keepalives).min()
    }

    fn publish(&mut self, now: Instant) {
        self.published.resize(self.registrations.len(), "");
        for (i, (name, r)) in self.registrations.iter().enumerate() {
            let (state, reason, expires) = match r.status() {
                RegistrationStatus::Registering => ("registering", None, None),
                RegistrationStatus::Registered { until } => (
                    "registered",
                    None,
                    Some(until.saturating_duration_since(now).as_secs()),
                ),
                RegistrationStatus::Failing { reason, .. } => {
                    ("failing", Some(format!("{reason:?}")), None)
                }
                _ => ("unregistered", None, None),
            };
            if self.published[i] != state {
                self.published[i] = state;
                info!(trunk = %name, registration = state, reason = ?reason, "trunk registration");
            }
            self.table.set_registration(name, state, reason, expires);
        }
    }
}

/// An OPTIONS probe to `target` from `from_user` at `local`: its own
/// branch, tag and Call-ID from `seed`.
pub(super) fn options_request(
    target: Uri,
    transport: Transport,
    from_user: &str,
    local: SocketAddr,
    seed: u64,
) -> Request {
    let mut params = Params::default();
    params.set("branch", Some(&new_branch(seed)));
    let via = Via {
        transport: match transport {
            Transport::Udp => "UDP".into(),
            Transport::Tcp => "TCP".into(),
        },
        host: host_of(local.ip()),
        port: Some(local.port()),
        params,
    };
    let mut from = NameAddr::new(sip_uri(Some(from_user), host_of(local.ip()), None));
    from.set_tag(&new_tag(seed.rotate_left(17)));
    let to = NameAddr::new(target.clone());
    Request::new(
        Method::Options,
        target,
        via,
        from,
        to,
        format!("{:016x}@waihu", seed.rotate_left(31)),
        1,
    )
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
