//! InbandDetector: Goertzel detection of DTMF tones in 8 kHz audio.

use std::f64::consts::PI;
use waihu_media::inband::InbandDetector;

const RATE: f64 = 8000.0;
const ALL: &str = "1234567890*#ABCD";

/// Peak amplitude of a sine at `db` relative to full scale.
fn amp(db: f64) -> f64 {
    32767.0 * 10f64.powf(db / 20.0)
}

fn freqs(digit: char) -> (f64, f64) {
    let keys = ["123A", "456B", "789C", "*0#D"];
    let low = [697.0, 770.0, 852.0, 941.0];
    let high = [1209.0, 1336.0, 1477.0, 1633.0];
    for (r, row) in keys.iter().enumerate() {
        if let Some(c) = row.find(digit) {
            return (low[r], high[c]);
        }
    }
    (0.0, 0.0)
}

/// Appends `ms` of the digit, low tone at `low_db` and high at `high_db`.
fn tone(out: &mut Vec<f64>, digit: char, ms: u32, low_db: f64, high_db: f64) {
    let (fl, fh) = freqs(digit);
    let n = (RATE as u32 * ms / 1000) as usize;
    for i in 0..n {
        let t = i as f64 / RATE;
        out.push(
            amp(low_db) * (2.0 * PI * fl * t).sin() + amp(high_db) * (2.0 * PI * fh * t).sin(),
        );
    }
}

fn silence(out: &mut Vec<f64>, ms: u32) {
    out.extend(std::iter::repeat_n(0.0, (RATE as u32 * ms / 1000) as usize));
}

fn dial(digits: &str, on_ms: u32, off_ms: u32) -> Vec<f64> {
    let mut v = Vec::new();
    silence(&mut v, 30);
    for d in digits.chars() {
        tone(&mut v, d, on_ms, -10.0, -10.0);
        silence(&mut v, off_ms);
    }
    v
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Uniform in [-1, 1).
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Adds white noise `snr_db` below the power of a -10/-10 dB digit.
fn add_noise(v: &mut [f64], snr_db: f64, seed: u64) {
    let signal_power = amp(-10.0).powi(2); // two sines of A^2/2 each
    let noise_power = signal_power / 10f64.powf(snr_db / 10.0);
    // Uniform on [-w, w) has power w^2 / 3.
    let w = (3.0 * noise_power).sqrt();
    let mut rng = XorShift(seed);
    for x in v.iter_mut() {
        *x += w * rng.next();
    }
}

fn pcm(v: &[f64]) -> Vec<i16> {
    v.iter()
        .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn detect_chunked(samples: &[i16], chunk: usize) -> String {
    let mut det = InbandDetector::new();
    let mut got = String::new();
    for c in samples.chunks(chunk) {
        det.push(c, &mut |d| got.push(d));
    }
    got
}

fn detect(samples: &[i16]) -> String {
    detect_chunked(samples, 160)
}

#[test]
fn every_digit_100ms_on_100ms_off_detected_exactly() {
    assert_eq!(detect(&pcm(&dial(ALL, 100, 100))), ALL);
}

#[test]
fn detected_exactly_with_white_noise_at_20db_snr() {
    for seed in [1u64, 2, 3, 0xDEAD_BEEF] {
        let mut v = dial(ALL, 100, 100);
        add_noise(&mut v, 20.0, seed);
        assert_eq!(detect(&pcm(&v)), ALL, "seed {seed}");
    }
}

#[test]
fn forty_ms_tones_with_forty_ms_gaps_detected_at_any_alignment() {
    for lead in 0..20u32 {
        let mut v = vec![0.0; (lead * 5) as usize];
        v.extend(dial("11223344556677889900", 40, 40));
        assert_eq!(detect(&pcm(&v)), "11223344556677889900", "lead {lead}");
    }
}

#[test]
fn twenty_ms_tones_not_detected_at_any_alignment() {
    for lead in 0..20u32 {
        let mut v = vec![0.0; (lead * 5) as usize];
        v.extend(dial(ALL, 20, 100));
        assert_eq!(detect(&pcm(&v)), "", "lead {lead}");
    }
}

#[test]
fn duration_limits_hold_at_any_alignment() {
    for lead in 0..26u32 {
        let mut v = vec![0.0; (lead * 4) as usize];
        v.extend(dial("1234", 34, 100));
        assert_eq!(detect(&pcm(&v)), "1234", "34 ms, lead {lead}");
        let mut v = vec![0.0; (lead * 4) as usize];
        v.extend(dial("1234", 25, 100));
        assert_eq!(detect(&pcm(&v)), "", "25 ms, lead {lead}");
    }
}

#[test]
fn gap_limits_hold_at_any_alignment() {
    for lead in 0..26u32 {
        let mut v = vec![0.0; (lead * 4) as usize];
        v.extend(dial("7777", 60, 31));
        assert_eq!(detect(&pcm(&v)), "7777", "31 ms gap, lead {lead}");
        let mut v = vec![0.0; (lead * 4) as usize];
        v.extend(dial("7777", 60, 23));
        assert_eq!(detect(&pcm(&v)), "7", "23 ms gap, lead {lead}");
    }
}

#[test]
fn held_digit_reported_once() {
    assert_eq!(detect(&pcm(&dial("5", 2000, 100))), "5");
}

#[test]
fn same_digit_twice_reported_twice() {
    assert_eq!(detect(&pcm(&dial("55", 100, 60))), "55");
}

#[test]
fn silence_reports_nothing() {
    assert_eq!(detect(&[0; 16_000]), "");
}

#[test]
fn single_frequencies_not_detected() {
    for f in [697.0, 770.0, 941.0, 1000.0, 1209.0, 1633.0, 440.0, 2000.0] {
        let v: Vec<f64> = (0..8000)
            .map(|i| amp(-6.0) * (2.0 * PI * f * i as f64 / RATE).sin())
            .collect();
        assert_eq!(detect(&pcm(&v)), "", "{f} Hz");
    }
}

#[test]
fn call_progress_tones_not_detected() {
    // Dial tone (350 + 440), ringback (440 + 480), busy (480 + 620).
    for (a, b) in [(350.0, 440.0), (440.0, 480.0), (480.0, 620.0), (425.0, 0.0)] {
        let v: Vec<f64> = (0..16_000)
            .map(|i| {
                let t = i as f64 / RATE;
                amp(-10.0) * ((2.0 * PI * a * t).sin() + (2.0 * PI * b * t).sin())
            })
            .collect();
        assert_eq!(detect(&pcm(&v)), "", "{a}+{b} Hz");
    }
}

/// Source-filter vowel: harmonics of a fundamental gliding around 150 Hz
/// (source falling 6 dB per octave), through two resonances (formants,
/// 100 Hz wide) that move between `formants[j].0` and `.1`.
fn voice(seconds: f64, formants: [(f64, f64); 2]) -> Vec<f64> {
    let n = (seconds * RATE) as usize;
    let mut phase = [0.0f64; 25];
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / RATE;
        let f0 = 150.0 + 40.0 * (2.0 * PI * 2.7 * t).sin() + 15.0 * (2.0 * PI * 7.1 * t).sin();
        let centres: Vec<f64> = formants
            .iter()
            .enumerate()
            .map(|(j, &(lo, hi))| {
                lo + (hi - lo) * (0.5 + 0.5 * (2.0 * PI * (1.3 + j as f64) * t).sin())
            })
            .collect();
        let mut x = 0.0;
        for (k, ph) in phase.iter_mut().enumerate() {
            let h = (k + 1) as f64;
            let f = f0 * h;
            if f > 3800.0 {
                continue;
            }
            *ph += 2.0 * PI * f / RATE;
            let mut g = 1.0 / h;
            for &fc in &centres {
                let r = f / fc;
                g /= ((1.0 - r * r).powi(2) + (f * 100.0 / (fc * fc)).powi(2)).sqrt();
            }
            x += g * ph.sin();
        }
        v.push(x);
    }
    let peak = v.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-9);
    v.iter().map(|x| x / peak * amp(-3.0)).collect()
}

