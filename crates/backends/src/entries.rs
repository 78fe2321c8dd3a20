//! Where a compiled function can be entered, and what a send site says
//! about its send: facts of the IR that both code generators (the
//! Cranelift lowering and the baseline) must agree on with the runtime.
//!
//! A function is entered at its start (entry 0), after each of its sends
//! (entries 1 ..= sends, in block and instruction order) and at the heads
//! of its loops that the interpreter may hand a running frame over to
//! (on-stack replacement; the entries after the sends).
//!
//! This module reads the IR only; it generates no code.

use crate::lower::LowerError;
use lst_jit::ir::{self, Inst, InstData, State, Terminator};
use lst_vm::jit_runtime::boundary as rt;
use lst_vm::jit_runtime::inline_cache::SendSite;

/// The entries of a function and the IR blocks its loop-head entries
/// jump to.
pub struct Plan {
    /// The entries by k (see the module doc).
    pub entries: Vec<rt::Entry>,
    /// The number of sends (entries 1 ..= sends).
    pub sends: usize,
    /// The IR block of each loop-head entry, in entry order.
    pub loop_heads: Vec<ir::BlockId>,
}

impl Plan {
    /// The entry number of loop head `i`.
    pub fn loop_head_k(&self, i: usize) -> usize {
        1 + self.sends + i
    }
}

/// The entries of `f`, compiled from a method whose bytecode is
/// `bytecodes`.
pub fn plan(f: &ir::Function, bytecodes: &[u8]) -> Result<Plan, LowerError> {
    let start = match f.kind {
        ir::Kind::BlockBody { start } => u32::from(start),
        ir::Kind::Method => 0,
    };
    let mut entries = vec![rt::Entry {
        pc: start,
        resume: rt::Resume::Start,
        depth: 0,
    }];
    for data in f.blocks.iter().flat_map(|b| &b.insts) {
        if matches!(data.inst, Inst::Send { .. }) {
            entries.push(rt::Entry {
                pc: u32::from(state_of(data)?.pc),
                resume: rt::Resume::AfterSend,
                depth: 0,
            });
        }
    }
    let sends = entries.len() - 1;
    let mut loop_heads = vec![];
    for (target, pc) in loop_head_targets(f, bytecodes) {
        let Some(head) = f.block(target) else {
            return Err(LowerError(format!("loop head {target} is missing")));
        };
        entries.push(rt::Entry {
            pc: u32::from(pc),
            resume: rt::Resume::LoopHead,
            depth: head.params.len() as u32,
        });
        loop_heads.push(target);
    }
    Ok(Plan {
        entries,
        sends,
        loop_heads,
    })
}

/// The targets of backward branches, with their bytecode offsets, once
/// each. A backward branch is the terminator of a block whose last
/// safepoint's pc is the branch bytecode (a safepoint of an inlined
/// loop, its state chained, is not the unit's).
fn loop_head_targets(f: &ir::Function, bytecodes: &[u8]) -> Vec<(ir::BlockId, u16)> {
    let mut seen = std::collections::HashSet::new();
    let mut heads = vec![];
    for (i, block) in f.blocks.iter().enumerate() {
        let Some(state) = block
            .insts
            .iter()
            .skip(usize::from(i == 0))
            .filter(|d| matches!(d.inst, Inst::Safepoint))
            .filter_map(|d| d.state.as_ref())
            .rfind(|s| !s.is_chained())
        else {
            continue;
        };
        let Ok(insn) = lst_bytecode::decode_at(bytecodes, state.pc as usize) else {
            continue;
        };
        use lst_bytecode::Op;
        let target = match (insn.op, &block.terminator) {
            (Op::Branch, Terminator::Jump(call)) => call.block,
            (Op::BranchIfTrue | Op::BranchIfFalse, Terminator::Branch { then, .. }) => then.block,
            _ => continue,
        };
        if insn.extra > state.pc || !seen.insert(insn.extra) {
            continue;
        }
        heads.push((target, insn.extra));
    }
    heads
}

/// The blocks a guard sends to when its tag test fails: the fallback
/// sends of the semantic lowering's fast paths (`lst_jit::semantic`),
/// which run rarely. A guard is a branch on `both_int` (or on its `and`
/// with a validity word, or on `is_int` when an operand is a constant)
/// defined in the branching block.
pub fn fallback_blocks(f: &ir::Function) -> std::collections::HashSet<ir::BlockId> {
    let mut fallbacks = std::collections::HashSet::new();
    for b in &f.blocks {
        let ir::Terminator::Branch {
            cond, otherwise, ..
        } = &b.terminator
        else {
            continue;
        };
        let guard = b.insts.iter().any(|i| {
            i.results.contains(cond)
                && matches!(
                    i.inst,
                    ir::Inst::BothInt(..) | ir::Inst::IsInt(..) | ir::Inst::And(..)
                )
        });
        if guard {
            fallbacks.insert(otherwise.block);
        }
    }
    fallbacks
}

