//! The rolling estimates the pacer learns from what it is told: the share
//! of dials answered live, how long lines ring before each kind of result,
//! and how long agents talk and wrap up.
//!
//! Each estimate forgets exponentially by count: every new observation
//! weighs a little more than the one before (`memory` is the number of
//! recent observations that hold about 63% of the weight). Instead of
//! shrinking every old weight at each observation, the increment grows
//! and the whole is rescaled once in a long while, so an observation costs
//! O(1). Before there is data, each estimate starts from a prior worth a
//! few observations, which the data soon outweighs.

use serde::{Deserialize, Serialize};

/// Above this the weights are rescaled so the increment is 1 again.
const RESCALE_ABOVE: f64 = 1e100;

/// The standard normal cumulative distribution function.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    // Abramowitz and Stegun 7.1.26 for erf, absolute error under 1.5e-7.
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let upper = 0.5 * poly * (-x * x).exp();
    if z >= 0.0 { 1.0 - upper } else { upper }
}

/// The standard normal density.
pub(crate) fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// How the bins of a [`Hist`] are laid out, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Bins {
    /// `n` bins `step_ms` wide from 0.
    Linear { step_ms: f64, n: usize },
    /// Bin 0 is `[0, first_ms)`, bin k is `[first_ms·ratio^(k-1),
    /// first_ms·ratio^k)`: a constant relative precision over a wide range.
    Log { first_ms: f64, ratio: f64, n: usize },
}

impl Bins {
    pub(crate) fn len(self) -> usize {
        match self {
            Bins::Linear { n, .. } | Bins::Log { n, .. } => n,
        }
    }

    /// The bin holding `x`; values past the last bin go to the last bin.
    fn index(self, x: f64) -> usize {
        let last = self.len().saturating_sub(1);
        let i = match self {
            // Not negative: truncation is the floor.
            Bins::Linear { step_ms, .. } => ((x.max(0.0) / step_ms) as usize) as f64,
            Bins::Log {
                first_ms, ratio, ..
            } => {
                if x < first_ms {
                    0.0
                } else {
                    1.0 + ((x / first_ms).ln() / ratio.ln()).floor()
                }
            }
        };
        // Not NaN: x is clamped or compared first; `as` saturates.
        (i as usize).min(last)
    }

    /// Lower and upper edge of bin `i`.
    fn edges(self, i: usize) -> (f64, f64) {
        match self {
            Bins::Linear { step_ms, .. } => (i as f64 * step_ms, (i + 1) as f64 * step_ms),
            Bins::Log {
                first_ms, ratio, ..
            } => {
                let hi = first_ms * ratio.powi(i as i32);
                let lo = if i == 0 { 0.0 } else { hi / ratio };
                (lo, hi)
            }
        }
    }
}

/// A histogram of durations that forgets by count (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct Hist {
    bins: Bins,
    weights: Vec<f64>,
    total: f64,
    inc: f64,
    grow: f64,
}

/// A [`Hist`] as persisted: weights scaled so the next increment is 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistSaved {
    weights: Vec<f64>,
}

impl Hist {
    /// An empty histogram remembering about `memory` observations.
    pub(crate) fn new(bins: Bins, memory: f64) -> Hist {
        Hist {
            bins,
            weights: vec![0.0; bins.len()],
            total: 0.0,
            inc: 1.0,
            grow: 1.0 / (1.0 - 1.0 / memory.max(2.0)),
        }
    }

    /// Starts from a lognormal prior worth `weight` observations.
    pub(crate) fn with_lognormal_prior(mut self, median_ms: f64, sigma: f64, weight: f64) -> Hist {
        let mu = median_ms.ln();
        let cdf = |x: f64| {
            if x <= 0.0 {
                0.0
            } else {
                norm_cdf((x.ln() - mu) / sigma)
            }
        };
        let last = self.bins.len() - 1;
        for i in 0..=last {
            let (lo, hi) = self.bins.edges(i);
            let hi_p = if i == last { 1.0 } else { cdf(hi) };
            self.weights[i] += weight * (hi_p - cdf(lo));
        }
        self.total += weight;
        self
    }

