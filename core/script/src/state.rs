//! Building a state from a version's sources (top level, self-checks, hook
//! collection, agent scripts) and calling its hooks under the budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use mlua::chunk::ChunkMode;
use mlua::{Function, IntoLuaMulti, Lua, Value};

use crate::Services;
use crate::agent;
use crate::convert::{BadReturn, describe};
use crate::error::{HookError, HookErrorKind, LoadError, LoadErrorKind, Loc, Parsed, parse_error};
use crate::sandbox::{self, Ctx, Limits};
use crate::sources::Sources;
use crate::types::AgentScript;

/// The top level of each file, and each self-check, may run this many times
/// the per-call budget: loading does more than a call, but an infinite loop
/// at load must still end in an error, not a hang.
pub(crate) const LOAD_BUDGET_FACTOR: u64 = 10;

/// The hooks of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    SelectMode = 0,
    NextAttempt = 1,
    Offers = 2,
    BlacklistCheck = 3,
    QueueOverflow = 4,
    AgentStateChange = 5,
}

impl Hook {
    /// How many hooks there are.
    pub const COUNT: usize = 6;

    pub const ALL: [Hook; Hook::COUNT] = [
        Hook::SelectMode,
        Hook::NextAttempt,
        Hook::Offers,
        Hook::BlacklistCheck,
        Hook::QueueOverflow,
        Hook::AgentStateChange,
    ];

    /// The global table and the field scripts define.
    fn path(self) -> (&'static str, &'static str) {
        match self {
            Hook::SelectMode => ("campaign", "select_mode"),
            Hook::NextAttempt => ("campaign", "next_attempt"),
            Hook::Offers => ("retention", "offers"),
            Hook::BlacklistCheck => ("blacklist", "check"),
            Hook::QueueOverflow => ("queue", "on_overflow"),
            Hook::AgentStateChange => ("agent", "on_state_change"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Hook::SelectMode => "campaign.select_mode",
            Hook::NextAttempt => "campaign.next_attempt",
            Hook::Offers => "retention.offers",
            Hook::BlacklistCheck => "blacklist.check",
            Hook::QueueOverflow => "queue.on_overflow",
            Hook::AgentStateChange => "agent.on_state_change",
        }
    }

    /// What callers do while the hook is missing (for the load warning).
    fn default_note(self) -> &'static str {
        match self {
            Hook::SelectMode => "every contact gets its campaign's configured mode",
            Hook::NextAttempt => "no contact is retried",
            Hook::Offers => "no retention offers are made",
            Hook::BlacklistCheck => "every dial is denied (fail closed)",
            Hook::QueueOverflow => "an overflowing queue applies its configured overflow action",
            Hook::AgentStateChange => "agent state changes are not reported to scripts",
        }
    }

    /// An optional hook is one most directories leave out (a notification,
    /// or a hook whose default is the configuration's own behaviour): its
    /// absence is not worth a load warning.
    fn optional(self) -> bool {
        matches!(self, Hook::QueueOverflow | Hook::AgentStateChange)
    }
}

/// A hook function and where it is defined (the fallback location of its
/// errors).
#[derive(Debug)]
pub(crate) struct HookFn {
    pub func: Function,
    pub at: Loc,
}

/// One loaded Lua state of a version.
#[derive(Debug)]
pub(crate) struct LuaState {
    lua: Lua,
    ctx: Arc<Ctx>,
    hooks: [Option<HookFn>; Hook::COUNT],
    /// The global `route(call)`, the call-flow hook (see `route.rs`).
    route: Option<HookFn>,
    /// `broadcast.NAME(call, contact)`: broadcast call flows by name.
    broadcasts: BTreeMap<String, HookFn>,
    limits: Limits,
    sources: Arc<Sources>,
}

/// The result of building a state.
#[derive(Debug)]
pub(crate) struct Built {
    pub state: LuaState,
    pub agent_scripts: BTreeMap<String, AgentScript>,
    pub warnings: Vec<String>,
}

/// The functions of the `broadcast` table, by name (anything else in it
/// is ignored: only functions are flows).
fn collect_broadcasts(lua: &Lua) -> BTreeMap<String, HookFn> {
    let mut out = BTreeMap::new();
    let Ok(table) = lua.globals().raw_get::<mlua::Table>("broadcast") else {
        return out;
    };
    for (key, value) in table.pairs::<Value, Value>().flatten() {
        if let (Value::String(name), Value::Function(func)) = (key, value) {
            let at = function_loc(&func);
            out.insert(name.to_string_lossy(), HookFn { func, at });
        }
    }
    out
}

