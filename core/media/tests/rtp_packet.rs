//! RTP packets on the wire: what parses, what is refused, and that writing
//! then reading gives back the same fields.

use waihu_media::rtp::{self, RtpError, RtpHeader};

fn header() -> RtpHeader {
    RtpHeader {
        payload_type: 8,
        marker: true,
        sequence: 0xBEEF,
        timestamp: 0xDEAD_BEEF,
        ssrc: 0x1234_5678,
    }
}

fn valid_packet() -> Vec<u8> {
    let mut out = [0u8; 64];
    let n = rtp::write(&mut out, &header(), &[1, 2, 3, 4, 5]).expect("write");
    out[..n].to_vec()
}

#[test]
fn written_packet_parses_to_the_same_fields() {
    let packet = valid_packet();
    assert_eq!(
        packet[..12],
        [
            0x80, 0x88, 0xBE, 0xEF, 0xDE, 0xAD, 0xBE, 0xEF, 0x12, 0x34, 0x56, 0x78
        ]
    );
    let parsed = rtp::parse(&packet).expect("parse");
    assert_eq!(parsed.header, header());
    assert_eq!(parsed.payload, &[1, 2, 3, 4, 5]);
}

#[test]
fn every_truncation_of_a_valid_packet_is_an_error() {
    // Header with two CSRCs and a one-word extension, so that prefixes
    // stop inside each part.
    let mut packet = vec![0x92, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    packet.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 11]);
    packet.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]);
    let full = rtp::parse(&packet).expect("full packet parses");
    assert!(full.payload.is_empty());
    for len in 0..packet.len() {
        assert!(
            rtp::parse(&packet[..len]).is_err(),
            "prefix of {len} bytes parsed"
        );
    }
    assert_eq!(rtp::parse(&packet[..5]), Err(RtpError::TooShort { len: 5 }));
    assert_eq!(
        rtp::parse(&packet[..16]),
        Err(RtpError::CsrcTruncated {
            needed: 20,
            len: 16
        })
    );
    assert_eq!(
        rtp::parse(&packet[..26]),
        Err(RtpError::ExtensionTruncated {
            needed: 28,
            len: 26
        })
    );
}

#[test]
fn wrong_version_is_rejected() {
    for version in [0u8, 1, 3] {
        let mut packet = valid_packet();
        packet[0] = (packet[0] & 0x3F) | (version << 6);
        assert_eq!(rtp::parse(&packet), Err(RtpError::BadVersion(version)));
    }
}

#[test]
fn padding_is_excluded_from_the_payload() {
    let mut packet = valid_packet();
    packet[0] |= 0x20;
    packet.extend_from_slice(&[0, 0, 3]);
    let parsed = rtp::parse(&packet).expect("padded packet");
    assert_eq!(parsed.payload, &[1, 2, 3, 4, 5]);
}

#[test]
fn padding_bigger_than_the_packet_is_rejected() {
    let mut packet = valid_packet();
    packet[0] |= 0x20;
    // Five payload bytes plus this one can hold at most 6 of padding.
    packet.push(7);
    assert_eq!(
        rtp::parse(&packet),
        Err(RtpError::BadPadding {
            padding: 7,
            available: 6
        })
    );
    *packet.last_mut().expect("byte") = 0;
    assert!(matches!(
        rtp::parse(&packet),
        Err(RtpError::BadPadding { padding: 0, .. })
    ));
    // Padding flag on a bare header: not even the count byte is there.
    let mut bare = packet[..12].to_vec();
    bare[0] |= 0x20;
    assert!(matches!(
        rtp::parse(&bare),
        Err(RtpError::BadPadding { .. })
    ));
}

#[test]
fn write_refuses_a_small_buffer_and_a_bad_payload_type() {
    let mut small = [0u8; 16];
    assert_eq!(
        rtp::write(&mut small, &header(), &[0; 5]),
        Err(RtpError::BufferTooSmall {
            needed: 17,
            available: 16
        })
    );
    let mut out = [0u8; 64];
    let bad = RtpHeader {
        payload_type: 128,
        ..header()
    };
    assert_eq!(
        rtp::write(&mut out, &bad, &[]),
        Err(RtpError::BadPayloadType(128))
    );
}

#[test]
fn rtcp_is_told_apart_by_the_second_octet() {
    assert!(rtp::is_rtcp(&[0x80, 200, 0, 6]));
    assert!(rtp::is_rtcp(&[0x81, 201]));
    assert!(rtp::is_rtcp(&[0x80, 223]));
    assert!(!rtp::is_rtcp(&[0x80, 224]));
    assert!(!rtp::is_rtcp(&[0x80, 191]));
    // PCMU with and without marker, and a dynamic type.
    assert!(!rtp::is_rtcp(&[0x80, 0x00]));
    assert!(!rtp::is_rtcp(&[0x80, 0x80]));
    assert!(!rtp::is_rtcp(&[0x80, 101]));
    assert!(!rtp::is_rtcp(&[0x80]));
    assert!(!rtp::is_rtcp(&[]));
}
