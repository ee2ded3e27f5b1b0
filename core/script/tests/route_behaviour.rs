//! What a route sees of its replies, the argument checks of the call
//! methods, yields inside `pcall`, coroutines a script creates, and which
//! version a route runs on across a reload.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

use common::coordinator::Fake;
use common::{ScriptDir, fixture};
use waihu_call::{Command, DigitsEnd, Event, HangupCause, Party, PlayItem};
use waihu_script::{
    CallInfo, HookError, HookErrorKind, LoadErrorKind, NoServices, Route, ScriptHost, Step,
};

const FILE: &str = "scripts/route.lua";

fn host() -> (ScriptDir, ScriptHost) {
    let dir = ScriptDir::new("route");
    dir.put_fixture("route/route.lua", "route.lua");
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    (dir, host)
}

fn start(host: &ScriptHost, to: &str) -> Route {
    let info = CallInfo {
        id: 77,
        from: "1000".into(),
        to: to.into(),
        vars: BTreeMap::from([("given".to_owned(), "yes".to_owned())]),
    };
    host.current().start_route(info).unwrap()
}

/// Runs case `to` with `fake`; its variables at the end.
fn vars_after(to: &str, mut fake: Fake) -> BTreeMap<String, String> {
    let (_dir, host) = host();
    let mut route = start(&host, to);
    fake.drive(&mut route).unwrap();
    route.vars().clone()
}

fn line_of(marker: &str) -> u32 {
    let text = fs::read_to_string(fixture("route/route.lua")).unwrap();
    text.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

fn var<'a>(vars: &'a BTreeMap<String, String>, k: &str) -> &'a str {
    vars.get(k)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no var {k}: {vars:?}"))
}

#[test]
fn route_is_send() {
    fn send<T: Send + 'static>() {}
    send::<Route>();
}

#[test]
fn without_route_lua_there_is_no_route() {
    let dir = ScriptDir::new("no-route");
    dir.write(
        "x.lua",
        "function campaign.select_mode(c) return { mode = 'manual', priority = 1 } end",
    );
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let version = host.current();
    assert!(!version.has_route());
    let err = version.start_route(CallInfo::default()).unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Missing);
    assert_eq!(err.function, "route");
}

#[test]
fn a_route_that_is_not_a_function_fails_the_load() {
    let dir = ScriptDir::new("route-not-fn");
    dir.put_fixture("route/not_a_function.lua", "route.lua");
    let err = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap_err();
    assert_eq!(err.file, FILE);
    assert!(
        matches!(err.kind, LoadErrorKind::BadHook { ref hook, .. } if hook == "route"),
        "{err}"
    );
}

#[test]
fn read_digits_returns_the_digits_and_how_it_ended() {
    for (digits, ended, why) in [
        ("1234", DigitsEnd::Max, "max"),
        ("12", DigitsEnd::Terminator, "terminator"),
        ("", DigitsEnd::Timeout, "timeout"),
    ] {
        let vars = vars_after("digits", Fake::default().digits(digits, ended));
        assert_eq!(var(&vars, "d"), digits);
        assert_eq!(var(&vars, "why"), why);
    }
}

#[test]
fn the_call_fields_and_vars() {
    let vars = vars_after("info", Fake::default());
    assert_eq!(var(&vars, "id"), "77");
    assert_eq!(var(&vars, "from"), "1000");
    assert_eq!(var(&vars, "to"), "info");
    assert_eq!(var(&vars, "given"), "yes");
    // set_var updates call.vars on the Lua side as well.
    assert_eq!(var(&vars, "seen"), "1");
}

