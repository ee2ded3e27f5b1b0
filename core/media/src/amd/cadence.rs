//! [`EnergyCadence`]: the built-in detector. The rules are described in
//! the module documentation of [`crate::amd`].

use super::beep::{BeepEvent, BeepTracker};
use super::blocks::{BLOCK, BLOCK_MS, Blocks, for_each_block};
use super::level::{SpeechLevel, block_dbfs};
use super::{Beep, Config, Decision, Detector, Reason, Verdict};

/// A noise floor above this (dBFS) makes "nothing said" noise rather than
/// silence. It only chooses between [`Reason::Silence`] and
/// [`Reason::NoiseOnly`]: both are [`Verdict::Unsure`].
const NOISE_DBFS: f32 = -60.0;

/// Splits speech blocks into words: runs of speech, with gaps shorter
/// than `between_words_ms` bridged, lasting at least `min_word_ms`.
#[derive(Debug, Clone, Default)]
struct Words {
    /// Start of the current run of speech.
    run_start_ms: Option<u32>,
    /// Whether the current run has already been counted as a word.
    run_counted: bool,
    /// End of the last speech block.
    last_speech_end_ms: Option<u32>,
}

impl Words {
    /// Takes one block; returns the start of a word when this block makes
    /// the current run long enough to be one.
    fn block(&mut self, start_ms: u32, speech: bool, config: &Config) -> Option<u32> {
        if !speech {
            return None;
        }
        let end_ms = start_ms.saturating_add(BLOCK_MS);
        let run_start = match (self.run_start_ms, self.last_speech_end_ms) {
            (Some(run), Some(end)) if start_ms.saturating_sub(end) < config.between_words_ms => run,
            _ => {
                self.run_counted = false;
                start_ms
            }
        };
        self.run_start_ms = Some(run_start);
        self.last_speech_end_ms = Some(end_ms);
        if !self.run_counted && end_ms.saturating_sub(run_start) >= config.min_word_ms {
            self.run_counted = true;
            return Some(run_start);
        }
        None
    }
}

/// Where the cadence analysis is, named for what it waits for.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Nobody has said a word yet.
    ExpectGreeting,
    /// Someone is talking: waiting for the pause that ends the greeting,
    /// or for the greeting to run too long.
    InGreeting {
        /// Start of its first word.
        start_ms: u32,
        /// Words so far.
        words: u32,
    },
    /// Decided; the detector now only listens for beeps.
    Decided(Decision),
}

/// The built-in detector: energy voice activity with an adaptive noise
/// floor, cadence rules over the words it finds, and a beep detector.
///
/// Feed it every frame from answer with [`Detector::push`]; it returns a
/// [`Decision`] once, after which it keeps listening for a beep (see
/// [`EnergyCadence::beep`]) so a campaign can start its message after
/// the beep of a machine it has already recognised.
#[derive(Debug, Clone)]
pub struct EnergyCadence {
    config: Config,
    blocks: Blocks,
    level: SpeechLevel,
    words: Words,
    beep: BeepTracker,
    state: State,
}

impl Default for EnergyCadence {
    fn default() -> Self {
        EnergyCadence::new(Config::default())
    }
}

impl EnergyCadence {
    /// A detector with the given thresholds. Any values are accepted (the
    /// detector never panics); [`Config::validate`] says which make no
    /// sense.
    pub fn new(config: Config) -> EnergyCadence {
        EnergyCadence {
            blocks: Blocks::new(),
            level: SpeechLevel::new(&config),
            words: Words::default(),
            beep: BeepTracker::new(&config),
            state: State::ExpectGreeting,
            config,
        }
    }

    /// The thresholds in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The decision, once made.
    pub fn decision(&self) -> Option<Decision> {
        match self.state {
            State::Decided(d) => Some(d),
            _ => None,
        }
    }

    /// The latest beep heard (before or after the decision), with its end
    /// once it has ended.
    pub fn beep(&self) -> Option<Beep> {
        self.beep.last()
    }

    /// Start of the latest beep heard, in ms since answer.
    pub fn beep_at(&self) -> Option<u32> {
        self.beep.last().map(|b| b.start_ms)
    }

    /// Analyses one block; returns the verdict and reason if it decides.
    fn block(&mut self, block: &[i16; BLOCK], start_ms: u32) -> Option<(Verdict, Reason)> {
        let end_ms = start_ms.saturating_add(BLOCK_MS);
        let beep = self.beep.block(block, start_ms);
        if matches!(self.state, State::Decided(_)) {
            return None;
        }
        if let Some(BeepEvent::Confirmed(_)) = beep {
            return Some((Verdict::Machine, Reason::Beep));
        }
        let speech = self.level.is_speech(block_dbfs(block));
        let word = self.words.block(start_ms, speech, &self.config);
        let cfg = &self.config;

        if let (State::ExpectGreeting, Some(start_ms)) = (self.state, word) {
            self.state = State::InGreeting { start_ms, words: 0 };
        }
        match &mut self.state {
            State::ExpectGreeting => {
                if end_ms >= cfg.initial_silence_ms {
                    return Some((Verdict::Unsure, self.nothing_said()));
                }
            }
            State::InGreeting { start_ms, words } => {
                if word.is_some() {
                    *words += 1;
                }
                let last_speech = self.words.last_speech_end_ms.unwrap_or(*start_ms);
                if *words > cfg.max_words {
                    return Some((Verdict::Machine, Reason::ManyWords));
                }
                if last_speech.saturating_sub(*start_ms) > cfg.greeting_max_ms {
                    return Some((Verdict::Machine, Reason::LongGreeting));
                }
                if end_ms.saturating_sub(last_speech) >= cfg.after_greeting_silence_ms {
                    return Some((Verdict::Human, Reason::ShortGreeting));
                }
            }
            State::Decided(_) => {}
        }
        if end_ms >= cfg.total_analysis_ms {
            return Some((Verdict::Unsure, Reason::TimeUp));
        }
        None
    }

    /// Why nothing was said: silence, or noise without words.
    fn nothing_said(&self) -> Reason {
        match self.level.floor_dbfs() {
            Some(f) if f > NOISE_DBFS => Reason::NoiseOnly,
            _ => Reason::Silence,
        }
    }
}

impl Detector for EnergyCadence {
    fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Decision> {
        let was_decided = matches!(self.state, State::Decided(_));
        let mut decided = None;
        let mut blocks = std::mem::replace(&mut self.blocks, Blocks::new());
        for_each_block(&mut blocks, frame, at_ms, |block, start_ms| {
            if let Some((verdict, reason)) = self.block(block, start_ms) {
                let d = Decision {
                    verdict,
                    at_ms,
                    reason,
                };
                self.state = State::Decided(d);
                decided = Some(d);
            }
        });
        self.blocks = blocks;
        if was_decided { None } else { decided }
    }

    fn finish(&mut self, at_ms: u32) -> Decision {
        let d = match self.state {
            State::Decided(d) => return d,
            State::ExpectGreeting => Decision {
                verdict: Verdict::Unsure,
                at_ms,
                reason: self.nothing_said(),
            },
            State::InGreeting { .. } => Decision {
                verdict: Verdict::Unsure,
                at_ms,
                reason: Reason::TimeUp,
            },
        };
        self.state = State::Decided(d);
        d
    }

    fn beep(&self) -> Option<Beep> {
        EnergyCadence::beep(self)
    }
}
