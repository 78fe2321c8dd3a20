//! The send stub: one shared function every compiled send tail-calls, in
//! continuation-passing style, after writing the receiver and arguments
//! into its frame.
//!
//! `tail fn(vm, hp, site, receiver) -> u64`, with `site` a [`SendSite`]
//! (`lst_vm::jit_runtime::inline_cache`). It takes the receiver's class and
//! looks for it in the site's ways (a polymorphic inline cache). On a hit
//! it does what the interpreter's send would: ticks the countdown, pushes
//! the callee's frame (temporaries, then the header, with the site's
//! continuation as the return point) and tail-calls the callee's compiled
//! code. A Block receiver at a site that sends `value…` to blocks is
//! looked up in the block table (`lst_vm::jit_runtime::block_cache`) instead:
//! on a hit the stub activates the block as the runtime would (arguments
//! into the home's temporaries, the block frame) and tail-calls the
//! body's compiled code. Anything else (a miss, a due safepoint, a stack
//! about to overflow) goes to the runtime's `lst_send_site`, which sends
//! through the method cache and refills the site.
//!
//! A site marked direct (it has seen a primitive method answer) whose
//! ways miss goes to the [`build_direct`] stub, which calls the runtime's
//! `lst_send_direct`: it runs a cached primitive on the caller's stack,
//! and the stub goes on at the site's continuation with the answer.
//!
//! Keeping the guard and the frame push here, not at each send, keeps
//! compiled methods small and their compile times short.
//!
//! The stub is five functions: the main one ([`build`]) has the common
//! case, a method way's frame push, and tail-calls the [`build_quick`]
//! stub for a quick way, the [`build_direct`] stub when no way holds the
//! class at a direct site, the [`build_block`] stub when no way holds it
//! elsewhere, and the [`build_slow`] stub for the runtime's send. Apart,
//! each has fewer live values and only the direct and slow ones call
//! into Rust, so the hot path spills less. The main stub checks first
//! and computes the frame's numbers after, each word of the header
//! written as soon as it is known, so that few values are live at once:
//! it saves two callee-saved registers (it saved five when the frame's
//! numbers were all computed up front).
//!
//! [`SendSite`]: lst_vm::jit_runtime::inline_cache::SendSite

use crate::clif_kit::{
    FLAGS, WORD_SHIFT, call_continuation, class_of, class_word, continue_if, header,
    leave_or_call_named, pointer_header, size_of, tag_by_adding, tag_of, untag, word_offset,
};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    self as cl, BlockArg, FuncRef, InstBuilder, SigRef, types, types::I64,
};
use cranelift_frontend::FunctionBuilder;
use lst_vm::jit_runtime::boundary::{self as rt, Layout};
use lst_vm::jit_runtime::inline_cache::IC_WAYS;

/// The stubs the main stub hands over to.
pub struct Next {
    pub slow: FuncRef,
    pub quick: FuncRef,
    pub direct: FuncRef,
    pub block: FuncRef,
}

