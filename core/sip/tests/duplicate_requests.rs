//! Retransmitted requests are absorbed by their server transaction: the TU
//! sees each request once, and the last response (if any) is sent again.
//! Matching is by branch, sent-by and method (RFC 3261 17.2.3).

mod support;

use support::{Loss, Side, Sim, answer, invite, is_response, request, via};
use waihu_sip::Transport;
use waihu_sip::message::{Message, Method};
use waihu_sip::transaction::{Incoming, Timers, Transactions};

fn is_180(m: &Message) -> bool {
    matches!(m, Message::Response(r) if r.status == 180)
}

#[test]
fn invite_retransmission_gets_the_last_provisional_again() {
    let mut sim = Sim::new(Transport::Udp);
    sim.server.loss = Loss::none().drop_first(1, is_180);
    sim.client
        .tx
        .send_request(sim.now(), invite(1, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&received, 180, Some("srv")))
        .expect("180");
    let (_, ringing) = sim.expect_response(Side::Client);
    assert_eq!(ringing.status, 180);

    assert_eq!(
        sim.sent_ms(Side::Client, |w| w.is_request(&Method::Invite)),
        [0, 500]
    );
    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(180, &Method::Invite)),
        [10, 510]
    );
    assert_eq!(sim.server.absorbed, 1);
    assert!(sim.server.inbox.is_empty(), "the TU saw the INVITE once");
}

#[test]
fn non_invite_retransmission_gets_the_final_response_again() {
    let mut sim = Sim::new(Transport::Udp);
    sim.server.loss = Loss::none().drop_first(1, is_response);
    let key = sim
        .client
        .tx
        .send_request(
            sim.now(),
            request(Method::Options, 2, Transport::Udp),
            sim.server_peer(),
        )
        .expect("OPTIONS starts");
    let (server_key, options) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_key, answer(&options, 200, None))
        .expect("200");
    let (k, ok) = sim.expect_response(Side::Client);
    assert_eq!((k, ok.status), (key, 200));
    sim.run_until_idle();

    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(200, &Method::Options)),
        [10, 510]
    );
    assert_eq!(sim.server.absorbed, 1);
    assert!(sim.server.inbox.is_empty() && sim.client.inbox.is_empty());
    assert!(sim.client.tx.is_empty() && sim.server.tx.is_empty());
}

#[test]
fn retransmissions_before_any_response_are_absorbed_silently() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client
        .tx
        .send_request(
            sim.now(),
            request(Method::Message, 3, Transport::Udp),
            sim.server_peer(),
        )
        .expect("MESSAGE starts");
    let (server_key, message) = sim.expect_new_request(Side::Server);
    sim.run_until(std::time::Duration::from_secs(2));
    assert_eq!(sim.server.absorbed, 2, "copies at 0.5 s and 1.5 s");
    assert!(
        sim.wire.iter().all(|w| w.from == Side::Client),
        "nothing to re-send yet"
    );
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_key, answer(&message, 202, None))
        .expect("202");
    let (_, accepted) = sim.expect_response(Side::Client);
    assert_eq!(accepted.status, 202);
}

#[test]
fn matching_uses_branch_sent_by_and_method() {
    let now = support::Clock::new().now();
    let peer = Sim::new(Transport::Udp).client_peer();
    let mut tx = Transactions::new(Timers::default(), 16);
    let original = request(Method::Options, 4, Transport::Udp);

    assert!(matches!(
        tx.on_request(now, original.clone(), peer),
        Incoming::New(..)
    ));
    assert!(matches!(
        tx.on_request(now, original.clone(), peer),
        Incoming::Absorbed
    ));

    // Same branch, another sent-by: another transaction.
    let mut elsewhere = original.clone();
    let branch = original.via[0].branch().expect("branch").to_owned();
    elsewhere.via[0] = via(Transport::Udp, "192.0.2.9:5060", &branch);
    assert!(matches!(
        tx.on_request(now, elsewhere, peer),
        Incoming::New(..)
    ));

    // Same branch and sent-by, another method: another transaction.
    let mut other_method = original.clone();
    other_method.method = Method::Info;
    other_method.cseq.method = Method::Info;
    assert!(matches!(
        tx.on_request(now, other_method, peer),
        Incoming::New(..)
    ));

    // Sent-by hosts compare case-insensitively; an absent port is 5060.
    let mut named = original.clone();
    named.via[0].host = waihu_sip::message::Host::Name("Client.Example.COM".into());
    named.via[0].port = None;
    assert!(matches!(
        tx.on_request(now, named.clone(), peer),
        Incoming::New(..)
    ));
    named.via[0].host = waihu_sip::message::Host::Name("client.example.com".into());
    named.via[0].port = Some(5060);
    assert!(matches!(
        tx.on_request(now, named, peer),
        Incoming::Absorbed
    ));

    assert_eq!(tx.len(), 4);
}
