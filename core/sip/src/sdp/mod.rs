//! SDP (RFC 8866) parsing and writing, and the RFC 3264 offer/answer rules
//! for the one audio stream a PBX leg carries.
//!
//! Decision: our own parser rather than a crate. `webrtc-sdp` (Mozilla) is
//! MPL-2.0 and shaped around the WebRTC/JSEP subset; `sdp` (webrtc-rs)
//! enforces the RFC's line order as a state machine, which real phones do not
//! always follow; `sdp-types` is little used. What SIP phones send is a small
//! subset (v, o, s, c, t, m and a handful of attributes), and we need exact
//! control over size limits, over which inputs are 400 and which are 488, and
//! over what is tolerated, so wrapping a general model would cost more than
//! these few hundred lines.
//!
//! Leniency: the structure (v first, one o and s, well-formed c/t/m) is
//! checked strictly because a broken structure means we would guess at the
//! peer's intent; the content of attributes and any unknown line type is not,
//! because phones add vendor lines freely. A missing `t=` is tolerated (read as
//! `t=0 0`): it carries nothing for a phone call and some devices omit it. LF
//! line ends are accepted and trailing blanks trimmed. Lines we do not model
//! (i, u, e, p, b, z, k, r and unknown letters) are dropped, so a parsed
//! description writes back smaller but with the same meaning for us.

mod negotiate;
mod parse;

use std::fmt;
use std::net::IpAddr;

pub use negotiate::{LocalMedia, Negotiated, accept_answer, answer, offer};
pub use parse::parse;

/// Largest body we parse; far above any real phone's offer.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Most m-lines in one description.
pub const MAX_MEDIA: usize = 32;
/// Most formats on one m-line.
pub const MAX_FORMATS: usize = 64;
/// Most attributes at session level or in one media section.
pub const MAX_ATTRIBUTES: usize = 128;

/// Why a description was refused. [`SdpError::sip_status`] maps it to the
/// SIP response the refusal warrants.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("SDP of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("SDP line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("SDP has no {0} line")]
    Missing(&'static str),
    #[error("SDP line {line}: port {value} is out of range")]
    PortOutOfRange { line: usize, value: String },
    #[error("SDP has more than {max} media sections")]
    TooManyMedia { max: usize },
    #[error("SDP line {line}: more than {max} formats")]
    TooManyFormats { line: usize, max: usize },
    #[error("SDP line {line}: more than {max} attributes in one section")]
    TooManyAttributes { line: usize, max: usize },
    #[error("SDP offers no audio stream over RTP/AVP")]
    NoAudio,
    #[error("SDP offers no codec we support")]
    NoCommonCodec,
    #[error("SDP gives no usable connection address for the audio stream")]
    NoConnectionAddress,
    #[error("SDP answer does not match our offer: {0}")]
    AnswerMismatch(&'static str),
    #[error("SDP answer rejected the audio stream")]
    AudioRejected,
}

impl SdpError {
    /// 400 when the body is broken, 488 when it is sound but unacceptable.
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::TooLarge { .. }
            | SdpError::NotUtf8
            | SdpError::Malformed { .. }
            | SdpError::Missing(_)
            | SdpError::PortOutOfRange { .. }
            | SdpError::TooManyMedia { .. }
            | SdpError::TooManyFormats { .. }
            | SdpError::TooManyAttributes { .. } => 400,
            SdpError::NoAudio
            | SdpError::NoCommonCodec
            | SdpError::NoConnectionAddress
            | SdpError::AnswerMismatch(_)
            | SdpError::AudioRejected => 488,
        }
    }
}

/// The audio codecs waihu transcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    /// The RFC 3551 static payload type.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name as written in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    pub fn clock_rate(self) -> u32 {
        8000
    }

    fn from_static(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    fn from_rtpmap(map: &RtpMap<'_>) -> Option<Codec> {
        if map.clock_rate != 8000 || map.channels.is_some_and(|c| c != 1) {
            return None;
        }
        [Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .find(|c| map.encoding.eq_ignore_ascii_case(c.encoding_name()))
    }
}

/// Media direction from the point of view of the side that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The same stream seen from the other end.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// What both constraints allow.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    pub fn attribute_name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.eq_ignore_ascii_case(d.attribute_name()))
    }
}

/// `IP4` or `IP6` as written on `o=` and `c=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrType {
    Ip4,
    Ip6,
}

impl AddrType {
    fn of(ip: IpAddr) -> AddrType {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }

    fn token(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }
}

/// The address part of `o=` or `c=`: a literal IP, or anything else (a host
/// name, a multicast address with TTL) kept verbatim because we cannot use it
/// without IO.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    Ip(IpAddr),
    Other(String),
}

/// `IN <addrtype> <address>`; only the `IN` network type exists in practice.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Connection {
    pub addr_type: AddrType,
    pub address: Address,
}

impl Connection {
    pub fn ip(ip: IpAddr) -> Connection {
        Connection {
            addr_type: AddrType::of(ip),
            address: Address::Ip(ip),
        }
    }

    /// The literal IP, if the address is one.
    pub fn ip_addr(&self) -> Option<IpAddr> {
        match self.address {
            Address::Ip(ip) => Some(ip),
            Address::Other(_) => None,
        }
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IN {} ", self.addr_type.token())?;
        match &self.address {
            Address::Ip(ip) => write!(f, "{ip}"),
            Address::Other(s) => f.write_str(s),
        }
    }
}

/// The `o=` line. Session id and version are kept as the digit strings the
/// peer wrote: some send values wider than 64 bits, and we only compare them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub connection: Connection,
}

