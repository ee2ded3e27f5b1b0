//! Hot reload of the Lua scripts in the running binary: 100 reloads while
//! hook calls run without pause from another thread, a broken script that
//! leaves the serving version alone, and the other triggers (SIGHUP, a file
//! change, `waihu reload`, `waihu rollback`).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Config, Scratch, Server, http_get, http_post, scratch};

/// A scripts directory whose blacklist rule denies the number "mark" with
/// the reason `mark-N`, so every answer says which script text it ran.
fn scripts_dir() -> Scratch {
    let dir = scratch("waihu-scripts");
    write_rule(&dir, 1);
    dir
}

fn write_rule(dir: &Path, mark: u64) {
    let text = format!(
        "local MARK = {mark}\n\
         function blacklist.check(number, contact, now)\n  \
           if number == \"mark\" then return blacklist.deny(\"mark-\" .. MARK) end\n  \
           return blacklist.allow()\n\
         end\n"
    );
    // Written whole then renamed, as editors do: a reload never sees half a file.
    let tmp = dir.join(".blacklist.lua.tmp");
    std::fs::write(&tmp, text).expect("write rule");
    std::fs::rename(&tmp, dir.join("blacklist.lua")).expect("rename rule");
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Calls blacklist.check on "mark": (serving version, mark it ran).
fn try_mark(server: &Server) -> Result<(u64, u64), String> {
    let (status, body) = http_post(
        server.http,
        "/api/v1/scripts/try/blacklist.check",
        r#"{"number":"mark"}"#,
    )
    .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    let v = json(&body);
    let version = v["version"].as_u64().ok_or(format!("no version: {body}"))?;
    if v["result"]["verdict"] != "deny" {
        return Err(format!("not denied: {body}"));
    }
    let reason = v["result"]["reason"]
        .as_str()
        .ok_or(format!("no reason: {body}"))?;
    let mark = reason
        .strip_prefix("mark-")
        .and_then(|m| m.parse().ok())
        .ok_or(format!("bad reason: {body}"))?;
    Ok((version, mark))
}

fn reload(server: &Server) -> (u16, serde_json::Value) {
    let (status, body) =
        http_post(server.http, "/api/v1/scripts/reload", "").expect("reload request");
    (status, json(&body))
}

fn serving_version(server: &Server) -> u64 {
    let (status, body) = http_get(server.http, "/api/v1/scripts").expect("scripts status");
    assert_eq!(status, 200, "{body}");
    json(&body)["current"]["number"]
        .as_u64()
        .expect("current.number")
}

#[test]
fn a_hundred_reloads_under_continuous_hook_calls_fail_no_call() {
    let dir = scripts_dir();
    let server = Arc::new(Server::start(&Config {
        scripts_dir: dir.to_path_buf(),
        ..Config::default()
    }));
    assert_eq!(try_mark(&server), Ok((1, 1)));

    let stop = Arc::new(AtomicBool::new(false));
    // The newest version whose reload has returned: a call that starts after
    // that must run it (or a newer one).
    let published = Arc::new(AtomicU64::new(1));
    let caller = {
        let (server, stop, published) = (server.clone(), stop.clone(), published.clone());
        std::thread::spawn(move || {
            let mut calls = 0u64;
            let mut last = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let floor = published.load(Ordering::SeqCst);
                let (version, mark) =
                    try_mark(&server).unwrap_or_else(|e| panic!("hook call {calls} failed: {e}"));
                assert_eq!(
                    mark, version,
                    "version {version} ran the text of version {mark}"
                );
                assert!(
                    version >= floor,
                    "a call after reload {floor} returned ran version {version}"
                );
                assert!(
                    version >= last,
                    "versions went backwards: {last} then {version}"
                );
                last = version;
                calls += 1;
            }
            calls
        })
    };
    for n in 2..=101u64 {
        write_rule(&dir, n);
        let (status, body) = reload(&server);
        assert_eq!(status, 200, "reload {n}: {body}");
        assert_eq!(body["version"]["number"].as_u64(), Some(n), "{body}");
        published.store(n, Ordering::SeqCst);
        assert_eq!(try_mark(&server), Ok((n, n)), "right after reload {n}");
    }
    stop.store(true, Ordering::SeqCst);
    let calls = caller.join().expect("the calling thread failed");
    assert!(
        calls > 100,
        "only {calls} hook calls ran during the reloads"
    );
    let server = Arc::into_inner(server).expect("one owner");
    server.stop();
}

