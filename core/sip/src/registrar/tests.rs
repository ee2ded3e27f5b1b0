use std::net::SocketAddr;

use super::*;
use crate::Transport;
use crate::message::{Host, Method, Params, Via, parse_uri};

const AOR: &str = "alice@waihu.test";

fn peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([192, 0, 2, 1], 5060)),
    }
}

fn config() -> RegistrarConfig {
    RegistrarConfig {
        max_bindings: 100,
        max_per_aor: 5,
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
    }
}

/// The one clock read: tests step a virtual clock from here.
#[allow(clippy::disallowed_methods)]
fn start() -> Instant {
    Instant::now()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn request(call_id: &str, cseq: u32, contacts: &[&str], expires: Option<&str>) -> Request {
    let sip = |user: Option<&str>| Uri::Sip(SipUri::new(user, Host::Name("waihu.test".to_owned())));
    let via = Via {
        transport: "UDP".to_owned(),
        host: Host::Name("client.test".to_owned()),
        port: None,
        params: Params::default(),
    };
    let to = NameAddr::new(sip(Some("alice")));
    let mut r = Request::new(
        Method::Register,
        sip(None),
        via,
        to.clone(),
        to,
        call_id,
        cseq,
    );
    for c in contacts {
        r.headers.push(HeaderName::Contact, *c);
    }
    if let Some(e) = expires {
        r.headers.push(HeaderName::Expires, e);
    }
    r
}

fn ok(result: Result<Registration, RegistrarError>) -> Registration {
    result.unwrap_or_else(|e| panic!("refused: {e}"))
}

fn status(result: &Result<Registration, RegistrarError>) -> Option<u16> {
    result.as_ref().err().map(RegistrarError::status)
}

fn headers(reg: &Registration) -> Vec<String> {
    let mut h: Vec<String> = reg
        .bindings
        .iter()
        .map(RegisteredContact::contact_header)
        .collect();
    h.sort();
    h
}

#[test]
fn first_registration_uses_the_default_expiry() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let reg = ok(r.register(
        t0,
        AOR,
        &request("c1", 1, &["<sip:alice@192.0.2.1:5060>"], None),
        peer(),
    ));
    assert_eq!(headers(&reg), ["<sip:alice@192.0.2.1:5060>;expires=3600"]);
    assert_eq!((reg.added, reg.refreshed, reg.removed), (1, 0, 0));
    assert_eq!(r.len(), 1);
    let bound = r.lookup(t0, AOR);
    assert_eq!(bound.len(), 1);
    assert_eq!(bound[0].aor(), AOR);
    assert_eq!(bound[0].peer(), peer());
    assert_eq!(bound[0].call_id(), "c1");
    assert_eq!(bound[0].contact_header(), "<sip:alice@192.0.2.1:5060>");
    assert_eq!(r.poll_timeout(), Some(t0 + secs(3600)));
}

#[test]
fn contact_expires_overrides_the_header_which_overrides_the_default() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let req = request(
        "c1",
        1,
        &["<sip:a@10.0.0.1>;expires=120, <sip:b@10.0.0.2>"],
        Some("300"),
    );
    let reg = ok(r.register(t0, AOR, &req, peer()));
    assert_eq!(
        headers(&reg),
        [
            "<sip:a@10.0.0.1>;expires=120",
            "<sip:b@10.0.0.2>;expires=300"
        ]
    );
}

#[test]
fn a_query_lists_bindings_with_the_time_left() {
    let t0 = start();
    let mut r = Registrar::new(config());
    ok(r.register(
        t0,
        AOR,
        &request("c1", 1, &["<sip:a@10.0.0.1>"], Some("600")),
        peer(),
    ));
    let reg = ok(r.register(t0 + secs(100), AOR, &request("c2", 1, &[], None), peer()));
    assert_eq!(headers(&reg), ["<sip:a@10.0.0.1>;expires=500"]);
    assert_eq!((reg.added, reg.refreshed, reg.removed), (0, 0, 0));
    // Partial seconds round up: the binding is not expired yet.
    let reg = ok(r.register(
        t0 + Duration::from_millis(599_500),
        AOR,
        &request("c2", 2, &[], None),
        peer(),
    ));
    assert_eq!(reg.bindings[0].expires, 1);
    let other = ok(r.register(t0, "bob@waihu.test", &request("c3", 1, &[], None), peer()));
    assert!(other.bindings.is_empty());
}

