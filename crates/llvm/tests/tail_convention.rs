//! The calling-convention question the LLVM back end rests on: LLVM
//! `tailcc` code must `musttail`-call Cranelift `CallConv::Tail` code (the
//! send, return and exit stubs) and be tail-called by it, with the
//! compiled-function arguments (four words in registers), and neither may
//! grow the native stack.
//!
//! The test builds a Cranelift tail function and an LLVM tailcc function
//! that call each other in a cycle a million times on a thread with a
//! 64 KiB stack (any growth would overflow within a few thousand steps),
//! entered from a SystemV trampoline as the VM enters compiled code. The
//! LLVM side also calls a Rust helper on each step, so a misaligned stack
//! after a Cranelift tail call would show.
#![cfg(feature = "llvm")]

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{AbiParam, InstBuilder, Signature, types::I64};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::values::LLVMTailCallKind;
use std::sync::atomic::{AtomicU64, Ordering};

/// LLVM's number for the `tailcc` calling convention.
const TAILCC: u32 = 18;

/// Steps through the cycle (each side runs this many times).
const STEPS: i64 = 1_000_000;

/// How often the LLVM side called [`note_step`], and the sum of the
/// floats it formatted (needs a 16-byte aligned stack on x86-64).
static NOTED: AtomicU64 = AtomicU64::new(0);

extern "C" fn note_step(n: i64) -> i64 {
    NOTED.fetch_add(1, Ordering::Relaxed);
    let text = format!("{:.1}", n as f64 / 2.0);
    std::hint::black_box(text).len() as i64
}

fn tail_signature() -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I64));
    sig
}

type Trampoline = unsafe extern "C" fn(usize, i64, i64, i64, i64) -> i64;

/// The Cranelift half: `tail fn(n, acc, llvm, me)`: answers `acc` when
/// `n` is 0, else tail-calls `llvm(n - 1, acc + 1, llvm, me)`; and the
/// SystemV trampoline `fn(code, a, b, c, d)` that calls tail code.
/// Answers the module (which owns the code) and both addresses.
fn cranelift_half() -> (JITModule, usize, Trampoline) {
    let mut flags = settings::builder();
    flags.set("preserve_frame_pointers", "true").unwrap();
    flags.set("opt_level", "speed").unwrap();
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(flags))
        .unwrap();
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    let config = module.isa().frontend_config();
    let mut ctx = module.make_context();
    let mut fbc = FunctionBuilderContext::new();

    ctx.func.signature = tail_signature();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fbc);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (done, more) = (b.create_block(), b.create_block());
        let zero = b.ins().icmp_imm_s(IntCC::Equal, p[0], 0);
        b.ins().brif(zero, done, &[], more, &[]);
        b.switch_to_block(done);
        b.ins().return_(&[p[1]]);
        b.switch_to_block(more);
        let n = b.ins().iadd_imm_s(p[0], -1);
        let acc = b.ins().iadd_imm_s(p[1], 1);
        let sig = b.import_signature(tail_signature());
        b.ins()
            .return_call_indirect(sig, p[2], &[n, acc, p[2], p[3]]);
        b.seal_all_blocks();
        b.finalize(config);
    }
    let step = module
        .declare_function("cl_step", Linkage::Local, &tail_signature())
        .unwrap();
    module.define_function(step, &mut ctx).unwrap();
    module.clear_context(&mut ctx);

    let mut sysv = Signature::new(CallConv::SystemV);
    for _ in 0..5 {
        sysv.params.push(AbiParam::new(I64));
    }
    sysv.returns.push(AbiParam::new(I64));
    ctx.func.signature = sysv.clone();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fbc);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let sig = b.import_signature(tail_signature());
        let call = b.ins().call_indirect(sig, p[0], &[p[1], p[2], p[3], p[4]]);
        let r = b.inst_results(call)[0];
        b.ins().return_(&[r]);
        b.seal_all_blocks();
        b.finalize(config);
    }
    let tramp = module
        .declare_function("trampoline", Linkage::Local, &sysv)
        .unwrap();
    module.define_function(tramp, &mut ctx).unwrap();
    module.clear_context(&mut ctx);
    module.finalize_definitions().unwrap();
    let step = module.get_finalized_function(step) as usize;
    let tramp = module.get_finalized_function(tramp);
    // SAFETY: `trampoline` was just defined with exactly this signature.
    let tramp = unsafe { std::mem::transmute::<*const u8, Trampoline>(tramp) };
    (module, step, tramp)
}

/// The LLVM half, in `context`: `tailcc i64 llvm_step(n, acc, llvm,
/// cranelift)`: calls `note_step(n)`, then `musttail`-calls
/// `cranelift(n, acc + 2, llvm, cranelift)` through its address.
/// Answers the function's address (the engine, which owns the code, is
/// leaked with the context).
fn llvm_half(context: &'static Context) -> usize {
    let module = context.create_module("tail_convention");
    let i64t = context.i64_type();
    let ptr = context.ptr_type(inkwell::AddressSpace::default());
    let step_type = i64t.fn_type(&[i64t.into(); 4], false);
    let f = module.add_function("llvm_step", step_type, None);
    f.set_call_conventions(TAILCC);
    let b = context.create_builder();
    b.position_at_end(context.append_basic_block(f, "entry"));
    let p: Vec<_> = f.get_param_iter().map(|v| v.into_int_value()).collect();
    let note_type = i64t.fn_type(&[i64t.into()], false);
    let note = i64t
        .const_int(note_step as *const () as u64, false)
        .const_to_pointer(ptr);
    b.build_indirect_call(note_type, note, &[p[0].into()], "noted")
        .unwrap();
    let acc = b
        .build_int_add(p[1], i64t.const_int(2, false), "acc")
        .unwrap();
    let target = b.build_int_to_ptr(p[3], ptr, "cranelift").unwrap();
    let args = [p[0].into(), acc.into(), p[2].into(), p[3].into()];
    let call = b
        .build_indirect_call(step_type, target, &args, "next")
        .unwrap();
    call.set_call_convention(TAILCC);
    call.set_tail_call_kind(LLVMTailCallKind::LLVMTailCallKindMustTail);
    let r = call.try_as_basic_value().unwrap_basic();
    b.build_return(Some(&r)).unwrap();
    module.verify().unwrap();
    let engine = module
        .create_jit_execution_engine(OptimizationLevel::Default)
        .unwrap();
    let address = engine.get_function_address("llvm_step").unwrap();
    std::mem::forget(engine);
    address
}

#[test]
fn tailcc_and_cranelift_tail_call_each_other_without_stack_growth() {
    let context: &'static Context = Box::leak(Box::new(Context::create()));
    let llvm = llvm_half(context);
    let (_module, cranelift, trampoline) = cranelift_half();
    let (l, c) = (llvm as i64, cranelift as i64);
    let run = move || {
        // SAFETY: both functions have the tail signature of four words
        // and answer a word; the trampoline calls them with it.
        let from_cranelift = unsafe { trampoline(cranelift, STEPS, 0, l, c) };
        let from_llvm = unsafe { trampoline(llvm, STEPS, 0, l, c) };
        (from_cranelift, from_llvm)
    };
    let (from_cranelift, from_llvm) = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .expect("the cycle overflowed the stack or crashed");
    // Cranelift adds 1 per step, LLVM 2; entered at LLVM, it runs once more.
    assert_eq!(from_cranelift, 3 * STEPS);
    assert_eq!(from_llvm, 3 * STEPS + 2);
    assert_eq!(NOTED.load(Ordering::Relaxed), 2 * STEPS as u64 + 1);
}
