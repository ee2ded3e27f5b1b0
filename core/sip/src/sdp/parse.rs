//! Text to [`Sdp`]. One pass over the lines; session lines until the first
//! m-line, media lines after.

use std::net::IpAddr;

use super::{
    AddrType, Address, Attribute, Connection, MAX_ATTRIBUTES, MAX_FORMATS, MAX_MEDIA,
    MAX_SDP_BYTES, Media, Origin, Sdp, SdpError,
};

/// Parses a session description.
pub fn parse(bytes: &[u8]) -> Result<Sdp, SdpError> {
    if bytes.len() > MAX_SDP_BYTES {
        return Err(SdpError::TooLarge {
            len: bytes.len(),
            max: MAX_SDP_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;

    let mut seen_version = false;
    let mut origin = None;
    let mut session_name = None;
    let mut connection = None;
    let mut timing = None;
    let mut attributes = Vec::new();
    let mut media: Vec<Media> = Vec::new();

    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let malformed = |reason| SdpError::Malformed {
            line: line_no,
            reason,
        };
        let line = raw.trim_end_matches(['\r', ' ', '\t']);
        if line.is_empty() {
            continue;
        }
        // RFC 8866 text excludes NUL and CR; echoing either back would be
        // asking for trouble in whatever reads our answer.
        if line.contains(['\0', '\r']) {
            return Err(malformed("NUL or bare CR in line"));
        }
        let mut chars = line.chars();
        let (Some(kind), Some('=')) = (chars.next(), chars.next()) else {
            return Err(malformed("line is not <type>=<value>"));
        };
        let value = chars.as_str();

        if !seen_version {
            if kind != 'v' {
                return Err(malformed("first line is not v="));
            }
            if value.trim() != "0" {
                return Err(malformed("unsupported SDP version"));
            }
            seen_version = true;
            continue;
        }

        match kind {
            'v' => return Err(malformed("second v= line")),
            'm' => {
                if media.len() >= MAX_MEDIA {
                    return Err(SdpError::TooManyMedia { max: MAX_MEDIA });
                }
                media.push(parse_media(value, line_no)?);
            }
            'a' => {
                let Some(attr) = parse_attribute(value) else {
                    continue;
                };
                let list = match media.last_mut() {
                    Some(m) => &mut m.attributes,
                    None => &mut attributes,
                };
                if list.len() >= MAX_ATTRIBUTES {
                    return Err(SdpError::TooManyAttributes {
                        line: line_no,
                        max: MAX_ATTRIBUTES,
                    });
                }
                list.push(attr);
            }
            'c' => {
                let c = parse_connection(value, line_no)?;
                let slot = match media.last_mut() {
                    Some(m) => &mut m.connection,
                    None => &mut connection,
                };
                // Several c= lines only occur for layered multicast, which a
                // phone never sends; the first one is the one we would use.
                if slot.is_none() {
                    *slot = Some(c);
                }
            }
            'o' if media.is_empty() => {
                if origin.is_some() {
                    return Err(malformed("second o= line"));
                }
                origin = Some(parse_origin(value, line_no)?);
            }
            's' if media.is_empty() => {
                if session_name.is_some() {
                    return Err(malformed("second s= line"));
                }
                session_name = Some(value.to_owned());
            }
            't' if media.is_empty() => {
                // Repeated t= lines describe further active periods; a call
                // has one, and only the first is kept.
                let t = parse_timing(value, line_no)?;
                timing.get_or_insert(t);
            }
            'o' | 's' | 't' => return Err(malformed("session-level line inside a media section")),
            _ => {}
        }
    }

    if !seen_version {
        return Err(SdpError::Missing("v="));
    }
    // RFC 8866 allows a session without media, but in a call it can only be
    // a broken or truncated body, and answering it would set up nothing.
    if media.is_empty() {
        return Err(SdpError::Missing("m="));
    }
    Ok(Sdp {
        origin: origin.ok_or(SdpError::Missing("o="))?,
        session_name: session_name.ok_or(SdpError::Missing("s="))?,
        connection,
        timing: timing.unwrap_or((0, 0)),
        attributes,
        media,
    })
}

fn parse_attribute(value: &str) -> Option<Attribute> {
    let (name, value) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v.to_owned())),
        None => (value, None),
    };
    // An attribute without a name says nothing; dropping it is kinder than
    // refusing the call.
    if name.is_empty() {
        return None;
    }
    Some(Attribute {
        name: name.to_owned(),
        value,
    })
}

