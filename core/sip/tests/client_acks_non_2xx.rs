//! The INVITE client transaction ACKs a non-2xx final response itself (RFC
//! 3261 17.1.1.3): same Request-URI, Call-ID, From, CSeq number and top Via
//! as the INVITE, To from the response, the INVITE's Route headers. The
//! server transaction matches it by branch and absorbs it (Confirmed).

mod support;

use support::{Side, Sim, answer, invite};
use waihu_sip::Transport;
use waihu_sip::message::{HeaderName, Message, Method};
use waihu_sip::transaction::TransactionState;

#[test]
fn the_ack_for_a_486_is_built_from_the_invite_and_the_response() {
    let mut sim = Sim::new(Transport::Udp);
    let mut inv = invite(1, Transport::Udp);
    inv.headers
        .push(HeaderName::Route, "<sip:p1.example.com;lr>");
    inv.headers
        .push(HeaderName::Route, "<sip:p2.example.com;lr>");
    let key = sim
        .client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE starts");
    let (server_key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_key, answer(&received, 486, Some("busy-tag")))
        .expect("486");
    let (k, busy) = sim.expect_response(Side::Client);
    assert_eq!((k, busy.status), (key, 486));
    assert_eq!(
        sim.client.tx.client_state(key),
        Some(TransactionState::Completed)
    );
    sim.run_until(std::time::Duration::from_secs(1));

    let acks: Vec<_> = sim
        .wire
        .iter()
        .filter_map(|w| match &w.message {
            Message::Request(r) if r.method == Method::Ack => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(ack.uri, inv.uri);
    assert_eq!(ack.call_id, inv.call_id);
    assert_eq!(ack.from, inv.from);
    assert_eq!(ack.cseq.seq, inv.cseq.seq);
    assert_eq!(ack.cseq.method, Method::Ack);
    assert_eq!(
        ack.via,
        vec![inv.via[0].clone()],
        "the INVITE's top Via, branch included"
    );
    assert_eq!(ack.to.tag(), Some("busy-tag"));
    assert_eq!(
        ack.headers.get_all(&HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert!(ack.body.is_empty());

    assert_eq!(
        sim.server.tx.server_state(server_key),
        Some(TransactionState::Confirmed)
    );
    assert_eq!(sim.server.absorbed, 1);
    assert!(
        sim.server.inbox.is_empty(),
        "the TU never sees a non-2xx ACK"
    );
}

#[test]
fn the_client_transaction_waits_on_timer_d_then_ends() {
    let mut sim = Sim::new(Transport::Udp);
    let key = sim
        .client
        .tx
        .send_request(sim.now(), invite(2, Transport::Udp), sim.server_peer())
        .expect("INVITE starts");
    let (server_key, received) = sim.expect_new_request(Side::Server);
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_key, answer(&received, 404, Some("nf")))
        .expect("404");
    sim.run_until_idle();
    // 404 arrives at 20 ms; timer D is 32 s over UDP.
    assert!(sim.events_ms(Side::Client).contains(&(
        32_020,
        waihu_sip::transaction::TransactionEvent::Terminated {
            key: waihu_sip::transaction::Key::Client(key)
        }
    )));
}
