//! Speculative inlining of monomorphic sends. For each send (not to
//! super) of the function, an [`InlineOracle`] may offer the method the
//! send would find (from type feedback); if that method is small and
//! simple enough ([`Refusal`] lists what is not), the send becomes
//!
//! ```text
//!     k = class_is recv kC          ; the class the oracle promised
//!     u = unit_valid                ; no method installed since
//!     ok = and k u
//!     branch ok, body(live…, recv, args…), send(live…, recv, args…)
//! body…:                            ; the callee's blocks, renamed
//! send(live…, recv, args…):         ; the original send
//!     r = send S recv args… @pc [s…]
//!     jump join(live…, r)
//! join(live…, r):                   ; the rest of the block
//! ```
//!
//! In the body, `self` is the send's receiver, `arg i` its arguments,
//! `lit n` the unit constant of the callee's literal, `ivar n` and
//! `set_ivar n` are `load_slot`/`store_ref` on the receiver at the
//! SmallInt index n + 1, and the callee's temporaries, which nobody else
//! sees (it makes no blocks), are SSA values carried as block parameters
//! (nil at first), across the callee's loops too. `return v` jumps to
//! the join with v. The callee's entry safepoint goes; each state left in
//! it (its sends, the safepoints at its loops' back edges) is chained:
//! its inlined frame is the callee's activation (the method constant, the
//! receiver, the arguments and the temporaries' current values) and its
//! caller the original send's state. A callee's own sends may be inlined
//! in turn (the oracle is asked with the callee as the site's method),
//! down to [`Budget::max_depth`]. A special binary send may stay in a
//! callee (the lowering gives it SmallInt and Float paths, its fallback
//! leaves through the chained state) only where the oracle expects those
//! paths to serve ([`InlineOracle::fast_special`]): else it must be
//! inlined in turn or the callee is refused ([`Refusal::SlowSpecial`]),
//! lest the exit run at every call.
//!
//! A literal block the function passes to an inlined callee is inlined
//! where the callee activates it ([`blocks`]): the callee's `value…` send
//! to that argument becomes the block's body, its `^` the function's
//! return; the block object is still made.
//!
//! This module decides what is inlined and rewrites the IR; it must not
//! decide how a chained state is left (the back end's and the VM's) nor
//! give inlined sends fast paths (the semantic lowering, run after it,
//! does that for the special selectors).

mod blocks;

use crate::ir::*;
use crate::semantic::split::{self, Cut, Ids, pure};
use crate::verify::verify;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A send the pass asks the oracle about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The method the send is in: `None` for the function itself, else
    /// the inlined method's constant in the unit.
    pub method: Option<ConstId>,
    /// That method constant's handle (the embedder's), when there is one.
    pub method_handle: Option<u32>,
    /// The send's state's pc (after the send instruction) in that method.
    pub pc: u16,
    /// The selector; a literal indexes that method's literals.
    pub selector: Selector,
    /// The number of arguments.
    pub arity: usize,
}

/// What the oracle offers for a send: the one class it saw there and
/// the method that class answers the selector with.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The receiver's class ([`ConstKind::Class`]).
    pub class: Constant,
    /// The method ([`ConstKind::Method`]).
    pub method: Constant,
    /// The method's IR as translated ([`Kind::Method`], no passes run).
    pub callee: Function,
    /// The number of named instance variables of `class`'s instances
    /// (pointer slots 1..=instance_size).
    pub instance_size: usize,
    /// The callee's literals as constants; `None`: not an object the
    /// pass may load (a selector, say).
    pub literals: Vec<Option<Constant>>,
}

/// Who knows which methods sends will find.
pub trait InlineOracle {
    /// The method to inline at `at`, if any.
    fn candidate(&mut self, at: Site) -> Option<Candidate>;

    /// Whether the special binary send at `at` (in an inlined method)
    /// may stay in inlined code: its SmallInt (or Float) fast path is
    /// expected to apply there, so that its fallback, an exit that
    /// materializes the inlined frames, is rare. An embedder with type
    /// feedback answers false where other receivers were seen.
    fn fast_special(&mut self, at: &Site) -> bool;

    /// Whether the send at `at` (in an inlined method) runs a Block's
    /// body when its receiver is a Block of its arity: Block answers its
    /// selector with the block-activating primitive. The pass asks only
    /// where the receiver is a literal block of the function.
    fn activates_block(&mut self, _at: &Site) -> bool {
        false
    }

