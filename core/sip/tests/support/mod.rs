//! Deterministic simulation for the transaction and dialog tests: a virtual
//! clock that jumps to the next deadline, a lossy virtual link between two
//! [`Transactions`] tables, and builders for the messages they exchange.
//!
//! Nothing sleeps and nothing touches a socket. Every packet that goes on the
//! link is serialised by the sender and parsed by `message::parse` on the way,
//! so the tests exercise the bytes a real peer would see. Loss is decided by
//! rules (drop the n-th packet, drop packets matching a predicate, drop at
//! random from a seeded PRNG written here), so every run is the same.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use waihu_sip::message::{
    self, HeaderName, Host, Message, Method, NameAddr, Request, Response, SipUri, Uri, Via,
};
use waihu_sip::transaction::{
    ClientKey, Incoming, Timers, TransactionEvent, Transactions, new_branch, new_tag,
};
use waihu_sip::{Peer, Transport};

pub const CLIENT_ADDR: &str = "192.0.2.1:5060";
pub const SERVER_ADDR: &str = "192.0.2.2:5060";

/// A duration in (possibly fractional) seconds.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Whole milliseconds, for readable assertions on schedules.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// The virtual clock. Its epoch is one real `Instant` (the type has no other
/// constructor); only offsets from it are ever used.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
    now: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        #[allow(clippy::disallowed_methods)]
        let epoch = Instant::now();
        Clock { epoch, now: epoch }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    pub fn at(&self, offset: Duration) -> Instant {
        self.epoch + offset
    }

    fn advance_to(&mut self, t: Instant) {
        assert!(t >= self.now, "the virtual clock never goes back");
        self.now = t;
    }
}

/// xorshift64*: a small, seeded, deterministic generator for loss decisions.
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Prng {
        // A zero state would stay zero forever.
        Prng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }
}

/// A drop rule: packets matching `pred`, at most `times` of them (or all).
#[derive(Debug, Clone)]
struct Rule {
    pred: fn(&Message) -> bool,
    times: Option<usize>,
}

/// What one direction of the link loses.
#[derive(Debug, Clone, Default)]
pub struct Loss {
    rules: Vec<Rule>,
    nth: Vec<usize>,
    random: Option<(Prng, u64)>,
    sent: usize,
}

impl Loss {
    pub fn none() -> Loss {
        Loss::default()
    }

    /// Drops every packet matching `pred`.
    pub fn drop_all(mut self, pred: fn(&Message) -> bool) -> Loss {
        self.rules.push(Rule { pred, times: None });
        self
    }

    /// Drops the first `n` packets matching `pred`.
    pub fn drop_first(mut self, n: usize, pred: fn(&Message) -> bool) -> Loss {
        self.rules.push(Rule {
            pred,
            times: Some(n),
        });
        self
    }

    /// Drops the packets with these indices (0 = the first sent this way).
    pub fn drop_nth(mut self, indices: &[usize]) -> Loss {
        self.nth.extend_from_slice(indices);
        self
    }

    /// Drops each packet with probability `per_mille` / 1000, from `seed`.
    pub fn random(mut self, seed: u64, per_mille: u64) -> Loss {
        self.random = Some((Prng::new(seed), per_mille));
        self
    }

    fn drops(&mut self, message: &Message) -> bool {
        let index = self.sent;
        self.sent += 1;
        let mut drop = self.nth.contains(&index);
        for rule in &mut self.rules {
            if rule.times != Some(0) && (rule.pred)(message) {
                drop = true;
                if let Some(n) = &mut rule.times {
                    *n -= 1;
                }
            }
        }
        if let Some((prng, per_mille)) = &mut self.random {
            // Always draw, so one packet's fate never shifts the others'.
            drop |= prng.chance(*per_mille);
        }
        drop
    }
}

/// Which end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// What reached a node's TU.
#[derive(Debug)]
pub enum Arrival {
    Request(Incoming),
    Response(ClientKey, Response),
}

