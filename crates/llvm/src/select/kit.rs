//! The selector's small LLVM pieces, bound to the function being built:
//! integer arithmetic and compares on words, loads and stores of the VM,
//! of frame slots and of objects, the frame state written out before a
//! call and read back after it, calls of runtime helpers, `musttail`
//! calls of stubs and continuations, and acting on a helper's answer.
//! The per-instruction logic is in [`super`].

use super::{R, Selector, TAILCC};
use inkwell::IntPredicate;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::BuilderError;
use inkwell::values::{BasicMetadataValueEnum, InstructionValue, IntValue, LLVMTailCallKind};
use lst_backends::helpers::Id;
use lst_jit::ir::{self, State};
use lst_vm::jit_runtime::boundary as rt;

/// Bytes per word of the VM stack and of heap objects.
const WORD: i64 = lst_vm::heap::WORD_BYTES as i64;

/// A builder error is a bug of the selector, reported as a refusal.
pub(super) fn bx(e: BuilderError) -> String {
    format!("llvm builder: {e}")
}

/// Marks a load or store of a word as aligned to a word (the VM's stack
/// and objects are).
fn aligned(access: Option<InstructionValue>) -> R<()> {
    access
        .ok_or("llvm: a load is not an instruction")?
        .set_alignment(WORD as u32)
        .map_err(|e| format!("llvm: {e}"))
}

