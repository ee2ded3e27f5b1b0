//! Tokenising and validating one SIP message.

use super::{Message, Method};

/// Size bounds applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_message: usize,
    pub max_headers: usize,
    pub max_header_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: 65_535,
            max_headers: 128,
            max_header_line: 8_192,
        }
    }
}

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("not a SIP message")]
    NotSip,
    #[error("message exceeds size limits")]
    TooLarge,
}

/// A message that could not be accepted, with what is needed to answer it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{error}")]
pub struct Malformed {
    pub error: ParseError,
}

impl Malformed {
    /// The status to answer with, or `None` when the message must be dropped.
    pub fn status(&self) -> Option<u16> {
        todo!()
    }

    /// A serialised error response, when the message was a request and enough
    /// of it was readable to address one.
    pub fn reply(&self, server: &str) -> Option<Vec<u8>> {
        let _ = server;
        todo!()
    }
}

pub fn parse(bytes: &[u8]) -> Result<Message, Malformed> {
    parse_with_limits(bytes, &Limits::default())
}

pub fn parse_with_limits(bytes: &[u8], limits: &Limits) -> Result<Message, Malformed> {
    let _ = (bytes, limits);
    todo!()
}

pub(super) fn method_from_token(token: &str) -> Option<Method> {
    let _ = token;
    todo!()
}
