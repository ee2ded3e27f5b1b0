//! Native plugins in the running binary: the workspace's own plugin
//! libraries (built by `common::plugins::built`), loaded from the YAML
//! configuration. Loading and refusing (`waihu check` and at start), a
//! route script that calls `plugins.crm.lookup`, a plugin that panics and
//! one that is slow while sipp calls keep being switched, the event file
//! of `events-jsonl`, and reloads while calls are in progress.

mod common;

use std::path::Path;
use std::time::Duration;

use common::plugins::built;
use common::sip::Transport;
use common::sipp::Sipp;
use common::{
    ALICE, Config, DOMAIN, Scratch, Server, http_get, http_post, scratch, sipp_media_port, unique,
};
use serde_json::Value;

const CUSTOMERS: &str = "phone,id,name,plan,tenure_months,monthly_spend,last_agent,churn_score\n\
+8613800000001,42,Li Lei,gold,36,199.5,1001,0.82\n";

/// A route with one extension per plugin behaviour under test. Each
/// answers, plays a short prompt and hangs up, and leaves in the call's
/// variables (so in its CDR) what the plugin said.
const ROUTE: &str = r#"
local function finish(call)
  call:answer()
  call:play("en/goodbye")
  call:hangup()
end

function route(call)
  local to = call.to:match("^sip:([^@]+)@") or call.to
  if to == "701" then
    local c = plugins.crm.lookup("+8613800000001")
    call:set_var("customer", c.name .. "/" .. c.plan .. "/" .. c.tenure_months)
    call:set_var("unknown", tostring(plugins.crm.lookup("+8613899999999")))
    call:set_var("count", tostring(plugins.crm.count()))
    return finish(call)
  elseif to == "702" then
    local ok, err = pcall(plugins.panicky.boom)
    call:set_var("plugin", ok and "ok" or tostring(err))
    return finish(call)
  elseif to == "703" then
    local ok, err = pcall(plugins.slow.wait)
    call:set_var("plugin", ok and "answered" or tostring(err))
    return finish(call)
  elseif to == "704" then
    call:answer()
    local before = plugins.crm.lookup("42")
    call:play("en/welcome")
    local after = plugins.crm.lookup("42")
    call:set_var("customer", before.name .. "|" .. after.name)
    call:play("en/goodbye")
    return call:hangup()
  end
  call:hangup("not_found")
end
"#;

/// A test's directory: the route script in `scripts/` and the CRM's
/// `customers.csv`.
fn fixtures() -> Scratch {
    let dir = scratch("waihu-plugin-fixtures");
    std::fs::create_dir(dir.join("scripts")).expect("scripts dir");
    std::fs::write(dir.join("scripts/route.lua"), ROUTE).expect("route.lua");
    std::fs::write(dir.join("customers.csv"), CUSTOMERS).expect("customers.csv");
    dir
}

/// A `plugins:` entry.
fn entry(name: &str, path: &Path, extra: &str) -> String {
    format!(
        "  - name: {name}\n    path: \"{}\"\n{extra}",
        path.display()
    )
}

fn crm_entry(name: &str, path: &Path, fixtures: &Path) -> String {
    entry(
        name,
        path,
        &format!(
            "    timeout_ms: 5000\n    config:\n      file: \"{}\"\n",
            fixtures.join("customers.csv").display()
        ),
    )
}

fn config(fixtures: &Path, plugins: &[String]) -> Config {
    Config {
        scripts_dir: fixtures.join("scripts"),
        extra_yaml: format!("plugins:\n{}", plugins.concat()),
        ..Config::default()
    }
}

fn call<'a>(extension: &str) -> Sipp<'a> {
    Sipp::new("call_playback.xml", Transport::Udp, extension)
        .credentials(
            ALICE.id,
            ALICE.password,
            &format!("sip:{extension}@{DOMAIN}"),
        )
        .media_port(sipp_media_port())
        .timeout_secs(30)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn plugin_status(server: &Server, name: &str) -> Value {
    let (status, body) = http_get(server.http, "/api/v1/plugins").expect("GET plugins");
    assert_eq!(status, 200, "{body}");
    json(&body)["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no plugin {name}: {body}"))
}

