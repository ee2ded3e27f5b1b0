//! The agent desktop's API through the running binary: a predictive
//! campaign with the haoyun agent script, sipp as the carrier (numbers
//! ending in 6 answer and stay up until the switch hangs up) and as the
//! agents' auto-answering phones (talking long enough for the test to act
//! during the call).

mod common;

use std::time::Duration;

use common::campaign::*;
use common::sip::Transport;
use common::sipp::Sipp;
use common::{
    ALICE, Agent, BOB, Config, Server, http_get, http_post, http_request, sipp_media_port,
};
use serde_json::Value;

/// Alice alone takes the campaign's calls (queue `outbound`); Bob is the
/// `backoffice` queue. The campaign shows the haoyun script and holds the
/// wrap-up for the disposition; `wrapup_s` is the queue's wrap-up time.
fn desktop_config(carrier: u16, wrapup_s: u32) -> Config {
    let mut c = config(carrier, ALWAYS, None);
    c.extra_yaml = c
        .extra_yaml
        .replace(
            &format!("members: [\"{}\", \"{}\"]", ALICE.id, BOB.id),
            &format!("members: [\"{}\"]\n    wrapup_s: {wrapup_s}", ALICE.id),
        )
        .replace(
            "campaigns:\n",
            &format!(
                "  - name: backoffice\n    members: [\"{}\"]\n    ring_timeout_s: 5\n    \
                 max_no_answer: 0\n    announce_every_s: 0\ncampaigns:\n",
                BOB.id
            ),
        )
        .replace(
            "disposition_required: false\n",
            "disposition_required: true\n    agent_script: haoyun\n",
        );
    assert!(
        c.extra_yaml.contains("agent_script: haoyun"),
        "{}",
        c.extra_yaml
    );
    assert!(
        c.extra_yaml.contains("name: backoffice"),
        "{}",
        c.extra_yaml
    );
    c
}

/// One customer who answers (a number ending in 6), with the figures
/// `retention.offers` reads: long tenure, high churn, low spend.
fn import_customer(server: &Server) -> String {
    let phone = number(6);
    import_csv(
        server,
        CAMPAIGN,
        &format!(
            "phone,timezone,name,tenure_months,monthly_spend,churn_score\n\
             {phone},,王先生,48,40,0.8\n"
        ),
    );
    phone
}

fn desktop(server: &Server, agent: &str) -> Value {
    get(server, &format!("/api/v1/agents/{agent}/desktop"))
}

