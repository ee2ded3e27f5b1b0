//! The agent desktop's API: everything the agent's screen shows about the
//! current call in one answer, the steps taken through the agent script,
//! and the hang-up and transfer buttons.
//!
//! ```text
//!  GET  /api/v1/agents/{agent}/desktop    agent + current call (contact,
//!                                         CRM customer, rendered script,
//!                                         path, offers) + wrap-up
//!  POST /api/v1/attempts/{id}/script      one step through the script
//!  POST /api/v1/agents/{agent}/hangup     ends the agent's call
//!  POST /api/v1/agents/{agent}/transfer   blind transfer of the agent's call
//! ```
//! The current call is the one the ACD has for the agent (offered, on the
//! call, or the call being wrapped up); a campaign call is known to the
//! store by its Call-ID (its attempt row is written before its INVITE).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waihu_campaign::acd::{Agent, AgentState};
use waihu_script::{AgentScript, Customer, Offer};
use waihu_store::{AttemptRecord, ContactRecord, ScriptStep, StepAppended};

use crate::http::{AppState, json_body};

/// The desktop's routes, merged into the API's.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(desktop))
        .routes(routes!(script_step))
        .routes(routes!(hangup))
        .routes(routes!(transfer))
}

fn error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": msg.to_string()}))).into_response()
}

fn unavailable(what: &str) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the {what} is not running"),
    )
}

fn now_ms() -> i64 {
    crate::campaigns::now_ms()
}

/// What the agent's screen needs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Desktop {
    /// The agent, as `GET /api/v1/agents/{agent}` shows it.
    #[schema(value_type = Object)]
    agent: Agent,
    /// The call offered, in progress or being wrapped up.
    call: Option<DesktopCall>,
    wrap_up: Option<WrapUp>,
}

/// The agent's current call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DesktopCall {
    call_id: String,
    /// `outbound` (a campaign's call) or `inbound` (a queue's).
    direction: String,
    /// When the agent took the call (Unix ms); null while it rings.
    answered_at_ms: Option<i64>,
    queue: Option<String>,
    campaign: Option<String>,
    attempt_id: Option<i64>,
    /// The contact's row, with its `name` field lifted to the top.
    #[schema(value_type = Option<Object>)]
    contact: Option<Value>,
    /// The customer as the CRM plugins know them.
    #[schema(value_type = Option<Object>)]
    customer: Option<Value>,
    /// The campaign's agent script, each node's `say` rendered with the
    /// customer's fields.
    #[schema(value_type = Option<Object>)]
    script: Option<AgentScript>,
    /// The steps taken so far.
    #[schema(value_type = Vec<Object>)]
    path: Vec<ScriptStep>,
    /// The node to show now (null without a script).
    node: Option<String>,
    /// `retention.offers` for this customer, best first.
    #[schema(value_type = Vec<Object>)]
    offers: Vec<Offer>,
    /// The attempt's disposition, once set.
    disposition: Option<String>,
}

/// The wrap-up after a call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WrapUp {
    attempt_id: Option<i64>,
    campaign: Option<String>,
    /// The wrap-up lasts until the attempt's disposition is set.
    needs_disposition: bool,
    /// When the wrap-up ends (Unix ms); null while a disposition is
    /// awaited.
    until_ms: Option<i64>,
}

/// The call the ACD has for the agent, and whether it is being wrapped up.
fn call_of(agent: &Agent) -> Option<(String, bool)> {
    match agent.state {
        AgentState::Reserved | AgentState::OnCall => agent.call.clone().map(|c| (c, false)),
        AgentState::WrapUp => agent.wrap_call.clone().map(|c| (c, true)),
        _ => None,
    }
}

/// The agent script a campaign names: configured campaigns first, then
/// those created through the API (kept in the store).
async fn agent_script_of(state: &AppState, campaign: &str) -> Option<String> {
    if let Some(c) = state.campaigns.iter().find(|c| c.name == campaign) {
        return c.agent_script.clone();
    }
    let store = state.store.clone()?;
    let campaign = campaign.to_owned();
    let rows = store.run(|s| s.campaigns()).await.ok()?;
    let row = rows.into_iter().find(|r| r.name == campaign)?;
    serde_json::from_str::<crate::config::CampaignEntry>(&row.config)
        .ok()?
        .agent_script
}

