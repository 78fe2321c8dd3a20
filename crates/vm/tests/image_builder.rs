//! The image builder, the linker and lst's image format, on a minimal
//! class library (tests/fixtures/mini): build, evaluate, print, define
//! globals, save atomically, reload to the same state, refuse damage.

mod common;
use common::*;
use lst_vm::image::builder::{Source, build, read_sources};
use lst_vm::session::Evaluation;
use lst_vm::{Options, Vm};

fn mini_sources() -> Vec<Source> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mini");
    read_sources(std::path::Path::new(dir), "mini").unwrap()
}

fn mini_vm(options: Options) -> (Vm, Captured) {
    let mut vm = build(&mini_sources(), options).unwrap_or_else(|e| panic!("{e}"));
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    (vm, out)
}

fn checks(vm: &mut Vm, out: &Captured) {
    assert_eq!(eval(vm, "3 + 4"), "7");
    assert_eq!(eval(vm, "| a | a := 6. a * 7"), "42");
    assert_eq!(eval(vm, "4611686018427387903 + 1"), "4611686018427387904");
    assert_eq!(
        eval(vm, "3 * (2 * 4611686018427387903)"),
        "27670116110564327418"
    );
    assert_eq!(eval(vm, "2 sqrt"), "1.4142135623730951");
    assert_eq!(eval(vm, "2.5"), "2.5");
    assert_eq!(eval(vm, "Transcript increment. Transcript increment"), "2");
    // Little Smalltalk cascades go to the value of the first send.
    assert_eq!(eval(vm, "'ab' , 'cd'; basicSize"), "4");
    assert_eq!(eval(vm, "'ab' , 'cd'"), "abcd");
    assert_eq!(eval(vm, "#sym == #sym"), "an object");
    // Errors: the process stops, Smalltalk reports, the VM goes on.
    assert_eq!(eval(vm, "nil foo"), "failed");
    assert!(out.text().contains("not understood: foo"), "{}", out.text());
    let diag = eval(vm, "3 + ");
    assert!(diag.starts_with("compile error: test:1:"), "{diag}");
    assert!(eval(vm, "zork + 1").contains("undefined variable `zork`"));
}

#[test]
fn builds_and_evaluates() {
    let (mut vm, out) = mini_vm(Options::default());
    checks(&mut vm, &out);
}

#[test]
fn builds_and_evaluates_under_gc_stress() {
    let (mut vm, out) = mini_vm(Options {
        gc_stress: true,
        ..Options::default()
    });
    checks(&mut vm, &out);
}

#[test]
fn globals_set_from_the_host_are_seen_by_later_code() {
    globals_survive(Options::default());
    globals_survive(Options {
        gc_stress: true,
        ..Options::default()
    });
}

fn globals_survive(options: Options) {
    let (mut vm, _) = mini_vm(options);
    let Evaluation::Value(v) = vm.evaluate("40 + 2", HERE).unwrap() else {
        panic!()
    };
    vm.set_global("answer", v).unwrap();
    assert_eq!(eval(&mut vm, "answer + 1"), "43");
    for i in 0..20 {
        let Evaluation::Value(v) = vm.evaluate(&format!("{i} * 1000"), HERE).unwrap() else {
            panic!()
        };
        vm.set_global(&format!("g{i}"), v).unwrap();
    }
    assert_eq!(eval(&mut vm, "g7 + g19 + answer"), "26042");
}

#[test]
fn saved_images_reload_to_the_same_state() {
    let (mut vm, _) = mini_vm(Options::default());
    eval(&mut vm, "Transcript increment");
    let dir = std::env::temp_dir().join(format!("lst-image-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("saved.image");
    vm.save_image(&path).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "the temporary file is gone after the rename"
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut again = Vm::from_image(&bytes, Options::default()).unwrap();
    assert!(!again.boots_itself());
    again.set_output(Box::new(Captured::default()));
    assert_eq!(eval(&mut again, "Transcript increment"), "2");
    assert_eq!(eval(&mut again, "#sym == #sym"), "an object");
    // Writing the reloaded image gives the same bytes as writing the original.
    assert_eq!(
        again.image_bytes().unwrap().len(),
        vm.image_bytes().unwrap().len()
    );
    for cut in [0, 7, 47, 48, bytes.len() / 2, bytes.len() - 1] {
        let err = Vm::from_image(&bytes[..cut], Options::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("image"), "{err}");
    }
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let err = Vm::from_image(&bad, Options::default()).err().unwrap();
    assert!(err.to_string().contains("checksum"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn builder_errors_name_file_and_line() {
    let mut sources = mini_sources();
    sources.push(Source {
        name: "broken.st".into(),
        text: "CLASS Foo Bar\nMETHOD Object\nfoo ^ 3 +\n!\nWHAT\n".into(),
    });
    let err = build(&sources, Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("broken.st:5: expected CLASS"), "{err}");
    let mut sources = mini_sources();
    sources.push(Source {
        name: "broken.st".into(),
        text: "METHOD Object\nfoo ^ 3 + + 4\n!\n".into(),
    });
    let err = build(&sources, Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("broken.st:2:"), "{err}");
}

/// `sendBinary k` sends the selector in the root `BINARY_SPECIAL_ROOTS[k]`:
/// it must be the Symbol `lst_bytecode::BINARY_SPECIALS[k]`, whether the
/// image built it or the VM found (or made) it after loading.
#[test]
fn special_send_roots_hold_the_bytecode_tables_selectors() {
    let (mut vm, _) = mini_vm(options());
    let dir = std::env::temp_dir().join(format!("lst-special-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mini.image");
    vm.save_image(&path).unwrap();
    let reloaded = Vm::from_image(&std::fs::read(&path).unwrap(), options()).unwrap();
    for vm in [&vm, &reloaded] {
        for (k, &root) in lst_vm::roots::BINARY_SPECIAL_ROOTS.iter().enumerate() {
            assert_eq!(
                vm.text_of(vm.root(root)),
                lst_bytecode::BINARY_SPECIALS[k],
                "k = {k}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
