//! Replays every input kept under `fuzz/regressions/<target>/` through the
//! property the fuzz target checks (`waihu_sip::fuzzing`), so inputs that
//! once crashed stay fixed, on stable, in every test run.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for path in files {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{} fails its property", path.display());
        }
    }
}

#[test]
fn sip_message_inputs() {
    replay("sip_message", waihu_sip::fuzzing::sip_message);
}

#[test]
fn tcp_framing_inputs() {
    replay("tcp_framing", waihu_sip::fuzzing::tcp_framing);
}

#[test]
fn endpoint_inputs() {
    replay("endpoint", waihu_sip::fuzzing::endpoint);
}

#[test]
fn sdp_inputs() {
    replay("sdp", waihu_sip::sdp::fuzz_sdp);
}
