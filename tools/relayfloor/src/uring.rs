//! The `uring` relay: io_uring with nothing between the relay and the
//! ring. Unsafe code is allowed here alone: the provided-buffer ring is
//! memory shared with the kernel, and every submission entry points at it.
#![allow(unsafe_code)]

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use io_uring::{IoUring, cqueue, opcode, squeue, types};

use crate::Progress;

/// Socket `k` relays to `k ^ 1`, as above, through a ring set up here.
pub(crate) fn relay(sockets: Vec<UdpSocket>, nap: Duration, progress: &Progress) -> Result<()> {
    /// Buffers in the provided-buffer ring (a power of two).
    const BUFFERS: u16 = 8192;
    const BUF_LEN: usize = 2048;
    const GROUP: u16 = 0;
    /// Set in the user data of a send; the low 16 bits are its buffer.
    const SEND: u64 = 1 << 63;

    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(65536)
        .build(4096)
        .context("io_uring setup")?;
    let fds: Vec<i32> = sockets.iter().map(AsRawFd::as_raw_fd).collect();
    ring.submitter()
        .register_files(&fds)
        .context("registering the sockets")?;

    // The buffer ring: page-aligned entries the kernel reads, and the
    // buffers they point to. Both live until the function returns, after
    // the ring (dropped first: declared later) is gone.
    let layout = std::alloc::Layout::from_size_align(usize::from(BUFFERS) * 16, 4096)?;
    // SAFETY: a non-zero size; freed at the end of the function.
    let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
    anyhow::ensure!(!entries.is_null(), "allocating the buffer ring");
    let mut storage = vec![0u8; usize::from(BUFFERS) * BUF_LEN].into_boxed_slice();
    let buffers = storage.as_mut_ptr();
    let mask = BUFFERS - 1;
    let mut tail: u16 = 0;
    // SAFETY (both closures): `entries` holds BUFFERS entries and `buffers`
    // BUFFERS * BUF_LEN bytes; a buffer is handed to the kernel only when
    // nothing of ours reads it.
    let give = |tail: &mut u16, bid: u16| unsafe {
        let entry = &mut *entries.add(usize::from(*tail & mask));
        entry.set_addr(buffers.add(usize::from(bid) * BUF_LEN) as u64);
        entry.set_len(BUF_LEN as u32);
        entry.set_bid(bid);
        *tail = tail.wrapping_add(1);
    };
    let publish = |tail: u16| unsafe {
        (*types::BufRingEntry::tail(entries).cast::<AtomicU16>()).store(tail, Ordering::Release);
    };
    for bid in 0..BUFFERS {
        give(&mut tail, bid);
    }
    publish(tail);
    // SAFETY: the entries stay valid until the ring is dropped (below).
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(entries as u64, BUFFERS, GROUP, 0)
            .context("registering the buffer ring")?;
    }

    let receive = |k: usize| {
        opcode::RecvMulti::new(types::Fixed(k as u32), GROUP)
            .build()
            .user_data(k as u64)
    };
    // Pushes an entry, submitting first if the queue is full.
    let push = |ring: &mut IoUring, entry: squeue::Entry| -> Result<()> {
        // SAFETY: receives point into the buffer ring, sends into a buffer
        // the kernel filled and that is not given back until they complete.
        while unsafe { ring.submission().push(&entry) }.is_err() {
            ring.submit()?;
        }
        Ok(())
    };
    let result = (|| -> Result<()> {
        for k in 0..sockets.len() {
            push(&mut ring, receive(k))?;
        }
        let timeout = types::Timespec::new().nsec(100_000_000);
        let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(8192);
        while !progress.stop.load(Ordering::Relaxed) {
            let args = types::SubmitArgs::new().timespec(&timeout);
            match ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(62 | 4 | 16)) => {} // ETIME, EINTR, EBUSY
                Err(e) => return Err(e.into()),
            }
            done.clear();
            done.extend(
                ring.completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let mut relayed = 0;
            for &(data, res, flags) in &done {
                if data & SEND != 0 {
                    if res < 0 {
                        progress.errors.fetch_add(1, Ordering::Relaxed);
                    } else {
                        relayed += 1;
                    }
                    give(&mut tail, data as u16);
                    continue;
                }
                let k = data as usize;
                if !cqueue::more(flags) {
                    push(&mut ring, receive(k))?;
                }
                if res < 0 {
                    // ENOBUFS: the ring ran dry; armed again above.
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Some(bid) = cqueue::buffer_select(flags) else {
                    continue;
                };
                // SAFETY: the kernel wrote `res` bytes into buffer `bid`.
                let packet = unsafe { buffers.add(usize::from(bid) * BUF_LEN) };
                let send = opcode::Send::new(types::Fixed((k ^ 1) as u32), packet, res as u32)
                    .build()
                    .user_data(SEND | u64::from(bid));
                push(&mut ring, send)?;
            }
            publish(tail);
            progress.publish(relayed);
            if !done.is_empty() {
                ring.submit()?;
                std::thread::sleep(nap);
            }
        }
        Ok(())
    })();
    drop(ring);
    drop(storage);
    // SAFETY: allocated above with this layout; the ring that used it is gone.
    unsafe { std::alloc::dealloc(entries.cast(), layout) };
    drop(sockets);
    result
}
