//! The cost of one hook call (single thread, and two threads calling the
//! same version at once), of a route resume, and of a reload.
//!
//! `cargo bench -p waihu-script --bench hooks`. Goals (issue 3): a hook call
//! under 5 µs, a reload under 50 ms. The rule scripts are the test fixture
//! `tests/fixtures/campaign` (about 360 lines: segments, retries, retention,
//! blacklist with two lib modules, two agent scripts, self-checks); the
//! shipped `scripts/` directory is measured too when it loads.

// Benches measure wall time; the crate itself never reads the clock.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use waihu_call::Event;
use waihu_script::{CallInfo, Contact, HostConfig, NoServices, ScriptHost, Version};

const NOON: i64 = 1_700_020_800;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/campaign")
}

fn contact() -> Contact {
    Contact {
        id: 7,
        phone: "+8613800138000".into(),
        timezone: Some("Asia/Shanghai".into()),
        attempts: 2,
        last_agent: Some("1001".into()),
        fields: BTreeMap::from([
            ("segment".to_owned(), "new".to_owned()),
            ("inactive_days".to_owned(), "35".to_owned()),
            ("vip".to_owned(), "false".to_owned()),
        ]),
    }
}

/// Times `iters` calls of `call` on each of `threads` threads started
/// together; the result is wall time per call as each thread sees it.
fn on_threads(version: &Arc<Version>, threads: usize, iters: u64, call: fn(&Version)) -> Duration {
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (version, start) = (Arc::clone(version), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let t = Instant::now();
                for _ in 0..iters {
                    call(&version);
                }
                t.elapsed()
            })
        })
        .collect();
    start.wait();
    let total: Duration = workers.into_iter().map(|w| w.join().unwrap()).sum();
    total / threads as u32
}

/// Built once: the bench measures the call, not the making of a contact.
fn sample() -> &'static Contact {
    static CONTACT: OnceLock<Contact> = OnceLock::new();
    CONTACT.get_or_init(contact)
}

fn blacklist_check(v: &Version) {
    black_box(
        v.blacklist_check(black_box("+8613800138000"), Some(sample()), NOON)
            .unwrap(),
    );
}

fn select_mode(v: &Version) {
    black_box(v.select_mode(black_box(sample())).unwrap());
}

fn hook_calls(c: &mut Criterion) {
    let config = HostConfig {
        dir: fixture(),
        ..HostConfig::default()
    };
    let host = ScriptHost::load(config, Arc::new(NoServices)).unwrap();
    let version = host.current();
    let mut group = c.benchmark_group("hook call");
    group.measurement_time(Duration::from_secs(3));
    for (name, call) in [
        ("blacklist_check", blacklist_check as fn(&Version)),
        ("select_mode", select_mode),
    ] {
        group.bench_function(format!("{name}, 1 thread"), |b| b.iter(|| call(&version)));
        group.bench_function(format!("{name}, 2 threads"), |b| {
            b.iter_custom(|iters| on_threads(&version, 2, iters, call))
        });
    }
    group.finish();

    // The host's own share: the same calls on hooks that do nothing.
    let scratch =
        std::env::temp_dir().join(format!("waihu-script-bench-{}-trivial", std::process::id()));
    let dir = scratch.join("scripts");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("trivial.lua"),
        "function blacklist.check(n, c, now) return blacklist.allow() end\n\
         function campaign.select_mode(c) return { mode = 'predictive', priority = 1 } end\n",
    )
    .unwrap();
    let config = HostConfig {
        dir,
        ..HostConfig::default()
    };
    let trivial = ScriptHost::load(config, Arc::new(NoServices))
        .unwrap()
        .current();
    let mut group = c.benchmark_group("host overhead (empty hooks)");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("blacklist_check, 1 thread", |b| {
        b.iter(|| blacklist_check(&trivial))
    });
    group.bench_function("select_mode, 1 thread", |b| {
        b.iter(|| select_mode(&trivial))
    });
    group.finish();
    let _ = fs::remove_dir_all(&scratch);
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Reload latency: each iteration changes one file (so the hash differs)
/// and reloads: read, hash, build and validate a state, swap.
fn reload_of(c: &mut Criterion, name: &str, source: &Path) {
    let scratch =
        std::env::temp_dir().join(format!("waihu-script-bench-{}-{name}", std::process::id()));
    let dir = scratch.join("scripts");
    let _ = fs::remove_dir_all(&scratch);
    copy_tree(source, &dir);
    let config = HostConfig {
        dir: dir.clone(),
        ..HostConfig::default()
    };
    let host = match ScriptHost::load(config, Arc::new(NoServices)) {
        Ok(host) => host,
        Err(e) => {
            eprintln!("skipping reload of {name}: {e}");
            return;
        }
    };
    let mut n = 0u64;
    let mut group = c.benchmark_group("reload");
    group.sample_size(30);
    group.bench_function(name, |b| {
        b.iter(|| {
            n += 1;
            fs::write(dir.join("zz_bench_marker.lua"), format!("-- {n}\n")).unwrap();
            black_box(host.reload().unwrap());
        })
    });
    group.finish();
    let _ = fs::remove_dir_all(&scratch);
}

fn reloads(c: &mut Criterion) {
    reload_of(c, "fixture campaign", &fixture());
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
    if shipped.is_dir() {
        reload_of(c, "shipped scripts", &shipped);
    }
}

/// One route resume: a reply in, Lua to the next `call:` method, the
/// command out. And a route's whole setup: start, first resume, drop.
fn route_resumes(c: &mut Criterion) {
    let scratch =
        std::env::temp_dir().join(format!("waihu-script-bench-{}-route", std::process::id()));
    let dir = scratch.join("scripts");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("route.lua"),
        "function route(call)\n\
         \x20 call:answer()\n\
         \x20 while true do call:play({ 'en/menu', { silence = 200 } }, { barge_in = true }) end\n\
         end\n",
    )
    .unwrap();
    let config = HostConfig {
        dir,
        ..HostConfig::default()
    };
    let version = ScriptHost::load(config, Arc::new(NoServices))
        .unwrap()
        .current();
    let mut group = c.benchmark_group("route");
    group.measurement_time(Duration::from_secs(3));
    let mut route = version.start_route(CallInfo::default()).unwrap();
    route.resume(None).unwrap();
    route.resume(Some(Event::Answered)).unwrap();
    group.bench_function("resume (play reply -> next play)", |b| {
        b.iter(|| {
            let reply = Event::PlaybackDone {
                interrupted_by: None,
            };
            black_box(route.resume(Some(reply)).unwrap());
        })
    });
    group.bench_function("start, first resume, drop", |b| {
        b.iter(|| {
            let mut r = version.start_route(CallInfo::default()).unwrap();
            black_box(r.resume(None).unwrap());
        })
    });
    group.finish();
    drop(route);
    let _ = fs::remove_dir_all(&scratch);
}

criterion_group!(benches, hook_calls, route_resumes, reloads);
criterion_main!(benches);
