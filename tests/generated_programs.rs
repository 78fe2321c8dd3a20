//! Generated programs against the interpreter (the oracle): random
//! classes, polymorphic and megamorphic sends, blocks stored and passed,
//! non-local returns, bounded recursion, Floats, LargeIntegers and
//! methods redefined after a warm-up (`support/program_gen.rs` writes
//! them from a seed) must print exactly the same interpreted and under
//! each JIT mode: the baseline and Cranelift at first call, tiered with
//! the optimizing tier after 1 and 20 calls, and Cranelift once hot (which
//! inlines along the feedback).
//!
//! `generated_programs_answer_as_the_interpreter` runs programs for a time
//! budget: `LST_GEN_SECONDS` (default 20), seeds from `LST_GEN_START`
//! (default 1) on; `LST_GEN_SEED=N` runs seed N alone and keeps its
//! program. A mismatch keeps the program under `target/tmp/generated-programs/`
//! and fails with the seed, the mode, the file and the first difference.
//! `regression_seeds_answer_as_the_interpreter` always runs the seeds
//! that once found a bug. `LST_GEN_LST=PATH` runs another build of lst
//! (both as the oracle and compiled) instead of this one's, and
//! `LST_GEN_FLAGS` adds flags to the compiled runs.

mod support;

#[path = "support/program_gen.rs"]
mod program_gen;

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Seeds run on every test run whatever the time budget: a fixed sample
/// (no seed has found a bug on main yet); a seed that finds one goes here
/// with its fix.
const REGRESSION_SEEDS: &[u64] = &[1, 2, 3];

/// The JIT modes compared with the interpreter: the first on every
/// program; of the others (each compiles with Cranelift, which takes most
/// of a run's time), one per program in turn, or all for `LST_GEN_SEED`.
const MODES: &[(&str, &[&str])] = &[
    (
        "baseline",
        &["--jit", "always", "--jit-compiler", "baseline"],
    ),
    (
        "tiered after 1",
        &["--jit", "always", "--jit-optimize-after", "1"],
    ),
    (
        "cranelift once hot",
        &[
            "--jit",
            "on",
            "--jit-threshold",
            "3",
            "--jit-compiler",
            "cranelift",
        ],
    ),
    (
        "tiered after 20",
        &["--jit", "always", "--jit-optimize-after", "20"],
    ),
    (
        "cranelift",
        &["--jit", "always", "--jit-compiler", "cranelift"],
    ),
    (
        "tiered once hot (threshold 2, optimized after 5)",
        &[
            "--jit",
            "on",
            "--jit-threshold",
            "2",
            "--jit-optimize-after",
            "5",
        ],
    ),
    (
        "tiered after 20, GC every 100 allocations",
        &[
            "--jit",
            "always",
            "--jit-optimize-after",
            "20",
            "--gc-stress-every",
            "100",
        ],
    ),
];

/// The modes seed's program runs in (`all`: every one).
fn modes_for(seed: u64, all: bool) -> Vec<(&'static str, &'static [&'static str])> {
    if all {
        return MODES.to_vec();
    }
    let turn = 1 + (seed % (MODES.len() as u64 - 1)) as usize;
    vec![MODES[0], MODES[turn]]
}

/// How one run ended and what it printed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn text(&self) -> String {
        format!(
            "exit success: {}\n--- stdout\n{}--- stderr\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

/// The first difference between the oracle's text and another's, with a
/// few lines around it; `None` when they are the same.
fn first_difference(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let at = (0..e.len().max(a.len()))
        .find(|&k| e.get(k) != a.get(k))
        .unwrap_or(e.len().min(a.len()));
    let from = at.saturating_sub(3);
    let mut out = format!("first difference at line {}:\n", at + 1);
    for (label, lines) in [("interpreter", &e), ("compiled", &a)] {
        out.push_str(&format!("  {label}:\n"));
        for (k, l) in lines.iter().enumerate().skip(from).take(at - from + 4) {
            let mark = if k == at { ">" } else { " " };
            out.push_str(&format!("  {mark} {l}\n"));
        }
    }
    Some(out)
}

/// A compiled run that printed other than the interpreter.
struct Mismatch {
    seed: u64,
    mode: &'static str,
    program: PathBuf,
    difference: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} differs under `{}` (replay: LST_GEN_SEED={} cargo test --release --test generated_programs); program kept in {}\n{}",
            self.seed,
            self.mode,
            self.seed,
            self.program.display(),
            self.difference
        )
    }
}

