//! `waihu-relayfloor`: what relaying RTP costs the kernel, measured on
//! minimal relays with nothing of waihu in them.
//!
//! waihu's relay engine (`core/pbx/src/call/relay.rs`) spends most of its
//! CPU in the kernel: `sendto` and `recvfrom` and `epoll_wait`. To know how
//! far tuning the engine can go, this tool measures relays that do nothing
//! but move datagrams from one socket to its partner, in the ways open to a
//! safe Rust program on Linux:
//!
//! - `epoll`: level-triggered epoll, `recvfrom`, `sendto` (waihu's engine
//!   before it connected its sockets);
//! - `connected`: the same with each socket connected to its peer and `send`
//!   (waihu's engine today);
//! - `compio`: io_uring through compio, a multishot receive per socket into
//!   the runtime's buffer pool and a `send` op per packet;
//! - `uring`: io_uring by hand, with nothing between the relay and the
//!   ring: registered files, a multishot receive per socket into a
//!   provided-buffer ring, a `send` op per packet straight from the buffer
//!   it arrived in, and one `io_uring_enter` per round that submits the
//!   round's sends and reaps the next packets (single issuer, deferred
//!   task work).
//!
//! Each relay runs on its own thread, pinned to one CPU, with the same 2 ms
//! coalescing nap after a round that carried packets as waihu's engine. A
//! generator thread on another CPU owns the far ends of every call: each of
//! its sockets sends a 172-byte RTP packet every 20 ms (G.711 at 20 ms
//! ptime), spread over the 20 ms, and counts what comes back on the partner
//! socket. The relay's CPU is its thread's CPU clock over a steady window.
//! On loopback the kernel delivers each sent packet into the receiver's
//! socket inside the sender's system call, so that work is charged to the
//! relay, as it is in `../shared/bench/relay.sh`.

use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use rustix::buffer::spare_capacity;
use rustix::event::{Timespec, epoll};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

mod uring;

/// An RTP header and 20 ms of G.711.
const PACKET: usize = 172;
/// Packet interval of each stream.
const PTIME: Duration = Duration::from_millis(20);

#[derive(Parser, Debug)]
#[command(
    about = "CPU per relayed RTP packet of minimal relays: the floor under waihu's relay engine"
)]
struct Args {
    /// Concurrent calls (two streams each way per call), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "200,400")]
    calls: Vec<usize>,
    /// Relays to measure, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "epoll,connected,compio,uring"
    )]
    modes: Vec<Mode>,
    /// Runs of each cell; the modes alternate within a run.
    #[arg(long, default_value_t = 2)]
    runs: usize,
    /// Seconds of traffic before the measured window.
    #[arg(long, default_value_t = 3)]
    warm: u64,
    /// Seconds in the measured window.
    #[arg(long, default_value_t = 10)]
    window: u64,
    /// Nap after a round that carried packets, in milliseconds.
    #[arg(long, default_value_t = 2)]
    nap_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// epoll, recvfrom, sendto.
    Epoll,
    /// epoll, connected sockets, recv and send.
    Connected,
    /// io_uring through compio: multishot receive, send ops.
    Compio,
    /// io_uring by hand: registered files, multishot receive into a
    /// buffer ring, send ops, one enter per round.
    Uring,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Epoll => "epoll + sendto",
            Mode::Connected => "epoll + connected send",
            Mode::Compio => "compio (io_uring)",
            Mode::Uring => "io_uring by hand",
        })
    }
}

