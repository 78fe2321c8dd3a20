//! The CLIF helper kit: the small pieces of Cranelift IR that the lowering
//! ([`crate::lower`]) and the shared functions (the send, return and
//! Float stubs) build again and again: memory flags, importing helpers,
//! the SmallInt tag (testing, tagging, untagging), object headers and
//! classes, booleans, branches, and the tail calls that go on at a
//! continuation or at the code a helper named.
//!
//! Every number about the tag and the object layout comes from
//! [`Layout`], which the VM derives from its Rust definitions
//! (`lst_vm::value`, `lst_vm::heap`); none is written here or in the
//! modules that use the kit. The kit relies only on what `lst_vm::value`
//! promises: a SmallInt's tag bits are all set and a reference's all
//! clear, so the tag bits of a word (or of the `and` of two words) are
//! nonzero exactly when it is a SmallInt (they both are).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{self as cl, BlockArg, FuncRef, InstBuilder, MemFlagsData, SigRef};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::Layout;

/// The flags of every load and store compiled code does: the VM's
/// memory is always mapped and aligned.
pub(crate) const FLAGS: MemFlagsData = MemFlagsData::trusted();

/// Bytes per word of the VM stack and of heap objects, and its log 2.
pub(crate) const WORD_BYTES: i32 = lst_vm::heap::WORD_BYTES as i32;
pub(crate) const WORD_SHIFT: i64 = WORD_BYTES.trailing_zeros() as i64;

/// The byte offset of word `n` from an address.
pub(crate) fn word_offset(n: usize) -> i32 {
    WORD_BYTES * i32::try_from(n).expect("word offsets are small")
}

// -- Importing helpers ---------------------------------------------------------

/// What importing a helper or a shared function into a function takes:
/// its module-level function, its signature and whether it is in code
/// memory (a direct call) or in Rust (through its address).
pub struct HelperImport {
    pub id: cranelift_module::FuncId,
    pub signature: cl::Signature,
    pub colocated: bool,
}

/// Imports `f` into the function `b` builds (as
/// `cranelift_module::Module::declare_func_in_func` would).
pub(crate) fn import(b: &mut FunctionBuilder, f: &HelperImport) -> FuncRef {
    let signature = b.import_signature(f.signature.clone());
    let name = b
        .func
        .declare_imported_user_function(cl::UserExternalName::new(0, f.id.as_u32()));
    b.import_function(cl::ExtFuncData {
        name: cl::ExternalName::user(name),
        signature,
        colocated: f.colocated,
        patchable: false,
    })
}

/// `imports[i]` in the function `b` builds, imported the first time it
/// is asked for (`imported` remembers what is).
pub(crate) fn import_once(
    b: &mut FunctionBuilder,
    imported: &mut [Option<FuncRef>],
    imports: &[HelperImport],
    i: usize,
) -> FuncRef {
    *imported[i].get_or_insert_with(|| import(b, &imports[i]))
}

// -- The SmallInt tag ----------------------------------------------------------

/// The tag bits of `v`: nonzero exactly when `v` is a SmallInt (for the
/// `and` of two words, when both are).
pub(crate) fn tag_of(b: &mut FunctionBuilder, lay: &Layout, v: cl::Value) -> cl::Value {
    b.ins().band_imm_u(v, lay.tag_mask)
}

/// Whether `v` is a SmallInt (for the `and` of two words: both are).
pub(crate) fn is_int(b: &mut FunctionBuilder, lay: &Layout, v: cl::Value) -> cl::Value {
    let tag = tag_of(b, lay, v);
    b.ins().icmp_imm_s(IntCC::NotEqual, tag, 0)
}

/// Whether `v` is a reference (an object), not a SmallInt.
pub(crate) fn is_ref(b: &mut FunctionBuilder, lay: &Layout, v: cl::Value) -> cl::Value {
    let tag = tag_of(b, lay, v);
    b.ins().icmp_imm_s(IntCC::Equal, tag, 0)
}

/// The integer of SmallInt word `v`.
pub(crate) fn untag(b: &mut FunctionBuilder, lay: &Layout, v: cl::Value) -> cl::Value {
    b.ins().sshr_imm_u(v, lay.tag_bits)
}

/// SmallInt word `v` without its tag: its integer times 2^tag bits, so
/// that tagged sums, differences and products need one correction.
pub(crate) fn detag(b: &mut FunctionBuilder, lay: &Layout, v: cl::Value) -> cl::Value {
    b.ins().iadd_imm_s(v, -lay.smallint_tag)
}

/// The SmallInt word of integer `n` (which must fit).
pub(crate) fn tag(b: &mut FunctionBuilder, lay: &Layout, n: cl::Value) -> cl::Value {
    let shifted = b.ins().ishl_imm_u(n, lay.tag_bits);
    b.ins().iadd_imm_s(shifted, lay.smallint_tag)
}

/// [`tag`] with the shift made of additions: `n + n + tag` for a
/// one-bit tag, one `lea` on x86-64.
pub(crate) fn tag_by_adding(b: &mut FunctionBuilder, lay: &Layout, n: cl::Value) -> cl::Value {
    let mut shifted = n;
    for _ in 0..lay.tag_bits {
        shifted = b.ins().iadd(shifted, shifted);
    }
    b.ins().iadd_imm_s(shifted, lay.smallint_tag)
}

/// The SmallInt word of constant `n` (which must fit).
pub(crate) fn tag_const(lay: &Layout, n: i64) -> i64 {
    (n << lay.tag_bits) | lay.smallint_tag
}

