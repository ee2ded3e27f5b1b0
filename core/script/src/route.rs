//! The call-flow hook: a script's global `route(call)`, run as one Lua
//! coroutine per call. Each `call:` method yields a [`Command`] to the host
//! and is resumed with the reply [`Event`]; a resume is short (it runs under
//! the instruction budget and the memory limit), the call need not be.
//!
//! # Where a route runs
//! A suspended coroutine lives in one Lua state, so a route cannot lease
//! "any" state per resume as the other hooks do. A version keeps its own
//! set of route states, apart from the hook pool (so a long call never
//! holds a state a short hook call waits for): up to `pool_size`, built
//! when first needed. A new route goes to the state with the fewest live
//! routes, and a new state is built only when every existing one has a
//! route on it. Each resume locks its route's state for its duration, so
//! routes on different states run in parallel and routes on one state take
//! turns, each turn bounded by the budget.
//!
//! # Failures
//! A route that raises an error or exhausts the budget ends with a
//! [`HookError`]; its coroutine is dropped and the state carries on for its
//! other routes (the error unwound the coroutine only; globals are not
//! meant to carry state between calls). A route that hits the memory limit
//! ends the same way, and its state is also retired: it takes no new
//! routes (a state near its limit would fail them too) and is dropped once
//! the routes already on it end, while new routes get a fresh state. A
//! dropped [`Route`] (the caller hung up) releases its coroutine to the
//! collector.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mlua::chunk::ChunkMode;
use mlua::{AnyUserData, Function, Lua, LuaString, MultiValue, Thread, Value};
use waihu_call::{
    Command, DialOutcome, DigitsEnd, Event, HangupCause, PlayItem, QueueOutcome, RecordMode, Tone,
    ToneRegion,
};

use crate::error::{HookError, HookErrorKind, LoadError};
use crate::state::LuaState;
use crate::version::Version;

/// The global scripts define.
pub(crate) const GLOBAL: &str = "route";
/// The hook's name in errors.
const HOOK: &str = "route";
/// Registry key of the Lua function that starts a route coroutine.
const RUN_KEY: &str = "waihu.route.run";

/// Bounds on what scripts hand the host: these end up in SIP, file names
/// and the CDR.
const MAX_NAME: usize = 128;
const MAX_PLAY_ITEMS: usize = 64;
const MAX_ITEM_MS: i64 = 600_000;
const MAX_DIGITS: i64 = 64;
const MAX_VAR_NAME: usize = 64;
const MAX_VAR_VALUE: usize = 1024;
const MAX_TARGET: usize = 64;
const MAX_DIAL_S: i64 = 600;
pub(crate) const MAX_QUEUE_NAME: usize = 64;
const MAX_SKILL_NAME: usize = 32;
const MAX_SKILLS: usize = 16;
const MAX_QUEUE_PRIORITY: i64 = 9;
const MAX_SKILL_LEVEL: i64 = 100;

/// What the route sees of the call when it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallInfo {
    /// The switch's id of the call (`call.id`).
    pub id: u64,
    /// The caller, as the switch has it (`call.from`).
    pub from: String,
    /// The dialled number or user part (`call.to`).
    pub to: String,
    /// Call variables known at the start (`call.vars`).
    pub vars: BTreeMap<String, String>,
}

/// What a resume of a route asks for next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Carry this out and resume the route with its reply event.
    Command(Command),
    /// The route is over: it returned, its call hung up, or it failed
    /// earlier. The caller hangs up the call if it is still up.
    Done,
}

/// The call methods, in Lua: each checks it runs in its own route's
/// coroutine, has the host build (and validate) the command, and yields it.
/// The replies come back already converted to the method's results.
const LIB: &str = r#"
local build = ...
local running, yield, error, type, rawget, setmetatable =
    coroutine.running, coroutine.yield, error, type, rawget, setmetatable
-- call -> the coroutine it belongs to; weak, so a finished route leaves
-- nothing behind.
local owner = setmetatable({}, { __mode = "k" })

-- Raises at the script's line (level 3: the method's caller).
local function command(call, name, ...)
  local co = owner[call]
  if co == nil then
    error("call:" .. name .. ": not called on a call (write call:" .. name .. "(...), with a colon)", 3)
  end
  if co ~= running() then
    error("call:" .. name .. ": call methods work only in the route's own coroutine, not in one the script created", 3)
  end
  local cmd, err = build(name, ...)
  if cmd == nil then
    error("call:" .. name .. ": " .. err, 3)
  end
  return cmd
end

local Call = {}
Call.__index = Call

