//! Deopt stress (`lst --jit-deopt-stress N`): the unit's speculative
//! guards also fail whenever the VM's stress countdown runs out, so that
//! the paths a real failure takes (the slow send of an inlined send, the
//! slow path of an unboxed region, the exit that materializes inlined
//! frames) run often, and a differential test can compare their results
//! with the interpreter's.
//!
//! A guard is a branch whose failing side is the general code that would
//! run without the optimization (so taking it is always correct): the
//! pass rewrites its condition `c` as
//!
//! ```text
//!     t = stress_tick
//!     n = not t
//!     c' = and c n
//!     branch c', fast…, slow…
//! ```
//!
//! and a guard that branches to its slow side on a failure flag
//! (`branch failed, slow, fast`, as fold leaves `branch (not failed) …`)
//! as `branch (and (not failed) n), fast…, slow…`. The guards are
//! recognized by the instructions their condition is made of, in the
//! branching block ([`guard`]):
//!
//! * speculation, always stressed: the class guard and validity word of
//!   an inlined send (`class_is`, `unit_valid`), and an unboxed region's
//!   guards (the failure flags of `unbox_float`, `unbox_number` and
//!   `box_float`, and its SmallInt filter `branch is_int r, slow, guard`);
//! * the semantic lowering's fast paths (`both_int`, `is_int`,
//!   `is_float`, `inline_valid`, `site_prim`, `index_ok`, `quick_way`,
//!   and the failure flags of the SmallInt, Float, `new:` and quick
//!   operations), stressed only where their failure leaves through the
//!   exit of an inlined body (the fallback send has a chained state): in
//!   the unit's own code they are no speculation, their fallback is an
//!   ordinary send.
//!
//! Run it last, after fold: each `stress_tick` must stay where the pass
//! puts it. Without the flag the pass does not run, and the code is
//! what it would be without this module. This module decides which
//! branches are guards; the countdown is the VM's and each back end
//! selects `stress_tick`.

use crate::ir::*;
use crate::semantic::split::{Ids, pure};
use std::collections::HashMap;

/// Adds a stress tick to every guard of `f` (see the module doc);
/// answers how many guards it stressed.
pub fn stress_guards(f: &mut Function) -> usize {
    let index: HashMap<BlockId, usize> = f
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id, i))
        .collect();
    let stressed: Vec<(usize, Fails)> = f
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let (kind, fails) = guard(f, &index, b)?;
            let wanted = match kind {
                Kind::Speculation => true,
                Kind::FastPath => leads_to_exit(f, &index, fails.target(b)?, EXIT_DEPTH),
            };
            wanted.then_some((i, fails))
        })
        .collect();
    let mut ids = Ids::of(f);
    for &(i, fails) in &stressed {
        add_tick(&mut f.blocks[i], fails, &mut ids);
    }
    stressed.len()
}

/// How many guards a fast path's failure may pass through before its
/// fallback send (the SmallInt guard fails into the Float guard, which
/// fails into the send).
const EXIT_DEPTH: usize = 3;

/// What a guard stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A guess from type feedback or the unit's assumptions.
    Speculation,
    /// A fast path of the semantic lowering.
    FastPath,
}

/// Which side of a guard's branch is the failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fails {
    /// `branch ok, fast, slow`.
    Otherwise,
    /// `branch failed, slow, fast`.
    Then,
}

impl Fails {
    /// The failing side of `b`'s branch.
    fn target(self, b: &Block) -> Option<BlockId> {
        let Terminator::Branch {
            then, otherwise, ..
        } = &b.terminator
        else {
            return None;
        };
        Some(match self {
            Fails::Otherwise => otherwise.block,
            Fails::Then => then.block,
        })
    }
}

/// What a value defined in a block tells of a guard built on it.
fn test_kind(inst: &Inst) -> Option<Kind> {
    use Inst::*;
    match inst {
        ClassIs(..) | UnitValid => Some(Kind::Speculation),
        IsInt(_)
        | BothInt(..)
        | IsFloat(_)
        | InlineValid(_)
        | SitePrim { .. }
        | IndexOk(..)
        | QuickWay { .. } => Some(Kind::FastPath),
        _ => None,
    }
}

/// What a failure flag (a `failed` result) of `inst` stands for.
fn flag_kind(inst: &Inst) -> Option<Kind> {
    use Inst::*;
    match inst {
        UnboxFloat(_) | UnboxNumber(_) | BoxFloat(_) => Some(Kind::Speculation),
        QuickSet { .. } => Some(Kind::FastPath),
        fast if fast.is_fallible_fast_path() => Some(Kind::FastPath),
        _ => None,
    }
}

/// The instruction defining each value of `b`, with the result's index.
fn definitions(b: &Block) -> HashMap<Value, (&Inst, usize)> {
    b.insts
        .iter()
        .flat_map(|d| {
            d.results
                .iter()
                .enumerate()
                .map(move |(k, &r)| (r, (&d.inst, k)))
        })
        .collect()
}

