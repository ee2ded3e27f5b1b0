//! The waihu binary.
#![forbid(unsafe_code)]
fn main() {}
