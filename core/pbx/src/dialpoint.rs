//! The dial point: every outbound dial to the PSTN passes here first (the
//! dialer, a preview or manual dial, `call:dial` from Lua, the API), so a
//! number on the do-not-call table or denied by `blacklist.check` is never
//! reached, whichever path asks.
//!
//! This module gathers the facts (the store's do-not-call table and recent
//! dials of the number, the Lua verdict, the contact's attempts and
//! spacing) and hands them to the one pure decision,
//! [`waihu_campaign::rules::check_dial`]. A refusal is recorded in the
//! store with its path and reason.

use std::sync::Arc;

use tracing::warn;
use waihu_campaign::rules::{
    AttemptEnd, BlacklistVerdict, ContactFacts, DailyCap, DialPolicy, ListResults, Outcome,
    RetryPolicy, check_dial, check_dial_normalised,
};
use waihu_campaign::zone;
use waihu_script::{HookErrorKind, ScriptHost, Verdict};
use waihu_store::{ContactRecord, Refusal};

use crate::call::CallContext;
use crate::campaigns::now_ms;
use crate::config::Campaign;

/// Which path asks to dial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialPath {
    Dialer,
    Preview,
    Manual,
    Lua,
}

impl DialPath {
    pub fn as_str(self) -> &'static str {
        match self {
            DialPath::Dialer => "dialer",
            DialPath::Preview => "preview",
            DialPath::Manual => "manual",
            DialPath::Lua => "lua",
        }
    }
}

/// A dial the rules refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The rule's stable name (`do_not_call`, `outside_window`, ...).
    pub reason: String,
    pub detail: String,
    /// When the contact may be tried again; `None`: never.
    pub retry_at: Option<i64>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// The dial policy of a campaign.
pub fn policy_of(c: &Campaign) -> DialPolicy {
    DialPolicy {
        window: c.window.clone(),
        max_attempts: c.max_attempts,
        daily_cap: c
            .daily_cap
            .and_then(|cap| DailyCap::new(cap.calls, cap.days).ok()),
        ..DialPolicy::default()
    }
}

/// Outside any campaign (manual and Lua dials): only the lists apply.
fn open_policy() -> DialPolicy {
    DialPolicy {
        window: waihu_campaign::window::CallingWindow::always(),
        max_attempts: u32::MAX,
        daily_cap: None,
        abandon_cooldown_ms: 0,
    }
}

/// `blacklist.check` for `phone`; a script error denies, and so does a
/// scripts directory without the hook (fail closed, as the host warns at
/// load): a rule must say yes before anything is dialled.
fn blacklist(
    scripts: &ScriptHost,
    phone: &str,
    contact: Option<&ContactRecord>,
) -> BlacklistVerdict {
    let contact = contact.map(crate::dialer::script_contact);
    let now_s = now_ms() / 1000;
    match scripts
        .current()
        .blacklist_check(phone, contact.as_ref(), now_s)
    {
        Ok(Verdict::Allow) => BlacklistVerdict::Allow,
        Ok(Verdict::Deny(reason)) => BlacklistVerdict::Deny(reason),
        Err(e) if matches!(e.kind, HookErrorKind::Missing) => {
            BlacklistVerdict::Deny("no blacklist.check in the scripts".into())
        }
        Err(e) => {
            warn!(%phone, error = %e, "blacklist.check failed: denied");
            BlacklistVerdict::fail_closed()
        }
    }
}

