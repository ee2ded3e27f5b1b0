//! Reports over HTTP: `GET /api/v1/reports/{agents,campaigns,queues}`
//! and `/api/v1/reports/campaigns/{name}` (JSON, or CSV with
//! `?format=csv`), and the `/reports` page that shows them with charts
//! drawn on the server ([`crate::report_svg`]).
//!
//! Every endpoint takes `since` and `until` (RFC 3339, or a span back from
//! now such as `24h`); the queues take `threshold_s`, the service level's
//! threshold (20 s by default).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waihu_store::{AgentReport, CampaignDetail, CampaignReport, QueueReport, Span};

use crate::config::Role;
use crate::http::AppState;
use crate::report_svg::{self, Series, Unit, escape};
use crate::reports::{self, ParamsBook, Table};

/// The reports' routes (API and page), merged into the router.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agents))
        .routes(routes!(campaigns))
        .routes(routes!(campaign))
        .routes(routes!(queues))
        .route("/reports", get(page))
        .route("/reports/reports.css", get(css))
}

/// The query of every report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// From (inclusive): RFC 3339, or a span back from now (`24h`,
    /// `7days`). The beginning of records when absent.
    since: Option<String>,
    /// Until (exclusive), written the same way. Now when absent.
    until: Option<String>,
    /// `csv` for a CSV download (a header row, one row per line); JSON
    /// when absent.
    format: Option<String>,
    /// Queues: the service level's threshold in seconds (default 20).
    threshold_s: Option<u32>,
    /// One campaign's CSV: `days` (default) or `hours`.
    table: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentsReply {
    since_ms: i64,
    until_ms: i64,
    /// Per agent: placed, connected, inbound, talk_ms, wrap_up_ms,
    /// dispositions (by category), success_rate.
    #[schema(value_type = Vec<Object>)]
    agents: Vec<AgentReport>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignsReply {
    since_ms: i64,
    until_ms: i64,
    /// Per campaign: contacts, dialled, answered, connected, abandoned,
    /// contact_rate, conversion, abandon_rate, rolling_abandon_rate,
    /// attempts_per_contact, dispositions, outcomes.
    #[schema(value_type = Vec<Object>)]
    campaigns: Vec<CampaignReport>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignReply {
    since_ms: i64,
    until_ms: i64,
    /// `summary` (as in the list), `timezone`, `days` (abandon rate per
    /// day and rolling), `hours` (answer and success by hour of day),
    /// `best_hours`.
    #[schema(value_type = Object)]
    campaign: CampaignDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuesReply {
    since_ms: i64,
    until_ms: i64,
    threshold_ms: i64,
    /// Per queue: offered, answered, answered_in_threshold,
    /// service_level, abandoned, overflowed, avg_wait_ms,
    /// longest_wait_ms.
    #[schema(value_type = Vec<Object>)]
    queues: Vec<QueueReport>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// JSON or CSV, as the query asked; checked before any work is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format_of(q: &ReportQuery) -> Result<Format, String> {
    match q.format.as_deref().map(str::trim) {
        None | Some("" | "json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(format!("format {other:?}: json or csv")),
    }
}

fn span_of(q: &ReportQuery) -> Result<Span, String> {
    reports::span(q.since.as_deref(), q.until.as_deref(), reports::now_ms())
}

/// The format and the span a query asks for, or why it is a bad request.
fn asked(q: &ReportQuery) -> Result<(Format, Span), String> {
    Ok((format_of(q)?, span_of(q)?))
}

/// A table as a CSV download named after it and its span.
fn csv_download(table: &Table, what: &str, span: Span) -> Response {
    match table.to_csv() {
        Ok(body) => {
            let name = format!(
                "waihu-{}-{}-{}.csv",
                what.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
                span.since_ms,
                span.until_ms
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn no_store() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "the store is not running")
}

/// Per agent: calls placed and connected, inbound calls, talk and
/// wrap-up time, dispositions by category, success rate.
#[utoipa::path(
    get,
    path = "/api/v1/reports/agents",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Per-agent figures (JSON; CSV with format=csv)", body = AgentsReply),
        (status = 400, description = "A bad since, until or format"),
        (status = 503, description = "The store is not running")
    )
)]
async fn agents(State(state): State<AppState>, Query(q): Query<ReportQuery>) -> Response {
    let (format, span) = match asked(&q) {
        Ok(asked) => asked,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    match store.run(move |s| s.agent_reports(span)).await {
        Ok(rows) if format == Format::Csv => {
            csv_download(&reports::agents_table(&rows), "agents", span)
        }
        Ok(agents) => Json(AgentsReply {
            since_ms: span.since_ms,
            until_ms: span.until_ms,
            agents,
        })
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Per campaign: contact rate, conversion, abandon rate (in the span and
/// rolling over the campaign's window), attempts per contact,
/// dispositions.
#[utoipa::path(
    get,
    path = "/api/v1/reports/campaigns",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Per-campaign figures (JSON; CSV with format=csv)", body = CampaignsReply),
        (status = 400, description = "A bad since, until or format"),
        (status = 503, description = "The store is not running")
    )
)]
async fn campaigns(State(state): State<AppState>, Query(q): Query<ReportQuery>) -> Response {
    let (format, span) = match asked(&q) {
        Ok(asked) => asked,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let configured = state.campaigns.clone();
    let result = store
        .run(move |s| {
            let book = ParamsBook::new(&configured, &s.campaigns()?);
            s.campaign_reports(span, |name| book.get(name))
        })
        .await;
    match result {
        Ok(rows) if format == Format::Csv => {
            csv_download(&reports::campaigns_table(&rows), "campaigns", span)
        }
        Ok(campaigns) => Json(CampaignsReply {
            since_ms: span.since_ms,
            until_ms: span.until_ms,
            campaigns,
        })
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// One campaign with its tables: the abandon rate per day and rolling,
/// and answers and successes by hour of day (in the campaign's zone:
/// its `import.default_timezone`, else UTC). CSV: `table=days` or
/// `table=hours`.
#[utoipa::path(
    get,
    path = "/api/v1/reports/campaigns/{name}",
    tag = "reports",
    params(("name" = String, Path, description = "The campaign"), ReportQuery),
    responses(
        (status = 200, description = "The campaign's figures and tables (JSON; CSV with format=csv)", body = CampaignReply),
        (status = 400, description = "A bad since, until, format or table"),
        (status = 404, description = "No such campaign"),
        (status = 503, description = "The store is not running")
    )
)]
async fn campaign(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (format, span) = match asked(&q) {
        Ok(asked) => asked,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let hours = match q.table.as_deref() {
        None | Some("days") => false,
        Some("hours") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("table {other:?}: days or hours"),
            );
        }
    };
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let configured = state.campaigns.clone();
    let wanted = name.clone();
    let result = store
        .run(move |s| {
            let book = ParamsBook::new(&configured, &s.campaigns()?);
            s.campaign_detail(&wanted, span, &book.get(&wanted))
        })
        .await;
    match result {
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no campaign {name:?}")),
        Ok(Some(detail)) if format == Format::Csv => {
            let (table, what) = if hours {
                (reports::hours_table(&detail), "hours")
            } else {
                (reports::days_table(&detail), "days")
            };
            csv_download(&table, &format!("{name}-{what}"), span)
        }
        Ok(Some(campaign)) => Json(CampaignReply {
            since_ms: span.since_ms,
            until_ms: span.until_ms,
            campaign,
        })
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Per queue: calls offered, answered, the service level (answered within
/// `threshold_s`), average and longest wait, abandoned in queue.
#[utoipa::path(
    get,
    path = "/api/v1/reports/queues",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Per-queue figures (JSON; CSV with format=csv)", body = QueuesReply),
        (status = 400, description = "A bad since, until, format or threshold_s"),
        (status = 503, description = "The store is not running")
    )
)]
async fn queues(State(state): State<AppState>, Query(q): Query<ReportQuery>) -> Response {
    let (format, span) = match asked(&q) {
        Ok(asked) => asked,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let threshold_ms = match reports::threshold_ms(q.threshold_s) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    match store
        .run(move |s| s.queue_reports(span, threshold_ms))
        .await
    {
        Ok(rows) if format == Format::Csv => {
            csv_download(&reports::queues_table(&rows), "queues", span)
        }
        Ok(queues) => Json(QueuesReply {
            since_ms: span.since_ms,
            until_ms: span.until_ms,
            threshold_ms,
            queues,
        })
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

const CSS: &str = include_str!("reports.css");

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

/// Who may see the page's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageAccess {
    Allowed,
    /// No session (or an expired one): the login form.
    LogIn,
    /// Logged in, but an agent: reports are for supervisors and admins.
    Forbidden,
}

/// The page's check, the same the API's middleware makes for
/// `GET /api/v1/reports/...` (the page itself is served without a token,
/// so the middleware lets it through): a supervisor's or an admin's
/// session cookie (or bearer token).
fn page_access(state: &AppState, headers: &HeaderMap) -> PageAccess {
    let Some(auth) = state.auth.as_ref() else {
        // Only unit tests of other endpoints run without authentication.
        return PageAccess::Allowed;
    };
    match crate::auth::token_of(headers, None).and_then(|t| auth.caller(&t)) {
        None => PageAccess::LogIn,
        Some(c) if matches!(c.role, Role::Admin | Role::Supervisor) => PageAccess::Allowed,
        Some(_) => PageAccess::Forbidden,
    }
}

/// `GET /reports`: the three tables with their CSV links and, per
/// campaign, its charts and its day and hour tables; the login form for
/// a request that may not see them.
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    match page_access(&state, &headers) {
        PageAccess::Allowed => {}
        PageAccess::LogIn => {
            return (StatusCode::UNAUTHORIZED, Html(login_page(None))).into_response();
        }
        PageAccess::Forbidden => {
            let note = "Reports are for supervisors and admins: sign in as one.";
            return (StatusCode::FORBIDDEN, Html(login_page(Some(note)))).into_response();
        }
    }
    let span = match span_of(&q) {
        Ok(s) => s,
        Err(msg) => {
            return (
                StatusCode::BAD_REQUEST,
                Html(shell(
                    &q,
                    &format!(r#"<p class="error">{}</p>"#, escape(&msg)),
                )),
            )
                .into_response();
        }
    };
    let threshold_ms = match reports::threshold_ms(q.threshold_s) {
        Ok(t) => t,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Html(shell(
                    &q,
                    &format!(r#"<p class="error">{}</p>"#, escape(&e)),
                )),
            )
                .into_response();
        }
    };
    let Some(store) = state.store.clone() else {
        return no_store();
    };
    let configured = state.campaigns.clone();
    let result = store
        .run(move |s| {
            let book = ParamsBook::new(&configured, &s.campaigns()?);
            let agents = s.agent_reports(span)?;
            let campaigns = s.campaign_reports(span, |n| book.get(n))?;
            let mut details = Vec::new();
            for c in &campaigns {
                if let Some(d) = s.campaign_detail(&c.campaign, span, &book.get(&c.campaign))? {
                    details.push(d);
                }
            }
            let queues = s.queue_reports(span, threshold_ms)?;
            Ok((agents, campaigns, details, queues))
        })
        .await;
    match result {
        Ok((agents, campaigns, details, queues)) => {
            let body = figures(&q, &agents, &campaigns, &details, &queues);
            Html(shell(&q, &body)).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The query string that keeps the span (and threshold) for the links.
fn keep(q: &ReportQuery) -> String {
    let mut parts = Vec::new();
    for (k, v) in [("since", &q.since), ("until", &q.until)] {
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            parts.push(format!("{k}={}", percent(v)));
        }
    }
    if let Some(t) = q.threshold_s {
        parts.push(format!("threshold_s={t}"));
    }
    parts.join("&")
}

/// Percent-encoding for a query value.
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page around `body`: the heading and the span form.
fn shell(q: &ReportQuery, body: &str) -> String {
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>waihu reports</title><link rel="stylesheet" href="/reports/reports.css"></head>
<body><header><h1>waihu reports</h1>
<form class="span" method="get" action="/reports">
<label>Since <input name="since" value="{since}" placeholder="7days or 2026-11-01T00:00:00Z"></label>
<label>Until <input name="until" value="{until}" placeholder="now"></label>
<label>Service level (s) <input name="threshold_s" type="number" min="1" value="{threshold}"></label>
<button type="submit">Show</button></form></header>
<main>{body}</main></body></html>
"#,
        since = value(&q.since),
        until = value(&q.until),
        threshold = q.threshold_s.unwrap_or(reports::DEFAULT_THRESHOLD_S),
    )
}

/// A table as HTML, with its CSV link.
fn html_table(table: &Table, caption: &str, csv: &str) -> String {
    let mut out = format!(
        r#"<div class="table"><div class="table-head"><h3>{}</h3><a class="csv" href="{}" download>CSV</a></div><table data-table="{}"><thead><tr>"#,
        escape(caption),
        escape(csv),
        table.name
    );
    for h in &table.header {
        // Times show as m:ss on the page, so `talk_s` is "talk".
        let shown = match h.as_str() {
            "threshold_s" => "threshold (s)",
            h => h.strip_suffix("_s").unwrap_or(h),
        };
        out.push_str(&format!("<th>{}</th>", escape(&shown.replace('_', " "))));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = if cell.numeric() {
                r#" class="num""#
            } else {
                ""
            };
            out.push_str(&format!("<td{class}>{}</td>", escape(&cell.show())));
        }
        out.push_str("</tr>");
    }
    if table.rows.is_empty() {
        out.push_str(&format!(
            r#"<tr><td class="empty" colspan="{}">nothing in this span</td></tr>"#,
            table.header.len()
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

/// The figures: agents, campaigns (each with its charts), queues.
fn figures(
    q: &ReportQuery,
    agents: &[AgentReport],
    campaigns: &[CampaignReport],
    details: &[CampaignDetail],
    queues: &[QueueReport],
) -> String {
    let keep = keep(q);
    let csv = |path: &str, extra: &str| {
        let mut query = String::from("format=csv");
        if !keep.is_empty() {
            query.push('&');
            query.push_str(&keep);
        }
        query.push_str(extra);
        format!("{path}?{query}")
    };
    let mut out = String::new();
    out.push_str(r#"<section id="agents"><h2>Agents</h2>"#);
    out.push_str(&html_table(
        &reports::agents_table(agents),
        "Per agent",
        &csv("/api/v1/reports/agents", ""),
    ));
    out.push_str("</section>");

    out.push_str(r#"<section id="campaigns"><h2>Campaigns</h2>"#);
    out.push_str(&html_table(
        &reports::campaigns_table(campaigns),
        "Per campaign",
        &csv("/api/v1/reports/campaigns", ""),
    ));
    for d in details {
        out.push_str(&campaign_section(d, &csv));
    }
    out.push_str("</section>");

    out.push_str(r#"<section id="queues"><h2>Queues</h2>"#);
    out.push_str(&html_table(
        &reports::queues_table(queues),
        "Per queue",
        &csv("/api/v1/reports/queues", ""),
    ));
    out.push_str("</section>");
    out
}

/// One campaign: its charts, then its day and hour tables.
fn campaign_section(d: &CampaignDetail, csv: &dyn Fn(&str, &str) -> String) -> String {
    let name = &d.summary.campaign;
    let path = format!("/api/v1/reports/campaigns/{}", percent(name));
    let hours: Vec<String> = d.hours.iter().map(|h| format!("{:02}", h.hour)).collect();
    let dialled: Vec<f64> = d.hours.iter().map(|h| h.dialled as f64).collect();
    let answered: Vec<f64> = d.hours.iter().map(|h| h.answered as f64).collect();
    let per_hour = report_svg::bars(
        "calls-per-hour",
        &format!("Calls per hour of day ({})", d.timezone),
        &hours,
        &[
            Series {
                name: "dialled",
                values: &dialled,
            },
            Series {
                name: "answered",
                values: &answered,
            },
        ],
        Unit::Count,
    );
    // The mix: how attempts ended, the connected ones by the agent's
    // disposition.
    let mut mix: Vec<(String, u64)> = d
        .summary
        .outcomes
        .iter()
        .filter(|(k, _)| k.as_str() != "answered")
        .map(|(k, v)| (k.replace('_', " "), *v))
        .collect();
    let disposed: u64 = d.summary.dispositions.values().sum();
    let answered_total = d.summary.outcomes.get("answered").copied().unwrap_or(0);
    for (k, v) in d.summary.dispositions.iter().filter(|(_, v)| **v > 0) {
        mix.push((format!("answered: {}", k.replace('_', " ")), *v));
    }
    if answered_total > disposed {
        mix.push(("answered: no disposition".into(), answered_total - disposed));
    }
    mix.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let outcome_mix = report_svg::mix("outcome-mix", "Outcome mix", &mix);
    let days: Vec<String> = d.days.iter().map(|x| x.day.clone()).collect();
    let daily: Vec<f64> = d.days.iter().map(|x| x.abandon_rate).collect();
    let rolling: Vec<f64> = d.days.iter().map(|x| x.rolling_abandon_rate).collect();
    let abandon = report_svg::line(
        "abandon-rate",
        "Abandon rate (of live answers)",
        &days,
        &[
            Series {
                name: "daily",
                values: &daily,
            },
            Series {
                name: "rolling",
                values: &rolling,
            },
        ],
        Some(d.summary.abandon_target),
        Unit::Percent,
    );
    let mut called_hours = reports::hours_table(d);
    called_hours.rows = called_hours
        .rows
        .into_iter()
        .zip(&d.hours)
        .filter(|(_, h)| h.dialled > 0)
        .map(|(row, _)| row)
        .collect();
    let best = if d.best_hours.is_empty() {
        "none yet".to_owned()
    } else {
        d.best_hours
            .iter()
            .map(|h| format!("{h:02}:00"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"<article class="campaign" data-campaign="{n}"><h3>{n}</h3>
<p class="facts"><span>contact rate <b>{cr}</b></span><span>conversion <b>{cv}</b></span><span>abandon rate <b>{ab}</b> (rolling <b>{ro}</b>, target {tg})</span><span>attempts per contact <b>{apc:.2}</b></span><span>best hours to call ({tz}): <b>{best}</b></span></p>
<div class="charts">{per_hour}{outcome_mix}{abandon}</div>
<div class="tables">{days}{hours}</div></article>"#,
        n = escape(name),
        cr = reports::Cell::Rate(d.summary.contact_rate).show(),
        cv = reports::Cell::Rate(d.summary.conversion).show(),
        ab = reports::Cell::Rate(d.summary.abandon_rate).show(),
        ro = reports::Cell::Rate(d.summary.rolling_abandon_rate).show(),
        tg = reports::Cell::Rate(d.summary.abandon_target).show(),
        apc = d.summary.attempts_per_contact,
        tz = escape(&d.timezone),
        best = escape(&best),
        days = html_table(
            &reports::days_table(d),
            "Abandon rate by day",
            &csv(&path, "&table=days")
        ),
        hours = html_table(
            &called_hours,
            "By hour of day (hours with attempts; all 24 in the CSV)",
            &csv(&path, "&table=hours")
        ),
    )
}

/// The login form: posts to `/api/v1/login`, then reloads (the session
/// cookie it sets lets the page in). `note` says why it is shown again.
fn login_page(note: Option<&str>) -> String {
    let note = note.map_or_else(String::new, |n| {
        format!(r#"<p class="error">{}</p>"#, escape(n))
    });
    let page = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>waihu reports: sign in</title><link rel="stylesheet" href="/reports/reports.css"></head>
<body><main class="login"><h1>waihu reports</h1>{note}
<form id="login"><label>User <input name="user" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button><p class="error" id="login-error" hidden></p></form></main>
<script>
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const out = document.getElementById('login-error');
  try {
    const r = await fetch('/api/v1/login', {method: 'POST', headers: {'content-type': 'application/json'},
      body: JSON.stringify({user: f.get('user'), password: f.get('password')})});
    if (r.ok) { location.reload(); return; }
    const body = await r.json().catch(() => ({}));
    out.textContent = body.error || ('sign-in failed: ' + r.status);
  } catch (err) { out.textContent = 'sign-in failed: ' + err; }
  out.hidden = false;
});
</script></body></html>
"#;
    page.replace("{note}", &note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_span_encoded() {
        let q = ReportQuery {
            since: Some("2026-11-01T00:00:00+08:00".into()),
            until: Some(" ".into()),
            threshold_s: Some(30),
            ..ReportQuery::default()
        };
        assert_eq!(
            keep(&q),
            "since=2026-11-01T00%3A00%3A00%2B08%3A00&threshold_s=30"
        );
        assert_eq!(keep(&ReportQuery::default()), "");
    }

    #[test]
    fn formats_other_than_json_and_csv_are_refused() {
        let q = |f: &str| ReportQuery {
            format: Some(f.into()),
            ..ReportQuery::default()
        };
        assert_eq!(format_of(&q("csv")).ok(), Some(Format::Csv));
        assert_eq!(format_of(&q("json")).ok(), Some(Format::Json));
        assert_eq!(format_of(&ReportQuery::default()).ok(), Some(Format::Json));
        let refused = format_of(&q("xlsx")).expect_err("xlsx");
        assert!(refused.contains("xlsx"), "{refused}");
        let bad = ReportQuery {
            since: Some("tomorrow".into()),
            ..q("csv")
        };
        assert!(asked(&bad).expect_err("since").starts_with("since: "));
    }

    #[test]
    fn html_tables_escape_and_mark_empty_spans() {
        let t = reports::agents_table(&[AgentReport {
            agent: "<img src=x>".into(),
            placed: 2,
            ..AgentReport::default()
        }]);
        let html = html_table(&t, "Per agent", "/x?format=csv&since=1h");
        assert!(html.contains("&lt;img src=x&gt;") && !html.contains("<img"));
        assert!(
            html.contains(r#"href="/x?format=csv&amp;since=1h""#),
            "{html}"
        );
        assert!(html.contains(r#"<td class="num">2</td>"#));
        let empty = html_table(&reports::queues_table(&[]), "Per queue", "/q");
        assert!(empty.contains("nothing in this span"));
    }
}
