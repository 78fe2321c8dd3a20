//! The shared exits: a compiled function that leaves native code through
//! a runtime helper that answers what the trampoline should return (the
//! arity guard's `lst_deopt`, a failed check's `lst_trap`) tail-calls
//! one of these functions instead of calling the helper itself. The
//! function calls the helper and returns its answer to the trampoline.
//!
//! So the compiled function makes no call on those paths: a call
//! clobbers the caller-saved registers, which makes register allocation
//! slower and the function's hot paths keep values in callee-saved
//! registers (saved and restored at every entry). Every method has an
//! arity guard, so every method used to have such a call.
//!
//! This module builds code only; it must not decide when to exit.

use crate::helpers::Id;
use crate::send_stub::entry;
use cranelift_codegen::ir::{FuncRef, InstBuilder};
use cranelift_frontend::FunctionBuilder;

/// The shared exits, in the order of [`crate::lower::Env::exits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `lst_deopt(vm, hp, pc)`: interpret the frame from bytecode `pc`.
    Deopt,
    /// `lst_trap(vm, hp, pc, what)`: a failed check at bytecode `pc`.
    Trap,
}

impl Exit {
    pub const ALL: [Exit; 2] = [Exit::Deopt, Exit::Trap];

    /// The stub's name in code memory (perf maps, listings).
    pub fn name(self) -> &'static str {
        match self {
            Exit::Deopt => "lst_exit_deopt",
            Exit::Trap => "lst_exit_trap",
        }
    }

    /// The runtime helper the exit calls.
    pub fn helper(self) -> Id {
        match self {
            Exit::Deopt => Id::lst_deopt,
            Exit::Trap => Id::lst_trap,
        }
    }
}

/// Builds an exit's body into `b` (whose signature is the tail one):
/// a call of `helper` (imported into `b`) with as many of the stub's
/// parameters as it takes, in order.
pub fn build(b: &mut FunctionBuilder, helper: FuncRef) {
    let (vm, hp, a, c) = entry(b);
    let args = [vm, hp, a, c];
    let signature = b.func.dfg.ext_funcs[helper].signature;
    let arguments = b.func.dfg.signatures[signature].params.len();
    let call = b.ins().call(helper, &args[..arguments]);
    let r = b.inst_results(call)[0];
    b.ins().return_(&[r]);
    b.seal_all_blocks();
}
