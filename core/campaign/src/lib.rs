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
//! - [`pacing`]: how many lines a predictive, progressive, preview or
//!   broadcast campaign dials now, and the abandon budget it keeps.
//! - [`sim`]: a deterministic simulator of carrier and agents that runs
//!   the same pacer, to measure and test it.
#![forbid(unsafe_code)]

pub mod acd;
pub mod pacing;
pub mod sim;
