//! Outbound registration to a carrier (RFC 3261 section 10.2), without IO.
//!
//! A [`Registration`] keeps one binding of our Contact at a carrier's
//! registrar alive. It builds REGISTER requests and reads their responses;
//! the application sends each request through
//! [`Endpoint::send_request`](crate::endpoint::Endpoint::send_request),
//! remembers the returned id, and hands back the final response
//! ([`Registration::on_response`]) or the transaction timeout
//! ([`Registration::on_timeout`]). It calls [`Registration::poll_request`]
//! whenever [`Registration::poll_timeout`] falls due and after each of those
//! calls.
//!
//! Design notes:
//! - At most one REGISTER is outstanding (section 10.2: a new one waits for
//!   the final response or the timeout of the previous one).
//! - Challenges are answered once: credentials sent in answer to a fresh
//!   challenge that draw another challenge without `stale=true`, or a
//!   challenge repeating the nonce just used, mean the credentials are wrong.
//!   Later requests reuse the last challenge with the next nonce-count, so a
//!   refresh normally costs one transaction; if the registrar no longer
//!   likes that nonce, its new challenge is answered once more.
//! - With a configured realm, challenges for any other realm are refused
//!   before a password-derived response is computed: a carrier-side
//!   misconfiguration (or a spoofed 401) must not obtain a digest of the
//!   trunk password for a realm of its choosing.
//! - Every failure schedules a retry with exponential back-off (or the
//!   registrar's Retry-After), forgetting the challenges so the retry starts
//!   clean; a success resets the back-off.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::Transport;
use crate::auth::client::{Challenge, ClientAuthError, pick_challenge};
use crate::message::{
    Contact, HeaderName, Host, Method, NameAddr, Params, Request, Response, Uri, Via,
    parse_contacts,
};
use crate::registrar::{parse_delta_seconds, same_uri};
use crate::transaction::{new_branch, new_tag};

/// The first retry waits this long; each further failure doubles it.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A refresh never comes sooner than this after a success, whatever the
/// registrar granted, so a registrar granting 0 or 1 s cannot make us spin.
const MIN_REFRESH: Duration = Duration::from_secs(5);
/// How far before expiry a refresh is sent at least (besides the 80 % rule).
const REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// Retry-After is honoured within these bounds: 0 would spin, and a huge
/// value would take the trunk down for days on one header.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Challenges answered in a row without a final answer; bounds a registrar
/// that keeps saying `stale=true` or keeps challenging preemptive answers.
const MAX_CHALLENGES_IN_A_ROW: u32 = 4;
/// Longest Expires we ask for or believe (delta-seconds are 32-bit).
const MAX_EXPIRES: Duration = Duration::from_secs(u32::MAX as u64);

/// What to register, where, and with which credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// The Request-URI, `sip:host[:port]`.
    pub registrar: Uri,
    /// The address of record, `sip:user@domain` (From and To).
    pub aor: Uri,
    /// Where the carrier should send our calls.
    pub contact: Uri,
    pub username: String,
    pub password: String,
    /// When set, only challenges for this realm are answered.
    pub realm: Option<String>,
    /// The binding lifetime asked for (a 423 may raise it).
    pub expires: Duration,
    pub transport: Transport,
    /// Our socket, for the Via.
    pub local: SocketAddr,
}

/// Where the registration stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationStatus {
    /// Not registered yet: the first REGISTER (or its challenge) is under way.
    Registering,
    /// Bound until `until`; a refresh is sent before then.
    Registered { until: Instant },
    /// The last attempt failed; the next is at `retry_at`. `failures` counts
    /// failed attempts since the last success.
    Failing {
        reason: FailureReason,
        retry_at: Instant,
        failures: u32,
    },
    /// Removed by [`Registration::unregister`] (or given up while removing).
    Unregistered,
}

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailureReason {
    /// Our answer to a challenge drew another one: wrong username or password.
    #[error("bad credentials")]
    BadCredentials,
    /// Challenged for a realm other than the configured one; not answered.
    #[error("unexpected realm {0:?}")]
    UnexpectedRealm(String),
    /// A 401/407 with nothing we can answer.
    #[error("unusable challenge: {0}")]
    Challenge(ClientAuthError),
    #[error("too many challenges in a row")]
    TooManyChallenges,
    /// A 423 without a Min-Expires above what we asked.
    #[error("interval too brief, and no usable Min-Expires")]
    IntervalTooBrief,
    /// Any other final response (3xx-6xx).
    #[error("{status} {reason}")]
    Rejected { status: u16, reason: String },
    /// No response at all (the client transaction timed out).
    #[error("no response")]
    Timeout,
}

