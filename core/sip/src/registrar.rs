//! Registrar bindings (RFC 3261 section 10.3, steps 5 to 8).
//!
//! The caller has already done steps 1 to 4: the request is for our domain,
//! authenticated, and the address of record is reduced to a canonical key
//! (`user@domain`). [`Registrar::register`] then reads the Contact and
//! Expires headers and updates the bindings of that key atomically: either
//! every change in the request is applied, or none (step 7's "if and only if
//! all binding updates and additions succeed").
//!
//! A binding is identified by its contact URI, compared as RFC 3261 section
//! 19.1.4 says. Contact parameters (`q`, `+sip.instance`, `reg-id`, ...) are
//! kept apart from URI parameters and returned as received, and so are
//! escaped URI headers (torture cases cparam01, cparam02, regescrt). The
//! `expires` contact parameter is not stored: the registrar supplies the
//! remaining time when it lists bindings.
//!
//! Expiry is lazy: expired bindings are invisible to [`Registrar::lookup`]
//! at once, and removed by [`Registrar::expire`] when the runtime calls in at
//! [`Registrar::poll_timeout`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::Peer;
use crate::message::{
    Contact, HeaderName, NameAddr, ParseError, Request, SipUri, Uri, parse_contacts,
};

#[derive(Clone, Debug)]
pub struct RegistrarConfig {
    /// Most bindings (contacts) over all addresses of record.
    pub max_bindings: usize,
    /// Most bindings for one address of record.
    pub max_per_aor: usize,
    /// Shortest registration accepted (other than 0); shorter gets 423.
    pub min_expires: u32,
    /// Longer registrations are shortened to this.
    pub max_expires: u32,
    /// Used when neither the contact nor the request gives an expiry.
    pub default_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> RegistrarConfig {
        RegistrarConfig {
            max_bindings: 10_000,
            max_per_aor: 10,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }
}

/// One contact bound to an address of record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    aor: String,
    /// As received, without its `expires` parameter.
    contact: NameAddr,
    /// `q` in thousandths; 1000 when absent.
    q: u16,
    call_id: String,
    cseq: u32,
    expires_at: Instant,
    /// Where the REGISTER came from (for reaching a contact behind NAT).
    peer: Peer,
}

impl Binding {
    /// The address-of-record key this binding belongs to.
    pub fn aor(&self) -> &str {
        &self.aor
    }

    /// The contact as registered: display name, URI, contact parameters.
    pub fn contact(&self) -> &NameAddr {
        &self.contact
    }

    pub fn uri(&self) -> &Uri {
        &self.contact.uri
    }

    /// The `+sip.instance` contact parameter (RFC 5626), quotes included.
    pub fn instance(&self) -> Option<&str> {
        self.contact.params.value("+sip.instance")
    }

    /// Preference in thousandths (`q=0.5` is 500); 1000 when not given.
    pub fn q(&self) -> u16 {
        self.q
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Whole seconds left at `now`, rounded up; 0 once expired.
    pub fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// The contact as a Contact header value, without `expires`.
    pub fn contact_header(&self) -> String {
        self.contact.to_string()
    }

    /// The contact as a Contact header value with `;expires=` the time left.
    pub fn contact_header_at(&self, now: Instant) -> String {
        with_expires(&self.contact, self.remaining(now))
    }

    fn is_expired(&self, now: Instant) -> bool {
        self.expires_at <= now
    }
}

/// A binding as listed in a 200 OK to REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredContact {
    pub contact: NameAddr,
    /// Seconds left.
    pub expires: u32,
}

impl RegisteredContact {
    /// The Contact header value for the 200 OK: the contact with `;expires=N`.
    pub fn contact_header(&self) -> String {
        with_expires(&self.contact, self.expires)
    }
}

/// The outcome of a REGISTER: every current binding of the address of record
/// (RFC 3261 section 10.3 step 8), and what this request changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    pub bindings: Vec<RegisteredContact>,
    pub added: usize,
    pub refreshed: usize,
    pub removed: usize,
}