/// Builds the main stub's body into `b` (whose signature is the tail one).
pub fn build(b: &mut FunctionBuilder, lay: &Layout, next: &Next, tail_sig: SigRef) {
    let (vm, hp, site, receiver) = entry(b);
    let s = lay.site;
    let class = class_of(b, lay, vm, receiver);
    let slow = b.create_block();

    // The ways, in order. (The frame's numbers are computed after a hit,
    // so that fewer values are live across the probe.)
    let hit = b.create_block();
    let miss = b.create_block();
    b.append_block_param(hit, I64);
    for i in 0..IC_WAYS {
        let way = s.ways + s.way_size * i as i32;
        let cached = b.ins().load(I64, FLAGS, site, way + s.class);
        let same = b.ins().icmp(IntCC::Equal, cached, class);
        let next = if i + 1 < IC_WAYS {
            b.create_block()
        } else {
            miss
        };
        let way_addr = b.ins().iadd_imm_s(site, i64::from(way));
        b.ins()
            .brif(same, hit, &[BlockArg::Value(way_addr)], next, &[]);
        if next != miss {
            b.switch_to_block(next);
        }
    }

    // Not a method way: perhaps a cached primitive (a direct site), or a
    // block of a compiled body.
    b.switch_to_block(miss);
    let direct = b.ins().load(I64, FLAGS, site, s.direct);
    tail_call_if(b, direct, next.direct, &[vm, hp, site, receiver]);
    b.ins().return_call(next.block, &[vm, hp, site, receiver]);

    // A hit: a quick method's answer, or the callee's frame unless the
    // stack would overflow.
    b.switch_to_block(hit);
    let way = b.block_params(hit)[0];
    let quick = b.ins().load(I64, FLAGS, way, s.quick);
    tail_call_if(b, quick, next.quick, &[vm, hp, site, way]);
    // The checks first and the frame's numbers after them, in the order
    // they are used, so that few values are live at once (the stub saves
    // two callee-saved registers; five when it computed them up front).
    let len = b.ins().load(I64, FLAGS, vm, lay.stack_len);
    let temps = b.ins().load(I64, FLAGS, way, s.temps);
    let new_hp = b.ins().iadd(len, temps);
    let top = b.ins().iadd_imm_s(new_hp, lay.header as i64);
    let limit = b.ins().load(I64, FLAGS, vm, lay.stack_limit);
    let over = b.ins().icmp(IntCC::UnsignedGreaterThan, top, limit);
    let room = b.create_block();
    b.ins().brif(over, slow, &[], room, &[]);
    b.switch_to_block(room);
    tick(b, lay, vm, slow);
    let hits = b.ins().load(I64, FLAGS, site, s.hits);
    let hits = b.ins().iadd_imm_s(hits, 1);
    b.ins().store(FLAGS, hits, site, s.hits);
    let nvals = b.ins().load(I64, FLAGS, site, lay.site.nvals);
    let fp = b.ins().isub(len, nvals);
    let base = b.ins().load(I64, FLAGS, vm, lay.stack_base);
    let nil = b.ins().load(I64, FLAGS, vm, lay.nil);
    let header = Header {
        method: Word::Load(way, s.method),
        fp,
        tb: len,
        hp: new_hp,
        context: Word::Value(nil),
        temps: Word::Value(nil),
        code: Word::Load(way, s.code),
        literals: Word::Load(way, s.literals),
    };
    push_header(b, lay, vm, hp, site, base, nil, &header);
    let code = b.ins().load(I64, FLAGS, way, s.entry);
    fill_temps(b, base, len, new_hp, nil);
    let zero = b.ins().iconst(I64, 0);
    b.ins()
        .return_call_indirect(tail_sig, code, &[vm, new_hp, nil, zero]);
    to_slow(b, slow, next.slow, vm, hp, site);
    b.seal_all_blocks();
}

/// Builds the quick stub, `tail fn(vm, hp, site, way)`: the main stub
/// found the receiver's class in `way`, which holds a quick method.
pub fn build_quick(b: &mut FunctionBuilder, lay: &Layout, slow_stub: FuncRef, tail_sig: SigRef) {
    let (vm, hp, site, way) = entry(b);
    let slow = b.create_block();
    let receiver = receiver_of(b, lay, vm, site);
    let f = frame(b, lay, vm, hp, site, receiver, slow);
    quick_path(b, lay, tail_sig, &f, way, slow);
    to_slow(b, slow, slow_stub, f.vm, f.hp, f.site);
    b.seal_all_blocks();
}

