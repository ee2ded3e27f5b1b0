//! The RFC 3261 section 17 transaction layer, with the RFC 6026 Accepted
//! states, without IO.
//!
//! [`Transactions`] holds every client and server transaction of an endpoint
//! in one bounded table. It is driven like the rest of the crate:
//!
//! ```text
//! incoming request   -> on_request(now, request, peer)   -> Incoming
//! incoming response  -> on_response(now, response, peer) -> Some((key, response)) for the TU
//! the TU answers     -> respond(now, key, response)
//! the TU sends       -> send_request(now, request, peer) / cancel(now, key)
//! deadline reached   -> handle_timeout(now)
//! then drain           poll_transmit(), poll_event(), and sleep until poll_timeout()
//! ```
//!
//! One file per state machine (`client_invite`, `client_non_invite`,
//! `server_invite`, `server_non_invite`), one type per RFC state; every
//! timer lives in one queue (`timer`), and matching is in `matching`.
//!
//! Responses from a server transaction go back to the `peer` the request came
//! from (what `rport` asks for, and what TCP needs), not to the Via sent-by.

mod client_invite;
mod client_non_invite;
mod matching;
mod server_invite;
mod server_non_invite;
mod timer;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::message::{BRANCH_COOKIE, Method, Request, Response};
use crate::{Peer, Transmit};

use client_invite::{Cancel, ClientInvite};
use client_non_invite::ClientNonInvite;
use matching::{AckMatch, ClientMatch, ServerMatch};
use server_invite::ServerInvite;
use server_non_invite::ServerNonInvite;
use timer::{TimerKind, TimerQueue, TxRef};

/// The RFC 3261 timer base values (section 17.1.1.1 and table 4).
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// RTT estimate: first retransmission interval (500 ms).
    pub t1: Duration,
    /// Cap on non-INVITE request and INVITE response retransmission (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: timers B, F, H, J (unreliable), L and M.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Bounds the values so no timer is zero-length or overflows an `Instant`:
    /// T1 in 1 ms..=60 s, T2 in T1..=600 s, T4 at most 600 s.
    fn sanitized(self) -> Timers {
        let t1 = self
            .t1
            .clamp(Duration::from_millis(1), Duration::from_secs(60));
        let t2 = self.t2.clamp(t1, Duration::from_secs(600));
        let t4 = self.t4.min(Duration::from_secs(600));
        Timers { t1, t2, t4 }
    }

    /// The next interval of a T1-doubling, T2-capped retransmission (E, G, 2xx).
    fn doubled(&self, interval: Duration) -> Duration {
        interval.saturating_mul(2).min(self.t2)
    }

    /// Timer D: at least 32 s over an unreliable transport (and never less
    /// than the server's 64*T1 of final response retransmissions), 0 otherwise.
    fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.transaction_timeout().max(Duration::from_secs(32))
        }
    }

    /// Timer I: T4 over an unreliable transport, 0 otherwise.
    fn timer_i(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: 64*T1 over an unreliable transport, 0 otherwise.
    fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.transaction_timeout()
        }
    }

    /// Timer K: T4 over an unreliable transport, 0 otherwise.
    fn timer_k(&self, reliable: bool) -> Duration {
        self.timer_i(reliable)
    }
}

/// A server transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerKey(pub(crate) u64);

/// A client transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientKey(pub(crate) u64);

/// Either kind of transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Client(ClientKey),
    Server(ServerKey),
}

/// Where a transaction stands, for the TU and for tests. Terminated
/// transactions are gone from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionState {
    Calling,
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

/// What became of a request from the network.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A new server transaction: hand the request to the TU, which must answer
    /// it with [`Transactions::respond`].
    New(ServerKey, Request),
    /// A retransmission, absorbed (the last response was re-sent, if any).
    Absorbed,
    /// An ACK for a 2xx: it matched no server transaction, or it is the first
    /// ACK for the 2xx of an Accepted one (whose retransmission it stopped).
    /// The TU (dialog) takes it.
    Ack(Request),
    /// A new CANCEL: `key` is its own transaction, `invite` the INVITE server
    /// transaction it matches (RFC 3261 9.2), in whatever state. With `None`
    /// the TU answers 481; otherwise 200, and 487 to the INVITE if it is still
    /// [`TransactionState::Proceeding`].
    Cancel {
        key: ServerKey,
        cancel: Request,
        invite: Option<ServerKey>,
    },
    /// The table is full: the TU answers 503 statelessly
    /// ([`Transactions::send_stateless`]); [`TransactionEvent::CapacityReached`]
    /// was raised when it filled up.
    Full(Request),
}

