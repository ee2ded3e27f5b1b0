//! RFC 7616 digest authentication for SIP (RFC 3261 section 22): the server
//! side here, the client side (answering a carrier's challenges) in [`client`].
//!
//! The [`Authenticator`] issues challenges (`WWW-Authenticate` values) and
//! verifies `Authorization` values. It needs no storage per client: nonces
//! carry their own issue time and an HMAC under a secret the caller supplies
//! (the format is described in the private `nonce` submodule), and a bounded
//! table remembers the highest nonce-count used with each nonce to refuse
//! replays.
//!
//! Supported: `MD5` and `SHA-256` with `qop=auth`. Not supported, and refused
//! cleanly: the `-sess` variants, `auth-int`, `userhash=true`, and RFC 2069
//! credentials without `qop` (SIP user agents have sent `qop=auth` for two
//! decades; accepting its absence would also remove replay protection).
//!
//! Order of checks in [`Authenticator::verify`], and why:
//! 1. syntax, realm, algorithm, qop/nc/cnonce, opaque: no secret involved;
//! 2. the response, against the user's password, or against a dummy one
//!    when the user is unknown so both cases cost the same and end in the
//!    same [`AuthError::Rejected`];
//! 3. only then the nonce: expired, forged or forgotten nonces give
//!    [`AuthError::Stale`], which tells the client its password was right
//!    (RFC 7616 section 3.3 allows `stale=true` only for a correct digest),
//!    and a nonce-count already seen gives [`AuthError::Replay`].

pub mod client;
mod nonce;
mod params;

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::message::{HeaderName, Request};

