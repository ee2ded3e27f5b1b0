//! The dialer through the running binary: contact lists imported with
//! `waihu campaign import`, a predictive campaign started through the API,
//! sipp as the carrier (its answer depends on the number's last digit, see
//! `sipp/carrier_dialer.xml`) and as the agents' auto-answering phones.
//! The carrier's own message log is what proves which numbers were
//! dialled, and how often.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::campaign::*;
use common::sip::Transport;
use common::sipp::Sipp;
use common::{ALICE, BOB, Config, Server, http_post, http_put, register_at};
use serde_json::Value;

/// What the carrier does with a number ending in `digit`, as the attempt
/// outcomes the switch must have recorded.
fn expected(digit: char) -> &'static [&'static str] {
    match digit {
        '1' => &["busy"],
        '2' => &["invalid_number"],
        '3' => &["no_answer"],
        '4' => &["failed"],
        '5' => &["rejected"],
        _ => &["answered", "abandoned"],
    }
}

#[test]
fn a_predictive_campaign_runs_to_the_end_and_its_outcomes_are_what_the_carrier_did() {
    let port = common::free_port();
    let server = Server::start(&config(port, ALWAYS, None));
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 800);
    let bob = agent_phone(&server, &BOB, 800);

    let mut rows: Vec<(String, Option<String>)> = (0..200).map(|i| (number(i), None)).collect();
    // A number the shipped blacklist.check denies (marked malicious).
    let malicious = "+8617099990001".to_owned();
    rows.push((malicious.clone(), None));
    let out = import(&server, CAMPAIGN, &rows);
    assert!(out.contains("201 rows imported (201 new"), "{out}");
    // One number is put on the do-not-call table before the start: it
    // must never reach the carrier.
    let dnc = number(107);
    let (ok, _, err) = server.cli(&["dnc", "add", &dnc, "--reason", "asked on the phone"]);
    assert!(ok, "{err}");

    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 199, 300);
    let carrier_log = carrier.kill().messages;
    alice.kill();
    bob.kill();

    // Every number but the do-not-call one was dialled once, and its
    // outcome is what the carrier did.
    assert_eq!(attempts.len(), 199, "one attempt per allowed contact");
    let mut answered = 0;
    for a in &attempts {
        let phone = a["phone"].as_str().expect("phone");
        let outcome = a["outcome"].as_str().expect("outcome");
        let digit = phone.chars().last().expect("digit");
        assert!(
            expected(digit).contains(&outcome),
            "{phone}: {outcome}, expected one of {:?}",
            expected(digit)
        );
        answered += usize::from(outcome == "answered");
    }
    assert!(answered > 0, "some answers reached an agent");
    let abandoned = attempts
        .iter()
        .filter(|a| a["outcome"] == "abandoned")
        .count();
    eprintln!("{answered} answered and connected, {abandoned} abandoned");
    let invites = carrier_invites(&carrier_log);
    assert!(
        !invites.contains_key(&dnc),
        "the do-not-call number was dialled"
    );
    assert!(
        !invites.contains_key(&malicious),
        "a blacklisted number was dialled"
    );
    assert_eq!(invites.len(), 199, "numbers the carrier saw");
    for (number, calls) in &invites {
        assert_eq!(calls.len(), 1, "{number} dialled {} times", calls.len());
    }
    // Every INVITE has its attempt row.
    let rows: BTreeSet<&str> = attempts
        .iter()
        .filter_map(|a| a["call_id"].as_str())
        .collect();
    for calls in invites.values() {
        for call_id in calls {
            assert!(rows.contains(call_id.as_str()), "no attempt for {call_id}");
        }
    }
    // The refusal is on record, with its reason.
    let refusals = get(&server, "/api/v1/refusals");
    let refused: Vec<&Value> = refusals["refusals"]
        .as_array()
        .expect("refusals")
        .iter()
        .filter(|r| r["phone"] == dnc.as_str())
        .collect();
    assert!(!refused.is_empty(), "{refusals}");
    assert_eq!(refused[0]["reason"], "do_not_call");
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    assert_eq!(status["counts"]["refusals"]["do_not_call"], 1, "{status}");
    assert_eq!(status["counts"]["refusals"]["blacklisted"], 1, "{status}");
    // Both are done for good, blocked.
    let contacts = get(
        &server,
        &format!("/api/v1/campaigns/{CAMPAIGN}/contacts?limit=1000"),
    );
    for phone in [&dnc, &malicious] {
        let c = contacts["contacts"]
            .as_array()
            .expect("contacts")
            .iter()
            .find(|c| c["phone"] == phone.as_str())
            .expect("contact");
        assert_eq!(c["status"], "done", "{c}");
        assert_eq!(c["last_outcome"], "blocked", "{c}");
    }

    // An agent's "do not call" disposition puts the number on the table;
    // the same number in another campaign is then refused at the dial
    // point, never dialled.
    let taken = attempts
        .iter()
        .find(|a| a["outcome"] == "answered")
        .expect("an answered attempt");
    let path = format!("/api/v1/attempts/{}/disposition", taken["id"]);
    let (status, body) =
        http_post(server.http, &path, r#"{"disposition":"do_not_call"}"#).expect("dispose");
    assert_eq!(status, 200, "{body}");
    let phone = taken["phone"].as_str().expect("phone").to_owned();
    let list = get(&server, "/api/v1/dnc");
    assert!(
        list["dnc"]
            .as_array()
            .expect("dnc")
            .iter()
            .any(|r| r["phone"] == phone.as_str() && r["source"] == "agent"),
        "{list}"
    );
    // ... and from then on no path reaches it: an agent's manual dial of
    // it is refused at the dial point.
    let (status, body) = http_post(
        server.http,
        "/api/v1/agents/1001/dial",
        &format!(r#"{{"number":"{phone}","campaign":"{CAMPAIGN}"}}"#),
    )
    .expect("dial");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("do_not_call"), "{body}");
    server.stop();
}

