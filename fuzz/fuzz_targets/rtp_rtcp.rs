//! See `waihu_media::rtp::fuzzing::rtp_rtcp` for the property checked; the
//! regression test `core/media/tests/rtp_rtcp_fuzz_regressions.rs` replays
//! saved inputs through it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| waihu_media::rtp::fuzzing::rtp_rtcp(data));
