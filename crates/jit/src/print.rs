//! IR → text. The format is what [`crate::parse`] reads:
//!
//! ```text
//! method Object>>max: args 1 temps 0
//! bb0:
//!     safepoint @0 []
//!     v0 = self
//!     v1 = arg 1
//!     v2 = send special:< v0 v1 @3 []
//!     v3 = true
//!     v4 = same v2 v3
//!     branch v4, bb1, bb2
//! bb1:
//!     return v1
//! bb2:
//!     return v0
//! ```
//!
//! An instruction's [`State`] is a suffix ` @PC [v1 v2]`: the bytecode
//! offset, then the operand stack, bottom first. A chained state (in
//! inlined code) goes on with its inlined frame and its caller's state:
//! `@7 [v3] in k1(self v2 args [v4] temps [v5 v6]) from @12 [v0]`.
//! The unit's constants come before the blocks, one a line:
//! `const k0 = class Point #3` (kind, name, the embedder's handle). A block parameter of
//! a type other than obj says so: `bb4(v1, v2: float)`.

use crate::ir::*;
use std::fmt::{self, Display, Write};

fn list(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Display for BlockCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.args.is_empty() {
            write!(f, "{}", self.block)
        } else {
            write!(f, "{}({})", self.block, list(&self.args))
        }
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Literal(i) => write!(f, "lit{i}"),
            Selector::Special(s) => write!(f, "special:{}", s.selector()),
        }
    }
}

impl Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Inst::*;
        match self {
            SelfRef => write!(f, "self"),
            Arg(n) => write!(f, "arg {n}"),
            Temp(n) => write!(f, "temp {n}"),
            SetTemp(n, v) => write!(f, "temp {n} := {v}"),
            Ivar(n) => write!(f, "ivar {n}"),
            SetIvar(n, v) => write!(f, "ivar {n} := {v}"),
            Literal(n) => write!(f, "lit {n}"),
            Nil => write!(f, "nil"),
            True => write!(f, "true"),
            False => write!(f, "false"),
            Int(n) => write!(f, "int {n}"),
            Same(a, b) => write!(f, "same {a} {b}"),
            IsInt(a) => write!(f, "is_int {a}"),
            BothInt(a, b) => write!(f, "both_int {a} {b}"),
            IntAdd(a, b) => write!(f, "int_add {a} {b}"),
            IntSub(a, b) => write!(f, "int_sub {a} {b}"),
            IntMul(a, b) => write!(f, "int_mul {a} {b}"),
            IntFloorDiv(a, b) => write!(f, "int_floor_div {a} {b}"),
            IntFloorMod(a, b) => write!(f, "int_floor_mod {a} {b}"),
            IntQuo(a, b) => write!(f, "int_quo {a} {b}"),
            IntRem(a, b) => write!(f, "int_rem {a} {b}"),
            IntCompare(c, a, b) => write!(f, "{} {a} {b}", c.name()),
            IntBitAnd(a, b) => write!(f, "int_bit_and {a} {b}"),
            IntBitOr(a, b) => write!(f, "int_bit_or {a} {b}"),
            InlineValid(op) => write!(f, "inline_valid {}", op.name()),
            IsFloat(a) => write!(f, "is_float {a}"),
            UnboxFloat(a) => write!(f, "unbox_float {a}"),
            UnboxNumber(a) => write!(f, "unbox_number {a}"),
            F64(op, a, b) => write!(f, "{} {a} {b}", op.name()),
            F64Compare(c, a, b) => write!(f, "{} {a} {b}", c.name()),
            BoxFloat(x) => write!(f, "box_float {x}"),
            BoxFloatGc(x) => write!(f, "box_float_gc {x}"),
            FloatOp(op, a, b) => write!(f, "{} {a} {b}", op.name()),
            ClassOf(a) => write!(f, "class_of {a}"),
            SitePrim { op, class, send } => {
                write!(f, "site_prim {} {class} send {send}", op.name())
            }
            QuickWay { kind, object, send } => {
                write!(f, "quick_way {} {object} send {send}", kind.name())
            }
            QuickConstant { send } => write!(f, "quick_constant send {send}"),
            QuickGet { object, send } => write!(f, "quick_get {object} send {send}"),
            QuickSet {
                object,
                value,
                send,
            } => write!(f, "quick_set {object} {value} send {send}"),
            IndexOk(a, i) => write!(f, "index_ok {a} {i}"),
            LoadSlot(a, i) => write!(f, "load_slot {a} {i}"),
            StoreRef {
                object,
                index,
                value,
            } => write!(f, "store_ref {object} {index} {value}"),
            SizeOf(a) => write!(f, "size_of {a}"),
            NewSlots(a, b) => write!(f, "new_slots {a} {b}"),
            Not(c) => write!(f, "not {c}"),
            And(c, d) => write!(f, "and {c} {d}"),
            BoolObj(c) => write!(f, "bool_obj {c}"),
            Send {
                selector,
                receiver,
                args,
                to_super,
            } => {
                let op = if *to_super { "send.super" } else { "send" };
                write!(f, "{op} {selector} {receiver}")?;
                for a in args {
                    write!(f, " {a}")?;
                }
                Ok(())
            }
            MakeBlock { arg_location, body } => write!(f, "block {arg_location} body {body}"),
            Const(k) => write!(f, "const {k}"),
            ClassIs(v, k) => write!(f, "class_is {v} {k}"),
            UnitValid => write!(f, "unit_valid"),
            StressTick => write!(f, "stress_tick"),
            CountdownTick => write!(f, "countdown_tick"),
            Safepoint => write!(f, "safepoint"),
        }
    }
}

