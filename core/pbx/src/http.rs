//! The HTTP API: health, metrics, calls, agents, campaigns, scripts, plugins.
//!
//! The SIP driver publishes a [`Snapshot`] after every turn; handlers read
//! the latest one and never touch the endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;

use waihu_script::ScriptHost;

use crate::api_scripts;
use crate::shutdown::Shutdown;
use crate::sip::Snapshot;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
pub struct AppState {
    snapshots: watch::Receiver<Snapshot>,
    started: Instant,
    registry: Arc<Registry>,
    /// The rule scripts; `None` only in tests of the other endpoints.
    pub(crate) scripts: Option<Arc<ScriptHost>>,
    /// CDRs; `None` only in tests of the other endpoints.
    pub(crate) store: Option<crate::store::StoreHandle>,
    /// Calls in progress; `None` only in tests of the other endpoints.
    pub(crate) calls: Option<Arc<crate::call::CallContext>>,
    /// The campaigns of the configuration.
    pub(crate) campaigns: Arc<Vec<crate::config::Campaign>>,
    /// What the dialer is doing, per campaign.
    pub(crate) dialer: Option<crate::dialer::DialerHandle>,
    /// Native plugins; `None` only in tests of the other endpoints.
    pub(crate) plugins: Option<Arc<crate::plugin::Plugins>>,
    /// Logins and roles; `None` (everything open) only in tests of the
    /// other endpoints.
    pub(crate) auth: Option<Arc<crate::auth::Auth>>,
    /// The events WebSocket's hub; `None` only in tests of the other endpoints.
    pub(crate) events: Option<Arc<crate::events_ws::EventHub>>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn with_calls(mut self, calls: Arc<crate::call::CallContext>) -> AppState {
        // Collectors are added before the state is shared; after that the
        // registry is only read.
        if let Some(registry) = Arc::get_mut(&mut self.registry) {
            registry.register_collector(Box::new(CallCollector {
                calls: calls.clone(),
            }));
            registry.register_collector(Box::new(crate::api_acd::AcdCollector {
                acd: calls.acd.clone(),
            }));
        }
        self.calls = Some(calls);
        self
    }

    pub fn with_store(mut self, store: crate::store::StoreHandle) -> AppState {
        self.store = Some(store);
        self
    }

    pub fn with_campaigns(mut self, campaigns: Vec<crate::config::Campaign>) -> AppState {
        self.campaigns = Arc::new(campaigns);
        self
    }

    pub fn with_dialer(mut self, dialer: crate::dialer::DialerHandle) -> AppState {
        if let Some(registry) = Arc::get_mut(&mut self.registry) {
            registry.register_collector(Box::new(crate::api_campaigns::DialerCollector {
                feed: dialer.status.clone(),
            }));
        }
        self.dialer = Some(dialer);
        self
    }

    pub fn with_plugins(mut self, plugins: Arc<crate::plugin::Plugins>) -> AppState {
        if let Some(registry) = Arc::get_mut(&mut self.registry) {
            registry.register_collector(Box::new(crate::api_plugins::PluginCollector {
                plugins: plugins.clone(),
            }));
        }
        self.plugins = Some(plugins);
        self
    }

    pub fn with_auth(mut self, auth: Arc<crate::auth::Auth>) -> AppState {
        self.auth = Some(auth);
        self
    }

    pub fn with_events(mut self, events: Arc<crate::events_ws::EventHub>) -> AppState {
        self.events = Some(events);
        self
    }

    pub fn with_scripts(mut self, scripts: Arc<ScriptHost>) -> AppState {
        self.scripts = Some(scripts);
        self
    }

    pub fn new(snapshots: watch::Receiver<Snapshot>, started: Instant) -> AppState {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SipCollector {
            snapshots: snapshots.clone(),
        }));
        AppState {
            snapshots,
            started,
            registry: Arc::new(registry),
            scripts: None,
            store: None,
            calls: None,
            campaigns: Arc::new(Vec::new()),
            dialer: None,
            plugins: None,
            auth: None,
            events: None,
        }
    }
}

