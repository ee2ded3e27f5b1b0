//! One call's task: its dialog, its media leg, its route.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval};
use tracing::{debug, info, warn};
use waihu_call::{Command, DigitsEnd, Event, HangupCause, Party};
use waihu_script::{CallInfo, Route, Step};
use waihu_sip::Peer;
use waihu_sip::dialog::Dialog;
use waihu_sip::endpoint::ServerTxId;
use waihu_sip::message::{HeaderName, Host, Method, Params, Request, Response, Via};
use waihu_sip::sdp::{self, Codec, Direction, LocalMedia};
use waihu_sip::transaction::new_branch;
use waihu_store::Cdr;

use super::leg::{Heard, Leg};
pub use originate::spawn_originate;

mod dial;
mod lean;
mod originate;
mod queue;
mod timer;
mod transfer;
use super::{CallContext, FromCall, ToCall};
use crate::plugin::CallEvent;
use crate::shutdown::Shutdown;

/// Messages a call task may have waiting before the driver drops more.
pub const INBOX: usize = 64;
/// Digits kept for a later `read_digits` when nobody is reading.
const DIGIT_BUFFER: usize = 64;
/// The media clock.
const FRAME: Duration = Duration::from_millis(20);
/// An RTCP report every 5 s (RFC 3550's minimum interval).
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// How often a call that makes no frames checks its timers.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// What the route's current command waits for.
#[derive(Debug)]
enum Waiting {
    /// Nothing: the route is running, finished, or there is none.
    Nothing,
    Play {
        player: waihu_media::player::Player,
        barge_in: bool,
    },
    Digits {
        max: usize,
        terminator: Option<char>,
        timeout: Duration,
        deadline: Instant,
        got: String,
    },
    Echo,
    SendDtmf,
    /// `call:dial`: the B leg rings; an answered caller hears ringback.
    Dial {
        ringback: waihu_media::player::Player,
    },
    /// The B leg answered: packets are relayed until either side ends.
    Bridge,
    /// `call:queue`: music on hold (or a position announcement) while the
    /// ACD finds an agent; an agent's phone may be ringing meanwhile.
    Queue {
        player: waihu_media::player::Player,
    },
    /// The queue overflowed: its prompt plays, then `then`.
    Overflow {
        player: waihu_media::player::Player,
        then: queue::Then,
    },
    /// The caller leaves a message (overflow), until `#` or the deadline.
    Message {
        deadline: Instant,
    },
    /// A campaign call's answering-machine detection listens to the first
    /// seconds of the customer's audio.
    Amd,
}

/// How the call ended, for the CDR.
#[derive(Clone, Copy, Debug)]
struct Ending {
    by: Party,
    cause: HangupCause,
    sip_status: Option<u16>,
}

/// Starts the task for a new INVITE; returns where the driver sends it more.
pub fn spawn(
    ctx: Arc<CallContext>,
    driver: mpsc::Sender<FromCall>,
    incoming: super::Invite,
    shutdown: Shutdown,
) -> mpsc::Sender<ToCall> {
    let super::Invite {
        id,
        request: invite,
        peer,
        user,
        local_tag,
    } = incoming;
    let (mut session, tx) = Session::fresh(
        ctx,
        driver,
        Parties {
            invite,
            invite_id: Some(id),
            peer,
            user,
            local_tag,
        },
    );
    session.a_allows_update = timer::allows_update(&session.invite.headers);
    session.launch(tx, shutdown)
}

/// Who a new call task is between: the INVITE (received, or for a
/// campaign call the one it stands for), its server transaction, where
/// the dialog's requests come from, the authenticated user, our tag.
struct Parties {
    invite: Request,
    invite_id: Option<ServerTxId>,
    peer: Peer,
    user: String,
    local_tag: String,
}

impl Session {
    /// A call task before anything has happened, and its inbox's sender.
    fn fresh(
        ctx: Arc<CallContext>,
        driver: mpsc::Sender<FromCall>,
        parties: Parties,
    ) -> (Session, mpsc::Sender<ToCall>) {
        let Parties {
            invite,
            invite_id,
            peer,
            user,
            local_tag,
        } = parties;
        let (tx, inbox) = mpsc::channel(INBOX);
        let session = Session {
            me: tx.clone(),
            b: None,
            stale: Vec::new(),
            forks: Vec::new(),
            transferred: None,
            timer_a: None,
            timer_decision: None,
            a_allows_update: false,
            hold_music: None,
            inbound: None,
            dialled: None,
            out_trunk: None,
            number: NEXT_CALL.fetch_add(1, Ordering::Relaxed),
            call_id: invite.call_id.clone(),
            ctx,
            driver,
            inbox,
            invite_id,
            invite,
            peer,
            user,
            local_tag,
            dialog: None,
            leg: None,
            route: None,
            queued: None,
            queue_cdr: queue::QueueCdr::default(),
            feature: false,
            waiting: Waiting::Nothing,
            buffered: VecDeque::new(),
            heard: String::new(),
            vars: BTreeMap::new(),
            started: SystemTime::now(),
            answered: None,
            ended: None,
            recording: None,
            recorded: None,
            script_version: None,
            sent_180: false,
            next_rtcp: Instant::now() + RTCP_INTERVAL,
            next_rtcp_read: Instant::now(),
            next_b_call_id: None,
            origin: None,
            a_call_id: None,
            parked: None,
            park_refused: false,
            bridged_at: None,
        };
        (session, tx)
    }

