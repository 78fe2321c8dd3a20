//! Optimized compiles on the compile worker (issue 20, item 5): the
//! program goes on in baseline code while a tier-up compiles, and the
//! optimized code is installed at a safe point unless it became stale.
//!
//! In process (deterministic, with the worker's delay knob): a program
//! ends while its compiles are still queued and they install later; a
//! method redefined while its compile is queued never gets that code; a
//! collection while compiles are queued (their constants move) leaves
//! them right. Through `lst` against the interpreter (the oracle): the
//! Smalltalk suite and `tests/programs` tiered at `--jit-optimize-after 1`
//! with `--jit-background on`, `inline_sends.st` so under GC stress with
//! each compile held back, and AWFY benchmarks that check their results.
//!
//! With the feature `llvm`, the in-process cases, the programs under GC
//! stress (`jit_edges.st` too) and the benchmarks run again with LLVM as
//! the top tier (`--jit-top llvm`: its code generation runs on the
//! worker), and an LLVM compile that fails on the worker leaves its unit
//! baseline, declined.

mod support;

use lst_backends::CraneliftJit;
use lst_vm::Vm;
use lst_vm::jit_runtime::boundary::Compiler;
use lst_vm::jit_runtime::tiering::{JitMode, Level, Tiering};
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use lst_vm::value::Value;
use std::path::PathBuf;
use std::time::Duration;

const HERE: Origin = Origin {
    label: "test",
    first_line: 1,
};

/// Long enough for any of these compiles to be queued and installed.
const LIMIT: Duration = Duration::from_secs(120);

/// Makes the compiler of a test's VM.
type MakeJit = fn() -> Box<dyn Compiler>;

/// Cranelift as the top tier.
fn cranelift() -> Box<dyn Compiler> {
    Box::new(CraneliftJit::new().unwrap())
}

/// LLVM as the top tier (`--jit-top llvm`).
#[cfg(feature = "llvm")]
fn llvm() -> Box<dyn Compiler> {
    Box::new(lst_llvm::LlvmJit::new().unwrap())
}

/// lst's own image with the test methods, tiered (baseline first,
/// optimized after one call) with the compiler `make` makes, background
/// compiles on, each held back `delay` on the worker.
fn tiered_vm(make: MakeJit, gc_stress: bool, delay: Duration) -> Vm {
    tiered_vm_with(make(), gc_stress, delay)
}

/// [`tiered_vm`] with the compiler `jit`.
fn tiered_vm_with(jit: Box<dyn Compiler>, gc_stress: bool, delay: Duration) -> Vm {
    let mut vm = support::own_image_with(
        gc_stress,
        &[
            "bgSq: n\n\t^ n * n",
            "bgSum: k\n\t| s |\n\ts := 0.\n\t1 to: k do: [:i | s := s + (self bgSq: i)].\n\t^ s",
        ],
    );
    let tiering = Tiering {
        first: Level::Baseline,
        optimize_after: Some(1),
    };
    vm.set_jit(jit, JitMode::Always, 1, tiering);
    vm.set_jit_background(true, delay);
    vm
}

fn define(vm: &mut Vm, source: &str) {
    support::define_in_object(vm, source);
}

/// `src`'s value, a SmallInt.
fn int(vm: &mut Vm, src: &str) -> i64 {
    match vm.evaluate(src, HERE).unwrap() {
        Evaluation::Value(v) => v.as_int().unwrap_or_else(|| panic!("{src}: {v:?}")),
        other => panic!("{src}: {other:?}"),
    }
}

fn method_of(vm: &mut Vm, selector: &str) -> Value {
    support::method_of_object(vm, selector)
}

/// The baseline compiler (the tier the program waits in) is x86-64 only.
fn has_baseline() -> bool {
    cfg!(target_arch = "x86_64")
}

#[test]
fn the_program_goes_on_while_its_compiles_are_queued() {
    the_program_goes_on_while_compiles_are_queued(cranelift);
}

