//! One sandboxed Lua state: the allowed libraries and nothing else, the host
//! tables of the contract, `require` limited to `lib/`, text-only `load`,
//! and the limits (memory per state, instructions per call).
//!
//! The instruction budget is a count hook every [`STEP`] instructions that
//! draws the budget down and raises an error once it is spent. It is a
//! *global* hook, so coroutines a script creates inherit it and cannot run
//! outside the budget. Once spent, the budget error cannot be swallowed:
//! `pcall`, `xpcall`, `coroutine.resume` and `coroutine.close` are wrapped
//! so they re-raise it, else `while true do pcall(loop) end` would never end.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mlua::chunk::ChunkMode;
use mlua::debug::{Debug, DebugEvent};
use mlua::{
    Function, HookTriggers, Lua, LuaOptions, LuaString, MultiValue, StdLib, Table, Value, VmState,
};

use crate::Services;
use crate::agent::{self, Definition};
use crate::error::Loc;
use crate::sources::{Sources, valid_module_name};

/// Instructions between two budget checks: the budget's granularity.
pub(crate) const STEP: u32 = 1000;
/// The message of the budget error inside Lua (what a `pcall` would see).
pub(crate) const BUDGET_MESSAGE: &str = "instruction budget exhausted";
/// Registry key of the per-state module cache of `require`.
const LOADED_KEY: &str = "waihu.loaded";

/// The limits of one state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub memory: usize,
    pub budget: u64,
}

/// Where the hook last saw the VM, and where the budget ran out.
#[derive(Debug, Default)]
struct Track {
    last: Option<Loc>,
    exhausted_at: Option<Loc>,
}

impl Track {
    /// Records a position, reusing the file string when it did not change
    /// (this runs every few thousand instructions, and every line at load).
    fn note(&mut self, file: &str, line: Option<u32>) {
        match &mut self.last {
            Some(loc) => {
                if loc.file != file {
                    loc.file.clear();
                    loc.file.push_str(file);
                }
                loc.line = line;
            }
            None => {
                self.last = Some(Loc {
                    file: file.to_owned(),
                    line,
                })
            }
        }
    }
}

/// State shared by the Rust side and the callbacks of one Lua state.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    remaining: AtomicI64,
    exhausted: AtomicBool,
    track: Mutex<Track>,
    loading: AtomicBool,
    quiet: AtomicBool,
    definitions: Mutex<Vec<Definition>>,
    requiring: Mutex<Vec<String>>,
    /// Where each hook-table field was assigned at load
    /// (`blacklist.check` -> position), to place a hook of the wrong type.
    assigned: Mutex<Vec<(String, Loc)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ctx {
    /// Gives the next run `budget` instructions and forgets the last run.
    pub fn arm(&self, budget: u64) {
        self.remaining
            .store(i64::try_from(budget).unwrap_or(i64::MAX), Ordering::Relaxed);
        self.exhausted.store(false, Ordering::Relaxed);
        let mut track = lock(&self.track);
        track.last = None;
        track.exhausted_at = None;
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// Where the budget ran out, if it did.
    pub fn exhausted_at(&self) -> Option<Loc> {
        lock(&self.track).exhausted_at.clone()
    }

    /// The last position the hook saw in this run.
    pub fn last_seen(&self) -> Option<Loc> {
        lock(&self.track).last.clone()
    }

    pub fn set_loading(&self, loading: bool) {
        self.loading.store(loading, Ordering::Relaxed);
    }

    /// Mutes the script log (see [`logger`]).
    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    pub fn take_definitions(&self) -> Vec<Definition> {
        std::mem::take(&mut *lock(&self.definitions))
    }

    /// Where `name` (as `blacklist.check`) was last assigned at load.
    pub fn assigned_at(&self, name: &str) -> Option<Loc> {
        lock(&self.assigned)
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, loc)| loc.clone())
    }
}

/// The tables scripts fill with hooks.
pub(crate) const HOOK_TABLES: [&str; 6] = [
    "campaign",
    "retention",
    "blacklist",
    "queue",
    "agent",
    "broadcast",
];

