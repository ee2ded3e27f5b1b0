//! Outbound registration to a carrier, on a virtual clock, against a fake
//! registrar built from our own digest server (`auth::Authenticator`): every
//! REGISTER goes through bytes and our parser, its Authorization is checked
//! for real, and the answer comes back through bytes too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use waihu_sip::Transport;
use waihu_sip::auth::{Algorithm, AuthError, Authenticator, DigestConfig};
use waihu_sip::message::{HeaderName, Message, Request, Response, parse, parse_uri};
use waihu_sip::trunk::{FailureReason, Registration, RegistrationConfig, RegistrationStatus};

const USER: &str = "trunk1";
const PASSWORD: &str = "s3cret";
const REALM: &str = "carrier.example";

#[allow(clippy::disallowed_methods)] // the one clock read; only offsets matter
fn epoch() -> Instant {
    Instant::now()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(password: &str, realm: Option<&str>) -> RegistrationConfig {
    let uri = |s: &str| parse_uri(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    RegistrationConfig {
        registrar: uri("sip:carrier.example:5060"),
        aor: uri("sip:trunk1@carrier.example"),
        contact: uri("sip:trunk1@198.51.100.7:5060"),
        username: USER.to_owned(),
        password: password.to_owned(),
        realm: realm.map(str::to_owned),
        expires: secs(120),
        transport: Transport::Udp,
        local: SocketAddr::from(([198, 51, 100, 7], 5060)),
    }
}

/// What the fake carrier does with the next REGISTER instead of its usual
/// challenge-or-accept.
enum Next {
    Normal,
    Silent,
    Status(u16, Vec<(HeaderName, String)>),
}

struct Carrier {
    auth: Authenticator,
    password: String,
    min_expires: u64,
    /// Challenge with 407/Proxy-Authenticate instead of 401.
    proxy: bool,
    next: Next,
    /// Every REGISTER received, as parsed from the wire.
    received: Vec<Request>,
}

impl Carrier {
    fn new(epoch: Instant, realm: &str, nonce_lifetime: u64) -> Carrier {
        let config = DigestConfig {
            realm: realm.to_owned(),
            nonce_lifetime: secs(nonce_lifetime),
            max_nonces: 64,
            algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
        };
        Carrier {
            auth: Authenticator::new(config, epoch, [3; 32]),
            password: PASSWORD.to_owned(),
            min_expires: 60,
            proxy: false,
            next: Next::Normal,
            received: Vec::new(),
        }
    }

    fn handle(&mut self, now: Instant, bytes: &[u8]) -> Option<Vec<u8>> {
        let Ok(Message::Request(req)) = parse(bytes) else {
            panic!("not a request:\n{}", String::from_utf8_lossy(bytes));
        };
        self.received.push(req.clone());
        let reply = |status| {
            let mut r = Response::to_request(&req, status);
            r.to.set_tag("carrier");
            r
        };
        let response = match std::mem::replace(&mut self.next, Next::Normal) {
            Next::Silent => return None,
            Next::Status(status, headers) => {
                let mut r = reply(status);
                for (n, v) in headers {
                    r.headers.push(n, v);
                }
                r
            }
            Next::Normal => {
                let lookup = |u: &str| (u == USER).then(|| self.password.clone());
                let verified = if self.proxy {
                    match req.headers.get(&HeaderName::ProxyAuthorization) {
                        Some(v) => self.auth.verify(now, "REGISTER", v, lookup),
                        None => Err(AuthError::Missing),
                    }
                } else {
                    self.auth.verify_request(now, &req, lookup)
                };
                match verified {
                    Err(e) => {
                        let (status, name) = if self.proxy {
                            (407, HeaderName::ProxyAuthenticate)
                        } else {
                            (401, HeaderName::WwwAuthenticate)
                        };
                        let mut r = reply(status);
                        for c in self.auth.challenge(now, e.is_stale()) {
                            r.headers.push(name.clone(), c);
                        }
                        r
                    }
                    Ok(v) => {
                        assert_eq!(v.uri, "sip:carrier.example:5060");
                        let expires: u64 = req
                            .headers
                            .get(&HeaderName::Expires)
                            .and_then(|e| e.parse().ok())
                            .expect("Expires header");
                        if expires != 0 && expires < self.min_expires {
                            let mut r = reply(423);
                            r.headers
                                .push(HeaderName::MinExpires, self.min_expires.to_string());
                            r
                        } else {
                            let mut r = reply(200);
                            if expires > 0 {
                                let contact =
                                    req.headers.get(&HeaderName::Contact).expect("Contact");
                                r.headers.push(
                                    HeaderName::Contact,
                                    format!("{contact};expires={expires}"),
                                );
                            }
                            r
                        }
                    }
                }
            }
        };
        Some(response.to_bytes())
    }
}

/// The registration, the carrier, and the virtual clock.
struct World {
    start: Instant,
    now: Instant,
    reg: Registration,
    carrier: Carrier,
}

impl World {
    fn new(password: &str, realm: Option<&str>, carrier_realm: &str, lifetime: u64) -> World {
        let start = epoch();
        World {
            start,
            now: start,
            reg: Registration::new(config(password, realm), start, 0x5eed_1234_abcd_0001),
            carrier: Carrier::new(start, carrier_realm, lifetime),
        }
    }

    fn standard() -> World {
        World::new(PASSWORD, Some(REALM), REALM, 300)
    }

    /// Seconds since the start.
    fn at(&self) -> u64 {
        (self.now - self.start).as_secs()
    }

    fn next_due(&self) -> Option<u64> {
        self.reg.poll_timeout().map(|t| (t - self.start).as_secs())
    }

    /// Sends every REGISTER due now, delivering the carrier's answers (or a
    /// timeout 32 s later, as Timer F would), until nothing is due now.
    /// Returns how many REGISTERs went out.
    fn exchange(&mut self) -> usize {
        let mut sent = 0;
        while let Some(req) = self.reg.poll_request(self.now) {
            sent += 1;
            assert!(sent < 20, "runaway REGISTER loop");
            match self.carrier.handle(self.now, &req.to_bytes()) {
                Some(bytes) => {
                    let Ok(Message::Response(r)) = parse(&bytes) else {
                        panic!("carrier sent garbage");
                    };
                    self.reg.on_response(self.now, &r);
                }
                None => {
                    self.now += secs(32);
                    self.reg.on_timeout(self.now);
                }
            }
        }
        sent
    }

    /// Jumps to the next deadline and exchanges there.
    fn advance(&mut self) -> usize {
        let due = self.reg.poll_timeout().expect("something is scheduled");
        assert!(due >= self.now, "deadline in the past");
        self.now = due;
        self.exchange()
    }

    fn last(&self) -> &Request {
        self.carrier.received.last().expect("a REGISTER was sent")
    }

    fn failing(&self) -> (FailureReason, u64, u32) {
        match self.reg.status() {
            RegistrationStatus::Failing {
                reason,
                retry_at,
                failures,
            } => (
                reason.clone(),
                (*retry_at - self.start).as_secs(),
                *failures,
            ),
            other => panic!("expected Failing, got {other:?}"),
        }
    }

    fn registered_until(&self) -> u64 {
        match self.reg.status() {
            RegistrationStatus::Registered { until } => (*until - self.start).as_secs(),
            other => panic!("expected Registered, got {other:?}"),
        }
    }
}

fn header<'r>(r: &'r Request, name: &HeaderName) -> Option<&'r str> {
    r.headers.get(name)
}

