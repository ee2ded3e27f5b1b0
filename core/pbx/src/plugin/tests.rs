//! The host against the workspace's real plugin libraries.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use waihu_media::amd::{Detector, Verdict};

use super::*;

#[path = "../../../../tests/common/plugins.rs"]
mod built;

fn settings(name: &str, package: &str, config: serde_json::Value) -> PluginSettings {
    PluginSettings {
        name: name.into(),
        path: built::built(package),
        config_json: config.to_string(),
        // Generous: these tests are not about time, and a loaded machine
        // (parallel tests, cargo builds) must not turn a panic into a timeout.
        timeout: Duration::from_secs(10),
        max_failures: 3,
        queue: 100,
        workers: 2,
    }
}

/// A directory of one test's own (tests run in parallel and must not
/// rewrite each other's files), removed when it drops.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(
            tempfile::Builder::new()
                .prefix("waihu-plugin-host-")
                .tempdir()
                .unwrap(),
        )
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn crm(tmp: &Scratch) -> PluginSettings {
    let csv = tmp.file("crm.csv");
    std::fs::write(
        &csv,
        "phone,id,name,plan,tenure_months,monthly_spend,last_agent,churn_score\n\
         +8613800000001,42,Li Lei,gold,36,199.5,1001,0.82\n",
    )
    .unwrap();
    settings("crm", "crm-csv", json!({ "file": csv }))
}

#[tokio::test]
async fn a_loaded_plugin_answers_lookups_and_lua_calls() {
    let tmp = Scratch::new();
    let plugins = Plugins::load(&[crm(&tmp)]);
    let (by, customer) = plugins.lookup("+8613800000001").await.unwrap();
    assert_eq!(by, "crm");
    assert_eq!(customer["name"], "Li Lei");
    assert_eq!(plugins.lookup("+8613899999999").await, None);
    let got = tokio::task::spawn_blocking(move || {
        let r = plugins.lua_call("crm", "lookup", json!(["42"]));
        (r, plugins)
    })
    .await
    .unwrap();
    let (r, plugins) = got;
    assert_eq!(r.unwrap()["plan"], "gold");
    assert_eq!(
        plugins.lua_call("crm", "nope", json!([])),
        Err(CallError::Unsupported)
    );
    let status = &plugins.status()[0];
    assert!(status.loaded && !status.disabled);
    assert_eq!(status.plugin.as_deref(), Some("crm-csv"));
    assert_eq!(status.capabilities, ["lookup", "lua"]);
    assert_eq!(status.lua_functions, ["lookup", "count"]);
    assert_eq!(status.calls, 3);
}

