//! `lst disasm`: finds `Class>>selector` in the image and lists its bytecode.

use anyhow::{Result, bail};
use lst_vm::Vm;

/// The listing of the method named `spec` (`Class>>sel` or `Class class>>sel`).
pub fn method(vm: &Vm, spec: &str) -> Result<String> {
    let Some((class_part, selector)) = spec.split_once(">>") else {
        bail!("expected Class>>selector, got {spec:?}");
    };
    let (class_name, meta) = match class_part.trim().strip_suffix(" class") {
        Some(c) => (c.trim(), true),
        None => (class_part.trim(), false),
    };
    let Some(class) = vm.global(class_name).filter(|&c| vm.is_class_shaped(c)) else {
        bail!("no class named {class_name}");
    };
    let class = if meta { vm.class_of(class) } else { class };
    match vm.disassemble(class, selector.trim()) {
        Some(text) => Ok(text),
        None => bail!("{spec}: no such method"),
    }
}
