//! The CLIF pieces of Float values, shared by the Float stub
//! ([`crate::float_stub`]) and the lowering of unboxed regions
//! ([`crate::lower`]): the double of a Float (a class and shape test),
//! the double of a SmallInt (as `Integer>>asFloat` computes it), and a new
//! Float bump-allocated inline without a collection
//! ([`crate::alloc_kit`]).
//!
//! Each piece branches to a `fail` block its caller gives when it does
//! not apply; [`or_failed`] turns such a piece into a value and a
//! `failed` flag, the form the IR's `unbox_*` and `box_float` ops answer.
//! Every number about the object layout comes from [`Layout`]; this
//! module must not know a Smalltalk selector or decide when a Float path
//! is taken (the IR does).

use crate::alloc_kit::{bump, header_words};
use crate::clif_kit::{FLAGS, class_word, continue_if, header, is_ref, tag_of, untag};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    self as cl, BlockArg, InstBuilder, MemFlagsData, types::F64, types::I8, types::I64,
};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::Layout;

/// The double in `v` when it is a Float (a byte object of 8 bytes of
/// class Float); otherwise the code goes to `fail`.
pub(crate) fn float_value(
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

/// The double of SmallInt word `v` (which must be one), as
/// `Integer>>asFloat` computes it.
pub(crate) fn int_value(b: &mut FunctionBuilder, lay: &Layout, v: cl::Value) -> cl::Value {
    let n = untag(b, lay, v);
    b.ins().fcvt_from_sint(F64, n)
}

/// The double of `v` when it is a SmallInt (converted by [`int_value`])
/// or a Float; otherwise the code goes to `fail`.
pub(crate) fn number_value(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    v: cl::Value,
    fail: cl::Block,
) -> cl::Value {
    let (int, float, have) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(have, F64);
    let tag = tag_of(b, lay, v);
    b.ins().brif(tag, int, &[], float, &[]);
    b.switch_to_block(int);
    let f = int_value(b, lay, v);
    b.ins().jump(have, &[BlockArg::Value(f)]);
    b.switch_to_block(float);
    let f = float_value(b, lay, vm, v, fail);
    b.ins().jump(have, &[BlockArg::Value(f)]);
    b.switch_to_block(have);
    b.block_params(have)[0]
}

/// A new Float holding `f`, bump-allocated ([`bump`]); `fail` when that
/// would need a collection or GC stress is on.
pub(crate) fn new_float(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    f: cl::Value,
    fail: cl::Block,
) -> cl::Value {
    // Header, class, the double.
    let words = b.ins().iconst(I64, header_words(lay) + 1);
    let shape = b.ins().iconst(I64, lay.float_header as i64);
    let object = bump(b, lay, vm, words, shape, fail);
    let class = b.ins().load(I64, FLAGS, vm, lay.float_class);
    b.ins().store(FLAGS, class, object, lay.class_word);
    let bits = b.ins().bitcast(I64, MemFlagsData::new(), f);
    b.ins().store(FLAGS, bits, object, lay.first_slot);
    object
}

/// What `piece` computes (a value of type `ty`) and a `failed` flag (an
/// `I8`, 0): `piece` gets a cold block to branch to when it does not
/// apply, where the answer is a zero of `ty` and `failed` is 1.
pub(crate) fn or_failed(
    b: &mut FunctionBuilder,
    ty: cl::Type,
    piece: impl FnOnce(&mut FunctionBuilder, cl::Block) -> cl::Value,
) -> (cl::Value, cl::Value) {
    let (fail, done) = (b.create_block(), b.create_block());
    b.set_cold_block(fail);
    b.append_block_param(done, ty);
    b.append_block_param(done, I8);
    let v = piece(b, fail);
    let ok = b.ins().iconst(I8, 0);
    b.ins()
        .jump(done, &[BlockArg::Value(v), BlockArg::Value(ok)]);
    b.switch_to_block(fail);
    let none = if ty == F64 {
        b.ins().f64const(0.0)
    } else {
        b.ins().iconst(ty, 0)
    };
    let failed = b.ins().iconst(I8, 1);
    b.ins()
        .jump(done, &[BlockArg::Value(none), BlockArg::Value(failed)]);
    b.switch_to_block(done);
    let params = b.block_params(done);
    (params[0], params[1])
}
