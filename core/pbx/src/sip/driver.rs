//! The one task that owns the endpoint.
//!
//! Each turn: take input (or wake for the endpoint's next deadline), then
//! answer the events, publish a stats snapshot, and send every transmit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};
use waihu_sip::endpoint::{ClientTxId, Endpoint, Event, ServerTxId};
use waihu_sip::message::{Method, Request};
use waihu_sip::{Peer, Transmit, Transport};

use super::{Input, Snapshot, policy, udp};
use crate::call::{self, CallContext, FromCall, ToCall};
use crate::shutdown::Shutdown;

/// How long shutdown waits for calls to say goodbye (their BYEs go out
/// through this driver).
const CALL_DRAIN: std::time::Duration = std::time::Duration::from_secs(3);

/// The Retry-After of a call refused for overload, in seconds: long
/// enough for a carrier to send its next calls elsewhere, short enough
/// not to keep them away once the burst is served.
const OVERLOAD_RETRY_AFTER: u32 = 2;

/// Inputs handled per turn before events and transmits are drained.
const BATCH: usize = 64;

/// The driver's clock; tokio's, so that tests with a paused clock drive the endpoint too.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

#[derive(Debug)]
struct TcpConnection {
    id: u64,
    writer: mpsc::Sender<Bytes>,
}

#[derive(Debug)]
pub(super) struct Driver {
    endpoint: Endpoint,
    udp: Vec<udp::Sender>,
    tcp: HashMap<SocketAddr, TcpConnection>,
    /// Connections that ended this turn.
    closing: Vec<(SocketAddr, u64)>,
    /// This turn's transmits (kept for its capacity).
    outbox: Vec<Transmit>,
    inputs: mpsc::Receiver<Input>,
    snapshots: watch::Sender<Snapshot>,
    calls: Calls,
    trunking: Option<super::trunking::Trunking>,
    probes: Option<super::probes::Probes>,
    load: Arc<super::overload::Load>,
    /// Whether the endpoint is refusing new calls.
    overloaded: bool,
}

/// The calls in progress, as the driver sees them.
#[derive(Debug)]
struct Calls {
    /// `None`: calls are refused (tests of the bare SIP side).
    context: Option<Arc<CallContext>>,
    from_calls: mpsc::Receiver<FromCall>,
    /// Cloned into each new call task.
    to_driver: mpsc::Sender<FromCall>,
    by_call_id: HashMap<String, mpsc::Sender<ToCall>>,
    invites: HashMap<ServerTxId, String>,
    requests: HashMap<ClientTxId, String>,
    pending_invites: HashMap<String, ClientTxId>,
    /// INVITEs (initial or re-) a call answered 2xx, by transaction: if the
    /// ACK never comes, the call is told (RFC 3261 13.3.1.4).
    answered: HashMap<ServerTxId, String>,
    /// Each call's transactions in `invites`, `answered` and `requests`, so
    /// that a call's release finds them without scanning those maps.
    transactions: HashMap<String, CallTransactions>,
    /// Handed (as clones) to call tasks.
    shutdown: Option<Shutdown>,
    draining: bool,
}

/// The transactions a call has had, as keys of [`Calls`]'s maps (some may
/// be gone from them already).
#[derive(Debug, Default)]
struct CallTransactions {
    server: Vec<ServerTxId>,
    client: Vec<ClientTxId>,
}

impl Calls {
    fn transactions_of(&mut self, call_id: &str) -> &mut CallTransactions {
        if !self.transactions.contains_key(call_id) {
            self.transactions
                .insert(call_id.to_owned(), CallTransactions::default());
        }
        self.transactions
            .get_mut(call_id)
            .expect("inserted above if it was missing")
    }

    /// A server transaction (an INVITE) that belongs to `call_id`.
    fn add_invite(&mut self, id: ServerTxId, call_id: String) {
        self.transactions_of(&call_id).server.push(id);
        self.invites.insert(id, call_id);
    }

    /// A server transaction `call_id` answered 2xx.
    fn add_answered(&mut self, id: ServerTxId, call_id: String) {
        self.transactions_of(&call_id).server.push(id);
        self.answered.insert(id, call_id);
    }

    /// A client transaction `call_id` started.
    fn add_request(&mut self, id: ClientTxId, call_id: String) {
        self.transactions_of(&call_id).client.push(id);
        self.requests.insert(id, call_id);
    }