/// The whole HTTP service: the API (with its OpenAPI document, built from
/// the handlers' annotations) and the web pages.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_routes().split_for_parts();
    let doc = Arc::new(doc);
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
    .fallback(not_found)
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::auth::guard,
    ))
    .with_state(state)
}

/// The OpenAPI document's header; the paths come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "waihu",
    description = "The waihu PBX: calls, agents, queues, campaigns, scripts, plugins, reports."
))]
struct ApiDoc;

/// Every API route. A route added with `.routes(routes!(handler))` is in
/// the OpenAPI document through the handler's `#[utoipa::path]`.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(crate::auth::routes())
        .merge(crate::events_ws::routes())
        .route("/api/v1/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v1/cdrs", get(cdrs))
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/trunks", get(trunks))
        .route("/api/v1/agents", get(crate::api_acd::agents))
        .route("/api/v1/agents/{agent}", get(crate::api_acd::agent))
        .route(
            "/api/v1/agents/{agent}/{op}",
            post(crate::api_acd::agent_op),
        )
        .route("/api/v1/queues", get(crate::api_acd::queues))
        .route("/api/v1/acd/events", get(crate::api_acd::events))
        .route("/api/v1/callbacks", get(crate::api_acd::callbacks))
        .route(
            "/api/v1/campaigns",
            get(crate::api_campaigns::list).post(crate::api_campaigns::create),
        )
        .route(
            "/api/v1/campaigns/{name}",
            get(crate::api_campaigns::status).put(crate::api_campaigns::change),
        )
        .route(
            "/api/v1/campaigns/{name}/contacts",
            post(crate::api_campaigns::import).get(crate::api_campaigns::contacts),
        )
        .route(
            "/api/v1/campaigns/{name}/attempts",
            get(crate::api_campaigns::attempts),
        )
        .route(
            "/api/v1/attempts/{id}/disposition",
            post(crate::api_campaigns::dispose),
        )
        .route("/api/v1/refusals", get(crate::api_campaigns::refusals))
        .route(
            "/api/v1/agents/{agent}/preview",
            post(crate::api_campaigns::preview),
        )
        .route(
            "/api/v1/agents/{agent}/preview/{contact}/{action}",
            post(crate::api_campaigns::preview_action),
        )
        .route(
            "/api/v1/agents/{agent}/dial",
            post(crate::api_campaigns::manual_dial),
        )
        .route(
            "/api/v1/campaigns/{name}/{action}",
            post(crate::api_campaigns::act),
        )
        .route(
            "/api/v1/dnc",
            get(crate::api_campaigns::dnc_list).post(crate::api_campaigns::dnc_add),
        )
        .route(
            "/api/v1/dnc/{number}",
            axum::routing::delete(crate::api_campaigns::dnc_remove),
        )
        .route("/api/v1/calls/{call_id}/commands", post(call_command))
        .route("/api/v1/scripts", get(api_scripts::status))
        .route("/api/v1/scripts/reload", post(api_scripts::reload))
        .route("/api/v1/scripts/rollback", post(api_scripts::rollback))
        .route("/api/v1/scripts/try/{hook}", post(api_scripts::try_hook))
        .route("/api/v1/plugins", get(crate::api_plugins::list))
        .route(
            "/api/v1/plugins/{name}/reload",
            post(crate::api_plugins::reload),
        )
        .route("/api/v1/customers/{key}", get(crate::api_plugins::customer))
        .merge(crate::api_reports::routes())
}

/// Serves until shutdown, then lets requests in flight finish.
pub async fn serve(listener: TcpListener, state: AppState, mut shutdown: Shutdown) {
    let local = listener.local_addr().ok();
    let stop = async move { shutdown.recv().await };
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(?local, error = %e, "http server failed");
    }
    tracing::debug!(?local, "http server stopped");
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let registered = state.snapshots.borrow().sip.registrations;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "registered_contacts": registered,
    }))
}

