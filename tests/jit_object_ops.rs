//! The object operations of the semantic lowering (`at:`, `at:put:`,
//! `size`, `class`, `==`, `new:`, guarded by their send site's cache), as
//! each back end selects instructions for them, answer as the interpreter
//! does (`tests/programs/object_ops.st`: Arrays, ByteArrays and Strings,
//! indexes out of range and not SmallInts, receivers of other classes at
//! the same sites, redefinitions; plain and under GC stress) and so do
//! quick methods (`tests/programs/quick_ops.st`), and the object ones
//! fire: in a loop of them (`tests/programs/object_loop.st`) almost no
//! send reaches a send site, in either back end.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `lst` with `args`; answers (exit success, stdout, stderr without
/// the JIT's own `jit: ` lines, those lines).
fn lst(args: &[&str]) -> (bool, String, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lst"))
        .args(args)
        .env_remove("LST_GC_STRESS")
        .env("LST_JIT_VERIFY", "1")
        .stdin(Stdio::null())
        .output()
        .expect("lst runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (jit, other): (Vec<&str>, Vec<&str>) = stderr.lines().partition(|l| l.starts_with("jit: "));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        other.join("\n"),
        jit.join("\n"),
    )
}

fn program(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `name` compiled by `compiler` prints what the interpreter prints,
/// plain and under GC stress; answers the interpreter's stdout and
/// stderr.
fn same_as_interpreted(name: &str, compiler: &str) -> String {
    let file = program(name);
    let interp = lst(&[&file, "--jit", "off"]);
    for extra in [&[][..], &["--gc-stress"][..]] {
        let args = [
            &[file.as_str(), "--jit-compiler", compiler, "--jit", "always"],
            extra,
        ]
        .concat();
        let jit = lst(&args);
        assert_eq!(
            (&interp.0, &interp.1, &interp.2),
            (&jit.0, &jit.1, &jit.2),
            "{name}: {compiler} {extra:?} differs from the interpreter"
        );
    }
    format!("{}{}", interp.1, interp.2)
}

fn object_and_quick_ops(compiler: &str) {
    let all = same_as_interpreted("object_ops.st", compiler);
    assert!(all.contains("ByteArray (251 252 253 254 255)"), "{all}");
    assert!(all.contains("index 21, length 20"), "{all}");
    // new: at sizes inside and beyond the inline allocation's, no object
    // wrong (not the right size, not all nil, the same as the one before).
    assert!(all.contains("\n300 last\n"), "{all}");
    let all = same_as_interpreted("quick_ops.st", compiler);
    assert!(all.contains("2146\n2146\n"), "{all}");
    assert!(all.contains("2306"), "{all}");
}

/// The number of sends that reached a send site, from `--jit-stats`.
fn sends(jit_lines: &str) -> u64 {
    let line = jit_lines
        .lines()
        .find(|l| l.contains("inline caches hit"))
        .unwrap_or_else(|| panic!("no send statistics in {jit_lines}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "sends").expect("`N sends`");
    words[at - 1].parse().expect("a count of sends")
}

/// `object_loop.st`'s 40 000 object operations run inline in `compiler`'s
/// code: fewer than 1 000 sends reach a site.
fn fast_paths_fire(compiler: &str) {
    let file = program("object_loop.st");
    let (ok, out, err, jit) = lst(&[
        &file,
        "--jit-compiler",
        compiler,
        "--jit",
        "always",
        "--jit-stats",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "505000\n");
    let n = sends(&jit);
    assert!(n < 1000, "{compiler}: {n} sends reached a site:\n{jit}");
}

#[test]
fn baseline_object_ops_answer_as_the_interpreter() {
    object_and_quick_ops("baseline");
}

#[test]
fn cranelift_object_ops_answer_as_the_interpreter() {
    object_and_quick_ops("cranelift");
}

#[test]
fn baseline_object_ops_fire() {
    fast_paths_fire("baseline");
}

#[test]
fn cranelift_object_ops_fire() {
    fast_paths_fire("cranelift");
}
