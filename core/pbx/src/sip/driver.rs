//! The one task that owns the endpoint.
//!
//! Each turn: take input (or wake for the endpoint's next deadline), then
//! answer the events, send every transmit, and publish a stats snapshot.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};
use waihu_sip::endpoint::{Endpoint, Event};
use waihu_sip::{Transmit, Transport};

use super::{Input, Snapshot, policy, udp};
use crate::shutdown::Shutdown;

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
    inputs: mpsc::Receiver<Input>,
    snapshots: watch::Sender<Snapshot>,
}

impl Driver {
    pub fn new(
        endpoint: Endpoint,
        udp_sockets: Vec<Arc<UdpSocket>>,
        inputs: mpsc::Receiver<Input>,
        snapshots: watch::Sender<Snapshot>,
    ) -> Driver {
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
            inputs,
            snapshots,
        }
    }

    pub async fn run(mut self, mut shutdown: Shutdown) {
        loop {
            let deadline = self.endpoint.poll_timeout().map(Instant::from_std);
            tokio::select! {
                () = shutdown.recv() => break,
                input = self.inputs.recv() => {
                    let Some(input) = input else { break };
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
            Input::Message { peer, bytes } => self.endpoint.handle_input(now, peer, &bytes),
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
        self.handle_events(now);
        while let Some(transmit) = self.endpoint.poll_transmit() {
            match transmit.peer.transport {
                Transport::Udp => self.send_udp(transmit).await,
                Transport::Tcp => self.send_tcp(transmit),
            }
        }
        for (addr, id) in self.closing.drain(..) {
            if self.tcp.get(&addr).is_some_and(|c| c.id == id) {
                self.tcp.remove(&addr);
            }
        }
        self.snapshots.send_replace(Snapshot {
            sip: self.endpoint.stats(),
            tcp_connections: self.tcp.len(),
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
                }
                other => debug!(event = ?other, "sip event not handled yet"),
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
