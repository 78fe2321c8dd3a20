//! The interpreter verifies a method's bytecode once, before it runs any
//! of it (issue 19, item 3): bad bytecode is a Smalltalk error naming the
//! method, the offset and the cause, and a method whose code is replaced
//! runs its new code.

mod common;
use common::{Captured, HERE, eval};
use lst_bytecode::{Op, encode};
use lst_vm::layout;
use lst_vm::roots::Root;
use lst_vm::value::Value;
use lst_vm::{Options, Vm};

fn mini_vm() -> (Vm, Captured) {
    common::mini_vm_with(Options::default())
}

/// Bytecode from (op, argument, extra) triples.
fn code(insns: &[(Op, u8, u16)]) -> Vec<u8> {
    let mut out = vec![];
    for &(op, arg, extra) in insns {
        encode(&mut out, op, arg, extra);
    }
    out
}

/// Installs `Object>>probe` (one literal, no temporaries) and gives it
/// the bytecode `bytes`.
fn probe_with(vm: &mut Vm, bytes: &[u8]) {
    let object = vm.global("Object").unwrap();
    let method = vm.compile_into(object, "probe ^ #lit", HERE).unwrap();
    set_bytecode(vm, method, bytes);
}

/// Replaces `method`'s bytecode object by a new one holding `bytes`.
fn set_bytecode(vm: &mut Vm, method: Value, bytes: &[u8]) {
    let h = vm.heap.push_handle(method);
    let class = vm.root(Root::ByteArrayClass);
    let array = vm.alloc_bytes(class, bytes.len()).unwrap();
    vm.heap.bytes_mut(array).copy_from_slice(bytes);
    let method = vm.heap.handle(h);
    vm.heap.release_handles(h);
    assert!(vm.heap.set(method, layout::method::BYTECODES, array));
    // The method cache holds the old bytecode object: objects move, so a
    // collection flushes it.
    vm.collect_garbage(0).unwrap();
}

/// Runs `nil probe` with `bytes` as its code: the error printed.
fn refusal(bytes: &[u8]) -> String {
    let (mut vm, out) = mini_vm();
    probe_with(&mut vm, bytes);
    assert_eq!(eval(&mut vm, "nil probe"), "failed", "{}", out.text());
    out.text()
}

fn assert_refused(bytes: &[u8], expected: &str) {
    let text = refusal(bytes);
    assert!(
        text.contains(&format!(
            "cannot run Object>>probe: its bytecode {expected}"
        )),
        "{text}"
    );
}

#[test]
fn a_jump_into_the_middle_of_an_instruction_is_refused() {
    // 0: pushConstant 1; 1: branch 2 (inside itself); 4: stackReturn.
    let bytes = code(&[
        (Op::PushConstant, 1, 0),
        (Op::Branch, 0, 2),
        (Op::StackReturn, 0, 0),
    ]);
    assert_refused(
        &bytes,
        "at offset 2: execution enters the middle of the instruction at 1",
    );
}

#[test]
fn a_jump_outside_the_code_is_refused() {
    let bytes = code(&[(Op::Branch, 0, 40), (Op::SelfReturn, 0, 0)]);
    assert_refused(
        &bytes,
        "at offset 0: execution runs past the end of the code",
    );
}

#[test]
fn a_temporary_index_out_of_range_is_refused() {
    let bytes = code(&[(Op::PushTemporary, 5, 0), (Op::StackReturn, 0, 0)]);
    assert_refused(
        &bytes,
        "at offset 0: temporary index 5 out of range (0 temporaries)",
    );
}

#[test]
fn a_literal_index_out_of_range_is_refused() {
    let bytes = code(&[
        (Op::PushConstant, 1, 0),
        (Op::PushLiteral, 9, 0),
        (Op::StackReturn, 0, 0),
    ]);
    assert_refused(
        &bytes,
        "at offset 1: literal index 9 out of range (1 literals)",
    );
}

#[test]
fn a_stack_underflow_is_refused() {
    let bytes = code(&[
        (Op::PushConstant, 1, 0),
        (Op::SendBinary, 2, 0),
        (Op::StackReturn, 0, 0),
    ]);
    assert_refused(
        &bytes,
        "at offset 1: operand stack underflow (2 needed, 1 there)",
    );
}

#[test]
fn an_underflow_on_one_path_only_is_refused() {
    // 0: pushTrue; 1: branchIfTrue 5; 4: pushConstant 1; 5: stackReturn:
    // the jump reaches 5 with nothing to return.
    let bytes = code(&[
        (Op::PushConstant, 11, 0),
        (Op::BranchIfTrue, 0, 5),
        (Op::PushConstant, 1, 0),
        (Op::StackReturn, 0, 0),
    ]);
    assert_refused(
        &bytes,
        "at offset 5: operand stack underflow (1 needed, 0 there)",
    );
}

#[test]
fn an_unknown_opcode_is_refused() {
    assert_refused(&[0xE0], "at offset 0: bad bytecode: invalid opcode 14 at 0");
}

#[test]
fn running_off_the_end_is_refused() {
    let bytes = code(&[(Op::PushConstant, 1, 0)]);
    assert_refused(
        &bytes,
        "at offset 0: execution runs past the end of the code",
    );
}

