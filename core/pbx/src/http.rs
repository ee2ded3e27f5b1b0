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
    // `openapi_json` serves the document from here.
    api.layer(axum::Extension(Arc::new(doc)))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::guard,
        ))
        .with_state(state)
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI document of this API", body = Object)))]
async fn openapi_json(
    axum::Extension(doc): axum::Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}

/// The OpenAPI document's header, tags and security schemes; the paths
/// come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "waihu",
        description = "The waihu PBX: calls, agents, queues, campaigns, scripts, plugins, reports."
    ),
    modifiers(&SecuritySchemes),
    // Either scheme will do; operations open to anyone say `security(())`.
    security(("bearer" = []), ("cookie" = [])),
    tags(
        (name = "health", description = "Liveness and this document"),
        (name = "auth", description = "Logins, the caller, the audit log"),
        (name = "events", description = "The events WebSocket"),
        (name = "metrics", description = "Prometheus/OpenMetrics exposition"),
        (name = "calls", description = "Calls in progress, commands on them, CDRs"),
        (name = "trunks", description = "Carrier trunks"),
        (name = "agents", description = "Agents: state, login, ready, pause, logout, preview and manual dial"),
        (name = "desktop", description = "What the agent desktop needs: the agent's screen, script steps, hang-up, transfer"),
        (name = "queues", description = "ACD queues, their event history and callback requests"),
        (name = "campaigns", description = "Campaigns: configuration, state, attempts, dial-point refusals"),
        (name = "contacts", description = "Contact lists and agents' dispositions"),
        (name = "dnc", description = "The do-not-call table"),
        (name = "scripts", description = "Rule scripts: versions, reload, rollback, trying a hook"),
        (name = "plugins", description = "Native plugins and the customer lookup they answer"),
        (name = "reports", description = "Reports per agent, campaign and queue, as JSON or CSV"),
    )
)]
struct ApiDoc;

/// The two ways to present a token: `Authorization: Bearer TOKEN`, or the
/// `waihu_session` cookie `POST /api/v1/login` sets.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityScheme;
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token, or the token POST /api/v1/login answers",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "waihu_session",
                "The session cookie POST /api/v1/login sets",
            ))),
        );
    }
}

/// The body of an error answer. Handlers build it with `json!`; this type
/// only describes it in the OpenAPI document.
///
/// See [`json_body`] for the 400 a malformed body gets.
/// A JSON request body, or the 400 that names the expected `shape` and
/// what is wrong with the body.
// The error is the answer itself, returned at once by the handler.
#[allow(clippy::result_large_err)]
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("the body is not {shape}: {e}") })),
        )
            .into_response()
    })
}

#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct ApiError {
    /// What went wrong.
    error: String,
}

/// Every API route. Each is added with `.routes(routes!(handler))`, so it
/// is in the OpenAPI document through the handler's `#[utoipa::path]`;
/// never with axum's `.route(..)`, which would serve it undocumented
/// (`api_routes_are_added_only_with_routes_macro` checks the crate).
fn api_routes() -> OpenApiRouter<AppState> {
    use crate::{api_acd, api_campaigns, api_plugins};
    use utoipa_axum::routes;
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(crate::auth::routes())
        .merge(crate::events_ws::routes())
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(metrics))
        .routes(routes!(cdrs))
        .routes(routes!(calls))
        .routes(routes!(call_command))
        .routes(routes!(trunks))
        .routes(routes!(api_acd::agents))
        .routes(routes!(api_acd::agent))
        .routes(routes!(api_acd::agent_op))
        .routes(routes!(api_acd::queues))
        .routes(routes!(api_acd::events))
        .routes(routes!(api_acd::callbacks))
        .routes(routes!(api_campaigns::list, api_campaigns::create))
        .routes(routes!(api_campaigns::status, api_campaigns::change))
        .routes(routes!(api_campaigns::import, api_campaigns::contacts))
        .routes(routes!(api_campaigns::attempts))
        .routes(routes!(api_campaigns::dispose))
        .routes(routes!(api_campaigns::refusals))
        .routes(routes!(api_campaigns::preview))
        .routes(routes!(api_campaigns::preview_action))
        .routes(routes!(api_campaigns::manual_dial))
        .routes(routes!(api_campaigns::act))
        .routes(routes!(api_campaigns::dnc_list, api_campaigns::dnc_add))
        .routes(routes!(api_campaigns::dnc_remove))
        .routes(routes!(api_scripts::status))
        .routes(routes!(api_scripts::reload))
        .routes(routes!(api_scripts::rollback))
        .routes(routes!(api_scripts::try_hook))
        .routes(routes!(api_plugins::list))
        .routes(routes!(api_plugins::reload))
        .routes(routes!(api_plugins::customer))
        .merge(crate::api_reports::routes())
        .merge(crate::api_desktop::routes())
        .merge(crate::web::routes())
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

