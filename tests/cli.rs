//! The `lst` command line on the embedded image: `-e`, files, the piped
//! REPL, `build-image`, refusing damaged images, and a chunk-format
//! program that gives the same output on our image and on LLST's.

mod support;

use support::{lst, stderr, stdout, temp_dir};

#[test]
fn eval_prints_values_of_the_number_tower() {
    let o = lst(
        &[
            "-e",
            "(2 raisedTo: 100) printString",
            "-e",
            "2 sqrt",
            "-e",
            "2 sqrt printString asNumber = 2 sqrt",
            "-e",
            "(1 bitShift: 62) class",
            "-e",
            "((2 raisedTo: 100) // (2 raisedTo: 98))",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "1267650600228229401496703205376\n1.4142135623730951\ntrue\nLargeInteger\n4\n"
    );
}

#[test]
fn errors_are_reported_and_the_repl_goes_on() {
    let o = lst(&[], "nil foo\n3 +\nx := 6 * 7\n[:a |\n  a + x ] value: 1\n");
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("does not understand"), "{out}");
    assert!(err.contains("stdin:2:4: error"), "{err}");
    assert!(out.ends_with("42\n43\n"), "{out}");
}

#[test]
fn a_failing_expression_makes_a_failing_exit() {
    let o = lst(&["-e", "nil foo"], "");
    assert!(!o.status.success());
}

