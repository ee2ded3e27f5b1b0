use std::net::Ipv4Addr;

use super::*;
use crate::message::{Host, Method, NameAddr, Params, SipUri, Uri, Via};

const REALM: &str = "waihu.test";
const LIFETIME: Duration = Duration::from_secs(300);

fn authenticator(epoch: Instant, max_nonces: usize) -> Authenticator {
    let config = DigestConfig {
        realm: REALM.to_owned(),
        nonce_lifetime: LIFETIME,
        max_nonces,
        algorithms: Algorithm::PREFERENCE.to_vec(),
    };
    Authenticator::new(config, epoch, [42; 32])
}

/// The `nonce` and `opaque` of a challenge value.
fn field(challenge: &str, name: &str) -> String {
    let start = challenge
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {challenge}"))
        + name.len()
        + 2;
    let len = challenge[start..].find('"').unwrap_or(0);
    challenge[start..start + len].to_owned()
}

/// What a client would send.
struct Client<'a> {
    alg: Algorithm,
    user: &'a str,
    password: &'a str,
    realm: &'a str,
    nonce: &'a str,
    nc: u32,
}

impl Client<'_> {
    fn header(&self) -> String {
        let nc = format!("{:08x}", self.nc);
        let uri = "sip:waihu.test";
        let h = ha1(self.alg, self.user, self.realm, self.password);
        let r = response(
            self.alg, &h, self.nonce, &nc, "c0ffee", "auth", "REGISTER", uri,
        );
        format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{r}\", algorithm={}, cnonce=\"c0ffee\", qop=auth, nc={nc}",
            self.user,
            self.realm,
            self.nonce,
            self.alg.as_str()
        )
    }
}

fn alice(nonce: &str, nc: u32) -> Client<'_> {
    Client {
        alg: Algorithm::Sha256,
        user: "alice",
        password: "wonderland",
        realm: REALM,
        nonce,
        nc,
    }
}

fn lookup(user: &str) -> Option<String> {
    (user == "alice").then(|| "wonderland".to_owned())
}

fn verify(auth: &mut Authenticator, now: Instant, header: &str) -> Result<Verified, AuthError> {
    auth.verify(now, "REGISTER", header, lookup)
}

fn fresh_nonce(auth: &mut Authenticator, now: Instant) -> String {
    field(&auth.challenge(now, false)[0], "nonce")
}

// RFC 7616 section 3.9.1: user Mufasa, password "Circle of Life".
const RFC_REALM: &str = "http-auth@example.org";
const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC_MD5: &str = "8ca523f5e9506fed4657c9700eebdbec";
const RFC_SHA256: &str = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

#[test]
fn rfc7616_example_vectors() {
    for (alg, expected) in [(Algorithm::Md5, RFC_MD5), (Algorithm::Sha256, RFC_SHA256)] {
        let h = ha1(alg, "Mufasa", RFC_REALM, "Circle of Life");
        let r = response(
            alg,
            &h,
            RFC_NONCE,
            "00000001",
            RFC_CNONCE,
            "auth",
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, expected, "{alg:?}");
    }
}

