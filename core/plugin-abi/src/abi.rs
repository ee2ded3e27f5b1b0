//! The C-shaped types that cross between waihu and a plugin.
//!
//! Everything here is `#[repr(C)]` (or `#[repr(transparent)]` over a C
//! integer) and holds only integers, raw pointers and function pointers:
//! a plugin written in C, C++, Zig or another Rust compiler sees the same
//! layout. `docs/plugins.md` has the equivalent C header.
//!
//! # Ownership
//! - [`WaihuSlice`]: bytes *lent* for the duration of one call. Neither
//!   side keeps the pointer after the call returns.
//! - [`WaihuBuf`]: bytes a plugin allocated and hands to the host (a
//!   result, an error message). The host copies them and gives them back
//!   through the table's [`WaihuPluginTable::buf_free`]: memory is always
//!   freed by the allocator that made it.
//! - [`WaihuInstance`] and [`WaihuDetector`]: opaque handles made by the
//!   plugin, freed by their `_free` function exactly once.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::marker::PhantomData;

/// The ABI this crate describes. A plugin's entry function returns the
/// version it was built for; the host refuses any other, before reading
/// the table (whose layout may differ between versions).
pub const ABI_VERSION: u32 = 1;

/// The one symbol a plugin exports, a [`EntryFn`].
pub const ENTRY_SYMBOL: &str = "waihu_plugin_entry";

/// The same, NUL-terminated, for `dlsym`.
pub const ENTRY_SYMBOL_C: &[u8] = b"waihu_plugin_entry\0";

/// The outcome of a call across the boundary.
///
/// A transparent `i32` rather than a Rust enum: a C plugin may return any
/// integer, and an out-of-range value in a Rust enum would be undefined
/// behaviour. Unknown values are treated as [`WaihuStatus::ERROR`].
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaihuStatus(pub i32);

impl WaihuStatus {
    /// It worked; any output is valid.
    pub const OK: WaihuStatus = WaihuStatus(0);
    /// It failed; the error buffer (if the function has one) says why.
    pub const ERROR: WaihuStatus = WaihuStatus(1);
    /// The input was not what the function accepts (bad JSON, bad UTF-8).
    pub const BAD_INPUT: WaihuStatus = WaihuStatus(2);
    /// The plugin does not offer this (a Lua function it does not have).
    pub const UNSUPPORTED: WaihuStatus = WaihuStatus(3);
    /// The plugin panicked (or threw) and caught it at the boundary.
    pub const PANIC: WaihuStatus = WaihuStatus(4);

    pub fn is_ok(self) -> bool {
        self == WaihuStatus::OK
    }

    /// A short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "ok",
            1 => "error",
            2 => "bad_input",
            3 => "unsupported",
            4 => "panic",
            _ => "unknown",
        }
    }
}

/// Bytes lent for one call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WaihuSlice {
    pub ptr: *const u8,
    pub len: usize,
}

