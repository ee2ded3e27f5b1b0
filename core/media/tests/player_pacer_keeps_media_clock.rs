//! The pacer emits frames on time, catches up only a bounded number after
//! a stall, and stamps each frame with its slot on the media clock.

use std::time::{Duration, Instant};

use waihu_media::player::{FRAME, MAX_CATCH_UP, Pacer};

/// Tests need some origin; the pacer itself never reads the clock.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn take(p: &mut Pacer, now: Instant) -> Vec<u32> {
    let n = p.due(now);
    (0..n).map(|_| p.next_timestamp()).collect()
}

#[test]
fn one_frame_per_20ms_with_timestamps_160_apart() {
    let t0 = origin();
    let mut p = Pacer::new(t0, FRAME);
    assert_eq!(p.samples_per_frame(), 160);
    assert_eq!(take(&mut p, t0), [0]);
    assert_eq!(p.next_deadline(), t0 + ms(20));
    assert_eq!(take(&mut p, t0 + ms(19)), Vec::<u32>::new());
    assert_eq!(take(&mut p, t0 + ms(20)), [160]);
    assert_eq!(take(&mut p, t0 + ms(45)), [320]);
    assert_eq!(p.next_deadline(), t0 + ms(60));
    // Before the start nothing is due.
    let mut early = Pacer::new(t0 + ms(100), FRAME);
    assert_eq!(early.due(t0), 0);
}

#[test]
fn after_a_stall_a_bounded_burst_is_sent_and_timestamps_jump_by_the_gap() {
    let t0 = origin();
    let mut p = Pacer::with_initial_timestamp(t0, FRAME, u32::MAX - 200);
    assert_eq!(take(&mut p, t0), [u32::MAX - 200]);
    // Stalled for 1 s: slots 1..=50 are due, only the last five are sent.
    let burst = take(&mut p, t0 + ms(1_000));
    assert_eq!(burst.len(), MAX_CATCH_UP as usize);
    let base = u32::MAX - 200;
    let want: Vec<u32> = (46..=50u32).map(|k| base.wrapping_add(k * 160)).collect();
    assert_eq!(burst, want);
    assert_eq!(p.skipped(), 45);
    assert_eq!(p.frame_index(), 51);
    // And back to one frame per slot, still on the media clock.
    assert_eq!(take(&mut p, t0 + ms(1_020)), [base.wrapping_add(51 * 160)]);
    assert_eq!(p.next_deadline(), t0 + ms(1_040));
}

#[test]
fn frames_not_taken_stay_due_and_do_not_shift_timestamps() {
    let t0 = origin();
    let mut p = Pacer::new(t0, FRAME);
    assert_eq!(p.due(t0 + ms(40)), 3);
    assert_eq!(p.next_timestamp(), 0);
    // The caller sent only one; the other two are still due, same stamps.
    assert_eq!(p.due(t0 + ms(40)), 2);
    assert_eq!(p.peek_timestamp(), 160);
    assert_eq!(take(&mut p, t0 + ms(40)), [160, 320]);
}

#[test]
fn a_frame_length_that_is_not_whole_samples_does_not_drift() {
    let t0 = origin();
    // 30.0625 ms = 240.5 samples: timestamps alternate 240/241 apart.
    let mut p = Pacer::new(
        t0,
        Duration::from_micros(30_062) + Duration::from_nanos(500),
    );
    p.set_max_catch_up(1_000);
    let stamps = take(&mut p, t0 + Duration::from_micros(30_062_500 * 10 / 1_000));
    assert_eq!(stamps.len(), 11);
    assert_eq!(stamps[10], 2_405);
    // A zero frame length is not a division by zero.
    let mut z = Pacer::new(t0, Duration::ZERO);
    assert_eq!(z.due(t0 + ms(3)), MAX_CATCH_UP.min(4));
}
