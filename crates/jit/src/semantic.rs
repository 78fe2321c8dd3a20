//! Semantic lowering: sends whose selector stands for an inline SmallInt,
//! Float or object operation become guarded low-level IR with the send as
//! the fallback.
//!
//! A send `r = send S a b @pc [s…]` (one argument, not to super) whose
//! selector is a special the interpreter itself runs inline on two
//! SmallInts (`sendBinary`: `+ - * < <= > >= = ~= // \\`), or a literal
//! the caller's [`Facts`] map to an [`InlineOp`], becomes
//!
//! ```text
//! bbX:                          ; the block up to the send
//!     c = both_int a b          ; is_int a when b is a constant
//!     [v = inline_valid OP      ; literal selectors only
//!      c = and c v]
//!     branch c, int(s…, a, b), float?(s…, a, b)
//! int(s…, a, b):                ; the operation on tagged words
//!     r, failed = int_sub a b   ; or a compare + bool_obj, or bit and/or
//!     branch failed, send(s…, a, b), join(s…, r)
//! float?(s…, a, b):             ; when the selector has a Float operation
//!     f = is_float a
//!     v = inline_valid float_sub
//!     c = and f v
//!     branch c, floatop(s…, a, b), send(s…, a, b)
//! floatop(s…, a, b):
//!     r, failed = float_sub a b
//!     branch failed, send(s…, a, b), join(s…, r)
//! send(s…, a, b):               ; the original send with its state
//!     r = send S a b @pc [s…]
//!     jump join(s…, r)
//! join(s…, r):                  ; the rest of bbX
//! ```
//!
//! Special selectors need no `inline_valid` guard on their SmallInt path:
//! the interpreter's `sendBinary` does them on SmallInts without a lookup,
//! whatever the image defines, and compiled code must answer as the
//! interpreter does. Every other path stands for a method (SmallInt's or
//! Float's) and is taken only while the VM's word says that method is
//! still the primitive (`lst_bytecode::inline_ops`).
//!
//! A send of a literal selector the caller's [`Facts`] map to an
//! [`ObjectOp`] (`at:`, `at:put:`, `==`, `class`, `size`) gets one path,
//! guarded by its own send site's cache (`site_prim`: the receiver's class
//! is cached there with that primitive method) and by what the primitive
//! checks of its operands (`index_ok`, a tag test):
//!
//! ```text
//!     c = class_of a
//!     h = site_prim at_put c send PC
//!     k = index_ok a i
//!     ok = and h k
//!     branch ok, fast(s…, a, i, v), send(s…, a, i, v)
//! fast(s…, a, i, v):
//!     store_ref a i v           ; or load_slot, size_of, class_of, same
//!     jump join(s…, a)
//! ```
//!
//! (`new:`'s fast block is `r, failed = new_slots a n`, the send when it
//! fails.)
//!
//! Values cross blocks only as block arguments (see [`split`]). This
//! module decides which sends get which paths; how an operation is done on
//! machine words is each back end's choice.
//!
//! [`region`] is a pass of its own that runs before [`lower`]: it turns
//! whole expression trees of Float sends into regions on unboxed doubles
//! whose slow path is the original sends, which [`lower`] then expands
//! as above. [`loops`] runs after [`lower`]: it copies an innermost loop
//! so that the Float temporaries its regions store stay doubles across
//! its iterations, the original loop being the copy's slow path.

pub mod loops;
pub mod region;
pub(crate) mod split;

use crate::ir::*;
use lst_bytecode::inline_ops::{InlineOp, ObjectOp, Receiver};
use split::{Cut, Entered, Ids, pure};
use std::collections::HashMap;

