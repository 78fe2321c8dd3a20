//! Instruction selection for the IR's quick-method operations
//! (`quick_way`, `quick_constant`, `quick_get`, `quick_set`), which read
//! the first method way of their send's site. Which sends take them is
//! the semantic lowering's decision (`lst_jit::semantic`). The setter's
//! store is [`Lowering::store_ref`].

use super::{LowerError, Lowering};
use crate::clif_kit::{FLAGS, WORD_SHIFT, class_word, header, is_ref, pointer_header};
use crate::entries::{quick_code, site_at};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I8, I64};
use cranelift_codegen::ir::{self as cl, BlockArg, InstBuilder};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::inline_cache::SendSite;

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is a quick-method operation; answers whether
    /// it was.
    pub(super) fn quick_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let s = self.env.layout.site;
        let results = match data.inst {
            Inst::QuickWay { kind, object, send } => {
                let x = self.get(object)?;
                let site = self.site_address(send)?;
                vec![self.quick_way(site, quick_code(kind), x)]
            }
            Inst::QuickConstant { send } => {
                let site = self.site_address(send)?;
                vec![self.b.ins().load(I64, FLAGS, site, s.ways + s.operand)]
            }
            Inst::QuickGet { object, send } => {
                let x = self.get(object)?;
                let site = self.site_address(send)?;
                let (v, failed) = self.quick_slot(site, x, None);
                vec![v, failed]
            }
            Inst::QuickSet {
                object,
                value,
                send,
            } => {
                let (x, v) = (self.get(object)?, self.get(value)?);
                let site = self.site_address(send)?;
                vec![self.quick_slot(site, x, Some(v)).1]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// The address of the site of the send at `pc`, as a constant.
    fn site_address(&mut self, pc: u16) -> Result<cl::Value, LowerError> {
        let site = site_at(self.f, self.env.sites, pc)?;
        Ok(self.int(site as *const SendSite as i64))
    }

    /// Whether `x` is a reference whose class the first way of `site`
    /// holds with a quick method of code `code` (the class word is read
    /// only for a reference).
    fn quick_way(&mut self, site: cl::Value, code: u64, x: cl::Value) -> cl::Value {
        let lay = *self.env.layout;
        let s = lay.site;
        self.false_unless(
            |l| {
                let quick = l.b.ins().load(I64, FLAGS, site, s.ways + s.quick);
                let kind = l.b.ins().icmp_imm_s(IntCC::Equal, quick, code as i64);
                let object_ref = is_ref(l.b, &lay, x);
                l.b.ins().band(kind, object_ref)
            },
            |l| {
                let class = class_word(l.b, &lay, x);
                let cached = l.b.ins().load(I64, FLAGS, site, s.ways + s.class);
                l.b.ins().icmp(IntCC::Equal, class, cached)
            },
        )
    }

    /// Reads (`value` None) or writes the instance variable of reference
    /// `x` that the first way of `site` names: (the value read, or `x`;
    /// failed), failed (and nothing done) unless `x` is a pointer object
    /// with that slot.
    fn quick_slot(
        &mut self,
        site: cl::Value,
        x: cl::Value,
        value: Option<cl::Value>,
    ) -> (cl::Value, cl::Value) {
        let lay = *self.env.layout;
        let s = lay.site;
        let index = self.b.ins().load(I64, FLAGS, site, s.ways + s.operand);
        let h = header(self.b, &lay, x);
        let (pointers, size) = pointer_header(self.b, &lay, h);
        let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, index, size);
        let ok = self.b.ins().band(pointers, inside);
        let (access, done) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(done, I64);
        self.b.append_block_param(done, I8);
        let yes = self.b.ins().iconst(I8, 1);
        self.b.ins().brif(
            ok,
            access,
            &[],
            done,
            &[BlockArg::Value(x), BlockArg::Value(yes)],
        );
        self.b.switch_to_block(access);
        let offset = self.b.ins().ishl_imm_u(index, WORD_SHIFT);
        let at = self.b.ins().iadd(x, offset);
        let answer = match value {
            None => self.b.ins().load(I64, FLAGS, at, lay.first_slot),
            Some(v) => {
                self.store_ref(at, lay.first_slot, v);
                x
            }
        };
        let no = self.b.ins().iconst(I8, 0);
        self.b
            .ins()
            .jump(done, &[BlockArg::Value(answer), BlockArg::Value(no)]);
        self.b.switch_to_block(done);
        let params = self.b.block_params(done);
        (params[0], params[1])
    }
}