#[test]
fn refresh_moves_the_expiry() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let contact = ["<sip:a@10.0.0.1>"];
    ok(r.register(t0, AOR, &request("c1", 1, &contact, Some("600")), peer()));
    let reg = ok(r.register(
        t0 + secs(500),
        AOR,
        &request("c1", 2, &contact, Some("600")),
        peer(),
    ));
    assert_eq!((reg.added, reg.refreshed), (0, 1));
    assert_eq!(r.len(), 1);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(1100)));
    assert!(r.expire(t0 + secs(700)).is_empty());
    assert_eq!(r.lookup(t0 + secs(700), AOR).len(), 1);
}

#[test]
fn same_call_id_needs_a_higher_cseq() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let contact = ["<sip:a@10.0.0.1>"];
    ok(r.register(t0, AOR, &request("c1", 5, &contact, None), peer()));
    for cseq in [5, 4] {
        let err = r.register(t0, AOR, &request("c1", cseq, &contact, Some("0")), peer());
        assert_eq!(
            err,
            Err(RegistrarError::OutOfOrder {
                stored: 5,
                received: cseq
            })
        );
        assert_eq!(status(&err), Some(500));
    }
    assert_eq!(r.len(), 1, "nothing was removed");
    // Another Call-ID (the UA rebooted) may use any CSeq.
    let reg = ok(r.register(t0, AOR, &request("c2", 1, &contact, None), peer()));
    assert_eq!(reg.refreshed, 1);
    assert_eq!(r.lookup(t0, AOR)[0].call_id(), "c2");
}

#[test]
fn expires_zero_removes_one_binding() {
    let t0 = start();
    let mut r = Registrar::new(config());
    ok(r.register(
        t0,
        AOR,
        &request("c1", 1, &["<sip:a@10.0.0.1>", "<sip:b@10.0.0.2>"], None),
        peer(),
    ));
    let reg = ok(r.register(
        t0,
        AOR,
        &request("c1", 2, &["<sip:a@10.0.0.1>;expires=0"], None),
        peer(),
    ));
    assert_eq!(reg.removed, 1);
    assert_eq!(headers(&reg), ["<sip:b@10.0.0.2>;expires=3600"]);
    // Removing what is not there changes nothing and is no error.
    let reg = ok(r.register(
        t0,
        AOR,
        &request("c1", 3, &["<sip:z@10.0.0.9>"], Some("0")),
        peer(),
    ));
    assert_eq!((reg.added, reg.removed, reg.bindings.len()), (0, 0, 1));
    let reg = ok(r.register(
        t0,
        AOR,
        &request("c1", 4, &["<sip:b@10.0.0.2>"], Some("0")),
        peer(),
    ));
    assert!(reg.bindings.is_empty());
    assert!(r.is_empty());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn star_removes_everything_only_with_expires_zero_and_alone() {
    let t0 = start();
    let mut r = Registrar::new(config());
    ok(r.register(
        t0,
        AOR,
        &request("c1", 1, &["<sip:a@10.0.0.1>", "<sip:b@10.0.0.2>"], None),
        peer(),
    ));
    for (contacts, expires) in [
        (&["*"][..], None),
        (&["*"][..], Some("60")),
        (&["*", "<sip:a@10.0.0.1>"][..], Some("0")),
        (&["*, <sip:a@10.0.0.1>"][..], Some("0")),
    ] {
        let err = r.register(t0, AOR, &request("c9", 1, contacts, expires), peer());
        assert_eq!(
            err.as_ref().map_err(RegistrarError::status),
            Err(400),
            "{contacts:?} {expires:?}"
        );
    }
    // Same Call-ID as the bindings and an old CSeq: refused, nothing removed.
    let stale = r.register(t0, AOR, &request("c1", 1, &["*"], Some("0")), peer());
    assert!(matches!(stale, Err(RegistrarError::OutOfOrder { .. })));
    assert_eq!(r.len(), 2);
    let reg = ok(r.register(t0, AOR, &request("c1", 2, &["*"], Some("0")), peer()));
    assert_eq!(reg.removed, 2);
    assert!(reg.bindings.is_empty());
    assert!(r.is_empty());
    assert!(r.lookup(t0, AOR).is_empty());
}

#[test]
fn too_brief_is_423_and_changes_nothing() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let req = request(
        "c1",
        1,
        &["<sip:a@10.0.0.1>", "<sip:b@10.0.0.2>;expires=30"],
        None,
    );
    let err = r.register(t0, AOR, &req, peer());
    assert_eq!(err, Err(RegistrarError::IntervalTooBrief { min: 60 }));
    assert_eq!(status(&err), Some(423));
    assert!(r.is_empty());
    let err = r.register(
        t0,
        AOR,
        &request("c1", 2, &["<sip:a@10.0.0.1>"], Some("59")),
        peer(),
    );
    assert_eq!(err, Err(RegistrarError::IntervalTooBrief { min: 60 }));
    ok(r.register(
        t0,
        AOR,
        &request("c1", 3, &["<sip:a@10.0.0.1>"], Some("60")),
        peer(),
    ));
}

