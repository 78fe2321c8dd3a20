//! Code memory and the compile driver: one `JITModule` holds every compiled
//! method and the entry trampoline; [`CraneliftJit`] implements the VM's
//! `Compiler` (bytecode → IR → fold → CLIF → machine code).
//!
//! An optimized compile can also be split ([`Compiler::prepare`]): the
//! IR and its CLIF are built on the main thread (they read the heap and
//! embed the addresses of the unit's send sites and constants), Cranelift
//! compiles the CLIF to machine code on the compile worker
//! ([`lst_vm::jit_runtime::background`]), and [`Compiler::install`] puts
//! those bytes into code memory on the main thread.
//!
//! Compiled code is never freed (cranelift-jit frees only whole modules):
//! a method that is redefined keeps its old code for frames still running
//! it. The code embeds no heap addresses, so a collection needs no patching.

use crate::baseline;
use crate::helpers::{self, Helper};
use crate::inlining::UnitInlining;
use crate::lower::{self, Env, HelperImport, MethodFacts};
use crate::optimizations::{Optimization, Optimizations};
use crate::pass_log::PassLog;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, InstBuilder, SigRef, Signature, UserFuncName, types::I64,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::{Context, settings, settings::Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleReloc, default_libcall_names};
use lst_bytecode::inline_ops::ObjectOp;
use lst_bytecode::selector_arity;
use lst_jit::ir::Kind;
use lst_jit::translate::{Source, translate};
use lst_vm::jit_runtime::background::{Codegen, Generated};
use lst_vm::jit_runtime::boundary::{Compiled, Compiler, Entry, Layout, Prepared};
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::jit_runtime::tiering::{COUNTER_OFF, Level};
use lst_vm::jit_runtime::unit_constants::{InlinedExit, Inlining, UnitConstants};
use lst_vm::jit_runtime::{float_ops, int_ops};
use lst_vm::layout::method;
use lst_vm::value::Value;
use lst_vm::vm::Vm;
use std::cell::Cell;

/// The signature of the trampoline as Rust sees it.
type Trampoline = unsafe extern "C" fn(*mut Vm, usize, u64, u64, u64) -> u64;

/// The Cranelift JIT.
pub struct CraneliftJit {
    module: JITModule,
    /// The module's ISA, shared with the compile worker.
    isa: OwnedTargetIsa,
    ctx: Context,
    builder: FunctionBuilderContext,
    helpers: Vec<FuncId>,
    /// The same, as the lowering imports them into a function.
    helper_imports: Vec<HelperImport>,
    /// The Float functions, by operation (see [`crate::float_stub`]).
    float_ops: Vec<HelperImport>,
    /// The shared `new:` function baseline code calls
    /// ([`crate::new_slots_stub`]).
    new_slots: Option<FuncId>,
    /// The shared exits, by `Exit` (see [`crate::exit_stub`]).
    exits: Vec<HelperImport>,
    trampoline: Trampoline,
    send_stub: Option<FuncId>,
    return_stub: Option<FuncId>,
    layout: Layout,
    /// Where baseline code jumps and calls.
    targets: baseline::Targets,
    compiled: u32,
    /// Keep the text of the last compiled function (for `disasm --jit`).
    pub keep_listing: bool,
    /// The CLIF and machine-code listing of the last function compiled
    /// while `keep_listing` was set.
    pub listing: Option<Listing>,
    /// The optimizations the optimized level runs (`--jit-opt`).
    pub optimizations: Optimizations,
}

/// What `disasm --jit` shows of a compiled function.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub clif: String,
    pub code: Vec<u8>,
    pub address: usize,
}

fn isa() -> Result<OwnedTargetIsa, String> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v)
            .map_err(|e| format!("cranelift setting {k}: {e}"))
    };
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    // The tail calling convention needs frame pointers on x86-64.
    set(&mut flags, "preserve_frame_pointers", "true")?;
    let verify = if std::env::var_os("LST_JIT_VERIFY").is_some() {
        "true"
    } else {
        "false"
    };
    set(&mut flags, "enable_verifier", verify)?;
    let isa = cranelift_native::builder().map_err(|e| format!("no native ISA: {e}"))?;
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| format!("cannot build the ISA: {e}"))
}

/// `tail fn(vm, hp, value, k) -> u64`: every compiled function.
fn tail_signature(pointer: cranelift_codegen::ir::Type) -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    for t in [pointer, I64, I64, I64] {
        sig.params.push(AbiParam::new(t));
    }
    sig.returns.push(AbiParam::new(I64));
    sig
}

