//! Tokenising and validating one SIP message.
//!
//! Three passes over a datagram (or one stream frame):
//! 1. split the head into lines, unfold continuation lines, split `name: value`
//!    (bounded: message size, header count, line length);
//! 2. the start line: a response (`SIP/2.0 NNN reason`) or a request
//!    (`METHOD SP Request-URI SP SIP/2.0`, single spaces, nothing trailing);
//! 3. the headers a transaction needs (Via, From, To, Call-ID, CSeq,
//!    Max-Forwards, Content-Length) parsed strictly into typed fields, Contact
//!    validated, everything else kept as text.
//!
//! A refused request keeps enough of its head ([`Malformed::reply`]) to be
//! answered with the status [`ParseError::status`] chooses.

use std::sync::LazyLock;

use bytes::Bytes;

use super::uri::{self, is_token};
use super::{CSeq, HeaderName, Headers, Message, Method, NameAddr, Request, Response, Uri, Via};

/// Size bounds applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_message: usize,
    pub max_headers: usize,
    pub max_header_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: 65_535,
            max_headers: 256,
            max_header_line: 8_192,
        }
    }
}

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("not a SIP message")]
    NotSip,
    #[error("malformed response: {0}")]
    BadResponse(&'static str),
    #[error("message exceeds size limits")]
    TooLarge,
    #[error("malformed start line")]
    BadStartLine,
    #[error("SIP version not supported")]
    VersionNotSupported,
    #[error("malformed URI: {0}")]
    BadUri(&'static str),
    #[error("Request-URI scheme not supported")]
    UnsupportedScheme,
    #[error("malformed header: {0}")]
    BadHeader(&'static str),
    #[error("malformed {0} header")]
    BadValue(&'static str),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("more than one {0} header")]
    RepeatedHeader(&'static str),
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    #[error("header block is not UTF-8")]
    NotUtf8,
    #[error("Content-Length is not a number")]
    BadContentLength,
    #[error("more than one Content-Length")]
    RepeatedContentLength,
    #[error("body shorter than Content-Length")]
    Truncated,
    #[error("body without Content-Type")]
    MissingContentType,
}

impl ParseError {
    /// The status a request with this fault gets; `None`: drop it silently.
    /// The one place that maps parse faults to SIP status codes.
    pub fn status(&self) -> Option<u16> {
        match self {
            // Nothing can be trusted about where the message ends or whether
            // it is SIP at all: answering could be used to reflect traffic.
            ParseError::NotSip
            | ParseError::BadResponse(_)
            | ParseError::BadContentLength
            | ParseError::RepeatedContentLength => None,
            ParseError::TooLarge => Some(513),
            ParseError::VersionNotSupported => Some(505),
            ParseError::UnsupportedScheme => Some(416),
            ParseError::BadStartLine
            | ParseError::BadUri(_)
            | ParseError::BadHeader(_)
            | ParseError::BadValue(_)
            | ParseError::MissingHeader(_)
            | ParseError::RepeatedHeader(_)
            | ParseError::CSeqMismatch
            | ParseError::NotUtf8
            | ParseError::Truncated
            | ParseError::MissingContentType => Some(400),
        }
    }
}

/// The raw dialog-identifying headers of a refused request, copied verbatim
/// into the error response.
#[derive(Clone, Debug, Default)]
struct ReplyHead {
    via: Vec<String>,
    from: Option<String>,
    to: Option<String>,
    call_id: Option<String>,
    cseq: Option<String>,
    to_has_tag: bool,
}

/// A message that could not be accepted, with what is needed to answer it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{error}")]
pub struct Malformed {
    pub error: ParseError,
    head: Option<Box<ReplyHead>>,
}

impl Malformed {
    fn drop(error: ParseError) -> Malformed {
        Malformed { error, head: None }
    }

    /// The status to answer with, or `None` when the message must be dropped.
    /// A request without any Via cannot be answered (RFC 3261 section 18.2.2).
    pub fn status(&self) -> Option<u16> {
        if self.head.as_ref()?.via.is_empty() {
            return None;
        }
        self.error.status()
    }

    /// A serialised error response, when the message was a request and enough
    /// of it was readable to address one (at least one Via).
    pub fn reply(&self, server: &str, to_tag: &str) -> Option<Vec<u8>> {
        let status = self.status()?;
        let head = self.head.as_ref()?;
        let mut out = format!("SIP/2.0 {status} {}\r\n", super::reason_phrase(status));
        for v in &head.via {
            out.push_str(&format!("Via: {v}\r\n"));
        }
        if let Some(f) = &head.from {
            out.push_str(&format!("From: {f}\r\n"));
        }
        if let Some(t) = &head.to {
            if head.to_has_tag {
                out.push_str(&format!("To: {t}\r\n"));
            } else {
                out.push_str(&format!("To: {t};tag={to_tag}\r\n"));
            }
        }
        if let Some(c) = &head.call_id {
            out.push_str(&format!("Call-ID: {c}\r\n"));
        }
        if let Some(c) = &head.cseq {
            out.push_str(&format!("CSeq: {c}\r\n"));
        }
        out.push_str(&format!(
            "Server: {server}\r\nWarning: 399 waihu \"{}\"\r\nContent-Length: 0\r\n\r\n",
            self.error.to_string().replace('"', "'")
        ));
        Some(out.into_bytes())
    }
}

pub fn parse(bytes: &[u8]) -> Result<Message, Malformed> {
    parse_with_limits(bytes, &Limits::default())
}

/// The start line, split.
enum StartLine<'a> {
    Request {
        method: &'a str,
        uri: &'a str,
        version: &'a str,
    },
    Response {
        status: u16,
        reason: &'a str,
    },
}

/// Finds the end of the head: the index of the empty line and where the body starts.
fn split_head(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            match bytes.get(i + 1) {
                Some(b'\n') => return Some((i, i + 2)),
                Some(b'\r') if bytes.get(i + 2) == Some(&b'\n') => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Unfolded header lines of the head (after the start line).
/// Header lines as `(name, unfolded value)`.
type RawHeaders<'a> = Vec<(&'a str, String)>;

/// With `lenient`, lines that are not headers are skipped instead of refused
/// (used only to find what an error response must copy).
fn header_lines<'a>(
    head: &'a str,
    limits: &Limits,
    lenient: bool,
) -> Result<(&'a str, RawHeaders<'a>), ParseError> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().ok_or(ParseError::NotSip)?;
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            // Only reachable at the very end of a datagram that lacks its
            // blank line: the datagram boundary ends the head.
            continue;
        }
        if line.len() > limits.max_header_line {
            return Err(ParseError::TooLarge);
        }
        if line.starts_with([' ', '\t']) {
            let (_, value) = out
                .last_mut()
                .ok_or(ParseError::BadHeader("continuation first"))?;
            if value.len() + line.len() > limits.max_header_line {
                return Err(ParseError::TooLarge);
            }
            let more = line.trim();
            if more.is_empty() {
                continue;
            }
            if !value.is_empty() {
                value.push(' ');
            }
            value.push_str(more);
            continue;
        }
        if out.len() >= limits.max_headers {
            return Err(ParseError::TooLarge);
        }
        let Some(colon) = line.find(':') else {
            if lenient {
                continue;
            }
            return Err(ParseError::BadHeader("line without ':'"));
        };
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if !is_token(name) {
            if lenient {
                continue;
            }
            return Err(ParseError::BadHeader("bad header name"));
        }
        out.push((name, line[colon + 1..].trim().to_owned()));
    }
    Ok((start, out))
}

