//! Calls through the endpoint: requests inside a dialog the application
//! vouches for skip the challenge, the ACK for our 2xx and a CANCEL reach the
//! application, requests the application sends come back as responses or a
//! timeout, and a registered user's call targets.

mod client;

use std::net::SocketAddr;
use std::time::Duration;

use client::{DOMAIN, Harness, authorization, challenge, peer};
use waihu_sip::endpoint::{ClientTxId, Event, ServerTxId};
use waihu_sip::message::{HeaderName, Message, Method, Request, Response, Uri, parse};
use waihu_sip::transaction::{TransactionError, new_branch};
use waihu_sip::{Peer, Transmit, Transport};

const CALLER_TAG: &str = "caller-tag";

fn harness() -> Harness {
    Harness::new(DOMAIN, &[("1001", "s3cret"), ("1002", "other")], |_| {})
}

/// A request from 1001 to 555 as text. `branch` goes after the cookie;
/// `to_tag` makes it an in-dialog request; `extra` are whole header lines.
#[allow(clippy::too_many_arguments)]
fn message(
    method: &str,
    ruri: &str,
    branch: &str,
    call_id: &str,
    to_tag: Option<&str>,
    cseq: u32,
    extra: &[String],
    body: &str,
) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@{DOMAIN}>;tag={CALLER_TAG}\r\n\
         To: <sip:555@{DOMAIN}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
         Contact: <sip:1001@192.0.2.1:5060>\r\n"
    );
    for h in extra {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.into_bytes()
}

fn ruri() -> String {
    format!("sip:555@{DOMAIN}")
}

/// An out-of-dialog INVITE, challenged then sent again with credentials;
/// returns what the application got. The authenticated copy has branch
/// `branch` and CSeq 2.
fn authenticated_invite(
    h: &mut Harness,
    p: Peer,
    call_id: &str,
    branch: &str,
) -> (ServerTxId, Request) {
    let first = format!("{branch}-noauth");
    let r = h.one(
        p,
        &message("INVITE", &ruri(), &first, call_id, None, 1, &[], ""),
    );
    assert_eq!(r.status, 401);
    // The caller ACKs the 401 (same branch), which stops its retransmissions.
    let ack = message("ACK", &ruri(), &first, call_id, r.to.tag(), 1, &[], "");
    assert!(h.send(p, &ack).is_empty());
    let auth = authorization(
        &challenge(&r, "MD5"),
        "1001",
        "s3cret",
        "INVITE",
        &ruri(),
        1,
    );
    let replies = h.send(
        p,
        &message("INVITE", &ruri(), branch, call_id, None, 2, &[auth], ""),
    );
    assert_eq!(statuses(&replies), [100]);
    match take_events(h).as_slice() {
        [
            Event::Request {
                id, request, user, ..
            },
        ] => {
            assert_eq!(user, "1001");
            assert_eq!(request.method, Method::Invite);
            (*id, (**request).clone())
        }
        other => panic!("expected one Event::Request, got {other:?}"),
    }
}

fn take_events(h: &mut Harness) -> Vec<Event> {
    std::mem::take(&mut h.events)
}

fn statuses(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status).collect()
}

fn transmits(h: &mut Harness) -> Vec<Transmit> {
    std::iter::from_fn(|| h.ep.poll_transmit()).collect()
}

fn parsed(t: &Transmit) -> Message {
    parse(&t.bytes).expect("the endpoint sends messages that parse")
}

fn responses_in(ts: &[Transmit]) -> Vec<Response> {
    ts.iter()
        .filter_map(|t| match parsed(t) {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        })
        .collect()
}

fn requests_in(ts: &[Transmit]) -> Vec<Request> {
    ts.iter()
        .filter_map(|t| match parsed(t) {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        })
        .collect()
}

/// Runs every timer due up to `by` from now, one deadline at a time, and
/// returns what was sent meanwhile.
fn run_for(h: &mut Harness, by: Duration) -> Vec<Transmit> {
    let end = h.now + by;
    let mut sent = Vec::new();
    while let Some(t) = h.ep.poll_timeout().filter(|t| *t <= end) {
        h.now = h.now.max(t);
        h.advance(Duration::ZERO);
        sent.extend(transmits(h));
    }
    h.now = end;
    h.advance(Duration::ZERO);
    sent.extend(transmits(h));
    sent
}

// --- Overload ----------------------------------------------------------------

