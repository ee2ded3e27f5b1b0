//! REGISTER through the endpoint: challenge, digest (SHA-256 and MD5),
//! bindings, refresh, removal, expiry; failures, bans, stale nonces.

mod client;

use std::time::Duration;

use client::{DOMAIN, Harness, authorization, challenge, param, peer, request};
use waihu_sip::endpoint::Event;
use waihu_sip::message::HeaderName;

fn register(branch: &str, cseq: u32, extra: &[String]) -> Vec<u8> {
    let ruri = format!("sip:{DOMAIN}");
    request("REGISTER", &ruri, branch, "1001", "1001", cseq, extra)
}

fn harness() -> Harness {
    Harness::new(DOMAIN, &[("1001", "s3cret"), ("1002", "other")], |c| {
        c.max_auth_failures = 3
    })
}

/// Registers `contact` for 1001 with a fresh challenge; returns the 200's Contact values.
fn registered(h: &mut Harness, alg: &str, contact: &str, seq: u32) -> Vec<String> {
    let p = peer(1);
    let r = h.one(p, &register(&format!("a{seq}"), seq, &[contact.into()]));
    assert_eq!(r.status, 401);
    let auth = authorization(
        &challenge(&r, alg),
        "1001",
        "s3cret",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let r = h.one(
        p,
        &register(&format!("b{seq}"), seq + 1, &[contact.into(), auth]),
    );
    assert_eq!(r.status, 200, "{r:?}");
    r.headers
        .get_all(&HeaderName::Contact)
        .map(str::to_owned)
        .collect()
}

fn offered(r: &waihu_sip::message::Response) -> Vec<String> {
    r.headers
        .get_all(&HeaderName::WwwAuthenticate)
        .map(|c| param(c, "algorithm").expect("algorithm").to_owned())
        .collect()
}

#[test]
fn challenge_offers_md5_then_sha256_with_qop_auth() {
    let mut h = harness();
    let r = h.one(peer(1), &register("x", 1, &[]));
    assert_eq!(r.status, 401);
    assert_eq!(offered(&r), ["MD5", "SHA-256"]);
    assert!(
        r.headers
            .get_all(&HeaderName::WwwAuthenticate)
            .all(|c| param(c, "qop") == Some("auth"))
    );
    assert!(r.to.tag().is_some(), "a 401 carries a To tag");
}

#[test]
fn configured_algorithms_set_the_order_and_refuse_the_rest() {
    let mut h = Harness::new(DOMAIN, &[("1001", "s3cret")], |c| {
        c.digest_algorithms = vec![waihu_sip::auth::Algorithm::Sha256];
    });
    let p = peer(1);
    let r = h.one(p, &register("a", 1, &[]));
    assert_eq!(offered(&r), ["SHA-256"]);
    // MD5 credentials, although correct, are not accepted any more.
    let md5 = challenge(&r, "SHA-256").replace("SHA-256", "MD5");
    let auth = authorization(
        &md5,
        "1001",
        "s3cret",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let r = h.one(
        p,
        &register("b", 2, &["Contact: <sip:1001@192.0.2.1>".into(), auth]),
    );
    assert_eq!(r.status, 401);
    assert_eq!(h.ep.stats().registrations, 0);
}

#[test]
fn sha256_and_md5_registrations_bind_contacts() {
    let mut h = harness();
    let c = registered(
        &mut h,
        "SHA-256",
        "Contact: <sip:1001@192.0.2.1:5060>;expires=120",
        1,
    );
    assert_eq!(c.len(), 1);
    assert!(c[0].contains("expires=120"), "{c:?}");
    let c = registered(&mut h, "MD5", "Contact: <sip:1001@192.0.2.99:5070>", 10);
    assert_eq!(c.len(), 2, "several contacts per address of record: {c:?}");
    assert_eq!(h.ep.stats().registrations, 2);
    assert_eq!(h.ep.contacts(h.now, "1001").len(), 2);
}

#[test]
fn contacts_expire_and_star_removes_all() {
    let mut h = harness();
    registered(
        &mut h,
        "MD5",
        "Contact: <sip:1001@192.0.2.1:5060>;expires=60",
        1,
    );
    registered(
        &mut h,
        "MD5",
        "Contact: <sip:1001@192.0.2.2:5060>;expires=3600",
        10,
    );
    h.advance(Duration::from_secs(61));
    assert_eq!(
        h.ep.contacts(h.now, "1001").len(),
        1,
        "the 60 s binding expired"
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Registration { contacts: 0, .. }))
    );
    let c = registered(&mut h, "MD5", "Contact: *\r\nExpires: 0", 20);
    assert!(c.is_empty(), "Contact: * removes every binding: {c:?}");
    assert_eq!(h.ep.stats().registrations, 0);
}

