//! Per-source protection, applied to every datagram and connection before it
//! is parsed: a rate limit per IP address, and bans for addresses that fail
//! authentication too often.
//!
//! It runs on every packet, so [`Guard::admit`] allocates nothing for a source
//! it already tracks; a new source costs one table entry. The table is
//! bounded by [`GuardConfig::max_tracked`]:
//!
//! - when full, entries that carry no information are dropped first: no ban
//!   in force, bucket full again, no failure within the window. Dropping them
//!   changes no decision. This sweep is O(table) and runs at most once per
//!   [`SWEEP_PAUSE`] from `admit`, so a flood of new addresses cannot make
//!   every packet pay for it (the runtime may also call [`Guard::sweep`]).
//! - if still full, a **new** address is answered [`Admission::RateLimited`]
//!   without being tracked, until entries go idle. Known addresses are
//!   unaffected. The alternative, evicting live entries, would let anyone
//!   able to spoof source addresses (UDP) wipe bans and rate state by
//!   flooding; refusing newcomers for a while is the lesser harm, and the
//!   flood itself is what the operator must see.
//!
//! Loopback and private addresses get no exemption: the test suites rely on
//! banning 127.0.0.1, and a local proxy is no more trustworthy by address.
//!
//! The rate limit is a token bucket of `burst` tokens refilled at
//! `rate_per_sec`, kept as one instant per source (GCRA, the "virtual
//! scheduling" form of a token bucket): the theoretical arrival time `tat`
//! advances by `1/rate` per packet admitted, and a packet is refused when
//! that would put `tat` more than `burst/rate` ahead of now.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Minimum time between two sweeps triggered by a full table.
pub const SWEEP_PAUSE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// Sustained messages per second per IP; 0 disables rate limiting.
    pub rate_per_sec: u32,
    /// Messages an idle IP may send at once (at least 1 is used).
    pub burst: u32,
    /// Authentication failures within `failure_window` that trigger a ban;
    /// 0 disables banning.
    pub max_failures: u32,
    pub failure_window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Most source addresses tracked at once.
    pub max_tracked: usize,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            rate_per_sec: 50,
            burst: 100,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            ban: Duration::from_secs(600),
            max_tracked: 65_536,
        }
    }
}

/// What to do with a message from some source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Over its rate, or a new source while the table is full: drop it.
    RateLimited,
    /// Drop it silently; answering would help the attacker.
    Banned {
        until: Instant,
    },
}

#[derive(Debug)]
struct Source {
    /// GCRA theoretical arrival time; the bucket is full when `tat <= now`.
    tat: Instant,
    /// Failure times within the window, oldest first, at most `max_failures`.
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
}

impl Source {
    fn new(now: Instant) -> Source {
        Source {
            tat: now,
            failures: VecDeque::new(),
            banned_until: None,
        }
    }

    /// The end of a ban in force at `now`.
    fn ban(&self, now: Instant) -> Option<Instant> {
        self.banned_until.filter(|&until| now < until)
    }

    fn forget_old_failures(&mut self, now: Instant, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            self.failures.pop_front();
        }
    }

    /// Whether dropping this entry would change no future decision.
    fn is_idle(&self, now: Instant, window: Duration) -> bool {
        self.ban(now).is_none()
            && self.tat <= now
            && self
                .failures
                .back()
                .is_none_or(|&t| now.saturating_duration_since(t) >= window)
    }
}

/// Rate limits and bans per source IP. See the module documentation.
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    /// Time one message costs; `None` when rate limiting is off.
    interval: Option<Duration>,
    /// How far ahead of now `tat` may run: `burst * interval`.
    tolerance: Duration,
    sources: HashMap<IpAddr, Source>,
    /// No sweep from `admit` before this.
    next_sweep: Option<Instant>,
}

impl Guard {
    pub fn new(config: GuardConfig) -> Guard {
        let interval =
            (config.rate_per_sec > 0).then(|| Duration::from_secs(1) / config.rate_per_sec);
        let tolerance = interval.unwrap_or_default() * config.burst.max(1);
        Guard {
            config,
            interval,
            tolerance,
            sources: HashMap::new(),
            next_sweep: None,
        }
    }

