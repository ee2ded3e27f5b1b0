//! How the two parties land in the file: stereo keeps them apart, mono
//! mixes them, and a missing or short side never shifts the other in time.

use std::io::Cursor;

use waihu_media::record::{FRAME_SAMPLES, RecordMode, Recorder};

/// What the caller and the other party sent in one frame.
type Frame = (Option<Vec<i16>>, Option<Vec<i16>>);

fn record(mode: RecordMode, frames: &[Frame]) -> (u16, Vec<i16>) {
    let mut buf = Cursor::new(Vec::new());
    let mut rec = Recorder::new(&mut buf, mode).expect("new");
    for (c, o) in frames {
        rec.write_frame(c.as_deref(), o.as_deref()).expect("write");
    }
    let info = rec.finish().expect("finish");
    assert_eq!(info.frames, frames.len() as u64);
    assert!(!info.truncated);
    assert_eq!(info.path, None);
    buf.set_position(0);
    let mut reader = hound::WavReader::new(buf).expect("valid WAV");
    let channels = reader.spec().channels;
    assert_eq!(reader.spec().sample_rate, 8_000);
    let samples = reader
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .expect("samples");
    (channels, samples)
}

#[test]
fn stereo_puts_the_caller_left_and_the_other_party_right() {
    let caller = vec![1000; FRAME_SAMPLES];
    let other = vec![-2000; FRAME_SAMPLES];
    let (channels, s) = record(RecordMode::Stereo, &[(Some(caller), Some(other))]);
    assert_eq!(channels, 2);
    assert_eq!(s.len(), 2 * FRAME_SAMPLES);
    assert!(s.chunks_exact(2).all(|p| p == [1000, -2000]));
}

#[test]
fn a_silent_side_is_written_as_silence_and_keeps_both_channels_aligned() {
    let a = vec![5; FRAME_SAMPLES];
    let b = vec![7; FRAME_SAMPLES];
    let (_, s) = record(
        RecordMode::Stereo,
        &[
            (Some(a.clone()), None),
            (None, Some(b.clone())),
            (None, None),
            (Some(a), Some(b)),
        ],
    );
    let pairs: Vec<[i16; 2]> = s.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    assert_eq!(pairs.len(), 4 * FRAME_SAMPLES);
    let frame = |k: usize| &pairs[k * FRAME_SAMPLES..(k + 1) * FRAME_SAMPLES];
    assert!(frame(0).iter().all(|p| *p == [5, 0]));
    assert!(frame(1).iter().all(|p| *p == [0, 7]));
    assert!(frame(2).iter().all(|p| *p == [0, 0]));
    assert!(frame(3).iter().all(|p| *p == [5, 7]));
}

#[test]
fn short_sides_are_padded_and_long_ones_cut_to_one_frame() {
    let short = vec![9; 100];
    let long = vec![3; FRAME_SAMPLES + 40];
    let (_, s) = record(RecordMode::Stereo, &[(Some(short), Some(long))]);
    assert_eq!(s.len(), 2 * FRAME_SAMPLES);
    for (i, p) in s.chunks_exact(2).enumerate() {
        assert_eq!(p[0], if i < 100 { 9 } else { 0 }, "left {i}");
        assert_eq!(p[1], 3, "right {i}");
    }
}

#[test]
fn mono_mixes_both_sides_with_saturation() {
    let caller = vec![1000, 30_000, -30_000, 0];
    let other = vec![-400, 10_000, -10_000, 0];
    let (channels, s) = record(RecordMode::Mono, &[(Some(caller), Some(other))]);
    assert_eq!(channels, 1);
    assert_eq!(s.len(), FRAME_SAMPLES);
    assert_eq!(&s[..4], &[600, i16::MAX, i16::MIN, 0]);
    assert!(s[4..].iter().all(|x| *x == 0));
}

#[test]
fn finish_reports_frames_and_duration() {
    let mut buf = Cursor::new(Vec::new());
    let mut rec = Recorder::new(&mut buf, RecordMode::Stereo).expect("new");
    for _ in 0..75 {
        rec.write_frame(None, None).expect("write");
    }
    let info = rec.finish().expect("finish");
    assert_eq!(info.frames, 75);
    assert_eq!(info.duration, std::time::Duration::from_millis(1_500));
}
