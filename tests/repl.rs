//! The REPL as a user meets it: several statements on a line, method
//! definitions pasted in file syntax, discovery commands (through a pipe),
//! and Ctrl-C on a real pseudo-terminal.

mod support;

use std::process::{Command, Output};
use support::{lst, stderr, stdout};

/// Runs the REPL with `stdin` piped in.
fn repl(stdin: &str) -> Output {
    lst(&[], stdin)
}

// -- Several statements on a line (item 4) -----------------------------------------

#[test]
fn statements_with_assignments_on_one_line_work_as_they_read() {
    let o = repl("x := 3. x + 1\n");
    assert_eq!(stdout(&o), "4\n", "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn declared_temporaries_and_variables_of_earlier_lines_still_work() {
    let o = repl("| t | t := 3. t * 2\nx := 6 * 7.\nx printString size\ny := x + 1. y\n");
    assert_eq!(stdout(&o), "6\n42\n2\n43\n", "stderr: {}", stderr(&o));
}

#[test]
fn repl_variables_assigned_in_blocks_are_read_when_used() {
    let o = repl(
        "count := 0. inc := [count := count + 1]. nil\ninc value. inc value. count\n\
         a := b := 5. a + b\n",
    );
    assert_eq!(stdout(&o), "nil\n2\n10\n", "stderr: {}", stderr(&o));
}

#[test]
fn a_class_cannot_be_assigned_to_at_the_prompt() {
    let o = repl("Object := 3. 4\nObject name\n");
    assert!(
        stderr(&o).contains("cannot assign to `Object`: it is a class"),
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "Object\n", "stderr: {}", stderr(&o));
}

// -- Method definitions in file syntax (item 5) ------------------------------------

const ACCOUNT: &str = "Object subclass: #Account variables: #(balance)\n\
!Account\n\
deposit: n\n\
\tbalance isNil ifTrue: [ balance := 0 ].\n\
\tbalance := balance + n.\n\
\t^ balance\n\
!\n\
=Account\n\
opened | a |\n\
\ta := self new.\n\
\ta deposit: 10.\n\
\t^ a\n\
!\n\
a := Account new. a deposit: 5. a deposit: 7\n\
(Account new deposit: 1) + 1\n";

#[test]
fn methods_in_file_syntax_are_accepted_at_the_prompt() {
    let o = repl(ACCOUNT);
    let out = stdout(&o);
    assert!(
        out.ends_with("12\n2\n"),
        "stdout: {out}\nstderr: {}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("rror"), "stderr: {}", stderr(&o));
}

#[test]
fn class_side_methods_in_file_syntax_are_accepted_at_the_prompt() {
    let o = repl(&format!(
        "{ACCOUNT}Account opened class\n!Account class\nzero\n\t^ 0\n!\nAccount zero\n"
    ));
    let out = stdout(&o);
    assert!(
        out.ends_with("Account\n0\n"),
        "stdout: {out}\nstderr: {}",
        stderr(&o)
    );
}

#[test]
fn a_bad_method_in_file_syntax_is_reported_and_the_repl_goes_on() {
    let o = repl("!Object\nbroken ^ (\n!\n3 + 4\n");
    assert!(stdout(&o).ends_with("7\n"), "stdout: {}", stdout(&o));
    assert!(
        stdout(&o).contains("broken") || stderr(&o).contains("broken"),
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn a_method_for_an_unknown_class_is_an_error_with_its_line() {
    let o = repl("3\n!Nope\nfoo ^ 1\n!\n4\n");
    assert_eq!(stdout(&o), "3\n4\n");
    assert!(
        stderr(&o).starts_with("stdin:2:1: error: `!Nope` names no class"),
        "stderr: {}",
        stderr(&o)
    );
}

#[test]
fn a_source_file_pasted_at_the_prompt_runs_as_it_would_be_filed_in() {
    let o = repl(
        "\"A greeter, pasted from a file\"\n\
         +Object subclass: #Greeter\n\
         !Greeter\n\
         hello\n\
         \t^ 'hello'\n\
         !\n\
         +Greeter new hello\n",
    );
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    assert!(out.ends_with("\nhello\n"), "stdout: {out}");
    assert!(!out.contains("nil"), "stdout: {out}");
}

// -- Discovery (item 6) ------------------------------------------------------------

#[test]
fn help_lists_the_repl_commands() {
    let o = repl(":help\n");
    let out = stdout(&o);
    for command in [":help", ":selectors", ":source"] {
        assert!(out.contains(command), "stdout: {out}");
    }
}

#[test]
fn selectors_lists_a_class_s_selectors_one_per_line_sorted() {
    let o = repl(&format!(
        "{ACCOUNT}:selectors Account\n:selectors Account class\n"
    ));
    let out = stdout(&o);
    assert!(
        out.ends_with("deposit:\nopened\n"),
        "stdout: {out}\nstderr: {}",
        stderr(&o)
    );
    let o = repl(":selectors Boolean\n");
    let out = stdout(&o);
    let listed: Vec<&str> = out.lines().collect();
    assert!(listed.contains(&"and:"), "stdout: {out}");
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
}

#[test]
fn source_prints_a_method_s_source() {
    let o = repl(&format!(
        "{ACCOUNT}:source Account>>deposit:\n:source Account class>>opened\n"
    ));
    let out = stdout(&o);
    assert!(
        out.contains("deposit: n\n\tbalance isNil ifTrue: [ balance := 0 ].\n"),
        "stdout: {out}\nstderr: {}",
        stderr(&o)
    );
    assert!(
        out.contains("opened | a |\n\ta := self new.\n"),
        "stdout: {out}"
    );
}

#[test]
fn discovery_commands_say_what_is_wrong() {
    let o = repl(":selectors NoSuchClass\n:source Object>>noSuchMethod\n:frobnicate\n3\n");
    let err = stderr(&o);
    assert!(err.contains("NoSuchClass"), "stderr: {err}");
    assert!(err.contains("noSuchMethod"), "stderr: {err}");
    assert!(
        err.contains(":frobnicate") && err.contains(":help"),
        "stderr: {err}"
    );
    assert!(stdout(&o).ends_with("3\n"), "stdout: {}", stdout(&o));
}

/// lst's REPL on a pseudo-terminal (history in a fresh HOME of its own),
/// every expectation bounded by a timeout.
#[cfg(unix)]
fn terminal(name: &str) -> rexpect::session::PtySession {
    let home = std::env::temp_dir().join(format!("lst-repl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lst"));
    command
        .env_remove("LST_GC_STRESS")
        .env("HOME", home)
        .env("TERM", "xterm");
    rexpect::session::spawn_command(command, Some(20_000)).expect("a pty")
}

// -- Ctrl-C on a terminal (item 3) -------------------------------------------------

#[cfg(unix)]
#[test]
fn ctrl_c_interrupts_an_evaluation_at_the_terminal_and_the_repl_goes_on() {
    let mut p = terminal("ctrl-c");
    p.exp_string("-> ").expect("the first prompt");
    p.send_line("kept := 41").unwrap();
    p.exp_string("\r\n41\r\n").unwrap();
    p.exp_string("-> ").unwrap();
    p.send_line("[true] whileTrue: []").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("interrupted").expect("the interrupt reported");
    p.exp_string("-> ").expect("a new prompt");
    // Ctrl-C at an empty prompt gives a new prompt.
    p.send_control('c').unwrap();
    p.exp_string("-> ")
        .expect("a prompt after Ctrl-C at the prompt");
    // Ctrl-C while an entry continues drops the entry.
    p.send_line("#(1 2").unwrap();
    p.exp_string(".. ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("-> ")
        .expect("a prompt after Ctrl-C in a continued entry");
    p.send_line("3 + 4").unwrap();
    p.exp_string("\r\n7\r\n").expect("3 + 4 evaluated");
    p.exp_string("-> ").unwrap();
    p.send_line("kept + 1").unwrap();
    p.exp_string("\r\n42\r\n").expect("definitions kept");
    p.exp_string("-> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().expect("lst ends at Ctrl-D");
}

#[cfg(unix)]
#[test]
fn the_terminal_prompt_continues_open_input_with_its_own_prompt() {
    let mut p = terminal("continuation");
    p.exp_string("-> ").unwrap();
    p.send_line("#(1 2").unwrap();
    p.exp_string(".. ").expect("a continuation prompt");
    p.send_line("3) size").unwrap();
    p.exp_string("\r\n3\r\n").unwrap();
    p.exp_string("-> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[cfg(unix)]
#[test]
fn tab_twice_lists_the_candidates() {
    let mut p = terminal("tab");
    p.exp_string("-> ").unwrap();
    p.send("3 printS\t").unwrap();
    p.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("printString:").expect("the candidates listed");
    p.exp_string("-> 3 printString").expect("the line again");
    p.send_line("").unwrap();
    p.exp_string("\r\n3\r\n").unwrap();
    p.exp_string("-> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}
