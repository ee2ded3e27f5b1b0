//! REFER (RFC 3515) as the recipient of a blind transfer: where to call
//! ([`refer_to`]), who asked ([`referred_by`], RFC 3892), and the NOTIFYs
//! that report how the call went ([`fill_notify`], [`create_notify`]).
//!
//! A REFER is answered 202 Accepted, which creates an implicit subscription
//! to the `refer` event in the REFER's dialog (RFC 3515 section 2.4.2). Its
//! NOTIFYs carry the status line of the triggered INVITE's responses as a
//! `message/sipfrag` body: `SIP/2.0 100 Trying` right away, then the final
//! one, which also terminates the subscription (section 2.4.7).
//!
//! Attended transfer (a Refer-To carrying `Replaces`, RFC 3891) is not
//! supported: [`refer_to`] refuses it with a status of 403, see
//! [`ReferError::status`].

use std::fmt;

use crate::dialog::{Dialog, DialogError};
use crate::message::{
    HeaderName, Method, NameAddr, Params, ParseError, Request, Uri, Via, parse_name_addr,
    reason_phrase,
};

/// The Content-Type of a NOTIFY body for the `refer` event (RFC 3515 section 2.4.5).
pub const SIPFRAG: &str = "message/sipfrag;version=2.0";

/// How long the implicit subscription lasts while the transfer is in
/// progress, in `Subscription-State: active;expires=`.
pub const DEFAULT_SUBSCRIPTION_S: u32 = 60;

/// Why a REFER cannot be carried out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferError {
    #[error("the REFER has no Refer-To")]
    MissingReferTo,
    #[error("more than one {0} value")]
    Repeated(&'static str),
    #[error("malformed {header}: {error}")]
    Malformed {
        header: &'static str,
        error: ParseError,
    },
    #[error("Refer-To carries Replaces: attended transfer is not supported")]
    Replaces,
    #[error("Refer-To scheme {0:?} is not supported (sip, sips and tel are)")]
    UnsupportedScheme(String),
    #[error("Refer-To asks for method {0:?}; only INVITE is supported")]
    UnsupportedMethod(String),
}

impl ReferError {
    /// The status to answer the REFER with (the one place that maps these
    /// faults to SIP codes):
    /// - 400 for a REFER without exactly one well-formed Refer-To (RFC 3515
    ///   section 2.4.2), or with a malformed Referred-By;
    /// - 403 for what is understood but not done: attended transfer
    ///   (Replaces), another scheme than sip/sips/tel, another method than
    ///   INVITE. Not 501: REFER itself is implemented, and RFC 3261 section
    ///   21.5.2 keeps 501 for a method the server does not know, which would
    ///   tell the transferor not to try any REFER again. Not 416 either: it
    ///   is about the Request-URI (section 21.4.13).
    pub fn status(&self) -> u16 {
        match self {
            ReferError::MissingReferTo | ReferError::Repeated(_) | ReferError::Malformed { .. } => {
                400
            }
            ReferError::Replaces
            | ReferError::UnsupportedScheme(_)
            | ReferError::UnsupportedMethod(_) => 403,
        }
    }
}

/// The target of a REFER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferTo {
    /// The display name as written, quotes kept.
    pub display: Option<String>,
    /// Where to send the INVITE: a `sip:`/`sips:` URI with its `?headers`
    /// and `method` parameter removed (neither may appear in a
    /// Request-URI, RFC 3261 section 19.1.1), or a `tel:` URI.
    pub uri: Uri,
    /// The headers embedded in the URI, %-decoded, which RFC 3515 section
    /// 2.4.3 would copy into the INVITE; never `Replaces`.
    pub embedded_headers: Vec<(String, String)>,
    /// The header parameters after the address.
    pub params: Params,
}

