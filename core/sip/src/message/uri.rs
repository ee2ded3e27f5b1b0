//! URI, name-addr, Via and list grammar (RFC 3261 section 25.1, RFC 5118 for IPv6).
//!
//! Everything here works on one header value after line unfolding. Parsers
//! are strict where a fault would travel on (whitespace inside `<...>`, empty
//! parameters, `?` in an addr-spec) and liberal where RFC 3261 is (LWS around
//! `;`, `=`, `/` and `:` in header parameters).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Contact, Host, NameAddr, Param, Params, ParseError, SipUri, Uri, Via};

/// RFC 3261 `token` characters.
pub(super) fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// Checks that `s` is made of `unreserved`, `extra` and well-formed `%HH` escapes.
fn escaped_run(s: &str, extra: &[u8]) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        if !(unreserved(c) || extra.contains(&c)) {
            return false;
        }
        i += 1;
    }
    true
}

const USER_EXTRA: &[u8] = b"&=+$,;?/";
const PASSWORD_EXTRA: &[u8] = b"&=+$,";
const PARAM_EXTRA: &[u8] = b"[]/:&+$";
const HEADERS_EXTRA: &[u8] = b"[]/?:+$=&";

/// Decodes %-escapes (lossy for octets that are not UTF-8).
pub(super) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (hex_val(b.get(i + 1)), hex_val(b.get(i + 2)))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: Option<&u8>) -> Option<u8> {
    let c = *c?;
    (c as char).to_digit(16).map(|d| d as u8)
}

fn bad(what: &'static str) -> ParseError {
    ParseError::BadUri(what)
}

/// Parses a URI as it appears in a Request-Line or between `<` and `>`.
pub fn parse_uri(s: &str) -> Result<Uri, ParseError> {
    let colon = s.find(':').ok_or(bad("no scheme"))?;
    let scheme = &s[..colon];
    let rest = &s[colon + 1..];
    let first = scheme.bytes().next().ok_or(bad("empty scheme"))?;
    if !first.is_ascii_alphabetic()
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(bad("bad scheme"));
    }
    if scheme.eq_ignore_ascii_case("sip") {
        parse_sip_uri(rest, false).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case("sips") {
        parse_sip_uri(rest, true).map(Uri::Sip)
    } else {
        // RFC 3986 leaves these out of every URI: they delimit URIs in headers.
        if rest.is_empty()
            || rest
                .bytes()
                .any(|c| c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"' | b'\\'))
        {
            return Err(bad("bad absolute URI"));
        }
        Ok(Uri::Other {
            scheme: scheme.to_ascii_lowercase(),
            rest: rest.to_owned(),
        })
    }
}

fn parse_sip_uri(s: &str, secure: bool) -> Result<SipUri, ParseError> {
    // '@' can only be the userinfo delimiter: it is not allowed unescaped in
    // parameters or headers, and a user part may itself hold ';' and '?'.
    let (userinfo, rest) = match s.find('@') {
        Some(at) => (Some(&s[..at]), &s[at + 1..]),
        None => (None, s),
    };
    if rest.contains('@') {
        return Err(bad("more than one '@'"));
    }
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (u, p) = match ui.find(':') {
                Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                None => (ui, None),
            };
            if u.is_empty() || !escaped_run(u, USER_EXTRA) {
                return Err(bad("bad user part"));
            }
            if let Some(p) = p
                && !escaped_run(p, PASSWORD_EXTRA)
            {
                return Err(bad("bad password"));
            }
            (Some(u.to_owned()), p.map(str::to_owned))
        }
    };
    let (hostport, after) = split_hostport(rest)?;
    let (host, port) = parse_hostport(hostport)?;
    let (params_str, headers) = match after.find('?') {
        Some(q) => (&after[..q], Some(&after[q + 1..])),
        None => (after, None),
    };
    let params = parse_uri_params(params_str)?;
    if let Some(h) = headers
        && (h.is_empty() || !escaped_run(h, HEADERS_EXTRA))
    {
        return Err(bad("bad URI headers"));
    }
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers: headers.map(str::to_owned),
    })
}

