//! The one module of waihu that calls foreign code: it opens a plugin's
//! library, checks its ABI, and wraps each function of its table in a safe
//! method. Every call is inside `catch_unwind` (a plugin's functions are
//! `C-unwind`, so an unwinding plugin reaches us as a panic, not as
//! undefined behaviour), every buffer the plugin hands out is copied and
//! given back to it, and every handle is freed exactly once, by `Drop`.
//!
//! Lifetimes: an [`Instance`] holds an `Arc` of its [`Library`], and a
//! [`RawDetector`] an `Arc` of its instance, so the code they call stays
//! mapped until the last of them is dropped, whatever reloads happen.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use waihu_plugin_abi::abi::{
    self, ABI_VERSION, ENTRY_SYMBOL, ENTRY_SYMBOL_C, EntryFn, WaihuAmdReport, WaihuBuf,
    WaihuDetector, WaihuHost, WaihuInstance, WaihuPluginTable, WaihuSlice, WaihuStatus, capability,
};

/// Why a plugin could not be loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a loadable library: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: no `{ENTRY_SYMBOL}` symbol: not a waihu plugin")]
    NoEntry { path: PathBuf },
    #[error(
        "{path}: built for plugin ABI version {found}, this waihu speaks {ABI_VERSION}: rebuild it"
    )]
    WrongAbi { path: PathBuf, found: u32 },
    #[error("{path}: bad function table: {reason}")]
    BadTable { path: PathBuf, reason: String },
    #[error("{path}: the entry function panicked")]
    EntryPanicked { path: PathBuf },
    #[error("{path}: refused its configuration ({status}): {message}")]
    New {
        path: PathBuf,
        status: &'static str,
        message: String,
    },
    #[error("{path}: {source}")]
    Describe {
        path: PathBuf,
        #[source]
        source: CallError,
    },
}

/// Why one call into a plugin failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The plugin returned a failure status with a message.
    #[error("{status}: {message}")]
    Failed {
        status: &'static str,
        message: String,
    },
    /// It panicked (caught by its SDK, or unwound into us).
    #[error("panicked: {0}")]
    Panicked(String),
    /// Its answer was not what the ABI promises (not JSON, no decision).
    #[error("bad answer: {0}")]
    BadAnswer(String),
    /// It did not answer within the time budget.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// Its work queue is full: it is behind.
    #[error("busy: its queue is full")]
    Busy,
    /// It is disabled after too many failures in a row.
    #[error("disabled after repeated failures")]
    Disabled,
    /// It does not offer this.
    #[error("not offered by this plugin")]
    Unsupported,
    /// Not loaded (it failed to load, or no plugin has this name).
    #[error("not loaded")]
    NotLoaded,
}

/// How a call into a plugin failed, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Error,
    Timeout,
    Panic,
}

impl Failure {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Error => "error",
            Failure::Timeout => "timeout",
            Failure::Panic => "panic",
        }
    }
}

impl CallError {
    /// The plugin's failure this is, or `None` when the plugin was not
    /// called (disabled, not loaded, not offered): those count against
    /// nobody.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            CallError::Failed { .. } | CallError::BadAnswer(_) => Some(Failure::Error),
            CallError::Panicked(_) => Some(Failure::Panic),
            CallError::Timeout(_) | CallError::Busy => Some(Failure::Timeout),
            CallError::Disabled | CallError::Unsupported | CallError::NotLoaded => None,
        }
    }
}

