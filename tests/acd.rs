//! Agents and ACD queues through the running binary: a customer calls in
//! through the carrier trunk (sipp from the trunk's address), the shipped
//! route puts the call in a queue (500: "support"), and agents' phones
//! (registered sipp UASs) take it. Agents are driven through the HTTP API
//! and their feature codes.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::audio::{self, RtpTap};
use common::sip::Transport;
use common::sipp::{Running, Sipp};
use common::{
    ALICE, Agent, BOB, Config, DOMAIN, Server, http_get, http_post, register_at, sipp_media_port,
};
use serde_json::Value;

const CAROL: Agent = Agent {
    id: "1003",
    password: "carol-long-secret-1003",
};
const DAVE: Agent = Agent {
    id: "1004",
    password: "dave-long-secret-1004",
};

/// A carrier trunk trusted from 127.0.0.1 (where the sipp callers run),
/// and the queue `support` with `queue` lines (strategy, members, ...).
fn config(queue: &str) -> Config {
    let carrier = common::free_port();
    Config {
        agents: vec![ALICE, BOB, CAROL, DAVE],
        extra_yaml: format!(
            "trunks:\n  - name: carrier\n    host: 127.0.0.1\n    port: {carrier}\n    \
             acl: [\"127.0.0.1\"]\n    keepalive_s: 0\n    max_channels: 100\n\
             queues:\n  - name: support\n{queue}"
        ),
        ..Config::default()
    }
}

fn agent_op(server: &Server, agent: &Agent, op: &str, body: &str) -> Value {
    let path = format!("/api/v1/agents/{}/{op}", agent.id);
    let (status, body) = http_post(server.http, &path, body).expect("POST agent op");
    assert_eq!(status, 200, "POST {path}: {body}");
    serde_json::from_str(&body).expect("agent json")
}

fn agent_state(server: &Server, agent: &Agent) -> Value {
    let path = format!("/api/v1/agents/{}", agent.id);
    let (status, body) = http_get(server.http, &path).expect("GET agent");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("agent json")
}

fn wait_state(server: &Server, agent: &Agent, state: &str) {
    server.wait_for(
        &format!("agent {} to be {state}", agent.id),
        Duration::from_secs(20),
        |s| agent_state(s, agent)["state"] == state,
    );
}

/// An agent's phone: a sipp UAS registered as the agent.
fn phone(server: &Server, agent: &Agent, scenario: &str, calls: u32) -> Running {
    phone_with(server, agent, scenario, calls, &[])
}

fn phone_with(
    server: &Server,
    agent: &Agent,
    scenario: &str,
    calls: u32,
    args: &[&str],
) -> Running {
    let port = common::free_port();
    let mut sipp = Sipp::new(scenario, Transport::Udp, "phone")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(calls)
        .timeout_secs(120);
    for a in args {
        sipp = sipp.arg(a);
    }
    let running = sipp.spawn(server);
    register_at(server, agent, SocketAddr::from(([127, 0, 0, 1], port)));
    running
}

/// The caller: `calls` calls to `number`, one after the other, each
/// `talk_ms` long after the answer.
fn caller(number: &str, calls: u32, talk_ms: u32) -> Sipp<'static> {
    Sipp::new("queue_caller.xml", Transport::Udp, number)
        .media_port(sipp_media_port())
        .calls(calls)
        .arg("-d")
        .arg(&talk_ms.to_string())
        .timeout_secs(120)
}

/// What the caller heard: packets received, and how many of them were
/// its own audio (sip-tester's g711a.pcap) echoed back by a phone.
fn heard(tap: RtpTap) -> (usize, usize) {
    let received = tap.finish();
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("g711a.pcap");
    let echoed = audio::echoed(&sent, &received);
    (received.len(), echoed)
}

/// A caller of the queue's number who stays until the switch hangs up.
fn caller_until_bye(timeout_secs: u32) -> Sipp<'static> {
    Sipp::new("queue_caller_bye.xml", Transport::Udp, "500")
        .media_port(sipp_media_port())
        .timeout_secs(timeout_secs)
}

