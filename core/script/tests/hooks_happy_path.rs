//! Every hook of the contract, called on a realistic set of rule scripts.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::sync::Arc;

use common::{Dnc, NOON, ScriptDir, contact, customer, fixture};
use waihu_script::{DialMode, HostConfig, ModeChoice, NoServices, Outcome, ScriptHost, Verdict};

fn host() -> ScriptHost {
    let config = HostConfig {
        dir: fixture("campaign"),
        ..HostConfig::default()
    };
    ScriptHost::load(config, Arc::new(Dnc::of(&["+8613700000001"]))).unwrap()
}

#[test]
fn loads_version_one_with_hash_files_and_agent_scripts() {
    let host = host();
    let v = host.current();
    let info = v.info();
    assert_eq!(info.number, 1);
    assert_eq!(info.hash.len(), 64);
    assert_eq!(
        info.files,
        [
            "agent/haoyun.lua",
            "agent/haoyun_en.lua",
            "blacklist.lua",
            "lib/util/clock.lua",
            "lib/util/phone.lua",
            "retention.lua",
            "retry.lua",
            "segments.lua"
        ]
    );
    assert_eq!(info.agent_scripts, ["haoyun", "haoyun_en"]);
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    let status = host.status();
    assert_eq!(status.current, *info);
    assert_eq!(
        (status.previous, status.last_error, status.reloads),
        (None, None, 0)
    );
}

#[test]
fn select_mode_follows_the_segments() {
    let v = host().current();
    let prospect = v.select_mode(&contact(&[("segment", "prospect")])).unwrap();
    assert_eq!(
        prospect,
        ModeChoice {
            mode: DialMode::Predictive,
            priority: 10,
            agent: None
        }
    );
    let recent = v
        .select_mode(&contact(&[("segment", "new"), ("inactive_days", "31")]))
        .unwrap();
    assert_eq!(
        recent,
        ModeChoice {
            mode: DialMode::Preview,
            priority: 40,
            agent: Some("1001".into())
        }
    );
    let long = v
        .select_mode(&contact(&[("segment", "new"), ("inactive_days", "190")]))
        .unwrap();
    assert_eq!(long.mode, DialMode::Predictive);
    let vip = v
        .select_mode(&contact(&[("segment", "loyal"), ("vip", "true")]))
        .unwrap();
    assert_eq!(vip.mode, DialMode::Manual);
}

#[test]
fn next_attempt_spaces_retries_and_caps_at_seven() {
    let v = host().current();
    let c = contact(&[]);
    let busy = v.next_attempt(&c, Outcome::Busy, 1, NOON).unwrap();
    assert_eq!(busy, Some(NOON + 15 * 60));
    let no_answer = v.next_attempt(&c, Outcome::NoAnswer, 2, NOON).unwrap();
    assert_eq!(no_answer, Some(NOON + 2 * 3600));
    assert_eq!(
        v.next_attempt(&c, Outcome::NoAnswer, 7, NOON).unwrap(),
        None
    );
    assert_eq!(v.next_attempt(&c, Outcome::Success, 1, NOON).unwrap(), None);
    // 20:30 local + 2 h lands in rest hours: moved to 09:00 the next day.
    let evening = NOON + 8 * 3600 + 1800;
    let next = v
        .next_attempt(&c, Outcome::NoAnswer, 1, evening)
        .unwrap()
        .unwrap();
    assert_eq!(next, NOON - 3 * 3600 + 86400);
}

#[test]
fn offers_are_ranked_for_the_customer() {
    let v = host().current();
    let offers = v
        .offers(&customer(0.7, 50.0, 5, Some("2024-01-31")))
        .unwrap();
    let codes: Vec<_> = offers.iter().map(|o| o.code.as_str()).collect();
    assert_eq!(codes, ["BB-RENEW-12", "PLAN-DOWN"]);
    assert_eq!(offers[1].price, 58.0);
    assert!(v.offers(&customer(0.4, 50.0, 5, None)).unwrap().is_empty());
}

