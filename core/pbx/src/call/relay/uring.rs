//! The relay engine's io_uring thread: the same bridges as the epoll
//! thread in the parent module, with fewer trips into the kernel.
//!
//! Each socket of a parked bridge is registered with the ring (no file
//! lookup per operation) and has one multishot `recvmsg` armed: the
//! kernel receives every datagram into a buffer of a ring this thread
//! provides and posts a completion naming it. A packet to relay goes out
//! as a `send` from that same buffer, which is given back to the ring when
//! the send completes. A round is one `io_uring_enter` that submits the
//! previous round's sends and collects the next packets, then the same
//! [`COALESCE`] nap as the epoll thread: per packet, no system call at all
//! once a leg's socket is connected (`tools/relayfloor` measures what
//! that saves against epoll).
//!
//! A bridge goes back to its call task in two steps: its receives are
//! cancelled, and only when the last of their completions is in (no
//! datagram can land in our buffers any more) are the sockets handed over.
//!
//! Unsafe code is allowed in this module alone: the buffer ring is memory
//! the kernel writes into, and every submission points at it.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use tracing::{debug, warn};

use super::{
    Bridge, COALESCE, Command, HOUSEKEEPING, Why, after_read, finish, housekeeping, new_bridge,
};

/// Buffers in each thread's ring (a power of two, at most 32768). A round
/// holds a buffer per packet it relays until the send completes: 4096 is
/// two rounds of 1,000 bridges.
const BUFFERS: u16 = 4096;
/// Bytes per buffer: the kernel's header (16), the source address (28)
/// and the datagram. An Ethernet MTU's worth; a longer datagram is
/// dropped as truncated.
const BUF_LEN: usize = 1600;
const GROUP: u16 = 0;
/// Submission queue entries; the completion queue is sized for a round of
/// every socket of many bridges.
const SQ_ENTRIES: u32 = 4096;
const CQ_ENTRIES: u32 = 65536;
/// Entries of the registered file table: a bridge in slot `n` has its
/// sockets at `2n` and `2n + 1`, which spares the kernel a file lookup
/// (and its reference count) per operation. Bridges in slots beyond it
/// name their sockets by descriptor.
const FILES: u32 = 16384;

/// User data: a send (low 16 bits its buffer), a receive, the wake-up
/// poll, or an entry whose completion means nothing (a cancel).
const SEND: u64 = 1 << 63;
const WAKE: u64 = 1 << 62;
const IGNORE: u64 = 1 << 61;
/// Slot (24 bits), side (1 bit) and the low bits of the bridge's id, so a
/// late completion is never taken for a newer bridge in the same slot.
const SLOT_SHIFT: u32 = 16;
const SIDE_SHIFT: u32 = 40;
const GEN_SHIFT: u32 = 41;
const GEN_MASK: u64 = (1 << 19) - 1;
const SLOT_MASK: u64 = (1 << 24) - 1;
/// Errors in a row on one socket's receive before the bridge goes back.
const MAX_ERRORS: u32 = 8;

const ETIME: i32 = 62;
const EINTR: i32 = 4;
const EBUSY: i32 = 16;
const ENOBUFS: i32 = 105;
const ECANCELED: i32 = 125;

fn key(slot: usize, side: usize, id: u64) -> u64 {
    ((id & GEN_MASK) << GEN_SHIFT) | ((side as u64) << SIDE_SHIFT) | ((slot as u64) << SLOT_SHIFT)
}

/// The registered file table's index of a bridge's socket.
fn file(slot: usize, side: usize) -> u32 {
    u32::try_from(slot * 2 + side).unwrap_or(u32::MAX)
}

fn unkey(data: u64) -> (usize, usize, u64) {
    (
        ((data >> SLOT_SHIFT) & SLOT_MASK) as usize,
        ((data >> SIDE_SHIFT) & 1) as usize,
        (data >> GEN_SHIFT) & GEN_MASK,
    )
}

/// A bridge and what this thread tracks of its receives.
struct Slot {
    bridge: Bridge,
    /// Whether each socket's multishot receive is (believed) armed.
    armed: [bool; 2],
    /// Receive errors in a row per socket.
    errors: [u32; 2],
    /// Set once the bridge is on its way back: its receives are cancelled
    /// and it goes when neither is armed.
    closing: Option<Why>,
    /// Whether its sockets are in the registered file table.
    fixed: bool,
}