    /// Forgets everything of a call that ended.
    fn release(&mut self, call_id: &str) {
        self.by_call_id.remove(call_id);
        self.pending_invites.remove(call_id);
        let Some(txs) = self.transactions.remove(call_id) else {
            return;
        };
        // Only entries still the call's: a key may have been reused.
        let mine = |c: Option<&String>| c.is_some_and(|c| c == call_id);
        for id in txs.server {
            if mine(self.invites.get(&id)) {
                self.invites.remove(&id);
            }
            if mine(self.answered.get(&id)) {
                self.answered.remove(&id);
            }
        }
        for id in txs.client {
            if mine(self.requests.get(&id)) {
                self.requests.remove(&id);
            }
        }
    }
}

impl Driver {
    pub fn new(
        endpoint: Endpoint,
        udp_sockets: Vec<Arc<UdpSocket>>,
        inputs: mpsc::Receiver<Input>,
        snapshots: watch::Sender<Snapshot>,
        context: Option<Arc<CallContext>>,
    ) -> Driver {
        let (to_driver, from_calls) = mpsc::channel(super::INPUT_QUEUE);
        let udp = udp_sockets
            .into_iter()
            .filter_map(|socket| {
                let local = socket.local_addr().ok()?;
                Some(udp::Sender { local, socket })
            })
            .collect();
        Driver {
            endpoint,
            udp,
            tcp: HashMap::new(),
            closing: Vec::new(),
            outbox: Vec::new(),
            inputs,
            snapshots,
            calls: Calls {
                context,
                from_calls,
                to_driver,
                by_call_id: HashMap::new(),
                invites: HashMap::new(),
                requests: HashMap::new(),
                pending_invites: HashMap::new(),
                answered: HashMap::new(),
                transactions: HashMap::new(),
                shutdown: None,
                draining: false,
            },
            trunking: None,
            probes: None,
            load: super::overload::Load::new(None),
            overloaded: false,
        }
    }

    /// Refuse new calls while messages wait longer for their turn than
    /// `load`'s limit, as `load` measures it.
    pub fn with_overload(mut self, load: Arc<super::overload::Load>) -> Driver {
        self.load = load;
        self
    }

