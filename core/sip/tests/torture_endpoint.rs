//! Every torture message through the endpoint (the layer EXPECTED.md talks
//! about): the exact answer, headers it must carry, and for the REGISTERs
//! that must bind with valid credentials, what the binding keeps.

mod client;

use std::path::PathBuf;

use client::{Harness, authorization, challenge, peer};
use waihu_sip::message::{Contact, HeaderName, Message, Response, parse};

fn load(set: &str, file: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sip-torture")
        .join(set)
        .join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `Some(status)` expected, or `None` for silence.
const EXPECT: &[(&str, Option<u16>)] = &[
    ("wsinv", Some(401)),
    ("intmeth", Some(501)),
    ("esc01", Some(401)),
    ("escnull", Some(401)),
    ("esc02", Some(501)),
    ("lwsdisp", Some(401)),
    ("longreq", Some(401)),
    ("dblreq", Some(401)),
    ("semiuri", Some(401)),
    ("transports", Some(401)),
    ("mpart01", Some(405)),
    ("unreason", None),
    ("noreason", None),
    ("inv2543", Some(401)),
    ("badinv01", Some(400)),
    ("quotbal", Some(400)),
    ("lwsruri", Some(400)),
    ("mismatch01", Some(400)),
    ("scalar02", Some(400)),
    ("insuf", Some(400)),
    ("multi01", Some(400)),
    ("ltgtruri", Some(400)),
    ("lwsstart", Some(400)),
    ("trws", Some(400)),
    ("escruri", Some(400)),
    ("baddate", Some(400)),
    ("regbadct", Some(400)),
    ("badaspec", Some(400)),
    ("baddn", Some(400)),
    ("clerr", Some(400)),
    ("ncl", None),
    ("mcl01", None),
    ("scalarlg", None),
    ("bigcode", None),
    ("badvers", Some(505)),
    ("mismatch02", Some(501)),
    ("badbranch", Some(401)),
    ("unkscm", Some(416)),
    ("novelsc", Some(416)),
    ("unksm2", Some(400)),
    ("bext01", Some(420)),
    ("invut", Some(415)),
    ("regaut01", Some(401)),
    ("bcast", None),
    ("zeromf", Some(401)),
    ("cparam01", Some(401)),
    ("cparam02", Some(401)),
    ("regescrt", Some(401)),
    ("sdp01", Some(406)),
    ("test", None),
];

#[test]
fn every_rfc4475_message_gets_its_answer() {
    let mut failures = Vec::new();
    for (name, want) in EXPECT {
        // A fresh endpoint per message: no state (or ban) carries over.
        let mut h = Harness::new("example.com", &[("user", "pw")], |_| {});
        let got = h.send_raw(peer(1), &load("rfc4475", &format!("{name}.dat")));
        let status = got.first().map(|r| r.0);
        if got.len() > 1 || status != *want {
            failures.push(format!(
                "{name}: expected {want:?}, got {:?}",
                got.iter().map(|r| r.0).collect::<Vec<_>>()
            ));
            continue;
        }
        match got.first() {
            Some((_, Some(r), _)) => check_headers(name, r, &mut failures),
            // Only a refused malformed request may echo headers we cannot parse.
            Some((status, None, text)) if *status < 400 => {
                failures.push(format!("{name}: unparseable {status}:\n{text}"))
            }
            _ => {}
        }
        // The endpoint still answers afterwards.
        let options = b"OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKalive\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        if h.send(peer(1), options).len() != 1 {
            failures.push(format!("{name}: no answer to OPTIONS afterwards"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_headers(name: &str, r: &Response, failures: &mut Vec<String>) {
    let has = |h: HeaderName| r.headers.get(&h).map(str::to_owned);
    match r.status {
        501 | 405 if has(HeaderName::Allow).is_none() => {
            failures.push(format!("{name}: {} without Allow", r.status))
        }
        415 if has(HeaderName::Accept).is_none() => {
            failures.push(format!("{name}: 415 without Accept"))
        }
        420 => {
            let u = has(HeaderName::Unsupported).unwrap_or_default();
            if !(u.contains("nothingSupportsThis") && u.contains("nothingSupportsThisEither"))
                || u.contains("Prox")
            {
                failures.push(format!("{name}: 420 Unsupported lists {u:?}"));
            }
        }
        401 if r.headers.get(&HeaderName::WwwAuthenticate).is_none() => {
            failures.push(format!("{name}: 401 without a challenge"))
        }
        _ => {}
    }
    if r.status > 100 && r.to.tag().is_none() {
        failures.push(format!("{name}: {} without a To tag", r.status));
    }
}

#[test]
fn rfc5118_messages_get_their_answers() {
    let expect: &[(&str, Option<u16>)] = &[
        ("ipv4-mapped-ipv6", Some(401)),
        ("ipv6-bad", Some(400)),
        ("ipv6-bug-abnf-3-colons", Some(400)),
        ("ipv6-correct-abnf-2-colons", Some(401)),
        ("ipv6-good", Some(401)),
        ("ipv6-in-sdp", Some(400)),
        ("mult-ip-in-header", Some(401)),
        ("mult-ip-in-sdp", Some(400)),
        ("port-ambiguous", Some(401)),
        ("port-unambiguous", Some(401)),
        ("via-received-param-no-delim", Some(401)),
        ("via-received-param-with-delim", Some(401)),
    ];
    for (name, want) in expect {
        let mut h = Harness::new("example.com", &[], |_| {});
        let got: Vec<u16> = h
            .send_raw(peer(1), &load("rfc5118", name))
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(got.first().copied(), *want, "{name}: {got:?}");
    }
}

/// Sends a torture REGISTER twice: once to get the challenge, then with
/// credentials for the user in its To header; returns the stored binding.
fn register_with_credentials(file: &str, user: &str) -> (Response, Contact) {
    let raw = load("rfc4475", file);
    let mut h = Harness::new("example.com", &[(user, "pw")], |_| {});
    let r = h.one(peer(1), &raw);
    assert_eq!(r.status, 401, "{file}");
    let auth = authorization(
        &challenge(&r, "MD5"),
        user,
        "pw",
        "REGISTER",
        "sip:example.com",
        1,
    );
    // Same message with the Authorization line added and a new branch / CSeq.
    let text = String::from_utf8(raw).expect("text");
    let text = text.replacen("branch=z9hG4bKkdjuw", "branch=z9hG4bKkdjuw-2", 1);
    let text = text.replacen("\r\n\r\n", &format!("\r\n{auth}\r\n\r\n"), 1);
    let text = bump_cseq(&text);
    let r = h.one(peer(1), text.as_bytes());
    assert_eq!(r.status, 200, "{file}: {r:?}");
    let contact = r.headers.get(&HeaderName::Contact).expect("contact in 200");
    let parsed = waihu_sip::message::parse_contacts(contact).expect("contact parses");
    (r, parsed.into_iter().next().expect("one contact"))
}

fn bump_cseq(text: &str) -> String {
    let line = text.lines().find(|l| l.starts_with("CSeq:")).expect("cseq");
    let n: u32 = line[5..]
        .trim()
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("number");
    text.replacen(line, &format!("CSeq: {} REGISTER", n + 1), 1)
}

#[test]
fn contact_parameters_stay_apart_from_uri_parameters() {
    // cparam01: `Contact: sip:...;unknownparam` -> a contact parameter.
    let (_, c) = register_with_credentials("cparam01.dat", "watson");
    let Contact::Addr(na) = c else { panic!("star") };
    assert!(na.params.contains("unknownparam"), "{na:?}");
    assert!(
        na.uri
            .as_sip()
            .is_some_and(|u| !u.params.contains("unknownparam"))
    );
    // cparam02: `<sip:...;unknownparam>` -> a URI parameter.
    let (_, c) = register_with_credentials("cparam02.dat", "watson");
    let Contact::Addr(na) = c else { panic!("star") };
    assert!(!na.params.contains("unknownparam"), "{na:?}");
    assert!(
        na.uri
            .as_sip()
            .is_some_and(|u| u.params.contains("unknownparam"))
    );
}

#[test]
fn escaped_uri_header_in_contact_is_kept() {
    let (_, c) = register_with_credentials("regescrt.dat", "user");
    let Contact::Addr(na) = c else { panic!("star") };
    let sip = na.uri.as_sip().expect("sip uri");
    assert_eq!(
        sip.headers.as_deref(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
}

#[test]
fn responses_are_well_formed_sip() {
    let mut h = Harness::new("example.com", &[], |_| {});
    let t = h.send(peer(1), &load("rfc4475", "wsinv.dat"));
    let again = parse(&t[0].to_bytes());
    assert!(matches!(again, Ok(Message::Response(_))));
}
