//! Structured errors: what went wrong loading a version, calling a hook, or
//! rolling back; and the code that finds the script file and line in what
//! Lua reports.

use std::fmt;

use serde::Serialize;

/// Why a version could not be loaded. The serving version (if any) is
/// untouched.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LoadError {
    /// The script, as `scripts/blacklist.lua` (the directory's name, then
    /// the path inside it), or the directory itself for IO errors.
    pub file: String,
    pub line: Option<u32>,
    pub kind: LoadErrorKind,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for LoadError {}

/// What kind of load failure.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[non_exhaustive]
pub enum LoadErrorKind {
    #[error("cannot read: {0}")]
    Unreadable(String),
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("error while loading: {0}")]
    Runtime(String),
    #[error("memory limit of {limit} bytes exceeded while loading")]
    MemoryLimit { limit: usize },
    #[error("instruction budget of {budget} exhausted while loading")]
    InstructionBudget { budget: u64 },
    #[error("test `{test}` failed: {message}")]
    TestFailed { test: String, message: String },
    #[error("{}", agent_problem(script, node.as_deref(), problem))]
    AgentScript {
        script: String,
        node: Option<String>,
        problem: String,
    },
    #[error("`{hook}` must be {expected}, found {found}")]
    BadHook {
        hook: String,
        expected: &'static str,
        found: String,
    },
    #[error("cannot set up a Lua state: {0}")]
    Setup(String),
}

fn agent_problem(script: &str, node: Option<&str>, problem: &str) -> String {
    match node {
        Some(node) => format!("agent script `{script}`, node `{node}`: {problem}"),
        None => format!("agent script `{script}`: {problem}"),
    }
}

impl LoadError {
    pub(crate) fn new(file: impl Into<String>, line: Option<u32>, kind: LoadErrorKind) -> Self {
        LoadError {
            file: file.into(),
            line,
            kind,
        }
    }
}

/// Why one hook call failed. The caller applies the hook's safe default;
/// the switch keeps running.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HookError {
    /// The script where it failed (`scripts/blacklist.lua`); `None` when the
    /// hook is not defined at all.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The hook, as scripts name it: `blacklist.check`.
    pub function: &'static str,
    pub kind: HookErrorKind,
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        write!(f, "{}: {}", self.function, self.kind)
    }
}

impl std::error::Error for HookError {}

/// What kind of hook failure.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[non_exhaustive]
pub enum HookErrorKind {
    /// The script raised an error (message without the location).
    #[error("{0}")]
    Runtime(String),
    #[error("memory limit of {limit} bytes exceeded")]
    MemoryLimit { limit: usize },
    #[error("instruction budget of {budget} exhausted")]
    InstructionBudget { budget: u64 },
    /// The hook returned something the contract does not allow.
    #[error("bad return value: expected {expected}, got {got}")]
    BadReturn { expected: String, got: String },
    /// No script defines the hook.
    #[error("not defined by any script")]
    Missing,
    /// No Lua state could be had for the call (every state of the version
    /// was lost and a new one failed to build).
    #[error("no Lua state available: {0}")]
    Unavailable(String),
    /// The host resumed a route with an event that does not answer the
    /// command the route waits on: a bug of the caller, not of the script.
    #[error("route resumed with {got}, but it waits for {expected}")]
    UnexpectedReply { expected: &'static str, got: String },
}

/// Why a rollback did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[non_exhaustive]
pub enum RollbackError {
    #[error("there is no previous version to roll back to")]
    NoPrevious,
}

/// A script position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: String,
    pub line: Option<u32>,
}

/// An mlua error taken apart: the message without location or traceback,
/// where it was raised, and whether it was the memory limit.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub message: String,
    pub loc: Option<Loc>,
    pub memory: bool,
    pub syntax: bool,
}