impl<'ctx> Selector<'ctx, '_> {
    // -- Words ---------------------------------------------------------------

    pub(super) fn int(&self, n: i64) -> IntValue<'ctx> {
        self.i64t.const_int(n as u64, true)
    }

    pub(super) fn add(&self, a: IntValue<'ctx>, b: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        self.b.build_int_add(a, b, "").map_err(bx)
    }

    pub(super) fn add_imm(&self, a: IntValue<'ctx>, n: i64) -> R<IntValue<'ctx>> {
        if n == 0 {
            return Ok(a);
        }
        self.add(a, self.int(n))
    }

    pub(super) fn and_imm(&self, a: IntValue<'ctx>, n: i64) -> R<IntValue<'ctx>> {
        self.b.build_and(a, self.int(n), "").map_err(bx)
    }

    pub(super) fn shl_imm(&self, a: IntValue<'ctx>, n: i64) -> R<IntValue<'ctx>> {
        self.b.build_left_shift(a, self.int(n), "").map_err(bx)
    }

    /// `a pred b`, an `i1`.
    pub(super) fn cmp(
        &self,
        pred: IntPredicate,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        self.b.build_int_compare(pred, a, b, "").map_err(bx)
    }

    pub(super) fn cmp_imm(
        &self,
        pred: IntPredicate,
        a: IntValue<'ctx>,
        n: i64,
    ) -> R<IntValue<'ctx>> {
        self.cmp(pred, a, self.int(n))
    }

    /// The byte offset of the word index in SmallInt word `word` (a
    /// frame's FP or TB), without untagging first.
    pub(super) fn index8(&self, word: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let lay = self.env.layout;
        let shift = WORD.trailing_zeros() as i64 - lay.tag_bits;
        let scaled = self.shl_imm(word, shift)?;
        self.add_imm(scaled, -(lay.smallint_tag << shift))
    }

    // -- Memory --------------------------------------------------------------

    /// The word at address `at` + `off` bytes.
    pub(super) fn load(&self, at: IntValue<'ctx>, off: i64) -> R<IntValue<'ctx>> {
        let a = self.add_imm(at, off)?;
        let p = self.b.build_int_to_ptr(a, self.ptr, "").map_err(bx)?;
        let v = self.b.build_load(self.i64t, p, "").map_err(bx)?;
        aligned(v.into_int_value().as_instruction())?;
        Ok(v.into_int_value())
    }

    pub(super) fn store(&self, at: IntValue<'ctx>, off: i64, x: IntValue<'ctx>) -> R<()> {
        let a = self.add_imm(at, off)?;
        let p = self.b.build_int_to_ptr(a, self.ptr, "").map_err(bx)?;
        let store = self.b.build_store(p, x).map_err(bx)?;
        aligned(Some(store))
    }

    pub(super) fn load_vm(&self, off: i32) -> R<IntValue<'ctx>> {
        self.load(self.vm, i64::from(off))
    }

    /// Slot `slot` from stack byte index `at8`. The stack's address is
    /// loaded at each access: it moves when a helper grows the stack.
    pub(super) fn frame_load(&self, at8: IntValue<'ctx>, slot: usize) -> R<IntValue<'ctx>> {
        let base = self.load_vm(self.env.layout.stack_base)?;
        let addr = self.add(base, at8)?;
        self.load(addr, slot as i64 * WORD)
    }

    pub(super) fn frame_store(&self, at8: IntValue<'ctx>, slot: usize, x: IntValue<'ctx>) -> R<()> {
        let base = self.load_vm(self.env.layout.stack_base)?;
        let addr = self.add(base, at8)?;
        self.store(addr, slot as i64 * WORD, x)
    }

    /// The byte offset of slot `n` from an object's address.
    pub(super) fn object_slot(&self, n: usize) -> i64 {
        i64::from(self.env.layout.first_slot) + n as i64 * WORD
    }

    // -- The frame state -----------------------------------------------------

    /// Writes `vals` as the frame's operand stack and sets the stack length.
    pub(super) fn spill(&mut self, vals: &[ir::Value]) -> R<()> {
        let header = self.env.layout.header;
        for (i, &v) in vals.iter().enumerate() {
            let x = self.get(v)?;
            self.frame_store(self.hp8, header + i, x)?;
        }
        let len = self.add_imm(self.hp, (header + vals.len()) as i64)?;
        self.store(self.vm, i64::from(self.env.layout.stack_len), len)
    }

    /// [`Self::spill`] on a path the rest of the block does not pass
    /// through: values it recomputes there are not kept for later uses.
    pub(super) fn spill_off_path(&mut self, vals: &[ir::Value]) -> R<()> {
        let kept = self.vals.clone();
        let r = self.spill(vals);
        self.vals = kept;
        r
    }

    /// After a call that may have collected: the values are the state's,
    /// read back from the frame.
    pub(super) fn reload(&mut self, vals: &[ir::Value]) -> R<()> {
        self.vals.clear();
        let header = self.env.layout.header;
        for (i, &v) in vals.iter().enumerate() {
            let x = self.frame_load(self.hp8, header + i)?;
            self.vals.insert(v, x);
        }
        Ok(())
    }

    // -- Calls ---------------------------------------------------------------

    /// Calls runtime helper `id` (a C function) with `args`; its answer.
    pub(super) fn helper(&self, id: Id, args: &[IntValue<'ctx>]) -> R<IntValue<'ctx>> {
        let Some(&(address, arity)) = self.env.targets.helpers.get(id as usize) else {
            return Err(format!("no helper {id:?}"));
        };
        if arity != args.len() {
            return Err(format!("helper {id:?} takes {arity} arguments"));
        }
        let ty = self.i64t.fn_type(&vec![self.i64t.into(); arity], false);
        let f = self.int(address as i64).const_to_pointer(self.ptr);
        let args: Vec<BasicMetadataValueEnum> = args.iter().map(|&a| a.into()).collect();
        let call = self.b.build_indirect_call(ty, f, &args, "").map_err(bx)?;
        Ok(call.try_as_basic_value().unwrap_basic().into_int_value())
    }

    /// Ends the current block with a `musttail` call of compiled code (a
    /// stub, a continuation) at address `code`, returning its answer.
    pub(super) fn tail_call(&self, code: IntValue<'ctx>, args: [IntValue<'ctx>; 4]) -> R<()> {
        let f = self.b.build_int_to_ptr(code, self.ptr, "").map_err(bx)?;
        let args = args.map(BasicMetadataValueEnum::from);
        let call = self
            .b
            .build_indirect_call(self.tail_type, f, &args, "")
            .map_err(bx)?;
        call.set_call_convention(TAILCC);
        call.set_tail_call_kind(LLVMTailCallKind::LLVMTailCallKindMustTail);
        let r = call.try_as_basic_value().unwrap_basic();
        self.b.build_return(Some(&r)).map_err(bx)?;
        Ok(())
    }

    /// Ends the current block with a tail call of shared function
    /// `address` (a stub in code memory).
    pub(super) fn tail_call_shared(&self, address: u64, args: [IntValue<'ctx>; 4]) -> R<()> {
        self.tail_call(self.int(address as i64), args)
    }

    /// Ends the current block by returning `r` to the trampoline (leaving
    /// native code).
    pub(super) fn leave(&self, r: IntValue<'ctx>) -> R<()> {
        self.b.build_return(Some(&r)).map_err(bx)?;
        Ok(())
    }

    /// Acts on a helper's answer `r` other than "go on" (ends the current
    /// block): 0 leaves native code, anything else is a code address to
    /// tail-call with the frame, entry and value the helper left in the
    /// VM's registers.
    pub(super) fn leave_or_call_named(&self, r: IntValue<'ctx>) -> R<()> {
        let (exit, named) = (self.new_block("leave"), self.new_block("named"));
        let zero = self.cmp_imm(IntPredicate::EQ, r, 0)?;
        self.b
            .build_conditional_branch(zero, exit, named)
            .map_err(bx)?;
        self.b.position_at_end(exit);
        self.leave(r)?;
        self.b.position_at_end(named);
        let lay = self.env.layout;
        let value = self.load_vm(lay.regs_value)?;
        let hp = self.load_vm(lay.regs_hp)?;
        let k = self.load_vm(lay.regs_k)?;
        self.tail_call(r, [self.vm, hp, value, k])
    }

    /// Goes on in a new current block if helper answer `r` is "go on";
    /// otherwise [`Self::leave_or_call_named`].
    pub(super) fn go_on_or_leave(&self, r: IntValue<'ctx>) -> R<()> {
        let (go, other) = (self.new_block("go_on"), self.new_block("other"));
        let is_go = self.cmp_imm(IntPredicate::EQ, r, rt::GO_ON as i64)?;
        self.b
            .build_conditional_branch(is_go, go, other)
            .map_err(bx)?;
        self.b.position_at_end(other);
        self.leave_or_call_named(r)?;
        self.b.position_at_end(go);
        Ok(())
    }

    /// Goes on in a new current block if helper answer `r` is nonzero;
    /// otherwise leaves native code with it.
    pub(super) fn go_on_unless_zero(&self, r: IntValue<'ctx>) -> R<()> {
        let (go, exit) = (self.new_block("go_on"), self.new_block("leave"));
        let zero = self.cmp_imm(IntPredicate::EQ, r, 0)?;
        self.b
            .build_conditional_branch(zero, exit, go)
            .map_err(bx)?;
        self.b.position_at_end(exit);
        self.leave(r)?;
        self.b.position_at_end(go);
        Ok(())
    }

    /// Leaves native code through the trap exit when `ok` (an `i1`) is
    /// false, with the frame as `state` says.
    pub(super) fn check(&mut self, ok: IntValue<'ctx>, state: &State, what: u64) -> R<()> {
        let (good, bad) = (self.new_block("ok"), self.new_block("trap"));
        self.b.build_conditional_branch(ok, good, bad).map_err(bx)?;
        self.b.position_at_end(bad);
        self.spill_off_path(&state.stack)?;
        let pc = self.int(i64::from(state.pc));
        let what = self.int(what as i64);
        self.tail_call_shared(self.env.targets.exit_trap, [self.vm, self.hp, pc, what])?;
        self.b.position_at_end(good);
        Ok(())
    }

    // -- Blocks --------------------------------------------------------------

    pub(super) fn new_block(&self, name: &str) -> BasicBlock<'ctx> {
        self.cx.append_basic_block(self.f, name)
    }

    /// The block the builder is in.
    pub(super) fn here(&self) -> R<BasicBlock<'ctx>> {
        self.b
            .get_insert_block()
            .ok_or_else(|| "llvm builder: no current block".to_string())
    }
}
