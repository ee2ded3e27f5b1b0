//! `api:`: who may use the HTTP API and the web pages, and for how long.
//!
//! Agents log in with their SIP id and password (`agents:`); supervisors and
//! admins are `users:`; programs use long-lived `tokens:`. When no admin can
//! log in by configuration, waihu keeps an admin token in
//! `admin_token_file` (made on first start, readable by its owner only), so
//! a fresh install is locked down yet usable by whoever runs it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::validate::{Checker, ProblemKind};

/// Tokens shorter than this are refused: a token is a password nobody types.
const MIN_TOKEN_LEN: usize = 24;

/// The roles, weakest first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Their own state, calls, previews and dispositions.
    Agent,
    /// Reads everything; steers campaigns and agents.
    Supervisor,
    /// Everything, including scripts, plugins, lists and campaign settings.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// `api:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// How long a login lasts.
    pub token_ttl_secs: u64,
    pub users: Vec<UserEntry>,
    pub tokens: Vec<TokenEntry>,
    /// `/metrics` without a token (scrapers on a trusted network).
    pub metrics_open: bool,
    /// Where the generated admin token is kept, relative to the config
    /// file's directory; empty: none is made.
    pub admin_token_file: PathBuf,
}

impl Default for ApiSection {
    fn default() -> ApiSection {
        ApiSection {
            token_ttl_secs: 12 * 3600,
            users: Vec::new(),
            tokens: Vec::new(),
            metrics_open: true,
            admin_token_file: PathBuf::from("waihu-admin.token"),
        }
    }
}

/// A supervisor or admin who logs in with a password.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    pub password: String,
    pub role: Role,
}

/// A long-lived token for a program.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    pub token: String,
    pub role: Role,
    /// The agent a token of role `agent` acts as.
    #[serde(default)]
    pub agent: Option<String>,
}

/// The checked `api:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSettings {
    pub token_ttl: Duration,
    /// (name, password, role).
    pub users: Vec<(String, String, Role)>,
    /// (name, token, role, agent).
    pub tokens: Vec<(String, String, Role, Option<String>)>,
    pub metrics_open: bool,
    /// Resolved; `None` when disabled.
    pub admin_token_file: Option<PathBuf>,
}

pub(super) fn check_api(
    c: &mut Checker,
    source: &str,
    api: &ApiSection,
    agents: &[super::Agent],
) -> ApiSettings {
    c.range("api.token_ttl_secs", api.token_ttl_secs, 60, 30 * 86_400);
    let mut names: Vec<&str> = Vec::new();
    for (i, u) in api.users.iter().enumerate() {
        let key = format!("api.users[{i}]");
        check_name(c, &format!("{key}.name"), &u.name, &mut names);
        if agents.iter().any(|a| a.id == u.name) {
            c.report(
                format!("{key}.name"),
                ProblemKind::Duplicate {
                    what: "login (also an agent id)",
                    value: u.name.clone(),
                },
            );
        }
        if u.password.chars().count() < 12 {
            c.report(
                format!("{key}.password"),
                ProblemKind::TooShort {
                    min: 12,
                    what: "a supervisor's or admin's password",
                },
            );
        }
        if u.role == Role::Agent {
            c.report(
                format!("{key}.role"),
                ProblemKind::OneOf {
                    value: "agent".into(),
                    allowed: "supervisor, admin (agents log in with their SIP credentials)",
                },
            );
        }
    }
    let mut seen_tokens: Vec<&str> = Vec::new();
    for (i, t) in api.tokens.iter().enumerate() {
        let key = format!("api.tokens[{i}]");
        check_name(c, &format!("{key}.name"), &t.name, &mut names);
        if t.token.chars().count() < MIN_TOKEN_LEN
            || !t.token.chars().all(|ch| ch.is_ascii_graphic())
        {
            c.report(
                format!("{key}.token"),
                ProblemKind::TooShort {
                    min: MIN_TOKEN_LEN,
                    what: "a token (printable ASCII, no spaces)",
                },
            );
        }
        if seen_tokens.contains(&t.token.as_str()) {
            c.report(
                format!("{key}.token"),
                ProblemKind::Duplicate {
                    what: "token",
                    value: t.name.clone(),
                },
            );
        }
        seen_tokens.push(&t.token);
        match (t.role, &t.agent) {
            (Role::Agent, None) => c.report(format!("{key}.agent"), ProblemKind::Missing),
            (Role::Agent, Some(id)) if !agents.iter().any(|a| &a.id == id) => c.report(
                format!("{key}.agent"),
                ProblemKind::UnknownAgent { id: id.clone() },
            ),
            (Role::Supervisor | Role::Admin, Some(_)) => c.report(
                format!("{key}.agent"),
                ProblemKind::OnlyFor {
                    what: "tokens of role agent",
                },
            ),
            _ => {}
        }
    }
    let admin_token_file = (!api.admin_token_file.as_os_str().is_empty())
        .then(|| super::validate::relative_to_config(source, &api.admin_token_file));
    ApiSettings {
        token_ttl: Duration::from_secs(api.token_ttl_secs),
        users: api
            .users
            .iter()
            .map(|u| (u.name.clone(), u.password.clone(), u.role))
            .collect(),
        tokens: api
            .tokens
            .iter()
            .map(|t| (t.name.clone(), t.token.clone(), t.role, t.agent.clone()))
            .collect(),
        metrics_open: api.metrics_open,
        admin_token_file,
    }
}

fn check_name<'a>(c: &mut Checker, key: &str, name: &'a str, names: &mut Vec<&'a str>) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.@".contains(ch));
    if !ok {
        c.report(
            key,
            ProblemKind::BadName {
                what: "login",
                value: name.to_owned(),
            },
        );
    }
    if names.contains(&name) {
        c.report(
            key,
            ProblemKind::Duplicate {
                what: "login",
                value: name.to_owned(),
            },
        );
    }
    names.push(name);
}
