//! An INVITE nobody answers: timer A retransmits it at T1, 2*T1, 4*T1...
//! without a cap, and timer B (64*T1) ends the transaction with a timeout.

mod support;

use std::time::Duration;

use support::{Loss, Side, Sim, invite, is_request};
use waihu_sip::Transport;
use waihu_sip::message::Method;
use waihu_sip::transaction::{Key, Timers, TransactionEvent, TransactionState};

#[test]
fn unanswered_invite_follows_timer_a_and_times_out_on_timer_b() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_all(is_request);
    let key = sim
        .client
        .tx
        .send_request(sim.now(), invite(1, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    assert_eq!(
        sim.client.tx.client_state(key),
        Some(TransactionState::Calling)
    );

    sim.run_until_idle();

    let sent = sim.sent_ms(Side::Client, |w| w.is_request(&Method::Invite));
    assert_eq!(sent, [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    assert_eq!(
        sim.events_ms(Side::Client),
        [
            (32_000, TransactionEvent::Timeout { key }),
            (
                32_000,
                TransactionEvent::Terminated {
                    key: Key::Client(key)
                }
            ),
        ]
    );
    assert!(sim.client.tx.is_empty());
    assert!(sim.client.inbox.is_empty(), "no response was invented");
    assert_eq!(sim.client.tx.client_state(key), None);
}

#[test]
fn custom_t1_scales_the_whole_schedule() {
    let timers = Timers {
        t1: Duration::from_millis(100),
        ..Timers::default()
    };
    let mut sim = Sim::with(Transport::Udp, timers, 16);
    sim.client.loss = Loss::none().drop_all(is_request);
    let key = sim
        .client
        .tx
        .send_request(sim.now(), invite(2, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");

    sim.run_until_idle();

    let sent = sim.sent_ms(Side::Client, |w| w.is_request(&Method::Invite));
    assert_eq!(sent, [0, 100, 300, 700, 1_500, 3_100, 6_300]);
    assert_eq!(
        sim.events_ms(Side::Client).first(),
        Some(&(6_400, TransactionEvent::Timeout { key }))
    );
}

#[test]
fn a_provisional_response_stops_timer_a_and_timer_b() {
    let mut sim = Sim::new(Transport::Udp);
    let key = sim
        .client
        .tx
        .send_request(sim.now(), invite(3, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    // The server TU never answers: the transaction sends 100 Trying by itself
    // after 200 ms (RFC 3261 17.2.1), which reaches the client at 220 ms.
    let (_server_key, _invite) = sim.expect_new_request(Side::Server);
    let (got, trying) = sim.expect_response(Side::Client);
    assert_eq!(got, key);
    assert_eq!(trying.status, 100);
    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(100, &Method::Invite)),
        [210]
    );

    sim.run_until(Duration::from_secs(120));

    assert_eq!(
        sim.count_sent(Side::Client, |w| w.is_request(&Method::Invite)),
        1
    );
    assert_eq!(
        sim.client.tx.client_state(key),
        Some(TransactionState::Proceeding)
    );
    assert!(
        !sim.events_ms(Side::Client)
            .iter()
            .any(|(_, e)| matches!(e, TransactionEvent::Timeout { .. })),
        "timer B does not run in Proceeding"
    );
}
