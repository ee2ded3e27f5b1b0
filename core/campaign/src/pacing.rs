//! Pacing: how many new lines a campaign dials now.
//!
//! A [`Pacer`] serves one running campaign. The dialer tells it what
//! happens (a dial started, its result, a live answer connected or
//! abandoned, an agent's call and wrap-up ended) and, every tick (say
//! every 200 ms), shows it a [`Snapshot`] of the campaign's agents and
//! lines and asks [`Pacer::lines_to_dial`]. The pacer reads no clock and
//! does no IO: `now` is an argument in unix milliseconds, so the
//! simulator in [`crate::sim`] drives the same code with a virtual clock.
//!
//! # Modes
//! - **Progressive**: one line per ready agent (times `ratio`, 1.0 by
//!   default), less the lines in progress and the answered calls waiting.
//!   It never dials for an agent who is not ready, so it abandons only
//!   when an agent vanishes between the dial and the answer.
//! - **Preview**: the agent studies the record first. The pacer dials
//!   nothing by itself; [`Pacer::preview_slots`] says how many records to
//!   hand out (one per ready agent) and each accepted preview is one line
//!   the dialer places for that agent, reported with
//!   [`Pacer::dial_started`] like any other.
//! - **Broadcast**: no agents; keeps up to `max_lines` lines busy.
//! - **Predictive**: dials ahead of the agents, described below.
//!
//! # The predictive model
//! The pacer learns, with exponential forgetting (see `stats`): the share
//! `r` of dials answered live; the distribution of the time from dial to
//! a live answer and from dial to any other result (busy, no answer,
//! machine once detected...); the distributions of talk and wrap-up time.
//!
//! A line dialled now is answered live, if at all, after the ring time
//! of a live answer. The pacer compares supply and demand at four
//! moments `h` ahead, the 10th, 35th, 60th and 85th percentiles of that
//! ring time:
//!
//! - **Demand** at `h`: the answered calls already waiting, plus, for each
//!   line in progress, the chance it is answered live by `h` given that it
//!   has rung for its elapsed time `e` without a result:
//!   `r·(L(e+h) − L(e)) / (r·(1 − L(e)) + (1 − r)·(1 − O(e)))`, with `L`
//!   and `O` the learned distributions of the time to a live answer and
//!   to any other result. A new line adds `r·L(h)`.
//! - **Supply** at `h`: the ready agents, plus, for each agent on a call
//!   for `e` so far, the chance the call and then the wrap-up end by
//!   `h + connect_limit` (an answered customer waits that long for an
//!   agent): `(T(e + h + limit − w) − T(e)) / (1 − T(e))`, with `T` the
//!   talk distribution, averaged over five quantiles `w` of the wrap-up;
//!   for each agent in wrap-up, the same from the wrap-up distribution.
//!
//! Each of these counts is a sum of independent yes/no chances, so it is
//! treated as normal with the sum of the `p` as mean and the sum of the
//! `p·(1 − p)` as variance. A live answer that finds no agent by its
//! deadline is abandoned, so the expected abandons at `h` are
//! `E[max(demand − supply, 0)]`, in closed form for the normal:
//! `μ·Φ(μ/σ) + σ·φ(μ/σ)`. Call `A(n)` the worst of the four moments with
//! `n` new lines.
//!
//! # Choosing the lines
//! The n-th new line brings `r` expected live answers and
//! `A(n) − A(n − 1)` expected abandons, so `(A(n) − A(n − 1)) / r` is
//! the chance that its live answer would be abandoned: its *risk*. Each
//! line is riskier than the one before (the shortfall's mean grows with
//! `n` faster than its spread), so the pacer adds lines while their risk
//! is at most the allowed risk `λ` (below), with at most `max_lines_per_agent` lines in progress per
//! staffed agent, and never fewer lines than progressive would (one per
//! ready agent), which abandon nothing.
//!
//! The model is a lower bound on the abandons (shortfalls between the
//! four moments go unseen, and the normal is thin-tailed for small
//! teams), so `λ` is a risk in the model's terms: held at 3% on the
//! reference scenario it abandons 5 to 9% of live answers (10 to 100
//! agents), at 6% it abandons 9 to 16%. That is why `λ` is not fixed but
//! steered by what is actually abandoned.
//!
//! # Spending the abandon budget
//! The rule is abandons ≤ `abandon_target` × live answers over the
//! window (30 days by default). The budget left is
//! `left = target × lives − abandons` over the window: every live answer
//! adds `target` to it, every abandon takes 1. The allowed risk is
//!
//! `λ = clamp((left − budget_reserve) / budget_spread, 0, 2 × target)`
//!
//! so a fresh campaign starts like progressive and dials further ahead
//! as live answers earn budget; abandons spend it and pull `λ` back; a
//! campaign that used up its budget (or went over) dials like
//! progressive until enough live answers have paid it back. `λ` settles
//! where the abandons made match the budget earned, with about
//! `budget_reserve + budget_spread × λ` abandons left in hand, so the rate
//! over the window stays just under the target whatever the model's
//! bias. Unused budget (a quiet week in a 30-day window) is spent at the
//! highest risk, `2 × target`, and no faster: on the reference scenario
//! that is a run at about 15% abandons until the surplus is gone, which
//! the window allows; a shorter window (24 h) keeps such runs short.
//!
//! The window keeps counts per bucket (a 720th of the window), so 30
//! days cost at most 720 small records; [`Pacer::save`] and
//! [`Pacer::restore`] carry them and the learned distributions across a
//! restart.

