//! The campaigns' HTTP API: list and state, contact import (CSV body), and
//! the do-not-call table.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use waihu_campaign::contact::ImportSpec;

use crate::campaigns::{self, ImportError, Transition};
use crate::http::AppState;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn no_store() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "the store is not running")
}

/// `GET /api/v1/campaigns`: every campaign (configured or in the store)
/// with its mode, state and counts.
#[utoipa::path(get, path = "/api/v1/campaigns", operation_id = "list_campaigns", tag = "campaigns",
    responses(
        (status = 200, body = Object,
            description = "`campaigns`: each with `name`, `mode`, `state`, `counts`, `agent_script`"),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn list(State(state): State<AppState>) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let configured: Vec<(String, String)> = state
        .campaigns
        .iter()
        .map(|c| (c.name.clone(), c.mode.clone()))
        .collect();
    let scripts: Vec<(String, Option<String>)> = state
        .campaigns
        .iter()
        .map(|c| (c.name.clone(), c.agent_script.clone()))
        .collect();
    let result = store
        .run(move |s| {
            let rows = s.campaigns()?;
            let mut names: Vec<(String, String)> = configured;
            for r in &rows {
                if !names.iter().any(|(n, _)| n == &r.name) {
                    let mode = serde_json::from_str::<crate::config::CampaignEntry>(&r.config)
                        .map_or_else(|_| "-".to_owned(), |e| e.mode);
                    names.push((r.name.clone(), mode));
                }
            }
            let mut out = Vec::new();
            for (name, mode) in names {
                let state = rows
                    .iter()
                    .find(|r| r.name == name)
                    .map_or("draft", |r| r.state.as_str())
                    .to_owned();
                let counts = s.campaign_counts(&name)?;
                let agent_script = scripts
                    .iter()
                    .find(|(n, _)| n == &name)
                    .and_then(|(_, a)| a.clone());
                out.push(json!({
                    "name": name, "mode": mode, "state": state, "counts": counts,
                    "agent_script": agent_script,
                }));
            }
            Ok(out)
        })
        .await;
    match result {
        Ok(list) => Json(json!({ "campaigns": list })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn known(state: &AppState, rows: &[waihu_store::CampaignRow], name: &str) -> bool {
    state.campaigns.iter().any(|c| c.name == name) || rows.iter().any(|r| r.name == name)
}

/// `GET /api/v1/campaigns/{name}`.
#[utoipa::path(get, path = "/api/v1/campaigns/{name}", operation_id = "campaign_status", tag = "campaigns",
    params(("name" = String, Path, description = "The campaign's name")),
    responses(
        (status = 200, body = Object,
            description = "`name`, `state`, `counts` and what the `dialer` is doing for it"),
        (status = 404, description = "No such campaign", body = crate::http::ApiError),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn status(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let n = name.clone();
    let result = store
        .run(move |s| Ok((s.campaigns()?, s.campaign_counts(&n)?)))
        .await;
    match result {
        Ok((rows, counts)) => {
            if !known(&state, &rows, &name) {
                return error(StatusCode::NOT_FOUND, format!("no campaign {name}"));
            }
            let st = rows
                .iter()
                .find(|r| r.name == name)
                .map_or("draft", |r| r.state.as_str());
            let dialer = state
                .dialer
                .as_ref()
                .and_then(|d| d.status.borrow().iter().find(|c| c.name == name).cloned());
            Json(json!({"name": name, "state": st, "counts": counts, "dialer": dialer}))
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `POST /api/v1/campaigns/{name}/{start|pause|stop}`.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/{action}", operation_id = "campaign_action", tag = "campaigns",
    params(
        ("name" = String, Path, description = "The campaign's name"),
        ("action" = String, Path, description = "`start`, `pause` or `stop`", example = "start"),
    ),
    responses(
        (status = 200, description = "`name` and the new `state`", body = Object),
        (status = 404, description = "No such campaign or action", body = crate::http::ApiError),
        (status = 409, description = "Not possible from the campaign's state", body = crate::http::ApiError),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn act(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let Some(t) = Transition::parse(&action) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no action {action} (start, pause, stop)"),
        );
    };
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let configured = state.campaigns.iter().any(|c| c.name == name);
    let n = name.clone();
    let result = store
        .run(move |s| {
            let known = configured || s.campaigns()?.iter().any(|r| r.name == n);
            if !known {
                return Ok(Err((StatusCode::NOT_FOUND, format!("no campaign {n}"))));
            }
            Ok(campaigns::transition(s, &n, t, campaigns::now_ms())
                .map_err(|e| (StatusCode::CONFLICT, e)))
        })
        .await;
    match result {
        Ok(Ok(to)) => Json(json!({"name": name, "state": to})).into_response(),
        Ok(Err((status, e))) => error(status, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Refuse the whole list when any row is bad (default false).
    #[serde(default)]
    strict: bool,
}

/// `POST /api/v1/campaigns/{name}/contacts`: a CSV list as the body;
/// answers the import report (bad rows by line).
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/contacts", operation_id = "import_contacts", tag = "contacts",
    params(("name" = String, Path, description = "The campaign's name"), ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The contact list, with the columns of the campaign's import spec"),
    responses(
        (status = 200, description = "The import report: counts, and bad rows by line", body = Object),
        (status = 400, description = "The list cannot be read", body = crate::http::ApiError),
        (status = 404, description = "No such campaign", body = crate::http::ApiError),
        (status = 422, description = "Refused (strict, with bad rows): the import report", body = Object),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn import(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let spec: Option<ImportSpec> = state
        .campaigns
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.import.clone());
    let n = name.clone();
    let result = store
        .run(move |s| {
            let row = s.campaigns()?.into_iter().find(|r| r.name == n);
            let stored = row
                .as_ref()
                .and_then(|r| campaigns::stored_import_spec(&r.config));
            let spec = match (stored, spec) {
                (Some(stored), _) => stored,
                (None, Some(spec)) => spec,
                (None, None) if row.is_some() => ImportSpec::default(),
                (None, None) => {
                    return Ok(Err((StatusCode::NOT_FOUND, format!("no campaign {n}"))));
                }
            };
            let open =
                || Ok(Box::new(std::io::Cursor::new(body.clone())) as Box<dyn std::io::Read>);
            Ok(
                match campaigns::import(s, &n, &spec, q.strict, open, campaigns::now_ms(), |_| {}) {
                    Ok(report) => Ok(report),
                    Err(ImportError::Store(e)) => return Err(e),
                    Err(e) => Err((StatusCode::BAD_REQUEST, e.to_string())),
                },
            )
        })
        .await;
    match result {
        Ok(Ok(report)) if report.refused => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!(report))).into_response()
        }
        Ok(Ok(report)) => {
            if let Some(plugins) = &state.plugins {
                plugins.emit(crate::plugin::Event::Import {
                    at_ms: campaigns::now_ms(),
                    campaign: report.campaign.clone(),
                    inserted: report.inserted,
                    merged: report.merged,
                    bad: report.bad,
                });
            }
            Json(json!(report)).into_response()
        }
        Ok(Err((status, e))) => error(status, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `GET /api/v1/dnc`.
#[utoipa::path(get, path = "/api/v1/dnc", tag = "dnc",
    responses(
        (status = 200, body = Object,
            description = "`dnc`: each with `phone`, `reason`, `source`, `added_ms`"),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn dnc_list(State(state): State<AppState>) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    match store.run(|s| s.dnc_list()).await {
        Ok(rows) => {
            let rows: Vec<_> = rows
                .into_iter()
                .map(|(phone, reason, source, added_ms)| {
                    json!({"phone": phone, "reason": reason, "source": source, "added_ms": added_ms})
                })
                .collect();
            Json(json!({ "dnc": rows })).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DncEntry {
    /// E.164, or national in `country`.
    number: String,
    /// Why (default "added through the API").
    #[serde(default)]
    reason: Option<String>,
    /// ISO country code for a national number (default CN).
    #[serde(default)]
    country: Option<String>,
}

/// `POST /api/v1/dnc` `{"number", "reason"?, "country"?}`: on disk before
/// the answer.
#[utoipa::path(post, path = "/api/v1/dnc", tag = "dnc",
    request_body = DncEntry,
    responses(
        (status = 201, description = "On the table: `phone` (E.164)", body = Object),
        (status = 400, description = "Not a phone number", body = crate::http::ApiError),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn dnc_add(State(state): State<AppState>, Json(entry): Json<DncEntry>) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let country = entry.country.as_deref().unwrap_or("CN");
    let phone = match crate::campaigns::normalise(&entry.number, country) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{:?}: {e}", entry.number)),
    };
    let reason = entry
        .reason
        .unwrap_or_else(|| "added through the API".into());
    let p = phone.clone();
    match store
        .run(move |s| s.add_dnc(&p, &reason, "api", campaigns::now_ms()))
        .await
    {
        Ok(()) => {
            if let Some(calls) = &state.calls {
                calls.dnc.insert(&phone);
            }
            (StatusCode::CREATED, Json(json!({ "phone": phone }))).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `DELETE /api/v1/dnc/{number}` (E.164, or national with `?country=`).
#[utoipa::path(delete, path = "/api/v1/dnc/{number}", tag = "dnc",
    params(
        ("number" = String, Path, description = "E.164, or national with `country`"),
        ("country" = Option<String>, Query, description = "ISO country code for a national number (default CN)"),
    ),
    responses(
        (status = 200, description = "Removed: `phone`, `removed`", body = Object),
        (status = 400, description = "Not a phone number", body = crate::http::ApiError),
        (status = 404, description = "Not on the table", body = crate::http::ApiError),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn dnc_remove(
    State(state): State<AppState>,
    Path(number): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let country = q.get("country").map_or("CN", String::as_str);
    let phone = match crate::campaigns::normalise(&number, country) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{number:?}: {e}")),
    };
    let p = phone.clone();
    match store.run(move |s| s.remove_dnc(&p)).await {
        Ok(true) => {
            if let Some(calls) = &state.calls {
                calls.dnc.remove(&phone);
            }
            Json(json!({ "phone": phone, "removed": true })).into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("{phone} is not on the do-not-call table"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Disposition {
    /// One of the five categories (unreachable, success, likely,
    /// interested, declined), `callback` (with `callback_at_ms`) or
    /// `do_not_call`.
    disposition: String,
    /// When to call back (Unix milliseconds); needed by `callback`.
    #[serde(default)]
    callback_at_ms: Option<i64>,
}

/// `POST /api/v1/attempts/{id}/disposition`: the agent's verdict on a
/// call, which plans the contact's next attempt (`campaign.next_attempt`
/// or the retry policy). `do_not_call` puts the number on the table, on
/// disk before the answer.
#[utoipa::path(post, path = "/api/v1/attempts/{id}/disposition", tag = "contacts",
    params(("id" = i64, Path, description = "The attempt's id")),
    request_body = Disposition,
    responses(
        (status = 200, body = Object,
            description = "`attempt`, `disposition` and the contact's `next_attempt_ms` (null: none)"),
        (status = 400, description = "Not an agent's disposition, or a callback without a time", body = crate::http::ApiError),
        (status = 404, description = "No such attempt, or its contact is gone", body = crate::http::ApiError),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn dispose(
    State(state): State<AppState>,
    Path(attempt_id): Path<i64>,
    Json(d): Json<Disposition>,
) -> Response {
    use waihu_campaign::rules::Outcome;
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let Some(calls) = state.calls.clone() else {
        return no_store();
    };
    let outcome: Outcome = match d.disposition.parse() {
        Ok(o) => o,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{:?} is not a disposition", d.disposition),
            );
        }
    };
    let allowed =
        outcome.is_agent_disposition() || matches!(outcome, Outcome::Callback | Outcome::DoNotCall);
    if !allowed {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{outcome} is a system outcome, not an agent's disposition"),
        );
    }
    if outcome == Outcome::Callback && d.callback_at_ms.is_none() {
        return error(StatusCode::BAD_REQUEST, "callback needs callback_at_ms");
    }
    let campaigns = state.campaigns.clone();
    let scripts = calls.scripts.clone();
    let now = campaigns::now_ms();
    let result = store
        .run(move |s| {
            let Some(attempt) = s.attempt(attempt_id)? else {
                return Ok(Err((
                    StatusCode::NOT_FOUND,
                    format!("no attempt {attempt_id}"),
                )));
            };
            let Some(contact) = s.contact(attempt.contact_id)? else {
                return Ok(Err((
                    StatusCode::NOT_FOUND,
                    "the contact is gone".to_owned(),
                )));
            };
            let next = if outcome == Outcome::DoNotCall {
                s.add_dnc(
                    &contact.phone,
                    "customer asked (agent disposition)",
                    "agent",
                    now,
                )?;
                None
            } else {
                match campaigns.iter().find(|c| c.name == attempt.campaign) {
                    Some(c) => crate::dialpoint::next_attempt(
                        &scripts,
                        &crate::dialpoint::RetryContext::of(c),
                        &contact,
                        outcome.as_str(),
                        contact.attempts,
                        now,
                        d.callback_at_ms,
                    ),
                    None => None,
                }
            };
            s.set_disposition(attempt_id, outcome.as_str(), next)?;
            Ok(Ok((
                contact.phone,
                contact.id,
                attempt.campaign,
                next,
                attempt.call_id,
            )))
        })
        .await;
    match result {
        Ok(Ok((phone, contact_id, campaign, next, call_id))) => {
            // On disk: the agent's wrap-up may end now.
            calls.acd.disposed(&call_id).await;
            if outcome == Outcome::DoNotCall {
                calls.dnc.insert(&phone);
            }
            calls.plugins.emit(crate::plugin::Event::Contact {
                at_ms: now,
                campaign,
                contact_id,
                attempt_id: Some(attempt_id),
                phone,
                event: "disposition".into(),
                outcome: Some(outcome.as_str().into()),
            });
            Json(json!({"attempt": attempt_id, "disposition": outcome.as_str(), "next_attempt_ms": next}))
                .into_response()
        }
        Ok(Err((status, e))) => error(status, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Only rows with an id above this one.
    #[serde(default)]
    after: i64,
    /// At most this many (default 1000, at most 10000).
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    1000
}

/// `GET /api/v1/campaigns/{name}/attempts?after=ID&limit=N`.
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/attempts", tag = "campaigns",
    params(("name" = String, Path, description = "The campaign's name"), Page),
    responses(
        (status = 200, description = "`attempts`, by id", body = Object),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn attempts(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Page>,
) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let limit = p.limit.min(10_000);
    match store
        .run(move |s| s.attempts(Some(&name), p.after, limit))
        .await
    {
        Ok(rows) => Json(json!({ "attempts": rows })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `GET /api/v1/campaigns/{name}/contacts?after=ID&limit=N`.
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/contacts", tag = "contacts",
    params(("name" = String, Path, description = "The campaign's name"), Page),
    responses(
        (status = 200, description = "`contacts`, by id", body = Object),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn contacts(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Page>,
) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let limit = p.limit.min(10_000);
    match store.run(move |s| s.contacts(&name, p.after, limit)).await {
        Ok(rows) => Json(json!({ "contacts": rows })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `GET /api/v1/refusals?since_ms=&limit=`.
#[utoipa::path(get, path = "/api/v1/refusals", tag = "campaigns",
    params(
        ("since_ms" = Option<i64>, Query, description = "Only refusals at or after this time (Unix milliseconds)"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 1000, at most 10000)"),
    ),
    responses(
        (status = 200, description = "`refusals`: calls the dial point refused, and why", body = Object),
        (status = 500, description = "The store failed", body = crate::http::ApiError),
        (status = 503, description = "The store is not running", body = crate::http::ApiError),
    ))]
pub async fn refusals(
    State(state): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let since: i64 = q.get("since_ms").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: u32 = q
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .min(10_000);
    match store.run(move |s| s.refusals(since, limit)).await {
        Ok(rows) => Json(json!({ "refusals": rows })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// One figure of a campaign's status.
type Figure = fn(&crate::dialer::CampaignStatus) -> f64;

/// Per-campaign gauges from the dialer's latest tick.
#[derive(Debug)]
pub struct DialerCollector {
    pub feed: crate::dialer::StatusFeed,
}

impl prometheus_client::collector::Collector for DialerCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::gauge::ConstGauge;
        let campaigns = self.feed.borrow().clone();
        let gauge = prometheus_client::metrics::MetricType::Gauge;
        let lines: [(&str, &str, Figure); 5] = [
            (
                "waihu_campaign_ringing",
                "Campaign lines dialled, not answered yet",
                |c| f64::from(c.ringing),
            ),
            (
                "waihu_campaign_waiting",
                "Answered campaign calls waiting for an agent",
                |c| f64::from(c.waiting),
            ),
            (
                "waihu_campaign_connected",
                "Campaign calls with an agent",
                |c| f64::from(c.connected),
            ),
            (
                "waihu_campaign_abandon_rate",
                "Abandoned share of live answers over the campaign's window",
                |c| c.abandon_rate,
            ),
            (
                "waihu_campaign_abandon_target",
                "The campaign's abandon-rate target",
                |c| c.abandon_target,
            ),
        ];
        for (name, help, value) in lines {
            let mut family = encoder.encode_descriptor(name, help, None, gauge)?;
            for c in &campaigns {
                let labels = [("campaign", c.name.as_str())];
                let metric = family.encode_family(&labels)?;
                ConstGauge::new(value(c)).encode(metric)?;
            }
        }
        Ok(())
    }
}

fn request_error(e: crate::dialer::agent::RequestError) -> Response {
    use crate::dialer::agent::RequestError;
    match e {
        RequestError::BadRequest(m) => error(StatusCode::BAD_REQUEST, m),
        RequestError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
        RequestError::Conflict(m) => error(StatusCode::CONFLICT, m),
        RequestError::Refused(r) => (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error": format!("refused at the dial point: {r}"),
                "reason": r.reason,
                "detail": r.detail,
                "retry_at_ms": r.retry_at,
            })),
        )
            .into_response(),
    }
}

fn no_dialer() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "the dialer is not running")
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Preview from this campaign only.
    #[serde(default)]
    campaign: Option<String>,
}

/// `POST /api/v1/agents/{agent}/preview[?campaign=NAME]`: the next
/// contact for the agent to preview (record, history, and the customer
/// from the lookup plugins), held for them until they accept or skip it,
/// or it times out.
#[utoipa::path(post, path = "/api/v1/agents/{agent}/preview", tag = "agents",
    params(("agent" = String, Path, description = "The agent's id"), PreviewQuery),
    responses(
        (status = 200, body = Object,
            description = "The contact held for the agent, its history, and the `customer` from the lookup plugins (or null)"),
        (status = 400, description = "The request is malformed", body = crate::http::ApiError),
        (status = 403, description = "Refused at the dial point: `error`, `reason`, `detail`, `retry_at_ms`", body = Object),
        (status = 404, description = "No such agent, campaign or contact", body = crate::http::ApiError),
        (status = 409, description = "Not possible in the present state", body = crate::http::ApiError),
        (status = 503, description = "The dialer is not running", body = crate::http::ApiError),
    ))]
pub async fn preview(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let Some(dialer) = state.dialer.clone() else {
        return no_dialer();
    };
    match dialer
        .ask(|reply| crate::dialer::DialerRequest::Preview {
            agent,
            campaign: q.campaign,
            reply,
        })
        .await
    {
        Ok(p) => {
            // What the agent's screen shows beside the record: the
            // customer as the CRM plugins know them (null when none does,
            // or none answers within its budget).
            let customer = match &state.plugins {
                Some(plugins) => plugins
                    .lookup(&p.contact.phone)
                    .await
                    .map(|(_, customer)| customer),
                None => None,
            };
            let mut body = json!(p);
            body["customer"] = json!(customer);
            Json(body).into_response()
        }
        Err(e) => request_error(e),
    }
}

/// `POST /api/v1/agents/{agent}/preview/{contact}/{accept|skip}`: accept
/// dials (the agent's phone first, then the customer's, through the dial
/// point); skip puts the contact back for later.
#[utoipa::path(post, path = "/api/v1/agents/{agent}/preview/{contact}/{action}", tag = "agents",
    params(
        ("agent" = String, Path, description = "The agent's id"),
        ("contact" = i64, Path, description = "The previewed contact's id"),
        ("action" = String, Path, description = "`accept` or `skip`", example = "accept"),
    ),
    responses(
        (status = 200, description = "accept: `attempt` and `call_id`; skip: `skipped`", body = Object),
        (status = 400, description = "The request is malformed", body = crate::http::ApiError),
        (status = 403, description = "Refused at the dial point: `error`, `reason`, `detail`, `retry_at_ms`", body = Object),
        (status = 404, description = "No such agent, campaign or contact", body = crate::http::ApiError),
        (status = 409, description = "Not possible in the present state", body = crate::http::ApiError),
        (status = 503, description = "The dialer is not running", body = crate::http::ApiError),
    ))]
pub async fn preview_action(
    State(state): State<AppState>,
    Path((agent, contact, action)): Path<(String, i64, String)>,
) -> Response {
    let Some(dialer) = state.dialer.clone() else {
        return no_dialer();
    };
    match action.as_str() {
        "accept" => match dialer
            .ask(|reply| crate::dialer::DialerRequest::Accept {
                agent,
                contact,
                reply,
            })
            .await
        {
            Ok((attempt, call_id)) => {
                Json(json!({"attempt": attempt, "call_id": call_id})).into_response()
            }
            Err(e) => request_error(e),
        },
        "skip" => match dialer
            .ask(|reply| crate::dialer::DialerRequest::Skip {
                agent,
                contact,
                reply,
            })
            .await
        {
            Ok(()) => Json(json!({"skipped": contact})).into_response(),
            Err(e) => request_error(e),
        },
        other => error(
            StatusCode::NOT_FOUND,
            format!("no preview action {other} (accept, skip)"),
        ),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ManualDial {
    /// The number to dial.
    number: String,
    /// The campaign the call counts for (its dial-point rules apply).
    campaign: String,
}

/// `POST /api/v1/agents/{agent}/dial {"number", "campaign"}`: a manual
/// dial. It passes the dial point like every other (the refusal and its
/// reason come back as 403) and is logged as an attempt.
#[utoipa::path(post, path = "/api/v1/agents/{agent}/dial", tag = "agents",
    params(("agent" = String, Path, description = "The agent's id")),
    request_body = ManualDial,
    responses(
        (status = 200, description = "Dialling: `attempt` and `call_id`", body = Object),
        (status = 400, description = "The request is malformed", body = crate::http::ApiError),
        (status = 403, description = "Refused at the dial point: `error`, `reason`, `detail`, `retry_at_ms`", body = Object),
        (status = 404, description = "No such agent, campaign or contact", body = crate::http::ApiError),
        (status = 409, description = "Not possible in the present state", body = crate::http::ApiError),
        (status = 503, description = "The dialer is not running", body = crate::http::ApiError),
    ))]
pub async fn manual_dial(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    Json(d): Json<ManualDial>,
) -> Response {
    let Some(dialer) = state.dialer.clone() else {
        return no_dialer();
    };
    match dialer
        .ask(|reply| crate::dialer::DialerRequest::Manual {
            agent,
            campaign: d.campaign,
            number: d.number,
            reply,
        })
        .await
    {
        Ok((attempt, call_id)) => {
            Json(json!({"attempt": attempt, "call_id": call_id})).into_response()
        }
        Err(e) => request_error(e),
    }
}

/// `POST /api/v1/campaigns`: a new campaign, as JSON with the fields of a
/// `campaigns:` entry of the configuration; checked like one, stored, and
/// run by the dialer at once (state `draft` until started).
#[utoipa::path(post, path = "/api/v1/campaigns", operation_id = "create_campaign", tag = "campaigns",
    request_body(content = Object, description = "The fields of a `campaigns:` entry of the configuration"),
    responses(
        (status = 201, description = "Created: `name`", body = Object),
        (status = 400, description = "Not a valid campaign", body = crate::http::ApiError),
        (status = 409, description = "A campaign of this name exists, or the store refused it", body = crate::http::ApiError),
        (status = 503, description = "The dialer is not running", body = crate::http::ApiError),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    configure(state, body, true).await
}

/// `PUT /api/v1/campaigns/{name}`: changes a campaign (one from the
/// configuration file too: the stored one wins from then on). The pacer
/// keeps its abandon window and what it learned.
#[utoipa::path(put, path = "/api/v1/campaigns/{name}", operation_id = "change_campaign", tag = "campaigns",
    params(("name" = String, Path, description = "The campaign's name")),
    request_body(content = Object,
        description = "The fields of a `campaigns:` entry; `name`, if given, must be the path's"),
    responses(
        (status = 200, description = "Changed: `name`", body = Object),
        (status = 400, description = "Not a valid campaign, or the names differ", body = crate::http::ApiError),
        (status = 404, description = "No such campaign", body = crate::http::ApiError),
        (status = 409, description = "The store refused the change", body = crate::http::ApiError),
        (status = 503, description = "The dialer is not running", body = crate::http::ApiError),
    ))]
pub async fn change(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(mut body): Json<serde_json::Value>,
) -> Response {
    match body.get("name").and_then(|n| n.as_str()) {
        Some(n) if n != name => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body names {n}, the path {name}"),
            );
        }
        Some(_) => {}
        None => {
            if let Some(obj) = body.as_object_mut() {
                obj.insert("name".into(), json!(name));
            }
        }
    }
    configure(state, body, false).await
}

async fn configure(state: AppState, body: serde_json::Value, create: bool) -> Response {
    let Some(dialer) = state.dialer.clone() else {
        return no_dialer();
    };
    match dialer
        .ask(|reply| crate::dialer::DialerRequest::Configure {
            body,
            create,
            reply,
        })
        .await
    {
        Ok(name) => (
            if create {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({ "name": name })),
        )
            .into_response(),
        Err(e) => request_error(e),
    }
}
