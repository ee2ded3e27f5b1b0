//! Answering-machine detection: after an outbound call is answered, tell a
//! person from a voicemail greeting by listening to the first seconds.
//!
//! A [`Detector`] is fed the far end's audio from the moment of answer, as
//! 8 kHz mono 16-bit samples in frames (usually 20 ms, 160 samples), each
//! with its time in milliseconds since answer. It returns one [`Decision`]
//! (human, machine or unsure, why, and when) as soon as it can; when the
//! runtime stops listening first it calls [`Detector::finish`]. Like the
//! rest of this crate it reads no clock: time is the `at_ms` argument, so
//! the same audio with the same times always gives the same decision.
//! Detectors are a swap-in point: a plugin may offer its own behind the
//! same trait.
//!
//! # The built-in detector: [`EnergyCadence`]
//! The audio is analysed in 20 ms blocks, whatever the frame size.
//!
//! **Voice activity.** A block is speech when its power is
//! [`Config::speech_margin_db`] above an adaptive noise floor and above
//! [`Config::min_speech_dbfs`]. The floor drops quickly to quieter blocks
//! and climbs slowly, so it sits at the line's noise: the dips between
//! syllables keep pulling it down while someone talks, and steady noise
//! with nobody talking becomes the floor. Runs of speech blocks, with
//! gaps shorter than [`Config::between_words_ms`] bridged, are *words*
//! once they last [`Config::min_word_ms`] (shorter ones are clicks).
//!
//! **Cadence.** The rules rest on how the two answer a call. A person
//! says a word or two ("喂?", "Hello?", "喂，你好") and then waits for
//! the caller; a voicemail greeting talks on for several seconds without
//! waiting ("您好，您拨打的用户暂时无法接通…", "Hi, you've reached…"),
//! and often ends in a beep. In the order they are checked, per block:
//! 1. A beep (a steady tone in [`Config::beep_min_hz`]..=
//!    [`Config::beep_max_hz`] lasting [`Config::beep_min_ms`]) → machine:
//!    people do not whistle pure tones, voicemail does.
//! 2. No word within [`Config::initial_silence_ms`] → unsure (reason
//!    [`Reason::Silence`] or, over a noisy line, [`Reason::NoiseOnly`]).
//! 3. After the first word: more than [`Config::max_words`] words before a
//!    pause → machine ([`Reason::ManyWords`]); speech still going on
//!    [`Config::greeting_max_ms`] after the first word → machine
//!    ([`Reason::LongGreeting`]); [`Config::after_greeting_silence_ms`] of
//!    quiet after a greeting within those limits → human
//!    ([`Reason::ShortGreeting`]).
//! 4. No rule decided within [`Config::total_analysis_ms`] → unsure
//!    ([`Reason::TimeUp`]).
//!
//! **Why silence is unsure and not machine.** A silent answer is most
//! often a person who waits for the caller to speak first, or a line that
//! is not connected; some machines wait before greeting, but calling it a
//! machine would hang up on the people. The dialer should treat unsure
//! like human (connect an agent, who hears what happens next), so for
//! measuring, unsure counts as "not machine": the costly mistake is the
//! machine verdict on a person.
//!
//! After its decision the detector keeps listening for a beep
//! ([`EnergyCadence::beep`]), so a campaign that recognised a machine by
//! its long greeting can start its message when the beep ends. A
//! [`BeepDetector`] does only that, for a runtime that wants it alone.
//!
//! # Limits
//! Energy and cadence cannot hear *what* is said: a person who answers
//! with a full sentence ("Hello, this is Mary speaking") sounds like a
//! short greeting that went on, and a voicemail that says only "请留言"
//! and beeps late sounds like a person. Speech-like noise (a television,
//! a busy street) can make words. Thresholds are in [`Config`], which a
//! campaign can tune.
//!
//! # Measurement
//! `tests/amd/make_clips.sh` makes a labelled set of synthetic clips
//! (espeak-ng voices in Mandarin and English, sox noise, telephone band
//! filtering), half of them held out from tuning; the `amd_labelled` test
//! prints machine precision and recall, the confusion matrix and decision
//! times over them, and fails if they drop. Synthetic speech pauses more
//! regularly than people do, so treat those numbers as a regression
//! guard, not as accuracy on real calls.

