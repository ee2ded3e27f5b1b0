//! waihu-script: the Lua host. The only crate of waihu that knows Lua.
//!
//! Telecom engineers program waihu in Lua (5.4, through mlua) and change the
//! rules during the working day. This crate loads a scripts directory into
//! a [`Version`], serves hook calls from it, and swaps in a new version on
//! reload only after the new one has fully loaded and passed its own
//! checks. It does no IO besides reading the directory when asked, starts
//! no threads and knows no async runtime: the binary decides when to reload
//! (file watcher, `POST /api/v1/scripts/reload`, SIGHUP) and which thread
//! calls which hook.
//!
//! # How it is driven
//! ```no_run
//! use std::sync::Arc;
//! use waihu_script::{Contact, HostConfig, NoServices, ScriptHost, Verdict};
//!
//! let host = Arc::new(ScriptHost::load(HostConfig::default(), Arc::new(NoServices))?);
//! // New work pins a version and keeps it until it ends, whatever reloads
//! // happen meanwhile.
//! let version = host.pick(42);
//! let contact = Contact { id: 42, phone: "+8613800138000".into(), ..Contact::default() };
//! let verdict = version
//!     .blacklist_check(&contact.phone, Some(&contact), 1_700_000_000)
//!     .unwrap_or_else(|e| {
//!         tracing::warn!("{e}"); // names file, line and hook
//!         Verdict::fail_closed()
//!     });
//! # let _ = verdict;
//! host.reload()?; // on error the old version keeps serving
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The pieces
//! - [`ScriptHost`]: the serving version and the previous one, reload,
//!   rollback, staged rollout ([`ScriptHost::pick`]), status.
//! - [`Version`]: one snapshot of the directory (content hash, number), its
//!   validated agent scripts, and a pool of Lua states. A hook call leases a
//!   state for its duration, so calls on different threads run in parallel;
//!   the pool grows lazily to [`HostConfig::pool_size`] states.
//! - The sandbox: only `string`, `table`, `math`, `utf8`, `coroutine` and
//!   `os.time`/`os.date`/`os.clock`; `load` of text only; `require` of
//!   `lib/` modules only; `print` to the log; no `__gc` finalizers;
//!   `collectgarbage` limited to `collect`/`count`/`step`/`isrunning`.
//!   Per state a memory limit (armed while script code runs: the host's own
//!   argument building runs without it, which keeps a call cheap), per call
//!   an instruction budget (checked every 1,000 instructions, ten times the
//!   budget for each file's top level and each self-check). A failing call
//!   is a [`HookError`] naming the script file, line and hook; the caller
//!   applies the hook's safe default (each hook method says which), and a
//!   state that hit a limit is replaced by a fresh one.
//! - Errors at load are [`LoadError`]s with file and line: syntax, runtime,
//!   limits, a failing self-check (`tests = { name = function() ... end }`),
//!   a bad agent script (script and node named), a hook of the wrong type.
//! - The hook data types ([`Contact`], [`ModeChoice`], [`Verdict`], ...)
//!   are plain Rust; no Lua value escapes this crate.
//!
//! # Call flows
//! The `route(call)` hook waits on call events, so it runs as a coroutine
//! per call: [`Version::start_route`] gives a [`Route`], and
//! [`Route::resume`] runs it to its next [`waihu_call::Command`], to be
//! resumed with the reply [`waihu_call::Event`]. The budget and the memory
//! limit are armed around each resume (a resume must stay short, not the
//! call). A suspended route pins the Lua state its coroutine lives in, so
//! routes do not use the pool: each version keeps a few route states of its
//! own and gives a new route the least loaded (see `route.rs`). What makes
//! this safe:
//! - the instruction budget is a *global* hook, so it covers threads the
//!   host creates as well as coroutines scripts create;
//! - `pcall`, `xpcall` and `coroutine.resume` are Lua wrappers over the
//!   yieldable originals, so a route may yield inside a `pcall`;
//! - a call method checks it runs in its own route's coroutine, and yields
//!   a command only the host can build: a script's own `coroutine.yield`
//!   cannot pass for one.
#![forbid(unsafe_code)]

mod agent;
mod convert;
mod error;
mod host;
mod pool;
mod route;
mod sandbox;
mod say;
mod sources;
mod state;
mod types;
mod version;

pub use error::{HookError, HookErrorKind, LoadError, LoadErrorKind, RollbackError};
pub use host::{HostConfig, HostStatus, ScriptHost, check};
pub use route::{CallInfo, Route, RouteStats, Step};
pub use types::{
    AgentChange, AgentScript, Choice, Contact, Customer, DialMode, ModeChoice,
    NEXT_ATTEMPT_ON_ERROR, Node, Offer, Outcome, OverflowAction, OverflowInfo, UnknownOutcome,
    Verdict, offers_on_error,
};
pub use version::{Version, VersionInfo};

/// What the host offers scripts from the rest of the switch.
pub trait Services: Send + Sync + 'static {
    /// Whether the stored do-not-call list holds `number` (`dnc.contains`
    /// in Lua). Called from inside hook calls: it must be quick (an
    /// in-memory set, not a query per call).
    fn dnc_contains(&self, number: &str) -> bool;

    /// Whether a plugin named `plugin` is configured: scripts see it as
    /// `plugins.NAME` (nil otherwise).
    fn has_plugin(&self, _plugin: &str) -> bool {
        false
    }

    /// `plugins.NAME.function(args...)`: the arguments as a JSON array,
    /// the result as JSON, or an error message (raised as a Lua error).
    /// Called from inside hook calls and routes: the implementation must
    /// bound how long it takes (the switch gives each plugin a budget).
    fn plugin_call(
        &self,
        plugin: &str,
        function: &str,
        _args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        Err(format!("no plugin {plugin} to call {function} on"))
    }
}

/// No services: the do-not-call list is empty. For `waihu check` and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoServices;

impl Services for NoServices {
    fn dnc_contains(&self, _number: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_and_versions_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::ScriptHost>();
        send_sync::<crate::Version>();
        send_sync::<std::sync::Arc<crate::Version>>();
    }
}
