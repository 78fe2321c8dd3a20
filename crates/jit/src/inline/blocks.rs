//! Literal blocks inlined where an inlined callee activates them. When
//! the function passes a block it makes (`make_block`) to a send that is
//! inlined, and the callee sends `value…` of the block's arity to that
//! argument, the send becomes the block's body:
//!
//! ```text
//!     … rest of the callee before the send …
//!     set_temp L+i argᵢ              ; the parameters, as `value…` stores them
//!     jump body(carried…)
//! body…:                           ; the block's body, renamed
//!     … its `return v` jumps to the join with v; its `^ v` returns v
//!       from the function (the block's home is the function) …
//! join(stack…, v):                  ; the rest of the callee
//! ```
//!
//! The SSA fact that the receiver is the function's `make_block` (the
//! callee's argument, which the splice named by the send's operand) is
//! the proof: no guard is needed. The body's `self`, `arg n`, `lit n`,
//! `temp n` and `ivar n` are the function's own (the home's), so they
//! stay as they are; the states of the loads and stores of temporaries
//! and instance variables are the function's own at the inlined send
//! (they leave native code only when the image is malformed, to report
//! the error, and the unit's frame holds those variables). Every other
//! state in the body is chained: its innermost inlined frame is the
//! block's activation (a [`ConstKind::Block`] constant, the Block object
//! as its receiver), its caller the callee's state at the `value…` send. The block object is still made; only the
//! activation is inlined. A body that makes a block, or has a send that
//! is not a special binary one the oracle expects its fast paths to
//! serve, is refused ([`Refusal::BlockBody`]), and with it the callee.
//!
//! This module decides which activations are inlined and rewrites the
//! IR; it must not decide how a block's frame is materialized (the VM's).

use super::{Context, Prepared, Refusal, Site, chain};
use crate::ir::*;
use crate::semantic::split::{self, Cut, Ids};
use std::collections::HashMap;

/// A literal block of the function: where its body starts and the home
/// temporary its first parameter goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Made {
    body: u16,
    arg_location: u8,
}

/// For each argument of a send in `b`, the literal block it is, if it is
/// the result of a `make_block` of `b` (values are local to their block).
pub(super) fn literal_blocks(b: &Block, args: &[Value]) -> Vec<Option<Made>> {
    args.iter()
        .map(|&a| {
            b.insts.iter().find_map(|data| match data.inst {
                Inst::MakeBlock { arg_location, body } if data.results.first() == Some(&a) => {
                    Some(Made { body, arg_location })
                }
                _ => None,
            })
        })
        .collect()
}

/// The callee's own sends (pcs) whose receiver is its argument k (1-based)
/// that is a literal block (`literal[k - 1]`), where the oracle says the
/// send activates a block; with k.
pub(super) fn activations(
    callee: &Function,
    literal: &[Option<Made>],
    site: (ConstId, u32),
    oracle: &mut dyn super::InlineOracle,
) -> HashMap<u16, usize> {
    let mut found = HashMap::new();
    if literal.iter().all(Option::is_none) {
        return found;
    }
    for b in &callee.blocks {
        let args: HashMap<Value, usize> = b
            .insts
            .iter()
            .filter_map(|data| match data.inst {
                Inst::Arg(k) => Some((data.results[0], usize::from(k))),
                _ => None,
            })
            .collect();
        for data in &b.insts {
            let (
                Inst::Send {
                    selector,
                    receiver,
                    args: send_args,
                    to_super: false,
                },
                Some(state),
            ) = (&data.inst, &data.state)
            else {
                continue;
            };
            let Some(&k) = args.get(receiver) else {
                continue;
            };
            if state.is_chained() || !matches!(literal.get(k - 1), Some(Some(_))) {
                continue;
            }
            let at = Site {
                method: Some(site.0),
                method_handle: Some(site.1),
                pc: state.pc,
                selector: *selector,
                arity: send_args.len(),
            };
            if oracle.activates_block(&at) {
                found.insert(state.pc, k);
            }
        }
    }
    found
}

/// Inlines, in the blocks `new` that splicing `callee` made, every
/// activation of a literal block the callee makes (see the module doc).
/// On a refusal `new` may be half rewritten: the caller drops it.
pub(super) fn inline_activations(
    new: &mut Vec<Block>,
    callee: &Prepared,
    literal: &[Option<Made>],
    cx: &mut Context,
    ids: &mut Ids,
) -> Result<(), Refusal> {
    if callee.activations.is_empty() {
        return Ok(());
    }
    let mut bodies: HashMap<u16, (ConstId, Function, usize)> = HashMap::new();
    while let Some((j, at, k)) = next_activation(new, callee) {
        let made = literal
            .get(k - 1)
            .copied()
            .flatten()
            .ok_or(Refusal::BlockBody)?;
        if let std::collections::hash_map::Entry::Vacant(e) = bodies.entry(made.body) {
            e.insert(literal_body(made.body, cx)?);
        }
        let (home, body, arity) = &bodies[&made.body];
        let Inst::Send { args, .. } = &new[j].insts[at].inst else {
            return Err(Refusal::Malformed);
        };
        if args.len() != *arity {
            return Err(Refusal::BlockBody);
        }
        if !split::splittable(&new[j], at) {
            return Err(Refusal::Split);
        }
        let size = super::size_of(body);
        if cx.added + size > cx.budget.total_insts {
            return Err(Refusal::Budget);
        }
        cx.added += size;
        let home = *home;
        let spliced = Activation {
            home,
            body,
            arg_location: made.arg_location,
        }
        .splice(&mut new[j], at, ids)?;
        // The body's blocks; the join, last, is the callee's again.
        let end = j + spliced.len();
        new.splice(j + 1..j + 1, spliced);
        cx.stats.blocks += 1;
        cx.stats.inlined += 1;
        inline_body_sends(new, j + 1..end, home, cx, ids)?;
    }
    Ok(())
}

