//! Every kind of broken script is refused with an error naming the file and
//! line, at first load and at reload; a failed reload leaves the serving
//! version (number and behaviour) untouched.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::fs;
use std::sync::Arc;

use common::{NOON, ScriptDir, fixture};
use waihu_script::{HostConfig, LoadError, LoadErrorKind, NoServices, ScriptHost, Verdict};

/// The 1-based line of `fixtures/bad/<case>` holding `marker`.
fn line_of(case: &str, marker: &str) -> u32 {
    let text = fs::read_to_string(fixture("bad").join(case)).unwrap();
    let index = text
        .lines()
        .position(|l| l.contains(marker))
        .expect("marker in fixture");
    index as u32 + 1
}

/// The default budget; the loop test takes less so it runs quickly in debug
/// builds (every line at load runs the hook).
const BUDGET: u64 = 1_000_000;

fn config(dir: &ScriptDir, budget: u64) -> HostConfig {
    HostConfig {
        instruction_budget: budget,
        ..dir.config()
    }
}

/// Loads `fixtures/bad/<case>` alone: the error of a first load.
fn first_load(case: &str, budget: u64) -> LoadError {
    let dir = ScriptDir::new(&format!("first-{case}"));
    dir.put_fixture(&format!("bad/{case}"), case);
    ScriptHost::load(config(&dir, budget), Arc::new(NoServices)).unwrap_err()
}

/// Serves the campaign fixture, drops `case` in, reloads: asserts the
/// reload failed and version 1 still serves as before; then takes the file
/// out again and shows the directory is healthy. Returns the reload error.
fn failed_reload(case: &str, budget: u64) -> LoadError {
    let dir = ScriptDir::from_fixture(&format!("reload-{case}"), "campaign");
    let host = ScriptHost::load(config(&dir, budget), Arc::new(NoServices)).unwrap();
    let pinned = host.current();
    dir.put_fixture(&format!("bad/{case}"), case);

    let err = host.reload().unwrap_err();

    let current = host.current();
    assert_eq!(current.info().number, 1);
    assert!(
        Arc::ptr_eq(&current, &pinned),
        "the serving version must not change"
    );
    assert_eq!(
        current
            .blacklist_check("+8613800138000", None, NOON)
            .unwrap(),
        Verdict::Allow
    );
    assert_eq!(current.agent_scripts().count(), 2);
    let status = host.status();
    assert_eq!(status.last_error.as_deref(), Some(err.to_string().as_str()));
    assert_eq!(
        (status.reloads, status.failed_reloads, status.previous),
        (0, 1, None)
    );

    // The same failure again is still an error (logged only once).
    assert_eq!(host.reload().unwrap_err(), err);
    assert_eq!(host.status().failed_reloads, 2);

    dir.remove(case);
    assert_eq!(
        host.reload().unwrap().number,
        1,
        "same content as version 1: nothing to swap"
    );
    assert_eq!(host.status().last_error, None);
    err
}

fn assert_names(err: &LoadError, case: &str, line: u32) {
    assert_eq!(err.file, format!("scripts/{case}"), "{err}");
    assert_eq!(err.line, Some(line), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("scripts/{case}:{line}: ")),
        "{err}"
    );
}

#[test]
fn syntax_error() {
    let case = "syntax_error.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "return blacklist.deny"));
        let LoadErrorKind::Syntax(message) = &err.kind else {
            panic!("{err:?}")
        };
        assert!(message.contains("'then' expected"), "{message}");
    }
}

#[test]
fn runtime_error_at_load() {
    let case = "load_error.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "error at load"));
        let LoadErrorKind::Runtime(message) = &err.kind else {
            panic!("{err:?}")
        };
        assert!(message.contains("compute_max"), "{message}");
    }
}

#[test]
fn infinite_loop_at_load() {
    let case = "load_loop.lua";
    for err in [first_load(case, 100_000), failed_reload(case, 100_000)] {
        assert_eq!(err.file, format!("scripts/{case}"));
        let line = err.line.unwrap();
        assert!(
            (line_of(case, "while")..=line_of(case, "spins")).contains(&line),
            "{err}"
        );
        // Ten times the per-call budget at load.
        assert_eq!(
            err.kind,
            LoadErrorKind::InstructionBudget { budget: 1_000_000 }
        );
        assert!(
            err.to_string()
                .ends_with("instruction budget of 1000000 exhausted while loading"),
            "{err}"
        );
    }
}

#[test]
fn memory_bomb_at_load() {
    let case = "load_memory_bomb.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "memory bomb"));
        assert_eq!(
            err.kind,
            LoadErrorKind::MemoryLimit {
                limit: 64 * 1024 * 1024
            }
        );
    }
}

#[test]
fn failing_self_check() {
    let case = "failing_test.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "-- fails"));
        let LoadErrorKind::TestFailed { test, message } = &err.kind else {
            panic!("{err:?}")
        };
        assert_eq!(test, "waits_an_hour");
        assert!(message.contains("expected an hour"), "{message}");
    }
}