/// The CDRs of calls to the queue's number, oldest first, once there are `n`.
fn queue_cdrs(server: &Server, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    server.wait_for(&format!("{n} CDRs"), Duration::from_secs(20), |server| {
        let (_, body) = http_get(server.http, "/api/v1/cdrs?limit=100").expect("GET cdrs");
        let json: Value = serde_json::from_str(&body).expect("cdr json");
        found = json["cdrs"]
            .as_array()
            .expect("cdrs")
            .iter()
            .filter(|c| c["to"].as_str().is_some_and(|t| t.contains("sip:500@")))
            .cloned()
            .collect();
        found.len() >= n
    });
    found.sort_by_key(|c| c["start_ms"].as_i64());
    found
}

fn events(server: &Server) -> Vec<Value> {
    let (status, body) = http_get(server.http, "/api/v1/acd/events?limit=10000").expect("events");
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).expect("json");
    json["events"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_inbound_call_waits_with_music_then_an_agent_takes_it_with_two_way_audio() {
    let server = Server::start(&config(
        "    members: [\"1002\"]\n    wrapup_s: 1\n    announce_every_s: 1\n",
    ));
    let phone = phone_with(&server, &BOB, "call_uas_echo.xml", 1, &["-rtp_echo"]);
    // Bob is logged in but paused: the call waits (it does not overflow,
    // as it would with nobody logged in).
    agent_op(&server, &BOB, "login", "");
    agent_op(&server, &BOB, "pause", r#"{"reason":"coffee"}"#);
    assert_eq!(agent_state(&server, &BOB)["reason"], "coffee");

    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    let call = Sipp::new("queue_caller.xml", Transport::Udp, "500")
        .media_port(media_port)
        .arg("-d")
        .arg("7000")
        .timeout_secs(60)
        .spawn(&server);
    server.wait_for(
        "the call to wait in the queue",
        Duration::from_secs(10),
        |s| {
            s.metrics()
                .contains("waihu_queue_waiting{queue=\"support\"} 1")
        },
    );
    std::thread::sleep(Duration::from_millis(2000));
    agent_op(&server, &BOB, "ready", "");
    call.wait().assert_success("the caller");
    phone.wait().assert_success("Bob's phone (it got the BYE)");

    // While waiting the caller heard music and announcements; then Bob's
    // phone echoed the caller's own audio back through the bridge.
    let (received, echoed) = heard(tap);
    assert!(
        echoed >= 60,
        "only {echoed} packets came back through the agent"
    );
    assert!(
        received >= echoed + 80,
        "{received} packets received, {echoed} of them echoes: no music while waiting"
    );
    let cdr = &queue_cdrs(&server, 1)[0];
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    assert_eq!(cdr["queue"], "support", "{cdr}");
    assert_eq!(cdr["trunk"], "carrier", "{cdr}");
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    let wait = cdr["wait_ms"].as_i64().expect("wait_ms");
    assert!((2000..10_000).contains(&wait), "wait_ms {wait}");
    assert!(cdr["talk_ms"].as_i64().expect("talk_ms") >= 1000, "{cdr}");
    // The export has the queue columns too.
    let csv = server.cdr_export(&["--since", "1h"]);
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.contains(",queue,agent,wait_ms,talk_ms,")),
        "{csv}"
    );
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|r| r.contains(",support,1002,")),
        "{csv}"
    );
    // Bob wraps up for a second, then is ready again with one call taken.
    wait_state(&server, &BOB, "ready");
    assert_eq!(agent_state(&server, &BOB)["calls"], 1);
    let log = server.log();
    assert!(log.contains("agent took the call"), "{log}");
    // Announced every second while it waited: "caller number 1".
    assert!(
        log.lines()
            .any(|l| l.contains("position announced") && l.contains("position=1")),
        "{log}"
    );
    server.stop();
}

#[test]
fn an_agent_who_hangs_up_ends_the_callers_leg_too() {
    let server = Server::start(&config("    members: [\"1002\"]\n"));
    // Bob's phone hangs up 1.5 s after answering; the caller waits for BYE.
    let phone = phone_with(&server, &BOB, "agent_uas_bye.xml", 1, &["-d", "1500"]);
    agent_op(&server, &BOB, "login", "");
    let call = caller_until_bye(60).spawn(&server);
    call.wait().assert_success("the caller (it got the BYE)");
    phone
        .wait()
        .assert_success("Bob's phone (its BYE was answered)");
    let cdr = &queue_cdrs(&server, 1)[0];
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    assert_eq!(cdr["vars"]["queue_outcome"], "answered:1002", "{cdr}");
    server.stop();
}

