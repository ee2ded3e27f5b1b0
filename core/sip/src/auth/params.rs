//! The `Digest k=v, k="v", ...` credentials of an Authorization header
//! (RFC 7616 section 3.4, list syntax of RFC 7235 section 2.1), and with the
//! same grammar the challenges of WWW-Authenticate and Proxy-Authenticate
//! (section 3.3), which the client side in `client` reads.
//!
//! Written by hand rather than borrowed from the message parser because the
//! rules differ from SIP header parameters: values may be quoted strings with
//! `\"` escapes and commas inside, keys are case-insensitive, and a repeated
//! key is an error rather than "last one wins".

use std::borrow::Cow;

use super::{AuthError, Malformation};

/// Longest Authorization value accepted. Real credentials are a few hundred
/// bytes; anything beyond this is refused before it is scanned.
pub(super) const MAX_VALUE: usize = 4096;

/// Most auth-params in one value (RFC 7616 defines twelve).
const MAX_PARAMS: usize = 24;

/// The credentials as received: values unquoted and unescaped, borrowed when
/// they contained no escapes. Only the parameters waihu uses are kept; others
/// are checked for syntax and duplicates and then ignored.
#[derive(Debug, Default)]
pub(super) struct Credentials<'a> {
    pub username: Option<Cow<'a, str>>,
    pub realm: Option<Cow<'a, str>>,
    pub nonce: Option<Cow<'a, str>>,
    pub uri: Option<Cow<'a, str>>,
    pub response: Option<Cow<'a, str>>,
    pub algorithm: Option<Cow<'a, str>>,
    pub cnonce: Option<Cow<'a, str>>,
    pub opaque: Option<Cow<'a, str>>,
    pub qop: Option<Cow<'a, str>>,
    pub nc: Option<Cow<'a, str>>,
    pub userhash: Option<Cow<'a, str>>,
    /// Only in challenges.
    pub stale: Option<Cow<'a, str>>,
}

impl<'a> Credentials<'a> {
    /// The slot for a known key, `None` for a key waihu ignores.
    fn slot(&mut self, key: &str) -> Option<&mut Option<Cow<'a, str>>> {
        const KEYS: [&str; 12] = [
            "username",
            "realm",
            "nonce",
            "uri",
            "response",
            "algorithm",
            "cnonce",
            "opaque",
            "qop",
            "nc",
            "userhash",
            "stale",
        ];
        let index = KEYS.iter().position(|k| k.eq_ignore_ascii_case(key))?;
        Some(match index {
            0 => &mut self.username,
            1 => &mut self.realm,
            2 => &mut self.nonce,
            3 => &mut self.uri,
            4 => &mut self.response,
            5 => &mut self.algorithm,
            6 => &mut self.cnonce,
            7 => &mut self.opaque,
            8 => &mut self.qop,
            9 => &mut self.nc,
            10 => &mut self.userhash,
            _ => &mut self.stale,
        })
    }
}

