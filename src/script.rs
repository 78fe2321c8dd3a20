//! Running a source file (`lst FILE`) on lst's own image. The host reads
//! the file and splits it, so that every error names the file, the line
//! and the column in it. A file may mix:
//!
//! - plain statements, run as a REPL line would be (a chunk ends with a
//!   line where no bracket, string or comment is left open); their values
//!   are not printed;
//! - LLST's chunk format: a `+expr` line is evaluated and its value
//!   printed; `!Class` (or `!Class class`, `=Class`) starts a method that
//!   ends with a line holding only `!`;
//! - the image builder's lines: `CLASS`, `METHOD`, `GLOBAL`, `COMMENT`.
//!
//! A chunk that fails is reported and the rest of the file still runs;
//! the answer says whether every chunk succeeded.

use crate::repl;
use anyhow::{Result, bail};
use lst_vm::Vm;
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use std::path::Path;

/// One runnable piece of a file; `line` is its first line (1-based).
#[derive(Debug, PartialEq)]
enum Chunk {
    /// `+expr`: evaluate and print the value. The `+` is a space here, so
    /// that columns stay those of the file.
    Print { line: usize, source: String },
    /// Statements, evaluated without printing their value.
    Statements { line: usize, source: String },
    /// A method of `class` (its metaclass if `meta`); `line` is the line
    /// of the method's first source line.
    Method {
        line: usize,
        class: String,
        meta: bool,
        source: String,
    },
    /// `CLASS Name Super ivars… [| classVars…]`.
    Class { line: usize, words: Vec<String> },
    /// `GLOBAL name Class`.
    Global { line: usize, words: Vec<String> },
    /// Something that cannot be run, with its place.
    Problem {
        line: usize,
        column: usize,
        message: String,
    },
}

/// Runs every chunk of the file at `path`; false if any of them failed.
/// A file that does not exist or is a directory is an error.
pub fn run_file(vm: &mut Vm, path: &Path) -> Result<bool> {
    let label = path.display().to_string();
    let text = match read_text(path)? {
        Ok(text) => text,
        Err((line, column, message)) => {
            report(&label, line, column, &message);
            return Ok(false);
        }
    };
    let mut ok = true;
    for chunk in split(&text) {
        ok &= run_chunk(vm, &label, chunk)?;
    }
    Ok(ok)
}

/// The file's text, or the place and description of its first byte that
/// is not UTF-8.
fn read_text(path: &Path) -> Result<std::result::Result<String, (usize, usize, String)>> {
    if path.is_dir() {
        bail!("cannot run {}: it is a directory", path.display());
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("cannot read {}: no such file", path.display())
        }
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    Ok(String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let (line, column) = lst_compiler::diagnostic::line_col(valid, at);
        (
            line,
            column,
            format!(
                "invalid UTF-8 byte 0x{:02X} (lst reads source files as UTF-8 text)",
                bytes[at]
            ),
        )
    }))
}

fn report(label: &str, line: usize, column: usize, message: &str) {
    eprintln!("{label}:{line}:{column}: error: {message}");
}

// -- Splitting ---------------------------------------------------------------------

/// The chunks of a file, in order.
fn split(text: &str) -> Vec<Chunk> {
    let lines: Vec<&str> = text.lines().collect();
    let mut chunks = vec![];
    let mut i = 0;
    while i < lines.len() {
        let (chunk, next) = chunk_at(&lines, i);
        chunks.extend(chunk);
        i = next;
    }
    chunks
}

/// The chunk that starts at line index `i` (if any) and the index after it.
fn chunk_at(lines: &[&str], i: usize) -> (Option<Chunk>, usize) {
    let text = lines[i];
    let line = i + 1;
    let words: Vec<String> = text.split_whitespace().map(String::from).collect();
    if let Some(rest) = text.strip_prefix('+') {
        let source = format!(" {rest}");
        return (Some(Chunk::Print { line, source }), i + 1);
    }
    if let Some(spec) = text.strip_prefix('!') {
        return method(lines, i, spec, false);
    }
    if let Some(spec) = text.strip_prefix('=') {
        return method(lines, i, spec, true);
    }
    match words.first().map(String::as_str) {
        None | Some("COMMENT") => (None, i + 1),
        Some("CLASS") => (Some(Chunk::Class { line, words }), i + 1),
        Some("GLOBAL") => (Some(Chunk::Global { line, words }), i + 1),
        Some("METHOD") => method(lines, i, &words[1..].join(" "), false),
        Some(_) => statements(lines, i),
    }
}

