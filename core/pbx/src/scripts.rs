//! The Lua rule scripts in the running switch: loading them at start, and
//! the three reload triggers (a change in the scripts directory, SIGHUP, and
//! the HTTP API). Every trigger goes through [`reload`], so they all log the
//! same way; a failed reload leaves the serving version in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};
use waihu_script::{HostConfig, LoadError, ScriptHost, Services, VersionInfo};

use crate::config::ScriptsSection;
use crate::shutdown::Shutdown;

/// File events closer together than this are one change (an editor's save
/// writes, renames and touches several files).
const DEBOUNCE: Duration = Duration::from_millis(300);

pub fn host_config(s: &ScriptsSection) -> HostConfig {
    HostConfig {
        dir: s.dir.clone(),
        memory_limit: usize::try_from(s.memory_limit_mb.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX),
        instruction_budget: s.instruction_budget,
        pool_size: s.pool_size,
    }
}

/// Loads version 1, or fails the start with the script's file and line.
pub fn load(s: &ScriptsSection, services: Arc<dyn Services>) -> anyhow::Result<Arc<ScriptHost>> {
    let host = ScriptHost::load(host_config(s), services)
        .with_context(|| format!("loading the scripts in {}", s.dir.display()))?;
    host.set_rollout(s.rollout);
    // The host logs the version it loaded; fill its state pool before calls come.
    host.current().warm_up();
    debug!(dir = %s.dir.display(), "scripts directory");
    Ok(Arc::new(host))
}

/// Offline validation for `waihu check`.
pub fn check(s: &ScriptsSection) -> Result<VersionInfo, LoadError> {
    waihu_script::check(&host_config(s), Arc::new(waihu_script::NoServices))
}

/// Reloads and logs the outcome, naming what asked for it.
pub fn reload(host: &ScriptHost, trigger: &str) -> Result<VersionInfo, LoadError> {
    // The host itself logs the new version, or the error (once, with file
    // and line); this only says what asked for the reload.
    info!(trigger, "reloading scripts");
    let info = host.reload()?;
    // The first calls on a new version would otherwise each build a state.
    host.current().warm_up();
    Ok(info)
}

/// The first 12 hex digits of a content hash, enough to tell versions apart in logs.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Watches `dir` and reloads after each burst of changes, until shutdown.
pub fn spawn_watcher(
    host: Arc<ScriptHost>,
    dir: &Path,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            // A full channel already holds a pending change: nothing to add.
            Ok(e) if !e.kind.is_access() => {
                let _ = tx.try_send(());
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "script directory watch error"),
        }
    })
    .context("starting the script directory watcher")?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .with_context(|| format!("watching {}", dir.display()))?;
    let dir: PathBuf = dir.to_owned();
    tokio::spawn(async move {
        // The watcher stops when dropped: keep it alive with the task.
        let _watcher = watcher;
        info!(dir = %dir.display(), "watching the scripts directory");
        loop {
            tokio::select! {
                () = shutdown.recv() => break,
                got = rx.recv() => if got.is_none() { break },
            }
            // Wait until the directory has been quiet for DEBOUNCE.
            loop {
                tokio::select! {
                    () = shutdown.recv() => return,
                    () = tokio::time::sleep(DEBOUNCE) => {}
                }
                if rx.try_recv().is_err() {
                    break;
                }
            }
            let host = host.clone();
            match tokio::task::spawn_blocking(move || reload(&host, "file change")).await {
                Ok(_) => {}
                Err(e) => error!(error = %e, "script reload task failed"),
            }
        }
        debug!("script watcher stopped");
    });
    Ok(())
}