/// Parses one Refer-To value (compact form `r`, RFC 3515 section 2.1): a
/// name-addr or an addr-spec (which may not carry `?headers` or `,`), then
/// checks that it can be the target of a blind transfer.
pub fn parse_refer_to(value: &str) -> Result<ReferTo, ReferError> {
    let addr = parse_name_addr(value).map_err(|error| ReferError::Malformed {
        header: "Refer-To",
        error,
    })?;
    let mut embedded_headers = Vec::new();
    let uri = match addr.uri {
        Uri::Sip(mut sip) => {
            embedded_headers = sip.embedded_headers();
            if embedded_headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("Replaces"))
            {
                return Err(ReferError::Replaces);
            }
            // RFC 3261 section 19.1.1: `method` says which request to send
            // to the URI (INVITE when absent).
            match sip.params.get("method") {
                None | Some(Some("INVITE")) => {}
                Some(m) => return Err(ReferError::UnsupportedMethod(m.unwrap_or("").to_owned())),
            }
            sip.params.remove("method");
            sip.headers = None;
            Uri::Sip(sip)
        }
        Uri::Other { scheme, rest } if scheme == "tel" => Uri::Other { scheme, rest },
        Uri::Other { scheme, .. } => return Err(ReferError::UnsupportedScheme(scheme)),
    };
    Ok(ReferTo {
        display: addr.display,
        uri,
        embedded_headers,
        params: addr.params,
    })
}

/// The Refer-To of a REFER: exactly one value (RFC 3515 section 2.4.2),
/// parsed and checked by [`parse_refer_to`].
pub fn refer_to(request: &Request) -> Result<ReferTo, ReferError> {
    let mut values = request.headers.get_all(&HeaderName::ReferTo);
    let value = values.next().ok_or(ReferError::MissingReferTo)?;
    if values.next().is_some() {
        return Err(ReferError::Repeated("Refer-To"));
    }
    parse_refer_to(value)
}

/// Parses one Referred-By value (compact form `b`, RFC 3892 section 3): a
/// name-addr or addr-spec with parameters (`cid` among them).
pub fn parse_referred_by(value: &str) -> Result<NameAddr, ReferError> {
    parse_name_addr(value).map_err(|error| ReferError::Malformed {
        header: "Referred-By",
        error,
    })
}

/// The Referred-By of a request, if it has one. It is informational: a
/// caller may well ignore an error here and carry on with the transfer.
pub fn referred_by(request: &Request) -> Result<Option<NameAddr>, ReferError> {
    let mut values = request.headers.get_all(&HeaderName::ReferredBy);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ReferError::Repeated("Referred-By"));
    }
    parse_referred_by(value).map(Some)
}

/// The state of the implicit subscription, for `Subscription-State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionState {
    /// `active;expires=N`: more NOTIFYs will follow.
    Active { expires_s: u32 },
    /// `terminated;reason=noresource`: the final NOTIFY (RFC 3515 section 2.4.7).
    Terminated,
}

impl SubscriptionState {
    /// The state that goes with a NOTIFY reporting `status`: active while
    /// provisional, terminated with the final status.
    pub fn for_status(status: u16, expires_s: u32) -> SubscriptionState {
        if status < 200 {
            SubscriptionState::Active { expires_s }
        } else {
            SubscriptionState::Terminated
        }
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionState::Active { expires_s } => write!(f, "active;expires={expires_s}"),
            SubscriptionState::Terminated => f.write_str("terminated;reason=noresource"),
        }
    }
}

/// The `message/sipfrag` body reporting `status`: its Status-Line, CRLF
/// included (RFC 3420), e.g. `SIP/2.0 200 OK\r\n`.
pub fn sipfrag(status: u16) -> String {
    format!("SIP/2.0 {status} {}\r\n", reason_phrase(status))
}

