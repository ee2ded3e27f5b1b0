//! waihu-store: persistence. The only crate of waihu that knows SQL.
//!
//! The embedded default is one SQLite file in WAL mode, opened from a
//! `store.url` such as `sqlite://waihu.db` (the file and its directory are
//! created on first run). The store is synchronous: the binary owns it on
//! one thread of its own ([`Store`] is `Send`, not shared) and talks to it
//! through a channel, so a slow disk never stalls a call's media.
//!
//! Tables so far:
//!
//! - `cdr`: one row per call ([`Cdr`]), with the agent and queue of a
//!   queued call and its wait and talk times.
//! - `agent_state`: the latest state of each ACD agent ([`AgentRow`]), what
//!   the switch rebuilds its agents from after a crash.
//! - `acd_event`: append-only history of every agent state change and queue
//!   event ([`AcdEvent`]), for reports.
//! - `callback`: callback requests left by queued callers on overflow
//!   ([`CallbackRow`]).
//! - `campaign`, `contact`, `attempt`, `dnc`, `refusal`: the dialer's
//!   campaigns, contact lists, attempts (each written before its INVITE
//!   leaves), the do-not-call table and the dial-point refusals; see
//!   [`campaign`](crate::ContactRecord) for how a contact moves.
//!
//! Reports over a span of time (per agent, per campaign with its days and
//! hours, per queue) are read from these tables: [`Store::agent_reports`],
//! [`Store::campaign_reports`], [`Store::campaign_detail`],
//! [`Store::queue_reports`].
//!
//! The schema version lives in `PRAGMA user_version`; [`Store::open`]
//! migrates forward and refuses a file from a newer waihu rather than
//! guessing.
#![forbid(unsafe_code)]

mod acd;
mod audit;
mod campaign;
mod report;

