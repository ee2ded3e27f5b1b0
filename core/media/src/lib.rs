//! waihu-media: media without IO.
//!
//! Like waihu-sip, this crate never reads a clock or touches a socket: it
//! turns samples and packets into samples and packets, and the runtime
//! decides when and where they go. Time comes in as an argument
//! (`std::time::Instant` values handed in by the caller, or RTP clock
//! units).
//!
//! # The pieces
//! - [`g711`]: the G.711 codec every carrier and desk phone speaks.
//! - [`rtp`] and [`rtcp`]: packets, sequence/timestamp bookkeeping,
//!   receiver statistics.
//! - [`prompt`], [`resample`], [`player`], [`tone`]: WAV prompts converted
//!   once to 8 kHz and cached per codec, playlists paced in 20 ms frames,
//!   call-progress tones and comfort noise.
//! - [`dtmf`] and [`inband`]: RFC 4733 telephone-events, and Goertzel
//!   detection of tones in the audio.
//! - [`record`]: crash-safe WAV recording.
//! - [`relay`]: strict source learning and media timeout for a relayed leg.
//! - [`say`]: numbers, amounts, digit strings, dates and times as lists of
//!   fragment prompts, in Mandarin and English.
//! - [`amd`]: answering-machine detection: human, machine or unsure from
//!   the first seconds after answer, and the voicemail beep.
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_methods)]

pub mod amd;
pub mod dtmf;
pub mod g711;
pub mod inband;
pub mod player;
pub mod prompt;
pub mod record;
pub mod relay;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod say;
pub mod tone;
