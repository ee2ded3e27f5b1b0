//! A test plugin that panics in every call after `new` (which succeeds,
//! so that it loads): events, lookups, Lua calls and detectors. The SDK
//! catches each panic at the boundary and returns the panic status; the
//! host's tests check that such a plugin is counted, disabled after its
//! run of failures, and that calls keep being switched.

use std::ffi::CStr;

use serde_json::Value;
use waihu_plugin_abi::abi::capability;
use waihu_plugin_abi::export_plugin;
use waihu_plugin_abi::sdk::{Detector, Host, Plugin, PluginResult};

#[derive(Debug)]
pub struct Panicky;

impl Plugin for Panicky {
    const NAME: &'static CStr = c"panicky";
    const VERSION: &'static CStr = c"0.0.0";
    const CAPABILITIES: u32 = capability::ALL;

    fn new(_host: Host, config: Value) -> PluginResult<Self> {
        if config["panic_in_new"].as_bool() == Some(true) {
            panic!("panicky: asked to panic in new");
        }
        Ok(Panicky)
    }

    fn lua_functions(&self) -> Vec<String> {
        vec!["boom".into()]
    }

    fn on_event(&self, _event_json: &str) -> PluginResult<()> {
        panic!("panicky: on_event");
    }

    fn lookup(&self, _key: &str) -> PluginResult<Option<Value>> {
        panic!("panicky: lookup");
    }

    fn lua_call(&self, _function: &str, _args: Vec<Value>) -> PluginResult<Value> {
        panic!("panicky: lua_call");
    }

    fn detector(&self, _config: Value) -> PluginResult<Box<dyn Detector>> {
        panic!("panicky: detector");
    }
}

export_plugin!(Panicky);