    /// Lists the call for the API and runs its task; returns where the
    /// driver sends it more.
    fn launch(self, tx: mpsc::Sender<ToCall>, shutdown: Shutdown) -> mpsc::Sender<ToCall> {
        self.ctx.registry.insert(
            super::CallSummary {
                call_id: self.call_id.clone(),
                from: self.invite.from.uri.to_string(),
                to: self.invite.uri.to_string(),
                start_ms: unix_ms(self.started),
                answered: false,
            },
            tx.clone(),
        );
        tokio::spawn(self.run(shutdown));
        tx
    }
}

#[derive(Debug)]
struct Session {
    /// Our own inbox, for Call-IDs we claim (a dialled leg).
    me: mpsc::Sender<ToCall>,
    b: Option<dial::BLeg>,
    /// Agent legs given up on (cancelled), kept to hang up a late answer.
    stale: Vec<dial::BLeg>,
    /// Ring-all: agent legs ringing besides `b`; the first to answer wins.
    forks: Vec<dial::BLeg>,
    /// Transferred: the reply the route waits for when the new leg ends.
    transferred: Option<transfer::Pending>,
    /// The caller's leg's session timer (RFC 4028), once answered.
    timer_a: Option<waihu_sip::session_timer::SessionTimer>,
    /// The INVITE's session-timer negotiation, for our 2xx.
    timer_decision: Option<waihu_sip::session_timer::Decision>,
    /// The caller allows UPDATE (our refreshes use it).
    a_allows_update: bool,
    /// Music on hold for the party whose other side put the call on hold.
    hold_music: Option<waihu_media::player::Player>,
    /// The trunk channel an inbound carrier call holds.
    inbound: Option<crate::trunks::Channel>,
    /// The last B leg's target and trunk, for the CDR.
    dialled: Option<String>,
    out_trunk: Option<String>,
    number: u64,
    call_id: String,
    ctx: Arc<CallContext>,
    driver: mpsc::Sender<FromCall>,
    inbox: mpsc::Receiver<ToCall>,
    /// The INVITE's server transaction; `None` for a campaign call, which
    /// we started.
    invite_id: Option<ServerTxId>,
    invite: Request,
    peer: Peer,
    user: String,
    local_tag: String,
    dialog: Option<Dialog>,
    leg: Option<Leg>,
    route: Option<Route>,
    /// In an ACD queue (`call:queue`).
    queued: Option<queue::Queued>,
    queue_cdr: queue::QueueCdr,
    /// An agent's feature code call: no route, hang up after the prompt.
    feature: bool,
    waiting: Waiting,
    /// Digits pressed while nobody was reading.
    buffered: VecDeque<char>,
    /// Every digit the caller pressed, for the CDR.
    heard: String,
    vars: BTreeMap<String, String>,
    started: SystemTime,
    answered: Option<SystemTime>,
    ended: Option<Ending>,
    recording: Option<Recording>,
    /// The last recording made, for the CDR.
    recorded: Option<String>,
    script_version: Option<u64>,
    sent_180: bool,
    next_rtcp: Instant,
    next_rtcp_read: Instant,
    /// The Call-ID the next B leg's INVITE takes (a campaign call's first
    /// INVITE has the attempt's); a fresh one when `None`.
    next_b_call_id: Option<String>,
    /// A campaign call: the dialer's side of it.
    origin: Option<Box<originate::Origin>>,
    /// A campaign call whose answered leg has another Call-ID than the
    /// call's (it answered on a failover INVITE).
    a_call_id: Option<String>,
    /// The bridge, while the relay engine carries it (`lean.rs`).
    parked: Option<super::relay::Parked>,
    /// The engine could not take (or carry) this call's legs: relay here.
    park_refused: bool,
    /// When the call was last bridged; the relay engine takes the bridge
    /// [`lean::PARK_AFTER`] later.
    bridged_at: Option<Instant>,
}

#[derive(Debug)]
struct Recording {
    recorder: super::leg::FileRecorder,
    path: String,
}

