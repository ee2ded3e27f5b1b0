//! The web pages in a real browser: Debian's Chromium driven by Playwright
//! (`tests/browser/*.mjs`, run with node) against the real binary, with
//! sipp as the carrier and as the agent's phone. This file sets the scene
//! (config, phones, contact lists, campaigns), runs a scenario, and then
//! checks in the store what the clicks must have left there.
//!
//! Needs node, chromium and `tests/browser/node_modules` (installed by
//! `tests/browser/setup.sh`); without them the test fails and says so.
//! `WAIHU_SCREENSHOTS=1` saves the pages to `docs/screenshots/`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::campaign::*;
use common::sip::Transport;
use common::sipp::{Running, Sipp};
use common::{ALICE, Config, Server, register_at, sipp_media_port};
use serde_json::Value;

/// The supervisor of the wallboard (`api.users` of the config).
const SUPERVISOR: (&str, &str) = ("wang.supervisor", "wallboard-supervisor-secret");
/// The preview campaign beside the predictive `renewals`.
const PREVIEW: &str = "winback";
/// How long one scenario may take before it is killed.
const SCENARIO_LIMIT: Duration = Duration::from_secs(240);

/// The haoyun branch the scenario clicks: (node, option index, next).
const HAOYUN_PATH: [(&str, u64, &str); 6] = [
    ("greet", 1, "can_decide"),
    ("can_decide", 0, "offer"),
    ("offer", 1, "retain"),
    ("retain", 0, "confirm"),
    ("confirm", 1, "reconfirm"),
    ("reconfirm", 0, "done"),
];

fn browser_dir() -> PathBuf {
    common::tests_dir("browser")
}

/// Fails (never skips) when a tool the browser tests need is missing.
fn require_tools() -> PathBuf {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the browser tests need node (and npm): run tests/browser/setup.sh ({node:?})"
    );
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()));
    assert!(
        chromium.is_file(),
        "the browser tests need Debian's chromium at {}: run tests/browser/setup.sh",
        chromium.display()
    );
    let playwright = browser_dir().join("node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "the browser tests need playwright-core in tests/browser/node_modules: run tests/browser/setup.sh"
    );
    chromium
}

/// The campaign config of the dialer tests, with the haoyun script on the
/// predictive campaign, a preview campaign, and a supervisor.
fn config(carrier: u16) -> Config {
    let mut c = common::campaign::config(carrier, ALWAYS, None);
    c.outbound_agents = vec![ALICE.id];
    c.extra_yaml = c.extra_yaml.replace(
        "    max_lines: 12\n",
        "    max_lines: 12\n    agent_script: haoyun\n",
    );
    c.extra_yaml.push_str(&format!(
        "  - name: {PREVIEW}\n    mode: preview\n    select_mode: false\n    trunk_group: carrier\n    \
         caller_id: \"+862150001234\"\n    queue: outbound\n    ring_timeout_s: 5\n    \
         agent_script: haoyun\n    {ALWAYS}\n    import:\n      default_timezone: Asia/Shanghai\n"
    ));
    c.api_yaml = format!(
        "  users:\n    - name: {}\n      password: \"{}\"\n      role: supervisor\n",
        SUPERVISOR.0, SUPERVISOR.1
    );
    c
}

/// The agent's phone: answers every call and stays up until the switch
/// hangs up (the desktop's hang-up button), at most two minutes. The
/// agent is registered, not logged in: the desktop does that.
fn phone(server: &Server) -> Running {
    let port = common::free_port();
    let running = Sipp::new("agent_uas_auto.xml", Transport::Udp, "phone")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1000)
        .arg("-d")
        .arg("120000")
        .timeout_secs(600)
        .spawn(server);
    register_at(server, &ALICE, SocketAddr::from(([127, 0, 0, 1], port)));
    running
}

