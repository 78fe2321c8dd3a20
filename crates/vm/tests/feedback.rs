//! Type feedback (issue 20, item 1), recorded by the interpreter: receiver
//! classes per send site (monomorphic, megamorphic, Float or not), block
//! activation sites, surviving collections (also under GC stress), and
//! kept apart from a redefined method. Compiled code's recording is
//! `tests/feedback.rs` at the workspace root (the JIT is not this crate's).

mod common;
use common::{HERE, eval};
use lst_bytecode::{Op, decode_at};
use lst_vm::feedback::{BlockTarget, MethodFeedback};
use lst_vm::image::builder;
use lst_vm::layout::method;
use lst_vm::value::Value;
use lst_vm::{Options, Vm};

/// A VM on lst's own image (`image/`), with the test methods installed.
fn vm_with(options: Options) -> Vm {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = builder::read_sources(std::path::Path::new(dir), "image").unwrap();
    let mut vm = builder::build(&sources, options).unwrap_or_else(|e| panic!("{e}"));
    vm.set_output(Box::new(std::io::sink()));
    for source in [
        "fbSend: x\n\t^ x fbTag",
        "fbTag\n\t^ 1",
        "fbMul: a with: b\n\t^ a * b",
        "fbAdd: a with: b\n\t^ a + b",
        "fbDo: aBlock\n\t^ aBlock value: 3",
        "fbOne\n\t^ self fbDo: [:x | x + 1]",
        "fbTwo\n\t^ self fbDo: [:x | x - 1]",
    ] {
        // Read again each time: compiling may collect (GC stress).
        let object = vm.global("Object").unwrap();
        vm.compile_into(object, source, HERE)
            .unwrap_or_else(|e| panic!("{source}: {e:?}"));
    }
    vm
}

fn vm() -> Vm {
    vm_with(Options {
        gc_stress: false,
        ..Options::default()
    })
}

/// `Object>>selector` (looked up now: methods move).
fn method_of(vm: &mut Vm, selector: &str) -> Value {
    let object = vm.global("Object").unwrap();
    let symbol = vm.find_symbol(selector.as_bytes()).unwrap();
    vm.lookup_method(symbol, object).unwrap()
}

fn run(vm: &mut Vm, src: &str) {
    let answer = eval(vm, src);
    assert_ne!(answer, "failed", "{src}");
}

/// The offsets just after each send instruction of `m`'s bytecode.
fn send_ends(vm: &Vm, m: Value) -> Vec<u16> {
    let code = vm.heap.get(m, method::BYTECODES).unwrap();
    let bytes = vm.heap.bytes(code);
    let mut pc = 0;
    let mut ends = vec![];
    while pc < bytes.len() {
        let insn = decode_at(bytes, pc).unwrap();
        pc += insn.len as usize;
        if matches!(insn.op, Op::SendMessage | Op::SendBinary | Op::SendUnary) {
            ends.push(pc as u16);
        }
    }
    ends
}

/// The feedback of `Object>>selector`, checking that every site is
/// numbered by the offset after a send.
fn feedback(vm: &mut Vm, selector: &str) -> MethodFeedback {
    let m = method_of(vm, selector);
    let fb = vm.send_feedback(m);
    let ends = send_ends(vm, m);
    for s in &fb.sites {
        assert!(
            ends.contains(&s.pc),
            "{selector}: site @{} not after a send {ends:?}",
            s.pc
        );
    }
    fb
}

fn class_names(vm: &Vm, classes: &[Value]) -> Vec<String> {
    classes.iter().map(|&c| vm.class_name(c)).collect()
}

#[test]
fn a_monomorphic_site_has_exactly_its_class() {
    let mut vm = vm();
    run(&mut vm, "1 to: 3 do: [:i | nil fbSend: i]");
    let fb = feedback(&mut vm, "fbSend:");
    assert_eq!(fb.sites.len(), 1, "{fb:?}");
    let site = &fb.sites[0];
    assert_eq!(class_names(&vm, &site.classes), ["SmallInt"]);
    assert!(!site.megamorphic);
    assert!(site.count >= 1);
    let m = method_of(&mut vm, "fbSend:");
    assert_eq!(vm.not_float_sites(m), vec![site.pc]);
}

fn five_classes(vm: &mut Vm) {
    run(
        vm,
        "nil fbSend: 3. nil fbSend: 'a'. nil fbSend: #(1). nil fbSend: nil. nil fbSend: true. nil fbSend: $a",
    );
}

#[test]
fn a_site_sent_to_five_classes_is_megamorphic() {
    let mut vm = vm();
    five_classes(&mut vm);
    let fb = feedback(&mut vm, "fbSend:");
    let site = &fb.sites[0];
    assert!(site.megamorphic, "{fb:?}");
    assert_eq!(
        class_names(&vm, &site.classes),
        ["SmallInt", "String", "Array", "Undefined"]
    );
    let m = method_of(&mut vm, "fbSend:");
    assert!(vm.not_float_sites(m).is_empty());
    assert!(vm.describe_feedback(m).contains("megamorphic"));
}

#[test]
fn float_arithmetic_is_not_a_not_float_site_and_int_arithmetic_is() {
    let mut vm = vm();
    run(
        &mut vm,
        "1 to: 10 do: [:i | nil fbMul: 2.5 with: 1.5. nil fbAdd: i with: 4]",
    );
    let mul = method_of(&mut vm, "fbMul:with:");
    let add = method_of(&mut vm, "fbAdd:with:");
    let mul_fb = feedback(&mut vm, "fbMul:with:");
    assert_eq!(class_names(&vm, &mul_fb.sites[0].classes), ["Float"]);
    assert!(
        vm.not_float_sites(mul).is_empty(),
        "{}",
        vm.describe_feedback(mul)
    );
    // `i + 4` never reaches a send: the profiled step observed it.
    let add_fb = feedback(&mut vm, "fbAdd:with:");
    assert_eq!(add_fb.sites.len(), 1, "{add_fb:?}");
    assert_eq!(class_names(&vm, &add_fb.sites[0].classes), ["SmallInt"]);
    assert_eq!(vm.not_float_sites(add), vec![add_fb.sites[0].pc]);
    assert!(vm.describe_feedback(mul).contains("Float"));
}

