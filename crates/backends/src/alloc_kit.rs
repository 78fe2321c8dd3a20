//! The CLIF pieces of allocation, shared by every piece of compiled code
//! that makes an object without calling into Rust: a bump allocation at
//! the top of the heap's active space (what `Heap::bump` does), the new
//! Float of [`crate::float_kit`], and the pointer object of `new:`
//! (primitive 7) for the IR's `new_slots`.
//!
//! Each piece branches to a `fail` block its caller gives when it cannot
//! allocate without a collection (no room at the top of the space, or GC
//! stress is on, so that stress runs still collect at every allocation)
//! or when the primitive would fail; the caller then calls the runtime,
//! which decides. Every number about the object and heap layout comes
//! from [`Layout`]; this module must not know a Smalltalk selector or
//! decide when an allocation is inlined (the IR does).

use crate::clif_kit::{
    FLAGS, WORD_BYTES, WORD_SHIFT, continue_if, header, is_int, is_ref, pointer_header, untag,
};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, BlockArg, InstBuilder, types::I8, types::I32, types::I64};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::Layout;

/// The most slots a `new:` allocates inline; larger objects are made by
/// the runtime (their filling dominates the call anyway).
pub const INLINE_NEW_MAX_SLOTS: i64 = 64;

/// The words of an object's header (its header word and its class).
pub(crate) fn header_words(lay: &Layout) -> i64 {
    i64::from(lay.first_slot / WORD_BYTES)
}

/// A new object of `words` words in all (`I64`) whose header's size and
/// flags are `size_and_flags`, bump-allocated as `Heap::bump` would: the
/// header gets the next identity hash, the heap's statistics count the
/// words. Its class word and slots are left as they are (the caller
/// writes them before anything can look at the object). `fail` when that would need a collection or
/// GC stress is on.
pub(crate) fn bump(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    words: cl::Value,
    size_and_flags: cl::Value,
    fail: cl::Block,
) -> cl::Value {
    let a = lay.alloc;
    let at = |offset: usize| i32::try_from(offset).expect("Vm field offsets are small");
    let stress = b.ins().load(I8, FLAGS, vm, lay.gc_stress);
    let calm = b.ins().icmp_imm_s(IntCC::Equal, stress, 0);
    continue_if(b, calm, fail);
    let top = b.ins().load(I64, FLAGS, vm, at(a.top));
    let end = b.ins().load(I64, FLAGS, vm, at(a.words));
    let new_top = b.ins().iadd(top, words);
    let fits = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, new_top, end);
    continue_if(b, fits, fail);
    let base = b.ins().load(I64, FLAGS, vm, at(a.base));
    let top8 = b.ins().ishl_imm_u(top, WORD_SHIFT);
    let object = b.ins().iadd(base, top8);
    b.ins().store(FLAGS, new_top, vm, at(a.top));
    let hash = b.ins().load(I32, FLAGS, vm, at(a.next_hash));
    let hash = b.ins().iadd_imm_s(hash, i64::from(a.hash_step));
    let hash = b.ins().band_imm_u(hash, i64::from(a.hash_mask));
    b.ins().store(FLAGS, hash, vm, at(a.next_hash));
    let allocated = b.ins().load(I64, FLAGS, vm, at(a.allocated_words));
    let allocated = b.ins().iadd(allocated, words);
    b.ins().store(FLAGS, allocated, vm, at(a.allocated_words));
    let hash = b.ins().uextend(I64, hash);
    let hash = b.ins().ishl_imm_u(hash, i64::from(a.hash_shift));
    let header = b.ins().bor(hash, size_and_flags);
    b.ins().store(FLAGS, header, object, lay.header_word);
    object
}

/// What primitive 7 answers for `class new: size` (`size` a tagged
/// word): a new pointer object of `size` nil slots, bump-allocated; `fail`
/// where the primitive would fail (`class` is not shaped as a class,
/// `size` is not a SmallInt from 0), where the object is larger than
/// [`INLINE_NEW_MAX_SLOTS`], or where [`bump`] fails.
pub(crate) fn new_slots(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    class: cl::Value,
    size: cl::Value,
    fail: cl::Block,
) -> cl::Value {
    let small = is_int(b, lay, size);
    continue_if(b, small, fail);
    let n = untag(b, lay, size);
    let in_range = b
        .ins()
        .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, n, INLINE_NEW_MAX_SLOTS);
    continue_if(b, in_range, fail);
    let object = is_ref(b, lay, class);
    continue_if(b, object, fail);
    // A class holds pointers and has at least the class slots.
    let h = header(b, lay, class);
    let (pointers, slots) = pointer_header(b, lay, h);
    let shaped = b.ins().icmp_imm_u(
        IntCC::UnsignedGreaterThanOrEqual,
        slots,
        lay.class_min_slots as i64,
    );
    let is_class = b.ins().band(shaped, pointers);
    continue_if(b, is_class, fail);
    let words = b.ins().iadd_imm_s(n, header_words(lay));
    let made = bump(b, lay, vm, words, n, fail);
    b.ins().store(FLAGS, class, made, lay.class_word);
    fill_with_nil(b, lay, vm, made, n);
    made
}

/// Stores nil into slots 1..=n of `object` (a loop; `n` may be 0).
fn fill_with_nil(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    object: cl::Value,
    n: cl::Value,
) {
    let nil = b.ins().load(I64, FLAGS, vm, lay.nil);
    let (test, body, done) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(test, I64);
    let first = b.ins().iadd_imm_s(object, i64::from(lay.first_slot));
    let n8 = b.ins().ishl_imm_u(n, WORD_SHIFT);
    let end = b.ins().iadd(first, n8);
    b.ins().jump(test, &[BlockArg::Value(first)]);
    b.switch_to_block(test);
    let at = b.block_params(test)[0];
    let more = b.ins().icmp(IntCC::UnsignedLessThan, at, end);
    b.ins().brif(more, body, &[], done, &[]);
    b.switch_to_block(body);
    b.ins().store(FLAGS, nil, at, 0);
    let next = b.ins().iadd_imm_s(at, i64::from(WORD_BYTES));
    b.ins().jump(test, &[BlockArg::Value(next)]);
    b.switch_to_block(done);
}
