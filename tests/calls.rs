//! Calls through the running binary, driven by the shipped `scripts/route.lua`,
//! with real clients: sipp (signalling, pcap audio and RFC 4733 digits) and
//! baresip (a softphone with file audio).
//!
//! Extensions of the demo route: 600 echo, 601 playback, 602 digits
//! read-back, 603 recording.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use common::audio::{self, RtpTap};
use common::baresip::Baresip;
use common::sip::{Peer, Request, Transport};
use common::sipp::Sipp;
use common::{ALICE, BOB, Config, DOMAIN, Server, http_get, register_at, sipp_media_port};
use serde_json::Value;

/// The CDRs of calls to `extension`, newest first, once at least one exists.
fn cdrs_to(server: &Server, extension: &str) -> Vec<Value> {
    let mut found = Vec::new();
    server.wait_for("a CDR", Duration::from_secs(10), |server| {
        let (status, body) = http_get(server.http, "/api/v1/cdrs?limit=50").expect("GET cdrs");
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).expect("cdr json");
        found = json["cdrs"]
            .as_array()
            .expect("cdrs array")
            .iter()
            .filter(|c| {
                c["to"]
                    .as_str()
                    .is_some_and(|t| t.contains(&format!("sip:{extension}@")))
            })
            .cloned()
            .collect();
        !found.is_empty()
    });
    found
}

fn sipp_call<'a>(scenario: &'a str, extension: &str) -> Sipp<'a> {
    Sipp::new(scenario, Transport::Udp, extension)
        .credentials(
            ALICE.id,
            ALICE.password,
            &format!("sip:{extension}@{DOMAIN}"),
        )
        .timeout_secs(30)
}

#[test]
fn echo_extension_sends_the_callers_audio_back() {
    let server = Server::start(&Config::default());
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    sipp_call("call_echo.xml", "600")
        .media_port(media_port)
        .run(&server)
        .assert_success("echo call");
    let received = tap.finish();
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("g711a.pcap");
    let echoed = audio::echoed(&sent, &received);
    // The caller streams 7 s (30 ms packets); the first 4.5 s arrive
    // while the intro prompt still plays, the rest (about 80) must come back.
    assert!(
        echoed >= 50,
        "only {echoed} of the caller's packets came back ({} received)",
        received.len()
    );
    let cdr = &cdrs_to(&server, "600")[0];
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    assert!(cdr["answer_ms"].is_i64(), "{cdr}");
    server.stop();
}

#[test]
fn rfc4733_digits_from_the_sipp_pcaps_are_collected_once_each() {
    let server = Server::start(&Config::default());
    sipp_call("call_dtmf.xml", "602")
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("dtmf call");
    let cdr = &cdrs_to(&server, "602")[0];
    // The pcaps press 1, 2, 3 and #: each must appear exactly once.
    assert_eq!(cdr["digits"], "123#", "{cdr}");
    assert_eq!(cdr["vars"]["digits"], "123", "{cdr}");
    // The route read the digits back and hung up itself.
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    server.stop();
}

#[test]
fn playback_extension_plays_and_hangs_up() {
    let server = Server::start(&Config::default());
    sipp_call("call_playback.xml", "601")
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("playback call");
    let cdr = &cdrs_to(&server, "601")[0];
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    assert_eq!(cdr["hangup_cause"], "normal", "{cdr}");
    let answered = cdr["answer_ms"].as_i64().expect("answered");
    let ended = cdr["end_ms"].as_i64().expect("ended");
    // en/welcome + en/goodbye last about 1.5 s.
    assert!(ended - answered >= 1000, "{cdr}");
    // The CDR is in the store file for `waihu cdr export` (a reader beside
    // the running switch: the store is in WAL mode).
    let export = |args: &[&str]| server.cdr_export(args);
    let csv = export(&["--since", "1h"]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("call_id,from,to,start")),
        "{csv}"
    );
    let row = lines.next().unwrap_or_else(|| panic!("no row:\n{csv}"));
    assert!(
        row.contains("sip:601@") && row.contains(",switch,normal,"),
        "{row}"
    );
    assert_eq!(lines.next(), None, "{csv}");
    let future = export(&["--since", "2099-01-01T00:00:00Z"]);
    assert_eq!(future.lines().count(), 1, "only the header: {future}");
    let json = export(&["--format", "json"]);
    let first: Value = serde_json::from_str(json.lines().next().expect("a line")).expect("json");
    assert_eq!(first["hangup_by"], "switch");
    server.stop();
}

