//! The dialer: one task that runs every running campaign.
//!
//! Each tick (five a second) and for each campaign in state `running`:
//! 1. contacts not yet classified get their mode from
//!    `campaign.select_mode` (Lua), in batches;
//! 2. the campaign's [`Pacer`] is shown the agents of its queue (ready,
//!    on a call, in wrap-up) and the lines in progress, and says how many
//!    new lines to dial;
//! 3. that many due contacts are leased from the store, each passes the
//!    dial point (`dialpoint::check`: do-not-call, `blacklist.check`,
//!    calling window, attempts, spacing, caps), its attempt row is
//!    committed (synchronous=FULL), and only then is the call started
//!    ([`FromCall::Originate`]).
//!
//! Calls report back ([`DialerEvent`]): answers, connections and abandons
//! teach the pacer; the end of a call closes its attempt and plans the
//! contact's next one (`campaign.next_attempt`, or the default retry
//! policy).
//!
//! Campaign states live in the store; the dialer reads them every second,
//! so `waihu campaign pause` on the file works while the switch runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use waihu_campaign::acd::AgentState;
use waihu_campaign::pacing::{DialOutcome, PaceMode, Pacer, PacingConfig, Snapshot};
use waihu_script::DialMode;
use waihu_store::{AttemptEnd, ContactRecord, NewAttempt};

use crate::call::{CallContext, CallResult, DialerEvent, Dialout, FromCall};
use crate::campaigns::now_ms;
use crate::config::{Campaign, DetectorChoice};
use crate::dialpoint::{self, DialPath};
use crate::plugin::{AmdSpec, CallEvent, Event};
use crate::shutdown::Shutdown;

const TICK: Duration = Duration::from_millis(200);
/// Campaign states are read from the store this often.
const STATE_POLL_MS: i64 = 1000;
/// Contacts classified per campaign per tick.
const CLASSIFY_BATCH: u32 = 500;
/// A lease outlives a dial point check and the attempt's commit.
const LEASE_MS: i64 = 60_000;
/// Lines in flight at once for the broadcast segment of a campaign with
/// agents that sets no `max_lines`.
const SEGMENT_LINES: u32 = 10;
/// The retry floor written with each attempt before its INVITE: whatever
/// happens to the call (even a crash), the contact is not dialled again
/// sooner.
const RETRY_FLOOR_MS: i64 = 10 * 60_000;

/// A line the dialer started and has not heard the end of.
#[derive(Debug)]
struct Line {
    contact: ContactRecord,
    started_ms: i64,
    answered_ms: Option<i64>,
    connected: bool,
    abandoned: bool,
    /// Preview or manual: the agent was called first; the pacer does not
    /// count it as one of its lines.
    agent_first: bool,
    /// The broadcast segment of a campaign with agents: no agent takes its
    /// answers, so the pacer neither counts it nor learns from it (its
    /// answers must not dilute the abandon rate).
    segment: bool,
    /// An answering machine answered.
    machine: bool,
    /// The answer runs a broadcast flow rather than going to an agent.
    broadcast: bool,
    /// For events to plugins.
    call_id: String,
}

/// One campaign as the dialer runs it.
#[derive(Debug)]
struct Run {
    config: Campaign,
    pacer: Pacer,
    state: String,
    lines: HashMap<i64, Line>,
    /// Contacts of modes this dialer does not pace yet, already warned of.
    warned_modes: bool,
    /// Agents of the queue in wrap-up, since when: the pacer learns the
    /// wrap-up time from them.
    wrapping: HashMap<String, i64>,
}

/// The pacing settings of a campaign.
fn pacing_of(config: &Campaign) -> PacingConfig {
    let pace = match config.mode.as_str() {
        "progressive" => PaceMode::Progressive,
        "preview" => PaceMode::Preview,
        "broadcast" => PaceMode::Broadcast {
            max_lines: config.max_lines,
        },
        _ => PaceMode::Predictive,
    };
    PacingConfig {
        mode: pace,
        abandon_target: config.abandon_target,
        abandon_window_ms: i64::try_from(config.abandon_window.as_millis()).unwrap_or(i64::MAX),
        connect_limit_ms: i64::try_from(config.connect_limit.as_millis()).unwrap_or(i64::MAX),
        ratio: config.ratio,
        ..PacingConfig::new(pace)
    }
}

