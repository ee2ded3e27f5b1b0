//! A hook that raises, loops, eats memory or returns the wrong thing fails
//! that one call with an error naming file, line and hook; the next call
//! works, and a state that hit a limit is replaced by a fresh one.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::fs;
use std::sync::Arc;

use common::{NOON, contact, customer, fixture, within};
use waihu_script::{
    HookError, HookErrorKind, HostConfig, ModeChoice, NoServices, Outcome, ScriptHost, Verdict,
    Version,
};

const FILE: &str = "faulty/hooks.lua";

fn line_of(marker: &str) -> u32 {
    let text = fs::read_to_string(fixture("faulty/hooks.lua")).unwrap();
    text.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

fn host_with(pool_size: usize) -> ScriptHost {
    let config = HostConfig {
        dir: fixture("faulty"),
        // Small limits keep the loops and bombs quick in debug builds.
        memory_limit: 16 * 1024 * 1024,
        instruction_budget: 200_000,
        pool_size,
    };
    ScriptHost::load(config, Arc::new(NoServices)).unwrap()
}

fn select(v: &Version, kind: &str) -> Result<ModeChoice, HookError> {
    v.select_mode(&contact(&[("kind", kind)]))
}

fn assert_healthy(v: &Version) {
    assert_eq!(select(v, "fine").unwrap().priority, 1);
}

#[test]
fn runtime_error() {
    let v = host_with(2).current();
    let err = select(&v, "error").unwrap_err();
    assert_eq!(
        (err.file.as_deref(), err.line),
        (Some(FILE), Some(line_of("-- raises")))
    );
    assert_eq!(err.function, "campaign.select_mode");
    assert_eq!(
        err.kind,
        HookErrorKind::Runtime("no segment for +8613800138000".into())
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{FILE}:{}: campaign.select_mode: no segment for +8613800138000",
            line_of("-- raises")
        )
    );
    assert_healthy(&v);
}

#[test]
fn error_without_position_is_placed_by_the_traceback() {
    let v = host_with(1).current();
    let err = select(&v, "error_no_position").unwrap_err();
    assert_eq!(
        (err.file.as_deref(), err.line),
        (Some(FILE), Some(line_of("error({ code = 7 })")))
    );
    let err = select(&v, "bad_dnc_arg").unwrap_err();
    assert_eq!(
        (err.file.as_deref(), err.line),
        (Some(FILE), Some(line_of("-- wrong argument"))),
        "{err}"
    );
    assert_healthy(&v);
}

#[test]
fn infinite_loop_exhausts_the_budget() {
    let v = host_with(1).current();
    let err = within(30, {
        let v = Arc::clone(&v);
        move || select(&v, "loop").unwrap_err()
    });
    assert_eq!(
        err.kind,
        HookErrorKind::InstructionBudget { budget: 200_000 }
    );
    assert_eq!(
        (err.file.as_deref(), err.line),
        (Some(FILE), Some(line_of("-- spins")))
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{FILE}:{}: campaign.select_mode: instruction budget of 200000 exhausted",
            line_of("-- spins")
        )
    );
    assert_healthy(&v);
}

#[test]
fn budget_cannot_be_caught_or_escaped() {
    let v = host_with(1).current();
    for kind in ["pcall_loop", "xpcall_loop", "coroutine_loop", "resume_loop"] {
        let err = within(30, {
            let v = Arc::clone(&v);
            move || select(&v, kind).unwrap_err()
        });
        assert_eq!(
            err.kind,
            HookErrorKind::InstructionBudget { budget: 200_000 },
            "{kind}: {err}"
        );
        assert_eq!(err.file.as_deref(), Some(FILE), "{kind}");
    }
    assert_healthy(&v);
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let v = host_with(1).current();
    let err = select(&v, "bomb").unwrap_err();
    assert_eq!(
        err.kind,
        HookErrorKind::MemoryLimit {
            limit: 16 * 1024 * 1024
        }
    );
    assert_eq!(err.file.as_deref(), Some(FILE));
    // The bomb runs too few instructions for a budget sample: the error
    // names the line where the hook is defined.
    assert!(err.line.is_some(), "{err}");
    assert_healthy(&v);
    // A script may catch a memory error itself and carry on.
    let caught = select(&v, "catch_bomb").unwrap();
    assert_eq!(caught.priority, 2);
    assert!(caught.agent.unwrap().contains("not enough memory"));
}

