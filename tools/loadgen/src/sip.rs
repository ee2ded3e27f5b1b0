//! The little SIP the bench needs: string templates, a tolerant header
//! reader, MD5 digest (qop=auth), and a UDP endpoint that hands each
//! message to the task owning its Call-ID.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// One received SIP message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub text: Arc<str>,
}

impl Msg {
    /// The status code of a response, `None` for a request.
    pub fn status(&self) -> Option<u16> {
        let first = self.first_line();
        let rest = first.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&str> {
        let first = self.first_line();
        if first.starts_with("SIP/2.0") {
            return None;
        }
        first.split(' ').next()
    }

    pub fn first_line(&self) -> &str {
        self.text.split("\r\n").next().unwrap_or("")
    }

    /// Every value of a header (full or compact name), in order.
    pub fn headers<'a>(
        &'a self,
        name: &'a str,
        compact: Option<&'a str>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        head(&self.text)
            .split("\r\n")
            .skip(1)
            .filter_map(move |line| {
                let (n, v) = line.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c)))
                    .then(|| v.trim())
            })
    }

    pub fn header<'a>(&'a self, name: &'a str, compact: Option<&'a str>) -> Option<&'a str> {
        self.headers(name, compact).next()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID", Some("i"))
    }

    /// The CSeq method ("INVITE" in "2 INVITE").
    pub fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq", None)?.split_whitespace().nth(1)
    }

    /// The tag parameter of To.
    pub fn to_tag(&self) -> Option<&str> {
        tag_of(self.header("To", Some("t"))?)
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    /// The URI inside the first Contact header.
    pub fn contact_uri(&self) -> Option<&str> {
        let c = self.header("Contact", Some("m"))?;
        let start = c.find('<')? + 1;
        let end = c[start..].find('>')? + start;
        Some(&c[start..end])
    }
}

fn head(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or(text, |(h, _)| h)
}

fn tag_of(header: &str) -> Option<&str> {
    // Parameters after the closing '>' (or the whole value without brackets).
    let params = header.rsplit_once('>').map_or(header, |(_, p)| p);
    params
        .split(';')
        .find_map(|p| p.trim().strip_prefix("tag="))
}

/// The RTP address of an SDP body (c= and the audio m= port).
pub fn sdp_media(body: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for line in body.lines() {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c.trim().parse::<std::net::Ipv4Addr>().ok();
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            port = m.split_whitespace().next()?.parse::<u16>().ok();
        }
    }
    Some(SocketAddr::new(ip?.into(), port?))
}

/// An SDP offer/answer with PCMA and telephone-event 101.
pub fn sdp(session: u64, port: u16) -> String {
    format!(
        "v=0\r\no=loadgen {session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// A random hex token.
pub fn token() -> String {
    format!("{:016x}", getrandom::u64().unwrap_or(0x5eed))
}

pub fn branch() -> String {
    format!("z9hG4bK-lg{}", token())
}

/// The fields of a request we build.
#[derive(Debug, Clone)]
pub struct Req<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub local: SocketAddr,
    pub branch: &'a str,
    pub from: &'a str,
    pub from_tag: &'a str,
    pub to: &'a str,
    pub to_tag: Option<&'a str>,
    pub call_id: &'a str,
    pub cseq: u32,
    pub contact: Option<&'a str>,
    pub extra: &'a str,
    pub body: &'a str,
}

impl Req<'_> {
    pub fn render(&self) -> String {
        let to_tag = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let contact = self
            .contact
            .map(|c| format!("Contact: <{c}>\r\n"))
            .unwrap_or_default();
        let ctype = if self.body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{m} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={br};rport\r\nMax-Forwards: 70\r\n\
             From: <{from}>;tag={ft}\r\nTo: <{to}>{to_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {m}\r\n\
             {contact}{extra}User-Agent: waihu-loadgen\r\n{ctype}Content-Length: {len}\r\n\r\n{body}",
            m = self.method,
            uri = self.uri,
            local = self.local,
            br = self.branch,
            from = self.from,
            ft = self.from_tag,
            to = self.to,
            cid = self.call_id,
            cseq = self.cseq,
            extra = self.extra,
            len = self.body.len(),
            body = self.body,
        )
    }
}

