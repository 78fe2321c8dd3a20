//! Semantic lowering: sends whose selector stands for an inline SmallInt
//! operation become guarded low-level IR with the send as the fallback.
//!
//! A send `r = send S a b @pc [s…]` (one argument, not to super) whose
//! selector is a special the interpreter itself runs inline on two
//! SmallInts (`sendBinary`: `+ - * < <= > >= = ~= // \\`), or a literal
//! the caller's [`Facts`] map to a SmallInt [`InlineOp`], becomes
//!
//! ```text
//! bbX:                          ; the block up to the send
//!     c = both_int a b          ; is_int a when b is a constant
//!     [v = inline_valid OP      ; literal selectors only
//!      c' = and c v]
//!     branch c, fast(s…, a, b), send(s…, a, b)
//! fast(s…, a, b):               ; the operation on tagged words
//!     r, failed = int_sub a b   ; or a compare + bool_obj, or bit and/or
//!     branch failed, send(s…, a, b), join(s…, r)
//! send(s…, a, b):               ; the original send with its state
//!     r = send S a b @pc [s…]
//!     jump join(s…, r)
//! join(s…, r):                  ; the rest of bbX
//! ```
//!
//! Special selectors need no `inline_valid` guard: the interpreter's
//! `sendBinary` does them on SmallInts without a lookup, whatever the
//! image defines, and compiled code must answer as the interpreter does.
//! A literal selector's operation stands for a method of SmallInt and is
//! taken only while the VM's word says that method is still the
//! primitive (`lst_bytecode::inline_ops`).
//!
//! Values cross blocks only as block arguments: the operand stack `s…`,
//! the receiver and the argument are passed to the new blocks, except
//! values the back ends recompute anywhere (`self`, arguments, literals,
//! constants), which are emitted again where they are used. A send after
//! which the block uses another value defined before it that is neither in
//! the state nor recomputable is left alone (the back ends refuse such a
//! method anyway).
//!
//! This module decides which sends get which fast path; how an operation
//! is done on machine words is each back end's choice.

use crate::ir::*;
use lst_bytecode::inline_ops::InlineOp;
use std::collections::HashMap;

/// What the caller knows about the method's literals.
pub struct Facts<'a> {
    /// For each literal that is a selector SmallInt answers with an
    /// inline operation, that operation (from
    /// `lst_bytecode::inline_ops`); other literals, and operations of
    /// other classes, are ignored.
    pub literal_ops: &'a [Option<InlineOp>],
}

/// Expands every send of `f` that has a SmallInt fast path (see the
/// module doc).
pub fn lower(f: &mut Function, facts: &Facts) {
    let mut ids = Ids::of(f);
    let mut i = 0;
    while i < f.blocks.len() {
        match split_point(&f.blocks[i], facts) {
            Some((at, fast)) => {
                let new = expand(&mut f.blocks[i], at, fast, &mut ids);
                let n = new.len();
                f.blocks.splice(i + 1..i + 1, new);
                // Go on with the join block: the rest of the original.
                i += n;
            }
            None => i += 1,
        }
    }
}

/// The fast path of one send: the operation and the guard word to test.
#[derive(Clone, Copy, Debug)]
struct Fast {
    op: Op,
    /// `Some` for literal selectors (see the module doc).
    guard: Option<InlineOp>,
}

/// The low-level operation a fast path does on two SmallInts.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Gives (result, failed): the send runs when it fails.
    Checked(fn(Value, Value) -> Inst),
    /// Gives a bool, answered as true or false.
    Compare(Compare),
    /// Gives the result; never fails.
    Total(fn(Value, Value) -> Inst),
}

fn special_op(s: Special) -> Op {
    match s {
        Special::Plus => Op::Checked(Inst::IntAdd),
        Special::Minus => Op::Checked(Inst::IntSub),
        Special::Times => Op::Checked(Inst::IntMul),
        Special::FloorDiv => Op::Checked(Inst::IntFloorDiv),
        Special::FloorMod => Op::Checked(Inst::IntFloorMod),
        Special::Less => Op::Compare(Compare::Less),
        Special::LessEqual => Op::Compare(Compare::LessEqual),
        Special::Greater => Op::Compare(Compare::Greater),
        Special::GreaterEqual => Op::Compare(Compare::GreaterEqual),
        Special::Equal => Op::Compare(Compare::Equal),
        Special::NotEqual => Op::Compare(Compare::NotEqual),
    }
}

