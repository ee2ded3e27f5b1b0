//! Outgoing numbering: sequence and timestamp advance and wrap, gaps move
//! the timestamp and set the marker, and the SR counters follow.

use waihu_media::rtp::RtpSender;

#[test]
fn first_packet_carries_the_marker_and_the_next_do_not() {
    let mut sender = RtpSender::new(7, 100, 1000);
    let first = sender.next_header(0, 160, 160);
    assert!(first.marker);
    assert_eq!(
        (first.sequence, first.timestamp, first.ssrc),
        (100, 1000, 7)
    );
    let second = sender.next_header(0, 160, 160);
    assert!(!second.marker);
    assert_eq!((second.sequence, second.timestamp), (101, 1160));
}

#[test]
fn marker_set_after_a_gap_and_timestamp_advanced_by_the_silence() {
    let mut sender = RtpSender::new(7, 0, 0);
    sender.next_header(0, 160, 160);
    sender.next_header(0, 160, 160);
    // Ten frames of silence suppressed.
    sender.skip(1600);
    let resumed = sender.next_header(0, 160, 160);
    assert!(resumed.marker);
    assert_eq!(resumed.sequence, 2, "no packets were sent in the gap");
    assert_eq!(resumed.timestamp, 320 + 1600);
    assert!(!sender.next_header(0, 160, 160).marker);
}

#[test]
fn sequence_and_timestamp_wrap() {
    let mut sender = RtpSender::new(7, 65535, u32::MAX - 99);
    let a = sender.next_header(0, 160, 160);
    let b = sender.next_header(0, 160, 160);
    assert_eq!((a.sequence, a.timestamp), (65535, u32::MAX - 99));
    assert_eq!((b.sequence, b.timestamp), (0, 60));
}

#[test]
fn packets_and_octets_are_counted_for_sender_reports() {
    let mut sender = RtpSender::new(7, 0, 0);
    sender.next_header(0, 160, 160);
    sender.skip(320);
    sender.next_header(101, 0, 4);
    assert_eq!(sender.packets_sent(), 2);
    assert_eq!(sender.octets_sent(), 164);
    assert_eq!(sender.next_sequence(), 2);
    assert_eq!(sender.next_timestamp(), 480);
}