function Call:ring(...) local c = command(self, "ring", ...) return yield(c) end
function Call:answer(...) local c = command(self, "answer", ...) return yield(c) end
function Call:play(what, opts) local c = command(self, "play", what, opts) return yield(c) end
function Call:read_digits(opts) local c = command(self, "read_digits", opts) return yield(c) end
function Call:send_dtmf(digits) local c = command(self, "send_dtmf", digits) return yield(c) end
function Call:record(opts) local c = command(self, "record", opts) return yield(c) end
function Call:stop_record(...) local c = command(self, "stop_record", ...) return yield(c) end
function Call:echo(...) local c = command(self, "echo", ...) return yield(c) end
function Call:dial(target, opts) local c = command(self, "dial", target, opts) return yield(c) end
function Call:queue(name, opts) local c = command(self, "queue", name, opts) return yield(c) end
function Call:transfer(target) local c = command(self, "transfer", target) return yield(c) end
function Call:hangup(cause) local c = command(self, "hangup", cause) return yield(c) end
function Call:opt_out(reason) local c = command(self, "opt_out", reason) return yield(c) end
local function lang_of(call)
  local vars = rawget(call, "vars")
  return type(vars) == "table" and vars.lang or nil
end
function Call:say_number(n, opts) local c = command(self, "say_number", n, opts, lang_of(self)) return yield(c) end
function Call:say_amount(v, opts) local c = command(self, "say_amount", v, opts, lang_of(self)) return yield(c) end
function Call:say_digits(s, opts) local c = command(self, "say_digits", s, opts, lang_of(self)) return yield(c) end
function Call:say_date(d, opts) local c = command(self, "say_date", d, opts, lang_of(self)) return yield(c) end
function Call:say_time(t, opts) local c = command(self, "say_time", t, opts, lang_of(self)) return yield(c) end
function Call:set_var(name, value)
  local c = command(self, "set_var", name, value)
  local ok, err = yield(c)
  local vars = rawget(self, "vars")
  if ok and type(vars) == "table" then
    vars[name] = value
  end
  return ok, err
end

return function(route, call, ...)
  owner[call] = running()
  setmetatable(call, Call)
  return route(call, ...)
end
"#;

/// Installs the call methods in a fresh state (before any script runs).
pub(crate) fn install(lua: &Lua) -> mlua::Result<()> {
    let build = lua.create_function(|lua, (name, args): (LuaString, MultiValue)| {
        let name = name.to_str()?;
        match command(&name, &args) {
            Ok(cmd) => Ok((Value::UserData(lua.create_any_userdata(cmd)?), Value::Nil)),
            Err(why) => Ok((Value::Nil, Value::String(lua.create_string(why)?))),
        }
    })?;
    let run: Function = lua
        .load(LIB)
        .set_name("=host")
        .set_mode(ChunkMode::Text)
        .call(build)?;
    lua.set_named_registry_value(RUN_KEY, run)
}

fn arg(args: &MultiValue, i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Nil)
}

fn kind_of(v: &Value) -> &'static str {
    v.type_name()
}

/// An options table: `nil` or a table.
fn options(v: &Value, what: &str) -> Result<Option<mlua::Table>, String> {
    match v {
        Value::Nil => Ok(None),
        Value::Table(t) => Ok(Some(t.clone())),
        other => Err(format!(
            "{what} must be a table or nil, got {}",
            kind_of(other)
        )),
    }
}

fn field(t: Option<&mlua::Table>, key: &str) -> Value {
    // Raw: no script metamethod runs inside the host's argument checks.
    t.and_then(|t| t.raw_get(key).ok()).unwrap_or(Value::Nil)
}

/// An integer in `lo..=hi` (a float without fraction counts), or `default`
/// when absent.
fn int_in(v: &Value, name: &str, lo: i64, hi: i64, default: Option<i64>) -> Result<i64, String> {
    let n = match *v {
        Value::Nil => {
            return default.ok_or_else(|| format!("{name} is required ({lo}..{hi})"));
        }
        Value::Integer(i) => Some(i),
        Value::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        _ => None,
    };
    match n {
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
        Some(n) => Err(format!("{name} must be {lo}..{hi}, got {n}")),
        None => Err(format!("{name} must be an integer, got {}", kind_of(v))),
    }
}

fn string(v: &Value, name: &str) -> Result<String, String> {
    match v {
        Value::String(s) => s
            .to_str()
            .map(|s| s.to_owned())
            .map_err(|_| format!("{name} must be valid UTF-8")),
        other => Err(format!("{name} must be a string, got {}", kind_of(other))),
    }
}

fn u32_of(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A relative path under a directory of the switch (prompts, recordings):
/// `/`-separated parts of `[A-Za-z0-9_.-]`, none empty, `.` or `..`.
fn relative_path(v: &Value, name: &str) -> Result<String, String> {
    let s = string(v, name)?;
    if is_relative_path(&s) {
        Ok(s)
    } else {
        Err(format!(
            "{name} must be a relative path of letters, digits, '_', '.', '-' and '/' (no '..', at most {MAX_NAME} bytes), got \"{}\"",
            s.escape_debug()
        ))
    }
}

/// The rule of [`relative_path`], also for prompt names hooks return.
pub(crate) fn is_relative_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        })
}

