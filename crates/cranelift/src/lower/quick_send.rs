//! The inline path of a quick method (`lst_vm::interp::quick`) at a send:
//! when the site's first way holds the receiver's class with a getter (at
//! a unary send) or a setter (at a one-argument send), compiled code
//! reads or writes the instance variable itself, without the send stub's
//! round trip through the caller's continuation. Anything else goes on to
//! the send, which handles every other way.

use super::{FLAGS, Lowering};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, InstBuilder, types::I64};
use lst_jit::ir::{self, State};
use lst_vm::interp::native as rt;
use lst_vm::interp::quick::{QUICK_GETTER, QUICK_SETTER};

impl Lowering<'_, '_, '_> {
    /// The getter (no `value`) or setter (`value` to store) path of the
    /// send at `site` to `receiver`: its answer goes to `join` (an
    /// [`Self::answer_join`]); otherwise the code goes on in the current
    /// block, the send.
    pub(super) fn quick_send(
        &mut self,
        receiver: ir::Value,
        value: Option<ir::Value>,
        site: &rt::SendSite,
        join: cl::Block,
        state: &State,
    ) -> Result<(), super::LowerError> {
        let lay = *self.env.layout;
        let s = lay.site;
        let r = self.get(receiver)?;
        let value = value.map(|v| self.get(v)).transpose()?;
        let send = self.b.create_block();
        self.b.set_cold_block(send);
        let kept = self.vals.clone();
        // An object (getters and setters are never cached for SmallInts)
        // of the first way's class, which holds this kind of quick method.
        let tag = self.b.ins().band_imm_u(r, 1);
        let object = self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
        self.continue_if(object, send);
        let site = self.int(site as *const rt::SendSite as i64);
        let class = self.b.ins().load(I64, FLAGS, r, lay.class_word);
        let cached = self.b.ins().load(I64, FLAGS, site, s.ways + s.class);
        let quick = self.b.ins().load(I64, FLAGS, site, s.ways + s.quick);
        let same = self.b.ins().icmp(IntCC::Equal, class, cached);
        let kind = if value.is_some() {
            QUICK_SETTER
        } else {
            QUICK_GETTER
        };
        let that = self.b.ins().icmp_imm_s(IntCC::Equal, quick, kind as i64);
        let ok = self.b.ins().band(same, that);
        self.continue_if(ok, send);
        // A pointer object with that instance variable.
        let index = self.b.ins().load(I64, FLAGS, site, s.ways + s.operand);
        let header = self.b.ins().load(I64, FLAGS, r, 0);
        let bytes = self.b.ins().band_imm_u(header, lay.bytes_flag as i64);
        let size = self.b.ins().band_imm_u(header, lay.size_mask as i64);
        let pointers = self.b.ins().icmp_imm_s(IntCC::Equal, bytes, 0);
        let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, index, size);
        let ok = self.b.ins().band(pointers, inside);
        self.continue_if(ok, send);
        let offset = self.b.ins().ishl_imm_u(index, 3);
        let at = self.b.ins().iadd(r, offset);
        let answer = match value {
            None => self.b.ins().load(I64, FLAGS, at, lay.first_slot),
            Some(v) => {
                self.b.ins().store(FLAGS, v, at, lay.first_slot);
                r
            }
        };
        let args = self.answer_args(answer, state)?;
        self.b.ins().jump(join, &args);
        self.vals = kept;
        self.b.switch_to_block(send);
        Ok(())
    }
}