/// Builds the direct stub, `tail fn(vm, hp, site, receiver)`: no way of
/// a direct site holds the receiver's class. The runtime's
/// `lst_send_direct` runs a primitive way's primitive (or sends as the
/// slow stub does), and the stub goes on as it answers; `TRY_STUB` (a
/// block at a site that sends `value…` to blocks) goes to the block stub.
/// `lst_send_direct` moves nothing before it answers `TRY_STUB`, so the
/// receiver is still valid then.
pub fn build_direct(
    b: &mut FunctionBuilder,
    lay: &Layout,
    send_direct: FuncRef,
    block_stub: FuncRef,
    tail_sig: SigRef,
) {
    let (vm, hp, site, receiver) = entry(b);
    let call = b.ins().call(send_direct, &[vm, hp, site]);
    let r = b.inst_results(call)[0];
    let is_stub = b.ins().icmp_imm_s(IntCC::Equal, r, rt::TRY_STUB as i64);
    let (to_block, answered) = (b.create_block(), b.create_block());
    b.ins().brif(is_stub, to_block, &[], answered, &[]);
    b.switch_to_block(to_block);
    b.ins().return_call(block_stub, &[vm, hp, site, receiver]);
    b.switch_to_block(answered);
    answer(b, lay, tail_sig, vm, hp, site, r);
    b.seal_all_blocks();
}

/// Builds the block stub, `tail fn(vm, hp, site, receiver)`: no way of
/// the site holds the receiver's class.
pub fn build_block(b: &mut FunctionBuilder, lay: &Layout, slow_stub: FuncRef, tail_sig: SigRef) {
    let (vm, hp, site, receiver) = entry(b);
    let slow = b.create_block();
    block_path(b, lay, tail_sig, vm, hp, site, receiver, slow);
    to_slow(b, slow, slow_stub, vm, hp, site);
    b.seal_all_blocks();
}

/// Builds the slow stub, `tail fn(vm, hp, site, _)`: the send through the
/// runtime's `lst_send_site` (a miss, a due safepoint, a stack about to
/// overflow), going on as it answers. It is the only stub that calls
/// into Rust; apart, the others need no callee-saved registers.
pub fn build_slow(b: &mut FunctionBuilder, lay: &Layout, send_site: FuncRef, tail_sig: SigRef) {
    let (vm, hp, site, _) = entry(b);
    let call = b.ins().call(send_site, &[vm, hp, site]);
    let r = b.inst_results(call)[0];
    answer(b, lay, tail_sig, vm, hp, site, r);
    b.seal_all_blocks();
}

/// Tail-calls `stub` with `args` when `flag` is nonzero; goes on in a
/// new current block otherwise.
fn tail_call_if(b: &mut FunctionBuilder, flag: cl::Value, stub: FuncRef, args: &[cl::Value]) {
    let (call, next) = (b.create_block(), b.create_block());
    b.ins().brif(flag, call, &[], next, &[]);
    b.switch_to_block(call);
    b.ins().return_call(stub, args);
    b.switch_to_block(next);
}

/// Fills the (cold) block `slow`: a tail call of the slow stub.
fn to_slow(
    b: &mut FunctionBuilder,
    slow: cl::Block,
    slow_stub: FuncRef,
    vm: cl::Value,
    hp: cl::Value,
    site: cl::Value,
) {
    b.set_cold_block(slow);
    b.switch_to_block(slow);
    b.ins().return_call(slow_stub, &[vm, hp, site, hp]);
}

/// The entry block of a stub and its four parameters.
pub(crate) fn entry(b: &mut FunctionBuilder) -> (cl::Value, cl::Value, cl::Value, cl::Value) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    // First in the layout, before any block filled ahead of it.
    b.ensure_inserted_block();
    let p = b.block_params(entry);
    (p[0], p[1], p[2], p[3])
}

