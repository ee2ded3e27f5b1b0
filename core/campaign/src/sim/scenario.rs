//! A simulated campaign: how the carrier answers and how long agents
//! talk. Read from YAML (`core/campaign/scenarios/*.yaml`).

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::acd::Ms;

/// A duration drawn at random, in milliseconds. In YAML:
/// `{ dist: fixed, ms: 10000 }`, `{ dist: uniform, min_ms: 1000, max_ms:
/// 5000 }` or `{ dist: lognormal, median_ms: 8000, sigma: 0.5 }` (or
/// `mean_ms` instead of `median_ms`; `sigma` is the standard deviation
/// of the logarithm).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Spread {
    Fixed {
        ms: f64,
    },
    Uniform {
        min_ms: f64,
        max_ms: f64,
    },
    Lognormal {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        median_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mean_ms: Option<f64>,
        sigma: f64,
    },
}

impl Spread {
    /// The median of a lognormal, from whichever of median or mean is
    /// given (mean = median·exp(σ²/2)).
    fn lognormal_median(median_ms: Option<f64>, mean_ms: Option<f64>, sigma: f64) -> f64 {
        match (median_ms, mean_ms) {
            (Some(m), _) => m,
            (None, Some(mean)) => mean * (-0.5 * sigma * sigma).exp(),
            (None, None) => 0.0,
        }
    }

    pub fn mean_ms(&self) -> f64 {
        match *self {
            Spread::Fixed { ms } => ms,
            Spread::Uniform { min_ms, max_ms } => 0.5 * (min_ms + max_ms),
            Spread::Lognormal {
                median_ms,
                mean_ms,
                sigma,
            } => Spread::lognormal_median(median_ms, mean_ms, sigma) * (0.5 * sigma * sigma).exp(),
        }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Ms {
        let ms = match *self {
            Spread::Fixed { ms } => ms,
            Spread::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * rng.random::<f64>(),
            Spread::Lognormal {
                median_ms,
                mean_ms,
                sigma,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                Spread::lognormal_median(median_ms, mean_ms, sigma) * (sigma * z).exp()
            }
        };
        // Finite and not negative once validated; `as` saturates anyway.
        ms.max(0.0).round() as Ms
    }

    fn check(&self, field: &'static str) -> Result<(), ScenarioError> {
        let bad = |why: &'static str| Err(ScenarioError::Invalid { field, why });
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        match *self {
            Spread::Fixed { ms } if !ok(ms) => bad("ms must be a duration >= 0"),
            Spread::Uniform { min_ms, max_ms }
                if !(ok(min_ms) && ok(max_ms) && min_ms <= max_ms) =>
            {
                bad("needs 0 <= min_ms <= max_ms")
            }
            Spread::Lognormal {
                median_ms,
                mean_ms,
                sigma,
            } => {
                if median_ms.is_some() == mean_ms.is_some() {
                    return bad("give exactly one of median_ms and mean_ms");
                }
                if !median_ms.or(mean_ms).is_some_and(|m| ok(m) && m > 0.0) {
                    return bad("median_ms or mean_ms must be > 0");
                }
                if !ok(sigma) {
                    return bad("sigma must be >= 0");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Relative weights of a dial's results (they need not add up to 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    pub live: f64,
    pub machine: f64,
    pub busy: f64,
    pub no_answer: f64,
    pub invalid: f64,
    #[serde(default)]
    pub failed: f64,
}

impl Outcomes {
    fn weights(&self) -> [f64; 6] {
        [
            self.live,
            self.machine,
            self.busy,
            self.no_answer,
            self.invalid,
            self.failed,
        ]
    }
}

/// A simulated campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub outcomes: Outcomes,
    /// Time from the dial to the answer, for live answers and machines.
    /// An answer that would come after `no_answer_timeout_ms` is a no
    /// answer.
    pub ring: Spread,
    /// When an unanswered line is given up.
    pub no_answer_timeout_ms: Ms,
    /// When a busy result comes back.
    pub busy_after: Spread,
    /// When an invalid number (or a failed dial) comes back.
    pub invalid_after: Spread,
    /// Machine detection after the answer; the line is then freed.
    pub machine_detect_ms: Ms,
    pub talk: Spread,
    pub wrap_up: Spread,
    /// Preview: how long an agent studies a record before the dial.
    #[serde(default = "default_preview")]
    pub preview: Spread,
    /// A live answer waits this long for an agent, then is abandoned.
    #[serde(default = "default_connect_limit")]
    pub connect_limit_ms: Ms,
    /// How often the simulated dialer asks the pacer.
    #[serde(default = "default_tick")]
    pub tick_ms: Ms,
    /// Contacts in the list; `None`: every dial reaches a fresh contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<u64>,
}

fn default_preview() -> Spread {
    Spread::Fixed { ms: 10_000.0 }
}

fn default_connect_limit() -> Ms {
    2000
}

fn default_tick() -> Ms {
    200
}

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    #[error("scenario YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("scenario field {field}: {why}")]
    Invalid {
        field: &'static str,
        why: &'static str,
    },
}

impl Scenario {
    /// Parses and checks a scenario.
    pub fn from_yaml(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = serde_yaml::from_str(text)?;
        s.check()?;
        Ok(s)
    }

    pub fn check(&self) -> Result<(), ScenarioError> {
        let w = self.outcomes.weights();
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
            return Err(ScenarioError::Invalid {
                field: "outcomes",
                why: "weights must be >= 0 with a positive sum",
            });
        }
        let positive = [
            ("no_answer_timeout_ms", self.no_answer_timeout_ms),
            ("tick_ms", self.tick_ms),
        ];
        for (field, v) in positive {
            if v <= 0 {
                return Err(ScenarioError::Invalid {
                    field,
                    why: "must be > 0",
                });
            }
        }
        if self.machine_detect_ms < 0 || self.connect_limit_ms < 0 {
            return Err(ScenarioError::Invalid {
                field: "machine_detect_ms / connect_limit_ms",
                why: "must be >= 0",
            });
        }
        self.ring.check("ring")?;
        self.busy_after.check("busy_after")?;
        self.invalid_after.check("invalid_after")?;
        self.talk.check("talk")?;
        self.wrap_up.check("wrap_up")?;
        self.preview.check("preview")?;
        Ok(())
    }

    /// Picks a result category: 0 live, 1 machine, 2 busy, 3 no answer,
    /// 4 invalid, 5 failed.
    pub(crate) fn pick_outcome<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let w = self.outcomes.weights();
        let total: f64 = w.iter().sum();
        let mut u = rng.random::<f64>() * total;
        for (i, x) in w.iter().enumerate() {
            if u < *x {
                return i;
            }
            u -= x;
        }
        3
    }

    /// The most talk time an agent can have per hour: talk over talk plus
    /// wrap-up, in minutes.
    pub fn talk_ceiling_min_per_hour(&self) -> f64 {
        let (t, w) = (self.talk.mean_ms(), self.wrap_up.mean_ms());
        if t + w > 0.0 { 60.0 * t / (t + w) } else { 0.0 }
    }
}
