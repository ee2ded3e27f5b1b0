//! Runs `sipp` (the Debian package `sip-tester`) with a scenario of
//! `tests/sipp/` against a test server.
//!
//! sipp 3.6.1 answers a challenge with its own `[authentication]`, but only
//! an MD5 one, and only the first `WWW-Authenticate` of a 401: the servers
//! of these tests offer MD5 first (see [`super::Config::digest_algorithms`]).

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use super::sip::Transport;
use super::{DOMAIN, Server, free_ports, tests_dir};

/// A sipp run to make.
#[derive(Debug)]
pub struct Sipp<'a> {
    scenario: &'a str,
    transport: Transport,
    service: String,
    keys: Vec<(String, String)>,
    credentials: Option<(String, String, String)>,
    local_port: Option<u16>,
    timeout_secs: u32,
    calls: u32,
    media_port: Option<u16>,
    extra: Vec<String>,
}

/// How it went.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    /// `-trace_err`: every unexpected message and failure.
    pub errors: String,
    /// `-trace_msg`: every message sent and received.
    pub messages: String,
}

impl Outcome {
    /// Asserts that every call succeeded (exit status 0).
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "sipp {what}: {}\n--- sipp errors ---\n{}\n--- sipp messages ---\n{}",
            self.status,
            self.errors,
            self.messages
        );
    }
}

impl<'a> Sipp<'a> {
    /// `scenario` is a file name in `tests/sipp/`; `service` is the user part of the Request-URI.
    pub fn new(scenario: &'a str, transport: Transport, service: &str) -> Sipp<'a> {
        Sipp {
            scenario,
            transport,
            service: service.to_owned(),
            keys: vec![("domain".to_owned(), DOMAIN.to_owned())],
            credentials: None,
            local_port: None,
            timeout_secs: 10,
            calls: 1,
            media_port: None,
            extra: Vec::new(),
        }
    }

    /// `-key name value`: `[name]` in the scenario.
    pub fn key(mut self, name: &str, value: &str) -> Sipp<'a> {
        self.keys.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `-au user -ap password`, for `[authentication]`, with the scenario's
    /// Request-URI as `-auth_uri`: without it sipp puts `sip:REMOTE_IP:PORT`
    /// in the digest `uri`, which RFC 7616 section 3.4 wants to be the
    /// Request-URI (waihu answers a mismatch 400).
    pub fn credentials(mut self, user: &str, password: &str, request_uri: &str) -> Sipp<'a> {
        let uri = request_uri.strip_prefix("sip:").unwrap_or(request_uri);
        self.credentials = Some((user.to_owned(), password.to_owned(), uri.to_owned()));
        self
    }

    /// The local SIP port (it appears in `Contact`); a free one otherwise.
    pub fn local_port(mut self, port: u16) -> Sipp<'a> {
        self.local_port = Some(port);
        self
    }

    /// `-m N`: how many calls (one after the other with `-l 1`).
    pub fn calls(mut self, n: u32) -> Sipp<'a> {
        self.calls = n;
        self
    }

    /// `-mi 127.0.0.1 -mp PORT`: sipp's RTP ports (PORT and PORT+2 must be free).
    pub fn media_port(mut self, port: u16) -> Sipp<'a> {
        self.media_port = Some(port);
        self
    }

    /// Any other sipp argument.
    pub fn arg(mut self, arg: &str) -> Sipp<'a> {
        self.extra.push(arg.to_owned());
        self
    }

    /// sipp's global timeout.
    pub fn timeout_secs(mut self, secs: u32) -> Sipp<'a> {
        self.timeout_secs = secs;
        self
    }

    /// Runs the calls to completion (or sipp's global timeout).
    pub fn run(&self, server: &Server) -> Outcome {
        self.spawn(server).wait()
    }

    /// Starts sipp and returns at once (a UAS waiting for the switch's call).
    pub fn spawn(&self, server: &Server) -> Running {
        let scenario = tests_dir("sipp").join(self.scenario);
        assert!(scenario.is_file(), "no scenario {}", scenario.display());
        let ports = free_ports(2);
        let local = self.local_port.unwrap_or(ports[0]);
        let name = super::unique(self.scenario.trim_end_matches(".xml"));
        let file = |suffix: &str| -> PathBuf { server.dir.join(format!("{name}.{suffix}")) };
        let (errors, messages, screen) =
            (file("errors.log"), file("messages.log"), file("screen.log"));
        let target = server.sip_addr(self.transport);
        let mut cmd = Command::new("sipp");
        cmd.current_dir(&server.dir)
            .arg("-sf")
            .arg(&scenario)
            .args(["-i", "127.0.0.1", "-p", &local.to_string()])
            .args(["-cp", &ports[1].to_string()])
            .args([
                "-t",
                if self.transport == Transport::Udp {
                    "u1"
                } else {
                    "t1"
                },
            ])
            .args([
                "-m",
                &self.calls.to_string(),
                "-l",
                "1",
                "-s",
                &self.service,
            ])
            .args([
                "-timeout",
                &format!("{}s", self.timeout_secs),
                "-timeout_error",
            ])
            .args(["-nostdin", "-trace_err", "-trace_msg", "-trace_screen"])
            .arg("-error_file")
            .arg(&errors)
            .arg("-message_file")
            .arg(&messages)
            .arg("-screen_file")
            .arg(&screen);
        if let Some((user, password, uri)) = &self.credentials {
            cmd.args(["-au", user, "-ap", password, "-auth_uri", uri]);
        }
        for (k, v) in &self.keys {
            cmd.args(["-key", k, v]);
        }
        if let Some(port) = self.media_port {
            cmd.args(["-mi", "127.0.0.1", "-mp", &port.to_string()]);
        }
        cmd.args(&self.extra);
        cmd.arg(target.to_string());
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run sipp ({e}): install it with `apt-get install -y sip-tester`")
            });
        Running {
            child,
            errors,
            messages,
            local,
        }
    }
}

/// A sipp process started with [`Sipp::spawn`].
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    errors: PathBuf,
    messages: PathBuf,
    /// sipp's SIP port.
    pub local: u16,
}

impl Running {
    /// Stops a sipp that would run on (a phone taking any number of
    /// calls) and returns what it logged.
    pub fn kill(mut self) -> Outcome {
        let _ = self.child.kill();
        self.wait()
    }

    /// Waits for sipp to finish.
    pub fn wait(self) -> Outcome {
        let out = self.child.wait_with_output().expect("waiting for sipp");
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let mut errors = read(&self.errors);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            errors = format!("{errors}\n(stderr) {stderr}");
        }
        Outcome {
            status: out.status,
            errors,
            messages: read(&self.messages),
        }
    }
}
