//! The inline path of a cheap primitive at a send whose selector names it
//! (`lst_vm::jit_runtime::inline_cache::InlinePrim`: `at:`, `at:put:`, `==`,
//! `class`, `size`, `new:`). The guard is what the runtime found at the
//! site: its
//! first primitive way must hold the receiver's class with exactly the
//! primitive method the selector stands for. Anything else, and any
//! operand the primitive would refuse, goes on to the send.

use super::{FLAGS, LowerError, Lowering};
use crate::helpers::Id;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, InstBuilder, types::I64};
use lst_jit::ir::{self, State};
use lst_vm::jit_runtime::inline_cache::{InlinePrim, SendSite};

impl Lowering<'_, '_, '_> {
    /// Primitive `op` on `receiver` and `args` at `site`: its answer goes
    /// to `join` (an [`Self::answer_join`]); otherwise the code goes on in
    /// the current block, the send.
    pub(super) fn inline_prim(
        &mut self,
        op: InlinePrim,
        receiver: ir::Value,
        args: &[ir::Value],
        site: &SendSite,
        join: cl::Block,
        state: &State,
    ) -> Result<(), LowerError> {
        let r = self.get(receiver)?;
        let args = self.gets(args)?;
        self.inline_path(join, state, |l, send| {
            Ok(l.prim_answer(op, r, &args, site, send))
        })
    }

    /// The answer of [`Self::inline_prim`]; `send` when the guard or the
    /// operands fail.
    fn prim_answer(
        &mut self,
        op: InlinePrim,
        r: cl::Value,
        args: &[cl::Value],
        site: &SendSite,
        send: cl::Block,
    ) -> cl::Value {
        let class = match op {
            // These read the receiver's slots or header: an object.
            InlinePrim::At | InlinePrim::AtPut | InlinePrim::Size => {
                let tag = self.b.ins().band_imm_u(r, 1);
                let object = self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
                self.continue_if(object, send);
                self.b.ins().load(I64, FLAGS, r, self.env.layout.class_word)
            }
            InlinePrim::Identical | InlinePrim::Class | InlinePrim::New => self.class_of(r),
        };
        self.site_guard(site, class, op, send);
        match op {
            InlinePrim::At => self.indexed(r, args[0], None, send),
            InlinePrim::AtPut => self.indexed(r, args[0], Some(args[1]), send),
            InlinePrim::Identical => {
                let same = self.b.ins().icmp(IntCC::Equal, r, args[0]);
                self.bool_obj(same)
            }
            InlinePrim::Class => class,
            InlinePrim::New => {
                let made = self.helper(Id::lst_new_slots, &[self.vm, r, args[0]]);
                self.continue_if(made, send);
                made
            }
            InlinePrim::Size => {
                let header = self.b.ins().load(I64, FLAGS, r, 0);
                let size = self
                    .b
                    .ins()
                    .band_imm_u(header, self.env.layout.size_mask as i64);
                let twice = self.b.ins().ishl_imm_u(size, 1);
                self.b.ins().iadd_imm_s(twice, 1)
            }
        }
    }

    /// The class of `v`: SmallInt's for a SmallInt (as the send stub
    /// computes it).
    pub(super) fn class_of(&mut self, v: cl::Value) -> cl::Value {
        crate::send_stub::class_of(self.b, self.env.layout, self.vm, v)
    }

    /// Goes on if `site`'s first primitive way holds `class` with the
    /// primitive method `op` stands for; otherwise to `send`.
    fn site_guard(&mut self, site: &SendSite, class: cl::Value, op: InlinePrim, send: cl::Block) {
        let s = self.env.layout.site;
        let site = self.int(site as *const SendSite as i64);
        let want = self.b.ins().load(I64, FLAGS, site, s.prim_class);
        let prim = self.b.ins().load(I64, FLAGS, site, s.prim);
        let same = self.b.ins().icmp(IntCC::Equal, class, want);
        let that = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, prim, op.packed() as i64);
        let ok = self.b.ins().band(same, that);
        self.continue_if(ok, send);
    }

    /// `at:` (no `value`) or `at:put:` on object `r`: the slot when `r`
    /// has pointers and `index` is a SmallInt from 1 to its size
    /// (`at:put:` answers `r`); otherwise to `send`.
    fn indexed(
        &mut self,
        r: cl::Value,
        index: cl::Value,
        value: Option<cl::Value>,
        send: cl::Block,
    ) -> cl::Value {
        let lay = *self.env.layout;
        // Tagged: 3 ≤ index and index >> 1 ≤ size.
        let header = self.b.ins().load(I64, FLAGS, r, 0);
        let bytes = self.b.ins().band_imm_u(header, lay.bytes_flag as i64);
        let size = self.b.ins().band_imm_u(header, lay.size_mask as i64);
        let small = self.b.ins().band_imm_u(index, 1);
        let i = self.b.ins().sshr_imm_u(index, 1);
        let low = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, i, 1);
        let high = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, i, size);
        let pointers = self.b.ins().icmp_imm_s(IntCC::Equal, bytes, 0);
        let small = self.b.ins().icmp_imm_s(IntCC::NotEqual, small, 0);
        let ok = self.b.ins().band(low, high);
        let ok = self.b.ins().band(ok, pointers);
        let ok = self.b.ins().band(ok, small);
        self.continue_if(ok, send);
        let offset = self.b.ins().ishl_imm_u(i, 3);
        let at = self.b.ins().iadd(r, offset);
        // Slot i (1-based) is at first_slot + 8 (i - 1).
        let slot = lay.first_slot - 8;
        match value {
            None => self.b.ins().load(I64, FLAGS, at, slot),
            Some(v) => {
                self.b.ins().store(FLAGS, v, at, slot);
                r
            }
        }
    }
}
