//! Reports through the running binary: a small predictive campaign runs
//! against sipp (the carrier answers by the number's last digit, see
//! `sipp/carrier_dialer.xml`; the agents' phones answer by themselves),
//! agents' dispositions are set through the API, and then
//! `waihu report ... --csv`, `GET /api/v1/reports/...?format=csv` and the
//! `/reports` page must agree with what the attempts say happened.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::campaign::*;
use common::{ALICE, API_TOKEN, BOB, Reply, Server, http_get, http_post, http_request};
use serde_json::Value;

const BOSS: (&str, &str) = ("boss", "supervisor-secret-1");

/// A GET whose headers matter, with the tests' admin token: status,
/// headers (lower-case names), body.
fn get_with_headers(addr: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, String) {
    let bearer = format!("Bearer {API_TOKEN}");
    let reply = http_request(addr, "GET", path, &[("Authorization", &bearer)], None).expect("GET");
    (
        reply.status,
        reply.headers.into_iter().collect(),
        reply.body,
    )
}

/// `/reports` as a browser with only this cookie (or none) would get it.
fn page_with_cookie(addr: SocketAddr, cookie: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
    http_request(addr, "GET", "/reports?since=1h", &headers, None).expect("GET /reports")
}

/// Logs in; the `name=value` of the session cookie set.
fn login_cookie(addr: SocketAddr, user: &str, password: &str) -> String {
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    let reply = http_request(addr, "POST", "/api/v1/login", &[], Some(&body)).expect("login");
    assert_eq!(reply.status, 200, "login {user}: {}", reply.body);
    let cookie = reply.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().expect("name=value").to_owned()
}

/// CSV rows as maps from the header's names.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.expect("a row").iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row.get(key)
        .unwrap_or_else(|| panic!("no column {key} in {row:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {row:?}"))
}

/// The campaign's queue with a wrap-up of a second after each call.
fn wrapping_up(mut c: common::Config) -> common::Config {
    assert!(c.extra_yaml.contains("    max_no_answer: 0\n"));
    c.extra_yaml = c.extra_yaml.replace(
        "    max_no_answer: 0\n",
        "    max_no_answer: 0\n    wrapup_s: 1\n",
    );
    c
}