/// The CDRs of calls to `extension`, once there are `n`.
fn cdrs_to(server: &Server, extension: &str, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    server.wait_for(
        &format!("{n} CDRs of {extension}"),
        Duration::from_secs(15),
        |server| {
            let (_, body) = http_get(server.http, "/api/v1/cdrs?limit=100").expect("GET cdrs");
            found = json(&body)["cdrs"]
                .as_array()
                .expect("cdrs")
                .iter()
                .filter(|c| {
                    c["to"]
                        .as_str()
                        .is_some_and(|t| t.contains(&format!("sip:{extension}@")))
                })
                .cloned()
                .collect();
            found.len() >= n
        },
    );
    found
}

/// One sample of a labelled metric, e.g. `waihu_plugin_disabled{plugin="p"}`.
fn metric(server: &Server, sample: &str) -> f64 {
    let text = server.metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(sample).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {sample} in\n{text}"))
}

#[test]
fn waihu_check_loads_good_plugins_and_names_the_file_of_each_bad_one() {
    let crm = built("crm-csv");
    let wrong = built("waihu-test-plugin-wrong-abi");
    let none = built("waihu-test-plugin-no-entry");
    let dir = fixtures();
    let check_with = |plugins: &[String], more: &str| {
        let yaml = format!(
            "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  domain: {DOMAIN}\n  realm: {DOMAIN}\n\
             scripts:\n  dir: \"{}\"\nplugins:\n{}{more}",
            common::tests_dir("scripts/broadcast").display(),
            plugins.concat()
        );
        let file = dir.join(format!("{}.yaml", unique("w")));
        std::fs::write(&file, yaml).expect("config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_waihu"))
            .args(["check", "--config"])
            .arg(&file)
            .output()
            .expect("waihu check");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let check = |plugins: &[String]| check_with(plugins, "");
    let (ok, out, err) = check(&[crm_entry("crm", &crm, &dir)]);
    assert!(ok, "{err}");
    assert!(
        out.contains("ok: plugin crm: crm-csv 0.1.0 (lookup, lua; lua: lookup, count)"),
        "{out}"
    );
    let (ok, _, err) = check(&[
        crm_entry("crm", &crm, &dir),
        entry("wrong", &wrong, ""),
        entry("none", &none, ""),
    ]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "plugins: wrong: {}: built for plugin ABI version 999",
            wrong.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "plugins: none: {}: no `waihu_plugin_entry` symbol",
            none.display()
        )),
        "{err}"
    );
    // A campaign's detector must be a plugin that detects.
    let (ok, _, err) = check_with(
        &[crm_entry("crm", &crm, &dir)],
        "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: 5099\n\
         campaigns:\n  - name: notices\n    mode: broadcast\n    broadcast: notice\n    \
         trunk_group: carrier\n    max_lines: 2\n    amd: { action: hangup, detector: crm }\n",
    );
    assert!(!ok);
    assert!(
        err.contains(
            "campaigns: notices: amd.detector crm: the plugin has no answering-machine detector"
        ),
        "{err}"
    );
}

#[test]
fn a_route_script_reads_a_customer_through_the_crm_plugin() {
    let crm = built("crm-csv");
    // A plugin that does not load leaves the switch running without it.
    let wrong = built("waihu-test-plugin-wrong-abi");
    let dir = fixtures();
    let server = Server::start(&config(
        &dir,
        &[crm_entry("crm", &crm, &dir), entry("wrong", &wrong, "")],
    ));
    call("701").run(&server).assert_success("a call to 701");
    let cdr = &cdrs_to(&server, "701", 1)[0];
    assert_eq!(cdr["vars"]["customer"], "Li Lei/gold/36", "{cdr}");
    assert_eq!(cdr["vars"]["unknown"], "nil", "{cdr}");
    assert_eq!(cdr["vars"]["count"], "1", "{cdr}");
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");

    let wrong = plugin_status(&server, "wrong");
    assert_eq!(wrong["loaded"], false);
    assert!(
        wrong["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("ABI version 999")),
        "{wrong}"
    );
    let crm = plugin_status(&server, "crm");
    assert_eq!(crm["loaded"], true);
    assert_eq!(crm["calls"], 3);
    // The agent screen's lookup.
    let (status, body) =
        http_get(server.http, "/api/v1/customers/+8613800000001").expect("GET customer");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["customer"]["churn_score"], 0.82);
    let (status, _) = http_get(server.http, "/api/v1/customers/+1555").expect("GET customer");
    assert_eq!(status, 404);
    assert_eq!(metric(&server, "waihu_plugin_loaded{plugin=\"crm\"}"), 1.0);
    assert_eq!(
        metric(&server, "waihu_plugin_loaded{plugin=\"wrong\"}"),
        0.0
    );
    server.stop();
}

