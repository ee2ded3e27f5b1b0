//! The dialer's tables: `campaign` (state of each campaign), `contact`
//! (the lists, one row per number per campaign), `attempt` (one row per
//! dial, written before its INVITE leaves), `dnc` (the do-not-call table)
//! and `refusal` (every time the dial-point rules said no, and why).
//!
//! # How a contact moves
//! ```text
//!  pending ──lease──> leased ──begin_attempt──> calling ──finish_attempt──> pending (retry later)
//!     ^                 │ refused / skipped                      └────────> done (no more attempts)
//!     └─────────────────┘ release
//! ```
//! A lease has an expiry, so a contact picked by a dialer that died is
//! picked again; an attempt that was in progress when the switch died is
//! closed as `failed` (`interrupted`) by [`Store::recover_dialer`], and
//! its contact stays behind the retry floor [`begin_attempt`] set before
//! the INVITE left. So a crash neither loses a contact nor calls it twice
//! inside its spacing.
//!
//! # Durability
//! Attempt rows and do-not-call entries are committed with
//! `synchronous=FULL` (the rest of the store runs at NORMAL in WAL mode):
//! the INVITE of an attempt leaves only after its row is on disk, and a
//! customer's "never call me again" survives a power cut.
//!
//! [`begin_attempt`]: Store::begin_attempt

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// A contact to import: a number already normalised to E.164, its time
/// zone, and the list's other columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    pub phone: String,
    pub timezone: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// What one import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// New contacts.
    pub inserted: u64,
    /// Numbers already in the campaign (from this file or an earlier
    /// import), their fields merged: non-empty new values win.
    pub merged: u64,
}

/// One `contact` row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub id: i64,
    pub campaign: String,
    pub phone: String,
    pub timezone: String,
    pub fields: BTreeMap<String, String>,
    /// `pending`, `leased`, `calling` or `done`.
    pub status: String,
    pub attempts: u32,
    /// Unix ms: not to be dialled before.
    pub next_at_ms: i64,
    pub last_outcome: Option<String>,
    pub last_attempt_ms: Option<i64>,
    pub last_agent: Option<String>,
    /// Unix ms of the last attempt that was abandoned (answered, no agent).
    pub abandoned_ms: Option<i64>,
    /// The agent this contact is kept for (preview, callback).
    pub reserved_agent: Option<String>,
    /// The dial mode `campaign.select_mode` chose, once classified.
    pub mode: Option<String>,
    pub priority: i64,
}

/// An attempt about to be dialled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAttempt {
    pub contact_id: i64,
    pub campaign: String,
    pub phone: String,
    pub mode: String,
    pub call_id: String,
    pub started_ms: i64,
    /// The contact is not dialled again before this, whatever happens to
    /// this attempt (the floor that holds across a crash).
    pub floor_until_ms: i64,
    #[serde(default)]
    pub agent: Option<String>,
}

/// How an attempt ended, and what happens to its contact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptEnd {
    pub attempt_id: i64,
    /// A system outcome: `answered`, `busy`, `no_answer`, ...
    pub outcome: String,
    pub sip_status: Option<u16>,
    pub trunk: Option<String>,
    pub answered_ms: Option<i64>,
    pub ended_ms: i64,
    pub agent: Option<String>,
    pub detail: Option<String>,
    /// The next attempt, or `None` when the contact is done.
    pub next_at_ms: Option<i64>,
    /// The call was answered and abandoned (no agent in time).
    pub abandoned: bool,
}

/// One `attempt` row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub id: i64,
    pub contact_id: i64,
    pub campaign: String,
    pub phone: String,
    pub mode: String,
    pub call_id: String,
    pub started_ms: i64,
    pub trunk: Option<String>,
    pub answered_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub outcome: Option<String>,
    pub sip_status: Option<u16>,
    pub agent: Option<String>,
    pub disposition: Option<String>,
    pub detail: Option<String>,
    /// The steps the agent took through the campaign's agent script.
    #[serde(default)]
    pub script_path: Vec<ScriptStep>,
}

/// One step through an agent script: at `node` the agent clicked option
/// `choice` (0-based), which led to `next`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptStep {
    pub node: String,
    pub choice: u32,
    pub next: String,
    pub at_ms: i64,
}

