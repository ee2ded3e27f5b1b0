//! Playing a list of prompts, silences and tones as 20 ms frames, and
//! pacing those frames against the caller's clock.
//!
//! [`Player`] knows nothing of time: each call hands out the next 160
//! samples. Items are concatenated sample-exactly (a prompt of 1000
//! samples followed by another does not get 120 samples of padding in
//! between), because padding every item to a frame boundary adds audible
//! gaps between the words of "you entered" + "4" + "2". Only the end of
//! the whole playlist is padded.
//!
//! [`Pacer`] decides how many frames are due at a given instant and which
//! RTP timestamp each one carries. Timestamps follow the media clock (the
//! frame's slot since the start), not the number of packets sent, so that
//! after a stall the receiver sees a gap it can conceal instead of audio
//! that drifts ever further behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::g711::{Law, encode_alaw, encode_ulaw};
use crate::prompt::{Prompt, samples_to_duration};
use crate::tone::{ToneGenerator, ToneKind};

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// The usual frame length.
pub const FRAME: Duration = Duration::from_millis(20);

/// One entry of a playlist.
#[derive(Clone, Debug)]
pub enum Item {
    /// A loaded prompt.
    Prompt(Arc<Prompt>),
    /// Digital silence.
    Silence {
        /// Length in milliseconds.
        ms: u32,
    },
    /// A generated tone, from its start.
    Tone {
        /// What to generate.
        kind: ToneKind,
        /// Length in milliseconds.
        ms: u32,
    },
}

impl Item {
    /// Length in 8 kHz samples.
    pub fn samples(&self) -> u64 {
        match self {
            Item::Prompt(p) => p.len() as u64,
            Item::Silence { ms } | Item::Tone { ms, .. } => u64::from(*ms) * 8,
        }
    }

    fn is_silence(&self) -> bool {
        match self {
            Item::Prompt(_) => false,
            Item::Silence { .. } => true,
            Item::Tone { kind, .. } => kind.is_silence(),
        }
    }
}

/// What a frame handed out by the [`Player`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// Audio worth sending (prompt, tone or comfort noise), possibly
    /// zero-padded at the end of the playlist.
    Audio,
    /// Only silence: the sender may skip it or send comfort noise.
    Silence,
    /// The playlist is over (or was stopped); the buffer holds silence.
    Done,
}

/// Plays a playlist in 20 ms frames.
#[derive(Debug)]
pub struct Player {
    items: Vec<Item>,
    /// The item being played.
    index: usize,
    /// Samples already played of `items[index]`.
    offset: u64,
    /// The generator of the current item when it is a tone.
    tone: Option<ToneGenerator>,
    played: u64,
    total: u64,
    stopped: bool,
}

impl Player {
    /// A player at the start of `items`.
    pub fn new(items: Vec<Item>) -> Player {
        let total = items.iter().map(Item::samples).sum();
        let mut p = Player {
            items,
            index: 0,
            offset: 0,
            tone: None,
            played: 0,
            total,
            stopped: false,
        };
        p.settle();
        p
    }

    /// Appends an item to the playlist (also after it has finished, which
    /// restarts playback with the new item). Ignored after
    /// [`Player::stop`]: a barged-in player stays stopped.
    pub fn push(&mut self, item: Item) {
        if !self.stopped {
            self.total += item.samples();
            self.items.push(item);
            self.settle();
        }
    }

    /// Stops playback now (barge-in): every later frame is [`Frame::Done`].
    pub fn stop(&mut self) {
        self.stopped = true;
        self.tone = None;
    }

    /// True once everything has been played, or after [`Player::stop`].
    pub fn is_done(&self) -> bool {
        self.stopped || self.index >= self.items.len()
    }

    /// Samples played so far.
    pub fn position_samples(&self) -> u64 {
        self.played
    }

    /// Samples left to play (zero once stopped).
    pub fn remaining_samples(&self) -> u64 {
        if self.stopped {
            0
        } else {
            self.total.saturating_sub(self.played)
        }
    }

    /// Time played so far.
    pub fn position(&self) -> Duration {
        samples_to_duration(self.played)
    }

    /// Time left to play.
    pub fn remaining(&self) -> Duration {
        samples_to_duration(self.remaining_samples())
    }

    /// Skips empty items and prepares the generator of a tone item, so
    /// that `index` always points at an item with samples left (or past
    /// the end).
    fn settle(&mut self) {
        while let Some(item) = self.items.get(self.index) {
            if self.offset < item.samples() {
                if let (Item::Tone { kind, .. }, None) = (item, &self.tone) {
                    self.tone = Some(ToneGenerator::new(*kind));
                }
                return;
            }
            self.index += 1;
            self.offset = 0;
            self.tone = None;
        }
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        self.played += n;
        self.settle();
    }

    /// Fills `out` with the next 20 ms.
    pub fn next_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> Frame {
        if self.is_done() {
            out.fill(0);
            return Frame::Done;
        }
        let mut written = 0;
        let mut audio = false;
        while written < FRAME_SAMPLES {
            let Some(item) = self.items.get(self.index) else {
                break;
            };
            let left = item.samples() - self.offset;
            let n = left.min((FRAME_SAMPLES - written) as u64) as usize;
            let dst = &mut out[written..written + n];
            audio |= !item.is_silence();
            match item {
                Item::Prompt(p) => {
                    let start = self.offset as usize;
                    dst.copy_from_slice(&p.samples()[start..start + n]);
                }
                Item::Silence { .. } => dst.fill(0),
                Item::Tone { .. } => match self.tone.as_mut() {
                    Some(g) => g.fill(dst),
                    None => dst.fill(0),
                },
            }
            written += n;
            self.advance(n as u64);
        }
        out[written..].fill(0);
        if audio { Frame::Audio } else { Frame::Silence }
    }