/// `+HH:MM` for the zone whose local hour is `hour` now.
fn zone_at_local_hour(hour: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let utc_hour = (now / 3600) % 24;
    let mut offset = (hour - utc_hour).rem_euclid(24);
    if offset > 12 {
        offset -= 24;
    }
    if offset < 0 {
        format!("-{:02}:00", -offset)
    } else {
        format!("+{offset:02}:00")
    }
}

#[test]
fn contacts_are_called_only_inside_the_window_in_their_own_time_zone() {
    let port = common::free_port();
    let window = "window: { days: { mon-sun: [\"09:00-18:00\"] }, rest: [] }";
    let server = Server::start(&config(port, window, None));
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 500);
    // Noon where the first contact lives, three in the night where the
    // second does: the same instant, one inside the window and one not.
    let (noon, night) = (zone_at_local_hour(12), zone_at_local_hour(3));
    let (open, closed) = (number(6), number(16));
    import(
        &server,
        CAMPAIGN,
        &[
            (open.clone(), Some(noon.clone())),
            (closed.clone(), Some(night.clone())),
        ],
    );
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 1, 60);
    assert_eq!(attempts[0]["phone"], open.as_str());
    // The other contact is refused with the window's reason and waits
    // for 09:00 in its own zone.
    server.wait_for("the refusal", Duration::from_secs(20), |s| {
        get(s, "/api/v1/refusals")["refusals"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["phone"] == closed.as_str()))
    });
    let refusals = get(&server, "/api/v1/refusals");
    let r = refusals["refusals"]
        .as_array()
        .expect("refusals")
        .iter()
        .find(|r| r["phone"] == closed.as_str())
        .expect("refused");
    assert_eq!(r["reason"], "outside_window", "{r}");
    let contacts = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}/contacts"));
    let c = contacts["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .find(|c| c["phone"] == closed.as_str())
        .expect("contact")
        .clone();
    assert_eq!(c["status"], "pending");
    assert_eq!(c["attempts"], 0);
    let next = c["next_at_ms"].as_i64().expect("next");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // 03:xx local: the window opens in 5 to 6 hours, at 09:00 sharp.
    let wait_h = (next - now_ms) as f64 / 3_600_000.0;
    assert!((4.9..=6.1).contains(&wait_h), "{wait_h} h");
    assert_eq!((next / 1000) % 3600, 0, "at the hour");
    let log = carrier.kill().messages;
    alice.kill();
    assert!(
        !carrier_invites(&log).contains_key(&closed),
        "dialled at night"
    );
    server.stop();
}

