//! The registrar and UAS of the real `waihu` binary, driven by `sipp` and by
//! a raw socket: digest registration and removal, OPTIONS, an INVITE to a
//! user who is not an agent, and the ban after repeated wrong passwords.
//! Every test starts its own server on its own ports.

mod common;

use std::time::Duration;

use common::sip::{Peer, Read, Request, Response, Transport};
use common::sipp::Sipp;
use common::{ALICE, BOB, Config, DOMAIN, Server, free_port};

/// How long an answer may take before the server counts as silent.
const SILENCE: Duration = Duration::from_secs(2);

fn register_and_unregister(transport: Transport) {
    let server = Server::start(&Config::default());
    // The same local port for both runs: the same Contact, so the
    // unregistration removes exactly the binding made first.
    let port = free_port();

    Sipp::new("register.xml", transport, ALICE.id)
        .credentials(ALICE.id, ALICE.password, &format!("sip:{DOMAIN}"))
        .local_port(port)
        .run(&server)
        .assert_success("register.xml");
    server.wait_for("registered_contacts == 1", Duration::from_secs(2), |s| {
        s.registered_contacts() == 1
    });
    assert_eq!(server.metric("waihu_sip_registrations"), 1.0);

    Sipp::new("unregister.xml", transport, ALICE.id)
        .credentials(ALICE.id, ALICE.password, &format!("sip:{DOMAIN}"))
        .local_port(port)
        .run(&server)
        .assert_success("unregister.xml");
    server.wait_for("registered_contacts == 0", Duration::from_secs(2), |s| {
        s.registered_contacts() == 0
    });
    assert_eq!(server.metric("waihu_sip_auth_failures_total"), 0.0);
    server.stop();
}

#[test]
fn register_with_digest_succeeds_udp() {
    register_and_unregister(Transport::Udp);
}

#[test]
fn register_with_digest_succeeds_tcp() {
    register_and_unregister(Transport::Tcp);
}

fn options_answered_with_allow(transport: Transport) {
    let server = Server::start(&Config::default());
    Sipp::new("options.xml", transport, ALICE.id)
        .credentials(ALICE.id, ALICE.password, &format!("sip:{DOMAIN}"))
        .run(&server)
        .assert_success("options.xml");
    server.stop();
}

#[test]
fn options_answered_with_allow_udp() {
    options_answered_with_allow(Transport::Udp);
}

#[test]
fn options_answered_with_allow_tcp() {
    options_answered_with_allow(Transport::Tcp);
}

fn invite_to_unknown_user_is_404_after_auth(transport: Transport) {
    let server = Server::start(&Config::default());
    // Not an agent: BOB is 1002, ALICE 1001.
    let callee = "9999";
    Sipp::new("invite_unknown.xml", transport, callee)
        .credentials(ALICE.id, ALICE.password, &format!("sip:{callee}@{DOMAIN}"))
        .run(&server)
        .assert_success("invite_unknown.xml");
    if transport == Transport::Tcp {
        // Over TCP a server transaction ends as soon as it is finished
        // (timers I and J are zero), but an INVITE one only once its ACK
        // has matched; unmatched, it would wait for timer H (64*T1 = 32 s).
        server.wait_for(
            "every transaction to end (ACKs matched)",
            Duration::from_secs(3),
            |s| s.metric("waihu_sip_transactions_active") == 0.0,
        );
    }
    server.stop();
}

#[test]
fn invite_to_unknown_user_is_404_after_auth_udp() {
    invite_to_unknown_user_is_404_after_auth(Transport::Udp);
}

#[test]
fn invite_to_unknown_user_is_404_after_auth_tcp() {
    invite_to_unknown_user_is_404_after_auth(Transport::Tcp);
}

/// A 401's shape with the per-challenge nonce taken out: status line,
/// header names in order, and each challenge's parameters but the nonce.
type Shape = (String, Vec<String>, Vec<Vec<(String, String)>>);

fn challenge_shape(r: &Response) -> Shape {
    let names = r
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    let challenges = r
        .challenges()
        .into_iter()
        .map(|c| c.params.into_iter().filter(|(n, _)| n != "nonce").collect())
        .collect();
    (r.status_line.clone(), names, challenges)
}

