//! The lowering's side of the CLIF helper kit ([`crate::clif_kit`]): the
//! same small pieces bound to the function being built, with its vm and
//! frame, its imports and its one shared leave block. Loads and stores
//! of the VM and of frame slots, the frame state written out before a
//! call and read back after it, calls of helpers and exits, and acting
//! on a helper's answer. The per-instruction logic is in
//! [`super`] and its other submodules.

use super::{LowerError, Lowering};
use crate::clif_kit::{FLAGS, boolean, import_once, index_bytes, leave_or_call_named, word_offset};
use crate::exit_stub::Exit;
use crate::helpers::Id;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, BlockArg, FuncRef, InstBuilder, types::I8, types::I64};
use lst_jit::ir::{self, State};
use lst_vm::jit_runtime::boundary as rt;

impl Lowering<'_, '_, '_> {
    /// A bool: false unless `check` (emitted first) holds, else what
    /// `test` computes in a block of its own. For tests that may read an
    /// object only once `check` has said it is one (a class word or a
    /// header, only of a reference).
    pub(super) fn false_unless(
        &mut self,
        check: impl FnOnce(&mut Self) -> cl::Value,
        test: impl FnOnce(&mut Self) -> cl::Value,
    ) -> cl::Value {
        let (object, done) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(done, I8);
        let go = check(self);
        let no = self.b.ins().iconst(I8, 0);
        self.b
            .ins()
            .brif(go, object, &[], done, &[BlockArg::Value(no)]);
        self.b.switch_to_block(object);
        let ok = test(self);
        self.b.ins().jump(done, &[BlockArg::Value(ok)]);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    pub(super) fn load_vm(&mut self, offset: i32) -> cl::Value {
        self.b.ins().load(I64, FLAGS, self.vm, offset)
    }

    /// The stack's address: loaded once per Cranelift block. The stack
    /// moves only in the runtime, so the load stays valid in its block
    /// until the next helper call (which forgets it).
    pub(super) fn stack_base(&mut self) -> cl::Value {
        let here = self.b.current_block();
        if let (Some((block, base)), Some(here)) = (self.base, here)
            && block == here
        {
            return base;
        }
        let base = self.load_vm(self.env.layout.stack_base);
        self.base = here.map(|h| (h, base));
        base
    }

    /// The address of the stack slot at byte index `at8`.
    pub(super) fn slot_addr(&mut self, at8: cl::Value) -> cl::Value {
        let base = self.stack_base();
        self.b.ins().iadd(base, at8)
    }

    /// The byte offset of the stack index in SmallInt word `word` (see
    /// [`index_bytes`]).
    pub(super) fn index8(&mut self, word: cl::Value) -> cl::Value {
        index_bytes(self.b, self.env.layout, word)
    }

    pub(super) fn frame_load(&mut self, at8: cl::Value, slot: usize) -> cl::Value {
        let addr = self.slot_addr(at8);
        self.b.ins().load(I64, FLAGS, addr, word_offset(slot))
    }

    pub(super) fn frame_store(&mut self, at8: cl::Value, slot: usize, x: cl::Value) {
        let addr = self.slot_addr(at8);
        self.b.ins().store(FLAGS, x, addr, word_offset(slot));
    }

    pub(super) fn object_slot(&self, n: usize) -> i32 {
        self.env.layout.first_slot + word_offset(n)
    }

    /// Writes `vals` as the frame's operand stack and sets the stack length.
    pub(super) fn spill(&mut self, vals: &[ir::Value]) -> Result<(), LowerError> {
        let xs = self.gets(vals)?;
        let header = self.env.layout.header;
        for (i, x) in xs.into_iter().enumerate() {
            self.frame_store(self.hp8, header + i, x);
        }
        let len = self
            .b
            .ins()
            .iadd_imm_s(self.hp, (header + vals.len()) as i64);
        let vm = self.vm;
        self.b
            .ins()
            .store(FLAGS, len, vm, self.env.layout.stack_len);
        Ok(())
    }

    /// [`Self::spill`] in a block the rest of the segment does not pass
    /// through: values it recomputes there are not kept for later uses.
    pub(super) fn spill_off_path(&mut self, vals: &[ir::Value]) -> Result<(), LowerError> {
        let kept = self.vals.clone();
        let r = self.spill(vals);
        self.vals = kept;
        r
    }

    /// After a call that may have collected: the segment's values are the
    /// state's, read back from the frame.
    pub(super) fn reload(&mut self, vals: &[ir::Value]) {
        self.vals.clear();
        let header = self.env.layout.header;
        for (i, &v) in vals.iter().enumerate() {
            let x = self.frame_load(self.hp8, header + i);
            self.vals.insert(v, x);
        }
    }

    pub(super) fn helper(&mut self, id: Id, args: &[cl::Value]) -> cl::Value {
        let f = self.helper_ref(id);
        let call = self.b.ins().call(f, args);
        self.base = None;
        self.b.inst_results(call)[0]
    }

    /// Leaves native code through shared exit `which` (it calls its helper
    /// and returns the answer to the trampoline).
    pub(super) fn exit(&mut self, which: Exit, args: [cl::Value; 4]) {
        let f = import_once(
            self.b,
            &mut self.imported_exit,
            self.env.exits,
            which as usize,
        );
        self.b.ins().return_call(f, &args);
    }

    /// Helper `id` in this function, imported on first use.
    pub(super) fn helper_ref(&mut self, id: Id) -> FuncRef {
        import_once(self.b, &mut self.imported, self.env.helpers, id as usize)
    }

    /// The Float function of operation `op` (see [`crate::float_stub`]),
    /// imported on first use.
    pub(super) fn float_ref(&mut self, op: lst_vm::jit_runtime::inline_ops::InlineOp) -> FuncRef {
        let i = lst_vm::jit_runtime::float_ops::float_position(op).expect("a Float operation");
        import_once(self.b, &mut self.imported_float, self.env.float_ops, i)
    }

    pub(super) fn int(&mut self, n: i64) -> cl::Value {
        self.b.ins().iconst(I64, n)
    }

    /// Continues after a helper's answer `r`: 0 leaves native code, 1 goes
    /// to `on_go` (with the helper's value), anything else is a code
    /// address to tail-call.
    ///
    /// Leaving and tail-calling are the same code wherever a helper was
    /// called, so every call site jumps to one shared block for them:
    /// each site adds a compare and a branch, not an exit and a tail call.
    pub(super) fn dispatch(&mut self, r: cl::Value, on_go: Option<cl::Block>) {
        let leave = self.leave_block();
        let Some(go) = on_go else {
            self.b.ins().jump(leave, &[BlockArg::Value(r)]);
            return;
        };
        let go_on = self.b.create_block();
        let is_go = self.b.ins().icmp_imm_s(IntCC::Equal, r, rt::GO_ON as i64);
        self.b
            .ins()
            .brif(is_go, go_on, &[], leave, &[BlockArg::Value(r)]);
        self.b.switch_to_block(go_on);
        let value = self.load_vm(self.env.layout.regs_value);
        self.b.ins().jump(go, &[BlockArg::Value(value)]);
    }

    /// The shared block behind [`Self::dispatch`]: its parameter is the
    /// helper's answer, 0 (leave native code) or a code address to
    /// tail-call with the frame and entry the helper left in the registers.
    pub(super) fn leave_block(&mut self) -> cl::Block {
        *self.leave.get_or_insert_with(|| {
            let leave = self.b.create_block();
            self.b.append_block_param(leave, I64);
            leave
        })
    }

    /// Fills the [`Self::leave_block`], if any send or helper needed it.
    pub(super) fn finish_leave_block(&mut self) {
        let Some(leave) = self.leave else {
            return;
        };
        let r = self.b.block_params(leave)[0];
        self.b.switch_to_block(leave);
        leave_or_call_named(self.b, self.env.layout, self.env.tail_sig, self.vm, r);
    }

    /// true or false, as machine condition `c` says.
    pub(super) fn bool_obj(&mut self, c: cl::Value) -> cl::Value {
        boolean(self.b, self.env.layout, self.vm, c)
    }

    /// Leaves native code through helper `id` when `ok` is false.
    pub(super) fn check(
        &mut self,
        ok: cl::Value,
        state: &State,
        what: u64,
    ) -> Result<(), LowerError> {
        let good = self.b.create_block();
        let bad = self.b.create_block();
        self.b.ins().brif(ok, good, &[], bad, &[]);
        self.b.switch_to_block(bad);
        self.spill_off_path(&state.stack)?;
        let pc = self.int(i64::from(state.pc));
        let what = self.int(what as i64);
        self.exit(Exit::Trap, [self.vm, self.hp, pc, what]);
        self.b.switch_to_block(good);
        Ok(())
    }
}
