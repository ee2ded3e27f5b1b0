use super::*;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = Store::open(&url).expect("open");
    (dir, store)
}

fn contact(phone: &str, fields: &[(&str, &str)]) -> NewContact {
    NewContact {
        phone: phone.into(),
        timezone: "Asia/Shanghai".into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn import(store: &mut Store, rows: Vec<NewContact>) -> ImportCounts {
    store
        .import_contacts("renewals", rows, T0, |_| {})
        .expect("import")
}

/// Imports `n` contacts and classifies them all as `mode`.
fn ready(store: &mut Store, n: usize, mode: &str) -> Vec<ContactRecord> {
    let rows = (0..n)
        .map(|i| contact(&format!("+8613800{i:06}"), &[]))
        .collect();
    import(store, rows);
    let all = store.contacts("renewals", 0, 10_000).expect("contacts");
    let choices: Vec<_> = all
        .iter()
        .map(|c| (c.id, mode.to_owned(), 0, None))
        .collect();
    store.classify_contacts(&choices).expect("classify");
    store.contacts("renewals", 0, 10_000).expect("contacts")
}

fn attempt(c: &ContactRecord, now: i64, floor: i64) -> NewAttempt {
    NewAttempt {
        contact_id: c.id,
        campaign: c.campaign.clone(),
        phone: c.phone.clone(),
        mode: "predictive".into(),
        call_id: format!("call-{}-{now}", c.id),
        started_ms: now,
        floor_until_ms: floor,
        agent: None,
    }
}

#[test]
fn a_duplicate_number_is_merged_and_empty_cells_keep_old_values() {
    let (_d, mut store) = store();
    let counts = import(
        &mut store,
        vec![
            contact("+8613800000001", &[("name", "王芳"), ("plan", "A")]),
            contact("+8613800000002", &[("name", "李雷")]),
            contact("+8613800000001", &[("plan", "B"), ("name", " ")]),
        ],
    );
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 2,
            merged: 1
        }
    );
    let counts = import(
        &mut store,
        vec![contact("+8613800000002", &[("segment", "vip")])],
    );
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 0,
            merged: 1
        }
    );
    let all = store.contacts("renewals", 0, 10).expect("contacts");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].fields["name"], "王芳");
    assert_eq!(all[0].fields["plan"], "B");
    assert_eq!(all[1].fields["name"], "李雷");
    assert_eq!(all[1].fields["segment"], "vip");
    assert_eq!(store.campaigns().expect("campaigns")[0].state, "draft");
}

#[test]
fn an_import_that_fails_leaves_nothing() {
    let (_d, mut store) = store();
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER no_bad BEFORE INSERT ON contact WHEN NEW.phone = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .expect("trigger");
    let result = store.import_contacts(
        "renewals",
        vec![contact("+8613800000001", &[]), contact("bad", &[])],
        T0,
        |_| {},
    );
    assert!(result.is_err());
    assert!(
        store
            .contacts("renewals", 0, 10)
            .expect("contacts")
            .is_empty()
    );
}

#[test]
fn leases_take_due_contacts_best_priority_first_and_only_once() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 5, "predictive");
    store
        .classify_contacts(&[(all[3].id, "predictive".into(), 50, None)])
        .expect("classify");
    let first = store
        .lease_contacts("renewals", "predictive", T0, 2, T0 + MIN, "node-a")
        .expect("lease");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].id, all[3].id, "the higher priority first");
    assert!(first.iter().all(|c| c.status == "leased"));
    let second = store
        .lease_contacts("renewals", "predictive", T0, 10, T0 + MIN, "node-b")
        .expect("lease");
    assert_eq!(second.len(), 3, "a leased contact is not leased again");
    assert!(second.iter().all(|c| !first.iter().any(|f| f.id == c.id)));
    let none = store
        .lease_contacts("renewals", "preview", T0, 10, T0 + MIN, "node-b")
        .expect("lease");
    assert!(none.is_empty(), "other modes are not leased");
}

#[test]
fn an_expired_lease_is_taken_again() {
    let (_d, mut store) = store();
    ready(&mut store, 1, "predictive");
    let first = store
        .lease_contacts("renewals", "predictive", T0, 1, T0 + MIN, "node-a")
        .expect("lease");
    assert_eq!(first.len(), 1);
    let early = store
        .lease_contacts("renewals", "predictive", T0 + MIN / 2, 1, T0 + 2 * MIN, "b")
        .expect("lease");
    assert!(early.is_empty());
    let late = store
        .lease_contacts("renewals", "predictive", T0 + MIN + 1, 1, T0 + 3 * MIN, "b")
        .expect("lease");
    assert_eq!(late.len(), 1);
}

