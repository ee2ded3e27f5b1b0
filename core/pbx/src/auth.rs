//! Who is asking, and may they: logins, tokens, roles and the audit log of
//! the HTTP API.
//!
//! One middleware ([`guard`]) stands in front of every route. Pages and
//! their assets are open (a page without a login shows its login form);
//! `/api/v1/health` and `/api/v1/login` are open (the API document needs
//! any login);
//! `/metrics` is open unless `api.metrics_open` is false. Everything else
//! needs a token, from the `waihu_session` cookie a login sets or an
//! `Authorization: Bearer` header, and a role that may do it
//! ([`decide`], keyed on the matched route). Handlers read the caller with
//! the [`Caller`] extractor and never check roles themselves. Every request
//! that may change something is written to the `audit` table, allowed or
//! not.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::Request};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::config::{ApiSettings, Role, Settings};
use crate::http::AppState;

/// The cookie a login sets.
pub const COOKIE: &str = "waihu_session";

/// Who made a request, as the middleware established it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Caller {
    /// The agent id, user name or token name.
    pub user: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
    /// The agent this caller acts as (role `agent`).
    pub agent: Option<String>,
    /// When the login ends; `None` for configured tokens.
    pub expires_at_ms: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Response> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| deny(StatusCode::UNAUTHORIZED, NOT_LOGGED_IN))
    }
}

const NOT_LOGGED_IN: &str =
    "log in first (POST /api/v1/login), then send the cookie or Authorization: Bearer TOKEN";

/// Failed logins of one address.
#[derive(Debug)]
struct Strikes {
    count: u32,
    since: Instant,
    banned_until: Option<Instant>,
}

/// Logins, tokens and sessions.
#[derive(Debug)]
pub struct Auth {
    /// SHA-256 of each agent's SIP password, by agent id.
    agents: HashMap<String, [u8; 32]>,
    /// SHA-256 of each user's password, and the role.
    users: HashMap<String, ([u8; 32], Role)>,
    /// Configured tokens, by the SHA-256 of the token.
    tokens: HashMap<[u8; 32], Caller>,
    /// Logins in progress, by the SHA-256 of their token.
    sessions: Mutex<HashMap<[u8; 32], Caller>>,
    ttl: Duration,
    pub(crate) metrics_open: bool,
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
    max_failures: u32,
    failure_window: Duration,
    ban: Duration,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn now_ms() -> i64 {
    crate::campaigns::now_ms()
}

/// A fresh random token: 32 bytes, hex.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Auth {
    /// From the settings, with the admin token file's token (made now when
    /// the file does not exist yet).
    pub fn new(settings: &Settings) -> anyhow::Result<Auth> {
        let api: &ApiSettings = &settings.api;
        let mut tokens: HashMap<[u8; 32], Caller> = api
            .tokens
            .iter()
            .map(|(name, token, role, agent)| {
                (
                    digest(token),
                    Caller {
                        user: name.clone(),
                        role: *role,
                        agent: agent.clone(),
                        expires_at_ms: None,
                    },
                )
            })
            .collect();
        if let Some(path) = &api.admin_token_file {
            let token = admin_token(path)?;
            info!(file = %path.display(), "admin API token (role admin) is in this file");
            tokens.insert(
                digest(&token),
                Caller {
                    user: "admin-token-file".into(),
                    role: Role::Admin,
                    agent: None,
                    expires_at_ms: None,
                },
            );
        }
        Ok(Auth {
            agents: settings
                .agents
                .iter()
                .map(|a| (a.id.clone(), digest(&a.password)))
                .collect(),
            users: api
                .users
                .iter()
                .map(|(name, password, role)| (name.clone(), (digest(password), *role)))
                .collect(),
            tokens,
            sessions: Mutex::new(HashMap::new()),
            ttl: api.token_ttl,
            metrics_open: api.metrics_open,
            strikes: Mutex::new(HashMap::new()),
            max_failures: settings.max_auth_failures.max(1),
            failure_window: settings.failure_window,
            ban: settings.ban_duration,
        })
    }

