//! The Cranelift lowering of the unboxed Float ops on IR written by hand
//! (the verifier's own example of them, `ok_unboxed.ir` in lst-jit's
//! filetests): every op is selected inline, on `F64` values and block
//! parameters, with no call of a Float function, and the function passes
//! Cranelift's verifier.

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
}
