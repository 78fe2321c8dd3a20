//! The block surgery of the semantic lowering: cutting a block at a send
//! (or at a run of instructions ending with one, for [`super::region`]),
//! carrying the values that must reach the new blocks (as arguments, or
//! emitted again when the back ends recompute them anyway), and giving
//! the rest of the block new names in the join block. What goes into the
//! new blocks is the parent module's.

use crate::ir::*;
use std::collections::HashMap;

/// Whether every value the rest of `b` (after instruction `at`, a send)
/// uses from before it can reach the join block: it is the send's
/// answer, in the send's state (in any frame of a chained one), or
/// recomputable.
pub(crate) fn splittable(b: &Block, at: usize) -> bool {
    let send = &b.insts[at];
    let Some(state) = &send.state else {
        return false;
    };
    let before = defined_before(b, at);
    let in_state = state.values();
    rest_uses(b, at).into_iter().all(|v| {
        send.results.contains(&v)
            || in_state.contains(&v)
            || !before.contains_key(&v)
            || before[&v].is_some_and(Inst::is_recomputable)
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
pub(crate) struct Ids {
    next_value: u32,
    next_block: u32,
}

impl Ids {
    /// Numbers after every one `f` uses.
    pub(crate) fn of(f: &Function) -> Ids {
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

    pub(crate) fn value(&mut self) -> Value {
        self.next_value += 1;
        Value(self.next_value - 1)
    }

    pub(crate) fn block(&mut self) -> BlockId {
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
                Some(Some(inst)) if inst.is_recomputable() => {
                    c.recomputed.push((v, (*inst).clone()))
                }
                _ => c.passed.push(v),
            }
        }
        c
    }

    /// A new block's entry: parameters for the passed values, the
    /// instructions recomputing the rest, each carried value's new name.
    fn enter(&self, ids: &mut Ids) -> Entered {
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
        Entered { params, insts, map }
    }
}

/// An instruction without a state defining `result`.
pub(crate) fn pure(result: Value, inst: Inst) -> InstData {
    InstData {
        results: vec![result],
        inst,
        state: None,
    }
}

/// `v`'s name in a block whose carried values `map` renames.
pub(crate) fn renamed(v: Value, map: &HashMap<Value, Value>) -> Value {
    map.get(&v).copied().unwrap_or(v)
}

/// A jump to `block` with `args`.
pub(crate) fn jump(block: BlockId, args: Vec<Value>) -> Terminator {
    Terminator::Jump(BlockCall { block, args })
}

/// [`defined_before`] the end of `b`, owned.
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
            debug_assert!(inst.is_recomputable(), "checked by `splittable`");
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
        for v in s.values_mut() {
            *v = renamed(*v, map);
        }
    }
}

fn rename_terminator(t: &mut Terminator, map: &HashMap<Value, Value>) {
    for v in t.values_mut() {
        *v = renamed(*v, map);
    }
}

/// A new block's entry: its parameters, the instructions recomputing
/// carried values, and the new name of each carried value.
pub(crate) struct Entered {
    pub(crate) params: Vec<Value>,
    pub(crate) insts: Vec<InstData>,
    pub(crate) map: HashMap<Value, Value>,
}

/// A block cut at a send: the block keeps what comes before; the send,
/// what follows it and the values the new blocks need are here. (A cut
/// at a run keeps the instructions of the run before the send too: they
/// go into the send block, before the send.)
pub(crate) struct Cut {
    /// The receiver and the arguments, by their names in the cut block.
    pub(crate) operands: Vec<Value>,
    /// The instructions between the cut and the send (none for a cut at
    /// the send itself).
    run: Vec<InstData>,
    send: InstData,
    rest: Vec<InstData>,
    terminator: Terminator,
    before: HashMap<Value, Option<Inst>>,
    /// What every new block but the join carries: the state's stack, the
    /// receiver and the argument (and what the run reads from before it).
    carried: Carried,
    /// What the join carries besides the answer: the state's values (its
    /// stack, and for a chained state every frame's values).
    stack: Carried,
}

impl Cut {
    /// Cuts `b` at its send `at`, a send for which [`splittable`]
    /// holds. `b` keeps the instructions before it; its
    /// terminator must be replaced.
    pub(crate) fn new(b: &mut Block, at: usize) -> Cut {
        Cut::run(b, at, at)
    }

