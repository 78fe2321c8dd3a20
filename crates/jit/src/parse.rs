//! Text → IR, the inverse of [`crate::print`], for tests that feed IR in
//! (filetests) and for checking that printing loses nothing. Errors name
//! the line.

use crate::ir::*;
use lst_bytecode::inline_ops::Receiver;

/// A parse error with its 1-based line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A block being read: its id, typed parameters and instructions so far.
type OpenBlock = (BlockId, Vec<(Value, Type)>, Vec<InstData>);

/// Parses one function.
pub fn parse_function(text: &str) -> Result<Function, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split(';').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty());
    let (n, header) = lines.next().ok_or(ParseError {
        line: 1,
        message: "empty input".into(),
    })?;
    let mut f = parse_header(header).map_err(|m| ParseError {
        line: n,
        message: m,
    })?;
    let mut current: Option<OpenBlock> = None;
    for (n, line) in lines {
        let err = |m: String| ParseError {
            line: n,
            message: m,
        };
        if let Some(def) = line.strip_prefix("const ") {
            if current.is_some() || !f.blocks.is_empty() {
                return Err(err("constants come before the blocks".into()));
            }
            let c = parse_constant(def, f.constants.len()).map_err(err)?;
            f.constants.push(c);
            continue;
        }
        if let Some(head) = line.strip_suffix(':') {
            if current.is_some() {
                return Err(err("the previous block has no terminator".into()));
            }
            let (id, params) = parse_block_params(head).map_err(err)?;
            current = Some((id, params, vec![]));
            continue;
        }
        let Some((id, params, insts)) = current.as_mut() else {
            return Err(err("an instruction outside a block".into()));
        };
        let (line, state) = split_state(line).map_err(err)?;
        match parse_terminator(line, state.clone()).map_err(err)? {
            Some(t) => {
                let (params, param_types) = std::mem::take(params).into_iter().unzip();
                f.blocks.push(Block {
                    id: *id,
                    params,
                    param_types,
                    insts: std::mem::take(insts),
                    terminator: t,
                });
                current = None;
            }
            None => insts.push(parse_inst(line, state).map_err(err)?),
        }
    }
    if current.is_some() {
        return Err(ParseError {
            line: text.lines().count(),
            message: "the last block has no terminator".into(),
        });
    }
    Ok(f)
}

fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect()
}

fn number<T: std::str::FromStr>(w: Option<&&str>, what: &str) -> Result<T, String> {
    w.and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("expected {what}, found {:?}", w.copied().unwrap_or("")))
}

fn parse_header(line: &str) -> Result<Function, String> {
    // Names may hold commas (`Array>>,`): split on whitespace only.
    let w: Vec<&str> = line.split_whitespace().collect();
    let (kind, rest) = match w.as_slice() {
        ["method", _, rest @ ..] => (Kind::Method, rest),
        ["block", _, "at", start, rest @ ..] => (
            Kind::BlockBody {
                start: start
                    .parse()
                    .map_err(|_| format!("bad block start {start}"))?,
            },
            rest,
        ),
        _ => {
            return Err(
                "expected `method NAME args N temps N` or `block NAME at PC args N temps N`".into(),
            );
        }
    };
    let ["args", a, "temps", t] = rest else {
        return Err("expected `args N temps N` after the name".into());
    };
    Ok(Function {
        name: w[1].to_string(),
        kind,
        arg_count: number(Some(a), "an argument count")?,
        temp_count: number(Some(t), "a temporary count")?,
        blocks: vec![],
        constants: vec![],
    })
}

