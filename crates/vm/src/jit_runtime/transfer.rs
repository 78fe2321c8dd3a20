//! Moving control between the interpreter and compiled code, in both
//! directions.
//!
//! The interpreter meets a native continuation as its pc and calls
//! `Vm::run_native`, which enters the code through the compiler's
//! trampoline. A runtime helper that ran interpreter code answers compiled
//! code with where to go next: `Vm::transfer` (a code address to
//! tail-call, or leave native code), `Vm::exit_with` (leave with a
//! trap). Resume points are read back as bytecode offsets
//! (`Vm::bytecode_pc`).
//!
//! This module must not decide what is compiled (`tiering`) nor run
//! Smalltalk itself; it only hands control over.

use super::boundary::{GO_INTERPRET, NATIVE_PC_BASE, NativeExit, Record, Resume};
use crate::interp::{Flow, Trap};
use crate::value::Value;
use crate::vm::Vm;

impl Vm {
    /// The bytecode offset a resume point stands for.
    pub(crate) fn bytecode_pc(&self, pc: usize) -> usize {
        if pc < NATIVE_PC_BASE {
            return pc;
        }
        self.native_record(pc).map_or(0, |r| r.pc as usize)
    }

    /// The record a native continuation `pc` names (`None` for a bytecode
    /// offset or an unknown record).
    pub(super) fn native_record(&self, pc: usize) -> Option<Record> {
        let index = pc.checked_sub(NATIVE_PC_BASE)?;
        self.jit.as_ref()?.records.get(index).copied()
    }

    /// Runs compiled code at the native continuation `pc` of the current
    /// frame, until it leaves native code.
    #[cold]
    pub(crate) fn run_native(&mut self, pc: usize) -> Result<Flow, Trap> {
        let (Some(record), Some(t)) = (self.native_record(pc), self.jit.as_mut()) else {
            return Err(Trap::Fatal(format!("bad native resume point {pc}")));
        };
        t.stats.entries_from_interpreter += 1;
        let trampoline = t.compiler.trampoline();
        let value = self.resume_value(&record);
        let vm: *mut Vm = self;
        // SAFETY: the trampoline and `record.code` were made by the installed
        // compiler with this signature; compiled code touches the Vm only
        // through `vm` and the helpers, while no Rust borrow of it is live.
        unsafe {
            trampoline(
                vm,
                record.code,
                self.hp as u64,
                value.raw(),
                record.k as u64,
            )
        };
        if let Some(t) = self.jit.as_mut() {
            t.stats.exits_to_interpreter += 1;
        }
        match std::mem::take(&mut self.native_exit) {
            NativeExit::Interpret => Ok(Flow::Continue),
            NativeExit::Trap(t) => Err(t),
            NativeExit::Exit(s) => Ok(Flow::Exit(s)),
        }
    }

    /// The value compiled code is entered with at `record`: a send's
    /// answer is popped from the operand stack.
    pub(super) fn resume_value(&mut self, record: &Record) -> Value {
        if record.resume == Resume::AfterSend as u32 {
            self.stack.pop().unwrap_or_default()
        } else {
            self.nil()
        }
    }

    /// After the interpreter's code moved control to another frame: where
    /// compiled code goes next (see the module doc).
    pub(super) fn transfer(&mut self) -> u64 {
        if self.pc < NATIVE_PC_BASE {
            self.native_exit = NativeExit::Interpret;
            return GO_INTERPRET;
        }
        let Some(record) = self.native_record(self.pc) else {
            self.native_exit = NativeExit::Trap(Trap::Fatal("bad native resume point".into()));
            return GO_INTERPRET;
        };
        let value = self.resume_value(&record);
        self.native_regs.hp = self.hp as u64;
        self.native_regs.value = value;
        self.native_regs.k = record.k as u64;
        record.code as u64
    }

    /// Leaves native code with `trap` (the frame state is written).
    pub(super) fn exit_with(&mut self, trap: Trap) -> u64 {
        self.native_exit = NativeExit::Trap(trap);
        GO_INTERPRET
    }

    /// The result of interpreter code that may have moved control.
    pub(super) fn after_flow(&mut self, flow: Result<Flow, Trap>) -> u64 {
        match flow {
            Ok(Flow::Continue) => self.transfer(),
            Ok(Flow::Exit(s)) => {
                self.native_exit = NativeExit::Exit(s);
                GO_INTERPRET
            }
            Err(t) => self.exit_with(t),
        }
    }
}