/// The receiver of `site`'s send, read from the stack.
fn receiver_of(b: &mut FunctionBuilder, lay: &Layout, vm: cl::Value, site: cl::Value) -> cl::Value {
    let len = b.ins().load(I64, FLAGS, vm, lay.stack_len);
    let nvals = b.ins().load(I64, FLAGS, site, lay.site.nvals);
    let fp = b.ins().isub(len, nvals);
    let base = b.ins().load(I64, FLAGS, vm, lay.stack_base);
    let fp8 = b.ins().ishl_imm_u(fp, WORD_SHIFT);
    let at = b.ins().iadd(base, fp8);
    b.ins().load(I64, FLAGS, at, 0)
}

/// The send's place on the stack and the ticked countdown; a due
/// safepoint goes to `slow` (the runtime's business).
fn frame(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    hp: cl::Value,
    site: cl::Value,
    receiver: cl::Value,
    slow: cl::Block,
) -> Frame {
    let len = b.ins().load(I64, FLAGS, vm, lay.stack_len);
    let nvals = b.ins().load(I64, FLAGS, site, lay.site.nvals);
    let fp = b.ins().isub(len, nvals);
    let base = b.ins().load(I64, FLAGS, vm, lay.stack_base);
    let count = ticked(b, lay, vm, slow);
    Frame {
        vm,
        hp,
        site,
        base,
        fp,
        receiver,
        count,
    }
}

/// Ticks the countdown; a due safepoint goes to `slow` (the runtime's
/// business) without ticking.
fn tick(b: &mut FunctionBuilder, lay: &Layout, vm: cl::Value, slow: cl::Block) {
    let count = ticked(b, lay, vm, slow);
    b.ins().store(FLAGS, count, vm, lay.countdown);
}

/// The countdown ticked once, not yet stored; a due safepoint goes to
/// `slow`.
fn ticked(b: &mut FunctionBuilder, lay: &Layout, vm: cl::Value, slow: cl::Block) -> cl::Value {
    let count = b.ins().load(I64, FLAGS, vm, lay.countdown);
    // count − 1 ≤ 0, tested before the subtraction (one instruction less).
    let due = b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, count, 1);
    let go = b.create_block();
    b.ins().brif(due, slow, &[], go, &[]);
    b.switch_to_block(go);
    b.ins().iadd_imm_s(count, -1)
}

/// What the stub knows about the send when it looks past the ways.
struct Frame {
    vm: cl::Value,
    /// The caller's frame.
    hp: cl::Value,
    site: cl::Value,
    /// The stack's address and the receiver's slot.
    base: cl::Value,
    fp: cl::Value,
    receiver: cl::Value,
    /// The countdown, already ticked (stored when the send goes ahead).
    count: cl::Value,
}

/// The header of a frame about to be pushed, with its arguments at `fp`,
/// its temporaries (if inline) at `tb` and its header at `hp` (stack
/// indices).
struct Header {
    method: Word,
    fp: cl::Value,
    tb: cl::Value,
    hp: cl::Value,
    context: Word,
    temps: Word,
    code: Word,
    literals: Word,
}

/// A header word: a value, or the word at an address plus an offset,
/// read just before it is written (so that fewer values are live at
/// once, and the stub saves fewer callee-saved registers).
#[derive(Clone, Copy)]
enum Word {
    Value(cl::Value),
    Load(cl::Value, i32),
}

/// Writes frame header `h` (its caller `hp`, returning to `site`'s
/// continuation) and sets the stack length just above it. Each word is
/// written as soon as it is known, in an order that lets the values it
/// came from die early.
#[allow(clippy::too_many_arguments)]
fn push_header(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    hp: cl::Value,
    site: cl::Value,
    base: cl::Value,
    nil: cl::Value,
    h: &Header,
) {
    let hp8 = b.ins().ishl_imm_u(h.hp, WORD_SHIFT);
    let frame = b.ins().iadd(base, hp8);
    let store = |b: &mut FunctionBuilder, slot: usize, x: cl::Value| {
        b.ins().store(FLAGS, x, frame, word_offset(slot));
    };
    let top = b.ins().iadd_imm_s(h.hp, lay.header as i64);
    b.ins().store(FLAGS, top, vm, lay.stack_len);
    for (slot, n) in [(lay.h_fp, h.fp), (lay.h_tb, h.tb), (lay.h_caller, hp)] {
        let x = tag_by_adding(b, lay, n);
        store(b, slot, x);
    }
    let retpc = b.ins().load(I64, FLAGS, site, lay.site.retpc);
    store(b, lay.h_retpc, retpc);
    store(b, lay.h_serial, nil);
    let words = [
        (lay.h_method, h.method),
        (lay.h_context, h.context),
        (lay.h_temps, h.temps),
        (lay.h_code, h.code),
        (lay.h_literals, h.literals),
    ];
    for (slot, word) in words {
        let x = match word {
            Word::Value(x) => x,
            Word::Load(at, offset) => b.ins().load(I64, FLAGS, at, offset),
        };
        store(b, slot, x);
    }
}