    pub async fn run(mut self, mut shutdown: Shutdown) {
        self.calls.shutdown = Some(shutdown.clone_handle());
        if let Some(ctx) = &self.calls.context {
            let port = self.udp.first().map_or(5060, |s| s.local.port());
            let local = SocketAddr::new(ctx.advertise, port);
            let configs = ctx.trunks.configs();
            self.trunking = Some(super::trunking::Trunking::new(
                ctx.trunks.clone(),
                &configs,
                local,
                now(),
            ));
            self.probes = ctx
                .acd
                .probe_interval()
                .map(|every| super::probes::Probes::new(ctx.acd.clone(), every, local, now()));
        }
        let mut drain_until = None;
        loop {
            if let Some(until) = drain_until
                && (self.calls.by_call_id.is_empty() || Instant::now() >= until)
            {
                break;
            }
            let trunk_deadline = self.trunking.as_ref().and_then(|t| t.poll_timeout());
            let probe_deadline = self.probes.as_ref().and_then(|p| p.poll_timeout());
            let trunk_deadline = match (trunk_deadline, probe_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let deadline = match (self.endpoint.poll_timeout(), trunk_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            .map(Instant::from_std);
            let deadline = match (deadline, drain_until) {
                (Some(d), Some(u)) => Some(d.min(u)),
                (d, u) => d.or(u),
            };
            tokio::select! {
                () = shutdown.recv(), if drain_until.is_none() => {
                    // Calls hang up now; their BYEs still go out through us.
                    self.calls.draining = true;
                    self.calls.shutdown = None;
                    for call in self.calls.by_call_id.values() {
                        let _ = call.try_send(ToCall::Shutdown);
                    }
                    drain_until = Some(Instant::now() + CALL_DRAIN);
                }
                message = self.calls.from_calls.recv() => {
                    if let Some(message) = message {
                        self.on_call_message(message);
                        for _ in 1..BATCH {
                            match self.calls.from_calls.try_recv() {
                                Ok(message) => self.on_call_message(message),
                                Err(_) => break,
                            }
                        }
                    }
                }
                input = self.inputs.recv() => {
                    let Some(input) = input else { break };
                    self.check_overload();
                    self.handle(input);
                    for _ in 1..BATCH {
                        match self.inputs.try_recv() {
                            Ok(input) => self.handle(input),
                            Err(_) => break,
                        }
                    }
                }
                () = sleep_until_some(deadline) => {}
            }
            self.finish_turn().await;
        }
        // Stop taking input; send what the endpoint still has to send.
        self.inputs.close();
        self.finish_turn().await;
        info!("sip driver stopped");
        // Dropping self closes every TCP write queue: the connections finish
        // writing what is queued and close.
    }

    fn handle(&mut self, input: Input) {
        let now = now();
        match input {
            Input::Message {
                peer,
                bytes,
                received,
            } => {
                self.load
                    .observe(Instant::now().saturating_duration_since(received));
                self.endpoint.handle_input(now, peer, &bytes);
            }
            Input::Connect {
                addr,
                id,
                writer,
                admit,
            } => {
                let admitted = self.endpoint.admit_connection(now, addr.ip());
                if admitted {
                    self.tcp.insert(addr, TcpConnection { id, writer });
                }
                if admit.send(admitted).is_err() {
                    // The accept loop has gone (shutdown).
                    self.tcp.remove(&addr);
                }
            }
            // Forgotten at the end of the turn, after the answers to the
            // connection's last messages have been queued to it.
            Input::Disconnect { addr, id } => self.closing.push((addr, id)),
        }
    }

    async fn finish_turn(&mut self) {
        let now = now();
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        if let Some(trunking) = self.trunking.as_mut() {
            trunking.poll(now, &mut self.endpoint);
        }
        if let Some(probes) = self.probes.as_mut() {
            probes.poll(now, &mut self.endpoint);
        }
        self.handle_events(now);
        // Counters first, then the answers: whoever has seen an answer (a
        // 401, a ban) finds it counted in the metrics already.
        let mut outbox = std::mem::take(&mut self.outbox);
        outbox.extend(std::iter::from_fn(|| self.endpoint.poll_transmit()));
        self.publish();
        let connections = self.tcp.len();
        for transmit in outbox.drain(..) {
            match transmit.peer.transport {
                Transport::Udp => self.send_udp(transmit).await,
                Transport::Tcp => self.send_tcp(transmit),
            }
        }
        self.outbox = outbox;
        if !self.closing.is_empty() || self.tcp.len() != connections {
            for (addr, id) in self.closing.drain(..) {
                if self.tcp.get(&addr).is_some_and(|c| c.id == id) {
                    self.tcp.remove(&addr);
                }
            }
            self.publish();
        }
    }

    fn publish(&self) {
        self.snapshots.send_replace(Snapshot {
            sip: self.endpoint.stats(),
            tcp_connections: self.tcp.len(),
            load: self.load.clone(),
        });
    }

    fn handle_events(&mut self, now: std::time::Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::Request {
                    id,
                    request,
                    peer,
                    user,
                } => {
                    let request = match self.hand_to_call(now, id, request, peer, user.clone()) {
                        Some(r) => r,
                        None => continue,
                    };
                    let status = policy::status_for(&request, |u| self.endpoint.has_user(u));
                    let Some(status) = status else { continue };
                    debug!(
                        method = %request.method, status, %user, peer = %peer.addr,
                        call_id = %request.call_id, "answering request"
                    );
                    let response = policy::response(&request, status, policy::new_tag);
                    self.endpoint.respond(now, id, response);
                }
                Event::AuthFailed { ip, username } => {
                    let username = username.as_deref().unwrap_or("-");
                    info!(%ip, username, "sip authentication failed");
                }
                Event::Banned { ip, until } => {
                    let secs = until.saturating_duration_since(now).as_secs();
                    warn!(%ip, secs, "ip banned after repeated authentication failures");
                }
                Event::Registration { aor, contacts } => {
                    info!(%aor, contacts, "registration changed");
                    if contacts == 0
                        && let Some(ctx) = &self.calls.context
                    {
                        let user = aor.split_once('@').map_or(aor.as_str(), |(u, _)| u);
                        ctx.acd.gone(user, "unregistered");
                    }
                }
                Event::Ack { request, .. } => self.forward(&request.call_id, ToCall::Ack),
                Event::Cancelled { id } => {
                    if let Some(call_id) = self.calls.invites.get(&id).cloned() {
                        self.forward(&call_id, ToCall::Cancelled);
                    }
                }
                Event::Response { id, response, peer } => {
                    if self
                        .trunking
                        .as_mut()
                        .is_some_and(|t| t.on_response(now, id, &response))
                    {
                        continue;
                    }
                    if self.probes.as_mut().is_some_and(|p| p.on_response(id)) {
                        continue;
                    }
                    let Some(call_id) = self.calls.requests.get(&id).cloned() else {
                        continue;
                    };
                    if response.status >= 200 {
                        if response.cseq.method == Method::Invite {
                            self.calls.pending_invites.remove(&call_id);
                        } else {
                            self.calls.requests.remove(&id);
                        }
                    }
                    self.forward(&call_id, ToCall::Response { response, peer });
                }
                Event::Timeout { id } => {
                    if self
                        .trunking
                        .as_mut()
                        .is_some_and(|t| t.on_timeout(now, id))
                    {
                        continue;
                    }
                    if self.probes.as_mut().is_some_and(|p| p.on_timeout(id)) {
                        continue;
                    }
                    if let Some(call_id) = self.calls.requests.remove(&id) {
                        self.calls.pending_invites.remove(&call_id);
                        self.forward(&call_id.clone(), ToCall::Timeout { call_id });
                    }
                }
                Event::AckTimeout { id } => {
                    // A non-2xx (or a challenge the endpoint sent itself)
                    // ended its call already: only a 2xx matters here.
                    if let Some(call_id) = self.calls.answered.remove(&id) {
                        self.forward(&call_id, ToCall::AckTimeout);
                    }
                }
                other => debug!(event = ?other, "sip event not handled yet"),
            }
        }
    }