/// The RFC's own Authorization values pass the digest check. Their nonce was
/// not issued by us, so the outcome is Stale (right password, bad nonce),
/// while a wrong password gives Rejected.
#[test]
fn rfc7616_example_headers_verify_up_to_the_nonce() {
    let epoch = Instant::now_for_tests();
    let config = DigestConfig {
        realm: RFC_REALM.to_owned(),
        nonce_lifetime: LIFETIME,
        max_nonces: 8,
        algorithms: Algorithm::PREFERENCE.to_vec(),
    };
    let mut auth = Authenticator::new(config, epoch, [1; 32]);
    for (alg, r) in [("MD5", RFC_MD5), ("SHA-256", RFC_SHA256)] {
        let header = format!(
            "Digest username=\"Mufasa\",\r\n    realm=\"{RFC_REALM}\",\r\n    uri=\"/dir/index.html\",\r\n    \
             algorithm={alg},\r\n    nonce=\"{RFC_NONCE}\",\r\n    nc=00000001,\r\n    \
             cnonce=\"{RFC_CNONCE}\",\r\n    qop=auth,\r\n    response=\"{r}\""
        )
        // Header unfolding happens in the message parser; the value arrives unfolded.
        .replace("\r\n   ", "");
        let right = |_: &str| Some("Circle of Life".to_owned());
        let wrong = |_: &str| Some("Circle of Death".to_owned());
        assert_eq!(
            auth.verify(epoch, "GET", &header, right),
            Err(AuthError::Stale),
            "{alg}"
        );
        assert_eq!(
            auth.verify(epoch, "GET", &header, wrong),
            Err(AuthError::Rejected),
            "{alg}"
        );
    }
}

#[test]
fn challenge_offers_sha256_then_md5_with_one_nonce() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let values = auth.challenge(epoch, false);
    assert_eq!(values.len(), 2);
    assert!(
        values[0]
            .starts_with("Digest realm=\"waihu.test\", qop=\"auth\", algorithm=SHA-256, nonce=\"")
    );
    assert!(values[1].contains("algorithm=MD5"));
    assert_eq!(field(&values[0], "nonce"), field(&values[1], "nonce"));
    assert_eq!(field(&values[0], "opaque"), field(&values[1], "opaque"));
    assert!(!values[0].contains("stale"));
    let stale = auth.challenge(epoch, true);
    assert!(stale.iter().all(|v| v.ends_with(", stale=true")));
    assert_ne!(field(&values[0], "nonce"), field(&stale[0], "nonce"));
}

#[test]
fn challenge_quotes_the_realm() {
    let epoch = Instant::now_for_tests();
    let config = DigestConfig {
        realm: "a \"b\" \\c".to_owned(),
        nonce_lifetime: LIFETIME,
        max_nonces: 8,
        algorithms: Algorithm::PREFERENCE.to_vec(),
    };
    let mut auth = Authenticator::new(config, epoch, [1; 32]);
    assert!(auth.challenge(epoch, false)[0].starts_with(r#"Digest realm="a \"b\" \\c", "#));
}

#[test]
fn valid_credentials_round_trip_for_both_algorithms() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    for alg in Algorithm::PREFERENCE {
        let nonce = fresh_nonce(&mut auth, epoch);
        let header = Client {
            alg,
            ..alice(&nonce, 1)
        }
        .header();
        let ok = verify(&mut auth, epoch + Duration::from_secs(1), &header);
        assert_eq!(
            ok,
            Ok(Verified {
                username: "alice".to_owned(),
                uri: "sip:waihu.test".to_owned(),
                algorithm: alg,
            })
        );
    }
}

#[test]
fn with_opaque_and_upper_case_response() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let challenge = auth.challenge(epoch, false);
    let nonce = field(&challenge[0], "nonce");
    let opaque = field(&challenge[0], "opaque");
    let header = alice(&nonce, 1).header();
    let r = field(&header, "response");
    let upper = header.replace(&r, &r.to_ascii_uppercase()) + &format!(", opaque=\"{opaque}\"");
    assert!(verify(&mut auth, epoch, &upper).is_ok(), "{upper}");
    let wrong_opaque = alice(&nonce, 2).header() + ", opaque=\"00\"";
    assert_eq!(
        verify(&mut auth, epoch, &wrong_opaque),
        Err(AuthError::Malformed(Malformation::Opaque))
    );
}

#[test]
fn expired_nonce_is_stale() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let at_limit = epoch + LIFETIME;
    assert!(verify(&mut auth, at_limit, &alice(&nonce, 1).header()).is_ok());
    let late = epoch + LIFETIME + Duration::from_millis(1);
    let err = verify(&mut auth, late, &alice(&nonce, 2).header());
    assert_eq!(err, Err(AuthError::Stale));
    assert!(err.as_ref().is_err_and(AuthError::is_stale));
    assert!(!AuthError::Stale.is_failure());
}

