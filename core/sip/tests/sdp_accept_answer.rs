//! Reading the answer to our own offer when waihu calls out.

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use std::net::{IpAddr, SocketAddr};

    use waihu_sip::sdp::{Codec, Direction, LocalMedia, SdpError, accept_answer, offer, parse};

    fn local() -> LocalMedia {
        LocalMedia {
            addr: IpAddr::from([203, 0, 113, 5]),
            port: 30000,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event_pt: Some(101),
            ptime_ms: 0,
            session_id: 5,
            session_version: 5,
            direction: Direction::SendRecv,
        }
    }

    fn answer_with(m: &str) -> Result<waihu_sip::sdp::Negotiated, SdpError> {
        let text =
            format!("v=0\r\no=- 8 8 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.3\r\nt=0 0\r\n{m}");
        accept_answer(&local(), &parse(text.as_bytes()).expect("parses"))
    }

    #[test]
    fn picks_the_answered_codec() {
        let neg = answer_with(
        "m=audio 7000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\n",
    )
    .expect("accepted");
        assert_eq!(neg.codec, Codec::Pcma);
        assert_eq!(neg.payload_type, 8);
        assert_eq!(neg.telephone_event_pt, Some(101));
        assert_eq!(neg.ptime_ms, 30);
        assert_eq!(neg.direction, Direction::SendRecv);
        assert_eq!(neg.remote, Some(SocketAddr::from(([192, 0, 2, 3], 7000))));
    }

    #[test]
    fn first_answered_format_wins_when_several_come_back() {
        let neg = answer_with("m=audio 7000 RTP/AVP 8 0\r\n").expect("accepted");
        assert_eq!(neg.codec, Codec::Pcma);
        let neg = answer_with("m=audio 7000 RTP/AVP 0 8\r\n").expect("accepted");
        assert_eq!(neg.codec, Codec::Pcmu);
    }

    #[test]
    fn telephone_event_absent_from_answer_is_off() {
        let neg = answer_with("m=audio 7000 RTP/AVP 0\r\n").expect("accepted");
        assert_eq!(neg.telephone_event_pt, None);
        assert_eq!(neg.ptime_ms, 20);
    }

    #[test]
    fn recvonly_answer_makes_us_sendonly() {
        let neg = answer_with("m=audio 7000 RTP/AVP 0\r\na=recvonly\r\n").expect("accepted");
        assert_eq!(neg.direction, Direction::SendOnly);
    }

    #[test]
    fn rejected_audio_is_488() {
        let e = answer_with("m=audio 0 RTP/AVP 0\r\n").expect_err("rejected");
        assert_eq!(e, SdpError::AudioRejected);
        assert_eq!(e.sip_status(), 488);
    }

    #[test]
    fn answer_with_unoffered_codec_is_refused() {
        let e = answer_with("m=audio 7000 RTP/AVP 9\r\n").expect_err("refused");
        assert_eq!(e, SdpError::NoCommonCodec);
    }

    #[test]
    fn answer_with_wrong_m_line_count_is_refused() {
        let e =
            answer_with("m=audio 7000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n").expect_err("refused");
        assert!(matches!(e, SdpError::AnswerMismatch(_)), "{e:?}");
    }

    #[test]
    fn our_offer_answered_by_ourselves_agrees() {
        let ours = offer(&local());
        let mut callee = local();
        callee.addr = IpAddr::from([198, 51, 100, 1]);
        callee.port = 40000;
        callee.codecs = vec![Codec::Pcma];
        let (ans, callee_side) = waihu_sip::sdp::answer(&ours, &callee).expect("answers");
        let caller_side = accept_answer(&local(), &ans).expect("accepted");
        assert_eq!(caller_side.codec, Codec::Pcma);
        assert_eq!(callee_side.codec, Codec::Pcma);
        assert_eq!(caller_side.payload_type, callee_side.payload_type);
        assert_eq!(caller_side.telephone_event_pt, Some(101));
        assert_eq!(
            caller_side.remote,
            Some(SocketAddr::from(([198, 51, 100, 1], 40000)))
        );
        assert_eq!(
            callee_side.remote,
            Some(SocketAddr::from(([203, 0, 113, 5], 30000)))
        );
    }
}
