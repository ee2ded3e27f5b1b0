//! A prompt directory loads recursively under '/'-separated names, and a
//! bad directory is one error that lists every bad file.

use std::fs;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};
use waihu_media::g711::Law;
use waihu_media::prompt::{PromptCache, PromptDirError, PromptError};

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn write_good(path: &Path, samples: &[i16]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    let spec = WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let mut w = WavWriter::create(path, spec).expect("create");
    for &s in samples {
        w.write_sample(s).expect("write");
    }
    w.finalize().expect("finalize");
}

#[test]
fn nested_files_are_named_by_relative_path_and_cache_both_laws() {
    let dir = fresh_dir("prompt_dir_good");
    let samples: Vec<i16> = (0..800).map(|i| (i * 40 - 16_000) as i16).collect();
    write_good(&dir.join("en/welcome.wav"), &samples);
    write_good(&dir.join("zh/digits/5.WAV"), &samples[..160]);
    fs::write(dir.join("README.txt"), "not a prompt").expect("write");
    fs::write(dir.join("en/notes.md"), "ignored").expect("write");

    let cache = PromptCache::load_dir(&dir).expect("load");
    assert_eq!(
        cache.names().collect::<Vec<_>>(),
        ["en/welcome", "zh/digits/5"]
    );
    assert_eq!(cache.len(), 2);
    let p = cache.get("en/welcome").expect("welcome");
    assert_eq!(p.name(), "en/welcome");
    assert_eq!(p.samples(), &samples[..]);
    assert_eq!(p.duration().as_millis(), 100);
    let mut ulaw = Vec::new();
    Law::Ulaw.encode(&samples, &mut ulaw);
    assert_eq!(p.encoded(Law::Ulaw), &ulaw[..]);
    let mut alaw = Vec::new();
    Law::Alaw.encode(&samples, &mut alaw);
    assert_eq!(p.encoded(Law::Alaw), &alaw[..]);
    assert!(cache.get("en/welcome.wav").is_none());
    assert!(cache.get("welcome").is_none());
}

#[test]
fn one_good_and_two_bad_files_report_both_bad_ones() {
    let dir = fresh_dir("prompt_dir_bad");
    write_good(&dir.join("good.wav"), &[1, 2, 3, 4]);
    fs::create_dir_all(dir.join("sub")).expect("mkdir");
    fs::write(dir.join("sub/garbage.wav"), b"RIFF....WAVEjunk").expect("write");
    let mut truncated = fs::read(dir.join("good.wav")).expect("read");
    truncated.truncate(truncated.len() - 3);
    fs::write(dir.join("truncated.wav"), truncated).expect("write");

    let err = PromptCache::load_dir(&dir).expect_err("two bad files");
    let text = err.to_string();
    let PromptDirError::BadFiles { errors, .. } = err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(errors.len(), 2, "{text}");
    assert!(matches!(errors[0], PromptError::Format { .. }), "{text}");
    assert!(matches!(errors[1], PromptError::Truncated { .. }), "{text}");
    assert!(text.contains("garbage.wav"), "{text}");
    assert!(text.contains("truncated.wav"), "{text}");
    assert!(!text.contains("good.wav:"), "{text}");
    assert!(text.starts_with("2 bad prompt file(s)"), "{text}");
}

#[test]
fn two_files_with_the_same_name_are_reported() {
    let dir = fresh_dir("prompt_dir_dup");
    write_good(&dir.join("x.wav"), &[1, 2]);
    write_good(&dir.join("x.WAV"), &[1, 2]);
    let err = PromptCache::load_dir(&dir).expect_err("duplicate");
    assert!(
        matches!(&err, PromptDirError::BadFiles { errors, .. } if matches!(errors[..], [PromptError::Duplicate { .. }])),
        "{err}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = fresh_dir("prompt_dir_missing").join("nope");
    let err = PromptCache::load_dir(&dir).expect_err("missing");
    assert!(matches!(err, PromptDirError::Dir { .. }), "{err}");
}

#[test]
fn an_empty_directory_is_an_empty_cache() {
    let dir = fresh_dir("prompt_dir_empty");
    let cache = PromptCache::load_dir(&dir).expect("load");
    assert!(cache.is_empty());
}