/// What happened without the TU asking.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionEvent {
    /// Timer B or F: no final response came; the TU acts as on a 408
    /// (RFC 3261 8.1.3.1).
    Timeout { key: ClientKey },
    /// Timer H (non-2xx) or L (2xx): the final response was never acknowledged.
    AckTimeout { key: ServerKey },
    /// The transaction ended; its key is no longer valid. A deferred CANCEL
    /// that was never sent (the INVITE got a final response or timed out
    /// before any provisional one) ends with this alone.
    Terminated { key: Key },
    /// The table just filled up: new requests get [`Incoming::Full`] until
    /// transactions end. Raised once per episode.
    CapacityReached,
}

/// Why the TU's call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    #[error("no such transaction (unknown or terminated)")]
    Unknown,
    #[error("a final response was already sent or received")]
    AlreadyFinal,
    #[error("status {0} is not a SIP response status")]
    InvalidStatus(u16),
    #[error("the response's Call-ID or CSeq does not match the request")]
    ResponseMismatch,
    #[error("the request has no Via")]
    MissingVia,
    #[error("the top Via has no branch starting with the z9hG4bK cookie")]
    MissingBranch,
    #[error("the method differs from the CSeq method")]
    MethodMismatch,
    #[error("a client transaction with this branch and method exists")]
    DuplicateBranch,
    #[error("ACK is not a transaction: use send_ack")]
    AckIsNotATransaction,
    #[error("only an INVITE can be cancelled")]
    NotInvite,
    #[error("the INVITE was already cancelled")]
    AlreadyCancelled,
    #[error("the transaction table is full")]
    Full,
}

/// What the state machines produce: timers, bytes to send, events.
#[derive(Debug, Default)]
struct Output {
    timers: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
}

/// The view of the outside world a state machine gets during one transition.
struct Io<'a> {
    now: Instant,
    timers: Timers,
    tx: TxRef,
    out: &'a mut Output,
}

impl Io<'_> {
    fn timers(&self) -> Timers {
        self.timers
    }

    fn send(&mut self, peer: Peer, bytes: Vec<u8>) {
        self.out.transmits.push_back(Transmit { peer, bytes });
    }

    fn arm(&mut self, kind: TimerKind, after: Duration) {
        // Sanitised timers keep `after` under a few days: no overflow.
        let at = self.now.checked_add(after).unwrap_or(self.now);
        self.out.timers.arm(self.tx, kind, at);
    }

    fn disarm(&mut self, kind: TimerKind) {
        self.out.timers.disarm(self.tx, kind);
    }

    /// Timer B/F (client) or H/L without ACK (server) fired.
    fn report_timeout(&mut self) {
        self.out.events.push_back(match self.tx {
            TxRef::Client(key) => TransactionEvent::Timeout { key },
            TxRef::Server(key) => TransactionEvent::AckTimeout { key },
        });
    }
}

#[derive(Debug)]
enum ClientMachine {
    Invite(Box<ClientInvite>),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
struct ClientEntry {
    machine: ClientMachine,
    index: ClientMatch,
}

impl ClientEntry {
    fn state(&self) -> Option<TransactionState> {
        match &self.machine {
            ClientMachine::Invite(m) => m.state(),
            ClientMachine::NonInvite(m) => m.state(),
        }
    }
}

#[derive(Debug)]
enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerEntry {
    machine: ServerMachine,
    /// The request that created the transaction, without the headers no
    /// transaction work reads (see [`transaction_copy`]).
    request: Request,
    /// Every key this transaction is indexed under.
    keys: Vec<ServerMatch>,
    ack_key: Option<AckMatch>,
    /// The To tag of a non-2xx final response: an ACK that finds this
    /// transaction by [`AckMatch`] instead of its branch must carry it.
    failure_tag: Option<String>,
}

impl ServerEntry {
    fn state(&self) -> Option<TransactionState> {
        match &self.machine {
            ServerMachine::Invite(m) => m.state(),
            ServerMachine::NonInvite(m) => m.state(),
        }
    }
}

/// Every transaction of one endpoint, in a table bounded by `capacity`.
#[derive(Debug)]
pub struct Transactions {
    timers: Timers,
    capacity: usize,
    next_id: u64,
    clients: HashMap<ClientKey, ClientEntry>,
    /// Boxed: an entry holds its request, and the table is resized while
    /// it grows to a few seconds' worth of transactions; moving pointers
    /// instead of entries keeps that cheap.
    servers: HashMap<ServerKey, Box<ServerEntry>>,
    client_index: HashMap<ClientMatch, ClientKey>,
    server_index: HashMap<ServerMatch, ServerKey>,
    ack_index: HashMap<AckMatch, ServerKey>,
    out: Output,
    full_reported: bool,
}

impl Transactions {
    /// A table of at most `capacity` transactions (client and server together).
    /// Timer values are clamped to sane bounds (see [`Timers`]).
    pub fn new(timers: Timers, capacity: usize) -> Transactions {
        Transactions {
            timers: timers.sanitized(),
            capacity,
            next_id: 0,
            clients: HashMap::new(),
            servers: HashMap::new(),
            client_index: HashMap::new(),
            server_index: HashMap::new(),
            ack_index: HashMap::new(),
            out: Output::default(),
            full_reported: false,
        }
    }

