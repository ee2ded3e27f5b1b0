//! Every fragment `say` can name is recorded in the shipped `prompts/`:
//! present, audible, and short enough to string together. And nothing
//! under `*/num/` is recorded that `say` never names, so `make.sh` and
//! the code cannot drift apart unnoticed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use waihu_media::prompt::PromptCache;
use waihu_media::say::{self, Lang};

/// A fragment is a word or two; anything longer would drag a figure out
/// (or is a recording of the wrong text).
const MAX_FRAGMENT: Duration = Duration::from_secs(2);

fn prompts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts")
}

#[test]
fn every_fragment_is_recorded_audible_and_short() {
    let cache = match PromptCache::load_dir(&prompts_dir()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    for lang in [Lang::Zh, Lang::En] {
        let fragments = say::fragments(lang);
        assert!(!fragments.is_empty());
        for name in &fragments {
            let Some(p) = cache.get(name) else {
                panic!("{name} is not recorded (run prompts/make.sh)");
            };
            assert!(
                p.duration() < MAX_FRAGMENT,
                "{name} lasts {:?}",
                p.duration()
            );
            assert!(
                p.duration() >= Duration::from_millis(100),
                "{name} lasts only {:?}",
                p.duration()
            );
            assert!(
                p.samples().iter().any(|&s| s.unsigned_abs() > 1000),
                "{name} is silent"
            );
        }
        let listed: BTreeSet<&str> = fragments.iter().map(String::as_str).collect();
        let prefix = format!("{lang}/num/");
        let strays: Vec<&str> = cache
            .names()
            .filter(|n| n.starts_with(&prefix) && !listed.contains(n))
            .collect();
        assert!(strays.is_empty(), "recorded but never said: {strays:?}");
    }
}

#[test]
fn a_bill_is_said_with_recorded_fragments() {
    let cache = match PromptCache::load_dir(&prompts_dir()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    for lang in [Lang::Zh, Lang::En] {
        let names = [
            say::say_amount(lang, "128.50", "CNY"),
            say::say_date(lang, 2026, 11, 15, false),
            say::say_time(lang, 15, 5),
            say::say_digits(lang, "13800138000"),
        ];
        for names in names {
            let names = match names {
                Ok(n) => n,
                Err(e) => panic!("{lang}: {e}"),
            };
            for name in names {
                assert!(cache.get(&name).is_some(), "{name} is not recorded");
            }
        }
    }
}