#[test]
fn too_brief_interval_gets_423_with_min_expires() {
    let mut h = harness();
    let p = peer(1);
    let r = h.one(p, &register("a", 1, &[]));
    let auth = authorization(
        &challenge(&r, "MD5"),
        "1001",
        "s3cret",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let r = h.one(
        p,
        &register(
            "b",
            2,
            &["Contact: <sip:1001@192.0.2.1>;expires=5".into(), auth],
        ),
    );
    assert_eq!(r.status, 423);
    assert_eq!(r.headers.get(&HeaderName::MinExpires), Some("60"));
}

#[test]
fn a_user_may_not_register_someone_else() {
    let mut h = harness();
    let p = peer(1);
    let ruri = format!("sip:{DOMAIN}");
    let r = h.one(p, &request("REGISTER", &ruri, "a", "1002", "1001", 1, &[]));
    let auth = authorization(&challenge(&r, "MD5"), "1002", "other", "REGISTER", &ruri, 1);
    let r = h.one(
        p,
        &request(
            "REGISTER",
            &ruri,
            "b",
            "1002",
            "1001",
            2,
            &["Contact: <sip:x@192.0.2.1>".into(), auth],
        ),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn unknown_user_and_wrong_password_look_the_same_and_lead_to_a_ban() {
    let mut h = harness();
    let p = peer(7);
    let ruri = format!("sip:{DOMAIN}");
    let mut shapes = Vec::new();
    for (i, (user, pw)) in [("1001", "wrong"), ("9999", "whatever"), ("1001", "nope")]
        .iter()
        .enumerate()
    {
        let r = h.one(
            p,
            &request("REGISTER", &ruri, &format!("c{i}"), user, user, 1, &[]),
        );
        assert_eq!(r.status, 401);
        let auth = authorization(&challenge(&r, "MD5"), user, pw, "REGISTER", &ruri, 1);
        let r = h.one(
            p,
            &request("REGISTER", &ruri, &format!("d{i}"), user, user, 2, &[auth]),
        );
        assert_eq!(r.status, 401, "{user}/{pw}");
        let shape: Vec<String> = r
            .headers
            .iter()
            .map(|hd| {
                format!(
                    "{}:{}",
                    hd.name,
                    hd.value.split("nonce").next().unwrap_or_default()
                )
            })
            .collect();
        shapes.push(shape);
    }
    assert_eq!(
        shapes[0], shapes[1],
        "unknown user answered differently from a wrong password"
    );
    assert_eq!(h.ep.stats().auth_failures, 3);
    assert!(
        h.events.iter().any(|e| matches!(e, Event::Banned { .. })),
        "{:?}",
        h.events
    );
    // Banned: nothing comes back any more, not even a challenge.
    assert!(h.send(p, &register("late", 9, &[])).is_empty());
    // Another source is unaffected.
    assert_eq!(h.one(peer(8), &register("other", 1, &[])).status, 401);
}

#[test]
fn expired_nonce_is_stale_and_replayed_nc_is_refused() {
    let mut h = Harness::new(DOMAIN, &[("1001", "s3cret")], |c| {
        c.nonce_lifetime = Duration::from_secs(30)
    });
    let p = peer(1);
    let ruri = format!("sip:{DOMAIN}");
    let r = h.one(p, &register("a", 1, &[]));
    let ch = challenge(&r, "SHA-256");
    let contact = "Contact: <sip:1001@192.0.2.1>".to_owned();
    let auth = authorization(&ch, "1001", "s3cret", "REGISTER", &ruri, 1);
    assert_eq!(
        h.one(p, &register("b", 2, &[contact.clone(), auth.clone()]))
            .status,
        200
    );
    // The same nonce count again is a replay: challenged with stale=true, not accepted.
    let r = h.one(p, &register("c", 3, &[contact.clone(), auth]));
    assert_eq!(r.status, 401);
    // The next count is fine.
    let auth = authorization(&ch, "1001", "s3cret", "REGISTER", &ruri, 2);
    assert_eq!(
        h.one(p, &register("d", 4, &[contact.clone(), auth])).status,
        200
    );
    h.advance(Duration::from_secs(31));
    let auth = authorization(&ch, "1001", "s3cret", "REGISTER", &ruri, 3);
    let r = h.one(p, &register("e", 5, &[contact, auth]));
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .get_all(&HeaderName::WwwAuthenticate)
            .all(|c| c.contains("stale=true")),
        "{r:?}"
    );
}

#[test]
fn retransmitted_register_gets_the_same_answer_once_per_copy() {
    let mut h = harness();
    let p = peer(1);
    let msg = register("same", 1, &[]);
    let first = h.one(p, &msg);
    let again = h.one(p, &msg);
    assert_eq!(
        first, again,
        "a retransmission is answered from the transaction"
    );
    assert_eq!(h.ep.stats().transactions_started, 1);
}

#[test]
fn options_needs_auth_then_lists_allow_and_accept() {
    let mut h = harness();
    let p = peer(1);
    let ruri = format!("sip:1001@{DOMAIN}");
    let r = h.one(p, &request("OPTIONS", &ruri, "o1", "1001", "1001", 1, &[]));
    assert_eq!(r.status, 401);
    let auth = authorization(&challenge(&r, "MD5"), "1001", "s3cret", "OPTIONS", &ruri, 1);
    let r = h.one(
        p,
        &request("OPTIONS", &ruri, "o2", "1001", "1001", 2, &[auth]),
    );
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .get(&HeaderName::Allow)
            .is_some_and(|a| a.contains("REGISTER"))
    );
    assert_eq!(r.headers.get(&HeaderName::Accept), Some("application/sdp"));
}

#[test]
fn authenticated_invite_goes_to_the_application() {
    let mut h = harness();
    let p = peer(1);
    let ruri = format!("sip:555@{DOMAIN}");
    let r = h.one(p, &request("INVITE", &ruri, "i1", "1001", "555", 1, &[]));
    assert_eq!(r.status, 401);
    let auth = authorization(&challenge(&r, "MD5"), "1001", "s3cret", "INVITE", &ruri, 1);
    let trying = h.send(
        p,
        &request("INVITE", &ruri, "i2", "1001", "555", 2, &[auth]),
    );
    assert_eq!(trying.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
    assert!(trying[0].to.tag().is_none(), "100 Trying carries no To tag");
    let Some(Event::Request {
        id, request, user, ..
    }) = h.events.pop()
    else {
        panic!("{:?}", h.events)
    };
    assert_eq!(user, "1001");
    let resp = waihu_sip::message::Response::to_request(&request, 404);
    h.ep.respond(h.now, id, resp);
    let mut out = Vec::new();
    while let Some(t) = h.ep.poll_transmit() {
        out.push(t);
    }
    assert_eq!(out.len(), 1);
    assert!(out[0].bytes.starts_with(b"SIP/2.0 404 "));
}

#[test]
fn digest_uri_must_be_the_request_uri_or_this_server_without_a_user() {
    let cases = [
        // Another host: refused.
        ("sip:elsewhere.example", 400),
        // Another user at our domain (the INVITE target trick): refused.
        (&*format!("sip:9001@{DOMAIN}"), 400),
        // This server named without a user, as sipp sends it: accepted.
        (&*format!("sip:{DOMAIN}"), 200),
        ("sip:192.0.2.2:5060", 200),
    ];
    for (n, (uri, status)) in cases.into_iter().enumerate() {
        let mut h = harness();
        let p = peer(1);
        let r = h.one(p, &register("a", 1, &[]));
        let auth = authorization(&challenge(&r, "MD5"), "1001", "s3cret", "REGISTER", uri, 1);
        let r = h.one(
            p,
            &register("b", 2, &["Contact: <sip:1001@192.0.2.1>".into(), auth]),
        );
        assert_eq!(r.status, status, "case {n}: digest uri {uri}");
    }
}
