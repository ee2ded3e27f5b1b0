//! RTCP compound packets: what the writers produce reads back the same,
//! the wire layout matches RFC 3550, and malformed lengths are refused.

use waihu_media::rtcp::{
    self, ReportBlock, RtcpError, RtcpPacket, SenderInfo, packets, write_bye, write_compound_rr,
    write_receiver_report, write_sdes_cname, write_sender_report,
};
use waihu_media::rtp::RtpSender;

fn block(ssrc: u32, cumulative_lost: i32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 12,
        cumulative_lost,
        highest_seq: 0x0001_0010,
        jitter: 37,
        last_sr: 0xAABB_CCDD,
        delay_since_last_sr: 0x0002_0000,
    }
}

fn collect(buf: &[u8]) -> Vec<Result<RtcpPacket<'_>, RtcpError>> {
    packets(buf).collect()
}

#[test]
fn sr_sdes_rr_bye_compound_round_trips() {
    let mut sender = RtpSender::new(0x0102_0304, 0, 0);
    for _ in 0..3 {
        sender.next_header(0, 160, 160);
    }
    let info = SenderInfo::from_sender(&sender, 0xE000_0000_8000_0000, 480);
    assert_eq!((info.packet_count, info.octet_count), (3, 480));
    let blocks = [block(5, -3), block(6, 0x12_3456)];

    let mut buf = [0u8; 512];
    let mut n = write_sender_report(&mut buf, 0x0102_0304, &info, &blocks).expect("SR");
    n += write_sdes_cname(&mut buf[n..], 0x0102_0304, b"pbx@example.net").expect("SDES");
    n += write_receiver_report(&mut buf[n..], 0x0102_0304, &blocks[..1]).expect("RR");
    n += write_bye(&mut buf[n..], &[0x0102_0304, 9], Some(b"hangup")).expect("BYE");
    assert_eq!(n % 4, 0);

    let parsed = collect(&buf[..n]);
    assert_eq!(parsed.len(), 4);
    let Ok(RtcpPacket::SenderReport(sr)) = parsed[0] else {
        panic!("not an SR: {:?}", parsed[0]);
    };
    assert_eq!(sr.ssrc, 0x0102_0304);
    assert_eq!(sr.info, info);
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), blocks);
    let Ok(RtcpPacket::SourceDescription(sdes)) = parsed[1] else {
        panic!("not SDES: {:?}", parsed[1]);
    };
    assert_eq!(sdes.cname_of(0x0102_0304), Some(&b"pbx@example.net"[..]));
    assert_eq!(sdes.chunks().count(), 1);
    let Ok(RtcpPacket::ReceiverReport(rr)) = parsed[2] else {
        panic!("not an RR: {:?}", parsed[2]);
    };
    assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks[..1]);
    let Ok(RtcpPacket::Bye(bye)) = parsed[3] else {
        panic!("not a BYE: {:?}", parsed[3]);
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), [0x0102_0304, 9]);
    assert_eq!(bye.reason, Some(&b"hangup"[..]));
}

#[test]
fn compound_rr_is_receiver_report_then_cname() {
    let mut buf = [0u8; 256];
    let n = write_compound_rr(&mut buf, 77, &[block(5, 1)], b"x").expect("compound");
    let parsed = collect(&buf[..n]);
    assert!(matches!(parsed[0], Ok(RtcpPacket::ReceiverReport(rr)) if rr.ssrc == 77));
    assert!(
        matches!(parsed[1], Ok(RtcpPacket::SourceDescription(s)) if s.cname_of(77) == Some(b"x"))
    );
    assert_eq!(parsed.len(), 2);
}

