//! The abandon window: live answers and abandons over the last
//! `abandon_window_ms` (30 days by default), kept as counts per bucket.
//!
//! The window is cut into about [`BUCKETS`] buckets (one hour each for 30
//! days, two minutes each for 24 hours), and only buckets that saw
//! something are kept, so the state stays small whatever the traffic. A
//! bucket leaves the window once its end is more than the window ago:
//! an abandon is forgotten between one window and one window plus one
//! bucket after it happened, never early.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::acd::Ms;

/// How many buckets a window is cut into.
pub(crate) const BUCKETS: i64 = 720;

/// The shortest bucket, so a short test window is not cut into slivers.
const MIN_BUCKET_MS: Ms = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    index: i64,
    lives: u64,
    abandons: u64,
}

/// One bucket as persisted: its start time, so a restore into a window of
/// another length can re-bucket it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BucketSaved {
    start_ms: Ms,
    lives: u64,
    abandons: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct AbandonWindow {
    window_ms: Ms,
    bucket_ms: Ms,
    /// Oldest first, indices strictly rising.
    buckets: VecDeque<Bucket>,
    lives: u64,
    abandons: u64,
}

impl AbandonWindow {
    pub(crate) fn new(window_ms: Ms) -> AbandonWindow {
        let window_ms = window_ms.max(MIN_BUCKET_MS);
        AbandonWindow {
            window_ms,
            bucket_ms: (window_ms / BUCKETS).max(MIN_BUCKET_MS),
            buckets: VecDeque::new(),
            lives: 0,
            abandons: 0,
        }
    }

    pub(crate) fn record_live(&mut self, now: Ms) {
        self.bucket_at(now).lives += 1;
        self.lives += 1;
        self.expire(now);
    }

    pub(crate) fn record_abandon(&mut self, now: Ms) {
        self.bucket_at(now).abandons += 1;
        self.abandons += 1;
        self.expire(now);
    }

    /// The bucket for `now`; an event older than the newest bucket (a
    /// clock that stepped back) is counted in the newest.
    fn bucket_at(&mut self, now: Ms) -> &mut Bucket {
        let index = now.div_euclid(self.bucket_ms);
        let newest = self.buckets.back().map(|b| b.index);
        if newest.is_none_or(|n| n < index) {
            self.buckets.push_back(Bucket {
                index,
                lives: 0,
                abandons: 0,
            });
        }
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }

    /// Buckets whose end is more than a window before `now` are out.
    fn first_kept_index(&self, now: Ms) -> i64 {
        (now - self.window_ms).div_euclid(self.bucket_ms)
    }

    /// Drops the buckets that left the window.
    pub(crate) fn expire(&mut self, now: Ms) {
        let keep = self.first_kept_index(now);
        while let Some(b) = self.buckets.front() {
            if b.index >= keep {
                break;
            }
            self.lives -= b.lives;
            self.abandons -= b.abandons;
            self.buckets.pop_front();
        }
    }

    /// (live answers, abandons) in the window ending at `now`.
    pub(crate) fn counts(&self, now: Ms) -> (u64, u64) {
        let keep = self.first_kept_index(now);
        let (mut lives, mut abandons) = (self.lives, self.abandons);
        for b in self.buckets.iter().take_while(|b| b.index < keep) {
            lives -= b.lives;
            abandons -= b.abandons;
        }
        (lives, abandons)
    }

    pub(crate) fn save(&self) -> Vec<BucketSaved> {
        self.buckets
            .iter()
            .map(|b| BucketSaved {
                start_ms: b.index * self.bucket_ms,
                lives: b.lives,
                abandons: b.abandons,
            })
            .collect()
    }

    /// Adds saved buckets, re-bucketed to this window's bucket length.
    pub(crate) fn restore(&mut self, saved: &[BucketSaved]) {
        let mut sorted = saved.to_vec();
        sorted.sort_by_key(|b| b.start_ms);
        for b in sorted {
            let index = b.start_ms.div_euclid(self.bucket_ms);
            if self.buckets.back().is_none_or(|last| last.index < index) {
                self.buckets.push_back(Bucket {
                    index,
                    lives: 0,
                    abandons: 0,
                });
            }
            if let Some(last) = self.buckets.back_mut() {
                last.lives += b.lives;
                last.abandons += b.abandons;
            }
            self.lives += b.lives;
            self.abandons += b.abandons;
        }
    }

    /// Buckets kept: the state's size.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}
