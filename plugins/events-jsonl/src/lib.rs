//! events-jsonl: a waihu plugin that writes every event as one JSON line,
//! for a data warehouse to collect.
//!
//! ```yaml
//! plugins:
//!   - name: warehouse
//!     path: target/release/libevents_jsonl.so
//!     config:
//!       file: /var/log/waihu/events.jsonl
//!       max_bytes: 104857600   # rotate past this size (0: never); default 100 MiB
//!       daily: true            # rotate when the UTC date changes; default true
//!       flush: every_event     # or "buffered" (flushed at rotation and shutdown)
//! ```
//!
//! The file being written is always `file`; a rotated one is renamed
//! beside it to `STEM.YYYY-MM-DDTHHMMSS.jsonl` (UTC, the moment of
//! rotation, `.N` added if that name is taken), so a collector takes every
//! file but the live one. Lines are the host's JSON as received, one per
//! event. On shutdown (the instance's free) the buffer is flushed.

mod rotate;

use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use waihu_plugin_abi::abi::capability;
use waihu_plugin_abi::export_plugin;
use waihu_plugin_abi::sdk::{Host, Plugin, PluginError, PluginResult};

pub use rotate::{Policy, Writer};

/// The plugin: one writer behind a lock (events arrive on one thread in
/// order; the lock is for the rule that instances are `Sync`).
#[derive(Debug)]
pub struct EventsJsonl {
    writer: Mutex<Writer>,
}

impl Plugin for EventsJsonl {
    const NAME: &'static CStr = c"events-jsonl";
    const VERSION: &'static CStr = c"0.1.0";
    const CAPABILITIES: u32 = capability::EVENTS;

    fn new(host: Host, config: Value) -> PluginResult<Self> {
        let file = config["file"]
            .as_str()
            .ok_or_else(|| PluginError::failed("config.file is required"))?;
        let policy = Policy {
            max_bytes: config["max_bytes"].as_u64().unwrap_or(100 << 20),
            daily: config["daily"].as_bool().unwrap_or(true),
            flush_every_event: match config["flush"].as_str().unwrap_or("every_event") {
                "every_event" => true,
                "buffered" => false,
                other => {
                    return Err(PluginError::failed(format!(
                        "config.flush {other:?}: every_event or buffered"
                    )));
                }
            },
        };
        let writer = Writer::open(PathBuf::from(file), policy, rotate::now())
            .map_err(|e| PluginError::failed(format!("{file}: {e}")))?;
        host.info(&format!("writing events to {file}"));
        Ok(EventsJsonl {
            writer: Mutex::new(writer),
        })
    }

    fn on_event(&self, event_json: &str) -> PluginResult<()> {
        let mut w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.write_line(event_json, rotate::now())
            .map_err(|e| PluginError::failed(format!("writing an event: {e}")))
    }
}

export_plugin!(EventsJsonl);