/// Runs `tests/browser/<scenario>` with `vars`; its stdout's last line, parsed.
fn run_scenario(
    server: &Server,
    chromium: &Path,
    scenario: &str,
    vars: &[(&str, String)],
) -> Value {
    let out = server.dir.join(format!("{scenario}.stdout"));
    let err = server.dir.join(format!("{scenario}.stderr"));
    let mut cmd = Command::new("node");
    cmd.arg(browser_dir().join(scenario))
        .current_dir(browser_dir())
        .env("WAIHU_URL", format!("http://{}", server.http))
        .env("CHROMIUM", chromium)
        .env("WAIHU_ARTIFACTS", &server.dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    if std::env::var("WAIHU_SCREENSHOTS").is_ok_and(|v| v == "1") {
        cmd.env("WAIHU_SCREENSHOTS", common::repo_dir("docs/screenshots"));
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("running node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break status;
        }
        if started.elapsed() > SCENARIO_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{scenario} still running after {SCENARIO_LIMIT:?}:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    eprintln!("{stderr}");
    assert!(
        status.success(),
        "{scenario} failed ({status}); screenshots of the pages are in {}:\n{stderr}",
        server.dir.display()
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{scenario} printed no result ({e}): {stdout}"))
}

fn attempts_of(server: &Server, campaign: &str) -> Vec<Value> {
    get(
        server,
        &format!("/api/v1/campaigns/{campaign}/attempts?limit=1000"),
    )["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn an_agent_works_a_predictive_and_a_preview_call_on_the_desktop_while_the_wallboard_follows() {
    let chromium = require_tools();
    let port = common::free_port();
    let server = Server::start(&config(port));
    let carrier = carrier(&server, port);
    let phone = phone(&server);

    // The predictive list has one customer; the preview list two; a third
    // number is on the do-not-call table.
    let predictive = number(6);
    import_csv(
        &server,
        CAMPAIGN,
        &format!(
            "phone,name,city,plan,tenure_months,monthly_spend,churn_score\n\
             {predictive},王芳,上海,畅享套餐,48,168,0.7\n"
        ),
    );
    let (first, second) = (number(16), number(26));
    import_csv(
        &server,
        PREVIEW,
        &format!("phone,name\n{first},张先生\n{second},李女士\n"),
    );
    let dnc = number(47);
    let (ok, _, err) = server.cli(&["dnc", "add", &dnc, "--reason", "asked on the phone"]);
    assert!(ok, "{err}");
    start(&server, CAMPAIGN);
    start(&server, PREVIEW);

    let result = run_scenario(
        &server,
        &chromium,
        "desk.mjs",
        &[
            ("WAIHU_AGENT", ALICE.id.to_owned()),
            ("WAIHU_AGENT_PASSWORD", ALICE.password.to_owned()),
            ("WAIHU_SUPERVISOR", SUPERVISOR.0.to_owned()),
            ("WAIHU_SUPERVISOR_PASSWORD", SUPERVISOR.1.to_owned()),
            ("WAIHU_PREDICTIVE_PHONE", predictive.clone()),
            ("WAIHU_PREDICTIVE_NAME", "王芳".to_owned()),
            ("WAIHU_PREDICTIVE_CAMPAIGN", CAMPAIGN.to_owned()),
            ("WAIHU_PREVIEW_CAMPAIGN", PREVIEW.to_owned()),
            ("WAIHU_DNC_NUMBER", dnc.clone()),
        ],
    );
    eprintln!("scenario result: {result}");

    // The predictive call: the agent's disposition and the branch taken,
    // step by step, are in the store.
    let attempts = attempts_of(&server, CAMPAIGN);
    let call = attempts
        .iter()
        .find(|a| a["phone"] == predictive.as_str())
        .unwrap_or_else(|| panic!("no attempt for {predictive}: {attempts:?}"));
    assert_eq!(call["agent"], ALICE.id, "{call}");
    assert_eq!(call["disposition"], "success", "{call}");
    let path: Vec<(&str, u64, &str)> = call["script_path"]
        .as_array()
        .unwrap_or_else(|| panic!("no script_path: {call}"))
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap_or_default(),
                s["choice"].as_u64().unwrap_or(u64::MAX),
                s["next"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(path, HAOYUN_PATH, "{call}");

    // Preview: the skipped contact was never dialled; the accepted one
    // was, for this agent, and classified on the desktop.
    let skipped = result["preview"]["skipped"].as_str().expect("skipped");
    let accepted = result["preview"]["accepted"].as_str().expect("accepted");
    let mut shown = [skipped, accepted];
    shown.sort_unstable();
    let mut listed = [first.as_str(), second.as_str()];
    listed.sort_unstable();
    assert_eq!(shown, listed, "the two preview contacts, one each");
    let attempts = attempts_of(&server, PREVIEW);
    assert_eq!(
        attempts.len(),
        1,
        "only the accepted contact is dialled: {attempts:?}"
    );
    let a = &attempts[0];
    assert_eq!(a["phone"], accepted, "{a}");
    assert_eq!(a["mode"], "preview", "{a}");
    assert_eq!(a["agent"], ALICE.id, "{a}");
    assert_eq!(a["disposition"], "callback", "{a}");
    // The contact is planned for the callback time the agent chose.
    let contacts = get(
        &server,
        &format!("/api/v1/campaigns/{PREVIEW}/contacts?limit=100"),
    );
    let contact = contacts["contacts"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["phone"] == accepted))
        .unwrap_or_else(|| panic!("no contact {accepted}: {contacts}"));
    assert_eq!(contact["next_at_ms"], result["callback_at_ms"], "{contact}");

    // The manual dial of the do-not-call number was refused at the dial
    // point, and never reached the carrier.
    let refusals = get(&server, "/api/v1/refusals")["refusals"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        refusals.iter().any(|r| r["phone"] == dnc.as_str()
            && r["reason"] == "do_not_call"
            && r["path"] == "manual"),
        "{refusals:?}"
    );
    // The supervisor's pause from the wallboard holds.
    let agent = get(&server, &format!("/api/v1/agents/{}", ALICE.id));
    assert_eq!(agent["state"], "paused", "{agent}");
    assert_eq!(agent["reason"], "supervisor", "{agent}");
    let status = get(&server, &format!("/api/v1/campaigns/{PREVIEW}"));
    assert_eq!(status["state"], "running", "paused and resumed: {status}");

    // The agents' report, downloaded as CSV from /reports, has this
    // agent's totals as the attempts have them: two calls placed and
    // connected, one success, one callback.
    let csv = &result["agents_csv"];
    let mine: Vec<Value> = [CAMPAIGN, PREVIEW]
        .iter()
        .flat_map(|c| attempts_of(&server, c))
        .filter(|a| a["agent"] == ALICE.id)
        .collect();
    let count = |f: &dyn Fn(&Value) -> bool| mine.iter().filter(|a| f(a)).count().to_string();
    assert_eq!(csv["placed"], count(&|_| true).as_str(), "{csv}");
    assert_eq!(csv["placed"], "2", "{csv}");
    assert_eq!(
        csv["connected"],
        count(&|a| a["outcome"] == "answered").as_str(),
        "{csv}"
    );
    assert_eq!(csv["connected"], "2", "{csv}\n{mine:#?}");
    for d in ["success", "callback"] {
        assert_eq!(
            csv[d],
            count(&|a| a["disposition"] == d).as_str(),
            "{d}: {csv}"
        );
        assert_eq!(csv[d], "1", "{d}: {csv}");
    }
    for d in ["unreachable", "likely", "interested", "declined"] {
        assert_eq!(csv[d], "0", "{d}: {csv}");
    }

    let log = carrier.kill().messages;
    phone.kill();
    let invites = carrier_invites(&log);
    assert!(
        !invites.contains_key(skipped),
        "the skipped contact was dialled"
    );
    assert!(
        !invites.contains_key(&dnc),
        "the do-not-call number was dialled"
    );
    for n in [&predictive, &accepted.to_owned()] {
        assert_eq!(
            invites.get(n.as_str()).map(|c| c.len()),
            Some(1),
            "{n}: {invites:?}"
        );
    }
    server.stop();
}

#[test]
fn the_abandon_gauge_warns_from_80_percent_of_the_target() {
    require_tools();
    let out = Command::new("node")
        .args(["--test", "gauge.test.mjs"])
        .current_dir(browser_dir())
        .output()
        .expect("running node --test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "gauge.test.mjs failed:\n{text}");
    assert!(
        text.contains("# pass 5"),
        "not every gauge test ran:\n{text}"
    );
}
