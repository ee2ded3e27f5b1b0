//! The sandbox: only the allowed libraries, text-only `load`, `require`
//! inside `lib/` only; every way out is absent or refused.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::sync::Arc;

use common::ScriptDir;
use waihu_script::{LoadError, LoadErrorKind, NoServices, VersionInfo, check};

/// Loads a directory holding `main.lua` = `code` (and a `lib/`).
fn run(code: &str) -> Result<VersionInfo, LoadError> {
    let dir = ScriptDir::new("sandbox");
    dir.write("lib/util/phone.lua", "return { ok = true }\n");
    dir.write("main.lua", code);
    check(&dir.config(), Arc::new(NoServices))
}

fn ok(code: &str) {
    if let Err(e) = run(code) {
        panic!("{code}\n-> {e}");
    }
}

/// Asserts `code` fails at load with a runtime error containing `text`.
fn refused(code: &str, text: &str) {
    match run(code) {
        Ok(_) => panic!("{code}: not refused"),
        Err(e) => {
            let LoadErrorKind::Runtime(message) = &e.kind else {
                panic!("{code}: {e}")
            };
            assert!(message.contains(text), "{code}: {message}");
            assert_eq!(e.file, "scripts/main.lua", "{e}");
            assert_eq!(e.line, Some(1), "{e}");
        }
    }
}

#[test]
fn io_is_absent() {
    ok("assert(io == nil)");
    refused(
        "io.open('/etc/passwd')",
        "attempt to index a nil value (global 'io')",
    );
}

#[test]
fn os_keeps_only_time_date_clock() {
    ok(
        "assert(type(os.time()) == 'number' and type(os.date('%Y')) == 'string' and type(os.clock()) == 'number')",
    );
    for name in [
        "execute",
        "exit",
        "getenv",
        "remove",
        "rename",
        "tmpname",
        "setlocale",
        "difftime",
    ] {
        ok(&format!("assert(os.{name} == nil, '{name}')"));
    }
    refused(
        "os.execute('touch /tmp/pwned')",
        "attempt to call a nil value (field 'execute')",
    );
    refused("os.exit(1)", "attempt to call a nil value (field 'exit')");
    refused(
        "local home = os.getenv('HOME')",
        "attempt to call a nil value (field 'getenv')",
    );
}

#[test]
fn no_other_libraries() {
    ok("assert(debug == nil and package == nil and ffi == nil and jit == nil)");
    ok("assert(string and table and math and utf8 and coroutine)");
}

#[test]
fn dofile_and_loadfile_are_absent() {
    ok("assert(dofile == nil and loadfile == nil)");
    refused(
        "dofile('/etc/passwd')",
        "attempt to call a nil value (global 'dofile')",
    );
    refused(
        "loadfile('/etc/passwd')",
        "attempt to call a nil value (global 'loadfile')",
    );
}

#[test]
fn string_dump_is_absent() {
    ok("assert(string.dump == nil and ('x').dump == nil)");
    refused(
        "local b = string.dump(function() end)",
        "attempt to call a nil value (field 'dump')",
    );
}

#[test]
fn load_refuses_bytecode() {
    // A precompiled chunk starts with ESC "Lua"; text mode refuses it.
    ok(r#"
local f, err = load("\27Lua\84\0\25\147\13\10\26\10")
assert(f == nil and err:find("binary chunk"), err)
local g, err2 = load("return 1", "chunk", "b")
assert(g == nil and err2:find("text chunks"), err2)
"#);
}

#[test]
fn load_of_text_honours_name_and_environment() {
    ok(r#"
assert(load("return 1 + 1")() == 2)
assert(load("return x", "chunk", "t", { x = 5 })() == 5)
assert(load("return tostring", "chunk", "t", nil)() == nil, "explicit nil env is empty")
local f, err = load("return +", "=mychunk")
assert(f == nil and err:find("mychunk:1:"), err)
local parts, i = { "return ", "4", "2" }, 0
assert(load(function() i = i + 1; return parts[i] end)() == 42)
"#);
}

#[test]
fn require_stays_inside_lib() {
    ok("assert(require('util.phone').ok)");
    refused("require('../x')", "is not a module name");
    refused("require('/etc/passwd')", "is not a module name");
    refused("require('util/phone')", "is not a module name");
    refused("require('os')", "module 'os' not found in scripts/lib/");
    refused("require('io')", "module 'io' not found");
    refused("require('main')", "module 'main' not found");
}

#[test]
fn require_cycles_are_refused() {
    let dir = ScriptDir::new("require_cycle");
    dir.write("lib/a.lua", "return require('b')\n");
    dir.write("lib/b.lua", "return require('a')\n");
    dir.write("main.lua", "require('a')\n");
    let err = check(&dir.config(), Arc::new(NoServices)).unwrap_err();
    assert!(
        err.to_string().contains("module 'a' requires itself"),
        "{err}"
    );
}

#[test]
fn collectgarbage_cannot_stop_the_collector() {
    ok("assert(collectgarbage('count') > 0); collectgarbage(); collectgarbage('step')");
    refused(
        "collectgarbage('stop')",
        "collectgarbage('stop') is not allowed",
    );
    refused("collectgarbage('generational')", "is not allowed");
}

#[test]
fn wrapped_pcall_stays_yieldable() {
    // The budget wrappers must not break yielding through pcall: the
    // call-flow hook to come yields from inside protected code.
    ok(r##"
local co = coroutine.create(function()
  local ok, v = pcall(function() return coroutine.yield("waiting") end)
  assert(ok and v == "event", tostring(v))
  return "done"
end)
local _, first = coroutine.resume(co)
assert(first == "waiting", tostring(first))
local _, second = coroutine.resume(co, "event")
assert(second == "done", tostring(second))
assert(select("#", pcall(function() return 1, nil, 3 end)) == 4, "results pass through whole")
"##);
}

#[test]
fn finalizers_are_refused() {
    ok("local t = setmetatable({}, { __index = function() return 1 end }); assert(t.x == 1)");
    refused(
        "setmetatable({}, { __gc = function() while true do end end })",
        "__gc finalizers are not allowed",
    );
}

#[test]
fn agent_scripts_are_defined_only_at_load() {
    let dir = ScriptDir::new("define_late");
    dir.write(
        "main.lua",
        "function campaign.select_mode(c)\n  agent_script.define { name = 'late' }\nend\n",
    );
    let host = waihu_script::ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let err = host
        .current()
        .select_mode(&common::contact(&[]))
        .unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(
        err.to_string()
            .contains("only be called while the scripts load"),
        "{err}"
    );
}

#[test]
fn host_tables_are_there() {
    ok(r#"
for _, t in ipairs({ campaign, retention, blacklist, agent_script, log, dnc }) do
  assert(type(t) == "table")
end
assert(blacklist.allow().verdict == "allow")
local d = blacklist.deny("x")
assert(d.verdict == "deny" and d.reason == "x")
assert(dnc.contains("+8613800138000") == false)
print("print goes to the log", 1, nil, true)
"#);
}