pub use acd::{AcdEvent, AgentRow, CallbackRow};
pub use audit::AuditEntry;
pub use campaign::{
    AttemptEnd, AttemptRecord, CampaignCounts, CampaignRow, ContactRecord, ImportCounts,
    NewAttempt, NewContact, Recovery, Refusal, ScriptStep, StepAppended,
};
pub use report::{
    AgentReport, CampaignDay, CampaignDetail, CampaignHour, CampaignParams, CampaignReport,
    DISPOSITIONS, QueueReport, Span,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// The schema this build writes. Each entry migrates from the previous
/// version; never edit one that has shipped, add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: call detail records.
    "CREATE TABLE cdr (
        id            INTEGER PRIMARY KEY,
        call_id       TEXT NOT NULL,
        from_uri      TEXT NOT NULL,
        to_uri        TEXT NOT NULL,
        start_ms      INTEGER NOT NULL,
        answer_ms     INTEGER,
        end_ms        INTEGER NOT NULL,
        hangup_by     TEXT NOT NULL,
        hangup_cause  TEXT NOT NULL,
        sip_status    INTEGER,
        digits        TEXT NOT NULL DEFAULT '',
        recording     TEXT,
        vars          TEXT NOT NULL DEFAULT '{}',
        script_version INTEGER
    );
    CREATE INDEX cdr_call_id ON cdr(call_id);
    CREATE INDEX cdr_start ON cdr(start_ms);",
    // 2: media quality per leg (packets, loss, jitter, strangers dropped).
    "ALTER TABLE cdr ADD COLUMN media TEXT NOT NULL DEFAULT '{}';",
    // 3: the trunk a call came in or went out on, and the party dialled.
    "ALTER TABLE cdr ADD COLUMN trunk TEXT;
     ALTER TABLE cdr ADD COLUMN dialled TEXT;",
    // 4: the ACD: who took a queued call and how long it waited and talked;
    // the latest state of each agent; the history of agent and queue
    // events; callback requests left on overflow.
    "ALTER TABLE cdr ADD COLUMN agent TEXT;
     ALTER TABLE cdr ADD COLUMN queue TEXT;
     ALTER TABLE cdr ADD COLUMN wait_ms INTEGER;
     ALTER TABLE cdr ADD COLUMN talk_ms INTEGER;
     CREATE TABLE agent_state (
        agent         TEXT PRIMARY KEY,
        state         TEXT NOT NULL,
        reason        TEXT,
        since_ms      INTEGER NOT NULL,
        idle_since_ms INTEGER,
        calls         INTEGER NOT NULL DEFAULT 0,
        missed        INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE acd_event (
        id            INTEGER PRIMARY KEY,
        at_ms         INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        agent         TEXT,
        queue         TEXT,
        call_id       TEXT,
        event         TEXT NOT NULL,
        from_state    TEXT,
        reason        TEXT,
        detail        TEXT
     );
     CREATE INDEX acd_event_at ON acd_event(at_ms);
     CREATE INDEX acd_event_agent ON acd_event(agent, at_ms);
     CREATE TABLE callback (
        id            INTEGER PRIMARY KEY,
        at_ms         INTEGER NOT NULL,
        number        TEXT NOT NULL,
        queue         TEXT NOT NULL,
        call_id       TEXT NOT NULL,
        done          INTEGER NOT NULL DEFAULT 0
     );",
    // 5: the dialer: campaigns, their contacts, every attempt (written
    // before its INVITE), the do-not-call table, and refusals by the
    // dial-point rules.
    "CREATE TABLE campaign (
        name          TEXT PRIMARY KEY,
        state         TEXT NOT NULL DEFAULT 'draft',
        config        TEXT NOT NULL DEFAULT '{}',
        updated_ms    INTEGER NOT NULL
     );
     CREATE TABLE contact (
        id            INTEGER PRIMARY KEY,
        campaign      TEXT NOT NULL,
        phone         TEXT NOT NULL,
        timezone      TEXT NOT NULL,
        fields        TEXT NOT NULL DEFAULT '{}',
        status        TEXT NOT NULL DEFAULT 'pending',
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_at_ms    INTEGER NOT NULL DEFAULT 0,
        lease_until_ms INTEGER,
        lease_owner   TEXT,
        last_outcome  TEXT,
        last_attempt_ms INTEGER,
        last_agent    TEXT,
        abandoned_ms  INTEGER,
        reserved_agent TEXT,
        mode          TEXT,
        priority      INTEGER NOT NULL DEFAULT 0,
        created_ms    INTEGER NOT NULL,
        UNIQUE (campaign, phone)
     );
     CREATE INDEX contact_due ON contact(campaign, mode, status, priority DESC, next_at_ms);
     CREATE TABLE attempt (
        id            INTEGER PRIMARY KEY,
        contact_id    INTEGER NOT NULL,
        campaign      TEXT NOT NULL,
        phone         TEXT NOT NULL,
        mode          TEXT NOT NULL,
        call_id       TEXT NOT NULL,
        started_ms    INTEGER NOT NULL,
        trunk         TEXT,
        answered_ms   INTEGER,
        ended_ms      INTEGER,
        outcome       TEXT,
        sip_status    INTEGER,
        agent         TEXT,
        disposition   TEXT,
        detail        TEXT
     );
     CREATE INDEX attempt_contact ON attempt(contact_id);
     CREATE INDEX attempt_phone ON attempt(phone, started_ms);
     CREATE INDEX attempt_call ON attempt(call_id);
     CREATE INDEX attempt_campaign ON attempt(campaign, id);
     CREATE TABLE dnc (
        phone         TEXT PRIMARY KEY,
        reason        TEXT NOT NULL,
        source        TEXT NOT NULL,
        added_ms      INTEGER NOT NULL
     );
     CREATE TABLE refusal (
        id            INTEGER PRIMARY KEY,
        at_ms         INTEGER NOT NULL,
        campaign      TEXT,
        contact_id    INTEGER,
        phone         TEXT NOT NULL,
        path          TEXT NOT NULL,
        reason        TEXT NOT NULL,
        detail        TEXT
     );
     CREATE INDEX refusal_at ON refusal(at_ms);
     CREATE INDEX refusal_campaign ON refusal(campaign, reason);",
    // 6: the dialer's pacing state per campaign (the rolling abandon
    // window and what it learned), kept across restarts.
    "CREATE TABLE pacer_state (
        campaign      TEXT PRIMARY KEY,
        saved         TEXT NOT NULL,
        saved_ms      INTEGER NOT NULL
     );",
    // 7: the audit log of the HTTP API: who changed what, when.
    "CREATE TABLE audit (
        id            INTEGER PRIMARY KEY,
        at_ms         INTEGER NOT NULL,
        user          TEXT NOT NULL,
        role          TEXT NOT NULL,
        method        TEXT NOT NULL,
        path          TEXT NOT NULL,
        status        INTEGER NOT NULL,
        source        TEXT
     );
     CREATE INDEX audit_at ON audit(at_ms);",
    // 8: the path an agent took through the campaign's agent script, per
    // attempt (a JSON array of steps).
    "ALTER TABLE attempt ADD COLUMN script_path TEXT NOT NULL DEFAULT '[]';",
];