/// What the compiled runs of the programs did, summed (`--jit-stats`).
#[derive(Debug, Default)]
struct JitWork {
    programs: u64,
    compiled: u64,
    inlined: u64,
    invalidated: u64,
}

impl JitWork {
    fn add(&mut self, stderr: &str) {
        let first_number = |line: &str| -> u64 {
            line.split(|c: char| !c.is_ascii_digit())
                .find_map(|w| w.parse().ok())
                .unwrap_or(0)
        };
        let numbers = |line: &str| -> Vec<u64> {
            line.split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect()
        };
        for line in stderr.lines() {
            if line.starts_with("jit: ") && line.contains(" methods compiled") {
                self.compiled += first_number(line);
            }
            if let Some(rest) = line.strip_prefix("jit: inlining: ") {
                let n = numbers(rest);
                self.inlined += n.first().copied().unwrap_or(0);
                self.invalidated += n.get(2).copied().unwrap_or(0);
            }
        }
    }
}

fn programs_folder() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("generated-programs");
    std::fs::create_dir_all(&d).expect("a folder for generated programs");
    d
}

/// How long one run may take (a program takes well under a second
/// interpreted; compiled runs spend most of theirs compiling).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs `lst program --jit-stats mode` with the JIT checking every IR it
/// builds (`LST_JIT_VERIFY`); a run still going after `RUN_LIMIT` is
/// killed, and its stderr ends with a line saying so.
fn run(program: &str, mode: &[&str]) -> Outcome {
    let args = [&[program, "--jit-stats"][..], mode].concat();
    let mut command = match std::env::var_os("LST_GEN_LST") {
        Some(other) => Command::new(other),
        None => support::lst_command(&[]),
    };
    let mut child = command
        .args(&args)
        .env_remove("LST_GC_STRESS")
        .env("LST_JIT_VERIFY", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lst runs");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("lst is waited for") {
            break Some(status);
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = stderr.join().expect("stderr is read");
    if status.is_none() {
        stderr.push_str(&format!("(killed after {RUN_LIMIT:?})\n"));
    }
    Outcome {
        success: status.is_some_and(|s| s.success()),
        stdout: stdout.join().expect("stdout is read"),
        stderr,
    }
}

/// Lines of the interpreter's output that say the generated source did not
/// compile (a generator bug: such a program tests nothing).
fn compile_errors(o: &Outcome) -> Vec<String> {
    o.stdout
        .lines()
        .chain(o.stderr.lines())
        .filter(|l| l.contains("error: ") && !l.contains("stopped on the Smalltalk error above"))
        .map(str::to_string)
        .collect()
}

/// Runs seed's program interpreted and in every mode; a mismatch keeps
/// the program (named by its seed). `keep` keeps it anyway.
fn check_seed(seed: u64, work: &mut JitWork, keep: bool) -> Result<(), Mismatch> {
    let source = program_gen::generate(seed);
    let kept = programs_folder().join(format!("seed-{seed}.st"));
    // The tests of this file run on threads of one process: each program
    // gets a file of its own.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = programs_folder().join(format!("current-{}-{n}.st", std::process::id()));
    std::fs::write(&scratch, &source).expect("the program is written");
    let path = scratch.to_string_lossy().into_owned();
    let mut oracle = run(&path, &["--jit", "off"]);
    oracle.stderr = support::without_jit_lines(&oracle.stderr);
    let errors = compile_errors(&oracle);
    assert!(
        errors.is_empty(),
        "seed {seed}: the generated program does not compile:\n{}\n{source}",
        errors.join("\n")
    );
    assert!(
        oracle.stdout.ends_with("end\n"),
        "seed {seed}: the program did not run to its end:\n{}",
        oracle.text()
    );
    let result = compare_modes(seed, &path, &oracle, &modes_for(seed, keep), work);
    if keep || result.is_err() {
        std::fs::copy(&scratch, &kept).expect("the program is kept");
    }
    let _ = std::fs::remove_file(&scratch);
    result.map_err(|(mode, difference)| Mismatch {
        seed,
        mode,
        program: kept,
        difference,
    })
}

fn compare_modes(
    seed: u64,
    path: &str,
    oracle: &Outcome,
    modes: &[(&'static str, &[&str])],
    work: &mut JitWork,
) -> Result<(), (&'static str, String)> {
    work.programs += 1;
    let extra = extra_flags();
    for &(name, mode) in modes {
        let flags: Vec<&str> = mode
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .collect();
        let mut compiled = run(path, &flags);
        work.add(&compiled.stderr);
        compiled.stderr = support::without_jit_lines(&compiled.stderr);
        if let Some(d) = first_difference(&oracle.text(), &compiled.text()) {
            return Err((name, format!("seed {seed}: {d}")));
        }
    }
    Ok(())
}

/// Flags added to every compiled run (`LST_GEN_FLAGS`, split on spaces:
/// e.g. `--jit-opt=-inline` to bisect a mismatch to a pass).
fn extra_flags() -> Vec<String> {
    std::env::var("LST_GEN_FLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
    )
}

#[test]
fn generated_programs_answer_as_the_interpreter() {
    let mut work = JitWork::default();
    if let Some(seed) = env_u64("LST_GEN_SEED") {
        let kept = programs_folder().join(format!("seed-{seed}.st"));
        eprintln!("seed {seed}: program in {}", kept.display());
        if let Err(m) = check_seed(seed, &mut work, true) {
            panic!("{m}");
        }
        return;
    }
    let budget = Duration::from_secs(env_u64("LST_GEN_SECONDS").unwrap_or(20));
    let mut seed = env_u64("LST_GEN_START").unwrap_or(1);
    let start = Instant::now();
    let mut mismatches = Vec::new();
    while start.elapsed() < budget && mismatches.len() < 5 {
        if let Err(m) = check_seed(seed, &mut work, false) {
            eprintln!("{m}");
            mismatches.push(m.to_string());
        }
        seed += 1;
    }
    eprintln!("generated programs: {work:?}, last seed {}", seed - 1);
    assert!(
        mismatches.is_empty(),
        "{} of {} programs differ:\n{}",
        mismatches.len(),
        work.programs,
        mismatches.join("\n")
    );
    assert!(work.programs >= 1, "no program ran");
    assert!(work.compiled > 0, "the JIT compiled nothing: {work:?}");
    assert!(work.inlined > 0, "no send was inlined: {work:?}");
}

#[test]
fn regression_seeds_answer_as_the_interpreter() {
    let mut work = JitWork::default();
    for &seed in REGRESSION_SEEDS {
        if let Err(m) = check_seed(seed, &mut work, false) {
            panic!("{m}");
        }
    }
}

#[test]
fn a_difference_is_reported_with_its_line() {
    let oracle = "1\n2\n3\n4\n";
    assert_eq!(first_difference(oracle, oracle), None);
    let d = first_difference(oracle, "1\n2\n5\n4\n").expect("a difference");
    assert!(d.contains("line 3"), "{d}");
    assert!(d.contains("> 3") && d.contains("> 5"), "{d}");
    let shorter = first_difference(oracle, "1\n2\n").expect("a difference");
    assert!(shorter.contains("line 3"), "{shorter}");
}

#[test]
fn outcomes_that_differ_only_in_exit_status_differ() {
    let a = Outcome {
        success: true,
        stdout: "x\n".into(),
        stderr: String::new(),
    };
    let b = Outcome {
        success: false,
        stdout: "x\n".into(),
        stderr: String::new(),
    };
    assert!(first_difference(&a.text(), &b.text()).is_some());
}

#[test]
fn jit_statistics_are_counted() {
    let mut work = JitWork::default();
    work.add(
        "jit: 228 methods compiled, 0 declined, 95 recompiled optimized once hot\n\
         jit: inlining: 12 sends inlined, 308 not; 2 units invalidated, 0 inlined frames materialized, 0 units deoptimized too often\n",
    );
    assert_eq!(
        (work.compiled, work.inlined, work.invalidated),
        (228, 12, 2)
    );
}
