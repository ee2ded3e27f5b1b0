//! Every figure of the reports on hand-made rows in a real SQLite file.

use super::*;
use crate::{AcdEvent, Cdr};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-11-02T00:00:00Z, a Monday.
const T0: i64 = 1_793_577_600_000;

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&format!(
        "sqlite://{}",
        dir.path().join("report.db").display()
    ))
    .expect("open")
}

fn span(since_ms: i64, until_ms: i64) -> Span {
    Span::new(since_ms, until_ms).expect("span")
}

/// A contact of `campaign`; returns its id.
fn contact(store: &Store, campaign: &str, phone: &str) -> i64 {
    store
        .conn
        .execute(
            "INSERT INTO contact (campaign, phone, timezone, created_ms) VALUES (?1, ?2, 'UTC', 0)",
            params![campaign, phone],
        )
        .expect("contact");
    store.conn.last_insert_rowid()
}

/// One finished (or, with `outcome` None, running) attempt.
#[derive(Clone, Debug)]
struct A<'a> {
    contact: i64,
    campaign: &'a str,
    mode: &'a str,
    started_ms: i64,
    outcome: Option<&'a str>,
    answered: bool,
    agent: Option<&'a str>,
    disposition: Option<&'a str>,
}

impl<'a> A<'a> {
    fn new(campaign: &'a str, contact: i64, started_ms: i64, outcome: &'a str) -> A<'a> {
        A {
            contact,
            campaign,
            mode: "predictive",
            started_ms,
            outcome: Some(outcome),
            answered: matches!(outcome, "answered" | "abandoned" | "machine"),
            agent: None,
            disposition: None,
        }
    }
    fn agent(self, agent: &'a str) -> A<'a> {
        A {
            agent: Some(agent),
            ..self
        }
    }
    fn disposition(self, d: &'a str) -> A<'a> {
        A {
            disposition: Some(d),
            ..self
        }
    }
    fn mode(self, mode: &'a str) -> A<'a> {
        A { mode, ..self }
    }
    fn insert(&self, store: &Store) -> String {
        let call_id = format!("call-{}-{}", self.contact, self.started_ms);
        store
            .conn
            .execute(
                "INSERT INTO attempt (contact_id, campaign, phone, mode, call_id, started_ms,
                    answered_ms, ended_ms, outcome, agent, disposition)
                 VALUES (?1, ?2, 'p', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    self.contact,
                    self.campaign,
                    self.mode,
                    call_id,
                    self.started_ms,
                    self.answered.then_some(self.started_ms + 5_000),
                    self.outcome.map(|_| self.started_ms + 60_000),
                    self.outcome,
                    self.agent,
                    self.disposition
                ],
            )
            .expect("attempt");
        call_id
    }
}

fn cdr(call_id: &str, start_ms: i64, agent: Option<&str>, talk_ms: Option<i64>) -> Cdr {
    Cdr {
        call_id: call_id.into(),
        start_ms,
        end_ms: start_ms + 100_000,
        hangup_by: "caller".into(),
        hangup_cause: "normal".into(),
        agent: agent.map(Into::into),
        talk_ms,
        ..Cdr::default()
    }
}

fn state(at_ms: i64, agent: &str, from: &str, to: &str) -> AcdEvent {
    AcdEvent {
        at_ms,
        kind: "agent".into(),
        agent: Some(agent.into()),
        event: to.into(),
        from_state: Some(from.into()),
        ..AcdEvent::default()
    }
}

fn queued(at_ms: i64, queue: &str, call: &str, event: &str, waited_ms: Option<i64>) -> AcdEvent {
    AcdEvent {
        at_ms,
        kind: "queue".into(),
        queue: Some(queue.into()),
        call_id: Some(call.into()),
        event: event.into(),
        detail: waited_ms.map(|w| format!("waited_ms={w}")),
        ..AcdEvent::default()
    }
}

fn dispositions(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut d = empty_dispositions();
    for (k, v) in pairs {
        d.insert((*k).to_owned(), *v);
    }
    d
}

fn utc() -> CampaignParams {
    CampaignParams::default()
}

#[test]
fn an_empty_store_reports_nothing_and_an_empty_span_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let all = span(0, i64::MAX);
    assert!(store.agent_reports(all).expect("agents").is_empty());
    assert!(
        store
            .campaign_reports(all, |_| utc())
            .expect("campaigns")
            .is_empty()
    );
    assert!(store.queue_reports(all, 20_000).expect("queues").is_empty());
    assert_eq!(
        store.campaign_detail("nope", all, &utc()).expect("detail"),
        None
    );
    let err = Span::new(10, 10).expect_err("empty");
    assert!(
        matches!(
            err,
            StoreError::BadSpan {
                since_ms: 10,
                until_ms: 10
            }
        ),
        "{err}"
    );
    assert!(Span::new(10, 5).is_err());
}

