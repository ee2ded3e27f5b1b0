//! Calls over a link that loses 30% of packets each way, decided by a seeded
//! PRNG: for every seed the outcome is consistent (the TU sees each request
//! once, each side ends with exactly one result, nothing is left in the
//! tables), and retransmission is what makes most of them succeed.

mod support;

use support::{Arrival, Loss, Side, Sim, ack_2xx, answer, invite, request};
use waihu_sip::Transport;
use waihu_sip::message::Method;
use waihu_sip::transaction::{Incoming, TransactionEvent};

#[derive(Debug, Default)]
struct Outcome {
    server_new: usize,
    server_acks: usize,
    client_finals: usize,
    client_timeout: bool,
    server_ack_timeout: bool,
}

fn run(seed: u64, method: Method) -> (Outcome, usize) {
    let mut sim = Sim::new(Transport::Udp);
    sim.client.loss = Loss::none().random(seed, 300);
    sim.server.loss = Loss::none().random(seed ^ 0xDEAD_BEEF, 300);
    let is_invite = method == Method::Invite;
    let req = if is_invite {
        invite(seed, Transport::Udp)
    } else {
        request(method, seed, Transport::Udp)
    };
    sim.client
        .tx
        .send_request(sim.now(), req.clone(), sim.server_peer())
        .expect("starts");
    let mut out = Outcome::default();
    let mut ack_seed = 1_000_000 + seed * 100;
    loop {
        while let Some((_, arrival)) = sim.server.inbox.pop_front() {
            match arrival {
                Arrival::Request(Incoming::New(key, r)) => {
                    out.server_new += 1;
                    let now = sim.now();
                    sim.server
                        .tx
                        .respond(now, key, answer(&r, 200, Some("srv")))
                        .expect("200");
                }
                Arrival::Request(Incoming::Ack(_)) => out.server_acks += 1,
                other => panic!("seed {seed}: unexpected {other:?}"),
            }
        }
        while let Some((_, arrival)) = sim.client.inbox.pop_front() {
            let Arrival::Response(_, r) = arrival else {
                panic!("seed {seed}: unexpected {arrival:?}");
            };
            if r.status >= 200 {
                out.client_finals += 1;
                if is_invite {
                    ack_seed += 1;
                    ack_2xx(&mut sim, &req, &r, ack_seed);
                }
            }
        }
        if !sim.step() {
            break;
        }
    }
    for (_, e) in sim.events_ms(Side::Client) {
        out.client_timeout |= matches!(e, TransactionEvent::Timeout { .. });
    }
    for (_, e) in sim.events_ms(Side::Server) {
        out.server_ack_timeout |= matches!(e, TransactionEvent::AckTimeout { .. });
    }
    assert!(
        sim.client.tx.is_empty() && sim.server.tx.is_empty(),
        "seed {seed}: tables drained"
    );
    (out, sim.wire.len())
}

#[test]
fn invites_over_a_lossy_link_end_consistently() {
    let mut succeeded = 0;
    let mut packets = 0;
    for seed in 0..200 {
        let (o, sent) = run(seed, Method::Invite);
        packets += sent;
        assert!(o.server_new <= 1, "seed {seed}: {o:?}");
        assert!(
            o.server_acks <= 1,
            "seed {seed}: duplicate ACKs reach the TU: {o:?}"
        );
        assert_ne!(
            o.client_timeout,
            o.client_finals > 0,
            "seed {seed}: one result: {o:?}"
        );
        if o.client_finals > 0 {
            assert_eq!(o.server_new, 1, "seed {seed}: {o:?}");
            succeeded += 1;
        }
        if o.server_new == 1 {
            assert_ne!(
                o.server_acks == 1,
                o.server_ack_timeout,
                "seed {seed}: {o:?}"
            );
        }
    }
    assert!(
        succeeded >= 195,
        "retransmission recovers almost every call: {succeeded}"
    );
    // Without loss a call is 3 packets (INVITE, 200, ACK): loss made many more.
    assert!(packets > 200 * 4, "loss forced retransmissions: {packets}");
}

#[test]
fn non_invites_over_a_lossy_link_end_consistently() {
    let mut succeeded = 0;
    for seed in 0..200 {
        let (o, _) = run(seed, Method::Options);
        assert!(o.server_new <= 1, "seed {seed}: {o:?}");
        assert!(
            o.client_finals <= 1,
            "seed {seed}: Completed absorbs copies: {o:?}"
        );
        assert_ne!(o.client_timeout, o.client_finals == 1, "seed {seed}: {o:?}");
        succeeded += o.client_finals;
    }
    assert!(succeeded >= 195, "{succeeded}");
}
