//! Allocation inline in LLVM IR, as Cranelift's lowering does it
//! (`lst_backends::alloc_kit`): a bump allocation at the top of the
//! heap's active space through the same `Layout` fields (what
//! `Heap::bump` does), the pointer object of `new:` (primitive 7) for the
//! IR's `new_slots` and the Float of `box_float`
//! ([`super::unboxed_ops`]). LLVM sees the whole fast path, so it can
//! fold a constant size and unroll the filling.
//!
//! Each piece branches to a `fail` block its caller gives when it cannot
//! allocate without a collection (no room, or GC stress is on) or the
//! primitive would fail; this module must not know a selector or decide
//! when an allocation is inlined (the IR does).

use super::kit::bx;
use super::{R, Selector};
use inkwell::IntPredicate;
use inkwell::basic_block::BasicBlock;
use inkwell::types::BasicType;
use inkwell::values::IntValue;
use lst_backends::alloc_kit::INLINE_NEW_MAX_SLOTS;
use lst_backends::helpers::Id;

/// Bytes per heap word.
const WORD: i64 = lst_vm::heap::WORD_BYTES as i64;

impl<'ctx> Selector<'ctx, '_> {
    /// Goes on in a new block if `ok` (an `i1`), else to `fail`.
    fn continue_if(&self, ok: IntValue<'ctx>, fail: BasicBlock<'ctx>, name: &str) -> R<()> {
        let next = self.new_block(name);
        self.b
            .build_conditional_branch(ok, next, fail)
            .map_err(bx)?;
        self.b.position_at_end(next);
        Ok(())
    }

    /// The words of an object's header (its header word and its class).
    pub(super) fn header_words(&self) -> i64 {
        i64::from(self.env.layout.first_slot) / WORD
    }

    /// A new object of `words` words in all whose header's size and flags
    /// are `size_and_flags`, bump-allocated as `Heap::bump` would: the
    /// header gets the next identity hash, the heap's statistics count the
    /// words. Its class word and slots are left for the caller to write.
    /// `fail` when that would need a collection or GC stress is on.
    pub(super) fn bump(
        &self,
        words: IntValue<'ctx>,
        size_and_flags: IntValue<'ctx>,
        fail: BasicBlock<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let lay = self.env.layout;
        let a = lay.alloc;
        let stress = self.load_narrow(self.vm, i64::from(lay.gc_stress), 8)?;
        let calm = self
            .b
            .build_int_compare(IntPredicate::EQ, stress, stress.get_type().const_zero(), "")
            .map_err(bx)?;
        self.continue_if(calm, fail, "alloc_room")?;
        let top = self.load(self.vm, a.top as i64)?;
        let end = self.load(self.vm, a.words as i64)?;
        let new_top = self.add(top, words)?;
        let fits = self.cmp(IntPredicate::ULE, new_top, end)?;
        self.continue_if(fits, fail, "alloc")?;
        let base = self.load(self.vm, a.base as i64)?;
        let top8 = self.shl_imm(top, i64::from(WORD.trailing_zeros()))?;
        let object = self.add(base, top8)?;
        self.store(self.vm, a.top as i64, new_top)?;
        let hash = self.load_narrow(self.vm, a.next_hash as i64, 32)?;
        let i32t = hash.get_type();
        let hash = self
            .b
            .build_int_add(hash, i32t.const_int(u64::from(a.hash_step), false), "")
            .map_err(bx)?;
        let hash = self
            .b
            .build_and(hash, i32t.const_int(u64::from(a.hash_mask), false), "")
            .map_err(bx)?;
        self.store_narrow(self.vm, a.next_hash as i64, hash)?;
        let allocated = self.load(self.vm, a.allocated_words as i64)?;
        let allocated = self.add(allocated, words)?;
        self.store(self.vm, a.allocated_words as i64, allocated)?;
        let hash = self.b.build_int_z_extend(hash, self.i64t, "").map_err(bx)?;
        let hash = self.shl_imm(hash, i64::from(a.hash_shift))?;
        let header = self.b.build_or(hash, size_and_flags, "").map_err(bx)?;
        self.store(object, i64::from(lay.header_word), header)?;
        Ok(object)
    }

    /// `class new: size` as primitive 7 answers it, or 0 where it fails or
    /// would collect: inline for a SmallInt size from 0 to
    /// [`INLINE_NEW_MAX_SLOTS`] and a receiver shaped as a class, else by
    /// `lst_new_slots` (which never collects either).
    pub(super) fn new_slots(
        &self,
        class: IntValue<'ctx>,
        size: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let lay = self.env.layout;
        let (slow, done) = (self.new_block("new_slow"), self.new_block("new_done"));
        let small = self.is_int(size)?;
        self.continue_if(small, slow, "new_size")?;
        let n = self.untag(size)?;
        let in_range = self.cmp_imm(IntPredicate::ULE, n, INLINE_NEW_MAX_SLOTS)?;
        self.continue_if(in_range, slow, "new_class")?;
        let object = self.is_ref(class)?;
        self.continue_if(object, slow, "new_shape")?;
        let (pointers, slots) = self.pointer_header(class)?;
        let shaped = self.cmp_imm(IntPredicate::UGE, slots, lay.class_min_slots as i64)?;
        let is_class = self.b.build_and(pointers, shaped, "").map_err(bx)?;
        self.continue_if(is_class, slow, "new_bump")?;
        let words = self.add_imm(n, self.header_words())?;
        let made = self.bump(words, n, slow)?;
        self.store(made, i64::from(lay.class_word), class)?;
        self.fill_with_nil(made, n)?;
        let fast = self.here()?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(slow);
        let called = self.helper(Id::lst_new_slots, &[self.vm, class, size])?;
        let slow_end = self.here()?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        let phi = self.b.build_phi(self.i64t, "new").map_err(bx)?;
        phi.add_incoming(&[(&made, fast), (&called, slow_end)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// Stores nil into slots 1..=n of `object` (a loop; `n` may be 0).
    fn fill_with_nil(&self, object: IntValue<'ctx>, n: IntValue<'ctx>) -> R<()> {
        let lay = self.env.layout;
        let nil = self.load_vm(lay.nil)?;
        let first = self.add_imm(object, i64::from(lay.first_slot))?;
        let n8 = self.shl_imm(n, i64::from(WORD.trailing_zeros()))?;
        let end = self.add(first, n8)?;
        let entry = self.here()?;
        let (test, body, done) = (
            self.new_block("fill_test"),
            self.new_block("fill"),
            self.new_block("filled"),
        );
        self.b.build_unconditional_branch(test).map_err(bx)?;
        self.b.position_at_end(test);
        let at = self.b.build_phi(self.i64t, "at").map_err(bx)?;
        let at_v = at.as_basic_value().into_int_value();
        let more = self.cmp(IntPredicate::ULT, at_v, end)?;
        self.b
            .build_conditional_branch(more, body, done)
            .map_err(bx)?;
        self.b.position_at_end(body);
        self.store(at_v, 0, nil)?;
        let next = self.add_imm(at_v, WORD)?;
        self.b.build_unconditional_branch(test).map_err(bx)?;
        at.add_incoming(&[(&first, entry), (&next, body)]);
        self.b.position_at_end(done);
        Ok(())
    }

    /// The `width`-bit integer (8 or 32) at address `at` + `off` bytes.
    pub(super) fn load_narrow(
        &self,
        at: IntValue<'ctx>,
        off: i64,
        width: u32,
    ) -> R<IntValue<'ctx>> {
        let ty = match width {
            8 => self.cx.i8_type(),
            _ => self.cx.i32_type(),
        };
        let p = self.address(at, off)?;
        let v = self
            .b
            .build_load(ty.as_basic_type_enum(), p, "")
            .map_err(bx)?;
        Ok(v.into_int_value())
    }

    /// Stores narrow integer `x` at address `at` + `off` bytes.
    fn store_narrow(&self, at: IntValue<'ctx>, off: i64, x: IntValue<'ctx>) -> R<()> {
        let p = self.address(at, off)?;
        self.b.build_store(p, x).map_err(bx)?;
        Ok(())
    }

    fn address(&self, at: IntValue<'ctx>, off: i64) -> R<inkwell::values::PointerValue<'ctx>> {
        let a = self.add_imm(at, off)?;
        self.b
            .build_int_to_ptr(a, self.cx.ptr_type(inkwell::AddressSpace::default()), "")
            .map_err(bx)
    }
}
