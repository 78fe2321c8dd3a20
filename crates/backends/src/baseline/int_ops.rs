//! The baseline's templates for the IR's SmallInt operations (`is_int`,
//! `int_add` … `int_rem`, the compares, bit and/or, `inline_valid` and the
//! guard's `and`): each reads its operands from their slots into rax and
//! rcx and writes its results (a bool as 0 or 1) back. Which sends take
//! these paths is the semantic lowering's decision (`lst_jit::semantic`),
//! not this module's.

// `dynasm!` turns a dynamic register `Rq(r)` into `r.into()`.
#![allow(clippy::useless_conversion)]

use super::{Emitter, R9, RAX, RDX};
use crate::clif_kit::word_offset;
use crate::lower::LowerError;
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};
use lst_jit::ir::{self, Inst, InstData};

impl Emitter<'_> {
    /// Emits `data` if it is a SmallInt operation; answers whether it was.
    pub(super) fn int_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let r = |i: usize| data.results[i];
        // Immediates as bytes: the short encodings.
        let (tag, bits) = (self.lay.smallint_tag as i8, self.lay.tag_bits as i8);
        let mask = self.lay.tag_mask as i8;
        match data.inst {
            Inst::IsInt(a) => {
                self.load(RAX, a)?;
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; test al, mask ; setnz dl);
                self.store(r(0), RDX);
            }
            Inst::BothInt(a, b) => {
                self.load2(a, b)?;
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; and rax, rcx
                    ; test al, mask
                    ; setnz dl
                );
                self.store(r(0), RDX);
            }
            // Tagged: (2x+1) ± (2y+1) ∓ 1 = 2(x±y) + 1.
            Inst::IntAdd(a, b) | Inst::IntSub(a, b) => {
                self.load2(a, b)?;
                dynasm!(self.ops ; .arch x64 ; sub rcx, BYTE tag ; xor edx, edx);
                match data.inst {
                    Inst::IntAdd(..) => dynasm!(self.ops ; .arch x64 ; add rax, rcx),
                    _ => dynasm!(self.ops ; .arch x64 ; sub rax, rcx),
                }
                dynasm!(self.ops ; .arch x64 ; seto dl);
                self.store(r(0), RAX);
                self.store(r(1), RDX);
            }
            // (2x+1 − 1) · y = 2xy, then + 1.
            Inst::IntMul(a, b) => {
                self.load2(a, b)?;
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; sub rax, BYTE tag
                    ; sar rcx, bits
                    ; imul rax, rcx
                    ; seto dl
                    ; add rax, BYTE tag
                );
                self.store(r(0), RAX);
                self.store(r(1), RDX);
            }
            Inst::IntFloorDiv(a, b)
            | Inst::IntFloorMod(a, b)
            | Inst::IntQuo(a, b)
            | Inst::IntRem(a, b) => {
                self.load2(a, b)?;
                self.div_mod(&data.inst);
                self.store(r(0), RAX);
                self.store(r(1), R9);
            }
            Inst::IntCompare(c, a, b) => {
                self.load2(a, b)?;
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; cmp rax, rcx);
                match c {
                    ir::Compare::Less => dynasm!(self.ops ; .arch x64 ; setl dl),
                    ir::Compare::LessEqual => dynasm!(self.ops ; .arch x64 ; setle dl),
                    ir::Compare::Greater => dynasm!(self.ops ; .arch x64 ; setg dl),
                    ir::Compare::GreaterEqual => dynasm!(self.ops ; .arch x64 ; setge dl),
                    ir::Compare::Equal => dynasm!(self.ops ; .arch x64 ; sete dl),
                    ir::Compare::NotEqual => dynasm!(self.ops ; .arch x64 ; setne dl),
                }
                self.store(r(0), RDX);
            }
            // The and / or of two tagged words is tagged.
            Inst::IntBitAnd(a, b) => {
                self.load2(a, b)?;
                dynasm!(self.ops ; .arch x64 ; and rax, rcx);
                self.store(r(0), RAX);
            }
            Inst::IntBitOr(a, b) => {
                self.load2(a, b)?;
                dynasm!(self.ops ; .arch x64 ; or rax, rcx);
                self.store(r(0), RAX);
            }
            Inst::InlineValid(op) => {
                let word = self.lay.inline_ops + word_offset(op as usize);
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; cmp QWORD [rdi + word], 0
                    ; setne dl
                );
                self.store(r(0), RDX);
            }
            Inst::And(c, d) => {
                self.load2(c, d)?;
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; test rax, rax
                    ; setnz al
                    ; test rcx, rcx
                    ; setnz dl
                    ; and dl, al
                );
                self.store(r(0), RDX);
            }
            _ => return Ok(false),
        }
        // Every bool above is 0 or 1 in rdx (an overflow flag is the
        // second result), except a division's (in r9).
        let division = matches!(
            data.inst,
            Inst::IntFloorDiv(..) | Inst::IntFloorMod(..) | Inst::IntQuo(..) | Inst::IntRem(..)
        );
        let types = data.inst.result_types();
        let flag = types.iter().position(|t| *t == ir::Type::Bool);
        let flag = flag.filter(|_| !division).map(|i| data.results[i]);
        self.bool_in_rdx = flag;
        Ok(true)
    }

    /// `rax // rcx`, `\\`, `quo:` or `rem:` (`op`) on tagged SmallInts:
    /// the tagged result in rax, and in r9 1 if it failed (a zero divisor;
    /// for a quotient, one that does not fit), else 0.
    fn div_mod(&mut self, op: &Inst) {
        let (tag, bits) = (self.lay.smallint_tag as i8, self.lay.tag_bits as i8);
        let (zero, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
        dynasm!(self.ops
            ; .arch x64
            ; xor r9d, r9d
            ; sar rax, bits
            ; sar rcx, bits
            ; test rcx, rcx
            ; jz =>zero
            // Untagged operands have 63 − tag bits: idiv cannot trap.
            ; cqo
            ; idiv rcx
        );
        if matches!(op, Inst::IntFloorDiv(..) | Inst::IntFloorMod(..)) {
            // Truncation rounded up when the remainder's sign differs
            // from the divisor's: step the quotient down and the
            // remainder over.
            let exact = self.ops.new_dynamic_label();
            dynasm!(self.ops
                ; .arch x64
                ; test rdx, rdx
                ; jz =>exact
                ; mov r8, rdx
                ; xor r8, rcx
                ; jns =>exact
                ; sub rax, 1
                ; add rdx, rcx
                ; =>exact
            );
        }
        if matches!(op, Inst::IntRem(..) | Inst::IntFloorMod(..)) {
            dynasm!(self.ops ; .arch x64 ; mov rax, rdx);
        } else {
            // A quotient fits if tagging loses none of its bits.
            dynasm!(self.ops
                ; .arch x64
                ; mov r8, rax
                ; shl r8, bits
                ; sar r8, bits
                ; cmp r8, rax
                ; setne r9b
            );
        }
        dynasm!(self.ops
            ; .arch x64
            ; shl rax, bits
            ; or rax, BYTE tag
            ; jmp =>done
            ; =>zero
            ; mov r9d, 1
            ; mov eax, DWORD i32::from(tag)
            ; =>done
        );
    }
}
