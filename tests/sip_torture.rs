//! The torture messages of RFC 4475 and RFC 5118, sent byte for byte to the
//! real `waihu` binary over UDP and over TCP (a fresh connection each), and
//! the answers held to `tests/sip-torture/EXPECTED.md`.
//!
//! After every message an OPTIONS without credentials must be answered 401
//! over the same transport: the server is still alive and serving. At the
//! end, every message the server says it sent must have arrived back at our
//! sockets (responses go to the sender and nowhere else, never to the Via
//! hosts of the torture messages), and the process must stop cleanly.
//! All mismatches are collected and reported together.

mod common;

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use common::sip::{Peer, Read, Request, Response, Transport};
use common::{Config, DOMAIN, Server};

/// What a message must get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A response with one of these status codes.
    Status(&'static [u16]),
    /// No answer at all (UDP).
    Drop,
    /// No answer; the connection may be closed or left open (TCP).
    NoAnswer,
    /// No answer, and the server closes the connection (TCP).
    Closed,
    /// No answer and the connection stays open: the message is incomplete
    /// on a stream and the server waits for the rest (TCP).
    Waits,
    /// Anything but a crash.
    Any,
    /// Any one of these.
    AnyOf(&'static [Expect]),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Status(codes) => write!(f, "status {codes:?}"),
            Expect::Drop => f.write_str("no answer"),
            Expect::NoAnswer => f.write_str("no answer (connection open or closed)"),
            Expect::Closed => f.write_str("the connection closed without an answer"),
            Expect::Waits => f.write_str("no answer with the connection left open"),
            Expect::Any => f.write_str("anything"),
            Expect::AnyOf(list) => {
                let each: Vec<String> = list.iter().map(ToString::to_string).collect();
                f.write_str(&each.join(" or "))
            }
        }
    }
}

struct Case {
    /// Relative to `tests/sip-torture`.
    file: &'static str,
    udp: Expect,
    tcp: Expect,
    /// Over TCP, more messages than the first answer may follow (the
    /// message holds a second one, or no Content-Length says where it ends).
    tcp_extra: bool,
}

use Expect::*;

/// Processed normally: no credentials were sent, so a challenge.
const PROCESSED: Expect = Status(&[401]);
/// Invalid, where EXPECTED.md allows a liberal accept (then the challenge).
const BAD_OR_LIBERAL: Expect = Status(&[400, 401]);

const fn both(file: &'static str, e: Expect) -> Case {
    Case {
        file,
        udp: e,
        tcp: e,
        tcp_extra: false,
    }
}

const fn split(file: &'static str, udp: Expect, tcp: Expect) -> Case {
    Case {
        file,
        udp,
        tcp,
        tcp_extra: false,
    }
}

