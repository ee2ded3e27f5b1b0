//! `queue.on_overflow` and `agent.on_state_change`: what they are given,
//! what they may return, and that they are optional.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::fs;
use std::sync::Arc;

use common::{ScriptDir, fixture, within};
use waihu_script::{
    AgentChange, HookError, HookErrorKind, HostConfig, LoadErrorKind, NoServices, OverflowAction,
    OverflowInfo, ScriptHost, Version,
};

const FILE: &str = "scripts/hooks.lua";

fn host() -> (ScriptDir, ScriptHost) {
    let dir = ScriptDir::new("queue-hooks");
    dir.put_fixture("queue/hooks.lua", "hooks.lua");
    let config = HostConfig {
        // A small budget keeps the loops quick in debug builds.
        instruction_budget: 200_000,
        pool_size: 2,
        ..dir.config()
    };
    let host = ScriptHost::load(config, Arc::new(NoServices)).unwrap();
    (dir, host)
}

fn line_of(marker: &str) -> u32 {
    let text = fs::read_to_string(fixture("queue/hooks.lua")).unwrap();
    text.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

fn info(queue: &str) -> OverflowInfo {
    OverflowInfo {
        call_id: "c-17".into(),
        from: "13800138000".into(),
        to: "95555".into(),
        queue: queue.into(),
        waited_s: 120,
        position: 3,
        priority: 7,
        reason: "max_wait".into(),
    }
}

fn overflow(v: &Version, queue: &str) -> Result<Option<OverflowAction>, HookError> {
    v.queue_overflow(&info(queue))
}

#[test]
fn every_overflow_action() {
    let (_dir, host) = host();
    let v = host.current();
    let prompt = |p: &str| Some(p.to_owned());
    let cases = [
        (
            "sales",
            OverflowAction::Queue {
                queue: "sales_overflow".into(),
            },
        ),
        (
            "vm",
            OverflowAction::Voicemail {
                prompt: prompt("en/leave_message"),
            },
        ),
        ("vm_plain", OverflowAction::Voicemail { prompt: None }),
        (
            "cb",
            OverflowAction::Callback {
                prompt: prompt("en/callback_ok"),
            },
        ),
        (
            "bye",
            OverflowAction::Hangup {
                prompt: prompt("en/goodbye"),
            },
        ),
        // Fields the action does not use are ignored.
        (
            "ignored",
            OverflowAction::Queue {
                queue: "other".into(),
            },
        ),
    ];
    for (queue, action) in cases {
        assert_eq!(overflow(&v, queue).unwrap(), Some(action), "{queue}");
    }
    // nil leaves it to the queue's configuration.
    assert_eq!(overflow(&v, "unknown").unwrap(), None);
}

#[test]
fn the_overflow_hook_gets_every_field() {
    let (_dir, host) = host();
    let err = overflow(&host.current(), "echo").unwrap_err();
    assert_eq!(
        err.kind,
        HookErrorKind::Runtime(
            "c-17|13800138000|95555|echo|integer 120|integer 3|integer 7|max_wait".into()
        )
    );
    assert_eq!(err.function, "queue.on_overflow");
    assert_eq!(err.file.as_deref(), Some(FILE));
}

#[test]
fn a_bad_overflow_return_is_an_error_saying_what_is_wrong() {
    let (_dir, host) = host();
    let v = host.current();
    for (queue, expected, got) in [
        ("bad_action", "`action` one of", "string \"transfer\""),
        ("no_action", "`action` one of", "nil"),
        ("no_queue", "`queue` a queue name", "nil"),
        ("bad_queue", "`queue` a queue name", "string \"a b\""),
        ("prompt_type", "`prompt` a prompt name", "integer 5"),
        (
            "prompt_escape",
            "`prompt` a prompt name",
            "string \"../secret\"",
        ),
        (
            "prompt_abs",
            "`prompt` a prompt name",
            "string \"/etc/passwd\"",
        ),
        ("string", "{ action = ", "string \"voicemail\""),
    ] {
        let err = overflow(&v, queue).unwrap_err();
        let HookErrorKind::BadReturn {
            expected: ref e,
            got: ref g,
        } = err.kind
        else {
            panic!("{queue}: {err}");
        };
        assert!(e.contains(expected), "{queue}: {err}");
        assert_eq!(g, got, "{queue}");
        assert_eq!(err.function, "queue.on_overflow");
        assert_eq!(
            (err.file.as_deref(), err.line),
            (Some(FILE), Some(line_of("-- @overflow")))
        );
    }
    // The state is fine afterwards.
    assert!(overflow(&v, "sales").unwrap().is_some());
}

#[test]
fn the_agent_hook_gets_every_field() {
    let (_dir, host) = host();
    let v = host.current();
    let full = AgentChange {
        agent: "1001".into(),
        from: "ready".into(),
        to: "on_call".into(),
        reason: Some("offered".into()),
        queue: Some("sales".into()),
        call_id: Some("c-17".into()),
        at_ms: 1_700_000_000_123,
    };
    let err = v.agent_state_change(&full).unwrap_err();
    assert_eq!(
        err.kind,
        HookErrorKind::Runtime(
            "1001|ready|on_call|offered|sales|c-17|integer 1700000000123".into()
        )
    );
    assert_eq!(err.function, "agent.on_state_change");

    let bare = AgentChange {
        agent: "1002".into(),
        from: "logged_out".into(),
        to: "ready".into(),
        at_ms: -1,
        ..AgentChange::default()
    };
    let err = v.agent_state_change(&bare).unwrap_err();
    assert_eq!(
        err.kind,
        HookErrorKind::Runtime("1002|logged_out|ready|nil|nil|nil|integer -1".into())
    );
}

#[test]
fn what_the_agent_hook_returns_is_ignored() {
    let (_dir, host) = host();
    let quiet = AgentChange {
        agent: "quiet".into(),
        ..AgentChange::default()
    };
    assert_eq!(host.current().agent_state_change(&quiet), Ok(()));
}

#[test]
fn hooks_over_budget_fail_and_do_not_hang() {
    let (_dir, host) = host();
    let v = host.current();
    let (a, b) = within(60, move || {
        let loop_change = AgentChange {
            agent: "loop".into(),
            ..AgentChange::default()
        };
        (
            v.agent_state_change(&loop_change),
            v.queue_overflow(&info("loop")),
        )
    });
    for (err, function) in [
        (a.unwrap_err(), "agent.on_state_change"),
        (b.unwrap_err(), "queue.on_overflow"),
    ] {
        assert_eq!(
            err.kind,
            HookErrorKind::InstructionBudget { budget: 200_000 },
            "{err}"
        );
        assert_eq!(err.function, function);
        assert_eq!(err.file.as_deref(), Some(FILE));
    }
    // Replaced states serve the next calls.
    assert!(overflow(&host.current(), "sales").unwrap().is_some());
}

#[test]
fn missing_hooks_are_no_decision_and_no_warning() {
    let dir = ScriptDir::new("queue-hooks-missing");
    dir.write(
        "rules.lua",
        "function blacklist.check(n, c, now) return blacklist.allow() end\n",
    );
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let v = host.current();
    assert_eq!(overflow(&v, "sales"), Ok(None));
    assert_eq!(v.agent_state_change(&AgentChange::default()), Ok(()));
    let warnings = &v.info().warnings;
    assert!(
        warnings
            .iter()
            .all(|w| !w.contains("queue.") && !w.contains("agent.")),
        "{warnings:?}"
    );
    // The three other missing hooks still warn.
    assert_eq!(warnings.len(), 3, "{warnings:?}");
}

#[test]
fn defined_hooks_add_no_warning() {
    let (_dir, host) = host();
    let v = host.current();
    let warnings = &v.info().warnings;
    assert_eq!(
        warnings.len(),
        4,
        "the four campaign hooks only: {warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .all(|w| !w.contains("queue.") && !w.contains("agent.")),
        "{warnings:?}"
    );
}

#[test]
fn hooks_of_the_wrong_type_fail_the_load() {
    let dir = ScriptDir::new("queue-hooks-bad");
    dir.write("a.lua", "-- nothing\n\nqueue.on_overflow = 5\n");
    let err = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("scripts/a.lua", Some(3)));
    assert!(
        matches!(err.kind, LoadErrorKind::BadHook { ref hook, expected: "a function", .. } if hook == "queue.on_overflow"),
        "{err}"
    );

    let dir = ScriptDir::new("agent-table-bad");
    dir.write("a.lua", "agent = \"1001\"\n");
    let err = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap_err();
    assert!(
        matches!(err.kind, LoadErrorKind::BadHook { ref hook, expected: "a table", .. } if hook == "agent"),
        "{err}"
    );
}
