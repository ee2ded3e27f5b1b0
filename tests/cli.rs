//! The `waihu` command line, as a user runs it: `--version`, and `check`
//! listing every problem of a bad file with its line, or accepting a good one.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Scratch, scratch};

/// Runs from the repository root, as the README does: the embedded defaults
/// find the bundled scripts in `./scripts`.
fn waihu(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_waihu"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(args)
        .output()
        .expect("run waihu");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_file(name: &str, text: &str) -> (Scratch, PathBuf) {
    let dir = scratch("waihu-cli");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    (dir, path)
}

#[test]
fn version_is_the_crate_version() {
    let (code, out, _) = waihu(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("waihu {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_accepts_the_embedded_defaults_and_the_example() {
    let (code, out, err) = waihu(&["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: <embedded defaults>"), "{out}");
    assert!(
        out.contains("ok: scripts scripts: version 1"),
        "the bundled scripts are checked: {out}"
    );
    assert!(
        out.contains("haoyun"),
        "the agent scripts are listed: {out}"
    );
    assert!(
        err.contains("DEMO PASSWORDS"),
        "demo passwords must be flagged: {err}"
    );
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../waihu.example.yaml");
    let (code, out, err) = waihu(&["check", "--config", example]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: "), "{out}");
}

#[test]
fn check_lists_every_problem_with_its_line_and_fails() {
    let (_dir, path) = temp_file(
        "bad.yaml",
        "\
sip:
  listen: [\"udp:127.0.0.1:99999\"]
  domain: \"bad domain\"
  realm: example.com
agents:
  - id: \"1001\"
    password: \"1001\"
  - id: \"1001\"
    password: \"\"
",
    );
    let (code, _, err) = waihu(&["check", "--config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    let file = path.display().to_string();
    for expected in [
        format!("{file}:2: sip.listen[0]:"),
        format!("{file}:3: sip.domain:"),
        format!("{file}:7: agents[0].password: the password equals the agent id"),
        format!("{file}:8: agents[1].id: duplicate agent id"),
        format!("{file}:9: agents[1].password: must not be empty"),
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(&expected)),
            "missing {expected:?} in:\n{err}"
        );
    }
}

#[test]
fn check_names_an_unknown_key_with_line_and_column() {
    let (_dir, path) = temp_file("typo.yaml", "sip:\n  lisen: []\n");
    let (code, _, err) = waihu(&["check", "--config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    assert!(err.contains(":2:3: sip: unknown field `lisen`"), "{err}");
}

#[test]
fn run_with_a_bad_config_exits_non_zero_without_listening() {
    let (_dir, path) = temp_file("run-bad.yaml", "sip:\n  listen: []\n");
    let (code, _, err) = waihu(&["run", "--config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("sip.listen"), "{err}");
}

#[test]
fn check_reports_a_broken_script_with_file_and_line() {
    let dir = scratch("waihu-cli-scripts");
    std::fs::write(
        dir.join("rules.lua"),
        "function blacklist.check(n)\n  return blacklist.allow(\nend\n",
    )
    .expect("write");
    let (_config, path) = temp_file(
        "with-scripts.yaml",
        &format!(
            "sip:\n  listen: [\"udp:127.0.0.1:5999\"]\n  domain: example.com\n  realm: example.com\nagents:\n  - id: \"2001\"\n    password: a-long-password\nscripts:\n  dir: \"{}\"\n",
            dir.display()
        ),
    );
    let (code, _, err) = waihu(&["check", "--config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    assert!(err.contains("rules.lua:3:"), "{err}");
}

#[test]
fn check_names_every_bad_prompt_file() {
    let dir = scratch("waihu-cli-prompts");
    std::fs::create_dir_all(dir.join("en")).expect("dir");
    // One good prompt, one that is not a WAV, one whose header promises
    // more data than the file holds.
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts/en/goodbye.wav");
    std::fs::copy(good, dir.join("en/goodbye.wav")).expect("copy");
    std::fs::write(dir.join("en/notes.wav"), "not a wav at all").expect("write");
    let mut lying = std::fs::read(good).expect("read");
    lying.truncate(lying.len() / 2);
    std::fs::write(dir.join("en/cut.wav"), lying).expect("write");
    let (_config, path) = temp_file(
        "with-prompts.yaml",
        &format!(
            "sip:\n  listen: [\"udp:127.0.0.1:5999\"]\n  domain: example.com\n  realm: example.com\nagents:\n  - id: \"2001\"\n    password: a-long-password\nprompts:\n  dir: \"{}\"\nscripts:\n  dir: \"{}\"\n",
            dir.display(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts")
        ),
    );
    let (code, _, err) = waihu(&["check", "--config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("notes.wav"), "{err}");
    assert!(err.contains("cut.wav"), "{err}");
    assert!(!err.contains("goodbye.wav"), "{err}");
}