#[test]
fn nonce_count_must_increase() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    assert!(verify(&mut auth, epoch, &alice(&nonce, 1).header()).is_ok());
    assert_eq!(
        verify(&mut auth, epoch, &alice(&nonce, 1).header()),
        Err(AuthError::Replay)
    );
    assert!(verify(&mut auth, epoch, &alice(&nonce, 2).header()).is_ok());
    // Skipping ahead is fine (the client may have sent requests elsewhere)...
    assert!(verify(&mut auth, epoch, &alice(&nonce, 7).header()).is_ok());
    // ...going back is not.
    assert_eq!(
        verify(&mut auth, epoch, &alice(&nonce, 5).header()),
        Err(AuthError::Replay)
    );
    assert_eq!(
        verify(&mut auth, epoch, &alice(&nonce, 0).header()),
        Err(AuthError::Replay)
    );
    assert!(AuthError::Replay.is_failure());
}

#[test]
fn a_failed_attempt_does_not_burn_the_nonce_count() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let wrong = Client {
        password: "guess",
        ..alice(&nonce, 1)
    }
    .header();
    assert_eq!(verify(&mut auth, epoch, &wrong), Err(AuthError::Rejected));
    assert!(verify(&mut auth, epoch, &alice(&nonce, 1).header()).is_ok());
}

#[test]
fn forgotten_nonce_is_stale_not_replayable() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 2);
    let first = fresh_nonce(&mut auth, epoch);
    assert!(verify(&mut auth, epoch, &alice(&first, 1).header()).is_ok());
    fresh_nonce(&mut auth, epoch);
    fresh_nonce(&mut auth, epoch);
    assert_eq!(auth.tracked_nonces(), 2);
    // The captured request, and any later nc, are refused once `first` is forgotten.
    assert_eq!(
        verify(&mut auth, epoch, &alice(&first, 1).header()),
        Err(AuthError::Stale)
    );
    assert_eq!(
        verify(&mut auth, epoch, &alice(&first, 2).header()),
        Err(AuthError::Stale)
    );
}

#[test]
fn expired_nonces_are_purged_from_the_table() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 100);
    for _ in 0..10 {
        fresh_nonce(&mut auth, epoch);
    }
    fresh_nonce(&mut auth, epoch + LIFETIME + Duration::from_secs(1));
    assert_eq!(auth.tracked_nonces(), 1);
}

#[test]
fn nonce_from_another_secret_or_tampered_is_stale_only_with_the_right_password() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let mut other = Authenticator::new(
        DigestConfig {
            realm: REALM.to_owned(),
            nonce_lifetime: LIFETIME,
            max_nonces: 8,
            algorithms: Algorithm::PREFERENCE.to_vec(),
        },
        epoch,
        [9; 32],
    );
    let foreign = fresh_nonce(&mut other, epoch);
    assert_eq!(
        verify(&mut auth, epoch, &alice(&foreign, 1).header()),
        Err(AuthError::Stale)
    );

    let nonce = fresh_nonce(&mut auth, epoch);
    // Move the issue time forward by flipping a digit of the timestamp.
    let mut tampered = nonce.clone().into_bytes();
    tampered[15] = if tampered[15] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    assert_eq!(
        verify(&mut auth, epoch, &alice(&tampered, 1).header()),
        Err(AuthError::Stale)
    );
    let guess = Client {
        password: "guess",
        ..alice(&tampered, 1)
    }
    .header();
    assert_eq!(verify(&mut auth, epoch, &guess), Err(AuthError::Rejected));
    for junk in ["", "xyz", &nonce[..nonce.len() - 2]] {
        assert_eq!(
            verify(&mut auth, epoch, &alice(junk, 1).header()),
            Err(AuthError::Stale)
        );
    }
    // The genuine nonce is untouched by all this.
    assert!(verify(&mut auth, epoch, &alice(&nonce, 1).header()).is_ok());
}

