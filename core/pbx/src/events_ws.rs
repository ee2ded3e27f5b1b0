//! `GET /api/v1/events`: the events plugins receive, pushed to browsers and
//! programs over a WebSocket, each client seeing what its role may.
//!
//! While a client is connected, the hub is one more sink of the plugins'
//! fan-out: its thread turns each event into JSON once and publishes it on
//! a broadcast channel; each connection filters and forwards. With no
//! client the sink is removed, so calls build no events for nobody. A client that falls behind is told how
//! many events it missed (`{"kind":"lagged"}`) and should fetch the state
//! again; the call path never waits for a browser.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;
use tracing::debug;

use crate::auth::Caller;
use crate::config::Role;
use crate::http::AppState;
use crate::plugin::events::{SinkCounters, spawn_sink};

/// Events a slow client may fall behind by before it is told it lagged.
const BACKLOG: usize = 4096;

/// How often an idle connection is pinged and its login checked again.
const PING: Duration = Duration::from_secs(20);

/// Calls an agent's connection remembers as theirs (to pass the calls'
/// later events).
const CALLS_KEPT: usize = 32;

/// One event, serialised once, with what the filters look at.
#[derive(Debug)]
pub struct Published {
    json: Utf8Bytes,
    kind: String,
    agent: Option<String>,
    call_id: Option<String>,
}

/// The fields of an event the filters need.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Keys {
    kind: String,
    agent: Option<String>,
    call_id: Option<String>,
}

/// The broadcast side of the events WebSocket.
#[derive(Debug)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<Published>>,
    counters: SinkCounters,
    plugins: Arc<crate::plugin::Plugins>,
    /// Connections open; the sink is on the fan-out while it is above 0.
    clients: std::sync::Mutex<usize>,
}

/// The fan-out's name for the hub's sink (no plugin's name has an `@`).
const SINK: &str = "@websocket";

impl EventHub {
    pub fn new(plugins: Arc<crate::plugin::Plugins>) -> Arc<EventHub> {
        let (tx, _) = broadcast::channel(BACKLOG);
        Arc::new(EventHub {
            tx,
            counters: SinkCounters::default(),
            plugins,
            clients: std::sync::Mutex::new(0),
        })
    }

    /// A new client's receiver; the first one puts the sink on the fan-out.
    fn join(&self) -> std::io::Result<broadcast::Receiver<Arc<Published>>> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rx = self.tx.subscribe();
        if *clients == 0 {
            let tx = self.tx.clone();
            let (sink, _thread) = spawn_sink("websocket", BACKLOG, &self.counters, move |bytes| {
                publish(&tx, bytes);
            })?;
            self.plugins.set_listener(SINK, Some(sink));
        }
        *clients += 1;
        Ok(rx)
    }

    /// A client left; the last one takes the sink off the fan-out.
    fn leave(&self) {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *clients = clients.saturating_sub(1);
        if *clients == 0 {
            self.plugins.set_listener(SINK, None);
        }
    }
}

/// One open connection; leaving the hub when dropped.
struct Member<'a>(&'a EventHub);

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Publishes one serialised event to the connections.
fn publish(tx: &broadcast::Sender<Arc<Published>>, bytes: &[u8]) {
    let keys: Keys = serde_json::from_slice(bytes).unwrap_or_default();
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let _ = tx.send(Arc::new(Published {
        json: Utf8Bytes::from(text.to_owned()),
        kind: keys.kind,
        agent: keys.agent,
        call_id: keys.call_id,
    }));
}

/// What one connection lets through.
#[derive(Debug)]
struct Filter {
    /// `None`: everything (supervisors, admins).
    agent: Option<String>,
    /// Calls this agent was on, most recent last.
    calls: VecDeque<String>,
}

impl Filter {
    fn for_caller(caller: &Caller) -> Filter {
        Filter {
            agent: match caller.role {
                Role::Agent => Some(caller.agent.clone().unwrap_or_default()),
                Role::Supervisor | Role::Admin => None,
            },
            calls: VecDeque::new(),
        }
    }

    fn passes(&mut self, e: &Published) -> bool {
        let Some(me) = &self.agent else {
            return true;
        };
        if e.kind == "campaign" {
            return true;
        }
        if e.agent.as_deref() == Some(me.as_str()) {
            if let Some(call) = &e.call_id
                && !self.calls.contains(call)
            {
                if self.calls.len() == CALLS_KEPT {
                    self.calls.pop_front();
                }
                self.calls.push_back(call.clone());
            }
            return e.kind == "agent" || e.kind == "queue" || e.kind == "call";
        }
        e.kind == "call" && e.call_id.as_ref().is_some_and(|c| self.calls.contains(c))
    }
}

