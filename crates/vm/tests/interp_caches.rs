//! The interpreter's send-site cache (issue 19, item 3): a site that has
//! cached its target still sends to the method a lookup would find now,
//! after the method is redefined and for receivers of another class.

mod common;
use common::{Captured, HERE, eval};
use lst_vm::{Options, Vm};

fn mini_vm() -> (Vm, Captured) {
    common::mini_vm_with(Options::default())
}

/// Compiles `source` into the class named `class`.
fn define(vm: &mut Vm, class: &str, source: &str) {
    let class = vm.global(class).unwrap();
    vm.compile_into(class, source, HERE).unwrap();
}

#[test]
fn a_send_site_runs_a_method_redefined_after_it_cached_the_old_one() {
    let (mut vm, out) = mini_vm();
    define(&mut vm, "Object", "kind ^ 1");
    define(&mut vm, "Object", "ask: x ^ x kind");
    assert_eq!(eval(&mut vm, "nil ask: 3"), "1", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil ask: 3"), "1", "{}", out.text());
    define(&mut vm, "Object", "kind ^ 5");
    assert_eq!(eval(&mut vm, "nil ask: 3"), "5", "{}", out.text());
    // Overridden in a subclass of the cached method's class.
    define(&mut vm, "SmallInt", "kind ^ 7");
    assert_eq!(eval(&mut vm, "nil ask: 3"), "7", "{}", out.text());
}

#[test]
fn a_send_site_tells_its_receivers_classes_apart() {
    let (mut vm, out) = mini_vm();
    define(&mut vm, "Object", "kind ^ 1");
    define(&mut vm, "SmallInt", "kind ^ 2");
    define(&mut vm, "Object", "ask: x ^ x kind");
    assert_eq!(eval(&mut vm, "nil ask: nil"), "1", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil ask: 3"), "2", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil ask: nil"), "1", "{}", out.text());
    // One site, both classes in one run.
    define(
        &mut vm,
        "Object",
        "both ^ (self ask: nil) * 10 + (self ask: 3)",
    );
    assert_eq!(eval(&mut vm, "nil both"), "12", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil both"), "12", "{}", out.text());
}

#[test]
fn a_binary_operators_send_site_follows_redefinition_and_receiver_class() {
    let (mut vm, out) = mini_vm();
    define(&mut vm, "Undefined", "< x ^ 1");
    define(&mut vm, "Symbol", "< x ^ 2");
    define(&mut vm, "Object", "less: x ^ x < 3");
    // One site (the `<` in less:), SmallInts and two other classes.
    define(
        &mut vm,
        "Object",
        "mixed ^ ((self less: nil) * 100) + ((self less: #a) * 10) + ((self less: 2) ifTrue: [1] ifFalse: [0])",
    );
    assert_eq!(eval(&mut vm, "nil mixed"), "121", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil mixed"), "121", "{}", out.text());
    define(&mut vm, "Undefined", "< x ^ 5");
    assert_eq!(eval(&mut vm, "nil mixed"), "521", "{}", out.text());
}

#[test]
fn a_block_called_with_the_wrong_argument_count_fails_each_time() {
    let (mut vm, out) = mini_vm();
    define(&mut vm, "Object", "run: aBlock ^ aBlock value: 4");
    define(
        &mut vm,
        "Object",
        "twice ^ (self run: [:x | x + 1]) + (self run: [:x | x * 2])",
    );
    assert_eq!(eval(&mut vm, "nil twice"), "13", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil twice"), "13", "{}", out.text());
    // The same body once activated is refused with one argument too many.
    define(&mut vm, "Object", "wrong ^ [:x | x] value: 1 value: 2");
    let first = eval(&mut vm, "nil wrong");
    assert_ne!(first, "1", "{}", out.text());
    assert_eq!(eval(&mut vm, "nil wrong"), first, "{}", out.text());
}