#[test]
fn agent_figures_count_attempts_calls_talk_wrap_up_and_dispositions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let (c1, c2, c3, c4) = (
        contact(&store, "sale", "+1"),
        contact(&store, "sale", "+2"),
        contact(&store, "sale", "+3"),
        contact(&store, "sale", "+4"),
    );
    // In the span [T0, T0 + DAY): three attempts for 1001.
    let won = A::new("sale", c1, T0 + HOUR, "answered")
        .mode("preview")
        .agent("1001")
        .disposition("success")
        .insert(&store);
    let lost = A::new("sale", c2, T0 + 2 * HOUR, "answered")
        .agent("1001")
        .disposition("declined")
        .insert(&store);
    A::new("sale", c3, T0 + 3 * HOUR, "no_answer")
        .mode("preview")
        .agent("1001")
        .insert(&store);
    // An abandoned call has no agent; before the span, one for 1001.
    A::new("sale", c4, T0 + 4 * HOUR, "abandoned").insert(&store);
    let before = A::new("sale", c4, T0 - HOUR, "answered")
        .agent("1001")
        .disposition("success")
        .insert(&store);
    store
        .insert_cdrs(&[
            cdr(&won, T0 + HOUR, Some("1001"), Some(60_000)),
            cdr(&lost, T0 + 2 * HOUR, Some("1001"), Some(30_000)),
            // Inbound through a queue: no attempt has its Call-ID.
            cdr("in-1", T0 + 5 * HOUR, Some("1001"), Some(20_000)),
            // A call with no agent, and one before the span.
            cdr("in-2", T0 + 5 * HOUR, None, None),
            cdr(&before, T0 - HOUR, Some("1001"), Some(999_000)),
        ])
        .expect("cdrs");
    store
        .insert_acd_events(&[
            // A wrap-up begun before the span: only its part inside counts.
            state(T0 - 10_000, "1001", "on_call", "wrap_up"),
            state(T0 + 5_000, "1001", "wrap_up", "ready"),
            // A whole one of 15 s.
            state(T0 + HOUR + 60_000, "1001", "on_call", "wrap_up"),
            state(T0 + HOUR + 75_000, "1001", "wrap_up", "ready"),
            // Paused is not wrap-up.
            state(T0 + 2 * HOUR, "1001", "ready", "paused"),
            state(T0 + 2 * HOUR + 50_000, "1001", "paused", "ready"),
            // Not over yet: not counted.
            state(T0 + 6 * HOUR, "1001", "on_call", "wrap_up"),
            // 1002 only logged in.
            state(T0 + 7 * HOUR, "1002", "logged_out", "ready"),
        ])
        .expect("events");

    let reports = store.agent_reports(span(T0, T0 + DAY)).expect("agents");
    assert_eq!(
        reports,
        [
            AgentReport {
                agent: "1001".into(),
                placed: 3,
                connected: 2,
                inbound: 1,
                talk_ms: 110_000,
                wrap_up_ms: 5_000 + 15_000,
                dispositions: dispositions(&[("success", 1), ("declined", 1)]),
                success_rate: 0.5,
            },
            AgentReport {
                agent: "1002".into(),
                dispositions: empty_dispositions(),
                ..AgentReport::default()
            },
        ]
    );
    // The span before: the earlier call, its talk, and the wrap-up's
    // first 10 s (it ended inside the later span: clipped).
    let earlier = store.agent_reports(span(T0 - DAY, T0)).expect("earlier");
    assert_eq!(earlier.len(), 1);
    assert_eq!(
        (earlier[0].placed, earlier[0].talk_ms, earlier[0].wrap_up_ms),
        (1, 999_000, 10_000)
    );
    assert_eq!(earlier[0].success_rate, 1.0);
}