/// Byte-wise, so a multi-byte character near the start cannot split a slice.
fn starts_with_sip_slash(s: &str) -> bool {
    s.as_bytes()
        .get(..4)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"SIP/"))
}

fn start_line(line: &str) -> Result<StartLine<'_>, ParseError> {
    if starts_with_sip_slash(line) {
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let code = parts.next().ok_or(ParseError::BadResponse("no status"))?;
        let reason = parts.next().unwrap_or_default();
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err(ParseError::BadResponse("version"));
        }
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::BadResponse("status code"));
        }
        let status: u16 = code
            .parse()
            .map_err(|_| ParseError::BadResponse("status code"))?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::BadResponse("status code out of range"));
        }
        return Ok(StartLine::Response { status, reason });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine);
    };
    if !is_token(method) || uri.is_empty() || uri.contains('\t') {
        return Err(ParseError::BadStartLine);
    }
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

fn check_version(version: &str) -> Result<(), ParseError> {
    if version.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    // SIP/x.y with digits is a version we do not speak; anything else is garbage.
    let is_sip_version = starts_with_sip_slash(version)
        && version[4..].split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    Err(if is_sip_version {
        ParseError::VersionNotSupported
    } else {
        ParseError::BadStartLine
    })
}

/// rsip's method vocabulary in its canonical spelling. rsip matches method
/// names case-insensitively, but SIP methods are case-sensitive (`register`
/// is an extension method), so only the exact spelling counts; built once
/// because rsip's own parser allocates on every call.
static KNOWN_METHODS: LazyLock<Vec<(String, rsip::Method)>> = LazyLock::new(|| {
    rsip::Method::all()
        .into_iter()
        .map(|m| (m.to_string(), m))
        .collect()
});

