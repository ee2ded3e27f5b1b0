//! The host: which version serves new work, reloads that swap only after
//! a full validation, rollback, and staged rollout.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use serde::Serialize;

use crate::Services;
use crate::error::{LoadError, RollbackError};
use crate::sandbox::Limits;
use crate::sources::Sources;
use crate::version::{Version, VersionInfo};

/// How the host loads and limits scripts (`scripts.*` in the YAML config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// The scripts directory (`scripts.dir`).
    pub dir: PathBuf,
    /// Bytes per Lua state (`scripts.memory_limit_mb`), default 64 MiB.
    pub memory_limit: usize,
    /// VM instructions per hook call (`scripts.instruction_budget`),
    /// default 1,000,000; checked every 1,000 instructions. The top level
    /// of each file and each self-check get ten times as much.
    pub instruction_budget: u64,
    /// Lua states per version, default 4: at most this many calls on one
    /// version run at once, more wait for a state.
    pub pool_size: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            dir: PathBuf::from("scripts"),
            memory_limit: 64 * 1024 * 1024,
            instruction_budget: 1_000_000,
            pool_size: 4,
        }
    }
}

impl HostConfig {
    fn limits(&self) -> Limits {
        Limits {
            memory: self.memory_limit,
            budget: self.instruction_budget,
        }
    }
}

/// What `GET /api/v1/scripts` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HostStatus {
    pub current: VersionInfo,
    pub previous: Option<VersionInfo>,
    /// The error of the last failed reload, until a reload succeeds.
    pub last_error: Option<String>,
    /// Successful reloads that swapped a new version in.
    pub reloads: u64,
    pub failed_reloads: u64,
    /// Percent of new work `pick` gives the current version (100 unless a
    /// staged rollout is on and a previous version exists).
    pub rollout_percent: u8,
}

#[derive(Debug)]
struct Serving {
    current: Arc<Version>,
    previous: Option<Arc<Version>>,
    rollout: u8,
}

#[derive(Debug)]
struct Book {
    next_number: u64,
    last_error: Option<String>,
    reloads: u64,
    failed_reloads: u64,
}

/// The Lua host. `Send + Sync`: share it in an `Arc`; every method takes
/// `&self`. Reloads are serialised among themselves and never block calls.
pub struct ScriptHost {
    config: HostConfig,
    services: Arc<dyn Services>,
    serving: RwLock<Serving>,
    /// Held for the whole of a reload or rollback.
    reloading: Mutex<()>,
    book: Mutex<Book>,
}

impl fmt::Debug for ScriptHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptHost")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn build_version(
    config: &HostConfig,
    services: &Arc<dyn Services>,
    number: u64,
) -> Result<Version, LoadError> {
    let sources = Sources::read(&config.dir)?;
    Version::build(number, sources, config.limits(), config.pool_size, services)
}

fn log_loaded(info: &VersionInfo, what: &str) {
    tracing::info!(
        version = info.number,
        hash = %&info.hash[..12],
        files = info.files.len(),
        agent_scripts = info.agent_scripts.len(),
        "{what}"
    );
    for warning in &info.warnings {
        tracing::warn!(version = info.number, "{warning}");
    }
}

/// Loads and validates the scripts without serving them: `waihu check`.
/// The info it returns carries number 1.
pub fn check(config: &HostConfig, services: Arc<dyn Services>) -> Result<VersionInfo, LoadError> {
    build_version(config, &services, 1).map(|v| v.info().clone())
}

/// Spreads work ids evenly over 0..100, whatever their pattern
/// (splitmix64's finaliser).
fn bucket(work_id: u64) -> u8 {
    let mut z = work_id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % 100) as u8
}

impl ScriptHost {
    /// Loads version 1, or says why it cannot.
    pub fn load(config: HostConfig, services: Arc<dyn Services>) -> Result<ScriptHost, LoadError> {
        let version = build_version(&config, &services, 1)?;
        log_loaded(version.info(), "scripts loaded");
        let serving = Serving {
            current: Arc::new(version),
            previous: None,
            rollout: 100,
        };
        let book = Book {
            next_number: 2,
            last_error: None,
            reloads: 0,
            failed_reloads: 0,
        };
        Ok(ScriptHost {
            config,
            services,
            serving: RwLock::new(serving),
            reloading: Mutex::new(()),
            book: Mutex::new(book),
        })
    }

