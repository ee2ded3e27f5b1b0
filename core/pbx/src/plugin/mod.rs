//! Native plugins in the running switch: loading, isolation, reload.
//!
//! Each configured plugin has a [`Slot`]: its settings, its health
//! counters, and the instance currently serving (if it loaded). An
//! instance comes with up to two threads of its own:
//! - an event thread ([`events`]) when it is an event sink: the switch
//!   only enqueues, the thread serialises and delivers;
//! - worker threads (`workers`, default 2) when it answers lookups or Lua
//!   calls: callers send a job and wait at most the plugin's time budget,
//!   so a slow plugin costs a call that budget and no more.
//!
//! Isolation: every call's outcome is recorded; an error, a timeout or a
//! panic is logged and counted, and `max_failures` of them in a row
//! disable the plugin (log line, `waihu_plugin_disabled` metric). A
//! disabled plugin is not called; whatever asked gets its safe default
//! (no customer, a Lua error, the built-in detector, an event not sent).
//!
//! Reload builds a new instance from the file first; only if that works
//! does it replace the old one, which stays alive (its library mapped)
//! until the last call holding it is done.

mod amd;
pub mod events;
mod ffi;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};
use waihu_plugin_abi::abi::capability;

use crate::config::PluginSettings;

pub use amd::{AmdRunner, AmdSpec};
pub use events::{CallEvent, Event};
pub use ffi::{CallError, LoadError};

/// Jobs waiting for a plugin's worker; beyond it a call is refused as busy.
const WORKER_QUEUE: usize = 64;

/// How long shutdown waits for event sinks to deliver what is queued.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// Health of one plugin, across reloads.
#[derive(Debug, Default)]
struct Health {
    calls: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    panics: AtomicU64,
    consecutive: AtomicU32,
    disabled: AtomicBool,
    disabled_total: AtomicU64,
}

