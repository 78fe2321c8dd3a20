//! Instruction selection for the IR's object operations (`class_of`,
//! `site_prim`, `index_ok`, `load_slot`, `store_ref`, `size_of`,
//! `new_slots`), with the same loads from `Layout` as the Cranelift
//! lowering (`lst_backends::lower::object_ops`). Which sends take them is
//! the semantic lowering's decision (`lst_jit::semantic`).
//! [`Selector::store_ref`] is the one store of a reference into the heap
//! by an object or quick-method op (the hook of a future write barrier).

use super::kit::bx;
use super::{R, Selector};
use inkwell::IntPredicate;
use inkwell::values::IntValue;
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::inline_cache::prim_word;

/// Bytes per heap word.
const WORD: i64 = lst_vm::heap::WORD_BYTES as i64;

impl<'ctx> Selector<'ctx, '_> {
    /// Selects `data` if it is an object operation; answers whether it was.
    pub(super) fn object_inst(&mut self, data: &InstData) -> R<bool> {
        let lay = self.env.layout;
        let slot0 = i64::from(lay.first_slot) - WORD;
        let results: Vec<IntValue<'ctx>> = match data.inst {
            Inst::ClassOf(a) => {
                let x = self.get(a)?;
                vec![self.class_of(x)?]
            }
            Inst::SitePrim { op, class, send } => {
                let class = self.get(class)?;
                let site = self.site_address(send)?;
                vec![self.site_holds(site, class, prim_word(op))?]
            }
            Inst::IndexOk(a, i) => {
                let (x, i) = (self.get(a)?, self.get(i)?);
                vec![self.index_ok(x, i)?]
            }
            Inst::LoadSlot(a, i) => {
                let (x, i) = (self.get(a)?, self.get(i)?);
                let at = self.indexed_address(x, i)?;
                vec![self.load(at, slot0)?]
            }
            Inst::StoreRef {
                object,
                index,
                value,
            } => {
                let (x, i, v) = (self.get(object)?, self.get(index)?, self.get(value)?);
                let at = self.indexed_address(x, i)?;
                self.store_ref(at, slot0, v)?;
                vec![]
            }
            Inst::SizeOf(a) => {
                let x = self.get(a)?;
                let h = self.load(x, i64::from(lay.header_word))?;
                let size = self.and_imm(h, lay.size_mask as i64)?;
                vec![self.tag(size)?]
            }
            // Neither the inline path nor the helper collects: values
            // stay valid across them.
            Inst::NewSlots(class, size) => {
                let (c, n) = (self.get(class)?, self.get(size)?);
                let made = self.new_slots(c, n)?;
                let failed = self.cmp_imm(IntPredicate::EQ, made, 0)?;
                vec![made, failed]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// Stores reference `value` at `offset` from `address` in the heap:
    /// every such store of LLVM code (instance variables, heap
    /// temporaries, `at:put:`, setters) is this one, the write barrier's
    /// hook.
    pub(super) fn store_ref(
        &self,
        address: IntValue<'ctx>,
        offset: i64,
        value: IntValue<'ctx>,
    ) -> R<()> {
        self.store(address, offset, value)
    }

    /// The address of the site of the send at bytecode offset `pc` (found
    /// as the Cranelift lowering finds it), as a constant.
    pub(super) fn site_address(&self, pc: u16) -> R<IntValue<'ctx>> {
        let site = self.env.sites.at_pc(pc)?;
        Ok(self.int(site as i64))
    }

    /// The class of `v`: SmallInt's for a SmallInt (as the send stub
    /// computes it), read through a selected address without a branch.
    fn class_of(&self, v: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let lay = self.env.layout;
        let int = self.is_int(v)?;
        let of_int = self.add_imm(self.vm, i64::from(lay.smallint_class))?;
        let of_object = self.add_imm(v, i64::from(lay.class_word))?;
        let at = self
            .b
            .build_select(int, of_int, of_object, "")
            .map_err(bx)?;
        self.load(at.into_int_value(), 0)
    }

    /// Whether `site`'s first primitive way holds `class` with the
    /// primitive method whose word is `prim`.
    fn site_holds(
        &self,
        site: IntValue<'ctx>,
        class: IntValue<'ctx>,
        prim: u64,
    ) -> R<IntValue<'ctx>> {
        let s = self.env.layout.site;
        let want = self.load(site, i64::from(s.prim_class))?;
        let held = self.load(site, i64::from(s.prim))?;
        let same = self.cmp(IntPredicate::EQ, class, want)?;
        let that = self.cmp_imm(IntPredicate::EQ, held, prim as i64)?;
        self.b.build_and(same, that, "").map_err(bx)
    }

    /// Whether `x` is a pointer object and `i` a SmallInt from 1 to its
    /// slot count (the header is read only for a reference).
    fn index_ok(&self, x: IntValue<'ctx>, i: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let (object, done) = (self.new_block("index_object"), self.new_block("index_done"));
        let is_ref = self.is_ref(x)?;
        let from = self.here()?;
        self.b
            .build_conditional_branch(is_ref, object, done)
            .map_err(bx)?;
        self.b.position_at_end(object);
        let (pointers, size) = self.pointer_header(x)?;
        let small = self.is_int(i)?;
        let n = self.untag(i)?;
        let low = self.cmp_imm(IntPredicate::SGE, n, 1)?;
        let high = self.cmp(IntPredicate::SLE, n, size)?;
        let ok = self.b.build_and(low, high, "").map_err(bx)?;
        let ok = self.b.build_and(ok, pointers, "").map_err(bx)?;
        let ok = self.b.build_and(ok, small, "").map_err(bx)?;
        let checked = self.here()?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        let no = self.cx.bool_type().const_zero();
        let phi = self.b.build_phi(self.cx.bool_type(), "").map_err(bx)?;
        phi.add_incoming(&[(&no, from), (&ok, checked)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// `x` plus the byte offset of word `i` (a SmallInt): slot `i`
    /// (1-based) is one word before `first_slot` from there.
    fn indexed_address(&self, x: IntValue<'ctx>, i: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let offset = self.index8(i)?;
        self.add(x, offset)
    }

    /// Whether word `x` is a reference (an object), an `i1`.
    pub(super) fn is_ref(&self, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let tag = self.and_imm(x, self.env.layout.tag_mask)?;
        self.cmp_imm(IntPredicate::EQ, tag, 0)
    }

    /// From object `x`'s header: whether it holds pointers (not bytes),
    /// and its slot count (meaningful only if it does).
    pub(super) fn pointer_header(&self, x: IntValue<'ctx>) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let lay = self.env.layout;
        let h = self.load(x, i64::from(lay.header_word))?;
        let bytes = self.and_imm(h, lay.bytes_flag as i64)?;
        let pointers = self.cmp_imm(IntPredicate::EQ, bytes, 0)?;
        let size = self.and_imm(h, lay.size_mask as i64)?;
        Ok((pointers, size))
    }
}
