//! waihu-call: the one vocabulary for calls.
//!
//! Everything that drives a call (a Lua `route`, the HTTP API, a plugin)
//! gives it a [`Command`], and everything that watches a call receives
//! [`Event`]s. The coordinator in the binary is the only place that turns a
//! command into SIP and media work. Both enums serialise to JSON with a
//! `type` tag, which is the form the API and plugins see.
//!
//! A command that waits (play, read digits, dial, ...) is answered by
//! exactly one *reply* event ([`Event::is_reply`]); a Lua route yields on
//! the command and is resumed with that reply. Other events (a digit
//! pressed during a bridge, a media timeout, the far end hanging up) are
//! notifications.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// What a controller asks of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Send 180 Ringing (no media) if the call is not answered yet.
    Ring,
    /// Answer (200 OK with our SDP). Replied with [`Event::Answered`].
    Answer,
    /// Play a list of prompts, silences and tones. Replied with
    /// [`Event::PlaybackDone`]. With `barge_in`, a digit stops playback and
    /// is kept for the next [`Command::ReadDigits`].
    Play {
        items: Vec<PlayItem>,
        barge_in: bool,
    },
    /// Collect up to `max` digits. Ends on `max`, on `terminator` (not
    /// included), or when `timeout_ms` passes with no new digit. Replied
    /// with [`Event::Digits`].
    ReadDigits {
        max: u32,
        timeout_ms: u32,
        terminator: Option<char>,
    },
    /// Send DTMF digits to the caller (RFC 4733). Replied with
    /// [`Event::DtmfSent`].
    SendDtmf { digits: String },
    /// Start recording the call to `file` (relative to the recordings
    /// directory). Replied with [`Event::RecordingStarted`].
    Record { file: String, mode: RecordMode },
    /// Stop the recording. Replied with [`Event::RecordingStopped`].
    StopRecord,
    /// Send the caller's audio back to them until they press `#` or hang
    /// up. Replied with [`Event::EchoDone`].
    Echo,
    /// Call `target` (a registered user, or later a trunk number) and
    /// bridge the two legs. Replied with [`Event::DialDone`] when the
    /// attempt fails or the bridge ends.
    Dial { target: String, timeout_s: u32 },
    /// Set a call variable (kept in the CDR). Replied with [`Event::VarSet`].
    SetVar { name: String, value: String },
    /// End the call: BYE if answered, else a final response for `cause`.
    /// Replied with [`Event::HungUp`].
    Hangup { cause: HangupCause },
    /// Wait in an ACD queue (answering the call first if needed) with
    /// music on hold until an agent takes the call; replied with
    /// [`Event::QueueDone`] when the agent's bridge ends or the queue's
    /// overflow action is done. `priority` 0..=9, higher first; `skills`
    /// are the minimum levels (1..=100) an agent must have.
    Queue {
        queue: String,
        priority: u8,
        skills: std::collections::BTreeMap<String, u8>,
    },
    /// Blind transfer: the other party is sent to `target` (a registered
    /// user, `pstn:NUMBER`, `trunk:NAME:NUMBER` or `queue:NAME`) and this
    /// leg ends.
    /// Replied with [`Event::Transferred`] or [`Event::Failed`].
    Transfer { target: String },
    /// The called party asks never to be called again: their number goes
    /// on the do-not-call table, on disk before the reply. Replied with
    /// [`Event::OptedOut`] (with the number) or [`Event::Failed`].
    OptOut { reason: String },
}

/// How a wait in a queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QueueOutcome {
    /// An agent took the call; the reply comes when the bridge ends.
    Answered,
    /// Overflow: the caller left a message (the detail is the recording).
    Voicemail,
    /// Overflow: a callback request was stored.
    Callback,
    /// Overflow with no other action: the caller heard the queue's message
    /// and is to be hung up.
    Hangup,
}

impl QueueOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueOutcome::Answered => "answered",
            QueueOutcome::Voicemail => "voicemail",
            QueueOutcome::Callback => "callback",
            QueueOutcome::Hangup => "hangup",
        }
    }
}

/// One piece of a playlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlayItem {
    /// A prompt by name, relative to the prompts directory without `.wav`
    /// (`"en/welcome"`).
    Prompt {
        name: String,
    },
    Silence {
        ms: u32,
    },
    Tone {
        tone: Tone,
        ms: u32,
    },
}

/// Call-progress tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Ringback(ToneRegion),
    Busy(ToneRegion),
}

/// Whose tone plan: the switch's configured one (`media.tones`), China
/// (450 Hz) or North America (440+480 / 480+620 Hz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToneRegion {
    #[default]
    Configured,
    China,
    NorthAmerica,
}

/// Stereo puts the caller on the left and the other party on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordMode {
    #[default]
    Stereo,
    Mono,
}

/// Why a call ends; for an unanswered call it picks the SIP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupCause {
    #[default]
    Normal,
    Busy,
    Rejected,
    Unavailable,
    NotFound,
    Failure,
}

