//! Deopt stress against the interpreter (the oracle): with
//! `--jit-deopt-stress N` every N-th guard evaluation in optimized code
//! (class guards of inlined sends, the unit validity word, the guards of
//! unboxed Float regions, the fast-path guards inside inlined bodies)
//! fails as well and takes the path a real failure takes (the slow send,
//! the region's slow path, the exit that materializes inlined frames). The
//! same programs must print exactly the same as interpreted.
//!
//! Covered, tiered with `--jit-optimize-after 1` (methods are compiled
//! after 20 calls, with the interpreter's type feedback, so sends are
//! inlined), for N = 1, 3 and 7: every file of the Smalltalk suite
//! (`tests/smalltalk/`) and of `tests/programs/` (`jit_edges.st`,
//! `inline_sends.st`, `unbox_floats.st` among them), both LLST images
//! (where they are found), and every benchmark's smoke run (which checks
//! its own result); some programs also under GC stress; with LLVM as the
//! top tier in a build with it. The stress must really have forced
//! failures, and inlined exits after them (`--jit-stats`), or the
//! comparison proves nothing.

mod support;

use std::thread;

/// The periods the tests stress with.
const PERIODS: [u32; 3] = [1, 3, 7];

/// Tiered, optimized after one call of the baseline code: feedback from
/// the interpreter's first 20 calls guides inlining. Tier-ups compile at
/// once (not on the background worker), so that what the stress forces
/// does not depend on timing.
const TIERED: &[&str] = &[
    "--jit",
    "on",
    "--jit-threshold",
    "20",
    "--jit-optimize-after",
    "1",
    "--jit-background",
    "off",
    "--jit-stats",
];

/// What `--jit-stats` says of the stress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Forced {
    /// Guard failures forced.
    failures: u64,
    /// Exits of inlined code taken after them.
    exits: u64,
}

impl std::ops::Add for Forced {
    type Output = Forced;
    fn add(self, o: Forced) -> Forced {
        Forced {
            failures: self.failures + o.failures,
            exits: self.exits + o.exits,
        }
    }
}

/// The numbers of `--jit-stats`' deopt-stress line (zeros without one).
fn forced(stderr: &str) -> Forced {
    let Some(line) = stderr
        .lines()
        .find(|l| l.starts_with("jit: deopt stress: "))
    else {
        return Forced::default();
    };
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers[..] {
        [_, failures, exits] => Forced { failures, exits },
        _ => panic!("unexpected deopt-stress line: {line}"),
    }
}

/// What a run printed: (exit success, stdout, stderr).
type Run = (bool, String, String);

/// Runs `args` compiled with `jit` flags, deopt stress `n` and GC stress
/// if asked; it must end as `interp` (the interpreted run) did and print
/// the same (stderr without the JIT's lines). Answers what the stress
/// forced, or the difference.
fn compare(
    label: &str,
    interp: &Run,
    args: &[&str],
    jit: &[&str],
    n: u32,
    gc: bool,
) -> Result<Forced, String> {
    let n = n.to_string();
    let gc: &[&str] = if gc { &["--gc-stress"] } else { &[] };
    let stress = ["--jit-deopt-stress", n.as_str()];
    let compiled = support::run(&[args, jit, &stress, gc].concat(), true);
    let stderr = support::without_jit_lines(&compiled.2);
    if (interp.0, &interp.1, &interp.2) != (compiled.0, &compiled.1, &stderr) {
        return Err(format!(
            "{label} at --jit-deopt-stress {n} (GC stress {}): differs\n--- interpreted (ok {}):\n{}{}\n--- compiled (ok {}):\n{}{}",
            !gc.is_empty(),
            interp.0,
            interp.1,
            interp.2,
            compiled.0,
            compiled.1,
            compiled.2
        ));
    }
    Ok(forced(&compiled.2))
}

/// Runs `args` interpreted, then compiled at each period of `periods`
/// (see [`compare`]); what the stress forced at each.
fn compare_periods(
    label: &str,
    args: &[&str],
    jit: &[&str],
    periods: &[u32],
    gc: bool,
) -> Result<Vec<Forced>, String> {
    let interp = support::run(&[args, &["--jit", "off"]].concat(), false);
    periods
        .iter()
        .map(|&n| compare(label, &interp, args, jit, n, gc))
        .collect()
}