#[test]
fn wrong_password_is_challenged_then_banned() {
    const MAX: u32 = 3;
    let server = Server::start(&Config {
        auth_failures: (MAX, 60, 600),
        ..Config::default()
    });
    let mut peer = Peer::connect(Transport::Udp, server.udp);
    let local = peer.local();

    // A control: this client's SHA-256 digest is right, so the failures
    // below come from the passwords alone. Successes are not failures.
    let register = Request::register(BOB.id, local, Transport::Udp);
    let first = peer
        .exchange(&register)
        .expect("no answer to a REGISTER without credentials");
    assert_eq!(first.status, 401, "REGISTER without credentials:\n{first}");
    let ok = peer
        .exchange_authorized(
            &register.next(),
            &first.challenge("SHA-256"),
            BOB.id,
            BOB.password,
        )
        .expect("no answer to a REGISTER with the right SHA-256 credentials");
    assert_eq!(
        ok.status, 200,
        "REGISTER with the right SHA-256 credentials:\n{ok}"
    );

    // Known user, wrong password; unknown user; known user again. Each
    // attempt answers the challenge of the response before it.
    let attempts = [
        (ALICE.id, "not-alices-password"),
        ("nobody", "whatever-password"),
        (ALICE.id, "still-not-alices-password"),
    ];
    let mut shapes = Vec::new();
    for (i, (user, password)) in attempts.iter().enumerate() {
        let register = Request::register(user, local, Transport::Udp);
        let first = peer
            .exchange(&register)
            .expect("no answer to a REGISTER without credentials");
        assert_eq!(first.status, 401, "REGISTER without credentials:\n{first}");
        let challenge = first.challenge("SHA-256");
        let answer = peer
            .exchange_authorized(&register.next(), &challenge, user, password)
            .unwrap_or_else(|| {
                panic!(
                    "attempt {}: no answer to wrong credentials for {user}",
                    i + 1
                )
            });
        assert_eq!(
            answer.status,
            401,
            "attempt {}: wrong credentials for {user}:\n{answer}",
            i + 1
        );
        let fresh = answer.challenge("SHA-256");
        assert_ne!(
            fresh.nonce, challenge.nonce,
            "the failed attempt must get a fresh nonce"
        );
        assert!(
            !fresh.stale,
            "a wrong password is not a stale nonce:\n{answer}"
        );
        shapes.push((*user, challenge_shape(&answer)));
    }
    // An unknown user must not be told apart from a wrong password.
    assert_eq!(
        shapes[0].1, shapes[1].1,
        "the 401 for user {} (wrong password) and for unknown user {} differ",
        shapes[0].0, shapes[1].0
    );
    assert_eq!(
        server.metric("waihu_sip_auth_failures_total"),
        f64::from(MAX)
    );
    assert_eq!(server.metric("waihu_sip_bans_total"), 1.0);
    // Only the control's binding: no wrong password ever registered.
    assert_eq!(server.registered_contacts(), 1);

    // Banned: nothing from 127.0.0.1 is answered any more, on any transport.
    let options = Request::new("OPTIONS", &format!("sip:{DOMAIN}"));
    let bytes = options.to_bytes(Transport::Udp, local);
    peer.send(&bytes);
    match peer.read(SILENCE) {
        Read::Silent => {}
        other => panic!("a banned source got an answer over UDP: {other:?}"),
    }
    let mut fresh_udp = Peer::connect(Transport::Udp, server.udp);
    assert!(
        fresh_udp.exchange(&options.next()).is_none(),
        "a banned IP got an answer from a new UDP port"
    );
    let mut tcp = Peer::connect(Transport::Tcp, server.tcp);
    let bytes = options.next().next().to_bytes(Transport::Tcp, tcp.local());
    tcp.send(&bytes);
    match tcp.read(SILENCE) {
        Read::Silent | Read::Closed => {}
        Read::Message(m) => panic!(
            "a banned IP got an answer over TCP:\n{}",
            String::from_utf8_lossy(&m)
        ),
    }
    // The HTTP side is not SIP and stays reachable.
    assert_eq!(server.metric("waihu_sip_bans_total"), 1.0);
    server.stop();
}

/// The same ban, reached by a real client: sipp answers each challenge with
/// a wrong password and is refused every time; after `max` failures its
/// OPTIONS (with the right password) goes unanswered.
#[test]
fn wrong_password_from_sipp_is_refused_then_banned() {
    const MAX: u32 = 3;
    let server = Server::start(&Config {
        auth_failures: (MAX, 60, 600),
        ..Config::default()
    });
    let uri = format!("sip:{DOMAIN}");
    Sipp::new("register_rejected.xml", Transport::Udp, ALICE.id)
        .credentials(ALICE.id, "not-alices-password", &uri)
        .calls(MAX)
        .run(&server)
        .assert_success("register_rejected.xml");
    assert_eq!(
        server.metric("waihu_sip_auth_failures_total"),
        f64::from(MAX)
    );
    assert_eq!(server.metric("waihu_sip_bans_total"), 1.0);
    assert_eq!(server.registered_contacts(), 0);
    let banned = Sipp::new("options.xml", Transport::Udp, ALICE.id)
        .credentials(ALICE.id, ALICE.password, &uri)
        .timeout_secs(3)
        .run(&server);
    assert!(
        !banned.status.success(),
        "a banned source was answered:\n{}",
        banned.messages
    );
    server.stop();
}