/// Splits `host[:port]` from what follows (`;params` or `?headers`).
fn split_hostport(s: &str) -> Result<(&str, &str), ParseError> {
    let end = if s.starts_with('[') {
        let close = s.find(']').ok_or(bad("unclosed IPv6 reference"))?;
        close
            + 1
            + s[close + 1..]
                .find([';', '?'])
                .unwrap_or(s.len() - close - 1)
    } else {
        s.find([';', '?']).unwrap_or(s.len())
    };
    Ok((&s[..end], &s[end..]))
}

/// Parses `host[:port]` (no surrounding whitespace).
pub(super) fn parse_hostport(s: &str) -> Result<(Host, Option<u16>), ParseError> {
    let (host_str, port_str) = if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']').ok_or(bad("unclosed IPv6 reference"))?;
        let after = &inner[close + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(bad("junk after IPv6 reference"))?,
            ),
        };
        let addr: Ipv6Addr = inner[..close]
            .parse()
            .map_err(|_| bad("bad IPv6 address"))?;
        return Ok((Host::V6(addr), port.map(parse_port).transpose()?));
    } else {
        match s.rfind(':') {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let host = parse_host(host_str)?;
    Ok((host, port_str.map(parse_port).transpose()?))
}

fn parse_port(p: &str) -> Result<u16, ParseError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("bad port"));
    }
    p.parse().map_err(|_| bad("port out of range"))
}

fn parse_host(h: &str) -> Result<Host, ParseError> {
    if h.is_empty() {
        return Err(bad("empty host"));
    }
    if h.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let a: Ipv4Addr = h.parse().map_err(|_| bad("bad IPv4 address"))?;
        return Ok(Host::V4(a));
    }
    // Hostnames: labels of alphanumerics and '-' (and '_', seen in the wild).
    let ok = h.split('.').enumerate().all(|(i, label)| {
        (!label.is_empty() || (i > 0 && h.ends_with('.')))
            && label
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    });
    if !ok {
        return Err(bad("bad host name"));
    }
    Ok(Host::Name(h.to_owned()))
}

fn parse_uri_params(s: &str) -> Result<Params, ParseError> {
    let mut params = Vec::new();
    if s.is_empty() {
        return Ok(Params(params));
    }
    let s = s.strip_prefix(';').ok_or(bad("junk after host"))?;
    for p in s.split(';') {
        let (name, value) = match p.find('=') {
            Some(e) => (&p[..e], Some(&p[e + 1..])),
            None => (p, None),
        };
        if name.is_empty() || !escaped_run(name, PARAM_EXTRA) {
            return Err(bad("bad URI parameter"));
        }
        if let Some(v) = value
            && (v.is_empty() || !escaped_run(v, PARAM_EXTRA))
        {
            return Err(bad("bad URI parameter value"));
        }
        params.push(Param {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        });
    }
    Ok(Params(params))
}

/// A cursor over one header value.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// A quoted string, returned with its quotes. Escapes are validated, not decoded.
    fn quoted(&mut self) -> Result<&'a str, ParseError> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(ParseError::BadHeader("expected quoted string"));
        }
        let b = self.s.as_bytes();
        while self.pos < b.len() {
            match b[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(&self.s[start..self.pos]);
                }
                b'\\' => {
                    // quoted-pair: any octet but CR and LF (0x0A, 0x0D) up to 0x7F
                    match b.get(self.pos + 1) {
                        Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => self.pos += 2,
                        _ => return Err(ParseError::BadHeader("bad escape in quoted string")),
                    }
                }
                c if c < 0x20 && c != b'\t' => {
                    return Err(ParseError::BadHeader("control character in quoted string"));
                }
                _ => self.pos += 1,
            }
        }
        Err(ParseError::BadHeader("unbalanced quotes"))
    }
}

/// Header parameters: `*( SEMI name [ EQUAL value ] )` with LWS allowed around
/// `;` and `=`. Stops (without consuming) at `,` or the end.
fn header_params(c: &mut Cursor<'_>) -> Result<Params, ParseError> {
    let mut params = Vec::new();
    loop {
        c.skip_ws();
        if !c.eat(b';') {
            break;
        }
        c.skip_ws();
        let name = c.take_while(is_token_char);
        if name.is_empty() {
            return Err(ParseError::BadHeader("empty parameter"));
        }
        c.skip_ws();
        let value = if c.eat(b'=') {
            c.skip_ws();
            let v = if c.peek() == Some(b'"') {
                c.quoted()?
            } else {
                // token, host (incl. IPv6 references) or an IPv6 address
                c.take_while(|b| is_token_char(b) || matches!(b, b':' | b'[' | b']'))
            };
            if v.is_empty() {
                return Err(ParseError::BadHeader("empty parameter value"));
            }
            Some(v.to_owned())
        } else {
            None
        };
        params.push(Param {
            name: name.to_owned(),
            value,
        });
    }
    Ok(Params(params))
}