/// Inlines the sends of an inlined block body (`new[body]`, the
/// activation of `home`'s block) as the function's own sends would be
/// (their sites are the function's: the body is its code), one level
/// below the callee. A send left there must be a special binary one the
/// oracle expects its fast paths to serve, else the body is refused.
fn inline_body_sends(
    new: &mut Vec<Block>,
    body: std::ops::Range<usize>,
    home: ConstId,
    cx: &mut Context,
    ids: &mut Ids,
) -> Result<(), Refusal> {
    let (mut i, mut end) = (body.start, body.end);
    let mut considered = std::collections::HashSet::new();
    while i < end {
        let Some((at, site)) = next_body_send(&new[i], home, &considered) else {
            i += 1;
            continue;
        };
        considered.insert(site.pc);
        let inst = &new[i].insts[at].inst;
        if super::is_special_binary(inst) && cx.oracle.fast_special(&site) {
            continue;
        }
        let mut f = Function {
            name: String::new(),
            kind: Kind::Method,
            arg_count: 0,
            temp_count: 0,
            blocks: std::mem::take(new),
            constants: vec![],
        };
        let result = super::try_inline(&mut f, i, at, None, 1, cx, ids);
        *new = f.blocks;
        let added = result.map_err(|why| {
            cx.stats.refused.push((site.pc, why));
            Refusal::BlockBody
        })?;
        end += added.len();
        new.splice(i + 1..i + 1, added);
        cx.stats.inlined += 1;
    }
    Ok(())
}

/// The first send of `b` in the block body itself (its state's innermost
/// frame is `home`'s block activation, the callee's around it) not yet
/// considered, with its site: the function's own send at that pc.
fn next_body_send(
    b: &Block,
    home: ConstId,
    considered: &std::collections::HashSet<u16>,
) -> Option<(usize, Site)> {
    b.insts.iter().enumerate().find_map(|(at, data)| {
        let Inst::Send {
            selector,
            args,
            to_super: false,
            ..
        } = &data.inst
        else {
            return None;
        };
        let state = data.state.as_ref()?;
        let frames = state.frames();
        let in_body = frames.len() == 2 && frames[0].method == home;
        (in_body && !considered.contains(&state.pc)).then(|| {
            let site = Site {
                method: None,
                method_handle: None,
                pc: state.pc,
                selector: *selector,
                arity: args.len(),
            };
            (at, site)
        })
    })
}

/// The body of the function's literal block at `body`, if it may be
/// inlined: its home's constant, its IR and its arity.
fn literal_body(body: u16, cx: &mut Context) -> Result<(ConstId, Function, usize), Refusal> {
    let block = cx.oracle.literal_block(body).ok_or(Refusal::BlockBody)?;
    if block.home.kind != ConstKind::Block || block.body.kind == Kind::Method {
        return Err(Refusal::BlockBody);
    }
    check_body(&block.body)?;
    let returns = block
        .body
        .blocks
        .iter()
        .any(|b| matches!(b.terminator, Terminator::BlockReturn(_)));
    if returns && !cx.root_is_method {
        // `^` returns from the home, which is not the function.
        return Err(Refusal::BlockBody);
    }
    Ok((cx.add(block.home), block.body, block.arity))
}

/// The first activation left in `new`: its block, its index there and
/// the callee's argument that is the block. An activation is a send of
/// the callee's own (its state's innermost frame is the callee's, with
/// nothing inlined around it but the callee) at one of its pcs.
fn next_activation(new: &[Block], callee: &Prepared) -> Option<(usize, usize, usize)> {
    new.iter().enumerate().find_map(|(j, b)| {
        b.insts.iter().enumerate().find_map(|(at, data)| {
            let Inst::Send { .. } = data.inst else {
                return None;
            };
            let state = data.state.as_ref()?;
            let frames = state.frames();
            let [frame] = frames[..] else {
                return None;
            };
            if frame.method != callee.method {
                return None;
            }
            let k = *callee.activations.get(&state.pc)?;
            Some((j, at, k))
        })
    })
}

