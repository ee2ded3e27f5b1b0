//! The predictive model: what the pacer has learned, turned into lookup
//! tables, and the choice of how many lines to dial from them.
//!
//! The tables are rebuilt from the rolling estimates at most every
//! [`REBUILD_MS`] while data comes in, so a decision costs one table
//! lookup per line in progress and per busy agent, whatever the size of
//! the histograms behind it.

use super::Snapshot;
use super::stats::{Bins, Cdf, Hist, HistSaved, Share, ShareSaved, norm_cdf, norm_pdf};
use crate::acd::Ms;
use serde::{Deserialize, Serialize};

/// Rebuild the tables at most this often while observations arrive (the
/// estimates behind them remember about a thousand observations, so they
/// move slowly).
pub(crate) const REBUILD_MS: Ms = 60_000;

/// The moments at which supply and demand are compared: these quantiles
/// of the time a live answer takes, from now.
const HORIZON_QUANTILES: [f64; K] = [0.1, 0.35, 0.6, 0.85];
const K: usize = 4;

/// Lines in progress: rows by elapsed ring time, every 250 ms to 60 s.
const LINE_STEP_MS: Ms = 250;
const LINE_ROWS: usize = 241;
/// Agents on a call: rows by elapsed talk time, every 2 s to 20 min.
const BUSY_STEP_MS: Ms = 2000;
const BUSY_ROWS: usize = 601;
/// Agents in wrap-up: rows by elapsed wrap time, every second to 10 min.
const WRAP_STEP_MS: Ms = 1000;
const WRAP_ROWS: usize = 601;
/// The wrap-up time after a call still in progress is taken at these
/// quantiles of the wrap-up distribution, equally weighted.
const WRAP_POINTS: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

const RING_BINS: Bins = Bins::Linear {
    step_ms: 250.0,
    n: 240,
};
const TALK_BINS: Bins = Bins::Log {
    first_ms: 1000.0,
    ratio: 1.04,
    n: 250,
};

/// The rolling estimates, with their priors.
#[derive(Clone, Debug)]
pub(crate) struct Learned {
    /// Share of dial results that are live answers.
    pub(crate) answers: Share,
    /// Ms from the dial to a live answer.
    pub(crate) live_ring: Hist,
    /// Ms from the dial to any other result.
    pub(crate) other_end: Hist,
    pub(crate) talk: Hist,
    pub(crate) wrap: Hist,
}

/// [`Learned`] as persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LearnedSaved {
    answers: ShareSaved,
    live_ring: HistSaved,
    other_end: HistSaved,
    talk: HistSaved,
    wrap: HistSaved,
}

impl Learned {
    /// Priors: 30% live, live answers after about 8 s, other results
    /// after about 15 s, talk about 2 min, wrap-up about 15 s. Each is
    /// worth a few observations only.
    pub(crate) fn new() -> Learned {
        Learned {
            answers: Share::new(0.3, 30.0, 2000.0),
            live_ring: Hist::new(RING_BINS, 1000.0).with_lognormal_prior(8000.0, 0.5, 10.0),
            other_end: Hist::new(RING_BINS, 2000.0).with_lognormal_prior(15_000.0, 0.8, 10.0),
            talk: Hist::new(TALK_BINS, 1000.0).with_lognormal_prior(120_000.0, 0.8, 10.0),
            wrap: Hist::new(TALK_BINS, 1000.0).with_lognormal_prior(15_000.0, 0.6, 10.0),
        }
    }

    pub(crate) fn save(&self) -> LearnedSaved {
        LearnedSaved {
            answers: self.answers.save(),
            live_ring: self.live_ring.save(),
            other_end: self.other_end.save(),
            talk: self.talk.save(),
            wrap: self.wrap.save(),
        }
    }

    pub(crate) fn restore(saved: &LearnedSaved) -> Learned {
        let fresh = Learned::new();
        Learned {
            answers: fresh.answers.restore(&saved.answers),
            live_ring: fresh.live_ring.restore(&saved.live_ring),
            other_end: fresh.other_end.restore(&saved.other_end),
            talk: fresh.talk.restore(&saved.talk),
            wrap: fresh.wrap.restore(&saved.wrap),
        }
    }
}

