//! Per-call recording to WAV, 8 kHz 16-bit, that stays playable if the
//! process dies mid-call.
//!
//! The runtime hands [`Recorder::write_frame`] what each side sent in a
//! 20 ms frame. A side that sent nothing (silence suppression, a lost
//! packet, a leg on hold) is written as silence, so the two parties stay
//! aligned in time: a recording where one side drifts ahead of the other is
//! worse than useless as evidence.
//!
//! # Crash safety
//! A WAV header carries two sizes (RIFF and data) that a streaming writer
//! only knows at the end. hound's `WavWriter::flush` rewrites both from the
//! bytes written so far and pushes its buffer to the OS, so after every
//! checkpoint the file on disk is a complete WAV. The recorder checkpoints
//! every [`Recorder::with_flush_every`] frames (one second by default) and
//! at [`Recorder::finish`]; a process killed in between loses at most the
//! audio since the last checkpoint. Audio that reached the disk after the
//! last checkpoint is not described by the header; [`repair`] takes it
//! back, and the binary runs it over recordings left unfinished at
//! start-up.
//!
//! The OS page cache, not the disk, is where a checkpoint lands: that
//! survives the process being killed, not the machine losing power.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hound::{SampleFormat, WavSpec, WavWriter};

/// The sample rate of every recording: the rate the telephone network runs at.
pub const SAMPLE_RATE: u32 = 8_000;
/// Samples per side in one 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 160;
/// Frames between checkpoints unless told otherwise: one second of audio.
pub const DEFAULT_FLUSH_EVERY: u32 = 50;

/// Bytes of header in front of the samples in the files hound writes for
/// 16-bit PCM of one or two channels (RIFF, fmt and data chunk headers).
const HEADER_BYTES: u64 = 44;

/// How the two parties of a call share the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordMode {
    /// Two channels: the caller on the left, the other party (agent,
    /// prompt) on the right, so either side can be listened to alone.
    Stereo,
    /// One channel: both parties mixed, half the size of a stereo file.
    Mono,
}

impl RecordMode {
    fn channels(self) -> u16 {
        match self {
            RecordMode::Stereo => 2,
            RecordMode::Mono => 1,
        }
    }
}

/// Why a recording, or the repair of one, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Reading or writing the file failed (disk full, permission, ...).
    #[error("recording I/O failed: {0}")]
    Io(#[from] io::Error),
    /// hound refused to encode; not expected for the fixed 8 kHz 16-bit
    /// format, kept so that such a refusal is an error and not a panic.
    #[error("WAV encoding failed: {0}")]
    Wav(String),
    /// The data chunk cannot describe more audio: WAV sizes are 32-bit.
    #[error("recording reached the 4 GiB WAV size limit")]
    TooLong,
    /// The file is not a WAV that [`repair`] can make sense of.
    #[error("cannot repair {path}: {why}")]
    NotRepairable {
        /// The file that was looked at.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl From<hound::Error> for RecordError {
    fn from(e: hound::Error) -> Self {
        match e {
            hound::Error::IoError(io) => RecordError::Io(io),
            other => RecordError::Wav(other.to_string()),
        }
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    /// The file, for a recorder made with [`Recorder::create`].
    pub path: Option<PathBuf>,
    /// 20 ms frames written.
    pub frames: u64,
    /// The length of the audio.
    pub duration: Duration,
    /// True when an earlier error stopped the recording before the end:
    /// the file holds the audio up to that error (see [`Recorder::write_frame`]).
    pub truncated: bool,
}

/// A recording in progress. See the module documentation.
pub struct Recorder<W: Write + Seek> {
    /// `None` once an error has stopped the recording.
    wav: Option<WavWriter<W>>,
    mode: RecordMode,
    flush_every: u32,
    since_flush: u32,
    frames: u64,
    path: Option<PathBuf>,
}

impl<W: Write + Seek> std::fmt::Debug for Recorder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("mode", &self.mode)
            .field("path", &self.path)
            .field("frames", &self.frames)
            .field("stopped", &self.wav.is_none())
            .finish_non_exhaustive()
    }
}

impl Recorder<BufWriter<File>> {
    /// Starts recording to a new file at `path`.
    ///
    /// An existing file is never overwritten (the error is
    /// [`io::ErrorKind::AlreadyExists`]): a recording may be evidence, and
    /// a name collision must not destroy an earlier one.
    pub fn create(path: impl AsRef<Path>, mode: RecordMode) -> Result<Self, RecordError> {
        let path = path.as_ref();
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut rec = Recorder::new(BufWriter::new(file), mode)?;
        rec.path = Some(path.to_path_buf());
        Ok(rec)
    }
}

