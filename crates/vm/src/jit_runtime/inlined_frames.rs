//! Leaving compiled code inside inlined code: the inlined activations
//! become real frames, and the interpreter finishes them.
//!
//! At such an exit ([`InlinedExit`]) the code has spilled its own frame as
//! at the original (inlined) send and written the inlined activations'
//! values above it (see [`InlinedExit`] for the order).
//! [`Vm::materialize_inlined`] pushes one frame per level as a send would
//! (`push_frame`): the outermost returns to the native continuation after
//! the original send, each inner one to its caller's bytecode offset after
//! its inlined send. It fills their temporaries and operand stacks and
//! resumes the innermost in the interpreter at the start of the send it
//! stopped at, so the interpreter performs that send. From then on the
//! frames are ordinary: backtraces, `thisContext` and process switches see
//! them as if no send had been inlined. Exits are counted per unit; a
//! unit whose exits are not rare is deoptimized ([`Vm::deoptimize_unit`]).
//! An exit after a guard failure the deopt stress forced does not count
//! (see `deopt_stress`).
//!
//! A loop inside inlined code polls at its back edge as the interpreter
//! does ([`lst_inlined_poll`]) and leaves the same way when the process
//! must stop there.
//!
//! This module must not allocate on the heap (no collection may run while
//! the values are off the stack), decide what is inlined or generate code.

use super::boundary::{GO_INTERPRET, GO_ON, NATIVE_PC_BASE, NativeExit};
use super::unit_constants::{InlinedExit, UnitConstants};
use crate::interp::Trap;
use crate::interp::frame::{H_CONTEXT, H_TEMPS, HEADER};
use crate::value::Value;
use crate::vm::Vm;

impl Vm {
    /// Materializes the inlined frames of `exit` above frame `hp` (the
    /// unit's own) and makes the innermost the current frame, at the pc
    /// the interpreter goes on at (see the module doc).
    pub(crate) fn materialize_inlined(
        &mut self,
        hp: usize,
        unit: &UnitConstants,
        exit: &InlinedExit,
    ) -> Result<(), Trap> {
        let bad = |what: &str| Trap::Fatal(format!("bad inlined exit: {what}"));
        let base = self
            .stack
            .len()
            .checked_sub(exit.values())
            .filter(|&b| b >= hp + HEADER)
            .ok_or_else(|| bad("fewer values than its frames need"))?;
        // No heap allocation happens below, so these stay valid.
        let values: Vec<Value> = self.stack[base..].to_vec();
        self.stack.truncate(base);
        let mut caller = hp;
        let mut retpc = NATIVE_PC_BASE + exit.return_record as usize;
        self.enter_frame(hp, retpc)?;
        let mut rest = &values[..];
        for level in &exit.levels {
            let nvals = 1 + usize::from(level.argc);
            let temps = usize::from(level.temps);
            let (receiver_args, after) = rest.split_at(nvals);
            let (temp_values, after) = after.split_at(temps);
            let (operands, after) = after.split_at(usize::from(level.stack));
            rest = after;
            if level.block {
                if nvals != 1 || temps != 0 {
                    return Err(bad("a block level with arguments or temporaries"));
                }
                self.push_block_frame(receiver_args[0], caller, retpc)?;
            } else {
                let method = unit
                    .constant(level.method)
                    .ok_or_else(|| bad("method constant out of range"))?;
                self.stack.extend(receiver_args.iter().copied());
                let parts = self.method_parts(method)?;
                if parts.temps != temps {
                    return Err(bad("temporary count differs from the method's"));
                }
                self.push_checked_frame(method, parts, nvals, Some(caller), retpc, None)?;
                let tb = self.tb;
                self.stack[tb..tb + temps].copy_from_slice(temp_values);
            }
            self.stack.extend(operands.iter().copied());
            caller = self.hp;
            retpc = level.pc as usize;
            self.pc = retpc;
        }
        if exit.levels.is_empty() {
            return Err(bad("no inlined frame"));
        }
        if let Some(t) = self.jit.as_mut() {
            t.stats.materializations += 1;
        }
        self.resume_frame(caller, retpc)
    }

