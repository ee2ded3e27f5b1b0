//! Per-leg RTCP state: what the far end said about our stream, the round
//! trip derived from it, and the LSR/DLSR we owe it.

use waihu_media::rtcp::{
    ReportBlock, RtcpLeg, SenderInfo, write_bye, write_compound_sr, write_receiver_report,
};
use waihu_media::rtp::{ReceiveStats, RtpHeader};

const OURS: u32 = 0xAAAA;
const THEIRS: u32 = 0xBBBB;

/// NTP time from seconds and 1/65536 fractions.
fn ntp(seconds: u32, frac16: u16) -> u64 {
    (u64::from(seconds) << 32) | (u64::from(frac16) << 16)
}

#[test]
fn sender_report_gives_lsr_and_dlsr_for_our_next_report() {
    let mut leg = RtcpLeg::new(Some(OURS));
    assert_eq!(leg.lsr_dlsr(ntp(100, 0)), (0, 0));
    let info = SenderInfo {
        ntp_timestamp: ntp(0x0001_0005, 0x4000),
        rtp_timestamp: 1,
        packet_count: 2,
        octet_count: 3,
    };
    let mut buf = [0u8; 128];
    let n = write_compound_sr(&mut buf, THEIRS, &info, &[], b"far").expect("SR");
    leg.on_rtcp(&buf[..n], ntp(50, 0)).expect("valid");
    assert_eq!(leg.remote_ssrc(), Some(THEIRS));
    assert_eq!(leg.remote_sender(), Some(info));
    // 1.5 s after it arrived.
    assert_eq!(leg.lsr_dlsr(ntp(51, 0x8000)), (0x0005_4000, 0x0001_8000));
}

#[test]
fn report_about_our_stream_gives_loss_jitter_and_round_trip() {
    let mut leg = RtcpLeg::new(Some(OURS));
    // We sent an SR at t=10.0; they held it 0.25 s; their RR reaches us
    // at t=10.75, so the round trip is 0.5 s.
    let ours = ReportBlock {
        ssrc: OURS,
        fraction_lost: 26,
        cumulative_lost: 40,
        highest_seq: 1000,
        jitter: 80,
        last_sr: 0x000A_0000,
        delay_since_last_sr: 0x0000_4000,
    };
    let other = ReportBlock {
        ssrc: 0xCCCC,
        ..ReportBlock::default()
    };
    let mut buf = [0u8; 128];
    let n = write_receiver_report(&mut buf, THEIRS, &[other, ours]).expect("RR");
    leg.on_rtcp(&buf[..n], ntp(10, 0xC000)).expect("valid");
    assert_eq!(leg.remote_report(), Some(ours));
    assert_eq!(leg.round_trip(), Some(0x8000));
    assert_eq!(leg.reports_received(), 1);

    let mut measured = ReceiveStats::new();
    for seq in [1u16, 2, 3, 5] {
        measured.on_packet(
            &RtpHeader {
                payload_type: 0,
                marker: false,
                sequence: seq,
                timestamp: u32::from(seq) * 160,
                ssrc: THEIRS,
            },
            u32::from(seq) * 160,
        );
    }
    let quality = leg.quality(&measured);
    assert_eq!(quality.remote_fraction_lost, Some(26));
    assert_eq!(quality.remote_cumulative_lost, Some(40));
    assert_eq!(quality.remote_jitter, Some(80));
    assert_eq!(quality.round_trip, Some(0x8000));
    assert_eq!(
        (quality.received, quality.expected, quality.lost),
        (3, 4, 1)
    );
}

#[test]
fn report_without_our_sender_report_gives_no_round_trip() {
    let mut leg = RtcpLeg::new(None);
    let block = ReportBlock {
        ssrc: 1,
        ..ReportBlock::default()
    };
    let mut buf = [0u8; 64];
    let n = write_receiver_report(&mut buf, THEIRS, &[block]).expect("RR");
    leg.on_rtcp(&buf[..n], ntp(10, 0)).expect("valid");
    assert_eq!(leg.remote_report(), Some(block));
    assert_eq!(leg.round_trip(), None);
}

#[test]
fn bye_from_the_far_source_is_noted() {
    let mut leg = RtcpLeg::new(Some(OURS));
    let mut buf = [0u8; 64];
    let n = write_receiver_report(&mut buf, THEIRS, &[]).expect("RR");
    leg.on_rtcp(&buf[..n], 0).expect("valid");
    let n = write_bye(&mut buf, &[0x9999], None).expect("BYE");
    leg.on_rtcp(&buf[..n], 0).expect("valid");
    assert!(!leg.bye_received(), "BYE for another source");
    let n = write_bye(&mut buf, &[THEIRS], None).expect("BYE");
    leg.on_rtcp(&buf[..n], 0).expect("valid");
    assert!(leg.bye_received());
}

#[test]
fn packets_before_a_malformed_one_are_still_used() {
    let mut leg = RtcpLeg::new(None);
    let mut buf = [0u8; 64];
    let n = write_receiver_report(
        &mut buf,
        THEIRS,
        &[ReportBlock {
            ssrc: OURS,
            jitter: 5,
            ..ReportBlock::default()
        }],
    )
    .expect("RR");
    buf[n..n + 4].copy_from_slice(&[0x80, 202, 0, 9]);
    assert!(leg.on_rtcp(&buf[..n + 4], 0).is_err());
    assert_eq!(leg.remote_report().map(|b| b.jitter), Some(5));
}
