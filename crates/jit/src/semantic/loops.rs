//! Unboxed loops: Float temporaries kept as unboxed doubles across the
//! iterations of an innermost loop, in a copy of the loop that never
//! boxes them; the original loop is the slow path and the copy leaves for
//! it, writing the temporaries back as Floats, wherever it cannot go on.
//!
//! It runs after [`super::region::unbox`] and [`super::lower`], on their
//! output: a region's fast path unboxes its leaves (`unbox_float (temp
//! T)`) and boxes its root (`box_float x`), which a `temp T := …` then
//! stores. Inside the copy, a *promoted* temporary T is no frame slot but
//! a float SSA value carried from block to block (every copied block takes
//! one float parameter per promoted temporary): `temp T` answers it,
//! `unbox_float`/`unbox_number` of it is that float (never failing),
//! `is_int` of it is false and `is_float` true, `temp T := r` of a
//! region's boxed root `r` makes the root's double the new value and the
//! `box_float` (then never failing) disappears.
//!
//! ```text
//! entry(): (every jump to the loop's header H now comes here)
//!     t = temp T …; f, e = unbox_float t …
//!     branch and(not e…), H'(f…), H         ; H: the original loop
//! H'(f…: float) … latch'(…):                ; the copies, without sends
//!     due = countdown_tick
//!     branch due, write(…), H'(f…)
//! write(…, f…: float):                      ; any edge out of the copy
//!     r = box_float_gc f @pc [live]         ; once per double
//!     temp T := r …
//!     jump X(…)                             ; X: an original block
//! ```
//!
//! Invariants, values the copy reads and never changes (a temporary it
//! does not store, an argument, a literal), are unboxed once in the entry
//! block too where their loads are read only by `unbox_number` (or, for a
//! literal a region unboxes as a receiver, `unbox_float`); leaving, they
//! are loaded again, not boxed.
//!
//! A loop qualifies when it is innermost (its back edge is a latch block
//! ending `safepoint; jump H`, H without parameters), its method has no
//! blocks (so its temporaries are in the frame, and nothing but this code
//! reads or writes them while it runs), and its latch can be reached from
//! H through *copyable* blocks: without sends, new blocks, instance
//! variable accesses, inlined code or another safepoint. A temporary is
//! promoted when every store to it in those blocks stores a double (a
//! region's root, or another promoted temporary) and every load of it is
//! used only as above.
//!
//! The copy leaves native code nowhere: every edge to a block it does not
//! copy (a region's slow path, a send, the loop's exit, a safepoint whose
//! countdown ran out) goes through a *write* block that boxes the doubles
//! (one Float per distinct double, so values that were one object stay
//! one) and stores the promoted temporaries, and then to the original
//! block: the interpreter, a deopt or a GC sees exactly the frame the
//! original code would have.
//!
//! Identity: only write blocks write promoted temporaries' frame slots,
//! so a promoted temporary the copy has not stored since its entry still
//! holds its original object there, and the write block stores that
//! object back (loaded again), never a new Float of its double: `x == y`
//! after the loop is what the interpreter answers. Where that is not
//! known statically (the temporaries stored on every path from the
//! header to a block are), each copied block carries a stored flag (an
//! obj parameter: nil, not stored; a SmallInt, stored; nil from the
//! entry block), one shared by the temporaries stored on every way round
//! the loop when one can serve them all; the write block then boxes the
//! double and loads the object and one branch on the flag picks. A store
//! into a promoted temporary must store a *fresh* double (a region's
//! root, or a temporary stored on every path since the entry), so no
//! double of the copy is an original object but its own temporary's.
//!
//! The loads and stores of other temporaries in
//! the copy keep their states without the doubles (their only exit, a
//! trap on a heap temporaries Array, cannot happen in a method without
//! blocks). This module must not change the original blocks but for
//! their jumps to H.

use super::split::Ids;
use crate::ir::*;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Copies every qualifying loop of `f` (see the module doc); answers how
/// many. Run it after [`super::lower`] and before [`crate::fold`].
pub fn unbox_loops(f: &mut Function) -> usize {
    let has_blocks = f
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .any(|d| matches!(d.inst, Inst::MakeBlock { .. }));
    if f.kind != crate::ir::Kind::Method || has_blocks {
        return 0;
    }
    let mut ids = Ids::of(f);
    let mut done = 0;
    for l in find_loops(f) {
        if let Some(plan) = Plan::of(f, &l) {
            Copier::new(f, &l, &plan, &mut ids).apply(f);
            done += 1;
        }
    }
    done
}

/// An innermost loop: its header, its latch (which ends `safepoint; jump
/// header`) and every block on a path from the header to the latch.
struct Loop {
    header: BlockId,
    latch: BlockId,
    body: HashSet<BlockId>,
}

/// The blocks that jump to each block.
fn predecessors(f: &Function) -> HashMap<BlockId, Vec<BlockId>> {
    let mut preds: HashMap<BlockId, Vec<BlockId>> = HashMap::new();
    for b in &f.blocks {
        for c in b.terminator.successors() {
            preds.entry(c.block).or_default().push(b.id);
        }
    }
    preds
}

/// Whether `b` ends `safepoint; jump H` (a loop's back edge, the
/// safepoint with an empty stack) to a parameterless block H before it;
/// answers H.
fn back_edge(f: &Function, at: usize) -> Option<BlockId> {
    let b = &f.blocks[at];
    let Terminator::Jump(call) = &b.terminator else {
        return None;
    };
    let h = f.blocks.iter().position(|x| x.id == call.block)?;
    let safepoint = b.insts.last().is_some_and(|d| {
        d.inst == Inst::Safepoint
            && d.state
                .as_ref()
                .is_some_and(|s| !s.is_chained() && s.stack.is_empty())
    });
    (safepoint && 0 < h && h <= at && call.args.is_empty() && f.blocks[h].params.is_empty())
        .then_some(call.block)
}