#[test]
fn a_state_that_hit_a_limit_is_replaced() {
    let v = host_with(1).current();
    assert_eq!(select(&v, "counter").unwrap().priority, 1);
    assert_eq!(
        select(&v, "counter").unwrap().priority,
        2,
        "same state, globals kept"
    );
    assert_eq!(v.pool_counts(), (1, 1));
    select(&v, "loop").unwrap_err();
    assert_eq!(v.pool_counts(), (0, 0), "the spent state is dropped");
    assert_eq!(select(&v, "counter").unwrap().priority, 1, "a fresh state");
    assert_eq!(v.pool_counts(), (1, 1));
    // A runtime error keeps the state.
    select(&v, "error").unwrap_err();
    assert_eq!(select(&v, "counter").unwrap().priority, 2);
}

fn bad_return(err: HookError) -> (String, String) {
    match err.kind {
        HookErrorKind::BadReturn { expected, got } => (expected, got),
        other => panic!("not a bad return: {other:?}"),
    }
}

#[test]
fn wrong_return_types_are_bad_returns() {
    let v = host_with(2).current();
    let select_line = line_of("function campaign.select_mode");

    let err = select(&v, "wrong_type").unwrap_err();
    assert_eq!(
        (err.file.as_deref(), err.line),
        (Some(FILE), Some(select_line))
    );
    let (expected, got) = bad_return(err.clone());
    assert!(expected.starts_with("{ mode = "), "{expected}");
    assert_eq!(got, "string \"predictive\"");
    assert!(
        err.to_string()
            .contains("campaign.select_mode: bad return value: expected { mode ="),
        "{err}"
    );

    let (expected, got) = bad_return(select(&v, "bad_mode").unwrap_err());
    assert!(expected.contains("`mode` one of"), "{expected}");
    assert_eq!(got, "string \"fast\"");
    let (expected, got) = bad_return(select(&v, "no_priority").unwrap_err());
    assert_eq!(
        (expected.as_str(), got.as_str()),
        ("`priority` an integer", "nil")
    );

    let c = contact(&[]);
    let err = v.next_attempt(&c, Outcome::Busy, 1, NOON).unwrap_err();
    assert_eq!(err.function, "campaign.next_attempt");
    assert_eq!(bad_return(err).1, "string \"tomorrow\"");
    let (_, got) = bad_return(v.next_attempt(&c, Outcome::Machine, 1, NOON).unwrap_err());
    assert_eq!(got, format!("number {}", NOON as f64 + 0.5));
    // A whole float is a time.
    assert_eq!(
        v.next_attempt(&c, Outcome::Failed, 1, NOON).unwrap(),
        Some(NOON + 3600)
    );
    assert_eq!(v.next_attempt(&c, Outcome::Success, 1, NOON).unwrap(), None);

    let err = v.offers(&customer(0.9, 1.0, 1, None)).unwrap_err();
    assert_eq!(err.function, "retention.offers");
    assert_eq!(
        bad_return(err),
        ("offer 2: `code` a string".into(), "integer 2".into())
    );
    let (expected, got) = bad_return(v.offers(&customer(0.1, 1.0, 1, None)).unwrap_err());
    assert!(expected.starts_with("a list of"), "{expected}");
    assert_eq!(got, "string \"none\"");

    let err = v.blacklist_check("+1", None, NOON).unwrap_err();
    assert_eq!(err.function, "blacklist.check");
    assert_eq!(
        bad_return(err),
        (
            "blacklist.allow() or blacklist.deny(reason)".into(),
            "boolean true".into()
        )
    );
    let (expected, got) = bad_return(v.blacklist_check("+2", None, NOON).unwrap_err());
    assert_eq!(
        (expected.as_str(), got.as_str()),
        ("a deny reason (string)", "nil")
    );
    assert_eq!(
        v.blacklist_check("+3", None, NOON).unwrap(),
        Verdict::Deny("because".into())
    );
}

#[test]
fn safe_defaults_are_what_the_contract_says() {
    assert_eq!(Verdict::fail_closed(), Verdict::Deny("script error".into()));
    assert_eq!(
        ModeChoice::fallback(waihu_script::DialMode::Progressive),
        ModeChoice {
            mode: waihu_script::DialMode::Progressive,
            priority: 0,
            agent: None
        }
    );
    assert_eq!(waihu_script::NEXT_ATTEMPT_ON_ERROR, None);
    assert!(waihu_script::offers_on_error().is_empty());
}
