//! Checking every value of a parsed file, collecting every problem.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use waihu_sip::Transport;

use super::{Agent, AgentEntry, ConfigFile, Limits, Listener, SecuritySection, Settings};

/// Used when `http.listen` is absent.
const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";

/// Passwords shorter than this work, with a warning.
const MIN_PASSWORD_LEN: usize = 8;

/// Realms that say nothing about which credentials to use (RFC 7616
/// section 3.3 wants the realm to name the host or domain).
const GENERIC_REALMS: &[&str] = &["realm", "sip", "default", "asterisk", "localhost", "test"];

/// One thing wrong with the configuration, at a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `sip.listen[1]`, `agents[0].password`...
    pub key: String,
    pub kind: ProblemKind,
    /// The line of the key (or of its nearest parent) in the file, once located.
    pub line: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.kind)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    #[error("missing")]
    Missing,
    #[error("{value:?} is not a port range FIRST-LAST with 1024 <= FIRST < LAST <= 65535")]
    BadPortRange { value: String },
    #[error("{value:?} is not one of: {allowed}")]
    OneOf {
        value: String,
        allowed: &'static str,
    },
    #[error("{value:?} is not a store url (sqlite://PATH)")]
    BadStoreUrl { value: String },
    #[error("{value:?} is not a trunk name (letters, digits, '-', '_', '.')")]
    BadTrunkName { value: String },
    #[error("trunk {value:?} is defined twice")]
    DuplicateTrunk { value: String },
    #[error("{value:?} is not an IP address and does not resolve")]
    Unresolvable { value: String },
    #[error("give both username and password, or neither")]
    CredentialsPair,
    #[error("registering needs a username and a password")]
    RegisterNeedsCredentials,
    #[error("{value:?} is not an IP address or network (CIDR)")]
    BadNet { value: String },

    #[error("{value:?} is not a {what} name (letters, digits, '-', '_', '.'; at most 64)")]
    BadName { what: &'static str, value: String },
    #[error("{what} {value:?} is defined twice")]
    Duplicate { what: &'static str, value: String },
    #[error("{id:?} is not an agent (agents[].id)")]
    UnknownAgent { id: String },
    #[error("{value:?} is not a feature code (1..16 of 0-9 * #)")]
    BadFeatureCode { value: String },
    #[error("{value:?} is neither a trunk name nor a trunk group")]
    UnknownTrunkGroup { value: String },
    #[error("{value:?} is not a queue (queues[].name)")]
    UnknownQueue { value: String },
    #[error("{value:?} is not a caller ID (digits and '+', at most 32)")]
    BadCallerId { value: String },
    #[error("{value:?} is not a time span (e.g. 24h, 30days)")]
    BadSpan { value: String },
    #[error("{reason}")]
    BadImport { reason: String },

    #[error(
        "{value:?} is not a plugin name (letters, digits, '_', not starting with a digit, at most 64: scripts write plugins.NAME)"
    )]
    BadPluginName { value: String },
    #[error("{reason}")]
    BadPluginConfig { reason: String },
    #[error("{value:?} is not a plugin (plugins[].name)")]
    UnknownPlugin { value: String },

    #[error("must not be empty")]
    Empty,
    #[error("is too short for {what}: at least {min} characters")]
    TooShort { min: usize, what: &'static str },
    #[error("is only for {what}")]
    OnlyFor { what: &'static str },
    #[error("no listeners: give at least one of udp:ADDR:PORT or tcp:ADDR:PORT")]
    NoListeners,
    #[error("{0}")]
    Listen(#[from] ListenError),
    #[error("{value:?} is listed twice (also at {first})")]
    DuplicateListen { value: String, first: String },
    #[error("{value:?} is not an IP address and port ({reason})")]
    BadSocketAddr { value: String, reason: String },
    #[error("{value:?} is also a SIP TCP listener")]
    PortClash { value: String },
    #[error("{value:?} is not a host name or IP address")]
    BadHost { value: String },
    #[error("{value:?} may not contain quotes, backslashes or control characters")]
    BadRealm { value: String },
    #[error(
        "{value:?} is too generic: use the domain (RFC 7616 wants the realm to name the host or domain)"
    )]
    GenericRealm { value: String },
    #[error("{value:?} is longer than {max} characters")]
    TooLong { value: String, max: usize },
    #[error("duplicate agent id {id:?} (first at agents[{first}])")]
    DuplicateAgent { id: String, first: usize },
    #[error("{id:?} is not a valid SIP user part (letters, digits and -_.!~*'()&=+$,;?/ only)")]
    BadAgentId { id: String },
    #[error("the password equals the agent id")]
    PasswordIsId,
    #[error("algorithm listed twice")]
    DuplicateAlgorithm,
    #[error("{value} is out of range ({min}..={max})")]
    OutOfRange { value: u64, min: u64, max: u64 },
    #[error("{value} is below {key} ({other})")]
    LessThan {
        value: u64,
        key: &'static str,
        other: u64,
    },
}

