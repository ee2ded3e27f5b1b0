//! Source learning for a relayed leg, on a virtual clock: the real clock is
//! read once for a base instant and time moves only by adding Durations.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use waihu_media::relay::{
    DEFAULT_PROBATION, DropReason, LEARN_AFTER, SourceFilter, SourceMode, Verdict,
    default_rtcp_addr,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `LEARN_AFTER` packets from `src`, 1 ms apart, ending at `at`: the verdict
/// on the last one (the earlier ones are `Learning`).
fn learn(f: &mut SourceFilter, src: SocketAddr, at: Instant) -> Verdict {
    let n = u64::from(LEARN_AFTER);
    for i in 1..n {
        let early = at.checked_sub(ms(n - i)).unwrap_or(at);
        assert_eq!(
            f.check(src, early),
            Verdict::Drop(DropReason::Learning),
            "{src}"
        );
    }
    f.check(src, at)
}

/// The one clock read: everything after it is this instant plus Durations.
#[allow(clippy::disallowed_methods)]
fn base() -> Instant {
    Instant::now()
}

#[test]
fn strict_accepts_the_sdp_address_and_locks_on_it() {
    let t0 = base();
    let sdp = addr("203.0.113.5:30000");
    let mut f = SourceFilter::new(Some(sdp), SourceMode::Strict, t0);
    assert_eq!(f.locked(), None);
    assert_eq!(f.send_to(), Some(sdp));
    assert_eq!(f.check(sdp, t0 + ms(20)), Verdict::Accept);
    assert_eq!(f.locked(), Some(sdp));
    // Long after the window, the SDP address is still the one.
    assert_eq!(f.check(sdp, t0 + ms(60_000)), Verdict::Accept);
    assert_eq!(f.accepted(), 2);
    assert_eq!(f.dropped(), 0);
}

#[test]
fn strict_drops_a_stranger_even_during_probation() {
    let t0 = base();
    let sdp = addr("203.0.113.5:30000");
    let mut f = SourceFilter::new(Some(sdp), SourceMode::Strict, t0);
    assert_eq!(
        f.check(addr("198.51.100.9:4000"), t0 + ms(10)),
        Verdict::Drop(DropReason::NotSdpAddress)
    );
    assert_eq!(f.locked(), None, "a stranger never locks");
    assert_eq!(f.check(sdp, t0 + ms(30)), Verdict::Accept);
    assert_eq!(f.dropped(), 1);
}

#[test]
fn strict_without_an_sdp_address_accepts_nothing() {
    let t0 = base();
    let mut f = SourceFilter::new(None, SourceMode::Strict, t0);
    assert_eq!(
        f.check(addr("198.51.100.9:4000"), t0),
        Verdict::Drop(DropReason::NotSdpAddress)
    );
    assert_eq!(f.send_to(), None);
}

#[test]
fn learn_locks_on_the_first_source_and_drops_a_second_within_probation() {
    let t0 = base();
    // A phone behind NAT: its SDP carries a private address.
    let mut f = SourceFilter::new(Some(addr("192.168.1.20:16384")), SourceMode::Learn, t0);
    let nat = addr("203.0.113.77:61000");
    let other = addr("198.51.100.9:4000");
    assert_eq!(learn(&mut f, nat, t0 + ms(100)), Verdict::Accept);
    assert_eq!(f.locked(), Some(nat));
    assert_eq!(
        f.send_to(),
        Some(nat),
        "symmetric RTP: send where it comes from"
    );
    assert_eq!(
        f.check(other, t0 + ms(200)),
        Verdict::Drop(DropReason::NotLockedSource)
    );
    assert_eq!(f.locked(), Some(nat));
    assert_eq!(f.check(nat, t0 + ms(5_000)), Verdict::Accept);
}

#[test]
fn learn_accepts_the_sdp_address_even_after_probation_when_nothing_was_learned() {
    let t0 = base();
    let sdp = addr("203.0.113.5:30000");
    let mut f = SourceFilter::new(Some(sdp), SourceMode::Learn, t0);
    let late = t0 + DEFAULT_PROBATION + ms(1_000);
    assert_eq!(f.check(sdp, late), Verdict::Accept);
    assert_eq!(f.locked(), Some(sdp));
}

#[test]
fn learn_drops_a_stranger_arriving_after_probation_with_nothing_learned() {
    let t0 = base();
    let mut f = SourceFilter::new(Some(addr("192.168.1.20:16384")), SourceMode::Learn, t0);
    let stranger = addr("198.51.100.9:4000");
    // The window is [t0, t0 + probation): its end is already outside.
    assert_eq!(
        f.check(stranger, t0 + DEFAULT_PROBATION),
        Verdict::Drop(DropReason::ProbationOver)
    );
    assert_eq!(f.locked(), None);
    assert_eq!(
        learn(&mut f, stranger, t0 + DEFAULT_PROBATION - ms(1)),
        Verdict::Accept
    );
}

#[test]
fn the_sdp_address_is_dropped_once_another_source_was_learned() {
    let t0 = base() + ms(10);
    let sdp = addr("192.168.1.20:16384");
    let mut f = SourceFilter::new(Some(sdp), SourceMode::Learn, t0);
    let nat = addr("203.0.113.77:61000");
    assert_eq!(learn(&mut f, nat, t0 + ms(5)), Verdict::Accept);
    assert_eq!(
        f.check(sdp, t0 + ms(20)),
        Verdict::Drop(DropReason::NotLockedSource)
    );
}