/// The innermost loops of `f` (none holds another's latch).
fn find_loops(f: &Function) -> Vec<Loop> {
    let preds = predecessors(f);
    let mut loops = vec![];
    for at in 0..f.blocks.len() {
        let Some(header) = back_edge(f, at) else {
            continue;
        };
        let latch = f.blocks[at].id;
        let mut body = HashSet::from([header, latch]);
        let mut todo = vec![latch];
        while let Some(x) = todo.pop() {
            if x == header {
                continue;
            }
            for &p in preds.get(&x).into_iter().flatten() {
                if body.insert(p) {
                    todo.push(p);
                }
            }
        }
        loops.push(Loop {
            header,
            latch,
            body,
        });
    }
    let latches: Vec<BlockId> = loops.iter().map(|l| l.latch).collect();
    loops.retain(|l| {
        latches
            .iter()
            .all(|&x| x == l.latch || !l.body.contains(&x))
    });
    loops
}

/// Whether the copy may hold block `b` of a loop with latch `latch`.
fn copyable(b: &Block, latch: BlockId) -> bool {
    let last = b.insts.len().saturating_sub(1);
    let insts = b.insts.iter().enumerate().all(|(k, d)| {
        let chained = d.state.as_ref().is_some_and(State::is_chained);
        !chained
            && match d.inst {
                Inst::Send { .. }
                | Inst::MakeBlock { .. }
                | Inst::Ivar(_)
                | Inst::SetIvar(..)
                | Inst::BoxFloatGc(_)
                | Inst::CountdownTick => false,
                Inst::Safepoint => b.id == latch && k == last,
                _ => true,
            }
    });
    insts
        && matches!(
            b.terminator,
            Terminator::Jump(_) | Terminator::Branch { .. }
        )
}

/// What the copy of a loop does: which blocks it copies, which
/// temporaries it keeps unboxed and which values are doubles in it.
struct Plan {
    copied: HashSet<BlockId>,
    /// The promoted temporaries, in order.
    temps: Vec<u8>,
    /// The invariants unboxed once at the copy's entry, in order.
    invariants: Vec<(Invariant, Stands)>,
    /// The temporaries the copied blocks store.
    written: BTreeSet<u8>,
    /// The obj values of the copied blocks that are doubles in the copy,
    /// with what they stand for.
    doubles: HashMap<Value, Stands>,
    /// The temporaries the copy has stored on every path from its entry
    /// to each copied block.
    stored_in: HashMap<BlockId, BTreeSet<u8>>,
    /// The promoted temporaries that share one stored flag, "the copy
    /// went round the loop" (see [`shared_flag`]).
    shared: BTreeSet<u8>,
}

/// A value the copy reads and never changes: a temporary it does not
/// store, an argument, a literal. Its loads whose uses allow it are one
/// double, unboxed at the copy's entry; the frame keeps the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Invariant {
    Temp(u8),
    Arg(u8),
    Literal(u8),
}

impl Invariant {
    /// The load of it, as the copy's entry and its write blocks do it.
    fn load(self) -> Inst {
        match self {
            Invariant::Temp(t) => Inst::Temp(t),
            Invariant::Arg(n) => Inst::Arg(n),
            Invariant::Literal(n) => Inst::Literal(n),
        }
    }
}

/// What a double of the copy stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Stands {
    /// A Float (a promoted temporary, a region's root, a literal that is
    /// a receiver): `unbox_float` and the tag tests read it.
    Float,
    /// A SmallInt or a Float, converted: only `unbox_number` reads it.
    Number,
}

/// Whether an instruction of a copied block may use a double of kind
/// `kind`.
fn use_allowed(inst: &Inst, kind: Stands, temps: &BTreeSet<u8>) -> bool {
    match (inst, kind) {
        (Inst::UnboxNumber(_), _) => true,
        (Inst::UnboxFloat(_) | Inst::IsInt(_) | Inst::IsFloat(_) | Inst::BothInt(..), k) => {
            k == Stands::Float
        }
        (Inst::SetTemp(t, _), Stands::Float) => temps.contains(t),
        _ => false,
    }
}

/// The invariant `inst` loads, if it is one (`written`: the temporaries
/// the copied blocks store).
fn invariant_of(inst: &Inst, written: &BTreeSet<u8>) -> Option<Invariant> {
    match *inst {
        Inst::Temp(t) if !written.contains(&t) => Some(Invariant::Temp(t)),
        Inst::Arg(n) => Some(Invariant::Arg(n)),
        Inst::Literal(n) => Some(Invariant::Literal(n)),
        _ => None,
    }
}

/// The invariants the copied `blocks` load, each with its kind: a
/// literal some load of which a region unboxes as a receiver
/// (`unbox_float`) stands for a Float; anything else for a number (a
/// SmallInt literal the SmallInt paths test is left alone).
fn invariants(blocks: &[&Block], written: &BTreeSet<u8>) -> Vec<(Invariant, Stands)> {
    let mut kinds: HashMap<Invariant, Stands> = HashMap::new();
    for b in blocks {
        for d in &b.insts {
            let Some(i) = invariant_of(&d.inst, written) else {
                continue;
            };
            let r = d.results[0];
            let receiver = matches!(i, Invariant::Literal(_))
                && b.insts.iter().any(|u| u.inst == Inst::UnboxFloat(r));
            let kind = if receiver {
                Stands::Float
            } else {
                Stands::Number
            };
            let k = kinds.entry(i).or_insert(kind);
            *k = (*k).min(kind);
        }
    }
    let mut all: Vec<(Invariant, Stands)> = kinds.into_iter().collect();
    all.sort_unstable();
    all
}

