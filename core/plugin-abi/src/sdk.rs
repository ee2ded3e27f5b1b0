//! A safe way to write a plugin in Rust: implement [`Plugin`] and invoke
//! [`export_plugin!`](crate::export_plugin). The glue here turns the C
//! calls into trait calls, JSON into `serde_json::Value`, `Result` into a
//! status and a message, and catches every panic at the boundary (a
//! panic must never unwind into the host, which may not be Rust at all,
//! or built by another compiler).
#![allow(unsafe_code)]

use std::ffi::{CStr, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::abi::{
    self, ABI_VERSION, WaihuAmdReport, WaihuBuf, WaihuDetector, WaihuHost, WaihuInstance,
    WaihuPluginTable, WaihuSlice, WaihuStatus,
};

/// What a plugin call returns: a value, or why not.
pub type PluginResult<T> = Result<T, PluginError>;

/// Why a plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// Something went wrong; the message is logged by the host.
    Failed(String),
    /// The input was not acceptable.
    BadInput(String),
    /// Not offered (an unknown Lua function, a capability not declared).
    Unsupported(String),
}

impl PluginError {
    pub fn failed(msg: impl Into<String>) -> PluginError {
        PluginError::Failed(msg.into())
    }

    fn status(&self) -> WaihuStatus {
        match self {
            PluginError::Failed(_) => WaihuStatus::ERROR,
            PluginError::BadInput(_) => WaihuStatus::BAD_INPUT,
            PluginError::Unsupported(_) => WaihuStatus::UNSUPPORTED,
        }
    }

    fn message(&self) -> &str {
        match self {
            PluginError::Failed(m) | PluginError::BadInput(m) | PluginError::Unsupported(m) => m,
        }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for PluginError {}

/// The host's functions, as given to [`Plugin::new`]. Valid for the
/// instance's life (the host guarantees it until `free` returns).
#[derive(Clone, Copy, Debug)]
pub struct Host {
    raw: *const WaihuHost,
}

// SAFETY: the host's functions may be called from any thread (abi docs),
// and the pointer stays valid for the instance's life.
unsafe impl Send for Host {}
// SAFETY: as above.
unsafe impl Sync for Host {}

impl Host {
    /// A line in waihu's log, under the plugin's name.
    pub fn log(&self, level: u32, msg: &str) {
        if self.raw.is_null() {
            return;
        }
        // SAFETY: non-null, and valid for the instance's life (see Host).
        let host = unsafe { &*self.raw };
        // SAFETY: the host's log reads `msg` only during the call.
        unsafe { (host.log)(host.ctx, level, WaihuSlice::new(msg.as_bytes())) };
    }

    pub fn info(&self, msg: &str) {
        self.log(abi::level::INFO, msg);
    }

    pub fn warn(&self, msg: &str) {
        self.log(abi::level::WARN, msg);
    }

    /// A host that logs nowhere, for a plugin's own unit tests.
    pub fn detached() -> Host {
        Host {
            raw: std::ptr::null(),
        }
    }
}

/// Human, machine or unsure, as in `waihu_media::amd::Verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Human,
    Machine,
    Unsure,
}

/// A detector's decision: the verdict and the `at_ms` that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub at_ms: u32,
}

/// A beep heard, as in `waihu_media::amd::Beep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beep {
    pub start_ms: u32,
    pub end_ms: Option<u32>,
    pub hz: u32,
}

/// An answering-machine detector for one call; the same contract as
/// `waihu_media::amd::Detector`: `push` returns the decision once, from
/// the frame that made it; `finish` returns it, deciding now if needed.
pub trait Detector: Send {
    fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Decision>;
    fn finish(&mut self, at_ms: u32) -> Decision;
    fn beep(&self) -> Option<Beep> {
        None
    }
}

/// A plugin. The host may call an instance's methods from several
/// threads at once (events from one thread in order; lookups and Lua
/// calls from another), hence `Sync`.
pub trait Plugin: Send + Sync + Sized + 'static {
    /// The plugin's name in logs.
    const NAME: &'static CStr;
    /// Its version in logs.
    const VERSION: &'static CStr;
    /// [`abi::capability`] bits; only these methods are offered to the host.
    const CAPABILITIES: u32;

    /// Makes an instance from the YAML entry's `config` map (an empty
    /// object when absent).
    fn new(host: Host, config: Value) -> PluginResult<Self>;

    /// The functions Lua may call as `plugins.NAME.function(...)`.
    fn lua_functions(&self) -> Vec<String> {
        Vec::new()
    }

    /// One event, as the JSON object the host serialised.
    fn on_event(&self, _event_json: &str) -> PluginResult<()> {
        Err(PluginError::Unsupported("no event sink".into()))
    }

    /// A customer by E.164 number or contact id; `None` if unknown.
    fn lookup(&self, _key: &str) -> PluginResult<Option<Value>> {
        Err(PluginError::Unsupported("no customer lookup".into()))
    }

    /// `plugins.NAME.function(args...)` from Lua.
    fn lua_call(&self, function: &str, _args: Vec<Value>) -> PluginResult<Value> {
        Err(PluginError::Unsupported(format!("no function {function}")))
    }

    /// A detector for one call, given the campaign's `amd` map.
    fn detector(&self, _config: Value) -> PluginResult<Box<dyn Detector>> {
        Err(PluginError::Unsupported("no detector".into()))
    }
}

