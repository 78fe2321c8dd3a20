//! The Float functions: one shared function per operation of `FLOAT_OPS`
//! (`lst_vm::interp::float_ops`), `SystemV fn(vm, a, b) -> u64`, that
//! computes on doubles what Float's primitive method would for receiver
//! `a` and argument `b`, or answers 0 when it does not apply (the
//! operation is no longer valid, `a` is not a Float, `b` is neither a
//! Float nor a SmallInt, or a new Float would need a collection); the
//! compiled send then sends.
//!
//! Compiled code tests only that the receiver is a Float and calls the
//! function: the checks and the boxing are here once, not at every
//! arithmetic send, which keeps methods small and their compile times
//! short. Results are boxed by `lst_new_float`, which never collects, so
//! callers hold references in registers across the call.

use crate::lower::{FLAGS, continue_if};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self as cl, BlockArg, FuncRef, InstBuilder, MemFlagsData, types::F64, types::I64,
};
use cranelift_frontend::FunctionBuilder;
use lst_vm::interp::float_ops::{FLOAT_OPS, FloatOp};
use lst_vm::interp::native::Layout;

/// Builds the function of Float operation `op` (an index into
/// `FLOAT_OPS`) into `b`; `new_float` is the `lst_new_float` helper.
pub fn build(b: &mut FunctionBuilder, lay: &Layout, op: usize, new_float: FuncRef) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (vm, x, y) = (p[0], p[1], p[2]);
    let fail = b.create_block();
    b.set_cold_block(fail);

    // Valid, the receiver a Float, the argument a SmallInt (converted as
    // `Integer>>asFloat` would) or a Float.
    let valid = b.ins().load(I64, FLAGS, vm, lay.float_ops);
    let valid = b.ins().ushr_imm_u(valid, op as i64);
    let valid = b.ins().band_imm_u(valid, 1);
    continue_if(b, valid, fail);
    let fx = float_value(b, lay, vm, x, fail);
    let (int, float, have) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(have, F64);
    let tag = b.ins().band_imm_u(y, 1);
    b.ins().brif(tag, int, &[], float, &[]);
    b.switch_to_block(int);
    let n = b.ins().sshr_imm_u(y, 1);
    let fy = b.ins().fcvt_from_sint(F64, n);
    b.ins().jump(have, &[BlockArg::Value(fy)]);
    b.switch_to_block(float);
    let fy = float_value(b, lay, vm, y, fail);
    b.ins().jump(have, &[BlockArg::Value(fy)]);
    b.switch_to_block(have);
    let fy = b.block_params(have)[0];

    let compare = |b: &mut FunctionBuilder, cc: FloatCC| {
        let c = b.ins().fcmp(cc, fx, fy);
        let t = b.ins().load(I64, FLAGS, vm, lay.true_);
        let f = b.ins().load(I64, FLAGS, vm, lay.false_);
        b.ins().select(c, t, f)
    };
    let result = match FLOAT_OPS[op].op {
        FloatOp::Add => Some(b.ins().fadd(fx, fy)),
        FloatOp::Sub => Some(b.ins().fsub(fx, fy)),
        FloatOp::Mul => Some(b.ins().fmul(fx, fy)),
        FloatOp::Div => Some(b.ins().fdiv(fx, fy)),
        FloatOp::Less | FloatOp::Greater | FloatOp::Equal => None,
    };
    let answer = match (result, FLOAT_OPS[op].op) {
        (Some(f), _) => {
            // 0 (no room without a collection) is this function's "no".
            let bits = b.ins().bitcast(I64, MemFlagsData::new(), f);
            let call = b.ins().call(new_float, &[vm, bits]);
            b.inst_results(call)[0]
        }
        (None, FloatOp::Less) => compare(b, FloatCC::LessThan),
        (None, FloatOp::Greater) => compare(b, FloatCC::GreaterThan),
        (None, _) => compare(b, FloatCC::Equal),
    };
    b.ins().return_(&[answer]);
    b.switch_to_block(fail);
    let zero = b.ins().iconst(I64, 0);
    b.ins().return_(&[zero]);
    b.seal_all_blocks();
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
    let tag = b.ins().band_imm_u(v, 1);
    let object = b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
    continue_if(b, object, fail);
    let header = b.ins().load(I64, FLAGS, v, 0);
    let shape = b
        .ins()
        .band_imm_u(header, (lay.size_mask | lay.bytes_flag) as i64);
    let eight_bytes = b
        .ins()
        .icmp_imm_s(IntCC::Equal, shape, (lay.bytes_flag | 8) as i64);
    let class = b.ins().load(I64, FLAGS, v, lay.class_word);
    let float_class = b.ins().load(I64, FLAGS, vm, lay.float_class);
    let is_float = b.ins().icmp(IntCC::Equal, class, float_class);
    let ok = b.ins().band(eight_bytes, is_float);
    continue_if(b, ok, fail);
    b.ins().load(F64, FLAGS, v, lay.first_slot)
}