/// What the relay thread publishes after every round.
#[derive(Debug, Default)]
struct Progress {
    relayed: AtomicU64,
    cpu_ns: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

impl Progress {
    fn publish(&self, relayed: u64) {
        self.relayed.fetch_add(relayed, Ordering::Relaxed);
        self.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Cell {
    mode: Mode,
    calls: usize,
    packets_per_s: f64,
    cpu_share: f64,
    loss: f64,
    errors: u64,
}

impl Cell {
    fn us_per_packet(&self) -> f64 {
        self.cpu_share * 1e6 / self.packets_per_s.max(1.0)
    }
    /// Calls one core would carry at this cost per packet (a call is two
    /// streams of 50 packets a second). With no loss it is the number of
    /// calls over the share of a core they took.
    fn calls_per_core(&self) -> f64 {
        let per_call = 2.0 * 1e3 / PTIME.as_millis() as f64;
        1e6 / (self.us_per_packet() * per_call).max(1e-6)
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "relay pinned to CPU {}, generator to CPU 0; {}s warm-up, {}s window, {} ms nap",
        cpus - 1,
        args.warm,
        args.window,
        args.nap_ms
    );
    let mut cells = Vec::new();
    for run in 1..=args.runs {
        for &calls in &args.calls {
            for &mode in &args.modes {
                let cell = measure(&args, mode, calls, cpus)
                    .with_context(|| format!("{mode}, {calls} calls"))?;
                println!(
                    "run {run}: {mode}, {calls} calls: {:.2} µs/packet, {:.0} calls per core, loss {:.3}%, errors {}",
                    cell.us_per_packet(),
                    cell.calls_per_core(),
                    cell.loss * 100.0,
                    cell.errors
                );
                cells.push(cell);
            }
        }
    }
    println!();
    println!("| relay | calls | relay CPU µs per packet | calls per core | worst loss | errors |");
    println!("|---|---|---|---|---|---|");
    for &calls in &args.calls {
        for &mode in &args.modes {
            let runs: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.mode == mode && c.calls == calls)
                .collect();
            let n = runs.len() as f64;
            let us = runs.iter().map(|c| c.us_per_packet()).sum::<f64>() / n;
            let per_core = runs.iter().map(|c| c.calls_per_core()).sum::<f64>() / n;
            let loss = runs.iter().map(|c| c.loss).fold(0.0, f64::max);
            let errors: u64 = runs.iter().map(|c| c.errors).sum();
            println!(
                "| {mode} | {calls} | {us:.2} | {per_core:.0} | {:.3}% | {errors} |",
                loss * 100.0
            );
        }
    }
    Ok(())
}

fn measure(args: &Args, mode: Mode, calls: usize, cpus: usize) -> Result<Cell> {
    let streams = calls * 2;
    let relay = bind(streams)?;
    let far = bind(streams)?;
    let peers: Vec<SocketAddr> = far
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<std::io::Result<_>>()?;
    for (socket, relay_end) in far.iter().zip(&relay) {
        socket.connect(relay_end.local_addr()?)?;
    }
    if mode != Mode::Epoll {
        for (socket, peer) in relay.iter().zip(&peers) {
            socket.connect(peer)?;
        }
    }
    let progress = Arc::new(Progress::default());
    let nap = Duration::from_millis(args.nap_ms);
    let relay_thread = {
        let progress = progress.clone();
        spawn_pinned("relay", cpus - 1, move || match mode {
            Mode::Epoll | Mode::Connected => relay_epoll(relay, peers, mode, nap, &progress),
            Mode::Compio => relay_compio(relay, nap, &progress),
            Mode::Uring => uring::relay(relay, nap, &progress),
        })?
    };
    let sending = Duration::from_secs(args.warm + args.window) + Duration::from_millis(500);
    let generator = spawn_pinned("generator", 0, move || generate(far, sending))?;

    std::thread::sleep(Duration::from_secs(args.warm));
    let (relayed0, cpu0, t0) = snapshot(&progress);
    std::thread::sleep(Duration::from_secs(args.window));
    let (relayed1, cpu1, t1) = snapshot(&progress);
    let (sent, received) = join(generator)??;
    progress.stop.store(true, Ordering::Relaxed);
    join(relay_thread)??;

    let secs = (t1 - t0).as_secs_f64();
    Ok(Cell {
        mode,
        calls,
        packets_per_s: (relayed1 - relayed0) as f64 / secs,
        cpu_share: (cpu1 - cpu0) as f64 / 1e9 / secs,
        loss: 1.0 - received as f64 / sent.max(1) as f64,
        errors: progress.errors.load(Ordering::Relaxed),
    })
}

fn snapshot(progress: &Progress) -> (u64, u64, Instant) {
    (
        progress.relayed.load(Ordering::Relaxed),
        progress.cpu_ns.load(Ordering::Relaxed),
        Instant::now(),
    )
}

fn join<T>(handle: JoinHandle<T>) -> Result<T> {
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("a measuring thread panicked"))
}

fn bind(n: usize) -> Result<Vec<UdpSocket>> {
    (0..n)
        .map(|_| {
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        })
        .collect::<std::io::Result<_>>()
        .context("binding UDP sockets on 127.0.0.1 (is the open-files limit high enough?)")
}

fn spawn_pinned<T: Send + 'static>(
    name: &str,
    cpu: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>> {
    Ok(std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let mut set = rustix::thread::CpuSet::new();
            set.set(cpu);
            // Unpinned is still a measurement, only a noisier one.
            let _ = rustix::thread::sched_setaffinity(None, &set);
            work()
        })?)
}

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// A level-triggered epoll watching every socket for input, keyed by index.
fn watch(sockets: &[UdpSocket]) -> Result<std::os::fd::OwnedFd> {
    let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    for (k, socket) in sockets.iter().enumerate() {
        epoll::add(
            &poll,
            socket,
            epoll::EventData::new_u64(k as u64),
            epoll::EventFlags::IN,
        )?;
    }
    Ok(poll)
}

