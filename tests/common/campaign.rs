//! Campaign tests' shared set-up: a switch with a trunk to a sipp carrier
//! (its answer depends on the number's last digit, see
//! `sipp/carrier_dialer.xml`), a queue of auto-answering sipp agent
//! phones, contact lists imported with the CLI, and the API calls that
//! start a campaign and read its attempts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use super::sip::Transport;
use super::sipp::{Running, Sipp};
use super::{ALICE, Agent, BOB, Config, Server, http_get, http_post, register_at, sipp_media_port};

/// The campaign every test config defines.
pub const CAMPAIGN: &str = "renewals";

/// The number of the `i`th test contact: +86 138 0000 0ii (its last digit
/// tells the carrier what to do).
pub fn number(i: u32) -> String {
    format!("+861380000{i:04}")
}

/// A trunk to the carrier, the queue of the campaign's agents, and the
/// campaign (open all day unless `window` says otherwise). Its agents'
/// phones answer by themselves and nobody records dispositions, so the
/// wrap-up is not held for them (`disposition_required: false`).
pub fn config(carrier: u16, window: &str, db: Option<std::path::PathBuf>) -> Config {
    Config {
        agents: vec![ALICE, BOB],
        outbound_agents: vec![ALICE.id, BOB.id],
        db,
        extra_yaml: format!(
            "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: {carrier}\n    \
             acl: [\"192.0.2.1\"]\n    keepalive_s: 0\n    max_channels: 100\n    max_cps: 100\n\
             acd:\n  probe_interval_s: 0\n\
             queues:\n  - name: outbound\n    members: [\"{}\", \"{}\"]\n    ring_timeout_s: 5\n    \
             max_no_answer: 0\n    announce_every_s: 0\n\
             campaigns:\n  - name: {CAMPAIGN}\n    mode: predictive\n    trunk_group: carrier\n    \
             caller_id: \"+862150001234\"\n    queue: outbound\n    ring_timeout_s: 5\n    \
             max_lines: 12\n    disposition_required: false\n    {window}\n    import:\n      default_timezone: Asia/Shanghai\n",
            ALICE.id, BOB.id
        ),
        ..Config::default()
    }
}

pub const ALWAYS: &str = "window: { days: { mon-sun: [\"00:00-24:00\"] }, rest: [] }";

/// The carrier: answers every call the switch makes until killed.
pub fn carrier(server: &Server, port: u16) -> Running {
    Sipp::new("carrier_dialer.xml", Transport::Udp, "carrier")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000_000)
        .timeout_secs(600)
        .spawn(server)
}

/// An agent's auto-answering phone, registered and the agent Ready.
pub fn agent_phone(server: &Server, agent: &Agent, talk_ms: u32) -> Running {
    let port = super::free_port();
    let running = Sipp::new("agent_uas_auto.xml", Transport::Udp, "phone")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000_000)
        .arg("-d")
        .arg(&talk_ms.to_string())
        .timeout_secs(600)
        .spawn(server);
    register_at(server, agent, SocketAddr::from(([127, 0, 0, 1], port)));
    let path = format!("/api/v1/agents/{}/login", agent.id);
    let (status, body) = http_post(server.http, &path, "").expect("login");
    assert_eq!(status, 200, "{body}");
    running
}

/// Writes a contact list and imports it with the CLI.
pub fn import(server: &Server, name: &str, rows: &[(String, Option<String>)]) -> String {
    let mut csv = String::from("phone,timezone,name\n");
    for (i, (phone, tz)) in rows.iter().enumerate() {
        csv.push_str(&format!(
            "{phone},{},客户{i}\n",
            tz.clone().unwrap_or_default()
        ));
    }
    let file = server.dir.join(format!("{name}.csv"));
    std::fs::write(&file, csv).expect("writing the list");
    let (ok, out, err) = server.cli(&["campaign", "import", name, file.to_str().expect("path")]);
    assert!(ok, "import failed: {err}");
    out
}

/// Writes `csv` (a whole list, header first) and imports it into
/// `campaign` with the CLI.
pub fn import_csv(server: &Server, campaign: &str, csv: &str) {
    let file = server.dir.join(format!("{}.csv", super::unique(campaign)));
    std::fs::write(&file, csv).expect("writing the list");
    let (ok, _, err) = server.cli(&["campaign", "import", campaign, file.to_str().expect("path")]);
    assert!(ok, "import failed: {err}");
}

pub fn get(server: &Server, path: &str) -> Value {
    let (status, body) = http_get(server.http, path).expect("GET");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("json")
}

pub fn start(server: &Server, campaign: &str) {
    let path = format!("/api/v1/campaigns/{campaign}/start");
    let (status, body) = http_post(server.http, &path, "").expect("start");
    assert_eq!(status, 200, "{body}");
}

/// Attempts with an outcome, once there are at least `n`.
pub fn wait_outcomes(server: &Server, campaign: &str, n: usize, secs: u64) -> Vec<Value> {
    let mut done = Vec::new();
    server.wait_for(
        &format!("{n} finished attempts"),
        Duration::from_secs(secs),
        |s| {
            let json = get(
                s,
                &format!("/api/v1/campaigns/{campaign}/attempts?limit=10000"),
            );
            done = json["attempts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|a| !a["outcome"].is_null())
                .collect();
            done.len() >= n
        },
    );
    done
}

/// INVITEs the carrier received: Call-IDs per dialled number.
pub fn carrier_invites(messages: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for block in messages.split("INVITE sip:").skip(1) {
        let Some(number) = block.split('@').next() else {
            continue;
        };
        let call_id = block
            .lines()
            .find_map(|l| {
                l.strip_prefix("Call-ID:")
                    .or_else(|| l.strip_prefix("Call-Id:"))
                    .or_else(|| l.strip_prefix("i:"))
            })
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        out.entry(number.to_owned()).or_default().insert(call_id);
    }
    out
}

/// A broadcast campaign running `broadcast.FLOW` of tests/scripts/broadcast,
/// with `extra` (a line of campaign YAML, or nothing).
pub fn broadcast_config(port: u16, flow: &str, extra: &str) -> Config {
    let mut c = config(port, ALWAYS, None);
    c.scripts_dir = super::tests_dir("scripts/broadcast");
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("    {extra}\n")
    };
    c.extra_yaml = c.extra_yaml.replace(
        "mode: predictive\n",
        &format!("mode: broadcast\n    broadcast: {flow}\n{extra}"),
    );
    c
}

pub fn post_json(server: &Server, path: &str, body: &str) -> (u16, Value) {
    let (status, body) = http_post(server.http, path, body).expect("POST");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}
