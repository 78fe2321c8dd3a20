//! Instruction selection for the IR's Float operations: `is_float` (a
//! class test) and `float_add` … `float_equal` (`ir::Inst::FloatOp`),
//! which call the operation's shared function, the one Cranelift's
//! lowering and the baseline call (`lst_backends::float_stub`): it checks
//! the argument, computes, boxes an arithmetic result, and answers 0 in
//! the Vm's `answer` register when it does not apply. Which sends take
//! these paths is the semantic lowering's decision (`lst_jit::semantic`).
//!
//! The function is Cranelift's `preserve_all`, never collects and never
//! leaves native code; LLVM calls it in its own `preserve_allcc` (the
//! arguments go in C's registers; Cranelift's function preserves every
//! register, a superset of what LLVM assumes), so values stay in LLVM's
//! registers around it, nothing is written to the frame, and a method
//! with Float paths needs no callee-saved registers (a plain C call made
//! every entry push and pop five of them).

use super::kit::bx;
use super::{R, Selector};
use inkwell::IntPredicate;
use inkwell::values::{BasicMetadataValueEnum, IntValue};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::float_ops::float_position;
use lst_vm::jit_runtime::inline_ops::InlineOp;

/// LLVM's number for the `preserve_allcc` calling convention.
const PRESERVE_ALL: u32 = 15;

impl<'ctx> Selector<'ctx, '_> {
    /// Selects `data` if it is a Float operation; answers whether it was.
    pub(super) fn float_inst(&mut self, data: &InstData) -> R<bool> {
        let results = match data.inst {
            Inst::IsFloat(a) => {
                let x = self.get(a)?;
                vec![self.is_float(x)?]
            }
            Inst::FloatOp(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let (answer, failed) = self.float_answer(op, x, y)?;
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
    fn is_float(&mut self, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let lay = self.env.layout;
        let tag = self.and_imm(x, lay.tag_mask)?;
        let object = self.cmp_imm(IntPredicate::EQ, tag, 0)?;
        let from = self.here()?;
        let (class_test, done) = (self.new_block("float_class"), self.new_block("is_float"));
        self.b
            .build_conditional_branch(object, class_test, done)
            .map_err(bx)?;
        self.b.position_at_end(class_test);
        let class = self.load(x, i64::from(lay.class_word))?;
        let float_class = self.load_vm(lay.float_class)?;
        let same = self.cmp(IntPredicate::EQ, class, float_class)?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        let phi = self.b.build_phi(self.cx.bool_type(), "").map_err(bx)?;
        let no = self.cx.bool_type().const_zero();
        phi.add_incoming(&[(&no, from), (&same, class_test)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// Float operation `op` on `x` (a Float) and `y` by its shared
    /// function: (answer, failed).
    fn float_answer(
        &mut self,
        op: InlineOp,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let address = float_position(op)
            .and_then(|i| self.env.targets.float_ops.get(i).copied())
            .ok_or_else(|| format!("no Float function for {op:?}"))?;
        let ty = self.cx.void_type().fn_type(&[self.i64t.into(); 4], false);
        let f = self.int(address as i64).const_to_pointer(self.ptr);
        let args: [BasicMetadataValueEnum; 4] = [self.vm, self.hp, x, y].map(Into::into);
        let call = self.b.build_indirect_call(ty, f, &args, "").map_err(bx)?;
        call.set_call_convention(PRESERVE_ALL);
        let answer = self.load_vm(self.env.layout.regs_answer)?;
        let failed = self.cmp_imm(IntPredicate::EQ, answer, 0)?;
        Ok((answer, failed))
    }
}