mod beep;
mod blocks;
mod cadence;
mod level;

use std::fmt;

use serde::Deserialize;
use thiserror::Error;

pub use beep::BeepDetector;
pub use blocks::BLOCK;
pub use cadence::EnergyCadence;

/// What the detector thinks answered the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// A person.
    Human,
    /// A voicemail system or a network announcement.
    Machine,
    /// Cannot tell (silence, noise, or no rule decided in time). Dialers
    /// should treat it like [`Verdict::Human`].
    Unsure,
}

/// Which rule gave the verdict.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A short greeting followed by quiet: a person waiting for an answer.
    ShortGreeting,
    /// Speech still going on past the greeting limit.
    LongGreeting,
    /// More words than a person says before waiting.
    ManyWords,
    /// A beep.
    Beep,
    /// Nothing but silence.
    Silence,
    /// Noise, but no words.
    NoiseOnly,
    /// The analysis time ran out before any rule decided.
    TimeUp,
    /// A detector other than the built-in one decided, for its own reason.
    Other(&'static str),
}

impl Reason {
    /// A short name for logs and call records.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ShortGreeting => "short-greeting",
            Reason::LongGreeting => "long-greeting",
            Reason::ManyWords => "many-words",
            Reason::Beep => "beep",
            Reason::Silence => "silence",
            Reason::NoiseOnly => "noise-only",
            Reason::TimeUp => "time-up",
            Reason::Other(s) => s,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A detector's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Human, machine or unsure.
    pub verdict: Verdict,
    /// The `at_ms` of the frame (or of [`Detector::finish`]) that decided:
    /// how long after answer the decision was made.
    pub at_ms: u32,
    /// Which rule decided.
    pub reason: Reason,
}

/// A beep: a steady tone, as voicemail plays before recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Beep {
    /// When the tone started, in ms since answer (to within a block).
    pub start_ms: u32,
    /// When it stopped, once it has: when a message should start.
    pub end_ms: Option<u32>,
    /// Its frequency, in Hz.
    pub hz: u32,
}

/// Something that tells a person from a machine by listening.
///
/// Feed it every frame of the far end's audio from answer, in order, with
/// `at_ms`, the time of the frame's first sample in ms since answer
/// (8 kHz mono 16-bit; any frame size, 160 samples is usual). `push`
/// returns the decision once, from the frame that made it; later calls
/// return `None`. `finish` ends the analysis (the runtime stopped
/// listening, or the call ended) and returns the decision, making one
/// from what was heard if there was none yet.
pub trait Detector: Send {
    /// Feeds one frame heard from `at_ms`.
    fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Decision>;
    /// Ends the analysis at `at_ms`: the decision already made, or one now.
    fn finish(&mut self, at_ms: u32) -> Decision;
    /// The latest beep heard, if the detector listens for them.
    fn beep(&self) -> Option<Beep> {
        None
    }
}

