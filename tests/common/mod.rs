//! The harness for tests that run the real `waihu` binary.
//!
//! [`Server::start`] picks free loopback ports, writes a configuration file,
//! spawns the binary with its output in a log file and waits until the
//! health endpoint answers. Tests end with [`Server::stop`], which sends
//! SIGTERM and asserts a clean exit: graceful shutdown is under test too.
//! If a test fails first, `Drop` kills the process and prints its log.
//!
//! - [`sip`]: a raw SIP client over UDP and TCP, and the digest computation;
//! - [`sipp`]: runs the `sipp` scenarios of `tests/sipp/`;
//! - [`baresip`]: runs the baresip softphone headless with file audio;
//! - [`campaign`]: a campaign's switch, carrier, agents and API calls;
//! - [`audio`]: WAV files, G.711, pcaps, an RTP tap and cross-correlation;
//! - [`plugins`]: the workspace's plugin libraries, built on demand.
#![allow(dead_code)] // Each test binary uses its own part of the harness.

pub mod audio;
pub mod baresip;
pub mod campaign;
pub mod plugins;
pub mod sip;
pub mod sipp;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The SIP domain and digest realm every test server uses.
pub const DOMAIN: &str = "waihu.test";

/// How long the binary may take to answer its health endpoint.
const STARTUP: Duration = Duration::from_secs(20);
/// How long a SIGTERM may take to end the process (the server's own limit is 10 s).
const SHUTDOWN: Duration = Duration::from_secs(15);

/// A configured agent.
#[derive(Clone, Debug)]
pub struct Agent {
    pub id: &'static str,
    pub password: &'static str,
}

/// Agent 1001, present in every default configuration.
pub const ALICE: Agent = Agent {
    id: "1001",
    password: "alice-long-secret-1001",
};
/// Agent 1002, present in every default configuration.
pub const BOB: Agent = Agent {
    id: "1002",
    password: "bob-long-secret-1002",
};

/// What a test wants different from the defaults. Everything else (ports,
/// domain, realm) is the harness's business.
#[derive(Clone, Debug)]
pub struct Config {
    pub agents: Vec<Agent>,
    /// `sip.timers`: T1, T2, T4 in milliseconds.
    pub timers_ms: (u64, u64, u64),
    /// `security.auth_failures`: max, window_secs, ban_secs.
    pub auth_failures: (u32, u64, u64),
    /// `security.rate_limit`: per_ip_per_sec, burst.
    pub rate_limit: (u32, u32),
    /// `security.digest_algorithms`, most preferred first. MD5 leads by
    /// default: sipp 3.6.1 answers only the first challenge, and only MD5.
    pub digest_algorithms: &'static [&'static str],
    /// `scripts.dir`: the repository's shipped scripts unless a test brings its own.
    pub scripts_dir: PathBuf,
    /// `scripts.watch`.
    pub scripts_watch: bool,
    /// `media.rtp_timeout_s` (0: never).
    pub rtp_timeout_s: u64,
    /// `media.rtp_ports`.
    pub rtp_ports: (u16, u16),
    /// Agents given `allow_pstn: true`.
    pub pstn_agents: Vec<&'static str>,
    /// Agents given `outbound: true` (they take campaign calls).
    pub outbound_agents: Vec<&'static str>,
    /// YAML appended as is (e.g. a `trunks:` section).
    pub extra_yaml: String,
    /// `media.source_learning`: `learn` or `strict`.
    pub source_learning: &'static str,
    /// `media.relay_io`: `auto` or `epoll`.
    pub relay_io: &'static str,
    /// The store file; a fresh one in the test's directory when `None`
    /// (give one to restart a server on the same state).
    pub db: Option<PathBuf>,
    /// More of the `api:` section, indented two spaces (`  users: ...`).
    pub api_yaml: String,
    /// More of the `sip:` section, indented two spaces (`  limits: ...`).
    pub sip_yaml: String,
    /// Start the binary under this soft open-files limit (through `sh`'s
    /// `ulimit -Sn`), as a shell or service with a low default would.
    pub soft_open_files: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            agents: vec![ALICE, BOB],
            timers_ms: (500, 4000, 5000),
            auth_failures: (10, 60, 600),
            rate_limit: (1000, 2000),
            digest_algorithms: &["MD5", "SHA-256"],
            scripts_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts"),
            scripts_watch: false,
            rtp_timeout_s: 30,
            rtp_ports: (20000, 30000),
            pstn_agents: Vec::new(),
            outbound_agents: Vec::new(),
            extra_yaml: String::new(),
            source_learning: "learn",
            relay_io: "auto",
            db: None,
            api_yaml: String::new(),
            soft_open_files: None,
            sip_yaml: String::new(),
        }
    }
}