#[test]
fn campaign_figures_follow_the_dialers_definitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let c: Vec<i64> = (1..=5)
        .map(|i| contact(&store, "sale", &format!("+{i}")))
        .collect();
    let t = T0 + HOUR;
    A::new("sale", c[0], t, "busy").insert(&store);
    A::new("sale", c[0], t + 1000, "answered")
        .agent("1001")
        .disposition("success")
        .insert(&store);
    A::new("sale", c[1], t + 2000, "abandoned").insert(&store);
    A::new("sale", c[2], t + 3000, "machine").insert(&store);
    // The broadcast segment's answer: a person, but not a line an agent
    // was meant to take, so not in the abandon rate's base.
    A::new("sale", c[3], t + 4000, "answered")
        .mode("broadcast")
        .insert(&store);
    // Still ringing.
    A {
        outcome: None,
        answered: false,
        ..A::new("sale", c[3], t + 5000, "")
    }
    .insert(&store);
    // Another campaign's attempt, and one of this campaign after the span.
    let other = contact(&store, "other", "+1");
    A::new("other", other, t, "answered")
        .agent("1002")
        .insert(&store);
    A::new("sale", c[1], T0 + 2 * DAY, "abandoned").insert(&store);

    let params = CampaignParams {
        abandon_target: 0.05,
        ..utc()
    };
    let all = store
        .campaign_reports(span(T0, T0 + DAY), |_| params.clone())
        .expect("campaigns");
    assert_eq!(
        all.iter().map(|r| r.campaign.as_str()).collect::<Vec<_>>(),
        ["other", "sale"]
    );
    let sale = &all[1];
    assert_eq!(
        sale,
        &CampaignReport {
            campaign: "sale".into(),
            contacts: 5,
            contacts_dialled: 4,
            dialled: 6,
            answered: 3,
            machines: 1,
            connected: 1,
            abandoned: 1,
            success: 1,
            contact_rate: 0.5,
            conversion: 1.0,
            abandon_rate: 0.5,
            rolling_abandon_rate: 0.5,
            abandon_target: 0.05,
            attempts_per_contact: 1.5,
            dispositions: dispositions(&[("success", 1)]),
            outcomes: BTreeMap::from([
                ("abandoned".into(), 1),
                ("answered".into(), 2),
                ("busy".into(), 1),
                ("in_progress".into(), 1),
                ("machine".into(), 1),
            ]),
        }
    );
    // The rolling rate looks back over the window from the span's end:
    // a span of the last hour of day 3 still sees both abandons.
    let late = store
        .campaign_reports(span(T0 + 2 * DAY + HOUR, T0 + 3 * DAY), |_| params.clone())
        .expect("late");
    assert_eq!(late[1].dialled, 0);
    assert_eq!(late[1].abandon_rate, 0.0);
    // Lives in the window: the answered, the first abandoned, the second.
    assert!(
        (late[1].rolling_abandon_rate - 2.0 / 3.0).abs() < 1e-9,
        "{:?}",
        late[1]
    );
}

#[test]
fn a_campaign_with_no_answers_has_zero_rates_not_nan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let c = contact(&store, "cold", "+1");
    A::new("cold", c, T0, "no_answer").insert(&store);
    A::new("cold", c, T0 + HOUR, "busy").insert(&store);
    contact(&store, "cold", "+2");
    let detail = store
        .campaign_detail("cold", span(T0, T0 + DAY), &utc())
        .expect("detail")
        .expect("known");
    let s = &detail.summary;
    assert_eq!(
        (s.contacts, s.contacts_dialled, s.dialled, s.answered),
        (2, 1, 2, 0)
    );
    for rate in [
        s.contact_rate,
        s.conversion,
        s.abandon_rate,
        s.rolling_abandon_rate,
    ] {
        assert_eq!(rate, 0.0);
    }
    assert_eq!(s.attempts_per_contact, 2.0);
    assert_eq!(detail.days.len(), 1);
    assert_eq!(detail.days[0].abandon_rate, 0.0);
    assert_eq!(detail.hours.len(), 24);
    assert!(detail.hours.iter().all(|h| h.answer_rate == 0.0));
    // Hours with attempts rank even with no answers.
    assert_eq!(detail.best_hours, [0, 1]);
    // A campaign known only by its row (imported nothing, dialled nothing).
    store
        .conn
        .execute(
            "INSERT INTO campaign (name, state, config, updated_ms) VALUES ('new', 'draft', '{}', 0)",
            [],
        )
        .expect("campaign");
    let new = store
        .campaign_detail("new", span(T0, T0 + DAY), &utc())
        .expect("detail")
        .expect("known");
    assert!(new.days.is_empty() && new.best_hours.is_empty());
    assert_eq!(new.summary.dialled, 0);
}