#[test]
fn wrong_abi_missing_entry_and_missing_file_are_refused_naming_the_file() {
    let wrong = settings("w", "waihu-test-plugin-wrong-abi", json!({}));
    let none = settings("n", "waihu-test-plugin-no-entry", json!({}));
    let tmp = Scratch::new();
    let mut gone = crm(&tmp);
    gone.path = tmp.file("no-such-plugin.so");
    let results = check(&[wrong.clone(), none.clone(), gone.clone()]);
    let errors: Vec<String> = results
        .into_iter()
        .map(|r| r.unwrap_err().to_string())
        .collect();
    assert!(
        errors[0].starts_with(&wrong.path.display().to_string())
            && errors[0].contains("ABI version 999"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with(&none.path.display().to_string())
            && errors[1].contains("no `waihu_plugin_entry` symbol"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("no-such-plugin.so"), "{}", errors[2]);

    // The switch runs without them, and says why.
    let plugins = Plugins::load(&[wrong, crm(&tmp)]);
    let status = plugins.status();
    assert!(!status[0].loaded);
    assert!(
        status[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("ABI version")
    );
    assert!(status[1].loaded);
}

#[test]
fn a_refused_config_is_a_load_error_with_the_plugins_message() {
    let bad = settings("crm", "crm-csv", json!({}));
    let err = check(&[bad]).pop().unwrap().unwrap_err().to_string();
    assert!(err.contains("config.file is required"), "{err}");
}

#[test]
fn a_panicking_plugin_is_counted_then_disabled_and_a_reload_enables_it() {
    let plugins = Plugins::load(&[settings("p", "waihu-test-plugin-panicky", json!({}))]);
    for _ in 0..3 {
        let r = plugins.lua_call("p", "boom", json!([]));
        assert!(
            matches!(&r, Err(CallError::Panicked(m)) if m.contains("panicky: lua_call")),
            "{r:?}"
        );
    }
    assert_eq!(
        plugins.lua_call("p", "boom", json!([])),
        Err(CallError::Disabled)
    );
    let s = &plugins.status()[0];
    assert!(s.disabled);
    assert_eq!((s.panics, s.calls, s.disabled_times), (3, 3, 1));
    plugins.reload("p").unwrap();
    let s = &plugins.status()[0];
    assert!(!s.disabled && s.reloads == 1);
    assert!(matches!(
        plugins.lua_call("p", "boom", json!([])),
        Err(CallError::Panicked(_))
    ));
    assert!(matches!(
        plugins.reload("nobody"),
        Err(ReloadError::Unknown(_))
    ));
}

#[tokio::test]
async fn a_slow_lookup_times_out_and_counts_as_a_failure() {
    let mut slow = settings(
        "slow",
        "waihu-test-plugin-slow",
        json!({ "sleep_ms": 1000 }),
    );
    slow.timeout = Duration::from_millis(50);
    slow.max_failures = 2;
    let plugins = Plugins::load(&[slow]);
    assert_eq!(plugins.lookup("+1").await, None);
    let s = &plugins.status()[0];
    assert_eq!((s.timeouts, s.failures_in_a_row), (1, 1));
    // The worker is still asleep on the first: the second waits in its
    // queue past its budget too, and the plugin is disabled.
    assert_eq!(plugins.lookup("+1").await, None);
    assert!(plugins.status()[0].disabled);
}

#[test]
fn events_reach_the_file_and_are_flushed_at_shutdown() {
    let tmp = Scratch::new();
    let file = tmp.file("events.jsonl");
    let plugins = Plugins::load(&[settings(
        "warehouse",
        "events-jsonl",
        json!({ "file": file, "flush": "buffered" }),
    )]);
    assert!(plugins.wants_events());
    for n in 0..3 {
        plugins.emit(Event::Campaign {
            at_ms: n,
            campaign: "spring".into(),
            state: "running".into(),
        });
    }
    plugins.shutdown();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[2],
        json!({"kind": "campaign", "at_ms": 2, "campaign": "spring", "state": "running"})
    );
    assert_eq!(plugins.status()[0].events_queued, 3);
}

#[test]
fn a_detector_plugin_that_cannot_make_one_leaves_the_call_to_the_built_in() {
    let plugins = Arc::new(Plugins::load(&[settings(
        "p",
        "waihu-test-plugin-panicky",
        json!({}),
    )]));
    let spec = AmdSpec::Plugin {
        plugins: plugins.clone(),
        name: "p".into(),
        campaign: "c".into(),
    };
    let mut detector = spec.start();
    // The built-in detector hears silence: unsure, after its initial wait.
    let silence = [0i16; 160];
    let mut decision = None;
    for i in 0..400u32 {
        if let Some(d) = detector.push(&silence, i * 20) {
            decision = Some(d);
            break;
        }
    }
    let d = decision.expect("the built-in detector decides on silence");
    assert_eq!(d.verdict, Verdict::Unsure);
    assert_eq!(d.reason.as_str(), "silence");
    assert_eq!(plugins.status()[0].panics, 1);
}

/// `plugins/testing/c/lookup.c`, built against the C header with the
/// system C compiler (which the build needs anyway, for SQLite and Lua).
fn c_plugin(tmp: &Scratch) -> PathBuf {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = tmp.file("libc_lookup.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(&cc)
        .args([
            "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I",
        ])
        .arg(format!("{root}/core/plugin-abi/include"))
        .arg(format!("{root}/plugins/testing/c/lookup.c"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(status.success(), "{cc} could not build the C plugin");
    out
}

#[tokio::test]
async fn a_plugin_written_in_c_against_the_header_loads_and_answers() {
    let tmp = Scratch::new();
    let s = PluginSettings {
        name: "c".into(),
        path: c_plugin(&tmp),
        config_json: "{}".into(),
        timeout: Duration::from_secs(10),
        max_failures: 3,
        queue: 100,
        workers: 2,
    };
    let plugins = Arc::new(Plugins::load(&[s]));
    let status = &plugins.status()[0];
    assert_eq!(status.plugin.as_deref(), Some("c-lookup"), "{status:?}");
    assert_eq!(status.capabilities, ["events", "lookup", "lua"]);
    assert_eq!(status.lua_functions, ["echo", "events"]);
    let (_, customer) = plugins.lookup("42").await.unwrap();
    assert_eq!(
        customer,
        json!({"name": "Zhang Wei", "plan": "silver", "tenure_months": 7})
    );
    assert_eq!(plugins.lookup("43").await, None);
    for n in 0..3 {
        plugins.emit(Event::Campaign {
            at_ms: n,
            campaign: "c".into(),
            state: "running".into(),
        });
    }
    let p = plugins.clone();
    tokio::task::spawn_blocking(move || {
        assert_eq!(
            p.lua_call("c", "echo", json!(["+86", 1, {"a": [true]}])),
            Ok(json!(["+86", 1, {"a": [true]}]))
        );
        assert_eq!(
            p.lua_call("c", "nope", json!([])),
            Err(CallError::Unsupported)
        );
        // The three events arrive on the sink's thread.
        let mut seen = json!(0);
        for _ in 0..1000 {
            seen = p.lua_call("c", "events", json!([])).unwrap();
            if seen == json!(3) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(seen, json!(3));
    })
    .await
    .unwrap();
}

#[test]
fn a_detector_made_before_a_reload_finishes_its_call_on_the_old_instance() {
    let tmp = Scratch::new();
    let path = tmp.file("libfixed.so");
    std::fs::copy(built::built("waihu-test-plugin-fixed-amd"), &path).unwrap();
    let mut s = settings(
        "fixed",
        "waihu-test-plugin-fixed-amd",
        json!({ "after_ms": 40 }),
    );
    s.path = path.clone();
    let plugins = Arc::new(Plugins::load(&[s]));
    let spec = AmdSpec::Plugin {
        plugins: plugins.clone(),
        name: "fixed".into(),
        campaign: "c".into(),
    };
    let mut in_call = spec.start();
    let frame = [0i16; 160];
    assert_eq!(in_call.push(&frame, 0), None);
    // Another library altogether at the same path: reloaded, it serves
    // new calls, while the call in progress keeps the old code mapped.
    std::fs::copy(built::built("waihu-test-plugin-panicky"), &path).unwrap();
    plugins.reload("fixed").unwrap();
    assert_eq!(plugins.status()[0].plugin.as_deref(), Some("panicky"));
    let d = in_call.push(&frame, 40).expect("the old detector decides");
    assert_eq!((d.verdict, d.at_ms), (Verdict::Machine, 40));
    assert_eq!(d.reason.as_str(), "plugin");
    assert_eq!(
        in_call.push(&frame, 60),
        None,
        "a decision is reported once"
    );
    assert_eq!(in_call.finish(80), d);
    drop(in_call);
}
