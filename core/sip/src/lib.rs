//! waihu-sip: SIP without IO.
//!
//! The runtime hands this crate what arrives on a socket together with the
//! current time, and takes back what must be sent, what happened, and when it
//! must next call in. Nothing here reads a clock, opens a socket or spawns a
//! task, so every behaviour is tested with a virtual clock and a virtual link.
//!
//! - [`message`]: parse and serialise (the only module that knows rsip);
//! - [`transaction`]: the four RFC 3261 section 17 state machines, timers A-K;
//! - [`dialog`]: UAC and UAS dialog state;
//! - [`session_timer`]: RFC 4028 session timers, negotiation and the running timer;
//! - [`refer`]: REFER for blind transfer (RFC 3515) and its NOTIFYs;
//! - [`auth`]: RFC 7616 digest (MD5, SHA-256, qop=auth), nonces with expiry and replay checks,
//!   and the client side that answers a carrier's challenges;
//! - [`registrar`]: bindings per address of record;
//! - [`trunk`]: outbound registration to a carrier;
//! - [`guard`]: per-source rate limits and bans, applied before parsing;
//! - [`endpoint`]: the UAS core that ties them together.
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_methods)]

pub mod auth;
pub mod dialog;
pub mod endpoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod message;
pub mod refer;
pub mod registrar;
pub mod sdp;
pub mod session_timer;
pub mod transaction;
pub mod trunk;

use std::net::SocketAddr;

/// How a message travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// Reliable transports get no retransmissions (RFC 3261 section 17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// The far end of a message: transport and socket address. For TCP the
/// runtime maps the address back to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// Bytes the runtime must send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub peer: Peer,
    pub bytes: Vec<u8>,
}