fn parse_connection(value: &str, line: usize) -> Result<Connection, SdpError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [net, addr_type, address] = fields[..] else {
        return Err(SdpError::Malformed {
            line,
            reason: "c= needs network type, address type and address",
        });
    };
    connection_fields(net, addr_type, address, line)
}

fn connection_fields(
    net: &str,
    addr_type: &str,
    address: &str,
    line: usize,
) -> Result<Connection, SdpError> {
    let malformed = |reason| SdpError::Malformed { line, reason };
    if !net.eq_ignore_ascii_case("IN") {
        return Err(malformed("network type is not IN"));
    }
    let addr_type = if addr_type.eq_ignore_ascii_case("IP4") {
        AddrType::Ip4
    } else if addr_type.eq_ignore_ascii_case("IP6") {
        AddrType::Ip6
    } else {
        return Err(malformed("address type is neither IP4 nor IP6"));
    };
    let address = match address.parse::<IpAddr>() {
        Ok(ip) if AddrType::of(ip) != addr_type => {
            return Err(malformed("address does not match its address type"));
        }
        Ok(ip) => Address::Ip(ip),
        Err(_) => Address::Other(address.to_owned()),
    };
    Ok(Connection { addr_type, address })
}

fn parse_origin(value: &str, line: usize) -> Result<Origin, SdpError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [
        username,
        session_id,
        session_version,
        net,
        addr_type,
        address,
    ] = fields[..]
    else {
        return Err(SdpError::Malformed {
            line,
            reason: "o= needs six fields",
        });
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(session_id) || !digits(session_version) {
        return Err(SdpError::Malformed {
            line,
            reason: "o= session id and version must be numbers",
        });
    }
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version: session_version.to_owned(),
        connection: connection_fields(net, addr_type, address, line)?,
    })
}

fn parse_timing(value: &str, line: usize) -> Result<(u64, u64), SdpError> {
    let mut fields = value
        .split_ascii_whitespace()
        .map(|f| f.parse::<u64>().ok());
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Some(start)), Some(Some(stop)), None) => Ok((start, stop)),
        _ => Err(SdpError::Malformed {
            line,
            reason: "t= needs two numbers",
        }),
    }
}

fn parse_port(s: &str, line: usize) -> Result<u16, SdpError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SdpError::Malformed {
            line,
            reason: "port is not a number",
        });
    }
    s.parse::<u16>().map_err(|_| SdpError::PortOutOfRange {
        line,
        value: s.chars().take(20).collect(),
    })
}

fn parse_media(value: &str, line: usize) -> Result<Media, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(SdpError::Malformed {
            line,
            reason: "m= needs media, port, protocol and formats",
        });
    };
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => {
            let n = parse_port(n, line)?;
            if n == 0 {
                return Err(SdpError::Malformed {
                    line,
                    reason: "zero port count",
                });
            }
            (parse_port(p, line)?, Some(n))
        }
        None => (parse_port(port, line)?, None),
    };
    let mut formats = Vec::new();
    for f in fields {
        if formats.len() >= MAX_FORMATS {
            return Err(SdpError::TooManyFormats {
                line,
                max: MAX_FORMATS,
            });
        }
        formats.push(f.to_owned());
    }
    Ok(Media {
        kind: kind.to_owned(),
        port,
        port_count,
        proto: proto.to_owned(),
        formats,
        connection: None,
        attributes: Vec::new(),
    })
}