impl Slot {
    fn is(&self, generation: u64) -> bool {
        self.bridge.id & GEN_MASK == generation
    }
}

/// The provided-buffer ring: entries the kernel takes buffers from, and
/// the buffers. Lives as long as the worker; the io_uring instance that
/// uses it is dropped first (it is declared first in [`Worker`]).
struct Buffers {
    entries: *mut types::BufRingEntry,
    layout: std::alloc::Layout,
    storage: *mut u8,
    storage_layout: std::alloc::Layout,
    tail: u16,
}

impl Buffers {
    fn new() -> io::Result<Buffers> {
        let bad = |_| io::Error::other("buffer ring layout");
        let layout =
            std::alloc::Layout::from_size_align(usize::from(BUFFERS) * 16, 4096).map_err(bad)?;
        let storage_layout =
            std::alloc::Layout::from_size_align(usize::from(BUFFERS) * BUF_LEN, 64).map_err(bad)?;
        // SAFETY: both layouts have a non-zero size.
        let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
        let storage = unsafe { std::alloc::alloc_zeroed(storage_layout) };
        if entries.is_null() || storage.is_null() {
            // SAFETY: freed only if allocated, with its own layout.
            unsafe {
                if !entries.is_null() {
                    std::alloc::dealloc(entries.cast(), layout);
                }
                if !storage.is_null() {
                    std::alloc::dealloc(storage, storage_layout);
                }
            }
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut buffers = Buffers {
            entries,
            layout,
            storage,
            storage_layout,
            tail: 0,
        };
        for bid in 0..BUFFERS {
            buffers.give(bid);
        }
        buffers.publish();
        Ok(buffers)
    }

    /// Buffer `bid`, which the kernel filled and nothing else holds.
    fn get(&mut self, bid: u16) -> &mut [u8] {
        let bid = usize::from(bid % BUFFERS);
        // SAFETY: inside the allocation; a buffer is read or written here
        // only between its completion and its return to the ring.
        unsafe { std::slice::from_raw_parts_mut(self.storage.add(bid * BUF_LEN), BUF_LEN) }
    }

    /// Hands buffer `bid` back to the kernel (seen at the next publish).
    fn give(&mut self, bid: u16) {
        let bid = bid % BUFFERS;
        // SAFETY: the entry index is masked into the ring; the kernel only
        // reads entries below the published tail.
        unsafe {
            let entry = &mut *self.entries.add(usize::from(self.tail & (BUFFERS - 1)));
            entry.set_addr(self.storage.add(usize::from(bid) * BUF_LEN) as u64);
            entry.set_len(BUF_LEN as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field of the ring's first entry, shared with the
        // kernel, which reads it atomically.
        unsafe {
            (*types::BufRingEntry::tail(self.entries).cast::<AtomicU16>())
                .store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these layouts; the ring that
        // used them is gone (dropped before this, see `Worker`).
        unsafe {
            std::alloc::dealloc(self.entries.cast(), self.layout);
            std::alloc::dealloc(self.storage, self.storage_layout);
        }
    }
}

/// One engine thread on io_uring.
pub(super) struct Worker {
    ring: IoUring,
    buffers: Buffers,
    /// The `recvmsg` template of every receive: room for an IPv6 source
    /// address, no control data. Boxed: the kernel reads it through a
    /// pointer.
    msghdr: Box<libc::msghdr>,
    bridges: Arc<AtomicUsize>,
    wake: OwnedFd,
    commands: mpsc::Receiver<Command>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    ids: HashMap<u64, usize>,
    done: Vec<(u64, i32, u32)>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("uring::Worker")
            .field("bridges", &self.ids.len())
            .finish_non_exhaustive()
    }
}

/// Whether this host gives the engine what it needs of io_uring (a ring
/// with its setup flags, registered files and a buffer ring): a ring is
/// made and dropped.
pub(super) fn available() -> io::Result<()> {
    Worker::ring().map(drop)
}

impl Worker {
    /// A ring for the calling thread (the only one that may submit to it).
    /// On failure the wake-up and the commands come back with the error.
    pub(super) fn new(
        bridges: Arc<AtomicUsize>,
        wake: OwnedFd,
        commands: mpsc::Receiver<Command>,
    ) -> Result<Worker, (io::Error, OwnedFd, mpsc::Receiver<Command>)> {
        match Self::ring() {
            Ok((ring, buffers)) => Ok(Self::with(ring, buffers, bridges, wake, commands)),
            Err(e) => Err((e, wake, commands)),
        }
    }

    fn ring() -> io::Result<(IoUring, Buffers)> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(CQ_ENTRIES)
            .build(SQ_ENTRIES)?;
        ring.submitter().register_files_sparse(FILES)?;
        let buffers = Buffers::new()?;
        // SAFETY: the entries stay valid until the ring is dropped, which
        // happens before `buffers` is (field order in `Worker`).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                buffers.entries as u64,
                BUFFERS,
                GROUP,
                0,
            )?;
        }
        Ok((ring, buffers))
    }