/// Why a `sip.listen` string is not `transport:address:port`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    #[error("{0:?} has no transport: write udp:ADDR:PORT or tcp:ADDR:PORT")]
    NoTransport(String),
    #[error("unknown transport {0:?}: udp or tcp")]
    UnknownTransport(String),
    #[error(
        "{value:?} is not an IP address and port ({reason}); IPv6 goes in brackets: udp:[::]:5060"
    )]
    BadAddress { value: String, reason: String },
}

/// Parses `udp:0.0.0.0:5060`, `tcp:[::1]:5070`.
pub fn parse_listen(s: &str) -> Result<Listener, ListenError> {
    let Some((transport, addr)) = s.split_once(':') else {
        return Err(ListenError::NoTransport(s.to_owned()));
    };
    let transport = match transport.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        _ if transport.contains(['.', '[']) || transport.parse::<u16>().is_ok() => {
            return Err(ListenError::NoTransport(s.to_owned()));
        }
        _ => return Err(ListenError::UnknownTransport(transport.to_owned())),
    };
    let addr = addr
        .parse::<SocketAddr>()
        .map_err(|e| ListenError::BadAddress {
            value: addr.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(Listener { transport, addr })
}

/// A configuration that works but that the operator should hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// Agents still use the passwords published in the embedded defaults.
    DemoPasswords {
        agents: Vec<String>,
    },
    ShortPassword {
        agent: String,
        len: usize,
    },
    NoAgents,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::DemoPasswords { agents } => write!(
                f,
                "DEMO PASSWORDS IN USE for {}: anyone who has read waihu's \
                 defaults can register or sign in as them. Run with --config and your own passwords.",
                agents.join(", ")
            ),
            Warning::ShortPassword { agent, len } => write!(
                f,
                "agent {agent:?} has a {len}-character password; use at least {MIN_PASSWORD_LEN}"
            ),
            Warning::NoAgents => f.write_str("no agents configured: nobody can register"),
        }
    }
}

/// Collects problems while walking the file.
#[derive(Default)]
pub(super) struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    pub(super) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    pub(super) fn report(&mut self, key: impl Into<String>, kind: ProblemKind) {
        self.problems.push(Problem {
            key: key.into(),
            kind,
            line: None,
        });
    }

    pub(super) fn range(&mut self, key: &str, value: u64, min: u64, max: u64) -> u64 {
        if !(min..=max).contains(&value) {
            self.report(key, ProblemKind::OutOfRange { value, min, max });
        }
        value
    }

    fn required<'a>(&mut self, key: &str, value: &'a Option<String>) -> Option<&'a str> {
        match value.as_deref().map(str::trim) {
            None => {
                self.report(key, ProblemKind::Missing);
                None
            }
            Some("") => {
                self.report(key, ProblemKind::Empty);
                None
            }
            Some(v) => Some(v),
        }
    }
}