#[test]
fn while_refusing_new_calls_an_invite_gets_503_before_any_challenge_and_dialogs_go_on() {
    let mut h = harness();
    let p = peer(1);
    h.ep.trust_dialog("call-up", "our-tag", "1001", None);
    h.ep.refuse_new_calls(Some(2));

    let invite = message("INVITE", &ruri(), "ovl1", "call-new", None, 1, &[], "");
    let r = h.one(p, &invite);
    assert_eq!(r.status, 503);
    assert_eq!(
        r.headers.get(&HeaderName::RetryAfter).map(|v| v.trim()),
        Some("2")
    );
    assert!(r.to.tag().is_some(), "a final response carries a To tag");
    assert!(
        take_events(&mut h).is_empty(),
        "the application never sees it"
    );
    // Its retransmission is the same transaction: the same 503, counted once.
    let again = h.one(p, &invite);
    assert_eq!((again.status, again.to.tag()), (503, r.to.tag()));
    let ack = message("ACK", &ruri(), "ovl1", "call-new", r.to.tag(), 1, &[], "");
    assert!(h.send(p, &ack).is_empty());
    assert_eq!(h.ep.stats().refused_calls, 1);

    // The call already up is served: its BYE and a re-INVITE reach the application.
    for (method, branch, cseq) in [("INVITE", "reinv", 2), ("BYE", "bye", 3)] {
        let m = message(
            method,
            &ruri(),
            branch,
            "call-up",
            Some("our-tag"),
            cseq,
            &[],
            "",
        );
        let replies = h.send(p, &m);
        assert!(
            replies.iter().all(|r| r.status == 100),
            "{method} in a dialog is not refused: {replies:?}"
        );
        match take_events(&mut h).as_slice() {
            [Event::Request { request, .. }] => assert_eq!(request.method.to_string(), method),
            other => panic!("expected the {method} as an Event::Request, got {other:?}"),
        }
    }
    // Registrations too: challenged as ever, not refused.
    let register = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKreg1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@{DOMAIN}>;tag=r1\r\nTo: <sip:1001@{DOMAIN}>\r\n\
         Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@192.0.2.1:5060>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    assert_eq!(h.one(p, register.as_bytes()).status, 401);

    // Served in time again: new calls are challenged as usual.
    h.ep.refuse_new_calls(None);
    let invite = message("INVITE", &ruri(), "ovl2", "call-later", None, 1, &[], "");
    assert_eq!(h.one(p, &invite).status, 401);
    assert_eq!(h.ep.stats().refused_calls, 1);
}

// --- Trusted dialogs -------------------------------------------------------

#[test]
fn a_bye_in_a_trusted_dialog_is_not_challenged() {
    let mut h = harness();
    let p = peer(1);
    h.ep.trust_dialog("call-1", "our-tag", "1001", None);
    let replies = h.send(
        p,
        &message(
            "BYE",
            &ruri(),
            "bye1",
            "call-1",
            Some("our-tag"),
            3,
            &[],
            "",
        ),
    );
    assert!(
        replies.is_empty(),
        "the application answers the BYE: {replies:?}"
    );
    match take_events(&mut h).as_slice() {
        [
            Event::Request {
                request,
                user,
                peer,
                ..
            },
        ] => {
            assert_eq!(request.method, Method::Bye);
            assert_eq!(user, "1001");
            assert_eq!(*peer, p);
        }
        other => panic!("expected the BYE as an Event::Request, got {other:?}"),
    }
    assert_eq!(h.ep.stats().auth_failures, 0);
}

#[test]
fn a_trusted_dialog_speaks_for_the_user_it_was_given() {
    let mut h = harness();
    // The application vouches for 1002 (the From says 1001).
    h.ep.trust_dialog("call-1", "our-tag", "1002", None);
    h.send(
        peer(1),
        &message(
            "BYE",
            &ruri(),
            "bye1",
            "call-1",
            Some("our-tag"),
            3,
            &[],
            "",
        ),
    );
    assert!(
        matches!(take_events(&mut h).as_slice(), [Event::Request { user, .. }] if user == "1002"),
        "the trusted user is the one given to trust_dialog"
    );
}

#[test]
fn a_bye_with_an_unknown_tag_is_challenged() {
    let mut h = harness();
    let p = peer(1);
    h.ep.trust_dialog("call-1", "our-tag", "1001", None);
    // Right Call-ID, wrong tag.
    let r = h.one(
        p,
        &message(
            "BYE",
            &ruri(),
            "bye1",
            "call-1",
            Some("other-tag"),
            3,
            &[],
            "",
        ),
    );
    assert_eq!(r.status, 401);
    // Right tag, wrong Call-ID.
    let r = h.one(
        p,
        &message(
            "BYE",
            &ruri(),
            "bye2",
            "call-2",
            Some("our-tag"),
            3,
            &[],
            "",
        ),
    );
    assert_eq!(r.status, 401);
    assert!(
        !take_events(&mut h)
            .iter()
            .any(|e| matches!(e, Event::Request { .. })),
        "an unauthenticated BYE reached the application"
    );
}

