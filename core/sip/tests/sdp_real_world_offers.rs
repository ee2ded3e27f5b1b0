//! Offers as common phones and tools send them are parsed and answered.

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use std::net::{IpAddr, SocketAddr};

    use waihu_sip::sdp::{Codec, Direction, LocalMedia, answer, parse};

    fn local() -> LocalMedia {
        LocalMedia {
            addr: IpAddr::from([203, 0, 113, 5]),
            port: 30000,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            telephone_event_pt: Some(101),
            ptime_ms: 0,
            session_id: 42,
            session_version: 1,
            direction: Direction::SendRecv,
        }
    }

    const DESK_PHONE: &str = "v=0\r\n\
o=- 20086 20086 IN IP4 192.0.2.50\r\n\
s=SDP data\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
m=audio 11780 RTP/AVP 9 0 8 18 101\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

    #[test]
    fn desk_phone_offer_takes_first_supported_codec_in_offerer_order() {
        let offer = parse(DESK_PHONE.as_bytes()).expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        // We prefer PCMA, but the offerer listed PCMU first (RFC 3264 section 6.1).
        assert_eq!(neg.codec, Codec::Pcmu);
        assert_eq!(neg.payload_type, 0);
        assert_eq!(neg.telephone_event_pt, Some(101));
        assert_eq!(neg.ptime_ms, 20);
        assert_eq!(neg.direction, Direction::SendRecv);
        assert_eq!(neg.remote, Some(SocketAddr::from(([192, 0, 2, 50], 11780))));
        let text = ans.to_string();
        assert!(text.contains("m=audio 30000 RTP/AVP 0 101\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:101 telephone-event/8000\r\n"),
            "{text}"
        );
        assert!(text.contains("c=IN IP4 203.0.113.5\r\n"), "{text}");
        assert!(text.contains("a=sendrecv\r\n"), "{text}");
    }

    #[test]
    fn sipp_default_offer_with_static_payload_type_only() {
        let offer = parse(
            b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n",
        )
        .expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.codec, Codec::Pcmu);
        assert_eq!(neg.payload_type, 0);
        assert_eq!(neg.telephone_event_pt, None);
        assert_eq!(neg.ptime_ms, 20);
        assert_eq!(neg.remote, Some(SocketAddr::from(([127, 0, 0, 1], 6000))));
        assert!(!ans.to_string().contains("telephone-event"));
    }

    #[test]
    fn baresip_offer_with_opus_first_and_extra_attributes() {
        let offer = parse(
            b"v=0\r\n\
o=- 3184823512 3679129931 IN IP4 198.51.100.7\r\n\
s=-\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 10002 RTP/AVP 96 9 0 8 101\r\n\
b=AS:64\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:1263517331 cname:1e6b21f8-2a44-4f4b-a3a5-0d2e1a7c9a61\r\n\
a=rtcp-rsize\r\n\
a=x-vendor-thing\r\n",
        )
        .expect("parses");
        let (_, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.codec, Codec::Pcmu);
        assert_eq!(neg.telephone_event_pt, Some(101));
    }

    #[test]
    fn ipv6_offer() {
        let offer = parse(
            b"v=0\r\no=- 1 1 IN IP6 2001:db8::10\r\ns=-\r\nc=IN IP6 2001:db8::10\r\nt=0 0\r\n\
m=audio 7078 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
        )
        .expect("parses");
        let mut me = local();
        me.addr = "2001:db8::1".parse().expect("ip");
        let (ans, neg) = answer(&offer, &me).expect("answers");
        assert_eq!(neg.codec, Codec::Pcma);
        assert_eq!(neg.payload_type, 8);
        assert_eq!(neg.telephone_event_pt, Some(101));
        assert_eq!(
            neg.remote,
            Some("[2001:db8::10]:7078".parse().expect("addr"))
        );
        let text = ans.to_string();
        assert!(text.contains("c=IN IP6 2001:db8::1\r\n"), "{text}");
        assert!(text.contains("o=- 42 1 IN IP6 2001:db8::1\r\n"), "{text}");
    }

    #[test]
    fn dynamic_payload_type_named_pcmu_case_insensitively() {
        let offer = parse(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 96\r\na=rtpmap:96 pcmu/8000\r\n",
        )
        .expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.codec, Codec::Pcmu);
        assert_eq!(neg.payload_type, 96);
        assert!(ans.to_string().contains("a=rtpmap:96 PCMU/8000\r\n"));
    }

    #[test]
    fn lf_line_ends_trailing_blanks_and_missing_t_are_tolerated() {
        let offer = parse(
            b"v=0\no=- 1 1 IN IP4 192.0.2.1  \ns=-\t\nc=IN IP4 192.0.2.1 \n\
m=audio 5004 RTP/AVP 8\na=ptime:30 \nz=unknown line\nx=vendor\n\n",
        )
        .expect("parses");
        assert_eq!(offer.timing, (0, 0));
        assert_eq!(offer.session_name, "-");
        let (_, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.codec, Codec::Pcma);
        assert_eq!(neg.ptime_ms, 30);
    }

    #[test]
    fn our_ptime_wins_over_theirs() {
        let offer = parse(DESK_PHONE.as_bytes()).expect("parses");
        let mut me = local();
        me.ptime_ms = 40;
        let (ans, neg) = answer(&offer, &me).expect("answers");
        assert_eq!(neg.ptime_ms, 40);
        assert!(ans.to_string().contains("a=ptime:40\r\n"));
    }

    #[test]
    fn answer_keeps_offer_timing_and_uses_our_origin() {
        let offer = parse(DESK_PHONE.as_bytes()).expect("parses");
        let (ans, _) = answer(&offer, &local()).expect("answers");
        assert_eq!(ans.timing, offer.timing);
        assert_eq!(ans.origin.session_id, "42");
        assert_eq!(ans.origin.session_version, "1");
    }
}