impl Session {
    async fn run(mut self, shutdown: Shutdown) {
        // Held, not polled: dropping it when the call ends is what tells
        // shutdown this task is done. The stop itself arrives as
        // ToCall::Shutdown, which costs the loop nothing meanwhile.
        let _shutdown = shutdown;
        self.ctx.active.fetch_add(1, Ordering::Relaxed);
        if self.is_originated() {
            // The dialer tells plugins of its own calls.
            self.originate().await;
        } else {
            self.ctx
                .plugins
                .emit_call(&self.call_id, || CallEvent::Started {
                    from: self.invite.from.uri.to_string(),
                    to: self.invite.uri.to_string(),
                    campaign: None,
                });
            if self.prepare().await {
                self.advance(None).await;
            }
        }
        let mut tick = interval(FRAME);
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut housekeeping = interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let ring_deadline = Instant::now() + self.ctx.max_ring;
        let mut framing = true;
        while self.ended.is_none() {
            if self.parked.is_some() || self.park() {
                framing = false;
                self.parked_turn().await;
                continue;
            }
            // A bridged or echoing call makes no frames of its own: it
            // wakes for packets and, a few times a second, for its timers.
            let wants_frames = self.wants_frames();
            if wants_frames && !framing {
                tick.reset();
                if let Some(leg) = self.leg.as_mut() {
                    leg.catch_up(Instant::now());
                }
            }
            framing = wants_frames;
            tokio::select! {
                message = self.inbox.recv() => match message {
                    Some(message) => self.on_sip(message).await,
                    None => self.end(Party::Switch, HangupCause::Failure).await,
                },
                heard = recv(self.leg.as_mut()) => {
                    let now = Instant::now();
                    if matches!(self.waiting, Waiting::Bridge) && self.hold_music.is_none() {
                        self.relay_to_b();
                    }
                    if let Some(heard) = heard {
                        self.on_heard(heard, now).await;
                    }
                },
                heard = recv(self.b.as_mut().and_then(|b| b.leg.as_mut())) => {
                    if heard.is_some() && self.hold_music.is_none() {
                        self.relay_to_a();
                    }
                },
                _ = tick.tick(), if framing => {
                    let now = Instant::now();
                    if self.answered.is_none() && !self.is_originated() && now >= ring_deadline {
                        info!(call_id = %self.call_id, "route did not answer in time");
                        self.end(Party::Switch, HangupCause::Unavailable).await;
                        continue;
                    }
                    self.on_tick(now).await;
                }
                _ = housekeeping.tick(), if !framing => {
                    self.housekeeping(Instant::now()).await;
                }
            }
        }
        self.unpark().await;
        self.finish().await;
        self.ctx.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Checks the offer, takes the ports, starts the route. On failure the
    /// INVITE has its final answer and the call is over.
    async fn prepare(&mut self) -> bool {
        // A call from a carrier takes one of its trunk's channels.
        if let Some(name) = self.user.strip_prefix("trunk:") {
            match self.ctx.trunks.inbound(name) {
                Ok(channel) => self.inbound = Some(channel),
                Err(why) => {
                    info!(call_id = %self.call_id, trunk = %name, %why, "inbound call refused");
                    self.reject(503).await;
                    return false;
                }
            }
        }
        let offer = match self.offer() {
            Ok(offer) => offer,
            Err(status) => {
                self.reject(status).await;
                return false;
            }
        };
        if !self.timer_check().await {
            return false;
        }
        let pair = match self.ctx.ports.allocate() {
            Ok(pair) => pair,
            Err(e) => {
                warn!(call_id = %self.call_id, error = %e, "no rtp port for a call");
                self.reject(503).await;
                return false;
            }
        };
        let local = LocalMedia {
            addr: self.ctx.advertise,
            port: pair.port,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            telephone_event_pt: Some(101),
            ptime_ms: 20,
            session_id: self.number,
            session_version: 1,
            direction: Direction::SendRecv,
        };
        let (answer, negotiated) = match sdp::answer(&offer, &local) {
            Ok(a) => a,
            Err(e) => {
                debug!(call_id = %self.call_id, error = %e, "offer refused");
                self.reject(e.sip_status()).await;
                return false;
            }
        };
        let mut leg = Leg::new(
            pair,
            &negotiated,
            answer.to_string(),
            &self.ctx,
            Instant::now(),
        );
        leg.set_origin(local.session_id, local.session_version);
        self.leg = Some(leg);

        if let Some(items) = self.feature_code().await {
            self.feature = true;
            self.answer().await;
            match self.player(&items) {
                Ok(player) => {
                    self.waiting = Waiting::Play {
                        player,
                        barge_in: false,
                    }
                }
                Err(_) => self.end(Party::Switch, HangupCause::Normal).await,
            }
            return false;
        }
        let version = self.ctx.scripts.pick(self.number);
        self.script_version = Some(version.info().number);
        if !version.has_route() {
            warn!(call_id = %self.call_id, "no route() in the scripts: refusing calls");
            self.reject(480).await;
            return false;
        }
        let info = CallInfo {
            id: self.number,
            from: user_of(&self.invite.from.uri).unwrap_or_default(),
            to: user_of(&self.invite.uri).unwrap_or_default(),
            vars: BTreeMap::new(),
        };
        match version.start_route(info) {
            Ok(route) => {
                self.route = Some(route);
                true
            }
            Err(e) => {
                warn!(call_id = %self.call_id, error = %e, "route failed to start");
                self.reject(500).await;
                false
            }
        }
    }

    /// The SDP offer of the INVITE, or the status refusing it.
    fn offer(&self) -> Result<sdp::Sdp, u16> {
        if self.invite.body.is_empty() {
            // A late offer (offer in our 200, answer in the ACK) is not
            // supported yet; every phone and trunk we target offers early.
            return Err(488);
        }
        let is_sdp = self
            .invite
            .headers
            .get(&HeaderName::ContentType)
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"));
        if !is_sdp {
            return Err(415);
        }
        sdp::parse(&self.invite.body).map_err(|e| {
            debug!(call_id = %self.call_id, error = %e, "bad sdp");
            e.sip_status()
        })
    }

    /// Resumes the route with `reply` and starts the commands it gives until
    /// one has to wait.
    async fn advance(&mut self, mut reply: Option<Event>) {
        if self.route.is_none() && self.origin.is_some() {
            self.origin_event(reply).await;
            return;
        }
        loop {
            let Some(route) = self.route.as_mut() else {
                return;
            };
            let step = route.resume(reply.take());
            match step {
                Ok(Step::Command(command)) => {
                    debug!(call_id = %self.call_id, ?command, "route command");
                    match self.start(command).await {
                        Some(now) => reply = Some(now),
                        None => return,
                    }
                }
                Ok(Step::Done) => {
                    self.vars = route.vars().clone();
                    self.route = None;
                    if self.ended.is_none() {
                        self.end(Party::Switch, HangupCause::Normal).await;
                    }
                    return;
                }
                Err(e) => {
                    warn!(call_id = %self.call_id, error = %e, "route failed; ending the call");
                    self.vars = route.vars().clone();
                    self.route = None;
                    self.end(Party::Switch, HangupCause::Failure).await;
                    return;
                }
            }
        }
    }

    /// Starts a command; returns its reply when it has one at once.
    async fn start(&mut self, command: Command) -> Option<Event> {
        if self.ended.is_some() {
            return None;
        }
        let needs_answer = !matches!(
            command,
            Command::Ring
                | Command::Answer
                | Command::Hangup { .. }
                | Command::SetVar { .. }
                | Command::Dial { .. }
                | Command::Queue { .. }
        );
        if needs_answer && self.answered.is_none() {
            return Some(Event::Failed {
                reason: "the call is not answered yet: call call:answer() first".into(),
            });
        }
        match command {
            Command::Ring => {
                if self.answered.is_none() && !self.sent_180 {
                    self.sent_180 = true;
                    let response = self.response(180);
                    self.respond(response).await;
                }
                Some(Event::Ringing)
            }
            Command::Answer => {
                if self.answered.is_none() {
                    self.answer().await;
                }
                Some(Event::Answered)
            }
            Command::Play { items, barge_in } => match self.player(&items) {
                Ok(player) => {
                    if barge_in && let Some(digit) = self.buffered.front().copied() {
                        return Some(Event::PlaybackDone {
                            interrupted_by: Some(digit),
                        });
                    }
                    self.waiting = Waiting::Play { player, barge_in };
                    None
                }
                Err(reason) => Some(Event::Failed { reason }),
            },
            Command::ReadDigits {
                max,
                timeout_ms,
                terminator,
            } => {
                let timeout = Duration::from_millis(u64::from(timeout_ms));
                self.waiting = Waiting::Digits {
                    max: max.max(1) as usize,
                    terminator,
                    timeout,
                    deadline: Instant::now() + timeout,
                    got: String::new(),
                };
                // Digits pressed during a prompt count (barge-in).
                while let Some(digit) = self.buffered.pop_front() {
                    if let Some(done) = self.digit_for_read(digit) {
                        return Some(done);
                    }
                }
                None
            }
            Command::SendDtmf { digits } => {
                let leg = self.leg.as_mut()?;
                if leg.send_dtmf(&digits) {
                    self.waiting = Waiting::SendDtmf;
                    None
                } else {
                    Some(Event::Failed {
                        reason: "the caller did not offer telephone-event".into(),
                    })
                }
            }
            Command::Record { file, mode } => Some(self.start_recording(&file, mode)),
            Command::StopRecord => {
                let path = self.stop_recording();
                Some(Event::RecordingStopped { path })
            }
            Command::Echo => {
                self.waiting = Waiting::Echo;
                None
            }
            Command::Dial { target, timeout_s } => self.start_dial(&target, timeout_s).await,
            Command::Queue {
                queue,
                priority,
                skills,
            } => {
                if self.answered.is_none() {
                    self.answer().await;
                }
                self.start_queue(queue, priority, skills).await
            }
            Command::SetVar { name, value } => {
                self.vars.insert(name, value);
                Some(Event::VarSet)
            }
            Command::Hangup { cause } => {
                self.end(Party::Switch, cause).await;
                None
            }
            Command::Transfer { target } => Some(self.api_transfer(&target).await),
            Command::OptOut { reason } => Some(self.opt_out(reason).await),
            other => Some(Event::Failed {
                reason: format!("command {other:?} is not supported"),
            }),
        }
    }

    /// A command from the API. Only those that cannot confuse the route's
    /// own flow are taken: hang up, record, stop recording, send DTMF.
    /// `call:opt_out`: the called party's number (a campaign call's, or
    /// the caller's) on the do-not-call table, on disk before the reply.
    async fn opt_out(&mut self, reason: String) -> Event {
        let raw = match self.origin.as_ref() {
            Some(o) => o.dialout.number.clone(),
            None => user_of(&self.invite.from.uri).unwrap_or_default(),
        };
        let number = match crate::campaigns::normalise(&raw, "CN") {
            Ok(n) => n,
            Err(e) => {
                return Event::Failed {
                    reason: format!("{raw:?} is not a number to opt out: {e}"),
                };
            }
        };
        let (n, call_id) = (number.clone(), self.call_id.clone());
        let written = self
            .ctx
            .store
            .run(move |s| {
                s.add_dnc(
                    &n,
                    &reason,
                    &format!("call:{call_id}"),
                    crate::campaigns::now_ms(),
                )
            })
            .await;
        match written {
            Ok(()) => {
                self.ctx.dnc.insert(&number);
                info!(call_id = %self.call_id, %number, "opted out: on the do-not-call table");
                Event::OptedOut { number }
            }
            Err(e) => Event::Failed {
                reason: format!("the do-not-call table could not be written: {e}"),
            },
        }
    }

    async fn api_command(&mut self, command: Command) -> Event {
        match command {
            Command::Hangup { cause } => {
                info!(call_id = %self.call_id, cause = cause.as_str(), "hung up through the API");
                self.end(Party::Switch, cause).await;
                Event::HungUp {
                    by: Party::Switch,
                    cause,
                }
            }
            Command::Record { .. } | Command::StopRecord if self.answered.is_none() => {
                Event::Failed {
                    reason: "the call is not answered".into(),
                }
            }
            Command::Record { file, mode } => self.start_recording(&file, mode),
            Command::StopRecord => Event::RecordingStopped {
                path: self.stop_recording(),
            },
            Command::SendDtmf { digits } => {
                // Sent along with whatever the call is doing: the packets
                // replace audio frames while they go out.
                let queued = self.leg.as_mut().is_some_and(|leg| leg.send_dtmf(&digits));
                if queued {
                    Event::DtmfSent
                } else {
                    Event::Failed {
                        reason: "no telephone-event on this call".into(),
                    }
                }
            }
            Command::Transfer { target } => self.api_transfer(&target).await,
            other => Event::Failed {
                reason: format!("{other:?} is for the call's route, not the API"),
            },
        }
    }

    fn player(
        &self,
        items: &[waihu_call::PlayItem],
    ) -> Result<waihu_media::player::Player, String> {
        super::leg::player(&self.ctx, items)
    }

    fn start_recording(&mut self, file: &str, mode: waihu_call::RecordMode) -> Event {
        if self.recording.is_some() {
            return Event::Failed {
                reason: "already recording".into(),
            };
        }
        let Some(relative) = safe_relative(file) else {
            return Event::Failed {
                reason: format!("{file:?} is not a plain relative file name ending in .wav"),
            };
        };
        let path = self.ctx.recordings_dir.join(relative);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return Event::Failed {
                reason: format!("cannot create {}: {e}", dir.display()),
            };
        }
        match super::leg::recorder(&path, mode) {
            Ok(recorder) => {
                let shown = path.display().to_string();
                info!(call_id = %self.call_id, path = %shown, "recording started");
                self.recording = Some(Recording {
                    recorder,
                    path: shown.clone(),
                });
                self.listen(true);
                Event::RecordingStarted { path: shown }
            }
            Err(e) => Event::Failed {
                reason: format!("cannot record to {}: {e}", path.display()),
            },
        }
    }

