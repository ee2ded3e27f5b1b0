//! See `waihu_sip::fuzzing::endpoint` for the property checked; the regression
//! test `core/sip/tests/fuzz_regressions.rs` replays saved inputs through it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waihu_sip::fuzzing::endpoint(data));
