//! Errors a newcomer meets must be clear, short and bounded (issue 17,
//! items 12–14): redefining a class the VM relies on is refused; an error
//! raised while an error is being reported ends with a short message; a
//! too-large integer says so without printing a million digits; a bad
//! `--heap-max`, `System saveImage:` argument or image says what is wrong.

mod support;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What a bounded run of `lst` produced.
struct Run {
    /// Exit status; `None` if it had to be killed.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Total bytes written to stdout and stderr (counted past the cap).
    bytes: usize,
    elapsed: Duration,
}

/// Most output a run may write before it counts as runaway.
const OUTPUT_CAP: usize = 64 << 10;
/// Longest a run may take.
const TIME_CAP: Duration = Duration::from_secs(30);

/// Reads `from` to its end, keeping at most `OUTPUT_CAP` bytes but
/// counting them all.
fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<(Vec<u8>, usize)> {
    std::thread::spawn(move || {
        let (mut kept, mut total, mut buf) = (Vec::new(), 0, [0u8; 1 << 16]);
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
            let room = OUTPUT_CAP.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        (kept, total)
    })
}

/// Runs `lst args` with `stdin`, killing it after [`TIME_CAP`].
fn lst(args: &[&str], stdin: &str) -> Run {
    let start = Instant::now();
    let mut child = support::lst_command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lst runs");
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > TIME_CAP {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, out_n) = out.join().unwrap();
    let (err, err_n) = err.join().unwrap();
    Run {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        bytes: out_n + err_n,
        elapsed: start.elapsed(),
    }
}

/// Asserts the run ended by itself, within the time and output caps.
fn assert_bounded(r: &Run) {
    assert!(
        r.code.is_some() && r.elapsed < TIME_CAP,
        "still running after {:?}",
        r.elapsed
    );
    assert!(
        r.bytes < OUTPUT_CAP,
        "{} bytes of output; it begins:\n{}\n{}",
        r.bytes,
        &r.stdout[..r.stdout.len().min(2000)],
        &r.stderr[..r.stderr.len().min(2000)]
    );
}

// -- Item 12: redefining the classes the VM relies on --------------------------------