/// While the scripts load, the hook tables note where each field is
/// assigned: they stay empty and keep their fields in a shadow table
/// (`__index`), so every assignment passes through `__newindex`.
/// [`stop_tracking`] moves the fields back and takes the metatables off:
/// calls pay nothing for it.
fn track_assignments(lua: &Lua, ctx: &Arc<Ctx>) -> mlua::Result<()> {
    for table in HOOK_TABLES {
        let ctx = Arc::clone(ctx);
        let shadow = lua.create_table()?;
        let store = shadow.clone();
        let newindex =
            lua.create_function(move |lua, (_t, key, value): (Table, Value, Value)| {
                if let Value::String(key) = &key {
                    let name = format!("{table}.{}", key.to_string_lossy());
                    lock(&ctx.assigned).push((name, caller(lua)));
                }
                store.raw_set(key, value)
            })?;
        let meta = lua.create_table()?;
        meta.raw_set("__index", shadow)?;
        meta.raw_set("__newindex", newindex)?;
        meta.raw_set("__waihu_shadow", true)?;
        lua.globals()
            .raw_get::<Table>(table)?
            .set_metatable(Some(meta))?;
    }
    Ok(())
}

/// Ends [`track_assignments`]; a table a script replaced or gave its own
/// metatable is left alone.
pub(crate) fn stop_tracking(lua: &Lua) -> mlua::Result<()> {
    for table in HOOK_TABLES {
        let Value::Table(t) = lua.globals().raw_get::<Value>(table)? else {
            continue;
        };
        let Some(meta) = t.metatable() else { continue };
        if meta.raw_get::<Value>("__waihu_shadow")? != Value::Boolean(true) {
            continue;
        }
        let shadow: Table = meta.raw_get("__index")?;
        t.set_metatable(None)?;
        for pair in shadow.pairs::<Value, Value>() {
            let (k, v) = pair?;
            t.raw_set(k, v)?;
        }
    }
    Ok(())
}

/// A fresh sandboxed state for `sources`, limits set, no script run yet.
pub(crate) fn new_state(
    sources: &Arc<Sources>,
    limits: Limits,
    services: &Arc<dyn Services>,
) -> mlua::Result<(Lua, Arc<Ctx>)> {
    let libs = StdLib::STRING
        | StdLib::TABLE
        | StdLib::MATH
        | StdLib::UTF8
        | StdLib::COROUTINE
        | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    let ctx = Arc::new(Ctx::default());
    restrict_std(&lua)?;
    install_host_tables(&lua, &ctx, services)?;
    install_prelude(&lua, &ctx)?;
    crate::route::install(&lua)?;
    track_assignments(&lua, &ctx)?;
    install_require(&lua, &ctx, sources)?;
    install_hook(&lua, &ctx, limits.budget, true)?;
    lua.set_memory_limit(limits.memory)?;
    Ok((lua, ctx))
}

/// Removes what the contract does not allow from the standard libraries.
fn restrict_std(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    for name in ["dofile", "loadfile", "load", "print", "warn"] {
        g.raw_set(name, Value::Nil)?;
    }
    let os: Table = g.get("os")?;
    let safe_os = lua.create_table()?;
    for name in ["time", "date", "clock"] {
        safe_os.raw_set(name, os.get::<Function>(name)?)?;
    }
    g.raw_set("os", safe_os)?;
    let string: Table = g.get("string")?;
    string.raw_set("dump", Value::Nil)?;
    g.raw_set("load", lua.create_function(text_load)?)?;
    Ok(())
}

/// `load` for text chunks only. Follows Lua's signature
/// `load(chunk [, chunkname [, mode [, env]]])`: `chunk` a string or a
/// reader function, `env` honoured when given (an explicit `nil` env gives
/// the chunk an empty one). Compile errors return `nil, message`.
fn text_load(lua: &Lua, args: MultiValue) -> mlua::Result<(Value, Value)> {
    let mut args = args.into_iter();
    let chunk = args.next().unwrap_or(Value::Nil);
    let name = args.next().unwrap_or(Value::Nil);
    let mode = args.next().unwrap_or(Value::Nil);
    let env = args.next();
    let refuse = |msg: &str| Ok((Value::Nil, Value::String(lua.create_string(msg)?)));

    if let Value::String(mode) = &mode
        && !mode.as_bytes().contains(&b't')
    {
        return refuse("load: only text chunks may be loaded here (mode must allow 't')");
    }
    let text = match chunk {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Function(reader) => {
            let mut text = Vec::new();
            loop {
                match reader.call::<Value>(())? {
                    Value::String(piece) if !piece.as_bytes().is_empty() => {
                        text.extend_from_slice(&piece.as_bytes())
                    }
                    Value::Nil | Value::String(_) => break,
                    _ => return refuse("load: the reader function must return strings"),
                }
            }
            text
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #1 to 'load' (string or function expected, got {})",
                other.type_name()
            )));
        }
    };
    let name = match name {
        Value::String(s) => s.to_str()?.to_owned(),
        _ => "=(load)".to_owned(),
    };
    let mut chunk = lua.load(text).set_name(name).set_mode(ChunkMode::Text);
    match env {
        None => {}
        Some(Value::Table(t)) => chunk = chunk.set_environment(t),
        Some(Value::Nil) => chunk = chunk.set_environment(lua.create_table()?),
        Some(other) => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #4 to 'load' (table expected, got {})",
                other.type_name()
            )));
        }
    }
    match chunk.into_function() {
        Ok(f) => Ok((Value::Function(f), Value::Nil)),
        Err(mlua::Error::SyntaxError { message, .. }) => refuse(&message),
        Err(e @ mlua::Error::MemoryError(_)) => Err(e),
        Err(e) => refuse(&e.to_string()),
    }
}