#[test]
fn forgetting_a_dialog_brings_the_challenge_back() {
    let mut h = harness();
    let p = peer(1);
    h.ep.trust_dialog("call-1", "our-tag", "1001", None);
    let replies = h.send(
        p,
        &message(
            "BYE",
            &ruri(),
            "bye1",
            "call-1",
            Some("our-tag"),
            3,
            &[],
            "",
        ),
    );
    assert!(replies.is_empty());
    assert_eq!(take_events(&mut h).len(), 1);
    h.ep.forget_dialog("call-1", "our-tag");
    let r = h.one(
        p,
        &message(
            "BYE",
            &ruri(),
            "bye2",
            "call-1",
            Some("our-tag"),
            4,
            &[],
            "",
        ),
    );
    assert_eq!(r.status, 401);
    assert!(take_events(&mut h).is_empty());
}

#[test]
fn info_in_a_trusted_dialog_reaches_the_application() {
    let mut h = harness();
    let p = peer(1);
    h.ep.trust_dialog("call-1", "our-tag", "1001", None);
    let body = "Signal=5\r\nDuration=160\r\n";
    let replies = h.send(
        p,
        &message(
            "INFO",
            &ruri(),
            "info1",
            "call-1",
            Some("our-tag"),
            3,
            &["Content-Type: application/dtmf-relay".into()],
            body,
        ),
    );
    assert!(replies.is_empty(), "{replies:?}");
    let Some(Event::Request { id, request, .. }) = take_events(&mut h).pop() else {
        panic!("the INFO did not reach the application")
    };
    assert_eq!(request.method, Method::Info);
    assert_eq!(&request.body[..], body.as_bytes());
    // The application answers it through its transaction.
    h.ep.respond(h.now, id, Response::to_request(&request, 200));
    let sent = responses_in(&transmits(&mut h));
    assert_eq!(statuses(&sent), [200]);
    assert_eq!(sent[0].cseq.method, Method::Info);
}

#[test]
fn update_in_a_trusted_dialog_reaches_the_application() {
    let mut h = harness();
    h.ep.trust_dialog("call-1", "our-tag", "1001", None);
    let replies = h.send(
        peer(1),
        &message(
            "UPDATE",
            &ruri(),
            "up1",
            "call-1",
            Some("our-tag"),
            3,
            &[],
            "",
        ),
    );
    assert!(replies.is_empty(), "{replies:?}");
    assert!(matches!(
        take_events(&mut h).as_slice(),
        [Event::Request { request, .. }] if request.method == Method::Update
    ));
}

#[test]
fn refer_and_notify_in_a_trusted_dialog_reach_the_application() {
    let mut h = harness();
    let p = peer(1);
    h.ep.trust_dialog("call-1", "our-tag", "1001", None);
    let refer = message(
        "REFER",
        &ruri(),
        "ref1",
        "call-1",
        Some("our-tag"),
        3,
        &[
            "Refer-To: <sip:1002@waihu.test>".into(),
            "Referred-By: <sip:1001@waihu.test>".into(),
        ],
        "",
    );
    assert!(h.send(p, &refer).is_empty(), "answered by the endpoint");
    let Some(Event::Request {
        id, request, user, ..
    }) = take_events(&mut h).pop()
    else {
        panic!("the REFER did not reach the application")
    };
    assert_eq!(
        (request.method.clone(), user.as_str()),
        (Method::Refer, "1001")
    );
    let target = waihu_sip::refer::refer_to(&request).expect("Refer-To");
    assert_eq!(target.uri.to_string(), "sip:1002@waihu.test");
    h.ep.respond(h.now, id, Response::to_request(&request, 202));
    let sent = responses_in(&transmits(&mut h));
    assert_eq!(statuses(&sent), [202]);
    assert_eq!(sent[0].reason, "Accepted");

    // The NOTIFYs of a transfer we asked for come back the same way.
    let notify = message(
        "NOTIFY",
        &ruri(),
        "not1",
        "call-1",
        Some("our-tag"),
        4,
        &[
            "Event: refer".into(),
            "Subscription-State: terminated;reason=noresource".into(),
            "Content-Type: message/sipfrag;version=2.0".into(),
        ],
        "SIP/2.0 200 OK\r\n",
    );
    assert!(h.send(p, &notify).is_empty(), "answered by the endpoint");
    assert!(matches!(
        take_events(&mut h).as_slice(),
        [Event::Request { request, .. }]
            if request.method == Method::Notify && &request.body[..] == b"SIP/2.0 200 OK\r\n"
    ));
}

#[test]
fn refer_outside_a_dialog_is_challenged_not_refused() {
    let mut h = harness();
    let r = h.one(
        peer(1),
        &message(
            "REFER",
            &ruri(),
            "ref-ood",
            "call-9",
            None,
            1,
            &["Refer-To: <sip:1002@waihu.test>".into()],
            "",
        ),
    );
    assert_eq!(r.status, 401);
    let r = h.one(
        peer(1),
        &message("SUBSCRIBE", &ruri(), "sub9", "call-10", None, 1, &[], ""),
    );
    assert_eq!(r.status, 405);
    let allow = r.headers.get(&HeaderName::Allow).expect("Allow");
    for method in ["REFER", "NOTIFY"] {
        assert!(
            allow.contains(method),
            "{method} missing from Allow: {allow}"
        );
    }
}