impl Plan {
    fn of(f: &Function, l: &Loop) -> Option<Plan> {
        let copied: HashSet<BlockId> = f
            .blocks
            .iter()
            .filter(|b| l.body.contains(&b.id) && copyable(b, l.latch))
            .map(|b| b.id)
            .collect();
        if !copied.contains(&l.header) || !reaches(f, &copied, l.header, l.latch) {
            return None;
        }
        let blocks: Vec<&Block> = f.blocks.iter().filter(|b| copied.contains(&b.id)).collect();
        let written: BTreeSet<u8> = blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter_map(|d| match d.inst {
                Inst::SetTemp(t, _) => Some(t),
                _ => None,
            })
            .collect();
        let all_invariants = invariants(&blocks, &written);
        let stored_in = stored_in(&blocks, l.header);
        let mut temps = written.clone();
        loop {
            let doubles = doubles(&blocks, &temps, &all_invariants, &written, l.header);
            let fresh = fresh(&blocks, &stored_in, &doubles, l.header);
            let before = temps.len();
            let kept: BTreeSet<u8> = temps
                .iter()
                .copied()
                .filter(|&t| promotable(&blocks, t, &doubles, &fresh, &temps))
                .collect();
            temps = kept;
            if temps.is_empty() {
                return None;
            }
            if temps.len() == before {
                // The invariants some load of which is a double.
                let used: HashSet<Invariant> = blocks
                    .iter()
                    .flat_map(|b| &b.insts)
                    .filter(|d| d.results.first().is_some_and(|r| doubles.contains_key(r)))
                    .filter_map(|d| invariant_of(&d.inst, &written))
                    .collect();
                let invariants = all_invariants
                    .into_iter()
                    .filter(|(i, _)| used.contains(i))
                    .collect();
                let shared = shared_flag(&blocks, &temps, &stored_in, l.latch, l.header);
                return Some(Plan {
                    copied,
                    shared,
                    temps: temps.into_iter().collect(),
                    invariants,
                    written,
                    doubles,
                    stored_in,
                });
            }
        }
    }
}

/// Whether `to` can be reached from `from` through the blocks `within`.
fn reaches(f: &Function, within: &HashSet<BlockId>, from: BlockId, to: BlockId) -> bool {
    let mut seen = HashSet::from([from]);
    let mut todo = vec![from];
    while let Some(x) = todo.pop() {
        if x == to {
            return true;
        }
        let Some(b) = f.block(x) else { continue };
        for c in b.terminator.successors() {
            if within.contains(&c.block) && seen.insert(c.block) {
                todo.push(c.block);
            }
        }
    }
    false
}

/// Whether every instruction of `b` that reads `v` may read it as a
/// double of kind `kind`.
fn uses_allowed(b: &Block, v: Value, kind: Stands, temps: &BTreeSet<u8>) -> bool {
    b.insts.iter().all(|d| {
        !d.inst.operands().iter().any(|&(x, _)| x == v) || use_allowed(&d.inst, kind, temps)
    }) && !b.terminator.operands().iter().any(|&(x, _)| x == v)
}

/// The obj values of `blocks` (the copied ones) that are doubles in the
/// copy, when `temps` are promoted: the loads of those temporaries, the
/// loads of `invariants` and the boxed roots whose uses allow it, and the
/// parameters (not the header's) that some copied edge gives a double
/// and whose uses allow it (of the same kind).
fn doubles(
    blocks: &[&Block],
    temps: &BTreeSet<u8>,
    invariants: &[(Invariant, Stands)],
    written: &BTreeSet<u8>,
    header: BlockId,
) -> HashMap<Value, Stands> {
    let mut doubles = HashMap::new();
    for b in blocks {
        for d in &b.insts {
            let kind = match d.inst {
                Inst::Temp(t) if temps.contains(&t) => Some(Stands::Float),
                Inst::BoxFloat(_) => Some(Stands::Float),
                ref i => invariant_of(i, written).and_then(|i| {
                    let kind = invariants.iter().find(|(j, _)| *j == i)?.1;
                    Some(kind)
                }),
            };
            let forced = matches!(d.inst, Inst::Temp(t) if temps.contains(&t));
            match kind {
                Some(k) if forced || uses_allowed(b, d.results[0], k, temps) => {
                    doubles.insert(d.results[0], k);
                }
                _ => {}
            }
        }
    }
    let by_id: HashMap<BlockId, &Block> = blocks.iter().map(|b| (b.id, *b)).collect();
    loop {
        let mut grew = false;
        for b in blocks {
            for c in b.terminator.successors() {
                let Some(x) = by_id.get(&c.block).filter(|x| x.id != header) else {
                    continue;
                };
                let params: Vec<(Value, Type)> = x.typed_params().collect();
                for (a, &(p, t)) in c.args.iter().zip(&params) {
                    let Some(&k) = doubles.get(a) else { continue };
                    if t == Type::Obj && !doubles.contains_key(&p) && uses_allowed(x, p, k, temps) {
                        doubles.insert(p, k);
                        grew = true;
                    }
                }
            }
        }
        if !grew {
            return doubles;
        }
    }
}

/// Whether temporary `t` may stay promoted: every load of it in `blocks`
/// is used only as a Float double allows, and every store stores a
/// `fresh` one.
fn promotable(
    blocks: &[&Block],
    t: u8,
    doubles: &HashMap<Value, Stands>,
    fresh: &HashSet<Value>,
    temps: &BTreeSet<u8>,
) -> bool {
    blocks.iter().all(|b| {
        b.insts.iter().all(|d| match d.inst {
            Inst::Temp(u) if u == t => uses_allowed(b, d.results[0], Stands::Float, temps),
            Inst::SetTemp(u, v) if u == t => {
                doubles.get(&v) == Some(&Stands::Float) && fresh.contains(&v)
            }
            _ => true,
        })
    })
}