#[test]
fn hours_and_days_are_local_to_the_campaigns_zone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let c = contact(&store, "zh", "+1");
    // 01:30Z is 09:30 in Shanghai; 23:59:59.999Z is 07:59 the next day.
    A::new("zh", c, T0 + HOUR + HOUR / 2, "answered")
        .agent("1001")
        .disposition("success")
        .insert(&store);
    A::new("zh", c, T0 + DAY - 1, "no_answer").insert(&store);
    // 03:20Z and 03:40Z: one UTC hour, two hours in Kolkata (08:50, 09:10).
    A::new("zh", c, T0 + 3 * HOUR + 20 * 60_000, "no_answer").insert(&store);
    A::new("zh", c, T0 + 3 * HOUR + 40 * 60_000, "answered")
        .agent("1001")
        .insert(&store);

    let zone = |name: &str| CampaignParams {
        timezone: TimeZone::get(name).expect("zone"),
        ..utc()
    };
    let sh = store
        .campaign_detail("zh", span(T0, T0 + DAY), &zone("Asia/Shanghai"))
        .expect("detail")
        .expect("known");
    assert_eq!(sh.timezone, "Asia/Shanghai");
    let by_hour: BTreeMap<u8, (u64, u64, u64)> = sh
        .hours
        .iter()
        .filter(|h| h.dialled > 0)
        .map(|h| (h.hour, (h.dialled, h.answered, h.success)))
        .collect();
    assert_eq!(
        by_hour,
        BTreeMap::from([(7, (1, 0, 0)), (9, (1, 1, 1)), (11, (2, 1, 0))])
    );
    let nine = &sh.hours[9];
    assert_eq!(
        (nine.answer_rate, nine.success_rate, nine.connected),
        (1.0, 1.0, 1)
    );
    assert_eq!(sh.hours[11].answer_rate, 0.5);
    assert_eq!(sh.best_hours, [9, 11, 7]);
    let days: Vec<(&str, u64)> = sh
        .days
        .iter()
        .map(|d| (d.day.as_str(), d.dialled))
        .collect();
    assert_eq!(days, [("2026-11-02", 3), ("2026-11-03", 1)]);

    let kolkata = store
        .campaign_detail("zh", span(T0, T0 + DAY), &zone("Asia/Kolkata"))
        .expect("detail")
        .expect("known");
    assert_eq!(
        (kolkata.hours[8].dialled, kolkata.hours[8].answered),
        (1, 0)
    );
    assert_eq!(
        (kolkata.hours[9].dialled, kolkata.hours[9].answered),
        (1, 1)
    );
    // 01:30Z is 07:00 in Kolkata.
    assert_eq!(kolkata.hours[7].dialled, 1);

    let utc_detail = store
        .campaign_detail("zh", span(T0, T0 + DAY), &utc())
        .expect("detail")
        .expect("known");
    assert_eq!(utc_detail.timezone, "UTC");
    assert_eq!(utc_detail.hours[3].dialled, 2);
    assert_eq!(utc_detail.hours[23].dialled, 1);
    assert_eq!(utc_detail.days.len(), 1);
}

#[test]
fn abandon_rates_per_day_and_rolling_over_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let c = contact(&store, "p", "+1");
    // The day before the span: one abandon of two lives.
    A::new("p", c, T0 - DAY + HOUR, "abandoned").insert(&store);
    A::new("p", c, T0 - DAY + 2 * HOUR, "answered")
        .agent("a")
        .insert(&store);
    // Day 1: one abandon of four lives (a machine is not a live answer).
    A::new("p", c, T0 + HOUR, "abandoned").insert(&store);
    for i in 2..5 {
        A::new("p", c, T0 + i * HOUR, "answered")
            .agent("a")
            .insert(&store);
    }
    A::new("p", c, T0 + 6 * HOUR, "machine").insert(&store);
    // Day 2: two lives, none abandoned.
    A::new("p", c, T0 + DAY + HOUR, "answered")
        .agent("a")
        .insert(&store);
    A::new("p", c, T0 + DAY + 2 * HOUR, "answered")
        .agent("a")
        .insert(&store);

    let params = CampaignParams {
        abandon_window_ms: 2 * DAY,
        ..utc()
    };
    let d = store
        .campaign_detail("p", span(T0, T0 + 2 * DAY), &params)
        .expect("detail")
        .expect("known");
    let rates: Vec<(&str, u64, u64, f64, f64)> = d
        .days
        .iter()
        .map(|d| {
            (
                d.day.as_str(),
                d.answered,
                d.abandoned,
                d.abandon_rate,
                d.rolling_abandon_rate,
            )
        })
        .collect();
    assert_eq!(
        rates,
        [
            // Rolling: the day before and day 1: 2 abandons of 6 lives.
            ("2026-11-02", 4, 1, 0.25, 2.0 / 6.0),
            // Rolling: day 1 and day 2: 1 of 6.
            ("2026-11-03", 2, 0, 0.0, 1.0 / 6.0),
        ]
    );
    assert_eq!(d.summary.abandon_rate, 1.0 / 6.0);
    assert_eq!(d.summary.rolling_abandon_rate, 1.0 / 6.0);
    // A span ending mid-day: its last day's rolling rate ends there too.
    let d = store
        .campaign_detail("p", span(T0, T0 + 3 * HOUR), &params)
        .expect("detail")
        .expect("known");
    assert_eq!(d.days.len(), 1);
    assert_eq!((d.days[0].answered, d.days[0].abandoned), (2, 1));
    // The day before's 1 of 2, and 1 of 2 in the span.
    assert_eq!(d.days[0].rolling_abandon_rate, 0.5);
}

