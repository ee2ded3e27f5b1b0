//! Reports through the running binary: a small predictive campaign runs
//! against sipp (the carrier answers by the number's last digit, see
//! `sipp/carrier_dialer.xml`; the agents' phones answer by themselves),
//! agents' dispositions are set through the API, and then
//! `waihu report ... --csv`, `GET /api/v1/reports/...?format=csv` and the
//! `/reports` page must agree with what the attempts say happened.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::campaign::*;
use common::{ALICE, BOB, Server, http_get, http_post};
use serde_json::Value;

/// A GET whose headers matter: status, headers (lower-case names), body.
fn get_with_headers(addr: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
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

#[test]
fn reports_agree_with_what_the_campaign_did() {
    let port = common::free_port();
    let server = Server::start(&config(port, ALWAYS, None));
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
        if num(row, "connected") > 0.0 {
            assert!(num(row, "talk_s") > 0.0, "{row:?}");
        }
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

    // The page: three tables with CSV links, and the charts drawn.
    let (status, page) = http_get(server.http, "/reports?since=1h").expect("GET /reports");
    assert_eq!(status, 200, "{page}");
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
    let (status, _) = http_get(server.http, "/reports?since=later").expect("GET");
    assert_eq!(status, 400);
    let (ok, _, err) = server.cli(&["report", "agents", "--until", "nonsense"]);
    assert!(!ok && err.contains("until"), "{err}");
    let (ok, _, err) = server.cli(&["report", "campaign", "nope"]);
    assert!(!ok && err.contains("nope"), "{err}");
    // The switch is still up.
    assert_eq!(server.health()["status"], "ok");
}
