//! Cutting SIP messages out of a byte stream (TCP), RFC 3261 section 18.3:
//! a message ends Content-Length octets after the blank line. The header
//! block is bounded; a missing, repeated or malformed Content-Length is a
//! framing error and the connection must be closed.

/// What sits at the start of a stream buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes.
    Message(usize),
    /// A CRLF keep-alive (RFC 5626 section 3.5.1) of this many bytes: a
    /// double CRLF is a ping that wants a single CRLF back.
    KeepAlive { len: usize, ping: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    #[error("header block exceeds {0} bytes")]
    HeaderTooLarge(usize),
    #[error("body of {0} bytes exceeds the limit")]
    BodyTooLarge(u64),
    #[error("no Content-Length on a stream transport")]
    MissingContentLength,
    #[error("more than one Content-Length")]
    RepeatedContentLength,
    #[error("Content-Length is not a number")]
    BadContentLength,
}

/// Looks for a complete frame at the start of `buf`. `Ok(None)`: more bytes needed.
pub fn next_frame(
    buf: &[u8],
    max_header: usize,
    max_body: usize,
) -> Result<Option<Frame>, FramingError> {
    let _ = (buf, max_header, max_body);
    todo!("framing")
}
