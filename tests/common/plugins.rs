//! The plugins of the workspace, built for the tests that load them.
//!
//! `cargo test` does not build the `cdylib` of a workspace member that no
//! test depends on (and cargo cannot express a dependency on a cdylib),
//! so a test asks cargo itself: `cargo build -p PACKAGE`, with the same
//! cargo, target directory and profile settings as the test run, and
//! takes the library's path from cargo's own report of what it built.
//! Once built, later calls are quick no-op builds.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// One build at a time in this process (cargo would serialise them anyway).
static BUILDING: Mutex<()> = Mutex::new(());

/// The path of the built shared library of workspace package `package`.
pub fn built(package: &str) -> PathBuf {
    let _one = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args([
            "build",
            "--locked",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
        ])
        .output()
        .unwrap_or_else(|e| panic!("running cargo build -p {package}: {e}"));
    assert!(
        output.status.success(),
        "cargo build -p {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let suffix = std::env::consts::DLL_SUFFIX;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["kind"][0] == "cdylib")
        .filter(|m| {
            m["package_id"].as_str().is_some_and(|id| {
                id.contains(&format!("/{package}#")) || id.contains(&format!("#{package}@"))
            })
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("cargo built no cdylib for {package}"))
}