impl ConfigFile {
    /// Checks every value; returns the settings, or every problem found.
    pub fn validate(&self, source: &str) -> Result<Settings, Vec<Problem>> {
        let mut c = Checker::default();
        let listeners = check_listeners(&mut c, self.sip.listen.as_deref());
        let domain = c
            .required("sip.domain", &self.sip.domain)
            .map(str::to_owned);
        if let Some(d) = &domain
            && !is_host(d)
        {
            c.report("sip.domain", ProblemKind::BadHost { value: d.clone() });
        }
        let realm = c.required("sip.realm", &self.sip.realm).map(str::to_owned);
        if let Some(r) = &realm {
            check_realm(&mut c, r);
        }
        let timers = &self.sip.timers;
        let t1 = c.range("sip.timers.t1_ms", timers.t1_ms, 50, 10_000);
        let t2 = c.range("sip.timers.t2_ms", timers.t2_ms, 50, 60_000);
        let t4 = c.range("sip.timers.t4_ms", timers.t4_ms, 50, 60_000);
        if t2 < t1 {
            c.report(
                "sip.timers.t2_ms",
                ProblemKind::LessThan {
                    value: t2,
                    key: "sip.timers.t1_ms",
                    other: t1,
                },
            );
        }
        check_limits(&mut c, &self.sip.limits);
        // 0 is one per two cores; more than 256 threads is a typo, not a plan.
        c.range("process.workers", u64::from(self.process.workers), 0, 256);
        check_scripts(&mut c, &self.scripts);
        let media = check_media(&mut c, &self.media);
        if self.prompts.dir.as_os_str().is_empty() {
            c.report("prompts.dir", ProblemKind::Empty);
        }
        if waihu_store::Store::check_url(&self.store.url).is_err() {
            c.report(
                "store.url",
                ProblemKind::BadStoreUrl {
                    value: self.store.url.clone(),
                },
            );
        }
        let agents = check_agents(&mut c, &self.agents);
        let trunks = super::trunks::check_trunks(&mut c, &self.trunks);
        for (i, a) in self.agents.iter().enumerate() {
            super::queues::check_skills(&mut c, i, &a.skills);
        }
        let queues = super::queues::check_queues(&mut c, &self.queues, &agents);
        super::queues::check_acd(&mut c, &self.acd);
        let campaigns =
            super::campaigns::check_campaigns(&mut c, &self.campaigns, &queues, &trunks);
        let st = &self.sip.session_timer;
        c.range(
            "sip.session_timer.expires_s",
            u64::from(st.expires_s),
            90,
            86_400,
        );
        c.range(
            "sip.session_timer.min_se_s",
            u64::from(st.min_se_s),
            90,
            u64::from(st.expires_s.max(90)),
        );
        let plugins = super::plugins::check_plugins(&mut c, source, &self.plugins);
        super::campaigns::check_amd_plugins(&mut c, &self.campaigns, &plugins);
        let http_listen = check_http(&mut c, self.http.listen.as_deref(), &listeners);
        check_security(&mut c, &self.security);
        let api = super::api::check_api(&mut c, source, &self.api, &agents);

        if !c.problems.is_empty() {
            return Err(c.problems);
        }
        let (Some(domain), Some(realm), Some(http_listen), Some(media)) =
            (domain, realm, http_listen, media)
        else {
            unreachable!("a missing value is always reported as a problem");
        };
        let sec = &self.security;
        Ok(Settings {
            source: source.to_owned(),
            listeners,
            domain,
            realm,
            t1: Duration::from_millis(t1),
            t2: Duration::from_millis(t2),
            t4: Duration::from_millis(t4),
            limits: self.sip.limits.clone(),
            tcp_idle: Duration::from_secs(self.sip.limits.tcp_idle_secs),
            overload_delay: Some(self.sip.limits.overload_delay_ms)
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis),
            warnings: warnings(&agents, &api),
            agents,
            http_listen,
            max_auth_failures: sec.auth_failures.max,
            failure_window: Duration::from_secs(sec.auth_failures.window_secs),
            ban_duration: Duration::from_secs(sec.auth_failures.ban_secs),
            rate_per_ip: sec.rate_limit.per_ip_per_sec,
            burst_per_ip: sec.rate_limit.burst,
            nonce_lifetime: Duration::from_secs(sec.nonce_lifetime_secs),
            digest_algorithms: sec.digest_algorithms.clone(),
            scripts: resolve_scripts(source, &self.scripts),
            media,
            prompts_dir: relative_to_config(source, &self.prompts.dir),
            store_url: self.store.url.clone(),
            recordings_dir: self.recordings.dir.clone(),
            trunks,
            queues,
            campaigns,
            acd: self.acd.clone(),
            session_timer: waihu_sip::session_timer::SessionTimerConfig {
                enabled: self.sip.session_timer.enabled,
                expires_s: self.sip.session_timer.expires_s,
                min_se_s: self.sip.session_timer.min_se_s,
            },
            plugins,
            api,
            workers: Some(self.process.workers as usize).filter(|&n| n > 0),
        })
    }
}

