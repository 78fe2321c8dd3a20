//! The shared `new:` function the baseline calls for the IR's
//! `new_slots`: `SystemV fn(vm, class, size) -> object or 0`, the same
//! signature as the runtime's `lst_new_slots`. It makes small objects by
//! the bump allocation every Cranelift function inlines
//! ([`crate::alloc_kit::new_slots`]) and hands everything else to
//! `lst_new_slots` (larger objects, no room at the top of the space, GC
//! stress, a receiver that is not a class): so the baseline's `new:` is
//! the same allocation code as Cranelift's, written once, without a
//! template of its own.
//!
//! Like `lst_new_slots`, it never collects: 0 means the send must be
//! performed (which may collect).

use crate::alloc_kit;
use cranelift_codegen::ir::{self as cl, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::Layout;

/// Builds the function into `b`; `runtime` is `lst_new_slots`.
pub fn build(b: &mut FunctionBuilder, lay: &Layout, runtime: cl::FuncRef) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.ensure_inserted_block();
    let p = b.block_params(entry);
    let (vm, class, size) = (p[0], p[1], p[2]);
    let slow = b.create_block();
    b.set_cold_block(slow);
    let made = alloc_kit::new_slots(b, lay, vm, class, size, slow);
    b.ins().return_(&[made]);
    b.switch_to_block(slow);
    let call = b.ins().call(runtime, &[vm, class, size]);
    let made = b.inst_results(call)[0];
    b.ins().return_(&[made]);
    b.seal_all_blocks();
}
