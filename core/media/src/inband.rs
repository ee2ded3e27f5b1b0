//! In-band DTMF: digits sent as tones inside the audio, by carriers and
//! gateways that do not do RFC 4733 (see [`crate::dtmf`]).
//!
//! [`InbandDetector`] runs the Goertzel algorithm over windows of 102
//! samples for the eight DTMF frequencies and some of their second
//! harmonics, decides per window whether it holds a digit, and reports a
//! digit once when enough consecutive windows agree.
//!
//! # Choices
//! - Windows of 102 samples (12.75 ms): bins 78 Hz wide put the closest
//!   pair of DTMF frequencies (697/770 Hz, 73 Hz apart) near each other's
//!   first null. Two interleaved windows, half a window apart, give a
//!   decision every 6.4 ms; timing then follows the tone closely enough to
//!   tell a 20 ms tone from a 40 ms one, which back-to-back windows of a
//!   useful size cannot (a 20 ms tone split evenly over two of them fills
//!   each by 78%).
//! - A window holds a digit when: one low-group and one high-group tone
//!   together carry at least 80% of the window's energy (a tone covering
//!   part of a window scores about its coverage, so tone edges fail; and
//!   vowels, whose energy spreads over many harmonics, mostly fail too);
//!   each is at least 8 dB above the other tones of its group; each is
//!   louder than about -38 dBFS; the high tone is at most 8 dB weaker
//!   (normal twist) or 4 dB stronger (reverse twist) than the low one; and
//!   the second harmonics of the high tone and of an 852 or 941 Hz low
//!   tone are at least 10 dB below them (voices are rich in harmonics, a
//!   DTMF generator is not). The second harmonics of 697 and 770 Hz are
//!   not checked: they lie within a bin of the 1336/1477/1633 Hz tones,
//!   so that check would reject real digits.
//! - A digit is reported after four consecutive windows hold it: every
//!   tone of 34 ms or more (ITU-T Q.24's shortest digit is 40 ms) is
//!   reported, no tone under 26 ms is. It is not reported again until six
//!   consecutive windows hold no digit: every gap of 31 ms or more (so
//!   Q.24's 40 ms pause) releases it, no gap under 24 ms does, and a
//!   window or two lost to noise in a held tone does not. A different
//!   digit is reported without waiting for the gap.
//!
//! Everything is fixed-size; [`InbandDetector::push`] does not allocate
//! and the result does not depend on how the samples are chunked.

/// Samples per Goertzel window at 8 kHz.
pub const BLOCK: usize = 102;

const SAMPLE_RATE: f32 = 8000.0;
const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Filters: 4 low, 4 high, the second harmonics of the 4 high and of
/// the 2 upper low-group frequencies.
const FILTERS: usize = 14;
/// Low-group rows whose second harmonic is checked: index into those
/// two harmonic filters.
const LOW_HARMONIC: [Option<usize>; 4] = [None, None, Some(0), Some(1)];

/// Share of window energy the two tones must carry.
const MIN_TONE_SHARE: f32 = 0.80;
/// 8 dB as a power ratio: the chosen tone over the rest of its group.
const GROUP_MARGIN: f32 = 6.31;
/// 8 dB: low tone over high tone.
const MAX_NORMAL_TWIST: f32 = 6.31;
/// 4 dB: high tone over low tone.
const MAX_REVERSE_TWIST: f32 = 2.51;
/// 10 dB: high tone over its second harmonic.
const HARMONIC_MARGIN: f32 = 10.0;
/// Quietest tone accepted, as a peak amplitude (about -38 dBFS, below the
/// -30 dBm0 or so that receivers are expected to accept).
const MIN_AMPLITUDE: f32 = 400.0;
/// Consecutive digit windows before a digit is reported.
const ON_WINDOWS: u8 = 4;
/// Consecutive no-digit windows that end a held digit.
const GAP_WINDOWS: u8 = 6;

/// Goertzel state over one analysis window.
#[derive(Debug, Clone, Copy)]
struct Window {
    s1: [f32; FILTERS],
    s2: [f32; FILTERS],
    energy: f32,
    filled: usize,
}

impl Window {
    const EMPTY: Window = Window {
        s1: [0.0; FILTERS],
        s2: [0.0; FILTERS],
        energy: 0.0,
        filled: 0,
    };

    /// Squared magnitude of filter `i` over the window.
    fn power(&self, coeff: &[f32; FILTERS], i: usize) -> f32 {
        let (s1, s2, c) = (self.s1[i], self.s2[i], coeff[i]);
        (s1 * s1 + s2 * s2 - c * s1 * s2).max(0.0)
    }
}

/// Goertzel DTMF detector for 8 kHz, 16-bit audio.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    coeff: [f32; FILTERS],
    windows: [Window; 2],
    /// Consecutive windows holding `streak_digit`.
    streak: u8,
    streak_digit: Option<char>,
    /// The digit reported and not yet released by a gap.
    held: Option<char>,
    /// Consecutive windows holding no digit.
    quiet: u8,
}