/// A loaded library whose ABI and table were checked.
pub struct Library {
    path: PathBuf,
    /// Points into `lib`'s static data: valid while `lib` is loaded, which
    /// is as long as `self` lives (fields drop after any user of `table`).
    table: *const WaihuPluginTable,
    /// The plugin's own name and version, from its table.
    pub name: String,
    pub version: String,
    /// Held, not read: unloading it would unmap `table` and the code.
    _lib: libloading::Library,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

// SAFETY: the table is immutable static data of the library, and the ABI
// makes every table function callable from any thread (docs/plugins.md).
unsafe impl Send for Library {}
// SAFETY: as above; `&Library` only reads the table.
unsafe impl Sync for Library {}

/// Each load gets its own copy of the file: the dynamic loader returns an
/// already loaded library when a path is opened again, so a reload of a
/// rebuilt file at the same path would otherwise get the old code; and a
/// build that overwrites the file in place cannot change a mapped copy.
/// The copy is in a directory of its own, removed with it once mapped
/// (see [`remove_copy`]).
fn private_copy(path: &Path) -> Result<PathBuf, LoadError> {
    static LOADS: AtomicU64 = AtomicU64::new(0);
    let n = LOADS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("waihu-plugin-{}-{n}", std::process::id()));
    let read = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(read)?;
    let stem = path
        .file_name()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned());
    let copy = dir.join(stem);
    if let Err(e) = std::fs::copy(path, &copy) {
        remove_copy(&copy);
        return Err(read(e));
    }
    Ok(copy)
}

/// Removes a private copy and its directory: a mapped library needs
/// neither its name nor its directory, and a switch reloading plugins for
/// months must not fill the temporary directory.
fn remove_copy(copy: &Path) {
    let _ = std::fs::remove_file(copy);
    if let Some(dir) = copy.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}