/// Values separated by spaces, in brackets: `[v1 v2]`.
fn bracketed(values: &[Value]) -> String {
    let words: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!("[{}]", words.join(" "))
}

impl Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} {}", self.pc, bracketed(&self.stack))?;
        match &self.inlined {
            None => Ok(()),
            Some(frame) => write!(
                f,
                " in {}(self {} args {} temps {}) from {}",
                frame.method,
                frame.receiver,
                bracketed(&frame.args),
                bracketed(&frame.temps),
                frame.caller
            ),
        }
    }
}

impl Display for Constant {
    /// `class Point #3`: kind, name, handle. A name loses what the text
    /// could not read back (`;` starts a comment, a line ends at a line
    /// break, ` #` ends the name): those characters print as `_`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name: String = self
            .name
            .replace(" #", "_#")
            .chars()
            .map(|c| if c == ';' || c.is_control() { '_' } else { c })
            .collect();
        write!(f, "{} {} #{}", self.kind.name(), name, self.handle)
    }
}

impl Display for InstData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.results.is_empty() {
            write!(f, "{} = ", list(&self.results))?;
        }
        write!(f, "{}", self.inst)?;
        match &self.state {
            Some(s) => write!(f, " {s}"),
            None => Ok(()),
        }
    }
}

impl Display for Terminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Terminator::Jump(c) => write!(f, "jump {c}"),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => write!(f, "branch {cond}, {then}, {otherwise}"),
            Terminator::Return(v) => write!(f, "return {v}"),
            Terminator::BlockReturn(v) => write!(f, "block_return {v}"),
            Terminator::Primitive {
                number,
                args,
                fail,
                state,
            } => write!(f, "primitive {number} ({}) else {fail} {state}", list(args)),
        }
    }
}

impl Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Method => write!(f, "method {}", self.name)?,
            Kind::BlockBody { start } => write!(f, "block {} at {start}", self.name)?,
        }
        writeln!(f, " args {} temps {}", self.arg_count, self.temp_count)?;
        for (k, c) in self.constants.iter().enumerate() {
            writeln!(f, "const {} = {c}", ConstId(k as u32))?;
        }
        for b in &self.blocks {
            let mut head = b.id.to_string();
            if !b.params.is_empty() {
                let params: Vec<String> = b
                    .typed_params()
                    .map(|(v, t)| match t {
                        Type::Obj => v.to_string(),
                        _ => format!("{v}: {}", t.name()),
                    })
                    .collect();
                write!(head, "({})", params.join(", "))?;
            }
            writeln!(f, "{head}:")?;
            for i in &b.insts {
                writeln!(f, "    {i}")?;
            }
            writeln!(f, "    {}", b.terminator)?;
        }
        Ok(())
    }
}
