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
pub(crate) mod relay;
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

pub use session::{spawn, spawn_originate};

/// A campaign call the dialer asks for: the customer is dialled through a
/// trunk group, and once they answer the call joins the campaign's queue
/// for an agent, or hears the safe-harbour message if none takes it in
/// time.
#[derive(Debug)]
pub struct Dialout {
    /// The INVITE's Call-ID, already written in the attempt row.
    pub call_id: String,
    pub attempt_id: i64,
    pub campaign: String,
    /// E.164.
    pub number: String,
    pub trunk_group: String,
    /// The number the customer sees; the trunk's own when `None`.
    pub caller_id: Option<String>,
    pub ring_timeout: Duration,
    /// The queue whose agents take the answered call.
    pub queue: Option<String>,
    /// An answered call with no agent within this is abandoned.
    pub connect_limit: Duration,
    /// What an abandoned call hears (prompt names).
    pub safe_harbour: Vec<String>,
    /// Preview and manual dials: this agent (reserved in the ACD already)
    /// is called first, and hears the customer's phone ring.
    pub agent: Option<String>,
    /// The agent's wrap-up lasts until the attempt's disposition.
    pub disposition_required: bool,
    /// Broadcast: the Lua flow that runs the answered call, and the
    /// contact it is given.
    pub broadcast: Option<(String, waihu_script::Contact)>,
    /// The campaign's language (`zh`, `en`), as the call variable `lang`.
    pub lang: Option<String>,
    /// Answering-machine detection on answer, and what a machine gets.
    pub amd: Option<(crate::plugin::AmdSpec, AmdAction)>,
    /// Where the call reports what happens to it.
    pub report: mpsc::UnboundedSender<DialerEvent>,
}

/// What a campaign does with an answering machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdAction {
    /// Hang up at once (the outcome is `machine`).
    Hangup,
    /// Broadcast: wait for the beep (or the greeting's end), then run the
    /// flow with the call variable `machine` set to `yes`, so it can
    /// leave its message. Campaigns with agents hang up.
    Message,
}

/// What a campaign call tells the dialer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialerEvent {
    /// The customer answered (live, as far as we know).
    Answered { attempt_id: i64, ring_ms: i64 },
    /// An answering machine answered.
    Machine { attempt_id: i64, ring_ms: i64 },
    /// An agent took the answered call after `wait_ms`.
    Connected {
        attempt_id: i64,
        agent: String,
        wait_ms: i64,
    },
    /// No agent in time: the customer heard the safe-harbour message.
    Abandoned { attempt_id: i64 },
    /// The call is over.
    Ended(CallResult),
}

/// How a campaign call ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallResult {
    pub attempt_id: i64,
    /// `answered`, `busy`, `no_answer`, `invalid_number`, `rejected`,
    /// `failed` or `abandoned`.
    pub outcome: String,
    pub sip_status: Option<u16>,
    pub trunk: Option<String>,
    pub answered_ms: Option<i64>,
    pub ended_ms: i64,
    pub ring_ms: i64,
    pub agent: Option<String>,
    pub talk_ms: Option<i64>,
    /// The call's variables at the end (a broadcast flow's results:
    /// `heard`, `key`, `opted_out`, ...).
    pub vars: std::collections::BTreeMap<String, String>,
}

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
    /// Our 2xx to an INVITE was retransmitted for 64*T1 and never
    /// acknowledged: the caller is gone (or cannot reach us), so the call
    /// ends with a BYE (RFC 3261 13.3.1.4).
    AckTimeout,
    /// The switch is stopping: hang up.
    Shutdown,
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
    Response {
        response: Box<Response>,
        /// Where it came from (a challenge is answered only for its trunk).
        peer: Peer,
    },
    /// No response came to a request the task sent.
    Timeout { call_id: String },
    /// A command from outside the route (the HTTP API): hang up, record,
    /// stop recording, send DTMF. Answered with the command's reply event.
    Command {
        command: waihu_call::Command,
        reply: oneshot::Sender<waihu_call::Event>,
    },
    /// The ACD offers this queued call to agents: ring their phones.
    Offer {
        agents: Vec<String>,
        queue: String,
        ring_timeout: Duration,
    },
    /// The ACD gives up on this queued call: run the overflow action.
    Overflow {
        queue: String,
        reason: &'static str,
        waited_ms: i64,
        position: u32,
        priority: u8,
    },
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
    /// The dialer asks for a campaign call (not from a call task).
    Originate(Box<Dialout>),
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
    /// Calls in progress, for the HTTP API.
    pub registry: Registry,
    /// Carrier trunks: status and per-trunk limits.
    pub trunks: Arc<crate::trunks::Trunks>,
    /// Agents who may call out through trunks.
    pub pstn_agents: std::collections::HashSet<String>,
    /// Agents and queues.
    pub acd: crate::acd::AcdHandle,
    /// The agents' feature codes.
    pub feature_codes: crate::config::AcdSection,
    /// RFC 4028 session timers for both legs.
    pub session_timer: waihu_sip::session_timer::SessionTimerConfig,
    /// The do-not-call table in memory (Lua's `dnc.contains`).
    pub dnc: Arc<crate::dnc::DncSet>,
    /// Native plugins: events, customer lookups, detectors.
    pub plugins: Arc<crate::plugin::Plugins>,
    /// The delay messages meet before their turn, and the limit over which
    /// the switch is overloaded (`sip.limits.overload_delay_ms`): SIP
    /// refuses new calls then, and the dialer holds new lines.
    pub load: Arc<crate::sip::overload::Load>,
}

/// What the API shows of a call in progress.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CallSummary {
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// Unix milliseconds.
    pub start_ms: i64,
    pub answered: bool,
}

#[derive(Debug)]
struct Entry {
    summary: CallSummary,
    inbox: mpsc::Sender<ToCall>,
}

/// The calls in progress by Call-ID, so that the API can list them and
/// give them commands. Each call adds itself at start and removes itself
/// when it ends.
#[derive(Debug, Default)]
pub struct Registry {
    calls: std::sync::Mutex<std::collections::HashMap<String, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Entry>> {
        // A panic while holding this lock leaves a map that is still whole.
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, summary: CallSummary, inbox: mpsc::Sender<ToCall>) {
        self.lock()
            .insert(summary.call_id.clone(), Entry { summary, inbox });
    }

    pub(crate) fn answered(&self, call_id: &str) {
        if let Some(e) = self.lock().get_mut(call_id) {
            e.summary.answered = true;
        }
    }

    pub(crate) fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// Every call in progress, oldest first.
    pub fn list(&self) -> Vec<CallSummary> {
        let mut calls: Vec<CallSummary> = self.lock().values().map(|e| e.summary.clone()).collect();
        calls.sort_by_key(|c| c.start_ms);
        calls
    }

    /// Gives a call a command; `None` if there is no such call or it ended
    /// before answering.
    pub async fn command(
        &self,
        call_id: &str,
        command: waihu_call::Command,
    ) -> Option<waihu_call::Event> {
        let inbox = self.lock().get(call_id)?.inbox.clone();
        let (reply, answer) = oneshot::channel();
        inbox.send(ToCall::Command { command, reply }).await.ok()?;
        answer.await.ok()
    }
}

impl CallContext {
    pub fn sip_port(&self) -> u16 {
        self.sip_port.get().copied().unwrap_or(5060)
    }

    /// Whether the switch is falling behind (see [`crate::sip::overload`]).
    pub fn overloaded(&self) -> bool {
        self.load.overloaded()
    }
}
