//! The LLVM compile driver and code memory: [`LlvmJit`] implements the
//! VM's `Compiler` (bytecode → IR → fold → LLVM IR → `default<O2>` →
//! machine code through MCJIT) at the optimized level, and hands the
//! baseline level to `lst_backends`' baseline compiler (so LLVM can be
//! the top tier).
//!
//! It owns one LLVM context and one MCJIT engine; each unit is a module
//! of its own added to the engine. LLVM's context is not `Send` and every
//! LLVM value borrows it, so the context is leaked to live as long as the
//! process: compiled code is never freed (as with Cranelift), because
//! frames may still run a method that was redefined. The send, return and
//! exit stubs and the trampoline are Cranelift's (`lst_backends`), shared
//! through addresses: the two conventions match (see the crate doc).

use crate::select::{self, Env};
use crate::unit::Unit;
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine,
};
use lst_backends::CraneliftJit;
use lst_backends::optimizations::Optimizations;
use lst_vm::jit_runtime::boundary::{Compiled, Compiler, Layout};
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::jit_runtime::tiering::Level;
use lst_vm::value::Value;
use lst_vm::vm::Vm;

/// The signature of the trampoline as Rust sees it.
type Trampoline = unsafe extern "C" fn(*mut Vm, usize, u64, u64, u64) -> u64;

/// The LLVM pass pipeline every unit goes through.
const PASSES: &str = "default<O2>";

/// The LLVM JIT.
pub struct LlvmJit {
    context: &'static Context,
    engine: ExecutionEngine<'static>,
    machine: TargetMachine,
    /// Owns the shared stubs and the trampoline, and compiles at the
    /// baseline level (the first tier of `--jit-top llvm`).
    cranelift: CraneliftJit,
    layout: Layout,
    compiled: u32,
    /// Keep the text of the last unit compiled (for `disasm --jit`).
    pub keep_listing: bool,
    /// What `disasm --jit` shows of the last unit LLVM compiled while
    /// `keep_listing` was set.
    pub listing: Option<Listing>,
    /// The optimizations LLVM's level runs (`--jit-opt`).
    pub optimizations: Optimizations,
}

/// A unit as LLVM saw it: the selected IR, the IR after the passes, the
/// machine code as assembly (emitted from a copy of the optimized module
/// by the same target machine: the JIT's bytes differ only in
/// addresses), and where the JIT put it.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub selected: String,
    pub optimized: String,
    pub assembly: String,
    pub address: usize,
}

impl LlvmJit {
    pub fn new() -> Result<LlvmJit, String> {
        Target::initialize_native(&InitializationConfig::default())?;
        let triple = TargetMachine::get_default_triple();
        let target = Target::from_triple(&triple).map_err(|e| e.to_string())?;
        let machine = target
            .create_target_machine(
                &triple,
                &TargetMachine::get_host_cpu_name().to_string(),
                &TargetMachine::get_host_cpu_features().to_string(),
                OptimizationLevel::Default,
                RelocMode::Default,
                CodeModel::JITDefault,
            )
            .ok_or("llvm: no target machine for this host")?;
        let context: &'static Context = Box::leak(Box::new(Context::create()));
        let root = context.create_module("lst");
        let engine = root
            .create_jit_execution_engine(OptimizationLevel::Default)
            .map_err(|e| format!("llvm: {e}"))?;
        Ok(LlvmJit {
            context,
            engine,
            machine,
            cranelift: CraneliftJit::new()?,
            layout: Vm::native_layout(),
            compiled: 0,
            keep_listing: false,
            listing: None,
            optimizations: Optimizations::all(),
        })
    }

    /// Selects, optimizes and compiles `unit` as function `name`; its
    /// address and entries.
    fn build(
        &mut self,
        unit: &Unit,
        name: &str,
        sites: &[SendSite],
        first_record: u32,
    ) -> Result<(usize, Vec<lst_vm::jit_runtime::boundary::Entry>), String> {
        let module = self.context.create_module(name);
        let env = Env {
            layout: &self.layout,
            targets: self.cranelift.targets(),
            first_record,
            sites,
            bytecodes: &unit.bytecodes,
            literal_count: unit.literal_count,
        };
        let entries = select::select(self.context, &module, name, &unit.ir, &env)?;
        module
            .verify()
            .map_err(|e| format!("llvm: invalid IR: {e}"))?;
        let selected = self
            .keep_listing
            .then(|| module.print_to_string().to_string());
        module
            .run_passes(PASSES, &self.machine, PassBuilderOptions::create())
            .map_err(|e| format!("llvm passes: {e}"))?;
        let listing = match selected {
            Some(selected) => Some(self.listing_of(&module, selected)?),
            None => None,
        };
        self.engine
            .add_module(&module)
            .map_err(|()| "llvm: cannot add the module".to_string())?;
        let address = self
            .engine
            .get_function_address(name)
            .map_err(|e| format!("llvm: {e}"))?;
        if let Some(listing) = listing {
            self.listing = Some(Listing { address, ..listing });
        }
        Ok((address, entries))
    }

    /// The listing of optimized `module`, selected as `selected`.
    fn listing_of(&self, module: &Module<'static>, selected: String) -> Result<Listing, String> {
        let copy = module.clone();
        let assembly = self
            .machine
            .write_to_memory_buffer(&copy, FileType::Assembly)
            .map_err(|e| format!("llvm assembly: {e}"))?;
        Ok(Listing {
            selected,
            optimized: module.print_to_string().to_string(),
            assembly: String::from_utf8_lossy(assembly.as_slice()).into_owned(),
            address: 0,
        })
    }
}

impl Compiler for LlvmJit {
    /// Compiles with the baseline compiler at the baseline level, with
    /// LLVM at the optimized one.
    fn compile(
        &mut self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
        level: Level,
    ) -> Result<Compiled, String> {
        if level == Level::Baseline {
            return self
                .cranelift
                .compile(vm, method, start, first_record, level);
        }
        let unit = Unit::read(vm, method, start, self.optimizations)?;
        let sites: Box<[SendSite]> = (0..unit.sends()).map(|_| SendSite::default()).collect();
        self.compiled += 1;
        let name = format!("lst_llvm_{}", self.compiled);
        let (code, entries) = self.build(&unit, &name, &sites, first_record)?;
        Ok(Compiled {
            code,
            entries,
            sites,
            counter: None,
            unboxed_regions: unit.unboxed_regions,
            inlining: None,
        })
    }

    fn trampoline(&self) -> Trampoline {
        self.cranelift.trampoline()
    }
}