impl CraneliftJit {
    pub fn new() -> Result<CraneliftJit, String> {
        let isa = isa()?;
        let pointer = isa.pointer_type();
        let mut jb = JITBuilder::with_isa(isa.clone(), default_libcall_names());
        let all: Vec<Helper> = helpers::all(pointer);
        for h in &all {
            jb.symbol(h.name, h.address);
        }
        let mut module = JITModule::new(jb);
        let helpers = all
            .iter()
            .map(|h| {
                module
                    .declare_function(h.name, Linkage::Import, &h.signature)
                    .map_err(|e| format!("declaring helper {}: {e}", h.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let helper_imports = helpers
            .iter()
            .zip(&all)
            .map(|(&id, h)| HelperImport {
                id,
                signature: h.signature.clone(),
                colocated: false,
            })
            .collect();
        let mut jit = CraneliftJit {
            isa,
            ctx: module.make_context(),
            module,
            builder: FunctionBuilderContext::new(),
            helpers,
            helper_imports,
            float_ops: vec![],
            new_slots: None,
            exits: vec![],
            trampoline: refuse_to_run,
            send_stub: None,
            return_stub: None,
            layout: Vm::native_layout(),
            targets: baseline::Targets::default(),
            compiled: 0,
            keep_listing: false,
            listing: None,
            optimizations: Optimizations::all(),
        };
        jit.trampoline = jit.build_trampoline()?;
        jit.send_stub = Some(jit.build_send_stub()?);
        jit.return_stub = Some(jit.build_return_stub()?);
        jit.float_ops = jit.build_float_functions()?;
        jit.new_slots = Some(jit.build_new_slots_function()?);
        jit.exits = jit.build_exits()?;
        jit.targets = jit.baseline_targets(&all);
        Ok(jit)
    }

    /// The shared functions (send, return and exit stubs, Float
    /// functions) and the helpers' addresses: what baseline code jumps to
    /// and calls, for another code generator that enters and leaves
    /// compiled code the same way (the LLVM back end), and for listings
    /// (the back-end filetests) to name instead of printing numbers that
    /// differ per run.
    pub fn targets(&self) -> &baseline::Targets {
        &self.targets
    }

    /// The names of the functions in code memory by their CLIF number
    /// (`u0:N`), so that a listing (the back-end filetests) can name the
    /// helpers and stubs a function calls.
    pub fn function_names(&self) -> Vec<(u32, String)> {
        self.module
            .declarations()
            .get_functions()
            .filter_map(|(id, d)| Some((id.as_u32(), d.name.clone()?)))
            .collect()
    }

    /// The addresses baseline code uses: the shared functions (defined
    /// and finalized by now) and the helpers.
    fn baseline_targets(&self, helpers: &[Helper]) -> baseline::Targets {
        let code =
            |id: Option<FuncId>| id.map_or(0, |id| self.module.get_finalized_function(id) as u64);
        let exit = |e: crate::exit_stub::Exit| code(self.exits.get(e as usize).map(|x| x.id));
        baseline::Targets {
            send_stub: code(self.send_stub),
            return_stub: code(self.return_stub),
            exit_deopt: exit(crate::exit_stub::Exit::Deopt),
            exit_trap: exit(crate::exit_stub::Exit::Trap),
            helpers: helpers
                .iter()
                .map(|h| (h.address as u64, h.signature.params.len()))
                .collect(),
            float_ops: self.float_ops.iter().map(|f| code(Some(f.id))).collect(),
            new_slots: code(self.new_slots),
        }
    }

    /// The shared send stub and the four it hands over to (see
    /// [`crate::send_stub`]).
    fn build_send_stub(&mut self) -> Result<FuncId, String> {
        use crate::send_stub::{Next, build, build_block, build_direct, build_quick, build_slow};
        let send_site = self.helpers[helpers::Id::lst_send_site as usize];
        let send_direct = self.helpers[helpers::Id::lst_send_direct as usize];
        let slow = self.build_stub("lst_send_stub_slow", &[send_site], |b, lay, refs, tail| {
            build_slow(b, lay, refs[0], tail)
        })?;
        let quick = self.build_stub("lst_send_stub_quick", &[slow], |b, lay, refs, tail| {
            build_quick(b, lay, refs[0], tail)
        })?;
        let block = self.build_stub("lst_send_stub_block", &[slow], |b, lay, refs, tail| {
            build_block(b, lay, refs[0], tail)
        })?;
        let direct = self.build_stub(
            "lst_send_stub_direct",
            &[send_direct, block],
            |b, lay, refs, tail| build_direct(b, lay, refs[0], refs[1], tail),
        )?;
        self.build_stub(
            "lst_send_stub",
            &[slow, quick, direct, block],
            |b, lay, refs, tail| {
                let next = Next {
                    slow: refs[0],
                    quick: refs[1],
                    direct: refs[2],
                    block: refs[3],
                };
                build(b, lay, &next, tail)
            },
        )
    }

    /// The shared return (see [`crate::return_stub`]).
    fn build_return_stub(&mut self) -> Result<FuncId, String> {
        let lst_return = self.helpers[helpers::Id::lst_return as usize];
        let slow = self.build_stub(
            "lst_return_stub_slow",
            &[lst_return],
            |b, lay, refs, tail| crate::return_stub::build_slow(b, lay, refs[0], tail),
        )?;
        self.build_stub("lst_return_stub", &[slow], |b, lay, refs, tail| {
            crate::return_stub::build(b, lay, refs[0], tail)
        })
    }

    /// The shared exits (see [`crate::exit_stub`]), by `Exit`.
    fn build_exits(&mut self) -> Result<Vec<HelperImport>, String> {
        use crate::exit_stub::{Exit, build};
        let signature = tail_signature(self.module.isa().pointer_type());
        Exit::ALL
            .iter()
            .map(|&exit| {
                let helper = self.helpers[exit.helper() as usize];
                let id =
                    self.build_stub(exit.name(), &[helper], |b, _, refs, _| build(b, refs[0]))?;
                Ok(HelperImport {
                    id,
                    signature: signature.clone(),
                    colocated: true,
                })
            })
            .collect()
    }

    /// The Float functions (see [`crate::float_stub`]), one per Float
    /// operation (`float_ops::float_ops`).
    fn build_float_functions(&mut self) -> Result<Vec<HelperImport>, String> {
        let pointer = self.module.isa().pointer_type();
        let mut sig = Signature::new(CallConv::PreserveAll);
        for t in [pointer, I64, I64, I64] {
            sig.params.push(AbiParam::new(t));
        }
        float_ops::float_ops()
            .map(|op| {
                let name = format!("lst_{}", op.name());
                let id = self.build_function(&name, &sig, &[], |b, lay, _, _| {
                    crate::float_stub::build(b, lay, op)
                })?;
                Ok(HelperImport {
                    id,
                    signature: sig.clone(),
                    colocated: true,
                })
            })
            .collect()
    }

    /// The shared `new:` function (see [`crate::new_slots_stub`]), with
    /// `lst_new_slots`'s signature.
    fn build_new_slots_function(&mut self) -> Result<FuncId, String> {
        let runtime = self.helpers[helpers::Id::lst_new_slots as usize];
        let sig = self.helper_imports[helpers::Id::lst_new_slots as usize]
            .signature
            .clone();
        self.build_function(
            "lst_new_slots_inline",
            &sig,
            &[runtime],
            |b, lay, refs, _| crate::new_slots_stub::build(b, lay, refs[0]),
        )
    }

    /// Defines a stub named `name` with the tail signature (see
    /// [`Self::build_function`]).
    fn build_stub(
        &mut self,
        name: &str,
        calls: &[FuncId],
        body: impl FnOnce(&mut FunctionBuilder, &Layout, &[FuncRef], SigRef),
    ) -> Result<FuncId, String> {
        let sig = tail_signature(self.module.isa().pointer_type());
        self.build_function(name, &sig, calls, body)
    }

    /// Defines a shared function named `name` with signature `sig`, built
    /// by `body` from the layout, references to the functions `calls`
    /// names, and the tail signature.
    fn build_function(
        &mut self,
        name: &str,
        sig: &Signature,
        calls: &[FuncId],
        body: impl FnOnce(&mut FunctionBuilder, &Layout, &[FuncRef], SigRef),
    ) -> Result<FuncId, String> {
        let tail_sig = tail_signature(self.module.isa().pointer_type());
        self.module.clear_context(&mut self.ctx);
        self.ctx.func.signature = sig.clone();
        let config = self.module.isa().frontend_config();
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder);
            let refs: Vec<FuncRef> = calls
                .iter()
                .map(|&id| self.module.declare_func_in_func(id, b.func))
                .collect();
            let tail = b.import_signature(tail_sig);
            body(&mut b, &self.layout, &refs, tail);
            b.finalize(config);
        }
        let id = self
            .module
            .declare_function(name, Linkage::Local, sig)
            .map_err(|e| e.to_string())?;
        self.define(id)?;
        Ok(id)
    }

    /// `SystemV fn(vm, code, hp, value, k) -> u64`: calls compiled code
    /// from Rust (which cannot call the tail convention itself).
    fn build_trampoline(&mut self) -> Result<Trampoline, String> {
        let pointer = self.module.isa().pointer_type();
        let mut sig = Signature::new(CallConv::SystemV);
        for t in [pointer, pointer, I64, I64, I64] {
            sig.params.push(AbiParam::new(t));
        }
        sig.returns.push(AbiParam::new(I64));
        self.module.clear_context(&mut self.ctx);
        self.ctx.func.signature = sig.clone();
        let config = self.module.isa().frontend_config();
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let p = b.block_params(entry).to_vec();
            let tail = b.import_signature(tail_signature(pointer));
            let call = b.ins().call_indirect(tail, p[1], &[p[0], p[2], p[3], p[4]]);
            let r = b.inst_results(call)[0];
            b.ins().return_(&[r]);
            b.seal_all_blocks();
            b.finalize(config);
        }
        let id = self
            .module
            .declare_function("lst_trampoline", Linkage::Local, &sig)
            .map_err(|e| e.to_string())?;
        let address = self.define(id)?;
        // SAFETY: the function just defined has exactly this signature.
        Ok(unsafe { std::mem::transmute::<*const u8, Trampoline>(address as *const u8) })
    }

    /// Compiles the function in `self.ctx` as `id` and answers its address.
    fn define(&mut self, id: FuncId) -> Result<usize, String> {
        if self.keep_listing {
            self.ctx.set_disasm(true);
        }
        let clif = self
            .keep_listing
            .then(|| self.ctx.func.display().to_string());
        self.module
            .define_function(id, &mut self.ctx)
            .map_err(|e| format!("cranelift: {e:?}"))?;
        let code = match clif {
            Some(_) => self
                .ctx
                .compiled_code()
                .map(|c| c.code_buffer().to_vec())
                .unwrap_or_default(),
            None => vec![],
        };
        self.module.clear_context(&mut self.ctx);
        self.finish(id, clif.map(|clif| (clif, code)))
    }

    /// Makes the functions defined so far executable; answers `id`'s
    /// address, and keeps `listing` (its CLIF, if any, and machine code)
    /// for `disasm --jit`.
    fn finish(&mut self, id: FuncId, listing: Option<(String, Vec<u8>)>) -> Result<usize, String> {
        self.module
            .finalize_definitions()
            .map_err(|e| format!("code memory: {e}"))?;
        let address = self.module.get_finalized_function(id) as usize;
        if let Some((clif, code)) = listing {
            self.listing = Some(Listing {
                clif,
                code,
                address,
            });
        }
        Ok(address)
    }

    /// Builds the CLIF of `input` into `self.ctx`; answers the entries.
    fn build(
        &mut self,
        input: &MethodInput,
        sites: &[SendSite],
        first_record: u32,
        unit: Option<&UnitConstants>,
    ) -> Result<(Vec<Entry>, Vec<InlinedExit>), String> {
        let stub = self.send_stub.ok_or("the send stub is not built")?;
        let return_stub = self.return_stub.ok_or("the return stub is not built")?;
        let pointer = self.module.isa().pointer_type();
        self.module.clear_context(&mut self.ctx);
        self.ctx.func.signature = tail_signature(pointer);
        self.ctx.func.name = UserFuncName::user(0, self.compiled);
        let config = self.module.isa().frontend_config();
        let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder);
        let tail_sig = b.import_signature(tail_signature(pointer));
        let send_stub = self.module.declare_func_in_func(stub, b.func);
        let return_stub = self.module.declare_func_in_func(return_stub, b.func);
        let env = Env {
            layout: &self.layout,
            helpers: &self.helper_imports,
            float_ops: &self.float_ops,
            exits: &self.exits,
            tail_sig,
            first_record,
            send_stub,
            return_stub,
            sites,
            unit,
        };
        let lowered = lower::lower(&input.ir, &input.facts(), &env, &mut b);
        match lowered {
            Ok(l) => {
                b.finalize(config);
                Ok((l.entries, l.inlined_exits))
            }
            Err(e) => {
                // A builder left in the middle of a function keeps its
                // half-built state, which would break the next function
                // built with it (the unit again without inlining, say).
                drop(b);
                self.builder = FunctionBuilderContext::new();
                Err(format!("lower: {e}"))
            }
        }
    }

