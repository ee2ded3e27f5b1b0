//! The SDK glue driven through its C table, as a host would.

use std::ffi::CStr;

use serde_json::{Value, json};

use super::*;
use crate::abi::capability;

#[derive(Debug)]
struct Echo {
    greeting: String,
}

struct Quiet;

impl Detector for Quiet {
    fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Decision> {
        (frame.len() > 100 && at_ms >= 40).then_some(Decision {
            verdict: Verdict::Machine,
            at_ms,
        })
    }
    fn finish(&mut self, at_ms: u32) -> Decision {
        Decision {
            verdict: Verdict::Unsure,
            at_ms,
        }
    }
    fn beep(&self) -> Option<Beep> {
        Some(Beep {
            start_ms: 5,
            end_ms: None,
            hz: 1000,
        })
    }
}

impl Plugin for Echo {
    const NAME: &'static CStr = c"echo";
    const VERSION: &'static CStr = c"0.0.1";
    const CAPABILITIES: u32 = capability::LOOKUP | capability::LUA | capability::AMD;

    fn new(_host: Host, config: Value) -> PluginResult<Self> {
        let greeting = config["greeting"]
            .as_str()
            .ok_or_else(|| PluginError::failed("config.greeting is required"))?;
        Ok(Echo {
            greeting: greeting.to_owned(),
        })
    }

    fn lua_functions(&self) -> Vec<String> {
        vec!["greet".into(), "boom".into()]
    }

    fn lookup(&self, key: &str) -> PluginResult<Option<Value>> {
        Ok((key == "+8613800000001").then(|| json!({ "name": "Li Lei" })))
    }

    fn lua_call(&self, function: &str, args: Vec<Value>) -> PluginResult<Value> {
        match function {
            "greet" => Ok(json!(format!("{} {}", self.greeting, args[0]))),
            "boom" => panic!("boom was called"),
            other => Err(PluginError::Unsupported(format!("no function {other}"))),
        }
    }

    fn detector(&self, _config: Value) -> PluginResult<Box<dyn Detector>> {
        Ok(Box::new(Quiet))
    }
}

crate::export_plugin!(Echo);

fn table() -> &'static WaihuPluginTable {
    let mut t: *const WaihuPluginTable = std::ptr::null();
    // SAFETY: a writable out pointer.
    let v = unsafe { waihu_plugin_entry(&mut t) };
    assert_eq!(v, ABI_VERSION);
    // SAFETY: the entry wrote the address of a static.
    unsafe { &*t }
}

const HOST: WaihuHost = WaihuHost {
    abi_version: ABI_VERSION,
    ctx: std::ptr::null(),
    log: log_nowhere,
};

fn make(config: &str) -> Result<*mut WaihuInstance, (WaihuStatus, String)> {
    let t = table();
    let mut inst = std::ptr::null_mut();
    let mut err = WaihuBuf::EMPTY;
    // SAFETY: valid host, lent config, writable outs.
    let status = unsafe {
        (t.new)(
            &HOST,
            WaihuSlice::new(config.as_bytes()),
            &mut inst,
            &mut err,
        )
    };
    // SAFETY: from this plugin, not yet freed.
    let msg = String::from_utf8(unsafe { take_buf(t, err) }).unwrap();
    if status.is_ok() {
        Ok(inst)
    } else {
        Err((status, msg))
    }
}

fn call(inst: *mut WaihuInstance, function: &str, args: &str) -> (WaihuStatus, String) {
    let t = table();
    let mut out = WaihuBuf::EMPTY;
    // SAFETY: a live instance; lent inputs; writable out.
    let status = unsafe {
        (t.lua_call.unwrap())(
            inst,
            WaihuSlice::new(function.as_bytes()),
            WaihuSlice::new(args.as_bytes()),
            &mut out,
        )
    };
    // SAFETY: from this plugin, not yet freed.
    let text = String::from_utf8(unsafe { take_buf(t, out) }).unwrap();
    (status, text)
}

#[test]
fn the_table_offers_only_the_declared_capabilities() {
    let t = table();
    assert_eq!(t.abi_version, ABI_VERSION);
    assert!(t.event.is_none(), "events were not declared");
    assert!(t.lookup.is_some() && t.lua_call.is_some() && t.describe.is_some());
    assert!(t.amd_new.is_some() && t.amd_push.is_some() && t.amd_finish.is_some());
    // SAFETY: static NUL-terminated strings.
    let name = unsafe { CStr::from_ptr(t.name) };
    assert_eq!(name.to_str().unwrap(), "echo");
}