/// 1..`max` bytes of `[A-Za-z0-9_.-]`: queue and skill names.
fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A queue name, also for queues hooks return.
pub(crate) fn is_queue_name(s: &str) -> bool {
    is_name(s, MAX_QUEUE_NAME)
}

fn play_item(v: &Value, i: usize) -> Result<PlayItem, String> {
    let at = format!("item {i}");
    match v {
        Value::String(_) => Ok(PlayItem::Prompt {
            name: relative_path(v, &format!("{at} (a prompt name)"))?,
        }),
        Value::Table(t) => {
            let t = Some(t);
            if !field(t, "silence").is_nil() {
                let ms = int_in(
                    &field(t, "silence"),
                    &format!("{at}: silence"),
                    1,
                    MAX_ITEM_MS,
                    None,
                )?;
                return Ok(PlayItem::Silence { ms: u32_of(ms) });
            }
            let tone = field(t, "tone");
            if tone.is_nil() {
                return Err(format!(
                    "{at} must be a prompt name, {{silence = ms}} or {{tone = ..., ms = n}}"
                ));
            }
            let region = match field(t, "region") {
                Value::Nil => ToneRegion::default(),
                r => match string(&r, &format!("{at}: region"))?.as_str() {
                    "cn" => ToneRegion::China,
                    "na" => ToneRegion::NorthAmerica,
                    other => {
                        return Err(format!(
                            "{at}: region must be \"cn\" or \"na\", got \"{}\"",
                            other.escape_debug()
                        ));
                    }
                },
            };
            let tone = match string(&tone, &format!("{at}: tone"))?.as_str() {
                "ringback" => Tone::Ringback(region),
                "busy" => Tone::Busy(region),
                other => {
                    return Err(format!(
                        "{at}: tone must be \"ringback\" or \"busy\", got \"{}\"",
                        other.escape_debug()
                    ));
                }
            };
            let ms = int_in(&field(t, "ms"), &format!("{at}: ms"), 1, MAX_ITEM_MS, None)?;
            Ok(PlayItem::Tone {
                tone,
                ms: u32_of(ms),
            })
        }
        other => Err(format!(
            "{at} must be a prompt name or a table, got {}",
            kind_of(other)
        )),
    }
}

fn play(args: &MultiValue) -> Result<Command, String> {
    let items = match arg(args, 0) {
        v @ Value::String(_) => vec![play_item(v, 1)?],
        Value::Table(list) => {
            let len = list.raw_len();
            if len == 0 || len > MAX_PLAY_ITEMS {
                return Err(format!(
                    "the playlist must hold 1..{MAX_PLAY_ITEMS} items, got {len}"
                ));
            }
            (1..=len)
                .map(|i| play_item(&list.raw_get::<Value>(i).unwrap_or(Value::Nil), i))
                .collect::<Result<_, _>>()?
        }
        other => {
            return Err(format!(
                "argument #1 must be a prompt name or a list, got {}",
                kind_of(other)
            ));
        }
    };
    let opts = options(arg(args, 1), "argument #2 (options)")?;
    let barge_in = match field(opts.as_ref(), "barge_in") {
        Value::Nil => false,
        Value::Boolean(b) => b,
        other => {
            return Err(format!(
                "barge_in must be a boolean, got {}",
                kind_of(&other)
            ));
        }
    };
    Ok(Command::Play { items, barge_in })
}

fn read_digits(args: &MultiValue) -> Result<Command, String> {
    let opts = options(arg(args, 0), "argument #1 (options)")?;
    let opts = opts.as_ref();
    let max = int_in(&field(opts, "max"), "max", 1, MAX_DIGITS, Some(1))?;
    let timeout_ms = int_in(
        &field(opts, "timeout_ms"),
        "timeout_ms",
        100,
        120_000,
        Some(5000),
    )?;
    let terminator = match field(opts, "terminator") {
        Value::Nil => None,
        v => {
            let s = string(&v, "terminator")?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                _ => {
                    return Err(format!(
                        "terminator must be one of 0-9, * or #, got \"{}\"",
                        s.escape_debug()
                    ));
                }
            }
        }
    };
    Ok(Command::ReadDigits {
        max: u32_of(max),
        timeout_ms: u32_of(timeout_ms),
        terminator,
    })
}

