//! Energy voice activity: is a block louder than the line's own noise by
//! enough to be someone speaking?
//!
//! The noise floor follows the quietest blocks: it drops quickly to a
//! quieter block and climbs slowly (`noise_floor_rise_db_per_s`) towards
//! louder ones. Speech always has short dips between syllables and words,
//! which pull the floor back down, so the floor stays at the line's noise
//! while someone talks; steady noise with nobody talking becomes the floor
//! within the first blocks when it is there from the start, or within
//! seconds when it starts later.

use super::Config;
use super::blocks::{BLOCK, BLOCK_MS};

/// Power of a full-scale square wave over a block, for dBFS.
const FULL_SCALE_POWER: f64 = 32768.0 * 32768.0;
/// Quietest level considered, so digital silence has a finite level.
const MIN_DBFS: f32 = -100.0;
/// How far the floor moves towards a quieter block, per block: half way,
/// so one unusually quiet block in noise does not drag it all the way.
const FALL: f32 = 0.5;

/// Mean power of a block in dBFS.
pub(crate) fn block_dbfs(block: &[i16; BLOCK]) -> f32 {
    let sum: i64 = block.iter().map(|&x| i64::from(x) * i64::from(x)).sum();
    let power = sum as f64 / BLOCK as f64 / FULL_SCALE_POWER;
    if power <= 0.0 {
        return MIN_DBFS;
    }
    ((10.0 * power.log10()) as f32).max(MIN_DBFS)
}

/// The adaptive noise floor and the speech decision against it.
#[derive(Debug, Clone)]
pub(crate) struct SpeechLevel {
    floor_dbfs: Option<f32>,
    margin_db: f32,
    min_speech_dbfs: f32,
    rise_per_block_db: f32,
}

impl SpeechLevel {
    pub(crate) fn new(config: &Config) -> SpeechLevel {
        SpeechLevel {
            floor_dbfs: None,
            margin_db: config.speech_margin_db,
            min_speech_dbfs: config.min_speech_dbfs,
            rise_per_block_db: config.noise_floor_rise_db_per_s * BLOCK_MS as f32 / 1000.0,
        }
    }

    /// The noise floor so far, in dBFS (`None` before the first block).
    pub(crate) fn floor_dbfs(&self) -> Option<f32> {
        self.floor_dbfs
    }

    /// Whether a block at `dbfs` is speech; then lets the floor follow it.
    pub(crate) fn is_speech(&mut self, dbfs: f32) -> bool {
        let Some(floor) = self.floor_dbfs else {
            // The first block only sets the floor: with nothing to compare
            // it against it cannot be told from noise.
            self.floor_dbfs = Some(dbfs);
            return false;
        };
        let speech = dbfs >= floor + self.margin_db && dbfs >= self.min_speech_dbfs;
        let next = if dbfs < floor {
            floor + (dbfs - floor) * FALL
        } else {
            (floor + self.rise_per_block_db).min(dbfs)
        };
        self.floor_dbfs = Some(next);
        speech
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_of_full_scale_and_silence() {
        assert!((block_dbfs(&[i16::MAX; BLOCK])).abs() < 0.01);
        assert_eq!(block_dbfs(&[0; BLOCK]), MIN_DBFS);
    }

    #[test]
    fn steady_noise_is_not_speech_and_speech_over_it_is() {
        let mut l = SpeechLevel::new(&Config::default());
        for _ in 0..50 {
            assert!(!l.is_speech(-40.0));
        }
        assert!(l.is_speech(-20.0));
        assert!(!l.is_speech(-38.0));
    }

    #[test]
    fn noise_starting_later_becomes_the_floor() {
        let mut l = SpeechLevel::new(&Config::default());
        for _ in 0..10 {
            l.is_speech(-70.0);
        }
        let secs_to_quiet = (0..1000).position(|_| !l.is_speech(-35.0)).unwrap_or(1000);
        // 35 dB minus the margin, climbed at the configured rate.
        let cfg = Config::default();
        let expected = (35.0 - cfg.speech_margin_db) / cfg.noise_floor_rise_db_per_s * 50.0;
        assert!(
            (secs_to_quiet as f32 - expected).abs() <= 2.0,
            "{secs_to_quiet} blocks"
        );
    }
}
