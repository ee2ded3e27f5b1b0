//! DtmfReceiver: one report per key press whatever the network does to
//! the packets.

use waihu_media::dtmf::{
    DtmfDigit, DtmfReceiver, DtmfReceiverConfig, TelephoneEvent, digit_to_event, event_to_digit,
};

const ALL: &str = "0123456789*#ABCD";

fn ev(event: u8, end: bool, duration: u16) -> TelephoneEvent {
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
}

/// The packets a well-behaved sender emits for one 100 ms press starting
/// at `ts`: (marker, timestamp, event).
fn press(event: u8, ts: u32) -> Vec<(bool, u32, TelephoneEvent)> {
    let mut v = Vec::new();
    for i in 1..=4u16 {
        v.push((i == 1, ts, ev(event, false, 160 * i)));
    }
    for _ in 0..3 {
        v.push((false, ts, ev(event, true, 800)));
    }
    v
}

fn feed(rx: &mut DtmfReceiver, packets: &[(bool, u32, TelephoneEvent)]) -> Vec<DtmfDigit> {
    let mut out = Vec::new();
    for (m, ts, e) in packets {
        out.extend(rx.push(*m, *ts, e));
    }
    out
}

fn digits(d: &[DtmfDigit]) -> String {
    d.iter().map(|d| d.digit).collect()
}

#[test]
fn event_codes_map_to_digits_and_back() {
    for (code, c) in ALL.chars().enumerate() {
        let code = code as u8;
        assert_eq!(event_to_digit(code), Some(c));
        assert_eq!(digit_to_event(c), Some(code));
    }
    assert_eq!(digit_to_event('a'), Some(12));
    assert_eq!(event_to_digit(16), None);
    assert_eq!(event_to_digit(255), None);
    assert_eq!(digit_to_event('E'), None);
}

#[test]
fn every_digit_with_three_end_packets_is_reported_once() {
    let mut rx = DtmfReceiver::default();
    let mut ts = 1000u32;
    for (code, c) in ALL.chars().enumerate() {
        let got = feed(&mut rx, &press(code as u8, ts));
        assert_eq!(
            got,
            vec![DtmfDigit {
                digit: c,
                duration: 800,
                volume: 10
            }]
        );
        ts += 1600;
        assert_eq!(rx.flush(ts + 8000), None);
    }
}

#[test]
fn report_comes_at_the_first_end_packet() {
    let mut rx = DtmfReceiver::default();
    let p = press(5, 0);
    for (m, ts, e) in &p[..4] {
        assert_eq!(rx.push(*m, *ts, e).count(), 0);
    }
    assert_eq!(
        digits(&rx.push(p[4].0, p[4].1, &p[4].2).collect::<Vec<_>>()),
        "5"
    );
}

#[test]
fn lost_end_packets_reported_once_at_next_event() {
    let mut rx = DtmfReceiver::default();
    let mut p = press(1, 0);
    p.truncate(4);
    let mut got = feed(&mut rx, &p);
    assert!(got.is_empty());
    got.extend(feed(&mut rx, &press(2, 1600)));
    assert_eq!(digits(&got), "12");
    assert_eq!(got[0].duration, 640);
    assert_eq!(rx.flush(100_000), None);
}

#[test]
fn lost_end_packets_reported_once_by_flush_after_timeout() {
    let mut rx = DtmfReceiver::default();
    let mut p = press(7, 5000);
    p.truncate(4);
    assert!(feed(&mut rx, &p).is_empty());
    // Heard until 5000 + 640; 200 ms is 1600 units.
    assert_eq!(rx.flush(5000 + 640 + 1600), None);
    let d = rx.flush(5000 + 640 + 1601).map(|d| d.digit);
    assert_eq!(d, Some('7'));
    assert_eq!(rx.flush(5000 + 640 + 5000), None);
    // Late end packets of the flushed event change nothing.
    assert!(feed(&mut rx, &press(7, 5000)).is_empty());
}

#[test]
fn flush_before_timeout_and_without_events_reports_nothing() {
    let mut rx = DtmfReceiver::default();
    assert_eq!(rx.flush(0), None);
    rx.push(true, 100, &ev(3, false, 160));
    assert_eq!(rx.flush(100 + 160 + 800), None);
    // A `now` behind the event (caller's clock behind) is not a timeout.
    assert_eq!(rx.flush(50), None);
}

#[test]
fn duplicated_packets_reported_once() {
    let mut rx = DtmfReceiver::default();
    let mut p = Vec::new();
    for pkt in press(9, 42) {
        p.push(pkt);
        p.push(pkt);
    }
    assert_eq!(digits(&feed(&mut rx, &p)), "9");
}

#[test]
fn reordered_packets_reported_once_with_longest_duration() {
    let mut rx = DtmfReceiver::default();
    let p = press(4, 42);
    // Continuations arrive out of order; a delayed start and continuation
    // come after the end packets.
    let order = [0usize, 2, 1, 4, 3, 5, 6];
    let shuffled: Vec<_> = order.iter().map(|&i| p[i]).collect();
    let got = feed(&mut rx, &shuffled);
    assert_eq!(digits(&got), "4");
    assert_eq!(got[0].duration, 800);

    // Packets of an older event arriving after a newer one has started.
    let mut rx = DtmfReceiver::default();
    let a = press(1, 1000);
    let b = press(2, 3000);
    let mut seq = vec![a[0], a[1], a[4], b[0]];
    seq.extend_from_slice(&a[5..]);
    seq.push(a[2]);
    seq.extend_from_slice(&b[1..]);
    assert_eq!(digits(&feed(&mut rx, &seq)), "12");
}

