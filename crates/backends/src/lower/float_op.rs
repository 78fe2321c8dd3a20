//! Instruction selection for the IR's Float operations: `is_float` (a
//! class test) and `float_add` … `float_equal` (`ir::Inst::FloatOp`).
//! The orderings (`<`, `>`) box nothing and run inline. Arithmetic and `=`
//! (sent far more often to other objects than to Floats, so that inline
//! code would mostly cost compile time) call the operation's shared
//! function ([`crate::float_stub`]), which boxes an arithmetic result and
//! answers 0 when it does not apply. Which sends take these paths is the
//! semantic lowering's decision (`lst_jit::semantic`).
//!
//! The function never collects and clobbers no register (it is
//! `preserve_all`; its answer comes back in the Vm's `answer` register),
//! so no value needs to be written to the frame or kept in a callee-saved
//! register around it.

use super::{LowerError, Lowering};
use crate::clif_kit::{class_word, is_ref};
use crate::float_kit::or_failed;
use crate::float_stub;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{self as cl, InstBuilder};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::inline_ops::InlineOp;

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is a Float operation; answers whether it was.
    pub(super) fn float_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let results = match data.inst {
            Inst::IsFloat(a) => {
                let x = self.get(a)?;
                vec![self.is_float(x)]
            }
            Inst::FloatOp(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let (answer, failed) = self.float_answer(op, x, y);
                vec![answer, failed]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// Whether `x` is a Float: a reference whose class is Float (its
    /// class word is read only for a reference).
    fn is_float(&mut self, x: cl::Value) -> cl::Value {
        let lay = *self.env.layout;
        self.false_unless(
            |l| is_ref(l.b, &lay, x),
            |l| {
                let class = class_word(l.b, &lay, x);
                let float_class = l.load_vm(lay.float_class);
                l.b.ins().icmp(IntCC::Equal, class, float_class)
            },
        )
    }

    /// Float operation `op` on `x` (a Float) and `y`: (answer, failed).
    fn float_answer(&mut self, op: InlineOp, x: cl::Value, y: cl::Value) -> (cl::Value, cl::Value) {
        if matches!(op, InlineOp::FloatLess | InlineOp::FloatGreater) {
            return self.float_comparison(op, x, y);
        }
        let f = self.float_ref(op);
        self.b.ins().call(f, &[self.vm, self.hp, x, y]);
        let answer = self.load_vm(self.env.layout.regs_answer);
        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, answer, 0);
        (answer, failed)
    }

    /// Float ordering `op` on `x` (a Float) and `y`, computed inline:
    /// (true or false, failed).
    fn float_comparison(
        &mut self,
        op: InlineOp,
        x: cl::Value,
        y: cl::Value,
    ) -> (cl::Value, cl::Value) {
        let (lay, vm) = (self.env.layout, self.vm);
        or_failed(self.b, I64, |b, fail| {
            let (fx, fy) = float_stub::operands(b, lay, vm, op, x, y, fail);
            float_stub::comparison(b, lay, vm, op, fx, fy).expect("an ordering is a comparison")
        })
    }
}