    /// The literal block of the function whose body starts at bytecode
    /// offset `body`, if its body may be inlined at its activations.
    fn literal_block(&mut self, _body: u16) -> Option<LiteralBlock> {
        None
    }
}

/// A literal block of the function (a `make_block` of it), as the pass
/// inlines its body where an inlined callee activates it.
#[derive(Clone, Debug)]
pub struct LiteralBlock {
    /// The block's home method, the function's own, as a
    /// [`ConstKind::Block`] constant: the inlined frame of the block's
    /// activation names it.
    pub home: Constant,
    /// The body's IR ([`Kind::BlockBody`], no passes run). Its `self`,
    /// `arg n`, `lit n`, `temp n` and `ivar n` are the function's own.
    pub body: Function,
    /// The number of the block's parameters.
    pub arity: usize,
}

/// How much the pass may inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Levels of inlining: 1 inlines into the function only, 2 also into
    /// the methods inlined there …
    pub max_depth: usize,
    /// IR instructions of one callee (with what was inlined into it).
    pub callee_insts: usize,
    /// IR instructions the pass may add to the function in all.
    pub total_insts: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_depth: 2,
            callee_insts: 160,
            total_insts: 800,
        }
    }
}

/// Why a send was not inlined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The oracle offered nothing.
    NoCandidate,
    /// The depth limit is reached.
    Depth,
    /// The callee is not a method of the send's arity, or does not verify.
    Malformed,
    /// The callee makes a block (or returns from a block's home).
    Block,
    /// The callee has a primitive.
    Primitive,
    /// The callee reads or writes an instance variable beyond the class's.
    Ivar,
    /// The callee loads a literal the oracle gave no constant for.
    Literal,
    /// The callee sends to super.
    Super,
    /// The callee has a send that is neither a special binary one nor
    /// inlined in its turn.
    Send,
    /// The callee has a special binary send whose fast paths the oracle
    /// does not expect to apply (see [`InlineOracle::fast_special`]) and
    /// that is not inlined in its turn.
    SlowSpecial,
    /// The callee is too big.
    Size,
    /// The function's budget is spent.
    Budget,
    /// The rest of the block uses values the split cannot carry.
    Split,
    /// A literal block the callee activates cannot be inlined there (its
    /// body makes a block, has a send that must stay a send, or the
    /// oracle offers no body of the activation's arity).
    BlockBody,
}

impl Refusal {
    /// A short name, for statistics.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::NoCandidate => "no candidate",
            Refusal::Depth => "depth",
            Refusal::Malformed => "malformed callee",
            Refusal::Block => "block",
            Refusal::Primitive => "primitive",
            Refusal::Ivar => "ivar beyond instance size",
            Refusal::Literal => "literal",
            Refusal::Super => "super send",
            Refusal::Send => "other send",
            Refusal::SlowSpecial => "slow special",
            Refusal::Size => "size",
            Refusal::Budget => "budget",
            Refusal::Split => "split",
            Refusal::BlockBody => "block body",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InlineStats {
    /// Sends inlined (at every level).
    pub inlined: usize,
    /// Activations of literal blocks whose bodies were inlined (among
    /// the sends of `inlined`).
    pub blocks: usize,
    /// Sends not inlined: their state's pc (in their own method) and why.
    pub refused: Vec<(u16, Refusal)>,
}

/// Inlines what the oracle offers into `f` (see the module doc). Run it
/// before `semantic::region::unbox` and `semantic::lower`.
pub fn inline(f: &mut Function, oracle: &mut dyn InlineOracle, budget: Budget) -> InlineStats {
    let mut cx = Context {
        oracle,
        budget,
        constants: std::mem::take(&mut f.constants),
        stats: InlineStats::default(),
        added: 0,
        root_is_method: f.kind == Kind::Method,
    };
    // The unit's own sends never doom it.
    let _ = inline_in(f, None, 0, &mut cx, &HashSet::new());
    f.constants = cx.constants;
    cx.stats
}

/// The pass's state across levels. Every level names constants in the
/// function's table (`constants`), so inlined code needs no renumbering.
struct Context<'a> {
    oracle: &'a mut dyn InlineOracle,
    budget: Budget,
    constants: Vec<Constant>,
    stats: InlineStats,
    /// Instructions added to the function so far.
    added: usize,
    /// The function is a method (not a block body): the home of its
    /// literal blocks, so their `^` is its return.
    root_is_method: bool,
}

