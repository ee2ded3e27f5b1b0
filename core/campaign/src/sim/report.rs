//! What a simulated run measured, and a table of runs for a CLI.

use std::fmt;

use serde::Serialize;

use crate::pacing::PaceMode;

/// The figures of one simulated run. Fractions are of the agents'
/// logged-in time; rates are per simulated hour.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimReport {
    pub scenario: String,
    pub mode: PaceMode,
    pub agents: u32,
    pub hours: f64,
    pub seed: u64,
    pub dials: u64,
    /// Live answers.
    pub live: u64,
    /// Live answers that reached an agent.
    pub connected: u64,
    pub abandoned: u64,
    pub machines: u64,
    /// Minutes talking with customers per agent-hour.
    pub talk_min_per_agent_hour: f64,
    /// The most the scenario allows: talk / (talk + wrap-up), in minutes
    /// per hour.
    pub talk_ceiling_min: f64,
    /// Ready with nothing to do.
    pub idle_fraction: f64,
    /// Studying a record or hearing the chosen line ring (preview).
    pub preview_fraction: f64,
    pub wrap_fraction: f64,
    /// Abandoned over live answers.
    pub abandon_rate: f64,
    /// Live answers connected per hour.
    pub contacts_per_hour: f64,
    pub dials_per_hour: f64,
    pub dials_per_agent_hour: f64,
    /// Lines in progress per agent, averaged over time.
    pub lines_per_agent: f64,
    /// Mean wait of a connected live answer for its agent.
    pub mean_wait_ms: f64,
}

impl SimReport {
    /// The column titles matching [`SimReport`]'s `Display` row: talk
    /// minutes per agent-hour, idle and preview shares of agent time,
    /// abandoned share of live answers, contacts and dials per hour,
    /// dials per agent-hour, lines in progress per agent, mean wait of a
    /// connected answer.
    pub const HEADER: &'static str = "scenario                mode         agents  talk/ah  idle%  prev%  aband%  contacts/h  dials/h  dials/ah  lines/ag  wait_ms";
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<23} {:<12} {:>6}  {:>7.1}  {:>5.1}  {:>5.1}  {:>6.2}  {:>10.0}  {:>7.0}  {:>8.1}  {:>8.2}  {:>7.0}",
            self.scenario,
            self.mode.as_str(),
            self.agents,
            self.talk_min_per_agent_hour,
            100.0 * self.idle_fraction,
            100.0 * self.preview_fraction,
            100.0 * self.abandon_rate,
            self.contacts_per_hour,
            self.dials_per_hour,
            self.dials_per_agent_hour,
            self.lines_per_agent,
            self.mean_wait_ms,
        )
    }
}

/// A header and one row per report.
pub fn table(reports: &[SimReport]) -> String {
    let mut out = String::from(SimReport::HEADER);
    out.push('\n');
    for r in reports {
        out.push_str(&r.to_string());
        out.push('\n');
    }
    out
}