#[utoipa::path(get, path = "/api/v1/health", tag = "health", security(()),
    responses((status = 200, body = Object,
        description = "Up: `status` (\"ok\"), `version`, `uptime_secs`, `registered_contacts`")))]
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let registered = state.snapshots.borrow().sip.registrations;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "registered_contacts": registered,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CdrQuery {
    /// Only this call's CDRs.
    call_id: Option<String>,
    /// At most this many (default 100, at most 10000).
    limit: Option<u32>,
}

/// `GET /api/v1/cdrs?call_id=..&limit=..`: the most recent CDRs first.
#[utoipa::path(get, path = "/api/v1/cdrs", tag = "calls", params(CdrQuery),
    responses(
        (status = 200, description = "`cdrs`: call detail records, the most recent first", body = Object),
        (status = 500, description = "The store failed", body = ApiError),
        (status = 503, description = "No store", body = ApiError),
    ))]
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
#[utoipa::path(get, path = "/api/v1/trunks", tag = "trunks",
    responses((status = 200, body = Object,
        description = "`trunks`: registration, keepalive and channels per trunk")))]
async fn trunks(State(state): State<AppState>) -> Response {
    let trunks = state
        .calls
        .as_ref()
        .map(|c| c.trunks.statuses())
        .unwrap_or_default();
    Json(json!({ "trunks": trunks })).into_response()
}

/// `GET /api/v1/calls`: the calls in progress.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls",
    responses((status = 200, description = "`calls`: the calls in progress", body = Object)))]
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
#[utoipa::path(post, path = "/api/v1/calls/{call_id}/commands", tag = "calls",
    params(("call_id" = String, Path, description = "The call's id, as `GET /api/v1/calls` lists it")),
    request_body(content = Object, description = "A command of the call vocabulary, tagged by `type`",
        example = json!({"type": "hangup", "cause": "normal"})),
    responses(
        (status = 200, description = "The call's reply event", body = Object),
        (status = 404, description = "No such call in progress", body = ApiError),
        (status = 409, description = "The call refused the command (a `failed` event)", body = Object),
        (status = 503, description = "Calls are not running here", body = ApiError),
    ))]
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

