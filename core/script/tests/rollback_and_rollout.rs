//! Versions: numbers, pinning, rollback to the previous version, and the
//! staged rollout of `pick`.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::sync::Arc;

use common::{NOON, ScriptDir, contact};
use waihu_script::{NoServices, RollbackError, ScriptHost, Verdict, Version};

fn marker(n: u32) -> String {
    format!(
        "function blacklist.check(number, contact, now) return blacklist.deny('v{n}') end\n\
         function campaign.select_mode(c) return {{ mode = 'manual', priority = {n} }} end\n"
    )
}

fn seen(v: &Version) -> String {
    match v.blacklist_check("+8613800138000", None, NOON).unwrap() {
        Verdict::Deny(marker) => marker,
        Verdict::Allow => panic!("allowed"),
    }
}

fn host(dir: &ScriptDir) -> ScriptHost {
    dir.write("marker.lua", &marker(1));
    ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap()
}

#[test]
fn reload_swaps_and_pinned_work_keeps_its_version() {
    let dir = ScriptDir::new("reload_swaps");
    let host = host(&dir);
    let pinned = host.current();
    dir.write("marker.lua", &marker(2));
    let info = host.reload().unwrap();
    assert_eq!(info.number, 2);
    assert_ne!(info.hash, pinned.info().hash);
    assert_eq!(seen(&host.current()), "v2");
    assert_eq!(seen(&pinned), "v1", "work started on version 1 stays on it");
    let status = host.status();
    assert_eq!(status.current.number, 2);
    assert_eq!(status.previous.unwrap().number, 1);
    assert_eq!((status.reloads, status.failed_reloads), (1, 0));
}

#[test]
fn reload_of_unchanged_scripts_keeps_the_version() {
    let dir = ScriptDir::new("reload_unchanged");
    let host = host(&dir);
    let before = host.current();
    assert_eq!(host.reload().unwrap().number, 1);
    assert!(Arc::ptr_eq(&before, &host.current()));
    assert_eq!(host.status().reloads, 0);
}

#[test]
fn rollback_returns_to_the_previous_version_once() {
    let dir = ScriptDir::new("rollback");
    let host = host(&dir);
    assert_eq!(host.rollback().unwrap_err(), RollbackError::NoPrevious);

    dir.write("marker.lua", &marker(2));
    host.reload().unwrap();
    let on_two = host.current();
    let info = host.rollback().unwrap();
    assert_eq!(info.number, 1);
    assert_eq!(seen(&host.current()), "v1");
    assert_eq!(
        seen(&on_two),
        "v2",
        "work pinned to the bad version finishes on it"
    );
    assert_eq!(host.status().previous, None);
    assert_eq!(host.rollback().unwrap_err(), RollbackError::NoPrevious);

    // Numbers keep counting after a rollback.
    dir.write("marker.lua", &marker(3));
    assert_eq!(host.reload().unwrap().number, 3);
    assert_eq!(seen(&host.current()), "v3");
    assert_eq!(host.status().previous.unwrap().number, 1);
}

#[test]
fn rollout_gives_the_new_version_its_share_of_new_work() {
    let dir = ScriptDir::new("rollout");
    let host = host(&dir);
    host.set_rollout(10);
    // No previous version yet: everything on the current one.
    assert!((0..1000).all(|id| host.pick(id).info().number == 1));
    assert_eq!(host.status().rollout_percent, 100);

    dir.write("marker.lua", &marker(2));
    host.reload().unwrap();
    assert_eq!(host.status().rollout_percent, 10);
    let on_new = |host: &ScriptHost| {
        (0..10_000u64)
            .filter(|&id| host.pick(id).info().number == 2)
            .count()
    };
    let share = on_new(&host);
    assert!(
        (800..=1200).contains(&share),
        "{share} of 10000 on the new version"
    );
    // Deterministic by work id.
    let picks: Vec<u64> = (0..200).map(|id| host.pick(id).info().number).collect();
    assert_eq!(
        picks,
        (0..200)
            .map(|id| host.pick(id).info().number)
            .collect::<Vec<_>>()
    );
    // The work picked for the new version runs the new code.
    let id = (0..).find(|&id| host.pick(id).info().number == 2).unwrap();
    assert_eq!(seen(&host.pick(id)), "v2");
    let id = (0..).find(|&id| host.pick(id).info().number == 1).unwrap();
    assert_eq!(seen(&host.pick(id)), "v1");

    host.set_rollout(50);
    let half = on_new(&host);
    assert!((4500..=5500).contains(&half), "{half}");
    // Raising the share only moves work towards the new version.
    assert!(
        (0..10_000u64)
            .filter(|&id| host.pick(id).info().number == 2)
            .count()
            >= share
    );
    host.set_rollout(0);
    assert_eq!(on_new(&host), 0);
    host.set_rollout(200);
    assert_eq!(on_new(&host), 10_000);
    assert_eq!(host.status().rollout_percent, 100);

    // The rollout stays set across reloads; a rollback ends the split.
    host.set_rollout(10);
    dir.write("marker.lua", &marker(3));
    host.reload().unwrap();
    assert!(
        (800..=1200).contains(
            &(0..10_000u64)
                .filter(|&id| host.pick(id).info().number == 3)
                .count()
        )
    );
    host.rollback().unwrap();
    assert!((0..1000).all(|id| host.pick(id).info().number == 2));
}

#[test]
fn current_ignores_the_rollout() {
    let dir = ScriptDir::new("current_vs_pick");
    let host = host(&dir);
    host.set_rollout(0);
    dir.write("marker.lua", &marker(2));
    host.reload().unwrap();
    assert_eq!(host.current().info().number, 2);
    assert_eq!(host.pick(1).info().number, 1);
    assert_eq!(
        host.current().select_mode(&contact(&[])).unwrap().priority,
        2
    );
}