    /// Decides whether a message (or a new TCP connection) from `ip` is
    /// processed, and charges it to the source's bucket if so.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> Admission {
        let (interval, tolerance) = (self.interval, self.tolerance);
        if let Some(source) = self.sources.get_mut(&ip) {
            if let Some(until) = source.ban(now) {
                return Admission::Banned { until };
            }
            source.banned_until = None;
            return take(source, now, interval, tolerance);
        }
        let Some(interval) = interval else {
            // Nothing to remember about an unknown source without rate limits.
            return Admission::Allowed;
        };
        if !self.make_room(now) {
            return Admission::RateLimited;
        }
        let source = self.sources.entry(ip).or_insert_with(|| Source::new(now));
        take(source, now, Some(interval), tolerance)
    }

    /// Records a failed authentication. Returns the end of the ban when this
    /// failure triggered one.
    ///
    /// Failures are counted in a sliding window: `max_failures` failures no
    /// more than `failure_window` apart (first to last) ban the source. If
    /// the table is full and has no room for `ip`, the failure is not
    /// recorded (the source was then refused by `admit` in the first place).
    pub fn auth_failed(&mut self, now: Instant, ip: IpAddr) -> Option<Instant> {
        let max = usize::try_from(self.config.max_failures).unwrap_or(usize::MAX);
        if max == 0 {
            return None;
        }
        if !self.sources.contains_key(&ip) && !self.make_room(now) {
            return None;
        }
        let (window, ban) = (self.config.failure_window, self.config.ban);
        let source = self.sources.entry(ip).or_insert_with(|| Source::new(now));
        if source.ban(now).is_some() {
            return None;
        }
        source.forget_old_failures(now, window);
        if source.failures.len() == max {
            source.failures.pop_front();
        }
        source.failures.push_back(now);
        if source.failures.len() < max {
            return None;
        }
        source.failures.clear();
        let until = now + ban;
        source.banned_until = Some(until);
        Some(until)
    }

    /// Records a successful authentication. Deliberately forgives nothing:
    /// failures stay counted for their window. Otherwise one valid account
    /// (or one captured, still-valid request) would let an attacker
    /// interleave successes with guesses and never reach the ban. An honest
    /// user who mistyped a few times is unaffected unless they keep failing.
    /// Kept so callers report both outcomes and the policy lives here.
    pub fn auth_succeeded(&mut self, now: Instant, ip: IpAddr) {
        let _ = (now, ip);
    }

    pub fn is_banned(&self, now: Instant, ip: IpAddr) -> bool {
        self.banned_until(now, ip).is_some()
    }

    /// The end of the ban on `ip` in force at `now`.
    pub fn banned_until(&self, now: Instant, ip: IpAddr) -> Option<Instant> {
        self.sources.get(&ip).and_then(|s| s.ban(now))
    }

    /// Lifts a ban and forgets the failures of `ip` (an operator's action).
    /// Returns whether a ban was in force.
    pub fn unban(&mut self, now: Instant, ip: IpAddr) -> bool {
        match self.sources.entry(ip) {
            Entry::Occupied(mut e) => {
                let was = e.get().ban(now).is_some();
                e.get_mut().banned_until = None;
                e.get_mut().failures.clear();
                was
            }
            Entry::Vacant(_) => false,
        }
    }

    /// Drops every entry that carries no information any more (see the
    /// module documentation); returns how many.
    pub fn sweep(&mut self, now: Instant) -> usize {
        let window = self.config.failure_window;
        let before = self.sources.len();
        self.sources.retain(|_, s| !s.is_idle(now, window));
        before - self.sources.len()
    }

    /// Sources currently tracked.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether a new source can be tracked, sweeping first if the table is
    /// full and the last sweep is long enough ago.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.sources.len() < self.config.max_tracked {
            return true;
        }
        if self.next_sweep.is_some_and(|t| now < t) {
            return false;
        }
        self.next_sweep = Some(now + SWEEP_PAUSE);
        self.sweep(now);
        self.sources.len() < self.config.max_tracked
    }
}

