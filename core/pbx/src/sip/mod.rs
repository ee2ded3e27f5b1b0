//! The SIP runtime: sockets and tasks around the sans-IO `waihu_sip::Endpoint`.
//!
//! ```text
//!  udp recv task(s) ──┐                         ┌─> UdpSocket::send_to
//!  tcp connection(s) ─┼─ Input (mpsc) ─> driver ┤
//!  tcp accept loop ───┘   (owns Endpoint)       └─> per-connection write queue
//! ```
//!
//! One task, the [`driver`], owns the endpoint; everything else talks to it
//! through one channel, so the endpoint needs no lock. After each batch the
//! driver publishes a [`Snapshot`] for the HTTP API.

mod driver;
pub mod overload;
pub mod policy;
mod probes;
mod tcp;
mod trunking;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use waihu_sip::endpoint::{Endpoint, Stats};
use waihu_sip::{Peer, Transport};

use crate::config::{Listener, Settings};
use crate::shutdown::Coordinator;

/// How many inputs may wait for the driver before senders wait too.
pub(crate) const INPUT_QUEUE: usize = 4096;

/// What the HTTP side sees of the SIP side.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub sip: Stats,
    pub tcp_connections: usize,
    /// The delay messages meet before their turn (see [`overload`]), read
    /// when asked: an idle driver publishes no snapshot.
    pub load: Arc<overload::Load>,
}

/// What the socket tasks send the driver.
#[derive(Debug)]
enum Input {
    /// A datagram, or one frame cut from a TCP stream, and when it was
    /// read (its wait for the driver is a measure of [`overload`]).
    Message {
        peer: Peer,
        bytes: Bytes,
        received: tokio::time::Instant,
    },
    /// A TCP connection was accepted: may it stay? If so, its writes go to `writer`.
    Connect {
        addr: SocketAddr,
        id: u64,
        writer: mpsc::Sender<Bytes>,
        admit: oneshot::Sender<bool>,
    },
    /// A TCP connection ended. `id` guards against a newer connection from
    /// the same address being forgotten.
    Disconnect { addr: SocketAddr, id: u64 },
}

/// Why the SIP side could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot listen on {listener}: {source}")]
    Bind {
        listener: Listener,
        #[source]
        source: io::Error,
    },
}

/// The running SIP side.
#[derive(Debug)]
pub struct Running {
    /// Ends only at shutdown, or if the driver fails.
    pub driver: JoinHandle<()>,
    /// The addresses actually bound (port 0 in the config is resolved here).
    pub bound: Vec<Listener>,
    /// Where the dialer asks the driver for campaign calls.
    pub calls: tokio::sync::mpsc::Sender<crate::call::FromCall>,
}

/// Binds every listener, then spawns the driver and the socket tasks.
/// Binding happens first so that a bad address fails startup before anything runs.
pub fn start(
    settings: &Settings,
    endpoint: Endpoint,
    coordinator: &Coordinator,
    snapshots: watch::Sender<Snapshot>,
    calls: Option<Arc<crate::call::CallContext>>,
    load: Arc<overload::Load>,
) -> Result<Running, StartError> {
    let mut udp_sockets = Vec::new();
    let mut tcp_listeners = Vec::new();
    let mut bound = Vec::new();
    for &listener in &settings.listeners {
        let err = |source| StartError::Bind { listener, source };
        match listener.transport {
            Transport::Udp => {
                let socket = bind_udp(listener.addr).map_err(err)?;
                let addr = socket.local_addr().map_err(err)?;
                bound.push(Listener { addr, ..listener });
                udp_sockets.push(Arc::new(socket));
            }
            Transport::Tcp => {
                let socket = bind_tcp(listener.addr).map_err(err)?;
                let addr = socket.local_addr().map_err(err)?;
                bound.push(Listener { addr, ..listener });
                tcp_listeners.push(socket);
            }
        }
    }

    let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE);
    for socket in &udp_sockets {
        let task = udp::Receiver {
            socket: socket.clone(),
            inputs: inputs_tx.clone(),
            max_message: settings.limits.max_message_bytes,
        };
        tokio::spawn(task.run(coordinator.handle()));
    }
    let tcp_limits = Arc::new(tcp::Limits {
        connections: Arc::new(Semaphore::new(settings.limits.max_tcp_connections)),
        max_header: settings.limits.max_header_bytes,
        max_body: settings.limits.max_message_bytes,
        idle: settings.tcp_idle,
    });
    for listener in tcp_listeners {
        let task = tcp::Acceptor::new(listener, inputs_tx.clone(), tcp_limits.clone());
        tokio::spawn(task.run(coordinator.handle()));
    }
    drop(inputs_tx);

    tokio::spawn(overload::watch_runtime(load.clone(), coordinator.handle()));
    let driver =
        driver::Driver::new(endpoint, udp_sockets, inputs_rx, snapshots, calls).with_overload(load);
    let calls = driver.calls_sender();
    let driver = tokio::spawn(driver.run(coordinator.handle()));
    Ok(Running {
        driver,
        bound,
        calls,
    })
}

/// Kernel buffers of a SIP UDP socket: a burst of a few thousand messages
/// (a thousand calls a second, retransmissions, registrations renewing at
/// once) waits in the kernel rather than being dropped while the driver
/// is busy. The kernel may grant less (net.core.rmem_max).
const SIP_SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// A UDP socket; `[::]` takes IPv6 only, so `0.0.0.0` can be bound beside it.
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    let _ = socket.set_recv_buffer_size(SIP_SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SIP_SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// A TCP listener; SO_REUSEADDR so a restart is not refused for connections
/// still in TIME_WAIT.
fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests;
