//! Recordings on disk: checkpoints make the file readable while the call
//! is still going, errors are reported once and never panic, and repair
//! fixes headers that disagree with the file.

use std::fs::OpenOptions;
use std::io::{self, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use waihu_media::record::{
    FRAME_SAMPLES, RecordError, RecordMode, Recorder, RepairOutcome, repair,
};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("waihu-record-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wav_len(path: &Path) -> u32 {
    hound::WavReader::open(path).expect("hound opens it").len()
}

fn frame(v: i16) -> Vec<i16> {
    vec![v; FRAME_SAMPLES]
}

#[test]
fn a_file_is_a_valid_wav_from_answer_and_after_each_checkpoint() {
    let dir = Scratch::new("checkpoints");
    let path = dir.path("live.wav");
    let mut rec = Recorder::create(&path, RecordMode::Stereo)
        .expect("create")
        .with_flush_every(5);
    assert_eq!(wav_len(&path), 0);
    for _ in 0..4 {
        rec.write_frame(Some(&frame(1)), Some(&frame(2)))
            .expect("write");
    }
    assert_eq!(wav_len(&path), 0, "no checkpoint yet");
    rec.write_frame(Some(&frame(1)), Some(&frame(2)))
        .expect("write");
    assert_eq!(wav_len(&path), (5 * 2 * FRAME_SAMPLES) as u32);
    rec.write_frame(None, None).expect("write");
    let info = rec.finish().expect("finish");
    assert_eq!(info.path.as_deref(), Some(path.as_path()));
    assert_eq!(info.frames, 6);
    assert_eq!(wav_len(&path), (6 * 2 * FRAME_SAMPLES) as u32);
    assert_eq!(
        repair(&path).expect("repair"),
        RepairOutcome::Intact {
            sample_frames: 6 * FRAME_SAMPLES as u64
        }
    );
}

#[test]
fn create_never_overwrites_an_earlier_recording() {
    let dir = Scratch::new("no-clobber");
    let path = dir.path("taken.wav");
    std::fs::write(&path, b"earlier evidence").expect("write");
    let err = Recorder::create(&path, RecordMode::Mono).expect_err("must refuse");
    assert!(
        matches!(&err, RecordError::Io(e) if e.kind() == io::ErrorKind::AlreadyExists),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), b"earlier evidence");
}

#[test]
fn create_in_a_missing_directory_is_an_error_not_a_panic() {
    let dir = Scratch::new("missing-dir");
    let err =
        Recorder::create(dir.path("nope/call.wav"), RecordMode::Stereo).expect_err("must fail");
    assert!(matches!(err, RecordError::Io(_)), "{err:?}");
}

/// A disk that fills up after `room` bytes.
struct FillingDisk {
    inner: Cursor<Vec<u8>>,
    room: u64,
}

