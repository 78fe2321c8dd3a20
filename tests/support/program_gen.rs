//! Random Little Smalltalk programs for the generated-programs
//! differential test (`tests/generated_programs.rs`): from a `u64` seed,
//! deterministically, the source of a program in lst's file format (see
//! `tests/programs/*.st`) that always terminates, quickly, and prints
//! checksums of everything it computed.
//!
//! A program has a small class hierarchy under `GBase` (which implements
//! every generated selector, so every send is understood; subclasses
//! override some, so one site meets several classes), methods over
//! SmallInt, LargeInteger and Float values, conditionals, loops
//! (`to:do:`, `timesRepeat:`, `whileTrue:`), collections (`do:`,
//! `collect:`, `inject:into:`, `detect:ifNone:`, `at:put:`), blocks stored
//! in temporaries and passed through methods, non-local returns (through
//! several frames, and from a block whose home has returned), bounded
//! recursion, `super` sends, and methods redefined with `compile:` after
//! a warm-up loop has made the callers hot.
//!
//! Termination is by construction: code owned by the method of selector
//! number `i` (its blocks included) sends only selectors numbered above
//! `i` (recursive selectors also themselves, with a smaller counter);
//! blocks never invoke a block variable, so a block cannot reach itself;
//! every loop runs a literal number of times. Every method has a cost
//! budget (sends and operations, loops multiplied), so a program runs in
//! well under a second interpreted.
//!
//! This module only writes source text: it must not run lst or know the
//! JIT's flags.

use std::fmt::Write as _;

/// A small deterministic PRNG (SplitMix64): the same seed gives the same
/// program on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The source of the program for `seed`.
pub fn generate(seed: u64) -> String {
    Generator::new(seed).program()
}

/// What one send of a block argument may cost (a block literal passed to
/// a method is generated within it; the method counts each `value:`).
const BLOCK_COST: u64 = 40;
/// The most one implementation may cost (its sends included).
const CAP_MAX: u64 = 1500;
/// Iterations of the driver's warm-up loops.
const WARM_UP: u64 = 25;
/// The largest SmallInt: literals near it overflow into LargeIntegers.
const NEAR_MAX: &str = "4611686018427387000";

/// A generated class: `GC<n>`, a subclass of `GBase` or of another one.
struct Class {
    name: String,
    parent: Option<usize>,
    /// 1 for a subclass of `GBase`.
    depth: u64,
    ints: Vec<String>,
    floats: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unary,
    /// One or two SmallInt arguments.
    Ints(u8),
    /// A one-argument block and a SmallInt.
    Block,
    /// `r<n>: depth`, recursing down to 0.
    Recursive {
        max_depth: u64,
    },
}

/// A generated selector; selectors are numbered, and code owned by
/// selector `i` sends only selectors above `i`.
struct Selector {
    index: usize,
    kind: Kind,
    /// The cost budget of one implementation (its own code).
    cap: u64,
    /// A one-expression method (no blocks, loops or sends but to small
    /// selectors): what the optimizing tier inlines.
    small: bool,
}

impl Selector {
    fn send(&self, receiver: &str, args: &[String]) -> String {
        let i = self.index;
        match self.kind {
            Kind::Unary => format!("({receiver} u{i})"),
            Kind::Ints(1) | Kind::Recursive { .. } => {
                let prefix = if self.kind == Kind::Ints(1) { 'k' } else { 'r' };
                format!("({receiver} {prefix}{i}: {})", args[0])
            }
            Kind::Ints(_) => format!("({receiver} k{i}: {} with: {})", args[0], args[1]),
            Kind::Block => format!("({receiver} b{i}: {} at: {})", args[0], args[1]),
        }
    }

    /// The method's first line, with parameter names.
    fn pattern(&self) -> String {
        let s = self.send("", &["n".into(), "m".into()]);
        s[2..s.len() - 1].to_string()
    }

    fn int_params(&self) -> Vec<&'static str> {
        match self.kind {
            Kind::Unary => vec![],
            Kind::Ints(1) | Kind::Recursive { .. } => vec!["n"],
            Kind::Ints(_) => vec!["n", "m"],
            Kind::Block => vec!["m"],
        }
    }
}

/// Generated code and what running it may cost.
struct Code {
    text: String,
    cost: u64,
}

fn code(text: impl Into<String>, cost: u64) -> Code {
    Code {
        text: text.into(),
        cost,
    }
}

/// What code at one point of a method may read, write and send.
#[derive(Clone, Default)]
struct Scope {
    /// The class whose method this is (`None`: the driver, `GMain`).
    class: Option<usize>,
    /// Sends go only to selectors numbered above this one.
    owner: Option<usize>,
    ints: Vec<String>,
    int_vars: Vec<String>,
    floats: Vec<String>,
    float_vars: Vec<String>,
    float_getters: Vec<String>,
    /// Getters of SmallInt instance variables; their setters add `:`.
    int_getters: Vec<String>,
    blocks: Vec<String>,
    /// Arrays of SmallInts, with their sizes.
    arrays: Vec<(String, u64)>,
    in_block: bool,
    /// In a small method: no blocks, loops, collections or new objects,
    /// sends only to small selectors.
    plain: bool,
    /// Whether `^` may appear (not in the driver, whose callers expect an Array).
    may_return: bool,
}

