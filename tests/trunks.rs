//! Carrier trunks through the running binary, with sipp playing the
//! carrier: outbound registration, calls out through a trunk answering its
//! challenge, failover, the toll-fraud default, and inbound calls trusted
//! by source address.

mod common;

use std::path::Path;
use std::time::Duration;

use common::audio::{self, RtpTap};
use common::sip::Transport;
use common::sipp::Sipp;
use common::{ALICE, Config, DOMAIN, Server, http_get};
use serde_json::Value;

const CARRIER_USER: &str = "carrier-user";
const CARRIER_PASS: &str = "carrier-secret";
const REALM: &str = "carrier.example";

/// A trunk to a sipp carrier on `port`. Its ACL is a documentation address
/// unless `trusted`: every test client is on 127.0.0.1, and only the
/// inbound test wants them taken for the carrier.
fn trunk_yaml(name: &str, port: u16, register: bool, password: &str, trusted: bool) -> String {
    let acl = if trusted { "127.0.0.1" } else { "192.0.2.1" };
    format!(
        "  - name: {name}\n    host: 127.0.0.1\n    port: {port}\n    username: {CARRIER_USER}\n    \
         password: {password}\n    realm: {REALM}\n    register: {register}\n    register_expires_s: 60\n    \
         from_user: \"02100000000\"\n    caller_id: \"02188888888\"\n    acl: [\"{acl}\"]\n    keepalive_s: 0\n"
    )
}

fn trunks(server: &Server) -> Vec<Value> {
    let (status, body) = http_get(server.http, "/api/v1/trunks").expect("GET trunks");
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).expect("json");
    json["trunks"].as_array().cloned().unwrap_or_default()
}

fn carrier<'a>(scenario: &'a str, port: u16) -> Sipp<'a> {
    Sipp::new(scenario, Transport::Udp, "carrier")
        .local_port(port)
        .key("user", CARRIER_USER)
        .key("pass", CARRIER_PASS)
        .key("realm", REALM)
        .timeout_secs(30)
}

#[test]
fn a_trunk_registers_with_a_challenging_carrier_and_reports_it() {
    let port = common::free_port();
    let server = Server::start(&Config {
        extra_yaml: format!(
            "trunks:\n{}",
            trunk_yaml("carrier-a", port, true, CARRIER_PASS, false)
        ),
        ..Config::default()
    });
    let registrar = carrier("trunk_registrar.xml", port)
        .key("refresh", "no")
        .spawn(&server);
    server.wait_for("the trunk to register", Duration::from_secs(15), |server| {
        trunks(server)
            .first()
            .is_some_and(|t| t["registration"] == "registered")
    });
    registrar.wait().assert_success("the carrier's registrar");
    let t = &trunks(&server)[0];
    assert_eq!(t["name"], "carrier-a", "{t}");
    let expires = t["expires_in_s"].as_u64().expect("expires");
    assert!((30..=60).contains(&expires), "{t}");
    let metrics = server.metrics();
    assert!(
        metrics.contains("waihu_trunk_registered{trunk=\"carrier-a\"} 1"),
        "{metrics}"
    );
    server.stop();
}

#[test]
fn a_wrong_trunk_password_shows_as_failing() {
    let port = common::free_port();
    let server = Server::start(&Config {
        extra_yaml: format!(
            "trunks:\n{}",
            trunk_yaml("carrier-a", port, true, "not-the-password", false)
        ),
        ..Config::default()
    });
    let registrar = carrier("trunk_registrar.xml", port)
        .key("refresh", "no")
        .spawn(&server);
    server.wait_for("the trunk to fail", Duration::from_secs(15), |server| {
        trunks(server)
            .first()
            .is_some_and(|t| t["registration"] == "failing")
    });
    // The carrier refused us (403): its scenario counts that as a failed call.
    assert!(!registrar.wait().status.success());
    let t = &trunks(&server)[0];
    assert!(t["reason"].as_str().is_some_and(|r| !r.is_empty()), "{t}");
    server.stop();
}

