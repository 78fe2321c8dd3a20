//! lst's own image keeps Dictionaries (method dictionaries and the
//! globals among them) as hash tables: inserting is amortized O(1), the
//! VM and the image agree on where a key lives, and the Dictionary
//! protocol answers as before. The scaling checks count allocated heap
//! words (not time): a sorted-array Dictionary copies its arrays at every
//! new key, so its allocation grows with the square of the keys.

mod common;
use common::*;
use lst_vm::image::builder::{build, read_sources};
use lst_vm::{Options, Vm};

/// A VM on lst's own image, built from the repository's `image/`.
fn own_vm() -> Vm {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = read_sources(std::path::Path::new(dir), "image").unwrap();
    let mut vm = build(&sources, options()).unwrap_or_else(|e| panic!("{e}"));
    vm.set_output(Box::new(Captured::default()));
    vm
}

/// Heap words `f` allocates.
fn words_allocated(vm: &mut Vm, f: impl FnOnce(&mut Vm)) -> u64 {
    let before = vm.heap.stats.allocated_words;
    f(vm);
    vm.heap.stats.allocated_words - before
}

/// Installs `n` new unary methods into a new class `name`.
fn install_methods(vm: &mut Vm, name: &str, n: usize) {
    assert!(eval(vm, &format!("Object subclass: #{name}")).contains(name));
    let class = vm.global(name).unwrap();
    let h = vm.heap.push_handle(class);
    for i in 0..n {
        let class = vm.heap.handle(h);
        vm.compile_into(class, &format!("m{i}\n\t^ {i}"), HERE)
            .unwrap();
    }
    vm.heap.release_handles(h);
}

/// Growing 4 times should cost about 4 times: allow up to 6 (a quadratic
/// cost grows 16 times).
fn assert_linear(small: u64, large: u64, what: &str) {
    let ratio = large as f64 / small as f64;
    assert!(
        ratio < 6.0,
        "{what}: 4x the keys allocated {ratio:.1}x the words ({small} -> {large})"
    );
}

#[test]
fn installing_many_methods_into_one_class_allocates_linearly() {
    let mut vm = own_vm();
    let small = words_allocated(&mut vm, |vm| install_methods(vm, "Small", 2_000));
    let large = words_allocated(&mut vm, |vm| install_methods(vm, "Large", 8_000));
    assert_linear(small, large, "installing methods");
    assert_eq!(eval(&mut vm, "Large new m7999 + Large new m0"), "7999");
    assert_eq!(eval(&mut vm, "Large selectors size"), "8000");
}

#[test]
fn dictionary_inserts_allocate_linearly() {
    let mut vm = own_vm();
    let fill = |n: usize| {
        format!("| d | d := Dictionary new. 1 to: {n} do: [ :i | d at: i put: i ]. d size")
    };
    let small = words_allocated(&mut vm, |vm| assert_eq!(eval(vm, &fill(5_000)), "5000"));
    let large = words_allocated(&mut vm, |vm| assert_eq!(eval(vm, &fill(20_000)), "20000"));
    assert_linear(small, large, "Dictionary at:put:");
}

/// Each expression must answer true.
fn all_true(vm: &mut Vm, checks: &[&str]) {
    for check in checks {
        assert_eq!(eval(vm, check), "true", "{check}");
    }
}

#[test]
fn many_integer_keys_grow_remove_and_reinsert() {
    let mut vm = own_vm();
    all_true(
        &mut vm,
        &[
            "| d ok | d := Dictionary new. 1 to: 3000 do: [ :i | d at: i put: i * 2 ].
             ok := d size = 3000.
             1 to: 3000 do: [ :i | (d at: i) = (i * 2) ifFalse: [ ok := false ] ].
             2 to: 3000 by: 2 do: [ :i | (d removeKey: i) = (i * 2) ifFalse: [ ok := false ] ].
             ok := ok and: [ d size = 1500 ].
             1 to: 3000 do: [ :i | (d includesKey: i) = i odd ifFalse: [ ok := false ] ].
             2 to: 3000 by: 2 do: [ :i | d at: i put: i negated ].
             1 to: 3000 do: [ :i | (d at: i) = (i odd ifTrue: [ i * 2 ] ifFalse: [ i negated ]) ifFalse: [ ok := false ] ].
             ok and: [ d size = 3000 ]",
            "| d | d := Dictionary new. -50 to: 50 do: [ :i | d at: i put: i ].
             (d at: -50) = -50 and: [ (d at: 0) = 0 and: [ d size = 101 ] ]",
        ],
    );
}

#[test]
fn colliding_keys_are_kept_apart_through_removals() {
    let mut vm = own_vm();
    // Multiples of 1024 fall on one slot of every table up to 1024 slots,
    // so they make one long probe run; removing from its middle must
    // leave the rest findable (including runs that wrap around the end).
    all_true(
        &mut vm,
        &[
            "| d ok | d := Dictionary new. 1 to: 200 do: [ :i | d at: i * 1024 put: i ].
             ok := true.
             1 to: 200 by: 3 do: [ :i | d removeKey: i * 1024 ].
             1 to: 200 do: [ :i | (d at: i * 1024 ifAbsent: [ 0 ]) = ((i - 1 rem: 3) = 0 ifTrue: [ 0 ] ifFalse: [ i ]) ifFalse: [ ok := false ] ].
             ok and: [ d size = 133 ]",
            "| d | d := Dictionary new. d at: 7 put: #a. d at: 15 put: #b. d at: 23 put: #c.
             d removeKey: 7.
             (d at: 15) = #b and: [ (d at: 23) = #c and: [ (d includesKey: 7) not ] ]",
        ],
    );
}

