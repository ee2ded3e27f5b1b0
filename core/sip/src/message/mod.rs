//! SIP messages: our own types, and the one module that touches rsip.
//!
//! Bytes come in through [`parse`] (a whole datagram, or one frame cut from a
//! stream by [`frame::next_frame`]) and leave through [`Request::to_bytes`] /
//! [`Response::to_bytes`]. Everything else in waihu sees only the types here.
//!
//! rsip 0.4 cannot tokenise a good part of the RFC 4475 torture set and its
//! URI parser truncates valid user parts and rejects IPv6 hosts, so the
//! framing, line unfolding, header tokenising and URI/name-addr/Via grammar
//! are ours (`parse`, `uri`); rsip supplies the method vocabulary. Keeping all
//! of it behind these types means a change of parser touches this module only.

pub mod frame;
mod parse;
mod uri;
mod write;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

pub use parse::{Limits, Malformed, ParseError, parse, parse_with_limits};
pub use uri::{parse_contacts, parse_name_addr, parse_name_addr_list, parse_uri};

/// The RFC 3261 magic cookie that starts every compliant branch parameter.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// A request method. Methods are case-sensitive (RFC 3261 section 7.1):
/// `register` is an extension method, not REGISTER.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// Any other syntactically valid method token.
    Extension(Box<str>),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Extension(m) => m,
        }
    }

    /// Parses a method token; `None` if it is not a valid RFC 3261 token.
    pub fn from_token(token: &str) -> Option<Method> {
        parse::method_from_token(token)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host part of a URI or Via sent-by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name, kept as received (compare with [`Host::eq_ignore_case`]).
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    /// Host comparison as RFC 3261 section 19.1.4 wants it: names case-insensitively.
    pub fn eq_ignore_case(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// One `;name[=value]` parameter. Names compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// An ordered list of parameters, as received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// `Some(Some(v))` for `name=v`, `Some(None)` for a bare `name`, `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The value of `name=value`, if present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets (replacing) a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value,
            None => self.0.push(Param {
                name: name.to_owned(),
                value,
            }),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A `sip:` or `sips:` URI (RFC 3261 section 19.1). User and password are
/// kept in their escaped form as received, so `%00` never truncates anything
/// and `user;par=u%40example.net` stays whole.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?h=v&...` part, escaped, without the `?`.
    pub headers: Option<String>,
}

impl SipUri {
    /// A plain `sip:user@host` URI.
    pub fn new(user: Option<&str>, host: Host) -> SipUri {
        SipUri {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host,
            port: None,
            params: Params::default(),
            headers: None,
        }
    }

    /// The user part with %-escapes decoded (lossy for non-UTF-8 octets).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(uri::unescape)
    }

    /// The `?h=v&...` headers of the URI, names and values %-decoded, in
    /// order (RFC 3261 section 19.1.1). A header without `=` has an empty value.
    pub fn embedded_headers(&self) -> Vec<(String, String)> {
        let Some(headers) = self.headers.as_deref() else {
            return Vec::new();
        };
        headers
            .split('&')
            .filter(|h| !h.is_empty())
            .map(|h| {
                let (name, value) = h.split_once('=').unwrap_or((h, ""));
                (uri::unescape(name), uri::unescape(value))
            })
            .collect()
    }
}

/// Any URI. waihu only routes `sip:`/`sips:`; other schemes (`tel:`, `http:`...)
/// are carried so they can be refused with the right status.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Uri {
    Sip(SipUri),
    /// An absolute URI of another scheme: `scheme` is lower-cased, `rest` is what follows `:`.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write::uri(f, self)
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write::sip_uri(f, self)
    }
}

/// `"Display" <uri>;params`, as in From, To, Contact, Route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name as written (a quoted string keeps its quotes).
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }

    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag));
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write::name_addr(f, self)
    }
}

/// A `Contact` header value: a name-addr or the `*` wildcard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

/// One Via entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Via {
    /// The transport token (`UDP`, `TCP`, `TLS`, or anything else), upper-cased.
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// Whether the branch carries the RFC 3261 cookie (otherwise RFC 2543 matching applies).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_COOKIE))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write::via(f, self)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

