//! Broadcast campaigns through the running binary: no agents on the
//! answer, the Lua broadcast flow runs the call. sipp plays the carrier
//! and the customers (answering, listening, pressing keys with the RFC
//! 4733 pcaps of the sip-tester package, or playing a voicemail greeting
//! as a machine would), sipp phones take the transfers, and baresip
//! listens to one whole call so what it heard can be checked prompt by
//! prompt.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::baresip::Baresip;
use common::campaign::*;
use common::sip::Transport;
use common::sipp::{Running, Sipp};
use common::{ALICE, BOB, Server, http_post, sipp_media_port};
use serde_json::Value;

#[test]
fn a_broadcast_campaign_plays_its_flow_to_each_answer_without_agents() {
    let port = common::free_port();
    let c = broadcast_config(port, "notice", "");
    let server = Server::start(&c);
    let carrier = carrier(&server, port);
    import(
        &server,
        CAMPAIGN,
        &[(number(6), None), (number(19), None), (number(21), None)],
    );
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 3, 60);
    let log = carrier.kill().messages;
    let by_phone = |n: u32| {
        attempts
            .iter()
            .find(|a| a["phone"] == number(n).as_str())
            .unwrap_or_else(|| panic!("no attempt for {}", number(n)))
            .clone()
    };
    for n in [6, 19] {
        let a = by_phone(n);
        assert_eq!(a["outcome"], "answered", "{a}");
        let detail = detail(&a);
        assert_eq!(detail["heard"], "end", "{a}");
        assert!(
            detail["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("客户")),
            "{a}"
        );
    }
    assert_eq!(by_phone(21)["outcome"], "busy");
    // The switch hung up after the message: its BYE reached the carrier.
    assert!(log.contains("BYE sip:"), "no BYE from the switch");
    server.stop();
}

#[test]
fn a_broadcast_callee_who_presses_9_is_put_on_the_do_not_call_table_before_the_call_ends() {
    let port = common::free_port();
    let c = broadcast_config(port, "optout", "");
    let server = Server::start(&c);
    let callees = Sipp::new("callee_press.xml", Transport::Udp, "customer")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000)
        .key("press", "/usr/share/sip-tester/dtmf_2833_9.pcap")
        .timeout_secs(120)
        .spawn(&server);
    import(&server, CAMPAIGN, &[(number(6), None), (number(16), None)]);
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 2, 60);
    callees.kill();
    let list = get(&server, "/api/v1/dnc");
    for a in &attempts {
        let detail = detail(a);
        assert_eq!(detail["key"], "9", "{a}");
        assert_eq!(detail["opted_out"], a["phone"], "{a}");
        assert!(
            list["dnc"]
                .as_array()
                .expect("dnc")
                .iter()
                .any(|r| r["phone"] == a["phone"]),
            "{list}"
        );
    }
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    assert_eq!(status["counts"]["results"]["opted_out"], 2, "{status}");
    assert_eq!(status["counts"]["results"]["key_pressed"], 2, "{status}");
    // Never dialled again, whichever path asks.
    let (status, body) = http_post(
        server.http,
        "/api/v1/agents/1001/dial",
        &format!(r#"{{"number":"{}","campaign":"{CAMPAIGN}"}}"#, number(6)),
    )
    .expect("dial");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("do_not_call"), "{body}");
    server.stop();
}

/// A broadcast campaign running the shipped `scripts/billing_reminder.lua`,
/// its 0s going to the queue `support` of `agents`; `extra` is more
/// campaign YAML (indented lines), or nothing.
fn billing_config(port: u16, agents: &[&str], extra: &str) -> common::Config {
    let mut c = config(port, ALWAYS, None);
    let members = agents
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    c.extra_yaml = c
        .extra_yaml
        .replace(
            "mode: predictive\n",
            &format!("mode: broadcast\n    broadcast: billing_reminder\n{extra}"),
        )
        .replace(
            "queues:\n",
            &format!(
                "queues:\n  - name: support\n    members: [{members}]\n    ring_timeout_s: 5\n    \
                 announce_every_s: 0\n"
            ),
        );
    c
}

/// A pcap of a clip of tests/amd/clips, as sipp's RTP, in the server's
/// directory.
fn clip_pcap(server: &Server, clip: &str) -> String {
    let samples =
        common::audio::read_wav_8k(&common::tests_dir("amd/clips").join(clip)).expect("clip");
    let pcap = server.dir.join(format!("{clip}.pcap"));
    common::audio::write_rtp_pcap(&pcap, &samples).expect("pcap");
    pcap.to_str().expect("path").to_owned()
}