#[derive(Clone, Copy)]
enum Level {
    Info,
    Warn,
    Error,
}

/// The script position of whoever called the current Rust callback.
pub(crate) fn caller(lua: &Lua) -> Loc {
    lua.inspect_stack(1, |d| Loc {
        file: source_name(d).into_owned(),
        line: line_of(d),
    })
    .unwrap_or_default()
}

fn line_of(d: &Debug) -> Option<u32> {
    d.current_line().and_then(|l| u32::try_from(l).ok())
}

/// A chunk's name as errors show it: `scripts/x.lua` for `@scripts/x.lua`.
/// Borrowed when it can be: the hook calls this every few thousand
/// instructions.
fn source_name<'a>(d: &'a Debug) -> Cow<'a, str> {
    let src = d.source();
    match src.source {
        Some(Cow::Borrowed(s)) if s.starts_with('@') || s.starts_with('=') => {
            Cow::Borrowed(&s[1..])
        }
        Some(Cow::Owned(s)) if s.starts_with('@') || s.starts_with('=') => {
            Cow::Owned(s[1..].to_owned())
        }
        _ => src.short_src.unwrap_or_default(),
    }
}

/// `log.info` and friends (and `print`, `warn`). Silent while a state is
/// rebuilt from sources a validated state already ran, so a version's
/// top-level messages are logged once, not once per pooled state.
fn logger(lua: &Lua, ctx: &Arc<Ctx>, level: Level) -> mlua::Result<Function> {
    let ctx = Arc::clone(ctx);
    lua.create_function(move |lua, args: MultiValue| {
        if ctx.quiet.load(Ordering::Relaxed) {
            return Ok(());
        }
        log_from_lua(lua, level, args)
    })
}

fn log_from_lua(lua: &Lua, level: Level, args: MultiValue) -> mlua::Result<()> {
    let mut text = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            text.push('\t');
        }
        match v {
            Value::String(s) => text.push_str(&s.to_string_lossy()),
            other => text.push_str(&other.to_string()?),
        }
    }
    let at = caller(lua);
    let line = at.line.unwrap_or(0);
    match level {
        Level::Info => {
            tracing::info!(target: "waihu_script::lua", script = %at.file, line, "{text}")
        }
        Level::Warn => {
            tracing::warn!(target: "waihu_script::lua", script = %at.file, line, "{text}")
        }
        Level::Error => {
            tracing::error!(target: "waihu_script::lua", script = %at.file, line, "{text}")
        }
    }
    Ok(())
}

/// `plugins`: `plugins.NAME` is a table whose every field is a function
/// calling the plugin (`plugins.crm.lookup(phone)`), resolved when used,
/// so a plugin reloaded with new functions needs no script reload. Lua
/// values cross as JSON: arguments as an array, the result back as a Lua
/// value (JSON null as nil).
fn plugins_table(lua: &Lua, services: &Arc<dyn Services>) -> mlua::Result<mlua::Table> {
    use mlua::LuaSerdeExt as _;
    let plugins = lua.create_table()?;
    let meta = lua.create_table()?;
    let services = Arc::clone(services);
    meta.raw_set(
        "__index",
        lua.create_function(move |lua, (_, name): (Value, LuaString)| {
            let name = name.to_str()?.to_owned();
            if !services.has_plugin(&name) {
                return Ok(Value::Nil);
            }
            let plugin = lua.create_table()?;
            let plugin_meta = lua.create_table()?;
            let services = Arc::clone(&services);
            plugin_meta.raw_set(
                "__index",
                lua.create_function(move |lua, (_, function): (Value, LuaString)| {
                    let function = function.to_str()?.to_owned();
                    let (services, name) = (Arc::clone(&services), name.clone());
                    let call = lua.create_function(move |lua, args: mlua::MultiValue| {
                        let args: Vec<serde_json::Value> = args
                            .into_iter()
                            .map(|v| lua.from_value(v))
                            .collect::<mlua::Result<_>>()?;
                        let result = services
                            .plugin_call(&name, &function, serde_json::Value::Array(args))
                            .map_err(|e| {
                                mlua::Error::runtime(format!("plugins.{name}.{function}: {e}"))
                            })?;
                        lua.to_value_with(
                            &result,
                            mlua::serde::SerializeOptions::new()
                                .serialize_none_to_null(false)
                                .serialize_unit_to_null(false),
                        )
                    })?;
                    Ok(Value::Function(call))
                })?,
            )?;
            plugin.set_metatable(Some(plugin_meta))?;
            Ok(Value::Table(plugin))
        })?,
    )?;
    plugins.set_metatable(Some(meta))?;
    Ok(plugins)
}

