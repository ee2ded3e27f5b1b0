//! The ACD's HTTP API and metrics: agents (state, login, ready, pause,
//! logout), queues, the event history and callback requests.

use std::fmt;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use serde::Deserialize;
use serde_json::json;
use waihu_campaign::acd::AgentState;

use crate::acd::{AcdHandle, AgentOp};
use crate::http::AppState;

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "the acd is not running"})),
    )
        .into_response()
}

fn acd(state: &AppState) -> Option<AcdHandle> {
    state.calls.as_ref().map(|c| c.acd.clone())
}

/// `GET /api/v1/agents`: every agent with its state.
#[utoipa::path(get, path = "/api/v1/agents", operation_id = "list_agents", tag = "agents",
    responses(
        (status = 200, description = "`agents`: every agent with its state", body = Object),
        (status = 503, description = "The ACD is not running", body = crate::http::ApiError),
    ))]
pub async fn agents(State(state): State<AppState>) -> Response {
    let Some(snapshot) = (match acd(&state) {
        Some(acd) => acd.snapshot().await,
        None => None,
    }) else {
        return unavailable();
    };
    Json(json!({ "agents": snapshot.agents })).into_response()
}

/// `GET /api/v1/agents/{agent}`.
#[utoipa::path(get, path = "/api/v1/agents/{agent}", tag = "agents",
    params(("agent" = String, Path, description = "The agent's id (their SIP user)")),
    responses(
        (status = 200, description = "The agent with its state", body = Object),
        (status = 404, description = "No such agent", body = crate::http::ApiError),
        (status = 503, description = "The ACD is not running", body = crate::http::ApiError),
    ))]
pub async fn agent(State(state): State<AppState>, Path(agent): Path<String>) -> Response {
    let Some(snapshot) = (match acd(&state) {
        Some(acd) => acd.snapshot().await,
        None => None,
    }) else {
        return unavailable();
    };
    match snapshot.agents.into_iter().find(|a| a.name == agent) {
        Some(a) => Json(json!(a)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no agent {agent}")})),
        )
            .into_response(),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpBody {
    /// Why (pause and logout only; 1 to 64 printable characters).
    reason: Option<String>,
}

/// `POST /api/v1/agents/{agent}/{login|ready|pause|logout}`, with an
/// optional `{"reason": "..."}` for pause and logout.
#[utoipa::path(post, path = "/api/v1/agents/{agent}/{op}", tag = "agents",
    params(
        ("agent" = String, Path, description = "The agent's id"),
        ("op" = String, Path, description = "What to do: `login`, `ready`, `pause` or `logout`",
            example = "pause"),
    ),
    request_body(content = Option<OpBody>,
        description = "Optional (an empty body will do); the reason is for pause (default `break`) and logout (default `api`)"),
    responses(
        (status = 200, description = "The agent with its new state", body = Object),
        (status = 400, description = "The body or the reason is malformed", body = crate::http::ApiError),
        (status = 404, description = "No such agent, or no such operation", body = crate::http::ApiError),
        (status = 409, description = "Not allowed in the agent's state", body = crate::http::ApiError),
        (status = 503, description = "The ACD is not running", body = crate::http::ApiError),
    ))]
pub async fn agent_op(
    State(state): State<AppState>,
    Path((agent, op)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(acd) = acd(&state) else {
        return unavailable();
    };
    // The body is optional: empty, or {"reason": "..."}.
    let body: OpBody = if body.iter().all(u8::is_ascii_whitespace) {
        OpBody::default()
    } else {
        match crate::http::json_body(&body, r#"{"reason": "..."}"#) {
            Ok(b) => b,
            Err(bad) => return bad,
        }
    };
    let reason = body.reason;
    if reason
        .as_ref()
        .is_some_and(|r| r.is_empty() || r.len() > 64 || r.chars().any(char::is_control))
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "reason must be 1..64 printable characters"})),
        )
            .into_response();
    }
    let op = match op.as_str() {
        "login" => AgentOp::Login,
        "ready" => AgentOp::Ready,
        "pause" => AgentOp::Pause(reason.unwrap_or_else(|| "break".into())),
        "logout" => AgentOp::Logout(reason.unwrap_or_else(|| "api".into())),
        other => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no agent action {other}: login, ready, pause or logout")})),
            )
                .into_response();
        }
    };
    match acd.agent(&agent, op).await {
        Ok(()) => match acd.snapshot().await {
            Some(s) => Json(json!(s.agents.into_iter().find(|a| a.name == agent))).into_response(),
            None => unavailable(),
        },
        Err(e) if e.starts_with("no agent") => {
            (StatusCode::NOT_FOUND, Json(json!({"error": e}))).into_response()
        }
        Err(e) => (StatusCode::CONFLICT, Json(json!({"error": e}))).into_response(),
    }
}

