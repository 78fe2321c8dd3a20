//! Every method of both LLST images decodes with the bytecode table, and
//! re-encodes to the same bytes.

mod common;
use common::*;
use lst_vm::Vm;

/// The number of methods checked; `None` when the image is not there.
fn check_image(name: &str) -> Option<usize> {
    let vm = Vm::from_llst_image(&lst_test_images::read(name)?, options()).unwrap();
    let methods = vm.all_methods();
    assert!(!methods.is_empty());
    for m in &methods {
        let (class, selector, code) = (&m.class, &m.selector, &m.bytecodes);
        let mut again = Vec::new();
        for item in lst_bytecode::decode_all(code) {
            let (_, insn) = item.unwrap_or_else(|e| panic!("{class}>>{selector}: {e}"));
            lst_bytecode::encode_insn(&mut again, &insn);
        }
        assert_eq!(&again, code, "{class}>>{selector} re-encodes differently");
    }
    Some(methods.len())
}

#[test]
fn decode_all_methods_of_both_images() {
    // LLST's own test counts 659 methods with a control graph in this image.
    if let Some(n) = check_image("DecodeAllMethods.image") {
        assert!(n >= 659, "{n}");
    }
    if let Some(n) = check_image("VMPrimitives.image") {
        assert!(n > 100, "{n}");
    }
}