#[test]
fn the_shipped_billing_reminder_says_the_bill_and_a_0_reaches_an_agent() {
    let port = common::free_port();
    let c = billing_config(port, &[ALICE.id], "");
    let server = Server::start(&c);
    let callees = Sipp::new("callee_press.xml", Transport::Udp, "customer")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000)
        .key("press", "/usr/share/sip-tester/dtmf_2833_0.pcap")
        .timeout_secs(120)
        .spawn(&server);
    let alice = agent_phone(&server, &ALICE, 1000);
    import_csv(
        &server,
        CAMPAIGN,
        &format!("phone,amount,due\n{},128.50,2026-12-15\n", number(6)),
    );
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 1, 60);
    callees.kill();
    alice.kill();
    let detail = detail(&attempts[0]);
    assert_eq!(detail["key"], "0", "{detail}");
    assert_eq!(detail["transferred"], "yes", "{detail}");
    // Alice took it from the queue: the call's CDR says so.
    let cdrs = get(&server, "/api/v1/cdrs?limit=10");
    assert!(
        cdrs["cdrs"]
            .as_array()
            .expect("cdrs")
            .iter()
            .any(|c| c["queue"] == "support" && c["agent"] == ALICE.id),
        "{cdrs}"
    );
    server.stop();
}

/// A callee sipp that answers and plays `clip` (a file of tests/amd/clips)
/// as its RTP, then waits for the switch's BYE.
fn greeting_callee(server: &Server, port: u16, clip: &str) -> Running {
    Sipp::new("callee_greeting.xml", Transport::Udp, "customer")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000)
        .key("greeting", &clip_pcap(server, clip))
        .timeout_secs(120)
        .spawn(server)
}

#[test]
fn answering_machines_are_detected_and_hung_up_on_and_people_hear_the_broadcast() {
    let port = common::free_port();
    let c = broadcast_config(port, "notice", "amd: { action: hangup }");
    let server = Server::start(&c);
    // A voicemail greeting (Mandarin, with a beep at the end).
    let machines = greeting_callee(&server, port, "m01_zh_wufa_jietong_beep.wav");
    import(&server, CAMPAIGN, &[(number(6), None), (number(16), None)]);
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 2, 60);
    machines.kill();
    for a in &attempts {
        assert_eq!(a["outcome"], "machine", "{a}");
        let lasted =
            a["ended_ms"].as_i64().expect("end") - a["answered_ms"].as_i64().expect("answer");
        assert!(lasted < 6_000, "hung up on the machine after {lasted} ms");
    }
    // A person who says "喂?" and waits hears the broadcast.
    let people = greeting_callee(&server, port, "h01_zh_wei.wav");
    let csv = format!("phone,name\n{},王芳\n", number(26));
    let (status, body) = http_post(
        server.http,
        &format!("/api/v1/campaigns/{CAMPAIGN}/contacts"),
        &csv,
    )
    .expect("post");
    assert_eq!(status, 200, "{body}");
    let attempts = wait_outcomes(&server, CAMPAIGN, 3, 60);
    people.kill();
    let person = attempts
        .iter()
        .find(|a| a["phone"] == number(26).as_str())
        .expect("attempt");
    assert_eq!(person["outcome"], "answered", "{person}");
    let detail = detail(person);
    assert_eq!(detail["amd"], "human", "{detail}");
    assert_eq!(detail["heard"], "end", "{detail}");
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    assert_eq!(status["counts"]["results"]["machine"], 2, "{status}");
    server.stop();
}

#[test]
fn a_broadcast_leaves_its_message_on_a_machine_after_the_beep() {
    let port = common::free_port();
    let c = broadcast_config(port, "notice", "amd: { action: message }");
    let server = Server::start(&c);
    // The greeting's beep starts 8.84 s into the clip (tests/amd/labels.csv).
    let machine = greeting_callee(&server, port, "m01_zh_wufa_jietong_beep.wav");
    import(&server, CAMPAIGN, &[(number(6), None)]);
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 1, 60);
    machine.kill();
    let a = &attempts[0];
    assert_eq!(a["outcome"], "machine", "{a}");
    let detail = detail(a);
    assert_eq!(detail["machine"], "yes", "{detail}");
    assert_eq!(
        detail["heard"], "end",
        "the message played to its end: {detail}"
    );
    let lasted = a["ended_ms"].as_i64().expect("end") - a["answered_ms"].as_i64().expect("answer");
    assert!(
        lasted > 9_000,
        "the message started before the beep: {lasted} ms"
    );
    server.stop();
}