pub(super) fn method_from_token(token: &str) -> Option<Method> {
    if !is_token(token) {
        return None;
    }
    let known = KNOWN_METHODS
        .iter()
        .find(|(name, _)| name == token)
        .map(|(_, m)| *m);
    Some(match known {
        Some(rsip::Method::Invite) => Method::Invite,
        Some(rsip::Method::Ack) => Method::Ack,
        Some(rsip::Method::Bye) => Method::Bye,
        Some(rsip::Method::Cancel) => Method::Cancel,
        Some(rsip::Method::Register) => Method::Register,
        Some(rsip::Method::Options) => Method::Options,
        Some(rsip::Method::Info) => Method::Info,
        Some(rsip::Method::Update) => Method::Update,
        Some(rsip::Method::PRack) => Method::Prack,
        Some(rsip::Method::Subscribe) => Method::Subscribe,
        Some(rsip::Method::Notify) => Method::Notify,
        Some(rsip::Method::Refer) => Method::Refer,
        Some(rsip::Method::Message) => Method::Message,
        Some(rsip::Method::Publish) => Method::Publish,
        None => Method::Extension(token.into()),
    })
}

/// The typed headers of a message, collected in one pass.
#[derive(Default)]
struct Typed {
    via: Vec<Via>,
    from: Option<NameAddr>,
    to: Option<NameAddr>,
    call_id: Option<String>,
    cseq: Option<CSeq>,
    max_forwards: Option<u32>,
    content_length: Option<usize>,
    content_type: bool,
    headers: Headers,
}

fn once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::RepeatedHeader(name));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_cseq(v: &str) -> Result<CSeq, ParseError> {
    let err = ParseError::BadValue("CSeq");
    let (num, method) = v.split_once([' ', '\t']).ok_or(err.clone())?;
    if num.is_empty() || num.len() > 10 || !num.bytes().all(|c| c.is_ascii_digit()) {
        return Err(err);
    }
    let seq: u64 = num.parse().map_err(|_| err.clone())?;
    // RFC 3261 section 8.1.1.5: the sequence number must be below 2**31.
    if seq >= 1 << 31 {
        return Err(err);
    }
    let method = method_from_token(method.trim()).ok_or(err)?;
    Ok(CSeq {
        seq: seq as u32,
        method,
    })
}

fn digits_u32(v: &str, name: &'static str) -> Result<u32, ParseError> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::BadValue(name));
    }
    v.parse().map_err(|_| ParseError::BadValue(name))
}

fn typed_headers(raw: Vec<(&str, String)>) -> Result<Typed, ParseError> {
    let mut t = Typed::default();
    for (name, value) in raw {
        let name = HeaderName::parse(name);
        match name {
            HeaderName::Via => uri::parse_vias(&value, &mut t.via)?,
            HeaderName::From => once(&mut t.from, uri::parse_name_addr(&value)?, "From")?,
            HeaderName::To => once(&mut t.to, uri::parse_name_addr(&value)?, "To")?,
            HeaderName::CallId => {
                if value.is_empty() || value.bytes().any(|c| c <= b' ') {
                    return Err(ParseError::BadValue("Call-ID"));
                }
                once(&mut t.call_id, value, "Call-ID")?;
            }
            HeaderName::CSeq => once(&mut t.cseq, parse_cseq(&value)?, "CSeq")?,
            HeaderName::MaxForwards => {
                once(
                    &mut t.max_forwards,
                    digits_u32(&value, "Max-Forwards")?,
                    "Max-Forwards",
                )?;
            }
            HeaderName::ContentLength => {
                if value.is_empty() || value.len() > 9 || !value.bytes().all(|c| c.is_ascii_digit())
                {
                    return Err(ParseError::BadContentLength);
                }
                let len = value.parse().map_err(|_| ParseError::BadContentLength)?;
                if t.content_length.replace(len).is_some() {
                    return Err(ParseError::RepeatedContentLength);
                }
            }
            name => {
                match name {
                    HeaderName::Contact | HeaderName::Route | HeaderName::RecordRoute => {
                        let ok = if name == HeaderName::Contact {
                            uri::parse_contacts(&value).is_ok()
                        } else {
                            uri::parse_name_addr_list(&value).is_ok()
                        };
                        if !ok {
                            return Err(ParseError::BadValue("Contact/Route"));
                        }
                    }
                    // RFC 3261 section 20.17: the only zone allowed is GMT.
                    HeaderName::Date if !value.ends_with("GMT") => {
                        return Err(ParseError::BadValue("Date"));
                    }
                    HeaderName::ContentType => t.content_type = true,
                    _ => {}
                }
                t.headers.push(name, value);
            }
        }
    }
    Ok(t)
}

/// Raw copies of the headers an error response needs, read again from the
/// head (only on the error path, so the good path copies nothing twice).
fn reply_head(head: &str, limits: &Limits) -> ReplyHead {
    let mut out = ReplyHead::default();
    let Ok((_, raw)) = header_lines(head, limits, true) else {
        return out;
    };
    for (name, value) in raw {
        match HeaderName::parse(name) {
            HeaderName::Via => out.via.push(value),
            HeaderName::From => out.from = Some(value),
            HeaderName::To => {
                out.to_has_tag = uri::parse_name_addr(&value).map_or(true, |n| n.tag().is_some());
                out.to = Some(value);
            }
            HeaderName::CallId => out.call_id = Some(value),
            HeaderName::CSeq => out.cseq = Some(value),
            _ => {}
        }
    }
    out
}

