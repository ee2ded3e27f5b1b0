//! A deterministic simulator of a campaign's carrier and agents, driving
//! the same [`Pacer`] the dialer uses.
//!
//! Time is virtual: the simulator keeps a queue of timed events (a line's
//! result, a customer's patience running out, the end of a call, a
//! wrap-up or a preview, the dialer's tick) and jumps from one to the
//! next, so eight hours of a hundred agents take a fraction of a second.
//! Every random draw comes from one generator seeded by the caller: the
//! same scenario, mode, team and seed give the same [`SimReport`].
//!
//! What is modelled:
//! - **Carrier**: each dial reaches a fresh contact (unless the scenario
//!   caps the list) and ends live, machine, busy, no answer, invalid or
//!   failed by the scenario's weights. Live answers and machines come
//!   after a ring time drawn from `ring`; one that would come after the
//!   no-answer timeout is a no answer at the timeout. A machine is known
//!   `machine_detect_ms` after its answer, and its line is freed then.
//!   Busy and invalid come back after their own short delays.
//! - **Agents**: talk and wrap-up times drawn from the scenario. A live
//!   answer goes to the agent ready longest; if none is ready it waits up
//!   to `connect_limit_ms` for the first agent to finish wrap-up, and is
//!   abandoned (the customer hears the safe-harbour message) otherwise.
//!   Agents never pause or leave.
//! - **Dialer**: every `tick_ms` it shows the pacer a [`Snapshot`] and
//!   dials what it is told. In preview mode it hands each ready agent a
//!   record; the agent studies it (`preview`), the line is dialled, the
//!   agent hears the ringing and gets the call if it is answered live, or
//!   goes on to the next record.
//! - **Broadcast**: no agents; a live answer holds its line while the
//!   message plays (for a `talk` time).

mod report;
mod scenario;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::acd::Ms;
use crate::pacing::{DialOutcome, PaceMode, Pacer, PacingConfig, Snapshot};
pub use report::{SimReport, table};
pub use scenario::{Outcomes, Scenario, ScenarioError, Spread};

/// Runs `scenario` for `hours` with `agents` agents, the pacer in `mode`
/// with its default settings (the scenario's connect limit).
pub fn run(scenario: &Scenario, mode: PaceMode, agents: u32, hours: f64, seed: u64) -> SimReport {
    let config = PacingConfig {
        connect_limit_ms: scenario.connect_limit_ms,
        ..PacingConfig::new(mode)
    };
    run_with(scenario, config, agents, hours, seed)
}

/// [`run`] with the pacer's settings given.
pub fn run_with(
    scenario: &Scenario,
    config: PacingConfig,
    agents: u32,
    hours: f64,
    seed: u64,
) -> SimReport {
    let mut sim = Sim::new(scenario, config, agents, hours, seed);
    sim.run();
    sim.report(seed)
}

type LineId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Tick,
    LineResult(LineId),
    Abandon(LineId),
    TalkEnd(usize),
    WrapEnd(usize),
    PreviewDone(usize),
    MessageEnd,
}

#[derive(Clone, Copy, Debug)]
struct Line {
    id: LineId,
    dialled_at: Ms,
    outcome: DialOutcome,
    /// Preview: the agent listening to the ringing.
    agent: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AgentState {
    Ready,
    Previewing,
    /// Preview: hearing the line they chose ring.
    Ringing,
    OnCall {
        talk_ms: Ms,
    },
    WrapUp {
        wrap_ms: Ms,
    },
}

#[derive(Clone, Copy, Debug)]
struct Agent {
    state: AgentState,
    since: Ms,
}

/// Running totals; times in agent-milliseconds.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    dials: u64,
    live: u64,
    connected: u64,
    abandoned: u64,
    machines: u64,
    wait_ms: i64,
    talk_ms: i64,
    wrap_ms: i64,
    idle_ms: i64,
    preview_ms: i64,
    /// Lines in progress integrated over time (line-milliseconds).
    line_ms: i64,
}