    /// Live transactions, client and server.
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The timer values in use, after clamping.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// The bound given to [`Transactions::new`].
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The request that created a live server transaction (to build the 487
    /// for a cancelled INVITE, for instance).
    pub fn request_of(&self, key: ServerKey) -> Option<&Request> {
        self.servers.get(&key).map(|e| &e.request)
    }

    pub fn client_state(&self, key: ClientKey) -> Option<TransactionState> {
        self.clients.get(&key).and_then(ClientEntry::state)
    }

    pub fn server_state(&self, key: ServerKey) -> Option<TransactionState> {
        self.servers.get(&key).and_then(|e| e.state())
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn io(&mut self, now: Instant, tx: TxRef) -> Io<'_> {
        Io {
            now,
            timers: self.timers,
            tx,
            out: &mut self.out,
        }
    }

    /// A request arrived from the network.
    pub fn on_request(&mut self, now: Instant, request: Request, peer: Peer) -> Incoming {
        let key = matching::server_match(&request).and_then(|m| self.server_index.get(&m).copied());
        if let Some(key) = key {
            return self.dispatch_request(now, key, request);
        }
        if request.method == Method::Ack {
            return match self.ack_index.get(&AckMatch::of(&request)).copied() {
                Some(key) if self.acks_failure_by_dialog(key, &request) != Some(false) => {
                    self.dispatch_request(now, key, request)
                }
                _ => Incoming::Ack(request),
            };
        }
        self.new_server(now, request, peer)
    }

    /// For a transaction that ended in a non-2xx (which is only indexed
    /// for this with a To tag), whether an ACK that found it by dialog
    /// identifiers is its ACK (same To tag); `None` for a 2xx.
    fn acks_failure_by_dialog(&self, key: ServerKey, ack: &Request) -> Option<bool> {
        let tag = self.servers.get(&key)?.failure_tag.as_deref()?;
        Some(ack.to.tag() == Some(tag))
    }

    fn dispatch_request(&mut self, now: Instant, key: ServerKey, request: Request) -> Incoming {
        let Some(entry) = self.servers.get_mut(&key) else {
            return Incoming::Absorbed;
        };
        let mut io = Io {
            now,
            timers: self.timers,
            tx: TxRef::Server(key),
            out: &mut self.out,
        };
        let incoming = match &mut entry.machine {
            ServerMachine::Invite(m) if request.method == Method::Ack => m.on_ack(request, &mut io),
            ServerMachine::Invite(m) => m.on_retransmission(&mut io),
            ServerMachine::NonInvite(m) => m.on_retransmission(&mut io),
        };
        self.reap_server(key);
        incoming
    }

    fn new_server(&mut self, now: Instant, request: Request, peer: Peer) -> Incoming {
        if self.len() >= self.capacity {
            if !self.full_reported {
                self.full_reported = true;
                self.out.events.push_back(TransactionEvent::CapacityReached);
            }
            return Incoming::Full(request);
        }
        let key = ServerKey(self.next_id());
        let keys: Vec<ServerMatch> = matching::server_match(&request).into_iter().collect();
        for k in &keys {
            self.server_index.insert(k.clone(), key);
        }
        let machine = if request.method == Method::Invite {
            let mut io = self.io(now, TxRef::Server(key));
            ServerMachine::Invite(ServerInvite::start(peer, &mut io))
        } else {
            ServerMachine::NonInvite(ServerNonInvite::start(peer))
        };
        let entry = Box::new(ServerEntry {
            machine,
            request: transaction_copy(&request),
            keys,
            ack_key: None,
            failure_tag: None,
        });
        self.servers.insert(key, entry);
        if request.method != Method::Cancel {
            return Incoming::New(key, request);
        }
        let invite = matching::server_match_as(&request, Method::Invite)
            .and_then(|m| self.server_index.get(&m).copied())
            .filter(|k| {
                self.servers
                    .get(k)
                    .is_some_and(|e| matches!(e.machine, ServerMachine::Invite(_)))
            });
        Incoming::Cancel {
            key,
            cancel: request,
            invite,
        }
    }

    /// The TU answers a server transaction, provisionally or finally.
    pub fn respond(
        &mut self,
        now: Instant,
        key: ServerKey,
        response: Response,
    ) -> Result<(), TransactionError> {
        if !(100..=699).contains(&response.status) {
            return Err(TransactionError::InvalidStatus(response.status));
        }
        let entry = self
            .servers
            .get_mut(&key)
            .ok_or(TransactionError::Unknown)?;
        if response.call_id != entry.request.call_id || response.cseq != entry.request.cseq {
            return Err(TransactionError::ResponseMismatch);
        }
        let mut io = Io {
            now,
            timers: self.timers,
            tx: TxRef::Server(key),
            out: &mut self.out,
        };
        match &mut entry.machine {
            ServerMachine::Invite(m) => m.respond(&response, &mut io)?,
            ServerMachine::NonInvite(m) => m.respond(&response, &mut io)?,
        }
        self.index_final_response(key, &response);
        self.reap_server(key);
        Ok(())
    }

    /// After a final response to an INVITE: index the transaction so its ACK
    /// finds it (a 2xx ACK by dialog identifiers, a legacy ACK by To tag).
    fn index_final_response(&mut self, key: ServerKey, response: &Response) {
        let Some(entry) = self.servers.get_mut(&key) else {
            return;
        };
        if !matches!(entry.machine, ServerMachine::Invite(_)) || response.status < 200 {
            return;
        }
        // A non-2xx is indexed too: some UACs (sipp's own auth scenarios)
        // send its ACK with a new branch, which RFC 3261 17.1.1.3 forbids;
        // unmatched, our response would be retransmitted until timer H and
        // break their next request. The To tag keeps the match exact.
        let failure_tag = response.to.tag().filter(|_| response.status >= 300);
        if entry.ack_key.is_none() && (response.status < 300 || failure_tag.is_some()) {
            let ack_key = AckMatch::of(&entry.request);
            self.ack_index.insert(ack_key.clone(), key);
            entry.ack_key = Some(ack_key);
            entry.failure_tag = failure_tag.map(str::to_owned);
        }
        let extra = match (entry.keys.first(), response.to.tag()) {
            (Some(first), Some(tag)) => matching::with_to_tag(first, tag),
            _ => None,
        };
        if let Some(extra) = extra.filter(|k| !entry.keys.contains(k)) {
            self.server_index.insert(extra.clone(), key);
            entry.keys.push(extra);
        }
    }

    /// Starts a client transaction. The request's top Via must carry a fresh
    /// branch with the z9hG4bK cookie (see [`new_branch`]). ACKs are not
    /// transactions: send them with [`Transactions::send_ack`].
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        peer: Peer,
    ) -> Result<ClientKey, TransactionError> {
        if request.method == Method::Ack {
            return Err(TransactionError::AckIsNotATransaction);
        }
        if self.len() >= self.capacity {
            return Err(TransactionError::Full);
        }
        let key = ClientKey(self.next_id());
        self.start_client(now, key, request, peer)?;
        Ok(key)
    }