impl Context<'_> {
    fn add(&mut self, c: Constant) -> ConstId {
        add_constant(&mut self.constants, c)
    }
}

/// Inlines into `f`, a function at `depth` (0: the unit's own) that is
/// method `site` of the unit (`None`: the unit's own). Answers the pcs of
/// the sends it inlined (not those of `skip`, the pcs of activations of
/// literal blocks, which [`blocks`] inlines); in an inlined method, a send that is neither
/// inlined nor a special binary one (which [`check_sends`] may keep)
/// dooms the method, so the pass stops there (`Err`) rather than work
/// on its other sends.
fn inline_in(
    f: &mut Function,
    site: Option<(ConstId, u32)>,
    depth: usize,
    cx: &mut Context,
    skip: &HashSet<u16>,
) -> Result<HashSet<u16>, Refusal> {
    let mut ids = Ids::of(f);
    let mut considered: HashSet<u16> = skip.clone();
    let mut inlined = HashSet::new();
    let mut i = 0;
    while i < f.blocks.len() {
        let Some((at, pc)) = next_send(&f.blocks[i], &considered) else {
            i += 1;
            continue;
        };
        considered.insert(pc);
        let special = is_special_binary(&f.blocks[i].insts[at].inst);
        match try_inline(f, i, at, site, depth, cx, &mut ids) {
            Ok(new) => {
                inlined.insert(pc);
                cx.stats.inlined += 1;
                f.blocks.splice(i + 1..i + 1, new);
            }
            // A special binary send may stay in inlined code: no news.
            Err(Refusal::Depth) if special => {}
            Err(reason) => {
                cx.stats.refused.push((pc, reason));
                if site.is_some() && !special {
                    return Err(Refusal::Send);
                }
            }
        }
    }
    Ok(inlined)
}

/// The first send of `b` not yet considered (with its pc) that the pass
/// may inline: not to super, and not in code inlined already.
fn next_send(b: &Block, considered: &HashSet<u16>) -> Option<(usize, u16)> {
    b.insts.iter().enumerate().find_map(|(at, data)| {
        let Inst::Send {
            to_super: false, ..
        } = data.inst
        else {
            return None;
        };
        let state = data.state.as_ref()?;
        (!state.is_chained() && !considered.contains(&state.pc)).then_some((at, state.pc))
    })
}

/// Inlines the send `at` of block `bi` if the oracle offers an eligible
/// method: `f.blocks[bi]` becomes the guard; answers the new blocks to
/// put after it. On a refusal nothing changes.
fn try_inline(
    f: &mut Function,
    bi: usize,
    at: usize,
    site: Option<(ConstId, u32)>,
    depth: usize,
    cx: &mut Context,
    ids: &mut Ids,
) -> Result<Vec<Block>, Refusal> {
    let data = &f.blocks[bi].insts[at];
    let (Inst::Send { selector, args, .. }, Some(state)) = (&data.inst, &data.state) else {
        return Err(Refusal::Malformed);
    };
    if depth >= cx.budget.max_depth {
        return Err(Refusal::Depth);
    }
    let at_site = Site {
        method: site.map(|s| s.0),
        method_handle: site.map(|s| s.1),
        pc: state.pc,
        selector: *selector,
        arity: args.len(),
    };
    let arity = args.len();
    let candidate = cx.oracle.candidate(at_site).ok_or(Refusal::NoCandidate)?;
    if !split::splittable(&f.blocks[bi], at) {
        return Err(Refusal::Split);
    }
    // Only the function's own blocks are known to be literal blocks.
    let literal = match site {
        None => blocks::literal_blocks(&f.blocks[bi], args),
        Some(_) => vec![None; arity],
    };
    let (constants, inlined, spliced) = (cx.constants.len(), cx.stats.inlined, cx.stats.blocks);
    let result = prepare(candidate, arity, depth, cx, &literal).and_then(|callee| {
        let mut block = f.blocks[bi].clone();
        let mut new = splice(&mut block, at, &callee, ids).ok_or(Refusal::Malformed)?;
        blocks::inline_activations(&mut new, &callee, &literal, cx, ids)?;
        f.blocks[bi] = block;
        Ok(new)
    });
    if result.is_err() {
        // What was inlined into a refused callee goes with it (its
        // refusals stay: they say why).
        cx.constants.truncate(constants);
        cx.stats.inlined = inlined;
        cx.stats.blocks = spliced;
    }
    result
}