/// The function table for `P`; [`export_plugin!`](crate::export_plugin)
/// puts it in a static.
pub const fn table<P: Plugin>() -> WaihuPluginTable {
    const fn has(caps: u32, bit: u32) -> bool {
        caps & bit != 0
    }
    let caps = P::CAPABILITIES;
    WaihuPluginTable {
        abi_version: ABI_VERSION,
        capabilities: caps,
        name: P::NAME.as_ptr(),
        version: P::VERSION.as_ptr(),
        new: new::<P>,
        free: free::<P>,
        buf_free,
        describe: if has(caps, abi::capability::LUA) {
            Some(describe::<P>)
        } else {
            None
        },
        event: if has(caps, abi::capability::EVENTS) {
            Some(event::<P>)
        } else {
            None
        },
        lookup: if has(caps, abi::capability::LOOKUP) {
            Some(lookup::<P>)
        } else {
            None
        },
        lua_call: if has(caps, abi::capability::LUA) {
            Some(lua_call::<P>)
        } else {
            None
        },
        amd_new: if has(caps, abi::capability::AMD) {
            Some(amd_new::<P>)
        } else {
            None
        },
        amd_push: if has(caps, abi::capability::AMD) {
            Some(amd_push)
        } else {
            None
        },
        amd_finish: if has(caps, abi::capability::AMD) {
            Some(amd_finish)
        } else {
            None
        },
        amd_free: if has(caps, abi::capability::AMD) {
            Some(amd_free)
        } else {
            None
        },
    }
}

/// The body of the exported entry function.
///
/// # Safety
/// `out` must be null or writable.
pub unsafe fn entry(table: &'static WaihuPluginTable, out: *mut *const WaihuPluginTable) -> u32 {
    if !out.is_null() {
        // SAFETY: the caller vouches that a non-null `out` is writable.
        unsafe { out.write(table) };
    }
    ABI_VERSION
}

/// Exports `$plugin` (a type implementing [`Plugin`]) under the entry
/// symbol. Once per cdylib.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        static WAIHU_PLUGIN_TABLE: $crate::abi::WaihuPluginTable = $crate::sdk::table::<$plugin>();

        /// The entry symbol waihu looks for.
        ///
        /// # Safety
        /// `table` must be null or writable.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn waihu_plugin_entry(
            table: *mut *const $crate::abi::WaihuPluginTable,
        ) -> u32 {
            // SAFETY: forwarded from our caller.
            unsafe { $crate::sdk::entry(&WAIHU_PLUGIN_TABLE, table) }
        }
    };
}

/// Runs `f`, turning a panic into [`WaihuStatus::PANIC`] with its message.
fn guarded(out: *mut WaihuBuf, f: impl FnOnce() -> Result<Vec<u8>, PluginError>) -> WaihuStatus {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(bytes)) => (WaihuStatus::OK, bytes),
        Ok(Err(e)) => (e.status(), e.message().as_bytes().to_vec()),
        Err(payload) => (
            WaihuStatus::PANIC,
            format!("panic: {}", panic_message(payload.as_ref())).into_bytes(),
        ),
    };
    if !out.is_null() {
        // SAFETY: the host passes a writable (or null) out pointer.
        unsafe { out.write(into_buf(bytes)) };
    }
    status
}

/// A panic's message, when it is a string.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}

fn into_buf(bytes: Vec<u8>) -> WaihuBuf {
    if bytes.is_empty() {
        return WaihuBuf::EMPTY;
    }
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    WaihuBuf {
        ptr: Box::into_raw(boxed).cast::<u8>(),
        len,
    }
}

unsafe extern "C-unwind" fn buf_free(buf: WaihuBuf) {
    if buf.ptr.is_null() {
        return;
    }
    // A panic in a deallocation is not expected; if one came, it must not cross.
    let _ = catch_unwind(|| {
        // SAFETY: `into_buf` made this pointer from a boxed slice of `len`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buf.ptr, buf.len)) });
    });
}