    /// Inserts a client transaction under a key chosen beforehand. A CANCEL
    /// comes here without the capacity check: at most one per INVITE, and
    /// refusing it would keep the INVITE alive longer.
    fn start_client(
        &mut self,
        now: Instant,
        key: ClientKey,
        request: Request,
        peer: Peer,
    ) -> Result<(), TransactionError> {
        if request.method != request.cseq.method {
            return Err(TransactionError::MethodMismatch);
        }
        let via = request.via.first().ok_or(TransactionError::MissingVia)?;
        let branch = via
            .branch()
            .filter(|b| matching::is_rfc3261_branch(b))
            .ok_or(TransactionError::MissingBranch)?;
        let index = (branch.to_owned(), request.method.clone());
        if self.client_index.contains_key(&index) {
            return Err(TransactionError::DuplicateBranch);
        }
        let mut io = self.io(now, TxRef::Client(key));
        let machine = if request.method == Method::Invite {
            ClientMachine::Invite(Box::new(ClientInvite::start(request, peer, &mut io)))
        } else {
            ClientMachine::NonInvite(ClientNonInvite::start(&request, peer, &mut io))
        };
        self.client_index.insert(index.clone(), key);
        self.clients.insert(key, ClientEntry { machine, index });
        Ok(())
    }