/// A self-check collected from a file's `tests` table.
struct SelfCheck {
    file: String,
    name: String,
    func: Function,
}

/// Builds a state: runs every rule script's top level in path order. With
/// `validate` (the first state of a version) it also runs the self-checks
/// and reads the agent scripts; later states of the same sources skip both.
pub(crate) fn build(
    sources: &Arc<Sources>,
    limits: Limits,
    services: &Arc<dyn Services>,
    validate: bool,
) -> Result<Built, LoadError> {
    let dir = sources.prefix.trim_end_matches('/').to_owned();
    let setup =
        |e: mlua::Error| LoadError::new(dir.clone(), None, LoadErrorKind::Setup(e.to_string()));
    let (lua, ctx) = sandbox::new_state(sources, limits, services).map_err(setup)?;
    let load_budget = limits.budget.saturating_mul(LOAD_BUDGET_FACTOR);
    let mut checks = Vec::new();

    ctx.set_loading(true);
    ctx.set_quiet(!validate);
    for file in &sources.scripts {
        let fail = |e: mlua::Error| {
            load_failure(&ctx, sources, &e, &file.display, limits.memory, load_budget)
        };
        let func = lua
            .load(&file.bytes[..])
            .set_name(format!("@{}", file.display))
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(fail)?;
        ctx.arm(load_budget);
        func.call::<()>(()).map_err(fail)?;
        take_checks(&lua, &file.display, validate, &mut checks)?;
        check_route(&lua, &file.display)?;
    }
    ctx.set_loading(false);
    ctx.set_quiet(false);
    sandbox::stop_tracking(&lua).map_err(setup)?;
    // From here on the state runs functions, not top levels: the count alone
    // is cheaper than recording every line.
    sandbox::install_hook(&lua, &ctx, limits.budget, false).map_err(setup)?;

    // A hook of the wrong type is the more basic mistake: report it before
    // any self-check trips over it.
    let mut warnings = Vec::new();
    let hooks = collect_hooks(&lua, &ctx, &dir, validate.then_some(&mut warnings))?;
    let route = match lua.globals().raw_get::<Value>(crate::route::GLOBAL) {
        Ok(Value::Function(func)) => {
            let at = function_loc(&func);
            Some(HookFn { func, at })
        }
        _ => None,
    };
    if validate {
        run_checks(&ctx, sources, &checks, limits.memory, load_budget)?;
    }
    let definitions = ctx.take_definitions();
    let agent_scripts = if validate {
        agent::collect(definitions, &mut warnings)?
    } else {
        BTreeMap::new()
    };
    // Between calls the limit is off; `invoke` arms it around each call.
    lua.set_memory_limit(0).map_err(setup)?;
    let broadcasts = collect_broadcasts(&lua);
    let state = LuaState {
        lua,
        ctx,
        hooks,
        route,
        broadcasts,
        limits,
        sources: Arc::clone(sources),
    };
    Ok(Built {
        state,
        agent_scripts,
        warnings,
    })
}

/// Takes (and clears) the global `tests` a file may have set.
fn take_checks(
    lua: &Lua,
    file: &str,
    keep: bool,
    out: &mut Vec<SelfCheck>,
) -> Result<(), LoadError> {
    let g = lua.globals();
    let value: Value = g.raw_get("tests").unwrap_or(Value::Nil);
    let _ = g.raw_set("tests", Value::Nil);
    let bad = |found: &Value| {
        let kind = LoadErrorKind::BadHook {
            hook: "tests".to_owned(),
            expected: "a table of named functions",
            found: describe(found),
        };
        LoadError::new(file, None, kind)
    };
    let table = match value {
        Value::Nil => return Ok(()),
        Value::Table(t) => t,
        other => return Err(bad(&other)),
    };
    let mut found = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        let Ok((Value::String(name), value)) = pair else {
            return Err(bad(&Value::Table(table.clone())));
        };
        let Value::Function(func) = value else {
            return Err(bad(&value));
        };
        found.push(SelfCheck {
            file: file.to_owned(),
            name: name.to_string_lossy(),
            func,
        });
    }
    if keep {
        found.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(found);
    }
    Ok(())
}