#[test]
fn a_bad_constant_is_refused() {
    let bytes = code(&[(Op::PushConstant, 13, 0), (Op::StackReturn, 0, 0)]);
    assert_refused(&bytes, "at offset 0: pushConstant 13 names no constant");
}

#[test]
fn bytes_no_path_reaches_are_not_decoded() {
    // LLST's in-image compiler leaves zero bytes after a method's code.
    let mut bytes = code(&[(Op::PushConstant, 7, 0), (Op::StackReturn, 0, 0)]);
    bytes.extend([0, 0, 0xE0]);
    let (mut vm, out) = mini_vm();
    probe_with(&mut vm, &bytes);
    assert_eq!(eval(&mut vm, "nil probe"), "7", "{}", out.text());
}

#[test]
fn a_method_whose_code_is_replaced_runs_its_new_code() {
    let (mut vm, out) = mini_vm();
    probe_with(
        &mut vm,
        &code(&[(Op::PushConstant, 1, 0), (Op::StackReturn, 0, 0)]),
    );
    assert_eq!(eval(&mut vm, "nil probe"), "1", "{}", out.text());
    // Replaced in the same Method object.
    let object = vm.global("Object").unwrap();
    let selector = vm.find_symbol(b"probe").unwrap();
    let method = vm.lookup_method(selector, object).unwrap();
    set_bytecode(
        &mut vm,
        method,
        &code(&[(Op::PushConstant, 2, 0), (Op::StackReturn, 0, 0)]),
    );
    assert_eq!(eval(&mut vm, "nil probe"), "2", "{}", out.text());
    // Redefined from source: a new Method.
    let object = vm.global("Object").unwrap();
    vm.compile_into(object, "probe ^ 3", HERE).unwrap();
    assert_eq!(eval(&mut vm, "nil probe"), "3", "{}", out.text());
    // And again after objects moved.
    vm.collect_garbage(0).unwrap();
    assert_eq!(
        eval(&mut vm, "nil probe + nil probe"),
        "6",
        "{}",
        out.text()
    );
}

#[test]
fn a_jump_into_a_superinstruction_runs_the_rest_of_it() {
    let (mut vm, out) = mini_vm();
    let object = vm.global("Object").unwrap();
    let method = vm
        .compile_into(object, "probe | t | t <- 4. ^ t", HERE)
        .unwrap();
    // 0–2: t <- 4 (fused: assignTemporary; popTop). 3: push 7; 4: push
    // true; 5: branchIfTrue 10, into the middle of the fused `t + 2` at 9
    // (pushTemporary 0; pushConstant 2; sendBinary +): 7 + 2.
    let bytes = code(&[
        (Op::PushConstant, 4, 0),
        (Op::AssignTemporary, 0, 0),
        (Op::PopTop, 0, 0),
        (Op::PushConstant, 7, 0),
        (Op::PushConstant, 11, 0),
        (Op::BranchIfTrue, 0, 10),
        (Op::PopTop, 0, 0),
        (Op::PushTemporary, 0, 0),
        (Op::PushConstant, 2, 0),
        (Op::SendBinary, 2, 0),
        (Op::StackReturn, 0, 0),
    ]);
    set_bytecode(&mut vm, method, &bytes);
    assert_eq!(eval(&mut vm, "nil probe"), "9", "{}", out.text());
    // The same with false: falls through, pops the 7 and runs the fused
    // step from its start: 4 + 2.
    let mut bytes = bytes;
    bytes[4] = 0x5C; // pushConstant 12 (false)
    let selector = vm.find_symbol(b"probe").unwrap();
    let object = vm.global("Object").unwrap();
    let method = vm.lookup_method(selector, object).unwrap();
    set_bytecode(&mut vm, method, &bytes);
    assert_eq!(eval(&mut vm, "nil probe"), "6", "{}", out.text());
}

#[test]
fn superinstructions_send_when_the_operands_are_not_small_integers() {
    let (mut vm, out) = mini_vm();
    let object = vm.global("Object").unwrap();
    vm.compile_into(object, "next: x ^ x + 1", HERE).unwrap();
    let object = vm.global("Object").unwrap();
    vm.compile_into(object, "times: x by: y | t | t <- y. ^ x * t", HERE)
        .unwrap();
    assert_eq!(eval(&mut vm, "nil next: 41"), "42", "{}", out.text());
    assert_eq!(
        eval(&mut vm, "nil next: 4611686018427387903"),
        "4611686018427387904"
    );
    assert_eq!(eval(&mut vm, "nil times: 6 by: 7"), "42");
    assert_eq!(
        eval(&mut vm, "nil times: 4611686018427387903 by: 2"),
        "9223372036854775806"
    );
}

#[test]
fn an_error_inside_a_superinstruction_leaves_the_unfused_state() {
    let (mut vm, out) = mini_vm();
    // An error: that answers, so the method goes on after the failure.
    let object = vm.global("Object").unwrap();
    vm.compile_into(object, "error: message ^ 10", HERE)
        .unwrap();
    // pushArgument 3 (there is none: error: answers 10 in its place);
    // pushConstant 1; sendBinary +; stackReturn.
    probe_with(
        &mut vm,
        &code(&[
            (Op::PushArgument, 3, 0),
            (Op::PushConstant, 1, 0),
            (Op::SendBinary, 2, 0),
            (Op::StackReturn, 0, 0),
        ]),
    );
    assert_eq!(eval(&mut vm, "nil probe"), "11", "{}", out.text());
}