/// EXPECTED.md as a table.
const CASES: &[Case] = &[
    // RFC 4475 3.1.1: valid messages.
    both("rfc4475/wsinv.dat", PROCESSED),
    both("rfc4475/intmeth.dat", Status(&[501])),
    both("rfc4475/esc01.dat", PROCESSED),
    both("rfc4475/escnull.dat", PROCESSED),
    both("rfc4475/esc02.dat", Status(&[501])),
    both("rfc4475/lwsdisp.dat", PROCESSED),
    both("rfc4475/longreq.dat", PROCESSED),
    Case {
        tcp_extra: true,
        ..both("rfc4475/dblreq.dat", PROCESSED)
    },
    both("rfc4475/semiuri.dat", PROCESSED),
    both("rfc4475/transports.dat", PROCESSED),
    // MESSAGE is not served: refused by method before authentication.
    both("rfc4475/mpart01.dat", Status(&[405, 501])),
    split("rfc4475/unreason.dat", Drop, NoAnswer),
    split("rfc4475/noreason.dat", Drop, NoAnswer),
    // No Content-Length: fine in a datagram; on a stream it is required
    // (RFC 3261 section 18.3), so a 400, closing the connection, or (taking
    // it as 0) a challenge followed by the body as garbage.
    Case {
        tcp_extra: true,
        ..split(
            "rfc4475/inv2543.dat",
            PROCESSED,
            AnyOf(&[Status(&[400, 401]), Closed]),
        )
    },
    // RFC 4475 3.1.2: invalid messages.
    both("rfc4475/badinv01.dat", Status(&[400])),
    both("rfc4475/quotbal.dat", Status(&[400])),
    both("rfc4475/lwsruri.dat", Status(&[400])),
    both("rfc4475/mismatch01.dat", Status(&[400])),
    both("rfc4475/scalar02.dat", Status(&[400])),
    both("rfc4475/insuf.dat", Status(&[400])),
    both("rfc4475/multi01.dat", Status(&[400])),
    both("rfc4475/ltgtruri.dat", BAD_OR_LIBERAL),
    both("rfc4475/lwsstart.dat", BAD_OR_LIBERAL),
    both("rfc4475/trws.dat", BAD_OR_LIBERAL),
    both("rfc4475/escruri.dat", BAD_OR_LIBERAL),
    both("rfc4475/baddate.dat", BAD_OR_LIBERAL),
    both("rfc4475/regbadct.dat", BAD_OR_LIBERAL),
    both("rfc4475/badaspec.dat", BAD_OR_LIBERAL),
    // The file has no blank line after its headers: a datagram ends there,
    // a stream does not.
    split("rfc4475/baddn.dat", BAD_OR_LIBERAL, Waits),
    split("rfc4475/clerr.dat", Status(&[400]), Waits),
    split("rfc4475/ncl.dat", Drop, Closed),
    split("rfc4475/mcl01.dat", Drop, Closed),
    split("rfc4475/scalarlg.dat", Drop, NoAnswer),
    split("rfc4475/bigcode.dat", Drop, NoAnswer),
    both("rfc4475/badvers.dat", Status(&[505])),
    both("rfc4475/mismatch02.dat", Status(&[501, 400])),
    both("rfc4475/badbranch.dat", Status(&[400, 401])),
    both("rfc4475/unkscm.dat", Status(&[416])),
    both("rfc4475/novelsc.dat", Status(&[416])),
    both("rfc4475/unksm2.dat", Status(&[400])),
    both("rfc4475/bext01.dat", Status(&[420])),
    both("rfc4475/invut.dat", Status(&[415])),
    both("rfc4475/regaut01.dat", PROCESSED),
    split("rfc4475/bcast.dat", Drop, NoAnswer),
    both("rfc4475/zeromf.dat", PROCESSED),
    both("rfc4475/cparam01.dat", PROCESSED),
    both("rfc4475/cparam02.dat", PROCESSED),
    both("rfc4475/regescrt.dat", PROCESSED),
    both("rfc4475/sdp01.dat", Status(&[406, 400])),
    both("rfc4475/test.dat", Any),
    // RFC 5118. These files have LF line ends, which we accept.
    both("rfc5118/ipv4-mapped-ipv6", PROCESSED),
    both("rfc5118/ipv6-bad", Status(&[400])),
    // No blank line after the headers (see baddn).
    split("rfc5118/ipv6-bug-abnf-3-colons", Status(&[400]), Waits),
    split("rfc5118/ipv6-correct-abnf-2-colons", PROCESSED, Waits),
    both("rfc5118/ipv6-good", PROCESSED),
    // The body is shorter than Content-Length (the LF line ends of the file).
    split("rfc5118/ipv6-in-sdp", Status(&[400]), Waits),
    split("rfc5118/mult-ip-in-sdp", Status(&[400]), Waits),
    both("rfc5118/mult-ip-in-header", PROCESSED),
    both("rfc5118/port-ambiguous", PROCESSED),
    both("rfc5118/port-unambiguous", PROCESSED),
    both("rfc5118/via-received-param-no-delim", PROCESSED),
    both("rfc5118/via-received-param-with-delim", PROCESSED),
];

/// How long a response may take.
const ANSWER: Duration = Duration::from_secs(2);
/// How long silence must last to count as "no answer".
const QUIET: Duration = Duration::from_secs(1);

fn torture_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sip-torture");
    assert!(
        dir.join("EXPECTED.md").is_file(),
        "the torture messages are missing: expected them in tests/sip-torture, at {}",
        dir.display()
    );
    dir
}

