//! Unboxed Float regions against the interpreter (the oracle):
//! `tests/programs/unbox_floats.st` (NBody-like Float trees on
//! temporaries, instance variables and getters, comparison roots,
//! SmallInt and Fraction operands, a non-number, division by zero, NaN,
//! and `Float>>*` redefined under compiled code) prints exactly the same
//! interpreted and compiled with the regions by Cranelift (every method at
//! its first call, and tiered, recompiled after one call), also under GC
//! stress (where boxing a region's result gives way to the send), and with
//! the regions switched off (`--jit-opt=-unbox`). The regions must really
//! have been compiled (`--jit-stats`), or the comparison proves nothing;
//! switched off, none may be. Built with the cargo feature `llvm`, LLVM
//! (alone and as the top tier) is compared too.

mod support;

/// Runs `lst` with `args`, stdin empty, with Cranelift's verifier on;
/// answers (exit success, stdout, stderr).
fn lst(args: &[&str]) -> (bool, String, String) {
    support::run(args, true)
}

fn program() -> String {
    support::root()
        .join("tests/programs/unbox_floats.st")
        .to_string_lossy()
        .into_owned()
}

/// The unboxed regions the optimizing compiler `name` compiled, from
/// `--jit-stats`' line `jit: NAME: … ; R unboxed Float regions` (0
/// without it).
fn regions(stderr: &str, name: &str) -> u64 {
    let prefix = format!("jit: {name}: ");
    stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(';').next())
        .filter_map(|tail| tail.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Runs the program interpreted and compiled as `jit` (flags) says, and
/// with GC stress if asked; both must end alike and print the same
/// (stderr without the JIT's own lines). Answers the compiled run's
/// unboxed regions by compiler `name`.
fn same_as_interpreted(jit: &[&str], gc_stress: bool, name: &str) -> u64 {
    let file = program();
    let interp = lst(&[file.as_str(), "--jit", "off"]);
    let stress: &[&str] = if gc_stress { &["--gc-stress"] } else { &[] };
    let args = [&[file.as_str(), "--jit-stats"][..], jit, stress].concat();
    let compiled = lst(&args);
    let stderr = support::without_jit_lines(&compiled.2);
    assert_eq!(
        (interp.0, &interp.1, &interp.2),
        (compiled.0, &compiled.1, &stderr),
        "{jit:?} (GC stress {gc_stress}) differs from the interpreter"
    );
    assert!(
        interp.1.contains("Array (false false false nan)"),
        "{}",
        interp.1
    );
    regions(&compiled.2, name)
}

const CRANELIFT: &[&str] = &["--jit", "always", "--jit-compiler", "cranelift"];
/// Tiered, optimized compiles done at once: the regions counted are
/// those of every hot unit, not of those installed before the end.
const TIERED: &[&str] = &[
    "--jit",
    "always",
    "--jit-compiler",
    "tiered",
    "--jit-optimize-after",
    "1",
    "--jit-background",
    "off",
];

#[test]
fn cranelift_regions_answer_as_the_interpreter() {
    for stress in [false, true] {
        let n = same_as_interpreted(CRANELIFT, stress, "cranelift");
        assert!(n >= 5, "only {n} unboxed regions compiled");
    }
}

#[test]
fn tiered_regions_answer_as_the_interpreter() {
    for stress in [false, true] {
        let n = same_as_interpreted(TIERED, stress, "cranelift");
        assert!(n >= 5, "only {n} unboxed regions compiled");
    }
}

#[test]
fn switched_off_there_are_no_regions_and_the_same_answers() {
    let off = [CRANELIFT, &["--jit-opt=-unbox"]].concat();
    assert_eq!(same_as_interpreted(&off, false, "cranelift"), 0);
}

#[cfg(feature = "llvm")]
#[test]
fn llvm_regions_answer_as_the_interpreter() {
    let alone = &["--jit", "always", "--jit-compiler", "llvm"][..];
    let top = &[
        "--jit",
        "always",
        "--jit-top",
        "llvm",
        "--jit-optimize-after",
        "1",
        // The regions counted must not depend on when a background
        // compile lands.
        "--jit-background",
        "off",
    ][..];
    for (jit, stress) in [(alone, false), (alone, true), (top, false), (top, true)] {
        let n = same_as_interpreted(jit, stress, "llvm");
        assert!(n >= 5, "{jit:?}: only {n} unboxed regions compiled");
    }
}
