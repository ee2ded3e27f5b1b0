//! The voicemail beep: a steady tone, found block by block.
//!
//! Each 20 ms block is a candidate tone when it is loud enough, its zero
//! crossings put its frequency inside the configured band, and a Goertzel
//! filter tuned to exactly that frequency holds most of the block's
//! energy. Estimating the frequency first and checking it with a single
//! filter costs two passes over the block, where a filter bank fine
//! enough to catch any beep between 800 and 2000 Hz would need dozens.
//! Speech fails the energy share (a vowel spreads over many harmonics);
//! noise fails it too; DTMF and ringback (two tones) hold about half.
//!
//! A beep is consecutive tone blocks at the same frequency lasting
//! [`Config::beep_min_ms`]; it ends at the first block that is not that
//! tone.

use super::blocks::{BLOCK, BLOCK_MS, Blocks, for_each_block};
use super::{Beep, Config};

/// Share of a block's energy the tone must hold. A tone covering a
/// fraction `c` of the block scores about `c`, so blocks where the beep
/// starts or stops pass only if it fills most of them.
const MIN_TONE_SHARE: f32 = 0.7;
/// Quietest tone accepted, as a block's mean power in dBFS.
const MIN_TONE_DBFS: f32 = -45.0;
/// Consecutive tone blocks belong to one beep if their frequencies differ
/// by less than this (Hz): about the block's resolution, far more than the
/// zero-crossing estimate wanders on a steady tone.
const SAME_TONE_HZ: f32 = 40.0;

const RATE: f32 = 8000.0;
/// Full-scale power: a block of ±32768 square wave.
const FULL_SCALE_POWER: f32 = 32768.0 * 32768.0;

/// What one block told the beep tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BeepEvent {
    /// A tone has now lasted long enough to be a beep.
    Confirmed(Beep),
    /// The confirmed beep stopped.
    Ended(Beep),
}

/// A run of tone blocks.
#[derive(Debug, Clone, Copy)]
struct Run {
    start_ms: u32,
    hz: f32,
    blocks: u32,
    confirmed: bool,
}

/// Finds beeps in blocks (the part [`super::EnergyCadence`] shares).
#[derive(Debug, Clone)]
pub(crate) struct BeepTracker {
    min_hz: f32,
    max_hz: f32,
    min_blocks: u32,
    run: Option<Run>,
    last: Option<Beep>,
}

impl BeepTracker {
    pub(crate) fn new(config: &Config) -> BeepTracker {
        BeepTracker {
            min_hz: config.beep_min_hz as f32,
            max_hz: config.beep_max_hz as f32,
            // At least two blocks, so that one block never both ends a
            // beep and confirms the next.
            min_blocks: config.beep_min_ms.div_ceil(BLOCK_MS).max(2),
            run: None,
            last: None,
        }
    }

    /// The latest beep confirmed, with its end once it has ended.
    pub(crate) fn last(&self) -> Option<Beep> {
        self.last
    }

    /// Analyses one block whose first sample was heard at `start_ms`.
    pub(crate) fn block(&mut self, block: &[i16; BLOCK], start_ms: u32) -> Option<BeepEvent> {
        let tone = tone_in(block, self.min_hz, self.max_hz);
        let continues = matches!(
            (&self.run, tone),
            (Some(run), Some(hz)) if (hz - run.hz).abs() < SAME_TONE_HZ
        );
        if !continues {
            let ended = self.run.take().filter(|r| r.confirmed);
            self.run = tone.map(|hz| Run {
                start_ms,
                hz,
                blocks: 0,
                confirmed: false,
            });
            if let Some(r) = ended {
                let beep = Beep {
                    start_ms: r.start_ms,
                    end_ms: Some(start_ms),
                    hz: r.hz.round() as u32,
                };
                self.last = Some(beep);
                // A new run has one block, short of `min_blocks`, so
                // it cannot be confirmed in this same block.
                if let Some(run) = self.run.as_mut() {
                    run.blocks = 1;
                }
                return Some(BeepEvent::Ended(beep));
            }
        }
        let run = self.run.as_mut()?;
        if let Some(hz) = tone {
            // Running mean of the block estimates.
            run.hz += (hz - run.hz) / (run.blocks + 1) as f32;
        }
        run.blocks += 1;
        if run.confirmed || run.blocks < self.min_blocks {
            return None;
        }
        run.confirmed = true;
        let beep = Beep {
            start_ms: run.start_ms,
            end_ms: None,
            hz: run.hz.round() as u32,
        };
        self.last = Some(beep);
        Some(BeepEvent::Confirmed(beep))
    }
}