#[cfg(feature = "llvm")]
#[test]
fn the_program_goes_on_while_its_llvm_compiles_are_queued() {
    the_program_goes_on_while_compiles_are_queued(llvm);
}

fn the_program_goes_on_while_compiles_are_queued(make: MakeJit) {
    if !has_baseline() {
        return;
    }
    // No compile can finish in less than the delay: the answer comes from
    // baseline code while they are queued.
    let mut vm = tiered_vm(make, false, Duration::from_secs(2));
    assert_eq!(int(&mut vm, "nil bgSum: 100"), 338350);
    let sum = method_of(&mut vm, "bgSum:");
    assert!(vm.jit_jobs_queued() >= 1, "nothing was queued");
    let s = vm.jit_stats().unwrap().background.clone();
    assert_eq!(s.installed, 0, "installed before its delay: {s:?}");
    assert_eq!(vm.jit_level(sum, 0), Some(Level::Baseline));
    assert_eq!(vm.finish_jit_jobs(LIMIT), 0, "compiles still queued");
    let s = &vm.jit_stats().unwrap().background;
    assert!(s.installed >= 1 && s.stale == 0 && s.failed == 0, "{s:?}");
    assert_eq!(s.jobs.len() as u64, s.installed);
    // The code generation ran on the worker.
    assert!(s.jobs.iter().all(|j| !j.codegen.is_zero()), "{s:?}");
    assert_eq!(vm.jit_level(sum, 0), Some(Level::Optimized));
    assert_eq!(int(&mut vm, "nil bgSum: 100"), 338350);
}

#[test]
fn a_method_redefined_while_its_compile_is_queued_does_not_get_that_code() {
    a_method_redefined_while_queued_does_not_get_that_code(cranelift);
}

#[cfg(feature = "llvm")]
#[test]
fn a_method_redefined_while_its_llvm_compile_is_queued_does_not_get_that_code() {
    a_method_redefined_while_queued_does_not_get_that_code(llvm);
}

fn a_method_redefined_while_queued_does_not_get_that_code(make: MakeJit) {
    if !has_baseline() {
        return;
    }
    let mut vm = tiered_vm(make, false, Duration::from_secs(1));
    assert_eq!(int(&mut vm, "nil bgSum: 100"), 338350);
    let old = method_of(&mut vm, "bgSq:");
    assert_eq!(vm.jit_level(old, 0), Some(Level::Baseline));
    assert!(vm.jit_jobs_queued() >= 1, "nothing was queued");
    define(&mut vm, "bgSq: n\n\t^ n + n");
    assert_eq!(vm.finish_jit_jobs(LIMIT), 0, "compiles still queued");
    let s = &vm.jit_stats().unwrap().background;
    assert!(s.stale >= 1, "nothing dropped as stale: {s:?}");
    assert_eq!(
        vm.jit_level(old, 0),
        Some(Level::Baseline),
        "the old method's queued code was installed"
    );
    assert_eq!(int(&mut vm, "nil bgSum: 100"), 10100);
}

#[test]
fn a_collection_while_compiles_are_queued_leaves_them_right() {
    a_collection_while_queued_leaves_them_right(cranelift);
}

#[cfg(feature = "llvm")]
#[test]
fn a_collection_while_llvm_compiles_are_queued_leaves_them_right() {
    a_collection_while_queued_leaves_them_right(llvm);
}

