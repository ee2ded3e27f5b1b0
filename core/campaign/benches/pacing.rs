//! The pacing table: every scenario in `scenarios/`, for 5, 10, 30 and
//! 100 agents, in predictive, progressive and preview mode, eight
//! simulated hours each, with the wall time of each run.
//!
//! `cargo bench -p waihu-campaign --bench pacing` (a plain `main`, no
//! harness). Arguments after `--` narrow it: a scenario name, an agent
//! count, or `seeds=N` to average N seeds (1 by default).
// Timing the runs is the point of a bench; the clock stays out of the crate.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use waihu_campaign::pacing::PaceMode;
use waihu_campaign::sim::{self, Scenario, SimReport};

const SCENARIOS: [(&str, &str); 4] = [
    ("reference", include_str!("../scenarios/reference.yaml")),
    (
        "low-answer-long-talk",
        include_str!("../scenarios/low-answer-long-talk.yaml"),
    ),
    (
        "short-talk-high-answer",
        include_str!("../scenarios/short-talk-high-answer.yaml"),
    ),
    ("slow-ring", include_str!("../scenarios/slow-ring.yaml")),
];
const TEAMS: [u32; 4] = [5, 10, 30, 100];
const MODES: [PaceMode; 3] = [
    PaceMode::Predictive,
    PaceMode::Progressive,
    PaceMode::Preview,
];
const HOURS: f64 = 8.0;

/// The mean of the runs' figures (counts summed).
fn mean(runs: &[SimReport]) -> SimReport {
    let n = runs.len() as f64;
    let avg = |f: fn(&SimReport) -> f64| runs.iter().map(f).sum::<f64>() / n;
    let sum = |f: fn(&SimReport) -> u64| runs.iter().map(f).sum::<u64>();
    SimReport {
        dials: sum(|r| r.dials),
        live: sum(|r| r.live),
        connected: sum(|r| r.connected),
        abandoned: sum(|r| r.abandoned),
        machines: sum(|r| r.machines),
        talk_min_per_agent_hour: avg(|r| r.talk_min_per_agent_hour),
        idle_fraction: avg(|r| r.idle_fraction),
        preview_fraction: avg(|r| r.preview_fraction),
        wrap_fraction: avg(|r| r.wrap_fraction),
        abandon_rate: avg(|r| r.abandon_rate),
        contacts_per_hour: avg(|r| r.contacts_per_hour),
        dials_per_hour: avg(|r| r.dials_per_hour),
        dials_per_agent_hour: avg(|r| r.dials_per_agent_hour),
        lines_per_agent: avg(|r| r.lines_per_agent),
        mean_wait_ms: avg(|r| r.mean_wait_ms),
        ..runs[0].clone()
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seeds: u64 = args
        .iter()
        .find_map(|a| a.strip_prefix("seeds=").and_then(|n| n.parse().ok()))
        .unwrap_or(1)
        .max(1);
    let team_filter: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let name_filter: Vec<&String> = args
        .iter()
        .filter(|a| SCENARIOS.iter().any(|(n, _)| n == a))
        .collect();

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for (name, text) in SCENARIOS {
        if !name_filter.is_empty() && !name_filter.iter().any(|n| *n == name) {
            continue;
        }
        let scenario = match Scenario::from_yaml(text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "\n{name}: {HOURS} h, ceiling {:.1} talk min/agent-hour, {seeds} seed(s)",
            scenario.talk_ceiling_min_per_hour()
        );
        println!("{}  wall/run", SimReport::HEADER);
        for agents in TEAMS {
            if !team_filter.is_empty() && !team_filter.contains(&agents) {
                continue;
            }
            for mode in MODES {
                let t = Instant::now();
                let runs: Vec<SimReport> = (1..=seeds)
                    .map(|seed| sim::run(&scenario, mode, agents, HOURS, seed))
                    .collect();
                let per_run = t.elapsed() / seeds as u32;
                slowest = slowest.max(per_run);
                println!(
                    "{}  {:>6.1} ms",
                    mean(&runs),
                    per_run.as_secs_f64() * 1000.0
                );
            }
        }
    }
    println!(
        "\ntotal {:.1} s, slowest run {:.0} ms",
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1000.0
    );
}