/// What the caller knows about the method's literals.
pub struct Facts<'a> {
    /// For each literal that is a selector SmallInt answers with an
    /// inline operation, that operation (a SmallInt row of
    /// `lst_bytecode::inline_ops`); others are ignored.
    pub literal_ops: &'a [Option<InlineOp>],
    /// The same for Float's inline operations (empty: no Float paths
    /// for literal selectors).
    pub float_ops: &'a [Option<InlineOp>],
    /// For each literal that is a selector an object operation may stand
    /// for (`at:`, `size` …), that operation; its sends get a path guarded
    /// by the send site's cache (empty: none).
    pub object_ops: &'a [Option<ObjectOp>],
    /// For each literal, whether it is a selector some quick method may
    /// answer (a unary one: a constant or getter; a one-argument keyword:
    /// a setter); its sends get paths guarded by the site's first method
    /// way (empty: none).
    pub quick: &'a [bool],
    /// The sends (named by their state's bytecode offset, as `site_prim`
    /// names a site) whose receivers were observed and none was a Float:
    /// [`region::unbox`] leaves them out of its expression trees (empty:
    /// nothing known, every send qualifies).
    pub not_float: &'a [u16],
}

/// Expands every send of `f` that has a fast path (see the module doc).
pub fn lower(f: &mut Function, facts: &Facts) {
    let mut ids = Ids::of(f);
    let mut i = 0;
    while i < f.blocks.len() {
        match split_point(&f.blocks[i], facts) {
            Some((at, paths)) => {
                let new = expand(&mut f.blocks[i], at, &paths, &mut ids);
                let n = new.len();
                f.blocks.splice(i + 1..i + 1, new);
                // Go on with the join block: the rest of the original.
                i += n;
            }
            None => i += 1,
        }
    }
}

/// One fast path of a send: the guard and the operation.
#[derive(Clone, Copy, Debug)]
struct Path {
    guard: Guard,
    op: Op,
}

/// What a fast path tests first.
#[derive(Clone, Copy, Debug)]
enum Guard {
    /// Both operands are SmallInts, and (`Some`) the operation's word
    /// says it is valid.
    Int(Option<InlineOp>),
    /// The receiver is a Float and the operation's word says it is valid.
    Float(InlineOp),
    /// The send site's cache holds the receiver's class with the
    /// primitive method the operation stands for, and the operands are
    /// what the primitive takes.
    Site(ObjectOp),
    /// The send site's first method way holds the receiver's class with
    /// a quick method of this kind.
    Quick(QuickKind),
}

/// The low-level operation of a fast path.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Gives (result, failed): the send runs when it fails.
    Checked(fn(Value, Value) -> Inst),
    /// Gives a bool, answered as true or false.
    Compare(Compare),
    /// Gives the result; never fails.
    Total(fn(Value, Value) -> Inst),
    /// A Float operation: (answer, failed).
    Float(InlineOp),
    /// An object operation; never fails once its guard holds, but
    /// `new:`, which gives (object, failed).
    Object(ObjectOp),
    /// What a quick method of this kind does.
    Quick(QuickKind),
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

/// The IR of an inline operation.
fn inline_op(op: InlineOp) -> Op {
    use InlineOp as O;
    match op {
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
        | O::FloatEqual => Op::Float(op),
    }
}

/// The row `ops` gives literal `i`, if it is one of `receiver`'s.
fn literal_op(ops: &[Option<InlineOp>], i: u8, receiver: Receiver) -> Option<InlineOp> {
    let op = ops.get(usize::from(i)).copied().flatten()?;
    (op.def().receiver == receiver).then_some(op)
}

