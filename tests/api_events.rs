//! The events WebSocket (`/api/v1/events`) against the running binary,
//! with tungstenite as the client: who sees which events.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Config, Server, http_post, http_request};
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

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

fn login(server: &Server, user: &str, password: &str) -> String {
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    let r = http_request(server.http, "POST", "/api/v1/login", &[], Some(&body)).expect("login");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().expect("token").to_owned()
}

type Socket = WebSocket<TcpStream>;

/// Opens the events socket; `cookie` sends the token as a browser does,
/// else it goes in `?token=`.
fn connect(server: &Server, token: &str, cookie: bool) -> Result<Socket, tungstenite::Error> {
    let url = if cookie {
        format!("ws://{}/api/v1/events", server.http)
    } else {
        format!("ws://{}/api/v1/events?token={token}", server.http)
    };
    let mut request = url.into_client_request()?;
    if cookie {
        request.headers_mut().insert(
            "Cookie",
            format!("waihu_session={token}").parse().expect("header"),
        );
    }
    let stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let (socket, _) = tungstenite::client(request, stream).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => {
            tungstenite::Error::Io(std::io::Error::other("interrupted handshake"))
        }
    })?;
    Ok(socket)
}

/// Every JSON frame that arrives within `wait`.
fn frames(socket: &mut Socket, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Text(t)) => out.push(serde_json::from_str(&t).expect("json frame")),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("events socket: {e}"),
        }
    }
    out
}

fn agent_changes(frames: &[Value]) -> Vec<(String, String)> {
    frames
        .iter()
        .filter(|f| f["kind"] == "agent")
        .map(|f| {
            (
                f["agent"].as_str().unwrap_or_default().to_owned(),
                f["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_agent_gets_only_their_own_events_and_a_supervisor_gets_all() {
    let server = Server::start(&config());
    let alice = common::ALICE;
    let agent_token = login(&server, alice.id, alice.password);
    let boss_token = login(&server, BOSS.0, BOSS.1);
    let mut agent = connect(&server, &agent_token, true).expect("agent socket");
    let mut boss = connect(&server, &boss_token, false).expect("supervisor socket");

    let hello = frames(&mut agent, Duration::from_millis(300));
    assert_eq!(
        hello.first().map(|h| &h["kind"]),
        Some(&Value::from("hello"))
    );
    assert_eq!(hello[0]["role"], "agent");
    assert_eq!(hello[0]["agent"], alice.id);
    let hello = frames(&mut boss, Duration::from_millis(300));
    assert_eq!(hello[0]["role"], "supervisor");

    for path in [
        "/api/v1/agents/1001/login",
        "/api/v1/agents/1002/login",
        "/api/v1/agents/1002/pause",
        "/api/v1/agents/1001/pause",
    ] {
        let (status, body) = http_post(server.http, path, "").expect("op");
        assert_eq!(status, 200, "{path}: {body}");
    }
    let seen_by_agent = agent_changes(&frames(&mut agent, Duration::from_secs(1)));
    let seen_by_boss = agent_changes(&frames(&mut boss, Duration::from_secs(1)));
    assert!(!seen_by_agent.is_empty(), "the agent saw nothing");
    assert!(
        seen_by_agent.iter().all(|(a, _)| a == alice.id),
        "the agent saw someone else's: {seen_by_agent:?}"
    );
    assert_eq!(
        seen_by_agent.last().map(|(_, to)| to.as_str()),
        Some("paused")
    );
    for id in [alice.id, common::BOB.id] {
        assert!(
            seen_by_boss.iter().any(|(a, to)| a == id && to == "paused"),
            "the supervisor missed {id}: {seen_by_boss:?}"
        );
    }
}

#[test]
fn no_token_no_events_and_a_logged_out_token_is_refused() {
    let server = Server::start(&config());
    match connect(&server, "not-a-valid-token-xxxxxxxxxxxxxx", false) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| "a socket")),
    }
    let token = login(&server, common::ALICE.id, common::ALICE.password);
    let r = http_request(
        server.http,
        "POST",
        "/api/v1/logout",
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    )
    .expect("logout");
    assert_eq!(r.status, 200);
    match connect(&server, &token, true) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| "a socket")),
    }
}
