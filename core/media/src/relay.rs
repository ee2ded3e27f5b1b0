//! Where a relayed leg's media may come from, and when its silence means
//! the far end is gone. Sans-IO: the caller owns the sockets and the clock.
//!
//! # RTP Bleed
//! A relay that follows whatever address last sent it RTP lets anyone who
//! can guess its port take over a call's audio: the attacker sends a few
//! packets, the relay "learns" the new source and sends the call's audio
//! there. [`SourceFilter`] learns at most once per negotiation, only early
//! (during a probation window right after the leg starts), and then holds
//! on to that source: nothing re-learns except a new offer/answer
//! ([`SourceFilter::renegotiate`]), which is authenticated signalling
//! rather than a packet anyone can forge.
//!
//! Learning at all is only for phones whose SDP cannot be right: one behind
//! NAT writes its private address (RFC 1918, RFC 6598, link-local,
//! unique-local) or none. When the SDP names an address packets can come
//! from, only that address is ever accepted, in either mode: a stranger who
//! wins the race to the port during probation must not take the call. And
//! a learned source must send [`LEARN_AFTER`] packets in a row before the
//! filter locks on it, with any other source starting the count again.
//!
//! # RTP and RTCP
//! Each needs its own filter, and running both is the caller's business.
//! The address to expect RTCP from is the RTP one with the port plus one
//! ([`default_rtcp_addr`]), unless the SDP says otherwise: `a=rtcp`
//! (RFC 3605) names another port, and `a=rtcp-mux` (RFC 5761) puts RTCP on
//! the RTP port itself, where the RTP filter already covers it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long after a leg starts (or is renegotiated) a source may be
/// learned, unless told otherwise.
pub const DEFAULT_PROBATION: Duration = Duration::from_secs(2);

/// Packets in a row a source that is not the SDP address must send before
/// it is learned.
pub const LEARN_AFTER: u8 = 3;

/// Which sources a [`SourceFilter`] will accept before it locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceMode {
    /// Only the address in the remote SDP; for trunks and anything else
    /// that is not behind NAT.
    Strict,
    /// The SDP address, or the first source seen during the probation
    /// window; for phones behind NAT, whose SDP carries a private address
    /// the packets never come from.
    Learn,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Relay it.
    Accept,
    /// Discard it, and why.
    Drop(DropReason),
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// A source is locked and this is not it.
    NotLockedSource,
    /// Strict mode, and this is not the SDP address (or the SDP gave none).
    NotSdpAddress,
    /// Learn mode, nothing learned yet, and the probation window is over.
    ProbationOver,
    /// Learn mode, but the SDP address is one packets can come from.
    SdpIsReachable,
    /// Learn mode: a candidate source, not yet sent enough in a row.
    Learning,
}

/// Per-leg source learning and locking. See the module documentation.
#[derive(Debug, Clone)]
pub struct SourceFilter {
    mode: SourceMode,
    sdp: Option<SocketAddr>,
    probation: Duration,
    window_start: Instant,
    locked: Option<SocketAddr>,
    /// A source being learned, with its packets in a row so far.
    candidate: Option<(SocketAddr, u8)>,
    accepted: u64,
    dropped: u64,
}

impl SourceFilter {
    /// A filter for a leg that starts at `now`, expecting media from the
    /// remote SDP's `sdp` address (`None` when the SDP gave none usable,
    /// such as a hold with `c=0.0.0.0`).
    pub fn new(sdp: Option<SocketAddr>, mode: SourceMode, now: Instant) -> Self {
        SourceFilter {
            mode,
            sdp,
            probation: DEFAULT_PROBATION,
            window_start: now,
            locked: None,
            candidate: None,
            accepted: 0,
            dropped: 0,
        }
    }

    /// Uses `probation` instead of [`DEFAULT_PROBATION`].
    #[must_use]
    pub fn with_probation(mut self, probation: Duration) -> Self {
        self.probation = probation;
        self
    }

    /// Decides on a packet from `src` arriving at `now`, locking on `src`
    /// when it is the first acceptable source.
    pub fn check(&mut self, src: SocketAddr, now: Instant) -> Verdict {
        let verdict = self.decide(src, now);
        match verdict {
            Verdict::Accept => {
                self.locked = Some(src);
                self.accepted += 1;
            }
            Verdict::Drop(_) => self.dropped += 1,
        }
        verdict
    }