#[test]
fn recording_extension_records_the_caller_on_the_left_channel() {
    let server = Server::start(&Config::default());
    // The caller streams g711a.pcap for 7 s; the recording starts after
    // the 4.6 s intro and ends when the caller hangs up.
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    sipp_call("call_echo.xml", "603")
        .media_port(media_port)
        .run(&server)
        .assert_success("recording call");
    drop(tap);
    let cdr = &cdrs_to(&server, "603")[0];
    let path = cdr["recording"]
        .as_str()
        .unwrap_or_else(|| panic!("no recording in {cdr}"));
    let mut reader = hound::WavReader::open(path).expect("the recording is a valid WAV");
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let left: Vec<f32> = samples
        .iter()
        .step_by(2)
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    assert!(left.len() >= 8000, "{} frames recorded", left.len());
    // A quarter second of what was recorded must be somewhere in what the
    // caller sent.
    let reference = audio::g711a_reference();
    let start = left.len() / 2;
    let excerpt = &left[start..start + 2000];
    let lags = 0..reference.len() - excerpt.len();
    let (correlation, lag) = audio::best_correlation(excerpt, &reference, lags);
    assert!(
        correlation > 0.9,
        "the left channel is not the caller's audio: {correlation:.3} at lag {lag}"
    );
    server.stop();
}

#[test]
fn baresip_hears_the_welcome_prompt() {
    // baresip 1.0 (libre) answers the last challenge of a 401 and gives up
    // (ENOSYS) when that one is SHA-256: offer it MD5 alone.
    let server = Server::start(&Config {
        digest_algorithms: &["MD5"],
        ..Config::default()
    });
    let outcome = Baresip::new(ALICE.id, ALICE.password, DOMAIN, server.udp)
        .dial("601")
        .quit_after_secs(6)
        .run(&server.dir);
    assert!(outcome.established(), "baresip log:\n{}", outcome.log);
    let heard = audio::read_wav_8k(outcome.received()).expect("baresip's recording");
    let welcome =
        audio::read_wav_8k(&common::repo_dir("prompts/en/welcome.wav")).expect("the prompt");
    // Half a second from inside the prompt, searched over the first 3 s
    // of what baresip heard.
    let excerpt = &welcome[1600..1600 + 4000];
    let lags = 0..heard.len().saturating_sub(excerpt.len()).min(24_000);
    let (correlation, lag) = audio::best_correlation(excerpt, &heard, lags);
    assert!(
        correlation > 0.9,
        "baresip heard something else: correlation {correlation:.3} at lag {lag}"
    );
    server.stop();
}

#[test]
fn an_invite_without_credentials_is_challenged_and_bad_sdp_is_refused() {
    let server = Server::start(&Config::default());
    let mut peer = Peer::connect(Transport::Udp, server.udp);
    let local = peer.local();
    let invite = |body: &str| {
        let mut r = Request::new("INVITE", &format!("sip:602@{DOMAIN}"))
            .header("Contact", &format!("<sip:1001@{local}>"))
            .header("Content-Type", "application/sdp");
        r.from_user = ALICE.id.to_owned();
        r.body = body.to_owned();
        r
    };
    let good = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
    let cases = [
        ("port 70000", good.replace("40000", "70000"), 400),
        ("garbage", "this is not sdp".to_owned(), 400),
        (
            "no common codec",
            good.replace("RTP/AVP 0", "RTP/AVP 9"),
            488,
        ),
        ("video only", good.replace("m=audio", "m=video"), 488),
    ];
    for (what, body, status) in cases {
        let request = invite(&body);
        let first = peer
            .exchange(&request)
            .unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(
            first.status, 401,
            "{what}: an INVITE without credentials is challenged"
        );
        let challenge = first.challenge("MD5");
        let response = peer
            .exchange_authorized(&request.next(), &challenge, ALICE.id, ALICE.password)
            .unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(response.status, status, "{what}");
    }
    // The switch is still serving calls.
    sipp_call("call_playback.xml", "601")
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("a call after the refusals");
    server.stop();
}

