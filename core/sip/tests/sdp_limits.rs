//! Size, media, format and attribute limits bound what one body can cost.

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use waihu_sip::sdp::{MAX_ATTRIBUTES, MAX_FORMATS, MAX_MEDIA, MAX_SDP_BYTES, SdpError, parse};

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

    fn with_media(count: usize) -> String {
        let mut s = HEAD.to_owned();
        for i in 0..count {
            s.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 2000 + 2 * i));
        }
        s
    }

    #[test]
    fn media_sections_up_to_the_limit() {
        assert_eq!(
            parse(with_media(MAX_MEDIA).as_bytes())
                .expect("parses")
                .media
                .len(),
            MAX_MEDIA
        );
        let e = parse(with_media(MAX_MEDIA + 1).as_bytes()).expect_err("too many");
        assert_eq!(e, SdpError::TooManyMedia { max: MAX_MEDIA });
        assert_eq!(e.sip_status(), 400);
    }

    fn with_formats(count: usize) -> String {
        let fmts: Vec<String> = (0..count).map(|i| (i % 128).to_string()).collect();
        format!("{HEAD}m=audio 4000 RTP/AVP {}\r\n", fmts.join(" "))
    }

    #[test]
    fn formats_up_to_the_limit() {
        assert_eq!(
            parse(with_formats(MAX_FORMATS).as_bytes())
                .expect("parses")
                .media[0]
                .formats
                .len(),
            MAX_FORMATS
        );
        let e = parse(with_formats(MAX_FORMATS + 1).as_bytes()).expect_err("too many");
        assert!(matches!(e, SdpError::TooManyFormats { .. }), "{e:?}");
        assert_eq!(e.sip_status(), 400);
    }

    fn with_attributes(session: usize, media: usize) -> String {
        let mut s = HEAD.to_owned();
        for i in 0..session {
            s.push_str(&format!("a=x-s{i}\r\n"));
        }
        s.push_str("m=audio 4000 RTP/AVP 0\r\n");
        for i in 0..media {
            s.push_str(&format!("a=x-m{i}:v\r\n"));
        }
        s
    }

    #[test]
    fn attributes_up_to_the_limit_per_section() {
        let sdp =
            parse(with_attributes(MAX_ATTRIBUTES, MAX_ATTRIBUTES).as_bytes()).expect("parses");
        assert_eq!(sdp.attributes.len(), MAX_ATTRIBUTES);
        assert_eq!(sdp.media[0].attributes.len(), MAX_ATTRIBUTES);
        for (s, m) in [(MAX_ATTRIBUTES + 1, 0), (0, MAX_ATTRIBUTES + 1)] {
            let e = parse(with_attributes(s, m).as_bytes()).expect_err("too many");
            assert!(matches!(e, SdpError::TooManyAttributes { .. }), "{e:?}");
            assert_eq!(e.sip_status(), 400);
        }
    }

    #[test]
    fn body_size_limit() {
        let mut s = with_media(1);
        let pad = MAX_SDP_BYTES - s.len();
        // Unknown lines are ignored but still count towards the size.
        s.push_str("x=");
        s.push_str(&"y".repeat(pad - 4));
        s.push_str("\r\n");
        assert_eq!(s.len(), MAX_SDP_BYTES);
        parse(s.as_bytes()).expect("exactly at the limit parses");
        s.push('\n');
        let e = parse(s.as_bytes()).expect_err("over the limit");
        assert_eq!(
            e,
            SdpError::TooLarge {
                len: MAX_SDP_BYTES + 1,
                max: MAX_SDP_BYTES
            }
        );
        assert_eq!(e.sip_status(), 400);
    }
}
