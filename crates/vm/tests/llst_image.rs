//! LLST's own images run unmodified: the start-up test suite, REPL lines,
//! file-in programs, deep recursion, non-local return, errors.

mod common;
use common::*;
use lst_vm::ExitStatus;

const DAM: &str = "DecodeAllMethods.image";

fn count(output: &str, suffix: &str) -> usize {
    output.lines().filter(|l| l.ends_with(suffix)).count()
}

#[test]
fn startup_test_suite_passes() {
    let Some((status, out)) = run_image(DAM, "", options()) else {
        return;
    };
    assert_eq!(status, ExitStatus::Returned);
    assert_eq!(count(&out, "OK"), 134, "{out}");
    assert_eq!(count(&out, "FAIL"), 0, "{out}");
}

#[test]
fn startup_test_suite_passes_under_gc_stress() {
    let Some((status, out)) = run_image(DAM, "", stress_options()) else {
        return;
    };
    assert_eq!(status, ExitStatus::Returned);
    assert_eq!(count(&out, "OK"), 134, "{out}");
    assert_eq!(count(&out, "FAIL"), 0, "{out}");
}

#[test]
fn repl_evaluates_lines_and_survives_errors() {
    let input =
        "3 + 4 * 2\nnil foo\n7 / 0\n#(3 1 2) asList sort\n| t | t <- 5. ^ t * t\n'a' + 'b'\n";
    let Some((status, out)) = run_image(DAM, input, options()) else {
        return;
    };
    assert_eq!(status, ExitStatus::Returned);
    let lines = after_tests(&out);
    let expect = [
        "14",
        "ERROR",
        "nil (class Undefined): does not understand foo",
        "Backtrace:",
        "error:(Undefined, String)",
        "doesNotUnderstand:(Undefined, Symbol)",
        "doItCommand(Undefined)",
        "nil",
        "ERROR",
        "division by zero",
        "Backtrace:",
        "error:(SmallInt, String)",
        "quo:(SmallInt, SmallInt)",
        "/(SmallInt, SmallInt)",
        "doItCommand(Undefined)",
        "nil",
        "List (1 2 3)",
        "25",
        "ab",
    ];
    assert_eq!(lines, expect, "{out}");
}

#[test]
fn small_integers_never_wrap_silently() {
    // LLST wraps at 31 bits; our SmallInts are 63-bit and overflow fails the
    // primitive, so the image's own fallback code runs.
    let input = "1073741823 + 1\n4611686018427387903 + 1\n";
    let Some((_, out)) = run_image(DAM, input, options()) else {
        return;
    };
    let lines = after_tests(&out);
    assert_eq!(lines[0], "1073741824");
    assert!(!lines.iter().any(|l| l.starts_with('-')), "{out}");
}