/// The REGISTER that is waiting for its final response.
#[derive(Clone, Debug)]
struct InFlight {
    cseq: u32,
    sent_at: Instant,
    expires: Duration,
    unregister: bool,
    www: Option<Sent>,
    proxy: Option<Sent>,
}

/// Credentials carried by the request in flight, for one header kind.
#[derive(Clone, Debug)]
struct Sent {
    nonce: String,
    /// They answered a challenge received just before (not a reused one).
    fresh: bool,
}

/// The challenge we answer, and how often its nonce was used.
#[derive(Clone, Debug)]
struct Answer {
    challenge: Challenge,
    nc: u32,
    fresh: bool,
}

/// One binding at a carrier's registrar. See the module documentation.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    random: u64,
    counter: u64,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: Duration,
    status: RegistrationStatus,
    /// When the next REGISTER is due; `None` while one is in flight or when
    /// there is nothing to do.
    next_send: Option<Instant>,
    in_flight: Option<InFlight>,
    /// Answers for `WWW-Authenticate` (registrar) and `Proxy-Authenticate`.
    www: Option<Answer>,
    proxy: Option<Answer>,
    failures: u32,
    challenges_in_a_row: u32,
    unregistering: bool,
}

impl Registration {
    /// A registration whose first REGISTER is due at `now`. `random` must
    /// be fresh randomness (the crate has no RNG): Call-ID, From tag,
    /// branches and cnonces derive from it.
    pub fn new(config: RegistrationConfig, now: Instant, random: u64) -> Registration {
        let expires = config.expires.clamp(Duration::from_secs(1), MAX_EXPIRES);
        let mut r = Registration {
            random,
            counter: 0,
            call_id: String::new(),
            from_tag: String::new(),
            cseq: 0,
            expires,
            status: RegistrationStatus::Registering,
            next_send: Some(now),
            in_flight: None,
            www: None,
            proxy: None,
            failures: 0,
            challenges_in_a_row: 0,
            unregistering: false,
            config,
        };
        let host = host_of(r.config.local.ip());
        r.call_id = format!("{}@{host}", new_tag(r.next_seed()));
        r.from_tag = new_tag(r.next_seed());
        r
    }

    pub fn status(&self) -> &RegistrationStatus {
        &self.status
    }

    pub fn config(&self) -> &RegistrationConfig {
        &self.config
    }