/// The IR of a SmallInt inline operation (`None` for other classes').
fn inline_op(op: InlineOp) -> Option<Op> {
    use InlineOp as O;
    Some(match op {
        O::IntAdd => Op::Checked(Inst::IntAdd),
        O::IntSub => Op::Checked(Inst::IntSub),
        O::IntMul => Op::Checked(Inst::IntMul),
        O::IntFloorDiv => Op::Checked(Inst::IntFloorDiv),
        O::IntFloorMod => Op::Checked(Inst::IntFloorMod),
        O::IntQuo => Op::Checked(Inst::IntQuo),
        O::IntRem => Op::Checked(Inst::IntRem),
        O::IntLess => Op::Compare(Compare::Less),
        O::IntGreater => Op::Compare(Compare::Greater),
        O::IntEqual => Op::Compare(Compare::Equal),
        O::IntBitAnd => Op::Total(Inst::IntBitAnd),
        O::IntBitOr => Op::Total(Inst::IntBitOr),
        O::FloatAdd
        | O::FloatSub
        | O::FloatMul
        | O::FloatDiv
        | O::FloatLess
        | O::FloatGreater
        | O::FloatEqual => return None,
    })
}

/// The fast path of a send, if it has one.
fn fast_path(inst: &Inst, facts: &Facts) -> Option<Fast> {
    let Inst::Send {
        selector,
        args,
        to_super: false,
        ..
    } = inst
    else {
        return None;
    };
    if args.len() != 1 {
        return None;
    }
    match *selector {
        Selector::Special(s) => Some(Fast {
            op: special_op(s),
            guard: None,
        }),
        Selector::Literal(i) => {
            let op = facts.literal_ops.get(usize::from(i)).copied().flatten()?;
            Some(Fast {
                op: inline_op(op)?,
                guard: Some(op),
            })
        }
    }
}

/// Whether `inst` is one the back ends recompute wherever it is used.
pub fn recomputable(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::SelfRef
            | Inst::Arg(_)
            | Inst::Literal(_)
            | Inst::Nil
            | Inst::True
            | Inst::False
            | Inst::Int(_)
    )
}

/// The first send of `b` to expand: its index and fast path.
fn split_point(b: &Block, facts: &Facts) -> Option<(usize, Fast)> {
    b.insts.iter().enumerate().find_map(|(at, data)| {
        let fast = fast_path(&data.inst, facts)?;
        splittable(b, at).then_some((at, fast))
    })
}

/// Whether every value the rest of `b` (after instruction `at`, a send)
/// uses from before it can reach the join block: it is the send's
/// answer, in the send's state, or recomputable.
fn splittable(b: &Block, at: usize) -> bool {
    let send = &b.insts[at];
    let Some(state) = &send.state else {
        return false;
    };
    let before = defined_before(b, at);
    rest_uses(b, at).into_iter().all(|v| {
        send.results.contains(&v)
            || state.stack.contains(&v)
            || !before.contains_key(&v)
            || before[&v].is_some_and(recomputable)
    })
}

/// The values defined in `b` before instruction `at`, with the
/// instruction that defines each (`None` for a parameter).
fn defined_before(b: &Block, at: usize) -> HashMap<Value, Option<&Inst>> {
    let mut defs: HashMap<Value, Option<&Inst>> = b.params.iter().map(|&p| (p, None)).collect();
    for data in &b.insts[..at] {
        for &r in &data.results {
            defs.insert(r, Some(&data.inst));
        }
    }
    defs
}

/// Every value the instructions after `at` and the terminator read.
fn rest_uses(b: &Block, at: usize) -> Vec<Value> {
    uses_of(&b.insts[at + 1..], &b.terminator)
}

/// Every value `insts` and `t` read (operands, states, block arguments).
fn uses_of(insts: &[InstData], t: &Terminator) -> Vec<Value> {
    let mut uses: Vec<Value> = insts
        .iter()
        .flat_map(|i| i.uses())
        .map(|(v, _)| v)
        .collect();
    uses.extend(t.operands().into_iter().map(|(v, _)| v));
    uses.extend(t.state_uses().into_iter().map(|(v, _)| v));
    uses.extend(t.successors().into_iter().flat_map(|c| c.args.clone()));
    uses
}

/// Fresh value and block numbers.
struct Ids {
    next_value: u32,
    next_block: u32,
}

impl Ids {
    fn of(f: &Function) -> Ids {
        let mut values = 0;
        for b in &f.blocks {
            for v in b
                .params
                .iter()
                .chain(b.insts.iter().flat_map(|i| &i.results))
            {
                values = values.max(v.0 + 1);
            }
        }
        let blocks = f.blocks.iter().map(|b| b.id.0 + 1).max().unwrap_or(0);
        Ids {
            next_value: values,
            next_block: blocks,
        }
    }

