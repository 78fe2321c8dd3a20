//! LST bytecode → IR, for a method or for one block body inside it.
//!
//! 1. Find the reachable instructions and the block leaders (the entry,
//!    branch targets, the instruction after a conditional branch or a
//!    primitive).
//! 2. Give every leader its operand-stack depth (it must be the same from
//!    every predecessor, else the method is not translated).
//! 3. Walk each block with a compile-time stack of SSA values in place of
//!    the operand stack: a push is a value, `markArguments` keeps its
//!    values together until the send takes them (no argument Array), and
//!    whatever is on the stack at a block's end is passed to the next
//!    block's parameters.
//!
//! Pushes become values where they occur (a temporary is read when it is
//! pushed, as the interpreter does): deferring a load past a send or an
//! assignment could read a newer value. Loads nobody uses cost nothing
//! after the back end's dead-code elimination.
//!
//! `sendBinary` is a plain send of its special selector (its SmallInt fast
//! path is [`crate::semantic`]'s); `sendUnary` is an identity test with
//! nil. Safepoints go at entry and before backward jumps.
//!
//! Every instruction that may leave native code gets its frame [`State`]
//! from the compile-time stack (see [`Inst`] for the pc and stack of each);
//! a method whose argument pack would have to be in a state is declined.

use crate::ir::*;
use lst_bytecode::{Insn, Op, decode_at};
use std::collections::BTreeMap;

/// Why a method is left to the interpreter.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TranslateError {
    #[error("bad bytecode at {at}: {message}")]
    Bytecode { at: usize, message: String },
    #[error("the operand stack has depth {a} and {b} where paths meet at {at}")]
    StackMismatch { at: usize, a: usize, b: usize },
    #[error("at {at}: {message}")]
    Unsupported { at: usize, message: String },
}

/// The code to translate.
pub struct Source<'a> {
    /// `Class>>selector`, for printing.
    pub name: &'a str,
    pub bytecodes: &'a [u8],
    pub arg_count: u8,
    pub temp_count: u8,
}

/// The bytecode offsets of every block body in the method, with their ends.
pub fn block_bodies(code: &[u8]) -> Vec<(u16, u16)> {
    let mut out = vec![];
    let mut pc = 0;
    while pc < code.len() {
        let Ok(insn) = decode_at(code, pc) else { break };
        let next = pc + insn.len as usize;
        if insn.op == Op::PushBlock {
            out.push((next as u16, insn.extra));
        }
        pc = next;
    }
    out
}

/// Translates the method (`kind` Method) or the block body starting at
/// `start` (and ending before `end`).
pub fn translate(src: &Source, kind: Kind) -> Result<Function, TranslateError> {
    let (entry, end) = match kind {
        Kind::Method => (0, src.bytecodes.len()),
        Kind::BlockBody { start } => {
            let end = block_bodies(src.bytecodes)
                .iter()
                .find(|(s, _)| *s == start)
                .map(|&(_, e)| e as usize)
                .ok_or(TranslateError::Unsupported {
                    at: start as usize,
                    message: "no block body starts here".into(),
                })?;
            (start as usize, end)
        }
    };
    let code = &src.bytecodes[..end.min(src.bytecodes.len())];
    let leaders = find_leaders(code, entry)?;
    let depths = stack_depths(code, &leaders)?;
    let mut t = Translator {
        code,
        blocks: vec![],
        next_value: 0,
        ids: leaders
            .keys()
            .enumerate()
            .map(|(i, &pc)| (pc, BlockId(i as u32 + 1)))
            .collect(),
        cur: None,
    };
    // A block of its own for the entry: the first bytecode may be a loop head.
    t.open(BlockId(0), vec![]);
    let at_entry = State::new(entry as u16, vec![]);
    t.emit_at(Inst::Safepoint, at_entry);
    t.close(Terminator::Jump(BlockCall {
        block: t.leader(entry),
        args: vec![],
    }));
    for (&pc, &depth) in &depths {
        t.translate_block(pc, depth, &leaders)?;
    }
    let mut blocks = t.blocks;
    blocks.sort_by_key(|b| b.id);
    Ok(Function {
        name: src.name.to_string(),
        kind,
        arg_count: src.arg_count,
        temp_count: src.temp_count,
        blocks,
        constants: vec![],
    })
}

