//! Reports: what the recorded rows say about agents, campaigns and queues
//! over a span of time (seed 000's end-of-campaign analysis).
//!
//! Every figure is computed from what the switch already writes:
//!
//! - agents: `attempt` (the calls placed for or by them, their
//!   dispositions), `cdr` (talk time of every call an agent took, inbound
//!   or outbound) and `acd_event` (time in `wrap_up`, from the state
//!   changes);
//! - campaigns: `contact` and `attempt`;
//! - queues: the `enter` / `answer` / `abandon` / `overflow` / `leave`
//!   events of `acd_event`.
//!
//! Spans are half open, `[since_ms, until_ms)`, on the time a call or an
//! attempt started (or a queued call entered its queue). Rates are
//! fractions (0.25 is 25 %), 0 when their denominator is 0. Day and hour
//! buckets of a campaign are in the zone the caller gives (the campaign's
//! own, or UTC): attempts are first counted in 15-minute slots in SQL,
//! and each slot is placed in its local day and hour (every zone's offset
//! is a multiple of 15 minutes, so a slot never straddles two local
//! hours).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The five categories an agent classifies a contact into, then the two
/// dispositions that plan the contact (callback, do-not-call): the
/// columns of every disposition table, in this order.
pub const DISPOSITIONS: [&str; 7] = [
    "unreachable",
    "success",
    "likely",
    "interested",
    "declined",
    "callback",
    "do_not_call",
];

/// Slots of 15 minutes: the finest grain of a campaign's day and hour
/// tables.
const SLOT_MS: i64 = 15 * 60_000;

/// `[since_ms, until_ms)`, Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub since_ms: i64,
    pub until_ms: i64,
}

impl Span {
    /// A span, or why it is not one.
    pub fn new(since_ms: i64, until_ms: i64) -> Result<Span, StoreError> {
        if until_ms <= since_ms {
            return Err(StoreError::BadSpan { since_ms, until_ms });
        }
        Ok(Span { since_ms, until_ms })
    }
}

/// `num / den`, 0 when there is nothing to divide by.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Every disposition column at 0.
fn empty_dispositions() -> BTreeMap<String, u64> {
    DISPOSITIONS.iter().map(|d| ((*d).to_owned(), 0)).collect()
}

/// One agent's figures over a span.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentReport {
    pub agent: String,
    /// Outbound attempts for this agent: previews and manual dials, and
    /// predictive or progressive calls the agent took.
    pub placed: u64,
    /// Of those, the ones where the customer answered and talked to the
    /// agent (attempt outcome `answered`).
    pub connected: u64,
    /// Calls the agent took from a queue that were not campaign attempts
    /// (inbound).
    pub inbound: u64,
    /// Talk time of every call the agent took (inbound and outbound), from
    /// the CDRs.
    pub talk_ms: i64,
    /// Time in `wrap_up` that ended within the span (clipped to it).
    pub wrap_up_ms: i64,
    /// Dispositions of the agent's attempts, every one of [`DISPOSITIONS`]
    /// present (0 when none), and any other value the store holds.
    pub dispositions: BTreeMap<String, u64>,
    /// `success` dispositions / calls connected.
    pub success_rate: f64,
}

/// One campaign's figures over a span.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    pub campaign: String,
    /// Contacts in the campaign's list (whenever imported).
    pub contacts: u64,
    /// Distinct contacts dialled in the span.
    pub contacts_dialled: u64,
    /// Attempts started in the span.
    pub dialled: u64,
    /// Attempts a person answered (answering machines not counted).
    pub answered: u64,
    /// Attempts an answering machine answered.
    pub machines: u64,
    /// Answered attempts that reached an agent.
    pub connected: u64,
    /// Answered attempts no agent took in time.
    pub abandoned: u64,
    /// `success` dispositions.
    pub success: u64,
    /// answered / dialled: how accurate the list is.
    pub contact_rate: f64,
    /// success / connected.
    pub conversion: f64,
    /// abandoned / live answers in the span, as the dialer counts them
    /// (machines and the broadcast segment's answers are not live
    /// answers an agent could have taken).
    pub abandon_rate: f64,
    /// The same over the campaign's abandon window ending at the span's
    /// end: the figure the regulator's cap applies to.
    pub rolling_abandon_rate: f64,
    /// The campaign's cap on the rolling rate.
    pub abandon_target: f64,
    /// dialled / contacts dialled.
    pub attempts_per_contact: f64,
    /// Agent dispositions, every one of [`DISPOSITIONS`] present.
    pub dispositions: BTreeMap<String, u64>,
    /// Attempts by how they ended (the system outcome; `in_progress` for
    /// an attempt not over yet).
    pub outcomes: BTreeMap<String, u64>,
}