#[test]
fn failed_reply_returns_nil_and_the_reason() {
    let (_dir, host) = host();
    let mut route = start(&host, "failed");
    let Step::Command(Command::Play {
        items,
        barge_in: false,
    }) = route.resume(None).unwrap()
    else {
        panic!("expected play");
    };
    assert_eq!(
        items,
        [PlayItem::Prompt {
            name: "en/missing".into()
        }]
    );
    let failed = Event::Failed {
        reason: "no such prompt".into(),
    };
    let mut next = route.resume(Some(failed)).unwrap();
    while let Step::Command(cmd) = next {
        next = route.resume(Some(Fake::default().reply(&cmd))).unwrap();
    }
    assert_eq!(var(route.vars(), "r"), "nil");
    assert_eq!(var(route.vars(), "reason"), "no such prompt");
}

#[test]
fn barge_in_digit_is_returned_by_play() {
    let mut fake = Fake::default();
    fake.barge.push_back('5');
    let vars = vars_after("barge", fake);
    assert_eq!(var(&vars, "digit"), "5");
}

#[test]
fn hung_up_reply_ends_the_route_without_running_lua() {
    let (_dir, host) = host();
    let mut route = start(&host, "digits");
    assert!(matches!(
        route.resume(None).unwrap(),
        Step::Command(Command::ReadDigits { .. })
    ));
    let gone = Event::HungUp {
        by: Party::Caller,
        cause: HangupCause::Normal,
    };
    assert_eq!(route.resume(Some(gone)).unwrap(), Step::Done);
    assert!(route.is_done());
    assert!(route.vars().get("d").is_none());
    assert_eq!(route.resume(None).unwrap(), Step::Done);

    let mut route = start(&host, "hangup_ends");
    let cmds = Fake::default().drive(&mut route).unwrap();
    assert_eq!(
        cmds,
        [Command::Hangup {
            cause: HangupCause::Busy
        }]
    );
    assert!(route.vars().get("after").is_none());
}

#[test]
fn a_route_that_returns_is_done() {
    let (_dir, host) = host();
    let mut route = start(&host, "returns");
    assert_eq!(
        Fake::default().drive(&mut route).unwrap(),
        [Command::Answer]
    );
}

#[test]
fn a_reply_of_the_wrong_kind_is_a_host_error() {
    let (_dir, host) = host();
    let mut route = start(&host, "digits");
    route.resume(None).unwrap();
    let err = route.resume(Some(Event::Answered)).unwrap_err();
    assert!(
        matches!(err.kind, HookErrorKind::UnexpectedReply { .. }),
        "{err}"
    );
    assert_eq!(err.function, "route");
    assert!(route.is_done());

    // Notifications are not replies; nor is None after the start, nor a
    // reply before it.
    let mut route = start(&host, "digits");
    route.resume(None).unwrap();
    let err = route.resume(Some(Event::Dtmf { digit: '1' })).unwrap_err();
    assert!(
        matches!(err.kind, HookErrorKind::UnexpectedReply { .. }),
        "{err}"
    );
    let mut route = start(&host, "digits");
    route.resume(None).unwrap();
    assert!(route.resume(None).is_err());
    let mut route = start(&host, "digits");
    assert!(route.resume(Some(Event::Answered)).is_err());
}

#[test]
fn yields_inside_pcall_reach_the_host() {
    let vars = vars_after("pcall", Fake::default().digits("42", DigitsEnd::Max));
    assert_eq!(var(&vars, "ok"), "true");
    assert_eq!(var(&vars, "got"), "42/max");
    let caught = var(&vars, "caught");
    assert!(
        caught.starts_with("false ") && caught.contains("max must be 1..64, got 99"),
        "{caught}"
    );
}

#[test]
fn call_methods_in_a_coroutine_the_script_made_are_a_lua_error() {
    let (_dir, host) = host();
    let mut route = start(&host, "nested");
    let mut fake = Fake::default();
    let err = fake.drive(&mut route).unwrap_err();
    let vars = route.vars();
    assert_eq!(var(vars, "ok"), "false");
    assert!(
        var(vars, "err").contains("only in the route's own coroutine"),
        "{vars:?}"
    );
    // Unprotected (coroutine.wrap re-raises), it ends the route at the line.
    assert_eq!(err.file.as_deref(), Some(FILE));
    assert!(
        matches!(err.kind, HookErrorKind::Runtime(ref m) if m.contains("own coroutine")),
        "{err}"
    );
}