/// The decision and the figures behind it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) lines: u32,
    /// Agents expected free by the middle horizon (ready now included).
    pub(crate) expected_free: f64,
    /// Live answers expected from the waiting calls, the lines in
    /// progress and the new lines.
    pub(crate) expected_live: f64,
    /// Abandons expected from them (the worst horizon).
    pub(crate) expected_abandons: f64,
}

/// The tables one decision reads.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub(crate) built_at: Ms,
    pub(crate) answer_rate: f64,
    /// P(a line dialled now is answered live by horizon k).
    new_line: [f64; K],
    /// By elapsed ring time: P(answered live by horizon k), and last
    /// P(answered live at all), given no result yet.
    line: Vec<[f64; K + 1]>,
    /// By elapsed talk time: P(the agent is free by horizon k plus the
    /// connect limit), wrap-up included.
    busy: Vec<[f64; K]>,
    /// By elapsed wrap-up time: the same.
    wrap: Vec<[f64; K]>,
}

/// The cumulative distribution sampled every second, linear in between:
/// cheap to read at arbitrary points while building a table.
struct Grid {
    at: Vec<f64>,
}

impl Grid {
    fn new(cdf: &Cdf, seconds: usize) -> Grid {
        Grid {
            at: cdf.every(1000.0, seconds + 1),
        }
    }

    fn cdf(&self, x_ms: f64) -> f64 {
        let s = (x_ms / 1000.0).max(0.0);
        // Not negative: truncation is the floor.
        let i = s as usize;
        if i + 1 >= self.at.len() {
            return self.at[self.at.len() - 1];
        }
        let f = s - i as f64;
        self.at[i] + f * (self.at[i + 1] - self.at[i])
    }
}

fn row<const N: usize>(table: &[[f64; N]], elapsed: Ms, step: Ms) -> &[f64; N] {
    let i = usize::try_from(elapsed.max(0) / step).unwrap_or(usize::MAX);
    &table[i.min(table.len() - 1)]
}

/// E[max(Y, 0)] for Y normal with mean `mu` and variance `var`.
fn expected_excess(mu: f64, var: f64) -> f64 {
    if var <= 1e-12 {
        return mu.max(0.0);
    }
    let sd = var.sqrt();
    let z = mu / sd;
    (mu * norm_cdf(z) + sd * norm_pdf(z)).max(0.0)
}