/// What a customer of `sipp/callee_mixed.xml` does, by the dialled
/// number's last digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Callee {
    /// 0: presses 0 to reach an agent.
    Agent,
    /// 1: presses 1 once to hear it again.
    Again,
    /// 9: presses 9, never to be called again.
    OptOut,
    /// 2, 3: a voicemail greeting.
    Machine,
    /// 4 to 8: says hello and listens to the end.
    Listener,
}

fn callee(phone: &str) -> Callee {
    match phone.chars().last() {
        Some('0') => Callee::Agent,
        Some('1') => Callee::Again,
        Some('9') => Callee::OptOut,
        Some('2' | '3') => Callee::Machine,
        _ => Callee::Listener,
    }
}

/// One sipp for every customer of `sipp/callee_mixed.xml`, on the
/// carrier's port.
fn mixed_callees(server: &Server, port: u16) -> Running {
    let dtmf = |d: &str| format!("/usr/share/sip-tester/dtmf_2833_{d}.pcap");
    Sipp::new("callee_mixed.xml", Transport::Udp, "customer")
        .local_port(port)
        .media_port(sipp_media_port())
        .calls(1_000_000)
        .key("hello", &clip_pcap(server, "h01_zh_wei.wav"))
        .key(
            "machine",
            &clip_pcap(server, "m01_zh_wufa_jietong_beep.wav"),
        )
        .key("press0", &dtmf("0"))
        .key("press1", &dtmf("1"))
        .key("press9", &dtmf("9"))
        .timeout_secs(900)
        .spawn(server)
}

/// A bill list: `phone,amount,due`, each customer with an amount of their
/// own.
fn bills(phones: &[String]) -> String {
    let mut csv = String::from("phone,amount,due\n");
    for (i, p) in phones.iter().enumerate() {
        csv.push_str(&format!("{p},{}.{:02},2026-12-15\n", 30 + i, i % 100));
    }
    csv
}

fn detail(attempt: &Value) -> Value {
    attempt["detail"]
        .as_str()
        .map(|d| serde_json::from_str(d).expect("detail json"))
        .unwrap_or(Value::Null)
}