    fn stop_recording(&mut self) -> Option<String> {
        let recording = self.recording.take()?;
        self.listen(false);
        if let Err(e) = recording.recorder.finish() {
            warn!(call_id = %self.call_id, path = %recording.path, error = %e, "recording not finished cleanly");
        }
        self.recorded = Some(recording.path.clone());
        Some(recording.path)
    }

    /// Keeps (or stops keeping) decoded audio of both legs for the recording.
    fn listen(&mut self, on: bool) {
        if let Some(leg) = self.leg.as_mut() {
            leg.set_listening(on);
        }
        self.b_listen(on);
    }

    /// A digit during `read_digits`; the reply when the read is complete.
    fn digit_for_read(&mut self, digit: char) -> Option<Event> {
        let Waiting::Digits {
            max,
            terminator,
            timeout,
            deadline,
            got,
        } = &mut self.waiting
        else {
            return None;
        };
        if Some(digit) == *terminator {
            let digits = std::mem::take(got);
            self.waiting = Waiting::Nothing;
            return Some(Event::Digits {
                digits,
                ended: DigitsEnd::Terminator,
            });
        }
        got.push(digit);
        *deadline = Instant::now() + *timeout;
        if got.chars().count() >= *max {
            let digits = std::mem::take(got);
            self.waiting = Waiting::Nothing;
            return Some(Event::Digits {
                digits,
                ended: DigitsEnd::Max,
            });
        }
        None
    }

