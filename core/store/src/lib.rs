//! waihu-store: persistence. The only crate of waihu that knows SQL.
//!
//! The embedded default is one SQLite file in WAL mode, opened from a
//! `store.url` such as `sqlite://waihu.db` (the file and its directory are
//! created on first run). The store is synchronous: the binary owns it on
//! one thread of its own ([`Store`] is `Send`, not shared) and talks to it
//! through a channel, so a slow disk never stalls a call's media.
//!
//! Tables so far: `cdr`, one row per call. The schema version lives in
//! `PRAGMA user_version`; [`Store::open`] migrates forward and refuses a
//! file from a newer waihu rather than guessing.
#![forbid(unsafe_code)]

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
];

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
        let vars = serde_json::to_string(&cdr.vars)?;
        self.conn.execute(
            "INSERT INTO cdr (call_id, from_uri, to_uri, start_ms, answer_ms, end_ms,
                hangup_by, hangup_cause, sip_status, digits, recording, vars, script_version,
                media, trunk, dialled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
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
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The most recent CDRs first, optionally only those of one Call-ID.
    pub fn cdrs(&self, call_id: Option<&str>, limit: u32) -> Result<Vec<Cdr>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT call_id, from_uri, to_uri, start_ms, answer_ms, end_ms, hangup_by,
                    hangup_cause, sip_status, digits, recording, vars, script_version, media,
                    trunk, dialled
             FROM cdr WHERE (?1 IS NULL OR call_id = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![call_id, limit], |r| {
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
                },
                r.get::<_, String>(11)?,
                r.get::<_, String>(13)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut cdr, vars, media) = row?;
            cdr.vars = serde_json::from_str(&vars)?;
            cdr.media = serde_json::from_str(&media)?;
            out.push(cdr);
        }
        Ok(out)
    }

    /// The CDRs of calls started at or after `since_ms`, oldest first.
    pub fn cdrs_since(&self, since_ms: i64) -> Result<Vec<Cdr>, StoreError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT call_id FROM cdr WHERE start_ms >= ?1 ORDER BY start_ms, id",
            )?;
            let rows = stmt.query_map(params![since_ms], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.cdrs(Some(&id), 1)?);
        }
        Ok(out)
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
        }
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
