//! Lowering of what speculative inlining adds to the IR: unit constants
//! (`const k`, a load from the unit's pool), class guards (`class_is v
//! k`), the unit's validity word (`unit_valid`) and sends with chained
//! frame states and the back-edge safepoints of inlined loops, which
//! leave native code through `lst_inlined_exit`: the inlined activations become real frames the
//! interpreter finishes (`lst_vm::jit_runtime::inlined_frames`).
//!
//! Any other instruction with a chained state is refused (the method
//! keeps its baseline code). This module must not decide what is inlined
//! (`lst_jit::inline` does) and knows no Smalltalk selector.

use super::{Lowering, refuse};
use crate::clif_kit::{FLAGS, is_ref};
use crate::helpers::Id;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, BlockArg, InstBuilder, TrapCode, types::I64};
use lst_jit::ir::{self, ConstId, ConstKind, Inst, InstData, State};
use lst_vm::jit_runtime::unit_constants::{InlinedExit, InlinedLevel, UnitConstants};

use super::LowerError;

/// What the lowering must know of a method inlined into the unit (named
/// by a method constant's handle).
#[derive(Clone, Debug)]
pub struct InlinedMethod {
    pub bytecodes: Vec<u8>,
    pub arg_count: u16,
    pub temp_count: u16,
}

