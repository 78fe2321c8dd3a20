//! Instruction selection for the IR's SmallInt operations (`is_int`,
//! `int_add` … `int_rem`, the compares, bit and/or, `inline_valid` and the
//! guard's `and`), on the tagged words as the Cranelift lowering does
//! them (`lst_backends::lower::int_ops`), with LLVM's
//! `llvm.s{add,sub,mul}.with.overflow` intrinsics for the overflow tests.
//! Which sends take these paths is the semantic lowering's decision
//! (`lst_jit::semantic`), not this module's.

use super::kit::bx;
use super::{R, Selector};
use inkwell::IntPredicate;
use inkwell::intrinsics::Intrinsic;
use inkwell::values::IntValue;
use lst_jit::ir::{self, Inst, InstData};

/// The signed predicate of a SmallInt comparison (tagged words compare
/// as the integers do).
fn int_predicate(c: ir::Compare) -> IntPredicate {
    match c {
        ir::Compare::Less => IntPredicate::SLT,
        ir::Compare::LessEqual => IntPredicate::SLE,
        ir::Compare::Greater => IntPredicate::SGT,
        ir::Compare::GreaterEqual => IntPredicate::SGE,
        ir::Compare::Equal => IntPredicate::EQ,
        ir::Compare::NotEqual => IntPredicate::NE,
    }
}