    async fn on_sip(&mut self, message: ToCall) {
        match message {
            ToCall::Request { id, request, .. } if self.is_b(&request.call_id) => {
                self.on_b_request(id, *request).await;
            }
            ToCall::Response { response, peer } if self.is_b(&response.call_id) => {
                self.on_b_response(*response, peer).await;
            }
            ToCall::Timeout { call_id, .. } if self.is_b(&call_id) => self.on_b_timeout().await,
            ToCall::Response { response, peer } if self.is_fork(&response.call_id) => {
                self.on_fork_response(*response, peer).await;
            }
            ToCall::Timeout { call_id, .. } if self.is_fork(&call_id) => {
                self.fork_failed(&call_id, None).await;
            }
            ToCall::Ack => {}
            ToCall::AckTimeout => {
                warn!(call_id = %self.call_id, "the caller never acknowledged our 200: ending the call");
                self.vars.insert("disposition".into(), "no_ack".into());
                self.end(Party::Switch, HangupCause::Failure).await;
            }
            ToCall::Shutdown => self.end(Party::Switch, HangupCause::Normal).await,
            ToCall::Command { command, reply } => {
                let event = self.api_command(command).await;
                let _ = reply.send(event);
            }
            ToCall::Offer {
                agents,
                queue,
                ring_timeout,
            } => {
                debug!(call_id = %self.call_id, %queue, ?agents, "offer");
                self.on_offer(agents, ring_timeout).await;
            }
            ToCall::Overflow {
                queue,
                reason,
                waited_ms,
                position,
                priority,
            } => {
                if self.is_originated() {
                    self.abandon(reason).await;
                } else {
                    self.on_overflow(queue, reason, waited_ms, position, priority)
                        .await;
                }
            }
            ToCall::Cancelled => {
                self.end_b().await;
                self.ended = Some(Ending {
                    by: Party::Caller,
                    cause: HangupCause::Normal,
                    sip_status: Some(487),
                });
            }
            ToCall::Request { id, request, peer } => self.on_request(id, *request, peer).await,
            ToCall::Response { response, .. } if self.on_stale_response(&response).await => {}
            ToCall::Response { response, .. } => {
                // Our BYE's answer, a refresh's, or a stray.
                debug!(call_id = %self.call_id, status = response.status, "response");
                self.on_a_response(&response).await;
            }
            ToCall::Timeout { .. } => {}
        }
    }

    async fn on_request(&mut self, id: ServerTxId, request: Request, peer: Peer) {
        let status = match request.method {
            Method::Bye => {
                self.end_b().await;
                self.ended = Some(Ending {
                    by: Party::Caller,
                    cause: HangupCause::Normal,
                    sip_status: None,
                });
                200
            }
            Method::Invite => {
                // Re-INVITE: hold, resume, or a new address.
                let response = self.reinvite(&request, peer);
                self.send(FromCall::Respond {
                    id,
                    response: Box::new(response),
                })
                .await;
                return;
            }
            Method::Info | Method::Options | Method::Update | Method::Notify => 200,
            _ => 501,
        };
        let mut response = Response::to_request(&request, status);
        if response.to.tag().is_none() {
            response.to.set_tag(&self.local_tag);
        }
        if request.method == Method::Update {
            self.timer_refreshed_by_caller(&request, &mut response);
        }
        self.send(FromCall::Respond {
            id,
            response: Box::new(response),
        })
        .await;
    }

