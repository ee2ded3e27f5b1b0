//! The client side of digest: answering a registrar's or a proxy's challenge
//! when waihu registers to a carrier (RFC 3261 section 22.2, RFC 7616 section
//! 3.4, RFC 8760 for the SHA-2 names in SIP).
//!
//! The client speaks more than the server offers: a carrier chooses the
//! algorithm, so `-sess` variants, SHA-512-256 and RFC 2069 challenges
//! (no `qop`) are answered although waihu never issues them. Challenges are
//! read with the same parser as credentials, so both sides agree on quoting.
//!
//! `userhash=true` in a challenge only says the server *could* accept a
//! hashed username (RFC 7616 section 3.3); the client may still send it in
//! clear, which is what happens here, so such challenges remain answerable.

use sha2::{Sha256, Sha512_256};

use md5::Md5;

use super::{AuthError, Malformation, hex_digest, params, push_quoted};
use crate::message::Method;

/// An algorithm a challenge may ask for (RFC 7616 section 6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAlgorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    Sha512_256,
    Sha512_256Sess,
}

impl ClientAlgorithm {
    const ALL: [ClientAlgorithm; 6] = [
        ClientAlgorithm::Md5,
        ClientAlgorithm::Md5Sess,
        ClientAlgorithm::Sha256,
        ClientAlgorithm::Sha256Sess,
        ClientAlgorithm::Sha512_256,
        ClientAlgorithm::Sha512_256Sess,
    ];

    /// The `algorithm=` token.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAlgorithm::Md5 => "MD5",
            ClientAlgorithm::Md5Sess => "MD5-sess",
            ClientAlgorithm::Sha256 => "SHA-256",
            ClientAlgorithm::Sha256Sess => "SHA-256-sess",
            ClientAlgorithm::Sha512_256 => "SHA-512-256",
            ClientAlgorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Parses an `algorithm=` token, case-insensitively.
    pub fn from_token(token: &str) -> Option<ClientAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(token))
    }

    pub fn is_sess(self) -> bool {
        matches!(
            self,
            ClientAlgorithm::Md5Sess
                | ClientAlgorithm::Sha256Sess
                | ClientAlgorithm::Sha512_256Sess
        )
    }

    /// Higher is preferred: the hash first, then plain over `-sess`, which
    /// adds nothing for SIP and is less widely implemented.
    fn rank(self) -> u8 {
        let hash = match self {
            ClientAlgorithm::Md5 | ClientAlgorithm::Md5Sess => 0,
            ClientAlgorithm::Sha256 | ClientAlgorithm::Sha256Sess => 2,
            ClientAlgorithm::Sha512_256 | ClientAlgorithm::Sha512_256Sess => 4,
        };
        hash + u8::from(!self.is_sess())
    }

    fn hex_digest(self, parts: &[&[u8]]) -> String {
        match self {
            ClientAlgorithm::Md5 | ClientAlgorithm::Md5Sess => hex_digest::<Md5>(parts),
            ClientAlgorithm::Sha256 | ClientAlgorithm::Sha256Sess => hex_digest::<Sha256>(parts),
            ClientAlgorithm::Sha512_256 | ClientAlgorithm::Sha512_256Sess => {
                hex_digest::<Sha512_256>(parts)
            }
        }
    }
}

/// Why a challenge cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// Empty, or another scheme (`Basic`, `Bearer`...).
    #[error("not a Digest challenge")]
    NotDigest,
    #[error("malformed challenge: {0}")]
    Malformed(Malformation),
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    /// `qop` without `auth` (only `auth-int`, or unknown values), or a
    /// `-sess` algorithm without `qop`, which leaves no place for the cnonce.
    #[error("no supported qop offered")]
    UnsupportedQop,
    /// A caller-supplied value (named) with control characters, which would
    /// end or corrupt the header, or an empty cnonce.
    #[error("{0} cannot be sent in a header")]
    InvalidInput(&'static str),
}

impl From<AuthError> for ClientAuthError {
    fn from(e: AuthError) -> ClientAuthError {
        match e {
            AuthError::Malformed(m) => ClientAuthError::Malformed(m),
            AuthError::UnsupportedAlgorithm => ClientAuthError::UnsupportedAlgorithm,
            // The parser reports only these two and "missing" for a value
            // that is not Digest at all.
            _ => ClientAuthError::NotDigest,
        }
    }
}

/// One parsed, answerable Digest challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: ClientAlgorithm,
    /// Whether `qop=auth` is answered; `false` means the challenge had no
    /// `qop` and gets an RFC 2069 response.
    pub qop_auth: bool,
    /// `stale=true`: the last credentials were right but their nonce was not.
    pub stale: bool,
}

