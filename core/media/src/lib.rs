//! waihu-media: media without IO.
//!
//! Like waihu-sip, this crate never reads a clock or touches a socket: it
//! turns samples and packets into samples and packets, and the runtime
//! decides when and where they go. This first piece is the G.711 codec
//! every carrier and desk phone speaks; RTP, prompts, recording, DTMF and
//! the relay follow (the media issue).
#![forbid(unsafe_code)]

pub mod g711;
