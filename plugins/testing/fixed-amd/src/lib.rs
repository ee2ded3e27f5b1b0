//! A test plugin with the answering-machine capability: its detector
//! decides `verdict` (`human`, `machine` or `unsure`; default machine) on
//! the first frame heard at or after `after_ms` (default 300), so a test
//! can tell its decision from the built-in detector's.

use std::ffi::CStr;

use serde_json::Value;
use waihu_plugin_abi::abi::capability;
use waihu_plugin_abi::export_plugin;
use waihu_plugin_abi::sdk::{Decision, Detector, Host, Plugin, PluginError, PluginResult, Verdict};

#[derive(Debug)]
pub struct FixedAmd {
    verdict: Verdict,
    after_ms: u32,
}

#[derive(Debug)]
struct Fixed {
    verdict: Verdict,
    after_ms: u32,
    decided: bool,
}

impl Detector for Fixed {
    fn push(&mut self, _frame: &[i16], at_ms: u32) -> Option<Decision> {
        if self.decided || at_ms < self.after_ms {
            return None;
        }
        self.decided = true;
        Some(Decision {
            verdict: self.verdict,
            at_ms,
        })
    }

    fn finish(&mut self, at_ms: u32) -> Decision {
        Decision {
            verdict: self.verdict,
            at_ms,
        }
    }
}

impl Plugin for FixedAmd {
    const NAME: &'static CStr = c"fixed-amd";
    const VERSION: &'static CStr = c"0.0.0";
    const CAPABILITIES: u32 = capability::AMD;

    fn new(_host: Host, config: Value) -> PluginResult<Self> {
        let verdict = match config["verdict"].as_str().unwrap_or("machine") {
            "human" => Verdict::Human,
            "machine" => Verdict::Machine,
            "unsure" => Verdict::Unsure,
            other => return Err(PluginError::failed(format!("verdict {other:?}?"))),
        };
        let after_ms = config["after_ms"].as_u64().unwrap_or(300);
        Ok(FixedAmd {
            verdict,
            after_ms: u32::try_from(after_ms).unwrap_or(u32::MAX),
        })
    }

    fn detector(&self, _config: Value) -> PluginResult<Box<dyn Detector>> {
        Ok(Box::new(Fixed {
            verdict: self.verdict,
            after_ms: self.after_ms,
            decided: false,
        }))
    }
}

export_plugin!(FixedAmd);