#[derive(Debug, serde::Deserialize)]
struct CdrQuery {
    call_id: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/cdrs?call_id=..&limit=..`: the most recent CDRs first.
async fn cdrs(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<CdrQuery>,
) -> Response {
    let Some(store) = state.store.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "no store"})),
        )
            .into_response();
    };
    match store
        .cdrs(q.call_id, q.limit.unwrap_or(100).min(10_000))
        .await
    {
        Ok(rows) => Json(json!({ "cdrs": rows })).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e })),
        )
            .into_response(),
    }
}

/// `GET /api/v1/trunks`: registration, keepalive and channels per trunk.
async fn trunks(State(state): State<AppState>) -> Response {
    let trunks = state
        .calls
        .as_ref()
        .map(|c| c.trunks.statuses())
        .unwrap_or_default();
    Json(json!({ "trunks": trunks })).into_response()
}

/// `GET /api/v1/calls`: the calls in progress.
async fn calls(State(state): State<AppState>) -> Response {
    let calls = state
        .calls
        .as_ref()
        .map(|c| c.registry.list())
        .unwrap_or_default();
    Json(json!({ "calls": calls })).into_response()
}

/// `POST /api/v1/calls/{call_id}/commands` with a command of the call
/// vocabulary (`{"type":"hangup","cause":"normal"}`, `{"type":"record",
/// "file":"x.wav","mode":"stereo"}`, `{"type":"stop_record"}`,
/// `{"type":"send_dtmf","digits":"12"}`); answers with the reply event.
async fn call_command(
    State(state): State<AppState>,
    axum::extract::Path(call_id): axum::extract::Path<String>,
    Json(command): Json<waihu_call::Command>,
) -> Response {
    let Some(calls) = state.calls.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "no calls here"})),
        )
            .into_response();
    };
    match calls.registry.command(&call_id, command).await {
        Some(event @ waihu_call::Event::Failed { .. }) => {
            (StatusCode::CONFLICT, Json(json!(event))).into_response()
        }
        Some(event) => Json(json!(event)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no call {call_id} in progress")})),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], body).into_response(),
        Err(fmt::Error) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn not_found(uri: Uri) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not found", "path": uri.path() })),
    )
}

/// Turns the latest snapshot into metrics at scrape time.
#[derive(Debug)]
struct SipCollector {
    snapshots: watch::Receiver<Snapshot>,
}

impl Collector for SipCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = self.snapshots.borrow().clone();
        let e = &mut encoder;
        // Counters get `_total` appended by the encoder.
        counter(
            e,
            "waihu_sip_messages_in",
            "SIP messages received",
            s.sip.messages_in,
        )?;
        counter(
            e,
            "waihu_sip_messages_out",
            "SIP messages sent",
            s.sip.messages_out,
        )?;
        counter(
            e,
            "waihu_sip_malformed",
            "Messages that failed to parse",
            s.sip.malformed,
        )?;
        counter(
            e,
            "waihu_sip_rate_limited",
            "Messages dropped by the per-IP rate limit",
            s.sip.rate_limited,
        )?;
        counter(
            e,
            "waihu_sip_transactions",
            "Server transactions started",
            s.sip.transactions_started,
        )?;
        gauge(
            e,
            "waihu_sip_transactions_active",
            "Server transactions in progress",
            s.sip.transactions_active,
        )?;
        gauge(
            e,
            "waihu_sip_registrations",
            "Registered contacts",
            s.sip.registrations,
        )?;
        counter(
            e,
            "waihu_sip_auth_failures",
            "Failed digest authentications",
            s.sip.auth_failures,
        )?;
        counter(
            e,
            "waihu_sip_bans",
            "IPs banned for repeated auth failures",
            s.sip.bans,
        )?;
        gauge(
            e,
            "waihu_tcp_connections",
            "Open SIP TCP connections",
            s.tcp_connections as u64,
        )?;
        Ok(())
    }
}