#[test]
fn wrong_realm_is_its_own_error_and_not_a_failure() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let header = Client {
        realm: "other.example",
        ..alice(&nonce, 1)
    }
    .header();
    assert_eq!(
        verify(&mut auth, epoch, &header),
        Err(AuthError::WrongRealm)
    );
    assert!(!AuthError::WrongRealm.is_failure());
}

#[test]
fn unknown_user_and_wrong_password_are_indistinguishable() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let unknown = Client {
        user: "mallory",
        ..alice(&nonce, 1)
    }
    .header();
    let wrong = Client {
        password: "guess",
        ..alice(&nonce, 1)
    }
    .header();
    let a = verify(&mut auth, epoch, &unknown);
    let b = verify(&mut auth, epoch, &wrong);
    assert_eq!(a, Err(AuthError::Rejected));
    assert_eq!(a, b);
    assert_eq!(a.map_err(|e| e.to_string()), b.map_err(|e| e.to_string()));
    // Even an unknown user whose "password" is the dummy one gets nowhere.
    let dummy = auth.dummy_password.clone();
    let sneaky = Client {
        user: "mallory",
        password: &dummy,
        ..alice(&nonce, 2)
    }
    .header();
    assert_eq!(verify(&mut auth, epoch, &sneaky), Err(AuthError::Rejected));
}

#[test]
fn precomputed_ha1_store() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let store = |alg| Credential::Ha1 {
        md5: None,
        sha256: Some(ha1(alg, "alice", REALM, "wonderland")),
    };
    let nonce = fresh_nonce(&mut auth, epoch);
    let sha = alice(&nonce, 1).header();
    assert!(
        auth.verify_with(epoch, "REGISTER", &sha, |_| Some(store(Algorithm::Sha256)))
            .is_ok()
    );
    // No MD5 HA1 stored: refused like a wrong password.
    let md5 = Client {
        alg: Algorithm::Md5,
        ..alice(&nonce, 2)
    }
    .header();
    assert_eq!(
        auth.verify_with(epoch, "REGISTER", &md5, |_| Some(store(Algorithm::Sha256))),
        Err(AuthError::Rejected)
    );
}

#[test]
fn method_is_part_of_the_digest() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let header = alice(&nonce, 1).header();
    assert_eq!(
        auth.verify(epoch, "INVITE", &header, lookup),
        Err(AuthError::Rejected)
    );
}

#[test]
fn refused_parameters() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let good = alice(&nonce, 1).header();
    let cases: [(String, AuthError); 9] = [
        (
            good.replace("algorithm=SHA-256", "algorithm=SHA-256-sess"),
            AuthError::UnsupportedAlgorithm,
        ),
        (
            good.replace("algorithm=SHA-256", "algorithm=SHA-512-256"),
            AuthError::UnsupportedAlgorithm,
        ),
        (
            good.replace("qop=auth", "qop=auth-int"),
            AuthError::Malformed(Malformation::Qop),
        ),
        (
            good.replace(", qop=auth", ""),
            AuthError::Malformed(Malformation::MissingParam("qop")),
        ),
        (
            good.replace("cnonce=\"c0ffee\", ", ""),
            AuthError::Malformed(Malformation::MissingParam("cnonce")),
        ),
        (
            good.replace("nc=00000001", "nc=1"),
            AuthError::Malformed(Malformation::NonceCount),
        ),
        (
            good.replace("nc=00000001", "nc=0000000g"),
            AuthError::Malformed(Malformation::NonceCount),
        ),
        (
            good.clone() + ", userhash=true",
            AuthError::Malformed(Malformation::UserHash),
        ),
        (
            good.replace("response=\"", "response=\"ab"),
            AuthError::Malformed(Malformation::Response),
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(verify(&mut auth, epoch, &header), Err(expected), "{header}");
    }
    assert_eq!(
        verify(&mut auth, epoch, &format!("{good}, nc=00000002")),
        Err(AuthError::Malformed(Malformation::Duplicate))
    );
    // After all that, the honest request still works.
    assert!(verify(&mut auth, epoch, &good).is_ok());
}

