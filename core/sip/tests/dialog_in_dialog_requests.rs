//! Dialogs (RFC 3261 section 12): made from an INVITE and its 2xx on both
//! sides, route sets from Record-Route (reversed for the UAC), in-dialog
//! requests with the next CSeq and the right Route/Request-URI, the 2xx ACK
//! with the INVITE's CSeq, and out-of-order remote CSeqs refused with 500.

mod support;

use support::{CLIENT_ADDR, SERVER_ADDR, Side, Sim, answer, invite, sip_uri, via};
use waihu_sip::Transport;
use waihu_sip::dialog::{Dialog, DialogError, DialogId, DialogState};
use waihu_sip::message::{HeaderName, Method, Request, Response};
use waihu_sip::transaction::{Incoming, new_branch};

const RR: &str = "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>";

/// An INVITE that went through two proxies, and the 2xx coming back.
fn exchange() -> (Request, Response) {
    let mut inv = invite(1, Transport::Udp);
    inv.cseq.seq = 41;
    inv.headers.push(HeaderName::RecordRoute, RR);
    let mut ok = answer(&inv, 200, Some("bob-tag"));
    ok.headers.push(HeaderName::RecordRoute, RR);
    (inv, ok)
}

fn uris(routes: &[waihu_sip::message::NameAddr]) -> Vec<String> {
    routes.iter().map(|r| r.uri.to_string()).collect()
}

#[test]
fn both_sides_build_the_same_dialog_from_their_side() {
    let (inv, ok) = exchange();
    let uac = Dialog::uac(&inv, &ok).expect("uac");
    let uas = Dialog::uas(&inv, &ok).expect("uas");

    assert_eq!(uac.state(), DialogState::Confirmed);
    assert_eq!(uac.id().call_id, inv.call_id);
    assert_eq!(uac.id().local_tag, uas.id().remote_tag);
    assert_eq!(uac.id().remote_tag, "bob-tag");
    assert_eq!(uas.id().local_tag, "bob-tag");
    assert_eq!(
        uac.remote_target(),
        &sip_uri("bob", SERVER_ADDR),
        "from the 2xx Contact"
    );
    assert_eq!(
        uas.remote_target(),
        &sip_uri("alice", CLIENT_ADDR),
        "from the INVITE Contact"
    );
    assert_eq!(
        uris(uac.route_set()),
        ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    );
    assert_eq!(
        uris(uas.route_set()),
        ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    );
    assert_eq!((uac.local_seq(), uac.remote_seq()), (Some(41), None));
    assert_eq!((uas.local_seq(), uas.remote_seq()), (None, Some(41)));
    assert!(!uac.is_secure() && !uas.is_secure());
    assert_eq!(DialogId::of_response(&ok).as_ref(), Some(uac.id()));
}

