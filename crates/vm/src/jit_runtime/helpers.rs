//! The runtime helpers compiled code calls (`lst_*`, `extern "C"`): each
//! reuses the interpreter's own send, return, primitive and block code, so
//! that semantics are the interpreter's by construction, and answers where
//! compiled code goes next ([`GO_ON`], [`GO_INTERPRET`], or a code address
//! in the registers; see `transfer`).
//!
//! This module owns the helpers' Rust side only: which helpers exist and
//! their signatures are what the back ends describe to their code. It must
//! not generate code and must not keep state of its own.

use super::boundary::{AT_START, GO_INTERPRET, GO_ON, NativeExit, TRAP_IVAR};
use super::inline_cache::SendSite;
pub use super::inlined_frames::{lst_inlined_exit, lst_inlined_poll};
use super::tiering::{COUNTER_OFF, TierUp};
use crate::interp::{Primitive, Trap};
use crate::value::Value;
use crate::vm::Vm;

/// Turns the `vm` argument of a helper into the Vm.
///
/// # Safety
/// `vm` must be the pointer the trampoline was called with, and no other
/// reference to the Vm may be live (compiled code holds none).
unsafe fn vm_of<'a>(vm: *mut Vm) -> &'a mut Vm {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { &mut *vm }
}

/// Returns `value` from frame `hp` to its caller.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_return(vm: *mut Vm, hp: u64, value: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let flow = vm
        .enter_frame(hp as usize, 0)
        .and_then(|()| vm.return_value(Value::from_raw(value)));
    vm.after_flow(flow)
}

/// `blockReturn` of `value` in frame `hp`, whose bytecode goes on at `pc`.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_block_return(vm: *mut Vm, hp: u64, value: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let flow = vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.non_local_return(Value::from_raw(value)));
    vm.after_flow(flow)
}

/// `doPrimitive argc number` in frame `hp`, whose operand stack is written
/// (ending with the arguments); `pc` is the offset after the instruction.
/// [`GO_ON`] when it failed (nil is pushed).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_primitive(
    vm: *mut Vm,
    hp: u64,
    number: u64,
    argc: u64,
    pc: u64,
) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let r = vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.run_primitive(argc as usize, number as u8));
    match r {
        Ok(Primitive::Failed) => GO_ON,
        Ok(Primitive::Ran(flow)) => vm.after_flow(Ok(flow)),
        Err(t) => vm.exit_with(t),
    }
}

/// `pushBlock` in frame `hp`: the block's body starts at `body` and the
/// method goes on at `end`. The new Block is in [`NativeRegs::value`](super::boundary::NativeRegs::value).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_make_block(
    vm: *mut Vm,
    hp: u64,
    arg_location: u64,
    body: u64,
    end: u64,
) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let r = vm
        .enter_frame(hp as usize, body as usize)
        .and_then(|()| vm.push_block(arg_location as u8, end as u16));
    match r {
        Ok(()) => {
            vm.native_regs.value = vm.stack.pop().unwrap_or_default();
            GO_ON
        }
        Err(t) => vm.exit_with(t),
    }
}

/// The slow path of a safepoint whose countdown ran out, in frame `hp` at
/// bytecode offset `pc` (the operand stack is written).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_safepoint(vm: *mut Vm, hp: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    match vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.safepoint())
    {
        Ok(()) => GO_ON,
        Err(t) => vm.exit_with(t),
    }
}

/// Baseline code's tiering `counter` ran out, in frame `hp` at its start
/// (`pc` is [`AT_START`]) or at the loop back-edge at bytecode `pc` (the
/// operand stack is written). The frame's unit is recompiled optimized
/// (once); then the frame goes on in the optimized code: from its start,
/// or (at a loop) in the interpreter, which enters the optimized code at
/// the loop head (on-stack replacement). If the unit stays baseline, the
/// counter is turned off and the code goes on; while its compile is
/// queued on the compile worker, the code goes on and looks again
/// sooner.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]); `counter` is the address
/// of a counter the tier keeps.
pub unsafe extern "C" fn lst_tier_up(vm: *mut Vm, hp: u64, pc: u64, counter: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    // SAFETY: the tier keeps the counter baseline code names (boxed) as
    // long as the code; compiled code touches it only while it runs.
    let counter = unsafe { &*(counter as *const std::cell::Cell<i64>) };
    let r = match vm.optimize_frame_unit(hp as usize) {
        TierUp::Now(r) => r,
        TierUp::Later => {
            let start = vm.jit.as_ref().map(|t| t.tiering.counter_while_queued());
            counter.set(start.unwrap_or(COUNTER_OFF));
            return GO_ON;
        }
        TierUp::Never => {
            counter.set(COUNTER_OFF);
            return GO_ON;
        }
    };
    counter.set(
        vm.jit
            .as_ref()
            .map_or(COUNTER_OFF, |t| t.tiering.counter_start()),
    );
    if pc == AT_START {
        let Some(record) = vm
            .jit
            .as_ref()
            .and_then(|t| t.records.get(r as usize))
            .copied()
        else {
            return GO_ON;
        };
        vm.native_regs.hp = hp;
        vm.native_regs.value = vm.nil();
        vm.native_regs.k = u64::from(record.k);
        return record.code as u64;
    }
    match vm.resume_frame(hp as usize, pc as usize) {
        Ok(()) => {
            vm.native_exit = NativeExit::Interpret;
            GO_INTERPRET
        }
        Err(t) => vm.exit_with(t),
    }
}