fn a_collection_while_queued_leaves_them_right(make: MakeJit) {
    if !has_baseline() {
        return;
    }
    for gc_stress in [false, true] {
        let mut vm = tiered_vm(make, gc_stress, Duration::from_millis(300));
        assert_eq!(int(&mut vm, "nil bgSum: 100"), 338350);
        assert!(vm.jit_jobs_queued() >= 1, "nothing was queued");
        // Objects move under the queued compiles' constants and methods.
        vm.collect_garbage(0).unwrap();
        int(
            &mut vm,
            "(1 to: 50) inject: 0 into: [:a :b | a + b printString size]",
        );
        vm.collect_garbage(0).unwrap();
        assert_eq!(vm.finish_jit_jobs(LIMIT), 0, "compiles still queued");
        let sum = method_of(&mut vm, "bgSum:");
        assert_eq!(vm.jit_level(sum, 0), Some(Level::Optimized));
        assert_eq!(int(&mut vm, "nil bgSum: 100"), 338350);
        assert_eq!(int(&mut vm, "nil bgSum: 1000"), 333833500);
    }
}

/// An LLVM compile that fails on the worker (LLVM rejects the pass
/// pipeline there) leaves its unit baseline, counted as declined, and is
/// not queued again; the program goes on with the right answers.
#[cfg(feature = "llvm")]
#[test]
fn an_llvm_compile_failing_on_the_worker_leaves_its_unit_baseline() {
    if !has_baseline() {
        return;
    }
    let mut jit = lst_llvm::LlvmJit::new().unwrap();
    jit.passes = "no-such-pass".into();
    let mut vm = tiered_vm_with(Box::new(jit), false, Duration::ZERO);
    assert_eq!(int(&mut vm, "nil bgSum: 100"), 338350);
    assert!(vm.jit_jobs_queued() >= 1, "nothing was queued");
    assert_eq!(vm.finish_jit_jobs(LIMIT), 0, "compiles still queued");
    let stats = vm.jit_stats().unwrap();
    let s = &stats.background;
    assert!(s.failed >= 1 && s.installed == 0, "{s:?}");
    assert!(stats.refused >= s.failed, "{stats:?}");
    assert!(stats.refusals.contains_key("llvm passes"), "{stats:?}");
    let queued = s.queued;
    let sum = method_of(&mut vm, "bgSum:");
    assert_eq!(vm.jit_level(sum, 0), Some(Level::Baseline));
    assert_eq!(int(&mut vm, "nil bgSum: 1000"), 333833500);
    let s = &vm.jit_stats().unwrap().background;
    assert_eq!(s.queued, queued, "a failed unit was queued again: {s:?}");
}

