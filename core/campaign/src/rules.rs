//! Whether a contact may be dialled now: the one decision every dial path
//! takes through [`check_dial`].
//!
//! The predictive and progressive dialer, preview, an agent's manual dial,
//! a Lua script and the HTTP API all ask the same function. It is pure: the
//! caller gathers the facts (the contact's row, its recent dials, the
//! do-not-call table, the verdict of the `blacklist.check` hook) and the
//! campaign's [`DialPolicy`]; the function decides, and says why not in a
//! [`Refusal`] whose [`RefusalReason::as_str`] name is what the store
//! records.
//!
//! # Order of the rules
//! Permanent refusals come first, in this order, and carry no retry time:
//! 1. `do_not_call`: the number is on the do-not-call table;
//! 2. `blacklisted`: `blacklist.check` denied it (a failing script denies:
//!    [`BlacklistVerdict::from`] a script's `Result`);
//! 3. `invalid_number`: the stored number is not a valid E.164 number;
//! 4. `unknown_time_zone`: the stored zone names none, so the contact's
//!    local time is unknown;
//! 5. `max_attempts`: the campaign's attempts are used up.
//!
//! Then the temporary ones, all checked together: `retry_spacing` (not
//! before the contact's next attempt time), `abandon_cooldown` (a contact
//! whose answered call we abandoned is left alone for a while, unless an
//! agent is reserved for it), `daily_cap` (at most N dials in D days) and
//! `outside_window` (the calling window, in the contact's local time). The
//! refusal's `retry_at` is the first instant at which *all* of them pass,
//! and its reason names the rule that holds the contact longest (on a tie,
//! the first in the order above). A refusal never names one rule while
//! another would refuse at its `retry_at`.
//!
//! # Retries
//! When the `campaign.next_attempt` hook is absent, [`RetryPolicy`] says
//! when to call again after each [`Outcome`], the same spacing as the
//! shipped `scripts/segments.lua`, pushed to the calling window's next
//! open time.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::acd::Ms;
use crate::contact::{NumberError, check_e164};
use crate::window::CallingWindow;
use crate::zone;

const MINUTE: Ms = 60_000;
const HOUR: Ms = 60 * MINUTE;
const DAY: Ms = 24 * HOUR;

// ---------------------------------------------------------------------------
// Outcomes

/// How an attempt ended: what the system detected, or what the agent
/// recorded. The names are those of `waihu-script`'s outcomes, plus
/// `callback` and `do_not_call`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Busy,
    NoAnswer,
    InvalidNumber,
    Machine,
    /// The customer answered and no agent was free: the call was dropped.
    Abandoned,
    Blacklisted,
    /// A network or trunk failure, not the customer.
    Failed,
    /// The agent could not reach the right person.
    Unreachable,
    Success,
    Likely,
    Interested,
    Declined,
    /// The customer asked to be called back at a time the agent chose.
    Callback,
    /// The customer asked never to be called again: the number goes on the
    /// do-not-call table.
    DoNotCall,
}

impl Outcome {
    /// Every outcome: system outcomes, the five categories, then the two
    /// dispositions this crate adds.
    pub const ALL: [Outcome; 14] = [
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
        Outcome::Callback,
        Outcome::DoNotCall,
    ];

    /// The five categories agents classify contacts into (DOMAIN.md, seed
    /// 002): the default disposition set of an agent's screen.
    pub const DEFAULT_DISPOSITIONS: [Outcome; 5] = [
        Outcome::Unreachable,
        Outcome::Success,
        Outcome::Likely,
        Outcome::Interested,
        Outcome::Declined,
    ];

    /// The stored and scripted name.
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
            Outcome::Callback => "callback",
            Outcome::DoNotCall => "do_not_call",
        }
    }

    /// The contact is done with: never dialled again for this campaign.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Outcome::Success
                | Outcome::Declined
                | Outcome::InvalidNumber
                | Outcome::Blacklisted
                | Outcome::DoNotCall
        )
    }

    /// Recorded by an agent rather than detected by the system.
    pub fn is_agent_disposition(self) -> bool {
        Outcome::DEFAULT_DISPOSITIONS.contains(&self)
            || matches!(self, Outcome::Callback | Outcome::DoNotCall)
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

// ---------------------------------------------------------------------------
// The facts and the policy

/// What `blacklist.check` said about a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlacklistVerdict {
    Allow,
    Deny(String),
}

impl BlacklistVerdict {
    /// The reason recorded when the script failed.
    pub const SCRIPT_ERROR: &'static str = "script error";

    /// The verdict of a script that failed (error, timeout, no answer):
    /// deny. A broken rule must never let a number through.
    pub fn fail_closed() -> BlacklistVerdict {
        BlacklistVerdict::Deny(BlacklistVerdict::SCRIPT_ERROR.to_owned())
    }
}

/// A script's result becomes a verdict with a script error as a denial:
/// `blacklist: run_hook(..).into()`.
impl<E> From<Result<BlacklistVerdict, E>> for BlacklistVerdict {
    fn from(result: Result<BlacklistVerdict, E>) -> Self {
        result.unwrap_or_else(|_| BlacklistVerdict::fail_closed())
    }
}

/// What the store knows of the contact, gathered by the caller.
#[derive(Clone, Copy, Debug)]
pub struct ContactFacts<'a> {
    /// As stored: E.164.
    pub phone: &'a str,
    /// As stored: an IANA name or a fixed offset (see [`zone::lookup_zone`]).
    pub timezone: &'a str,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time: from `campaign.next_attempt`, the
    /// [`RetryPolicy`], or the time a callback was promised for.
    pub next_attempt_at: Option<Ms>,
    /// When a call to this contact was last abandoned (answered, no agent).
    pub last_abandoned_at: Option<Ms>,
    /// An agent is waiting for this very contact (preview, callback): an
    /// abandoned call cannot happen again.
    pub agent_reserved: bool,
    /// When this number was dialled recently, in any order; at least the
    /// days of the campaign's [`DailyCap`] (older entries are ignored).
    pub recent_dials: &'a [Ms],
}

