//! AST → LST bytecode: the one code generator of lst.
//!
//! Owns variable resolution (arguments, temporaries, instance variables,
//! pseudo-variables, globals), the inlining of the control selectors with
//! literal blocks (as LST's compilers do), block layout, branch patching,
//! literal collection and the operand-stack depth. It does not touch the
//! heap: literals come out as [`LiteralValue`]s (globals by name), which the
//! VM's linker turns into objects.
//!
//! Conventions follow LLST's image builder where they cost nothing (each
//! statement is popped, methods end `popTop; selfReturn`, `ifTrue:` without
//! an else arm answers nil), so our bytecode reads like LLST's. Where LLST
//! is unsafe or wasteful we differ: every block gets its own temporary
//! slots (LLST reuses them across sibling blocks), an inlined `whileTrue:`
//! creates no dead block object, inlined `whileTrue:` loops answer nil,
//! the counting loops (`to:do:` and friends) and the nil tests (`ifNil:`
//! and friends) are inlined too, and immutable
//! literals (selectors, globals, Symbols, integers, Chars) are shared
//! within a method (fewer literals, fewer extended instructions).

use crate::ast::*;
use crate::diagnostic::{Diagnostic, Span};
use lst_bytecode::{BINARY_SPECIALS, LLST_BINARY_SPECIALS, Op, UNARY_SPECIALS, encode};

/// A literal of a compiled method, independent of any heap.
#[derive(Clone, Debug, PartialEq)]
pub enum LiteralValue {
    /// A constant written in the source (number, string, symbol, array …).
    Constant(Literal),
    /// A selector (a Symbol).
    Selector(String),
    /// The value of a global variable, bound when the method is linked.
    Global { name: String, span: Span },
}

/// A compiled method, ready for the VM to link into heap objects.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledMethod {
    pub selector: String,
    pub arg_count: usize,
    pub bytecodes: Vec<u8>,
    pub literals: Vec<LiteralValue>,
    /// The deepest the operand stack gets.
    pub stack_size: usize,
    /// Temporaries, including every block's parameters and temporaries.
    pub temp_size: usize,
    /// Each block's body offset (just after its `pushBlock`) and parameter count.
    pub block_arities: Vec<(u16, u8)>,
    /// The source text.
    pub source: String,
}

/// Compiles the source of a method of a class with instance variables
/// `ivars` (every one, inherited first).
pub fn compile_method(source: &str, ivars: &[String]) -> Result<CompiledMethod, Vec<Diagnostic>> {
    let method = crate::parse_method(source)?;
    generate(&method, ivars, source)
}

/// Compiles a method as LLST's image builder would shape it: only the
/// control selectors LLST inlines are inlined (`to:do:` and friends stay
/// sends). For comparing our bytecode with LLST's.
pub fn compile_method_like_llst(
    source: &str,
    ivars: &[String],
) -> Result<CompiledMethod, Vec<Diagnostic>> {
    let method = crate::parse_method(source)?;
    generate_with(&method, ivars, source, None, Shape::Llst)
}

/// Compiles statements (with optional leading temporaries) as a method
/// `doIt` of a class with instance variables `ivars`; it answers the value
/// of its last statement.
pub fn compile_doit(source: &str, ivars: &[String]) -> Result<CompiledMethod, Vec<Diagnostic>> {
    generate(&parse_doit(source)?, ivars, source)
}

/// Parses statements as a doIt that answers the value of its last one.
pub(crate) fn parse_doit(source: &str) -> Result<Method, Vec<Diagnostic>> {
    let mut method = crate::parse_expression(source)?;
    if let Some(Stmt::Expr(e)) = method.body.last() {
        let span = e.span();
        let value = e.clone();
        *method.body.last_mut().expect("a last statement") = Stmt::Return { value, span };
    }
    Ok(method)
}

/// Generates code for a doIt whose undeclared `variables` are workspace
/// variables kept in the global `dictionary` (see [`crate::workspace`]).
pub(crate) fn generate_in_workspace(
    method: &Method,
    source: &str,
    dictionary: &str,
    variables: &[String],
) -> Result<CompiledMethod, Vec<Diagnostic>> {
    generate_with(
        method,
        &[],
        source,
        Some((dictionary, variables)),
        Shape::Lst,
    )
}

/// Generates code for a parsed method.
pub fn generate(
    method: &Method,
    ivars: &[String],
    source: &str,
) -> Result<CompiledMethod, Vec<Diagnostic>> {
    generate_with(method, ivars, source, None, Shape::Lst)
}

/// The shape of the bytecode: what is inlined and which special sends
/// are used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// LLST's: `ifTrue:` and friends, `and:`/`or:`, `whileTrue:` and
    /// friends inlined; LLST's three binary special sends.
    Llst,
    /// LLST's set plus the counting loops `to:do:`, `to:by:do:` (with a
    /// literal step), `downTo:do:` and `timesRepeat:`, and the nil tests
    /// `ifNil:`, `ifNotNil:` and their pairs, as Squeak and Pharo compile
    /// them; every one of [`BINARY_SPECIALS`] as a special send.
    Lst,
}

