//! The edge cases with LLVM code, each against the interpreter
//! (the oracle) and on a small native stack (512 KiB, set by `ulimit -s`
//! before `lst` starts), so that native stack growing with Smalltalk
//! frames would crash: a million-deep recursion compiled by LLVM (alone
//! and as the top tier), and non-local returns through 1,000 and 200,000
//! frames of methods mixed between LLVM code, baseline code and the
//! interpreter (`tests/llvm/nlr_mixed.st`; the thresholds leave its
//! methods in different tiers: `--jit-stats` must show both compilers;
//! once more with LLVM compiling in the background, output only).
#![cfg(feature = "llvm")]

use std::path::Path;
use std::process::{Command, Stdio};

/// The native stack `lst` runs on, in KiB.
const NATIVE_STACK_KIB: u32 = 512;

fn path(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(file)
        .to_string_lossy()
        .into_owned()
}

/// Runs `lst` with `args` on a native stack of [`NATIVE_STACK_KIB`];
/// answers (exit success, stdout, stderr).
fn lst_small_stack(args: &[&str]) -> (bool, String, String) {
    let limit = format!("ulimit -s {NATIVE_STACK_KIB} && exec \"$0\" \"$@\"");
    let out = Command::new("sh")
        .arg("-c")
        .arg(limit)
        .arg(env!("CARGO_BIN_EXE_lst"))
        .args(args)
        .env_remove("LST_GC_STRESS")
        .stdin(Stdio::null())
        .output()
        .expect("sh runs lst");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// How many units `compiler` compiled, from `--jit-stats`' line `jit:
/// <compiler>: N compiled; …` (0 without it).
fn compiled_by(stderr: &str, compiler: &str) -> u64 {
    let prefix = format!("jit: {compiler}: ");
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Runs `files` interpreted and with `jit` (flags, `--jit-stats` added),
/// both on the small stack; both must succeed and print the same. Answers
/// the compiled run's stderr.
fn same_as_interpreter(files: &[&str], jit: &[&str]) -> String {
    let files: Vec<String> = files.iter().map(|f| path(f)).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let (ok, expected, err) = lst_small_stack(&[&files[..], &["--jit", "off"]].concat());
    assert!(ok, "interpreted {files:?}: {err}");
    let args = [&files[..], &["--jit-stats"], jit].concat();
    let (ok, out, err) = lst_small_stack(&args);
    assert!(ok, "{args:?} failed:\n{out}\n{err}");
    assert_eq!(out, expected, "{args:?} printed otherwise; stderr:\n{err}");
    err
}

#[test]
fn a_million_frames_deep_compiled_by_llvm_need_no_native_stack() {
    let llvm = ["--jit", "always", "--jit-compiler", "llvm"];
    let err = same_as_interpreter(&["tests/programs/deep.st"], &llvm);
    assert!(
        compiled_by(&err, "llvm") > 0,
        "LLVM compiled nothing:\n{err}"
    );
}

#[test]
fn a_million_frames_deep_with_llvm_on_top_need_no_native_stack() {
    let top = ["--jit", "always", "--jit-top", "llvm"];
    let err = same_as_interpreter(&["tests/programs/deep.st"], &top);
    assert!(
        compiled_by(&err, "llvm") > 0,
        "LLVM compiled nothing:\n{err}"
    );
}

/// Thresholds under which `nlr_mixed.st`'s methods end in different
/// tiers: `next:block:` and `a:block:` in LLVM code, `b:block:` in
/// baseline code and `c:block:` (called 800 times) interpreted. LLVM
/// compiles at once, so that the counts checked do not depend on when a
/// background compile lands.
const MIXED: [&str; 10] = [
    "--jit",
    "on",
    "--jit-threshold",
    "900",
    "--jit-top",
    "llvm",
    "--jit-optimize-after",
    "1500",
    "--jit-background",
    "off",
];

/// Eight non-local returns through 1,000 mixed frames.
#[test]
fn non_local_return_through_mixed_llvm_baseline_and_interpreted_frames() {
    let err = same_as_interpreter(&["tests/llvm/nlr_mixed.st"], &MIXED);
    assert!(
        compiled_by(&err, "llvm") > 0,
        "LLVM compiled nothing:\n{err}"
    );
    assert!(
        compiled_by(&err, "baseline") > compiled_by(&err, "llvm"),
        "no method stayed baseline:\n{err}"
    );
}

/// The same with LLVM compiling on the compile worker (the default): its
/// code lands while the frames are live, whenever it is ready.
#[test]
fn non_local_return_through_mixed_frames_with_llvm_compiling_in_the_background() {
    let files = ["tests/llvm/nlr_mixed.st", "tests/llvm/nlr_deep.st"];
    let background = [&MIXED[..8], &["--jit-background", "on"]].concat();
    same_as_interpreter(&files, &background);
}

/// Then one through 200,000 frames, in whose middle every method changes
/// tier (so LLVM frames sit above and below baseline and interpreted ones).
#[test]
fn non_local_return_through_200_000_frames_changing_tier() {
    let files = ["tests/llvm/nlr_mixed.st", "tests/llvm/nlr_deep.st"];
    let err = same_as_interpreter(&files, &MIXED);
    assert!(
        compiled_by(&err, "llvm") >= 4,
        "not every method reached LLVM:\n{err}"
    );
}