/// May `phone` be dialled now by `path`? On Ok, the number in E.164.
///
/// `campaign` and `contact` bring the campaign's rules (window, attempts,
/// spacing, caps); without them only the do-not-call table and
/// `blacklist.check` apply.
pub async fn check(
    ctx: &Arc<CallContext>,
    path: DialPath,
    phone: &str,
    campaign: Option<&Campaign>,
    contact: Option<&ContactRecord>,
    agent_reserved: bool,
) -> Result<String, Refused> {
    let now = now_ms();
    let country = campaign.map_or("CN", |c| c.import.default_country.as_str());
    let e164 = match contact {
        Some(c) => c.phone.clone(),
        None => match crate::campaigns::normalise(phone, country) {
            Ok(p) => p,
            Err(e) => {
                let refused = Refused {
                    reason: "invalid_number".into(),
                    detail: e,
                    retry_at: None,
                };
                record(ctx, path, campaign, contact, phone, &refused);
                return Err(refused);
            }
        },
    };
    let policy = campaign.map_or_else(open_policy, policy_of);
    let days = policy.daily_cap.map_or(0, |c| i64::from(c.days()));
    let (number, since) = (e164.clone(), now - days * 86_400_000);
    let facts = ctx
        .store
        .read(move |s| {
            let dnc = s.dnc_reason(&number)?;
            let dials = if days > 0 {
                s.dials_of(&number, since)?
            } else {
                Vec::new()
            };
            Ok((dnc, dials))
        })
        .await;
    let (dnc, dials) = match facts {
        Ok(f) => f,
        Err(e) => {
            // Without the list we cannot know: refuse, and say why.
            let refused = Refused {
                reason: "store_unavailable".into(),
                detail: e,
                retry_at: Some(now + 60_000),
            };
            return Err(refused);
        }
    };
    // On the call's task, as the route's own hooks run: the hook is
    // bounded by the scripts' instruction budget, and a thread hop for it
    // cost more than the hook. A panic in it denies, like any error.
    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        blacklist(&ctx.scripts, &e164, contact)
    }))
    .unwrap_or_else(|_| {
        warn!(phone = %e164, "blacklist.check panicked: denied");
        BlacklistVerdict::fail_closed()
    });
    let timezone = contact.map_or_else(
        || {
            campaign
                .and_then(|c| c.import.default_timezone.clone())
                .unwrap_or_else(|| "Asia/Shanghai".into())
        },
        |c| c.timezone.clone(),
    );
    let facts = ContactFacts {
        phone: &e164,
        timezone: &timezone,
        attempts: contact.map_or(0, |c| c.attempts),
        next_attempt_at: contact.map(|c| c.next_at_ms).filter(|t| *t > 0),
        last_abandoned_at: contact.and_then(|c| c.abandoned_ms),
        agent_reserved,
        recent_dials: &dials,
    };
    let lists = ListResults {
        do_not_call: dnc.as_deref(),
        blacklist: &verdict,
    };
    // A contact's number comes from storage and is checked again; any
    // other was validated by `normalise` above.
    let checked = if contact.is_some() {
        check_dial(now, &facts, &lists, &policy)
    } else {
        check_dial_normalised(now, &facts, &lists, &policy)
    };
    match checked {
        Ok(()) => Ok(e164),
        Err(refusal) => {
            let refused = Refused {
                reason: refusal.reason.as_str().to_owned(),
                detail: refusal.reason.to_string(),
                retry_at: if refusal.reason.is_permanent() {
                    None
                } else {
                    refusal.retry_at
                },
            };
            record(ctx, path, campaign, contact, &e164, &refused);
            Err(refused)
        }
    }
}

fn record(
    ctx: &CallContext,
    path: DialPath,
    campaign: Option<&Campaign>,
    contact: Option<&ContactRecord>,
    phone: &str,
    refused: &Refused,
) {
    let row = Refusal {
        at_ms: now_ms(),
        campaign: campaign.map(|c| c.name.clone()),
        contact_id: contact.map(|c| c.id),
        phone: phone.to_owned(),
        path: path.as_str().to_owned(),
        reason: refused.reason.clone(),
        detail: Some(refused.detail.clone()),
    };
    ctx.store.spawn(move |s| {
        if let Err(e) = s.insert_refusal(&row) {
            warn!(error = %e, "refusal not recorded");
        }
    });
}

/// What the next attempt of a contact needs from its campaign.
#[derive(Clone, Debug)]
pub struct RetryContext {
    pub retry: RetryPolicy,
    pub window: waihu_campaign::window::CallingWindow,
    pub max_attempts: u32,
    /// The call ran a broadcast flow: an answer delivered the message, so
    /// it is a success rather than a call waiting for an agent's
    /// disposition (a transfer's agent may still set one later).
    pub broadcast: bool,
}

impl RetryContext {
    pub fn of(c: &Campaign) -> RetryContext {
        RetryContext {
            retry: c.retry.clone().with_max_attempts(c.max_attempts),
            window: c.window.clone(),
            max_attempts: c.max_attempts,
            broadcast: false,
        }
    }
}

/// When to call the contact again after `outcome` (`None`: never):
/// `campaign.next_attempt` when a script defines it, else the campaign's
/// retry policy; never past the campaign's maximum attempts, and never
/// outside its calling window.
pub fn next_attempt(
    scripts: &ScriptHost,
    ctx: &RetryContext,
    contact: &ContactRecord,
    outcome: &str,
    attempts: u32,
    now: i64,
    callback_at: Option<i64>,
) -> Option<i64> {
    if attempts >= ctx.max_attempts && callback_at.is_none() {
        return None;
    }
    let outcome: Outcome = match outcome {
        // A connected call waits for the agent's disposition; until then
        // it is planned like `likely` would be, and the disposition
        // decides for good.
        "answered" if ctx.broadcast => Outcome::Success,
        "answered" => Outcome::Likely,
        "rejected" => Outcome::Busy,
        other => other.parse().unwrap_or(Outcome::Failed),
    };
    let tz = zone::lookup_zone(&contact.timezone).ok()?;
    let script_outcome: Option<waihu_script::Outcome> = outcome.as_str().parse().ok();
    if let Some(so) = script_outcome {
        match scripts.current().next_attempt(
            &crate::dialer::script_contact(contact),
            so,
            attempts,
            now / 1000,
        ) {
            Ok(Some(at_s)) => return ctx.window.next_open(&tz, at_s.saturating_mul(1000)),
            Ok(None) => return None,
            Err(e) if matches!(e.kind, HookErrorKind::Missing) => {}
            Err(e) => {
                warn!(contact = contact.id, error = %e, "campaign.next_attempt failed: no further attempt");
                return None;
            }
        }
    }
    ctx.retry.next_attempt(
        &AttemptEnd {
            outcome,
            attempts,
            at: now,
            callback_at,
        },
        &tz,
        &ctx.window,
    )
}