#[test]
fn reports_agree_with_what_the_campaign_did() {
    let port = common::free_port();
    let server = Server::start(&common::Config {
        api_yaml: format!(
            "  users:\n    - name: {}\n      password: {}\n      role: supervisor\n",
            BOSS.0, BOSS.1
        ),
        ..wrapping_up(config(port, ALWAYS, None))
    });
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 800);
    let bob = agent_phone(&server, &BOB, 800);

    let contacts = 20;
    let rows: Vec<(String, Option<String>)> = (0..contacts).map(|i| (number(i), None)).collect();
    import(&server, CAMPAIGN, &rows);
    start(&server, CAMPAIGN);
    wait_outcomes(&server, CAMPAIGN, contacts as usize, 180);
    // No retries from here on: the figures hold still.
    let (status, body) = http_post(
        server.http,
        &format!("/api/v1/campaigns/{CAMPAIGN}/pause"),
        "",
    )
    .expect("pause");
    assert_eq!(status, 200, "{body}");
    let mut attempts: Vec<Value> = Vec::new();
    server.wait_for("every attempt over", Duration::from_secs(60), |s| {
        attempts = get(
            s,
            &format!("/api/v1/campaigns/{CAMPAIGN}/attempts?limit=10000"),
        )["attempts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        attempts.iter().all(|a| !a["outcome"].is_null())
    });
    carrier.kill();
    alice.kill();
    bob.kill();

    // What happened, from the attempts themselves.
    let outcome = |a: &Value| a["outcome"].as_str().unwrap_or("").to_owned();
    let dialled = attempts.len();
    let connected: Vec<&Value> = attempts
        .iter()
        .filter(|a| outcome(a) == "answered" && a["agent"].is_string())
        .collect();
    let abandoned = attempts
        .iter()
        .filter(|a| outcome(a) == "abandoned")
        .count();
    let answered = connected.len() + abandoned;
    assert!(
        connected.len() >= 3,
        "too few calls reached an agent: {attempts:?}"
    );
    // The agents' verdicts: a sale, a refusal, a callback, the rest
    // interested.
    let mut success_by_agent: BTreeMap<String, u64> = BTreeMap::new();
    for (i, a) in connected.iter().enumerate() {
        let body = match i {
            0 => r#"{"disposition":"success"}"#.to_owned(),
            1 => r#"{"disposition":"declined"}"#.to_owned(),
            2 => format!(
                r#"{{"disposition":"callback","callback_at_ms":{}}}"#,
                4_102_444_800_000i64
            ),
            _ => r#"{"disposition":"interested"}"#.to_owned(),
        };
        let (status, reply) = post_json(
            &server,
            &format!("/api/v1/attempts/{}/disposition", a["id"]),
            &body,
        );
        assert_eq!(status, 200, "{reply}");
        if i == 0 {
            *success_by_agent
                .entry(a["agent"].as_str().expect("agent").to_owned())
                .or_default() += 1;
        }
    }
    // Every wrap-up over.
    server.wait_for("both agents ready", Duration::from_secs(20), |s| {
        get(s, "/api/v1/agents")["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|a| a["state"] == "ready"))
    });
    let mut connected_by_agent: BTreeMap<String, u64> = BTreeMap::new();
    for a in &connected {
        *connected_by_agent
            .entry(a["agent"].as_str().expect("agent").to_owned())
            .or_default() += 1;
    }
    let conversion = 1.0 / connected.len() as f64;
    let contact_rate = answered as f64 / dialled as f64;
    let abandon_rate = abandoned as f64 / answered as f64;
    eprintln!(
        "{dialled} dialled, {answered} answered, {} connected, {abandoned} abandoned",
        connected.len()
    );

    // The same campaign row from the CLI and from the API.
    let (ok, cli_csv, err) = server.cli(&["report", "campaigns", "--csv"]);
    assert!(ok, "waihu report campaigns: {err}");
    let (status, headers, api_csv) =
        get_with_headers(server.http, "/api/v1/reports/campaigns?format=csv&since=1h");
    assert_eq!(status, 200, "{api_csv}");
    assert!(
        headers["content-type"].starts_with("text/csv"),
        "{headers:?}"
    );
    assert!(
        headers["content-disposition"].starts_with("attachment; filename=\"waihu-campaigns-"),
        "{headers:?}"
    );
    for csv in [&cli_csv, &api_csv] {
        let rows = csv_rows(csv);
        let row = rows
            .iter()
            .find(|r| r["campaign"] == CAMPAIGN)
            .unwrap_or_else(|| panic!("no {CAMPAIGN} in {csv}"));
        assert_eq!(num(row, "contacts"), f64::from(contacts), "{row:?}");
        assert_eq!(num(row, "contacts_dialled"), f64::from(contacts), "{row:?}");
        assert_eq!(num(row, "dialled"), dialled as f64, "{row:?}");
        assert_eq!(num(row, "answered"), answered as f64, "{row:?}");
        assert_eq!(num(row, "connected"), connected.len() as f64, "{row:?}");
        assert_eq!(num(row, "abandoned"), abandoned as f64, "{row:?}");
        assert_eq!(num(row, "success"), 1.0, "{row:?}");
        assert_eq!(num(row, "declined"), 1.0, "{row:?}");
        assert_eq!(num(row, "callback"), 1.0, "{row:?}");
        assert_eq!(
            num(row, "interested"),
            (connected.len() - 3) as f64,
            "{row:?}"
        );
        // Rates are written to four places.
        assert!(
            (num(row, "contact_rate") - contact_rate).abs() < 1e-4,
            "{row:?}"
        );
        assert!(
            (num(row, "conversion") - conversion).abs() < 1e-4,
            "{row:?}"
        );
        assert!(
            (num(row, "abandon_rate") - abandon_rate).abs() < 1e-4,
            "{row:?}"
        );
        assert!((num(row, "abandon_target") - 0.03).abs() < 1e-9, "{row:?}");
    }

    // The agents: every connected call is one placed and connected by its
    // agent, and the sale is the agent's who took it.
    let (ok, agents_csv, err) = server.cli(&["report", "agents", "--csv", "--since", "1h"]);
    assert!(ok, "waihu report agents: {err}");
    let agents = csv_rows(&agents_csv);
    let total = |key: &str| agents.iter().map(|r| num(r, key)).sum::<f64>();
    assert_eq!(total("placed"), connected.len() as f64, "{agents_csv}");
    assert_eq!(total("connected"), connected.len() as f64, "{agents_csv}");
    assert_eq!(total("success"), 1.0, "{agents_csv}");
    assert_eq!(total("inbound"), 0.0, "{agents_csv}");
    for row in &agents {
        let successes = success_by_agent.get(&row["agent"]).copied().unwrap_or(0);
        assert_eq!(num(row, "success"), successes as f64, "{row:?}");
        let calls = connected_by_agent.get(&row["agent"]).copied().unwrap_or(0);
        assert_eq!(num(row, "connected"), calls as f64, "{row:?}");
        if calls > 0 {
            assert!(num(row, "talk_s") > 0.0, "{row:?}");
        }
        // A wrap-up of (at least) a second after each call.
        assert!(
            num(row, "wrap_up_s") >= calls as f64 * 0.95,
            "{calls} calls: {row:?}"
        );
    }
    let (status, body) = http_get(server.http, "/api/v1/reports/agents?since=1h").expect("GET");
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["agents"].as_array().map(Vec::len), Some(agents.len()));

    // The campaign's tables: every attempt is in one hour and one day.
    let detail = get(&server, &format!("/api/v1/reports/campaigns/{CAMPAIGN}"));
    let sum = |table: &str, key: &str| {
        detail["campaign"][table]
            .as_array()
            .expect(table)
            .iter()
            .map(|r| r[key].as_u64().expect(key))
            .sum::<u64>()
    };
    assert_eq!(detail["campaign"]["timezone"], "Asia/Shanghai", "{detail}");
    assert_eq!(
        detail["campaign"]["hours"].as_array().map(Vec::len),
        Some(24)
    );
    assert_eq!(sum("hours", "dialled"), dialled as u64, "{detail}");
    assert_eq!(sum("hours", "answered"), answered as u64, "{detail}");
    assert_eq!(sum("hours", "success"), 1, "{detail}");
    assert_eq!(sum("days", "dialled"), dialled as u64, "{detail}");
    assert_eq!(sum("days", "abandoned"), abandoned as u64, "{detail}");
    let (status, headers, hours_csv) = get_with_headers(
        server.http,
        &format!("/api/v1/reports/campaigns/{CAMPAIGN}?format=csv&table=hours"),
    );
    assert_eq!(status, 200, "{hours_csv}");
    assert!(
        headers["content-disposition"].contains("renewals-hours"),
        "{headers:?}"
    );
    let hours = csv_rows(&hours_csv);
    assert_eq!(hours.len(), 24);
    assert_eq!(
        hours.iter().map(|r| num(r, "dialled")).sum::<f64>(),
        dialled as f64
    );

    // The queue the answers waited in: each answered call entered it, and
    // each connected one was answered there.
    let queues = get(&server, "/api/v1/reports/queues?threshold_s=30");
    let outbound = queues["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["queue"] == "outbound")
        .unwrap_or_else(|| panic!("no outbound queue: {queues}"));
    assert_eq!(outbound["threshold_ms"], 30_000);
    assert_eq!(outbound["offered"], answered as u64, "{outbound}");
    assert_eq!(outbound["answered"], connected.len() as u64, "{outbound}");
    let (ok, queues_text, err) = server.cli(&["report", "queues"]);
    assert!(ok, "{err}");
    assert!(queues_text.contains("outbound"), "{queues_text}");

    // The page is served to anyone, but its figures only to a supervisor
    // or an admin: others get the login form.
    let anonymous = page_with_cookie(server.http, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert!(
        anonymous.body.contains(r#"<form id="login">"#)
            && anonymous.body.contains("/api/v1/login")
            && !anonymous.body.contains("data-table"),
        "{}",
        anonymous.body
    );
    let agent = login_cookie(server.http, ALICE.id, ALICE.password);
    let refused = page_with_cookie(server.http, Some(&agent));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("supervisors") && !refused.body.contains("data-table"));
    let agent_token = agent.split_once('=').expect("cookie").1;
    let bearer = format!("Bearer {agent_token}");
    let api = http_request(
        server.http,
        "GET",
        "/api/v1/reports/agents",
        &[("Authorization", &bearer)],
        None,
    )
    .expect("GET");
    assert_eq!(api.status, 403, "{}", api.body);
    let anonymous =
        http_request(server.http, "GET", "/api/v1/reports/queues", &[], None).expect("GET");
    assert_eq!(anonymous.status, 401, "the reports API needs a token");

    // The page: three tables with CSV links, and the charts drawn.
    let boss = login_cookie(server.http, BOSS.0, BOSS.1);
    let reply = page_with_cookie(server.http, Some(&boss));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let page = reply.body;
    for needle in [
        r#"data-table="agents""#,
        r#"data-table="campaigns""#,
        r#"data-table="queues""#,
        r#"data-campaign="renewals""#,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="calls-per-hour""#,
        r#"data-chart="outcome-mix""#,
        r#"data-chart="abandon-rate""#,
        r#"class="target""#,
        "/api/v1/reports/agents?format=csv&amp;since=1h",
        "/api/v1/reports/queues?format=csv&amp;since=1h",
        r#"href="/reports/reports.css""#,
    ] {
        assert!(page.contains(needle), "/reports lacks {needle}");
    }
    assert!(page.contains("class=\"bar\""), "no bars drawn");
    let (status, headers, css) = get_with_headers(server.http, "/reports/reports.css");
    assert_eq!(status, 200);
    assert!(
        headers["content-type"].starts_with("text/css"),
        "{headers:?}"
    );
    assert!(css.contains("svg.chart"));

    // The endpoints are in the OpenAPI document.
    let doc = get(&server, "/api/v1/openapi.json");
    for path in [
        "/api/v1/reports/agents",
        "/api/v1/reports/campaigns",
        "/api/v1/reports/campaigns/{name}",
        "/api/v1/reports/queues",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} not documented"
        );
    }

    // Bad input is a clear 400 (or 404), never a crash.
    let (status, body) = http_get(server.http, "/api/v1/reports/agents?since=soon").expect("GET");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("since") && body.contains("soon"), "{body}");
    let (status, body) =
        http_get(server.http, "/api/v1/reports/queues?threshold_s=0").expect("GET");
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        http_get(server.http, "/api/v1/reports/campaigns?format=xlsx").expect("GET");
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        http_get(server.http, "/api/v1/reports/campaigns/nope?since=1h").expect("GET");
    assert_eq!(status, 404, "{body}");
    let later = http_request(
        server.http,
        "GET",
        "/reports?since=later",
        &[("Cookie", &boss)],
        None,
    )
    .expect("GET");
    assert_eq!(later.status, 400, "{}", later.body);
    assert!(later.body.contains("later"), "{}", later.body);
    let (ok, _, err) = server.cli(&["report", "agents", "--until", "nonsense"]);
    assert!(!ok && err.contains("until"), "{err}");
    let (ok, _, err) = server.cli(&["report", "campaign", "nope"]);
    assert!(!ok && err.contains("nope"), "{err}");
    // The switch is still up.
    assert_eq!(server.health()["status"], "ok");
}
