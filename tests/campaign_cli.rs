//! `waihu campaign`, `waihu dnc` and `waihu simulate` as an operator runs
//! them, on a store file and no running switch.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Scratch, scratch};

fn waihu(args: &[&str], config: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_waihu"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run waihu");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A directory of its own, and a config with one campaign whose store is in it.
fn setup(name: &str, campaign_extra: &str) -> (Scratch, PathBuf) {
    let dir = scratch(&format!("waihu-campaign-cli-{name}"));
    let config = dir.join("waihu.yaml");
    let yaml = format!(
        "sip:\n  listen: [\"udp:127.0.0.1:0\"]\n  domain: waihu.test\n  realm: waihu.test\n\
         store:\n  url: \"sqlite://{}\"\n\
         trunks:\n  - name: carrier\n    host: 127.0.0.1\n\
         queues:\n  - name: outbound\n\
         campaigns:\n  - name: renewals\n    trunk_group: carrier\n    queue: outbound\n{campaign_extra}",
        dir.join("waihu.db").display()
    );
    std::fs::write(&config, yaml).expect("config");
    (dir, config)
}

const SPEC: &str = "    import:\n      default_timezone: Asia/Shanghai\n";

#[test]
fn an_import_reports_bad_rows_by_line_and_keeps_the_good_ones() {
    let (dir, config) = setup("import", SPEC);
    let csv = dir.join("list.csv");
    std::fs::write(
        &csv,
        "phone,name,segment\n13800138000,王芳,vip\nnot a number,李雷,new\n\
         +86 138 0013 8001,韩梅梅,prospect\n138-0013-8000,,loyal\n",
    )
    .expect("csv");
    let (code, out, err) = waihu(
        &[
            "campaign",
            "import",
            "renewals",
            csv.to_str().expect("path"),
        ],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("3 rows imported (2 new, 1 merged), 1 bad rows skipped"),
        "{out}"
    );
    assert!(err.contains("list.csv:3: phone `not a number`"), "{err}");
    let (code, out, err) = waihu(&["campaign", "status", "renewals"], &config);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(status["counts"]["contacts"]["pending"], 2, "{out}");
    assert_eq!(status["state"], "draft");
}

#[test]
fn a_strict_import_with_one_bad_row_imports_nothing() {
    let (dir, config) = setup("strict", SPEC);
    let csv = dir.join("list.csv");
    std::fs::write(&csv, "phone\n13800138000\n12\n13800138001\n").expect("csv");
    let (code, _, err) = waihu(
        &[
            "campaign",
            "import",
            "renewals",
            csv.to_str().expect("path"),
            "--strict",
        ],
        &config,
    );
    assert_eq!(code, 1);
    assert!(err.contains("nothing imported"), "{err}");
    assert!(err.contains("list.csv:3"), "{err}");
    let (_, out, _) = waihu(&["campaign", "status", "renewals"], &config);
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        status["counts"]["contacts"]
            .as_object()
            .expect("counts")
            .is_empty(),
        "{out}"
    );
}

#[test]
fn a_list_without_the_phone_column_is_refused_naming_what_it_has() {
    let (dir, config) = setup("header", SPEC);
    let csv = dir.join("list.csv");
    std::fs::write(&csv, "mobile,name\n13800138000,王芳\n").expect("csv");
    let (code, _, err) = waihu(
        &[
            "campaign",
            "import",
            "renewals",
            csv.to_str().expect("path"),
        ],
        &config,
    );
    assert_eq!(code, 1);
    assert!(err.contains("phone") && err.contains("mobile"), "{err}");
}

#[test]
fn importing_into_an_unknown_campaign_names_the_known_ones() {
    let (dir, config) = setup("unknown", SPEC);
    let csv = dir.join("list.csv");
    std::fs::write(&csv, "phone\n13800138000\n").expect("csv");
    let (code, _, err) = waihu(
        &["campaign", "import", "nosuch", csv.to_str().expect("path")],
        &config,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("no campaign \"nosuch\"") && err.contains("renewals"),
        "{err}"
    );
}

#[test]
fn a_campaign_starts_pauses_and_stops_and_a_finished_one_stays_finished() {
    let (_dir, config) = setup("states", SPEC);
    let step = |action: &str| waihu(&["campaign", action, "renewals"], &config);
    let (code, out, err) = step("pause");
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("not started"), "{err}");
    assert_eq!(step("start").1.trim(), "renewals: running");
    assert_eq!(step("pause").1.trim(), "renewals: paused");
    assert_eq!(step("start").1.trim(), "renewals: running");
    assert_eq!(step("stop").1.trim(), "renewals: finished");
    let (code, _, err) = step("start");
    assert_eq!(code, 1);
    assert!(err.contains("finished"), "{err}");
    let (_, out, _) = waihu(&["campaign", "list"], &config);
    assert!(
        out.lines()
            .any(|l| l.starts_with("renewals") && l.contains("finished")),
        "{out}"
    );
}

#[test]
fn numbers_go_on_and_off_the_do_not_call_table_in_e164() {
    let (_dir, config) = setup("dnc", SPEC);
    let (code, out, err) = waihu(
        &["dnc", "add", "138 0013 8000", "--reason", "asked"],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+8613800138000"), "{out}");
    let (_, out, _) = waihu(&["dnc", "list"], &config);
    assert!(
        out.contains("+8613800138000\tcli\t") && out.contains("asked"),
        "{out}"
    );
    let (code, _, err) = waihu(&["dnc", "add", "12"], &config);
    assert_eq!(code, 1, "a short code is not a number");
    assert!(!err.is_empty());
    let (code, _, _) = waihu(&["dnc", "remove", "+8613800138000"], &config);
    assert_eq!(code, 0);
    let (code, _, err) = waihu(&["dnc", "remove", "+8613800138000"], &config);
    assert_eq!(code, 1);
    assert!(err.contains("not on the do-not-call table"), "{err}");
}

#[test]
fn simulate_prints_one_row_per_mode_for_the_campaign() {
    let (_dir, config) = setup("simulate", SPEC);
    let (code, out, err) = waihu(
        &[
            "simulate",
            "--campaign",
            "renewals",
            "--agents",
            "10",
            "--hours",
            "2",
        ],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    for mode in ["predictive", "progressive", "preview"] {
        assert!(out.contains(mode), "{mode}: {out}");
    }
    assert!(out.contains("56.25"), "the reference ceiling: {out}");
}

/// The commented campaign of `waihu.example.yaml`, uncommented, is valid.
#[test]
fn the_example_campaign_is_a_valid_configuration() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../waihu.example.yaml"
    ))
    .expect("example");
    let after = example
        .split("campaigns: []\n")
        .nth(1)
        .expect("the campaigns section");
    let campaign: String = after
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.trim_start_matches('#')))
        .collect();
    assert!(campaign.contains("name: renewals"), "{campaign}");
    let dir = scratch("waihu-campaign-cli-example");
    let config = dir.join("waihu.yaml");
    std::fs::write(
        &config,
        format!(
            "sip:\n  listen: [\"udp:127.0.0.1:0\"]\n  domain: waihu.test\n  realm: waihu.test\n\
             store:\n  url: \"sqlite://{}\"\n\
             scripts:\n  dir: \"{repo}/scripts\"\n\
             prompts:\n  dir: \"{repo}/prompts\"\n\
             trunks:\n  - name: carrier\n    host: 127.0.0.1\n\
             queues:\n  - name: outbound\n\
             campaigns:\n{campaign}",
            dir.join("w.db").display(),
            repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_waihu"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 campaign(s)"));
}