    /// Compiles `input` with Cranelift: its address and entries.
    fn compile_optimized(
        &mut self,
        input: &MethodInput,
        sites: &[SendSite],
        first_record: u32,
        unit: Option<&UnitConstants>,
    ) -> Result<(usize, Vec<Entry>, Vec<InlinedExit>), String> {
        let (entries, exits) = match self.build(input, sites, first_record, unit) {
            Ok(e) => e,
            Err(e) => {
                self.module.clear_context(&mut self.ctx);
                return Err(e);
            }
        };
        let id = self.declare_method()?;
        Ok((self.define(id)?, entries, exits))
    }

    /// Compiles `input` with the baseline code generator: its address
    /// and entries.
    fn compile_baseline(
        &mut self,
        input: &MethodInput,
        sites: &[SendSite],
        first_record: u32,
        counter: &Cell<i64>,
    ) -> Result<(usize, Vec<Entry>), String> {
        let env = baseline::Env {
            layout: &self.layout,
            targets: &self.targets,
            first_record,
            sites,
            counter: counter as *const Cell<i64> as u64,
        };
        let (code, entries) = baseline::compile(&input.ir, &input.facts(), &env)
            .map_err(|e| format!("baseline: {e}"))?;
        let id = self.declare_method()?;
        self.module
            .define_function_bytes(id, 16, &code, &[])
            .map_err(|e| format!("code memory: {e}"))?;
        let listing = self.keep_listing.then(|| (String::new(), code));
        Ok((self.finish(id, listing)?, entries))
    }

