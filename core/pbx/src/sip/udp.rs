//! UDP: one receive task per socket; sending is done by the driver.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};
use waihu_sip::{Peer, Transport};

use super::Input;
use crate::shutdown::Shutdown;

/// Larger than any UDP payload (65,507 bytes over IPv4, 65,527 over IPv6).
const RECV_BUFFER: usize = 64 * 1024;

/// Reads datagrams from one socket and hands them to the driver.
#[derive(Debug)]
pub(super) struct Receiver {
    pub socket: Arc<UdpSocket>,
    pub inputs: mpsc::Sender<Input>,
    pub max_message: usize,
}

impl Receiver {
    pub async fn run(self, mut shutdown: Shutdown) {
        let local = self.socket.local_addr().ok();
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            let received = tokio::select! {
                r = self.socket.recv_from(&mut buf) => r,
                () = shutdown.recv() => break,
            };
            let (len, addr) = match received {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep serving,
                    // but do not spin if the error persists.
                    warn!(?local, error = %e, "udp receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            if len > self.max_message {
                debug!(%addr, len, "udp datagram over sip.limits.max_message_bytes dropped");
                continue;
            }
            let peer = Peer {
                transport: Transport::Udp,
                addr,
            };
            let bytes = Bytes::copy_from_slice(&buf[..len]);
            if self
                .inputs
                .send(Input::Message {
                    peer,
                    bytes,
                    received: tokio::time::Instant::now(),
                })
                .await
                .is_err()
            {
                break; // the driver is gone
            }
        }
        debug!(?local, "udp receiver stopped");
    }
}

/// Whether a datagram may be sent to `addr`. A forged Via or Contact must
/// not turn waihu into an amplifier aimed at a broadcast or multicast group,
/// and port 0 or an unspecified address is never a real peer.
pub(super) fn sendable(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip().to_canonical() {
        IpAddr::V4(ip) => !(ip.is_broadcast() || ip.is_multicast() || ip.is_unspecified()),
        IpAddr::V6(ip) => !(ip.is_multicast() || ip.is_unspecified()),
    }
}

/// A socket the driver sends from, with its bound address.
#[derive(Clone, Debug)]
pub(super) struct Sender {
    pub local: SocketAddr,
    pub socket: Arc<UdpSocket>,
}

/// Picks the socket to send to `addr` from: the first of the same family.
// The endpoint's Transmit does not say which socket the request came in on;
// with several sockets of one family, replies leave from the first.
pub(super) fn socket_for<'a>(sockets: &'a [Sender], addr: &SocketAddr) -> Option<&'a Sender> {
    sockets.iter().find(|s| s.local.is_ipv4() == addr.is_ipv4())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ordinary_unicast_is_sendable() {
        for a in [
            "192.0.2.1:5060",
            "127.0.0.1:5060",
            "[2001:db8::1]:5060",
            "[::1]:5070",
            "10.0.0.255:5060",
        ] {
            assert!(sendable(&addr(a)), "{a}");
        }
    }

    #[test]
    fn broadcast_multicast_unspecified_and_port_zero_are_not() {
        for a in [
            "255.255.255.255:5060",
            "224.0.0.1:5060",
            "239.1.2.3:5060",
            "0.0.0.0:5060",
            "[::]:5060",
            "[ff02::1]:5060",
            "[::ffff:255.255.255.255]:5060",
            "[::ffff:224.0.0.5]:5060",
            "192.0.2.1:0",
        ] {
            assert!(!sendable(&addr(a)), "{a}");
        }
    }

    #[tokio::test]
    async fn the_socket_of_the_right_family_is_chosen() {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let local = socket.local_addr().unwrap();
        let sockets = vec![Sender { local, socket }];
        assert!(socket_for(&sockets, &addr("192.0.2.1:5060")).is_some());
        assert!(socket_for(&sockets, &addr("[2001:db8::1]:5060")).is_none());
    }
}
