//! What we write parses back to the same description, with CRLF line ends.

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use std::net::IpAddr;

    use waihu_sip::sdp::{Codec, Direction, LocalMedia, Sdp, answer, offer, parse};

    fn local(addr: &str) -> LocalMedia {
        LocalMedia {
            addr: addr.parse::<IpAddr>().expect("ip"),
            port: 30000,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            telephone_event_pt: Some(101),
            ptime_ms: 20,
            session_id: 9_876_543_210,
            session_version: u64::MAX,
            direction: Direction::SendRecv,
        }
    }

    fn assert_round_trip(sdp: &Sdp) -> String {
        let text = sdp.to_string();
        assert!(text.ends_with("\r\n"));
        assert_eq!(
            text.matches('\n').count(),
            text.matches("\r\n").count(),
            "every line ends in CRLF:\n{text}"
        );
        assert_eq!(&parse(text.as_bytes()).expect("parses"), sdp, "{text}");
        text
    }

    #[test]
    fn our_offers_round_trip() {
        for addr in ["203.0.113.5", "2001:db8::5"] {
            for direction in [
                Direction::SendRecv,
                Direction::SendOnly,
                Direction::RecvOnly,
                Direction::Inactive,
            ] {
                for (te, ptime) in [(Some(101), 20), (None, 0), (Some(96), 30)] {
                    let mut l = local(addr);
                    l.direction = direction;
                    l.telephone_event_pt = te;
                    l.ptime_ms = ptime;
                    assert_round_trip(&offer(&l));
                }
            }
        }
    }

    #[test]
    fn offer_lists_codecs_in_our_order_with_telephone_event() {
        let text = assert_round_trip(&offer(&local("203.0.113.5")));
        assert_eq!(
            text,
            "v=0\r\n\
o=- 9876543210 18446744073709551615 IN IP4 203.0.113.5\r\n\
s=waihu\r\n\
c=IN IP4 203.0.113.5\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n"
        );
    }

    #[test]
    fn telephone_event_colliding_with_a_codec_is_left_out() {
        let mut l = local("203.0.113.5");
        l.telephone_event_pt = Some(8);
        let text = offer(&l).to_string();
        assert!(!text.contains("telephone-event"), "{text}");
    }

    #[test]
    fn our_answers_round_trip() {
        let theirs = parse(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=video 9000 RTP/AVP 96\r\nm=audio 8000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        )
        .expect("parses");
        let (ans, _) = answer(&theirs, &local("203.0.113.5")).expect("answers");
        assert_round_trip(&ans);
    }

    #[test]
    fn parsed_foreign_offers_round_trip() {
        let sdp = parse(
        b"v=0\no=alice 00123 0 IN IP4 host.example.com\ns=\ni=info is dropped\nc=IN IP4 224.2.1.1/127\n\
t=3034423619 3042462419\nr=604800 3600 0 90000\na=recvonly\na=tool:x y z\n\
m=audio 49170/2 RTP/AVP 0 96\nb=AS:10\na=rtpmap:96 L8/8000/2\na=empty:\n\
m=application 9 udp *\n",
    )
    .expect("parses");
        assert_eq!(sdp.session_name, "");
        assert_eq!(sdp.media[0].port_count, Some(2));
        assert_round_trip(&sdp);
    }
}