/// Why a REGISTER was refused; [`RegistrarError::status`] picks the answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarError {
    #[error("unparsable Contact header")]
    BadContact(#[source] ParseError),
    /// `Contact: *` with other contacts or without `Expires: 0` (step 6).
    #[error("Contact: * needs Expires: 0 and no other contact")]
    InvalidStar,
    #[error("expires is not a number of seconds")]
    InvalidExpires,
    #[error("q is not a qvalue")]
    InvalidQ,
    /// Answer 423 with `Min-Expires: min`.
    #[error("expiry shorter than the minimum of {min} s")]
    IntervalTooBrief { min: u32 },
    /// Same Call-ID as a stored binding and a CSeq not above its own
    /// (step 7): an old or reordered request.
    #[error("CSeq {received} not above {stored} stored for this Call-ID")]
    OutOfOrder { stored: u32, received: u32 },
    #[error("registrar full: {scope} limit of {limit} bindings reached")]
    Full { scope: Scope, limit: usize },
}

/// Which bound [`RegistrarError::Full`] hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `max_per_aor`.
    AddressOfRecord,
    /// `max_bindings`.
    Total,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::AddressOfRecord => "per-AOR",
            Scope::Total => "total",
        })
    }
}

impl RegistrarError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RegistrarError::BadContact(_)
            | RegistrarError::InvalidStar
            | RegistrarError::InvalidExpires
            | RegistrarError::InvalidQ => 400,
            RegistrarError::IntervalTooBrief { .. } => 423,
            // RFC 3261 section 10.3 step 7 only says "an error response";
            // 500 tells the client to retry rather than that it erred.
            RegistrarError::OutOfOrder { .. } => 500,
            RegistrarError::Full { .. } => 503,
        }
    }
}

/// What one REGISTER asks, headers read.
struct Update<'a> {
    contacts: &'a [Contact],
    /// The Expires header.
    expires: Option<u32>,
    call_id: &'a str,
    cseq: u32,
    peer: Peer,
}

/// Bindings per address of record.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    aors: HashMap<String, Vec<Binding>>,
    /// Bindings over all AORs, expired ones not yet removed included.
    total: usize,
    /// Earliest `expires_at`, recomputed after each change: changes are
    /// rare next to `poll_timeout` calls, which then cost nothing.
    next_expiry: Option<Instant>,
}

impl Registrar {
    pub fn new(config: RegistrarConfig) -> Registrar {
        Registrar {
            config,
            aors: HashMap::new(),
            total: 0,
            next_expiry: None,
        }
    }

    /// Applies a REGISTER for `aor` (the canonical `user@domain` key the
    /// caller derived from the To header). A request without Contact is a
    /// query and changes nothing.
    pub fn register(
        &mut self,
        now: Instant,
        aor: &str,
        request: &Request,
        peer: Peer,
    ) -> Result<Registration, RegistrarError> {
        let mut contacts = Vec::new();
        for value in request.headers.get_all(&HeaderName::Contact) {
            contacts.extend(parse_contacts(value).map_err(RegistrarError::BadContact)?);
        }
        let expires = match request.headers.get(&HeaderName::Expires) {
            Some(v) => Some(parse_delta_seconds(v.trim()).ok_or(RegistrarError::InvalidExpires)?),
            None => None,
        };
        let update = Update {
            contacts: &contacts,
            expires,
            call_id: &request.call_id,
            cseq: request.cseq.seq,
            peer,
        };
        self.apply(now, aor, &update)
    }

    /// The live bindings of `aor`, most preferred (highest `q`) first, and
    /// among equals the one that expires last first.
    pub fn lookup(&self, now: Instant, aor: &str) -> Vec<&Binding> {
        let mut live: Vec<&Binding> = self
            .aors
            .get(aor)
            .into_iter()
            .flatten()
            .filter(|b| !b.is_expired(now))
            .collect();
        live.sort_by(|a, b| b.q.cmp(&a.q).then(b.expires_at.cmp(&a.expires_at)));
        live
    }

