//! The Float path of a binary send whose selector has a Float inline
//! operation (`lst_vm::jit_runtime::float_ops`): when the receiver is a Float, compiled
//! code computes on doubles what Float's primitive would; when that does
//! not apply, the code sends. The orderings (`<`, `>`) box nothing and run
//! inline. Arithmetic and `=` (sent far more often to other objects than
//! to Floats, so that its inline code would mostly cost compile time)
//! call the operation's shared function ([`crate::float_stub`]), which
//! boxes an arithmetic result, and answers 0 when it does not apply.
//!
//! Only the receiver's class is tested inline, so that sends to other
//! objects (`=` on Strings, arithmetic on LargeIntegers) do not pay for a
//! call. The function never collects and clobbers no register (it is
//! `preserve_all`; its answer comes back in the Vm's `answer` register),
//! so no value needs to be written to the frame or kept in a callee-saved
//! register around it.

use super::Lowering;
use crate::clif_kit::{class_word, is_ref};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, InstBuilder};
use lst_jit::ir::{self, State};
use lst_vm::jit_runtime::inline_ops::InlineOp;

impl Lowering<'_, '_, '_> {
    /// Float operation `op` on receiver `a`
    /// and argument `b`: when `a` is a Float and its Float function answers,
    /// the answer goes to `join` (an [`Self::answer_join`]); otherwise the
    /// code goes on in the current block, the send.
    pub(super) fn float_op(
        &mut self,
        op: InlineOp,
        a: ir::Value,
        b: ir::Value,
        join: cl::Block,
        state: &State,
    ) -> Result<(), super::LowerError> {
        let (x, y) = (self.get(a)?, self.get(b)?);
        self.inline_path(join, state, |l, send| Ok(l.float_answer(op, x, y, send)))
    }

    /// The answer of [`Self::float_op`] on `x` and `y`; `send` when `x`
    /// is not a Float or its Float function answers 0.
    fn float_answer(
        &mut self,
        op: InlineOp,
        x: cl::Value,
        y: cl::Value,
        send: cl::Block,
    ) -> cl::Value {
        let lay = *self.env.layout;
        let object = is_ref(self.b, &lay, x);
        self.continue_if(object, send);
        let class = class_word(self.b, &lay, x);
        let float_class = self.load_vm(lay.float_class);
        let is_float = self.b.ins().icmp(IntCC::Equal, class, float_class);
        self.continue_if(is_float, send);
        if let Some(answer) = self.float_comparison(op, x, y, send) {
            return answer;
        }
        let f = self.float_ref(op);
        self.b.ins().call(f, &[self.vm, self.hp, x, y]);
        let answer = self.load_vm(lay.regs_answer);
        self.continue_if(answer, send);
        answer
    }

    /// The answer of Float ordering `op` on `x` (a Float) and `y`,
    /// computed inline; `send` when it does not apply. `None` when `op`
    /// is not an ordering.
    fn float_comparison(
        &mut self,
        op: InlineOp,
        x: cl::Value,
        y: cl::Value,
        send: cl::Block,
    ) -> Option<cl::Value> {
        if !matches!(op, InlineOp::FloatLess | InlineOp::FloatGreater) {
            return None;
        }
        let lay = self.env.layout;
        let (fx, fy) = crate::float_stub::operands(self.b, lay, self.vm, op, x, y, send);
        crate::float_stub::comparison(self.b, lay, self.vm, op, fx, fy)
    }
}