#[test]
fn after_a_kill_9_no_contact_is_dialled_twice_and_every_invite_has_its_attempt() {
    let port = common::free_port();
    let dir = common::scratch("dialer-crash");
    let db = dir.join("waihu.db");
    let first = Server::start(&config(port, ALWAYS, Some(db.clone())));
    let carrier = carrier(&first, port);
    let alice = agent_phone(&first, &ALICE, 3000);
    let bob = agent_phone(&first, &BOB, 3000);
    let rows: Vec<(String, Option<String>)> = (0..60).map(|i| (number(i), None)).collect();
    import(&first, CAMPAIGN, &rows);
    let dnc = number(48);
    let (ok, _, err) = first.cli(&["dnc", "add", &dnc]);
    assert!(ok, "{err}");
    start(&first, CAMPAIGN);
    // Kill it in the middle: some attempts done, some calls up.
    wait_outcomes(&first, CAMPAIGN, 15, 120);
    let _crashed = first.crash();

    let second = Server::start(&config(port, ALWAYS, Some(db)));
    // New phones for the agents, registered at the new server (its ports
    // changed); the agents are logged in from the store already.
    alice.kill();
    bob.kill();
    let alice = agent_phone(&second, &ALICE, 500);
    let bob = agent_phone(&second, &BOB, 500);
    // The campaign is still running after the restart: it goes on by itself.
    let attempts = wait_outcomes(&second, CAMPAIGN, 59, 300);
    let carrier_log = carrier.kill().messages;
    alice.kill();
    bob.kill();

    let interrupted = attempts
        .iter()
        .filter(|a| a["detail"] == "interrupted")
        .count();
    let invites = carrier_invites(&carrier_log);
    assert!(
        !invites.contains_key(&dnc),
        "the do-not-call number was dialled"
    );
    for (number, calls) in &invites {
        assert_eq!(
            calls.len(),
            1,
            "{number} dialled {} times across the crash",
            calls.len()
        );
    }
    let rows: BTreeSet<&str> = attempts
        .iter()
        .filter_map(|a| a["call_id"].as_str())
        .collect();
    for calls in invites.values() {
        for call_id in calls {
            assert!(
                rows.contains(call_id.as_str()),
                "INVITE {call_id} has no attempt row"
            );
        }
    }
    // The crash cut calls in progress: their attempts were closed as
    // failed (interrupted), and their contacts wait for the retry floor
    // rather than being dialled again at once (checked above: once each).
    assert!(interrupted > 0, "the kill cut no call");
    second.stop();
}