#[test]
fn default_algorithm_is_md5() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let header = Client {
        alg: Algorithm::Md5,
        ..alice(&nonce, 1)
    }
    .header()
    .replace(", algorithm=MD5", "");
    assert_eq!(
        verify(&mut auth, epoch, &header).map(|v| v.algorithm),
        Ok(Algorithm::Md5)
    );
}

fn register(authorizations: &[&str]) -> Request {
    let host = Host::V4(Ipv4Addr::LOCALHOST);
    let uri = Uri::Sip(SipUri::new(None, Host::Name(REALM.to_owned())));
    let aor = NameAddr::new(Uri::Sip(SipUri::new(
        Some("alice"),
        Host::Name(REALM.to_owned()),
    )));
    let via = Via {
        transport: "UDP".to_owned(),
        host,
        port: Some(5060),
        params: Params::default(),
    };
    let mut request = Request::new(Method::Register, uri, via, aor.clone(), aor, "call-1", 1);
    for a in authorizations {
        request.headers.push(HeaderName::Authorization, *a);
    }
    request
}

#[test]
fn verify_request_picks_the_header_for_our_realm() {
    let epoch = Instant::now_for_tests();
    let mut auth = authenticator(epoch, 8);
    let nonce = fresh_nonce(&mut auth, epoch);
    let ours = alice(&nonce, 1).header();
    let theirs = Client {
        realm: "other.example",
        ..alice(&nonce, 1)
    }
    .header();

    let both = register(&["Basic Zm9vOmJhcg==", &theirs, &ours]);
    assert_eq!(
        auth.verify_request(epoch, &both, lookup)
            .map(|v| v.username),
        Ok("alice".to_owned())
    );
    assert_eq!(
        auth.verify_request(epoch, &register(&[]), lookup),
        Err(AuthError::Missing)
    );
    assert_eq!(
        auth.verify_request(epoch, &register(&["Basic Zm9vOmJhcg=="]), lookup),
        Err(AuthError::Missing)
    );
    assert_eq!(
        auth.verify_request(epoch, &register(&[&theirs]), lookup),
        Err(AuthError::WrongRealm)
    );
    assert_eq!(
        auth.verify_request(epoch, &register(&["Digest realm=\"x"]), lookup),
        Err(AuthError::Malformed(Malformation::Syntax))
    );
}

#[test]
fn fuzz_entry_survives_seeds() {
    let epoch = Instant::now_for_tests();
    let header = "Digest username=\"alice\", realm=\"waihu\", nonce=\"NONCE\", uri=\"sip:waihu\", \
                  response=\"RESP\", cnonce=\"x\", qop=auth, nc=00000001";
    let run = |step: u8| {
        let mut data = vec![step];
        data.extend_from_slice(header.as_bytes());
        fuzz_authorization(epoch, &data)
    };
    assert_eq!(run(0).map(|v| v.username), Ok("alice".to_owned()));
    assert!(run(30).is_ok());
    assert_eq!(run(31), Err(AuthError::Stale));
    assert_eq!(run(255), Err(AuthError::Stale));
    assert_eq!(fuzz_authorization(epoch, b""), Err(AuthError::Missing));
    assert!(fuzz_authorization(epoch, b"\x00Digest username=\"\xff\"").is_err());
}

/// Tests need a starting instant; the crate itself never reads the clock.
trait NowForTests {
    fn now_for_tests() -> Instant;
}

impl NowForTests for Instant {
    #[allow(clippy::disallowed_methods)]
    fn now_for_tests() -> Instant {
        Instant::now()
    }
}
