//! Decoded PCM of any common shape to the one shape the media path speaks:
//! 8 kHz, mono, 16-bit.
//!
//! Prompts are converted once, at load, so the quality of the conversion
//! matters more than its speed: downsampling goes through rubato's
//! band-limited resamplers, never through decimation or linear
//! interpolation, because anything above 4 kHz that survives would fold
//! back into the voice band as audible aliasing.
//!
//! 16-bit audio already at 8 kHz is passed through untouched (bit-exact),
//! so prompts prepared for telephony come out exactly as their author made
//! them.

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters, WindowFunction,
};
use thiserror::Error;

/// The rate everything is converted to.
pub const OUTPUT_RATE: u32 = 8_000;
/// The lowest input rate accepted. Below it there is little speech left,
/// and a header claiming less is more likely broken than real.
pub const MIN_INPUT_RATE: u32 = 4_000;
/// The highest input rate accepted.
pub const MAX_INPUT_RATE: u32 = 192_000;

/// The FFT resampler needs blocks of `rate / gcd(rate, 8000)` input
/// frames. For the usual rates that is small (6 for 48 kHz, 441 for
/// 44.1 kHz); for odd rates it can approach the rate itself, where the
/// asynchronous sinc resampler is the better tool.
const MAX_FFT_BLOCK: u32 = 8_192;
/// Larger chunks give the FFT resampler a sharper anti-aliasing filter;
/// the longer delay that comes with it is trimmed by `process_all`.
const FFT_CHUNK: usize = 4_096;
const SINC_CHUNK: usize = 1_024;