#[test]
fn a_broadcast_to_three_hundred_customers_stores_what_each_one_did() {
    let port = common::free_port();
    let mut c = billing_config(port, &[ALICE.id, BOB.id], "    amd: { action: hangup }\n");
    c.extra_yaml = c.extra_yaml.replace("max_lines: 12", "max_lines: 80");
    let server = Server::start(&c);
    let callees = mixed_callees(&server, port);
    let alice = agent_phone(&server, &ALICE, 1000);
    let bob = agent_phone(&server, &BOB, 1000);
    // 303 customers: every last digit 33 times, but only six 0s (two
    // agents take the transfers).
    let phones: Vec<String> = (1..=330)
        .filter(|i| i % 10 != 0 || i % 50 == 0)
        .map(number)
        .collect();
    import_csv(&server, CAMPAIGN, &bills(&phones));
    start(&server, CAMPAIGN);
    // (The machines' contacts are tried again in four hours, so the
    // campaign itself does not finish.)
    let attempts = wait_outcomes(&server, CAMPAIGN, phones.len(), 600);

    // One attempt per customer, and what it stored is what they did.
    let mut kinds: BTreeMap<Callee, usize> = BTreeMap::new();
    let by_phone: BTreeMap<&str, &Value> = attempts
        .iter()
        .map(|a| (a["phone"].as_str().expect("phone"), a))
        .collect();
    assert_eq!(by_phone.len(), phones.len(), "one attempt per customer");
    for phone in &phones {
        let a = by_phone[phone.as_str()];
        let d = detail(a);
        let kind = callee(phone);
        *kinds.entry(kind).or_default() += 1;
        match kind {
            Callee::Machine => {
                assert_eq!(a["outcome"], "machine", "{a}");
                assert!(d["heard"].is_null(), "a machine heard the flow: {a}");
            }
            _ => {
                assert_eq!(a["outcome"], "answered", "{a}");
                // "Unsure" is dialled on like a person (a busy sipp can
                // start its "喂?" late); never a machine.
                assert!(d["amd"] == "human" || d["amd"] == "unsure", "{a}");
            }
        }
        match kind {
            Callee::Listener => {
                assert_eq!(d["heard"], "end", "{a}");
                assert!(d["key"].is_null(), "{a}");
            }
            Callee::Again => {
                // Interrupted once, then heard again to the end.
                assert_eq!(d["keys"], "1", "{a}");
                assert_eq!(d["heard"], "end", "{a}");
            }
            Callee::OptOut => {
                assert_eq!(d["key"], "9", "{a}");
                assert_eq!(d["opted_out"], phone.as_str(), "{a}");
            }
            Callee::Agent => {
                assert_eq!(d["key"], "0", "{a}");
                assert_eq!(d["transferred"], "yes", "{a}");
            }
            Callee::Machine => {}
        }
    }
    let n = |k: Callee| kinds.get(&k).copied().unwrap_or(0) as u64;
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    let results = &status["counts"]["results"];
    assert_eq!(results["machine"], n(Callee::Machine), "{status}");
    assert_eq!(
        results["answered"],
        phones.len() as u64 - n(Callee::Machine),
        "{status}"
    );
    assert_eq!(
        results["key_pressed"],
        n(Callee::Agent) + n(Callee::Again) + n(Callee::OptOut),
        "{status}"
    );
    assert_eq!(results["opted_out"], n(Callee::OptOut), "{status}");
    assert_eq!(results["transferred"], n(Callee::Agent), "{status}");
    assert_eq!(
        results["heard_to_end"],
        n(Callee::Listener) + n(Callee::Again),
        "{status}"
    );

    // Each 0 reached an agent: a CDR of the support queue with the agent.
    let cdrs = get(&server, "/api/v1/cdrs?limit=1000");
    let answered_by_agents = cdrs["cdrs"]
        .as_array()
        .expect("cdrs")
        .iter()
        .filter(|c| c["queue"] == "support" && (c["agent"] == ALICE.id || c["agent"] == BOB.id))
        .count();
    assert_eq!(answered_by_agents as u64, n(Callee::Agent), "{cdrs}");

    // A follow-up campaign with the 9s and ten listeners: the 9s are
    // refused at the dial point, the listeners are called again.
    let followup = r#"{"name": "followup", "mode": "broadcast", "broadcast": "billing_reminder", "max_lines": 20,
        "trunk_group": "carrier", "caller_id": "+862150001234",
        "window": {"days": {"mon-sun": ["00:00-24:00"]}, "rest": []},
        "import": {"default_timezone": "Asia/Shanghai"}}"#;
    let (status, body) = http_post(server.http, "/api/v1/campaigns", followup).expect("post");
    assert_eq!(status, 201, "{body}");
    let nines: Vec<String> = phones
        .iter()
        .filter(|p| callee(p) == Callee::OptOut)
        .cloned()
        .collect();
    let again: Vec<String> = phones
        .iter()
        .filter(|p| callee(p) == Callee::Listener)
        .take(10)
        .cloned()
        .collect();
    let list: Vec<String> = nines.iter().chain(&again).cloned().collect();
    let (status, body) = http_post(
        server.http,
        "/api/v1/campaigns/followup/contacts",
        &bills(&list),
    )
    .expect("post");
    assert_eq!(status, 200, "{body}");
    start(&server, "followup");
    server.wait_for("the follow-up to finish", Duration::from_secs(120), |s| {
        get(s, "/api/v1/campaigns/followup")["state"] == "finished"
    });
    let log = callees.kill().messages;
    alice.kill();
    bob.kill();
    let refusals = get(&server, "/api/v1/refusals?limit=10000");
    let refused: BTreeSet<&str> = refusals["refusals"]
        .as_array()
        .expect("refusals")
        .iter()
        .filter(|r| r["campaign"] == "followup" && r["reason"] == "do_not_call")
        .filter_map(|r| r["phone"].as_str())
        .collect();
    for p in &nines {
        assert!(refused.contains(p.as_str()), "{p} not refused: {refusals}");
    }
    // The customers' own log: every number dialled once, the ten
    // listeners twice, no 9 a second time.
    let invites = carrier_invites(&log);
    // Every call shows the campaign's caller ID.
    for invite in log.split("INVITE sip:").skip(1) {
        let from = invite
            .lines()
            .find(|l| l.starts_with("From:"))
            .unwrap_or("");
        assert!(from.contains("+862150001234"), "{from}");
    }
    for p in &phones {
        let times = invites.get(p).map_or(0, BTreeSet::len);
        let want = if again.contains(p) { 2 } else { 1 };
        assert_eq!(times, want, "{p} ({:?}) dialled {times} times", callee(p));
    }
    server.stop();
}