const INSERT_CDR: &str = "INSERT INTO cdr (call_id, from_uri, to_uri, start_ms, answer_ms, end_ms,
    hangup_by, hangup_cause, sip_status, digits, recording, vars, script_version,
    media, trunk, dialled, agent, queue, wait_ms, talk_ms)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
    ?17, ?18, ?19, ?20)";

fn execute_cdr(stmt: &mut rusqlite::CachedStatement<'_>, cdr: &Cdr) -> Result<(), StoreError> {
    let vars = serde_json::to_string(&cdr.vars)?;
    stmt.execute(params![
        cdr.call_id,
        cdr.from,
        cdr.to,
        cdr.start_ms,
        cdr.answer_ms,
        cdr.end_ms,
        cdr.hangup_by,
        cdr.hangup_cause,
        cdr.sip_status,
        cdr.digits,
        cdr.recording,
        vars,
        cdr.script_version.map(|v| v as i64),
        serde_json::to_string(&cdr.media)?,
        cdr.trunk,
        cdr.dialled,
        cdr.agent,
        cdr.queue,
        cdr.wait_ms,
        cdr.talk_ms,
    ])?;
    Ok(())
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store url {0:?} is not understood (expected sqlite://PATH or sqlite::memory:)")]
    BadUrl(String),
    #[error("cannot create the directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: schema version {found} is newer than this waihu knows ({known}); refusing to touch it"
    )]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("the report's span is empty: until ({until_ms}) is not after since ({since_ms})")]
    BadSpan { since_ms: i64, until_ms: i64 },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot start the store thread: {0}")]
    Thread(String),
    #[error("stored vars are not valid JSON: {0}")]
    Vars(#[from] serde_json::Error),
}

/// One finished call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// Unix milliseconds.
    pub start_ms: i64,
    pub answer_ms: Option<i64>,
    pub end_ms: i64,
    /// `caller`, `callee` or `switch`.
    pub hangup_by: String,
    pub hangup_cause: String,
    /// The final SIP status of an unanswered call.
    pub sip_status: Option<u16>,
    /// Every digit collected by the call flow, in order.
    pub digits: String,
    pub recording: Option<String>,
    pub vars: BTreeMap<String, String>,
    pub script_version: Option<u64>,
    /// Media figures per leg: `caller.received`, `caller.lost`,
    /// `caller.jitter_ms`, `caller.strangers`, and `callee.*` when dialled.
    #[serde(default)]
    pub media: BTreeMap<String, i64>,
    /// The trunk the call came in on, or went out through.
    #[serde(default)]
    pub trunk: Option<String>,
    /// What `call:dial` reached last (a user, or a number through a trunk).
    #[serde(default)]
    pub dialled: Option<String>,
    /// The agent who took the call, when it went through a queue.
    #[serde(default)]
    pub agent: Option<String>,
    /// The queue the call waited in.
    #[serde(default)]
    pub queue: Option<String>,
    /// Time in the queue until an agent answered, or until the caller left.
    #[serde(default)]
    pub wait_ms: Option<i64>,
    /// From the agent's answer to the end of the call.
    #[serde(default)]
    pub talk_ms: Option<i64>,
}

/// The columns [`cdr_from_row`] reads, in its order.
const CDR_COLUMNS: &str = "call_id, from_uri, to_uri, start_ms, answer_ms, end_ms, hangup_by,
    hangup_cause, sip_status, digits, recording, vars, script_version, media, trunk, dialled,
    agent, queue, wait_ms, talk_ms";