    fn reinvite(&mut self, request: &Request, peer: Peer) -> Response {
        let refuse = |status: u16| {
            let mut r = Response::to_request(request, status);
            if r.to.tag().is_none() {
                r.to.set_tag(&self.local_tag);
            }
            r
        };
        if let Some(dialog) = self.dialog.as_mut()
            && dialog.check_remote_cseq(request).is_err()
        {
            return refuse(500);
        }
        let Some(leg) = self.leg.as_mut() else {
            return refuse(488);
        };
        if request.body.is_empty() {
            return refuse(488);
        }
        let offer = match sdp::parse(&request.body) {
            Ok(o) => o,
            Err(e) => return refuse(e.sip_status()),
        };
        match leg.renegotiate(&offer, Instant::now()) {
            Ok(answer) => {
                let _ = peer;
                let mut r = refuse(200);
                self.timer_refreshed_by_caller(request, &mut r);
                self.hold_changed();
                r.headers.push(HeaderName::Contact, self.contact());
                r.headers.push(HeaderName::ContentType, "application/sdp");
                r.body = Bytes::from(answer);
                r
            }
            Err(status) => refuse(status),
        }
    }

    async fn on_heard(&mut self, heard: Heard, now: Instant) {
        match heard {
            Heard::Audio => {
                if matches!(self.waiting, Waiting::Echo)
                    && let Some(leg) = self.leg.as_mut()
                {
                    leg.echo_last();
                }
            }
            Heard::Digit(digit) => {
                self.heard.push(digit);
                let reply = match &mut self.waiting {
                    Waiting::Play {
                        player,
                        barge_in: true,
                    } => {
                        player.stop();
                        self.buffered.push_back(digit);
                        self.waiting = Waiting::Nothing;
                        Some(Event::PlaybackDone {
                            interrupted_by: Some(digit),
                        })
                    }
                    Waiting::Digits { .. } => self.digit_for_read(digit),
                    Waiting::Echo if digit == '#' => {
                        self.waiting = Waiting::Nothing;
                        Some(Event::EchoDone)
                    }
                    Waiting::Message { .. } if digit == '#' => Some(self.message_done()),
                    // A prompt that may not be interrupted swallows its
                    // digits: type-ahead is what barge-in is for.
                    Waiting::Play { .. } => None,
                    _ => {
                        if self.buffered.len() < DIGIT_BUFFER {
                            self.buffered.push_back(digit);
                        }
                        None
                    }
                };
                if reply.is_some() {
                    self.advance(reply).await;
                }
            }
            Heard::Nothing => {}
        }
        let _ = now;
    }

    /// Whether the call makes media frames this moment (prompts, silence,
    /// DTMF, a recording), or only relays or echoes packets.
    fn wants_frames(&self) -> bool {
        let relaying = matches!(self.waiting, Waiting::Bridge | Waiting::Echo);
        let dtmf = self.leg.as_ref().is_some_and(Leg::dtmf_busy);
        !relaying || self.recording.is_some() || dtmf || self.hold_music.is_some()
    }

    /// Timers every call has, framing or not: RTCP reports, the ring
    /// timeout of a dialled leg, the media timeouts. False if the call ended.
    async fn housekeeping(&mut self, now: Instant) -> bool {
        if now >= self.next_rtcp_read {
            self.next_rtcp_read = now + HOUSEKEEPING;
            if let Some(leg) = self.leg.as_mut() {
                leg.drain_rtcp(now);
            }
            if let Some(leg) = self.b.as_mut().and_then(|b| b.leg.as_mut()) {
                leg.drain_rtcp(now);
            }
        }
        if now >= self.next_rtcp {
            self.next_rtcp = now + RTCP_INTERVAL;
            if let Some(leg) = self.leg.as_mut() {
                leg.send_rtcp(now);
            }
            if let Some(leg) = self.b.as_mut().and_then(|b| b.leg.as_mut()) {
                leg.send_rtcp(now);
            }
        }
        self.dial_tick(now).await;
        self.origin_tick(now).await;
        if !self.timers(now).await {
            return false;
        }
        if self
            .b
            .as_mut()
            .and_then(|b| b.leg.as_mut())
            .is_some_and(|l| l.timed_out(now))
        {
            info!(call_id = %self.call_id, "no rtp from the dialled party: ending the call");
            self.b_vanished("media_timeout").await;
            self.end(Party::Switch, HangupCause::Failure).await;
            return false;
        }
        if self.leg.as_mut().is_some_and(|l| l.timed_out(now)) {
            info!(call_id = %self.call_id, "no rtp from the caller: ending the call");
            self.end(Party::Switch, HangupCause::Failure).await;
            return false;
        }
        self.ended.is_none()
    }

