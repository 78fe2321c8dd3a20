//! Unboxed Float regions: a whole expression tree of Float sends in one
//! block becomes one guarded straight-line computation on unboxed doubles
//! that boxes only the tree's root (nothing when the root is a
//! comparison), with the original instructions as the slow path. It runs
//! before [`super::lower`], which then gives the slow path's sends their
//! usual fast paths, so the slow path is exactly the code without this
//! pass.
//!
//! A *tree send* is a send of one argument, not to super, whose selector
//! has a Float inline operation (a special with a Float row, or a literal
//! the [`Facts`] map to one), which feedback does not exclude
//! ([`Facts::not_float`]) and whose receiver is not a constant other than
//! a literal. A tree is a root tree send and, recursively, the arithmetic
//! tree sends whose answer is used only as one operand of a tree node
//! (and in the states of the instructions between the two). The other
//! operands are the *leaves*: values from before the region, pure loads
//! (`self`, `arg`, `lit`, constants, `temp`, `ivar`) or, when the facts
//! say a quick method may answer the selector, unary getter sends whose
//! receiver is such a value. The region is the run of instructions from
//! the first leaf load or tree send to the root; anything else in it (a
//! send, a store, a block, a value used after the root) cuts the tree
//! there: the region starts after it and what it defines is a leaf from
//! before. The loads at the start of the run, before its first send, stay
//! in the block for both paths; the guard does the later ones again (once
//! per equal load: nothing runs between them in the fast path).
//!
//! ```text
//! bbX:                              ; the block up to the region
//!     leaf loads up to the first send
//!     t = is_int r                      ; a receiver leaf bbX holds, if any
//!     branch t, slow(s…), guard(s…)
//! guard(s…):                        ; (or still bbX, without such a leaf)
//!     leaf loads after the first send, again (their states: the stack
//!     before the region)
//!     w = quick_way getter o send PC    ; per getter leaf
//!     f, e = unbox_float l              ; unbox_number: argument-only leaves
//!     v = inline_valid OP               ; per Float operation of the tree
//!     ok = and(not e…, w…, v…)
//!     branch ok, getters(s…, f…, o…), slow(s…)
//! getters(s…, f…: float, o…):          ; only with getter leaves
//!     g, gf = quick_get o send PC
//!     branch and(not gf…), fast(s…, f…, g…), slow(s…)
//! fast(s…, f…: float, g…):
//!     fg, eg = unbox_float g            ; per getter leaf
//!     x = f64_mul f1 f2 …               ; the tree's operations in order
//!     r, failed = box_float x           ; or: c = f64_lt x y; r = bool_obj c
//!     branch and(not eg…, not failed), join(s…, r), slow(s…)
//! slow(s…):                         ; the region's instructions, unchanged
//!     …
//!     r = send S a b @pc [s…]
//!     jump join(s…, r)
//! join(s…, r):                      ; the rest of bbX
//! ```
//!
//! The SmallInt test first makes integer code whose sends feedback does
//! not exclude pay one tag test for the region, not its whole guard.
//!
//! Guards, loads and operations are the fast path's only: this module
//! never changes what the slow path does, and never keeps an unboxed value
//! beyond its region.

use super::split::{self, Cut, Ids, pure};
use super::{Facts, literal_op};
use crate::ir::*;
use lst_bytecode::inline_ops::{InlineOp, Receiver};
use std::collections::{HashMap, HashSet};

/// Turns the Float expression trees of `f` into unboxed regions (see the
/// module doc). Run it before [`super::lower`].
pub fn unbox(f: &mut Function, facts: &Facts) {
    let mut ids = Ids::of(f);
    let mut i = 0;
    while i < f.blocks.len() {
        match find_region(&f.blocks[i], facts) {
            Some(region) => {
                let new = expand(&mut f.blocks[i], &region, &mut ids);
                let n = new.len();
                f.blocks.splice(i + 1..i + 1, new);
                // Go on with the join block: the rest of the original.
                i += n;
            }
            None => i += 1,
        }
    }
}

