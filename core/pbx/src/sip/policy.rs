//! How this release answers the requests the endpoint hands up.
//!
//! The endpoint answers REGISTER, OPTIONS, authentication and transaction
//! matching itself; what reaches the application is (already authenticated)
//! INVITE, BYE and friends. There are no calls and no dialogs yet, so the
//! answer is a status code chosen here, in one place.

use waihu_sip::message::{Method, Request, Response};

/// The final status for `request`, or `None` when it gets no response (ACK).
pub fn status_for(request: &Request, is_agent: impl Fn(&str) -> bool) -> Option<u16> {
    if request.method == Method::Ack {
        return None;
    }
    // A To tag means the request belongs to a dialog, and none exists yet
    // (RFC 3261 section 12.2.2). BYE and CANCEL only make sense for a dialog
    // or a transaction the endpoint would have matched.
    if request.to.tag().is_some() || matches!(request.method, Method::Bye | Method::Cancel) {
        return Some(481);
    }
    match request.method {
        Method::Invite => {
            let Some(uri) = request.uri.as_sip() else {
                return Some(416);
            };
            let known = uri.user_unescaped().is_some_and(|user| is_agent(&user));
            // Calls to agents arrive in a later release.
            Some(if known { 480 } else { 404 })
        }
        _ => Some(501),
    }
}

/// A response to `request` with `status`, carrying `tag` as To tag when the
/// request had none (RFC 3261 section 8.2.6.2: every response but 100).
pub fn response(request: &Request, status: u16, tag: impl FnOnce() -> String) -> Response {
    let mut response = Response::to_request(request, status);
    if status != 100 && response.to.tag().is_none() {
        response.to.set_tag(&tag());
    }
    response
}

/// A fresh To tag: 64 random bits in hex (RFC 3261 section 19.3 wants at
/// least 32). Falls back to a process-wide counter if the OS has no entropy
/// to give, which only costs unpredictability, not uniqueness.
pub fn new_tag() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static FALLBACK: AtomicU64 = AtomicU64::new(1);
    match getrandom::u64() {
        Ok(n) => format!("{n:016x}"),
        Err(_) => format!("w{:x}", FALLBACK.fetch_add(1, Ordering::Relaxed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waihu_sip::message::{Host, NameAddr, SipUri, Uri, Via};

    fn sip(user: &str) -> Uri {
        Uri::Sip(SipUri::new(Some(user), Host::Name("waihu.local".into())))
    }

    fn request(method: Method, uri: Uri) -> Request {
        let via = Via {
            transport: "UDP".into(),
            host: Host::V4([192, 0, 2, 1].into()),
            port: Some(5060),
            params: Default::default(),
        };
        let mut from = NameAddr::new(sip("1001"));
        from.set_tag("caller");
        let to = NameAddr::new(uri.clone());
        Request::new(method, uri, via, from, to, "call-1", 1)
    }

    fn agents(id: &str) -> bool {
        id == "1001" || id == "1002"
    }

    #[test]
    fn invite_to_an_agent_is_temporarily_unavailable() {
        assert_eq!(
            status_for(&request(Method::Invite, sip("1002")), agents),
            Some(480)
        );
    }

    #[test]
    fn invite_to_anyone_else_is_not_found() {
        assert_eq!(
            status_for(&request(Method::Invite, sip("9999")), agents),
            Some(404)
        );
        let no_user = Uri::Sip(SipUri::new(None, Host::Name("waihu.local".into())));
        assert_eq!(
            status_for(&request(Method::Invite, no_user), agents),
            Some(404)
        );
    }

    #[test]
    fn escaped_user_part_is_compared_unescaped() {
        // %31 is '1': sip:%31002@... is agent 1002.
        assert_eq!(
            status_for(&request(Method::Invite, sip("%31002")), agents),
            Some(480)
        );
    }

    #[test]
    fn invite_to_another_scheme_is_unsupported() {
        let tel = Uri::Other {
            scheme: "tel".into(),
            rest: "+15551234".into(),
        };
        assert_eq!(status_for(&request(Method::Invite, tel), agents), Some(416));
    }

    #[test]
    fn requests_without_a_dialog_get_481() {
        assert_eq!(
            status_for(&request(Method::Bye, sip("1001")), agents),
            Some(481)
        );
        assert_eq!(
            status_for(&request(Method::Cancel, sip("1001")), agents),
            Some(481)
        );
        for method in [Method::Invite, Method::Info, Method::Update, Method::Refer] {
            let mut r = request(method, sip("1001"));
            r.to.set_tag("callee");
            assert_eq!(status_for(&r, agents), Some(481), "{}", r.method);
        }
    }

    #[test]
    fn anything_else_is_not_implemented() {
        for method in [
            Method::Message,
            Method::Subscribe,
            Method::Extension("FOO".into()),
        ] {
            assert_eq!(status_for(&request(method, sip("1001")), agents), Some(501));
        }
    }

    #[test]
    fn ack_gets_no_response() {
        assert_eq!(status_for(&request(Method::Ack, sip("1001")), agents), None);
    }

    #[test]
    fn final_responses_get_a_to_tag_and_100_does_not() {
        let r = request(Method::Invite, sip("9999"));
        let resp = response(&r, 404, || "t1".into());
        assert_eq!((resp.status, resp.to.tag()), (404, Some("t1")));
        assert_eq!(resp.reason, "Not Found");
        assert_eq!(resp.call_id, "call-1");
        assert_eq!(resp.from.tag(), Some("caller"));
        let trying = response(&r, 100, || unreachable!("100 Trying carries no tag"));
        assert_eq!(trying.to.tag(), None);
    }

    #[test]
    fn an_existing_to_tag_is_kept() {
        let mut r = request(Method::Bye, sip("1001"));
        r.to.set_tag("theirs");
        let resp = response(&r, 481, || "ours".into());
        assert_eq!(resp.to.tag(), Some("theirs"));
    }

    #[test]
    fn tags_are_fresh() {
        let (a, b) = (new_tag(), new_tag());
        assert_ne!(a, b);
        assert!(a.len() >= 8);
    }
}