#[test]
fn too_long_is_clamped() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let req = request("c1", 1, &["<sip:a@10.0.0.1>;expires=99999999999"], None);
    let reg = ok(r.register(t0, AOR, &req, peer()));
    assert_eq!(reg.bindings[0].expires, 3600);
    let reg = ok(r.register(
        t0,
        AOR,
        &request("c1", 2, &["<sip:a@10.0.0.1>"], Some("7200")),
        peer(),
    ));
    assert_eq!(reg.bindings[0].expires, 3600);
}

#[test]
fn bounds_per_aor_and_in_total_are_503() {
    let t0 = start();
    let mut r = Registrar::new(RegistrarConfig {
        max_bindings: 3,
        max_per_aor: 2,
        ..config()
    });
    ok(r.register(
        t0,
        AOR,
        &request("c1", 1, &["<sip:a@10.0.0.1>", "<sip:b@10.0.0.2>"], None),
        peer(),
    ));
    let err = r.register(
        t0,
        AOR,
        &request("c1", 2, &["<sip:c@10.0.0.3>"], None),
        peer(),
    );
    assert_eq!(
        err,
        Err(RegistrarError::Full {
            scope: Scope::AddressOfRecord,
            limit: 2
        })
    );
    assert_eq!(status(&err), Some(503));
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("registrar full: per-AOR limit of 2 bindings reached".to_owned())
    );
    // Replacing one contact by another in one request fits.
    let swap = request(
        "c1",
        3,
        &["<sip:a@10.0.0.1>;expires=0", "<sip:c@10.0.0.3>"],
        None,
    );
    ok(r.register(t0, AOR, &swap, peer()));
    // Refreshes are always fine.
    ok(r.register(
        t0,
        AOR,
        &request("c1", 4, &["<sip:b@10.0.0.2>"], None),
        peer(),
    ));

    ok(r.register(
        t0,
        "bob@waihu.test",
        &request("c2", 1, &["<sip:bob@10.0.0.4>"], None),
        peer(),
    ));
    let err = r.register(
        t0,
        "carol@waihu.test",
        &request("c3", 1, &["<sip:carol@10.0.0.5>"], None),
        peer(),
    );
    assert_eq!(
        err,
        Err(RegistrarError::Full {
            scope: Scope::Total,
            limit: 3
        })
    );
    assert_eq!(r.len(), 3);
}

#[test]
fn expiry_is_lazy_for_lookup_and_reported_by_expire() {
    let t0 = start();
    let mut r = Registrar::new(config());
    ok(r.register(
        t0,
        AOR,
        &request(
            "c1",
            1,
            &["<sip:a@10.0.0.1>;expires=60", "<sip:b@10.0.0.2>"],
            None,
        ),
        peer(),
    ));
    ok(r.register(
        t0,
        "bob@waihu.test",
        &request("c2", 1, &["<sip:bob@10.0.0.4>"], Some("120")),
        peer(),
    ));
    assert_eq!(r.poll_timeout(), Some(t0 + secs(60)));
    assert!(r.expire(t0 + secs(59)).is_empty());

    let t1 = t0 + secs(60);
    // Invisible at once, even before `expire` runs.
    assert_eq!(r.lookup(t1, AOR).len(), 1);
    assert_eq!(r.len(), 3);
    let gone = r.expire(t1);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].aor(), AOR);
    assert_eq!(gone[0].contact_header(), "<sip:a@10.0.0.1>");
    assert_eq!(r.len(), 2);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(120)));

    let gone = r.expire(t0 + secs(3600));
    assert_eq!(gone.len(), 2);
    assert!(r.is_empty());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn an_expired_binding_does_not_block_a_new_registration() {
    let t0 = start();
    let mut r = Registrar::new(config());
    ok(r.register(
        t0,
        AOR,
        &request("c1", 9, &["<sip:a@10.0.0.1>"], Some("60")),
        peer(),
    ));
    // Same Call-ID and a lower CSeq, but the old binding is dead: it does not count.
    let reg = ok(r.register(
        t0 + secs(61),
        AOR,
        &request("c1", 1, &["<sip:a@10.0.0.1>"], None),
        peer(),
    ));
    assert_eq!((reg.added, reg.refreshed), (1, 0));
    assert_eq!(r.len(), 1);
}

