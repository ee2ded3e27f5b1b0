//! The ACD's tables: `agent_state` (the latest state of each agent),
//! `acd_event` (the history of agent and queue events) and `callback`
//! (callback requests left by queued callers on overflow).

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The latest state of one agent: one `agent_state` row. The switch
/// rebuilds its agents from these after a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRow {
    pub agent: String,
    /// The state the agent is in, e.g. `ready`, `paused`, `ringing`,
    /// `busy`, `wrapup`, `logged_out`.
    pub state: String,
    /// Why, when the state has a reason (a pause's, a logout's).
    #[serde(default)]
    pub reason: Option<String>,
    /// Unix milliseconds: when the agent entered `state`.
    pub since_ms: i64,
    /// Unix milliseconds: since when the agent has been idle (for
    /// longest-idle routing), if it is.
    #[serde(default)]
    pub idle_since_ms: Option<i64>,
    /// Calls answered.
    #[serde(default)]
    pub calls: u32,
    /// Consecutive offers not answered.
    #[serde(default)]
    pub missed: u32,
}

/// One agent state change or queue event: one `acd_event` row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcdEvent {
    /// The row id when read back; ignored by
    /// [`Store::insert_acd_events`] (leave it 0).
    #[serde(default)]
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `agent` or `queue`.
    pub kind: String,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub call_id: Option<String>,
    /// For an agent, the new state (`ready`, `paused`, ...); for a queue,
    /// what happened (`enter`, `offer`, `answer`, `abandon`, `overflow`,
    /// `leave`).
    pub event: String,
    /// For an agent, the state it left.
    #[serde(default)]
    pub from_state: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Anything else worth keeping, free-form.
    #[serde(default)]
    pub detail: Option<String>,
}

/// A callback request left by a queued caller on overflow: one `callback`
/// row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRow {
    pub id: i64,
    /// Unix milliseconds: when the caller asked.
    pub at_ms: i64,
    /// The number to call back.
    pub number: String,
    pub queue: String,
    /// The Call-ID of the call that left the request.
    pub call_id: String,
    /// The callback has been made (or given up on).
    pub done: bool,
}

impl Store {
    /// Writes the latest state of `row.agent`, replacing any previous one.
    pub fn save_agent(&mut self, row: &AgentRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO agent_state
                    (agent, state, reason, since_ms, idle_since_ms, calls, missed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (agent) DO UPDATE SET
                    state = excluded.state,
                    reason = excluded.reason,
                    since_ms = excluded.since_ms,
                    idle_since_ms = excluded.idle_since_ms,
                    calls = excluded.calls,
                    missed = excluded.missed",
            )?
            .execute(params![
                row.agent,
                row.state,
                row.reason,
                row.since_ms,
                row.idle_since_ms,
                row.calls,
                row.missed,
            ])?;
        Ok(())
    }

