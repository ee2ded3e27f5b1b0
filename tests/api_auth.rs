//! The HTTP API's logins, roles and audit log, against the running binary.

mod common;

use common::{Config, Reply, Server, http_request};

const BOSS: (&str, &str) = ("boss", "supervisor-secret-1");

fn config() -> Config {
    Config {
        api_yaml: format!(
            "  users:\n    - name: {}\n      password: {}\n      role: supervisor\n",
            BOSS.0, BOSS.1
        ),
        ..Config::default()
    }
}

fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    http_request(server.http, method, path, &headers, body).expect("http")
}

fn login(server: &Server, user: &str, password: &str) -> Reply {
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    call(server, "POST", "/api/v1/login", None, Some(&body))
}

fn token_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "login: {}", reply.body);
    reply.json()["token"].as_str().expect("token").to_owned()
}

#[test]
fn nothing_but_health_login_metrics_and_the_api_document_is_open() {
    let server = Server::start(&config());
    for path in ["/api/v1/health", "/metrics"] {
        let r = call(&server, "GET", path, None, None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    for (method, path) in [
        ("GET", "/api/v1/agents"),
        ("GET", "/api/v1/cdrs"),
        ("GET", "/api/v1/campaigns"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/scripts/reload"),
        ("POST", "/api/v1/agents/1001/login"),
        ("GET", "/api/v1/no/such/thing"),
    ] {
        let r = call(&server, method, path, None, None);
        assert_eq!(r.status, 401, "{method} {path}: {}", r.body);
        assert!(r.body.contains("log in"), "{}", r.body);
    }
    let r = call(
        &server,
        "GET",
        "/api/v1/agents",
        Some("not-a-token-at-all-xxxxxxxx"),
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn an_agent_logs_in_with_sip_credentials_and_acts_only_as_themselves() {
    let server = Server::start(&config());
    let alice = common::ALICE;
    let reply = login(&server, alice.id, alice.password);
    let token = token_of(&reply);
    let me = reply.json();
    assert_eq!(me["role"], "agent");
    assert_eq!(me["agent"], alice.id);
    assert!(me["expires_at_ms"].as_i64().expect("expiry") > 0);
    let cookie = reply.header("set-cookie").expect("a cookie");
    assert!(
        cookie.starts_with(&format!("waihu_session={token}")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // The cookie alone works, as a browser sends it.
    let by_cookie = http_request(
        server.http,
        "GET",
        "/api/v1/me",
        &[("Cookie", &format!("waihu_session={token}"))],
        None,
    )
    .expect("http");
    assert_eq!(by_cookie.status, 200, "{}", by_cookie.body);
    assert_eq!(by_cookie.json()["user"], alice.id);

    let own = call(
        &server,
        "POST",
        &format!("/api/v1/agents/{}/login", alice.id),
        Some(&token),
        None,
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let own = call(
        &server,
        "GET",
        &format!("/api/v1/agents/{}", alice.id),
        Some(&token),
        None,
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let bob = common::BOB.id;
    for (method, path) in [
        ("POST", format!("/api/v1/agents/{bob}/login")),
        ("GET", format!("/api/v1/agents/{bob}")),
        ("GET", "/api/v1/agents".to_owned()),
        ("POST", "/api/v1/scripts/reload".to_owned()),
        ("GET", "/api/v1/cdrs".to_owned()),
        ("GET", "/api/v1/audit".to_owned()),
    ] {
        let r = call(&server, method, &path, Some(&token), None);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
    }
    for path in ["/api/v1/campaigns", "/api/v1/openapi.json"] {
        let r = call(&server, "GET", path, Some(&token), None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }

    // A wrong password, and someone else's, do not log in.
    assert_eq!(login(&server, alice.id, "wrong-password").status, 401);
    assert_eq!(login(&server, alice.id, common::BOB.password).status, 401);
    assert_eq!(login(&server, "nobody", alice.password).status, 401);

    // Logging out ends the token.
    let out = call(&server, "POST", "/api/v1/logout", Some(&token), None);
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(out.json()["logged_out"], true);
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&token), None).status,
        401
    );
}

#[test]
fn a_supervisor_reads_and_steers_but_cannot_administer() {
    let server = Server::start(&config());
    let token = token_of(&login(&server, BOSS.0, BOSS.1));
    for path in [
        "/api/v1/agents",
        "/api/v1/cdrs",
        "/api/v1/campaigns",
        "/api/v1/trunks",
    ] {
        let r = call(&server, "GET", path, Some(&token), None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    // Forcing an agent's state is a supervisor's.
    let r = call(
        &server,
        "POST",
        "/api/v1/agents/1002/login",
        Some(&token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (method, path) in [
        ("POST", "/api/v1/scripts/reload"),
        ("POST", "/api/v1/campaigns"),
        ("GET", "/api/v1/audit"),
    ] {
        let r = call(&server, method, path, Some(&token), Some("{}"));
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
    }
}

#[test]
fn every_change_is_in_the_audit_log_with_who_made_it() {
    let server = Server::start(&config());
    let alice = common::ALICE;
    let agent = token_of(&login(&server, alice.id, alice.password));
    let boss = token_of(&login(&server, BOSS.0, BOSS.1));
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/agents/1001/login",
            Some(&agent),
            None
        )
        .status,
        200
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/agents/1002/login",
            Some(&agent),
            None
        )
        .status,
        403
    );
    assert_eq!(
        call(&server, "POST", "/api/v1/scripts/reload", Some(&boss), None).status,
        403
    );
    // A read is not audited.
    assert_eq!(
        call(&server, "GET", "/api/v1/agents", Some(&boss), None).status,
        200
    );
    let mut entries = Vec::new();
    server.wait_for(
        "the audit entries",
        std::time::Duration::from_secs(5),
        |_| {
            let (status, body) = common::http_get(server.http, "/api/v1/audit").expect("audit");
            assert_eq!(status, 200, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            entries = v["audit"].as_array().cloned().unwrap_or_default();
            entries.len() >= 3
        },
    );
    let seen: Vec<(String, String, String, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap_or_default().to_owned(),
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["path"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "1001".into(),
                "POST".into(),
                "/api/v1/agents/1001/login".into(),
                200
            ),
            (
                "1001".into(),
                "POST".into(),
                "/api/v1/agents/1002/login".into(),
                403
            ),
            (
                "boss".into(),
                "POST".into(),
                "/api/v1/scripts/reload".into(),
                403
            ),
        ]
    );
    assert!(entries.iter().all(|e| {
        e["at_ms"].as_i64() > Some(0)
            && e["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("127.0.0.1:"))
    }));
}

#[test]
fn repeated_failed_logins_from_one_address_are_refused_for_a_while() {
    let server = Server::start(&Config {
        auth_failures: (3, 60, 600),
        ..config()
    });
    for _ in 0..3 {
        assert_eq!(login(&server, "1001", "guess").status, 401);
    }
    // Banned now: even the right password waits.
    let r = login(&server, common::ALICE.id, common::ALICE.password);
    assert_eq!(r.status, 429, "{}", r.body);
}

#[test]
fn the_generated_admin_token_file_is_private_and_works() {
    let server = Server::start(&config());
    let file = server.dir.join("waihu-admin.token");
    let token = std::fs::read_to_string(&file).expect("the admin token file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
    assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    let r = call(&server, "GET", "/api/v1/audit", Some(token.trim()), None);
    assert_eq!(r.status, 200, "{}", r.body);
    // `waihu reload` finds it without being told.
    let (ok, out, err) = server.cli(&["reload"]);
    assert!(ok, "reload: {out} {err}");
}

#[test]
fn metrics_can_be_closed_to_anyone_without_a_token() {
    let server = Server::start(&Config {
        api_yaml: "  metrics_open: false\n".into(),
        ..Config::default()
    });
    assert_eq!(call(&server, "GET", "/metrics", None, None).status, 401);
    let r = call(&server, "GET", "/metrics", Some(common::API_TOKEN), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("waihu_sip_messages_in"), "{}", r.body);
}
