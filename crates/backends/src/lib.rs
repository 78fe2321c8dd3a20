//! lst-backends: the JIT's two machine-code back ends and what they share.
//!
//! Both take the front end's IR (`lst-jit`) and produce code in
//! continuation-passing style on the VM stack:
//! - [`baseline`]: x86-64 straight from one template per IR instruction,
//!   fast to compile, for the first tier;
//! - [`lower`]: the IR lowered to Cranelift, for hot code (with
//!   [`clif_kit`], the CLIF helper kit the lowering and the stubs share:
//!   tag, headers, branches, continuations).
//!
//! Shared by both: [`entries`] (what both must agree on with the runtime:
//! entries, send sites); [`helpers`] (the runtime functions compiled code
//! calls, with signatures derived from their Rust types); the Cranelift-made
//! stubs every compiled unit tail-calls: [`send_stub`] (inline caches,
//! frame push), [`return_stub`] (every compiled `^`), [`float_stub`] (the
//! shared Float operations) and [`exit_stub`] (exits through a helper:
//! deopt, trap); and [`jit`], which owns code memory, the entry trampoline
//! and the compile driver, and implements the VM's `Compiler` trait at both
//! levels, with [`optimizations`], the table of the optimizations a user
//! can switch off by name. (The LLVM back end, when it comes, is a crate of its own behind
//! a cargo feature.)

pub mod alloc_kit;
pub mod baseline;
pub mod clif_kit;
pub mod entries;
pub mod exit_stub;
pub mod float_kit;
pub mod float_stub;
pub mod helpers;
pub mod inlining;
pub mod jit;
pub mod lower;
pub mod new_slots_stub;
pub mod optimizations;
pub mod pass_log;
pub mod return_stub;
pub mod send_stub;

pub use jit::CraneliftJit;