/// A callee ready to splice: its IR with constants named, inlining into
/// it done, and the constants of its guard and frames.
struct Prepared {
    f: Function,
    class: ConstId,
    method: ConstId,
    /// The callee's sends that activate a literal block of the function:
    /// their pcs, and the callee's argument (1-based) that is the block.
    activations: HashMap<u16, usize>,
}

/// Checks the candidate (its size first, before any work on it), names
/// its constants, inlines into it and checks its size again.
fn prepare(
    c: Candidate,
    arity: usize,
    depth: usize,
    cx: &mut Context,
    literal: &[Option<blocks::Made>],
) -> Result<Prepared, Refusal> {
    let Candidate {
        class,
        method,
        mut callee,
        instance_size,
        literals,
    } = c;
    if size_of(&callee) > cx.budget.callee_insts {
        return Err(Refusal::Size);
    }
    if class.kind != ConstKind::Class
        || method.kind != ConstKind::Method
        || callee.kind != Kind::Method
        || usize::from(callee.arg_count) != arity
        || verify(&callee).is_err()
    {
        return Err(Refusal::Malformed);
    }
    check_shape(&callee, instance_size, &literals)?;
    let handle = method.handle;
    let (class, method) = (cx.add(class), cx.add(method));
    name_literals(&mut callee, &literals, cx);
    let site = (method, handle);
    let activations = blocks::activations(&callee, literal, site, cx.oracle);
    let skip: HashSet<u16> = activations.keys().copied().collect();
    let nested = inline_in(&mut callee, Some(site), depth + 1, cx, &skip)?;
    check_sends(&callee, &nested, &skip, site, cx.oracle)?;
    let size = size_of(&callee);
    if size > cx.budget.callee_insts {
        return Err(Refusal::Size);
    }
    if depth == 0 {
        if cx.added + size > cx.budget.total_insts {
            return Err(Refusal::Budget);
        }
        cx.added += size;
    }
    Ok(Prepared {
        f: callee,
        class,
        method,
        activations,
    })
}

/// A function's size for the budget: instructions and terminators.
fn size_of(f: &Function) -> usize {
    f.blocks.iter().map(|b| b.insts.len() + 1).sum()
}

/// What the callee's instructions and terminators allow: no block, no
/// block return, no primitive, no super send, instance variables
/// within `instance_size`, only literals with constants.
fn check_shape(
    callee: &Function,
    instance_size: usize,
    literals: &[Option<Constant>],
) -> Result<(), Refusal> {
    for b in &callee.blocks {
        for data in &b.insts {
            match data.inst {
                Inst::MakeBlock { .. } => return Err(Refusal::Block),
                Inst::Ivar(n) | Inst::SetIvar(n, _) if usize::from(n) >= instance_size => {
                    return Err(Refusal::Ivar);
                }
                Inst::Literal(n) if !matches!(literals.get(usize::from(n)), Some(Some(_))) => {
                    return Err(Refusal::Literal);
                }
                Inst::Send { to_super: true, .. } => return Err(Refusal::Super),
                _ => {}
            }
        }
        match b.terminator {
            Terminator::BlockReturn(_) => return Err(Refusal::Block),
            Terminator::Primitive { .. } => return Err(Refusal::Primitive),
            _ => {}
        }
    }
    Ok(())
}

/// Replaces the callee's `lit n` by the unit constant of its literal
/// (checked to exist by [`check_shape`]).
fn name_literals(callee: &mut Function, literals: &[Option<Constant>], cx: &mut Context) {
    for data in callee.blocks.iter_mut().flat_map(|b| &mut b.insts) {
        if let Inst::Literal(n) = data.inst
            && let Some(Some(c)) = literals.get(usize::from(n))
        {
            data.inst = Inst::Const(cx.add(c.clone()));
        }
    }
}

/// Whether `inst` is a send of a special selector with one argument (the
/// semantic lowering gives it its SmallInt and Float paths).
fn is_special_binary(inst: &Inst) -> bool {
    matches!(inst, Inst::Send { selector: Selector::Special(_), args, .. } if args.len() == 1)
}