impl Library {
    /// Opens `path`, checks the ABI version, then the table.
    pub fn open(path: &Path) -> Result<Library, LoadError> {
        let copy = private_copy(path)?;
        // SAFETY: loading runs the library's initialisers; a plugin is
        // trusted code the operator configured. The copy is private.
        let opened = unsafe { libloading::Library::new(&copy) };
        // Mapped (or failed): the name is no longer needed either way.
        remove_copy(&copy);
        let lib = opened.map_err(|e| LoadError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        // SAFETY: the symbol's type is the ABI's entry type; a library
        // exporting this name is a waihu plugin by declaration.
        let entry: EntryFn = match unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL_C) } {
            Ok(symbol) => *symbol,
            Err(_) => {
                return Err(LoadError::NoEntry {
                    path: path.to_owned(),
                });
            }
        };
        let mut table: *const WaihuPluginTable = std::ptr::null();
        // SAFETY: a writable out pointer; the entry only writes it.
        let version =
            catch_unwind(AssertUnwindSafe(|| unsafe { entry(&mut table) })).map_err(|_| {
                LoadError::EntryPanicked {
                    path: path.to_owned(),
                }
            })?;
        // The version first: another version's table may have another layout.
        if version != ABI_VERSION {
            return Err(LoadError::WrongAbi {
                path: path.to_owned(),
                found: version,
            });
        }
        let bad = |reason: &str| LoadError::BadTable {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if table.is_null() {
            return Err(bad("the entry function wrote no table"));
        }
        // SAFETY: non-null, written by a plugin of our ABI version: a
        // static table of this layout, alive while `lib` is loaded.
        let t = unsafe { &*table };
        if t.abi_version != ABI_VERSION {
            return Err(bad("the table's version differs from the entry's"));
        }
        if t.capabilities & !capability::ALL != 0 {
            return Err(bad("capability bits this ABI does not define"));
        }
        let needs = [
            (
                capability::EVENTS,
                t.event.is_some(),
                "events without `event`",
            ),
            (
                capability::LOOKUP,
                t.lookup.is_some(),
                "lookup without `lookup`",
            ),
            (
                capability::LUA,
                t.lua_call.is_some() && t.describe.is_some(),
                "lua without `lua_call` and `describe`",
            ),
            (
                capability::AMD,
                t.amd_new.is_some()
                    && t.amd_push.is_some()
                    && t.amd_finish.is_some()
                    && t.amd_free.is_some(),
                "amd without all four amd functions",
            ),
        ];
        for (bit, present, what) in needs {
            if t.capabilities & bit != 0 && !present {
                return Err(bad(what));
            }
        }
        let text = |p: *const std::ffi::c_char| {
            if p.is_null() {
                "?".to_owned()
            } else {
                // SAFETY: the ABI makes these static NUL-terminated strings.
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        Ok(Library {
            path: path.to_owned(),
            name: text(t.name),
            version: text(t.version),
            table,
            _lib: lib,
        })
    }

    fn table(&self) -> &WaihuPluginTable {
        // SAFETY: checked in `open`; valid while `self.lib` is loaded.
        unsafe { &*self.table }
    }

    pub fn capabilities(&self) -> u32 {
        self.table().capabilities
    }

    /// Copies a buffer the plugin handed out, and gives it back.
    fn take(&self, buf: WaihuBuf) -> Vec<u8> {
        if buf.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the plugin handed out `len` readable bytes at `ptr`.
        let bytes = unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec();
        let free = self.table().buf_free;
        // SAFETY: given back once, to the plugin that made it. A panic in
        // it is ignored: the copy is already made.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { free(buf) }));
        bytes
    }

    /// Calls `f` with a fresh out buffer; the status and the buffer's
    /// bytes, or the panic.
    fn call_out(&self, f: impl FnOnce(*mut WaihuBuf) -> WaihuStatus) -> Result<Vec<u8>, CallError> {
        let mut buf = WaihuBuf::EMPTY;
        let out: *mut WaihuBuf = &mut buf;
        let status = catch_unwind(AssertUnwindSafe(|| f(out)));
        let bytes = self.take(buf);
        match status {
            Ok(s) if s.is_ok() => Ok(bytes),
            Ok(s) if s == WaihuStatus::PANIC => Err(CallError::Panicked(lossy(&bytes))),
            Ok(s) if s == WaihuStatus::UNSUPPORTED => Err(CallError::Unsupported),
            Ok(s) => Err(CallError::Failed {
                status: s.name(),
                message: lossy(&bytes),
            }),
            Err(payload) => Err(CallError::Panicked(format!(
                "unwound into the host: {}",
                waihu_plugin_abi::sdk::panic_message(payload.as_ref())
            ))),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the plugin's log lines are tagged with.
struct LogCtx {
    plugin: String,
}

/// The host's log function, as the plugin calls it.
unsafe extern "C-unwind" fn host_log(ctx: *const c_void, level: u32, msg: WaihuSlice) {
    // Nothing may unwind back into the plugin.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if ctx.is_null() {
            return;
        }
        // SAFETY: the ctx we gave the instance, alive until its free returns.
        let ctx = unsafe { &*ctx.cast::<LogCtx>() };
        // SAFETY: lent for the call.
        let text = String::from_utf8_lossy(unsafe { msg.as_bytes() });
        let plugin = ctx.plugin.as_str();
        match level {
            abi::level::ERROR => tracing::error!(target: "waihu::plugin", plugin, "{text}"),
            abi::level::WARN => tracing::warn!(target: "waihu::plugin", plugin, "{text}"),
            abi::level::INFO => tracing::info!(target: "waihu::plugin", plugin, "{text}"),
            _ => tracing::debug!(target: "waihu::plugin", plugin, "{text}"),
        }
    }));
}

/// One instance of a plugin, made from one configuration.
pub struct Instance {
    raw: *mut WaihuInstance,
    // Given to the plugin at `new`: they must outlive `raw`.
    _host: Box<WaihuHost>,
    _log: Box<LogCtx>,
    lib: Arc<Library>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("lib", &self.lib)
            .finish_non_exhaustive()
    }
}

// SAFETY: the ABI requires instances to be usable from any thread, and
// concurrently (docs/plugins.md, "Threads").
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

