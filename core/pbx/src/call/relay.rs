//! The relay engine: a bridged call whose audio nobody else needs (no
//! recording, no in-band digits, no music on hold, no DTMF going out) has
//! its two legs moved here, and packets go from one RTP socket to the other
//! without waking the call's task.
//!
//! Why not a task per bridge: at 50 packets a second per direction a
//! bridge is mostly kernel work (one `recvfrom`, one `sendto`), and what
//! the runtime adds per packet costs a good share on top: tokio's
//! edge-triggered readiness needs a `recvfrom` that ends in EAGAIN after
//! every packet, a wake and poll of the task, and, at moderate load, a
//! worker thread woken from `epoll_wait` for a packet or two at a time.
//! Here each engine thread has its own level-triggered epoll (one read
//! per readiness, no EAGAIN), and after a round that carried packets it
//! naps [`COALESCE`] so that the next round carries many: relayed audio
//! waits at most that long, which a 20 ms packet stream does not notice.
//!
//! That is the epoll thread (`media.relay_io: epoll`, and the fallback).
//! By default a thread runs on io_uring where the kernel allows it (see
//! `uring`): the same rounds and naps, but the kernel receives into
//! buffers the thread provides and sends from them, and one
//! `io_uring_enter` per round replaces a `recvfrom` and a `send` per
//! packet. Both kinds share the bridges, their housekeeping and the way
//! a bridge goes back.
//!
//! The call task keeps the dialog. It takes its legs back (the sockets go
//! back to tokio) before it does anything else with the call: a SIP
//! message, an API command, a session timer, or the engine giving them
//! back because a leg's media timeout is due. See `session/lean.rs`.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::leg::{Heard, Leg};

mod uring;

/// How long an engine thread naps after a round that carried packets,
/// so that the next round finds many ready sockets instead of one.
const COALESCE: Duration = Duration::from_millis(2);
/// How often a parked bridge's RTCP and media timeouts are looked at
/// (the call task's own housekeeping interval).
const HOUSEKEEPING: Duration = Duration::from_millis(250);
/// An RTCP report every 5 s (RFC 3550's minimum interval).
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// A round that starts this long after the previous one (the thread was
/// kept off the CPU) drains each ready socket instead of reading one
/// packet: otherwise a socket that fell behind would stay behind.
const LATE: Duration = Duration::from_millis(10);
/// Packets read from one socket in one round at most when draining.
const DRAIN: usize = 64;
/// Engine threads at most, whatever the core count.
const MAX_THREADS: usize = 4;
/// The epoll key of a thread's wake-up eventfd; sockets use slot * 2 + side.
const WAKE: u64 = u64::MAX;

/// Why the engine gave a bridge back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The call task asked for it.
    Asked,
    /// A leg's media timeout is due: the call task fires it.
    MediaTimeout,
    /// A socket failed in a way the engine cannot carry on with.
    Failed,
}

/// A bridge the engine hands back: the legs with their sockets still
/// taken (the call task restores them inside the runtime).
#[derive(Debug)]
pub struct Back {
    pub legs: [Box<Leg>; 2],
    pub sockets: [StdUdpSocket; 2],
    /// Digits the caller's leg heard meanwhile, in order.
    pub digits: Vec<char>,
    pub why: Why,
}

/// A bridge in the engine, seen from its call task.
#[derive(Debug)]
pub struct Parked {
    id: u64,
    thread: usize,
    back: oneshot::Receiver<Back>,
}

impl Parked {
    /// The bridge, once the engine gives it back on its own (a media
    /// timeout). Cancel-safe.
    pub async fn returned(&mut self) -> Option<Back> {
        (&mut self.back).await.ok()
    }

    /// Asks for the bridge back and waits for it. `None` only if the
    /// engine thread is gone, and the legs with it.
    pub async fn unpark(mut self) -> Option<Back> {
        if let Some(engine) = engine() {
            engine.threads[self.thread].send(Command::Stop(self.id));
        }
        (&mut self.back).await.ok()
    }
}

