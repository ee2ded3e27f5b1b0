//! Dialogs (RFC 3261 section 12): what two user agents share after a
//! dialog-forming request such as INVITE, and how requests inside it are
//! built ([`Dialog::create_request`], [`Dialog::create_ack`]) and checked
//! ([`Dialog::matches`], [`Dialog::check_remote_cseq`]).
//!
//! A dialog is plain state with no timers: the transaction layer carries its
//! requests. The TU keeps its dialogs in a map keyed by [`DialogId`], found
//! for an incoming request with [`DialogId::of_request`].

use bytes::Bytes;

use crate::message::{
    self, CSeq, Contact, HeaderName, Headers, Method, NameAddr, ParseError, Request, Response, Uri,
    Via,
};

/// Identifies a dialog from our side: Call-ID, our tag, the peer's tag
/// (empty for an RFC 2543 peer that sent no From tag, 12.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog an incoming request claims to belong to: our tag is its To
    /// tag, the peer's its From tag. `None` without a To tag (out of dialog).
    pub fn of_request(request: &Request) -> Option<DialogId> {
        Some(DialogId {
            call_id: request.call_id.clone(),
            local_tag: request.to.tag()?.to_owned(),
            remote_tag: request.from.tag().unwrap_or_default().to_owned(),
        })
    }

    /// The dialog a response to one of our requests belongs to: our tag is
    /// its From tag, the peer's its To tag. `None` if either is missing.
    pub fn of_response(response: &Response) -> Option<DialogId> {
        Some(DialogId {
            call_id: response.call_id.clone(),
            local_tag: response.from.tag()?.to_owned(),
            remote_tag: response.to.tag()?.to_owned(),
        })
    }
}

/// RFC 3261 12.1: a dialog made by a 1xx is early, by a 2xx confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// Why a dialog could not be made, or a request was refused by it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    #[error("status {0} does not create a dialog (101-299 do)")]
    NotDialogForming(u16),
    #[error("no tag of ours (From of the request, To of the response)")]
    MissingLocalTag,
    #[error("the response has no To tag")]
    MissingRemoteTag,
    #[error("the request has no Contact")]
    MissingContact,
    #[error("malformed Contact or Record-Route: {0}")]
    BadHeader(ParseError),
    #[error("the message does not belong to this dialog")]
    NotInDialog,
    #[error("CSeq {got} is lower than the last one received, {last}")]
    CSeqOutOfOrder { got: u32, last: u32 },
    #[error("the local CSeq would exceed 2^31 - 1")]
    CSeqExhausted,
    #[error("{0} is not built by create_request (ACK: create_ack; CANCEL: the transaction layer)")]
    WrongMethod(Method),
    #[error("only a 2xx to an INVITE is acknowledged by the dialog")]
    NotA2xx,
}

impl DialogError {
    /// The status a request refused for this reason gets (the one place
    /// that maps dialog faults to SIP codes).
    pub fn status(&self) -> u16 {
        match self {
            DialogError::CSeqOutOfOrder { .. } => 500,
            DialogError::NotInDialog => 481,
            DialogError::CSeqExhausted | DialogError::WrongMethod(_) | DialogError::NotA2xx => 500,
            DialogError::NotDialogForming(_)
            | DialogError::MissingLocalTag
            | DialogError::MissingRemoteTag
            | DialogError::MissingContact
            | DialogError::BadHeader(_) => 400,
        }
    }
}

/// The largest CSeq number (RFC 3261 8.1.1.5: less than 2^31).
const MAX_CSEQ: u32 = (1 << 31) - 1;

/// One dialog, UAC or UAS side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    /// Our From (in our requests), with our tag.
    local_uri: NameAddr,
    /// Their address (our requests' To), with their tag when they gave one.
    remote_uri: NameAddr,
    /// Empty on the UAS side until we send a request (12.1.1).
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    remote_target: Uri,
    /// In the order our requests traverse it.
    route_set: Vec<NameAddr>,
    secure: bool,
}