/// Activates a block without the runtime, as `Vm::activate_block` does,
/// when the receiver is a Block whose body is in the block table with
/// this argument count (`block_cache`) and the site has sent `value…`
/// to blocks before; anything else goes to `slow`.
///
/// All checks come first and compute only whether to go on; the block's
/// fields are read again where they are used. Few values are live at
/// once, so the stub spills little (it spilled a dozen values and saved
/// five callee-saved registers when it kept every field it checked).
#[allow(clippy::too_many_arguments)]
fn block_path(
    b: &mut FunctionBuilder,
    lay: &Layout,
    tail_sig: SigRef,
    vm: cl::Value,
    hp: cl::Value,
    site: cl::Value,
    blk: cl::Value,
    slow: cl::Block,
) {
    let bl = lay.block;
    let slot = |n: usize| lay.first_slot + word_offset(n);
    let and_then = |b: &mut FunctionBuilder, ok: cl::Value| continue_if(b, ok, slow);
    let field = |b: &mut FunctionBuilder, n: usize| b.ins().load(I64, FLAGS, blk, slot(n));
    // A Block (an object of class Block with its slots) at a site that
    // sends value… to blocks.
    let marked = b.ins().load(I64, FLAGS, site, lay.site.block);
    let object = crate::clif_kit::is_ref(b, lay, blk);
    let marked = b.ins().icmp_imm_s(IntCC::NotEqual, marked, 0);
    let ok = b.ins().band(marked, object);
    and_then(b, ok);
    let class = class_word(b, lay, blk);
    let block_class = b.ins().load(I64, FLAGS, vm, lay.block_class);
    let is_block = b.ins().icmp(IntCC::Equal, class, block_class);
    and_then(b, is_block);
    let header = header(b, lay, blk);
    let (pointers, size) = pointer_header(b, lay, header);
    let big = b
        .ins()
        .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, size, bl.slots as i64);
    let ok = b.ins().band(pointers, big);
    and_then(b, ok);

    // Its body in the table, accepted with this many arguments.
    let method = field(b, bl.slot_method);
    let body = field(b, bl.slot_body);
    let e = block_entry(b, lay, vm, method, body);
    let nvals = b.ins().load(I64, FLAGS, site, lay.site.nvals);
    let k = b.ins().iadd_imm_s(nvals, -1);
    let fields = [(bl.method, method), (bl.body, body), (bl.arity, k)];
    let mut ok = b.ins().iconst(types::I8, 1);
    for (offset, want) in fields {
        let have = b.ins().load(I64, FLAGS, e, offset);
        let same = b.ins().icmp(IntCC::Equal, have, want);
        ok = b.ins().band(ok, same);
    }
    and_then(b, ok);

    // The block's fields, checked as `activate_block` checks them: the
    // argument location a SmallInt ≥ 0, the arguments an Array, and with
    // arguments, temporaries that hold them.
    let location = field(b, bl.slot_argument_location);
    let is_int = tag_of(b, lay, location);
    let not_negative = b
        .ins()
        .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, location, 0);
    let is_int = b.ins().icmp_imm_s(IntCC::NotEqual, is_int, 0);
    let ok = b.ins().band(is_int, not_negative);
    and_then(b, ok);
    let nil = b.ins().load(I64, FLAGS, vm, lay.nil);
    let args = field(b, bl.slot_arguments);
    let (args_ok, nargs) = pointer_object(b, lay, args, nil);
    and_then(b, args_ok);
    let no_args = b.ins().icmp_imm_s(IntCC::Equal, k, 0);
    let (with_args, fits) = (b.create_block(), b.create_block());
    b.ins().brif(no_args, fits, &[], with_args, &[]);
    b.switch_to_block(with_args);
    let temps = field(b, bl.slot_temporaries);
    let (temps_ok, temps_size) = pointer_object(b, lay, temps, nil);
    let location = untag(b, lay, location);
    let end = b.ins().iadd(location, k);
    let inside = b
        .ins()
        .icmp(IntCC::UnsignedLessThanOrEqual, end, temps_size);
    let ok = b.ins().band(inside, temps_ok);
    b.ins().brif(ok, fits, &[], slow, &[]);
    b.switch_to_block(fits);
    // Room for the frame.
    let len = b.ins().load(I64, FLAGS, vm, lay.stack_len);
    let fp = b.ins().isub(len, nvals);
    let top = b.ins().iadd(fp, nargs);
    let top = b.ins().iadd_imm_s(top, lay.header as i64 + 1);
    let limit = b.ins().load(I64, FLAGS, vm, lay.stack_limit);
    let room = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, top, limit);
    and_then(b, room);
    tick(b, lay, vm, slow);

    // Go: the arguments into the home's temporaries, the home's
    // arguments onto the stack (nil if none), the header.
    let base = b.ins().load(I64, FLAGS, vm, lay.stack_base);
    let fp8 = b.ins().ishl_imm_u(fp, WORD_SHIFT);
    let at_fp = b.ins().iadd(base, fp8);
    let from = b.ins().iadd_imm_s(at_fp, i64::from(word_offset(1)));
    let temps = field(b, bl.slot_temporaries);
    let location = field(b, bl.slot_argument_location);
    let location = untag(b, lay, location);
    let loc8 = b.ins().ishl_imm_u(location, WORD_SHIFT);
    let to = b.ins().iadd(temps, loc8);
    let to = b.ins().iadd_imm_s(to, i64::from(lay.first_slot));
    copy_words(b, from, to, k);
    b.ins().store(FLAGS, nil, at_fp, 0);
    let from = b.ins().iadd_imm_s(args, i64::from(lay.first_slot));
    copy_words(b, from, at_fp, nargs);
    let one = b.ins().iconst(I64, 1);
    let n = b.ins().umax(nargs, one);
    let tb = b.ins().iadd(fp, n);
    let temps = field(b, bl.slot_temporaries);
    let (temps_ok, _) = pointer_object(b, lay, temps, nil);
    let header = Header {
        method: Word::Load(blk, slot(bl.slot_method)),
        fp,
        tb,
        hp: tb,
        context: Word::Value(blk),
        temps: Word::Value(b.ins().select(temps_ok, temps, nil)),
        code: Word::Load(e, bl.code),
        literals: Word::Load(e, bl.literals),
    };
    push_header(b, lay, vm, hp, site, base, nil, &header);
    let code = b.ins().load(I64, FLAGS, e, bl.entry);
    let entry = b.ins().load(I64, FLAGS, e, bl.k);
    b.ins()
        .return_call_indirect(tail_sig, code, &[vm, tb, nil, entry]);
}