    fn with(
        ring: IoUring,
        buffers: Buffers,
        bridges: Arc<AtomicUsize>,
        wake: OwnedFd,
        commands: mpsc::Receiver<Command>,
    ) -> Worker {
        // SAFETY: a zeroed msghdr is a valid empty one.
        let mut msghdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msghdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        let mut worker = Worker {
            ring,
            buffers,
            msghdr,
            bridges,
            wake,
            commands,
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            done: Vec::with_capacity(4096),
        };
        worker.arm_wake();
        worker
    }

    pub(super) fn run(mut self) {
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        loop {
            let wait = next_housekeeping.saturating_duration_since(Instant::now());
            let timeout = types::Timespec::from(wait);
            let args = types::SubmitArgs::new().timespec(&timeout);
            if let Err(e) = self.ring.submitter().submit_with_args(1, &args)
                && !matches!(e.raw_os_error(), Some(ETIME | EINTR | EBUSY))
            {
                warn!(error = %e, "relay engine: io_uring_enter failed");
                std::thread::sleep(HOUSEKEEPING);
            }
            let now = Instant::now();
            self.done.clear();
            self.done.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let mut carried = false;
            let mut commands = false;
            for i in 0..self.done.len() {
                let (data, res, flags) = self.done[i];
                if data & SEND != 0 {
                    self.sent(data, res);
                } else if data & WAKE != 0 {
                    commands = true;
                    if !cqueue::more(flags) {
                        self.arm_wake();
                    }
                } else if data & IGNORE == 0 {
                    carried |= self.received(data, res, flags, now);
                }
            }
            self.buffers.publish();
            if commands {
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(&self.wake, &mut buf);
                self.commands(now);
            }
            if now >= next_housekeeping {
                let due = housekeeping(
                    self.slots
                        .iter_mut()
                        .enumerate()
                        .filter_map(|(n, s)| s.as_mut().map(|s| (n, &mut s.bridge))),
                    now,
                );
                for slot in due {
                    self.give_back(slot, Why::MediaTimeout);
                }
                next_housekeeping = now + HOUSEKEEPING;
            }
            if carried {
                // The round's sends go now, not after the nap.
                if let Err(e) = self.ring.submit() {
                    debug!(error = %e, "relay engine: submit failed");
                }
                std::thread::sleep(COALESCE);
            }
        }
    }

    fn push(&mut self, entry: &squeue::Entry) {
        // SAFETY: every entry points into memory that outlives it: the
        // buffer ring, a buffer held until its send completes, `msghdr`.
        while unsafe { self.ring.submission().push(entry) }.is_err() {
            if let Err(e) = self.ring.submit() {
                warn!(error = %e, "relay engine: submission queue stuck");
                return;
            }
        }
    }

