//! The LLVM compile driver and code memory: [`LlvmJit`] implements the
//! VM's `Compiler` (bytecode → IR → fold → LLVM IR → `default<O2>` →
//! machine code through MCJIT) at the optimized level, and hands the
//! baseline level to `lst_backends`' baseline compiler (so LLVM can be
//! the top tier).
//!
//! A compile has two halves. What reads the heap or the VM runs on the
//! main thread: the unit's IR ([`Unit::read`]), its entries, and its send
//! sites, written and turned into addresses ([`Sites::prepare`]); the
//! result is a [`Job`], plain data. Code generation (selection into LLVM
//! IR, the passes, MCJIT's machine code) reads only the job, so it runs
//! either at once on the main thread or, for a tier-up with background
//! compiles on, on the compile worker (`Compiler::prepare`), which sends
//! back the finalized code's address for `Compiler::install`.
//!
//! Code generation happens in a [`Backend`]: one LLVM context, one MCJIT
//! engine and one target machine, each unit a module of its own added to
//! the engine. LLVM's context is not `Send` and every LLVM value borrows
//! it, so a backend never leaves the thread that made it: the main
//! thread's belongs to the `LlvmJit`, the worker's is thread-local to the
//! worker and made at its first LLVM job. Each context is leaked (so that
//! the engine can borrow it for `'static`); each engine owns the code it
//! made and lives as long as its owner: the `LlvmJit` (the VM's tier) or
//! the worker thread, which ends only after the tier that installs its
//! code is gone. Compiled code is never freed before (as with Cranelift),
//! because frames may still run a method that was redefined. Once a
//! unit's code is finalized its module is removed from the engine and
//! freed: what stays per unit is its machine code. The send, return and
//! exit stubs and the trampoline are Cranelift's (`lst_backends`), shared
//! through addresses: the two conventions match (see the crate doc).

use crate::select::{self, Env, Sites};
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
use lst_backends::baseline::Targets;
use lst_backends::entries;
use lst_backends::optimizations::Optimizations;
use lst_vm::jit_runtime::background::{Codegen, Generated};
use lst_vm::jit_runtime::boundary::{Compiled, Compiler, Entry, Layout, Prepared};
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::jit_runtime::tiering::Level;
use lst_vm::value::Value;
use lst_vm::vm::Vm;
use std::cell::{Cell, OnceCell};
use std::sync::Arc;

/// The signature of the trampoline as Rust sees it.
type Trampoline = unsafe extern "C" fn(*mut Vm, usize, u64, u64, u64) -> u64;

/// The LLVM pass pipeline every unit goes through unless
/// [`LlvmJit::passes`] says otherwise.
pub const PASSES: &str = "default<O2>";

/// The LLVM JIT.
pub struct LlvmJit {
    /// Generates the code of the compiles done at once (and listings).
    backend: Backend,
    /// Owns the shared stubs and the trampoline, and compiles at the
    /// baseline level (the first tier of `--jit-top llvm`).
    cranelift: CraneliftJit,
    /// The stubs' and helpers' addresses, shared with the jobs.
    targets: Arc<Targets>,
    layout: Layout,
    /// Keep the text of the last unit compiled (for `disasm --jit`).
    pub keep_listing: bool,
    /// What `disasm --jit` shows of the last unit LLVM compiled while
    /// `keep_listing` was set.
    pub listing: Option<Listing>,
    /// The optimizations LLVM's level runs (`--jit-opt`).
    pub optimizations: Optimizations,
    /// The LLVM pass pipeline ([`PASSES`] unless changed): a pipeline
    /// LLVM rejects makes every optimized compile fail (how the tests
    /// make code generation fail on the worker).
    pub passes: String,
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

/// One unit ready for code generation: all that selection reads, made on
/// the main thread. Plain data (`Send`): it names the send sites, the
/// stubs and the helpers by address and holds no heap reference.
struct Job {
    unit: Unit,
    /// The entries the tier reserved records for: the code must have
    /// exactly these.
    entries: Vec<Entry>,
    sites: Sites,
    targets: Arc<Targets>,
    layout: Layout,
    passes: String,
}

/// What a job generated on the worker, for [`Compiler::install`]: the
/// address of its finalized code (owned by the worker's backend).
struct LlvmCode {
    address: usize,
}

thread_local! {
    /// The compile worker's backend, made at its first LLVM job (or why
    /// it could not be); the code it made lives until the thread ends.
    static WORKER_BACKEND: OnceCell<Result<Backend, String>> = const { OnceCell::new() };
}

/// An LLVM context with its MCJIT engine and target machine, on one
/// thread: turns jobs into machine code (see the module doc).
struct Backend {
    context: &'static Context,
    engine: ExecutionEngine<'static>,
    machine: TargetMachine,
    /// Units compiled (their functions' names are numbered).
    made: Cell<u64>,
    /// What the functions' names start with (one engine resolves each
    /// name once; the worker's differ from the main thread's for
    /// listings).
    prefix: &'static str,
}

impl Backend {
    /// A backend on this thread (LLVM's native target is initialized:
    /// [`LlvmJit::new`] did it before any job could exist).
    fn new(prefix: &'static str) -> Result<Backend, String> {
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
        Ok(Backend {
            context,
            engine,
            machine,
            made: Cell::new(0),
            prefix,
        })
    }

