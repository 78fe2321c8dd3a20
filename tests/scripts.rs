//! `lst FILE`, `-e` and `bench` as a newcomer meets them (issue 17, items
//! 7–10 and 14): plain statements in a file run, every failure is reported
//! with the file, line and column and makes the exit status non-zero,
//! output to a closed pipe or a full disk ends cleanly, and the command
//! line takes what a user types.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};
use support::{lst_command, stderr, stdout, temp_file};

/// Runs `lst` with empty stdin and captures everything.
fn lst(args: &[&str]) -> Output {
    support::lst(args, "")
}

/// Runs `lst` on a file holding `source`.
fn run_source(test: &str, source: &str) -> (Output, String) {
    let path = temp_file(test, "script.st", source.as_bytes());
    let shown = path.display().to_string();
    (lst(&[&shown]), shown)
}

// -- Item 7: plain statements run ---------------------------------------------------

#[test]
fn plain_statements_in_a_file_run() {
    let (o, _) = run_source("plain", "3 printNl.\n(4 + 5) printNl.\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "3\n9\n", "{}", stderr(&o));
}

#[test]
fn plain_statements_keep_variables_and_span_open_brackets() {
    let source =
        "\"a comment\nover two lines\"\nx := 6 * 7.\n#(1 2) do: [:i |\n    (x + i) printNl].\n";
    let (o, _) = run_source("plain-vars", source);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "43\n44\n", "{}", stderr(&o));
}

#[test]
fn plain_statements_mix_with_chunk_and_builder_formats() {
    let source = "CLASS Greeter Object name\nMETHOD Greeter\nhello\n  ^ 'hello'\n!\n!Greeter\nbye\n  ^ 'bye'\n!\n+Greeter new hello\nGreeter new bye printNl.\n";
    let (o, _) = run_source("mixed", source);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "hello\nbye\n", "{}", stderr(&o));
}

