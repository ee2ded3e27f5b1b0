//! RTP legs: one socket each, a shared pacer that sends every leg's 20 ms
//! packet (spread over 20 one-millisecond slots so the load is smooth), and
//! a receive task per leg that counts packets and measures latency and
//! pacing.
//!
//! Packets carry an SSRC that names the call (0xA0xxxxxx from the caller,
//! 0xB0xxxxxx from the callee) and the send time in the first 8 payload
//! bytes, so the far leg can count and time what came through the relay.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::watch;

pub const CALLER_SSRC: u32 = 0xA000_0000;
pub const CALLEE_SSRC: u32 = 0xB000_0000;
const SSRC_KIND: u32 = 0xF000_0000;
const SLOTS: usize = 20;
const PAYLOAD: usize = 160;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Counters of one leg.
#[derive(Debug, Default)]
pub struct LegStats {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// Packets from a source other than the far leg (waihu's own audio).
    pub other: AtomicU64,
    /// Callee legs: the call index seen in the caller's SSRC (+1; 0 = none yet).
    pub peer: AtomicU32,
    /// One-way latency samples, microseconds.
    pub latency_us: Mutex<Vec<u32>>,
    /// |inter-arrival - 20 ms| samples, microseconds (any packet received).
    pub pacing_us: Mutex<Vec<u32>>,
}

/// A leg's sending side, driven by the pacer.
#[derive(Debug)]
pub struct Tx {
    sock: Arc<UdpSocket>,
    dest: SocketAddr,
    ssrc: u32,
    seq: AtomicU32,
    pub active: AtomicBool,
    stats: Arc<LegStats>,
}

impl Tx {
    fn send(&self) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut pkt = [0xd5u8; 12 + PAYLOAD];
        pkt[0] = 0x80;
        pkt[1] = 8;
        pkt[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
        pkt[4..8].copy_from_slice(&(seq.wrapping_mul(160)).to_be_bytes());
        pkt[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        pkt[12..20].copy_from_slice(&now_ns().to_be_bytes());
        if self.sock.try_send_to(&pkt, self.dest).is_ok() {
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Sends one packet per active leg every 20 ms.
#[derive(Debug, Default)]
pub struct Pacer {
    slots: Mutex<Vec<Vec<Arc<Tx>>>>,
    next: AtomicU32,
}

impl Pacer {
    pub fn start() -> Arc<Pacer> {
        let pacer = Arc::new(Pacer {
            slots: Mutex::new(vec![Vec::new(); SLOTS]),
            next: AtomicU32::new(0),
        });
        let p = pacer.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut n = 0usize;
            loop {
                tick.tick().await;
                let slot = n % SLOTS;
                n += 1;
                let legs: Vec<Arc<Tx>> = match p.slots.lock() {
                    Ok(mut s) => {
                        s[slot].retain(|t| t.active.load(Ordering::Relaxed));
                        s[slot].clone()
                    }
                    Err(_) => continue,
                };
                for leg in legs {
                    leg.send();
                }
            }
        });
        pacer
    }

    pub fn add(
        &self,
        sock: Arc<UdpSocket>,
        dest: SocketAddr,
        ssrc: u32,
        stats: Arc<LegStats>,
    ) -> Arc<Tx> {
        let tx = Arc::new(Tx {
            sock,
            dest,
            ssrc,
            seq: AtomicU32::new(getrandom::u32().unwrap_or(0) & 0xffff),
            active: AtomicBool::new(true),
            stats,
        });
        let slot = self.next.fetch_add(1, Ordering::Relaxed) as usize % SLOTS;
        if let Ok(mut s) = self.slots.lock() {
            s[slot].push(tx.clone());
        }
        tx
    }
}

/// Receives on `sock` until `stop` turns true; counts packets whose SSRC
/// kind is `expect` (and for callee legs notes the caller's call index).
pub fn spawn_receiver(
    sock: Arc<UdpSocket>,
    expect: u32,
    stats: Arc<LegStats>,
    mut stop: watch::Receiver<bool>,
    pacing: bool,
) {
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut last: Option<Instant> = None;
        let mut lat = Vec::with_capacity(2048);
        let mut pace = Vec::new();
        loop {
            tokio::select! {
                r = sock.recv_from(&mut buf) => {
                    let Ok((len, _)) = r else { continue };
                    let now = Instant::now();
                    if len < 12 {
                        continue;
                    }
                    if pacing {
                        if let Some(prev) = last {
                            let gap = now.duration_since(prev).as_micros() as i64;
                            pace.push((gap - 20_000).unsigned_abs() as u32);
                        }
                        last = Some(now);
                    }
                    let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                    if ssrc & SSRC_KIND != expect || len < 20 {
                        stats.other.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    if expect == CALLER_SSRC {
                        stats.peer.store((ssrc & !SSRC_KIND) + 1, Ordering::Relaxed);
                    }
                    let sent = u64::from_be_bytes(buf[12..20].try_into().unwrap_or([0; 8]));
                    let d = now_ns().saturating_sub(sent) / 1000;
                    lat.push(d.min(u64::from(u32::MAX)) as u32);
                }
                r = stop.changed() => {
                    if r.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
        if let Ok(mut l) = stats.latency_us.lock() {
            l.extend(lat);
        }
        if let Ok(mut p) = stats.pacing_us.lock() {
            p.extend(pace);
        }
    });
}

/// The value at quantile `q` of sorted samples.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