fn check_listeners(c: &mut Checker, listen: Option<&[String]>) -> Vec<Listener> {
    let Some(listen) = listen else {
        c.report("sip.listen", ProblemKind::NoListeners);
        return Vec::new();
    };
    if listen.is_empty() {
        c.report("sip.listen", ProblemKind::NoListeners);
    }
    let mut seen: HashMap<Listener, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, s) in listen.iter().enumerate() {
        let key = format!("sip.listen[{i}]");
        match parse_listen(s.trim()) {
            Err(e) => c.report(key, e.into()),
            Ok(l) => {
                if let Some(first) = seen.get(&l) {
                    let first = format!("sip.listen[{first}]");
                    c.report(
                        key,
                        ProblemKind::DuplicateListen {
                            value: s.clone(),
                            first,
                        },
                    );
                } else {
                    seen.insert(l, i);
                    out.push(l);
                }
            }
        }
    }
    out
}

/// A DNS name or an IP literal (IPv6 with or without brackets).
fn is_host(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_realm(c: &mut Checker, realm: &str) {
    const MAX: usize = 128;
    if realm.len() > MAX {
        c.report(
            "sip.realm",
            ProblemKind::TooLong {
                value: realm.to_owned(),
                max: MAX,
            },
        );
    }
    // The realm goes inside a quoted-string in WWW-Authenticate.
    if realm
        .chars()
        .any(|ch| ch == '"' || ch == '\\' || ch.is_control())
    {
        c.report(
            "sip.realm",
            ProblemKind::BadRealm {
                value: realm.to_owned(),
            },
        );
    } else if GENERIC_REALMS.iter().any(|g| realm.eq_ignore_ascii_case(g)) {
        c.report(
            "sip.realm",
            ProblemKind::GenericRealm {
                value: realm.to_owned(),
            },
        );
    }
}

fn check_limits(c: &mut Checker, l: &Limits) {
    const MIB: u64 = 1 << 20;
    c.range(
        "sip.limits.max_transactions",
        l.max_transactions as u64,
        1,
        10_000_000,
    );
    c.range(
        "sip.limits.max_registrations",
        l.max_registrations as u64,
        1,
        10_000_000,
    );
    c.range(
        "sip.limits.max_tcp_connections",
        l.max_tcp_connections as u64,
        1,
        1_000_000,
    );
    let message = c.range(
        "sip.limits.max_message_bytes",
        l.max_message_bytes as u64,
        512,
        4 * MIB,
    );
    let header = c.range(
        "sip.limits.max_header_bytes",
        l.max_header_bytes as u64,
        512,
        4 * MIB,
    );
    if message < header {
        c.report(
            "sip.limits.max_message_bytes",
            ProblemKind::LessThan {
                value: message,
                key: "sip.limits.max_header_bytes",
                other: header,
            },
        );
    }
    c.range("sip.limits.tcp_idle_secs", l.tcp_idle_secs, 5, 86_400);
    // 0 turns it off; below 20 ms an ordinary busy moment would refuse calls.
    if l.overload_delay_ms != 0 {
        c.range(
            "sip.limits.overload_delay_ms",
            l.overload_delay_ms,
            20,
            60_000,
        );
    }
}

/// SIP user-part characters (RFC 3261 `unreserved` and `user-unreserved`).
fn is_user_part(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b))
}