/// The Float operation of the tree send `data`, if it is one (`def`
/// gives the instruction defining a value of its block).
fn tree_op<'a>(
    data: &InstData,
    facts: &Facts,
    def: impl Fn(Value) -> Option<&'a Inst>,
) -> Option<InlineOp> {
    let Inst::Send {
        selector,
        receiver,
        args,
        to_super: false,
    } = &data.inst
    else {
        return None;
    };
    // In inlined code (a chained state) the pc and the literals are
    // another method's: the facts, which are the root method's, say
    // nothing there.
    let state = data.state.as_ref()?;
    let chained = state.is_chained();
    if args.len() != 1
        || data.results.len() != 1
        || (!chained && facts.not_float.contains(&state.pc))
    {
        return None;
    }
    let op = match *selector {
        Selector::Special(s) => InlineOp::of_selector(Receiver::Float, s.selector().as_bytes()),
        Selector::Literal(_) if chained => None,
        Selector::Literal(i) => literal_op(facts.float_ops, i, Receiver::Float),
    }?;
    let never_float = matches!(
        def(*receiver),
        Some(Inst::Int(_) | Inst::Nil | Inst::True | Inst::False)
    );
    (!never_float).then_some(op)
}

/// Whether `op` answers a Float (not a Boolean).
fn is_arithmetic(op: InlineOp) -> bool {
    f64_op(op).is_some()
}

/// The IEEE operation of a Float arithmetic row.
fn f64_op(op: InlineOp) -> Option<F64Op> {
    match op {
        InlineOp::FloatAdd => Some(F64Op::Add),
        InlineOp::FloatSub => Some(F64Op::Sub),
        InlineOp::FloatMul => Some(F64Op::Mul),
        InlineOp::FloatDiv => Some(F64Op::Div),
        _ => None,
    }
}

/// The IEEE comparison of a Float comparison row.
fn f64_compare(op: InlineOp) -> Option<F64Compare> {
    match op {
        InlineOp::FloatLess => Some(F64Compare::Less),
        InlineOp::FloatGreater => Some(F64Compare::Greater),
        InlineOp::FloatEqual => Some(F64Compare::Equal),
        _ => None,
    }
}

/// A load the fast path may do again before the region: it reads the
/// frame only.
fn is_pure_load(inst: &Inst) -> bool {
    use Inst::*;
    matches!(
        inst,
        SelfRef | Arg(_) | Literal(_) | Nil | True | False | Int(_) | Temp(_) | Ivar(_)
    )
}

/// What one block says about its values: where each is defined and where
/// it is read.
struct Analysis<'a> {
    b: &'a Block,
    /// The tree sends, by index, with their operation.
    ops: HashMap<usize, InlineOp>,
    /// The index of the instruction defining each value (none for
    /// parameters).
    def: HashMap<Value, usize>,
    /// For each value, the indices of the instructions whose operands
    /// read it, once per read; the terminator counts as `insts.len()`.
    operand_uses: HashMap<Value, Vec<usize>>,
    /// The same for the states that hold it.
    state_uses: HashMap<Value, Vec<usize>>,
    /// Per literal, whether a quick method may answer it.
    quick: &'a [bool],
}