fn send_dtmf(args: &MultiValue) -> Result<Command, String> {
    let digits = string(arg(args, 0), "argument #1 (digits)")?;
    let ok = !digits.is_empty()
        && digits.len() <= MAX_DIGITS as usize
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"*#ABCD".contains(&b));
    if !ok {
        return Err(format!(
            "digits must be 1..{MAX_DIGITS} of 0-9, *, #, A-D, got \"{}\"",
            digits.escape_debug()
        ));
    }
    Ok(Command::SendDtmf { digits })
}

fn record(args: &MultiValue) -> Result<Command, String> {
    let opts = match arg(args, 0) {
        Value::Table(t) => t.clone(),
        other => {
            return Err(format!(
                "argument #1 must be a table {{file = ..., mode = ...}}, got {}",
                kind_of(other)
            ));
        }
    };
    let opts = Some(&opts);
    let file = relative_path(&field(opts, "file"), "file")?;
    let mode = match field(opts, "mode") {
        Value::Nil => RecordMode::default(),
        v => match string(&v, "mode")?.as_str() {
            "stereo" => RecordMode::Stereo,
            "mono" => RecordMode::Mono,
            other => {
                return Err(format!(
                    "mode must be \"stereo\" or \"mono\", got \"{}\"",
                    other.escape_debug()
                ));
            }
        },
    };
    Ok(Command::Record { file, mode })
}

/// Where `dial` and `transfer` send a call: a registered user,
/// `pstn:NUMBER` or `trunk:NAME:NUMBER`.
fn target(v: &Value) -> Result<String, String> {
    let target = string(v, "argument #1 (target)")?;
    let ok = !target.is_empty()
        && target.len() <= MAX_TARGET
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+*#_.-:".contains(&b));
    if !ok {
        return Err(format!(
            "target must be 1..{MAX_TARGET} letters, digits or +*#_.-: (pstn:NUMBER, trunk:NAME:NUMBER), got \"{}\"",
            target.escape_debug()
        ));
    }
    Ok(target)
}

fn dial(args: &MultiValue) -> Result<Command, String> {
    let target = target(arg(args, 0))?;
    let opts = options(arg(args, 1), "argument #2 (options)")?;
    let timeout_s = int_in(
        &field(opts.as_ref(), "timeout_s"),
        "timeout_s",
        1,
        MAX_DIAL_S,
        Some(30),
    )?;
    Ok(Command::Dial {
        target,
        timeout_s: u32_of(timeout_s),
    })
}

fn transfer(args: &MultiValue) -> Result<Command, String> {
    let target = target(arg(args, 0))?;
    Ok(Command::Transfer { target })
}

/// `skills`: skill name -> minimum level. Read raw (no `__pairs`), and at
/// most one entry past the limit.
fn skills(v: &Value) -> Result<BTreeMap<String, u8>, String> {
    let t = match v {
        Value::Nil => return Ok(BTreeMap::new()),
        Value::Table(t) => t,
        other => {
            return Err(format!(
                "skills must be a table of skill name = level, got {}",
                kind_of(other)
            ));
        }
    };
    let mut out = BTreeMap::new();
    for pair in t.pairs::<Value, Value>() {
        let (key, level) = pair.map_err(|e| format!("skills: {e}"))?;
        if out.len() == MAX_SKILLS {
            return Err(format!("skills must hold at most {MAX_SKILLS} entries"));
        }
        let name = match &key {
            Value::String(s) => s.to_str().ok().map(|s| s.to_owned()),
            _ => None,
        };
        let name = match name {
            Some(name) if is_name(&name, MAX_SKILL_NAME) => name,
            Some(name) => {
                return Err(format!(
                    "skills: a skill name must be 1..{MAX_SKILL_NAME} letters, digits or _.-, got \"{}\"",
                    name.escape_debug()
                ));
            }
            None => {
                return Err(format!(
                    "skills: the keys must be skill names ({{ spanish = 50 }}), got {}",
                    key_kind(&key)
                ));
            }
        };
        let level = int_in(&level, &format!("skills.{name}"), 1, MAX_SKILL_LEVEL, None)?;
        out.insert(name, u8::try_from(level).unwrap_or(u8::MAX));
    }
    Ok(out)
}

/// A table key that is not a name, for an error message.
fn key_kind(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("integer {i} (a list, not a table of names)"),
        Value::String(_) => "a string that is not UTF-8".to_owned(),
        other => kind_of(other).to_owned(),
    }
}

fn queue(args: &MultiValue) -> Result<Command, String> {
    let queue = string(arg(args, 0), "argument #1 (queue name)")?;
    if !is_queue_name(&queue) {
        return Err(format!(
            "the queue name must be 1..{MAX_QUEUE_NAME} letters, digits or _.-, got \"{}\"",
            queue.escape_debug()
        ));
    }
    let opts = options(arg(args, 1), "argument #2 (options)")?;
    let opts = opts.as_ref();
    let priority = int_in(
        &field(opts, "priority"),
        "priority",
        0,
        MAX_QUEUE_PRIORITY,
        Some(0),
    )?;
    let skills = skills(&field(opts, "skills"))?;
    Ok(Command::Queue {
        queue,
        priority: u8::try_from(priority).unwrap_or(u8::MAX),
        skills,
    })
}