#[test]
fn lookup_orders_by_q() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let req = request(
        "c1",
        1,
        &[
            "<sip:low@10.0.0.1>;q=0.1",
            "<sip:none@10.0.0.2>",
            "<sip:mid@10.0.0.3>;q=0.5",
        ],
        None,
    );
    ok(r.register(t0, AOR, &req, peer()));
    let order: Vec<(u16, String)> = r
        .lookup(t0, AOR)
        .iter()
        .map(|b| (b.q(), b.contact_header()))
        .collect();
    assert_eq!(
        order,
        [
            (1000, "<sip:none@10.0.0.2>".to_owned()),
            (500, "<sip:mid@10.0.0.3>;q=0.5".to_owned()),
            (100, "<sip:low@10.0.0.1>;q=0.1".to_owned()),
        ]
    );
}

/// RFC 4475 cparam01 and cparam02: `;unknownparam` outside the brackets is
/// a contact parameter, inside a URI parameter. Both forms are kept as sent;
/// as the URI parameter only appears on one side, the URIs are equivalent.
#[test]
fn contact_and_uri_parameters_stay_apart() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let outside = request(
        "c1",
        1,
        &["sip:+19725552222@gw1.example.net;unknownparam"],
        None,
    );
    let reg = ok(r.register(t0, AOR, &outside, peer()));
    assert_eq!(
        headers(&reg),
        ["<sip:+19725552222@gw1.example.net>;unknownparam;expires=3600"]
    );
    let b = r.lookup(t0, AOR)[0].clone();
    assert!(b.contact().params.contains("unknownparam"));
    assert!(b.uri().as_sip().is_some_and(|u| u.params.is_empty()));

    let inside = request(
        "c1",
        2,
        &["<sip:+19725552222@gw1.example.net;unknownparam>"],
        None,
    );
    let reg = ok(r.register(t0, AOR, &inside, peer()));
    assert_eq!(reg.refreshed, 1);
    assert_eq!(
        headers(&reg),
        ["<sip:+19725552222@gw1.example.net;unknownparam>;expires=3600"]
    );
}

/// RFC 4475 regescrt: a contact with an escaped header in its URI is bound
/// and listed back intact.
#[test]
fn escaped_uri_headers_survive() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let req = request(
        "c1",
        1,
        &["<sip:user@example.com?Route=%3Csip:sip.example.com%3E>"],
        None,
    );
    let reg = ok(r.register(t0, AOR, &req, peer()));
    assert_eq!(
        headers(&reg),
        ["<sip:user@example.com?Route=%3Csip:sip.example.com%3E>;expires=3600"]
    );
    // A different header is a different contact.
    let other = request(
        "c1",
        2,
        &["<sip:user@example.com?Route=%3Csip:other.example.com%3E>"],
        None,
    );
    assert_eq!(ok(r.register(t0, AOR, &other, peer())).added, 1);
}

#[test]
fn instance_and_display_name_are_kept() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let contact = "\"Alice, desk\" <sip:alice@10.0.0.1;transport=tcp>;\
                   +sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;q=0.7";
    ok(r.register(t0, AOR, &request("c1", 1, &[contact], Some("600")), peer()));
    let b = r.lookup(t0, AOR)[0].clone();
    assert_eq!(
        b.instance(),
        Some("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"")
    );
    assert_eq!(b.q(), 700);
    assert_eq!(b.contact().display.as_deref(), Some("\"Alice, desk\""));
    assert_eq!(
        b.contact_header_at(t0 + secs(10)),
        format!("{contact};expires=590")
    );
}

