//! CANCEL (RFC 3261 9.1, 9.2): sent only after a provisional response, and
//! racing the 200 to the INVITE. Whatever wins, the client gets the INVITE's
//! final response, the CANCEL gets 200 or 481, and nothing is left behind.

mod support;

use std::time::Duration;

use support::{Arrival, Loss, Side, Sim, ack_2xx, answer, invite, is_request, request};
use waihu_sip::Transport;
use waihu_sip::message::{Message, Method};
use waihu_sip::transaction::{Incoming, Key, TransactionError, TransactionEvent, TransactionState};

fn is_cancel(m: &Message) -> bool {
    matches!(m, Message::Request(r) if r.method == Method::Cancel)
}

#[test]
fn cancel_after_180_crossing_the_200() {
    let mut sim = Sim::new(Transport::Udp);
    sim.latency = Duration::from_millis(50);
    let inv = invite(1, Transport::Udp);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE starts");
    let (server_inv, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 180, Some("srv")))
        .expect("180");
    let (_, ringing) = sim.expect_response(Side::Client);
    assert_eq!(ringing.status, 180);
    assert_eq!(sim.elapsed(), Duration::from_millis(100));

    // The client gives up at 100 ms; the server answers at 120 ms, before the
    // CANCEL (arriving at 150 ms) and while the 200 travels the other way.
    let now = sim.now();
    let cancel_key = sim
        .client
        .tx
        .cancel(now, inv_key)
        .expect("CANCEL in Proceeding");
    sim.run_until(Duration::from_millis(120));
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 200, Some("srv")))
        .expect("200");

    let (_, arrival) = sim.next_arrival(Side::Server).expect("the CANCEL");
    let Arrival::Request(Incoming::Cancel {
        key,
        cancel,
        invite,
    }) = arrival
    else {
        panic!("expected a CANCEL, got {arrival:?}");
    };
    assert_eq!(invite, Some(server_inv), "the CANCEL matches the INVITE");
    assert_eq!(cancel.cseq.seq, received.cseq.seq);
    assert_eq!(
        sim.server.tx.server_state(server_inv),
        Some(TransactionState::Accepted)
    );
    // Too late to cancel: 200 to the CANCEL, and the INVITE keeps its 200.
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&cancel, 200, Some("srv")))
        .expect("200 to CANCEL");
    assert_eq!(
        sim.server
            .tx
            .respond(now, server_inv, answer(&received, 487, Some("srv"))),
        Err(TransactionError::AlreadyFinal)
    );

    // The client TU gets the INVITE's 200 and the CANCEL's 200, in wire order.
    let (k1, r1) = sim.expect_response(Side::Client);
    assert_eq!(
        (k1, r1.status, r1.cseq.method.clone()),
        (inv_key, 200, Method::Invite)
    );
    ack_2xx(&mut sim, &inv, &r1, 100);
    let (k2, r2) = sim.expect_response(Side::Client);
    assert_eq!(
        (k2, r2.status, r2.cseq.method),
        (cancel_key, 200, Method::Cancel)
    );

    sim.run_until_idle();
    assert!(
        sim.server
            .inbox
            .iter()
            .any(|(_, a)| matches!(a, Arrival::Request(Incoming::Ack(_)))),
        "the ACK for the 2xx reached the server TU"
    );
    assert!(
        !sim.events_ms(Side::Server)
            .iter()
            .any(|(_, e)| matches!(e, TransactionEvent::AckTimeout { .. }))
    );
    assert!(sim.client.tx.is_empty() && sim.server.tx.is_empty());
}

#[test]
fn cancel_reaching_a_finished_invite_gets_481() {
    let mut sim = Sim::new(Transport::Udp);
    // The first four CANCELs (0.02, 0.52, 1.52, 3.52 s) are lost; the fifth,
    // sent at 7.52 s, arrives after the INVITE server transaction ended
    // (486 at 0.1 s, ACK at 0.12 s, timer I at 5.12 s).
    sim.client.loss = Loss::none().drop_first(4, is_cancel);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), invite(2, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let (server_inv, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 180, Some("srv")))
        .expect("180");
    sim.expect_response(Side::Client);
    let now = sim.now();
    let cancel_key = sim.client.tx.cancel(now, inv_key).expect("CANCEL");
    sim.run_until(Duration::from_millis(100));
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 486, Some("srv")))
        .expect("486");
    let (_, busy) = sim.expect_response(Side::Client);
    assert_eq!(busy.status, 486);

    let (at, arrival) = sim.next_arrival(Side::Server).expect("the CANCEL");
    assert_eq!(at, Duration::from_millis(7_530));
    let Arrival::Request(Incoming::Cancel {
        key,
        cancel,
        invite,
    }) = arrival
    else {
        panic!("expected a CANCEL, got {arrival:?}");
    };
    assert_eq!(invite, None, "no INVITE transaction to cancel any more");
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&cancel, 481, Some("srv")))
        .expect("481");
    let (k, r) = sim.expect_response(Side::Client);
    assert_eq!((k, r.status), (cancel_key, 481));
    sim.run_until_idle();
    assert!(sim.client.tx.is_empty() && sim.server.tx.is_empty());
}

