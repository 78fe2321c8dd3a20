//! Inlining computes what the sends it replaces compute: each caller
//! here runs on a small model of the VM (SmallInts that overflow into
//! large integers, nil, booleans, objects of two classes with instance
//! variables and methods, sends of those methods run as their translated
//! IR in frames of their own) as translated, and after
//! [`lst_jit::inline`], the region pass, the semantic lowering and fold —
//! with the unit valid and invalid (every guard fails), and with the
//! deopt stress's ticks (`lst_jit::stress`) failing every first, second
//! or third guard — on receivers of
//! the class the oracle names, of another class answering the same
//! selectors differently, and with instance variables of every kind
//! (SmallInts, ones near the SmallInt limit whose sums overflow, nil).
//! The answers and the final heaps must agree, and the inlined runs must
//! have inlined something.

use lst_compiler::LiteralValue;
use lst_compiler::ast::Literal;
use lst_jit::inline::{Budget, Candidate, InlineOracle, Site};
use lst_jit::ir::*;
use lst_jit::semantic::{self, Facts};
use lst_jit::translate::{Source, translate};
use lst_jit::{fold, verify};
use std::collections::HashMap;

/// The model's SmallInts: 62 bits, as the VM's.
const SMALL: i128 = 1 << 61;

/// A value of the model.
#[derive(Clone, Copy, Debug, PartialEq)]
enum V {
    Int(i64),
    /// A large integer (what SmallInt arithmetic overflows into).
    Big(i128),
    Bool(bool),
    Nil,
    /// An object of the heap, by index.
    Obj(usize),
    /// A machine condition.
    Cond(bool),
    /// An unboxed double.
    Raw(f64),
}

impl V {
    fn integer(self) -> Option<i128> {
        match self {
            V::Int(i) => Some(i128::from(i)),
            V::Big(i) => Some(i),
            _ => None,
        }
    }

    fn of(i: i128) -> V {
        if (-SMALL..SMALL).contains(&i) {
            V::Int(i as i64)
        } else {
            V::Big(i)
        }
    }

    fn cond(self) -> Result<bool, String> {
        match self {
            V::Cond(c) => Ok(c),
            other => Err(format!("{other:?} is not a condition")),
        }
    }
}

/// An object: its class (an index into the program's classes) and slots.
#[derive(Clone, Debug, PartialEq)]
struct Object {
    class: usize,
    slots: Vec<V>,
}

/// A method of the model: its IR and literals.
struct Method {
    f: Function,
    selectors: Vec<Option<String>>,
    numbers: Vec<Option<V>>,
    compiled: lst_compiler::CompiledMethod,
}

impl Method {
    fn selector(&self, s: &Selector) -> String {
        match s {
            Selector::Special(s) => s.selector().to_string(),
            Selector::Literal(i) => self.selectors[usize::from(*i)].clone().unwrap_or_default(),
        }
    }
}

/// Two classes with the same instance variables: `Test` (handle 1), whose
/// methods the oracle offers, and `Other` (handle 2).
struct Program {
    classes: Vec<HashMap<String, Method>>,
    ivars: Vec<String>,
}

/// The class constants' handles, by class index.
const CLASS_HANDLES: [u32; 2] = [1, 2];

/// A method constant's handle: class, then the method's place.
fn method_handle(class: usize, selector: &str, p: &Program) -> u32 {
    let mut names: Vec<&String> = p.classes[class].keys().collect();
    names.sort();
    let k = names.iter().position(|n| *n == selector).unwrap_or(0);
    100 * (class as u32 + 1) + k as u32
}

fn compile(source: &str, ivars: &[String]) -> Method {
    let m = lst_compiler::compile_method(source, ivars).unwrap_or_else(|d| panic!("{d:?}"));
    let selectors = m
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
            LiteralValue::Constant(Literal::Integer(i)) => Some(V::of(i128::from(*i))),
            _ => None,
        })
        .collect();
    let name = format!("Test>>{}", m.selector);
    let src = Source {
        name: &name,
        bytecodes: &m.bytecodes,
        arg_count: m.arg_count as u8,
        temp_count: m.temp_size as u8,
    };
    let f = translate(&src, Kind::Method).unwrap_or_else(|e| panic!("{name}: {e}"));
    Method {
        f,
        selectors,
        numbers,
        compiled: m,
    }
}

