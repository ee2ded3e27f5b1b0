//! Lost ACKs. A non-2xx final response is retransmitted on timer G (T1
//! doubling up to T2) until its ACK, which the client transaction re-sends
//! for every copy; without any ACK, timer H (64*T1) gives up. A 2xx is
//! retransmitted until the TU's ACK, or until timer L.

mod support;

use support::{Arrival, CLIENT_ADDR, Loss, Side, Sim, ack_2xx, answer, invite, is_ack, via};
use waihu_sip::Transport;
use waihu_sip::message::Message;
use waihu_sip::message::Method;
use waihu_sip::transaction::{Incoming, Key, TransactionEvent, TransactionState, new_branch};

#[test]
fn non_2xx_final_is_retransmitted_on_timer_g_until_timer_h() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_all(is_ack);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), invite(1, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&received, 486, Some("srv")))
        .expect("486");

    sim.run_until_idle();

    let sent = sim.sent_ms(Side::Server, |w| w.is_response(486, &Method::Invite));
    assert_eq!(
        sent,
        [
            10, 510, 1_510, 3_510, 7_510, 11_510, 15_510, 19_510, 23_510, 27_510, 31_510
        ]
    );
    let events = sim.events_ms(Side::Server);
    assert_eq!(
        events,
        [
            (32_010, TransactionEvent::AckTimeout { key }),
            (
                32_010,
                TransactionEvent::Terminated {
                    key: Key::Server(key)
                }
            ),
        ]
    );
    // Every copy reached the client in Completed and was ACKed again, but the
    // TU saw the 486 once.
    assert_eq!(sim.count_sent(Side::Client, |w| is_ack(&w.message)), 11);
    let (k, busy) = sim.expect_response(Side::Client);
    assert_eq!((k, busy.status), (inv_key, 486));
    assert!(sim.client.inbox.is_empty());
    assert!(sim.client.tx.is_empty() && sim.server.tx.is_empty());
}

#[test]
fn a_retransmitted_final_gets_a_new_ack_which_confirms() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_first(1, is_ack);
    sim.client
        .tx
        .send_request(sim.now(), invite(2, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&received, 480, Some("srv")))
        .expect("480");

    sim.run_until(std::time::Duration::from_secs(1));
    assert_eq!(
        sim.server.tx.server_state(key),
        Some(TransactionState::Confirmed)
    );
    sim.run_until_idle();

    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(480, &Method::Invite)),
        [10, 510]
    );
    assert_eq!(sim.sent_ms(Side::Client, |w| is_ack(&w.message)), [20, 520]);
    // Confirmed at 530 ms; timer I (T4 = 5 s) ends it, with no ACK timeout.
    assert_eq!(
        sim.events_ms(Side::Server),
        [(
            5_530,
            TransactionEvent::Terminated {
                key: Key::Server(key)
            }
        )]
    );
    assert_eq!(
        sim.server.absorbed, 1,
        "the ACK was absorbed, not handed up"
    );
    assert!(sim.server.inbox.is_empty());
}

#[test]
fn a_2xx_without_ack_is_retransmitted_until_timer_l_and_each_copy_reaches_the_tu() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_all(is_ack);
    let inv = invite(3, Transport::Udp);
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

    // The client TU ACKs every 2xx it sees (RFC 3261 13.2.2.4).
    let mut oks = 0;
    while let Some((_, arrival)) = sim.next_arrival(Side::Client) {
        let Arrival::Response(k, ok) = arrival else {
            panic!("unexpected {arrival:?}");
        };
        assert_eq!((k, ok.status), (inv_key, 200));
        oks += 1;
        ack_2xx(&mut sim, &inv, &ok, 100 + oks);
    }

    let sent = sim.sent_ms(Side::Server, |w| w.is_response(200, &Method::Invite));
    assert_eq!(
        sent,
        [
            10, 510, 1_510, 3_510, 7_510, 11_510, 15_510, 19_510, 23_510, 27_510, 31_510
        ]
    );
    assert_eq!(
        oks, 11,
        "the client transaction in Accepted passes every 2xx up"
    );
    assert_eq!(sim.count_sent(Side::Client, |w| is_ack(&w.message)), 11);
    assert!(
        sim.events_ms(Side::Server)
            .contains(&(32_010, TransactionEvent::AckTimeout { key }))
    );
    assert!(
        !sim.server
            .inbox
            .iter()
            .any(|(_, a)| matches!(a, Arrival::Request(Incoming::Ack(_))))
    );
}

/// The client transaction's own ACK for the INVITE of seed 4.
fn is_proper_ack_of_4(m: &Message) -> bool {
    matches!(m, Message::Request(r)
        if r.method == Method::Ack && r.top_via().branch() == Some(new_branch(4).as_str()))
}

#[test]
fn an_ack_for_a_non_2xx_with_a_new_branch_still_confirms_if_the_to_tag_is_ours() {
    // sipp's auth scenarios ACK a 401 with a fresh branch (RFC 3261
    // 17.1.1.3 says the INVITE's). Matched by Call-ID, CSeq, From tag and
    // our To tag, it stops the 401 instead of letting it repeat for 32 s.
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_all(is_proper_ack_of_4);
    let inv = invite(4, Transport::Udp);
    sim.client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE starts");
    let (key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    let challenge = answer(&received, 401, Some("srv"));
    sim.server
        .tx
        .respond(now, key, challenge.clone())
        .expect("401");
    sim.run_until(std::time::Duration::from_millis(100));

    // First an ACK with somebody else's To tag: not this transaction's.
    let mut stray = inv.clone();
    stray.method = Method::Ack;
    stray.cseq.method = Method::Ack;
    stray.via = vec![via(Transport::Udp, CLIENT_ADDR, &new_branch(40))];
    stray.to.set_tag("other");
    sim.client.tx.send_ack(&stray, sim.server_peer());
    sim.run_until(std::time::Duration::from_millis(200));
    assert_eq!(
        sim.server.tx.server_state(key),
        Some(TransactionState::Completed)
    );

    let mut ack = stray;
    ack.via = vec![via(Transport::Udp, CLIENT_ADDR, &new_branch(41))];
    ack.to = challenge.to.clone();
    sim.client.tx.send_ack(&ack, sim.server_peer());
    sim.run_until(std::time::Duration::from_millis(300));
    assert_eq!(
        sim.server.tx.server_state(key),
        Some(TransactionState::Confirmed)
    );
    sim.run_until_idle();
    assert_eq!(
        sim.sent_ms(Side::Server, |w| w.is_response(401, &Method::Invite)),
        [10],
        "no retransmission of the 401 after its ACK"
    );
    assert!(
        !sim.events_ms(Side::Server)
            .contains(&(32_010, TransactionEvent::AckTimeout { key }))
    );
}