#[test]
fn longest_idle_order_holds_over_twenty_calls_across_three_agents() {
    let server = Server::start(&config(
        "    strategy: longest-idle\n    members: [\"1002\", \"1003\", \"1004\"]\n    wrapup_s: 0\n",
    ));
    let phones: Vec<Running> = [&BOB, &CAROL, &DAVE]
        .into_iter()
        .map(|a| phone(&server, a, "call_uas_echo.xml", 20))
        .collect();
    // Logged in in this order, so idle longest in this order.
    for agent in [&CAROL, &DAVE, &BOB] {
        agent_op(&server, agent, "login", "");
        std::thread::sleep(Duration::from_millis(30));
    }
    caller("500", 20, 300)
        .run(&server)
        .assert_success("twenty calls");
    let cdrs = queue_cdrs(&server, 20);
    let agents: Vec<&str> = cdrs
        .iter()
        .map(|c| c["agent"].as_str().unwrap_or("none"))
        .collect();
    let expected: Vec<&str> = [CAROL.id, DAVE.id, BOB.id]
        .into_iter()
        .cycle()
        .take(20)
        .collect();
    assert_eq!(agents, expected, "the order agents took the calls in");
    for phone in phones {
        phone.kill();
    }
    for (agent, calls) in [(&CAROL, 7), (&DAVE, 7), (&BOB, 6)] {
        assert_eq!(agent_state(&server, agent)["calls"], calls, "{}", agent.id);
    }
    server.stop();
}

#[test]
fn an_agent_who_never_answers_is_skipped_then_paused() {
    let server = Server::start(&config(
        "    members: [\"1003\", \"1002\"]\n    ring_timeout_s: 2\n    max_no_answer: 2\n",
    ));
    // Carol's phone rings and is never picked up; Bob's answers and hangs
    // up after 300 ms. The caller stays until the switch hangs up.
    let carol = phone(&server, &CAROL, "call_uas_ring.xml", 2);
    let bob = phone_with(&server, &BOB, "agent_uas_bye.xml", 3, &["-d", "300"]);
    agent_op(&server, &CAROL, "login", "");
    std::thread::sleep(Duration::from_millis(30));
    agent_op(&server, &BOB, "login", "");
    caller_until_bye(60)
        .calls(3)
        .run(&server)
        .assert_success("three calls");
    carol
        .wait()
        .assert_success("Carol's phone (cancelled twice)");
    bob.wait().assert_success("Bob's phone");
    let cdrs = queue_cdrs(&server, 3);
    for cdr in &cdrs {
        assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    }
    // The first two calls rang Carol for the 2 s ring timeout first; the
    // third went straight to Bob.
    let waits: Vec<i64> = cdrs
        .iter()
        .map(|c| c["wait_ms"].as_i64().unwrap_or(-1))
        .collect();
    assert!(waits[0] >= 2000 && waits[1] >= 2000, "{waits:?}");
    assert!(waits[2] < 1500, "{waits:?}");
    let carol_now = agent_state(&server, &CAROL);
    assert_eq!(carol_now["state"], "paused", "{carol_now}");
    assert_eq!(carol_now["reason"], "no-answer", "{carol_now}");
    assert!(
        events(&server).iter().any(|e| e["agent"] == CAROL.id
            && e["event"] == "paused"
            && e["reason"] == "no-answer")
    );
    server.stop();
}