/// Moves a bridge (caller's leg first) into the engine. On failure the
/// legs come back as they were, sockets restored by the caller.
pub fn park(legs: [Box<Leg>; 2], sockets: [StdUdpSocket; 2]) -> Result<Parked, Back> {
    let Some(engine) = engine() else {
        return Err(Back {
            legs,
            sockets,
            digits: Vec::new(),
            why: Why::Failed,
        });
    };
    let id = engine.next_id.fetch_add(1, Ordering::Relaxed);
    let thread = engine.least_loaded();
    let (tx, rx) = oneshot::channel();
    engine.threads[thread].send(Command::Add {
        id,
        legs,
        sockets,
        reply: tx,
    });
    Ok(Parked {
        id,
        thread,
        back: rx,
    })
}

enum Command {
    Add {
        id: u64,
        legs: [Box<Leg>; 2],
        sockets: [StdUdpSocket; 2],
        reply: oneshot::Sender<Back>,
    },
    Stop(u64),
}

struct Engine {
    threads: Vec<ThreadHandle>,
    next_id: AtomicU64,
}

impl Engine {
    /// The thread carrying the fewest bridges, counted as taken. Not round
    /// robin: a call parks again after every SIP message it handles (the
    /// caller's ACK, say), so turns would pile the lasting bridges of a
    /// steady load on one thread.
    fn least_loaded(&self) -> usize {
        let thread = self
            .threads
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| t.bridges.load(Ordering::Relaxed))
            .map_or(0, |(n, _)| n);
        self.threads[thread].bridges.fetch_add(1, Ordering::Relaxed);
        thread
    }
}

struct ThreadHandle {
    commands: mpsc::Sender<Command>,
    wake: OwnedFd,
    /// Bridges sent to this thread and not yet given back.
    bridges: Arc<AtomicUsize>,
}

impl ThreadHandle {
    fn send(&self, command: Command) {
        // A thread that died dropped its receiver: the command, and an
        // Add's reply sender with it, are dropped, which the call task
        // sees as its legs lost.
        if self.commands.send(command).is_ok() {
            let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        }
    }
}

/// The engine, started on first use; `None` if it could not start (the
/// call tasks then relay themselves, as they do for calls that need the
/// audio).
fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| match start() {
            Ok(engine) => Some(engine),
            Err(e) => {
                warn!(error = %e, "relay engine did not start: call tasks relay their bridges");
                None
            }
        })
        .as_ref()
}

/// Engine threads for a host with `cores` CPUs, at most [`MAX_THREADS`].
///
/// On io_uring, one per two cores, rounded up: a round costs about the
/// same whether it carries ten packets or a hundred (a wait, a wake-up, a
/// nap: each a trip through the scheduler, dear on a VM), so fewer threads
/// carrying more bridges each spend less per packet. On 2 cores, one
/// io_uring thread relayed 400 calls for 18% less CPU than two (1,544 to
/// 1,660 calls per core against 1,311 to 1,356, `../shared/bench/relay.sh`,
/// alternating runs), with no packet lost.
///
/// On epoll, where every packet costs its own system calls and the rounds
/// weigh less, one per core: on 2 cores, two epoll threads relayed 983 to
/// 1,034 calls per core against 917 to 943 for one (three alternating
/// pairs).
fn engine_threads(cores: usize, uring: bool) -> usize {
    let threads = if uring { cores.div_ceil(2) } else { cores };
    threads.clamp(1, MAX_THREADS)
}

fn start() -> io::Result<Engine> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // Whether io_uring can be had decides how many threads run, so it is
    // tried here first (a thread whose own ring then fails still falls
    // back to epoll).
    let uring = match *RELAY_IO.get_or_init(|| RelayIo::Auto) {
        RelayIo::Epoll => false,
        RelayIo::Auto => match uring::available() {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, "relay engine: io_uring unavailable, relaying with epoll");
                false
            }
        },
    };
    let mut threads = Vec::new();
    for n in 0..engine_threads(cores, uring) {
        let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &poll,
            &wake,
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN,
        )?;
        let (tx, rx) = mpsc::channel();
        let bridges = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            bridges: bridges.clone(),
            poll,
            wake: wake.try_clone()?,
            commands: rx,
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
        };
        std::thread::Builder::new()
            .name(format!("waihu-relay-{n}"))
            .spawn(move || run_thread(n, uring, worker))?;
        threads.push(ThreadHandle {
            commands: tx,
            wake,
            bridges,
        });
    }
    Ok(Engine {
        threads,
        next_id: AtomicU64::new(1),
    })
}