impl Write for FillingDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let end = self.inner.position() + buf.len() as u64;
        if end > self.room {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for FillingDisk {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn a_full_disk_is_reported_once_and_stops_the_recording() {
    let disk = FillingDisk {
        inner: Cursor::new(Vec::new()),
        room: 44 + 10 * 640 + 100,
    };
    let mut rec = Recorder::new(disk, RecordMode::Stereo)
        .expect("new")
        .with_flush_every(1);
    let mut errors = 0;
    for _ in 0..100 {
        match rec.write_frame(Some(&frame(3)), Some(&frame(4))) {
            Ok(()) => {}
            Err(RecordError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::StorageFull);
                errors += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(errors, 1, "the error is reported exactly once");
    assert!(rec.is_stopped());
    assert_eq!(rec.frames(), 10, "frames before the disk filled");
    let info = rec.finish().expect("finish after a reported error");
    assert!(info.truncated);
    assert_eq!(info.frames, 10);
}

/// Writes a 1 s stereo recording and returns its path.
fn one_second(dir: &Scratch, name: &str) -> PathBuf {
    let path = dir.path(name);
    let mut rec = Recorder::create(&path, RecordMode::Stereo).expect("create");
    for f in 0..50 {
        rec.write_frame(Some(&frame(f)), Some(&frame(-f)))
            .expect("write");
    }
    rec.finish().expect("finish");
    path
}

fn set_header_sizes(path: &Path, riff: u32, data: u32) {
    let mut f = OpenOptions::new().write(true).open(path).expect("open");
    f.seek(SeekFrom::Start(4)).expect("seek");
    f.write_all(&riff.to_le_bytes()).expect("write");
    f.seek(SeekFrom::Start(40)).expect("seek");
    f.write_all(&data.to_le_bytes()).expect("write");
}

#[test]
fn repair_fixes_a_file_cut_short_by_hand_to_the_last_whole_frame() {
    let dir = Scratch::new("repair-cut");
    let path = one_second(&dir, "cut.wav");
    // Cut in the middle of a sample frame: 1000 frames and 3 stray bytes.
    let keep = 44 + 1000 * 4 + 3;
    OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(keep)
        .expect("truncate");

    let outcome = repair(&path).expect("repair");
    assert_eq!(
        outcome,
        RepairOutcome::Repaired {
            before: 8000,
            after: 1000,
            cut_bytes: 3
        }
    );
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), 44 + 4000);
    let mut reader = hound::WavReader::open(&path).expect("valid after repair");
    let s: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    assert_eq!(s.len(), 2000);
    // 1000 sample frames are the first 6.25 frames of 20 ms: values 0..=6.
    for (n, p) in s.chunks_exact(2).enumerate() {
        let f = (n / FRAME_SAMPLES) as i16;
        assert_eq!(p, [f, -f], "frame {n}");
    }
    assert_eq!(
        repair(&path).expect("again"),
        RepairOutcome::Intact {
            sample_frames: 1000
        }
    );
}

#[test]
fn repair_recovers_audio_a_header_of_zeros_does_not_describe() {
    let dir = Scratch::new("repair-zero");
    let path = one_second(&dir, "zero.wav");
    // What a writer killed before its first header update leaves.
    set_header_sizes(&path, 0, 0);
    let outcome = repair(&path).expect("repair");
    assert_eq!(
        outcome,
        RepairOutcome::Repaired {
            before: 0,
            after: 8000,
            cut_bytes: 0
        }
    );
    assert_eq!(wav_len(&path), 16_000);
}

#[test]
fn repair_leaves_a_consistent_file_alone() {
    let dir = Scratch::new("repair-intact");
    let path = one_second(&dir, "fine.wav");
    let before = std::fs::read(&path).expect("read");
    assert_eq!(
        repair(&path).expect("repair"),
        RepairOutcome::Intact {
            sample_frames: 8000
        }
    );
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn repair_keeps_chunks_another_tool_put_after_the_data() {
    let dir = Scratch::new("repair-trailing");
    let path = one_second(&dir, "tagged.wav");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.extend_from_slice(b"LIST");
    bytes.extend_from_slice(&4u32.to_le_bytes());
    bytes.extend_from_slice(b"INFO");
    let riff = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    assert_eq!(
        repair(&path).expect("repair"),
        RepairOutcome::Intact {
            sample_frames: 8000
        }
    );
    assert_eq!(std::fs::read(&path).expect("read"), bytes);
}

#[test]
fn repair_refuses_what_is_not_a_wav_without_panicking() {
    let dir = Scratch::new("repair-junk");
    for (name, content) in [
        ("empty.wav", &b""[..]),
        ("short.wav", &b"RIFF\0\0"[..]),
        ("text.wav", &b"this is not audio at all, just text"[..]),
        ("nofmt.wav", &b"RIFF\x0c\0\0\0WAVEdata\0\0\0\0"[..]),
        ("nodata.wav", &b"RIFF\x04\0\0\0WAVE"[..]),
    ] {
        let path = dir.path(name);
        std::fs::write(&path, content).expect("write");
        let err = repair(&path).expect_err(name);
        assert!(
            matches!(err, RecordError::NotRepairable { .. }),
            "{name}: {err:?}"
        );
    }
    assert!(matches!(
        repair(dir.path("absent.wav")),
        Err(RecordError::Io(_))
    ));
}
