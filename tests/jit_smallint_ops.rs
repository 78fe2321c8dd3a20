//! SmallInt arithmetic, compares and bit operations at their edges
//! (`tests/programs/smallint_ops.st`: signs, zero divisors, results that
//! overflow into LargeIntegers) print the same interpreted and compiled by
//! each of the JIT's compilers: the fast paths of the semantic lowering
//! (`lst_jit::semantic`) as each back end selects instructions for them.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `lst` with `args`; answers (exit success, stdout, stderr without
/// the JIT's own `jit: ` lines).
fn lst(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lst"))
        .args(args)
        .env_remove("LST_GC_STRESS")
        .env("LST_JIT_VERIFY", "1")
        .stdin(Stdio::null())
        .output()
        .expect("lst runs");
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("jit: "))
        .map(|l| format!("{l}\n"))
        .collect();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn program() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs/smallint_ops.st")
        .to_string_lossy()
        .into_owned()
}

fn same_as_interpreted(compiler: &str) {
    let file = program();
    let interp = lst(&[&file, "--jit", "off"]);
    assert!(interp.1.lines().count() > 200, "{}", interp.1);
    assert!(interp.1.contains("division by zero"), "{}", interp.1);
    let jit = lst(&[&file, "--jit-compiler", compiler, "--jit", "always"]);
    assert_eq!(interp, jit, "{compiler} differs from the interpreter");
}

#[test]
fn baseline_code_answers_as_the_interpreter() {
    same_as_interpreted("baseline");
}

#[test]
fn cranelift_code_answers_as_the_interpreter() {
    same_as_interpreted("cranelift");
}
