//! The unboxed regions compute what the sends they replace compute: each
//! method here runs, on a small model of the VM (SmallInts, Floats,
//! objects with named fields, the arithmetic sends and quick getters and
//! setters), as translated (every send done by the model) and after the
//! region pass, the semantic lowering and fold — also with every
//! `box_float` failing, so that the slow paths run — on inputs of every
//! kind (Floats, SmallInts, mixed, nil). The answers and the final state
//! (temporaries, instance variables, objects) must agree.

use lst_bytecode::inline_ops::{InlineOp, ObjectOp, Receiver};
use lst_compiler::LiteralValue;
use lst_compiler::ast::Literal;
use lst_jit::ir::*;
use lst_jit::semantic::{self, Facts};
use lst_jit::translate::{Source, translate};
use lst_jit::{fold, verify};
use std::collections::HashMap;

/// A value of the model. Floats compare by their bits (NaN is NaN).
#[derive(Clone, Copy, Debug)]
enum V {
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// An object of the heap, by index.
    Obj(usize),
    /// A machine condition.
    Cond(bool),
    /// An unboxed double.
    Raw(f64),
}

impl PartialEq for V {
    fn eq(&self, other: &V) -> bool {
        use V::*;
        match (self, other) {
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) | (Raw(a), Raw(b)) => a.to_bits() == b.to_bits(),
            (Bool(a), Bool(b)) | (Cond(a), Cond(b)) => a == b,
            (Nil, Nil) => true,
            (Obj(a), Obj(b)) => a == b,
            _ => false,
        }
    }
}

impl V {
    fn number(self) -> Option<f64> {
        match self {
            V::Int(i) => Some(i as f64),
            V::Float(f) => Some(f),
            _ => None,
        }
    }

    fn cond(self) -> Result<bool, String> {
        match self {
            V::Cond(c) => Ok(c),
            other => Err(format!("{other:?} is not a condition")),
        }
    }

    fn raw(self) -> Result<f64, String> {
        match self {
            V::Raw(f) => Ok(f),
            other => Err(format!("{other:?} is not a double")),
        }
    }
}

/// Everything a run may change.
#[derive(Clone, Debug, PartialEq)]
struct World {
    args: Vec<V>,
    ivars: Vec<V>,
    temps: Vec<V>,
    /// Each object's fields by name.
    heap: Vec<Vec<(String, V)>>,
}