fn set_var(args: &MultiValue) -> Result<Command, String> {
    let name = string(arg(args, 0), "argument #1 (name)")?;
    let ok = !name.is_empty()
        && name.len() <= MAX_VAR_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        return Err(format!(
            "the name must be 1..{MAX_VAR_NAME} letters, digits or _.-, got \"{}\"",
            name.escape_debug()
        ));
    }
    let value = string(arg(args, 1), "argument #2 (value)")?;
    if value.len() > MAX_VAR_VALUE {
        return Err(format!(
            "the value must be at most {MAX_VAR_VALUE} bytes, got {}",
            value.len()
        ));
    }
    Ok(Command::SetVar { name, value })
}

/// `call:opt_out(reason?)`: the reason kept with the number (at most a
/// variable's length).
fn opt_out(args: &MultiValue) -> Result<Command, String> {
    let reason = match arg(args, 0) {
        Value::Nil => "asked not to be called (key press)".to_owned(),
        v => string(v, "argument #1 (reason)")?,
    };
    if reason.is_empty() || reason.len() > MAX_VAR_VALUE {
        return Err(format!(
            "the reason must be 1..{MAX_VAR_VALUE} bytes, got {}",
            reason.len()
        ));
    }
    Ok(Command::OptOut { reason })
}

fn hangup(args: &MultiValue) -> Result<Command, String> {
    let cause = match arg(args, 0) {
        Value::Nil => HangupCause::default(),
        v => {
            let s = string(v, "argument #1 (cause)")?;
            HangupCause::parse(&s).ok_or_else(|| {
                format!(
                    "cause must be \"normal\", \"busy\", \"rejected\", \"unavailable\", \"not_found\" or \"failure\", got \"{}\"",
                    s.escape_debug()
                )
            })?
        }
    };
    Ok(Command::Hangup { cause })
}

/// Builds and checks the command of method `name`; the error says which
/// argument is wrong.
fn command(name: &str, args: &MultiValue) -> Result<Command, String> {
    let none = |cmd: Command| {
        if args.iter().any(|v| !v.is_nil()) {
            Err("takes no arguments".to_owned())
        } else {
            Ok(cmd)
        }
    };
    match name {
        "ring" => none(Command::Ring),
        "answer" => none(Command::Answer),
        "stop_record" => none(Command::StopRecord),
        "echo" => none(Command::Echo),
        "play" => play(args),
        "read_digits" => read_digits(args),
        "send_dtmf" => send_dtmf(args),
        "record" => record(args),
        "dial" => dial(args),
        "transfer" => transfer(args),
        "queue" => queue(args),
        "set_var" => set_var(args),
        "hangup" => hangup(args),
        "opt_out" => opt_out(args),
        say if say.starts_with("say_") => crate::say::command(&say[4..], args),
        other => Err(format!("unknown call method {other}")),
    }
}

/// The route state a version keeps, see the module docs.
pub(crate) struct RouteState {
    lua: Mutex<LuaState>,
    /// Routes assigned to this state and not yet dropped.
    routes: AtomicUsize,
}

impl fmt::Debug for RouteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteState")
            .field("routes", &self.routes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many route states and routes a version has, and their memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteStats {
    /// Route states taking new routes.
    pub states: usize,
    /// Live routes on them.
    pub routes: usize,
    /// Bytes the Lua states of those states use.
    pub memory: usize,
}

/// The route states of one version.
#[derive(Debug)]
pub(crate) struct RouteStates {
    /// `None` until built, and again after a state is retired.
    slots: Mutex<Vec<Option<Arc<RouteState>>>>,
}

impl RouteStates {
    pub fn new(cap: usize) -> RouteStates {
        RouteStates {
            slots: Mutex::new(vec![None; cap.max(1)]),
        }
    }

    /// The state for a new route: the least loaded, or a new one if every
    /// existing state is busy and there is room. Building under the lock
    /// keeps two new routes from building two states where one would do; it
    /// happens at most once per slot.
    fn assign(
        &self,
        build: impl FnOnce() -> Result<LuaState, LoadError>,
    ) -> Result<Arc<RouteState>, String> {
        let mut slots = lock(&self.slots);
        let least = slots
            .iter()
            .flatten()
            .min_by_key(|s| s.routes.load(Ordering::Relaxed))
            .cloned();
        let state = match (least, slots.iter().position(Option::is_none)) {
            (Some(s), _) if s.routes.load(Ordering::Relaxed) == 0 => s,
            (least, Some(free)) => match build() {
                Ok(lua) => {
                    let s = Arc::new(RouteState {
                        lua: Mutex::new(lua),
                        routes: AtomicUsize::new(0),
                    });
                    slots[free] = Some(Arc::clone(&s));
                    s
                }
                Err(e) => match least {
                    Some(s) => {
                        tracing::warn!(error = %e, "could not build another route state; sharing an existing one");
                        s
                    }
                    None => return Err(e.to_string()),
                },
            },
            (Some(s), None) => s,
            (None, None) => return Err("no route state".to_owned()),
        };
        state.routes.fetch_add(1, Ordering::Relaxed);
        Ok(state)
    }

    /// Takes `state` off new work; its routes keep it alive to their end.
    pub fn retire(&self, state: &Arc<RouteState>) {
        for slot in lock(&self.slots).iter_mut() {
            if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, state)) {
                *slot = None;
            }
        }
    }

    pub fn stats(&self) -> RouteStats {
        let states: Vec<_> = lock(&self.slots).iter().flatten().cloned().collect();
        let mut stats = RouteStats::default();
        for s in states {
            stats.states += 1;
            stats.routes += s.routes.load(Ordering::Relaxed);
            stats.memory += lock(&s.lua).lua().used_memory();
        }
        stats
    }
}