/// What [`Store::append_script_step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepAppended {
    /// The step is on disk; the whole path.
    Done(Vec<ScriptStep>),
    /// No such attempt.
    NoAttempt,
    /// The path is no longer the one the step was checked against (another
    /// step got in first): the path as it is.
    Moved(Vec<ScriptStep>),
}

/// A refusal by the dial-point rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub at_ms: i64,
    pub campaign: Option<String>,
    pub contact_id: Option<i64>,
    pub phone: String,
    /// Which path asked: `dialer`, `preview`, `manual`, `lua`, `api`.
    pub path: String,
    /// The rule's stable name (`do_not_call`, `outside_window`, ...).
    pub reason: String,
    pub detail: Option<String>,
}

/// What [`Store::recover_dialer`] found after a restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Attempts that were in progress, now closed as `failed`.
    pub interrupted: u64,
    /// Contacts given back to the pending pool.
    pub released: u64,
}

/// Contacts of one campaign by status, and attempts by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCounts {
    pub contacts: BTreeMap<String, u64>,
    pub outcomes: BTreeMap<String, u64>,
    pub attempts: u64,
    pub refusals: BTreeMap<String, u64>,
    /// What answered calls did, from their flows' results (broadcasts):
    /// `answered`, `heard_to_end`, `key_pressed`, `transferred`,
    /// `opted_out`, and `machine` from the outcomes.
    pub results: BTreeMap<String, u64>,
}

/// One `campaign` row: its state, and the configuration of a campaign
/// created or changed through the API (JSON; YAML campaigns have `{}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub name: String,
    /// `draft`, `running`, `paused` or `finished`.
    pub state: String,
    pub config: String,
    pub updated_ms: i64,
}

const CONTACT_COLUMNS: &str = "id, campaign, phone, timezone, fields, status, attempts, next_at_ms,
    last_outcome, last_attempt_ms, last_agent, abandoned_ms, reserved_agent, mode, priority";

fn contact_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ContactRecord, String)> {
    Ok((
        ContactRecord {
            id: r.get(0)?,
            campaign: r.get(1)?,
            phone: r.get(2)?,
            timezone: r.get(3)?,
            fields: BTreeMap::new(),
            status: r.get(5)?,
            attempts: r.get(6)?,
            next_at_ms: r.get(7)?,
            last_outcome: r.get(8)?,
            last_attempt_ms: r.get(9)?,
            last_agent: r.get(10)?,
            abandoned_ms: r.get(11)?,
            reserved_agent: r.get(12)?,
            mode: r.get(13)?,
            priority: r.get(14)?,
        },
        r.get(4)?,
    ))
}

fn decode_contacts(
    rows: impl Iterator<Item = rusqlite::Result<(ContactRecord, String)>>,
) -> Result<Vec<ContactRecord>, StoreError> {
    let mut out = Vec::new();
    for row in rows {
        let (mut c, fields) = row?;
        c.fields = serde_json::from_str(&fields)?;
        out.push(c);
    }
    Ok(out)
}

const ATTEMPT_COLUMNS: &str = "id, contact_id, campaign, phone, mode, call_id, started_ms, trunk,
    answered_ms, ended_ms, outcome, sip_status, agent, disposition, detail, script_path";

fn attempt_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        id: r.get(0)?,
        contact_id: r.get(1)?,
        campaign: r.get(2)?,
        phone: r.get(3)?,
        mode: r.get(4)?,
        call_id: r.get(5)?,
        started_ms: r.get(6)?,
        trunk: r.get(7)?,
        answered_ms: r.get(8)?,
        ended_ms: r.get(9)?,
        outcome: r.get(10)?,
        sip_status: r.get(11)?,
        agent: r.get(12)?,
        disposition: r.get(13)?,
        detail: r.get(14)?,
        script_path: script_path_from(r, 15)?,
    })
}

