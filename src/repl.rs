//! The REPL and evaluation from the command line, for lst's own image:
//! reading (line editing, history, multi-line input, completion of
//! globals and selectors), evaluating as a top-level process, printing the
//! value's `printString`. Smalltalk errors are reported by the image's
//! `error:` (message and backtrace); the REPL goes on.

use anyhow::Result;
use lst_vm::Vm;
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use lst_vm::value::Value;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

const PROMPT: &str = "-> ";

/// `text` as a Smalltalk string literal.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Evaluates `source`, which starts at `origin` (for error locations),
/// and prints the value's printString. False on an error.
pub fn eval_and_print(vm: &mut Vm, source: &str, origin: Origin<'_>) -> Result<bool> {
    match eval(vm, source, origin)? {
        Evaluation::Value(v) => print_value(vm, v),
        _ => Ok(false),
    }
}

/// Evaluates `source` as a REPL line (`name := expr` keeps `name` as a
/// global), printing compile errors to stderr; Smalltalk errors are
/// reported by the image.
pub fn eval(vm: &mut Vm, source: &str, origin: Origin<'_>) -> Result<Evaluation> {
    let result = match as_global_assignment(vm, source) {
        Some((name, expr)) => {
            let r = evaluate(vm, expr, origin)?;
            if let Evaluation::Value(v) = r {
                vm.set_global(name, v).map_err(anyhow::Error::msg)?;
            }
            r
        }
        None => evaluate(vm, source, origin)?,
    };
    if let Evaluation::CompileError(d) = &result {
        vm.flush();
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

/// `name := expr` (or `<-`) where `name` is not a global yet or is a
/// global that is not a class: the REPL's way to keep values between lines.
fn as_global_assignment<'a>(vm: &Vm, source: &'a str) -> Option<(&'a str, &'a str)> {
    let s = source.trim();
    let name_end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let (name, rest) = s.split_at(name_end);
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest = rest.trim_start();
    let expr = rest
        .strip_prefix(":=")
        .or_else(|| rest.strip_prefix("<-"))?;
    if ["self", "super", "nil", "true", "false"].contains(&name) {
        return None;
    }
    match vm.global(name) {
        Some(v) if vm.is_class_shaped(v) => None,
        _ => Some((name, expr)),
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
            '"' => {
                if !chars.any(|c| c == '"') {
                    return true;
                }
            }
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
        run_piped(vm)
    }
}

fn run_piped(vm: &mut Vm) -> Result<()> {
    let mut pending = String::new();
    for line in io::stdin().lock().lines() {
        pending.push_str(&line?);
        pending.push('\n');
        if incomplete(&pending) {
            continue;
        }
        if !pending.trim().is_empty() {
            eval_and_print(vm, pending.trim_end(), line_one("stdin"))?;
        }
        pending.clear();
    }
    if !pending.trim().is_empty() {
        eval_and_print(vm, pending.trim_end(), line_one("stdin"))?;
    }
    Ok(())
}

fn run_terminal(vm: &mut Vm) -> Result<()> {
    let mut editor: rustyline::Editor<Completion, rustyline::history::FileHistory> =
        rustyline::Editor::new()?;
    let history = std::env::var_os("HOME").map(|h| Path::new(&h).join(".lst_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    editor.set_helper(Some(Completion {
        words: vm.completion_words(),
    }));
    outln!(
        "lst {} — Little Smalltalk. Ctrl-D to leave.",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match editor.readline(PROMPT) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                if let Some(h) = &history {
                    let _ = editor.append_history(h);
                }
                eval_and_print(vm, &line, line_one("input"))?;
                io::stdout().flush()?;
                if let Some(helper) = editor.helper_mut() {
                    helper.words = vm.completion_words();
                }
            }
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Completion of global names and selectors; multi-line input while
/// brackets or strings are open.
struct Completion {
    words: Vec<String>,
}

impl Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return Ok((pos, vec![]));
        }
        let found = self
            .words
            .iter()
            .filter(|w| w.starts_with(prefix))
            .cloned()
            .collect();
        Ok((start, found))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for Completion {}

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