#[test]
fn agent_script_with_a_dangling_branch() {
    let case = "dangling_branch.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "agent_script.define"));
        let LoadErrorKind::AgentScript {
            script,
            node,
            problem,
        } = &err.kind
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (script.as_str(), node.as_deref()),
            ("broken", Some("offer"))
        );
        assert!(problem.contains("`sold`"), "{problem}");
        assert!(
            err.to_string()
                .contains("agent script `broken`, node `offer`: option \"Yes\" leads to `sold`")
        );
    }
}

#[test]
fn agent_script_terminal_node_without_outcome() {
    let case = "terminal_without_outcome.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "agent_script.define"));
        let LoadErrorKind::AgentScript { script, node, .. } = &err.kind else {
            panic!("{err:?}")
        };
        assert_eq!(
            (script.as_str(), node.as_deref()),
            ("stranded", Some("done"))
        );
    }
}

#[test]
fn hook_that_is_not_a_function() {
    let case = "hook_not_a_function.lua";
    for err in [first_load(case, BUDGET), failed_reload(case, BUDGET)] {
        assert_names(&err, case, line_of(case, "blacklist.check ="));
        let LoadErrorKind::BadHook { hook, found, .. } = &err.kind else {
            panic!("{err:?}")
        };
        assert_eq!(
            (hook.as_str(), found.as_str()),
            ("blacklist.check", "string \"allow\"")
        );
    }
}

#[test]
fn more_agent_script_mistakes() {
    let dir = ScriptDir::new("agent_mistakes");
    let cases = [
        (
            "language = 'fr', start = 'a', nodes = { a = { say = 'x', outcome = 'success' } }",
            "language",
            None,
        ),
        (
            "language = 'en', start = 'b', nodes = { a = { say = 'x', outcome = 'success' } }",
            "start node `b`",
            None,
        ),
        (
            "language = 'en', start = 'a', nodes = { a = { say = 'x', outcome = 'busy' } }",
            "not an agent disposition",
            Some("a"),
        ),
        (
            "language = 'en', start = 'a', nodes = { a = { say = 'x', outcome = 'success', options = { { label = 'l', next = 'a' } } } }",
            "not both",
            Some("a"),
        ),
        (
            "language = 'en', start = 'a', nodes = { a = { outcome = 'success' } }",
            "`say` is missing",
            Some("a"),
        ),
        (
            "language = 'en', start = 'a', nodes = 'none'",
            "`nodes` must be a table",
            None,
        ),
    ];
    for (body, expected, node) in cases {
        dir.write(
            "agent.lua",
            &format!("\n\nagent_script.define {{ name = 's', {body} }}\n"),
        );
        let err = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.line),
            ("scripts/agent.lua", Some(3)),
            "{err}"
        );
        let LoadErrorKind::AgentScript {
            problem, node: at, ..
        } = &err.kind
        else {
            panic!("{err:?}")
        };
        assert!(problem.contains(expected), "{problem} / {expected}");
        assert_eq!(at.as_deref(), node);
    }
    dir.write("agent.lua", "agent_script.define { name = 's', language = 'en', start = 'a', nodes = { a = { say = 'x', outcome = 'success' } } }\nagent_script.define { name = 's', language = 'en', start = 'a', nodes = { a = { say = 'x', outcome = 'success' } } }\n");
    let err = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(
        err.to_string()
            .contains("defined twice (first at scripts/agent.lua:1)"),
        "{err}"
    );
}

#[test]
fn unreachable_agent_node_is_only_a_warning() {
    let dir = ScriptDir::new("unreachable_node");
    dir.write(
        "agent.lua",
        "agent_script.define { name = 's', language = 'en', start = 'a', nodes = {\n a = { say = 'x', outcome = 'success' },\n lost = { say = 'y', outcome = 'declined' } } }\n",
    );
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let warnings = host.current().info().warnings.clone();
    assert!(
        warnings.iter().any(|w| w
            == "scripts/agent.lua:1: agent script `s`: node `lost` cannot be reached from `a`"),
        "{warnings:?}"
    );
}

#[test]
fn missing_directory() {
    let config = HostConfig {
        dir: fixture("no-such-dir"),
        ..HostConfig::default()
    };
    let err = ScriptHost::load(config, Arc::new(NoServices)).unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Unreadable(_)), "{err:?}");
    assert!(err.file.ends_with("no-such-dir"));

    let dir = ScriptDir::from_fixture("dir_vanishes", "campaign");
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    fs::rename(&dir.root, dir.root.with_file_name("moved")).unwrap();
    assert!(matches!(
        host.reload().unwrap_err().kind,
        LoadErrorKind::Unreadable(_)
    ));
    assert_eq!(
        host.current()
            .blacklist_check("+8613800138000", None, NOON)
            .unwrap(),
        Verdict::Allow
    );
}

#[test]
fn error_in_a_required_module_names_the_module() {
    let dir = ScriptDir::new("module_error");
    dir.write(
        "lib/helpers.lua",
        "local M = {}\n\nlocal x = nil + 1\nreturn M\n",
    );
    dir.write("main.lua", "local helpers = require('helpers')\n");
    let err = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.line),
        ("scripts/lib/helpers.lua", Some(3)),
        "{err}"
    );
}