    /// Watches the wake-up eventfd (commands waiting), multishot.
    fn arm_wake(&mut self) {
        let poll = opcode::PollAdd::new(types::Fd(self.wake.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(WAKE);
        self.push(&poll);
    }

    fn arm(&mut self, slot: usize, side: usize) {
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            return;
        };
        let data = key(slot, side, s.bridge.id);
        s.armed[side] = true;
        let msghdr = &raw const *self.msghdr;
        let receive = if s.fixed {
            opcode::RecvMsgMulti::new(types::Fixed(file(slot, side)), msghdr, GROUP).build()
        } else {
            let fd = types::Fd(s.bridge.sockets[side].as_raw_fd());
            opcode::RecvMsgMulti::new(fd, msghdr, GROUP).build()
        };
        self.push(&receive.user_data(data));
    }

    /// A receive's completion: a datagram in a buffer, or its end. True
    /// if a packet was relayed.
    fn received(&mut self, data: u64, res: i32, flags: u32, now: Instant) -> bool {
        let (slot, side, generation) = unkey(data);
        let bid = cqueue::buffer_select(flags);
        let more = cqueue::more(flags);
        let live = matches!(self.slots.get(slot), Some(Some(s)) if s.is(generation));
        if !live {
            if let Some(bid) = bid {
                self.buffers.give(bid);
            }
            return false;
        }
        let mut relayed = false;
        match bid {
            Some(bid) if res >= 0 => relayed = self.packet(slot, side, bid, res as usize, now),
            Some(bid) => self.buffers.give(bid),
            None => {}
        }
        if more {
            return relayed;
        }
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            return relayed;
        };
        s.armed[side] = false;
        if s.closing.is_some() {
            if s.armed == [false, false] {
                self.finish(slot);
            }
            return relayed;
        }
        // The multishot ended: the ring ran dry (ENOBUFS: the datagrams
        // wait in the socket), an ICMP error was reported, or the kernel
        // stopped it. Armed again, unless the socket keeps failing.
        if res < 0 && res != -ENOBUFS && res != -ECANCELED {
            s.errors[side] += 1;
            debug!(error = %io::Error::from_raw_os_error(-res), "relay engine: rtp receive failed");
            if s.errors[side] >= MAX_ERRORS {
                warn!(
                    error = %io::Error::from_raw_os_error(-res),
                    "relay engine: rtp socket keeps failing: the call takes its bridge back"
                );
                self.give_back(slot, Why::Failed);
                return relayed;
            }
        }
        self.arm(slot, side);
        relayed
    }

