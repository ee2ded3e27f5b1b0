//! Calls: one tokio task per call, driven by the Lua `route`.
//!
//! ```text
//!            ToCall (ACK, BYE, CANCEL, responses)
//!   driver ───────────────────────────────────────> call task ──> route (Lua)
//!   (owns the    <─────────────────────────────────  │  owns its dialog,
//!    endpoint)   FromCall (respond, send, trust...)  │  media leg(s), recorder
//!                                                    └─> RTP sockets
//! ```
//!
//! The driver keeps a map from Call-ID to the task that owns it (a task
//! owns more than one Call-ID once it bridges a second leg). The task
//! turns each [`waihu_call::Command`] of its route into SIP (through the
//! driver) and media work (on its own sockets) and resumes the route with
//! the reply event. When the call ends it writes the CDR and tells the
//! driver to forget it.

mod leg;
mod session;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use waihu_media::prompt::PromptCache;
use waihu_script::ScriptHost;
use waihu_sip::Peer;
use waihu_sip::endpoint::ServerTxId;
use waihu_sip::message::{Request, Response, Uri};

use crate::rtp_ports::PortPool;
use crate::store::StoreHandle;

pub use session::spawn;

/// A new INVITE, as the driver hands it to [`spawn`].
#[derive(Debug)]
pub struct Invite {
    pub id: ServerTxId,
    pub request: Request,
    /// Where it came from (where in-dialog requests go back to).
    pub peer: Peer,
    /// The authenticated user.
    pub user: String,
    /// Our To tag for the dialog.
    pub local_tag: String,
}

/// What the driver hands a call task.
#[derive(Debug)]
pub enum ToCall {
    /// ACK for our 2xx.
    Ack,
    /// The caller cancelled the INVITE (the endpoint already answered 487).
    Cancelled,
    /// A request inside the dialog (BYE, re-INVITE, INFO...). The task must
    /// answer it.
    Request {
        id: ServerTxId,
        request: Box<Request>,
        peer: Peer,
    },
    /// A response to a request the task sent.
    Response { response: Box<Response> },
    /// No response came to a request the task sent.
    Timeout { call_id: String },
}

/// What a call task asks of the driver.
#[derive(Debug)]
pub enum FromCall {
    Respond {
        id: ServerTxId,
        response: Box<Response>,
    },
    /// Sends a request in a client transaction; responses come back to the
    /// task that owns `request.call_id`.
    Send { request: Box<Request>, peer: Peer },
    /// Sends an ACK for a 2xx.
    Ack { request: Box<Request>, peer: Peer },
    /// Cancels the pending INVITE of a Call-ID.
    Cancel { call_id: String },
    /// Requests inside this dialog skip digest auth.
    Trust {
        call_id: String,
        local_tag: String,
        user: String,
        /// Only requests from this address are trusted.
        peer_ip: IpAddr,
    },
    /// Routes another Call-ID (a dialled leg) to the same task.
    Claim {
        call_id: String,
        to: mpsc::Sender<ToCall>,
    },
    /// Where a registered user can be called.
    Lookup {
        user: String,
        reply: oneshot::Sender<Vec<(Uri, Peer)>>,
    },
    /// The call is over: forget its Call-IDs and dialogs.
    Release {
        call_ids: Vec<String>,
        dialogs: Vec<(String, String)>,
    },
}

/// What every call shares: configuration and services.
#[derive(Debug)]
pub struct CallContext {
    pub scripts: Arc<ScriptHost>,
    pub prompts: Arc<PromptCache>,
    pub store: StoreHandle,
    pub ports: PortPool,
    /// The address in SDP, Contact and Via.
    pub advertise: IpAddr,
    /// Our SIP port (the first listener's), set once it is bound.
    pub sip_port: std::sync::OnceLock<u16>,
    pub domain: String,
    pub rtp_timeout: Option<Duration>,
    pub probation: Duration,
    pub strict_source: bool,
    pub north_american_tones: bool,
    pub recordings_dir: PathBuf,
    /// How long a call may ring before its route must answer.
    pub max_ring: Duration,
    /// Calls in progress (for metrics and the shutdown log).
    pub active: std::sync::atomic::AtomicUsize,
}

impl CallContext {
    pub fn sip_port(&self) -> u16 {
        self.sip_port.get().copied().unwrap_or(5060)
    }
}