/// Thresholds of [`EnergyCadence`] and [`BeepDetector`], in milliseconds
/// since answer or of audio, and in dB.
///
/// Deserialisable with every field optional, so a campaign's YAML can
/// tune a few (`amd: { greeting_max_ms: 2000 }`); unknown fields are
/// refused, so a misspelt threshold is an error rather than ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Longest the analysis runs before giving up as unsure. Default 5000:
    /// room for a greeting that starts late (up to `initial_silence_ms`)
    /// to be followed by `after_greeting_silence_ms` of quiet.
    pub total_analysis_ms: u32,
    /// Longest wait for the first word before deciding unsure. Default
    /// 2500: people answer within a second or two.
    pub initial_silence_ms: u32,
    /// Longest greeting a person gives, from the start of the first word
    /// to the end of the last before a pause. Default 2000: "喂，你好" or
    /// "Hello, who's this?" take about a second, but people who answer
    /// with their name ("Hello, this is Mary speaking") take nearly two,
    /// and a voicemail greeting is rarely shorter than three. 1500 decides
    /// machines half a second sooner and calls more such people machines.
    pub greeting_max_ms: u32,
    /// Quiet after a short greeting that makes it a person waiting for an
    /// answer. Default 800: longer than the pauses inside a greeting.
    pub after_greeting_silence_ms: u32,
    /// Shortest run of speech counted as a word. Default 100.
    pub min_word_ms: u32,
    /// Shortest quiet that separates two words; shorter dips are inside
    /// a word. Default 80: the closure of a stop consonant, or the gap
    /// between two syllables of one Chinese word, can last 60 ms.
    pub between_words_ms: u32,
    /// Most words a person says before pausing; one more is a machine.
    /// Default 3.
    pub max_words: u32,
    /// How far above the noise floor speech is. Default 9 dB.
    pub speech_margin_db: f32,
    /// Quietest speech, as a block's mean power. Default -48 dBFS, well
    /// below a quiet talker on a telephone line (about -35 dBFS).
    pub min_speech_dbfs: f32,
    /// How fast the noise floor climbs towards louder audio. Default
    /// 3 dB/s: slow enough that a few seconds of speech do not become the
    /// floor, fast enough that noise starting mid-call soon does.
    pub noise_floor_rise_db_per_s: f32,
    /// Lowest beep frequency. Default 800 Hz.
    pub beep_min_hz: u32,
    /// Highest beep frequency. Default 2000 Hz.
    pub beep_max_hz: u32,
    /// How long a tone must fill consecutive 20 ms blocks to be a beep.
    /// Default 120: every tone of 140 ms or more is found (a 150 ms tone
    /// fills at least six blocks however it falls), and none under 120 ms.
    pub beep_min_ms: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            total_analysis_ms: 5000,
            initial_silence_ms: 2500,
            greeting_max_ms: 2000,
            after_greeting_silence_ms: 800,
            min_word_ms: 100,
            between_words_ms: 80,
            max_words: 3,
            speech_margin_db: 9.0,
            min_speech_dbfs: -48.0,
            noise_floor_rise_db_per_s: 3.0,
            beep_min_hz: 800,
            beep_max_hz: 2000,
            beep_min_ms: 120,
        }
    }
}

/// A [`Config`] that makes no sense.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// A duration or count that must be positive is zero.
    #[error("amd: {field} must be greater than zero")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// The analysis ends before the first word may start.
    #[error("amd: total_analysis_ms ({total}) must be at least initial_silence_ms ({initial})")]
    WindowShorterThanSilence {
        /// `total_analysis_ms`.
        total: u32,
        /// `initial_silence_ms`.
        initial: u32,
    },
    /// The beep band is empty or beyond what 8 kHz audio carries.
    #[error("amd: beep band {min}..={max} Hz must be non-empty and within 100..=3900 Hz")]
    BeepBand {
        /// `beep_min_hz`.
        min: u32,
        /// `beep_max_hz`.
        max: u32,
    },
    /// A level that is not a finite number, or a margin or rate below zero.
    #[error("amd: {field} must be a finite number{}", if *.non_negative { " of at least 0" } else { "" })]
    Level {
        /// The field.
        field: &'static str,
        /// Whether it must also be at least zero.
        non_negative: bool,
    },
}