/// What the lists say about the number, looked up by the caller.
#[derive(Clone, Copy, Debug)]
pub struct ListResults<'a> {
    /// `Some(reason)` when the number is on the do-not-call table.
    pub do_not_call: Option<&'a str>,
    /// The `blacklist.check` verdict; [`BlacklistVerdict::Allow`] when the
    /// campaign has no such hook.
    pub blacklist: &'a BlacklistVerdict,
}

/// At most `calls` dials of one number in any `days` × 24 hours (the
/// "7 calls in 7 days" of debt collection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawDailyCap")]
pub struct DailyCap {
    calls: u32,
    days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDailyCap {
    calls: u32,
    days: u32,
}

/// A daily cap of no calls or over no days.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("daily_cap needs at least 1 call over at least 1 day")]
pub struct BadDailyCap;

impl TryFrom<RawDailyCap> for DailyCap {
    type Error = BadDailyCap;

    fn try_from(raw: RawDailyCap) -> Result<Self, Self::Error> {
        DailyCap::new(raw.calls, raw.days)
    }
}

impl DailyCap {
    pub fn new(calls: u32, days: u32) -> Result<DailyCap, BadDailyCap> {
        if calls == 0 || days == 0 {
            return Err(BadDailyCap);
        }
        Ok(DailyCap { calls, days })
    }

    pub fn calls(&self) -> u32 {
        self.calls
    }

    pub fn days(&self) -> u32 {
        self.days
    }

    fn period(&self) -> Ms {
        Ms::from(self.days) * DAY
    }

    /// When a dial becomes allowed again, or `None` when it is allowed at
    /// `now`: when enough of the counted dials have left the period.
    fn release(&self, now: Ms, dials: &[Ms]) -> Option<Ms> {
        let since = now.saturating_sub(self.period());
        let mut counted: Vec<Ms> = dials.iter().copied().filter(|&d| d > since).collect();
        let over = counted.len().checked_sub(self.calls as usize)?;
        counted.sort_unstable();
        Some(counted[over].saturating_add(self.period()))
    }
}

/// A campaign's rules for dialling: the `window:`, `max_attempts:`,
/// `daily_cap:` and `abandon_cooldown_ms:` of its YAML.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialPolicy {
    pub window: CallingWindow,
    /// Default 7 (seed 001's seven-times rule).
    pub max_attempts: u32,
    pub daily_cap: Option<DailyCap>,
    /// Default 72 hours.
    pub abandon_cooldown_ms: Ms,
}

impl Default for DialPolicy {
    fn default() -> Self {
        DialPolicy {
            window: CallingWindow::default(),
            max_attempts: 7,
            daily_cap: None,
            abandon_cooldown_ms: 72 * HOUR,
        }
    }
}

// ---------------------------------------------------------------------------
// The decision

/// Why a contact may not be dialled now, and when it may.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub reason: RefusalReason,
    /// The first instant at which every temporary rule passes; `None` for a
    /// permanent refusal, and for a window that does not open within
    /// [`crate::window::LOOKAHEAD_DAYS`].
    pub retry_at: Option<Ms>,
}

/// The rule that refused a dial.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefusalReason {
    #[error("on the do-not-call list: {reason}")]
    DoNotCall { reason: String },
    #[error("blacklisted: {reason}")]
    Blacklisted { reason: String },
    #[error("invalid number: {0}")]
    InvalidNumber(NumberError),
    #[error("unknown time zone `{0}`: the contact's local time is not known")]
    UnknownTimeZone(String),
    #[error("{attempts} attempts made, the campaign allows {max}")]
    MaxAttempts { attempts: u32, max: u32 },
    #[error("not before the next attempt time")]
    RetrySpacing,
    #[error("a call to this contact was abandoned recently")]
    AbandonCooldown,
    #[error("{calls} calls in {days} days already")]
    DailyCap { calls: u32, days: u32 },
    #[error("outside the calling window in the contact's local time")]
    OutsideWindow,
}

impl RefusalReason {
    /// The name the store records; stable.
    pub fn as_str(&self) -> &'static str {
        match self {
            RefusalReason::DoNotCall { .. } => "do_not_call",
            RefusalReason::Blacklisted { .. } => "blacklisted",
            RefusalReason::InvalidNumber(_) => "invalid_number",
            RefusalReason::UnknownTimeZone(_) => "unknown_time_zone",
            RefusalReason::MaxAttempts { .. } => "max_attempts",
            RefusalReason::RetrySpacing => "retry_spacing",
            RefusalReason::AbandonCooldown => "abandon_cooldown",
            RefusalReason::DailyCap { .. } => "daily_cap",
            RefusalReason::OutsideWindow => "outside_window",
        }
    }

    /// Time alone will not lift it: the list, the script, the data or the
    /// policy has to change.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            RefusalReason::DoNotCall { .. }
                | RefusalReason::Blacklisted { .. }
                | RefusalReason::InvalidNumber(_)
                | RefusalReason::UnknownTimeZone(_)
                | RefusalReason::MaxAttempts { .. }
        )
    }
}

/// Whether the contact may be dialled at `now`; see the module docs for
/// the rules and their order.
pub fn check_dial(
    now: Ms,
    contact: &ContactFacts<'_>,
    lists: &ListResults<'_>,
    policy: &DialPolicy,
) -> Result<(), Refusal> {
    check(now, contact, lists, policy, true)
}

/// As [`check_dial`], for a number the caller has just produced with
/// [`PhoneNormalizer::normalize`](crate::contact::PhoneNormalizer::normalize),
/// which validated it: the E.164 check, a second full parse of the
/// number, is not made again. A number read from storage goes through
/// [`check_dial`].
pub fn check_dial_normalised(
    now: Ms,
    contact: &ContactFacts<'_>,
    lists: &ListResults<'_>,
    policy: &DialPolicy,
) -> Result<(), Refusal> {
    check(now, contact, lists, policy, false)
}