/// The fast paths of a send, in the order they are tried (none if it
/// has none). A send in inlined code (a chained state) gets its special
/// selector's paths only: its literals are another method's, and the
/// site caches `site_prim` and `quick_way` read are the root method's.
fn paths(data: &InstData, facts: &Facts) -> Vec<Path> {
    let chained = data.state.as_ref().is_some_and(State::is_chained);
    if chained
        && !matches!(
            data.inst,
            Inst::Send {
                selector: Selector::Special(_),
                ..
            }
        )
    {
        return vec![];
    }
    let inst = &data.inst;
    let Inst::Send {
        selector,
        args,
        to_super: false,
        ..
    } = inst
    else {
        return vec![];
    };
    if let Selector::Literal(i) = *selector {
        let object = facts.object_ops.get(usize::from(i)).copied().flatten();
        let quick = facts.quick.get(usize::from(i)).copied().unwrap_or(false);
        // A unary selector may be both a primitive's (`size` of an
        // Array) and a quick method's (`size` of a class with that
        // instance variable): both paths, the primitive's first. A
        // keyword one takes the primitive's path alone.
        let kinds: &[QuickKind] = match (quick, args.len(), object) {
            (false, ..) => &[],
            (true, 0, _) => &[QuickKind::Getter, QuickKind::Constant],
            (true, 1, None) => &[QuickKind::Setter],
            _ => &[],
        };
        let names_object_op = object.is_some();
        let object = object.filter(|op| args.len() == op.arguments());
        if object.is_some() || !kinds.is_empty() {
            let object = object.map(|op| Path {
                guard: Guard::Site(op),
                op: Op::Object(op),
            });
            let quick = kinds.iter().map(|&k| Path {
                guard: Guard::Quick(k),
                op: Op::Quick(k),
            });
            return object.into_iter().chain(quick).collect();
        }
        // An object operation's selector with another arity: no path.
        if names_object_op {
            return vec![];
        }
    }
    if args.len() != 1 {
        return vec![];
    }
    let (int, float) = match *selector {
        Selector::Special(s) => (
            Some(Path {
                guard: Guard::Int(None),
                op: special_op(s),
            }),
            InlineOp::of_selector(Receiver::Float, s.selector().as_bytes()),
        ),
        Selector::Literal(i) => (
            literal_op(facts.literal_ops, i, Receiver::SmallInt).map(|op| Path {
                guard: Guard::Int(Some(op)),
                op: inline_op(op),
            }),
            literal_op(facts.float_ops, i, Receiver::Float),
        ),
    };
    let float = float.map(|op| Path {
        guard: Guard::Float(op),
        op: Op::Float(op),
    });
    int.into_iter().chain(float).collect()
}

/// The first send of `b` to expand: its index and fast paths.
fn split_point(b: &Block, facts: &Facts) -> Option<(usize, Vec<Path>)> {
    b.insts.iter().enumerate().find_map(|(at, data)| {
        let paths = paths(data, facts);
        (!paths.is_empty() && split::splittable(b, at)).then_some((at, paths))
    })
}

/// Cuts `b` at its send `at` and answers the new blocks: per path a
/// guard (the first one ends `b`) and a fast block, then the send and the
/// join (which holds the rest of `b`).
fn expand(b: &mut Block, at: usize, paths: &[Path], ids: &mut Ids) -> Vec<Block> {
    let cut = Cut::new(b, at);
    let (send_id, join_id) = (ids.block(), ids.block());
    let mut blocks = vec![];
    // The block for the next guard (`None`: the end of `b`).
    let mut check: Option<(BlockId, Entered)> = None;
    for (i, path) in paths.iter().enumerate() {
        let fast_id = ids.block();
        let otherwise = if i + 1 < paths.len() {
            ids.block()
        } else {
            send_id
        };
        let (mut insts, map) = match &check {
            None => (vec![], HashMap::new()),
            Some((_, e)) => (e.insts.clone(), e.map.clone()),
        };
        let cond = guard(path.guard, &cut, &map, &mut insts, ids);
        let args = cut.carried_args(&map);
        let branch = Terminator::Branch {
            cond,
            then: BlockCall {
                block: fast_id,
                args: args.clone(),
            },
            otherwise: BlockCall {
                block: otherwise,
                args,
            },
        };
        match check.take() {
            None => {
                b.insts.extend(insts);
                b.terminator = branch;
            }
            Some((id, e)) => blocks.push(Block::new(id, e.params, insts, branch)),
        }
        blocks.push(fast_block(path.op, fast_id, &cut, send_id, join_id, ids));
        if otherwise != send_id {
            check = Some((otherwise, cut.enter(ids)));
        }
    }
    blocks.push(cut.send_block(send_id, join_id, ids));
    blocks.push(cut.join_block(join_id, ids));
    blocks
}

