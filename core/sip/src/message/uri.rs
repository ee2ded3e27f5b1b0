//! URI grammar (RFC 3261 section 19.1 and 25.1, RFC 5118 for IPv6).

use super::{ParseError, Uri};

/// Parses a URI as it appears in a Request-Line or between `<` and `>`.
pub fn parse_uri(s: &str) -> Result<Uri, ParseError> {
    let _ = s;
    todo!("uri")
}

/// Decodes %-escapes (lossy for octets that are not UTF-8).
pub(super) fn unescape(s: &str) -> String {
    let _ = s;
    todo!("unescape")
}
