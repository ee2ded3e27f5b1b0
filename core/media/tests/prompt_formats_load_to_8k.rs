//! WAV files of every common shape load as 8 kHz mono with the same
//! frequency and level.

use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};
use waihu_media::prompt::load_wav;

const FREQ: f64 = 1_000.0;
/// -6 dBFS: well clear of clipping in every format.
const AMPLITUDE: f64 = 0.5;
const SECONDS: f64 = 0.5;

#[derive(Clone, Copy, Debug)]
enum Fmt {
    I8,
    I16,
    I24,
    F32,
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prompt_formats");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

/// Writes a sine; in stereo the right channel is the same sine, so the
/// averaged mono keeps the level.
fn write_sine(path: &Path, rate: u32, channels: u16, fmt: Fmt) {
    let (bits, sample_format) = match fmt {
        Fmt::I8 => (8, SampleFormat::Int),
        Fmt::I16 => (16, SampleFormat::Int),
        Fmt::I24 => (24, SampleFormat::Int),
        Fmt::F32 => (32, SampleFormat::Float),
    };
    let spec = WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format,
    };
    let mut w = WavWriter::create(path, spec).expect("create");
    let n = (f64::from(rate) * SECONDS) as usize;
    for i in 0..n {
        let x = AMPLITUDE * (std::f64::consts::TAU * FREQ * i as f64 / f64::from(rate)).sin();
        for _ in 0..channels {
            match fmt {
                Fmt::I8 => w.write_sample((x * 127.0).round() as i8),
                Fmt::I16 => w.write_sample((x * 32_767.0).round() as i16),
                Fmt::I24 => w.write_sample((x * 8_388_607.0).round() as i32),
                Fmt::F32 => w.write_sample(x as f32),
            }
            .expect("write");
        }
    }
    w.finalize().expect("finalize");
}

/// Amplitude of the `freq` component of `x` (8 kHz), by Goertzel.
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

fn zero_crossings(x: &[i16]) -> usize {
    x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count()
}

#[test]
fn sine_in_every_format_rate_and_layout_loads_as_8k_mono_with_same_frequency_and_level() {
    for rate in [8_000u32, 16_000, 44_100, 48_000] {
        for channels in [1u16, 2] {
            for fmt in [Fmt::I8, Fmt::I16, Fmt::I24, Fmt::F32] {
                let what = format!("{rate} Hz, {channels} ch, {fmt:?}");
                let path = tmp(&format!("sine_{rate}_{channels}_{fmt:?}.wav"));
                write_sine(&path, rate, channels, fmt);
                let out = load_wav(&path).unwrap_or_else(|e| panic!("{what}: {e}"));

                let in_frames = (f64::from(rate) * SECONDS) as usize;
                let want_len = in_frames * 8_000 / rate as usize;
                assert!(
                    out.len().abs_diff(want_len) <= 3,
                    "{what}: {} samples, expected about {want_len}",
                    out.len()
                );

                // Skip the edges, where the resampler's filter rings.
                let mid = &out[400..out.len() - 400];
                let amp = goertzel_amplitude(mid, FREQ);
                let want = AMPLITUDE * 32_768.0;
                let db = 20.0 * (amp / want).log10();
                assert!(db.abs() < 1.0, "{what}: level off by {db:.2} dB");
                // Nothing but the tone: its neighbours are far below it.
                for other in [700.0, 1_300.0, 2_000.0, 3_000.0] {
                    let leak = goertzel_amplitude(mid, other);
                    assert!(leak < amp / 100.0, "{what}: {other} Hz at {leak:.1}");
                }
                let crossings = zero_crossings(mid) as f64;
                let expect = 2.0 * FREQ * mid.len() as f64 / 8_000.0;
                assert!(
                    (crossings - expect).abs() <= 2.0,
                    "{what}: {crossings} zero crossings, expected {expect}"
                );
            }
        }
    }
}

#[test]
fn sixteen_bit_mono_at_8k_is_bit_exact() {
    let path = tmp("exact.wav");
    let spec = WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let samples: Vec<i16> = (0..4_000i32)
        .map(|i| ((i * 7_919) % 65_536 - 32_768) as i16)
        .collect();
    let mut w = WavWriter::create(&path, spec).expect("create");
    for &s in &samples {
        w.write_sample(s).expect("write");
    }
    w.finalize().expect("finalize");
    assert_eq!(load_wav(&path).expect("load"), samples);
}

#[test]
fn full_scale_float_and_overshoot_clip_instead_of_wrapping() {
    let path = tmp("overshoot.wav");
    let spec = WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 32,
        sample_format: SampleFormat::Float,
    };
    let mut w = WavWriter::create(&path, spec).expect("create");
    for s in [1.0f32, -1.0, 3.0, -3.0, 0.0, f32::NAN] {
        w.write_sample(s).expect("write");
    }
    w.finalize().expect("finalize");
    assert_eq!(
        load_wav(&path).expect("load"),
        vec![i16::MAX, i16::MIN, i16::MAX, i16::MIN, 0, 0]
    );
}
