//! The baseline's templates for the IR's Float operations: `is_float` (a
//! class test) and `float_add` … `float_equal`, which call the operation's
//! shared function ([`crate::float_stub`], the same code Cranelift's
//! lowering calls): it checks the argument, computes, boxes an arithmetic
//! result, and answers 0 when it does not apply. The function never
//! collects and preserves every register.

// `dynasm!` turns a dynamic register `Rq(r)` into `r.into()`.
#![allow(clippy::useless_conversion)]

use super::{Emitter, RAX, RCX, RDX};
use crate::lower::LowerError;
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::float_ops::float_position;

impl Emitter<'_> {
    /// Emits `data` if it is a Float operation; answers whether it was.
    pub(super) fn float_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        match data.inst {
            Inst::IsFloat(a) => {
                self.load(RAX, a)?;
                let done = self.ops.new_dynamic_label();
                let (mask, class, float) = (
                    self.lay.tag_mask as i8,
                    self.lay.class_word,
                    self.lay.float_class,
                );
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; test al, mask
                    ; jnz =>done
                    ; mov r8, QWORD [rax + class]
                    ; cmp r8, QWORD [rdi + float]
                    ; sete dl
                    ; =>done
                );
                self.store(data.results[0], RDX);
                self.bool_in_rdx = Some(data.results[0]);
            }
            Inst::FloatOp(op, a, b) => {
                let address = float_position(op)
                    .and_then(|i| self.env.targets.float_ops.get(i).copied())
                    .ok_or_else(|| LowerError(format!("no Float function for {op:?}")))?;
                self.load(RDX, a)?;
                self.load(RCX, b)?;
                let answer = self.lay.regs_answer;
                dynasm!(self.ops
                    ; .arch x64
                    ; mov rax, QWORD address as i64
                    ; call rax
                    ; mov rax, QWORD [rdi + answer]
                    ; xor edx, edx
                    ; test rax, rax
                    ; sete dl
                );
                self.store(data.results[0], RAX);
                self.store(data.results[1], RDX);
                self.bool_in_rdx = Some(data.results[1]);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
