//! The values that cross the line between the host and the scripts, as plain
//! Rust. Their Lua shape is the one of the script contract (`docs/lua-api.md`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A contact of a campaign list, as `campaign.*` and `blacklist.check` see it.
///
/// In Lua: `{ id, phone, timezone?, attempts, last_agent?, fields = { ... } }`;
/// the segmentation columns (`segment`, `inactive_days`, `vip`, ...) live in
/// `fields`, all strings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: i64,
    pub phone: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_agent: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// A customer considered for retention, as `retention.offers` sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    pub phone: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub tenure_months: u32,
    #[serde(default)]
    pub monthly_spend: f64,
    /// 0..1, higher is more likely to leave.
    #[serde(default)]
    pub churn_score: f64,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub broadband_expiry: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// How an attempt ended: the system outcomes first, then the five agent
/// dispositions (the categories an agent script's terminal node records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Busy,
    NoAnswer,
    InvalidNumber,
    Machine,
    Abandoned,
    Blacklisted,
    Failed,
    Unreachable,
    Success,
    Likely,
    Interested,
    Declined,
}

impl Outcome {
    /// Every outcome, system outcomes first.
    pub const ALL: [Outcome; 12] = [
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::InvalidNumber,
        Outcome::Machine,
        Outcome::Abandoned,
        Outcome::Blacklisted,
        Outcome::Failed,
        Outcome::Unreachable,
        Outcome::Success,
        Outcome::Likely,
        Outcome::Interested,
        Outcome::Declined,
    ];

    /// The string scripts see.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::InvalidNumber => "invalid_number",
            Outcome::Machine => "machine",
            Outcome::Abandoned => "abandoned",
            Outcome::Blacklisted => "blacklisted",
            Outcome::Failed => "failed",
            Outcome::Unreachable => "unreachable",
            Outcome::Success => "success",
            Outcome::Likely => "likely",
            Outcome::Interested => "interested",
            Outcome::Declined => "declined",
        }
    }

    /// One of the five categories an agent records (seed 002), as opposed to
    /// an outcome the system detects.
    pub fn is_agent_disposition(self) -> bool {
        matches!(
            self,
            Outcome::Unreachable
                | Outcome::Success
                | Outcome::Likely
                | Outcome::Interested
                | Outcome::Declined
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an outcome")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

/// How a contact is dialled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialMode {
    Predictive,
    Progressive,
    Preview,
    Manual,
    Broadcast,
}

impl DialMode {
    pub const ALL: [DialMode; 5] = [
        DialMode::Predictive,
        DialMode::Progressive,
        DialMode::Preview,
        DialMode::Manual,
        DialMode::Broadcast,
    ];

    /// The string scripts use.
    pub fn as_str(self) -> &'static str {
        match self {
            DialMode::Predictive => "predictive",
            DialMode::Progressive => "progressive",
            DialMode::Preview => "preview",
            DialMode::Manual => "manual",
            DialMode::Broadcast => "broadcast",
        }
    }

    /// The mode a script string names, if any.
    pub fn parse(s: &str) -> Option<DialMode> {
        DialMode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for DialMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `campaign.select_mode` decides for one contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeChoice {
    pub mode: DialMode,
    /// Higher is dialled first.
    pub priority: i64,
    /// The agent to route the contact to (preview of a recently inactive
    /// customer goes to the agent who last handled them).
    pub agent: Option<String>,
}

impl ModeChoice {
    /// The safe default when `campaign.select_mode` fails: the campaign's
    /// configured mode, priority 0, no agent.
    pub fn fallback(campaign_mode: DialMode) -> ModeChoice {
        ModeChoice {
            mode: campaign_mode,
            priority: 0,
            agent: None,
        }
    }
}

/// The safe default when `campaign.next_attempt` fails: no further attempt.
pub const NEXT_ATTEMPT_ON_ERROR: Option<i64> = None;

/// One retention offer, as `retention.offers` ranks them (best first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub code: String,
    pub text: String,
    pub price: f64,
}

/// The safe default when `retention.offers` fails: no offers.
pub fn offers_on_error() -> Vec<Offer> {
    Vec::new()
}

/// What `blacklist.check` decides for one number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny(String),
}

impl Verdict {
    /// The reason given when the blacklist script itself failed.
    pub const SCRIPT_ERROR: &'static str = "script error";

    /// The safe default when `blacklist.check` fails: deny (fail closed),
    /// reason "script error". A broken rule must never let a number through.
    pub fn fail_closed() -> Verdict {
        Verdict::Deny(Verdict::SCRIPT_ERROR.to_owned())
    }

    pub fn is_allow(&self) -> bool {
        matches!(self, Verdict::Allow)
    }
}