impl Config {
    /// Checks that the thresholds make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, v) in [
            ("total_analysis_ms", self.total_analysis_ms),
            ("initial_silence_ms", self.initial_silence_ms),
            ("greeting_max_ms", self.greeting_max_ms),
            ("after_greeting_silence_ms", self.after_greeting_silence_ms),
            ("min_word_ms", self.min_word_ms),
            ("max_words", self.max_words),
            ("beep_min_ms", self.beep_min_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero { field });
            }
        }
        if self.total_analysis_ms < self.initial_silence_ms {
            return Err(ConfigError::WindowShorterThanSilence {
                total: self.total_analysis_ms,
                initial: self.initial_silence_ms,
            });
        }
        if self.beep_min_hz >= self.beep_max_hz || self.beep_min_hz < 100 || self.beep_max_hz > 3900
        {
            return Err(ConfigError::BeepBand {
                min: self.beep_min_hz,
                max: self.beep_max_hz,
            });
        }
        for (field, v, non_negative) in [
            ("speech_margin_db", self.speech_margin_db, true),
            ("min_speech_dbfs", self.min_speech_dbfs, false),
            (
                "noise_floor_rise_db_per_s",
                self.noise_floor_rise_db_per_s,
                true,
            ),
        ] {
            if !v.is_finite() || (non_negative && v < 0.0) {
                return Err(ConfigError::Level {
                    field,
                    non_negative,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f32 = 8000.0;

    /// A deterministic stand-in for a voiced syllable: a 150 Hz buzz with
    /// harmonics, its loudness rising and falling over the syllable.
    fn syllable(ms: u32, peak: f32) -> Vec<i16> {
        let n = ms * 8;
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE;
                let env = (std::f32::consts::PI * i as f32 / n as f32).sin().powf(0.3);
                let buzz: f32 = (1..=12)
                    .map(|h| (2.0 * std::f32::consts::PI * 150.0 * h as f32 * t).sin() / h as f32)
                    .sum();
                (peak * env * buzz / 2.0) as i16
            })
            .collect()
    }

    /// Line hiss about 70 dB below full scale (a fixed pseudo-random
    /// sequence).
    fn quiet(ms: u32) -> Vec<i16> {
        let mut x: u32 = 0x1234_5678;
        (0..ms * 8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                ((x >> 16) as i16) / 1024
            })
            .collect()
    }

    fn tone(hz: f32, ms: u32, amp: f32) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| (amp * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE).sin()) as i16)
            .collect()
    }

    /// Words of `ms` each separated by `gap_ms` of quiet.
    fn words(n: u32, ms: u32, gap_ms: u32) -> Vec<i16> {
        let mut v = Vec::new();
        for i in 0..n {
            if i > 0 {
                v.extend(quiet(gap_ms));
            }
            v.extend(syllable(ms, 12000.0));
        }
        v
    }

    fn concat(parts: &[Vec<i16>]) -> Vec<i16> {
        parts.concat()
    }

    /// Feeds 20 ms frames from answer until a decision, then `finish`.
    fn run(d: &mut dyn Detector, audio: &[i16]) -> Decision {
        for (i, frame) in audio.chunks(BLOCK).enumerate() {
            if let Some(decision) = d.push(frame, i as u32 * 20) {
                return decision;
            }
        }
        d.finish((audio.len() / 8) as u32)
    }

    #[test]
    fn a_short_greeting_then_silence_is_human() {
        let audio = concat(&[quiet(500), syllable(350, 12000.0), quiet(3000)]);
        let d = run(&mut EnergyCadence::default(), &audio);
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        assert_eq!(d.reason, Reason::ShortGreeting);
        // The word ends at 850 ms; 800 ms of quiet later is 1650 ms.
        assert!((1640..=1680).contains(&d.at_ms), "{d:?}");
    }

    #[test]
    fn two_words_then_silence_is_human() {
        let audio = concat(&[quiet(400), words(2, 250, 150), quiet(3000)]);
        let d = run(&mut EnergyCadence::default(), &audio);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Human, Reason::ShortGreeting),
            "{d:?}"
        );
    }

    #[test]
    fn continuous_speech_beyond_the_limit_is_machine() {
        let audio = concat(&[quiet(500), syllable(4000, 12000.0), quiet(1000)]);
        let d = run(&mut EnergyCadence::default(), &audio);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Machine, Reason::LongGreeting),
            "{d:?}"
        );
        // Speech starts at 500 ms; the limit is 2000 ms after that.
        assert!((2480..=2540).contains(&d.at_ms), "{d:?}");
    }

    #[test]
    fn more_words_than_the_limit_is_machine() {
        let audio = concat(&[quiet(300), words(6, 150, 100), quiet(2000)]);
        let d = run(&mut EnergyCadence::default(), &audio);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Machine, Reason::ManyWords),
            "{d:?}"
        );
    }

    #[test]
    fn a_beep_is_found_and_timed() {
        // A greeting too short to decide, then a beep before the pause
        // would make it a person.
        let audio = concat(&[
            quiet(400),
            syllable(600, 12000.0),
            quiet(400),
            tone(1000.0, 300, 9000.0),
            quiet(1000),
        ]);
        let mut d = EnergyCadence::default();
        let decision = run(&mut d, &audio);
        assert_eq!(
            (decision.verdict, decision.reason),
            (Verdict::Machine, Reason::Beep)
        );
        let beep = d.beep().expect("a beep");
        assert_eq!(beep.start_ms, 1400);
        assert_eq!(d.beep_at(), Some(1400));
        assert!(beep.hz.abs_diff(1000) <= 5, "{beep:?}");
        // Confirmed after 120 ms of tone, in the frame from 1500 ms.
        assert_eq!(decision.at_ms, 1500);
    }

    #[test]
    fn the_beep_after_a_long_greeting_is_still_timed() {
        let audio = concat(&[
            quiet(300),
            syllable(3000, 12000.0),
            quiet(500),
            tone(850.0, 400, 9000.0),
            quiet(500),
        ]);
        let mut d = EnergyCadence::default();
        let mut decisions = Vec::new();
        for (i, frame) in audio.chunks(BLOCK).enumerate() {
            decisions.extend(d.push(frame, i as u32 * 20));
        }
        assert_eq!(decisions.len(), 1, "one decision only: {decisions:?}");
        assert_eq!(decisions[0].reason, Reason::LongGreeting);
        let beep = d.beep().expect("a beep after the decision");
        assert_eq!((beep.start_ms, beep.end_ms), (3800, Some(4200)));
        assert_eq!(d.finish(5000), decisions[0], "finish repeats the decision");
    }

    #[test]
    fn silence_is_unsure() {
        let d = run(&mut EnergyCadence::default(), &quiet(5000));
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Unsure, Reason::Silence),
            "{d:?}"
        );
        assert_eq!(
            d.at_ms, 2480,
            "decided in the frame ending at initial_silence_ms"
        );
        let d = run(&mut EnergyCadence::default(), &vec![0; 8 * 5000]);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Unsure, Reason::Silence),
            "{d:?}"
        );
    }

    #[test]
    fn steady_noise_without_speech_is_unsure() {
        // Hiss at about -31 dBFS.
        let noise: Vec<i16> = quiet(5000).iter().map(|&x| x.saturating_mul(40)).collect();
        let d = run(&mut EnergyCadence::default(), &noise);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Unsure, Reason::NoiseOnly),
            "{d:?}"
        );
    }

    #[test]
    fn decisions_are_made_with_the_time_of_the_frame() {
        // Frames arrive with a gap (lost packets): the quiet that was not
        // heard still counts as time, and the decision carries the at_ms
        // of the frame that made it, not a count of frames.
        let audio = concat(&[quiet(500), syllable(300, 12000.0), quiet(3000)]);
        let frames: Vec<&[i16]> = audio.chunks(BLOCK).collect();
        let mut d = EnergyCadence::default();
        let mut got = None;
        for (i, frame) in frames.iter().enumerate() {
            // Frames 45..=54 (900..1100 ms) are lost.
            if (45..=54).contains(&i) {
                continue;
            }
            if let Some(decision) = d.push(frame, i as u32 * 20) {
                got = Some(decision);
                break;
            }
        }
        let d = got.expect("a decision");
        assert_eq!(d.verdict, Verdict::Human);
        // Word ends at 800 ms; 800 ms later is the frame at 1580 ms.
        assert_eq!(d.at_ms, 1580);
    }

    #[test]
    fn finish_decides_unsure_from_what_was_heard() {
        let mut d = EnergyCadence::default();
        let audio = concat(&[quiet(300), syllable(400, 12000.0), quiet(200)]);
        for (i, f) in audio.chunks(BLOCK).enumerate() {
            assert_eq!(d.push(f, i as u32 * 20), None);
        }
        let got = d.finish(900);
        assert_eq!(
            got,
            Decision {
                verdict: Verdict::Unsure,
                at_ms: 900,
                reason: Reason::TimeUp
            }
        );
        assert_eq!(d.push(&quiet(20), 900), None, "no second decision");
    }

    #[test]
    fn a_late_greeting_that_never_pauses_in_time_is_unsure() {
        let cfg = Config {
            total_analysis_ms: 3000,
            ..Config::default()
        };
        let audio = concat(&[quiet(2400), syllable(500, 12000.0), quiet(2000)]);
        let d = run(&mut EnergyCadence::new(cfg), &audio);
        assert_eq!(
            (d.verdict, d.reason, d.at_ms),
            (Verdict::Unsure, Reason::TimeUp, 2980)
        );
    }

    #[test]
    fn the_decision_does_not_depend_on_frame_size() {
        let audio = concat(&[quiet(500), words(2, 200, 120), quiet(3000)]);
        let by_20ms = run(&mut EnergyCadence::default(), &audio);
        let mut d = EnergyCadence::default();
        let mut by_10ms = None;
        for (i, f) in audio.chunks(80).enumerate() {
            if let Some(x) = d.push(f, i as u32 * 10) {
                by_10ms = Some(x);
                break;
            }
        }
        let by_10ms = by_10ms.expect("a decision");
        assert_eq!(
            (by_10ms.verdict, by_10ms.reason),
            (by_20ms.verdict, by_20ms.reason)
        );
        // The 10 ms frame that completes the deciding block starts 10 ms
        // after the 20 ms frame that holds it.
        assert_eq!(by_10ms.at_ms, by_20ms.at_ms + 10);
    }

    #[test]
    fn detectors_are_interchangeable_behind_the_trait() {
        let mut boxed: Box<dyn Detector> = Box::new(EnergyCadence::default());
        let d = run(boxed.as_mut(), &quiet(3000));
        assert_eq!(d.verdict, Verdict::Unsure);
        assert_eq!(boxed.beep(), None);
    }

    #[test]
    fn config_is_partly_given_and_misspellings_are_refused() {
        use serde::de::value::{Error as ValueError, MapDeserializer};

        let map = MapDeserializer::<_, ValueError>::new(
            [("greeting_max_ms", 2000u32), ("max_words", 4)].into_iter(),
        );
        let cfg = Config::deserialize(map).expect("valid");
        assert_eq!(
            cfg,
            Config {
                greeting_max_ms: 2000,
                max_words: 4,
                ..Config::default()
            }
        );
        let map = MapDeserializer::<_, ValueError>::new([("greeting_max", 2000u32)].into_iter());
        let err = Config::deserialize(map).expect_err("unknown field");
        assert!(err.to_string().contains("greeting_max"), "{err}");
    }

    #[test]
    fn config_validation_names_the_bad_threshold() {
        assert_eq!(Config::default().validate(), Ok(()));
        let bad = Config {
            min_word_ms: 0,
            ..Config::default()
        };
        assert_eq!(
            bad.validate(),
            Err(ConfigError::Zero {
                field: "min_word_ms"
            })
        );
        let bad = Config {
            beep_min_hz: 2500,
            ..Config::default()
        };
        assert!(matches!(bad.validate(), Err(ConfigError::BeepBand { .. })));
        let bad = Config {
            speech_margin_db: f32::NAN,
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}