macro_rules! header_names {
    ($($variant:ident => $canonical:literal $(| $alias:literal)*),* $(,)?) => {
        /// Header names waihu knows, in canonical spelling; anything else is `Other`.
        /// Compact forms (`v`, `f`, `i`...) map to their full names.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $($variant,)*
            Other(Box<str>),
        }

        impl HeaderName {
            pub fn as_str(&self) -> &str {
                match self {
                    $(HeaderName::$variant => $canonical,)*
                    HeaderName::Other(n) => n,
                }
            }

            /// Case-insensitive lookup of a received header name.
            pub fn parse(name: &str) -> HeaderName {
                $(
                    if name.eq_ignore_ascii_case($canonical) $(|| name.eq_ignore_ascii_case($alias))* {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other(name.into())
            }
        }
    };
}

header_names! {
    Via => "Via" | "v",
    From => "From" | "f",
    To => "To" | "t",
    CallId => "Call-ID" | "i",
    CSeq => "CSeq",
    Contact => "Contact" | "m",
    MaxForwards => "Max-Forwards",
    ContentLength => "Content-Length" | "l",
    ContentType => "Content-Type" | "c",
    ContentEncoding => "Content-Encoding" | "e",
    Expires => "Expires",
    MinExpires => "Min-Expires",
    Authorization => "Authorization",
    WwwAuthenticate => "WWW-Authenticate",
    ProxyAuthorization => "Proxy-Authorization",
    ProxyAuthenticate => "Proxy-Authenticate",
    Route => "Route",
    RecordRoute => "Record-Route",
    Require => "Require",
    ProxyRequire => "Proxy-Require",
    Supported => "Supported" | "k",
    Unsupported => "Unsupported",
    Allow => "Allow",
    Accept => "Accept",
    Date => "Date",
    UserAgent => "User-Agent",
    Server => "Server",
    Subject => "Subject" | "s",
    ReferTo => "Refer-To" | "r",
    ReferredBy => "Referred-By" | "b",
    Event => "Event" | "o",
    SubscriptionState => "Subscription-State",
    SessionExpires => "Session-Expires" | "x",
    MinSe => "Min-SE",
    RetryAfter => "Retry-After",
    Timestamp => "Timestamp",
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line (after unfolding), value trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// The headers of a message other than the ones held typed on
/// [`Request`]/[`Response`] (Via, From, To, Call-ID, CSeq, Content-Length).
/// Order is kept; comma-separated values stay as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Replaces every `name` header by one with `value`.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        self.remove(&name);
        self.push(name, value);
    }

    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Comma-separated list values of every `name` header, trimmed, empty items dropped.
    /// Only for headers whose grammar has no quoted strings (Require, Allow, Supported...).
    pub fn tokens<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }
}

/// A parsed, validated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    /// Via entries, topmost first. Never empty on a parsed request.
    pub via: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: CSeq,
    /// `Max-Forwards`, if present.
    pub max_forwards: Option<u32>,
    /// Every other header, in order.
    pub headers: Headers,
    pub body: Bytes,
}

/// A parsed, validated response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub via: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: CSeq,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    /// A new request with the given dialog-forming fields and no other headers.
    pub fn new(
        method: Method,
        uri: Uri,
        via: Via,
        from: NameAddr,
        to: NameAddr,
        call_id: impl Into<String>,
        seq: u32,
    ) -> Request {
        let cseq = CSeq {
            seq,
            method: method.clone(),
        };
        Request {
            method,
            uri,
            via: vec![via],
            from,
            to,
            call_id: call_id.into(),
            cseq,
            max_forwards: Some(70),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// The topmost Via (a parsed request always has one).
    pub fn top_via(&self) -> &Via {
        &self.via[0]
    }

    /// Every Contact of the request, in order (validated when parsed).
    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        let mut out = Vec::new();
        for v in self.headers.get_all(&HeaderName::Contact) {
            out.extend(parse_contacts(v)?);
        }
        Ok(out)
    }

    /// Serialises the request; Content-Length is computed from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        write::request(self)
    }
}