/// One local day of a campaign.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignDay {
    /// `YYYY-MM-DD` in the report's zone.
    pub day: String,
    pub dialled: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// abandoned / live answers of the day.
    pub abandon_rate: f64,
    /// Over the campaign's abandon window ending at the end of the day
    /// (or at the span's end, for its last day).
    pub rolling_abandon_rate: f64,
}

/// One local hour of the day (all days of the span together).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignHour {
    /// 0 to 23, in the report's zone.
    pub hour: u8,
    pub dialled: u64,
    pub answered: u64,
    /// answered / dialled.
    pub answer_rate: f64,
    pub connected: u64,
    pub success: u64,
    /// success / dialled: what an attempt at this hour yields.
    pub success_rate: f64,
}

/// A campaign's report with its day and hour tables.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignDetail {
    pub summary: CampaignReport,
    /// The zone the days and hours are in.
    pub timezone: String,
    /// Days with at least one attempt, oldest first.
    pub days: Vec<CampaignDay>,
    /// All 24 hours, 0 first.
    pub hours: Vec<CampaignHour>,
    /// Up to three hours with attempts, best answer rate first (then most
    /// successes, then the earlier hour).
    pub best_hours: Vec<u8>,
}

/// What the store needs to know of a campaign's configuration.
#[derive(Clone, Debug)]
pub struct CampaignParams {
    /// The zone of the day and hour tables.
    pub timezone: TimeZone,
    /// The window of the rolling abandon rate.
    pub abandon_window_ms: i64,
    /// The cap on it, for the report to show.
    pub abandon_target: f64,
}

impl Default for CampaignParams {
    /// UTC, the dialer's default 30-day window and 3 % target.
    fn default() -> Self {
        CampaignParams {
            timezone: TimeZone::UTC,
            abandon_window_ms: 30 * 86_400_000,
            abandon_target: 0.03,
        }
    }
}

/// One queue's figures over a span.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    pub queue: String,
    /// Calls that entered the queue in the span.
    pub offered: u64,
    /// Of those, taken by an agent.
    pub answered: u64,
    /// Answered within the service-level threshold.
    pub answered_in_threshold: u64,
    /// The caller hung up while waiting.
    pub abandoned: u64,
    /// Given up on by the queue (max wait, no agents): the overflow
    /// action ran.
    pub overflowed: u64,
    /// Still waiting at the end of the recorded events.
    pub waiting: u64,
    /// The threshold, in milliseconds.
    pub threshold_ms: i64,
    /// answered within the threshold / calls whose fate is known
    /// (answered, abandoned, overflowed or left).
    pub service_level: f64,
    /// Mean wait of the answered calls (average speed of answer).
    pub avg_wait_ms: i64,
    /// Longest wait of any call, until it was answered, abandoned or
    /// overflowed.
    pub longest_wait_ms: i64,
    /// Mean wait of the calls abandoned.
    pub avg_abandon_wait_ms: i64,
}

/// The counts of one 15-minute slot of a campaign's attempts.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    dialled: u64,
    answered: u64,
    connected: u64,
    abandoned: u64,
    success: u64,
    /// Live answers as the dialer counts them for its abandon rate.
    lives: u64,
}

/// A person answered (not a machine); `answered_ms` is written when the
/// attempt ends.
const LIVE: &str = "(answered_ms IS NOT NULL AND COALESCE(outcome, '') != 'machine')";
/// A live answer the dialer's abandon rate counts: not the broadcast
/// segment's (no agent was meant to take it).
const ABANDON_BASE: &str =
    "(answered_ms IS NOT NULL AND COALESCE(outcome, '') != 'machine' AND mode != 'broadcast')";

