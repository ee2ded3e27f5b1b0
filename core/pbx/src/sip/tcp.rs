//! TCP: an accept loop per listener and a task per connection.
//!
//! A connection task reads, cuts frames with `next_frame` (check, then hand
//! on: the endpoint parses), and writes what the driver queues for it. It
//! ends on EOF, a framing error, an idle timeout, a write queue the driver
//! gave up on, or shutdown (after flushing what the driver still sends).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{debug, info, warn};
use waihu_sip::message::frame::{Frame, FramingError, next_frame};
use waihu_sip::{Peer, Transport};

use super::Input;
use crate::shutdown::Shutdown;

/// Messages the driver may queue for one connection before it is closed as too slow.
pub(super) const WRITE_QUEUE: usize = 256;

/// How long a connection may take, at shutdown, to write what is queued for it.
const FLUSH_BEFORE_CLOSE: Duration = Duration::from_secs(2);

/// Connection ids, unique across listeners.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
pub(super) struct Limits {
    /// One permit per open connection (`sip.limits.max_tcp_connections`).
    pub connections: Arc<Semaphore>,
    pub max_header: usize,
    pub max_body: usize,
    pub idle: Duration,
}

#[derive(Debug)]
pub(super) struct Acceptor {
    listener: TcpListener,
    inputs: mpsc::Sender<Input>,
    limits: Arc<Limits>,
}

impl Acceptor {
    pub fn new(listener: TcpListener, inputs: mpsc::Sender<Input>, limits: Arc<Limits>) -> Self {
        Acceptor {
            listener,
            inputs,
            limits,
        }
    }

    pub async fn run(self, mut shutdown: Shutdown) {
        let local = self.listener.local_addr().ok();
        loop {
            // Take a permit before accepting: at the limit, new connections
            // wait in the kernel's backlog instead of being accepted and dropped.
            let permit = tokio::select! {
                p = self.limits.connections.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = shutdown.recv() => break,
            };
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                () = shutdown.recv() => break,
            };
            let (stream, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(?local, error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match self.admit(stream, addr, permit, &shutdown).await {
                Admission::Admitted | Admission::Refused => {}
                Admission::DriverGone => break,
            }
        }
        debug!(?local, "tcp listener closed");
    }

    /// Asks the driver whether `addr` may connect, and starts the connection if so.
    async fn admit(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        permit: OwnedSemaphorePermit,
        shutdown: &Shutdown,
    ) -> Admission {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (writer, writes) = mpsc::channel(WRITE_QUEUE);
        let (admit, admitted) = oneshot::channel();
        let ask = Input::Connect {
            addr,
            id,
            writer,
            admit,
        };
        if self.inputs.send(ask).await.is_err() {
            return Admission::DriverGone;
        }
        match admitted.await {
            Ok(true) => {}
            Ok(false) => {
                debug!(%addr, "tcp connection refused (banned or over the rate limit)");
                return Admission::Refused;
            }
            Err(_) => return Admission::DriverGone,
        }
        // SIP messages are written whole; do not hold them back.
        if let Err(e) = stream.set_nodelay(true) {
            debug!(%addr, error = %e, "TCP_NODELAY not set");
        }
        debug!(%addr, id, "tcp connection accepted");
        let connection = Connection {
            stream,
            peer: Peer {
                transport: Transport::Tcp,
                addr,
            },
            id,
            inputs: self.inputs.clone(),
            writes,
            buf: BytesMut::with_capacity(4096),
            limits: self.limits.clone(),
            _permit: permit,
        };
        tokio::spawn(connection.run(shutdown.clone_handle()));
        Admission::Admitted
    }
}

enum Admission {
    Admitted,
    Refused,
    DriverGone,
}

/// Why a connection ended.
#[derive(Debug)]
enum Closed {
    Eof,
    Idle,
    Io(io::Error),
    Framing(FramingError),
    /// `next_frame` returned a frame that does not fit the buffer: a bug, not the peer's fault.
    BadFrame(usize),
    /// The driver dropped our write queue (it was full) or stopped.
    DriverGone,
    Shutdown,
}

struct Connection {
    stream: TcpStream,
    peer: Peer,
    id: u64,
    inputs: mpsc::Sender<Input>,
    writes: mpsc::Receiver<Bytes>,
    buf: BytesMut,
    limits: Arc<Limits>,
    /// Released when the connection ends.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, mut shutdown: Shutdown) {
        let closed = self.serve(&mut shutdown).await;
        let addr = self.peer.addr;
        // The Disconnect queues behind the frames already handed on, and the
        // driver drops our write queue only after sending their answers: so
        // a peer that sent a good message and then garbage (or closed its
        // side) still gets the answer to the good one. A lost Disconnect is
        // harmless: the driver drops the entry when it finds the queue closed.
        let disconnect = Input::Disconnect { addr, id: self.id };
        let queued = match closed {
            // At shutdown the driver may no longer read its input.
            Closed::Shutdown => self.inputs.try_send(disconnect).is_ok(),
            _ => timeout(FLUSH_BEFORE_CLOSE, self.inputs.send(disconnect))
                .await
                .is_ok_and(|sent| sent.is_ok()),
        };
        if queued || matches!(closed, Closed::Shutdown) {
            self.flush().await;
        }
        let _ = self.stream.shutdown().await;
        match closed {
            Closed::Framing(e) => info!(%addr, error = %e, "tcp connection closed: framing error"),
            Closed::BadFrame(n) => warn!(%addr, n, "tcp connection closed: inconsistent frame"),
            Closed::Idle => debug!(%addr, "tcp connection closed: idle"),
            Closed::Io(e) => debug!(%addr, error = %e, "tcp connection closed: io error"),
            Closed::DriverGone => debug!(%addr, "tcp connection closed: write queue dropped"),
            Closed::Eof | Closed::Shutdown => debug!(%addr, why = ?closed, "tcp connection closed"),
        }
    }