    async fn on_tick(&mut self, now: Instant) {
        if !self.housekeeping(now).await {
            return;
        }
        if matches!(self.waiting, Waiting::Bridge) && self.hold_music.is_some() {
            self.hold_frame();
        }
        let b_heard = self.b_heard_frame();
        let b_early = self.b_early();
        let queue_sent = if matches!(self.waiting, Waiting::Queue { .. }) && self.answered.is_some()
        {
            Some(self.queue_frame(now).await)
        } else {
            None
        };
        let Some(leg) = self.leg.as_mut() else {
            return;
        };
        if self.answered.is_none() {
            return;
        }
        let mut reply = None;
        let mut overflow_then = None;
        let mut message_over = false;
        // DTMF going out (for the route or the API) takes the tick's place
        // in the stream; everything else waits a frame.
        if leg.dtmf_busy() {
            if leg.dtmf_frame() && matches!(self.waiting, Waiting::SendDtmf) {
                self.waiting = Waiting::Nothing;
                self.advance(Some(Event::DtmfSent)).await;
            }
            return;
        }
        let sent = match &mut self.waiting {
            Waiting::Play { player, .. } => {
                let (sent, done) = leg.play_frame(player);
                if done {
                    self.waiting = Waiting::Nothing;
                    reply = Some(Event::PlaybackDone {
                        interrupted_by: None,
                    });
                }
                sent
            }
            Waiting::SendDtmf => {
                self.waiting = Waiting::Nothing;
                reply = Some(Event::DtmfSent);
                None
            }
            Waiting::Echo => None,
            // The caller hears B (relayed), or ringing from B's side.
            Waiting::Bridge => b_heard,
            // The dialled party's early media replaces our ringback.
            Waiting::Dial { .. } if b_early => None,
            Waiting::Dial { ringback } => leg.play_frame(ringback).0,
            Waiting::Digits { deadline, got, .. } => {
                if now >= *deadline {
                    let digits = std::mem::take(got);
                    self.waiting = Waiting::Nothing;
                    reply = Some(Event::Digits {
                        digits,
                        ended: DigitsEnd::Timeout,
                    });
                }
                leg.silence_frame();
                None
            }
            Waiting::Nothing | Waiting::Amd => {
                leg.silence_frame();
                None
            }
            Waiting::Queue { .. } => queue_sent.flatten(),
            Waiting::Overflow { player, then } => {
                let (sent, done) = leg.play_frame(player);
                if done {
                    overflow_then = Some(*then);
                    self.waiting = Waiting::Nothing;
                }
                sent
            }
            Waiting::Message { deadline } => {
                if now >= *deadline {
                    message_over = true;
                }
                leg.silence_frame();
                None
            }
        };
        let amd_frame = if matches!(self.waiting, Waiting::Amd) {
            // Lost or late audio is silence to the detector: its clock is
            // the frame clock.
            Some(
                leg.take_heard_frame()
                    .unwrap_or([0; super::leg::FRAME_SAMPLES]),
            )
        } else {
            None
        };
        if let Some(recording) = self.recording.as_mut() {
            let caller = leg.take_heard_frame();
            if let Err(e) = recording.recorder.write_frame(
                caller.as_ref().map(|f| &f[..]),
                sent.as_ref().map(|f| &f[..]),
            ) {
                warn!(call_id = %self.call_id, error = %e, "recording stopped");
                self.recording = None;
            }
        } else {
            leg.take_heard_frame();
        }
        if let Some(frame) = amd_frame {
            self.amd_frame(&frame).await;
        }
        if message_over {
            reply = Some(self.message_done());
        }
        if let Some(then) = overflow_then {
            reply = self.overflow_prompted(then).await;
        }
        if self.feature && reply.is_some() {
            // The feature code's confirmation has played.
            self.end(Party::Switch, HangupCause::Normal).await;
            return;
        }
        if reply.is_some() {
            self.advance(reply).await;
        }
    }

    async fn answer(&mut self) {
        let Some(leg) = self.leg.as_ref() else {
            return;
        };
        let mut response = self.response(200);
        response
            .headers
            .push(HeaderName::ContentType, "application/sdp");
        response.body = Bytes::from(leg.local_sdp().to_owned());
        self.timer_on_answer(&mut response);
        match Dialog::uas(&self.invite, &response) {
            Ok(dialog) => self.dialog = Some(dialog),
            Err(e) => warn!(call_id = %self.call_id, error = %e, "no dialog from our 200"),
        }
        self.send(FromCall::Trust {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
            user: self.user.clone(),
            peer_ip: self.peer.addr.ip(),
        })
        .await;
        self.respond(response).await;
        self.answered = Some(SystemTime::now());
        self.ctx.registry.answered(&self.call_id);
        if !self.is_originated() {
            self.ctx
                .plugins
                .emit_call(&self.call_id, || CallEvent::Answered);
        }
        info!(call_id = %self.call_id, to = %self.invite.uri, "call answered");
    }

    /// A response to the INVITE with our tag, Contact and Allow.
    fn response(&self, status: u16) -> Response {
        let mut response = Response::to_request(&self.invite, status);
        response.to.set_tag(&self.local_tag);
        if (101..300).contains(&status) {
            response.headers.push(HeaderName::Contact, self.contact());
        }
        if status == 200 {
            response.headers.push(
                HeaderName::Allow,
                "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE",
            );
        }
        response
    }

    fn contact(&self) -> String {
        let user = user_of(&self.invite.uri).unwrap_or_else(|| "waihu".into());
        format!(
            "<sip:{user}@{}>",
            host_port(self.ctx.advertise, self.ctx.sip_port())
        )
    }

    async fn respond(&mut self, response: Response) {
        let Some(id) = self.invite_id else {
            return;
        };
        self.send(FromCall::Respond {
            id,
            response: Box::new(response),
        })
        .await;
    }

    async fn reject(&mut self, status: u16) {
        let response = self.response(status);
        self.respond(response).await;
        self.ended = Some(Ending {
            by: Party::Switch,
            cause: HangupCause::Failure,
            sip_status: Some(status),
        });
    }

    /// Ends the call from our side: BYE when answered, a final response when not.
    async fn end(&mut self, by: Party, cause: HangupCause) {
        if self.ended.is_some() {
            return;
        }
        self.end_b().await;
        let mut sip_status = None;
        if self.answered.is_some() {
            self.send_bye().await;
        } else if self.invite_id.is_some() {
            let status = cause.sip_status();
            sip_status = Some(status);
            let response = self.response(status);
            self.respond(response).await;
        }
        self.ended = Some(Ending {
            by,
            cause,
            sip_status,
        });
    }