/// A constant's line after `const `: `kN = KIND NAME #HANDLE`, the
/// `N`th constant.
fn parse_constant(def: &str, n: usize) -> Result<Constant, String> {
    let (id, rest) = def
        .split_once('=')
        .ok_or("expected `const kN = KIND NAME #HANDLE`")?;
    if const_id(id.trim())? != ConstId(n as u32) {
        return Err(format!("expected the constant k{n}, found {:?}", id.trim()));
    }
    let (kind, rest) = rest
        .trim()
        .split_once(' ')
        .ok_or("expected a kind and a name")?;
    let kind = ConstKind::of_name(kind).ok_or_else(|| format!("unknown constant kind {kind:?}"))?;
    let (name, handle) = rest
        .rsplit_once(" #")
        .ok_or("expected ` #HANDLE` after the constant's name")?;
    Ok(Constant {
        kind,
        name: name.trim().to_string(),
        handle: number(Some(&handle.trim()), "a handle")?,
    })
}

fn const_id(w: &str) -> Result<ConstId, String> {
    w.strip_prefix('k')
        .and_then(|n| n.parse().ok())
        .map(ConstId)
        .ok_or_else(|| format!("expected a constant (kN), found {w:?}"))
}

fn value(w: &str) -> Result<Value, String> {
    w.strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .map(Value)
        .ok_or_else(|| format!("expected a value (vN), found {w:?}"))
}

fn block_id(w: &str) -> Result<BlockId, String> {
    w.strip_prefix("bb")
        .and_then(|n| n.parse().ok())
        .map(BlockId)
        .ok_or_else(|| format!("expected a block (bbN), found {w:?}"))
}

/// A block call `bb3(v1, v2)` or `bb3`.
fn block_call(s: &str) -> Result<(BlockId, Vec<Value>), String> {
    let s = s.trim();
    match s.split_once('(') {
        None => Ok((block_id(s)?, vec![])),
        Some((id, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("missing `)` in {s:?}"))?;
            let params = words(inner)
                .into_iter()
                .map(value)
                .collect::<Result<_, _>>()?;
            Ok((block_id(id.trim())?, params))
        }
    }
}

/// A block's head `bb3(v1, v2: float)` or `bb3`: its id and typed
/// parameters (obj unless `: float` says otherwise).
fn parse_block_params(s: &str) -> Result<(BlockId, Vec<(Value, Type)>), String> {
    let s = s.trim();
    let Some((id, rest)) = s.split_once('(') else {
        return Ok((block_id(s)?, vec![]));
    };
    let inner = rest
        .strip_suffix(')')
        .ok_or_else(|| format!("missing `)` in {s:?}"))?;
    let params = inner
        .split(',')
        .map(|p| match p.split_once(':') {
            None => Ok((value(p.trim())?, Type::Obj)),
            Some((v, t)) => Ok((value(v.trim())?, param_type(t.trim())?)),
        })
        .collect::<Result<_, String>>()?;
    Ok((block_id(id.trim())?, params))
}

/// A parameter's type by name (`obj`, `float`; a bool cannot be one).
fn param_type(name: &str) -> Result<Type, String> {
    [Type::Obj, Type::Float]
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| format!("a block parameter cannot be of type {name:?}"))
}

