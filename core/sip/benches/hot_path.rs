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
        vec![User { id: "1001".into(), password: "secret".into() }],
    );
    // Short timers keep the transaction table at a steady size while the
    // virtual clock advances 1 ms per message.
    config.t1 = Duration::from_millis(1);
    config.t2 = Duration::from_millis(4);
    config.t4 = Duration::from_millis(5);
    config.rate_per_ip = u32::MAX;
    config.burst_per_ip = u32::MAX;
    config.max_transactions = 1_000_000;
    Endpoint::new(config, now, [7; 32])
}

fn bench(c: &mut Criterion) {
    let peer = Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([192, 0, 2, 10], 5062)),
    };
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    for (name, make) in [("register", register as fn(u64) -> Vec<u8>), ("invite", invite)] {
        let msg = make(1);
        g.bench_function(format!("parse/{name}"), |b| b.iter(|| parse(black_box(&msg))));
        // A new request each time: parse, transaction created and looked up,
        // 401 challenge built and serialised.
        let start = Instant::now();
        let mut ep = endpoint(start);
        let mut n = 0u64;
        let msgs: Vec<Vec<u8>> = (0..4096).map(make).collect();
        g.bench_function(format!("new_request/{name}"), |b| {
            b.iter(|| {
                n += 1;
                let now = start + Duration::from_millis(n);
                ep.handle_input(now, peer, &msgs[(n % 4096) as usize]);
                ep.handle_timeout(now);
                while let Some(t) = ep.poll_transmit() {
                    black_box(t);
                }
                while ep.poll_event().is_some() {}
            })
        });
        // The same request again: a retransmission found in the table and
        // answered with the stored response.
        let mut ep = endpoint(start);
        ep.handle_input(start, peer, &msg);
        while ep.poll_transmit().is_some() {}
        g.bench_function(format!("retransmission/{name}"), |b| {
            b.iter(|| {
                ep.handle_input(start, peer, &msg);
                while let Some(t) = ep.poll_transmit() {
                    black_box(t);
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
