//! Properties the fuzz targets in `fuzz/` check, kept here so that the
//! regression tests replay saved inputs through exactly the same code on
//! stable. Each function panics when a property is broken.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::endpoint::{Endpoint, EndpointConfig, User};
use crate::message::frame::{Frame, next_frame};
use crate::message::parse;
use crate::{Peer, Transport};

/// Parsing never panics; whatever parses serialises to something that parses
/// back to the same message.
pub fn sip_message(data: &[u8]) {
    let Ok(message) = parse(data) else {
        return;
    };
    let bytes = message.to_bytes();
    match parse(&bytes) {
        Ok(again) => assert_eq!(again, message, "round trip changed the message"),
        Err(e) => panic!(
            "serialised message does not parse: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// Framing never panics, never claims more bytes than it has, and whatever it
/// frames can be handed to the parser.
pub fn tcp_framing(data: &[u8]) {
    let mut rest = data;
    while !rest.is_empty() {
        match next_frame(rest, 2048, 4096) {
            Ok(Some(Frame::Message(n))) => {
                assert!(
                    n > 0 && n <= rest.len(),
                    "frame of {n} in {} bytes",
                    rest.len()
                );
                let _ = parse(&rest[..n]);
                rest = &rest[n..];
            }
            Ok(Some(Frame::KeepAlive { len, .. })) => {
                assert!(len > 0 && len <= rest.len());
                rest = &rest[len..];
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// The whole endpoint: the input is split into messages at `\0\0`, each
/// delivered from one of three sources over UDP or TCP, the clock advancing
/// between them. Nothing may panic, and replies only go to sources that sent
/// something.
pub fn endpoint(data: &[u8]) {
    let start = epoch();
    let users = vec![User {
        id: "1001".into(),
        password: "pw".into(),
    }];
    let mut ep = Endpoint::new(EndpointConfig::new("waihu.test", users), start, [1; 32]);
    let mut now = start;
    let mut seen = Vec::new();
    for (i, chunk) in chunks(data, b"\0\0").enumerate() {
        let transport = if i % 2 == 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let peer = Peer {
            transport,
            addr: SocketAddr::from(([192, 0, 2, (i % 3) as u8 + 1], 5060)),
        };
        seen.push(peer);
        now += Duration::from_millis(300);
        ep.handle_input(now, peer, chunk);
        ep.handle_timeout(now);
        while let Some(t) = ep.poll_transmit() {
            assert!(
                seen.contains(&t.peer),
                "reply to {:?}, which sent nothing",
                t.peer
            );
        }
        while ep.poll_event().is_some() {}
    }
    ep.handle_timeout(now + Duration::from_secs(3600));
}

#[allow(clippy::disallowed_methods)] // only offsets from this instant matter
fn epoch() -> Instant {
    Instant::now()
}

/// `data` split at every `sep`.
fn chunks<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(p) => {
                rest = Some(&r[p + sep.len()..]);
                Some(&r[..p])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}