#[test]
fn a_binary_file_is_an_error_naming_the_file_and_place() {
    let mut bytes: Vec<u8> = (0..1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    bytes[0] = b'a';
    bytes[1] = 0xFF;
    let path = temp_file("binary", "random.bin", &bytes);
    let o = lst(&[path.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!(
            "{}:1:2: error: invalid UTF-8 byte 0xFF",
            path.display()
        )),
        "{err}"
    );
}

// -- Item 8: exit status -----------------------------------------------------------------

#[test]
fn a_syntax_error_in_a_file_fails_the_run_and_the_rest_still_runs() {
    let (o, _) = run_source("syntax", "1 printNl.\n3 + .\n2 printNl.\n");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1\n2\n");
}

#[test]
fn an_uncaught_smalltalk_error_in_a_file_fails_the_run() {
    let (o, file) = run_source("uncaught", "nil foo.\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("does not understand"), "{}", stdout(&o));
    assert!(stderr(&o).contains(&format!("{file}:1:")), "{}", stderr(&o));
}

#[test]
fn a_bad_method_in_a_file_fails_the_run() {
    let (o, _) = run_source("bad-method", "!Object\nfoo\n  ^ 3 +\n!\n");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

// -- Item 9: error locations ------------------------------------------------------------

#[test]
fn a_syntax_error_is_reported_at_its_line_and_column_in_the_file() {
    let (o, file) = run_source("where-doit", "+1 printNl\n\n+3 + \n");
    assert!(
        stderr(&o).contains(&format!("{file}:3:6: error")),
        "{}",
        stderr(&o)
    );
    let (o, file) = run_source("where-plain", "1 printNl.\n\n  3 + .\n");
    assert!(
        stderr(&o).contains(&format!("{file}:3:7: error")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_bad_method_is_reported_at_its_line_in_the_file() {
    let (o, file) = run_source("where-method", "\"header\"\n!Object\nfoo\n  ^ 3 + ]\n!\n");
    assert!(
        stderr(&o).contains(&format!("{file}:4:9: error")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn too_many_temporaries_are_reported_at_the_declaration_in_source_terms() {
    let names: Vec<String> = (1..=300).map(|i| format!("t{i}")).collect();
    let (o, file) = run_source("temps", &format!("| {} |\nt1 := 1.\n", names.join(" ")));
    let err = stderr(&o);
    assert!(!o.status.success());
    // `t257` starts after "| " and 256 names of 2–4 characters plus a space.
    let col = 3 + names[..256].iter().map(|n| n.len() + 1).sum::<usize>();
    assert!(err.contains(&format!("{file}:1:{col}: error")), "{err}");
    assert!(err.contains("at most 256 temporaries"), "{err}");
    assert!(!err.contains("operands"), "{err}");
}

#[test]
fn too_many_literals_are_reported_at_the_literal_in_source_terms() {
    let lines: Vec<String> = (1..=300).map(|i| format!("'s{i}'.")).collect();
    let source = format!("!Object\nmany\n{}\n!\n", lines.join("\n"));
    let (o, file) = run_source("literals", &source);
    let err = stderr(&o);
    assert!(!o.status.success());
    // The 257th literal, on line 2 + 257.
    assert!(err.contains(&format!("{file}:259:1: error")), "{err}");
    assert!(err.contains("at most 256 literals"), "{err}");
}

#[test]
fn an_error_in_a_huge_line_echoes_only_its_neighbourhood() {
    let deep = format!("{}3{}", "(".repeat(100_000), ")".repeat(99_999));
    let (o, _) = run_source("deep", &format!("{deep}\n"));
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("error"), "{}", &err[..err.len().min(500)]);
    assert!(err.len() < 2000, "{} bytes of errors", err.len());
}

// -- Item 10: output that cannot be written -----------------------------------------

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = lst_command(&["-e", "1 to: 1000000 do: [:i | i printNl]"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "1\n");
    drop(reader);
    let o = child.wait_with_output().unwrap();
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_closed_pipe_after_the_last_value_ends_quietly() {
    let mut child = lst_command(&["-e", "(1 to: 100000) asArray"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

/// Runs `lst args` with stdout on `/dev/full`.
fn to_full_disk(args: &[&str]) -> Option<Output> {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .ok()?;
    Some(
        lst_command(args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap(),
    )
}

#[test]
fn a_full_disk_is_one_error_and_a_failing_exit() {
    for args in [
        &["-e", "1 to: 100000 do: [:i | i printNl]"][..],
        &["-e", "3 + 4"][..],
        &["bench", "--smoke", "Fib"][..],
    ] {
        let Some(o) = to_full_disk(args) else {
            eprintln!("skipped: no /dev/full");
            return;
        };
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o).trim_end(),
            "lst: cannot write output: No space left on device",
            "{args:?}"
        );
    }
}

// -- Item 14 (parts): the command line ------------------------------------------------

#[test]
fn a_directory_is_called_a_directory() {
    let dir = std::env::temp_dir();
    let o = lst(&[dir.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

#[test]
fn an_expression_may_start_with_a_minus_sign() {
    let o = lst(&["-e", "-7 \\\\ 2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1\n");
}

#[test]
fn bench_writes_no_control_codes_when_not_on_a_terminal() {
    let o = lst(&["bench", "--smoke", "Fib"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains('\x1b'), "{:?}", stdout(&o));
    assert!(!stderr(&o).contains('\x1b'), "{:?}", stderr(&o));
}

#[test]
fn bench_refuses_an_unwritable_json_path_before_running() {
    let start = std::time::Instant::now();
    let o = lst(&["bench", "--smoke", "--json", "/nonexistent-dir/out.json"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent-dir/out.json"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "ran benchmarks: {}", stdout(&o));
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
}

#[test]
fn plain_file_output_goes_to_stdout_in_order() {
    let (o, _) = run_source("order", "+1\n2 printNl.\n+3\n");
    let mut out = Vec::new();
    out.write_all(&o.stdout).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "1\n2\n3\n");
}

#[test]
fn file_in_from_smalltalk_runs_plain_statements_too() {
    let path = temp_file(
        "file-in",
        "plain.st",
        b"3 printNl.\n  'two words' printNl.\n",
    );
    let expr = format!("File fileIn: '{}'", path.display());
    let o = lst(&["-e", &expr]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "3\ntwo words\nfile in completed\n");
}

#[test]
fn too_many_arguments_are_reported_at_the_argument_in_source_terms() {
    let pattern: Vec<String> = (1..=256).map(|i| format!("k{i}: a{i}")).collect();
    let source = format!("!Object\n{}\n  ^ a256\n!\n", pattern.join("\n"));
    let (o, file) = run_source("arguments", &source);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains(&format!("{file}:257:7: error")), "{err}");
    assert!(err.contains("at most 255 arguments"), "{err}");
}