fn json_value(bytes: &[u8]) -> Result<Value, PluginError> {
    if bytes.is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|e| PluginError::BadInput(format!("not JSON: {e}")))
}

fn utf8(bytes: &[u8]) -> Result<&str, PluginError> {
    std::str::from_utf8(bytes).map_err(|e| PluginError::BadInput(format!("not UTF-8: {e}")))
}

/// The instance behind a handle.
///
/// # Safety
/// `instance` must come from `new::<P>` and not be freed yet.
unsafe fn instance<'a, P: Plugin>(instance: *const WaihuInstance) -> Result<&'a P, PluginError> {
    if instance.is_null() {
        return Err(PluginError::BadInput("null instance".into()));
    }
    // SAFETY: per the contract, a live Box<P> made by `new::<P>`.
    Ok(unsafe { &*instance.cast::<P>() })
}

unsafe extern "C-unwind" fn new<P: Plugin>(
    host: *const WaihuHost,
    config: WaihuSlice,
    out: *mut *mut WaihuInstance,
    err: *mut WaihuBuf,
) -> WaihuStatus {
    guarded(err, || {
        if out.is_null() {
            return Err(PluginError::BadInput("null out pointer".into()));
        }
        // SAFETY: the host lends the config for the call.
        let config = json_value(unsafe { config.as_bytes() })?;
        let plugin = P::new(Host { raw: host }, config)?;
        let raw = Box::into_raw(Box::new(plugin)).cast::<WaihuInstance>();
        // SAFETY: checked non-null; the host passes a writable pointer.
        unsafe { out.write(raw) };
        Ok(Vec::new())
    })
}

unsafe extern "C-unwind" fn free<P: Plugin>(instance: *mut WaihuInstance) {
    if instance.is_null() {
        return;
    }
    // The plugin's Drop (a flush) may panic: it must not cross.
    let _ = catch_unwind(|| {
        // SAFETY: made by `new::<P>`; the host frees it exactly once.
        drop(unsafe { Box::from_raw(instance.cast::<P>()) });
    });
}

unsafe extern "C-unwind" fn describe<P: Plugin>(
    inst: *const WaihuInstance,
    out: *mut WaihuBuf,
) -> WaihuStatus {
    guarded(out, || {
        // SAFETY: the host passes a live instance of this plugin.
        let p = unsafe { instance::<P>(inst) }?;
        let d = serde_json::json!({ "lua_functions": p.lua_functions() });
        Ok(d.to_string().into_bytes())
    })
}

unsafe extern "C-unwind" fn event<P: Plugin>(
    inst: *const WaihuInstance,
    json: WaihuSlice,
    err: *mut WaihuBuf,
) -> WaihuStatus {
    guarded(err, || {
        // SAFETY: the host passes a live instance of this plugin.
        let p = unsafe { instance::<P>(inst) }?;
        // SAFETY: lent for the call.
        p.on_event(utf8(unsafe { json.as_bytes() })?)?;
        Ok(Vec::new())
    })
}

unsafe extern "C-unwind" fn lookup<P: Plugin>(
    inst: *const WaihuInstance,
    key: WaihuSlice,
    out: *mut WaihuBuf,
) -> WaihuStatus {
    guarded(out, || {
        // SAFETY: the host passes a live instance of this plugin.
        let p = unsafe { instance::<P>(inst) }?;
        // SAFETY: lent for the call.
        let found = p.lookup(utf8(unsafe { key.as_bytes() })?)?;
        Ok(found.unwrap_or(Value::Null).to_string().into_bytes())
    })
}

unsafe extern "C-unwind" fn lua_call<P: Plugin>(
    inst: *const WaihuInstance,
    function: WaihuSlice,
    args: WaihuSlice,
    out: *mut WaihuBuf,
) -> WaihuStatus {
    guarded(out, || {
        // SAFETY: the host passes a live instance of this plugin.
        let p = unsafe { instance::<P>(inst) }?;
        // SAFETY: lent for the call.
        let function = utf8(unsafe { function.as_bytes() })?;
        // SAFETY: lent for the call.
        let args = match json_value(unsafe { args.as_bytes() })? {
            Value::Array(a) => a,
            Value::Object(o) if o.is_empty() => Vec::new(),
            other => vec![other],
        };
        Ok(p.lua_call(function, args)?.to_string().into_bytes())
    })
}

/// What a detector handle points to: a box of the trait object.
type DetectorBox = Box<dyn Detector>;

