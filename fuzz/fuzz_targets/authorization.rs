//! Authorization header parsing and digest verification must never panic,
//! and never accept the same credentials twice. The work is done by
//! `waihu_sip::auth::fuzz_authorization`, which the regression test
//! `core/sip/tests/fuzz_regressions_auth.rs` also calls; see there for the
//! input layout (a time byte, then the header with NONCE/RESP placeholders).
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

/// One epoch for the whole run; only offsets from it matter.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fuzz_target!(|data: &[u8]| {
    let _ = waihu_sip::auth::fuzz_authorization(epoch(), data);
});