#[test]
fn a_panicking_plugin_is_counted_and_disabled_and_calls_go_on() {
    let panicky = built("waihu-test-plugin-panicky");
    let dir = fixtures();
    let server = Server::start(&config(
        &dir,
        &[entry(
            "panicky",
            &panicky,
            // A generous budget: this test is about panics, not time.
            "    max_failures: 2\n    timeout_ms: 5000\n",
        )],
    ));
    for _ in 0..3 {
        call("702").run(&server).assert_success("a call to 702");
    }
    let cdrs = cdrs_to(&server, "702", 3);
    for cdr in &cdrs {
        assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    }
    // The plugin is an event sink too, and panics on the first call's
    // "started" event as well as in its Lua function: two failures in a
    // row during the oldest call, which met the Lua panic; the two later
    // calls met a disabled plugin.
    let said: Vec<&str> = cdrs
        .iter()
        .map(|c| c["vars"]["plugin"].as_str().unwrap_or_default())
        .collect();
    assert!(
        said[2].contains("panicked: panic: panicky: lua_call"),
        "{said:?}"
    );
    assert!(said[1].contains("disabled"), "{said:?}");
    assert!(said[0].contains("disabled"), "{said:?}");
    let status = plugin_status(&server, "panicky");
    assert_eq!(status["disabled"], true, "{status}");
    assert_eq!(status["panics"], 2, "{status}");
    assert_eq!(
        metric(&server, "waihu_plugin_disabled{plugin=\"panicky\"}"),
        1.0
    );
    assert_eq!(
        metric(
            &server,
            "waihu_plugin_failures_total{plugin=\"panicky\",kind=\"panic\"}"
        ),
        2.0
    );
    assert!(
        server
            .log()
            .contains("plugin disabled after repeated failures"),
        "no log line for the disabling"
    );
    server.stop();
}

#[test]
fn a_slow_plugin_costs_a_call_its_budget_and_no_more() {
    let slow = built("waihu-test-plugin-slow");
    let dir = fixtures();
    let server = Server::start(&config(
        &dir,
        &[entry(
            "slow",
            &slow,
            "    timeout_ms: 100\n    max_failures: 100\n    config:\n      sleep_ms: 20000\n",
        )],
    ));
    // Were the budget not enforced, each call would wait 20 s for the
    // plugin and sipp (which waits 15 s for the switch's BYE) would fail.
    for _ in 0..2 {
        call("703").run(&server).assert_success("a call to 703");
    }
    for cdr in cdrs_to(&server, "703", 2) {
        let said = cdr["vars"]["plugin"].as_str().unwrap_or_default();
        assert!(said.contains("no answer within 100 ms"), "{cdr}");
    }
    let status = plugin_status(&server, "slow");
    assert_eq!(status["timeouts"], 2, "{status}");
    assert_eq!(status["disabled"], false, "{status}");
    server.stop();
}

