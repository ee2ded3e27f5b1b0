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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryArgs {
    number: Option<String>,
    contact: Option<Contact>,
    customer: Option<Customer>,
    outcome: Option<Outcome>,
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
