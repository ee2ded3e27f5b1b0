//! How requests and responses find their transaction (RFC 3261 17.1.3,
//! 17.2.3 and 9.2), as hashable keys so every lookup is one map probe.

use crate::message::{BRANCH_COOKIE, Method, Request, Response, Via};

/// The key of a client transaction: top-Via branch and CSeq method
/// (17.1.3). The method keeps an INVITE and its CANCEL apart: they share a branch.
pub(super) type ClientMatch = (String, Method);

pub(super) fn client_match(response: &Response) -> Option<ClientMatch> {
    let branch = response.via.first()?.branch()?;
    Some((branch.to_owned(), response.cseq.method.clone()))
}

/// A branch that makes 17.1.3 matching work: the cookie and something after it.
pub(super) fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > BRANCH_COOKIE.len() && branch.starts_with(BRANCH_COOKIE)
}

/// The key of a server transaction (17.2.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum ServerMatch {
    /// RFC 3261 peers: branch, sent-by and method, an ACK counting as INVITE.
    Branch {
        branch: String,
        host: String,
        port: u16,
        method: Method,
    },
    /// RFC 2543 peers (no magic cookie): Request-URI, tags, Call-ID, CSeq and
    /// the whole top Via. For an ACK the To tag is the one of the response
    /// being acknowledged, so an INVITE transaction that answered with a
    /// tag is indexed under both its request's and its response's To tag.
    Legacy {
        uri: String,
        to_tag: Option<String>,
        from_tag: Option<String>,
        call_id: String,
        seq: u32,
        method: Method,
        via: String,
    },
}

/// The key `request` matches, with its method counted as `method`. `None`
/// for a request without a Via (never the case for a parsed one).
pub(super) fn server_match_as(request: &Request, method: Method) -> Option<ServerMatch> {
    let via = request.via.first()?;
    match via.branch() {
        Some(branch) if is_rfc3261_branch(branch) => Some(ServerMatch::Branch {
            branch: branch.to_owned(),
            host: via.host.to_string().to_ascii_lowercase(),
            port: via.port.unwrap_or_else(|| default_port(via)),
            method,
        }),
        _ => Some(ServerMatch::Legacy {
            uri: request.uri.to_string(),
            to_tag: request.to.tag().map(str::to_owned),
            from_tag: request.from.tag().map(str::to_owned),
            call_id: request.call_id.clone(),
            seq: request.cseq.seq,
            method,
            via: via.to_string(),
        }),
    }
}

/// The key `request` matches, an ACK counting as its INVITE.
pub(super) fn server_match(request: &Request) -> Option<ServerMatch> {
    let method = match request.method {
        Method::Ack => Method::Invite,
        ref m => m.clone(),
    };
    server_match_as(request, method)
}

/// The same legacy key under another To tag (the one of a final response).
pub(super) fn with_to_tag(key: &ServerMatch, tag: &str) -> Option<ServerMatch> {
    match key {
        ServerMatch::Legacy { to_tag, .. } if to_tag.as_deref() != Some(tag) => {
            let mut key = key.clone();
            if let ServerMatch::Legacy { to_tag, .. } = &mut key {
                *to_tag = Some(tag.to_owned());
            }
            Some(key)
        }
        _ => None,
    }
}

fn default_port(via: &Via) -> u16 {
    if via.transport.eq_ignore_ascii_case("TLS") {
        5061
    } else {
        5060
    }
}

/// How the ACK for a 2xx finds its INVITE server transaction: it has a new
/// branch, so by Call-ID, CSeq number and From tag (the dialog's remote
/// side); the To tag is checked by the transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct AckMatch {
    call_id: String,
    seq: u32,
    from_tag: Option<String>,
}

impl AckMatch {
    pub(super) fn of(request: &Request) -> AckMatch {
        AckMatch {
            call_id: request.call_id.clone(),
            seq: request.cseq.seq,
            from_tag: request.from.tag().map(str::to_owned),
        }
    }
}