/// One `name-addr` or `addr-spec`, followed by header parameters.
fn name_addr(c: &mut Cursor<'_>) -> Result<NameAddr, ParseError> {
    c.skip_ws();
    let mut display = None;
    if c.peek() == Some(b'"') {
        display = Some(c.quoted()?.to_owned());
        c.skip_ws();
    } else {
        // Either a display name of tokens followed by '<', or an addr-spec.
        let save = c.pos;
        let mut words = Vec::new();
        loop {
            let w = c.take_while(is_token_char);
            if w.is_empty() {
                break;
            }
            words.push(w);
            c.skip_ws();
        }
        if c.peek() == Some(b'<') {
            if !words.is_empty() {
                display = Some(words.join(" "));
            }
        } else {
            c.pos = save;
        }
    }
    let uri = if c.eat(b'<') {
        let rest = c.rest();
        let close = rest
            .find('>')
            .ok_or(ParseError::BadHeader("unclosed '<'"))?;
        let inner = &rest[..close];
        if inner.bytes().any(|b| b == b' ' || b == b'\t') {
            return Err(ParseError::BadHeader("whitespace inside '<...>'"));
        }
        c.pos += close + 1;
        parse_uri(inner)?
    } else {
        if display.is_some() {
            return Err(ParseError::BadHeader("display name without '<'"));
        }
        // addr-spec: the URI ends at ';' (header parameters), ',' or whitespace,
        // and may not carry '?' headers (RFC 3261 section 20).
        let spec = c.take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t'));
        if spec.contains('?') {
            return Err(ParseError::BadHeader("URI with headers outside '<...>'"));
        }
        parse_uri(spec)?
    };
    let params = header_params(c)?;
    Ok(NameAddr {
        display,
        uri,
        params,
    })
}

fn finish(c: &Cursor<'_>) -> Result<(), ParseError> {
    if c.at_end() {
        Ok(())
    } else {
        Err(ParseError::BadHeader("junk after value"))
    }
}

/// Parses one From/To-style value: a single name-addr or addr-spec with parameters.
pub fn parse_name_addr(value: &str) -> Result<NameAddr, ParseError> {
    let mut c = Cursor::new(value);
    let na = name_addr(&mut c)?;
    c.skip_ws();
    finish(&c)?;
    Ok(na)
}

/// Parses a comma-separated list of name-addrs (Route, Record-Route, Contact).
pub fn parse_name_addr_list(value: &str) -> Result<Vec<NameAddr>, ParseError> {
    let mut c = Cursor::new(value);
    let mut out = Vec::new();
    loop {
        out.push(name_addr(&mut c)?);
        c.skip_ws();
        if c.at_end() {
            return Ok(out);
        }
        if !c.eat(b',') {
            return Err(ParseError::BadHeader("expected ','"));
        }
    }
}

/// Parses one Contact header value: `*` or a list of addresses.
pub fn parse_contacts(value: &str) -> Result<Vec<Contact>, ParseError> {
    if value.trim() == "*" {
        return Ok(vec![Contact::Star]);
    }
    Ok(parse_name_addr_list(value)?
        .into_iter()
        .map(Contact::Addr)
        .collect())
}

/// Parses one Via header value (possibly several comma-separated entries).
pub fn parse_vias(value: &str, out: &mut Vec<Via>) -> Result<(), ParseError> {
    let mut c = Cursor::new(value);
    loop {
        out.push(via(&mut c)?);
        c.skip_ws();
        if c.at_end() {
            return Ok(());
        }
        if !c.eat(b',') {
            return Err(ParseError::BadHeader("bad Via"));
        }
    }
}

