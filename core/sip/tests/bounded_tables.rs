//! Bounded tables: a full transaction table or registration table answers
//! 503 instead of growing.

mod client;

use client::{DOMAIN, Harness, authorization, challenge, peer, request};
use waihu_sip::message::HeaderName;

#[test]
fn full_transaction_table_answers_503_with_retry_after() {
    let mut h = Harness::new(DOMAIN, &[("1001", "pw")], |c| c.max_transactions = 2);
    let ruri = format!("sip:{DOMAIN}");
    for i in 0..2 {
        let r = h.one(
            peer(1),
            &request(
                "REGISTER",
                &ruri,
                &format!("t{i}"),
                "1001",
                "1001",
                i + 1,
                &[],
            ),
        );
        assert_eq!(r.status, 401);
    }
    let r = h.one(
        peer(1),
        &request("REGISTER", &ruri, "t9", "1001", "1001", 9, &[]),
    );
    assert_eq!(r.status, 503);
    assert!(r.headers.get(&HeaderName::RetryAfter).is_some());
    assert_eq!(
        h.ep.stats().transactions_active,
        2,
        "the table did not grow"
    );
    // Once the transactions end (timer J, 64*T1 over UDP), there is room again.
    h.advance(std::time::Duration::from_secs(33));
    let r = h.one(
        peer(1),
        &request("REGISTER", &ruri, "t10", "1001", "1001", 10, &[]),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn full_registration_table_answers_503() {
    let mut h = Harness::new(DOMAIN, &[("1001", "pw")], |c| c.max_registrations = 1);
    let ruri = format!("sip:{DOMAIN}");
    let mut statuses = Vec::new();
    for (i, host) in ["192.0.2.1", "192.0.2.2"].iter().enumerate() {
        let seq = 10 * i as u32 + 1;
        let r = h.one(
            peer(1),
            &request(
                "REGISTER",
                &ruri,
                &format!("a{i}"),
                "1001",
                "1001",
                seq,
                &[],
            ),
        );
        let auth = authorization(&challenge(&r, "MD5"), "1001", "pw", "REGISTER", &ruri, 1);
        let contact = format!("Contact: <sip:1001@{host}>");
        let r = h.one(
            peer(1),
            &request(
                "REGISTER",
                &ruri,
                &format!("b{i}"),
                "1001",
                "1001",
                seq + 1,
                &[contact, auth],
            ),
        );
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 503]);
    assert_eq!(h.ep.stats().registrations, 1);
}

#[test]
fn per_ip_rate_limit_drops_the_excess_before_parsing() {
    let mut h = Harness::new(DOMAIN, &[("1001", "pw")], |c| {
        c.rate_per_ip = 10;
        c.burst_per_ip = 5;
    });
    let ruri = format!("sip:{DOMAIN}");
    let answered = (0..12)
        .filter(|i| {
            !h.send(
                peer(1),
                &request("OPTIONS", &ruri, &format!("r{i}"), "1001", "1001", 1, &[]),
            )
            .is_empty()
        })
        .count();
    assert_eq!(answered, 5, "the burst is 5");
    assert_eq!(h.ep.stats().rate_limited, 7);
    // Even garbage counts: the limit applies before the parser sees anything.
    assert!(h.send(peer(1), b"\x00garbage").is_empty());
    assert_eq!(h.ep.stats().rate_limited, 8);
    assert_eq!(h.ep.stats().malformed, 0);
    // Another source has its own budget; time refills this one.
    assert_eq!(
        h.send(
            peer(2),
            &request("OPTIONS", &ruri, "other", "1001", "1001", 1, &[])
        )
        .len(),
        1
    );
    h.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        h.send(
            peer(1),
            &request("OPTIONS", &ruri, "later", "1001", "1001", 1, &[])
        )
        .len(),
        1
    );
}