#[test]
fn info_outside_a_dialog_is_challenged_and_the_allow_header_lists_it() {
    let mut h = harness();
    let p = peer(1);
    let r = h.one(
        p,
        &message("INFO", &ruri(), "info1", "call-1", None, 1, &[], ""),
    );
    assert_eq!(
        r.status, 401,
        "INFO passes inspection, then needs credentials"
    );
    let r = h.one(
        p,
        &message("SUBSCRIBE", &ruri(), "sub1", "call-2", None, 1, &[], ""),
    );
    assert_eq!(r.status, 405);
    let allow = r
        .headers
        .get(&HeaderName::Allow)
        .expect("405 carries Allow");
    for method in ["INFO", "UPDATE", "BYE", "CANCEL"] {
        assert!(
            allow.contains(method),
            "{method} missing from Allow: {allow}"
        );
    }
}

// --- Requests we answer ----------------------------------------------------

#[test]
fn an_ack_for_our_2xx_reaches_the_application() {
    let mut h = harness();
    let p = peer(1);
    let (id, invite) = authenticated_invite(&mut h, p, "call-ack", "inv1");
    let tag = h.ep.fresh_tag();
    let mut ok = Response::to_request(&invite, 200);
    ok.to.set_tag(&tag);
    ok.headers
        .push(HeaderName::Contact, format!("<sip:555@{DOMAIN}>"));
    h.ep.respond(h.now, id, ok);
    let sent = responses_in(&transmits(&mut h));
    assert_eq!(statuses(&sent), [200]);
    assert_eq!(sent[0].to.tag(), Some(tag.as_str()), "our tag is kept");

    // Unacknowledged, the 2xx is retransmitted after T1.
    let again = responses_in(&run_for(&mut h, Duration::from_millis(600)));
    assert_eq!(
        statuses(&again),
        [200],
        "the 2xx is retransmitted until the ACK"
    );

    let ack = message("ACK", &ruri(), "ack1", "call-ack", Some(&tag), 2, &[], "");
    let replies = h.send(p, &ack);
    assert!(replies.is_empty(), "an ACK gets no answer: {replies:?}");
    match take_events(&mut h).as_slice() {
        [Event::Ack { request, peer }] => {
            assert_eq!(request.method, Method::Ack);
            assert_eq!(request.call_id, "call-ack");
            assert_eq!(request.to.tag(), Some(tag.as_str()));
            assert_eq!(*peer, p);
        }
        other => panic!("expected Event::Ack, got {other:?}"),
    }
    // The ACK stopped the retransmissions.
    let later = responses_in(&run_for(&mut h, Duration::from_secs(40)));
    assert!(
        later.is_empty(),
        "2xx retransmitted after its ACK: {later:?}"
    );
    let events = take_events(&mut h);
    assert!(
        !events.iter().any(|e| matches!(e, Event::AckTimeout { .. })),
        "an acknowledged 2xx reported unacknowledged: {events:?}"
    );
}

#[test]
fn a_2xx_never_acknowledged_is_reported_once_after_64_t1() {
    let mut h = harness();
    let p = peer(1);
    let (id, invite) = authenticated_invite(&mut h, p, "call-no-ack", "inv1");
    let mut ok = Response::to_request(&invite, 200);
    ok.to.set_tag(&h.ep.fresh_tag());
    h.ep.respond(h.now, id, ok);
    assert_eq!(statuses(&responses_in(&transmits(&mut h))), [200]);
    // Retransmitted, unacknowledged, for 64*T1 (32 s with T1 = 500 ms).
    let resent = responses_in(&run_for(&mut h, Duration::from_secs(31)));
    assert!(resent.len() >= 5, "{} retransmissions", resent.len());
    assert!(
        take_events(&mut h).is_empty(),
        "reported before 64*T1 was up"
    );
    run_for(&mut h, Duration::from_secs(2));
    match take_events(&mut h).as_slice() {
        [Event::AckTimeout { id: late }] => assert_eq!(*late, id),
        other => panic!("expected one Event::AckTimeout, got {other:?}"),
    }
    // Once: the transaction is over and the 2xx is no longer sent.
    assert!(responses_in(&run_for(&mut h, Duration::from_secs(40))).is_empty());
    assert!(take_events(&mut h).is_empty());
}