impl Default for InbandDetector {
    fn default() -> Self {
        InbandDetector::new()
    }
}

impl InbandDetector {
    /// A detector for 8 kHz audio.
    pub fn new() -> InbandDetector {
        let mut coeff = [0.0; FILTERS];
        let freqs = LOW
            .iter()
            .chain(HIGH.iter())
            .copied()
            .chain(HIGH.map(|f| 2.0 * f))
            .chain([2.0 * LOW[2], 2.0 * LOW[3]]);
        for (c, f) in coeff.iter_mut().zip(freqs) {
            *c = 2.0 * (2.0 * std::f32::consts::PI * f / SAMPLE_RATE).cos();
        }
        // The second window runs half a window behind, as if the audio had
        // been preceded by silence.
        let mut late = Window::EMPTY;
        late.filled = BLOCK / 2;
        InbandDetector {
            coeff,
            windows: [Window::EMPTY, late],
            streak: 0,
            streak_digit: None,
            held: None,
            quiet: 0,
        }
    }

    /// Forgets any partial window and held digit, e.g. after a gap in the
    /// audio that the samples do not show.
    pub fn reset(&mut self) {
        *self = InbandDetector::new();
    }

    /// Feeds samples in any chunk size; calls `out` for each digit found.
    pub fn push(&mut self, samples: &[i16], out: &mut impl FnMut(char)) {
        for &x in samples {
            let x = f32::from(x);
            for w in 0..self.windows.len() {
                let win = &mut self.windows[w];
                for ((s1, s2), c) in win.s1.iter_mut().zip(win.s2.iter_mut()).zip(self.coeff) {
                    let s = x + c * *s1 - *s2;
                    *s2 = *s1;
                    *s1 = s;
                }
                win.energy += x * x;
                win.filled += 1;
                if win.filled == BLOCK {
                    let digit = classify(&self.coeff, win);
                    *win = Window::EMPTY;
                    if let Some(d) = self.debounce(digit) {
                        out(d);
                    }
                }
            }
        }
    }

    fn debounce(&mut self, digit: Option<char>) -> Option<char> {
        let Some(d) = digit else {
            self.streak = 0;
            self.streak_digit = None;
            self.quiet = self.quiet.saturating_add(1);
            if self.quiet >= GAP_WINDOWS {
                self.held = None;
            }
            return None;
        };
        self.quiet = 0;
        if self.streak_digit == Some(d) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.streak_digit = Some(d);
            self.streak = 1;
        }
        if self.streak >= ON_WINDOWS && self.held != Some(d) {
            self.held = Some(d);
            return Some(d);
        }
        None
    }
}

/// The digit a completed window holds, if any.
fn classify(coeff: &[f32; FILTERS], win: &Window) -> Option<char> {
    let mut p = [0.0f32; FILTERS];
    for (i, v) in p.iter_mut().enumerate() {
        *v = win.power(coeff, i);
    }
    let (low, rest) = p.split_at(4);
    let (high, rest) = rest.split_at(4);
    let (harm, low_harm) = rest.split_at(4);
    let row = strongest(low)?;
    let col = strongest(high)?;
    let (pr, pc) = (low[row], high[col]);

    // A sine of amplitude A over n samples gives |X|^2 = (A n / 2)^2
    // and energy n A^2 / 2, hence the scalings below.
    let n = BLOCK as f32;
    let min_power = (MIN_AMPLITUDE * n / 2.0).powi(2);
    if pr < min_power || pc < min_power {
        return None;
    }
    if pr + pc < MIN_TONE_SHARE * win.energy * n / 2.0 {
        return None;
    }
    if pr > MAX_NORMAL_TWIST * pc || pc > MAX_REVERSE_TWIST * pr {
        return None;
    }
    let clear = |group: &[f32], k: usize| {
        group
            .iter()
            .enumerate()
            .all(|(i, &v)| i == k || v * GROUP_MARGIN <= group[k])
    };
    if !clear(low, row) || !clear(high, col) {
        return None;
    }
    if harm[col] * HARMONIC_MARGIN > pc {
        return None;
    }
    if let Some(&Some(i)) = LOW_HARMONIC.get(row) {
        let h = low_harm.get(i).copied().unwrap_or(0.0);
        if h * HARMONIC_MARGIN > pr {
            return None;
        }
    }
    KEYS.get(row).and_then(|r| r.get(col)).copied()
}

/// Index of the largest value, `None` for an empty slice or NaN.
fn strongest(v: &[f32]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in v.iter().enumerate() {
        if !x.is_finite() {
            return None;
        }
        if best.is_none_or(|b| x > v[b]) {
            best = Some(i);
        }
    }
    best
}