    /// Hands a request to its call, or starts a call for a new INVITE.
    /// Returns the request when no call takes it (the policy answers it).
    fn hand_to_call(
        &mut self,
        now: std::time::Instant,
        id: ServerTxId,
        request: Box<Request>,
        peer: Peer,
        user: String,
    ) -> Option<Box<Request>> {
        if let Some(call) = self.calls.by_call_id.get(&request.call_id) {
            if request.method == Method::Invite && request.to.tag().is_none() {
                // Same Call-ID, no tag, not a retransmission: a loop or a fork.
                let response = policy::response(&request, 482, policy::new_tag);
                self.endpoint.respond(now, id, response);
                return None;
            }
            let message = ToCall::Request { id, request, peer };
            if let Err(e) = call.try_send(message) {
                let request = match e {
                    TrySendError::Full(ToCall::Request { request, .. })
                    | TrySendError::Closed(ToCall::Request { request, .. }) => request,
                    _ => return None,
                };
                let response = policy::response(&request, 500, policy::new_tag);
                self.endpoint.respond(now, id, response);
            }
            return None;
        }
        let is_new_call = request.method == Method::Invite && request.to.tag().is_none();
        let Some(context) = self.calls.context.clone().filter(|_| is_new_call) else {
            return Some(request);
        };
        let Some(shutdown) = self.calls.shutdown.as_ref().map(Shutdown::clone_handle) else {
            let mut response = policy::response(&request, 503, policy::new_tag);
            response
                .headers
                .push(waihu_sip::message::HeaderName::RetryAfter, "30");
            self.endpoint.respond(now, id, response);
            return None;
        };
        let call_id = request.call_id.clone();
        let tag = self.endpoint.fresh_tag();
        let invite = call::Invite {
            id,
            request: *request,
            peer,
            user,
            local_tag: tag,
        };
        let sender = call::spawn(context, self.calls.to_driver.clone(), invite, shutdown);
        self.calls.add_invite(id, call_id.clone());
        self.calls.by_call_id.insert(call_id, sender);
        None
    }

    /// Before a batch of input: whether the endpoint refuses new calls
    /// (see [`super::overload`]), logged when it changes.
    fn check_overload(&mut self) {
        let overloaded = self.load.overloaded();
        if overloaded == self.overloaded {
            return;
        }
        self.overloaded = overloaded;
        self.endpoint
            .refuse_new_calls(overloaded.then_some(OVERLOAD_RETRY_AFTER));
        let delay_ms = self.load.delay().as_millis() as u64;
        let refused = self.endpoint.stats().refused_calls;
        if overloaded {
            warn!(
                delay_ms,
                refused, "overloaded: new calls are answered 503 until messages are served in time"
            );
        } else {
            info!(
                delay_ms,
                refused, "no longer overloaded: new calls are taken again"
            );
        }
    }