fn generate_with(
    method: &Method,
    ivars: &[String],
    source: &str,
    workspace: Option<(&str, &[String])>,
    shape: Shape,
) -> Result<CompiledMethod, Vec<Diagnostic>> {
    let mut g = Gen {
        ivars,
        workspace,
        shape,
        args: method.params.iter().map(|n| n.text.clone()).collect(),
        scopes: vec![],
        temp_count: 0,
        temp_max: 0,
        block_arities: vec![],
        code: vec![],
        literals: vec![],
        depth: 0,
        max_depth: 0,
        block_depth: 0,
        diags: vec![],
        reported_literals: false,
        reported_temporaries: false,
    };
    if let Some(extra) = method.params.get(MAX_ARGUMENTS) {
        g.error(
            format!("a method may take at most {MAX_ARGUMENTS} arguments"),
            extra.span,
        );
    }
    g.check_unique(&method.params, &method.temps);
    g.open_scope(&method.temps);
    for stmt in &method.body {
        g.statement(stmt);
        g.op(Op::PopTop, 0);
    }
    g.op(Op::SelfReturn, 0);
    if g.code.len() > u16::MAX as usize {
        g.error("method too large (over 64 KiB of bytecode)", method.span);
    }
    if !g.diags.is_empty() {
        return Err(g.diags);
    }
    Ok(CompiledMethod {
        selector: method.selector.clone(),
        arg_count: method.params.len(),
        bytecodes: g.code,
        literals: g.literals,
        stack_size: g.max_depth.max(1),
        temp_size: g.temp_max,
        block_arities: g.block_arities,
        source: source.to_string(),
    })
}

/// What a name refers to.
enum Var {
    SelfOrSuper,
    Argument(usize),
    Temporary(usize),
    Instance(usize),
    Constant(u8),
    Global,
    /// A workspace variable, kept in the workspace's dictionary.
    Workspace,
}

/// The most literals a method may have: `pushLiteral` and `sendMessage`
/// take the index in one byte.
const MAX_LITERALS: usize = 256;
/// The most temporaries (with every block's parameters and temporaries) a
/// method may have: `pushTemporary` takes the slot in one byte.
const MAX_TEMPORARIES: usize = 256;
/// The most arguments a method may take: `pushArgument` takes the index in
/// one byte and index 0 is `self`.
const MAX_ARGUMENTS: usize = 255;

struct Gen<'a> {
    ivars: &'a [String],
    /// The workspace's dictionary global and variables, for a REPL doIt.
    workspace: Option<(&'a str, &'a [String])>,
    shape: Shape,
    args: Vec<String>,
    /// Temporaries in scope, innermost scope last: (name, slot).
    scopes: Vec<Vec<(String, usize)>>,
    temp_count: usize,
    temp_max: usize,
    block_arities: Vec<(u16, u8)>,
    code: Vec<u8>,
    literals: Vec<LiteralValue>,
    depth: usize,
    max_depth: usize,
    /// Real (not inlined) blocks around the code being generated.
    block_depth: usize,
    diags: Vec<Diagnostic>,
    /// Whether a source-level limit (literals, temporaries) was already
    /// reported, so that one excess gives one error.
    reported_literals: bool,
    reported_temporaries: bool,
}