#[test]
fn a_cancel_answers_487_and_tells_the_application() {
    let mut h = harness();
    let p = peer(1);
    let (id, invite) = authenticated_invite(&mut h, p, "call-cancel", "inv1");
    let replies = h.send(
        p,
        &message("CANCEL", &ruri(), "inv1", "call-cancel", None, 2, &[], ""),
    );
    let mut got: Vec<(u16, Method)> = replies
        .iter()
        .map(|r| (r.status, r.cseq.method.clone()))
        .collect();
    got.sort_by_key(|(s, _)| *s);
    assert_eq!(got, [(200, Method::Cancel), (487, Method::Invite)]);
    let r487 = replies.iter().find(|r| r.status == 487).expect("487");
    assert!(r487.to.tag().is_some(), "a 487 carries a To tag");
    match take_events(&mut h).as_slice() {
        [Event::Cancelled { id: cancelled }] => assert_eq!(*cancelled, id),
        other => panic!("expected Event::Cancelled, got {other:?}"),
    }
    // The INVITE is answered: the application's late 200 goes nowhere.
    h.ep.respond(h.now, id, Response::to_request(&invite, 200));
    assert!(
        responses_in(&transmits(&mut h))
            .iter()
            .all(|r| r.status != 200),
        "a 200 went out after the 487"
    );
    // The caller's ACK for the 487 is absorbed by the transaction.
    let tag = r487.to.tag().unwrap_or_default().to_owned();
    let replies = h.send(
        p,
        &message(
            "ACK",
            &ruri(),
            "inv1",
            "call-cancel",
            Some(&tag),
            2,
            &[],
            "",
        ),
    );
    assert!(replies.is_empty());
    assert!(
        take_events(&mut h).is_empty(),
        "the ACK for a 487 is not the application's"
    );
}

#[test]
fn a_cancel_matching_nothing_gets_481_and_no_event() {
    let mut h = harness();
    let p = peer(1);
    let r = h.one(
        p,
        &message("CANCEL", &ruri(), "nothing", "call-x", None, 1, &[], ""),
    );
    assert_eq!(r.status, 481);
    assert!(take_events(&mut h).is_empty());
}

// --- Requests we send ------------------------------------------------------

fn phone() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([198, 51, 100, 7], 5062)),
    }
}

/// An INVITE from us to the phone, with a compliant branch from `seed`.
fn our_request(method: &str, seed: u64) -> Request {
    let branch = new_branch(seed);
    let text = format!(
        "{method} sip:1002@198.51.100.7:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.200:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:555@{DOMAIN}>;tag=b2bua{seed}\r\nTo: <sip:1002@{DOMAIN}>\r\n\
         Call-ID: out-{seed}@{DOMAIN}\r\nCSeq: 1 {method}\r\nContact: <sip:555@192.0.2.200:5060>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("test request does not parse: {other:?}"),
    }
}

fn reply(request: &Request, status: u16) -> Vec<u8> {
    let mut r = Response::to_request(request, status);
    if status > 100 {
        r.to.set_tag("phone-tag");
    }
    r.to_bytes()
}

/// Feeds bytes from the phone; returns the events and what went out.
fn from_phone(h: &mut Harness, bytes: &[u8]) -> (Vec<Event>, Vec<Transmit>) {
    h.ep.handle_input(h.now, phone(), bytes);
    h.advance(Duration::ZERO);
    (take_events(h), transmits(h))
}

fn responses_for(events: &[Event]) -> Vec<(ClientTxId, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Response { id, response, .. } => Some((*id, response.status)),
            _ => None,
        })
        .collect()
}

#[test]
fn responses_to_our_invite_come_back_as_events() {
    let mut h = harness();
    let invite = our_request("INVITE", 1);
    let id =
        h.ep.send_request(h.now, invite.clone(), phone())
            .expect("sent");
    let sent = transmits(&mut h);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].peer, phone());
    let out = requests_in(&sent);
    assert_eq!(out[0].method, Method::Invite);
    assert_eq!(out[0].via[0].branch(), invite.via[0].branch());

    let (events, _) = from_phone(&mut h, &reply(&invite, 180));
    assert_eq!(responses_for(&events), [(id, 180)]);
    let (events, sent) = from_phone(&mut h, &reply(&invite, 200));
    assert_eq!(responses_for(&events), [(id, 200)]);
    assert!(matches!(&events[0], Event::Response { peer, response, .. }
            if *peer == phone() && response.to.tag() == Some("phone-tag")));
    assert!(
        sent.is_empty(),
        "the ACK for a 2xx is the application's: {sent:?}"
    );
    // A retransmitted 2xx comes up again, for the application to re-ACK.
    let (events, _) = from_phone(&mut h, &reply(&invite, 200));
    assert_eq!(responses_for(&events), [(id, 200)]);
    // The application's ACK goes where it is told.
    let mut ack = our_request("ACK", 1);
    ack.via[0].params.set("branch", Some(&new_branch(2)));
    ack.to.set_tag("phone-tag");
    h.ep.send_ack(&ack, phone());
    let sent = transmits(&mut h);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].peer, phone());
    assert!(matches!(parsed(&sent[0]), Message::Request(r) if r.method == Method::Ack));
}