/// Compares each of `files` (one thread each) at each period of
/// `periods`; fails on any difference. Answers what the stress forced in
/// all, by period.
fn compare_files(
    files: &[String],
    jit: &'static [&'static str],
    periods: &'static [u32],
    gc: bool,
) -> Vec<Forced> {
    let runs: Vec<_> = files
        .iter()
        .cloned()
        .map(|f| thread::spawn(move || compare_periods(&f, &[&f], jit, periods, gc)))
        .collect();
    let mut totals = vec![Forced::default(); periods.len()];
    let mut problems = vec![];
    for run in runs {
        match run.join().expect("a runner thread") {
            Ok(forced) => {
                for (t, f) in totals.iter_mut().zip(forced) {
                    *t = *t + f;
                }
            }
            Err(e) => problems.push(e),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    totals
}

fn paths(folder: &str) -> Vec<String> {
    support::st_files(folder)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

fn program(name: &str) -> String {
    support::root()
        .join("tests/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Each period forced failures; from 3 on (at 1 every class guard fails,
/// so no inlined body runs to an exit) inlined exits too.
fn assert_stressed(totals: &[Forced], periods: &[u32]) {
    for (f, n) in totals.iter().zip(periods) {
        assert!(f.failures > 0, "no guard failure forced at {n}: {f:?}");
        assert!(
            *n == 1 || f.exits > 0,
            "no inlined exit forced at {n}: {f:?}"
        );
    }
}

#[test]
fn the_suite_prints_the_same_under_deopt_stress() {
    let totals = compare_files(&paths("tests/smalltalk"), TIERED, &PERIODS, false);
    assert_stressed(&totals, &PERIODS);
}

#[test]
fn the_programs_print_the_same_under_deopt_stress() {
    let files = paths("tests/programs");
    for needed in ["jit_edges.st", "inline_sends.st", "unbox_floats.st"] {
        assert!(
            files.iter().any(|f| f.ends_with(needed)),
            "{needed} is missing"
        );
    }
    let totals = compare_files(&files, TIERED, &PERIODS, false);
    assert_stressed(&totals, &PERIODS);
}

#[test]
fn inlined_and_unboxed_programs_print_the_same_under_deopt_and_gc_stress() {
    let files = ["inline_sends.st", "smallint_ops.st", "jit_edges.st"].map(program);
    let totals = compare_files(&files, TIERED, &[3], true);
    assert_stressed(&totals, &[3]);
}

/// Forced exits do not count toward deoptimizing a unit, so the stress
/// keeps exercising inlined exits: without the stress `inline_sends.st`
/// materializes a few thousand inlined frames (its units that exit too
/// often are deoptimized and recompiled without inlining); under the
/// stress its loops keep running inlined code and exiting from it, far
/// more often than the 1000 exits after which a unit whose exits counted
/// would have been deoptimized.
#[test]
fn forced_exits_do_not_deoptimize_units() {
    let file = program("inline_sends.st");
    let materialized = |extra: &[&str]| -> u64 {
        let (_, _, err) = support::run(&[&[file.as_str()], TIERED, extra].concat(), false);
        let line = err
            .lines()
            .find(|l| l.starts_with("jit: inlining: "))
            .unwrap_or_else(|| panic!("no inlining line:\n{err}"));
        let numbers: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        numbers[3]
    };
    let unstressed = materialized(&[]);
    assert!(
        unstressed >= 1,
        "no inlined frame materialized without the stress"
    );
    let stressed = materialized(&["--jit-deopt-stress", "3"]);
    assert!(
        stressed > 10 * unstressed,
        "{stressed} inlined frames materialized under stress, {unstressed} without: \
         were units deoptimized for forced exits?"
    );
}

#[test]
fn llst_images_run_the_same_under_deopt_stress() {
    let decode = lst_test_images::llst_image_path!("DecodeAllMethods.image");
    let primitives = lst_test_images::llst_image_path!("VMPrimitives.image");
    let mut totals = vec![Forced::default(); PERIODS.len()];
    for image in [decode, primitives] {
        let image = image.to_string_lossy().into_owned();
        let forced = compare_periods(&image, &["--image", &image], TIERED, &PERIODS, false)
            .unwrap_or_else(|e| panic!("{e}"));
        for (t, f) in totals.iter_mut().zip(forced) {
            *t = *t + f;
        }
    }
    assert_stressed(&totals, &PERIODS);
}

#[test]
fn every_benchmark_passes_its_check_under_deopt_stress() {
    let runs: Vec<_> = PERIODS
        .iter()
        .map(|&n| {
            thread::spawn(move || {
                let n = n.to_string();
                let args = [
                    TIERED,
                    &[
                        "--jit-deopt-stress",
                        &n,
                        "bench",
                        "--smoke",
                        "--mode",
                        "jit",
                    ],
                ]
                .concat();
                (n.clone(), support::run(&args, false))
            })
        })
        .collect();
    for run in runs {
        let (n, (ok, out, err)) = run.join().expect("a runner thread");
        assert!(ok, "--jit-deopt-stress {n}:\n{out}\n{err}");
        assert!(
            out.contains("awfy Havlak") && out.contains("mode jit"),
            "{out}"
        );
        let f = forced(&err);
        assert!(
            f.failures > 0 && (n == "1" || f.exits > 0),
            "{n}: {f:?}\n{err}"
        );
    }
}

/// Without the flag nothing is stressed: no line, no tick.
#[test]
fn without_the_flag_nothing_is_forced() {
    let file = program("inline_sends.st");
    let (_, _, err) = support::run(&[&[file.as_str()], TIERED].concat(), false);
    assert!(!err.contains("deopt stress"), "{err}");
}

/// LLVM as the top tier selects the stress ticks of unboxed regions.
#[cfg(feature = "llvm")]
#[test]
fn llvm_on_top_prints_the_same_under_deopt_stress() {
    const LLVM_TOP: &[&str] = &[
        "--jit",
        "on",
        "--jit-threshold",
        "20",
        "--jit-top",
        "llvm",
        "--jit-optimize-after",
        "1",
        "--jit-background",
        "off",
        "--jit-stats",
    ];
    let files = ["unbox_floats.st", "jit_edges.st"].map(program);
    let totals = compare_files(&files, LLVM_TOP, &[1, 3], false);
    assert!(totals.iter().all(|f| f.failures > 0), "{totals:?}");
}