impl<'a> Analysis<'a> {
    fn of(b: &'a Block, facts: &'a Facts) -> Analysis<'a> {
        let mut a = Analysis {
            b,
            ops: HashMap::new(),
            def: HashMap::new(),
            operand_uses: HashMap::new(),
            state_uses: HashMap::new(),
            quick: facts.quick,
        };
        for (k, data) in b.insts.iter().enumerate() {
            for &r in &data.results {
                a.def.insert(r, k);
            }
            if let Some(op) = tree_op(data, facts, |v| a.def.get(&v).map(|&d| &b.insts[d].inst)) {
                a.ops.insert(k, op);
            }
            for (v, _) in data.inst.operands() {
                a.operand_uses.entry(v).or_default().push(k);
            }
            for (v, _) in data.state_uses() {
                a.state_uses.entry(v).or_default().push(k);
            }
        }
        let end = b.insts.len();
        let t = &b.terminator;
        let reads = t.operands().into_iter().chain(t.state_uses());
        let args = t.successors().into_iter().flat_map(|c| c.args.clone());
        for v in reads.map(|(v, _)| v).chain(args) {
            a.operand_uses.entry(v).or_default().push(end);
        }
        a
    }

    /// The receiver and argument of the send at `k`.
    fn operands(&self, k: usize) -> [Value; 2] {
        match &self.b.insts[k].inst {
            Inst::Send { receiver, args, .. } => [*receiver, args[0]],
            _ => unreachable!("a tree send"),
        }
    }

    /// The tree send that uses the answer of tree send `k` as an operand,
    /// if `k` is arithmetic and its answer is read by nothing else (but
    /// the states of the instructions between the two).
    fn parent(&self, k: usize) -> Option<usize> {
        if !is_arithmetic(self.ops[&k]) {
            return None;
        }
        let v = self.b.insts[k].results[0];
        let [p] = self.operand_uses.get(&v)?[..] else {
            return None;
        };
        let states = self.state_uses.get(&v).map_or(&[][..], Vec::as_slice);
        let inside = states.iter().all(|&i| k < i && i < p);
        (self.ops.contains_key(&p) && inside).then_some(p)
    }

    /// The root of the tree `k` would belong to if nothing cut it.
    fn top(&self, mut k: usize) -> usize {
        while let Some(p) = self.parent(k) {
            k = p;
        }
        k
    }

    /// The tree of root `k` whose sends are at `from` or later: its sends,
    /// in block order.
    fn tree(&self, root: usize, from: usize) -> Vec<usize> {
        let mut sends = vec![root];
        let mut todo = vec![root];
        while let Some(k) = todo.pop() {
            for v in self.operands(k) {
                let Some(&d) = self.def.get(&v) else {
                    continue;
                };
                if d >= from && self.ops.contains_key(&d) && self.parent(d) == Some(k) {
                    sends.push(d);
                    todo.push(d);
                }
            }
        }
        sends.sort_unstable();
        sends
    }

    /// Whether the send at `k` is a getter leaf: unary, of a literal a
    /// quick method may answer.
    fn is_getter(&self, k: usize) -> bool {
        match &self.b.insts[k].inst {
            Inst::Send {
                selector: Selector::Literal(i),
                args,
                to_super: false,
                ..
            } => {
                let chained = self.b.insts[k]
                    .state
                    .as_ref()
                    .is_some_and(State::is_chained);
                !chained
                    && args.is_empty()
                    && self.b.insts[k].results.len() == 1
                    && self.quick.get(usize::from(*i)).copied().unwrap_or(false)
            }
            _ => false,
        }
    }

    /// The region of root `root` (a tree send), if it has one.
    fn region(&self, root: usize) -> Option<Region> {
        if !split::splittable(self.b, root) {
            return None;
        }
        let mut from = 0;
        loop {
            match self.try_region(root, from) {
                Ok(region) => return Some(region),
                Err(cut) if cut < root => from = cut + 1,
                Err(_) => return None,
            }
        }
    }

    /// The region of `root` whose instructions are all at `from` or
    /// later, or the index of an instruction that must not be in it.
    fn try_region(&self, root: usize, from: usize) -> Result<Region, usize> {
        let sends = self.tree(root, from);
        let mut leaves: Vec<Leaf> = vec![];
        for &k in &sends {
            for (i, v) in self.operands(k).into_iter().enumerate() {
                if sends.iter().any(|&s| self.b.insts[s].results[0] == v) {
                    continue;
                }
                let source = self.source(v, from)?;
                match leaves.iter_mut().find(|l| l.value == v) {
                    Some(l) => l.receiver |= i == 0,
                    None => leaves.push(Leaf {
                        value: v,
                        source,
                        receiver: i == 0,
                    }),
                }
            }
        }
        let mut start = sends[0];
        for l in &leaves {
            match l.source {
                Source::Before => {}
                Source::Load(at) => start = start.min(at),
                Source::Getter { at, object } => {
                    start = start.min(at);
                    if let Source::Load(o) = self.source(object, from)? {
                        start = start.min(o);
                    }
                }
            }
        }
        self.check_run(start, root, &sends, &leaves)?;
        // Loads before the first send stay where they are: nothing has
        // run yet when they read, so both paths can share them.
        let start = (start..root)
            .find(|&k| !is_pure_load(&self.b.insts[k].inst))
            .unwrap_or(root);
        let ops = sends.iter().map(|&k| (k, self.ops[&k])).collect();
        Ok(Region {
            start,
            root,
            sends: ops,
            leaves,
        })
    }

    /// Where leaf `v` of a region whose instructions are at `from` or
    /// later comes from (an error names an instruction that cannot be in
    /// the region).
    fn source(&self, v: Value, from: usize) -> Result<Source, usize> {
        let Some(&d) = self.def.get(&v).filter(|&&d| d >= from) else {
            return Ok(Source::Before);
        };
        let inst = &self.b.insts[d].inst;
        if is_pure_load(inst) {
            return Ok(Source::Load(d));
        }
        if self.is_getter(d) {
            let Inst::Send { receiver, .. } = inst else {
                unreachable!("a getter is a send");
            };
            let object_ok = match self.def.get(receiver) {
                Some(&o) if o >= from => is_pure_load(&self.b.insts[o].inst),
                _ => true,
            };
            if object_ok {
                return Ok(Source::Getter {
                    at: d,
                    object: *receiver,
                });
            }
        }
        Err(d)
    }

    /// Checks that the run `start..=root` holds only the tree's sends,
    /// its getter leaves and pure loads, and that nothing after the root
    /// (nor the root's state) reads what the run defines but the root's
    /// answer; answers the last offending instruction.
    fn check_run(
        &self,
        start: usize,
        root: usize,
        sends: &[usize],
        leaves: &[Leaf],
    ) -> Result<(), usize> {
        let getters: HashSet<usize> = leaves
            .iter()
            .filter_map(|l| match l.source {
                Source::Getter { at, .. } => Some(at),
                _ => None,
            })
            .collect();
        let mut offending = None;
        for k in start..root {
            let data = &self.b.insts[k];
            let allowed = sends.contains(&k) || getters.contains(&k) || is_pure_load(&data.inst);
            let kept = data.results.iter().all(|v| {
                let reads = self.operand_uses.get(v).map_or(&[][..], Vec::as_slice);
                let states = self.state_uses.get(v).map_or(&[][..], Vec::as_slice);
                reads.iter().all(|&i| i <= root) && states.iter().all(|&i| i < root)
            });
            if !(allowed && kept) {
                offending = Some(k);
            }
        }
        offending.map_or(Ok(()), Err)
    }
}

