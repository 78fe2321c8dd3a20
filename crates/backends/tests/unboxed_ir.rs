//! The Cranelift lowering of the unboxed Float ops on IR written by hand
//! (the verifier's own example of them, `ok_unboxed.ir` in lst-jit's
//! filetests): every op is selected inline, on `F64` values and block
//! parameters, with no call of a Float function, and the function passes
//! Cranelift's verifier; the baseline declines them cleanly.

use lst_backends::CraneliftJit;

#[test]
fn unboxed_float_ops_lower_inline_on_f64() {
    let text = include_str!("../../jit/tests/filetests/verify/ok_unboxed.ir");
    let ir = lst_jit::parse::parse_function(text).expect("the IR parses");
    lst_jit::verify::verify(&ir).expect("the IR verifies");
    // SAFETY: this is the binary's only test, and no other thread reads
    // the environment while it is set.
    unsafe { std::env::set_var("LST_JIT_VERIFY", "1") };
    // With the verifier on (LST_JIT_VERIFY), compiling checks the CLIF.
    let mut jit = CraneliftJit::new().expect("a JIT");
    jit.keep_listing = true;
    jit.compile_ir(&ir, &[], 1).expect("lowered and verified");
    let clif = jit.listing.take().expect("a listing").clif;
    for op in [
        "fadd",
        "fsub",
        "fmul",
        "fdiv",
        "fcmp lt",
        "fcmp gt",
        "fcmp eq",
        "fcvt_from_sint",
    ] {
        assert!(clif.contains(op), "no {op} in\n{clif}");
    }
    assert!(clif.contains(": f64"), "no f64 block parameter in\n{clif}");
    assert!(
        !clif.contains("preserve_all"),
        "a Float function is called:\n{clif}"
    );
    the_baseline_declines_unboxed_ops_cleanly(&ir, &jit);
}

/// The baseline selects none of the unboxed ops (the region pass never
/// runs for it); given them anyway, it declines the unit with a reason,
/// which the tiering counts and handles, instead of panicking. (Called
/// from the one test: the other sets the environment.)
fn the_baseline_declines_unboxed_ops_cleanly(ir: &lst_jit::ir::Function, jit: &CraneliftJit) {
    use lst_backends::baseline::{Env, compile};
    use lst_backends::lower::MethodFacts;
    use lst_vm::jit_runtime::inline_cache::SendSite;
    let layout = lst_vm::Vm::native_layout();
    let sites: Vec<SendSite> = (0..4).map(|_| SendSite::default()).collect();
    let counter = std::cell::Cell::new(i64::MAX);
    let env = Env {
        layout: &layout,
        targets: jit.targets(),
        first_record: 1,
        sites: &sites,
        counter: &counter as *const std::cell::Cell<i64> as u64,
    };
    let facts = MethodFacts {
        bytecodes: &[],
        literal_count: 1,
        inlined: &[],
    };
    let why = compile(ir, &facts, &env).expect_err("declined").0;
    assert!(why.contains("cannot lower UnboxFloat"), "{why}");
}