impl HangupCause {
    /// The final response to an unanswered INVITE ended for this cause.
    pub fn sip_status(self) -> u16 {
        match self {
            HangupCause::Normal | HangupCause::Rejected => 603,
            HangupCause::Busy => 486,
            HangupCause::Unavailable => 480,
            HangupCause::NotFound => 404,
            HangupCause::Failure => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HangupCause::Normal => "normal",
            HangupCause::Busy => "busy",
            HangupCause::Rejected => "rejected",
            HangupCause::Unavailable => "unavailable",
            HangupCause::NotFound => "not_found",
            HangupCause::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<HangupCause> {
        Some(match s {
            "normal" => HangupCause::Normal,
            "busy" => HangupCause::Busy,
            "rejected" => HangupCause::Rejected,
            "unavailable" => HangupCause::Unavailable,
            "not_found" => HangupCause::NotFound,
            "failure" => HangupCause::Failure,
            _ => return None,
        })
    }
}

/// How a [`Command::ReadDigits`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigitsEnd {
    Max,
    Terminator,
    Timeout,
}

/// How a [`Command::Dial`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialOutcome {
    /// Answered and bridged; the bridge has since ended.
    Completed,
    Busy,
    NoAnswer,
    /// Not registered, or unreachable.
    Unavailable,
    Rejected,
    Failed,
}

impl DialOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DialOutcome::Completed => "completed",
            DialOutcome::Busy => "busy",
            DialOutcome::NoAnswer => "no_answer",
            DialOutcome::Unavailable => "unavailable",
            DialOutcome::Rejected => "rejected",
            DialOutcome::Failed => "failed",
        }
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Caller,
    Callee,
    Switch,
}

/// What happened on a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Reply to [`Command::Ring`].
    Ringing,
    /// Reply to [`Command::Answer`].
    Answered,
    /// Reply to [`Command::Play`]; `interrupted_by` is the barge-in digit.
    PlaybackDone { interrupted_by: Option<char> },
    /// Reply to [`Command::ReadDigits`].
    Digits { digits: String, ended: DigitsEnd },
    /// Reply to [`Command::SendDtmf`].
    DtmfSent,
    /// Reply to [`Command::Record`]; `path` is where the file is.
    RecordingStarted { path: String },
    /// Reply to [`Command::StopRecord`].
    RecordingStopped { path: Option<String> },
    /// Reply to [`Command::Echo`].
    EchoDone,
    /// Reply to [`Command::Dial`].
    DialDone { outcome: DialOutcome },
    /// Reply to [`Command::SetVar`].
    VarSet,
    /// The number is on the do-not-call table (E.164).
    OptedOut { number: String },
    /// Reply to [`Command::Queue`]: how the wait ended, with the agent who
    /// took the call or the recording made.
    QueueDone {
        outcome: QueueOutcome,
        detail: Option<String>,
    },
    /// Reply to [`Command::Transfer`]: the other party went to the target.
    Transferred,
    /// The call is over (also the reply to [`Command::Hangup`]).
    HungUp { by: Party, cause: HangupCause },
    /// A command could not be carried out (unknown prompt, not answered
    /// yet, ...). Replies to the command that failed.
    Failed { reason: String },
    /// Notification: one DTMF digit from the caller.
    Dtmf { digit: char },
    /// Notification: no RTP from a leg for the configured time.
    MediaTimeout,
}

impl Event {
    /// Whether this event answers a command (see the crate docs).
    pub fn is_reply(&self) -> bool {
        !matches!(self, Event::Dtmf { .. } | Event::MediaTimeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_events_have_a_stable_json_form() {
        let play = Command::Play {
            items: vec![
                PlayItem::Prompt {
                    name: "en/welcome".into(),
                },
                PlayItem::Silence { ms: 500 },
                PlayItem::Tone {
                    tone: Tone::Ringback(ToneRegion::China),
                    ms: 2000,
                },
            ],
            barge_in: true,
        };
        let json = serde_json::to_string(&play).expect("serialise");
        assert_eq!(
            json,
            r#"{"type":"play","items":[{"kind":"prompt","name":"en/welcome"},{"kind":"silence","ms":500},{"kind":"tone","tone":{"ringback":"china"},"ms":2000}],"barge_in":true}"#
        );
        let back: Command = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, play);

        let ev = Event::Digits {
            digits: "123".into(),
            ended: DigitsEnd::Terminator,
        };
        let json = serde_json::to_string(&ev).expect("serialise");
        assert_eq!(
            json,
            r#"{"type":"digits","digits":"123","ended":"terminator"}"#
        );
        assert!(ev.is_reply());
        assert!(!Event::Dtmf { digit: '5' }.is_reply());
    }

    #[test]
    fn hangup_causes_round_trip_and_map_to_sip() {
        for c in [
            HangupCause::Normal,
            HangupCause::Busy,
            HangupCause::Rejected,
            HangupCause::Unavailable,
            HangupCause::NotFound,
            HangupCause::Failure,
        ] {
            assert_eq!(HangupCause::parse(c.as_str()), Some(c));
            assert!((400..700).contains(&c.sip_status()));
        }
        assert_eq!(HangupCause::Busy.sip_status(), 486);
        assert_eq!(HangupCause::parse("nonsense"), None);
    }
}