    /// Compiles IR `ir` as it is (no pass runs on it) at the optimized
    /// level, for a method with `bytecodes` and `literal_count` literals:
    /// for tests of the lowering on IR written by hand.
    pub fn compile_ir(
        &mut self,
        ir: &lst_jit::ir::Function,
        bytecodes: &[u8],
        literal_count: usize,
    ) -> Result<Compiled, String> {
        let input = MethodInput {
            ir: ir.clone(),
            bytecodes: bytecodes.to_vec(),
            literal_count,
            unboxed_regions: 0,
            inlining: None,
        };
        let sites = input.sites();
        let (code, entries, _) = self.compile_optimized(&input, &sites, 1, None)?;
        Ok(Compiled {
            code,
            entries,
            sites,
            counter: None,
            unboxed_regions: 0,
            inlining: None,
        })
    }

    /// Declares the next compiled method in code memory.
    fn declare_method(&mut self) -> Result<FuncId, String> {
        self.compiled += 1;
        let sig = tail_signature(self.module.isa().pointer_type());
        self.module
            .declare_function(&format!("m{}", self.compiled), Linkage::Local, &sig)
            .map_err(|e| e.to_string())
    }
}

/// One compile unit (a method, or a block body in it) as every optimizing
/// back end takes it: its IR translated, with the SmallInt and Float fast
/// paths lowered (`lst_jit::semantic`, with the facts of the method's
/// literals) and folded, and the facts about the method besides the IR.
/// Cranelift, the baseline and the LLVM back end all start from this.
pub struct UnitIr {
    pub ir: lst_jit::ir::Function,
    pub bytecodes: Vec<u8>,
    pub literal_count: usize,
    /// How many unboxed Float regions the region pass made.
    pub unboxed_regions: u32,
    /// What inlining made of it (`None`: it did not run).
    pub inlining: Option<UnitInlining>,
}

