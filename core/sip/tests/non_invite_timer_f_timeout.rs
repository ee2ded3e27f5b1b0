//! A non-INVITE request nobody answers: timer E retransmits it at T1
//! doubling up to T2, every T2 once a provisional came, and timer F (64*T1)
//! ends the transaction with a timeout, provisional or not.

mod support;

use std::time::Duration;

use support::{Loss, Side, Sim, answer, is_request, request};
use waihu_sip::Transport;
use waihu_sip::message::Method;
use waihu_sip::transaction::{Key, Timers, TransactionEvent, TransactionState};

#[test]
fn unanswered_options_follows_timer_e_capped_at_t2_and_times_out_on_timer_f() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_all(is_request);
    let key = sim
        .client
        .tx
        .send_request(
            sim.now(),
            request(Method::Options, 1, Transport::Udp),
            sim.server_peer(),
        )
        .expect("OPTIONS starts");
    assert_eq!(
        sim.client.tx.client_state(key),
        Some(TransactionState::Trying)
    );

    sim.run_until_idle();

    // Intervals 0.5, 1, 2, 4, 4, 4... s.
    let sent = sim.sent_ms(Side::Client, |w| w.is_request(&Method::Options));
    assert_eq!(
        sent,
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
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
}

#[test]
fn custom_t1_and_t2_change_the_schedule() {
    let timers = Timers {
        t1: Duration::from_millis(200),
        t2: Duration::from_secs(1),
        t4: Duration::from_secs(5),
    };
    let mut sim = Sim::with(Transport::Udp, timers, 16);
    sim.client.loss = Loss::none().drop_all(is_request);
    let key = sim
        .client
        .tx
        .send_request(
            sim.now(),
            request(Method::Register, 2, Transport::Udp),
            sim.server_peer(),
        )
        .expect("REGISTER starts");

    sim.run_until_idle();

    let sent = sim.sent_ms(Side::Client, |w| w.is_request(&Method::Register));
    let mut expected = vec![0, 200, 600];
    expected.extend((0..=11).map(|k| 1_400 + 1_000 * k));
    assert_eq!(sent, expected);
    assert_eq!(
        sim.events_ms(Side::Client).first(),
        Some(&(12_800, TransactionEvent::Timeout { key }))
    );
}

#[test]
fn after_a_provisional_timer_e_fires_every_t2_and_timer_f_still_runs() {
    let mut sim = Sim::new(Transport::Udp);
    let key = sim
        .client
        .tx
        .send_request(
            sim.now(),
            request(Method::Options, 3, Transport::Udp),
            sim.server_peer(),
        )
        .expect("OPTIONS starts");
    let (server_key, options) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_key, answer(&options, 100, None))
        .expect("100 accepted");
    let (_, trying) = sim.expect_response(Side::Client);
    assert_eq!(trying.status, 100);
    assert_eq!(
        sim.client.tx.client_state(key),
        Some(TransactionState::Proceeding)
    );

    sim.run_until_idle();

    // The E armed in Trying still fires at 0.5 s; from then on, every T2.
    let sent = sim.sent_ms(Side::Client, |w| w.is_request(&Method::Options));
    assert_eq!(
        sent,
        [0, 500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500]
    );
    // Each retransmission got the 100 again, and only one reached the server TU.
    assert_eq!(
        sim.count_sent(Side::Server, |w| w.is_response(100, &Method::Options)),
        9
    );
    assert_eq!(sim.server.absorbed, 8);
    assert!(sim.server.inbox.is_empty());
    let events = sim.events_ms(Side::Client);
    assert_eq!(
        events.first(),
        Some(&(32_000, TransactionEvent::Timeout { key }))
    );
}