/// One configured plugin.
#[derive(Debug)]
struct Slot {
    settings: PluginSettings,
    health: Arc<Health>,
    sink: events::SinkCounters,
    current: RwLock<Option<Arc<Loaded>>>,
    /// The event thread of the current instance, joined on shutdown.
    sink_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// One reload at a time.
    reloading: Mutex<()>,
    reloads: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A serving instance and its worker.
#[derive(Debug)]
struct Loaded {
    instance: Arc<ffi::Instance>,
    lua_functions: Vec<String>,
    worker: Option<SyncSender<Job>>,
    loaded_at_ms: i64,
}

/// Work for a plugin's worker thread; skipped once its caller gave up.
struct Job {
    deadline: Instant,
    run: Box<dyn FnOnce(&ffi::Instance) + Send>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Slot {
    fn new(settings: PluginSettings) -> Slot {
        Slot {
            settings,
            health: Arc::default(),
            sink: events::SinkCounters::default(),
            current: RwLock::new(None),
            sink_thread: Mutex::new(None),
            reloading: Mutex::new(()),
            reloads: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    fn name(&self) -> &str {
        &self.settings.name
    }

    fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn disabled(&self) -> bool {
        self.health.disabled.load(Ordering::Relaxed)
    }

    /// Counts one call's outcome; disables the plugin after too many
    /// failures in a row.
    fn record<T>(&self, what: &str, result: &Result<T, CallError>) {
        record(
            &self.health,
            self.name(),
            self.settings.max_failures,
            what,
            result,
        );
    }
}

fn record<T>(health: &Health, name: &str, max: u32, what: &str, result: &Result<T, CallError>) {
    let e = match result {
        Ok(_) => {
            health.calls.fetch_add(1, Ordering::Relaxed);
            health.consecutive.store(0, Ordering::Relaxed);
            return;
        }
        Err(e) => e,
    };
    let counter = match e.failure() {
        Some(ffi::Failure::Panic) => &health.panics,
        Some(ffi::Failure::Timeout) => &health.timeouts,
        Some(ffi::Failure::Error) => &health.errors,
        // Not the plugin's doing (it was not called).
        None => return,
    };
    health.calls.fetch_add(1, Ordering::Relaxed);
    counter.fetch_add(1, Ordering::Relaxed);
    let in_a_row = health.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
    warn!(plugin = name, call = what, failures_in_a_row = in_a_row, error = %e, "plugin call failed");
    if in_a_row >= max && !health.disabled.swap(true, Ordering::Relaxed) {
        health.disabled_total.fetch_add(1, Ordering::Relaxed);
        error!(
            plugin = name,
            failures_in_a_row = in_a_row,
            "plugin disabled after repeated failures; reload it to try again"
        );
    }
}

/// What `waihu check` and a successful load tell about a plugin.
#[derive(Debug, Clone, Serialize)]
pub struct Loadable {
    pub name: String,
    pub plugin: String,
    pub version: String,
    pub capabilities: Vec<&'static str>,
    pub lua_functions: Vec<String>,
}

fn capability_names(bits: u32) -> Vec<&'static str> {
    [
        (capability::EVENTS, "events"),
        (capability::LOOKUP, "lookup"),
        (capability::LUA, "lua"),
        (capability::AMD, "amd"),
    ]
    .into_iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

/// Opens the library and makes an instance, as a load would.
fn instantiate(s: &PluginSettings) -> Result<(Arc<ffi::Instance>, Loadable), LoadError> {
    let lib = Arc::new(ffi::Library::open(&s.path)?);
    let instance = Arc::new(ffi::Instance::new(lib.clone(), &s.name, &s.config_json)?);
    let lua_functions = instance
        .lua_functions()
        .map_err(|source| LoadError::Describe {
            path: s.path.clone(),
            source,
        })?;
    let about = Loadable {
        name: s.name.clone(),
        plugin: lib.name.clone(),
        version: lib.version.clone(),
        capabilities: capability_names(lib.capabilities()),
        lua_functions,
    };
    Ok((instance, about))
}

/// `waihu check`: loads each plugin, makes and frees an instance.
pub fn check(settings: &[PluginSettings]) -> Vec<Result<Loadable, LoadError>> {
    settings
        .iter()
        .map(|s| instantiate(s).map(|(_, about)| about))
        .collect()
}

/// The switch's plugins.
#[derive(Default)]
pub struct Plugins {
    slots: Vec<Arc<Slot>>,
    fanout: events::Fanout,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field(
                "names",
                &self.slots.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Why a reload did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    #[error("no plugin named {0:?} is configured")]
    Unknown(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot start a thread for it: {0}")]
    Thread(#[from] std::io::Error),
}

impl Plugins {
    /// Loads every plugin; one that fails is logged and left out (the
    /// switch runs without it until a reload succeeds).
    pub fn load(settings: &[PluginSettings]) -> Plugins {
        let plugins = Plugins {
            slots: settings
                .iter()
                .map(|s| Arc::new(Slot::new(s.clone())))
                .collect(),
            fanout: events::Fanout::default(),
        };
        for slot in &plugins.slots {
            if let Err(e) = plugins.install(slot) {
                error!(plugin = slot.name(), error = %e, "plugin not loaded; running without it");
                *lock(&slot.last_error) = Some(e.to_string());
            }
        }
        plugins
    }

    fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.slots.iter().find(|s| s.name() == name)
    }

    /// Loads a new instance for `slot` and puts it in service.
    fn install(&self, slot: &Arc<Slot>) -> Result<Loadable, ReloadError> {
        let s = &slot.settings;
        let (instance, about) = instantiate(s)?;
        let caps = instance.library().capabilities();
        let worker = if caps & (capability::LOOKUP | capability::LUA) != 0 {
            Some(spawn_workers(&s.name, s.workers, &instance)?)
        } else {
            None
        };
        let sink = if caps & capability::EVENTS != 0 {
            let inst = instance.clone();
            let health = slot.health.clone();
            let (name, max) = (s.name.clone(), s.max_failures);
            let dropped = slot.sink.dropped.clone();
            let deliver = move |json: &[u8]| {
                if health.disabled.load(Ordering::Relaxed) {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let result = inst.event(json);
                record(&health, &name, max, "event", &result);
            };
            Some(events::spawn_sink(&s.name, s.queue, &slot.sink, deliver)?)
        } else {
            None
        };
        let loaded = Arc::new(Loaded {
            instance,
            lua_functions: about.lua_functions.clone(),
            worker,
            loaded_at_ms: events::now_ms(),
        });
        // The new instance serves from here; calls holding the old one
        // finish with it.
        let (sink, thread) = sink.map_or((None, None), |(s, t)| (Some(s), Some(t)));
        self.fanout.set(&s.name, sink);
        *lock(&slot.sink_thread) = thread;
        *slot
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(loaded);
        slot.health.consecutive.store(0, Ordering::Relaxed);
        slot.health.disabled.store(false, Ordering::Relaxed);
        *lock(&slot.last_error) = None;
        info!(
            plugin = s.name,
            path = %s.path.display(),
            library = about.plugin,
            version = about.version,
            capabilities = ?about.capabilities,
            "plugin loaded"
        );
        Ok(about)
    }

    /// Loads the plugin's file again; on success the new instance serves
    /// new work, and it is enabled again. On failure the old one serves on.
    pub fn reload(&self, name: &str) -> Result<Loadable, ReloadError> {
        let slot = self
            .slot(name)
            .ok_or_else(|| ReloadError::Unknown(name.to_owned()))?;
        let _one_at_a_time = lock(&slot.reloading);
        info!(plugin = name, "reloading plugin");
        match self.install(slot) {
            Ok(about) => {
                slot.reloads.fetch_add(1, Ordering::Relaxed);
                Ok(about)
            }
            Err(e) => {
                warn!(plugin = name, error = %e, "plugin reload failed; the previous instance serves on");
                *lock(&slot.last_error) = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Adds a listener inside the switch (the events WebSocket) beside the
    /// plugins' sinks; its name starts with `@`, which no plugin's can.
    /// `None` removes it (its thread ends once its queue is delivered).
    pub fn set_listener(&self, name: &str, sink: Option<events::Sink>) {
        debug_assert!(name.starts_with('@'));
        self.fanout.set(name, sink);
    }

    /// Offers an event to every event sink, without waiting.
    pub fn emit(&self, event: Event) {
        self.fanout.emit(event);
    }

    /// A call's progress, stamped now. `event` is only built when a sink
    /// listens, so a call site costs nothing without event plugins.
    pub fn emit_call(&self, call_id: &str, event: impl FnOnce() -> CallEvent) {
        if self.wants_events() {
            self.emit(Event::Call {
                at_ms: events::now_ms(),
                call_id: call_id.to_owned(),
                event: event(),
            });
        }
    }

    /// Whether any event sink listens (skip building events otherwise).
    pub fn wants_events(&self) -> bool {
        !self.fanout.is_empty()
    }

    /// Sends `f` to the plugin's worker, which hands its result to
    /// `reply`; the slot, for recording the outcome the caller sees.
    fn submit<T: Send + 'static>(
        &self,
        name: &str,
        what: &'static str,
        f: impl FnOnce(&ffi::Instance) -> Result<T, CallError> + Send + 'static,
        reply: impl FnOnce(Result<T, CallError>) + Send + 'static,
    ) -> Result<Arc<Slot>, CallError> {
        let slot = self.slot(name).ok_or(CallError::NotLoaded)?;
        if slot.disabled() {
            return Err(CallError::Disabled);
        }
        let loaded = slot.current().ok_or(CallError::NotLoaded)?;
        let worker = loaded.worker.as_ref().ok_or(CallError::Unsupported)?;
        let job = Job {
            deadline: Instant::now() + slot.settings.timeout,
            run: Box::new(move |inst| reply(f(inst))),
        };
        match worker.try_send(job) {
            Ok(()) => Ok(slot.clone()),
            Err(TrySendError::Full(_)) => {
                slot.record(what, &Err::<(), _>(CallError::Busy));
                Err(CallError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => Err(CallError::NotLoaded),
        }
    }

    /// A call on the worker, waited for within the budget on this thread
    /// (for Lua, which runs on its caller's thread).
    fn call_blocking<T: Send + 'static>(
        &self,
        name: &str,
        what: &'static str,
        f: impl FnOnce(&ffi::Instance) -> Result<T, CallError> + Send + 'static,
    ) -> Result<T, CallError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let slot = self.submit(name, what, f, move |r| {
            let _ = tx.send(r);
        })?;
        let budget = slot.settings.timeout;
        let result = rx
            .recv_timeout(budget)
            .unwrap_or(Err(CallError::Timeout(millis(budget))));
        slot.record(what, &result);
        result
    }

    /// The same, awaited without holding a thread.
    async fn call_async<T: Send + 'static>(
        &self,
        name: &str,
        what: &'static str,
        f: impl FnOnce(&ffi::Instance) -> Result<T, CallError> + Send + 'static,
    ) -> Result<T, CallError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let slot = self.submit(name, what, f, move |r| {
            let _ = tx.send(r);
        })?;
        let budget = slot.settings.timeout;
        let result = match tokio::time::timeout(budget, rx).await {
            Ok(Ok(r)) => r,
            _ => Err(CallError::Timeout(millis(budget))),
        };
        slot.record(what, &result);
        result
    }

    /// `plugins.NAME.function(args...)` from Lua.
    pub fn lua_call(&self, name: &str, function: &str, args: Value) -> Result<Value, CallError> {
        let slot = self.slot(name).ok_or(CallError::NotLoaded)?;
        let known = slot
            .current()
            .is_some_and(|l| l.lua_functions.iter().any(|f| f == function));
        if !known {
            return Err(CallError::Unsupported);
        }
        let function = function.to_owned();
        self.call_blocking(name, "lua", move |inst| inst.lua_call(&function, &args))
    }

    /// Whether Lua may see `plugins.NAME`.
    pub fn has(&self, name: &str) -> bool {
        self.slot(name).is_some()
    }

    /// The customer behind a number or contact id: the first lookup
    /// plugin (in configuration order) that knows them, with its name.
    /// A plugin that fails or is slow is skipped.
    pub async fn lookup(&self, key: &str) -> Option<(String, Value)> {
        for slot in &self.slots {
            let offers = slot
                .current()
                .is_some_and(|l| l.instance.library().capabilities() & capability::LOOKUP != 0);
            if !offers {
                continue;
            }
            let k = key.to_owned();
            if let Ok(Some(found)) = self
                .call_async(slot.name(), "lookup", move |inst| inst.lookup(&k))
                .await
            {
                return Some((slot.name().to_owned(), found));
            }
        }
        None
    }

    /// A detector of plugin `name` for one call.
    fn detector(&self, name: &str, config_json: &str) -> Result<ffi::RawDetector, CallError> {
        let slot = self.slot(name).ok_or(CallError::NotLoaded)?;
        if slot.disabled() {
            return Err(CallError::Disabled);
        }
        let loaded = slot.current().ok_or(CallError::NotLoaded)?;
        let made = loaded.instance.detector(config_json);
        slot.record("amd", &made);
        made
    }

    /// The health of plugin `name`, for its detectors.
    fn health(&self, name: &str) -> Option<(Arc<Health>, u32)> {
        self.slot(name)
            .map(|s| (s.health.clone(), s.settings.max_failures))
    }

    /// What `GET /api/v1/plugins` shows.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.slots
            .iter()
            .map(|slot| {
                let h = &slot.health;
                let loaded = slot.current();
                PluginStatus {
                    name: slot.name().to_owned(),
                    path: slot.settings.path.display().to_string(),
                    loaded: loaded.is_some(),
                    plugin: loaded.as_ref().map(|l| l.instance.library().name.clone()),
                    version: loaded
                        .as_ref()
                        .map(|l| l.instance.library().version.clone()),
                    capabilities: loaded
                        .as_ref()
                        .map(|l| capability_names(l.instance.library().capabilities()))
                        .unwrap_or_default(),
                    lua_functions: loaded
                        .as_ref()
                        .map(|l| l.lua_functions.clone())
                        .unwrap_or_default(),
                    loaded_at_ms: loaded.as_ref().map(|l| l.loaded_at_ms),
                    disabled: h.disabled.load(Ordering::Relaxed),
                    failures_in_a_row: h.consecutive.load(Ordering::Relaxed),
                    calls: h.calls.load(Ordering::Relaxed),
                    errors: h.errors.load(Ordering::Relaxed),
                    timeouts: h.timeouts.load(Ordering::Relaxed),
                    panics: h.panics.load(Ordering::Relaxed),
                    disabled_times: h.disabled_total.load(Ordering::Relaxed),
                    events_queued: slot.sink.queued.load(Ordering::Relaxed),
                    events_dropped: slot.sink.dropped.load(Ordering::Relaxed),
                    reloads: slot.reloads.load(Ordering::Relaxed),
                    last_error: lock(&slot.last_error).clone(),
                }
            })
            .collect()
    }

    /// Stops delivery: every event sink gets what is queued, then its
    /// instance is freed (an event file is flushed). A sink still busy
    /// after [`SHUTDOWN_FLUSH`] is left behind, so a stuck plugin cannot
    /// hold up the process's exit.
    pub fn shutdown(&self) {
        let mut threads = Vec::new();
        for slot in &self.slots {
            self.fanout.set(slot.name(), None);
            *slot
                .current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            if let Some(thread) = lock(&slot.sink_thread).take() {
                threads.push((slot.name(), thread));
            }
        }
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
        for (name, thread) in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                warn!(
                    plugin = name,
                    "event sink still busy at shutdown; its last events may be lost"
                );
            }
        }
    }
}

/// The worker threads of an instance (instances are thread-safe by the
/// ABI, so lookups of concurrent calls run side by side): each takes the
/// next job until the last sender is gone; a job whose caller has stopped
/// waiting is skipped.
fn spawn_workers(
    name: &str,
    workers: usize,
    instance: &Arc<ffi::Instance>,
) -> std::io::Result<SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel::<Job>(WORKER_QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..workers.max(1) {
        let (rx, instance) = (rx.clone(), instance.clone());
        std::thread::Builder::new()
            .name(format!("plugin-{name}-{i}"))
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for a job.
                    let next = lock(&rx).recv();
                    let Ok(job) = next else {
                        return;
                    };
                    if Instant::now() < job.deadline {
                        (job.run)(&instance);
                    }
                }
            })?;
    }
    Ok(tx)
}

/// One plugin in `GET /api/v1/plugins`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub path: String,
    pub loaded: bool,
    pub plugin: Option<String>,
    pub version: Option<String>,
    pub capabilities: Vec<&'static str>,
    pub lua_functions: Vec<String>,
    pub loaded_at_ms: Option<i64>,
    pub disabled: bool,
    pub failures_in_a_row: u32,
    pub calls: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub panics: u64,
    pub disabled_times: u64,
    pub events_queued: u64,
    pub events_dropped: u64,
    pub reloads: u64,
    pub last_error: Option<String>,
}

/// A budget in milliseconds, for messages.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