#[test]
fn an_answer_no_agent_takes_in_time_hears_the_safe_harbour_message_and_counts_as_abandoned() {
    let port = common::free_port();
    let dir = common::scratch("dialer-abandon");
    let db = dir.join("waihu.db");
    let server = Server::start(&config(port, ALWAYS, Some(db.clone())));
    let carrier = carrier(&server, port);
    // Alice's phone rings and is never picked up: no agent within the
    // 2 s connect limit.
    let phone_port = common::free_port();
    let phone = Sipp::new("call_uas_ring.xml", Transport::Udp, "phone")
        .local_port(phone_port)
        .calls(1_000)
        .timeout_secs(120)
        .spawn(&server);
    register_at(
        &server,
        &ALICE,
        SocketAddr::from(([127, 0, 0, 1], phone_port)),
    );
    let (status, body) = http_post(server.http, "/api/v1/agents/1001/login", "").expect("login");
    assert_eq!(status, 200, "{body}");
    import(&server, CAMPAIGN, &[(number(10), None), (number(26), None)]);
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 2, 120);
    carrier.kill();
    phone.kill();
    for a in &attempts {
        assert_eq!(a["outcome"], "abandoned", "{a}");
        // The customer heard the message (about 13 s) before the switch
        // hung up.
        let heard =
            a["ended_ms"].as_i64().expect("end") - a["answered_ms"].as_i64().expect("answer");
        assert!(
            heard > 8_000,
            "hung up after {heard} ms: the message did not play"
        );
    }
    let contacts = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}/contacts"));
    for c in contacts["contacts"].as_array().expect("contacts") {
        assert!(c["abandoned_ms"].is_i64(), "{c}");
        assert_eq!(c["last_outcome"], "abandoned");
    }
    let metrics = server.metrics();
    assert!(
        metrics.contains("waihu_campaign_abandon_rate{campaign=\"renewals\"} 1"),
        "{metrics}"
    );
    server.stop();
    // The abandon window survives a restart: the budget is not reset.
    let server = Server::start(&config(port, ALWAYS, Some(db)));
    server.wait_for("the dialer's status", Duration::from_secs(10), |s| {
        !get(s, &format!("/api/v1/campaigns/{CAMPAIGN}"))["dialer"].is_null()
    });
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    assert_eq!(status["dialer"]["pacing"]["window_abandons"], 2, "{status}");
    server.stop();
}

#[test]
fn a_campaign_whose_contacts_are_all_done_finishes_by_itself() {
    let port = common::free_port();
    let server = Server::start(&config(port, ALWAYS, None));
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 500);
    // Both numbers are not in service (404): no further attempt.
    import(&server, CAMPAIGN, &[(number(2), None), (number(12), None)]);
    start(&server, CAMPAIGN);
    server.wait_for("the campaign to finish", Duration::from_secs(60), |s| {
        get(s, &format!("/api/v1/campaigns/{CAMPAIGN}"))["state"] == "finished"
    });
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    assert_eq!(status["counts"]["contacts"]["done"], 2, "{status}");
    assert_eq!(
        status["counts"]["outcomes"]["invalid_number"], 2,
        "{status}"
    );
    carrier.kill();
    alice.kill();
    server.stop();
}

#[test]
fn a_list_posted_to_the_api_is_imported_with_its_bad_rows_by_line() {
    let server = Server::start(&config(common::free_port(), ALWAYS, None));
    let path = format!("/api/v1/campaigns/{CAMPAIGN}/contacts");
    let csv = "phone,name\n13800138000,王芳\n1380013800a,typo\n+86 138 0013 8001,李雷\n";
    let (status, body) = http_post(server.http, &path, csv).expect("post");
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["inserted"], 2, "{report}");
    assert_eq!(report["bad"], 1);
    assert_eq!(report["bad_rows"][0][0], 3, "line 3: {report}");
    // Strict: one bad row and nothing is written.
    let (status, body) = http_post(
        server.http,
        &format!("{path}?strict=true"),
        "phone\n13900139000\nnot a number\n",
    )
    .expect("post");
    assert_eq!(status, 422, "{body}");
    let contacts = get(&server, &path);
    assert_eq!(contacts["contacts"].as_array().expect("contacts").len(), 2);
    let (status, _) =
        http_post(server.http, "/api/v1/campaigns/nosuch/contacts", csv).expect("post");
    assert_eq!(status, 404);
    server.stop();
}

/// A preview campaign: every contact is previewed by an agent first.
fn preview_config(carrier: u16) -> Config {
    let mut c = config(carrier, ALWAYS, None);
    c.extra_yaml = c
        .extra_yaml
        .replace("mode: predictive", "mode: preview\n    select_mode: false");
    c
}