    /// The caller a token stands for, if it is valid now.
    pub fn caller(&self, token: &str) -> Option<Caller> {
        let key = digest(token);
        if let Some(c) = self.tokens.get(&key) {
            return Some(c.clone());
        }
        let mut sessions = lock(&self.sessions);
        match sessions.get(&key) {
            Some(c) if c.expires_at_ms.is_some_and(|t| t > now_ms()) => Some(c.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Checks a login; a new session's token and caller.
    fn login(&self, user: &str, password: &str) -> Option<(String, Caller)> {
        let given = digest(password);
        let (role, agent) = if let Some(stored) = self.agents.get(user) {
            (bool::from(stored.ct_eq(&given)), true)
        } else if let Some((stored, role)) = self.users.get(user) {
            let ok = bool::from(stored.ct_eq(&given));
            return ok.then(|| self.open_session(user, *role, None));
        } else {
            // Spend the same work on an unknown name.
            let _ = digest(user).ct_eq(&given);
            (false, false)
        };
        (role && agent).then(|| self.open_session(user, Role::Agent, Some(user.to_owned())))
    }

    fn open_session(&self, user: &str, role: Role, agent: Option<String>) -> (String, Caller) {
        let token = new_token();
        let now = now_ms();
        let caller = Caller {
            user: user.to_owned(),
            role,
            agent,
            expires_at_ms: Some(now + self.ttl.as_millis() as i64),
        };
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, c| c.expires_at_ms.is_some_and(|t| t > now));
        sessions.insert(digest(&token), caller.clone());
        (token, caller)
    }

    fn logout(&self, token: &str) -> bool {
        lock(&self.sessions).remove(&digest(token)).is_some()
    }

    /// Whether `ip` may try to log in now.
    fn banned(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let now = Instant::now();
        lock(&self.strikes)
            .get(&ip)
            .and_then(|s| s.banned_until)
            .is_some_and(|until| until > now)
    }

    /// Counts a failed login; true when it earned a ban.
    fn strike(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let now = Instant::now();
        let mut strikes = lock(&self.strikes);
        if strikes.len() > 100_000 {
            strikes.retain(|_, s| s.banned_until.is_some_and(|u| u > now));
        }
        let s = strikes.entry(ip).or_insert(Strikes {
            count: 0,
            since: now,
            banned_until: None,
        });
        if now.duration_since(s.since) > self.failure_window {
            *s = Strikes {
                count: 0,
                since: now,
                banned_until: None,
            };
        }
        s.count += 1;
        if s.count >= self.max_failures {
            s.banned_until = Some(now + self.ban);
            s.count = 0;
            s.since = now;
            return true;
        }
        false
    }
}

/// Reads the admin token file, or makes it (owner-only) with a new token.
fn admin_token(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= 24 => return Ok(s.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{}: the admin token file is too short; delete it to have a new one made",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let token = new_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the admin token file {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{token}\n").as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(token)
}

/// The token for `waihu` subcommands that call the running switch:
/// `WAIHU_TOKEN`, else the admin token file, else the first admin token of
/// the configuration.
pub fn cli_token(settings: &Settings) -> Option<String> {
    if let Ok(t) = std::env::var("WAIHU_TOKEN")
        && !t.trim().is_empty()
    {
        return Some(t.trim().to_owned());
    }
    if let Some(path) = &settings.api.admin_token_file
        && let Ok(s) = std::fs::read_to_string(path)
        && !s.trim().is_empty()
    {
        return Some(s.trim().to_owned());
    }
    settings
        .api
        .tokens
        .iter()
        .find(|(_, _, role, _)| *role == Role::Admin)
        .map(|(_, token, _, _)| token.clone())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn deny(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({ "error": why }))).into_response()
}

/// The token a request carries: the bearer header, else the cookie.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// `?token=` on the events WebSocket (programs that cannot send headers).
fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_owned())
}

/// What the rules say about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(&'static str),
    /// Allowed when this attempt was the caller's.
    IfOwnAttempt(i64),
    /// Allowed when the caller is on this call.
    IfOnCall(String),
}

/// The token of a request: header, cookie, or `?token=`.
pub fn token_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    presented_token(headers).or_else(|| query_token(query))
}