/// Plain statements from line index `i`, up to a line where nothing is
/// left open; comment-only chunks are dropped.
fn statements(lines: &[&str], i: usize) -> (Option<Chunk>, usize) {
    let mut source = String::new();
    let mut next = i;
    while next < lines.len() {
        source.push_str(lines[next]);
        source.push('\n');
        next += 1;
        if !repl::incomplete(&source) {
            break;
        }
    }
    let chunk = (!only_comments(&source)).then_some(Chunk::Statements {
        line: i + 1,
        source,
    });
    (chunk, next)
}

/// True if `source` holds nothing but white space and comments.
fn only_comments(source: &str) -> bool {
    let mut in_comment = false;
    source.chars().all(|c| {
        if c == '"' {
            in_comment = !in_comment;
        }
        in_comment || c == '"' || c.is_whitespace()
    })
}

/// A method whose header (`!Class`, `=Class`, `METHOD Class`) is line
/// index `i` with the class part `spec`; its body runs to a `!` line.
fn method(lines: &[&str], i: usize, spec: &str, meta: bool) -> (Option<Chunk>, usize) {
    let line = i + 1;
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (class, meta) = match words.as_slice() {
        [class] => (class.to_string(), meta),
        [class, "class"] => (class.to_string(), true),
        [] => {
            let message = "a `!` line outside a method: a method starts with `!ClassName` (or `!ClassName class`) and ends with `!`".to_string();
            return problem(line, 1, message, i + 1);
        }
        _ => {
            let message = format!(
                "expected a class name after the method header, as in `!Point` or `!Point class`, found `{}`",
                spec.trim()
            );
            return problem(line, 1, message, i + 1);
        }
    };
    let Some(end) = (i + 1..lines.len()).find(|&j| lines[j].trim_end() == "!") else {
        return problem(
            line,
            1,
            "this method has no closing `!` line".into(),
            lines.len(),
        );
    };
    let mut source = String::new();
    for body in &lines[i + 1..end] {
        source.push_str(body);
        source.push('\n');
    }
    let chunk = Chunk::Method {
        line: line + 1,
        class,
        meta,
        source,
    };
    (Some(chunk), end + 1)
}

fn problem(line: usize, column: usize, message: String, next: usize) -> (Option<Chunk>, usize) {
    let chunk = Chunk::Problem {
        line,
        column,
        message,
    };
    (Some(chunk), next)
}

// -- Running -----------------------------------------------------------------------

/// Runs one chunk; false if it failed (after saying why).
fn run_chunk(vm: &mut Vm, label: &str, chunk: Chunk) -> Result<bool> {
    match chunk {
        Chunk::Print { line, source } => {
            let at = Origin {
                label,
                first_line: line,
            };
            match repl::eval(vm, &source, at)? {
                Evaluation::Value(v) => repl::print_value(vm, v),
                failed => Ok(reported(label, line, &source, &failed)),
            }
        }
        Chunk::Statements { line, source } => {
            let at = Origin {
                label,
                first_line: line,
            };
            let r = repl::eval(vm, &source, at)?;
            Ok(reported(label, line, &source, &r))
        }
        Chunk::Method {
            line,
            class,
            meta,
            source,
        } => Ok(compile_method(vm, label, line, &class, meta, &source)),
        Chunk::Class { line, words } => define_class(vm, label, line, &words),
        Chunk::Global { line, words } => define_global(vm, label, line, &words),
        Chunk::Problem {
            line,
            column,
            message,
        } => {
            report(label, line, column, &message);
            Ok(false)
        }
    }
}

/// True if `r` is a value; for a Smalltalk error (already reported by the
/// image), says where in the file the failed statement starts.
fn reported(label: &str, line: usize, source: &str, r: &Evaluation) -> bool {
    match r {
        Evaluation::Value(_) => true,
        Evaluation::CompileError(_) => false,
        Evaluation::Failed => {
            let column = source.find(|c: char| !c.is_whitespace()).unwrap_or(0);
            let (skipped, column) = lst_compiler::diagnostic::line_col(source, column);
            let message = "this statement stopped on the Smalltalk error above";
            report(label, line + skipped - 1, column, message);
            false
        }
    }
}

