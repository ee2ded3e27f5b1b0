//! A raw SIP client: requests built by hand, responses parsed just enough
//! to check them, over UDP or one TCP connection; and the client side of
//! digest authentication (RFC 7616, qop=auth, MD5 and SHA-256).

use std::collections::HashSet;
use std::fmt;
use std::io::{ErrorKind, Read as _, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use super::{DOMAIN, unique};

/// How long a request waits for its final response.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// A request to build. `Via` (with a fresh branch), `Max-Forwards` and
/// `Content-Length` are added by [`Request::to_bytes`].
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub from_user: String,
    pub to: String,
    pub call_id: String,
    pub cseq: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// `method` to `uri`, from and to `sip:probe@DOMAIN`, a unique Call-ID, CSeq 1.
    pub fn new(method: &str, uri: &str) -> Request {
        Request {
            method: method.to_owned(),
            uri: uri.to_owned(),
            from_user: "probe".to_owned(),
            to: format!("<sip:probe@{DOMAIN}>"),
            call_id: unique("call"),
            cseq: 1,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A REGISTER of `user` at our domain, binding a contact at `local`.
    pub fn register(user: &str, local: SocketAddr, transport: Transport) -> Request {
        let mut r = Request::new("REGISTER", &format!("sip:{DOMAIN}"));
        r.from_user = user.to_owned();
        r.to = format!("<sip:{user}@{DOMAIN}>");
        r.header(
            "Contact",
            &format!(
                "<sip:{user}@{local};transport={}>",
                transport.via_token().to_lowercase()
            ),
        )
        .header("Expires", "600")
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The next request of the same call: same Call-ID and From tag, CSeq + 1.
    pub fn next(&self) -> Request {
        Request {
            cseq: self.cseq + 1,
            ..self.clone()
        }
    }

    pub fn to_bytes(&self, transport: Transport, local: SocketAddr) -> Vec<u8> {
        let mut m = format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {local};branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{from}@{DOMAIN}>;tag={tag}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n",
            method = self.method,
            uri = self.uri,
            transport = transport.via_token(),
            branch = unique("b"),
            from = self.from_user,
            tag = short_hash(&self.call_id),
            to = self.to,
            call_id = self.call_id,
            cseq = self.cseq,
        );
        for (name, value) in &self.headers {
            m.push_str(&format!("{name}: {value}\r\n"));
        }
        m.push_str(&format!(
            "Content-Length: {}\r\n\r\n{}",
            self.body.len(),
            self.body
        ));
        m.into_bytes()
    }
}

fn short_hash(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes())[..6])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A parsed response. Header names are kept as sent; look-ups ignore case
/// and know the compact forms.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub raw: Vec<u8>,
}

impl Response {
    /// Parses one complete response; `None` for a request or garbage.
    pub fn parse(raw: &[u8]) -> Option<Response> {
        let (head, body_start) = split_head(raw)?;
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let status_line = lines.next()?.to_owned();
        let mut parts = status_line.splitn(3, ' ');
        if parts.next()? != "SIP/2.0" {
            return None;
        }
        let status = parts.next()?.parse().ok()?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                continue;
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        Some(Response {
            status,
            status_line,
            headers,
            body: raw[body_start..].to_vec(),
            raw: raw.to_vec(),
        })
    }

    /// Every value of a header, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| same_header(n, name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    /// The comma-separated tokens of every value of a header, trimmed.
    pub fn tokens(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, String)> {
        let v = self.header("CSeq")?;
        let (n, m) = v.split_once(char::is_whitespace)?;
        Some((n.parse().ok()?, m.trim().to_owned()))
    }

    /// The digest challenges of a 401 (or 407).
    pub fn challenges(&self) -> Vec<Challenge> {
        self.all("WWW-Authenticate")
            .into_iter()
            .chain(self.all("Proxy-Authenticate"))
            .filter_map(Challenge::parse)
            .collect()
    }

    /// The challenge for `algorithm`, or a test failure.
    pub fn challenge(&self, algorithm: &str) -> Challenge {
        self.challenges()
            .into_iter()
            .find(|c| c.algorithm.eq_ignore_ascii_case(algorithm))
            .unwrap_or_else(|| panic!("no {algorithm} challenge in\n{self}"))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.raw))
    }
}