/// The bytecode offset where the send instruction that ends at `after`
/// starts, with its `markArguments` if it has one: where the interpreter
/// performs that send again.
pub fn send_start(bytecodes: &[u8], after: u16) -> Option<u16> {
    use lst_bytecode::Op;
    let (mut pc, mut previous) = (0usize, None);
    while pc < usize::from(after) {
        let insn = lst_bytecode::decode_at(bytecodes, pc).ok()?;
        let next = pc + usize::from(insn.len);
        if next == usize::from(after) {
            let start = match (insn.op, previous) {
                (Op::SendMessage, Some((Op::MarkArguments, at))) => at,
                (Op::SendMessage | Op::SendUnary | Op::SendBinary, _) => pc,
                _ => return None,
            };
            return u16::try_from(start).ok();
        }
        previous = Some((insn.op, pc));
        pc = next;
    }
    None
}

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is one of this module's; refuses any other
    /// instruction with a chained state but a send.
    pub(super) fn inline_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let r = |i: usize| data.results[i];
        match data.inst {
            Inst::ClassIs(v, k) => {
                let x = self.get(v)?;
                let c = self.class_is(x, k)?;
                self.set(r(0), c);
            }
            Inst::UnitValid => {
                let Some(unit) = self.env.unit else {
                    return refuse("unit_valid without unit constants");
                };
                let at = self.int(unit.valid_address() as i64);
                let w = self.b.ins().load(I64, FLAGS, at, 0);
                let c = self.b.ins().icmp_imm_u(IntCC::NotEqual, w, 0);
                self.set(r(0), c);
            }
            Inst::Send { .. } => return Ok(false),
            Inst::Safepoint if data.state.as_ref().is_some_and(State::is_chained) => {
                let Some(state) = &data.state else {
                    return refuse("a safepoint without its state");
                };
                self.inlined_safepoint(state)?;
            }
            _ if data.state.as_ref().is_some_and(State::is_chained) => {
                return refuse(format!("{:?} inside inlined code", data.inst));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The address in the pool of constant `k`.
    fn const_address(&mut self, k: ConstId) -> Result<cl::Value, LowerError> {
        let (Some(unit), Some(c)) = (self.env.unit, self.f.constant(k)) else {
            return refuse(format!("constant {k} without unit constants"));
        };
        let Some(at) = unit.constant_address(c.handle) else {
            return refuse(format!("constant {k} is not in the pool"));
        };
        Ok(self.int(at as i64))
    }

    /// `const k`: the pool's word (the collector keeps it current).
    pub(super) fn const_load(&mut self, k: ConstId) -> Result<cl::Value, LowerError> {
        let at = self.const_address(k)?;
        Ok(self.b.ins().load(I64, FLAGS, at, 0))
    }

    /// Whether `x`'s class (SmallInt's for a SmallInt) is constant `k`.
    fn class_is(&mut self, x: cl::Value, k: ConstId) -> Result<cl::Value, LowerError> {
        let lay = *self.env.layout;
        let want = self.const_load(k)?;
        let (object, small, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(join, I64);
        let is_object = is_ref(self.b, &lay, x);
        self.b.ins().brif(is_object, object, &[], small, &[]);
        self.b.switch_to_block(object);
        let class = self.b.ins().load(I64, FLAGS, x, lay.class_word);
        self.b.ins().jump(join, &[BlockArg::Value(class)]);
        self.b.switch_to_block(small);
        let class = self.load_vm(lay.smallint_class);
        self.b.ins().jump(join, &[BlockArg::Value(class)]);
        self.b.switch_to_block(join);
        self.base = None;
        let class = self.b.block_params(join)[0];
        Ok(self.b.ins().icmp(IntCC::Equal, class, want))
    }

    /// A send inside inlined code (`state` chained): spills the unit's
    /// frame as at the original send and the inlined activations' values
    /// above it, and leaves through `lst_inlined_exit`. The send's
    /// continuation (never entered: no frame returns to it) traps; what
    /// follows is lowered in a block nothing reaches.
    pub(super) fn inlined_send(
        &mut self,
        state: &State,
        receiver: ir::Value,
        args: &[ir::Value],
        cont: cl::Block,
        result: ir::Value,
    ) -> Result<(), LowerError> {
        let Some(unit) = self.env.unit else {
            return refuse("an inlined send without unit constants");
        };
        let exit = self.exit_of(state, Some(args))?;
        let mut values = state.root().stack.clone();
        values.extend(exit_values(state, Some((receiver, args))));
        self.spill(&values)?;
        self.leave_inlined(unit, exit);
        self.b.switch_to_block(cont);
        self.b.ins().trap(TrapCode::unwrap_user(1));
        let dead = self.b.create_block();
        self.b.switch_to_block(dead);
        self.unreachable = true;
        let zero = self.int(0);
        self.set(result, zero);
        Ok(())
    }

    /// A loop's back-edge safepoint inside inlined code (`state` chained):
    /// `countdown -= 1`; when it runs out, `lst_inlined_poll` resets it
    /// unless the interpreter's safepoint would stop the process here (an
    /// interrupt, the end of a time slice). Then the code leaves through
    /// `lst_inlined_exit`, the innermost inlined frame resuming at the
    /// backward branch, whose own safepoint (the countdown still run out)
    /// stops it with every frame real.
    fn inlined_safepoint(&mut self, state: &State) -> Result<(), LowerError> {
        let Some(unit) = self.env.unit else {
            return refuse("an inlined safepoint without unit constants");
        };
        let exit = self.exit_of(state, None)?;
        let (leave, resume) = self.countdown_runs_out();
        let r = self.helper(Id::lst_inlined_poll, &[self.vm]);
        self.b.ins().brif(r, resume, &[], leave, &[]);
        self.b.switch_to_block(leave);
        let mut values = state.root().stack.clone();
        values.extend(exit_values(state, None));
        self.spill_off_path(&values)?;
        self.leave_inlined(unit, exit);
        // The poll does not collect: the segment's values stay valid.
        self.b.switch_to_block(resume);
        Ok(())
    }

    /// Leaves native code through `lst_inlined_exit` at `exit` (the
    /// values it names are spilled): registers the exit's descriptor with
    /// the unit and returns what the helper answers to the trampoline.
    fn leave_inlined(&mut self, unit: &UnitConstants, exit: InlinedExit) {
        let index = self.inlined_exits.len();
        self.inlined_exits.push(exit);
        let unit = self.int(unit as *const _ as i64);
        let index = self.int(index as i64);
        let r = self.helper(Id::lst_inlined_exit, &[self.vm, self.hp, unit, index]);
        self.b.ins().return_(&[r]);
    }

    /// The descriptor of the exit at chained `state` (see
    /// [`InlinedExit`]): at a send with `args` (the innermost frame
    /// performs it again), or at a safepoint (`None`: the innermost frame
    /// resumes at the state's pc with the state's stack).
    fn exit_of(
        &self,
        state: &State,
        args: Option<&[ir::Value]>,
    ) -> Result<InlinedExit, LowerError> {
        let mut frames = state.frames();
        frames.reverse();
        let mut levels = vec![];
        for (i, frame) in frames.iter().enumerate() {
            let Some(c) = self.f.constant(frame.method) else {
                return refuse(format!("inlined method {} is missing", frame.method));
            };
            let Some(m) = self
                .facts
                .inlined
                .get(c.handle as usize)
                .and_then(Option::as_ref)
            else {
                return refuse(format!(
                    "constant {} is not an inlined method",
                    frame.method
                ));
            };
            let block = c.kind == ConstKind::Block;
            let (argc, temps) = if block {
                (0, 0)
            } else {
                (m.arg_count, m.temp_count)
            };
            if frame.args.len() != usize::from(argc) || frame.temps.len() != usize::from(temps) {
                return refuse(format!("inlined frame of {} has the wrong shape", c.name));
            }
            let (stack, pc) = match frames.get(i + 1) {
                Some(inner) => (inner.caller.stack.len(), inner.caller.pc),
                None => match args {
                    Some(args) => {
                        let Some(start) = send_start(&m.bytecodes, state.pc) else {
                            return refuse(format!("no send ends at {} in {}", state.pc, c.name));
                        };
                        (state.stack.len() + 1 + args.len(), start)
                    }
                    None => (state.stack.len(), state.pc),
                },
            };
            levels.push(InlinedLevel {
                block,
                method: c.handle,
                argc,
                temps,
                stack: u16::try_from(stack).map_err(|_| LowerError("deep stack".into()))?,
                pc: u32::from(pc),
            });
        }
        let return_record = self.root_send_record(state.root().pc)?;
        Ok(InlinedExit {
            return_record,
            levels,
        })
    }

    /// The record of the continuation after the unit's own send whose
    /// state's pc is `pc` (the inlined send's fallback).
    fn root_send_record(&self, pc: u16) -> Result<u32, LowerError> {
        let k = self
            .f
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|d| matches!(d.inst, Inst::Send { .. }))
            .position(|d| {
                d.state
                    .as_ref()
                    .is_some_and(|s| !s.is_chained() && s.pc == pc)
            });
        match k {
            Some(k) => Ok(self.env.first_record + 1 + k as u32),
            None => refuse(format!("no send of the unit at {pc} for an inlined exit")),
        }
    }
}

/// The values an exit at chained `state` writes above the unit's
/// operand stack, outermost activation first (see [`InlinedExit`]): at a
/// send, its receiver and arguments last; at a safepoint (`None`), the
/// innermost frame's stack last.
fn exit_values(state: &State, send: Option<(ir::Value, &[ir::Value])>) -> Vec<ir::Value> {
    let mut frames = state.frames();
    frames.reverse();
    let mut values = vec![];
    for (i, frame) in frames.iter().enumerate() {
        values.push(frame.receiver);
        values.extend(&frame.args);
        values.extend(&frame.temps);
        match frames.get(i + 1) {
            Some(inner) => values.extend(&inner.caller.stack),
            None => {
                values.extend(&state.stack);
                if let Some((receiver, args)) = send {
                    values.push(receiver);
                    values.extend(args);
                }
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::send_start;
    use lst_bytecode::{Op, encode};

    #[test]
    fn a_send_starts_at_its_mark_arguments_and_a_binary_send_at_itself() {
        let mut code = vec![];
        let mut ends = vec![];
        for (op, arg) in [
            (Op::PushArgument, 0),
            (Op::PushArgument, 1),
            (Op::MarkArguments, 2),
            (Op::SendMessage, 0),
            (Op::PushConstant, 1),
            (Op::SendBinary, 2),
        ] {
            encode(&mut code, op, arg, 0);
            ends.push(code.len() as u16);
        }
        assert_eq!(send_start(&code, ends[3]), Some(ends[1]));
        assert_eq!(send_start(&code, ends[5]), Some(ends[4]));
        assert_eq!(send_start(&code, ends[4]), None, "not after a send");
        assert_eq!(
            send_start(&code, ends[3] + 1),
            None,
            "not an instruction's end"
        );
    }
}