/// `campaign`, `retention`, `blacklist`, `queue`, `agent`, `agent_script`,
/// `log`, `dnc`, `plugins`.
fn install_host_tables(
    lua: &Lua,
    ctx: &Arc<Ctx>,
    services: &Arc<dyn Services>,
) -> mlua::Result<()> {
    let g = lua.globals();
    g.raw_set("campaign", lua.create_table()?)?;
    g.raw_set("retention", lua.create_table()?)?;
    // `queue.on_overflow` and `agent.on_state_change`. `agent` (the ACD's
    // agents) is not `agent_script` (the dialogues shown to them).
    g.raw_set("queue", lua.create_table()?)?;
    g.raw_set("agent", lua.create_table()?)?;
    // `broadcast.NAME(call, contact)`: the call flows of automatic
    // broadcast campaigns, by the name a campaign's `broadcast:` gives.
    g.raw_set("broadcast", lua.create_table()?)?;

    // `allow` and `deny` are defined in Lua by the prelude.
    let blacklist = lua.create_table()?;
    g.raw_set("blacklist", blacklist)?;

    let log = lua.create_table()?;
    log.raw_set("info", logger(lua, ctx, Level::Info)?)?;
    log.raw_set("warn", logger(lua, ctx, Level::Warn)?)?;
    log.raw_set("error", logger(lua, ctx, Level::Error)?)?;
    g.raw_set("print", logger(lua, ctx, Level::Info)?)?;
    g.raw_set("warn", logger(lua, ctx, Level::Warn)?)?;
    g.raw_set("log", log)?;

    g.raw_set("plugins", plugins_table(lua, services)?)?;
    let dnc = lua.create_table()?;
    let services = Arc::clone(services);
    dnc.raw_set(
        "contains",
        lua.create_function(move |_, number: LuaString| {
            Ok(services.dnc_contains(&number.to_str()?))
        })?,
    )?;
    g.raw_set("dnc", dnc)?;

    let agent_script = lua.create_table()?;
    let define_ctx = Arc::clone(ctx);
    agent_script.raw_set(
        "define",
        lua.create_function(move |lua, def: Value| {
            if !define_ctx.loading.load(Ordering::Relaxed) {
                return Err(mlua::Error::runtime(
                    "agent_script.define may only be called while the scripts load",
                ));
            }
            let parsed = agent::parse(&def);
            lock(&define_ctx.definitions).push(Definition {
                at: caller(lua),
                parsed,
            });
            Ok(())
        })?,
    )?;
    g.raw_set("agent_script", agent_script)?;
    Ok(())
}

/// `require(name)`: `lib/<name with dots as slashes>.lua` from the version's
/// sources, run once per state and cached.
fn install_require(lua: &Lua, ctx: &Arc<Ctx>, sources: &Arc<Sources>) -> mlua::Result<()> {
    lua.set_named_registry_value(LOADED_KEY, lua.create_table()?)?;
    let sources = Arc::clone(sources);
    let ctx = Arc::clone(ctx);
    let require = lua.create_function(move |lua, name: LuaString| {
        let name = name.to_str()?.to_owned();
        if !valid_module_name(&name) {
            return Err(mlua::Error::runtime(format!(
                "require: '{name}' is not a module name (lib/ modules only, as \"util.phone\")"
            )));
        }
        let loaded: Table = lua.named_registry_value(LOADED_KEY)?;
        let cached: Value = loaded.raw_get(name.as_str())?;
        if !cached.is_nil() {
            return Ok(cached);
        }
        let Some(file) = sources.modules.get(&name) else {
            return Err(mlua::Error::runtime(format!(
                "require: module '{name}' not found in {}lib/",
                sources.prefix
            )));
        };
        {
            let mut requiring = lock(&ctx.requiring);
            if requiring.contains(&name) {
                return Err(mlua::Error::runtime(format!(
                    "require: module '{name}' requires itself"
                )));
            }
            requiring.push(name.clone());
        }
        let result = lua
            .load(&file.bytes[..])
            .set_name(format!("@{}", file.display))
            .set_mode(ChunkMode::Text)
            .call::<Value>((name.as_str(), file.display.as_str()));
        lock(&ctx.requiring).retain(|n| *n != name);
        let value = match result? {
            Value::Nil => Value::Boolean(true),
            v => v,
        };
        loaded.raw_set(name, value.clone())?;
        Ok(value)
    })?;
    lua.globals().raw_set("require", require)
}

