//! Answering-machine detection by a plugin, behind the same
//! [`waihu_media::amd::Detector`] trait as the built-in detector.
//!
//! Safe defaults: a plugin that is disabled or cannot make a detector is
//! replaced by the built-in detector for that call; one that fails in the
//! middle of a call decides "unsure", which the dialer treats like a
//! person (the costly mistake is hanging up on one).

use std::sync::Arc;

use serde_json::json;
use tracing::warn;
use waihu_media::amd::{Beep, Config, Decision, Detector, EnergyCadence, Reason, Verdict};
use waihu_plugin_abi::abi::{self, WaihuAmdReport};

use super::{CallError, Health, Plugins, ffi, record};

/// Which detector a campaign's calls get (`amd.detector`).
#[derive(Clone, Debug)]
pub enum AmdSpec {
    Builtin(Config),
    Plugin {
        plugins: Arc<Plugins>,
        name: String,
        campaign: String,
    },
}

impl AmdSpec {
    /// A detector for one call.
    pub fn start(&self) -> AmdRunner {
        match self {
            AmdSpec::Builtin(config) => AmdRunner(Box::new(EnergyCadence::new(config.clone()))),
            AmdSpec::Plugin {
                plugins,
                name,
                campaign,
            } => {
                let config = json!({ "campaign": campaign }).to_string();
                match (plugins.detector(name, &config), plugins.health(name)) {
                    (Ok(raw), Some((health, max_failures))) => {
                        AmdRunner(Box::new(PluginDetector {
                            raw,
                            name: name.clone(),
                            health,
                            max_failures,
                            beep: None,
                            decision: None,
                            done: false,
                        }))
                    }
                    (Err(e), _) => {
                        warn!(plugin = %name, error = %e, "no plugin detector for this call; the built-in one listens");
                        AmdRunner(Box::new(EnergyCadence::new(Config::default())))
                    }
                    (Ok(_), None) => AmdRunner(Box::new(EnergyCadence::new(Config::default()))),
                }
            }
        }
    }
}

/// A detector of either kind, for a call's state.
/// `Sync` because a call's state is shared across its awaits.
pub struct AmdRunner(Box<dyn Detector + Sync>);

impl std::fmt::Debug for AmdRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AmdRunner")
    }
}

impl Detector for AmdRunner {
    fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Decision> {
        self.0.push(frame, at_ms)
    }
    fn finish(&mut self, at_ms: u32) -> Decision {
        self.0.finish(at_ms)
    }
    fn beep(&self) -> Option<Beep> {
        self.0.beep()
    }
}

/// The adapter over a plugin's detector handle.
struct PluginDetector {
    raw: ffi::RawDetector,
    name: String,
    health: Arc<Health>,
    max_failures: u32,
    beep: Option<Beep>,
    /// The decision once made: reported once, kept for `finish`.
    decision: Option<Decision>,
    /// Failed: later frames are not sent.
    done: bool,
}

/// A detector runs on the call's own task, once per 20 ms frame: one that
/// takes longer than the frame is failing the call's media, and counts as
/// a timeout (enough in a row disable the plugin, and the call decides
/// "unsure"). It is not preempted: the ABI asks detectors to be quick.
const FRAME_BUDGET: std::time::Duration = std::time::Duration::from_millis(20);

const PLUGIN: Reason = Reason::Other("plugin");
const PLUGIN_FAILED: Reason = Reason::Other("plugin-failed");

impl PluginDetector {
    fn take(&mut self, r: &WaihuAmdReport) -> Option<Decision> {
        if r.beep != 0 {
            self.beep = Some(Beep {
                start_ms: r.beep_start_ms,
                end_ms: (r.beep_end_ms != abi::BEEP_NOT_ENDED).then_some(r.beep_end_ms),
                hz: r.beep_hz,
            });
        }
        if r.decided == 0 || self.decision.is_some() {
            return None;
        }
        let verdict = match r.verdict {
            abi::verdict::HUMAN => Verdict::Human,
            abi::verdict::MACHINE => Verdict::Machine,
            _ => Verdict::Unsure,
        };
        self.decision = Some(Decision {
            verdict,
            at_ms: r.at_ms,
            reason: PLUGIN,
        });
        self.decision
    }

    /// Unsure, unless a decision was made before the failure.
    fn failed(&mut self, at_ms: u32) -> Decision {
        self.done = true;
        *self.decision.get_or_insert(Decision {
            verdict: Verdict::Unsure,
            at_ms,
            reason: PLUGIN_FAILED,
        })
    }

    fn record<T>(&self, result: &Result<T, CallError>) {
        record(&self.health, &self.name, self.max_failures, "amd", result);
    }
}

impl Detector for PluginDetector {
    fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Decision> {
        // After its decision a detector may still hear the beep: keep
        // feeding until it fails.
        if self.done {
            return None;
        }
        let decided = self.decision.is_some();
        if self
            .health
            .disabled
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            let d = self.failed(at_ms);
            return (!decided).then_some(d);
        }
        let started = std::time::Instant::now();
        let result = self.raw.push(frame, at_ms);
        if result.is_ok() && started.elapsed() > FRAME_BUDGET {
            // Counted as a failure; its answer is still used.
            self.record(&Err::<(), _>(CallError::Timeout(super::millis(
                FRAME_BUDGET,
            ))));
        } else {
            self.record(&result);
        }
        match result {
            Ok(r) => self.take(&r),
            Err(_) => {
                let d = self.failed(at_ms);
                (!decided).then_some(d)
            }
        }
    }

    fn finish(&mut self, at_ms: u32) -> Decision {
        if self.done {
            return self.failed(at_ms);
        }
        if let Some(d) = self.decision {
            return d;
        }
        let result = self.raw.finish(at_ms);
        self.record(&result);
        match result {
            Ok(r) => self.take(&r).unwrap_or_else(|| self.failed(at_ms)),
            Err(_) => self.failed(at_ms),
        }
    }

    fn beep(&self) -> Option<Beep> {
        self.beep
    }
}
