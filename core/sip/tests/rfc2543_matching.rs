//! Peers without the RFC 3261 branch cookie are matched the RFC 2543 way
//! (17.2.3): Request-URI, To tag, From tag, Call-ID, CSeq and the whole top
//! Via; their ACK by the To tag of the response it acknowledges; their
//! CANCEL (9.2) like the INVITE except for the method.

mod support;

use support::{Clock, Sim, answer, invite};
use waihu_sip::Transport;
use waihu_sip::message::{Method, Request};
use waihu_sip::transaction::{Incoming, Timers, TransactionState, Transactions};

/// An INVITE from an RFC 2543 client: the branch, if any, lacks the cookie.
fn legacy_invite(branch: Option<&str>) -> Request {
    let mut r = invite(1, Transport::Udp);
    match branch {
        Some(b) => r.via[0].params.set("branch", Some(b)),
        None => r.via[0].params.remove("branch"),
    }
    r
}

fn legacy_ack(inv: &Request, to_tag: &str) -> Request {
    let mut ack = inv.clone();
    ack.method = Method::Ack;
    ack.cseq.method = Method::Ack;
    ack.to.set_tag(to_tag);
    ack
}

#[test]
fn retransmissions_without_a_cookie_are_absorbed() {
    for branch in [None, Some("1234"), Some("z9hG4bK")] {
        let now = Clock::new().now();
        let peer = Sim::new(Transport::Udp).client_peer();
        let mut tx = Transactions::new(Timers::default(), 16);
        let inv = legacy_invite(branch);
        let Incoming::New(key, _) = tx.on_request(now, inv.clone(), peer) else {
            panic!("first copy is new");
        };
        tx.respond(now, key, answer(&inv, 180, Some("srv")))
            .expect("180");
        while tx.poll_transmit().is_some() {}
        assert!(matches!(
            tx.on_request(now, inv.clone(), peer),
            Incoming::Absorbed
        ));
        let resent = tx.poll_transmit().expect("the 180 again");
        assert!(String::from_utf8_lossy(&resent.bytes).starts_with("SIP/2.0 180"));
        assert_eq!(tx.len(), 1, "branch {branch:?}");
    }
}

#[test]
fn any_difference_in_the_legacy_key_is_another_transaction() {
    let now = Clock::new().now();
    let peer = Sim::new(Transport::Udp).client_peer();
    let mut tx = Transactions::new(Timers::default(), 16);
    let inv = legacy_invite(Some("1234"));
    assert!(matches!(
        tx.on_request(now, inv.clone(), peer),
        Incoming::New(..)
    ));

    let mut other_call = inv.clone();
    other_call.call_id = "another@192.0.2.1".into();
    let mut other_from = inv.clone();
    other_from.from.set_tag("other");
    let mut other_seq = inv.clone();
    other_seq.cseq.seq = 2;
    let mut other_via = inv.clone();
    other_via.via[0].params.set("branch", Some("5678"));
    let mut other_uri = inv.clone();
    other_uri.uri = support::sip_uri("carol", support::SERVER_ADDR);
    for r in [other_call, other_from, other_seq, other_via, other_uri] {
        assert!(matches!(tx.on_request(now, r, peer), Incoming::New(..)));
    }
    assert_eq!(tx.len(), 6);
}

#[test]
fn a_legacy_ack_matches_by_the_to_tag_of_the_final_response() {
    let now = Clock::new().now();
    let peer = Sim::new(Transport::Udp).client_peer();
    let mut tx = Transactions::new(Timers::default(), 16);
    let inv = legacy_invite(None);
    let Incoming::New(key, _) = tx.on_request(now, inv.clone(), peer) else {
        panic!("new");
    };
    tx.respond(now, key, answer(&inv, 486, Some("busy")))
        .expect("486");

    // An ACK naming another To tag acknowledges something else.
    assert!(matches!(
        tx.on_request(now, legacy_ack(&inv, "nope"), peer),
        Incoming::Ack(_)
    ));
    assert_eq!(tx.server_state(key), Some(TransactionState::Completed));

    assert!(matches!(
        tx.on_request(now, legacy_ack(&inv, "busy"), peer),
        Incoming::Absorbed
    ));
    assert_eq!(tx.server_state(key), Some(TransactionState::Confirmed));
    // The INVITE itself (no To tag) still matches.
    assert!(matches!(tx.on_request(now, inv, peer), Incoming::Absorbed));
}

#[test]
fn a_legacy_cancel_finds_its_invite() {
    let now = Clock::new().now();
    let peer = Sim::new(Transport::Udp).client_peer();
    let mut tx = Transactions::new(Timers::default(), 16);
    let inv = legacy_invite(Some("abc"));
    let Incoming::New(key, _) = tx.on_request(now, inv.clone(), peer) else {
        panic!("new");
    };
    let mut cancel = inv.clone();
    cancel.method = Method::Cancel;
    cancel.cseq.method = Method::Cancel;
    let Incoming::Cancel { invite, .. } = tx.on_request(now, cancel.clone(), peer) else {
        panic!("a CANCEL");
    };
    assert_eq!(invite, Some(key));
    assert!(matches!(
        tx.on_request(now, cancel.clone(), peer),
        Incoming::Absorbed
    ));

    // A CANCEL for a request we never saw matches nothing: the TU sends 481.
    let mut stray = cancel;
    stray.call_id = "unknown@192.0.2.1".into();
    let Incoming::Cancel { invite, .. } = tx.on_request(now, stray, peer) else {
        panic!("a CANCEL");
    };
    assert_eq!(invite, None);
}