#[test]
fn challenge_register_then_refresh_at_90s_reusing_the_nonce() {
    let mut w = World::standard();
    assert_eq!(w.reg.status(), &RegistrationStatus::Registering);
    assert_eq!(w.next_due(), Some(0), "the first REGISTER is due at once");
    assert_eq!(w.exchange(), 2, "REGISTER, 401, authorized REGISTER, 200");
    let [first, second] = w.carrier.received.clone().try_into().expect("two requests");
    let (first, second) = (&first, &second);
    assert!(header(first, &HeaderName::Authorization).is_none());
    let auth = header(second, &HeaderName::Authorization).expect("authorized");
    assert!(
        auth.contains("algorithm=SHA-256"),
        "strongest offered: {auth}"
    );
    assert!(auth.contains("nc=00000001"), "{auth}");
    assert_eq!(first.call_id, second.call_id);
    assert_eq!((first.cseq.seq, second.cseq.seq), (1, 2));
    assert_ne!(first.top_via().branch(), second.top_via().branch());
    assert!(first.top_via().has_rfc3261_branch());
    assert_eq!(header(second, &HeaderName::Expires), Some("120"));
    assert_eq!(
        header(second, &HeaderName::Contact),
        Some("<sip:trunk1@198.51.100.7:5060>")
    );
    assert_eq!(first.from.tag(), second.from.tag());
    assert!(first.from.tag().is_some() && first.to.tag().is_none());
    assert_eq!(w.registered_until(), 120);

    // Refresh at min(80 %, expiry - 30 s) of 120 s.
    assert_eq!(w.next_due(), Some(90));
    assert_eq!(
        w.advance(),
        1,
        "the reused nonce is still good: one transaction"
    );
    let refresh = w.last();
    assert_eq!(refresh.call_id, first.call_id);
    assert_eq!(refresh.cseq.seq, 3);
    let auth = header(refresh, &HeaderName::Authorization).expect("preemptively authorized");
    assert!(auth.contains("nc=00000002"), "{auth}");
    assert_eq!(w.registered_until(), 90 + 120);
    assert_eq!(w.next_due(), Some(180));
}