    /// Removes and returns every binding expired at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Binding> {
        if self.next_expiry.is_none_or(|t| now < t) {
            return Vec::new();
        }
        let mut gone = Vec::new();
        self.aors.retain(|_, bindings| {
            let (dead, live): (Vec<Binding>, Vec<Binding>) =
                bindings.drain(..).partition(|b| b.is_expired(now));
            gone.extend(dead);
            *bindings = live;
            !bindings.is_empty()
        });
        self.total -= gone.len();
        self.recompute_next_expiry();
        gone
    }

    /// When [`expire`](Self::expire) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Bindings stored, including expired ones not yet removed by `expire`.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn apply(
        &mut self,
        now: Instant,
        aor: &str,
        update: &Update<'_>,
    ) -> Result<Registration, RegistrarError> {
        let current: &[Binding] = self.aors.get(aor).map_or(&[], Vec::as_slice);
        if update.contacts.is_empty() {
            return Ok(listing(
                now,
                current.iter().filter(|b| !b.is_expired(now)),
                0,
                0,
                0,
            ));
        }
        let old_len = current.len();
        let live: Vec<&Binding> = current.iter().filter(|b| !b.is_expired(now)).collect();
        let wanted = self.read_contacts(update)?;
        // Step 7's ordering check, against the bindings as they were before
        // this request (a contact listed twice must not trip over itself).
        for (contact, _) in &wanted {
            let matched = live
                .iter()
                .filter(|b| contact.is_none_or(|c| same_uri(&b.contact.uri, &c.uri)));
            for b in matched {
                if b.call_id == update.call_id && update.cseq <= b.cseq {
                    return Err(RegistrarError::OutOfOrder {
                        stored: b.cseq,
                        received: update.cseq,
                    });
                }
            }
        }
        let mut staged: Vec<Binding> = live.into_iter().cloned().collect();
        let (mut added, mut refreshed, mut removed) = (0, 0, 0);
        for (contact, expires) in wanted {
            let Some(contact) = contact else {
                // `Contact: *` with `Expires: 0`: every binding goes.
                removed += staged.len();
                staged.clear();
                continue;
            };
            let found = staged
                .iter()
                .position(|b| same_uri(&b.contact.uri, &contact.uri));
            match (found, expires) {
                (Some(i), 0) => {
                    staged.swap_remove(i);
                    removed += 1;
                }
                (None, 0) => {}
                (Some(i), _) => {
                    staged[i] = new_binding(now, aor, contact, expires, update)?;
                    refreshed += 1;
                }
                (None, _) => {
                    staged.push(new_binding(now, aor, contact, expires, update)?);
                    added += 1;
                }
            }
        }
        self.check_bounds(old_len, staged.len())?;
        self.total = self.total - old_len + staged.len();
        let result = listing(now, staged.iter(), added, refreshed, removed);
        if staged.is_empty() {
            self.aors.remove(aor);
        } else {
            self.aors.insert(aor.to_owned(), staged);
        }
        self.recompute_next_expiry();
        Ok(result)
    }

    /// Each contact with its expiry in seconds, clamped (step 6); `None`
    /// stands for `Contact: *`, checked to be alone and with `Expires: 0`.
    fn read_contacts<'c>(
        &self,
        update: &Update<'c>,
    ) -> Result<Vec<(Option<&'c NameAddr>, u32)>, RegistrarError> {
        let cfg = &self.config;
        let mut wanted = Vec::with_capacity(update.contacts.len());
        for contact in update.contacts {
            let addr = match contact {
                Contact::Star if update.contacts.len() == 1 && update.expires == Some(0) => {
                    wanted.push((None, 0));
                    continue;
                }
                Contact::Star => return Err(RegistrarError::InvalidStar),
                Contact::Addr(a) => a,
            };
            let expires = match addr.params.get("expires") {
                Some(Some(v)) => parse_delta_seconds(v).ok_or(RegistrarError::InvalidExpires)?,
                Some(None) => return Err(RegistrarError::InvalidExpires),
                None => update.expires.unwrap_or(cfg.default_expires),
            };
            if expires != 0 && expires < cfg.min_expires {
                return Err(RegistrarError::IntervalTooBrief {
                    min: cfg.min_expires,
                });
            }
            if let Some(q) = addr.params.get("q") {
                q.and_then(parse_qvalue).ok_or(RegistrarError::InvalidQ)?;
            }
            wanted.push((Some(addr), expires.min(cfg.max_expires)));
        }
        Ok(wanted)
    }

    /// Refuses a change that grows an AOR or the whole table past its bound.
    /// (Shrinking, or refreshing, is always allowed, even over a bound that
    /// was lowered since.)
    fn check_bounds(&self, old_len: usize, new_len: usize) -> Result<(), RegistrarError> {
        if new_len <= old_len {
            return Ok(());
        }
        if new_len > self.config.max_per_aor {
            return Err(RegistrarError::Full {
                scope: Scope::AddressOfRecord,
                limit: self.config.max_per_aor,
            });
        }
        if self.total - old_len + new_len > self.config.max_bindings {
            return Err(RegistrarError::Full {
                scope: Scope::Total,
                limit: self.config.max_bindings,
            });
        }
        Ok(())
    }

    fn recompute_next_expiry(&mut self) {
        self.next_expiry = self.aors.values().flatten().map(|b| b.expires_at).min();
    }
}

