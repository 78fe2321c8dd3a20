//! The return stub: one shared function every compiled method's `^`
//! tail-calls, `tail fn(vm, hp, value, _) -> u64`, with `hp` the
//! returning frame.
//!
//! The common return needs no runtime: the frame's CONTEXT slot holds no
//! Context (nil, or the block of a block frame: no Context must learn
//! that the frame died) and its caller is a frame of this process that
//! waits at a native continuation. The stub then pops the frame and
//! tail-calls the continuation, as `Vm::return_from` would. Anything else
//! goes to the slow return stub ([`build_slow`]), which calls the
//! runtime's `lst_return` and acts on its answer as a compiled function
//! would (`Lowering::dispatch`).
//!
//! One stub instead of the same forty instructions at every return keeps
//! methods small and their compile times short, and keeps the call to
//! `lst_return` (and the registers it clobbers) out of them. The call is
//! in a function of its own so that the common return, which calls
//! nothing, saves no callee-saved register.

use crate::clif_kit::{
    FLAGS, WORD_SHIFT, call_continuation, class_word, continue_if, leave_or_call_named, tag_const,
    untag, word_offset,
};
use crate::send_stub::entry;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{FuncRef, InstBuilder, SigRef, types::I64};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::Layout;

/// Builds the return stub's body into `b` (whose signature is the tail
/// one); `slow_stub` is the [`build_slow`] stub.
pub fn build(b: &mut FunctionBuilder, lay: &Layout, slow_stub: FuncRef, tail_sig: SigRef) {
    let (vm, hp, value, _) = entry(b);
    let base = b.ins().load(I64, FLAGS, vm, lay.stack_base);
    let hp8 = b.ins().ishl_imm_u(hp, WORD_SHIFT);
    let header = b.ins().iadd(base, hp8);
    let slot = |b: &mut FunctionBuilder, field: usize| {
        b.ins().load(I64, FLAGS, header, word_offset(field))
    };
    let slow = b.create_block();
    b.set_cold_block(slow);
    // One branch per test: cheaper than combining the three conditions.
    let context = slot(b, lay.h_context);
    // nil and blocks are objects too: every CONTEXT has a class word.
    let class = class_word(b, lay, context);
    let context_class = b.ins().load(I64, FLAGS, vm, lay.context_class);
    let no_context = b.ins().icmp(IntCC::NotEqual, class, context_class);
    continue_if(b, no_context, slow);
    // Tagged SmallInts: caller ≥ 0 is a tagged word > 0.
    let caller = slot(b, lay.h_caller);
    let has_caller = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, caller, 0);
    continue_if(b, has_caller, slow);
    let retpc = slot(b, lay.h_retpc);
    let native_base = tag_const(lay, lay.native_pc_base as i64);
    let native = b
        .ins()
        .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, retpc, native_base);
    continue_if(b, native, slow);

    // The stack ends where the frame's receiver was.
    let fp = slot(b, lay.h_fp);
    let fp = untag(b, lay, fp);
    b.ins().store(FLAGS, fp, vm, lay.stack_len);
    let caller_hp = untag(b, lay, caller);
    call_continuation(b, lay, tail_sig, vm, caller_hp, value, retpc);

    b.switch_to_block(slow);
    let zero = b.ins().iconst(I64, 0);
    b.ins().return_call(slow_stub, &[vm, hp, value, zero]);
    b.seal_all_blocks();
}

/// Builds the slow return stub, `tail fn(vm, hp, value, _)`: the return
/// through the runtime's `lst_return`, going on as it answers.
pub fn build_slow(b: &mut FunctionBuilder, lay: &Layout, lst_return: FuncRef, tail_sig: SigRef) {
    let (vm, hp, value, _) = entry(b);
    let call = b.ins().call(lst_return, &[vm, hp, value]);
    let r = b.inst_results(call)[0];
    leave_or_call_named(b, lay, tail_sig, vm, r);
    b.seal_all_blocks();
}