#[test]
fn spray_from_many_addresses_after_lock_is_all_dropped_and_counted() {
    let t0 = base();
    let sdp = addr("203.0.113.5:30000");
    for mode in [SourceMode::Strict, SourceMode::Learn] {
        let mut f = SourceFilter::new(Some(sdp), mode, t0);
        assert_eq!(f.check(sdp, t0), Verdict::Accept);
        let mut n = 0u64;
        for host in 1..=50u8 {
            for port in [5004u16, 10_000, 30_001, 65_535] {
                let spoof = SocketAddr::from(([198, 51, 100, host], port));
                // Within probation and after it: neither re-learns.
                for at in [ms(1), ms(10_000)] {
                    assert_eq!(
                        f.check(spoof, t0 + at),
                        Verdict::Drop(DropReason::NotLockedSource),
                        "{mode:?} {spoof}"
                    );
                    n += 1;
                }
            }
        }
        // Same IP, other port: a different source all the same.
        assert!(matches!(
            f.check(addr("203.0.113.5:30002"), t0 + ms(40)),
            Verdict::Drop(_)
        ));
        n += 1;
        assert_eq!(f.dropped(), n, "{mode:?}");
        assert_eq!(f.locked(), Some(sdp));
        assert_eq!(f.check(sdp, t0 + ms(20_000)), Verdict::Accept);
        assert_eq!(f.accepted(), 2);
    }
}

#[test]
fn renegotiate_opens_a_new_window_and_forgets_the_lock() {
    let t0 = base();
    let mut f = SourceFilter::new(Some(addr("192.168.1.20:16384")), SourceMode::Learn, t0);
    let first = addr("203.0.113.77:61000");
    let second = addr("203.0.113.77:62000");
    assert_eq!(learn(&mut f, first, t0 + ms(10)), Verdict::Accept);
    // Long after the first window the phone's NAT binding changed, and a
    // re-INVITE announced it.
    let t1 = t0 + ms(600_000);
    assert!(matches!(f.check(second, t1), Verdict::Drop(_)));
    f.renegotiate(Some(addr("192.168.1.20:16400")), t1);
    assert_eq!(f.locked(), None);
    assert_eq!(f.sdp_addr(), Some(addr("192.168.1.20:16400")));
    assert_eq!(learn(&mut f, second, t1 + ms(50)), Verdict::Accept);
    assert_eq!(f.locked(), Some(second));
    assert_eq!(
        f.check(first, t1 + ms(60)),
        Verdict::Drop(DropReason::NotLockedSource)
    );
    // Counters span the whole leg (the learning packets are drops).
    assert_eq!(f.accepted(), 2);
    assert_eq!(f.dropped(), 2 + 2 * u64::from(LEARN_AFTER - 1));
}

#[test]
fn renegotiated_window_closes_after_its_own_probation() {
    let t0 = base();
    let mut f = SourceFilter::new(None, SourceMode::Learn, t0).with_probation(ms(500));
    let t1 = t0 + ms(10_000);
    f.renegotiate(None, t1);
    assert_eq!(
        f.check(addr("203.0.113.77:61000"), t1 + ms(500)),
        Verdict::Drop(DropReason::ProbationOver)
    );
    assert_eq!(
        learn(&mut f, addr("203.0.113.77:61000"), t1 + ms(499)),
        Verdict::Accept
    );
}

#[test]
fn a_clock_reading_before_the_leg_start_does_not_panic() {
    let t0 = base() + ms(10_000);
    let mut f = SourceFilter::new(None, SourceMode::Learn, t0);
    assert_eq!(
        learn(&mut f, addr("203.0.113.77:61000"), t0 - ms(5_000)),
        Verdict::Accept
    );
}

#[test]
fn rtcp_is_expected_one_port_above_rtp() {
    assert_eq!(
        default_rtcp_addr(addr("203.0.113.5:30000")),
        Some(addr("203.0.113.5:30001"))
    );
    assert_eq!(
        default_rtcp_addr(addr("[2001:db8::1]:5004")),
        Some(addr("[2001:db8::1]:5005"))
    );
    assert_eq!(default_rtcp_addr(addr("203.0.113.5:65535")), None);
}

#[test]
fn learn_never_takes_a_stranger_when_the_sdp_address_is_reachable() {
    // RTP Bleed: the stranger reaches the port first, during probation,
    // and keeps sending; the SDP address is a real one, so only it counts.
    let t0 = base();
    let sdp = addr("203.0.113.5:30000");
    let mut f = SourceFilter::new(Some(sdp), SourceMode::Learn, t0);
    let stranger = addr("203.0.113.5:40000");
    for i in 0..20 {
        assert_eq!(
            f.check(stranger, t0 + ms(i)),
            Verdict::Drop(DropReason::SdpIsReachable)
        );
    }
    assert_eq!(f.check(sdp, t0 + ms(30)), Verdict::Accept);
    assert_eq!(f.locked(), Some(sdp));
}

#[test]
fn learning_restarts_when_another_source_interleaves() {
    let t0 = base();
    let mut f = SourceFilter::new(Some(addr("10.0.0.8:4000")), SourceMode::Learn, t0);
    let phone = addr("203.0.113.77:61000");
    let stranger = addr("198.51.100.9:4000");
    for i in 0..10 {
        assert_eq!(
            f.check(phone, t0 + ms(2 * i)),
            Verdict::Drop(DropReason::Learning)
        );
        assert_eq!(
            f.check(stranger, t0 + ms(2 * i + 1)),
            Verdict::Drop(DropReason::Learning)
        );
    }
    assert_eq!(f.locked(), None);
    assert_eq!(learn(&mut f, phone, t0 + ms(100)), Verdict::Accept);
}
