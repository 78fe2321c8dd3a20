//! Instruction selection for the IR's SmallInt operations (`is_int`,
//! `int_add` … `int_rem`, the compares, bit and/or, `inline_valid` and the
//! guard's `and`): each becomes a few CLIF instructions on the tagged
//! words. Which sends take these paths is the semantic lowering's
//! decision (`lst_jit::semantic`), not this module's.

use super::{LowerError, Lowering};
use crate::clif_kit::{detag, is_int, tag, untag, word_offset};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, InstBuilder};
use lst_jit::ir::{self, Inst, InstData};

/// The signed condition of a SmallInt comparison (tagged words compare
/// as the integers do).
fn int_cc(c: ir::Compare) -> IntCC {
    match c {
        ir::Compare::Less => IntCC::SignedLessThan,
        ir::Compare::LessEqual => IntCC::SignedLessThanOrEqual,
        ir::Compare::Greater => IntCC::SignedGreaterThan,
        ir::Compare::GreaterEqual => IntCC::SignedGreaterThanOrEqual,
        ir::Compare::Equal => IntCC::Equal,
        ir::Compare::NotEqual => IntCC::NotEqual,
    }
}

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is a SmallInt operation; answers whether it was.
    pub(super) fn int_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let lay = self.env.layout;
        let results: Vec<cl::Value> = match data.inst {
            Inst::IsInt(a) => {
                let x = self.get(a)?;
                vec![is_int(self.b, lay, x)]
            }
            Inst::BothInt(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let both = self.b.ins().band(x, y);
                vec![is_int(self.b, lay, both)]
            }
            // Tagged: (2x+1) ± (2y+1) ∓ 1 = 2(x±y) + 1.
            Inst::IntAdd(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let y1 = detag(self.b, lay, y);
                let (r, o) = self.b.ins().sadd_overflow(x, y1);
                vec![r, o]
            }
            Inst::IntSub(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let y1 = detag(self.b, lay, y);
                let (r, o) = self.b.ins().ssub_overflow(x, y1);
                vec![r, o]
            }
            // (2x+1 − 1) · y = 2xy, then + 1 (2xy is even, so that cannot
            // overflow).
            Inst::IntMul(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let x1 = detag(self.b, lay, x);
                let y0 = untag(self.b, lay, y);
                let (p, o) = self.b.ins().smul_overflow(x1, y0);
                vec![self.b.ins().iadd_imm_s(p, lay.smallint_tag), o]
            }
            Inst::IntFloorDiv(a, b)
            | Inst::IntFloorMod(a, b)
            | Inst::IntQuo(a, b)
            | Inst::IntRem(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let (r, failed) = self.div_mod(&data.inst, x, y);
                vec![r, failed]
            }
            Inst::IntCompare(c, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.ins().icmp(int_cc(c), x, y)]
            }
            // The and / or of two tagged words is tagged.
            Inst::IntBitAnd(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.ins().band(x, y)]
            }
            Inst::IntBitOr(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.ins().bor(x, y)]
            }
            Inst::InlineValid(op) => {
                let word = self.load_vm(lay.inline_ops + word_offset(op as usize));
                vec![self.b.ins().icmp_imm_s(IntCC::NotEqual, word, 0)]
            }
            Inst::And(c, d) => {
                let (c, d) = (self.get(c)?, self.get(d)?);
                vec![self.b.ins().band(c, d)]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// `x // y`, `x \\ y` (rounding toward negative infinity), `x quo: y`
    /// or `x rem: y` (toward zero) (`op`) on tagged SmallInts: the tagged
    /// result and whether it failed (a zero `y`; for a quotient, one that
    /// does not fit: only `min // -1` and `min quo: -1`). A zero divisor
    /// is replaced by 1 so that nothing traps.
    fn div_mod(&mut self, op: &Inst, x: cl::Value, y: cl::Value) -> (cl::Value, cl::Value) {
        let lay = self.env.layout;
        let a = untag(self.b, lay, x);
        let b = untag(self.b, lay, y);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let one = self.int(1);
        let b = self.b.ins().select(zero, one, b);
        // Untagged operands have 63 − tag bits, so neither traps.
        let q = self.b.ins().sdiv(a, b);
        let r = self.b.ins().srem(a, b);
        let (n, quotient) = match op {
            Inst::IntQuo(..) => (q, true),
            Inst::IntRem(..) => (r, false),
            _ => self.floor_adjust(matches!(op, Inst::IntFloorDiv(..)), q, r, b),
        };
        let failed = if quotient {
            let tagged = tag(self.b, lay, n);
            let back = untag(self.b, lay, tagged);
            let lost = self.b.ins().icmp(IntCC::NotEqual, back, n);
            self.b.ins().bor(zero, lost)
        } else {
            zero
        };
        (tag(self.b, lay, n), failed)
    }

    /// The floor quotient (`div`) or modulo from the truncated quotient
    /// `q` and remainder `r` of `a ÷ b`, and whether it is a quotient.
    fn floor_adjust(
        &mut self,
        div: bool,
        q: cl::Value,
        r: cl::Value,
        b: cl::Value,
    ) -> (cl::Value, bool) {
        // Truncation rounded up when the remainder's sign differs from
        // the divisor's: step the quotient down and the remainder over.
        let inexact = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
        let signs = self.b.ins().bxor(r, b);
        let differ = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, signs, 0);
        let adjust = self.b.ins().band(inexact, differ);
        if div {
            let one = self
                .b
                .ins()
                .uextend(cranelift_codegen::ir::types::I64, adjust);
            (self.b.ins().isub(q, one), true)
        } else {
            let zero = self.int(0);
            let step = self.b.ins().select(adjust, b, zero);
            (self.b.ins().iadd(r, step), false)
        }
    }
}
