//! Session timers (RFC 4028): keeping a call alive by refreshing it with a
//! re-INVITE or UPDATE, and ending it when the refreshes stop.
//!
//! Negotiation is per transaction, so `refresher=uac` always names the side
//! that sent the request carrying it: after a re-INVITE from the other side,
//! `uac` is them. [`Negotiated::we_refresh`] resolves that once, and
//! [`SessionTimer`] only ever speaks of "we" and "they".
//!
//! - As UAS (an INVITE, re-INVITE or UPDATE arrived): [`uas_decide`] says
//!   whether to answer 422 ([`response_422`]), or which headers the 2xx
//!   carries and who refreshes.
//! - As UAC (we send an INVITE): [`UacNegotiation`] gives the headers to add,
//!   the interval to retry with after a 422, and reads the 2xx.
//! - Either way, a [`SessionTimer`] then tells when to send a refresh (half
//!   the interval, when we refresh) or to give up on the session (shortly
//!   before it expires, section 10), with `now` passed in like everywhere in
//!   this crate.

use std::fmt;
use std::time::{Duration, Instant};

use crate::message::{HeaderName, Headers, ParseError, Request, Response};

/// The lowest Min-SE there is (RFC 4028 section 5): no session interval is
/// ever shorter, and a request without Min-SE means this value.
pub const MIN_SE_FLOOR: u32 = 90;

/// The option tag of the extension, in Supported and Require.
pub const OPTION_TAG: &str = "timer";

/// Our policy for session timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// Whether we use session timers at all. Disabled, we behave as a UA
    /// that does not know RFC 4028.
    pub enabled: bool,
    /// The session interval we ask for, and the largest we grant (seconds;
    /// RFC 4028 section 4 recommends 1800).
    pub expires_s: u32,
    /// The shortest session interval we accept (seconds; never below 90).
    pub min_se_s: u32,
}

impl Default for SessionTimerConfig {
    fn default() -> SessionTimerConfig {
        SessionTimerConfig {
            enabled: true,
            expires_s: 1800,
            min_se_s: MIN_SE_FLOOR,
        }
    }
}

impl SessionTimerConfig {
    /// Min-SE raised to the floor of 90 (section 5), and the interval we ask
    /// for raised to our own Min-SE.
    fn normalized(&self) -> (u32, u32) {
        let min_se = self.min_se_s.max(MIN_SE_FLOOR);
        (min_se, self.expires_s.max(min_se))
    }
}

/// Who refreshes, as written in `refresher=`: relative to the transaction
/// carrying the header (`uac` is the sender of the request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    pub fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

impl fmt::Display for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Session-Expires` value (compact form `x`, RFC 4028 section 4):
/// `delta-seconds *(SEMI se-params)`, e.g. `1800;refresher=uac`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionExpires {
    /// The session interval in seconds (never 0).
    pub interval_s: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Parses a header value. LWS around `;` and `=` is allowed, the
    /// refresher value is matched case-insensitively, other parameters are
    /// skipped. A zero interval, a repeated or unknown refresher are refused.
    pub fn parse(value: &str) -> Result<SessionExpires, ParseError> {
        const NAME: &str = "Session-Expires";
        let (interval_s, params) = delta_seconds_with_params(value, NAME)?;
        if interval_s == 0 {
            return Err(ParseError::BadValue(NAME));
        }
        let mut refresher = None;
        for (name, value) in params {
            if !name.eq_ignore_ascii_case("refresher") {
                continue;
            }
            let r = match value {
                Some(v) if v.eq_ignore_ascii_case("uac") => Refresher::Uac,
                Some(v) if v.eq_ignore_ascii_case("uas") => Refresher::Uas,
                _ => return Err(ParseError::BadValue(NAME)),
            };
            if refresher.replace(r).is_some() {
                return Err(ParseError::BadValue(NAME));
            }
        }
        Ok(SessionExpires {
            interval_s,
            refresher,
        })
    }

    /// The Session-Expires of a message, `None` when absent or malformed
    /// (the first one counts when there are several).
    pub fn of(headers: &Headers) -> Option<SessionExpires> {
        SessionExpires::parse(headers.get(&HeaderName::SessionExpires)?).ok()
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.interval_s)?;
        if let Some(r) = self.refresher {
            write!(f, ";refresher={r}")?;
        }
        Ok(())
    }
}

/// Parses a `Min-SE` value (RFC 4028 section 5): `delta-seconds *(SEMI
/// generic-param)`. The number is returned as written, even below 90.
pub fn parse_min_se(value: &str) -> Result<u32, ParseError> {
    delta_seconds_with_params(value, "Min-SE").map(|(n, _)| n)
}

/// The Min-SE a request imposes: its header raised to the floor of 90, or
/// 90 when absent or malformed (section 5).
fn min_se_of(headers: &Headers) -> u32 {
    headers
        .get(&HeaderName::MinSe)
        .and_then(|v| parse_min_se(v).ok())
        .unwrap_or(MIN_SE_FLOOR)
        .max(MIN_SE_FLOOR)
}

/// Whether the message lists `timer` in Supported (compact `k`) or in
/// Require: a UA requiring the extension supports it.
pub fn supports_timer(headers: &Headers) -> bool {
    has_option_tag(headers, &HeaderName::Supported) || requires_timer(headers)
}

/// Whether the message lists `timer` in Require.
pub fn requires_timer(headers: &Headers) -> bool {
    has_option_tag(headers, &HeaderName::Require)
}

fn has_option_tag(headers: &Headers, name: &HeaderName) -> bool {
    headers
        .tokens(name)
        .any(|t| t.eq_ignore_ascii_case(OPTION_TAG))
}

/// The outcome of a negotiation, seen from our side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The session interval in seconds.
    pub interval_s: u32,
    /// The refresher as written in the Session-Expires of the 2xx (relative
    /// to that transaction).
    pub refresher: Refresher,
    /// Whether we send the refreshes.
    pub we_refresh: bool,
}

