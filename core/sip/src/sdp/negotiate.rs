//! RFC 3264 offer/answer for one audio stream.
//!
//! Hold by `c=0.0.0.0` (RFC 2543 style, RFC 3264 section 8.4): the peer asks
//! not to be sent media but may still send. We read it as the peer's
//! direction narrowed to sendonly, so our side becomes at most recvonly, and
//! report no remote address, since 0.0.0.0 is not somewhere to send to. The
//! same applies to the IPv6 unspecified address `::`.

use std::net::{IpAddr, SocketAddr};

use super::{Attribute, Codec, Connection, Direction, Media, Origin, Sdp, SdpError};

/// What we bring to a negotiation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// Where we receive RTP.
    pub addr: IpAddr,
    pub port: u16,
    /// Codecs we accept, our preference first.
    pub codecs: Vec<Codec>,
    /// Payload type we offer for `telephone-event/8000`; `None` disables it.
    pub telephone_event_pt: Option<u8>,
    /// Packetisation we ask for; 0 means no preference (we follow theirs).
    pub ptime_ms: u32,
    pub session_id: u64,
    /// Must grow with every new description within one session.
    pub session_version: u64,
    /// What we are willing to do (e.g. `SendOnly` when we hold).
    pub direction: Direction,
}

/// The outcome of a negotiation, for the media engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP; `None` when the peer holds with 0.0.0.0.
    pub remote: Option<SocketAddr>,
    pub codec: Codec,
    /// The payload type to send the codec with.
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    pub ptime_ms: u32,
    /// Our direction.
    pub direction: Direction,
}

const DEFAULT_PTIME_MS: u32 = 20;
/// Events 0-15 are DTMF digits, 16 is flash; what phones commonly offer.
const TELEPHONE_EVENTS: &str = "0-16";
const SESSION_NAME: &str = "waihu";

fn origin(local: &LocalMedia) -> Origin {
    Origin {
        username: "-".to_owned(),
        session_id: local.session_id.to_string(),
        session_version: local.session_version.to_string(),
        connection: Connection::ip(local.addr),
    }
}

/// The m-line attributes describing our audio: rtpmaps for each format
/// (static ones too, for peers that expect them), telephone-event, ptime,
/// direction.
fn audio_attributes(
    formats: &[(u8, Codec)],
    te: Option<u8>,
    ptime_ms: u32,
    direction: Direction,
) -> Vec<Attribute> {
    let mut attrs: Vec<Attribute> = formats
        .iter()
        .map(|(pt, c)| {
            Attribute::value(
                "rtpmap",
                format!("{pt} {}/{}", c.encoding_name(), c.clock_rate()),
            )
        })
        .collect();
    if let Some(pt) = te {
        attrs.push(Attribute::value(
            "rtpmap",
            format!("{pt} telephone-event/8000"),
        ));
        attrs.push(Attribute::value("fmtp", format!("{pt} {TELEPHONE_EVENTS}")));
    }
    if ptime_ms != 0 {
        attrs.push(Attribute::value("ptime", ptime_ms.to_string()));
    }
    attrs.push(Attribute::flag(direction.attribute_name()));
    attrs
}

fn audio_media(
    local: &LocalMedia,
    proto: &str,
    formats: &[(u8, Codec)],
    te: Option<u8>,
    ptime_ms: u32,
    direction: Direction,
) -> Media {
    let mut fmts: Vec<String> = formats.iter().map(|(pt, _)| pt.to_string()).collect();
    fmts.extend(te.map(|pt| pt.to_string()));
    Media {
        kind: "audio".to_owned(),
        port: local.port,
        port_count: None,
        proto: proto.to_owned(),
        formats: fmts,
        connection: None,
        attributes: audio_attributes(formats, te, ptime_ms, direction),
    }
}

/// Our offer for an outgoing call: one audio stream with our codecs in our
/// order, on their static payload types.
pub fn offer(local: &LocalMedia) -> Sdp {
    let mut formats: Vec<(u8, Codec)> = Vec::new();
    for c in &local.codecs {
        if !formats.iter().any(|(_, have)| have == c) {
            formats.push((c.static_payload_type(), *c));
        }
    }
    // A telephone-event payload type that collides with a codec's would make
    // the offer ambiguous; drop the event rather than offer nonsense.
    let te = local
        .telephone_event_pt
        .filter(|pt| *pt <= 127 && !formats.iter().any(|(f, _)| f == pt));
    Sdp {
        origin: origin(local),
        session_name: SESSION_NAME.to_owned(),
        connection: Some(Connection::ip(local.addr)),
        timing: (0, 0),
        attributes: Vec::new(),
        media: vec![audio_media(
            local,
            "RTP/AVP",
            &formats,
            te,
            local.ptime_ms,
            local.direction,
        )],
    }
}

