//! SDP parsing, writing and answering must never panic, and what parses
//! must write back to the same description. The property lives in
//! `waihu_sip::sdp::fuzz_sdp`, which `core/sip/tests/fuzz_regressions.rs`
//! replays on every file under `fuzz/regressions/sdp/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    waihu_sip::sdp::fuzz_sdp(data);
});