    /// Selects, optimizes and compiles `job` into a function of its own
    /// (with its listing if `keep_listing`); its address and entries.
    fn generate(
        &self,
        job: &Job,
        keep_listing: bool,
    ) -> Result<(usize, Vec<Entry>, Option<Listing>), String> {
        self.made.set(self.made.get() + 1);
        let name = format!("{}{}", self.prefix, self.made.get());
        let module = self.context.create_module(&name);
        let env = Env {
            layout: &job.layout,
            targets: &job.targets,
            sites: &job.sites,
            bytecodes: &job.unit.bytecodes,
            literal_count: job.unit.literal_count,
        };
        let entries = select::select(self.context, &module, &name, &job.unit.ir, &env)?;
        module
            .verify()
            .map_err(|e| format!("llvm: invalid IR: {e}"))?;
        let selected = keep_listing.then(|| module.print_to_string().to_string());
        module
            .run_passes(&job.passes, &self.machine, PassBuilderOptions::create())
            .map_err(|e| format!("llvm passes: {e}"))?;
        let listing = match selected {
            Some(selected) => Some(self.listing_of(&module, selected)?),
            None => None,
        };
        self.engine
            .add_module(&module)
            .map_err(|()| "llvm: cannot add the module".to_string())?;
        let address = self.engine.get_function_address(&name);
        // The code is finalized (or failed): the engine keeps the machine
        // code, the module's IR is freed with `module`.
        let removed = self.engine.remove_module(&module);
        let address = address.map_err(|e| format!("llvm: {e}"))?;
        removed.map_err(|e| format!("llvm: {e}"))?;
        let listing = listing.map(|l| Listing { address, ..l });
        Ok((address, entries, listing))
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

/// The code generation of `job` on the compile worker, in the worker's
/// backend.
fn codegen(job: Job) -> Codegen {
    Box::new(move || {
        WORKER_BACKEND.with(|cell| {
            let backend = cell
                .get_or_init(|| Backend::new("lst_llvm_bg_"))
                .as_ref()
                .map_err(Clone::clone)?;
            let (address, entries, _) = backend.generate(&job, false)?;
            if entries != job.entries {
                return Err("llvm: the code's entries are not the ones planned".into());
            }
            Ok(Box::new(LlvmCode { address }) as Generated)
        })
    })
}

impl LlvmJit {
    pub fn new() -> Result<LlvmJit, String> {
        Target::initialize_native(&InitializationConfig::default())?;
        let cranelift = CraneliftJit::new()?;
        Ok(LlvmJit {
            backend: Backend::new("lst_llvm_")?,
            targets: Arc::new(cranelift.targets().clone()),
            cranelift,
            layout: Vm::native_layout(),
            keep_listing: false,
            listing: None,
            optimizations: Optimizations::all(),
            passes: PASSES.to_string(),
        })
    }

    /// The main thread's half of an optimized compile of `(method,
    /// start)` whose entry 0 is record `first_record`: the job that
    /// generates its code (with the unit's IR and entries), and its sites,
    /// prepared.
    fn job(
        &self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
    ) -> Result<(Job, Box<[SendSite]>), String> {
        let unit = Unit::read(vm, method, start, self.optimizations)?;
        let entries = entries::plan(&unit.ir, &unit.bytecodes)
            .map_err(|e| e.0)?
            .entries;
        let sites: Box<[SendSite]> = (0..unit.sends()).map(|_| SendSite::default()).collect();
        let prepared = Sites::prepare(&unit.ir, &sites, first_record, unit.literal_count)?;
        let job = Job {
            unit,
            entries,
            sites: prepared,
            targets: Arc::clone(&self.targets),
            layout: self.layout,
            passes: self.passes.clone(),
        };
        Ok((job, sites))
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
        let (job, sites) = self.job(vm, method, start, first_record)?;
        let (code, entries, listing) = self.backend.generate(&job, self.keep_listing)?;
        if listing.is_some() {
            self.listing = listing;
        }
        Ok(Compiled {
            code,
            entries,
            sites,
            counter: None,
            unboxed_regions: job.unit.unboxed_regions,
            inlining: None,
        })
    }

    /// An optimized compile whose LLVM half (selection, passes, machine
    /// code) runs on the compile worker.
    fn prepare(
        &mut self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
    ) -> Option<Result<Prepared, String>> {
        Some(
            self.job(vm, method, start, first_record)
                .map(|(job, sites)| Prepared {
                    entries: job.entries.clone(),
                    sites,
                    unboxed_regions: job.unit.unboxed_regions,
                    inlining: None,
                    codegen: codegen(job),
                }),
        )
    }

    /// The worker's code is in place already (finalized in its engine):
    /// its address.
    fn install(&mut self, code: Generated) -> Result<usize, String> {
        let code = code
            .downcast::<LlvmCode>()
            .map_err(|_| "not LLVM's generated code")?;
        Ok(code.address)
    }

    fn trampoline(&self) -> Trampoline {
        self.cranelift.trampoline()
    }
}
