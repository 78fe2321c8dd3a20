//! Checks IR: block ids unique and the entry without parameters; one
//! type, obj or float, per parameter; every value defined once; every use
//! in the block that defines it (after the definition) or one of its
//! parameters; operand types right; every jump to an existing block with
//! one argument per parameter, of its type; operand indices
//! within the method's argument and temporary counts; a state on exactly
//! the instructions that may leave native code, its values usable there
//! as operands are, and all obj (a chained state's too); every constant
//! named exists, of the kind its user needs.

use crate::ir::*;
use std::collections::{HashMap, HashSet};

/// Everything wrong with a function (empty when it is well formed).
pub fn verify(f: &Function) -> Result<(), Vec<String>> {
    let mut errors = vec![];
    let mut params: HashMap<BlockId, &[Type]> = HashMap::new();
    for b in &f.blocks {
        if params.insert(b.id, &b.param_types).is_some() {
            errors.push(format!("{} is defined twice", b.id));
        }
        check_param_types(b, &mut errors);
    }
    match f.blocks.first() {
        None => errors.push("no blocks".into()),
        Some(b) if !b.params.is_empty() => errors.push(format!("entry {} has parameters", b.id)),
        _ => {}
    }
    let mut defined: HashSet<Value> = HashSet::new();
    for b in &f.blocks {
        let mut local: HashMap<Value, Type> = HashMap::new();
        let mut define =
            |v: Value, t: Type, errors: &mut Vec<String>, local: &mut HashMap<_, _>| {
                if !defined.insert(v) {
                    errors.push(format!("{}: {v} is defined twice", b.id));
                }
                local.insert(v, t);
            };
        for (p, t) in b.typed_params() {
            define(p, t, &mut errors, &mut local);
        }
        for i in &b.insts {
            check_uses(b.id, &i.inst.operands(), &local, &i.inst, &mut errors);
            check_state(b.id, i, &local, &mut errors);
            check_constants(f, b.id, i, &mut errors);
            check_indices(f, b.id, &i.inst, &mut errors);
            let types = i.inst.result_types();
            if types.len() != i.results.len() {
                errors.push(format!(
                    "{}: `{}` defines {} values, not {}",
                    b.id,
                    i.inst,
                    types.len(),
                    i.results.len()
                ));
            }
            for (&v, &t) in i.results.iter().zip(types) {
                define(v, t, &mut errors, &mut local);
            }
        }
        let t = &b.terminator;
        check_uses(b.id, &t.operands(), &local, t, &mut errors);
        check_uses(b.id, &t.state_uses(), &local, t, &mut errors);
        for call in t.successors() {
            match params.get(&call.block) {
                None => errors.push(format!("{}: jump to a missing block {}", b.id, call.block)),
                Some(types) if types.len() != call.args.len() => errors.push(format!(
                    "{}: {} takes {} arguments, given {}",
                    b.id,
                    call.block,
                    types.len(),
                    call.args.len()
                )),
                Some(types) => {
                    let args: Vec<(Value, Type)> = call
                        .args
                        .iter()
                        .copied()
                        .zip(types.iter().copied())
                        .collect();
                    check_uses(b.id, &args, &local, t, &mut errors);
                }
            }
            if Some(call.block) == f.blocks.first().map(|e| e.id) {
                errors.push(format!("{}: jump to the entry block", b.id));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// One type per parameter, each obj or float.
fn check_param_types(b: &Block, errors: &mut Vec<String>) {
    if b.param_types.len() != b.params.len() {
        errors.push(format!(
            "{} has {} parameters but {} parameter types",
            b.id,
            b.params.len(),
            b.param_types.len()
        ));
    }
    if b.param_types.contains(&Type::Bool) {
        errors.push(format!("{}: a parameter cannot be Bool", b.id));
    }
}

fn check_uses(
    block: BlockId,
    uses: &[(Value, Type)],
    local: &HashMap<Value, Type>,
    what: &dyn std::fmt::Display,
    errors: &mut Vec<String>,
) {
    for &(v, want) in uses {
        match local.get(&v) {
            None => errors.push(format!(
                "{block}: `{what}` uses {v}, which is not defined before it in this block"
            )),
            Some(&t) if t != want => errors.push(format!(
                "{block}: `{what}` needs {v} to be {want:?}, it is {t:?}"
            )),
            _ => {}
        }
    }
}

/// A state where the instruction may leave native code, none elsewhere;
/// its values defined before the instruction and obj.
fn check_state(
    block: BlockId,
    i: &InstData,
    local: &HashMap<Value, Type>,
    errors: &mut Vec<String>,
) {
    match (i.inst.has_state(), &i.state) {
        (true, None) => errors.push(format!("{block}: `{i}` has no state")),
        (false, Some(_)) => errors.push(format!("{block}: `{i}` cannot have a state")),
        _ => check_uses(block, &i.state_uses(), local, i, errors),
    }
}

/// Every constant an instruction or a chained state names exists, of the
/// kind it needs: a class for `class_is`, a method (or a block's home
/// method) for an inlined frame.
fn check_constants(f: &Function, block: BlockId, i: &InstData, errors: &mut Vec<String>) {
    let mut named: Vec<(ConstId, Option<ConstKind>)> = match i.inst {
        Inst::Const(k) => vec![(k, None)],
        Inst::ClassIs(_, k) => vec![(k, Some(ConstKind::Class))],
        _ => vec![],
    };
    if let Some(state) = &i.state {
        named.extend(
            state
                .frames()
                .into_iter()
                .map(|frame| (frame.method, Some(frame_kind(f, frame.method)))),
        );
    }
    for (k, want) in named {
        match (f.constant(k), want) {
            (None, _) => errors.push(format!("{block}: `{i}` names a missing constant {k}")),
            (Some(c), Some(want)) if c.kind != want => errors.push(format!(
                "{block}: `{i}` needs {k} to be a {}, it is a {}",
                want.name(),
                c.kind.name()
            )),
            _ => {}
        }
    }
}

/// The kind an inlined frame's constant must have: a block constant
/// names a block's activation, anything else must be a method.
fn frame_kind(f: &Function, k: ConstId) -> ConstKind {
    match f.constant(k) {
        Some(c) if c.kind == ConstKind::Block => ConstKind::Block,
        _ => ConstKind::Method,
    }
}

fn check_indices(f: &Function, block: BlockId, inst: &Inst, errors: &mut Vec<String>) {
    let bad = match inst {
        Inst::Arg(n) => *n == 0 || *n > f.arg_count,
        Inst::Temp(n) | Inst::SetTemp(n, _) => *n >= f.temp_count,
        Inst::MakeBlock { arg_location, .. } => *arg_location > f.temp_count,
        _ => false,
    };
    if let Inst::FloatOp(op, ..) = inst
        && op.def().receiver != lst_bytecode::inline_ops::Receiver::Float
    {
        errors.push(format!("{block}: `{inst}` is not a Float operation"));
    }
    if let Inst::SitePrim { send, .. }
    | Inst::QuickWay { send, .. }
    | Inst::QuickConstant { send }
    | Inst::QuickGet { send, .. }
    | Inst::QuickSet { send, .. } = inst
        && !sends_at(f, *send)
    {
        errors.push(format!("{block}: `{inst}` names no send of the function"));
    }
    if bad {
        errors.push(format!(
            "{block}: `{inst}` is out of range (args {}, temps {})",
            f.arg_count, f.temp_count
        ));
    }
}

/// Whether `f` has a send of its own (not in inlined code, whose pcs are
/// another method's) whose state's pc is `pc` (the site a `site_prim`
/// reads).
fn sends_at(f: &Function, pc: u16) -> bool {
    f.blocks.iter().flat_map(|b| &b.insts).any(|d| {
        matches!(d.inst, Inst::Send { .. })
            && d.state
                .as_ref()
                .is_some_and(|s| !s.is_chained() && s.pc == pc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser reads only Float names as Float operations; one built in
    /// code with a SmallInt row is refused.
    #[test]
    fn a_float_op_must_be_a_float_row() {
        let mut f = crate::parse::parse_function(
            "method T>>f: args 1 temps 0\nbb0:\n    v0 = self\n    v1 = arg 1\n    v2, v3 = float_add v0 v1\n    return v2\n",
        )
        .unwrap();
        assert!(verify(&f).is_ok());
        f.blocks[0].insts[2].inst = Inst::FloatOp(InlineOp::IntAdd, Value(0), Value(1));
        let errors = verify(&f).unwrap_err();
        assert!(errors[0].contains("is not a Float operation"), "{errors:?}");
    }

    /// Every parameter has one type, obj or float (bool only comes from
    /// tests, never through a block).
    #[test]
    fn parameters_have_one_type_each() {
        let mut f = crate::parse::parse_function(
            "method T>>f args 0 temps 0\nbb0:\n    v0 = self\n    jump bb1(v0)\nbb1(v1):\n    return v1\n",
        )
        .unwrap();
        assert!(verify(&f).is_ok());
        f.blocks[1].param_types.clear();
        let errors = verify(&f).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("parameter types")),
            "{errors:?}"
        );
        f.blocks[1].param_types = vec![Type::Bool];
        let errors = verify(&f).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("cannot be Bool")),
            "{errors:?}"
        );
    }
}