/// Which reply a yielded command waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Waiting {
    Start,
    Ring,
    Answer,
    Play,
    ReadDigits,
    SendDtmf,
    Record,
    StopRecord,
    Echo,
    Dial,
    Queue,
    Transfer,
    SetVar { name: String, value: String },
    Hangup,
    OptOut,
}

impl Waiting {
    fn of(cmd: &Command) -> Waiting {
        match cmd {
            Command::Ring => Waiting::Ring,
            Command::Answer => Waiting::Answer,
            Command::Play { .. } => Waiting::Play,
            Command::ReadDigits { .. } => Waiting::ReadDigits,
            Command::SendDtmf { .. } => Waiting::SendDtmf,
            Command::Record { .. } => Waiting::Record,
            Command::StopRecord => Waiting::StopRecord,
            Command::Echo => Waiting::Echo,
            Command::Dial { .. } => Waiting::Dial,
            Command::Queue { .. } => Waiting::Queue,
            Command::Transfer { .. } => Waiting::Transfer,
            Command::SetVar { name, value } => Waiting::SetVar {
                name: name.clone(),
                value: value.clone(),
            },
            Command::Hangup { .. } => Waiting::Hangup,
            Command::OptOut { .. } => Waiting::OptOut,
            // `Command` may grow; the builder never makes what we do not know.
            _ => Waiting::Hangup,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Waiting::Start => "the first resume (None)",
            Waiting::Ring => "the reply to ring",
            Waiting::Answer => "the reply to answer",
            Waiting::Play => "the reply to play",
            Waiting::ReadDigits => "the reply to read_digits",
            Waiting::SendDtmf => "the reply to send_dtmf",
            Waiting::Record => "the reply to record",
            Waiting::StopRecord => "the reply to stop_record",
            Waiting::Echo => "the reply to echo",
            Waiting::Dial => "the reply to dial",
            Waiting::Queue => "the reply to queue",
            Waiting::Transfer => "the reply to transfer",
            Waiting::SetVar { .. } => "the reply to set_var",
            Waiting::Hangup => "the reply to hangup",
            Waiting::OptOut => "the reply to opt_out",
        }
    }
}

/// What a reply turns into on the Lua side.
enum Resume {
    /// Start the coroutine.
    Start,
    /// Return these from the waiting method.
    With(Reply),
    /// End the route without running more Lua.
    End,
}

/// The results of a call method, built from its reply event.
enum Reply {
    True,
    Nil,
    Str(String),
    Digits(String, DigitsEnd),
    /// How the wait ended, and the agent or recording (or `nil`).
    Queued(QueueOutcome, Option<String>),
    Failed(String),
}

fn digits_end(e: DigitsEnd) -> &'static str {
    match e {
        DigitsEnd::Max => "max",
        DigitsEnd::Terminator => "terminator",
        DigitsEnd::Timeout => "timeout",
    }
}

fn outcome(o: DialOutcome) -> String {
    o.as_str().to_owned()
}