/// The address of the block table's entry for a block of `method` and
/// `body` (`block_cache`'s hash).
fn block_entry(
    b: &mut FunctionBuilder,
    lay: &Layout,
    vm: cl::Value,
    method: cl::Value,
    body: cl::Value,
) -> cl::Value {
    // `block_cache::slot_of`'s hash of the two words.
    let m = b.ins().ushr_imm_u(method, lay.block.hash_method_shift);
    let bb = b.ins().ushr_imm_u(body, lay.block.hash_body_shift);
    let h = b.ins().bxor(m, bb);
    let h = b.ins().band_imm_u(h, lay.block.hash_mask);
    let h = b.ins().imul_imm_s(h, i64::from(lay.block.size));
    let table = b.ins().load(I64, FLAGS, vm, lay.blocks);
    b.ins().iadd(table, h)
}

/// A way holding a quick method (`lst_vm::jit_runtime::quick`): its answer
/// goes to the site's continuation without a frame; `slow` when an
/// instance variable the method names is not there.
fn quick_path(
    b: &mut FunctionBuilder,
    lay: &Layout,
    tail_sig: SigRef,
    f: &Frame,
    way: cl::Value,
    slow: cl::Block,
) {
    use lst_vm::jit_runtime::quick::{QUICK_CONSTANT, QUICK_GETTER, QUICK_RECEIVER};
    let s = lay.site;
    let quick = b.ins().load(I64, FLAGS, way, s.quick);
    let answer = b.create_block();
    b.append_block_param(answer, I64);
    let operand = b.ins().load(I64, FLAGS, way, s.operand);
    let constant = b
        .ins()
        .icmp_imm_s(IntCC::Equal, quick, QUICK_CONSTANT as i64);
    let not_constant = b.create_block();
    b.ins().brif(
        constant,
        answer,
        &[BlockArg::Value(operand)],
        not_constant,
        &[],
    );
    b.switch_to_block(not_constant);
    let receiver = b
        .ins()
        .icmp_imm_s(IntCC::Equal, quick, QUICK_RECEIVER as i64);
    let ivar = b.create_block();
    b.ins()
        .brif(receiver, answer, &[BlockArg::Value(f.receiver)], ivar, &[]);
    // Instance variable `operand` of a pointer object that has it.
    b.switch_to_block(ivar);
    let nil = b.ins().load(I64, FLAGS, f.vm, lay.nil);
    let (ok, size) = pointer_object(b, lay, f.receiver, nil);
    let inside = b.ins().icmp(IntCC::UnsignedLessThan, operand, size);
    let ok = b.ins().band(ok, inside);
    let access = b.create_block();
    b.ins().brif(ok, access, &[], slow, &[]);
    b.switch_to_block(access);
    let offset = b.ins().ishl_imm_u(operand, WORD_SHIFT);
    let at = b.ins().iadd(f.receiver, offset);
    let getter = b.ins().icmp_imm_s(IntCC::Equal, quick, QUICK_GETTER as i64);
    let (get, set) = (b.create_block(), b.create_block());
    b.ins().brif(getter, get, &[], set, &[]);
    b.switch_to_block(get);
    let v = b.ins().load(I64, FLAGS, at, lay.first_slot);
    b.ins().jump(answer, &[BlockArg::Value(v)]);
    b.switch_to_block(set);
    let fp8 = b.ins().ishl_imm_u(f.fp, WORD_SHIFT);
    let args = b.ins().iadd(f.base, fp8);
    let arg = b.ins().load(I64, FLAGS, args, word_offset(1));
    b.ins().store(FLAGS, arg, at, lay.first_slot);
    b.ins().jump(answer, &[BlockArg::Value(f.receiver)]);

    // The send is over: pop the receiver and arguments, go on after it.
    b.switch_to_block(answer);
    let v = b.block_params(answer)[0];
    b.ins().store(FLAGS, f.count, f.vm, lay.countdown);
    b.ins().store(FLAGS, f.fp, f.vm, lay.stack_len);
    let retpc = b.ins().load(I64, FLAGS, f.site, s.retpc);
    call_continuation(b, lay, tail_sig, f.vm, f.hp, v, retpc);
}

