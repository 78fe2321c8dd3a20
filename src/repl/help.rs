//! The REPL's commands for finding one's way around the image: `:help`,
//! `:selectors Class` (the selectors a class defines itself, sorted) and
//! `:source Class>>selector` (a method's source as it was compiled, the
//! inherited ones too). They ask the image through its own protocol
//! (`Class>>selectors`, `Class>>allMethods`, `Method>>text`).

use super::{line_one, string_literal};
use anyhow::Result;
use lst_vm::Vm;
use lst_vm::session::Evaluation;

/// The commands, for `:help` and completion.
pub const COMMANDS: [&str; 3] = [":help", ":selectors", ":source"];

/// What `:help` prints.
const HELP: &str = "\
Type Smalltalk statements and press Enter; the value of the last one is
printed. Input continues (prompt `.. `) while brackets, strings or comments
are open. Names assigned without a declaration (`x := 3. x + 1`) stay
defined for later lines.

Define a class and a method:
  Object subclass: #Account variables: #(balance)
  !Account
  deposit: n
      balance := (balance ifNil: [0]) + n
  !
(`=Account` or `!Account class` for the class side; the method ends at a
line holding only `!`.)

Commands:
  :help                    this text
  :selectors Class         the selectors Class defines (`Class class` for its class side)
  :source Class>>selector  a method's source (`Class class>>selector` for the class side)

Tab completes class names and selectors (twice lists the candidates).
Ctrl-C interrupts an evaluation; Ctrl-D leaves.
";

/// Runs the command `line`; false if it failed (the reason is on stderr).
pub fn run_command(vm: &mut Vm, line: &str) -> Result<bool> {
    let line = line.trim();
    let (command, argument) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let r = match command {
        ":help" => {
            out!("{HELP}");
            Ok(())
        }
        ":selectors" => selectors(vm, argument.trim()),
        ":source" => source(vm, argument.trim()),
        _ => Err(format!(
            "unknown command `{command}`; `:help` lists the commands"
        )),
    };
    match r {
        Ok(()) => Ok(true),
        Err(why) => {
            vm.flush();
            eprintln!("{why}");
            Ok(false)
        }
    }
}

/// `:selectors Class`: one selector a line, sorted.
fn selectors(vm: &mut Vm, class: &str) -> Result<(), String> {
    let class = class_expression(vm, class)?;
    let expr = format!("{class} selectors inject: '' into: [ :all :each | all , each , ' ' ]");
    let text = text_of(vm, &expr)?.unwrap_or_default();
    let mut names: Vec<&str> = text.split_whitespace().collect();
    names.sort_unstable();
    for name in names {
        outln!("{name}");
    }
    Ok(())
}

/// `:source Class>>selector`: the method's source text.
fn source(vm: &mut Vm, spec: &str) -> Result<(), String> {
    let Some((class, selector)) = spec.split_once(">>") else {
        return Err(format!("`:source {spec}`: write `:source Class>>selector`"));
    };
    let (class_name, selector) = (class.trim(), selector.trim());
    let class = class_expression(vm, class_name)?;
    let expr = format!(
        "| m | m := {class} allMethods at: {} asSymbol ifAbsent: [ nil ]. \
         m isNil ifTrue: [ nil ] ifFalse: [ m text ]",
        string_literal(selector)
    );
    match text_of(vm, &expr)? {
        Some(text) => {
            outln!("{}", text.trim_end());
            Ok(())
        }
        None => Err(format!(
            "{class_name} has no method `{selector}` (nor inherits one)"
        )),
    }
}

/// `Name` or `Name class` as an expression, if Name is a class.
fn class_expression(vm: &Vm, spec: &str) -> Result<String, String> {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (name, class_side) = match words[..] {
        [name] => (name, false),
        [name, "class"] => (name, true),
        _ => return Err(format!("`{spec}`: expected a class name (or `Name class`)")),
    };
    match vm.global(name) {
        Some(v) if vm.is_class_shaped(v) => Ok(if class_side {
            format!("{name} class")
        } else {
            name.to_string()
        }),
        _ => Err(format!("no class named `{name}`")),
    }
}

/// Evaluates `expr`; the String it answers, or None for anything else.
fn text_of(vm: &mut Vm, expr: &str) -> Result<Option<String>, String> {
    match super::evaluate(vm, expr, line_one("command")) {
        Ok(Evaluation::Value(v)) if v == vm.nil() => Ok(None),
        Ok(Evaluation::Value(v)) => Ok(Some(vm.text_of(v))),
        Ok(Evaluation::CompileError(d)) => Err(d),
        Ok(Evaluation::Failed) => Err("the image could not answer (see above)".into()),
        Err(e) => Err(e.to_string()),
    }
}