#[test]
fn dial_bridges_two_phones_and_a_stranger_cannot_inject_audio() {
    let server = bridge_two_phones_under_a_spray("auto", (31000, 31007));
    // The relay engine is on io_uring wherever the kernel allows it.
    let allowed = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|v| v.trim() == "0");
    let uring = server.metric("waihu_relay_uring_threads");
    assert_eq!(
        uring > 0.0,
        allowed,
        "io_uring allowed: {allowed}, threads: {uring}"
    );
    server.stop();
}

#[test]
fn the_epoll_relay_bridges_two_phones_and_a_stranger_cannot_inject_audio() {
    let server = bridge_two_phones_under_a_spray("epoll", (31010, 31017));
    assert_eq!(server.metric("waihu_relay_uring_threads"), 0.0);
    server.stop();
}

/// Alice calls Bob's echoing phone for 7 s while a stranger sprays every
/// relay port (a narrow range, `ports`): the audio makes the round trip,
/// none of the stranger's reaches anyone, and the legs count it.
fn bridge_two_phones_under_a_spray(relay_io: &'static str, ports: (u16, u16)) -> Server {
    let server = Server::start(&Config {
        rtp_ports: ports,
        relay_io,
        ..Config::default()
    });
    // Bob's phone: a sipp UAS that echoes whatever RTP reaches it.
    let phone_port = common::free_port();
    let phone = Sipp::new("call_uas_echo.xml", Transport::Udp, "phone")
        .local_port(phone_port)
        .media_port(sipp_media_port())
        .arg("-rtp_echo")
        .timeout_secs(30)
        .spawn(&server);
    register_at(
        &server,
        &BOB,
        std::net::SocketAddr::from(([127, 0, 0, 1], phone_port)),
    );

    // The stranger sprays every relay port for the whole call.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spray = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let mut packet = vec![0x80u8, 8, 0, 0, 0, 0, 0, 0, 0x5a, 0x5a, 0x5a, 0x5a];
            packet.extend([0x55u8; 160]);
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for port in ports.0..=ports.1 {
                    packet[3] = sent as u8;
                    let _ = socket.send_to(&packet, ("127.0.0.1", port));
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            sent
        })
    };

    // Alice calls Bob through the demo route's 1xxx rule.
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    sipp_call("call_echo.xml", BOB.id)
        .media_port(media_port)
        .run(&server)
        .assert_success("the caller");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sprayed = spray.join().expect("sprayer");
    phone.wait().assert_success("the phone");

    let received = tap.finish();
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("g711a.pcap");
    let echoed = audio::echoed(&sent, &received);
    // 7 s of 30 ms packets went caller -> switch -> phone -> switch -> caller.
    assert!(
        echoed >= 150,
        "only {echoed} packets made the round trip ({} received)",
        received.len()
    );
    let injected = received
        .iter()
        .filter(|p| p.payload.iter().all(|&b| b == 0x55))
        .count();
    assert_eq!(injected, 0, "the stranger's packets reached the caller");
    assert!(
        sprayed > 100,
        "the stranger sent too little to prove anything"
    );
    // The switch saw the spray and dropped it.
    let log = server.log();
    assert!(
        log.contains("bridge handed to the relay engine"),
        "the relay engine never carried the bridge:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("media leg closed") && !l.contains("strangers=0")),
        "no leg counted strangers:\n{log}"
    );
    let cdr = &cdrs_to(&server, BOB.id)[0];
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    // Both legs' figures are in the CDR, and the spray was counted there.
    let media = &cdr["media"];
    for leg in ["caller", "callee"] {
        let received = media[format!("{leg}.received")].as_i64().unwrap_or(0);
        assert!(received >= 150, "{leg}: {media}");
    }
    let strangers = media["caller.strangers"].as_i64().unwrap_or(0)
        + media["callee.strangers"].as_i64().unwrap_or(0);
    assert!(strangers > 0, "{media}");
    server
}