fn run_checks(
    ctx: &Ctx,
    sources: &Sources,
    checks: &[SelfCheck],
    memory: usize,
    budget: u64,
) -> Result<(), LoadError> {
    for check in checks {
        ctx.arm(budget);
        if let Err(e) = check.func.call::<()>(()) {
            let failed = load_failure(ctx, sources, &e, &check.file, memory, budget);
            let message = match failed.kind {
                LoadErrorKind::Runtime(m) | LoadErrorKind::Syntax(m) => m,
                other => other.to_string().replace(" while loading", ""),
            };
            let (file, line) = match failed.line {
                Some(_) => (failed.file, failed.line),
                None => (check.file.clone(), defined_at(sources, &check.func).line),
            };
            let kind = LoadErrorKind::TestFailed {
                test: check.name.clone(),
                message,
            };
            return Err(LoadError::new(file, line, kind));
        }
    }
    Ok(())
}

/// A global `route` that is not a function fails the load, naming the file
/// that left it so (checked after each file: globals are not tracked).
fn check_route(lua: &Lua, file: &str) -> Result<(), LoadError> {
    match lua
        .globals()
        .raw_get::<Value>(crate::route::GLOBAL)
        .unwrap_or(Value::Nil)
    {
        Value::Nil | Value::Function(_) => Ok(()),
        other => {
            let kind = LoadErrorKind::BadHook {
                hook: crate::route::GLOBAL.to_owned(),
                expected: "a function",
                found: describe(&other),
            };
            Err(LoadError::new(file, None, kind))
        }
    }
}

/// Reads the hook functions; a hook table or hook that is not what the
/// contract says fails the load. Missing hooks are warnings (with what the
/// callers' default will do) when `warnings` is given, except the optional
/// ones.
fn collect_hooks(
    lua: &Lua,
    ctx: &Ctx,
    dir: &str,
    mut warnings: Option<&mut Vec<String>>,
) -> Result<[Option<HookFn>; Hook::COUNT], LoadError> {
    let g = lua.globals();
    let mut hooks: [Option<HookFn>; Hook::COUNT] = Default::default();
    for hook in Hook::ALL {
        let (table, field) = hook.path();
        let bad = |hook: &str, expected: &'static str, found: &Value| {
            let kind = LoadErrorKind::BadHook {
                hook: hook.to_owned(),
                expected,
                found: describe(found),
            };
            let at = ctx.assigned_at(hook).unwrap_or_else(|| Loc {
                file: dir.to_owned(),
                line: None,
            });
            LoadError::new(at.file, at.line, kind)
        };
        let t = match g.raw_get::<Value>(table).unwrap_or(Value::Nil) {
            Value::Table(t) => t,
            other => return Err(bad(table, "a table", &other)),
        };
        match t.raw_get::<Value>(field).unwrap_or(Value::Nil) {
            Value::Function(func) => {
                let at = function_loc(&func);
                hooks[hook as usize] = Some(HookFn { func, at });
            }
            Value::Nil => {
                if let Some(w) = warnings.as_deref_mut().filter(|_| !hook.optional()) {
                    w.push(format!(
                        "{} is not defined: {}",
                        hook.name(),
                        hook.default_note()
                    ));
                }
            }
            other => return Err(bad(hook.name(), "a function", &other)),
        }
    }
    Ok(hooks)
}

fn function_loc(func: &Function) -> Loc {
    let info = func.info();
    let file = match info.source.as_deref() {
        Some(s) if s.starts_with('@') || s.starts_with('=') => s[1..].to_owned(),
        _ => info.short_src.unwrap_or_default(),
    };
    Loc {
        file,
        line: info.line_defined.and_then(|l| u32::try_from(l).ok()),
    }
}

fn defined_at(sources: &Sources, func: &Function) -> Loc {
    let mut loc = function_loc(func);
    resolve(sources, &mut loc);
    loc
}

/// Lua shortens long chunk names to `...tail`; give back the full name.
fn resolve(sources: &Sources, loc: &mut Loc) {
    if let Some(tail) = loc.file.strip_prefix("...") {
        let all = sources.scripts.iter().chain(sources.modules.values());
        if let Some(file) = all.map(|f| &f.display).find(|d| d.ends_with(tail)) {
            loc.file = file.clone();
        }
    }
}

