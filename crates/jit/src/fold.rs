//! Simplification of IR within each block, in the spirit of LuaJIT's fold
//! engine: rules that look at an instruction and the ones defining its
//! operands, and replace it by something simpler.
//!
//! * `same (bool_obj c) true` is `c`; `same (bool_obj c) false` is `not c`;
//!   `not (not c)` is `c`; `branch (not c), A, B` is `branch c, B, A` (the
//!   translated `x isNil ifTrue:` then branches on the identity test).
//! * Pure instructions that read nothing mutable (`self`, `arg`, `lit`,
//!   constants) are computed once per block.
//! * Pure instructions whose results nobody uses are removed (a value in
//!   a frame state is used: the interpreter may need it).
//! * A jump that passes `bool_obj c` to a block that only compares its
//!   parameter with true or false and branches becomes a branch on `c`
//!   (jump threading: `a < b ifTrue: […]` tests the comparison itself,
//!   not the Boolean it would make).
//!
//! Loads of temporaries and instance variables are never merged: a send or
//! a store between two loads may change what they read.

use crate::ir::*;
use std::collections::{HashMap, HashSet};

/// Folds every block of `f`.
pub fn fold(f: &mut Function) {
    for b in &mut f.blocks {
        fold_block(b);
    }
    thread_jumps(f);
    remove_dead(f);
}

/// A block that only tests its parameter: `same p k` with `k` true or
/// false, then a branch on that to blocks without arguments (the block
/// still has its other predecessors, the sends of the comparison).
struct Test {
    /// Whether `k` is true.
    is_true: bool,
    then: BlockCall,
    otherwise: BlockCall,
}

/// `b` as a [`Test`], if it is one.
fn test_of(b: &Block) -> Option<Test> {
    let [p] = b.params[..] else {
        return None;
    };
    let Terminator::Branch {
        cond,
        then,
        otherwise,
    } = &b.terminator
    else {
        return None;
    };
    if !then.args.is_empty() || !otherwise.args.is_empty() {
        return None;
    }
    let mut constants: HashMap<Value, Inst> = HashMap::new();
    let mut compared = None;
    for i in &b.insts {
        match (&i.inst, &i.results[..]) {
            (Inst::True | Inst::False, [r]) => {
                constants.insert(*r, i.inst.clone());
            }
            (Inst::Same(x, k), [r]) if *x == p && r == cond => compared = Some(*k),
            _ => return None,
        }
    }
    Some(Test {
        is_true: *constants.get(&compared?)? == Inst::True,
        then: then.clone(),
        otherwise: otherwise.clone(),
    })
}

/// Jump threading (see the module doc).
fn thread_jumps(f: &mut Function) {
    let tests: HashMap<BlockId, Test> = f
        .blocks
        .iter()
        .filter_map(|b| Some((b.id, test_of(b)?)))
        .collect();
    if tests.is_empty() {
        return;
    }
    for b in &mut f.blocks {
        let Terminator::Jump(BlockCall { block, args }) = &b.terminator else {
            continue;
        };
        let (Some(test), [x]) = (tests.get(block), &args[..]) else {
            continue;
        };
        let Some(c) = b
            .insts
            .iter()
            .find_map(|i| match (&i.inst, &i.results[..]) {
                (Inst::BoolObj(c), [r]) if r == x => Some(*c),
                _ => None,
            })
        else {
            continue;
        };
        let (mut then, mut otherwise) = (test.then.clone(), test.otherwise.clone());
        // `same (bool_obj c) false` is `not c`.
        if !test.is_true {
            std::mem::swap(&mut then, &mut otherwise);
        }
        b.terminator = Terminator::Branch {
            cond: c,
            then,
            otherwise,
        };
    }
}

fn fold_block(b: &mut Block) {
    // What each value was defined as, and values replaced by others.
    let mut def: HashMap<Value, Inst> = HashMap::new();
    let mut replaced: HashMap<Value, Value> = HashMap::new();
    let mut seen: Vec<(Inst, Value)> = vec![];
    let mut out = Vec::with_capacity(b.insts.len());
    for mut data in std::mem::take(&mut b.insts) {
        rename_inst(&mut data.inst, &replaced);
        if let Some(state) = &mut data.state {
            rename_state(state, &replaced);
        }
        let inst = data.inst.clone();
        if let Some(v) = simplify(&inst, &def, &mut data) {
            replaced.insert(data.results[0], v);
            continue;
        }
        if data.inst.is_recomputable() {
            if let Some(&(_, v)) = seen.iter().find(|(i, _)| *i == data.inst) {
                replaced.insert(data.results[0], v);
                continue;
            }
            seen.push((data.inst.clone(), data.results[0]));
        }
        if let [r] = data.results[..] {
            def.insert(r, data.inst.clone());
        }
        out.push(data);
    }
    b.insts = out;
    rename_terminator(&mut b.terminator, &replaced);
    // `branch (not c), A, B` is `branch c, B, A`.
    if let Terminator::Branch {
        cond,
        then,
        otherwise,
    } = &mut b.terminator
        && let Some(Inst::Not(inner)) = def.get(cond)
    {
        *cond = *inner;
        std::mem::swap(then, otherwise);
    }
}

/// A value that `inst` equals, or a simpler instruction written into `data`.
fn simplify(inst: &Inst, def: &HashMap<Value, Inst>, data: &mut InstData) -> Option<Value> {
    match inst {
        Inst::Same(a, k) => {
            let Some(Inst::BoolObj(c)) = def.get(a) else {
                return None;
            };
            match def.get(k) {
                Some(Inst::True) => Some(*c),
                Some(Inst::False) => {
                    data.inst = Inst::Not(*c);
                    None
                }
                _ => None,
            }
        }
        Inst::Not(c) => match def.get(c) {
            Some(Inst::Not(inner)) => Some(*inner),
            _ => None,
        },
        _ => None,
    }
}

fn rename(v: &mut Value, replaced: &HashMap<Value, Value>) {
    while let Some(&r) = replaced.get(v) {
        *v = r;
    }
}

fn rename_inst(inst: &mut Inst, replaced: &HashMap<Value, Value>) {
    inst.operands_mut()
        .into_iter()
        .for_each(|v| rename(v, replaced));
}

fn rename_state(state: &mut State, replaced: &HashMap<Value, Value>) {
    state
        .values_mut()
        .into_iter()
        .for_each(|v| rename(v, replaced));
}

fn rename_terminator(t: &mut Terminator, replaced: &HashMap<Value, Value>) {
    t.values_mut().into_iter().for_each(|v| rename(v, replaced));
}

/// Removes pure instructions whose results are not used (by operands,
/// block arguments or states), until none is left.
fn remove_dead(f: &mut Function) {
    loop {
        let mut used: HashSet<Value> = HashSet::new();
        for b in &f.blocks {
            for i in &b.insts {
                used.extend(i.uses().into_iter().map(|(v, _)| v));
            }
            let t = &b.terminator;
            let uses = t.operands().into_iter().chain(t.state_uses());
            used.extend(uses.map(|(v, _)| v));
            for c in b.terminator.successors() {
                used.extend(c.args.iter().copied());
            }
        }
        let mut removed = false;
        for b in &mut f.blocks {
            b.insts.retain(|i| {
                let dead = !i.inst.has_effect() && i.results.iter().all(|r| !used.contains(r));
                removed |= dead;
                !dead
            });
        }
        if !removed {
            return;
        }
    }
}