/// The events stream (WebSocket). Text frames, one JSON event each; the
/// first is `{"kind":"hello","user","role","agent"}`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(("token" = Option<String>, Query, description = "For clients that cannot send the cookie or a header")),
    responses(
        (status = 101, description = "WebSocket: one JSON event per text frame, as plugins receive them (kind call, agent, queue, campaign, import, contact), filtered by role"),
        (status = 401, description = "Not logged in"),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    uri: axum::http::Uri,
) -> Response {
    let Some(hub) = state.events.clone() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "no events here"})),
        )
            .into_response();
    };
    let token = crate::auth::token_of(&headers, uri.query());
    let auth = state.auth.clone();
    upgrade.on_upgrade(move |socket| async move {
        serve(socket, hub, caller, move || match (&auth, &token) {
            (Some(auth), Some(token)) => auth.caller(token).is_some(),
            // Only the unit tests run without logins.
            _ => true,
        })
        .await;
    })
}

async fn serve(
    mut socket: WebSocket,
    hub: Arc<EventHub>,
    caller: Caller,
    still_valid: impl Fn() -> bool,
) {
    let mut rx = match hub.join() {
        Ok(rx) => rx,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the events websocket's sink");
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    // Leaves the hub however this ends.
    let _member = Member(&hub);
    let mut filter = Filter::for_caller(&caller);
    let hello =
        json!({"kind": "hello", "user": caller.user, "role": caller.role, "agent": caller.agent});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut ping = tokio::time::interval(PING);
    ping.tick().await;
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(e) => {
                    if filter.passes(&e)
                        && socket.send(Message::Text(e.json.clone())).await.is_err()
                    {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let lagged = json!({"kind": "lagged", "missed": missed}).to_string();
                    if socket.send(Message::Text(lagged.into())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say; pongs and pings are handled.
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if !still_valid() {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    debug!(user = %caller.user, "events websocket closed");
}

/// The routes of this module.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(kind: &str, agent: Option<&str>, call: Option<&str>) -> Published {
        Published {
            json: Utf8Bytes::from_static("{}"),
            kind: kind.into(),
            agent: agent.map(str::to_owned),
            call_id: call.map(str::to_owned),
        }
    }

    #[test]
    fn an_agent_sees_their_own_events_and_their_calls() {
        let mut f = Filter::for_caller(&Caller {
            user: "1001".into(),
            role: Role::Agent,
            agent: Some("1001".into()),
            expires_at_ms: None,
        });
        assert!(f.passes(&published("agent", Some("1001"), None)));
        assert!(!f.passes(&published("agent", Some("1002"), None)));
        assert!(!f.passes(&published("call", None, Some("c1"))));
        // The call is theirs once they are on it: its later events pass.
        assert!(f.passes(&published("call", Some("1001"), Some("c1"))));
        assert!(f.passes(&published("call", None, Some("c1"))));
        assert!(!f.passes(&published("call", None, Some("c2"))));
        assert!(!f.passes(&published("contact", None, None)));
        assert!(!f.passes(&published("import", None, None)));
        assert!(f.passes(&published("campaign", None, None)));
    }

    #[test]
    fn calls_build_events_only_while_a_client_is_connected() {
        let plugins = Arc::new(crate::plugin::Plugins::load(&[]));
        let hub = EventHub::new(plugins.clone());
        assert!(!plugins.wants_events());
        let first = hub.join().expect("join");
        let second = hub.join().expect("join");
        assert!(plugins.wants_events());
        drop(first);
        hub.leave();
        assert!(plugins.wants_events(), "one client is still there");
        drop(second);
        hub.leave();
        assert!(!plugins.wants_events());
    }

    #[test]
    fn a_supervisor_sees_everything() {
        let mut f = Filter::for_caller(&Caller {
            user: "boss".into(),
            role: Role::Supervisor,
            agent: None,
            expires_at_ms: None,
        });
        for kind in ["agent", "call", "queue", "contact", "import", "campaign"] {
            assert!(f.passes(&published(kind, Some("1002"), Some("c9"))));
        }
    }
}