    /// The configuration the host was loaded with.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    fn serving(&self) -> std::sync::RwLockReadGuard<'_, Serving> {
        self.serving.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the directory again, builds and validates a new version (top
    /// level, self-checks, hooks, agent scripts) and only then swaps it in.
    /// On error the serving version is untouched, the error is kept for
    /// [`status`](Self::status) and logged once (a repeat of the same error
    /// is not logged again).
    ///
    /// A directory whose content hash equals the current version's is not
    /// reloaded: the current version is returned as it is, so a file
    /// watcher may call this on every event.
    pub fn reload(&self) -> Result<VersionInfo, LoadError> {
        let _reloading = lock(&self.reloading);
        let sources = match Sources::read(&self.config.dir) {
            Ok(sources) => sources,
            Err(e) => return Err(self.failed(e)),
        };
        let current = self.current();
        if sources.hash == current.info().hash {
            lock(&self.book).last_error = None;
            tracing::debug!(version = current.info().number, "scripts unchanged");
            return Ok(current.info().clone());
        }
        let number = lock(&self.book).next_number;
        let version = match Version::build(
            number,
            sources,
            self.config.limits(),
            self.config.pool_size,
            &self.services,
        ) {
            Ok(version) => Arc::new(version),
            Err(e) => return Err(self.failed(e)),
        };
        let info = version.info().clone();
        {
            let mut serving = self.serving.write().unwrap_or_else(PoisonError::into_inner);
            let old = std::mem::replace(&mut serving.current, version);
            serving.previous = Some(old);
        }
        let mut book = lock(&self.book);
        book.next_number += 1;
        book.reloads += 1;
        book.last_error = None;
        drop(book);
        log_loaded(&info, "scripts reloaded");
        Ok(info)
    }

    fn failed(&self, e: LoadError) -> LoadError {
        let mut book = lock(&self.book);
        book.failed_reloads += 1;
        let text = e.to_string();
        if book.last_error.as_deref() != Some(text.as_str()) {
            let serving = self.serving().current.info().number;
            tracing::error!(
                serving,
                "script reload failed, the serving version stays: {text}"
            );
        }
        book.last_error = Some(text);
        e
    }

    /// Makes the previous version current again. The version rolled back
    /// from stops taking new work (work pinned to it finishes on it), and
    /// there is no previous version until the next reload.
    pub fn rollback(&self) -> Result<VersionInfo, RollbackError> {
        let _reloading = lock(&self.reloading);
        let mut serving = self.serving.write().unwrap_or_else(PoisonError::into_inner);
        let previous = serving.previous.take().ok_or(RollbackError::NoPrevious)?;
        let from = std::mem::replace(&mut serving.current, previous);
        let info = serving.current.info().clone();
        drop(serving);
        tracing::warn!(
            from = from.info().number,
            to = info.number,
            "scripts rolled back"
        );
        Ok(info)
    }

    /// The version new work pins (ignoring any staged rollout).
    pub fn current(&self) -> Arc<Version> {
        Arc::clone(&self.serving().current)
    }

    /// The version for new work `work_id` under the staged rollout: the
    /// current version for `percent`% of work ids, the previous one for the
    /// rest. The same id always gets the same answer for a given pair of
    /// versions and percentage.
    pub fn pick(&self, work_id: u64) -> Arc<Version> {
        let serving = self.serving();
        match &serving.previous {
            Some(previous) if serving.rollout < 100 && bucket(work_id) >= serving.rollout => {
                Arc::clone(previous)
            }
            _ => Arc::clone(&serving.current),
        }
    }

    /// Sets the staged rollout percentage (clamped to 100; 100 = everything
    /// on the current version). It stays set across reloads, so each new
    /// version starts on that share of new work.
    pub fn set_rollout(&self, percent: u8) {
        self.serving
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .rollout = percent.min(100);
    }

    pub fn status(&self) -> HostStatus {
        let (current, previous, rollout) = {
            let serving = self.serving();
            let previous = serving.previous.as_ref().map(|p| p.info().clone());
            let rollout = if previous.is_some() {
                serving.rollout
            } else {
                100
            };
            (serving.current.info().clone(), previous, rollout)
        };
        let book = lock(&self.book);
        HostStatus {
            current,
            previous,
            last_error: book.last_error.clone(),
            reloads: book.reloads,
            failed_reloads: book.failed_reloads,
            rollout_percent: rollout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_are_even_for_sequential_ids() {
        let mut counts = [0u32; 100];
        for id in 0..100_000u64 {
            counts[bucket(id) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