fn decode(code: &[u8], pc: usize) -> Result<Insn, TranslateError> {
    decode_at(code, pc).map_err(|e| TranslateError::Bytecode {
        at: pc,
        message: e.to_string(),
    })
}

/// Where control goes after the instruction at `pc`.
fn successors(insn: &Insn, pc: usize) -> Vec<usize> {
    let next = pc + insn.len as usize;
    match insn.op {
        Op::Branch => vec![insn.extra as usize],
        Op::BranchIfTrue | Op::BranchIfFalse => vec![insn.extra as usize, next],
        Op::SelfReturn | Op::StackReturn | Op::BlockReturn => vec![],
        Op::PushBlock => vec![insn.extra as usize],
        _ => vec![next],
    }
}

/// Reachable leaders (pc → true), in pc order.
fn find_leaders(code: &[u8], entry: usize) -> Result<BTreeMap<usize, ()>, TranslateError> {
    let mut leaders = BTreeMap::new();
    leaders.insert(entry, ());
    let mut seen = vec![false; code.len() + 1];
    let mut work = vec![entry];
    while let Some(pc) = work.pop() {
        if pc >= code.len() {
            return Err(TranslateError::Bytecode {
                at: pc,
                message: "control runs off the end of the code".into(),
            });
        }
        if std::mem::replace(&mut seen[pc], true) {
            continue;
        }
        let insn = decode(code, pc)?;
        let succ = successors(&insn, pc);
        let ends_block = matches!(
            insn.op,
            Op::Branch | Op::BranchIfTrue | Op::BranchIfFalse | Op::DoPrimitive
        );
        for &s in &succ {
            if ends_block {
                leaders.insert(s, ());
            }
            work.push(s);
        }
    }
    Ok(leaders)
}

/// The operand-stack depth at every leader.
fn stack_depths(
    code: &[u8],
    leaders: &BTreeMap<usize, ()>,
) -> Result<BTreeMap<usize, usize>, TranslateError> {
    let entry = *leaders.keys().next().expect("the entry is a leader");
    let mut depths = BTreeMap::from([(entry, 0usize)]);
    let mut work = vec![entry];
    while let Some(start) = work.pop() {
        let mut depth = depths[&start];
        let mut pc = start;
        loop {
            let insn = decode(code, pc)?;
            let (pops, pushes) = insn.op.stack_effect(insn.arg);
            depth = depth.checked_sub(pops).ok_or(TranslateError::Unsupported {
                at: pc,
                message: "pops an empty operand stack".into(),
            })? + pushes;
            let succ = successors(&insn, pc);
            // A pushBlock goes on after the block's body.
            let next = match insn.op {
                Op::PushBlock => insn.extra as usize,
                _ => pc + insn.len as usize,
            };
            let falls_into_leader = succ == [next] && leaders.contains_key(&next);
            if succ != [next] || falls_into_leader || insn.op == Op::DoPrimitive {
                for s in succ {
                    match depths.get(&s) {
                        Some(&d) if d != depth => {
                            return Err(TranslateError::StackMismatch {
                                at: s,
                                a: d,
                                b: depth,
                            });
                        }
                        Some(_) => {}
                        None => {
                            depths.insert(s, depth);
                            work.push(s);
                        }
                    }
                }
                break;
            }
            pc = next;
        }
    }
    Ok(depths)
}

/// An entry of the compile-time operand stack.
#[derive(Clone, Debug)]
enum Entry {
    Val(Value),
    /// `markArguments`: receiver and arguments, waiting for their send.
    Pack(Vec<Value>),
}

struct Translator<'a> {
    code: &'a [u8],
    blocks: Vec<Block>,
    next_value: u32,
    /// The IR block of each leader.
    ids: BTreeMap<usize, BlockId>,
    /// The block being filled: id, params, instructions.
    cur: Option<(BlockId, Vec<Value>, Vec<InstData>)>,
}