mod budget;
mod model;
mod stats;

use serde::{Deserialize, Serialize};

use crate::acd::Ms;
use budget::{AbandonWindow, BucketSaved};
use model::{Learned, LearnedSaved, Model, Plan};

/// One day.
pub const DAY_MS: Ms = 24 * 3600 * 1000;

/// How a campaign is dialled. Manual dialling is not paced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaceMode {
    /// Dial ahead of the agents from the learned statistics.
    #[default]
    Predictive,
    /// One line per ready agent (times `ratio`).
    Progressive,
    /// The agent reviews the record, then one line is dialled for them.
    Preview,
    /// No agents: keep up to `max_lines` lines busy (automatic messages).
    Broadcast { max_lines: u32 },
}

impl PaceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PaceMode::Predictive => "predictive",
            PaceMode::Progressive => "progressive",
            PaceMode::Preview => "preview",
            PaceMode::Broadcast { .. } => "broadcast",
        }
    }
}

/// A campaign's pacing settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacingConfig {
    pub mode: PaceMode,
    /// Highest share of live answers that may be abandoned over the window.
    pub abandon_target: f64,
    /// The window the abandon rate is measured over (30 days by default;
    /// 24 h is the other usual rule).
    pub abandon_window_ms: Ms,
    /// An answered call with no agent after this long is abandoned.
    pub connect_limit_ms: Ms,
    /// Progressive: lines per ready agent.
    pub ratio: f64,
    /// Predictive: never more lines in progress than this per staffed
    /// agent (ready, on a call or in wrap-up).
    pub max_lines_per_agent: f64,
    /// Predictive: abandons kept in hand. Below this many abandons left
    /// in the window's budget, the pacer dials no further ahead than
    /// progressive would.
    pub budget_reserve: f64,
    /// Predictive: each abandon left beyond the reserve raises the risk a
    /// new line may carry by `1 / budget_spread`, up to twice the target.
    pub budget_spread: f64,
}

impl Default for PacingConfig {
    fn default() -> PacingConfig {
        PacingConfig {
            mode: PaceMode::Predictive,
            abandon_target: 0.03,
            abandon_window_ms: 30 * DAY_MS,
            connect_limit_ms: 2000,
            ratio: 1.0,
            max_lines_per_agent: 3.0,
            budget_reserve: 2.0,
            budget_spread: 200.0,
        }
    }
}

