//! Replays every input kept under `fuzz/regressions/rtp_rtcp/` through the
//! property the fuzz target checks, so inputs that once crashed stay fixed,
//! on stable, in every test run.

use std::path::Path;

#[test]
fn rtp_rtcp_inputs_keep_their_property() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/rtp_rtcp");
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
        if std::panic::catch_unwind(|| waihu_media::rtp::fuzzing::rtp_rtcp(&data)).is_err() {
            panic!("{} fails its property", path.display());
        }
    }
}
