//! `waihu run`: bind everything, run until a signal, shut down in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use waihu_script::ScriptHost;
use waihu_sip::endpoint::Endpoint;

use waihu_media::prompt::PromptCache;

use crate::call::CallContext;
use crate::config::{DEFAULTS_NAME, Settings, Warning};
use crate::http::{self, AppState};
use crate::rtp_ports::{self, PortPool};
use crate::scripts;
use crate::shutdown::Coordinator;
use crate::sip::{self, Snapshot};
use crate::store;

/// How long shutdown may take before the process exits anyway.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

/// Loads the numbering plan (libphonenumber's metadata and each
/// country's patterns, read on first use) off the runtime, so the first
/// dial of the day does not wait for it at the dial point.
fn warm_number_rules(settings: &Settings) {
    let mut countries: Vec<String> = settings
        .campaigns
        .iter()
        .map(|c| c.import.default_country.clone())
        .collect();
    countries.push("CN".into());
    countries.sort();
    countries.dedup();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        for country in &countries {
            let _ = crate::campaigns::normalise("+8613800138000", country);
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            ?countries,
            "numbering plan loaded"
        );
    });
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    announce(&settings);
    let started = Instant::now();
    let dnc = Arc::new(crate::dnc::DncSet::default());
    // Before the scripts: they reach plugins as `plugins.NAME`.
    let plugins = Arc::new(crate::plugin::Plugins::load(&settings.plugins));
    let scripts = scripts::load(
        &settings.scripts,
        Arc::new(crate::dnc::SwitchServices {
            dnc: dnc.clone(),
            plugins: plugins.clone(),
        }),
    )?;
    let prompts = load_prompts(&settings.prompts_dir)?;
    let (store, store_thread) = store::start(&settings.store_url)
        .with_context(|| format!("cannot open store.url {}", settings.store_url))?;
    repair_recordings(&settings.recordings_dir);
    dnc.refresh(&store).await;
    // Attempts cut by a crash are closed and their contacts given back,
    // behind the retry floor each set before its INVITE left.
    let recovery = store
        .run(|s| s.recover_dialer(crate::campaigns::now_ms()))
        .await
        .map_err(|e| anyhow!("cannot recover the dialer's state: {e}"))?;
    if recovery.interrupted > 0 || recovery.released > 0 {
        info!(
            interrupted = recovery.interrupted,
            released = recovery.released,
            "dialer recovered after a restart"
        );
    }
    let saved_agents = store
        .run(|s| s.agents())
        .await
        .map_err(|e| anyhow!("cannot read the agents' stored state: {e}"))?;
    let acd = crate::acd::start(
        &settings,
        saved_agents,
        store.clone(),
        scripts.clone(),
        plugins.clone(),
    );

    // The endpoint keys nonces and tags with this; it never leaves the process.
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| anyhow!("no randomness for the endpoint secret: {e}"))?;
    let now = tokio::time::Instant::now().into_std();
    let endpoint = Endpoint::new(settings.endpoint_config(), now, secret);

    let http_listener = TcpListener::bind(settings.http_listen)
        .await
        .with_context(|| format!("cannot listen on http.listen {}", settings.http_listen))?;
    let http_addr = http_listener.local_addr()?;

    let coordinator = Coordinator::new();
    dnc.spawn_refresher(store.clone(), coordinator.handle());
    warm_number_rules(&settings);
    let (snapshots_tx, snapshots_rx) = watch::channel(Snapshot::default());
    let sip_listener = settings.listeners.first().map(|l| l.addr);
    let advertise = rtp_ports::advertise(settings.media.advertise, sip_listener.map(|a| a.ip()));
    let bind_ip = match advertise {
        std::net::IpAddr::V4(_) => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        std::net::IpAddr::V6(_) => std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    };
    crate::call::relay::configure(settings.media.relay_io);
    let calls = CallContext {
        scripts: scripts.clone(),
        prompts: Arc::new(prompts),
        store: store.clone(),
        ports: PortPool::new(bind_ip, settings.media.port_min, settings.media.port_max),
        advertise,
        sip_port: std::sync::OnceLock::new(),
        domain: settings.domain.clone(),
        rtp_timeout: settings.media.rtp_timeout,
        probation: settings.media.probation,
        strict_source: settings.media.strict_source,
        north_american_tones: settings.media.north_american_tones,
        recordings_dir: settings.recordings_dir.clone(),
        max_ring: Duration::from_secs(120),
        active: std::sync::atomic::AtomicUsize::new(0),
        registry: crate::call::Registry::default(),
        trunks: crate::trunks::Trunks::new(&settings.trunks, Instant::now()),
        pstn_agents: settings
            .agents
            .iter()
            .filter(|a| a.allow_pstn)
            .map(|a| a.id.clone())
            .collect(),
        acd: acd.clone(),
        feature_codes: settings.acd.clone(),
        session_timer: settings.session_timer,
        dnc: dnc.clone(),
        plugins: plugins.clone(),
        load: crate::sip::overload::Load::new(settings.overload_delay),
    };
    info!(
        %advertise,
        rtp_ports = %format!("{}-{}", settings.media.port_min, settings.media.port_max),
        legs = calls.ports.capacity(),
        "media"
    );
    let calls = Arc::new(calls);
    let running = sip::start(
        &settings,
        endpoint,
        &coordinator,
        snapshots_tx,
        Some(calls.clone()),
        calls.load.clone(),
    )?;
    for listener in &running.bound {
        info!(%listener, "sip listening");
    }
    // Contact and Via carry the port actually bound (0 in the config of tests).
    if let Some(port) = running.bound.first().map(|l| l.addr.port()) {
        let _ = calls.sip_port.set(port);
    }
    let dialer = crate::dialer::spawn(
        calls.clone(),
        settings.campaigns.clone(),
        running.calls.clone(),
        coordinator.handle(),
    );
    if settings.scripts.watch {
        scripts::spawn_watcher(scripts.clone(), &settings.scripts.dir, coordinator.handle())?;
    }
    let auth = Arc::new(crate::auth::Auth::new(&settings)?);
    let state = AppState::new(snapshots_rx, started)
        .with_auth(auth)
        .with_events(crate::events_ws::EventHub::new(plugins.clone()))
        .with_scripts(scripts.clone())
        .with_store(store.clone())
        .with_calls(calls.clone())
        .with_campaigns(settings.campaigns.clone())
        .with_dialer(dialer)
        .with_plugins(plugins.clone());
    tokio::spawn(http::serve(http_listener, state, coordinator.handle()));
    info!(%http_addr, "http listening (/api/v1/health, /api/v1/scripts, /metrics)");
    info!(version = env!("CARGO_PKG_VERSION"), "waihu started");

    let outcome = wait_for_stop(running.driver, &scripts).await;
    info!("shutting down: no new connections; flushing");
    if tokio::time::timeout(SHUTDOWN_LIMIT, coordinator.shutdown())
        .await
        .is_err()
    {
        warn!(limit = ?SHUTDOWN_LIMIT, "shutdown took too long; exiting anyway");
    }
    // Every call has written its CDR by now; let the store finish writing.
    // The ACD task ends when its last handle goes (those of the calls
    // went with them), writing its last changes.
    drop(calls);
    drop(acd);
    drop(store);
    store_thread.join();
    // Last: event sinks get every event of the shutdown, then flush.
    plugins.shutdown();
    info!("stopped");
    outcome
}