impl PacingConfig {
    /// The defaults, in `mode`.
    pub fn new(mode: PaceMode) -> PacingConfig {
        PacingConfig {
            mode,
            ..PacingConfig::default()
        }
    }
}

/// What the campaign looks like at the moment of a decision. Times are
/// elapsed milliseconds in the current state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Agents free for this campaign's calls: not on a call, not in
    /// wrap-up, not holding a preview.
    pub agents_ready: u32,
    /// Talk time so far of each agent on a call.
    pub agents_on_call: Vec<Ms>,
    /// Wrap-up time so far of each agent in wrap-up.
    pub agents_wrap_up: Vec<Ms>,
    /// Time since the dial of each line whose result is not reported yet
    /// (ringing, or answered and still in machine detection).
    pub lines_in_progress: Vec<Ms>,
    /// Live answers waiting for an agent. In broadcast: answered calls
    /// still playing their message (they hold a line).
    pub answered_waiting: u32,
}

impl Snapshot {
    fn staffed(&self) -> usize {
        self.agents_ready as usize + self.agents_on_call.len() + self.agents_wrap_up.len()
    }
}

/// How a dial ended, as far as pacing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialOutcome {
    /// A person answered: the call now needs an agent.
    Live,
    /// An answering machine, once detected.
    Machine,
    Busy,
    NoAnswer,
    Invalid,
    Failed,
}

/// Figures for metrics and dashboards.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PacingStats {
    pub mode: PaceMode,
    /// Learned share of dials answered live.
    pub answer_rate: f64,
    /// Learned median time from the dial to a live answer.
    pub live_ring_median_ms: f64,
    pub talk_mean_ms: f64,
    pub wrap_up_mean_ms: f64,
    /// Live answers and abandons in the window (as of the last `now` seen).
    pub window_live: u64,
    pub window_abandons: u64,
    pub abandon_rate: f64,
    /// Abandons still allowed in the window (negative: over the target).
    pub abandons_left: f64,
    /// The abandon risk the last predictive decision let a new line carry.
    pub line_risk: f64,
    /// Totals since the pacer was created or restored.
    pub dials: u64,
    pub live: u64,
    pub connected: u64,
    pub abandoned: u64,
    /// Mean wait of the connected live answers for their agent, and of
    /// the abandoned ones before they were given up.
    pub mean_connect_wait_ms: f64,
    pub mean_abandon_wait_ms: f64,
    /// The last decision: lines asked for, agents expected free, live
    /// answers and abandons expected.
    pub last_lines: u32,
    pub expected_free: f64,
    pub expected_live: f64,
    pub expected_abandons: f64,
}

/// A pacer's state to persist across a restart: the abandon window and
/// the learned distributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PacerSaved {
    window: Vec<BucketSaved>,
    learned: LearnedSaved,
}

#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    dials: u64,
    live: u64,
    connected: u64,
    abandoned: u64,
    connect_wait_ms: Ms,
    abandon_wait_ms: Ms,
}

/// Paces one campaign (see the module docs).
#[derive(Clone, Debug)]
pub struct Pacer {
    config: PacingConfig,
    learned: Learned,
    window: AbandonWindow,
    model: Option<Model>,
    /// Observations since the model was built.
    fresh: u64,
    last_now: Ms,
    totals: Totals,
    last_plan: Plan,
    line_risk: f64,
}

impl Pacer {
    pub fn new(config: PacingConfig) -> Pacer {
        Pacer {
            window: AbandonWindow::new(config.abandon_window_ms),
            config,
            learned: Learned::new(),
            model: None,
            fresh: 0,
            last_now: 0,
            totals: Totals::default(),
            last_plan: Plan::default(),
            line_risk: 0.0,
        }
    }

