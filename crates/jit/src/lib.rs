//! lst-jit: the JIT's front end.
//!
//! [`ir`] defines a small SSA IR between LST bytecode and the back ends:
//! values are SSA, blocks take parameters (no phis), and Smalltalk
//! semantics are spelled out (tag tests, overflow checks, the fallback
//! sends) so that every back end and tier reuses one lowering. [`translate`]
//! turns a method's (or a block body's) bytecode into IR; [`semantic`]
//! expands sends with inline fast paths into guarded low-level IR (and,
//! before that at the optimizing level, [`semantic::region`] turns Float
//! expression trees into guarded regions on unboxed doubles);
//! [`inline`] inlines monomorphic sends (before those, at the optimizing
//! level); [`stress`] makes guards fail now and then (`--jit-deopt-stress`,
//! for tests); [`verify`] checks IR; [`fold`] simplifies it; [`print`] and [`parse`] turn it into text
//! and back, for tests and for `lst disasm --jit`.
//!
//! The back end (Cranelift, continuation-passing, on the VM stack) is not
//! here yet.

pub mod fold;
pub mod inline;
pub mod ir;
pub mod parse;
pub mod print;
pub mod semantic;
pub mod stress;
pub mod translate;
pub mod verify;