#[test]
fn bad_media_from_the_callers_own_address_is_dropped_and_counted() {
    // One port pair, so the test knows where the call's media goes.
    let server = Server::start(&Config {
        rtp_ports: (31010, 31011),
        ..Config::default()
    });
    let relay = std::net::SocketAddr::from(([127, 0, 0, 1], 31010));
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    let tap = std::sync::Arc::new(tap);
    let attacker = {
        let tap = tap.clone();
        std::thread::spawn(move || {
            // Into the echo phase (after the 4.5 s intro).
            std::thread::sleep(Duration::from_millis(5000));
            // Truncated, wrong version, wrong payload type.
            tap.send_to(&[0x80, 8, 0, 1, 0], relay);
            tap.send_to(&[0x40; 40], relay);
            let mut pcmu = vec![0x80u8, 0, 0, 9, 0, 0, 0, 9, 1, 2, 3, 4];
            pcmu.extend([0xffu8; 160]);
            tap.send_to(&pcmu, relay);
            // A storm: 1000 telephone-events for '5' in one second, each a
            // new event with its end bit set.
            for i in 0..1000u32 {
                let seq = (i as u16).to_be_bytes();
                let ts = (i * 8).to_be_bytes();
                let mut event = vec![0x80u8, 101 | 0x80, seq[0], seq[1]];
                event.extend(ts);
                event.extend([9, 9, 9, 9, 5, 0x80 | 10, 0, 160]);
                tap.send_to(&event, relay);
                std::thread::sleep(Duration::from_micros(1000));
            }
        })
    };
    sipp_call("call_echo.xml", "600")
        .media_port(media_port)
        .run(&server)
        .assert_success("the caller");
    attacker.join().expect("attacker");
    let tap = std::sync::Arc::try_unwrap(tap).expect("the only tap");
    let received = tap.finish();
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("g711a.pcap");
    assert!(
        audio::echoed(&sent, &received) >= 50,
        "the echo stopped working"
    );
    let cdr = &cdrs_to(&server, "600")[0];
    let digits = cdr["digits"].as_str().expect("digits");
    assert!(
        !digits.is_empty() && digits.len() <= 25 && digits.chars().all(|c| c == '5'),
        "the storm was not capped: {digits:?}"
    );
    let log = server.log();
    let closed = log
        .lines()
        .find(|l| l.contains("media leg closed"))
        .unwrap_or_else(|| panic!("no media stats in\n{log}"));
    for counter in ["bad=0", "wrong_type=0", "dtmf_storm_dropped=0"] {
        assert!(!closed.contains(counter), "{counter}: {closed}");
    }
    server.stop();
}

#[test]
fn a_caller_that_sends_no_rtp_is_hung_up_after_the_media_timeout() {
    let server = Server::start(&Config {
        rtp_timeout_s: 2,
        ..Config::default()
    });
    // The playback scenario sends no audio; the echo extension never ends
    // by itself, so only the media timeout can end this call.
    sipp_call("call_playback.xml", "600")
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("a silent caller");
    let cdr = &cdrs_to(&server, "600")[0];
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    assert_eq!(cdr["hangup_cause"], "failure", "{cdr}");
    let answered = cdr["answer_ms"].as_i64().expect("answered");
    let ended = cdr["end_ms"].as_i64().expect("ended");
    assert!((1500..6000).contains(&(ended - answered)), "{cdr}");
    assert!(server.log().contains("no rtp from the caller"));
    server.stop();
}