#[test]
fn several_headers_and_duplicates_in_one_request() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let req = request(
        "c1",
        1,
        &[
            "<sip:a@10.0.0.1>, <sip:b@10.0.0.2>",
            "<sip:a@10.0.0.1>;expires=120",
        ],
        None,
    );
    let reg = ok(r.register(t0, AOR, &req, peer()));
    // The second mention of `a` refreshes the first; last one wins.
    assert_eq!((reg.added, reg.refreshed), (2, 1));
    assert_eq!(
        headers(&reg),
        [
            "<sip:a@10.0.0.1>;expires=120",
            "<sip:b@10.0.0.2>;expires=3600"
        ]
    );
}

#[test]
fn bad_requests_are_400() {
    let t0 = start();
    let mut r = Registrar::new(config());
    let cases = [
        (
            request("c1", 1, &["<sip:a@10.0.0.1>"], Some("soon")),
            RegistrarError::InvalidExpires,
        ),
        (
            request("c1", 1, &["<sip:a@10.0.0.1>;expires=-1"], None),
            RegistrarError::InvalidExpires,
        ),
        (
            request("c1", 1, &["<sip:a@10.0.0.1>;expires"], None),
            RegistrarError::InvalidExpires,
        ),
        (
            request("c1", 1, &["<sip:a@10.0.0.1>;q=1.5"], None),
            RegistrarError::InvalidQ,
        ),
        (
            request("c1", 1, &["<sip:a@10.0.0.1>;q=0.1234"], None),
            RegistrarError::InvalidQ,
        ),
        (
            request("c1", 1, &["<sip:a@10.0.0.1>;q"], None),
            RegistrarError::InvalidQ,
        ),
    ];
    for (req, expected) in cases {
        let err = r.register(t0, AOR, &req, peer());
        assert_eq!(err, Err(expected));
        assert_eq!(status(&err), Some(400));
    }
    let err = r.register(
        t0,
        AOR,
        &request("c1", 1, &["<sip:a@10.0.0.1"], None),
        peer(),
    );
    assert!(matches!(err, Err(RegistrarError::BadContact(_))));
    assert!(r.is_empty());
}

#[test]
fn qvalues() {
    for (text, q) in [
        ("0", 0),
        ("0.", 0),
        ("0.5", 500),
        ("0.05", 50),
        ("0.001", 1),
        ("1", 1000),
        ("1.000", 1000),
    ] {
        assert_eq!(parse_qvalue(text), Some(q), "{text}");
    }
    for text in ["", ".5", "1.001", "2", "0.1234", "00.5", "0,5", "1.0a"] {
        assert_eq!(parse_qvalue(text), None, "{text}");
    }
}

#[test]
fn uri_equivalence_follows_rfc3261_19_1_4() {
    let same = |a: &str, b: &str| match (parse_uri(a), parse_uri(b)) {
        (Ok(a), Ok(b)) => same_uri(&a, &b) && same_uri(&b, &a),
        other => panic!("{other:?}"),
    };
    assert!(same("sip:%61lice@EXAMPLE.com", "sip:alice@example.com"));
    assert!(same(
        "sip:alice@example.com;transport=TCP",
        "sip:alice@example.com;transport=tcp"
    ));
    assert!(same(
        "sip:alice@example.com;transport=tcp",
        "sip:alice@example.com"
    ));
    assert!(same("sip:alice@example.com;lr", "sip:alice@example.com"));
    assert!(!same("sip:ALICE@example.com", "sip:alice@example.com"));
    assert!(!same("sip:alice@example.com:5060", "sip:alice@example.com"));
    assert!(!same("sips:alice@example.com", "sip:alice@example.com"));
    assert!(!same(
        "sip:alice@example.com;maddr=10.0.0.1",
        "sip:alice@example.com"
    ));
    assert!(!same(
        "sip:alice@example.com;user=phone",
        "sip:alice@example.com"
    ));
    assert!(!same(
        "sip:alice@example.com;transport=udp",
        "sip:alice@example.com;transport=tcp"
    ));
    assert!(!same(
        "sip:alice@example.com?subject=a",
        "sip:alice@example.com"
    ));
    assert!(!same("sip:alice:pw@example.com", "sip:alice@example.com"));
    assert!(same("tel:+1234", "tel:+1234"));
    assert!(!same("tel:+1234", "sip:+1234@example.com"));
}