    /// Starts a campaign call for the dialer, unless the switch is
    /// stopping (the dialer then hears that the attempt failed).
    fn originate(&mut self, dialout: call::Dialout) {
        let context = self.calls.context.clone();
        let shutdown = self.calls.shutdown.as_ref().map(Shutdown::clone_handle);
        let (Some(context), Some(shutdown)) = (context, shutdown) else {
            let _ = dialout
                .report
                .send(call::DialerEvent::Ended(call::CallResult {
                    attempt_id: dialout.attempt_id,
                    outcome: "failed".into(),
                    ended_ms: crate::campaigns::now_ms(),
                    ..call::CallResult::default()
                }));
            return;
        };
        let call_id = dialout.call_id.clone();
        let sender =
            call::spawn_originate(context, self.calls.to_driver.clone(), dialout, shutdown);
        self.calls.by_call_id.insert(call_id, sender);
    }

    /// Where the dialer sends [`FromCall::Originate`].
    pub fn calls_sender(&self) -> mpsc::Sender<FromCall> {
        self.calls.to_driver.clone()
    }

    fn forward(&mut self, call_id: &str, message: ToCall) {
        let Some(call) = self.calls.by_call_id.get(call_id) else {
            return;
        };
        match call.try_send(message) {
            Ok(()) => {}
            // The call just ended; its Release is on the way. A late
            // response or retransmission has nobody left to tell.
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                debug!(%call_id, "message for a call that has ended");
            }
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                warn!(%call_id, "call task is not keeping up; message dropped");
            }
        }
    }

    fn on_call_message(&mut self, message: FromCall) {
        let now = now();
        match message {
            FromCall::Respond { id, response } => {
                if (200..300).contains(&response.status) && response.cseq.method == Method::Invite {
                    self.calls.add_answered(id, response.call_id.clone());
                }
                self.endpoint.respond(now, id, *response)
            }
            FromCall::Send { request, peer } => {
                let call_id = request.call_id.clone();
                let is_invite = request.method == Method::Invite;
                match self.endpoint.send_request(now, *request, peer) {
                    Ok(id) => {
                        self.calls.add_request(id, call_id.clone());
                        if is_invite {
                            self.calls.pending_invites.insert(call_id, id);
                        }
                    }
                    Err(e) => warn!(%call_id, error = %e, "request not sent"),
                }
            }
            FromCall::Ack { request, peer } => self.endpoint.send_ack(&request, peer),
            FromCall::Cancel { call_id } => {
                if let Some(&id) = self.calls.pending_invites.get(&call_id)
                    && let Err(e) = self.endpoint.cancel(now, id)
                {
                    debug!(%call_id, error = %e, "cancel not sent");
                }
            }
            FromCall::Trust {
                call_id,
                local_tag,
                user,
                peer_ip,
            } => self
                .endpoint
                .trust_dialog(&call_id, &local_tag, &user, Some(peer_ip)),
            FromCall::Claim { call_id, to } => {
                self.calls.by_call_id.insert(call_id, to);
            }
            FromCall::Originate(dialout) => self.originate(*dialout),
            FromCall::Lookup { user, reply } => {
                let _ = reply.send(self.endpoint.targets(now, &user));
            }
            FromCall::Release { call_ids, dialogs } => {
                for call_id in &call_ids {
                    self.calls.release(call_id);
                }
                for (call_id, tag) in dialogs {
                    self.endpoint.forget_dialog(&call_id, &tag);
                }
            }
        }
    }

    async fn send_udp(&self, transmit: Transmit) {
        let addr = transmit.peer.addr;
        if !udp::sendable(&addr) {
            warn!(%addr, "refusing to send to a broadcast, multicast or unspecified address");
            return;
        }
        let Some(sender) = udp::socket_for(&self.udp, &addr) else {
            debug!(%addr, "no udp socket of this address family; dropped");
            return;
        };
        if let Err(e) = sender.socket.send_to(&transmit.bytes, addr).await {
            debug!(%addr, error = %e, "udp send failed");
        }
    }

    fn send_tcp(&mut self, transmit: Transmit) {
        let addr = transmit.peer.addr;
        let Some(connection) = self.tcp.get(&addr) else {
            // Requests to a registered contact without a connection come later.
            debug!(%addr, "no tcp connection to this peer; dropped");
            return;
        };
        match connection.writer.try_send(Bytes::from(transmit.bytes)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                warn!(%addr, "tcp peer is not reading; closing the connection");
                self.tcp.remove(&addr);
            }
            Err(TrySendError::Closed(_)) => {
                debug!(%addr, "tcp connection already closed; dropped");
                self.tcp.remove(&addr);
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