/// The fields `{placeholders}` are filled from: the contact's columns and
/// number, then the CRM's answer (its top-level strings and numbers and its
/// own `fields`), which wins where both have a value.
fn fields_of(
    contact: Option<&ContactRecord>,
    customer: Option<&Value>,
) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    if let Some(c) = contact {
        fields.extend(c.fields.clone());
        fields.insert("phone".to_owned(), c.phone.clone());
    }
    let mut lift = |object: &serde_json::Map<String, Value>| {
        for (k, v) in object {
            match v {
                Value::String(s) => {
                    fields.insert(k.clone(), s.clone());
                }
                Value::Number(n) => {
                    fields.insert(k.clone(), n.to_string());
                }
                _ => {}
            }
        }
    };
    if let Some(Value::Object(o)) = customer {
        lift(o);
        if let Some(Value::Object(inner)) = o.get("fields") {
            lift(inner);
        }
    }
    fields
}

/// The customer `retention.offers` is asked about: the contact, with what
/// the CRM knows laid over it.
fn retention_customer(contact: &ContactRecord, customer: Option<&Value>) -> Customer {
    let mut base = Customer {
        id: contact.id,
        phone: contact.phone.clone(),
        name: contact.fields.get("name").cloned(),
        plan: contact.fields.get("plan").cloned(),
        tenure_months: parse_field(contact, "tenure_months").unwrap_or(0),
        monthly_spend: parse_field(contact, "monthly_spend").unwrap_or(0.0),
        churn_score: parse_field(contact, "churn_score").unwrap_or(0.0),
        broadband_expiry: contact.fields.get("broadband_expiry").cloned(),
        fields: contact.fields.clone(),
    };
    if let Some(Value::Object(crm)) = customer {
        // Field by field, so a CRM answer of another shape spoils nothing.
        let mut merged = json!(base);
        for (k, v) in crm {
            if k == "id" || v.is_null() {
                continue;
            }
            let mut trial = merged.clone();
            trial[k] = v.clone();
            if serde_json::from_value::<Customer>(trial.clone()).is_ok() {
                merged = trial;
            }
        }
        if let Ok(c) = serde_json::from_value(merged) {
            base = c;
        }
    }
    base
}

fn parse_field<T: std::str::FromStr>(contact: &ContactRecord, name: &str) -> Option<T> {
    contact.fields.get(name)?.trim().parse().ok()
}

/// The user part of a caller's URI (`sip:+8613800138000@host` gives
/// `+8613800138000`), when it is a number.
fn caller_number(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';', '>']).next()?;
    let digits = user.strip_prefix('+').unwrap_or(user);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| user.to_owned())
}

/// The node the agent is at: where the last step led, or the start.
fn current_node(script: &AgentScript, path: &[ScriptStep]) -> String {
    path.last()
        .map_or_else(|| script.start.clone(), |s| s.next.clone())
}