    /// A pacer that goes on from a saved state. Parts of the state that do
    /// not fit this version are replaced by the priors; a window of
    /// another length is re-bucketed.
    pub fn restore(config: PacingConfig, saved: &PacerSaved) -> Pacer {
        let mut p = Pacer::new(config);
        p.learned = Learned::restore(&saved.learned);
        p.window.restore(&saved.window);
        p
    }

    pub fn save(&self) -> PacerSaved {
        PacerSaved {
            window: self.window.save(),
            learned: self.learned.save(),
        }
    }

    pub fn config(&self) -> &PacingConfig {
        &self.config
    }

    /// Changes the settings (a manager tuning a running campaign); what
    /// was learned is kept, and the window too unless its length changed.
    pub fn set_config(&mut self, config: PacingConfig) {
        if config.abandon_window_ms != self.config.abandon_window_ms {
            let saved = self.window.save();
            self.window = AbandonWindow::new(config.abandon_window_ms);
            self.window.restore(&saved);
        }
        if config.connect_limit_ms != self.config.connect_limit_ms {
            self.model = None;
        }
        self.config = config;
    }

    fn seen(&mut self, now: Ms) {
        self.last_now = self.last_now.max(now);
    }

    /// A line was dialled (a preview accepted counts too).
    pub fn dial_started(&mut self, now: Ms) {
        self.seen(now);
        self.totals.dials += 1;
    }

    /// A dial's result, `ring_ms` after the dial (for a machine: once
    /// detected).
    pub fn dial_result(&mut self, now: Ms, outcome: DialOutcome, ring_ms: Ms) {
        self.seen(now);
        let live = outcome == DialOutcome::Live;
        self.learned.answers.add(live);
        let ring = ring_ms.max(0) as f64;
        if live {
            self.learned.live_ring.add(ring);
            self.window.record_live(now);
            self.totals.live += 1;
        } else {
            self.learned.other_end.add(ring);
        }
        self.fresh += 1;
    }

    /// A live answer reached an agent after waiting `wait_ms`.
    pub fn connected(&mut self, now: Ms, wait_ms: Ms) {
        self.seen(now);
        self.totals.connected += 1;
        self.totals.connect_wait_ms += wait_ms.max(0);
    }

    /// A live answer found no agent in time and was abandoned after
    /// waiting `wait_ms`.
    pub fn abandoned(&mut self, now: Ms, wait_ms: Ms) {
        self.seen(now);
        self.totals.abandon_wait_ms += wait_ms.max(0);
        self.window.record_abandon(now);
        self.totals.abandoned += 1;
    }

    /// An agent's call with a customer ended after `talk_ms`.
    pub fn call_finished(&mut self, now: Ms, talk_ms: Ms) {
        self.seen(now);
        self.learned.talk.add(talk_ms.max(0) as f64);
        self.fresh += 1;
    }

    /// An agent's wrap-up ended after `wrap_ms`.
    pub fn wrap_up_finished(&mut self, now: Ms, wrap_ms: Ms) {
        self.seen(now);
        self.learned.wrap.add(wrap_ms.max(0) as f64);
        self.fresh += 1;
    }

    /// How many new lines to dial now.
    pub fn lines_to_dial(&mut self, now: Ms, s: &Snapshot) -> u32 {
        self.seen(now);
        self.window.expire(now);
        let in_flight = s.lines_in_progress.len() as f64 + f64::from(s.answered_waiting);
        let lines = match self.config.mode {
            PaceMode::Preview => 0,
            PaceMode::Broadcast { max_lines } => lines_below(f64::from(max_lines), in_flight),
            PaceMode::Progressive => {
                let ratio = self.config.ratio.clamp(0.0, self.max_per_agent());
                lines_below((f64::from(s.agents_ready) * ratio).floor(), in_flight)
            }
            PaceMode::Predictive => self.predictive(now, s, in_flight),
        };
        self.last_plan.lines = lines;
        lines
    }

    fn max_per_agent(&self) -> f64 {
        self.config.max_lines_per_agent.max(1.0)
    }

