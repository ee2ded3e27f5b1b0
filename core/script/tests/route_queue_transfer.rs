//! `call:queue` and `call:transfer`: the commands they build, the checks of
//! their arguments, and what their replies turn into in Lua.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

use common::coordinator::Fake;
use common::{ScriptDir, fixture};
use waihu_call::{Command, Event, HangupCause, Party, QueueOutcome};
use waihu_script::{CallInfo, HookErrorKind, NoServices, Route, ScriptHost, Step};

const FILE: &str = "scripts/route.lua";

fn host() -> (ScriptDir, ScriptHost) {
    let dir = ScriptDir::new("route-queue");
    dir.put_fixture("queue/route.lua", "route.lua");
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    (dir, host)
}

fn start(host: &ScriptHost, to: &str) -> Route {
    let info = CallInfo {
        id: 5,
        from: "1000".into(),
        to: to.into(),
        vars: BTreeMap::new(),
    };
    host.current().start_route(info).unwrap()
}

fn line_of(marker: &str) -> u32 {
    let text = fs::read_to_string(fixture("queue/route.lua")).unwrap();
    text.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

fn queue(name: &str, priority: u8, skills: &[(&str, u8)]) -> Command {
    Command::Queue {
        queue: name.into(),
        priority,
        skills: skills.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    }
}

/// Starts case `to`, checks its first command, answers it with `reply`;
/// the variable `r` the route then sets, and the route's end.
fn result_of(to: &str, first: &Command, reply: Event) -> String {
    let (_dir, host) = host();
    let mut route = start(&host, to);
    assert_eq!(route.resume(None).unwrap(), Step::Command(first.clone()));
    let Step::Command(Command::SetVar { name, value }) = route.resume(Some(reply)).unwrap() else {
        panic!("expected set_var");
    };
    assert_eq!(name, "r");
    assert_eq!(route.resume(Some(Event::VarSet)).unwrap(), Step::Done);
    value
}

#[test]
fn queue_with_defaults() {
    let (_dir, host) = host();
    let mut route = start(&host, "q_default");
    assert_eq!(
        route.resume(None).unwrap(),
        Step::Command(queue("sales", 0, &[]))
    );
}

#[test]
fn queue_with_priority_and_skills() {
    let (_dir, host) = host();
    let mut route = start(&host, "q_opts");
    assert_eq!(
        route.resume(None).unwrap(),
        Step::Command(queue(
            "support.en-2",
            9,
            &[("billing", 1), ("it_level.2", 100), ("spanish", 50)]
        ))
    );
}

#[test]
fn queue_at_the_limits() {
    let (_dir, host) = host();
    let mut route = start(&host, "q_limits");
    let Step::Command(Command::Queue {
        queue,
        priority,
        skills,
    }) = route.resume(None).unwrap()
    else {
        panic!("expected queue");
    };
    assert_eq!(queue, "q".repeat(64));
    assert_eq!(priority, 3, "a float without fraction counts");
    assert_eq!(skills.len(), 16);
    assert_eq!(skills.get(&"k".repeat(32)), Some(&100));
    assert_eq!(skills.get("s16"), Some(&16));
    assert_eq!(skills.get("s1"), None);
}

#[test]
fn queue_returns_the_outcome_and_the_detail() {
    let q = queue("sales", 0, &[]);
    let done = |outcome, detail: Option<&str>| Event::QueueDone {
        outcome,
        detail: detail.map(str::to_owned),
    };
    assert_eq!(
        result_of("q_default", &q, done(QueueOutcome::Answered, Some("1001"))),
        "answered|1001"
    );
    assert_eq!(
        result_of(
            "q_default",
            &q,
            done(QueueOutcome::Voicemail, Some("vm/5.wav"))
        ),
        "voicemail|vm/5.wav"
    );
    assert_eq!(
        result_of("q_default", &q, done(QueueOutcome::Callback, None)),
        "callback|nil"
    );
    assert_eq!(
        result_of("q_default", &q, done(QueueOutcome::Hangup, None)),
        "hangup|nil"
    );
    let failed = Event::Failed {
        reason: "no such queue".into(),
    };
    assert_eq!(result_of("q_default", &q, failed), "nil|no such queue");
}

#[test]
fn a_hang_up_while_queued_ends_the_route() {
    let (_dir, host) = host();
    let mut route = start(&host, "q_default");
    route.resume(None).unwrap();
    let gone = Event::HungUp {
        by: Party::Caller,
        cause: HangupCause::Normal,
    };
    assert_eq!(route.resume(Some(gone)).unwrap(), Step::Done);
    assert!(route.vars().is_empty());
}

#[test]
fn replies_that_answer_another_command_are_host_errors() {
    let (_dir, host) = host();
    let mut route = start(&host, "q_default");
    route.resume(None).unwrap();
    let err = route.resume(Some(Event::Transferred)).unwrap_err();
    assert_eq!(
        err.kind,
        HookErrorKind::UnexpectedReply {
            expected: "the reply to queue",
            got: "Transferred".into()
        }
    );

    let mut route = start(&host, "transfer");
    route.resume(None).unwrap();
    let err = route
        .resume(Some(Event::QueueDone {
            outcome: QueueOutcome::Answered,
            detail: None,
        }))
        .unwrap_err();
    assert!(
        matches!(
            err.kind,
            HookErrorKind::UnexpectedReply {
                expected: "the reply to transfer",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn transfer_builds_the_command_and_returns_true() {
    let t = Command::Transfer {
        target: "pstn:13800138000".into(),
    };
    assert_eq!(result_of("transfer", &t, Event::Transferred), "true");
    let failed = Event::Failed {
        reason: "busy".into(),
    };
    assert_eq!(result_of("transfer", &t, failed), "nil|busy");
}

#[test]
fn the_fake_coordinator_drives_queue_and_transfer() {
    let (_dir, host) = host();
    let mut route = start(&host, "q_default");
    Fake::default().drive(&mut route).unwrap();
    assert_eq!(route.vars().get("r").unwrap(), "answered|1001");
}

#[test]
fn a_bad_argument_names_the_file_line_and_argument() {
    let (_dir, host) = host();
    for (case, marker, text) in [
        (
            "bad_queue",
            "@bad_queue",
            "call:queue: priority must be 0..9, got 10",
        ),
        (
            "bad_transfer",
            "@bad_transfer",
            "call:transfer: target must be 1..64 letters",
        ),
    ] {
        let mut route = start(&host, case);
        let err = route.resume(None).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(FILE), "{case}");
        assert_eq!(err.line, Some(line_of(marker)), "{case}");
        assert_eq!(err.function, "route");
        assert!(err.to_string().contains(text), "{case}: {err}");
        assert!(route.is_done());
    }
}

#[test]
fn every_argument_is_checked() {
    let (_dir, host) = host();
    let mut route = start(&host, "validation");
    Fake::default().drive(&mut route).unwrap();
    let vars = route.vars();
    let expect = [
        ("prio_high", "call:queue: priority must be 0..9, got 10"),
        ("prio_low", "call:queue: priority must be 0..9, got -1"),
        (
            "prio_type",
            "call:queue: priority must be an integer, got string",
        ),
        (
            "prio_frac",
            "call:queue: priority must be an integer, got number",
        ),
        (
            "level_zero",
            "call:queue: skills.spanish must be 1..100, got 0",
        ),
        (
            "level_high",
            "call:queue: skills.spanish must be 1..100, got 101",
        ),
        (
            "level_type",
            "call:queue: skills.spanish must be an integer, got string",
        ),
        (
            "skill_name",
            "call:queue: skills: a skill name must be 1..32 letters, digits or _.-, got \"bad name\"",
        ),
        (
            "skill_long",
            "call:queue: skills: a skill name must be 1..32",
        ),
        (
            "skill_list",
            "call:queue: skills: the keys must be skill names ({ spanish = 50 }), got integer 1",
        ),
        (
            "skills_type",
            "call:queue: skills must be a table of skill name = level, got string",
        ),
        (
            "too_many",
            "call:queue: skills must hold at most 16 entries",
        ),
        (
            "name_bad",
            "call:queue: the queue name must be 1..64 letters, digits or _.-, got \"sales team\"",
        ),
        ("name_empty", "call:queue: the queue name must be 1..64"),
        ("name_long", "call:queue: the queue name must be 1..64"),
        (
            "name_type",
            "call:queue: argument #1 (queue name) must be a string, got integer",
        ),
        (
            "name_nil",
            "call:queue: argument #1 (queue name) must be a string, got nil",
        ),
        (
            "opts_type",
            "call:queue: argument #2 (options) must be a table or nil, got integer",
        ),
        (
            "target_bad",
            "call:transfer: target must be 1..64 letters, digits or +*#_.-:",
        ),
        (
            "target_type",
            "call:transfer: argument #1 (target) must be a string, got nil",
        ),
        ("target_long", "call:transfer: target must be 1..64"),
        ("no_colon", "call:queue: not called on a call"),
    ];
    for (name, text) in expect {
        let got = vars
            .get(name)
            .unwrap_or_else(|| panic!("no var {name}: {vars:?}"));
        assert!(got.contains(text), "{name}: {got}");
        assert!(got.contains(FILE), "{name} names the script: {got}");
    }
    assert_eq!(vars.len(), expect.len(), "{vars:?}");
}