/// `GET /api/v1/agents/{agent}/desktop`.
#[utoipa::path(
    get,
    path = "/api/v1/agents/{agent}/desktop",
    tag = "desktop",
    params(("agent" = String, Path, description = "The agent's SIP id")),
    responses(
        (status = 200, description = "The agent, the current call and the wrap-up", body = Desktop),
        (status = 404, description = "No such agent", body = crate::http::ApiError),
        (status = 503, description = "The ACD is not running", body = crate::http::ApiError),
    )
)]
pub async fn desktop(State(state): State<AppState>, Path(agent): Path<String>) -> Response {
    let Some(calls) = state.calls.clone() else {
        return unavailable("acd");
    };
    let Some(snapshot) = calls.acd.snapshot().await else {
        return unavailable("acd");
    };
    let Some(agent) = snapshot.agents.into_iter().find(|a| a.name == agent) else {
        return error(StatusCode::NOT_FOUND, format!("no agent {agent}"));
    };
    let Some((call_id, wrapping)) = call_of(&agent) else {
        return Json(Desktop {
            agent,
            call: None,
            wrap_up: None,
        })
        .into_response();
    };
    let Some(store) = state.store.clone() else {
        return unavailable("store");
    };
    let id = call_id.clone();
    let found = store
        .run(move |s| {
            let Some(attempt) = s.attempt_by_call(&id)? else {
                return Ok(None);
            };
            let contact = s.contact(attempt.contact_id)?;
            Ok(Some((attempt, contact)))
        })
        .await;
    let (attempt, contact) = match found {
        Ok(Some((a, c))) => (Some(a), c),
        Ok(None) => (None, None),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    // The CRM is asked by the contact's number, or for an inbound call by
    // the caller's.
    let key = match &contact {
        Some(c) => Some(c.phone.clone()),
        None => calls
            .registry
            .list()
            .into_iter()
            .find(|c| c.call_id == call_id)
            .and_then(|c| caller_number(&c.from)),
    };
    let customer = match (key, &state.plugins) {
        (Some(key), Some(plugins)) => plugins.lookup(&key).await.map(|(_, v)| v),
        _ => None,
    };
    let script_name = match &attempt {
        Some(a) => agent_script_of(&state, &a.campaign).await,
        None => None,
    };
    let fields = fields_of(contact.as_ref(), customer.as_ref());
    let version = calls.scripts.current();
    let script = script_name
        .as_deref()
        .and_then(|name| version.agent_script(name))
        .map(|s| {
            let mut s = s.clone();
            for node in s.nodes.values_mut() {
                node.say = node.render_say(&fields);
            }
            s
        });
    let offers = match &contact {
        Some(c) => {
            let who = retention_customer(c, customer.as_ref());
            let v = version.clone();
            tokio::task::spawn_blocking(move || v.offers(&who))
                .await
                .ok()
                .and_then(|r| {
                    r.map_err(|e| tracing::warn!(error = %e, "retention.offers failed"))
                        .ok()
                })
                .unwrap_or_else(waihu_script::offers_on_error)
        }
        None => Vec::new(),
    };
    let path = attempt
        .as_ref()
        .map(|a| a.script_path.clone())
        .unwrap_or_default();
    let node = script.as_ref().map(|s| current_node(s, &path));
    let answered_at_ms = match agent.state {
        AgentState::OnCall => Some(agent.since_ms),
        AgentState::WrapUp => attempt.as_ref().and_then(|a| a.answered_ms),
        _ => None,
    };
    let wrap_up = wrapping.then(|| WrapUp {
        attempt_id: attempt.as_ref().map(|a| a.id),
        campaign: attempt.as_ref().map(|a| a.campaign.clone()),
        needs_disposition: agent.needs_disposition,
        until_ms: agent.wrap_up_until(),
    });
    let contact = contact.map(|c| {
        let mut v = json!(c);
        v["name"] = json!(c.fields.get("name"));
        v
    });
    let call = DesktopCall {
        call_id,
        direction: if attempt.is_some() {
            "outbound"
        } else {
            "inbound"
        }
        .to_owned(),
        answered_at_ms,
        queue: agent.queue.clone(),
        campaign: attempt.as_ref().map(|a| a.campaign.clone()),
        attempt_id: attempt.as_ref().map(|a| a.id),
        contact,
        customer,
        script,
        path,
        node,
        offers,
        disposition: attempt.as_ref().and_then(|a| a.disposition.clone()),
    };
    Json(Desktop {
        agent,
        call: Some(call),
        wrap_up,
    })
    .into_response()
}

/// One step through the agent script.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// The node the agent is at (the current one).
    node: String,
    /// The option clicked, 0-based.
    choice: u32,
}

/// What a recorded step answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepDone {
    #[schema(value_type = Vec<Object>)]
    path: Vec<ScriptStep>,
    /// The node the step led to.
    node: String,
    /// The outcome the node records, when it ends the script.
    outcome: Option<String>,
}