impl<W: Write + Seek> Recorder<W> {
    /// Starts recording into `writer`, which must be positioned at its start.
    pub fn new(writer: W, mode: RecordMode) -> Result<Self, RecordError> {
        let spec = WavSpec {
            channels: mode.channels(),
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut wav = WavWriter::new(writer, spec)?;
        // A valid (empty) WAV from the first moment, so even a call killed
        // in its first second leaves a file every tool opens.
        wav.flush()?;
        Ok(Recorder {
            wav: Some(wav),
            mode,
            flush_every: DEFAULT_FLUSH_EVERY,
            since_flush: 0,
            frames: 0,
            path: None,
        })
    }

    /// Checkpoints every `frames` frames instead of every
    /// [`DEFAULT_FLUSH_EVERY`]; 0 is taken as 1. Fewer frames lose less on
    /// a crash at the price of two seeks and a write per checkpoint.
    #[must_use]
    pub fn with_flush_every(mut self, frames: u32) -> Self {
        self.flush_every = frames.max(1);
        self
    }

    /// The channel layout being recorded.
    pub fn mode(&self) -> RecordMode {
        self.mode
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// True once an error has stopped the recording.
    pub fn is_stopped(&self) -> bool {
        self.wav.is_none()
    }

    /// Writes one 20 ms frame: what the caller and the other party sent.
    ///
    /// `None` is silence. A side shorter than [`FRAME_SAMPLES`] is padded
    /// with silence and a longer one is cut, so every call advances both
    /// channels by exactly one frame.
    ///
    /// The first error (disk full, ...) is returned once and stops the
    /// recording: later calls write nothing and return `Ok`, so a call is
    /// not torn down over its recording. The file keeps what was written
    /// up to the last checkpoint, and [`repair`] recovers what reached the
    /// disk after it.
    pub fn write_frame(
        &mut self,
        caller: Option<&[i16]>,
        other: Option<&[i16]>,
    ) -> Result<(), RecordError> {
        let Some(wav) = self.wav.as_mut() else {
            return Ok(());
        };
        let mut result = Self::write_to(wav, self.mode, self.frames, caller, other);
        if result.is_ok() {
            self.since_flush += 1;
            if self.since_flush >= self.flush_every {
                self.since_flush = 0;
                result = wav.flush().map_err(RecordError::from);
            }
        }
        match result {
            Ok(()) => {
                self.frames += 1;
                Ok(())
            }
            Err(e) => {
                // Dropping the writer makes hound rewrite the header sizes
                // as a last attempt; whatever it manages, repair() can finish.
                self.wav = None;
                Err(e)
            }
        }
    }

    fn write_to(
        wav: &mut WavWriter<W>,
        mode: RecordMode,
        frames_before: u64,
        caller: Option<&[i16]>,
        other: Option<&[i16]>,
    ) -> Result<(), RecordError> {
        let frame_bytes = FRAME_SAMPLES as u64 * 2 * u64::from(mode.channels());
        // hound's sizes are u32 and it adds to them unchecked: stop before
        // they would wrap rather than write a header that lies.
        let after = HEADER_BYTES + (frames_before + 1) * frame_bytes;
        if after > u64::from(u32::MAX) {
            return Err(RecordError::TooLong);
        }
        let caller = caller.unwrap_or(&[]);
        let other = other.unwrap_or(&[]);
        for i in 0..FRAME_SAMPLES {
            let c = caller.get(i).copied().unwrap_or(0);
            let o = other.get(i).copied().unwrap_or(0);
            match mode {
                RecordMode::Stereo => {
                    wav.write_sample(c)?;
                    wav.write_sample(o)?;
                }
                RecordMode::Mono => wav.write_sample(c.saturating_add(o))?,
            }
        }
        Ok(())
    }

    /// Ends the recording: writes the final header and flushes.
    ///
    /// After an error stopped the recording this reports what was written
    /// before it, with [`RecordingInfo::truncated`] set; the error itself
    /// was already returned by [`Recorder::write_frame`].
    pub fn finish(mut self) -> Result<RecordingInfo, RecordError> {
        let truncated = match self.wav.take() {
            Some(wav) => {
                wav.finalize()?;
                false
            }
            None => true,
        };
        Ok(RecordingInfo {
            path: self.path.take(),
            frames: self.frames,
            duration: frames_duration(self.frames),
            truncated,
        })
    }
}

fn frames_duration(frames: u64) -> Duration {
    Duration::from_millis(frames.saturating_mul(20))
}

/// What [`repair`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RepairOutcome {
    /// The header already matched the file; nothing was changed.
    Intact {
        /// Sample frames (one sample per channel) in the file.
        sample_frames: u64,
    },
    /// The header sizes were rewritten to match the audio in the file.
    Repaired {
        /// Sample frames the header described before.
        before: u64,
        /// Sample frames it describes now.
        after: u64,
        /// Bytes of an incomplete last sample frame cut from the end.
        cut_bytes: u64,
    },
}

/// Fixes the header of a WAV file whose sizes disagree with its length,
/// as left by a process killed between writing audio and a checkpoint, or
/// by a tool that died before writing its header.
///
/// Everything from the start of the data chunk to the end of the file is
/// taken as audio, cut to the last whole sample frame: streaming writers,
/// this recorder among them, put the data chunk last. A file whose data
/// size is already consistent, including one with further chunks after
/// its data, is left untouched.
///
/// Only for files no recorder has open: a live recording's header lags its
/// data by design, and rewriting it underneath the writer would race it.
pub fn repair(path: impl AsRef<Path>) -> Result<RepairOutcome, RecordError> {
    let path = path.as_ref();
    let bad = |why| RecordError::NotRepairable {
        path: path.to_path_buf(),
        why,
    };
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let file_len = file.metadata()?.len();

    let mut riff = [0u8; 12];
    read_at(&mut file, 0, &mut riff).map_err(|_| bad("shorter than a RIFF header"))?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(bad("not a RIFF WAVE file"));
    }
    let riff_size = le_u32([riff[4], riff[5], riff[6], riff[7]]);