const COMPACT: &[(&str, &str)] = &[
    ("i", "call-id"),
    ("v", "via"),
    ("f", "from"),
    ("t", "to"),
    ("m", "contact"),
    ("l", "content-length"),
    ("c", "content-type"),
    ("k", "supported"),
    ("e", "content-encoding"),
];

fn same_header(a: &str, b: &str) -> bool {
    let long = |n: &str| {
        let n = n.to_ascii_lowercase();
        COMPACT
            .iter()
            .find(|(short, _)| *short == n)
            .map_or(n.clone(), |(_, long)| (*long).to_owned())
    };
    long(a) == long(b)
}

/// The header block and where the body starts, if the blank line has arrived.
fn split_head(raw: &[u8]) -> Option<(&[u8], usize)> {
    let crlf = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    let lf = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let (end, body) = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((&raw[..end], body))
}

/// The length of the first complete message in a stream buffer, if any.
fn frame(buf: &[u8]) -> Option<usize> {
    let (head, body_start) = split_head(buf)?;
    let head = String::from_utf8_lossy(head);
    let length: usize = head
        .split('\n')
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| same_header(n.trim(), "Content-Length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= body_start + length).then_some(body_start + length)
}

/// One digest challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub algorithm: String,
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub qop: Option<String>,
    pub stale: bool,
    /// Every parameter, nonce included, as (lower-case name, value).
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn parse(value: &str) -> Option<Challenge> {
        let rest = value.trim().strip_prefix("Digest")?;
        let params = auth_params(rest);
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        Some(Challenge {
            algorithm: get("algorithm").unwrap_or_else(|| "MD5".to_owned()),
            realm: get("realm")?,
            nonce: get("nonce")?,
            opaque: get("opaque"),
            qop: get("qop"),
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            params,
        })
    }

    /// The `Authorization` value answering this challenge (qop=auth).
    pub fn authorize(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
    ) -> String {
        let h = |s: String| -> String {
            if self.algorithm.eq_ignore_ascii_case("SHA-256") {
                hex(&Sha256::digest(s.as_bytes()))
            } else {
                assert!(
                    self.algorithm.eq_ignore_ascii_case("MD5"),
                    "algorithm {}",
                    self.algorithm
                );
                hex(&Md5::digest(s.as_bytes()))
            }
        };
        let cnonce = short_hash(&unique("cnonce"));
        let nc = format!("{nc:08x}");
        let ha1 = h(format!("{user}:{}:{password}", self.realm));
        let ha2 = h(format!("{method}:{uri}"));
        let response = h(format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce));
        let mut v = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             algorithm={}, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\"",
            self.realm, self.nonce, self.algorithm
        );
        if let Some(opaque) = &self.opaque {
            v.push_str(&format!(", opaque=\"{opaque}\""));
        }
        v
    }
}

/// `name=value` pairs separated by commas, values optionally quoted.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    for part in parts {
        if let Some((n, v)) = part.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            out.push((n.trim().to_ascii_lowercase(), v.to_owned()));
        }
    }
    out
}

/// What a read from the server produced.
#[derive(Debug)]
pub enum Read {
    Message(Vec<u8>),
    /// The server closed the connection (TCP only).
    Closed,
    /// Nothing within the time allowed.
    Silent,
}

/// A client socket towards the server's SIP port.
#[derive(Debug)]
pub enum Peer {
    Udp {
        socket: UdpSocket,
        server: SocketAddr,
        /// Datagrams seen so far, to recognise retransmissions.
        seen: HashSet<Vec<u8>>,
        received: u64,
    },
    Tcp {
        stream: TcpStream,
        buf: Vec<u8>,
        closed: bool,
        received: u64,
    },
}

impl Peer {
    pub fn connect(transport: Transport, server: SocketAddr) -> Peer {
        match transport {
            Transport::Udp => {
                let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP client socket");
                Peer::Udp {
                    socket,
                    server,
                    seen: HashSet::new(),
                    received: 0,
                }
            }
            Transport::Tcp => {
                let stream = TcpStream::connect_timeout(&server, ANSWER_TIMEOUT)
                    .unwrap_or_else(|e| panic!("connecting to {server}: {e}"));
                stream.set_nodelay(true).expect("TCP_NODELAY");
                Peer::Tcp {
                    stream,
                    buf: Vec::new(),
                    closed: false,
                    received: 0,
                }
            }
        }
    }