#[test]
fn a_restart_mid_queue_brings_agent_states_back() {
    let dir = common::scratch("waihu-acd-restart");
    let db = dir.join("waihu.db");
    let queue = "    members: [\"1002\", \"1003\", \"1004\"]\n";
    let mut cfg = config(queue);
    cfg.db = Some(db.clone());
    let server = Server::start(&cfg);
    let bob_phone = phone(&server, &BOB, "call_uas_echo.xml", 1);
    for agent in [&BOB, &CAROL, &DAVE] {
        agent_op(&server, agent, "login", "");
    }
    agent_op(&server, &CAROL, "pause", r#"{"reason":"lunch"}"#);
    agent_op(&server, &DAVE, "logout", "");
    // A long call that Bob takes; a second one waits (nobody else ready).
    let first = caller("500", 1, 30_000).spawn(&server);
    wait_state(&server, &BOB, "on_call");
    let second = caller("500", 1, 30_000).spawn(&server);
    server.wait_for("a waiting call", Duration::from_secs(10), |s| {
        s.metrics()
            .contains("waihu_queue_waiting{queue=\"support\"} 1")
    });
    let _crashed = server.crash();
    first.kill();
    second.kill();
    bob_phone.kill();

    let mut cfg = config(queue);
    cfg.db = Some(db.clone());
    let server = Server::start(&cfg);
    let bob = agent_state(&server, &BOB);
    assert_eq!(
        bob["state"], "ready",
        "Bob was on a call of the dead process: {bob}"
    );
    assert_eq!(bob["reason"], "restart", "{bob}");
    assert_eq!(bob["calls"], 1, "{bob}");
    let carol = agent_state(&server, &CAROL);
    assert_eq!(
        (&carol["state"], &carol["reason"]),
        (&Value::from("paused"), &Value::from("lunch"))
    );
    assert_eq!(agent_state(&server, &DAVE)["state"], "logged_out");
    let (_, body) = http_get(server.http, "/api/v1/queues").expect("queues");
    let queues: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(queues["queues"][0]["waiting"], 0, "{queues}");
    assert_eq!(queues["queues"][0]["ready"], 1, "{queues}");
    // The history survived too: Bob's answer before the crash is there.
    assert!(
        events(&server)
            .iter()
            .any(|e| e["agent"] == BOB.id && e["event"] == "on_call")
    );
    // And Bob, registered again, takes the next call.
    let bob_phone = phone(&server, &BOB, "call_uas_echo.xml", 1);
    caller("500", 1, 300)
        .run(&server)
        .assert_success("a call after the restart");
    bob_phone
        .wait()
        .assert_success("Bob's phone after the restart");
    server.stop();
}

#[test]
fn with_nobody_logged_in_the_lua_overflow_hook_takes_a_callback_request() {
    // The shipped route plus a queue.on_overflow that asks for callbacks.
    let scripts = common::scratch("waihu-acd-scripts");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/route.lua");
    std::fs::copy(&shipped, scripts.join("route.lua")).expect("copy route.lua");
    std::fs::write(
        scripts.join("zz_overflow.lua"),
        r#"
function queue.on_overflow(info)
  if info.reason == "no_agents" then
    return { action = "callback", prompt = "en/callback_ok" }
  end
  return { action = "hangup" }
end
"#,
    )
    .expect("write overflow script");
    let mut cfg = config("    members: [\"1002\"]\n");
    cfg.scripts_dir = scripts.to_path_buf();
    let server = Server::start(&cfg);
    caller_until_bye(60)
        .run(&server)
        .assert_success("the caller, hung up after the callback prompt");
    let (_, body) = http_get(server.http, "/api/v1/callbacks").expect("callbacks");
    let json: Value = serde_json::from_str(&body).expect("json");
    let callbacks = json["callbacks"].as_array().expect("callbacks");
    assert_eq!(callbacks.len(), 1, "{json}");
    assert_eq!(callbacks[0]["queue"], "support", "{json}");
    assert_eq!(callbacks[0]["number"], "carrier", "{json}");
    assert!(events(&server).iter().any(|e| {
        e["event"] == "overflow"
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("no_agents"))
    }));
    server.stop();
}

#[test]
fn feature_codes_log_an_agent_in_and_out_from_the_phone() {
    // No trunk here: Alice's INVITEs from 127.0.0.1 must be hers, not the
    // carrier's.
    let server = Server::start(&Config {
        agents: vec![ALICE, BOB],
        extra_yaml: "queues:\n  - name: support\n    members: [\"1001\"]\n".into(),
        ..Config::default()
    });
    let dial = |code: &str| {
        Sipp::new("call_playback.xml", Transport::Udp, code)
            .credentials(ALICE.id, ALICE.password, &format!("sip:{code}@{DOMAIN}"))
            .media_port(sipp_media_port())
            .timeout_secs(30)
            .run(&server)
            .assert_success(code);
    };
    assert_eq!(agent_state(&server, &ALICE)["state"], "logged_out");
    dial("*41");
    assert_eq!(agent_state(&server, &ALICE)["state"], "ready");
    dial("*43");
    let alice = agent_state(&server, &ALICE);
    assert_eq!(
        (&alice["state"], &alice["reason"]),
        (&Value::from("paused"), &Value::from("phone"))
    );
    dial("*42");
    assert_eq!(agent_state(&server, &ALICE)["state"], "logged_out");
    let started = Instant::now();
    // A stranger's action on an unknown agent is a 404, not a crash.
    let (status, _) = http_post(server.http, "/api/v1/agents/9999/login", "").expect("post");
    assert_eq!(status, 404);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.stop();
}