/// Which of the semantic lowering's fast paths a unit gets, beyond the
/// SmallInt and Float ones every back end selects: what its back end can
/// select, and what pays for its compile time.
#[derive(Clone, Copy, Debug)]
pub struct FastPaths {
    /// `at:`, `at:put:`, `==`, `class`, `size`, `new:` (object ops).
    pub objects: bool,
    /// Getters, setters and constants answered inline (quick ops).
    pub quick: bool,
    /// Float expression trees on unboxed doubles (the region pass,
    /// `lst_jit::semantic::region`), for back ends that select its ops.
    pub unbox: bool,
    /// Monomorphic sends inlined speculatively (`lst_jit::inline`), for
    /// back ends that lower its constants, guards and exits.
    pub inline: bool,
    /// Float temporaries unboxed across innermost loops
    /// (`lst_jit::semantic::loops`), for back ends that select
    /// `box_float_gc` and `countdown_tick`.
    pub unbox_loops: bool,
    /// Guards that also fail every N-th time while the VM's deopt stress
    /// is on (`lst_jit::stress`), for back ends that select
    /// `stress_tick`.
    pub stress: bool,
}

impl FastPaths {
    /// Every fast path, as the optimizing back ends select them, less
    /// the optimizations `opts` switches off.
    pub fn optimizing(opts: Optimizations) -> FastPaths {
        FastPaths {
            objects: true,
            quick: true,
            unbox: opts.has(Optimization::Unbox),
            inline: opts.has(Optimization::Inline),
            unbox_loops: opts.has(Optimization::UnboxLoops),
            stress: true,
        }
    }
}

/// Reads unit `(method, start)` (start 0: the method itself) from the
/// heap into its [`UnitIr`]: translate, the region pass (if `paths` asks
/// for unboxed Floats), the semantic lowering with the fast `paths`
/// asked for, fold, and the deopt stress's ticks if it is on.
pub fn read_unit(vm: &Vm, method: Value, start: u16, paths: FastPaths) -> Result<UnitIr, String> {
    read_unit_logged(vm, method, start, paths, &mut PassLog::off())
}