/// Loads every prompt once (converted to 8 kHz, encoded per codec). A bad
/// file stops startup here rather than failing a call later.
fn load_prompts(dir: &std::path::Path) -> anyhow::Result<PromptCache> {
    if !dir.exists() {
        warn!(dir = %dir.display(), "prompts directory missing: calls can play tones and silence only");
        return Ok(PromptCache::new());
    }
    let cache =
        PromptCache::load_dir(dir).map_err(|e| anyhow!("prompts.dir {}: {e}", dir.display()))?;
    info!(dir = %dir.display(), prompts = cache.len(), "prompts loaded");
    Ok(cache)
}

/// Recordings left by a process that died mid-call get their WAV header
/// fixed, so every file in the directory plays.
fn repair_recordings(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "wav") {
            continue;
        }
        match waihu_media::record::repair(&path) {
            Ok(waihu_media::record::RepairOutcome::Repaired { .. }) => {
                info!(path = %path.display(), "recording left unfinished by a previous run repaired");
            }
            Ok(_) => {}
            Err(e) => warn!(path = %path.display(), error = %e, "recording could not be repaired"),
        }
    }
}

/// Logs where the configuration came from and everything worth a warning.
fn announce(settings: &Settings) {
    if settings.source == DEFAULTS_NAME {
        info!("no --config given: running on the embedded defaults");
    } else {
        info!(config = %settings.source, "configuration loaded");
    }
    for warning in &settings.warnings {
        match warning {
            Warning::DemoPasswords { .. } => {
                let bar = "!".repeat(72);
                warn!("{bar}");
                warn!("{warning}");
                warn!("{bar}");
            }
            other => warn!("{other}"),
        }
    }
}

/// Waits for SIGINT or SIGTERM (Ok) or for the SIP driver to end on its own (Err).
async fn wait_for_stop(mut driver: JoinHandle<()>, host: &Arc<ScriptHost>) -> anyhow::Result<()> {
    let mut signals = Signals::new()?;
    loop {
        tokio::select! {
            signal = signals.next() => match signal? {
                Signal::Stop(name) => {
                    info!(signal = name, "stop requested");
                    return Ok(());
                }
                Signal::Hangup => {
                    let host = host.clone();
                    // Reloading compiles Lua: off the async workers. The
                    // outcome is logged by `scripts::reload`.
                    tokio::task::spawn_blocking(move || scripts::reload(&host, "SIGHUP"));
                }
            },
            r = &mut driver => {
                return Err(match r {
                    Ok(()) => anyhow!("the SIP driver stopped unexpectedly"),
                    Err(e) => anyhow!("the SIP driver failed: {e}"),
                });
            }
        }
    }
}

enum Signal {
    Stop(&'static str),
    Hangup,
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
        })
    }

    async fn next(&mut self) -> anyhow::Result<Signal> {
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| Signal::Stop("SIGINT")).context("SIGINT handler"),
            _ = self.term.recv() => Ok(Signal::Stop("SIGTERM")),
            _ = self.hup.recv() => Ok(Signal::Hangup),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) -> anyhow::Result<Signal> {
        tokio::signal::ctrl_c().await.context("Ctrl-C handler")?;
        Ok(Signal::Stop("Ctrl-C"))
    }
}
