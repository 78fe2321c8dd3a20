//! The baseline's templates for the IR's object operations (`class_of`,
//! `site_prim`, `index_ok`, `load_slot`, `store_ref`, `size_of`,
//! `new_slots`): each reads its operands from their slots and writes its
//! results (a bool as 0 or 1) back. Which sends take these paths, and
//! under which guard, is the semantic lowering's decision
//! (`lst_jit::semantic`). [`Emitter::store_ref`] is the baseline's one
//! store of a reference into the heap: instance variables and heap
//! temporaries go through it too (the hook of a future write barrier).

// `dynasm!` turns a dynamic register `Rq(r)` into `r.into()`.
#![allow(clippy::useless_conversion)]

use super::{Emitter, R8, R9, R10, RAX, RCX, RDX};
use crate::clif_kit::WORD_BYTES;
use crate::entries::site_at;
use crate::lower::LowerError;
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::inline_cache::{SendSite, prim_word};

impl Emitter<'_> {
    /// Emits `data` if it is an object operation; answers whether it was.
    pub(super) fn object_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let r = |i: usize| data.results[i];
        let bits = self.lay.tag_bits as i8;
        // Slot i (1-based) is one word before the first slot.
        let slot = self.lay.first_slot - WORD_BYTES;
        match data.inst {
            Inst::ClassOf(a) => {
                self.load(RAX, a)?;
                self.class_of_rax();
                self.store(r(0), RAX);
            }
            Inst::SitePrim { op, class, send } => {
                let site = site_at(self.f, self.env.sites, send)? as *const SendSite as i64;
                self.load(RAX, class)?;
                let s = self.lay.site;
                let (want, held) = (s.prim_class, s.prim);
                let done = self.ops.new_dynamic_label();
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; mov r8, QWORD site
                    ; cmp rax, QWORD [r8 + want]
                    ; jne =>done
                    ; mov rcx, QWORD prim_word(op) as i64
                    ; cmp rcx, QWORD [r8 + held]
                    ; sete dl
                    ; =>done
                );
                self.store(r(0), RDX);
                self.bool_in_rdx = Some(r(0));
            }
            Inst::IndexOk(a, i) => {
                self.load(R9, a)?;
                self.load(RCX, i)?;
                self.index_ok();
                self.store(r(0), RDX);
                self.bool_in_rdx = Some(r(0));
            }
            Inst::LoadSlot(a, i) => {
                self.load(RAX, a)?;
                self.load(RCX, i)?;
                dynasm!(self.ops
                    ; .arch x64
                    ; sar rcx, bits
                    ; mov rax, QWORD [rax + rcx * 8 + slot]
                );
                self.store(r(0), RAX);
            }
            Inst::StoreRef {
                object,
                index,
                value,
            } => {
                self.load(RAX, object)?;
                self.load(RCX, index)?;
                self.load(RDX, value)?;
                dynasm!(self.ops ; .arch x64 ; sar rcx, bits);
                self.store_ref(RAX, Some(RCX), slot, RDX);
            }
            Inst::SizeOf(a) => {
                self.load(R9, a)?;
                self.load_size();
                let tag = self.lay.smallint_tag as i8;
                dynasm!(self.ops
                    ; .arch x64
                    ; shl r10, bits
                    ; or r10, BYTE tag
                );
                self.store(r(0), R10);
            }
            Inst::NewSlots(class, size) => {
                self.new_slots(class, size)?;
                self.store(r(0), RAX);
                self.store(r(1), RDX);
                self.bool_in_rdx = Some(r(1));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `[base + index·8 + disp]` := `value` (registers): a reference
    /// stored into the heap. Every such store of baseline code is this.
    pub(super) fn store_ref(&mut self, base: u8, index: Option<u8>, disp: i32, value: u8) {
        match index {
            Some(i) => dynasm!(self.ops
                ; .arch x64
                ; mov QWORD [Rq(base) + Rq(i) * 8 + disp], Rq(value)
            ),
            None => dynasm!(self.ops ; .arch x64 ; mov QWORD [Rq(base) + disp], Rq(value)),
        }
    }

    /// rax := the class of the value in rax (SmallInt's for a SmallInt).
    fn class_of_rax(&mut self) {
        let (mask, class, smallint) = (
            self.lay.tag_mask as i8,
            self.lay.class_word,
            self.lay.smallint_class,
        );
        let (object, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
        dynasm!(self.ops
            ; .arch x64
            ; test al, mask
            ; jz =>object
            ; mov rax, QWORD [rdi + smallint]
            ; jmp =>done
            ; =>object
            ; mov rax, QWORD [rax + class]
            ; =>done
        );
    }

    /// rdx := 1 if r9 is a pointer object and rcx a SmallInt from 1 to its
    /// slot count, else 0 (clobbers rcx, r8, r10).
    fn index_ok(&mut self) {
        let (mask, bits) = (self.lay.tag_mask as i8, self.lay.tag_bits as i8);
        let bytes = self.lay.bytes_flag as i64;
        let done = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; xor edx, edx
            ; test r9b, mask
            ; jnz =>done
            ; test cl, mask
            ; jz =>done
        );
        self.load_header(false);
        dynasm!(self.ops
            ; .arch x64
            ; mov r8, QWORD bytes
            ; test r10, r8
            ; jnz =>done
        );
        self.size_of_header();
        dynasm!(self.ops
            ; .arch x64
            ; sar rcx, bits
            ; cmp rcx, 1
            ; jl =>done
            ; cmp rcx, r10
            ; jg =>done
            ; mov edx, 1
            ; =>done
        );
    }

    /// rax := a new object of class `class` with `size` nil slots, made
    /// without a collection by the shared `new:` function
    /// ([`crate::new_slots_stub`]: the bump allocation, then the
    /// runtime), or 0; rdx := 1 when it is 0.
    fn new_slots(
        &mut self,
        class: lst_jit::ir::Value,
        size: lst_jit::ir::Value,
    ) -> Result<(), LowerError> {
        let address = self.env.targets.new_slots;
        if address == 0 {
            return Err(LowerError("no shared new: function".into()));
        }
        // Its parameters are (vm, class, size): rsi holds the class for
        // the call, and is the frame again after it.
        self.load(RDX, size)?;
        self.load(R8, class)?;
        dynasm!(self.ops
            ; .arch x64
            ; mov rsi, r8
            ; mov rax, QWORD address as i64
            ; call rax
        );
        self.restore_vm_hp();
        dynasm!(self.ops
            ; .arch x64
            ; xor edx, edx
            ; test rax, rax
            ; sete dl
        );
        Ok(())
    }
}
