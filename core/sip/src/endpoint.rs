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
//!
//! A request goes through the checks of RFC 3261 section 8.2 in order:
//! source admission (rate limit, ban) before any parsing; the parser's own
//! 4xx/5xx for malformed messages; the transaction layer (retransmissions
//! absorbed, CANCEL matched); method (501/405), Require (420) and content
//! (415/406) inspection; then digest authentication, so a malformed or
//! unsupported request gets its 4xx and never a challenge. Only then are
//! OPTIONS and REGISTER answered here, and everything else handed to the
//! application as an [`Event::Request`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::auth::{Algorithm, AuthError, Authenticator, DigestConfig};
use crate::guard::{Admission, Guard, GuardConfig};
use crate::message::{self, HeaderName, Host, Limits, Message, Method, Request, Response, Uri};
use crate::registrar::{Registrar, RegistrarConfig, RegistrarError};
use crate::transaction::{
    ClientKey, Incoming, Key, ServerKey, Timers, TransactionError, TransactionEvent,
    TransactionState, Transactions,
};
use crate::{Peer, Transmit};

/// Methods this endpoint accepts, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY";
/// Body types accepted, for `Accept`.
pub const ACCEPT: &str = "application/sdp";
/// SIP extensions (option tags) understood; a `Require` of anything else gets 420.
pub const SUPPORTED: &[&str] = &[crate::session_timer::OPTION_TAG];

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
    /// Digest algorithms challenged with, most preferred first.
    pub digest_algorithms: Vec<Algorithm>,
    /// Size bounds for parsing a message.
    pub message_limits: Limits,
    /// Auth failures from one IP within `failure_window` that get it banned.
    pub max_auth_failures: u32,
    pub failure_window: Duration,
    pub ban_duration: Duration,
    /// Per-IP request rate (messages per second) and burst, before parsing.
    pub rate_per_ip: u32,
    pub burst_per_ip: u32,
    /// Sources (carrier trunks) whose requests are taken without digest,
    /// by socket source address (never by Via). REGISTER is never trusted.
    pub trusted_sources: Vec<TrustedSource>,
}

/// A network whose requests come from a named trunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedSource {
    pub net: ipnet::IpNet,
    /// The trunk's name; requests from it carry the user `trunk:NAME`.
    pub name: String,
}

impl EndpointConfig {
    /// A configuration for tests and examples: one domain, the given users,
    /// RFC default timers and generous limits.
    pub fn new(domain: &str, users: Vec<User>) -> EndpointConfig {
        EndpointConfig {
            domain: domain.to_owned(),
            realm: domain.to_owned(),
            users,
            server_name: concat!("waihu/", env!("CARGO_PKG_VERSION")).to_owned(),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            max_transactions: 10_000,
            max_registrations: 10_000,
            nonce_lifetime: Duration::from_secs(300),
            // MD5 first: many deployed phones (and sipp) answer only the
            // first challenge and know only MD5. Put SHA-256 first where
            // every phone supports RFC 8760.
            digest_algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
            message_limits: Limits::default(),
            max_auth_failures: 10,
            failure_window: Duration::from_secs(60),
            ban_duration: Duration::from_secs(600),
            rate_per_ip: 200,
            burst_per_ip: 400,
            trusted_sources: Vec::new(),
        }
    }
}

/// A server transaction handed to the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerTxId(pub(crate) ServerKey);

/// A client transaction the application started with [`Endpoint::send_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientTxId(pub(crate) ClientKey);