    /// A response arrived. `Some` when the TU must see it; `None` when it was
    /// absorbed (a retransmission) or matched nothing (drop it). The source
    /// `peer` plays no part in matching (RFC 3261 17.1.3).
    pub fn on_response(
        &mut self,
        now: Instant,
        response: Response,
        peer: Peer,
    ) -> Option<(ClientKey, Response)> {
        let _ = peer;
        let key = *self.client_index.get(&matching::client_match(&response)?)?;
        let entry = self.clients.get_mut(&key)?;
        let mut io = Io {
            now,
            timers: self.timers,
            tx: TxRef::Client(key),
            out: &mut self.out,
        };
        let up = match &mut entry.machine {
            ClientMachine::Invite(m) => m.on_response(response, &mut io),
            ClientMachine::NonInvite(m) => m.on_response(response, &mut io),
        };
        self.settle_cancel(now, key);
        self.reap_client(key);
        up.map(|r| (key, r))
    }

    /// Sends CANCEL for a client INVITE (RFC 3261 9.1). Before any provisional
    /// response the CANCEL waits and leaves with the first one; if a final
    /// response or timer B comes first it is dropped
    /// ([`TransactionEvent::Terminated`] for its key). Returns the CANCEL's own key.
    pub fn cancel(&mut self, now: Instant, key: ClientKey) -> Result<ClientKey, TransactionError> {
        let invite = self.invite_mut(key)?;
        if !matches!(invite.cancel, Cancel::NotRequested) {
            return Err(TransactionError::AlreadyCancelled);
        }
        let state = invite.state();
        let (request, peer) = (invite.cancel_request(), invite.peer());
        let cancel_key = ClientKey(self.next_id());
        let cancel = match state {
            Some(TransactionState::Calling) => Cancel::Deferred {
                key: cancel_key,
                request: Box::new(request),
            },
            Some(TransactionState::Proceeding) => {
                self.start_client(now, cancel_key, request, peer)?;
                Cancel::Sent
            }
            _ => return Err(TransactionError::AlreadyFinal),
        };
        self.invite_mut(key)?.cancel = cancel;
        Ok(cancel_key)
    }

    fn invite_mut(&mut self, key: ClientKey) -> Result<&mut ClientInvite, TransactionError> {
        match self.clients.get_mut(&key) {
            Some(ClientEntry {
                machine: ClientMachine::Invite(invite),
                ..
            }) => Ok(invite),
            Some(_) => Err(TransactionError::NotInvite),
            None => Err(TransactionError::Unknown),
        }
    }

    /// Sends or drops a deferred CANCEL once its INVITE left Calling.
    fn settle_cancel(&mut self, now: Instant, key: ClientKey) {
        let Some(ClientEntry {
            machine: ClientMachine::Invite(invite),
            ..
        }) = self.clients.get_mut(&key)
        else {
            return;
        };
        let state = invite.state();
        if state == Some(TransactionState::Calling)
            || !matches!(invite.cancel, Cancel::Deferred { .. })
        {
            return;
        }
        let peer = invite.peer();
        let cancel = std::mem::replace(&mut invite.cancel, Cancel::NotRequested);
        let Cancel::Deferred {
            key: cancel_key,
            request,
        } = cancel
        else {
            return;
        };
        if state == Some(TransactionState::Proceeding) {
            invite.cancel = Cancel::Sent;
            if self.start_client(now, cancel_key, *request, peer).is_ok() {
                return;
            }
        }
        self.out.events.push_back(TransactionEvent::Terminated {
            key: Key::Client(cancel_key),
        });
    }

    /// Queues an ACK for a 2xx (not a transaction: RFC 3261 13.2.2.4; the TU
    /// re-sends it for every 2xx retransmission it sees).
    pub fn send_ack(&mut self, ack: &Request, peer: Peer) {
        self.out.transmits.push_back(Transmit {
            peer,
            bytes: ack.to_bytes(),
        });
    }