/// [`read_unit`], noting the IR after each pass in `log` (for
/// `lst disasm --jit`).
pub fn read_unit_logged(
    vm: &Vm,
    method: Value,
    start: u16,
    paths: FastPaths,
    log: &mut PassLog,
) -> Result<UnitIr, String> {
    let h = &vm.heap;
    let field = |i| h.get(method, i).unwrap_or(method);
    let code = field(method::BYTECODES);
    let literals = field(method::LITERALS);
    if !code.is_ref() || !h.is_bytes(code) || !literals.is_ref() || h.is_bytes(literals) {
        return Err("malformed method".into());
    }
    let selector = field(method::NAME);
    let arity = (selector.is_ref() && h.is_bytes(selector))
        .then(|| selector_arity(h.bytes(selector)))
        .flatten()
        .ok_or("the method's selector is not a Symbol")?;
    let temps = field(method::TEMPORARY_SIZE).as_usize().unwrap_or(0);
    let name = vm.method_name(method);
    let bytecodes = h.bytes(code).to_vec();
    let src = Source {
        name: &name,
        bytecodes: &bytecodes,
        arg_count: u8::try_from(arity).map_err(|_| "too many arguments")?,
        temp_count: u8::try_from(temps).map_err(|_| "too many temporaries")?,
    };
    let kind = match start {
        0 => Kind::Method,
        start => Kind::BlockBody { start },
    };
    let mut ir = translate(&src, kind).map_err(|e| format!("translate: {e}"))?;
    log.after("translate", &ir);
    let quick = per_selector(h, literals, |s| {
        // Unary (`x`, 1 value) or one-keyword (`x:`, 2 values).
        let nvals = match (selector_arity(s)?, s.last()) {
            (0, _) => 1,
            (1, Some(b':')) => 2,
            _ => return None,
        };
        (paths.quick && vm.may_be_quick(s, nvals)).then_some(())
    });
    let quick: Vec<bool> = quick.iter().map(Option::is_some).collect();
    let int_ops = per_selector(h, literals, int_ops::int_op);
    let float_ops = per_selector(h, literals, float_ops::float_op);
    let object_ops = per_selector(h, literals, |s| {
        ObjectOp::of_selector(s).filter(|_| paths.objects)
    });
    let not_float = vm.not_float_sites(method);
    let facts = lst_jit::semantic::Facts {
        literal_ops: &int_ops,
        float_ops: &float_ops,
        object_ops: &object_ops,
        quick: &quick,
        not_float: &not_float,
    };
    // Inlining runs first, so that the inlined bodies get the fast paths.
    let inlining =
        (paths.inline && start == 0).then(|| crate::inlining::inline_unit(vm, method, &mut ir));
    if inlining.is_some() {
        log.after("inline", &ir);
    }
    let unboxed_regions = if paths.unbox {
        lst_jit::semantic::region::unbox(&mut ir, &facts);
        log.after("unbox", &ir);
        region_roots(&ir)
    } else {
        0
    };
    lst_jit::semantic::lower(&mut ir, &facts);
    log.after("lower", &ir);
    if paths.unbox_loops {
        lst_jit::semantic::loops::unbox_loops(&mut ir);
        log.after("unbox-loops", &ir);
    }
    lst_jit::fold::fold(&mut ir);
    log.after("fold", &ir);
    if paths.stress && vm.deopt_stress().is_some() {
        lst_jit::stress::stress_guards(&mut ir);
        log.after("stress", &ir);
    }
    Ok(UnitIr {
        ir,
        bytecodes,
        literal_count: h.size(literals),
        unboxed_regions,
        inlining,
    })
}

/// How many unboxed Float regions `f` has: each has one root, a
/// `box_float` or (for a comparison) an `f64_*` compare, and nothing else
/// boxes or compares doubles.
fn region_roots(f: &lst_jit::ir::Function) -> u32 {
    use lst_jit::ir::Inst;
    let roots = f
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|d| matches!(d.inst, Inst::BoxFloat(_) | Inst::F64Compare(..)))
        .count();
    u32::try_from(roots).unwrap_or(u32::MAX)
}

/// A method as both code generators take it: its [`UnitIr`] and the
/// facts about its literals that only the Cranelift lowering uses.
struct MethodInput {
    ir: lst_jit::ir::Function,
    bytecodes: Vec<u8>,
    literal_count: usize,
    unboxed_regions: u32,
    inlining: Option<UnitInlining>,
}

impl MethodInput {
    /// Reads the unit `(method, start)` with every fast path the two
    /// back ends select (quick methods and unboxed Floats, as far as
    /// `opts` allows, only at `level` Optimized: the baseline leaves quick
    /// methods to the send stub, which answers them without a frame, and
    /// compiles faster for it; it selects no unboxed Float op).
    fn new(
        vm: &Vm,
        method: Value,
        start: u16,
        level: Level,
        opts: Optimizations,
    ) -> Result<MethodInput, String> {
        let paths = match level {
            Level::Optimized => FastPaths::optimizing(opts),
            Level::Baseline => FastPaths {
                objects: true,
                quick: false,
                unbox: false,
                inline: false,
                unbox_loops: false,
                stress: false,
            },
        };
        let UnitIr {
            ir,
            bytecodes,
            literal_count,
            unboxed_regions,
            inlining,
        } = read_unit(vm, method, start, paths)?;
        Ok(MethodInput {
            ir,
            bytecodes,
            literal_count,
            unboxed_regions,
            inlining,
        })
    }