/// Lua-side wrappers: catching functions re-raise a spent budget,
/// `collectgarbage` keeps only the options that cannot change how the
/// collector runs for later calls on the same state, `setmetatable` refuses
/// finalizers. Also the pure-Lua
/// parts of the host tables (`blacklist.allow`/`deny`: a table built in Lua
/// costs a fraction of one built through the C API).
const PRELUDE: &str = r#"
local fatal = ...
local raw_pcall, raw_xpcall, resume, close = pcall, xpcall, coroutine.resume, coroutine.close
local gc, error, tostring, type, rawget, raw_setmetatable =
    collectgarbage, error, tostring, type, rawget, setmetatable
pcall = function(...) return fatal(raw_pcall(...)) end
xpcall = function(...) return fatal(raw_xpcall(...)) end
coroutine.resume = function(...) return fatal(resume(...)) end
coroutine.close = function(...) return fatal(close(...)) end
local allowed = { collect = true, count = true, step = true, isrunning = true }
collectgarbage = function(opt, ...)
    if opt ~= nil and not allowed[opt] then
        error("collectgarbage('" .. tostring(opt) .. "') is not allowed", 2)
    end
    return gc(opt, ...)
end
-- No finalizers: they would run whenever the collector pleases, between
-- calls or while the host builds arguments, outside any call's limits.
-- Lua registers a finalizer only if `__gc` is there when the metatable is
-- set, so refusing it here is enough.
setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
        error("setmetatable: __gc finalizers are not allowed", 2)
    end
    return raw_setmetatable(t, mt)
end
function blacklist.allow()
    return { verdict = "allow" }
end
function blacklist.deny(reason)
    local t = type(reason)
    if t == "number" then
        reason = tostring(reason)
    elseif t ~= "string" then
        error("blacklist.deny(reason): the reason must be a string, got " .. t, 2)
    end
    return { verdict = "deny", reason = reason }
end
"#;

fn install_prelude(lua: &Lua, ctx: &Arc<Ctx>) -> mlua::Result<()> {
    let ctx = Arc::clone(ctx);
    let fatal = lua.create_function(move |_, results: MultiValue| {
        if ctx.exhausted() {
            Err(mlua::Error::runtime(BUDGET_MESSAGE))
        } else {
            Ok(results)
        }
    })?;
    lua.load(PRELUDE)
        .set_name("=host")
        .set_mode(ChunkMode::Text)
        .call::<()>(fatal)
}

/// Installs the budget hook. `lines` also records every line executed, so a
/// memory error (which runs no Lua handler) can name its line: used while
/// scripts load, where precision matters more than speed. Calls use the
/// count alone, and a memory error names the last sampled position.
pub(crate) fn install_hook(
    lua: &Lua,
    ctx: &Arc<Ctx>,
    budget: u64,
    lines: bool,
) -> mlua::Result<()> {
    let step = u32::try_from(budget.clamp(1, u64::from(STEP))).unwrap_or(STEP);
    let mut triggers = HookTriggers::new().every_nth_instruction(step);
    if lines {
        triggers = triggers.every_line();
    }
    let ctx = Arc::clone(ctx);
    lua.set_global_hook(triggers, move |_, debug| {
        let file = source_name(debug);
        let mut track = lock(&ctx.track);
        track.note(&file, line_of(debug));
        if debug.event() == DebugEvent::Count {
            let left =
                ctx.remaining.fetch_sub(i64::from(step), Ordering::Relaxed) - i64::from(step);
            if left < 0 {
                ctx.exhausted.store(true, Ordering::Relaxed);
                if track.exhausted_at.is_none() {
                    track.exhausted_at = track.last.clone();
                }
                return Err(mlua::Error::runtime(BUDGET_MESSAGE));
            }
        }
        Ok(VmState::Continue)
    })
}
