//! The player concatenates items sample-exactly, pads only the end, tells
//! silence from audio, stops on barge-in, and its encoded fast path sends
//! the same bytes as encoding the samples.

use std::sync::Arc;

use waihu_media::g711::Law;
use waihu_media::player::{FRAME_SAMPLES, Frame, Item, Player};
use waihu_media::prompt::Prompt;
use waihu_media::tone::{ToneKind, ToneRegion, generate};

fn prompt(name: &str, len: usize, base: i16) -> Arc<Prompt> {
    let samples = (0..len).map(|i| base.wrapping_add(i as i16) | 1).collect();
    Arc::new(Prompt::from_samples(name, samples))
}

/// Plays to the end, returning the samples and the frame kinds.
fn drain(player: &mut Player) -> (Vec<i16>, Vec<Frame>) {
    let mut all = Vec::new();
    let mut kinds = Vec::new();
    let mut buf = [0i16; FRAME_SAMPLES];
    for _ in 0..10_000 {
        let f = player.next_frame(&mut buf);
        kinds.push(f);
        if f == Frame::Done {
            assert!(buf.iter().all(|&s| s == 0));
            return (all, kinds);
        }
        all.extend_from_slice(&buf);
    }
    panic!("never done");
}

#[test]
fn items_are_concatenated_sample_exactly_and_only_the_end_is_padded() {
    let a = prompt("a", 1_000, 100);
    let b = prompt("b", 333, -5_000);
    let c = prompt("c", 7, 9_000);
    let mut player = Player::new(vec![
        Item::Prompt(a.clone()),
        Item::Prompt(b.clone()),
        Item::Prompt(c.clone()),
    ]);
    assert_eq!(player.remaining_samples(), 1_340);
    let (out, kinds) = drain(&mut player);
    let mut want: Vec<i16> = [a.samples(), b.samples(), c.samples()].concat();
    assert_eq!(&out[..want.len()], &want[..]);
    // 1340 samples = 8 full frames + 60: one padded frame, then done.
    assert_eq!(out.len(), 9 * FRAME_SAMPLES);
    want.resize(out.len(), 0);
    assert_eq!(out, want);
    assert_eq!(kinds.len(), 10);
    assert!(kinds[..9].iter().all(|&k| k == Frame::Audio));
    assert_eq!(kinds[9], Frame::Done);
    assert_eq!(player.position_samples(), 1_340);
    assert_eq!(player.remaining_samples(), 0);
    assert!(player.is_done());
}

#[test]
fn silence_items_are_reported_as_silence_and_zero_length_items_vanish() {
    let a = prompt("a", 200, 50);
    let mut player = Player::new(vec![
        Item::Silence { ms: 0 },
        Item::Prompt(a.clone()),
        Item::Silence { ms: 60 },
        Item::Tone {
            kind: ToneKind::Silence,
            ms: 20,
        },
        Item::Prompt(Arc::new(Prompt::from_samples("empty", Vec::new()))),
        Item::Tone {
            kind: ToneKind::Busy(ToneRegion::China),
            ms: 20,
        },
    ]);
    assert_eq!(player.remaining().as_millis(), 25 + 60 + 20 + 20);
    let (out, kinds) = drain(&mut player);
    // 200 prompt + 480 + 160 silence + 160 tone = 1000 samples -> 7 frames.
    assert_eq!(
        kinds,
        [
            Frame::Audio,
            Frame::Audio,
            Frame::Silence,
            Frame::Silence,
            Frame::Silence,
            Frame::Audio,
            Frame::Audio,
            Frame::Done
        ]
    );
    assert_eq!(&out[..200], a.samples());
    assert!(out[200..840].iter().all(|&s| s == 0));
    assert_eq!(
        &out[840..1_000],
        &generate(ToneKind::Busy(ToneRegion::China), 160)[..]
    );
    assert!(out[1_000..].iter().all(|&s| s == 0));
}

#[test]
fn stop_is_immediate_barge_in() {
    let a = prompt("a", 8_000, 0);
    let mut player = Player::new(vec![Item::Prompt(a), Item::Silence { ms: 500 }]);
    let mut buf = [0i16; FRAME_SAMPLES];
    for _ in 0..3 {
        assert_eq!(player.next_frame(&mut buf), Frame::Audio);
    }
    assert_eq!(player.position().as_millis(), 60);
    player.stop();
    assert!(player.is_done());
    assert_eq!(player.remaining_samples(), 0);
    assert_eq!(player.next_frame(&mut buf), Frame::Done);
    assert!(buf.iter().all(|&s| s == 0));
    let mut enc = [0u8; FRAME_SAMPLES];
    assert_eq!(player.next_encoded(Law::Alaw, &mut enc), Frame::Done);
    assert_eq!(player.position_samples(), 480);
}

#[test]
fn encoded_frames_equal_encoding_the_pcm_frames_for_both_laws() {
    for law in [Law::Ulaw, Law::Alaw] {
        let items = vec![
            Item::Prompt(prompt("a", 1_000, 3_000)),
            Item::Silence { ms: 30 },
            Item::Prompt(prompt("b", 500, -7_000)),
            Item::Tone {
                kind: ToneKind::Ringback(ToneRegion::NorthAmerica),
                ms: 50,
            },
        ];
        let mut pcm_player = Player::new(items.clone());
        let mut enc_player = Player::new(items);
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut enc = [0u8; FRAME_SAMPLES];
        loop {
            let f1 = pcm_player.next_frame(&mut pcm);
            let f2 = enc_player.next_encoded(law, &mut enc);
            assert_eq!(f1, f2);
            let mut want = Vec::new();
            law.encode(&pcm, &mut want);
            assert_eq!(&enc[..], &want[..], "{law:?}");
            assert_eq!(pcm_player.position_samples(), enc_player.position_samples());
            if f1 == Frame::Done {
                break;
            }
        }
    }
}

#[test]
fn pushing_after_the_end_plays_the_new_item() {
    let mut player = Player::new(Vec::new());
    let mut buf = [0i16; FRAME_SAMPLES];
    assert_eq!(player.next_frame(&mut buf), Frame::Done);
    player.push(Item::Prompt(prompt("late", 160, 1)));
    assert_eq!(player.next_frame(&mut buf), Frame::Audio);
    assert_eq!(player.next_frame(&mut buf), Frame::Done);
}