impl Program {
    fn new(ivars: &[&str], test: &[&str], other: &[&str]) -> Program {
        let ivars: Vec<String> = ivars.iter().map(|s| s.to_string()).collect();
        let class = |sources: &[&str]| {
            sources
                .iter()
                .map(|s| {
                    let m = compile(s, &ivars);
                    (m.compiled.selector.clone(), m)
                })
                .collect()
        };
        Program {
            classes: vec![class(test), class(other)],
            ivars,
        }
    }

    /// The method `handle` names.
    fn method_of(&self, handle: u32) -> Option<&Method> {
        let class = (handle / 100).checked_sub(1)? as usize;
        let mut names: Vec<&String> = self.classes.get(class)?.keys().collect();
        names.sort();
        self.classes[class].get(*names.get((handle % 100) as usize)?)
    }
}

/// Offers `Test`'s method for every send whose selector `Test` answers
/// (as if feedback had seen only `Test` receivers there).
struct ModelOracle<'a> {
    p: &'a Program,
    root: &'a Method,
    /// The literal values of the offered methods, by constant handle.
    literals: HashMap<u32, V>,
}

impl InlineOracle for ModelOracle<'_> {
    /// The model's programs compute on SmallInts: every special send's
    /// fast path may serve.
    fn fast_special(&mut self, _at: &Site) -> bool {
        true
    }

    fn candidate(&mut self, at: Site) -> Option<Candidate> {
        let site_method = match at.method_handle {
            None => self.root,
            Some(h) => self.p.method_of(h)?,
        };
        let selector = site_method.selector(&at.selector);
        let m = self.p.classes[0].get(&selector)?;
        let handle = method_handle(0, &selector, self.p);
        let literals = m
            .numbers
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let n = (*n)?;
                let h = 10_000 + handle * 100 + i as u32;
                self.literals.insert(h, n);
                Some(Constant {
                    kind: ConstKind::Object,
                    name: format!("{n:?}"),
                    handle: h,
                })
            })
            .collect();
        Some(Candidate {
            class: Constant {
                kind: ConstKind::Class,
                name: "Test".into(),
                handle: CLASS_HANDLES[0],
            },
            method: Constant {
                kind: ConstKind::Method,
                name: format!("Test>>{selector}"),
                handle,
            },
            callee: m.f.clone(),
            instance_size: self.p.ivars.len(),
            literals,
        })
    }
}

/// Everything a run may change, and what it may read.
#[derive(Clone, Debug, PartialEq)]
struct World {
    heap: Vec<Object>,
}

/// How a run sees its unit.
struct Unit<'a> {
    p: &'a Program,
    constants: &'a [Constant],
    literals: &'a HashMap<u32, V>,
    valid: bool,
    /// The deopt stress's period N (0: off) and its countdown: every
    /// N-th `stress_tick` answers true.
    stress: u32,
    countdown: std::cell::Cell<u32>,
}

impl Unit<'_> {
    /// A `stress_tick`: whether the countdown ran out (then it starts
    /// again).
    fn tick(&self) -> bool {
        if self.stress == 0 {
            return false;
        }
        let left = self.countdown.get().saturating_sub(1);
        let fire = left == 0;
        self.countdown.set(if fire { self.stress } else { left });
        fire
    }
}

/// One activation: receiver, arguments, temporaries.
struct Frame {
    receiver: V,
    args: Vec<V>,
    temps: Vec<V>,
}

