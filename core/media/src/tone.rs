//! Call-progress tones, DTMF digits, comfort noise and silence, generated
//! at 8 kHz.
//!
//! Generation is deterministic and phase-continuous: every sample is a
//! function of its index since the tone started, so filling a buffer in
//! one call or in many gives the same samples, and a frame boundary never
//! clicks. All frequencies are whole hertz, so each component repeats
//! exactly every 8000 samples and the index can be reduced modulo 8000
//! before it meets floating point.
//!
//! Levels: each sine component peaks at [`COMPONENT_PEAK`], about
//! -10.3 dBm0 on the usual 16-bit G.711 scale, in the -10..-13 dBm0 band
//! that carriers use for call progress.

use std::f64::consts::TAU;

/// Peak amplitude of one sine component.
pub const COMPONENT_PEAK: f64 = 7_000.0;
/// Comfort noise is uniform in +-this, about -65 dBov RMS: audible as
/// "the line is alive" in a quiet room, below any speech.
pub const COMFORT_NOISE_PEAK: i32 = 32;

const RATE: u64 = 8_000;
const DTMF_ROWS: [u32; 4] = [697, 770, 852, 941];
const DTMF_COLS: [u32; 4] = [1209, 1336, 1477, 1633];

/// Whose call-progress conventions to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToneRegion {
    /// China (GB 3380 / YD conventions): 450 Hz.
    China,
    /// North America (ANSI T1.401 precise tones).
    NorthAmerica,
}

/// A DTMF digit: 0-9, `*`, `#`, A-D.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DtmfDigit(u8);

impl DtmfDigit {
    /// The digit for `c` (A-D in either case), or `None` if `c` is not a
    /// DTMF key.
    pub fn from_char(c: char) -> Option<DtmfDigit> {
        let c = c.to_ascii_uppercase();
        matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(DtmfDigit(c as u8))
    }

    /// The key as a character.
    pub fn as_char(self) -> char {
        char::from(self.0)
    }

    /// The (row, column) frequencies in hertz (ITU-T Q.23).
    pub fn frequencies(self) -> (u32, u32) {
        let (row, col) = self.grid();
        (DTMF_ROWS[row], DTMF_COLS[col])
    }

    /// Position on the keypad.
    fn grid(self) -> (usize, usize) {
        match self.0 {
            b'1' => (0, 0),
            b'2' => (0, 1),
            b'3' => (0, 2),
            b'A' => (0, 3),
            b'4' => (1, 0),
            b'5' => (1, 1),
            b'6' => (1, 2),
            b'B' => (1, 3),
            b'7' => (2, 0),
            b'8' => (2, 1),
            b'9' => (2, 2),
            b'C' => (2, 3),
            b'*' => (3, 0),
            b'0' => (3, 1),
            b'#' => (3, 2),
            _ => (3, 3), // 'D': the constructor admits nothing else
        }
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToneKind {
    /// Ringback ("the other side is ringing"), with its cadence.
    Ringback(ToneRegion),
    /// Busy, with its cadence.
    Busy(ToneRegion),
    /// A DTMF digit, continuous.
    Dtmf(DtmfDigit),
    /// Low-level pseudo-random noise.
    ComfortNoise,
    /// Digital silence.
    Silence,
}

impl ToneKind {
    /// True for [`ToneKind::Silence`]: nothing worth sending.
    pub fn is_silence(self) -> bool {
        matches!(self, ToneKind::Silence)
    }

    /// The sine components in hertz (empty for noise and silence).
    pub fn frequencies(self) -> &'static [u32] {
        match self {
            ToneKind::Ringback(ToneRegion::China) | ToneKind::Busy(ToneRegion::China) => &[450],
            ToneKind::Ringback(ToneRegion::NorthAmerica) => &[440, 480],
            ToneKind::Busy(ToneRegion::NorthAmerica) => &[480, 620],
            ToneKind::Dtmf(d) => dtmf_pair(d),
            ToneKind::ComfortNoise | ToneKind::Silence => &[],
        }
    }

    /// The on/off cadence in milliseconds, or `None` for a continuous
    /// signal.
    pub fn cadence_ms(self) -> Option<(u32, u32)> {
        match self {
            ToneKind::Ringback(ToneRegion::China) => Some((1_000, 4_000)),
            ToneKind::Busy(ToneRegion::China) => Some((350, 350)),
            ToneKind::Ringback(ToneRegion::NorthAmerica) => Some((2_000, 4_000)),
            ToneKind::Busy(ToneRegion::NorthAmerica) => Some((500, 500)),
            ToneKind::Dtmf(_) | ToneKind::ComfortNoise | ToneKind::Silence => None,
        }
    }
}

/// `frequencies` hands out `&'static` slices, so each pair lives in a table.
fn dtmf_pair(d: DtmfDigit) -> &'static [u32] {
    static PAIRS: [[u32; 2]; 16] = {
        let mut t = [[0u32; 2]; 16];
        let mut i = 0;
        while i < 16 {
            t[i] = [DTMF_ROWS[i / 4], DTMF_COLS[i % 4]];
            i += 1;
        }
        t
    };
    let (r, c) = d.grid();
    &PAIRS[r * 4 + c]
}

