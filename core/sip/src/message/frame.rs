//! Cutting SIP messages out of a byte stream (TCP), RFC 3261 section 18.3:
//! a message ends Content-Length octets after the blank line. The header
//! block is bounded; a missing, repeated or malformed Content-Length is a
//! framing error and the connection must be closed, because nothing after it
//! can be trusted to start a message.

/// What sits at the start of a stream buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes.
    Message(usize),
    /// CRLF keep-alive bytes (RFC 5626 section 3.5.1): a double CRLF is a
    /// ping that wants a single CRLF back.
    KeepAlive { len: usize, ping: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    #[error("header block exceeds {0} bytes")]
    HeaderTooLarge(usize),
    #[error("body of {0} bytes exceeds the limit")]
    BodyTooLarge(usize),
    #[error("no Content-Length on a stream transport")]
    MissingContentLength,
    #[error("more than one Content-Length")]
    RepeatedContentLength,
    #[error("Content-Length is not a number")]
    BadContentLength,
}

/// Looks for a complete frame at the start of `buf`. `Ok(None)`: more bytes needed.
///
/// Only the framing is checked here (check-then-parse): the frame is handed
/// to [`super::parse`] afterwards.
pub fn next_frame(
    buf: &[u8],
    max_header: usize,
    max_body: usize,
) -> Result<Option<Frame>, FramingError> {
    let crlfs = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if crlfs > 0 {
        if crlfs == buf.len() && crlfs < 4 && !buf.starts_with(b"\r\n\r\n") {
            // Could still grow into a double-CRLF ping.
            if buf == b"\r\n" || buf == b"\r" || buf == b"\r\n\r" {
                return Ok(None);
            }
        }
        let ping = buf.starts_with(b"\r\n\r\n");
        let len = if ping { 4 } else { crlfs.min(2) };
        return Ok(Some(Frame::KeepAlive { len, ping }));
    }
    let search = &buf[..buf.len().min(max_header + 4)];
    let Some((head_end, body_start)) = find_blank_line(search) else {
        if buf.len() > max_header {
            return Err(FramingError::HeaderTooLarge(max_header));
        }
        return Ok(None);
    };
    if head_end > max_header {
        return Err(FramingError::HeaderTooLarge(max_header));
    }
    // NUL and other control octets may sit in quoted strings (RFC 4475
    // intmeth): judging them is the parser's job, not the framer's.
    let len = content_length(&buf[..head_end])?;
    if len > max_body {
        return Err(FramingError::BodyTooLarge(len));
    }
    let total = body_start + len;
    Ok((buf.len() >= total).then_some(Frame::Message(total)))
}

fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' {
            if buf[i + 1] == b'\n' {
                return Some((i, i + 2));
            }
            if buf[i + 1] == b'\r' && buf.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// The Content-Length of a header block (`Content-Length` or compact `l`).
/// Folded Content-Length lines are not supported: they are refused as malformed.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found = None;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = trim(&line[colon + 1..]);
        if value.is_empty() || value.len() > 9 || !value.iter().all(u8::is_ascii_digit) {
            return Err(FramingError::BadContentLength);
        }
        let n = value
            .iter()
            .fold(0usize, |acc, &d| acc * 10 + usize::from(d - b'0'));
        if found.replace(n).is_some() {
            return Err(FramingError::RepeatedContentLength);
        }
    }
    found.ok_or(FramingError::MissingContentLength)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhelloNEXT";

    #[test]
    fn whole_message_and_partial() {
        assert_eq!(
            next_frame(MSG, 1024, 1024),
            Ok(Some(Frame::Message(MSG.len() - 4)))
        );
        assert_eq!(next_frame(&MSG[..20], 1024, 1024), Ok(None));
        assert_eq!(next_frame(&MSG[..MSG.len() - 6], 1024, 1024), Ok(None));
    }

    #[test]
    fn keepalives() {
        assert_eq!(
            next_frame(b"\r\n\r\nOPTIONS", 1024, 1024),
            Ok(Some(Frame::KeepAlive { len: 4, ping: true }))
        );
        assert_eq!(next_frame(b"\r\n", 1024, 1024), Ok(None));
        assert_eq!(
            next_frame(b"\r\nINVITE", 1024, 1024),
            Ok(Some(Frame::KeepAlive {
                len: 2,
                ping: false
            }))
        );
    }

    #[test]
    fn bad_lengths_are_errors() {
        let neg = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n";
        assert_eq!(
            next_frame(neg, 1024, 1024),
            Err(FramingError::BadContentLength)
        );
        let two = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 5\r\nl: 13\r\n\r\n";
        assert_eq!(
            next_frame(two, 1024, 1024),
            Err(FramingError::RepeatedContentLength)
        );
        let none = b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(
            next_frame(none, 1024, 1024),
            Err(FramingError::MissingContentLength)
        );
        let big = b"INVITE sip:a@b SIP/2.0\r\nl: 999999\r\n\r\n";
        assert_eq!(
            next_frame(big, 1024, 1024),
            Err(FramingError::BodyTooLarge(999_999))
        );
        let long = vec![b'a'; 5000];
        assert_eq!(
            next_frame(&long, 1024, 1024),
            Err(FramingError::HeaderTooLarge(1024))
        );
    }
}