/// Where a leaf's value comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// Defined before the region.
    Before,
    /// A pure load in the region, at this index.
    Load(usize),
    /// A getter send in the region, at this index, of `object` (itself
    /// from before or a pure load in the region).
    Getter { at: usize, object: Value },
}

/// An operand of the tree that is not one of its sends.
#[derive(Clone, Copy, Debug)]
struct Leaf {
    value: Value,
    source: Source,
    /// Whether some tree send has it as receiver (it must be a Float;
    /// an argument may be a SmallInt too).
    receiver: bool,
}

/// A tree and its run of instructions.
#[derive(Debug)]
struct Region {
    /// The first instruction of the run.
    start: usize,
    /// The root send, the last instruction of the run.
    root: usize,
    /// The tree's sends in block order, with their operation.
    sends: Vec<(usize, InlineOp)>,
    leaves: Vec<Leaf>,
}

/// The first region of `b`: the first tree send (in block order) that is
/// the root of a region or was cut off from its root's.
fn find_region(b: &Block, facts: &Facts) -> Option<Region> {
    let a = Analysis::of(b, facts);
    let mut sends: Vec<usize> = a.ops.keys().copied().collect();
    sends.sort_unstable();
    for k in sends {
        let top = a.top(k);
        if top != k
            && a.region(top)
                .is_some_and(|r| r.sends.iter().any(|&(s, _)| s == k))
        {
            continue;
        }
        if let Some(region) = a.region(k) {
            return Some(region);
        }
    }
    None
}

/// Emits `inst` into `insts` with fresh results of its types; answers
/// them.
fn emit(inst: Inst, insts: &mut Vec<InstData>, ids: &mut Ids) -> Vec<Value> {
    let results: Vec<Value> = inst.result_types().iter().map(|_| ids.value()).collect();
    insts.push(InstData {
        results: results.clone(),
        inst,
        state: None,
    });
    results
}

