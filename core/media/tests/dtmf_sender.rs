//! DtmfSender: the RFC 4733 packet sequence, and the round trip through
//! DtmfReceiver.

use waihu_media::dtmf::{
    DtmfError, DtmfPacket, DtmfReceiver, DtmfSender, DtmfSenderConfig, TelephoneEvent,
};

/// Ticks every 160 units from `start` until the sender has been idle for
/// a while; returns (tick timestamp, packet) for every tick.
fn run(tx: &mut DtmfSender, start: u32, ticks: usize) -> Vec<(u32, Option<DtmfPacket>)> {
    (0..ticks)
        .map(|i| {
            let now = start.wrapping_add(160 * i as u32);
            (now, tx.tick(now))
        })
        .collect()
}

fn parse(p: &DtmfPacket) -> TelephoneEvent {
    TelephoneEvent::parse(&p.payload).unwrap_or(TelephoneEvent {
        event: 255,
        end: false,
        volume: 0,
        duration: 0,
    })
}

#[test]
fn one_digit_packet_timing() {
    let mut tx = DtmfSender::default();
    assert!(tx.is_idle());
    assert_eq!(tx.queue("5"), Ok(()));
    let out = run(&mut tx, 10_000, 12);
    let sent: Vec<_> = out.iter().filter_map(|(_, p)| *p).collect();
    assert_eq!(sent.len(), 7);
    // All packets share the start timestamp; only the first has a marker.
    assert!(sent.iter().all(|p| p.rtp_timestamp == 10_000));
    assert!(sent[0].marker);
    assert!(sent[1..].iter().all(|p| !p.marker));
    let evs: Vec<_> = sent.iter().map(parse).collect();
    assert!(evs.iter().all(|e| e.event == 5 && e.volume == 10));
    let durations: Vec<u16> = evs.iter().map(|e| e.duration).collect();
    assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
    let ends: Vec<bool> = evs.iter().map(|e| e.end).collect();
    assert_eq!(ends, vec![false, false, false, false, true, true, true]);
    // Packets on consecutive ticks, then nothing.
    assert!(out[..7].iter().all(|(_, p)| p.is_some()));
    assert!(out[7..].iter().all(|(_, p)| p.is_none()));
    assert!(tx.is_idle());
}

#[test]
fn pause_between_digits_is_60_ms_after_tone_end() {
    let mut tx = DtmfSender::default();
    assert_eq!(tx.queue("12"), Ok(()));
    let out = run(&mut tx, 0, 20);
    let starts: Vec<u32> = out
        .iter()
        .filter_map(|(now, p)| p.filter(|p| p.marker).map(|_| *now))
        .collect();
    assert_eq!(starts, vec![0, 800 + 480]);
    let second: Vec<_> = out.iter().filter_map(|(_, p)| *p).skip(7).collect();
    assert_eq!(second.len(), 7);
    assert!(second.iter().all(|p| p.rtp_timestamp == 1280));
    assert!(second.iter().all(|p| parse(p).event == 2));
}

#[test]
fn late_tick_reports_elapsed_duration() {
    let mut tx = DtmfSender::default();
    assert_eq!(tx.queue("1"), Ok(()));
    let a = tx.tick(0).map(|p| parse(&p).duration);
    let b = tx.tick(480).map(|p| parse(&p).duration); // two ticks late
    assert_eq!((a, b), (Some(160), Some(640)));
}

#[test]
fn sender_timestamp_wraps() {
    let mut tx = DtmfSender::default();
    assert_eq!(tx.queue("#"), Ok(()));
    let start = u32::MAX - 200;
    let sent: Vec<_> = run(&mut tx, start, 10)
        .into_iter()
        .filter_map(|(_, p)| p)
        .collect();
    assert_eq!(sent.len(), 7);
    assert_eq!(parse(&sent[6]).duration, 800);
}

#[test]
fn invalid_digits_and_overflow_queue_nothing() {
    let mut tx = DtmfSender::default();
    assert_eq!(tx.queue("12x"), Err(DtmfError::NotADigit('x')));
    assert!(tx.is_idle());
    let long = "1".repeat(DtmfSender::MAX_QUEUED + 1);
    assert_eq!(tx.queue(&long), Err(DtmfError::QueueFull));
    assert!(tx.is_idle());
    assert_eq!(tx.queue("abcd"), Ok(()));
}

#[test]
fn cancel_still_ends_the_digit_in_progress() {
    let mut tx = DtmfSender::default();
    assert_eq!(tx.queue("123"), Ok(()));
    tx.tick(0);
    tx.cancel();
    let sent: Vec<_> = run(&mut tx, 160, 30)
        .into_iter()
        .filter_map(|(_, p)| p)
        .collect();
    assert_eq!(sent.len(), 6);
    assert!(sent.iter().all(|p| parse(p).event == 1));
    assert!(parse(&sent[5]).end);
}

#[test]
fn custom_tone_length() {
    let mut tx = DtmfSender::new(DtmfSenderConfig {
        tone_ms: 50,
        ..DtmfSenderConfig::default()
    });
    assert_eq!(tx.queue("0"), Ok(()));
    let d: Vec<(u16, bool)> = run(&mut tx, 0, 10)
        .into_iter()
        .filter_map(|(_, p)| p)
        .map(|p| (parse(&p).duration, parse(&p).end))
        .collect();
    assert_eq!(
        d,
        vec![
            (160, false),
            (320, false),
            (400, true),
            (400, true),
            (400, true)
        ]
    );
}

#[test]
fn sender_to_receiver_round_trip() {
    let mut tx = DtmfSender::default();
    let mut rx = DtmfReceiver::default();
    assert_eq!(tx.queue("0123456789*#"), Ok(()));
    let mut got = String::new();
    let start = u32::MAX - 5000; // and across the wrap
    for (now, p) in run(&mut tx, start, 200) {
        if let Some(p) = p {
            let e = parse(&p);
            got.extend(rx.push(p.marker, p.rtp_timestamp, &e).map(|d| d.digit));
        }
        got.extend(rx.flush(now).map(|d| d.digit));
    }
    assert_eq!(got, "0123456789*#");
    assert!(tx.is_idle());
}

#[test]
fn round_trip_with_lost_end_packets() {
    let mut tx = DtmfSender::default();
    let mut rx = DtmfReceiver::default();
    assert_eq!(tx.queue("0123456789*#ABCD"), Ok(()));
    let mut got = String::new();
    for (now, p) in run(&mut tx, 77, 300) {
        if let Some(p) = p {
            let e = parse(&p);
            if e.end {
                continue;
            }
            got.extend(rx.push(p.marker, p.rtp_timestamp, &e).map(|d| d.digit));
        }
        got.extend(rx.flush(now).map(|d| d.digit));
    }
    assert_eq!(got, "0123456789*#ABCD");
}