/// A running generator for one [`ToneKind`].
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    kind: ToneKind,
    /// Samples generated so far.
    index: u64,
    /// Comfort-noise state (xorshift32; never zero).
    noise: u32,
}

impl ToneGenerator {
    /// A generator at the start of the tone (the cadence starts "on").
    pub fn new(kind: ToneKind) -> ToneGenerator {
        ToneGenerator {
            kind,
            index: 0,
            noise: 0x9E37_79B9,
        }
    }

    /// The kind being generated.
    pub fn kind(&self) -> ToneKind {
        self.kind
    }

    /// Samples generated so far.
    pub fn position(&self) -> u64 {
        self.index
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let freqs = self.kind.frequencies();
        let cadence = self
            .kind
            .cadence_ms()
            .map(|(on, off)| (u64::from(on) * 8, u64::from(on) * 8 + u64::from(off) * 8));
        for s in out.iter_mut() {
            let n = self.index;
            self.index = self.index.wrapping_add(1);
            let on = match cadence {
                Some((on, period)) => n % period < on,
                None => true,
            };
            *s = match self.kind {
                ToneKind::Silence => 0,
                ToneKind::ComfortNoise => self.next_noise(),
                _ if !on => 0,
                _ => {
                    let phase_index = (n % RATE) as f64;
                    let v: f64 = freqs
                        .iter()
                        .map(|&f| {
                            (TAU * f64::from(f) * phase_index / RATE as f64).sin() * COMPONENT_PEAK
                        })
                        .sum();
                    v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
                }
            };
        }
    }

    fn next_noise(&mut self) -> i16 {
        let mut x = self.noise;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.noise = x;
        let span = (2 * COMFORT_NOISE_PEAK + 1) as u32;
        ((x % span) as i32 - COMFORT_NOISE_PEAK) as i16
    }
}

/// Convenience: `samples` samples of `kind` from its start.
pub fn generate(kind: ToneKind, samples: usize) -> Vec<i16> {
    let mut out = vec![0; samples];
    ToneGenerator::new(kind).fill(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_fill_equals_one_fill() {
        let kind = ToneKind::Busy(ToneRegion::NorthAmerica);
        let whole = generate(kind, 10_000);
        let mut g = ToneGenerator::new(kind);
        let mut parts = vec![0i16; 10_000];
        for chunk in parts.chunks_mut(333) {
            g.fill(chunk);
        }
        assert_eq!(whole, parts);
    }

    #[test]
    fn dtmf_digits() {
        assert!(DtmfDigit::from_char('x').is_none());
        let d = DtmfDigit::from_char('#');
        assert_eq!(d.map(DtmfDigit::frequencies), Some((941, 1477)));
        let d = DtmfDigit::from_char('b');
        assert_eq!(
            d.map(|d| ToneKind::Dtmf(d).frequencies()),
            Some(&[770u32, 1633][..])
        );
        assert_eq!(d.map(DtmfDigit::as_char), Some('B'));
    }
}
