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

use crate::clif_kit::{FLAGS, boolean, continue_if, word_offset};
use crate::float_kit::{float_value, new_float, number_value};
use crate::send_stub::entry;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{self as cl, InstBuilder, types::I64};
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
    let fy = number_value(b, lay, vm, y, fail);
    (fx, fy)
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