#[test]
fn ring_all_rings_every_ready_agent_and_the_first_answer_takes_the_call() {
    let server = Server::start(&config(
        "    strategy: ring-all\n    members: [\"1002\", \"1003\"]\n    ring_timeout_s: 10\n",
    ));
    // Carol's phone rings until cancelled; Bob's answers (after 200 ms).
    let carol = phone(&server, &CAROL, "call_uas_ring.xml", 1);
    let bob = phone(&server, &BOB, "call_uas_echo.xml", 1);
    agent_op(&server, &CAROL, "login", "");
    agent_op(&server, &BOB, "login", "");
    caller("500", 1, 1000)
        .run(&server)
        .assert_success("the caller");
    carol
        .wait()
        .assert_success("Carol's phone (rang, then was cancelled)");
    bob.wait().assert_success("Bob's phone");
    let cdr = &queue_cdrs(&server, 1)[0];
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    // Losing a ring-all race is not a missed call.
    let carol = agent_state(&server, &CAROL);
    assert_eq!(
        (&carol["state"], &carol["missed"]),
        (&Value::from("ready"), &Value::from(0))
    );
    let offers = events(&server)
        .iter()
        .filter(|e| e["event"] == "offer")
        .count();
    assert_eq!(offers, 2, "both phones were offered the call");
    server.stop();
}

#[test]
fn an_agent_transfers_the_caller_blind_with_refer() {
    let server = Server::start(&config("    members: [\"1002\"]\n"));
    // Bob answers and, a second later, transfers the caller to Carol,
    // whose phone answers and echoes.
    let bob = phone_with(
        &server,
        &BOB,
        "agent_uas_refer.xml",
        1,
        &["-d", "1000", "-key", "target", CAROL.id],
    );
    let carol = phone_with(&server, &CAROL, "call_uas_echo.xml", 1, &["-rtp_echo"]);
    agent_op(&server, &BOB, "login", "");
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    Sipp::new("queue_caller.xml", Transport::Udp, "500")
        .media_port(media_port)
        .arg("-d")
        .arg("6000")
        .timeout_secs(60)
        .run(&server)
        .assert_success("the caller");
    bob.wait()
        .assert_success("Bob's phone (202, two NOTIFYs, BYE)");
    carol
        .wait()
        .assert_success("Carol's phone (got the caller, then BYE)");
    let (_, echoed) = heard(tap);
    assert!(
        echoed >= 40,
        "only {echoed} packets came back through Carol"
    );
    let cdr = &queue_cdrs(&server, 1)[0];
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    assert_eq!(cdr["vars"]["transferred_to"], CAROL.id, "{cdr}");
    assert_eq!(cdr["dialled"], CAROL.id, "{cdr}");
    // Bob's part ended with the transfer: he is free again.
    wait_state(&server, &BOB, "ready");
    server.stop();
}

/// Bob takes a queued call on a phone playing `scenario` that then dies;
/// the switch must end the call (`rtp_timeout_s`, or the session timer),
/// record `agent_lost` and pause Bob (`vanished`). Returns the CDR.
fn agent_vanishes(rtp_timeout_s: u64, scenario: &str, caller_timeout: u32) -> Value {
    let mut cfg = config("    members: [\"1002\"]\n");
    cfg.rtp_timeout_s = rtp_timeout_s;
    let server = Server::start(&cfg);
    let bob = phone(&server, &BOB, scenario, 1);
    agent_op(&server, &BOB, "login", "");
    caller_until_bye(caller_timeout)
        .calls(1)
        .run(&server)
        .assert_success("the caller, hung up by the switch");
    bob.wait()
        .assert_success("Bob's phone, hung up by the switch");
    let cdr = queue_cdrs(&server, 1)[0].clone();
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    assert_eq!(cdr["vars"]["disposition"], "agent_lost", "{cdr}");
    let bob = agent_state(&server, &BOB);
    assert_eq!(
        (&bob["state"], &bob["reason"]),
        (&Value::from("paused"), &Value::from("vanished"))
    );
    server.stop();
    cdr
}

