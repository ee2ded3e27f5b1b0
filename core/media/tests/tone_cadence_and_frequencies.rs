//! Call-progress tones have the right frequencies, levels and on/off
//! cadences; DTMF digits are the ITU pairs; comfort noise is quiet and
//! repeatable.

use waihu_media::tone::{DtmfDigit, ToneGenerator, ToneKind, ToneRegion, generate};

fn goertzel_amplitude(x: &[i16], freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / 8_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

/// (on, off) runs in ms, from 10 ms blocks: a block is "on" when it has
/// any non-zero sample.
fn runs(x: &[i16]) -> Vec<(bool, usize)> {
    let mut out: Vec<(bool, usize)> = Vec::new();
    for block in x.chunks(80) {
        let on = block.iter().any(|&s| s != 0);
        match out.last_mut() {
            Some((state, len)) if *state == on => *len += 10,
            _ => out.push((on, 10)),
        }
    }
    out
}

fn check_cadence(kind: ToneKind, on_ms: usize, off_ms: usize, periods: usize) {
    let x = generate(kind, (on_ms + off_ms) * 8 * periods);
    let want: Vec<(bool, usize)> = (0..periods)
        .flat_map(|_| [(true, on_ms), (false, off_ms)])
        .collect();
    assert_eq!(runs(&x), want, "{kind:?}");
}

fn check_frequencies(kind: ToneKind, freqs: &[f64]) {
    // The first 400 ms are "on" for every cadence here.
    let x = generate(kind, 2_400);
    let x = &x[..2_400];
    for &f in freqs {
        let a = goertzel_amplitude(x, f);
        assert!(
            (6_000.0..8_000.0).contains(&a),
            "{kind:?}: {f} Hz at {a:.0}"
        );
    }
    for f in [350.0, 400.0, 500.0, 550.0, 700.0, 1_000.0] {
        if freqs.iter().all(|&g| (g - f).abs() > 30.0) {
            let a = goertzel_amplitude(x, f);
            assert!(a < 300.0, "{kind:?}: stray {f} Hz at {a:.0}");
        }
    }
}

#[test]
fn china_ringback_is_450hz_1s_on_4s_off() {
    let kind = ToneKind::Ringback(ToneRegion::China);
    assert_eq!(kind.cadence_ms(), Some((1_000, 4_000)));
    check_cadence(kind, 1_000, 4_000, 2);
    check_frequencies(kind, &[450.0]);
}

#[test]
fn china_busy_is_450hz_350ms_on_350ms_off() {
    let kind = ToneKind::Busy(ToneRegion::China);
    check_cadence(kind, 350, 350, 4);
    check_frequencies(kind, &[450.0]);
}

#[test]
fn north_american_ringback_is_440_plus_480hz_2s_on_4s_off() {
    let kind = ToneKind::Ringback(ToneRegion::NorthAmerica);
    check_cadence(kind, 2_000, 4_000, 2);
    check_frequencies(kind, &[440.0, 480.0]);
}

#[test]
fn north_american_busy_is_480_plus_620hz_half_second_cadence() {
    let kind = ToneKind::Busy(ToneRegion::NorthAmerica);
    check_cadence(kind, 500, 500, 3);
    check_frequencies(kind, &[480.0, 620.0]);
}

#[test]
fn every_dtmf_digit_is_its_row_and_column_pair_and_nothing_else() {
    let rows = [697.0, 770.0, 852.0, 941.0];
    let cols = [1_209.0, 1_336.0, 1_477.0, 1_633.0];
    let keys = ["123A", "456B", "789C", "*0#D"];
    for (r, line) in keys.iter().enumerate() {
        for (c, key) in line.chars().enumerate() {
            let d = DtmfDigit::from_char(key).expect("digit");
            assert_eq!(d.frequencies(), (rows[r] as u32, cols[c] as u32));
            // 50 ms, the shortest digit a receiver must accept.
            let x = generate(ToneKind::Dtmf(d), 400);
            assert_eq!(runs(&x), [(true, 50)], "{key}: DTMF is continuous");
            for (i, &f) in rows.iter().chain(cols.iter()).enumerate() {
                let a = goertzel_amplitude(&x, f);
                let expected = i == r || i == 4 + c;
                if expected {
                    assert!(a > 6_000.0, "{key}: {f} Hz at {a:.0}");
                } else {
                    assert!(a < 2_000.0, "{key}: stray {f} Hz at {a:.0}");
                }
            }
        }
    }
    for bad in ['x', 'E', ' ', '+'] {
        assert!(DtmfDigit::from_char(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn tones_are_phase_continuous_across_fills() {
    let kind = ToneKind::Ringback(ToneRegion::NorthAmerica);
    let whole = generate(kind, 24_000);
    let mut g = ToneGenerator::new(kind);
    let mut parts = Vec::new();
    for n in [1usize, 159, 160, 7, 8_000, 15_673] {
        let mut buf = vec![0i16; n];
        g.fill(&mut buf);
        parts.extend(buf);
    }
    assert_eq!(whole, parts);
    // No step larger than the two sines can make between samples.
    let max_step = whole
        .windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max();
    assert!(max_step.unwrap_or(0) < 6_000, "{max_step:?}");
}

#[test]
fn comfort_noise_is_quiet_deterministic_and_not_silence() {
    let a = generate(ToneKind::ComfortNoise, 8_000);
    assert_eq!(a, generate(ToneKind::ComfortNoise, 8_000));
    let rms = (a.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
    let dbov = 20.0 * (rms / 32_768.0).log10();
    assert!((-70.0..=-60.0).contains(&dbov), "{dbov:.1} dBov");
    let mean = a.iter().map(|&s| f64::from(s)).sum::<f64>() / a.len() as f64;
    assert!(mean.abs() < 2.0, "DC {mean}");
    assert!(!ToneKind::ComfortNoise.is_silence());
}

#[test]
fn silence_is_all_zero() {
    assert!(generate(ToneKind::Silence, 1_000).iter().all(|&s| s == 0));
    assert!(ToneKind::Silence.is_silence());
}