fn check_agents(c: &mut Checker, entries: &[AgentEntry]) -> Vec<Agent> {
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let mut agents = Vec::with_capacity(entries.len());
    for (i, a) in entries.iter().enumerate() {
        let id = a.id.trim();
        if id.is_empty() {
            c.report(format!("agents[{i}].id"), ProblemKind::Empty);
        } else if !is_user_part(id) {
            c.report(
                format!("agents[{i}].id"),
                ProblemKind::BadAgentId { id: id.to_owned() },
            );
        } else if let Some(&first) = first_seen.get(id) {
            c.report(
                format!("agents[{i}].id"),
                ProblemKind::DuplicateAgent {
                    id: id.to_owned(),
                    first,
                },
            );
        } else {
            first_seen.insert(id, i);
        }
        if a.password.is_empty() {
            c.report(format!("agents[{i}].password"), ProblemKind::Empty);
        } else if !id.is_empty() && a.password == id {
            c.report(format!("agents[{i}].password"), ProblemKind::PasswordIsId);
        }
        agents.push(Agent {
            id: id.to_owned(),
            password: a.password.clone(),
            name: a.name.clone().filter(|n| !n.trim().is_empty()),
            allow_pstn: a.allow_pstn,
            skills: a.skills.clone(),
            outbound: a.outbound,
        });
    }
    agents
}

fn check_http(c: &mut Checker, listen: Option<&str>, sip: &[Listener]) -> Option<SocketAddr> {
    let value = listen.unwrap_or(DEFAULT_HTTP_LISTEN).trim();
    match value.parse::<SocketAddr>() {
        Err(e) => {
            c.report(
                "http.listen",
                ProblemKind::BadSocketAddr {
                    value: value.to_owned(),
                    reason: e.to_string(),
                },
            );
            None
        }
        Ok(addr) => {
            let clash = sip
                .iter()
                .any(|l| l.transport == Transport::Tcp && l.addr == addr && addr.port() != 0);
            if clash {
                c.report(
                    "http.listen",
                    ProblemKind::PortClash {
                        value: value.to_owned(),
                    },
                );
            }
            Some(addr)
        }
    }
}

fn check_security(c: &mut Checker, s: &SecuritySection) {
    let f = &s.auth_failures;
    c.range("security.auth_failures.max", u64::from(f.max), 1, 1_000_000);
    c.range(
        "security.auth_failures.window_secs",
        f.window_secs,
        1,
        86_400,
    );
    c.range(
        "security.auth_failures.ban_secs",
        f.ban_secs,
        1,
        30 * 86_400,
    );
    let r = &s.rate_limit;
    c.range(
        "security.rate_limit.per_ip_per_sec",
        u64::from(r.per_ip_per_sec),
        1,
        1_000_000,
    );
    c.range(
        "security.rate_limit.burst",
        u64::from(r.burst),
        1,
        10_000_000,
    );
    c.range(
        "security.nonce_lifetime_secs",
        s.nonce_lifetime_secs,
        10,
        86_400,
    );
    let algs = &s.digest_algorithms;
    if algs.is_empty() {
        c.report("security.digest_algorithms", ProblemKind::Empty);
    }
    for (i, a) in algs.iter().enumerate() {
        if algs[..i].contains(a) {
            c.report(
                format!("security.digest_algorithms[{i}]"),
                ProblemKind::DuplicateAlgorithm,
            );
        }
    }
}

fn warnings(agents: &[Agent], api: &super::ApiSettings) -> Vec<Warning> {
    let mut out = Vec::new();
    if agents.is_empty() {
        out.push(Warning::NoAgents);
    }
    let demo = super::demo_credentials();
    let using_demo: Vec<String> = agents
        .iter()
        .map(|a| (&a.id, &a.password))
        .chain(api.users.iter().map(|(name, password, _)| (name, password)))
        .filter(|(_, password)| demo.iter().any(|(_, p)| p == *password))
        .map(|(id, _)| id.clone())
        .collect();
    if !using_demo.is_empty() {
        out.push(Warning::DemoPasswords { agents: using_demo });
    }
    for a in agents {
        let len = a.password.chars().count();
        if len > 0 && len < MIN_PASSWORD_LEN {
            out.push(Warning::ShortPassword {
                agent: a.id.clone(),
                len,
            });
        }
    }
    out
}