#[test]
fn a_broken_script_keeps_the_serving_version_and_names_file_and_line() {
    let dir = scripts_dir();
    let server = Server::start(&Config {
        scripts_dir: dir.to_path_buf(),
        ..Config::default()
    });
    std::fs::write(dir.join("broken.lua"), "local x = 1\nfunction oops(\n").expect("write");
    let (status, body) = reload(&server);
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().expect("error text");
    assert!(
        error.contains("broken.lua:"),
        "the error names the file and line: {error}"
    );
    assert_eq!(body["serving"].as_u64(), Some(1));
    assert_eq!(
        try_mark(&server),
        Ok((1, 1)),
        "the old version still serves"
    );
    let (_, status) = http_get(server.http, "/api/v1/scripts").expect("status");
    assert!(
        json(&status)["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("broken.lua")),
        "{status}"
    );

    // `waihu reload` says the same and fails; fixed, it succeeds.
    let config = server.dir.join("waihu.yaml");
    let out = waihu(&["reload", "--config", config.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.lua:"),
        "{out:?}"
    );
    std::fs::remove_file(dir.join("broken.lua")).expect("remove");
    write_rule(&dir, 2);
    let out = waihu(&["reload", "--config", config.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(try_mark(&server), Ok((2, 2)));
    // And `waihu rollback` goes back to version 1's text.
    let out = waihu(&["rollback", "--config", config.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    let (_, mark) = try_mark(&server).expect("call after rollback");
    assert_eq!(mark, 1, "rolled back to the first text");
    server.stop();
}

#[test]
fn a_file_change_reloads_by_itself() {
    let dir = scripts_dir();
    let server = Server::start(&Config {
        scripts_dir: dir.to_path_buf(),
        scripts_watch: true,
        ..Config::default()
    });
    write_rule(&dir, 2);
    server.wait_for(
        "a reload after the file change",
        Duration::from_secs(10),
        |s| serving_version(s) == 2,
    );
    assert_eq!(try_mark(&server), Ok((2, 2)));
    server.stop();
}

#[test]
fn sighup_reloads() {
    let dir = scripts_dir();
    let server = Server::start(&Config {
        scripts_dir: dir.to_path_buf(),
        ..Config::default()
    });
    // Not watching: the change waits for the signal.
    write_rule(&dir, 2);
    assert_eq!(try_mark(&server), Ok((1, 1)));
    let pid = server.pid().to_string();
    let status = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    server.wait_for("a reload after SIGHUP", Duration::from_secs(10), |s| {
        serving_version(s) == 2
    });
    assert_eq!(try_mark(&server), Ok((2, 2)));
    server.stop();
}

#[test]
fn a_bad_hook_call_reports_its_safe_default() {
    let dir = scripts_dir();
    std::fs::write(
        dir.join("blacklist.lua"),
        "function blacklist.check(number)\n  while true do end\nend\n",
    )
    .expect("write");
    let server = Server::start(&Config {
        scripts_dir: dir.to_path_buf(),
        ..Config::default()
    });
    let (status, body) = http_post(
        server.http,
        "/api/v1/scripts/try/blacklist.check",
        r#"{"number":"+8613800138000"}"#,
    )
    .expect("try");
    assert_eq!(status, 422, "{body}");
    let v = json(&body);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("blacklist.lua:")),
        "{body}"
    );
    assert!(
        v["safe_default"]
            .to_string()
            .to_lowercase()
            .contains("deny"),
        "fail closed: {body}"
    );
    // The switch is still healthy.
    assert_eq!(
        http_get(server.http, "/api/v1/health").expect("health").0,
        200
    );
    server.stop();
}

fn waihu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_waihu"))
        .args(args)
        .output()
        .expect("run waihu")
}