/// Classifies an error raised while loading (or in a self-check).
fn load_failure(
    ctx: &Ctx,
    sources: &Sources,
    err: &mlua::Error,
    file: &str,
    memory: usize,
    budget: u64,
) -> LoadError {
    let Parsed {
        message,
        loc,
        memory: out_of_memory,
        syntax,
    } = parse_error(err);
    let (loc, kind) = if ctx.exhausted() {
        (
            ctx.exhausted_at().or(loc),
            LoadErrorKind::InstructionBudget { budget },
        )
    } else if out_of_memory {
        (
            ctx.last_seen().or(loc),
            LoadErrorKind::MemoryLimit { limit: memory },
        )
    } else if syntax {
        (loc, LoadErrorKind::Syntax(message))
    } else {
        (loc, LoadErrorKind::Runtime(message))
    };
    let mut loc = loc.unwrap_or_else(|| Loc {
        file: file.to_owned(),
        line: None,
    });
    resolve(sources, &mut loc);
    LoadError::new(loc.file, loc.line, kind)
}

impl LuaState {
    /// Calls `hook` with the arguments `args` builds, under a fresh budget,
    /// and checks its first result with `convert`.
    pub fn invoke<A: IntoLuaMulti, R>(
        &self,
        hook: Hook,
        args: impl FnOnce(&Lua) -> mlua::Result<A>,
        convert: impl FnOnce(&Value) -> Result<R, BadReturn>,
    ) -> Result<R, HookError> {
        let Some(f) = &self.hooks[hook as usize] else {
            return Err(HookError {
                file: None,
                line: None,
                function: hook.name(),
                kind: HookErrorKind::Missing,
            });
        };
        self.ctx.arm(self.limits.budget);
        // The memory limit is armed only while script code runs. Building the
        // arguments and reading the result take what our own data needs, not
        // what the script asks for; and with no limit set, mlua skips a
        // protected call per value it creates (a third of a call's cost).
        let args = args(&self.lua).map_err(|e| self.failure(hook.name(), &f.at, &e))?;
        let result = self
            .lua
            .set_memory_limit(self.limits.memory)
            .and_then(|_| f.func.call::<Value>(args));
        let _ = self.lua.set_memory_limit(0);
        let value = result.map_err(|e| self.failure(hook.name(), &f.at, &e))?;
        convert(&value).map_err(|BadReturn { expected, got }| HookError {
            file: Some(f.at.file.clone()),
            line: f.at.line,
            function: hook.name(),
            kind: HookErrorKind::BadReturn { expected, got },
        })
    }

    /// Classifies an error of a call into `function` (defined at `at`, the
    /// fallback location).
    pub fn failure(&self, function: &'static str, at: &Loc, err: &mlua::Error) -> HookError {
        let parsed = parse_error(err);
        let (loc, kind) = if self.ctx.exhausted() {
            let loc = self.ctx.exhausted_at().or(parsed.loc);
            (
                loc,
                HookErrorKind::InstructionBudget {
                    budget: self.limits.budget,
                },
            )
        } else if parsed.memory {
            (
                self.ctx.last_seen(),
                HookErrorKind::MemoryLimit {
                    limit: self.limits.memory,
                },
            )
        } else {
            (parsed.loc, HookErrorKind::Runtime(parsed.message))
        };
        // A position inside the host's prelude says nothing to a script author.
        let mut loc = loc
            .filter(|l| l.file != "host")
            .unwrap_or_else(|| at.clone());
        resolve(&self.sources, &mut loc);
        HookError {
            file: Some(loc.file),
            line: loc.line,
            function,
            kind,
        }
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The `route` function, if the scripts define one.
    pub fn route(&self) -> Option<&HookFn> {
        self.route.as_ref()
    }

    /// The broadcast flow `broadcast.NAME`, if the scripts define it.
    pub fn broadcast(&self, name: &str) -> Option<&HookFn> {
        self.broadcasts.get(name)
    }

    /// The names of every broadcast flow, sorted.
    pub fn broadcast_names(&self) -> Vec<String> {
        self.broadcasts.keys().cloned().collect()
    }

    /// Whether `hook` is defined in this state.
    pub fn has(&self, hook: Hook) -> bool {
        self.hooks[hook as usize].is_some()
    }
}