#[test]
fn an_agent_previews_skips_and_accepts_contacts_and_dials_by_hand_through_the_dial_point() {
    let port = common::free_port();
    let server = Server::start(&preview_config(port));
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 1000);
    import(
        &server,
        CAMPAIGN,
        &[(number(6), None), (number(11), None), (number(27), None)],
    );
    start(&server, CAMPAIGN);
    let preview = |s: &Server| {
        let mut got = (0, Value::Null);
        s.wait_for("a contact to preview", Duration::from_secs(20), |s| {
            got = post_json(s, "/api/v1/agents/1001/preview", "");
            got.0 == 200
        });
        got.1
    };
    // The first contact is shown with its record and no history; skipped.
    let first = preview(&server);
    assert_eq!(first["contact"]["phone"], number(6).as_str(), "{first}");
    assert_eq!(first["contact"]["fields"]["name"], "客户0");
    assert!(first["history"].as_array().expect("history").is_empty());
    let id = first["contact"]["id"].as_i64().expect("id");
    // Another preview while this one is open is refused.
    assert_eq!(post_json(&server, "/api/v1/agents/1001/preview", "").0, 409);
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/agents/1001/preview/{id}/skip"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    // The next one is accepted: Alice's phone rings first, then the
    // customer's (busy).
    let second = preview(&server);
    assert_eq!(second["contact"]["phone"], number(11).as_str(), "{second}");
    let id = second["contact"]["id"].as_i64().expect("id");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/agents/1001/preview/{id}/accept"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let attempts = wait_outcomes(&server, CAMPAIGN, 1, 60);
    assert_eq!(attempts[0]["outcome"], "busy", "{attempts:?}");
    assert_eq!(attempts[0]["agent"], ALICE.id);
    assert_eq!(attempts[0]["mode"], "preview");
    // The third is answered and bridged to Alice.
    let third = preview(&server);
    let id = third["contact"]["id"].as_i64().expect("id");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/agents/1001/preview/{id}/accept"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let attempts = wait_outcomes(&server, CAMPAIGN, 2, 60);
    let answered = attempts
        .iter()
        .find(|a| a["phone"] == number(27).as_str())
        .expect("attempt");
    assert_eq!(answered["outcome"], "answered", "{answered}");
    assert_eq!(answered["agent"], ALICE.id);

    // Manual: a number Alice types is dialled the same way, and logged.
    server.wait_for("Alice ready again", Duration::from_secs(20), |s| {
        get(s, "/api/v1/agents/1001")["state"] == "ready"
    });
    let (status, body) = post_json(
        &server,
        "/api/v1/agents/1001/dial",
        &format!(r#"{{"number":"138 0000 0037","campaign":"{CAMPAIGN}"}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let attempts = wait_outcomes(&server, CAMPAIGN, 3, 60);
    let manual = attempts
        .iter()
        .find(|a| a["mode"] == "manual")
        .expect("manual attempt");
    assert_eq!(manual["phone"], number(37).as_str());
    assert_eq!(manual["outcome"], "answered", "{manual}");
    // ... but never one on the do-not-call table: refused, with the reason.
    let (ok, _, err) = server.cli(&["dnc", "add", "13800000047"]);
    assert!(ok, "{err}");
    let (status, body) = post_json(
        &server,
        "/api/v1/agents/1001/dial",
        &format!(r#"{{"number":"13800000047","campaign":"{CAMPAIGN}"}}"#),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "do_not_call", "{body}");
    let log = carrier.kill().messages;
    alice.kill();
    let invites = carrier_invites(&log);
    assert!(
        !invites.contains_key(&number(47)),
        "a do-not-call number was dialled"
    );
    assert!(
        !invites.contains_key(&number(6)),
        "a skipped contact was dialled"
    );
    for n in [number(11), number(27), number(37)] {
        assert!(invites.contains_key(&n), "{n} not dialled: {invites:?}");
    }
    server.stop();
}

#[test]
fn a_busy_number_is_tried_again_after_its_retry_spacing_and_no_sooner() {
    let port = common::free_port();
    let mut c = config(port, ALWAYS, None);
    // No Lua hooks: the campaign's own retry policy plans the attempts.
    c.scripts_dir = common::tests_dir("scripts/no_hooks");
    c.extra_yaml = c.extra_yaml.replace(
        "    max_lines: 12\n",
        "    max_lines: 12\n    max_attempts: 2\n    retry:\n      spacing: { busy: 8s }\n",
    );
    let server = Server::start(&c);
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 500);
    import(&server, CAMPAIGN, &[(number(1), None)]);
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 2, 60);
    let log = carrier.kill().messages;
    alice.kill();
    assert!(
        attempts.iter().all(|a| a["outcome"] == "busy"),
        "{attempts:?}"
    );
    let gap = attempts[1]["started_ms"].as_i64().expect("start")
        - attempts[0]["ended_ms"].as_i64().expect("end");
    assert!((8_000..15_000).contains(&gap), "tried again after {gap} ms");
    assert_eq!(carrier_invites(&log)[&number(1)].len(), 2);
    // Two attempts were the maximum: the contact is done, the campaign too.
    server.wait_for("the campaign to finish", Duration::from_secs(20), |s| {
        get(s, &format!("/api/v1/campaigns/{CAMPAIGN}"))["state"] == "finished"
    });
    server.stop();
}

#[test]
fn a_campaign_made_and_changed_through_the_api_runs_and_outlives_a_restart() {
    let port = common::free_port();
    let dir = common::scratch("dialer-api");
    let db = dir.join("waihu.db");
    let server = Server::start(&config(port, ALWAYS, Some(db.clone())));
    let winback = r#"{"name": "winback", "mode": "progressive", "trunk_group": "carrier",
        "queue": "outbound", "caller_id": "+862150009999", "disposition_required": false,
        "window": {"days": {"mon-sun": ["00:00-24:00"]}, "rest": []},
        "import": {"default_timezone": "Asia/Shanghai"}}"#;
    let (status, body) = post_json(&server, "/api/v1/campaigns", winback);
    assert_eq!(status, 201, "{body}");
    let (status, _) = post_json(&server, "/api/v1/campaigns", winback);
    assert_eq!(status, 409, "made twice");
    let (status, body) = post_json(
        &server,
        "/api/v1/campaigns",
        r#"{"name": "broken", "trunk_group": "nosuch", "queue": "nosuch"}"#,
    );
    assert_eq!(status, 400, "{body}");
    let problems = body["error"].as_str().expect("error");
    assert!(
        problems.contains("trunk_group") && problems.contains("queue"),
        "{problems}"
    );

    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 500);
    let csv = format!("phone\n{}\n{}\n", number(6), number(11));
    let (status, body) =
        http_post(server.http, "/api/v1/campaigns/winback/contacts", &csv).expect("post");
    assert_eq!(status, 200, "{body}");
    start(&server, "winback");
    let attempts = wait_outcomes(&server, "winback", 2, 60);
    let outcomes: BTreeSet<&str> = attempts
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        BTreeSet::from(["answered", "busy"]),
        "{attempts:?}"
    );
    let log = carrier.kill().messages;
    alice.kill();
    assert!(
        log.contains("+862150009999"),
        "the campaign's caller ID is shown"
    );

    // Changed: the new abandon target shows in its status.
    let (status, body) = http_put(
        server.http,
        "/api/v1/campaigns/winback",
        &winback.replace(
            "\"mode\": \"progressive\"",
            "\"mode\": \"progressive\", \"abandon_target_pct\": 1.5",
        ),
    )
    .expect("put");
    assert_eq!(status, 200, "{body}");
    server.wait_for("the new target", Duration::from_secs(5), |s| {
        get(s, "/api/v1/campaigns/winback")["dialer"]["abandon_target"] == 0.015
    });
    server.stop();

    // After a restart it is still there, changed, and still running.
    let server = Server::start(&config(port, ALWAYS, Some(db)));
    server.wait_for("the dialer's status", Duration::from_secs(10), |s| {
        !get(s, "/api/v1/campaigns/winback")["dialer"].is_null()
    });
    let s = get(&server, "/api/v1/campaigns/winback");
    assert_eq!(s["state"], "running", "{s}");
    assert_eq!(s["dialer"]["abandon_target"], 0.015, "{s}");
    assert_eq!(s["dialer"]["mode"], "progressive");
    server.stop();
}

