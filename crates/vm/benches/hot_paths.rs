//! Rust-level micro benchmarks of the VM's hot paths (`cargo bench -p
//! lst-vm`): a send (recursive fib, interpreted), a method-cache hit, an
//! allocation, and a collection of the whole heap (there is no nursery yet,
//! so this is the collector's only kind of collection).
//!
//! The VM is built from the project's class library (`image/*.st`).

use lst_vm::image::builder::{build, read_sources};
use lst_vm::link::Origin;
use lst_vm::value::Value;
use lst_vm::{Options, Vm};

fn main() {
    divan::main();
}

const HERE: Origin = Origin {
    label: "bench",
    first_line: 1,
};

fn library_vm() -> Vm {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources =
        read_sources(std::path::Path::new(dir), "image").expect("image/ beside the crates");
    let mut vm = build(
        &sources,
        Options {
            gc_stress: false,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    vm.set_output(Box::new(std::io::sink()));
    let object = vm.global("Object").unwrap();
    vm.compile_into(
        object,
        "benchFib: n n < 2 ifTrue: [ ^ n ]. ^ (self benchFib: n - 1) + (self benchFib: n - 2)",
        HERE,
    )
    .unwrap();
    vm
}

/// `nil benchFib: 20`: 21,891 calls, each with two sends of `benchFib:`,
/// two of `-`, one `+` and one `<` (the last two inlined for SmallInts).
#[divan::bench]
fn send_fib_20(bencher: divan::Bencher) {
    let mut vm = library_vm();
    let method = vm.compile_doit("nil benchFib: 20", HERE).unwrap();
    let h = vm.heap.push_handle(method);
    bencher.bench_local(|| {
        let (method, nil) = (vm.heap.handle(h), vm.nil());
        let r = vm.run_method(method, &[nil]).unwrap();
        assert_eq!(r.and_then(|v| v.as_int()), Some(6765));
    });
}

/// One method-cache probe that hits (`SmallInt>>printString`).
#[divan::bench]
fn method_cache_hit(bencher: divan::Bencher) {
    let mut vm = library_vm();
    let selector = vm.intern(b"printString").unwrap();
    let class = vm.class_of(Value::small(3));
    let (hs, hc) = (vm.heap.push_handle(selector), vm.heap.push_handle(class));
    assert!(vm.lookup_method(selector, class).is_some());
    bencher.bench_local(|| {
        let (s, c) = (vm.heap.handle(hs), vm.heap.handle(hc));
        divan::black_box(vm.lookup_method(s, c))
    });
}

/// Allocating an 8-slot Array (collections included as they come).
#[divan::bench]
fn allocate_array_8(bencher: divan::Bencher) {
    let mut vm = library_vm();
    bencher.bench_local(|| divan::black_box(vm.new_array(8).unwrap()));
}

/// A full collection of the library's heap (about 600 KB live).
#[divan::bench]
fn collect_whole_heap(bencher: divan::Bencher) {
    let mut vm = library_vm();
    bencher.bench_local(|| vm.collect_garbage(0).unwrap());
}