/// What a UAS does with a request that may refresh the session (INVITE,
/// re-INVITE, UPDATE): [`uas_decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer 2xx with `headers_for_2xx` added (Session-Expires with the
    /// refresher, and `Require: timer` when the UAC supports the extension).
    Accept {
        interval_s: u32,
        refresher: Refresher,
        headers_for_2xx: Vec<(HeaderName, String)>,
    },
    /// Answer 422 with `Min-SE: min_se` ([`response_422`]): the interval
    /// asked for is below what we accept (section 9).
    Reject422 { min_se: u32 },
    /// Timers disabled and the request requires them: answer 420 with
    /// `Unsupported: timer` (RFC 3261 section 8.2.2.3).
    Reject420,
    /// Timers disabled: answer without Session-Expires, run no timer.
    NoTimer,
}

impl Decision {
    /// The timer to run once the 2xx is sent, for [`SessionTimer::new`];
    /// `None` unless the decision is [`Decision::Accept`]. We are the UAS
    /// of the transaction, so we refresh when the refresher is `uas`.
    pub fn negotiated(&self) -> Option<Negotiated> {
        match self {
            Decision::Accept {
                interval_s,
                refresher,
                ..
            } => Some(Negotiated {
                interval_s: *interval_s,
                refresher: *refresher,
                we_refresh: *refresher == Refresher::Uas,
            }),
            _ => None,
        }
    }
}

/// The UAS side of RFC 4028 (section 9), for an INVITE, re-INVITE or UPDATE
/// we are about to accept.
///
/// - The UAC supports the extension (`timer` in Supported or Require) and
///   asks for an interval below our Min-SE: [`Decision::Reject422`]. A UAC
///   that does not support it would not understand a 422, so it is never
///   sent one (section 9 allows the 422 only with `Supported: timer`).
/// - Otherwise [`Decision::Accept`]. With a Session-Expires in the request,
///   the interval is the one asked for, reduced to ours if larger, never
///   below the request's Min-SE (or 90), and never increased (section 9);
///   one below 90 (only a UAC without support can get this far with one) is
///   raised to 90, the floor of section 5. Without Session-Expires, we
///   insert our own interval, raised to the request's Min-SE.
/// - The refresher follows table 2 of section 9: the one the request names
///   when the UAC supports the extension, `uas` when it does not (it cannot
///   refresh a timer it does not know), and when the UAC leaves it to us,
///   `uas`: we refresh, which does not depend on the peer's timer code.
/// - `Require: timer` goes in the 2xx whenever the UAC supports the
///   extension: a MUST with `refresher=uac`, a SHOULD with `uas`. Never
///   otherwise, since a response may only require what the request supports.
pub fn uas_decide(config: &SessionTimerConfig, request: &Request) -> Decision {
    let supported = supports_timer(&request.headers);
    if !config.enabled {
        return if requires_timer(&request.headers) {
            Decision::Reject420
        } else {
            Decision::NoTimer
        };
    }
    let (our_min_se, our_expires) = config.normalized();
    let their_min_se = min_se_of(&request.headers);
    let asked = SessionExpires::of(&request.headers);
    let interval_s = match asked {
        Some(se) if supported && se.interval_s < our_min_se => {
            return Decision::Reject422 { min_se: our_min_se };
        }
        Some(se) => se
            .interval_s
            .min(our_expires.max(their_min_se))
            .max(MIN_SE_FLOOR),
        None => our_expires.max(their_min_se),
    };
    let refresher = match asked.and_then(|se| se.refresher) {
        Some(r) if supported => r,
        _ => Refresher::Uas,
    };
    let mut headers_for_2xx = vec![(
        HeaderName::SessionExpires,
        SessionExpires {
            interval_s,
            refresher: Some(refresher),
        }
        .to_string(),
    )];
    if supported {
        headers_for_2xx.push((HeaderName::Require, OPTION_TAG.to_owned()));
    }
    Decision::Accept {
        interval_s,
        refresher,
        headers_for_2xx,
    }
}