#[test]
fn files_are_filed_in_and_syntax_errors_point_at_the_line() {
    let dir = temp_dir("filein");
    let file = dir.join("prog.st");
    std::fs::write(
        &file,
        "+Object subclass: #Greeter\n!Greeter\nhello\n  ^ 'hello'\n!\n!Greeter\nbroken\n  ^ 3 + + 4\n!\n+Greeter new hello\n",
    )
    .unwrap();
    let o = lst(&[file.to_str().unwrap()], "");
    let (out, err) = (stdout(&o), stderr(&o) + &stdout(&o));
    assert!(out.contains("hello"), "{out}");
    assert!(err.contains("error"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let o = lst(&["/nonexistent/prog.st"], "");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/prog.st"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn build_image_writes_an_image_that_loads() {
    let dir = temp_dir("build");
    let image = dir.join("own.image");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/image");
    let o = lst(&["build-image", src, "-o", image.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lst(&["--image", image.to_str().unwrap(), "-e", "3 + 4"], "");
    assert_eq!(stdout(&o), "7\n", "{}", stderr(&o));
    // Damaged copies are refused with the reason, never loaded.
    let bytes = std::fs::read(&image).unwrap();
    let cut = dir.join("cut.image");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let o = lst(&["--image", cut.to_str().unwrap(), "-e", "3"], "");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("truncated image"), "{}", stderr(&o));
    let mut flipped = bytes.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 0x40;
    let bad = dir.join("bad.image");
    std::fs::write(&bad, &flipped).unwrap();
    let o = lst(&["--image", bad.to_str().unwrap(), "-e", "3"], "");
    assert!(stderr(&o).contains("checksum"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The same chunk-format program on our image and on LLST's gives the same
/// output. (LLST's file-in also prints a `Compiling Class:selector... ok`
/// line per method and the REPL's own lines; those are dropped here.)
#[test]
fn an_llst_program_gives_the_same_output_on_both_images() {
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/compat.st");
    let llst = lst_test_images::llst_image_path!("DecodeAllMethods.image");
    let llst = llst.to_str().expect("a UTF-8 path");
    let ours = lst(&[program], "");
    assert!(ours.status.success(), "{}", stderr(&ours));
    let theirs = stdout(&lst(&["--image", llst, program], ""));
    let start = theirs
        .find("subclass created")
        .expect("the program ran on LLST's image");
    let theirs: Vec<&str> = theirs[start..]
        .lines()
        .filter(|l| !l.starts_with("Compiling "))
        .take_while(|l| *l != "file in completed")
        .collect();
    let ours = stdout(&ours);
    assert_eq!(ours.lines().collect::<Vec<_>>(), theirs);
    assert!(ours.lines().count() >= 14, "{ours}");
}

#[test]
fn a_saved_image_keeps_globals() {
    let dir = temp_dir("save");
    let image = dir.join("saved.image");
    let save = format!("System saveImage: '{}'", image.display());
    let o = lst(&["-e", "kept := 41", "-e", &save], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lst(&["--image", image.to_str().unwrap(), "-e", "kept + 1"], "");
    assert_eq!(stdout(&o), "42\n", "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn disasm_lists_the_ir_after_each_pass_and_honours_jit_opt() {
    // `inject:into:` has a block body, and the semantic lowering changes
    // its IR, so both kinds of stage (full and "unchanged") appear.
    let o = lst(&["disasm", "--jit", "Collection>>inject:into:"], "");
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let method = out
        .split_once("; the method, pass by pass\n")
        .map(|(_, rest)| rest)
        .expect("a pass-by-pass listing of the method");
    let passes: Vec<&str> = method
        .lines()
        .take_while(|l| !l.starts_with("; the block body"))
        .filter_map(|l| l.strip_prefix("; after "))
        .map(|l| l.split(':').next().unwrap_or(l))
        .collect();
    assert_eq!(
        passes,
        [
            "translate",
            "inline",
            "unbox",
            "lower",
            "unbox-loops",
            "fold"
        ],
        "{out}"
    );
    assert!(out.contains("; the block body at "), "{out}");
    // Switching a pass off by name removes its stage.
    let o = lst(
        &[
            "--jit-opt=-unbox,-inline",
            "disasm",
            "--jit",
            "Collection>>inject:into:",
        ],
        "",
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("; after translate\n"), "{out}");
    // (`unbox-loops`, another pass, still runs.)
    assert!(!out.contains("; after unbox\n"), "{out}");
    assert!(!out.contains("; after unbox:"), "{out}");
    assert!(!out.contains("; after inline"), "{out}");
}

#[test]
fn disasm_shows_bytecode_jit_ir_and_machine_code() {
    let o = lst(&["disasm", "--jit", "SmallInt>>+"], "");
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("doPrimitive 2 prim 10"), "{out}");
    assert!(out.contains("method SmallInt>>+ args 1 temps 0"), "{out}");
    assert!(out.contains("primitive 10 (v0, v1) else bb2(v2)"), "{out}");
    // The Cranelift function (a tail-convention function calling the
    // primitive helper) and its machine code.
    assert!(
        out.contains("; Cranelift IR") && out.contains(") -> i64 tail {"),
        "{out}"
    );
    assert!(
        out.contains("; Cranelift machine code") && out.contains("ret"),
        "{out}"
    );
    // The baseline's machine code: its frame, and the primitive helper
    // called through a register.
    let baseline = out
        .split_once("; baseline machine code")
        .map(|(_, code)| code)
        .unwrap_or_else(|| panic!("no baseline code:\n{out}"));
    assert!(
        baseline.contains("push rbp") && baseline.contains("call rax"),
        "{out}"
    );
    let o = lst(&["disasm", "Nothing>>foo"], "");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no class named Nothing"),
        "{}",
        stderr(&o)
    );
}

/// A primitive that fails runs once: the method goes on after it (it is
/// not run again by the method's own code after the frameless attempt).
/// (Saving answers why it failed, which `saveImage:` raises once.)
#[test]
fn a_failing_primitive_runs_once() {
    let o = lst(&["-e", "System saveImage: '/nonexistent/dir/x.image'"], "");
    assert_eq!(
        stdout(&o).matches("ERROR: cannot save the image").count(),
        1,
        "{}",
        stdout(&o)
    );
}

/// Primitive 112 makes a process only for a method without arguments
/// (binary selectors take one).
#[test]
fn new_process_refuses_methods_with_arguments() {
    let o = lst(
        &[
            "-e",
            "<112 (SmallInt methods at: #+) 3>. #failed",
            "-e",
            "<112 (Object methods at: #printString) 3>. #failed",
        ],
        "",
    );
    assert_eq!(stdout(&o), "failed\nProcess\n", "{}", stderr(&o));
}

/// The tiered JIT is on unless `--jit off` says otherwise: for `-e`, files
/// and the REPL, and for `lst bench`.
#[test]
fn the_jit_is_on_by_default_and_off_on_request() {
    let fib = "Object compile: 'fibD: n n < 2 ifTrue: [^ n]. ^ (self fibD: n - 1) + (self fibD: n - 2)'. nil fibD: 22";
    let on = lst(&["--jit-stats", "-e", fib], "");
    assert!(on.status.success(), "{}", stderr(&on));
    assert_eq!(stdout(&on), "17711\n");
    assert!(stderr(&on).contains("baseline: "), "{}", stderr(&on));
    let off = lst(&["--jit", "off", "--jit-stats", "-e", fib], "");
    assert_eq!(stdout(&off), "17711\n");
    assert!(stderr(&off).contains("jit: off"), "{}", stderr(&off));
    let bench = lst(&["bench", "--smoke", "Fib"], "");
    assert!(stdout(&bench).contains("mode jit"), "{}", stdout(&bench));
    let bench = lst(&["--jit", "off", "bench", "--smoke", "Fib"], "");
    assert!(stdout(&bench).contains("mode interp"), "{}", stdout(&bench));
}

/// `-`, `*`, `>`, `>=`, `=`, `~=`, `//` and `\\` on two SmallInts are
/// special sends that the interpreter answers without a message (as `<`,
/// `<=` and `+` always were); `--stats` counts the messages.
#[test]
fn arithmetic_and_comparisons_on_small_ints_send_no_message() {
    let loop_of = |expr: &str| {
        format!("| x | x := 7. 1 to: 10000 do: [:i | x := {expr}]. x printString size")
    };
    for expr in [
        "x - 1",
        "x * 1",
        "x // 1",
        "x \\\\ 100 + 1",
        "(x > i) ifTrue: [x] ifFalse: [i]",
        "(x >= i) ifTrue: [x] ifFalse: [i]",
        "(x = i) ifTrue: [x] ifFalse: [i]",
        "(x ~= i) ifTrue: [x] ifFalse: [i]",
    ] {
        let o = lst(&["--jit", "off", "--stats", "-e", &loop_of(expr)], "");
        assert!(o.status.success(), "{expr}: {}", stderr(&o));
        let sends: u64 = stderr(&o)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{expr}: no message count in {}", stderr(&o)));
        assert!(
            sends < 100,
            "{expr}: {sends} messages for 10,000 iterations"
        );
    }
}

/// A build without the cargo feature `llvm` knows the LLVM flags and says
/// how to get the back end, instead of rejecting `llvm` as an unknown value.
#[cfg(not(feature = "llvm"))]
#[test]
fn the_llvm_flags_say_how_to_build_the_llvm_back_end() {
    for flags in [["--jit-compiler", "llvm"], ["--jit-top", "llvm"]] {
        let out = support::lst(&[flags[0], flags[1], "-e", "3 + 4"], "");
        assert!(!out.status.success(), "{flags:?}");
        let err = support::stderr(&out);
        assert!(
            err.contains("built without the LLVM back end") && err.contains("--features llvm"),
            "{flags:?}: {err}"
        );
    }
}

#[test]
fn jit_opt_switches_optimizations_by_name_and_rejects_unknown_ones() {
    let expr = "| s | s := 0.0. 1 to: 50 do: [ :i | s := s + (i * 0.5) ]. s";
    let run = |opt: &str| {
        let o = lst(
            &[
                "--jit",
                "always",
                "--jit-compiler",
                "cranelift",
                "--jit-stats",
                opt,
                "-e",
                expr,
            ],
            "",
        );
        assert!(o.status.success(), "{opt}: {}", stderr(&o));
        (stdout(&o), stderr(&o))
    };
    let (on, on_stats) = run("--jit-opt=+unbox");
    let (off, off_stats) = run("--jit-opt=-unbox");
    assert_eq!(on, "637.5\n");
    assert_eq!(off, on);
    assert!(
        !on_stats.contains("; 0 unboxed Float regions"),
        "{on_stats}"
    );
    assert!(
        off_stats.contains("; 0 unboxed Float regions"),
        "{off_stats}"
    );
    let o = lst(&["--jit-opt=-unboxing", "-e", "1"], "");
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("unknown optimization `unboxing`"), "{err}");
    assert!(err.contains("unbox: "), "the known ones are listed: {err}");
}

#[test]
fn jit_opt_switches_inlining_and_jit_stats_counts_it() {
    // `twice:` is called often enough from the loop to record feedback
    // before `run:` compiles (`--jit on`, threshold 3).
    let source = "CLASS InlCli Object\n\
        !InlCli\ntwice: n\n    ^ n + n\n!\n\
        !InlCli\nrun: k\n    | s |\n    s := 0.\n    1 to: k do: [:i | s := s + (self twice: i)].\n    ^ s\n!\n\
        (InlCli new run: 300) printNl.\n(InlCli new run: 300) printNl.\n(InlCli new run: 300) printNl.\n(InlCli new run: 300) printNl.\n";
    let dir = temp_dir("inline");
    let file = dir.join("inl.st");
    std::fs::write(&file, source).unwrap();
    let file = file.to_string_lossy().into_owned();
    let run = |opt: &str| {
        let args = [
            file.as_str(),
            "--jit",
            "on",
            "--jit-threshold",
            "3",
            "--jit-compiler",
            "cranelift",
            "--jit-stats",
            opt,
        ];
        let o = lst(&args, "");
        assert!(o.status.success(), "{opt}: {}", stderr(&o));
        (stdout(&o), stderr(&o))
    };
    let (on, on_stats) = run("--jit-opt=+inline");
    let (off, off_stats) = run("--jit-opt=-inline");
    assert_eq!(on, "90300\n".repeat(4));
    assert_eq!(off, on);
    assert!(
        on_stats.contains("jit: inlining: ") && !on_stats.contains("jit: inlining: 0 sends"),
        "{on_stats}"
    );
    assert!(!off_stats.contains("jit: inlining:"), "{off_stats}");
    let o = lst(&["--jit-opt=-inlining", "-e", "1"], "");
    assert!(stderr(&o).contains("inline: "), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