#[test]
fn in_dialog_requests_take_the_next_cseq_and_the_route_set() {
    let (inv, ok) = exchange();
    let mut uac = Dialog::uac(&inv, &ok).expect("uac");
    let bye = uac
        .create_request(
            Method::Bye,
            via(Transport::Udp, CLIENT_ADDR, &new_branch(2)),
        )
        .expect("BYE");
    assert_eq!((bye.cseq.seq, bye.cseq.method.clone()), (42, Method::Bye));
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(
        bye.uri,
        sip_uri("bob", SERVER_ADDR),
        "loose routing: the remote target"
    );
    assert_eq!(
        bye.headers.get_all(&HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    );
    assert_eq!(bye.from.tag(), inv.from.tag());
    assert_eq!(bye.to.tag(), Some("bob-tag"));
    assert_eq!(bye.call_id, inv.call_id);
    let info = uac
        .create_request(
            Method::Info,
            via(Transport::Udp, CLIENT_ADDR, &new_branch(3)),
        )
        .expect("INFO");
    assert_eq!(info.cseq.seq, 43);

    // The UAS side starts its own count.
    let mut uas = Dialog::uas(&inv, &ok).expect("uas");
    let bye = uas
        .create_request(
            Method::Bye,
            via(Transport::Udp, SERVER_ADDR, &new_branch(4)),
        )
        .expect("BYE");
    assert_eq!(bye.cseq.seq, 1);
    assert_eq!(bye.uri, sip_uri("alice", CLIENT_ADDR));
    assert_eq!(bye.from.tag(), Some("bob-tag"));
    assert_eq!(bye.to.tag(), inv.from.tag());

    assert_eq!(
        uac.create_request(Method::Ack, via(Transport::Udp, CLIENT_ADDR, "z9hG4bKx")),
        Err(DialogError::WrongMethod(Method::Ack))
    );
}

#[test]
fn a_strict_router_first_gets_the_request_uri() {
    let (mut inv, _) = exchange();
    inv.headers.remove(&HeaderName::RecordRoute);
    let mut ok = answer(&inv, 200, Some("bob-tag"));
    ok.headers.push(
        HeaderName::RecordRoute,
        "<sip:p1.example.com;lr>, <sip:strict.example.com>",
    );
    let mut uac = Dialog::uac(&inv, &ok).expect("uac");
    let bye = uac
        .create_request(
            Method::Bye,
            via(Transport::Udp, CLIENT_ADDR, &new_branch(5)),
        )
        .expect("BYE");
    assert_eq!(bye.uri.to_string(), "sip:strict.example.com");
    let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
    assert_eq!(
        routes,
        ["<sip:p1.example.com;lr>", "<sip:bob@192.0.2.2:5060>"]
    );
}

#[test]
fn the_2xx_ack_keeps_the_invite_cseq() {
    let (inv, ok) = exchange();
    let mut uac = Dialog::uac(&inv, &ok).expect("uac");
    uac.create_request(
        Method::Info,
        via(Transport::Udp, CLIENT_ADDR, &new_branch(6)),
    )
    .expect("INFO");
    let ack = uac
        .create_ack(&ok, via(Transport::Udp, CLIENT_ADDR, &new_branch(7)))
        .expect("ACK");
    assert_eq!((ack.cseq.seq, ack.cseq.method.clone()), (41, Method::Ack));
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(uac.local_seq(), Some(42), "the ACK takes no CSeq");
    assert_eq!(ack.headers.get_all(&HeaderName::Route).count(), 2);

    let busy = answer(&inv, 486, Some("bob-tag"));
    assert_eq!(
        uac.create_ack(&busy, via(Transport::Udp, CLIENT_ADDR, &new_branch(8))),
        Err(DialogError::NotA2xx)
    );
    let mut forked = ok.clone();
    forked.to.set_tag("other-fork");
    assert_eq!(
        uac.create_ack(&forked, via(Transport::Udp, CLIENT_ADDR, &new_branch(9))),
        Err(DialogError::NotInDialog)
    );
}

#[test]
fn remote_cseq_must_not_go_down() {
    let (inv, ok) = exchange();
    let mut uas = Dialog::uas(&inv, &ok).expect("uas");
    let mut uac = Dialog::uac(&inv, &ok).expect("uac");
    let info = uac
        .create_request(
            Method::Info,
            via(Transport::Udp, CLIENT_ADDR, &new_branch(10)),
        )
        .expect("INFO");
    assert!(uas.matches(&info));
    assert_eq!(uas.check_remote_cseq(&info), Ok(()));
    assert_eq!(uas.remote_seq(), Some(42));

    let mut stale = info.clone();
    stale.cseq.seq = 40;
    let err = uas.check_remote_cseq(&stale).expect_err("lower CSeq");
    assert_eq!(err, DialogError::CSeqOutOfOrder { got: 40, last: 42 });
    assert_eq!(err.status(), 500);
    assert_eq!(
        uas.remote_seq(),
        Some(42),
        "a refused request changes nothing"
    );

    // An ACK or CANCEL carries an older CSeq legitimately.
    let mut ack = stale.clone();
    ack.method = Method::Ack;
    ack.cseq.method = Method::Ack;
    assert_eq!(uas.check_remote_cseq(&ack), Ok(()));

    let mut elsewhere = info;
    elsewhere.to.set_tag("not-ours");
    assert!(!uas.matches(&elsewhere));
    let err = uas
        .check_remote_cseq(&elsewhere)
        .expect_err("not in dialog");
    assert_eq!(err.status(), 481);
}

#[test]
fn an_early_dialog_is_confirmed_by_the_2xx() {
    let (inv, ok) = exchange();
    let mut ringing = answer(&inv, 180, Some("bob-tag"));
    ringing
        .headers
        .push(HeaderName::Contact, "<sip:bob-early@192.0.2.2>");
    let mut uac = Dialog::uac(&inv, &ringing).expect("early");
    assert_eq!(uac.state(), DialogState::Early);
    assert!(uac.route_set().is_empty());
    assert_eq!(uac.remote_target().to_string(), "sip:bob-early@192.0.2.2");
    uac.update_from_response(&ok).expect("2xx");
    assert_eq!(uac.state(), DialogState::Confirmed);
    assert_eq!(uac.remote_target(), &sip_uri("bob", SERVER_ADDR));
    assert_eq!(uac.route_set().len(), 2, "recomputed from the 2xx");
}

#[test]
fn dialogs_need_tags_and_a_contact() {
    let (inv, ok) = exchange();
    let mut untagged = ok.clone();
    untagged.to.params.remove("tag");
    assert_eq!(
        Dialog::uac(&inv, &untagged),
        Err(DialogError::MissingRemoteTag)
    );
    assert_eq!(
        Dialog::uas(&inv, &untagged),
        Err(DialogError::MissingLocalTag)
    );
    let mut no_contact = inv.clone();
    no_contact.headers.remove(&HeaderName::Contact);
    assert_eq!(
        Dialog::uas(&no_contact, &ok),
        Err(DialogError::MissingContact)
    );
    assert_eq!(
        Dialog::uac(&inv, &answer(&inv, 100, None)),
        Err(DialogError::NotDialogForming(100))
    );
    let mut bad = ok;
    bad.headers
        .push(HeaderName::RecordRoute, "<sip:unterminated");
    assert!(matches!(
        Dialog::uac(&inv, &bad),
        Err(DialogError::BadHeader(_))
    ));
    assert_eq!(Dialog::uac(&inv, &bad).expect_err("bad").status(), 400);
}

#[test]
fn a_call_and_its_bye_over_the_simulated_link() {
    let mut sim = Sim::new(Transport::Udp);
    let inv = invite(20, Transport::Udp);
    sim.client
        .tx
        .send_request(sim.now(), inv.clone(), sim.server_peer())
        .expect("INVITE");
    let (key, received) = sim.expect_new_request(Side::Server);
    let ok = answer(&received, 200, Some("srv"));
    let mut uas = Dialog::uas(&received, &ok).expect("uas");
    let now = sim.now();
    sim.server.tx.respond(now, key, ok).expect("200");
    let (_, ok) = sim.expect_response(Side::Client);
    let mut uac = Dialog::uac(&inv, &ok).expect("uac");
    support::ack_2xx(&mut sim, &inv, &ok, 21);
    let (_, arrival) = sim.next_arrival(Side::Server).expect("ACK");
    let support::Arrival::Request(Incoming::Ack(ack)) = arrival else {
        panic!("expected the ACK, got {arrival:?}");
    };
    assert!(uas.matches(&ack));

    let bye = uac
        .create_request(
            Method::Bye,
            via(Transport::Udp, CLIENT_ADDR, &new_branch(22)),
        )
        .expect("BYE");
    let now = sim.now();
    let bye_key = sim
        .client
        .tx
        .send_request(now, bye, sim.server_peer())
        .expect("BYE starts");
    let (server_bye, got) = sim.expect_new_request(Side::Server);
    assert_eq!(got.method, Method::Bye);
    assert_eq!(uas.check_remote_cseq(&got), Ok(()));
    let now = sim.now();
    sim.server
        .tx
        .respond(now, server_bye, answer(&got, 200, None))
        .expect("200 to BYE");
    let (k, r) = sim.expect_response(Side::Client);
    assert_eq!((k, r.status, r.cseq.seq), (bye_key, 200, 2));
}
