//! `campaigns:`: outbound campaigns, checked like the rest of the file.
//!
//! A campaign in YAML is its configuration; its state (draft, running,
//! paused, finished) and its contacts live in the store, so a restart
//! keeps where each campaign was.

use std::time::Duration;

use serde::Deserialize;
use waihu_campaign::contact::ImportSpec;
use waihu_campaign::rules::RetryPolicy;
use waihu_campaign::window::CallingWindow;

use super::validate::{Checker, ProblemKind};
use super::{Queue, Trunk};

/// A campaign as written in the file (or posted to the API as JSON).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignEntry {
    pub name: String,
    /// predictive, progressive, preview, manual or broadcast: the mode of
    /// a contact `campaign.select_mode` does not decide.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Ask `campaign.select_mode` for each contact's mode (segments).
    #[serde(default = "yes")]
    pub select_mode: bool,
    /// The trunk, or group of trunks, calls go out through.
    #[serde(default = "default_group")]
    pub trunk_group: String,
    /// The number customers see; the trunk's own when absent.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// The ACD queue whose agents take the answered calls.
    #[serde(default)]
    pub queue: Option<String>,
    /// When contacts may be called, in their own local time.
    #[serde(default)]
    pub window: CallingWindow,
    /// Attempts per contact at most (the "seven-times rule").
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// At most `calls` dials of one number in `days` days, across campaigns.
    #[serde(default)]
    pub daily_cap: Option<DailyCapEntry>,
    /// Abandoned calls, as a percentage of live answers, over the window.
    #[serde(default = "default_abandon_pct")]
    pub abandon_target_pct: f64,
    /// The window the abandon rate holds over: `30days` (default) or `24h`.
    #[serde(default = "default_abandon_window")]
    pub abandon_window: String,
    /// An answered call with no agent within this is abandoned.
    #[serde(default = "default_connect_limit")]
    pub connect_limit_ms: u64,
    /// How long a customer's phone may ring.
    #[serde(default = "default_ring")]
    pub ring_timeout_s: u64,
    /// Lines in progress at most (0: only the trunks' channels limit).
    #[serde(default)]
    pub max_lines: u32,
    /// Progressive: lines per ready agent.
    #[serde(default = "default_ratio")]
    pub ratio: f64,
    /// An abandoned call hears this: who called, how to opt out.
    #[serde(default = "default_safe_harbour")]
    pub safe_harbour: Vec<String>,
    /// The agents' on-screen call script (`agent_script.define`).
    #[serde(default)]
    pub agent_script: Option<String>,
    /// The agent's wrap-up after a call of this campaign lasts until the
    /// attempt's disposition is recorded (then the queue's wrap-up time
    /// applies). `false`: the queue's wrap-up time alone.
    #[serde(default = "yes")]
    pub disposition_required: bool,
    /// Broadcast: the Lua flow that runs each answered call
    /// (`broadcast.NAME(call, contact)`).
    #[serde(default)]
    pub broadcast: Option<String>,
    /// The language a broadcast speaks unless the contact's `lang` field
    /// says otherwise (`zh` or `en`): the flow sees it as the call
    /// variable `lang`.
    #[serde(default)]
    pub lang: Option<String>,
    /// Answering-machine detection on answer.
    #[serde(default)]
    pub amd: Option<AmdEntry>,
    /// How `waihu campaign import` reads this campaign's lists.
    #[serde(default)]
    pub import: ImportSpec,
    /// When to call again after each outcome, when no script defines
    /// `campaign.next_attempt`.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// `amd:`: listen to the first seconds after answer; a machine gets
/// `action` (`hangup`, or `message`: a broadcast waits for the beep and
/// runs its flow with `machine = yes`). `detector` tunes the built-in
/// detector's thresholds, or names a plugin that detects instead.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmdEntry {
    #[serde(default = "default_amd_action")]
    pub action: crate::call::AmdAction,
    #[serde(default)]
    pub detector: DetectorChoice,
}

/// `amd.detector`: a map of thresholds for the built-in detector, or the
/// name of a plugin (`plugins[].name`) with the answering-machine
/// capability.
#[derive(Clone, Debug, PartialEq)]
pub enum DetectorChoice {
    Builtin(waihu_media::amd::Config),
    Plugin(String),
}

impl Default for DetectorChoice {
    fn default() -> DetectorChoice {
        DetectorChoice::Builtin(waihu_media::amd::Config::default())
    }
}