#[test]
fn receiver_report_wire_layout_matches_rfc_3550() {
    let mut buf = [0xFFu8; 64];
    let n = write_receiver_report(&mut buf, 0x1122_3344, &[block(0x5566_7788, -2)]).expect("RR");
    #[rustfmt::skip]
    let expected = [
        0x81, 201, 0x00, 0x07,                  // V=2, RC=1, RR, 7 words follow
        0x11, 0x22, 0x33, 0x44,                 // sender SSRC
        0x55, 0x66, 0x77, 0x88,                 // reportee SSRC
        12, 0xFF, 0xFF, 0xFE,                   // fraction, cumulative lost -2
        0x00, 0x01, 0x00, 0x10,                 // extended highest sequence
        0x00, 0x00, 0x00, 37,                   // jitter
        0xAA, 0xBB, 0xCC, 0xDD,                 // LSR
        0x00, 0x02, 0x00, 0x00,                 // DLSR
    ];
    assert_eq!(&buf[..n], &expected);
}

#[test]
fn sdes_cname_is_null_terminated_and_word_aligned() {
    // Item of 2 + 2 bytes fills the word exactly, so a whole word of
    // nulls must follow to end the item list.
    let mut buf = [0xFFu8; 64];
    let n = write_sdes_cname(&mut buf, 1, b"ab").expect("SDES");
    assert_eq!(
        &buf[..n],
        &[0x81, 202, 0, 3, 0, 0, 0, 1, 1, 2, b'a', b'b', 0, 0, 0, 0]
    );
}

#[test]
fn cumulative_lost_saturates_to_24_bits() {
    let mut buf = [0u8; 64];
    for (written, read) in [
        (i32::MAX, 0x7F_FFFF),
        (i32::MIN, -0x80_0000),
        (-1, -1),
        (0x7F_FFFF, 0x7F_FFFF),
    ] {
        let n = write_receiver_report(&mut buf, 1, &[block(2, written)]).expect("RR");
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = packets(&buf[..n]).next() else {
            panic!("RR did not parse");
        };
        assert_eq!(
            rr.report_blocks().next().map(|b| b.cumulative_lost),
            Some(read)
        );
    }
}

#[test]
fn app_and_unknown_types_are_skipped_over() {
    let mut buf = vec![0x80, 204, 0, 2, 0, 0, 0, 1, b'n', b'a', b'm', b'e'];
    buf.extend_from_slice(&[0x80, 210, 0, 0]);
    let mut rr = [0u8; 8];
    write_receiver_report(&mut rr, 3, &[]).expect("RR");
    buf.extend_from_slice(&rr);
    let parsed = collect(&buf);
    assert!(
        matches!(parsed[0], Ok(RtcpPacket::Other { packet_type: 204, body, .. }) if body.len() == 8)
    );
    assert!(matches!(
        parsed[1],
        Ok(RtcpPacket::Other {
            packet_type: 210,
            ..
        })
    ));
    assert!(matches!(parsed[2], Ok(RtcpPacket::ReceiverReport(rr)) if rr.ssrc == 3));
}

#[test]
fn length_past_the_end_is_rejected_and_ends_iteration() {
    let mut buf = [0u8; 128];
    let n = write_compound_rr(&mut buf, 1, &[block(2, 0)], b"cname").expect("compound");
    // The RR alone (32 bytes) is a complete packet; every other prefix
    // cuts one.
    for len in (1..n).filter(|&len| len != 32) {
        let parsed = collect(&buf[..len]);
        assert!(
            parsed.last().is_some_and(Result::is_err),
            "prefix of {len} bytes parsed cleanly: {parsed:?}"
        );
    }
    // The SDES length field claims one word more than there is.
    assert_eq!(n, 48);
    buf[35] += 1;
    let parsed = collect(&buf[..n]);
    assert!(parsed[0].is_ok());
    assert_eq!(
        parsed[1..],
        [Err(RtcpError::Truncated {
            needed: 20,
            available: 16
        })]
    );
}

#[test]
fn wrong_version_is_rejected() {
    assert_eq!(collect(&[0x41, 201, 0, 0]), [Err(RtcpError::BadVersion(1))]);
}