/// The kind of failure flag `v` is, if it is one: the last result of an
/// operation that may fail.
fn flag_of(defs: &HashMap<Value, (&Inst, usize)>, v: Value) -> Option<Kind> {
    let &(inst, k) = defs.get(&v)?;
    let types = inst.result_types();
    (k + 1 == types.len() && types[k] == Type::Bool)
        .then(|| flag_kind(inst))
        .flatten()
}

/// Whether `b` ends in a guard, of which kind, and which side fails.
fn guard(f: &Function, index: &HashMap<BlockId, usize>, b: &Block) -> Option<(Kind, Fails)> {
    let Terminator::Branch {
        cond, otherwise, ..
    } = &b.terminator
    else {
        return None;
    };
    let defs = definitions(b);
    if let Some(kind) = flag_of(&defs, *cond) {
        return Some((kind, Fails::Then));
    }
    if let Some((Inst::IsInt(_), _)) = defs.get(cond)
        && index
            .get(&otherwise.block)
            .is_some_and(|&i| unboxes(&f.blocks[i]))
    {
        // An unboxed region's SmallInt filter: SmallInts take the slow
        // path (`then`), anything else the region's own guard.
        return Some((Kind::Speculation, Fails::Then));
    }
    let mut kinds = vec![];
    let mut conjuncts = vec![*cond];
    while let Some(c) = conjuncts.pop() {
        match defs.get(&c) {
            Some((Inst::And(a, d), _)) => conjuncts.extend([*a, *d]),
            Some((Inst::Not(e), _)) => kinds.extend(flag_of(&defs, *e)),
            Some((inst, _)) => kinds.extend(test_kind(inst)),
            None => {}
        }
    }
    if kinds.contains(&Kind::Speculation) {
        Some((Kind::Speculation, Fails::Otherwise))
    } else if kinds.contains(&Kind::FastPath) {
        Some((Kind::FastPath, Fails::Otherwise))
    } else {
        None
    }
}

/// Whether `b` unboxes a value (an unboxed region's guard block).
fn unboxes(b: &Block) -> bool {
    b.insts
        .iter()
        .any(|d| matches!(d.inst, Inst::UnboxFloat(_) | Inst::UnboxNumber(_)))
}

/// Whether block `id` leaves through an inlined body's exit: it holds a
/// send with a chained state, or fails (as a fast-path guard) into a
/// block that does, at most `depth` guards further.
fn leads_to_exit(f: &Function, index: &HashMap<BlockId, usize>, id: BlockId, depth: usize) -> bool {
    let Some(b) = index.get(&id).map(|&i| &f.blocks[i]) else {
        return false;
    };
    let exits = b.insts.iter().any(|d| {
        matches!(d.inst, Inst::Send { .. }) && d.state.as_ref().is_some_and(State::is_chained)
    });
    if exits || depth == 0 {
        return exits;
    }
    match guard(f, index, b) {
        Some((Kind::FastPath, fails)) => fails
            .target(b)
            .is_some_and(|next| leads_to_exit(f, index, next, depth - 1)),
        _ => false,
    }
}

/// Makes `b`'s guard fail when the countdown runs out as well.
fn add_tick(b: &mut Block, fails: Fails, ids: &mut Ids) {
    let Terminator::Branch {
        cond,
        then,
        otherwise,
    } = &mut b.terminator
    else {
        return;
    };
    let (tick, spared) = (ids.value(), ids.value());
    b.insts.push(InstData {
        results: vec![tick],
        inst: Inst::StressTick,
        state: None,
    });
    b.insts.push(pure(spared, Inst::Not(tick)));
    let ok = match fails {
        Fails::Otherwise => *cond,
        Fails::Then => {
            std::mem::swap(then, otherwise);
            let ok = ids.value();
            b.insts.push(pure(ok, Inst::Not(*cond)));
            ok
        }
    };
    let stressed = ids.value();
    b.insts.push(pure(stressed, Inst::And(ok, spared)));
    *cond = stressed;
}

#[cfg(test)]
mod tests {
    use super::stress_guards;
    use crate::ir::{Function, Inst, Terminator};
    use crate::parse::parse_function;
    use crate::verify::verify;

    /// `text` parsed, stressed and verified; the number of guards
    /// stressed and the function.
    fn stressed(text: &str) -> (usize, Function) {
        let mut f = parse_function(text).unwrap_or_else(|e| panic!("{e:?}"));
        verify(&f).unwrap_or_else(|e| panic!("{e:?}\n{f}"));
        let n = stress_guards(&mut f);
        verify(&f).unwrap_or_else(|e| panic!("{e:?}\n{f}"));
        (n, f)
    }

