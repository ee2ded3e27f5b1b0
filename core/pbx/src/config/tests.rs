use std::net::SocketAddr;

use super::validate::{ListenError, ProblemKind, parse_listen};
use super::*;

const EXAMPLE: &str = include_str!("../../../../waihu.example.yaml");

fn problems(text: &str) -> Vec<Problem> {
    match from_str("t.yaml", text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn keys(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.key.as_str()).collect()
}

fn syntax(text: &str) -> SyntaxError {
    match from_str("waihu.yaml", text) {
        Err(ConfigError::Syntax(e)) => e,
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

const MINIMAL: &str = "\
sip:
  listen: [udp:127.0.0.1:5060]
  domain: example.com
  realm: example.com
agents:
  - id: \"2001\"
    password: a-long-password
";

#[test]
fn example_file_parses_and_validates() {
    let s = from_str("waihu.example.yaml", EXAMPLE).expect("example is valid");
    assert_eq!(s.listeners.len(), 4);
    assert_eq!(s.domain, "pbx.example.com");
    assert_eq!(s.agents.len(), 2);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn embedded_defaults_are_valid_and_flag_demo_passwords() {
    let s = load(None).expect("defaults are valid");
    assert_eq!(s.source, DEFAULTS_NAME);
    let listen: Vec<String> = s.listeners.iter().map(ToString::to_string).collect();
    assert_eq!(listen, ["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]);
    assert_eq!(
        s.http_listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        (s.domain.as_str(), s.realm.as_str()),
        ("waihu.local", "waihu.local")
    );
    let ids: Vec<&str> = s.agents.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["1001", "1002"]);
    assert!(
        s.warnings
            .iter()
            .any(|w| matches!(w, Warning::DemoPasswords { agents } if agents == &["1001", "1002", "supervisor"]))
    );
}

/// The Rust defaults (used for keys a file leaves out) and the embedded
/// YAML must not drift apart.
#[test]
fn embedded_defaults_match_rust_defaults() {
    let f = parse(DEFAULTS_NAME, DEFAULTS_YAML).unwrap();
    assert_eq!(f.sip.timers, Timers::default());
    assert_eq!(f.sip.limits, Limits::default());
    assert_eq!(f.security, SecuritySection::default());
    let without_http = from_str("t.yaml", MINIMAL).unwrap();
    assert_eq!(f.http.listen, Some(without_http.http_listen.to_string()));
}

#[test]
fn minimal_file_takes_defaults() {
    let s = from_str("t.yaml", MINIMAL).unwrap();
    assert_eq!(s.t1, Duration::from_millis(500));
    assert_eq!(s.limits, Limits::default());
    assert_eq!(s.nonce_lifetime, Duration::from_secs(300));
    assert!(s.warnings.is_empty());
    let ep = s.endpoint_config();
    assert_eq!(ep.users.len(), 1);
    assert_eq!(ep.users[0].id, "2001");
    assert!(ep.server_name.starts_with("waihu/"));
}

#[test]
fn unknown_key_names_key_line_and_column() {
    let text = "\
sip:
  listen:
    - udp:0.0.0.0:5060
  domain: example.com
  realm: example.com
agents:
  - id: \"1\"
    password: long-enough
  - id: \"2\"
    pasword: oops
";
    let e = syntax(text);
    assert_eq!((e.line, e.column), (Some(10), Some(5)));
    assert_eq!(e.path, "agents[1]");
    assert!(
        e.message
            .starts_with("unknown field `pasword`, expected one of"),
        "{}",
        e.message
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with("waihu.yaml:10:5: agents[1]: unknown field `pasword`, expected one of `id`, `password`, `name`"),
        "{shown}"
    );
    assert!(!shown.contains(" at line "), "{shown}");
}

#[test]
fn unknown_nested_key_is_reported_with_its_path() {
    let e = syntax("sip:\n  limits:\n    max_tcp_conections: 5\n");
    assert_eq!(e.path, "sip.limits");
    assert_eq!(e.line, Some(3));
    assert!(
        e.to_string().starts_with(
            "waihu.yaml:3:5: sip.limits: unknown field `max_tcp_conections`, expected one of"
        ),
        "{e}"
    );
    let e = syntax("sip: {}\nhttps: {}\n");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.path, "");
    assert!(
        e.to_string()
            .starts_with("waihu.yaml:2:1: unknown field `https`, expected one of `sip`"),
        "{e}"
    );
}

#[test]
fn wrong_type_is_reported_with_its_path() {
    let e = syntax("sip:\n  timers:\n    t1_ms: fast\n");
    assert_eq!(e.path, "sip.timers.t1_ms");
    assert_eq!(e.line, Some(3));
}

#[test]
fn unquoted_numeric_agent_id_is_refused_with_a_hint() {
    let e = syntax("agents:\n  - id: 1001\n    password: x\n");
    assert_eq!(e.path, "agents[0].id");
    assert_eq!((e.line, e.column), (Some(2), Some(9)));
    assert!(
        e.message.contains("write \"1001\" in quotes"),
        "{}",
        e.message
    );
    // serde_yaml reads a leading zero as a string: nothing is lost.
    let f = parse("t.yaml", "agents:\n  - id: 0101\n    password: x\n").unwrap();
    assert_eq!(f.agents[0].id, "0101");
}

#[test]
fn empty_file_reports_every_missing_key() {
    let p = problems("# nothing here\n");
    assert_eq!(keys(&p), ["sip.listen", "sip.domain", "sip.realm"]);
    assert_eq!(p[0].kind, ProblemKind::NoListeners);
    assert_eq!(p[1].kind, ProblemKind::Missing);
}

#[test]
fn every_validation_error_is_reported() {
    let text = "\
sip:
  listen:
    - udp:0.0.0.0:5060
    - tls:0.0.0.0:5061
    - udp:0.0.0.0:5060
    - tcp:::5060
  domain: \"bad domain\"
  realm: asterisk
  timers: { t1_ms: 500, t2_ms: 100 }
  limits: { max_header_bytes: 100000, max_message_bytes: 65535 }
agents:
  - id: \"1001\"
    password: \"\"
  - id: \"1001\"
    password: \"1001\"
  - id: \"bad id\"
    password: something-long
http:
  listen: localhost:8080
security:
  rate_limit: { per_ip_per_sec: 0 }
";
    let p = problems(text);
    assert_eq!(
        keys(&p),
        [
            "sip.listen[1]",
            "sip.listen[2]",
            "sip.listen[3]",
            "sip.domain",
            "sip.realm",
            "sip.timers.t2_ms",
            "sip.limits.max_message_bytes",
            "agents[0].password",
            "agents[1].id",
            "agents[1].password",
            "agents[2].id",
            "http.listen",
            "security.rate_limit.per_ip_per_sec",
        ],
        "{p:#?}"
    );
    assert!(
        matches!(p[0].kind, ProblemKind::Listen(ListenError::UnknownTransport(ref t)) if t == "tls")
    );
    assert!(
        matches!(p[1].kind, ProblemKind::DuplicateListen { ref first, .. } if first == "sip.listen[0]")
    );
    assert_eq!(
        p[8].kind,
        ProblemKind::DuplicateAgent {
            id: "1001".into(),
            first: 0
        }
    );
    assert_eq!(p[9].kind, ProblemKind::PasswordIsId);
    let lines = from_str("t.yaml", text).unwrap_err().lines();
    assert_eq!(lines.len(), p.len());
    assert!(
        lines[4].starts_with("t.yaml:8: sip.realm: \"asterisk\" is too generic"),
        "{}",
        lines[4]
    );
}

#[test]
fn no_listeners_is_an_error() {
    let text = MINIMAL.replace("[udp:127.0.0.1:5060]", "[]");
    assert_eq!(problems(&text)[0].kind, ProblemKind::NoListeners);
}

#[test]
fn http_may_not_share_a_sip_tcp_socket() {
    let text = format!("{MINIMAL}http:\n  listen: 127.0.0.1:5060\n");
    assert!(
        from_str("t.yaml", &text).is_ok(),
        "udp and http tcp can share a port"
    );
    let text = text.replace("[udp:127.0.0.1:5060]", "[tcp:127.0.0.1:5060]");
    let p = problems(&text);
    assert_eq!(keys(&p), ["http.listen"]);
}

#[test]
fn short_password_is_a_warning_not_an_error() {
    let text = MINIMAL.replace("a-long-password", "abc");
    let s = from_str("t.yaml", &text).unwrap();
    assert_eq!(
        s.warnings,
        [Warning::ShortPassword {
            agent: "2001".into(),
            len: 3
        }]
    );
}

#[test]
fn listen_strings_parse() {
    let l = parse_listen("udp:0.0.0.0:5060").unwrap();
    assert_eq!(l.transport, Transport::Udp);
    assert_eq!(l.addr, "0.0.0.0:5060".parse::<SocketAddr>().unwrap());
    let l = parse_listen("tcp:[::]:5070").unwrap();
    assert_eq!(l.transport, Transport::Tcp);
    assert_eq!(l.addr, "[::]:5070".parse::<SocketAddr>().unwrap());
    let l = parse_listen("TCP:[2001:db8::1]:5060").unwrap();
    assert_eq!(l.to_string(), "tcp:[2001:db8::1]:5060");
    assert_eq!(
        parse_listen("udp:[fe80::1%2]:5060").map(|l| l.addr.is_ipv6()),
        Ok(true)
    );
}

#[test]
fn bad_listen_strings_are_refused() {
    assert!(matches!(
        parse_listen("0.0.0.0:5060"),
        Err(ListenError::NoTransport(_))
    ));
    assert!(matches!(
        parse_listen("[::]:5060"),
        Err(ListenError::NoTransport(_))
    ));
    assert!(matches!(
        parse_listen("5060"),
        Err(ListenError::NoTransport(_))
    ));
    assert_eq!(
        parse_listen("tls:0.0.0.0:5061"),
        Err(ListenError::UnknownTransport("tls".into()))
    );
    for bad in [
        "udp:::5060",
        "udp:0.0.0.0",
        "udp:example.com:5060",
        "tcp:1.2.3.4:70000",
        "udp:",
    ] {
        assert!(
            matches!(parse_listen(bad), Err(ListenError::BadAddress { .. })),
            "{bad}: {:?}",
            parse_listen(bad)
        );
    }
}

#[test]
fn digest_algorithms_default_to_md5_first_and_are_validated() {
    let s = from_str("t.yaml", MINIMAL).expect("valid");
    assert_eq!(
        s.digest_algorithms,
        [DigestAlgorithm::Md5, DigestAlgorithm::Sha256]
    );
    let only_sha = format!("{MINIMAL}security:\n  digest_algorithms: [\"SHA-256\"]\n");
    let s = from_str("t.yaml", &only_sha).expect("valid");
    assert_eq!(s.digest_algorithms, [DigestAlgorithm::Sha256]);
    let p = problems(&format!(
        "{MINIMAL}security:\n  digest_algorithms: [\"MD5\", \"MD5\"]\n"
    ));
    assert_eq!(keys(&p), ["security.digest_algorithms[1]"]);
    let p = problems(&format!("{MINIMAL}security:\n  digest_algorithms: []\n"));
    assert_eq!(keys(&p), ["security.digest_algorithms"]);
    let e = syntax(&format!(
        "{MINIMAL}security:\n  digest_algorithms: [\"SHA-512\"]\n"
    ));
    assert!(e.to_string().contains("security.digest_algorithms"), "{e}");
}

#[test]
fn validation_problems_name_their_line() {
    let text = "\
sip:
  listen: [udp:127.0.0.1:5060]
  domain: \"bad domain\"
  realm: example.com
agents:
  - id: \"2001\"
    password: a-long-password
  - id: \"2001\"
    password: another-password
";
    let e = from_str("w.yaml", text).expect_err("invalid");
    let lines = e.lines();
    assert!(
        lines.contains(
            &"w.yaml:3: sip.domain: \"bad domain\" is not a host name or IP address".to_owned()
        ),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("w.yaml:8: agents[1].id: duplicate")),
        "{lines:?}"
    );
}

#[test]
fn queues_and_skills_are_checked() {
    let text = format!(
        "{MINIMAL}    skills: {{ zh: 0, \"bad name\": 5 }}\n\
         queues:\n  - name: support\n    strategy: fastest\n    members: [\"2001\", \"9999\"]\n    \
         ring_timeout_s: 0\n  - name: support\n    moh: []\n\
         acd:\n  login_code: \"#x\"\n"
    );
    let p = problems(&text);
    let k = keys(&p);
    for key in [
        "agents[0].skills.zh",
        "agents[0].skills.bad name",
        "queues[0].strategy",
        "queues[0].members[1]",
        "queues[0].ring_timeout_s",
        "queues[1].name",
        "queues[1].moh",
        "acd.login_code",
    ] {
        assert!(k.contains(&key), "{key} not reported: {k:?}");
    }
    let unknown = p
        .iter()
        .find(|p| p.key == "queues[0].members[1]")
        .expect("member problem");
    assert!(unknown.to_string().contains("9999"), "{unknown}");
}

#[test]
fn a_good_queue_becomes_its_acd_config() {
    let text = format!(
        "{MINIMAL}    skills: {{ zh: 80 }}\n    outbound: true\n\
         queues:\n  - name: vip\n    strategy: skills\n    members: [\"2001\"]\n    max_wait_s: 0\n    \
         wrapup_s: 7\n    announce_every_s: 0\n"
    );
    let s = from_str("t.yaml", &text).expect("valid");
    assert_eq!(s.agents[0].skills.get("zh"), Some(&80));
    assert!(s.agents[0].outbound);
    let q = &s.queues[0];
    assert_eq!(q.acd.strategy, waihu_campaign::acd::Strategy::Skills);
    assert_eq!(q.acd.max_wait_ms, None);
    assert_eq!(q.acd.wrapup_ms, 7_000);
    assert_eq!(q.acd.ring_timeout_ms, 15_000);
    assert!(q.announce_every.is_none());
    assert_eq!(q.moh, ["moh/default"]);
    assert!(s.session_timer.enabled);
}

#[test]
fn the_overload_delay_defaults_to_250_ms_and_0_turns_it_off() {
    let default = from_str("t.yaml", MINIMAL).unwrap();
    assert_eq!(default.overload_delay, Some(Duration::from_millis(250)));
    let with = |limits: &str| {
        MINIMAL.replace(
            "  realm: example.com\n",
            &format!("  realm: example.com\n  limits: {{ {limits} }}\n"),
        )
    };
    let off = from_str("t.yaml", &with("overload_delay_ms: 0")).unwrap();
    assert_eq!(off.overload_delay, None);
    let p = problems(&with("overload_delay_ms: 5"));
    assert_eq!(keys(&p), ["sip.limits.overload_delay_ms"], "{p:#?}");
    assert!(matches!(
        p[0].kind,
        ProblemKind::OutOfRange {
            value: 5,
            min: 20,
            ..
        }
    ));
}

#[test]
fn process_workers_defaults_to_one_per_two_cores_and_is_bounded() {
    assert_eq!(from_str("t.yaml", MINIMAL).unwrap().workers, None);
    let with = |n: &str| format!("{MINIMAL}process:\n  workers: {n}\n");
    assert_eq!(from_str("t.yaml", &with("0")).unwrap().workers, None);
    assert_eq!(from_str("t.yaml", &with("2")).unwrap().workers, Some(2));
    let p = problems(&with("1000"));
    assert_eq!(keys(&p), ["process.workers"], "{p:#?}");
    assert!(
        from_str("t.yaml", &with("-1")).is_err(),
        "a negative count is refused"
    );
    let defaults: Vec<usize> = [1, 2, 3, 4, 8, 64]
        .into_iter()
        .map(super::default_workers)
        .collect();
    assert_eq!(defaults, [1, 1, 2, 2, 4, 32]);
    assert_eq!(super::default_workers(0), 1, "never no worker");
}

#[test]
fn relay_io_is_auto_by_default_epoll_on_request_and_nothing_else() {
    let auto = from_str("t.yaml", MINIMAL).expect("minimal");
    assert_eq!(auto.media.relay_io, crate::call::relay::RelayIo::Auto);
    let epoll =
        from_str("t.yaml", &format!("{MINIMAL}media:\n  relay_io: epoll\n")).expect("epoll");
    assert_eq!(epoll.media.relay_io, crate::call::relay::RelayIo::Epoll);
    let p = problems(&format!("{MINIMAL}media:\n  relay_io: uring\n"));
    assert_eq!(keys(&p), ["media.relay_io"]);
    assert!(
        matches!(&p[0].kind, ProblemKind::OneOf { value, allowed } if value == "uring" && allowed.contains("epoll")),
        "{:?}",
        p[0].kind
    );
}
