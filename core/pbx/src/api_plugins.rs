//! `/api/v1/plugins`: each plugin's state and counters, and reload; and
//! `/api/v1/customers/{key}`, the customer lookup plugins answer (what an
//! agent screen shows).

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::plugin::{Plugins, ReloadError};

type Reply = (StatusCode, Json<Value>);

fn plugins(state: &AppState) -> Result<Arc<Plugins>, Reply> {
    state.plugins.clone().ok_or_else(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "plugins are not loaded" })),
        )
    })
}

/// `GET /api/v1/plugins`.
#[utoipa::path(get, path = "/api/v1/plugins", operation_id = "plugins", tag = "plugins",
    responses(
        (status = 200, description = "`plugins`: each one's state and counters", body = Object),
        (status = 503, description = "Plugins are not loaded", body = crate::http::ApiError),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, Reply> {
    let plugins = plugins(&state)?;
    Ok(Json(json!({ "plugins": plugins.status() })))
}

/// `POST /api/v1/plugins/{name}/reload`: 200 with what loaded; 404 for
/// an unknown name; 422 when the file does not load (the previous
/// instance serves on).
#[utoipa::path(post, path = "/api/v1/plugins/{name}/reload", operation_id = "reload_plugin", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name in the configuration")),
    responses(
        (status = 200, description = "Reloaded: what `loaded`", body = Object),
        (status = 404, description = "No such plugin", body = crate::http::ApiError),
        (status = 422, description = "The file did not load (the previous instance serves on)", body = crate::http::ApiError),
        (status = 500, description = "The reload task failed", body = crate::http::ApiError),
        (status = 503, description = "Plugins are not loaded", body = crate::http::ApiError),
    ))]
pub async fn reload(State(state): State<AppState>, Path(name): Path<String>) -> Reply {
    let plugins = match plugins(&state) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // Loading runs the library's initialisers and the plugin's `new`
    // (which may read files): off the async workers.
    let outcome = tokio::task::spawn_blocking(move || plugins.reload(&name)).await;
    match outcome {
        Ok(Ok(loaded)) => (StatusCode::OK, Json(json!({ "loaded": loaded }))),
        Ok(Err(e @ ReloadError::Unknown(_))) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string() })),
        ),
        Ok(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": e.to_string() })),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e.to_string() })),
        ),
    }
}

/// `GET /api/v1/customers/{key}`: the customer with this E.164 number
/// or contact id, from the first lookup plugin that knows them.
#[utoipa::path(get, path = "/api/v1/customers/{key}", tag = "plugins",
    params(("key" = String, Path, description = "An E.164 number or a contact id")),
    responses(
        (status = 200, description = "The `customer`, and the `plugin` that knew them", body = Object),
        (status = 404, description = "No plugin knows them", body = crate::http::ApiError),
        (status = 503, description = "Plugins are not loaded", body = crate::http::ApiError),
    ))]
pub async fn customer(State(state): State<AppState>, Path(key): Path<String>) -> Reply {
    let plugins = match plugins(&state) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match plugins.lookup(&key).await {
        Some((by, customer)) => (
            StatusCode::OK,
            Json(json!({ "customer": customer, "plugin": by })),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no plugin knows {key}") })),
        ),
    }
}

/// `waihu_plugin_*`, read at scrape time.
#[derive(Debug)]
pub struct PluginCollector {
    pub plugins: Arc<Plugins>,
}

impl Collector for PluginCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let status = self.plugins.status();
        let e = &mut encoder;
        let family = |e: &mut DescriptorEncoder,
                      name: &str,
                      help: &str,
                      kind: MetricType,
                      value: &dyn Fn(&crate::plugin::PluginStatus) -> u64|
         -> fmt::Result {
            let mut f = e.encode_descriptor(name, help, None, kind)?;
            for p in &status {
                let labels = [("plugin", p.name.as_str())];
                if matches!(kind, MetricType::Counter) {
                    ConstCounter::new(value(p)).encode(f.encode_family(&labels)?)?;
                } else {
                    ConstGauge::new(value(p)).encode(f.encode_family(&labels)?)?;
                }
            }
            Ok(())
        };
        family(
            e,
            "waihu_plugin_loaded",
            "1 while an instance of the plugin serves",
            MetricType::Gauge,
            &|p| u64::from(p.loaded),
        )?;
        family(
            e,
            "waihu_plugin_disabled",
            "1 while the plugin is disabled after repeated failures",
            MetricType::Gauge,
            &|p| u64::from(p.disabled),
        )?;
        family(
            e,
            "waihu_plugin_calls",
            "Calls into the plugin (lookups, Lua calls, events, detector frames)",
            MetricType::Counter,
            &|p| p.calls,
        )?;
        let mut f = e.encode_descriptor(
            "waihu_plugin_failures",
            "Failed calls into the plugin, by kind",
            None,
            MetricType::Counter,
        )?;
        for p in &status {
            for (kind, n) in [
                ("error", p.errors),
                ("timeout", p.timeouts),
                ("panic", p.panics),
            ] {
                let labels = [("plugin", p.name.as_str()), ("kind", kind)];
                ConstCounter::new(n).encode(f.encode_family(&labels)?)?;
            }
        }
        family(
            e,
            "waihu_plugin_disables",
            "Times the plugin was disabled",
            MetricType::Counter,
            &|p| p.disabled_times,
        )?;
        family(
            e,
            "waihu_plugin_events_queued",
            "Events queued for the plugin",
            MetricType::Counter,
            &|p| p.events_queued,
        )?;
        family(
            e,
            "waihu_plugin_events_dropped",
            "Events not delivered: its queue was full, or it was disabled",
            MetricType::Counter,
            &|p| p.events_dropped,
        )?;
        family(
            e,
            "waihu_plugin_reloads",
            "Successful reloads",
            MetricType::Counter,
            &|p| p.reloads,
        )?;
        Ok(())
    }
}