#[test]
fn a_response_to_nothing_we_sent_is_dropped() {
    let mut h = harness();
    let invite = our_request("INVITE", 1);
    h.ep.send_request(h.now, invite, phone()).expect("sent");
    transmits(&mut h);
    let stray = our_request("INVITE", 99);
    let (events, sent) = from_phone(&mut h, &reply(&stray, 200));
    assert!(events.is_empty(), "{events:?}");
    assert!(sent.is_empty());
}

#[test]
fn send_request_refuses_a_branch_without_the_cookie_and_a_duplicate() {
    let mut h = harness();
    let mut bad = our_request("INVITE", 1);
    bad.via[0].params.set("branch", Some("1234"));
    assert_eq!(
        h.ep.send_request(h.now, bad, phone()),
        Err(TransactionError::MissingBranch)
    );
    let invite = our_request("INVITE", 2);
    h.ep.send_request(h.now, invite.clone(), phone())
        .expect("sent");
    assert_eq!(
        h.ep.send_request(h.now, invite, phone()),
        Err(TransactionError::DuplicateBranch)
    );
    assert_eq!(
        h.ep.send_request(h.now, our_request("ACK", 3), phone()),
        Err(TransactionError::AckIsNotATransaction)
    );
}

#[test]
fn an_unanswered_request_times_out() {
    let mut h = harness();
    let options = our_request("OPTIONS", 1);
    let id = h.ep.send_request(h.now, options, phone()).expect("sent");
    assert_eq!(transmits(&mut h).len(), 1);
    // Retransmitted over UDP, but no timeout before 64*T1 = 32 s.
    let sent = run_for(&mut h, Duration::from_millis(31_900));
    assert!(sent.len() >= 5, "timer E retransmissions: {}", sent.len());
    assert!(sent.iter().all(|t| t.peer == phone()));
    assert!(
        !take_events(&mut h)
            .iter()
            .any(|e| matches!(e, Event::Timeout { .. })),
        "timed out before 64*T1"
    );
    run_for(&mut h, Duration::from_millis(200));
    match take_events(&mut h).as_slice() {
        [Event::Timeout { id: timed_out }] => assert_eq!(*timed_out, id),
        other => panic!("expected Event::Timeout, got {other:?}"),
    }
    assert_eq!(h.ep.stats().transactions_active, 0);
}