    fn facts(&self) -> MethodFacts<'_> {
        MethodFacts {
            bytecodes: &self.bytecodes,
            literal_count: self.literal_count,
            inlined: self.inlining.as_ref().map_or(&[], |i| &i.methods),
        }
    }

    /// One send site per send.
    fn sites(&self) -> Box<[SendSite]> {
        let sends = self
            .ir
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|d| matches!(d.inst, lst_jit::ir::Inst::Send { .. }))
            .count();
        (0..sends).map(|_| SendSite::default()).collect()
    }
}

impl CraneliftJit {
    /// Compiles `input` at the optimized level, with its constants,
    /// validity word and inlined exits if inlining ran.
    fn compile_optimized_unit(
        &mut self,
        input: MethodInput,
        sites: Box<[SendSite]>,
        first_record: u32,
    ) -> Result<Compiled, String> {
        let unit = unit_constants(&input);
        let (code, entries, exits) =
            self.compile_optimized(&input, &sites, first_record, unit.as_deref())?;
        Ok(Compiled {
            code,
            entries,
            sites,
            counter: None,
            unboxed_regions: input.unboxed_regions,
            inlining: with_exits(input.inlining, unit, exits),
        })
    }

    /// Builds the CLIF of `input` at the optimized level, and leaves its
    /// compile to machine code to the job it answers (see
    /// [`GeneratedCode`]).
    fn prepare_optimized_unit(
        &mut self,
        input: MethodInput,
        sites: Box<[SendSite]>,
        first_record: u32,
    ) -> Result<Prepared, String> {
        let unit = unit_constants(&input);
        let (entries, exits) = match self.build(&input, &sites, first_record, unit.as_deref()) {
            Ok(e) => e,
            Err(e) => {
                self.module.clear_context(&mut self.ctx);
                return Err(e);
            }
        };
        let id = self.declare_method()?;
        let ctx = std::mem::replace(&mut self.ctx, self.module.make_context());
        Ok(Prepared {
            entries,
            sites,
            unboxed_regions: input.unboxed_regions,
            inlining: with_exits(input.inlining, unit, exits),
            codegen: codegen(ctx, self.isa.clone(), id),
        })
    }

    /// The optimized compile of `(method, start)`, by `compile` (in one
    /// piece) or by `prepare` (leaving the code generation); without
    /// inlining if the inlined code is not lowered.
    fn optimized<T>(
        &mut self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
        compile: UnitCompile<T>,
        inlining: fn(&mut T) -> &mut Option<Inlining>,
    ) -> Result<T, String> {
        let level = Level::Optimized;
        let input = MethodInput::new(vm, method, start, level, self.optimizations)?;
        let sites = input.sites();
        let (inlined, mut refused) = input
            .inlining
            .as_ref()
            .map_or((0, vec![]), |i| (i.inlined, i.refused.clone()));
        match compile(self, input, sites, first_record) {
            Err(why) if inlined > 0 => {
                // Inlined code the back end does not lower: the unit is
                // compiled without inlining.
                let opts = self.optimizations.with(Optimization::Inline, false);
                let input = MethodInput::new(vm, method, start, level, opts)?;
                let sites = input.sites();
                let mut c = compile(self, input, sites, first_record)?;
                let not_lowered = format!("not lowered: {}", first_words(&why));
                refused.extend(std::iter::repeat_n(not_lowered, inlined as usize));
                *inlining(&mut c) = Some(Inlining {
                    unit: Box::new(UnitConstants::new(vec![], vec![])),
                    inlined: 0,
                    refused,
                });
                Ok(c)
            }
            r => r,
        }
    }
}

/// A way to compile a unit's input at the optimized level, with its
/// sites and first record: in one piece or prepared for the worker.
type UnitCompile<T> = fn(&mut CraneliftJit, MethodInput, Box<[SendSite]>, u32) -> Result<T, String>;

/// The constants of `input`'s unit, if inlining ran (the code embeds
/// their addresses: boxed).
fn unit_constants(input: &MethodInput) -> Option<Box<UnitConstants>> {
    input
        .inlining
        .as_ref()
        .map(|i| Box::new(UnitConstants::new(i.constants.clone(), i.selectors.clone())))
}

/// What inlining made of a unit, with the exits its lowering made.
fn with_exits(
    inlining: Option<UnitInlining>,
    unit: Option<Box<UnitConstants>>,
    exits: Vec<InlinedExit>,
) -> Option<Inlining> {
    inlining.zip(unit).map(|(i, mut unit)| {
        for exit in exits {
            unit.add_exit(exit);
        }
        Inlining {
            unit,
            inlined: i.inlined,
            refused: i.refused,
        }
    })
}