/// A check in compiled code failed: raises the interpreter's error for it,
/// in frame `hp` at `pc` (the operand stack is written).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_trap(vm: *mut Vm, hp: u64, pc: u64, what: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    if let Err(t) = vm.enter_frame(hp as usize, pc as usize) {
        return vm.exit_with(t);
    }
    let msg = match what {
        TRAP_IVAR => "instance variable index out of range",
        _ => "temporary index out of range",
    };
    vm.exit_with(Trap::Error(msg.into()))
}

/// A new object of class `class` with `size` nil slots, as primitive 7
/// makes it, for the inline `new:` (`InlinePrim::New`); or 0 when the
/// primitive would fail or that would take a collection (the heap is
/// full, or GC stress is on): the code then sends instead. It never
/// collects, so compiled code may hold references across it.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_new_slots(vm: *mut Vm, class: u64, size: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let class = Value::from_raw(class);
    let Some(n) = Value::from_raw(size).as_int() else {
        return 0;
    };
    vm.new_object_without_collecting(class, n)
        .map_or(0, Value::raw)
}

/// A new Float holding the double whose bits are `bits`, for frame `hp`
/// at bytecode offset `pc` (the operand stack is written: the values
/// compiled code keeps across this call, which may collect). It is in
/// [`NativeRegs::value`](super::boundary::NativeRegs::value). An unboxed
/// loop writes its temporaries back with it (`box_float_gc`).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_box_float(vm: *mut Vm, hp: u64, bits: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let r = vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.new_float(f64::from_bits(bits)).map_err(Trap::from));
    match r {
        Ok(Some(f)) => {
            vm.native_regs.value = f;
            GO_ON
        }
        Ok(None) => vm.exit_with(Trap::Error("the image has no Float class".into())),
        Err(t) => vm.exit_with(t),
    }
}

/// Leaves compiled code to interpret frame `hp` from bytecode offset `pc`
/// (the operand stack is written): for cases the code does not handle.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_deopt(vm: *mut Vm, hp: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    match vm.resume_frame(hp as usize, pc as usize) {
        Ok(()) => {
            vm.native_exit = NativeExit::Interpret;
            GO_INTERPRET
        }
        Err(t) => vm.exit_with(t),
    }
}

/// The slow path of the send stub: sends the message of `site` from frame
/// `hp` (whose operand stack is written, ending with the receiver and
/// arguments) as the interpreter would, and fills the site's cache.
///
/// # Safety
/// Called by compiled code only, with the Vm it was entered with and the
/// address of a [`SendSite`] its tier keeps alive.
pub unsafe extern "C" fn lst_send_site(vm: *mut Vm, hp: u64, site: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    // SAFETY: `site` is the address of a SendSite the compiler embedded;
    // the tier owns it (boxed, never freed while code may run) and only
    // shared references to it exist (its fields are Cells).
    let site = unsafe { &*(site as *const SendSite) };
    site.misses.set(site.misses.get() + 1);
    let hp = hp as usize;
    match vm.send_from_site(site, hp) {
        Err(t) => vm.exit_with(t),
        Ok(()) if vm.hp == hp => {
            // A primitive answered without a frame.
            vm.native_regs.value = vm.stack.pop().unwrap_or_default();
            GO_ON
        }
        Ok(()) => vm.transfer(),
    }
}

/// A send from a direct site (one that has seen a primitive method
/// answer): runs the primitive of a primitive way that holds the
/// receiver's class and answers [`GO_ON`] with its value in the
/// registers, or activates the block of a `value…` send. Answers
/// [`TRY_STUB`](super::boundary::TRY_STUB) when a method way holds the class instead; otherwise it
/// sends as [`lst_send_site`] does.
///
/// # Safety
/// As [`lst_send_site`].
pub unsafe extern "C" fn lst_send_direct(vm: *mut Vm, hp: u64, site: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm_ref = unsafe { vm_of(vm) };
    // SAFETY: as in `lst_send_site`: a boxed site the tier keeps alive.
    let site_ref = unsafe { &*(site as *const SendSite) };
    match vm_ref.send_direct(site_ref, hp as usize) {
        Ok(Some(r)) => r,
        Err(t) => vm_ref.exit_with(t),
        // SAFETY: the same arguments we were called with.
        Ok(None) => unsafe { lst_send_site(vm, hp, site) },
    }
}
