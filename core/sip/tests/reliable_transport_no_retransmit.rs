//! Over TCP the transport is reliable: no request or non-2xx response is
//! retransmitted, and timers D, I, J and K are zero, so transactions end as
//! soon as their last message is handled. The timeouts (B, F, H) still run.

mod support;

use support::{Loss, Side, Sim, answer, invite, is_ack, is_request, request};
use waihu_sip::Transport;
use waihu_sip::message::Method;
use waihu_sip::transaction::{Key, TransactionEvent, TransactionState};

#[test]
fn unanswered_requests_are_sent_once_and_still_time_out() {
    let mut sim = Sim::new(Transport::Tcp);
    sim.client.loss = Loss::none().drop_all(is_request);
    let now = sim.now();
    let peer = sim.server_peer();
    let inv = sim
        .client
        .tx
        .send_request(now, invite(1, Transport::Tcp), peer)
        .expect("INVITE starts");
    let opt = sim
        .client
        .tx
        .send_request(now, request(Method::Options, 2, Transport::Tcp), peer)
        .expect("OPTIONS starts");

    sim.run_until_idle();

    assert_eq!(
        sim.sent_ms(Side::Client, |w| w.is_request(&Method::Invite)),
        [0]
    );
    assert_eq!(
        sim.sent_ms(Side::Client, |w| w.is_request(&Method::Options)),
        [0]
    );
    let events = sim.events_ms(Side::Client);
    assert!(events.contains(&(32_000, TransactionEvent::Timeout { key: inv })));
    assert!(events.contains(&(32_000, TransactionEvent::Timeout { key: opt })));
}

#[test]
fn non_2xx_final_is_not_retransmitted_and_timer_h_still_fires() {
    let mut sim = Sim::new(Transport::Tcp);
    // A client that never ACKs (the TCP link does not lose: this is the peer).
    sim.client.loss = Loss::none().drop_all(is_ack);
    sim.client
        .tx
        .send_request(sim.now(), invite(3, Transport::Tcp), sim.server_peer())
        .expect("INVITE starts");
    let (key, inv) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&inv, 486, Some("srv")))
        .expect("486 accepted");

    sim.run_until_idle();

    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(486, &Method::Invite)),
        [10]
    );
    assert!(
        sim.events_ms(Side::Server)
            .contains(&(32_010, TransactionEvent::AckTimeout { key }))
    );
}

#[test]
fn completed_and_confirmed_end_at_once_over_tcp() {
    let mut sim = Sim::new(Transport::Tcp);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), invite(4, Transport::Tcp), sim.server_peer())
        .expect("INVITE starts");
    let (key, inv) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&inv, 603, Some("srv")))
        .expect("603 accepted");
    assert_eq!(
        sim.server.tx.server_state(key),
        Some(TransactionState::Completed)
    );
    let (_, decline) = sim.expect_response(Side::Client);
    assert_eq!(decline.status, 603);
    // Timer D is zero: the client transaction is gone once it sent its ACK.
    assert_eq!(sim.client.tx.client_state(inv_key), None);
    sim.run_until_idle();
    // Timer I is zero: the ACK ended the server transaction at 30 ms.
    assert!(sim.events_ms(Side::Server).contains(&(
        30,
        TransactionEvent::Terminated {
            key: Key::Server(key)
        }
    )));
    assert_eq!(sim.count_sent(Side::Client, |w| is_ack(&w.message)), 1);
    assert!(sim.client.tx.is_empty() && sim.server.tx.is_empty());
}

#[test]
fn non_invite_ends_with_its_final_response_over_tcp() {
    let mut sim = Sim::new(Transport::Tcp);
    let key = sim
        .client
        .tx
        .send_request(
            sim.now(),
            request(Method::Options, 5, Transport::Tcp),
            sim.server_peer(),
        )
        .expect("OPTIONS starts");
    let (server_key, options) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_key, answer(&options, 200, None))
        .expect("200 accepted");
    // Timer J is zero.
    assert_eq!(sim.server.tx.server_state(server_key), None);
    let (got, ok) = sim.expect_response(Side::Client);
    assert_eq!((got, ok.status), (key, 200));
    // Timer K is zero.
    assert_eq!(sim.client.tx.client_state(key), None);
    assert_eq!(sim.client.tx.poll_timeout(), None);
    assert_eq!(sim.server.tx.poll_timeout(), None);
}

#[test]
fn tcp_still_retransmits_a_2xx_until_its_ack() {
    // RFC 3261 13.3.1.4: 2xx retransmission is end to end, "independent of
    // whatever transport protocols are used" (a proxy may forward it on UDP).
    let mut sim = Sim::new(Transport::Tcp);
    sim.client.loss = Loss::none().drop_all(is_ack);
    sim.client
        .tx
        .send_request(sim.now(), invite(6, Transport::Tcp), sim.server_peer())
        .expect("INVITE starts");
    let (key, inv) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&inv, 200, Some("srv")))
        .expect("200 accepted");
    sim.run_until_idle();
    let sent = sim.sent_ms(Side::Server, |w| w.is_response(200, &Method::Invite));
    assert_eq!(sent.len(), 11);
    assert_eq!(sent[..4], [10, 510, 1_510, 3_510]);
    assert!(
        sim.events_ms(Side::Server)
            .contains(&(32_010, TransactionEvent::AckTimeout { key }))
    );
}
