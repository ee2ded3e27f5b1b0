//! The 2xx to an INVITE (RFC 3261 13.3.1.4, RFC 6026): the server
//! retransmits it, T1 doubling up to T2, until the ACK, which has a branch of
//! its own and is matched by Call-ID, CSeq number and tags. The ACK goes to
//! the TU; the transaction then stays in Accepted, absorbing INVITE
//! retransmissions, until timer L.

mod support;

use std::time::Duration;

use support::{Arrival, Loss, Side, Sim, ack_2xx, answer, invite, is_2xx, sip_uri, via};
use waihu_sip::Transport;
use waihu_sip::message::{Method, NameAddr, Request};
use waihu_sip::transaction::{
    Incoming, Key, Timers, TransactionEvent, TransactionState, Transactions, new_branch,
};

#[test]
fn the_2xx_is_retransmitted_until_the_ack_arrives() {
    let mut sim = Sim::new(Transport::Udp);
    sim.server.loss = Loss::none().drop_first(2, is_2xx);
    let inv = invite(1, Transport::Udp);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&received, 200, Some("srv")))
        .expect("200");
    assert_eq!(
        sim.server.tx.server_state(key),
        Some(TransactionState::Accepted)
    );

    let (k, ok) = sim.expect_response(Side::Client);
    assert_eq!((k, ok.status), (inv_key, 200));
    assert_eq!(sim.elapsed(), Duration::from_millis(1_520), "third copy");
    let ack = ack_2xx(&mut sim, &inv, &ok, 2);
    assert_ne!(
        ack.via[0].branch(),
        inv.via[0].branch(),
        "the 2xx ACK has its own branch"
    );

    let (at, arrival) = sim.next_arrival(Side::Server).expect("the ACK");
    assert_eq!(at, Duration::from_millis(1_530));
    let Arrival::Request(Incoming::Ack(got)) = arrival else {
        panic!("expected the ACK, got {arrival:?}");
    };
    assert_eq!(got.cseq.seq, inv.cseq.seq);

    sim.run_until_idle();
    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(200, &Method::Invite)),
        [10, 510, 1_510],
        "no copy after the ACK"
    );
    // Meanwhile the client retransmitted its INVITE twice: absorbed silently.
    assert_eq!(
        sim.sent_ms(Side::Client, |w| w.is_request(&Method::Invite)),
        [0, 500, 1_500]
    );
    assert_eq!(sim.server.absorbed, 2);
    assert!(sim.server.inbox.is_empty());
    // Timer L ends the transaction without an AckTimeout.
    assert_eq!(
        sim.events_ms(Side::Server),
        [(
            32_010,
            TransactionEvent::Terminated {
                key: Key::Server(key)
            }
        )]
    );
    // Timer M (64*T1 after the 200 arrived) ends the client side.
    assert!(sim.events_ms(Side::Client).contains(&(
        33_520,
        TransactionEvent::Terminated {
            key: Key::Client(inv_key)
        }
    )));
}

#[test]
fn ack_retransmissions_after_the_first_are_absorbed() {
    let mut sim = Sim::new(Transport::Udp);
    let inv = invite(3, Transport::Udp);
    sim.client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&received, 200, Some("srv")))
        .expect("200");
    let (_, ok) = sim.expect_response(Side::Client);
    let ack = ack_2xx(&mut sim, &inv, &ok, 4);
    let peer = sim.server_peer();
    sim.client.tx.send_ack(&ack, peer);
    sim.run_until(Duration::from_secs(1));
    let acks: Vec<_> = sim
        .server
        .inbox
        .iter()
        .filter(|(_, a)| matches!(a, Arrival::Request(Incoming::Ack(_))))
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(sim.server.absorbed, 1);
}

#[test]
fn an_ack_matching_no_transaction_goes_to_the_tu() {
    let sim = Sim::new(Transport::Udp);
    let mut from = NameAddr::new(sip_uri("alice", support::CLIENT_ADDR));
    from.set_tag("a");
    let mut to = NameAddr::new(sip_uri("bob", support::SERVER_ADDR));
    to.set_tag("b");
    let ack = Request::new(
        Method::Ack,
        sip_uri("bob", support::SERVER_ADDR),
        via(Transport::Udp, support::CLIENT_ADDR, &new_branch(9)),
        from,
        to,
        "stray@192.0.2.1",
        5,
    );
    let mut tx = Transactions::new(Timers::default(), 8);
    let now = sim.now();
    let peer = sim.client_peer();
    assert!(matches!(tx.on_request(now, ack, peer), Incoming::Ack(_)));
    assert!(tx.is_empty(), "an ACK never creates a transaction");
    assert_eq!(tx.poll_transmit(), None);
}

#[test]
fn an_ack_with_another_to_tag_does_not_stop_the_retransmissions() {
    let mut sim = Sim::new(Transport::Udp);
    let inv = invite(5, Transport::Udp);
    sim.client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&received, 200, Some("srv")))
        .expect("200");
    let (_, mut ok) = sim.expect_response(Side::Client);
    // An ACK for some other fork's 2xx: same Call-ID, CSeq and From tag.
    ok.to.set_tag("other-fork");
    ack_2xx(&mut sim, &inv, &ok, 6);
    let (_, arrival) = sim.next_arrival(Side::Server).expect("the ACK");
    assert!(matches!(arrival, Arrival::Request(Incoming::Ack(_))));
    sim.run_until(Duration::from_secs(2));
    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(200, &Method::Invite)),
        [10, 510, 1_510]
    );
}
