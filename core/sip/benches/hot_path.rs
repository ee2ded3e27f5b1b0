//! The per-message hot path: parse, transaction lookup, response build and
//! serialise, for REGISTER and INVITE.
//!
//! `cargo bench -p waihu-sip --bench hot_path`; messages per second per core
//! is 1 / (time per iteration), since every iteration is one message on one
//! thread.

// The bench needs one real starting instant; the code under test never reads the clock.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use waihu_sip::endpoint::{Endpoint, EndpointConfig, User};
use waihu_sip::message::parse;
use waihu_sip::{Peer, Transport};

fn register(branch: u64) -> Vec<u8> {
    format!(
        "REGISTER sip:waihu.local SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@waihu.local>;tag=a73kszlfl\r\n\
         To: <sip:1001@waihu.local>\r\n\
         Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n\
         CSeq: {branch} REGISTER\r\n\
         Contact: <sip:1001@192.0.2.10:5062;transport=udp>;expires=3600\r\n\
         User-Agent: bench\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn invite(branch: u64) -> Vec<u8> {
    format!(
        "INVITE sip:1002@waihu.local SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Agent 1001\" <sip:1001@waihu.local>;tag=a73kszlfl\r\n\
         To: <sip:1002@waihu.local>\r\n\
         Call-ID: inv-{branch}@192.0.2.10\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:1001@192.0.2.10:5062>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

fn endpoint(now: Instant) -> Endpoint {
    let mut config = EndpointConfig::new(
        "waihu.local",
        vec![User {
            id: "1001".into(),
            password: "secret".into(),
        }],
    );
    config.rate_per_ip = u32::MAX;
    config.burst_per_ip = u32::MAX;
    config.max_transactions = 1_000_000;
    Endpoint::new(config, now, [7; 32])
}

/// The ACK a UAC sends for our 401 to `invite(branch)`: same branch.
fn ack(branch: u64) -> Vec<u8> {
    format!(
        "ACK sip:1002@waihu.local SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Agent 1001\" <sip:1001@waihu.local>;tag=a73kszlfl\r\n\
         To: <sip:1002@waihu.local>;tag=x\r\n\
         Call-ID: inv-{branch}@192.0.2.10\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn drain(ep: &mut Endpoint) {
    while let Some(t) = ep.poll_transmit() {
        black_box(t);
    }
    while ep.poll_event().is_some() {}
}

fn bench(c: &mut Criterion) {
    let peer = Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([192, 0, 2, 10], 5062)),
    };
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    for (name, make) in [
        ("register", register as fn(u64) -> Vec<u8>),
        ("invite", invite),
    ] {
        let msg = make(1);
        g.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(&msg)))
        });
    }

    // Steady state of a busy server: the virtual clock advances 1 ms per
    // message, RFC default timers, so about 32,000 REGISTER transactions
    // (timer J, 32 s) are in the table while new ones are looked up,
    // created, challenged (nonce, 401 built and serialised) and expired.
    let start = Instant::now();
    let msgs: Vec<Vec<u8>> = (0..65_536).map(register).collect();
    let mut ep = endpoint(start);
    let mut n = 0u64;
    g.bench_function("new_request/register", |b| {
        b.iter(|| {
            n += 1;
            let now = start + Duration::from_millis(n);
            ep.handle_input(now, peer, &msgs[(n % 65_536) as usize]);
            ep.handle_timeout(now);
            drain(&mut ep);
        })
    });

    // INVITE challenged and its ACK: two messages per iteration.
    let invites: Vec<(Vec<u8>, Vec<u8>)> = (0..65_536).map(|i| (invite(i), ack(i))).collect();
    let mut ep = endpoint(start);
    let mut n = 0u64;
    g.throughput(Throughput::Elements(2));
    g.bench_function("new_request/invite+ack", |b| {
        b.iter(|| {
            n += 1;
            let now = start + Duration::from_millis(n);
            let (inv, ack) = &invites[(n % 65_536) as usize];
            ep.handle_input(now, peer, inv);
            ep.handle_input(now, peer, ack);
            ep.handle_timeout(now);
            drain(&mut ep);
        })
    });
    g.throughput(Throughput::Elements(1));

    // The same request again: found in the table, the stored response resent.
    for (name, make) in [
        ("register", register as fn(u64) -> Vec<u8>),
        ("invite", invite),
    ] {
        let msg = make(1);
        let mut ep = endpoint(start);
        ep.handle_input(start, peer, &msg);
        drain(&mut ep);
        g.bench_function(format!("retransmission/{name}"), |b| {
            b.iter(|| {
                ep.handle_input(start, peer, &msg);
                drain(&mut ep);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