#[test]
fn redefining_a_class_the_vm_relies_on_is_refused_and_the_repl_goes_on() {
    let r = lst(
        &[],
        "Object subclass: #Array variables: #(zz yy)\n\
         Object subclass: #Object\n\
         Object subclass: #Collection variables: #(a)\n\
         nil foo\n\
         #(1 2) isEmpty\n\
         Array superclass\n",
    );
    assert_bounded(&r);
    let refusals = r.stdout.matches("ERROR: cannot redefine").count();
    assert_eq!(refusals, 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("the VM relies on"),
        "the refusal says why: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("nil (class Undefined): does not understand foo"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with("false\nIndexedCollection\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn redeclaring_a_vm_class_unchanged_and_redefining_ones_own_class_still_work() {
    let r = lst(
        &[],
        "IndexedCollection subclass: #Array\n\
         Object subclass: #Foo variables: #(a)\n\
         Object subclass: #Foo variables: #(a b)\n\
         Foo new basicSize\n\
         Foo subclass: #Foo\n\
         #(1 2) size\n",
    );
    assert_bounded(&r);
    assert!(
        r.stdout.starts_with(
            "subclass created: Array\nsubclass created: Foo\nsubclass created: Foo\n2\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("ERROR: cannot make Foo a subclass of itself"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("2\n"), "{}", r.stdout);
}

// -- Item 12: an error while reporting an error ----------------------------------------

/// Runs REPL `lines`, then `nil foo` and `6 * 7`; the failure must end
/// with the short fallback and the REPL must go on.
fn assert_short_fallback(lines: &str) {
    let r = lst(&[], &format!("{lines}nil foo\n6 * 7\n"));
    assert_bounded(&r);
    assert!(
        r.stderr.contains("lst: error while reporting an error:"),
        "stderr: {}\nstdout: {}",
        r.stderr,
        &r.stdout[..r.stdout.len().min(2000)]
    );
    assert!(
        r.stderr.contains("does not understand #foo"),
        "the fallback names the original error: {}",
        r.stderr
    );
    assert!(r.stdout.ends_with("42\n"), "{}", r.stdout);
}

#[test]
fn a_failing_error_method_ends_with_a_short_message() {
    assert_short_fallback("Object compile: 'error: aString\n\taString zork'\n");
}

#[test]
fn a_failing_backtrace_printer_ends_with_a_short_message() {
    assert_short_fallback("String compile: 'printLine\n\t^ self zork'\n");
}

#[test]
fn a_receiver_whose_printstring_fails_ends_with_a_short_message() {
    let r = lst(
        &[],
        "Object subclass: #Bad\n\
         Bad compile: 'printString\n\t^ self zork'\n\
         Bad new foo\n\
         6 * 7\n",
    );
    assert_bounded(&r);
    assert!(
        r.stderr.contains("lst: error while reporting an error:")
            && r.stderr.contains("Bad does not understand #foo"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.ends_with("42\n"), "{}", r.stdout);
}

// -- Item 13: integers too large ----------------------------------------------------------

#[test]
fn an_integer_past_the_size_limit_says_integer_too_large() {
    let r = lst(&["-e", "| x | x := 2. 30 timesRepeat: [x := x * x]. x"], "");
    assert_bounded(&r);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stdout.contains("ERROR: integer too large"),
        "{}",
        &r.stdout[..r.stdout.len().min(2000)]
    );
    assert!(!r.stdout.contains("not a number"), "{}", r.stdout);
}

#[test]
fn an_error_message_does_not_print_a_huge_receiver_whole() {
    let r = lst(&["-e", "(2 raisedTo: 4000000) foo"], "");
    assert_bounded(&r);
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.len() < 400, "{}", &first[..first.len().min(2000)]);
    assert!(
        first.contains("… (1204120 digits) (class LargeInteger): does not understand foo"),
        "{first}"
    );
}

#[test]
fn an_error_message_is_cut_whatever_builds_it() {
    // The index is printed whole by Array's own message; error: cuts it.
    let r = lst(&["-e", "#(1 2) at: (2 raisedTo: 4000000)"], "");
    assert_bounded(&r);
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.len() < 2100, "{}", &first[..first.len().min(3000)]);
    assert!(
        first.starts_with("ERROR: array indexing error (index 9608"),
        "{first}"
    );
    assert!(first.ends_with("… (1204159 characters)"), "{first}");
}

// -- Item 14: saveImage:, --heap-max and an image whose error handling fails ---------------

#[test]
fn save_image_with_a_non_string_is_an_error() {
    let r = lst(&["-e", "System saveImage: 42"], "");
    assert_bounded(&r);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stdout
            .contains("ERROR: saveImage: expects a String path, got SmallInt 42"),
        "{}",
        r.stdout
    );
}

#[test]
fn save_image_to_an_unwritable_path_says_why() {
    let r = lst(&["-e", "System saveImage: '/nonexistent/dir/x.image'"], "");
    assert_bounded(&r);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stdout.contains(
            "ERROR: cannot save the image to /nonexistent/dir/x.image: No such file or directory"
        ),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

/// `flag` refuses each of `refused` (exit 2, nothing run, the flag named
/// and `says` in the message) and runs with `accepted`.
fn assert_mib_flag(flag: &str, refused: &[&str], says: &str, accepted: &str) {
    for mib in refused {
        let r = lst(&[flag, mib, "-e", "3 + 4"], "");
        assert_eq!(r.code, Some(2), "{flag} {mib}: {}", r.stderr);
        assert!(
            r.stderr.contains(flag) && r.stderr.contains(says),
            "{flag} {mib}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
    let r = lst(&[flag, accepted, "-e", "3 + 4"], "");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "7\n"),
        "{flag} {accepted}: {}",
        r.stderr
    );
}

#[test]
fn a_stack_size_out_of_range_is_refused() {
    assert_mib_flag("--stack-size", &["0"], "at least 1", "1");
    assert_mib_flag("--stack-size", &["16385"], "at most 16384", "16384");
    assert_mib_flag("--stack-size", &["lots"], "whole number", "512");
}

#[test]
fn a_heap_max_below_the_minimum_is_refused() {
    assert_mib_flag("--heap-max", &["0", "1", "2", "7"], "at least 8", "8");
    assert_mib_flag("--heap-max", &["99999999999999999"], "at most", "4096");
}

#[test]
fn an_llst_image_whose_error_handling_fails_says_so_and_exits_non_zero() {
    let Some(image) = lst_test_images::path("VMPrimitives.image") else {
        return;
    };
    let r = lst(&["--image", &image.to_string_lossy()], "");
    assert_bounded(&r);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("lst: the image's error handling failed recursively")
            && r.stderr.contains("may lack a working"),
        "{}",
        r.stderr
    );
}