    fn value(&mut self) -> Value {
        self.next_value += 1;
        Value(self.next_value - 1)
    }

    fn block(&mut self) -> BlockId {
        self.next_block += 1;
        BlockId(self.next_block - 1)
    }
}

/// What the new blocks carry from the split block: the values passed as
/// arguments, and the recomputable ones, emitted again where used.
struct Carried {
    /// Passed as block arguments, in this order.
    passed: Vec<Value>,
    /// Recomputed in each new block.
    recomputed: Vec<(Value, Inst)>,
}

impl Carried {
    fn of(values: &[Value], before: &HashMap<Value, Option<&Inst>>) -> Carried {
        let mut c = Carried {
            passed: vec![],
            recomputed: vec![],
        };
        for &v in values {
            let seen = c.passed.contains(&v) || c.recomputed.iter().any(|(r, _)| *r == v);
            if seen {
                continue;
            }
            match before.get(&v) {
                Some(Some(inst)) if recomputable(inst) => c.recomputed.push((v, (*inst).clone())),
                _ => c.passed.push(v),
            }
        }
        c
    }

    /// A new block's parameters for the passed values, and the
    /// instructions recomputing the rest; `map` takes each carried value
    /// to its new name.
    fn enter(&self, ids: &mut Ids) -> (Vec<Value>, Vec<InstData>, HashMap<Value, Value>) {
        let mut map = HashMap::new();
        let params: Vec<Value> = self
            .passed
            .iter()
            .map(|&v| {
                let p = ids.value();
                map.insert(v, p);
                p
            })
            .collect();
        let insts = self
            .recomputed
            .iter()
            .map(|(v, inst)| {
                let r = ids.value();
                map.insert(*v, r);
                pure(r, inst.clone())
            })
            .collect();
        (params, insts, map)
    }
}

fn pure(result: Value, inst: Inst) -> InstData {
    InstData {
        results: vec![result],
        inst,
        state: None,
    }
}

fn renamed(v: Value, map: &HashMap<Value, Value>) -> Value {
    map.get(&v).copied().unwrap_or(v)
}

