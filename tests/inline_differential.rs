//! Speculative inlining against the interpreter (the oracle):
//! `tests/programs/inline_sends.st` (a Bounce-like method with instance
//! variables, temporaries and branches; nested inlining; a polymorphic
//! site; SmallInt overflow inside an inlined body, whose fallback send
//! materializes the inlined frame; an error inside an inlined body, whose
//! backtrace must name the inlined method; deep recursion through inlined
//! code; an inlined method redefined mid-run, after which the new one
//! must run) prints exactly the same interpreted and compiled by
//! Cranelift: every method at its first call (no feedback yet, so little
//! is inlined), once hot (after feedback), tiered, and under GC stress.
//! Where feedback exists, sends must really have been inlined, frames
//! materialized and units invalidated (`--jit-stats`), or the comparison
//! proves nothing; with `--jit-opt=-inline` nothing may be inlined.

mod support;

fn program() -> String {
    support::root()
        .join("tests/programs/inline_sends.st")
        .to_string_lossy()
        .into_owned()
}

/// What `--jit-stats`' inlining line says: (inlined, invalidated,
/// materialized); zeros without the line.
fn inlining(stderr: &str) -> (u64, u64, u64) {
    let Some(line) = stderr.lines().find(|l| l.starts_with("jit: inlining: ")) else {
        return (0, 0, 0);
    };
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers[..] {
        [inlined, _, invalidated, materialized] => (inlined, invalidated, materialized),
        _ => panic!("unexpected inlining line: {line}"),
    }
}

/// Runs the program interpreted and compiled as `jit` (flags) says, with
/// GC stress if asked; both must end alike and print the same (stderr
/// without the JIT's own lines). Answers the compiled run's inlining
/// counts.
fn same_as_interpreted(jit: &[&str], gc_stress: bool) -> (u64, u64, u64) {
    let file = program();
    let interp = support::run(&[file.as_str(), "--jit", "off"], true);
    let stress: &[&str] = if gc_stress { &["--gc-stress"] } else { &[] };
    let args = [&[file.as_str(), "--jit-stats"][..], jit, stress].concat();
    let compiled = support::run(&args, true);
    let stderr: String = compiled
        .2
        .lines()
        .filter(|l| !l.starts_with("jit: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        (interp.0, &interp.1, &interp.2),
        (compiled.0, &compiled.1, &stderr),
        "{jit:?} (GC stress {gc_stress}) differs from the interpreter"
    );
    // The program ran to its end, the redefined method included.
    assert!(interp.1.contains("193600"), "{}", interp.1);
    assert!(interp.1.contains("IBall>>add:to:"), "{}", interp.1);
    inlining(&compiled.2)
}

const HOT: &[&str] = &[
    "--jit",
    "on",
    "--jit-threshold",
    "3",
    "--jit-compiler",
    "cranelift",
];

#[test]
fn inlined_once_hot_answers_as_the_interpreter() {
    for stress in [false, true] {
        let (inlined, invalidated, materialized) = same_as_interpreted(HOT, stress);
        assert!(inlined >= 10, "only {inlined} sends inlined");
        assert!(invalidated >= 1, "the redefinition invalidated nothing");
        assert!(
            materialized >= 100,
            "only {materialized} frames materialized"
        );
    }
}

#[test]
fn compiled_at_first_call_answers_as_the_interpreter() {
    let always = ["--jit", "always", "--jit-compiler", "cranelift"];
    same_as_interpreted(&always, false);
    same_as_interpreted(&always, true);
}

#[test]
fn tiered_answers_as_the_interpreter() {
    for after in ["1", "20"] {
        let tiered = [
            "--jit",
            "always",
            "--jit-compiler",
            "tiered",
            "--jit-optimize-after",
            after,
        ];
        let (inlined, _, _) = same_as_interpreted(&tiered, false);
        if after == "20" {
            assert!(inlined >= 10, "tiered: only {inlined} sends inlined");
        }
        same_as_interpreted(&tiered, true);
    }
}

#[test]
fn switched_off_nothing_is_inlined_and_the_answers_are_the_same() {
    let off = [HOT, &["--jit-opt=-inline"]].concat();
    assert_eq!(same_as_interpreted(&off, false), (0, 0, 0));
}