/// The conjunction of `conds` (true when there is none: `None`).
fn all(conds: &[Value], insts: &mut Vec<InstData>, ids: &mut Ids) -> Option<Value> {
    let (&first, rest) = conds.split_first()?;
    Some(rest.iter().fold(first, |acc, &c| {
        let v = ids.value();
        insts.push(pure(v, Inst::And(acc, c)));
        v
    }))
}

/// `not c` for each failure flag.
fn nots(flags: &[Value], insts: &mut Vec<InstData>, ids: &mut Ids) -> Vec<Value> {
    flags
        .iter()
        .map(|&e| emit(Inst::Not(e), insts, ids)[0])
        .collect()
}

/// The unboxing of a leaf: `unbox_float` for a receiver, `unbox_number`
/// for an argument only.
fn unbox_inst(receiver: bool, v: Value) -> Inst {
    if receiver {
        Inst::UnboxFloat(v)
    } else {
        Inst::UnboxNumber(v)
    }
}

/// What the new blocks need of a region's instructions, read before the
/// block is cut.
struct Parts {
    /// The pure loads the fast path does again (see [`hoisted_loads`]).
    loads: Vec<InstData>,
    /// The getter leaves with their send's pc and receiver.
    getters: Vec<(Leaf, u16, Value)>,
    /// The tree's sends in order: answer, operation, operands.
    tree: Vec<(Value, InlineOp, [Value; 2])>,
}

impl Parts {
    fn of(b: &Block, region: &Region) -> Parts {
        let pc = |at: usize| b.insts[at].state.as_ref().map_or(0, |s| s.pc);
        let getters = region
            .leaves
            .iter()
            .filter_map(|l| match l.source {
                Source::Getter { at, object } => Some((*l, pc(at), object)),
                _ => None,
            })
            .collect();
        let tree = region
            .sends
            .iter()
            .map(|&(k, op)| {
                let Inst::Send { receiver, args, .. } = &b.insts[k].inst else {
                    unreachable!("a tree send");
                };
                (b.insts[k].results[0], op, [*receiver, args[0]])
            })
            .collect();
        Parts {
            loads: hoisted_loads(b, region),
            getters,
            tree,
        }
    }
}

/// The guard of a region as emitted at the end of the cut block.
struct Guard {
    /// Whether the fast path may run.
    ok: Value,
    /// The unboxed leaves (not the getters'), in order.
    floats: Vec<Value>,
    /// Each such leaf's index in `floats` (by its name before the cut).
    slots: HashMap<Value, usize>,
    /// The getters' receivers, in the order of [`Parts::getters`].
    objects: Vec<Value>,
}

/// Emits the guard of `region` (after `before`, the instructions of its
/// block before it) into `insts`: the loads again, the
/// getters' ways, one unboxing per leaf value, the operations' validity
/// words and their conjunction. `outer` names the values from before the
/// region where the guard is (empty: at the end of the cut block).
fn guard(
    region: &Region,
    parts: &Parts,
    before: &[InstData],
    outer: &HashMap<Value, Value>,
    insts: &mut Vec<InstData>,
    ids: &mut Ids,
) -> Guard {
    let loads = parts.loads.iter().cloned().map(|mut data| {
        if let Some(state) = &mut data.state
            && !outer.is_empty()
        {
            let known = state.stack.iter().take_while(|v| outer.contains_key(v));
            state.stack = known.map(|v| outer[v]).collect();
        }
        data
    });
    // In a block of its own, the guard sees only what the cut carries.
    let seen = |v: &Value| outer.is_empty() || outer.contains_key(v);
    let names = hoist(loads.collect(), before, seen, insts, ids);
    let name = |v: Value| split::renamed(names.get(&v).copied().unwrap_or(v), outer);
    let mut conds = vec![];
    let objects: Vec<Value> = parts.getters.iter().map(|&(_, _, o)| name(o)).collect();
    for (&object, &(_, send, _)) in objects.iter().zip(&parts.getters) {
        let way = Inst::QuickWay {
            kind: QuickKind::Getter,
            object,
            send,
        };
        conds.push(emit(way, insts, ids)[0]);
    }
    // One unboxing per value (equal loads are one value).
    let mut unboxed: Vec<(Value, bool)> = vec![];
    let mut slots: HashMap<Value, usize> = HashMap::new();
    for l in &region.leaves {
        if matches!(l.source, Source::Getter { .. }) {
            continue;
        }
        let v = name(l.value);
        let slot = unboxed
            .iter()
            .position(|&(u, _)| u == v)
            .unwrap_or_else(|| {
                unboxed.push((v, false));
                unboxed.len() - 1
            });
        unboxed[slot].1 |= l.receiver;
        slots.insert(l.value, slot);
    }
    let mut floats = vec![];
    let mut failed = vec![];
    for &(v, receiver) in &unboxed {
        let r = emit(unbox_inst(receiver, v), insts, ids);
        floats.push(r[0]);
        failed.push(r[1]);
    }
    let mut ops: Vec<InlineOp> = parts.tree.iter().map(|&(_, op, _)| op).collect();
    ops.sort_unstable();
    ops.dedup();
    let mut valid: Vec<Value> = ops
        .iter()
        .map(|&op| emit(Inst::InlineValid(op), insts, ids)[0])
        .collect();
    let mut all_ok = nots(&failed, insts, ids);
    all_ok.append(&mut conds);
    all_ok.append(&mut valid);
    let ok = all(&all_ok, insts, ids).expect("a tree has an operation");
    Guard {
        ok,
        floats,
        slots,
        objects,
    }
}