/// Fills in send site `site` for the k-th send of a function whose entry 0
/// is record `first_record`: a send of `selector` (`to_super`) with
/// `nargs` arguments, in a method with `literal_count` literals.
pub fn prepare_site(
    site: &SendSite,
    selector: ir::Selector,
    to_super: bool,
    nargs: usize,
    literal_count: usize,
    record: u64,
) -> Result<(), LowerError> {
    let mut code = match selector {
        ir::Selector::Literal(i) if (i as usize) < literal_count => u64::from(i),
        ir::Selector::Literal(i) => {
            return Err(LowerError(format!("selector literal {i} out of range")));
        }
        ir::Selector::Special(s) => {
            let i = ir::Special::ALL.iter().position(|&x| x == s).unwrap_or(0);
            rt::SPECIAL_SELECTOR | i as u64
        }
    };
    if to_super {
        code |= rt::TO_SUPER;
    }
    site.selector.set(code);
    site.nvals.set(nargs as u64 + 1);
    site.set_record(record);
    Ok(())
}

/// For a `doPrimitive` with frame state `state` and arguments `args`: the
/// values the code writes into the frame before the primitive runs (the
/// state's stack, then the arguments), and the bytecode offset after the
/// `doPrimitive`, where the primitive's failure code goes on.
pub fn primitive_call(
    bytecodes: &[u8],
    state: &State,
    args: &[ir::Value],
) -> Result<(Vec<ir::Value>, usize), LowerError> {
    let insn = lst_bytecode::decode_at(bytecodes, state.pc as usize)
        .map_err(|e| LowerError(format!("bad doPrimitive: {e}")))?;
    let after = state.pc as usize + insn.len as usize;
    let mut all = state.stack.clone();
    all.extend_from_slice(args);
    Ok((all, after))
}

/// Checks a recomputable instruction against the method (a malformed
/// method may name an argument or literal it does not have); for a
/// SmallInt constant, answers its tagged word.
pub fn check_pure(
    inst: &Inst,
    arg_count: u8,
    literal_count: usize,
) -> Result<Option<i64>, LowerError> {
    match *inst {
        Inst::Arg(n) if n > arg_count => Err(LowerError(format!(
            "argument {n} of a method with {arg_count}"
        ))),
        Inst::Literal(n) if n as usize >= literal_count => {
            Err(LowerError(format!("literal {n} is out of range")))
        }
        Inst::Int(n) => lst_vm::value::Value::int(n)
            .map(|v| Some(v.raw() as i64))
            .ok_or_else(|| LowerError("constant out of SmallInt range".into())),
        Inst::SelfRef | Inst::Arg(_) | Inst::Literal(_) | Inst::Nil | Inst::True | Inst::False => {
            Ok(None)
        }
        _ => Err(LowerError("not a pure instruction".into())),
    }
}

/// The frame state an instruction carries.
pub fn state_of(data: &InstData) -> Result<&State, LowerError> {
    data.state
        .as_ref()
        .ok_or_else(|| LowerError(format!("{:?} has no frame state", data.inst)))
}

/// The site of the send whose state's pc is `pc` (what an
/// `ir::Inst::SitePrim` names), among `sites`, one per send in block and
/// instruction order.
pub fn site_at<'s>(
    f: &ir::Function,
    sites: &'s [SendSite],
    pc: u16,
) -> Result<&'s SendSite, LowerError> {
    let mut at = f
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|d| matches!(d.inst, Inst::Send { .. }))
        .enumerate()
        .filter(|(_, d)| {
            d.state
                .as_ref()
                .is_some_and(|s| !s.is_chained() && s.pc == pc)
        })
        .map(|(k, _)| k);
    match (at.next(), at.next()) {
        (Some(k), None) => sites
            .get(k)
            .ok_or_else(|| LowerError("more sends than send sites".into())),
        (None, _) => Err(LowerError(format!("no send at pc {pc} for its site"))),
        (Some(_), Some(_)) => Err(LowerError(format!("two sends at pc {pc}"))),
    }
}

/// The `Way::quick` code (`jit_runtime::quick`) a send site holds for a
/// kind of quick method: what every back end's `quick_way` compares.
pub fn quick_code(kind: lst_jit::ir::QuickKind) -> u64 {
    use lst_jit::ir::QuickKind;
    use lst_vm::jit_runtime::quick::{QUICK_CONSTANT, QUICK_GETTER, QUICK_SETTER};
    match kind {
        QuickKind::Constant => QUICK_CONSTANT,
        QuickKind::Getter => QUICK_GETTER,
        QuickKind::Setter => QUICK_SETTER,
    }
}