/// One packet put on the link, for assertions on what was sent when.
#[derive(Debug, Clone)]
pub struct WireRecord {
    pub at: Duration,
    pub from: Side,
    pub message: Message,
    pub dropped: bool,
}

impl WireRecord {
    pub fn is_request(&self, method: &Method) -> bool {
        matches!(&self.message, Message::Request(r) if &r.method == method)
    }

    pub fn is_response(&self, status: u16, method: &Method) -> bool {
        matches!(&self.message, Message::Response(r) if r.status == status && &r.cseq.method == method)
    }
}

/// One endpoint on the link: its transaction table and what its TU received.
#[derive(Debug)]
pub struct Node {
    pub tx: Transactions,
    pub addr: SocketAddr,
    /// Loss applied to what this node sends.
    pub loss: Loss,
    pub inbox: VecDeque<(Duration, Arrival)>,
    /// Requests absorbed as retransmissions (never shown to the TU).
    pub absorbed: usize,
    pub events: Vec<(Duration, TransactionEvent)>,
}

impl Node {
    fn new(timers: Timers, capacity: usize, addr: &str) -> Node {
        Node {
            tx: Transactions::new(timers, capacity),
            addr: addr.parse().expect("test address"),
            loss: Loss::none(),
            inbox: VecDeque::new(),
            absorbed: 0,
            events: Vec::new(),
        }
    }

    /// The events recorded so far, without their times.
    pub fn event_list(&self) -> Vec<TransactionEvent> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }
}

#[derive(Debug)]
struct Packet {
    deliver_at: Instant,
    seq: u64,
    to: Side,
    message: Message,
}

/// Two nodes, a link and a clock.
#[derive(Debug)]
pub struct Sim {
    pub clock: Clock,
    pub transport: Transport,
    /// One-way delay of every packet.
    pub latency: Duration,
    pub client: Node,
    pub server: Node,
    pub wire: Vec<WireRecord>,
    in_flight: Vec<Packet>,
    seq: u64,
}

impl Sim {
    pub fn new(transport: Transport) -> Sim {
        Sim::with(transport, Timers::default(), 1024)
    }

