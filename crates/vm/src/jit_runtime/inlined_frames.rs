//! Leaving compiled code inside inlined code: the inlined activations
//! become real frames, and the interpreter finishes them.
//!
//! At such an exit ([`InlinedExit`]) the code has spilled its own frame as
//! at the original (inlined) send and written the inlined activations'
//! values above it (see [`InlinedExit`] for the order).
//! [`Vm::materialize_inlined`] pushes one frame per level as a send would
//! (`push_frame`): the outermost returns to the native continuation after
//! the original send, each inner one to its caller's bytecode offset after
//! its inlined send. It fills their temporaries and operand stacks and
//! resumes the innermost in the interpreter at the start of the send it
//! stopped at, so the interpreter performs that send. From then on the
//! frames are ordinary: backtraces, `thisContext` and process switches see
//! them as if no send had been inlined.
//!
//! This module must not allocate on the heap (no collection may run while
//! the values are off the stack), decide what is inlined or generate code.

use super::boundary::{GO_INTERPRET, NATIVE_PC_BASE, NativeExit};
use super::unit_constants::{InlinedExit, UnitConstants};
use crate::interp::Trap;
use crate::interp::frame::HEADER;
use crate::value::Value;
use crate::vm::Vm;

impl Vm {
    /// Materializes the inlined frames of `exit` above frame `hp` (the
    /// unit's own) and makes the innermost the current frame, at the pc
    /// the interpreter goes on at (see the module doc).
    pub(crate) fn materialize_inlined(
        &mut self,
        hp: usize,
        unit: &UnitConstants,
        exit: &InlinedExit,
    ) -> Result<(), Trap> {
        let bad = |what: &str| Trap::Fatal(format!("bad inlined exit: {what}"));
        let base = self
            .stack
            .len()
            .checked_sub(exit.values())
            .filter(|&b| b >= hp + HEADER)
            .ok_or_else(|| bad("fewer values than its frames need"))?;
        // No heap allocation happens below, so these stay valid.
        let values: Vec<Value> = self.stack[base..].to_vec();
        self.stack.truncate(base);
        let mut caller = hp;
        let mut retpc = NATIVE_PC_BASE + exit.return_record as usize;
        self.enter_frame(hp, retpc)?;
        let mut rest = &values[..];
        for level in &exit.levels {
            let method = unit
                .constant(level.method)
                .ok_or_else(|| bad("method constant out of range"))?;
            let nvals = 1 + usize::from(level.argc);
            let temps = usize::from(level.temps);
            let (receiver_args, after) = rest.split_at(nvals);
            let (temp_values, after) = after.split_at(temps);
            let (operands, after) = after.split_at(usize::from(level.stack));
            rest = after;
            self.stack.extend(receiver_args.iter().copied());
            let parts = self.method_parts(method)?;
            if parts.temps != temps {
                return Err(bad("temporary count differs from the method's"));
            }
            self.push_checked_frame(method, parts, nvals, Some(caller), retpc, None)?;
            let tb = self.tb;
            self.stack[tb..tb + temps].copy_from_slice(temp_values);
            self.stack.extend(operands.iter().copied());
            caller = self.hp;
            retpc = level.pc as usize;
            self.pc = retpc;
        }
        if exit.levels.is_empty() {
            return Err(bad("no inlined frame"));
        }
        if let Some(t) = self.jit.as_mut() {
            t.stats.materializations += 1;
        }
        self.resume_frame(caller, retpc)
    }
}

/// Compiled code left at a send inside inlined code: materializes the
/// inlined frames of exit `exit` of `unit` above frame `hp` and leaves
/// native code, the interpreter going on in the innermost (see the module
/// doc).
///
/// # Safety
/// Called by compiled code only, with the Vm it was entered with and the
/// address of a [`UnitConstants`] its tier keeps alive.
pub unsafe extern "C" fn lst_inlined_exit(vm: *mut Vm, hp: u64, unit: u64, exit: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got
    // and holds no reference to it.
    let vm = unsafe { &mut *vm };
    // SAFETY: `unit` is the address of a boxed UnitConstants the tier owns
    // for as long as its code may run; only shared references to it exist
    // while code runs (its validity word is a Cell).
    let unit = unsafe { &*(unit as *const UnitConstants) };
    let Some(exit) = unit.exit(exit) else {
        return vm.exit_with(Trap::Fatal("unknown inlined exit".into()));
    };
    match vm.materialize_inlined(hp as usize, unit, exit) {
        Ok(()) => {
            vm.native_exit = NativeExit::Interpret;
            GO_INTERPRET
        }
        Err(t) => vm.exit_with(t),
    }
}
