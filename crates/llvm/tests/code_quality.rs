//! What LLVM's machine code for `fib:` must not do on every entry, found
//! with callgrind (instructions and simulated branches per fib call):
//! save callee-saved registers (a plain C call of a Float function made
//! each of fib's three entries per call push and pop five of them) and
//! dispatch on the entry number through a jump table (its one indirect
//! jump alternates between the start and the continuations and was
//! mispredicted about once per call). Cranelift's code does neither.
#![cfg(feature = "llvm")]

use lst_backends::optimizations::{Optimization, Optimizations};
use lst_llvm::LlvmJit;
use lst_vm::image::builder;
use lst_vm::jit_runtime::boundary::Compiler;
use lst_vm::jit_runtime::tiering::Level;

/// The assembly LLVM made for `Fib>>fib:` in an image built from lst's
/// sources.
fn fib_assembly() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let mut sources = builder::read_sources(std::path::Path::new(dir), "image").unwrap();
    sources.push(builder::Source {
        name: "test/fib.st".into(),
        text: "CLASS Fib Object
METHOD Fib
fib: n
\tn < 2 ifTrue: [ ^ n ].
\t^ (self fib: n - 1) + (self fib: n - 2)
!
"
        .into(),
    });
    let vm = builder::build(&sources, lst_vm::Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let (_, method) = vm
        .methods_of_globals()
        .into_iter()
        .find(|&(_, m)| vm.method_name(m) == "Fib>>fib:")
        .expect("Fib>>fib:");
    let mut jit = LlvmJit::new().expect("the LLVM JIT");
    // Without type feedback (`Facts::not_float` empty) the region pass
    // makes each of fib's SmallInt sends an unboxed Float region whose
    // guard always fails; its inline unboxing and boxing raise the
    // register pressure so that callee-saved registers are saved on every
    // entry (three pushes instead of one when measured). What this test
    // guards is fib's SmallInt code, so it is compiled without regions
    // (until feedback keeps them out of integer code).
    jit.optimizations = Optimizations::all().with(Optimization::Unbox, false);
    jit.keep_listing = true;
    jit.compile(&vm, method, 0, 1, Level::Optimized)
        .unwrap_or_else(|e| panic!("LLVM declined fib: {e}"));
    jit.listing.expect("a listing").assembly
}

#[test]
fn fib_saves_at_most_one_register_per_entry() {
    let asm = fib_assembly();
    let pushes = asm
        .lines()
        .filter(|l| l.trim_start().starts_with("push"))
        .count();
    // One push keeps the stack aligned for the Float functions' calls.
    assert!(pushes <= 1, "{pushes} pushes in:\n{asm}");
}

#[test]
fn fib_dispatches_its_entries_without_a_jump_table() {
    let asm = fib_assembly();
    assert!(!asm.contains(".LJTI"), "a jump table in:\n{asm}");
}