    /// The latest state of every agent ever saved, ordered by agent.
    pub fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent, state, reason, since_ms, idle_since_ms, calls, missed
             FROM agent_state ORDER BY agent",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AgentRow {
                agent: r.get(0)?,
                state: r.get(1)?,
                reason: r.get(2)?,
                since_ms: r.get(3)?,
                idle_since_ms: r.get(4)?,
                calls: r.get(5)?,
                missed: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Appends `events` in one transaction: all of them or none. Their `id`
    /// is ignored; the store numbers them in the order given.
    pub fn insert_acd_events(&mut self, events: &[AcdEvent]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO acd_event
                    (at_ms, kind, agent, queue, call_id, event, from_state, reason, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for e in events {
                stmt.execute(params![
                    e.at_ms,
                    e.kind,
                    e.agent,
                    e.queue,
                    e.call_id,
                    e.event,
                    e.from_state,
                    e.reason,
                    e.detail,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// At most `limit` events at or after `since_ms`, oldest first (events
    /// of the same millisecond in the order they were inserted).
    pub fn acd_events(&self, since_ms: i64, limit: u32) -> Result<Vec<AcdEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at_ms, kind, agent, queue, call_id, event, from_state, reason, detail
             FROM acd_event WHERE at_ms >= ?1 ORDER BY at_ms, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![since_ms, limit], |r| {
            Ok(AcdEvent {
                id: r.get(0)?,
                at_ms: r.get(1)?,
                kind: r.get(2)?,
                agent: r.get(3)?,
                queue: r.get(4)?,
                call_id: r.get(5)?,
                event: r.get(6)?,
                from_state: r.get(7)?,
                reason: r.get(8)?,
                detail: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a callback request (not yet done); returns its id.
    pub fn insert_callback(
        &mut self,
        at_ms: i64,
        number: &str,
        queue: &str,
        call_id: &str,
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO callback (at_ms, number, queue, call_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![at_ms, number, queue, call_id])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks callback `id` done; false if there is no such callback.
    pub fn callback_done(&mut self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE callback SET done = 1 WHERE id = ?1")?
            .execute(params![id])?;
        Ok(n > 0)
    }

    /// Callback requests, oldest first; only those not done yet if
    /// `pending_only`.
    pub fn callbacks(&self, pending_only: bool) -> Result<Vec<CallbackRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at_ms, number, queue, call_id, done FROM callback
             WHERE NOT (?1 AND done) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![pending_only], |r| {
            Ok(CallbackRow {
                id: r.get(0)?,
                at_ms: r.get(1)?,
                number: r.get(2)?,
                queue: r.get(3)?,
                call_id: r.get(4)?,
                done: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cdr;

    fn open(dir: &tempfile::TempDir) -> Store {
        Store::open(&format!("sqlite://{}", dir.path().join("acd.db").display())).expect("open")
    }

    fn agent(name: &str, state: &str, since_ms: i64) -> AgentRow {
        AgentRow {
            agent: name.into(),
            state: state.into(),
            reason: None,
            since_ms,
            idle_since_ms: Some(since_ms),
            calls: 0,
            missed: 0,
        }
    }

    fn agent_event(at_ms: i64, name: &str, from: &str, to: &str) -> AcdEvent {
        AcdEvent {
            at_ms,
            kind: "agent".into(),
            agent: Some(name.into()),
            event: to.into(),
            from_state: Some(from.into()),
            ..AcdEvent::default()
        }
    }

    fn queue_event(at_ms: i64, queue: &str, call_id: &str, event: &str) -> AcdEvent {
        AcdEvent {
            at_ms,
            kind: "queue".into(),
            queue: Some(queue.into()),
            call_id: Some(call_id.into()),
            event: event.into(),
            ..AcdEvent::default()
        }
    }

    /// `events` as read back: numbered from `first_id`.
    fn numbered(events: &[AcdEvent], first_id: i64) -> Vec<AcdEvent> {
        (first_id..)
            .zip(events)
            .map(|(id, e)| AcdEvent { id, ..e.clone() })
            .collect()
    }

    #[test]
    fn saving_an_agent_again_overwrites_its_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = open(&dir);
        store.save_agent(&agent("1002", "ready", 10)).expect("save");
        store.save_agent(&agent("1001", "ready", 10)).expect("save");
        let paused = AgentRow {
            state: "paused".into(),
            reason: Some("lunch".into()),
            since_ms: 20,
            idle_since_ms: None,
            calls: 7,
            missed: 2,
            ..agent("1001", "", 0)
        };
        store.save_agent(&paused).expect("upsert");
        assert_eq!(
            store.agents().expect("agents"),
            [paused.clone(), agent("1002", "ready", 10)]
        );
        // And back: the reason and counts are replaced too, not kept.
        store
            .save_agent(&agent("1001", "ready", 30))
            .expect("upsert");
        assert_eq!(
            store.agents().expect("agents"),
            [agent("1001", "ready", 30), agent("1002", "ready", 10)]
        );
    }

    #[test]
    fn acd_events_come_back_oldest_first_from_since() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = open(&dir);
        let first = [
            agent_event(100, "1001", "logged_out", "ready"),
            queue_event(200, "sales", "c1", "enter"),
            // Same millisecond: kept in insertion order.
            queue_event(300, "sales", "c1", "offer"),
            agent_event(300, "1001", "ready", "ringing"),
        ];
        store.insert_acd_events(&first).expect("insert");
        // A later batch with an earlier timestamp sorts by time, not id.
        store.insert_acd_events(&[late_event()]).expect("insert");
        store.insert_acd_events(&[]).expect("nothing");

        let all = store.acd_events(0, 100).expect("events");
        let ids = numbered(&first, 1);
        let late = numbered(&[late_event()], 5).remove(0);
        assert_eq!(
            all,
            [
                ids[0].clone(),
                ids[1].clone(),
                late.clone(),
                ids[2].clone(),
                ids[3].clone()
            ]
        );
        assert_eq!(
            store.acd_events(250, 100).expect("since"),
            [late.clone(), ids[2].clone(), ids[3].clone()]
        );
        assert_eq!(
            store.acd_events(201, 2).expect("limit"),
            [late, ids[2].clone()]
        );
        assert!(store.acd_events(301, 100).expect("none").is_empty());
    }

    fn late_event() -> AcdEvent {
        AcdEvent {
            reason: Some("clock".into()),
            detail: Some("{\"x\":1}".into()),
            ..queue_event(250, "support", "c2", "enter")
        }
    }

    #[test]
    fn a_failing_batch_of_events_writes_none_of_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = open(&dir);
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER no_boom BEFORE INSERT ON acd_event WHEN NEW.event = 'boom'
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .expect("trigger");
        let batch = [
            queue_event(1, "sales", "c1", "enter"),
            queue_event(2, "sales", "c1", "boom"),
        ];
        assert!(store.insert_acd_events(&batch).is_err());
        assert!(store.acd_events(0, 10).expect("events").is_empty());
    }

    #[test]
    fn callbacks_can_be_listed_pending_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = open(&dir);
        let a = store
            .insert_callback(10, "13800138000", "sales", "c1")
            .expect("insert");
        let b = store
            .insert_callback(20, "13900139000", "support", "c2")
            .expect("insert");
        assert_ne!(a, b);
        assert!(store.callback_done(a).expect("done"));
        assert!(!store.callback_done(a + b + 100).expect("no such"));
        let row_a = CallbackRow {
            id: a,
            at_ms: 10,
            number: "13800138000".into(),
            queue: "sales".into(),
            call_id: "c1".into(),
            done: true,
        };
        let row_b = CallbackRow {
            id: b,
            at_ms: 20,
            number: "13900139000".into(),
            queue: "support".into(),
            call_id: "c2".into(),
            done: false,
        };
        assert_eq!(
            store.callbacks(true).expect("pending"),
            std::slice::from_ref(&row_b)
        );
        assert_eq!(store.callbacks(false).expect("all"), [row_a, row_b]);
    }

    #[test]
    fn reopening_the_file_keeps_agents_events_callbacks_and_cdrs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let busy = AgentRow {
            calls: 3,
            missed: 1,
            idle_since_ms: None,
            ..agent("1001", "busy", 50)
        };
        let events = [
            queue_event(40, "sales", "c1", "answer"),
            agent_event(50, "1001", "ringing", "busy"),
        ];
        let cdr = Cdr {
            call_id: "c1".into(),
            hangup_by: "caller".into(),
            hangup_cause: "normal".into(),
            agent: Some("1001".into()),
            queue: Some("sales".into()),
            wait_ms: Some(5_000),
            talk_ms: Some(20_000),
            ..Cdr::default()
        };
        let callback;
        {
            let mut store = open(&dir);
            store.save_agent(&busy).expect("save");
            store.insert_acd_events(&events).expect("events");
            callback = store
                .insert_callback(60, "13800138000", "sales", "c9")
                .expect("callback");
            store.insert_cdr(&cdr).expect("cdr");
        }
        let store = open(&dir);
        assert_eq!(store.agents().expect("agents"), [busy]);
        assert_eq!(
            store.acd_events(0, 10).expect("events"),
            numbered(&events, 1)
        );
        let pending = store.callbacks(true).expect("callbacks");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, callback);
        assert_eq!(store.cdrs(Some("c1"), 1).expect("cdrs"), [cdr]);
    }

    #[test]
    fn rows_serialize_and_old_json_without_optional_fields_reads() {
        let e: AcdEvent =
            serde_json::from_str(r#"{"at_ms":1,"kind":"agent","event":"ready"}"#).expect("json");
        assert_eq!(
            e,
            AcdEvent {
                at_ms: 1,
                kind: "agent".into(),
                event: "ready".into(),
                ..AcdEvent::default()
            }
        );
        let a = AgentRow {
            reason: Some("r".into()),
            calls: 4,
            ..agent("x", "paused", 9)
        };
        let back: AgentRow =
            serde_json::from_str(&serde_json::to_string(&a).expect("json")).expect("reads");
        assert_eq!(back, a);
    }
}