#[test]
fn stale_nonce_is_answered_again_transparently() {
    // Nonces live 60 s, the refresh comes at 90 s.
    let mut w = World::new(PASSWORD, Some(REALM), REALM, 60);
    w.exchange();
    assert_eq!(w.registered_until(), 120);
    assert_eq!(w.advance(), 2, "stale 401, then a fresh answer");
    let n = w.carrier.received.len();
    let retry = &w.carrier.received[n - 1];
    let stale = &w.carrier.received[n - 2];
    assert_ne!(
        header(retry, &HeaderName::Authorization),
        header(stale, &HeaderName::Authorization)
    );
    assert!(header(retry, &HeaderName::Authorization).is_some_and(|a| a.contains("nc=00000001")));
    assert_eq!(w.registered_until(), 90 + 120);
}

#[test]
fn wrong_password_fails_after_one_answer_and_backs_off_until_success_resets() {
    let mut w = World::new("wrong", Some(REALM), REALM, 300);
    assert_eq!(w.exchange(), 2, "challenge answered once, then given up");
    assert_eq!(w.failing(), (FailureReason::BadCredentials, 2, 1));
    let mut delays = Vec::new();
    for _ in 0..9 {
        let before = w.at();
        assert_eq!(w.advance(), 2, "each retry starts without credentials");
        let (reason, retry_at, _) = w.failing();
        assert_eq!(reason, FailureReason::BadCredentials);
        delays.push(retry_at - w.at());
        assert!(w.at() > before);
    }
    assert_eq!(delays, [4, 8, 16, 32, 64, 128, 256, 300, 300]);
    assert_eq!(w.failing().2, 10);

    // The carrier is fixed to our (wrong) password: success resets the count.
    w.carrier.password = "wrong".to_owned();
    w.advance();
    let start = w.at();
    assert_eq!(w.registered_until(), start + 120);
    w.carrier.next = Next::Silent;
    w.advance();
    let (reason, retry_at, failures) = w.failing();
    assert_eq!((reason, failures), (FailureReason::Timeout, 1));
    assert_eq!(retry_at - w.at(), 2, "back to the first step");
}

#[test]
fn interval_too_brief_retries_at_once_with_min_expires() {
    let mut w = World::standard();
    w.carrier.min_expires = 600;
    assert_eq!(w.exchange(), 3, "401, 423, then the bigger expiry");
    let last = w.last();
    assert_eq!(header(last, &HeaderName::Expires), Some("600"));
    assert!(header(last, &HeaderName::Authorization).is_some_and(|a| a.contains("nc=00000002")));
    assert_eq!(w.registered_until(), 600);
    assert_eq!(w.next_due(), Some(480));
    w.advance();
    assert_eq!(header(w.last(), &HeaderName::Expires), Some("600"), "kept");
}