fn new_binding(
    now: Instant,
    aor: &str,
    contact: &NameAddr,
    expires: u32,
    update: &Update<'_>,
) -> Result<Binding, RegistrarError> {
    let mut stored = contact.clone();
    stored.params.remove("expires");
    let q = match stored.params.get("q") {
        Some(v) => v.and_then(parse_qvalue).ok_or(RegistrarError::InvalidQ)?,
        None => 1000,
    };
    Ok(Binding {
        aor: aor.to_owned(),
        contact: stored,
        q,
        call_id: update.call_id.to_owned(),
        cseq: update.cseq,
        expires_at: now + Duration::from_secs(u64::from(expires)),
        peer: update.peer,
    })
}

fn listing<'a>(
    now: Instant,
    bindings: impl Iterator<Item = &'a Binding>,
    added: usize,
    refreshed: usize,
    removed: usize,
) -> Registration {
    Registration {
        bindings: bindings
            .map(|b| RegisteredContact {
                contact: b.contact.clone(),
                expires: b.remaining(now),
            })
            .collect(),
        added,
        refreshed,
        removed,
    }
}

fn with_expires(contact: &NameAddr, expires: u32) -> String {
    let mut c = contact.clone();
    c.params.set("expires", Some(&expires.to_string()));
    c.to_string()
}

/// delta-seconds; values past `u32::MAX` saturate (RFC 3261 section 20.19
/// says to treat them as 2^32-1).
pub(crate) fn parse_delta_seconds(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u32>().unwrap_or(u32::MAX))
}

/// A qvalue (`0`, `0.5`, `1.000`, RFC 3261 section 25.1) in thousandths.
fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// URI equivalence as RFC 3261 section 19.1.4 defines it, for binding
/// matching. Simplification: URI headers are compared as one string
/// (case-insensitively), not as an unordered set.
pub(crate) fn same_uri(a: &Uri, b: &Uri) -> bool {
    match (a, b) {
        (Uri::Sip(a), Uri::Sip(b)) => same_sip_uri(a, b),
        (
            Uri::Other {
                scheme: sa,
                rest: ra,
            },
            Uri::Other {
                scheme: sb,
                rest: rb,
            },
        ) => sa == sb && ra == rb,
        _ => false,
    }
}

fn same_sip_uri(a: &SipUri, b: &SipUri) -> bool {
    // Userinfo is case-sensitive but compared unescaped (`%61` is `a`).
    let userinfo = |u: &SipUri| {
        (
            u.user.as_deref().map(unescape_lossy),
            u.password.as_deref().map(unescape_lossy),
        )
    };
    if a.secure != b.secure
        || a.port != b.port
        || !a.host.eq_ignore_case(&b.host)
        || userinfo(a) != userinfo(b)
    {
        return false;
    }
    for p in a.params.iter() {
        let matches = match b.params.get(&p.name) {
            Some(v) => opt_eq_ignore_case(p.value.as_deref(), v),
            None => !must_be_in_both(&p.name),
        };
        if !matches {
            return false;
        }
    }
    if b.params
        .iter()
        .any(|p| must_be_in_both(&p.name) && !a.params.contains(&p.name))
    {
        return false;
    }
    opt_eq_ignore_case(a.headers.as_deref(), b.headers.as_deref())
}

/// URI parameters that never match when present in one URI only.
fn must_be_in_both(name: &str) -> bool {
    ["user", "ttl", "method", "maddr"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

fn opt_eq_ignore_case(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => unescape_lossy(a).eq_ignore_ascii_case(&unescape_lossy(b)),
        (None, None) => true,
        _ => false,
    }
}

/// %-decoding for comparisons only.
fn unescape_lossy(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
