//! Methods typed or pasted at the prompt in the file syntax of
//! `File fileIn:`: a line `!Class` (or `!Class class`, or `=Class` for
//! the class side), the method's source, then a line `!`. The method is
//! compiled into the class as `Class addMethod:` would, with errors placed
//! at their line in the input.

use anyhow::Result;
use lst_vm::Vm;
use lst_vm::link::{CompileError, Origin};

/// Compiles and installs the method in `chunk` (header line, source,
/// closing `!`), which starts at `origin`. False if it failed (the reason
/// is on stderr).
pub fn define_method(vm: &mut Vm, chunk: &str, origin: Origin<'_>) -> Result<bool> {
    let (header, source) = chunk.split_once('\n').unwrap_or((chunk, ""));
    let source = source
        .trim_end()
        .strip_suffix('!')
        .unwrap_or(source)
        .trim_end();
    let Some(class) = class_of_header(vm, header.trim()) else {
        eprintln!(
            "{}:{}:1: error: `{}` names no class (write `!Class`, `!Class class` or `=Class`)",
            origin.label,
            origin.first_line,
            header.trim()
        );
        return Ok(false);
    };
    let origin = Origin {
        label: origin.label,
        first_line: origin.first_line + 1,
    };
    match vm.compile_into(class, source, origin) {
        Ok(_) => Ok(true),
        Err(CompileError::Diagnostics(d)) => {
            eprint!("{d}");
            Ok(false)
        }
        Err(e @ CompileError::OutOfMemory(_)) => Err(e.into()),
    }
}

/// The class a header `!Name`, `!Name class` or `=Name` names.
fn class_of_header(vm: &Vm, header: &str) -> Option<lst_vm::value::Value> {
    let class_side = header.starts_with('=');
    let words: Vec<&str> = header[1..].split_whitespace().collect();
    let (name, class_side) = match words[..] {
        [name] => (name, class_side),
        [name, "class"] => (name, true),
        _ => return None,
    };
    let class = vm.global(name).filter(|&c| vm.is_class_shaped(c))?;
    Some(if class_side {
        vm.class_of(class)
    } else {
        class
    })
}