/// The stored path; a cell that is not a path (written by hand) reads as
/// an error rather than as an empty path.
fn script_path_from(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<ScriptStep>> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Fields with a value: an empty cell carries nothing, and must not wipe
/// a value an earlier import gave (the merge rule).
fn non_empty_json(fields: &BTreeMap<String, String>) -> Result<String, StoreError> {
    let kept: BTreeMap<&str, &str> = fields
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(serde_json::to_string(&kept)?)
}

impl Store {
    /// Runs `f` in a transaction committed with `synchronous=FULL`: when
    /// this returns Ok, the change is on disk.
    fn durably<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let result: Result<T, StoreError> = (|| {
            let tx = self.conn.transaction()?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        // Back to the store's default even when the transaction failed.
        let reset = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let value = result?;
        reset?;
        Ok(value)
    }

    /// Imports contacts into `campaign` in one transaction: every row of
    /// `rows` or none. A number already in the campaign is merged (its
    /// fields updated with the new non-empty values, its time zone
    /// replaced), not duplicated. `progress` is called every 10,000 rows
    /// with the count so far.
    pub fn import_contacts(
        &mut self,
        campaign: &str,
        rows: impl IntoIterator<Item = NewContact>,
        now_ms: i64,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportCounts, StoreError> {
        let tx = self.conn.transaction()?;
        let count = |tx: &Transaction<'_>| -> Result<u64, StoreError> {
            let n: i64 = tx.query_row(
                "SELECT COUNT(*) FROM contact WHERE campaign = ?1",
                params![campaign],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        };
        let before = count(&tx)?;
        let mut n = 0u64;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO contact (campaign, phone, timezone, fields, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (campaign, phone) DO UPDATE SET
                    timezone = excluded.timezone,
                    fields = json_patch(contact.fields, excluded.fields),
                    mode = NULL",
            )?;
            for c in rows {
                let fields = non_empty_json(&c.fields)?;
                insert.execute(params![campaign, c.phone, c.timezone, fields, now_ms])?;
                n += 1;
                if n.is_multiple_of(10_000) {
                    progress(n);
                }
            }
            progress(n);
        }
        let inserted = count(&tx)? - before;
        tx.execute(
            "INSERT INTO campaign (name, state, config, updated_ms) VALUES (?1, 'draft', '{}', ?2)
             ON CONFLICT (name) DO NOTHING",
            params![campaign, now_ms],
        )?;
        tx.commit()?;
        Ok(ImportCounts {
            inserted,
            merged: n - inserted,
        })
    }

    /// One contact by id.
    pub fn contact(&self, id: i64) -> Result<Option<ContactRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contact WHERE id = ?1"
        ))?;
        let rows = stmt.query_map(params![id], contact_from_row)?;
        Ok(decode_contacts(rows)?.pop())
    }

    /// The contacts of a campaign by id, at most `limit` after `after_id`.
    pub fn contacts(
        &self,
        campaign: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contact WHERE campaign = ?1 AND id > ?2
             ORDER BY id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![campaign, after_id, limit], contact_from_row)?;
        decode_contacts(rows)
    }

    /// Pending contacts of `campaign` whose dial mode is not chosen yet
    /// (new, or their script changed), at most `limit`.
    pub fn unclassified_contacts(
        &self,
        campaign: &str,
        limit: u32,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contact
             WHERE campaign = ?1 AND mode IS NULL AND status = 'pending'
             ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![campaign, limit], contact_from_row)?;
        decode_contacts(rows)
    }

    /// Records the modes `campaign.select_mode` chose: `(id, mode,
    /// priority, agent)`.
    pub fn classify_contacts(
        &mut self,
        choices: &[(i64, String, i64, Option<String>)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE contact SET mode = ?2, priority = ?3,
                    reserved_agent = COALESCE(?4, reserved_agent)
                 WHERE id = ?1",
            )?;
            for (id, mode, priority, agent) in choices {
                stmt.execute(params![id, mode, priority, agent])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets the chosen modes of a campaign's pending contacts, so the
    /// current `campaign.select_mode` chooses again (after a script
    /// change). Returns how many.
    pub fn reclassify_contacts(&mut self, campaign: &str) -> Result<u64, StoreError> {
        let n = self.conn.execute(
            "UPDATE contact SET mode = NULL WHERE campaign = ?1 AND status = 'pending'",
            params![campaign],
        )?;
        Ok(n as u64)
    }

    /// Leases up to `limit` contacts of `campaign` in dial mode `mode` that
    /// are due at `now_ms` (pending, or leased by someone whose lease ran
    /// out), best priority first, then the longest due. They stay leased
    /// to `owner` until `lease_until_ms` unless released or attempted.
    pub fn lease_contacts(
        &mut self,
        campaign: &str,
        mode: &str,
        now_ms: i64,
        limit: u32,
        lease_until_ms: i64,
        owner: &str,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let tx = self.conn.transaction()?;
        let leased = {
            let mut stmt = tx.prepare_cached(&format!(
                "UPDATE contact SET status = 'leased', lease_until_ms = ?4, lease_owner = ?5
                 WHERE id IN (
                    SELECT id FROM contact
                    WHERE campaign = ?1 AND mode = ?2 AND next_at_ms <= ?3
                      AND (status = 'pending' OR (status = 'leased' AND lease_until_ms < ?3))
                    ORDER BY priority DESC, next_at_ms, id LIMIT ?6)
                 RETURNING {CONTACT_COLUMNS}"
            ))?;
            let rows = stmt.query_map(
                params![campaign, mode, now_ms, lease_until_ms, owner, limit],
                contact_from_row,
            )?;
            decode_contacts(rows)?
        };
        tx.commit()?;
        let mut leased = leased;
        leased.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.next_at_ms.cmp(&b.next_at_ms))
                .then(a.id.cmp(&b.id))
        });
        Ok(leased)
    }

    /// Leases the next contact of `campaign` to preview for `agent`: a due
    /// contact in mode `preview` (or `mode`) kept for this agent first,
    /// then one kept for nobody; best priority, then longest due.
    pub fn lease_preview(
        &mut self,
        campaign: &str,
        agent: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<ContactRecord>, StoreError> {
        let tx = self.conn.transaction()?;
        let leased = {
            let mut stmt = tx.prepare_cached(&format!(
                "UPDATE contact SET status = 'leased', lease_until_ms = ?3, lease_owner = 'agent:' || ?2
                 WHERE id = (
                    SELECT id FROM contact
                    WHERE campaign = ?1 AND mode = 'preview' AND next_at_ms <= ?4
                      AND (reserved_agent IS NULL OR reserved_agent = ?2)
                      AND (status = 'pending' OR (status = 'leased' AND lease_until_ms < ?4))
                    ORDER BY reserved_agent IS NULL, priority DESC, next_at_ms, id LIMIT 1)
                 RETURNING {CONTACT_COLUMNS}"
            ))?;
            let rows = stmt.query_map(
                params![campaign, agent, lease_until_ms, now_ms],
                contact_from_row,
            )?;
            decode_contacts(rows)?
        };
        tx.commit()?;
        Ok(leased.into_iter().next())
    }

    /// The contact of `campaign` with this number (E.164), if any.
    pub fn contact_by_phone(
        &self,
        campaign: &str,
        phone: &str,
    ) -> Result<Option<ContactRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contact WHERE campaign = ?1 AND phone = ?2"
        ))?;
        let rows = stmt.query_map(params![campaign, phone], contact_from_row)?;
        Ok(decode_contacts(rows)?.pop())
    }

    /// Every attempt of one contact, oldest first (its history).
    pub fn attempts_of_contact(&self, contact_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempt WHERE contact_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![contact_id], attempt_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Gives a leased contact back: pending again, not before `next_at_ms`
    /// (`None`: done, never dialled again by this campaign).
    pub fn release_contact(&mut self, id: i64, next_at_ms: Option<i64>) -> Result<(), StoreError> {
        let (status, next) = match next_at_ms {
            Some(t) => ("pending", t),
            None => ("done", i64::MAX),
        };
        self.conn
            .prepare_cached(
                "UPDATE contact SET status = ?2, next_at_ms = MAX(next_at_ms, ?3),
                    lease_until_ms = NULL, lease_owner = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id, status, next])?;
        Ok(())
    }

    /// A contact the dial-point rules refused for good (do-not-call,
    /// blacklisted, invalid, attempts used up): done, its last outcome
    /// `blocked`.
    pub fn block_contact(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE contact SET status = 'done', last_outcome = 'blocked',
                    lease_until_ms = NULL, lease_owner = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id])?;
        Ok(())
    }

    /// Writes the attempt row and marks its contact as being called, in one
    /// transaction on disk before this returns. Only then may the INVITE
    /// leave. Returns the attempt's id.
    pub fn begin_attempt(&mut self, a: &NewAttempt) -> Result<i64, StoreError> {
        self.durably(|tx| {
            tx.prepare_cached(
                "INSERT INTO attempt (contact_id, campaign, phone, mode, call_id, started_ms, agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                a.contact_id,
                a.campaign,
                a.phone,
                a.mode,
                a.call_id,
                a.started_ms,
                a.agent
            ])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "UPDATE contact SET status = 'calling', attempts = attempts + 1,
                    last_attempt_ms = ?2, next_at_ms = MAX(next_at_ms, ?3),
                    lease_until_ms = NULL
                 WHERE id = ?1",
            )?
            .execute(params![a.contact_id, a.started_ms, a.floor_until_ms])?;
            Ok(id)
        })
    }

    /// Closes an attempt and moves its contact on: pending for the next
    /// attempt as planned, or done. (The floor set when it began guards
    /// only an attempt that never finishes: a crash.)
    pub fn finish_attempt(&mut self, end: &AttemptEnd) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let contact: Option<i64> = tx
            .query_row(
                "UPDATE attempt SET outcome = ?2, sip_status = ?3, trunk = ?4, answered_ms = ?5,
                    ended_ms = ?6, agent = COALESCE(?7, agent), detail = ?8
                 WHERE id = ?1 RETURNING contact_id",
                params![
                    end.attempt_id,
                    end.outcome,
                    end.sip_status,
                    end.trunk,
                    end.answered_ms,
                    end.ended_ms,
                    end.agent,
                    end.detail
                ],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(contact) = contact {
            let (status, next) = match end.next_at_ms {
                Some(t) => ("pending", t),
                None => ("done", i64::MAX),
            };
            tx.prepare_cached(
                "UPDATE contact SET status = ?2, next_at_ms = ?3,
                    last_outcome = ?4, last_agent = COALESCE(?5, last_agent),
                    abandoned_ms = CASE WHEN ?6 THEN ?7 ELSE abandoned_ms END,
                    lease_until_ms = NULL, lease_owner = NULL
                 WHERE id = ?1",
            )?
            .execute(params![
                contact,
                status,
                next,
                end.outcome,
                end.agent,
                end.abandoned,
                end.ended_ms
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the agent's disposition of an attempt and what it means for
    /// the contact (the next attempt, or done).
    pub fn set_disposition(
        &mut self,
        attempt_id: i64,
        disposition: &str,
        next_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let contact: Option<i64> = tx
            .query_row(
                "UPDATE attempt SET disposition = ?2 WHERE id = ?1 RETURNING contact_id",
                params![attempt_id, disposition],
                |r| r.get(0),
            )
            .optional()?;
        let Some(contact) = contact else {
            return Ok(false);
        };
        let (status, next) = match next_at_ms {
            Some(t) => ("pending", t),
            None => ("done", i64::MAX),
        };
        // A contact being called again already (a fast retry) keeps its
        // status; only its plan changes.
        tx.prepare_cached(
            "UPDATE contact SET last_outcome = ?2,
                status = CASE WHEN status = 'calling' OR status = 'leased' THEN status ELSE ?3 END,
                next_at_ms = ?4
             WHERE id = ?1",
        )?
        .execute(params![contact, disposition, status, next])?;
        tx.commit()?;
        Ok(true)
    }

    /// Appends one step to an attempt's script path, durably, if the path
    /// still has `expected_len` steps (the length the step was validated
    /// against).
    pub fn append_script_step(
        &mut self,
        attempt_id: i64,
        expected_len: usize,
        step: &ScriptStep,
    ) -> Result<StepAppended, StoreError> {
        self.durably(|tx| {
            let text: Option<String> = tx
                .query_row(
                    "SELECT script_path FROM attempt WHERE id = ?1",
                    params![attempt_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(text) = text else {
                return Ok(StepAppended::NoAttempt);
            };
            let mut path: Vec<ScriptStep> = serde_json::from_str(&text)?;
            if path.len() != expected_len {
                return Ok(StepAppended::Moved(path));
            }
            path.push(step.clone());
            tx.execute(
                "UPDATE attempt SET script_path = ?2 WHERE id = ?1",
                params![attempt_id, serde_json::to_string(&path)?],
            )?;
            Ok(StepAppended::Done(path))
        })
    }

    /// After a restart: closes the attempts that were in progress as
    /// `failed` (`interrupted`, ended at `now_ms`) and gives their contacts
    /// and every leased contact back to the pending pool. The retry floor
    /// each attempt set before its INVITE left still holds.
    pub fn recover_dialer(&mut self, now_ms: i64) -> Result<Recovery, StoreError> {
        self.durably(|tx| {
            let interrupted = tx.execute(
                "UPDATE attempt SET outcome = 'failed', detail = 'interrupted', ended_ms = ?1
                 WHERE ended_ms IS NULL",
                params![now_ms],
            )?;
            let released = tx.execute(
                "UPDATE contact SET
                    status = 'pending',
                    last_outcome = CASE WHEN status = 'calling' THEN 'failed' ELSE last_outcome END,
                    lease_until_ms = NULL, lease_owner = NULL
                 WHERE status IN ('leased', 'calling')",
                [],
            )?;
            Ok(Recovery {
                interrupted: interrupted as u64,
                released: released as u64,
            })
        })
    }

    /// One attempt by id.
    pub fn attempt(&self, id: i64) -> Result<Option<AttemptRecord>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempt WHERE id = ?1"
            ))?
            .query_row(params![id], attempt_from_row)
            .optional()?)
    }

    /// The attempt a call is for, by the Call-ID of its INVITE.
    pub fn attempt_by_call(&self, call_id: &str) -> Result<Option<AttemptRecord>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempt WHERE call_id = ?1"
            ))?
            .query_row(params![call_id], attempt_from_row)
            .optional()?)
    }

    /// Attempts of a campaign (or all), oldest first, at most `limit`
    /// after `after_id`.
    pub fn attempts(
        &self,
        campaign: Option<&str>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempt
             WHERE (?1 IS NULL OR campaign = ?1) AND id > ?2 ORDER BY id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![campaign, after_id, limit], attempt_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When `phone` was dialled (by any campaign) at or after `since_ms`,
    /// oldest first: the facts a daily cap counts.
    pub fn dials_of(&self, phone: &str, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT started_ms FROM attempt WHERE phone = ?1 AND started_ms >= ?2
             ORDER BY started_ms",
        )?;
        let rows = stmt.query_map(params![phone, since_ms], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts `phone` on the do-not-call table, on disk before this returns.
    /// A number already there keeps its first reason.
    pub fn add_dnc(
        &mut self,
        phone: &str,
        reason: &str,
        source: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.durably(|tx| {
            tx.execute(
                "INSERT INTO dnc (phone, reason, source, added_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (phone) DO NOTHING",
                params![phone, reason, source, now_ms],
            )?;
            Ok(())
        })
    }

    /// Takes `phone` off the do-not-call table; false if it was not on it.
    pub fn remove_dnc(&mut self, phone: &str) -> Result<bool, StoreError> {
        self.durably(|tx| Ok(tx.execute("DELETE FROM dnc WHERE phone = ?1", params![phone])? > 0))
    }

    /// Why `phone` is on the do-not-call table, if it is.
    pub fn dnc_reason(&self, phone: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT reason FROM dnc WHERE phone = ?1")?
            .query_row(params![phone], |r| r.get(0))
            .optional()?)
    }

    /// `(rows, newest added_ms)` of the do-not-call table: changes when a
    /// number is added or removed, so a cached copy knows to reload.
    pub fn dnc_fingerprint(&self) -> Result<(u64, i64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(MAX(added_ms), 0) FROM dnc",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )?)
    }

    /// The do-not-call table: `(phone, reason, source, added_ms)`.
    pub fn dnc_list(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT phone, reason, source, added_ms FROM dnc ORDER BY phone")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that the dial-point rules refused a number.
    pub fn insert_refusal(&mut self, r: &Refusal) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO refusal (at_ms, campaign, contact_id, phone, path, reason, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                r.at_ms,
                r.campaign,
                r.contact_id,
                r.phone,
                r.path,
                r.reason,
                r.detail
            ])?;
        Ok(())
    }

    /// Refusals at or after `since_ms`, oldest first, at most `limit`.
    pub fn refusals(&self, since_ms: i64, limit: u32) -> Result<Vec<Refusal>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, campaign, contact_id, phone, path, reason, detail FROM refusal
             WHERE at_ms >= ?1 ORDER BY at_ms, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![since_ms, limit], |r| {
            Ok(Refusal {
                at_ms: r.get(0)?,
                campaign: r.get(1)?,
                contact_id: r.get(2)?,
                phone: r.get(3)?,
                path: r.get(4)?,
                reason: r.get(5)?,
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a campaign's state (creating its row if needed), durably.
    pub fn set_campaign_state(
        &mut self,
        name: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.durably(|tx| {
            tx.execute(
                "INSERT INTO campaign (name, state, config, updated_ms) VALUES (?1, ?2, '{}', ?3)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state,
                    updated_ms = excluded.updated_ms",
                params![name, state, now_ms],
            )?;
            Ok(())
        })
    }

    /// Stores the configuration (JSON) of a campaign made or changed
    /// through the API.
    pub fn set_campaign_config(
        &mut self,
        name: &str,
        config: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO campaign (name, state, config, updated_ms) VALUES (?1, 'draft', ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET config = excluded.config,
                updated_ms = excluded.updated_ms",
            params![name, config, now_ms],
        )?;
        Ok(())
    }

    /// Every campaign the store knows, by name.
    pub fn campaigns(&self) -> Result<Vec<CampaignRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, state, config, updated_ms FROM campaign ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(CampaignRow {
                name: r.get(0)?,
                state: r.get(1)?,
                config: r.get(2)?,
                updated_ms: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a campaign's pacing state (JSON), replacing the last one.
    pub fn save_pacer(
        &mut self,
        campaign: &str,
        saved: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO pacer_state (campaign, saved, saved_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (campaign) DO UPDATE SET saved = excluded.saved,
                    saved_ms = excluded.saved_ms",
            )?
            .execute(params![campaign, saved, now_ms])?;
        Ok(())
    }

    /// A campaign's last saved pacing state (JSON).
    pub fn pacer(&self, campaign: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT saved FROM pacer_state WHERE campaign = ?1")?
            .query_row(params![campaign], |r| r.get(0))
            .optional()?)
    }

    /// Contacts by status, attempts by outcome, refusals by reason.
    pub fn campaign_counts(&self, campaign: &str) -> Result<CampaignCounts, StoreError> {
        let mut counts = CampaignCounts::default();
        let group = |sql: &str| -> Result<BTreeMap<String, u64>, StoreError> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(params![campaign], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        counts.contacts =
            group("SELECT status, COUNT(*) FROM contact WHERE campaign = ?1 GROUP BY status")?;
        counts.outcomes = group(
            "SELECT COALESCE(disposition, outcome, 'in_progress'), COUNT(*) FROM attempt
             WHERE campaign = ?1 GROUP BY 1",
        )?;
        counts.attempts = counts.outcomes.values().sum();
        counts.refusals =
            group("SELECT reason, COUNT(*) FROM refusal WHERE campaign = ?1 GROUP BY reason")?;
        let (answered, heard, key, transferred, opted_out, machine): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = self
            .conn
            .prepare_cached(
                "SELECT
                    COALESCE(SUM(outcome = 'answered'), 0),
                    COALESCE(SUM(json_extract(detail, '$.heard') = 'end'), 0),
                    COALESCE(SUM(COALESCE(json_extract(detail, '$.key'), '') != ''), 0),
                    COALESCE(SUM(json_extract(detail, '$.transferred') = 'yes'), 0),
                    COALESCE(SUM(json_extract(detail, '$.opted_out') IS NOT NULL
                        AND json_extract(detail, '$.opted_out') != 'failed'), 0),
                    COALESCE(SUM(outcome = 'machine'), 0)
                 FROM attempt WHERE campaign = ?1 AND (detail IS NULL OR json_valid(detail))",
            )?
            .query_row(params![campaign], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
        for (k, v) in [
            ("answered", answered),
            ("heard_to_end", heard),
            ("key_pressed", key),
            ("transferred", transferred),
            ("opted_out", opted_out),
            ("machine", machine),
        ] {
            counts.results.insert(k.to_owned(), v.max(0) as u64);
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests;