    pub(crate) fn add(&mut self, x_ms: f64) {
        if !x_ms.is_finite() {
            return;
        }
        let i = self.bins.index(x_ms);
        self.weights[i] += self.inc;
        self.total += self.inc;
        self.inc *= self.grow;
        if self.inc > RESCALE_ABOVE {
            self.rescale();
        }
    }

    fn rescale(&mut self) {
        let k = 1.0 / self.inc;
        for w in &mut self.weights {
            *w *= k;
        }
        self.total *= k;
        self.inc = 1.0;
    }

    /// The distribution as it stands, to query many times.
    pub(crate) fn cdf(&self) -> Cdf {
        let mut cum = Vec::with_capacity(self.weights.len() + 1);
        cum.push(0.0);
        let mut acc = 0.0;
        for w in &self.weights {
            acc += w;
            cum.push(acc);
        }
        let total = if acc > 0.0 { acc } else { 1.0 };
        for c in &mut cum {
            *c /= total;
        }
        let n = self.bins.len();
        let mut edges: Vec<f64> = (0..n).map(|i| self.bins.edges(i).0).collect();
        edges.push(self.bins.edges(n - 1).1);
        Cdf {
            bins: self.bins,
            cum,
            edges,
        }
    }

    pub(crate) fn save(&self) -> HistSaved {
        let k = 1.0 / self.inc;
        HistSaved {
            weights: self.weights.iter().map(|w| w * k).collect(),
        }
    }

    /// Takes the saved weights if they fit these bins; otherwise keeps the
    /// prior (the layout changed between versions).
    pub(crate) fn restore(mut self, saved: &HistSaved) -> Hist {
        let fits = saved.weights.len() == self.weights.len()
            && saved.weights.iter().all(|w| w.is_finite() && *w >= 0.0)
            && saved.weights.iter().sum::<f64>() > 0.0;
        if fits {
            self.weights.clone_from(&saved.weights);
            self.total = self.weights.iter().sum();
            self.inc = 1.0;
        }
        self
    }
}

/// A snapshot of a [`Hist`]'s cumulative distribution, linear within bins.
#[derive(Clone, Debug)]
pub(crate) struct Cdf {
    bins: Bins,
    /// `cum[i]`: share of the weight below bin `i`'s lower edge.
    cum: Vec<f64>,
    /// `edges[i]`: bin `i`'s lower edge; the last is the top of the last bin.
    edges: Vec<f64>,
}

impl Cdf {
    /// P(X ≤ x).
    pub(crate) fn at(&self, x_ms: f64) -> f64 {
        if x_ms <= 0.0 {
            return 0.0;
        }
        let i = self.bins.index(x_ms);
        let (lo, hi) = (self.edges[i], self.edges[i + 1]);
        let frac = ((x_ms - lo) / (hi - lo)).clamp(0.0, 1.0);
        self.cum[i] + frac * (self.cum[i + 1] - self.cum[i])
    }

    /// P(X ≤ j·step_ms) for j in 0..count, in one pass over the bins.
    pub(crate) fn every(&self, step_ms: f64, count: usize) -> Vec<f64> {
        let last = self.bins.len() - 1;
        let mut i = 0;
        (0..count)
            .map(|j| {
                let x = j as f64 * step_ms;
                if x <= 0.0 {
                    return 0.0;
                }
                while i < last && self.edges[i + 1] <= x {
                    i += 1;
                }
                let (lo, hi) = (self.edges[i], self.edges[i + 1]);
                let frac = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
                self.cum[i] + frac * (self.cum[i + 1] - self.cum[i])
            })
            .collect()
    }