    pub fn with(transport: Transport, timers: Timers, capacity: usize) -> Sim {
        Sim {
            clock: Clock::new(),
            transport,
            latency: Duration::from_millis(10),
            client: Node::new(timers, capacity, CLIENT_ADDR),
            server: Node::new(timers, capacity, SERVER_ADDR),
            wire: Vec::new(),
            in_flight: Vec::new(),
            seq: 0,
        }
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    pub fn node(&mut self, side: Side) -> &mut Node {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The peer the client sends to, and the server sends to.
    pub fn server_peer(&self) -> Peer {
        Peer {
            transport: self.transport,
            addr: self.server.addr,
        }
    }

    pub fn client_peer(&self) -> Peer {
        Peer {
            transport: self.transport,
            addr: self.client.addr,
        }
    }

    /// Moves what both nodes want to send onto the link.
    fn flush(&mut self) {
        for from in [Side::Client, Side::Server] {
            let at = self.clock.elapsed();
            let deliver_at = self.clock.now() + self.latency;
            while let Some(t) = self.node(from).tx.poll_transmit() {
                let to = if t.peer.addr == self.client.addr {
                    Side::Client
                } else {
                    Side::Server
                };
                assert_ne!(to, from, "a node sent to itself");
                assert_eq!(t.peer.transport, self.transport, "wrong transport");
                let message = message::parse(&t.bytes).expect("every transmitted message parses");
                let dropped = self.node(from).loss.drops(&message);
                self.wire.push(WireRecord {
                    at,
                    from,
                    message: message.clone(),
                    dropped,
                });
                if !dropped {
                    self.seq += 1;
                    self.in_flight.push(Packet {
                        deliver_at,
                        seq: self.seq,
                        to,
                        message,
                    });
                }
            }
            while let Some(e) = self.node(from).tx.poll_event() {
                self.node(from).events.push((at, e));
            }
        }
    }

    /// The next instant anything happens: a delivery or a timer.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.flush();
        let deliveries = self.in_flight.iter().map(|p| p.deliver_at);
        [self.client.tx.poll_timeout(), self.server.tx.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(deliveries)
            .min()
    }

    /// Jumps to the next deadline and handles everything due then. `false`
    /// when nothing is pending at all.
    pub fn step(&mut self) -> bool {
        let Some(t) = self.next_deadline() else {
            return false;
        };
        self.clock.advance_to(t.max(self.clock.now()));
        self.deliver_due();
        let now = self.clock.now();
        for side in [Side::Client, Side::Server] {
            if self.node(side).tx.poll_timeout().is_some_and(|d| d <= now) {
                self.node(side).tx.handle_timeout(now);
            }
        }
        self.flush();
        true
    }

    fn deliver_due(&mut self) {
        let now = self.clock.now();
        let at = self.clock.elapsed();
        self.in_flight.sort_by_key(|p| (p.deliver_at, p.seq));
        while self.in_flight.first().is_some_and(|p| p.deliver_at <= now) {
            let packet = self.in_flight.remove(0);
            let from = match packet.to {
                Side::Client => self.server_peer(),
                Side::Server => self.client_peer(),
            };
            let node = self.node(packet.to);
            let arrival = match packet.message {
                Message::Request(r) => match node.tx.on_request(now, r, from) {
                    Incoming::Absorbed => {
                        node.absorbed += 1;
                        None
                    }
                    incoming => Some(Arrival::Request(incoming)),
                },
                Message::Response(r) => node
                    .tx
                    .on_response(now, r, from)
                    .map(|(k, r)| Arrival::Response(k, r)),
            };
            if let Some(a) = arrival {
                node.inbox.push_back((at, a));
            }
        }
    }

    /// Runs everything due up to `t` after the epoch, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Duration) {
        let end = self.clock.at(t);
        while self.next_deadline().is_some_and(|d| d <= end) {
            self.step();
        }
        self.clock.advance_to(end.max(self.clock.now()));
    }

    /// Runs for `d` from now.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.elapsed() + d;
        self.run_until(t);
    }

    /// Runs until nothing is pending (bounded, so a livelock fails the test).
    pub fn run_until_idle(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the simulation never went idle");
    }

    /// Runs until `side`'s TU has something, and takes it; `None` if the
    /// simulation goes idle first.
    pub fn next_arrival(&mut self, side: Side) -> Option<(Duration, Arrival)> {
        for _ in 0..100_000 {
            if let Some(a) = self.node(side).inbox.pop_front() {
                return Some(a);
            }
            if !self.step() {
                return self.node(side).inbox.pop_front();
            }
        }
        panic!("no arrival and no idleness");
    }

    /// The next request handed to the server TU as a new transaction.
    pub fn expect_new_request(
        &mut self,
        side: Side,
    ) -> (waihu_sip::transaction::ServerKey, Request) {
        match self.next_arrival(side) {
            Some((_, Arrival::Request(Incoming::New(key, request)))) => (key, request),
            other => panic!("expected a new request, got {other:?}"),
        }
    }

