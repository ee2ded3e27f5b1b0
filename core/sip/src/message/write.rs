//! Serialisation. Content-Length is always computed from the body, never copied.

use std::fmt::{self, Write as _};

use super::{Headers, Host, NameAddr, Params, Request, Response, SipUri, Uri, Via};

pub(super) fn params(f: &mut impl fmt::Write, params: &Params) -> fmt::Result {
    for p in params.iter() {
        f.write_char(';')?;
        f.write_str(&p.name)?;
        if let Some(v) = &p.value {
            f.write_char('=')?;
            f.write_str(v)?;
        }
    }
    Ok(())
}

pub(super) fn sip_uri(f: &mut impl fmt::Write, u: &SipUri) -> fmt::Result {
    f.write_str(if u.secure { "sips:" } else { "sip:" })?;
    if let Some(user) = &u.user {
        f.write_str(user)?;
        if let Some(pw) = &u.password {
            f.write_char(':')?;
            f.write_str(pw)?;
        }
        f.write_char('@')?;
    }
    host_port(f, &u.host, u.port)?;
    params(f, &u.params)?;
    if let Some(h) = &u.headers {
        f.write_char('?')?;
        f.write_str(h)?;
    }
    Ok(())
}

fn host_port(f: &mut impl fmt::Write, host: &Host, port: Option<u16>) -> fmt::Result {
    write!(f, "{host}")?;
    if let Some(p) = port {
        write!(f, ":{p}")?;
    }
    Ok(())
}

pub(super) fn uri(f: &mut impl fmt::Write, u: &Uri) -> fmt::Result {
    match u {
        Uri::Sip(s) => sip_uri(f, s),
        Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
    }
}

pub(super) fn name_addr(f: &mut impl fmt::Write, n: &NameAddr) -> fmt::Result {
    if let Some(d) = &n.display {
        f.write_str(d)?;
        f.write_char(' ')?;
    }
    f.write_char('<')?;
    uri(f, &n.uri)?;
    f.write_char('>')?;
    params(f, &n.params)
}

pub(super) fn via(f: &mut impl fmt::Write, v: &Via) -> fmt::Result {
    f.write_str("SIP/2.0/")?;
    f.write_str(&v.transport)?;
    f.write_char(' ')?;
    host_port(f, &v.host, v.port)?;
    params(f, &v.params)
}

struct Out(String);

impl Out {
    fn header(&mut self, name: &str, value: fmt::Arguments<'_>) {
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{name}: {value}\r\n");
    }
}

#[allow(clippy::too_many_arguments)]
fn common(
    out: &mut Out,
    vias: &[Via],
    from: &NameAddr,
    to: &NameAddr,
    call_id: &str,
    cseq: &super::CSeq,
    max_forwards: Option<u32>,
    headers: &Headers,
    body: &[u8],
) -> Vec<u8> {
    for v in vias {
        out.header("Via", format_args!("{v}"));
    }
    if let Some(mf) = max_forwards {
        out.header("Max-Forwards", format_args!("{mf}"));
    }
    out.header("From", format_args!("{from}"));
    out.header("To", format_args!("{to}"));
    out.header("Call-ID", format_args!("{call_id}"));
    out.header("CSeq", format_args!("{cseq}"));
    for h in headers.iter() {
        out.header(h.name.as_str(), format_args!("{}", h.value));
    }
    out.header("Content-Length", format_args!("{}", body.len()));
    out.0.push_str("\r\n");
    let mut bytes = std::mem::take(&mut out.0).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub(super) fn request(r: &Request) -> Vec<u8> {
    let mut out = Out(String::with_capacity(512 + r.body.len()));
    let _ = write!(out.0, "{} {} SIP/2.0\r\n", r.method, r.uri);
    common(
        &mut out,
        &r.via,
        &r.from,
        &r.to,
        &r.call_id,
        &r.cseq,
        r.max_forwards,
        &r.headers,
        &r.body,
    )
}

pub(super) fn response(r: &Response) -> Vec<u8> {
    let mut out = Out(String::with_capacity(512 + r.body.len()));
    let _ = write!(out.0, "SIP/2.0 {} {}\r\n", r.status, r.reason);
    common(
        &mut out, &r.via, &r.from, &r.to, &r.call_id, &r.cseq, None, &r.headers, &r.body,
    )
}