/// A 422 (Session Interval Too Small) to `request`, carrying the Min-SE it
/// must have (RFC 4028 section 6). The caller adds the To tag if needed.
pub fn response_422(request: &Request, min_se: u32) -> Response {
    let mut response = Response::to_request(request, 422);
    response
        .headers
        .push(HeaderName::MinSe, min_se.max(MIN_SE_FLOOR).to_string());
    response
}

/// The UAC side of RFC 4028 (section 7) for one INVITE and its retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UacNegotiation {
    enabled: bool,
    session_expires_s: u32,
    min_se_s: u32,
}

impl UacNegotiation {
    pub fn new(config: &SessionTimerConfig) -> UacNegotiation {
        let (min_se_s, session_expires_s) = config.normalized();
        UacNegotiation {
            enabled: config.enabled,
            session_expires_s,
            min_se_s,
        }
    }

    /// The interval the next request asks for.
    pub fn session_expires_s(&self) -> u32 {
        self.session_expires_s
    }

    /// The Min-SE the next request carries.
    pub fn min_se_s(&self) -> u32 {
        self.min_se_s
    }

    /// Headers for the INVITE (section 7.1): `Supported: timer`,
    /// `Session-Expires` without a refresher (RECOMMENDED, so the UAS picks
    /// one) and `Min-SE`. None when timers are disabled.
    pub fn request_headers(&self) -> Vec<(HeaderName, String)> {
        if !self.enabled {
            return Vec::new();
        }
        vec![
            (HeaderName::Supported, OPTION_TAG.to_owned()),
            (
                HeaderName::SessionExpires,
                self.session_expires_s.to_string(),
            ),
            (HeaderName::MinSe, self.min_se_s.to_string()),
        ]
    }

    /// A 422 to our INVITE (section 7.3): the interval to retry with, the
    /// larger of ours and the response's Min-SE, which also becomes our
    /// Min-SE (the [`UacNegotiation::request_headers`] of the retry carry
    /// both). `None` when there is nothing to retry with: not a 422, no
    /// usable Min-SE, or one that would not change our request (a retry
    /// would only get the same 422).
    pub fn on_422(&mut self, response: &Response) -> Option<u32> {
        if !self.enabled || response.status != 422 {
            return None;
        }
        let theirs = parse_min_se(response.headers.get(&HeaderName::MinSe)?).ok()?;
        if theirs <= self.session_expires_s {
            return None;
        }
        self.session_expires_s = theirs;
        self.min_se_s = self.min_se_s.max(theirs);
        Some(theirs)
    }

    /// A 2xx to our INVITE (section 7.2): the timer it sets up, or `None`
    /// when timers are disabled or the 2xx has no Session-Expires (then
    /// there is no session timer).
    pub fn on_2xx(&self, response: &Response) -> Option<Negotiated> {
        if !self.enabled {
            return None;
        }
        negotiated_from_2xx(response)
    }
}

/// The timer set up by a 2xx to a request we sent (INVITE, re-INVITE or
/// UPDATE), section 7.2: `None` when it is not a 2xx or carries no (usable)
/// Session-Expires, which turns the session timer off, even mid-dialog.
/// `refresher=uac` means us; a 2xx that names no refresher (the UAS MUST
/// name one) leaves it to us too, since a refresh too many is harmless and
/// one too few ends the call.
pub fn negotiated_from_2xx(response: &Response) -> Option<Negotiated> {
    if !(200..300).contains(&response.status) {
        return None;
    }
    let se = SessionExpires::of(&response.headers)?;
    let refresher = se.refresher.unwrap_or(Refresher::Uac);
    Some(Negotiated {
        interval_s: se.interval_s,
        refresher,
        we_refresh: refresher == Refresher::Uac,
    })
}

/// What [`SessionTimer::on_timeout`] wants done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerAction {
    /// Send a session refresh: a re-INVITE or UPDATE carrying
    /// [`SessionTimer::request_headers`]. Call [`SessionTimer::refreshed`]
    /// (or [`SessionTimer::renegotiated`]) on its 2xx; on a transaction
    /// timeout, 408 or 481, send BYE (section 10).
    SendRefresh,
    /// The session has expired without a refresh: send BYE (section 10).
    Expire,
    Nothing,
}

/// The running session timer of one dialog.
///
/// When we refresh, a refresh is due half an interval after the last one
/// (section 10). Either way, the session is given up `interval - min(32 s,
/// interval / 3)` after the last refresh: the point where section 10 has
/// the side that does not refresh send its BYE, and where a peer that
/// follows it gives up on us when we are the refresher and our refreshes
/// keep failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    interval: Duration,
    we_refresh: bool,
    last_refresh: Instant,
    refresh_pending: bool,
    expired: bool,
}

