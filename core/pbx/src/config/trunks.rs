//! `trunks:`: carrier trunks, checked like the rest of the file.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use waihu_sip::Transport;

use super::validate::{Checker, ProblemKind};

/// A trunk as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkEntry {
    pub name: String,
    /// The carrier's address: an IP, or a name resolved at start.
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_transport")]
    pub transport: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Only challenges for this realm are answered.
    #[serde(default)]
    pub realm: Option<String>,
    /// Register with the carrier (needs username and password).
    #[serde(default)]
    pub register: bool,
    #[serde(default = "default_expires")]
    pub register_expires_s: u64,
    /// User part of From (and of the registered address of record).
    #[serde(default)]
    pub from_user: Option<String>,
    /// The number shown to the called party, unless a campaign sets one.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Calls up at once through this trunk, both ways.
    #[serde(default = "default_channels")]
    pub max_channels: u32,
    /// New outbound calls per second.
    #[serde(default = "default_cps")]
    pub max_cps: u32,
    /// Trunks of one group are tried in file order (failover).
    #[serde(default = "default_group")]
    pub group: String,
    /// Source addresses (IP or CIDR) whose requests are taken as this
    /// trunk's without digest; the carrier's own address when absent.
    #[serde(default)]
    pub acl: Option<Vec<String>>,
    /// OPTIONS keepalive interval; 0 turns it off.
    #[serde(default = "default_keepalive")]
    pub keepalive_s: u64,
}

fn default_port() -> u16 {
    5060
}
fn default_transport() -> String {
    "udp".into()
}
fn default_expires() -> u64 {
    600
}
fn default_channels() -> u32 {
    30
}
fn default_cps() -> u32 {
    10
}
fn default_group() -> String {
    "default".into()
}
fn default_keepalive() -> u64 {
    30
}

/// A checked trunk.
#[derive(Clone, Debug)]
pub struct Trunk {
    pub name: String,
    pub host: String,
    pub addr: SocketAddr,
    pub transport: Transport,
    pub credentials: Option<(String, String)>,
    pub realm: Option<String>,
    pub register: bool,
    pub register_expires: Duration,
    pub from_user: String,
    pub caller_id: Option<String>,
    pub max_channels: u32,
    pub max_cps: u32,
    pub group: String,
    pub acl: Vec<IpNet>,
    pub keepalive: Option<Duration>,
}

pub(super) fn check_trunks(c: &mut Checker, entries: &[TrunkEntry]) -> Vec<Trunk> {
    let mut trunks = Vec::with_capacity(entries.len());
    let mut names: Vec<&str> = Vec::new();
    for (i, t) in entries.iter().enumerate() {
        let key = |field: &str| format!("trunks[{i}].{field}");
        let name = t.name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            c.report(
                key("name"),
                ProblemKind::BadTrunkName {
                    value: t.name.clone(),
                },
            );
        } else if names.contains(&name) {
            c.report(
                key("name"),
                ProblemKind::DuplicateTrunk {
                    value: name.to_owned(),
                },
            );
        }
        names.push(name);
        let transport = match t.transport.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            other => {
                c.report(
                    key("transport"),
                    ProblemKind::OneOf {
                        value: other.to_owned(),
                        allowed: "udp, tcp",
                    },
                );
                Transport::Udp
            }
        };
        let addr = match resolve(&t.host, t.port) {
            Some(addr) => addr,
            None => {
                c.report(
                    key("host"),
                    ProblemKind::Unresolvable {
                        value: t.host.clone(),
                    },
                );
                SocketAddr::from(([0, 0, 0, 0], t.port))
            }
        };
        let credentials = match (&t.username, &t.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some((u.clone(), p.clone())),
            (None, None) => None,
            _ => {
                c.report(key("password"), ProblemKind::CredentialsPair);
                None
            }
        };
        if t.register && credentials.is_none() {
            c.report(key("register"), ProblemKind::RegisterNeedsCredentials);
        }
        c.range(&key("register_expires_s"), t.register_expires_s, 60, 86_400);
        c.range(&key("max_channels"), u64::from(t.max_channels), 1, 100_000);
        c.range(&key("max_cps"), u64::from(t.max_cps), 1, 10_000);
        c.range(&key("keepalive_s"), t.keepalive_s, 0, 3_600);
        let acl = match &t.acl {
            None => vec![IpNet::from(addr.ip())],
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(j, s)| match parse_net(s) {
                    Some(net) => Some(net),
                    None => {
                        c.report(
                            format!("trunks[{i}].acl[{j}]"),
                            ProblemKind::BadNet { value: s.clone() },
                        );
                        None
                    }
                })
                .collect(),
        };
        let from_user = t
            .from_user
            .clone()
            .or_else(|| t.username.clone())
            .unwrap_or_else(|| "waihu".into());
        trunks.push(Trunk {
            name: name.to_owned(),
            host: t.host.clone(),
            addr,
            transport,
            credentials,
            realm: t.realm.clone(),
            register: t.register,
            register_expires: Duration::from_secs(t.register_expires_s),
            from_user,
            caller_id: t.caller_id.clone(),
            max_channels: t.max_channels,
            max_cps: t.max_cps,
            group: t.group.clone(),
            acl,
            keepalive: (t.keepalive_s > 0).then(|| Duration::from_secs(t.keepalive_s)),
        });
    }
    trunks
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    (host, port).to_socket_addrs().ok()?.next()
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}