/// One `cdr` row selected with [`CDR_COLUMNS`], with `vars` and `media`
/// still as JSON text (decoded by [`decode_cdrs`], outside rusqlite's
/// error type).
fn cdr_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Cdr, String, String)> {
    Ok((
        Cdr {
            call_id: r.get(0)?,
            from: r.get(1)?,
            to: r.get(2)?,
            start_ms: r.get(3)?,
            answer_ms: r.get(4)?,
            end_ms: r.get(5)?,
            hangup_by: r.get(6)?,
            hangup_cause: r.get(7)?,
            sip_status: r.get(8)?,
            digits: r.get(9)?,
            recording: r.get(10)?,
            vars: BTreeMap::new(),
            script_version: r.get::<_, Option<i64>>(12)?.map(|v| v as u64),
            media: BTreeMap::new(),
            trunk: r.get(14)?,
            dialled: r.get(15)?,
            agent: r.get(16)?,
            queue: r.get(17)?,
            wait_ms: r.get(18)?,
            talk_ms: r.get(19)?,
        },
        r.get(11)?,
        r.get(13)?,
    ))
}

/// Collects [`cdr_from_row`]'s rows, decoding their JSON columns.
fn decode_cdrs(
    rows: impl Iterator<Item = rusqlite::Result<(Cdr, String, String)>>,
) -> Result<Vec<Cdr>, StoreError> {
    let mut out = Vec::new();
    for row in rows {
        let (mut cdr, vars, media) = row?;
        cdr.vars = serde_json::from_str(&vars)?;
        cdr.media = serde_json::from_str(&media)?;
        out.push(cdr);
    }
    Ok(out)
}

/// The store: one SQLite connection.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
}

impl Store {
    /// Opens (creating if needed) the store at `url` and migrates it.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let path = parse_url(url)?;
        let conn = match &path {
            None => Connection::open_in_memory()?,
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
                Connection::open(path)?
            }
        };
        // WAL: readers never block the writer. NORMAL is durable across a
        // process crash (only a power loss can lose the last commits); the
        // dialer's attempt rows will switch to FULL for their transactions.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let shown = path
            .as_deref()
            .map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string());
        let mut store = Store { conn, path: shown };
        store.migrate()?;
        Ok(store)
    }

    /// A second, read-only connection to the store at `url`, which
    /// [`Store::open`] has created: it reads what is committed, beside the
    /// writer (WAL). `None` for an in-memory store, which has no second
    /// connection.
    pub fn open_reader(url: &str) -> Result<Option<Store>, StoreError> {
        let Some(path) = parse_url(url)? else {
            return Ok(None);
        };
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(1))?;
        Ok(Some(Store {
            conn,
            path: path.display().to_string(),
        }))
    }

    /// Checks a url without opening anything (for `waihu check`).
    pub fn check_url(url: &str) -> Result<(), StoreError> {
        parse_url(url).map(|_| ())
    }

    /// Where the store lives, for logs.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Writes one CDR; returns its row id.
    pub fn insert_cdr(&mut self, cdr: &Cdr) -> Result<i64, StoreError> {
        let mut stmt = self.conn.prepare_cached(INSERT_CDR)?;
        execute_cdr(&mut stmt, cdr)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Writes several CDRs in one transaction: all or none. At a thousand
    /// calls a second this is what keeps the store thread's disk work per
    /// call small (one commit per batch rather than per call).
    pub fn insert_cdrs(&mut self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(INSERT_CDR)?;
            for cdr in cdrs {
                execute_cdr(&mut stmt, cdr)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The most recent CDRs first, optionally only those of one Call-ID.
    pub fn cdrs(&self, call_id: Option<&str>, limit: u32) -> Result<Vec<Cdr>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CDR_COLUMNS} FROM cdr WHERE (?1 IS NULL OR call_id = ?1)
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![call_id, limit], cdr_from_row)?;
        decode_cdrs(rows)
    }

    /// The CDRs of calls started at or after `since_ms`, oldest first.
    pub fn cdrs_since(&self, since_ms: i64) -> Result<Vec<Cdr>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CDR_COLUMNS} FROM cdr WHERE start_ms >= ?1 ORDER BY start_ms, id"
        ))?;
        let rows = stmt.query_map(params![since_ms], cdr_from_row)?;
        decode_cdrs(rows)
    }

    /// How many CDRs the store holds.
    pub fn cdr_count(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT COUNT(*) FROM cdr", [], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0) as u64)
    }
}

