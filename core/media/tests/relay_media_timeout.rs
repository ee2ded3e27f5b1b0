//! Media timeout on a virtual clock.

use std::time::{Duration, Instant};

use waihu_media::relay::MediaTimeout;

const TIMEOUT: Duration = Duration::from_secs(30);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The one clock read: everything after it is this instant plus Durations.
#[allow(clippy::disallowed_methods)]
fn base() -> Instant {
    Instant::now()
}

#[test]
fn fires_once_exactly_at_the_deadline_not_before_and_not_twice() {
    let t0 = base();
    let mut t = MediaTimeout::new(TIMEOUT, t0);
    t.on_packet(t0 + ms(1_000));
    let deadline = t0 + ms(1_000) + TIMEOUT;
    assert_eq!(t.poll_timeout(), Some(deadline));
    assert!(!t.check(deadline - Duration::from_nanos(1)));
    assert!(t.check(deadline));
    assert!(!t.check(deadline));
    assert!(!t.check(deadline + ms(60_000)));
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn a_leg_that_never_sends_times_out_from_its_start() {
    let t0 = base();
    let mut t = MediaTimeout::new(TIMEOUT, t0);
    assert_eq!(t.poll_timeout(), Some(t0 + TIMEOUT));
    assert!(t.check(t0 + TIMEOUT));
}

#[test]
fn packets_push_the_deadline_and_a_late_one_never_pulls_it_back() {
    let t0 = base();
    let mut t = MediaTimeout::new(TIMEOUT, t0);
    for k in 1..=100 {
        t.on_packet(t0 + ms(20 * k));
    }
    t.on_packet(t0 + ms(10)); // handed in out of order
    assert_eq!(t.poll_timeout(), Some(t0 + ms(2_000) + TIMEOUT));
    assert!(!t.check(t0 + TIMEOUT));
}

#[test]
fn suspend_stops_it() {
    let t0 = base();
    let mut t = MediaTimeout::new(TIMEOUT, t0);
    t.suspend();
    assert!(t.is_suspended());
    assert_eq!(t.poll_timeout(), None);
    assert!(!t.check(t0 + TIMEOUT));
    assert!(!t.check(t0 + TIMEOUT * 100));
}

#[test]
fn resume_restarts_a_full_timeout_from_the_resume() {
    let t0 = base();
    let mut t = MediaTimeout::new(TIMEOUT, t0);
    t.suspend();
    let t1 = t0 + ms(600_000);
    t.resume(t1);
    assert!(!t.is_suspended());
    assert_eq!(t.poll_timeout(), Some(t1 + TIMEOUT));
    assert!(!t.check(t1 + TIMEOUT - ms(1)));
    assert!(t.check(t1 + TIMEOUT));
    assert!(!t.check(t1 + TIMEOUT + ms(1)));
}

#[test]
fn media_coming_back_after_the_timeout_rearms_it() {
    let t0 = base();
    let mut t = MediaTimeout::new(TIMEOUT, t0);
    assert!(t.check(t0 + TIMEOUT));
    let back = t0 + TIMEOUT + ms(500);
    t.on_packet(back);
    assert_eq!(t.poll_timeout(), Some(back + TIMEOUT));
    assert!(t.check(back + TIMEOUT));
}

#[test]
fn a_deadline_beyond_what_an_instant_holds_never_fires_and_never_panics() {
    let t0 = base();
    let mut t = MediaTimeout::new(Duration::MAX, t0);
    assert_eq!(t.poll_timeout(), None);
    assert!(!t.check(t0 + ms(1_000_000)));
}