/// The role rules, keyed on the matched route (`/api/v1/agents/{agent}`)
/// and its parameters.
pub fn decide(caller: &Caller, method: &Method, route: &str, params: &[(&str, &str)]) -> Decision {
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let read = method == Method::GET || method == Method::HEAD;
    if route == "/api/v1/logout" || route == "/api/v1/me" || route == "/api/v1/openapi.json" {
        return Decision::Allow;
    }
    match caller.role {
        Role::Admin => Decision::Allow,
        Role::Supervisor => {
            if route == "/api/v1/audit" {
                return Decision::Deny("the audit log is for admins");
            }
            let steer = route == "/api/v1/campaigns/{name}/{action}"
                || route.starts_with("/api/v1/agents/{agent}")
                || route.starts_with("/api/v1/attempts/{id}")
                || route == "/api/v1/calls/{call_id}/commands"
                || (route == "/api/v1/dnc" && method == Method::POST);
            if read || steer {
                Decision::Allow
            } else {
                Decision::Deny("admins only")
            }
        }
        Role::Agent => {
            let me = caller.agent.as_deref();
            if route.starts_with("/api/v1/agents/{agent}") {
                return if param("agent").is_some() && param("agent") == me {
                    Decision::Allow
                } else {
                    Decision::Deny("agents act only as themselves")
                };
            }
            if let Some(id) = param("id").and_then(|id| id.parse().ok())
                && route.starts_with("/api/v1/attempts/{id}")
            {
                return Decision::IfOwnAttempt(id);
            }
            if route == "/api/v1/calls/{call_id}/commands" {
                return Decision::IfOnCall(param("call_id").unwrap_or_default().to_owned());
            }
            let agent_reads = [
                "/api/v1/events",
                "/api/v1/campaigns",
                "/api/v1/campaigns/{name}",
                "/api/v1/queues",
                "/api/v1/customers/{key}",
            ];
            if read && agent_reads.contains(&route) {
                Decision::Allow
            } else {
                Decision::Deny("not for agents")
            }
        }
    }
}

/// Routes anyone may call.
fn open(method: &Method, path: &str) -> bool {
    matches!(
        (method, path),
        (&Method::GET, "/api/v1/health") | (&Method::POST, "/api/v1/login")
    )
}

/// The middleware: authenticates, authorises, audits.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(auth) = state.auth.clone() else {
        // Only the unit tests of other endpoints build a state without it.
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let api = path.starts_with("/api/");
    if (!api && path != "/metrics")
        || open(&method, &path)
        || (path == "/metrics" && auth.metrics_open)
    {
        return next.run(request).await;
    }
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let token = presented_token(request.headers()).or_else(|| {
        (path == "/api/v1/events")
            .then(|| query_token(request.uri().query()))
            .flatten()
    });
    let Some(caller) = token.as_deref().and_then(|t| auth.caller(t)) else {
        return deny(StatusCode::UNAUTHORIZED, NOT_LOGGED_IN);
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let (mut parts, body) = request.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .ok();
    let params: Vec<(&str, &str)> = params
        .as_ref()
        .map_or_else(Vec::new, |p| p.iter().collect());
    let decision = match &route {
        Some(route) => decide(&caller, &method, route, &params),
        // No route: the fallback answers 404 to whoever may ask.
        None if caller.role == Role::Admin || caller.role == Role::Supervisor => Decision::Allow,
        None => Decision::Deny("not for agents"),
    };
    let decision = match decision {
        Decision::IfOwnAttempt(id) => own_attempt(&state, &caller, id).await,
        Decision::IfOnCall(call) => on_call(&state, &caller, &call),
        d => d,
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), ToString::to_string);
    let response = match decision {
        Decision::Allow => {
            parts.extensions.insert(caller.clone());
            next.run(Request::from_parts(parts, body)).await
        }
        Decision::Deny(why) => {
            warn!(user = %caller.user, role = caller.role.as_str(), %method, path = %path_and_query, why, "api request refused");
            deny(StatusCode::FORBIDDEN, why)
        }
        Decision::IfOwnAttempt(_) | Decision::IfOnCall(_) => unreachable!("resolved above"),
    };
    if method != Method::GET && method != Method::HEAD {
        audit(
            &state,
            &caller.user,
            caller.role.as_str(),
            &method,
            path_and_query,
            response.status(),
            source,
        );
    }
    response
}

async fn own_attempt(state: &AppState, caller: &Caller, id: i64) -> Decision {
    let Some(store) = state.store.clone() else {
        return Decision::Deny("no store");
    };
    let agent = caller.agent.clone();
    match store.run(move |s| s.attempt(id)).await {
        Ok(Some(a)) if a.agent.is_some() && a.agent == agent => Decision::Allow,
        // The call is the agent's now (a predictive call's attempt may not
        // name its agent yet), or the one they are wrapping up (a call
        // transferred to them, or from them).
        Ok(Some(a)) if has_call(state, caller, &a.call_id) => Decision::Allow,
        // Let the handler say the attempt does not exist.
        Ok(None) => Decision::Allow,
        Ok(Some(_)) => Decision::Deny("that call was another agent's"),
        Err(_) => Decision::Deny("cannot check whose attempt it is"),
    }
}

