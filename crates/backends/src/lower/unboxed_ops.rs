//! Instruction selection for the IR's unboxed Float ops, the ones the
//! region pass (`lst_jit::semantic::region`) makes: `unbox_float` and
//! `unbox_number` (the tag test, the class word and the 8-byte shape, and
//! a SmallInt's conversion), `f64_add` … `f64_div` and `f64_lt` …
//! `f64_eq` (one CLIF instruction each) and `box_float` (the inline bump
//! allocation). All of it is inline, from [`crate::float_kit`]: a region's
//! fast path calls no Float stub. A float is an `F64` CLIF value; float
//! block parameters are `F64` parameters ([`clif_type`]).
//!
//! A region's guards end in `branch and(not failed…, …), fast, slow` (or
//! `branch failed, slow, join` after its box): each `failed` flag only
//! sends the code to `slow`. Such an op whose flag the block's branch
//! consumes that way ([`guard_exits`]) branches straight to that target
//! when it fails, and its flag
//! is then 0 where the code goes on: a SmallInt receiver leaves at its
//! first tag test instead of running every other guard first (AWFY Sieve,
//! whose SmallInt sends all become regions without type feedback).
//!
//! None of these ops collects or leaves native code, so no frame state is
//! written around them. Which expressions become regions is the IR
//! pass's decision, not this module's.

use super::{LowerError, Lowering};
use crate::clif_kit::FLAGS;
use crate::entries::state_of;
use crate::float_kit::{float_value, new_float, number_value, or_failed};
use crate::helpers::Id;
use cranelift_codegen::ir::MemFlagsData;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I8;
use cranelift_codegen::ir::types::{F64, I64};
use cranelift_codegen::ir::{self as cl, InstBuilder};
use lst_jit::ir::State;
use lst_jit::ir::{self, F64Compare, F64Op, Inst, InstData, Terminator, Type};
use std::collections::{HashMap, HashSet};

/// The CLIF type of an IR block parameter of type `t`.
pub(super) fn clif_type(t: Type) -> cl::Type {
    match t {
        Type::Float => F64,
        Type::Obj | Type::Bool => I64,
    }
}

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is an unboxed Float op; answers whether it was.
    pub(super) fn unboxed_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let (lay, vm) = (self.env.layout, self.vm);
        let results = match data.inst {
            Inst::UnboxFloat(a) => {
                let x = self.get(a)?;
                self.or_exit(data, F64, |b, fail| float_value(b, lay, vm, x, fail))?
            }
            Inst::UnboxNumber(a)
                if let Some(&Inst::Int(n)) = self.remat.get(&a)
                    && lst_vm::value::Value::int(n).is_some() =>
            {
                // A SmallInt constant (`x + 1`): its double, as `asFloat`
                // rounds it, with no test (Cranelift folds no branch).
                let f = self.b.ins().f64const(n as f64);
                vec![f, self.b.ins().iconst(I8, 0)]
            }
            Inst::UnboxNumber(a) => {
                let x = self.get(a)?;
                self.or_exit(data, F64, |b, fail| number_value(b, lay, vm, x, fail))?
            }
            Inst::F64(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.f64_op(op, x, y)]
            }
            Inst::F64Compare(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.ins().fcmp(float_cc(op), x, y)]
            }
            Inst::BoxFloat(a) => {
                let f = self.get(a)?;
                self.or_exit(data, I64, |b, fail| new_float(b, lay, vm, f, fail))?
            }
            Inst::BoxFloatGc(a) => {
                let f = self.get(a)?;
                vec![self.box_float_gc(f, state_of(data)?)?]
            }
            Inst::CountdownTick => vec![self.countdown_tick()],
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// A new Float holding `f` from the runtime, which may collect: the
    /// state's values are spilled before and reloaded after, as around a
    /// send (an unboxed loop's write-back, off its fast path). Doubles are
    /// no heap references: they stay valid across it.
    fn box_float_gc(&mut self, f: cl::Value, state: &State) -> Result<cl::Value, LowerError> {
        let dfg = &self.b.func.dfg;
        let doubles: Vec<(ir::Value, cl::Value)> = self
            .vals
            .iter()
            .filter(|&(_, &x)| dfg.value_type(x) == F64)
            .map(|(&v, &x)| (v, x))
            .collect();
        self.spill(&state.stack)?;
        let bits = self.b.ins().bitcast(I64, MemFlagsData::new(), f);
        let pc = self.int(i64::from(state.pc));
        let r = self.helper(Id::lst_box_float, &[self.vm, self.hp, bits, pc]);
        let (exit, after) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(exit);
        self.b.ins().brif(r, after, &[], exit, &[]);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[r]);
        self.b.switch_to_block(after);
        self.reload(&state.stack);
        self.vals.extend(doubles);
        Ok(self.load_vm(self.env.layout.regs_value))
    }

    /// `countdown -= 1`, answering whether it ran out (as a safepoint
    /// tests it; the unboxed loop's safepoint then follows on the way out
    /// of its copy).
    fn countdown_tick(&mut self) -> cl::Value {
        let at = self.env.layout.countdown;
        let n = self.load_vm(at);
        let n = self.b.ins().iadd_imm_s(n, -1);
        let vm = self.vm;
        self.b.ins().store(FLAGS, n, vm, at);
        self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, n, 0)
    }

    /// The results (value, failed) of `data`, an op that `piece` computes
    /// (branching to the block it is given when it does not apply): on
    /// failure straight to the block's slow target when
    /// [`guard_exits`] allows it and its arguments are at hand, else
    /// through [`or_failed`].
    fn or_exit(
        &mut self,
        data: &InstData,
        ty: cl::Type,
        piece: impl FnOnce(&mut cranelift_frontend::FunctionBuilder, cl::Block) -> cl::Value,
    ) -> Result<Vec<cl::Value>, LowerError> {
        let exit = match self.guard_exit.clone() {
            Some((flags, target)) if flags.contains(&data.results[1]) => self.exit_to(&target)?,
            _ => None,
        };
        let Some(exit) = exit else {
            let (v, failed) = or_failed(self.b, ty, piece);
            return Ok(vec![v, failed]);
        };
        let v = piece(self.b, exit);
        let ok = self.b.ins().iconst(I8, 0);
        Ok(vec![v, ok])
    }

    /// A cold block that jumps to `target`, if its arguments are all at
    /// hand here (defined already or recomputable).
    fn exit_to(&mut self, target: &ir::BlockCall) -> Result<Option<cl::Block>, LowerError> {
        let at_hand = |v: &ir::Value| self.vals.contains_key(v) || self.remat.contains_key(v);
        let Some(here) = self.b.current_block() else {
            return Ok(None);
        };
        if !target.args.iter().all(at_hand) {
            return Ok(None);
        }
        let exit = self.b.create_block();
        self.b.set_cold_block(exit);
        self.b.switch_to_block(exit);
        // Values recomputed in the exit block stay there.
        let kept = self.vals.clone();
        let args = self.block_args(&target.args);
        self.vals = kept;
        let into = self.blocks[&target.block];
        self.b.ins().jump(into, &args?);
        self.b.switch_to_block(here);
        Ok(Some(exit))
    }

    fn f64_op(&mut self, op: F64Op, x: cl::Value, y: cl::Value) -> cl::Value {
        let ins = self.b.ins();
        match op {
            F64Op::Add => ins.fadd(x, y),
            F64Op::Sub => ins.fsub(x, y),
            F64Op::Mul => ins.fmul(x, y),
            F64Op::Div => ins.fdiv(x, y),
        }
    }
}

