//! The YAML configuration.
//!
//! Two steps, so that a user sees every mistake at once:
//! 1. [`parse`] turns text into [`ConfigFile`], the shape of the file. Unknown
//!    keys and wrong types stop here, with file, line, column and key path
//!    (`waihu.yaml:12:3: sip.listen[1]: ...`).
//! 2. [`ConfigFile::validate`] checks every value and returns [`Settings`],
//!    the typed configuration the runtime uses, or the list of *all* problems.
//!
//! With no file, waihu runs on [`DEFAULTS_YAML`], embedded in the binary.

mod api;
mod campaigns;
mod locate;
mod plugins;
mod queues;
mod trunks;
mod validate;

pub use api::{ApiSection, ApiSettings, Role};
pub use campaigns::{AmdEntry, Campaign, CampaignEntry, DetectorChoice, check_campaign};
pub use plugins::{PluginEntry, PluginSettings};
pub use queues::{AcdSection, Queue, QueueEntry};
pub use trunks::{Trunk, TrunkEntry};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use waihu_sip::Transport;
use waihu_sip::endpoint::{EndpointConfig, User};

pub use validate::{Problem, Warning};

/// The configuration used when no file is given.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// How the embedded defaults are named in messages.
pub const DEFAULTS_NAME: &str = "<embedded defaults>";

/// The whole file. Required keys are `Option` so that validation can report
/// all missing ones together instead of serde stopping at the first.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub sip: SipSection,
    #[serde(default)]
    pub agents: Vec<AgentEntry>,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub security: SecuritySection,
    #[serde(default)]
    pub scripts: ScriptsSection,
    #[serde(default)]
    pub media: MediaSection,
    #[serde(default)]
    pub prompts: PromptsSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub recordings: RecordingsSection,
    #[serde(default)]
    pub trunks: Vec<TrunkEntry>,
    #[serde(default)]
    pub queues: Vec<QueueEntry>,
    #[serde(default)]
    pub campaigns: Vec<CampaignEntry>,
    #[serde(default)]
    pub acd: AcdSection,
    #[serde(default)]
    pub plugins: Vec<PluginEntry>,
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub process: ProcessSection,
}

/// The process itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessSection {
    /// Threads that run SIP, calls, the dialer and the API; 0 is one per
    /// two CPU cores ([`default_workers`]). Media relay threads are apart
    /// (one per two cores, at most four) and not counted here.
    pub workers: u32,
}

/// The runtime's threads when `process.workers` is 0: one per two CPU
/// cores, rounded up.
///
/// Signalling is many short steps, each handing the next to another task
/// (a received message to the driver, the driver to a call, the call
/// back). A second worker mostly sleeps between those steps and is woken
/// to steal one, and on a virtual machine that wake-up costs more than
/// the step: measured on 2 cores at 600 set-ups a second
/// (tools/bench/trunk-cps.sh), one worker took 3.8 context switches per
/// call against 11 for two, and 10% less CPU per call (1,315 set-ups per
/// core-second against 1,183), while still carrying 1,400 set-ups a
/// second with none failed. The other cores are not idle: the media relay runs
/// threads of its own, and bridged media is most of a busy switch's work.
pub fn default_workers(cores: usize) -> usize {
    cores.div_ceil(2).max(1)
}

/// RTP.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// `FIRST-LAST`: each call leg takes an even port (RTP) and the odd one
    /// above it (RTCP) from this range.
    pub rtp_ports: String,
    /// A leg with no RTP for this long ends the call (0: never).
    pub rtp_timeout_s: u64,
    /// The address put in SDP and Contact. Absent: the address of the
    /// interface that routes to the internet, else 127.0.0.1.
    pub advertise: Option<String>,
    /// How long a leg may learn its peer's RTP source (NAT) before it locks.
    pub probation_ms: u64,
    /// `learn` (lock on the first source within probation) or `strict`
    /// (only the address in the peer's SDP).
    pub source_learning: String,
    /// Call-progress tones: `cn` (450 Hz) or `na` (440+480 Hz).
    pub tones: String,
    /// How the relay engine moves bridged calls' packets: `auto` (io_uring
    /// where the kernel allows it, else epoll) or `epoll`.
    pub relay_io: String,
}

impl Default for MediaSection {
    fn default() -> MediaSection {
        MediaSection {
            rtp_ports: "20000-30000".into(),
            rtp_timeout_s: 30,
            advertise: None,
            probation_ms: 2000,
            source_learning: "learn".into(),
            relay_io: "auto".into(),
            tones: "cn".into(),
        }
    }
}

