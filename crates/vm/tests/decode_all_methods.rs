//! Every method of both LLST images decodes with the bytecode table, and
//! re-encodes to the same bytes.

mod common;
use common::*;
use lst_vm::Vm;

fn check_image(name: &str) -> usize {
    let vm = Vm::from_llst_image(&image(name), options()).unwrap();
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
    methods.len()
}

#[test]
fn decode_all_methods_of_both_images() {
    // LLST's own test counts 659 methods with a control graph in this image.
    assert!(check_image("DecodeAllMethods.image") >= 659);
    assert!(check_image("VMPrimitives.image") > 100);
}