fn caller<'a>(scenario: &'a str, number: &str) -> Sipp<'a> {
    Sipp::new(scenario, Transport::Udp, number)
        .credentials(ALICE.id, ALICE.password, &format!("sip:{number}@{DOMAIN}"))
        .timeout_secs(30)
}

fn last_cdr(server: &Server) -> Value {
    let mut cdr = Value::Null;
    server.wait_for("a CDR", Duration::from_secs(10), |server| {
        let (_, body) = http_get(server.http, "/api/v1/cdrs?limit=1").expect("GET cdrs");
        let json: Value = serde_json::from_str(&body).expect("json");
        cdr = json["cdrs"][0].clone();
        !cdr.is_null()
    });
    cdr
}

const NUMBER: &str = "02155556666";

/// Alice calls NUMBER with our own SIP client (challenge answered); the
/// final status of her INVITE.
fn alice_calls_the_pstn(server: &Server) -> u16 {
    let mut peer = common::sip::Peer::connect(Transport::Udp, server.udp);
    let local = peer.local();
    let mut invite = common::sip::Request::new("INVITE", &format!("sip:{NUMBER}@{DOMAIN}"))
        .header("Contact", &format!("<sip:1001@{local}>"))
        .header("Content-Type", "application/sdp");
    invite.from_user = ALICE.id.to_owned();
    invite.body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\n".into();
    let challenge = peer.exchange(&invite).expect("401").challenge("MD5");
    peer.exchange_authorized(&invite.next(), &challenge, ALICE.id, ALICE.password)
        .expect("an answer")
        .status
}

#[test]
fn an_agent_allowed_the_pstn_calls_out_through_a_challenging_trunk() {
    let port = common::free_port();
    let server = Server::start(&Config {
        pstn_agents: vec![ALICE.id],
        extra_yaml: format!(
            "trunks:\n{}",
            trunk_yaml("carrier-a", port, false, CARRIER_PASS, false)
        ),
        ..Config::default()
    });
    let carrier = carrier("trunk_uas_challenge.xml", port)
        .media_port(common::sipp_media_port())
        .arg("-rtp_echo")
        .spawn(&server);
    let (tap, mp) = RtpTap::bind_for_sipp_echo();
    caller("call_echo.xml", NUMBER)
        .media_port(mp)
        .run(&server)
        .assert_success("the caller");
    carrier
        .wait()
        .assert_success("the carrier, which checked our digest");
    let received = tap.finish();
    let sent = audio::pcap_rtp(Path::new(audio::G711A_PCAP)).expect("pcap");
    let echoed = audio::echoed(&sent, &received);
    assert!(
        echoed >= 150,
        "only {echoed} packets made the round trip through the trunk"
    );
    let cdr = last_cdr(&server);
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    assert_eq!(
        trunks(&server)[0]["channels"],
        0,
        "the channel was given back"
    );
    server.stop();
}

#[test]
fn an_agent_without_pstn_permission_is_refused_before_any_carrier_is_called() {
    let port = common::free_port();
    let server = Server::start(&Config {
        extra_yaml: format!(
            "trunks:\n{}",
            trunk_yaml("carrier-a", port, false, CARRIER_PASS, false)
        ),
        ..Config::default()
    });
    // Alice has no allow_pstn here.
    assert_eq!(
        alice_calls_the_pstn(&server),
        603,
        "the route hangs up with 'rejected'"
    );
    assert!(server.log().contains("PSTN call refused"));
    assert_eq!(trunks(&server)[0]["channels"], 0);
    server.stop();
}