#[test]
fn report_count_larger_than_the_length_is_rejected() {
    let mut buf = [0u8; 64];
    let n = write_receiver_report(&mut buf, 1, &[block(2, 0)]).expect("RR");
    buf[0] = 0x82;
    assert_eq!(
        collect(&buf[..n]),
        [Err(RtcpError::CountMismatch {
            packet_type: 201,
            count: 2,
            len: 28
        })]
    );
    // An SR too short for its sender information.
    assert!(matches!(
        collect(&[0x80, 200, 0, 1, 0, 0, 0, 1])[..],
        [Err(RtcpError::CountMismatch {
            packet_type: 200,
            ..
        })]
    ));
    // A BYE counting two sources but carrying one.
    assert!(matches!(
        collect(&[0x82, 203, 0, 1, 0, 0, 0, 1])[..],
        [Err(RtcpError::CountMismatch {
            packet_type: 203,
            ..
        })]
    ));
}

#[test]
fn sdes_chunk_running_past_its_packet_is_rejected() {
    // Item claims 9 bytes of text, the packet has 2 after it.
    let buf = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b'];
    assert_eq!(collect(&buf), [Err(RtcpError::BadSdes)]);
    // No END octet before the packet ends.
    let buf = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b'];
    assert_eq!(collect(&buf), [Err(RtcpError::BadSdes)]);
    // Two chunks announced, one present.
    let buf = [0x82, 202, 0, 2, 0, 0, 0, 1, 1, 1, b'a', 0];
    assert_eq!(collect(&buf), [Err(RtcpError::BadSdes)]);
}

#[test]
fn bye_reason_running_past_its_packet_is_rejected() {
    let buf = [0x81, 203, 0, 2, 0, 0, 0, 1, 5, b'b', b'y', b'e'];
    assert_eq!(collect(&buf), [Err(RtcpError::BadByeReason)]);
}

#[test]
fn padding_is_removed_and_bad_padding_rejected() {
    // An RR with no blocks plus one word of padding.
    let padded = [0xA0, 201, 0, 2, 0, 0, 0, 7, 0, 0, 0, 4];
    assert!(matches!(collect(&padded)[..], [Ok(RtcpPacket::ReceiverReport(rr))] if rr.ssrc == 7));
    let too_much = [0xA0, 201, 0, 2, 0, 0, 0, 7, 0, 0, 0, 9];
    assert_eq!(
        collect(&too_much),
        [Err(RtcpError::BadPadding { padding: 9, len: 8 })]
    );
    let zero = [0xA0, 201, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0];
    assert_eq!(
        collect(&zero),
        [Err(RtcpError::BadPadding { padding: 0, len: 8 })]
    );
}

#[test]
fn writers_refuse_what_does_not_fit() {
    let mut buf = [0u8; 2048];
    let blocks = [block(1, 0); 32];
    assert_eq!(
        write_receiver_report(&mut buf, 1, &blocks),
        Err(RtcpError::TooMany(32))
    );
    assert_eq!(
        write_sdes_cname(&mut buf, 1, &[b'a'; 256]),
        Err(RtcpError::TextTooLong(256))
    );
    assert_eq!(
        write_bye(&mut buf, &[1], Some(&[b'a'; 300])),
        Err(RtcpError::TextTooLong(300))
    );
    assert_eq!(
        write_receiver_report(&mut buf[..20], 1, &blocks[..1]),
        Err(RtcpError::BufferTooSmall {
            needed: 32,
            available: 20
        })
    );
    assert_eq!(
        write_compound_rr(&mut buf[..40], 1, &blocks[..1], b"cname"),
        Err(RtcpError::BufferTooSmall {
            needed: 48,
            available: 40
        })
    );
    // Full 31 blocks and a 255-byte CNAME fit.
    assert!(write_compound_rr(&mut buf, 1, &blocks[..31], &[b'a'; 255]).is_ok());
}

#[test]
fn ntp_middle_takes_the_16_16_seconds() {
    assert_eq!(rtcp::ntp_middle(0x1234_5678_9ABC_DEF0), 0x5678_9ABC);
}