#[test]
fn an_agent_whose_phone_goes_silent_has_the_call_ended_and_is_paused() {
    // The phone answers and then sends no RTP at all.
    agent_vanishes(2, "call_uas_echo.xml", 60);
}

#[test]
fn a_caller_who_stops_refreshing_its_session_timer_is_hung_up() {
    // The default timer config: 1800 s asked, 90 s accepted. No media
    // timeout: the caller's audio stops after 7 s, and only the session
    // timer may end this call.
    let mut cfg = config("    members: [\"1002\"]\n");
    cfg.rtp_timeout_s = 0;
    let server = Server::start(&cfg);
    // The echo test runs until the caller presses # or hangs up; this
    // caller does neither, and does not refresh its 90 s session either:
    // the switch ends it 60 s in (RFC 4028 section 10: 90 - min(32, 30)).
    Sipp::new("timer_caller.xml", Transport::Udp, "600")
        .media_port(sipp_media_port())
        .timeout_secs(100)
        .run(&server)
        .assert_success("the caller, hung up when its session expired");
    let (_, body) = http_get(server.http, "/api/v1/cdrs?limit=1").expect("cdrs");
    let json: Value = serde_json::from_str(&body).expect("json");
    let cdr = &json["cdrs"][0];
    assert_eq!(cdr["vars"]["disposition"], "session_expired", "{cdr}");
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    let talk = cdr["end_ms"].as_i64().unwrap_or(0) - cdr["answer_ms"].as_i64().unwrap_or(0);
    assert!(
        (55_000..70_000).contains(&talk),
        "ended {talk} ms after the answer"
    );
    server.stop();
}

#[test]
fn a_caller_whose_ack_never_comes_is_hung_up_and_the_agent_freed() {
    // T1 = 50 ms: the switch retransmits its 200 for 64*T1 = 3.2 s. The
    // caller's audio flows, the agent talks for up to 30 s, and neither
    // hangs up: only the missing ACK may end this call, with a BYE to
    // both (RFC 3261 13.3.1.4).
    let mut cfg = config("    members: [\"1002\"]\n    wrapup_s: 0\n");
    cfg.timers_ms = (50, 4000, 5000);
    cfg.rtp_timeout_s = 0;
    let server = Server::start(&cfg);
    let bob = phone_with(&server, &BOB, "agent_uas_auto.xml", 1, &["-d", "30000"]);
    agent_op(&server, &BOB, "login", "");
    Sipp::new("no_ack_caller.xml", Transport::Udp, "500")
        .media_port(sipp_media_port())
        .timeout_secs(60)
        .run(&server)
        .assert_success("the caller that never ACKs, hung up by the switch");
    bob.wait()
        .assert_success("Bob's phone, hung up by the switch");
    let cdr = queue_cdrs(&server, 1)[0].clone();
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    assert_eq!(cdr["vars"]["disposition"], "no_ack", "{cdr}");
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    let talk = cdr["end_ms"].as_i64().unwrap_or(0) - cdr["answer_ms"].as_i64().unwrap_or(0);
    assert!(
        (2_500..15_000).contains(&talk),
        "ended {talk} ms after the answer"
    );
    // The caller vanished, not the agent: Bob is ready for the next call.
    wait_state(&server, &BOB, "ready");
    assert!(server.log().contains("never acknowledged our 200"));
    server.stop();
}

#[test]
fn an_agent_puts_the_caller_on_hold_with_music_and_resumes() {
    let server = Server::start(&config("    members: [\"1002\"]\n"));
    let bob = phone_with(&server, &BOB, "agent_uas_hold.xml", 1, &["-rtp_echo"]);
    agent_op(&server, &BOB, "login", "");
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    Sipp::new("queue_caller.xml", Transport::Udp, "500")
        .media_port(media_port)
        .arg("-d")
        .arg("6000")
        .timeout_secs(60)
        .run(&server)
        .assert_success("the caller");
    bob.wait()
        .assert_success("Bob's phone (hold answered recvonly, resume sendrecv)");
    let (received, echoed) = heard(tap);
    // About 1 s of echo before the hold and 2.5 s after the resume.
    assert!(
        echoed >= 80,
        "only {echoed} echoed packets: did the call resume?"
    );
    // Two seconds of music on hold (20 ms frames) while held.
    assert!(
        received >= echoed + 80,
        "{received} received, {echoed} echoes: no music on hold"
    );
    let log = server.log();
    assert!(
        log.contains("call on hold") && log.contains("call resumed"),
        "{log}"
    );
    server.stop();
}