/// What `--jit-stats` says of background compiles: (queued, installed),
/// zeros without the line.
fn background_counts(stderr: &str) -> (u64, u64) {
    let Some(line) = stderr.lines().find(|l| l.starts_with("jit: background: ")) else {
        return (0, 0);
    };
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

/// Tiered with every baseline method optimized after one call, compiles
/// in the background.
const TIERED_BACKGROUND: &[&str] = &[
    "--jit",
    "always",
    "--jit-compiler",
    "tiered",
    "--jit-optimize-after",
    "1",
    "--jit-background",
    "on",
    "--jit-stats",
];

/// Runs `file` interpreted and tiered in the background (GC stress and
/// environment `env` if asked); a description of any difference, and the
/// compiled run's background counts.
fn compare(file: &str, gc_stress: bool, env: &[(&str, &str)]) -> (Option<String>, (u64, u64)) {
    compare_with(file, &[], gc_stress, env)
}

/// [`compare`] with the flags `extra` too (`--jit-top llvm`).
fn compare_with(
    file: &str,
    extra: &[&str],
    gc_stress: bool,
    env: &[(&str, &str)],
) -> (Option<String>, (u64, u64)) {
    let interp = support::run(&[file, "--jit", "off"], false);
    let stress: &[&str] = if gc_stress { &["--gc-stress"] } else { &[] };
    let args = [&[file][..], TIERED_BACKGROUND, extra, stress].concat();
    let mut c = support::lst_command(&args);
    c.envs(env.iter().copied()).env("LST_JIT_VERIFY", "1");
    let out = c
        .stdin(std::process::Stdio::null())
        .output()
        .expect("lst runs");
    let jit = (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let stderr = support::without_jit_lines(&jit.2);
    let problem = (interp.0 != jit.0 || interp.1 != jit.1 || interp.2 != stderr).then(|| {
        format!(
            "{file}: differs\n--- interpreted (ok {}):\n{}{}\n--- background (ok {}):\n{}{}",
            interp.0, interp.1, interp.2, jit.0, jit.1, jit.2
        )
    });
    (problem, background_counts(&jit.2))
}

#[test]
fn the_suite_and_the_programs_print_the_same_with_background_compiles() {
    let files: Vec<PathBuf> = [
        support::st_files("tests/smalltalk"),
        support::st_files("tests/programs"),
    ]
    .concat();
    let runs: Vec<_> = files
        .into_iter()
        .map(|f| std::thread::spawn(move || compare(&f.to_string_lossy(), false, &[])))
        .collect();
    let (mut problems, mut installed) = (vec![], 0);
    for run in runs {
        let (problem, (_, n)) = run.join().expect("a runner thread");
        problems.extend(problem);
        installed += n;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(
        installed >= 10,
        "only {installed} background compiles installed"
    );
}

#[test]
fn inlined_code_compiled_in_the_background_is_right_under_gc_stress() {
    let file = support::root().join("tests/programs/inline_sends.st");
    // Held back, each compile sees collections (and a redefinition)
    // between its prepare and its install.
    let delay = [("LST_JIT_BACKGROUND_DELAY_MS", "5")];
    let (problem, (queued, installed)) = compare(&file.to_string_lossy(), true, &delay);
    assert!(problem.is_none(), "{}", problem.unwrap_or_default());
    assert!(
        queued >= 5 && installed >= 1,
        "{queued} queued, {installed} installed"
    );
}

/// LLVM as the top tier, each compile held back so that collections
/// (GC stress) and the redefinitions of `jit_edges.st` happen between
/// its prepare and its install.
#[cfg(feature = "llvm")]
#[test]
fn llvm_code_compiled_in_the_background_is_right_under_gc_stress() {
    let delay = [("LST_JIT_BACKGROUND_DELAY_MS", "5")];
    let (mut queued, mut installed) = (0, 0);
    for name in ["jit_edges.st", "inline_sends.st"] {
        let file = support::root().join("tests/programs").join(name);
        let top = ["--jit-top", "llvm"];
        let (problem, (q, i)) = compare_with(&file.to_string_lossy(), &top, true, &delay);
        assert!(problem.is_none(), "{}", problem.unwrap_or_default());
        queued += q;
        installed += i;
    }
    assert!(
        queued >= 5 && installed >= 1,
        "{queued} queued, {installed} installed"
    );
}

#[test]
fn benchmarks_pass_their_checks_with_background_compiles() {
    benchmarks_pass_their_checks_with(&[]);
}

#[cfg(feature = "llvm")]
#[test]
fn benchmarks_pass_their_checks_with_llvm_compiles_in_the_background() {
    benchmarks_pass_their_checks_with(&["--jit-top", "llvm"]);
}

/// Four AWFY benchmarks (which check their results) tiered with
/// background compiles and the flags `extra`.
fn benchmarks_pass_their_checks_with(extra: &[&str]) {
    let args = [
        TIERED_BACKGROUND,
        extra,
        &[
            "bench",
            "--smoke",
            "--mode",
            "jit",
            "Richards",
            "DeltaBlue",
            "NBody",
            "Havlak",
        ],
    ]
    .concat();
    let (ok, out, err) = support::run(&args, true);
    assert!(ok, "{out}\n{err}");
    for name in ["Richards", "DeltaBlue", "NBody", "Havlak"] {
        assert!(out.contains(name), "{name} did not run:\n{out}");
    }
    let (queued, installed) = background_counts(&err);
    assert!(
        queued >= 1 && installed >= 1,
        "{queued} queued, {installed} installed:\n{err}"
    );
}
