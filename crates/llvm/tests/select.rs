//! The instruction selector on IR written by hand: a send becomes a
//! `musttail` call of the send stub and a continuation entered by the
//! entry switch, and what it cannot keep honestly (a value live across a
//! send that the frame does not hold) is declined with a reason, not
//! miscompiled.
#![cfg(feature = "llvm")]

use inkwell::context::Context;
use lst_backends::CraneliftJit;
use lst_llvm::select::{Env, select};
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::vm::Vm;

/// Selects IR `text` (with one literal) into a fresh module; the module's
/// text, or why the selector declined.
fn select_text(text: &str) -> Result<String, String> {
    let f = lst_jit::parse::parse_function(text).expect("the IR parses");
    let stubs = CraneliftJit::new().expect("the stubs build");
    let sites: Vec<SendSite> = (0..4).map(|_| SendSite::default()).collect();
    let layout = Vm::native_layout();
    let env = Env {
        layout: &layout,
        targets: stubs.shared_targets(),
        first_record: 1,
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