/// Why a step is refused, checked against the script and the path so far.
fn check_step(
    script: &AgentScript,
    path: &[ScriptStep],
    body: &StepBody,
) -> Result<String, (StatusCode, String)> {
    let current = current_node(script, path);
    if body.node != current {
        return Err((
            StatusCode::CONFLICT,
            format!("the script is at node {current:?}, not {:?}", body.node),
        ));
    }
    let Some(node) = script.nodes.get(&current) else {
        return Err((
            StatusCode::CONFLICT,
            format!("the script {} has no node {current:?}", script.name),
        ));
    };
    if node.is_terminal() {
        return Err((
            StatusCode::CONFLICT,
            format!("node {current:?} ends the script: there is nothing to choose"),
        ));
    }
    let Some(choice) = usize::try_from(body.choice)
        .ok()
        .and_then(|i| node.options.get(i))
    else {
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "node {current:?} has {} options (0..{}), not {}",
                node.options.len(),
                node.options.len().saturating_sub(1),
                body.choice
            ),
        ));
    };
    Ok(choice.next.clone())
}

/// `POST /api/v1/attempts/{id}/script` `{"node","choice"}`: records one
/// step of the agent script, on disk before the answer.
#[utoipa::path(
    post,
    path = "/api/v1/attempts/{id}/script",
    tag = "desktop",
    params(("id" = i64, Path, description = "The attempt")),
    request_body = StepBody,
    responses(
        (status = 200, description = "The step is recorded", body = StepDone),
        (status = 400, description = "No such option, or a malformed body", body = crate::http::ApiError),
        (status = 404, description = "No such attempt", body = crate::http::ApiError),
        (status = 409, description = "Not the current node, the script has ended, the attempt has a disposition, or its campaign has no agent script", body = crate::http::ApiError),
    )
)]
pub async fn script_step(
    State(state): State<AppState>,
    Path(attempt_id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    let body: StepBody = match json_body(&body, r#"{"node": "...", "choice": N}"#) {
        Ok(b) => b,
        Err(bad) => return bad,
    };
    let (Some(store), Some(scripts)) = (state.store.clone(), state.scripts.clone()) else {
        return unavailable("store");
    };
    let attempt: AttemptRecord = match store.run(move |s| s.attempt(attempt_id)).await {
        Ok(Some(a)) => a,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no attempt {attempt_id}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if let Some(d) = &attempt.disposition {
        return error(
            StatusCode::CONFLICT,
            format!("attempt {attempt_id} already has its disposition ({d})"),
        );
    }
    let Some(name) = agent_script_of(&state, &attempt.campaign).await else {
        return error(
            StatusCode::CONFLICT,
            format!("campaign {} has no agent script", attempt.campaign),
        );
    };
    let version = scripts.current();
    let Some(script) = version.agent_script(&name) else {
        return error(
            StatusCode::CONFLICT,
            format!("no agent script {name} in the running scripts"),
        );
    };
    let next = match check_step(script, &attempt.script_path, &body) {
        Ok(n) => n,
        Err((status, e)) => return error(status, e),
    };
    let outcome = script
        .nodes
        .get(&next)
        .and_then(|n| n.outcome)
        .map(|o| o.as_str().to_owned());
    let step = ScriptStep {
        node: body.node,
        choice: body.choice,
        next: next.clone(),
        at_ms: now_ms(),
    };
    let expected = attempt.script_path.len();
    match store
        .run(move |s| s.append_script_step(attempt_id, expected, &step))
        .await
    {
        Ok(StepAppended::Done(path)) => Json(StepDone {
            path,
            node: next,
            outcome,
        })
        .into_response(),
        Ok(StepAppended::NoAttempt) => {
            error(StatusCode::NOT_FOUND, format!("no attempt {attempt_id}"))
        }
        Ok(StepAppended::Moved(_)) => error(
            StatusCode::CONFLICT,
            "another step was recorded meanwhile: read the path again",
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The call the agent is on, or the answer to give when there is none.
async fn call_in_progress(state: &AppState, agent: &str) -> Result<String, Response> {
    let Some(calls) = state.calls.clone() else {
        return Err(unavailable("acd"));
    };
    let Some(snapshot) = calls.acd.snapshot().await else {
        return Err(unavailable("acd"));
    };
    let Some(a) = snapshot.agents.into_iter().find(|a| a.name == agent) else {
        return Err(error(StatusCode::NOT_FOUND, format!("no agent {agent}")));
    };
    match (a.state, a.call) {
        (AgentState::OnCall, Some(call)) => Ok(call),
        (state, _) => Err(error(
            StatusCode::CONFLICT,
            format!("agent {agent} is {state}, not on a call"),
        )),
    }
}

/// Gives the agent's call a command; the reply event, or why not.
async fn command(state: &AppState, call_id: &str, command: waihu_call::Command) -> Response {
    let Some(calls) = state.calls.clone() else {
        return unavailable("acd");
    };
    match calls.registry.command(call_id, command).await {
        Some(waihu_call::Event::Failed { reason }) => error(StatusCode::CONFLICT, reason),
        Some(event) => Json(json!({"call_id": call_id, "event": event})).into_response(),
        None => error(
            StatusCode::CONFLICT,
            format!("call {call_id} is no longer in progress"),
        ),
    }
}

/// `POST /api/v1/agents/{agent}/hangup`: ends the agent's call, both
/// legs (the agent then wraps up as after any call).
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent}/hangup",
    tag = "desktop",
    params(("agent" = String, Path, description = "The agent's SIP id")),
    responses(
        (status = 200, description = "The call is ended: `call_id` and the call's reply `event`", body = Object),
        (status = 404, description = "No such agent", body = crate::http::ApiError),
        (status = 409, description = "The agent is not on a call", body = crate::http::ApiError),
    )
)]
pub async fn hangup(State(state): State<AppState>, Path(agent): Path<String>) -> Response {
    let call_id = match call_in_progress(&state, &agent).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    tracing::info!(%agent, %call_id, "agent hangs up through the API");
    let cause = waihu_call::HangupCause::Normal;
    command(&state, &call_id, waihu_call::Command::Hangup { cause }).await
}

/// Where a call is transferred.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// `queue:NAME` or `agent:ID`.
    to: String,
}

/// `POST /api/v1/agents/{agent}/transfer` `{"to": "queue:NAME" |
/// "agent:ID"}`: blind transfer of the agent's call. The agent's leg ends
/// (wrap-up); the customer waits, hearing music, for the queue's agents,
/// or for the named agent alone (who must be logged in) to be Ready, and
/// that agent's phone rings as for any queued call.
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent}/transfer",
    tag = "desktop",
    params(("agent" = String, Path, description = "The agent's SIP id")),
    request_body = TransferBody,
    responses(
        (status = 200, description = "Transferred: `call_id` and the call's reply `event`", body = Object),
        (status = 400, description = "A target that is not queue:NAME or agent:ID", body = crate::http::ApiError),
        (status = 404, description = "No such agent, or no such target queue or agent", body = crate::http::ApiError),
        (status = 409, description = "The agent is not on a bridged call, or the target agent is logged out", body = crate::http::ApiError),
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body: TransferBody = match json_body(&body, r#"{"to": "queue:NAME" | "agent:ID"}"#) {
        Ok(b) => b,
        Err(bad) => return bad,
    };
    let Some(calls) = state.calls.clone() else {
        return unavailable("acd");
    };
    let target = if let Some(queue) = body.to.strip_prefix("queue:") {
        if calls.acd.queue(queue).is_none() {
            return error(StatusCode::NOT_FOUND, format!("no queue {queue}"));
        }
        body.to.clone()
    } else if let Some(other) = body.to.strip_prefix("agent:") {
        let Some(snapshot) = calls.acd.snapshot().await else {
            return unavailable("acd");
        };
        let Some(a) = snapshot.agents.iter().find(|a| a.name == other) else {
            return error(StatusCode::NOT_FOUND, format!("no agent {other}"));
        };
        if other == agent {
            return error(
                StatusCode::CONFLICT,
                "an agent cannot transfer a call to themselves",
            );
        }
        if !a.state.logged_in() {
            return error(
                StatusCode::CONFLICT,
                format!("agent {other} is not logged in"),
            );
        }
        body.to.clone()
    } else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{:?} is not queue:NAME or agent:ID", body.to),
        );
    };
    let call_id = match call_in_progress(&state, &agent).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    tracing::info!(%agent, %call_id, to = %body.to, "agent transfers the call through the API");
    command(&state, &call_id, waihu_call::Command::Transfer { target }).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use waihu_script::{Choice, Node};

    fn script() -> AgentScript {
        let node = |say: &str, options: &[(&str, &str)], outcome| Node {
            say: say.into(),
            options: options
                .iter()
                .map(|(label, next)| Choice {
                    label: (*label).into(),
                    next: (*next).into(),
                })
                .collect(),
            outcome,
        };
        AgentScript {
            name: "t".into(),
            title: "t".into(),
            language: "en".into(),
            start: "greet".into(),
            nodes: BTreeMap::from([
                (
                    "greet".to_owned(),
                    node("Hello {name}", &[("yes", "offer"), ("no", "bye")], None),
                ),
                ("offer".to_owned(), node("Buy?", &[("yes", "done")], None)),
                (
                    "done".to_owned(),
                    node("Thanks", &[], Some(waihu_script::Outcome::Success)),
                ),
                (
                    "bye".to_owned(),
                    node("Bye", &[], Some(waihu_script::Outcome::Declined)),
                ),
            ]),
            defined_at: "t.lua:1".into(),
        }
    }

    fn step(node: &str, choice: u32, next: &str) -> ScriptStep {
        ScriptStep {
            node: node.into(),
            choice,
            next: next.into(),
            at_ms: 0,
        }
    }

    fn body(node: &str, choice: u32) -> StepBody {
        StepBody {
            node: node.into(),
            choice,
        }
    }

    #[test]
    fn a_step_must_be_at_the_current_node_with_an_existing_choice() {
        let s = script();
        assert_eq!(check_step(&s, &[], &body("greet", 1)), Ok("bye".into()));
        let (status, e) = check_step(&s, &[], &body("offer", 0)).unwrap_err();
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(e.contains("\"greet\""), "{e}");
        let (status, _) = check_step(&s, &[], &body("greet", 2)).unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let path = [step("greet", 0, "offer")];
        assert_eq!(check_step(&s, &path, &body("offer", 0)), Ok("done".into()));
        let path = [step("greet", 0, "offer"), step("offer", 0, "done")];
        let (status, e) = check_step(&s, &path, &body("done", 0)).unwrap_err();
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(e.contains("ends the script"), "{e}");
    }

    #[test]
    fn an_inbound_caller_is_looked_up_by_number_only() {
        assert_eq!(
            caller_number("sip:+8613800138000@pbx.test;user=phone").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            caller_number("tel:02155556666").as_deref(),
            Some("02155556666")
        );
        assert_eq!(caller_number("sip:alice@pbx.test"), None);
        assert_eq!(caller_number("sip:@pbx.test"), None);
    }

    #[test]
    fn placeholders_take_the_crm_value_over_the_contact_column() {
        let contact = ContactRecord {
            id: 7,
            phone: "+8613800138000".into(),
            fields: BTreeMap::from([
                ("name".to_owned(), "王先生".to_owned()),
                ("plan".to_owned(), "A".to_owned()),
            ]),
            ..ContactRecord::default()
        };
        let crm = json!({"plan": "B", "tenure_months": 30, "fields": {"city": "上海"}});
        let f = fields_of(Some(&contact), Some(&crm));
        assert_eq!(f["name"], "王先生");
        assert_eq!(f["plan"], "B");
        assert_eq!(f["tenure_months"], "30");
        assert_eq!(f["city"], "上海");
        assert_eq!(f["phone"], "+8613800138000");
        let who = retention_customer(&contact, Some(&crm));
        assert_eq!(who.id, 7);
        assert_eq!(who.plan.as_deref(), Some("B"));
        assert_eq!(who.tenure_months, 30);
        assert_eq!(who.name.as_deref(), Some("王先生"));
        // A CRM value of the wrong type is ignored, not fatal.
        let odd = json!({"tenure_months": "long", "churn_score": 0.9});
        let who = retention_customer(&contact, Some(&odd));
        assert_eq!(who.tenure_months, 0);
        assert!((who.churn_score - 0.9).abs() < 1e-9);
    }
}