/// Milliseconds since the epoch of a log line's RFC 3339 UTC timestamp
/// (`2026-11-25T04:44:25.238938Z ...`).
fn log_time_ms(line: &str) -> Option<i64> {
    let stamp = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let secs: f64 = t.next()?.parse().ok()?;
    // Days from 1970-01-01 to y-m-day in the proleptic Gregorian calendar.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60) as f64 * 1000.0 + secs * 1000.0) as i64)
}

#[test]
fn while_the_switch_is_overloaded_the_dialer_holds_new_lines_and_loses_no_contact() {
    let port = common::free_port();
    let mut cfg = config(port, ALWAYS, None);
    // A low limit, so that a stopped process is surely overloaded when it
    // runs again (a 1.5 s stall moves the average by 187 ms).
    cfg.sip_yaml = "  limits:\n    overload_delay_ms: 50\n".into();
    let server = Server::start(&cfg);
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 300);
    let bob = agent_phone(&server, &BOB, 300);
    let rows: Vec<(String, Option<String>)> = (0..40).map(|i| (number(i), None)).collect();
    import(&server, CAMPAIGN, &rows);
    start(&server, CAMPAIGN);
    wait_outcomes(&server, CAMPAIGN, 5, 60);
    // A busy test machine may have made it hold already.
    let holds = server.metric("waihu_dialer_overload_holds_total");

    // The whole switch stalls for 1.5 s (as a host taking the CPU away
    // would make it): every task runs late when it resumes.
    let pid = server.pid().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_millis(1500));
    signal("-CONT");
    let resumed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // The campaign's status says so while it lasts (2 s at least).
    server.wait_for("the campaign shown held", Duration::from_secs(10), |s| {
        get(s, &format!("/api/v1/campaigns/{CAMPAIGN}"))["dialer"]["held"] == true
    });
    assert!(server.metric("waihu_dialer_overload_holds_total") > holds);

    // It dials again after the hold, and every contact is dialled once.
    let attempts = wait_outcomes(&server, CAMPAIGN, 40, 120);
    let log = server.log();
    let held_at = log
        .lines()
        .filter(|l| l.contains("overloaded: the dialer holds new lines"))
        .filter_map(log_time_ms)
        .find(|&t| t >= resumed - 100)
        .unwrap_or_else(|| panic!("no hold after the stall in the log:\n{log}"));
    assert!(log.contains("the dialer dials again"), "{log}");
    // Nothing was dialled while it held (the hold lasts 2 s from the last
    // overloaded tick; a 200 ms margin covers the log line's own delay).
    let during: Vec<&Value> = attempts
        .iter()
        .filter(|a| {
            let started = a["started_ms"].as_i64().expect("started_ms");
            started > held_at + 200 && started <= held_at + 1800
        })
        .collect();
    assert!(
        during.is_empty(),
        "dialled while held at {held_at}: {during:#?}"
    );
    let invites = carrier_invites(&carrier.kill().messages);
    alice.kill();
    bob.kill();
    assert_eq!(invites.len(), 40, "numbers dialled: {}", invites.len());
    for (number, calls) in &invites {
        assert_eq!(calls.len(), 1, "{number} dialled {} times", calls.len());
    }
    server.stop();
}