#[test]
fn reloads_while_calls_are_in_progress_drop_no_call() {
    let built_crm = built("crm-csv");
    // The configured file is a copy, so the test can put a new build there.
    let dir = fixtures();
    let lib = dir.join("libcrm.so");
    std::fs::copy(&built_crm, &lib).expect("copy the plugin");
    let server = Server::start(&config(&dir, &[crm_entry("crm", &lib, &dir)]));
    let calls = call("704").calls(6).arg("-l").arg("6").spawn(&server);
    // Reload while the calls are up (each looks the customer up before
    // and after its prompt), three times.
    for n in 1..=3u64 {
        server.wait_for("a call in progress", Duration::from_secs(15), |s| {
            let (_, body) = http_get(s.http, "/api/v1/calls").expect("GET calls");
            json(&body)["calls"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        });
        let (status, body) =
            http_post(server.http, "/api/v1/plugins/crm/reload", "").expect("reload");
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["loaded"]["plugin"], "crm-csv");
        assert_eq!(plugin_status(&server, "crm")["reloads"], n);
    }
    calls.wait().assert_success("6 calls across 3 reloads");
    for cdr in cdrs_to(&server, "704", 6) {
        assert_eq!(cdr["vars"]["customer"], "Li Lei|Li Lei", "{cdr}");
        assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    }

    // A new build at the same path is what a reload loads (not a copy the
    // dynamic loader kept): here, another plugin altogether.
    std::fs::copy(built("waihu-test-plugin-panicky"), &lib).expect("replace the plugin");
    let (status, body) = http_post(server.http, "/api/v1/plugins/crm/reload", "").expect("reload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(plugin_status(&server, "crm")["plugin"], "panicky");
    // A file that does not load leaves the serving instance in place.
    std::fs::copy(built("waihu-test-plugin-wrong-abi"), &lib).expect("replace the plugin");
    let (status, body) = http_post(server.http, "/api/v1/plugins/crm/reload", "").expect("reload");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("ABI version 999"), "{body}");
    let status = plugin_status(&server, "crm");
    assert_eq!(
        (status["plugin"].as_str(), status["loaded"].as_bool()),
        (Some("panicky"), Some(true))
    );
    let (status, _) = http_post(server.http, "/api/v1/plugins/nobody/reload", "").expect("reload");
    assert_eq!(status, 404);
    // Each load mapped a private copy of the file; none is left behind.
    let prefix = format!("waihu-plugin-{}-", server.pid());
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "copies left in the temp dir: {left:?}");
    server.stop();
}

/// A broadcast campaign (no agents needed) dialling a sipp carrier, as in
/// `tests/dialer.rs`, with an events-jsonl plugin writing to `file`.
fn broadcast_with_events(carrier: u16, events: &Path, file: &Path) -> Config {
    Config {
        scripts_dir: common::tests_dir("scripts/broadcast"),
        extra_yaml: format!(
            "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: {carrier}\n    \
             acl: [\"192.0.2.1\"]\n    keepalive_s: 0\n    max_channels: 100\n    max_cps: 100\n\
             acd:\n  probe_interval_s: 0\n\
             campaigns:\n  - name: notices\n    mode: broadcast\n    broadcast: notice\n    \
             trunk_group: carrier\n    caller_id: \"+862150001234\"\n    ring_timeout_s: 5\n    \
             max_lines: 4\n    window: {{ days: {{ mon-sun: [\"00:00-24:00\"] }}, rest: [] }}\n    \
             import:\n      default_timezone: Asia/Shanghai\n\
             plugins:\n{}",
            entry(
                "warehouse",
                events,
                &format!(
                    "    config:\n      file: \"{}\"\n      flush: buffered\n",
                    file.display()
                )
            )
        ),
        ..Config::default()
    }
}