#[test]
fn a_refused_config_is_an_error_with_the_plugins_message() {
    let (status, msg) = make(r#"{"other": 1}"#).unwrap_err();
    assert_eq!(status, WaihuStatus::ERROR);
    assert_eq!(msg, "config.greeting is required");
    let (status, msg) = make("{not json").unwrap_err();
    assert_eq!(status, WaihuStatus::BAD_INPUT);
    assert!(msg.starts_with("not JSON"), "{msg}");
}

#[test]
fn lua_calls_cross_as_json_and_panics_become_a_status() {
    let inst = make(r#"{"greeting": "ni hao"}"#).unwrap();
    assert_eq!(
        call(inst, "greet", r#"["Li"]"#),
        (WaihuStatus::OK, r#""ni hao \"Li\"""#.to_owned())
    );
    let (status, msg) = call(inst, "boom", "[]");
    assert_eq!(status, WaihuStatus::PANIC);
    assert_eq!(msg, "panic: boom was called");
    // The instance is still usable after the panic was caught.
    assert_eq!(call(inst, "greet", "[1]").0, WaihuStatus::OK);
    assert_eq!(call(inst, "nope", "[]").0, WaihuStatus::UNSUPPORTED);
    let (status, _) = call(inst, "greet", "[1");
    assert_eq!(status, WaihuStatus::BAD_INPUT);

    let t = table();
    let mut out = WaihuBuf::EMPTY;
    // SAFETY: a live instance; writable out.
    let status = unsafe { (t.describe.unwrap())(inst, &mut out) };
    assert!(status.is_ok());
    // SAFETY: from this plugin.
    let d: Value = serde_json::from_slice(&unsafe { take_buf(t, out) }).unwrap();
    assert_eq!(d, json!({"lua_functions": ["greet", "boom"]}));
    // SAFETY: freed once.
    unsafe { (t.free)(inst) };
}

#[test]
fn lookups_answer_a_customer_or_null() {
    let t = table();
    let inst = make(r#"{"greeting": "hi"}"#).unwrap();
    for (key, want) in [
        ("+8613800000001", json!({"name": "Li Lei"})),
        ("+8613800000002", Value::Null),
    ] {
        let mut out = WaihuBuf::EMPTY;
        // SAFETY: a live instance; lent key; writable out.
        let status =
            unsafe { (t.lookup.unwrap())(inst, WaihuSlice::new(key.as_bytes()), &mut out) };
        assert!(status.is_ok());
        // SAFETY: from this plugin.
        let got: Value = serde_json::from_slice(&unsafe { take_buf(t, out) }).unwrap();
        assert_eq!(got, want);
    }
    // SAFETY: freed once.
    unsafe { (t.free)(inst) };
}

#[test]
fn detectors_report_decisions_and_beeps_through_the_c_struct() {
    let t = table();
    let inst = make(r#"{"greeting": "hi"}"#).unwrap();
    let mut det = std::ptr::null_mut();
    let mut err = WaihuBuf::EMPTY;
    // SAFETY: a live instance; writable outs.
    let status = unsafe { (t.amd_new.unwrap())(inst, WaihuSlice::new(b"{}"), &mut det, &mut err) };
    assert!(status.is_ok());
    let frame = [0i16; 160];
    let mut r = WaihuAmdReport::default();
    // SAFETY: a live detector, lent samples, writable report.
    let status = unsafe { (t.amd_push.unwrap())(det, frame.as_ptr(), 160, 20, &mut r) };
    assert!(status.is_ok());
    assert_eq!(r.decided, 0);
    assert_eq!((r.beep, r.beep_start_ms, r.beep_end_ms), (1, 5, u32::MAX));
    // SAFETY: as above.
    unsafe { (t.amd_push.unwrap())(det, frame.as_ptr(), 160, 40, &mut r) };
    assert_eq!(
        (r.decided, r.verdict, r.at_ms),
        (1, abi::verdict::MACHINE, 40)
    );
    // SAFETY: as above.
    unsafe { (t.amd_finish.unwrap())(det, 60, &mut r) };
    assert_eq!(
        (r.decided, r.verdict, r.at_ms),
        (1, abi::verdict::UNSURE, 60)
    );
    // SAFETY: freed once each, the detector first.
    unsafe {
        (t.amd_free.unwrap())(det);
        (t.free)(inst);
    }
}