struct Sim<'a> {
    sc: &'a Scenario,
    mode: PaceMode,
    rng: Pcg64Mcg,
    pacer: Pacer,
    now: Ms,
    end: Ms,
    seq: u64,
    events: BinaryHeap<Reverse<(Ms, u64, Event)>>,
    agents: Vec<Agent>,
    /// Ready agents, longest ready first.
    ready: VecDeque<usize>,
    lines: Vec<Line>,
    next_line: LineId,
    /// Live answers waiting for an agent, oldest first: (line, answered at).
    waiting: VecDeque<(LineId, Ms)>,
    /// Broadcast: answered calls playing the message.
    playing: u32,
    contacts_left: Option<u64>,
    lines_changed_at: Ms,
    snap: Snapshot,
    t: Totals,
    agent_count: u32,
    hours: f64,
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario, config: PacingConfig, agents: u32, hours: f64, seed: u64) -> Sim<'a> {
        let hours = if hours.is_finite() {
            hours.max(0.0)
        } else {
            0.0
        };
        let mode = config.mode;
        let team = if matches!(mode, PaceMode::Broadcast { .. }) {
            0
        } else {
            agents
        };
        let mut sim = Sim {
            sc,
            mode,
            rng: Pcg64Mcg::seed_from_u64(seed),
            pacer: Pacer::new(config),
            now: 0,
            end: (hours * 3_600_000.0).round() as Ms,
            seq: 0,
            events: BinaryHeap::new(),
            agents: vec![
                Agent {
                    state: AgentState::Ready,
                    since: 0,
                };
                team as usize
            ],
            ready: (0..team as usize).collect(),
            lines: Vec::new(),
            next_line: 0,
            waiting: VecDeque::new(),
            playing: 0,
            contacts_left: sc.contacts,
            lines_changed_at: 0,
            snap: Snapshot::default(),
            t: Totals::default(),
            agent_count: team,
            hours,
        };
        sim.at(0, Event::Tick);
        sim
    }

    fn at(&mut self, when: Ms, ev: Event) {
        self.seq += 1;
        self.events.push(Reverse((when, self.seq, ev)));
    }

    fn run(&mut self) {
        while let Some(Reverse((when, _, ev))) = self.events.pop() {
            if when > self.end {
                break;
            }
            self.now = when;
            match ev {
                Event::Tick => self.tick(),
                Event::LineResult(id) => self.line_result(id),
                Event::Abandon(id) => self.abandon(id),
                Event::TalkEnd(a) => self.talk_end(a),
                Event::WrapEnd(a) => self.wrap_end(a),
                Event::PreviewDone(a) => {
                    self.set_state(a, AgentState::Ringing);
                    self.dial(Some(a));
                }
                Event::MessageEnd => self.playing = self.playing.saturating_sub(1),
            }
        }
        self.now = self.end;
        for a in 0..self.agents.len() {
            let state = self.agents[a].state;
            self.set_state(a, state);
        }
        self.lines_changed();
    }

    fn set_state(&mut self, a: usize, state: AgentState) {
        let agent = &mut self.agents[a];
        let spent = self.now - agent.since;
        match agent.state {
            AgentState::Ready => self.t.idle_ms += spent,
            AgentState::Previewing | AgentState::Ringing => self.t.preview_ms += spent,
            AgentState::OnCall { .. } => self.t.talk_ms += spent,
            AgentState::WrapUp { .. } => self.t.wrap_ms += spent,
        }
        agent.state = state;
        agent.since = self.now;
    }

    /// Integrates the lines in progress up to now; call before the count
    /// changes.
    fn lines_changed(&mut self) {
        self.t.line_ms += self.lines.len() as i64 * (self.now - self.lines_changed_at);
        self.lines_changed_at = self.now;
    }

    fn take_contact(&mut self) -> bool {
        match &mut self.contacts_left {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }

    fn tick(&mut self) {
        self.fill_snapshot();
        if self.mode == PaceMode::Preview {
            for _ in 0..self.pacer.preview_slots(&self.snap) {
                if !self.take_contact() {
                    break;
                }
                let Some(a) = self.ready.pop_front() else {
                    break;
                };
                self.set_state(a, AgentState::Previewing);
                let study = self.sc.preview.sample(&mut self.rng);
                self.at(self.now + study, Event::PreviewDone(a));
            }
        } else {
            let n = self.pacer.lines_to_dial(self.now, &self.snap);
            for _ in 0..n {
                if !self.take_contact() {
                    break;
                }
                self.dial(None);
            }
        }
        self.at(self.now + self.sc.tick_ms, Event::Tick);
    }

    fn fill_snapshot(&mut self) {
        let now = self.now;
        let s = &mut self.snap;
        s.agents_ready = self.ready.len() as u32;
        s.agents_on_call.clear();
        s.agents_wrap_up.clear();
        for a in &self.agents {
            match a.state {
                AgentState::OnCall { .. } => s.agents_on_call.push(now - a.since),
                AgentState::WrapUp { .. } => s.agents_wrap_up.push(now - a.since),
                _ => {}
            }
        }
        s.lines_in_progress.clear();
        s.lines_in_progress
            .extend(self.lines.iter().map(|l| now - l.dialled_at));
        s.answered_waiting = self.waiting.len() as u32 + self.playing;
    }

    /// What the carrier will do with a new line, and after how long.
    fn carrier(&mut self) -> (DialOutcome, Ms) {
        let sc = self.sc;
        let timeout = sc.no_answer_timeout_ms;
        let (outcome, after) = match sc.pick_outcome(&mut self.rng) {
            kind @ (0 | 1) => {
                let ring = sc.ring.sample(&mut self.rng);
                if ring >= timeout {
                    (DialOutcome::NoAnswer, timeout)
                } else if kind == 0 {
                    (DialOutcome::Live, ring)
                } else {
                    (DialOutcome::Machine, ring + sc.machine_detect_ms)
                }
            }
            2 => (
                DialOutcome::Busy,
                sc.busy_after.sample(&mut self.rng).min(timeout),
            ),
            3 => (DialOutcome::NoAnswer, timeout),
            4 => (
                DialOutcome::Invalid,
                sc.invalid_after.sample(&mut self.rng).min(timeout),
            ),
            _ => (
                DialOutcome::Failed,
                sc.invalid_after.sample(&mut self.rng).min(timeout),
            ),
        };
        (outcome, after.max(1))
    }

    fn dial(&mut self, agent: Option<usize>) {
        self.pacer.dial_started(self.now);
        self.t.dials += 1;
        let (outcome, after) = self.carrier();
        let id = self.next_line;
        self.next_line += 1;
        self.lines_changed();
        self.lines.push(Line {
            id,
            dialled_at: self.now,
            outcome,
            agent,
        });
        self.at(self.now + after, Event::LineResult(id));
    }

    fn line_result(&mut self, id: LineId) {
        let Some(pos) = self.lines.iter().position(|l| l.id == id) else {
            return;
        };
        self.lines_changed();
        let line = self.lines.swap_remove(pos);
        let now = self.now;
        self.pacer
            .dial_result(now, line.outcome, now - line.dialled_at);
        match line.outcome {
            DialOutcome::Live => self.t.live += 1,
            DialOutcome::Machine => self.t.machines += 1,
            _ => {}
        }
        if line.outcome != DialOutcome::Live {
            if let Some(a) = line.agent {
                self.make_ready(a);
            }
            return;
        }
        if matches!(self.mode, PaceMode::Broadcast { .. }) {
            self.playing += 1;
            let message = self.sc.talk.sample(&mut self.rng);
            self.at(now + message, Event::MessageEnd);
            return;
        }
        let agent = line.agent.or_else(|| self.ready.pop_front());
        match agent {
            Some(a) => self.connect(a, 0),
            None => {
                self.waiting.push_back((id, now));
                self.at(now + self.sc.connect_limit_ms, Event::Abandon(id));
            }
        }
    }

    fn abandon(&mut self, id: LineId) {
        if let Some(pos) = self.waiting.iter().position(|(l, _)| *l == id) {
            let waited = self.now - self.waiting[pos].1;
            self.waiting.remove(pos);
            self.pacer.abandoned(self.now, waited);
            self.t.abandoned += 1;
        }
    }

    fn connect(&mut self, a: usize, waited: Ms) {
        self.pacer.connected(self.now, waited);
        self.t.connected += 1;
        self.t.wait_ms += waited;
        let talk_ms = self.sc.talk.sample(&mut self.rng).max(1);
        self.set_state(a, AgentState::OnCall { talk_ms });
        self.at(self.now + talk_ms, Event::TalkEnd(a));
    }

    fn talk_end(&mut self, a: usize) {
        if let AgentState::OnCall { talk_ms } = self.agents[a].state {
            self.pacer.call_finished(self.now, talk_ms);
        }
        let wrap_ms = self.sc.wrap_up.sample(&mut self.rng);
        self.set_state(a, AgentState::WrapUp { wrap_ms });
        self.at(self.now + wrap_ms, Event::WrapEnd(a));
    }

    fn wrap_end(&mut self, a: usize) {
        if let AgentState::WrapUp { wrap_ms } = self.agents[a].state {
            self.pacer.wrap_up_finished(self.now, wrap_ms);
        }
        match self.waiting.pop_front() {
            Some((_, answered)) => self.connect(a, self.now - answered),
            None => self.make_ready(a),
        }
    }

    fn make_ready(&mut self, a: usize) {
        self.set_state(a, AgentState::Ready);
        self.ready.push_back(a);
    }

    fn report(&self, seed: u64) -> SimReport {
        let agent_ms = f64::from(self.agent_count) * self.end as f64;
        let agent_hours = agent_ms / 3_600_000.0;
        let per = |x: f64, d: f64| if d > 0.0 { x / d } else { 0.0 };
        let t = &self.t;
        SimReport {
            scenario: self.sc.name.clone(),
            mode: self.mode,
            agents: self.agent_count,
            hours: self.hours,
            seed,
            dials: t.dials,
            live: t.live,
            connected: t.connected,
            abandoned: t.abandoned,
            machines: t.machines,
            talk_min_per_agent_hour: per(t.talk_ms as f64 / 60_000.0, agent_hours),
            talk_ceiling_min: self.sc.talk_ceiling_min_per_hour(),
            idle_fraction: per(t.idle_ms as f64, agent_ms),
            preview_fraction: per(t.preview_ms as f64, agent_ms),
            wrap_fraction: per(t.wrap_ms as f64, agent_ms),
            abandon_rate: per(t.abandoned as f64, t.live as f64),
            contacts_per_hour: per(t.connected as f64, self.hours),
            dials_per_hour: per(t.dials as f64, self.hours),
            dials_per_agent_hour: per(t.dials as f64, agent_hours),
            lines_per_agent: per(t.line_ms as f64, agent_ms),
            mean_wait_ms: per(t.wait_ms as f64, t.connected as f64),
        }
    }
}

#[cfg(test)]
mod tests;