/// Socket `k` relays to socket `k ^ 1`: the two legs of call `k / 2`.
fn relay_epoll(
    sockets: Vec<UdpSocket>,
    peers: Vec<SocketAddr>,
    mode: Mode,
    nap: Duration,
    progress: &Progress,
) -> Result<()> {
    let poll = watch(&sockets)?;
    let mut events: Vec<epoll::Event> = Vec::with_capacity(4096);
    let mut buf = [0u8; 2048];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    while !progress.stop.load(Ordering::Relaxed) {
        events.clear();
        match epoll::wait(&poll, spare_capacity(&mut events), Some(&timeout)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let mut relayed = 0;
        for event in &events {
            let k = event.data.u64() as usize;
            let len = match rustix::net::recv(&sockets[k], &mut buf[..], RecvFlags::empty()) {
                Ok((len, _)) => len,
                Err(Errno::AGAIN) => continue,
                Err(_) => {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let to = &sockets[k ^ 1];
            let sent = if mode == Mode::Epoll {
                rustix::net::sendto(to, &buf[..len], SendFlags::empty(), &peers[k ^ 1])
            } else {
                rustix::net::send(to, &buf[..len], SendFlags::empty())
            };
            match sent {
                Ok(_) => relayed += 1,
                Err(_) => {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        progress.publish(relayed);
        if relayed > 0 {
            std::thread::sleep(nap);
        }
    }
    Ok(())
}

/// Socket `k` relays to `k ^ 1`, as above, through io_uring.
fn relay_compio(sockets: Vec<UdpSocket>, nap: Duration, progress: &Progress) -> Result<()> {
    use std::cell::Cell as Counter;
    use std::rc::Rc;

    use futures_util::StreamExt;

    let mut proactor = compio::driver::ProactorBuilder::new();
    proactor
        .capacity(4096)
        .single_issuer(true)
        .defer_taskrun(true)
        .buffer_pool_size(std::num::NonZero::new(16384).context("pool size")?)
        .buffer_pool_buffer_len(512);
    let runtime = compio::runtime::RuntimeBuilder::new()
        .with_proactor(proactor)
        .build()
        .context("io_uring runtime")?;
    let relayed = Rc::new(Counter::new(0u64));
    let errors = Rc::new(Counter::new(0u64));
    runtime.enter(|| -> Result<()> {
        let sockets: Vec<Rc<compio_net::UdpSocket>> = sockets
            .into_iter()
            .map(|s| compio_net::UdpSocket::from_std(s).map(Rc::new))
            .collect::<std::io::Result<_>>()?;
        for k in 0..sockets.len() {
            let (from, to) = (sockets[k].clone(), sockets[k ^ 1].clone());
            let (relayed, errors) = (relayed.clone(), errors.clone());
            compio::runtime::spawn(async move {
                // A multishot receive ends on an error (the pool ran dry,
                // say); it is armed again.
                loop {
                    let mut packets = std::pin::pin!(from.recv_multi(0));
                    while let Some(packet) = packets.next().await {
                        let Ok(packet) = packet else {
                            errors.set(errors.get() + 1);
                            continue;
                        };
                        match to.send(packet).await.0 {
                            Ok(_) => relayed.set(relayed.get() + 1),
                            Err(_) => errors.set(errors.get() + 1),
                        }
                    }
                }
            })
            .detach();
        }
        while !progress.stop.load(Ordering::Relaxed) {
            let more = runtime.run();
            runtime.poll_with(Some(if more {
                Duration::ZERO
            } else {
                Duration::from_millis(100)
            }));
            let carried = relayed.replace(0);
            progress
                .errors
                .fetch_add(errors.replace(0), Ordering::Relaxed);
            progress.publish(carried);
            if carried > 0 {
                std::thread::sleep(nap);
            }
        }
        Ok(())
    })
}

/// Sends one packet per socket every 20 ms, the sockets spread over 20
/// one-millisecond slots, for `sending`, then reads what is still coming
/// for half a second. Returns packets sent and packets received on the
/// partner socket of their sender.
fn generate(sockets: Vec<UdpSocket>, sending: Duration) -> Result<(u64, u64)> {
    let poll = watch(&sockets)?;
    let slots = PTIME.as_millis() as usize;
    let mut packet = [0u8; PACKET];
    packet[0] = 0x80; // RTP version 2, PCMU
    let mut events: Vec<epoll::Event> = Vec::with_capacity(4096);
    let mut buf = [0u8; 2048];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    let end = start + sending + Duration::from_millis(500);
    let mut tick = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let due = start + Duration::from_millis(tick);
        if now >= due {
            if now < start + sending {
                let slot = (tick % slots as u64) as usize;
                for (k, socket) in sockets.iter().enumerate().skip(slot).step_by(slots) {
                    packet[8..12].copy_from_slice(&(k as u32).to_be_bytes());
                    if rustix::net::send(socket, &packet, SendFlags::empty()).is_ok() {
                        sent += 1;
                    }
                }
            }
            tick += 1;
            continue;
        }
        let wait = due - now;
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: wait.subsec_nanos().into(),
        };
        events.clear();
        match epoll::wait(&poll, spare_capacity(&mut events), Some(&timeout)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        for event in &events {
            let k = event.data.u64() as usize;
            while let Ok((len, _)) =
                rustix::net::recv(&sockets[k], &mut buf[..], RecvFlags::empty())
            {
                // Only a packet its partner sent counts.
                if len == PACKET && buf[8..12] == ((k ^ 1) as u32).to_be_bytes() {
                    received += 1;
                }
            }
        }
    }
    Ok((sent, received))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_per_core_counts_two_streams_of_fifty_packets_a_second_per_call() {
        // 400 calls relay 40,000 packets a second; at half a core that is
        // 12.5 µs a packet, and a whole core carries 800 calls.
        let cell = Cell {
            mode: Mode::Connected,
            calls: 400,
            packets_per_s: 40_000.0,
            cpu_share: 0.5,
            loss: 0.0,
            errors: 0,
        };
        assert!((cell.us_per_packet() - 12.5).abs() < 1e-9);
        assert!((cell.calls_per_core() - 800.0).abs() < 1e-6);
    }
}