impl World {
    fn field(&mut self, o: usize, name: &str) -> Option<&mut V> {
        self.heap[o]
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// The model's answer to a send (an error for what it does not know:
/// both runs must fail alike).
fn send(w: &mut World, selector: &str, receiver: V, args: &[V]) -> Result<V, String> {
    if let [arg] = args
        && let (Some(a), Some(b)) = (receiver.number(), arg.number())
    {
        if let (V::Int(x), V::Int(y)) = (receiver, *arg) {
            let int = match selector {
                "+" => Some(V::Int(x + y)),
                "-" => Some(V::Int(x - y)),
                "*" => Some(V::Int(x * y)),
                "<" => Some(V::Bool(x < y)),
                ">" => Some(V::Bool(x > y)),
                "<=" => Some(V::Bool(x <= y)),
                "=" => Some(V::Bool(x == y)),
                _ => None,
            };
            if let Some(v) = int {
                return Ok(v);
            }
        }
        return Ok(match selector {
            "+" => V::Float(a + b),
            "-" => V::Float(a - b),
            "*" => V::Float(a * b),
            "/" => V::Float(a / b),
            "<" => V::Bool(a < b),
            ">" => V::Bool(a > b),
            "<=" => V::Bool(a <= b),
            "=" => V::Bool(a == b),
            _ => return Err(format!("{receiver:?} does not understand {selector}")),
        });
    }
    match (receiver, args) {
        (V::Float(f), []) if selector == "sqrt" => Ok(V::Float(f.sqrt())),
        (V::Obj(o), []) => w
            .field(o, selector)
            .map(|v| *v)
            .ok_or_else(|| format!("no getter {selector}")),
        (V::Obj(o), [x]) => {
            let name = selector.strip_suffix(':').unwrap_or(selector);
            *w.field(o, name)
                .ok_or_else(|| format!("no setter {selector}"))? = *x;
            Ok(receiver)
        }
        _ => Err(format!("{receiver:?} does not understand {selector}")),
    }
}

/// A method: its IR, the names of its literal selectors and the values
/// of its number literals.
struct Method {
    f: Function,
    selectors: Vec<Option<String>>,
    numbers: Vec<Option<V>>,
}

impl Method {
    fn selector(&self, s: &Selector) -> String {
        match s {
            Selector::Special(s) => s.selector().to_string(),
            Selector::Literal(i) => self.selectors[usize::from(*i)].clone().unwrap_or_default(),
        }
    }

    /// The selector of the send whose state's pc is `pc`.
    fn site(&self, pc: u16) -> String {
        let send =
            self.f
                .blocks
                .iter()
                .flat_map(|b| &b.insts)
                .find_map(|d| match (&d.inst, &d.state) {
                    (Inst::Send { selector, .. }, Some(s)) if s.pc == pc => Some(selector),
                    _ => None,
                });
        send.map(|s| self.selector(s)).unwrap_or_default()
    }
}

/// Runs `m` on `w`; `box_fails`: every `box_float` fails.
fn run(m: &Method, w: &mut World, box_fails: bool) -> Result<V, String> {
    let mut env: HashMap<Value, V> = HashMap::new();
    let mut block = &m.f.blocks[0];
    for _ in 0..10_000 {
        for data in &block.insts {
            let results = step(m, w, &env, &data.inst, box_fails)?;
            for (&r, v) in data.results.iter().zip(results) {
                env.insert(r, v);
            }
        }
        let get = |v: &Value| env.get(v).copied().ok_or(format!("{v} unset"));
        let call = match &block.terminator {
            Terminator::Return(v) => return get(v),
            Terminator::Jump(c) => c,
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => {
                if get(cond)?.cond()? {
                    then
                } else {
                    otherwise
                }
            }
            other => return Err(format!("cannot run {other}")),
        };
        let args: Vec<V> = call.args.iter().map(get).collect::<Result<_, _>>()?;
        block = m.f.block(call.block).ok_or("no block")?;
        for (&p, v) in block.params.iter().zip(args) {
            env.insert(p, v);
        }
    }
    Err("too many steps".into())
}

/// The results of one instruction.
fn step(
    m: &Method,
    w: &mut World,
    env: &HashMap<Value, V>,
    inst: &Inst,
    box_fails: bool,
) -> Result<Vec<V>, String> {
    use Inst::*;
    let get = |v: &Value| env.get(v).copied().ok_or(format!("{v} unset"));
    let checked = |r: Option<i64>| match r {
        Some(i) => vec![V::Int(i), V::Cond(false)],
        None => vec![V::Nil, V::Cond(true)],
    };
    let int = |v: &Value| match get(v) {
        Ok(V::Int(i)) => Ok(i),
        other => Err(format!("{other:?} is not an int")),
    };
    Ok(match inst {
        SelfRef => vec![V::Obj(0)],
        Arg(n) => vec![w.args[usize::from(*n) - 1]],
        Temp(n) => vec![w.temps[usize::from(*n)]],
        SetTemp(n, v) => {
            w.temps[usize::from(*n)] = get(v)?;
            vec![]
        }
        Ivar(n) => vec![w.ivars[usize::from(*n)]],
        SetIvar(n, v) => {
            w.ivars[usize::from(*n)] = get(v)?;
            vec![]
        }
        Literal(n) => vec![m.numbers[usize::from(*n)].ok_or("not a number literal")?],
        Nil => vec![V::Nil],
        True => vec![V::Bool(true)],
        False => vec![V::Bool(false)],
        Int(i) => vec![V::Int(*i)],
        IsInt(a) => vec![V::Cond(matches!(get(a)?, V::Int(_)))],
        BothInt(a, b) => vec![V::Cond(
            matches!(get(a)?, V::Int(_)) && matches!(get(b)?, V::Int(_)),
        )],
        IsFloat(a) => vec![V::Cond(matches!(get(a)?, V::Float(_)))],
        IntAdd(a, b) => checked(int(a)?.checked_add(int(b)?)),
        IntSub(a, b) => checked(int(a)?.checked_sub(int(b)?)),
        IntMul(a, b) => checked(int(a)?.checked_mul(int(b)?)),
        IntCompare(c, a, b) => vec![V::Cond(c.holds(int(a)?, int(b)?))],
        FloatOp(op, a, b) => {
            let (V::Float(_), Some(_)) = (get(a)?, get(b)?.number()) else {
                return Ok(vec![V::Nil, V::Cond(true)]);
            };
            vec![
                send(w, op.def().selector, get(a)?, &[get(b)?])?,
                V::Cond(false),
            ]
        }
        InlineValid(_) => vec![V::Cond(true)],
        QuickWay { kind, object, send } => {
            let name = m.site(*send);
            let has = |w: &mut World, n: &str| match get(object) {
                Ok(V::Obj(o)) => w.field(o, n).is_some(),
                _ => false,
            };
            vec![V::Cond(match kind {
                QuickKind::Getter => has(w, &name),
                QuickKind::Setter => has(w, name.trim_end_matches(':')),
                QuickKind::Constant => false,
            })]
        }
        QuickGet { object, send } => {
            let V::Obj(o) = get(object)? else {
                return Err("quick_get of a non-object".into());
            };
            let name = m.site(*send);
            match w.field(o, &name) {
                Some(v) => vec![*v, V::Cond(false)],
                None => vec![V::Nil, V::Cond(true)],
            }
        }
        QuickSet {
            object,
            value,
            send,
        } => {
            let V::Obj(o) = get(object)? else {
                return Err("quick_set of a non-object".into());
            };
            let name = m.site(*send);
            let x = get(value)?;
            match w.field(o, name.trim_end_matches(':')) {
                Some(v) => {
                    *v = x;
                    vec![V::Cond(false)]
                }
                None => vec![V::Cond(true)],
            }
        }
        UnboxFloat(x) => match get(x)? {
            V::Float(f) => vec![V::Raw(f), V::Cond(false)],
            _ => vec![V::Raw(0.0), V::Cond(true)],
        },
        UnboxNumber(x) => match get(x)?.number() {
            Some(f) => vec![V::Raw(f), V::Cond(false)],
            None => vec![V::Raw(0.0), V::Cond(true)],
        },
        F64(op, a, b) => vec![V::Raw(op.apply(get(a)?.raw()?, get(b)?.raw()?))],
        F64Compare(c, a, b) => vec![V::Cond(c.holds(get(a)?.raw()?, get(b)?.raw()?))],
        BoxFloat(x) if box_fails => {
            get(x)?.raw()?;
            vec![V::Nil, V::Cond(true)]
        }
        BoxFloat(x) => vec![V::Float(get(x)?.raw()?), V::Cond(false)],
        Not(c) => vec![V::Cond(!get(c)?.cond()?)],
        And(c, d) => vec![V::Cond(get(c)?.cond()? && get(d)?.cond()?)],
        BoolObj(c) => vec![V::Bool(get(c)?.cond()?)],
        Same(a, b) => vec![V::Cond(get(a)? == get(b)?)],
        Send {
            selector,
            receiver,
            args,
            ..
        } => {
            let args: Vec<V> = args.iter().map(get).collect::<Result<_, _>>()?;
            vec![send(w, &m.selector(selector), get(receiver)?, &args)?]
        }
        Safepoint => vec![],
        other => return Err(format!("the model does not run {other}")),
    })
}

/// `source` compiled and translated; with `regions`, also through the
/// region pass, the semantic lowering and fold.
fn method(source: &str, quick: &[&str], regions: bool) -> Method {
    let m = lst_compiler::compile_method(source, &["x".into(), "y".into()])
        .unwrap_or_else(|d| panic!("{d:?}"));
    let selectors: Vec<Option<String>> = m
        .literals
        .iter()
        .map(|l| match l {
            LiteralValue::Selector(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let numbers = m
        .literals
        .iter()
        .map(|l| match l {
            LiteralValue::Constant(Literal::Float(f)) => Some(V::Float(*f)),
            LiteralValue::Constant(Literal::Integer(i)) => Some(V::Int(*i)),
            _ => None,
        })
        .collect();
    let ops = |r: Receiver| -> Vec<Option<InlineOp>> {
        selectors
            .iter()
            .map(|s| InlineOp::of_selector(r, s.as_deref()?.as_bytes()))
            .collect()
    };
    let object_ops: Vec<Option<ObjectOp>> = vec![];
    let quick: Vec<bool> = selectors
        .iter()
        .map(|s| s.as_deref().is_some_and(|s| quick.contains(&s)))
        .collect();
    let src = Source {
        name: "Test",
        bytecodes: &m.bytecodes,
        arg_count: m.arg_count as u8,
        temp_count: m.temp_size as u8,
    };
    let mut f = translate(&src, Kind::Method).unwrap();
    if regions {
        let (int_ops, float_ops) = (ops(Receiver::SmallInt), ops(Receiver::Float));
        let facts = Facts {
            literal_ops: &int_ops,
            float_ops: &float_ops,
            object_ops: &object_ops,
            quick: &quick,
            not_float: &[],
        };
        semantic::region::unbox(&mut f, &facts);
        semantic::lower(&mut f, &facts);
        fold::fold(&mut f);
        verify::verify(&f).unwrap_or_else(|e| panic!("{e:?}\n{f}"));
        let unboxed = f.blocks.iter().flat_map(|b| &b.insts);
        let unboxed = unboxed.filter(|d| matches!(d.inst, Inst::F64(..) | Inst::F64Compare(..)));
        assert!(unboxed.count() > 0, "no region in\n{f}");
    }
    Method {
        f,
        selectors,
        numbers,
    }
}

/// The inputs each method runs on: per argument and instance variable.
fn inputs() -> Vec<V> {
    vec![
        V::Float(1.5),
        V::Float(-0.25),
        V::Int(3),
        V::Int(-2),
        V::Float(f64::NAN),
        V::Nil,
    ]
}

/// Two objects with the fields of NBody's bodies.
fn bodies() -> Vec<Vec<(String, V)>> {
    let body = |vx: V, mass: V| vec![("vx".to_string(), vx), ("mass".to_string(), mass)];
    vec![
        vec![],
        body(V::Float(0.5), V::Float(2.0)),
        body(V::Int(1), V::Float(39.47)),
    ]
}

/// Runs `source` on every combination of inputs for its `args`
/// arguments (objects 1 and 2 being possible arguments too) and for the
/// instance variables.
fn agree(source: &str, quick: &[&str], args: usize) {
    let plain = method(source, quick, false);
    let unboxed = method(source, quick, true);
    let mut values = inputs();
    values.extend([V::Obj(1), V::Obj(2)]);
    let n = values.len();
    let combos = n.pow(args as u32 + 2);
    for mut k in 0..combos {
        let mut pick = || {
            let v = values[k % n];
            k /= n;
            v
        };
        let world = World {
            ivars: vec![pick(), pick()],
            args: (0..args).map(|_| pick()).collect(),
            temps: vec![V::Nil; usize::from(plain.f.temp_count)],
            heap: bodies(),
        };
        let mut want_world = world.clone();
        let want = run(&plain, &mut want_world, false);
        for box_fails in [false, true] {
            let mut w = world.clone();
            let got = run(&unboxed, &mut w, box_fails);
            assert_eq!(got, want, "{source}\non {world:?} (box fails: {box_fails})");
            assert_eq!(
                w, want_world,
                "{source}\non {world:?} (box fails: {box_fails})"
            );
        }
    }
}

#[test]
fn a_sum_of_products_agrees() {
    agree(
        "distance: dt\n | dx dy dz d |\n dx := x. dy := y. dz := dt.\n d := (dx * dx) + (dy * dy) + (dz * dz).\n ^ d",
        &[],
        1,
    );
}

#[test]
fn a_comparison_root_agrees() {
    agree("mix: n\n ^ (x + n) < (y / n)", &[], 1);
    agree("mix: n\n ^ (x * n) > (y - n)", &[], 1);
    agree("mix: n\n ^ (x - n) = (n / y)", &[], 1);
}

#[test]
fn getter_leaves_and_a_setter_agree() {
    agree(
        "update: iBody with: jBody\n | dx mag |\n dx := x. mag := y.\n iBody vx: iBody vx - (dx * jBody mass * mag).\n ^ iBody vx",
        &["vx", "mass", "vx:"],
        2,
    );
}

#[test]
fn cut_trees_agree() {
    agree("cut: t\n | a |\n ^ (a := x * y) - (a * t)", &[], 1);
    agree("cut: b\n ^ (x * y) + (b mass * x) + (y / b vx)", &[], 1);
}

#[test]
fn a_loop_agrees() {
    agree(
        "loop: n\n | s |\n s := 0.0.\n 1 to: 3 do: [:i | s := s + (x * i) - (n / y)].\n ^ s",
        &[],
        1,
    );
}

#[test]
fn comparisons_that_branch_agree() {
    agree("pick: n\n ^ (x * n) < y ifTrue: [x] ifFalse: [n]", &[], 1);
    agree(
        "count: n\n | s k |\n s := x. k := 0.\n [s < (n * 4.0) and: [k < 5]] whileTrue: [s := s + (y * y) + 1. k := k + 1].\n ^ k",
        &[],
        1,
    );
}
