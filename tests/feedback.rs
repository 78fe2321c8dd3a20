//! Type feedback recorded by compiled code (issue 20, item 1): the send
//! stub's slow path (`lst_send_site`) records receiver classes and the
//! blocks `value…` sends activate, in baseline and Cranelift code, plain
//! and under GC stress; with a threshold, what the interpreter saw before
//! the method was compiled is kept. The interpreter's own recording is
//! `crates/vm/tests/feedback.rs`.

mod support;

use lst_backends::CraneliftJit;
use lst_vm::Vm;
use lst_vm::feedback::BlockTarget;
use lst_vm::jit_runtime::tiering::{JitMode, Level, Tiering};
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use lst_vm::value::Value;

const HERE: Origin = Origin {
    label: "test",
    first_line: 1,
};

/// lst's own image with the test methods, compiled by `level` code in
/// `mode` (threshold 2).
fn jit_vm(level: Level, mode: JitMode, gc_stress: bool) -> Vm {
    let mut vm = support::own_image_with(
        gc_stress,
        &[
            "fbSend: x\n\t^ x fbTag",
            "fbTag\n\t^ 1",
            "fbMul: a with: b\n\t^ a * b",
            "fbAdd: a with: b\n\t^ a + b",
            "fbDo: aBlock\n\t^ aBlock value: 3",
            "fbOne\n\t^ self fbDo: [:x | x + 1]",
        ],
    );
    let tiering = Tiering {
        first: level,
        optimize_after: None,
    };
    vm.set_jit(Box::new(CraneliftJit::new().unwrap()), mode, 2, tiering);
    vm
}

fn run(vm: &mut Vm, src: &str) {
    match vm.evaluate(src, HERE).unwrap() {
        Evaluation::Value(_) => {}
        other => panic!("{src}: {other:?}"),
    }
}

fn method_of(vm: &mut Vm, selector: &str) -> Value {
    support::method_of_object(vm, selector)
}

/// The levels the host compiles at (the baseline is x86-64 only).
fn levels() -> Vec<Level> {
    if cfg!(target_arch = "x86_64") {
        vec![Level::Baseline, Level::Optimized]
    } else {
        vec![Level::Optimized]
    }
}

#[test]
fn compiled_send_sites_record_receiver_classes_and_blocks() {
    for level in levels() {
        for gc_stress in [false, true] {
            let mut vm = jit_vm(level, JitMode::Always, gc_stress);
            run(
                &mut vm,
                "nil fbSend: 3. nil fbSend: 'a'. nil fbSend: #(1). nil fbSend: nil. nil fbSend: true. nil fbOne",
            );
            let compiled = vm.jit_stats().unwrap().compiled;
            assert!(compiled >= 2, "{level:?}: {compiled} compiled");
            vm.collect_garbage(0).unwrap();
            let send = method_of(&mut vm, "fbSend:");
            let text = vm.describe_feedback(send);
            assert!(
                text.contains("SmallInt String Array Undefined megamorphic"),
                "{level:?} {gc_stress}: {text}"
            );
            let fb = vm.send_feedback(send);
            assert_eq!(fb.sites.len(), 1, "{fb:?}");
            let one = method_of(&mut vm, "fbOne");
            let do_method = method_of(&mut vm, "fbDo:");
            let blocks = vm.send_feedback(do_method).blocks;
            assert!(
                matches!(blocks[..], [ref b] if matches!(b.target, BlockTarget::One { method, .. } if method == one)),
                "{level:?} {gc_stress}: {blocks:?}"
            );
        }
    }
}

#[test]
fn what_the_interpreter_saw_before_compiling_stays() {
    for level in levels() {
        let mut vm = jit_vm(level, JitMode::On, false);
        run(
            &mut vm,
            "1 to: 20 do: [:i | nil fbMul: 2.5 with: 1.5. nil fbAdd: i with: 4]",
        );
        assert!(vm.jit_stats().unwrap().compiled >= 2);
        let mul = method_of(&mut vm, "fbMul:with:");
        let add = method_of(&mut vm, "fbAdd:with:");
        assert!(vm.describe_feedback(mul).contains("Float"));
        assert!(vm.not_float_sites(mul).is_empty());
        let add_sites = vm.send_feedback(add).sites;
        assert_eq!(vm.not_float_sites(add), vec![add_sites[0].pc]);
    }
}
