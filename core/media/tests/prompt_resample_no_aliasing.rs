//! Downsampling is band-limited: what fits below 4 kHz keeps its
//! frequency, what does not is removed rather than folded back.

use waihu_media::resample::{Pcm, to_8k_mono};

fn sine(rate: u32, freq: f64, amplitude: f64, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| {
            (amplitude * (std::f64::consts::TAU * freq * i as f64 / f64::from(rate)).sin()) as f32
        })
        .collect()
}

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

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

#[test]
fn a_3khz_tone_at_48k_comes_out_at_3khz() {
    for rate in [48_000u32, 44_100, 32_000, 22_050, 16_000, 11_025] {
        let input = sine(rate, 3_000.0, 0.5, 1.0);
        let out = to_8k_mono(Pcm::F32(&input), 1, rate).expect("convert");
        let mid = &out[500..out.len() - 500];
        let at_3k = goertzel_amplitude(mid, 3_000.0);
        let level = db(at_3k / (0.5 * 32_768.0));
        assert!(level.abs() < 1.0, "{rate}: 3 kHz at {level:.2} dB");
        // The dominant frequency is 3 kHz: its neighbours carry nothing.
        for f in [1_000.0, 2_000.0, 2_700.0, 3_300.0, 3_800.0] {
            let other = db(goertzel_amplitude(mid, f) / at_3k);
            assert!(other < -40.0, "{rate}: {f} Hz at {other:.1} dB");
        }
    }
}

#[test]
fn a_5khz_tone_at_48k_is_removed_not_aliased_to_3khz() {
    for (rate, freq) in [
        (48_000u32, 5_000.0),
        (44_100, 5_000.0),
        (16_000, 5_000.0),
        (48_000, 7_000.0),
        (96_000, 20_000.0),
    ] {
        let input = sine(rate, freq, 0.5, 1.0);
        let out = to_8k_mono(Pcm::F32(&input), 1, rate).expect("convert");
        let mid = &out[500..out.len() - 500];
        let reference = 0.5 * 32_768.0 / std::f64::consts::SQRT_2;
        let total = db(rms(mid) / reference);
        assert!(
            total < -30.0,
            "{rate} Hz, {freq} Hz tone: {total:.1} dB left"
        );
        let alias = 8_000.0 - freq % 8_000.0;
        let alias = if alias > 4_000.0 {
            8_000.0 - alias
        } else {
            alias
        };
        let folded = db(goertzel_amplitude(mid, alias) / (0.5 * 32_768.0));
        assert!(
            folded < -30.0,
            "{rate}: alias at {alias} Hz is {folded:.1} dB"
        );
    }
}

#[test]
fn odd_sample_rates_are_resampled_too() {
    for rate in [4_000u32, 12_345, 44_101, 64_000, 96_000, 192_000] {
        let input = sine(rate, 1_000.0, 0.5, 0.5);
        let out = to_8k_mono(Pcm::F32(&input), 1, rate).expect("convert");
        let want = input.len() * 8_000 / rate as usize;
        assert!(
            out.len().abs_diff(want) <= 3,
            "{rate}: {} vs {want}",
            out.len()
        );
        let mid = &out[400..out.len() - 400];
        let level = db(goertzel_amplitude(mid, 1_000.0) / (0.5 * 32_768.0));
        assert!(level.abs() < 1.0, "{rate}: 1 kHz at {level:.2} dB");
    }
}

#[test]
fn rates_outside_4k_to_192k_are_refused() {
    for rate in [0u32, 1, 3_999, 192_001, u32::MAX] {
        assert!(to_8k_mono(Pcm::F32(&[0.0; 16]), 1, rate).is_err(), "{rate}");
    }
}