unsafe extern "C-unwind" fn amd_new<P: Plugin>(
    inst: *const WaihuInstance,
    config: WaihuSlice,
    out: *mut *mut WaihuDetector,
    err: *mut WaihuBuf,
) -> WaihuStatus {
    guarded(err, || {
        if out.is_null() {
            return Err(PluginError::BadInput("null out pointer".into()));
        }
        // SAFETY: the host passes a live instance of this plugin.
        let p = unsafe { instance::<P>(inst) }?;
        // SAFETY: lent for the call.
        let d: DetectorBox = p.detector(json_value(unsafe { config.as_bytes() })?)?;
        // A thin pointer to the fat one, so it fits in a C pointer.
        let raw = Box::into_raw(Box::new(d)).cast::<WaihuDetector>();
        // SAFETY: checked non-null; the host passes a writable pointer.
        unsafe { out.write(raw) };
        Ok(Vec::new())
    })
}

fn report(decision: Option<Decision>, beep: Option<Beep>) -> WaihuAmdReport {
    let mut r = WaihuAmdReport::default();
    if let Some(d) = decision {
        r.decided = 1;
        r.verdict = match d.verdict {
            Verdict::Human => abi::verdict::HUMAN,
            Verdict::Machine => abi::verdict::MACHINE,
            Verdict::Unsure => abi::verdict::UNSURE,
        };
        r.at_ms = d.at_ms;
    }
    if let Some(b) = beep {
        r.beep = 1;
        r.beep_start_ms = b.start_ms;
        r.beep_end_ms = b.end_ms.unwrap_or(abi::BEEP_NOT_ENDED);
        r.beep_hz = b.hz;
    }
    r
}

/// Runs `f` on the detector behind `det`, writing its report.
fn with_detector(
    det: *mut WaihuDetector,
    out: *mut WaihuAmdReport,
    f: impl FnOnce(&mut DetectorBox) -> Option<Decision>,
) -> WaihuStatus {
    if det.is_null() || out.is_null() {
        return WaihuStatus::BAD_INPUT;
    }
    match catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by `amd_new`, used by one thread at a time (abi docs).
        let d = unsafe { &mut *det.cast::<DetectorBox>() };
        let decision = f(d);
        report(decision, d.beep())
    })) {
        Ok(r) => {
            // SAFETY: checked non-null; the host passes a writable report.
            unsafe { out.write(r) };
            WaihuStatus::OK
        }
        Err(_) => WaihuStatus::PANIC,
    }
}

unsafe extern "C-unwind" fn amd_push(
    det: *mut WaihuDetector,
    samples: *const i16,
    count: usize,
    at_ms: u32,
    out: *mut WaihuAmdReport,
) -> WaihuStatus {
    let frame: &[i16] = if samples.is_null() || count == 0 {
        &[]
    } else {
        // SAFETY: the host lends `count` samples for the call.
        unsafe { std::slice::from_raw_parts(samples, count) }
    };
    with_detector(det, out, |d| d.push(frame, at_ms))
}

unsafe extern "C-unwind" fn amd_finish(
    det: *mut WaihuDetector,
    at_ms: u32,
    out: *mut WaihuAmdReport,
) -> WaihuStatus {
    with_detector(det, out, |d| Some(d.finish(at_ms)))
}

unsafe extern "C-unwind" fn amd_free(det: *mut WaihuDetector) {
    if det.is_null() {
        return;
    }
    let _ = catch_unwind(|| {
        // SAFETY: made by `amd_new`; the host frees it exactly once.
        drop(unsafe { Box::from_raw(det.cast::<DetectorBox>()) });
    });
}

/// The host-side view of a [`WaihuBuf`] in tests of plugins: copies it out
/// and frees it through the table.
///
/// # Safety
/// `buf` must come from `table`'s plugin and not be freed yet.
pub unsafe fn take_buf(table: &WaihuPluginTable, buf: WaihuBuf) -> Vec<u8> {
    let bytes = if buf.ptr.is_null() {
        Vec::new()
    } else {
        // SAFETY: the plugin handed out `len` bytes at `ptr`.
        unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec()
    };
    // SAFETY: given back exactly once, to the plugin that made it.
    unsafe { (table.buf_free)(buf) };
    bytes
}

/// A log function that writes nowhere, for a [`WaihuHost`] in tests.
///
/// # Safety
/// None needed: it reads none of its arguments.
pub unsafe extern "C-unwind" fn log_nowhere(_ctx: *const c_void, _level: u32, _msg: WaihuSlice) {}

#[cfg(test)]
mod tests;