impl Run {
    fn new(config: Campaign) -> Run {
        Run {
            pacer: Pacer::new(pacing_of(&config)),
            config,
            state: "draft".into(),
            lines: HashMap::new(),
            warned_modes: false,
            wrapping: HashMap::new(),
        }
    }

    /// A new configuration (through the API): the pacer keeps what it has
    /// learned and its abandon window.
    fn reconfigure(&mut self, config: Campaign) {
        self.pacer.set_config(pacing_of(&config));
        self.config = config;
        self.warned_modes = false;
    }

    /// `want` new lines, as far as the campaign's `max_lines` leaves room.
    fn room(&self, want: u32) -> u32 {
        match self.config.max_lines {
            0 => want,
            max => want.min(max.saturating_sub(self.lines.len() as u32)),
        }
    }

    fn auto_mode(&self) -> Option<DialMode> {
        match self.config.mode.as_str() {
            "predictive" => Some(DialMode::Predictive),
            "progressive" => Some(DialMode::Progressive),
            "broadcast" => Some(DialMode::Broadcast),
            _ => None,
        }
    }
}

/// What the API and metrics show of a campaign the dialer runs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CampaignStatus {
    pub name: String,
    pub state: String,
    pub mode: String,
    /// Lines dialled and not answered yet.
    pub ringing: u32,
    /// Answered, waiting for an agent.
    pub waiting: u32,
    /// With an agent.
    pub connected: u32,
    /// The abandon rate over the campaign's window, and its target.
    pub abandon_rate: f64,
    pub abandon_target: f64,
    pub pacing: waihu_campaign::pacing::PacingStats,
    /// New lines wait: the switch is overloaded (see `sip.limits`).
    pub held: bool,
}

/// The latest status of every campaign (published each tick).
pub type StatusFeed = tokio::sync::watch::Receiver<Vec<CampaignStatus>>;

pub mod agent;
pub use agent::{DialerHandle, DialerRequest};

/// How long the dialer holds new lines after it last saw the switch
/// overloaded: the Retry-After SIP gives the calls it refuses then.
const OVERLOAD_HOLD_MS: i64 = 2_000;

/// How often the pacers' state is saved (and at shutdown).
const SAVE_EVERY_MS: i64 = 60_000;

/// Starts the dialer task.
pub fn spawn(
    ctx: Arc<CallContext>,
    campaigns: Vec<Campaign>,
    calls: mpsc::Sender<FromCall>,
    shutdown: Shutdown,
) -> DialerHandle {
    let (status_tx, status_rx) = tokio::sync::watch::channel(Vec::new());
    let (requests_tx, requests) = mpsc::channel(64);
    let handle = DialerHandle {
        status: status_rx,
        requests: requests_tx,
    };
    let runs = campaigns.into_iter().map(Run::new).collect();
    let (report, events) = mpsc::unbounded_channel();
    let dialer = Dialer {
        ctx,
        calls,
        runs,
        report,
        events,
        owner: format!("waihu-{}", std::process::id()),
        states_read_ms: 0,
        saved_ms: 0,
        script_version: 0,
        status: status_tx,
        requests,
        previews: HashMap::new(),
        held_until_ms: 0,
        over_samples: 0,
    };
    tokio::spawn(dialer.run(shutdown));
    handle
}

#[derive(Debug)]
struct Dialer {
    ctx: Arc<CallContext>,
    calls: mpsc::Sender<FromCall>,
    runs: Vec<Run>,
    report: mpsc::UnboundedSender<DialerEvent>,
    events: mpsc::UnboundedReceiver<DialerEvent>,
    owner: String,
    states_read_ms: i64,
    saved_ms: i64,
    /// The script version contacts were classified with.
    script_version: u64,
    status: tokio::sync::watch::Sender<Vec<CampaignStatus>>,
    /// Preview, accept, skip and manual dials from agents (the API).
    requests: mpsc::Receiver<DialerRequest>,
    /// The contact each agent is previewing: (campaign index, contact, until).
    previews: HashMap<String, (usize, ContactRecord, i64)>,
    /// While the switch is overloaded, and [`OVERLOAD_HOLD_MS`] after,
    /// no new line is dialled (agents' own dials still go through).
    held_until_ms: i64,
    /// [`crate::sip::overload::Load::over_samples`] at the last tick.
    over_samples: u64,
}

