//! `lst disasm`: finds `Class>>selector` in the image and lists its
//! bytecode, and with `--jit` the JIT's IR for it and its block bodies.

use anyhow::{Result, bail};
use lst_vm::Vm;

/// The class and selector `spec` names.
fn resolve(vm: &Vm, spec: &str) -> Result<(lst_vm::value::Value, String)> {
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
    Ok((class, selector.trim().to_string()))
}

/// The listing of the method named `spec` (`Class>>sel` or `Class class>>sel`).
pub fn method(vm: &Vm, spec: &str) -> Result<String> {
    let (class, selector) = resolve(vm, spec)?;
    match vm.disassemble(class, &selector) {
        Some(text) => Ok(text),
        None => bail!("{spec}: no such method"),
    }
}

/// The JIT IR of the method named `spec` and of each of its block bodies,
/// with the fast paths of special selectors lowered and folded (those of
/// literal selectors, `quo:` …, depend on the image's methods and are
/// decided when compiling).
pub fn jit_ir(vm: &Vm, spec: &str) -> Result<String> {
    use lst_jit::ir::Kind;
    use lst_jit::translate::{Source, block_bodies, translate};
    let (class, selector) = resolve(vm, spec)?;
    let Some(info) = vm.find_method_info(class, &selector) else {
        bail!("{spec}: no such method");
    };
    let name = format!("{}>>{}", info.class, info.selector);
    let arg_count = lst_bytecode::selector_arity(selector.as_bytes()).unwrap_or(0) as u8;
    let src = Source {
        name: &name,
        bytecodes: &info.bytecodes,
        arg_count,
        temp_count: info.temporary_size.min(255) as u8,
    };
    let mut out = String::new();
    let kinds = std::iter::once(Kind::Method).chain(
        block_bodies(&info.bytecodes)
            .into_iter()
            .map(|(start, _)| Kind::BlockBody { start }),
    );
    for kind in kinds {
        out.push('\n');
        match translate(&src, kind.clone()) {
            Ok(mut f) => {
                let facts = lst_jit::semantic::Facts {
                    literal_ops: &[],
                    float_ops: &[],
                    object_ops: &[],
                    quick: &[],
                    not_float: &[],
                };
                lst_jit::semantic::lower(&mut f, &facts);
                lst_jit::fold::fold(&mut f);
                out.push_str(&f.to_string());
            }
            Err(e) => out.push_str(&format!("; {kind:?} is not translated: {e}\n")),
        }
    }
    Ok(out)
}

/// The type feedback recorded for the method named `spec` and, when the
/// optimizing tier would inline sends of it, its IR as that tier reads
/// it (inlined, then the region pass, lowered and folded).
pub fn jit_inlining(vm: &mut Vm, spec: &str) -> Result<String> {
    let (class, selector) = resolve(vm, spec)?;
    let method = vm
        .find_symbol(selector.as_bytes())
        .and_then(|s| vm.find_method(s, class));
    let Some(method) = method else {
        bail!("{spec}: no such method");
    };
    let feedback = vm.describe_feedback(method);
    let mut out = if feedback.is_empty() {
        String::from("\n; no type feedback recorded\n")
    } else {
        format!("\n; type feedback\n{feedback}")
    };
    let paths = lst_backends::jit::FastPaths::optimizing(Default::default());
    match lst_backends::jit::read_unit(vm, method, 0, paths) {
        Ok(unit) => match unit.inlining {
            Some(i) if i.inlined > 0 => out.push_str(&format!(
                "\n; IR after inlining {} sends (then regions, lowering, fold)\n{}",
                i.inlined, unit.ir
            )),
            Some(i) => out.push_str(&format!(
                "; nothing inlined ({} sends refused)\n",
                i.refused.len()
            )),
            None => {}
        },
        Err(why) => out.push_str(&format!("; not read: {why}\n")),
    }
    Ok(out)
}

/// What each of the JIT's compilers makes of the method named `spec`: the
/// Cranelift function and its machine code, then the baseline's machine
/// code, disassembled (and, built with LLVM, LLVM's IR and code).
pub fn jit_code(vm: &mut Vm, spec: &str) -> Result<String> {
    use lst_vm::jit_runtime::boundary::Compiler;
    use lst_vm::jit_runtime::tiering::Level;
    let (class, selector) = resolve(vm, spec)?;
    let method = vm
        .find_symbol(selector.as_bytes())
        .and_then(|s| vm.lookup_method(s, class));
    let Some(method) = method else {
        bail!("{spec}: no such method");
    };
    let mut jit = lst_backends::CraneliftJit::new().map_err(anyhow::Error::msg)?;
    jit.keep_listing = true;
    let mut out = String::new();
    for (level, title) in [
        (Level::Optimized, "Cranelift"),
        (Level::Baseline, "baseline"),
    ] {
        match jit.compile(vm, method, 0, 1, level) {
            Err(why) => out.push_str(&format!("\n; {title}: not compiled: {why}\n")),
            Ok(_) => {
                let listing = jit.listing.take().unwrap_or_default();
                if !listing.clif.is_empty() {
                    out.push_str(&format!("\n; {title} IR\n{}", listing.clif));
                }
                out.push_str(&format!(
                    "\n; {title} machine code ({} bytes at {:#x})\n",
                    listing.code.len(),
                    listing.address
                ));
                out.push_str(&machine_code(&listing.code, listing.address as u64));
            }
        }
    }
    #[cfg(feature = "llvm")]
    out.push_str(&llvm_code(vm, method)?);
    Ok(out)
}

/// What LLVM makes of `method`: its LLVM IR as selected and after the
/// passes, and its machine code.
#[cfg(feature = "llvm")]
fn llvm_code(vm: &mut Vm, method: lst_vm::value::Value) -> Result<String> {
    use lst_vm::jit_runtime::boundary::Compiler;
    use lst_vm::jit_runtime::tiering::Level;
    let mut jit = lst_llvm::LlvmJit::new().map_err(anyhow::Error::msg)?;
    jit.keep_listing = true;
    if let Err(why) = jit.compile(vm, method, 0, 1, Level::Optimized) {
        return Ok(format!("\n; LLVM: not compiled: {why}\n"));
    }
    let l = jit.listing.take().unwrap_or_default();
    Ok(format!(
        "\n; LLVM IR as selected\n{}\n; LLVM IR after the passes\n{}\n; LLVM machine code (at {:#x})\n{}",
        l.selected, l.optimized, l.address, l.assembly
    ))
}

/// x86-64 code as Intel-syntax text, one instruction per line.
fn machine_code(code: &[u8], address: u64) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    if !cfg!(target_arch = "x86_64") {
        return format!("; {} bytes (disassembly is for x86-64 only)\n", code.len());
    }
    let mut decoder = Decoder::with_ip(64, code, address, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let mut out = String::new();
    let mut text = String::new();
    for insn in &mut decoder {
        text.clear();
        formatter.format(&insn, &mut text);
        out.push_str(&format!("{:8x}  {text}\n", insn.ip() - address));
    }
    out
}