impl Model {
    pub(crate) fn build(now: Ms, learned: &Learned, connect_limit_ms: Ms) -> Model {
        let r = learned.answers.value().clamp(0.0, 1.0);
        let live = learned.live_ring.cdf();
        let other = learned.other_end.cdf();
        let mut horizons_ms = [0.0; K];
        let mut new_line = [0.0; K];
        for k in 0..K {
            horizons_ms[k] = live.quantile(HORIZON_QUANTILES[k]);
            new_line[k] = r * live.at(horizons_ms[k]);
        }

        let line = (0..LINE_ROWS)
            .map(|i| {
                let e = (i as Ms * LINE_STEP_MS) as f64;
                let live_left = r * (1.0 - live.at(e));
                let pending = live_left + (1.0 - r) * (1.0 - other.at(e));
                let mut out = [0.0; K + 1];
                if pending > 1e-9 {
                    for k in 0..K {
                        out[k] = r * (live.at(e + horizons_ms[k]) - live.at(e)) / pending;
                    }
                    out[K] = live_left / pending;
                }
                out
            })
            .collect();

        let limit = connect_limit_ms.max(0) as f64;
        let supply_at = horizons_ms.map(|h| h + limit);
        let longest = supply_at[K - 1];
        let span_s = |rows: usize, step: Ms| (rows as Ms * step / 1000) as usize + 2;

        let wrap_cdf = learned.wrap.cdf();
        let wrap_points = WRAP_POINTS.map(|q| wrap_cdf.quantile(q));
        let talk = Grid::new(
            &learned.talk.cdf(),
            span_s(BUSY_ROWS, BUSY_STEP_MS) + (longest / 1000.0) as usize,
        );
        let mut busy: Vec<[f64; K]> = Vec::with_capacity(BUSY_ROWS);
        for i in 0..BUSY_ROWS {
            let e = (i as Ms * BUSY_STEP_MS) as f64;
            let done = talk.cdf(e);
            let alive = 1.0 - done;
            let mut out = [0.0; K];
            if alive < 1e-9 {
                // Past everything seen: keep the last hazard known.
                out = busy.last().copied().unwrap_or([1.0; K]);
            } else {
                for k in 0..K {
                    let mut p = 0.0;
                    for w in wrap_points {
                        let end_by = e + supply_at[k] - w;
                        if end_by > e {
                            p += (talk.cdf(end_by) - done) / alive;
                        }
                    }
                    out[k] = (p / WRAP_POINTS.len() as f64).clamp(0.0, 1.0);
                }
            }
            busy.push(out);
        }

        let wrap = Grid::new(
            &wrap_cdf,
            span_s(WRAP_ROWS, WRAP_STEP_MS) + (longest / 1000.0) as usize,
        );
        let mut wraps: Vec<[f64; K]> = Vec::with_capacity(WRAP_ROWS);
        for i in 0..WRAP_ROWS {
            let e = (i as Ms * WRAP_STEP_MS) as f64;
            let done = wrap.cdf(e);
            let alive = 1.0 - done;
            let out = if alive < 1e-9 {
                wraps.last().copied().unwrap_or([1.0; K])
            } else {
                supply_at.map(|h| ((wrap.cdf(e + h) - done) / alive).clamp(0.0, 1.0))
            };
            wraps.push(out);
        }

        Model {
            built_at: now,
            answer_rate: r,
            new_line,
            line,
            busy,
            wrap: wraps,
        }
    }

    /// The most new lines, up to `max_new`, each of which raises the
    /// expected abandons by at most `risk` times the live answers it
    /// brings (see the module docs of `pacing`).
    pub(crate) fn plan(&self, s: &Snapshot, risk: f64, max_new: u32) -> Plan {
        let waiting = f64::from(s.answered_waiting);
        let mut demand = [waiting; K];
        let mut demand_var = [0.0; K];
        let mut live_total = waiting;
        for &e in &s.lines_in_progress {
            let p = row(&self.line, e, LINE_STEP_MS);
            for k in 0..K {
                demand[k] += p[k];
                demand_var[k] += p[k] * (1.0 - p[k]);
            }
            live_total += p[K];
        }
        let mut supply = [f64::from(s.agents_ready); K];
        let mut supply_var = [0.0; K];
        let busy = s
            .agents_on_call
            .iter()
            .map(|&e| row(&self.busy, e, BUSY_STEP_MS));
        let wrap = s
            .agents_wrap_up
            .iter()
            .map(|&e| row(&self.wrap, e, WRAP_STEP_MS));
        for p in busy.chain(wrap) {
            for k in 0..K {
                supply[k] += p[k];
                supply_var[k] += p[k] * (1.0 - p[k]);
            }
        }

        let abandons = |n: f64| -> f64 {
            (0..K)
                .map(|k| {
                    let g = self.new_line[k];
                    let mu = demand[k] + n * g - supply[k];
                    let var = demand_var[k] + supply_var[k] + n * g * (1.0 - g);
                    expected_excess(mu, var)
                })
                .fold(0.0, f64::max)
        };

        // Each added line adds more expected abandons than the one before
        // (the mean of the shortfall grows linearly in n, its spread like
        // the square root): stop at the first that adds too many.
        let allowed = risk * self.answer_rate;
        let mut lines = 0;
        let mut before = abandons(0.0);
        while lines < max_new {
            let next = abandons(f64::from(lines + 1));
            if next - before > allowed {
                break;
            }
            lines += 1;
            before = next;
        }
        let n = f64::from(lines);
        Plan {
            lines,
            expected_free: supply[K / 2],
            expected_live: live_total + n * self.answer_rate,
            expected_abandons: before,
        }
    }
}