/// `GET /metrics`: Prometheus/OpenMetrics text. Open unless the
/// configuration restricts it.
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The metrics, read at scrape time", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 500, description = "Encoding failed"),
    ))]
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
        counter(
            e,
            "waihu_sip_overload_refused",
            "New calls answered 503 because messages waited too long for their turn",
            s.sip.refused_calls,
        )?;
        let delay = ConstGauge::new(s.load.delay().as_secs_f64());
        delay.encode(e.encode_descriptor(
            "waihu_sip_queue_delay_seconds",
            "The delay received messages meet before their turn (a moving average)",
            None,
            delay.metric_type(),
        )?)?;
        counter(
            e,
            "waihu_dialer_overload_holds",
            "Times the dialer held new lines because the switch was overloaded",
            s.load.dialer_holds(),
        )?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            gauge(
                e,
                "waihu_runtime_workers",
                "Threads running SIP, calls, the dialer and the API (process.workers)",
                runtime.metrics().num_workers() as u64,
            )?;
        }
        gauge(
            e,
            "waihu_relay_uring_threads",
            "Relay engine threads on io_uring (the others, if any, on epoll; media.relay_io)",
            crate::call::relay::uring_threads() as u64,
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
        let ports = &self.calls.ports;
        gauge(
            e,
            "waihu_rtp_port_pairs",
            "RTP/RTCP port pairs in media.rtp_ports",
            u64::from(ports.capacity()),
        )?;
        gauge(
            e,
            "waihu_rtp_port_pairs_held",
            "Port pairs the switch holds: in calls, or resting before reuse",
            u64::from(ports.held()),
        )?;
        counter(
            e,
            "waihu_rtp_port_exhausted",
            "Call legs refused because every port pair of media.rtp_ports was in use",
            ports.exhausted(),
        )?;
        counter(
            e,
            "waihu_rtp_port_bind_failures",
            "Ports of media.rtp_ports found held by another program",
            ports.bind_failures(),
        )?;
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
            s.sip.refused_calls = 5;
            // One sample moves the average an eighth of the way: 37.5 ms.
            s.load.observe(std::time::Duration::from_millis(300));
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
            "waihu_sip_overload_refused_total 5",
            "waihu_sip_queue_delay_seconds 0.0375",
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

    /// The API as it stands, method and path. The document may hold more
    /// (new endpoints add themselves); it may never hold less.
    const DOCUMENTED: &[(&str, &str)] = &[
        ("get", "/api/v1/health"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/metrics"),
        ("post", "/api/v1/login"),
        ("post", "/api/v1/logout"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/cdrs"),
        ("get", "/api/v1/calls"),
        ("post", "/api/v1/calls/{call_id}/commands"),
        ("get", "/api/v1/trunks"),
        ("get", "/api/v1/agents"),
        ("get", "/api/v1/agents/{agent}"),
        ("post", "/api/v1/agents/{agent}/{op}"),
        ("post", "/api/v1/agents/{agent}/preview"),
        ("post", "/api/v1/agents/{agent}/preview/{contact}/{action}"),
        ("post", "/api/v1/agents/{agent}/dial"),
        ("get", "/api/v1/queues"),
        ("get", "/api/v1/acd/events"),
        ("get", "/api/v1/callbacks"),
        ("get", "/api/v1/campaigns"),
        ("post", "/api/v1/campaigns"),
        ("get", "/api/v1/campaigns/{name}"),
        ("put", "/api/v1/campaigns/{name}"),
        ("post", "/api/v1/campaigns/{name}/{action}"),
        ("get", "/api/v1/campaigns/{name}/contacts"),
        ("post", "/api/v1/campaigns/{name}/contacts"),
        ("get", "/api/v1/campaigns/{name}/attempts"),
        ("post", "/api/v1/attempts/{id}/disposition"),
        ("get", "/api/v1/refusals"),
        ("get", "/api/v1/dnc"),
        ("post", "/api/v1/dnc"),
        ("delete", "/api/v1/dnc/{number}"),
        ("get", "/api/v1/scripts"),
        ("post", "/api/v1/scripts/reload"),
        ("post", "/api/v1/scripts/rollback"),
        ("post", "/api/v1/scripts/try/{hook}"),
        ("get", "/api/v1/plugins"),
        ("post", "/api/v1/plugins/{name}/reload"),
        ("get", "/api/v1/customers/{key}"),
        ("get", "/api/v1/agents/{agent}/desktop"),
        ("post", "/api/v1/attempts/{id}/script"),
        ("post", "/api/v1/agents/{agent}/hangup"),
        ("post", "/api/v1/agents/{agent}/transfer"),
        ("get", "/api/v1/reports/agents"),
        ("get", "/api/v1/reports/campaigns"),
        ("get", "/api/v1/reports/campaigns/{name}"),
        ("get", "/api/v1/reports/queues"),
    ];

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// `path` with each `{param}` replaced by a value of the parameter's
    /// type as the operation documents it.
    fn concrete(path: &str, operation: &serde_json::Value) -> String {
        let params = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        path.split('/')
            .map(|segment| {
                let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                    return segment.to_owned();
                };
                let param = params
                    .iter()
                    .find(|p| p["name"] == name && p["in"] == "path")
                    .unwrap_or_else(|| panic!("{path}: {{{name}}} is not documented"));
                match param["schema"]["type"].as_str() {
                    Some("integer") => "1".to_owned(),
                    _ => "x".to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[tokio::test]
    async fn openapi_document_covers_every_route() {
        let (_tx, state) = state();
        let (status, content_type, body) = get(&state, "/api/v1/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        let version = doc["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3."), "openapi {version:?}");
        assert_eq!(doc["info"]["title"], "waihu");

        // Either scheme, everywhere but where an operation says otherwise.
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["type"], "http");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["cookie"]["type"], "apiKey");
        assert_eq!(schemes["cookie"]["in"], "cookie");
        assert_eq!(schemes["cookie"]["name"], "waihu_session");
        assert_eq!(doc["security"], json!([{"bearer": []}, {"cookie": []}]));
        // Open to anyone: exactly what the auth middleware lets through
        // without a token.
        let open = [("get", "/api/v1/health"), ("post", "/api/v1/login")];
        for (method, path) in open {
            assert_eq!(
                doc["paths"][path][method]["security"],
                json!([{}]),
                "{method} {path} is open"
            );
        }
        assert_eq!(
            doc["paths"]["/api/v1/agents"]["get"]["security"],
            serde_json::Value::Null,
            "an ordinary operation takes the document's security"
        );

        for (method, path) in DOCUMENTED {
            assert!(
                doc["paths"][path][method].is_object(),
                "{} {path} is not in the document",
                method.to_uppercase()
            );
        }

        // Every operation the document lists is one the router serves
        // (neither the fallback's 404 nor a 405), and says what it answers.
        let paths = doc["paths"].as_object().unwrap();
        let mut operation_ids = std::collections::HashSet::new();
        for (path, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let what = format!("{} {path}", method.to_uppercase());
                if operation["security"] == json!([{}]) {
                    assert!(
                        open.contains(&(method, path.as_str())),
                        "{what} says it is open"
                    );
                }
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    operation_ids.insert(id.to_owned()),
                    "{what}: operationId {id:?} is taken (name it with operation_id = ..)"
                );
                assert!(
                    operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "{what} has no tag"
                );
                let responses = operation["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{what} documents no answer");
                for (code, response) in responses {
                    assert!(
                        response["description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty()),
                        "{what} {code} has no description"
                    );
                }
                let request = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(concrete(path, operation))
                    .body(Body::empty())
                    .unwrap();
                let response = router(state.clone()).oneshot(request).await.unwrap();
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let body: serde_json::Value =
                    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
                assert!(
                    !(status == StatusCode::NOT_FOUND
                        && body["error"] == "not found"
                        && body.get("path").is_some()),
                    "{what} is documented but not routed"
                );
            }
        }
        assert!(operation_ids.len() >= DOCUMENTED.len());
    }

    /// The rule that keeps the document whole: an API route is added with
    /// `.routes(routes!(handler))` and an annotated handler, never with
    /// axum's `.route(..)`, which would serve it undocumented. Checked on
    /// the source, since a router cannot list its routes.
    #[test]
    fn api_routes_are_added_only_with_routes_macro() {
        let source = include_str!("http.rs");
        let start = source.find("fn api_routes()").unwrap();
        let end = start + source[start..].find("\n}\n").unwrap();
        assert!(
            !source[start..end].contains(".route("),
            "api_routes() adds a route with .route(..): use .routes(routes!(handler))"
        );

        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    // The code without comments or whitespace, so a call
                    // split over lines is still seen.
                    let text: String = std::fs::read_to_string(&path)
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("//"))
                        .flat_map(str::chars)
                        .filter(|c| !c.is_whitespace())
                        .collect();
                    for pattern in [".route(\"/api/", ".route(\"/metrics"] {
                        if text.contains(pattern) {
                            found.push(format!("{}: {pattern}", path.display()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.is_empty(), "undocumented API routes: {found:#?}");
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
