//! The REPL and evaluation from the command line, for lst's own image:
//! each entry ([`read`]) is a `:command` ([`help`]), a method in file
//! syntax ([`define`]) or statements, evaluated as a top-level process
//! with the value's `printString` printed. Smalltalk errors are reported
//! by the image's `error:` (message and backtrace); the REPL goes on.

mod complete;
mod define;
mod help;
mod read;

use anyhow::Result;
use lst_vm::Vm;
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use lst_vm::value::Value;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::Ordering;

/// `text` as a Smalltalk string literal.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Evaluates `source` (statements, as at the prompt: names it assigns
/// without declaring them become REPL variables), which starts at
/// `origin` (for error locations), and prints the value's printString.
/// False on an error.
pub fn eval_and_print(vm: &mut Vm, source: &str, origin: Origin<'_>) -> Result<bool> {
    match eval(vm, source, origin)? {
        Evaluation::Value(v) => print_value(vm, v),
        _ => Ok(false),
    }
}

/// Evaluates `source` as a REPL line, printing compile errors to stderr;
/// Smalltalk errors are reported by the image.
pub fn eval(vm: &mut Vm, source: &str, origin: Origin<'_>) -> Result<Evaluation> {
    vm.interrupt_flag().store(false, Ordering::Relaxed);
    let result = vm.evaluate_in_workspace(source, origin);
    vm.flush();
    let result = result.map_err(anyhow::Error::msg)?;
    if let Evaluation::CompileError(d) = &result {
        eprint!("{d}");
    }
    Ok(result)
}

/// Prints `value`'s printString on a line; false if printString failed.
pub fn print_value(vm: &mut Vm, value: Value) -> Result<bool> {
    match vm.print_string(value).map_err(anyhow::Error::msg)? {
        Some(text) => {
            vm.flush();
            outln!("{text}");
            Ok(true)
        }
        None => Ok(false),
    }
}

fn evaluate(vm: &mut Vm, source: &str, origin: Origin<'_>) -> Result<Evaluation> {
    vm.interrupt_flag().store(false, Ordering::Relaxed);
    let r = vm.evaluate(source, origin).map_err(anyhow::Error::msg);
    vm.flush();
    r
}

/// The origin of a source that starts at line 1 of `label`.
pub fn line_one(label: &str) -> Origin<'_> {
    Origin {
        label,
        first_line: 1,
    }
}

/// True while brackets, parentheses, a string or a comment are still open.
pub fn incomplete(src: &str) -> bool {
    let mut depth = 0i32;
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    None => return true,
                    Some('\'') => {
                        if chars.clone().next() == Some('\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    Some(_) => {}
                }
            },
            // The guard skips the comment; open to the end, it is incomplete.
            '"' if !chars.any(|c| c == '"') => return true,
            '$' => {
                chars.next();
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// Runs the REPL until end of input.
pub fn run(vm: &mut Vm) -> Result<()> {
    if io::stdin().is_terminal() {
        run_terminal(vm)
    } else {
        let mut lines = read::Piped::new(io::stdin().lock());
        while let Some(entry) = read::next_entry(&mut lines)? {
            run_entry(vm, &entry, "stdin")?;
        }
        Ok(())
    }
}

fn run_terminal(vm: &mut Vm) -> Result<()> {
    outln!(
        "lst {} — Little Smalltalk. :help for help, Ctrl-D to leave.",
        env!("CARGO_PKG_VERSION")
    );
    let mut lines = read::Terminal::new(vm.completion_words());
    while let Some(entry) = read::next_entry(&mut lines)? {
        run_entry(vm, &entry, "input")?;
        io::stdout().flush()?;
        lines.words = vm.completion_words().into();
    }
    Ok(())
}

/// Runs a command, defines a method or evaluates statements. False if it
/// failed (the reason has been reported).
fn run_entry(vm: &mut Vm, entry: &read::Entry, label: &str) -> Result<bool> {
    let origin = Origin {
        label,
        first_line: entry.first_line,
    };
    let text = &entry.text;
    if read::is_command(text) {
        help::run_command(vm, text)
    } else if read::is_method_chunk(text) {
        define::define_method(vm, text, origin)
    } else if let Some(expr) = text.strip_prefix('+') {
        // A file's `+expression` line, pasted: the expression (a space
        // for the `+` keeps error columns right).
        eval_and_print(vm, &format!(" {expr}"), origin)
    } else if is_only_comments(text) {
        Ok(true)
    } else {
        eval_and_print(vm, text, origin)
    }
}

/// True if `text` parses to no statements and no temporaries (comments
/// and blank space only): nothing to evaluate or print.
fn is_only_comments(text: &str) -> bool {
    lst_compiler::parse_expression(text).is_ok_and(|m| m.body.is_empty() && m.temps.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_incomplete_while_something_is_open() {
        assert!(incomplete("[:x | x"));
        assert!(incomplete("'it''s"));
        assert!(incomplete("\"a comment"));
        assert!(incomplete("(3 + "));
        assert!(!incomplete("$( printNl"));
        assert!(!incomplete("'(' size"));
        assert!(!incomplete("#(1 2) do: [:x | x printNl]"));
    }
}