pub fn parse_with_limits(bytes: &[u8], limits: &Limits) -> Result<Message, Malformed> {
    if bytes.len() > limits.max_message {
        return Err(Malformed::drop(ParseError::TooLarge));
    }
    // RFC 3261 section 7.5: CRLFs before the start line are ignored.
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(Malformed::drop(ParseError::NotSip))?;
    let bytes = &bytes[start..];
    // A datagram without its blank line is all head.
    let (head_end, body_start) = split_head(bytes).unwrap_or((bytes.len(), bytes.len()));
    let head = std::str::from_utf8(&bytes[..head_end])
        .map_err(|_| Malformed::drop(ParseError::NotUtf8))?;
    let first_line = head.split('\n').next().unwrap_or_default();
    let start = start_line(first_line.strip_suffix('\r').unwrap_or(first_line));
    let is_request = !matches!(
        start,
        Ok(StartLine::Response { .. }) | Err(ParseError::BadResponse(_))
    );
    // An ACK is never answered (RFC 3261 section 17.1.1.3), however broken.
    let is_ack = matches!(start, Ok(StartLine::Request { method: "ACK", .. }));
    let refuse = |error: ParseError| {
        if is_ack {
            Malformed::drop(error)
        } else if is_request {
            Malformed {
                error,
                head: Some(Box::new(reply_head(head, limits))),
            }
        } else {
            Malformed::drop(ParseError::BadResponse(fault_name(&error)))
        }
    };
    let start = start.map_err(refuse)?;
    let (_, raw) = header_lines(head, limits, false).map_err(refuse)?;
    let request_uri = match &start {
        StartLine::Request { version, uri, .. } => {
            check_version(version).map_err(refuse)?;
            match uri::parse_uri(uri).map_err(refuse)? {
                Uri::Sip(u) if u.headers.is_some() => {
                    return Err(refuse(ParseError::BadUri("headers in Request-URI")));
                }
                Uri::Other { .. } => return Err(refuse(ParseError::UnsupportedScheme)),
                u => Some(u),
            }
        }
        StartLine::Response { .. } => None,
    };
    let typed = typed_headers(raw).map_err(refuse)?;
    let available = &bytes[body_start..];
    let body_len = match typed.content_length {
        Some(n) if n > available.len() => return Err(refuse(ParseError::Truncated)),
        Some(n) => n,
        None => available.len(),
    };
    if body_len > 0 && !typed.content_type {
        return Err(refuse(ParseError::MissingContentType));
    }
    let body = Bytes::copy_from_slice(&available[..body_len]);
    assemble(start, request_uri, typed, body).map_err(refuse)
}

fn fault_name(e: &ParseError) -> &'static str {
    match e {
        ParseError::BadValue(n) | ParseError::MissingHeader(n) | ParseError::RepeatedHeader(n) => n,
        ParseError::BadResponse(what) => what,
        _ => "header",
    }
}

fn assemble(
    start: StartLine<'_>,
    request_uri: Option<Uri>,
    t: Typed,
    body: Bytes,
) -> Result<Message, ParseError> {
    if t.via.is_empty() {
        return Err(ParseError::MissingHeader("Via"));
    }
    let from = t.from.ok_or(ParseError::MissingHeader("From"))?;
    let to = t.to.ok_or(ParseError::MissingHeader("To"))?;
    let call_id = t.call_id.ok_or(ParseError::MissingHeader("Call-ID"))?;
    let cseq = t.cseq.ok_or(ParseError::MissingHeader("CSeq"))?;
    match (start, request_uri) {
        (StartLine::Request { method, .. }, Some(uri)) => {
            let method = method_from_token(method).ok_or(ParseError::BadStartLine)?;
            // An extension method is answered 501 whatever its CSeq says.
            if cseq.method != method && !matches!(method, Method::Extension(_)) {
                return Err(ParseError::CSeqMismatch);
            }
            Ok(Message::Request(Request {
                method,
                uri,
                via: t.via,
                from,
                to,
                call_id,
                cseq,
                max_forwards: t.max_forwards,
                headers: t.headers,
                body,
            }))
        }
        (StartLine::Response { status, reason }, _) => Ok(Message::Response(Response {
            status,
            reason: reason.to_owned(),
            via: t.via,
            from,
            to,
            call_id,
            cseq,
            headers: t.headers,
            body,
        })),
        (StartLine::Request { .. }, None) => Err(ParseError::BadStartLine),
    }
}