impl Instance {
    /// Makes an instance from a JSON configuration; `name` tags its logs.
    pub fn new(lib: Arc<Library>, name: &str, config_json: &str) -> Result<Instance, LoadError> {
        let log = Box::new(LogCtx {
            plugin: name.to_owned(),
        });
        let host = Box::new(WaihuHost {
            abi_version: ABI_VERSION,
            ctx: std::ptr::from_ref::<LogCtx>(&log).cast::<c_void>(),
            log: host_log,
        });
        let mut raw: *mut WaihuInstance = std::ptr::null_mut();
        let new = lib.table().new;
        let host_ptr: *const WaihuHost = &*host;
        let made = lib.call_out(|err| {
            // SAFETY: host and config live through the call (and host
            // until free); `raw` and `err` are writable.
            unsafe {
                new(
                    host_ptr,
                    WaihuSlice::new(config_json.as_bytes()),
                    &mut raw,
                    err,
                )
            }
        });
        let refused = |status: &'static str, message: String| LoadError::New {
            path: lib.path.clone(),
            status,
            message,
        };
        match made {
            Ok(_) if raw.is_null() => Err(refused("ok", "but made no instance".into())),
            Ok(_) => Ok(Instance {
                raw,
                _host: host,
                _log: log,
                lib,
            }),
            Err(CallError::Failed { status, message }) => Err(refused(status, message)),
            Err(e) => Err(refused(
                e.failure().map_or("refused", Failure::as_str),
                e.to_string(),
            )),
        }
    }

    pub fn library(&self) -> &Arc<Library> {
        &self.lib
    }

    /// The Lua functions it offers (none without the Lua capability).
    pub fn lua_functions(&self) -> Result<Vec<String>, CallError> {
        let Some(describe) = self.lib.table().describe else {
            return Ok(Vec::new());
        };
        let raw = self.raw;
        // SAFETY: a live instance; `out` is writable.
        let bytes = self.lib.call_out(|out| unsafe { describe(raw, out) })?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| CallError::BadAnswer(e.to_string()))?;
        Ok(v["lua_functions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// One event, as JSON.
    pub fn event(&self, json: &[u8]) -> Result<(), CallError> {
        let f = self.lib.table().event.ok_or(CallError::Unsupported)?;
        let raw = self.raw;
        // SAFETY: a live instance; the event is lent for the call.
        self.lib
            .call_out(|err| unsafe { f(raw, WaihuSlice::new(json), err) })
            .map(drop)
    }

    /// A customer's fields, or `None`.
    pub fn lookup(&self, key: &str) -> Result<Option<serde_json::Value>, CallError> {
        let f = self.lib.table().lookup.ok_or(CallError::Unsupported)?;
        let raw = self.raw;
        // SAFETY: a live instance; the key is lent for the call.
        let bytes = self
            .lib
            .call_out(|out| unsafe { f(raw, WaihuSlice::new(key.as_bytes()), out) })?;
        match serde_json::from_slice(&bytes) {
            Ok(serde_json::Value::Null) => Ok(None),
            Ok(v @ serde_json::Value::Object(_)) => Ok(Some(v)),
            Ok(other) => Err(CallError::BadAnswer(format!(
                "a lookup answers an object or null, not {other}"
            ))),
            Err(e) => Err(CallError::BadAnswer(e.to_string())),
        }
    }

    /// A Lua function with JSON arguments (an array); its JSON result.
    pub fn lua_call(
        &self,
        function: &str,
        args: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let f = self.lib.table().lua_call.ok_or(CallError::Unsupported)?;
        let raw = self.raw;
        let args = args.to_string();
        // SAFETY: a live instance; name and arguments are lent for the call.
        let bytes = self.lib.call_out(|out| unsafe {
            f(
                raw,
                WaihuSlice::new(function.as_bytes()),
                WaihuSlice::new(args.as_bytes()),
                out,
            )
        })?;
        serde_json::from_slice(&bytes).map_err(|e| CallError::BadAnswer(e.to_string()))
    }

    /// A detector for one call.
    pub fn detector(self: &Arc<Self>, config_json: &str) -> Result<RawDetector, CallError> {
        let t = self.lib.table();
        let (Some(new), Some(push), Some(finish), Some(free)) =
            (t.amd_new, t.amd_push, t.amd_finish, t.amd_free)
        else {
            return Err(CallError::Unsupported);
        };
        let mut raw: *mut WaihuDetector = std::ptr::null_mut();
        let inst = self.raw;
        // SAFETY: a live instance; config lent; outs writable.
        self.lib.call_out(|err| unsafe {
            new(inst, WaihuSlice::new(config_json.as_bytes()), &mut raw, err)
        })?;
        if raw.is_null() {
            return Err(CallError::BadAnswer("no detector made".into()));
        }
        Ok(RawDetector {
            raw,
            push,
            finish,
            free,
            _instance: self.clone(),
        })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let free = self.lib.table().free;
        let raw = self.raw;
        // SAFETY: made by this plugin's `new`, freed once, here. The host
        // context boxes and the library outlive the call (fields drop after).
        if catch_unwind(AssertUnwindSafe(|| unsafe { free(raw) })).is_err() {
            tracing::error!(path = %self.lib.path.display(), "plugin panicked while freeing an instance");
        }
    }
}

/// A plugin's detector for one call. Used by one thread at a time (`&mut`).
pub struct RawDetector {
    raw: *mut WaihuDetector,
    push: abi::AmdPushFn,
    finish: abi::AmdFinishFn,
    free: abi::AmdFreeFn,
    /// Keeps the instance (and its library) alive while the call runs.
    _instance: Arc<Instance>,
}

impl std::fmt::Debug for RawDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawDetector").finish_non_exhaustive()
    }
}