impl Challenge {
    /// Parses one `WWW-Authenticate` or `Proxy-Authenticate` value.
    pub fn parse(value: &str) -> Result<Challenge, ClientAuthError> {
        let p = params::parse(value)?;
        let missing = |name| ClientAuthError::Malformed(Malformation::MissingParam(name));
        let realm = p.realm.ok_or(missing("realm"))?.into_owned();
        let nonce = p.nonce.ok_or(missing("nonce"))?.into_owned();
        let algorithm = match p.algorithm.as_deref() {
            Some(token) => {
                ClientAlgorithm::from_token(token).ok_or(ClientAuthError::UnsupportedAlgorithm)?
            }
            None => ClientAlgorithm::Md5,
        };
        let qop_auth = match p.qop.as_deref() {
            None => false,
            Some(list) => {
                if !list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"))
                {
                    return Err(ClientAuthError::UnsupportedQop);
                }
                true
            }
        };
        if algorithm.is_sess() && !qop_auth {
            return Err(ClientAuthError::UnsupportedQop);
        }
        Ok(Challenge {
            realm,
            nonce,
            opaque: p.opaque.map(|o| o.into_owned()),
            algorithm,
            qop_auth,
            stale: p.stale.is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The `Authorization` (or `Proxy-Authorization`) value answering this
    /// challenge for a request with `method` and digest-uri `uri` (the
    /// Request-URI as sent). `cnonce` should be fresh randomness; `nc`
    /// counts the requests sent with this nonce, from 1.
    pub fn authorize(
        &self,
        method: &Method,
        uri: &str,
        username: &str,
        password: &str,
        cnonce: &str,
        nc: u32,
    ) -> Result<String, ClientAuthError> {
        for (name, value) in [("username", username), ("uri", uri), ("cnonce", cnonce)] {
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(ClientAuthError::InvalidInput(name));
            }
        }
        if self.qop_auth && cnonce.is_empty() {
            return Err(ClientAuthError::InvalidInput("cnonce"));
        }
        let alg = self.algorithm;
        let nonce = self.nonce.as_bytes();
        let mut ha1 = alg.hex_digest(&[
            username.as_bytes(),
            self.realm.as_bytes(),
            password.as_bytes(),
        ]);
        if alg.is_sess() {
            ha1 = alg.hex_digest(&[ha1.as_bytes(), nonce, cnonce.as_bytes()]);
        }
        let ha2 = alg.hex_digest(&[method.as_str().as_bytes(), uri.as_bytes()]);
        let nc_text = format!("{nc:08x}");
        let response = if self.qop_auth {
            alg.hex_digest(&[
                ha1.as_bytes(),
                nonce,
                nc_text.as_bytes(),
                cnonce.as_bytes(),
                b"auth",
                ha2.as_bytes(),
            ])
        } else {
            alg.hex_digest(&[ha1.as_bytes(), nonce, ha2.as_bytes()])
        };

        let mut out = String::with_capacity(256);
        out.push_str("Digest username=");
        push_quoted(&mut out, username);
        out.push_str(", realm=");
        push_quoted(&mut out, &self.realm);
        out.push_str(", nonce=");
        push_quoted(&mut out, &self.nonce);
        out.push_str(", uri=");
        push_quoted(&mut out, uri);
        out.push_str(", response=\"");
        out.push_str(&response);
        out.push_str("\", algorithm=");
        out.push_str(alg.as_str());
        if self.qop_auth {
            out.push_str(", qop=auth, nc=");
            out.push_str(&nc_text);
            out.push_str(", cnonce=");
            push_quoted(&mut out, cnonce);
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        Ok(out)
    }
}

/// Answers one challenge value: [`Challenge::parse`] then
/// [`Challenge::authorize`].
pub fn authorize(
    challenge: &str,
    method: &Method,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, ClientAuthError> {
    Challenge::parse(challenge)?.authorize(method, uri, username, password, cnonce, nc)
}

/// The challenge to answer among several (one per algorithm, RFC 7616
/// section 3.7): the strongest hash this side supports, the first offered
/// among equals, skipping values it cannot answer.
pub fn pick_challenge<'a>(values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(u8, &'a str)> = None;
    for value in values {
        if let Ok(c) = Challenge::parse(value) {
            let rank = c.algorithm.rank();
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((rank, value));
            }
        }
    }
    best.map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::auth::{Algorithm, Authenticator, DigestConfig};

    const REGISTER: Method = Method::Register;

    #[allow(clippy::disallowed_methods)] // the one clock read; only offsets matter
    fn epoch() -> Instant {
        Instant::now()
    }

    fn server(algorithms: Vec<Algorithm>, lifetime: u64) -> (Authenticator, Instant) {
        let now = epoch();
        let config = DigestConfig {
            realm: "carrier.example".to_owned(),
            nonce_lifetime: Duration::from_secs(lifetime),
            max_nonces: 16,
            algorithms,
        };
        (Authenticator::new(config, now, [9; 32]), now)
    }

    fn lookup(user: &str) -> Option<String> {
        (user == "trunk1").then(|| "pa\"ss".to_owned())
    }

    fn answer(challenges: &[String], password: &str, nc: u32) -> String {
        let picked = pick_challenge(challenges.iter().map(String::as_str))
            .unwrap_or_else(|| panic!("nothing picked from {challenges:?}"));
        authorize(
            picked,
            &REGISTER,
            "sip:carrier.example",
            "trunk1",
            password,
            "0a4f113b",
            nc,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rfc7616_examples_md5_and_sha256() {
        let challenge = |alg| {
            format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            )
        };
        let get = Method::Extension("GET".into());
        for (alg, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let v = authorize(
                &challenge(alg),
                &get,
                "/dir/index.html",
                "Mufasa",
                "Circle of Life",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                1,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(v.contains(&format!("response=\"{expected}\"")), "{v}");
            assert!(v.contains("qop=auth, nc=00000001"), "{v}");
            assert!(
                v.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""),
                "{v}"
            );
        }
    }

    #[test]
    fn rfc2069_and_sess_and_sha512_256_responses() {
        // Expected values computed independently (Python hashlib) from the
        // RFC 2617 section 3.5 inputs.
        let base = "realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"";
        let get = Method::Extension("GET".into());
        let run = |extra: &str| {
            authorize(
                &format!("Digest {base}{extra}"),
                &get,
                "/dir/index.html",
                "Mufasa",
                "Circle Of Life",
                "0a4f113b",
                1,
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let plain = run(", qop=\"auth\"");
        assert!(
            plain.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{plain}"
        );
        let rfc2069 = run("");
        assert!(
            rfc2069.contains("response=\"670fd8c2df070c60b045671b8b24ff02\""),
            "{rfc2069}"
        );
        assert!(
            !rfc2069.contains("cnonce") && !rfc2069.contains("qop"),
            "{rfc2069}"
        );
        let sess = run(", qop=auth, algorithm=MD5-sess");
        assert!(
            sess.contains("response=\"8e3825c57e897f5a0dec6c2d4e5059d0\""),
            "{sess}"
        );
        let sha = run(", qop=auth, algorithm=SHA-512-256");
        assert!(
            sha.contains(
                "response=\"f23c08ec7334a881f8286e68450ddbd9f0cd91c41481f0e1433604da8113c6dc\""
            ),
            "{sha}"
        );
        assert_eq!(
            ClientAlgorithm::Sha512_256.hex_digest(&[b"abc"]),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn answers_verify_against_our_server_md5_and_sha256() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let (mut auth, now) = server(vec![alg], 300);
            let challenges = auth.challenge(now, false);
            let value = answer(&challenges, "pa\"ss", 1);
            let v = auth
                .verify(now, "REGISTER", &value, lookup)
                .unwrap_or_else(|e| panic!("{alg:?}: {e} for {value}"));
            assert_eq!(v.algorithm, alg);
            assert_eq!(v.username, "trunk1");
            // The next request reuses the nonce with the next count.
            let value = answer(&challenges, "pa\"ss", 2);
            assert!(auth.verify(now, "REGISTER", &value, lookup).is_ok());
        }
    }

    #[test]
    fn sha256_is_picked_over_md5_whatever_the_order() {
        let (mut auth, now) = server(vec![Algorithm::Md5, Algorithm::Sha256], 300);
        let challenges = auth.challenge(now, false);
        let picked = pick_challenge(challenges.iter().map(String::as_str));
        assert!(picked.is_some_and(|p| p.contains("SHA-256")), "{picked:?}");
        let value = answer(&challenges, "pa\"ss", 1);
        let v = auth.verify(now, "REGISTER", &value, lookup);
        assert_eq!(v.map(|v| v.algorithm), Ok(Algorithm::Sha256));

        let offered = [
            "Basic realm=\"x\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256-sess",
            "Digest realm=\"r\", nonce=\"n\", algorithm=MD5, qop=auth",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=auth",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=\"auth-int\"",
        ];
        assert_eq!(pick_challenge(offered.into_iter()), Some(offered[3]));
        assert_eq!(pick_challenge(offered[..1].iter().copied()), None);
    }

    #[test]
    fn stale_nonce_is_flagged_and_the_new_one_verifies() {
        let (mut auth, now) = server(vec![Algorithm::Sha256], 30);
        let first = auth.challenge(now, false);
        let later = now + Duration::from_secs(60);
        let old = answer(&first, "pa\"ss", 1);
        let err = auth.verify(later, "REGISTER", &old, lookup);
        assert_eq!(err, Err(AuthError::Stale));
        let again = auth.challenge(later, true);
        let parsed = Challenge::parse(&again[0]).unwrap_or_else(|e| panic!("{e}"));
        assert!(parsed.stale);
        assert!(!Challenge::parse(&first[0]).is_ok_and(|c| c.stale));
        let value = answer(&again, "pa\"ss", 1);
        assert!(auth.verify(later, "REGISTER", &value, lookup).is_ok());
    }

    #[test]
    fn wrong_password_is_rejected() {
        let (mut auth, now) = server(vec![Algorithm::Md5, Algorithm::Sha256], 300);
        let challenges = auth.challenge(now, false);
        let value = answer(&challenges, "wrong", 1);
        assert_eq!(
            auth.verify(now, "REGISTER", &value, lookup),
            Err(AuthError::Rejected)
        );
    }

    #[test]
    fn malformed_and_unsupported_challenges_are_errors() {
        use ClientAuthError::*;
        let cases: [(&str, ClientAuthError); 11] = [
            ("", NotDigest),
            ("Basic realm=\"x\"", NotDigest),
            ("Digest", Malformed(Malformation::Syntax)),
            ("Digest realm=\"x", Malformed(Malformation::Syntax)),
            (
                "Digest nonce=\"n\"",
                Malformed(Malformation::MissingParam("realm")),
            ),
            (
                "Digest realm=\"r\"",
                Malformed(Malformation::MissingParam("nonce")),
            ),
            (
                "Digest realm=\"r\", realm=\"s\", nonce=\"n\"",
                Malformed(Malformation::Duplicate),
            ),
            (
                "Digest realm=r, nonce=n, algorithm=SHA-1",
                UnsupportedAlgorithm,
            ),
            ("Digest realm=r, nonce=n, qop=\"auth-int\"", UnsupportedQop),
            ("Digest realm=r, nonce=n, qop=\"\"", UnsupportedQop),
            (
                "Digest realm=r, nonce=n, algorithm=MD5-sess",
                UnsupportedQop,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                authorize(value, &REGISTER, "sip:x", "u", "p", "c", 1),
                Err(expected),
                "{value:?}"
            );
        }
        let ok = "Digest realm=r, nonce=n, qop=auth";
        for (user, uri, cnonce, bad) in [
            ("u\r\nX: y", "sip:x", "c", "username"),
            ("u", "sip:x\n", "c", "uri"),
            ("u", "sip:x", "c\u{0}", "cnonce"),
            ("u", "sip:x", "", "cnonce"),
        ] {
            assert_eq!(
                authorize(ok, &REGISTER, uri, user, "p", cnonce, 1),
                Err(InvalidInput(bad))
            );
        }
    }

    #[test]
    fn userhash_offer_is_answered_in_clear_and_quotes_are_escaped() {
        let v = authorize(
            "Digest realm=\"a\\\"b\", nonce=\"n\", qop=auth, userhash=true, stale=TRUE",
            &REGISTER,
            "sip:x",
            "u\"1",
            "p",
            "c",
            0x1f,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(v.contains("username=\"u\\\"1\""), "{v}");
        assert!(v.contains("realm=\"a\\\"b\""), "{v}");
        assert!(v.contains("nc=0000001f"), "{v}");
        assert!(!v.contains("userhash"), "{v}");
        // What we send parses back with the same values.
        let back = params::parse(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.username.as_deref(), Some("u\"1"));
        assert_eq!(back.realm.as_deref(), Some("a\"b"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap sweep over truncations and byte flips of a valid challenge.
        let good = "Digest realm=\"r\\\"x\", nonce=\"abc\", qop=\"auth,auth-int\", algorithm=SHA-256, opaque=\"o\", stale=true";
        for cut in 0..=good.len() {
            if let Some(prefix) = good.get(..cut) {
                let _ = authorize(prefix, &REGISTER, "sip:x", "u", "p", "c", 1);
            }
        }
        let bytes = good.as_bytes();
        for i in 0..bytes.len() {
            for b in [0u8, b'"', b'\\', b',', b'=', b' ', 0xff] {
                let mut m = bytes.to_vec();
                m[i] = b;
                let s = String::from_utf8_lossy(&m);
                let _ = authorize(&s, &REGISTER, "sip:x", "u", "p", "c", 1);
                let _ = pick_challenge([s.as_ref(), good].into_iter());
            }
        }
    }
}