/// How the engine's threads wait for and move packets (`media.relay_io`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayIo {
    /// io_uring where the kernel allows it (it may be disabled by sysctl
    /// or a container's seccomp profile), else epoll, with a warning.
    Auto,
    /// Level-triggered epoll, a `recvfrom` and a `send` per packet.
    Epoll,
}

static RELAY_IO: OnceLock<RelayIo> = OnceLock::new();

/// Chooses the engine's I/O and starts the engine, so that its threads
/// (and `waihu_relay_uring_threads`) are there before the first bridge.
/// Later calls change nothing.
pub fn configure(io: RelayIo) {
    let _ = RELAY_IO.set(io);
    let _ = engine();
}

/// How many engine threads run on io_uring (for metrics and tests).
pub fn uring_threads() -> usize {
    URING_THREADS.load(Ordering::Relaxed)
}

static URING_THREADS: AtomicUsize = AtomicUsize::new(0);

/// An engine thread: on io_uring if asked and possible, else on epoll.
/// The ring is made here, in the thread that alone submits to it.
fn run_thread(n: usize, uring: bool, epoll: Worker) {
    if !uring {
        return epoll.run();
    }
    let Worker {
        bridges,
        poll,
        wake,
        commands,
        slots,
        free,
        ids,
    } = epoll;
    match uring::Worker::new(bridges.clone(), wake, commands) {
        Ok(worker) => {
            URING_THREADS.fetch_add(1, Ordering::Relaxed);
            if n == 0 {
                info!("relay engine on io_uring");
            }
            worker.run();
        }
        Err((e, wake, commands)) => {
            warn!(error = %e, "relay engine thread: its io_uring ring failed, relaying with epoll");
            Worker {
                bridges,
                poll,
                wake,
                commands,
                slots,
                free,
                ids,
            }
            .run();
        }
    }
}

struct Bridge {
    id: u64,
    legs: [Box<Leg>; 2],
    sockets: [StdUdpSocket; 2],
    /// The peer each socket is connected to. Once a leg's source is locked
    /// and it sends back to it, its socket is connected there: sends skip
    /// the route lookup, and packets from anyone else (which the source
    /// filter would drop) are dropped by the kernel. Undone before the
    /// sockets go back, since a new negotiation may move the peer.
    connected: [Option<SocketAddr>; 2],
    digits: Vec<char>,
    reply: oneshot::Sender<Back>,
    next_rtcp: Instant,
}

impl Bridge {
    fn connect(&mut self, side: usize, peer: SocketAddr) {
        match self.sockets[side].connect(peer) {
            Ok(()) => self.connected[side] = Some(peer),
            // Still relayed with addressed sends; not tried again.
            Err(e) => {
                debug!(error = %e, "relay engine: rtp socket not connected");
                self.connected[side] = Some(UNCONNECTABLE);
            }
        }
    }

    /// Undoes [`Bridge::connect`] before the sockets go back.
    fn disconnect(&mut self) {
        for (socket, connected) in self.sockets.iter().zip(&mut self.connected) {
            if connected.take().is_some_and(|peer| peer != UNCONNECTABLE)
                && let Err(e) = rustix::net::connect_unspec(socket)
            {
                warn!(error = %e, "relay engine: rtp socket not disconnected");
            }
        }
    }
}

/// Marks a socket [`Bridge::connect`] failed on (no peer sends there).
const UNCONNECTABLE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

struct Worker {
    /// This thread's count in [`ThreadHandle::bridges`].
    bridges: Arc<AtomicUsize>,
    poll: OwnedFd,
    wake: OwnedFd,
    commands: mpsc::Receiver<Command>,
    slots: Vec<Option<Bridge>>,
    free: Vec<usize>,
    ids: HashMap<u64, usize>,
}