impl Gen<'_> {
    fn error(&mut self, message: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::new(message, span));
    }

    // -- Emission ------------------------------------------------------------------

    /// Emits an instruction and tracks the stack depth.
    fn op(&mut self, op: Op, arg: usize) {
        self.op_extra(op, arg, 0);
    }

    fn op_extra(&mut self, op: Op, arg: usize, extra: u16) {
        let arg = u8::try_from(arg).unwrap_or_else(|_| {
            self.diags.push(Diagnostic::new(
                format!(
                    "too many operands for {} ({arg}; at most 255)",
                    op.mnemonic()
                ),
                Span::default(),
            ));
            0
        });
        encode(&mut self.code, op, arg, extra);
        let (pops, pushes) = op.stack_effect(arg);
        self.depth = self.depth.saturating_sub(pops) + pushes;
        self.max_depth = self.max_depth.max(self.depth);
    }

    /// Emits a jump with a target to patch; answers where its offset is.
    fn jump(&mut self, op: Op) -> usize {
        self.op_extra(op, 0, 0);
        self.code.len() - 2
    }

    /// Points the jump whose offset is at `at` to the current position.
    fn patch(&mut self, at: usize) {
        let here = self.code.len() as u16;
        self.code[at..at + 2].copy_from_slice(&here.to_le_bytes());
    }

    /// The index of a literal. Selectors, globals, Symbols, integers and
    /// Chars are shared within a method (they are immutable or bound by
    /// name); strings, arrays and Floats get a slot per use, as in LLST,
    /// since a method could change its own literal string or array.
    fn literal(&mut self, lit: LiteralValue, span: Span) -> usize {
        let shareable = match &lit {
            LiteralValue::Selector(_) | LiteralValue::Global { .. } => true,
            LiteralValue::Constant(c) => matches!(
                c,
                Literal::Symbol(_)
                    | Literal::Integer(_)
                    | Literal::LargeInteger(_)
                    | Literal::Char(_)
            ),
        };
        if shareable && let Some(i) = self.literals.iter().position(|l| same_literal(l, &lit)) {
            // Past the limit, the error is already reported.
            return if i < MAX_LITERALS { i } else { 0 };
        }
        self.literals.push(lit);
        let index = self.literals.len() - 1;
        if index < MAX_LITERALS {
            return index;
        }
        if !self.reported_literals {
            self.reported_literals = true;
            self.error(
                format!(
                    "too many literals: a method may have at most {MAX_LITERALS} literals (constants, selectors and global names together); this is number {}",
                    index + 1
                ),
                span,
            );
        }
        0
    }

    // -- Scopes ----------------------------------------------------------------------

    fn check_unique(&mut self, params: &[Name], temps: &[Name]) {
        let mut seen: Vec<&str> = vec![];
        for n in params.iter().chain(temps) {
            if seen.contains(&n.text.as_str()) {
                self.error(format!("`{}` is declared twice", n.text), n.span);
            }
            seen.push(&n.text);
        }
    }

    /// Opens a scope whose names get fresh temporary slots.
    fn open_scope(&mut self, names: &[Name]) -> usize {
        let first = self.temp_count;
        let scope = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.text.clone(), first + i))
            .collect();
        self.scopes.push(scope);
        if let Some(extra) = MAX_TEMPORARIES
            .checked_sub(first)
            .and_then(|room| names.get(room))
            && !self.reported_temporaries
        {
            self.reported_temporaries = true;
            self.error(
                format!(
                    "too many temporaries: a method may have at most {MAX_TEMPORARIES} temporaries, counting block parameters and temporaries; `{}` is number {}",
                    extra.text,
                    MAX_TEMPORARIES + 1
                ),
                extra.span,
            );
        }
        self.temp_count += names.len();
        self.temp_max = self.temp_max.max(self.temp_count);
        first
    }

    fn resolve(&self, name: &str) -> Var {
        match name {
            "self" | "super" => return Var::SelfOrSuper,
            "nil" => return Var::Constant(10),
            "true" => return Var::Constant(11),
            "false" => return Var::Constant(12),
            _ => {}
        }
        for scope in self.scopes.iter().rev() {
            if let Some(&(_, slot)) = scope.iter().rev().find(|(n, _)| n == name) {
                return Var::Temporary(slot);
            }
        }
        if let Some(i) = self.args.iter().position(|a| a == name) {
            return Var::Argument(i + 1);
        }
        if let Some(i) = self.ivars.iter().rposition(|v| v == name) {
            return Var::Instance(i);
        }
        match self.workspace {
            Some((_, variables)) if variables.iter().any(|v| v == name) => Var::Workspace,
            _ => Var::Global,
        }
    }

    // -- Statements and expressions ----------------------------------------------------

    fn statement(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Expr(e) => self.expr(e),
            Stmt::Return { value, .. } => {
                self.expr(value);
                let op = if self.block_depth > 0 {
                    Op::BlockReturn
                } else {
                    Op::StackReturn
                };
                self.op(op, 0);
                // The value is gone at run time; keep the count balanced
                // for the code that (unreachably) follows.
                self.depth += 1;
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Var(n) => self.push_var(n),
            Expr::Assign { target, value } => self.assign(target, value),
            Expr::Literal { value, span } => self.push_literal(value, *span),
            Expr::Block(b) => self.block(b),
            Expr::Send(s) => {
                if !self.inlined(&s.receiver, &s.message) {
                    self.send(&s.receiver, &s.message);
                }
            }
            Expr::Cascade {
                receiver, messages, ..
            } => self.cascade(receiver, messages),
            Expr::Primitive { number, args, span } => {
                for a in args {
                    self.expr(a);
                }
                if args.len() > 15 {
                    self.error("a primitive takes at most 15 arguments", *span);
                }
                self.op_extra(Op::DoPrimitive, args.len(), u16::from(*number));
            }
        }
    }

    fn push_var(&mut self, n: &Name) {
        match self.resolve(&n.text) {
            Var::SelfOrSuper => self.op(Op::PushArgument, 0),
            Var::Argument(i) => self.op(Op::PushArgument, i),
            Var::Temporary(i) => self.op(Op::PushTemporary, i),
            Var::Instance(i) => self.op(Op::PushInstance, i),
            Var::Constant(k) => self.op(Op::PushConstant, k as usize),
            Var::Global => {
                let i = self.literal(
                    LiteralValue::Global {
                        name: n.text.clone(),
                        span: n.span,
                    },
                    n.span,
                );
                self.op(Op::PushLiteral, i);
            }
            Var::Workspace => {
                self.push_workspace_slot(n);
                self.send_selector("at:", 1, n.span);
            }
        }
    }

    /// Pushes the workspace's dictionary and the Symbol `name`, the
    /// receiver and first argument of `at:` and `at:put:`.
    fn push_workspace_slot(&mut self, name: &Name) {
        let dictionary = self.workspace.map_or("", |(d, _)| d).to_string();
        let d = self.literal(
            LiteralValue::Global {
                name: dictionary,
                span: name.span,
            },
            name.span,
        );
        self.op(Op::PushLiteral, d);
        let s = self.literal(
            LiteralValue::Constant(Literal::Symbol(name.text.clone())),
            name.span,
        );
        self.op(Op::PushLiteral, s);
    }

    /// Sends `selector` with `args` arguments to what is on the stack.
    /// `span` is the source the send stands for (for limit errors).
    fn send_selector(&mut self, selector: &str, args: usize, span: Span) {
        self.op(Op::MarkArguments, args + 1);
        let lit = self.literal(LiteralValue::Selector(selector.into()), span);
        self.op(Op::SendMessage, lit);
    }

    fn assign(&mut self, target: &Name, value: &Expr) {
        if let Var::Workspace = self.resolve(&target.text) {
            self.push_workspace_slot(target);
            self.expr(value);
            return self.send_selector("at:put:", 2, target.span);
        }
        self.expr(value);
        match self.resolve(&target.text) {
            Var::Temporary(i) => self.op(Op::AssignTemporary, i),
            Var::Instance(i) => self.op(Op::AssignInstance, i),
            Var::Argument(_) => self.error(
                format!("cannot assign to argument `{}`", target.text),
                target.span,
            ),
            Var::SelfOrSuper | Var::Constant(_) => {
                self.error(format!("cannot assign to `{}`", target.text), target.span)
            }
            Var::Global if self.workspace.is_some() => self.error(
                format!("cannot assign to `{}`: it is a class", target.text),
                target.span,
            ),
            Var::Global => self.error(
                format!(
                    "cannot assign to `{}`: not a temporary or instance variable (declare it with | {} |)",
                    target.text, target.text
                ),
                target.span,
            ),
            Var::Workspace => unreachable!("assigned above"),
        }
    }

    fn push_literal(&mut self, lit: &Literal, span: Span) {
        match lit {
            Literal::Integer(n @ 0..=9) => self.op(Op::PushConstant, *n as usize),
            Literal::Nil => self.op(Op::PushConstant, 10),
            Literal::True => self.op(Op::PushConstant, 11),
            Literal::False => self.op(Op::PushConstant, 12),
            _ => {
                let i = self.literal(LiteralValue::Constant(lit.clone()), span);
                self.op(Op::PushLiteral, i);
            }
        }
    }

    /// A real block: `pushBlock argLocation end`, its body, `stackReturn`.
    fn block(&mut self, b: &Block) {
        self.check_unique(&b.params, &b.temps);
        let names: Vec<Name> = b.params.iter().chain(&b.temps).cloned().collect();
        let saved_depth = self.depth;
        let arg_location = self.temp_count;
        self.op_extra(Op::PushBlock, arg_location, 0);
        let end_at = self.code.len() - 2;
        self.block_arities
            .push((self.code.len() as u16, b.params.len().min(255) as u8));
        self.open_scope(&names);
        self.block_depth += 1;
        self.depth = 0;
        self.body(&b.body);
        self.op(Op::StackReturn, 0);
        self.block_depth -= 1;
        self.scopes.pop();
        self.depth = saved_depth + 1;
        self.patch(end_at);
    }

    /// Statements whose last value stays on the stack (nil if none).
    fn body(&mut self, stmts: &[Stmt]) {
        if stmts.is_empty() {
            self.op(Op::PushConstant, 10);
        }
        for (i, s) in stmts.iter().enumerate() {
            if i > 0 {
                self.op(Op::PopTop, 0);
            }
            self.statement(s);
        }
    }

    /// The statements of a literal block inlined where it is written.
    fn inline_body(&mut self, b: &Block) {
        self.check_unique(&b.params, &b.temps);
        self.open_scope(&b.temps);
        self.body(&b.body);
        self.scopes.pop();
    }

    fn send(&mut self, receiver: &Expr, m: &Message) {
        let is_super = matches!(receiver, Expr::Var(n) if n.text == "super");
        self.expr(receiver);
        self.send_message(m, is_super);
    }

    /// Sends `m` to the value on the stack.
    fn send_message(&mut self, m: &Message, is_super: bool) {
        for a in &m.args {
            self.expr(a);
        }
        if !is_super {
            if let Some(k) = UNARY_SPECIALS.iter().position(|s| *s == m.selector) {
                return self.op(Op::SendUnary, k);
            }
            if let Some(k) = self.binary_special(&m.selector) {
                return self.op(Op::SendBinary, k);
            }
        }
        self.op(Op::MarkArguments, m.args.len() + 1);
        let lit = self.literal(LiteralValue::Selector(m.selector.clone()), m.span);
        if is_super {
            self.op_extra(Op::SendToSuper, 0, lit as u16);
        } else {
            self.op(Op::SendMessage, lit);
        }
    }

    /// A cascade, with Little Smalltalk's meaning (as LLST compiles it):
    /// the messages after each `;` go to the *value of the first send*
    /// (`'ab' + 'cd'; size` is 4), not to its receiver as in Smalltalk-80.
    /// LLST also duplicates that value before the last part and leaves it
    /// on the stack; we keep the stack balanced.
    fn cascade(&mut self, receiver: &Expr, parts: &[Vec<Message>]) {
        let is_super = matches!(receiver, Expr::Var(n) if n.text == "super");
        self.expr(receiver);
        // The value of the first send receives every later part.
        for (i, part) in parts.iter().enumerate() {
            let more = i + 1 < parts.len();
            if i > 0 && more {
                self.op(Op::Duplicate, 0);
            }
            for (j, m) in part.iter().enumerate() {
                self.send_message(m, is_super && i == 0 && j == 0);
            }
            if i > 0 && more {
                self.op(Op::PopTop, 0);
            }
        }
    }

    // -- Inlined control selectors -------------------------------------------------------

    /// Generates `receiver message` inline if it is a control selector
    /// with literal blocks; answers false (generating nothing) otherwise.
    fn inlined(&mut self, receiver: &Expr, m: &Message) -> bool {
        if self.shape == Shape::Lst
            && (self.counting_loop(receiver, m) || self.nil_test(receiver, m))
        {
            return true;
        }
        let blocks: Option<Vec<&Block>> = m
            .args
            .iter()
            .map(|a| match a {
                Expr::Block(b) if b.params.is_empty() => Some(b),
                _ => None,
            })
            .collect();
        let Some(blocks) = blocks else { return false };
        let receiver_block = match receiver {
            Expr::Block(b) if b.params.is_empty() => Some(b),
            _ => None,
        };
        match (m.selector.as_str(), blocks.as_slice(), receiver_block) {
            ("ifTrue:", [then], _) => self.if_then(receiver, Op::BranchIfFalse, then, None),
            ("ifFalse:", [then], _) => self.if_then(receiver, Op::BranchIfTrue, then, None),
            ("ifTrue:ifFalse:", [a, b], _) => self.if_then(receiver, Op::BranchIfFalse, a, Some(b)),
            ("ifFalse:ifTrue:", [a, b], _) => self.if_then(receiver, Op::BranchIfTrue, a, Some(b)),
            ("and:", [b], _) => self.short_circuit(receiver, Op::BranchIfFalse, b, 12),
            ("or:", [b], _) => self.short_circuit(receiver, Op::BranchIfTrue, b, 11),
            ("whileTrue:", [body], Some(cond)) => {
                self.while_loop(cond, Op::BranchIfFalse, Some(body))
            }
            ("whileFalse:", [body], Some(cond)) => {
                self.while_loop(cond, Op::BranchIfTrue, Some(body))
            }
            ("whileTrue", [], Some(cond)) => self.while_loop(cond, Op::BranchIfFalse, None),
            ("whileFalse", [], Some(cond)) => self.while_loop(cond, Op::BranchIfTrue, None),
            _ => return false,
        }
        true
    }

    /// `start to: stop do: [:i | …]`, `start to: stop by: step do: [:i | …]`
    /// (`step` a literal SmallInteger other than 0), `start downTo: stop
    /// do: [:i | …]` and `n timesRepeat: […]` as loops in the method, as
    /// `Number>>to:do:` and friends run them: the limit is evaluated once,
    /// the loop variable is a temporary of the method, the test and the
    /// step are the methods' sends (`<=` and `+`; `>=` for a negative
    /// step; `>=` and `-` for `downTo:do:`), so a receiver that is not a
    /// SmallInteger still works through them.
    /// The value is the receiver, as the methods answer. False (nothing
    /// generated) unless the message and its blocks fit.
    fn counting_loop(&mut self, receiver: &Expr, m: &Message) -> bool {
        let small_step = |e: &Expr| match e {
            Expr::Literal {
                value: Literal::Integer(n),
                ..
            } if *n != 0 && n.unsigned_abs() < 1 << 30 => Some(*n),
            _ => None,
        };
        match (m.selector.as_str(), m.args.as_slice()) {
            ("to:do:", [stop, body]) => match block_with(body, 1) {
                Some(b) => self.count_loop(receiver, Some(stop), UP, b, m.span),
                None => return false,
            },
            ("to:by:do:", [stop, step, body]) => match (small_step(step), block_with(body, 1)) {
                (Some(n), Some(b)) => {
                    let count = Count {
                        test: if n > 0 { "<=" } else { ">=" },
                        step: ("+", n),
                    };
                    self.count_loop(receiver, Some(stop), count, b, m.span)
                }
                _ => return false,
            },
            ("downTo:do:", [stop, body]) => match block_with(body, 1) {
                Some(b) => self.count_loop(receiver, Some(stop), DOWN, b, m.span),
                None => return false,
            },
            ("timesRepeat:", [body]) => match block_with(body, 0) {
                Some(b) => self.count_loop(receiver, None, UP, b, m.span),
                None => return false,
            },
            _ => return false,
        }
        true
    }

    /// The loop of [`Gen::counting_loop`]: with `stop`, from the receiver
    /// to `stop`; without, `receiver` times from 1. Leaves the receiver on
    /// the stack.
    ///
    /// `start; dup; [stop]; assign limit; pop; assign i; pop;
    ///  L: push i; push limit; <=; exit E; (i into the parameter); body;
    ///  pop; push i; push step; +; assign i; pop; branch L; E:`
    fn count_loop(
        &mut self,
        receiver: &Expr,
        stop: Option<&Expr>,
        count: Count,
        body: &Block,
        span: Span,
    ) {
        self.expr(receiver);
        self.op(Op::Duplicate, 0);
        // Names a program cannot write, for the hidden slots.
        let hidden = |text: &str| Name {
            text: text.into(),
            span,
        };
        if let Some(stop) = stop {
            self.expr(stop);
        }
        let limit = self.open_scope(&[hidden(" limit")]);
        self.op(Op::AssignTemporary, limit);
        self.op(Op::PopTop, 0);
        self.check_unique(&body.params, &body.temps);
        if stop.is_none() {
            self.push_literal(&Literal::Integer(1), span);
        }
        // The counter is the block's parameter, unless there is none
        // (`timesRepeat:`), the body assigns it, or a block in the body
        // names it: then a hidden slot, copied into the parameter each
        // time round, so that the body cannot change the count and a
        // block kept from the loop sees the last value passed, as with the
        // real send (whose parameter lives in the home context's slots).
        let param = body.params.first();
        let separate =
            param.is_none_or(|p| assigns(&body.body, &p.text) || blocks_name(&body.body, &p.text));
        let hidden_counter = separate.then(|| self.open_scope(&[hidden(" count")]));
        let names: Vec<Name> = body.params.iter().chain(&body.temps).cloned().collect();
        let first = self.open_scope(&names);
        let counter = hidden_counter.unwrap_or(first);
        // The first value (the receiver, or 1) is on the stack.
        self.op(Op::AssignTemporary, counter);
        self.op(Op::PopTop, 0);
        let top = self.code.len() as u16;
        self.op(Op::PushTemporary, counter);
        self.op(Op::PushTemporary, limit);
        self.send_binary(count.test, span);
        let to_exit = self.jump(Op::BranchIfFalse);
        if separate && param.is_some() {
            self.op(Op::PushTemporary, counter);
            self.op(Op::AssignTemporary, first);
            self.op(Op::PopTop, 0);
        }
        // The body's temporaries keep their values from one time round to
        // the next, as a real block's do (its slots are the home
        // context's, as in LLST).
        self.body(&body.body);
        self.op(Op::PopTop, 0);
        self.op(Op::PushTemporary, counter);
        self.push_literal(&Literal::Integer(count.step.1), span);
        self.send_binary(count.step.0, span);
        self.op(Op::AssignTemporary, counter);
        self.op(Op::PopTop, 0);
        self.op_extra(Op::Branch, 0, top);
        self.patch(to_exit);
        self.scopes.pop();
        if separate {
            self.scopes.pop();
        }
        self.scopes.pop();
    }

    /// `r ifNil: […]`, `r ifNotNil: [:x | …]` and the two-armed forms in
    /// either order, inline, as `Object` and `Undefined` answer them: the
    /// receiver is evaluated once and tested for identity with nil; the
    /// value is the receiver when the arm is missing. False (nothing
    /// generated) unless the blocks are literal with the right parameters
    /// (none for the nil arm, one for the other).
    fn nil_test(&mut self, receiver: &Expr, m: &Message) -> bool {
        let (if_nil, if_not_nil) = match (m.selector.as_str(), m.args.as_slice()) {
            ("ifNil:", [a]) => (block_with(a, 0), None),
            ("ifNotNil:", [b]) => (None, block_with(b, 1)),
            ("ifNil:ifNotNil:", [a, b]) => (block_with(a, 0), block_with(b, 1)),
            ("ifNotNil:ifNil:", [b, a]) => (block_with(a, 0), block_with(b, 1)),
            _ => return false,
        };
        let complete =
            m.args.len() == usize::from(if_nil.is_some()) + usize::from(if_not_nil.is_some());
        if !complete {
            return false;
        }
        // `r; duplicate; isNil; branchIfFalse N; [popTop; nil arm]; branch E;
        //  N: [assignTemporary x; popTop; other arm]; E:`, each missing arm
        //  leaving the receiver.
        self.expr(receiver);
        self.op(Op::Duplicate, 0);
        self.op(Op::SendUnary, 0);
        let to_not_nil = self.jump(Op::BranchIfFalse);
        let depth = self.depth;
        if let Some(a) = if_nil {
            self.op(Op::PopTop, 0);
            self.inline_block(a, false);
        }
        let Some(b) = if_not_nil else {
            self.patch(to_not_nil);
            return true;
        };
        let to_end = self.jump(Op::Branch);
        self.patch(to_not_nil);
        self.depth = depth;
        self.inline_block(b, true);
        self.patch(to_end);
        true
    }

    /// A literal block's body inline (its temporaries are slots of the
    /// method, as a real block's are). With `takes_top`, the value on the
    /// stack is its one parameter (consumed).
    fn inline_block(&mut self, b: &Block, takes_top: bool) {
        self.check_unique(&b.params, &b.temps);
        let names: Vec<Name> = b.params.iter().chain(&b.temps).cloned().collect();
        let first = self.open_scope(&names);
        if takes_top {
            self.op(Op::AssignTemporary, first);
            self.op(Op::PopTop, 0);
        }
        self.body(&b.body);
        self.scopes.pop();
    }

    /// `sendBinary`'s argument for `selector`, if it has one: any of
    /// [`BINARY_SPECIALS`], or only LLST's three in LLST's shape.
    fn binary_special(&self, selector: &str) -> Option<usize> {
        let known = match self.shape {
            Shape::Llst => LLST_BINARY_SPECIALS,
            Shape::Lst => BINARY_SPECIALS.len(),
        };
        BINARY_SPECIALS[..known].iter().position(|s| *s == selector)
    }

    /// Sends the binary `selector` to the two values on the stack, as a
    /// special send where there is one.
    fn send_binary(&mut self, selector: &str, span: Span) {
        match self.binary_special(selector) {
            Some(k) => self.op(Op::SendBinary, k),
            None => self.send_selector(selector, 1, span),
        }
    }

    /// `cond; skip L; then; branch M; L: else-or-nil; M:`.
    fn if_then(&mut self, cond: &Expr, skip: Op, then: &Block, otherwise: Option<&Block>) {
        self.expr(cond);
        let to_else = self.jump(skip);
        let depth = self.depth;
        self.inline_body(then);
        let to_end = self.jump(Op::Branch);
        self.patch(to_else);
        self.depth = depth;
        match otherwise {
            Some(b) => self.inline_body(b),
            None => self.op(Op::PushConstant, 10),
        }
        self.patch(to_end);
    }

    /// `cond; skip L; rest; branch M; L: pushConstant k; M:`.
    fn short_circuit(&mut self, cond: &Expr, skip: Op, rest: &Block, constant: usize) {
        self.expr(cond);
        let to_const = self.jump(skip);
        let depth = self.depth;
        self.inline_body(rest);
        let to_end = self.jump(Op::Branch);
        self.patch(to_const);
        self.depth = depth;
        self.op(Op::PushConstant, constant);
        self.patch(to_end);
    }

    /// `L: cond; exit E; body; popTop; branch L; E: pushConstant nil`.
    fn while_loop(&mut self, cond: &Block, exit: Op, body: Option<&Block>) {
        let top = self.code.len() as u16;
        self.inline_body(cond);
        let to_exit = self.jump(exit);
        if let Some(b) = body {
            self.inline_body(b);
            self.op(Op::PopTop, 0);
        }
        self.op_extra(Op::Branch, 0, top);
        self.patch(to_exit);
        self.op(Op::PushConstant, 10);
    }
}

