//! The shipped `scripts/route.lua` walked through a fake coordinator: each
//! extension of the demo gives the commands the docs promise.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use common::coordinator::Fake;
use waihu_call::{
    Command, DialOutcome, DigitsEnd, HangupCause, PlayItem, RecordMode, Tone, ToneRegion,
};
use waihu_script::{CallInfo, HostConfig, NoServices, ScriptHost, Version};

fn version() -> Arc<Version> {
    static HOST: OnceLock<ScriptHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
        let config = HostConfig {
            dir,
            ..HostConfig::default()
        };
        ScriptHost::load(config, Arc::new(NoServices))
            .unwrap_or_else(|e| panic!("the shipped scripts load: {e}"))
    })
    .current()
}

fn walk(to: &str, fake: &mut Fake) -> (Vec<Command>, waihu_script::Route) {
    let info = CallInfo {
        id: 42,
        from: "1000".into(),
        to: to.into(),
        ..CallInfo::default()
    };
    let mut route = version().start_route(info).unwrap();
    let commands = fake.drive(&mut route).unwrap();
    (commands, route)
}

fn prompt(name: &str) -> PlayItem {
    PlayItem::Prompt { name: name.into() }
}

fn play(names: &[&str], barge_in: bool) -> Command {
    Command::Play {
        items: names.iter().map(|n| prompt(n)).collect(),
        barge_in,
    }
}

fn hangup(cause: HangupCause) -> Command {
    Command::Hangup { cause }
}

#[test]
fn shipped_scripts_define_route() {
    assert!(version().has_route());
}

#[test]
fn echo_test_600() {
    let (cmds, _) = walk("600", &mut Fake::default());
    assert_eq!(
        cmds,
        [
            Command::Answer,
            play(&["en/echo_intro"], false),
            Command::Echo,
            hangup(HangupCause::Normal)
        ]
    );
}

#[test]
fn playback_601_plays_welcome_then_goodbye() {
    let (cmds, _) = walk("sip:601@pbx.example", &mut Fake::default());
    assert_eq!(
        cmds,
        [
            Command::Answer,
            play(&["en/welcome", "en/goodbye"], false),
            hangup(HangupCause::Normal)
        ]
    );
}

#[test]
fn digits_readback_602() {
    let mut fake = Fake::default().digits("407", DigitsEnd::Terminator);
    let (cmds, route) = walk("602", &mut fake);
    assert_eq!(
        cmds,
        [
            Command::Answer,
            play(&["en/enter_digits"], true),
            Command::ReadDigits {
                max: 20,
                timeout_ms: 5000,
                terminator: Some('#')
            },
            Command::SetVar {
                name: "digits".into(),
                value: "407".into()
            },
            play(
                &[
                    "en/you_entered",
                    "en/digits/4",
                    "en/digits/0",
                    "en/digits/7"
                ],
                false
            ),
            play(&["en/goodbye"], false),
            hangup(HangupCause::Normal),
        ]
    );
    assert_eq!(route.vars().get("digits").map(String::as_str), Some("407"));
}

#[test]
fn recording_603() {
    let mut fake = Fake::default().digits("", DigitsEnd::Terminator);
    let (cmds, _) = walk("603", &mut fake);
    assert_eq!(
        cmds,
        [
            Command::Answer,
            Command::Play {
                items: vec![
                    prompt("en/record_intro"),
                    PlayItem::Tone {
                        tone: Tone::Ringback(ToneRegion::China),
                        ms: 400
                    },
                ],
                barge_in: false,
            },
            Command::Record {
                file: "test-42.wav".into(),
                mode: RecordMode::Stereo
            },
            Command::ReadDigits {
                max: 1,
                timeout_ms: 10_000,
                terminator: Some('#')
            },
            Command::StopRecord,
            play(&["en/goodbye"], false),
            hangup(HangupCause::Normal),
        ]
    );
}

#[test]
fn menu_700_branches_to_the_echo_test() {
    let mut fake = Fake::default().digits("1", DigitsEnd::Max);
    let (cmds, _) = walk("700", &mut fake);
    assert_eq!(
        cmds,
        [
            Command::Answer,
            play(&["en/welcome", "en/menu"], true),
            Command::ReadDigits {
                max: 1,
                timeout_ms: 5000,
                terminator: None
            },
            play(&["en/echo_intro"], false),
            Command::Echo,
            hangup(HangupCause::Normal),
        ]
    );
}

#[test]
fn menu_700_says_invalid_then_gives_up_after_three_tries() {
    let mut fake = Fake::default().digits("9", DigitsEnd::Max);
    let (cmds, _) = walk("700", &mut fake);
    let invalid = cmds
        .iter()
        .filter(|c| **c == play(&["en/invalid"], false))
        .count();
    assert_eq!(invalid, 3, "{cmds:?}");
    assert_eq!(
        cmds[cmds.len() - 2..],
        [play(&["en/goodbye"], false), hangup(HangupCause::Normal)]
    );
}

#[test]
fn dial_1001_hangs_up_with_the_outcome() {
    for (outcome, cause) in [
        (DialOutcome::Completed, HangupCause::Normal),
        (DialOutcome::Busy, HangupCause::Busy),
        (DialOutcome::NoAnswer, HangupCause::Unavailable),
        (DialOutcome::Rejected, HangupCause::Rejected),
    ] {
        let mut fake = Fake {
            dial: Some(outcome),
            ..Fake::default()
        };
        let (cmds, _) = walk("1001", &mut fake);
        assert_eq!(
            cmds,
            [
                Command::Dial {
                    target: "1001".into(),
                    timeout_s: 30
                },
                hangup(cause)
            ],
            "{outcome:?}"
        );
    }
}

#[test]
fn unknown_number_is_not_found() {
    for to in ["999", "10011", "2001", "sip:nobody@pbx"] {
        let (cmds, _) = walk(to, &mut Fake::default());
        assert_eq!(cmds, [hangup(HangupCause::NotFound)], "{to}");
    }
}
