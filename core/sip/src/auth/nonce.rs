//! Self-validating nonces and the nonce-count table.
//!
//! A nonce is 64 lower-case hex digits: the issue time in milliseconds since
//! the authenticator's epoch (8 bytes), a sequence number (8 bytes), and the
//! first 16 bytes of HMAC-SHA256(secret, time ‖ sequence). The HMAC lets a
//! nonce be checked without having stored it; the sequence number keys the
//! replay table and makes every challenge's nonce unique.
//!
//! The table remembers, per issued nonce, the highest nonce-count accepted so
//! far. It holds at most `max_nonces` entries: past that the oldest nonce is
//! forgotten. A nonce with a valid HMAC that the table no longer knows
//! (forgotten, expired and purged, or issued by an earlier process with the
//! same secret) is answered as **stale**, never accepted: accepting it would
//! let a captured request be replayed once its entry was pushed out. A stale
//! answer costs an honest client one extra round trip, with no prompt for a
//! password (RFC 7616 section 3.3, `stale`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AuthError;

const TAG_LEN: usize = 16;
const RAW_LEN: usize = 8 + 8 + TAG_LEN;
/// Length of an encoded nonce.
pub(super) const NONCE_LEN: usize = RAW_LEN * 2;

#[derive(Debug)]
struct Entry {
    issued: Instant,
    /// Highest nonce-count accepted; 0 until the first use (nc starts at 1).
    last_nc: u32,
}

#[derive(Debug)]
pub(super) struct Nonces {
    mac: Hmac<Sha256>,
    epoch: Instant,
    lifetime: Duration,
    max: usize,
    next_seq: u64,
    /// Keyed by sequence number, so the first entry is always the oldest.
    table: BTreeMap<u64, Entry>,
}

impl Nonces {
    pub(super) fn new(mac: Hmac<Sha256>, epoch: Instant, lifetime: Duration, max: usize) -> Nonces {
        Nonces {
            mac,
            epoch,
            lifetime,
            // With no room at all every nonce would be stale at once.
            max: max.max(1),
            next_seq: 0,
            table: BTreeMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Issues a fresh nonce and starts tracking it.
    pub(super) fn issue(&mut self, now: Instant) -> String {
        self.purge(now);
        while self.table.len() >= self.max {
            self.table.pop_first();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // The nonce encodes milliseconds, so the entry keeps the truncated
        // instant too: both ages then agree to the millisecond.
        let millis = self.millis_since_epoch(now);
        let issued = self.epoch + Duration::from_millis(millis);
        self.table.insert(seq, Entry { issued, last_nc: 0 });

        let mut raw = [0u8; RAW_LEN];
        raw[..8].copy_from_slice(&millis.to_be_bytes());
        raw[8..16].copy_from_slice(&seq.to_be_bytes());
        let tag = self.tag(&raw[..16]);
        raw[16..].copy_from_slice(&tag[..TAG_LEN]);
        hex::encode(raw)
    }

    /// Checks a nonce whose digest was already found correct, and records
    /// `nc` as used. Every way a nonce can be unusable is `Stale`, so the
    /// client retries with a fresh one; an `nc` not above the last accepted
    /// one is a `Replay`.
    pub(super) fn accept(&mut self, now: Instant, nonce: &str, nc: u32) -> Result<(), AuthError> {
        let (millis, seq) = self.decode(nonce).ok_or(AuthError::Stale)?;
        let issued = Duration::from_millis(millis);
        let age = now
            .checked_duration_since(self.epoch)
            .and_then(|since| since.checked_sub(issued))
            .ok_or(AuthError::Stale)?;
        if age > self.lifetime {
            self.table.remove(&seq);
            return Err(AuthError::Stale);
        }
        let entry = self.table.get_mut(&seq).ok_or(AuthError::Stale)?;
        if nc <= entry.last_nc {
            return Err(AuthError::Replay);
        }
        entry.last_nc = nc;
        Ok(())
    }

    /// `(millis, seq)` of a nonce this authenticator issued, or `None`.
    fn decode(&self, nonce: &str) -> Option<(u64, u64)> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let mut raw = [0u8; RAW_LEN];
        hex::decode_to_slice(nonce, &mut raw).ok()?;
        let mut mac = self.mac.clone();
        mac.update(&raw[..16]);
        // Constant time, so the tag cannot be guessed byte by byte.
        mac.verify_truncated_left(&raw[16..]).ok()?;
        let millis = u64::from_be_bytes(raw[..8].try_into().ok()?);
        let seq = u64::from_be_bytes(raw[8..16].try_into().ok()?);
        Some((millis, seq))
    }

    fn tag(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn millis_since_epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.epoch);
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }

    /// Drops entries whose nonce has expired; they are the oldest, so they
    /// sit at the front of the table.
    fn purge(&mut self, now: Instant) {
        while let Some(entry) = self.table.first_entry() {
            if now.saturating_duration_since(entry.get().issued) > self.lifetime {
                entry.remove();
            } else {
                break;
            }
        }
    }
}