    /// Queues a response outside any transaction, such as the 503 for
    /// [`Incoming::Full`] or a 481 to a stray request.
    pub fn send_stateless(&mut self, response: &Response, peer: Peer) {
        self.out.transmits.push_back(Transmit {
            peer,
            bytes: response.to_bytes(),
        });
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((tx, kind)) = self.out.timers.pop_due(now) {
            let mut io = Io {
                now,
                timers: self.timers,
                tx,
                out: &mut self.out,
            };
            match tx {
                TxRef::Client(key) => {
                    if let Some(entry) = self.clients.get_mut(&key) {
                        match &mut entry.machine {
                            ClientMachine::Invite(m) => m.on_timer(kind, &mut io),
                            ClientMachine::NonInvite(m) => m.on_timer(kind, &mut io),
                        }
                    }
                    self.settle_cancel(now, key);
                    self.reap_client(key);
                }
                TxRef::Server(key) => {
                    if let Some(entry) = self.servers.get_mut(&key) {
                        match &mut entry.machine {
                            ServerMachine::Invite(m) => m.on_timer(kind, &entry.request, &mut io),
                            ServerMachine::NonInvite(m) => m.on_timer(kind),
                        }
                    }
                    self.reap_server(key);
                }
            }
        }
    }

    /// Removes a client transaction that reached Terminated.
    fn reap_client(&mut self, key: ClientKey) {
        if self.clients.get(&key).is_none_or(|e| e.state().is_some()) {
            return;
        }
        if let Some(entry) = self.clients.remove(&key)
            && self.client_index.get(&entry.index) == Some(&key)
        {
            self.client_index.remove(&entry.index);
        }
        self.ended(TxRef::Client(key), Key::Client(key));
    }

    /// Removes a server transaction that reached Terminated.
    fn reap_server(&mut self, key: ServerKey) {
        if self.servers.get(&key).is_none_or(|e| e.state().is_some()) {
            return;
        }
        if let Some(entry) = self.servers.remove(&key) {
            for k in &entry.keys {
                if self.server_index.get(k) == Some(&key) {
                    self.server_index.remove(k);
                }
            }
            if let Some(ack_key) = &entry.ack_key
                && self.ack_index.get(ack_key) == Some(&key)
            {
                self.ack_index.remove(ack_key);
            }
        }
        self.ended(TxRef::Server(key), Key::Server(key));
    }

    fn ended(&mut self, tx: TxRef, key: Key) {
        self.out.timers.clear(tx);
        self.out
            .events
            .push_back(TransactionEvent::Terminated { key });
        if self.len() < self.capacity {
            self.full_reported = false;
        }
    }

    /// The next datagram or stream write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    /// When [`Transactions::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.out.timers.next()
    }
}

/// A branch parameter for a new client transaction: the RFC 3261 cookie and
/// 64 bits derived from `seed` by a bijective mix, so distinct seeds give
/// distinct branches. Pass randomness (or a counter mixed with a random
/// per-process secret): the crate has no RNG.
pub fn new_branch(seed: u64) -> String {
    format!("{BRANCH_COOKIE}{:016x}", mix(seed))
}

/// A From/To tag from caller-provided randomness (RFC 3261 19.3 asks for at
/// least 32 random bits; give 64).
pub fn new_tag(seed: u64) -> String {
    format!("{:016x}", mix(seed ^ 0x7461_6777_6169_6875))
}

/// The splitmix64 finaliser: a bijection on u64 that scatters counters.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;

/// What a server transaction keeps of its request: the dialog-identifying
/// fields (to match responses and ACKs and to build a 487) and the one
/// header it echoes (Timestamp, in the automatic 100 Trying). Copying the
/// other headers for every new transaction was measured on the hot path.
fn transaction_copy(request: &Request) -> Request {
    let mut headers = crate::message::Headers::new();
    for h in request.headers.iter() {
        if h.name == crate::message::HeaderName::Timestamp {
            headers.push(h.name.clone(), h.value.clone());
        }
    }
    Request {
        method: request.method.clone(),
        uri: request.uri.clone(),
        via: request.via.clone(),
        from: request.from.clone(),
        to: request.to.clone(),
        call_id: request.call_id.clone(),
        cseq: request.cseq.clone(),
        max_forwards: request.max_forwards,
        headers,
        body: bytes::Bytes::new(),
    }
}