impl DetectorChoice {
    fn validate(&self) -> Result<(), String> {
        match self {
            DetectorChoice::Builtin(config) => config.validate().map_err(|e| e.to_string()),
            DetectorChoice::Plugin(_) => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for DetectorChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DetectorChoice, D::Error> {
        struct ChoiceVisitor;
        impl<'de> serde::de::Visitor<'de> for ChoiceVisitor {
            type Value = DetectorChoice;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of detector thresholds, or a plugin name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DetectorChoice, E> {
                Ok(DetectorChoice::Plugin(v.to_owned()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<DetectorChoice, E> {
                Ok(DetectorChoice::default())
            }
            // Deserialised in place, so a misspelt threshold keeps its
            // precise message (an untagged enum would lose it).
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<DetectorChoice, A::Error> {
                waihu_media::amd::Config::deserialize(serde::de::value::MapAccessDeserializer::new(
                    map,
                ))
                .map(DetectorChoice::Builtin)
            }
        }
        d.deserialize_any(ChoiceVisitor)
    }
}

/// Every `amd.detector` that names a plugin names one in `plugins:`.
pub(super) fn check_amd_plugins(
    c: &mut Checker,
    campaigns: &[CampaignEntry],
    plugins: &[super::PluginSettings],
) {
    for (i, e) in campaigns.iter().enumerate() {
        if let Some(AmdEntry {
            detector: DetectorChoice::Plugin(name),
            ..
        }) = &e.amd
            && !plugins.iter().any(|p| &p.name == name)
        {
            c.report(
                format!("campaigns[{i}].amd.detector"),
                ProblemKind::UnknownPlugin {
                    value: name.clone(),
                },
            );
        }
    }
}

fn default_amd_action() -> crate::call::AmdAction {
    crate::call::AmdAction::Hangup
}

/// `daily_cap:`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyCapEntry {
    pub calls: u32,
    pub days: u32,
}

fn default_mode() -> String {
    "predictive".into()
}
fn yes() -> bool {
    true
}
fn default_group() -> String {
    "default".into()
}
fn default_max_attempts() -> u32 {
    7
}
fn default_abandon_pct() -> f64 {
    3.0
}
fn default_abandon_window() -> String {
    "30days".into()
}
fn default_connect_limit() -> u64 {
    2000
}
fn default_ring() -> u64 {
    25
}
fn default_ratio() -> f64 {
    1.0
}
fn default_safe_harbour() -> Vec<String> {
    vec!["en/safe_harbour".into()]
}

/// The dial modes a campaign may name.
pub const MODES: &str = "predictive, progressive, preview, manual, broadcast";

/// A checked campaign.
#[derive(Clone, Debug)]
pub struct Campaign {
    pub name: String,
    pub mode: String,
    pub select_mode: bool,
    pub trunk_group: String,
    pub caller_id: Option<String>,
    pub queue: Option<String>,
    pub window: CallingWindow,
    pub max_attempts: u32,
    pub daily_cap: Option<DailyCapEntry>,
    pub abandon_target: f64,
    pub abandon_window: Duration,
    pub connect_limit: Duration,
    pub ring_timeout: Duration,
    pub max_lines: u32,
    pub ratio: f64,
    pub safe_harbour: Vec<String>,
    pub agent_script: Option<String>,
    pub disposition_required: bool,
    pub broadcast: Option<String>,
    pub lang: Option<String>,
    pub amd: Option<AmdEntry>,
    pub import: ImportSpec,
    pub retry: RetryPolicy,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

pub(super) fn check_campaigns(
    c: &mut Checker,
    entries: &[CampaignEntry],
    queues: &[Queue],
    trunks: &[Trunk],
) -> Vec<Campaign> {
    let queue_known = |q: &str| queues.iter().any(|x| x.acd.name == q);
    let group_known = |g: &str| trunks.iter().any(|t| t.name == g || t.group == g);
    check_entries(c, entries, &queue_known, &group_known)
}

/// A campaign made or changed through the API, checked against the queues
/// and trunks the switch runs with: the campaign, or every problem.
pub fn check_campaign(
    entry: &CampaignEntry,
    queue_known: &dyn Fn(&str) -> bool,
    group_known: &dyn Fn(&str) -> bool,
) -> Result<Campaign, Vec<String>> {
    let mut c = Checker::default();
    let mut out = check_entries(
        &mut c,
        std::slice::from_ref(entry),
        queue_known,
        group_known,
    );
    let problems = c.into_problems();
    if problems.is_empty()
        && let Some(campaign) = out.pop()
    {
        return Ok(campaign);
    }
    Err(problems
        .iter()
        .map(|p| p.to_string().replacen("campaigns[0].", "", 1))
        .collect())
}

fn check_entries(
    c: &mut Checker,
    entries: &[CampaignEntry],
    queue_known: &dyn Fn(&str) -> bool,
    group_known: &dyn Fn(&str) -> bool,
) -> Vec<Campaign> {
    let mut out: Vec<Campaign> = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let key = |field: &str| format!("campaigns[{i}].{field}");
        if !is_name(&e.name) {
            c.report(
                key("name"),
                ProblemKind::BadName {
                    what: "campaign",
                    value: e.name.clone(),
                },
            );
        } else if out.iter().any(|o| o.name == e.name) {
            c.report(
                key("name"),
                ProblemKind::Duplicate {
                    what: "campaign",
                    value: e.name.clone(),
                },
            );
        }
        if !MODES.split(", ").any(|m| m == e.mode) {
            c.report(
                key("mode"),
                ProblemKind::OneOf {
                    value: e.mode.clone(),
                    allowed: MODES,
                },
            );
        }
        if !group_known(&e.trunk_group) {
            c.report(
                key("trunk_group"),
                ProblemKind::UnknownTrunkGroup {
                    value: e.trunk_group.clone(),
                },
            );
        }
        match &e.queue {
            Some(q) if !queue_known(q) => {
                c.report(key("queue"), ProblemKind::UnknownQueue { value: q.clone() })
            }
            None if matches!(e.mode.as_str(), "predictive" | "progressive" | "preview") => {
                c.report(key("queue"), ProblemKind::Missing)
            }
            _ => {}
        }
        if e.mode == "broadcast" {
            match &e.broadcast {
                None => c.report(key("broadcast"), ProblemKind::Missing),
                Some(name) if !is_name(name) => c.report(
                    key("broadcast"),
                    ProblemKind::BadName {
                        what: "broadcast flow",
                        value: name.clone(),
                    },
                ),
                Some(_) => {}
            }
            if e.max_lines == 0 {
                c.report(
                    key("max_lines"),
                    ProblemKind::OutOfRange {
                        value: 0,
                        min: 1,
                        max: 100_000,
                    },
                );
            }
        }
        if let Some(lang) = &e.lang
            && !matches!(lang.as_str(), "zh" | "en")
        {
            c.report(
                key("lang"),
                ProblemKind::OneOf {
                    value: lang.clone(),
                    allowed: "zh, en",
                },
            );
        }
        if let Some(amd) = &e.amd
            && let Err(err) = amd.detector.validate()
        {
            c.report(key("amd.detector"), ProblemKind::BadImport { reason: err });
        }
        if let Some(id) = &e.caller_id
            && (id.is_empty()
                || id.len() > 32
                || !id.chars().all(|ch| ch.is_ascii_digit() || ch == '+'))
        {
            c.report(
                key("caller_id"),
                ProblemKind::BadCallerId { value: id.clone() },
            );
        }
        c.range(&key("max_attempts"), u64::from(e.max_attempts), 1, 100);
        if let Err(err) = e.import.validate() {
            c.report(
                key("import"),
                ProblemKind::BadImport {
                    reason: err.to_string(),
                },
            );
        }
        if let Some(cap) = e.daily_cap {
            c.range(&key("daily_cap.calls"), u64::from(cap.calls), 1, 1_000);
            c.range(&key("daily_cap.days"), u64::from(cap.days), 1, 366);
        }
        if !(0.0..=100.0).contains(&e.abandon_target_pct) {
            c.report(
                key("abandon_target_pct"),
                ProblemKind::OutOfRange {
                    value: e.abandon_target_pct.max(0.0) as u64,
                    min: 0,
                    max: 100,
                },
            );
        }
        let abandon_window = humantime::parse_duration(&e.abandon_window).unwrap_or_else(|_| {
            c.report(
                key("abandon_window"),
                ProblemKind::BadSpan {
                    value: e.abandon_window.clone(),
                },
            );
            Duration::from_secs(30 * 86_400)
        });
        c.range(&key("connect_limit_ms"), e.connect_limit_ms, 100, 60_000);
        c.range(&key("ring_timeout_s"), e.ring_timeout_s, 5, 300);
        c.range(&key("max_lines"), u64::from(e.max_lines), 0, 100_000);
        if !(e.ratio > 0.0 && e.ratio <= 10.0) {
            c.report(
                key("ratio"),
                ProblemKind::OutOfRange {
                    value: e.ratio.max(0.0) as u64,
                    min: 0,
                    max: 10,
                },
            );
        }
        out.push(Campaign {
            name: e.name.clone(),
            mode: e.mode.clone(),
            select_mode: e.select_mode,
            trunk_group: e.trunk_group.clone(),
            caller_id: e.caller_id.clone(),
            queue: e.queue.clone(),
            window: e.window.clone(),
            max_attempts: e.max_attempts,
            daily_cap: e.daily_cap,
            abandon_target: e.abandon_target_pct / 100.0,
            abandon_window,
            connect_limit: Duration::from_millis(e.connect_limit_ms),
            ring_timeout: Duration::from_secs(e.ring_timeout_s),
            max_lines: e.max_lines,
            ratio: e.ratio,
            safe_harbour: e.safe_harbour.clone(),
            agent_script: e.agent_script.clone(),
            disposition_required: e.disposition_required,
            broadcast: e.broadcast.clone(),
            lang: e.lang.clone(),
            amd: e.amd.clone(),
            import: e.import.clone(),
            retry: e.retry.clone(),
        });
    }
    out
}