/// One `a=` line: `a=name` (a flag) or `a=name:value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    pub fn flag(name: &str) -> Attribute {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }

    pub fn value(name: &str, value: impl Into<String>) -> Attribute {
        Attribute {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

/// One m-line with the lines that follow it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Media {
    /// `audio`, `video`, ...
    pub kind: String,
    pub port: u16,
    /// The `/<number of ports>` suffix, when present.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `udptl`, ...
    pub proto: String,
    /// Payload type numbers for RTP; opaque tokens for other protocols.
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    pub attributes: Vec<Attribute>,
}

impl Media {
    pub fn is_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio")
    }

    pub fn is_rtp_avp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP")
    }

    /// Values of every attribute with this name (case-insensitive).
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        attribute_values(&self.attributes, name)
    }

    /// The formats that are valid RTP payload types, in offer order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt <= 127)
    }

    fn rtpmap(&self, pt: u8) -> Option<RtpMap<'_>> {
        self.attribute_values("rtpmap")
            .filter_map(RtpMap::parse)
            .find(|m| m.payload_type == pt)
    }

    /// The codec a payload type stands for: its rtpmap if it has one, else
    /// the static assignment.
    pub fn codec_of(&self, pt: u8) -> Option<Codec> {
        match self.rtpmap(pt) {
            Some(map) => Codec::from_rtpmap(&map),
            None => Codec::from_static(pt),
        }
    }

    /// The first payload type mapped to `telephone-event/8000`.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.payload_types().find(|pt| {
            self.rtpmap(*pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000
            })
        })
    }

    /// `a=ptime`, when present and plausible.
    pub fn ptime_ms(&self) -> Option<u32> {
        self.attribute_values("ptime")
            .filter_map(|v| v.trim().parse::<u32>().ok())
            .find(|ms| (1..=1000).contains(ms))
    }
}

/// A parsed session description.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sdp {
    pub origin: Origin,
    pub session_name: String,
    pub connection: Option<Connection>,
    /// `t=` start and stop; `(0, 0)` when absent.
    pub timing: (u64, u64),
    pub attributes: Vec<Attribute>,
    pub media: Vec<Media>,
}

impl Sdp {
    /// The direction a media section declares, media level over session
    /// level, sendrecv when neither says.
    pub fn direction_of(&self, media: &Media) -> Direction {
        fn find(attrs: &[Attribute]) -> Option<Direction> {
            attrs
                .iter()
                .filter(|a| a.value.is_none())
                .find_map(|a| Direction::from_attribute(&a.name))
        }
        find(&media.attributes)
            .or_else(|| find(&self.attributes))
            .unwrap_or_default()
    }

    /// The connection that applies to a media section.
    pub fn connection_of<'a>(&'a self, media: &'a Media) -> Option<&'a Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }

    pub fn session_attribute_values<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        attribute_values(&self.attributes, name)
    }
}

fn attribute_values<'a>(
    attrs: &'a [Attribute],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    attrs
        .iter()
        .filter(move |a| a.name.eq_ignore_ascii_case(name))
        .filter_map(|a| a.value.as_deref())
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
struct RtpMap<'a> {
    payload_type: u8,
    encoding: &'a str,
    clock_rate: u32,
    channels: Option<u32>,
}

impl<'a> RtpMap<'a> {
    fn parse(value: &'a str) -> Option<RtpMap<'a>> {
        let (pt, rest) = value.trim().split_once(|c: char| c.is_ascii_whitespace())?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?;
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            payload_type: pt.parse().ok()?,
            encoding,
            clock_rate,
            channels,
        })
    }
}

fn write_attributes(f: &mut fmt::Formatter<'_>, attrs: &[Attribute]) -> fmt::Result {
    for a in attrs {
        match &a.value {
            Some(v) => write!(f, "a={}:{}\r\n", a.name, v)?,
            None => write!(f, "a={}\r\n", a.name)?,
        }
    }
    Ok(())
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.connection
        )?;
        // RFC 8866 asks for a single space when there is no name; we trim it
        // back to empty on parse.
        if self.session_name.is_empty() {
            f.write_str("s= \r\n")?;
        } else {
            write!(f, "s={}\r\n", self.session_name)?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        write_attributes(f, &self.attributes)?;
        for m in &self.media {
            write!(f, "m={} {}", m.kind, m.port)?;
            if let Some(n) = m.port_count {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.proto)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            f.write_str("\r\n")?;
            if let Some(c) = &m.connection {
                write!(f, "c={c}\r\n")?;
            }
            write_attributes(f, &m.attributes)?;
        }
        Ok(())
    }
}

/// The property the `sdp` fuzz target checks, kept here so the regression
/// test replays saved inputs through the same code on stable: parsing never
/// panics, whatever parses writes back to the same description, and
/// answering it never panics and keeps one m-line per offered one.
#[doc(hidden)]
pub fn fuzz_sdp(data: &[u8]) {
    let Ok(sdp) = parse(data) else {
        return;
    };
    let text = sdp.to_string();
    match parse(text.as_bytes()) {
        Ok(again) => assert_eq!(again, sdp, "round trip changed the description:\n{text}"),
        Err(e) => panic!("written SDP does not parse: {e}\n{text}"),
    }
    let local = LocalMedia {
        addr: IpAddr::from([192, 0, 2, 1]),
        port: 4000,
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        telephone_event_pt: Some(101),
        ptime_ms: 0,
        session_id: 1,
        session_version: 1,
        direction: Direction::SendRecv,
    };
    if let Ok((ans, _)) = answer(&sdp, &local) {
        assert_eq!(
            ans.media.len(),
            sdp.media.len(),
            "answer changed m-line count"
        );
        let text = ans.to_string();
        match parse(text.as_bytes()) {
            Ok(again) => assert_eq!(again, ans, "answer round trip changed:\n{text}"),
            Err(e) => panic!("written answer does not parse: {e}\n{text}"),
        }
    }
}