/// Splits `b` at its send `at` into the guard (what stays in `b`), and
/// answers the new blocks: fast path, send, join (which holds the rest of
/// `b`).
fn expand(b: &mut Block, at: usize, fast: Fast, ids: &mut Ids) -> Vec<Block> {
    let mut rest = b.insts.split_off(at);
    let send = rest.remove(0);
    let Inst::Send {
        selector,
        receiver: a,
        ref args,
        to_super,
    } = send.inst
    else {
        unreachable!("split at a send");
    };
    let x = args[0];
    let state = send.state.clone().expect("a send has a state");
    let answer = send.results[0];
    let before = defined_before_owned(b);
    let before_ref: HashMap<Value, Option<&Inst>> =
        before.iter().map(|(v, i)| (*v, i.as_ref())).collect();
    let mut carried_values = state.stack.clone();
    carried_values.extend([a, x]);
    let into_new = Carried::of(&carried_values, &before_ref);
    let stack_carried = Carried::of(&state.stack, &before_ref);
    let args_of = |map: &HashMap<Value, Value>, c: &Carried| -> Vec<Value> {
        c.passed.iter().map(|&v| renamed(v, map)).collect()
    };
    let identity = HashMap::new();
    let (fast_id, send_id, join_id) = (ids.block(), ids.block(), ids.block());

    // The guard, at the end of `b`: a constant operand needs no test.
    let tags = ids.value();
    let is_const = |v: Value| matches!(before.get(&v), Some(Some(Inst::Int(_))));
    let tag_test = match (is_const(a), is_const(x)) {
        (false, true) => Inst::IsInt(a),
        (true, false) => Inst::IsInt(x),
        _ => Inst::BothInt(a, x),
    };
    b.insts.push(pure(tags, tag_test));
    let cond = match fast.guard {
        None => tags,
        Some(op) => {
            let (valid, both) = (ids.value(), ids.value());
            b.insts.push(pure(valid, Inst::InlineValid(op)));
            b.insts.push(pure(both, Inst::And(tags, valid)));
            both
        }
    };
    let to_new = args_of(&identity, &into_new);
    let guard = Terminator::Branch {
        cond,
        then: BlockCall {
            block: fast_id,
            args: to_new.clone(),
        },
        otherwise: BlockCall {
            block: send_id,
            args: to_new,
        },
    };
    let original_terminator = std::mem::replace(&mut b.terminator, guard);

    // The fast path.
    let (fast_params, mut fast_insts, fmap) = into_new.enter(ids);
    let (fa, fx) = (renamed(a, &fmap), renamed(x, &fmap));
    let join_args = |map: &HashMap<Value, Value>, r: Value| {
        let mut v = args_of(map, &stack_carried);
        v.push(r);
        v
    };
    let fast_terminator = match fast.op {
        Op::Checked(make) => {
            let (r, failed) = (ids.value(), ids.value());
            fast_insts.push(InstData {
                results: vec![r, failed],
                inst: make(fa, fx),
                state: None,
            });
            Terminator::Branch {
                cond: failed,
                then: BlockCall {
                    block: send_id,
                    args: args_of(&fmap, &into_new),
                },
                otherwise: BlockCall {
                    block: join_id,
                    args: join_args(&fmap, r),
                },
            }
        }
        Op::Compare(c) => {
            let (t, r) = (ids.value(), ids.value());
            fast_insts.push(pure(t, Inst::IntCompare(c, fa, fx)));
            fast_insts.push(pure(r, Inst::BoolObj(t)));
            jump(join_id, join_args(&fmap, r))
        }
        Op::Total(make) => {
            let r = ids.value();
            fast_insts.push(pure(r, make(fa, fx)));
            jump(join_id, join_args(&fmap, r))
        }
    };

    // The send, as it was, on the carried values.
    let (send_params, mut send_insts, smap) = into_new.enter(ids);
    let r = ids.value();
    send_insts.push(InstData {
        results: vec![r],
        inst: Inst::Send {
            selector,
            receiver: renamed(a, &smap),
            args: vec![renamed(x, &smap)],
            to_super,
        },
        state: Some(State {
            pc: state.pc,
            stack: state.stack.iter().map(|&v| renamed(v, &smap)).collect(),
        }),
    });
    let send_terminator = jump(join_id, join_args(&smap, r));

    // The join: the rest of `b`, on the new names.
    let (mut join_params, mut join_insts, mut jmap) = stack_carried.enter(ids);
    let new_answer = ids.value();
    join_params.push(new_answer);
    jmap.insert(answer, new_answer);
    recompute_rest(
        &rest,
        &original_terminator,
        &before,
        &mut jmap,
        &mut join_insts,
        ids,
    );
    for mut data in rest {
        rename_inst_data(&mut data, &jmap);
        join_insts.push(data);
    }
    let mut join_terminator = original_terminator;
    rename_terminator(&mut join_terminator, &jmap);

    vec![
        Block {
            id: fast_id,
            params: fast_params,
            insts: fast_insts,
            terminator: fast_terminator,
        },
        Block {
            id: send_id,
            params: send_params,
            insts: send_insts,
            terminator: send_terminator,
        },
        Block {
            id: join_id,
            params: join_params,
            insts: join_insts,
            terminator: join_terminator,
        },
    ]
}

fn jump(block: BlockId, args: Vec<Value>) -> Terminator {
    Terminator::Jump(BlockCall { block, args })
}

fn defined_before_owned(b: &Block) -> HashMap<Value, Option<Inst>> {
    defined_before(b, b.insts.len())
        .into_iter()
        .map(|(v, i)| (v, i.cloned()))
        .collect()
}

/// Emits, at the join, the recomputable values from before the send that
/// the rest uses and the state did not carry.
fn recompute_rest(
    rest: &[InstData],
    terminator: &Terminator,
    before: &HashMap<Value, Option<Inst>>,
    map: &mut HashMap<Value, Value>,
    insts: &mut Vec<InstData>,
    ids: &mut Ids,
) {
    for v in uses_of(rest, terminator) {
        if map.contains_key(&v) {
            continue;
        }
        if let Some(Some(inst)) = before.get(&v) {
            debug_assert!(recomputable(inst), "checked by `splittable`");
            let r = ids.value();
            map.insert(v, r);
            insts.push(pure(r, inst.clone()));
        }
    }
}

fn rename_inst_data(data: &mut InstData, map: &HashMap<Value, Value>) {
    for v in data.inst.operands_mut() {
        *v = renamed(*v, map);
    }
    if let Some(s) = &mut data.state {
        for v in &mut s.stack {
            *v = renamed(*v, map);
        }
    }
}

fn rename_terminator(t: &mut Terminator, map: &HashMap<Value, Value>) {
    for v in t.values_mut() {
        *v = renamed(*v, map);
    }
}
