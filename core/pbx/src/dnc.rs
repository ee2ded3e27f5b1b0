//! The do-not-call table in memory, for `dnc.contains` in Lua (which must
//! answer without a query). The store's `dnc` table is the authority: the
//! dial point asks it directly; this copy is updated at once by the
//! switch's own writes (API, IVR opt-out, agent disposition) and reloaded
//! when the table changed behind its back (`waihu dnc add` on the file).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tracing::{info, warn};
use waihu_script::Services;

use crate::shutdown::Shutdown;
use crate::store::StoreHandle;

/// How often the copy checks the table for changes made by other processes.
const REFRESH: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct DncSet {
    numbers: RwLock<HashSet<String>>,
    /// `(rows, newest added_ms)` at the last load.
    seen: RwLock<(u64, i64)>,
}

impl DncSet {
    pub fn contains(&self, phone: &str) -> bool {
        self.numbers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(phone)
    }

    pub fn insert(&self, phone: &str) {
        self.numbers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(phone.to_owned());
    }

    pub fn remove(&self, phone: &str) {
        self.numbers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(phone);
    }

    /// Reloads from the store if the table changed since the last load.
    pub async fn refresh(&self, store: &StoreHandle) {
        let seen = *self
            .seen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = store
            .run(move |s| {
                let now = s.dnc_fingerprint()?;
                if now == seen {
                    return Ok(None);
                }
                let rows = s.dnc_list()?;
                Ok(Some((now, rows)))
            })
            .await;
        match result {
            Ok(None) => {}
            Ok(Some((fingerprint, rows))) => {
                let set: HashSet<String> = rows.into_iter().map(|(p, ..)| p).collect();
                info!(numbers = set.len(), "do-not-call table loaded");
                *self
                    .numbers
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = set;
                *self
                    .seen
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = fingerprint;
            }
            Err(e) => warn!(error = %e, "cannot read the do-not-call table"),
        }
    }

    /// Keeps the copy fresh until shutdown (it holds a store handle, which
    /// must go for the store thread to finish).
    pub fn spawn_refresher(self: &Arc<Self>, store: StoreHandle, mut shutdown: Shutdown) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.recv() => break,
                    _ = tokio::time::sleep(REFRESH) => me.refresh(&store).await,
                }
            }
        });
    }
}

/// What the scripts get from the switch.
#[derive(Debug)]
pub struct SwitchServices {
    pub dnc: Arc<DncSet>,
    pub plugins: Arc<crate::plugin::Plugins>,
}

impl Services for SwitchServices {
    fn dnc_contains(&self, number: &str) -> bool {
        self.dnc.contains(number)
    }

    fn has_plugin(&self, plugin: &str) -> bool {
        self.plugins.has(plugin)
    }

    /// Runs on the plugin's worker; this thread waits at most the plugin's
    /// `timeout_ms` (a script's instruction budget does not count it).
    fn plugin_call(
        &self,
        plugin: &str,
        function: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        self.plugins
            .lua_call(plugin, function, args)
            .map_err(|e| e.to_string())
    }
}
