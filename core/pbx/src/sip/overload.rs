//! Overload: when the switch falls behind, new calls are refused at once
//! with 503 and Retry-After, instead of joining a queue they would only
//! leave by timing out.
//!
//! Without this, an offered load above what the CPU can carry collapses
//! the switch: messages wait in the socket buffer and the driver's queue,
//! callers retransmit after T1 and add to the queue, calls that their
//! caller already gave up on are still routed and dialled, and the share
//! of calls that complete falls far below what the switch carried just
//! under its limit. Refusing a new INVITE costs little next to routing
//! and bridging it, and the calls already up (their ACKs, BYEs and
//! re-INVITEs), registrations and OPTIONS are still served.
//!
//! The measure is the delay a message meets before its turn, taken two
//! ways into one moving average:
//! - how long a received message waited for the driver (its age when the
//!   driver takes it from the queue);
//! - how late a ticking task on the runtime wakes, which is how long any
//!   ready task, the UDP receivers among them, waits for a worker.
//!
//! An average, not a maximum: one stall (a page fault storm, a host that
//! took the CPU away for a moment) moves it by an eighth, while a lasting
//! overload makes every sample late. An idle switch still samples the
//! ticks, so the average falls back within a few ticks once turns come on
//! time again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::shutdown::Shutdown;

/// How often the runtime's delay is sampled.
const TICK: Duration = Duration::from_millis(20);
/// Each sample moves the average by this share of the difference.
const WEIGHT: i64 = 8;

/// The switch's current delay and the limit over which it is overloaded,
/// shared by the driver, the ticker and the dialer.
#[derive(Debug, Default)]
pub struct Load {
    /// The moving average, in microseconds.
    delay_us: AtomicU64,
    /// `sip.limits.overload_delay_ms` (`None`: never overloaded).
    limit: Option<Duration>,
    /// Samples that left the average over the limit, since start.
    over_samples: AtomicU64,
    /// Times the dialer began holding new lines for it.
    dialer_holds: AtomicU64,
}

impl Load {
    pub fn new(limit: Option<Duration>) -> Arc<Load> {
        Arc::new(Load {
            limit,
            ..Load::default()
        })
    }

    /// The delay messages meet now.
    pub fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::Relaxed))
    }

    /// A message or a tick that waited `delay`.
    pub fn observe(&self, delay: Duration) {
        // Over an hour counts as an hour: the average stays in range.
        let sample = i64::try_from(delay.as_micros())
            .unwrap_or(i64::MAX)
            .min(3_600_000_000);
        let average = |old: u64| {
            let old = old as i64;
            (old + (sample - old) / WEIGHT) as u64
        };
        let old = self
            .delay_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(average(old))
            })
            .unwrap_or_else(|old| old);
        if self
            .limit
            .is_some_and(|limit| Duration::from_micros(average(old)) > limit)
        {
            self.over_samples.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many samples left the average over the limit, since start. A
    /// reader that looks less often than the samples come (the dialer,
    /// five times a second) compares it with its last reading, and so
    /// misses no overload, however short, that came in between.
    pub fn over_samples(&self) -> u64 {
        self.over_samples.load(Ordering::Relaxed)
    }

    /// The dialer began a hold (see `Dialer::hold_for_overload`).
    pub fn count_dialer_hold(&self) {
        self.dialer_holds.fetch_add(1, Ordering::Relaxed);
    }

    /// Holds the dialer began since start.
    pub fn dialer_holds(&self) -> u64 {
        self.dialer_holds.load(Ordering::Relaxed)
    }

    /// Whether a new call should be refused: the delay is over the limit.
    pub fn overloaded(&self) -> bool {
        self.limit.is_some_and(|limit| self.delay() > limit)
    }
}

/// Samples how late the runtime runs a task that asked to wake every
/// [`TICK`], until shutdown.
pub async fn watch_runtime(load: Arc<Load>, mut shutdown: Shutdown) {
    let mut due = Instant::now() + TICK;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            () = shutdown.recv() => return,
        }
        let now = Instant::now();
        // The timer wheel's own granularity is a millisecond.
        load.observe(now.saturating_duration_since(due));
        due = now + TICK;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Option<Duration> = Some(Duration::from_millis(250));

    #[test]
    fn one_stall_is_not_an_overload_and_a_lasting_delay_is() {
        let load = Load {
            limit: LIMIT,
            ..Load::default()
        };
        load.observe(Duration::from_millis(1000));
        assert!(!load.overloaded(), "{:?}", load.delay());
        assert_eq!(load.delay(), Duration::from_millis(125));
        for _ in 0..20 {
            load.observe(Duration::from_millis(400));
        }
        assert!(load.overloaded(), "{:?}", load.delay());
        let over = load.over_samples();
        assert!((1..=20).contains(&over), "{over}");
        // The same delay with no limit (overload_delay_ms: 0) is never one.
        let unlimited = Load::default();
        for _ in 0..20 {
            unlimited.observe(Duration::from_millis(400));
        }
        assert!(unlimited.delay() > LIMIT.expect("a limit"));
        assert!(!unlimited.overloaded());
        assert_eq!(unlimited.over_samples(), 0);
        // Turns on time again: back under the limit within a few samples.
        let mut samples = 0;
        while load.overloaded() {
            load.observe(Duration::ZERO);
            samples += 1;
        }
        assert!((1..=5).contains(&samples), "{samples}");
        // Only the samples that ended over the limit were counted.
        assert_eq!(load.over_samples(), over + samples - 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_runtime_kept_busy_shows_as_delay() {
        let load = Load::new(None);
        let coordinator = crate::shutdown::Coordinator::new();
        let watcher = tokio::spawn(watch_runtime(load.clone(), coordinator.handle()));
        tokio::time::sleep(TICK * 3).await;
        assert!(
            load.delay() < Duration::from_millis(1),
            "{:?}",
            load.delay()
        );
        // A task that holds the only worker for 2 s of (paused) time.
        tokio::time::advance(Duration::from_secs(2)).await;
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(
            load.delay() >= Duration::from_millis(200),
            "{:?}",
            load.delay()
        );
        coordinator.shutdown().await;
        watcher.await.expect("the watcher ends at shutdown");
    }
}
