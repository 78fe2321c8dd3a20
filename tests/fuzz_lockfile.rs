//! `fuzz/Cargo.lock` matches the crates it builds: running the fuzzers
//! must not rewrite a tracked file. (`fuzz/` is its own workspace, so the
//! main test build never looks at its lock file.)

use std::process::Command;

#[test]
fn the_fuzz_lock_file_is_up_to_date() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("cannot update the lock file"),
        "fuzz/Cargo.lock is stale: run `cargo metadata --manifest-path fuzz/Cargo.toml` and commit it\n{stderr}"
    );
    if !out.status.success() {
        // Not a stale lock file: most likely no network to fetch the
        // fuzzer's own dependencies. Nothing to judge here.
        eprintln!("skipped: cargo metadata for fuzz/ failed: {stderr}");
    }
}