#[test]
fn an_unanswered_invite_times_out() {
    let mut h = harness();
    let id =
        h.ep.send_request(h.now, our_request("INVITE", 1), phone())
            .expect("sent");
    run_for(&mut h, Duration::from_secs(33));
    let timeouts: Vec<ClientTxId> = take_events(&mut h)
        .into_iter()
        .filter_map(|e| match e {
            Event::Timeout { id } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts, [id], "timer B");
}

#[test]
fn a_provisional_stops_the_invite_timing_out() {
    let mut h = harness();
    let invite = our_request("INVITE", 1);
    h.ep.send_request(h.now, invite.clone(), phone())
        .expect("sent");
    from_phone(&mut h, &reply(&invite, 180));
    run_for(&mut h, Duration::from_secs(60));
    assert!(
        !take_events(&mut h)
            .iter()
            .any(|e| matches!(e, Event::Timeout { .. })),
        "a ringing INVITE waits for its final response"
    );
}

#[test]
fn cancel_sends_a_cancel_after_a_provisional() {
    let mut h = harness();
    let invite = our_request("INVITE", 1);
    let id =
        h.ep.send_request(h.now, invite.clone(), phone())
            .expect("sent");
    transmits(&mut h);
    // Before any provisional response the CANCEL waits (RFC 3261 9.1).
    h.ep.cancel(h.now, id).expect("cancel");
    assert!(
        requests_in(&transmits(&mut h))
            .iter()
            .all(|r| r.method != Method::Cancel)
    );
    assert_eq!(
        h.ep.cancel(h.now, id),
        Err(TransactionError::AlreadyCancelled)
    );

    let (events, sent) = from_phone(&mut h, &reply(&invite, 180));
    assert_eq!(responses_for(&events), [(id, 180)]);
    let cancels: Vec<Request> = requests_in(&sent)
        .into_iter()
        .filter(|r| r.method == Method::Cancel)
        .collect();
    assert_eq!(cancels.len(), 1, "one CANCEL after the 180");
    let cancel = &cancels[0];
    assert!(sent.iter().all(|t| t.peer == phone()));
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(cancel.call_id, invite.call_id);
    assert_eq!(cancel.cseq.seq, invite.cseq.seq);
    assert_eq!(cancel.cseq.method, Method::Cancel);
    assert_eq!(cancel.via[0].branch(), invite.via[0].branch());
    assert_eq!(cancel.to.tag(), None, "the CANCEL's To is the INVITE's");

    // The phone answers 200 to the CANCEL and 487 to the INVITE, which we ACK.
    let (events, _) = from_phone(&mut h, &reply(cancel, 200));
    assert!(!responses_for(&events).iter().any(|(i, _)| *i == id));
    let (events, sent) = from_phone(&mut h, &reply(&invite, 487));
    assert_eq!(responses_for(&events), [(id, 487)]);
    let acks = requests_in(&sent);
    assert_eq!(acks.len(), 1, "the transaction ACKs a non-2xx: {acks:?}");
    assert_eq!(acks[0].method, Method::Ack);
    assert_eq!(acks[0].via[0].branch(), invite.via[0].branch());
    assert_eq!(acks[0].to.tag(), Some("phone-tag"));
}

#[test]
fn cancel_after_the_final_response_is_refused() {
    let mut h = harness();
    let invite = our_request("INVITE", 1);
    let id =
        h.ep.send_request(h.now, invite.clone(), phone())
            .expect("sent");
    from_phone(&mut h, &reply(&invite, 200));
    assert!(h.ep.cancel(h.now, id).is_err());
    assert!(
        requests_in(&transmits(&mut h)).is_empty(),
        "nothing to cancel"
    );
    let options =
        h.ep.send_request(h.now, our_request("OPTIONS", 2), phone())
            .expect("sent");
    assert_eq!(
        h.ep.cancel(h.now, options),
        Err(TransactionError::NotInvite)
    );
}

// --- Targets ---------------------------------------------------------------

fn register_two_contacts(h: &mut Harness, from: Peer) {
    let reg_uri = format!("sip:{DOMAIN}");
    let register = |branch: &str, cseq: u32, extra: &[String]| {
        let to_tagless = format!(
            "REGISTER {reg_uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:40000;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1001@{DOMAIN}>;tag=r{branch}\r\nTo: <sip:1001@{DOMAIN}>\r\n\
             Call-ID: reg-1001@192.0.2.1\r\nCSeq: {cseq} REGISTER\r\n{}Content-Length: 0\r\n\r\n",
            extra.iter().map(|l| format!("{l}\r\n")).collect::<String>()
        );
        to_tagless.into_bytes()
    };
    let r = h.one(from, &register("reg1", 1, &[]));
    assert_eq!(r.status, 401);
    let auth = authorization(
        &challenge(&r, "MD5"),
        "1001",
        "s3cret",
        "REGISTER",
        &reg_uri,
        1,
    );
    let contacts = "Contact: <sip:1001@198.51.100.7:5062>;q=0.5, \
                    <sip:1001@phone.example.net:5070>;q=0.9, <sip:1001@203.0.113.9>;q=0.1";
    let r = h.one(from, &register("reg2", 2, &[contacts.into(), auth]));
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn targets_prefer_the_contact_address_and_then_the_source() {
    let mut h = harness();
    let nat = Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([192, 0, 2, 1], 40000)),
    };
    register_two_contacts(&mut h, nat);
    let targets = h.ep.targets(h.now, "1001");
    let got: Vec<(String, SocketAddr)> = targets
        .iter()
        .map(|(uri, peer): &(Uri, Peer)| (uri.to_string(), peer.addr))
        .collect();
    let expected: Vec<(String, SocketAddr)> = vec![
        // A host name: sent where the REGISTER came from.
        ("sip:1001@phone.example.net:5070".into(), nat.addr),
        // IP literals: sent to the contact itself (5060 when it has no port).
        (
            "sip:1001@198.51.100.7:5062".into(),
            "198.51.100.7:5062".parse().expect("addr"),
        ),
        (
            "sip:1001@203.0.113.9".into(),
            "203.0.113.9:5060".parse().expect("addr"),
        ),
    ];
    assert_eq!(got, expected, "highest q first");
    assert!(targets.iter().all(|(_, p)| p.transport == Transport::Udp));
    // Nobody else is reachable.
    assert!(h.ep.targets(h.now, "1002").is_empty());
    assert!(h.ep.targets(h.now, "nobody").is_empty());
}

#[test]
fn targets_vanish_when_the_binding_expires() {
    let mut h = harness();
    register_two_contacts(&mut h, peer(1));
    assert_eq!(h.ep.targets(h.now, "1001").len(), 3);
    h.advance(Duration::from_secs(3601));
    assert!(h.ep.targets(h.now, "1001").is_empty());
}

// --- Found by probing: each of these once went wrong --------------------

#[test]
fn the_487_and_the_200_to_cancel_carry_the_tag_of_the_180() {
    let mut h = harness();
    let p = peer(1);
    let (id, invite) = authenticated_invite(&mut h, p, "call-tags", "inv1");
    let mut ringing = Response::to_request(&invite, 180);
    ringing.to.set_tag("ring-tag");
    h.ep.respond(h.now, id, ringing);
    let _ = transmits(&mut h);
    let replies = h.send(
        p,
        &message("CANCEL", &ruri(), "inv1", "call-tags", None, 2, &[], ""),
    );
    assert_eq!(replies.len(), 2, "{replies:?}");
    for r in &replies {
        assert_eq!(
            r.to.tag(),
            Some("ring-tag"),
            "{} {}",
            r.status,
            r.cseq.method
        );
    }
}