impl Worker {
    fn run(mut self) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(1024);
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        let mut last_round = Instant::now();
        loop {
            let wait = next_housekeeping.saturating_duration_since(Instant::now());
            let timeout = Timespec {
                tv_sec: wait.as_secs() as _,
                tv_nsec: wait.subsec_nanos().into(),
            };
            events.clear();
            if let Err(e) = epoll::wait(&self.poll, spare_capacity(&mut events), Some(&timeout)) {
                if e != rustix::io::Errno::INTR {
                    warn!(error = %e, "relay engine: epoll_wait failed");
                    std::thread::sleep(HOUSEKEEPING);
                }
                continue;
            }
            // One clock reading per round: the filter's probation and the
            // media timeout need milliseconds, not each packet's instant.
            let now = Instant::now();
            let reads = if now.duration_since(last_round) > LATE {
                DRAIN
            } else {
                1
            };
            last_round = now;
            let mut carried = false;
            let mut commands = false;
            for event in &events {
                let key = event.data.u64();
                if key == WAKE {
                    commands = true;
                    continue;
                }
                let (slot, side) = ((key / 2) as usize, (key % 2) as usize);
                for _ in 0..reads {
                    if !self.readable(slot, side, now) {
                        break;
                    }
                    carried = true;
                }
            }
            if commands {
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(&self.wake, &mut buf);
                self.commands(now);
            }
            if now >= next_housekeeping {
                self.housekeeping(now);
                next_housekeeping = now + HOUSEKEEPING;
            }
            if carried {
                std::thread::sleep(COALESCE);
            }
        }
    }

    /// One datagram on `side` of the bridge in `slot`, relayed to the
    /// other side; false if there was none. Level-triggered: if more are
    /// queued, the next round sees the socket again, so in rounds that
    /// come on time no read has to end in EAGAIN.
    fn readable(&mut self, slot: usize, side: usize, now: Instant) -> bool {
        let Some(Some(bridge)) = self.slots.get_mut(slot) else {
            return false;
        };
        let [a, b] = &mut bridge.legs;
        let (from, to) = if side == 0 { (a, b) } else { (b, a) };
        let heard = match from.read_from(&bridge.sockets[side], tokio::time::Instant::from_std(now))
        {
            Ok(heard) => heard,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            // ICMP errors and the like: the read cleared it.
            Err(e) => {
                debug!(error = %e, "relay engine: rtp read failed");
                return false;
            }
        };
        let event_type = from.event_type();
        if let Some(packet) = from.take_relayable() {
            to.forward(
                &bridge.sockets[1 - side],
                bridge.connected[1 - side],
                packet,
                event_type,
            );
        }
        after_read(bridge, side, heard);
        true
    }

    fn commands(&mut self, now: Instant) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add {
                    id,
                    legs,
                    sockets,
                    reply,
                } => self.add(id, legs, sockets, reply, now),
                Command::Stop(id) => {
                    if let Some(slot) = self.ids.get(&id).copied() {
                        self.give_back(slot, Why::Asked);
                    }
                }
            }
        }
    }

    fn add(
        &mut self,
        id: u64,
        legs: [Box<Leg>; 2],
        sockets: [StdUdpSocket; 2],
        reply: oneshot::Sender<Back>,
        now: Instant,
    ) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let mut registered = 0;
        for (side, socket) in sockets.iter().enumerate() {
            let key = epoll::EventData::new_u64((slot * 2 + side) as u64);
            match epoll::add(&self.poll, socket, key, epoll::EventFlags::IN) {
                Ok(()) => registered += 1,
                Err(e) => {
                    warn!(error = %e, "relay engine: could not watch a bridge");
                    break;
                }
            }
        }
        self.slots[slot] = Some(new_bridge(id, legs, sockets, reply, now));
        self.ids.insert(id, slot);
        if registered < 2 {
            self.give_back(slot, Why::Failed);
        }
    }

    /// RTCP in and out, and media timeouts, for every bridge here.
    fn housekeeping(&mut self, now: Instant) {
        let bridges = self
            .slots
            .iter_mut()
            .enumerate()
            .filter_map(|(n, b)| b.as_mut().map(|b| (n, b)));
        for slot in housekeeping(bridges, now) {
            self.give_back(slot, Why::MediaTimeout);
        }
    }

    fn give_back(&mut self, slot: usize, why: Why) {
        let Some(bridge) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        for socket in &bridge.sockets {
            // Not registered (a failed add) is fine.
            let _ = epoll::delete(&self.poll, socket);
        }
        self.ids.remove(&bridge.id);
        self.free.push(slot);
        self.bridges.fetch_sub(1, Ordering::Relaxed);
        finish(bridge, why);
    }
}