/// The byte offset of the word index in SmallInt word `word` (a frame's
/// FP or TB): `index · 8`, computed from the tagged word in one shift and
/// one add (a `lea` on x86-64), without untagging first.
pub(crate) fn index_bytes(b: &mut FunctionBuilder, lay: &Layout, word: cl::Value) -> cl::Value {
    let shift = WORD_SHIFT - lay.tag_bits;
    let scaled = b.ins().ishl_imm_u(word, shift);
    b.ins().iadd_imm_s(scaled, -(lay.smallint_tag << shift))
}

// -- Objects -------------------------------------------------------------------

/// The header word of object `obj`.
pub(crate) fn header(b: &mut FunctionBuilder, lay: &Layout, obj: cl::Value) -> cl::Value {
    b.ins().load(I64, FLAGS, obj, lay.header_word)
}

/// The class of object `obj` (not a SmallInt).
pub(crate) fn class_word(b: &mut FunctionBuilder, lay: &Layout, obj: cl::Value) -> cl::Value {
    b.ins().load(I64, FLAGS, obj, lay.class_word)
}

/// The size field of header word `header`: slots, or bytes for a byte
/// object.
pub(crate) fn size_of(b: &mut FunctionBuilder, lay: &Layout, header: cl::Value) -> cl::Value {
    b.ins().band_imm_u(header, lay.size_mask as i64)
}

/// From an object's header word: whether the object holds pointers (not
/// bytes), and its slot count (meaningful only if it does).
pub(crate) fn pointer_header(
    b: &mut FunctionBuilder,
    lay: &Layout,
    header: cl::Value,
) -> (cl::Value, cl::Value) {
    let bytes = b.ins().band_imm_u(header, lay.bytes_flag as i64);
    let pointers = b.ins().icmp_imm_s(IntCC::Equal, bytes, 0);
    let size = size_of(b, lay, header);
    (pointers, size)
}

/// The class of `v` (SmallInt's for a SmallInt).
pub(crate) fn class_of(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    v: cl::Value,
) -> cl::Value {
    let (int, obj, have) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(have, I64);
    let tag = tag_of(b, lay, v);
    b.ins().brif(tag, int, &[], obj, &[]);
    b.switch_to_block(int);
    let c = b.ins().load(I64, FLAGS, vm, lay.smallint_class);
    b.ins().jump(have, &[BlockArg::Value(c)]);
    b.switch_to_block(obj);
    let c = class_word(b, lay, v);
    b.ins().jump(have, &[BlockArg::Value(c)]);
    b.switch_to_block(have);
    b.block_params(have)[0]
}

/// true or false, as machine condition `c` says.
pub(crate) fn boolean(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    c: cl::Value,
) -> cl::Value {
    let t = b.ins().load(I64, FLAGS, vm, lay.true_);
    let f = b.ins().load(I64, FLAGS, vm, lay.false_);
    b.ins().select(c, t, f)
}

// -- Control -------------------------------------------------------------------

/// Goes on in a new current block if `ok` (nonzero), else to `fail`.
pub(crate) fn continue_if(b: &mut FunctionBuilder, ok: cl::Value, fail: cl::Block) {
    let next = b.create_block();
    b.ins().brif(ok, next, &[], fail, &[]);
    b.switch_to_block(next);
}

/// Tail-calls the native continuation that the tagged word `word` (a
/// frame's RETPC, a send site's `retpc`) names, on frame `hp` with
/// `value`. The record lies at `NativeRegs::records_by_word` plus `word`
/// times a record's size shifted right by the tag bits: no untagging.
pub(crate) fn call_continuation(
    b: &mut FunctionBuilder,
    lay: &Layout,
    tail_sig: SigRef,
    vm: cl::Value,
    hp: cl::Value,
    value: cl::Value,
    word: cl::Value,
) {
    let offset = b.ins().imul_imm_s(word, lay.record_size >> lay.tag_bits);
    let records = b.ins().load(I64, FLAGS, vm, lay.regs_records_by_word);
    let record = b.ins().iadd(records, offset);
    let code = b.ins().load(I64, FLAGS, record, lay.record_code);
    let k = b.ins().uload32(FLAGS, record, lay.record_k);
    b.ins()
        .return_call_indirect(tail_sig, code, &[vm, hp, value, k]);
}

/// Acts on a helper's answer `r` other than "go on": 0 leaves native code
/// (a return to the trampoline), anything else is a code address to
/// tail-call with the frame, entry and value the helper left in the
/// registers.
pub(crate) fn leave_or_call_named(
    b: &mut FunctionBuilder,
    lay: &Layout,
    tail_sig: SigRef,
    vm: cl::Value,
    r: cl::Value,
) {
    let (exit, named) = (b.create_block(), b.create_block());
    b.ins().brif(r, named, &[], exit, &[]);
    b.switch_to_block(exit);
    b.ins().return_(&[r]);
    b.switch_to_block(named);
    let value = b.ins().load(I64, FLAGS, vm, lay.regs_value);
    call_named(b, lay, tail_sig, vm, r, value);
}

/// Tail-calls `code`, an address a helper answered, with the frame and
/// entry it left in the registers (`NativeRegs`) and `value`.
fn call_named(
    b: &mut FunctionBuilder,
    lay: &Layout,
    tail_sig: SigRef,
    vm: cl::Value,
    code: cl::Value,
    value: cl::Value,
) {
    let hp = b.ins().load(I64, FLAGS, vm, lay.regs_hp);
    let k = b.ins().load(I64, FLAGS, vm, lay.regs_k);
    b.ins()
        .return_call_indirect(tail_sig, code, &[vm, hp, value, k]);
}