    async fn send_bye(&mut self) {
        let via = self.via();
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        match dialog.create_request(Method::Bye, via) {
            Ok(bye) => {
                let peer = self.peer;
                self.send(FromCall::Send {
                    request: Box::new(bye),
                    peer,
                })
                .await;
            }
            Err(e) => warn!(call_id = %self.call_id, error = %e, "cannot build BYE"),
        }
    }

    fn via(&self) -> Via {
        let mut params = Params::default();
        let seed = getrandom::u64().unwrap_or(self.number);
        params.set("branch", Some(&new_branch(seed)));
        Via {
            transport: match self.peer.transport {
                waihu_sip::Transport::Udp => "UDP".into(),
                waihu_sip::Transport::Tcp => "TCP".into(),
            },
            host: host_of(self.ctx.advertise),
            port: Some(self.ctx.sip_port()),
            params,
        }
    }

    async fn send(&self, message: FromCall) {
        if self.driver.send(message).await.is_err() {
            debug!(call_id = %self.call_id, "driver gone");
        }
    }

    /// Writes the CDR and releases what the call held.
    async fn finish(&mut self) {
        self.queue_finish().await;
        self.origin_finish().await;
        if let Some(route) = self.route.take() {
            self.vars.extend(route.vars().clone());
        }
        self.stop_recording();
        let recording = self.recorded.take();
        let ending = self.ended.unwrap_or(Ending {
            by: Party::Switch,
            cause: HangupCause::Failure,
            sip_status: None,
        });
        if let Some(leg) = &self.leg {
            leg.log_stats(&self.call_id);
        }
        if let Some(leg) = self.b.as_ref().and_then(|b| b.leg.as_ref()) {
            leg.log_stats(&format!("{} (dialled)", self.call_id));
        }
        let mut media = BTreeMap::new();
        if let Some(leg) = &self.leg {
            leg.quality("caller", &mut media);
        }
        if let Some(leg) = self.b.as_ref().and_then(|b| b.leg.as_ref()) {
            leg.quality("callee", &mut media);
        }
        let cdr = Cdr {
            call_id: self.call_id.clone(),
            from: self.invite.from.uri.to_string(),
            to: self.invite.uri.to_string(),
            start_ms: unix_ms(self.started),
            answer_ms: self.answered.map(unix_ms),
            end_ms: unix_ms(SystemTime::now()),
            hangup_by: match ending.by {
                Party::Caller => "caller",
                Party::Callee => "callee",
                Party::Switch => "switch",
            }
            .into(),
            hangup_cause: ending.cause.as_str().into(),
            sip_status: ending.sip_status,
            digits: std::mem::take(&mut self.heard),
            recording,
            vars: self.vars.clone(),
            script_version: self.script_version,
            media,
            trunk: self
                .out_trunk
                .clone()
                .or_else(|| self.inbound.as_ref().map(|c| c.trunk.name.clone())),
            dialled: self.dialled.clone(),
            agent: self.queue_cdr.agent.clone(),
            queue: self.queue_cdr.queue.clone(),
            wait_ms: self.queue_cdr.wait_ms,
            talk_ms: self.queue_cdr.talk_ms,
        };
        info!(
            call_id = %cdr.call_id, by = %cdr.hangup_by, cause = %cdr.hangup_cause,
            digits = %cdr.digits, "call ended"
        );
        self.origin_report(cdr.end_ms);
        if !self.is_originated() {
            self.ctx
                .plugins
                .emit_call(&cdr.call_id, || CallEvent::Ended {
                    outcome: cdr.hangup_cause.clone(),
                    sip_status: cdr.sip_status,
                    talk_ms: cdr.answer_ms.map(|a| cdr.end_ms - a),
                });
        }
        self.ctx.store.write_cdr(cdr);
        self.ctx.registry.remove(&self.call_id);
        let mut call_ids = vec![self.call_id.clone()];
        let mut dialogs = vec![(self.call_id.clone(), self.local_tag.clone())];
        if let Some(a) = self.a_call_id.take() {
            call_ids.push(a.clone());
            dialogs.push((a, self.local_tag.clone()));
        }
        let legs = self.b.iter().chain(&self.stale).chain(&self.forks);
        for b in legs {
            call_ids.push(b.call_id().to_owned());
            dialogs.extend(b.local_tag().map(|tag| (b.call_id().to_owned(), tag)));
        }
        self.send(FromCall::Release { call_ids, dialogs }).await;
    }
}

/// A random token for Call-IDs and tags we create.
fn new_id() -> String {
    format!(
        "{:016x}",
        getrandom::u64().unwrap_or_else(|_| NEXT_CALL.fetch_add(1, Ordering::Relaxed))
    )
}

/// Waits for the leg's next datagram; forever when there is no leg.
async fn recv(leg: Option<&mut Leg>) -> Option<Heard> {
    match leg {
        Some(leg) => leg.recv(Instant::now).await,
        None => std::future::pending().await,
    }
}

fn user_of(uri: &waihu_sip::message::Uri) -> Option<String> {
    uri.as_sip().and_then(|u| u.user_unescaped())
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::V4(v4),
        IpAddr::V6(v6) => Host::V6(v6),
    }
}

fn host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A recording name a script may use: relative, no `..`, ends in `.wav`.
fn safe_relative(file: &str) -> Option<&std::path::Path> {
    use std::path::Component;
    let path = std::path::Path::new(file);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !file.is_empty() && file.len() <= 200 && file.ends_with(".wav")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::safe_relative;

    #[test]
    fn recording_names_stay_inside_the_recordings_directory() {
        assert!(safe_relative("test-1.wav").is_some());
        assert!(safe_relative("2026/11/a.wav").is_some());
        for bad in [
            "../x.wav",
            "/etc/x.wav",
            "a/../../x.wav",
            "x.mp3",
            "",
            "./x.wav",
        ] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
    }
}