/// A branching call script (话术) an agent follows on screen, kept as data.
///
/// Validated at load: `start` names a node, every option's `next` names a
/// node, a terminal node records one of the five agent dispositions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentScript {
    pub name: String,
    pub title: String,
    /// "zh" or "en".
    pub language: String,
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
    /// Where `agent_script.define` was called, `file:line`.
    pub defined_at: String,
}

/// One step of an agent script: the text to say and either the choices the
/// agent can click or the outcome this terminal node records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// May hold `{field}` placeholders, see [`Node::render_say`].
    pub say: String,
    pub options: Vec<Choice>,
    pub outcome: Option<Outcome>,
}

impl Node {
    /// A node without options ends the script.
    pub fn is_terminal(&self) -> bool {
        self.options.is_empty()
    }

    /// `say` with every `{field}` replaced by the customer's field; a
    /// placeholder naming no field is left as written so the agent sees it.
    pub fn render_say(&self, fields: &BTreeMap<String, String>) -> String {
        let mut out = String::with_capacity(self.say.len());
        let mut rest = self.say.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if fields.contains_key(&after[..close]) => {
                    out.push_str(&fields[&after[..close]]);
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// An option the agent can click, and the node it leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    pub next: String,
}

/// A queued call that overflows, as `queue.on_overflow` sees it.
///
/// In Lua: one table `{ call_id, from, to, queue, waited_s, position,
/// priority, reason }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverflowInfo {
    pub call_id: String,
    /// The caller.
    pub from: String,
    /// What the caller dialled.
    pub to: String,
    /// The queue the call waits in.
    pub queue: String,
    /// Seconds waited so far.
    pub waited_s: u32,
    /// Place in the queue, 1 = next to be served.
    pub position: u32,
    /// The priority the call was queued with (0..=9).
    pub priority: u8,
    /// `"max_wait"` (waited too long) or `"no_agents"` (no agent logged in).
    pub reason: String,
}

/// What `queue.on_overflow` decides for an overflowing call. Serialised as
/// the Lua table it comes from: `{"action":"voicemail","prompt":"..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OverflowAction {
    /// Move the call to another queue (a valid queue name).
    Queue { queue: String },
    /// Take a message, after `prompt` if given.
    Voicemail {
        #[serde(default)]
        prompt: Option<String>,
    },
    /// Offer a callback, confirmed with `prompt` if given.
    Callback {
        #[serde(default)]
        prompt: Option<String>,
    },
    /// Hang up, after `prompt` if given.
    Hangup {
        #[serde(default)]
        prompt: Option<String>,
    },
}

impl OverflowAction {
    /// The `action` string scripts use.
    pub fn as_str(&self) -> &'static str {
        match self {
            OverflowAction::Queue { .. } => "queue",
            OverflowAction::Voicemail { .. } => "voicemail",
            OverflowAction::Callback { .. } => "callback",
            OverflowAction::Hangup { .. } => "hangup",
        }
    }
}

/// An agent changed state, as `agent.on_state_change` sees it.
///
/// In Lua: one table `{ agent, from, to, reason?, queue?, call_id?, at_ms }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentChange {
    /// The agent's id.
    pub agent: String,
    /// The state left, as the ACD names it.
    pub from: String,
    /// The state entered.
    pub to: String,
    /// Why, when known (a break code, "login", ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// The queue involved, when the change is about one.
    #[serde(default)]
    pub queue: Option<String>,
    /// The call involved, when the change is about one.
    #[serde(default)]
    pub call_id: Option<String>,
    /// When, unix milliseconds.
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_strings_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
        assert!("maybe".parse::<Outcome>().is_err());
        assert_eq!(
            Outcome::ALL
                .iter()
                .filter(|o| o.is_agent_disposition())
                .count(),
            5
        );
    }

    #[test]
    fn render_say_fills_known_fields_only() {
        let node = Node {
            say: "您好，{name}，{unknown} {".into(),
            options: vec![],
            outcome: None,
        };
        let fields = BTreeMap::from([("name".to_owned(), "王先生".to_owned())]);
        assert_eq!(node.render_say(&fields), "您好，王先生，{unknown} {");
    }

    #[test]
    fn overflow_action_serialises_as_its_lua_table() {
        let a = OverflowAction::Queue {
            queue: "sales".into(),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"action":"queue","queue":"sales"}"#
        );
        let v: OverflowAction = serde_json::from_str(r#"{"action":"hangup"}"#).unwrap();
        assert_eq!(v, OverflowAction::Hangup { prompt: None });
        assert_eq!(v.as_str(), "hangup");
    }

    #[test]
    fn verdict_serialises_tagged() {
        let deny = serde_json::to_string(&Verdict::fail_closed()).unwrap();
        assert_eq!(deny, r#"{"verdict":"deny","reason":"script error"}"#);
    }
}