impl Config {
    fn to_yaml(&self, udp: SocketAddr, tcp: SocketAddr, http: SocketAddr, dir: &Path) -> String {
        let mut y = String::new();
        let (t1, t2, t4) = self.timers_ms;
        let (max, window, ban) = self.auth_failures;
        let (rate, burst) = self.rate_limit;
        let _ = write!(
            y,
            "sip:\n  listen:\n    - \"udp:{udp}\"\n    - \"tcp:{tcp}\"\n  domain: {DOMAIN}\n  realm: {DOMAIN}\n  \
             timers:\n    t1_ms: {t1}\n    t2_ms: {t2}\n    t4_ms: {t4}\n{}\
             agents:\n",
            self.sip_yaml
        );
        for a in &self.agents {
            let _ = writeln!(y, "  - id: \"{}\"\n    password: \"{}\"", a.id, a.password);
            if self.pstn_agents.contains(&a.id) {
                let _ = writeln!(y, "    allow_pstn: true");
            }
            if self.outbound_agents.contains(&a.id) {
                let _ = writeln!(y, "    outbound: true");
            }
        }
        let _ = write!(
            y,
            "http:\n  listen: \"{http}\"\n\
             security:\n  auth_failures:\n    max: {max}\n    window_secs: {window}\n    ban_secs: {ban}\n  \
             rate_limit:\n    per_ip_per_sec: {rate}\n    burst: {burst}\n  nonce_lifetime_secs: 300\n  \
             digest_algorithms: [{}]\n\
             scripts:\n  dir: \"{}\"\n  watch: {}\n\
             media:\n  rtp_ports: \"{}-{}\"\n  rtp_timeout_s: {}\n  source_learning: {}\n  relay_io: {}\n\
             prompts:\n  dir: \"{}\"\n\
             store:\n  url: \"sqlite://{}\"\n\
             recordings:\n  dir: \"{}\"\n\
             api:\n  tokens:\n    - name: tests\n      token: \"{API_TOKEN}\"\n      role: admin\n{}",
            self.digest_algorithms.join(", "),
            self.scripts_dir.display(),
            self.scripts_watch,
            self.rtp_ports.0,
            self.rtp_ports.1,
            self.rtp_timeout_s,
            self.source_learning,
            self.relay_io,
            repo_dir("prompts").display(),
            self.db
                .clone()
                .unwrap_or_else(|| dir.join("waihu.db"))
                .display(),
            dir.join("recordings").display(),
            self.api_yaml,
        );
        y.push_str(&self.extra_yaml);
        y
    }
}

/// A unique name for files and Call-IDs, across test threads and processes.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// A fresh directory `PREFIX-XXXXXX` in the temp dir, for a test's own
/// files. Dropping the guard removes it, unless the test is failing: then,
/// as [`Server`] does with its directory, it is kept and its path printed.
pub fn scratch(prefix: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .expect("creating a scratch directory"),
    )
}

/// The guard of a [`scratch`] directory; derefs to its path.
#[derive(Debug)]
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.disable_cleanup(true);
            eprintln!("scratch directory kept: {}", self.0.path().display());
        }
    }
}

/// Ports this test process has handed out. A port chosen here is released
/// before its user (a sipp started a moment later) binds it, and the
/// kernel may give the same number to the next `bind(0)` meanwhile: a later
/// choice made here must not be one of these.
fn promised() -> &'static std::sync::Mutex<std::collections::HashSet<u16>> {
    static PROMISED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<u16>>> =
        std::sync::OnceLock::new();
    PROMISED.get_or_init(Default::default)
}

/// Marks `ports` as handed out; false (and nothing marked) if one already was.
pub fn promise(ports: &[u16]) -> bool {
    let mut promised = promised()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if ports.iter().any(|p| promised.contains(p)) {
        return false;
    }
    promised.extend(ports);
    true
}

/// `n` distinct ports nobody listens on right now: bound on 127.0.0.1 with
/// port 0 (all held until the last is chosen, so none repeats) and
/// released. Each is free for both UDP and TCP, so one number serves either,
/// and none was handed out before by this process (see [`promise`]).
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut tries = 0;
    while held.len() < n {
        tries += 1;
        assert!(
            tries < 100 + n,
            "no {n} ports free for both UDP and TCP on 127.0.0.1"
        );
        let udp = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket on 127.0.0.1");
        let port = udp.local_addr().expect("local address").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port))
            && promise(&[port])
        {
            held.push((port, udp, tcp));
        }
    }
    held.into_iter().map(|(port, _, _)| port).collect()
}

