//! The Float functions: one shared function per Float operation of the
//! inline-operation table (`lst_vm::jit_runtime::float_ops`), `preserve_all fn(vm, hp, a, b)`, that
//! computes on doubles what Float's primitive method would for receiver
//! `a` and argument `b` and leaves the answer in the Vm's `answer`
//! register (`NativeRegs::answer`), or 0 there when it does not apply
//! (the operation is no longer valid, `a` is not a Float, `b` is neither
//! a Float nor a SmallInt, or a new Float would need a collection); the
//! compiled send then sends.
//!
//! Compiled code tests only that the receiver is a Float and calls the
//! function: the checks and the boxing are here once, not at every
//! arithmetic send, which keeps methods small and their compile times
//! short. The functions call nothing: results are boxed by bumping the
//! heap's allocation pointer here (as `Heap::bump` does; never under GC
//! stress, so that stress runs still collect at every allocation). So
//! they never collect, callers hold references in registers across the
//! call, and, in the `preserve_all` convention, the call clobbers no
//! register: methods with arithmetic sends need no callee-saved
//! registers for it. The functions ignore `hp`: it is passed so that a
//! compiled function's frame index stays in the register it arrived in
//! (the second argument register) instead of moving out of the
//! operands' way (fib: 5 instructions per call).

use crate::clif_kit::{
    FLAGS, WORD_BYTES, WORD_SHIFT, boolean, class_word, continue_if, header, is_ref, tag_of, untag,
    word_offset,
};
use crate::send_stub::entry;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self as cl, BlockArg, InstBuilder, MemFlagsData, types::F64, types::I8, types::I32, types::I64,
};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::Layout;
use lst_vm::jit_runtime::inline_ops::InlineOp;

/// Builds the function of Float operation `op` into `b`.
pub fn build(b: &mut FunctionBuilder, lay: &Layout, op: InlineOp) {
    let (vm, _, x, y) = entry(b);
    let fail = b.create_block();
    b.set_cold_block(fail);
    let (fx, fy) = operands(b, lay, vm, op, x, y, fail);
    let result = match op {
        InlineOp::FloatAdd => Some(b.ins().fadd(fx, fy)),
        InlineOp::FloatSub => Some(b.ins().fsub(fx, fy)),
        InlineOp::FloatMul => Some(b.ins().fmul(fx, fy)),
        InlineOp::FloatDiv => Some(b.ins().fdiv(fx, fy)),
        _ => None,
    };
    let answer = match result {
        Some(f) => new_float(b, lay, vm, f, fail),
        None => comparison(b, lay, vm, op, fx, fy).expect("a comparison"),
    };
    b.ins().store(FLAGS, answer, vm, lay.regs_answer);
    b.ins().return_(&[]);
    b.switch_to_block(fail);
    let zero = b.ins().iconst(I64, 0);
    b.ins().store(FLAGS, zero, vm, lay.regs_answer);
    b.ins().return_(&[]);
    b.seal_all_blocks();
}

/// The doubles of Float operation `op` on receiver `x` and argument `y`:
/// when the operation is valid, `x` is a Float and `y` a SmallInt
/// (converted as `Integer>>asFloat` would) or a Float; otherwise the code
/// goes to `fail`.
pub(crate) fn operands(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    op: InlineOp,
    x: cl::Value,
    y: cl::Value,
    fail: cl::Block,
) -> (cl::Value, cl::Value) {
    let valid = b
        .ins()
        .load(I64, FLAGS, vm, lay.inline_ops + word_offset(op as usize));
    continue_if(b, valid, fail);
    let fx = float_value(b, lay, vm, x, fail);
    let (int, float, have) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(have, F64);
    let tag = tag_of(b, lay, y);
    b.ins().brif(tag, int, &[], float, &[]);
    b.switch_to_block(int);
    let n = untag(b, lay, y);
    let fy = b.ins().fcvt_from_sint(F64, n);
    b.ins().jump(have, &[BlockArg::Value(fy)]);
    b.switch_to_block(float);
    let fy = float_value(b, lay, vm, y, fail);
    b.ins().jump(have, &[BlockArg::Value(fy)]);
    b.switch_to_block(have);
    (fx, b.block_params(have)[0])
}