fn check(
    now: Ms,
    contact: &ContactFacts<'_>,
    lists: &ListResults<'_>,
    policy: &DialPolicy,
    validate_number: bool,
) -> Result<(), Refusal> {
    let permanent = |reason| {
        Err(Refusal {
            reason,
            retry_at: None,
        })
    };
    if let Some(reason) = lists.do_not_call {
        return permanent(RefusalReason::DoNotCall {
            reason: reason.to_owned(),
        });
    }
    if let BlacklistVerdict::Deny(reason) = lists.blacklist {
        return permanent(RefusalReason::Blacklisted {
            reason: reason.clone(),
        });
    }
    if validate_number && let Err(e) = check_e164(contact.phone) {
        return permanent(RefusalReason::InvalidNumber(e));
    }
    let Ok(tz) = zone::lookup_zone(contact.timezone) else {
        return permanent(RefusalReason::UnknownTimeZone(contact.timezone.to_owned()));
    };
    if contact.attempts >= policy.max_attempts {
        return permanent(RefusalReason::MaxAttempts {
            attempts: contact.attempts,
            max: policy.max_attempts,
        });
    }

    // Each failing temporary rule and the time it alone would pass at.
    let mut holds: Vec<(RefusalReason, Ms)> = Vec::new();
    if let Some(at) = contact.next_attempt_at
        && now < at
    {
        holds.push((RefusalReason::RetrySpacing, at));
    }
    if let Some(abandoned) = contact.last_abandoned_at
        && !contact.agent_reserved
    {
        let until = abandoned.saturating_add(policy.abandon_cooldown_ms);
        if now < until {
            holds.push((RefusalReason::AbandonCooldown, until));
        }
    }
    if let Some(cap) = &policy.daily_cap
        && let Some(until) = cap.release(now, contact.recent_dials)
    {
        let reason = RefusalReason::DailyCap {
            calls: cap.calls,
            days: cap.days,
        };
        holds.push((reason, until));
    }
    let window = &policy.window;
    let open_now = window.is_open(&tz, now);
    if holds.is_empty() && open_now {
        return Ok(());
    }
    // The rules above pass for good once passed; the window then gives the
    // first open instant from there.
    let others_pass_at = holds.iter().map(|(_, t)| *t).max().unwrap_or(now);
    let retry_at = window.next_open(&tz, others_pass_at);
    if !open_now {
        // `Ms::MAX` stands for "never" when the window does not open.
        let opens = window.next_open(&tz, now).unwrap_or(Ms::MAX);
        holds.push((RefusalReason::OutsideWindow, opens));
    }
    // The rule that holds longest; the first of equals.
    let mut longest: Option<(RefusalReason, Ms)> = None;
    for (reason, until) in holds {
        if longest.as_ref().is_none_or(|(_, t)| until > *t) {
            longest = Some((reason, until));
        }
    }
    let reason = longest.map_or(RefusalReason::OutsideWindow, |(r, _)| r);
    Err(Refusal { reason, retry_at })
}

// ---------------------------------------------------------------------------
// Retries

/// When to call again after one outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// This long after the attempt ended.
    After(Ms),
    /// The next local day at this hour and minute.
    NextDayAt(u8, u8),
    /// At the time the agent chose (callbacks).
    AtChosenTime,
    Never,
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Retry::After(ms) => {
                let (d, h, m, s) = (ms / DAY, ms % DAY / HOUR, ms % HOUR / MINUTE, ms % MINUTE);
                let mut wrote = false;
                for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s / 1000, "s")] {
                    if n > 0 {
                        write!(f, "{n}{unit}")?;
                        wrote = true;
                    }
                }
                if !wrote {
                    f.write_str("0s")?;
                }
                Ok(())
            }
            Retry::NextDayAt(h, m) => write!(f, "next_day {h:02}:{m:02}"),
            Retry::AtChosenTime => f.write_str("chosen"),
            Retry::Never => f.write_str("never"),
        }
    }
}

/// A retry rule that does not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError {
    #[error(
        "`{0}` is not a retry: write a delay (10m, 2h, 1d, 1h30m), `next_day HH:MM`, \
         `chosen` (callback only) or `never`"
    )]
    Unreadable(String),
    #[error("{0} is final: it is never retried")]
    FinalOutcome(Outcome),
    #[error("only callback is retried at the agent's chosen time, not {0}")]
    ChosenTime(Outcome),
}

impl FromStr for Retry {
    type Err = RetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unreadable = || RetryError::Unreadable(s.to_owned());
        let text = s.trim();
        match text {
            "never" => return Ok(Retry::Never),
            "chosen" => return Ok(Retry::AtChosenTime),
            _ => {}
        }
        if let Some(clock) = text.strip_prefix("next_day") {
            let (h, m) = clock.trim().split_once(':').ok_or_else(unreadable)?;
            let h: u8 = h.parse().map_err(|_| unreadable())?;
            let m: u8 = m.parse().map_err(|_| unreadable())?;
            if h > 23 || m > 59 {
                return Err(unreadable());
            }
            return Ok(Retry::NextDayAt(h, m));
        }
        // A delay: one or more <number><unit>, units d h m s.
        let mut total: Ms = 0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                'd' => DAY,
                'h' => HOUR,
                'm' => MINUTE,
                's' => 1000,
                _ => return Err(unreadable()),
            };
            let n: Ms = number.parse().map_err(|_| unreadable())?;
            total = n
                .checked_mul(unit)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(unreadable)?;
            number.clear();
        }
        if !number.is_empty() || text.is_empty() {
            return Err(unreadable());
        }
        Ok(Retry::After(total))
    }
}

/// How an attempt ended, as the retry policy needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptEnd {
    pub outcome: Outcome,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// When the attempt ended.
    pub at: Ms,
    /// For [`Outcome::Callback`]: the time the agent chose.
    pub callback_at: Option<Ms>,
}