#[test]
fn an_agent_whose_phone_stops_answering_options_is_logged_out() {
    // T1 = 50 ms: an unanswered OPTIONS times out in 3.2 s; probes every 1 s.
    let mut cfg = config("    members: [\"1002\", \"1003\"]\n");
    cfg.timers_ms = (50, 4000, 5000);
    cfg.extra_yaml.push_str("acd:\n  probe_interval_s: 1\n");
    let server = Server::start(&cfg);
    // Bob's phone is there and answers OPTIONS; Carol's contact is a port
    // nobody listens on.
    let bob = phone(&server, &BOB, "options_uas.xml", 1000);
    register_at(
        &server,
        &CAROL,
        SocketAddr::from(([127, 0, 0, 1], common::free_port())),
    );
    agent_op(&server, &BOB, "login", "");
    agent_op(&server, &CAROL, "login", "");
    server.wait_for("Carol to be logged out", Duration::from_secs(15), |s| {
        agent_state(s, &CAROL)["state"] == "logged_out"
    });
    assert_eq!(agent_state(&server, &CAROL)["reason"], "unreachable");
    // Bob's phone answered every probe: still logged in.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(agent_state(&server, &BOB)["state"], "ready");
    bob.kill();
    server.stop();
}

#[test]
fn an_agent_whose_phone_unregisters_is_logged_out() {
    use common::sip::{Peer, Request};
    let server = Server::start(&config("    members: [\"1003\"]\n"));
    let contact = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let mut peer = Peer::connect(Transport::Udp, server.udp);
    let register = Request::register(CAROL.id, contact, Transport::Udp);
    let challenge = peer.exchange(&register).expect("401").challenge("MD5");
    let ok = peer
        .exchange_authorized(&register.next(), &challenge, CAROL.id, CAROL.password)
        .expect("200");
    assert_eq!(ok.status, 200);
    agent_op(&server, &CAROL, "login", "");
    // The phone signs off: the same registration with Expires: 0.
    let mut unregister = register.next().next();
    unregister.headers.retain(|(name, _)| name != "Expires");
    unregister.headers.push(("Expires".into(), "0".into()));
    let challenge = peer.exchange(&unregister).expect("401").challenge("MD5");
    let ok = peer
        .exchange_authorized(&unregister.next(), &challenge, CAROL.id, CAROL.password)
        .expect("200");
    assert_eq!(ok.status, 200);
    server.wait_for("Carol to be logged out", Duration::from_secs(10), |s| {
        agent_state(s, &CAROL)["state"] == "logged_out"
    });
    assert_eq!(agent_state(&server, &CAROL)["reason"], "unregistered");
    server.stop();
}

/// The shipped route plus `extra` (more Lua) in a fresh scripts directory.
fn scripts_with(extra: &str) -> common::Scratch {
    let scripts = common::scratch("waihu-acd-scripts");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/route.lua");
    std::fs::copy(&shipped, scripts.join("route.lua")).expect("copy route.lua");
    std::fs::write(scripts.join("zz_extra.lua"), extra).expect("write script");
    scripts
}