/// Whether `v` is a pointer object (not a SmallInt, not bytes), and its
/// slot count (0 if not). Reads the header of `nil` in its place when `v`
/// is a SmallInt, so that every load is of an object.
fn pointer_object(
    b: &mut FunctionBuilder,
    lay: &Layout,
    v: cl::Value,
    nil: cl::Value,
) -> (cl::Value, cl::Value) {
    let tag = tag_of(b, lay, v);
    let object = b.ins().select(tag, nil, v);
    let word = header(b, lay, object);
    let bytes = b.ins().band_imm_u(word, lay.bytes_flag as i64);
    let bad = b.ins().bor(tag, bytes);
    let ok = b.ins().icmp_imm_s(IntCC::Equal, bad, 0);
    let size = size_of(b, lay, word);
    let zero = b.ins().iconst(I64, 0);
    (ok, b.ins().select(ok, size, zero))
}

/// Copies `n` words from address `from` to address `to` (ascending).
fn copy_words(b: &mut FunctionBuilder, from: cl::Value, to: cl::Value, n: cl::Value) {
    let (test, body, done) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(test, I64);
    let zero = b.ins().iconst(I64, 0);
    b.ins().jump(test, &[BlockArg::Value(zero)]);
    b.switch_to_block(test);
    let i = b.block_params(test)[0];
    let more = b.ins().icmp(IntCC::UnsignedLessThan, i, n);
    b.ins().brif(more, body, &[], done, &[]);
    b.switch_to_block(body);
    let i8 = b.ins().ishl_imm_u(i, WORD_SHIFT);
    let src = b.ins().iadd(from, i8);
    let x = b.ins().load(I64, FLAGS, src, 0);
    let dst = b.ins().iadd(to, i8);
    b.ins().store(FLAGS, x, dst, 0);
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(test, &[BlockArg::Value(next)]);
    b.switch_to_block(done);
}