#[test]
fn a_caller_who_gives_up_while_the_phone_rings_cancels_the_phone_too() {
    let server = Server::start(&Config::default());
    let phone_port = common::free_port();
    let phone = Sipp::new("call_uas_ring.xml", Transport::Udp, "phone")
        .local_port(phone_port)
        .timeout_secs(30)
        .spawn(&server);
    register_at(
        &server,
        &BOB,
        std::net::SocketAddr::from(([127, 0, 0, 1], phone_port)),
    );
    sipp_call("call_cancel.xml", BOB.id)
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("the caller who cancels");
    phone.wait().assert_success("the phone that is cancelled");
    let cdr = &cdrs_to(&server, BOB.id)[0];
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    assert_eq!(cdr["sip_status"], 487, "{cdr}");
    assert!(cdr["answer_ms"].is_null(), "{cdr}");
    server.stop();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_reload_changes_new_calls_and_leaves_calls_in_progress_alone() {
    let scripts = common::scratch("waihu-route-reload");
    copy_dir(&common::repo_dir("scripts"), &scripts);
    let server = Server::start(&Config {
        scripts_dir: scripts.to_path_buf(),
        ..Config::default()
    });
    // A 7 s echo call on version 1.
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    let first = sipp_call("call_echo.xml", "600")
        .media_port(media_port)
        .spawn(&server);
    std::thread::sleep(Duration::from_millis(1500));

    // Version 2: 600 says goodbye and hangs up.
    let route = scripts.join("route.lua");
    let mut text = std::fs::read_to_string(&route).expect("route.lua");
    text.push_str(
        "\nEXTENSIONS[\"600\"] = function(call)\n  call:play(\"en/goodbye\")\n  call:hangup()\nend\ntests = {}\n",
    );
    std::fs::write(&route, text).expect("write route.lua");
    let (status, body) =
        common::http_post(server.http, "/api/v1/scripts/reload", "{}").expect("reload");
    assert_eq!(status, 200, "{body}");

    // A new call gets version 2: the switch hangs up after the goodbye.
    sipp_call("call_playback.xml", "600")
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("a call on version 2");
    first
        .wait()
        .assert_success("the call that started on version 1");

    // The first call echoed to its end, on version 1.
    let received = tap.finish();
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("g711a.pcap");
    assert!(
        audio::echoed(&sent, &received) >= 50,
        "the call in progress lost its echo"
    );
    let cdrs = cdrs_to(&server, "600");
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    let by_version = |v: u64| {
        cdrs.iter()
            .find(|c| c["script_version"] == v)
            .unwrap_or_else(|| panic!("no call on version {v}: {cdrs:?}"))
    };
    assert_eq!(by_version(1)["hangup_by"], "caller");
    assert_eq!(by_version(2)["hangup_by"], "switch");
    server.stop();
}

/// Waits until the API lists an answered call, and returns its Call-ID.
fn answered_call(server: &Server) -> String {
    let mut call_id = String::new();
    server.wait_for(
        "an answered call in /api/v1/calls",
        Duration::from_secs(10),
        |server| {
            let (status, body) = http_get(server.http, "/api/v1/calls").expect("GET calls");
            assert_eq!(status, 200, "{body}");
            let json: Value = serde_json::from_str(&body).expect("calls json");
            match json["calls"].as_array().and_then(|c| c.first()) {
                Some(call) if call["answered"] == true => {
                    call_id = call["call_id"].as_str().expect("call_id").to_owned();
                    true
                }
                _ => false,
            }
        },
    );
    call_id
}

fn command(server: &Server, call_id: &str, json: &str) -> (u16, Value) {
    let (status, body) = common::http_post(
        server.http,
        &format!("/api/v1/calls/{call_id}/commands"),
        json,
    )
    .expect("POST command");
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[test]
fn the_api_records_a_call_and_sends_it_dtmf() {
    let server = Server::start(&Config::default());
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    let caller = sipp_call("call_echo.xml", "600")
        .media_port(media_port)
        .spawn(&server);
    let call_id = answered_call(&server);

    let (status, event) = command(
        &server,
        &call_id,
        r#"{"type":"record","file":"api/one.wav","mode":"stereo"}"#,
    );
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["type"], "recording_started", "{event}");
    let (status, event) = command(&server, &call_id, r#"{"type":"send_dtmf","digits":"159"}"#);
    assert_eq!(
        (status, event["type"].as_str()),
        (200, Some("dtmf_sent")),
        "{event}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let (status, event) = command(&server, &call_id, r#"{"type":"stop_record"}"#);
    assert_eq!(status, 200, "{event}");
    let path = event["path"]
        .as_str()
        .unwrap_or_else(|| panic!("{event}"))
        .to_owned();
    // Commands that belong to the route are refused.
    let (status, event) = command(&server, &call_id, r#"{"type":"echo"}"#);
    assert_eq!(status, 409, "{event}");
    caller.wait().assert_success("the caller");

    let reader = hound::WavReader::open(&path).expect("a valid recording");
    assert!(reader.duration() >= 8000, "{} frames", reader.duration());
    // The digits reached the caller as RFC 4733 events, each with an end.
    let received = tap.finish();
    let mut pressed: Vec<u8> = received
        .iter()
        .filter(|p| p.payload_type == 101 && p.payload.len() == 4 && p.payload[1] & 0x80 != 0)
        .map(|p| p.payload[0])
        .collect();
    pressed.dedup();
    assert_eq!(pressed, [1, 5, 9], "telephone-events seen by the caller");
    server.stop();
}

#[test]
fn the_api_hangs_up_a_call_and_refuses_nonsense() {
    let server = Server::start(&Config::default());
    // The echo extension never ends by itself: only the API ends this call.
    let caller = sipp_call("call_playback.xml", "600")
        .media_port(sipp_media_port())
        .spawn(&server);
    let call_id = answered_call(&server);
    let (status, _) = command(
        &server,
        "no-such-call",
        r#"{"type":"hangup","cause":"normal"}"#,
    );
    assert_eq!(status, 404);
    let (status, _) = command(&server, &call_id, r#"{"type":"explode"}"#);
    assert!((400..500).contains(&status), "{status}");
    let (status, event) = command(&server, &call_id, r#"{"type":"hangup","cause":"normal"}"#);
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["type"], "hung_up", "{event}");
    caller
        .wait()
        .assert_success("the caller, hung up by the API");
    let cdr = &cdrs_to(&server, "600")[0];
    assert_eq!(cdr["hangup_by"], "switch", "{cdr}");
    server.wait_for(
        "the call to leave the list",
        Duration::from_secs(5),
        |server| {
            let (_, body) = http_get(server.http, "/api/v1/calls").expect("GET calls");
            body.contains("[]")
        },
    );
    server.stop();
}

/// RTP (PCMA) carrying `digits` as in-band DTMF tones: 100 ms of each,
/// 100 ms of silence after, 20 ms packets.
fn inband_dtmf_packets(digits: &str) -> Vec<Vec<u8>> {
    let pair = |d: char| -> (f32, f32) {
        let rows = [697.0, 770.0, 852.0, 941.0];
        let cols = [1209.0, 1336.0, 1477.0];
        let i = "123456789*0#".find(d).expect("a dtmf digit");
        (rows[i / 3], cols[i % 3])
    };
    let mut samples = Vec::new();
    for d in digits.chars() {
        let (low, high) = pair(d);
        for n in 0..800 {
            let t = n as f32 / 8000.0;
            samples.push(
                0.25 * (2.0 * std::f32::consts::PI * low * t).sin()
                    + 0.25 * (2.0 * std::f32::consts::PI * high * t).sin(),
            );
        }
        samples.extend(std::iter::repeat_n(0.0, 800));
    }
    samples
        .chunks(160)
        .enumerate()
        .map(|(i, frame)| {
            let seq = (i as u16).to_be_bytes();
            let ts = (i as u32 * 160).to_be_bytes();
            let mut p = vec![
                0x80, 8, seq[0], seq[1], ts[0], ts[1], ts[2], ts[3], 0x1b, 0xad, 0xf0, 0x0d,
            ];
            p.extend(frame.iter().map(|&s| audio::encode_alaw(s)));
            p
        })
        .collect()
}

#[test]
fn a_call_finding_every_rtp_port_in_use_is_refused_503_and_counted() {
    // One port pair: the first call holds it.
    let server = Server::start(&Config {
        rtp_ports: (31030, 31031),
        ..Config::default()
    });
    assert_eq!(server.metric("waihu_rtp_port_pairs"), 1.0);
    let first = sipp_call("call_echo.xml", "600")
        .media_port(sipp_media_port())
        .spawn(&server);
    answered_call(&server);
    assert_eq!(server.metric("waihu_rtp_port_pairs_held"), 1.0);
    let mut peer = Peer::connect(Transport::Udp, server.udp);
    let local = peer.local();
    let mut invite = Request::new("INVITE", &format!("sip:601@{DOMAIN}"))
        .header("Contact", &format!("<sip:1001@{local}>"))
        .header("Content-Type", "application/sdp");
    invite.from_user = ALICE.id.to_owned();
    invite.body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n".to_owned();
    let challenge = peer
        .exchange(&invite)
        .expect("a challenge")
        .challenge("MD5");
    let refused = peer
        .exchange_authorized(&invite.next(), &challenge, ALICE.id, ALICE.password)
        .expect("an answer");
    assert_eq!(refused.status, 503, "no port for the second call");
    assert_eq!(server.metric("waihu_rtp_port_exhausted_total"), 1.0);
    assert_eq!(server.metric("waihu_rtp_port_bind_failures_total"), 0.0);
    first.wait().assert_success("the call holding the ports");
    server.stop();
}

#[test]
fn digits_in_the_audio_are_heard_when_the_phone_has_no_telephone_event() {
    let server = Server::start(&Config {
        rtp_ports: (31020, 31021),
        ..Config::default()
    });
    let relay = std::net::SocketAddr::from(([127, 0, 0, 1], 31020));
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    let caller = sipp_call("call_inband.xml", "602")
        .media_port(media_port)
        .spawn(&server);
    answered_call(&server);
    std::thread::sleep(Duration::from_millis(300));
    for packet in inband_dtmf_packets("47#") {
        tap.send_to(&packet, relay);
        std::thread::sleep(Duration::from_millis(20));
    }
    caller
        .wait()
        .assert_success("a caller without telephone-event");
    drop(tap);
    let cdr = &cdrs_to(&server, "602")[0];
    assert_eq!(cdr["digits"], "47#", "{cdr}");
    assert_eq!(cdr["vars"]["digits"], "47", "{cdr}");
    server.stop();
}

#[test]
fn hold_and_resume_by_re_invite_and_a_held_call_outlives_the_media_timeout() {
    let server = Server::start(&Config {
        rtp_timeout_s: 2,
        ..Config::default()
    });
    // The caller sends no audio at all: 3 s on hold must not end the call.
    sipp_call("call_hold.xml", "600")
        .media_port(sipp_media_port())
        .run(&server)
        .assert_success("hold and resume");
    let cdr = &cdrs_to(&server, "600")[0];
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    server.stop();
}

#[test]
fn early_media_from_the_dialled_phone_reaches_the_caller_before_the_answer() {
    let server = Server::start(&Config::default());
    let phone_port = common::free_port();
    let phone = Sipp::new("call_uas_early.xml", Transport::Udp, "phone")
        .local_port(phone_port)
        .media_port(sipp_media_port())
        .timeout_secs(30)
        .spawn(&server);
    register_at(
        &server,
        &BOB,
        std::net::SocketAddr::from(([127, 0, 0, 1], phone_port)),
    );
    let (tap, media_port) = RtpTap::bind_for_sipp_echo();
    let caller = sipp_call("call_echo.xml", BOB.id)
        .media_port(media_port)
        .run(&server);
    caller.assert_success("the caller");
    phone.wait().assert_success("the phone with early media");
    let received = tap.finish();
    // The caller was told media flows before the answer (183 with our SDP)...
    let progress = caller
        .messages
        .split("SIP/2.0 183")
        .nth(1)
        .unwrap_or_else(|| panic!("no 183 reached the caller:\n{}", caller.messages));
    let progress = progress.split("SIP/2.0 200").next().unwrap_or_default();
    assert!(
        progress.contains("m=audio"),
        "the 183 carries no SDP:\n{progress}"
    );
    // ...and heard all 7 s the phone played from its 183 on.
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("g711a.pcap");
    let heard = audio::echoed(&sent, &received);
    assert!(
        heard >= 200,
        "the caller heard {heard} of the phone's packets"
    );
    server.stop();
}