#[test]
fn overflow_moves_a_call_to_another_queue_and_agent_hooks_see_every_change() {
    let scripts = scripts_with(
        r#"
function queue.on_overflow(info)
  if info.queue == "support" then
    return { action = "queue", queue = "sales" }
  end
  return nil -- the queue's own message, then hang up
end

function agent.on_state_change(c)
  log.info("hook: agent " .. c.agent .. " " .. c.from .. " -> " .. c.to)
end
"#,
    );
    // Carol (support) never logs in; Bob takes sales.
    let mut cfg = config("    members: [\"1003\"]\n  - name: sales\n    members: [\"1002\"]\n");
    cfg.scripts_dir = scripts.to_path_buf();
    let server = Server::start(&cfg);
    let bob = phone_with(&server, &BOB, "agent_uas_bye.xml", 1, &["-d", "500"]);
    agent_op(&server, &BOB, "login", "");
    caller_until_bye(60)
        .run(&server)
        .assert_success("the caller, moved to sales and answered by Bob");
    bob.wait().assert_success("Bob's phone");
    let cdr = &queue_cdrs(&server, 1)[0];
    assert_eq!(cdr["queue"], "sales", "{cdr}");
    assert_eq!(cdr["agent"], BOB.id, "{cdr}");
    let events = events(&server);
    assert!(
        events
            .iter()
            .any(|e| e["queue"] == "support" && e["event"] == "overflow")
    );
    assert!(
        events
            .iter()
            .any(|e| e["queue"] == "sales" && e["event"] == "answer")
    );

    // Bob leaves: sales has nobody either, and its overflow is the
    // default: the queue's message, then the switch hangs up.
    agent_op(&server, &BOB, "logout", "");
    caller_until_bye(60)
        .run(&server)
        .assert_success("the caller, told the agents are busy and hung up");
    let cdrs = queue_cdrs(&server, 2);
    assert_eq!(cdrs[1]["hangup_by"], "switch", "{}", cdrs[1]);
    assert!(cdrs[1]["agent"].is_null(), "{}", cdrs[1]);
    // call:queue returned "hangup" to the route, which hung up.
    assert_eq!(cdrs[1]["vars"]["queue_outcome"], "hangup:", "{}", cdrs[1]);

    // The agent hook ran for Bob's changes, in order.
    let log = server.log();
    let seen: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("hook: agent 1002 ").nth(1))
        .map(|rest| rest.split('"').next().unwrap_or(rest).trim())
        .collect();
    assert!(
        seen.first()
            .is_some_and(|s| s.starts_with("logged_out -> ready")),
        "{seen:?}"
    );
    for step in [
        "ready -> reserved",
        "reserved -> on_call",
        "ready -> logged_out",
    ] {
        assert!(
            seen.iter().any(|s| s.starts_with(step)),
            "{step} missing from {seen:?}"
        );
    }
    server.stop();
}

#[test]
fn an_agent_whose_session_expires_mid_call_is_hung_up_and_paused() {
    // The phone took the refresher role and never refreshes; no media
    // timeout, so only the session timer may end this call (60 s in).
    let cdr = agent_vanishes(0, "agent_uas_timer.xml", 100);
    let talk = cdr["talk_ms"].as_i64().unwrap_or(0);
    assert!((55_000..70_000).contains(&talk), "talk_ms {talk}");
}
#[test]
fn on_overflow_a_caller_can_leave_a_message() {
    let scripts = scripts_with(
        r#"
function queue.on_overflow(info)
  return { action = "voicemail", prompt = "en/leave_message" }
end
"#,
    );
    let mut cfg = config("    members: [\"1002\"]\n");
    cfg.scripts_dir = scripts.to_path_buf();
    let server = Server::start(&cfg);
    // Nobody is logged in: the call overflows at once; the prompt and the
    // tone take 6.6 s, the caller speaks (its pcap runs 7 s from the
    // answer) and presses # at 9 s.
    Sipp::new("queue_caller_message.xml", Transport::Udp, "500")
        .media_port(sipp_media_port())
        .arg("-d")
        .arg("9000")
        .timeout_secs(60)
        .run(&server)
        .assert_success("the caller who left a message");
    let cdr = &queue_cdrs(&server, 1)[0];
    let outcome = cdr["vars"]["queue_outcome"].as_str().unwrap_or_default();
    let path = outcome
        .strip_prefix("voicemail:")
        .unwrap_or_else(|| panic!("no voicemail outcome: {cdr}"));
    assert_eq!(cdr["recording"], path, "{cdr}");
    assert!(
        cdr["digits"].as_str().unwrap_or_default().contains('#'),
        "{cdr}"
    );
    // A real WAV with 1.5..4 s of the caller in it, not silence.
    let reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    let secs = samples.len() as f64 / f64::from(spec.sample_rate) / f64::from(spec.channels);
    assert!((1.5..4.0).contains(&secs), "{secs} s recorded");
    assert!(
        samples.iter().any(|s| s.unsigned_abs() > 2000),
        "the message is silent"
    );
    server.stop();
}