/// The temporaries block `b` stores.
fn stores_of(b: &Block) -> BTreeSet<u8> {
    b.insts
        .iter()
        .filter_map(|d| match d.inst {
            Inst::SetTemp(t, _) => Some(t),
            _ => None,
        })
        .collect()
}

/// The promoted `temps` whose stored flags can be one: those stored on
/// every way round the loop (so each was stored since the copy's entry
/// exactly when `stored_in` says so or the copy went round the loop at
/// least once), provided no copied edge knows some of them stored but
/// not all of those its target does not know (else none).
fn shared_flag(
    blocks: &[&Block],
    temps: &BTreeSet<u8>,
    stored_in: &HashMap<BlockId, BTreeSet<u8>>,
    latch: BlockId,
    header: BlockId,
) -> BTreeSet<u8> {
    let out =
        |b: &Block| -> BTreeSet<u8> { stored_in[&b.id].union(&stores_of(b)).copied().collect() };
    let Some(l) = blocks.iter().find(|b| b.id == latch) else {
        return BTreeSet::new();
    };
    let shared: BTreeSet<u8> = temps.intersection(&out(l)).copied().collect();
    for b in blocks {
        let known = out(b);
        for c in b.terminator.successors() {
            let Some(into) = stored_in.get(&c.block).filter(|_| c.block != header) else {
                continue;
            };
            let need: BTreeSet<u8> = shared.difference(into).copied().collect();
            let some = need.intersection(&known).count();
            if some != 0 && some != need.len() {
                return BTreeSet::new();
            }
        }
    }
    shared
}

/// The temporaries stored on every path through the copied `blocks`
/// from the header (where the copy is entered with none stored) to each
/// block, before it.
fn stored_in(blocks: &[&Block], header: BlockId) -> HashMap<BlockId, BTreeSet<u8>> {
    let stores = stores_of;
    let all: BTreeSet<u8> = blocks.iter().flat_map(|b| stores(b)).collect();
    let mut into: HashMap<BlockId, BTreeSet<u8>> = blocks
        .iter()
        .map(|b| {
            (
                b.id,
                if b.id == header {
                    BTreeSet::new()
                } else {
                    all.clone()
                },
            )
        })
        .collect();
    loop {
        let mut next: HashMap<BlockId, Option<BTreeSet<u8>>> = HashMap::new();
        for b in blocks {
            let out: BTreeSet<u8> = into[&b.id].union(&stores(b)).copied().collect();
            for c in b.terminator.successors() {
                if c.block == header || !into.contains_key(&c.block) {
                    continue;
                }
                let e = next.entry(c.block).or_insert(None);
                *e = Some(match e.take() {
                    None => out.clone(),
                    Some(s) => s.intersection(&out).copied().collect(),
                });
            }
        }
        let mut changed = false;
        for (id, s) in next {
            let s = s.unwrap_or_default();
            if into[&id] != s {
                into.insert(id, s);
                changed = true;
            }
        }
        if !changed {
            return into;
        }
    }
}

/// The obj values of the copied `blocks` that are new Floats in the
/// interpreter, no object the frame held when the copy was entered: the
/// regions' boxed roots, the loads of temporaries `stored_in` says were
/// stored (by induction, such a store stored a fresh value) and the
/// parameters every copied edge gives a fresh value (an edge that gives
/// a parameter no double leaves the copy).
fn fresh(
    blocks: &[&Block],
    stored_in: &HashMap<BlockId, BTreeSet<u8>>,
    doubles: &HashMap<Value, Stands>,
    header: BlockId,
) -> HashSet<Value> {
    let mut fresh = HashSet::new();
    for b in blocks {
        let mut stored = stored_in[&b.id].clone();
        for d in &b.insts {
            match d.inst {
                Inst::BoxFloat(_) => {
                    fresh.insert(d.results[0]);
                }
                Inst::Temp(t) if stored.contains(&t) => {
                    fresh.insert(d.results[0]);
                }
                Inst::SetTemp(t, _) => {
                    stored.insert(t);
                }
                _ => {}
            }
        }
        if b.id != header {
            fresh.extend(b.params.iter().copied());
        }
    }
    loop {
        let mut shrunk = false;
        for b in blocks {
            for c in b.terminator.successors() {
                let Some(x) = blocks.iter().find(|x| x.id == c.block && x.id != header) else {
                    continue;
                };
                for (a, p) in c.args.iter().zip(&x.params) {
                    if fresh.contains(p) && doubles.contains_key(a) && !fresh.contains(a) {
                        fresh.remove(p);
                        shrunk = true;
                    }
                }
            }
        }
        if !shrunk {
            return fresh;
        }
    }
}

/// Builds the copy of one loop (see the module doc).
struct Copier<'a> {
    plan: &'a Plan,
    header: BlockId,
    latch: BlockId,
    /// The latch's safepoint, which a countdown that ran out leads to.
    safepoint: InstData,
    /// The pc the write blocks' states name.
    pc: u16,
    /// The copy of each copied block.
    copy_of: HashMap<BlockId, BlockId>,
    /// The original blocks, by id.
    originals: HashMap<BlockId, Block>,
    entry: BlockId,
    ids: &'a mut Ids,
    /// The blocks made so far.
    made: Vec<Block>,
}