fn compile_method(
    vm: &mut Vm,
    label: &str,
    line: usize,
    class: &str,
    meta: bool,
    source: &str,
) -> bool {
    let Some(mut target) = vm.global(class).filter(|&c| vm.is_class_shaped(c)) else {
        report(label, line - 1, 1, &format!("no class named `{class}`"));
        return false;
    };
    if meta {
        target = vm.class_of(target);
    }
    let origin = Origin {
        label,
        first_line: line,
    };
    match vm.compile_into(target, source, origin) {
        Ok(_) => true,
        Err(e) => {
            vm.flush();
            eprint!("{e}");
            false
        }
    }
}

/// `CLASS Name Super iv… [| cv…]`, run as `Class define:parent:…`.
fn define_class(vm: &mut Vm, label: &str, line: usize, words: &[String]) -> Result<bool> {
    if words.len() < 3 {
        report(
            label,
            line,
            1,
            "expected `CLASS Name Superclass instanceVariables… [| classVariables…]`",
        );
        return Ok(false);
    }
    let names = words[1..].iter().filter(|w| *w != "|");
    if let Some(bad) = names.clone().find(|w| !is_identifier(w)) {
        report(label, line, 1, &format!("`{bad}` is not a name"));
        return Ok(false);
    }
    let parent = &words[2];
    if parent != "nil" && !is_class(vm, parent) {
        report(
            label,
            line,
            1,
            &format!("no class named `{parent}` (the superclass)"),
        );
        return Ok(false);
    }
    let vars = &words[3..];
    let bar = vars.iter().position(|w| w == "|").unwrap_or(vars.len());
    let class_vars = vars.get(bar + 1..).unwrap_or_default();
    let source = format!(
        "Class define: #{} parent: {parent} variables: #({}) classVariables: #({})",
        words[1],
        vars[..bar].join(" "),
        class_vars.join(" ")
    );
    evaluate_generated(vm, label, line, &source)
}

/// `GLOBAL name Class`: the global `name` holds `Class new`.
fn define_global(vm: &mut Vm, label: &str, line: usize, words: &[String]) -> Result<bool> {
    let [_, name, class] = words else {
        report(label, line, 1, "expected `GLOBAL name Class`");
        return Ok(false);
    };
    if !is_identifier(name) {
        report(label, line, 1, &format!("`{name}` is not a name"));
        return Ok(false);
    }
    if !is_class(vm, class) {
        report(label, line, 1, &format!("no class named `{class}`"));
        return Ok(false);
    }
    evaluate_generated(
        vm,
        label,
        line,
        &format!("globals at: #{name} put: {class} new"),
    )
}

fn evaluate_generated(vm: &mut Vm, label: &str, line: usize, source: &str) -> Result<bool> {
    let origin = Origin {
        label,
        first_line: line,
    };
    let r = repl::eval(vm, source, origin)?;
    Ok(reported(label, line, source, &r))
}

fn is_identifier(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_class(vm: &Vm, name: &str) -> bool {
    vm.global(name).is_some_and(|c| vm.is_class_shaped(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_splits_into_its_chunks() {
        let text = "\"only a comment\"\n+3 printNl\nx := [:a |\n  a].\n!Foo class\nbar\n!\nCOMMENT hi\nCLASS A Object\n";
        let chunks = split(text);
        assert_eq!(
            chunks,
            vec![
                Chunk::Print {
                    line: 2,
                    source: " 3 printNl".into()
                },
                Chunk::Statements {
                    line: 3,
                    source: "x := [:a |\n  a].\n".into()
                },
                Chunk::Method {
                    line: 6,
                    class: "Foo".into(),
                    meta: true,
                    source: "bar\n".into()
                },
                Chunk::Class {
                    line: 9,
                    words: vec!["CLASS".into(), "A".into(), "Object".into()]
                },
            ]
        );
    }

    #[test]
    fn an_unclosed_method_is_a_problem_at_its_header() {
        let chunks = split("1 printNl.\n!Foo\nbar\n");
        assert!(
            matches!(chunks[1], Chunk::Problem { line: 2, .. }),
            "{chunks:?}"
        );
    }
}
