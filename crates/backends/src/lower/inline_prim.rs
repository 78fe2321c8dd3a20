//! The inline path of a cheap primitive at a send whose selector names it
//! (`lst_vm::jit_runtime::inline_cache::InlinePrim`: `at:`, `at:put:`, `==`,
//! `class`, `size`, `new:`). The guard is what the runtime found at the
//! site: its
//! first primitive way must hold the receiver's class with exactly the
//! primitive method the selector stands for. Anything else, and any
//! operand the primitive would refuse, goes on to the send.

use super::{LowerError, Lowering};
use crate::clif_kit::{
    FLAGS, WORD_BYTES, WORD_SHIFT, class_word, header, is_ref, size_of, tag, tag_of, untag,
};
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
                let object = is_ref(self.b, self.env.layout, r);
                self.continue_if(object, send);
                class_word(self.b, self.env.layout, r)
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
                let lay = self.env.layout;
                let header = header(self.b, lay, r);
                let size = size_of(self.b, lay, header);
                tag(self.b, lay, size)
            }
        }
    }

    /// The class of `v`: SmallInt's for a SmallInt (as the send stub
    /// computes it).
    pub(super) fn class_of(&mut self, v: cl::Value) -> cl::Value {
        crate::clif_kit::class_of(self.b, self.env.layout, self.vm, v)
    }

    /// Goes on if `site`'s first primitive way holds `class` with the
    /// primitive method `op` stands for; otherwise to `send`.
    fn site_guard(&mut self, site: &SendSite, class: cl::Value, op: InlinePrim, send: cl::Block) {
        let s = self.env.layout.site;
        let site = self.int(site as *const SendSite as i64);
        let want = self.b.ins().load(I64, FLAGS, site, s.prim_class);
        let prim = self.b.ins().load(I64, FLAGS, site, s.prim);
        let same = self.b.ins().icmp(IntCC::Equal, class, want);
        let that = self.b.ins().icmp_imm_s(
            IntCC::Equal,
            prim,
            lst_vm::jit_runtime::inline_cache::prim_word(op) as i64,
        );
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
        // A SmallInt from 1 to the size.
        let header = header(self.b, &lay, r);
        let bytes = self.b.ins().band_imm_u(header, lay.bytes_flag as i64);
        let size = size_of(self.b, &lay, header);
        let small = tag_of(self.b, &lay, index);
        let i = untag(self.b, &lay, index);
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
        let offset = self.b.ins().ishl_imm_u(i, WORD_SHIFT);
        let at = self.b.ins().iadd(r, offset);
        // Slot i (1-based) is at first_slot + 8 (i - 1).
        let slot = lay.first_slot - WORD_BYTES;
        match value {
            None => self.b.ins().load(I64, FLAGS, at, slot),
            Some(v) => {
                self.b.ins().store(FLAGS, v, at, slot);
                r
            }
        }
    }
}