#[test]
fn a_released_contact_is_not_due_before_its_time() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 1, "predictive");
    store
        .lease_contacts("renewals", "predictive", T0, 1, T0 + MIN, "a")
        .expect("lease");
    store
        .release_contact(all[0].id, Some(T0 + 10 * MIN))
        .expect("release");
    let due = |store: &mut Store, at| {
        store
            .lease_contacts("renewals", "predictive", at, 1, at + MIN, "a")
            .expect("lease")
    };
    assert!(due(&mut store, T0 + 9 * MIN).is_empty());
    assert_eq!(due(&mut store, T0 + 10 * MIN).len(), 1);
}

#[test]
fn an_attempt_moves_its_contact_and_its_outcome_plans_the_next() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 1, "predictive");
    let id = store
        .begin_attempt(&attempt(&all[0], T0, T0 + 5 * MIN))
        .expect("begin");
    let c = store.contact(all[0].id).expect("get").expect("contact");
    assert_eq!((c.status.as_str(), c.attempts), ("calling", 1));
    assert_eq!(c.next_at_ms, T0 + 5 * MIN);
    store
        .finish_attempt(&AttemptEnd {
            attempt_id: id,
            outcome: "busy".into(),
            sip_status: Some(486),
            trunk: Some("carrier-a".into()),
            ended_ms: T0 + 3000,
            next_at_ms: Some(T0 + 2 * MIN),
            ..AttemptEnd::default()
        })
        .expect("finish");
    let c = store.contact(all[0].id).expect("get").expect("contact");
    assert_eq!(c.status, "pending");
    assert_eq!(
        c.next_at_ms,
        T0 + 2 * MIN,
        "a finished attempt plans the next one (the floor is for crashes)"
    );
    assert_eq!(c.last_outcome.as_deref(), Some("busy"));
    let a = store.attempt(id).expect("get").expect("attempt");
    assert_eq!(a.outcome.as_deref(), Some("busy"));
    assert_eq!(a.sip_status, Some(486));
    assert_eq!(store.dials_of(&c.phone, T0).expect("dials"), [T0]);
}

#[test]
fn an_abandoned_attempt_is_remembered_and_a_final_one_closes_the_contact() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 2, "predictive");
    let a = store
        .begin_attempt(&attempt(&all[0], T0, T0))
        .expect("begin");
    store
        .finish_attempt(&AttemptEnd {
            attempt_id: a,
            outcome: "abandoned".into(),
            answered_ms: Some(T0 + 8000),
            ended_ms: T0 + 15_000,
            next_at_ms: Some(T0 + 30 * MIN),
            abandoned: true,
            ..AttemptEnd::default()
        })
        .expect("finish");
    assert_eq!(
        store
            .contact(all[0].id)
            .expect("get")
            .expect("c")
            .abandoned_ms,
        Some(T0 + 15_000)
    );
    let b = store
        .begin_attempt(&attempt(&all[1], T0, T0))
        .expect("begin");
    store
        .finish_attempt(&AttemptEnd {
            attempt_id: b,
            outcome: "invalid_number".into(),
            sip_status: Some(404),
            ended_ms: T0 + 1000,
            next_at_ms: None,
            ..AttemptEnd::default()
        })
        .expect("finish");
    let c = store.contact(all[1].id).expect("get").expect("c");
    assert_eq!(c.status, "done");
    let later = store
        .lease_contacts("renewals", "predictive", i64::MAX - 1, 10, i64::MAX, "a")
        .expect("lease");
    assert!(later.iter().all(|l| l.id != c.id), "done is never leased");
}

