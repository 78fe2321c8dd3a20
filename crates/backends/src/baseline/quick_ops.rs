//! The baseline's templates for the IR's quick-method operations
//! (`quick_way`, `quick_constant`, `quick_get`, `quick_set`), which read
//! the first method way of their send's site. Which sends take them is
//! the semantic lowering's decision (`lst_jit::semantic`). The setter's
//! store is [`Emitter::store_ref`].

// `dynasm!` turns a dynamic register `Rq(r)` into `r.into()`.
#![allow(clippy::useless_conversion)]

use super::{Emitter, R9, RAX, RDX};
use crate::entries::quick_code;
use crate::entries::site_at;
use crate::lower::LowerError;
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};
use lst_jit::ir::{Inst, InstData};
use lst_vm::jit_runtime::inline_cache::SendSite;

impl Emitter<'_> {
    /// Emits `data` if it is a quick-method operation; answers whether it
    /// was.
    pub(super) fn quick_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let r = |i: usize| data.results[i];
        let s = self.lay.site;
        let (quick, class, operand) = (s.ways + s.quick, s.ways + s.class, s.ways + s.operand);
        match data.inst {
            Inst::QuickWay { kind, object, send } => {
                let site = self.site_address(send)?;
                self.load(RAX, object)?;
                let (mask, class_word) = (self.lay.tag_mask as i8, self.lay.class_word);
                let code = quick_code(kind) as i32;
                let done = self.ops.new_dynamic_label();
                dynasm!(self.ops
                    ; .arch x64
                    ; xor edx, edx
                    ; mov r8, QWORD site
                    ; cmp QWORD [r8 + quick], code
                    ; jne =>done
                    ; test al, mask
                    ; jnz =>done
                    ; mov rcx, QWORD [rax + class_word]
                    ; cmp rcx, QWORD [r8 + class]
                    ; sete dl
                    ; =>done
                );
                self.store(r(0), RDX);
                self.bool_in_rdx = Some(r(0));
            }
            Inst::QuickConstant { send } => {
                let site = self.site_address(send)?;
                dynasm!(self.ops
                    ; .arch x64
                    ; mov r8, QWORD site
                    ; mov rax, QWORD [r8 + operand]
                );
                self.store(r(0), RAX);
            }
            Inst::QuickGet { object, send } => {
                self.quick_slot(send, object, None)?;
                self.store(r(0), RAX);
                self.store(r(1), RDX);
                self.bool_in_rdx = Some(r(1));
            }
            Inst::QuickSet {
                object,
                value,
                send,
            } => {
                self.quick_slot(send, object, Some(value))?;
                self.store(r(0), RDX);
                self.bool_in_rdx = Some(r(0));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The address of the site of the send at `pc`.
    fn site_address(&self, pc: u16) -> Result<i64, LowerError> {
        Ok(site_at(self.f, self.env.sites, pc)? as *const SendSite as i64)
    }

    /// Reads into rax (`value` None) or writes `value` to the instance
    /// variable of reference `object` that the first way of the site of
    /// the send at `pc` names; rdx := 1 (failed, nothing done) unless the
    /// object is a pointer object with that slot, else 0.
    fn quick_slot(
        &mut self,
        pc: u16,
        object: lst_jit::ir::Value,
        value: Option<lst_jit::ir::Value>,
    ) -> Result<(), LowerError> {
        let site = self.site_address(pc)?;
        let s = self.lay.site;
        let operand = s.ways + s.operand;
        let bytes = self.lay.bytes_flag as i64;
        let first = self.lay.first_slot;
        if let Some(v) = value {
            self.load(RAX, v)?;
        }
        self.load(R9, object)?;
        let done = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; mov edx, 1
            ; mov rcx, QWORD site
            ; mov rcx, QWORD [rcx + operand]
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
            ; cmp rcx, r10
            ; jae =>done
            ; xor edx, edx
        );
        match value {
            None => dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [r9 + rcx * 8 + first]),
            Some(_) => self.store_ref(R9, Some(super::RCX), first, RAX),
        }
        dynasm!(self.ops ; .arch x64 ; =>done);
        Ok(())
    }
}