    // Walk the chunks up to "data", learning the frame size from "fmt ".
    let mut pos = 12u64;
    let mut block_align: Option<u64> = None;
    let (data_start, claimed) = loop {
        let mut head = [0u8; 8];
        read_at(&mut file, pos, &mut head).map_err(|_| bad("no data chunk"))?;
        let size = le_u32([head[4], head[5], head[6], head[7]]);
        if &head[0..4] == b"data" {
            break (pos + 8, u64::from(size));
        }
        if &head[0..4] == b"fmt " {
            let mut fmt = [0u8; 14];
            read_at(&mut file, pos + 8, &mut fmt).map_err(|_| bad("fmt chunk cut short"))?;
            block_align = Some(u64::from(u16::from_le_bytes([fmt[12], fmt[13]])));
        }
        pos += 8 + u64::from(size) + u64::from(size & 1);
    };
    let block = match block_align {
        Some(b) if b > 0 => b,
        Some(_) => return Err(bad("fmt chunk gives a zero frame size")),
        None => return Err(bad("no fmt chunk before the data")),
    };

    if claimed % block == 0 && riff_size_ok(riff_size, file_len) {
        let end = data_start + claimed + (claimed & 1);
        if chunks_end_at(&mut file, end, file_len)? {
            return Ok(RepairOutcome::Intact {
                sample_frames: claimed / block,
            });
        }
    }

    let available = file_len.saturating_sub(data_start);
    // The largest whole number of frames that fits both the file and a
    // 32-bit RIFF size field.
    let limit = u64::from(u32::MAX)
        .saturating_sub(data_start - 8)
        .saturating_sub(1);
    let data_len = available.min(limit) / block * block;
    let pad = data_len & 1;
    let new_len = data_start + data_len + pad;
    let cut_bytes = file_len.saturating_sub(new_len);
    // Cutting drops a partial frame; growing adds the pad byte an
    // odd-sized data chunk needs to be valid RIFF.
    if new_len != file_len {
        file.set_len(new_len)?;
    }
    let riff_new = u32::try_from(new_len - 8).map_err(|_| RecordError::TooLong)?;
    let data_new = u32::try_from(data_len).map_err(|_| RecordError::TooLong)?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff_new.to_le_bytes())?;
    file.seek(SeekFrom::Start(data_start - 4))?;
    file.write_all(&data_new.to_le_bytes())?;
    file.sync_all()?;
    Ok(RepairOutcome::Repaired {
        before: claimed / block,
        after: data_len / block,
        cut_bytes,
    })
}

/// Some writers leave the RIFF size at 0 or at a streaming placeholder;
/// only an exact match means the header was finished.
fn riff_size_ok(riff_size: u32, file_len: u64) -> bool {
    u64::from(riff_size) + 8 == file_len
}

/// Whether whatever follows `pos` is a run of whole chunks ending exactly
/// at the end of the file (chunks other tools put after the data).
fn chunks_end_at(file: &mut File, mut pos: u64, file_len: u64) -> Result<bool, RecordError> {
    while pos < file_len {
        let mut head = [0u8; 8];
        if read_at(file, pos, &mut head).is_err() {
            return Ok(false);
        }
        if !head[0..4]
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
        {
            return Ok(false);
        }
        let size = u64::from(le_u32([head[4], head[5], head[6], head[7]]));
        pos += 8 + size + (size & 1);
    }
    Ok(pos == file_len)
}

fn read_at(file: &mut File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(pos))?;
    file.read_exact(buf)
}

fn le_u32(b: [u8; 4]) -> u32 {
    u32::from_le_bytes(b)
}
