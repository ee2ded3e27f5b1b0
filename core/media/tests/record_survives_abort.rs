//! A recording killed mid-call (no `finish`, no destructors) must still be a
//! WAV that hound opens, holding everything up to the last checkpoint.
//!
//! The test runs its own binary again as a child that records and then
//! aborts, so the file is left exactly as a crashed PBX would leave it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use waihu_media::record::{FRAME_SAMPLES, RecordMode, Recorder, RepairOutcome, repair};

const CHILD_ENV: &str = "WAIHU_RECORD_ABORT_CHILD";
/// Three seconds, checkpointed every second...
const FLUSHED_FRAMES: usize = 150;
/// ...then a little more that no checkpoint covers, more than hound's
/// 8 KiB buffer so that part of it reaches the disk before the abort.
const UNFLUSHED_FRAMES: usize = 30;

fn caller_sample(n: usize) -> i16 {
    // A ramp that wraps, positive only: unmistakable for the other side.
    (100 + (n * 7) % 20_000) as i16
}

fn other_sample(n: usize) -> i16 {
    -(100 + ((n * 13) % 20_000) as i16)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("waihu-record-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn record_then_abort(path: &Path) -> ! {
    let mut rec = Recorder::create(path, RecordMode::Stereo)
        .expect("create")
        .with_flush_every(50);
    for f in 0..FLUSHED_FRAMES + UNFLUSHED_FRAMES {
        let caller: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| caller_sample(f * FRAME_SAMPLES + i))
            .collect();
        let other: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| other_sample(f * FRAME_SAMPLES + i))
            .collect();
        rec.write_frame(Some(&caller), Some(&other)).expect("write");
    }
    std::process::abort()
}

fn check_signal(path: &Path, min_frames: usize) -> usize {
    let mut reader = hound::WavReader::open(path).expect("hound opens the file");
    let spec = reader.spec();
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8_000);
    assert_eq!(spec.bits_per_sample, 16);
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("every sample decodes");
    let per_side = samples.len() / 2;
    assert!(
        per_side >= min_frames * FRAME_SAMPLES,
        "{per_side} samples per side, want at least {}",
        min_frames * FRAME_SAMPLES
    );
    for (n, pair) in samples.chunks_exact(2).enumerate() {
        assert_eq!(pair[0], caller_sample(n), "left (caller) sample {n}");
        assert_eq!(pair[1], other_sample(n), "right (other) sample {n}");
    }
    per_side
}

#[test]
fn abort_mid_call_leaves_a_wav_with_every_checkpointed_second() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        record_then_abort(Path::new(&path));
    }
    let dir = scratch("abort");
    let path = dir.join("call.wav");
    let _ = std::fs::remove_file(&path);
    let exe = std::env::current_exe().expect("test binary");
    let status = Command::new(exe)
        .args([
            "--exact",
            "abort_mid_call_leaves_a_wav_with_every_checkpointed_second",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::null())
        .status()
        .expect("child runs");
    assert!(!status.success(), "the child must die by abort");

    // At least two seconds, the minimum the design promises; in fact all
    // three checkpointed seconds, since the abort came after the third.
    let header_frames = check_signal(&path, 100);
    assert_eq!(header_frames, FLUSHED_FRAMES * FRAME_SAMPLES);

    // The unflushed tail that reached the disk is recovered by repair,
    // and it is the same signal, still in step on both channels.
    let outcome = repair(&path).expect("repair");
    let RepairOutcome::Repaired { before, after, .. } = outcome else {
        panic!("expected a repair, got {outcome:?}");
    };
    assert_eq!(before, (FLUSHED_FRAMES * FRAME_SAMPLES) as u64);
    assert!(after > before, "repair found nothing after the checkpoint");
    assert!(after <= ((FLUSHED_FRAMES + UNFLUSHED_FRAMES) * FRAME_SAMPLES) as u64);
    let repaired = check_signal(&path, FLUSHED_FRAMES);
    assert_eq!(repaired as u64, after);

    let _ = std::fs::remove_dir_all(&dir);
}