/// Every torture file has a row in the table and every row a file.
fn load_cases() -> Vec<(&'static Case, Vec<u8>)> {
    let dir = torture_dir();
    let mut on_disk = HashSet::new();
    for sub in ["rfc4475", "rfc5118"] {
        let entries = std::fs::read_dir(dir.join(sub))
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.join(sub).display()));
        for entry in entries {
            let name = entry.expect("a directory entry").file_name();
            on_disk.insert(format!("{sub}/{}", name.to_string_lossy()));
        }
    }
    let in_table: HashSet<String> = CASES.iter().map(|c| c.file.to_owned()).collect();
    let mut missing: Vec<_> = on_disk.difference(&in_table).collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "torture files with no expectation in the table: {missing:?}"
    );
    let mut gone: Vec<_> = in_table.difference(&on_disk).collect();
    gone.sort();
    assert!(
        gone.is_empty(),
        "expectations for files that do not exist: {gone:?}"
    );
    CASES
        .iter()
        .map(|c| {
            let path = dir.join(c.file);
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (c, bytes)
        })
        .collect()
}

/// What came back for one message.
enum Got {
    Answer(Response),
    /// Bytes that are not a response.
    Garbage(Vec<u8>),
    Closed,
    Silent,
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Answer(r) => write!(f, "{:?}", r.status_line),
            Got::Garbage(b) => write!(f, "non-response bytes {:?}", String::from_utf8_lossy(b)),
            Got::Closed => f.write_str("the connection closed"),
            Got::Silent => f.write_str("no answer"),
        }
    }
}

/// How long to wait for what `expect` allows.
fn wait_for(expect: Expect) -> Duration {
    match expect {
        Status(_) | Closed => ANSWER,
        Drop | NoAnswer | Waits | Any => QUIET,
        AnyOf(list) => list.iter().map(|e| wait_for(*e)).max().unwrap_or(QUIET),
    }
}

fn read_one(peer: &mut Peer, expect: Expect) -> Got {
    match peer.read(wait_for(expect)) {
        Read::Message(raw) => match Response::parse(&raw) {
            Some(r) => Got::Answer(r),
            None => Got::Garbage(raw),
        },
        Read::Closed => Got::Closed,
        Read::Silent => Got::Silent,
    }
}

fn matches(expect: Expect, got: &Got) -> bool {
    match (expect, got) {
        (Status(codes), Got::Answer(r)) => codes.contains(&r.status),
        (Drop | Waits, Got::Silent) | (Closed, Got::Closed) | (Any, _) => true,
        (NoAnswer, Got::Silent | Got::Closed) => true,
        (AnyOf(list), got) => list.iter().any(|e| matches(*e, got)),
        _ => false,
    }
}

/// What every response must satisfy, whatever the message.
#[derive(Default)]
struct Invariants {
    nonces: HashSet<String>,
}

impl Invariants {
    fn check(&mut self, r: &Response, file: &str, failures: &mut Vec<String>) {
        let mut fail = |what: String| failures.push(format!("{file}: {what} in\n{r}"));
        match r.status {
            401 => {
                let challenges = r.challenges();
                for algorithm in ["SHA-256", "MD5"] {
                    if !challenges
                        .iter()
                        .any(|c| c.algorithm.eq_ignore_ascii_case(algorithm))
                    {
                        fail(format!("401 without a {algorithm} challenge"));
                    }
                }
                for c in &challenges {
                    if c.realm != DOMAIN {
                        fail(format!("challenge realm {:?}", c.realm));
                    }
                    if !c
                        .qop
                        .as_deref()
                        .is_some_and(|q| q.split(',').any(|t| t.trim() == "auth"))
                    {
                        fail("challenge without qop=auth".to_owned());
                    }
                }
                // Both challenges of one 401 share a nonce; no two 401s do.
                let nonces: HashSet<&str> = challenges.iter().map(|c| c.nonce.as_str()).collect();
                for nonce in nonces {
                    if !self.nonces.insert(nonce.to_owned()) {
                        fail(format!(
                            "nonce {nonce} was already issued: not a fresh challenge"
                        ));
                    }
                }
            }
            405 | 501 => {
                let allow = r.tokens("Allow");
                for method in ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"] {
                    if !allow.iter().any(|m| m == method) {
                        fail(format!("{} without {method} in Allow", r.status));
                    }
                }
            }
            415 if !r
                .tokens("Accept")
                .iter()
                .any(|t| t.starts_with("application/sdp")) =>
            {
                fail("415 without Accept: application/sdp".to_owned());
            }
            420 if r.tokens("Unsupported").is_empty() => fail("420 without Unsupported".to_owned()),
            _ => {}
        }
    }
}