/// When to call a contact again, when the campaign has no
/// `campaign.next_attempt` hook: the `retry:` section of its YAML.
///
/// ```yaml
/// retry:
///   max_attempts: 7
///   spacing: { busy: 5m, machine: 1d, likely: "next_day 11:00" }
/// ```
/// An outcome not named keeps its default spacing (those of
/// `scripts/segments.lua`): busy 10 minutes, no answer 2 hours, machine 4
/// hours, abandoned 30 minutes, failed 15 minutes, unreachable 1 day, likely
/// and interested the next local day at 10:00, callback at the agent's
/// time; final outcomes never. The time found is then moved to the calling
/// window's next open instant.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawRetryPolicy")]
pub struct RetryPolicy {
    max_attempts: u32,
    spacing: BTreeMap<Outcome, Retry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetryPolicy {
    #[serde(default = "seven")]
    max_attempts: u32,
    #[serde(default)]
    spacing: BTreeMap<Outcome, String>,
}

fn seven() -> u32 {
    7
}

impl TryFrom<RawRetryPolicy> for RetryPolicy {
    type Error = RetryError;

    fn try_from(raw: RawRetryPolicy) -> Result<Self, Self::Error> {
        let mut policy = RetryPolicy {
            max_attempts: raw.max_attempts,
            ..RetryPolicy::default()
        };
        for (outcome, text) in raw.spacing {
            policy = policy.with(outcome, text.parse()?)?;
        }
        Ok(policy)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let spacing = [
            (Outcome::Busy, Retry::After(10 * MINUTE)),
            (Outcome::NoAnswer, Retry::After(2 * HOUR)),
            (Outcome::Machine, Retry::After(4 * HOUR)),
            // We dropped a live answer: call back soon, with an agent
            // reserved (the abandon cooldown refuses anything else).
            (Outcome::Abandoned, Retry::After(30 * MINUTE)),
            (Outcome::Failed, Retry::After(15 * MINUTE)),
            (Outcome::Unreachable, Retry::After(DAY)),
            (Outcome::Likely, Retry::NextDayAt(10, 0)),
            (Outcome::Interested, Retry::NextDayAt(10, 0)),
            (Outcome::Callback, Retry::AtChosenTime),
        ];
        RetryPolicy {
            max_attempts: 7,
            spacing: spacing.into_iter().collect(),
        }
    }
}

impl RetryPolicy {
    /// This policy with `outcome` retried by `retry`. Final outcomes are
    /// never retried, and only a callback has a chosen time.
    pub fn with(mut self, outcome: Outcome, retry: Retry) -> Result<RetryPolicy, RetryError> {
        if outcome.is_final() && retry != Retry::Never {
            return Err(RetryError::FinalOutcome(outcome));
        }
        if retry == Retry::AtChosenTime && outcome != Outcome::Callback {
            return Err(RetryError::ChosenTime(outcome));
        }
        self.spacing.insert(outcome, retry);
        Ok(self)
    }

    /// This policy with at most `max` attempts per contact.
    pub fn with_max_attempts(mut self, max: u32) -> RetryPolicy {
        self.max_attempts = max;
        self
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The rule for one outcome.
    pub fn rule(&self, outcome: Outcome) -> Retry {
        self.spacing.get(&outcome).copied().unwrap_or(Retry::Never)
    }

    /// When to call again after `ended`, for a contact in `tz`: `None` for
    /// never (a final outcome, the attempts used up, a window that does not
    /// open). A callback without a chosen time is placed like `likely`, the
    /// next day at 10:00.
    pub fn next_attempt(
        &self,
        ended: &AttemptEnd,
        tz: &TimeZone,
        window: &CallingWindow,
    ) -> Option<Ms> {
        if ended.attempts >= self.max_attempts {
            return None;
        }
        let at = match self.rule(ended.outcome) {
            Retry::Never => return None,
            Retry::After(delay) => ended.at.saturating_add(delay),
            Retry::NextDayAt(h, m) => next_day_at(tz, ended.at, h, m)?,
            Retry::AtChosenTime => match ended.callback_at {
                Some(chosen) => chosen.max(ended.at),
                None => next_day_at(tz, ended.at, 10, 0)?,
            },
        };
        window.next_open(tz, at)
    }
}

/// The instant of `h:m` local time on the day after `at`'s local date (on a
/// day when `h:m` is skipped, the instant the clock lands after it).
fn next_day_at(tz: &TimeZone, at: Ms, h: u8, m: u8) -> Option<Ms> {
    let local = tz.to_datetime(Timestamp::from_millisecond(at).ok()?);
    let date = local.date().tomorrow().ok()?;
    let time = Time::new(i8::try_from(h).ok()?, i8::try_from(m).ok()?, 0, 0).ok()?;
    tz.to_ambiguous_timestamp(DateTime::from_parts(date, time))
        .compatible()
        .ok()
        .map(|ts| ts.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SH: &str = "Asia/Shanghai";
    const NY: &str = "America/New_York";
    const PHONE: &str = "+8613800138000";

    fn ms(rfc3339: &str) -> Ms {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn tz(name: &str) -> TimeZone {
        zone::lookup_zone(name).unwrap()
    }

    /// A contact never dialled, in Shanghai.
    fn fresh() -> ContactFacts<'static> {
        ContactFacts {
            phone: PHONE,
            timezone: SH,
            attempts: 0,
            next_attempt_at: None,
            last_abandoned_at: None,
            agent_reserved: false,
            recent_dials: &[],
        }
    }

    const ALLOW: BlacklistVerdict = BlacklistVerdict::Allow;

    fn clean() -> ListResults<'static> {
        ListResults {
            do_not_call: None,
            blacklist: &ALLOW,
        }
    }

    /// Wednesday 2026-06-10, 10:00 in Shanghai: inside the default window.
    fn morning() -> Ms {
        ms("2026-06-10T10:00:00+08:00")
    }

    fn check(now: Ms, contact: &ContactFacts<'_>, lists: &ListResults<'_>) -> Result<(), Refusal> {
        check_dial(now, contact, lists, &DialPolicy::default())
    }

    fn reason(r: Result<(), Refusal>) -> &'static str {
        r.unwrap_err().reason.as_str()
    }

