//! The LLVM back end against the interpreter (the oracle): the same
//! programs run interpreted (`--jit off`) and with every method compiled
//! by LLVM at its first call (`--jit always --jit-compiler llvm`), or with
//! LLVM as the top tier over the baseline (`--jit-top llvm`), must print
//! exactly the same, also under GC stress, and LLVM must really have
//! compiled methods (`--jit-stats`), or the comparison proves nothing.
//!
//! Covered: every file of the Smalltalk suite (`tests/smalltalk/`), every
//! program of `tests/programs/` (deep recursion, non-local return through
//! compiled frames, `jit_edges.st`), both LLST images (where they are
//! found), and every benchmark's smoke run (which checks its own result).
//! With LLVM as the top tier, tier-ups compile on the compile worker
//! (`--jit-background on`, the default) — a short program may end before
//! its first LLVM code is installed, so there LLVM must have compiled
//! units over the whole folder — and the programs run once more with
//! every tier-up compiled at once (`--jit-background off`).
#![cfg(feature = "llvm")]

mod support;

use support::st_files;

/// Runs `lst` with `args`, stdin empty; answers (exit success, stdout, stderr).
fn lst(args: &[&str]) -> (bool, String, String) {
    support::run(args, false)
}

/// How many units LLVM compiled, from `--jit-stats`' line `jit: llvm: N
/// compiled; …` (0 without it).
fn llvm_compiled(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("jit: llvm: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

const LLVM: &[&str] = &["--jit", "always", "--jit-compiler", "llvm", "--jit-stats"];
/// Tiered with LLVM on top, recompiling early so that both tiers run and
/// frames move from baseline code to LLVM code.
/// Its LLVM compiles run on the compile worker.
const LLVM_TOP: &[&str] = &[
    "--jit",
    "always",
    "--jit-top",
    "llvm",
    "--jit-optimize-after",
    "3",
    "--jit-background",
    "on",
    "--jit-stats",
];
/// [`LLVM_TOP`] with every LLVM compile done at once.
const LLVM_TOP_AT_ONCE: &[&str] = &[
    "--jit",
    "always",
    "--jit-top",
    "llvm",
    "--jit-optimize-after",
    "3",
    "--jit-background",
    "off",
    "--jit-stats",
];

/// Whether `jit` (flags) compiles LLVM's units at once, so that every
/// run that compiles anything compiles with LLVM.
fn at_once(jit: &[&str]) -> bool {
    !jit.windows(2).any(|w| w == ["--jit-background", "on"])
}

/// Runs `args` interpreted and compiled as `jit` (flags) says; both must
/// end alike and print the same. Answers a description of any
/// difference, or of LLVM having compiled nothing where it compiles at
/// once, and how many units LLVM compiled.
fn compare(label: &str, args: &[&str], jit: &[&str], gc_stress: bool) -> (Option<String>, u64) {
    let stress: &[&str] = if gc_stress { &["--gc-stress"] } else { &[] };
    let must_compile = at_once(jit);
    let interp = lst(&[args, &["--jit", "off"]].concat());
    let jit = lst(&[args, stress, jit].concat());
    let jit_stderr = support::without_jit_lines(&jit.2);
    if interp.0 != jit.0 || interp.1 != jit.1 || interp.2 != jit_stderr {
        let problem = format!(
            "{label}: differs\n--- interpreted (ok {}):\n{}{}\n--- llvm (ok {}):\n{}{}",
            interp.0, interp.1, interp.2, jit.0, jit.1, jit.2
        );
        return (Some(problem), 0);
    }
    let compiled = llvm_compiled(&jit.2);
    let nothing = compiled == 0 && must_compile;
    let problem = nothing.then(|| format!("{label}: LLVM compiled nothing:\n{}", jit.2));
    (problem, compiled)
}

/// Compares every file of `folder` compiled as `jit` says, two at a time
/// (LLVM compiles take milliseconds per method; the machines have two
/// cores).
fn compare_folder(folder: &str, jit: &'static [&'static str], gc_stress: bool) {
    let files = st_files(folder);
    assert!(!files.is_empty(), "no .st files in {folder}");
    let (mut problems, mut compiled) = (vec![], 0);
    for pair in files.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|f| {
                let path = f.to_string_lossy().into_owned();
                std::thread::spawn(move || compare(&path, &[&path], jit, gc_stress))
            })
            .collect();
        for run in runs {
            let (problem, n) = run.join().expect("a runner");
            problems.extend(problem);
            compiled += n;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(compiled > 0, "LLVM compiled nothing in {folder}");
}

#[test]
fn the_suite_prints_the_same_compiled_by_llvm() {
    compare_folder("tests/smalltalk", LLVM, false);
}

#[test]
fn the_suite_prints_the_same_with_llvm_as_the_top_tier() {
    compare_folder("tests/smalltalk", LLVM_TOP, false);
}

#[test]
fn the_suite_prints_the_same_compiled_by_llvm_under_gc_stress() {
    compare_folder("tests/smalltalk", LLVM, true);
}

/// Deep recursion (a million compiled frames), non-local return through
/// compiled frames, loops entered at their heads, redefinitions under
/// compiled code (`jit_edges.st`, `deep.st`, …).
#[test]
fn the_programs_print_the_same_compiled_by_llvm() {
    compare_folder("tests/programs", LLVM, false);
    compare_folder("tests/programs", LLVM_TOP, false);
    compare_folder("tests/programs", LLVM_TOP_AT_ONCE, false);
}

/// LLST's DecodeAllMethods.image boots through its own 134-test start-up
/// suite, and VMPrimitives.image ends as it does interpreted.
#[test]
fn llst_images_run_the_same_compiled_by_llvm() {
    for name in ["DecodeAllMethods.image", "VMPrimitives.image"] {
        let image = lst_test_images::llst_image_path!(name);
        let image = image.to_string_lossy().into_owned();
        for jit in [LLVM, LLVM_TOP] {
            let (problem, compiled) = compare(name, &["--image", &image], jit, false);
            assert!(problem.is_none(), "{}", problem.unwrap_or_default());
            assert!(compiled > 0, "{name}: LLVM compiled nothing");
        }
    }
}

#[test]
fn every_benchmark_passes_its_check_compiled_by_llvm() {
    let (ok, out, err) = lst(&[LLVM, &["bench", "--smoke", "--mode", "jit"]].concat());
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("mode jit"), "{out}");
    assert!(llvm_compiled(&err) > 0, "LLVM compiled nothing:\n{err}");
}