/// One port free for UDP and TCP.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A running `waihu run`.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
    /// The test's scratch directory: config, server log, sipp logs.
    pub dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts the binary and waits until `/api/v1/health` answers. A port
    /// taken between choosing and binding it (another test was quicker) is
    /// retried with new ports; any other early exit fails the test.
    pub fn start(config: &Config) -> Server {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = std::env::temp_dir().join(unique("waihu-it"));
            std::fs::create_dir_all(&dir).expect("creating the test directory");
            let ports = free_ports(3);
            let (udp, tcp, http) = (loopback(ports[0]), loopback(ports[1]), loopback(ports[2]));
            let config_path = dir.join("waihu.yaml");
            std::fs::write(&config_path, config.to_yaml(udp, tcp, http, &dir))
                .expect("writing the config");
            let log = dir.join("waihu.log");
            let out = std::fs::File::create(&log).expect("creating the log file");
            let err = out.try_clone().expect("cloning the log file handle");
            let mut command = match config.soft_open_files {
                None => Command::new(env!("CARGO_BIN_EXE_waihu")),
                Some(soft) => {
                    let mut sh = Command::new("sh");
                    sh.args(["-c", &format!("ulimit -Sn {soft} && exec \"$0\" \"$@\"")])
                        .arg(env!("CARGO_BIN_EXE_waihu"));
                    sh
                }
            };
            let child = command
                .args(["--log-level", "debug", "run", "--config"])
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("spawning the waihu binary");
            let mut server = Server {
                child: Some(child),
                udp,
                tcp,
                http,
                dir,
                log,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(Exit::AddrInUse) => {
                    // The process has exited; the next attempt gets a
                    // directory of its own, so this one goes.
                    last_log = server.log();
                    server.child = None;
                    let _ = std::fs::remove_dir_all(&server.dir);
                }
                Err(Exit::Other(why)) => panic!("waihu did not start: {why}"),
            }
        }
        panic!("waihu could not bind its ports in 3 attempts; last log:\n{last_log}");
    }

    fn wait_ready(&mut self) -> Result<(), Exit> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("waiting for waihu") {
                let log = self.log();
                if log.contains("Address already in use") || log.contains("address already in use")
                {
                    return Err(Exit::AddrInUse);
                }
                return Err(Exit::Other(format!("it exited with {status}; log:\n{log}")));
            }
            if matches!(http_get(self.http, "/api/v1/health"), Ok((200, _))) {
                return Ok(());
            }
            // A port another test took between choosing and binding: the
            // binary says so and exits, but printing its error can be slow
            // on a loaded machine; retry at once rather than wait for it.
            let log = self.log();
            if log.contains("Address already in use") || log.contains("address already in use") {
                let child = self.child_mut();
                let _ = child.kill();
                let _ = child.wait();
                return Err(Exit::AddrInUse);
            }
            if Instant::now() > deadline {
                return Err(Exit::Other(format!(
                    "health endpoint not answering after {STARTUP:?}; log:\n{}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server process is gone")
    }

    /// The server's process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("the server process is gone")
            .id()
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("<no log: {e}>"))
    }

    /// The SIP address for a transport.
    pub fn sip_addr(&self, transport: sip::Transport) -> SocketAddr {
        match transport {
            sip::Transport::Udp => self.udp,
            sip::Transport::Tcp => self.tcp,
        }
    }

    /// `GET /api/v1/health`, parsed.
    pub fn health(&self) -> serde_json::Value {
        let (status, body) = http_get(self.http, "/api/v1/health").expect("GET /api/v1/health");
        assert_eq!(status, 200, "GET /api/v1/health: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("health is not JSON ({e}): {body}"))
    }

    pub fn registered_contacts(&self) -> u64 {
        let health = self.health();
        health["registered_contacts"]
            .as_u64()
            .unwrap_or_else(|| panic!("no registered_contacts in {health}"))
    }

    /// `GET /metrics` as text.
    pub fn metrics(&self) -> String {
        let (status, body) = http_get(self.http, "/metrics").expect("GET /metrics");
        assert_eq!(status, 200, "GET /metrics: {body}");
        body
    }

    /// One sample of an unlabelled metric, e.g. `waihu_sip_bans_total`.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.metrics();
        metric_value(&text, name).unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
    }

    /// Polls `condition` until it holds; fails the test with `what` after `timeout`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Server) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !condition(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `waihu ARGS --config (this server's)`: exit success, stdout, stderr.
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_waihu"))
            .args(args)
            .arg("--config")
            .arg(self.dir.join("waihu.yaml"))
            .output()
            .expect("running waihu");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `waihu cdr export ARGS` on this server's config: its standard output.
    pub fn cdr_export(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_waihu"))
            .args(["cdr", "export", "--config"])
            .arg(self.dir.join("waihu.yaml"))
            .args(args)
            .output()
            .expect("waihu cdr export");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// SIGKILL: the process dies at once, as in a crash. The test's
    /// directory (and the store in it) stays for a restart, and for the
    /// logs of the sipps started with this server, until the returned
    /// guard drops.
    pub fn crash(mut self) -> Leftover {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Leftover(std::mem::take(&mut self.dir))
    }

    /// SIGTERM, then asserts the process exits with status 0 in time.
    pub fn stop(mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "waihu did not shut down cleanly on SIGTERM: {status}; log:\n{}",
            self.log()
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server was already stopped");
        let pid = child.id().to_string();
        let kill = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(kill.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + SHUTDOWN;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for waihu") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "waihu still running {SHUTDOWN:?} after SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    /// Kills a server still running. Its directory (config, store, logs of
    /// the sipp processes run in it) is kept for a failed test and after
    /// `crash`, whose test may read it or start again on its store;
    /// otherwise it is removed, as `stop` does.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "----- waihu log ({}) -----\n{}\n----- end of waihu log -----",
                    self.log.display(),
                    self.log()
                );
            } else {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// The directory of a server that [`Server::crash`]ed: removed when this
/// drops, or kept (and named) if the test failed.
#[derive(Debug)]
#[must_use = "the crashed server's directory is removed when this drops"]
pub struct Leftover(PathBuf);

impl Drop for Leftover {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("crashed server's directory kept: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

enum Exit {
    AddrInUse,
    Other(String),
}

/// The admin API token every test server accepts (`api.tokens`); the
/// `http_*` helpers send it.
pub const API_TOKEN: &str = "waihu-tests-admin-token-0123456789";

/// A plain HTTP/1.0 GET: the status and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http(
        addr,
        &format!(
            "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {API_TOKEN}\r\nConnection: close\r\n\r\n"
        ),
    )
}

/// A plain HTTP/1.0 POST of a JSON body: the status and the body.
pub fn http_post(addr: SocketAddr, path: &str, json: &str) -> std::io::Result<(u16, String)> {
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {API_TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        ),
    )
}

/// A plain HTTP/1.0 PUT of a JSON body: the status and the body.
pub fn http_put(addr: SocketAddr, path: &str, json: &str) -> std::io::Result<(u16, String)> {
    http(
        addr,
        &format!(
            "PUT {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {API_TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        ),
    )
}

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Any request, with only the headers given (no API token unless one of
/// them carries it).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Reply> {
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    if let Some(body) = body {
        let _ = write!(
            request,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    let raw = exchange(addr, &request)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of headers in {raw:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

fn exchange(addr: SocketAddr, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// Sends one whole request and reads the response to the end.
fn http(addr: SocketAddr, request: &str) -> std::io::Result<(u16, String)> {
    let text = exchange(addr, request)?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of headers in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// The value of `name` (no labels) in Prometheus/OpenMetrics text.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (n, v) = line.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}

/// `tests/<rel>` in the repository.
/// Two free UDP ports P and P+2 for sipp's `-mp` (it binds both).
pub fn sipp_media_port() -> u16 {
    for _ in 0..100 {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let p = probe.local_addr().expect("addr").port();
        drop(probe);
        if p.is_multiple_of(2)
            && p < 65000
            && UdpSocket::bind(("127.0.0.1", p + 2)).is_ok()
            && promise(&[p, p + 1, p + 2, p + 3])
        {
            return p;
        }
    }
    panic!("no free media ports for sipp");
}

/// A path in the repository.
pub fn repo_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

pub fn tests_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests")
        .join(rel)
}

/// Registers `agent` with a contact at `contact` (where a sipp UAS listens).
pub fn register_at(server: &Server, agent: &Agent, contact: SocketAddr) {
    use sip::{Peer, Request, Transport};
    let mut peer = Peer::connect(Transport::Udp, server.udp);
    let register = Request::register(agent.id, contact, Transport::Udp);
    let first = peer.exchange(&register).expect("an answer to REGISTER");
    assert_eq!(first.status, 401);
    let challenge = first.challenge("MD5");
    let ok = peer
        .exchange_authorized(&register.next(), &challenge, agent.id, agent.password)
        .expect("an answer to the authorized REGISTER");
    assert_eq!(ok.status, 200, "REGISTER of {}", agent.id);
}
