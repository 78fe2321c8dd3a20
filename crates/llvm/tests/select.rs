//! The instruction selector on IR written by hand: a send becomes a
//! `musttail` call of the send stub and a continuation entered by the
//! entry switch, and what it cannot keep honestly (a value live across a
//! send that the frame does not hold) is declined with a reason, not
//! miscompiled. And on a real method (`fib:` in an image built from
//! lst's sources): the IR's SmallInt fast paths, made by the semantic
//! lowering in the shared pipeline, reach LLVM as overflow intrinsics.
#![cfg(feature = "llvm")]

use inkwell::context::Context;
use lst_backends::CraneliftJit;
use lst_llvm::LlvmJit;
use lst_llvm::select::{Env, Sites, select};
use lst_vm::image::builder;
use lst_vm::jit_runtime::boundary::Compiler;
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::jit_runtime::tiering::Level;
use lst_vm::vm::Vm;

/// Selects IR `text` (with one literal) into a fresh module; the module's
/// text, or why the selector declined.
fn select_text(text: &str) -> Result<String, String> {
    let f = lst_jit::parse::parse_function(text).expect("the IR parses");
    let stubs = CraneliftJit::new().expect("the stubs build");
    let sites: Vec<SendSite> = (0..4).map(|_| SendSite::default()).collect();
    let layout = Vm::native_layout();
    let sites = Sites::prepare(&f, &sites, 1, 1)?;
    let env = Env {
        layout: &layout,
        targets: stubs.targets(),
        sites: &sites,
        bytecodes: &[],
        literal_count: 1,
    };
    let context = Context::create();
    let module = context.create_module("test");
    select(&context, &module, "f", &f, &env)?;
    module.verify().map_err(|e| format!("invalid IR: {e}"))?;
    Ok(module.print_to_string().to_string())
}

#[test]
fn a_send_tail_calls_the_stub_and_resumes_at_its_continuation() {
    let ir = "method Test>>f args 0 temps 0
bb0:
    v0 = self
    v1 = send lit0 v0 @4 []
    return v1
";
    let text = select_text(ir).expect("selected");
    assert!(text.contains("define tailcc i64 @f("), "{text}");
    assert_eq!(text.matches("musttail call tailcc").count(), 3, "{text}");
    assert!(text.contains("i64 1, label %k1"), "{text}");
}

#[test]
fn a_value_live_across_a_send_is_declined() {
    let ir = "method Test>>f args 0 temps 0
bb0:
    v0 = self
    v1 = same v0 v0
    v2 = send lit0 v0 @4 []
    v3 = bool_obj v1
    return v3
";
    assert_eq!(select_text(ir), Err("v1 is live across a call".to_string()));
}

/// A VM built from lst's image sources and `extra` (image-builder format).
fn vm_with(extra: &str) -> lst_vm::Vm {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let mut sources = builder::read_sources(std::path::Path::new(dir), "image").unwrap();
    sources.push(builder::Source {
        name: "test/fib.st".into(),
        text: extra.into(),
    });
    builder::build(&sources, lst_vm::Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The LLVM IR as selected (before LLVM's passes) of the method `name`.
fn selected_ir_of(vm: &Vm, name: &str) -> String {
    let (_, method) = vm
        .methods_of_globals()
        .into_iter()
        .find(|&(_, m)| vm.method_name(m) == name)
        .unwrap_or_else(|| panic!("no method {name}"));
    let mut jit = LlvmJit::new().expect("the LLVM JIT");
    jit.keep_listing = true;
    jit.compile(vm, method, 0, 1, Level::Optimized)
        .unwrap_or_else(|e| panic!("LLVM declined {name}: {e}"));
    jit.listing.expect("a listing").selected
}

#[test]
fn fib_selects_its_smallint_fast_paths_as_overflow_intrinsics() {
    let vm = vm_with(
        "CLASS Fib Object
METHOD Fib
fib: n
\tn < 2 ifTrue: [ ^ n ].
\t^ (self fib: n - 1) + (self fib: n - 2)
!
",
    );
    let text = selected_ir_of(&vm, "Fib>>fib:");
    for wanted in [
        "@llvm.ssub.with.overflow.i64",
        "@llvm.sadd.with.overflow.i64",
        "icmp slt i64",
    ] {
        assert!(text.contains(wanted), "no {wanted} in:\n{text}");
    }
}

#[test]
fn an_at_put_loop_and_a_getter_select_their_inline_paths() {
    let vm = vm_with(
        "CLASS Box Object count
METHOD Box
count
\t^ count
!
METHOD Box
fill: a
\t| i |
\ti := 1.
\t[ i <= a size ] whileTrue: [ a at: i put: self count. i := i + 1 ]
!
",
    );
    let text = selected_ir_of(&vm, "Box>>fill:");
    // The index check of at:put: and the getter's class and slot checks.
    for wanted in ["index_object", "quick_object", "quick_access"] {
        assert!(text.contains(wanted), "no {wanted} in:\n{text}");
    }
}

#[test]
fn new_allocates_inline_with_the_helper_as_its_slow_path() {
    let vm = vm_with(
        "CLASS Maker Object
METHOD Maker
make: n
\t^ Array new: n
!
",
    );
    let text = selected_ir_of(&vm, "Maker>>make:");
    // The bump allocation and the nil-filling loop, and the helper only
    // in the block the inline path's checks fail to.
    for wanted in ["alloc_room", "fill_test", "new_slow"] {
        assert!(text.contains(wanted), "no {wanted} in:\n{text}");
    }
    // The helper (a plain call, not a tail call) is called only there.
    let (mut block, mut calls) = ("", vec![]);
    for line in text.lines() {
        if let Some((label, _)) = line.split_once(':').filter(|_| !line.starts_with(' ')) {
            block = label;
        }
        if line.contains("= call i64 inttoptr") {
            calls.push(block);
        }
    }
    assert_eq!(calls, ["new_slow"], "{text}");
}

#[test]
fn unboxed_float_ops_are_selected_inline_on_doubles() {
    let ir = include_str!("../../jit/tests/filetests/verify/ok_unboxed.ir");
    let ir = ir.trim_start_matches("; ok\n");
    let text = select_text(ir).expect("selected");
    for op in [
        "fadd double",
        "fsub double",
        "fmul double",
        "fdiv double",
        "fcmp olt double",
        "fcmp ogt double",
        "fcmp oeq double",
        "sitofp i64",
    ] {
        assert!(text.contains(op), "no {op} in {text}");
    }
    // No Float stub: the unboxing and the boxing are inline.
    assert!(!text.contains("preserve_allcc"), "{text}");
    // The float block parameters are phis of the doubles' bits.
    assert!(text.contains("phi i64"), "{text}");
}