// SAFETY: a detector handle may move between threads (the ABI requires
// it); it is used by one at a time, which `&mut self` guarantees.
unsafe impl Send for RawDetector {}
// SAFETY: no method taking `&self` touches the handle: sharing a
// reference gives no way to call the plugin.
unsafe impl Sync for RawDetector {}

impl RawDetector {
    fn report(
        &mut self,
        f: impl FnOnce(*mut WaihuDetector, *mut WaihuAmdReport) -> WaihuStatus,
    ) -> Result<WaihuAmdReport, CallError> {
        let mut report = WaihuAmdReport::default();
        let out: *mut WaihuAmdReport = &mut report;
        let raw = self.raw;
        match catch_unwind(AssertUnwindSafe(|| f(raw, out))) {
            Ok(s) if s.is_ok() => Ok(report),
            Ok(s) if s == WaihuStatus::PANIC => Err(CallError::Panicked("in the detector".into())),
            Ok(s) => Err(CallError::Failed {
                status: s.name(),
                message: String::new(),
            }),
            Err(_) => Err(CallError::Panicked("unwound into the host".into())),
        }
    }

    /// One frame of 8 kHz samples heard from `at_ms`.
    pub fn push(&mut self, frame: &[i16], at_ms: u32) -> Result<WaihuAmdReport, CallError> {
        let push = self.push;
        // SAFETY: a live detector; samples lent; report writable.
        self.report(|d, r| unsafe { push(d, frame.as_ptr(), frame.len(), at_ms, r) })
    }

    /// The end of the analysis; the report must carry a decision.
    pub fn finish(&mut self, at_ms: u32) -> Result<WaihuAmdReport, CallError> {
        let finish = self.finish;
        // SAFETY: a live detector; report writable.
        let r = self.report(|d, r| unsafe { finish(d, at_ms, r) })?;
        if r.decided == 0 {
            return Err(CallError::BadAnswer("finish without a decision".into()));
        }
        Ok(r)
    }
}

impl Drop for RawDetector {
    fn drop(&mut self) {
        let free = self.free;
        let raw = self.raw;
        // SAFETY: made by this plugin's amd_new, freed once, here; the
        // instance is alive (we hold it).
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { free(raw) }));
    }
}