    /// The Call-ID shared by every REGISTER of this binding.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// When [`poll_request`](Self::poll_request) will next have something;
    /// `None` while a REGISTER is in flight (its response or timeout comes
    /// first) or once unregistered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            None
        } else {
            self.next_send
        }
    }

    /// The REGISTER to send now, if one is due.
    pub fn poll_request(&mut self, now: Instant) -> Option<Request> {
        if self.in_flight.is_some() || self.next_send.is_none_or(|at| at > now) {
            return None;
        }
        self.next_send = None;
        let expires = if self.unregistering {
            Duration::ZERO
        } else {
            self.expires
        };
        let uri = self.config.registrar.to_string();
        let mut headers = Vec::with_capacity(2);
        let mut sent = [None, None];
        for (i, name) in [HeaderName::Authorization, HeaderName::ProxyAuthorization]
            .into_iter()
            .enumerate()
        {
            let seed = self.next_seed();
            let slot = if i == 0 {
                &mut self.www
            } else {
                &mut self.proxy
            };
            let Some(answer) = slot else { continue };
            let Some(nc) = answer.nc.checked_add(1) else {
                // Four billion requests on one nonce: let the registrar
                // issue a new one.
                *slot = None;
                continue;
            };
            answer.nc = nc;
            let value = answer.challenge.authorize(
                &Method::Register,
                &uri,
                &self.config.username,
                &self.config.password,
                &new_tag(seed),
                nc,
            );
            match value {
                Ok(v) => {
                    sent[i] = Some(Sent {
                        nonce: answer.challenge.nonce.clone(),
                        fresh: answer.fresh,
                    });
                    answer.fresh = false;
                    headers.push((name, v));
                }
                Err(e) => {
                    let unregister = self.unregistering;
                    self.fail(now, FailureReason::Challenge(e), None, unregister);
                    return None;
                }
            }
        }
        let [www, proxy] = sent;

        self.cseq = self.cseq.wrapping_add(1);
        let mut via = Via {
            transport: self.config.transport.via_token().to_owned(),
            host: host_of(self.config.local.ip()),
            port: Some(self.config.local.port()),
            params: Params::default(),
        };
        via.params
            .set("branch", Some(&new_branch(self.next_seed())));
        // Carriers sit across NATs more often than not (RFC 3581).
        via.params.set("rport", None);
        let mut from = NameAddr::new(self.config.aor.clone());
        from.set_tag(&self.from_tag);
        let mut request = Request::new(
            Method::Register,
            self.config.registrar.clone(),
            via,
            from,
            NameAddr::new(self.config.aor.clone()),
            self.call_id.clone(),
            self.cseq,
        );
        request.headers.push(
            HeaderName::Contact,
            NameAddr::new(self.config.contact.clone()).to_string(),
        );
        request
            .headers
            .push(HeaderName::Expires, expires.as_secs().to_string());
        for (name, value) in headers {
            request.headers.push(name, value);
        }
        self.in_flight = Some(InFlight {
            cseq: self.cseq,
            sent_at: now,
            expires,
            unregister: self.unregistering,
            www,
            proxy,
        });
        Some(request)
    }

    /// A response to the REGISTER in flight. Provisional responses and
    /// responses for another Call-ID or CSeq (a late answer to an earlier
    /// request) are ignored.
    pub fn on_response(&mut self, now: Instant, response: &Response) {
        let Some(f) = &self.in_flight else { return };
        if response.call_id != self.call_id
            || response.cseq.seq != f.cseq
            || response.cseq.method != Method::Register
            || response.is_provisional()
        {
            return;
        }
        let Some(f) = self.in_flight.take() else {
            return;
        };
        match response.status {
            200..=299 => self.on_success(now, &f, response),
            401 | 407 => self.on_challenge(now, f, response),
            423 => {
                self.challenges_in_a_row = 0;
                let min = response
                    .headers
                    .get(&HeaderName::MinExpires)
                    .and_then(|v| parse_delta_seconds(v.trim()))
                    .map(|s| Duration::from_secs(u64::from(s)));
                match min {
                    Some(min) if min > f.expires && !f.unregister => {
                        self.expires = min;
                        self.next_send = Some(now);
                    }
                    _ => self.fail(now, FailureReason::IntervalTooBrief, None, f.unregister),
                }
            }
            status => {
                let reason = FailureReason::Rejected {
                    status,
                    reason: response.reason.clone(),
                };
                self.fail(now, reason, retry_after(response), f.unregister);
            }
        }
    }

    /// The REGISTER in flight got no response at all.
    pub fn on_timeout(&mut self, now: Instant) {
        if let Some(f) = self.in_flight.take() {
            self.fail(now, FailureReason::Timeout, None, f.unregister);
        }
    }

    /// Removes the binding: the next REGISTER (at once, or after the answer
    /// to the one in flight) says `Expires: 0`; its 2xx, or any failure of
    /// it, ends in [`RegistrationStatus::Unregistered`]. Nothing happens
    /// afterwards.
    pub fn unregister(&mut self, now: Instant) {
        if self.unregistering || self.status == RegistrationStatus::Unregistered {
            return;
        }
        self.unregistering = true;
        if self.in_flight.is_none() {
            self.next_send = Some(now);
        }
    }

    fn on_success(&mut self, now: Instant, f: &InFlight, response: &Response) {
        self.challenges_in_a_row = 0;
        self.failures = 0;
        if f.unregister {
            self.finish();
            return;
        }
        let granted = granted_expiry(response, &self.config.contact)
            .unwrap_or(f.expires)
            .min(MAX_EXPIRES);
        // Measured from the send time: the registrar started the binding's
        // clock somewhere between then and now.
        self.status = RegistrationStatus::Registered {
            until: later(f.sent_at, granted),
        };
        self.next_send = Some(if self.unregistering {
            now
        } else {
            later(f.sent_at, refresh_after(granted)).max(now)
        });
    }

    fn on_challenge(&mut self, now: Instant, f: InFlight, response: &Response) {
        let proxy = response.status == 407;
        let header = if proxy {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        self.challenges_in_a_row += 1;
        if self.challenges_in_a_row > MAX_CHALLENGES_IN_A_ROW {
            return self.fail(now, FailureReason::TooManyChallenges, None, f.unregister);
        }
        let realm_ok = |c: &Challenge| self.config.realm.as_ref().is_none_or(|r| *r == c.realm);
        let values = || response.headers.get_all(&header);
        let picked =
            pick_challenge(values().filter(|v| Challenge::parse(v).is_ok_and(|c| realm_ok(&c))))
                .map(Challenge::parse);
        let challenge = match picked {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                return self.fail(now, FailureReason::Challenge(e), None, f.unregister);
            }
            None => {
                // Say why: a realm we refuse, or nothing answerable at all.
                let parsed: Vec<_> = values().map(Challenge::parse).collect();
                let reason = if let Some(other) = parsed.iter().flatten().next() {
                    FailureReason::UnexpectedRealm(other.realm.clone())
                } else if let Some(Err(e)) = parsed.into_iter().next() {
                    FailureReason::Challenge(e)
                } else {
                    FailureReason::Challenge(ClientAuthError::NotDigest)
                };
                return self.fail(now, reason, None, f.unregister);
            }
        };
        let sent = if proxy { &f.proxy } else { &f.www };
        if let Some(sent) = sent {
            let same_nonce = sent.nonce == challenge.nonce;
            if same_nonce || (sent.fresh && !challenge.stale) {
                return self.fail(now, FailureReason::BadCredentials, None, f.unregister);
            }
        }
        let answer = Some(Answer {
            challenge,
            nc: 0,
            fresh: true,
        });
        if proxy {
            self.proxy = answer;
        } else {
            self.www = answer;
        }
        self.next_send = Some(now);
    }

    /// Records a failed attempt and schedules the next one.
    fn fail(
        &mut self,
        now: Instant,
        reason: FailureReason,
        retry_after: Option<Duration>,
        was_unregister: bool,
    ) {
        self.www = None;
        self.proxy = None;
        self.challenges_in_a_row = 0;
        if self.unregistering {
            if was_unregister {
                // Nobody waits for a binding the application is dropping;
                // the registrar expires it on its own.
                self.finish();
            } else {
                self.next_send = Some(now);
            }
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let wait = match retry_after {
            Some(d) => d.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER),
            None => backoff(self.failures),
        };
        let retry_at = later(now, wait);
        self.status = RegistrationStatus::Failing {
            reason,
            retry_at,
            failures: self.failures,
        };
        self.next_send = Some(retry_at);
    }

    fn finish(&mut self) {
        self.status = RegistrationStatus::Unregistered;
        self.next_send = None;
        self.www = None;
        self.proxy = None;
    }

    /// Distinct per call and per registration (given distinct `random`s):
    /// an odd multiplier and an addition are both bijections on u64.
    fn next_seed(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        self.random
            .wrapping_add(self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(a) => Host::V4(a),
        IpAddr::V6(a) => Host::V6(a),
    }
}