/// Every send left in the callee (method `site` of the unit) is a
/// special binary one the oracle expects its fast paths to serve, the
/// fallback of a send inlined into it (`nested`: their pcs), an
/// activation of a literal block (`activations`: their pcs), or inside
/// code inlined into it (checked at that level).
fn check_sends(
    callee: &Function,
    nested: &HashSet<u16>,
    activations: &HashSet<u16>,
    site: (ConstId, u32),
    oracle: &mut dyn InlineOracle,
) -> Result<(), Refusal> {
    for data in callee.blocks.iter().flat_map(|b| &b.insts) {
        let Inst::Send { selector, args, .. } = &data.inst else {
            continue;
        };
        let Some(state) = &data.state else {
            return Err(Refusal::Send);
        };
        if state.is_chained() || nested.contains(&state.pc) || activations.contains(&state.pc) {
            continue;
        }
        let at = Site {
            method: Some(site.0),
            method_handle: Some(site.1),
            pc: state.pc,
            selector: *selector,
            arity: args.len(),
        };
        check_special(&data.inst, &at, oracle)?;
    }
    Ok(())
}

/// A send that stays in inlined code at `at` must be a special binary
/// one whose fast paths the oracle expects to serve.
fn check_special(inst: &Inst, at: &Site, oracle: &mut dyn InlineOracle) -> Result<(), Refusal> {
    if !is_special_binary(inst) {
        return Err(Refusal::Send);
    }
    if !oracle.fast_special(at) {
        return Err(Refusal::SlowSpecial);
    }
    Ok(())
}

/// Cuts `b` at its send `at` (splittable), ends `b` with the guard and
/// answers the body's blocks, the send block and the join (`None`: the
/// callee has a terminator inlined code cannot have; `b` is then cut).
fn splice(b: &mut Block, at: usize, callee: &Prepared, ids: &mut Ids) -> Option<Vec<Block>> {
    let cut = Cut::new(b, at);
    let (send_id, join_id) = (ids.block(), ids.block());
    let blocks: HashMap<BlockId, BlockId> = callee
        .f
        .blocks
        .iter()
        .map(|cb| (cb.id, ids.block()))
        .collect();
    let none = HashMap::new();
    let (is, valid, ok) = (ids.value(), ids.value(), ids.value());
    let recv = cut.operand(0, &none);
    b.insts.push(pure(is, Inst::ClassIs(recv, callee.class)));
    b.insts.push(pure(valid, Inst::UnitValid));
    b.insts.push(pure(ok, Inst::And(is, valid)));
    let args = cut.carried_args(&none);
    let entry = callee.f.blocks[0].id;
    b.terminator = Terminator::Branch {
        cond: ok,
        then: BlockCall {
            block: blocks[&entry],
            args: args.clone(),
        },
        otherwise: BlockCall {
            block: send_id,
            args,
        },
    };
    let body = Body {
        cut: &cut,
        callee,
        blocks: &blocks,
        join: join_id,
    };
    let mut new: Vec<Block> = callee
        .f
        .blocks
        .iter()
        .enumerate()
        .map(|(k, cb)| body.block(cb, k == 0, ids))
        .collect::<Option<_>>()?;
    new.push(cut.send_block(send_id, join_id, ids));
    new.push(cut.join_block(join_id, ids));
    Some(new)
}

/// What every body block is built from.
struct Body<'a> {
    cut: &'a Cut,
    callee: &'a Prepared,
    /// The callee's block ids and theirs in the function.
    blocks: &'a HashMap<BlockId, BlockId>,
    join: BlockId,
}

/// The callee's activation while one of its blocks is rewritten: the
/// caller's names of its receiver, arguments and temporaries, the names
/// of the callee's values, and the caller's state at the send.
struct Frame {
    receiver: Value,
    args: Vec<Value>,
    temps: Vec<Value>,
    values: HashMap<Value, Value>,
    caller: State,
}

impl Frame {
    fn get(&self, v: Value) -> Value {
        split::renamed(v, &self.values)
    }

    /// The inlined frame of a state at this point.
    fn inlined(&self, method: ConstId) -> InlinedFrame {
        InlinedFrame {
            method,
            receiver: self.receiver,
            args: self.args.clone(),
            temps: self.temps.clone(),
            caller: self.caller.clone(),
        }
    }
}