/// `sqlite://relative/or/absolute/path`, or `sqlite::memory:` (tests).
fn parse_url(url: &str) -> Result<Option<PathBuf>, StoreError> {
    if url == "sqlite::memory:" {
        return Ok(None);
    }
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => Ok(Some(Path::new(path).to_owned())),
        _ => Err(StoreError::BadUrl(url.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr(call_id: &str) -> Cdr {
        Cdr {
            call_id: call_id.into(),
            from: "sip:1001@waihu.local".into(),
            to: "sip:602@waihu.local".into(),
            start_ms: 1_700_000_000_000,
            answer_ms: Some(1_700_000_000_100),
            end_ms: 1_700_000_005_000,
            hangup_by: "caller".into(),
            hangup_cause: "normal".into(),
            sip_status: None,
            digits: "1234#".into(),
            recording: Some("recordings/x.wav".into()),
            vars: BTreeMap::from([("digits".into(), "1234".into())]),
            script_version: Some(3),
            media: BTreeMap::from([("caller.received".into(), 250), ("caller.lost".into(), 2)]),
            trunk: Some("carrier-a".into()),
            dialled: Some("13800138000".into()),
            agent: None,
            queue: None,
            wait_ms: None,
            talk_ms: None,
        }
    }

    /// A call that waited in a queue and was taken by an agent.
    fn queued_cdr(call_id: &str) -> Cdr {
        Cdr {
            agent: Some("1001".into()),
            queue: Some("sales".into()),
            wait_ms: Some(12_500),
            talk_ms: Some(61_000),
            ..cdr(call_id)
        }
    }

    fn url(dir: &tempfile::TempDir, file: &str) -> String {
        format!("sqlite://{}", dir.path().join(file).display())
    }

    #[test]
    fn a_batch_of_cdrs_is_written_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&url(&dir, "b.db")).expect("open");
        let batch: Vec<Cdr> = (0..100).map(|i| cdr(&format!("c{i}"))).collect();
        store.insert_cdrs(&batch).expect("batch");
        assert_eq!(store.cdr_count().expect("count"), 100);
        assert_eq!(store.cdrs(Some("c42"), 1).expect("query"), [cdr("c42")]);
        // A batch with a row the database refuses is refused whole.
        store
            .conn
            .execute_batch("CREATE TRIGGER no_bad BEFORE INSERT ON cdr WHEN NEW.call_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END;")
            .expect("trigger");
        assert!(store.insert_cdrs(&[cdr("fine"), cdr("bad")]).is_err());
        assert_eq!(
            store.cdr_count().expect("count"),
            100,
            "nothing of the failed batch"
        );
    }

    #[test]
    fn a_queued_cdr_round_trips_with_its_agent_queue_and_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&url(&dir, "w.db")).expect("open");
        store.insert_cdr(&queued_cdr("q")).expect("insert");
        store.insert_cdr(&cdr("plain")).expect("insert");
        assert_eq!(store.cdrs(Some("q"), 1).expect("query"), [queued_cdr("q")]);
        assert_eq!(store.cdrs(Some("plain"), 1).expect("query"), [cdr("plain")]);
        assert_eq!(
            store.cdrs_since(0).expect("since"),
            [queued_cdr("q"), cdr("plain")]
        );
    }

    #[test]
    fn cdr_json_without_the_queue_fields_still_reads() {
        let mut old = serde_json::to_value(cdr("j")).expect("json");
        let obj = old.as_object_mut().expect("object");
        for key in ["agent", "queue", "wait_ms", "talk_ms"] {
            assert!(obj.remove(key).is_some(), "{key}");
        }
        let back: Cdr = serde_json::from_value(old).expect("old json reads");
        assert_eq!(back, cdr("j"));
        let json = serde_json::to_string(&queued_cdr("j")).expect("json");
        let back: Cdr = serde_json::from_str(&json).expect("reads");
        assert_eq!(back, queued_cdr("j"));
    }

    #[test]
    fn cdrs_since_lists_every_row_of_a_repeated_call_id_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&url(&dir, "w.db")).expect("open");
        let first = cdr("same");
        let second = Cdr {
            start_ms: first.start_ms + 1,
            ..queued_cdr("same")
        };
        store.insert_cdr(&first).expect("insert");
        store.insert_cdr(&second).expect("insert");
        assert_eq!(store.cdrs_since(0).expect("since"), [first, second.clone()]);
        assert_eq!(store.cdrs_since(second.start_ms).expect("since"), [second]);
    }

    #[test]
    fn a_file_from_schema_3_is_migrated_and_its_cdrs_have_no_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v3.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).expect("v3 schema");
            }
            conn.execute(
                "INSERT INTO cdr (call_id, from_uri, to_uri, start_ms, answer_ms, end_ms,
                    hangup_by, hangup_cause, digits, vars, media, trunk, dialled)
                 VALUES ('v3', 'sip:a@x', 'sip:b@x', 10, 20, 30, 'callee', 'normal', '12',
                    '{\"k\":\"v\"}', '{\"caller.lost\":1}', 'carrier-a', '602')",
                [],
            )
            .expect("v3 row");
            conn.pragma_update(None, "user_version", 3).expect("pragma");
        }
        let store = Store::open(&format!("sqlite://{}", path.display())).expect("migrates");
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("pragma");
        assert_eq!(version, MIGRATIONS.len() as i64);
        let rows = store.cdrs(Some("v3"), 10).expect("query");
        assert_eq!(
            rows,
            [Cdr {
                call_id: "v3".into(),
                from: "sip:a@x".into(),
                to: "sip:b@x".into(),
                start_ms: 10,
                answer_ms: Some(20),
                end_ms: 30,
                hangup_by: "callee".into(),
                hangup_cause: "normal".into(),
                digits: "12".into(),
                vars: BTreeMap::from([("k".into(), "v".into())]),
                media: BTreeMap::from([("caller.lost".into(), 1)]),
                trunk: Some("carrier-a".into()),
                dialled: Some("602".into()),
                ..Cdr::default()
            }]
        );
        assert!(store.agents().expect("agents").is_empty());
        assert!(store.acd_events(0, 10).expect("events").is_empty());
        assert!(store.callbacks(false).expect("callbacks").is_empty());
    }

    #[test]
    fn creates_the_file_and_its_directory_and_keeps_rows_across_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/dir/waihu.db");
        let url = format!("sqlite://{}", path.display());
        {
            let mut store = Store::open(&url).expect("open");
            store.insert_cdr(&cdr("a")).expect("insert");
            store.insert_cdr(&cdr("b")).expect("insert");
        }
        assert!(path.exists());
        let store = Store::open(&url).expect("reopen");
        assert_eq!(store.cdr_count().expect("count"), 2);
        let rows = store.cdrs(Some("a"), 10).expect("query");
        assert_eq!(rows, vec![cdr("a")]);
        let all = store.cdrs(None, 10).expect("query");
        assert_eq!(
            all.iter().map(|c| c.call_id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
    }

    #[test]
    fn refuses_a_schema_from_a_newer_waihu() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("pragma");
        drop(conn);
        let err = Store::open(&format!("sqlite://{}", path.display())).expect_err("newer");
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_file_from_the_first_schema_is_migrated_and_keeps_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[0]).expect("v1 schema");
            conn.execute(
                "INSERT INTO cdr (call_id, from_uri, to_uri, start_ms, end_ms, hangup_by, hangup_cause)
                 VALUES ('old', 'a', 'b', 1, 2, 'caller', 'normal')",
                [],
            )
            .expect("v1 row");
            conn.pragma_update(None, "user_version", 1).expect("pragma");
        }
        let store = Store::open(&format!("sqlite://{}", path.display())).expect("migrates");
        let rows = store.cdrs(Some("old"), 1).expect("query");
        assert_eq!(rows.len(), 1);
        assert!(rows[0].media.is_empty());
    }

    #[test]
    fn bad_urls_are_named() {
        for url in ["postgres://x", "sqlite://", "waihu.db"] {
            let err = Store::open(url).expect_err(url);
            assert!(err.to_string().contains(url), "{err}");
        }
    }

    #[test]
    fn the_store_runs_in_wal_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!("sqlite://{}/w.db", dir.path().display())).expect("open");
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, "wal");
    }
}
