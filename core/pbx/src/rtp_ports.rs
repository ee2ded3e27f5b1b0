//! RTP sockets from the configured port range, and the address we advertise.
//!
//! Each call leg takes an even port for RTP and the odd one above it for
//! RTCP (RFC 3550 section 11). The pool does not track which ports are in
//! use: the kernel does. A rotating cursor spreads legs over the range, so
//! a port freed by one call is not handed straight to the next (late
//! packets of the old call would land in the new one), and a port some
//! other program holds is skipped.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// Kernel receive buffer per RTP socket: a few hundred packets, so a short
/// stall of the task does not drop audio.
const RECV_BUFFER: usize = 256 * 1024;

/// An RTP/RTCP socket pair.
#[derive(Debug)]
pub struct PortPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub port: u16,
}

/// Hands out port pairs from `[min, max]`.
#[derive(Debug)]
pub struct PortPool {
    bind_ip: IpAddr,
    first_pair: u32,
    pairs: u32,
    cursor: AtomicU32,
}

impl PortPool {
    pub fn new(bind_ip: IpAddr, min: u16, max: u16) -> PortPool {
        let first = u32::from(min).div_ceil(2);
        let last = u32::from(max).saturating_sub(1) / 2;
        let pairs = last.saturating_sub(first) + 1;
        // Start somewhere random so that a restart does not reuse the ports
        // of calls that just died with the old process.
        let start = getrandom::u32().unwrap_or(0) % pairs.max(1);
        PortPool {
            bind_ip,
            first_pair: first,
            pairs,
            cursor: AtomicU32::new(start),
        }
    }

    /// How many legs the range can hold at most.
    pub fn capacity(&self) -> u32 {
        self.pairs
    }

    /// Binds the next free pair; tries the whole range once.
    pub fn allocate(&self) -> io::Result<PortPair> {
        for _ in 0..self.pairs {
            let i = self.cursor.fetch_add(1, Ordering::Relaxed) % self.pairs;
            let port = ((self.first_pair + i) * 2) as u16;
            let Ok(rtp) = bind(SocketAddr::new(self.bind_ip, port)) else {
                continue;
            };
            let Ok(rtcp) = bind(SocketAddr::new(self.bind_ip, port + 1)) else {
                continue;
            };
            return Ok(PortPair {
                rtp: UdpSocket::from_std(rtp)?,
                rtcp: UdpSocket::from_std(rtcp)?,
                port,
            });
        }
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
            assert_eq!(pair.rtcp.local_addr().expect("addr").port(), pair.port + 1);
            held.push(pair);
        }
        let mut ports: Vec<u16> = held.iter().map(|p| p.port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 5);
        let err = pool.allocate().expect_err("range exhausted");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(held.pop());
        assert!(pool.allocate().is_ok(), "a freed pair is found again");
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