/// Calls and trunks, read at scrape time.
#[derive(Debug)]
struct CallCollector {
    calls: Arc<crate::call::CallContext>,
}

impl Collector for CallCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let e = &mut encoder;
        let active = self.calls.active.load(std::sync::atomic::Ordering::Relaxed);
        gauge(e, "waihu_calls_active", "Calls in progress", active as u64)?;
        let trunks = self.calls.trunks.statuses();
        let per_trunk = |e: &mut DescriptorEncoder,
                         name: &str,
                         help: &str,
                         value: &dyn Fn(&crate::trunks::TrunkStatus) -> u64|
         -> fmt::Result {
            let mut family = e.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for t in &trunks {
                let labels = [("trunk", t.name.as_str())];
                ConstGauge::new(value(t)).encode(family.encode_family(&labels)?)?;
            }
            Ok(())
        };
        per_trunk(
            e,
            "waihu_trunk_registered",
            "1 when the trunk is registered (or does not register)",
            &|t| u64::from(matches!(t.registration, "registered" | "disabled")),
        )?;
        per_trunk(
            e,
            "waihu_trunk_up",
            "1 while the trunk answers OPTIONS",
            &|t| u64::from(t.up),
        )?;
        per_trunk(e, "waihu_trunk_channels", "Calls up on the trunk", &|t| {
            u64::from(t.channels)
        })?;
        per_trunk(
            e,
            "waihu_trunk_refused",
            "Calls refused for the trunk's channel or call-rate limit",
            &|t| t.refused,
        )?;
        Ok(())
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn state() -> (watch::Sender<Snapshot>, AppState) {
        let (tx, rx) = watch::channel(Snapshot::default());
        (tx, AppState::new(rx, Instant::now()))
    }

    async fn get(state: &AppState, path: &str) -> (StatusCode, String, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn health_reports_version_and_contacts() {
        let (tx, state) = state();
        tx.send_modify(|s| s.sip.registrations = 3);
        let (status, content_type, body) = get(&state, "/api/v1/health").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["registered_contacts"], 3);
        assert!(v["uptime_secs"].is_u64());
    }

    #[tokio::test]
    async fn metrics_follow_the_latest_snapshot() {
        let (tx, state) = state();
        tx.send_modify(|s| {
            s.sip.messages_in = 7;
            s.sip.transactions_active = 2;
            s.tcp_connections = 4;
        });
        let (status, content_type, body) = get(&state, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("application/openmetrics-text"));
        for line in [
            "waihu_sip_messages_in_total 7",
            "waihu_sip_messages_out_total 0",
            "waihu_sip_malformed_total 0",
            "waihu_sip_rate_limited_total 0",
            "waihu_sip_transactions_total 0",
            "waihu_sip_transactions_active 2",
            "waihu_sip_registrations 0",
            "waihu_sip_auth_failures_total 0",
            "waihu_sip_bans_total 0",
            "waihu_tcp_connections 4",
            "# TYPE waihu_sip_messages_in counter",
            "# TYPE waihu_tcp_connections gauge",
        ] {
            assert!(
                body.lines().any(|l| l == line),
                "{line:?} missing from\n{body}"
            );
        }
        tx.send_modify(|s| s.sip.messages_in = 8);
        let (_, _, body) = get(&state, "/metrics").await;
        assert!(body.contains("waihu_sip_messages_in_total 8"));
    }

    #[tokio::test]
    async fn anything_else_is_a_json_404() {
        let (_tx, state) = state();
        let (status, content_type, body) = get(&state, "/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, "application/json");
        assert!(body.contains("\"not found\""), "{body}");
    }
}