/// The values of one copied block as it is being built.
#[derive(Default)]
struct Names {
    /// Obj, bool and float values: the copy's name of each original.
    map: HashMap<Value, Value>,
    /// The double of each original obj value that is one in the copy.
    double: HashMap<Value, Value>,
    /// Bool values whose value is known in the copy.
    known: HashMap<Value, bool>,
    /// The current double of each promoted temporary.
    current: Vec<Value>,
    /// Whether each promoted temporary was stored since the copy was
    /// entered: `None` if it was on every path, else its flag, a block
    /// parameter (a SmallInt if it was; nil if its double is still the
    /// frame's object's).
    stored: Vec<Option<Value>>,
}

impl<'a> Copier<'a> {
    fn new(f: &Function, l: &Loop, plan: &'a Plan, ids: &'a mut Ids) -> Copier<'a> {
        let latch = f.block(l.latch).expect("the latch is a block");
        let safepoint = latch.insts.last().expect("a safepoint").clone();
        let pc = safepoint.state.as_ref().map_or(0, |s| s.pc);
        let mut copy_of = HashMap::new();
        for b in &f.blocks {
            if plan.copied.contains(&b.id) {
                copy_of.insert(b.id, ids.block());
            }
        }
        let originals = f.blocks.iter().map(|b| (b.id, b.clone())).collect();
        let entry = ids.block();
        Copier {
            plan,
            header: l.header,
            latch: l.latch,
            safepoint,
            pc,
            copy_of,
            originals,
            entry,
            ids,
            made: vec![],
        }
    }

    /// Adds the copy to `f` and sends every jump to the header to the
    /// entry block.
    fn apply(mut self, f: &mut Function) {
        for b in &mut f.blocks {
            for v in b.terminator.successors_mut() {
                if v.block == self.header {
                    v.block = self.entry;
                }
            }
        }
        let entry = self.entry_block();
        self.made.push(entry);
        let mut ids: Vec<BlockId> = self.copy_of.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let b = self.copy_block(id);
            self.made.push(b);
        }
        let made = reachable(std::mem::take(&mut self.made), self.entry);
        f.blocks.extend(made);
    }

    fn new_value(&mut self) -> Value {
        self.ids.value()
    }

    fn emit(&mut self, inst: Inst, state: Option<State>, insts: &mut Vec<InstData>) -> Vec<Value> {
        let results: Vec<Value> = inst
            .result_types()
            .iter()
            .map(|_| self.ids.value())
            .collect();
        insts.push(InstData {
            results: results.clone(),
            inst,
            state,
        });
        results
    }

    /// Emits a load of `i` into `insts` (a temporary's with a state at
    /// the loop's pc and an empty stack); answers it.
    fn load(&mut self, i: Invariant, insts: &mut Vec<InstData>) -> Value {
        let inst = i.load();
        let state = inst.has_state().then(|| State::new(self.pc, vec![]));
        self.emit(inst, state, insts)[0]
    }

    /// The entry: the promoted temporaries unboxed, to the header's copy
    /// if all are Floats, else to the header.
    fn entry_block(&mut self) -> Block {
        let mut insts = vec![];
        let (mut floats, mut oks) = (vec![], vec![]);
        let temps = self
            .plan
            .temps
            .iter()
            .map(|&t| (Invariant::Temp(t), Stands::Float));
        let all: Vec<(Invariant, Stands)> = temps.chain(self.plan.invariants.clone()).collect();
        for (i, kind) in all {
            let v = self.load(i, &mut insts);
            let unbox = match kind {
                Stands::Float => Inst::UnboxFloat(v),
                Stands::Number => Inst::UnboxNumber(v),
            };
            let r = self.emit(unbox, None, &mut insts);
            floats.push(r[0]);
            oks.push(self.emit(Inst::Not(r[1]), None, &mut insts)[0]);
        }
        let mut ok = oks[0];
        for &c in &oks[1..] {
            ok = self.emit(Inst::And(ok, c), None, &mut insts)[0];
        }
        let into = &self.plan.stored_in[&self.header];
        let unknown = |t: &&u8| !into.contains(t);
        let own = self
            .plan
            .temps
            .iter()
            .filter(|t| !self.plan.shared.contains(t));
        let bit = self.plan.shared.iter().any(|t| unknown(&t));
        let flags = usize::from(bit) + own.filter(unknown).count();
        for _ in 0..flags {
            floats.push(self.flag(false, &mut insts));
        }
        let terminator = Terminator::Branch {
            cond: ok,
            then: BlockCall {
                block: self.copy_of[&self.header],
                args: floats,
            },
            otherwise: BlockCall {
                block: self.header,
                args: vec![],
            },
        };
        Block::new(self.entry, vec![], insts, terminator)
    }

    /// The copy of block `id`.
    fn copy_block(&mut self, id: BlockId) -> Block {
        let b = self.originals[&id].clone();
        let mut n = Names::default();
        let mut params = vec![];
        let mut types = vec![];
        for (p, t) in b.typed_params() {
            let v = self.new_value();
            if self.plan.doubles.contains_key(&p) {
                n.double.insert(p, v);
                types.push(Type::Float);
            } else {
                n.map.insert(p, v);
                types.push(t);
            }
            params.push(v);
        }
        for _ in 0..self.slots() {
            let v = self.new_value();
            n.current.push(v);
            params.push(v);
            types.push(Type::Float);
        }
        let into = &self.plan.stored_in[&id];
        let bit = self.plan.shared.iter().any(|t| !into.contains(t)).then(|| {
            let v = self.new_value();
            params.push(v);
            types.push(Type::Obj);
            v
        });
        for t in self.plan.temps.clone() {
            if self.plan.stored_in[&id].contains(&t) {
                n.stored.push(None);
            } else if self.plan.shared.contains(&t) {
                n.stored.push(bit);
            } else {
                let v = self.new_value();
                n.stored.push(Some(v));
                params.push(v);
                types.push(Type::Obj);
            }
        }
        let mut insts = vec![];
        for d in &b.insts {
            self.copy_inst(d, &mut n, &mut insts);
        }
        let terminator = if id == self.latch {
            self.latch_end(&b.terminator, &mut n, &mut insts)
        } else {
            self.copy_terminator(&b.terminator, &mut n, &mut insts)
        };
        let copy = self.copy_of[&id];
        Block {
            id: copy,
            params,
            param_types: types,
            insts,
            terminator,
        }
    }

    fn slot(&self, t: u8) -> Option<usize> {
        self.plan.temps.iter().position(|&u| u == t)
    }

    /// How many doubles every copied block carries: one per promoted
    /// temporary, then one per invariant.
    fn slots(&self) -> usize {
        self.plan.temps.len() + self.plan.invariants.len()
    }

    /// The slot of the invariant `inst` loads, if it is one of the plan's.
    fn invariant_slot(&self, inst: &Inst) -> Option<usize> {
        let i = invariant_of(inst, &self.plan.written)?;
        let at = self.plan.invariants.iter().position(|&(j, _)| j == i)?;
        Some(self.plan.temps.len() + at)
    }

    /// The copy's bool for `v` (materialized if known).
    fn boolean(&mut self, v: Value, n: &mut Names, insts: &mut Vec<InstData>) -> Value {
        match n.known.get(&v) {
            Some(&k) => self.constant(k, insts),
            None => n.map[&v],
        }
    }

    /// A bool that is `k`.
    fn constant(&mut self, k: bool, insts: &mut Vec<InstData>) -> Value {
        let zero = self.emit(Inst::Int(0), None, insts)[0];
        let t = self.emit(Inst::IsInt(zero), None, insts)[0];
        if k {
            t
        } else {
            self.emit(Inst::Not(t), None, insts)[0]
        }
    }

    /// A stored flag (see [`Names::stored`]) that says `stored`: block
    /// parameters cannot be bools.
    fn flag(&mut self, stored: bool, insts: &mut Vec<InstData>) -> Value {
        let inst = if stored { Inst::Int(0) } else { Inst::Nil };
        self.emit(inst, None, insts)[0]
    }

    /// The stored flags a jump to the copy of `target` passes (for the
    /// temporaries not stored on every path to it).
    fn flags_to(&mut self, target: BlockId, n: &Names, insts: &mut Vec<InstData>) -> Vec<Value> {
        let mut flags = vec![];
        let into = &self.plan.stored_in[&target];
        let need: Vec<usize> = (0..self.plan.temps.len())
            .filter(|&k| {
                let t = self.plan.temps[k];
                self.plan.shared.contains(&t) && !into.contains(&t)
            })
            .collect();
        if !need.is_empty() {
            // (`shared_flag`: all of `need` are known stored here, or none.)
            let f = match need.iter().find_map(|&k| n.stored[k]) {
                Some(bit) => bit,
                None => self.flag(true, insts),
            };
            flags.push(f);
        }
        for (k, t) in self.plan.temps.clone().into_iter().enumerate() {
            if !self.plan.shared.contains(&t) && !self.plan.stored_in[&target].contains(&t) {
                let f = match n.stored[k] {
                    Some(f) => f,
                    None => self.flag(true, insts),
                };
                flags.push(f);
            }
        }
        flags
    }

    fn copy_inst(&mut self, d: &InstData, n: &mut Names, insts: &mut Vec<InstData>) {
        let is_double = |v: &Value| self.plan.doubles.contains_key(v);
        if is_double(&d.results.first().copied().unwrap_or(Value(u32::MAX)))
            && let Some(s) = self.invariant_slot(&d.inst)
        {
            n.double.insert(d.results[0], n.current[s]);
            return;
        }
        match d.inst {
            Inst::Temp(t) if self.slot(t).is_some() => {
                let s = self.slot(t).expect("checked");
                n.double.insert(d.results[0], n.current[s]);
                return;
            }
            Inst::SetTemp(t, v) if self.slot(t).is_some() => {
                let s = self.slot(t).expect("checked");
                n.current[s] = n.double[&v];
                n.stored[s] = None;
                return;
            }
            Inst::BoxFloat(x) if is_double(&d.results[0]) => {
                n.double.insert(d.results[0], n.map[&x]);
                n.known.insert(d.results[1], false);
                return;
            }
            Inst::UnboxFloat(v) | Inst::UnboxNumber(v) if is_double(&v) => {
                n.map.insert(d.results[0], n.double[&v]);
                n.known.insert(d.results[1], false);
                return;
            }
            Inst::IsInt(v) if is_double(&v) => {
                n.known.insert(d.results[0], false);
                return;
            }
            Inst::IsFloat(v) if is_double(&v) => {
                n.known.insert(d.results[0], true);
                return;
            }
            Inst::BothInt(a, b) if is_double(&a) || is_double(&b) => {
                n.known.insert(d.results[0], false);
                return;
            }
            Inst::Not(c) if n.known.contains_key(&c) => {
                n.known.insert(d.results[0], !n.known[&c]);
                return;
            }
            Inst::And(a, b) => {
                let (ka, kb) = (n.known.get(&a).copied(), n.known.get(&b).copied());
                let r = d.results[0];
                match (ka, kb) {
                    (Some(false), _) | (_, Some(false)) => {
                        n.known.insert(r, false);
                        return;
                    }
                    (Some(true), Some(true)) => {
                        n.known.insert(r, true);
                        return;
                    }
                    (Some(true), None) => {
                        n.map.insert(r, n.map[&b]);
                        return;
                    }
                    (None, Some(true)) => {
                        n.map.insert(r, n.map[&a]);
                        return;
                    }
                    (None, None) => {}
                }
            }
            Inst::Safepoint => return,
            _ => {}
        }
        let mut inst = d.inst.clone();
        let operands: Vec<Value> = inst.operands().iter().map(|&(v, _)| v).collect();
        let renamed: Vec<Value> = operands
            .iter()
            .map(|&v| self.boolean_or_value(v, n, insts))
            .collect();
        for (slot, v) in inst.operands_mut().into_iter().zip(renamed) {
            *slot = v;
        }
        let state = d.state.as_ref().map(|s| {
            let stack = s.stack.iter().filter(|v| !is_double(v));
            State::new(s.pc, stack.map(|v| n.map[v]).collect())
        });
        let results = self.emit(inst, state, insts);
        for (&old, new) in d.results.iter().zip(results) {
            n.map.insert(old, new);
        }
    }

    fn boolean_or_value(&mut self, v: Value, n: &mut Names, insts: &mut Vec<InstData>) -> Value {
        if n.known.contains_key(&v) {
            self.boolean(v, n, insts)
        } else {
            n.map[&v]
        }
    }

    /// The latch's end: the countdown, then the header's copy, or the
    /// write block before the safepoint.
    fn latch_end(
        &mut self,
        t: &Terminator,
        n: &mut Names,
        insts: &mut Vec<InstData>,
    ) -> Terminator {
        debug_assert!(matches!(t, Terminator::Jump(c) if c.block == self.header));
        let due = self.emit(Inst::CountdownTick, None, insts)[0];
        let poll = self.ids.block();
        self.made.push(Block::new(
            poll,
            vec![],
            vec![self.safepoint.clone()],
            Terminator::Jump(BlockCall {
                block: self.entry,
                args: vec![],
            }),
        ));
        let out = self.leave(poll, &[], n);
        let mut args = n.current.clone();
        args.extend(self.flags_to(self.header, n, insts));
        Terminator::Branch {
            cond: due,
            then: out,
            otherwise: BlockCall {
                block: self.copy_of[&self.header],
                args,
            },
        }
    }

    fn copy_terminator(
        &mut self,
        t: &Terminator,
        n: &mut Names,
        insts: &mut Vec<InstData>,
    ) -> Terminator {
        match t {
            Terminator::Jump(c) => Terminator::Jump(self.edge(c, n, insts)),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => match n.known.get(cond) {
                Some(true) => Terminator::Jump(self.edge(then, n, insts)),
                Some(false) => Terminator::Jump(self.edge(otherwise, n, insts)),
                None => {
                    let cond = self.boolean_or_value(*cond, n, insts);
                    Terminator::Branch {
                        cond,
                        then: self.edge(then, n, insts),
                        otherwise: self.edge(otherwise, n, insts),
                    }
                }
            },
            _ => unreachable!("copied blocks jump or branch"),
        }
    }

    /// The copy's jump along edge `c`: to a copied block if every
    /// argument is what its parameter is there, else out through a write
    /// block.
    fn edge(&mut self, c: &BlockCall, n: &mut Names, insts: &mut Vec<InstData>) -> BlockCall {
        let target = &self.originals[&c.block];
        let fits = self.copy_of.contains_key(&c.block)
            && c.block != self.header
            && c.args
                .iter()
                .zip(&target.params)
                .all(|(a, p)| self.plan.doubles.get(a) == self.plan.doubles.get(p));
        if !fits {
            return self.leave(c.block, &c.args, n);
        }
        let mut args: Vec<Value> = c
            .args
            .iter()
            .map(|a| n.double.get(a).copied().unwrap_or_else(|| n.map[a]))
            .collect();
        args.extend(&n.current);
        args.extend(self.flags_to(c.block, n, insts));
        BlockCall {
            block: self.copy_of[&c.block],
            args,
        }
    }

    /// A jump to a new write block that makes an object of each distinct
    /// double among `args` and the promoted temporaries, stores those
    /// temporaries, and goes on at the original block `target` with
    /// `args` (as objects). A double's object is an invariant's (loaded
    /// again), or the frame's object of a temporary not stored since the
    /// copy's entry (loaded again, under a branch on its stored flag
    /// where that is not known), or else a new Float (`box_float_gc`).
    fn leave(&mut self, target: BlockId, args: &[Value], n: &Names) -> BlockCall {
        // The distinct doubles, by their name in the copy.
        let mut floats: Vec<Value> = vec![];
        let arg_doubles = args.iter().filter_map(|a| n.double.get(a));
        for &f in arg_doubles.chain(&n.current[..self.plan.temps.len()]) {
            if !floats.contains(&f) {
                floats.push(f);
            }
        }
        let sources: Vec<Source> = floats.iter().map(|&f| self.source(f, n)).collect();
        // (The latch's poll block, a new one, has no parameters.)
        let target_types: Vec<Type> = self
            .originals
            .get(&target)
            .map_or(vec![], |b| b.param_types.clone());
        // The write blocks' values, by place: the obj and bool arguments,
        // the doubles, the stored flags, then the objects made.
        let mut env: Vec<(Value, Type)> = vec![];
        let mut passed = vec![];
        // Each argument: its place in `env`, or its double's index.
        let mut arg_of: Vec<Result<usize, usize>> = vec![];
        for (a, &t) in args.iter().zip(&target_types) {
            match n.double.get(a) {
                Some(f) => arg_of.push(Err(floats.iter().position(|x| x == f).expect("added"))),
                None => {
                    arg_of.push(Ok(env.len()));
                    env.push((self.new_value(), t));
                    passed.push(n.map[a]);
                }
            }
        }
        let float_at = env.len();
        for &f in &floats {
            env.push((self.new_value(), Type::Float));
            passed.push(f);
        }
        let mut flag_at = vec![None; floats.len()];
        for (i, source) in sources.iter().enumerate() {
            if let Source::Original(_, flag) = *source {
                flag_at[i] = Some(env.len());
                env.push((self.new_value(), Type::Obj));
                passed.push(flag);
            }
        }
        let first = self.ids.block();
        let mut open = Open::new(first, &env);
        // The place in `env` of each double's object.
        let mut object: Vec<usize> = vec![0; floats.len()];
        for (i, source) in sources.iter().enumerate() {
            if let (Source::Original(t, _), Some(flag)) = (*source, flag_at[i]) {
                open = self.unless_stored(open, &mut env, flag, float_at + i, t);
                object[i] = env.len() - 1;
            }
        }
        for (i, source) in sources.iter().enumerate() {
            let r = match *source {
                Source::Original(..) => continue,
                Source::Invariant(inv) => self.load(inv, &mut open.insts),
                Source::New => {
                    let state = State::new(self.pc, live(&env));
                    let x = env[float_at + i].0;
                    self.emit(Inst::BoxFloatGc(x), Some(state), &mut open.insts)[0]
                }
            };
            object[i] = env.len();
            env.push((r, Type::Obj));
        }
        let object: Vec<Value> = object.iter().map(|&o| env[o].0).collect();
        for (t, cur) in self.plan.temps.clone().into_iter().zip(&n.current) {
            let r = object[floats.iter().position(|x| x == cur).expect("added")];
            let state = State::new(self.pc, vec![r]);
            self.emit(Inst::SetTemp(t, r), Some(state), &mut open.insts);
        }
        let out: Vec<Value> = arg_of
            .iter()
            .map(|a| match *a {
                Ok(k) => env[k].0,
                Err(i) => object[i],
            })
            .collect();
        self.made.push(open.end(Terminator::Jump(BlockCall {
            block: target,
            args: out,
        })));
        BlockCall {
            block: first,
            args: passed,
        }
    }

    /// Where the object of the copy's double `f` comes from when it
    /// leaves (see [`Copier::leave`]).
    fn source(&self, f: Value, n: &Names) -> Source {
        let temps = self.plan.temps.len();
        if let Some(k) = n.current[temps..].iter().position(|&c| c == f) {
            return Source::Invariant(self.plan.invariants[k].0);
        }
        let unstored = (0..temps).find(|&k| n.current[k] == f && n.stored[k].is_some());
        match unstored {
            Some(k) => Source::Original(self.plan.temps[k], n.stored[k].expect("found")),
            None => Source::New,
        }
    }

    /// Ends `open` with a test of the flag at place `flag` of `env`: a
    /// new Float of the double at place `float` if it is set, else
    /// temporary `t`'s object, loaded again from the frame (making the
    /// Float either way is harmless, and a branch costs more code). Both
    /// go on at the join, answered, whose values are `env`'s renamed and
    /// then that object (pushed on `env`).
    fn unless_stored(
        &mut self,
        mut open: Open,
        env: &mut Vec<(Value, Type)>,
        flag: usize,
        float: usize,
        t: u8,
    ) -> Open {
        let join = self.ids.block();
        let state = State::new(self.pc, live(env));
        let new = self.emit(Inst::BoxFloatGc(env[float].0), Some(state), &mut open.insts)[0];
        let old = self.load(Invariant::Temp(t), &mut open.insts);
        let cond = self.emit(Inst::IsInt(env[flag].0), None, &mut open.insts)[0];
        let all: Vec<Value> = env.iter().map(|&(v, _)| v).collect();
        let call = |r: Value| BlockCall {
            block: join,
            args: all.iter().copied().chain([r]).collect(),
        };
        self.made.push(open.end(Terminator::Branch {
            cond,
            then: call(new),
            otherwise: call(old),
        }));
        for slot in env.iter_mut() {
            slot.0 = self.new_value();
        }
        env.push((self.new_value(), Type::Obj));
        Open::new(join, env)
    }
}