/// The model's answer to a send: integer arithmetic and compares, or a
/// method of the receiver's class run in a frame of its own.
fn send(
    u: &Unit,
    w: &mut World,
    selector: &str,
    receiver: V,
    args: &[V],
    depth: usize,
) -> Result<V, String> {
    if let ([arg], Some(a)) = (args, receiver.integer()) {
        let b = arg
            .integer()
            .ok_or_else(|| format!("{arg:?} is not an integer"))?;
        return Ok(match selector {
            "+" => V::of(a + b),
            "-" => V::of(a - b),
            "*" => V::of(a.checked_mul(b).ok_or("too large")?),
            "<" => V::Bool(a < b),
            ">" => V::Bool(a > b),
            "<=" => V::Bool(a <= b),
            ">=" => V::Bool(a >= b),
            "=" => V::Bool(a == b),
            "~=" => V::Bool(a != b),
            _ => return Err(format!("{receiver:?} does not understand {selector}")),
        });
    }
    let V::Obj(o) = receiver else {
        return Err(format!("{receiver:?} does not understand {selector}"));
    };
    let class = w.heap[o].class;
    let m = u.p.classes[class]
        .get(selector)
        .ok_or_else(|| format!("{receiver:?} does not understand {selector}"))?;
    let frame = Frame {
        receiver,
        args: args.to_vec(),
        temps: vec![V::Nil; usize::from(m.f.temp_count)],
    };
    run(u, m, w, frame, depth + 1)
}

