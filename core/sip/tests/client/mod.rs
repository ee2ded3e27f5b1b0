//! A tiny scripted UAC for endpoint tests: builds requests as text, answers
//! digest challenges, and reads the endpoint's replies back with our parser.
#![allow(dead_code, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use waihu_sip::auth::{Algorithm, ha1, response};
use waihu_sip::endpoint::{Endpoint, EndpointConfig, Event, User};
use waihu_sip::message::{HeaderName, Message, Response, parse};
use waihu_sip::{Peer, Transport};

pub const DOMAIN: &str = "waihu.test";

pub fn peer(last_octet: u8) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([192, 0, 2, last_octet], 5060)),
    }
}

pub struct Harness {
    pub ep: Endpoint,
    pub now: Instant,
    pub events: Vec<Event>,
}

impl Harness {
    pub fn new(
        domain: &str,
        users: &[(&str, &str)],
        tweak: impl FnOnce(&mut EndpointConfig),
    ) -> Harness {
        let users = users
            .iter()
            .map(|(id, pw)| User {
                id: (*id).into(),
                password: (*pw).into(),
            })
            .collect();
        let mut config = EndpointConfig::new(domain, users);
        tweak(&mut config);
        let now = Instant::now();
        Harness {
            ep: Endpoint::new(config, now, [42; 32]),
            now,
            events: Vec::new(),
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.ep.handle_timeout(self.now);
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    /// Sends bytes and returns every response the endpoint sent back.
    pub fn send(&mut self, from: Peer, bytes: &[u8]) -> Vec<Response> {
        self.send_raw(from, bytes)
            .into_iter()
            .map(|(status, parsed, text)| {
                parsed.unwrap_or_else(|| {
                    panic!("endpoint sent something unparseable ({status}):\n{text}")
                })
            })
            .collect()
    }

    /// Like [`send`](Self::send), but an answer to a malformed request may
    /// echo the request's own malformed Via/From/To (RFC 3261 section 8.2.6.2
    /// copies them), so only its status line is guaranteed to parse.
    pub fn send_raw(&mut self, from: Peer, bytes: &[u8]) -> Vec<(u16, Option<Response>, String)> {
        self.ep.handle_input(self.now, from, bytes);
        self.collect();
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            assert_eq!(t.peer, from, "a reply went somewhere other than the sender");
            let text = String::from_utf8_lossy(&t.bytes).into_owned();
            let status = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not a response:\n{text}"));
            let parsed = match parse(&t.bytes) {
                Ok(Message::Response(r)) => Some(r),
                _ => None,
            };
            out.push((status, parsed, text));
        }
        out
    }

    /// Sends and expects exactly one response.
    pub fn one(&mut self, from: Peer, bytes: &[u8]) -> Response {
        let mut r = self.send(from, bytes);
        assert_eq!(r.len(), 1, "expected one response, got {r:?}");
        r.remove(0)
    }
}

/// A request as text; `extra` are whole header lines.
pub fn request(
    method: &str,
    ruri: &str,
    branch: &str,
    from_user: &str,
    to_user: &str,
    cseq: u32,
    extra: &[String],
) -> Vec<u8> {
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:{from_user}@{DOMAIN}>;tag=f{branch}\r\nTo: <sip:{to_user}@{DOMAIN}>\r\nCall-ID: call-{from_user}@192.0.2.1\r\n\
         CSeq: {cseq} {method}\r\n"
    );
    for h in extra {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s.into_bytes()
}

/// A parameter of a challenge header value.
pub fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    if let Some(q) = rest.strip_prefix('"') {
        q.find('"').map(|e| &q[..e])
    } else {
        Some(rest.split([',', ' ']).next().unwrap_or(rest))
    }
}

/// The WWW-Authenticate challenge for `alg` in a 401.
pub fn challenge(resp: &Response, alg: &str) -> String {
    resp.headers
        .get_all(&HeaderName::WwwAuthenticate)
        .find(|c| param(c, "algorithm") == Some(alg))
        .unwrap_or_else(|| panic!("no {alg} challenge in {resp:?}"))
        .to_owned()
}

/// An Authorization header line answering `challenge`.
pub fn authorization(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    let alg = if param(challenge, "algorithm") == Some("SHA-256") {
        Algorithm::Sha256
    } else {
        Algorithm::Md5
    };
    let realm = param(challenge, "realm").expect("realm");
    let nonce = param(challenge, "nonce").expect("nonce");
    let opaque = param(challenge, "opaque").expect("opaque");
    let nc = format!("{nc:08x}");
    let cnonce = "0a4f113b";
    let h = ha1(alg, user, realm, password);
    let r = response(alg, &h, nonce, &nc, cnonce, "auth", method, uri);
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{r}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"{cnonce}\", opaque=\"{opaque}\"",
        alg.as_str()
    )
}