#[test]
fn cancel_before_any_provisional_waits_for_the_first_one() {
    let mut sim = Sim::new(Transport::Udp);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), invite(3, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let now = sim.now();
    let cancel_key = sim.client.tx.cancel(now, inv_key).expect("deferred CANCEL");
    assert_eq!(
        sim.client.tx.cancel(now, inv_key),
        Err(TransactionError::AlreadyCancelled)
    );
    assert_eq!(
        sim.client.tx.client_state(cancel_key),
        None,
        "not started yet"
    );

    // The server TU is slow: its transaction sends 100 Trying at 210 ms,
    // which reaches the client at 220 ms and releases the CANCEL.
    let (server_inv, received) = sim.expect_new_request(Side::Server);
    let (_, arrival) = sim.next_arrival(Side::Server).expect("the CANCEL");
    assert_eq!(sim.sent_ms(Side::Client, |w| is_cancel(&w.message)), [220]);
    let Arrival::Request(Incoming::Cancel {
        key,
        cancel,
        invite,
    }) = arrival
    else {
        panic!("expected a CANCEL, got {arrival:?}");
    };
    assert_eq!(invite, Some(server_inv));
    assert_eq!(
        sim.server.tx.server_state(server_inv),
        Some(TransactionState::Proceeding)
    );
    let now = sim.now();
    sim.server
        .tx
        .respond(now, key, answer(&cancel, 200, Some("srv")))
        .expect("200 to CANCEL");
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 487, Some("srv")))
        .expect("487 to INVITE");

    let mut statuses = vec![];
    while let Some((_, Arrival::Response(k, r))) = sim.next_arrival(Side::Client) {
        statuses.push((k, r.status));
    }
    statuses.sort_by_key(|(_, s)| *s);
    assert_eq!(
        statuses,
        [(inv_key, 100), (cancel_key, 200), (inv_key, 487)]
    );
    // The transaction ACKed the 487 itself; the server absorbed that ACK.
    assert_eq!(
        sim.count_sent(Side::Client, |w| w.is_request(&Method::Ack)),
        1
    );
    assert!(sim.server.inbox.is_empty());
    assert!(sim.client.tx.is_empty() && sim.server.tx.is_empty());
}

#[test]
fn deferred_cancel_is_dropped_when_a_final_response_comes_first() {
    let mut sim = Sim::new(Transport::Udp);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), invite(4, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let now = sim.now();
    let cancel_key = sim.client.tx.cancel(now, inv_key).expect("deferred CANCEL");
    let (server_inv, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 486, Some("srv")))
        .expect("486 at once");
    sim.run_until_idle();

    assert_eq!(sim.count_sent(Side::Client, |w| is_cancel(&w.message)), 0);
    assert!(sim.events_ms(Side::Client).contains(&(
        20,
        TransactionEvent::Terminated {
            key: Key::Client(cancel_key)
        }
    )));
    assert_eq!(
        sim.client.tx.cancel(sim.now(), inv_key),
        Err(TransactionError::Unknown)
    );
}

#[test]
fn deferred_cancel_is_dropped_when_timer_b_fires() {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().drop_all(is_request);
    let inv_key = sim
        .client
        .tx
        .send_request(sim.now(), invite(5, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let cancel_key = sim
        .client
        .tx
        .cancel(sim.now(), inv_key)
        .expect("deferred CANCEL");
    sim.run_until_idle();
    let events = sim.events_ms(Side::Client);
    assert!(events.contains(&(32_000, TransactionEvent::Timeout { key: inv_key })));
    assert!(events.contains(&(
        32_000,
        TransactionEvent::Terminated {
            key: Key::Client(cancel_key)
        }
    )));
    assert_eq!(sim.count_sent(Side::Client, |w| is_cancel(&w.message)), 0);
}

#[test]
fn only_a_pending_invite_can_be_cancelled() {
    let mut sim = Sim::new(Transport::Udp);
    let now = sim.now();
    let peer = sim.server_peer();
    let options = sim
        .client
        .tx
        .send_request(now, request(Method::Options, 6, Transport::Udp), peer)
        .expect("OPTIONS");
    assert_eq!(
        sim.client.tx.cancel(now, options),
        Err(TransactionError::NotInvite)
    );

    let (_, options_received) = sim.expect_new_request(Side::Server);
    assert_eq!(options_received.method, Method::Options);

    let inv = invite(7, Transport::Udp);
    let now = sim.now();
    let inv_key = sim
        .client
        .tx
        .send_request(now, inv.clone(), peer)
        .expect("INVITE");
    let (server_inv, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_inv, answer(&received, 200, Some("srv")))
        .expect("200");
    let (_, ok) = sim.expect_response(Side::Client);
    assert_eq!(ok.status, 200);
    assert_eq!(
        sim.client.tx.client_state(inv_key),
        Some(TransactionState::Accepted)
    );
    assert_eq!(
        sim.client.tx.cancel(sim.now(), inv_key),
        Err(TransactionError::AlreadyFinal)
    );
    ack_2xx(&mut sim, &inv, &ok, 8);
    sim.run_until_idle();
    assert_eq!(
        sim.client.tx.cancel(sim.now(), inv_key),
        Err(TransactionError::Unknown)
    );
}
