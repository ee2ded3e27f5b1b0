//! Broken bodies are 400 Bad Request, never a panic.

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use waihu_sip::sdp::{SdpError, parse};

    fn err(text: &[u8]) -> SdpError {
        let e = parse(text).expect_err("must not parse");
        assert_eq!(e.sip_status(), 400, "{e}");
        e
    }

    fn with_media(m: &str) -> String {
        format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{m}\r\n")
    }

    #[test]
    fn port_above_65535() {
        let e = err(with_media("m=audio 70000 RTP/AVP 0").as_bytes());
        assert!(
            matches!(e, SdpError::PortOutOfRange { line: 6, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn huge_port_number() {
        let e = err(with_media("m=audio 99999999999999999999999999 RTP/AVP 0").as_bytes());
        assert!(matches!(e, SdpError::PortOutOfRange { .. }), "{e:?}");
    }

    #[test]
    fn non_numeric_port() {
        let e = err(with_media("m=audio abc RTP/AVP 0").as_bytes());
        assert!(matches!(e, SdpError::Malformed { line: 6, .. }), "{e:?}");
        err(with_media("m=audio -1 RTP/AVP 0").as_bytes());
        err(with_media("m=audio 8000/x RTP/AVP 0").as_bytes());
        err(with_media("m=audio 8000/0 RTP/AVP 0").as_bytes());
    }

    #[test]
    fn m_line_without_protocol() {
        err(with_media("m=audio 8000").as_bytes());
    }

    #[test]
    fn missing_m_line() {
        let e = err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n");
        assert_eq!(e, SdpError::Missing("m="));
    }

    #[test]
    fn missing_origin_or_session_name() {
        assert_eq!(
            err(b"v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 0\r\n"),
            SdpError::Missing("o=")
        );
        assert_eq!(
            err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 0\r\n"),
            SdpError::Missing("s=")
        );
    }

    #[test]
    fn version_must_come_first_and_be_zero() {
        err(b"o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
        err(b"v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
    }

    #[test]
    fn empty_body() {
        assert_eq!(err(b""), SdpError::Missing("v="));
        assert_eq!(err(b"\r\n\r\n"), SdpError::Missing("v="));
    }

    #[test]
    fn garbage_bytes() {
        err(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
        err(b"hello world");
        err(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        err(b"v=0\r\n=\r\n");
    }

    #[test]
    fn invalid_utf8() {
        let mut text = with_media("m=audio 8000 RTP/AVP 0").into_bytes();
        text.extend_from_slice(b"a=tool:\xff\xfe\r\n");
        assert_eq!(err(&text), SdpError::NotUtf8);
    }

    #[test]
    fn nul_inside_a_line() {
        err(with_media("m=audio 8000 RTP/AVP 0\r\na=x\0y").as_bytes());
    }

    #[test]
    fn connection_address_not_matching_its_type() {
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 2001:db8::1\r\nm=audio 1 RTP/AVP 0\r\n");
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP6 192.0.2.1\r\nm=audio 1 RTP/AVP 0\r\n");
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP5 192.0.2.1\r\nm=audio 1 RTP/AVP 0\r\n");
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4\r\nm=audio 1 RTP/AVP 0\r\n");
    }

    #[test]
    fn origin_with_wrong_field_count_or_non_numeric_id() {
        err(b"v=0\r\no=- 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
        err(b"v=0\r\no=- abc 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
    }

    #[test]
    fn bad_timing() {
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=now\r\nm=audio 1 RTP/AVP 0\r\n");
    }

    #[test]
    fn duplicate_session_lines() {
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
        err(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\ns=again\r\n");
    }
}