/// Where each of `fragments` (prompt names under `prompts/`) starts in
/// `heard`, searched in order from sample `from`: each one within
/// `gap_s` seconds of the end of the one before. Panics naming the first
/// fragment not found.
fn find_in_order(heard: &[f32], from: usize, gap_s: usize, fragments: &[&str]) -> Vec<usize> {
    const RATE: usize = 8000;
    let mut cursor = from;
    let mut starts = Vec::new();
    for name in fragments {
        let path = common::repo_dir(&format!("prompts/{name}.wav"));
        let prompt = common::audio::read_wav_8k(&path).expect("prompt");
        // The middle of the prompt (at most 0.4 s): its edges are
        // near-silence, which matches anything quiet.
        let len = prompt.len().min(RATE * 2 / 5).max(prompt.len() * 3 / 5);
        let offset = (prompt.len() - len) / 2;
        let excerpt = &prompt[offset..offset + len];
        let lags = cursor + offset..(cursor + offset + gap_s * RATE).min(heard.len());
        let (correlation, lag) = common::audio::best_correlation(excerpt, heard, lags);
        assert!(
            correlation > 0.9,
            "{name} not heard after {:.2} s (best correlation {correlation:.3} at {:.2} s); found so far {:?}",
            cursor as f64 / RATE as f64,
            lag as f64 / RATE as f64,
            fragments
                .iter()
                .zip(&starts)
                .map(|(f, s)| format!("{f}@{:.2}", *s as f64 / RATE as f64))
                .collect::<Vec<_>>()
        );
        let start = lag - offset;
        starts.push(start);
        // The next fragment starts after this one ends (less a little: the
        // player may trim its silence).
        cursor = start + prompt.len().saturating_sub(RATE / 10);
    }
    starts
}

#[test]
fn a_baresip_customer_hears_the_bill_prompt_by_prompt_with_their_own_amount_and_date() {
    let port = common::free_port();
    // No machine detection: this customer listens in silence.
    let server = Server::start(&billing_config(port, &[ALICE.id], ""));
    let dir = server.dir.clone();
    // baresip hangs up when its microphone file ends: a minute of quiet.
    let quiet = server.dir.join("quiet.wav");
    common::audio::write_wav_8k(&quiet, &vec![0.0; 60 * 8000]).expect("wav");
    // baresip answers 404 unless the Request-URI's user is its account's.
    let customer = std::thread::spawn(move || {
        Baresip::new(
            &number(6),
            "unused",
            common::DOMAIN,
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .listen(port)
        .auto_answer()
        .input(&quiet)
        // The call lasts about 30 s: the message, 6 s for a key, goodbye.
        .quit_after_secs(38)
        .run(&dir)
    });
    // baresip holds its port once it is up.
    server.wait_for("baresip to listen", Duration::from_secs(20), |_| {
        std::net::UdpSocket::bind(("127.0.0.1", port)).is_err()
    });
    import_csv(
        &server,
        CAMPAIGN,
        &format!("phone,amount,due\n{},128.50,2026-12-15\n", number(6)),
    );
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 1, 90);
    let outcome = customer.join().expect("baresip thread");
    assert_eq!(attempts[0]["outcome"], "answered", "{}", attempts[0]);
    assert!(outcome.established(), "baresip log:\n{}", outcome.log);
    let heard = common::audio::read_wav_8k(outcome.received()).expect("baresip's recording");
    // 您好，这里是外呼客服中心。您本月的话费是 一百二十八元五角。
    // 缴费截止日期是 十二月十五日。重听请按1…… 再见。
    // Fragments follow each other within a couple of seconds (the
    // player's pauses, the switch's scheduling).
    let starts = find_in_order(
        &heard,
        0,
        3,
        &[
            "zh/bill_intro",
            "zh/num/1",
            "zh/num/bai",
            "zh/num/2",
            "zh/num/shi",
            "zh/num/8",
            "zh/num/yuan",
            "zh/num/5",
            "zh/num/jiao",
            "zh/bill_due",
            "zh/num/shi",
            "zh/num/2",
            "zh/num/yue",
            "zh/num/shi",
            "zh/num/5",
            "zh/num/ri",
            "zh/bill_menu",
        ],
    );
    // The menu waits for a key (6 s) before the goodbye.
    let menu = common::audio::read_wav_8k(&common::repo_dir("prompts/zh/bill_menu.wav"))
        .expect("prompt")
        .len();
    let menu_end = starts[16] + menu;
    let goodbye = find_in_order(&heard, menu_end, 9, &["zh/goodbye"])[0];
    let wait = goodbye as f64 - menu_end as f64;
    assert!(
        (5.0 * 8000.0..8.0 * 8000.0).contains(&wait),
        "the menu waited {:.2} s for a key",
        wait / 8000.0
    );
    server.stop();
}