impl Body<'_> {
    /// The callee's block `cb` in the function: parameters for the
    /// carried values, the temporaries (unless `entry`: nil there) and
    /// its own; its instructions rewritten (`None`: a terminator inlined
    /// code cannot have).
    fn block(&self, cb: &Block, entry: bool, ids: &mut Ids) -> Option<Block> {
        let e = self.cut.enter(ids);
        let (mut params, mut insts) = (e.params, e.insts);
        let temp_count = usize::from(self.callee.f.temp_count);
        let temps = if entry {
            let nil = ids.value();
            if temp_count > 0 {
                insts.push(pure(nil, Inst::Nil));
            }
            vec![nil; temp_count]
        } else {
            let temps: Vec<Value> = (0..temp_count).map(|_| ids.value()).collect();
            params.extend(&temps);
            temps
        };
        let mut caller = self.cut.send_state().clone();
        for v in caller.values_mut() {
            *v = split::renamed(*v, &e.map);
        }
        let mut frame = Frame {
            receiver: self.cut.operand(0, &e.map),
            args: (1..self.cut.operands.len())
                .map(|i| self.cut.operand(i, &e.map))
                .collect(),
            temps,
            values: HashMap::new(),
            caller,
        };
        for &p in &cb.params {
            let q = ids.value();
            params.push(q);
            frame.values.insert(p, q);
        }
        for data in &cb.insts {
            // The callee's entry safepoint goes (the send has none).
            if entry && data.inst == Inst::Safepoint {
                continue;
            }
            self.inst(data, &mut frame, &mut insts, ids);
        }
        let terminator = self.terminator(&cb.terminator, &frame, &e.map)?;
        Some(Block::new(self.blocks[&cb.id], params, insts, terminator))
    }

    /// Rewrites one callee instruction into `insts`.
    fn inst(&self, data: &InstData, frame: &mut Frame, insts: &mut Vec<InstData>, ids: &mut Ids) {
        let result = data.results.first().copied();
        let alias = |frame: &mut Frame, to: Value| {
            if let Some(r) = result {
                frame.values.insert(r, to);
            }
        };
        match data.inst {
            Inst::SelfRef => alias(frame, frame.receiver),
            Inst::Arg(n) => {
                let a = frame.args[usize::from(n) - 1];
                alias(frame, a)
            }
            Inst::Temp(n) => {
                let t = frame.temps[usize::from(n)];
                alias(frame, t)
            }
            Inst::SetTemp(n, v) => frame.temps[usize::from(n)] = frame.get(v),
            Inst::Ivar(n) => {
                let (index, r) = (ids.value(), ids.value());
                insts.push(pure(index, Inst::Int(i64::from(n) + 1)));
                insts.push(pure(r, Inst::LoadSlot(frame.receiver, index)));
                alias(frame, r);
            }
            Inst::SetIvar(n, v) => {
                let index = ids.value();
                insts.push(pure(index, Inst::Int(i64::from(n) + 1)));
                insts.push(InstData {
                    results: vec![],
                    inst: Inst::StoreRef {
                        object: frame.receiver,
                        index,
                        value: frame.get(v),
                    },
                    state: None,
                });
            }
            _ => {
                let mut data = data.clone();
                for v in data.inst.operands_mut() {
                    *v = frame.get(*v);
                }
                for r in &mut data.results {
                    let new = ids.value();
                    frame.values.insert(*r, new);
                    *r = new;
                }
                if let Some(state) = &mut data.state {
                    for v in state.values_mut() {
                        *v = frame.get(*v);
                    }
                    chain(state, frame.inlined(self.callee.method));
                }
                insts.push(data);
            }
        }
    }

    /// Rewrites the callee's terminator: jumps carry the caller's values
    /// and the temporaries; a return goes to the join.
    fn terminator(
        &self,
        t: &Terminator,
        frame: &Frame,
        map: &HashMap<Value, Value>,
    ) -> Option<Terminator> {
        let call = |c: &BlockCall| {
            let mut args = self.cut.carried_args(map);
            args.extend(&frame.temps);
            args.extend(c.args.iter().map(|&v| frame.get(v)));
            BlockCall {
                block: self.blocks[&c.block],
                args,
            }
        };
        match t {
            Terminator::Jump(c) => Some(Terminator::Jump(call(c))),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => Some(Terminator::Branch {
                cond: frame.get(*cond),
                then: call(then),
                otherwise: call(otherwise),
            }),
            Terminator::Return(v) => Some(split::jump(
                self.join,
                self.cut.join_args(map, frame.get(*v)),
            )),
            // `check_shape` refuses callees with these.
            Terminator::BlockReturn(_) | Terminator::Primitive { .. } => None,
        }
    }
}

/// Chains `frame` at the end of `state`'s chain (the callee's own
/// activation becomes an inlined one).
fn chain(state: &mut State, frame: InlinedFrame) {
    match &mut state.inlined {
        None => state.inlined = Some(Box::new(frame)),
        Some(inner) => chain(&mut inner.caller, frame),
    }
}