/// Interleaved decoded samples, in the sample type the WAV file stored.
#[derive(Clone, Copy, Debug)]
pub enum Pcm<'a> {
    /// 8-bit samples as stored in a WAV file: unsigned, 128 is silence.
    U8(&'a [u8]),
    /// 8-bit samples already centred on zero (how hound presents them).
    I8(&'a [i8]),
    /// 16-bit signed samples.
    I16(&'a [i16]),
    /// Signed integers with `bits` significant bits (24 or 32 usually),
    /// right-aligned in an `i32`.
    I32 {
        /// The interleaved samples.
        samples: &'a [i32],
        /// How many bits of each sample are significant (1..=32).
        bits: u16,
    },
    /// Floating-point samples, full scale at +-1.0.
    F32(&'a [f32]),
}

impl Pcm<'_> {
    fn len(&self) -> usize {
        match self {
            Pcm::U8(s) => s.len(),
            Pcm::I8(s) => s.len(),
            Pcm::I16(s) => s.len(),
            Pcm::I32 { samples, .. } => samples.len(),
            Pcm::F32(s) => s.len(),
        }
    }

    /// Sample `i`, scaled so that full scale is +-1.0.
    fn normalised(&self, i: usize) -> f32 {
        match self {
            Pcm::U8(s) => (f32::from(s[i]) - 128.0) / 128.0,
            Pcm::I8(s) => f32::from(s[i]) / 128.0,
            Pcm::I16(s) => f32::from(s[i]) / 32_768.0,
            Pcm::I32 { samples, bits } => {
                // f64 keeps 32-bit integers exact before the final scaling.
                let full_scale = f64::from(1u32 << (bits - 1));
                (f64::from(samples[i]) / full_scale) as f32
            }
            Pcm::F32(s) => s[i],
        }
    }
}

/// Why a conversion to 8 kHz mono could not be done.
#[non_exhaustive]
#[derive(Debug, Error)]
pub enum ResampleError {
    /// The sample rate is outside `MIN_INPUT_RATE..=MAX_INPUT_RATE`.
    #[error("sample rate {rate} Hz is outside the accepted {MIN_INPUT_RATE}..={MAX_INPUT_RATE} Hz")]
    RateOutOfRange {
        /// The rejected rate.
        rate: u32,
    },
    /// Zero channels: there is nothing to mix.
    #[error("audio has zero channels")]
    NoChannels,
    /// An integer sample width this module cannot scale.
    #[error("{bits}-bit integer samples are not supported")]
    UnsupportedBits {
        /// The rejected width.
        bits: u16,
    },
    /// rubato refused the job (it should not for accepted rates; kept as
    /// an error rather than a panic in case a future version disagrees).
    #[error("resampler failed: {0}")]
    Resampler(String),
}

/// Converts interleaved `pcm` with `channels` channels at `rate` Hz to
/// 8 kHz mono 16-bit.
///
/// Channels are averaged. A trailing partial frame (fewer samples than
/// channels) is dropped. The output has `ceil(frames * 8000 / rate)`
/// samples.
pub fn to_8k_mono(pcm: Pcm<'_>, channels: u16, rate: u32) -> Result<Vec<i16>, ResampleError> {
    if channels == 0 {
        return Err(ResampleError::NoChannels);
    }
    if !(MIN_INPUT_RATE..=MAX_INPUT_RATE).contains(&rate) {
        return Err(ResampleError::RateOutOfRange { rate });
    }
    if let Pcm::I32 { bits, .. } = pcm
        && !(1..=32).contains(&bits)
    {
        return Err(ResampleError::UnsupportedBits { bits });
    }
    let ch = usize::from(channels);
    let frames = pcm.len() / ch;

    if rate == OUTPUT_RATE
        && let Pcm::I16(samples) = pcm
    {
        return Ok(mix_i16(samples, ch, frames));
    }

    let mono: Vec<f32> = (0..frames)
        .map(|f| {
            let sum: f32 = (0..ch).map(|c| pcm.normalised(f * ch + c)).sum();
            sum / ch as f32
        })
        .collect();
    let resampled = resample_mono(&mono, rate)?;
    Ok(resampled.into_iter().map(to_i16).collect())
}

/// The 16-bit, 8 kHz case: integer arithmetic only, so mono input comes
/// out bit for bit.
fn mix_i16(samples: &[i16], ch: usize, frames: usize) -> Vec<i16> {
    if ch == 1 {
        return samples[..frames].to_vec();
    }
    (0..frames)
        .map(|f| {
            let sum: i64 = samples[f * ch..(f + 1) * ch]
                .iter()
                .map(|&s| i64::from(s))
                .sum();
            let avg = (sum as f64 / ch as f64).round();
            avg.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
        })
        .collect()
}

/// Resamples mono samples (full scale +-1.0) from `rate` to 8 kHz with a
/// band-limited resampler. At 8 kHz the input is returned unchanged.
pub fn resample_mono(samples: &[f32], rate: u32) -> Result<Vec<f32>, ResampleError> {
    if !(MIN_INPUT_RATE..=MAX_INPUT_RATE).contains(&rate) {
        return Err(ResampleError::RateOutOfRange { rate });
    }
    if rate == OUTPUT_RATE || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| ResampleError::Resampler(e.to_string());
    let input = SequentialSlice::new(samples, 1, samples.len()).map_err(|e| err(&e))?;
    let block = rate / gcd(rate, OUTPUT_RATE);
    let mut resampler: Box<dyn Resampler<f32>> = if block <= MAX_FFT_BLOCK {
        Box::new(
            Fft::<f32>::new_custom(
                rate as usize,
                OUTPUT_RATE as usize,
                FFT_CHUNK,
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| err(&e))?,
        )
    } else {
        Box::new(
            Async::<f32>::new_sinc(
                f64::from(OUTPUT_RATE) / f64::from(rate),
                1.0,
                &SincInterpolationParameters::new(256, WindowFunction::BlackmanHarris2),
                SINC_CHUNK,
                1,
                FixedAsync::Input,
            )
            .map_err(|e| err(&e))?,
        )
    };
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| err(&e))?;
    Ok(out.take_data())
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Full scale +-1.0 to 16-bit, rounding to nearest and clipping rather
/// than wrapping (a wrapped overshoot is a loud click; a clipped one is
/// barely audible). NaN becomes silence.
pub fn to_i16(x: f32) -> i16 {
    if x.is_nan() {
        return 0;
    }
    (x * 32_768.0)
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_i16_clips_and_rounds() {
        assert_eq!(to_i16(1.0), i16::MAX);
        assert_eq!(to_i16(-1.0), i16::MIN);
        assert_eq!(to_i16(7.5), i16::MAX);
        assert_eq!(to_i16(f32::NEG_INFINITY), i16::MIN);
        assert_eq!(to_i16(f32::NAN), 0);
        assert_eq!(to_i16(0.5), 16_384);
    }

    #[test]
    fn pass_through_is_bit_exact() {
        let s: Vec<i16> = (0..1000)
            .map(|i| (i * 37 % 65_536 - 32_768) as i16)
            .collect();
        let out = to_8k_mono(Pcm::I16(&s), 1, 8000).unwrap_or_default();
        assert_eq!(out, s);
    }

    #[test]
    fn stereo_is_averaged_and_u8_centred() {
        let s = [100i16, 300, -5, -6];
        assert_eq!(to_8k_mono(Pcm::I16(&s), 2, 8000).ok(), Some(vec![200, -6]));
        let u = [128u8, 255, 0];
        assert_eq!(
            to_8k_mono(Pcm::U8(&u), 1, 8000).ok(),
            Some(vec![0, 32_512, -32_768])
        );
    }

    #[test]
    fn refuses_bad_shapes() {
        assert!(matches!(
            to_8k_mono(Pcm::I16(&[0]), 0, 8000),
            Err(ResampleError::NoChannels)
        ));
        assert!(matches!(
            to_8k_mono(Pcm::I16(&[0]), 1, 3_999),
            Err(ResampleError::RateOutOfRange { rate: 3_999 })
        ));
        assert!(matches!(
            to_8k_mono(
                Pcm::I32 {
                    samples: &[0],
                    bits: 0
                },
                1,
                8000
            ),
            Err(ResampleError::UnsupportedBits { bits: 0 })
        ));
    }

    #[test]
    fn odd_rates_use_the_sinc_resampler_and_keep_length() {
        for rate in [4_000u32, 11_025, 44_101, 191_999] {
            let n = rate as usize / 2;
            let s = vec![0.1f32; n];
            let out = resample_mono(&s, rate).unwrap_or_default();
            let want = (n as u64 * 8000).div_ceil(u64::from(rate)) as usize;
            assert!(
                out.len().abs_diff(want) <= 2,
                "{rate}: {} vs {want}",
                out.len()
            );
        }
    }
}
