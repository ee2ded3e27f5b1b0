//! RTP sockets from the configured port range, and the address we advertise.
//!
//! Each call leg takes an even port for RTP and the odd one above it for
//! RTCP (RFC 3550 section 11). A rotating cursor spreads legs over the
//! range, so a port freed by one call is not handed straight to the next
//! (late packets of the old call would land in the new one), and a port
//! some other program holds is skipped. The pool keeps one bit per pair it holds (handed out or
//! resting), so looking for a port never tries to bind one of its own:
//! with the range full, an allocation fails at once instead of making
//! three system calls for every pair of the range, which under overload
//! stalled the runtime for seconds. Ports other programs hold are found by
//! a failed bind, at most [`BIND_FAILURES`] times an allocation.
//!
//! At a thousand calls a second, creating, binding, registering and
//! closing four sockets per call is a tenth of the switch's work. So a
//! leg's pair, when it ends, is kept (still bound) and handed to a later
//! call once it has rested [`QUARANTINE`]: long enough that the old call's
//! last packets have arrived. A pair is drained when it is handed out, so
//! those packets are thrown away.
//!
//! Under load the range cannot let every pair rest that long (at a
//! thousand calls a second, two thousand pairs end every second), and the
//! ports the resting pairs hold are exactly the ones a fresh bind would
//! look for. So once [`BUSY`] pairs rest, the oldest is handed out as soon
//! as it has rested [`MIN_REST`]: a peer stops sending within a round trip
//! of its BYE, and a packet later than that from the old peer is a
//! stranger to the new call's leg (unless the new call's peer sends from
//! the very same address).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// Kernel receive buffer per RTP socket: a few hundred packets, so a short
/// stall of the task does not drop audio.
const RECV_BUFFER: usize = 256 * 1024;

/// How long a released pair rests before another call gets it.
pub const QUARANTINE: Duration = Duration::from_secs(5);

/// How long a released pair rests at least, when [`BUSY`] pairs rest.
pub const MIN_REST: Duration = Duration::from_secs(1);

/// Resting pairs from which the switch counts as busy: the oldest is then
/// reused after [`MIN_REST`] rather than a fresh pair bound.
const BUSY: usize = 256;

/// Failed binds (ports some other program holds) after which an
/// allocation gives up; the cursor has moved past them for the next one.
const BIND_FAILURES: u32 = 64;

/// An RTP socket and its RTCP neighbour. Dropped, it goes back to the pool
/// it came from.
#[derive(Debug)]
pub struct PortPair {
    rtp: Option<UdpSocket>,
    rtcp: Option<UdpSocket>,
    pub port: u16,
    pool: Weak<Shared>,
}

impl PortPair {
    /// The RTP socket; `None` while the relay engine holds it (or if it
    /// could not be handed back).
    pub fn rtp(&self) -> Option<&UdpSocket> {
        self.rtp.as_ref()
    }

    /// Takes the RTP socket out of tokio's reactor for the relay engine,
    /// which polls it itself: registered in both, every packet would
    /// also wake a runtime thread for nothing.
    pub fn take_rtp(&mut self) -> io::Result<StdUdpSocket> {
        self.rtp
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "rtp socket already taken"))?
            .into_std()
    }

    /// Puts back what [`PortPair::take_rtp`] took. Must run inside the
    /// runtime. On error the socket is closed and the leg stays mute.
    pub fn restore_rtp(&mut self, socket: StdUdpSocket) -> io::Result<()> {
        self.rtp = Some(UdpSocket::from_std(socket)?);
        Ok(())
    }

    pub fn rtcp(&self) -> &UdpSocket {
        self.rtcp
            .as_ref()
            .expect("a pair's sockets live as long as the pair")
    }
}

impl Drop for PortPair {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        match (self.rtp.take(), self.rtcp.take()) {
            (Some(rtp), Some(rtcp)) => pool.release(rtp, rtcp, self.port),
            // A socket is gone (the relay engine could not hand it back):
            // the pair is closed, and no longer the pool's.
            _ => pool.disown(self.port),
        }
    }
}

/// What the pool and the pairs it handed out share.
#[derive(Debug)]
struct Shared {
    /// Released pairs, oldest first.
    pairs: Mutex<VecDeque<(Instant, UdpSocket, UdpSocket, u16)>>,
    /// The first pair of the range (its RTP port halved).
    first_pair: u32,
    /// One bit per pair of the range, set while the pool holds its sockets.
    owned: Box<[AtomicU64]>,
}