/// Parses one Authorization (or Proxy-Authorization) value.
///
/// A value whose scheme is not `Digest` (`Basic ...`, a bearer token) is
/// [`AuthError::Missing`]: it carries no credentials waihu can check, so the
/// caller answers with a challenge as if there were none.
pub(super) fn parse(value: &str) -> Result<Credentials<'_>, AuthError> {
    let malformed = |m| Err(AuthError::Malformed(m));
    if value.len() > MAX_VALUE {
        return malformed(Malformation::TooLong);
    }
    let value = value.trim_matches(is_ows);
    let scheme_end = value.find(is_ows).unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if scheme.is_empty() {
        return Err(AuthError::Missing);
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return if scheme.bytes().all(is_tchar) {
            Err(AuthError::Missing)
        } else {
            malformed(Malformation::Syntax)
        };
    }

    let mut creds = Credentials::default();
    // Keys seen, including ignored ones, so a duplicate of any key is caught.
    let mut seen: [&str; MAX_PARAMS] = [""; MAX_PARAMS];
    let mut count = 0;
    let mut cursor = Cursor { s: rest, pos: 0 };
    while let Some((key, val)) = cursor.next_param()? {
        if seen[..count].iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return malformed(Malformation::Duplicate);
        }
        if count == MAX_PARAMS {
            return malformed(Malformation::TooManyParams);
        }
        seen[count] = key;
        count += 1;
        if let Some(slot) = creds.slot(key) {
            *slot = Some(val);
        }
    }
    if count == 0 {
        return malformed(Malformation::Syntax);
    }
    Ok(creds)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(|b| b == b' ' || b == b'\t') {
            self.pos += 1;
        }
    }

    /// Skips empty list elements (`a=1, , b=2` is legal in RFC 7235 #rule).
    fn skip_separators(&mut self) {
        loop {
            self.skip_ows();
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// The next `key=value`, or `None` at the end. After a pair the next
    /// byte must be a comma or the end: `a="1" b="2"` is refused.
    fn next_param(&mut self) -> Result<Option<(&'a str, Cow<'a, str>)>, AuthError> {
        let syntax = Err(AuthError::Malformed(Malformation::Syntax));
        self.skip_separators();
        if self.peek().is_none() {
            return Ok(None);
        }
        let key = self.token();
        if key.is_empty() {
            return syntax;
        }
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return syntax;
        }
        self.pos += 1;
        self.skip_ows();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            let t = self.token();
            if t.is_empty() {
                return syntax;
            }
            Cow::Borrowed(t)
        };
        self.skip_ows();
        match self.peek() {
            None | Some(b',') => Ok(Some((key, value))),
            Some(_) => syntax,
        }
    }

    /// A quoted-string starting at the opening quote; escapes removed.
    fn quoted(&mut self) -> Result<Cow<'a, str>, AuthError> {
        let syntax = Err(AuthError::Malformed(Malformation::Syntax));
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return syntax,
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.s.as_bytes().get(self.pos + 1) {
                        Some(&b) if is_qpair_char(b) => self.pos += 2,
                        _ => return syntax,
                    }
                }
                Some(b) if is_qdtext(b) => self.pos += 1,
                Some(_) => return syntax,
            }
        }
        let raw = &self.s[start..self.pos];
        self.pos += 1;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        Ok(Cow::Owned(out))
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 7230 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// qdtext: HTAB, SP, visible ASCII but `"` and `\`, and any non-ASCII octet
/// (obs-text; the value is a `&str`, so those are whole UTF-8 characters).
fn is_qdtext(b: u8) -> bool {
    b == b'\t' || b == b' ' || (b >= 0x21 && b != b'"' && b != b'\\' && b != 0x7f)
}

/// What may follow a backslash. Only ASCII is allowed, so removing the
/// backslash never splits a UTF-8 character.
fn is_qpair_char(b: u8) -> bool {
    b == b'\t' || (0x20..0x7f).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(value: &str) -> AuthError {
        match parse(value) {
            Ok(c) => panic!("{value:?} parsed as {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn quoted_commas_escapes_and_case_insensitive_keys() {
        let c = parse(r#"digest USERNAME="a\"b,c", Realm="x\\y", nc=00000001"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.username.as_deref(), Some("a\"b,c"));
        assert_eq!(c.realm.as_deref(), Some("x\\y"));
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert!(matches!(c.username, Some(Cow::Owned(_))));
        assert!(matches!(c.nc, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn empty_list_elements_and_unknown_keys_are_accepted() {
        let c = parse("Digest , username=\"u\",, foo=bar ,realm=\"r\",")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.realm.as_deref(), Some("r"));
    }

    #[test]
    fn other_schemes_are_missing_not_malformed() {
        assert_eq!(
            err("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            AuthError::Missing
        );
        assert_eq!(err("   "), AuthError::Missing);
        assert_eq!(err(""), AuthError::Missing);
    }

    #[test]
    fn syntax_errors() {
        let syntax = AuthError::Malformed(Malformation::Syntax);
        for bad in [
            "Digest",
            "Digest username=\"unterminated",
            "Digest username=\"a\" realm=\"b\"",
            "Digest username=",
            "Digest =\"a\"",
            "Digest username\"a\"",
            "Digest username=\"a\\",
            "Digest username=\"a\u{1}\"",
            "Digest username=a b",
            "Dig\"est username=a",
        ] {
            assert_eq!(err(bad), syntax, "{bad:?}");
        }
    }

    #[test]
    fn duplicates_and_bounds() {
        assert_eq!(
            err("Digest nc=00000001, NC=00000002"),
            AuthError::Malformed(Malformation::Duplicate)
        );
        assert_eq!(
            err("Digest x=1, x=2"),
            AuthError::Malformed(Malformation::Duplicate)
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            err(&format!("Digest {}", many.join(","))),
            AuthError::Malformed(Malformation::TooManyParams)
        );
        let long = format!("Digest username=\"{}\"", "a".repeat(MAX_VALUE));
        assert_eq!(err(&long), AuthError::Malformed(Malformation::TooLong));
    }

    #[test]
    fn non_ascii_inside_quotes_survives_unescaping() {
        let c =
            parse("Digest username=\"jos\u{e9}\\\"\u{4e2d}\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.username.as_deref(), Some("jos\u{e9}\"\u{4e2d}"));
    }
}