fn agent_state(server: &Server, agent: &str) -> String {
    get(server, &format!("/api/v1/agents/{agent}"))["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn wait_state(server: &Server, agent: &str, state: &str, secs: u64) {
    server.wait_for(
        &format!("agent {agent} {state}"),
        Duration::from_secs(secs),
        |s| agent_state(s, agent) == state,
    );
}

fn attempts(server: &Server) -> Vec<Value> {
    get(
        server,
        &format!("/api/v1/campaigns/{CAMPAIGN}/attempts?limit=100"),
    )["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn step(server: &Server, attempt: i64, node: &str, choice: i64) -> (u16, Value) {
    post_json(
        server,
        &format!("/api/v1/attempts/{attempt}/script"),
        &format!(r#"{{"node":"{node}","choice":{choice}}}"#),
    )
}

/// The agent's own session token (role `agent`), as the desktop has it.
fn login(server: &Server, agent: &Agent) -> String {
    let body = format!(
        r#"{{"user":"{}","password":"{}"}}"#,
        agent.id, agent.password
    );
    let reply =
        http_request(server.http, "POST", "/api/v1/login", &[], Some(&body)).expect("login");
    assert_eq!(reply.status, 200, "login: {}", reply.body);
    reply.json()["token"].as_str().expect("token").to_owned()
}

/// A request with `token`: the status and the JSON body.
fn as_agent(server: &Server, token: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let body = (method != "GET").then_some(body);
    let reply = http_request(server.http, method, path, &[("Authorization", &auth)], body)
        .expect("request");
    (
        reply.status,
        serde_json::from_str(&reply.body).unwrap_or(Value::Null),
    )
}

/// BYEs in a sipp message log (requests, not the CSeq lines of answers).
fn byes(messages: &str) -> usize {
    messages
        .lines()
        .filter(|l| l.trim_start().starts_with("BYE sip:"))
        .count()
}

#[test]
fn the_desktop_shows_the_call_records_the_script_and_holds_wrap_up_until_the_disposition() {
    let port = common::free_port();
    let server = Server::start(&desktop_config(port, 1));
    let carrier = carrier(&server, port);
    // Alice talks for up to a minute: the test hangs up first.
    let alice = agent_phone(&server, &ALICE, 60_000);
    let phone = import_customer(&server);

    // Nothing on screen before the call.
    let idle = desktop(&server, ALICE.id);
    assert_eq!(idle["agent"]["state"], "ready", "{idle}");
    assert!(idle["call"].is_null(), "{idle}");
    assert!(idle["wrap_up"].is_null(), "{idle}");

    start(&server, CAMPAIGN);
    wait_state(&server, ALICE.id, "on_call", 30);

    // The customer's record pops: contact, script rendered with their
    // name and number, and the retention offers picked for them.
    let screen = desktop(&server, ALICE.id);
    let call = &screen["call"];
    assert_eq!(call["direction"], "outbound", "{screen}");
    assert_eq!(call["campaign"], CAMPAIGN);
    assert_eq!(call["queue"], "outbound");
    assert!(call["answered_at_ms"].as_i64().is_some(), "{screen}");
    let attempt = call["attempt_id"].as_i64().expect("attempt_id");
    assert_eq!(call["contact"]["phone"], phone.as_str());
    assert_eq!(call["contact"]["name"], "王先生");
    assert_eq!(call["contact"]["fields"]["tenure_months"], "48");
    assert_eq!(call["script"]["name"], "haoyun", "{screen}");
    assert_eq!(call["script"]["start"], "greet");
    let greet = call["script"]["nodes"]["greet"]["say"]
        .as_str()
        .expect("greet");
    assert!(
        greet.contains("王先生") && greet.contains(&phone) && !greet.contains("{name}"),
        "{greet}"
    );
    assert_eq!(call["node"], "greet");
    assert!(call["path"].as_array().expect("path").is_empty());
    let codes: Vec<&str> = call["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .filter_map(|o| o["code"].as_str())
        .collect();
    assert_eq!(codes, ["LOYALTY_15OFF", "BILL_CREDIT_30"], "{screen}");
    assert!(screen["wrap_up"].is_null(), "{screen}");
    // The call id is the attempt's.
    let listed = attempts(&server);
    assert_eq!(listed[0]["call_id"], call["call_id"], "{listed:?}");

    // Alice's desktop, with her own login, shows the same; Bob may not
    // read it, nor click in her call's script.
    let alice_token = login(&server, &ALICE);
    let bob_token = login(&server, &BOB);
    let mine = format!("/api/v1/agents/{}/desktop", ALICE.id);
    let (status, own) = as_agent(&server, &alice_token, "GET", &mine, "");
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["call"]["attempt_id"], attempt, "{own}");
    assert_eq!(as_agent(&server, &bob_token, "GET", &mine, "").0, 403);
    let script = format!("/api/v1/attempts/{attempt}/script");
    let click = |node: &str, choice: i64| format!(r#"{{"node":"{node}","choice":{choice}}}"#);
    let (status, body) = as_agent(&server, &bob_token, "POST", &script, &click("greet", 0));
    assert_eq!(status, 403, "{body}");

    // The agent clicks through the script: greet -> offer -> retain.
    let (status, body) = as_agent(&server, &alice_token, "POST", &script, &click("greet", 0));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["node"], "offer", "{body}");
    // A click on a node the script is not at is refused, and so is an
    // option the node does not have; neither is recorded.
    let (status, body) = step(&server, attempt, "greet", 1);
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().expect("error").contains("offer"),
        "{body}"
    );
    let (status, body) = step(&server, attempt, "offer", 7);
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/attempts/{attempt}/script"),
        r#"{"node":"offer"}"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = as_agent(&server, &alice_token, "POST", &script, &click("offer", 1));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["node"], "retain");
    let path = body["path"].as_array().expect("path");
    assert_eq!(path.len(), 2, "{body}");
    assert_eq!(path[1]["node"], "offer");
    assert_eq!(path[1]["choice"], 1);
    assert_eq!(path[1]["next"], "retain");
    assert_eq!(desktop(&server, ALICE.id)["call"]["node"], "retain");

    // Hang up from the API: both legs get a BYE from the switch.
    let (status, body) = post_json(&server, &format!("/api/v1/agents/{}/hangup", ALICE.id), "");
    assert_eq!(status, 200, "{body}");
    let done = wait_outcomes(&server, CAMPAIGN, 1, 20);
    assert_eq!(done[0]["outcome"], "answered", "{done:?}");
    assert_eq!(done[0]["agent"], ALICE.id);
    server.wait_for("no call left", Duration::from_secs(10), |s| {
        get(s, "/api/v1/calls")["calls"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });

    // Wrap-up, held: the record stays on screen, Ready is refused, and
    // the queue's 1 s wrap-up time passes without freeing the agent.
    let screen = desktop(&server, ALICE.id);
    assert_eq!(screen["agent"]["state"], "wrap_up", "{screen}");
    assert_eq!(screen["wrap_up"]["needs_disposition"], true, "{screen}");
    assert_eq!(screen["wrap_up"]["attempt_id"], attempt);
    assert!(screen["wrap_up"]["until_ms"].is_null(), "{screen}");
    assert_eq!(screen["call"]["attempt_id"], attempt, "{screen}");
    assert_eq!(screen["call"]["node"], "retain");
    let (status, body) = post_json(&server, &format!("/api/v1/agents/{}/ready", ALICE.id), "");
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("disposition"),
        "{body}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(agent_state(&server, ALICE.id), "wrap_up");

    // The path is on the attempt's record.
    let record = attempts(&server)
        .into_iter()
        .find(|a| a["id"] == attempt)
        .expect("attempt");
    let nodes: Vec<&str> = record["script_path"]
        .as_array()
        .expect("script_path")
        .iter()
        .filter_map(|s| s["next"].as_str())
        .collect();
    assert_eq!(nodes, ["offer", "retain"], "{record}");

    // Alice's disposition ends the wrap-up (its time has passed: at once).
    let (status, body) = as_agent(
        &server,
        &alice_token,
        "POST",
        &format!("/api/v1/attempts/{attempt}/disposition"),
        r#"{"disposition":"declined"}"#,
    );
    assert_eq!(status, 200, "{body}");
    wait_state(&server, ALICE.id, "ready", 5);
    assert!(desktop(&server, ALICE.id)["call"].is_null());
    // No more steps once the disposition is in.
    let (status, body) = step(&server, attempt, "retain", 0);
    assert_eq!(status, 409, "{body}");

    // Neither the carrier (for a number ending in 6) nor Alice's phone
    // (talking a minute) hangs up by itself: their BYEs are the switch's.
    let carrier_log = carrier.kill().messages;
    let alice_log = alice.kill().messages;
    assert_eq!(byes(&carrier_log), 1, "the carrier's BYEs:\n{carrier_log}");
    assert_eq!(byes(&alice_log), 1, "Alice's phone's BYEs:\n{alice_log}");
    server.stop();
}

#[test]
fn a_call_transferred_to_a_queue_reaches_its_agent_and_both_agents_wait_for_the_disposition() {
    let port = common::free_port();
    let server = Server::start(&desktop_config(port, 0));
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 60_000);
    // Bob's phone talks 2 s, then hangs up.
    let bob = agent_phone(&server, &BOB, 2_000);
    import_customer(&server);
    start(&server, CAMPAIGN);
    wait_state(&server, ALICE.id, "on_call", 30);
    let call_id = desktop(&server, ALICE.id)["call"]["call_id"]
        .as_str()
        .expect("call_id")
        .to_owned();

    // Bad targets are refused before anything happens to the call.
    let path = format!("/api/v1/agents/{}/transfer", ALICE.id);
    let (status, body) = post_json(&server, &path, r#"{"to":"queue:nosuch"}"#);
    assert_eq!(status, 404, "{body}");
    let (status, body) = post_json(&server, &path, r#"{"to":"1002"}"#);
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_json(&server, &path, r#"{"to":"agent:9999"}"#);
    assert_eq!(status, 404, "{body}");
    assert_eq!(agent_state(&server, ALICE.id), "on_call");

    let (status, body) = post_json(&server, &path, r#"{"to":"queue:backoffice"}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["type"], "transferred", "{body}");
    // Bob takes the same call from his queue.
    wait_state(&server, BOB.id, "on_call", 15);
    let bob_screen = desktop(&server, BOB.id);
    assert_eq!(
        bob_screen["call"]["call_id"],
        call_id.as_str(),
        "{bob_screen}"
    );
    assert_eq!(bob_screen["call"]["queue"], "backoffice");
    assert_eq!(bob_screen["call"]["contact"]["name"], "王先生");
    // Alice is out of the call, wrapping up until the disposition.
    let alice_screen = desktop(&server, ALICE.id);
    assert_eq!(alice_screen["agent"]["state"], "wrap_up", "{alice_screen}");
    assert_eq!(alice_screen["wrap_up"]["needs_disposition"], true);

    // Bob hangs up: the attempt ends with him as its agent, and he waits
    // for the disposition too.
    let done = wait_outcomes(&server, CAMPAIGN, 1, 20);
    assert_eq!(done[0]["outcome"], "answered", "{done:?}");
    assert_eq!(done[0]["agent"], BOB.id, "{done:?}");
    wait_state(&server, BOB.id, "wrap_up", 5);
    assert_eq!(
        desktop(&server, BOB.id)["wrap_up"]["needs_disposition"],
        true
    );
    let attempt = done[0]["id"].as_i64().expect("id");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/attempts/{attempt}/disposition"),
        r#"{"disposition":"interested"}"#,
    );
    assert_eq!(status, 200, "{body}");
    wait_state(&server, ALICE.id, "ready", 5);
    wait_state(&server, BOB.id, "ready", 5);

    carrier.kill();
    alice.kill();
    let bob_log = bob.kill().messages;
    assert!(
        bob_log.contains("INVITE sip:"),
        "Bob's phone was not rung:\n{bob_log}"
    );
    server.stop();
}

#[test]
fn a_call_transferred_to_an_agent_is_offered_to_that_agent_through_the_acd() {
    let port = common::free_port();
    let server = Server::start(&desktop_config(port, 0));
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 60_000);
    let bob = agent_phone(&server, &BOB, 1_500);
    // Bob is busy at first: the call waits for him, not for anyone else.
    let (status, _) = post_json(&server, &format!("/api/v1/agents/{}/pause", BOB.id), "");
    assert_eq!(status, 200);
    import_customer(&server);
    start(&server, CAMPAIGN);
    wait_state(&server, ALICE.id, "on_call", 30);
    let call_id = desktop(&server, ALICE.id)["call"]["call_id"]
        .as_str()
        .expect("call_id")
        .to_owned();
    let path = format!("/api/v1/agents/{}/transfer", ALICE.id);
    let (status, body) = post_json(&server, &path, &format!(r#"{{"to":"agent:{}"}}"#, ALICE.id));
    assert_eq!(status, 409, "{body}");
    let (status, body) = post_json(&server, &path, &format!(r#"{{"to":"agent:{}"}}"#, BOB.id));
    assert_eq!(status, 200, "{body}");
    // Alice is out of the call at once; the customer waits for Bob.
    wait_state(&server, ALICE.id, "wrap_up", 5);
    let queues = get(&server, "/api/v1/queues");
    let waiting: u64 = queues["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(|q| q["waiting"].as_u64())
        .sum();
    assert_eq!(waiting, 1, "{queues}");
    assert_eq!(agent_state(&server, BOB.id), "paused");
    let (status, _) = post_json(&server, &format!("/api/v1/agents/{}/ready", BOB.id), "");
    assert_eq!(status, 200);
    // The ACD offers it to Bob, follows him on the call, and the attempt
    // ends with him as its agent, both agents waiting for the disposition.
    wait_state(&server, BOB.id, "on_call", 15);
    assert_eq!(
        desktop(&server, BOB.id)["call"]["call_id"],
        call_id.as_str()
    );
    let done = wait_outcomes(&server, CAMPAIGN, 1, 20);
    assert_eq!(done[0]["outcome"], "answered", "{done:?}");
    assert_eq!(done[0]["agent"], BOB.id, "{done:?}");
    wait_state(&server, BOB.id, "wrap_up", 5);
    let attempt = done[0]["id"].as_i64().expect("id");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/attempts/{attempt}/disposition"),
        r#"{"disposition":"success"}"#,
    );
    assert_eq!(status, 200, "{body}");
    wait_state(&server, ALICE.id, "ready", 5);
    wait_state(&server, BOB.id, "ready", 5);
    let carrier_log = carrier.kill().messages;
    alice.kill();
    let bob_log = bob.kill().messages;
    assert!(
        bob_log.contains("INVITE sip:"),
        "Bob's phone was not rung:\n{bob_log}"
    );
    // Bob hung up (his BYE), and the switch then hung up the customer.
    assert!(byes(&bob_log) >= 1, "{bob_log}");
    assert_eq!(byes(&carrier_log), 1, "{carrier_log}");
    server.stop();
}

#[test]
fn an_inbound_queue_call_shows_without_a_campaign_and_wraps_up_for_the_queue_time_alone() {
    let carrier = common::free_port();
    let server = Server::start(&Config {
        extra_yaml: format!(
            "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: {carrier}\n    \
             acl: [\"127.0.0.1\"]\n    keepalive_s: 0\n\
             acd:\n  probe_interval_s: 0\n\
             queues:\n  - name: support\n    members: [\"{}\"]\n    wrapup_s: 2\n    \
             announce_every_s: 0\n",
            ALICE.id
        ),
        ..Config::default()
    });
    let alice = agent_phone(&server, &ALICE, 60_000);
    // A customer calls the queue's number (500) and stays until hung up.
    let caller = Sipp::new("queue_caller_bye.xml", Transport::Udp, "500")
        .media_port(sipp_media_port())
        .timeout_secs(60)
        .spawn(&server);
    wait_state(&server, ALICE.id, "on_call", 20);
    let screen = desktop(&server, ALICE.id);
    let call = &screen["call"];
    assert_eq!(call["direction"], "inbound", "{screen}");
    assert_eq!(call["queue"], "support");
    assert!(call["campaign"].is_null() && call["attempt_id"].is_null());
    assert!(call["contact"].is_null() && call["script"].is_null());
    assert!(call["offers"].as_array().is_some_and(Vec::is_empty));
    let (status, body) = post_json(&server, &format!("/api/v1/agents/{}/hangup", ALICE.id), "");
    assert_eq!(status, 200, "{body}");
    caller.wait().assert_success("the caller (it got the BYE)");
    // The queue's 2 s wrap-up, no disposition asked for; then Ready.
    wait_state(&server, ALICE.id, "wrap_up", 5);
    let screen = desktop(&server, ALICE.id);
    assert_eq!(screen["wrap_up"]["needs_disposition"], false, "{screen}");
    assert!(screen["wrap_up"]["until_ms"].as_i64().is_some(), "{screen}");
    assert_eq!(screen["call"]["direction"], "inbound", "{screen}");
    wait_state(&server, ALICE.id, "ready", 10);
    alice.kill();
    server.stop();
}

#[test]
fn a_restart_frees_an_agent_held_in_wrap_up_and_the_disposition_can_still_be_set() {
    let port = common::free_port();
    let dir = common::scratch("desktop-restart");
    let db = dir.join("waihu.db");
    let mut config = desktop_config(port, 0);
    config.db = Some(db.clone());
    let first = Server::start(&config);
    let carrier = carrier(&first, port);
    let alice = agent_phone(&first, &ALICE, 60_000);
    import_customer(&first);
    start(&first, CAMPAIGN);
    wait_state(&first, ALICE.id, "on_call", 30);
    let attempt = desktop(&first, ALICE.id)["call"]["attempt_id"]
        .as_i64()
        .expect("attempt_id");
    let (status, _) = post_json(&first, &format!("/api/v1/campaigns/{CAMPAIGN}/pause"), "");
    assert_eq!(status, 200);
    let (status, body) = post_json(&first, &format!("/api/v1/agents/{}/hangup", ALICE.id), "");
    assert_eq!(status, 200, "{body}");
    wait_state(&first, ALICE.id, "wrap_up", 10);
    // The wrap-up is on disk (its event is written with the agent's row).
    first.wait_for("the wrap-up stored", Duration::from_secs(10), |s| {
        get(s, "/api/v1/acd/events")["events"]
            .as_array()
            .is_some_and(|e| {
                e.iter()
                    .any(|e| e["agent"] == ALICE.id && e["event"] == "wrap_up")
            })
    });
    let _crashed = first.crash();
    alice.kill();

    let second = Server::start(&config);
    let agent = get(&second, &format!("/api/v1/agents/{}", ALICE.id));
    assert_eq!(agent["state"], "ready", "{agent}");
    assert_eq!(agent["reason"], "restart", "{agent}");
    assert_eq!(agent["needs_disposition"], false, "{agent}");
    assert!(desktop(&second, ALICE.id)["call"].is_null());
    // The call's record is still there to dispose of.
    let (status, body) = post_json(
        &second,
        &format!("/api/v1/attempts/{attempt}/disposition"),
        r#"{"disposition":"likely"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(agent_state(&second, ALICE.id), "ready");
    carrier.kill();
    second.stop();
}

#[test]
fn unknown_agents_and_attempts_are_404_and_an_idle_agent_has_no_call_to_act_on() {
    let port = common::free_port();
    let server = Server::start(&desktop_config(port, 0));
    for path in [
        "/api/v1/agents/9999/desktop",
        "/api/v1/agents/nobody/desktop",
    ] {
        let (status, body) = http_get(server.http, path).expect("GET");
        assert_eq!(status, 404, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert!(v["error"].as_str().is_some(), "{body}");
    }
    let (status, body) = step(&server, 424_242, "greet", 0);
    assert_eq!(status, 404, "{body}");
    for action in ["hangup", "transfer"] {
        let (status, body) = http_post(
            server.http,
            &format!("/api/v1/agents/9999/{action}"),
            r#"{"to":"queue:backoffice"}"#,
        )
        .expect("POST");
        assert_eq!(status, 404, "{action}: {body}");
    }
    // Alice is logged out: nothing to hang up or transfer.
    let (status, body) = post_json(&server, &format!("/api/v1/agents/{}/hangup", ALICE.id), "");
    assert_eq!(status, 409, "{body}");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/agents/{}/transfer", ALICE.id),
        r#"{"to":"queue:backoffice"}"#,
    );
    assert_eq!(status, 409, "{body}");
    let (status, body) = post_json(
        &server,
        &format!("/api/v1/agents/{}/transfer", ALICE.id),
        r#"{"to":"queue:backoffice","extra":1}"#,
    );
    assert_eq!(status, 400, "{body}");
    // The endpoints are in the OpenAPI document.
    let doc = get(&server, "/api/v1/openapi.json");
    for path in [
        "/api/v1/agents/{agent}/desktop",
        "/api/v1/attempts/{id}/script",
        "/api/v1/agents/{agent}/hangup",
        "/api/v1/agents/{agent}/transfer",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not in the document");
    }
    server.stop();
}
