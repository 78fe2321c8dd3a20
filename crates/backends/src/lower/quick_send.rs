//! The inline path of a quick method (`lst_vm::jit_runtime::quick`) at a send:
//! when the site's first way holds the receiver's class with a getter or
//! a constant (at a unary send) or a setter (at a one-argument send),
//! compiled code reads or writes the instance variable, or answers the
//! constant, itself, without the send stub's round trip through the
//! caller's continuation. Only sends of a selector some quick method of
//! that kind answers get the path (`Vm::may_be_quick`): elsewhere it
//! would cost every send a test and the compile its instructions for
//! nothing. Anything else goes on to the send, which
//! handles every other way, and SmallInt receivers too: their quick ways
//! are only ever constants (`isNil`), rare enough that the path does not
//! spend a branch and a join on finding SmallInt's class.

use super::Lowering;
use crate::clif_kit::{FLAGS, WORD_SHIFT, class_word, header, is_ref, pointer_header};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, InstBuilder, types::I64};
use lst_jit::ir::{self, State};
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::jit_runtime::quick::{QUICK_CONSTANT, QUICK_GETTER, QUICK_SETTER};

impl Lowering<'_, '_, '_> {
    /// The getter or constant (no `value`) or setter (`value` to store)
    /// path of the send at `site` to `receiver`: its answer goes to `join`
    /// (an [`Self::answer_join`]); otherwise the code goes on in the
    /// current block, the send.
    pub(super) fn quick_send(
        &mut self,
        receiver: ir::Value,
        value: Option<ir::Value>,
        site: &SendSite,
        join: cl::Block,
        state: &State,
    ) -> Result<(), super::LowerError> {
        let r = self.get(receiver)?;
        let value = value.map(|v| self.get(v)).transpose()?;
        self.inline_path(join, state, |l, send| {
            l.quick_answer(r, value, site, join, state, send)
        })
    }

    /// The answer of [`Self::quick_send`] (a constant goes straight to
    /// `join` with `state`'s values); `send` when the way does not fit.
    fn quick_answer(
        &mut self,
        r: cl::Value,
        value: Option<cl::Value>,
        site: &SendSite,
        join: cl::Block,
        state: &State,
        send: cl::Block,
    ) -> Result<cl::Value, super::LowerError> {
        let lay = *self.env.layout;
        let s = lay.site;
        // The first way holds a quick method, for the receiver's class.
        // (Testing the kind first costs most sends one load and branch.)
        let site = self.int(site as *const SendSite as i64);
        let quick = self.b.ins().load(I64, FLAGS, site, s.ways + s.quick);
        let object = is_ref(self.b, &lay, r);
        let go = self.b.ins().icmp_imm_s(IntCC::NotEqual, quick, 0);
        let go = self.b.ins().band(go, object);
        self.continue_if(go, send);
        let class = class_word(self.b, &lay, r);
        let cached = self.b.ins().load(I64, FLAGS, site, s.ways + s.class);
        let same = self.b.ins().icmp(IntCC::Equal, class, cached);
        self.continue_if(same, send);
        let operand = self.b.ins().load(I64, FLAGS, site, s.ways + s.operand);
        if value.is_none() {
            // A constant: the operand is the answer.
            let constant = self
                .b
                .ins()
                .icmp_imm_s(IntCC::Equal, quick, QUICK_CONSTANT as i64);
            let args = self.answer_args(operand, state)?;
            let next = self.b.create_block();
            self.b.ins().brif(constant, join, &args, next, &[]);
            self.b.switch_to_block(next);
        }
        let kind = if value.is_some() {
            QUICK_SETTER
        } else {
            QUICK_GETTER
        };
        let that = self.b.ins().icmp_imm_s(IntCC::Equal, quick, kind as i64);
        self.continue_if(that, send);
        // A pointer object with that instance variable.
        let index = operand;
        let header = header(self.b, &lay, r);
        let (pointers, size) = pointer_header(self.b, &lay, header);
        let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, index, size);
        let ok = self.b.ins().band(pointers, inside);
        self.continue_if(ok, send);
        let offset = self.b.ins().ishl_imm_u(index, WORD_SHIFT);
        let at = self.b.ins().iadd(r, offset);
        Ok(match value {
            None => self.b.ins().load(I64, FLAGS, at, lay.first_slot),
            Some(v) => {
                self.b.ins().store(FLAGS, v, at, lay.first_slot);
                r
            }
        })
    }
}