impl Translator<'_> {
    fn value(&mut self) -> Value {
        self.next_value += 1;
        Value(self.next_value - 1)
    }

    fn emit_with(&mut self, inst: Inst, state: Option<State>) -> Vec<Value> {
        let results: Vec<Value> = inst.result_types().iter().map(|_| self.value()).collect();
        let cur = self.cur.as_mut().expect("a block is open");
        cur.2.push(InstData {
            results: results.clone(),
            inst,
            state,
        });
        results
    }

    fn emit(&mut self, inst: Inst) -> Vec<Value> {
        self.emit_with(inst, None)
    }

    fn emit1(&mut self, inst: Inst) -> Value {
        self.emit(inst)[0]
    }

    /// Emits an instruction that may leave native code, with its state.
    fn emit_at(&mut self, inst: Inst, state: State) -> Vec<Value> {
        self.emit_with(inst, Some(state))
    }

    fn emit1_at(&mut self, inst: Inst, state: State) -> Value {
        self.emit_at(inst, state)[0]
    }

    fn open(&mut self, id: BlockId, params: Vec<Value>) {
        debug_assert!(self.cur.is_none());
        self.cur = Some((id, params, vec![]));
    }

    fn close(&mut self, terminator: Terminator) {
        let (id, params, insts) = self.cur.take().expect("a block is open");
        self.blocks.push(Block::new(id, params, insts, terminator));
    }

    fn leader(&self, pc: usize) -> BlockId {
        self.ids[&pc]
    }

    fn translate_block(
        &mut self,
        start: usize,
        depth: usize,
        leaders: &BTreeMap<usize, ()>,
    ) -> Result<(), TranslateError> {
        let params: Vec<Value> = (0..depth).map(|_| self.value()).collect();
        let mut stack: Vec<Entry> = params.iter().map(|&v| Entry::Val(v)).collect();
        self.open(self.leader(start), params);
        let mut pc = start;
        loop {
            let insn = decode(self.code, pc)?;
            let next = pc + insn.len as usize;
            if self.instruction(&insn, pc, &mut stack)? {
                return Ok(());
            }
            pc = match insn.op {
                Op::PushBlock => insn.extra as usize,
                _ => next,
            };
            if leaders.contains_key(&pc) {
                let args = values(&stack, pc)?;
                self.close(Terminator::Jump(BlockCall {
                    block: self.leader(pc),
                    args,
                }));
                return Ok(());
            }
        }
    }

    /// Translates one instruction; true if it ended the block.
    fn instruction(
        &mut self,
        insn: &Insn,
        pc: usize,
        stack: &mut Vec<Entry>,
    ) -> Result<bool, TranslateError> {
        let arg = insn.arg;
        let unsupported = |message: &str| TranslateError::Unsupported {
            at: pc,
            message: message.into(),
        };
        let pop = |stack: &mut Vec<Entry>| match stack.pop() {
            Some(Entry::Val(v)) => Ok(v),
            _ => Err(unsupported("expected a value on the operand stack")),
        };
        let next = pc + insn.len as usize;
        // The frame state where the interpreter would go on at `resume`.
        let at = |stack: &[Entry], resume: usize| state(stack, resume, pc);
        match insn.op {
            Op::PushInstance => {
                let s = at(stack, next)?;
                push(stack, self.emit1_at(Inst::Ivar(arg), s));
            }
            Op::PushArgument if arg == 0 => push(stack, self.emit1(Inst::SelfRef)),
            Op::PushArgument => push(stack, self.emit1(Inst::Arg(arg))),
            Op::PushTemporary => {
                let s = at(stack, next)?;
                push(stack, self.emit1_at(Inst::Temp(arg), s));
            }
            Op::PushLiteral => push(stack, self.emit1(Inst::Literal(arg))),
            Op::PushConstant => {
                let inst = match arg {
                    0..=9 => Inst::Int(i64::from(arg)),
                    10 => Inst::Nil,
                    11 => Inst::True,
                    12 => Inst::False,
                    _ => return Err(unsupported("invalid pushConstant")),
                };
                push(stack, self.emit1(inst))
            }
            Op::AssignInstance => {
                let s = at(stack, next)?;
                let v = pop(stack)?;
                self.emit_at(Inst::SetIvar(arg, v), s);
                push(stack, v);
            }
            Op::AssignTemporary => {
                let s = at(stack, next)?;
                let v = pop(stack)?;
                self.emit_at(Inst::SetTemp(arg, v), s);
                push(stack, v);
            }
            Op::MarkArguments => {
                let n = arg as usize;
                if stack.len() < n || n == 0 {
                    return Err(unsupported("markArguments without its values"));
                }
                let vals = values(&stack[stack.len() - n..], pc)?;
                stack.truncate(stack.len() - n);
                stack.push(Entry::Pack(vals));
            }
            Op::SendMessage | Op::SendToSuper => {
                let Some(Entry::Pack(vals)) = stack.pop() else {
                    return Err(unsupported("a send without markArguments before it"));
                };
                let literal = if insn.op == Op::SendToSuper {
                    insn.extra as u8
                } else {
                    arg
                };
                let send = Inst::Send {
                    selector: Selector::Literal(literal),
                    receiver: vals[0],
                    args: vals[1..].to_vec(),
                    to_super: insn.op == Op::SendToSuper,
                };
                let r = self.emit1_at(send, at(stack, next)?);
                push(stack, r);
            }
            Op::SendUnary => {
                let x = pop(stack)?;
                let nil = self.emit1(Inst::Nil);
                let is_nil = self.emit1(Inst::Same(x, nil));
                let c = match arg {
                    0 => is_nil,
                    1 => self.emit1(Inst::Not(is_nil)),
                    _ => return Err(unsupported("invalid sendUnary")),
                };
                push(stack, self.emit1(Inst::BoolObj(c)));
            }
            Op::SendBinary => {
                let special = Special::of_index(arg as usize)
                    .ok_or_else(|| unsupported("invalid sendBinary"))?;
                let b = pop(stack)?;
                let a = pop(stack)?;
                // The SmallInt fast paths are the semantic lowering's
                // (`crate::semantic`).
                self.special_send(special, a, b, stack, next)?
            }
            Op::PushBlock => {
                let block = Inst::MakeBlock {
                    arg_location: arg,
                    body: next as u16,
                };
                let r = self.emit1_at(block, at(stack, insn.extra as usize)?);
                push(stack, r);
            }
            Op::DoPrimitive => {
                let n = arg as usize;
                if stack.len() < n {
                    return Err(unsupported("a primitive without its arguments"));
                }
                let args = values(&stack[stack.len() - n..], pc)?;
                stack.truncate(stack.len() - n);
                let state = at(stack, pc)?;
                let nil = self.emit1(Inst::Nil);
                let mut rest = values(stack, pc)?;
                rest.push(nil);
                self.close(Terminator::Primitive {
                    number: insn.extra as u8,
                    args,
                    fail: BlockCall {
                        block: self.leader(next),
                        args: rest,
                    },
                    state,
                });
                return Ok(true);
            }
            Op::SelfReturn => {
                let s = self.emit1(Inst::SelfRef);
                self.close(Terminator::Return(s));
                return Ok(true);
            }
            Op::StackReturn => {
                let v = pop(stack)?;
                self.close(Terminator::Return(v));
                return Ok(true);
            }
            Op::BlockReturn => {
                let v = pop(stack)?;
                self.close(Terminator::BlockReturn(v));
                return Ok(true);
            }
            Op::Duplicate => {
                let v = pop(stack)?;
                push(stack, v);
                push(stack, v);
            }
            Op::PopTop => {
                stack
                    .pop()
                    .ok_or_else(|| unsupported("popTop on an empty stack"))?;
            }
            Op::Branch => {
                let target = insn.extra as usize;
                if target <= pc {
                    self.emit_at(Inst::Safepoint, at(stack, pc)?);
                }
                let args = values(stack, pc)?;
                self.close(Terminator::Jump(BlockCall {
                    block: self.leader(target),
                    args,
                }));
                return Ok(true);
            }
            Op::BranchIfTrue | Op::BranchIfFalse => {
                let target = insn.extra as usize;
                // The state before the branch pops its condition.
                let before = (target <= pc).then(|| at(stack, pc)).transpose()?;
                let v = pop(stack)?;
                let constant = if insn.op == Op::BranchIfTrue {
                    Inst::True
                } else {
                    Inst::False
                };
                let k = self.emit1(constant);
                let c = self.emit1(Inst::Same(v, k));
                if let Some(s) = before {
                    self.emit_at(Inst::Safepoint, s);
                }
                let args = values(stack, pc)?;
                self.close(Terminator::Branch {
                    cond: c,
                    then: BlockCall {
                        block: self.leader(target),
                        args: args.clone(),
                    },
                    otherwise: BlockCall {
                        block: self.leader(next),
                        args,
                    },
                });
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `a special b` as a send, its value pushed.
    fn special_send(
        &mut self,
        special: Special,
        a: Value,
        b: Value,
        stack: &mut Vec<Entry>,
        next: usize,
    ) -> Result<(), TranslateError> {
        let live = values(stack, next)?;
        let r = self.emit_special_send(special, a, b, live, next);
        push(stack, r);
        Ok(())
    }

    /// Emits the send `a special b`, resuming at `next` with `live` on the
    /// operand stack below its value; answers the value.
    fn emit_special_send(
        &mut self,
        special: Special,
        a: Value,
        b: Value,
        live: Vec<Value>,
        next: usize,
    ) -> Value {
        let send = Inst::Send {
            selector: Selector::Special(special),
            receiver: a,
            args: vec![b],
            to_super: false,
        };
        let state = State::new(next as u16, live);
        self.emit1_at(send, state)
    }
}

fn push(stack: &mut Vec<Entry>, v: Value) {
    stack.push(Entry::Val(v));
}

/// The stack's values; an argument pack cannot cross a block boundary.
fn values(stack: &[Entry], pc: usize) -> Result<Vec<Value>, TranslateError> {
    unpacked(stack, pc, "markArguments values live across a branch")
}

/// The frame state for the instruction at `pc` where the interpreter
/// goes on at `resume` with `stack`; an argument pack cannot be in one.
fn state(stack: &[Entry], resume: usize, pc: usize) -> Result<State, TranslateError> {
    Ok(State::new(
        u16::try_from(resume).map_err(|_| TranslateError::Unsupported {
            at: pc,
            message: "a bytecode offset beyond 65535".into(),
        })?,
        unpacked(stack, pc, "markArguments values would be in a frame state")?,
    ))
}

/// The stack's values, or `why` if it holds an argument pack.
fn unpacked(stack: &[Entry], pc: usize, why: &str) -> Result<Vec<Value>, TranslateError> {
    stack
        .iter()
        .map(|e| match e {
            Entry::Val(v) => Ok(*v),
            Entry::Pack(_) => Err(TranslateError::Unsupported {
                at: pc,
                message: why.into(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lst_bytecode::encode;

    fn method(code: &[(Op, u8, u16)]) -> Result<Function, TranslateError> {
        let mut bytes = vec![];
        for &(op, arg, extra) in code {
            encode(&mut bytes, op, arg, extra);
        }
        let src = Source {
            name: "T>>f",
            bytecodes: &bytes,
            arg_count: 0,
            temp_count: 1,
        };
        translate(&src, Kind::Method)
    }

    #[test]
    fn a_backward_conditional_branch_keeps_its_condition_in_the_state() {
        let f = method(&[
            (Op::PushArgument, 0, 0),
            (Op::PushTemporary, 0, 0),
            (Op::BranchIfTrue, 0, 1),
            (Op::StackReturn, 0, 0),
        ])
        .unwrap();
        let bb2 = &f.blocks[2];
        let text: Vec<String> = bb2.insts.iter().map(|i| i.to_string()).collect();
        assert_eq!(
            text,
            [
                "v2 = temp 0 @2 [v1]",
                "v3 = true",
                "v4 = same v2 v3",
                "safepoint @2 [v1 v2]"
            ],
            "{f}"
        );
    }

    #[test]
    fn an_argument_pack_in_a_state_is_declined() {
        let e = method(&[
            (Op::PushArgument, 0, 0),
            (Op::MarkArguments, 1, 0),
            (Op::PushTemporary, 0, 0),
            (Op::StackReturn, 0, 0),
        ])
        .unwrap_err();
        assert!(matches!(
            e,
            TranslateError::Unsupported { at: 2, ref message } if message.contains("frame state")
        ));
    }
}