impl SessionTimer {
    /// Starts the timer when the 2xx that negotiated it is sent or received.
    pub fn new(negotiated: Negotiated, now: Instant) -> SessionTimer {
        SessionTimer {
            interval: Duration::from_secs(negotiated.interval_s.into()),
            we_refresh: negotiated.we_refresh,
            last_refresh: now,
            refresh_pending: false,
            expired: false,
        }
    }

    /// The session interval in seconds.
    pub fn interval_s(&self) -> u32 {
        // Built from a u32 number of seconds.
        u32::try_from(self.interval.as_secs()).unwrap_or(u32::MAX)
    }

    pub fn we_refresh(&self) -> bool {
        self.we_refresh
    }

    /// Whether the session has expired ([`TimerAction::Expire`] was returned).
    pub fn is_expired(&self) -> bool {
        self.expired
    }

    /// When our next refresh is due; `None` when the peer refreshes.
    pub fn refresh_at(&self) -> Option<Instant> {
        self.we_refresh
            .then(|| self.last_refresh + self.interval / 2)
    }

    /// When the session is given up without a refresh.
    pub fn expires_at(&self) -> Instant {
        let margin = Duration::from_secs(32).min(self.interval / 3);
        self.last_refresh + (self.interval - margin)
    }

    /// When [`SessionTimer::on_timeout`] must next be called; `None` once expired.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        match self.refresh_at() {
            Some(at) if !self.refresh_pending => Some(at),
            _ => Some(self.expires_at()),
        }
    }

    /// Asks for a refresh once, when one is due and none is in flight; and
    /// for the end of the session once, when it has expired.
    pub fn on_timeout(&mut self, now: Instant) -> TimerAction {
        if self.expired {
            return TimerAction::Nothing;
        }
        if now >= self.expires_at() {
            self.expired = true;
            return TimerAction::Expire;
        }
        if !self.refresh_pending && self.refresh_at().is_some_and(|at| now >= at) {
            self.refresh_pending = true;
            return TimerAction::SendRefresh;
        }
        TimerAction::Nothing
    }

    /// A refresh went through (a 2xx to a re-INVITE or UPDATE, sent or
    /// received) with the same interval and refresher: the session runs
    /// one more interval from `now`.
    pub fn refreshed(&mut self, now: Instant) {
        self.last_refresh = now;
        self.refresh_pending = false;
    }

    /// A refresh went through and negotiated anew (from
    /// [`Decision::negotiated`] or [`negotiated_from_2xx`]): interval and
    /// refresher may both have changed. Revives an expired timer.
    pub fn renegotiated(&mut self, negotiated: Negotiated, now: Instant) {
        *self = SessionTimer::new(negotiated, now);
    }

    /// Headers for a re-INVITE or UPDATE we send in the dialog (section
    /// 7.4): `Supported: timer`, the current interval with the refresher
    /// unchanged (`uac` when it is us, since we send this request, `uas`
    /// when it is the peer) and `Min-SE`.
    pub fn request_headers(&self, min_se_s: u32) -> Vec<(HeaderName, String)> {
        let refresher = if self.we_refresh {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        vec![
            (HeaderName::Supported, OPTION_TAG.to_owned()),
            (
                HeaderName::SessionExpires,
                SessionExpires {
                    interval_s: self.interval_s(),
                    refresher: Some(refresher),
                }
                .to_string(),
            ),
            (HeaderName::MinSe, min_se_s.max(MIN_SE_FLOOR).to_string()),
        ]
    }
}

/// One `name[=value]` header parameter, trimmed.
type Param<'a> = (&'a str, Option<&'a str>);

/// `delta-seconds *(SEMI name [EQUAL value])`, LWS allowed around `;` and
/// `=`, quoted values may hold `;`. Returns the number and the parameters.
fn delta_seconds_with_params<'a>(
    value: &'a str,
    name: &'static str,
) -> Result<(u32, Vec<Param<'a>>), ParseError> {
    let bad = || ParseError::BadValue(name);
    let mut parts = split_outside_quotes(value).into_iter();
    let number = parts.next().unwrap_or_default().trim();
    if number.is_empty() || number.len() > 10 || !number.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let number: u32 = number.parse().map_err(|_| bad())?;
    let mut params = Vec::new();
    for part in parts {
        let (pname, pvalue) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (part.trim(), None),
        };
        let is_token = |s: &str| {
            !s.is_empty()
                && s.bytes().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(
                            c,
                            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                        )
                })
        };
        if !is_token(pname) || pvalue.is_some_and(str::is_empty) {
            return Err(bad());
        }
        params.push((pname, pvalue));
    }
    Ok((number, params))
}

