//! `queues:` and `acd:`: ACD queues and the agents' feature codes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use waihu_campaign::acd::{QueueConfig, Strategy};

use super::Agent;
use super::validate::{Checker, ProblemKind};

/// A queue as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueEntry {
    pub name: String,
    /// longest-idle, round-robin, fewest-calls, ring-all or skills.
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// Agent ids, in order (round robin follows it).
    #[serde(default)]
    pub members: Vec<String>,
    /// How long an agent's phone rings before it counts as no answer.
    #[serde(default = "default_ring")]
    pub ring_timeout_s: u64,
    /// The agent's wrap-up time after each call of this queue.
    #[serde(default)]
    pub wrapup_s: u64,
    /// After this long waiting a call overflows (0: never).
    #[serde(default = "default_max_wait")]
    pub max_wait_s: u64,
    /// No-answers in a row that pause an agent (`no-answer`); 0: never.
    #[serde(default = "default_no_answer")]
    pub max_no_answer: u32,
    /// Music on hold: prompt names played in a loop.
    #[serde(default = "default_moh")]
    pub moh: Vec<String>,
    /// Tell callers their position every this many seconds (0: never).
    #[serde(default = "default_announce")]
    pub announce_every_s: u64,
    /// The prompts' language for announcements (a prompts subdirectory).
    #[serde(default = "default_language")]
    pub language: String,
    /// What happens on overflow when `queue.on_overflow` is not defined.
    #[serde(default)]
    pub overflow_prompt: Option<String>,
}

fn default_strategy() -> String {
    "longest-idle".into()
}
fn default_ring() -> u64 {
    15
}
fn default_max_wait() -> u64 {
    300
}
fn default_no_answer() -> u32 {
    3
}
fn default_moh() -> Vec<String> {
    vec!["moh/default".into()]
}
fn default_announce() -> u64 {
    30
}
fn default_language() -> String {
    "en".into()
}

/// A checked queue.
#[derive(Clone, Debug)]
pub struct Queue {
    pub acd: QueueConfig,
    pub moh: Vec<String>,
    pub announce_every: Option<Duration>,
    pub language: String,
    pub overflow_prompt: Option<String>,
}

/// `acd:`: how agents drive the ACD from their phones.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdSection {
    /// Feature codes an agent dials: log in (Ready), log out, pause, ready.
    pub login_code: String,
    pub logout_code: String,
    pub pause_code: String,
    pub ready_code: String,
    /// OPTIONS to logged-in agents' phones this often (0: never); a phone
    /// that stops answering is logged out (`unreachable`).
    pub probe_interval_s: u64,
}

impl Default for AcdSection {
    fn default() -> AcdSection {
        AcdSection {
            login_code: "*41".into(),
            logout_code: "*42".into(),
            pause_code: "*43".into(),
            ready_code: "*44".into(),
            probe_interval_s: 30,
        }
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn parse_strategy(s: &str) -> Option<Strategy> {
    Some(match s {
        "longest-idle" => Strategy::LongestIdle,
        "round-robin" => Strategy::RoundRobin,
        "fewest-calls" => Strategy::FewestCalls,
        "ring-all" => Strategy::RingAll,
        "skills" => Strategy::Skills,
        _ => return None,
    })
}

pub(super) fn check_queues(
    c: &mut Checker,
    entries: &[QueueEntry],
    agents: &[Agent],
) -> Vec<Queue> {
    let mut queues: Vec<Queue> = Vec::with_capacity(entries.len());
    for (i, q) in entries.iter().enumerate() {
        let key = |field: &str| format!("queues[{i}].{field}");
        if !is_name(&q.name) {
            c.report(
                key("name"),
                ProblemKind::BadName {
                    what: "queue",
                    value: q.name.clone(),
                },
            );
        } else if queues.iter().any(|o| o.acd.name == q.name) {
            c.report(
                key("name"),
                ProblemKind::Duplicate {
                    what: "queue",
                    value: q.name.clone(),
                },
            );
        }
        let strategy = parse_strategy(&q.strategy).unwrap_or_else(|| {
            c.report(
                key("strategy"),
                ProblemKind::OneOf {
                    value: q.strategy.clone(),
                    allowed: "longest-idle, round-robin, fewest-calls, ring-all, skills",
                },
            );
            Strategy::default()
        });
        for (j, m) in q.members.iter().enumerate() {
            if !agents.iter().any(|a| &a.id == m) {
                c.report(
                    format!("queues[{i}].members[{j}]"),
                    ProblemKind::UnknownAgent { id: m.clone() },
                );
            }
        }
        c.range(&key("ring_timeout_s"), q.ring_timeout_s, 1, 600);
        c.range(&key("wrapup_s"), q.wrapup_s, 0, 3_600);
        c.range(&key("max_wait_s"), q.max_wait_s, 0, 86_400);
        c.range(&key("max_no_answer"), u64::from(q.max_no_answer), 0, 100);
        c.range(&key("announce_every_s"), q.announce_every_s, 0, 3_600);
        if q.moh.is_empty() {
            c.report(key("moh"), ProblemKind::Empty);
        }
        let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        queues.push(Queue {
            acd: QueueConfig {
                name: q.name.clone(),
                strategy,
                members: q.members.clone(),
                ring_timeout_ms: secs(q.ring_timeout_s),
                wrapup_ms: secs(q.wrapup_s),
                max_wait_ms: (q.max_wait_s > 0).then(|| secs(q.max_wait_s)),
                max_no_answer: q.max_no_answer,
            },
            moh: q.moh.clone(),
            announce_every: (q.announce_every_s > 0)
                .then(|| Duration::from_secs(q.announce_every_s)),
            language: q.language.clone(),
            overflow_prompt: q.overflow_prompt.clone(),
        });
    }
    queues
}

/// Skill levels are 1..=100.
pub(super) fn check_skills(c: &mut Checker, i: usize, skills: &BTreeMap<String, u8>) {
    for (skill, level) in skills {
        let key = format!("agents[{i}].skills.{skill}");
        if !is_name(skill) {
            c.report(
                key,
                ProblemKind::BadName {
                    what: "skill",
                    value: skill.clone(),
                },
            );
        } else {
            c.range(&key, u64::from(*level), 1, 100);
        }
    }
}

pub(super) fn check_acd(c: &mut Checker, acd: &AcdSection) {
    let codes = [
        ("acd.login_code", &acd.login_code),
        ("acd.logout_code", &acd.logout_code),
        ("acd.pause_code", &acd.pause_code),
        ("acd.ready_code", &acd.ready_code),
    ];
    for (key, code) in codes {
        let ok = !code.is_empty()
            && code.len() <= 16
            && code
                .bytes()
                .all(|b| b.is_ascii_digit() || b"*#".contains(&b));
        if !ok {
            c.report(
                key,
                ProblemKind::BadFeatureCode {
                    value: code.clone(),
                },
            );
        }
    }
    c.range("acd.probe_interval_s", acd.probe_interval_s, 0, 3_600);
}