/// A receiver leaf the cut block already holds (from before the region or
/// loaded before its first send): a SmallInt there sends the region to
/// its slow path at once, before the rest of the guard.
fn early_leaf(region: &Region) -> Option<Value> {
    region
        .leaves
        .iter()
        .find(|l| {
            l.receiver
                && match l.source {
                    Source::Before => true,
                    Source::Load(k) => k < region.start,
                    Source::Getter { .. } => false,
                }
        })
        .map(|l| l.value)
}

/// Replaces `b`'s region by its guard and answers the new blocks: the
/// rest of the guard (if a SmallInt test comes first), getters (if any),
/// fast, slow and join (last).
fn expand(b: &mut Block, region: &Region, ids: &mut Ids) -> Vec<Block> {
    let parts = Parts::of(b, region);
    let cut = Cut::run(b, region.start, region.root);
    let (slow_id, join_id) = (ids.block(), ids.block());
    let early = early_leaf(region);
    let guard_id = early.map(|_| ids.block());
    let getters_id = (!parts.getters.is_empty()).then(|| ids.block());
    let fast_id = ids.block();
    let to_slow = |map: &HashMap<Value, Value>| BlockCall {
        block: slow_id,
        args: cut.carried_args(map),
    };
    let mut blocks = vec![];
    // Where the guard goes: the end of `b`, or a block of its own after a
    // SmallInt test.
    let (mut insts, outer, params) = match (early, guard_id) {
        (Some(leaf), Some(id)) => {
            let small = emit(Inst::IsInt(leaf), &mut b.insts, ids)[0];
            let rest = BlockCall {
                block: id,
                args: cut.carried_args(&HashMap::new()),
            };
            b.terminator = Terminator::Branch {
                cond: small,
                then: to_slow(&HashMap::new()),
                otherwise: rest,
            };
            let e = cut.enter(ids);
            (e.insts, e.map, Some(e.params))
        }
        _ => (vec![], HashMap::new(), None),
    };
    let g = guard(region, &parts, &b.insts, &outer, &mut insts, ids);
    let mut args = cut.carried_args(&outer);
    args.extend(&g.floats);
    args.extend(&g.objects);
    let branch = Terminator::Branch {
        cond: g.ok,
        then: BlockCall {
            block: getters_id.unwrap_or(fast_id),
            args,
        },
        otherwise: to_slow(&outer),
    };
    match (guard_id, params) {
        (Some(id), Some(params)) => blocks.push(Block::new(id, params, insts, branch)),
        _ => {
            b.insts.extend(insts);
            b.terminator = branch;
        }
    }
    let pcs: Vec<u16> = parts.getters.iter().map(|&(_, pc, _)| pc).collect();
    if let Some(id) = getters_id {
        let to = (fast_id, slow_id);
        blocks.push(getters_block(id, &cut, g.floats.len(), &pcs, to, ids));
    }
    let getter_leaves: Vec<Leaf> = parts.getters.iter().map(|&(l, ..)| l).collect();
    let fast = FastBlock {
        id: fast_id,
        floats: g.floats.len(),
        slots: &g.slots,
        getters: &getter_leaves,
        tree: &parts.tree,
        slow: slow_id,
        join: join_id,
    };
    blocks.push(fast.build(&cut, ids));
    blocks.push(cut.send_block(slow_id, join_id, ids));
    blocks.push(cut.join_block(join_id, ids));
    blocks
}