#[test]
fn a_raw_yield_is_an_error_not_a_command() {
    let (_dir, host) = host();
    let mut route = start(&host, "raw_yield");
    let err = Fake::default().drive(&mut route).unwrap_err();
    assert!(
        matches!(err.kind, HookErrorKind::Runtime(ref m) if m.contains("outside a call method")),
        "{err}"
    );
    assert_eq!(err.file.as_deref(), Some(FILE));
}

#[test]
fn a_bad_argument_names_the_file_line_and_argument() {
    let (_dir, host) = host();
    let mut route = start(&host, "bad_arg");
    let err: HookError = route.resume(None).unwrap_err();
    assert_eq!(err.file.as_deref(), Some(FILE));
    assert_eq!(err.line, Some(line_of("@bad_arg")));
    assert_eq!(err.function, "route");
    assert!(
        err.to_string()
            .contains("call:read_digits: max must be 1..64, got 0"),
        "{err}"
    );
}

#[test]
fn every_argument_is_checked() {
    let vars = vars_after("validation", Fake::default());
    let expect = [
        ("max_high", "max must be 1..64, got 65"),
        ("max_type", "max must be an integer, got string"),
        ("timeout_low", "timeout_ms must be 100..120000, got 99"),
        ("timeout_high", "timeout_ms must be 100..120000, got 120001"),
        ("terminator", "terminator must be one of 0-9, * or #"),
        (
            "prompt_escape",
            "item 1 (a prompt name) must be a relative path",
        ),
        (
            "play_item",
            "item 2 must be a prompt name or a table, got integer",
        ),
        ("tone", "item 1: tone must be \"ringback\" or \"busy\""),
        ("region", "item 1: region must be \"cn\" or \"na\""),
        ("barge_in", "barge_in must be a boolean"),
        ("dtmf", "digits must be"),
        ("record_mode", "mode must be \"stereo\" or \"mono\""),
        ("record_file", "file must be a relative path"),
        ("dial_timeout", "timeout_s must be 1..600, got 0"),
        ("var_name", "the name must be"),
        ("var_value", "the value must be at most 1024 bytes"),
        (
            "var_type",
            "argument #2 (value) must be a string, got integer",
        ),
        ("cause", "cause must be \"normal\""),
        ("no_colon", "call:answer: not called on a call"),
        ("extra_arg", "call:answer: takes no arguments"),
    ];
    for (name, text) in expect {
        let got = var(&vars, name);
        assert!(got.contains(text), "{name}: {got}");
        assert!(got.contains(FILE), "{name} names the script: {got}");
    }
}

#[test]
fn a_route_keeps_its_version_across_a_reload() {
    let dir = ScriptDir::new("route-pinned");
    dir.put_fixture("route/v1/route.lua", "route.lua");
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let play = |name: &str| Command::Play {
        items: vec![PlayItem::Prompt { name: name.into() }],
        barge_in: false,
    };
    let done = Event::PlaybackDone {
        interrupted_by: None,
    };

    let mut old = host.current().start_route(CallInfo::default()).unwrap();
    assert_eq!(old.resume(None).unwrap(), Step::Command(play("v1/first")));

    dir.put_fixture("route/v2/route.lua", "route.lua");
    assert_eq!(host.reload().unwrap().number, 2);
    let mut new = host.current().start_route(CallInfo::default()).unwrap();
    assert_eq!(new.resume(None).unwrap(), Step::Command(play("v2/first")));

    // The old route goes on with version 1's code, though version 1 no
    // longer serves (the route holds it).
    host.reload().unwrap();
    assert_eq!(
        old.resume(Some(done.clone())).unwrap(),
        Step::Command(play("v1/second"))
    );
    assert_eq!(old.version().info().number, 1);
    assert_eq!(
        new.resume(Some(done)).unwrap(),
        Step::Command(play("v2/second"))
    );
    assert_eq!(new.version().info().number, 2);
}