#[test]
fn blacklist_check_allows_and_denies_with_reasons() {
    let v = host().current();
    let c = contact(&[]);
    assert_eq!(
        v.blacklist_check("+8613800138000", Some(&c), NOON).unwrap(),
        Verdict::Allow
    );
    // Manual dial: no contact.
    assert_eq!(
        v.blacklist_check("+86 138 0013 8000", None, NOON).unwrap(),
        Verdict::Allow
    );
    let deny = |reason: &str| Verdict::Deny(reason.to_owned());
    assert_eq!(
        v.blacklist_check("+8613700000001", Some(&c), NOON).unwrap(),
        deny("do-not-call list")
    );
    assert_eq!(
        v.blacklist_check("+8613900000666", Some(&c), NOON).unwrap(),
        deny("flagged malicious")
    );
    assert_eq!(
        v.blacklist_check("+86110", None, NOON).unwrap(),
        deny("refused prefix +86110")
    );
    assert_eq!(
        v.blacklist_check("+8613800138000", Some(&c), NOON + 43_200)
            .unwrap(),
        deny("rest hours")
    );
}

#[test]
fn agent_scripts_are_plain_data() {
    let host = host();
    let v = host.current();
    let zh = v.agent_script("haoyun").unwrap();
    assert_eq!((zh.language.as_str(), zh.start.as_str()), ("zh", "greet"));
    assert!(
        zh.defined_at.starts_with("campaign/agent/haoyun.lua:"),
        "{}",
        zh.defined_at
    );
    let greet = &zh.nodes["greet"];
    assert_eq!(greet.options[0].next, "offer");
    let fields = [("name".to_owned(), "王".to_owned())].into();
    assert_eq!(
        greet.render_say(&fields),
        "您好，请问是王先生/女士吗？我是中国电信客服代表。"
    );
    assert_eq!(zh.nodes["success"].outcome, Some(Outcome::Success));
    assert!(zh.nodes["success"].is_terminal());
    let names: Vec<_> = v.agent_scripts().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["haoyun", "haoyun_en"]);
    assert!(v.agent_script("nope").is_none());
}

#[test]
fn check_validates_offline() {
    let config = HostConfig {
        dir: fixture("campaign"),
        ..HostConfig::default()
    };
    let info = waihu_script::check(&config, Arc::new(NoServices)).unwrap();
    assert_eq!(info.number, 1);
    assert_eq!(info.hash, host().current().info().hash);
}

#[test]
fn an_undefined_hook_is_missing_and_warned_about() {
    let dir = ScriptDir::new("undefined_hook");
    dir.write(
        "only_offers.lua",
        "function retention.offers(c) return {} end\n",
    );
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let v = host.current();
    let err = v.blacklist_check("+8613800138000", None, NOON).unwrap_err();
    assert_eq!(
        err.to_string(),
        "blacklist.check: not defined by any script"
    );
    assert!(matches!(err.kind, waihu_script::HookErrorKind::Missing));
    let warnings = &v.info().warnings;
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("blacklist.check") && w.contains("fail closed"))
    );
    assert_eq!(v.offers(&customer(0.1, 1.0, 1, None)).unwrap(), vec![]);
}

#[test]
fn scripts_can_log_print_and_require_modules() {
    let dir = ScriptDir::new("log_print_require");
    dir.write("lib/greeting.lua", "return { text = 'hello' }\n");
    dir.write(
        "lib/util/twice.lua",
        "local M = {} function M.twice(x) return x * 2 end return M\n",
    );
    dir.write(
        "main.lua",
        r#"
local greeting = require("greeting")
assert(require("greeting") == greeting, "modules are cached")
local twice = require("util.twice").twice
print("loaded", greeting.text, 42)
log.info("info"); log.warn("warn"); log.error("error")
function campaign.select_mode(c) return { mode = "preview", priority = twice(21) } end
"#,
    );
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    assert_eq!(
        host.current().select_mode(&contact(&[])).unwrap().priority,
        42
    );
}

#[test]
fn editor_files_and_other_files_are_ignored() {
    let dir = ScriptDir::new("editor_files");
    dir.write("rules.lua", "function retention.offers(c) return {} end\n");
    dir.write(".#rules.lua", "this is not lua");
    dir.write(".hidden/x.lua", "nor this");
    dir.write("notes.txt", "nor this");
    dir.write("rules.lua~", "nor this");
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    assert_eq!(host.current().info().files, ["rules.lua"]);
}