#[test]
fn a_trunk_answering_503_fails_over_to_the_next_of_its_group() {
    let (first, second) = (common::free_port(), common::free_port());
    let server = Server::start(&Config {
        pstn_agents: vec![ALICE.id],
        extra_yaml: format!(
            "trunks:\n{}{}",
            trunk_yaml("first", first, false, CARRIER_PASS, false),
            trunk_yaml("second", second, false, CARRIER_PASS, false)
        ),
        ..Config::default()
    });
    let failing = carrier("trunk_uas_503.xml", first).spawn(&server);
    let working = carrier("trunk_uas_challenge.xml", second)
        .media_port(common::sipp_media_port())
        .arg("-rtp_echo")
        .spawn(&server);
    let (tap, mp) = RtpTap::bind_for_sipp_echo();
    caller("call_echo.xml", NUMBER)
        .media_port(mp)
        .run(&server)
        .assert_success("the caller");
    failing
        .wait()
        .assert_success("the first trunk, which answered 503");
    working
        .wait()
        .assert_success("the second trunk, which took the call");
    drop(tap);
    server.stop();
}

#[test]
fn busy_from_a_trunk_is_final_and_the_next_trunk_is_not_tried() {
    let (first, second) = (common::free_port(), common::free_port());
    let server = Server::start(&Config {
        pstn_agents: vec![ALICE.id],
        extra_yaml: format!(
            "trunks:\n{}{}",
            trunk_yaml("first", first, false, CARRIER_PASS, false),
            trunk_yaml("second", second, false, CARRIER_PASS, false)
        ),
        ..Config::default()
    });
    let busy = carrier("trunk_uas_486.xml", first).spawn(&server);
    // Must never see an INVITE: with none it fails at its own timeout.
    let untouched = carrier("trunk_uas_503.xml", second)
        .timeout_secs(6)
        .spawn(&server);
    assert_eq!(alice_calls_the_pstn(&server), 486, "busy is passed on");
    busy.wait().assert_success("the busy trunk");
    assert!(
        !untouched.wait().status.success(),
        "the second trunk was called after a busy"
    );
    server.stop();
}

#[test]
fn a_call_from_a_trunks_address_needs_no_password() {
    let port = common::free_port();
    let server = Server::start(&Config {
        extra_yaml: format!(
            "trunks:\n{}",
            trunk_yaml("carrier-a", port, false, CARRIER_PASS, true)
        ),
        ..Config::default()
    });
    // The carrier calls the echo extension, as a DID would; no credentials.
    Sipp::new("trunk_inbound.xml", Transport::Udp, "600")
        .media_port(common::sipp_media_port())
        .timeout_secs(30)
        .run(&server)
        .assert_success("an inbound carrier call");
    let cdr = last_cdr(&server);
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    assert_eq!(cdr["trunk"], "carrier-a", "{cdr}");
    server.stop();
}

#[test]
fn a_trunk_that_stops_answering_options_is_down_and_takes_no_calls() {
    // Nothing listens on the carrier's port. With T1 = 50 ms an OPTIONS
    // times out (64 * T1) in 3.2 s.
    let port = common::free_port();
    let yaml = trunk_yaml("carrier-a", port, false, CARRIER_PASS, false)
        .replace("keepalive_s: 0", "keepalive_s: 1");
    let server = Server::start(&Config {
        pstn_agents: vec![ALICE.id],
        timers_ms: (50, 4000, 5000),
        extra_yaml: format!("trunks:\n{yaml}"),
        ..Config::default()
    });
    assert_eq!(
        trunks(&server)[0]["up"],
        true,
        "up until a probe goes unanswered"
    );
    server.wait_for(
        "the trunk to be marked down",
        Duration::from_secs(15),
        |server| trunks(server)[0]["up"] == false,
    );
    assert!(
        server
            .metrics()
            .contains("waihu_trunk_up{trunk=\"carrier-a\"} 0")
    );
    // A call for the PSTN now finds no trunk to take it.
    assert_eq!(
        alice_calls_the_pstn(&server),
        500,
        "no trunk: the route hangs up with 'failure'"
    );
    assert!(
        server.log().contains("trunk skipped"),
        "the down trunk was not tried"
    );
    server.stop();
}