    async fn serve(&mut self, shutdown: &mut Shutdown) -> Closed {
        let mut idle_deadline = Instant::now() + self.limits.idle;
        loop {
            if let Err(closed) = self.process_frames().await {
                return closed;
            }
            // read_buf reads into spare capacity only; with none it reports 0 (EOF).
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(4096);
            }
            tokio::select! {
                r = self.stream.read_buf(&mut self.buf) => match r {
                    Ok(0) => return Closed::Eof,
                    Ok(_) => idle_deadline = Instant::now() + self.limits.idle,
                    Err(e) => return Closed::Io(e),
                },
                w = self.writes.recv() => match w {
                    Some(bytes) => {
                        if let Err(e) = self.stream.write_all(&bytes).await {
                            return Closed::Io(e);
                        }
                    }
                    None => return Closed::DriverGone,
                },
                () = sleep_until(idle_deadline) => return Closed::Idle,
                () = shutdown.recv() => return Closed::Shutdown,
            }
        }
    }

    /// Hands every complete frame at the start of the buffer on.
    async fn process_frames(&mut self) -> Result<(), Closed> {
        let Limits {
            max_header,
            max_body,
            ..
        } = *self.limits;
        loop {
            let frame = next_frame(&self.buf, max_header, max_body).map_err(Closed::Framing)?;
            match frame {
                // next_frame bounds the header block and the body; this
                // bounds the buffer even if it did not.
                None if self.buf.len() > max_header + max_body => {
                    return Err(Closed::BadFrame(self.buf.len()));
                }
                None => return Ok(()),
                Some(Frame::Message(n)) => {
                    if n == 0 || n > self.buf.len() {
                        return Err(Closed::BadFrame(n));
                    }
                    let bytes = self.buf.split_to(n).freeze();
                    let input = Input::Message {
                        peer: self.peer,
                        bytes,
                        received: tokio::time::Instant::now(),
                    };
                    self.inputs
                        .send(input)
                        .await
                        .map_err(|_| Closed::DriverGone)?;
                }
                Some(Frame::KeepAlive { len, ping }) => {
                    if len == 0 || len > self.buf.len() {
                        return Err(Closed::BadFrame(len));
                    }
                    self.buf.advance(len);
                    if ping {
                        // RFC 5626 section 3.5.1: a double CRLF ping gets a CRLF pong.
                        self.stream.write_all(b"\r\n").await.map_err(Closed::Io)?;
                    }
                }
            }
        }
    }

    /// Writes what the driver still queues, then returns once the driver
    /// drops the queue (or the time is up).
    async fn flush(&mut self) {
        let flush = async {
            while let Some(bytes) = self.writes.recv().await {
                if self.stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        };
        if timeout(FLUSH_BEFORE_CLOSE, flush).await.is_err() {
            debug!(addr = %self.peer.addr, "tcp flush before close timed out");
        }
    }
}