struct Generator {
    rng: Rng,
    classes: Vec<Class>,
    selectors: Vec<Selector>,
    modulus: u64,
    /// Temporaries of the method being generated.
    temps: Vec<String>,
    names: u32,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let mut rng = Rng::new(seed);
        let modulus = *rng.pick(&[1_000_003, 65_521, 9_973, 1_073_741_789]);
        let mut g = Generator {
            rng,
            classes: Vec::new(),
            selectors: Vec::new(),
            modulus,
            temps: Vec::new(),
            names: 0,
        };
        g.make_classes();
        g.make_selectors();
        g
    }

    fn make_classes(&mut self) {
        let n = self.rng.range(3, 8) as usize;
        for c in 0..n {
            let parent = if c == 0 || self.rng.chance(35) {
                None
            } else {
                Some(self.rng.below(c as u64) as usize)
            };
            let depth = parent.map_or(1, |p| self.classes[p].depth + 1);
            let ints = (0..self.rng.range(0, 2))
                .map(|k| format!("iv{c}x{k}"))
                .collect();
            let floats = (0..self.rng.range(0, 2))
                .map(|k| format!("fv{c}x{k}"))
                .collect();
            self.classes.push(Class {
                name: format!("GC{c}"),
                parent,
                depth,
                ints,
                floats,
            });
        }
    }

    /// Kinds at random; budgets from the last selector down, each able
    /// to afford a few sends of those above it.
    fn make_selectors(&mut self) {
        let n = self.rng.range(4, 9) as usize;
        for index in 0..n {
            let kind = match self.rng.below(10) {
                0..=2 => Kind::Unary,
                3..=4 => Kind::Ints(1),
                5 => Kind::Ints(2),
                6..=7 => Kind::Block,
                _ => Kind::Recursive {
                    max_depth: *self.rng.pick(&[4, 8, 12, 60, 300]),
                },
            };
            let small = !matches!(kind, Kind::Recursive { .. }) && self.rng.chance(40);
            self.selectors.push(Selector {
                index,
                kind,
                cap: 0,
                small,
            });
        }
        for i in (0..n).rev() {
            let small = self.selectors[i].small;
            let above = (i + 1..n)
                .filter(|&j| !small || self.selectors[j].small)
                .map(|j| self.send_cost(j))
                .max()
                .unwrap_or(0);
            let own = self.rng.range(20, 80) + self.rng.range(0, 3) * above;
            let levels = match self.selectors[i].kind {
                Kind::Recursive { max_depth } => max_depth,
                _ => 1,
            };
            self.selectors[i].cap = (own * levels).min(CAP_MAX);
        }
    }

    /// What one send of selector `i` may cost: the implementation found
    /// and, for an override in a subclass of GBase, GBase's under it
    /// (`super`).
    fn send_cost(&self, i: usize) -> u64 {
        let s = &self.selectors[i];
        match s.kind {
            Kind::Recursive { .. } => s.cap,
            _ => s.cap * 2,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    fn temp(&mut self, prefix: &str) -> String {
        let t = self.fresh(prefix);
        self.temps.push(t.clone());
        t
    }

    // ---- the program -------------------------------------------------

    fn program(mut self) -> String {
        let mut out = String::new();
        self.class_lines(&mut out);
        self.base_methods(&mut out);
        for c in 0..self.classes.len() {
            self.class_methods(c, &mut out);
        }
        self.driver(&mut out);
        self.top_level(&mut out);
        out
    }

    fn class_lines(&self, out: &mut String) {
        out.push_str("\"A generated program (tests/support/program_gen.rs).\"\n\n");
        out.push_str("CLASS GBase Object\n");
        for c in &self.classes {
            let parent = c
                .parent
                .map_or("GBase".into(), |p| self.classes[p].name.clone());
            let vars: Vec<&str> = c.ints.iter().chain(&c.floats).map(|s| s.as_str()).collect();
            let _ = writeln!(out, "CLASS {} {parent} {}", c.name, vars.join(" "));
        }
        out.push_str("CLASS GMain GBase objs\n\n");
    }

    /// `GBase`'s helpers and its implementation of every selector.
    fn base_methods(&mut self, out: &mut String) {
        let m = self.modulus;
        out.push_str(&format!(
            "!GBase\ninit: k\n    ^ self\n!\n\
             !GBase\ndigest\n    ^ 7\n!\n\
             !GBase\nfix: f\n    f < -1000.0 ifTrue: [^ -1000.0].\n    f > 1000.0 ifTrue: [^ 1000.0].\n    f = f ifFalse: [^ 0.0].\n    ^ f\n!\n\
             !GBase\ntoInt: f\n    ^ ((self fix: f) * 100.0) truncated\n!\n\
             !GBase\napply: aBlock to: x\n    ^ aBlock value: x\n!\n\
             !GBase\ntwice: aBlock to: x\n    ^ (aBlock value: (aBlock value: x) \\\\ {m})\n!\n\
             !GBase\npass: aBlock to: x depth: d\n    d = 0 ifTrue: [^ aBlock value: x].\n    ^ (self pass: aBlock to: x + 1 depth: d - 1) + 1\n!\n\
             !GBase\nescaper: k\n    ^ [:x | ^ x + k]\n!\n"
        ));
        out.push_str(&self.peer_method());
        for i in 0..self.selectors.len() {
            let text = self.method(None, i, false);
            let _ = write!(out, "!GBase\n{text}!\n");
        }
    }

    /// `GBase>>peer: k`: a new object whose class depends on `k`, so a
    /// send to it meets the classes as the values go (one class while a
    /// value stays small, then others).
    fn peer_method(&self) -> String {
        let n = self.classes.len();
        let mut text = format!("!GBase\npeer: k\n    | c |\n    c := k \\\\ {n}.\n");
        for c in 0..n - 1 {
            let _ = writeln!(text, "    c = {c} ifTrue: [^ GC{c} new init: k].");
        }
        let _ = write!(text, "    ^ GC{} new init: k\n!\n", n - 1);
        text
    }

    /// A class's `init:`, `digest`, getters and overrides.
    fn class_methods(&mut self, c: usize, out: &mut String) {
        let name = self.classes[c].name.clone();
        let m = self.modulus;
        let mut init = String::from("init: k\n    super init: k.\n");
        let mut digest = String::from("digest\n    ^ ((super digest * 31)");
        for (k, v) in self.classes[c].ints.iter().enumerate() {
            let _ = writeln!(init, "    {v} := (k * {} + {c}) \\\\ {m}.", k + 3);
            let _ = write!(digest, " + {v}");
        }
        for (k, v) in self.classes[c].floats.iter().enumerate() {
            let _ = writeln!(init, "    {v} := k asFloat * 0.{} + 1.5.", k + 3);
            let _ = write!(digest, " + (self toInt: {v})");
        }
        init.push_str("    ^ self\n");
        let _ = writeln!(digest, ") \\\\ {m}");
        let _ = write!(out, "!{name}\n{init}!\n!{name}\n{digest}!\n");
        for v in self.classes[c].floats.clone() {
            let _ = write!(out, "!{name}\ng{v}\n    ^ {v}\n!\n");
        }
        for v in self.classes[c].ints.clone() {
            let _ = write!(out, "!{name}\ng{v}\n    ^ {v}\n!\n");
            let _ = write!(out, "!{name}\ng{v}: x\n    {v} := x\n!\n");
        }
        for i in 0..self.selectors.len() {
            if self.rng.chance(45) {
                let use_super = self.classes[c].depth == 1 && self.rng.chance(40);
                let text = self.method(Some(c), i, use_super);
                let _ = write!(out, "!{name}\n{text}!\n");
            }
        }
    }

    /// The scope of a method of `class` (GBase for `None`) for selector `owner`.
    fn method_scope(&self, class: Option<usize>, owner: Option<usize>) -> Scope {
        let mut sc = Scope {
            class,
            owner,
            may_return: true,
            ..Scope::default()
        };
        let mut c = class;
        while let Some(k) = c {
            let cl = &self.classes[k];
            sc.ints.extend(cl.ints.iter().cloned());
            sc.floats.extend(cl.floats.iter().cloned());
            sc.float_getters
                .extend(cl.floats.iter().map(|f| format!("g{f}")));
            sc.int_getters
                .extend(cl.ints.iter().map(|v| format!("g{v}")));
            c = cl.parent;
        }
        sc.int_vars = sc.ints.clone();
        sc.float_vars = sc.floats.clone();
        sc
    }

    /// The text of an implementation of selector `i` in `class` (`None`:
    /// GBase); with `use_super`, its answer includes the inherited one.
    fn method(&mut self, class: Option<usize>, i: usize, use_super: bool) -> String {
        self.temps.clear();
        self.names = 0;
        let mut sc = self.method_scope(class, Some(i));
        let sel = &self.selectors[i];
        let (kind, cap, pattern, small) = (sel.kind, sel.cap, sel.pattern(), sel.small);
        sc.plain = small;
        for p in sel.int_params() {
            sc.ints.push(p.into());
        }
        if kind == Kind::Block {
            sc.blocks.push("n".into());
        }
        let body = match kind {
            Kind::Recursive { max_depth } => self.recursive_body(&mut sc, i, cap / max_depth),
            _ => {
                let super_send = (use_super && class.is_some()).then(|| {
                    let args = self.own_args(kind);
                    self.selectors[i].send("super", &args)
                });
                if small {
                    self.small_body(&sc, cap, super_send)
                } else {
                    self.plain_body(&mut sc, cap, super_send)
                }
            }
        };
        let temps = if self.temps.is_empty() {
            String::new()
        } else {
            format!("    | {} |\n", self.temps.join(" "))
        };
        format!("{pattern}\n{temps}{body}")
    }

    fn own_args(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Unary => vec![],
            Kind::Ints(1) | Kind::Recursive { .. } => vec!["n".into()],
            Kind::Ints(_) => vec!["n".into(), "m".into()],
            Kind::Block => vec!["n".into(), "m".into()],
        }
    }

    fn plain_body(&mut self, sc: &mut Scope, cap: u64, super_send: Option<String>) -> String {
        let count = self.rng.range(1, 4) as usize;
        let (stmts, cost) = self.statements(sc, count, cap * 3 / 4);
        let result = self.int_expr(sc, 2, cap.saturating_sub(cost));
        let m = self.modulus;
        let result = self.mixed(sc, result.text);
        let answer = match super_send {
            Some(s) => format!("({s} + {result}) \\\\ {m}"),
            None => result,
        };
        let mut body = String::new();
        for s in stmts {
            let _ = writeln!(body, "    {s}.");
        }
        let _ = writeln!(body, "    ^ {answer}");
        body
    }

    fn small_body(&mut self, sc: &Scope, cap: u64, super_send: Option<String>) -> String {
        let m = self.modulus;
        let e = self.int_expr(sc, 3, cap);
        let e = self.mixed(sc, e.text);
        match super_send {
            Some(s) => format!("    ^ ({s} + {e}) \\\\ {m}\n"),
            None => format!("    ^ {e}\n"),
        }
    }

    /// `value` plus a few of the SmallInts in scope (so that what the
    /// method computed shows in its answer), kept under the modulus.
    fn mixed(&mut self, sc: &Scope, value: String) -> String {
        let mut terms = vec![value];
        for _ in 0..self.rng.below(4).min(sc.ints.len() as u64) {
            terms.push(self.rng.pick(&sc.ints).clone());
        }
        if terms.len() == 1 {
            return terms.pop().unwrap_or_default();
        }
        format!("({}) \\\\ {}", terms.join(" + "), self.modulus)
    }

    fn recursive_body(&mut self, sc: &mut Scope, i: usize, budget: u64) -> String {
        let m = self.modulus;
        let base = self.int_expr(sc, 1, budget / 4);
        let count = self.rng.range(0, 2) as usize;
        let (stmts, cost) = self.statements(sc, count, budget / 2);
        let step = self.int_expr(sc, 1, budget.saturating_sub(cost + base.cost));
        let step = self.mixed(sc, step.text);
        let mut body = format!("    n <= 0 ifTrue: [^ {}].\n", base.text);
        for s in stmts {
            let _ = writeln!(body, "    {s}.");
        }
        let _ = writeln!(body, "    ^ ((self r{i}: n - 1) + {step}) \\\\ {m}");
        body
    }

    // ---- statements --------------------------------------------------

    fn statements(&mut self, sc: &mut Scope, count: usize, budget: u64) -> (Vec<String>, u64) {
        let mut out = Vec::new();
        let mut cost = 0;
        for _ in 0..count {
            let s = self.statement(sc, budget.saturating_sub(cost) / 2 + 1);
            cost += s.cost;
            out.push(s.text);
        }
        (out, cost)
    }

    /// Statements as a block's body: `s1. s2. e` (the last an expression).
    fn block_body(&mut self, sc: &Scope, params: &[String], budget: u64) -> Code {
        let mut inner = sc.clone();
        inner.in_block = true;
        inner.ints.extend(params.iter().cloned());
        let count = if sc.plain {
            0
        } else {
            self.rng.below(3) as usize
        };
        let (mut stmts, cost) = self.statements(&mut inner, count, budget / 2);
        let last = self.int_expr(&inner, 2, budget.saturating_sub(cost));
        let last_text = self.mixed(&inner, last.text);
        stmts.push(last_text);
        code(stmts.join(". "), cost + last.cost)
    }

    fn block(&mut self, sc: &Scope, params: &[String], budget: u64) -> Code {
        let body = self.block_body(sc, params, budget);
        let heads: String = params.iter().map(|p| format!(":{p} ")).collect();
        let bar = if params.is_empty() { "" } else { "| " };
        code(format!("[{heads}{bar}{}]", body.text), body.cost)
    }

    fn statement(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let m = self.modulus;
        let choice = self.rng.below(20);
        match choice {
            0..=3 => self.assign_int(sc, budget),
            4 if !sc.float_vars.is_empty() || self.rng.chance(50) => self.assign_float(sc, budget),
            5..=6 => self.conditional(sc, budget),
            7 if sc.may_return => {
                let cond = self.bool_expr(sc, 1, budget / 3);
                let value = self.int_expr(sc, 1, budget / 3);
                code(
                    format!("{} ifTrue: [^ {}]", cond.text, value.text),
                    cond.cost + value.cost,
                )
            }
            8..=9 if budget >= 8 => self.counted_loop(sc, budget),
            10 if budget >= 8 => self.while_loop(sc, budget),
            11 if budget >= 10 && !sc.in_block => self.build_array(sc, budget),
            12 if budget >= 10 && !sc.arrays.is_empty() => self.array_do(sc, budget),
            13 if !sc.in_block && budget >= BLOCK_COST => {
                let t = self.temp("blk");
                let x = self.fresh("x");
                let b = self.block(sc, &[x], BLOCK_COST);
                sc.blocks.push(t.clone());
                code(format!("{t} := {}", b.text), 1)
            }
            14 if sc.class.is_some() && self.rng.chance(3) => {
                // A rare error: the statement running this stops with a backtrace.
                let e = self.int_expr(sc, 1, budget / 2);
                code(
                    format!("{} \\\\ 97 = 13 ifTrue: [nil foo]", e.text),
                    e.cost + 2,
                )
            }
            _ => {
                let e = self.int_expr(sc, 3, budget);
                let t = self.new_int_temp(sc);
                code(format!("{t} := {}", bounded(&e.text, m)), e.cost + 2)
            }
        }
    }

    /// A new SmallInt temporary, readable after its assignment.
    fn new_int_temp(&mut self, sc: &mut Scope) -> String {
        let t = self.temp("t");
        sc.ints.push(t.clone());
        sc.int_vars.push(t.clone());
        t
    }

    fn assign_int(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let m = self.modulus;
        let e = self.int_expr(sc, 3, budget);
        if !sc.int_getters.is_empty() && self.rng.chance(20) {
            let setter = self.rng.pick(&sc.int_getters).clone();
            return code(
                format!("self {setter}: {}", bounded(&e.text, m)),
                e.cost + 3,
            );
        }
        let target = if !sc.int_vars.is_empty() && self.rng.chance(60) {
            self.rng.pick(&sc.int_vars).clone()
        } else {
            self.new_int_temp(sc)
        };
        code(format!("{target} := {}", bounded(&e.text, m)), e.cost + 2)
    }

    fn assign_float(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let e = self.float_expr(sc, 3, budget);
        let target = if !sc.float_vars.is_empty() && self.rng.chance(60) {
            self.rng.pick(&sc.float_vars).clone()
        } else {
            let t = self.temp("g");
            sc.floats.push(t.clone());
            sc.float_vars.push(t.clone());
            t
        };
        code(format!("{target} := self fix: {}", e.text), e.cost + 2)
    }

    fn conditional(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let cond = self.bool_expr(sc, 2, budget / 4);
        let left = budget.saturating_sub(cond.cost);
        let (yes, c1) = self.branch(sc, left / 2);
        if self.rng.chance(50) {
            let (no, c2) = self.branch(sc, left / 2);
            code(
                format!("{} ifTrue: [{yes}] ifFalse: [{no}]", cond.text),
                cond.cost + c1.max(c2),
            )
        } else {
            code(format!("{} ifTrue: [{yes}]", cond.text), cond.cost + c1)
        }
    }

    /// Statements of an inlined branch (temporaries made there stay there).
    fn branch(&mut self, sc: &Scope, budget: u64) -> (String, u64) {
        let mut inner = sc.clone();
        let count = self.rng.range(1, 2) as usize;
        let (stmts, cost) = self.statements(&mut inner, count, budget);
        (stmts.join(". "), cost)
    }

    /// Mostly a few iterations; sometimes enough for the JIT to move a
    /// running loop to compiled code at its head.
    fn loop_count(&mut self, budget: u64) -> u64 {
        let wanted = if self.rng.chance(10) {
            self.rng.range(20, 40)
        } else {
            self.rng.range(1, 5)
        };
        wanted.min(budget / 4).max(1)
    }

    fn counted_loop(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let times = self.loop_count(budget);
        let mut inner = sc.clone();
        inner.in_block = true;
        let i = self.fresh("i");
        let (head, params) = match self.rng.below(3) {
            0 => (format!("{times} timesRepeat: ["), vec![]),
            1 => (format!("(1 to: {times}) do: [:{i} | "), vec![i.clone()]),
            _ => (format!("1 to: {times} do: [:{i} | "), vec![i.clone()]),
        };
        inner.ints.extend(params);
        let count = self.rng.range(1, 3) as usize;
        let (stmts, cost) = self.statements(&mut inner, count, budget / times);
        code(format!("{head}{}]", stmts.join(". ")), times * (cost + 2))
    }

    fn while_loop(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let times = self.loop_count(budget);
        let w = self.temp("w");
        let mut inner = sc.clone();
        inner.ints.push(w.clone());
        let count = self.rng.range(1, 3) as usize;
        let (stmts, cost) = self.statements(&mut inner, count, budget / times);
        code(
            format!(
                "{w} := 0. [{w} < {times}] whileTrue: [{}. {w} := {w} + 1]",
                stmts.join(". ")
            ),
            times * (cost + 3),
        )
    }

    fn build_array(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let size = self.rng.range(1, 6).min(budget / 4).max(1);
        let a = self.temp("a");
        let i = self.fresh("i");
        let mut inner = sc.clone();
        inner.in_block = true;
        inner.ints.push(i.clone());
        let e = self.int_expr(&inner, 2, budget / size);
        sc.arrays.push((a.clone(), size));
        code(
            format!(
                "{a} := Array new: {size}. 1 to: {size} do: [:{i} | {a} at: {i} put: {}]",
                e.text
            ),
            size * (e.cost + 2),
        )
    }

    fn array_do(&mut self, sc: &mut Scope, budget: u64) -> Code {
        let (a, size) = self.rng.pick(&sc.arrays).clone();
        let e = self.fresh("e");
        let mut inner = sc.clone();
        inner.in_block = true;
        inner.ints.push(e.clone());
        let count = self.rng.range(1, 2) as usize;
        let (stmts, cost) = self.statements(&mut inner, count, budget / size);
        let selector = if self.rng.chance(25) {
            "reverseDo:"
        } else {
            "do:"
        };
        code(
            format!("{a} {selector} [:{e} | {}]", stmts.join(". ")),
            size * (cost + 1),
        )
    }

    // ---- expressions -------------------------------------------------

    fn int_leaf(&mut self, sc: &Scope) -> Code {
        if !sc.ints.is_empty() && self.rng.chance(75) {
            return code(self.rng.pick(&sc.ints).clone(), 1);
        }
        if !sc.int_getters.is_empty() && self.rng.chance(15) {
            return code(format!("(self {})", self.rng.pick(&sc.int_getters)), 2);
        }
        if !sc.arrays.is_empty() && self.rng.chance(20) {
            let (a, size) = self.rng.pick(&sc.arrays).clone();
            let k = self.rng.range(1, size);
            return code(format!("({a} at: {k})"), 1);
        }
        let n = match self.rng.below(20) {
            0 => self.rng.range(1000, 100_000),
            1 => self.rng.range(1 << 29, 1 << 31),
            _ => self.rng.below(20),
        };
        code(n.to_string(), 1)
    }

    fn int_expr(&mut self, sc: &Scope, depth: u32, budget: u64) -> Code {
        if depth == 0 || budget < 3 {
            return self.int_leaf(sc);
        }
        let made = match self.rng.below(24) {
            0..=5 => Some(self.arith(sc, depth, budget)),
            6..=9 => self.send(sc, depth, budget),
            10 => Some(self.choose(sc, depth, budget)),
            11..=12 => self.block_value(sc, depth, budget),
            13..=14 if !sc.plain => self.collection(sc, depth, budget),
            15 => {
                let f = self.float_expr(sc, depth, budget.saturating_sub(2));
                Some(code(format!("(self toInt: {})", f.text), f.cost + 2))
            }
            16 if !sc.plain => self.helper_block(sc, depth, budget),
            17 if self.rng.chance(30) => {
                let e = self.int_expr(sc, depth - 1, budget / 2);
                Some(code(format!("({} + {NEAR_MAX})", e.text), e.cost + 1))
            }
            18 => {
                let e = self.int_expr(sc, depth - 1, budget);
                let op = self.rng.pick(&["abs", "negated"]);
                Some(code(format!("{} {op}", paren(&e.text)), e.cost + 1))
            }
            _ => None,
        };
        made.unwrap_or_else(|| self.int_leaf(sc))
    }

    fn arith(&mut self, sc: &Scope, depth: u32, budget: u64) -> Code {
        let a = self.int_expr(sc, depth - 1, budget / 2);
        let op = *self
            .rng
            .pick(&["+", "-", "*", "+", "\\\\", "//", "max:", "min:", "rem:"]);
        if matches!(op, "\\\\" | "//" | "rem:") {
            let k = self.rng.range(1, 50);
            return code(format!("({} {op} {k})", a.text), a.cost + 1);
        }
        let b = self.int_expr(sc, depth - 1, budget.saturating_sub(a.cost));
        code(format!("({} {op} {})", a.text, b.text), a.cost + b.cost + 1)
    }

    fn choose(&mut self, sc: &Scope, depth: u32, budget: u64) -> Code {
        let c = self.bool_expr(sc, depth - 1, budget / 3);
        let left = budget.saturating_sub(c.cost) / 2;
        let a = self.int_expr(sc, depth - 1, left);
        let b = self.int_expr(sc, depth - 1, left);
        code(
            format!("({} ifTrue: [{}] ifFalse: [{}])", c.text, a.text, b.text),
            c.cost + a.cost.max(b.cost),
        )
    }

    /// Selectors this scope may send within `budget`.
    fn sendable(&self, sc: &Scope, budget: u64) -> Vec<usize> {
        let first = sc.owner.map_or(0, |o| o + 1);
        (first..self.selectors.len())
            .filter(|&i| self.send_cost(i) + 4 <= budget)
            .filter(|&i| !sc.plain || self.selectors[i].small)
            .collect()
    }

    fn receiver(&mut self, sc: &Scope) -> String {
        let fresh_object = !sc.plain && self.rng.chance(15);
        if fresh_object {
            let c = self.rng.below(self.classes.len() as u64);
            let k = self.rng.below(10);
            return format!("(GC{c} new init: {k})");
        }
        if !sc.plain && !sc.ints.is_empty() && self.rng.chance(15) {
            let v = self.rng.pick(&sc.ints).clone();
            let step = self.rng.pick(&[1, 4, 16]);
            return format!("(self peer: {v} // {step})");
        }
        let has_parent = sc.class.is_some();
        if has_parent && self.rng.chance(20) {
            "super".into()
        } else {
            "self".into()
        }
    }

    fn send(&mut self, sc: &Scope, depth: u32, budget: u64) -> Option<Code> {
        let candidates = self.sendable(sc, budget);
        if candidates.is_empty() {
            return None;
        }
        let i = *self.rng.pick(&candidates);
        let receiver = self.receiver(sc);
        // A new object (`new init:`, `peer:`) costs a few sends more.
        let made = if receiver.starts_with('(') { 12 } else { 0 };
        let mut left = budget.saturating_sub(self.send_cost(i) + made);
        let (args, cost) = self.args(sc, i, depth, &mut left);
        let text = self.selectors[i].send(&receiver, &args);
        Some(code(text, self.send_cost(i) + made + cost + 1))
    }

    /// Arguments for a send of selector `i`.
    fn args(&mut self, sc: &Scope, i: usize, depth: u32, left: &mut u64) -> (Vec<String>, u64) {
        let mut cost = 0;
        let mut int_arg = |g: &mut Generator, left: &mut u64| {
            let e = g.int_expr(sc, depth - 1, *left / 3);
            *left = left.saturating_sub(e.cost);
            cost += e.cost;
            e.text
        };
        match self.selectors[i].kind {
            Kind::Unary => (vec![], 0),
            Kind::Ints(1) => (vec![int_arg(self, left)], cost),
            Kind::Ints(_) => {
                let a = int_arg(self, left);
                let b = int_arg(self, left);
                (vec![a, b], cost)
            }
            Kind::Recursive { max_depth } => {
                let a = int_arg(self, left);
                (vec![format!("({a} \\\\ {max_depth})")], cost + 1)
            }
            Kind::Block => {
                let a = int_arg(self, left);
                let b = self.block_arg(sc);
                (vec![b, a], cost)
            }
        }
    }

    /// A block to pass: a literal (maybe with a non-local return), or a
    /// block variable when the code is not itself in a block.
    fn block_arg(&mut self, sc: &Scope) -> String {
        if !sc.in_block && !sc.blocks.is_empty() && self.rng.chance(50) {
            return self.rng.pick(&sc.blocks).clone();
        }
        let x = self.fresh("x");
        self.block(sc, &[x], BLOCK_COST).text
    }

    fn block_value(&mut self, sc: &Scope, depth: u32, budget: u64) -> Option<Code> {
        if sc.in_block || sc.blocks.is_empty() || budget < BLOCK_COST + 4 {
            return None;
        }
        let b = self.rng.pick(&sc.blocks).clone();
        let a = self.int_expr(sc, depth - 1, budget - BLOCK_COST - 2);
        Some(code(
            format!("({b} value: {})", a.text),
            a.cost + BLOCK_COST + 1,
        ))
    }

    /// `apply:to:`, `twice:to:`, `pass:to:depth:` (a block through
    /// several frames) or a block whose home has returned.
    fn helper_block(&mut self, sc: &Scope, depth: u32, budget: u64) -> Option<Code> {
        if budget < 2 * BLOCK_COST + 12 {
            return None;
        }
        let a = self.int_expr(sc, depth - 1, 4);
        let which = self.rng.below(4);
        if which == 3 {
            let k = self.rng.below(9);
            return Some(code(
                format!("((self escaper: {k}) value: {})", a.text),
                a.cost + 3,
            ));
        }
        let b = self.block_arg(sc);
        let text = match which {
            0 => format!("(self apply: {b} to: {})", a.text),
            1 => format!("(self twice: {b} to: {})", a.text),
            _ => format!(
                "(self pass: {b} to: {} depth: {})",
                a.text,
                self.rng.range(1, 6)
            ),
        };
        Some(code(text, a.cost + 2 * BLOCK_COST + 8))
    }

    /// A SmallInt computed over an Array or an Interval.
    fn collection(&mut self, sc: &Scope, depth: u32, budget: u64) -> Option<Code> {
        let m = self.modulus;
        let (source, size) = self.array_source(sc);
        if budget < size * 6 + 4 {
            return None;
        }
        let per = (budget - 4) / size / 2;
        let e = self.fresh("e");
        let text = match self.rng.below(4) {
            0 => {
                let acc = self.fresh("p");
                let b = self.block(sc, &[acc.clone(), e], per);
                let init = self.int_expr(sc, depth - 1, 2);
                format!(
                    "(({source} inject: {} into: {}) \\\\ {m})",
                    init.text, b.text
                )
            }
            1 => {
                let cond = self.bool_block(sc, &e, per);
                let none = self.int_expr(sc, depth - 1, per);
                format!("({source} detect: {cond} ifNone: [{}])", none.text)
            }
            2 => {
                let b = self.block(sc, std::slice::from_ref(&e), per);
                let p = self.fresh("p");
                let q = self.fresh("q");
                format!(
                    "(({source} collect: {}) inject: 0 into: [:{p} :{q} | ({p} + {q}) \\\\ {m}])",
                    b.text
                )
            }
            _ => {
                let cond = self.bool_block(sc, &e, per);
                format!("({source} select: {cond}) size")
            }
        };
        Some(code(format!("({text})"), size * per * 2 + 4))
    }

    fn bool_block(&mut self, sc: &Scope, param: &str, budget: u64) -> String {
        let mut inner = sc.clone();
        inner.in_block = true;
        inner.ints.push(param.into());
        let c = self.bool_expr(&inner, 2, budget);
        format!("[:{param} | {}]", c.text)
    }

    fn array_source(&mut self, sc: &Scope) -> (String, u64) {
        if !sc.arrays.is_empty() && self.rng.chance(50) {
            return self.rng.pick(&sc.arrays).clone();
        }
        let size = self.rng.range(1, 5);
        if self.rng.chance(40) {
            return (format!("(1 to: {size})"), size);
        }
        let items: Vec<String> = (0..size).map(|_| self.rng.below(30).to_string()).collect();
        (format!("#({})", items.join(" ")), size)
    }

    fn bool_expr(&mut self, sc: &Scope, depth: u32, budget: u64) -> Code {
        let choice = if depth == 0 { 0 } else { self.rng.below(10) };
        match choice {
            0..=4 => {
                let a = self.int_expr(sc, depth.saturating_sub(1), budget / 2);
                let b = self.int_expr(sc, depth.saturating_sub(1), budget / 2);
                let op = self.rng.pick(&["<", "<=", "=", ">", ">=", "~="]);
                code(format!("({} {op} {})", a.text, b.text), a.cost + b.cost + 1)
            }
            5..=6 => {
                let a = self.float_expr(sc, depth - 1, budget / 2);
                let b = self.float_expr(sc, depth - 1, budget / 2);
                let op = self.rng.pick(&["<", ">", "<=", "="]);
                code(format!("({} {op} {})", a.text, b.text), a.cost + b.cost + 1)
            }
            7 => {
                let a = self.bool_expr(sc, depth - 1, budget / 2);
                let b = self.bool_expr(sc, depth - 1, budget / 2);
                let op = self.rng.pick(&["and:", "or:"]);
                code(
                    format!("({} {op} [{}])", a.text, b.text),
                    a.cost + b.cost + 1,
                )
            }
            8 => {
                // Not `even`: in the driver's Float phase it is not understood.
                let a = self.int_expr(sc, depth - 1, budget);
                let r = self.rng.below(2);
                code(format!("(({} \\\\ 2) = {r})", a.text), a.cost + 2)
            }
            _ => {
                let a = self.bool_expr(sc, depth - 1, budget);
                code(format!("{} not", paren(&a.text)), a.cost + 1)
            }
        }
    }

    fn float_leaf(&mut self, sc: &Scope) -> Code {
        match self.rng.below(6) {
            0 | 1 if !sc.floats.is_empty() => code(self.rng.pick(&sc.floats).clone(), 1),
            2 if !sc.float_getters.is_empty() => {
                code(format!("(self {})", self.rng.pick(&sc.float_getters)), 2)
            }
            3 => {
                let a = self.int_leaf(sc);
                code(format!("{} asFloat", a.text), 2)
            }
            _ => {
                let lit = *self.rng.pick(&[
                    "0.5", "1.25", "2.0", "0.1", "3.75", "1.0e-3", "1.0e308", "0.0",
                ]);
                code(lit, 1)
            }
        }
    }

    fn float_expr(&mut self, sc: &Scope, depth: u32, budget: u64) -> Code {
        if depth == 0 || budget < 3 || self.rng.chance(25) {
            return self.float_leaf(sc);
        }
        // Infinities and NaNs come from 1.0e308 and division by 0.0.
        match self.rng.below(8) {
            0..=4 => {
                let a = self.float_expr(sc, depth - 1, budget / 2);
                let b = self.float_expr(sc, depth - 1, budget / 2);
                let op = self
                    .rng
                    .pick(&["+", "-", "*", "+", "*", "/", "max:", "min:"]);
                code(format!("({} {op} {})", a.text, b.text), a.cost + b.cost + 1)
            }
            5 => {
                let a = self.float_expr(sc, depth - 1, budget);
                let d = self.rng.pick(&["2.0", "0.25", "3.0", "7.5", "0.0"]);
                code(format!("({} / {d})", a.text), a.cost + 1)
            }
            6 => {
                let a = self.float_expr(sc, depth - 1, budget);
                let op = self
                    .rng
                    .pick(&["abs", "abs sqrt", "negated", "sqrt", "abs ln"]);
                code(format!("{} {op}", paren(&a.text)), a.cost + 1)
            }
            _ => {
                let a = self.int_expr(sc, depth - 1, budget);
                code(format!("{} asFloat", paren(&a.text)), a.cost + 1)
            }
        }
    }

    // ---- the driver and the top level ---------------------------------

    /// `GMain`: `run:` makes one object of every class and, through one
    /// method `d<i>:into:` per selector, sends each selector to every
    /// object (a polymorphic site) and to one of them (monomorphic),
    /// answering an Array of checksums; `warm:` runs it again and again.
    fn driver(&mut self, out: &mut String) {
        let m = self.modulus;
        let count = self.classes.len();
        let slots = self.selectors.len() * 2 + 1;
        let mut fill = format!("fill: n\n    objs := Array new: {count}.\n");
        for c in 0..count {
            let _ = writeln!(
                fill,
                "    objs at: {} put: (GC{c} new init: n + {c}).",
                c + 1
            );
        }
        fill.push_str("    ^ self\n");
        let _ = write!(out, "!GMain\n{fill}!\n");
        let mut run = String::from("run: n\n    | out sum |\n    self fill: n.\n");
        let _ = writeln!(run, "    out := Array new: {slots}.");
        for i in 0..self.selectors.len() {
            let _ = writeln!(run, "    self d{i}: n into: out.");
            let text = self.drive_selector(i);
            let _ = write!(out, "!GMain\n{text}!\n");
        }
        let _ = writeln!(run, "    sum := 0.");
        let _ = writeln!(run, "    objs do: [:o | sum := (sum + o digest) \\\\ {m}].");
        let _ = writeln!(run, "    out at: {slots} put: sum.");
        run.push_str("    ^ out\n");
        let _ = write!(out, "!GMain\n{run}!\n");
        let _ = write!(
            out,
            "!GMain\nwarm: n\n    | s |\n    s := 0.\n    1 to: n do: [:i |\n        s := (self run: i) inject: s into: [:a :e | (a + e) \\\\ {m}]].\n    ^ s\n!\n"
        );
    }

    /// `d<i>: n into: out`: selector `i` sent to every object and to one.
    fn drive_selector(&mut self, i: usize) -> String {
        let m = self.modulus;
        self.temps.clear();
        self.names = 0;
        let mut sc = self.method_scope(None, None);
        sc.may_return = false;
        sc.ints.push("n".into());
        let mut left = 8 + self.rng.below(40);
        let (args, _) = self.args(&sc, i, 2, &mut left);
        let all = self.selectors[i].send("o", &args);
        let k = self.rng.range(1, self.classes.len() as u64);
        let one = self.selectors[i].send(&format!("(objs at: {k})"), &args);
        let mut temps = vec!["sum".to_string()];
        temps.append(&mut self.temps);
        format!(
            "d{i}: n into: out\n    | {} |\n    sum := 0.\n    objs do: [:o | sum := (sum + {all}) \\\\ {m}].\n    out at: {} put: sum.\n    out at: {} put: {one} \\\\ {m}.\n    ^ out\n",
            temps.join(" "),
            2 * i + 1,
            2 * i + 2
        )
    }

    /// Runs, warm-ups, and redefinitions between them.
    fn top_level(&mut self, out: &mut String) {
        self.redefining_warm_up(out);
        let run = |out: &mut String, n: &str| writeln!(out, "(GMain new run: {n}) printNl.");
        let warm = |out: &mut String| writeln!(out, "(GMain new warm: {WARM_UP}) printNl.");
        let _ = run(out, "1");
        let _ = warm(out);
        let _ = run(out, "2");
        for r in self.redefinitions() {
            let _ = writeln!(out, "{r}.");
        }
        let _ = run(out, "3");
        let _ = warm(out);
        let _ = run(out, "4");
        // Compiled on SmallInts, the methods now get LargeIntegers, then Floats.
        let _ = run(out, NEAR_MAX);
        let _ = run(out, "2.5");
        let _ = run(out, "5");
        self.probes(out);
        let half = WARM_UP / 2;
        let _ = writeln!(
            out,
            "(GMain new warm: {WARM_UP} redefineAt: {half}) printNl."
        );
        let _ = run(out, "6");
        let _ = writeln!(out, "'end' printNl.");
    }

    /// A few hot driver methods given what they never saw (nil, a
    /// String, a Symbol, a Character, a Float, a LargeInteger): special
    /// sends inside compiled and inlined code take their slow paths or
    /// fail, and an error's backtrace must name the same methods.
    fn probes(&mut self, out: &mut String) {
        let slots = self.selectors.len() * 2 + 1;
        for _ in 0..self.rng.range(1, 3) {
            let i = self.rng.below(self.selectors.len() as u64);
            let value = *self
                .rng
                .pick(&["nil", "'abc'", "#foo", "$a", "0.75", NEAR_MAX, "(0 - 7)"]);
            let _ = writeln!(
                out,
                "((GMain new fill: 3) d{i}: {value} into: (Array new: {slots})) printNl."
            );
        }
    }

    /// `GMain>>warm:redefineAt:`, a warm-up loop that halfway through
    /// compiles methods anew while it and its callers run compiled.
    fn redefining_warm_up(&mut self, out: &mut String) {
        let m = self.modulus;
        let _ = write!(out, "!GMain\nredefine\n");
        for r in self.redefinitions() {
            let _ = writeln!(out, "    {r}.");
        }
        let _ = write!(out, "    ^ 0\n!\n");
        let _ = write!(
            out,
            "!GMain\nwarm: n redefineAt: k\n    | s |\n    s := 0.\n    1 to: n do: [:i |\n        i = k ifTrue: [self redefine].\n        s := (self run: i) inject: s into: [:a :e | (a + e) \\\\ {m}]].\n    ^ s\n!\n"
        );
    }

    /// One to three methods compiled anew (`Class compile: '…'` statements): an
    /// override replaced, SmallInt's `rem:` now and then, one added where a class inherited, GBase's
    /// replaced (small selectors, which get inlined, more often), or a
    /// getter changed.
    fn redefinitions(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if self.rng.chance(15) {
            // A SmallInt operation the JIT does inline (`rem:`), changed
            // under the compiled code; the generator uses it only with
            // literal divisors and never for loop counts.
            out.push("SmallInt compile: 'rem: aNumber\n    ^ (self \\\\ aNumber) + 1'".into());
        }
        for _ in 0..self.rng.range(1, 3) {
            let class = if self.rng.chance(25) {
                None
            } else {
                Some(self.rng.below(self.classes.len() as u64) as usize)
            };
            let name = class.map_or("GBase".into(), |c| self.classes[c].name.clone());
            let text = match self.getter_redefinition(class) {
                Some(text) => text,
                None => {
                    let i = self.selector_to_redefine();
                    let use_super =
                        class.is_some_and(|c| self.classes[c].depth == 1) && self.rng.chance(40);
                    self.method(class, i, use_super)
                }
            };
            out.push(format!("{name} compile: '{}'", text.replace('\'', "''")));
        }
        out
    }

    /// Sometimes a new getter of one of `class`'s instance variables.
    fn getter_redefinition(&mut self, class: Option<usize>) -> Option<String> {
        let c = &self.classes[class?];
        let floats = c.floats.first().cloned();
        let ints = c.ints.first().cloned();
        if !self.rng.chance(30) {
            return None;
        }
        match (floats, ints) {
            (Some(f), _) if self.rng.chance(50) => Some(format!("g{f}\n    ^ {f} * 2.0 + 1.0\n")),
            (_, Some(v)) => Some(format!("g{v}\n    ^ {v} + 1\n")),
            _ => None,
        }
    }

    fn selector_to_redefine(&mut self) -> usize {
        let small: Vec<usize> = (0..self.selectors.len())
            .filter(|&i| self.selectors[i].small)
            .collect();
        if !small.is_empty() && self.rng.chance(50) {
            *self.rng.pick(&small)
        } else {
            self.rng.below(self.selectors.len() as u64) as usize
        }
    }
}

