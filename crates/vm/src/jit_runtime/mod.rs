//! The JIT's runtime half: the VM's side of the boundary with compiled
//! code (the compilers live in `lst-jit` and `lst-backends`, which
//! implement [`boundary::Compiler`]).
//!
//! # One frame, two executors
//! Compiled methods run on the interpreter's frames (`interp::frame`). A
//! frame's resume point is a bytecode offset or a *native continuation*: an
//! index into the tier's records offset by [`boundary::NATIVE_PC_BASE`],
//! stored wherever a bytecode offset goes (`Vm::pc`, a callee's `RETPC`).
//! Each [`boundary::Record`] holds the code to call and the bytecode offset
//! it stands for, so a frame paused at a native continuation can always be
//! read (or resumed) as an interpreted one: by the collector (all slots are
//! `Value`s), by `spill_process`, by backtraces.
//!
//! # Control transfer
//! * The interpreter meets a native continuation as its pc (after a send
//!   pushed a compiled method, or a return into a compiled caller) and calls
//!   `Vm::run_native` ([`transfer`]), which enters the code through the
//!   JIT's trampoline.
//! * Compiled code leaves through the runtime [`helpers`], which reuse the
//!   interpreter's own send, return, primitive and block code, so semantics
//!   are the interpreter's by construction. A helper answers
//!   [`boundary::GO_INTERPRET`] (leave native code:
//!   [`boundary::NativeExit`] says why), [`boundary::GO_ON`] (continue
//!   after the call, its value in `NativeRegs::value`) or a code address to
//!   tail-call with (`NativeRegs::hp`, `value`, `k`).
//!
//! Compiled code never holds a heap reference across a helper call: it
//! writes its operand stack into the frame before any call that may
//! collect and reads it back after.
//!
//! # Rooms
//! * [`boundary`]: what compiled code and the VM agree on (records,
//!   registers, helper answers, [`boundary::Layout`], the compiler
//!   interface);
//! * [`tiering`]: when and at which level units are compiled, tier-up and
//!   on-stack replacement, the tier's state and statistics;
//! * [`background`]: the compile worker that generates optimized code
//!   while the program goes on in baseline code;
//! * [`transfer`]: entering compiled code and leaving it;
//! * [`helpers`]: the `lst_*` functions compiled code calls;
//! * [`inline_cache`], [`block_cache`]: the send sites' caches and the
//!   table of compiled block bodies that compiled code reads;
//! * [`unit_constants`], [`inlined_frames`]: what an optimized unit that
//!   inlined sends keeps (constants, validity word, exits) and the exit
//!   that turns its inlined activations into real frames;
//! * [`quick`], [`inline_ops`] (with its readers [`int_ops`],
//!   [`float_ops`]): what compiled code may answer inline instead of
//!   sending, and the words that say it still may.
//!
//! Nothing here generates code.

pub mod background;
pub mod block_cache;
pub mod boundary;
pub mod float_ops;
pub mod helpers;
pub mod inline_cache;
pub mod inline_ops;
pub mod inlined_frames;
pub mod int_ops;
pub mod quick;
pub mod tiering;
pub mod transfer;
pub mod unit_constants;