/// `GET /api/v1/queues`: waiting calls, longest wait, agents per queue.
#[utoipa::path(get, path = "/api/v1/queues", operation_id = "list_queues", tag = "queues",
    responses(
        (status = 200, body = Object,
            description = "`queues` (waiting calls, longest wait, agents per queue) and `outbound_ready`"),
        (status = 503, description = "The ACD is not running", body = crate::http::ApiError),
    ))]
pub async fn queues(State(state): State<AppState>) -> Response {
    let Some(snapshot) = (match acd(&state) {
        Some(acd) => acd.snapshot().await,
        None => None,
    }) else {
        return unavailable();
    };
    Json(json!({ "queues": snapshot.queues, "outbound_ready": snapshot.outbound_ready }))
        .into_response()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events at or after this time (Unix milliseconds).
    #[serde(default)]
    since_ms: i64,
    /// At most this many (default 1000, 1 to 10000).
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    1000
}

/// `GET /api/v1/acd/events?since_ms=&limit=`: agent and queue history,
/// oldest first.
#[utoipa::path(get, path = "/api/v1/acd/events", operation_id = "acd_events", tag = "queues", params(EventsQuery),
    responses(
        (status = 200, description = "`events`: agent and queue history, oldest first", body = Object),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "No store", body = crate::http::ApiError),
    ))]
pub async fn events(State(state): State<AppState>, Query(q): Query<EventsQuery>) -> Response {
    let Some(store) = state.store.clone() else {
        return unavailable();
    };
    let limit = q.limit.clamp(1, 10_000);
    match store.run(move |s| s.acd_events(q.since_ms, limit)).await {
        Ok(events) => Json(json!({ "events": events })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e}))).into_response(),
    }
}

/// `GET /api/v1/callbacks`: callback requests not yet done.
#[utoipa::path(get, path = "/api/v1/callbacks", tag = "queues",
    responses(
        (status = 200, description = "`callbacks`: callback requests not yet done", body = Object),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "No store", body = crate::http::ApiError),
    ))]
pub async fn callbacks(State(state): State<AppState>) -> Response {
    let Some(store) = state.store.clone() else {
        return unavailable();
    };
    match store.run(|s| s.callbacks(true)).await {
        Ok(rows) => Json(json!({ "callbacks": rows })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e}))).into_response(),
    }
}

/// Agent and queue gauges from the ACD's latest tick.
#[derive(Debug)]
pub struct AcdCollector {
    pub acd: AcdHandle,
}

impl Collector for AcdCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = self.acd.latest();
        let gauge = prometheus_client::metrics::MetricType::Gauge;
        let mut family =
            encoder.encode_descriptor("waihu_agents", "Agents by state", None, gauge)?;
        for state in [
            AgentState::LoggedOut,
            AgentState::Ready,
            AgentState::Reserved,
            AgentState::OnCall,
            AgentState::WrapUp,
            AgentState::Paused,
        ] {
            let n = s.agents.iter().filter(|a| a.state == state).count() as u64;
            ConstGauge::new(n).encode(family.encode_family(&[("state", state.as_str())])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "waihu_queue_waiting",
            "Calls waiting in the queue",
            None,
            gauge,
        )?;
        for q in &s.queues {
            ConstGauge::new(u64::from(q.waiting))
                .encode(family.encode_family(&[("queue", q.name.as_str())])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "waihu_queue_longest_wait_seconds",
            "How long the oldest waiting call has waited",
            None,
            gauge,
        )?;
        for q in &s.queues {
            ConstGauge::new(q.longest_wait_ms as f64 / 1000.0)
                .encode(family.encode_family(&[("queue", q.name.as_str())])?)?;
        }
        Ok(())
    }
}