impl Response {
    /// A response to `request` (RFC 3261 section 8.2.6.2): Via, From, To,
    /// Call-ID and CSeq copied; the caller adds a To tag where one is needed.
    pub fn to_request(request: &Request, status: u16) -> Response {
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            via: request.via.clone(),
            from: request.from.clone(),
            to: request.to.clone(),
            call_id: request.call_id.clone(),
            cseq: request.cseq.clone(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub fn top_via(&self) -> &Via {
        &self.via[0]
    }

    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        write::response(self)
    }
}

impl Message {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

/// The reason phrase waihu sends with a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Progress",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_text(method: &str, extra: &str) -> String {
        format!(
            "{method} sip:bob@192.0.2.2 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKrt1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.com>;tag=a1\r\n\
             To: <sip:bob@example.com>;tag=b1\r\n\
             Call-ID: rt-1\r\n\
             CSeq: 7 {method}\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        )
    }

    fn parse_request(text: &str) -> Request {
        match parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn refer_and_notify_round_trip() {
        for (token, method) in [("REFER", Method::Refer), ("NOTIFY", Method::Notify)] {
            assert_eq!(Method::from_token(token), Some(method.clone()));
            assert_eq!(method.as_str(), token);
            let r = parse_request(&request_text(token, ""));
            assert_eq!(r.method, method);
            assert_eq!(r.cseq.method, method);
            let again = parse_request(&String::from_utf8(r.to_bytes()).expect("utf-8"));
            assert_eq!(again, r);
            assert!(String::from_utf8_lossy(&r.to_bytes()).starts_with(&format!("{token} sip:")));
        }
        // Methods are case-sensitive: `refer` is an extension method.
        assert_eq!(
            Method::from_token("refer"),
            Some(Method::Extension("refer".into()))
        );
    }

    #[test]
    fn compact_forms_of_extension_headers() {
        let r = parse_request(&request_text(
            "REFER",
            "r: <sip:carol@example.com>\r\n\
             b: <sip:alice@example.com>\r\n\
             o: refer\r\n\
             x: 1800;refresher=uac\r\n\
             k: timer\r\n\
             min-se: 90\r\n\
             subscription-state: active;expires=60\r\n",
        ));
        let h = &r.headers;
        assert_eq!(h.get(&HeaderName::ReferTo), Some("<sip:carol@example.com>"));
        assert_eq!(
            h.get(&HeaderName::ReferredBy),
            Some("<sip:alice@example.com>")
        );
        assert_eq!(h.get(&HeaderName::Event), Some("refer"));
        assert_eq!(
            h.get(&HeaderName::SessionExpires),
            Some("1800;refresher=uac")
        );
        assert_eq!(h.get(&HeaderName::Supported), Some("timer"));
        assert_eq!(h.get(&HeaderName::MinSe), Some("90"));
        assert_eq!(
            h.get(&HeaderName::SubscriptionState),
            Some("active;expires=60")
        );
        // Written back in their full, canonical spelling.
        let text = String::from_utf8(r.to_bytes()).expect("utf-8");
        for line in [
            "Refer-To: <sip:carol@example.com>\r\n",
            "Referred-By: <sip:alice@example.com>\r\n",
            "Event: refer\r\n",
            "Session-Expires: 1800;refresher=uac\r\n",
            "Supported: timer\r\n",
            "Min-SE: 90\r\n",
            "Subscription-State: active;expires=60\r\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from {text}");
        }
        assert_eq!(parse_request(&text), r);
    }

    #[test]
    fn embedded_uri_headers_are_decoded() {
        let Ok(Uri::Sip(u)) = parse_uri(
            "sip:bob@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2&Subject=hi",
        ) else {
            panic!("not a SIP URI")
        };
        assert_eq!(
            u.embedded_headers(),
            [
                (
                    "Replaces".to_owned(),
                    "abc@h;to-tag=1;from-tag=2".to_owned()
                ),
                ("Subject".to_owned(), "hi".to_owned()),
            ]
        );
        let Ok(Uri::Sip(u)) = parse_uri("sip:bob@example.com") else {
            panic!("not a SIP URI")
        };
        assert!(u.embedded_headers().is_empty());
    }

    #[test]
    fn status_422_has_its_reason() {
        assert_eq!(reason_phrase(422), "Session Interval Too Small");
    }
}