    fn predictive(&mut self, now: Ms, s: &Snapshot, in_flight: f64) -> u32 {
        let floor = lines_below(f64::from(s.agents_ready), in_flight);
        let cap = lines_below(
            (s.staffed() as f64 * self.max_per_agent()).floor(),
            in_flight,
        );
        let risk = self.line_risk(now);
        self.line_risk = risk;
        if risk <= 0.0 {
            // Out of budget: no line beyond progressive's, not even one the
            // model thinks safe.
            self.last_plan = Plan::default();
            return floor;
        }
        let plan = self.model(now).plan(s, risk, cap);
        self.last_plan = plan;
        plan.lines.max(floor).min(cap.max(floor))
    }

    /// The model, rebuilt if data came in since it was built a while ago.
    fn model(&mut self, now: Ms) -> &Model {
        let stale = match &self.model {
            None => true,
            Some(m) => {
                now < m.built_at || (self.fresh > 0 && now - m.built_at >= model::REBUILD_MS)
            }
        };
        if stale {
            self.fresh = 0;
            self.model = None;
        }
        let (learned, limit) = (&self.learned, self.config.connect_limit_ms);
        self.model
            .get_or_insert_with(|| Model::build(now, learned, limit))
    }

    /// The abandon risk a new line may carry, from the budget left in the
    /// window (module docs).
    fn line_risk(&self, now: Ms) -> f64 {
        let target = self.config.abandon_target.max(0.0);
        let spread = self.config.budget_spread.max(1.0);
        let (lives, abandons) = self.window.counts(now);
        let left = target * lives as f64 - abandons as f64;
        ((left - self.config.budget_reserve) / spread).clamp(0.0, 2.0 * target)
    }

    /// Abandons over live answers in the window ending at `now`.
    pub fn abandon_rate(&self, now: Ms) -> f64 {
        let (lives, abandons) = self.window.counts(now);
        if lives == 0 {
            0.0
        } else {
            abandons as f64 / lives as f64
        }
    }

    /// Preview: how many records to hand out now (one per ready agent;
    /// the dialer counts an agent holding a record as not ready). Other
    /// modes: 0.
    pub fn preview_slots(&self, s: &Snapshot) -> u32 {
        match self.config.mode {
            PaceMode::Preview => s.agents_ready,
            _ => 0,
        }
    }

    pub fn stats(&self) -> PacingStats {
        let now = self.last_now;
        let (window_live, window_abandons) = self.window.counts(now);
        PacingStats {
            mode: self.config.mode,
            answer_rate: self.learned.answers.value(),
            live_ring_median_ms: self.learned.live_ring.cdf().quantile(0.5),
            talk_mean_ms: self.learned.talk.cdf().mean(),
            wrap_up_mean_ms: self.learned.wrap.cdf().mean(),
            window_live,
            window_abandons,
            abandon_rate: self.abandon_rate(now),
            abandons_left: self.config.abandon_target * window_live as f64 - window_abandons as f64,
            line_risk: self.line_risk,
            dials: self.totals.dials,
            live: self.totals.live,
            connected: self.totals.connected,
            abandoned: self.totals.abandoned,
            mean_connect_wait_ms: mean(self.totals.connect_wait_ms, self.totals.connected),
            mean_abandon_wait_ms: mean(self.totals.abandon_wait_ms, self.totals.abandoned),
            last_lines: self.last_plan.lines,
            expected_free: self.last_plan.expected_free,
            expected_live: self.last_plan.expected_live,
            expected_abandons: self.last_plan.expected_abandons,
        }
    }
}

fn mean(total_ms: Ms, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total_ms as f64 / count as f64
    }
}

/// How many lines fit under `limit` with `busy` already out.
fn lines_below(limit: f64, busy: f64) -> u32 {
    let n = (limit - busy).max(0.0);
    // `as` saturates; the value is finite and not negative.
    n as u32
}

#[cfg(test)]
mod tests;