pub(crate) fn parse_error(err: &mlua::Error) -> Parsed {
    let mut parsed = Parsed {
        message: String::new(),
        loc: None,
        memory: false,
        syntax: false,
    };
    let mut traceback_loc = None;
    let mut err = err;
    loop {
        match err {
            mlua::Error::CallbackError { traceback, cause } => {
                if traceback_loc.is_none() {
                    traceback_loc = traceback_location(traceback);
                }
                err = cause;
            }
            mlua::Error::WithContext { cause, .. } => err = cause,
            mlua::Error::MemoryError(msg) => {
                parsed.memory = true;
                parsed.message = msg.clone();
                break;
            }
            mlua::Error::SyntaxError { message, .. } => {
                parsed.syntax = true;
                let (loc, rest) = split_location(message);
                parsed.loc = loc;
                parsed.message = rest.to_owned();
                break;
            }
            mlua::Error::RuntimeError(text) => {
                let (head, traceback) = match text.find("\nstack traceback:") {
                    Some(at) => (&text[..at], Some(&text[at..])),
                    None => (text.as_str(), None),
                };
                let (loc, rest) = split_location(head);
                parsed.loc = loc.or_else(|| traceback.and_then(traceback_location));
                parsed.message = rest.to_owned();
                break;
            }
            other => {
                parsed.message = other.to_string();
                break;
            }
        }
    }
    if parsed.loc.is_none() {
        parsed.loc = traceback_loc;
    }
    parsed
}

/// `file:line: rest` -> (`file`, `line`), `rest`. Lua prefixes error
/// messages this way (`error("x")` at level 1, and every VM error).
pub(crate) fn split_location(text: &str) -> (Option<Loc>, &str) {
    let first_line = text.lines().next().unwrap_or("");
    let mut search = 0;
    while let Some(colon) = first_line[search..].find(':').map(|c| c + search) {
        let after = &first_line[colon + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(':') && colon > 0 {
            let line = after[..digits].parse().ok();
            // `first_line` is a prefix of `text`, so its offsets are text's.
            let rest = text[colon + 1 + digits + 1..].trim_start_matches(' ');
            let loc = Loc {
                file: first_line[..colon].to_owned(),
                line,
            };
            return (Some(loc), rest);
        }
        search = colon + 1;
    }
    (None, text)
}

/// The first frame of a Lua traceback that is inside a script (not `[C]`).
pub(crate) fn traceback_location(traceback: &str) -> Option<Loc> {
    traceback
        .lines()
        .map(str::trim_start)
        .filter(|frame| !frame.starts_with("[C]") && !frame.starts_with("(..."))
        .find_map(|frame| match split_location(frame) {
            (Some(loc), _) if loc.line.is_some() => Some(loc),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lua_error_prefix() {
        let (loc, rest) = split_location("scripts/x.lua:42: attempt to call a nil value");
        assert_eq!(
            loc,
            Some(Loc {
                file: "scripts/x.lua".into(),
                line: Some(42)
            })
        );
        assert_eq!(rest, "attempt to call a nil value");
        let (loc, rest) = split_location("plain message: no location");
        assert_eq!(loc, None);
        assert_eq!(rest, "plain message: no location");
    }

    #[test]
    fn finds_first_script_frame() {
        let tb = "stack traceback:\n\t[C]: in function 'error'\n\t(...tail calls...)\n\tscripts/a.lua:7: in function <scripts/a.lua:5>\n\t[C]: in ?";
        assert_eq!(
            traceback_location(tb),
            Some(Loc {
                file: "scripts/a.lua".into(),
                line: Some(7)
            })
        );
    }

    #[test]
    fn displays_like_a_compiler() {
        let err = HookError {
            file: Some("scripts/blacklist.lua".into()),
            line: Some(42),
            function: "blacklist.check",
            kind: HookErrorKind::InstructionBudget { budget: 1_000_000 },
        };
        assert_eq!(
            err.to_string(),
            "scripts/blacklist.lua:42: blacklist.check: instruction budget of 1000000 exhausted"
        );
        let missing = HookError {
            file: None,
            line: None,
            function: "retention.offers",
            kind: HookErrorKind::Missing,
        };
        assert_eq!(
            missing.to_string(),
            "retention.offers: not defined by any script"
        );
    }
}