fn file_in(program: &str, options: lst_vm::Options) -> Option<Vec<String>> {
    let dir = std::env::temp_dir().join(format!(
        "lst-test-{}-{:x}",
        std::process::id(),
        program.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("program.st");
    std::fs::write(&path, program).unwrap();
    let (status, out) = run_image(
        DAM,
        &format!("File fileIn: '{}'\n", path.display()),
        options,
    )?;
    assert_eq!(status, ExitStatus::Returned);
    Some(after_tests(&out))
}

#[test]
fn file_in_defines_classes_and_recurses_a_million_deep() {
    let Some(lines) = file_in(include_str!("../../../tests/programs/deep.st"), options()) else {
        return;
    };
    assert!(lines.contains(&"1000000".to_string()), "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("file in completed"),
        "{lines:?}"
    );
}

#[test]
fn unbounded_recursion_is_a_smalltalk_error_and_the_repl_goes_on() {
    let program =
        "+Object subclass: #Deep\n!Deep\nforever: n\n    ^ (self forever: n + 1) + 1\n!\n";
    let dir = std::env::temp_dir().join(format!("lst-test-forever-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("forever.st");
    std::fs::write(&path, program).unwrap();
    let input = format!(
        "File fileIn: '{}'\nDeep new forever: 0\n6 * 7\n",
        path.display()
    );
    let options = lst_vm::Options {
        stack_slots: 1 << 20,
        ..options()
    };
    let Some((status, out)) = run_image(DAM, &input, options) else {
        return;
    };
    assert_eq!(status, ExitStatus::Returned);
    assert!(
        out.contains("stack overflow: recursion deeper than the VM stack allows"),
        "{out}"
    );
    assert_eq!(
        after_tests(&out).last().map(String::as_str),
        Some("42"),
        "{out}"
    );
}

#[test]
fn non_local_return_reaches_the_home_sender_even_after_the_home_returned() {
    let program = "+Object subclass: #Nlr\n\
        !Nlr\nmakeBlock\n    ^ [ :x | ^ x * 2 ]\n!\n\
        !Nlr\nuse | b |\n    b <- self makeBlock.\n    ^ (b value: 21) + 1000\n!\n\
        !Nlr\nfind: n\n    #(1 2 3 4) do: [ :e | e = n ifTrue: [ ^ e * 10 ] ].\n    ^ nil\n!\n\
        +Nlr new find: 3\n\
        +Nlr new use\n";
    let Some(lines) = file_in(program, options()) else {
        return;
    };
    assert!(lines.contains(&"30".to_string()), "{lines:?}");
    // `^ x * 2` returns to the sender of makeBlock's context: `use`, which is
    // still running; it resumes after `b value: 21` with 42, as in LLST.
    assert!(lines.contains(&"1042".to_string()), "{lines:?}");
}

#[test]
fn non_local_return_to_a_dead_sender_is_a_smalltalk_error() {
    let program = "+Object subclass: #Nlr\n\
        !Nlr\nmakeBlock\n    ^ [ :x | ^ x ]\n!\n\
        !Nlr\nkeep\n    ^ self makeBlock\n!\n\
        +(Nlr new keep) value: 5\n\
        +6 * 7\n";
    let Some(lines) = file_in(program, options()) else {
        return;
    };
    assert!(
        lines
            .iter()
            .any(|l| l.contains("non-local return from a block in Nlr>>makeBlock")),
        "{lines:?}"
    );
    assert!(lines.contains(&"42".to_string()), "{lines:?}");
}

#[test]
fn vm_primitives_image_boots_and_ends_cleanly() {
    // A stripped fixture image: it has no `Undefined>>main` and its String
    // has no methods, so booting runs into a real recursion in its own error
    // reporting. The VM stops that process cleanly.
    let Some((status, _)) = run_image("VMPrimitives.image", "", options()) else {
        return;
    };
    assert_eq!(status, ExitStatus::Error);
}

#[test]
fn ctrl_c_interrupts_the_running_evaluation_and_the_repl_goes_on() {
    use lst_vm::{ReaderConsole, Vm};
    let mut vm = Vm::from_llst_image(&lst_test_images::llst_image!(DAM), options()).unwrap();
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    let input = "[ true ] whileTrue: [ nil ]\n6 * 7\n";
    vm.set_console(Box::new(ReaderConsole(std::io::Cursor::new(
        input.as_bytes().to_vec(),
    ))));
    let flag = vm.interrupt_flag();
    let presser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let status = vm.boot().unwrap();
    presser.join().unwrap();
    assert_eq!(status, ExitStatus::Returned);
    let text = out.text();
    assert!(text.contains("interrupted (Ctrl-C)"), "{text}");
    assert_eq!(
        after_tests(&text).last().map(String::as_str),
        Some("42"),
        "{text}"
    );
}

#[test]
fn memory_exhaustion_is_a_smalltalk_error_and_the_repl_goes_on() {
    let mut options = options();
    options.heap.max_bytes = 64 << 20;
    let input = "Array new: 100000000\n| l | l <- List new. [ true ] whileTrue: [ l add: (Array new: 1000) ]\n6 * 7\n";
    let Some((status, out)) = run_image(DAM, input, options) else {
        return;
    };
    assert_eq!(status, ExitStatus::Returned);
    assert!(out.matches("out of memory").count() >= 2, "{out}");
    assert_eq!(
        after_tests(&out).last().map(String::as_str),
        Some("42"),
        "{out}"
    );
}

/// Heap words allocated by a whole run that files in `fib:` and evaluates `expr`.
fn words_allocated_for(expr: &str) -> Option<(u64, String)> {
    use lst_vm::{ReaderConsole, Vm};
    let dir = std::env::temp_dir().join(format!("lst-test-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fib.st");
    std::fs::write(&path, include_str!("../../../tests/programs/fib_method.st")).unwrap();
    let mut vm = Vm::from_llst_image(&lst_test_images::read(DAM)?, options()).unwrap();
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    let input = format!("File fileIn: '{}'\n{expr}\n", path.display());
    vm.set_console(Box::new(ReaderConsole(std::io::Cursor::new(
        input.into_bytes(),
    ))));
    vm.boot().unwrap();
    Some((vm.heap.stats.allocated_words, out.text()))
}

#[test]
fn ordinary_sends_allocate_nothing() {
    // Same source text length, so compiling costs the same; fib: 20 makes
    // about 21,700 more sends than fib: 10.
    let Some((small, out_small)) = words_allocated_for("Fib new fib: 10") else {
        return;
    };
    let Some((large, out_large)) = words_allocated_for("Fib new fib: 20") else {
        return;
    };
    assert!(
        out_small.contains("\n55\n") && out_large.contains("\n6765\n"),
        "{out_large}"
    );
    // Printing 6765 instead of 55 allocates a little more (the image builds
    // the digits by concatenation); one word per send would be 21,700.
    let extra = large.saturating_sub(small);
    assert!(
        extra < 500,
        "{extra} more words allocated for 21,700 more sends"
    );
}

#[test]
fn time_sliced_processes_resume_exactly_where_they_stopped() {
    // `doExecute: ticks` stops the process after `ticks` safepoints (status
    // 5); running it again resumes it from its spilled contexts.
    let program = include_str!("../../../tests/programs/time_slices.st");
    for ticks in ["1", "7", "50", "0"] {
        let Some(lines) = file_in(
            &program.replace("doExecute: 50", &format!("doExecute: {ticks}")),
            options(),
        ) else {
            return;
        };
        let sliced = if ticks == "0" { "false" } else { "true" };
        let expect = format!("Array (4 {sliced} 100010000)");
        assert!(lines.contains(&expect), "ticks {ticks}: {lines:?}");
    }
}

#[test]
fn time_slices_under_gc_stress() {
    let program = include_str!("../../../tests/programs/time_slices.st").replace("10000", "300");
    let Some(lines) = file_in(
        &program.replace("doExecute: 50", "doExecute: 3"),
        stress_options(),
    ) else {
        return;
    };
    assert!(
        lines.contains(&"Array (4 true 90300)".to_string()),
        "{lines:?}"
    );
}

#[test]
fn quick_selectors_are_those_of_getters_constants_and_setters() {
    let mut vm = lst_vm::Vm::from_llst_image(&lst_test_images::llst_image!(DAM), options())
        .expect("image loads");
    assert!(
        vm.may_be_quick(b"noSuchSelector", 1),
        "unknown until indexed"
    );
    vm.index_quick_selectors();
    // Association>>key (pushInstance 0; stackReturn), Object>>isNil
    // (pushConstant false; stackReturn), Link>>next: (a setter).
    assert!(vm.may_be_quick(b"key", 1));
    assert!(vm.may_be_quick(b"isNil", 1));
    assert!(vm.may_be_quick(b"next:", 2));
    // No method has this selector; fileIn: is no setter; a getter's
    // selector is not a setter's.
    assert!(!vm.may_be_quick(b"noSuchSelector", 1));
    assert!(!vm.may_be_quick(b"fileIn:", 2));
    assert!(!vm.may_be_quick(b"key", 2));
}