    #[test]
    fn a_fresh_contact_in_an_open_window_may_be_dialled() {
        assert_eq!(check(morning(), &fresh(), &clean()), Ok(()));
    }

    #[test]
    fn dnc_beats_an_open_window() {
        let lists = ListResults {
            do_not_call: Some("customer asked, 2026-05-01"),
            ..clean()
        };
        let refusal = check(morning(), &fresh(), &lists).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                reason: RefusalReason::DoNotCall {
                    reason: "customer asked, 2026-05-01".to_owned()
                },
                retry_at: None,
            }
        );
        assert!(refusal.reason.is_permanent());
    }

    #[test]
    fn dnc_is_named_before_the_blacklist() {
        let deny = BlacklistVerdict::Deny("malicious".to_owned());
        let lists = ListResults {
            do_not_call: Some(""),
            blacklist: &deny,
        };
        assert_eq!(reason(check(morning(), &fresh(), &lists)), "do_not_call");
    }

    #[test]
    fn a_blacklist_denial_carries_the_scripts_reason() {
        let deny = BlacklistVerdict::Deny("special number: police 110".to_owned());
        let lists = ListResults {
            blacklist: &deny,
            ..clean()
        };
        let refusal = check(morning(), &fresh(), &lists).unwrap_err();
        assert_eq!(refusal.reason.as_str(), "blacklisted");
        assert_eq!(
            refusal.to_string(),
            "blacklisted: special number: police 110"
        );
        assert_eq!(refusal.retry_at, None);
    }

    #[test]
    fn blacklist_script_error_fails_closed() {
        // What the caller writes: the hook's result, converted.
        let hook: Result<BlacklistVerdict, String> = Err("attempt to index a nil value".into());
        let verdict = BlacklistVerdict::from(hook);
        let lists = ListResults {
            blacklist: &verdict,
            ..clean()
        };
        let refusal = check(morning(), &fresh(), &lists).unwrap_err();
        assert_eq!(
            refusal.reason,
            RefusalReason::Blacklisted {
                reason: "script error".to_owned()
            }
        );
        let ok: Result<BlacklistVerdict, String> = Ok(BlacklistVerdict::Allow);
        assert_eq!(BlacklistVerdict::from(ok), BlacklistVerdict::Allow);
    }

    #[test]
    fn a_number_not_in_e164_is_invalid_and_permanent() {
        for phone in ["13800138000", "+86 138 0013 8000", "+8612345", ""] {
            let contact = ContactFacts { phone, ..fresh() };
            let refusal = check(morning(), &contact, &clean()).unwrap_err();
            assert_eq!(refusal.reason.as_str(), "invalid_number", "{phone:?}");
            assert_eq!(refusal.retry_at, None);
        }
    }

    #[test]
    fn a_just_normalised_number_is_not_parsed_again_but_every_other_rule_holds() {
        // What a normaliser produced is taken as valid: this one is not,
        // and only `check_dial` looks.
        let contact = ContactFacts {
            phone: "+8612345",
            ..fresh()
        };
        let policy = DialPolicy::default();
        assert!(check_dial(morning(), &contact, &clean(), &policy).is_err());
        assert_eq!(
            check_dial_normalised(morning(), &contact, &clean(), &policy),
            Ok(())
        );
        let listed = ListResults {
            do_not_call: Some("asked"),
            blacklist: &ALLOW,
        };
        let refused = check_dial_normalised(morning(), &fresh(), &listed, &policy);
        assert_eq!(reason(refused), "do_not_call");
        let night = ms("2026-06-10T23:00:00+08:00");
        let refused = check_dial_normalised(night, &fresh(), &clean(), &policy);
        assert_eq!(reason(refused), "outside_window");
    }

    #[test]
    fn an_unknown_time_zone_is_refused_rather_than_guessed() {
        let contact = ContactFacts {
            timezone: "Asia/Beijing",
            ..fresh()
        };
        let refusal = check(morning(), &contact, &clean()).unwrap_err();
        assert_eq!(refusal.reason.as_str(), "unknown_time_zone");
        assert!(refusal.reason.is_permanent());
    }

    #[test]
    fn max_attempts_is_permanent() {
        let used_up = ContactFacts {
            attempts: 7,
            ..fresh()
        };
        let refusal = check(morning(), &used_up, &clean()).unwrap_err();
        assert_eq!(
            refusal.reason,
            RefusalReason::MaxAttempts {
                attempts: 7,
                max: 7
            }
        );
        assert_eq!(refusal.retry_at, None);
        // Named before a closed window, which would only postpone it.
        let night = ms("2026-06-10T23:30:00+08:00");
        assert_eq!(reason(check(night, &used_up, &clean())), "max_attempts");
        let one_left = ContactFacts {
            attempts: 6,
            ..fresh()
        };
        assert_eq!(check(morning(), &one_left, &clean()), Ok(()));
    }

    #[test]
    fn rest_hours_refuse_at_2330_local_and_retry_at_0900() {
        let refusal = check(ms("2026-06-10T23:30:00+08:00"), &fresh(), &clean()).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::OutsideWindow);
        assert_eq!(refusal.retry_at, Some(ms("2026-06-11T09:00:00+08:00")));
        assert!(!refusal.reason.is_permanent());
    }

    #[test]
    fn the_window_is_the_contacts_not_the_switchs() {
        // 10:00 in Shanghai is 22:00 in New York.
        let in_ny = ContactFacts {
            phone: "+12125550100",
            timezone: NY,
            ..fresh()
        };
        let refusal = check(morning(), &in_ny, &clean()).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::OutsideWindow);
        assert_eq!(refusal.retry_at, Some(ms("2026-06-10T09:00:00-04:00")));
        let fixed = ContactFacts {
            timezone: "+08:00",
            ..fresh()
        };
        assert_eq!(check(morning(), &fixed, &clean()), Ok(()));
    }

    #[test]
    fn the_day_daylight_saving_starts_the_window_opens_at_0900_edt() {
        let in_ny = ContactFacts {
            phone: "+12125550100",
            timezone: NY,
            ..fresh()
        };
        // 2026-03-08 03:30 EDT, just after the clock jumped.
        let refusal = check(ms("2026-03-08T07:30:00Z"), &in_ny, &clean()).unwrap_err();
        assert_eq!(refusal.retry_at, Some(ms("2026-03-08T13:00:00Z")));
        // 08:30 the morning after the change back is 13:30Z: still closed.
        let refusal = check(ms("2026-11-01T13:30:00Z"), &in_ny, &clean()).unwrap_err();
        assert_eq!(refusal.retry_at, Some(ms("2026-11-01T14:00:00Z")));
    }

    #[test]
    fn retry_spacing_refuses_until_the_next_attempt_time() {
        let later = morning() + 2 * HOUR;
        let contact = ContactFacts {
            attempts: 1,
            next_attempt_at: Some(later),
            ..fresh()
        };
        let refusal = check(morning(), &contact, &clean()).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                reason: RefusalReason::RetrySpacing,
                retry_at: Some(later)
            }
        );
        assert_eq!(check(later, &contact, &clean()), Ok(()));
    }

    #[test]
    fn a_next_attempt_time_in_the_night_retries_at_the_morning() {
        let contact = ContactFacts {
            attempts: 1,
            next_attempt_at: Some(ms("2026-06-10T23:00:00+08:00")),
            ..fresh()
        };
        let refusal = check(ms("2026-06-10T20:00:00+08:00"), &contact, &clean()).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::RetrySpacing);
        assert_eq!(refusal.retry_at, Some(ms("2026-06-11T09:00:00+08:00")));
    }

    #[test]
    fn abandoned_contact_waits_72h_unless_agent_reserved() {
        let abandoned = morning() - HOUR;
        let contact = ContactFacts {
            attempts: 1,
            last_abandoned_at: Some(abandoned),
            ..fresh()
        };
        let refusal = check(morning(), &contact, &clean()).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::AbandonCooldown);
        assert_eq!(refusal.retry_at, Some(abandoned + 72 * HOUR));
        assert_eq!(check(abandoned + 72 * HOUR, &contact, &clean()), Ok(()));

        let reserved = ContactFacts {
            agent_reserved: true,
            ..contact
        };
        assert_eq!(check(morning(), &reserved, &clean()), Ok(()));
    }

    #[test]
    fn an_agent_reserved_for_a_contact_does_not_open_rest_hours() {
        let reserved = ContactFacts {
            agent_reserved: true,
            ..fresh()
        };
        let night = ms("2026-06-10T22:00:00+08:00");
        assert_eq!(reason(check(night, &reserved, &clean())), "outside_window");
    }

    fn capped() -> DialPolicy {
        DialPolicy {
            daily_cap: Some(DailyCap::new(7, 7).unwrap()),
            ..DialPolicy::default()
        }
    }

    #[test]
    fn seven_in_seven_days_cap() {
        let now = morning();
        // One dial a day at 09:00 for the last seven days.
        let dials: Vec<Ms> = (0..7).map(|i| now - HOUR - i * DAY).collect();
        let oldest = *dials.iter().min().unwrap();
        assert!(now - oldest < 7 * DAY);
        let contact = ContactFacts {
            attempts: 3,
            recent_dials: &dials,
            ..fresh()
        };
        let refusal = check_dial(now, &contact, &clean(), &capped()).unwrap_err();
        assert_eq!(
            refusal.reason,
            RefusalReason::DailyCap { calls: 7, days: 7 }
        );
        // The oldest call leaves the seven days tomorrow at 09:00.
        assert_eq!(refusal.retry_at, Some(oldest + 7 * DAY));
        assert_eq!(
            check_dial(oldest + 7 * DAY, &contact, &clean(), &capped()),
            Ok(())
        );
        // Six calls in the period: the seventh is allowed.
        let six = ContactFacts {
            recent_dials: &dials[..6],
            ..contact
        };
        assert_eq!(check_dial(now, &six, &clean(), &capped()), Ok(()));
    }

    #[test]
    fn calls_older_than_the_cap_period_do_not_count() {
        let now = morning();
        let mut dials: Vec<Ms> = (1..=6).map(|i| now - i * HOUR).collect();
        dials.push(now - 7 * DAY); // exactly seven days ago: out
        dials.push(now - 30 * DAY);
        let contact = ContactFacts {
            recent_dials: &dials,
            ..fresh()
        };
        assert_eq!(check_dial(now, &contact, &clean(), &capped()), Ok(()));
    }

    #[test]
    fn over_the_cap_waits_until_enough_calls_leave() {
        let now = morning();
        // Nine calls in the period (the cap came in later): three must leave.
        let dials: Vec<Ms> = (1..=9).map(|i| now - i * 10 * HOUR).collect();
        let contact = ContactFacts {
            recent_dials: &dials,
            ..fresh()
        };
        let refusal = check_dial(now, &contact, &clean(), &capped()).unwrap_err();
        // Oldest first: -90 h, -80 h, -70 h must leave; -70 h leaves last.
        let released = now - 70 * HOUR + 7 * DAY;
        assert_eq!(refusal.retry_at, policy_open(released));
    }

    fn policy_open(at: Ms) -> Option<Ms> {
        CallingWindow::default().next_open(&tz(SH), at)
    }

    #[test]
    fn retry_at_satisfies_every_temporary_rule_at_once() {
        // At 20:00 the spacing ends at 20:50 and the cap lets go at 21:30:
        // by then the window is shut, so the contact waits for 09:00.
        let now = ms("2026-06-10T20:00:00+08:00");
        let cap_release = ms("2026-06-10T21:30:00+08:00");
        let dials: Vec<Ms> = (0..7).map(|i| cap_release - 7 * DAY + i * HOUR).collect();
        let contact = ContactFacts {
            attempts: 2,
            next_attempt_at: Some(ms("2026-06-10T20:50:00+08:00")),
            recent_dials: &dials,
            ..fresh()
        };
        let refusal = check_dial(now, &contact, &clean(), &capped()).unwrap_err();
        assert_eq!(refusal.retry_at, Some(ms("2026-06-11T09:00:00+08:00")));
        // The cap holds longest of the failing rules (the window is open
        // at 20:00).
        assert_eq!(refusal.reason.as_str(), "daily_cap");
    }

    #[test]
    fn the_reason_names_the_rule_that_holds_longest() {
        // At 23:30 with the spacing ending at 23:40: the window holds
        // until 09:00, longer, and is named.
        let contact = ContactFacts {
            attempts: 1,
            next_attempt_at: Some(ms("2026-06-10T23:40:00+08:00")),
            ..fresh()
        };
        let night = ms("2026-06-10T23:30:00+08:00");
        assert_eq!(reason(check(night, &contact, &clean())), "outside_window");
        // With the spacing ending the next day at 11:00, the spacing is.
        let contact = ContactFacts {
            next_attempt_at: Some(ms("2026-06-11T11:00:00+08:00")),
            ..contact
        };
        let refusal = check(night, &contact, &clean()).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::RetrySpacing);
        assert_eq!(refusal.retry_at, Some(ms("2026-06-11T11:00:00+08:00")));
    }

    #[test]
    fn a_window_that_never_opens_refuses_without_a_retry_time() {
        let policy = DialPolicy {
            window: serde_yaml::from_str("{ days: {} }").unwrap(),
            ..DialPolicy::default()
        };
        let refusal = check_dial(morning(), &fresh(), &clean(), &policy).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::OutsideWindow);
        assert_eq!(refusal.retry_at, None);
        assert!(!refusal.reason.is_permanent());
    }

    #[test]
    fn refusal_names_are_stable() {
        let names: Vec<&str> = [
            RefusalReason::DoNotCall {
                reason: String::new(),
            },
            RefusalReason::Blacklisted {
                reason: String::new(),
            },
            RefusalReason::InvalidNumber(NumberError::NotE164),
            RefusalReason::UnknownTimeZone(String::new()),
            RefusalReason::MaxAttempts {
                attempts: 0,
                max: 0,
            },
            RefusalReason::RetrySpacing,
            RefusalReason::AbandonCooldown,
            RefusalReason::DailyCap { calls: 0, days: 0 },
            RefusalReason::OutsideWindow,
        ]
        .iter()
        .map(RefusalReason::as_str)
        .collect();
        assert_eq!(
            names,
            [
                "do_not_call",
                "blacklisted",
                "invalid_number",
                "unknown_time_zone",
                "max_attempts",
                "retry_spacing",
                "abandon_cooldown",
                "daily_cap",
                "outside_window"
            ]
        );
    }

    #[test]
    fn the_dial_policy_reads_from_yaml_with_defaults() {
        let policy: DialPolicy = serde_yaml::from_str(
            "max_attempts: 5\ndaily_cap: { calls: 7, days: 7 }\nwindow: { rest: [\"22:00-08:00\"] }\n",
        )
        .unwrap();
        assert_eq!(policy.max_attempts, 5);
        assert_eq!(policy.daily_cap, Some(DailyCap::new(7, 7).unwrap()));
        assert_eq!(policy.abandon_cooldown_ms, 72 * HOUR);
        assert_eq!(DialPolicy::default().max_attempts, 7);
        let bad = serde_yaml::from_str::<DialPolicy>("daily_cap: { calls: 0, days: 7 }\n");
        assert!(bad.unwrap_err().to_string().contains("at least 1 call"));
    }

    // --- outcomes

    #[test]
    fn outcome_names_are_the_scripts_plus_callback_and_do_not_call() {
        let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            names,
            [
                "busy",
                "no_answer",
                "invalid_number",
                "machine",
                "abandoned",
                "blacklisted",
                "failed",
                "unreachable",
                "success",
                "likely",
                "interested",
                "declined",
                "callback",
                "do_not_call"
            ]
        );
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
        assert!("hung_up".parse::<Outcome>().is_err());
    }

    #[test]
    fn final_outcomes_and_agent_dispositions() {
        let finals: Vec<Outcome> = Outcome::ALL.into_iter().filter(|o| o.is_final()).collect();
        assert_eq!(
            finals,
            [
                Outcome::InvalidNumber,
                Outcome::Blacklisted,
                Outcome::Success,
                Outcome::Declined,
                Outcome::DoNotCall
            ]
        );
        let agents: Vec<Outcome> = Outcome::ALL
            .into_iter()
            .filter(|o| o.is_agent_disposition())
            .collect();
        assert_eq!(agents[..5], Outcome::DEFAULT_DISPOSITIONS);
        assert_eq!(agents[5..], [Outcome::Callback, Outcome::DoNotCall]);
    }

    // --- retries

    fn ended(outcome: Outcome, attempts: u32, at: Ms) -> AttemptEnd {
        AttemptEnd {
            outcome,
            attempts,
            at,
            callback_at: None,
        }
    }

    fn next(outcome: Outcome, attempts: u32, at: Ms, zone: &str) -> Option<Ms> {
        RetryPolicy::default().next_attempt(
            &ended(outcome, attempts, at),
            &tz(zone),
            &CallingWindow::default(),
        )
    }

    #[test]
    fn default_spacing_per_outcome() {
        let t = morning();
        for (outcome, delay) in [
            (Outcome::Busy, 10 * MINUTE),
            (Outcome::NoAnswer, 2 * HOUR),
            (Outcome::Machine, 4 * HOUR),
            (Outcome::Abandoned, 30 * MINUTE),
            (Outcome::Failed, 15 * MINUTE),
            (Outcome::Unreachable, DAY),
        ] {
            assert_eq!(next(outcome, 1, t, SH), Some(t + delay), "{outcome}");
        }
        for outcome in [Outcome::Likely, Outcome::Interested] {
            assert_eq!(
                next(outcome, 1, t, SH),
                Some(ms("2026-06-11T10:00:00+08:00")),
                "{outcome}"
            );
        }
    }

    #[test]
    fn final_outcomes_are_never_retried() {
        for outcome in Outcome::ALL.into_iter().filter(|o| o.is_final()) {
            assert_eq!(next(outcome, 1, morning(), SH), None, "{outcome}");
            assert_eq!(RetryPolicy::default().rule(outcome), Retry::Never);
        }
    }

    #[test]
    fn busy_at_2055_waits_for_0900() {
        assert_eq!(
            next(Outcome::Busy, 1, ms("2026-06-10T20:55:00+08:00"), SH),
            Some(ms("2026-06-11T09:00:00+08:00"))
        );
    }

    #[test]
    fn no_retry_ever_lands_in_rest_hours() {
        let window = CallingWindow::default();
        let sh = tz(SH);
        for hour in 0..24 {
            let at = morning() + hour * HOUR;
            for outcome in Outcome::ALL {
                if let Some(t) = next(outcome, 1, at, SH) {
                    assert!(t > at, "{outcome} at +{hour}h");
                    assert!(window.is_open(&sh, t), "{outcome} at +{hour}h");
                }
            }
        }
    }

    #[test]
    fn the_seventh_attempt_is_the_last() {
        assert!(next(Outcome::NoAnswer, 6, morning(), SH).is_some());
        assert_eq!(next(Outcome::NoAnswer, 7, morning(), SH), None);
        let five = RetryPolicy::default().with_max_attempts(5);
        assert_eq!(
            five.next_attempt(
                &ended(Outcome::Busy, 5, morning()),
                &tz(SH),
                &CallingWindow::default()
            ),
            None
        );
    }

    #[test]
    fn next_day_1000_is_local_across_daylight_saving() {
        // Saturday 2026-03-07 15:00 EST -> Sunday 10:00 EDT (14:00Z).
        assert_eq!(
            next(Outcome::Likely, 1, ms("2026-03-07T15:00:00-05:00"), NY),
            Some(ms("2026-03-08T10:00:00-04:00"))
        );
        // Late evening in New York: the next local day, not the next UTC one.
        assert_eq!(
            next(Outcome::Interested, 1, ms("2026-06-10T20:30:00-04:00"), NY),
            Some(ms("2026-06-11T10:00:00-04:00"))
        );
    }

    #[test]
    fn a_callback_is_placed_at_the_agents_time_within_the_window() {
        let policy = RetryPolicy::default();
        let window = CallingWindow::default();
        let sh = tz(SH);
        let mut end = ended(Outcome::Callback, 2, morning());
        end.callback_at = Some(ms("2026-06-10T16:30:00+08:00"));
        assert_eq!(
            policy.next_attempt(&end, &sh, &window),
            Some(ms("2026-06-10T16:30:00+08:00"))
        );
        // A time in the night moves to the morning.
        end.callback_at = Some(ms("2026-06-10T22:00:00+08:00"));
        assert_eq!(
            policy.next_attempt(&end, &sh, &window),
            Some(ms("2026-06-11T09:00:00+08:00"))
        );
        // No time given: the next day at 10:00.
        end.callback_at = None;
        assert_eq!(
            policy.next_attempt(&end, &sh, &window),
            Some(ms("2026-06-11T10:00:00+08:00"))
        );
    }

    #[test]
    fn the_retry_section_overrides_defaults_by_outcome() {
        let policy: RetryPolicy = serde_yaml::from_str(
            "max_attempts: 3\nspacing: { busy: 5m, machine: 1d2h, likely: \"next_day 11:30\", unreachable: never }\n",
        )
        .unwrap();
        assert_eq!(policy.max_attempts(), 3);
        assert_eq!(policy.rule(Outcome::Busy), Retry::After(5 * MINUTE));
        assert_eq!(policy.rule(Outcome::Machine), Retry::After(DAY + 2 * HOUR));
        assert_eq!(policy.rule(Outcome::Likely), Retry::NextDayAt(11, 30));
        assert_eq!(policy.rule(Outcome::Unreachable), Retry::Never);
        assert_eq!(policy.rule(Outcome::NoAnswer), Retry::After(2 * HOUR));
        let default: RetryPolicy = serde_yaml::from_str("{}").unwrap();
        assert_eq!(default, RetryPolicy::default());
    }

    #[test]
    fn bad_retry_sections_are_refused_with_the_reason() {
        let err = |text: &str| {
            serde_yaml::from_str::<RetryPolicy>(text)
                .unwrap_err()
                .to_string()
        };
        assert!(err("spacing: { success: 1d }").contains("success is final"));
        assert!(err("spacing: { do_not_call: 1d }").contains("do_not_call is final"));
        assert!(err("spacing: { busy: chosen }").contains("only callback"));
        assert!(err("spacing: { busy: 10 }").contains("is not a retry"));
        assert!(err("spacing: { busy: 10x }").contains("is not a retry"));
        assert!(err("spacing: { likely: \"next_day 25:00\" }").contains("is not a retry"));
        assert!(err("spacing: { hung_up: 1d }").contains("hung_up"));
    }

    #[test]
    fn retries_print_as_they_are_written() {
        for text in [
            "10m",
            "1d2h",
            "1h30m",
            "45s",
            "next_day 10:00",
            "chosen",
            "never",
        ] {
            assert_eq!(text.parse::<Retry>().unwrap().to_string(), text);
        }
    }
}