/// How an inlined counting loop tests and steps its counter `i`:
/// `i test limit`, then `i := i step.0 step.1`.
#[derive(Clone, Copy)]
struct Count {
    test: &'static str,
    step: (&'static str, i64),
}

/// `to:do:` and `timesRepeat:`: `i <= limit`, `i + 1`.
const UP: Count = Count {
    test: "<=",
    step: ("+", 1),
};
/// `downTo:do:`: `i >= limit`, `i - 1`.
const DOWN: Count = Count {
    test: ">=",
    step: ("-", 1),
};

/// Whether a block literal in `stmts` (at any depth) names `name`.
fn blocks_name(stmts: &[Stmt], name: &str) -> bool {
    let mut found = false;
    visit(stmts, &mut |e, in_block| {
        found |= in_block
            && match e {
                Expr::Var(n) => n.text == name,
                Expr::Assign { target, .. } => target.text == name,
                _ => false,
            };
    });
    found
}

/// Calls `f` on every expression in `stmts`, saying whether it is inside
/// a block literal.
fn visit(stmts: &[Stmt], f: &mut dyn FnMut(&Expr, bool)) {
    fn expr(e: &Expr, in_block: bool, f: &mut dyn FnMut(&Expr, bool)) {
        f(e, in_block);
        match e {
            Expr::Var(_) | Expr::Literal { .. } => {}
            Expr::Assign { value, .. } => expr(value, in_block, f),
            Expr::Block(b) => statements(&b.body, true, f),
            Expr::Send(s) => {
                expr(&s.receiver, in_block, f);
                s.message.args.iter().for_each(|a| expr(a, in_block, f));
            }
            Expr::Cascade {
                receiver, messages, ..
            } => {
                expr(receiver, in_block, f);
                for m in messages.iter().flatten() {
                    m.args.iter().for_each(|a| expr(a, in_block, f));
                }
            }
            Expr::Primitive { args, .. } => args.iter().for_each(|a| expr(a, in_block, f)),
        }
    }
    fn statements(stmts: &[Stmt], in_block: bool, f: &mut dyn FnMut(&Expr, bool)) {
        for s in stmts {
            match s {
                Stmt::Expr(e) | Stmt::Return { value: e, .. } => expr(e, in_block, f),
            }
        }
    }
    statements(stmts, false, f);
}

/// Whether `stmts` (or a block in them) assign to `name`.
fn assigns(stmts: &[Stmt], name: &str) -> bool {
    let mut found = false;
    visit(stmts, &mut |e, _| {
        found |= matches!(e, Expr::Assign { target, .. } if target.text == name);
    });
    found
}

/// `e` if it is a literal block with `params` parameters.
fn block_with(e: &Expr, params: usize) -> Option<&Block> {
    match e {
        Expr::Block(b) if b.params.len() == params => Some(b),
        _ => None,
    }
}

/// True if two literals denote the same shareable object (globals by name,
/// whatever their source position).
fn same_literal(a: &LiteralValue, b: &LiteralValue) -> bool {
    match (a, b) {
        (LiteralValue::Global { name: x, .. }, LiteralValue::Global { name: y, .. }) => x == y,
        (LiteralValue::Selector(x), LiteralValue::Selector(y)) => x == y,
        (LiteralValue::Constant(x), LiteralValue::Constant(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lst_bytecode::disasm;

    fn listing(src: &str, ivars: &[&str]) -> String {
        let ivars: Vec<String> = ivars.iter().map(|s| s.to_string()).collect();
        let m = compile_method(src, &ivars).unwrap_or_else(|d| panic!("{d:?}"));
        disasm(&m.bytecodes, &|_| None)
    }

    #[test]
    fn sends_and_special_sends() {
        let text = listing("foo: a ^ (a + 1) bar: a isNil", &[]);
        assert!(text.contains("sendBinary"), "{text}");
        assert!(text.contains("sendUnary"), "{text}");
        assert!(text.contains("markArguments 2"), "{text}");
        assert!(text.contains("stackReturn"), "{text}");
    }

    #[test]
    fn if_true_without_else_answers_nil() {
        let m = compile_method("f: x ^ x ifTrue: [ 1 ]", &[]).unwrap();
        // pushArgument 1; branchIfFalse L; pushConstant 1; branch M; L: pushConstant nil; M: stackReturn
        assert_eq!(
            m.bytecodes,
            vec![0x21, 0xF8, 8, 0, 0x51, 0xF6, 9, 0, 0x5A, 0xF2, 0xF5, 0xF1]
        );
    }

    #[test]
    fn blocks_get_their_own_slots() {
        let m = compile_method("f | t | t := [:a | a]. ^ [:b | | c | b] ", &[]).unwrap();
        assert_eq!(m.temp_size, 4);
    }

    #[test]
    fn semantic_errors_have_places() {
        let src = "f: a a := 3. self := 4";
        let errs = compile_method(src, &[]).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(&src[errs[0].span.start..errs[0].span.end], "a");
    }

    #[test]
    fn cascades_go_to_the_value_of_the_first_send() {
        // 'ab' + 'cd'; size; yourself → pushLiteral, pushLiteral, sendBinary +,
        // duplicate, markArguments 1, send #size, popTop, markArguments 1, send #yourself
        let text = listing("f ^ 'ab' + 'cd'; size; yourself", &[]);
        let ops: Vec<&str> = text
            .lines()
            .map(|l| l.split_whitespace().nth(2).unwrap_or(""))
            .collect();
        assert_eq!(
            ops,
            [
                "pushLiteral",
                "pushLiteral",
                "sendBinary",
                "duplicate",
                "markArguments",
                "sendMessage",
                "popTop",
                "markArguments",
                "sendMessage",
                "stackReturn",
                "popTop",
                "selfReturn"
            ],
            "{text}"
        );
    }

    #[test]
    fn stack_depth_is_counted() {
        let m = compile_method("f ^ 1 + (2 + (3 + 4))", &[]).unwrap();
        assert_eq!(m.stack_size, 4);
    }
}
