//! Every RFC 4475 / RFC 5118 torture message through the parser, checked
//! against what ../shared/sip-torture/EXPECTED.md asks of the parse layer
//! (endpoint-level answers such as 501, 415 or 420 are checked elsewhere).

use std::path::PathBuf;

use waihu_sip::message::{Message, Method, Uri, parse};

#[derive(Debug, PartialEq)]
enum Outcome {
    Request,
    Response,
    Status(u16),
    Drop,
}
use Outcome::*;

const RFC4475: &[(&str, Outcome)] = &[
    ("wsinv", Request),
    ("intmeth", Request),
    ("esc01", Request),
    ("escnull", Request),
    ("esc02", Request),
    ("lwsdisp", Request),
    ("longreq", Request),
    ("dblreq", Request),
    ("semiuri", Request),
    ("transports", Request),
    ("mpart01", Request),
    ("unreason", Response),
    ("noreason", Response),
    ("inv2543", Request),
    ("badinv01", Status(400)),
    ("quotbal", Status(400)),
    ("lwsruri", Status(400)),
    ("mismatch01", Status(400)),
    ("scalar02", Status(400)),
    ("insuf", Status(400)),
    ("multi01", Status(400)),
    ("ltgtruri", Status(400)),
    ("lwsstart", Status(400)),
    ("trws", Status(400)),
    ("escruri", Status(400)),
    ("baddate", Status(400)),
    ("regbadct", Status(400)),
    ("badaspec", Status(400)),
    ("baddn", Status(400)),
    ("clerr", Status(400)),
    ("ncl", Drop),
    ("mcl01", Drop),
    ("scalarlg", Drop),
    ("bigcode", Drop),
    ("badvers", Status(505)),
    ("mismatch02", Request),
    ("badbranch", Request),
    ("unkscm", Status(416)),
    ("novelsc", Status(416)),
    ("unksm2", Request),
    ("bext01", Request),
    ("invut", Request),
    ("regaut01", Request),
    ("bcast", Response),
    ("zeromf", Request),
    ("cparam01", Request),
    ("cparam02", Request),
    ("regescrt", Request),
    ("sdp01", Request),
    // No version in the request line and no Via: nothing to address a reply to.
    ("test", Drop),
];

const RFC5118: &[(&str, Outcome)] = &[
    ("ipv4-mapped-ipv6", Request),
    ("ipv6-bad", Status(400)),
    ("ipv6-bug-abnf-3-colons", Status(400)),
    ("ipv6-correct-abnf-2-colons", Request),
    ("ipv6-good", Request),
    // These two files have LF line ends while their Content-Length counts the
    // CRLFs of the RFC text, so the body on the wire is short: clerr's case.
    ("ipv6-in-sdp", Status(400)),
    ("mult-ip-in-header", Request),
    ("mult-ip-in-sdp", Status(400)),
    ("port-ambiguous", Request),
    ("port-unambiguous", Request),
    ("via-received-param-no-delim", Request),
    ("via-received-param-with-delim", Request),
];

fn torture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sip-torture")
}

fn load(set: &str, name: &str) -> Vec<u8> {
    let dir = torture_dir().join(set);
    let path = if set == "rfc4475" {
        dir.join(format!("{name}.dat"))
    } else {
        dir.join(name)
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn outcome(bytes: &[u8]) -> Outcome {
    match parse(bytes) {
        Ok(Message::Request(_)) => Request,
        Ok(Message::Response(_)) => Response,
        Err(m) => match m.status() {
            Some(s) => {
                let reply = m
                    .reply("waihu-test", "t1")
                    .expect("a status comes with a reply");
                let text = String::from_utf8(reply).expect("reply is text");
                assert!(text.starts_with(&format!("SIP/2.0 {s} ")), "{text}");
                assert!(text.contains("\r\nVia: "), "{text}");
                Status(s)
            }
            None => Drop,
        },
    }
}

#[test]
fn every_torture_message_meets_its_parse_expectation() {
    let mut failures = Vec::new();
    for (set, table) in [("rfc4475", RFC4475), ("rfc5118", RFC5118)] {
        for (name, want) in table {
            let got = outcome(&load(set, name));
            if &got != want {
                failures.push(format!(
                    "{set}/{name}: expected {want:?}, got {got:?} ({:?})",
                    parse(&load(set, name)).err()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_every_file() {
    for (set, table) in [("rfc4475", RFC4475), ("rfc5118", RFC5118)] {
        for entry in std::fs::read_dir(torture_dir().join(set)).expect("torture dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let name = if set == "rfc5118" {
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            } else {
                name
            };
            assert!(
                table.iter().any(|(n, _)| *n == name),
                "{set}/{name} has no expectation"
            );
        }
    }
}

fn request(set: &str, name: &str) -> waihu_sip::message::Request {
    match parse(&load(set, name)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn valid_messages_keep_their_details() {
    let r = request("rfc4475", "wsinv");
    assert_eq!(r.via.len(), 3);
    assert_eq!(r.cseq.seq, 9);
    assert_eq!(r.max_forwards, Some(68));
    assert_eq!(r.to.tag(), Some("1918181833n"));
    assert_eq!(r.body.len(), 150);

    let r = request("rfc4475", "intmeth");
    assert_eq!(
        r.method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    let r = request("rfc4475", "esc02");
    assert!(matches!(r.method, Method::Extension(_)));
    let r = request("rfc4475", "dblreq");
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty());
    let r = request("rfc4475", "semiuri");
    assert_eq!(
        r.uri.as_sip().and_then(|u| u.user.as_deref()),
        Some("user;par=u%40example.net")
    );
    let r = request("rfc4475", "escnull");
    assert_eq!(r.contacts().expect("contacts").len(), 2);
    let r = request("rfc4475", "unksm2");
    assert!(matches!(r.to.uri, Uri::Other { .. }));
    let r = request("rfc4475", "longreq");
    assert!(r.via.len() > 30);
    let r = request("rfc4475", "transports");
    assert_eq!(
        r.via
            .iter()
            .map(|v| v.transport.as_str())
            .collect::<Vec<_>>(),
        ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    );
}

#[test]
fn serialised_requests_parse_back_equal() {
    for name in [
        "wsinv", "esc01", "escnull", "intmeth", "semiuri", "longreq", "cparam01", "regescrt",
        "inv2543",
    ] {
        let r = request("rfc4475", name);
        let again = match parse(&r.to_bytes()) {
            Ok(Message::Request(again)) => again,
            other => panic!("{name} re-parse: {other:?}"),
        };
        assert_eq!(again, r, "{name}");
    }
}

#[test]
fn a_malformed_ack_is_never_answered() {
    // badinv01's defects, in the ACK a client sends for our 400.
    let ack = b"ACK sip:user@example.com SIP/2.0\r\nTo: sip:j.user@example.com;tag=1\r\nFrom: sip:caller@example.net;tag=134161461246\r\nMax-Forwards: 7\r\nCall-ID: badinv01.0ha0isndaksdjasdf3234nas\r\nCSeq: 8 ACK\r\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\r\nContent-Length: 0\r\n\r\n";
    let m = parse(ack).expect_err("malformed");
    assert_eq!(m.status(), None);
    assert!(m.reply("waihu", "t").is_none());
}

#[test]
fn control_characters_in_quoted_strings_frame_on_tcp() {
    use waihu_sip::message::frame::{Frame, next_frame};
    let intmeth = load("rfc4475", "intmeth");
    assert_eq!(
        next_frame(&intmeth, 16_384, 65_536),
        Ok(Some(Frame::Message(intmeth.len())))
    );
}