fn via(c: &mut Cursor<'_>) -> Result<Via, ParseError> {
    let err = ParseError::BadHeader("bad Via");
    c.skip_ws();
    let name = c.take_while(is_token_char);
    c.skip_ws();
    if !name.eq_ignore_ascii_case("SIP") || !c.eat(b'/') {
        return Err(err);
    }
    c.skip_ws();
    let version = c.take_while(is_token_char);
    c.skip_ws();
    if version != "2.0" || !c.eat(b'/') {
        return Err(err);
    }
    c.skip_ws();
    let transport = c.take_while(is_token_char);
    if transport.is_empty() {
        return Err(err);
    }
    let before = c.pos;
    c.skip_ws();
    if c.pos == before {
        return Err(err);
    }
    let sent_by = c.take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t'));
    let (host, port) = parse_hostport(sent_by)?;
    let params = header_params(c)?;
    if params
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case("branch") && p.value.is_none())
    {
        return Err(err);
    }
    Ok(Via {
        transport: transport.to_ascii_uppercase(),
        host,
        port,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match parse_uri(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn user_part_keeps_semicolons_and_escapes() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, Host::Name("example.com".into()));
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user_unescaped().as_deref(), Some("null-\0-null"));
    }

    #[test]
    fn unusual_user_and_password() {
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
    }

    #[test]
    fn ipv6_hosts() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.port, Some(5070));
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.port, None);
        assert!(parse_uri("sip:2001:db8::10").is_err());
        assert!(parse_uri("sip:user@[2001:db8:::192.0.2.1]").is_err());
        let u = sip("sip:user@[2001:db8::192.0.2.1]");
        assert!(matches!(u.host, Host::V6(_)));
    }

    #[test]
    fn params_and_headers() {
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(u.params.0.len(), 2);
        let u = sip("sip:user@example.com?Route=%3Csip:sip.example.com%3E");
        assert_eq!(
            u.headers.as_deref(),
            Some("Route=%3Csip:sip.example.com%3E")
        );
        assert!(parse_uri("sip:user@example.com;;lr").is_err());
        assert!(parse_uri("sip:user@example.com:99999").is_err());
        assert!(parse_uri("sip:a%4@b").is_err());
    }

    #[test]
    fn other_schemes() {
        assert_eq!(
            parse_uri("soap.beep://192.0.2.103:3002").ok(),
            Some(Uri::Other {
                scheme: "soap.beep".into(),
                rest: "//192.0.2.103:3002".into()
            })
        );
        assert!(parse_uri("<sip:user@example.com>").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n = parse_name_addr(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>  ;  tag = 98asjd8",
        )
        .expect("wsinv from");
        assert_eq!(n.tag(), Some("98asjd8"));
        let n = parse_name_addr("caller<sip:caller@example.com>;tag=323").expect("lwsdisp");
        assert_eq!(n.display.as_deref(), Some("caller"));
        let n = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam").expect("cparam01");
        assert!(n.params.contains("unknownparam"));
        assert!(n.uri.as_sip().is_some_and(|u| u.params.is_empty()));
        assert!(parse_name_addr("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(parse_name_addr("Watson, Thomas <sip:t.watson@example.org>").is_err());
        assert!(parse_name_addr("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(parse_name_addr("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        let n = parse_name_addr(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
        )
        .expect("intmeth from");
        assert_eq!(n.display.as_deref(), Some("token1~` token2'+_ token3*%!.-"));
    }

    #[test]
    fn via_forms() {
        let mut v = Vec::new();
        parse_vias("SIP  /   2.0 /UDP     192.0.2.2;branch=390skdjuw", &mut v).expect("wsinv via");
        parse_vias("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239", &mut v).expect("wsinv v");
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(v[2].transport, "UDP");
        let mut v = Vec::new();
        assert!(parse_vias("SIP/2.0/UDP 192.0.2.15;;,;,,", &mut v).is_err());
        parse_vias(
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
            &mut v,
        )
        .expect("5118 received");
        assert_eq!(v[0].params.value("received"), Some("2001:db8::9:255"));
    }

    #[test]
    fn contact_lists() {
        let c = parse_contacts("\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam = newvalue ;  secondparam ; q = 0.33").expect("wsinv m");
        assert_eq!(c.len(), 1);
        let c = parse_contacts("<sip:a@b>, \"x, y\" <sip:c@d>;expires=60").expect("list");
        assert_eq!(c.len(), 2);
        assert_eq!(parse_contacts(" * ").ok(), Some(vec![Contact::Star]));
    }
}