#[test]
fn a_segment_of_a_predictive_campaign_gets_the_broadcast_beside_the_agents_calls() {
    let port = common::free_port();
    let mut c = config(port, ALWAYS, None);
    c.scripts_dir = common::tests_dir("scripts/broadcast");
    c.extra_yaml = c.extra_yaml.replace(
        "mode: predictive\n",
        "mode: predictive\n    broadcast: notice\n",
    );
    let server = Server::start(&c);
    let carrier = carrier(&server, port);
    let alice = agent_phone(&server, &ALICE, 500);
    let bob = agent_phone(&server, &BOB, 500);
    // Numbers ending in 6, 7 or 8: the carrier answers them all.
    let rows: Vec<(String, &str)> = (0..12)
        .map(|i| {
            let n = number(100 + i * 10 + [6, 7, 8][i as usize % 3]);
            (n, if i % 2 == 0 { "notice" } else { "sales" })
        })
        .collect();
    let mut csv = String::from("phone,segment,name\n");
    for (phone, segment) in &rows {
        csv.push_str(&format!("{phone},{segment},客户\n"));
    }
    let (status, body) = http_post(
        server.http,
        &format!("/api/v1/campaigns/{CAMPAIGN}/contacts"),
        &csv,
    )
    .expect("post");
    assert_eq!(status, 200, "{body}");
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, rows.len(), 120);
    carrier.kill();
    alice.kill();
    bob.kill();
    for (phone, segment) in &rows {
        let a = attempts
            .iter()
            .find(|a| a["phone"] == phone.as_str())
            .unwrap_or_else(|| panic!("no attempt for {phone}"));
        if *segment == "notice" {
            assert_eq!(a["mode"], "broadcast", "{a}");
            assert_eq!(a["outcome"], "answered", "{a}");
            assert!(a["agent"].is_null(), "{a}");
            assert_eq!(detail(a)["heard"], "end", "{a}");
        } else {
            assert_eq!(a["mode"], "predictive", "{a}");
            assert!(
                a["outcome"] == "answered" || a["outcome"] == "abandoned",
                "{a}"
            );
            assert!(detail(a)["heard"].is_null(), "{a}");
        }
    }
    // The pacer counted only its own (predictive) dials.
    let status = get(&server, &format!("/api/v1/campaigns/{CAMPAIGN}"));
    assert_eq!(
        status["dialer"]["pacing"]["dials"],
        rows.iter().filter(|(_, s)| *s != "notice").count(),
        "{status}"
    );
    server.stop();
}

#[test]
fn a_broadcast_speaks_the_campaign_s_language_unless_the_contact_has_one() {
    let port = common::free_port();
    let server = Server::start(&billing_config(port, &[ALICE.id], "    lang: en\n"));
    let carrier = carrier(&server, port);
    let csv = format!(
        "phone,amount,due,lang\n{},12.30,2026-12-01,\n{},45.60,2026-12-02,zh\n",
        number(6),
        number(16)
    );
    let (status, body) = http_post(
        server.http,
        &format!("/api/v1/campaigns/{CAMPAIGN}/contacts"),
        &csv,
    )
    .expect("post");
    assert_eq!(status, 200, "{body}");
    start(&server, CAMPAIGN);
    let attempts = wait_outcomes(&server, CAMPAIGN, 2, 90);
    carrier.kill();
    // What each call played, from the switch's log of the flow's commands.
    let log = server.log();
    for (n, lang) in [(6, "en"), (16, "zh")] {
        let a = attempts
            .iter()
            .find(|a| a["phone"] == number(n).as_str())
            .expect("attempt");
        assert_eq!(detail(a)["heard"], "end", "{a}");
        let call_id = a["call_id"].as_str().expect("call id");
        let played: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(call_id) && l.contains("Prompt { name: \""))
            .flat_map(|l| l.split("Prompt { name: \"").skip(1))
            .filter_map(|p| p.split('"').next())
            .collect();
        assert!(
            played.contains(&format!("{lang}/bill_intro").as_str()),
            "{n}: {played:?}"
        );
        assert!(
            played.iter().all(|p| p.starts_with(lang)),
            "{n} mixes languages: {played:?}"
        );
    }
    server.stop();
}