/// The digest algorithm of a challenge or of credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Both algorithms, in the order challenges offer them (RFC 7616
    /// section 3.7: the preferred one first).
    pub const PREFERENCE: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    /// The `algorithm=` token.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm=` token (case-insensitive). The `-sess` variants
    /// and any other algorithm are [`AuthError::UnsupportedAlgorithm`].
    pub fn from_token(token: &str) -> Result<Algorithm, AuthError> {
        if token.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else {
            Err(AuthError::UnsupportedAlgorithm)
        }
    }

    /// Length of a hex digest.
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:`.
    fn hex_digest(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => hex_digest::<Md5>(parts),
            Algorithm::Sha256 => hex_digest::<Sha256>(parts),
        }
    }
}

/// Lower-case hex of `D` over `parts` joined by `:`, the shape of every
/// digest computation (RFC 7616 section 3.4.1); shared with [`client`],
/// which knows more hashes than the server offers.
fn hex_digest<D: Digest>(parts: &[&[u8]]) -> String {
    let mut d = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            d.update(b":");
        }
        d.update(part);
    }
    hex::encode(d.finalize())
}

/// `H(username ":" realm ":" password)` in lower-case hex (RFC 7616
/// section 3.4.2), what a credential store may keep instead of passwords.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hex_digest(&[user.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The `response` a client must send for `qop=auth` (RFC 7616 section
/// 3.4.1), given its HA1. Public so tests and clients can build credentials.
#[allow(clippy::too_many_arguments)] // the RFC's own inputs, all strings
pub fn response(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = alg.hex_digest(&[method.as_bytes(), uri.as_bytes()]);
    alg.hex_digest(&[
        ha1.as_bytes(),
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        qop.as_bytes(),
        ha2.as_bytes(),
    ])
}

/// What the caller's credential store knows about a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// The plain password.
    Password(String),
    /// Precomputed [`ha1`] values for this authenticator's realm, hex.
    /// An algorithm without one is refused as if the password were wrong.
    Ha1 {
        md5: Option<String>,
        sha256: Option<String>,
    },
}

impl Credential {
    fn ha1(&self, alg: Algorithm, user: &str, realm: &str) -> Option<String> {
        match (self, alg) {
            (Credential::Password(p), _) => Some(ha1(alg, user, realm, p)),
            (Credential::Ha1 { md5, .. }, Algorithm::Md5) => md5.clone(),
            (Credential::Ha1 { sha256, .. }, Algorithm::Sha256) => sha256.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DigestConfig {
    /// The realm sent in challenges and required in credentials.
    pub realm: String,
    /// How long a nonce may be used; after that the client gets `stale=true`.
    pub nonce_lifetime: Duration,
    /// How many nonces the replay table remembers (oldest forgotten first).
    pub max_nonces: usize,
    /// Algorithms offered, one challenge each, most preferred first; any
    /// other algorithm in credentials is refused. Never empty in practice:
    /// an empty list falls back to [`Algorithm::PREFERENCE`].
    pub algorithms: Vec<Algorithm>,
}

/// Successfully checked credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    pub username: String,
    /// The digest `uri` parameter. RFC 3261 section 22.4 leaves comparing
    /// it with the Request-URI to the caller, which knows how lenient to be.
    pub uri: String,
    pub algorithm: Algorithm,
}

/// Why credentials were not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No Digest credentials (no header, or another scheme): challenge.
    #[error("no digest credentials")]
    Missing,
    #[error("malformed digest credentials: {0}")]
    Malformed(Malformation),
    /// Credentials for another realm (torture case regaut01): challenge
    /// afresh, this is not a failed attempt.
    #[error("credentials are for another realm")]
    WrongRealm,
    /// The digest was right but the nonce is expired, forged or forgotten:
    /// challenge with `stale=true`.
    #[error("stale nonce")]
    Stale,
    /// The digest was right but the nonce-count was already used.
    #[error("nonce-count replayed")]
    Replay,
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    /// Wrong password or unknown user; deliberately the same variant.
    #[error("credentials rejected")]
    Rejected,
}

impl AuthError {
    /// Whether the new challenge should say `stale=true`: the client knows
    /// the password and only needs a fresh nonce.
    pub fn is_stale(&self) -> bool {
        matches!(self, AuthError::Stale | AuthError::Replay)
    }

    /// Whether this counts as a failed attempt for
    /// [`Guard::auth_failed`](crate::guard::Guard::auth_failed). Missing,
    /// wrong-realm, stale and unsupported-algorithm answers are part of
    /// normal challenge exchanges and do not.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            AuthError::Rejected | AuthError::Replay | AuthError::Malformed(_)
        )
    }
}

/// What was wrong with the syntax or content of credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformation {
    #[error("value too long")]
    TooLong,
    #[error("syntax error")]
    Syntax,
    #[error("too many parameters")]
    TooManyParams,
    #[error("duplicate parameter")]
    Duplicate,
    #[error("missing parameter {0}")]
    MissingParam(&'static str),
    #[error("nc is not 8 hex digits")]
    NonceCount,
    #[error("qop is not auth")]
    Qop,
    #[error("userhash is not supported")]
    UserHash,
    #[error("opaque does not match")]
    Opaque,
    #[error("response is not a hex digest")]
    Response,
}

/// Issues challenges and verifies credentials for one realm.
#[derive(Debug)]
pub struct Authenticator {
    realm: String,
    algorithms: Vec<Algorithm>,
    opaque: String,
    /// Hashed instead of a real password for unknown users.
    dummy_password: String,
    nonces: nonce::Nonces,
}

impl Authenticator {
    /// `epoch` is any instant not after the first `now` this will see;
    /// `secret` must be random and, to invalidate old nonces, new per run.
    pub fn new(config: DigestConfig, epoch: Instant, secret: [u8; 32]) -> Authenticator {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        let derive = |label: &[u8]| {
            let mut m = mac.clone();
            m.update(label);
            hex::encode(&m.finalize().into_bytes()[..16])
        };
        let mut algorithms = config.algorithms;
        algorithms.dedup();
        if algorithms.is_empty() {
            algorithms = Algorithm::PREFERENCE.to_vec();
        }
        Authenticator {
            realm: config.realm,
            algorithms,
            opaque: derive(b"waihu opaque"),
            dummy_password: derive(b"waihu dummy password"),
            nonces: nonce::Nonces::new(mac, epoch, config.nonce_lifetime, config.max_nonces),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Nonces currently tracked by the replay table.
    pub fn tracked_nonces(&self) -> usize {
        self.nonces.len()
    }

    /// `WWW-Authenticate` values for a 401: one per configured algorithm,
    /// in the configured order, sharing one fresh nonce. `stale` adds `stale=true`.
    pub fn challenge(&mut self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.nonces.issue(now);
        let mut realm = String::with_capacity(self.realm.len() + 2);
        push_quoted(&mut realm, &self.realm);
        self.algorithms
            .iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm={realm}, qop=\"auth\", algorithm={}, nonce=\"{nonce}\", opaque=\"{}\"",
                    alg.as_str(),
                    self.opaque
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// Verifies one `Authorization` value for a request with `method`.
    /// `lookup` returns the password of a user, `None` if there is none.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        header_value: &str,
        lookup: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Verified, AuthError> {
        self.verify_with(now, method, header_value, |user| {
            lookup(user).map(Credential::Password)
        })
    }

    /// [`verify`](Self::verify) with a store that may hold HA1s instead of
    /// passwords.
    pub fn verify_with(
        &mut self,
        now: Instant,
        method: &str,
        header_value: &str,
        lookup: impl FnOnce(&str) -> Option<Credential>,
    ) -> Result<Verified, AuthError> {
        let creds = params::parse(header_value)?;
        let checked = self.check_fields(&creds)?;
        let r = checked.response;
        if r.len() != checked.algorithm.hex_len() || !r.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed(Malformation::Response));
        }
        let (hash, known) = match lookup(checked.username) {
            Some(cred) => match cred.ha1(checked.algorithm, checked.username, &self.realm) {
                Some(h) => (h, true),
                None => (self.dummy_ha1(&checked), false),
            },
            None => (self.dummy_ha1(&checked), false),
        };
        let expected = response(
            checked.algorithm,
            &hash,
            checked.nonce,
            checked.nc_text,
            checked.cnonce,
            checked.qop,
            method,
            checked.uri,
        );
        // `&` rather than `&&`: the comparison runs for unknown users too.
        if !(ct_eq_hex(expected.as_bytes(), checked.response.as_bytes()) & known) {
            return Err(AuthError::Rejected);
        }
        self.nonces.accept(now, checked.nonce, checked.nc)?;
        Ok(Verified {
            username: checked.username.to_owned(),
            uri: checked.uri.to_owned(),
            algorithm: checked.algorithm,
        })
    }

    /// Verifies the request's `Authorization` header for this realm. With
    /// several (one per realm, RFC 3261 section 22.3) the one for this realm
    /// is used; if only other realms are present it is [`AuthError::WrongRealm`].
    pub fn verify_request(
        &mut self,
        now: Instant,
        request: &Request,
        lookup: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Verified, AuthError> {
        let mut outcome = Err(AuthError::Missing);
        for value in request.headers.get_all(&HeaderName::Authorization) {
            match params::parse(value) {
                Ok(c) if c.realm.as_deref() == Some(self.realm.as_str()) => {
                    return self.verify(now, request.method.as_str(), value, lookup);
                }
                Ok(_) => outcome = Err(AuthError::WrongRealm),
                Err(AuthError::Missing) => {}
                Err(e) if outcome == Err(AuthError::Missing) => outcome = Err(e),
                Err(_) => {}
            }
        }
        outcome
    }

    /// Everything that can be checked without the user's secret, but the
    /// form of `response` (left to the caller so the fuzz entry can fill it in).
    fn check_fields<'c>(&self, c: &'c params::Credentials<'_>) -> Result<Checked<'c>, AuthError> {
        use Malformation::*;
        let need = |v: &'c Option<std::borrow::Cow<'_, str>>, name| {
            v.as_deref().ok_or(AuthError::Malformed(MissingParam(name)))
        };
        let realm = need(&c.realm, "realm")?;
        if realm != self.realm {
            return Err(AuthError::WrongRealm);
        }
        let algorithm = match c.algorithm.as_deref() {
            Some(token) => Algorithm::from_token(token)?,
            None => Algorithm::Md5,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        let username = need(&c.username, "username")?;
        let nonce = need(&c.nonce, "nonce")?;
        let uri = need(&c.uri, "uri")?;
        let response = need(&c.response, "response")?;
        let qop = need(&c.qop, "qop")?;
        let nc_text = need(&c.nc, "nc")?;
        let cnonce = need(&c.cnonce, "cnonce")?;
        if !qop.eq_ignore_ascii_case("auth") {
            return Err(AuthError::Malformed(Qop));
        }
        if c.userhash
            .as_deref()
            .is_some_and(|v| !v.eq_ignore_ascii_case("false"))
        {
            return Err(AuthError::Malformed(UserHash));
        }
        if c.opaque.as_deref().is_some_and(|o| o != self.opaque) {
            return Err(AuthError::Malformed(Opaque));
        }
        let nc = parse_nc(nc_text).ok_or(AuthError::Malformed(NonceCount))?;
        Ok(Checked {
            algorithm,
            username,
            nonce,
            uri,
            response,
            qop,
            nc_text,
            nc,
            cnonce,
        })
    }

    fn dummy_ha1(&self, c: &Checked<'_>) -> String {
        ha1(c.algorithm, c.username, &self.realm, &self.dummy_password)
    }
}

/// The fields [`Authenticator::check_fields`] found present and well-formed.
struct Checked<'c> {
    algorithm: Algorithm,
    username: &'c str,
    nonce: &'c str,
    uri: &'c str,
    response: &'c str,
    qop: &'c str,
    nc_text: &'c str,
    nc: u32,
    cnonce: &'c str,
}

/// `nc`: exactly 8 hex digits (RFC 7616 section 3.4).
fn parse_nc(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Compares a lower-case hex digest with a received one (either case) in
/// time independent of where they differ.
fn ct_eq_hex(expected: &[u8], received: &[u8]) -> bool {
    if expected.len() != received.len() {
        return false;
    }
    let diff = expected
        .iter()
        .zip(received)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()));
    std::hint::black_box(diff) == 0
}

/// Appends `s` as a quoted-string.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Drives parsing and verification with arbitrary bytes; shared by the
/// `authorization` fuzz target and the regression test that replays its
/// findings, so both exercise exactly the same code. It must never panic;
/// the one assertion is an invariant (no credentials accepted twice).
///
/// Input: the first byte picks how many 10 s steps after the challenge the
/// credentials arrive (nonces live 300 s here); the rest, read as UTF-8
/// (lossily), is the header value, where `NONCE` is replaced by a freshly
/// issued nonce and `RESP` by the correct response for the parsed fields,
/// so the fuzzer can reach the nonce and replay checks. The value is also
/// answered as a challenge by [`client::authorize`]. The known user is
/// `alice` with password `secret`, realm `waihu`. Returns the outcome of the
/// first verification (the second, identical one must fail).
#[doc(hidden)]
pub fn fuzz_authorization(epoch: Instant, data: &[u8]) -> Result<Verified, AuthError> {
    let Some((&step, rest)) = data.split_first() else {
        return Err(AuthError::Missing);
    };
    let config = DigestConfig {
        realm: "waihu".to_owned(),
        nonce_lifetime: Duration::from_secs(300),
        max_nonces: 4,
        algorithms: Algorithm::PREFERENCE.to_vec(),
    };
    let mut auth = Authenticator::new(config, epoch, [7; 32]);
    let _ = auth.challenge(epoch, false);
    let nonce = auth.nonces.issue(epoch);
    let mut value = String::from_utf8_lossy(rest).replace("NONCE", &nonce);
    if value.contains("RESP") {
        let correct = params::parse(&value).and_then(|creds| {
            let c = auth.check_fields(&creds)?;
            let h = ha1(c.algorithm, c.username, "waihu", "secret");
            let r = response(
                c.algorithm,
                &h,
                c.nonce,
                c.nc_text,
                c.cnonce,
                c.qop,
                "REGISTER",
                c.uri,
            );
            Ok(r)
        });
        if let Ok(r) = correct {
            value = value.replace("RESP", &r);
        }
    }
    // The same value read as a challenge exercises the client side, which
    // shares the parser but reads other fields.
    let _ = client::pick_challenge(std::iter::once(value.as_str()));
    let _ = client::authorize(
        &value,
        &crate::message::Method::Register,
        "sip:waihu",
        "alice",
        "secret",
        "c",
        1,
    );
    let now = epoch + Duration::from_secs(u64::from(step) * 10);
    let lookup = |u: &str| (u == "alice").then(|| "secret".to_owned());
    let first = auth.verify(now, "REGISTER", &value, lookup);
    let second = auth.verify(now, "REGISTER", &value, lookup);
    // The same credentials can never be accepted twice.
    assert!(first.is_err() || second.is_err(), "replay accepted");
    let _ = auth.challenge(now, first.as_ref().is_err_and(AuthError::is_stale));
    first
}

#[cfg(test)]
mod tests;