/// The WAV prompts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsSection {
    /// Relative to the config file's directory, like `scripts.dir`.
    pub dir: PathBuf,
}

impl Default for PromptsSection {
    fn default() -> PromptsSection {
        PromptsSection {
            dir: PathBuf::from("prompts"),
        }
    }
}

/// Persistence.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `sqlite://PATH` (created on first run; a relative PATH is relative
    /// to the working directory).
    pub url: String,
}

impl Default for StoreSection {
    fn default() -> StoreSection {
        StoreSection {
            url: "sqlite://waihu.db".into(),
        }
    }
}

/// Call recordings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsSection {
    /// Relative to the working directory; created when needed.
    pub dir: PathBuf,
}

impl Default for RecordingsSection {
    fn default() -> RecordingsSection {
        RecordingsSection {
            dir: PathBuf::from("recordings"),
        }
    }
}

/// The checked media settings.
#[derive(Clone, Debug)]
pub struct MediaSettings {
    pub port_min: u16,
    pub port_max: u16,
    pub rtp_timeout: Option<Duration>,
    pub advertise: Option<std::net::IpAddr>,
    pub probation: Duration,
    pub strict_source: bool,
    pub north_american_tones: bool,
    pub relay_io: crate::call::relay::RelayIo,
}

/// The Lua rule scripts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptsSection {
    /// The scripts directory; a relative path is relative to the config
    /// file's directory (to the working directory for the embedded defaults).
    pub dir: PathBuf,
    pub memory_limit_mb: u64,
    /// Lua VM instructions one hook call may run.
    pub instruction_budget: u64,
    /// Reload when a file in `dir` changes.
    pub watch: bool,
    /// Lua states per script version (hook calls run in parallel on them).
    pub pool_size: usize,
    /// Percent of new work that gets a newly loaded version (staged rollout).
    pub rollout: u8,
}

impl Default for ScriptsSection {
    fn default() -> ScriptsSection {
        ScriptsSection {
            dir: PathBuf::from("scripts"),
            memory_limit_mb: 64,
            instruction_budget: 1_000_000,
            watch: true,
            pool_size: 4,
            rollout: 100,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// `udp:0.0.0.0:5060`, `tcp:[::]:5060`...
    pub listen: Option<Vec<String>>,
    pub domain: Option<String>,
    pub realm: Option<String>,
    #[serde(default)]
    pub timers: Timers,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub session_timer: SessionTimerSection,
}

/// RFC 4028 session timers: a dialog nobody refreshes is ended, so a call
/// whose far end vanished does not hold an agent or a trunk channel.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionTimerSection {
    pub enabled: bool,
    /// The interval asked for and granted (90..=86400).
    pub expires_s: u32,
    /// The shortest interval accepted (90..=expires_s).
    pub min_se_s: u32,
}

impl Default for SessionTimerSection {
    fn default() -> SessionTimerSection {
        SessionTimerSection {
            enabled: true,
            expires_s: 1800,
            min_se_s: 90,
        }
    }
}

/// RFC 3261 timer base values.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timers {
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_transactions: usize,
    pub max_registrations: usize,
    pub max_tcp_connections: usize,
    /// The largest message accepted (a datagram, or header block plus body on TCP).
    pub max_message_bytes: usize,
    /// The largest header block accepted on TCP before the blank line.
    pub max_header_bytes: usize,
    /// A TCP connection that sends nothing (not even a keep-alive) for this long is closed.
    pub tcp_idle_secs: u64,
    /// New calls are answered 503 while received messages wait longer
    /// than this for their turn (the switch is overloaded); 0 never.
    pub overload_delay_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_transactions: 10_000,
            max_registrations: 10_000,
            max_tcp_connections: 1024,
            max_message_bytes: 65_535,
            max_header_bytes: 16_384,
            tcp_idle_secs: 600,
            overload_delay_ms: 250,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    #[serde(deserialize_with = "agent_id")]
    pub id: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    /// May this agent's calls go out through a trunk (the PSTN)? Off by
    /// default: a stolen agent password must not buy international calls.
    #[serde(default)]
    pub allow_pstn: bool,
    /// Skill name to level (1..=100), for queues that route by skill.
    #[serde(default)]
    pub skills: std::collections::BTreeMap<String, u8>,
    /// Blended: besides inbound queues, takes outbound campaign calls.
    #[serde(default)]
    pub outbound: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Defaults to `127.0.0.1:8080` when absent.
    pub listen: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySection {
    pub auth_failures: AuthFailures,
    pub rate_limit: RateLimit,
    pub nonce_lifetime_secs: u64,
    /// Digest algorithms challenged with, most preferred first.
    pub digest_algorithms: Vec<DigestAlgorithm>,
}

/// A digest algorithm as spelled in the config (and in SIP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl From<DigestAlgorithm> for waihu_sip::auth::Algorithm {
    fn from(a: DigestAlgorithm) -> Self {
        match a {
            DigestAlgorithm::Md5 => waihu_sip::auth::Algorithm::Md5,
            DigestAlgorithm::Sha256 => waihu_sip::auth::Algorithm::Sha256,
        }
    }
}