/// Whether the ACD has `call` as the caller's current call or the one
/// they wrap up.
fn has_call(state: &AppState, caller: &Caller, call: &str) -> bool {
    let Some(calls) = &state.calls else {
        return false;
    };
    calls.acd.latest().agents.iter().any(|a| {
        Some(&a.name) == caller.agent.as_ref()
            && (a.call.as_deref() == Some(call) || a.wrap_call.as_deref() == Some(call))
    })
}

fn on_call(state: &AppState, caller: &Caller, call: &str) -> Decision {
    let Some(calls) = &state.calls else {
        return Decision::Deny("no calls here");
    };
    let latest = calls.acd.latest();
    let mine = latest
        .agents
        .iter()
        .any(|a| Some(&a.name) == caller.agent.as_ref() && a.call.as_deref() == Some(call));
    if mine {
        Decision::Allow
    } else {
        Decision::Deny("agents act only on their own calls")
    }
}

/// Writes one audit entry through the store's thread (the request does not
/// wait for the disk).
fn audit(
    state: &AppState,
    user: &str,
    role: &str,
    method: &Method,
    path: String,
    status: StatusCode,
    source: Option<SocketAddr>,
) {
    let Some(store) = &state.store else { return };
    let entry = waihu_store::AuditEntry {
        id: 0,
        at_ms: now_ms(),
        user: user.to_owned(),
        role: role.to_owned(),
        method: method.to_string(),
        path,
        status: status.as_u16(),
        source: source.map(|s| s.to_string()),
    };
    store.spawn(move |s| {
        if let Err(e) = s.insert_audit(std::slice::from_ref(&entry)) {
            warn!(error = %e, "cannot write the audit log");
        }
    });
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Login {
    /// An agent id (with the agent's SIP password) or a user name.
    user: String,
    password: String,
}

/// What a login gives.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    token: String,
    #[serde(flatten)]
    caller: Caller,
}

fn session_cookie(token: &str, max_age: u64) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}")
}

/// Log in with an agent's SIP credentials or a user's password.
#[utoipa::path(post, path = "/api/v1/login", tag = "auth", security(()),
    request_body = Login,
    responses(
        (status = 200, description = "Logged in; also sets the waihu_session cookie", body = Session),
        (status = 401, description = "Wrong user or password"),
        (status = 429, description = "Too many failed logins from this address"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    Json(body): Json<Login>,
) -> Response {
    let connect = extensions.get::<ConnectInfo<SocketAddr>>();
    let Some(auth) = state.auth.clone() else {
        return deny(StatusCode::SERVICE_UNAVAILABLE, "no logins here");
    };
    let ip = connect.map(|c| c.0.ip());
    if auth.banned(ip) {
        return deny(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins from this address; try again later",
        );
    }
    match auth.login(&body.user, &body.password) {
        Some((token, caller)) => {
            info!(user = %caller.user, role = caller.role.as_str(), "api login");
            let max_age = auth.ttl.as_secs();
            (
                [(header::SET_COOKIE, session_cookie(&token, max_age))],
                Json(Session { token, caller }),
            )
                .into_response()
        }
        None => {
            let banned = auth.strike(ip);
            warn!(user = %body.user, ?ip, banned, "api login failed");
            deny(StatusCode::UNAUTHORIZED, "wrong user or password")
        }
    }
}

/// End this login (a configured token cannot be ended this way).
#[utoipa::path(post, path = "/api/v1/logout", tag = "auth",
    responses((status = 200, description = "Logged out; the cookie is cleared")))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ended = match (state.auth.as_ref(), presented_token(&headers)) {
        (Some(auth), Some(token)) => auth.logout(&token),
        _ => false,
    };
    (
        [(header::SET_COOKIE, session_cookie("", 0))],
        Json(json!({ "logged_out": ended })),
    )
        .into_response()
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Caller), (status = 401, description = "Not logged in")))]
pub async fn me(caller: Caller) -> Json<Caller> {
    Json(caller)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries after this id.
    #[serde(default)]
    after: i64,
    /// Only this login's.
    user: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    1000
}

/// The audit log: every state-changing request, oldest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", params(AuditQuery),
    responses((status = 200, description = "`{\"audit\": [entries]}`"), (status = 403, description = "Not an admin")))]