    /// Cuts `b` before instruction `start`; the instructions from there to
    /// the send `at` are the run, which the send block does again. The
    /// rest of `b` (after `at`) must use nothing the run defines, and from
    /// before `start` only what [`splittable`] allows at `at`.
    pub(crate) fn run(b: &mut Block, start: usize, at: usize) -> Cut {
        let mut rest = b.insts.split_off(start);
        let run: Vec<InstData> = rest.drain(..at - start).collect();
        let send = rest.remove(0);
        let Inst::Send {
            receiver, ref args, ..
        } = send.inst
        else {
            unreachable!("cut at a send");
        };
        let operands: Vec<Value> = std::iter::once(receiver).chain(args.clone()).collect();
        let state = send.state.clone().expect("a send has a state");
        let before = defined_before_owned(b);
        let before_ref: HashMap<Value, Option<&Inst>> =
            before.iter().map(|(v, i)| (*v, i.as_ref())).collect();
        let mut values = state.values();
        values.extend(&operands);
        values.extend(run.iter().flat_map(|i| i.uses()).map(|(v, _)| v));
        values.extend(send.state_uses().into_iter().map(|(v, _)| v));
        // What the run defines is not carried: the send block defines it.
        values.retain(|v| before.contains_key(v));
        let carried = Carried::of(&values, &before_ref);
        let stack = Carried::of(&state.values(), &before_ref);
        let placeholder = jump(BlockId(u32::MAX), vec![]);
        let terminator = std::mem::replace(&mut b.terminator, placeholder);
        Cut {
            operands,
            run,
            send,
            rest,
            terminator,
            before,
            carried,
            stack,
        }
    }

    /// Operand `i` (0: the receiver) by its name in a block whose
    /// carried values `map` renames.
    pub(crate) fn operand(&self, i: usize, map: &HashMap<Value, Value>) -> Value {
        renamed(self.operands[i], map)
    }

    /// The send's state, by its names in the cut block.
    pub(crate) fn send_state(&self) -> &State {
        self.send.state.as_ref().expect("a send has a state")
    }

    /// The bytecode offset of the send's state: its site's name.
    pub(crate) fn send_pc(&self) -> u16 {
        self.send.state.as_ref().expect("a send has a state").pc
    }

    /// Whether `v` (a name in the cut block) is a SmallInt constant.
    pub(crate) fn is_const(&self, v: Value) -> bool {
        matches!(self.before.get(&v), Some(Some(Inst::Int(_))))
    }

    /// The entry of a new block (not the join) that takes the carried
    /// values.
    pub(crate) fn enter(&self, ids: &mut Ids) -> Entered {
        self.carried.enter(ids)
    }

    /// The arguments of a jump to such a block from a block whose names
    /// are `map` (empty for the cut block).
    pub(crate) fn carried_args(&self, map: &HashMap<Value, Value>) -> Vec<Value> {
        self.carried
            .passed
            .iter()
            .map(|&v| renamed(v, map))
            .collect()
    }

    /// The arguments of a jump to the join with answer `r`.
    pub(crate) fn join_args(&self, map: &HashMap<Value, Value>, r: Value) -> Vec<Value> {
        let mut args: Vec<Value> = self.stack.passed.iter().map(|&v| renamed(v, map)).collect();
        args.push(r);
        args
    }

    /// The block `id` of the original send, on the carried values, going
    /// on at `join`.
    pub(crate) fn send_block(&self, id: BlockId, join: BlockId, ids: &mut Ids) -> Block {
        let e = self.enter(ids);
        let mut insts = e.insts;
        // The run's values keep their names: the cut block lost them.
        for data in &self.run {
            let mut data = data.clone();
            rename_inst_data(&mut data, &e.map);
            insts.push(data);
        }
        let mut send = self.send.clone();
        rename_inst_data(&mut send, &e.map);
        let r = ids.value();
        send.results = vec![r];
        insts.push(send);
        Block::new(id, e.params, insts, jump(join, self.join_args(&e.map, r)))
    }

    /// The join block `id`: the answer and the stack come in; the rest of
    /// the cut block follows on the new names.
    pub(crate) fn join_block(self, id: BlockId, ids: &mut Ids) -> Block {
        let Entered {
            mut params,
            mut insts,
            mut map,
        } = self.stack.enter(ids);
        let answer = ids.value();
        params.push(answer);
        map.insert(self.send.results[0], answer);
        recompute_rest(
            &self.rest,
            &self.terminator,
            &self.before,
            &mut map,
            &mut insts,
            ids,
        );
        for mut data in self.rest {
            rename_inst_data(&mut data, &map);
            insts.push(data);
        }
        let mut terminator = self.terminator;
        rename_terminator(&mut terminator, &map);
        Block::new(id, params, insts, terminator)
    }
}