#[test]
fn silent_registrar_is_a_timeout_then_retried_with_back_off() {
    let mut w = World::standard();
    w.carrier.next = Next::Silent;
    assert_eq!(w.exchange(), 1);
    assert_eq!(w.at(), 32);
    assert_eq!(w.failing(), (FailureReason::Timeout, 34, 1));
    assert_eq!(w.next_due(), Some(34));
    assert_eq!(w.advance(), 2);
    assert_eq!(w.registered_until(), 34 + 120);
}

#[test]
fn service_unavailable_with_retry_after_retries_then() {
    let mut w = World::standard();
    w.carrier.next = Next::Status(
        503,
        vec![(HeaderName::RetryAfter, "60 (maintenance)".into())],
    );
    assert_eq!(w.exchange(), 1);
    let (reason, retry_at, failures) = w.failing();
    assert_eq!(
        reason,
        FailureReason::Rejected {
            status: 503,
            reason: "Service Unavailable".into()
        }
    );
    assert_eq!((retry_at, failures), (60, 1));
    assert_eq!(w.advance(), 2);
    assert_eq!(w.at(), 60);
    assert_eq!(w.registered_until(), 180);
}

#[test]
fn forbidden_and_server_errors_back_off_without_retry_after() {
    let mut w = World::standard();
    w.carrier.next = Next::Status(403, vec![]);
    w.exchange();
    assert_eq!(w.failing().1, 2);
    w.carrier.next = Next::Status(500, vec![]);
    w.advance();
    let (reason, retry_at, failures) = w.failing();
    assert!(matches!(
        reason,
        FailureReason::Rejected { status: 500, .. }
    ));
    assert_eq!((retry_at, failures), (2 + 4, 2));
}

#[test]
fn challenge_for_another_realm_fails_without_credentials_sent() {
    let mut w = World::new(PASSWORD, Some(REALM), "evil.example", 300);
    assert_eq!(w.exchange(), 1, "the challenge is not answered");
    assert_eq!(
        w.failing(),
        (FailureReason::UnexpectedRealm("evil.example".into()), 2, 1)
    );
    w.advance();
    assert!(
        w.carrier
            .received
            .iter()
            .all(|r| header(r, &HeaderName::Authorization).is_none()),
        "no password-derived response ever left"
    );
}

#[test]
fn without_a_configured_realm_any_realm_is_answered() {
    let mut w = World::new(PASSWORD, None, "any.example", 300);
    w.exchange();
    assert_eq!(w.registered_until(), 120);
}

#[test]
fn proxy_challenge_is_answered_with_proxy_authorization() {
    let mut w = World::standard();
    w.carrier.proxy = true;
    assert_eq!(w.exchange(), 2);
    let last = w.last();
    assert!(header(last, &HeaderName::ProxyAuthorization).is_some());
    assert!(header(last, &HeaderName::Authorization).is_none());
    assert_eq!(w.registered_until(), 120);
}

#[test]
fn unregister_sends_expires_zero_then_unregistered() {
    let mut w = World::standard();
    w.exchange();
    w.now += secs(10);
    w.reg.unregister(w.now);
    assert_eq!(w.next_due(), Some(10));
    assert_eq!(w.exchange(), 1);
    let last = w.last();
    assert_eq!(header(last, &HeaderName::Expires), Some("0"));
    assert!(header(last, &HeaderName::Authorization).is_some());
    assert_eq!(last.cseq.seq, 3);
    assert_eq!(w.reg.status(), &RegistrationStatus::Unregistered);
    assert_eq!(w.reg.poll_timeout(), None);
    assert!(w.reg.poll_request(w.now + secs(1000)).is_none());
}

#[test]
fn unregister_during_a_refresh_waits_for_its_answer() {
    let mut w = World::standard();
    w.exchange();
    w.now += secs(90);
    let refresh = w.reg.poll_request(w.now).expect("refresh due");
    w.reg.unregister(w.now);
    assert!(
        w.reg.poll_request(w.now).is_none(),
        "one REGISTER at a time"
    );
    assert_eq!(w.reg.poll_timeout(), None);
    let bytes = w
        .carrier
        .handle(w.now, &refresh.to_bytes())
        .expect("answer");
    let Ok(Message::Response(r)) = parse(&bytes) else {
        panic!()
    };
    w.reg.on_response(w.now, &r);
    assert_eq!(w.exchange(), 1);
    assert_eq!(header(w.last(), &HeaderName::Expires), Some("0"));
    assert_eq!(w.reg.status(), &RegistrationStatus::Unregistered);
}