#[test]
fn speech_like_harmonics_not_detected() {
    for formants in [
        [(500.0, 900.0), (1100.0, 1700.0)],
        [(680.0, 960.0), (1200.0, 1650.0)],
        [(300.0, 800.0), (1800.0, 2600.0)],
        [(697.0, 941.0), (1209.0, 1633.0)],
    ] {
        let v = voice(5.0, formants);
        assert_eq!(detect(&pcm(&v)), "", "formants {formants:?}");
    }
}

#[test]
fn twist_beyond_limits_not_detected() {
    let mut v = Vec::new();
    silence(&mut v, 30);
    for d in ALL.chars() {
        // High group 10 dB below the low group: normal twist over 8 dB.
        tone(&mut v, d, 100, -10.0, -20.0);
        silence(&mut v, 100);
        // High group 6 dB above the low group: reverse twist over 4 dB.
        tone(&mut v, d, 100, -16.0, -10.0);
        silence(&mut v, 100);
    }
    assert_eq!(detect(&pcm(&v)), "");
}

#[test]
fn twist_within_limits_detected() {
    let mut v = Vec::new();
    silence(&mut v, 30);
    for d in ALL.chars() {
        tone(&mut v, d, 100, -10.0, -16.0); // 6 dB normal twist
        silence(&mut v, 100);
        tone(&mut v, d, 100, -13.0, -10.0); // 3 dB reverse twist
        silence(&mut v, 100);
    }
    let expected: String = ALL.chars().flat_map(|c| [c, c]).collect();
    assert_eq!(detect(&pcm(&v)), expected);
}

#[test]
fn quiet_digits_detected_and_very_quiet_ignored() {
    let mut v = Vec::new();
    tone(&mut v, '7', 100, -30.0, -30.0);
    silence(&mut v, 100);
    tone(&mut v, '8', 100, -50.0, -50.0);
    silence(&mut v, 100);
    assert_eq!(detect(&pcm(&v)), "7");
}

#[test]
fn result_independent_of_chunk_size() {
    let mut v = dial(ALL, 100, 100);
    add_noise(&mut v, 20.0, 99);
    let s = pcm(&v);
    for chunk in [1usize, 7, 160, 333, s.len()] {
        assert_eq!(detect_chunked(&s, chunk), ALL, "chunk {chunk}");
    }
}

#[test]
fn empty_and_extreme_input_does_not_panic() {
    let mut det = InbandDetector::new();
    let mut got = String::new();
    det.push(&[], &mut |d| got.push(d));
    det.push(&[i16::MAX; 1000], &mut |d| got.push(d));
    det.push(&[i16::MIN; 1000], &mut |d| got.push(d));
    let square: Vec<i16> = (0..8000)
        .map(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN })
        .collect();
    det.push(&square, &mut |d| got.push(d));
    assert_eq!(got, "");
}

#[test]
fn reset_drops_partial_block_and_held_digit() {
    let s = pcm(&dial("9", 100, 0));
    let mut det = InbandDetector::new();
    let mut got = String::new();
    det.push(&s, &mut |d| got.push(d));
    det.reset();
    det.push(&s, &mut |d| got.push(d));
    assert_eq!(got, "99");
}