impl Default for SecuritySection {
    fn default() -> SecuritySection {
        SecuritySection {
            auth_failures: AuthFailures::default(),
            rate_limit: RateLimit::default(),
            nonce_lifetime_secs: 300,
            digest_algorithms: vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthFailures {
    pub max: u32,
    pub window_secs: u64,
    pub ban_secs: u64,
}

impl Default for AuthFailures {
    fn default() -> AuthFailures {
        AuthFailures {
            max: 10,
            window_secs: 60,
            ban_secs: 600,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    pub per_ip_per_sec: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit {
            per_ip_per_sec: 50,
            burst: 100,
        }
    }
}

/// Agent ids must be YAML strings: an unquoted `0101` would silently become 101.
fn agent_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct IdVisitor;
    impl Visitor<'_> for IdVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Err(E::custom(format_args!(
                "agent ids are strings: write \"{v}\" in quotes, so that leading zeros are kept"
            )))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            self.visit_u64(v.unsigned_abs())
        }
    }
    deserializer.deserialize_any(IdVisitor)
}

/// A configured SIP listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Listener {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        write!(f, "{t}:{}", self.addr)
    }
}

/// An agent who may register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub password: String,
    pub name: Option<String>,
    pub allow_pstn: bool,
    pub skills: std::collections::BTreeMap<String, u8>,
    pub outbound: bool,
}

/// The checked configuration the runtime uses.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where it came from: a file name, or [`DEFAULTS_NAME`].
    pub source: String,
    pub listeners: Vec<Listener>,
    pub domain: String,
    pub realm: String,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    pub limits: Limits,
    pub tcp_idle: Duration,
    /// `sip.limits.overload_delay_ms`, `None` for 0.
    pub overload_delay: Option<Duration>,
    pub agents: Vec<Agent>,
    pub http_listen: SocketAddr,
    pub max_auth_failures: u32,
    pub failure_window: Duration,
    pub ban_duration: Duration,
    pub rate_per_ip: u32,
    pub burst_per_ip: u32,
    pub nonce_lifetime: Duration,
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// The script directory, resolved, and the host's limits.
    pub scripts: ScriptsSection,
    pub media: MediaSettings,
    pub prompts_dir: PathBuf,
    pub store_url: String,
    pub recordings_dir: PathBuf,
    pub trunks: Vec<Trunk>,
    pub queues: Vec<Queue>,
    pub campaigns: Vec<Campaign>,
    pub acd: AcdSection,
    pub session_timer: waihu_sip::session_timer::SessionTimerConfig,
    /// Native plugins, in the order given.
    pub plugins: Vec<PluginSettings>,
    /// Who may use the HTTP API and the pages.
    pub api: ApiSettings,
    /// `process.workers`, `None` for 0 ([`default_workers`]).
    pub workers: Option<usize>,
    /// Things that work but deserve a log line (demo passwords, short passwords...).
    pub warnings: Vec<Warning>,
}

