//! Instruction selection for the IR's object operations (`class_of`,
//! `site_prim`, `index_ok`, `load_slot`, `store_ref`, `size_of`,
//! `new_slots`). Which sends take them, and under which guard, is the
//! semantic lowering's decision (`lst_jit::semantic`); this module only
//! turns each into CLIF. [`Lowering::store_ref`] is the one store of a
//! reference into the heap: instance variables and heap temporaries go
//! through it too (the hook of a future write barrier).

use super::{LowerError, Lowering};
use crate::alloc_kit;
use crate::clif_kit::{FLAGS, WORD_BYTES, header, index_bytes, is_int, is_ref, pointer_header};
use crate::clif_kit::{size_of, tag, untag};
use crate::entries::site_at;
use crate::helpers::Id;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{self as cl, BlockArg, InstBuilder};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::inline_cache::{SendSite, prim_word};

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is an object operation; answers whether it was.
    pub(super) fn object_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let lay = *self.env.layout;
        let results = match data.inst {
            Inst::ClassOf(a) => {
                let x = self.get(a)?;
                vec![self.class_of(x)]
            }
            Inst::SitePrim { op, class, send } => {
                let class = self.get(class)?;
                let site = site_at(self.f, self.env.sites, send)?;
                vec![self.site_holds(site, class, prim_word(op))]
            }
            Inst::IndexOk(a, i) => {
                let (x, i) = (self.get(a)?, self.get(i)?);
                vec![self.index_ok(x, i)]
            }
            Inst::LoadSlot(a, i) => {
                let (x, i) = (self.get(a)?, self.get(i)?);
                let at = self.indexed_address(x, i);
                vec![
                    self.b
                        .ins()
                        .load(I64, FLAGS, at, lay.first_slot - WORD_BYTES),
                ]
            }
            Inst::StoreRef {
                object,
                index,
                value,
            } => {
                let (x, i, v) = (self.get(object)?, self.get(index)?, self.get(value)?);
                let at = self.indexed_address(x, i);
                self.store_ref(at, lay.first_slot - WORD_BYTES, v);
                vec![]
            }
            Inst::SizeOf(a) => {
                let x = self.get(a)?;
                let h = header(self.b, &lay, x);
                let size = size_of(self.b, &lay, h);
                vec![tag(self.b, &lay, size)]
            }
            Inst::NewSlots(class, size) => {
                let (c, n) = (self.get(class)?, self.get(size)?);
                let made = self.new_slots(c, n);
                let failed = self.b.ins().icmp_imm_s(IntCC::Equal, made, 0);
                vec![made, failed]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// `class new: size` as primitive 7 answers it, or 0 where it fails
    /// or would collect: allocated inline when it can be
    /// ([`alloc_kit::new_slots`]), else by `lst_new_slots`.
    fn new_slots(&mut self, class: cl::Value, size: cl::Value) -> cl::Value {
        let lay = *self.env.layout;
        let (slow, done) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(slow);
        self.b.append_block_param(done, I64);
        let made = alloc_kit::new_slots(self.b, &lay, self.vm, class, size, slow);
        self.b.ins().jump(done, &[BlockArg::Value(made)]);
        self.b.switch_to_block(slow);
        let made = self.helper(Id::lst_new_slots, &[self.vm, class, size]);
        self.b.ins().jump(done, &[BlockArg::Value(made)]);
        self.b.switch_to_block(done);
        self.base = None;
        self.b.block_params(done)[0]
    }

    /// Stores reference `value` at `offset` from `address` in the heap:
    /// every such store of compiled code is this one.
    pub(super) fn store_ref(&mut self, address: cl::Value, offset: i32, value: cl::Value) {
        self.b.ins().store(FLAGS, value, address, offset);
    }

    /// The class of `v`: SmallInt's for a SmallInt (as the send stub
    /// computes it).
    fn class_of(&mut self, v: cl::Value) -> cl::Value {
        crate::clif_kit::class_of(self.b, self.env.layout, self.vm, v)
    }

    /// Whether `site`'s first primitive way holds `class` with the
    /// primitive method whose word is `prim`.
    fn site_holds(&mut self, site: &SendSite, class: cl::Value, prim: u64) -> cl::Value {
        let s = self.env.layout.site;
        let site = self.int(site as *const SendSite as i64);
        let want = self.b.ins().load(I64, FLAGS, site, s.prim_class);
        let held = self.b.ins().load(I64, FLAGS, site, s.prim);
        let same = self.b.ins().icmp(IntCC::Equal, class, want);
        let that = self.b.ins().icmp_imm_s(IntCC::Equal, held, prim as i64);
        self.b.ins().band(same, that)
    }

    /// Whether `x` is a pointer object and `i` a SmallInt from 1 to its
    /// slot count (the header is read only for a reference).
    fn index_ok(&mut self, x: cl::Value, i: cl::Value) -> cl::Value {
        let lay = *self.env.layout;
        self.false_unless(
            |l| is_ref(l.b, &lay, x),
            |l| {
                let h = header(l.b, &lay, x);
                let (pointers, size) = pointer_header(l.b, &lay, h);
                let small = is_int(l.b, &lay, i);
                let n = untag(l.b, &lay, i);
                let low = l.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, n, 1);
                let high = l.b.ins().icmp(IntCC::SignedLessThanOrEqual, n, size);
                let ok = l.b.ins().band(low, high);
                let ok = l.b.ins().band(ok, pointers);
                l.b.ins().band(ok, small)
            },
        )
    }

    /// `x` plus the byte offset of word `i` (a SmallInt): slot `i`
    /// (1-based) is one word before `first_slot` from there.
    fn indexed_address(&mut self, x: cl::Value, i: cl::Value) -> cl::Value {
        let offset = index_bytes(self.b, self.env.layout, i);
        self.b.ins().iadd(x, offset)
    }
}