    pub fn transport(&self) -> Transport {
        match self {
            Peer::Udp { .. } => Transport::Udp,
            Peer::Tcp { .. } => Transport::Tcp,
        }
    }

    pub fn local(&self) -> SocketAddr {
        match self {
            Peer::Udp { socket, .. } => socket.local_addr(),
            Peer::Tcp { stream, .. } => stream.local_addr(),
        }
        .expect("local address")
    }

    /// Every message read so far, retransmissions included.
    pub fn received(&self) -> u64 {
        match self {
            Peer::Udp { received, .. } | Peer::Tcp { received, .. } => *received,
        }
    }

    /// Sends bytes as they are: one datagram, or a write on the connection.
    /// A TCP write the server refuses (it closed first) is not an error here:
    /// the next read reports `Closed`.
    pub fn send(&mut self, bytes: &[u8]) {
        match self {
            Peer::Udp { socket, server, .. } => {
                socket.send_to(bytes, *server).expect("sending a datagram");
            }
            Peer::Tcp { stream, closed, .. } => {
                if stream.write_all(bytes).is_err() {
                    *closed = true;
                }
            }
        }
    }

    /// The next message that is not a retransmission of one already read
    /// (UDP), waiting at most `timeout`.
    pub fn read(&mut self, timeout: Duration) -> Read {
        let deadline = Instant::now() + timeout;
        match self {
            Peer::Udp {
                socket,
                seen,
                received,
                ..
            } => {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Read::Silent;
                    }
                    socket.set_read_timeout(Some(left)).expect("read timeout");
                    match socket.recv_from(&mut buf) {
                        Ok((n, _)) => {
                            *received += 1;
                            let d = buf[..n].to_vec();
                            if seen.insert(d.clone()) {
                                return Read::Message(d);
                            }
                        }
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            return Read::Silent;
                        }
                        Err(e) => panic!("receiving a datagram: {e}"),
                    }
                }
            }
            Peer::Tcp {
                stream,
                buf,
                closed,
                received,
            } => loop {
                if let Some(n) = frame(buf) {
                    *received += 1;
                    return Read::Message(buf.drain(..n).collect());
                }
                if *closed {
                    return Read::Closed;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Read::Silent;
                }
                stream.set_read_timeout(Some(left)).expect("read timeout");
                let mut chunk = [0u8; 16_384];
                match stream.read(&mut chunk) {
                    Ok(0) => *closed = true,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        return Read::Silent;
                    }
                    Err(_) => *closed = true,
                }
            },
        }
    }

    /// Sends `request` and returns its final response (provisional ones and
    /// answers to other requests are skipped), or `None` after [`ANSWER_TIMEOUT`].
    pub fn exchange(&mut self, request: &Request) -> Option<Response> {
        let bytes = request.to_bytes(self.transport(), self.local());
        self.send(&bytes);
        self.final_response(&request.call_id, request.cseq, ANSWER_TIMEOUT)
    }

    /// Waits for the final response to the request with this Call-ID and CSeq.
    pub fn final_response(
        &mut self,
        call_id: &str,
        cseq: u32,
        timeout: Duration,
    ) -> Option<Response> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read(left) {
                Read::Message(raw) => {
                    let Some(r) = Response::parse(&raw) else {
                        continue;
                    };
                    let ours = r.call_id() == Some(call_id) && r.cseq().map(|c| c.0) == Some(cseq);
                    if ours && r.status >= 200 {
                        return Some(r);
                    }
                }
                Read::Closed | Read::Silent => return None,
            }
        }
    }

    /// Sends the request with credentials answering `challenge`.
    pub fn exchange_authorized(
        &mut self,
        request: &Request,
        challenge: &Challenge,
        user: &str,
        password: &str,
    ) -> Option<Response> {
        let auth = challenge.authorize(user, password, &request.method, &request.uri, 1);
        self.exchange(&request.clone().header("Authorization", &auth))
    }
}
