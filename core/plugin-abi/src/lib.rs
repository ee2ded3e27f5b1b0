//! waihu-plugin-abi: the C ABI native plugins are built against, and a
//! small safe SDK for writing them in Rust.
//!
//! A plugin is a shared library (`cdylib`) exporting one symbol,
//! [`abi::ENTRY_SYMBOL`]. The host calls it, checks the ABI version it
//! returns, and only then reads the [`abi::WaihuPluginTable`] of function
//! pointers it wrote. Everything that crosses is C-shaped: integers, raw
//! pointers to bytes, `#[repr(C)]` structs, opaque handles with explicit
//! free functions. Structured data (configuration, events, customers, Lua
//! arguments and results) crosses as JSON text:
//! - it evolves: a new event field or customer attribute needs no new ABI
//!   version, and old plugins ignore what they do not know;
//! - every language a plugin may be written in parses it;
//! - its cost stays off the hot path: events are serialised on the
//!   plugin's own delivery thread, lookups and Lua calls are rare per
//!   call. The one hot path, audio frames for a detector, crosses as a
//!   plain `i16` array and a C struct.
//!
//! - [`abi`]: the types and constants of the boundary, as C sees them.
//! - [`sdk`]: implement [`sdk::Plugin`], then [`export_plugin!`]; the glue
//!   catches every panic and turns `Result`s into status codes.
//!
//! `docs/plugins.md` is the full description, with the C header.

pub mod abi;
pub mod sdk;

pub use abi::{ABI_VERSION, ENTRY_SYMBOL};