/// The machine code of function `id` as the compile worker made it from
/// its CLIF, for [`Compiler::install`].
struct GeneratedCode {
    id: FuncId,
    bytes: Vec<u8>,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
}

/// The job that compiles the CLIF in `ctx` (function `id`) for `isa`:
/// Cranelift's code generation alone, which reads nothing but its
/// arguments.
fn codegen(mut ctx: Context, isa: OwnedTargetIsa, id: FuncId) -> Codegen {
    Box::new(move || {
        let mut plane = cranelift_codegen::control::ControlPlane::default();
        let alignment = ctx
            .compile(&*isa, &mut plane)
            .map_err(|e| format!("cranelift: {:?}", e.inner))?
            .buffer
            .alignment;
        let compiled = ctx.compiled_code().ok_or("cranelift: no code")?;
        let relocs = compiled
            .buffer
            .relocs()
            .iter()
            .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
            .collect();
        let code = GeneratedCode {
            id,
            bytes: compiled.code_buffer().to_vec(),
            alignment: u64::from(alignment),
            relocs,
        };
        Ok(Box::new(code) as Generated)
    })
}

impl Compiler for CraneliftJit {
    fn compile(
        &mut self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
        level: Level,
    ) -> Result<Compiled, String> {
        if level == Level::Optimized {
            return self.optimized(
                vm,
                method,
                start,
                first_record,
                Self::compile_optimized_unit,
                |c| &mut c.inlining,
            );
        }
        let input = MethodInput::new(vm, method, start, level, self.optimizations)?;
        let sites = input.sites();
        let counter = Box::new(Cell::new(COUNTER_OFF));
        let (code, entries) = self.compile_baseline(&input, &sites, first_record, &counter)?;
        Ok(Compiled {
            code,
            entries,
            sites,
            counter: Some(counter),
            unboxed_regions: input.unboxed_regions,
            inlining: None,
        })
    }

    fn prepare(
        &mut self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
    ) -> Option<Result<Prepared, String>> {
        Some(self.optimized(
            vm,
            method,
            start,
            first_record,
            Self::prepare_optimized_unit,
            |p| &mut p.inlining,
        ))
    }

    fn install(&mut self, code: Generated) -> Result<usize, String> {
        let code = code
            .downcast::<GeneratedCode>()
            .map_err(|_| "not Cranelift's generated code")?;
        self.module
            .define_function_bytes(code.id, code.alignment, &code.bytes, &code.relocs)
            .map_err(|e| format!("code memory: {e}"))?;
        self.finish(code.id, None)
    }

    fn trampoline(&self) -> Trampoline {
        self.trampoline
    }
}

/// The first words of a refusal (without the values it names).
fn first_words(why: &str) -> String {
    why.split([':', '(']).take(2).collect::<Vec<_>>().join(":")
}

/// Stands in for the trampoline until it is built.
unsafe extern "C" fn refuse_to_run(_: *mut Vm, _: usize, _: u64, _: u64, _: u64) -> u64 {
    0
}

/// `f` of each literal of `literals` that is a Symbol (else `None`).
fn per_selector<T>(
    h: &lst_vm::heap::Heap,
    literals: lst_vm::value::Value,
    f: impl Fn(&[u8]) -> Option<T>,
) -> Vec<Option<T>> {
    (0..h.size(literals))
        .map(|i| {
            let lit = h.get(literals, i).unwrap_or(literals);
            (lit.is_ref() && h.is_bytes(lit))
                .then(|| f(h.bytes(lit)))
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lst_jit::parse::parse_function;

    /// A unit of hand-written IR, with nothing inlined.
    fn input(ir: &str) -> MethodInput {
        MethodInput {
            ir: parse_function(ir).expect("the test IR parses"),
            bytecodes: vec![0; 16],
            literal_count: 1,
            unboxed_regions: 0,
            inlining: None,
        }
    }

    const SENDS: &str = "method T>>m args 0 temps 0
bb0:
    v0 = self
    v1 = send lit0 v0 @3 []
    return v1
";

    #[test]
    fn a_function_the_lowering_refuses_leaves_the_builder_usable() {
        let mut jit = CraneliftJit::new().expect("a Cranelift JIT for this host");
        let unit = input(SENDS);
        // No send sites for its send: the lowering refuses it halfway.
        let refused = jit.compile_optimized(&unit, &[], 0, None);
        assert!(refused.is_err_and(|e| e.contains("send sites")));
        // The same unit with its sites compiles with the same builder.
        let sites = unit.sites();
        let compiled = jit.compile_optimized(&unit, &sites, 0, None);
        assert!(compiled.is_ok(), "{:?}", compiled.err());
    }
}