/// What a block body may hold to be inlined: no block of its own, no
/// primitive, no send to super (its other sends are inlined or checked
/// once it is spliced, see [`inline_body_sends`]).
fn check_body(body: &Function) -> Result<(), Refusal> {
    for b in &body.blocks {
        for data in &b.insts {
            if let Inst::MakeBlock { .. } | Inst::Send { to_super: true, .. } = data.inst {
                return Err(Refusal::BlockBody);
            }
        }
        if let Terminator::Primitive { .. } = b.terminator {
            return Err(Refusal::BlockBody);
        }
    }
    Ok(())
}

/// Whether `inst` reads or writes a variable of the block's home (the
/// unit's activation): its temporaries and its receiver's instance
/// variables.
fn is_home_access(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::Temp(_) | Inst::SetTemp(..) | Inst::Ivar(_) | Inst::SetIvar(..)
    )
}

/// One activation to inline: the block's home constant, its body and
/// where its parameters go.
struct Activation<'a> {
    home: ConstId,
    body: &'a Function,
    arg_location: u8,
}

impl Activation<'_> {
    /// Cuts `b` at the activation `at`, jumps into the body and answers
    /// the body's blocks and the join.
    fn splice(&self, b: &mut Block, at: usize, ids: &mut Ids) -> Result<Vec<Block>, Refusal> {
        let cut = Cut::new(b, at);
        let join = ids.block();
        let blocks: HashMap<BlockId, BlockId> = self
            .body
            .blocks
            .iter()
            .map(|cb| (cb.id, ids.block()))
            .collect();
        let entry = self.body.blocks.first().ok_or(Refusal::Malformed)?.id;
        let none = HashMap::new();
        b.terminator = split::jump(blocks[&entry], cut.carried_args(&none));
        let mut new = vec![];
        for (i, cb) in self.body.blocks.iter().enumerate() {
            new.push(self.block(cb, i == 0, &cut, &blocks, join, ids)?);
        }
        new.push(cut.join_block(join, ids));
        Ok(new)
    }

    /// The body's block `cb`, on the cut's carried values and its own
    /// parameters; at the `entry`, the parameters' stores.
    fn block(
        &self,
        cb: &Block,
        entry: bool,
        cut: &Cut,
        blocks: &HashMap<BlockId, BlockId>,
        join: BlockId,
        ids: &mut Ids,
    ) -> Result<Block, Refusal> {
        let e = cut.enter(ids);
        let (mut params, mut insts) = (e.params, e.insts);
        let mut caller = cut.send_state().clone();
        for v in caller.values_mut() {
            *v = split::renamed(*v, &e.map);
        }
        let frame = InlinedFrame {
            method: self.home,
            receiver: cut.operand(0, &e.map),
            args: vec![],
            temps: vec![],
            caller,
        };
        let mut values: HashMap<Value, Value> = HashMap::new();
        for &p in &cb.params {
            let q = ids.value();
            params.push(q);
            values.insert(p, q);
        }
        for data in &cb.insts {
            if entry && data.inst == Inst::Safepoint {
                // The block's entry: `value…` stores the parameters into
                // the home's temporaries (the send ticked already).
                for i in 1..cut.operands.len() {
                    let temp = u8::try_from(usize::from(self.arg_location) + i - 1)
                        .map_err(|_| Refusal::Malformed)?;
                    insts.push(InstData {
                        results: vec![],
                        inst: Inst::SetTemp(temp, cut.operand(i, &e.map)),
                        state: Some(frame.caller.root().clone()),
                    });
                }
                continue;
            }
            let mut data = data.clone();
            for v in data.inst.operands_mut() {
                *v = split::renamed(*v, &values);
            }
            for r in &mut data.results {
                let new = ids.value();
                values.insert(*r, new);
                *r = new;
            }
            if is_home_access(&data.inst) {
                // The unit's own frame holds the home's variables.
                data.state = Some(frame.caller.root().clone());
            } else if let Some(state) = &mut data.state {
                for v in state.values_mut() {
                    *v = split::renamed(*v, &values);
                }
                chain(state, frame.clone());
            }
            insts.push(data);
        }
        let call = |c: &BlockCall| {
            let mut args = cut.carried_args(&e.map);
            args.extend(c.args.iter().map(|&v| split::renamed(v, &values)));
            BlockCall {
                block: blocks[&c.block],
                args,
            }
        };
        let terminator = match &cb.terminator {
            Terminator::Jump(c) => Terminator::Jump(call(c)),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => Terminator::Branch {
                cond: split::renamed(*cond, &values),
                then: call(then),
                otherwise: call(otherwise),
            },
            // The block's value: the `value…` send's answer.
            Terminator::Return(v) => {
                split::jump(join, cut.join_args(&e.map, split::renamed(*v, &values)))
            }
            // `^ v`: the home, the function itself, returns v.
            Terminator::BlockReturn(v) => Terminator::Return(split::renamed(*v, &values)),
            Terminator::Primitive { .. } => return Err(Refusal::BlockBody),
        };
        Ok(Block::new(blocks[&cb.id], params, insts, terminator))
    }
}