#[test]
fn a_cancel_after_the_answer_changes_nothing() {
    let mut h = harness();
    let p = peer(1);
    let (id, invite) = authenticated_invite(&mut h, p, "call-late-cancel", "inv1");
    let mut ok = Response::to_request(&invite, 200);
    ok.to.set_tag("ok-tag");
    h.ep.respond(h.now, id, ok);
    let _ = transmits(&mut h);
    let replies = h.send(
        p,
        &message(
            "CANCEL",
            &ruri(),
            "inv1",
            "call-late-cancel",
            None,
            2,
            &[],
            "",
        ),
    );
    assert_eq!(statuses(&replies), [200], "only the CANCEL is answered");
    assert!(
        take_events(&mut h).is_empty(),
        "an answered call is not cancelled"
    );
}

#[test]
fn a_cancel_for_a_challenged_invite_tells_the_application_nothing() {
    let mut h = harness();
    let p = peer(1);
    let r = h.one(
        p,
        &message(
            "INVITE",
            &ruri(),
            "inv3",
            "call-challenged",
            None,
            1,
            &[],
            "",
        ),
    );
    assert_eq!(r.status, 401);
    let _ = take_events(&mut h);
    let replies = h.send(
        p,
        &message(
            "CANCEL",
            &ruri(),
            "inv3",
            "call-challenged",
            None,
            1,
            &[],
            "",
        ),
    );
    assert_eq!(statuses(&replies), [200]);
    assert!(take_events(&mut h).is_empty());
}

#[test]
fn the_answers_to_our_own_cancel_stay_inside_the_endpoint() {
    let mut h = harness();
    let phone = peer(9);
    let invite = {
        let bytes = message(
            "INVITE",
            "sip:1002@192.0.2.9",
            &new_branch(7)[7..],
            "call-out",
            None,
            1,
            &[],
            "",
        );
        match parse(&bytes).expect("parse") {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    };
    let id =
        h.ep.send_request(h.now, invite.clone(), phone)
            .expect("sent");
    let _ = transmits(&mut h);
    let ringing = {
        let mut r = Response::to_request(&invite, 180);
        r.to.set_tag("phone-tag");
        r
    };
    h.ep.handle_input(h.now, phone, &ringing.to_bytes());
    let _ = take_events(&mut h);
    h.ep.cancel(h.now, id).expect("cancel");
    let cancel = requests_in(&transmits(&mut h))
        .into_iter()
        .find(|r| r.method == Method::Cancel)
        .expect("a CANCEL went out");
    h.ep.handle_input(h.now, phone, &Response::to_request(&cancel, 200).to_bytes());
    let events = take_events(&mut h);
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, Event::Response { id: other, .. } if *other != id)),
        "a response for a transaction the application never started: {events:?}"
    );
}

#[test]
fn a_trusted_dialog_never_lets_a_register_through() {
    let mut h = harness();
    let p = peer(66);
    h.ep.trust_dialog("call-p5", "our-tag", "1001", None);
    let register = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.66:5060;branch=z9hG4bKreg5\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@{DOMAIN}>;tag=x\r\nTo: <sip:1001@{DOMAIN}>;tag=our-tag\r\n\
         Call-ID: call-p5\r\nCSeq: 9 REGISTER\r\nContact: <sip:1001@203.0.113.66>\r\nContent-Length: 0\r\n\r\n"
    );
    let r = h.one(p, register.as_bytes());
    assert_eq!(r.status, 401, "a REGISTER must authenticate, dialog or not");
    assert!(h.ep.targets(h.now, "1001").is_empty());
}

#[test]
fn a_trusted_dialog_only_trusts_its_peers_address() {
    let mut h = harness();
    let phone = peer(1);
    let stranger = peer(66);
    h.ep.trust_dialog("call-ip", "our-tag", "1001", Some(phone.addr.ip()));
    let bye = |branch: &str| {
        message(
            "BYE",
            &ruri(),
            branch,
            "call-ip",
            Some("our-tag"),
            3,
            &[],
            "",
        )
    };
    let r = h.one(stranger, &bye("bye-stranger"));
    assert_eq!(r.status, 401, "a BYE from elsewhere is challenged");
    assert!(take_events(&mut h).is_empty());
    let replies = h.send(phone, &bye("bye-phone"));
    assert!(replies.is_empty(), "{replies:?}");
    assert!(matches!(
        take_events(&mut h).as_slice(),
        [Event::Request { .. }]
    ));
}