/// Emits a path's guard on the operands (named by `map` in the block
/// being built) into `insts`; answers the condition.
fn guard(
    g: Guard,
    cut: &Cut,
    map: &HashMap<Value, Value>,
    insts: &mut Vec<InstData>,
    ids: &mut Ids,
) -> Value {
    if let Guard::Site(op) = g {
        return site_guard(op, cut, map, insts, ids);
    }
    if let Guard::Quick(kind) = g {
        let c = ids.value();
        let way = Inst::QuickWay {
            kind,
            object: cut.operand(0, map),
            send: cut.send_pc(),
        };
        insts.push(pure(c, way));
        return c;
    }
    let (a, x) = (cut.operand(0, map), cut.operand(1, map));
    let (test, valid) = match g {
        // A constant operand needs no tag test.
        Guard::Int(valid) => {
            let test = match (cut.is_const(cut.operands[0]), cut.is_const(cut.operands[1])) {
                (false, true) => Inst::IsInt(a),
                (true, false) => Inst::IsInt(x),
                _ => Inst::BothInt(a, x),
            };
            (test, valid)
        }
        Guard::Float(op) => (Inst::IsFloat(a), Some(op)),
        Guard::Site(_) | Guard::Quick(_) => unreachable!("handled above"),
    };
    let c = ids.value();
    insts.push(pure(c, test));
    let Some(op) = valid else {
        return c;
    };
    let (v, both) = (ids.value(), ids.value());
    insts.push(pure(v, Inst::InlineValid(op)));
    insts.push(pure(both, Inst::And(c, v)));
    both
}

/// Emits the guard of object operation `op`: the site holds the
/// receiver's class with `op`'s primitive; for `at:` and `at:put:` the
/// index is in range of a pointer object; for `size` the receiver is a
/// reference. Answers the condition.
fn site_guard(
    op: ObjectOp,
    cut: &Cut,
    map: &HashMap<Value, Value>,
    insts: &mut Vec<InstData>,
    ids: &mut Ids,
) -> Value {
    let a = cut.operand(0, map);
    let mut emit = |inst: Inst, insts: &mut Vec<InstData>| {
        let v = ids.value();
        insts.push(pure(v, inst));
        v
    };
    let class = emit(Inst::ClassOf(a), insts);
    let held = emit(
        Inst::SitePrim {
            op,
            class,
            send: cut.send_pc(),
        },
        insts,
    );
    let operands_fit = match op {
        ObjectOp::At | ObjectOp::AtPut => emit(Inst::IndexOk(a, cut.operand(1, map)), insts),
        ObjectOp::Size => {
            let small = emit(Inst::IsInt(a), insts);
            emit(Inst::Not(small), insts)
        }
        ObjectOp::Identical | ObjectOp::Class | ObjectOp::New => return held,
    };
    emit(Inst::And(held, operands_fit), insts)
}

/// The instructions of object operation `op` on `operands`: its answer.
fn object_op(op: ObjectOp, operands: &[Value], insts: &mut Vec<InstData>, ids: &mut Ids) -> Value {
    let mut emit = |inst: Inst, insts: &mut Vec<InstData>| {
        let v = ids.value();
        insts.push(pure(v, inst));
        v
    };
    let a = operands[0];
    match op {
        ObjectOp::At => emit(Inst::LoadSlot(a, operands[1]), insts),
        ObjectOp::AtPut => {
            insts.push(InstData {
                results: vec![],
                inst: Inst::StoreRef {
                    object: a,
                    index: operands[1],
                    value: operands[2],
                },
                state: None,
            });
            a
        }
        ObjectOp::Identical => {
            let same = emit(Inst::Same(a, operands[1]), insts);
            emit(Inst::BoolObj(same), insts)
        }
        ObjectOp::Class => emit(Inst::ClassOf(a), insts),
        ObjectOp::Size => emit(Inst::SizeOf(a), insts),
        ObjectOp::New => unreachable!("new: may fail: a checked path"),
    }
}

