//! A test plugin that takes `sleep_ms` (default 2000) over every lookup,
//! Lua call and event: longer than the host's time budget, so the host's
//! tests can check that a call does not wait for it.

use std::ffi::CStr;
use std::time::Duration;

use serde_json::{Value, json};
use waihu_plugin_abi::abi::capability;
use waihu_plugin_abi::export_plugin;
use waihu_plugin_abi::sdk::{Host, Plugin, PluginResult};

#[derive(Debug)]
pub struct Slow {
    sleep: Duration,
}

impl Plugin for Slow {
    const NAME: &'static CStr = c"slow";
    const VERSION: &'static CStr = c"0.0.0";
    const CAPABILITIES: u32 = capability::EVENTS | capability::LOOKUP | capability::LUA;

    fn new(_host: Host, config: Value) -> PluginResult<Self> {
        let ms = config["sleep_ms"].as_u64().unwrap_or(2000);
        Ok(Slow {
            sleep: Duration::from_millis(ms),
        })
    }

    fn lua_functions(&self) -> Vec<String> {
        vec!["wait".into()]
    }

    fn on_event(&self, _event_json: &str) -> PluginResult<()> {
        std::thread::sleep(self.sleep);
        Ok(())
    }

    fn lookup(&self, key: &str) -> PluginResult<Option<Value>> {
        std::thread::sleep(self.sleep);
        Ok(Some(json!({ "phone": key, "name": "late" })))
    }

    fn lua_call(&self, _function: &str, _args: Vec<Value>) -> PluginResult<Value> {
        std::thread::sleep(self.sleep);
        Ok(json!("late"))
    }
}

export_plugin!(Slow);