#[test]
fn events_jsonl_writes_agent_campaign_contact_and_call_events_and_flushes_on_stop() {
    let events = built("events-jsonl");
    let dir = scratch("waihu-events");
    let file = dir.join("events.jsonl");
    let port = common::free_port();
    let server = Server::start(&broadcast_with_events(port, &events, &file));
    let carrier = Sipp::new("carrier_dialer.xml", Transport::Udp, "carrier")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000_000)
        .timeout_secs(600)
        .spawn(&server);
    let (status, body) = http_post(server.http, "/api/v1/agents/1001/login", "").expect("login");
    assert_eq!(status, 200, "{body}");
    // Two contacts the carrier answers (their last digit tells it).
    common::campaign::import_csv(
        &server,
        "notices",
        "phone\n+8613800000006\n+8613800000019\n",
    );
    common::campaign::start(&server, "notices");
    server.wait_for("two finished attempts", Duration::from_secs(60), |s| {
        let (_, body) =
            http_get(s.http, "/api/v1/campaigns/notices/attempts?limit=100").expect("attempts");
        json(&body)["attempts"]
            .as_array()
            .is_some_and(|a| a.iter().filter(|a| !a["outcome"].is_null()).count() >= 2)
    });
    // An agent's disposition of one of them.
    let (_, body) =
        http_get(server.http, "/api/v1/campaigns/notices/attempts?limit=100").expect("attempts");
    let attempt = json(&body)["attempts"][0]["id"]
        .as_i64()
        .expect("attempt id");
    let (status, body) = http_post(
        server.http,
        &format!("/api/v1/attempts/{attempt}/disposition"),
        r#"{"disposition": "interested"}"#,
    )
    .expect("disposition");
    assert_eq!(status, 200, "{body}");
    // A list posted to the API whose only row is bad: nothing to dial,
    // one import event.
    let (status, body) = http_post(
        server.http,
        "/api/v1/campaigns/notices/contacts",
        "phone\nnot-a-number\n",
    )
    .expect("import");
    assert_eq!(status, 200, "{body}");
    // And an inbound call: Alice dials the playback extension.
    Sipp::new("call_playback.xml", Transport::Udp, "601")
        .credentials(ALICE.id, ALICE.password, &format!("sip:601@{DOMAIN}"))
        .media_port(sipp_media_port())
        .timeout_secs(30)
        .run(&server)
        .assert_success("a call to 601");
    let queued = plugin_status(&server, "warehouse")["events_queued"]
        .as_u64()
        .expect("events_queued");
    carrier.kill();
    // Buffered: the lines reach the file when the plugin is freed at stop.
    server.stop();
    let text = std::fs::read_to_string(&file).expect("the events file");
    let lines: Vec<Value> = text.lines().map(json).collect();
    assert!(
        lines.len() as u64 >= queued,
        "{} lines, {queued} queued",
        lines.len()
    );
    let has = |pred: &dyn Fn(&Value) -> bool, what: &str| {
        assert!(lines.iter().any(pred), "no {what} event in\n{text}");
    };
    has(
        &|e| e["kind"] == "agent" && e["agent"] == "1001" && e["to"] == "ready",
        "agent login",
    );
    has(
        &|e| e["kind"] == "campaign" && e["campaign"] == "notices" && e["state"] == "running",
        "campaign running",
    );
    for phone in ["+8613800000006", "+8613800000019"] {
        has(
            &|e| e["kind"] == "contact" && e["phone"] == phone && e["event"] == "dialled",
            "contact dialled",
        );
        has(
            &|e| {
                e["kind"] == "contact"
                    && e["phone"] == phone
                    && e["event"] == "attempt_ended"
                    && e["outcome"] == "answered"
            },
            "contact attempt ended",
        );
    }
    has(
        &|e| {
            e["kind"] == "contact"
                && e["attempt_id"] == attempt
                && e["event"] == "disposition"
                && e["outcome"] == "interested"
        },
        "contact disposition",
    );
    has(
        &|e| e["kind"] == "import" && e["campaign"] == "notices" && e["bad"] == 1,
        "list import",
    );
    // Two campaign calls (told by the dialer) and the inbound one (told
    // by its call task).
    for event in ["started", "answered", "ended"] {
        let n = lines
            .iter()
            .filter(|e| e["kind"] == "call" && e["event"] == event)
            .count();
        assert_eq!(n, 3, "call {event} events in\n{text}");
    }
    has(
        &|e| {
            e["kind"] == "call"
                && e["event"] == "started"
                && e["to"].as_str().is_some_and(|t| t.contains("601"))
                && e["campaign"].is_null()
        },
        "inbound call started",
    );
    // Every line is one event with its time.
    assert!(
        lines
            .iter()
            .all(|e| e["at_ms"].as_i64().is_some_and(|t| t > 0))
    );
}

/// A callee sipp that answers and plays `clip` (a file of tests/amd/clips)
/// as its RTP, then waits for the switch's BYE.
fn greeting_callee(server: &Server, port: u16, clip: &str) -> common::sipp::Running {
    let samples =
        common::audio::read_wav_8k(&common::tests_dir("amd/clips").join(clip)).expect("clip");
    let pcap = server.dir.join(format!("{clip}.pcap"));
    common::audio::write_rtp_pcap(&pcap, &samples).expect("pcap");
    Sipp::new("callee_greeting.xml", Transport::Udp, "customer")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000)
        .key("greeting", pcap.to_str().expect("path"))
        .timeout_secs(120)
        .spawn(server)
}

