//! Unit tests of the pieces the scenario tests in `tests/` cannot reach.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::timer::{TimerKind, TimerQueue, TxRef};
use super::*;

fn epoch() -> Instant {
    // The only real instant in these tests: offsets are what matter.
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

#[test]
fn timers_are_clamped_to_sane_bounds() {
    let t = Timers {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::from_secs(1_000_000),
    }
    .sanitized();
    assert_eq!(t.t1, Duration::from_millis(1));
    assert_eq!(t.t2, t.t1, "T2 never below T1");
    assert_eq!(t.t4, Duration::from_secs(600));
    let t = Timers {
        t1: Duration::MAX,
        ..Timers::default()
    }
    .sanitized();
    assert_eq!(t.t1, Duration::from_secs(60));
    assert_eq!(t.transaction_timeout(), Duration::from_secs(3840));
}

#[test]
fn timer_queue_orders_by_deadline_then_terminal_timers_first() {
    let now = epoch();
    let mut q = TimerQueue::default();
    let a = TxRef::Client(ClientKey(1));
    let b = TxRef::Client(ClientKey(2));
    q.arm(a, TimerKind::A, now + Duration::from_secs(2));
    q.arm(b, TimerKind::E, now + Duration::from_secs(1));
    q.arm(a, TimerKind::B, now + Duration::from_secs(2));
    assert_eq!(q.next(), Some(now + Duration::from_secs(1)));
    assert_eq!(q.pop_due(now), None, "nothing due yet");
    let due = now + Duration::from_secs(2);
    assert_eq!(q.pop_due(due), Some((b, TimerKind::E)));
    assert_eq!(
        q.pop_due(due),
        Some((a, TimerKind::B)),
        "B before A at the same instant"
    );
    assert_eq!(q.pop_due(due), Some((a, TimerKind::A)));
    assert_eq!(q.pop_due(due), None);
}

#[test]
fn rearming_replaces_and_clear_removes_everything() {
    let now = epoch();
    let mut q = TimerQueue::default();
    let a = TxRef::Server(ServerKey(7));
    q.arm(a, TimerKind::G, now + Duration::from_secs(1));
    q.arm(a, TimerKind::G, now + Duration::from_secs(3));
    q.arm(a, TimerKind::H, now + Duration::from_secs(32));
    assert_eq!(q.len(), 2);
    assert_eq!(q.next(), Some(now + Duration::from_secs(3)));
    q.disarm(a, TimerKind::G);
    assert_eq!(q.next(), Some(now + Duration::from_secs(32)));
    q.clear(a);
    assert_eq!(q.len(), 0);
    assert_eq!(q.next(), None);
}

#[test]
fn branches_and_tags_are_distinct_for_distinct_seeds() {
    let branches: HashSet<String> = (0..10_000).map(new_branch).collect();
    assert_eq!(branches.len(), 10_000);
    assert!(
        branches
            .iter()
            .all(|b| b.starts_with(BRANCH_COOKIE) && b.len() == 23)
    );
    let tags: HashSet<String> = (0..10_000).map(new_tag).collect();
    assert_eq!(tags.len(), 10_000);
    assert_ne!(new_tag(1), new_branch(1)[BRANCH_COOKIE.len()..]);
}

#[test]
fn timer_d_is_never_shorter_than_the_servers_retransmission_window() {
    let t = Timers {
        t1: Duration::from_secs(1),
        ..Timers::default()
    };
    assert_eq!(t.timer_d(false), Duration::from_secs(64));
    assert_eq!(Timers::default().timer_d(false), Duration::from_secs(32));
    assert_eq!(Timers::default().timer_d(true), Duration::ZERO);
    assert_eq!(Timers::default().timer_j(true), Duration::ZERO);
    assert_eq!(Timers::default().timer_k(false), Duration::from_secs(5));
}

fn bare_request(method: crate::message::Method) -> Request {
    use crate::message::{Host, NameAddr, SipUri, Uri, Via};
    let uri = Uri::Sip(SipUri::new(Some("bob"), Host::Name("example.com".into())));
    let via = Via {
        transport: "UDP".into(),
        host: Host::Name("client.example.com".into()),
        port: None,
        params: Default::default(),
    };
    Request::new(
        method,
        uri.clone(),
        via,
        NameAddr::new(uri.clone()),
        NameAddr::new(uri),
        "c@example.com",
        1,
    )
}

fn peer() -> Peer {
    Peer {
        transport: crate::Transport::Udp,
        addr: "192.0.2.1:5060".parse().expect("address"),
    }
}

#[test]
fn messages_without_via_never_panic() {
    let now = epoch();
    let mut tx = Transactions::new(Timers::default(), 8);
    let mut request = bare_request(Method::Invite);
    request.via.clear();
    assert_eq!(
        tx.send_request(now, request.clone(), peer()),
        Err(TransactionError::MissingVia)
    );
    // A request nobody can match again still gets a transaction and answers.
    let Incoming::New(key, got) = tx.on_request(now, request.clone(), peer()) else {
        panic!("new");
    };
    tx.respond(now, key, Response::to_request(&got, 486))
        .expect("486");
    let mut ack = request.clone();
    ack.method = Method::Ack;
    ack.cseq.method = Method::Ack;
    assert!(matches!(tx.on_request(now, ack, peer()), Incoming::Ack(_)));
    let mut response = Response::to_request(&bare_request(Method::Invite), 200);
    response.via.clear();
    assert_eq!(tx.on_response(now, response, peer()), None);
    tx.handle_timeout(now + Duration::from_secs(3600));
    assert!(tx.is_empty());
}

#[test]
fn the_tu_cannot_send_what_the_state_forbids() {
    let now = epoch();
    let mut tx = Transactions::new(Timers::default(), 8);
    let mut request = bare_request(Method::Options);
    request.via[0].params.set("branch", Some(&new_branch(1)));
    let Incoming::New(key, got) = tx.on_request(now, request.clone(), peer()) else {
        panic!("new");
    };
    assert_eq!(
        tx.respond(now, key, Response::to_request(&got, 99)),
        Err(TransactionError::InvalidStatus(99))
    );
    let mut other = Response::to_request(&got, 200);
    other.cseq.seq = 2;
    assert_eq!(
        tx.respond(now, key, other),
        Err(TransactionError::ResponseMismatch)
    );
    tx.respond(now, key, Response::to_request(&got, 200))
        .expect("200");
    assert_eq!(
        tx.respond(now, key, Response::to_request(&got, 500)),
        Err(TransactionError::AlreadyFinal)
    );
    assert_eq!(
        tx.respond(now, ServerKey(999), Response::to_request(&got, 200)),
        Err(TransactionError::Unknown)
    );
    // Client side: ACK, missing cookie, duplicates, method mismatch.
    let mut ack = request.clone();
    ack.method = Method::Ack;
    assert_eq!(
        tx.send_request(now, ack, peer()),
        Err(TransactionError::AckIsNotATransaction)
    );
    let mut legacy = request.clone();
    legacy.via[0].params.set("branch", Some("1234"));
    assert_eq!(
        tx.send_request(now, legacy, peer()),
        Err(TransactionError::MissingBranch)
    );
    tx.send_request(now, request.clone(), peer())
        .expect("first");
    assert_eq!(
        tx.send_request(now, request.clone(), peer()),
        Err(TransactionError::DuplicateBranch)
    );
    let mut mismatch = request;
    mismatch.cseq.method = Method::Info;
    assert_eq!(
        tx.send_request(now, mismatch, peer()),
        Err(TransactionError::MethodMismatch)
    );
}