/// Splits on `;` outside double quotes (a quoted-pair never ends a quote).
fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Host, Message, NameAddr, SipUri, Uri, Via, parse};

    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn config() -> SessionTimerConfig {
        SessionTimerConfig::default()
    }

    fn invite(headers: &[(HeaderName, &str)]) -> Request {
        let uri = |user: &str| {
            Uri::Sip(SipUri::new(
                Some(user),
                Host::Name("example.com".to_owned()),
            ))
        };
        let mut from = NameAddr::new(uri("alice"));
        from.set_tag("a1");
        let mut via = Via {
            transport: "UDP".to_owned(),
            host: Host::Name("pc33.example.com".to_owned()),
            port: None,
            params: Default::default(),
        };
        via.params.set("branch", Some("z9hG4bKst"));
        let mut r = Request::new(
            crate::message::Method::Invite,
            uri("bob"),
            via,
            from,
            NameAddr::new(uri("bob")),
            "st-1",
            1,
        );
        for (name, value) in headers {
            r.headers.push(name.clone(), *value);
        }
        r
    }

    fn response(status: u16, headers: &[(HeaderName, &str)]) -> Response {
        let mut r = Response::to_request(&invite(&[]), status);
        for (name, value) in headers {
            r.headers.push(name.clone(), *value);
        }
        r
    }

    fn header<'a>(headers: &'a [(HeaderName, String)], name: &HeaderName) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn accepted(d: &Decision) -> (u32, Refresher, &[(HeaderName, String)]) {
        match d {
            Decision::Accept {
                interval_s,
                refresher,
                headers_for_2xx,
            } => (*interval_s, *refresher, headers_for_2xx),
            other => panic!("expected Accept, got {other:?}"),
        }
    }

    const SUPPORTED: (HeaderName, &str) = (HeaderName::Supported, "timer");

    // --- Header grammar ------------------------------------------------------

    #[test]
    fn session_expires_parses_and_formats() {
        let se = SessionExpires::parse("1800;refresher=uac").expect("parse");
        assert_eq!(
            se,
            SessionExpires {
                interval_s: 1800,
                refresher: Some(Refresher::Uac)
            }
        );
        assert_eq!(se.to_string(), "1800;refresher=uac");
        let se = SessionExpires::parse(" 4000 ; refresher = UAS ;x-foo=\"a;b\";bar").expect("lws");
        assert_eq!(se.refresher, Some(Refresher::Uas));
        assert_eq!(se.interval_s, 4000);
        let se = SessionExpires::parse("90").expect("bare");
        assert_eq!((se.interval_s, se.refresher), (90, None));
        assert_eq!(se.to_string(), "90");
        for bad in [
            "",
            "abc",
            "-5",
            "0",
            "1800;refresher=proxy",
            "1800;refresher",
            "1800;refresher=uac;refresher=uas",
            "1800;",
            "1800;=x",
            "99999999999",
            "1800 uac",
        ] {
            assert!(SessionExpires::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn min_se_parses() {
        assert_eq!(parse_min_se("90"), Ok(90));
        assert_eq!(parse_min_se(" 120 ;foo=bar"), Ok(120));
        assert_eq!(parse_min_se("30"), Ok(30), "kept as written");
        assert!(parse_min_se("").is_err());
        assert!(parse_min_se("x90").is_err());
    }

    #[test]
    fn compact_form_and_option_tags_are_recognised() {
        let text = "INVITE sip:bob@example.com SIP/2.0\r\n\
            Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKc1\r\n\
            From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
            Call-ID: c1\r\nCSeq: 1 INVITE\r\n\
            x: 1200;refresher=uas\r\nk: 100rel, TIMER\r\nMin-SE: 600\r\n\
            Content-Length: 0\r\n\r\n";
        let Ok(Message::Request(r)) = parse(text.as_bytes()) else {
            panic!("parse")
        };
        assert_eq!(
            SessionExpires::of(&r.headers),
            Some(SessionExpires {
                interval_s: 1200,
                refresher: Some(Refresher::Uas)
            })
        );
        assert!(supports_timer(&r.headers));
        assert!(!requires_timer(&r.headers));
        assert_eq!(min_se_of(&r.headers), 600);

        let r = invite(&[(HeaderName::Require, "timer")]);
        assert!(supports_timer(&r.headers) && requires_timer(&r.headers));
        let r = invite(&[(HeaderName::Supported, "100rel, timers")]);
        assert!(!supports_timer(&r.headers));
        let r = invite(&[(HeaderName::MinSe, "30")]);
        assert_eq!(min_se_of(&r.headers), 90, "never below the floor");
    }

    // --- UAS -----------------------------------------------------------------

    #[test]
    fn uas_copies_the_refresher_the_uac_asks_for() {
        for (asked, expected) in [("uac", Refresher::Uac), ("uas", Refresher::Uas)] {
            let value = format!("1800;refresher={asked}");
            let d = uas_decide(
                &config(),
                &invite(&[SUPPORTED, (HeaderName::SessionExpires, &value)]),
            );
            let (interval, refresher, headers) = accepted(&d);
            assert_eq!((interval, refresher), (1800, expected));
            assert_eq!(
                header(headers, &HeaderName::SessionExpires),
                Some(value.as_str())
            );
            assert_eq!(header(headers, &HeaderName::Require), Some("timer"));
            assert_eq!(
                d.negotiated().map(|n| n.we_refresh),
                Some(expected == Refresher::Uas)
            );
        }
    }

    #[test]
    fn uas_picks_itself_when_the_uac_leaves_the_refresher_open() {
        let d = uas_decide(
            &config(),
            &invite(&[SUPPORTED, (HeaderName::SessionExpires, "1000")]),
        );
        let (interval, refresher, headers) = accepted(&d);
        assert_eq!((interval, refresher), (1000, Refresher::Uas));
        assert_eq!(
            header(headers, &HeaderName::SessionExpires),
            Some("1000;refresher=uas")
        );
        assert_eq!(header(headers, &HeaderName::Require), Some("timer"));
    }

    #[test]
    fn uas_rejects_a_too_short_interval_with_422_and_its_min_se() {
        let cfg = SessionTimerConfig {
            min_se_s: 300,
            ..config()
        };
        let req = invite(&[SUPPORTED, (HeaderName::SessionExpires, "120")]);
        assert_eq!(uas_decide(&cfg, &req), Decision::Reject422 { min_se: 300 });
        let r = response_422(&req, 300);
        assert_eq!(r.status, 422);
        assert_eq!(r.reason, "Session Interval Too Small");
        assert_eq!(r.headers.get(&HeaderName::MinSe), Some("300"));
        // Exactly our minimum is fine.
        let req = invite(&[SUPPORTED, (HeaderName::SessionExpires, "300")]);
        assert_eq!(accepted(&uas_decide(&cfg, &req)).0, 300);
        // A configured Min-SE below 90 still means 90.
        let cfg = SessionTimerConfig {
            min_se_s: 10,
            ..config()
        };
        let req = invite(&[SUPPORTED, (HeaderName::SessionExpires, "60")]);
        assert_eq!(uas_decide(&cfg, &req), Decision::Reject422 { min_se: 90 });
    }

    #[test]
    fn uas_never_sends_422_to_a_uac_without_timer_support() {
        // A proxy inserted Session-Expires for a UAC that knows nothing of it.
        let cfg = SessionTimerConfig {
            min_se_s: 300,
            ..config()
        };
        let d = uas_decide(&cfg, &invite(&[(HeaderName::SessionExpires, "120")]));
        let (interval, refresher, headers) = accepted(&d);
        assert_eq!(
            (interval, refresher),
            (120, Refresher::Uas),
            "not increased"
        );
        assert_eq!(header(headers, &HeaderName::Require), None);
        // Below the absolute floor: raised to 90.
        let d = uas_decide(&cfg, &invite(&[(HeaderName::SessionExpires, "30")]));
        assert_eq!(accepted(&d).0, 90);
    }

    #[test]
    fn uas_reduces_a_long_interval_but_not_below_the_requests_min_se() {
        let cfg = config(); // 1800
        let d = uas_decide(
            &cfg,
            &invite(&[SUPPORTED, (HeaderName::SessionExpires, "7200")]),
        );
        assert_eq!(accepted(&d).0, 1800);
        let d = uas_decide(
            &cfg,
            &invite(&[
                SUPPORTED,
                (HeaderName::SessionExpires, "7200;refresher=uac"),
                (HeaderName::MinSe, "3600"),
            ]),
        );
        assert_eq!(accepted(&d).0, 3600);
        // Never more than asked, whatever the Min-SE says.
        let d = uas_decide(
            &cfg,
            &invite(&[
                SUPPORTED,
                (HeaderName::SessionExpires, "2000"),
                (HeaderName::MinSe, "3600"),
            ]),
        );
        assert_eq!(accepted(&d).0, 2000);
    }

    #[test]
    fn uas_inserts_a_timer_the_uac_did_not_ask_for() {
        // Supported: timer without Session-Expires: we may ask for one.
        let d = uas_decide(
            &config(),
            &invite(&[SUPPORTED, (HeaderName::MinSe, "2400")]),
        );
        let (interval, refresher, headers) = accepted(&d);
        assert_eq!((interval, refresher), (2400, Refresher::Uas));
        assert_eq!(header(headers, &HeaderName::Require), Some("timer"));
        // No support at all: we still run a timer, and refresh it ourselves,
        // without requiring anything of the UAC.
        let d = uas_decide(&config(), &invite(&[]));
        let (interval, refresher, headers) = accepted(&d);
        assert_eq!((interval, refresher), (1800, Refresher::Uas));
        assert_eq!(
            header(headers, &HeaderName::SessionExpires),
            Some("1800;refresher=uas")
        );
        assert_eq!(header(headers, &HeaderName::Require), None);
        assert!(d.negotiated().is_some_and(|n| n.we_refresh));
    }

    #[test]
    fn uas_ignores_a_refresher_from_a_uac_without_support() {
        let d = uas_decide(
            &config(),
            &invite(&[(HeaderName::SessionExpires, "1800;refresher=uac")]),
        );
        assert_eq!(accepted(&d).1, Refresher::Uas);
    }

    #[test]
    fn uas_treats_a_malformed_session_expires_as_absent() {
        let d = uas_decide(
            &config(),
            &invite(&[SUPPORTED, (HeaderName::SessionExpires, "soon")]),
        );
        assert_eq!(accepted(&d).0, 1800);
    }

    #[test]
    fn uas_disabled_runs_no_timer_and_refuses_a_required_one() {
        let cfg = SessionTimerConfig {
            enabled: false,
            ..config()
        };
        let req = invite(&[SUPPORTED, (HeaderName::SessionExpires, "1800")]);
        assert_eq!(uas_decide(&cfg, &req), Decision::NoTimer);
        assert_eq!(uas_decide(&cfg, &req).negotiated(), None);
        let req = invite(&[
            (HeaderName::Require, "timer"),
            (HeaderName::SessionExpires, "1800"),
        ]);
        assert_eq!(uas_decide(&cfg, &req), Decision::Reject420);
    }

    // --- UAC -----------------------------------------------------------------

    #[test]
    fn uac_asks_for_a_timer_without_choosing_the_refresher() {
        let uac = UacNegotiation::new(&config());
        let h = uac.request_headers();
        assert_eq!(header(&h, &HeaderName::Supported), Some("timer"));
        assert_eq!(header(&h, &HeaderName::SessionExpires), Some("1800"));
        assert_eq!(header(&h, &HeaderName::MinSe), Some("90"));
        let off = UacNegotiation::new(&SessionTimerConfig {
            enabled: false,
            ..config()
        });
        assert!(off.request_headers().is_empty());
        let ok = response(200, &[(HeaderName::SessionExpires, "1800;refresher=uas")]);
        assert_eq!(off.on_2xx(&ok), None);
    }

    #[test]
    fn uac_reads_who_refreshes_from_the_2xx() {
        let uac = UacNegotiation::new(&config());
        let ok = response(
            200,
            &[
                (HeaderName::SessionExpires, "1200;refresher=uac"),
                (HeaderName::Require, "timer"),
            ],
        );
        assert_eq!(
            uac.on_2xx(&ok),
            Some(Negotiated {
                interval_s: 1200,
                refresher: Refresher::Uac,
                we_refresh: true
            })
        );
        let ok = response(200, &[(HeaderName::SessionExpires, "1800;refresher=uas")]);
        assert_eq!(uac.on_2xx(&ok).map(|n| n.we_refresh), Some(false));
        // No refresher named: we refresh rather than nobody.
        let ok = response(200, &[(HeaderName::SessionExpires, "1800")]);
        assert_eq!(uac.on_2xx(&ok).map(|n| n.we_refresh), Some(true));
        // No Session-Expires: no timer.
        assert_eq!(uac.on_2xx(&response(200, &[])), None);
        // Not a 2xx.
        let ringing = response(180, &[(HeaderName::SessionExpires, "1800")]);
        assert_eq!(uac.on_2xx(&ringing), None);
    }

    #[test]
    fn uac_retries_a_422_with_the_larger_interval() {
        let mut uac = UacNegotiation::new(&SessionTimerConfig {
            expires_s: 120,
            ..config()
        });
        let r422 = response(422, &[(HeaderName::MinSe, "600")]);
        assert_eq!(uac.on_422(&r422), Some(600));
        let h = uac.request_headers();
        assert_eq!(header(&h, &HeaderName::SessionExpires), Some("600"));
        assert_eq!(header(&h, &HeaderName::MinSe), Some("600"));
        // The same 422 again would change nothing: give up.
        assert_eq!(uac.on_422(&r422), None);
        // A Min-SE below what we already ask for: nothing to retry with.
        let mut uac = UacNegotiation::new(&config());
        assert_eq!(
            uac.on_422(&response(422, &[(HeaderName::MinSe, "300")])),
            None
        );
        assert_eq!(uac.session_expires_s(), 1800);
        // No Min-SE, or not a 422.
        assert_eq!(uac.on_422(&response(422, &[])), None);
        assert_eq!(
            uac.on_422(&response(423, &[(HeaderName::MinSe, "3600")])),
            None
        );
    }

    // --- The running timer -----------------------------------------------------

    fn negotiated(interval_s: u32, we_refresh: bool) -> Negotiated {
        Negotiated {
            interval_s,
            refresher: Refresher::Uac,
            we_refresh,
        }
    }

    #[test]
    fn the_refresher_refreshes_at_half_the_interval() {
        let t0 = epoch();
        let mut timer = SessionTimer::new(negotiated(1800, true), t0);
        assert_eq!(timer.next_deadline(), Some(t0 + secs(900)));
        assert_eq!(timer.on_timeout(t0 + secs(899)), TimerAction::Nothing);
        assert_eq!(timer.on_timeout(t0 + secs(900)), TimerAction::SendRefresh);
        // Asked once; now only the expiry is pending.
        assert_eq!(timer.on_timeout(t0 + secs(901)), TimerAction::Nothing);
        assert_eq!(timer.next_deadline(), Some(t0 + secs(1800 - 32)));
        // The refresh's 2xx: a whole new interval.
        let t1 = t0 + secs(902);
        timer.refreshed(t1);
        assert_eq!(timer.next_deadline(), Some(t1 + secs(900)));
        assert_eq!(timer.on_timeout(t1 + secs(900)), TimerAction::SendRefresh);
    }

    #[test]
    fn a_refresher_whose_refreshes_fail_gives_up() {
        let t0 = epoch();
        let mut timer = SessionTimer::new(negotiated(90, true), t0);
        assert_eq!(timer.on_timeout(t0 + secs(45)), TimerAction::SendRefresh);
        // min(32, 90 / 3) = 30 before the end.
        assert_eq!(timer.next_deadline(), Some(t0 + secs(60)));
        assert_eq!(timer.on_timeout(t0 + secs(60)), TimerAction::Expire);
        assert!(timer.is_expired());
        assert_eq!(timer.next_deadline(), None);
        assert_eq!(timer.on_timeout(t0 + secs(100)), TimerAction::Nothing);
    }

    #[test]
    fn the_other_side_refreshes_or_we_end_the_session() {
        let t0 = epoch();
        let mut timer = SessionTimer::new(negotiated(1800, false), t0);
        assert_eq!(timer.refresh_at(), None);
        // min(32, 600) = 32 s before the interval ends.
        assert_eq!(timer.next_deadline(), Some(t0 + secs(1768)));
        assert_eq!(timer.on_timeout(t0 + secs(900)), TimerAction::Nothing);
        // Their refresh arrived.
        timer.refreshed(t0 + secs(900));
        assert_eq!(timer.on_timeout(t0 + secs(1768)), TimerAction::Nothing);
        assert_eq!(timer.next_deadline(), Some(t0 + secs(900 + 1768)));
        assert_eq!(timer.on_timeout(t0 + secs(900 + 1768)), TimerAction::Expire);
        // A short interval: one third, not 32 s.
        let timer = SessionTimer::new(negotiated(90, false), t0);
        assert_eq!(timer.expires_at(), t0 + secs(60));
    }

    #[test]
    fn a_late_wakeup_past_the_expiry_expires_rather_than_refreshes() {
        let t0 = epoch();
        let mut timer = SessionTimer::new(negotiated(1800, true), t0);
        assert_eq!(timer.on_timeout(t0 + secs(5000)), TimerAction::Expire);
    }

    #[test]
    fn renegotiation_can_swap_the_refresher() {
        let t0 = epoch();
        let mut timer = SessionTimer::new(negotiated(1800, true), t0);
        // The peer re-INVITEs asking to refresh itself, with a new interval.
        let req = invite(&[SUPPORTED, (HeaderName::SessionExpires, "600;refresher=uac")]);
        let n = uas_decide(&config(), &req).negotiated().expect("accepted");
        assert!(!n.we_refresh, "uac of that transaction is the peer");
        let t1 = t0 + secs(100);
        timer.renegotiated(n, t1);
        assert_eq!(timer.interval_s(), 600);
        assert_eq!(timer.refresh_at(), None);
        assert_eq!(timer.next_deadline(), Some(t1 + secs(600 - 32)));
    }

    #[test]
    fn refresh_requests_keep_the_refresher() {
        let t0 = epoch();
        let ours = SessionTimer::new(negotiated(1800, true), t0);
        let h = ours.request_headers(90);
        assert_eq!(header(&h, &HeaderName::Supported), Some("timer"));
        assert_eq!(
            header(&h, &HeaderName::SessionExpires),
            Some("1800;refresher=uac")
        );
        assert_eq!(header(&h, &HeaderName::MinSe), Some("90"));
        let theirs = SessionTimer::new(negotiated(1200, false), t0);
        assert_eq!(
            header(&theirs.request_headers(600), &HeaderName::SessionExpires),
            Some("1200;refresher=uas")
        );
        // The 2xx to our refresh, read as UAC of that transaction.
        let ok = response(200, &[(HeaderName::SessionExpires, "1200;refresher=uas")]);
        assert_eq!(
            negotiated_from_2xx(&ok),
            Some(Negotiated {
                interval_s: 1200,
                refresher: Refresher::Uas,
                we_refresh: false
            })
        );
    }
}