impl Settings {
    /// What the SIP endpoint is built from.
    pub fn endpoint_config(&self) -> EndpointConfig {
        EndpointConfig {
            domain: self.domain.clone(),
            realm: self.realm.clone(),
            users: self
                .agents
                .iter()
                .map(|a| User {
                    id: a.id.clone(),
                    password: a.password.clone(),
                })
                .collect(),
            server_name: format!("waihu/{}", env!("CARGO_PKG_VERSION")),
            t1: self.t1,
            t2: self.t2,
            t4: self.t4,
            max_transactions: self.limits.max_transactions,
            max_registrations: self.limits.max_registrations,
            nonce_lifetime: self.nonce_lifetime,
            digest_algorithms: self.digest_algorithms.iter().map(|&a| a.into()).collect(),
            message_limits: waihu_sip::message::Limits {
                max_message: self.limits.max_message_bytes,
                ..waihu_sip::message::Limits::default()
            },
            max_auth_failures: self.max_auth_failures,
            failure_window: self.failure_window,
            ban_duration: self.ban_duration,
            rate_per_ip: self.rate_per_ip,
            burst_per_ip: self.burst_per_ip,
            trusted_sources: self
                .trunks
                .iter()
                .flat_map(|t| {
                    t.acl.iter().map(|net| waihu_sip::endpoint::TrustedSource {
                        net: *net,
                        name: t.name.clone(),
                    })
                })
                .collect(),
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// Every problem found, in file order.
    #[error("{file}: {} problem(s) found:\n{}", problems.len(), ProblemList { file, problems })]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// One line per problem, each naming the file: what `waihu check` prints.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid { file, problems } => problems
                .iter()
                .map(|p| match p.line {
                    Some(line) => format!("{file}:{line}: {p}"),
                    None => format!("{file}: {p}"),
                })
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

struct ProblemList<'a> {
    file: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  {}: {p}", self.file)?;
        }
        Ok(())
    }
}

/// A file that is not YAML of the expected shape: an unknown key, a wrong
/// type, broken indentation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    pub file: String,
    /// 1-based, when the YAML parser knows it.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The key path, `sip.listen[1]`; for an unknown key, the mapping it is
    /// in. Empty at the top level.
    pub path: String,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Parses YAML text into the file's shape. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<ConfigFile, SyntaxError> {
    // An empty file (or one with only comments) is an empty mapping: the
    // validator then lists everything that is missing.
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(ConfigFile::default());
    }
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        let location = inner.location();
        let message = bare_message(&inner, &path);
        // serde_path_to_error ends the path with the unknown key itself;
        // name the mapping it was found in, as the message names the key.
        let path = if message.starts_with("unknown field `") {
            parent(&path).to_owned()
        } else {
            path
        };
        SyntaxError {
            file: file.to_owned(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
            path,
        }
    })
}

/// serde_yaml's message without the key path and position it adds itself,
/// since [`SyntaxError`] prints both in front. serde_yaml's own path is
/// `path`, or (for an unknown field) `path` without its last key.
fn bare_message(error: &serde_yaml::Error, path: &str) -> String {
    let mut message = error.to_string();
    if let Some(l) = error.location() {
        // Also inside a message: "did not find expected ',' at line 3 column 4, while ...".
        message = message.replacen(
            &format!(" at line {} column {}", l.line(), l.column()),
            "",
            1,
        );
    }
    for prefix in [path, parent(path)] {
        if prefix.is_empty() {
            continue;
        }
        if let Some(stripped) = message.strip_prefix(&format!("{prefix}: ")) {
            return stripped.to_owned();
        }
    }
    message
}

/// `sip.limits` for `sip.limits.max_tcp_connections`, `agents` for `agents[0]`, empty at the top.
fn parent(path: &str) -> &str {
    path.rfind(['.', '[']).map_or("", |i| &path[..i])
}

/// Reads, parses and validates `path`, or the embedded defaults when `None`.
pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
    let (name, text) = match path {
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                file: name.clone(),
                source,
            })?;
            (name, text)
        }
        None => (DEFAULTS_NAME.to_owned(), DEFAULTS_YAML.to_owned()),
    };
    from_str(&name, &text)
}

/// Parses and validates YAML text; `name` is used in messages.
pub fn from_str(name: &str, text: &str) -> Result<Settings, ConfigError> {
    let file = parse(name, text)?;
    file.validate(name).map_err(|mut problems| {
        let lines = locate::key_lines(text);
        for p in &mut problems {
            p.line = line_of(&lines, &p.key);
        }
        ConfigError::Invalid {
            file: name.to_owned(),
            problems,
        }
    })
}

/// The line of `key`, or of its nearest parent that is in the file (a
/// missing key is reported where its section is).
fn line_of(lines: &std::collections::HashMap<String, usize>, key: &str) -> Option<usize> {
    let mut key = key;
    loop {
        if let Some(&line) = lines.get(key) {
            return Some(line);
        }
        let cut = key.rfind(['.', '['])?;
        key = &key[..cut];
    }
}

/// The (id, password) pairs shipped in [`DEFAULTS_YAML`].
pub(crate) fn demo_credentials() -> Vec<(String, String)> {
    parse(DEFAULTS_NAME, DEFAULTS_YAML)
        .map(|f| {
            let users = f.api.users.into_iter().map(|u| (u.name, u.password));
            f.agents
                .into_iter()
                .map(|a| (a.id, a.password))
                .chain(users)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
