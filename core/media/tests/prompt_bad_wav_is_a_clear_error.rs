//! Broken WAV files are errors that name the file, never panics and never
//! garbage audio.

use std::path::{Path, PathBuf};

use waihu_media::prompt::{PromptError, decode_wav, load_wav};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prompt_bad");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

/// A canonical 44-byte-header WAV whose data chunk claims `claimed` bytes
/// and holds `data`.
fn wav(format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8], claimed: u32) -> Vec<u8> {
    let block_align = channels * bits.div_ceil(8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36u32.wrapping_add(claimed)).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format_tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(u32::from(block_align).wrapping_mul(rate)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&claimed.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn pcm16(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| ((i as i16).wrapping_mul(97)).to_le_bytes())
        .collect()
}

fn load(name: &str, bytes: &[u8]) -> Result<Vec<i16>, PromptError> {
    let path = tmp(name);
    std::fs::write(&path, bytes).expect("write");
    let r = load_wav(&path);
    if let Err(e) = &r {
        assert!(
            e.to_string().contains(name),
            "error does not name the file: {e}"
        );
        assert_eq!(e.path(), path);
    }
    r
}

#[test]
fn a_good_file_loads() {
    let data = pcm16(800);
    assert_eq!(
        load("good.wav", &wav(1, 1, 8_000, 16, &data, 1_600))
            .map(|s| s.len())
            .ok(),
        Some(800)
    );
}

#[test]
fn data_chunk_larger_than_the_file_is_truncated_error() {
    let r = load("lying.wav", &wav(1, 1, 8_000, 16, &pcm16(500), 16_000));
    assert!(
        matches!(
            r,
            Err(PromptError::Truncated {
                promised: 8_000,
                found: 500,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn a_file_cut_short_mid_sample_is_truncated_error() {
    let mut bytes = wav(1, 2, 16_000, 16, &pcm16(2_000), 4_000);
    bytes.truncate(bytes.len() - 101);
    let r = load("cut.wav", &bytes);
    assert!(
        matches!(
            r,
            Err(PromptError::Truncated {
                promised: 2_000,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn formats_hound_rejects_are_format_errors() {
    let cases: [(&str, Vec<u8>); 6] = [
        ("twelve_bit.wav", wav(1, 1, 8_000, 12, &pcm16(100), 200)),
        ("adpcm.wav", wav(2, 1, 8_000, 4, &[0; 100], 100)),
        ("zero_channels.wav", wav(1, 0, 8_000, 16, &pcm16(100), 200)),
        ("text.wav", b"this is not a wav file at all".to_vec()),
        (
            "header_only.wav",
            wav(1, 1, 8_000, 16, &[], 0)[..30].to_vec(),
        ),
        ("empty_file.wav", Vec::new()),
    ];
    for (name, bytes) in cases {
        let r = load(name, &bytes);
        assert!(
            matches!(r, Err(PromptError::Format { .. })),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn absurd_sample_rates_are_rate_errors() {
    for rate in [1u32, 3_000, 1_000_000] {
        let r = load("rate.wav", &wav(1, 1, rate, 16, &pcm16(100), 200));
        assert!(
            matches!(r, Err(PromptError::Rate { rate: got, .. }) if got == rate),
            "{rate}: {r:?}"
        );
    }
}

#[test]
fn more_than_ten_minutes_is_refused_before_reading() {
    let claimed = 8_000 * 2 * 601;
    let r = load("long.wav", &wav(1, 1, 8_000, 16, &pcm16(100), claimed));
    assert!(
        matches!(r, Err(PromptError::TooLong { secs: 601, .. })),
        "{r:?}"
    );
}

#[test]
fn a_wav_without_samples_is_an_error() {
    let r = load("nothing.wav", &wav(1, 1, 8_000, 16, &[], 0));
    assert!(matches!(r, Err(PromptError::Empty { .. })), "{r:?}");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let r = load_wav(&tmp("does_not_exist.wav"));
    assert!(matches!(r, Err(PromptError::Io { .. })), "{r:?}");
}

#[test]
fn no_mutation_of_a_header_panics_or_yields_more_than_the_file_holds() {
    let good = wav(1, 2, 44_100, 16, &pcm16(400), 800);
    let path = Path::new("fuzz.wav");
    let check = |bytes: &[u8]| {
        if let Ok(s) = decode_wav(path, bytes) {
            // Never more output than the bytes could have held, resampled
            // up from the lowest rate accepted.
            assert!(s.len() <= bytes.len() * 2 + 16, "{} samples", s.len());
        }
    };
    for len in 0..good.len() {
        check(&good[..len]);
    }
    for pos in 0..48 {
        for value in [0u8, 1, 2, 3, 7, 8, 0x10, 0x18, 0x20, 0x7F, 0x80, 0xFE, 0xFF] {
            let mut b = good.clone();
            b[pos] = value;
            check(&b);
            // And the same change on the neighbouring byte of the field.
            if pos + 1 < b.len() {
                b[pos + 1] = value;
                check(&b);
            }
        }
    }
}
