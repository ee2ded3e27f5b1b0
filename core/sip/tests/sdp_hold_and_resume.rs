//! Direction attributes and 0.0.0.0 hold turn into our direction (RFC 3264
//! sections 6.1 and 8.4).

// Inside `mod sdp` so that `cargo test sdp` selects these.
mod sdp {
    use std::net::{IpAddr, SocketAddr};

    use waihu_sip::sdp::{Codec, Direction, LocalMedia, Negotiated, Sdp, answer, parse};

    fn local(direction: Direction) -> LocalMedia {
        LocalMedia {
            addr: IpAddr::from([203, 0, 113, 5]),
            port: 30000,
            codecs: vec![Codec::Pcmu],
            telephone_event_pt: Some(101),
            ptime_ms: 20,
            session_id: 7,
            session_version: 3,
            direction,
        }
    }

    fn offer(conn: &str, session_attrs: &str, media_attrs: &str) -> Sdp {
        let text = format!(
            "v=0\r\no=- 1 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 {conn}\r\nt=0 0\r\n{session_attrs}\
m=audio 4000 RTP/AVP 0\r\n{media_attrs}"
        );
        parse(text.as_bytes()).expect("parses")
    }

    fn negotiate(offer: &Sdp, ours: Direction) -> (String, Negotiated) {
        let (ans, neg) = answer(offer, &local(ours)).expect("answers");
        (ans.to_string(), neg)
    }

    #[test]
    fn media_sendonly_is_hold_and_we_answer_recvonly() {
        let (text, neg) = negotiate(
            &offer("192.0.2.9", "", "a=sendonly\r\n"),
            Direction::SendRecv,
        );
        assert_eq!(neg.direction, Direction::RecvOnly);
        assert_eq!(neg.remote, Some(SocketAddr::from(([192, 0, 2, 9], 4000))));
        assert!(text.contains("a=recvonly\r\n"), "{text}");
    }

    #[test]
    fn session_level_sendonly_applies_to_media() {
        let (_, neg) = negotiate(
            &offer("192.0.2.9", "a=sendonly\r\n", ""),
            Direction::SendRecv,
        );
        assert_eq!(neg.direction, Direction::RecvOnly);
    }

    #[test]
    fn media_level_direction_overrides_session_level() {
        let (_, neg) = negotiate(
            &offer("192.0.2.9", "a=sendonly\r\n", "a=sendrecv\r\n"),
            Direction::SendRecv,
        );
        assert_eq!(neg.direction, Direction::SendRecv);
    }

    #[test]
    fn zero_address_hold_has_no_remote_and_we_only_receive() {
        let (text, neg) = negotiate(&offer("0.0.0.0", "", ""), Direction::SendRecv);
        assert_eq!(neg.remote, None);
        assert_eq!(neg.direction, Direction::RecvOnly);
        assert!(text.contains("a=recvonly\r\n"), "{text}");
    }

    #[test]
    fn zero_address_with_inactive_stays_inactive() {
        let (_, neg) = negotiate(&offer("0.0.0.0", "", "a=inactive\r\n"), Direction::SendRecv);
        assert_eq!(neg.remote, None);
        assert_eq!(neg.direction, Direction::Inactive);
    }

    #[test]
    fn inactive_is_answered_inactive() {
        let (text, neg) = negotiate(
            &offer("192.0.2.9", "", "a=inactive\r\n"),
            Direction::SendRecv,
        );
        assert_eq!(neg.direction, Direction::Inactive);
        assert!(text.contains("a=inactive\r\n"), "{text}");
    }

    #[test]
    fn recvonly_offer_makes_us_sendonly() {
        let (_, neg) = negotiate(
            &offer("192.0.2.9", "", "a=recvonly\r\n"),
            Direction::SendRecv,
        );
        assert_eq!(neg.direction, Direction::SendOnly);
    }

    #[test]
    fn resume_after_hold_returns_to_sendrecv() {
        let (_, held) = negotiate(
            &offer("192.0.2.9", "", "a=sendonly\r\n"),
            Direction::SendRecv,
        );
        assert_eq!(held.direction, Direction::RecvOnly);
        let (text, resumed) = negotiate(
            &offer("192.0.2.9", "", "a=sendrecv\r\n"),
            Direction::SendRecv,
        );
        assert_eq!(resumed.direction, Direction::SendRecv);
        assert!(resumed.remote.is_some());
        assert!(text.contains("a=sendrecv\r\n"), "{text}");
    }

    #[test]
    fn our_own_hold_limits_the_answer() {
        let (text, neg) = negotiate(&offer("192.0.2.9", "", ""), Direction::SendOnly);
        assert_eq!(neg.direction, Direction::SendOnly);
        assert!(text.contains("a=sendonly\r\n"), "{text}");
    }

    #[test]
    fn reverse_swaps_only_one_way_directions() {
        assert_eq!(Direction::SendOnly.reverse(), Direction::RecvOnly);
        assert_eq!(Direction::RecvOnly.reverse(), Direction::SendOnly);
        assert_eq!(Direction::SendRecv.reverse(), Direction::SendRecv);
        assert_eq!(Direction::Inactive.reverse(), Direction::Inactive);
    }
}