/// Runs `m`'s IR (as compiled for the unit `u`) in `frame`.
fn run(u: &Unit, m: &Method, w: &mut World, mut frame: Frame, depth: usize) -> Result<V, String> {
    if depth > 50 {
        return Err("too deep".into());
    }
    let mut env: HashMap<Value, V> = HashMap::new();
    let mut block = &m.f.blocks[0];
    for _ in 0..10_000 {
        for data in &block.insts {
            let results = step(u, m, w, &mut frame, &env, data, depth)?;
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

fn slot(w: &mut World, object: V, index: V) -> Result<&mut V, String> {
    let (V::Obj(o), V::Int(i)) = (object, index) else {
        return Err(format!("no slot {index:?} in {object:?}"));
    };
    w.heap[o]
        .slots
        .get_mut((i as usize).wrapping_sub(1))
        .ok_or(format!("slot {i} out of range"))
}

/// The results of one instruction.
fn step(
    u: &Unit,
    m: &Method,
    w: &mut World,
    frame: &mut Frame,
    env: &HashMap<Value, V>,
    data: &InstData,
    depth: usize,
) -> Result<Vec<V>, String> {
    use Inst::*;
    let get = |v: &Value| env.get(v).copied().ok_or(format!("{v} unset"));
    let small = |v: &Value| -> Result<i64, String> {
        match get(v)? {
            V::Int(i) => Ok(i),
            other => Err(format!("{other:?} is not a SmallInt")),
        }
    };
    let checked = |r: i128| match V::of(r) {
        V::Int(i) => vec![V::Int(i), V::Cond(false)],
        _ => vec![V::Nil, V::Cond(true)],
    };
    let ivar = |frame: &Frame, n: u8| (frame.receiver, V::Int(i64::from(n) + 1));
    Ok(match &data.inst {
        SelfRef => vec![frame.receiver],
        Arg(n) => vec![frame.args[usize::from(*n) - 1]],
        Temp(n) => vec![frame.temps[usize::from(*n)]],
        SetTemp(n, v) => {
            frame.temps[usize::from(*n)] = get(v)?;
            vec![]
        }
        Ivar(n) => {
            let (o, i) = ivar(frame, *n);
            vec![*slot(w, o, i)?]
        }
        SetIvar(n, v) => {
            let (o, i) = ivar(frame, *n);
            *slot(w, o, i)? = get(v)?;
            vec![]
        }
        Literal(n) => vec![m.numbers[usize::from(*n)].ok_or("not a number literal")?],
        Const(k) => {
            let c = &u.constants[k.0 as usize];
            vec![*u.literals.get(&c.handle).ok_or("not a literal constant")?]
        }
        ClassIs(v, k) => {
            let want = u.constants[k.0 as usize].handle;
            let class = match get(v)? {
                V::Obj(o) => Some(CLASS_HANDLES[w.heap[o].class]),
                _ => None,
            };
            vec![V::Cond(class == Some(want))]
        }
        UnitValid => vec![V::Cond(u.valid)],
        StressTick => vec![V::Cond(u.tick())],
        LoadSlot(o, i) => vec![*slot(w, get(o)?, get(i)?)?],
        StoreRef {
            object,
            index,
            value,
        } => {
            *slot(w, get(object)?, get(index)?)? = get(value)?;
            vec![]
        }
        Nil => vec![V::Nil],
        True => vec![V::Bool(true)],
        False => vec![V::Bool(false)],
        Int(i) => vec![V::Int(*i)],
        IsInt(a) => vec![V::Cond(matches!(get(a)?, V::Int(_)))],
        BothInt(a, b) => vec![V::Cond(
            matches!(get(a)?, V::Int(_)) && matches!(get(b)?, V::Int(_)),
        )],
        // The model has no Floats: a region's guard always fails.
        IsFloat(_) => vec![V::Cond(false)],
        UnboxFloat(_) => vec![V::Raw(0.0), V::Cond(true)],
        UnboxNumber(a) => match get(a)?.integer() {
            Some(i) => vec![V::Raw(i as f64), V::Cond(false)],
            None => vec![V::Raw(0.0), V::Cond(true)],
        },
        IntAdd(a, b) => checked(i128::from(small(a)?) + i128::from(small(b)?)),
        IntSub(a, b) => checked(i128::from(small(a)?) - i128::from(small(b)?)),
        IntMul(a, b) => checked(i128::from(small(a)?) * i128::from(small(b)?)),
        IntCompare(c, a, b) => vec![V::Cond(c.holds(small(a)?, small(b)?))],
        InlineValid(_) => vec![V::Cond(true)],
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
            // A send in inlined code names the innermost method's literal.
            let site = match data.state.as_ref().map(State::frames) {
                Some(frames) if !frames.is_empty() => {
                    let h = u.constants[frames[0].method.0 as usize].handle;
                    u.p.method_of(h).ok_or("no such method")?
                }
                _ => m,
            };
            let args: Vec<V> = args.iter().map(get).collect::<Result<_, _>>()?;
            vec![send(
                u,
                w,
                &site.selector(selector),
                get(receiver)?,
                &args,
                depth,
            )?]
        }
        Safepoint => vec![],
        other => return Err(format!("the model does not run {other}")),
    })
}

/// The caller `root` after inlining, the region pass, the lowering and
/// fold (and, with `stress`, the deopt stress's ticks), with the
/// oracle's literal values; panics unless it inlined.
fn optimized(p: &Program, root: &Method, stress: bool) -> (Method, HashMap<u32, V>) {
    let mut oracle = ModelOracle {
        p,
        root,
        literals: HashMap::new(),
    };
    let mut f = root.f.clone();
    let stats = lst_jit::inline::inline(&mut f, &mut oracle, Budget::default());
    assert!(stats.inlined > 0, "nothing inlined: {stats:?}\n{f}");
    verify::verify(&f).unwrap_or_else(|e| panic!("{e:?}\n{f}"));
    let none: Vec<Option<lst_jit::ir::InlineOp>> = vec![];
    let facts = Facts {
        literal_ops: &none,
        float_ops: &none,
        object_ops: &[],
        quick: &[],
        not_float: &[],
    };
    semantic::region::unbox(&mut f, &facts);
    semantic::lower(&mut f, &facts);
    fold::fold(&mut f);
    if stress {
        assert!(lst_jit::stress::stress_guards(&mut f) > 0, "no guard:\n{f}");
    }
    verify::verify(&f).unwrap_or_else(|e| panic!("{e:?}\n{f}"));
    let m = Method {
        f,
        selectors: root.selectors.clone(),
        numbers: root.numbers.clone(),
        compiled: root.compiled.clone(),
    };
    (m, oracle.literals)
}

/// Values for instance variables and arguments.
fn inputs() -> Vec<V> {
    vec![
        V::Int(3),
        V::Int(-7),
        V::Int(600),
        V::Int((SMALL - 2) as i64),
        V::Int((-SMALL) as i64),
        V::Nil,
    ]
}

/// Runs `caller` (a source compiled in class Test) on receivers of both
/// classes, with every pair of inputs in the first two instance variables
/// and the others from `rest`, before and after inlining, valid and not.
fn check(p: &Program, caller: &str, rest: &[V]) {
    let root = compile(caller, &p.ivars);
    let (opt, literals) = optimized(p, &root, false);
    let (stressed, _) = optimized(p, &root, true);
    let no_constants = HashMap::new();
    let mut runs = 0;
    for class in 0..2 {
        for &a in &inputs() {
            for &b in &inputs() {
                let mut slots = vec![a, b];
                slots.extend_from_slice(rest);
                slots.truncate(p.ivars.len());
                let world = World {
                    heap: vec![
                        Object {
                            class: 0,
                            slots: vec![V::Nil; p.ivars.len()],
                        },
                        Object { class, slots },
                    ],
                };
                let frame = || Frame {
                    receiver: V::Obj(0),
                    args: vec![V::Obj(1); usize::from(root.f.arg_count)],
                    temps: vec![V::Nil; usize::from(root.f.temp_count)],
                };
                let plain = Unit {
                    p,
                    constants: &root.f.constants,
                    literals: &no_constants,
                    valid: true,
                    stress: 0,
                    countdown: Default::default(),
                };
                let mut w0 = world.clone();
                let want = run(&plain, &root, &mut w0, frame(), 0);
                // Valid and not, then valid with every N-th guard failing.
                let variants = [(true, 0), (false, 0), (true, 1), (true, 2), (true, 3)];
                for (valid, stress) in variants {
                    let m = if stress == 0 { &opt } else { &stressed };
                    let unit = Unit {
                        p,
                        constants: &m.f.constants,
                        literals: &literals,
                        valid,
                        stress,
                        countdown: std::cell::Cell::new(stress),
                    };
                    let mut w1 = world.clone();
                    let got = run(&unit, m, &mut w1, frame(), 0);
                    let what = format!(
                        "{caller}: {a:?} {b:?} class {class} valid {valid} stress {stress}"
                    );
                    assert_eq!(got, want, "{what}\n{}", m.f);
                    assert_eq!(w1, w0, "{what}\n{}", m.f);
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 0);
}

#[test]
fn a_getter_with_arithmetic() {
    let p = Program::new(&["x", "y"], &["sum ^ x + y"], &["sum ^ x - y"]);
    check(&p, "run: p ^ (p sum) + 1", &[]);
}

#[test]
fn bounce() {
    let bounce = "bounce
        | xLimit yLimit bounced |
        xLimit := yLimit := 500.
        bounced := false.
        x := x + xVel.
        y := y + yVel.
        x > xLimit ifTrue: [ x := xLimit. xVel := 0 - xVel. bounced := true ].
        x < 0 ifTrue: [ x := 0. xVel := 0 - xVel. bounced := true ].
        y > yLimit ifTrue: [ y := yLimit. yVel := 0 - yVel. bounced := true ].
        y < 0 ifTrue: [ y := 0. yVel := 0 - yVel. bounced := true ].
        ^ bounced";
    let p = Program::new(&["x", "y", "xVel", "yVel"], &[bounce], &["bounce ^ x"]);
    let caller = "run: ball
        | n |
        n := 0.
        ball bounce ifTrue: [ n := n + 1 ].
        ball bounce ifTrue: [ n := n + 10 ].
        ^ n";
    check(&p, caller, &[V::Int(300), V::Int(-400)]);
    check(&p, caller, &[V::Int((SMALL - 1) as i64), V::Nil]);
}

#[test]
fn arguments_temporaries_and_stores() {
    let p = Program::new(
        &["x", "y"],
        &["x: a y: b | t | t := a + b. x := t. y := a. ^ t * 2"],
        &["x: a y: b ^ a"],
    );
    check(&p, "run: p ^ 3 + (p x: p y y: 5)", &[]);
}

#[test]
fn nested_inlining() {
    let p = Program::new(
        &["x", "y"],
        &["outer ^ self inner + y", "inner ^ x * 2"],
        &["outer ^ y", "inner ^ x"],
    );
    check(&p, "run: p ^ p outer - p inner", &[]);
}