#[test]
fn responses_with_another_call_id_or_cseq_are_ignored() {
    let mut w = World::standard();
    let req = w.reg.poll_request(w.now).expect("first REGISTER");
    let ok = |f: &dyn Fn(&mut Response)| {
        let mut r = Response::to_request(&req, 200);
        f(&mut r);
        r
    };
    w.reg
        .on_response(w.now, &ok(&|r| r.call_id = "other".into()));
    w.reg.on_response(w.now, &ok(&|r| r.cseq.seq += 1));
    w.reg.on_response(w.now, &ok(&|r| r.status = 100));
    assert_eq!(w.reg.status(), &RegistrationStatus::Registering);
    assert!(w.reg.poll_request(w.now).is_none(), "still waiting");
    w.reg.on_response(w.now, &ok(&|_| ()));
    assert_eq!(w.registered_until(), 120, "our own request's expiry");
    // A late duplicate of that 200 changes nothing.
    w.reg.on_response(w.now + secs(1), &ok(&|_| ()));
    assert_eq!(w.registered_until(), 120);
}

#[test]
fn granted_expiry_comes_from_our_contact_else_the_expires_header() {
    let mut w = World::standard();
    let req = w.reg.poll_request(w.now).expect("REGISTER");
    let mut r = Response::to_request(&req, 200);
    r.headers.push(
        HeaderName::Contact,
        "<sip:someone@192.0.2.9>;expires=9000, <sip:trunk1@198.51.100.7:5060>;expires=300",
    );
    r.headers.push(HeaderName::Expires, "50");
    w.reg.on_response(w.now, &r);
    assert_eq!(w.registered_until(), 300);

    w.now += secs(240);
    let req = w.reg.poll_request(w.now).expect("refresh");
    let mut r = Response::to_request(&req, 200);
    r.headers.push(HeaderName::Expires, "50");
    w.reg.on_response(w.now, &r);
    assert_eq!(w.registered_until(), 240 + 50);
    assert_eq!(
        w.next_due(),
        Some(240 + 20),
        "30 s before the end beats 80 %"
    );
}

#[test]
fn malformed_challenges_fail_cleanly() {
    for (challenge, expect_challenge_error) in [
        ("Basic realm=\"carrier.example\"", true),
        ("Digest realm=\"carrier.example\"", true),
        (
            "Digest realm=\"carrier.example\", nonce=\"n\", algorithm=SHA-1",
            true,
        ),
        (
            "Digest nonce=\"n\", realm=\"carrier.example\", qop=\"auth-int\"",
            true,
        ),
        (
            "Digest realm=\"carrier.example\", nonce=\"unterminated",
            true,
        ),
    ] {
        let mut w = World::standard();
        w.carrier.next = Next::Status(401, vec![(HeaderName::WwwAuthenticate, challenge.into())]);
        assert_eq!(w.exchange(), 1, "{challenge}");
        let (reason, _, _) = w.failing();
        assert_eq!(
            matches!(reason, FailureReason::Challenge(_)),
            expect_challenge_error,
            "{challenge}: {reason}"
        );
    }
    // A 401 with no challenge at all.
    let mut w = World::standard();
    w.carrier.next = Next::Status(401, vec![]);
    w.exchange();
    assert!(matches!(w.failing().0, FailureReason::Challenge(_)));
}

#[test]
fn repeated_nonce_is_bad_credentials() {
    let mut w = World::standard();
    let req = w.reg.poll_request(w.now).expect("REGISTER");
    let challenge = "Digest realm=\"carrier.example\", nonce=\"fixed\", qop=auth";
    let mut r = Response::to_request(&req, 401);
    r.headers.push(HeaderName::WwwAuthenticate, challenge);
    w.reg.on_response(w.now, &r);
    let req = w.reg.poll_request(w.now).expect("answer");
    let mut r = Response::to_request(&req, 401);
    r.headers.push(
        HeaderName::WwwAuthenticate,
        format!("{challenge}, stale=true"),
    );
    w.reg.on_response(w.now, &r);
    assert_eq!(w.failing().0, FailureReason::BadCredentials);
}