/// Emits `loads` into `insts` with fresh names, once per instruction:
/// nothing runs between them in the fast path, so equal loads read the
/// same value (as do the loads at the end of `before`, the block before
/// the region, that only pure instructions follow, if `seen` where the
/// guard is). Answers the name each load has in the guard and the fast
/// path (the first equal load's).
fn hoist(
    loads: Vec<InstData>,
    before: &[InstData],
    seen: impl Fn(&Value) -> bool,
    insts: &mut Vec<InstData>,
    ids: &mut Ids,
) -> HashMap<Value, Value> {
    let mut names = HashMap::new();
    let mut done: Vec<(Inst, Value)> = vec![];
    let tail = before.iter().rev().take_while(|d| !d.inst.has_effect());
    let tail = &before[before.len() - tail.count()..];
    for d in tail {
        if !is_pure_load(&d.inst) || d.results.len() != 1 || !seen(&d.results[0]) {
            continue;
        }
        match done.iter().find(|(i, _)| *i == d.inst) {
            Some(&(_, v)) => {
                names.insert(d.results[0], v);
            }
            None => done.push((d.inst.clone(), d.results[0])),
        }
    }
    for data in loads {
        if let Some(&(_, v)) = done.iter().find(|(i, _)| *i == data.inst) {
            names.insert(data.results[0], v);
            continue;
        }
        let v = ids.value();
        names.insert(data.results[0], v);
        done.push((data.inst.clone(), v));
        insts.push(InstData {
            results: vec![v],
            ..data
        });
    }
    names
}

/// The pure loads of the region the fast path needs (its leaves and the
/// receivers of its getters), in block order, each with a state that reads
/// only values from before the region: the original pc and the part of the
/// original stack below the region.
fn hoisted_loads(b: &Block, region: &Region) -> Vec<InstData> {
    let mut at: Vec<usize> = vec![];
    let defs: HashMap<Value, usize> = b.insts[region.start..]
        .iter()
        .enumerate()
        .flat_map(|(k, d)| d.results.iter().map(move |&r| (r, region.start + k)))
        .collect();
    for l in &region.leaves {
        match l.source {
            Source::Load(k) if k >= region.start => at.push(k),
            Source::Load(_) => {}
            Source::Getter { object, .. } => at.extend(defs.get(&object)),
            Source::Before => {}
        }
    }
    at.sort_unstable();
    at.dedup();
    at.into_iter()
        .map(|k| {
            let mut data = b.insts[k].clone();
            if let Some(state) = &mut data.state {
                let below = state.stack.iter().take_while(|v| !defs.contains_key(v));
                state.stack = below.copied().collect();
            }
            data
        })
        .collect()
}

/// The block `id` that reads the getter leaves (their objects are its
/// last parameters, after the carried values and `floats` floats) and
/// goes on at `fast` with their values, or at `slow` if one fails.
fn getters_block(
    id: BlockId,
    cut: &Cut,
    floats: usize,
    pcs: &[u16],
    (fast, slow): (BlockId, BlockId),
    ids: &mut Ids,
) -> Block {
    let e = cut.enter(ids);
    let mut insts = e.insts;
    let float_params: Vec<Value> = (0..floats).map(|_| ids.value()).collect();
    let objects: Vec<Value> = pcs.iter().map(|_| ids.value()).collect();
    let mut values = vec![];
    let mut failed = vec![];
    for (&object, &send) in objects.iter().zip(pcs) {
        let r = emit(Inst::QuickGet { object, send }, &mut insts, ids);
        values.push(r[0]);
        failed.push(r[1]);
    }
    let ok = nots(&failed, &mut insts, ids);
    let ok = all(&ok, &mut insts, ids).expect("a getter");
    let mut args = cut.carried_args(&e.map);
    args.extend(&float_params);
    args.extend(&values);
    let terminator = Terminator::Branch {
        cond: ok,
        then: BlockCall { block: fast, args },
        otherwise: BlockCall {
            block: slow,
            args: cut.carried_args(&e.map),
        },
    };
    typed_block(
        id,
        e.params,
        &[(float_params, Type::Float), (objects, Type::Obj)],
        insts,
        terminator,
    )
}