impl Dialer {
    async fn run(mut self, mut shutdown: Shutdown) {
        self.load_api_campaigns().await;
        self.restore().await;
        let version = self.ctx.scripts.current();
        for run in &self.runs {
            if let Some(flow) = &run.config.broadcast
                && !version.broadcasts().iter().any(|b| b == flow)
            {
                warn!(
                    campaign = %run.config.name, %flow,
                    "no broadcast.{flow} in the scripts: its answered calls will fail until one is loaded"
                );
            }
        }
        self.script_version = self.ctx.scripts.current().info().number;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.recv() => break,
                _ = tick.tick() => self.tick().await,
                Some(event) = self.events.recv() => self.on_event(event).await,
                Some(request) = self.requests.recv() => self.on_request(request).await,
            }
        }
        // Calls in progress finish on their own; their results are lost to
        // this process, and the next start closes their attempts
        // (`recover_dialer`) behind their retry floor.
        self.save(now_ms()).await;
        info!("dialer stopped");
    }

    async fn read_states(&mut self, now: i64) {
        if now - self.states_read_ms < STATE_POLL_MS {
            return;
        }
        self.states_read_ms = now;
        let rows = match self.ctx.store.run(|s| s.campaigns()).await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(error = %e, "dialer: cannot read campaign states");
                return;
            }
        };
        for run in &mut self.runs {
            let state = rows
                .iter()
                .find(|r| r.name == run.config.name)
                .map_or("draft", |r| r.state.as_str());
            if state != run.state {
                info!(campaign = %run.config.name, from = %run.state, to = %state, "campaign state");
                run.state = state.to_owned();
                self.ctx.plugins.emit(Event::Campaign {
                    at_ms: now,
                    campaign: run.config.name.clone(),
                    state: state.to_owned(),
                });
            }
        }
    }

    /// The pacers' abandon windows and learned figures, as saved.
    async fn restore(&mut self) {
        for run in &mut self.runs {
            let name = run.config.name.clone();
            match self.ctx.store.run(move |s| s.pacer(&name)).await {
                Ok(Some(json)) => match serde_json::from_str(&json) {
                    Ok(saved) => {
                        run.pacer = Pacer::restore(run.pacer.config().clone(), &saved);
                        info!(campaign = %run.config.name, "pacing state restored");
                    }
                    Err(e) => {
                        warn!(campaign = %run.config.name, error = %e, "saved pacing state unreadable; starting afresh")
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    warn!(campaign = %run.config.name, error = %e, "cannot read the pacing state")
                }
            }
        }
    }

    async fn save(&mut self, now: i64) {
        self.saved_ms = now;
        for run in &self.runs {
            let Ok(json) = serde_json::to_string(&run.pacer.save()) else {
                continue;
            };
            let name = run.config.name.clone();
            if let Err(e) = self
                .ctx
                .store
                .run(move |s| s.save_pacer(&name, &json, now))
                .await
            {
                warn!(campaign = %run.config.name, error = %e, "pacing state not saved");
            }
        }
    }

    /// A new script version may segment contacts differently: pending
    /// contacts are classified again by it.
    async fn follow_scripts(&mut self) {
        let version = self.ctx.scripts.current().info().number;
        if version == self.script_version {
            return;
        }
        self.script_version = version;
        for run in &self.runs {
            if !run.config.select_mode {
                continue;
            }
            let name = run.config.name.clone();
            match self
                .ctx
                .store
                .run(move |s| s.reclassify_contacts(&name))
                .await
            {
                Ok(n) => {
                    info!(campaign = %run.config.name, version, contacts = n, "new scripts: contacts segmented again")
                }
                Err(e) => {
                    warn!(campaign = %run.config.name, error = %e, "cannot reclassify contacts")
                }
            }
        }
    }

    /// A running campaign with nothing left to dial, ever, is finished.
    async fn finish_done(&mut self, now: i64) {
        for run in &mut self.runs {
            if run.state != "running" || !run.lines.is_empty() {
                continue;
            }
            let name = run.config.name.clone();
            let done = self
                .ctx
                .store
                .run(move |s| {
                    let c = s.campaign_counts(&name)?.contacts;
                    let open: u64 = ["pending", "leased", "calling"]
                        .iter()
                        .filter_map(|k| c.get(*k))
                        .sum();
                    let all: u64 = c.values().sum();
                    if all > 0 && open == 0 {
                        s.set_campaign_state(&name, "finished", now)?;
                        return Ok(true);
                    }
                    Ok(false)
                })
                .await;
            if matches!(done, Ok(true)) {
                info!(campaign = %run.config.name, "every contact is done: campaign finished");
                run.state = "finished".into();
            }
        }
    }

    fn publish(&self, now: i64) {
        let status = self
            .runs
            .iter()
            .map(|r| {
                let ringing = r.lines.values().filter(|l| l.answered_ms.is_none()).count();
                let connected = r.lines.values().filter(|l| l.connected).count();
                let waiting = r.lines.len() - ringing - connected;
                CampaignStatus {
                    name: r.config.name.clone(),
                    state: r.state.clone(),
                    mode: r.config.mode.clone(),
                    ringing: ringing as u32,
                    waiting: waiting as u32,
                    connected: connected as u32,
                    abandon_rate: r.pacer.abandon_rate(now),
                    abandon_target: r.config.abandon_target,
                    pacing: r.pacer.stats(),
                    held: now < self.held_until_ms,
                }
            })
            .collect();
        self.status.send_replace(status);
    }

    async fn tick(&mut self) {
        let now = now_ms();
        let poll = now - self.states_read_ms >= STATE_POLL_MS;
        self.read_states(now).await;
        if poll {
            self.follow_scripts().await;
            self.finish_done(now).await;
        }
        if now - self.saved_ms >= SAVE_EVERY_MS {
            self.save(now).await;
        }
        let held = self.hold_for_overload(now);
        for i in 0..self.runs.len() {
            if self.runs[i].state != "running" {
                continue;
            }
            self.classify(i).await;
            if !held {
                self.pace(i, now).await;
            }
        }
        self.publish(now);
    }

    /// Whether new lines wait this tick: the switch is overloaded, or was
    /// within [`OVERLOAD_HOLD_MS`]. A predictive dialer is most of an
    /// outbound switch's load, and SIP's refusals only reach calls that
    /// come in, so without this the dialer would go on adding calls to a
    /// switch already late with the ones it has. Leased contacts are not
    /// touched: they are simply dialled later.
    fn hold_for_overload(&mut self, now: i64) -> bool {
        let was_held = now < self.held_until_ms;
        // Over the limit now, or at any sample since the last tick: a
        // short overload (a stall the average forgets within a tick) is
        // still one.
        let over_samples = self.ctx.load.over_samples();
        let overloaded_since = over_samples != self.over_samples;
        self.over_samples = over_samples;
        if self.ctx.overloaded() || overloaded_since {
            if !was_held {
                self.ctx.load.count_dialer_hold();
                warn!(
                    delay_ms = self.ctx.load.delay().as_millis() as u64,
                    "overloaded: the dialer holds new lines"
                );
            }
            self.held_until_ms = now + OVERLOAD_HOLD_MS;
            return true;
        }
        if was_held {
            return true;
        }
        if self.held_until_ms != 0 {
            self.held_until_ms = 0;
            info!("the dialer dials again");
        }
        false
    }

    /// Gives unclassified contacts their mode (`campaign.select_mode`).
    async fn classify(&mut self, i: usize) {
        let run = &self.runs[i];
        let name = run.config.name.clone();
        let fallback = DialMode::parse(&run.config.mode).unwrap_or(DialMode::Predictive);
        // A broadcast campaign broadcasts to every contact: the segments of
        // `campaign.select_mode` are for campaigns with agents.
        let use_script = run.config.select_mode && run.config.mode != "broadcast";
        let scripts = self.ctx.scripts.clone();
        let result = self
            .ctx
            .store
            .run(move |s| {
                let batch = s.unclassified_contacts(&name, CLASSIFY_BATCH)?;
                if batch.is_empty() {
                    return Ok(0);
                }
                let version = scripts.current();
                let choices: Vec<_> = batch
                    .iter()
                    .map(|c| {
                        let choice = if use_script {
                            version
                                .select_mode(&script_contact(c))
                                .unwrap_or_else(|e| {
                                    if !matches!(e.kind, waihu_script::HookErrorKind::Missing) {
                                        warn!(contact = c.id, error = %e, "campaign.select_mode failed; the campaign's mode is used");
                                    }
                                    waihu_script::ModeChoice::fallback(fallback)
                                })
                        } else {
                            waihu_script::ModeChoice::fallback(fallback)
                        };
                        (c.id, choice.mode.as_str().to_owned(), choice.priority, choice.agent)
                    })
                    .collect();
                s.classify_contacts(&choices)?;
                Ok(choices.len())
            })
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => debug!(campaign = %self.runs[i].config.name, n, "contacts classified"),
            Err(e) => {
                warn!(campaign = %self.runs[i].config.name, error = %e, "classifying contacts failed")
            }
        }
    }

    /// What the pacer sees of the campaign's agents and lines.
    fn snapshot(&self, run: &Run, now: i64) -> Snapshot {
        let acd = self.ctx.acd.latest();
        let members: Vec<String> = run
            .config
            .queue
            .as_deref()
            .and_then(|q| self.ctx.acd.queue(q))
            .map(|q| q.acd.members.clone())
            .unwrap_or_default();
        let mut s = Snapshot::default();
        for a in acd.agents.iter().filter(|a| members.contains(&a.name)) {
            let elapsed = (now - a.since_ms).max(0);
            match a.state {
                AgentState::Ready if acd.outbound_ready.contains(&a.name) => s.agents_ready += 1,
                AgentState::OnCall | AgentState::Reserved => s.agents_on_call.push(elapsed),
                AgentState::WrapUp => s.agents_wrap_up.push(elapsed),
                _ => {}
            }
        }
        for line in run.lines.values().filter(|l| !l.agent_first && !l.segment) {
            match line.answered_ms {
                None => s.lines_in_progress.push((now - line.started_ms).max(0)),
                Some(_) if !line.connected && !line.abandoned => s.answered_waiting += 1,
                Some(_) => {}
            }
        }
        s
    }

    /// Wrap-ups that ended since the last tick teach the pacer.
    fn track_wrap_ups(&mut self, i: usize, now: i64) {
        let acd = self.ctx.acd.latest();
        let members: Vec<String> = self.runs[i]
            .config
            .queue
            .as_deref()
            .and_then(|q| self.ctx.acd.queue(q))
            .map(|q| q.acd.members.clone())
            .unwrap_or_default();
        let run = &mut self.runs[i];
        for a in acd.agents.iter().filter(|a| members.contains(&a.name)) {
            match (
                a.state == AgentState::WrapUp,
                run.wrapping.get(&a.name).copied(),
            ) {
                (true, None) => {
                    run.wrapping.insert(a.name.clone(), a.since_ms);
                }
                (false, Some(since)) => {
                    run.wrapping.remove(&a.name);
                    run.pacer.wrap_up_finished(now, (now - since).max(0));
                }
                _ => {}
            }
        }
    }

    async fn pace(&mut self, i: usize, now: i64) {
        self.track_wrap_ups(i, now);
        let snapshot = self.snapshot(&self.runs[i], now);
        let run = &mut self.runs[i];
        let Some(mode) = run.auto_mode() else {
            if !run.warned_modes {
                run.warned_modes = true;
                warn!(campaign = %run.config.name, mode = %run.config.mode, "this dial mode is not run by the dialer yet");
            }
            return;
        };
        let want = run.pacer.lines_to_dial(now, &snapshot);
        let n = run.room(want);
        if n == 0 {
            return;
        }
        let name = run.config.name.clone();
        let owner = self.owner.clone();
        let leased = self
            .ctx
            .store
            .run(move |s| {
                let mut out =
                    s.lease_contacts(&name, mode.as_str(), now, n, now + LEASE_MS, &owner)?;
                // A predictive campaign also runs its progressive segment
                // (one line per free agent is what predictive does at worst).
                if out.len() < n as usize && mode == DialMode::Predictive {
                    let more = n - out.len() as u32;
                    out.extend(s.lease_contacts(
                        &name,
                        "progressive",
                        now,
                        more,
                        now + LEASE_MS,
                        &owner,
                    )?);
                }
                Ok(out)
            })
            .await;
        let leased = match leased {
            Ok(l) => l,
            Err(e) => {
                warn!(campaign = %self.runs[i].config.name, error = %e, "leasing contacts failed");
                return;
            }
        };
        for contact in leased {
            self.dial(i, contact, now).await;
        }
        self.pace_broadcast_segment(i, now).await;
    }

    /// The contacts `campaign.select_mode` put in broadcast mode, in a
    /// campaign with agents: no agent is needed, so they are dialled
    /// beside the pacer's lines, up to the campaign's `max_lines` (or
    /// [`SEGMENT_LINES`] when it has none) in flight at once.
    async fn pace_broadcast_segment(&mut self, i: usize, now: i64) {
        let run = &self.runs[i];
        if run.config.mode == "broadcast" || run.config.broadcast.is_none() {
            return;
        }
        let cap = match run.config.max_lines {
            0 => SEGMENT_LINES,
            n => n,
        };
        let in_flight = run.lines.values().filter(|l| l.broadcast).count() as u32;
        let n = run.room(cap.saturating_sub(in_flight));
        if n == 0 {
            return;
        }
        let name = run.config.name.clone();
        let owner = self.owner.clone();
        let leased = self
            .ctx
            .store
            .run(move |s| s.lease_contacts(&name, "broadcast", now, n, now + LEASE_MS, &owner))
            .await;
        match leased {
            Ok(leased) => {
                for contact in leased {
                    self.dial(i, contact, now).await;
                }
            }
            Err(e) => {
                warn!(campaign = %self.runs[i].config.name, error = %e, "leasing broadcast contacts failed")
            }
        }
    }

    /// The dial point, the attempt row, then the call.
    async fn dial(&mut self, i: usize, contact: ContactRecord, now: i64) {
        // A refusal is logged, recorded and the contact released inside.
        let _ = self.attempt(i, contact, now, DialPath::Dialer, None).await;
    }

    /// The dial point, the agent's reservation (agent first), the attempt
    /// row on disk, then the call. A refused contact goes back to the pool
    /// with the time it may be tried again.
    async fn attempt(
        &mut self,
        i: usize,
        contact: ContactRecord,
        now: i64,
        path: DialPath,
        agent: Option<String>,
    ) -> Result<(i64, String), dialpoint::Refused> {
        let config = self.runs[i].config.clone();
        let verdict = dialpoint::check(
            &self.ctx,
            path,
            &contact.phone,
            Some(&config),
            Some(&contact),
            agent.is_some(),
        )
        .await;
        let call_id = format!("{}-a{}@waihu", new_token(), contact.id);
        let refused = match verdict {
            Err(refusal) => Some(refusal),
            Ok(_) => match &agent {
                Some(a) => self
                    .ctx
                    .acd
                    .reserve_outbound(a, &call_id)
                    .await
                    .err()
                    .map(|why| dialpoint::Refused {
                        reason: "agent_not_ready".into(),
                        detail: why,
                        retry_at: Some(now),
                    }),
                None => None,
            },
        };
        if let Some(refusal) = refused {
            let (id, retry) = (contact.id, refusal.retry_at);
            info!(
                campaign = %config.name, contact = id, phone = %contact.phone,
                reason = %refusal.reason, "dial refused"
            );
            let result = self
                .ctx
                .store
                .run(move |s| match retry {
                    Some(_) => s.release_contact(id, retry),
                    None => s.block_contact(id),
                })
                .await;
            if let Err(e) = result {
                warn!(contact = id, error = %e, "cannot release a refused contact");
            }
            return Err(refusal);
        }
        let mode = match path {
            DialPath::Manual => "manual".to_owned(),
            _ => contact.mode.clone().unwrap_or_else(|| config.mode.clone()),
        };
        let attempt = NewAttempt {
            contact_id: contact.id,
            campaign: config.name.clone(),
            phone: contact.phone.clone(),
            mode: mode.clone(),
            call_id: call_id.clone(),
            started_ms: now,
            floor_until_ms: now + RETRY_FLOOR_MS,
            agent: agent.clone(),
        };
        let attempt_id = match self.ctx.store.run(move |s| s.begin_attempt(&attempt)).await {
            Ok(id) => id,
            Err(e) => {
                warn!(contact = contact.id, error = %e, "attempt not written: not dialling");
                if let Some(a) = &agent {
                    self.ctx.acd.declined(&call_id, a).await;
                }
                return Err(dialpoint::Refused {
                    reason: "store_unavailable".into(),
                    detail: e,
                    retry_at: Some(now),
                });
            }
        };
        let broadcast = config
            .broadcast
            .clone()
            .filter(|_| mode == "broadcast" && agent.is_none())
            .map(|flow| (flow, script_contact(&contact)));
        let segment = broadcast.is_some() && config.mode != "broadcast";
        if path != DialPath::Manual && !segment {
            self.runs[i].pacer.dial_started(now);
        }
        let dialout = Dialout {
            call_id: call_id.clone(),
            attempt_id,
            campaign: config.name.clone(),
            number: contact.phone.clone(),
            trunk_group: config.trunk_group.clone(),
            caller_id: config.caller_id.clone(),
            ring_timeout: config.ring_timeout,
            queue: config.queue.clone(),
            connect_limit: config.connect_limit,
            safe_harbour: config.safe_harbour.clone(),
            agent: agent.clone(),
            disposition_required: config.disposition_required,
            broadcast: broadcast.clone(),
            lang: config.lang.clone(),
            // A preview or manual call has an agent on the line already.
            amd: config
                .amd
                .as_ref()
                .filter(|_| agent.is_none())
                .map(|a| (self.amd_spec(&a.detector, &config.name), a.action)),
            report: self.report.clone(),
        };
        if self.ctx.plugins.wants_events() {
            self.ctx.plugins.emit(Event::Contact {
                at_ms: now,
                campaign: config.name.clone(),
                contact_id: contact.id,
                attempt_id: Some(attempt_id),
                phone: contact.phone.clone(),
                event: "dialled".into(),
                outcome: None,
            });
            self.ctx.plugins.emit_call(&call_id, || CallEvent::Started {
                from: config.caller_id.clone().unwrap_or_default(),
                to: contact.phone.clone(),
                campaign: Some(config.name.clone()),
            });
        }
        self.runs[i].lines.insert(
            attempt_id,
            Line {
                contact,
                started_ms: now,
                answered_ms: None,
                connected: false,
                abandoned: false,
                agent_first: agent.is_some(),
                segment,
                machine: false,
                broadcast: broadcast.is_some(),
                call_id: call_id.clone(),
            },
        );
        if self
            .calls
            .send(FromCall::Originate(Box::new(dialout)))
            .await
            .is_err()
        {
            warn!(
                attempt_id,
                "the SIP driver is gone: the call was not started"
            );
        }
        Ok((attempt_id, call_id))
    }

    fn run_of(&mut self, attempt_id: i64) -> Option<&mut Run> {
        self.runs
            .iter_mut()
            .find(|r| r.lines.contains_key(&attempt_id))
    }

    /// The detector a campaign's `amd.detector` asks for.
    fn amd_spec(&self, choice: &DetectorChoice, campaign: &str) -> AmdSpec {
        match choice {
            DetectorChoice::Builtin(config) => AmdSpec::Builtin(config.clone()),
            DetectorChoice::Plugin(name) => AmdSpec::Plugin {
                plugins: self.ctx.plugins.clone(),
                name: name.clone(),
                campaign: campaign.to_owned(),
            },
        }
    }

    /// What a campaign call's report means to event-sink plugins.
    fn emit_call(&mut self, event: &DialerEvent, now: i64) {
        if !self.ctx.plugins.wants_events() {
            return;
        }
        let (attempt_id, call_event) = match event {
            DialerEvent::Answered { attempt_id, .. } => (*attempt_id, CallEvent::Answered),
            DialerEvent::Machine { attempt_id, .. } => (*attempt_id, CallEvent::Machine),
            DialerEvent::Connected {
                attempt_id, agent, ..
            } => (
                *attempt_id,
                CallEvent::Connected {
                    agent: agent.clone(),
                },
            ),
            DialerEvent::Abandoned { .. } => return,
            DialerEvent::Ended(r) => (
                r.attempt_id,
                CallEvent::Ended {
                    outcome: r.outcome.clone(),
                    sip_status: r.sip_status,
                    talk_ms: r.talk_ms,
                },
            ),
        };
        let plugins = self.ctx.plugins.clone();
        let Some(run) = self.run_of(attempt_id) else {
            return;
        };
        let campaign = run.config.name.clone();
        let Some(line) = run.lines.get(&attempt_id) else {
            return;
        };
        plugins.emit_call(&line.call_id, || call_event);
        if let DialerEvent::Ended(r) = event {
            plugins.emit(Event::Contact {
                at_ms: now,
                campaign,
                contact_id: line.contact.id,
                attempt_id: Some(attempt_id),
                phone: line.contact.phone.clone(),
                event: "attempt_ended".into(),
                outcome: Some(r.outcome.clone()),
            });
        }
    }

    async fn on_event(&mut self, event: DialerEvent) {
        let now = now_ms();
        self.emit_call(&event, now);
        match event {
            DialerEvent::Answered {
                attempt_id,
                ring_ms,
            } => {
                if let Some(run) = self.run_of(attempt_id)
                    && let Some(line) = run.lines.get_mut(&attempt_id)
                {
                    line.answered_ms = Some(now);
                    if !line.segment {
                        run.pacer.dial_result(now, DialOutcome::Live, ring_ms);
                    }
                }
            }
            DialerEvent::Machine {
                attempt_id,
                ring_ms,
            } => {
                if let Some(run) = self.run_of(attempt_id)
                    && let Some(line) = run.lines.get_mut(&attempt_id)
                {
                    line.answered_ms = Some(now);
                    line.machine = true;
                    // Needs no agent; a broadcast's message still holds a line.
                    line.connected = !line.broadcast;
                    if !line.segment {
                        run.pacer.dial_result(now, DialOutcome::Machine, ring_ms);
                    }
                }
            }
            DialerEvent::Connected {
                attempt_id,
                wait_ms,
                agent,
            } => {
                // Whose call it is, on the record during the call already
                // (the agent's desktop acts on the attempt meanwhile).
                self.ctx.store.spawn(move |s| {
                    if let Err(e) = s.set_attempt_agent(attempt_id, &agent) {
                        warn!(attempt_id, error = %e, "the attempt's agent not stored");
                    }
                });
                if let Some(run) = self.run_of(attempt_id)
                    && let Some(line) = run.lines.get_mut(&attempt_id)
                {
                    line.connected = true;
                    if !line.segment {
                        run.pacer.connected(now, wait_ms);
                    }
                }
            }
            DialerEvent::Abandoned { attempt_id } => {
                if let Some(run) = self.run_of(attempt_id)
                    && let Some(line) = run.lines.get_mut(&attempt_id)
                {
                    line.abandoned = true;
                    if !line.segment {
                        let limit = run.pacer.config().connect_limit_ms;
                        run.pacer.abandoned(now, limit);
                    }
                }
            }
            DialerEvent::Ended(result) => self.ended(result, now).await,
        }
    }

    async fn ended(&mut self, result: CallResult, now: i64) {
        let scripts = self.ctx.scripts.clone();
        let store = self.ctx.store.clone();
        let Some(run) = self.run_of(result.attempt_id) else {
            return;
        };
        let Some(line) = run.lines.remove(&result.attempt_id) else {
            return;
        };
        if line.segment {
            // Neither the pacer's line nor its lesson.
        } else if line.answered_ms.is_none() {
            let outcome = match result.outcome.as_str() {
                "busy" | "rejected" => DialOutcome::Busy,
                "no_answer" => DialOutcome::NoAnswer,
                "invalid_number" => DialOutcome::Invalid,
                _ => DialOutcome::Failed,
            };
            run.pacer.dial_result(now, outcome, result.ring_ms);
        } else if line.connected && !line.machine {
            run.pacer.call_finished(now, result.talk_ms.unwrap_or(0));
        }
        let mut policy = dialpoint::RetryContext::of(&run.config);
        policy.broadcast = line.broadcast;
        let contact = line.contact;
        let end = result;
        let written = store
            .run(move |s| {
                let attempts = contact.attempts + 1;
                let next_at_ms = dialpoint::next_attempt(
                    &scripts,
                    &policy,
                    &contact,
                    &end.outcome,
                    attempts,
                    now,
                    None,
                );
                s.finish_attempt(&AttemptEnd {
                    attempt_id: end.attempt_id,
                    outcome: end.outcome.clone(),
                    sip_status: end.sip_status,
                    trunk: end.trunk.clone(),
                    answered_ms: end.answered_ms,
                    ended_ms: end.ended_ms,
                    agent: end.agent.clone(),
                    detail: (!end.vars.is_empty())
                        .then(|| serde_json::to_string(&end.vars).unwrap_or_default()),
                    next_at_ms,
                    abandoned: end.outcome == "abandoned",
                })
            })
            .await;
        if let Err(e) = written {
            warn!(error = %e, "attempt result not written");
        }
    }
}

/// The contact as the Lua hooks see it.
pub fn script_contact(c: &ContactRecord) -> waihu_script::Contact {
    waihu_script::Contact {
        id: c.id,
        phone: c.phone.clone(),
        timezone: Some(c.timezone.clone()),
        attempts: c.attempts,
        last_agent: c.last_agent.clone(),
        fields: c.fields.clone(),
    }
}

fn new_token() -> String {
    format!("{:016x}", getrandom::u64().unwrap_or(0))
}