/// The instructions and the end of a quick method's fast block (whose
/// carried values `map` renames): the answer goes to `join`; a failed
/// getter or setter to `send`.
fn quick_op(
    kind: QuickKind,
    cut: &Cut,
    map: &HashMap<Value, Value>,
    insts: &mut Vec<InstData>,
    ids: &mut Ids,
    send: BlockId,
    join: BlockId,
) -> Terminator {
    let (a, pc) = (cut.operand(0, map), cut.send_pc());
    let (inst, answer, failed) = match kind {
        QuickKind::Constant => {
            let r = ids.value();
            insts.push(pure(r, Inst::QuickConstant { send: pc }));
            return split::jump(join, cut.join_args(map, r));
        }
        QuickKind::Getter => {
            let (r, failed) = (ids.value(), ids.value());
            (
                Inst::QuickGet {
                    object: a,
                    send: pc,
                },
                vec![r, failed],
                failed,
            )
        }
        QuickKind::Setter => {
            let failed = ids.value();
            let inst = Inst::QuickSet {
                object: a,
                value: cut.operand(1, map),
                send: pc,
            };
            (inst, vec![failed], failed)
        }
    };
    let r = if answer.len() == 2 { answer[0] } else { a };
    insts.push(InstData {
        results: answer,
        inst,
        state: None,
    });
    Terminator::Branch {
        cond: failed,
        then: BlockCall {
            block: send,
            args: cut.carried_args(map),
        },
        otherwise: BlockCall {
            block: join,
            args: cut.join_args(map, r),
        },
    }
}

/// The fast block `id` of operation `op`: its answer goes to `join`; a
/// failure to `send`.
fn fast_block(
    op: Op,
    id: BlockId,
    cut: &Cut,
    send: BlockId,
    join: BlockId,
    ids: &mut Ids,
) -> Block {
    let e = cut.enter(ids);
    let mut insts = e.insts;
    if let Op::Object(op) = op
        && op != ObjectOp::New
    {
        let operands: Vec<Value> = (0..cut.operands.len())
            .map(|i| cut.operand(i, &e.map))
            .collect();
        let r = object_op(op, &operands, &mut insts, ids);
        return Block::new(
            id,
            e.params,
            insts,
            split::jump(join, cut.join_args(&e.map, r)),
        );
    }
    let a = cut.operand(0, &e.map);
    let x = if cut.operands.len() > 1 {
        cut.operand(1, &e.map)
    } else {
        a
    };
    let checked = |inst: Inst, insts: &mut Vec<InstData>, ids: &mut Ids| {
        let (r, failed) = (ids.value(), ids.value());
        insts.push(InstData {
            results: vec![r, failed],
            inst,
            state: None,
        });
        Terminator::Branch {
            cond: failed,
            then: BlockCall {
                block: send,
                args: cut.carried_args(&e.map),
            },
            otherwise: BlockCall {
                block: join,
                args: cut.join_args(&e.map, r),
            },
        }
    };
    let terminator = match op {
        Op::Checked(make) => checked(make(a, x), &mut insts, ids),
        Op::Float(op) => checked(Inst::FloatOp(op, a, x), &mut insts, ids),
        Op::Object(ObjectOp::New) => checked(Inst::NewSlots(a, x), &mut insts, ids),
        Op::Quick(kind) => quick_op(kind, cut, &e.map, &mut insts, ids, send, join),
        Op::Compare(c) => {
            let (t, r) = (ids.value(), ids.value());
            insts.push(pure(t, Inst::IntCompare(c, a, x)));
            insts.push(pure(r, Inst::BoolObj(t)));
            split::jump(join, cut.join_args(&e.map, r))
        }
        Op::Total(make) => {
            let r = ids.value();
            insts.push(pure(r, make(a, x)));
            split::jump(join, cut.join_args(&e.map, r))
        }
        Op::Object(_) => unreachable!("handled above"),
    };
    Block::new(id, e.params, insts, terminator)
}