/// What happened, for the application.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A request the endpoint does not answer itself (INVITE, BYE...), already
    /// authenticated. The application must answer it with [`Endpoint::respond`].
    Request {
        id: ServerTxId,
        request: Box<Request>,
        peer: Peer,
        user: String,
    },
    /// An authentication attempt failed.
    AuthFailed {
        ip: IpAddr,
        username: Option<String>,
    },
    /// An IP was banned after too many failures.
    Banned { ip: IpAddr, until: Instant },
    /// A contact was bound to, refreshed for, or removed from an address of record.
    Registration { aor: String, contacts: usize },
    /// An ACK for a 2xx (it belongs to the dialog, not to a transaction).
    Ack { request: Box<Request>, peer: Peer },
    /// A CANCEL matched the INVITE `id`: the endpoint has answered the CANCEL
    /// with 200 and the INVITE with 487 (if it was still unanswered).
    Cancelled { id: ServerTxId },
    /// A response to a request the application sent (retransmitted 2xx
    /// included: the application re-sends its ACK for each).
    Response {
        id: ClientTxId,
        response: Box<Response>,
        peer: Peer,
    },
    /// No final response came for `id` (timer B or F): act as on a 408.
    Timeout { id: ClientTxId },
    /// The final response to the INVITE `id` was retransmitted for 64*T1
    /// and never acknowledged (timer H or L). After a 2xx the dialog is
    /// confirmed but the session should end with a BYE (RFC 3261
    /// 13.3.1.4): the application knows which response it sent.
    AckTimeout { id: ServerTxId },
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
    /// New calls answered 503 while [`Endpoint::refuse_new_calls`] was on.
    pub refused_calls: u64,
}

#[derive(Debug)]
pub struct Endpoint {
    domain: String,
    server: String,
    users: HashMap<String, String>,
    limits: Limits,
    guard: Guard,
    auth: Authenticator,
    transactions: Transactions,
    registrar: Registrar,
    secret: [u8; 32],
    tag_counter: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    /// Dialogs the application vouches for, by (Call-ID, our tag): requests
    /// inside them are not challenged again (the INVITE that made the
    /// dialog was), which is what phones and sipp expect of a BYE.
    dialogs: HashMap<(String, String), (String, Option<IpAddr>)>,
    /// The To tag of the provisional responses sent for an INVITE, for
    /// its 487 and the 200 to its CANCEL.
    invite_tags: HashMap<ServerKey, String>,
    trusted_sources: Vec<TrustedSource>,
    /// CANCELs the endpoint sent for the application: their responses and
    /// timeouts are the endpoint's business.
    own_cancels: std::collections::HashSet<ClientKey>,
    /// While set, the Retry-After (seconds) of the 503 every new call gets.
    refusing_calls: Option<u32>,
}

impl Endpoint {
    pub fn new(config: EndpointConfig, now: Instant, secret: [u8; 32]) -> Endpoint {
        let timers = Timers {
            t1: config.t1,
            t2: config.t2,
            t4: config.t4,
        };
        let max_per_aor = 10;
        Endpoint {
            domain: config.domain,
            server: config.server_name,
            users: config
                .users
                .into_iter()
                .map(|u| (u.id, u.password))
                .collect(),
            limits: config.message_limits,
            guard: Guard::new(GuardConfig {
                rate_per_sec: config.rate_per_ip,
                burst: config.burst_per_ip,
                max_failures: config.max_auth_failures,
                failure_window: config.failure_window,
                ban: config.ban_duration,
                max_tracked: 65_536,
            }),
            auth: Authenticator::new(
                DigestConfig {
                    realm: config.realm,
                    nonce_lifetime: config.nonce_lifetime,
                    max_nonces: 65_536,
                    algorithms: config.digest_algorithms,
                },
                now,
                secret,
            ),
            transactions: Transactions::new(timers, config.max_transactions),
            registrar: Registrar::new(RegistrarConfig {
                max_bindings: config.max_registrations,
                max_per_aor,
                min_expires: 60,
                max_expires: 3600,
                default_expires: 3600,
            }),
            secret,
            tag_counter: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            dialogs: HashMap::new(),
            invite_tags: HashMap::new(),
            trusted_sources: config.trusted_sources,
            own_cancels: std::collections::HashSet::new(),
            refusing_calls: None,
        }
    }

    /// Whether a TCP connection from `ip` may be accepted at all.
    pub fn admit_connection(&mut self, now: Instant, ip: IpAddr) -> bool {
        self.admit(now, ip)
    }

    fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        match self.guard.admit(now, ip) {
            Admission::Allowed => true,
            Admission::RateLimited | Admission::Banned { .. } => {
                self.stats.rate_limited += 1;
                false
            }
        }
    }

    /// One datagram, or one frame cut from a stream by `message::frame::next_frame`.
    pub fn handle_input(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        self.stats.messages_in += 1;
        if !self.admit(now, peer.addr.ip()) {
            return;
        }
        match message::parse_with_limits(bytes, &self.limits) {
            Err(malformed) => {
                self.stats.malformed += 1;
                let tag = self.new_tag();
                if let Some(reply) = malformed.reply(&self.server, &tag) {
                    self.send(peer, reply);
                }
            }
            Ok(Message::Response(response)) => {
                // The transaction layer absorbs retransmissions and drops
                // strays (responses matching nothing we sent).
                if let Some((key, response)) = self.transactions.on_response(now, response, peer)
                    && !self.own_cancels.contains(&key)
                {
                    self.events.push_back(Event::Response {
                        id: ClientTxId(key),
                        response: Box::new(response),
                        peer,
                    });
                }
            }
            Ok(Message::Request(request)) => self.on_request(now, request, peer),
        }
        self.drain_transactions();
    }

    fn on_request(&mut self, now: Instant, request: Request, peer: Peer) {
        match self.transactions.on_request(now, request, peer) {
            Incoming::New(key, request) => {
                self.stats.transactions_started += 1;
                self.on_new_request(now, key, request, peer);
            }
            Incoming::Absorbed => {}
            Incoming::Ack(request) => self.events.push_back(Event::Ack {
                request: Box::new(request),
                peer,
            }),
            Incoming::Cancel {
                key,
                cancel,
                invite,
            } => {
                let status = if invite.is_some() { 200 } else { 481 };
                // The 200 to a CANCEL carries the To tag the INVITE's own
                // responses carry (RFC 3261 9.2), when one went out.
                let tag = invite.and_then(|i| self.invite_tags.get(&i).cloned());
                let mut ok = Response::to_request(&cancel, status);
                if let Some(tag) = &tag {
                    ok.to.set_tag(tag);
                }
                self.respond_key(now, key, ok);
                // Only an INVITE still waiting for its answer is cancelled;
                // one already answered (or challenged) stays as it is.
                let pending = invite.filter(|&i| {
                    self.transactions.server_state(i) == Some(TransactionState::Proceeding)
                });
                if let Some(invite) = pending {
                    let response = self.transactions.request_of(invite).map(|r| {
                        let mut resp = Response::to_request(r, 487);
                        resp.headers.push(HeaderName::Server, self.server.clone());
                        if let Some(tag) = &tag {
                            resp.to.set_tag(tag);
                        }
                        resp
                    });
                    if let Some(resp) = response {
                        self.respond_key(now, invite, resp);
                    }
                    self.events.push_back(Event::Cancelled {
                        id: ServerTxId(invite),
                    });
                }
            }
            Incoming::Full(request) => {
                if request.method != Method::Ack {
                    let mut resp = Response::to_request(&request, 503);
                    resp.headers.push(HeaderName::RetryAfter, "5");
                    self.stateless(peer, resp);
                }
            }
        }
    }

    fn on_new_request(&mut self, now: Instant, key: ServerKey, request: Request, peer: Peer) {
        if request.method == Method::Ack {
            return;
        }
        if let Some(status) = inspect(&request) {
            let mut resp = Response::to_request(&request, status);
            match status {
                405 | 501 => resp.headers.push(HeaderName::Allow, ALLOW),
                415 => resp.headers.push(HeaderName::Accept, ACCEPT),
                420 => {
                    let unsupported: Vec<&str> = unsupported_requires(&request).collect();
                    resp.headers
                        .push(HeaderName::Unsupported, unsupported.join(", "));
                }
                _ => {}
            }
            self.respond_key(now, key, resp);
            return;
        }
        if let Some(seconds) = self.refusing_calls
            && request.method == Method::Invite
            && request.to.tag().is_none()
        {
            self.stats.refused_calls += 1;
            let mut resp = Response::to_request(&request, 503);
            resp.headers
                .push(HeaderName::RetryAfter, seconds.to_string());
            self.respond_key(now, key, resp);
            return;
        }
        // Trust covers what a dialog may carry, from where the dialog's
        // peer is; never a REGISTER, which would let anyone who saw a
        // Call-ID and tag move a user's bindings.
        let in_dialog_method = matches!(
            request.method,
            Method::Bye
                | Method::Info
                | Method::Update
                | Method::Invite
                | Method::Options
                | Method::Refer
                | Method::Notify
        );
        let trusted = request
            .to
            .tag()
            .filter(|_| in_dialog_method)
            .and_then(|tag| self.dialogs.get(&(request.call_id.clone(), tag.to_owned())))
            .filter(|(_, ip)| ip.is_none_or(|ip| ip == peer.addr.ip()))
            .map(|(user, _)| user.clone());
        // A carrier's own address needs no password (it has none to give);
        // everyone else proves who they are.
        let trunk = (request.method != Method::Register)
            .then(|| {
                self.trusted_sources
                    .iter()
                    .find(|t| t.net.contains(&peer.addr.ip()))
                    .map(|t| format!("trunk:{}", t.name))
            })
            .flatten();
        let user = match trusted.or(trunk) {
            Some(user) => user,
            None => match self.authenticate(now, key, &request, peer) {
                Some(user) => user,
                None => return,
            },
        };
        match request.method {
            Method::Options => {
                let mut resp = Response::to_request(&request, 200);
                resp.headers.push(HeaderName::Allow, ALLOW);
                resp.headers.push(HeaderName::Accept, ACCEPT);
                resp.headers
                    .push(HeaderName::Other("Accept-Encoding".into()), "identity");
                self.respond_key(now, key, resp);
            }
            Method::Register => self.register(now, key, &request, peer, &user),
            _ => {
                if request.method == Method::Invite {
                    // The application may take a while (routing, a script):
                    // stop the caller's retransmissions now (RFC 3261 17.2.1).
                    self.reply(now, key, &request, 100);
                }
                self.events.push_back(Event::Request {
                    id: ServerTxId(key),
                    request: Box::new(request),
                    peer,
                    user,
                });
            }
        }
    }

    /// Digest authentication; answers the request itself and returns `None`
    /// when it does not pass.
    fn authenticate(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: &Request,
        peer: Peer,
    ) -> Option<String> {
        let users = &self.users;
        let outcome = self
            .auth
            .verify_request(now, request, |name| users.get(name).cloned());
        let error = match outcome {
            Ok(v) => {
                if self.digest_uri_fits(&v.uri, request) {
                    return Some(v.username);
                }
                self.reply(now, key, request, 400);
                return None;
            }
            Err(e) => e,
        };
        if error.is_failure() {
            self.stats.auth_failures += 1;
            let ip = peer.addr.ip();
            self.events.push_back(Event::AuthFailed {
                ip,
                username: authorization_username(request),
            });
            if let Some(until) = self.guard.auth_failed(now, ip) {
                self.stats.bans += 1;
                self.events.push_back(Event::Banned { ip, until });
            }
        }
        let stale = matches!(error, AuthError::Stale | AuthError::Replay);
        let mut resp = Response::to_request(request, 401);
        for challenge in self.auth.challenge(now, stale) {
            resp.headers.push(HeaderName::WwwAuthenticate, challenge);
        }
        self.respond_key(now, key, resp);
        None
    }

    fn register(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: &Request,
        peer: Peer,
        user: &str,
    ) {
        // Only the authenticated user may change its own bindings, and only
        // in our domain.
        let to_user = request.to.uri.as_sip().and_then(|u| u.user_unescaped());
        if to_user.as_deref() != Some(user) || !self.is_local(&request.to.uri) {
            self.reply(now, key, request, 403);
            return;
        }
        let aor = format!("{user}@{}", self.domain);
        match self.registrar.register(now, &aor, request, peer) {
            Ok(registration) => {
                let mut resp = Response::to_request(request, 200);
                for binding in &registration.bindings {
                    resp.headers
                        .push(HeaderName::Contact, binding.contact_header());
                }
                self.events.push_back(Event::Registration {
                    aor,
                    contacts: registration.bindings.len(),
                });
                self.respond_key(now, key, resp);
            }
            Err(e) => {
                if matches!(e, RegistrarError::Full { .. }) {
                    tracing::warn!(%aor, error = %e, "registration table bound reached: answering 503");
                } else {
                    tracing::debug!(%aor, error = %e, "REGISTER refused");
                }
                let mut resp = Response::to_request(request, e.status());
                if let RegistrarError::IntervalTooBrief { min } = e {
                    resp.headers.push(HeaderName::MinExpires, min.to_string());
                }
                self.respond_key(now, key, resp);
            }
        }
    }

    /// Whether the credentials' `uri` may be used for `request`: the
    /// Request-URI itself (RFC 7616 section 3.4), or this server named
    /// without a user (`sip:domain`, `sip:IP:port`), which is what sipp and
    /// some UAs send whatever the Request-URI. RFC 3261 22.4 asks no more;
    /// the credentials stay bound to our nonce, whose counts are checked.
    /// A URI with a user, or naming another domain, is refused; an address
    /// literal counts as this server, as [`Endpoint::is_local`] takes it.
    fn digest_uri_fits(&self, digest_uri: &str, request: &Request) -> bool {
        let Ok(uri) = message::parse_uri(digest_uri) else {
            return false;
        };
        uri == request.uri
            || (uri.as_sip().is_some_and(|u| u.user.is_none()) && self.is_local(&uri))
    }

    /// Whether a To/Request-URI names this registrar's domain (or an address literal).
    fn is_local(&self, uri: &Uri) -> bool {
        match uri.as_sip().map(|u| &u.host) {
            Some(Host::Name(n)) => n.eq_ignore_ascii_case(&self.domain),
            Some(Host::V4(_) | Host::V6(_)) => true,
            None => false,
        }
    }

    fn reply(&mut self, now: Instant, key: ServerKey, request: &Request, status: u16) {
        let resp = Response::to_request(request, status);
        self.respond_key(now, key, resp);
    }

    /// Sends a response through its server transaction, with a To tag and
    /// our Server header.
    fn respond_key(&mut self, now: Instant, key: ServerKey, mut response: Response) {
        if response.status > 100 && response.to.tag().is_none() {
            let tag = self.new_tag();
            response.to.set_tag(&tag);
        }
        if (101..200).contains(&response.status)
            && response.cseq.method == Method::Invite
            && let Some(tag) = response.to.tag()
        {
            self.invite_tags.insert(key, tag.to_owned());
        }
        if response.headers.get(&HeaderName::Server).is_none() {
            response
                .headers
                .push(HeaderName::Server, self.server.clone());
        }
        // Unknown or finished transactions (a late answer) are dropped: the
        // peer has stopped listening for it.
        let _ = self.transactions.respond(now, key, response);
        self.drain_transactions();
    }

    fn stateless(&mut self, peer: Peer, mut response: Response) {
        if response.to.tag().is_none() {
            let tag = self.new_tag();
            response.to.set_tag(&tag);
        }
        response
            .headers
            .push(HeaderName::Server, self.server.clone());
        self.send(peer, response.to_bytes());
    }

    fn send(&mut self, peer: Peer, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit { peer, bytes });
    }

    /// A To tag: unguessable to others (derived from the secret), unique here.
    fn new_tag(&mut self) -> String {
        self.tag_counter += 1;
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(self.tag_counter.to_be_bytes());
        hex::encode(&h.finalize()[..8])
    }

    fn drain_transactions(&mut self) {
        while let Some(t) = self.transactions.poll_transmit() {
            self.transmits.push_back(t);
        }
        while let Some(event) = self.transactions.poll_event() {
            match event {
                // Once per episode of a full table.
                TransactionEvent::CapacityReached => tracing::warn!(
                    bound = self.transactions.capacity(),
                    "transaction table full: answering 503 until it drains"
                ),
                TransactionEvent::AckTimeout { key } => {
                    tracing::debug!(?key, "no ACK for a final response");
                    self.events.push_back(Event::AckTimeout {
                        id: ServerTxId(key),
                    });
                }
                TransactionEvent::Timeout { key } => {
                    if !self.own_cancels.contains(&key) {
                        self.events.push_back(Event::Timeout {
                            id: ClientTxId(key),
                        });
                    }
                }
                TransactionEvent::Terminated { key } => match key {
                    Key::Client(k) => {
                        self.own_cancels.remove(&k);
                    }
                    Key::Server(k) => {
                        self.invite_tags.remove(&k);
                    }
                },
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.transactions.handle_timeout(now);
        let expired = self.registrar.expire(now);
        for binding in expired {
            self.events.push_back(Event::Registration {
                aor: binding.aor().to_owned(),
                contacts: 0,
            });
        }
        self.drain_transactions();
    }

    /// Starts a client transaction for `request` (its top Via must carry a
    /// fresh branch: [`crate::transaction::new_branch`]). Responses come back
    /// as [`Event::Response`], silence as [`Event::Timeout`].
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        peer: Peer,
    ) -> Result<ClientTxId, TransactionError> {
        let key = self.transactions.send_request(now, request, peer)?;
        self.drain_transactions();
        Ok(ClientTxId(key))
    }

    /// Cancels an INVITE sent with [`Endpoint::send_request`] (RFC 3261 9.1).
    pub fn cancel(&mut self, now: Instant, id: ClientTxId) -> Result<(), TransactionError> {
        let cancel = self.transactions.cancel(now, id.0)?;
        self.own_cancels.insert(cancel);
        self.drain_transactions();
        Ok(())
    }

    /// Sends the ACK for a 2xx (not a transaction).
    pub fn send_ack(&mut self, ack: &Request, peer: Peer) {
        self.transactions.send_ack(ack, peer);
        self.drain_transactions();
    }

    /// Vouches for a dialog: in-dialog requests (BYE, INFO, UPDATE,
    /// re-INVITE, OPTIONS, REFER, NOTIFY) carrying `local_tag` as To tag and
    /// this Call-ID, from `peer_ip` when given, are taken as from `user`
    /// without a new challenge.
    pub fn trust_dialog(
        &mut self,
        call_id: &str,
        local_tag: &str,
        user: &str,
        peer_ip: Option<IpAddr>,
    ) {
        self.dialogs.insert(
            (call_id.to_owned(), local_tag.to_owned()),
            (user.to_owned(), peer_ip),
        );
    }

    /// Ends [`Endpoint::trust_dialog`] for a dialog.
    pub fn forget_dialog(&mut self, call_id: &str, local_tag: &str) {
        self.dialogs
            .remove(&(call_id.to_owned(), local_tag.to_owned()));
    }

    /// Overload: while `retry_after` is `Some(seconds)`, an INVITE that
    /// starts a call (no To tag) is answered 503 with that Retry-After as
    /// soon as it is parsed, before the challenge, so that a refusal costs
    /// one transaction and nothing else. Requests inside dialogs,
    /// registrations and everything else are served as usual.
    pub fn refuse_new_calls(&mut self, retry_after: Option<u32>) {
        self.refusing_calls = retry_after;
    }

    /// A fresh tag for a dialog the application creates.
    pub fn fresh_tag(&mut self) -> String {
        self.new_tag()
    }

    /// Answers a request handed out in [`Event::Request`].
    pub fn respond(&mut self, now: Instant, id: ServerTxId, response: Response) {
        self.respond_key(now, id.0, response);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front()?;
        self.stats.messages_out += 1;
        Some(t)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match (
            self.transactions.poll_timeout(),
            self.registrar.poll_timeout(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            transactions_active: self.transactions.len() as u64,
            registrations: self.registrar.len() as u64,
            ..self.stats.clone()
        }
    }

    /// The registered contacts of a user of this domain.
    pub fn contacts(&self, now: Instant, user: &str) -> Vec<String> {
        let aor = format!("{user}@{}", self.domain);
        self.registrar
            .lookup(now, &aor)
            .into_iter()
            .map(|b| b.contact_header())
            .collect()
    }

    /// Where `user` can be called: each registered contact URI with the
    /// transport peer to send to (the contact's own address when it is an
    /// IP literal, else where its REGISTER came from), most preferred first.
    pub fn targets(&self, now: Instant, user: &str) -> Vec<(Uri, Peer)> {
        let aor = format!("{user}@{}", self.domain);
        let mut bindings = self.registrar.lookup(now, &aor);
        bindings.sort_by_key(|b| std::cmp::Reverse(b.q()));
        bindings
            .into_iter()
            .map(|b| {
                let registered_from = b.peer();
                let direct = b.uri().as_sip().and_then(|u| {
                    let ip = match &u.host {
                        Host::V4(v4) => std::net::IpAddr::V4(*v4),
                        Host::V6(v6) => std::net::IpAddr::V6(*v6),
                        Host::Name(_) => return None,
                    };
                    let port = u.port.unwrap_or(5060);
                    Some(Peer {
                        transport: registered_from.transport,
                        addr: std::net::SocketAddr::new(ip, port),
                    })
                });
                (b.uri().clone(), direct.unwrap_or(registered_from))
            })
            .collect()
    }

    /// Whether `user` is a configured user.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }
}

fn unsupported_requires(request: &Request) -> impl Iterator<Item = &str> {
    request
        .headers
        .tokens(&HeaderName::Require)
        .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
}

/// RFC 3261 sections 8.2.1-8.2.3, before authentication: the status a
/// request must get whatever its credentials, if any.
fn inspect(request: &Request) -> Option<u16> {
    match &request.method {
        Method::Extension(_) => return Some(501),
        Method::Invite
        | Method::Ack
        | Method::Cancel
        | Method::Bye
        | Method::Options
        | Method::Register
        | Method::Info
        | Method::Update
        | Method::Refer
        | Method::Notify => {}
        _ => return Some(405),
    }
    if request.method != Method::Cancel && unsupported_requires(request).next().is_some() {
        return Some(420);
    }
    if request
        .headers
        .get(&HeaderName::ContentEncoding)
        .is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
    {
        return Some(415);
    }
    if request.method == Method::Invite {
        if !request.body.is_empty() {
            let ct = request.headers.get(&HeaderName::ContentType).unwrap_or("");
            if !media_type_is(ct, "application/sdp") {
                return Some(415);
            }
        }
        // We answer INVITEs with SDP: a caller that accepts none cannot understand us.
        let mut accepts = request.headers.get_all(&HeaderName::Accept).peekable();
        if accepts.peek().is_some()
            && !accepts.any(|a| a.split(',').any(|t| media_type_is(t, "application/sdp")))
        {
            return Some(406);
        }
    }
    if request.method == Method::Register {
        // unksm2: an address of record must be a SIP URI.
        if request.to.uri.as_sip().is_none() {
            return Some(400);
        }
    }
    None
}

fn media_type_is(value: &str, wanted: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted))
}

/// The username claimed in the Authorization header, for logs.
fn authorization_username(request: &Request) -> Option<String> {
    let value = request.headers.get(&HeaderName::Authorization)?;
    let start = value.find("username=")? + "username=".len();
    let rest = value[start..].trim_start_matches('"');
    let end = rest.find(['"', ',']).unwrap_or(rest.len());
    Some(rest[..end].chars().take(64).collect())
}
