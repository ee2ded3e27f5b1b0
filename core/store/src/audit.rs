//! The `audit` table: every state-changing request to the HTTP API, with
//! who made it and how it ended.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// One request that changed (or tried to change) something.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The row id when read back; ignored on insert.
    #[serde(default)]
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// The login (agent id, user name or token name); `-` when unknown.
    pub user: String,
    pub role: String,
    pub method: String,
    /// The request's path and query.
    pub path: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The client's address.
    #[serde(default)]
    pub source: Option<String>,
}

impl Store {
    /// Appends entries in one transaction.
    pub fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit (at_ms, user, role, method, path, status, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in entries {
                stmt.execute(params![
                    e.at_ms, e.user, e.role, e.method, e.path, e.status, e.source
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Entries after row `after`, oldest first, at most `limit`; optionally
    /// only one user's.
    pub fn audit(
        &self,
        after: i64,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at_ms, user, role, method, path, status, source FROM audit
             WHERE id > ?1 AND (?2 IS NULL OR user = ?2) ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![after, user, limit], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at_ms: r.get(1)?,
                user: r.get(2)?,
                role: r.get(3)?,
                method: r.get(4)?,
                path: r.get(5)?,
                status: r.get(6)?,
                source: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_in_order_and_by_user() {
        let dir = std::env::temp_dir().join(format!("waihu-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("a.db");
        let _ = std::fs::remove_file(&path);
        let mut store = Store::open(&format!("sqlite://{}", path.display())).expect("open");
        let entry = |user: &str, status: u16| AuditEntry {
            at_ms: 1000,
            user: user.into(),
            role: "admin".into(),
            method: "POST".into(),
            path: "/api/v1/scripts/reload".into(),
            status,
            source: Some("127.0.0.1:5000".into()),
            ..AuditEntry::default()
        };
        store
            .insert_audit(&[entry("ops", 200), entry("1001", 403), entry("ops", 409)])
            .expect("insert");
        let all = store.audit(0, None, 10).expect("all");
        assert_eq!(
            all.iter().map(|e| e.status).collect::<Vec<_>>(),
            [200, 403, 409]
        );
        let ops = store.audit(0, Some("ops"), 10).expect("ops");
        assert_eq!(ops.len(), 2);
        let after = store.audit(all[1].id, None, 10).expect("after");
        assert_eq!(after, all[2..]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