impl Dialog {
    /// The UAC side, from our dialog-forming `request` and a 101-299
    /// `response` with a To tag (RFC 3261 12.1.2). The route set is the
    /// response's Record-Route reversed. A response without Contact (a 1xx,
    /// or a broken 2xx) leaves the Request-URI as remote target: the dialog
    /// stays usable for BYE.
    pub fn uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let state = forming_state(response.status)?;
        let local_tag = request.from.tag().ok_or(DialogError::MissingLocalTag)?;
        let remote_tag = response.to.tag().ok_or(DialogError::MissingRemoteTag)?;
        let mut route_set = record_routes(&response.headers)?;
        route_set.reverse();
        let remote_target = contact_uri(&response.headers)?.unwrap_or_else(|| request.uri.clone());
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id.clone(),
                local_tag: local_tag.to_owned(),
                remote_tag: remote_tag.to_owned(),
            },
            state,
            local_uri: request.from.clone(),
            remote_uri: response.to.clone(),
            local_seq: Some(request.cseq.seq),
            remote_seq: None,
            remote_target,
            route_set,
            secure: is_secure(request),
        })
    }

    /// The UAS side, from the dialog-forming `request` and our 101-299
    /// `response` carrying our To tag (RFC 3261 12.1.1). The route set is the
    /// request's Record-Route in order; the remote target its Contact.
    pub fn uas(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let state = forming_state(response.status)?;
        let local_tag = response.to.tag().ok_or(DialogError::MissingLocalTag)?;
        let remote_target = contact_uri(&request.headers)?.ok_or(DialogError::MissingContact)?;
        let mut local_uri = request.to.clone();
        local_uri.set_tag(local_tag);
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id.clone(),
                local_tag: local_tag.to_owned(),
                remote_tag: request.from.tag().unwrap_or_default().to_owned(),
            },
            state,
            local_uri,
            remote_uri: request.from.clone(),
            local_seq: None,
            remote_seq: Some(request.cseq.seq),
            remote_target,
            route_set: record_routes(&request.headers)?,
            secure: is_secure(request),
        })
    }

    pub fn id(&self) -> &DialogId {
        &self.id
    }

    pub fn state(&self) -> DialogState {
        self.state
    }

    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }

    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    /// The CSeq of our last request in the dialog; `None` before the first (UAS).
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The CSeq of the peer's last request in the dialog.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// A 2xx (or another 1xx) for the UAC's early dialog: the remote target
    /// and route set are recomputed from it (RFC 3261 12.1.2, 13.2.2.4) and a
    /// 2xx confirms the dialog.
    pub fn update_from_response(&mut self, response: &Response) -> Result<(), DialogError> {
        if DialogId::of_response(response).as_ref() != Some(&self.id) {
            return Err(DialogError::NotInDialog);
        }
        let state = forming_state(response.status)?;
        if self.state == DialogState::Confirmed {
            // 12.2.1.2: a confirmed dialog's route set never changes.
            return self.refresh_target(&response.headers).map(|_| ());
        }
        let mut route_set = record_routes(&response.headers)?;
        route_set.reverse();
        self.refresh_target(&response.headers)?;
        self.route_set = route_set;
        self.state = state;
        Ok(())
    }

    /// Takes the Contact of a target refresh (re-INVITE, UPDATE, or its 2xx)
    /// as the new remote target. `Ok(false)` when there was none.
    pub fn refresh_target(&mut self, headers: &Headers) -> Result<bool, DialogError> {
        match contact_uri(headers)? {
            Some(target) => {
                self.remote_target = target;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether `request` (from the peer) belongs to this dialog: Call-ID, To
    /// tag ours, From tag theirs.
    pub fn matches(&self, request: &Request) -> bool {
        request.call_id == self.id.call_id
            && request.to.tag() == Some(self.id.local_tag.as_str())
            && request.from.tag().unwrap_or_default() == self.id.remote_tag
    }

    /// Checks an in-dialog request from the peer and records its CSeq (RFC
    /// 3261 12.2.2). A lower CSeq than the last one is out of order: refuse it
    /// with [`DialogError::status`] (500). ACK and CANCEL carry the CSeq of
    /// the request they refer to and are not checked.
    pub fn check_remote_cseq(&mut self, request: &Request) -> Result<(), DialogError> {
        if !self.matches(request) {
            return Err(DialogError::NotInDialog);
        }
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let got = request.cseq.seq;
        if let Some(last) = self.remote_seq
            && got < last
        {
            return Err(DialogError::CSeqOutOfOrder { got, last });
        }
        self.remote_seq = Some(got);
        Ok(())
    }

    /// A new request in the dialog (BYE, re-INVITE, INFO, UPDATE...) with the
    /// next local CSeq, To/From/Call-ID of the dialog, Request-URI and Route
    /// from the remote target and route set (12.2.1.1). `via` carries a fresh
    /// branch; the caller adds Contact (for a target refresh), body and the
    /// rest, then hands it to [`crate::transaction::Transactions::send_request`].
    pub fn create_request(&mut self, method: Method, via: Via) -> Result<Request, DialogError> {
        if matches!(method, Method::Ack | Method::Cancel) {
            return Err(DialogError::WrongMethod(method));
        }
        let seq = match self.local_seq {
            Some(seq) if seq >= MAX_CSEQ => return Err(DialogError::CSeqExhausted),
            Some(seq) => seq + 1,
            None => 1,
        };
        self.local_seq = Some(seq);
        Ok(self.build(method, via, seq))
    }

    /// The ACK for a 2xx to our INVITE (13.2.2.4): the INVITE's CSeq number,
    /// routed like any in-dialog request, not a transaction (send it with
    /// [`crate::transaction::Transactions::send_ack`], and again for every
    /// retransmission of the 2xx). `via` needs a new branch.
    pub fn create_ack(&self, response: &Response, via: Via) -> Result<Request, DialogError> {
        if !(200..=299).contains(&response.status) || response.cseq.method != Method::Invite {
            return Err(DialogError::NotA2xx);
        }
        if DialogId::of_response(response).as_ref() != Some(&self.id) {
            return Err(DialogError::NotInDialog);
        }
        Ok(self.build(Method::Ack, via, response.cseq.seq))
    }

    fn build(&self, method: Method, via: Via, seq: u32) -> Request {
        let (uri, routes) = self.route();
        let mut headers = Headers::new();
        for route in routes {
            headers.push(HeaderName::Route, route.to_string());
        }
        Request {
            cseq: CSeq {
                seq,
                method: method.clone(),
            },
            method,
            uri,
            via: vec![via],
            from: self.local_uri.clone(),
            to: self.remote_uri.clone(),
            call_id: self.id.call_id.clone(),
            max_forwards: Some(70),
            headers,
            body: Bytes::new(),
        }
    }

    /// Request-URI and Route headers (12.2.1.1). With a loose router (`lr`)
    /// first, or no route set, the Request-URI is the remote target. A strict
    /// router first gets the Request-URI instead, and the remote target goes
    /// last in Route.
    fn route(&self) -> (Uri, Vec<NameAddr>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = first.uri.as_sip().is_some_and(|u| u.params.contains("lr"));
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
        routes.push(NameAddr::new(self.remote_target.clone()));
        (first.uri.clone(), routes)
    }
}

fn forming_state(status: u16) -> Result<DialogState, DialogError> {
    match status {
        101..=199 => Ok(DialogState::Early),
        200..=299 => Ok(DialogState::Confirmed),
        _ => Err(DialogError::NotDialogForming(status)),
    }
}

/// RFC 3261 12.1.1/12.1.2: secure when the request went over TLS to a SIPS URI.
fn is_secure(request: &Request) -> bool {
    let sips = request.uri.as_sip().is_some_and(|u| u.secure);
    let tls = request
        .via
        .first()
        .is_some_and(|v| v.transport.eq_ignore_ascii_case("TLS"));
    sips && tls
}

/// The URI of the first Contact, if any.
fn contact_uri(headers: &Headers) -> Result<Option<Uri>, DialogError> {
    for value in headers.get_all(&HeaderName::Contact) {
        for contact in message::parse_contacts(value).map_err(DialogError::BadHeader)? {
            if let Contact::Addr(addr) = contact {
                return Ok(Some(addr.uri));
            }
        }
    }
    Ok(None)
}

/// Every Record-Route entry, in message order.
fn record_routes(headers: &Headers) -> Result<Vec<NameAddr>, DialogError> {
    let mut out = Vec::new();
    for value in headers.get_all(&HeaderName::RecordRoute) {
        out.extend(message::parse_name_addr_list(value).map_err(DialogError::BadHeader)?);
    }
    Ok(out)
}
