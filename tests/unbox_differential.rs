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
//!
//! Unboxed loops (`lst_jit::semantic::loops`): `tests/programs/unbox_loops.st`
//! (Mandelbrot-like loops left by `^` and by their condition, promoted
//! temporaries going to an infinity and a NaN, a temporary sent to a real
//! method and stored in the loop, a leaf turning SmallInt mid-loop, and
//! Float>>- and Float>>* redefined mid-loop so that a promoted temporary
//! becomes a SmallInt and nil) prints exactly the same interpreted and
//! tiered (recompiled after one call, compiled at once), with and without
//! `--jit-opt=-unbox-loops`, under GC stress (every write-back collects)
//! and with `--jit-deopt-stress 3` (the loop copy's guards fail often, so
//! it leaves for the original loop and comes back). That the loop pass
//! copies those loops is checked in process, on the IR the optimizing
//! compiler reads for each of the program's methods.

mod support;

/// Runs `lst` with `args`, stdin empty, with Cranelift's verifier on;
/// answers (exit success, stdout, stderr).
fn lst(args: &[&str]) -> (bool, String, String) {
    support::run(args, true)
}

fn program() -> String {
    program_named("unbox_floats.st")
}

fn program_named(name: &str) -> String {
    support::root()
        .join("tests/programs")
        .join(name)
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

/// Runs `tests/programs/unbox_loops.st` interpreted and tiered with
/// `extra` flags; both must end alike and print the same.
fn loops_same_as_interpreted(extra: &[&str]) {
    let file = program_named("unbox_loops.st");
    let interp = lst(&[file.as_str(), "--jit", "off"]);
    let args = [&[file.as_str()][..], TIERED, extra].concat();
    let compiled = lst(&args);
    let stderr = support::without_jit_lines(&compiled.2);
    assert_eq!(
        (interp.0, &interp.1, &interp.2),
        (compiled.0, &compiled.1, &stderr),
        "{extra:?} differs from the interpreter"
    );
    for expected in ["Array (inf nan true false)", "4582", "\n7\nnil\n"] {
        assert!(interp.1.contains(expected), "{expected}: {}", interp.1);
    }
}

#[test]
fn unboxed_loops_answer_as_the_interpreter() {
    loops_same_as_interpreted(&[]);
    loops_same_as_interpreted(&["--jit-opt=-unbox-loops"]);
}

#[test]
fn unboxed_loops_under_gc_stress_answer_as_the_interpreter() {
    loops_same_as_interpreted(&["--gc-stress"]);
}

#[test]
fn unboxed_loops_under_deopt_stress_answer_as_the_interpreter() {
    loops_same_as_interpreted(&["--jit-deopt-stress", "3"]);
    loops_same_as_interpreted(&["--jit-deopt-stress", "1"]);
}

#[cfg(feature = "llvm")]
#[test]
fn llvm_unboxed_loops_answer_as_the_interpreter() {
    let top = ["--jit-top", "llvm"];
    loops_same_as_interpreted(&top);
    loops_same_as_interpreted(&[&top[..], &["--gc-stress"]].concat());
    loops_same_as_interpreted(&[&top[..], &["--jit-deopt-stress", "3"]].concat());
}

/// The methods of class ULoop in `tests/programs/unbox_loops.st` that
/// need neither its instance variable nor the class, as source.
fn loop_methods() -> Vec<String> {
    let text = std::fs::read_to_string(program_named("unbox_loops.st")).unwrap();
    text.split("!ULoop\n")
        .skip(1)
        .filter_map(|chunk| chunk.split_once("\n!\n").map(|(m, _)| m.to_string()))
        .filter(|m| !m.contains("count") && !m.contains("ULoop"))
        .collect()
}

/// How many loops the optimizing compiler's IR for Object>>`selector`
/// copies (one `countdown_tick` per copy) with the optimizations `opts`.
fn copied_loops(vm: &lst_vm::Vm, method: lst_vm::value::Value, opts: &str) -> usize {
    use lst_backends::jit::{FastPaths, read_unit};
    use lst_backends::optimizations::Optimizations;
    let changes = Optimizations::parse_changes(opts).unwrap();
    let paths = FastPaths::optimizing(Optimizations::all().changed(&changes));
    let unit = read_unit(vm, method, 0, paths).unwrap();
    lst_jit::verify::verify(&unit.ir).unwrap_or_else(|e| panic!("{e:?}\n{}", unit.ir));
    let ticks = unit.ir.blocks.iter().flat_map(|b| &b.insts);
    ticks
        .filter(|d| d.inst == lst_jit::ir::Inst::CountdownTick)
        .count()
}

#[test]
fn the_programs_loops_are_copied_unless_switched_off() {
    let methods = loop_methods();
    let sources: Vec<&str> = methods.iter().map(String::as_str).collect();
    let mut vm = support::own_image_with(false, &sources);
    let mut copied = vec![];
    for selector in [
        "escape:with:",
        "grow:by:times:",
        "leafTurns:",
        "sumTo:",
        "firstAbove:",
        "redefineAt:with:",
        "identityLeftBy:",
        "mandelbrot:",
    ] {
        let m = support::method_of_object(&mut vm, selector);
        assert_eq!(copied_loops(&vm, m, "-unbox-loops"), 0, "{selector}");
        copied.push((selector, copied_loops(&vm, m, "")));
    }
    let expected = [1, 1, 1, 1, 1, 1, 1, 0];
    let want: Vec<(&str, usize)> = copied.iter().map(|c| c.0).zip(expected).collect();
    assert_eq!(copied, want, "loops copied per method");
}
