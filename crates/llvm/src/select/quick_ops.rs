//! Instruction selection for the IR's quick-method operations
//! (`quick_way`, `quick_constant`, `quick_get`, `quick_set`), which read
//! the first method way of their send's site, with the same loads as the
//! Cranelift lowering (`lst_backends::lower::quick_ops`). Which sends take
//! them is the semantic lowering's decision (`lst_jit::semantic`). The
//! setter's store is [`Selector::store_ref`].

use super::kit::bx;
use super::{R, Selector};
use inkwell::IntPredicate;
use inkwell::values::IntValue;
use lst_backends::entries::quick_code;
use lst_jit::ir::{Inst, InstData};

/// Bytes per heap word, as a shift.
const WORD_SHIFT: i64 = (lst_vm::heap::WORD_BYTES as i64).trailing_zeros() as i64;

impl<'ctx> Selector<'ctx, '_> {
    /// Selects `data` if it is a quick-method operation; answers whether
    /// it was.
    pub(super) fn quick_inst(&mut self, data: &InstData) -> R<bool> {
        let s = self.env.layout.site;
        let results: Vec<IntValue<'ctx>> = match data.inst {
            Inst::QuickWay { kind, object, send } => {
                let x = self.get(object)?;
                let site = self.site_address(send)?;
                vec![self.quick_way(site, quick_code(kind), x)?]
            }
            Inst::QuickConstant { send } => {
                let site = self.site_address(send)?;
                vec![self.load(site, i64::from(s.ways + s.operand))?]
            }
            Inst::QuickGet { object, send } => {
                let x = self.get(object)?;
                let site = self.site_address(send)?;
                let (v, failed) = self.quick_slot(site, x, None)?;
                vec![v, failed]
            }
            Inst::QuickSet {
                object,
                value,
                send,
            } => {
                let (x, v) = (self.get(object)?, self.get(value)?);
                let site = self.site_address(send)?;
                vec![self.quick_slot(site, x, Some(v))?.1]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// Whether `x` is a reference whose class the first way of `site`
    /// holds with a quick method of code `code` (the class word is read
    /// only for a reference).
    fn quick_way(&self, site: IntValue<'ctx>, code: u64, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let lay = self.env.layout;
        let s = lay.site;
        let (object, done) = (self.new_block("quick_object"), self.new_block("quick_done"));
        let quick = self.load(site, i64::from(s.ways + s.quick))?;
        let kind = self.cmp_imm(IntPredicate::EQ, quick, code as i64)?;
        let is_ref = self.is_ref(x)?;
        let go = self.b.build_and(kind, is_ref, "").map_err(bx)?;
        let from = self.here()?;
        self.b
            .build_conditional_branch(go, object, done)
            .map_err(bx)?;
        self.b.position_at_end(object);
        let class = self.load(x, i64::from(lay.class_word))?;
        let cached = self.load(site, i64::from(s.ways + s.class))?;
        let same = self.cmp(IntPredicate::EQ, class, cached)?;
        let checked = self.here()?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        let no = self.cx.bool_type().const_zero();
        let phi = self.b.build_phi(self.cx.bool_type(), "").map_err(bx)?;
        phi.add_incoming(&[(&no, from), (&same, checked)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// Reads (`value` None) or writes the instance variable of reference
    /// `x` that the first way of `site` names: (the value read, or `x`;
    /// failed), failed (and nothing done) unless `x` is a pointer object
    /// with that slot.
    fn quick_slot(
        &self,
        site: IntValue<'ctx>,
        x: IntValue<'ctx>,
        value: Option<IntValue<'ctx>>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let lay = self.env.layout;
        let s = lay.site;
        let index = self.load(site, i64::from(s.ways + s.operand))?;
        let (pointers, size) = self.pointer_header(x)?;
        let inside = self.cmp(IntPredicate::ULT, index, size)?;
        let ok = self.b.build_and(pointers, inside, "").map_err(bx)?;
        let (access, done) = (self.new_block("quick_access"), self.new_block("quick_join"));
        let from = self.here()?;
        self.b
            .build_conditional_branch(ok, access, done)
            .map_err(bx)?;
        self.b.position_at_end(access);
        let offset = self.shl_imm(index, WORD_SHIFT)?;
        let at = self.add(x, offset)?;
        let slot = i64::from(lay.first_slot);
        let answer = match value {
            None => self.load(at, slot)?,
            Some(v) => {
                self.store_ref(at, slot, v)?;
                x
            }
        };
        let accessed = self.here()?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        let bool_type = self.cx.bool_type();
        let answered = self.b.build_phi(self.i64t, "").map_err(bx)?;
        answered.add_incoming(&[(&x, from), (&answer, accessed)]);
        let failed = self.b.build_phi(bool_type, "").map_err(bx)?;
        let (yes, no) = (bool_type.const_int(1, false), bool_type.const_zero());
        failed.add_incoming(&[(&yes, from), (&no, accessed)]);
        Ok((
            answered.as_basic_value().into_int_value(),
            failed.as_basic_value().into_int_value(),
        ))
    }
}