    /// One datagram for `side` of the bridge in `slot`, in buffer `bid`:
    /// checked by its leg and sent on from the same buffer. True if sent.
    fn packet(&mut self, slot: usize, side: usize, bid: u16, len: usize, now: Instant) -> bool {
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            self.buffers.give(bid);
            return false;
        };
        let buf = self.buffers.get(bid);
        let Ok(out) = types::RecvMsgOut::parse(&buf[..len.min(BUF_LEN)], &self.msghdr) else {
            self.buffers.give(bid);
            return false;
        };
        let src = sockaddr(out.name_data());
        let truncated = out.is_payload_truncated() || out.is_name_data_truncated();
        let payload = out.payload_data();
        let (start, plen) = (
            payload.as_ptr() as usize - buf.as_ptr() as usize,
            payload.len(),
        );
        let (Some(src), false) = (src, truncated) else {
            self.buffers.give(bid);
            return false;
        };
        s.errors[side] = 0;
        let bridge = &mut s.bridge;
        let tokio_now = tokio::time::Instant::from_std(now);
        let [a, b] = &mut bridge.legs;
        let (from, to) = if side == 0 { (a, b) } else { (b, a) };
        let heard = from.take_datagram(&buf[start..start + plen], src, tokio_now);
        let event_type = from.event_type();
        let relayable = from.take_relayable().is_some();
        let packet = &mut buf[start..start + plen];
        let dest = if relayable {
            to.route_in_place(packet, event_type)
        } else {
            None
        };
        let other = 1 - side;
        let mut queued = false;
        if let Some(dest) = dest {
            if bridge.connected[other] == Some(dest) {
                let (ptr, plen) = (packet.as_ptr(), plen as u32);
                let send = if s.fixed {
                    opcode::Send::new(types::Fixed(file(slot, other)), ptr, plen).build()
                } else {
                    let fd = types::Fd(bridge.sockets[other].as_raw_fd());
                    opcode::Send::new(fd, ptr, plen).build()
                }
                .user_data(SEND | key(slot, other, bridge.id) | u64::from(bid));
                queued = true;
                // The buffer stays out until the send completes.
                self.push(&send);
            } else if bridge.sockets[other].send_to(packet, dest).is_ok() {
                // Not connected (yet): an addressed send, at once.
                to.count_relayed();
            }
        }
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            return queued;
        };
        after_read(&mut s.bridge, side, heard);
        if !queued {
            self.buffers.give(bid);
        }
        queued || dest.is_some()
    }

    /// A send's completion: its buffer goes back to the ring.
    fn sent(&mut self, data: u64, res: i32) {
        let (slot, side, generation) = unkey(data);
        if res >= 0
            && let Some(Some(s)) = self.slots.get_mut(slot)
            && s.is(generation)
        {
            s.bridge.legs[side].count_relayed();
        }
        // A full socket buffer dropped the packet, as the network would.
        self.buffers.give(data as u16);
    }

    fn commands(&mut self, now: Instant) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add {
                    id,
                    legs,
                    sockets,
                    reply,
                } => {
                    let slot = self.free.pop().unwrap_or_else(|| {
                        self.slots.push(None);
                        self.slots.len() - 1
                    });
                    let fds = [sockets[0].as_raw_fd(), sockets[1].as_raw_fd()];
                    let fixed = file(slot, 1) < FILES
                        && self
                            .ring
                            .submitter()
                            .register_files_update(file(slot, 0), &fds)
                            .inspect_err(
                                |e| debug!(error = %e, "relay engine: sockets not registered"),
                            )
                            .is_ok();
                    self.slots[slot] = Some(Slot {
                        bridge: new_bridge(id, legs, sockets, reply, now),
                        armed: [false; 2],
                        errors: [0; 2],
                        closing: None,
                        fixed,
                    });
                    self.ids.insert(id, slot);
                    self.arm(slot, 0);
                    self.arm(slot, 1);
                }
                Command::Stop(id) => {
                    if let Some(slot) = self.ids.get(&id).copied() {
                        self.give_back(slot, Why::Asked);
                    }
                }
            }
        }
    }

    /// Starts the way back: cancels the receives; [`Worker::finish`] runs
    /// once their last completions are in.
    fn give_back(&mut self, slot: usize, why: Why) {
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            return;
        };
        if s.closing.is_some() {
            return;
        }
        s.closing = Some(why);
        let armed = s.armed;
        let id = s.bridge.id;
        if armed == [false, false] {
            self.finish(slot);
            return;
        }
        for (side, armed) in armed.into_iter().enumerate() {
            if armed {
                let cancel = opcode::AsyncCancel::new(key(slot, side, id))
                    .build()
                    .user_data(IGNORE);
                self.push(&cancel);
            }
        }
    }

    fn finish(&mut self, slot: usize) {
        let Some(s) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        // Sends of this bridge still in the queue name its sockets by
        // number: they must reach the kernel before the sockets go.
        if let Err(e) = self.ring.submit() {
            debug!(error = %e, "relay engine: submit failed");
        }
        // The table's reference would keep the sockets (and their ports)
        // open after the call closes them. Submitted operations hold
        // their own.
        if s.fixed
            && let Err(e) = self
                .ring
                .submitter()
                .register_files_update(file(slot, 0), &[-1, -1])
        {
            warn!(error = %e, "relay engine: sockets not unregistered");
        }
        self.ids.remove(&s.bridge.id);
        self.free.push(slot);
        self.bridges.fetch_sub(1, Ordering::Relaxed);
        finish(s.bridge, s.closing.unwrap_or(Why::Asked));
    }
}

/// A source address as the kernel wrote it (`sockaddr_in` or
/// `sockaddr_in6`).
fn sockaddr(raw: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes(raw.get(..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(raw.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = raw.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(raw.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = raw.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(raw.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_slot_side_and_generation_and_no_flag() {
        for (slot, side, id) in [(0, 0, 1), (7, 1, 12345), (16_777_215, 1, u64::MAX)] {
            let data = key(slot, side, id);
            assert_eq!(data & (SEND | WAKE | IGNORE), 0);
            assert_eq!(data & 0xffff, 0, "room for a buffer id");
            assert_eq!(unkey(data), (slot, side, id & GEN_MASK));
            assert_eq!(unkey(data | SEND | 4095), (slot, side, id & GEN_MASK));
        }
    }

    #[test]
    fn source_addresses_are_read_as_the_kernel_writes_them() {
        let v4: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::5]:20002".parse().unwrap();
        for addr in [v4, v6] {
            let raw = socket2::SockAddr::from(addr);
            // SAFETY: `as_ptr` points at `len` initialised bytes.
            let bytes = unsafe {
                std::slice::from_raw_parts(raw.as_ptr().cast::<u8>(), raw.len() as usize)
            };
            assert_eq!(sockaddr(bytes), Some(addr));
        }
        assert_eq!(sockaddr(&[0, 0]), None);
        assert_eq!(sockaddr(&[]), None);
    }
}