    /// Like [`Player::next_frame`], but G.711-encoded with `law`. When the
    /// whole frame lies inside one prompt, its cached encoding is copied
    /// and nothing is encoded.
    pub fn next_encoded(&mut self, law: Law, out: &mut [u8; FRAME_SAMPLES]) -> Frame {
        if !self.is_done()
            && let Some(Item::Prompt(p)) = self.items.get(self.index)
            && p.len() as u64 - self.offset >= FRAME_SAMPLES as u64
        {
            let start = self.offset as usize;
            out.copy_from_slice(&p.encoded(law)[start..start + FRAME_SAMPLES]);
            self.advance(FRAME_SAMPLES as u64);
            return Frame::Audio;
        }
        let mut pcm = [0i16; FRAME_SAMPLES];
        let frame = self.next_frame(&mut pcm);
        let encode = match law {
            Law::Ulaw => encode_ulaw,
            Law::Alaw => encode_alaw,
        };
        for (o, &s) in out.iter_mut().zip(pcm.iter()) {
            *o = encode(s);
        }
        frame
    }
}

/// How many frames a [`Pacer`] emits at most in one go after a stall;
/// older frames are skipped.
pub const MAX_CATCH_UP: u32 = 5;

/// Frame pacing against the caller's clock, with RTP timestamps from the
/// media clock.
#[derive(Clone, Debug)]
pub struct Pacer {
    start: Instant,
    frame: Duration,
    /// The slot of the next frame to hand out (frame 0 is due at `start`).
    next: u64,
    skipped: u64,
    initial_timestamp: u32,
    max_catch_up: u32,
}

impl Pacer {
    /// A pacer whose first frame is due at `start`, one frame every
    /// `frame` (a zero `frame` is taken as 1 ms), RTP timestamps from 0.
    pub fn new(start: Instant, frame: Duration) -> Pacer {
        Pacer::with_initial_timestamp(start, frame, 0)
    }

    /// Like [`Pacer::new`], with the first frame's RTP timestamp (RFC 3550
    /// wants it random; the caller picks it).
    pub fn with_initial_timestamp(start: Instant, frame: Duration, timestamp: u32) -> Pacer {
        Pacer {
            start,
            frame: if frame.is_zero() {
                Duration::from_millis(1)
            } else {
                frame
            },
            next: 0,
            skipped: 0,
            initial_timestamp: timestamp,
            max_catch_up: MAX_CATCH_UP,
        }
    }

    /// Changes how many late frames are emitted at once (at least 1).
    pub fn set_max_catch_up(&mut self, frames: u32) {
        self.max_catch_up = frames.max(1);
    }

    /// The number of frames to emit now. Take each with
    /// [`Pacer::next_timestamp`]. If more than the catch-up limit are
    /// late, the oldest are skipped: their timestamps are never handed
    /// out, so the stream shows a gap rather than a growing delay.
    pub fn due(&mut self, now: Instant) -> u32 {
        if now < self.start {
            return 0;
        }
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        // Slots whose deadline is at or before `now`.
        let slots = u64::try_from(elapsed / self.frame.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let late = slots.saturating_sub(self.next);
        let limit = u64::from(self.max_catch_up);
        if late > limit {
            let skip = late - limit;
            self.next = self.next.saturating_add(skip);
            self.skipped = self.skipped.saturating_add(skip);
        }
        late.min(limit) as u32
    }

    /// The RTP timestamp of the next frame, which is now considered sent.
    pub fn next_timestamp(&mut self) -> u32 {
        let ts = self.timestamp_of(self.next);
        self.next = self.next.saturating_add(1);
        ts
    }

    /// The RTP timestamp the next frame will carry, without taking it.
    pub fn peek_timestamp(&self) -> u32 {
        self.timestamp_of(self.next)
    }

    /// When the next frame is due.
    pub fn next_deadline(&self) -> Instant {
        let offset = self.frame.as_nanos().saturating_mul(u128::from(self.next));
        let offset = Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX));
        // Beyond Instant's range is centuries away; "now-ish" is harmless.
        self.start.checked_add(offset).unwrap_or(self.start)
    }

    /// Frames skipped after stalls, in total.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Frames handed out or skipped so far (the next frame's slot).
    pub fn frame_index(&self) -> u64 {
        self.next
    }

    /// RTP units (8 kHz) per frame, rounded down.
    pub fn samples_per_frame(&self) -> u32 {
        u32::try_from(self.frame.as_nanos().saturating_mul(8_000) / 1_000_000_000)
            .unwrap_or(u32::MAX)
    }

    /// Timestamp of slot `k`, computed from the slot's start time so a
    /// frame length that is not a whole number of samples does not drift.
    fn timestamp_of(&self, k: u64) -> u32 {
        let units = self
            .frame
            .as_nanos()
            .saturating_mul(u128::from(k))
            .saturating_mul(8_000)
            / 1_000_000_000;
        // RTP timestamps wrap at 2^32: keep the low 32 bits.
        self.initial_timestamp.wrapping_add(units as u32)
    }
}