impl Shared {
    fn new(first_pair: u32, pairs: u32) -> Shared {
        Shared {
            pairs: Mutex::default(),
            first_pair,
            owned: (0..pairs.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn bit(&self, port: u16) -> Option<(&AtomicU64, u64)> {
        let i = (u32::from(port) / 2).checked_sub(self.first_pair)?;
        let word = self.owned.get(usize::try_from(i / 64).ok()?)?;
        Some((word, 1 << (i % 64)))
    }

    fn is_owned(&self, port: u16) -> bool {
        self.bit(port)
            .is_some_and(|(word, bit)| word.load(Ordering::Relaxed) & bit != 0)
    }

    fn own(&self, port: u16) {
        if let Some((word, bit)) = self.bit(port) {
            word.fetch_or(bit, Ordering::Relaxed);
        }
    }

    fn disown(&self, port: u16) {
        if let Some((word, bit)) = self.bit(port) {
            word.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, UdpSocket, UdpSocket, u16)>> {
        self.pairs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a pair that ended (each pair is one port of the range, so the
    /// queue never holds more than the range). What arrives while it rests
    /// is drained when it is handed out.
    fn release(&self, rtp: UdpSocket, rtcp: UdpSocket, port: u16) {
        self.lock().push_back((Instant::now(), rtp, rtcp, port));
    }

    /// The oldest pair, if it has rested long enough: [`QUARANTINE`], or
    /// [`MIN_REST`] while the switch is busy (or `any`: whatever its age).
    fn take(&self, any: bool) -> Option<(UdpSocket, UdpSocket, u16)> {
        let mut pairs = self.lock();
        let busy = pairs.len() >= BUSY;
        let ready = pairs.front().is_some_and(|(at, ..)| {
            let rested = at.elapsed();
            any || rested >= QUARANTINE || (busy && rested >= MIN_REST)
        });
        if !ready {
            return None;
        }
        let (_, rtp, rtcp, port) = pairs.pop_front()?;
        drop(pairs);
        drain(&rtp);
        drain(&rtcp);
        Some((rtp, rtcp, port))
    }
}

/// Throws away what is queued on a socket (bounded: a flood must not
/// hold the caller).
fn drain(socket: &UdpSocket) {
    let mut buf = [0u8; 64];
    for _ in 0..1024 {
        if socket.try_recv_from(&mut buf).is_err() {
            return;
        }
    }
}

/// Hands out port pairs from `media.rtp_ports`.
#[derive(Debug)]
pub struct PortPool {
    bind_ip: IpAddr,
    first_pair: u32,
    pairs: u32,
    cursor: AtomicU32,
    shared: Arc<Shared>,
    /// Binds that failed since start: ports held by other programs.
    bind_failures: AtomicU64,
    /// Allocations that found no pair since start.
    exhausted: AtomicU64,
}

impl PortPool {
    pub fn new(bind_ip: IpAddr, min: u16, max: u16) -> PortPool {
        let first = u32::from(min).div_ceil(2);
        let last = u32::from(max).saturating_sub(1) / 2;
        let pairs = last.saturating_sub(first) + 1;
        let start = getrandom::u32().unwrap_or(0) % pairs.max(1);
        PortPool {
            bind_ip,
            first_pair: first,
            pairs,
            cursor: AtomicU32::new(start),
            shared: Arc::new(Shared::new(first, pairs)),
            bind_failures: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> u32 {
        self.pairs
    }

    /// Binds that failed since start (ports some other program holds).
    pub fn bind_failures(&self) -> u64 {
        self.bind_failures.load(Ordering::Relaxed)
    }

    /// Allocations since start that found no pair: calls refused for it.
    pub fn exhausted(&self) -> u64 {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// Pairs the pool holds now: in calls, or resting.
    pub fn held(&self) -> u32 {
        self.shared
            .owned
            .iter()
            .map(|w| w.load(Ordering::Relaxed).count_ones())
            .sum()
    }

    fn pair(&self, rtp: UdpSocket, rtcp: UdpSocket, port: u16) -> PortPair {
        PortPair {
            rtp: Some(rtp),
            rtcp: Some(rtcp),
            port,
            pool: Arc::downgrade(&self.shared),
        }
    }

    /// A pair that has rested, else a freshly bound one, else (the range
    /// is full) the longest-resting one.
    pub fn allocate(&self) -> io::Result<PortPair> {
        if let Some((rtp, rtcp, port)) = self.shared.take(false) {
            return Ok(self.pair(rtp, rtcp, port));
        }
        let mut failures = 0;
        for _ in 0..self.pairs {
            let i = self.cursor.fetch_add(1, Ordering::Relaxed) % self.pairs;
            let port = ((self.first_pair + i) * 2) as u16;
            if self.shared.is_owned(port) {
                continue;
            }
            let bound = bind(SocketAddr::new(self.bind_ip, port)).and_then(|rtp| {
                bind(SocketAddr::new(self.bind_ip, port + 1)).map(|rtcp| (rtp, rtcp))
            });
            let Ok((rtp, rtcp)) = bound else {
                self.bind_failures.fetch_add(1, Ordering::Relaxed);
                failures += 1;
                if failures == BIND_FAILURES {
                    break;
                }
                continue;
            };
            let (rtp, rtcp) = (UdpSocket::from_std(rtp)?, UdpSocket::from_std(rtcp)?);
            self.shared.own(port);
            return Ok(self.pair(rtp, rtcp, port));
        }
        if let Some((rtp, rtcp, port)) = self.shared.take(true) {
            return Ok(self.pair(rtp, rtcp, port));
        }
        self.exhausted.fetch_add(1, Ordering::Relaxed);
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "every RTP port of media.rtp_ports is in use",
        ))
    }
}

fn bind(addr: SocketAddr) -> io::Result<StdUdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The address to put in SDP and Contact: the configured one, or the
/// SIP listener's own address if it is specific, or the address of the
/// interface with the default route (found without sending anything), or
/// loopback as a last resort.
pub fn advertise(configured: Option<IpAddr>, listener: Option<IpAddr>) -> IpAddr {
    if let Some(ip) = configured {
        return ip;
    }
    if let Some(ip) = listener.filter(|ip| !ip.is_unspecified()) {
        return ip;
    }
    let probe = || -> io::Result<IpAddr> {
        let s = StdUdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        // connect() on UDP only picks a route and a source address.
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        Ok(s.local_addr()?.ip())
    };
    probe()
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pairs_are_even_odd_and_distinct_until_the_range_is_full() {
        // Below the kernel's ephemeral range (32768+), where sockets other
        // tests open at random cannot land, and apart from the ranges the
        // integration tests give the binary.
        let pool = PortPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 31100, 31109);
        assert_eq!(pool.capacity(), 5);
        let mut held = Vec::new();
        for _ in 0..5 {
            let pair = pool.allocate().expect("a free pair");
            assert_eq!(pair.port % 2, 0);
            assert!((31100..=31108).contains(&pair.port));
            assert_eq!(
                pair.rtcp().local_addr().expect("addr").port(),
                pair.port + 1
            );
            held.push(pair);
        }
        let mut ports: Vec<u16> = held.iter().map(|p| p.port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 5);
        let err = pool.allocate().expect_err("range exhausted");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let freed = held.pop().expect("a pair").port;
        assert_eq!(
            pool.allocate()
                .expect("the freed pair, though it has not rested")
                .port,
            freed
        );
    }

    #[tokio::test]
    async fn a_full_range_fails_without_binding_the_pools_own_ports_again() {
        let pool = PortPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 31140, 31151);
        assert_eq!(pool.capacity(), 6);
        // Another program holds two pairs of the range.
        let foreign: Vec<StdUdpSocket> = [31142, 31148]
            .iter()
            .map(|p| StdUdpSocket::bind(("127.0.0.1", *p)).expect("bind"))
            .collect();
        let held: Vec<PortPair> = (0..4)
            .map(|_| pool.allocate().expect("a free pair"))
            .collect();
        assert!(held.iter().all(|p| p.port != 31142 && p.port != 31148));
        let before = pool.bind_failures();
        assert!(
            before <= 2,
            "each foreign pair was tried at most once: {before}"
        );
        let err = pool.allocate().expect_err("range exhausted");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // Only the two foreign pairs were tried: the pool's own four were
        // skipped without a system call.
        assert_eq!(pool.bind_failures(), before + 2);
        assert_eq!((pool.held(), pool.exhausted()), (4, 1));
        drop(foreign);
    }

    #[tokio::test]
    async fn a_released_pair_rests_drained_before_another_call_gets_it() {
        let pool = PortPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 31120, 31139);
        let first = pool.allocate().expect("pair");
        let port = first.port;
        let addr = first.rtp().expect("rtp").local_addr().expect("addr");
        drop(first);
        // A late packet of the old call arrives while the pair rests.
        let late = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
        late.send_to(b"late", addr).expect("send");
        // Not handed out again at once: the range has other ports.
        let next = pool.allocate().expect("pair");
        assert_ne!(next.port, port);
        // Once rested, it is reused, with the late packet gone.
        if let Some(entry) = pool.shared.lock().front_mut() {
            entry.0 -= QUARANTINE;
        }
        let reused = pool.allocate().expect("pair");
        assert_eq!(reused.port, port);
        let mut buf = [0u8; 16];
        assert!(
            reused.rtp().expect("rtp").try_recv_from(&mut buf).is_err(),
            "the late packet was drained"
        );
    }

    #[tokio::test]
    async fn a_busy_switch_reuses_a_pair_after_its_minimum_rest() {
        let pool = PortPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 31200, 31999);
        let ended: Vec<PortPair> = (0..BUSY + 4)
            .map(|_| pool.allocate().expect("pair"))
            .collect();
        let oldest = ended[0].port;
        let ports: std::collections::HashSet<u16> = ended.iter().map(|p| p.port).collect();
        drop(ended);
        // Just ended: a fresh pair, though many rest.
        let fresh = pool.allocate().expect("pair");
        assert!(!ports.contains(&fresh.port));
        // After the minimum rest, the oldest of the many is reused rather
        // than another port bound.
        if let Some(entry) = pool.shared.lock().front_mut() {
            entry.0 -= MIN_REST;
        }
        assert_eq!(pool.allocate().expect("pair").port, oldest);
    }

    #[test]
    fn advertise_prefers_configuration_then_a_specific_listener() {
        let cfg: IpAddr = "203.0.113.7".parse().expect("ip");
        let listen: IpAddr = "192.0.2.10".parse().expect("ip");
        assert_eq!(advertise(Some(cfg), Some(listen)), cfg);
        assert_eq!(advertise(None, Some(listen)), listen);
        assert!(!advertise(None, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))).is_unspecified());
    }
}