impl WaihuSlice {
    /// Lends `bytes`; the slice must not outlive them.
    pub fn new(bytes: &[u8]) -> WaihuSlice {
        WaihuSlice {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that live and do not change
    /// for `'a` (or `len` must be 0).
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            return &[];
        }
        // SAFETY: the caller vouches for ptr and len, checked non-null above.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Bytes a plugin allocated for the host; given back through
/// [`WaihuPluginTable::buf_free`]. `ptr` null means empty.
#[repr(C)]
#[derive(Debug)]
pub struct WaihuBuf {
    pub ptr: *mut u8,
    pub len: usize,
}

impl WaihuBuf {
    pub const EMPTY: WaihuBuf = WaihuBuf {
        ptr: std::ptr::null_mut(),
        len: 0,
    };
}

/// A plugin instance: what `new` made from one configuration.
#[repr(C)]
#[derive(Debug)]
pub struct WaihuInstance {
    _opaque: [u8; 0],
    // Neither Send, Sync nor Unpin by itself: only the plugin knows.
    _marker: PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

/// An answering-machine detector for one call.
#[repr(C)]
#[derive(Debug)]
pub struct WaihuDetector {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

/// Log levels of [`WaihuHost::log`].
pub mod level {
    pub const ERROR: u32 = 1;
    pub const WARN: u32 = 2;
    pub const INFO: u32 = 3;
    pub const DEBUG: u32 = 4;
}

/// What the host offers a plugin. The pointer given to `new` stays valid
/// until the instance's `free` returns, so an instance may keep it.
#[repr(C)]
#[derive(Debug)]
pub struct WaihuHost {
    /// The ABI the host speaks (equal to the plugin's, or it is not loaded).
    pub abi_version: u32,
    /// Passed back to every host function.
    pub ctx: *const c_void,
    /// Writes a line to waihu's log, tagged with the plugin's name. May be
    /// called from any thread. `msg` is UTF-8 (invalid bytes are replaced).
    pub log: unsafe extern "C-unwind" fn(ctx: *const c_void, level: u32, msg: WaihuSlice),
}

/// Capability bits of [`WaihuPluginTable::capabilities`]. A declared
/// capability's functions must be non-null.
pub mod capability {
    /// Receives every call, agent, campaign and contact event (`event`).
    pub const EVENTS: u32 = 1 << 0;
    /// Answers customer lookups by number or contact id (`lookup`).
    pub const LOOKUP: u32 = 1 << 1;
    /// Offers functions to Lua scripts (`describe`, `lua_call`).
    pub const LUA: u32 = 1 << 2;
    /// An answering-machine detector (`amd_new`, `amd_push`, `amd_finish`,
    /// `amd_free`).
    pub const AMD: u32 = 1 << 3;
    /// Every bit this ABI version defines.
    pub const ALL: u32 = EVENTS | LOOKUP | LUA | AMD;
}

/// What a detector reports after each frame, and at the end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaihuAmdReport {
    /// 1 when this report carries the decision (`verdict`, `at_ms`).
    pub decided: u8,
    /// One of [`verdict`]'s values.
    pub verdict: u8,
    /// 1 when a beep was heard (`beep_*` are set).
    pub beep: u8,
    pub _pad: u8,
    /// When the decision was made, in ms since answer.
    pub at_ms: u32,
    /// When the beep started, in ms since answer.
    pub beep_start_ms: u32,
    /// When it ended, or [`BEEP_NOT_ENDED`].
    pub beep_end_ms: u32,
    /// Its frequency in Hz.
    pub beep_hz: u32,
}

/// `beep_end_ms` of a beep still sounding.
pub const BEEP_NOT_ENDED: u32 = u32::MAX;

/// Values of [`WaihuAmdReport::verdict`].
pub mod verdict {
    pub const HUMAN: u8 = 0;
    pub const MACHINE: u8 = 1;
    pub const UNSURE: u8 = 2;
}

/// The entry symbol's type: writes the table's address to `table` and
/// returns the ABI version the plugin was built for. The table is static:
/// it lives as long as the library stays loaded.
pub type EntryFn = unsafe extern "C-unwind" fn(table: *mut *const WaihuPluginTable) -> u32;

/// Makes an instance from a configuration (a JSON object, the `config`
/// map of the plugin's YAML entry). On failure, `err` may hold a message.
pub type NewFn = unsafe extern "C-unwind" fn(
    host: *const WaihuHost,
    config_json: WaihuSlice,
    instance: *mut *mut WaihuInstance,
    err: *mut WaihuBuf,
) -> WaihuStatus;

/// Frees an instance; after it returns the host calls nothing of it again.
/// An event sink flushes here.
pub type FreeFn = unsafe extern "C-unwind" fn(instance: *mut WaihuInstance);

/// Frees a buffer the plugin handed out.
pub type BufFreeFn = unsafe extern "C-unwind" fn(buf: WaihuBuf);

/// Describes the instance as JSON: `{"lua_functions": ["lookup", ...]}`.
pub type DescribeFn =
    unsafe extern "C-unwind" fn(instance: *const WaihuInstance, out: *mut WaihuBuf) -> WaihuStatus;

/// One event, as a JSON object (see `docs/plugins.md`).
pub type EventFn = unsafe extern "C-unwind" fn(
    instance: *const WaihuInstance,
    event_json: WaihuSlice,
    err: *mut WaihuBuf,
) -> WaihuStatus;

/// A customer lookup: `key` is an E.164 number or a contact id (UTF-8).
/// `out` is a JSON object of fields, or `null` for no such customer; on
/// failure, a message.
pub type LookupFn = unsafe extern "C-unwind" fn(
    instance: *const WaihuInstance,
    key: WaihuSlice,
    out: *mut WaihuBuf,
) -> WaihuStatus;

/// A Lua call `plugins.NAME.function(args...)`: `args_json` is a JSON
/// array; `out` is the JSON result, or on failure a message.
pub type LuaCallFn = unsafe extern "C-unwind" fn(
    instance: *const WaihuInstance,
    function: WaihuSlice,
    args_json: WaihuSlice,
    out: *mut WaihuBuf,
) -> WaihuStatus;

/// A detector for one call; `config_json` is the campaign's `amd` map.
pub type AmdNewFn = unsafe extern "C-unwind" fn(
    instance: *const WaihuInstance,
    config_json: WaihuSlice,
    detector: *mut *mut WaihuDetector,
    err: *mut WaihuBuf,
) -> WaihuStatus;

/// One frame of 8 kHz mono samples heard from `at_ms` after answer.
pub type AmdPushFn = unsafe extern "C-unwind" fn(
    detector: *mut WaihuDetector,
    samples: *const i16,
    count: usize,
    at_ms: u32,
    report: *mut WaihuAmdReport,
) -> WaihuStatus;

/// Ends the analysis; the report must carry a decision.
pub type AmdFinishFn = unsafe extern "C-unwind" fn(
    detector: *mut WaihuDetector,
    at_ms: u32,
    report: *mut WaihuAmdReport,
) -> WaihuStatus;

pub type AmdFreeFn = unsafe extern "C-unwind" fn(detector: *mut WaihuDetector);

/// The functions of a plugin. Optional ones are null unless the matching
/// [`capability`] bit is set.
#[repr(C)]
#[derive(Debug)]
pub struct WaihuPluginTable {
    /// Must equal what the entry function returned.
    pub abi_version: u32,
    /// [`capability`] bits.
    pub capabilities: u32,
    /// The plugin's own name and version (NUL-terminated UTF-8), for logs.
    pub name: *const c_char,
    pub version: *const c_char,
    pub new: NewFn,
    pub free: FreeFn,
    pub buf_free: BufFreeFn,
    pub describe: Option<DescribeFn>,
    pub event: Option<EventFn>,
    pub lookup: Option<LookupFn>,
    pub lua_call: Option<LuaCallFn>,
    pub amd_new: Option<AmdNewFn>,
    pub amd_push: Option<AmdPushFn>,
    pub amd_finish: Option<AmdFinishFn>,
    pub amd_free: Option<AmdFreeFn>,
}

// SAFETY: the table is immutable after it is made (a static in the
// plugin); its pointers are to static strings and functions, which any
// thread may read or call (the functions' own thread rules are in
// docs/plugins.md).
unsafe impl Sync for WaihuPluginTable {}
// SAFETY: as above; moving the reference to another thread changes nothing.
unsafe impl Send for WaihuPluginTable {}

// SAFETY: the host context is only read by the host's own functions, which
// are thread-safe (see WaihuHost::log).
unsafe impl Sync for WaihuHost {}
// SAFETY: as above.
unsafe impl Send for WaihuHost {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_symbol_forms_agree() {
        assert_eq!(
            ENTRY_SYMBOL_C,
            format!("{ENTRY_SYMBOL}\0").as_bytes(),
            "the C form of the symbol name drifted"
        );
    }

    #[test]
    fn unknown_status_codes_have_a_name() {
        assert_eq!(WaihuStatus(77).name(), "unknown");
        assert_eq!(WaihuStatus::PANIC.name(), "panic");
        assert!(!WaihuStatus(-1).is_ok());
    }

    #[test]
    fn report_layout_is_what_the_c_header_says() {
        // docs/plugins.md declares four u8 then four u32.
        assert_eq!(std::mem::size_of::<WaihuAmdReport>(), 20);
        assert_eq!(std::mem::align_of::<WaihuAmdReport>(), 4);
        assert_eq!(std::mem::size_of::<WaihuStatus>(), 4);
        assert_eq!(
            std::mem::size_of::<WaihuSlice>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn empty_slices_read_as_empty() {
        let s = WaihuSlice {
            ptr: std::ptr::null(),
            len: 5,
        };
        // SAFETY: a null pointer is documented to read as empty.
        assert!(unsafe { s.as_bytes() }.is_empty());
    }
}