    /// The smallest x with P(X ≤ x) ≥ q.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        let q = q.clamp(0.0, 1.0);
        let n = self.bins.len();
        // First bin whose upper cumulative reaches q.
        let i = self.cum[1..].partition_point(|c| *c < q).min(n - 1);
        let (lo, hi) = (self.edges[i], self.edges[i + 1]);
        let span = self.cum[i + 1] - self.cum[i];
        let frac = if span > 0.0 {
            ((q - self.cum[i]) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        lo + frac * (hi - lo)
    }

    /// The mean, taking each bin at its middle.
    pub(crate) fn mean(&self) -> f64 {
        (0..self.bins.len())
            .map(|i| (self.cum[i + 1] - self.cum[i]) * 0.5 * (self.edges[i] + self.edges[i + 1]))
            .sum()
    }
}

/// A share (of dials answered live) that forgets by count.
#[derive(Clone, Debug)]
pub(crate) struct Share {
    yes: f64,
    total: f64,
    inc: f64,
    grow: f64,
}

/// A [`Share`] as persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ShareSaved {
    yes: f64,
    total: f64,
}

impl Share {
    /// Starts at `prior`, worth `weight` observations.
    pub(crate) fn new(prior: f64, weight: f64, memory: f64) -> Share {
        Share {
            yes: prior * weight,
            total: weight,
            inc: 1.0,
            grow: 1.0 / (1.0 - 1.0 / memory.max(2.0)),
        }
    }

    pub(crate) fn add(&mut self, yes: bool) {
        if yes {
            self.yes += self.inc;
        }
        self.total += self.inc;
        self.inc *= self.grow;
        if self.inc > RESCALE_ABOVE {
            let k = 1.0 / self.inc;
            self.yes *= k;
            self.total *= k;
            self.inc = 1.0;
        }
    }

    pub(crate) fn value(&self) -> f64 {
        if self.total > 0.0 {
            self.yes / self.total
        } else {
            0.0
        }
    }

    pub(crate) fn save(&self) -> ShareSaved {
        ShareSaved {
            yes: self.yes / self.inc,
            total: self.total / self.inc,
        }
    }

    pub(crate) fn restore(mut self, saved: &ShareSaved) -> Share {
        let ok = saved.total.is_finite()
            && saved.total > 0.0
            && saved.yes.is_finite()
            && (0.0..=saved.total).contains(&saved.yes);
        if ok {
            self.yes = saved.yes;
            self.total = saved.total;
            self.inc = 1.0;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_cdf_matches_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((norm_cdf(-1.959_964) - 0.025).abs() < 1e-6);
    }

    #[test]
    fn lognormal_prior_has_its_median() {
        let h = Hist::new(
            Bins::Log {
                first_ms: 1000.0,
                ratio: 1.05,
                n: 200,
            },
            500.0,
        )
        .with_lognormal_prior(120_000.0, 0.8, 20.0);
        let med = h.cdf().quantile(0.5);
        assert!((med - 120_000.0).abs() < 3_000.0, "median {med}");
    }

    #[test]
    fn histogram_forgets_old_observations() {
        let mut h = Hist::new(
            Bins::Linear {
                step_ms: 1000.0,
                n: 60,
            },
            100.0,
        );
        for _ in 0..1000 {
            h.add(5_500.0);
        }
        for _ in 0..1000 {
            h.add(20_500.0);
        }
        let c = h.cdf();
        // Nearly all the weight is on the recent observations.
        assert!(c.at(10_000.0) < 0.001, "{}", c.at(10_000.0));
        assert!((c.quantile(0.5) - 20_500.0).abs() < 600.0);
    }

    #[test]
    fn share_moves_from_its_prior_to_the_data() {
        let mut s = Share::new(0.3, 20.0, 1000.0);
        assert!((s.value() - 0.3).abs() < 1e-12);
        for i in 0..2000 {
            s.add(i % 10 == 0);
        }
        assert!((s.value() - 0.1).abs() < 0.01, "{}", s.value());
    }

    #[test]
    fn saved_histogram_restores_the_same_distribution() {
        let bins = Bins::Linear {
            step_ms: 500.0,
            n: 40,
        };
        let mut h = Hist::new(bins, 300.0);
        for i in 0..5000 {
            h.add(f64::from(i % 37) * 400.0);
        }
        let back = Hist::new(bins, 300.0).restore(&h.save());
        let (a, b) = (h.cdf(), back.cdf());
        for x in [1000.0, 5000.0, 9000.0, 14000.0] {
            assert!((a.at(x) - b.at(x)).abs() < 1e-9);
        }
    }
}