    /// Pushes the frame of Block `blk`'s activation as the interpreter's
    /// `value…` makes it (its home's receiver and arguments, no
    /// temporaries of its own, the Block as its context and its home's
    /// temporaries), returning to `caller` at `retpc`. Its parameters are
    /// in the home's temporaries already: the inlined code stored them.
    fn push_block_frame(&mut self, blk: Value, caller: usize, retpc: usize) -> Result<(), Trap> {
        use crate::layout::context;
        let bad = |what: &str| Trap::Fatal(format!("bad inlined block: {what}"));
        if !self.is_block_object(blk) {
            return Err(bad("not a Block"));
        }
        let field = |vm: &Vm, i| vm.heap.get(blk, i).ok_or_else(|| bad("missing field"));
        let (method, args, temps) = (
            field(self, context::METHOD)?,
            field(self, context::ARGUMENTS)?,
            field(self, context::TEMPORARIES)?,
        );
        if !args.is_ref() || self.heap.is_bytes(args) {
            return Err(bad("its arguments are not an Array"));
        }
        let parts = self.method_parts(method)?;
        let nargs = self.heap.size(args);
        if self.stack.len() + nargs + 1 + HEADER > self.stack_limit {
            return Err(Trap::StackOverflow);
        }
        self.stack.extend_from_slice(self.heap.slots(args));
        if nargs == 0 {
            self.stack.push(self.nil());
        }
        self.push_checked_frame(method, parts, nargs.max(1), Some(caller), retpc, Some(0))?;
        let hp = self.hp;
        self.stack[hp + H_CONTEXT] = blk;
        self.stack[hp + H_TEMPS] = temps;
        Ok(())
    }
}

/// Compiled code left at a send inside inlined code: materializes the
/// inlined frames of exit `exit` of `unit` above frame `hp` and leaves
/// native code, the interpreter going on in the innermost (see the module
/// doc).
///
/// # Safety
/// Called by compiled code only, with the Vm it was entered with and the
/// address of a [`UnitConstants`] its tier keeps alive.
pub unsafe extern "C" fn lst_inlined_exit(vm: *mut Vm, hp: u64, unit: u64, exit: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got
    // and holds no reference to it.
    let vm = unsafe { &mut *vm };
    // SAFETY: `unit` is the address of a boxed UnitConstants the tier owns
    // for as long as its code may run; only shared references to it exist
    // while code runs (its validity word is a Cell).
    let unit = unsafe { &*(unit as *const UnitConstants) };
    let index = exit;
    let Some(exit) = unit.exit(index) else {
        return vm.exit_with(Trap::Fatal("unknown inlined exit".into()));
    };
    match vm.materialize_inlined(hp as usize, unit, exit) {
        Ok(()) => {
            if !vm.exit_was_forced() && unit.count_exit(index) {
                vm.deoptimize_unit(std::ptr::from_ref(unit) as u64);
            }
            vm.native_exit = NativeExit::Interpret;
            GO_INTERPRET
        }
        Err(t) => vm.exit_with(t),
    }
}