/// A broadcast campaign with `amd.detector` naming plugin `detector`.
fn broadcast_with_detector(carrier: u16, plugins: &[String], detector: &str) -> Config {
    Config {
        scripts_dir: common::tests_dir("scripts/broadcast"),
        extra_yaml: format!(
            "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: {carrier}\n    \
             acl: [\"192.0.2.1\"]\n    keepalive_s: 0\n    max_channels: 100\n    max_cps: 100\n\
             acd:\n  probe_interval_s: 0\n\
             campaigns:\n  - name: notices\n    mode: broadcast\n    broadcast: notice\n    \
             trunk_group: carrier\n    caller_id: \"+862150001234\"\n    ring_timeout_s: 5\n    \
             max_lines: 4\n    window: {{ days: {{ mon-sun: [\"00:00-24:00\"] }}, rest: [] }}\n    \
             amd: {{ action: hangup, detector: {detector} }}\n    \
             import:\n      default_timezone: Asia/Shanghai\n\
             plugins:\n{}",
            plugins.concat()
        ),
        ..Config::default()
    }
}

/// Imports `phones` into `notices`, starts it, and returns the attempts
/// once all have an outcome.
fn run_notices(server: &Server, phones: &[&str]) -> Vec<Value> {
    common::campaign::import_csv(
        server,
        "notices",
        &format!("phone\n{}\n", phones.join("\n")),
    );
    common::campaign::start(server, "notices");
    let mut done = Vec::new();
    server.wait_for("finished attempts", Duration::from_secs(60), |s| {
        let (_, body) =
            http_get(s.http, "/api/v1/campaigns/notices/attempts?limit=100").expect("attempts");
        done = json(&body)["attempts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !a["outcome"].is_null())
            .collect();
        done.len() >= phones.len()
    });
    done
}

#[test]
fn a_campaign_detector_plugin_decides_instead_of_the_built_in_one() {
    let fixed = built("waihu-test-plugin-fixed-amd");
    let port = common::free_port();
    // The plugin calls a person's "喂?" a machine: only it would.
    let server = Server::start(&broadcast_with_detector(
        port,
        &[entry(
            "fixed",
            &fixed,
            "    config:\n      verdict: machine\n      after_ms: 300\n",
        )],
        "fixed",
    ));
    let callee = greeting_callee(&server, port, "h01_zh_wei.wav");
    let attempts = run_notices(&server, &["+8613800000006"]);
    callee.kill();
    assert_eq!(attempts[0]["outcome"], "machine", "{}", attempts[0]);
    let status = plugin_status(&server, "fixed");
    assert!(status["calls"].as_u64().is_some_and(|n| n >= 2), "{status}");
    assert_eq!(status["errors"], 0, "{status}");
    server.stop();
}

#[test]
fn a_detector_plugin_that_fails_leaves_the_call_to_the_built_in_detector() {
    let panicky = built("waihu-test-plugin-panicky");
    let port = common::free_port();
    let server = Server::start(&broadcast_with_detector(
        port,
        &[entry("panicky", &panicky, "")],
        "panicky",
    ));
    // A person: the built-in detector hears "喂?" and a pause.
    let callee = greeting_callee(&server, port, "h01_zh_wei.wav");
    let attempts = run_notices(&server, &["+8613800000006"]);
    callee.kill();
    let a = &attempts[0];
    assert_eq!(a["outcome"], "answered", "{a}");
    let detail: Value = json(a["detail"].as_str().expect("detail"));
    assert_eq!(detail["amd"], "human", "{detail}");
    // (It panics on the events it is sent too: more than once in all.)
    assert!(
        server
            .log()
            .contains("no plugin detector for this call; the built-in one listens"),
        "the fallback was not logged"
    );
    server.stop();
}

/// Rules that ask the CRM plugin: a contact likely to leave is previewed
/// by an agent; a gold customer is offered a loyalty discount on what the
/// CRM says they spend.
const RULES: &str = r#"
function campaign.select_mode(contact)
  local c = plugins.crm and plugins.crm.lookup(contact.phone)
  if c ~= nil and c.churn_score > 0.7 then
    return { mode = "preview", priority = 90, agent = c.last_agent }
  end
  return { mode = "predictive", priority = 10 }
end

function retention.offers(customer)
  local c = plugins.crm.lookup(customer.phone)
  if c == nil then return {} end
  if c.plan == "gold" then
    return { { code = "GOLD_KEEP", text = c.name, price = c.monthly_spend * 0.8 } }
  end
  return {}
end
"#;

#[test]
fn campaign_and_retention_rules_read_the_customer_from_the_crm_plugin() {
    let crm = built("crm-csv");
    let dir = fixtures();
    let mut c = config(&dir, &[crm_entry("crm", &crm, &dir)]);
    std::fs::write(c.scripts_dir.join("rules.lua"), RULES).expect("rules.lua");
    c.scripts_watch = false;
    let server = Server::start(&c);
    let try_hook = |hook: &str, body: &str| {
        let (status, body) =
            http_post(server.http, &format!("/api/v1/scripts/try/{hook}"), body).expect("try");
        assert_eq!(status, 200, "{body}");
        json(&body)["result"].clone()
    };
    let known = r#"{"contact": {"id": 42, "phone": "+8613800000001"}}"#;
    let mode = try_hook("campaign.select_mode", known);
    assert_eq!(mode["mode"], "preview", "{mode}");
    assert_eq!(mode["agent"], "1001", "{mode}");
    let stranger = r#"{"contact": {"id": 7, "phone": "+8613800000007"}}"#;
    assert_eq!(
        try_hook("campaign.select_mode", stranger)["mode"],
        "predictive"
    );
    let offers = try_hook(
        "retention.offers",
        r#"{"customer": {"id": 42, "phone": "+8613800000001"}}"#,
    );
    assert_eq!(offers[0]["code"], "GOLD_KEEP", "{offers}");
    assert_eq!(offers[0]["text"], "Li Lei", "{offers}");
    assert_eq!(offers[0]["price"], 199.5 * 0.8, "{offers}");
    server.stop();
}

#[test]
fn an_agent_previewing_a_contact_sees_the_customer_from_the_crm_plugin() {
    let crm = built("crm-csv");
    let dir = fixtures();
    let server = Server::start(&Config {
        outbound_agents: vec![ALICE.id],
        extra_yaml: format!(
            "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: {}\n    \
             acl: [\"192.0.2.1\"]\n    keepalive_s: 0\n\
             acd:\n  probe_interval_s: 0\n\
             queues:\n  - name: outbound\n    members: [\"{}\"]\n\
             campaigns:\n  - name: winback\n    mode: preview\n    select_mode: false\n    \
             trunk_group: carrier\n    queue: outbound\n    max_lines: 2\n    \
             window: {{ days: {{ mon-sun: [\"00:00-24:00\"] }}, rest: [] }}\n    \
             import:\n      default_timezone: Asia/Shanghai\n\
             plugins:\n{}",
            common::free_port(),
            ALICE.id,
            crm_entry("crm", &crm, &dir)
        ),
        ..Config::default()
    });
    let (status, body) = http_post(server.http, "/api/v1/agents/1001/login", "").expect("login");
    assert_eq!(status, 200, "{body}");
    common::campaign::import_csv(&server, "winback", "phone\n+8613800000001\n");
    common::campaign::start(&server, "winback");
    let mut preview = Value::Null;
    server.wait_for("a contact to preview", Duration::from_secs(20), |s| {
        let (status, body) = http_post(s.http, "/api/v1/agents/1001/preview", "").expect("preview");
        preview = serde_json::from_str(&body).unwrap_or(Value::Null);
        status == 200
    });
    assert_eq!(preview["contact"]["phone"], "+8613800000001", "{preview}");
    assert_eq!(preview["customer"]["name"], "Li Lei", "{preview}");
    assert_eq!(preview["customer"]["churn_score"], 0.82, "{preview}");
    server.stop();
}
