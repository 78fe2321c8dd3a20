//! The interpreter's send-site cache (issue 19, item 3): a site that has
//! cached its target still sends to the method a lookup would find now,
//! after the method is redefined and for receivers of another class.

mod common;
use common::Captured;
use lst_vm::image::builder::{build, read_sources};
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use lst_vm::{Options, Vm};

const HERE: Origin = Origin {
    label: "test",
    first_line: 1,
};

fn mini_vm() -> (Vm, Captured) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mini");
    let sources = read_sources(std::path::Path::new(dir), "mini").unwrap();
    let mut vm = build(&sources, Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    (vm, out)
}

/// Evaluates `src`: the printString of its value, or "failed".
fn eval(vm: &mut Vm, src: &str) -> String {
    match vm.evaluate(src, HERE).unwrap() {
        Evaluation::Value(v) => vm.print_string(v).unwrap().unwrap_or_default(),
        Evaluation::CompileError(d) => format!("compile error: {d}"),
        Evaluation::Failed => "failed".into(),
    }
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