/// Stores nil into the stack slots `from..to`.
fn fill_temps(
    b: &mut FunctionBuilder,
    base: cl::Value,
    from: cl::Value,
    to: cl::Value,
    nil: cl::Value,
) {
    let (test, body, done) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(test, I64);
    b.ins().jump(test, &[BlockArg::Value(from)]);
    b.switch_to_block(test);
    let i = b.block_params(test)[0];
    let more = b.ins().icmp(IntCC::UnsignedLessThan, i, to);
    b.ins().brif(more, body, &[], done, &[]);
    b.switch_to_block(body);
    let i8 = b.ins().ishl_imm_u(i, WORD_SHIFT);
    let at = b.ins().iadd(base, i8);
    b.ins().store(FLAGS, nil, at, 0);
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(test, &[BlockArg::Value(next)]);
    b.switch_to_block(done);
}

/// Goes on after `lst_send_site` (or `lst_send_direct`) answered `r`:
/// at the site's continuation with the answer (a frameless primitive),
/// or as any helper's answer says (`leave_or_call_named`: leave native
/// code, or tail-call the code the runtime named).
#[allow(clippy::too_many_arguments)]
fn answer(
    b: &mut FunctionBuilder,
    lay: &Layout,
    tail_sig: SigRef,
    vm: cl::Value,
    hp: cl::Value,
    site: cl::Value,
    r: cl::Value,
) {
    let (go_on, other) = (b.create_block(), b.create_block());
    let is_go = b.ins().icmp_imm_s(IntCC::Equal, r, rt::GO_ON as i64);
    b.ins().brif(is_go, go_on, &[], other, &[]);
    b.switch_to_block(go_on);
    let value = b.ins().load(I64, FLAGS, vm, lay.regs_value);
    let retpc = b.ins().load(I64, FLAGS, site, lay.site.retpc);
    call_continuation(b, lay, tail_sig, vm, hp, value, retpc);
    b.switch_to_block(other);
    leave_or_call_named(b, lay, tail_sig, vm, r);
}
