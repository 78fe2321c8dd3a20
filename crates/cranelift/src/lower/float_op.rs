//! The inline path of a Float operation (`lst_vm::interp::float_ops`): a
//! binary send whose selector is one of `FLOAT_OPS`, with a Float
//! receiver and a Float or SmallInt argument, computes on doubles instead
//! of sending. Arithmetic boxes its result through `lst_new_float`, which
//! never collects (it answers 0 when the heap is full, and the code then
//! sends), so no value needs to be written to the frame around it.

use super::{FLAGS, Lowering};
use crate::helpers::Id;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self as cl, BlockArg, InstBuilder, MemFlagsData, types::F64, types::I64,
};
use lst_jit::ir::{self, State};
use lst_vm::interp::float_ops::{FLOAT_OPS, FloatOp};

impl Lowering<'_, '_, '_> {
    /// Float operation `op` (an index into `FLOAT_OPS`) on receiver `a`
    /// and argument `b`: when its bit in `float_ops` is set, `a` is a
    /// Float and `b` a Float or a SmallInt, the result goes to `join` (an
    /// [`Self::answer_join`]); otherwise the code goes on in the current
    /// block, the send.
    pub(super) fn float_op(
        &mut self,
        op: usize,
        a: ir::Value,
        b: ir::Value,
        join: cl::Block,
        state: &State,
    ) -> Result<(), super::LowerError> {
        let (x, y) = (self.get(a)?, self.get(b)?);
        self.inline_path(join, state, |l, send| Ok(l.float_answer(op, x, y, send)))
    }

    /// The answer of [`Self::float_op`] on `x` and `y`; `send` when the
    /// operation is not valid or the operands are not Float and number.
    fn float_answer(
        &mut self,
        op: usize,
        x: cl::Value,
        y: cl::Value,
        send: cl::Block,
    ) -> cl::Value {
        let lay = *self.env.layout;
        // Valid, and the receiver a Float.
        let valid = self.load_vm(lay.float_ops);
        let valid = self.b.ins().ushr_imm_u(valid, op as i64);
        let valid = self.b.ins().band_imm_u(valid, 1);
        self.continue_if(valid, send);
        let fx = self.float_value(x, send);
        // The argument: a SmallInt, converted as `Integer>>asFloat`
        // would, or a Float.
        let (int, float, have) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(have, F64);
        let tag = self.b.ins().band_imm_u(y, 1);
        self.b.ins().brif(tag, int, &[], float, &[]);
        self.b.switch_to_block(int);
        let n = self.b.ins().sshr_imm_u(y, 1);
        let fy = self.b.ins().fcvt_from_sint(F64, n);
        self.b.ins().jump(have, &[BlockArg::Value(fy)]);
        self.b.switch_to_block(float);
        let fy = self.float_value(y, send);
        self.b.ins().jump(have, &[BlockArg::Value(fy)]);
        self.b.switch_to_block(have);
        let fy = self.b.block_params(have)[0];

        let compare = |l: &mut Self, cc: FloatCC, p: cl::Value, q: cl::Value| {
            let c = l.b.ins().fcmp(cc, p, q);
            l.bool_obj(c)
        };
        let result = match FLOAT_OPS[op].op {
            FloatOp::Add => Some(self.b.ins().fadd(fx, fy)),
            FloatOp::Sub => Some(self.b.ins().fsub(fx, fy)),
            FloatOp::Mul => Some(self.b.ins().fmul(fx, fy)),
            FloatOp::Div => Some(self.b.ins().fdiv(fx, fy)),
            FloatOp::Less | FloatOp::Greater | FloatOp::Equal => None,
        };
        match (result, FLOAT_OPS[op].op) {
            (Some(f), _) => {
                let bits = self.b.ins().bitcast(I64, MemFlagsData::new(), f);
                let boxed = self.helper(Id::lst_new_float, &[self.vm, bits]);
                self.continue_if(boxed, send);
                boxed
            }
            (None, FloatOp::Less) => compare(self, FloatCC::LessThan, fx, fy),
            (None, FloatOp::Greater) => compare(self, FloatCC::GreaterThan, fx, fy),
            (None, _) => compare(self, FloatCC::Equal, fx, fy),
        }
    }

    /// The double in `v` when it is a Float (a byte object of 8 bytes of
    /// class Float); otherwise the code goes to `fail`.
    fn float_value(&mut self, v: cl::Value, fail: cl::Block) -> cl::Value {
        let lay = *self.env.layout;
        let tag = self.b.ins().band_imm_u(v, 1);
        let object = self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
        self.continue_if(object, fail);
        let header = self.b.ins().load(I64, FLAGS, v, 0);
        let shape = self
            .b
            .ins()
            .band_imm_u(header, (lay.size_mask | lay.bytes_flag) as i64);
        let eight_bytes = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, shape, (lay.bytes_flag | 8) as i64);
        let class = self.b.ins().load(I64, FLAGS, v, lay.class_word);
        let float_class = self.load_vm(lay.float_class);
        let is_float = self.b.ins().icmp(IntCC::Equal, class, float_class);
        let ok = self.b.ins().band(eight_bytes, is_float);
        self.continue_if(ok, fail);
        self.b.ins().load(F64, FLAGS, v, lay.first_slot)
    }
}