/// Checks that only certain messages have.
fn check_specific(file: &str, r: &Response, failures: &mut Vec<String>) {
    if file == "rfc4475/bext01.dat" {
        // Only Require is for us; Proxy-Require is for proxies.
        let mut unsupported = r.tokens("Unsupported");
        unsupported.sort();
        if unsupported != ["nothingSupportsThis", "nothingSupportsThisEither"] {
            failures.push(format!(
                "{file}: Unsupported must list exactly the two Require tokens, got {unsupported:?} in\n{r}"
            ));
        }
    }
}

/// The ACK for a non-2xx final response to an INVITE (RFC 3261 17.1.1.3),
/// so that the server stops retransmitting it. `None` if not needed.
fn ack_for(request: &[u8], r: &Response) -> Option<Vec<u8>> {
    let (cseq, method) = r.cseq()?;
    if method != "INVITE" || r.status < 300 {
        return None;
    }
    let first_line = request.split(|&b| b == b'\n').next()?;
    let uri = String::from_utf8_lossy(first_line)
        .split_whitespace()
        .nth(1)?
        .to_owned();
    Some(
        format!(
            "ACK {uri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\n\
             CSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
            r.header("Via")?,
            r.header("From")?,
            r.header("To")?,
            r.call_id()?,
        )
        .into_bytes(),
    )
}

/// A message that answers nothing we are waiting for, described for a failure.
fn stray(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match Response::parse(raw) {
        Some(r) if r.cseq().is_some_and(|(_, m)| m == "ACK") => format!(
            "a response to an ACK (an ACK never gets one, RFC 3261 section 17.1.1.3):\n{text}"
        ),
        _ => format!("a stray message:\n{text}"),
    }
}

/// The server-transaction key (RFC 3261 section 17.2.3) of a request:
/// top-Via branch and sent-by, and the method (an ACK counting as INVITE).
/// `None` for responses and for branches without the RFC 3261 cookie.
fn transaction_key(bytes: &[u8]) -> Option<(String, String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let method = lines.next()?.split_whitespace().next()?;
    if method.starts_with("SIP/") {
        return None;
    }
    let method = if method == "ACK" { "INVITE" } else { method };
    let via = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v")).then_some(value)
    })?;
    let mut parts = via.split(',').next()?.split(';');
    let sent_by = parts
        .next()?
        .split_whitespace()
        .last()?
        .to_ascii_lowercase();
    let branch = parts.find_map(|p| p.trim().strip_prefix("branch="))?;
    branch
        .starts_with("z9hG4bK")
        .then(|| (branch.to_owned(), sent_by, method.to_owned()))
}

/// The liveness probe: an OPTIONS without credentials must get 401.
/// Anything else read meanwhile is a stray answer to an earlier message.
fn probe(peer: &mut Peer, after: &str, inv: &mut Invariants, failures: &mut Vec<String>) {
    let request = Request::new("OPTIONS", &format!("sip:{DOMAIN}"));
    let bytes = request.to_bytes(peer.transport(), peer.local());
    peer.send(&bytes);
    loop {
        match peer.read(ANSWER) {
            Read::Message(raw) => {
                let r = Response::parse(&raw);
                match r {
                    Some(r) if r.call_id() == Some(request.call_id.as_str()) => {
                        if r.status != 401 {
                            failures.push(format!("OPTIONS after {after}: expected 401, got\n{r}"));
                        }
                        inv.check(&r, &format!("OPTIONS after {after}"), failures);
                        return;
                    }
                    _ => failures.push(format!(
                        "after {after}, while waiting for the OPTIONS answer: {}",
                        stray(&raw)
                    )),
                }
            }
            Read::Closed => {
                failures.push(format!("OPTIONS after {after}: the connection closed"));
                return;
            }
            Read::Silent => {
                failures.push(format!(
                    "OPTIONS after {after}: no answer: is the server still alive?"
                ));
                return;
            }
        }
    }
}