#[test]
fn symbol_string_and_object_keys() {
    let mut vm = own_vm();
    all_true(
        &mut vm,
        &[
            // A String key and the Symbol of the same spelling are equal.
            "| d | d := Dictionary new. d at: 'abc' put: 1. (d at: #abc) = 1",
            "| d | d := Dictionary new. d at: #abc put: 1. d at: 'abc' copy put: 2. d size = 1 and: [ (d at: #abc) = 2 ]",
            "| d ok | d := Dictionary new. 1 to: 500 do: [ :i | d at: ('k' , i printString) asSymbol put: i ].
             ok := true.
             1 to: 500 do: [ :i | (d at: 'k' , i printString) = i ifFalse: [ ok := false ] ].
             ok",
            "| d a b | d := Dictionary new. a := Object new. b := Object new.
             d at: a put: 1. d at: b put: 2.
             (d at: a) = 1 and: [ (d at: b) = 2 and: [ (d at: Object new ifAbsent: [ 0 ]) = 0 ] ]",
            "| d | d := Dictionary new. d at: $a put: 1. d at: (2 raisedTo: 80) put: 2.
             (d at: $a) = 1 and: [ (d at: (2 raisedTo: 80)) = 2 ]",
        ],
    );
}

#[test]
fn protocol_answers_as_before() {
    let mut vm = own_vm();
    all_true(
        &mut vm,
        &[
            "| d | d := Dictionary new. #(5 3 9 1 7) do: [ :k | d at: k put: k * k ]. d keys = #(1 3 5 7 9)",
            "| d | d := Dictionary new. #(5 3 9 1 7) do: [ :k | d at: k put: k * k ]. d values = #(1 9 25 49 81)",
            "| d | d := Dictionary new. #(#b #c #a) do: [ :k | d at: k put: 0 ]. d keys = #(#a #b #c)",
            "| d | d := Dictionary new. d at: 2 put: 4. d at: 1 put: 1. d printString = 'Dictionary (1 -> 1, 2 -> 4)'",
            "| d n | d := Dictionary new. 1 to: 100 do: [ :i | d at: i put: i ]. n := 0. d keysAndValuesDo: [ :k :v | n := n + k - v + 1 ]. n = 100",
            "| d e | d := Dictionary new. d at: 1 put: 1. e := d copy. e at: 2 put: 2. d size = 1 and: [ e size = 2 ]",
            "(Dictionary new: 1000) isEmpty",
            "| d | d := Dictionary new. (d at: nil ifAbsent: [ #none ]) = #none and: [ (d includesKey: nil) not ]",
        ],
    );
    assert_eq!(eval(&mut vm, "Dictionary new at: nil put: 3"), "failed");
}

#[test]
fn the_vm_and_the_image_agree_on_the_globals_table() {
    let mut vm = own_vm();
    // Keys of other kinds, which the VM's rehashing must place where the
    // image's `hash` looks for them.
    eval(
        &mut vm,
        "globals at: 5 put: #five. globals at: $c put: #cee. globals at: (2 raisedTo: 70) put: #big",
    );
    // Added by the VM (with its own rehashing), found by the image...
    for i in 0..1000 {
        vm.set_global(&format!("Host{i}"), lst_vm::value::Value::small(i))
            .unwrap();
    }
    assert_eq!(
        eval(&mut vm, "(globals at: #Host999) + (globals at: #Host0)"),
        "999"
    );
    // ... and added by the image (growing the table in Smalltalk), found
    // by the VM and by compiled code.
    eval(
        &mut vm,
        "1 to: 1000 do: [ :i | globals at: ('Image' , i printString) asSymbol put: i ]",
    );
    assert_eq!(vm.global("Image1000"), lst_vm::value::Value::int(1000));
    assert_eq!(eval(&mut vm, "Image17 + Host17"), "34");
    assert_eq!(eval(&mut vm, "Object name"), "Object");
    assert_eq!(
        eval(
            &mut vm,
            "(globals at: 5) == #five and: [ (globals at: $c) == #cee and: [ (globals at: (2 raisedTo: 70)) == #big ] ]"
        ),
        "true"
    );
}

#[test]
fn methods_added_from_smalltalk_are_found_by_sends() {
    let mut vm = own_vm();
    install_methods(&mut vm, "Holder", 100);
    // The image's own Dictionary code grows the method dictionary, the
    // VM's lookup finds what it put there.
    eval(
        &mut vm,
        "1 to: 300 do: [ :i | Holder methods at: ('alias' , i printString) asSymbol put: (Holder methods at: #m5) ]. Method flushCache",
    );
    assert_eq!(eval(&mut vm, "Holder new alias300 + Holder new m99"), "104");
    assert_eq!(eval(&mut vm, "Holder new m42"), "42");
}

#[test]
fn hashed_tables_survive_collections_and_a_saved_image() {
    let mut vm = build(
        &read_sources(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../image")),
            "image",
        )
        .unwrap(),
        Options {
            gc_stress: false,
            ..Options::default()
        },
    )
    .unwrap();
    vm.set_output(Box::new(Captured::default()));
    install_methods(&mut vm, "Kept", 500);
    eval(
        &mut vm,
        "| d | d := Dictionary new. 1 to: 500 do: [ :i | d at: i printString put: i ]. globals at: #Saved put: d",
    );
    eval(&mut vm, "System collectGarbage");
    let bytes = vm.image_bytes().unwrap();
    let mut again = Vm::from_image(&bytes, Options::default()).unwrap();
    again.set_output(Box::new(Captured::default()));
    assert_eq!(eval(&mut again, "Kept new m499 + (Saved at: '250')"), "749");
}