pub async fn audit_log(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Response {
    let Some(store) = state.store.clone() else {
        return deny(StatusCode::SERVICE_UNAVAILABLE, "no store");
    };
    let limit = q.limit.min(10_000);
    match store
        .run(move |s| s.audit(q.after, q.user.as_deref(), limit))
        .await
    {
        Ok(rows) => Json(json!({ "audit": rows })).into_response(),
        Err(e) => deny(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// The routes of this module.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(login))
        .routes(utoipa_axum::routes!(logout))
        .routes(utoipa_axum::routes!(me))
        .routes(utoipa_axum::routes!(audit_log))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, agent: Option<&str>) -> Caller {
        Caller {
            user: agent.unwrap_or("boss").into(),
            role,
            agent: agent.map(str::to_owned),
            expires_at_ms: None,
        }
    }

    #[test]
    fn agents_act_only_as_themselves() {
        let me = caller(Role::Agent, Some("1001"));
        let route = "/api/v1/agents/{agent}/{op}";
        assert_eq!(
            decide(
                &me,
                &Method::POST,
                route,
                &[("agent", "1001"), ("op", "ready")]
            ),
            Decision::Allow
        );
        assert!(matches!(
            decide(
                &me,
                &Method::POST,
                route,
                &[("agent", "1002"), ("op", "ready")]
            ),
            Decision::Deny(_)
        ));
        assert!(matches!(
            decide(&me, &Method::GET, "/api/v1/agents", &[]),
            Decision::Deny(_)
        ));
        assert_eq!(
            decide(
                &me,
                &Method::POST,
                "/api/v1/attempts/{id}/disposition",
                &[("id", "7")]
            ),
            Decision::IfOwnAttempt(7)
        );
        assert_eq!(
            decide(
                &me,
                &Method::POST,
                "/api/v1/calls/{call_id}/commands",
                &[("call_id", "c1")]
            ),
            Decision::IfOnCall("c1".into())
        );
        assert_eq!(
            decide(&me, &Method::GET, "/api/v1/campaigns", &[]),
            Decision::Allow
        );
        for (method, route) in [
            (Method::POST, "/api/v1/scripts/reload"),
            (Method::POST, "/api/v1/campaigns/{name}/{action}"),
            (Method::GET, "/api/v1/cdrs"),
            (Method::GET, "/api/v1/audit"),
            (Method::DELETE, "/api/v1/dnc/{number}"),
        ] {
            assert!(
                matches!(decide(&me, &method, route, &[]), Decision::Deny(_)),
                "{method} {route}"
            );
        }
    }

    #[test]
    fn supervisors_read_and_steer_but_do_not_administer() {
        let boss = caller(Role::Supervisor, None);
        for (method, route) in [
            (Method::GET, "/api/v1/cdrs"),
            (Method::GET, "/api/v1/reports/agents"),
            (Method::POST, "/api/v1/campaigns/{name}/{action}"),
            (Method::POST, "/api/v1/agents/{agent}/{op}"),
            (Method::POST, "/api/v1/dnc"),
        ] {
            assert_eq!(
                decide(&boss, &method, route, &[]),
                Decision::Allow,
                "{method} {route}"
            );
        }
        for (method, route) in [
            (Method::POST, "/api/v1/scripts/reload"),
            (Method::POST, "/api/v1/plugins/{name}/reload"),
            (Method::POST, "/api/v1/campaigns"),
            (Method::PUT, "/api/v1/campaigns/{name}"),
            (Method::POST, "/api/v1/campaigns/{name}/contacts"),
            (Method::DELETE, "/api/v1/dnc/{number}"),
            (Method::GET, "/api/v1/audit"),
        ] {
            assert!(
                matches!(decide(&boss, &method, route, &[]), Decision::Deny(_)),
                "{method} {route}"
            );
        }
        let admin = caller(Role::Admin, None);
        assert_eq!(
            decide(&admin, &Method::POST, "/api/v1/scripts/reload", &[]),
            Decision::Allow
        );
    }

    #[test]
    fn the_token_comes_from_the_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=b; waihu_session=abc; c=d".parse().unwrap(),
        );
        assert_eq!(presented_token(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, "Bearer xyz".parse().unwrap());
        assert_eq!(presented_token(&h).as_deref(), Some("xyz"));
        assert_eq!(query_token(Some("x=1&token=t0k")).as_deref(), Some("t0k"));
        assert_eq!(query_token(None), None);
    }
}
