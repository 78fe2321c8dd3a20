//! Both code generators take every method and block body of lst's own
//! image and of LLST's two images: the baseline compiles everything the
//! Cranelift lowering compiles (so tiered compiling never leaves a method
//! interpreted that Cranelift alone would compile), and ours compiles
//! completely with both.
//!
//! That the code runs as the interpreter does is `tests/jit_differential.rs`'s
//! work; this test reaches methods no program calls.

use lst_backends::CraneliftJit;
use lst_jit::translate::block_bodies;
use lst_vm::image::builder;
use lst_vm::jit_runtime::boundary::Compiler;
use lst_vm::jit_runtime::tiering::Level;
use lst_vm::layout::method;
use lst_vm::{Options, Vm};

/// What each compiler did with the units of `vm`'s methods.
#[derive(Default, Debug)]
struct Tally {
    units: usize,
    cranelift: usize,
    baseline: usize,
    /// Units Cranelift compiles and the baseline declines, with why.
    baseline_only_declined: Vec<String>,
}

fn compile_all(vm: &Vm) -> Tally {
    let mut jit = CraneliftJit::new().expect("a JIT");
    let mut t = Tally::default();
    for (_, m) in vm.methods_of_globals() {
        let code = vm.heap.get(m, method::BYTECODES).unwrap_or(m);
        if !code.is_ref() || !vm.heap.is_bytes(code) {
            continue;
        }
        let bodies = block_bodies(vm.heap.bytes(code));
        let starts = std::iter::once(0).chain(bodies.into_iter().map(|(start, _)| start));
        for start in starts {
            t.units += 1;
            let optimized = jit.compile(vm, m, start, 1, Level::Optimized).is_ok();
            let baseline = jit.compile(vm, m, start, 1, Level::Baseline);
            t.cranelift += usize::from(optimized);
            t.baseline += usize::from(baseline.is_ok());
            if let (true, Err(why)) = (optimized, baseline) {
                let name = vm.method_name(m);
                t.baseline_only_declined
                    .push(format!("{name} at {start}: {why}"));
            }
        }
    }
    t
}

/// LLST's image `name`, or `None` when it is not there (`lst_test_images`).
fn llst(name: &str) -> Option<Vm> {
    let bytes = lst_test_images::read(name)?;
    Some(Vm::from_llst_image(&bytes, Options::default()).unwrap())
}

#[test]
fn our_image_compiles_completely_with_both() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = builder::read_sources(std::path::Path::new(dir), "image").unwrap();
    let vm = builder::build(&sources, Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = compile_all(&vm);
    assert!(t.units > 1000, "{t:?}");
    assert_eq!(t.cranelift, t.units, "{t:?}");
    assert_eq!(t.baseline, t.units, "{t:?}");
}

#[test]
fn the_baseline_compiles_what_cranelift_compiles_in_llst_images() {
    for image in ["DecodeAllMethods.image", "VMPrimitives.image"] {
        let Some(vm) = llst(image) else { continue };
        let t = compile_all(&vm);
        eprintln!(
            "{image}: {} units, Cranelift {}, baseline {}",
            t.units, t.cranelift, t.baseline
        );
        assert!(t.cranelift * 50 > t.units * 49, "{image}: {t:?}");
        assert!(
            t.baseline_only_declined.is_empty(),
            "{image}: {}",
            t.baseline_only_declined.join("\n")
        );
    }
}
