//! Routes under the limits: the budget and the memory limit end one route
//! and leave the others (and the state) working; dropped routes release
//! their coroutines.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::fs;
use std::sync::Arc;

use common::coordinator::Fake;
use common::{ScriptDir, fixture, within};
use waihu_call::{Command, Event};
use waihu_script::{CallInfo, HookErrorKind, HostConfig, NoServices, Route, ScriptHost, Step};

const FILE: &str = "scripts/route.lua";

fn host(pool_size: usize) -> (ScriptDir, ScriptHost) {
    let dir = ScriptDir::new("route-limits");
    dir.put_fixture("route/route.lua", "route.lua");
    let config = HostConfig {
        // Small limits keep the loops and bombs quick in debug builds.
        memory_limit: 16 * 1024 * 1024,
        instruction_budget: 200_000,
        pool_size,
        ..dir.config()
    };
    let host = ScriptHost::load(config, Arc::new(NoServices)).unwrap();
    (dir, host)
}

fn start(host: &ScriptHost, to: &str) -> Route {
    let info = CallInfo {
        to: to.into(),
        ..CallInfo::default()
    };
    host.current().start_route(info).unwrap()
}

fn line_of(marker: &str) -> u32 {
    let text = fs::read_to_string(fixture("route/route.lua")).unwrap();
    text.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

/// Resumes a route waiting on `answer` with the reply.
fn answered(route: &mut Route) -> Result<Step, waihu_script::HookError> {
    assert_eq!(route.resume(None).unwrap(), Step::Command(Command::Answer));
    route.resume(Some(Event::Answered))
}

#[test]
fn an_endless_loop_is_stopped_and_the_state_keeps_serving() {
    within(60, || {
        let (_dir, host) = host(1);
        // A route waiting on the same (only) state while the loop runs.
        let mut bystander = start(&host, "digits");
        let Step::Command(pending) = bystander.resume(None).unwrap() else {
            panic!("the bystander waits for digits");
        };

        let mut looping = start(&host, "loop");
        let err = answered(&mut looping).unwrap_err();
        assert_eq!(
            err.kind,
            HookErrorKind::InstructionBudget { budget: 200_000 }
        );
        assert_eq!(err.file.as_deref(), Some(FILE));
        assert_eq!(err.line, Some(line_of("@loop")), "{err}");
        assert_eq!(err.function, "route");
        assert!(looping.is_done());
        drop(looping);

        let mut next = start(&host, "returns");
        assert_eq!(Fake::default().drive(&mut next).unwrap(), [Command::Answer]);
        Fake::default().finish(&mut bystander, &pending).unwrap();
        assert_eq!(host.current().route_stats().states, 1);
    });
}

#[test]
fn a_memory_bomb_hits_the_limit_and_only_its_route_ends() {
    within(120, || {
        let (_dir, host) = host(1);
        let mut bystander = start(&host, "digits");
        let Step::Command(pending) = bystander.resume(None).unwrap() else {
            panic!("the bystander waits for digits");
        };

        let mut bomb = start(&host, "bomb");
        let err = answered(&mut bomb).unwrap_err();
        assert_eq!(
            err.kind,
            HookErrorKind::MemoryLimit {
                limit: 16 * 1024 * 1024
            }
        );
        assert_eq!(err.file.as_deref(), Some(FILE));
        assert_eq!(err.function, "route");
        drop(bomb);

        // The bombed state is retired: new routes get a fresh one, the
        // route already on it finishes there.
        let mut next = start(&host, "returns");
        assert_eq!(Fake::default().drive(&mut next).unwrap(), [Command::Answer]);
        Fake::default().finish(&mut bystander, &pending).unwrap();
        assert_eq!(
            bystander.vars().get("why").map(String::as_str),
            Some("timeout")
        );
        let stats = host.current().route_stats();
        assert_eq!((stats.states, stats.routes), (1, 1));
    });
}

#[test]
fn routes_spread_over_the_states_up_to_the_pool_size() {
    let (_dir, host) = host(3);
    let version = host.current();
    let one = start(&host, "digits");
    assert_eq!(version.route_stats().states, 1);
    let _two = start(&host, "digits");
    let _three = start(&host, "digits");
    let _four = start(&host, "digits");
    let stats = version.route_stats();
    assert_eq!((stats.states, stats.routes), (3, 4));
    drop(one);
    assert_eq!(version.route_stats().routes, 3);
}

#[test]
fn ten_thousand_dropped_routes_do_not_leak() {
    within(300, || {
        let (_dir, host) = host(1);
        let version = host.current();
        let run = |n: usize| {
            for _ in 0..n {
                let mut route = start(&host, "digits");
                assert!(matches!(route.resume(None).unwrap(), Step::Command(_)));
            }
        };
        run(1000);
        let after_1k = version.route_stats().memory;
        run(9000);
        let stats = version.route_stats();
        assert_eq!(stats.routes, 0);
        // Suspended coroutines held on would take several MiB; the
        // collector keeps dropped ones to about what 1,000 left.
        assert!(
            stats.memory < after_1k + 2 * 1024 * 1024,
            "{} bytes after 1,000 routes, {} after 10,000",
            after_1k,
            stats.memory
        );
    });
}

#[test]
fn routes_resume_from_other_threads() {
    let (_dir, host) = host(2);
    let mut routes: Vec<Route> = (0..8).map(|_| start(&host, "pcall")).collect();
    let handles: Vec<_> = routes
        .drain(..)
        .map(|mut route| {
            std::thread::spawn(move || {
                Fake::default().drive(&mut route).unwrap();
                route.vars().get("ok").cloned()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().as_deref(), Some("true"));
    }
}
