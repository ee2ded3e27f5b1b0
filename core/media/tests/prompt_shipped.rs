//! The prompts shipped in `prompts/` load cleanly, and every name the
//! demo dialplans use is there, and so is every fragment of spoken
//! figures (`say`; `say_prompts.rs` checks those more closely).

use std::path::PathBuf;

use waihu_media::prompt::PromptCache;
use waihu_media::say::{self, Lang};

const NAMES: [&str; 26] = [
    // The shipped broadcasts.
    "bill_intro",
    "bill_due",
    "bill_menu",
    "optout_ok",
    "transfer",
    "renewal_intro",
    "renewal_offer",
    "renewal_menu",
    "welcome",
    // The safe-harbour message of an abandoned campaign call.
    "safe_harbour",
    "menu",
    "goodbye",
    "please_hold",
    "you_entered",
    "enter_digits",
    "echo_intro",
    "record_intro",
    "invalid",
    "queue_position",
    "queue_busy",
    "leave_message",
    "callback_ok",
    "agent_login",
    "agent_logout",
    "agent_pause",
    "agent_ready",
];

fn prompts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts")
}

#[test]
fn shipped_prompts_load_without_errors_and_every_name_exists() {
    let cache = match PromptCache::load_dir(&prompts_dir()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let mut expected = Vec::new();
    for lang in ["en", "zh"] {
        for name in NAMES {
            expected.push(format!("{lang}/{name}"));
        }
        for d in 0..10 {
            expected.push(format!("{lang}/digits/{d}"));
        }
    }
    // Music on hold for the queues.
    expected.push("moh/default".into());
    // The fragments spoken figures are made of.
    expected.extend(say::fragments(Lang::Zh));
    expected.extend(say::fragments(Lang::En));
    for name in &expected {
        let p = cache.get(name);
        assert!(p.is_some(), "missing prompt {name}");
        if let Some(p) = p {
            assert!(p.duration().as_millis() >= 100, "{name} is too short");
            assert!(p.duration().as_secs() < 20, "{name} is too long");
            assert!(
                p.samples().iter().any(|&s| s.unsigned_abs() > 1000),
                "{name} is silent"
            );
        }
    }
    assert_eq!(
        cache.len(),
        expected.len(),
        "unexpected extra prompts: {:?}",
        cache.names().collect::<Vec<_>>()
    );
}
