//! waihu-campaign: the call-centre logic, without IO and without a clock.
//!
//! Every function takes the time as an argument (unix milliseconds), so
//! the logic is tested with a virtual clock and replayed exactly. The
//! binary owns the state, feeds it what happens (an agent logs in, a call
//! joins a queue, a phone answers) and carries out what it asks for (offer
//! this call to that agent, overflow that call).
//!
//! - [`acd`]: agents and their states, ACD queues and their strategies,
//!   blended agents.
//! - [`contact`]: contact files (CSV) read into rows with E.164 numbers,
//!   time zones and custom fields.
//! - [`pacing`]: how many lines a predictive, progressive, preview or
//!   broadcast campaign dials now, and the abandon budget it keeps.
//! - [`rules`]: whether a contact may be dialled now (the one check every
//!   dial path makes), outcomes, and the default retry policy.
//! - [`sim`]: a deterministic simulator of carrier and agents that runs
//!   the same pacer, to measure and test it.
//! - [`window`]: calling windows (open hours per weekday, rest hours,
//!   holidays) in the contact's local time.
//! - [`zone`]: time zones by name, from the IANA database compiled in.
#![forbid(unsafe_code)]

pub mod acd;
pub mod contact;
pub mod pacing;
pub mod rules;
pub mod sim;
pub mod window;
pub mod zone;