#[test]
fn a_disposition_decides_the_contact_after_the_call() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 1, "predictive");
    let a = store
        .begin_attempt(&attempt(&all[0], T0, T0))
        .expect("begin");
    store
        .finish_attempt(&AttemptEnd {
            attempt_id: a,
            outcome: "answered".into(),
            answered_ms: Some(T0 + 5000),
            ended_ms: T0 + 90_000,
            agent: Some("1001".into()),
            next_at_ms: Some(T0 + 90_000),
            ..AttemptEnd::default()
        })
        .expect("finish");
    assert!(store.set_disposition(a, "success", None).expect("dispose"));
    let c = store.contact(all[0].id).expect("get").expect("c");
    assert_eq!(c.status, "done");
    assert_eq!(c.last_outcome.as_deref(), Some("success"));
    assert_eq!(c.last_agent.as_deref(), Some("1001"));
    assert_eq!(
        store
            .attempt(a)
            .expect("get")
            .expect("a")
            .disposition
            .as_deref(),
        Some("success")
    );
    assert!(!store.set_disposition(999, "success", None).expect("none"));
    let counts = store.campaign_counts("renewals").expect("counts");
    assert_eq!(counts.outcomes["success"], 1);
    assert_eq!(counts.contacts["done"], 1);
}

#[test]
fn script_steps_append_in_order_and_a_stale_step_is_refused() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 1, "predictive");
    let a = store
        .begin_attempt(&attempt(&all[0], T0, T0))
        .expect("begin");
    assert!(
        store
            .attempt(a)
            .expect("get")
            .expect("a")
            .script_path
            .is_empty()
    );
    let step = |node: &str, choice: u32, next: &str, at_ms: i64| ScriptStep {
        node: node.into(),
        choice,
        next: next.into(),
        at_ms,
    };
    let first = step("greet", 0, "offer", T0 + 1000);
    assert_eq!(
        store.append_script_step(a, 0, &first).expect("append"),
        StepAppended::Done(vec![first.clone()])
    );
    // Checked against the empty path, but a step got in first.
    assert_eq!(
        store
            .append_script_step(a, 0, &step("greet", 1, "can_decide", T0 + 1100))
            .expect("append"),
        StepAppended::Moved(vec![first.clone()])
    );
    let second = step("offer", 1, "retain", T0 + 2000);
    store.append_script_step(a, 1, &second).expect("append");
    assert_eq!(
        store.attempt(a).expect("get").expect("a").script_path,
        vec![first, second]
    );
    assert_eq!(
        store
            .append_script_step(999, 0, &step("greet", 0, "offer", T0))
            .expect("append"),
        StepAppended::NoAttempt
    );
}

#[test]
fn recovery_closes_interrupted_attempts_and_keeps_their_floor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let (calling, leased) = {
        let mut store = Store::open(&url).expect("open");
        let all = ready(&mut store, 3, "predictive");
        store
            .begin_attempt(&attempt(&all[0], T0, T0 + 60 * MIN))
            .expect("begin");
        store
            .lease_contacts("renewals", "predictive", T0, 1, T0 + MIN, "a")
            .expect("lease");
        (all[0].id, all[1].id)
        // Dropped without finishing: a crash.
    };
    let mut store = Store::open(&url).expect("reopen");
    let recovery = store.recover_dialer(T0 + 1000).expect("recover");
    assert_eq!(
        recovery,
        Recovery {
            interrupted: 1,
            released: 2
        }
    );
    let a = store.attempts(Some("renewals"), 0, 10).expect("attempts");
    assert_eq!(a[0].outcome.as_deref(), Some("failed"));
    assert_eq!(a[0].detail.as_deref(), Some("interrupted"));
    let due = store
        .lease_contacts("renewals", "predictive", T0 + 2000, 10, T0 + MIN, "b")
        .expect("lease");
    let ids: Vec<i64> = due.iter().map(|c| c.id).collect();
    assert!(ids.contains(&leased));
    assert!(
        !ids.contains(&calling),
        "the interrupted contact waits for its floor"
    );
}

#[test]
fn dnc_is_kept_with_its_first_reason_and_can_be_removed() {
    let (_d, mut store) = store();
    store
        .add_dnc("+8613800000001", "customer asked", "ivr", T0)
        .expect("add");
    store
        .add_dnc("+8613800000001", "again", "agent", T0 + 1)
        .expect("add");
    assert_eq!(
        store
            .dnc_reason("+8613800000001")
            .expect("reason")
            .as_deref(),
        Some("customer asked")
    );
    assert_eq!(store.dnc_list().expect("list").len(), 1);
    assert!(store.remove_dnc("+8613800000001").expect("remove"));
    assert!(
        store
            .dnc_reason("+8613800000001")
            .expect("reason")
            .is_none()
    );
    assert!(!store.remove_dnc("+8613800000001").expect("remove"));
}

