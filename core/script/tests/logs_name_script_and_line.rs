//! `log.*` and `print` reach tracing with the script and line; a failed
//! reload is logged once, not on every retry.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::ScriptDir;
use tracing_subscriber::fmt::MakeWriter;
use waihu_script::{NoServices, ScriptHost};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn captured(f: impl FnOnce()) -> String {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn log_and_print_carry_script_and_line() {
    let dir = ScriptDir::new("log_lines");
    dir.write(
        "main.lua",
        "-- line 1\nlog.info('loading rules')\nprint('printed', 7)\nlog.warn('careful')\nlog.error('bad')\n",
    );
    let out = captured(|| {
        let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
        assert_eq!(host.current().warm_up(), 4);
    });
    // Once per version, not once per pooled state.
    assert_eq!(out.matches("loading rules").count(), 1, "{out}");
    let line = |text: &str| {
        out.lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text} in {out}"))
    };
    let info = line("loading rules");
    assert!(
        info.contains("INFO") && info.contains("script=scripts/main.lua line=2"),
        "{info}"
    );
    assert!(line("printed\t7").contains("line=3"));
    assert!(line("careful").contains("WARN"));
    assert!(line("bad").contains("ERROR"));
    assert!(line("scripts loaded").contains("version=1"));
}

#[test]
fn a_failed_reload_is_logged_once() {
    let dir = ScriptDir::new("log_once");
    dir.write(
        "main.lua",
        "function blacklist.check() return blacklist.allow() end\n",
    );
    // Every event of this binary is emitted under a capturing subscriber:
    // tracing caches "nobody listens" per call site otherwise.
    let mut host = None;
    captured(|| host = Some(ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap()));
    let host = host.unwrap();
    dir.write(
        "main.lua",
        "function blacklist.check()\n  return blacklist.allow(\nend\n",
    );
    let out = captured(|| {
        for _ in 0..3 {
            host.reload().unwrap_err();
        }
    });
    let failures: Vec<_> = out
        .lines()
        .filter(|l| l.contains("script reload failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{out}");
    assert!(
        failures[0].contains("scripts/main.lua:3: syntax error"),
        "{}",
        failures[0]
    );
    assert_eq!(host.status().failed_reloads, 3);
}