/// Splits `bb1(v1, v2), bb2(v3)` into block calls.
fn block_calls(s: &str) -> Result<Vec<BlockCall>, String> {
    let mut calls = vec![];
    let mut rest = s.trim();
    while !rest.is_empty() {
        let end = match (rest.find('('), rest.find(',')) {
            (Some(p), Some(c)) if p < c => rest.find(')').map(|i| i + 1),
            (Some(_), None) => rest.find(')').map(|i| i + 1),
            (_, Some(c)) => Some(c),
            (None, None) => Some(rest.len()),
        }
        .ok_or_else(|| format!("missing `)` in {rest:?}"))?;
        let (id, args) = block_call(&rest[..end])?;
        calls.push(BlockCall { block: id, args });
        rest = rest[end..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Ok(calls)
}

/// Splits a line into its instruction and its state suffix `@PC [v1 v2]`
/// (chained: `… in kN(self v args [..] temps [..]) from @PC [..]`).
fn split_state(line: &str) -> Result<(&str, Option<State>), String> {
    let Some((inst, state)) = line.split_once('@') else {
        return Ok((line, None));
    };
    let (state, rest) = parse_state(state)?;
    if !rest.trim().is_empty() {
        return Err(format!("unexpected {:?} after a state", rest.trim()));
    }
    Ok((inst.trim_end(), Some(state)))
}

/// A state after its `@`, and the text after it.
fn parse_state(text: &str) -> Result<(State, &str), String> {
    let (pc, rest) = text
        .split_once('[')
        .ok_or("expected `@PC [values]` for a state")?;
    let (stack, rest) = rest
        .split_once(']')
        .ok_or("expected `]` after a state's values")?;
    let mut state = State::new(
        number(Some(&pc.trim()), "a bytecode offset")?,
        values_of(stack)?,
    );
    let rest = rest.trim_start();
    let Some(frame) = rest.strip_prefix("in ") else {
        return Ok((state, rest));
    };
    let (method, frame) = frame
        .split_once('(')
        .ok_or("expected `in kN(self v args [..] temps [..])`")?;
    let (receiver, frame) = frame
        .trim_start()
        .strip_prefix("self ")
        .and_then(|f| f.trim_start().split_once(' '))
        .ok_or("expected `self vN` in an inlined frame")?;
    let (args, frame) = bracketed_after("args", frame)?;
    let (temps, frame) = bracketed_after("temps", frame)?;
    let caller = frame
        .trim_start()
        .strip_prefix(')')
        .map(str::trim_start)
        .and_then(|f| f.strip_prefix("from"))
        .map(str::trim_start)
        .and_then(|f| f.strip_prefix('@'))
        .ok_or("expected `) from @PC [..]` after an inlined frame")?;
    let (caller, rest) = parse_state(caller)?;
    state.inlined = Some(Box::new(InlinedFrame {
        method: const_id(method.trim())?,
        receiver: value(receiver.trim())?,
        args,
        temps,
        caller,
    }));
    Ok((state, rest))
}

/// `KEY [v1 v2]` at the start of `text`: the values and the text after.
fn bracketed_after<'a>(key: &str, text: &'a str) -> Result<(Vec<Value>, &'a str), String> {
    let (inner, rest) = text
        .trim_start()
        .strip_prefix(key)
        .map(str::trim_start)
        .and_then(|t| t.strip_prefix('['))
        .and_then(|t| t.split_once(']'))
        .ok_or_else(|| format!("expected `{key} [values]` in an inlined frame"))?;
    Ok((values_of(inner)?, rest))
}

fn values_of(text: &str) -> Result<Vec<Value>, String> {
    words(text).into_iter().map(value).collect()
}

/// A terminator (`None` if the line is an instruction); a primitive has a
/// state, no other terminator does.
fn parse_terminator(line: &str, state: Option<State>) -> Result<Option<Terminator>, String> {
    let (op, rest) = line.split_once(' ').unwrap_or((line, ""));
    let is_terminator = matches!(
        op,
        "jump" | "branch" | "return" | "block_return" | "primitive"
    );
    if is_terminator && op != "primitive" && state.is_some() {
        return Err(format!("`{op}` takes no state"));
    }
    Ok(Some(match op {
        "jump" => {
            let [c] = <[BlockCall; 1]>::try_from(block_calls(rest)?)
                .map_err(|_| "jump takes one block".to_string())?;
            Terminator::Jump(c)
        }
        "branch" => {
            let (cond, calls) = rest
                .split_once(',')
                .ok_or("expected `branch vC, bbT, bbF`")?;
            let [then, otherwise] = <[BlockCall; 2]>::try_from(block_calls(calls)?)
                .map_err(|_| "branch takes two blocks".to_string())?;
            Terminator::Branch {
                cond: value(cond.trim())?,
                then,
                otherwise,
            }
        }
        "return" => Terminator::Return(value(rest.trim())?),
        "block_return" => Terminator::BlockReturn(value(rest.trim())?),
        "primitive" => {
            let (n, rest) = rest
                .split_once('(')
                .ok_or("expected `primitive N (args) else bbF`")?;
            let (args, fail) = rest
                .split_once(')')
                .ok_or("expected `)` after the primitive's arguments")?;
            let fail = fail
                .trim()
                .strip_prefix("else")
                .ok_or("expected `else bbF` after the primitive")?;
            let [fail] = <[BlockCall; 1]>::try_from(block_calls(fail)?)
                .map_err(|_| "a primitive has one failure block".to_string())?;
            Terminator::Primitive {
                number: number(Some(&n.trim()), "a primitive number")?,
                args: words(args)
                    .into_iter()
                    .map(value)
                    .collect::<Result<_, _>>()?,
                fail,
                state: state.ok_or("a primitive needs a state `@PC [values]`")?,
            }
        }
        _ => return Ok(None),
    }))
}

fn parse_inst(line: &str, state: Option<State>) -> Result<InstData, String> {
    let (results, body) = match line.split_once(" = ") {
        Some((r, b)) => (
            words(r)
                .into_iter()
                .map(value)
                .collect::<Result<Vec<_>, _>>()?,
            b,
        ),
        None => (vec![], line),
    };
    let w = words(body);
    let v = |i: usize| value(w.get(i).copied().unwrap_or(""));
    let n = |i: usize| number::<u8>(w.get(i), "a number");
    use Inst::*;
    let inst = match w.as_slice() {
        ["self"] => SelfRef,
        ["arg", _] => Arg(n(1)?),
        ["temp", _] => Temp(n(1)?),
        ["temp", _, ":=", _] => SetTemp(n(1)?, v(3)?),
        ["ivar", _] => Ivar(n(1)?),
        ["ivar", _, ":=", _] => SetIvar(n(1)?, v(3)?),
        ["lit", _] => Literal(n(1)?),
        ["nil"] => Nil,
        ["true"] => True,
        ["false"] => False,
        ["int", _] => Int(number(w.get(1), "an integer")?),
        ["same", _, _] => Same(v(1)?, v(2)?),
        ["is_int", _] => IsInt(v(1)?),
        ["both_int", _, _] => BothInt(v(1)?, v(2)?),
        ["int_add", _, _] => IntAdd(v(1)?, v(2)?),
        ["int_sub", _, _] => IntSub(v(1)?, v(2)?),
        ["int_mul", _, _] => IntMul(v(1)?, v(2)?),
        ["int_floor_div", _, _] => IntFloorDiv(v(1)?, v(2)?),
        ["int_floor_mod", _, _] => IntFloorMod(v(1)?, v(2)?),
        ["int_quo", _, _] => IntQuo(v(1)?, v(2)?),
        ["int_rem", _, _] => IntRem(v(1)?, v(2)?),
        [name, _, _] if compare(name).is_some() => {
            IntCompare(compare(name).expect("checked"), v(1)?, v(2)?)
        }
        ["int_bit_and", _, _] => IntBitAnd(v(1)?, v(2)?),
        ["int_bit_or", _, _] => IntBitOr(v(1)?, v(2)?),
        ["is_float", _] => IsFloat(v(1)?),
        ["unbox_float", _] => UnboxFloat(v(1)?),
        ["unbox_number", _] => UnboxNumber(v(1)?),
        ["box_float", _] => BoxFloat(v(1)?),
        ["box_float_gc", _] => BoxFloatGc(v(1)?),
        [name, _, _] if f64_op(name).is_some() => F64(f64_op(name).expect("checked"), v(1)?, v(2)?),
        [name, _, _] if f64_compare(name).is_some() => {
            F64Compare(f64_compare(name).expect("checked"), v(1)?, v(2)?)
        }
        [name, _, _] if float_op(name).is_some() => {
            FloatOp(float_op(name).expect("checked"), v(1)?, v(2)?)
        }
        ["inline_valid", name] => InlineValid(
            InlineOp::of_name(name).ok_or_else(|| format!("unknown inline operation {name:?}"))?,
        ),
        ["class_of", _] => ClassOf(v(1)?),
        ["site_prim", name, _, "send", _] => SitePrim {
            op: ObjectOp::of_name(name)
                .ok_or_else(|| format!("unknown object operation {name:?}"))?,
            class: v(2)?,
            send: number(w.get(4), "a bytecode offset")?,
        },
        ["quick_way", kind, _, "send", _] => QuickWay {
            kind: QuickKind::of_name(kind)
                .ok_or_else(|| format!("unknown quick method kind {kind:?}"))?,
            object: v(2)?,
            send: number(w.get(4), "a bytecode offset")?,
        },
        ["quick_constant", "send", _] => QuickConstant {
            send: number(w.get(2), "a bytecode offset")?,
        },
        ["quick_get", _, "send", _] => QuickGet {
            object: v(1)?,
            send: number(w.get(3), "a bytecode offset")?,
        },
        ["quick_set", _, _, "send", _] => QuickSet {
            object: v(1)?,
            value: v(2)?,
            send: number(w.get(4), "a bytecode offset")?,
        },
        ["index_ok", _, _] => IndexOk(v(1)?, v(2)?),
        ["load_slot", _, _] => LoadSlot(v(1)?, v(2)?),
        ["store_ref", _, _, _] => StoreRef {
            object: v(1)?,
            index: v(2)?,
            value: v(3)?,
        },
        ["size_of", _] => SizeOf(v(1)?),
        ["new_slots", _, _] => NewSlots(v(1)?, v(2)?),
        ["not", _] => Not(v(1)?),
        ["and", _, _] => And(v(1)?, v(2)?),
        ["bool_obj", _] => BoolObj(v(1)?),
        ["block", _, "body", _] => MakeBlock {
            arg_location: n(1)?,
            body: number(w.get(3), "a bytecode offset")?,
        },
        ["safepoint"] => Safepoint,
        ["unit_valid"] => UnitValid,
        ["stress_tick"] => StressTick,
        ["countdown_tick"] => CountdownTick,
        ["const", k] => Const(const_id(k)?),
        ["class_is", _, k] => ClassIs(v(1)?, const_id(k)?),
        [op @ ("send" | "send.super"), sel, receiver, args @ ..] => Send {
            selector: parse_selector(sel)?,
            receiver: value(receiver)?,
            args: args.iter().map(|a| value(a)).collect::<Result<_, _>>()?,
            to_super: *op == "send.super",
        },
        _ => return Err(format!("unknown instruction {body:?}")),
    };
    Ok(InstData {
        results,
        inst,
        state,
    })
}

/// The Float operation a `float_add`-style name stands for.
fn float_op(name: &str) -> Option<InlineOp> {
    InlineOp::of_name(name).filter(|op| op.def().receiver == Receiver::Float)
}

/// The operation an `f64_add`-style name stands for.
fn f64_op(name: &str) -> Option<F64Op> {
    F64Op::ALL.into_iter().find(|op| op.name() == name)
}

/// The comparison an `f64_lt`-style name stands for.
fn f64_compare(name: &str) -> Option<F64Compare> {
    F64Compare::ALL.into_iter().find(|c| c.name() == name)
}

/// The comparison an `int_lt`-style name stands for.
fn compare(name: &str) -> Option<Compare> {
    Compare::ALL.into_iter().find(|c| c.name() == name)
}

fn parse_selector(w: &str) -> Result<Selector, String> {
    if let Some(s) = w.strip_prefix("special:") {
        return Special::ALL
            .iter()
            .find(|k| k.selector() == s)
            .map(|k| Selector::Special(*k))
            .ok_or_else(|| format!("unknown special selector {s:?}"));
    }
    w.strip_prefix("lit")
        .and_then(|n| n.parse().ok())
        .map(Selector::Literal)
        .ok_or_else(|| format!("expected litN or special:OP, found {w:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let e = parse_function("method T>>f args 0 temps 0\nbb0:\n    v0 = frob\n    return v0\n")
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("unknown instruction"), "{e}");
        let e = parse_function("method T>>f args 0 temps 0\nbb0:\n    v0 = nil\n").unwrap_err();
        assert!(e.message.contains("no terminator"), "{e}");
        let e = parse_function("function f").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_function(
            "method T>>f args 0 temps 0\nbb0:\n    v0 = inline_valid int_frob\n    return v0\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("unknown inline operation"), "{e}");
    }

    /// A parameter may be declared float; bool and unknown types are
    /// refused.
    #[test]
    fn parameters_are_typed() {
        let text = |t: &str| {
            format!(
                "method T>>f args 0 temps 0\nbb0:\n    v0 = self\n    jump bb1(v0)\nbb1(v1: {t}):\n    return v1\n"
            )
        };
        let f = parse_function(&text("float")).unwrap();
        assert_eq!(f.blocks[1].param_types, vec![Type::Float]);
        assert_eq!(f.to_string().lines().nth(4), Some("bb1(v1: float):"));
        for bad in ["bool", "double"] {
            let e = parse_function(&text(bad)).unwrap_err();
            assert_eq!(e.line, 5);
            assert!(e.message.contains("cannot be of type"), "{e}");
        }
    }

    #[test]
    fn states_parse_where_they_belong() {
        let head = "method T>>f args 0 temps 0\nbb0:\n    v0 = self\n";
        let f = parse_function(&format!(
            "{head}    v1 = send lit0 v0 @3 [v0 v0]\n    return v1\n"
        ))
        .unwrap();
        let want = State::new(3, vec![Value(0), Value(0)]);
        assert_eq!(f.blocks[0].insts[1].state, Some(want));
        let e = parse_function(&format!("{head}    primitive 1 (v0) else bb1(v0)\n")).unwrap_err();
        assert!(e.message.contains("needs a state"), "{e}");
        let e = parse_function(&format!("{head}    return v0 @3 []\n")).unwrap_err();
        assert!(e.message.contains("takes no state"), "{e}");
        let e = parse_function(&format!("{head}    v1 = send lit0 v0 @3 v0\n")).unwrap_err();
        assert_eq!(e.line, 4);
    }

    /// A state chained twice (inlined code inside inlined code) and the
    /// unit's constants read back as printed; bad chains name the line.
    #[test]
    fn chained_states_and_constants_round_trip() {
        let text = "method T>>f args 0 temps 0\nconst k0 = method P>>a #7\nconst k1 = method P>>b: #8\n\
                    bb0:\n    v0 = self\n    v1 = int 3\n\
                    v2 = send lit0 v0 @4 [v1] in k1(self v0 args [v1] temps [v1 v0]) from @9 [] in k0(self v0 args [] temps []) from @2 [v0]\n\
                    return v2\n";
        let f = parse_function(text).unwrap();
        let state = f.blocks[0].insts[2].state.as_ref().unwrap();
        let frames = state.frames();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].method, ConstId(1));
        assert_eq!(frames[0].temps, vec![Value(1), Value(0)]);
        assert_eq!(frames[1].method, ConstId(0));
        assert_eq!(state.root().pc, 2);
        assert_eq!(state.root().stack, vec![Value(0)]);
        assert_eq!(state.values().len(), 1 + 2 + 2 + 1 + 1);
        assert_eq!(f.constants[1].name, "P>>b:");
        assert_eq!(f.constants[1].handle, 8);
        let again = parse_function(&f.to_string()).unwrap();
        assert_eq!(again, f);
        let bad = text.replace("from @9", "frm @9");
        assert_eq!(parse_function(&bad).unwrap_err().line, 7);
        let bad = text.replace("const k1", "const k3");
        assert_eq!(parse_function(&bad).unwrap_err().line, 3);
    }
}