fn check_scripts(c: &mut Checker, s: &super::ScriptsSection) {
    c.range("scripts.memory_limit_mb", s.memory_limit_mb, 1, 4096);
    c.range(
        "scripts.instruction_budget",
        s.instruction_budget,
        1_000,
        1_000_000_000,
    );
    c.range("scripts.pool_size", s.pool_size as u64, 1, 256);
    c.range("scripts.rollout", u64::from(s.rollout), 1, 100);
    if s.dir.as_os_str().is_empty() {
        c.report("scripts.dir", ProblemKind::Empty);
    }
}

/// A relative `scripts.dir` is relative to the config file's directory.
fn resolve_scripts(source: &str, s: &super::ScriptsSection) -> super::ScriptsSection {
    let mut out = s.clone();
    out.dir = relative_to_config(source, &s.dir);
    out
}

/// A relative path in a config file is relative to that file's directory
/// (to the working directory for the embedded defaults).
pub(super) fn relative_to_config(source: &str, path: &std::path::Path) -> std::path::PathBuf {
    if path.is_relative()
        && source != super::DEFAULTS_NAME
        && let Some(parent) = std::path::Path::new(source).parent()
    {
        return parent.join(path);
    }
    path.to_owned()
}

fn check_media(c: &mut Checker, m: &super::MediaSection) -> Option<super::MediaSettings> {
    let ports = m.rtp_ports.split_once('-').and_then(|(a, b)| {
        let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
        (1024 <= a && a < b).then_some((a, b))
    });
    if ports.is_none() {
        c.report(
            "media.rtp_ports",
            ProblemKind::BadPortRange {
                value: m.rtp_ports.clone(),
            },
        );
    }
    c.range("media.rtp_timeout_s", m.rtp_timeout_s, 0, 3600);
    c.range("media.probation_ms", m.probation_ms, 0, 60_000);
    let advertise = match m.advertise.as_deref().map(str::parse::<std::net::IpAddr>) {
        None => None,
        Some(Ok(ip)) if !ip.is_unspecified() && !ip.is_multicast() => Some(ip),
        Some(_) => {
            c.report(
                "media.advertise",
                ProblemKind::BadHost {
                    value: m.advertise.clone().unwrap_or_default(),
                },
            );
            None
        }
    };
    let strict = match m.source_learning.as_str() {
        "learn" => false,
        "strict" => true,
        other => {
            c.report(
                "media.source_learning",
                ProblemKind::OneOf {
                    value: other.to_owned(),
                    allowed: "learn, strict",
                },
            );
            false
        }
    };
    let na = match m.tones.as_str() {
        "cn" => false,
        "na" => true,
        other => {
            c.report(
                "media.tones",
                ProblemKind::OneOf {
                    value: other.to_owned(),
                    allowed: "cn, na",
                },
            );
            false
        }
    };
    let relay_io = match m.relay_io.as_str() {
        "auto" => crate::call::relay::RelayIo::Auto,
        "epoll" => crate::call::relay::RelayIo::Epoll,
        other => {
            c.report(
                "media.relay_io",
                ProblemKind::OneOf {
                    value: other.to_owned(),
                    allowed: "auto, epoll",
                },
            );
            crate::call::relay::RelayIo::Auto
        }
    };
    let (port_min, port_max) = ports?;
    Some(super::MediaSettings {
        port_min,
        port_max,
        rtp_timeout: (m.rtp_timeout_s > 0).then(|| Duration::from_secs(m.rtp_timeout_s)),
        advertise,
        probation: Duration::from_millis(m.probation_ms),
        strict_source: strict,
        north_american_tones: na,
        relay_io,
    })
}
