//! The endpoint: waihu's UAS core and registrar front, without IO.
//!
//! Driven like this by the runtime:
//! ```text
//! loop {
//!     endpoint.handle_input(now, peer, &bytes);   // a datagram, or one TCP frame
//!     endpoint.handle_timeout(now);               // when poll_timeout() is due
//!     while let Some(t) = endpoint.poll_transmit() { send(t) }
//!     while let Some(e) = endpoint.poll_event() { ... }
//!     sleep_until(endpoint.poll_timeout());
//! }
//! ```

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::message::{Request, Response};
use crate::{Peer, Transmit};

/// An agent (or any user) allowed to register and place calls.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub password: String,
}

/// Everything the endpoint needs to know, decided by the runtime's config.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// The SIP domain we are registrar for (`sip.domain`).
    pub domain: String,
    /// The digest realm (`sip.realm`).
    pub realm: String,
    pub users: Vec<User>,
    /// Sent in `Server:` and `User-Agent:`.
    pub server_name: String,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    pub max_transactions: usize,
    pub max_registrations: usize,
    pub nonce_lifetime: Duration,
    /// Auth failures from one IP within `failure_window` that get it banned.
    pub max_auth_failures: u32,
    pub failure_window: Duration,
    pub ban_duration: Duration,
    /// Per-IP request rate (messages per second) and burst, before parsing.
    pub rate_per_ip: u32,
    pub burst_per_ip: u32,
}

/// A server transaction handed to the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerTxId(pub(crate) u64);

/// What happened, for the application.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A request the endpoint does not answer itself (INVITE, BYE...), already
    /// authenticated. The application must answer it with [`Endpoint::respond`].
    Request {
        id: ServerTxId,
        request: Request,
        peer: Peer,
        user: String,
    },
    /// An authentication attempt failed.
    AuthFailed { ip: IpAddr, username: Option<String> },
    /// An IP was banned after too many failures.
    Banned { ip: IpAddr, until: Instant },
}

/// Counters for metrics.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub messages_in: u64,
    pub messages_out: u64,
    pub malformed: u64,
    pub rate_limited: u64,
    pub transactions_started: u64,
    pub transactions_active: u64,
    pub registrations: u64,
    pub auth_failures: u64,
    pub bans: u64,
}

#[derive(Debug)]
pub struct Endpoint {
    _private: (),
}

impl Endpoint {
    pub fn new(config: EndpointConfig, now: Instant, secret: [u8; 32]) -> Endpoint {
        let _ = (config, now, secret);
        todo!()
    }

    /// Whether a TCP connection from `ip` may be accepted at all.
    pub fn admit_connection(&mut self, now: Instant, ip: IpAddr) -> bool {
        let _ = (now, ip);
        todo!()
    }

    /// One datagram, or one frame cut from a stream by `message::frame::next_frame`.
    pub fn handle_input(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        let _ = (now, peer, bytes);
        todo!()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// Answers a request handed out in [`Event::Request`].
    pub fn respond(&mut self, now: Instant, id: ServerTxId, response: Response) {
        let _ = (now, id, response);
        todo!()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        todo!()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    pub fn stats(&self) -> Stats {
        todo!()
    }
}
