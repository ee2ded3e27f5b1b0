//! The transaction table never grows past its capacity: new requests get
//! `Incoming::Full` (the TU answers 503 statelessly), new client requests an
//! error, and `CapacityReached` is raised once per episode.

mod support;

use support::{Arrival, Side, Sim, answer, request};
use waihu_sip::Transport;
use waihu_sip::message::Method;
use waihu_sip::transaction::{Incoming, Timers, TransactionError, TransactionEvent, Transactions};

fn capacity_events(sim: &mut Sim) -> usize {
    sim.events_ms(Side::Server)
        .iter()
        .filter(|(_, e)| *e == TransactionEvent::CapacityReached)
        .count()
}

#[test]
fn a_full_server_table_refuses_new_requests_until_it_drains() {
    let mut sim = Sim::new(Transport::Udp);
    sim.server.tx = Transactions::new(Timers::default(), 2);
    let peer = sim.server_peer();
    for seed in 1..=4 {
        let now = sim.now();
        sim.client
            .tx
            .send_request(now, request(Method::Options, seed, Transport::Udp), peer)
            .expect("client side has room");
    }
    let mut new = vec![];
    let mut full = vec![];
    sim.run_until(std::time::Duration::from_millis(10));
    while let Some((_, arrival)) = sim.server.inbox.pop_front() {
        match arrival {
            Arrival::Request(Incoming::New(key, r)) => new.push((key, r)),
            Arrival::Request(Incoming::Full(r)) => full.push(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(new.len(), 2);
    assert_eq!(full.len(), 2);
    assert_eq!(sim.server.tx.len(), 2, "never above capacity");
    assert_eq!(capacity_events(&mut sim), 1, "raised once, not per refusal");

    // The TU answers the refused ones statelessly with 503.
    let client = sim.client_peer();
    for r in &full {
        sim.server.tx.send_stateless(&answer(r, 503, None), client);
    }
    // And the admitted ones normally.
    let now = sim.now();
    for (key, r) in &new {
        sim.server
            .tx
            .respond(now, *key, answer(r, 200, None))
            .expect("200");
    }
    let mut statuses: Vec<u16> = (0..4)
        .map(|_| sim.expect_response(Side::Client).1.status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 503, 503]);

    // Still full while timer J holds the completed transactions (32 s).
    sim.run_until(std::time::Duration::from_secs(20));
    let now = sim.now();
    let refused =
        sim.server
            .tx
            .on_request(now, request(Method::Options, 9, Transport::Udp), client);
    assert!(matches!(refused, Incoming::Full(_)));
    sim.run_until(std::time::Duration::from_secs(33));
    assert_eq!(sim.server.tx.len(), 0);
    let now = sim.now();
    let admitted =
        sim.server
            .tx
            .on_request(now, request(Method::Options, 10, Transport::Udp), client);
    assert!(matches!(admitted, Incoming::New(..)));
    // A new episode raises the event again.
    sim.server
        .tx
        .on_request(now, request(Method::Options, 11, Transport::Udp), client);
    let third = sim
        .server
        .tx
        .on_request(now, request(Method::Options, 12, Transport::Udp), client);
    assert!(matches!(third, Incoming::Full(_)));
    assert_eq!(capacity_events(&mut sim), 2);
}

#[test]
fn a_full_client_table_refuses_to_send() {
    let sim = Sim::new(Transport::Udp);
    let mut tx = Transactions::new(Timers::default(), 1);
    let peer = sim.server_peer();
    tx.send_request(sim.now(), request(Method::Options, 1, Transport::Udp), peer)
        .expect("first fits");
    assert_eq!(
        tx.send_request(sim.now(), request(Method::Options, 2, Transport::Udp), peer),
        Err(TransactionError::Full)
    );
    assert_eq!(tx.len(), 1);
    // Exactly one transmit: the refused request never left.
    assert!(tx.poll_transmit().is_some());
    assert!(tx.poll_transmit().is_none());
}

#[test]
fn zero_capacity_refuses_everything() {
    let sim = Sim::new(Transport::Udp);
    let mut tx = Transactions::new(Timers::default(), 0);
    let incoming = tx.on_request(
        sim.now(),
        request(Method::Invite, 1, Transport::Udp),
        sim.client_peer(),
    );
    assert!(matches!(incoming, Incoming::Full(_)));
    assert!(tx.is_empty());
}
