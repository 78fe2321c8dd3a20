//! The send stub: one shared function every compiled send tail-calls, in
//! continuation-passing style, after writing the receiver and arguments
//! into its frame.
//!
//! `tail fn(vm, hp, site, _) -> u64`, with `site` a [`SendSite`]
//! (`lst_vm::interp::inline_cache`). It takes the receiver's class and
//! looks for it in the site's ways (a polymorphic inline cache). On a hit
//! it does what the interpreter's send would: ticks the countdown, pushes
//! the callee's frame (temporaries, then the header, with the site's
//! continuation as the return point) and tail-calls the callee's compiled
//! code. Anything else (a miss, a due safepoint, a stack about to
//! overflow) goes to the runtime's `lst_send_site`, which sends through the
//! method cache and refills the site.
//!
//! Keeping the guard and the frame push here, not at each send, keeps
//! compiled methods small and their compile times short.
//!
//! [`SendSite`]: lst_vm::interp::native::SendSite

use crate::lower::{FLAGS, call_named, call_record};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, BlockArg, FuncRef, InstBuilder, SigRef, types::I64};
use cranelift_frontend::FunctionBuilder;
use lst_vm::interp::inline_cache::IC_WAYS;
use lst_vm::interp::native::{self as rt, Layout};

/// Builds the stub's body into `b` (whose signature is the tail one).
pub fn build(b: &mut FunctionBuilder, lay: &Layout, send_site: FuncRef, tail_sig: SigRef) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (vm, hp, site) = (p[0], p[1], p[2]);
    let s = lay.site;

    // The receiver and its class.
    let len = b.ins().load(I64, FLAGS, vm, lay.stack_len);
    let nvals = b.ins().load(I64, FLAGS, site, s.nvals);
    let fp = b.ins().isub(len, nvals);
    let base = b.ins().load(I64, FLAGS, vm, lay.stack_base);
    let fp8 = b.ins().ishl_imm_u(fp, 3);
    let at = b.ins().iadd(base, fp8);
    let receiver = b.ins().load(I64, FLAGS, at, 0);
    let (int, obj, have) = (b.create_block(), b.create_block(), b.create_block());
    b.append_block_param(have, I64);
    let tag = b.ins().band_imm_u(receiver, 1);
    b.ins().brif(tag, int, &[], obj, &[]);
    b.switch_to_block(int);
    let c = b.ins().load(I64, FLAGS, vm, lay.smallint_class);
    b.ins().jump(have, &[BlockArg::Value(c)]);
    b.switch_to_block(obj);
    let c = b.ins().load(I64, FLAGS, receiver, lay.class_word);
    b.ins().jump(have, &[BlockArg::Value(c)]);
    b.switch_to_block(have);
    let class = b.block_params(have)[0];

    // A due safepoint is the runtime's business.
    let slow = b.create_block();
    b.set_cold_block(slow);
    let count = b.ins().load(I64, FLAGS, vm, lay.countdown);
    let count = b.ins().iadd_imm_s(count, -1);
    let due = b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, count, 0);
    let probe = b.create_block();
    b.ins().brif(due, slow, &[], probe, &[]);
    b.switch_to_block(probe);

    // The ways, in order.
    let hit = b.create_block();
    b.append_block_param(hit, I64);
    for i in 0..IC_WAYS {
        let way = s.ways + s.way_size * i as i32;
        let cached = b.ins().load(I64, FLAGS, site, way + s.class);
        let same = b.ins().icmp(IntCC::Equal, cached, class);
        let next = if i + 1 < IC_WAYS {
            b.create_block()
        } else {
            slow
        };
        let way_addr = b.ins().iadd_imm_s(site, i64::from(way));
        b.ins()
            .brif(same, hit, &[BlockArg::Value(way_addr)], next, &[]);
        if next != slow {
            b.switch_to_block(next);
        }
    }

    // A hit: the callee's frame, unless the stack would overflow.
    b.switch_to_block(hit);
    let way = b.block_params(hit)[0];
    let temps = b.ins().load(I64, FLAGS, way, s.temps);
    let new_hp = b.ins().iadd(len, temps);
    let top = b.ins().iadd_imm_s(new_hp, lay.header as i64);
    let limit = b.ins().load(I64, FLAGS, vm, lay.stack_limit);
    let over = b.ins().icmp(IntCC::UnsignedGreaterThan, top, limit);
    let push = b.create_block();
    b.ins().brif(over, slow, &[], push, &[]);
    b.switch_to_block(push);
    b.ins().store(FLAGS, count, vm, lay.countdown);
    let hits = b.ins().load(I64, FLAGS, site, s.hits);
    let hits = b.ins().iadd_imm_s(hits, 1);
    b.ins().store(FLAGS, hits, site, s.hits);
    let nil = b.ins().load(I64, FLAGS, vm, lay.nil);
    fill_temps(b, base, len, new_hp, nil);
    let tagged = |b: &mut FunctionBuilder, n: cl::Value| {
        let twice = b.ins().ishl_imm_u(n, 1);
        b.ins().iadd_imm_s(twice, 1)
    };
    let record = b.ins().load(I64, FLAGS, site, s.record);
    let retpc = b.ins().iadd_imm_s(record, lay.native_pc_base as i64);
    let header = [
        (lay.h_method, b.ins().load(I64, FLAGS, way, s.method)),
        (lay.h_fp, tagged(b, fp)),
        (lay.h_tb, tagged(b, len)),
        (lay.h_caller, tagged(b, hp)),
        (lay.h_retpc, tagged(b, retpc)),
        (lay.h_context, nil),
        (lay.h_temps, nil),
        (lay.h_serial, nil),
        (lay.h_code, b.ins().load(I64, FLAGS, way, s.code)),
        (lay.h_literals, b.ins().load(I64, FLAGS, way, s.literals)),
    ];
    let hp8 = b.ins().ishl_imm_u(new_hp, 3);
    let frame = b.ins().iadd(base, hp8);
    for (slot, x) in header {
        b.ins().store(FLAGS, x, frame, (slot * 8) as i32);
    }
    b.ins().store(FLAGS, top, vm, lay.stack_len);
    let code = b.ins().load(I64, FLAGS, way, s.entry);
    let zero = b.ins().iconst(I64, 0);
    b.ins()
        .return_call_indirect(tail_sig, code, &[vm, new_hp, nil, zero]);

    // The runtime's send.
    b.switch_to_block(slow);
    let call = b.ins().call(send_site, &[vm, hp, site]);
    let r = b.inst_results(call)[0];
    answer(b, lay, tail_sig, vm, hp, site, r);
    b.seal_all_blocks();
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
    let i8 = b.ins().ishl_imm_u(i, 3);
    let at = b.ins().iadd(base, i8);
    b.ins().store(FLAGS, nil, at, 0);
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(test, &[BlockArg::Value(next)]);
    b.switch_to_block(done);
}

/// Goes on after `lst_send_site` answered `r`: leave native code, go on at
/// the site's continuation with the answer (a frameless primitive), or
/// tail-call the code the runtime named.
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
    let (exit, next, go_on, jump) = (
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
    );
    b.ins().brif(r, next, &[], exit, &[]);
    b.switch_to_block(exit);
    b.ins().return_(&[r]);
    b.switch_to_block(next);
    let is_go = b.ins().icmp_imm_s(IntCC::Equal, r, rt::GO_ON as i64);
    let value = b.ins().load(I64, FLAGS, vm, lay.regs_value);
    b.ins().brif(is_go, go_on, &[], jump, &[]);
    b.switch_to_block(go_on);
    let record = b.ins().load(I64, FLAGS, site, lay.site.record);
    call_record(b, lay, tail_sig, vm, hp, value, record);
    b.switch_to_block(jump);
    call_named(b, lay, tail_sig, vm, r, value);
}