/// Where the object of a double comes from when the copy leaves.
#[derive(Clone, Copy)]
enum Source {
    /// An invariant's object, loaded again.
    Invariant(Invariant),
    /// The frame's object of a temporary, loaded again unless the flag
    /// says the temporary was stored since the copy's entry.
    Original(u8, Value),
    /// A new Float.
    New,
}

/// The obj values among `env`, which a `box_float_gc` keeps alive.
fn live(env: &[(Value, Type)]) -> Vec<Value> {
    env.iter()
        .filter(|&&(_, t)| t == Type::Obj)
        .map(|&(v, _)| v)
        .collect()
}

/// A write block being built.
struct Open {
    id: BlockId,
    params: Vec<(Value, Type)>,
    insts: Vec<InstData>,
}

impl Open {
    fn new(id: BlockId, params: &[(Value, Type)]) -> Open {
        Open {
            id,
            params: params.to_vec(),
            insts: vec![],
        }
    }

    fn end(self, terminator: Terminator) -> Block {
        Block {
            id: self.id,
            params: self.params.iter().map(|&(v, _)| v).collect(),
            param_types: self.params.iter().map(|&(_, t)| t).collect(),
            insts: self.insts,
            terminator,
        }
    }
}

/// The blocks of `made` that `entry` (the first) reaches through them.
fn reachable(made: Vec<Block>, entry: BlockId) -> Vec<Block> {
    let by_id: HashMap<BlockId, &Block> = made.iter().map(|b| (b.id, b)).collect();
    let mut seen = HashSet::from([entry]);
    let mut todo = vec![entry];
    while let Some(x) = todo.pop() {
        let Some(b) = by_id.get(&x) else { continue };
        for c in b.terminator.successors() {
            if by_id.contains_key(&c.block) && seen.insert(c.block) {
                todo.push(c.block);
            }
        }
    }
    made.into_iter().filter(|b| seen.contains(&b.id)).collect()
}