fn torture(transport: Transport) {
    let cases = load_cases();
    let server = Server::start(&Config {
        // Fast timers, so that transactions end soon (timers H and J: 64*T1).
        timers_ms: (50, 400, 50),
        // Nothing here may be refused for volume or for failed logins.
        rate_limit: (1_000_000, 10_000_000),
        auth_failures: (1_000_000, 60, 600),
        ..Config::default()
    });
    let target = server.sip_addr(transport);
    let mut failures = Vec::new();
    let mut inv = Invariants::default();
    let mut udp = Peer::connect(Transport::Udp, server.udp);
    // Every TCP connection stays open to the end, with the case it carried.
    let mut connections: Vec<(String, bool, Peer)> = Vec::new();
    // Some files share branch, sent-by and method (cparam01 and cparam02,
    // say): over UDP the later one is a retransmission of the earlier while
    // that transaction lives. Such a message waits until it has ended.
    let mut keys = HashSet::new();

    for (case, bytes) in &cases {
        let name = format!("{transport} {}", case.file);
        let expect = match transport {
            Transport::Udp => case.udp,
            Transport::Tcp => case.tcp,
        };
        if transport == Transport::Udp
            && let Some(key) = transaction_key(bytes)
            && !keys.insert(key)
        {
            server.wait_for(
                "the transactions of earlier messages to end",
                Duration::from_secs(10),
                |s| s.metric("waihu_sip_transactions_active") == 0.0,
            );
        }
        let mut tcp = None;
        let peer = match transport {
            Transport::Udp => &mut udp,
            Transport::Tcp => tcp.insert(Peer::connect(Transport::Tcp, target)),
        };
        peer.send(bytes);
        let got = read_one(peer, expect);
        if !matches(expect, &got) {
            failures.push(format!("{name}: expected {expect}, got {got}"));
        }
        if let Got::Answer(r) = &got {
            inv.check(r, &name, &mut failures);
            check_specific(case.file, r, &mut failures);
            if let Some(ack) = ack_for(bytes, r) {
                peer.send(&ack);
            }
        }
        if let Some(tcp) = tcp {
            connections.push((name.clone(), case.tcp_extra, tcp));
            let mut fresh = Peer::connect(Transport::Tcp, target);
            probe(&mut fresh, &name, &mut inv, &mut failures);
            connections.push((format!("OPTIONS after {name}"), false, fresh));
        } else {
            probe(&mut udp, &name, &mut inv, &mut failures);
        }
    }

    // Let every transaction end (timer H is 64*T1 = 3.2 s), so that nothing
    // more is sent, then collect what is still on the way.
    server.wait_for("every transaction to end", Duration::from_secs(30), |s| {
        s.metric("waihu_sip_transactions_active") == 0.0
    });
    while let Read::Message(raw) = udp.read(Duration::from_millis(200)) {
        failures.push(format!("{transport}, at the end: {}", stray(&raw)));
    }
    for (name, extra_ok, peer) in &mut connections {
        while let Read::Message(raw) = peer.read(Duration::from_millis(100)) {
            if !*extra_ok {
                failures.push(format!("{name}, a further message: {}", stray(&raw)));
            }
        }
    }

    // Responses go back to the sender only: all the server sent arrived here.
    let sent = server.metric("waihu_sip_messages_out_total");
    let received = udp.received()
        + connections
            .iter()
            .map(|(_, _, p)| p.received())
            .sum::<u64>();
    if sent != received as f64 {
        failures.push(format!(
            "{transport}: the server sent {sent} messages but {received} arrived back at the senders"
        ));
    }
    let malformed = server.metric("waihu_sip_malformed_total");
    if malformed <= 0.0 {
        failures.push(format!(
            "{transport}: waihu_sip_malformed_total is {malformed}, expected > 0"
        ));
    }
    assert_eq!(server.health()["status"], "ok");
    assert!(
        failures.is_empty(),
        "{} mismatch(es) over {transport}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    server.stop();
}

#[test]
fn torture_messages_over_udp() {
    torture(Transport::Udp);
}

#[test]
fn torture_messages_over_tcp() {
    torture(Transport::Tcp);
}
