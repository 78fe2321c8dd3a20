//! lst-cranelift: the JIT's back ends.
//!
//! [`lower`] turns the front end's IR (`lst-jit`) into a Cranelift function
//! in continuation-passing style on the VM stack; [`baseline`] turns the
//! same IR into x86-64 machine code straight from templates, much faster to
//! compile, for the first tier; [`entries`] holds what both must agree on
//! with the runtime (entries, send sites); [`helpers`] lists the runtime
//! functions compiled code calls, with signatures derived from their Rust
//! types; [`send_stub`] is the one shared function every compiled send goes
//! through (inline caches, frame push); [`return_stub`] the one every
//! compiled `^` goes through; [`float_stub`] holds the shared Float
//! operations; [`exit_stub`] the shared exits through a helper (deopt,
//! trap); [`clif_kit`] is the CLIF helper kit the lowering and the stubs
//! share (tag, headers, branches, continuations); [`jit`] owns code memory, the entry trampoline and the compile
//! driver, and implements the VM's `Compiler` trait at both levels.

pub mod baseline;
pub mod clif_kit;
pub mod entries;
pub mod exit_stub;
pub mod float_stub;
pub mod helpers;
pub mod jit;
pub mod lower;
pub mod return_stub;
pub mod send_stub;

pub use jit::CraneliftJit;