/// The answer (true or false) of Float operation `op` on doubles `fx`
/// and `fy` if it is a comparison; `None` for arithmetic.
pub(crate) fn comparison(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    op: InlineOp,
    fx: cl::Value,
    fy: cl::Value,
) -> Option<cl::Value> {
    let cc = match op {
        InlineOp::FloatLess => FloatCC::LessThan,
        InlineOp::FloatGreater => FloatCC::GreaterThan,
        InlineOp::FloatEqual => FloatCC::Equal,
        _ => return None,
    };
    let c = b.ins().fcmp(cc, fx, fy);
    Some(boolean(b, lay, vm, c))
}

/// A new Float holding `f`, bump-allocated as `Heap::bump` would; `fail`
/// when that would need a collection (no room at the top of the space)
/// or GC stress is on.
fn new_float(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    f: cl::Value,
    fail: cl::Block,
) -> cl::Value {
    let a = lay.alloc;
    let at = |offset: usize| i32::try_from(offset).expect("Vm field offsets are small");
    let stress = b.ins().load(I8, FLAGS, vm, lay.gc_stress);
    let calm = b.ins().icmp_imm_s(IntCC::Equal, stress, 0);
    continue_if(b, calm, fail);
    // Header, class, the double: three words.
    let words = i64::from((lay.first_slot + WORD_BYTES) / WORD_BYTES);
    let top = b.ins().load(I64, FLAGS, vm, at(a.top));
    let end = b.ins().load(I64, FLAGS, vm, at(a.words));
    let new_top = b.ins().iadd_imm_s(top, words);
    let fits = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, new_top, end);
    continue_if(b, fits, fail);
    let base = b.ins().load(I64, FLAGS, vm, at(a.base));
    let top8 = b.ins().ishl_imm_u(top, WORD_SHIFT);
    let object = b.ins().iadd(base, top8);
    b.ins().store(FLAGS, new_top, vm, at(a.top));
    let hash = b.ins().load(I32, FLAGS, vm, at(a.next_hash));
    let hash = b.ins().iadd_imm_s(hash, i64::from(a.hash_step));
    let hash = b.ins().band_imm_u(hash, i64::from(a.hash_mask));
    b.ins().store(FLAGS, hash, vm, at(a.next_hash));
    let allocated = b.ins().load(I64, FLAGS, vm, at(a.allocated_words));
    let allocated = b.ins().iadd_imm_s(allocated, words);
    b.ins().store(FLAGS, allocated, vm, at(a.allocated_words));
    let hash = b.ins().uextend(I64, hash);
    let hash = b.ins().ishl_imm_u(hash, i64::from(a.hash_shift));
    let header = b.ins().bor_imm_u(hash, lay.float_header as i64);
    b.ins().store(FLAGS, header, object, lay.header_word);
    let class = b.ins().load(I64, FLAGS, vm, lay.float_class);
    b.ins().store(FLAGS, class, object, lay.class_word);
    let bits = b.ins().bitcast(I64, MemFlagsData::new(), f);
    b.ins().store(FLAGS, bits, object, lay.first_slot);
    object
}

/// The double in `v` when it is a Float (a byte object of 8 bytes of
/// class Float); otherwise the code goes to `fail`.
fn float_value(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    v: cl::Value,
    fail: cl::Block,
) -> cl::Value {
    let object = is_ref(b, lay, v);
    continue_if(b, object, fail);
    let header = header(b, lay, v);
    let shape = b
        .ins()
        .band_imm_u(header, (lay.size_mask | lay.bytes_flag) as i64);
    let eight_bytes = b
        .ins()
        .icmp_imm_s(IntCC::Equal, shape, lay.float_header as i64);
    let class = class_word(b, lay, v);
    let float_class = b.ins().load(I64, FLAGS, vm, lay.float_class);
    let is_float = b.ins().icmp(IntCC::Equal, class, float_class);
    let ok = b.ins().band(eight_bytes, is_float);
    continue_if(b, ok, fail);
    b.ins().load(F64, FLAGS, v, lay.first_slot)
}