#[test]
fn queue_figures_follow_each_call_to_its_fate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let t = T0 + HOUR;
    store
        .insert_acd_events(&[
            // Entered before the span, answered in it: not offered in it.
            queued(T0 - 1000, "sales", "old", "enter", None),
            queued(t, "sales", "old", "answer", Some(1000 + HOUR)),
            queued(t, "sales", "c1", "enter", None),
            queued(t + 1, "sales", "c2", "enter", None),
            queued(t + 2, "sales", "c3", "enter", None),
            queued(t + 3, "sales", "c4", "enter", None),
            queued(t + 4, "sales", "c5", "enter", None),
            queued(t + 5, "support", "s1", "enter", None),
            queued(t + 5_000, "sales", "c1", "answer", Some(5_000)),
            // An offer is not a fate.
            queued(t + 6_000, "sales", "c2", "offer", None),
            queued(t + 25_001, "sales", "c2", "answer", Some(25_000)),
            queued(t + 40_002, "sales", "c3", "abandon", Some(40_000)),
            AcdEvent {
                detail: Some("waited_ms=60000 max_wait".into()),
                ..queued(t + 60_003, "sales", "c4", "overflow", None)
            },
            // Its overflow action ended later: the fate was the overflow.
            queued(t + 90_003, "sales", "c4", "leave", Some(90_000)),
            queued(t + 10_005, "support", "s1", "answer", Some(10_000)),
            // Entered after the span: not offered in it, whatever its fate.
            queued(T0 + DAY, "sales", "late", "enter", None),
            queued(T0 + DAY + 1, "sales", "late", "abandon", Some(1)),
        ])
        .expect("events");
    let reports = store
        .queue_reports(span(T0, T0 + DAY), 20_000)
        .expect("queues");
    assert_eq!(
        reports,
        [
            QueueReport {
                queue: "sales".into(),
                offered: 5,
                answered: 2,
                answered_in_threshold: 1,
                abandoned: 1,
                overflowed: 1,
                waiting: 1,
                threshold_ms: 20_000,
                service_level: 0.25,
                avg_wait_ms: 15_000,
                longest_wait_ms: 60_000,
                avg_abandon_wait_ms: 40_000,
            },
            QueueReport {
                queue: "support".into(),
                offered: 1,
                answered: 1,
                answered_in_threshold: 1,
                threshold_ms: 20_000,
                service_level: 1.0,
                avg_wait_ms: 10_000,
                longest_wait_ms: 10_000,
                ..QueueReport::default()
            },
        ]
    );
    // A longer threshold takes in the 25 s answer; the bound is inclusive.
    let wide = store
        .queue_reports(span(T0, T0 + DAY), 25_000)
        .expect("queues");
    assert_eq!(wide[0].answered_in_threshold, 2);
    assert_eq!(wide[0].service_level, 0.5);
    assert!(
        store
            .queue_reports(span(T0 + DAY + 2, T0 + 2 * DAY), 20_000)
            .expect("none")
            .is_empty()
    );
}

#[test]
fn waited_is_read_from_the_detail_or_not_at_all() {
    assert_eq!(waited_of(Some("waited_ms=1500")), Some(1500));
    assert_eq!(waited_of(Some("waited_ms=60000 max_wait")), Some(60_000));
    assert_eq!(waited_of(Some("max_wait")), None);
    assert_eq!(waited_of(Some("waited_ms=x")), None);
    assert_eq!(waited_of(None), None);
}