/// Turns `notify` (from [`Dialog::create_request`] with [`Method::Notify`])
/// into the report of a REFER: `Event: refer` (with `;id=` the REFER's CSeq
/// number when `refer_id` is given, which RFC 3515 section 2.4.6 requires
/// for every REFER in a dialog but the first), `Subscription-State`,
/// `Content-Type: message/sipfrag;version=2.0`, and the Status-Line of
/// `status` as body. Headers of the same names are replaced. A NOTIFY is a
/// target refresh request and carries a Contact (RFC 6665): the caller adds
/// ours, as for a re-INVITE.
pub fn fill_notify(
    notify: &mut Request,
    status: u16,
    state: SubscriptionState,
    refer_id: Option<u32>,
) {
    let event = match refer_id {
        Some(id) => format!("refer;id={id}"),
        None => "refer".to_owned(),
    };
    notify.headers.set(HeaderName::Event, event);
    notify
        .headers
        .set(HeaderName::SubscriptionState, state.to_string());
    notify.headers.set(HeaderName::ContentType, SIPFRAG);
    notify.body = sipfrag(status).into_bytes().into();
}

/// A NOTIFY in `dialog` reporting `status` for a REFER: the next request
/// of the dialog ([`Dialog::create_request`], `via` with a fresh branch)
/// filled by [`fill_notify`], the subscription active for `expires_s` while
/// `status` is provisional and terminated once it is final.
pub fn create_notify(
    dialog: &mut Dialog,
    via: Via,
    status: u16,
    expires_s: u32,
    refer_id: Option<u32>,
) -> Result<Request, DialogError> {
    let mut notify = dialog.create_request(Method::Notify, via)?;
    fill_notify(
        &mut notify,
        status,
        SubscriptionState::for_status(status, expires_s),
        refer_id,
    );
    Ok(notify)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Host, Message, Response, SipUri, parse};

    fn refer(extra: &str) -> Request {
        let text = format!(
            "REFER sip:bob@192.0.2.2:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKref1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.com>;tag=alice-tag\r\n\
             To: <sip:bob@example.com>;tag=bob-tag\r\n\
             Call-ID: transfer-1\r\n\
             CSeq: 93809824 REFER\r\n\
             Contact: <sip:alice@192.0.2.1:5060>\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn sip(s: &str) -> Uri {
        crate::message::parse_uri(s).expect("uri")
    }

    #[test]
    fn a_name_addr_target() {
        let r = refer("Refer-To: \"Carol\" <sip:carol@cleveland.example.org;user=phone>;x=1\r\n");
        let t = refer_to(&r).expect("refer-to");
        assert_eq!(t.display.as_deref(), Some("\"Carol\""));
        assert_eq!(t.uri, sip("sip:carol@cleveland.example.org;user=phone"));
        assert_eq!(t.params.value("x"), Some("1"));
        assert!(t.embedded_headers.is_empty());
    }

    #[test]
    fn an_addr_spec_target_in_compact_form() {
        let r = refer("r: sip:1002@example.com;foo\r\n");
        let t = refer_to(&r).expect("refer-to");
        assert_eq!(t.uri, sip("sip:1002@example.com"));
        assert!(
            t.params.contains("foo"),
            "a header parameter, not the URI's"
        );
        let r = refer("r: sips:1002@example.com\r\n");
        assert!(refer_to(&r).is_ok(), "sips");
    }

    #[test]
    fn a_tel_target() {
        let r = refer("Refer-To: <tel:+4930123456;phone-context=+49>\r\n");
        let t = refer_to(&r).expect("tel");
        assert_eq!(
            t.uri,
            Uri::Other {
                scheme: "tel".into(),
                rest: "+4930123456;phone-context=+49".into()
            }
        );
    }

    #[test]
    fn embedded_headers_are_kept_apart_and_the_method_stripped() {
        let r = refer(
            "Refer-To: <sip:carol@example.org;method=INVITE?Subject=transfer%20me&Priority=urgent>\r\n",
        );
        let t = refer_to(&r).expect("refer-to");
        assert_eq!(t.uri, sip("sip:carol@example.org"));
        assert_eq!(
            t.embedded_headers,
            [
                ("Subject".to_owned(), "transfer me".to_owned()),
                ("Priority".to_owned(), "urgent".to_owned()),
            ]
        );
        // What we hand back can be a Request-URI.
        assert_eq!(t.uri.as_sip().and_then(|u| u.headers.as_deref()), None);
    }

    #[test]
    fn attended_transfer_is_refused_with_403() {
        for value in [
            "<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
            "<sip:dave@denver.example.org?Require=replaces&replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>",
            "<sip:dave@denver.example.org?%52eplaces=abc>",
        ] {
            let r = refer(&format!("Refer-To: {value}\r\n"));
            let e = refer_to(&r).expect_err(value);
            assert_eq!(e, ReferError::Replaces);
            assert_eq!(e.status(), 403);
        }
    }

    #[test]
    fn other_schemes_and_methods_are_refused_with_403() {
        let e = refer_to(&refer("Refer-To: <http://example.com/transfer>\r\n")).expect_err("http");
        assert_eq!(e, ReferError::UnsupportedScheme("http".into()));
        assert_eq!(e.status(), 403);
        let e = refer_to(&refer("Refer-To: <mailto:carol@example.com>\r\n")).expect_err("mailto");
        assert_eq!(e.status(), 403);
        let e =
            refer_to(&refer("Refer-To: <sip:carol@example.com;method=BYE>\r\n")).expect_err("BYE");
        assert_eq!(e, ReferError::UnsupportedMethod("BYE".into()));
        assert_eq!(e.status(), 403);
    }

    #[test]
    fn not_exactly_one_well_formed_refer_to_is_400() {
        let e = refer_to(&refer("")).expect_err("none");
        assert_eq!((e.clone(), e.status()), (ReferError::MissingReferTo, 400));
        let e = refer_to(&refer(
            "Refer-To: <sip:carol@example.com>\r\nRefer-To: <sip:dave@example.com>\r\n",
        ))
        .expect_err("two headers");
        assert_eq!(
            (e.clone(), e.status()),
            (ReferError::Repeated("Refer-To"), 400)
        );
        for bad in [
            "<sip:carol@example.com>, <sip:dave@example.com>",
            "sip:carol@example.com?Replaces=x",
            "<sip:carol@example.com",
            "carol",
        ] {
            let e = parse_refer_to(bad).expect_err(bad);
            assert!(
                matches!(
                    e,
                    ReferError::Malformed {
                        header: "Refer-To",
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn referred_by_is_optional() {
        assert_eq!(referred_by(&refer("")), Ok(None));
        let r = refer(
            "b: <sip:alice@atlanta.example.com>;cid=\"20398823.2UWQFN309shb3@referrer.example\"\r\n",
        );
        let by = referred_by(&r).expect("parse").expect("present");
        assert_eq!(by.uri, sip("sip:alice@atlanta.example.com"));
        assert_eq!(
            by.params.value("cid"),
            Some("\"20398823.2UWQFN309shb3@referrer.example\"")
        );
        let r = refer("Referred-By: sip:alice@atlanta.example.com\r\n");
        assert!(referred_by(&r).is_ok_and(|b| b.is_some()));
        let r = refer("Referred-By: <sip:alice@atlanta.example.com\r\n");
        assert_eq!(referred_by(&r).map_err(|e| e.status()), Err(400));
    }

    #[test]
    fn sipfrag_bodies_and_subscription_states() {
        assert_eq!(sipfrag(100), "SIP/2.0 100 Trying\r\n");
        assert_eq!(sipfrag(200), "SIP/2.0 200 OK\r\n");
        assert_eq!(sipfrag(503), "SIP/2.0 503 Service Unavailable\r\n");
        assert_eq!(
            SubscriptionState::for_status(100, 60).to_string(),
            "active;expires=60"
        );
        assert_eq!(
            SubscriptionState::for_status(180, 60),
            SubscriptionState::Active { expires_s: 60 }
        );
        for status in [200, 486, 503, 603] {
            assert_eq!(
                SubscriptionState::for_status(status, 60).to_string(),
                "terminated;reason=noresource"
            );
        }
    }

    /// The transferee's side of the dialog in which the REFER arrived.
    fn dialog() -> (Dialog, Request) {
        let r = refer("Refer-To: <sip:carol@example.com>\r\n");
        // Built as if the REFER's dialog had been made by an INVITE with the
        // same identifiers, with us (bob) as UAS.
        let mut invite = r.clone();
        invite.method = Method::Invite;
        invite.cseq.method = Method::Invite;
        invite.cseq.seq = 1;
        invite.to.params.remove("tag");
        let ok = {
            let mut ok = Response::to_request(&invite, 200);
            ok.to.set_tag("bob-tag");
            ok
        };
        let mut d = Dialog::uas(&invite, &ok).expect("dialog");
        d.check_remote_cseq(&r).expect("the REFER is in the dialog");
        (d, r)
    }

    fn via(branch: &str) -> Via {
        let mut via = Via {
            transport: "UDP".into(),
            host: Host::V4("192.0.2.2".parse().expect("ip")),
            port: Some(5060),
            params: Params::default(),
        };
        via.params.set("branch", Some(branch));
        via
    }

    #[test]
    fn notifies_report_progress_then_terminate() {
        let (mut d, r) = dialog();
        let mut trying = create_notify(&mut d, via("z9hG4bKn1"), 100, 60, None).expect("NOTIFY");
        assert_eq!(trying.method, Method::Notify);
        assert_eq!(trying.cseq.method, Method::Notify);
        assert_eq!(trying.cseq.seq, 1);
        assert_eq!(trying.call_id, r.call_id);
        assert_eq!(trying.from.tag(), Some("bob-tag"));
        assert_eq!(trying.to.tag(), Some("alice-tag"));
        assert_eq!(trying.uri, sip("sip:alice@192.0.2.1:5060"));
        let h = &trying.headers;
        assert_eq!(h.get(&HeaderName::Event), Some("refer"));
        assert_eq!(
            h.get(&HeaderName::SubscriptionState),
            Some("active;expires=60")
        );
        assert_eq!(
            h.get(&HeaderName::ContentType),
            Some("message/sipfrag;version=2.0")
        );
        assert_eq!(&trying.body[..], b"SIP/2.0 100 Trying\r\n");

        let done =
            create_notify(&mut d, via("z9hG4bKn2"), 200, 60, Some(r.cseq.seq)).expect("NOTIFY");
        assert_eq!(done.cseq.seq, 2);
        assert_eq!(
            done.headers.get(&HeaderName::Event),
            Some("refer;id=93809824")
        );
        assert_eq!(
            done.headers.get(&HeaderName::SubscriptionState),
            Some("terminated;reason=noresource")
        );
        assert_eq!(&done.body[..], b"SIP/2.0 200 OK\r\n");

        // On the wire, and back: Content-Length matches, nothing is doubled.
        let text = String::from_utf8(done.to_bytes()).expect("utf-8");
        assert!(text.starts_with("NOTIFY sip:alice@192.0.2.1:5060 SIP/2.0\r\n"));
        assert!(text.contains("\r\nContent-Length: 16\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nSIP/2.0 200 OK\r\n"), "{text}");
        let Ok(Message::Request(back)) = parse(text.as_bytes()) else {
            panic!("the NOTIFY does not parse: {text}")
        };
        assert_eq!(back, done);

        // Filling again replaces rather than adds.
        fill_notify(&mut trying, 503, SubscriptionState::Terminated, None);
        assert_eq!(trying.headers.get_all(&HeaderName::Event).count(), 1);
        assert_eq!(
            trying
                .headers
                .get_all(&HeaderName::SubscriptionState)
                .collect::<Vec<_>>(),
            ["terminated;reason=noresource"]
        );
        assert_eq!(&trying.body[..], b"SIP/2.0 503 Service Unavailable\r\n");
    }

    #[test]
    fn sip_uri_hosts_are_kept() {
        let t = parse_refer_to("<sip:[2001:db8::1]:5070;transport=tcp>").expect("v6");
        let Uri::Sip(SipUri { host, port, .. }) = t.uri else {
            panic!("not sip")
        };
        assert!(matches!(host, Host::V6(_)));
        assert_eq!(port, Some(5070));
    }
}