#[test]
fn refusals_are_recorded_and_counted_per_reason() {
    let (_d, mut store) = store();
    for reason in ["do_not_call", "outside_window", "do_not_call"] {
        store
            .insert_refusal(&Refusal {
                at_ms: T0,
                campaign: Some("renewals".into()),
                contact_id: Some(1),
                phone: "+8613800000001".into(),
                path: "dialer".into(),
                reason: reason.into(),
                detail: None,
            })
            .expect("refusal");
    }
    let counts = store.campaign_counts("renewals").expect("counts");
    assert_eq!(counts.refusals["do_not_call"], 2);
    assert_eq!(store.refusals(T0, 10).expect("list").len(), 3);
}

#[test]
fn campaign_state_and_config_round_trip() {
    let (_d, mut store) = store();
    store
        .set_campaign_state("renewals", "running", T0)
        .expect("state");
    store
        .set_campaign_config("renewals", r#"{"mode":"progressive"}"#, T0 + 1)
        .expect("config");
    store
        .set_campaign_state("renewals", "paused", T0 + 2)
        .expect("state");
    let rows = store.campaigns().expect("campaigns");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "paused");
    assert_eq!(rows[0].config, r#"{"mode":"progressive"}"#);
}

#[test]
fn changing_the_rules_reclassifies_pending_contacts_only() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 2, "predictive");
    store
        .begin_attempt(&attempt(&all[0], T0, T0))
        .expect("begin");
    assert_eq!(store.reclassify_contacts("renewals").expect("reset"), 1);
    let pending = store
        .unclassified_contacts("renewals", 10)
        .expect("unclassified");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, all[1].id);
}

#[test]
fn broadcast_results_are_counted_from_the_attempts_details() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 3, "broadcast");
    let details = [
        Some(r#"{"heard":"end","key":""}"#),
        Some(r#"{"heard":"interrupted","key":"9","opted_out":"+8613800000001"}"#),
        None,
    ];
    for (c, detail) in all.iter().zip(details) {
        let a = store.begin_attempt(&attempt(c, T0, T0)).expect("begin");
        store
            .finish_attempt(&AttemptEnd {
                attempt_id: a,
                outcome: if detail.is_some() { "answered" } else { "busy" }.into(),
                ended_ms: T0 + 1000,
                detail: detail.map(str::to_owned),
                next_at_ms: None,
                ..AttemptEnd::default()
            })
            .expect("finish");
    }
    let r = store.campaign_counts("renewals").expect("counts").results;
    assert_eq!(r["answered"], 2);
    assert_eq!(r["heard_to_end"], 1);
    assert_eq!(r["key_pressed"], 1);
    assert_eq!(r["opted_out"], 1);
    assert_eq!(r["transferred"], 0);
}

#[test]
fn a_pacer_state_is_kept_and_replaced() {
    let (_d, mut store) = store();
    assert!(store.pacer("renewals").expect("read").is_none());
    store
        .save_pacer("renewals", r#"{"a":1}"#, T0)
        .expect("save");
    store
        .save_pacer("renewals", r#"{"a":2}"#, T0 + 1)
        .expect("save");
    assert_eq!(
        store.pacer("renewals").expect("read").as_deref(),
        Some(r#"{"a":2}"#)
    );
}

#[test]
fn a_preview_lease_prefers_the_agents_own_contacts_and_skips_other_agents() {
    let (_d, mut store) = store();
    let all = ready(&mut store, 3, "preview");
    store
        .classify_contacts(&[
            (all[0].id, "preview".into(), 0, Some("1002".into())),
            (all[2].id, "preview".into(), 0, Some("1001".into())),
        ])
        .expect("classify");
    let first = store
        .lease_preview("renewals", "1001", T0, T0 + MIN)
        .expect("lease")
        .expect("a contact");
    assert_eq!(first.id, all[2].id, "the agent's own first");
    let second = store
        .lease_preview("renewals", "1001", T0, T0 + MIN)
        .expect("lease")
        .expect("a contact");
    assert_eq!(second.id, all[1].id, "then one kept for nobody");
    assert!(
        store
            .lease_preview("renewals", "1001", T0, T0 + MIN)
            .expect("lease")
            .is_none(),
        "never another agent's"
    );
    assert_eq!(
        store
            .contact_by_phone("renewals", &all[1].phone)
            .expect("get")
            .map(|c| c.id),
        Some(all[1].id)
    );
}