#[test]
fn a_float_argument_keeps_an_int_receiver_site_out_of_not_float_sites() {
    let mut vm = vm();
    run(&mut vm, "nil fbMul: 3 with: 1.5");
    let mul = method_of(&mut vm, "fbMul:with:");
    let fb = vm.send_feedback(mul);
    assert!(fb.sites[0].float_argument, "{fb:?}");
    assert!(vm.not_float_sites(mul).is_empty());
}

#[test]
fn feedback_survives_collections_and_names_the_right_classes() {
    let mut vm = vm();
    five_classes(&mut vm);
    let m = method_of(&mut vm, "fbSend:");
    let before = vm.describe_feedback(m);
    for _ in 0..3 {
        vm.collect_garbage(0).unwrap();
        run(&mut vm, "(1 to: 200) collect: [:i | Array new: i]");
    }
    let m = method_of(&mut vm, "fbSend:");
    let after = vm.describe_feedback(m);
    assert!(
        after.starts_with(before.split("  x").next().unwrap()),
        "{before} / {after}"
    );
    assert!(
        after.contains("SmallInt String Array Undefined megamorphic"),
        "{after}"
    );
}

#[test]
fn feedback_is_right_under_gc_stress() {
    let mut vm = vm_with(Options {
        gc_stress: true,
        ..Options::default()
    });
    five_classes(&mut vm);
    run(
        &mut vm,
        "nil fbMul: 2.5 with: 1.5. nil fbAdd: 1 with: 2. nil fbOne",
    );
    let fb = feedback(&mut vm, "fbSend:");
    assert_eq!(
        class_names(&vm, &fb.sites[0].classes),
        ["SmallInt", "String", "Array", "Undefined"]
    );
    assert!(fb.sites[0].megamorphic);
    let mul = method_of(&mut vm, "fbMul:with:");
    let add = method_of(&mut vm, "fbAdd:with:");
    assert!(vm.not_float_sites(mul).is_empty());
    assert_eq!(vm.not_float_sites(add).len(), 1);
    let one = method_of(&mut vm, "fbOne");
    let blocks = feedback(&mut vm, "fbDo:").blocks;
    assert!(
        matches!(blocks[..], [ref b] if matches!(b.target, BlockTarget::One { method, .. } if method == one)),
        "{blocks:?}"
    );
}

#[test]
fn a_block_activation_site_names_its_block_then_several() {
    let mut vm = vm();
    run(&mut vm, "nil fbOne. nil fbOne");
    let one = method_of(&mut vm, "fbOne");
    let fb = feedback(&mut vm, "fbDo:");
    assert_eq!(fb.blocks.len(), 1, "{fb:?}");
    let BlockTarget::One { method, body } = fb.blocks[0].target else {
        panic!("{fb:?}");
    };
    assert_eq!(method, one);
    // The body starts after the block's pushBlock in fbOne.
    let code = vm.heap.get(one, method::BYTECODES).unwrap();
    let bytes = vm.heap.bytes(code).to_vec();
    let mut pc = 0;
    let mut bodies = vec![];
    while pc < bytes.len() {
        let insn = decode_at(&bytes, pc).unwrap();
        pc += insn.len as usize;
        if insn.op == Op::PushBlock {
            bodies.push(pc as u16);
        }
    }
    assert_eq!(bodies, vec![body]);
    let do_method = method_of(&mut vm, "fbDo:");
    let text = vm.describe_feedback(do_method);
    assert!(text.contains("block Object>>fbOne@"), "{text}");
    // The doit's own `fbOne` send and `fbDo:`'s `value:` send are sites.
    assert_eq!(fb.blocks[0].pc, fb.sites[0].pc);
    // The interpreter's site cache holds the Block class after a
    // collection flushes it, a second block at the site is seen.
    vm.collect_garbage(0).unwrap();
    run(&mut vm, "nil fbTwo");
    let fb = feedback(&mut vm, "fbDo:");
    assert_eq!(fb.blocks[0].target, BlockTarget::Several, "{fb:?}");
    let do_method = method_of(&mut vm, "fbDo:");
    assert!(vm.describe_feedback(do_method).contains("several"));
}

#[test]
fn a_redefined_method_starts_without_feedback_and_the_old_ones_go() {
    let mut vm = vm();
    five_classes(&mut vm);
    let before = vm.feedback_methods();
    assert!(before >= 1);
    let object = vm.global("Object").unwrap();
    let new = vm
        .compile_into(object, "fbSend: x\n\t^ x fbTag", HERE)
        .unwrap();
    assert_eq!(vm.send_feedback(new), MethodFeedback::default());
    run(&mut vm, "nil fbSend: 3");
    let fb = feedback(&mut vm, "fbSend:");
    assert_eq!(class_names(&vm, &fb.sites[0].classes), ["SmallInt"]);
    assert!(!fb.sites[0].megamorphic);
    // The old method is garbage: a collection drops its feedback (and the
    // doits' too).
    vm.collect_garbage(0).unwrap();
    assert!(
        vm.feedback_methods() < before + 1,
        "{before} {}",
        vm.feedback_methods()
    );
}