/// With LLVM as the top tier, tier-ups are queued on the compile worker
/// and `--jit-stats` counts them in its background lines.
#[test]
fn llvm_tier_ups_are_queued_on_the_worker() {
    let file = support::root().join("tests/programs/bench_fib.st");
    let (ok, out, err) = lst(&[&[&*file.to_string_lossy()][..], LLVM_TOP].concat());
    assert!(ok, "{out}\n{err}");
    let queued = err
        .lines()
        .find_map(|l| l.strip_prefix("jit: background: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(queued.is_some_and(|n| n > 0), "nothing queued:\n{err}");
}

/// The statistics name LLVM, so the checks above would see a run that
/// fell back to another compiler.
#[test]
fn jit_stats_count_llvm_compiles() {
    let (ok, out, err) = lst(&[&["-e", "(3 + 4) printNl"], LLVM].concat());
    assert!(ok, "{err}");
    assert!(out.contains('7'), "{out}");
    assert!(llvm_compiled(&err) > 0, "{err}");
    assert!(!err.contains("jit: cranelift"), "{err}");
}

#[test]
fn llvm_on_top_of_another_compiler_than_tiered_is_refused() {
    let (ok, _, err) = lst(&[
        "-e",
        "3",
        "--jit-compiler",
        "cranelift",
        "--jit-top",
        "llvm",
    ]);
    assert!(!ok);
    assert!(
        err.contains("--jit-top llvm is the top tier of --jit-compiler tiered"),
        "{err}"
    );
}

/// `lst disasm --jit` shows the LLVM IR before and after LLVM's passes
/// and the machine code of a method compiled this way.
#[test]
fn disasm_jit_shows_what_llvm_makes_of_a_method() {
    let (ok, out, err) = lst(&["disasm", "--jit", "Object>>isNil"]);
    assert!(ok, "{err}");
    for part in [
        "; LLVM IR as selected",
        "; LLVM IR after the passes",
        "define tailcc i64 @lst_llvm_1(",
        "musttail call tailcc i64",
        "; LLVM machine code (at 0x",
        "jmpq",
    ] {
        assert!(out.contains(part), "no {part:?} in:\n{out}");
    }
}
