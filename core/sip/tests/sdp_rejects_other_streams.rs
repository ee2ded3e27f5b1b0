//! Every m-line but the accepted audio one is answered with port 0, in the
//! same number and order (RFC 3264 section 6).

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use std::net::IpAddr;

    use waihu_sip::sdp::{Codec, Direction, LocalMedia, answer, parse};

    fn local() -> LocalMedia {
        LocalMedia {
            addr: IpAddr::from([203, 0, 113, 5]),
            port: 30000,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event_pt: Some(101),
            ptime_ms: 20,
            session_id: 1,
            session_version: 1,
            direction: Direction::SendRecv,
        }
    }

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

    #[test]
    fn video_before_audio_is_rejected_and_order_kept() {
        let text = format!(
            "{HEAD}m=video 9000 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 VP8/90000\r\n\
m=audio 8000 RTP/AVP 8 0\r\n"
        );
        let offer = parse(text.as_bytes()).expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.codec, Codec::Pcma);
        assert_eq!(ans.media.len(), 2);
        assert_eq!(ans.media[0].kind, "video");
        assert_eq!(ans.media[0].port, 0);
        assert_eq!(ans.media[0].formats, ["96", "97"]);
        assert!(ans.media[0].attributes.is_empty());
        assert_eq!(ans.media[1].kind, "audio");
        assert_eq!(ans.media[1].port, 30000);
        let written = ans.to_string();
        assert!(written.contains("m=video 0 RTP/AVP 96 97\r\n"), "{written}");
    }

    #[test]
    fn srtp_audio_is_rejected_and_plain_audio_after_it_accepted() {
        let text = format!(
            "{HEAD}m=audio 8000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n\
m=audio 8002 RTP/AVP 0\r\n"
        );
        let offer = parse(text.as_bytes()).expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(ans.media[0].port, 0);
        assert_eq!(ans.media[0].proto, "RTP/SAVP");
        assert_eq!(ans.media[1].port, 30000);
        assert_eq!(neg.remote.map(|a| a.port()), Some(8002));
    }

    #[test]
    fn second_audio_stream_is_rejected() {
        let text = format!("{HEAD}m=audio 8000 RTP/AVP 0\r\nm=audio 8002 RTP/AVP 8\r\n");
        let offer = parse(text.as_bytes()).expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.remote.map(|a| a.port()), Some(8000));
        assert_eq!(ans.media[0].port, 30000);
        assert_eq!(ans.media[1].port, 0);
    }

    #[test]
    fn audio_without_common_codec_is_skipped_for_a_later_one() {
        let text = format!(
            "{HEAD}m=audio 8000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\nm=audio 8002 RTP/AVP 8\r\n"
        );
        let offer = parse(text.as_bytes()).expect("parses");
        let (ans, neg) = answer(&offer, &local()).expect("answers");
        assert_eq!(neg.codec, Codec::Pcma);
        assert_eq!(ans.media[0].port, 0);
        assert_eq!(ans.media[1].port, 30000);
    }

    #[test]
    fn t38_image_stream_is_rejected() {
        let text = format!("{HEAD}m=audio 8000 RTP/AVP 0\r\nm=image 8004 udptl t38\r\n");
        let offer = parse(text.as_bytes()).expect("parses");
        let (ans, _) = answer(&offer, &local()).expect("answers");
        assert_eq!(ans.media[1].port, 0);
        assert_eq!(ans.media[1].formats, ["t38"]);
    }
}