    /// The next response handed to the client TU.
    pub fn expect_response(&mut self, side: Side) -> (ClientKey, Response) {
        match self.next_arrival(side) {
            Some((_, Arrival::Response(key, response))) => (key, response),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// When packets matching `pred` were put on the link by `from` (dropped or not).
    pub fn sent_at(&self, from: Side, pred: impl Fn(&WireRecord) -> bool) -> Vec<Duration> {
        self.wire
            .iter()
            .filter(|w| w.from == from && pred(w))
            .map(|w| w.at)
            .collect()
    }

    /// The same, in whole milliseconds after the epoch.
    pub fn sent_ms(&self, from: Side, pred: impl Fn(&WireRecord) -> bool) -> Vec<u128> {
        self.sent_at(from, pred).into_iter().map(ms).collect()
    }

    /// The events `side` raised, with the millisecond they were seen.
    pub fn events_ms(&mut self, side: Side) -> Vec<(u128, TransactionEvent)> {
        self.flush();
        self.node(side)
            .events
            .iter()
            .map(|(t, e)| (ms(*t), e.clone()))
            .collect()
    }

    /// How many packets matching `pred` `from` put on the link.
    pub fn count_sent(&self, from: Side, pred: impl Fn(&WireRecord) -> bool) -> usize {
        self.sent_at(from, pred).len()
    }
}

pub fn is_ack(m: &Message) -> bool {
    matches!(m, Message::Request(r) if r.method == Method::Ack)
}

pub fn is_final_response(m: &Message) -> bool {
    matches!(m, Message::Response(r) if r.status >= 200)
}

pub fn is_response(m: &Message) -> bool {
    matches!(m, Message::Response(_))
}

pub fn is_request(m: &Message) -> bool {
    matches!(m, Message::Request(_))
}

pub fn is_2xx(m: &Message) -> bool {
    matches!(m, Message::Response(r) if (200..300).contains(&r.status))
}

pub fn sip_uri(user: &str, addr: &str) -> Uri {
    let addr: SocketAddr = addr.parse().expect("test address");
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        panic!("tests use IPv4");
    };
    let mut uri = SipUri::new(Some(user), Host::V4(ip));
    uri.port = Some(addr.port());
    Uri::Sip(uri)
}

/// A Via from `addr` with the branch `branch` (use [`new_branch`] for a compliant one).
pub fn via(transport: Transport, addr: &str, branch: &str) -> Via {
    let addr: SocketAddr = addr.parse().expect("test address");
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        panic!("tests use IPv4");
    };
    let mut via = Via {
        transport: transport.via_token().to_owned(),
        host: Host::V4(ip),
        port: Some(addr.port()),
        params: Default::default(),
    };
    via.params.set("branch", Some(branch));
    via
}

/// A request from the client to the server, out of dialog, with a compliant
/// branch derived from `seed` and a Contact.
pub fn request(method: Method, seed: u64, transport: Transport) -> Request {
    let mut from = NameAddr::new(sip_uri("alice", CLIENT_ADDR));
    from.set_tag(&new_tag(seed));
    let to = NameAddr::new(sip_uri("bob", SERVER_ADDR));
    let mut r = Request::new(
        method,
        sip_uri("bob", SERVER_ADDR),
        via(transport, CLIENT_ADDR, &new_branch(seed)),
        from,
        to,
        format!("call-{seed}@192.0.2.1"),
        1,
    );
    r.headers.push(
        HeaderName::Contact,
        format!("<{}>", sip_uri("alice", CLIENT_ADDR)),
    );
    r
}

pub fn invite(seed: u64, transport: Transport) -> Request {
    request(Method::Invite, seed, transport)
}

/// A response to `request`, with a To tag when given and a Contact on 2xx.
pub fn answer(request: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut r = Response::to_request(request, status);
    if let Some(tag) = to_tag {
        r.to.set_tag(tag);
    }
    if (200..300).contains(&status) && request.method == Method::Invite {
        r.headers.push(
            HeaderName::Contact,
            format!("<{}>", sip_uri("bob", SERVER_ADDR)),
        );
    }
    r
}

/// What the client TU does with a 2xx to its INVITE: build the dialog and
/// the ACK (new branch from `seed`), and send it.
pub fn ack_2xx(sim: &mut Sim, invite: &Request, ok: &Response, seed: u64) -> Request {
    let dialog = waihu_sip::dialog::Dialog::uac(invite, ok).expect("a 2xx makes a dialog");
    let ack = dialog
        .create_ack(ok, via(sim.transport, CLIENT_ADDR, &new_branch(seed)))
        .expect("ACK for a 2xx");
    let peer = sim.server_peer();
    sim.client.tx.send_ack(&ack, peer);
    ack
}