/// The countdown ran out at a back-edge safepoint inside inlined code:
/// answers [`GO_ON`] after the interpreter's safepoint (which then cannot
/// stop the process), or [`GO_INTERPRET`], changing nothing, when it
/// would stop the process: the code then leaves through
/// [`lst_inlined_exit`], and the interpreter's safepoint at the backward
/// branch it resumes at stops the process with every frame real.
///
/// # Safety
/// Called by compiled code only, with the Vm it was entered with.
pub unsafe extern "C" fn lst_inlined_poll(vm: *mut Vm) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got
    // and holds no reference to it.
    let vm = unsafe { &mut *vm };
    if vm.safepoint_would_stop() {
        return GO_INTERPRET;
    }
    match vm.safepoint() {
        Ok(()) => GO_ON,
        // Only an interrupt can arrive since the test: it is raised again
        // at the interpreter's next safepoint, as above.
        Err(_) => {
            vm.interrupt
                .store(true, std::sync::atomic::Ordering::Relaxed);
            vm.countdown = 0;
            GO_INTERPRET
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::frame::{H_FP, H_METHOD, H_RETPC, H_TB};
    use crate::jit_runtime::unit_constants::InlinedLevel;
    use crate::link::Origin;
    use lst_bytecode::Op;

    /// A VM on lst's own image with `sources` compiled into Object; the
    /// methods.
    fn vm_with(sources: &[&str]) -> (Vm, Vec<Value>) {
        let mut vm = crate::image::builder::own_image_vm();
        vm.set_output(Box::new(std::io::sink()));
        let origin = Origin {
            label: "test",
            first_line: 1,
        };
        let methods = sources
            .iter()
            .map(|s| {
                let object = vm.global("Object").expect("Object");
                vm.compile_into(object, s, origin).expect("compiles")
            })
            .collect();
        (vm, methods)
    }

    /// The (start, end) offsets of the last `op` instruction of `m`.
    fn last(vm: &Vm, m: Value, op: Op) -> (u32, u32) {
        let code = vm.heap.get(m, crate::layout::method::BYTECODES).unwrap();
        lst_bytecode::decode_all(vm.heap.bytes(code))
            .map(|r| r.expect("decodes"))
            .filter(|(_, insn)| insn.op == op)
            .map(|(pc, insn)| (pc as u32, (pc + usize::from(insn.len)) as u32))
            .last()
            .expect("the instruction")
    }

    #[test]
    fn an_exit_pushes_each_inlined_frame_as_a_send_would() {
        let (mut vm, m) = vm_with(&[
            "mfOuter: a\n    | t |\n    t := a + 1.\n    ^ self mfInner: t",
            "mfInner: b\n    | u v |\n    u := b * 2.\n    ^ u + b",
        ]);
        let (outer, inner) = (m[0], m[1]);
        let after_inner_send = last(&vm, outer, Op::SendMessage).1;
        let plus = last(&vm, inner, Op::SendBinary).0;
        // The unit's own frame: running `outer` (any method will do).
        let nil = vm.nil();
        vm.stack.extend([nil, Value::small(0)]);
        vm.push_frame(outer, 2, None, 0, None).expect("room");
        let root = vm.hp;
        let int = Value::small;
        // outer: self, a, t; no operands below the inlined send. inner:
        // self, b, u v; operands u b at `u + b`.
        let values = [
            nil,
            int(3),
            int(4),
            nil,
            int(4),
            int(8),
            nil,
            int(8),
            int(4),
        ];
        vm.stack.extend(values.iter().copied());
        let unit = UnitConstants::new(vec![outer, inner], vec![]);
        let exit = InlinedExit {
            return_record: 7,
            levels: vec![
                InlinedLevel {
                    block: false,
                    method: 0,
                    argc: 1,
                    temps: 1,
                    stack: 0,
                    pc: after_inner_send,
                },
                InlinedLevel {
                    block: false,
                    method: 1,
                    argc: 1,
                    temps: 2,
                    stack: 2,
                    pc: plus,
                },
            ],
        };
        vm.materialize_inlined(root, &unit, &exit)
            .expect("materialized");
        let innermost = vm.hp;
        let middle = vm.caller_of(innermost).expect("a caller");
        assert_eq!(vm.caller_of(middle), Some(root));
        assert_eq!(vm.header(middle, H_METHOD), outer);
        assert_eq!(vm.header(innermost, H_METHOD), inner);
        let retpc = |hp| vm.header(hp, H_RETPC).as_int().unwrap() as usize;
        assert_eq!(retpc(middle), NATIVE_PC_BASE + 7);
        assert_eq!(retpc(innermost), after_inner_send as usize);
        let temps = |hp: usize, n: usize| {
            let tb = vm.header_index(hp, H_TB);
            vm.stack[tb..tb + n].to_vec()
        };
        assert_eq!(temps(middle, 1), vec![int(4)]);
        assert_eq!(temps(innermost, 2), vec![int(8), nil]);
        assert_eq!(vm.stack[innermost + HEADER..], [int(8), int(4)]);
        assert_eq!(vm.pc, plus as usize, "the interpreter performs `u + b`");
    }

    #[test]
    fn a_block_level_pushes_the_blocks_frame_as_its_activation_would() {
        let (mut vm, m) = vm_with(&[
            "mfHome: a\n    | t u |\n    t := 5.\n    ^ [:x | u := x. t + x + a]",
            "mfCaller: b\n    ^ b",
        ]);
        let (home, caller) = (m[0], m[1]);
        let nil = vm.nil();
        let blk = vm
            .run_method(home, &[nil, Value::small(3)])
            .expect("runs")
            .expect("answers the block");
        assert!(vm.is_block_object(blk));
        let plus = last(&vm, home, Op::SendBinary).0;
        vm.stack.extend([nil, blk]);
        vm.push_frame(caller, 2, None, 0, None).expect("room");
        let root = vm.hp;
        // The block's frame: the Block, then its operands at `(t + x) + a`.
        vm.stack.extend([blk, Value::small(9), Value::small(3)]);
        let unit = UnitConstants::new(vec![home], vec![]);
        let exit = InlinedExit {
            return_record: 4,
            levels: vec![InlinedLevel {
                block: true,
                method: 0,
                argc: 0,
                temps: 0,
                stack: 2,
                pc: plus,
            }],
        };
        vm.materialize_inlined(root, &unit, &exit)
            .expect("materialized");
        let frame = vm.hp;
        assert_eq!(vm.caller_of(frame), Some(root));
        assert_eq!(vm.header(frame, H_METHOD), home);
        assert_eq!(vm.header(frame, H_CONTEXT), blk);
        let temps = vm.heap.get(blk, crate::layout::context::TEMPORARIES);
        assert_eq!(Some(vm.header(frame, H_TEMPS)), temps);
        let fp = vm.header_index(frame, H_FP);
        assert_eq!(
            vm.stack[fp..fp + 2],
            [nil, Value::small(3)],
            "the home's self and a"
        );
        assert_eq!(
            vm.stack[frame + HEADER..],
            [Value::small(9), Value::small(3)]
        );
        assert_eq!(vm.pc, plus as usize);
    }

    #[test]
    fn an_exit_with_too_few_values_is_refused() {
        let (mut vm, m) = vm_with(&["mfOne: a\n    ^ a + 1"]);
        let nil = vm.nil();
        vm.stack.push(nil);
        vm.push_frame(m[0], 1, None, 0, None).expect("room");
        let root = vm.hp;
        let unit = UnitConstants::new(vec![m[0]], vec![]);
        let exit = InlinedExit {
            return_record: 1,
            levels: vec![InlinedLevel {
                block: false,
                method: 0,
                argc: 1,
                temps: 0,
                stack: 2,
                pc: 0,
            }],
        };
        vm.stack.push(nil);
        let r = vm.materialize_inlined(root, &unit, &exit);
        assert!(matches!(r, Err(Trap::Fatal(_))), "{r:?}");
        assert_eq!(vm.hp, root, "no frame was pushed");
    }

    #[test]
    fn a_poll_goes_on_unless_the_process_must_stop_and_then_changes_nothing() {
        let (mut vm, _) = vm_with(&[]);
        vm.countdown = 0;
        // SAFETY: a pointer to the live Vm, no other reference in use.
        assert_eq!(unsafe { lst_inlined_poll(&mut vm) }, GO_ON);
        assert!(vm.countdown > 0, "the countdown starts again");
        vm.countdown = 0;
        vm.interrupt
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: as above.
        assert_eq!(unsafe { lst_inlined_poll(&mut vm) }, GO_INTERPRET);
        assert!(
            vm.interrupt.load(std::sync::atomic::Ordering::Relaxed),
            "the interpreter's safepoint still sees the interrupt"
        );
        assert_eq!(vm.countdown, 0, "and runs at the next tick");
    }
}
