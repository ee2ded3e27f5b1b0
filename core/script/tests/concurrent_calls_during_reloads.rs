//! Calls run in parallel on different states of a version, and keep
//! succeeding while reloads swap versions under them.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use common::{NOON, ScriptDir};
use waihu_script::{HostConfig, NoServices, ScriptHost, Services, Verdict};

fn marker(n: u64) -> String {
    format!("function blacklist.check(number, contact, now) return blacklist.deny('v{n}') end\n")
}

fn version_seen(verdict: Verdict) -> u64 {
    match verdict {
        Verdict::Deny(m) => m.trim_start_matches('v').parse().unwrap(),
        Verdict::Allow => panic!("allowed"),
    }
}

#[test]
fn four_threads_call_while_fifty_reloads_swap() {
    let dir = ScriptDir::new("hammer");
    dir.write("marker.lua", &marker(1));
    let host = Arc::new(ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));

    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (host, stop, calls) = (Arc::clone(&host), Arc::clone(&stop), Arc::clone(&calls));
            thread::spawn(move || {
                let mut last = 0;
                loop {
                    // One more call after the stop: it starts after the last
                    // reload returned, so it must see the last version.
                    let stopping = stop.load(Ordering::Relaxed);
                    let version = host.current();
                    let verdict = version.blacklist_check("+8613800138000", None, NOON);
                    let seen = version_seen(verdict.expect("no call may fail"));
                    assert_eq!(seen, version.info().number, "a version runs its own code");
                    assert!(
                        seen >= last,
                        "versions only move forward: {last} then {seen}"
                    );
                    last = seen;
                    calls.fetch_add(1, Ordering::Relaxed);
                    if stopping {
                        return last;
                    }
                }
            })
        })
        .collect();

    for n in 2..=51 {
        dir.write("marker.lua", &marker(n));
        let info = host.reload().unwrap();
        assert_eq!(info.number, n);
        let current = host.current();
        assert_eq!(current.info().number, n);
        let seen = version_seen(
            current
                .blacklist_check("+8613800138000", None, NOON)
                .unwrap(),
        );
        assert_eq!(seen, n, "a call after the swap sees the new code");
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert_eq!(w.join().unwrap(), 51);
    }
    assert!(calls.load(Ordering::Relaxed) > 100);
    let status = host.status();
    assert_eq!((status.reloads, status.failed_reloads), (50, 0));
}

/// A do-not-call lookup that returns only once `parties` lookups are in
/// progress at the same time, or gives up after a while.
struct Rendezvous {
    parties: usize,
    arrived: Mutex<usize>,
    all_here: Condvar,
}

impl Services for Rendezvous {
    fn dnc_contains(&self, _number: &str) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, timeout) = self
            .all_here
            .wait_timeout_while(arrived, Duration::from_secs(10), |n| *n < self.parties)
            .unwrap();
        drop(arrived);
        !timeout.timed_out()
    }
}

#[test]
fn calls_on_one_version_run_in_parallel() {
    let dir = ScriptDir::new("parallel");
    dir.write(
        "rules.lua",
        "function blacklist.check(n) if dnc.contains(n) then return blacklist.allow() end return blacklist.deny('alone') end\n",
    );
    let services = Arc::new(Rendezvous {
        parties: 3,
        arrived: Mutex::new(0),
        all_here: Condvar::new(),
    });
    let config = HostConfig {
        pool_size: 3,
        ..dir.config()
    };
    let host = Arc::new(ScriptHost::load(config, services).unwrap());
    let version = host.current();
    // Three calls meet inside the hook: only possible if each has a state.
    let verdicts: Vec<_> = thread::scope(|s| {
        let calls: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    version
                        .blacklist_check("+8613800138000", None, NOON)
                        .unwrap()
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(verdicts, vec![Verdict::Allow; 3]);
    assert_eq!(version.pool_counts(), (3, 3));
}

#[test]
fn calls_wait_for_a_state_beyond_the_pool_size() {
    let dir = ScriptDir::new("pool_cap");
    dir.write("rules.lua", &marker(1));
    let config = HostConfig {
        pool_size: 2,
        ..dir.config()
    };
    let host = ScriptHost::load(config, Arc::new(NoServices)).unwrap();
    let version = host.current();
    thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..200 {
                    version
                        .blacklist_check("+8613800138000", None, NOON)
                        .unwrap();
                }
            });
        }
    });
    let (idle, live) = version.pool_counts();
    assert_eq!(idle, live);
    assert!(live <= 2, "{live} states for a pool of 2");
}

#[test]
fn warm_up_builds_the_pool_ahead_of_calls() {
    let dir = ScriptDir::new("warm_up");
    dir.write("rules.lua", &marker(1));
    let config = HostConfig {
        pool_size: 3,
        ..dir.config()
    };
    let host = ScriptHost::load(config, Arc::new(NoServices)).unwrap();
    let version = host.current();
    assert_eq!(version.pool_counts(), (1, 1));
    assert_eq!(version.warm_up(), 3);
    assert_eq!(version.pool_counts(), (3, 3));
    assert_eq!(version.warm_up(), 3);
    assert_eq!(
        version_seen(
            version
                .blacklist_check("+8613800138000", None, NOON)
                .unwrap()
        ),
        1
    );
}