fn new_bridge(
    id: u64,
    legs: [Box<Leg>; 2],
    sockets: [StdUdpSocket; 2],
    reply: oneshot::Sender<Back>,
    now: Instant,
) -> Bridge {
    Bridge {
        id,
        legs,
        sockets,
        connected: [None; 2],
        digits: Vec::new(),
        reply,
        next_rtcp: now + RTCP_INTERVAL,
    }
}

/// What follows a datagram read on `side`, however it was read and
/// relayed. The dialled party's digits mean nothing during a bridge (as
/// when the call task relays); the caller's are kept for its CDR and a
/// later read_digits. A leg whose source locked gets its socket connected.
fn after_read(bridge: &mut Bridge, side: usize, heard: Heard) {
    let from = &mut bridge.legs[side];
    if side == 0
        && let Heard::Digit(d) = heard
    {
        bridge.digits.push(d);
        while let Some(d) = from.pop_digit() {
            bridge.digits.push(d);
        }
    }
    if bridge.connected[side].is_none()
        && let Some(peer) = bridge.legs[side].symmetric_peer()
    {
        bridge.connect(side, peer);
    }
}

/// RTCP in and out, and media timeouts, for `bridges` (slot, bridge):
/// the slots whose media timeout is due.
fn housekeeping<'a>(
    bridges: impl Iterator<Item = (usize, &'a mut Bridge)>,
    now: Instant,
) -> Vec<usize> {
    let tokio_now = tokio::time::Instant::from_std(now);
    let mut due = Vec::new();
    for (slot, bridge) in bridges {
        for leg in &mut bridge.legs {
            leg.drain_rtcp(tokio_now);
        }
        if now >= bridge.next_rtcp {
            bridge.next_rtcp = now + RTCP_INTERVAL;
            for leg in &mut bridge.legs {
                leg.send_rtcp(tokio_now);
            }
        }
        if bridge.legs.iter().any(|l| l.timeout_due(tokio_now)) {
            due.push(slot);
        }
    }
    due
}

/// Hands a bridge back to its call task, its sockets as they were before
/// it parked. A call task that is gone drops the legs, and their ports.
fn finish(mut bridge: Bridge, why: Why) {
    bridge.disconnect();
    let _ = bridge.reply.send(Back {
        legs: bridge.legs,
        sockets: bridge.sockets,
        digits: bridge.digits,
        why,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> ThreadHandle {
        let (commands, _) = mpsc::channel();
        ThreadHandle {
            commands,
            wake: eventfd(0, EventfdFlags::CLOEXEC).expect("eventfd"),
            bridges: Arc::new(AtomicUsize::new(0)),
        }
    }

    #[test]
    fn engine_threads_one_per_two_cores_on_io_uring_one_per_core_on_epoll() {
        let cores = [1, 2, 3, 4, 8, 64];
        let uring: Vec<usize> = cores.map(|c| engine_threads(c, true)).to_vec();
        assert_eq!(uring, [1, 1, 2, 2, 4, MAX_THREADS]);
        let epoll: Vec<usize> = cores.map(|c| engine_threads(c, false)).to_vec();
        assert_eq!(epoll, [1, 2, 3, 4, MAX_THREADS, MAX_THREADS]);
    }

    #[test]
    fn bridges_go_to_the_thread_carrying_fewest_even_when_calls_park_twice() {
        let engine = Engine {
            threads: vec![handle(), handle()],
            next_id: AtomicU64::new(1),
        };
        // Each call parks, is given back for its ACK, and parks again: with
        // turns, every lasting bridge would land on the same thread.
        for _ in 0..10 {
            let first = engine.least_loaded();
            engine.threads[first]
                .bridges
                .fetch_sub(1, Ordering::Relaxed);
            engine.least_loaded();
        }
        let loads: Vec<usize> = engine
            .threads
            .iter()
            .map(|t| t.bridges.load(Ordering::Relaxed))
            .collect();
        assert_eq!(loads, [5, 5]);
    }
}