/// The `waited_ms=N` an ACD queue event's detail starts with.
fn waited_of(detail: Option<&str>) -> Option<i64> {
    let rest = detail?.strip_prefix("waited_ms=")?;
    let digits = rest.split(' ').next()?;
    digits.parse().ok()
}

impl Store {
    /// Every agent with an attempt, a call or a state change in the span,
    /// by name.
    pub fn agent_reports(&self, span: Span) -> Result<Vec<AgentReport>, StoreError> {
        let mut out: BTreeMap<String, AgentReport> = BTreeMap::new();
        let mut rows: Vec<(String, u64, u64)> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT agent, COUNT(*), COALESCE(SUM(outcome = 'answered'), 0) FROM attempt
                 WHERE agent IS NOT NULL AND started_ms >= ?1 AND started_ms < ?2
                 GROUP BY agent",
            )?;
            for r in stmt.query_map(params![span.since_ms, span.until_ms], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })? {
                rows.push(r?);
            }
        }
        for (agent, placed, connected) in rows {
            let a = agent_entry(&mut out, agent);
            a.placed = placed;
            a.connected = connected;
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent, disposition, COUNT(*) FROM attempt
             WHERE agent IS NOT NULL AND disposition IS NOT NULL
               AND started_ms >= ?1 AND started_ms < ?2
             GROUP BY agent, disposition",
        )?;
        let rows = stmt.query_map(params![span.since_ms, span.until_ms], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        for row in rows {
            let (agent, disposition, n) = row?;
            *agent_entry(&mut out, agent)
                .dispositions
                .entry(disposition)
                .or_default() += n;
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent, COALESCE(SUM(talk_ms), 0),
                COALESCE(SUM(call_id NOT IN (SELECT call_id FROM attempt)), 0)
             FROM cdr WHERE agent IS NOT NULL AND start_ms >= ?1 AND start_ms < ?2
             GROUP BY agent",
        )?;
        let rows = stmt.query_map(params![span.since_ms, span.until_ms], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        for row in rows {
            let (agent, talk_ms, inbound) = row?;
            let a = agent_entry(&mut out, agent);
            a.talk_ms = talk_ms;
            a.inbound = inbound;
        }
        // A wrap-up lasts from the event that entered it (the previous
        // event of the agent) to the one that left it; the part inside
        // the span counts. A wrap-up not over yet is not counted.
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent, COALESCE(SUM(MIN(at_ms, ?2) - MAX(prev, ?1)), 0) FROM (
                SELECT agent, at_ms, from_state,
                    LAG(at_ms) OVER (PARTITION BY agent ORDER BY at_ms, id) AS prev
                FROM acd_event WHERE kind = 'agent' AND agent IS NOT NULL)
             WHERE from_state = 'wrap_up' AND prev IS NOT NULL AND at_ms > ?1 AND prev < ?2
             GROUP BY agent",
        )?;
        let rows = stmt.query_map(params![span.since_ms, span.until_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (agent, wrap_ms) = row?;
            agent_entry(&mut out, agent).wrap_up_ms = wrap_ms.max(0);
        }
        // Agents who only changed state in the span (logged in, paused)
        // are listed too, with zeros.
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT agent FROM acd_event
             WHERE kind = 'agent' AND agent IS NOT NULL AND at_ms >= ?1 AND at_ms < ?2",
        )?;
        let rows = stmt.query_map(params![span.since_ms, span.until_ms], |r| {
            r.get::<_, String>(0)
        })?;
        for row in rows {
            agent_entry(&mut out, row?);
        }
        Ok(out
            .into_values()
            .map(|mut a| {
                a.success_rate = ratio(a.dispositions["success"], a.connected);
                a
            })
            .collect())
    }

    /// Every campaign the store knows (with a row, contacts or attempts),
    /// by name, each with the parameters `params` gives for it.
    pub fn campaign_reports(
        &self,
        span: Span,
        params: impl Fn(&str) -> CampaignParams,
    ) -> Result<Vec<CampaignReport>, StoreError> {
        let names: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT name FROM campaign UNION SELECT DISTINCT campaign FROM contact
                 UNION SELECT DISTINCT campaign FROM attempt ORDER BY 1",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        names
            .iter()
            .map(|name| self.campaign_summary(name, span, &params(name)))
            .collect()
    }

    /// One campaign's report with its day and hour tables; `None` if the
    /// store knows no such campaign.
    pub fn campaign_detail(
        &self,
        campaign: &str,
        span: Span,
        params: &CampaignParams,
    ) -> Result<Option<CampaignDetail>, StoreError> {
        let known: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM campaign WHERE name = ?1)
                OR EXISTS (SELECT 1 FROM contact WHERE campaign = ?1)
                OR EXISTS (SELECT 1 FROM attempt WHERE campaign = ?1)",
            params![campaign],
            |r| r.get(0),
        )?;
        if !known {
            return Ok(None);
        }
        let summary = self.campaign_summary(campaign, span, params)?;
        let tz = &params.timezone;
        let window = params.abandon_window_ms.max(0);
        // The slots of the span, and of the window before it for the
        // rolling rate of its first days.
        let earliest = span.since_ms.saturating_sub(window);
        let slots = self.campaign_slots(campaign, earliest, span.until_ms)?;
        let mut days: BTreeMap<String, (Slot, i64)> = BTreeMap::new();
        let mut hours = [Slot::default(); 24];
        for (&slot, counts) in slots.range(span.since_ms.div_euclid(SLOT_MS)..) {
            let at = slot * SLOT_MS;
            let local = tz.to_datetime(timestamp(at));
            let hour = usize::try_from(local.hour()).unwrap_or(0).min(23);
            add(&mut hours[hour], counts);
            let date = local.date();
            let day_end = date
                .tomorrow()
                .ok()
                .and_then(|d| d.to_zoned_datetime(tz.clone()).ok())
                .map_or(i64::MAX, |z| z.timestamp().as_millisecond())
                .min(span.until_ms);
            let day = days
                .entry(date.to_string())
                .or_insert((Slot::default(), day_end));
            add(&mut day.0, counts);
        }
        let days = days
            .into_iter()
            .map(|(day, (c, end))| {
                let from = end.saturating_sub(window).div_euclid(SLOT_MS);
                let to = end.div_euclid(SLOT_MS);
                let mut rolling = Slot::default();
                for counts in slots.range(from..to).map(|(_, c)| c) {
                    add(&mut rolling, counts);
                }
                // A slot cut by the day's end belongs to the day it starts in.
                if end % SLOT_MS != 0
                    && let Some(last) = slots.get(&to)
                {
                    add(&mut rolling, last);
                }
                CampaignDay {
                    day,
                    dialled: c.dialled,
                    answered: c.answered,
                    abandoned: c.abandoned,
                    abandon_rate: ratio(c.abandoned, c.lives),
                    rolling_abandon_rate: ratio(rolling.abandoned, rolling.lives),
                }
            })
            .collect();
        let hours: Vec<CampaignHour> = (0u8..24)
            .zip(hours)
            .map(|(hour, c)| CampaignHour {
                hour,
                dialled: c.dialled,
                answered: c.answered,
                answer_rate: ratio(c.answered, c.dialled),
                connected: c.connected,
                success: c.success,
                success_rate: ratio(c.success, c.dialled),
            })
            .collect();
        let mut ranked: Vec<&CampaignHour> = hours.iter().filter(|h| h.dialled > 0).collect();
        ranked.sort_by(|a, b| {
            b.answer_rate
                .total_cmp(&a.answer_rate)
                .then(b.success.cmp(&a.success))
                .then(a.hour.cmp(&b.hour))
        });
        let best_hours = ranked.iter().take(3).map(|h| h.hour).collect();
        Ok(Some(CampaignDetail {
            summary,
            timezone: zone_label(tz),
            days,
            hours,
            best_hours,
        }))
    }

    /// The attempts of `campaign` started in `[since_ms, until_ms)`, by
    /// 15-minute slot (the slot's number: `started_ms / SLOT_MS`).
    fn campaign_slots(
        &self,
        campaign: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<BTreeMap<i64, Slot>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT started_ms / {SLOT_MS} - (started_ms % {SLOT_MS} < 0), COUNT(*),
                COALESCE(SUM({LIVE}), 0),
                COALESCE(SUM(outcome = 'answered' AND agent IS NOT NULL), 0),
                COALESCE(SUM(outcome = 'abandoned'), 0),
                COALESCE(SUM(disposition = 'success'), 0),
                COALESCE(SUM({ABANDON_BASE}), 0)
             FROM attempt WHERE campaign = ?1 AND started_ms >= ?2 AND started_ms < ?3
             GROUP BY 1"
        ))?;
        let rows = stmt.query_map(params![campaign, since_ms, until_ms], |r| {
            let n = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok((
                r.get::<_, i64>(0)?,
                Slot {
                    dialled: n(1)?,
                    answered: n(2)?,
                    connected: n(3)?,
                    abandoned: n(4)?,
                    success: n(5)?,
                    lives: n(6)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn campaign_summary(
        &self,
        campaign: &str,
        span: Span,
        params: &CampaignParams,
    ) -> Result<CampaignReport, StoreError> {
        let contacts: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM contact WHERE campaign = ?1",
            params![campaign],
            |r| r.get(0),
        )?;
        let counts = |since: i64, until: i64| -> Result<[u64; 8], StoreError> {
            Ok(self
                .conn
                .prepare_cached(&format!(
                    "SELECT COUNT(*), COUNT(DISTINCT contact_id), COALESCE(SUM({LIVE}), 0),
                        COALESCE(SUM(outcome = 'machine'), 0),
                        COALESCE(SUM(outcome = 'answered' AND agent IS NOT NULL), 0),
                        COALESCE(SUM(outcome = 'abandoned'), 0),
                        COALESCE(SUM(disposition = 'success'), 0),
                        COALESCE(SUM({ABANDON_BASE}), 0)
                     FROM attempt WHERE campaign = ?1 AND started_ms >= ?2 AND started_ms < ?3"
                ))?
                .query_row(params![campaign, since, until], |r| {
                    let mut out = [0u64; 8];
                    for (i, v) in out.iter_mut().enumerate() {
                        *v = r.get::<_, i64>(i)?.max(0) as u64;
                    }
                    Ok(out)
                })?)
        };
        let [
            dialled,
            contacts_dialled,
            answered,
            machines,
            connected,
            abandoned,
            success,
            lives,
        ] = counts(span.since_ms, span.until_ms)?;
        let window = params.abandon_window_ms.max(0);
        let rolling = counts(span.until_ms.saturating_sub(window), span.until_ms)?;
        let group = |sql: &str| -> Result<BTreeMap<String, u64>, StoreError> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(params![campaign, span.since_ms, span.until_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let mut dispositions = empty_dispositions();
        dispositions.extend(group(
            "SELECT disposition, COUNT(*) FROM attempt
             WHERE campaign = ?1 AND started_ms >= ?2 AND started_ms < ?3
               AND disposition IS NOT NULL GROUP BY 1",
        )?);
        let outcomes = group(
            "SELECT COALESCE(outcome, 'in_progress'), COUNT(*) FROM attempt
             WHERE campaign = ?1 AND started_ms >= ?2 AND started_ms < ?3 GROUP BY 1",
        )?;
        Ok(CampaignReport {
            campaign: campaign.to_owned(),
            contacts: contacts.max(0) as u64,
            contacts_dialled,
            dialled,
            answered,
            machines,
            connected,
            abandoned,
            success,
            contact_rate: ratio(answered, dialled),
            conversion: ratio(success, connected),
            abandon_rate: ratio(abandoned, lives),
            rolling_abandon_rate: ratio(rolling[5], rolling[7]),
            abandon_target: params.abandon_target,
            attempts_per_contact: ratio(dialled, contacts_dialled),
            dispositions,
            outcomes,
        })
    }

    /// Every queue with a call that entered it in the span, by name;
    /// `threshold_ms` is the service level's.
    pub fn queue_reports(
        &self,
        span: Span,
        threshold_ms: i64,
    ) -> Result<Vec<QueueReport>, StoreError> {
        // The fate of each call is the first of answer, abandon, overflow
        // or leave after it entered; those may come after the span ends.
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, queue, call_id, event, detail FROM acd_event
             WHERE kind = 'queue' AND queue IS NOT NULL AND call_id IS NOT NULL AND at_ms >= ?1
               AND event IN ('enter', 'answer', 'abandon', 'overflow', 'leave')
             ORDER BY at_ms, id",
        )?;
        let rows = stmt.query_map(params![span.since_ms], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        // Calls entered in the span whose fate is not known yet: call ->
        // the queue it entered.
        let mut open: BTreeMap<String, String> = BTreeMap::new();
        // Per queue: the report, the sum of answered waits, of abandoned.
        let mut out: BTreeMap<String, (QueueReport, i64, i64)> = BTreeMap::new();
        for row in rows {
            let (at_ms, queue, call, event, detail) = row?;
            if event == "enter" {
                // Entries after the span are read only for the fates of
                // the calls entered in it.
                if at_ms < span.until_ms {
                    queue_entry(&mut out, &queue, threshold_ms).0.offered += 1;
                    open.insert(call, queue);
                }
                continue;
            }
            // The fate is counted in the queue the call entered (an
            // answer names the agent's queue).
            let Some(entered) = open.remove(&call) else {
                continue;
            };
            let waited = waited_of(detail.as_deref()).unwrap_or(0).max(0);
            let (q, answer_waits, abandon_waits) = queue_entry(&mut out, &entered, threshold_ms);
            q.longest_wait_ms = q.longest_wait_ms.max(waited);
            match event.as_str() {
                "answer" => {
                    q.answered += 1;
                    *answer_waits += waited;
                    if waited <= threshold_ms {
                        q.answered_in_threshold += 1;
                    }
                }
                "abandon" => {
                    q.abandoned += 1;
                    *abandon_waits += waited;
                }
                "overflow" => q.overflowed += 1,
                _ => {}
            }
        }
        for queue in open.values() {
            queue_entry(&mut out, queue, threshold_ms).0.waiting += 1;
        }
        Ok(out
            .into_values()
            .map(|(mut q, answer_wait, abandon_wait)| {
                let known = q.offered - q.waiting;
                q.service_level = ratio(q.answered_in_threshold, known);
                q.avg_wait_ms = if q.answered == 0 {
                    0
                } else {
                    answer_wait / q.answered as i64
                };
                q.avg_abandon_wait_ms = if q.abandoned == 0 {
                    0
                } else {
                    abandon_wait / q.abandoned as i64
                };
                q
            })
            .collect())
    }
}

fn agent_entry(out: &mut BTreeMap<String, AgentReport>, agent: String) -> &mut AgentReport {
    out.entry(agent.clone()).or_insert_with(|| AgentReport {
        agent,
        dispositions: empty_dispositions(),
        ..AgentReport::default()
    })
}

fn queue_entry<'a>(
    out: &'a mut BTreeMap<String, (QueueReport, i64, i64)>,
    queue: &str,
    threshold_ms: i64,
) -> &'a mut (QueueReport, i64, i64) {
    out.entry(queue.to_owned()).or_insert_with(|| {
        (
            QueueReport {
                queue: queue.to_owned(),
                threshold_ms,
                ..QueueReport::default()
            },
            0,
            0,
        )
    })
}

fn add(into: &mut Slot, c: &Slot) {
    into.dialled += c.dialled;
    into.answered += c.answered;
    into.connected += c.connected;
    into.abandoned += c.abandoned;
    into.success += c.success;
    into.lives += c.lives;
}

/// The zone's IANA name, or its fixed offset.
fn zone_label(tz: &TimeZone) -> String {
    match (tz.iana_name(), tz.to_fixed_offset()) {
        (Some(name), _) => name.to_owned(),
        (None, Ok(offset)) if offset.seconds() == 0 => "UTC".to_owned(),
        (None, Ok(offset)) => offset.to_string(),
        (None, Err(_)) => "UTC".to_owned(),
    }
}

/// Unix milliseconds as a timestamp (clamped to jiff's range).
fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[cfg(test)]
mod tests;