/// A response to `req`: its Vias, From, Call-ID and CSeq; To with `tag`
/// added when it has none.
pub fn response(
    req: &Msg,
    status: u16,
    reason: &str,
    tag: &str,
    extra: &str,
    body: &str,
) -> String {
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for via in req.headers("Via", Some("v")) {
        out.push_str("Via: ");
        out.push_str(via);
        out.push_str("\r\n");
    }
    let to = req.header("To", Some("t")).unwrap_or("");
    let to = if tag_of(to).is_some() {
        to.to_owned()
    } else {
        format!("{to};tag={tag}")
    };
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    out.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}{ctype}Content-Length: {}\r\n\r\n{body}",
        req.header("From", Some("f")).unwrap_or(""),
        req.call_id().unwrap_or(""),
        req.header("CSeq", None).unwrap_or(""),
        body.len()
    ));
    out
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// An `Authorization` header answering the MD5 challenge of a 401.
pub fn authorization(
    challenge: &Msg,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
) -> Option<String> {
    let chal = challenge
        .headers("WWW-Authenticate", None)
        .chain(challenge.headers("Proxy-Authenticate", None))
        .find(|c| {
            let alg = param(c, "algorithm");
            alg.is_none() || alg.is_some_and(|a| a.eq_ignore_ascii_case("MD5"))
        })?;
    let proxy = challenge.header("WWW-Authenticate", None).is_none();
    let realm = param(chal, "realm")?;
    let nonce = param(chal, "nonce")?;
    let opaque = param(chal, "opaque");
    let cnonce = token();
    let nc = "00000001";
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let opaque = opaque
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    let name = if proxy {
        "Proxy-Authorization"
    } else {
        "Authorization"
    };
    Some(format!(
        "{name}: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=MD5, cnonce=\"{cnonce}\", qop=auth, nc={nc}{opaque}\r\n"
    ))
}

/// A parameter of a challenge, unquoted.
fn param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let body = header.trim_start().strip_prefix("Digest").unwrap_or(header);
    // Split on commas outside quotes.
    let mut start = 0;
    let mut quoted = false;
    let bytes = body.as_bytes();
    let mut parts = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts.into_iter().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// A UDP SIP endpoint: a reader task routes messages by Call-ID to the
/// task that registered it; others go to `unmatched`.
#[derive(Debug)]
pub struct Endpoint {
    pub sock: Arc<UdpSocket>,
    pub local: SocketAddr,
    pub server: SocketAddr,
    routes: Mutex<HashMap<String, mpsc::UnboundedSender<Msg>>>,
}

impl Endpoint {
    pub async fn bind(
        server: SocketAddr,
    ) -> anyhow::Result<(Arc<Endpoint>, mpsc::UnboundedReceiver<Msg>)> {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let local = sock.local_addr()?;
        let ep = Arc::new(Endpoint {
            sock,
            local,
            server,
            routes: Mutex::new(HashMap::new()),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = ep.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((len, _src)) = reader.sock.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(text) = std::str::from_utf8(&buf[..len]) else {
                    continue;
                };
                let msg = Msg {
                    text: Arc::from(text),
                };
                let route = msg
                    .call_id()
                    .and_then(|id| reader.routes.lock().ok()?.get(id).cloned());
                match route {
                    Some(r) => {
                        let _ = r.send(msg);
                    }
                    None => {
                        let _ = tx.send(msg);
                    }
                }
            }
        });
        Ok((ep, rx))
    }

    pub fn route(&self, call_id: &str) -> mpsc::UnboundedReceiver<Msg> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut r) = self.routes.lock() {
            r.insert(call_id.to_owned(), tx);
        }
        rx
    }

    pub fn route_to(&self, call_id: &str, tx: mpsc::UnboundedSender<Msg>) {
        if let Ok(mut r) = self.routes.lock() {
            r.insert(call_id.to_owned(), tx);
        }
    }

    pub fn unroute(&self, call_id: &str) {
        if let Ok(mut r) = self.routes.lock() {
            r.remove(call_id);
        }
    }

    pub async fn send(&self, text: &str) {
        let _ = self.sock.send_to(text.as_bytes(), self.server).await;
    }
}

/// What waiting for a response gave.
#[derive(Debug)]
pub enum Outcome {
    Final(Msg),
    Timeout,
}

/// Sends `text` and waits for the final response to it (CSeq method
/// `method`), retransmitting on T1 doubling (UDP). Requests arriving
/// meanwhile go to `on_request`. Provisional responses are skipped.
pub async fn transact(
    ep: &Endpoint,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    text: &str,
    method: &str,
    mut on_request: impl FnMut(Msg),
) -> Outcome {
    ep.send(text).await;
    let mut interval = Duration::from_millis(500);
    let mut waited = Duration::ZERO;
    let mut provisional = false;
    let limit = Duration::from_secs(32);
    while waited < limit {
        let deadline = tokio::time::Instant::now() + interval;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(msg)) => match msg.status() {
                    Some(s) if msg.cseq_method() == Some(method) => {
                        if s >= 200 {
                            return Outcome::Final(msg);
                        }
                        provisional = true;
                    }
                    Some(_) => {}
                    None => on_request(msg),
                },
                Ok(None) => return Outcome::Timeout,
                Err(_) => break,
            }
        }
        waited += interval;
        // INVITE: a provisional stops retransmissions.
        if !(method == "INVITE" && provisional) {
            ep.send(text).await;
            interval = (interval * 2).min(Duration::from_secs(4));
        }
    }
    Outcome::Timeout
}
