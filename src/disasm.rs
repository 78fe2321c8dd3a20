//! `lst disasm`: finds `Class>>selector` in the image and lists its
//! bytecode, and with `--jit` the JIT's IR for it and its block bodies
//! after each pass, then what each compiler makes of it.

use anyhow::{Result, bail};
use lst_backends::optimizations::Optimizations;
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

/// The type feedback recorded for the method named `spec`, then the JIT
/// IR of the method and of each of its block bodies after each pass of
/// the optimizing compile (translation, inlining, unboxed regions,
/// semantic lowering, folding, deopt stress), as a tier-up of it would run
/// them now, with this VM's feedback and the optimizations `opts` leaves on.
pub fn jit_ir(vm: &Vm, spec: &str, opts: Optimizations) -> Result<String> {
    use lst_backends::jit::{FastPaths, read_unit_logged};
    use lst_backends::pass_log::PassLog;
    let (class, selector) = resolve(vm, spec)?;
    let method = vm
        .find_symbol(selector.as_bytes())
        .and_then(|s| vm.find_method(s, class));
    let (Some(method), Some(info)) = (method, vm.find_method_info(class, &selector)) else {
        bail!("{spec}: no such method");
    };
    let feedback = vm.describe_feedback(method);
    let mut out = if feedback.is_empty() {
        String::from("\n; no type feedback recorded\n")
    } else {
        format!("\n; type feedback\n{feedback}")
    };
    let starts = std::iter::once(0).chain(
        lst_jit::translate::block_bodies(&info.bytecodes)
            .into_iter()
            .map(|(start, _)| start),
    );
    for start in starts {
        let mut log = PassLog::recording();
        let unit = read_unit_logged(vm, method, start, FastPaths::optimizing(opts), &mut log);
        out.push_str(&match start {
            0 => String::from("\n; the method, pass by pass\n"),
            start => format!("\n; the block body at {start}, pass by pass\n"),
        });
        out.push_str(&log.render());
        match unit {
            Ok(unit) => out.push_str(&inlining_summary(&unit)),
            Err(why) => out.push_str(&format!("; not read: {why}\n")),
        }
    }
    Ok(out)
}

/// One line on what inlining made of a unit, if it ran.
fn inlining_summary(unit: &lst_backends::jit::UnitIr) -> String {
    match &unit.inlining {
        Some(i) => format!(
            "; {} sends inlined, {} refused\n",
            i.inlined,
            i.refused.len()
        ),
        None => String::new(),
    }
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