    fn decide(&mut self, src: SocketAddr, now: Instant) -> Verdict {
        if let Some(locked) = self.locked {
            return if src == locked {
                Verdict::Accept
            } else {
                Verdict::Drop(DropReason::NotLockedSource)
            };
        }
        // The SDP address came through signalling, so it is trusted at any
        // time; only an address learned from packets is held to the window.
        if Some(src) == self.sdp {
            return Verdict::Accept;
        }
        match self.mode {
            SourceMode::Strict => Verdict::Drop(DropReason::NotSdpAddress),
            SourceMode::Learn if self.sdp.is_some_and(|a| reachable(a.ip())) => {
                Verdict::Drop(DropReason::SdpIsReachable)
            }
            SourceMode::Learn if self.in_probation(now) => {
                let count = match self.candidate {
                    Some((c, n)) if c == src => n.saturating_add(1),
                    _ => 1,
                };
                self.candidate = Some((src, count));
                if count >= LEARN_AFTER {
                    Verdict::Accept
                } else {
                    Verdict::Drop(DropReason::Learning)
                }
            }
            SourceMode::Learn => Verdict::Drop(DropReason::ProbationOver),
        }
    }

    fn in_probation(&self, now: Instant) -> bool {
        // A `now` before the window start (a caller's clocks out of step)
        // counts as inside it rather than panicking.
        now.saturating_duration_since(self.window_start) < self.probation
    }

    /// A new offer/answer (re-INVITE, UPDATE) gave the leg a new remote
    /// address: forget the lock and open a fresh probation window at `now`.
    /// The counters carry on: they describe the leg, not one negotiation.
    pub fn renegotiate(&mut self, sdp: Option<SocketAddr>, now: Instant) {
        self.sdp = sdp;
        self.window_start = now;
        self.locked = None;
        self.candidate = None;
    }

    /// The source media is locked on, once a packet has been accepted.
    /// With symmetric RTP this is also where to send the leg's media.
    pub fn locked(&self) -> Option<SocketAddr> {
        self.locked
    }

    /// Where to send media now: the locked source, or before any packet
    /// arrived, the SDP address.
    pub fn send_to(&self) -> Option<SocketAddr> {
        self.locked.or(self.sdp)
    }

    /// The address the current negotiation gave.
    pub fn sdp_addr(&self) -> Option<SocketAddr> {
        self.sdp
    }

    /// The mode the filter was made with.
    pub fn mode(&self) -> SourceMode {
        self.mode
    }

    /// Packets accepted over the leg's life.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Packets dropped over the leg's life; a jump here during a call is
    /// what an RTP Bleed attempt looks like.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Whether packets can come from `ip` itself, as opposed to an address
/// that only means something inside the sender's own network.
pub fn reachable(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let cgnat = a == 100 && (64..128).contains(&b);
            !(v4.is_private() || v4.is_link_local() || v4.is_unspecified() || cgnat)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            !(unique_local || link_local || v6.is_unspecified())
        }
    }
}

/// The address to expect RTCP from when the SDP has neither `a=rtcp` nor
/// `a=rtcp-mux`: the RTP port plus one. `None` for RTP on port 65535,
/// which leaves no room for it.
pub fn default_rtcp_addr(rtp: SocketAddr) -> Option<SocketAddr> {
    let port = rtp.port().checked_add(1)?;
    Some(SocketAddr::new(rtp.ip(), port))
}

/// Notices a leg whose media stopped: the far end crashed, lost its
/// network, or hung up without a BYE that reached us.
///
/// Feed it the packets a [`SourceFilter`] accepted, not every packet: a
/// stranger's spray must not keep a dead call alive.
#[derive(Debug, Clone)]
pub struct MediaTimeout {
    timeout: Duration,
    last: Instant,
    suspended: bool,
    fired: bool,
}

impl MediaTimeout {
    /// Starts watching at `now`, as if a packet had just arrived, so a leg
    /// that never sends anything times out too.
    pub fn new(timeout: Duration, now: Instant) -> Self {
        MediaTimeout {
            timeout,
            last: now,
            suspended: false,
            fired: false,
        }
    }

    /// An accepted packet arrived at `now`. Media coming back after the
    /// timeout fired re-arms it.
    pub fn on_packet(&mut self, now: Instant) {
        // Packets handed in out of order must not move the deadline back.
        self.last = self.last.max(now);
        self.fired = false;
    }

    /// When [`MediaTimeout::check`] should next be called: `None` while
    /// suspended, after it fired, or if the deadline is beyond what an
    /// `Instant` can hold.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.suspended || self.fired {
            return None;
        }
        self.last.checked_add(self.timeout)
    }

    /// True exactly once, the first time it is called at or after the
    /// deadline with no packet since.
    pub fn check(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                self.fired = true;
                true
            }
            _ => false,
        }
    }

    /// The leg went on hold (sendonly, recvonly, inactive): silence from
    /// the far end is expected, so stop watching.
    pub fn suspend(&mut self) {
        self.suspended = true;
    }

    /// The leg came off hold at `now`: a full timeout from now.
    pub fn resume(&mut self, now: Instant) {
        self.suspended = false;
        self.fired = false;
        self.last = now;
    }

    /// Whether the leg is on hold.
    pub fn is_suspended(&self) -> bool {
        self.suspended
    }
}