/// `base + d`, saturating instead of panicking on absurd durations.
fn later(base: Instant, d: Duration) -> Instant {
    base.checked_add(d)
        .or_else(|| base.checked_add(MAX_EXPIRES))
        .unwrap_or(base)
}

/// 2 s, 4 s, 8 s... capped at [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << exponent).min(MAX_BACKOFF)
}

/// At 80 % of the granted time or 30 s before it ends, whichever is
/// earlier, but never sooner than [`MIN_REFRESH`].
fn refresh_after(granted: Duration) -> Duration {
    (granted / 5 * 4)
        .min(granted.saturating_sub(REFRESH_MARGIN))
        .max(MIN_REFRESH)
}

/// What the registrar granted: the `expires` parameter of our Contact in
/// the 2xx, else its Expires header (RFC 3261 section 10.2.4).
fn granted_expiry(response: &Response, contact: &Uri) -> Option<Duration> {
    let ours = response
        .headers
        .get_all(&HeaderName::Contact)
        .filter_map(|v| parse_contacts(v).ok())
        .flatten()
        .find_map(|c| match c {
            Contact::Addr(a) if same_uri(&a.uri, contact) => {
                a.params.value("expires").and_then(parse_delta_seconds)
            }
            _ => None,
        });
    ours.or_else(|| {
        response
            .headers
            .get(&HeaderName::Expires)
            .and_then(|v| parse_delta_seconds(v.trim()))
    })
    .map(|s| Duration::from_secs(u64::from(s)))
}

/// `Retry-After: 60 (comment);duration=...`: the delta-seconds only.
fn retry_after(response: &Response) -> Option<Duration> {
    let v = response.headers.get(&HeaderName::RetryAfter)?.trim();
    let digits = v.split(|c: char| !c.is_ascii_digit()).next()?;
    parse_delta_seconds(digits).map(|s| Duration::from_secs(u64::from(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_schedule() {
        let s = Duration::from_secs;
        assert_eq!(refresh_after(s(120)), s(90));
        assert_eq!(refresh_after(s(3600)), s(2880));
        assert_eq!(refresh_after(s(60)), s(30));
        assert_eq!(refresh_after(s(10)), MIN_REFRESH);
        assert_eq!(refresh_after(s(0)), MIN_REFRESH);
        assert_eq!(refresh_after(MAX_EXPIRES), MAX_EXPIRES / 5 * 4);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let got: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
