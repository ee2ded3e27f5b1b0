//! Replays every input kept under `fuzz/regressions/authorization/` through
//! `auth::fuzz_authorization`, the function the `authorization` fuzz target
//! calls, so a crash once found by the fuzzer stays fixed on stable, in CI.
//!
//! Input layout (see the function's documentation): the first byte is the
//! arrival time in 10 s steps after the challenge; the rest is the header
//! value, where `NONCE` becomes an issued nonce and `RESP` the correct
//! response.

use std::path::{Path, PathBuf};
use std::time::Instant;

use waihu_sip::auth::fuzz_authorization;

fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/authorization");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[allow(clippy::disallowed_methods)] // the one clock read; only offsets matter
fn epoch() -> Instant {
    Instant::now()
}

#[test]
fn authorization_regressions_never_panic() {
    let files = inputs();
    assert!(files.len() >= 4, "regression inputs missing: {files:?}");
    let epoch = epoch();
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| fuzz_authorization(epoch, &data));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
}

/// The seed that is correct must pass, or the fuzzer's way past the digest
/// check (the NONCE/RESP placeholders) has silently broken.
#[test]
fn the_valid_seed_is_accepted() {
    let files = inputs();
    let valid = files
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "valid"))
        .unwrap_or_else(|| panic!("no `valid` seed among {files:?}"));
    let data = std::fs::read(valid).unwrap_or_else(|e| panic!("{}: {e}", valid.display()));
    let verified = fuzz_authorization(epoch(), &data);
    assert_eq!(verified.map(|v| v.username), Ok("alice".to_owned()));
}
