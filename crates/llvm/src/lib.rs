//! lst-llvm: the JIT's LLVM back end, behind the cargo feature `llvm`:
//! [`unit`] reads a method into the JIT IR, [`select`] selects the IR into
//! LLVM IR op by op, and [`jit`] optimizes and compiles it with MCJIT and
//! implements the VM's `Compiler`. Reading the unit and preparing its send
//! sites happen on the main thread; selection, LLVM's passes and machine
//! code need only what that made (addresses, no heap reference), so a
//! tier-up's run on the compile worker, in an LLVM context of the
//! worker's own (see [`jit`]).
//!
//! # The calling convention (tested in `tests/tail_convention.rs`)
//!
//! LLVM's `tailcc` and Cranelift's `CallConv::Tail` agree on x86-64 for
//! the compiled-function signature `fn(vm, hp, value, k) -> u64`: four
//! words in rdi, rsi, rdx, rcx and the answer in rax. LLVM code
//! `musttail`-calls Cranelift tail code through its address, and Cranelift
//! code `return_call_indirect`s LLVM code, a million times each way on a
//! 64 KiB stack without growing it, entered from a SystemV trampoline, with
//! a Rust helper called on every LLVM step (so the stack stays aligned).
//! So LLVM functions use `tailcc` with every call to a continuation or stub
//! marked `musttail`, and need no adapter: they share the Cranelift-made
//! stubs and trampoline of `lst-backends`.

#[cfg(feature = "llvm")]
pub mod jit;
#[cfg(feature = "llvm")]
pub mod select;
#[cfg(feature = "llvm")]
pub mod unit;

#[cfg(feature = "llvm")]
pub use jit::LlvmJit;