/// A SmallInt expression kept under `modulus` (a single word is left as is).
fn bounded(text: &str, modulus: u64) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric()) {
        text.to_string()
    } else {
        format!("{text} \\\\ {modulus}")
    }
}

/// `text` in parentheses unless it is one word or already parenthesized.
fn paren(text: &str) -> String {
    let simple = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    if simple || (text.starts_with('(') && text.ends_with(')') && balanced_outer(text)) {
        text.to_string()
    } else {
        format!("({text})")
    }
}

/// Whether the first `(` of `text` closes at its last character.
fn balanced_outer(text: &str) -> bool {
    let mut depth = 0i32;
    for (k, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && k + ch.len_utf8() < text.len() {
            return false;
        }
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_program() {
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7), generate(8));
    }

    #[test]
    fn programs_use_every_feature_the_test_promises() {
        let programs: Vec<String> = (0..60).map(generate).collect();
        let some = |needle: &str| programs.iter().any(|p| p.contains(needle));
        for needle in [
            " compile: '",
            "SmallInt compile:",
            "redefineAt:",
            "super ",
            "inject: ",
            "detect: ",
            "collect: ",
            "timesRepeat: [",
            "whileTrue: [",
            " to: ",
            "at: 1 put:",
            "escaper: ",
            "pass: [",
            "peer: ",
            "4611686018427387000",
            "1.0e308",
            " / 0.0",
            "nil foo",
        ] {
            assert!(some(needle), "no program has {needle:?}");
        }
        assert!(
            programs.iter().any(|p| has_generated_block_with_return(p)),
            "no program returns from a generated block"
        );
    }

    /// Whether a generated block (`[:x<n> | …]`) holds a `^`.
    fn has_generated_block_with_return(program: &str) -> bool {
        program.match_indices("[:x").any(|(at, _)| {
            let rest = &program[at + 1..];
            if !rest[2..].starts_with(|c: char| c.is_ascii_digit()) {
                return false;
            }
            let mut depth = 1;
            for ch in rest.chars() {
                match ch {
                    '[' => depth += 1,
                    ']' if depth == 1 => return false,
                    ']' => depth -= 1,
                    '^' => return true,
                    _ => {}
                }
            }
            false
        })
    }

    #[test]
    fn paren_wraps_only_compound_text() {
        assert_eq!(paren("x1"), "x1");
        assert_eq!(paren("(a + b)"), "(a + b)");
        assert_eq!(paren("(a) + (b)"), "((a) + (b))");
        assert_eq!(paren("self u1"), "(self u1)");
    }
}