#[test]
fn same_digit_twice_is_reported_twice() {
    let mut rx = DtmfReceiver::default();
    let mut p = press(5, 0);
    p.extend(press(5, 1600));
    assert_eq!(digits(&feed(&mut rx, &p)), "55");

    // Even when the first press lost its end packets.
    let mut rx = DtmfReceiver::default();
    let mut p = press(5, 0);
    p.truncate(4);
    p.extend(press(5, 1600));
    assert_eq!(digits(&feed(&mut rx, &p)), "55");
}

#[test]
fn timestamp_wrap_around() {
    let mut rx = DtmfReceiver::default();
    let t1 = u32::MAX - 1000;
    let t2 = t1.wrapping_add(1600);
    let t3 = t2.wrapping_add(1600);
    let mut p = press(1, t1);
    p.truncate(3);
    p.extend(press(2, t2));
    // A stale packet of the event before the wrap, after the wrap.
    p.push((false, t1, ev(1, true, 800)));
    p.extend(press(3, t3));
    assert_eq!(digits(&feed(&mut rx, &p)), "123");
    let mut p = press(4, 200_000);
    p.truncate(2);
    feed(&mut rx, &p);
    assert_eq!(rx.flush(200_000 + 320 + 1600), None);
    assert_eq!(rx.flush(200_000 + 320 + 1601).map(|d| d.digit), Some('4'));

    // flush across the wrap.
    let mut rx = DtmfReceiver::default();
    rx.push(true, u32::MAX - 100, &ev(8, false, 160));
    assert_eq!(rx.flush(59 + 1600), None);
    assert_eq!(rx.flush(59 + 1601).map(|d| d.digit), Some('8'));
}

#[test]
fn unknown_events_are_ignored_and_counted_once_each() {
    let mut rx = DtmfReceiver::default();
    let mut p = press(16, 0); // hook flash
    p.extend(press(32, 1600)); // fax CNG ... any non-DTMF code
    p.extend(press(255, 3200));
    p.extend(press(0, 4800));
    assert_eq!(digits(&feed(&mut rx, &p)), "0");
    assert_eq!(rx.unknown_events(), 3);
    assert_eq!(rx.flush(1_000_000), None);
}

#[test]
fn unknown_event_ends_a_digit_whose_end_was_lost() {
    let mut rx = DtmfReceiver::default();
    let mut p = press(6, 0);
    p.truncate(2);
    p.extend(press(16, 1600));
    assert_eq!(digits(&feed(&mut rx, &p)), "6");
}

#[test]
fn storm_of_1000_events_in_one_second_is_capped_and_counted() {
    let mut rx = DtmfReceiver::default();
    let mut reported = 0;
    for i in 0..1000u32 {
        let ts = i * 8; // 1 ms apart: 1000 events within 8000 units
        reported += rx.push(true, ts, &ev((i % 16) as u8, true, 8)).count();
    }
    assert_eq!(reported, 20);
    assert_eq!(rx.dropped_storm(), 980);

    // The window slides: a second later digits flow again.
    let n = rx.push(true, 8000 * 2, &ev(1, true, 8)).count();
    assert_eq!(n, 1);
}

#[test]
fn storm_limit_is_configurable() {
    let mut rx = DtmfReceiver::new(DtmfReceiverConfig {
        max_digits_per_second: 5,
        ..DtmfReceiverConfig::default()
    });
    let mut reported = 0;
    for i in 0..100u32 {
        // Each press loses its end packets: reported via the next one.
        reported += rx.push(true, i * 80, &ev(2, false, 80)).count();
    }
    reported += rx.flush(100 * 80 + 10_000).into_iter().count();
    assert_eq!(reported, 5);
    assert_eq!(rx.dropped_storm(), 95);
}

#[test]
fn long_press_split_into_segments_is_one_digit() {
    let mut rx = DtmfReceiver::default();
    let mut got = Vec::new();
    // First segment grows up to 0xFFFF without an end bit.
    got.extend(rx.push(true, 0, &ev(3, false, 160)));
    got.extend(rx.push(false, 0, &ev(3, false, 0xFFFF)));
    // Next segment: new timestamp, no marker, same event.
    got.extend(rx.push(false, 0xFFFF, &ev(3, false, 160)));
    got.extend(rx.push(false, 0xFFFF, &ev(3, true, 1000)));
    got.extend(rx.push(false, 0xFFFF, &ev(3, true, 1000)));
    assert_eq!(digits(&got), "3");
    assert_eq!(got[0].duration, u16::MAX);
}

#[test]
fn restarted_sender_clock_is_a_new_event_not_stale() {
    let mut rx = DtmfReceiver::default();
    let mut p = press(1, 3_000_000_000);
    p.extend(press(2, 5)); // far "behind": a new stream
    assert_eq!(digits(&feed(&mut rx, &p)), "12");
}

#[test]
fn reset_forgets_without_reporting() {
    let mut rx = DtmfReceiver::default();
    rx.push(true, 0, &ev(1, false, 160));
    rx.reset();
    assert_eq!(rx.flush(1_000_000), None);
    assert_eq!(digits(&feed(&mut rx, &press(2, 0))), "2");
}
