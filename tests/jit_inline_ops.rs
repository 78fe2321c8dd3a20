//! The fast paths of the semantic lowering (`lst_jit::semantic`), as each
//! back end selects instructions for them, answer as the interpreter
//! does: SmallInt arithmetic, compares and bit operations at their edges
//! (`tests/programs/smallint_ops.st`: signs, zero divisors, results that
//! overflow into LargeIntegers) and Float operations with every kind of
//! argument, boxed results and a redefined method
//! (`tests/programs/float_ops.st`) print the same interpreted and compiled
//! by each of the JIT's compilers (Float also under GC stress).

mod support;
use std::path::Path;

/// Runs `lst` with `args`; answers (exit success, stdout, stderr without
/// the JIT's own `jit: ` lines).
fn lst(args: &[&str]) -> (bool, String, String) {
    let (ok, stdout, stderr) = support::run(args, true);
    (ok, stdout, support::without_jit_lines(&stderr))
}

fn program(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `name` interpreted and compiled by `compiler` (with `extra`
/// flags); answers the interpreter's stdout after checking both agree.
fn same_as_interpreted(name: &str, compiler: &str, extra: &[&str]) -> String {
    let file = program(name);
    let interp = lst(&[&file, "--jit", "off"]);
    let args = [
        &[file.as_str(), "--jit-compiler", compiler, "--jit", "always"],
        extra,
    ]
    .concat();
    let jit = lst(&args);
    assert_eq!(
        interp, jit,
        "{name}: {compiler} {extra:?} differs from the interpreter"
    );
    interp.1
}

fn smallint_ops(compiler: &str) {
    let out = same_as_interpreted("smallint_ops.st", compiler, &[]);
    assert!(out.lines().count() > 200, "{out}");
    assert!(out.contains("division by zero"), "{out}");
}

fn float_ops(compiler: &str) {
    for extra in [&[][..], &["--gc-stress"][..]] {
        let out = same_as_interpreted("float_ops.st", compiler, extra);
        assert!(out.contains("125125.0"), "{out}");
        assert!(out.contains("not a number: nil"), "{out}");
    }
}

#[test]
fn baseline_code_answers_as_the_interpreter() {
    smallint_ops("baseline");
    float_ops("baseline");
}

#[test]
fn cranelift_code_answers_as_the_interpreter() {
    smallint_ops("cranelift");
    float_ops("cranelift");
}
