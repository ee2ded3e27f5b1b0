//! `/api/v1/scripts`: the rule scripts' versions, reload and rollback, and
//! a way to try a hook against the serving version (what a campaign manager
//! does before trusting a rule changed mid-day).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use waihu_script::{Contact, Customer, Outcome, ScriptHost, Verdict};

use crate::http::AppState;
use crate::scripts;

type Reply = (StatusCode, Json<Value>);

fn host(state: &AppState) -> Result<std::sync::Arc<ScriptHost>, Reply> {
    state.scripts.clone().ok_or_else(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "scripts are not loaded" })),
        )
    })
}

/// `GET /api/v1/scripts`: the serving version and the ones kept for rollback.
#[utoipa::path(get, path = "/api/v1/scripts", operation_id = "scripts", tag = "scripts",
    responses(
        (status = 200, description = "The rule scripts' versions: which serves, which are kept", body = Object),
        (status = 503, description = "Scripts are not loaded", body = crate::http::ApiError),
    ))]
pub async fn status(State(state): State<AppState>) -> Result<Json<Value>, Reply> {
    let host = host(&state)?;
    Ok(Json(json!(host.status())))
}

/// Runs a blocking script-host operation off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Reply> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e.to_string() })),
        )
    })
}

/// 200 with the new version, or 422 with the error (the old version serves on).
#[utoipa::path(post, path = "/api/v1/scripts/reload", operation_id = "reload_scripts", tag = "scripts",
    responses(
        (status = 200, description = "Loaded: `version`", body = Object),
        (status = 422, description = "Did not load: `error`, and the `serving` version (it serves on)", body = Object),
        (status = 500, description = "The reload task failed", body = crate::http::ApiError),
        (status = 503, description = "Scripts are not loaded", body = crate::http::ApiError),
    ))]
pub async fn reload(State(state): State<AppState>) -> Reply {
    let host = match host(&state) {
        Ok(h) => h,
        Err(r) => return r,
    };
    match blocking(move || {
        scripts::reload(&host, "api").map_err(|e| (e.to_string(), host.current().info().number))
    })
    .await
    {
        Ok(Ok(info)) => (StatusCode::OK, Json(json!({ "version": info }))),
        Ok(Err((error, serving))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": error, "serving": serving })),
        ),
        Err(r) => r,
    }
}

/// `POST /api/v1/scripts/rollback`: back to the previous version.
#[utoipa::path(post, path = "/api/v1/scripts/rollback", operation_id = "rollback_scripts", tag = "scripts",
    responses(
        (status = 200, description = "Serving the previous version: `version`", body = Object),
        (status = 409, description = "No previous version to go back to", body = crate::http::ApiError),
        (status = 503, description = "Scripts are not loaded", body = crate::http::ApiError),
    ))]
pub async fn rollback(State(state): State<AppState>) -> Reply {
    let host = match host(&state) {
        Ok(h) => h,
        Err(r) => return r,
    };
    match host.rollback() {
        Ok(info) => (StatusCode::OK, Json(json!({ "version": info }))),
        Err(e) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": e.to_string() })),
        ),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryArgs {
    /// For `blacklist.check`.
    number: Option<String>,
    /// A contact as the scripts see it (`id`, `phone`, `timezone`,
    /// `attempts`, `last_agent`, `fields`...).
    #[schema(value_type = Option<Object>)]
    contact: Option<Contact>,
    /// A customer as the scripts see it (`id`, `phone`, `name`, `plan`...).
    #[schema(value_type = Option<Object>)]
    customer: Option<Customer>,
    /// A call outcome in snake case (`no_answer`, `success`...), for
    /// `campaign.next_attempt`.
    #[schema(value_type = Option<String>)]
    outcome: Option<Outcome>,
    /// Attempts so far, for `campaign.next_attempt` (default 1).
    attempts: Option<u32>,
    /// Unix seconds; the switch's clock when absent.
    now: Option<i64>,
}

fn bad_request(msg: &str) -> Reply {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg })))
}

/// `POST /api/v1/scripts/try/{hook}` with the hook's arguments as JSON:
/// the result on the serving version, or the hook's error and the safe
/// default a caller would apply.
#[utoipa::path(post, path = "/api/v1/scripts/try/{hook}", tag = "scripts",
    params(("hook" = String, Path,
        description = "`blacklist.check`, `campaign.select_mode`, `campaign.next_attempt` or `retention.offers`",
        example = "blacklist.check")),
    request_body = TryArgs,
    responses(
        (status = 200, description = "The hook's `result` on the serving `version`", body = Object),
        (status = 400, description = "The hook's arguments are missing", body = crate::http::ApiError),
        (status = 404, description = "No such hook", body = crate::http::ApiError),
        (status = 422, description = "The hook failed: `version`, `error`, and the `safe_default` a caller applies", body = Object),
        (status = 500, description = "The script task failed", body = crate::http::ApiError),
        (status = 503, description = "Scripts are not loaded", body = crate::http::ApiError),
    ))]
pub async fn try_hook(
    State(state): State<AppState>,
    Path(hook): Path<String>,
    Json(args): Json<TryArgs>,
) -> Reply {
    let host = match host(&state) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let now = args.now.unwrap_or_else(unix_now);
    let outcome = blocking(move || {
        let v = host.current();
        let number = v.info().number;
        let result = match hook.as_str() {
            "blacklist.check" => {
                let Some(n) = args.number.as_deref() else {
                    return Err(bad_request("blacklist.check needs `number`"));
                };
                v.blacklist_check(n, args.contact.as_ref(), now)
                    .map(|verdict| json!(verdict))
                    .map_err(|e| (e.to_string(), json!(Verdict::fail_closed())))
            }
            "campaign.select_mode" => {
                let Some(c) = args.contact.as_ref() else {
                    return Err(bad_request("campaign.select_mode needs `contact`"));
                };
                v.select_mode(c)
                    .map(|choice| json!(choice))
                    .map_err(|e| (e.to_string(), json!("the campaign's configured mode")))
            }
            "campaign.next_attempt" => {
                let (Some(c), Some(o)) = (args.contact.as_ref(), args.outcome) else {
                    return Err(bad_request(
                        "campaign.next_attempt needs `contact` and `outcome`",
                    ));
                };
                v.next_attempt(c, o, args.attempts.unwrap_or(1), now)
                    .map(|t| json!(t))
                    .map_err(|e| (e.to_string(), json!(null)))
            }
            "retention.offers" => {
                let Some(c) = args.customer.as_ref() else {
                    return Err(bad_request("retention.offers needs `customer`"));
                };
                v.offers(c)
                    .map(|offers| json!(offers))
                    .map_err(|e| (e.to_string(), json!([])))
            }
            _ => {
                return Err((
                    StatusCode::NOT_FOUND,
                    Json(json!({ "error": "no such hook" })),
                ));
            }
        };
        Ok((number, result))
    })
    .await;
    match outcome {
        Ok(Ok((version, Ok(result)))) => (
            StatusCode::OK,
            Json(json!({ "version": version, "result": result })),
        ),
        Ok(Ok((version, Err((error, default))))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "version": version, "error": error, "safe_default": default })),
        ),
        Ok(Err(r)) | Err(r) => r,
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