/// The frequency of the steady tone filling `block`, if there is one in
/// `min_hz..=max_hz`.
fn tone_in(block: &[i16; BLOCK], min_hz: f32, max_hz: f32) -> Option<f32> {
    let n = BLOCK as f32;
    let mean = block.iter().map(|&x| f32::from(x)).sum::<f32>() / n;
    let energy: f32 = block
        .iter()
        .map(|&x| {
            let v = f32::from(x) - mean;
            v * v
        })
        .sum();
    let power = energy / n;
    if power <= 0.0 || 10.0 * (power / FULL_SCALE_POWER).log10() < MIN_TONE_DBFS {
        return None;
    }

    // Zero crossings, placed between samples by linear interpolation:
    // half a period apart on a steady tone.
    let mut first = None;
    let mut last = 0.0f32;
    let mut crossings = 0u32;
    let mut prev = f32::from(block[0]) - mean;
    for (i, &x) in block.iter().enumerate().skip(1) {
        let cur = f32::from(x) - mean;
        if (prev < 0.0) != (cur < 0.0) {
            let at = (i - 1) as f32 + prev / (prev - cur);
            first.get_or_insert(at);
            last = at;
            crossings += 1;
        }
        prev = cur;
    }
    let first = first?;
    if crossings < 3 || last <= first {
        return None;
    }
    let hz = (crossings - 1) as f32 / 2.0 / (last - first) * RATE;
    if !(min_hz..=max_hz).contains(&hz) {
        return None;
    }

    // Goertzel at that frequency. A sine of amplitude A fills
    // |X|^2 = (A n / 2)^2 of a block whose energy is n A^2 / 2.
    let coeff = 2.0 * (2.0 * std::f32::consts::PI * hz / RATE).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in block {
        let s = f32::from(x) - mean + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let tone = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    let share = 2.0 * tone / (n * energy);
    (share >= MIN_TONE_SHARE).then_some(hz)
}

/// Finds voicemail beeps on its own: for a campaign that already knows it
/// reached a machine and waits for the beep to start its message.
///
/// Feed it the audio with the time of each frame. Each beep is reported
/// twice: once it has lasted [`Config::beep_min_ms`] (with `end_ms`
/// `None`), and when it stops (with `end_ms`), which is when a message
/// should start.
#[derive(Debug, Clone)]
pub struct BeepDetector {
    blocks: Blocks,
    tracker: BeepTracker,
}

impl BeepDetector {
    /// A detector using the beep settings of `config`.
    pub fn new(config: &Config) -> BeepDetector {
        BeepDetector {
            blocks: Blocks::new(),
            tracker: BeepTracker::new(config),
        }
    }

    /// Feeds a frame (any length; 160 samples is usual) heard from `at_ms`.
    /// Returns the last beep event the frame completed, if any.
    pub fn push(&mut self, frame: &[i16], at_ms: u32) -> Option<Beep> {
        let mut found = None;
        let tracker = &mut self.tracker;
        for_each_block(&mut self.blocks, frame, at_ms, |block, start| {
            if let Some(BeepEvent::Confirmed(b) | BeepEvent::Ended(b)) = tracker.block(block, start)
            {
                found = Some(b);
            }
        });
        found
    }

    /// The latest beep, with its end once it has ended.
    pub fn beep(&self) -> Option<Beep> {
        self.tracker.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f32, ms: u32, amp: f32) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| (amp * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE).sin()) as i16)
            .collect()
    }

    fn feed(d: &mut BeepDetector, audio: &[i16]) -> Vec<Beep> {
        audio
            .chunks(BLOCK)
            .enumerate()
            .filter_map(|(i, f)| d.push(f, i as u32 * BLOCK_MS))
            .collect()
    }

    #[test]
    fn a_beep_is_reported_when_confirmed_and_when_it_ends() {
        let mut audio = vec![0i16; 8 * 1000];
        audio.extend(sine(1000.0, 300, 8000.0));
        audio.extend(vec![0i16; 8 * 500]);
        let mut d = BeepDetector::new(&Config::default());
        let got = feed(&mut d, &audio);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].start_ms, 1000);
        assert_eq!(got[0].end_ms, None);
        assert_eq!(got[1].start_ms, 1000);
        assert_eq!(got[1].end_ms, Some(1300));
        assert!(got[1].hz.abs_diff(1000) <= 5, "{}", got[1].hz);
        assert_eq!(d.beep(), Some(got[1]));
    }

    #[test]
    fn tones_outside_the_band_or_too_short_are_not_beeps() {
        for (hz, ms) in [(440.0, 500), (2600.0, 500), (1000.0, 80)] {
            let mut audio = sine(hz, ms, 8000.0);
            audio.extend(vec![0i16; 8 * 200]);
            let mut d = BeepDetector::new(&Config::default());
            assert_eq!(feed(&mut d, &audio), [], "{hz} Hz for {ms} ms");
        }
    }

    #[test]
    fn two_tones_at_once_are_not_a_beep() {
        let a = sine(941.0, 400, 6000.0);
        let b = sine(1336.0, 400, 6000.0);
        let audio: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let mut d = BeepDetector::new(&Config::default());
        assert_eq!(feed(&mut d, &audio), []);
    }

    #[test]
    fn a_beep_at_every_offset_within_a_block_is_found() {
        for offset in (0..160).step_by(20) {
            let mut audio = vec![0i16; 800 + offset];
            audio.extend(sine(1400.0, 150, 4000.0));
            audio.extend(vec![0i16; 800]);
            let mut d = BeepDetector::new(&Config::default());
            let got = feed(&mut d, &audio);
            assert_eq!(got.len(), 2, "offset {offset}: {got:?}");
            let start = (800 + offset) as u32 / 8;
            assert!(
                got[0].start_ms.abs_diff(start) <= BLOCK_MS,
                "offset {offset}: {got:?}"
            );
        }
    }
}