/// The CLIF condition of comparison `op`: ordered (false with a NaN), as
/// Float's primitives compare.
fn float_cc(op: F64Compare) -> FloatCC {
    match op {
        F64Compare::Less => FloatCC::LessThan,
        F64Compare::Greater => FloatCC::GreaterThan,
        F64Compare::Equal => FloatCC::Equal,
    }
}

/// The failure flags of `block`'s unbox and box ops that only send its
/// branch to one target, and that target: the conjuncts `not failed` of
/// its condition (to `otherwise`), or the flag that is its condition (to
/// `then`); `None` when the block does not end so.
pub(super) fn guard_exits(block: &ir::Block) -> Option<(HashSet<ir::Value>, ir::BlockCall)> {
    let Terminator::Branch {
        cond,
        then,
        otherwise,
    } = &block.terminator
    else {
        return None;
    };
    let fallible = |d: &&InstData| {
        matches!(
            d.inst,
            Inst::UnboxFloat(_) | Inst::UnboxNumber(_) | Inst::BoxFloat(_)
        )
    };
    let failed: HashSet<ir::Value> = block
        .insts
        .iter()
        .filter(fallible)
        .map(|d| d.results[1])
        .collect();
    // `branch failed, slow, go_on`: the flag itself.
    if failed.contains(cond) {
        return Some((HashSet::from([*cond]), then.clone()));
    }
    let defs: HashMap<ir::Value, &Inst> = block
        .insts
        .iter()
        .flat_map(|d| d.results.iter().map(move |&r| (r, &d.inst)))
        .collect();
    let mut flags = HashSet::new();
    let mut conjuncts = vec![*cond];
    while let Some(c) = conjuncts.pop() {
        match defs.get(&c) {
            Some(Inst::And(a, b)) => conjuncts.extend([*a, *b]),
            Some(Inst::Not(e)) => {
                flags.insert(*e);
            }
            _ => {}
        }
    }
    flags.retain(|e| failed.contains(e));
    (!flags.is_empty()).then(|| (flags, otherwise.clone()))
}