/// The peer's direction as it bears on us, with 0.0.0.0 hold folded in, and
/// the address to send to.
fn remote_view(sdp: &Sdp, media: &Media) -> Result<(Direction, Option<SocketAddr>), SdpError> {
    let ip = sdp
        .connection_of(media)
        .and_then(Connection::ip_addr)
        .ok_or(SdpError::NoConnectionAddress)?;
    let declared = sdp.direction_of(media);
    if ip.is_unspecified() {
        Ok((declared.intersect(Direction::SendOnly), None))
    } else {
        Ok((declared, Some(SocketAddr::new(ip, media.port))))
    }
}

fn rejected(m: &Media) -> Media {
    Media {
        kind: m.kind.clone(),
        port: 0,
        port_count: None,
        proto: m.proto.clone(),
        formats: m.formats.clone(),
        connection: None,
        attributes: Vec::new(),
    }
}

/// The first codec of ours in the offerer's order, with its payload type.
fn pick_codec(m: &Media, ours: &[Codec]) -> Option<(u8, Codec)> {
    m.payload_types()
        .find_map(|pt| m.codec_of(pt).filter(|c| ours.contains(c)).map(|c| (pt, c)))
}

/// Answers an offer: accepts the first RTP/AVP audio stream that shares a
/// codec with us and rejects every other m-line with port 0, keeping their
/// number and order (RFC 3264 section 6).
///
/// Only the chosen codec (and telephone-event) is listed in the answer, so the
/// peer cannot switch codecs mid-call and the media path stays single-codec.
pub fn answer(offer: &Sdp, local: &LocalMedia) -> Result<(Sdp, Negotiated), SdpError> {
    let mut chosen: Option<(usize, u8, Codec)> = None;
    let mut saw_audio = false;
    for (i, m) in offer.media.iter().enumerate() {
        if m.is_audio() && m.is_rtp_avp() && m.port != 0 {
            saw_audio = true;
            if let Some((pt, codec)) = pick_codec(m, &local.codecs) {
                chosen = Some((i, pt, codec));
                break;
            }
        }
    }
    let Some((index, payload_type, codec)) = chosen else {
        return Err(if saw_audio {
            SdpError::NoCommonCodec
        } else {
            SdpError::NoAudio
        });
    };
    let Some(theirs) = offer.media.get(index) else {
        return Err(SdpError::NoAudio);
    };
    let (their_direction, remote) = remote_view(offer, theirs)?;
    let direction = their_direction.reverse().intersect(local.direction);
    let te = local.telephone_event_pt.and(theirs.telephone_event_pt());
    let ptime_ms = if local.ptime_ms != 0 {
        local.ptime_ms
    } else {
        theirs.ptime_ms().unwrap_or(DEFAULT_PTIME_MS)
    };

    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == index {
                audio_media(
                    local,
                    &m.proto,
                    &[(payload_type, codec)],
                    te,
                    ptime_ms,
                    direction,
                )
            } else {
                rejected(m)
            }
        })
        .collect();
    let sdp = Sdp {
        origin: origin(local),
        session_name: SESSION_NAME.to_owned(),
        connection: Some(Connection::ip(local.addr)),
        // RFC 3264 section 6: the answer's t= equals the offer's.
        timing: offer.timing,
        attributes: Vec::new(),
        media,
    };
    Ok((
        sdp,
        Negotiated {
            remote,
            codec,
            payload_type,
            telephone_event_pt: te,
            ptime_ms,
            direction,
        },
    ))
}

/// Reads the answer to our [`offer`]: the codec is the first format in the
/// answer that we offered.
pub fn accept_answer(local: &LocalMedia, answer: &Sdp) -> Result<Negotiated, SdpError> {
    let [m] = &answer.media[..] else {
        return Err(SdpError::AnswerMismatch(
            "our offer had one m-line; the answer must too",
        ));
    };
    if !m.is_audio() {
        return Err(SdpError::AnswerMismatch("the answered m-line is not audio"));
    }
    if m.port == 0 {
        return Err(SdpError::AudioRejected);
    }
    let (payload_type, codec) = pick_codec(m, &local.codecs).ok_or(SdpError::NoCommonCodec)?;
    let (their_direction, remote) = remote_view(answer, m)?;
    let te = local.telephone_event_pt.and(m.telephone_event_pt());
    let ptime_ms = if local.ptime_ms != 0 {
        local.ptime_ms
    } else {
        m.ptime_ms().unwrap_or(DEFAULT_PTIME_MS)
    };
    Ok(Negotiated {
        remote,
        codec,
        payload_type,
        telephone_event_pt: te,
        ptime_ms,
        direction: their_direction.reverse().intersect(local.direction),
    })
}
