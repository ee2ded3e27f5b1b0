//! How many 20 ms frames per second the answering-machine detectors get
//! through on one core: `cargo bench -p waihu-media --bench amd`.
//!
//! Each input is played from answer through a fresh detector, again and
//! again, so the cost includes the cadence analysis before the decision
//! and the beep listening after it. One call needs 50 frames a second.
// The runtime's side of the line: this bench reads the wall clock to time
// the media core, which itself never does.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use waihu_media::amd::{BLOCK, BeepDetector, Config, Detector, EnergyCadence};

const RATE: f32 = 8000.0;
/// How long each row measures.
const BUDGET: Duration = Duration::from_millis(1500);

fn hiss(ms: u32, shift: u32) -> Vec<i16> {
    let mut x: u32 = 0x9e37_79b9;
    (0..ms * 8)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x >> 16) as i16) >> shift
        })
        .collect()
}

fn tone(hz: f32, ms: u32) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE).sin()) as i16)
        .collect()
}

fn clip(name: &str) -> Option<Vec<i16>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/amd/clips")
        .join(name);
    let mut reader = hound::WavReader::open(path).ok()?;
    reader.samples::<i16>().collect::<Result<_, _>>().ok()
}

/// Frames per second through `run`, which plays `audio` once.
fn measure(audio: &[i16], mut run: impl FnMut(&[i16]) -> usize) -> f64 {
    let frames_per_pass = audio.len().div_ceil(BLOCK);
    let start = Instant::now();
    let mut frames = 0usize;
    while start.elapsed() < BUDGET {
        black_box(run(black_box(audio)));
        frames += frames_per_pass;
    }
    frames as f64 / start.elapsed().as_secs_f64()
}

fn energy_cadence(audio: &[i16]) -> usize {
    let mut d = EnergyCadence::new(Config::default());
    let mut decided = 0;
    for (i, frame) in audio.chunks(BLOCK).enumerate() {
        if d.push(frame, i as u32 * 20).is_some() {
            decided += 1;
        }
    }
    decided
}

fn beep_only(audio: &[i16]) -> usize {
    let mut d = BeepDetector::new(&Config::default());
    audio
        .chunks(BLOCK)
        .enumerate()
        .filter(|(i, frame)| d.push(frame, *i as u32 * 20).is_some())
        .count()
}

fn main() {
    let mut inputs: Vec<(&str, Vec<i16>)> = vec![
        ("silence, 5 s", vec![0; 8 * 5000]),
        ("line hiss, 5 s", hiss(5000, 10)),
        ("loud noise, 5 s", hiss(5000, 2)),
        ("1 kHz tone, 5 s", tone(1000.0, 5000)),
    ];
    for name in ["h02_zh_wei_nihao.wav", "m02_en_david_chen_beep.wav"] {
        match clip(name) {
            Some(samples) => inputs.push((name, samples)),
            None => eprintln!("{name}: not found, skipped"),
        }
    }

    println!("| input | detector | frames/s | calls per core |");
    println!("|---|---|---:|---:|");
    for (name, audio) in &inputs {
        for (detector, fps) in [
            ("EnergyCadence", measure(audio, energy_cadence)),
            ("BeepDetector", measure(audio, beep_only)),
        ] {
            println!("| {name} | {detector} | {fps:.0} | {:.0} |", fps / 50.0);
        }
    }
}