/// A block whose parameters are `params` (obj), then each group of
/// `extra` with its type.
fn typed_block(
    id: BlockId,
    params: Vec<Value>,
    extra: &[(Vec<Value>, Type)],
    insts: Vec<InstData>,
    terminator: Terminator,
) -> Block {
    let mut b = Block::new(id, params, insts, terminator);
    for (values, t) in extra {
        b.params.extend(values);
        b.param_types.extend(values.iter().map(|_| *t));
    }
    b
}

/// The fast block of a region: the tree on doubles.
struct FastBlock<'a> {
    id: BlockId,
    /// How many floats come in, after the carried values.
    floats: usize,
    /// The float (by its index among them) of each leaf that is not a
    /// getter's.
    slots: &'a HashMap<Value, usize>,
    /// The getter leaves, whose answers come in after the floats, boxed.
    getters: &'a [Leaf],
    /// The tree's sends in order: answer, operation, operands (by their
    /// names in the original block).
    tree: &'a [(Value, InlineOp, [Value; 2])],
    slow: BlockId,
    join: BlockId,
}

impl FastBlock<'_> {
    fn build(&self, cut: &Cut, ids: &mut Ids) -> Block {
        let e = cut.enter(ids);
        let mut insts = e.insts;
        let float_params: Vec<Value> = (0..self.floats).map(|_| ids.value()).collect();
        let boxed: Vec<Value> = self.getters.iter().map(|_| ids.value()).collect();
        let mut double: HashMap<Value, Value> = self
            .slots
            .iter()
            .map(|(&v, &i)| (v, float_params[i]))
            .collect();
        let mut failed = vec![];
        for (l, &g) in self.getters.iter().zip(&boxed) {
            let r = emit(unbox_inst(l.receiver, g), &mut insts, ids);
            double.insert(l.value, r[0]);
            failed.push(r[1]);
        }
        let (&(_, root_op, _), interior) = self.tree.split_last().expect("a root");
        for &(answer, op, [a, x]) in interior {
            let op = f64_op(op).expect("interior sends are arithmetic");
            let r = emit(Inst::F64(op, double[&a], double[&x]), &mut insts, ids);
            double.insert(answer, r[0]);
        }
        let [a, x] = self.tree.last().expect("a root").2.map(|v| double[&v]);
        let answer = match (f64_op(root_op), f64_compare(root_op)) {
            (Some(op), _) => {
                let x = emit(Inst::F64(op, a, x), &mut insts, ids)[0];
                let r = emit(Inst::BoxFloat(x), &mut insts, ids);
                failed.push(r[1]);
                r[0]
            }
            (None, Some(c)) => {
                let c = emit(Inst::F64Compare(c, a, x), &mut insts, ids)[0];
                emit(Inst::BoolObj(c), &mut insts, ids)[0]
            }
            (None, None) => unreachable!("a Float row is arithmetic or a comparison"),
        };
        let join_args = cut.join_args(&e.map, answer);
        let ok = nots(&failed, &mut insts, ids);
        let terminator = match all(&ok, &mut insts, ids) {
            None => split::jump(self.join, join_args),
            Some(ok) => Terminator::Branch {
                cond: ok,
                then: BlockCall {
                    block: self.join,
                    args: join_args,
                },
                otherwise: BlockCall {
                    block: self.slow,
                    args: cut.carried_args(&e.map),
                },
            },
        };
        let extra = [(float_params, Type::Float), (boxed, Type::Obj)];
        typed_block(self.id, e.params, &extra, insts, terminator)
    }
}