/// One call's route: a coroutine of `route(call)` pinned to the version it
/// started on. `Send`: resume it from any thread, one resume at a time.
pub struct Route {
    /// Kept so the version (and its sources) outlive a reload.
    version: Arc<Version>,
    state: Arc<RouteState>,
    thread: Option<Thread>,
    /// Until the first resume builds the call table.
    info: Option<CallInfo>,
    id: u64,
    vars: BTreeMap<String, String>,
    waiting: Waiting,
    done: bool,
    /// A broadcast flow (`broadcast.NAME(call, contact)`) rather than
    /// `route(call)`.
    broadcast: Option<(String, crate::types::Contact)>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("id", &self.id)
            .field("version", &self.version.info().number)
            .field("waiting", &self.waiting)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Route {
    pub(crate) fn start(
        version: Arc<Version>,
        states: &RouteStates,
        build: impl FnOnce() -> Result<LuaState, LoadError>,
        info: CallInfo,
    ) -> Result<Route, HookError> {
        let state = states.assign(build).map_err(|why| HookError {
            file: None,
            line: None,
            function: HOOK,
            kind: HookErrorKind::Unavailable(why),
        })?;
        Ok(Route {
            version,
            state,
            thread: None,
            id: info.id,
            vars: info.vars.clone(),
            info: Some(info),
            waiting: Waiting::Start,
            done: false,
            broadcast: None,
        })
    }

    pub(crate) fn set_broadcast(&mut self, name: &str, contact: crate::types::Contact) {
        self.broadcast = Some((name.to_owned(), contact));
    }

    /// The call's id, as given in [`CallInfo`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The version the route runs on (the one it started on).
    pub fn version(&self) -> &Arc<Version> {
        &self.version
    }

    /// The call variables so far: those given at the start and every
    /// `call:set_var` the coordinator confirmed. For the CDR.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Whether the route is over (every further resume is [`Step::Done`]).
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn unexpected(&self, got: &Option<Event>) -> HookError {
        let got = match got {
            None => "None".to_owned(),
            Some(e) => format!("{e:?}"),
        };
        HookError {
            file: None,
            line: None,
            function: HOOK,
            kind: HookErrorKind::UnexpectedReply {
                expected: self.waiting.name(),
                got,
            },
        }
    }

    /// Checks `reply` against what the route waits for.
    fn accept(&mut self, reply: Option<Event>) -> Result<Resume, HookError> {
        let reply = match (&self.waiting, reply) {
            (Waiting::Start, None) => return Ok(Resume::Start),
            (Waiting::Start, got) | (_, got @ None) => return Err(self.unexpected(&got)),
            (_, Some(e)) => e,
        };
        let r = match (&self.waiting, reply) {
            (_, Event::HungUp { .. }) => Resume::End,
            (_, Event::Failed { reason }) => Resume::With(Reply::Failed(reason)),
            (Waiting::Ring, Event::Ringing)
            | (Waiting::Answer, Event::Answered)
            | (Waiting::SendDtmf, Event::DtmfSent)
            | (Waiting::Echo, Event::EchoDone)
            | (Waiting::Transfer, Event::Transferred) => Resume::With(Reply::True),
            (Waiting::Play, Event::PlaybackDone { interrupted_by }) => {
                Resume::With(match interrupted_by {
                    Some(d) => Reply::Str(d.to_string()),
                    None => Reply::Nil,
                })
            }
            (Waiting::ReadDigits, Event::Digits { digits, ended }) => {
                Resume::With(Reply::Digits(digits, ended))
            }
            (Waiting::Record, Event::RecordingStarted { path }) => Resume::With(Reply::Str(path)),
            (Waiting::StopRecord, Event::RecordingStopped { path }) => {
                Resume::With(path.map_or(Reply::Nil, Reply::Str))
            }
            (Waiting::Dial, Event::DialDone { outcome: o }) => Resume::With(Reply::Str(outcome(o))),
            (Waiting::OptOut, Event::OptedOut { number }) => Resume::With(Reply::Str(number)),
            (Waiting::Queue, Event::QueueDone { outcome, detail }) => {
                Resume::With(Reply::Queued(outcome, detail))
            }
            (Waiting::SetVar { name, value }, Event::VarSet) => {
                self.vars.insert(name.clone(), value.clone());
                Resume::With(Reply::True)
            }
            (_, other) => return Err(self.unexpected(&Some(other))),
        };
        Ok(r)
    }

    /// Runs the route to its next command. The first call passes `None`;
    /// each later call passes the reply event to the command the previous
    /// call returned. A [`Event::Failed`] reply makes the method return
    /// `nil, reason` in Lua; [`Event::HungUp`] ends the route without
    /// running more Lua.
    ///
    /// An error ends the route: a script error, a limit (file, line and
    /// hook `route` named), or a reply that does not answer the command
    /// ([`HookErrorKind::UnexpectedReply`]). After the end every resume is
    /// [`Step::Done`].
    pub fn resume(&mut self, reply: Option<Event>) -> Result<Step, HookError> {
        if self.done {
            return Ok(Step::Done);
        }
        let result = self.accept(reply).and_then(|r| match r {
            Resume::End => Ok(Step::Done),
            r => self.run(r),
        });
        if !matches!(result, Ok(Step::Command(_))) {
            self.finish();
        }
        result
    }

    fn run(&mut self, r: Resume) -> Result<Step, HookError> {
        let state = Arc::clone(&self.state);
        let lua_state = lock(&state.lua);
        let lua = lua_state.lua();
        let entry = match &self.broadcast {
            Some((name, _)) => lua_state.broadcast(name),
            None => lua_state.route(),
        };
        let Some(route) = entry else {
            return Err(HookError {
                file: None,
                line: None,
                function: HOOK,
                kind: HookErrorKind::Missing,
            });
        };
        let setup = |e: mlua::Error| lua_state.failure(HOOK, &route.at, &e);
        let args = match r {
            Resume::Start => {
                let info = self.info.take().unwrap_or_default();
                let call = call_table(lua, &info).map_err(setup)?;
                let run: Function = lua.named_registry_value(RUN_KEY).map_err(setup)?;
                let thread = lua.create_thread(run).map_err(setup)?;
                self.thread = Some(thread);
                let mut args = MultiValue::from_iter([
                    Value::Function(route.func.clone()),
                    Value::Table(call),
                ]);
                if let Some((_, contact)) = &self.broadcast {
                    args.push_back(Value::Table(
                        crate::convert::contact(lua, contact).map_err(setup)?,
                    ));
                }
                args
            }
            Resume::With(reply) => reply_values(lua, reply).map_err(setup)?,
            Resume::End => return Ok(Step::Done),
        };
        let Some(thread) = &self.thread else {
            return Ok(Step::Done);
        };
        let limits = lua_state.limits();
        lua_state.ctx().arm(limits.budget);
        let result = lua
            .set_memory_limit(limits.memory)
            .and_then(|_| thread.resume::<MultiValue>(args));
        let _ = lua.set_memory_limit(0);
        let values = match result {
            Ok(values) => values,
            Err(e) => {
                let err = lua_state.failure(HOOK, &route.at, &e);
                if let HookErrorKind::MemoryLimit { .. } = err.kind {
                    drop(lua_state);
                    self.version.retire_route_state(&state);
                }
                return Err(err);
            }
        };
        if !thread.is_resumable() {
            return Ok(Step::Done);
        }
        let cmd = match values.front() {
            Some(Value::UserData(ud)) => taken(ud),
            _ => None,
        };
        match cmd {
            Some(cmd) => {
                self.waiting = Waiting::of(&cmd);
                Ok(Step::Command(cmd))
            }
            None => Err(HookError {
                file: Some(route.at.file.clone()),
                line: route.at.line,
                function: HOOK,
                kind: HookErrorKind::Runtime(
                    "the route yielded outside a call method (coroutine.yield in route's own coroutine)"
                        .to_owned(),
                ),
            }),
        }
    }

    /// Ends the route: drops its coroutine (under the state's lock, so no
    /// resume of another route sees it half-dropped) for the collector.
    fn finish(&mut self) {
        self.done = true;
        if let Some(thread) = self.thread.take() {
            let _held = lock(&self.state.lua);
            drop(thread);
        }
    }
}

fn taken(ud: &AnyUserData) -> Option<Command> {
    if ud.is::<Command>() {
        ud.take::<Command>().ok()
    } else {
        None
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        self.finish();
        self.state.routes.fetch_sub(1, Ordering::Relaxed);
    }
}

fn call_table(lua: &Lua, info: &CallInfo) -> mlua::Result<mlua::Table> {
    let t = lua.create_table_with_capacity(0, 4)?;
    t.raw_set("id", info.id)?;
    t.raw_set("from", info.from.as_str())?;
    t.raw_set("to", info.to.as_str())?;
    let vars = lua.create_table_with_capacity(0, info.vars.len())?;
    for (k, v) in &info.vars {
        vars.raw_set(k.as_str(), v.as_str())?;
    }
    t.raw_set("vars", vars)?;
    Ok(t)
}

fn reply_values(lua: &Lua, reply: Reply) -> mlua::Result<MultiValue> {
    let s = |text: &str| lua.create_string(text).map(Value::String);
    Ok(match reply {
        Reply::True => MultiValue::from_iter([Value::Boolean(true)]),
        Reply::Nil => MultiValue::from_iter([Value::Nil]),
        Reply::Str(text) => MultiValue::from_iter([s(&text)?]),
        Reply::Digits(digits, ended) => MultiValue::from_iter([s(&digits)?, s(digits_end(ended))?]),
        Reply::Queued(outcome, detail) => MultiValue::from_iter([
            s(outcome.as_str())?,
            match detail {
                Some(d) => s(&d)?,
                None => Value::Nil,
            },
        ]),
        Reply::Failed(reason) => MultiValue::from_iter([Value::Nil, s(&reason)?]),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_is_send() {
        fn send<T: Send>() {}
        send::<super::Route>();
    }
}