impl<'ctx> Selector<'ctx, '_> {
    /// Selects `data` if it is a SmallInt operation; answers whether it was.
    pub(super) fn int_inst(&mut self, data: &InstData) -> R<bool> {
        let lay = self.env.layout;
        let results: Vec<IntValue<'ctx>> = match data.inst {
            Inst::IsInt(a) => {
                let x = self.get(a)?;
                vec![self.is_int(x)?]
            }
            Inst::BothInt(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let both = self.b.build_and(x, y, "").map_err(bx)?;
                vec![self.is_int(both)?]
            }
            // Tagged: (2x+1) ± (2y+1) ∓ 1 = 2(x±y) + 1.
            Inst::IntAdd(a, b) | Inst::IntSub(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let y1 = self.add_imm(y, -lay.smallint_tag)?;
                let name = match data.inst {
                    Inst::IntAdd(..) => "llvm.sadd.with.overflow",
                    _ => "llvm.ssub.with.overflow",
                };
                let (r, o) = self.with_overflow(name, x, y1)?;
                vec![r, o]
            }
            // (2x+1 − 1) · y = 2xy, then + 1 (2xy is even, so that cannot
            // overflow).
            Inst::IntMul(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let x1 = self.add_imm(x, -lay.smallint_tag)?;
                let y0 = self.untag(y)?;
                let (p, o) = self.with_overflow("llvm.smul.with.overflow", x1, y0)?;
                vec![self.add_imm(p, lay.smallint_tag)?, o]
            }
            Inst::IntFloorDiv(a, b)
            | Inst::IntFloorMod(a, b)
            | Inst::IntQuo(a, b)
            | Inst::IntRem(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let (r, failed) = self.div_mod(&data.inst, x, y)?;
                vec![r, failed]
            }
            Inst::IntCompare(c, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.cmp(int_predicate(c), x, y)?]
            }
            // The and / or of two tagged words is tagged.
            Inst::IntBitAnd(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.build_and(x, y, "").map_err(bx)?]
            }
            Inst::IntBitOr(a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.build_or(x, y, "").map_err(bx)?]
            }
            Inst::InlineValid(op) => {
                let at = lay.inline_ops + (op as i32) * lst_vm::heap::WORD_BYTES as i32;
                let word = self.load_vm(at)?;
                vec![self.cmp_imm(IntPredicate::NE, word, 0)?]
            }
            Inst::And(c, d) => {
                let (c, d) = (self.get(c)?, self.get(d)?);
                vec![self.b.build_and(c, d, "").map_err(bx)?]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// Whether word `x` is a SmallInt (its tag says so), an `i1`.
    pub(super) fn is_int(&self, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let tag = self.and_imm(x, self.env.layout.tag_mask)?;
        self.cmp_imm(IntPredicate::NE, tag, 0)
    }

    /// The integer of SmallInt word `x`.
    pub(super) fn untag(&self, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let bits = self.int(self.env.layout.tag_bits);
        self.b.build_right_shift(x, bits, true, "").map_err(bx)
    }

    /// The SmallInt word of integer `n` (which must fit).
    pub(super) fn tag(&self, n: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let shifted = self.shl_imm(n, self.env.layout.tag_bits)?;
        self.add_imm(shifted, self.env.layout.smallint_tag)
    }

    /// `a op b` by intrinsic `name` (`llvm.sadd.with.overflow` …): the
    /// result and whether it overflowed.
    pub(super) fn with_overflow(
        &self,
        name: &str,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let f = Intrinsic::find(name).ok_or_else(|| format!("no {name}"))?;
        let f = f
            .get_declaration(self.module, &[self.i64t.into()])
            .ok_or_else(|| format!("no {name} declaration"))?;
        let pair = self
            .b
            .build_call(f, &[a.into(), b.into()], "")
            .map_err(bx)?
            .try_as_basic_value()
            .unwrap_basic()
            .into_struct_value();
        let r = self.b.build_extract_value(pair, 0, "").map_err(bx)?;
        let o = self.b.build_extract_value(pair, 1, "").map_err(bx)?;
        Ok((r.into_int_value(), o.into_int_value()))
    }

    /// `x // y`, `x \\ y` (rounding toward negative infinity), `x quo: y`
    /// or `x rem: y` (toward zero) (`op`) on tagged SmallInts: the tagged
    /// result and whether it failed (a zero `y`; for a quotient, one that
    /// does not fit). A zero divisor is replaced by 1, so that the
    /// division is always defined.
    fn div_mod(
        &self,
        op: &Inst,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let a = self.untag(x)?;
        let b = self.untag(y)?;
        let zero = self.cmp_imm(IntPredicate::EQ, b, 0)?;
        let b = self
            .b
            .build_select(zero, self.int(1), b, "")
            .map_err(bx)?
            .into_int_value();
        // Untagged operands have 63 − tag bits: min ÷ −1 cannot occur.
        let q = self.b.build_int_signed_div(a, b, "").map_err(bx)?;
        let r = self.b.build_int_signed_rem(a, b, "").map_err(bx)?;
        let (n, quotient) = match op {
            Inst::IntQuo(..) => (q, true),
            Inst::IntRem(..) => (r, false),
            _ => self.floor_adjust(matches!(op, Inst::IntFloorDiv(..)), q, r, b)?,
        };
        let tagged = self.tag(n)?;
        let failed = if quotient {
            let back = self.untag(tagged)?;
            let lost = self.cmp(IntPredicate::NE, back, n)?;
            self.b.build_or(zero, lost, "").map_err(bx)?
        } else {
            zero
        };
        Ok((tagged, failed))
    }

    /// The floor quotient (`div`) or modulo from the truncated quotient
    /// `q` and remainder `r` of `a ÷ b`, and whether it is a quotient.
    fn floor_adjust(
        &self,
        div: bool,
        q: IntValue<'ctx>,
        r: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, bool)> {
        // Truncation rounded up when the remainder's sign differs from
        // the divisor's: step the quotient down and the remainder over.
        let inexact = self.cmp_imm(IntPredicate::NE, r, 0)?;
        let signs = self.b.build_xor(r, b, "").map_err(bx)?;
        let differ = self.cmp_imm(IntPredicate::SLT, signs, 0)?;
        let adjust = self.b.build_and(inexact, differ, "").map_err(bx)?;
        if div {
            let one = self
                .b
                .build_int_z_extend(adjust, self.i64t, "")
                .map_err(bx)?;
            Ok((self.b.build_int_sub(q, one, "").map_err(bx)?, true))
        } else {
            let step = self
                .b
                .build_select(adjust, b, self.int(0), "")
                .map_err(bx)?
                .into_int_value();
            Ok((self.add(r, step)?, false))
        }
    }
}