    /// The block `id`'s branch: (its condition's defining instruction,
    /// then, otherwise).
    fn branch(f: &Function, id: u32) -> (Inst, u32, u32) {
        let b = &f.blocks.iter().find(|b| b.id.0 == id).expect("the block");
        let Terminator::Branch {
            cond,
            then,
            otherwise,
        } = &b.terminator
        else {
            panic!("bb{id} does not branch");
        };
        let def = b
            .insts
            .iter()
            .find(|d| d.results.contains(cond))
            .map_or(Inst::Nil, |d| d.inst.clone());
        (def, then.block.0, otherwise.block.0)
    }

    fn ticks(f: &Function) -> usize {
        f.blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|d| d.inst == Inst::StressTick)
            .count()
    }

    /// An inlined send whose body keeps a special send: the class guard,
    /// and the body's SmallInt guard and overflow test (their fallback is
    /// the chained send), tick; the unit's own SmallInt fast path and its
    /// own comparison do not.
    const INLINED: &str = "method Test>>run: args 1 temps 0
const k0 = class Test #1
const k1 = method Test>>sum #101
bb0:
    v0 = arg 1
    v1 = class_is v0 k0
    v2 = unit_valid
    v3 = and v1 v2
    branch v3, bb1, bb4
bb1:
    v4 = arg 1
    v5 = int 1
    v6 = load_slot v4 v5
    v7 = both_int v6 v6
    branch v7, bb2(v6), bb3(v6)
bb2(v20):
    v8, v9 = int_add v20 v20
    branch v9, bb3(v20), bb5(v8)
bb3(v21):
    v10 = arg 1
    v11 = send special:+ v21 v21 @3 [] in k1(self v10 args [] temps []) from @3 []
    jump bb5(v11)
bb4:
    v12 = arg 1
    v13 = send lit0 v12 @3 []
    jump bb5(v13)
bb5(v14):
    v15 = both_int v14 v14
    branch v15, bb6(v14), bb7(v14)
bb6(v22):
    v16 = int_lt v22 v22
    branch v16, bb8(v22), bb8(v22)
bb7(v23):
    v17 = send special:< v23 v23 @5 []
    return v17
bb8(v24):
    return v24
";

    #[test]
    fn speculative_guards_and_fast_paths_that_exit_inlined_code_tick() {
        let (n, f) = stressed(INLINED);
        assert_eq!(n, 3, "{f}");
        assert_eq!(ticks(&f), 3, "{f}");
        // The class guard: `and (and k u) (not tick)`, same targets.
        assert!(matches!(branch(&f, 0), (Inst::And(..), 1, 4)), "{f}");
        assert!(matches!(branch(&f, 1), (Inst::And(..), 2, 3)), "{f}");
        // `branch failed, send, join` becomes `branch (and (not failed)
        // (not tick)), join, send`.
        assert!(matches!(branch(&f, 2), (Inst::And(..), 5, 3)), "{f}");
        // The unit's own fast path and comparison are left alone.
        assert!(matches!(branch(&f, 5), (Inst::BothInt(..), 6, 7)), "{f}");
        assert!(matches!(branch(&f, 6), (Inst::IntCompare(..), 8, 8)), "{f}");
    }

    /// An unboxed region: its SmallInt filter (to the slow path when the
    /// receiver is a SmallInt), its guard and its box tick; the filter's
    /// and the box's branches are turned round to fail on `otherwise`.
    const REGION: &str = "method Test>>f args 0 temps 0
bb0:
    v0 = self
    v1 = is_int v0
    branch v1, bb3, bb1
bb1:
    v20 = self
    v2, v3 = unbox_float v20
    v4 = not v3
    v5 = inline_valid float_mul
    v6 = and v4 v5
    branch v6, bb2(v2), bb3
bb2(v7: float):
    v8 = f64_mul v7 v7
    v9, v10 = box_float v8
    branch v10, bb3, bb4(v9)
bb3:
    v11 = self
    v12 = send special:* v11 v11 @2 []
    jump bb4(v12)
bb4(v13):
    return v13
";

    #[test]
    fn an_unboxed_regions_guards_tick() {
        let (n, f) = stressed(REGION);
        assert_eq!(n, 3, "{f}");
        assert!(matches!(branch(&f, 0), (Inst::And(..), 1, 3)), "{f}");
        assert!(matches!(branch(&f, 1), (Inst::And(..), 2, 3)), "{f}");
        assert!(matches!(branch(&f, 2), (Inst::And(..), 4, 3)), "{f}");
    }

    #[test]
    fn a_function_without_guards_is_unchanged() {
        let text = "method Test>>g args 1 temps 0
bb0:
    v0 = arg 1
    v1 = send lit0 v0 @3 []
    return v1
";
        let before = parse_function(text).unwrap_or_else(|e| panic!("{e:?}"));
        let (n, f) = stressed(text);
        assert_eq!((n, f), (0, before));
    }
}
