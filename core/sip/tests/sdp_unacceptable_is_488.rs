//! Well-formed offers we cannot take are 488 Not Acceptable Here.

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use std::net::IpAddr;

    use waihu_sip::sdp::{Codec, Direction, LocalMedia, SdpError, answer, parse};

    fn local() -> LocalMedia {
        LocalMedia {
            addr: IpAddr::from([203, 0, 113, 5]),
            port: 30000,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event_pt: None,
            ptime_ms: 20,
            session_id: 1,
            session_version: 1,
            direction: Direction::SendRecv,
        }
    }

    fn answer_err(text: &str) -> SdpError {
        let offer = parse(text.as_bytes()).expect("parses");
        answer(&offer, &local()).expect_err("must be refused")
    }

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

    #[test]
    fn no_common_codec() {
        let e = answer_err(&format!(
            "{HEAD}m=audio 8000 RTP/AVP 9 18\r\na=rtpmap:9 G722/8000\r\na=rtpmap:18 G729/8000\r\n"
        ));
        assert_eq!(e, SdpError::NoCommonCodec);
        assert_eq!(e.sip_status(), 488);
    }

    #[test]
    fn static_payload_type_remapped_to_other_codec_is_not_ours() {
        let e = answer_err(&format!(
            "{HEAD}m=audio 8000 RTP/AVP 0\r\na=rtpmap:0 G722/8000\r\n"
        ));
        assert_eq!(e, SdpError::NoCommonCodec);
    }

    #[test]
    fn video_only() {
        let e = answer_err(&format!("{HEAD}m=video 8000 RTP/AVP 96\r\n"));
        assert_eq!(e, SdpError::NoAudio);
        assert_eq!(e.sip_status(), 488);
    }

    #[test]
    fn audio_only_over_srtp() {
        let e = answer_err(&format!("{HEAD}m=audio 8000 RTP/SAVP 0\r\n"));
        assert_eq!(e, SdpError::NoAudio);
    }

    #[test]
    fn audio_offered_disabled_with_port_zero() {
        let e = answer_err(&format!("{HEAD}m=audio 0 RTP/AVP 0\r\n"));
        assert_eq!(e, SdpError::NoAudio);
    }

    #[test]
    fn no_connection_line_anywhere() {
        let e = answer_err(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n",
        );
        assert_eq!(e, SdpError::NoConnectionAddress);
        assert_eq!(e.sip_status(), 488);
    }

    #[test]
    fn host_name_connection_cannot_be_used_without_dns() {
        let e = answer_err(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 phone.example.com\r\nt=0 0\r\n\
m=audio 8000 RTP/AVP 0\r\n",
        );
        assert_eq!(e, SdpError::NoConnectionAddress);
    }

    #[test]
    fn media_level_connection_is_enough() {
        let offer = parse(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n\
c=IN IP4 192.0.2.77\r\n",
        )
        .expect("parses");
        let (_, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.remote, Some(([192, 0, 2, 77], 8000).into()));
    }
}