/// Charges one message to `source`'s bucket.
fn take(
    source: &mut Source,
    now: Instant,
    interval: Option<Duration>,
    tolerance: Duration,
) -> Admission {
    let Some(interval) = interval else {
        return Admission::Allowed;
    };
    let tat = source.tat.max(now) + interval;
    if tat.saturating_duration_since(now) > tolerance {
        return Admission::RateLimited;
    }
    source.tat = tat;
    Admission::Allowed
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn config() -> GuardConfig {
        GuardConfig {
            rate_per_sec: 10,
            burst: 5,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            ban: Duration::from_secs(600),
            max_tracked: 1000,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    /// The one clock read: tests step a virtual clock from here.
    #[allow(clippy::disallowed_methods)]
    fn start() -> Instant {
        Instant::now()
    }

    #[test]
    fn burst_then_limited_then_refilled() {
        let t0 = start();
        let mut g = Guard::new(config());
        for _ in 0..5 {
            assert_eq!(g.admit(t0, LOOPBACK), Admission::Allowed);
        }
        assert_eq!(g.admit(t0, LOOPBACK), Admission::RateLimited);
        // One token comes back every 100 ms.
        assert_eq!(
            g.admit(t0 + Duration::from_millis(99), LOOPBACK),
            Admission::RateLimited
        );
        assert_eq!(
            g.admit(t0 + Duration::from_millis(100), LOOPBACK),
            Admission::Allowed
        );
        assert_eq!(
            g.admit(t0 + Duration::from_millis(100), LOOPBACK),
            Admission::RateLimited
        );
        // A long pause refills up to the burst, not beyond.
        let later = t0 + secs(3600);
        for _ in 0..5 {
            assert_eq!(g.admit(later, LOOPBACK), Admission::Allowed);
        }
        assert_eq!(g.admit(later, LOOPBACK), Admission::RateLimited);
    }

    #[test]
    fn sustained_rate_is_admitted() {
        let t0 = start();
        let mut g = Guard::new(config());
        for i in 0..1000 {
            let now = t0 + Duration::from_millis(100) * i;
            assert_eq!(g.admit(now, LOOPBACK), Admission::Allowed, "message {i}");
        }
    }

    #[test]
    fn sources_are_independent() {
        let t0 = start();
        let mut g = Guard::new(config());
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        for _ in 0..5 {
            g.admit(t0, LOOPBACK);
        }
        assert_eq!(g.admit(t0, LOOPBACK), Admission::RateLimited);
        assert_eq!(g.admit(t0, v6), Admission::Allowed);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn ten_failures_within_a_minute_ban_loopback_until_the_ban_expires() {
        let t0 = start();
        let mut g = Guard::new(config());
        for i in 0..9 {
            assert_eq!(g.auth_failed(t0 + secs(i * 6), LOOPBACK), None);
        }
        let tenth = t0 + secs(59);
        let until = g.auth_failed(tenth, LOOPBACK);
        assert_eq!(until, Some(tenth + secs(600)));
        assert!(g.is_banned(tenth, LOOPBACK));
        let until = tenth + secs(600);
        assert_eq!(
            g.admit(tenth + secs(1), LOOPBACK),
            Admission::Banned { until }
        );
        assert_eq!(
            g.admit(until - Duration::from_millis(1), LOOPBACK),
            Admission::Banned { until }
        );
        // Further failures during the ban neither extend nor re-announce it.
        assert_eq!(g.auth_failed(tenth + secs(2), LOOPBACK), None);
        assert_eq!(g.banned_until(tenth + secs(3), LOOPBACK), Some(until));

        assert_eq!(g.admit(until, LOOPBACK), Admission::Allowed);
        assert!(!g.is_banned(until, LOOPBACK));
        // The slate is clean after a ban: one failure does not re-ban.
        assert_eq!(g.auth_failed(until, LOOPBACK), None);
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_ban() {
        let t0 = start();
        let mut g = Guard::new(config());
        for i in 0..9 {
            assert_eq!(g.auth_failed(t0 + secs(i), LOOPBACK), None);
        }
        // The window passes, nine more: at no point were ten within 60 s.
        for i in 0..9 {
            assert_eq!(g.auth_failed(t0 + secs(68 + i), LOOPBACK), None);
        }
        assert!(!g.is_banned(t0 + secs(80), LOOPBACK));
    }

    #[test]
    fn the_window_slides() {
        let t0 = start();
        let mut g = Guard::new(config());
        // Failures every 7 s: any ten span 63 s, so no ban however long it goes on.
        for i in 0..50 {
            assert_eq!(g.auth_failed(t0 + secs(i * 7), LOOPBACK), None);
        }
        // Every 6 s: the tenth in a row spans 54 s and bans.
        let t1 = t0 + secs(1000);
        let banned = (0..10)
            .filter_map(|i| g.auth_failed(t1 + secs(i * 6), LOOPBACK))
            .count();
        assert_eq!(banned, 1);
    }

    #[test]
    fn successes_do_not_wash_failures_away() {
        let t0 = start();
        let mut g = Guard::new(config());
        let mut ban = None;
        for i in 0..10 {
            g.auth_succeeded(t0 + secs(i), LOOPBACK);
            ban = ban.or(g.auth_failed(t0 + secs(i), LOOPBACK));
        }
        assert!(ban.is_some());
    }

    #[test]
    fn unban() {
        let t0 = start();
        let mut g = Guard::new(config());
        for _ in 0..10 {
            g.auth_failed(t0, LOOPBACK);
        }
        assert!(g.unban(t0, LOOPBACK));
        assert!(!g.unban(t0, LOOPBACK));
        assert_eq!(g.admit(t0, LOOPBACK), Admission::Allowed);
        assert_eq!(g.auth_failed(t0, LOOPBACK), None);
    }

    #[test]
    fn table_is_bounded_and_idle_entries_go_first() {
        let t0 = start();
        let mut g = Guard::new(GuardConfig {
            max_tracked: 4,
            ..config()
        });
        for n in 0..4 {
            assert_eq!(g.admit(t0, ip(n)), Admission::Allowed);
        }
        // Full of live entries: a newcomer is refused, not tracked.
        assert_eq!(g.admit(t0, ip(100)), Admission::RateLimited);
        assert_eq!(g.len(), 4);
        // Past the pause, the entries have gone idle (buckets full again).
        let t1 = t0 + SWEEP_PAUSE;
        assert_eq!(g.admit(t1, ip(100)), Admission::Allowed);
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn bans_survive_a_flood_of_new_sources() {
        let t0 = start();
        let mut g = Guard::new(GuardConfig {
            max_tracked: 4,
            ..config()
        });
        for _ in 0..10 {
            g.auth_failed(t0, LOOPBACK);
        }
        for n in 0..10_000u32 {
            let now = t0 + Duration::from_millis(u64::from(n));
            g.admit(now, ip(n));
            assert!(g.len() <= 4);
        }
        assert!(g.is_banned(t0 + secs(10), LOOPBACK));
        // Sources with recent failures are kept too.
        g.auth_failed(t0 + secs(11), ip(1));
        g.sweep(t0 + secs(12));
        assert_eq!(g.len(), 2);
        assert!(g.sources.contains_key(&ip(1)));
        assert_eq!(g.sweep(t0 + secs(11 + 60)), 1);
        assert!(g.is_banned(t0 + secs(71), LOOPBACK));
    }

    #[test]
    fn sweeps_triggered_by_admit_are_paced() {
        let t0 = start();
        let mut g = Guard::new(GuardConfig {
            max_tracked: 2,
            ..config()
        });
        g.admit(t0, ip(0));
        g.admit(t0, ip(1));
        assert_eq!(g.admit(t0, ip(2)), Admission::RateLimited);
        // Idle by now, but the last sweep was less than SWEEP_PAUSE ago.
        let soon = t0 + SWEEP_PAUSE / 2;
        assert_eq!(g.admit(soon, ip(2)), Admission::RateLimited);
        assert_eq!(g.admit(t0 + SWEEP_PAUSE, ip(2)), Admission::Allowed);
    }

    #[test]
    fn rate_limit_off_tracks_only_failures() {
        let t0 = start();
        let mut g = Guard::new(GuardConfig {
            rate_per_sec: 0,
            max_tracked: 1,
            ..config()
        });
        for n in 0..100 {
            assert_eq!(g.admit(t0, ip(n)), Admission::Allowed);
        }
        assert!(g.is_empty());
        for _ in 0..10 {
            g.auth_failed(t0, LOOPBACK);
        }
        assert!(matches!(g.admit(t0, LOOPBACK), Admission::Banned { .. }));
        assert_eq!(g.admit(t0, ip(5)), Admission::Allowed);
    }

    #[test]
    fn banning_off() {
        let t0 = start();
        let mut g = Guard::new(GuardConfig {
            max_failures: 0,
            ..config()
        });
        for _ in 0..100 {
            assert_eq!(g.auth_failed(t0, LOOPBACK), None);
        }
        assert!(g.is_empty());
    }
}
