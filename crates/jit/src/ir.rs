//! The JIT's IR: a function is a list of basic blocks; a block has
//! parameters, instructions and one terminator. Values are SSA: each is
//! defined once, by a block parameter or an instruction result. A value
//! is used only in the block that defines it; values that flow to another
//! block are passed as arguments of the jump (so no dominance analysis is
//! needed to check or to lower the IR).
//!
//! Three value types: `obj` (a tagged Smalltalk value: SmallInt or
//! reference), `bool` (a machine condition, from tests; only branches
//! and `bool_obj` consume it) and `float` (an unboxed IEEE double, from
//! `unbox_float`/`unbox_number` and the `f64_*` operations; only those
//! and `box_float` consume it). A block parameter may be obj or float.
//!
//! Instructions that may leave native code (sends, allocations,
//! safepoints, primitives, the loads and stores of temporaries and
//! instance variables) carry a [`State`]: the bytecode offset and operand
//! stack the interpreter must see if it takes over there. A value in a
//! state is a use like an operand. In code inlined from another method
//! the state is chained ([`InlinedFrame`]): the inlined activations and
//! their callers, down to the function's own.
//!
//! A function may name heap values it does not know, its unit's
//! [`Constant`]s (classes, methods, literals of inlined methods), by
//! [`ConstId`]: the embedder holds the values.
//!
//! This module owns the data structures only; building, checking and
//! printing live in their own modules.

pub use lst_bytecode::inline_ops::{InlineOp, ObjectOp};
use std::fmt;

/// An SSA value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

/// A basic block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bb{}", self.0)
    }
}

/// The type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Obj,
    Bool,
    /// An unboxed IEEE double.
    Float,
}

impl Type {
    /// Its name in the IR's text.
    pub fn name(self) -> &'static str {
        match self {
            Type::Obj => "obj",
            Type::Bool => "bool",
            Type::Float => "float",
        }
    }
}

/// An IEEE arithmetic operation on two unboxed doubles, as Float's
/// primitives compute it (`f64_div` by zero is the plain IEEE quotient:
/// an infinity or NaN, as the Float stub answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum F64Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl F64Op {
    pub const ALL: [F64Op; 4] = [F64Op::Add, F64Op::Sub, F64Op::Mul, F64Op::Div];

    /// Its instruction's name in the IR's text (`f64_add` …).
    pub fn name(self) -> &'static str {
        match self {
            F64Op::Add => "f64_add",
            F64Op::Sub => "f64_sub",
            F64Op::Mul => "f64_mul",
            F64Op::Div => "f64_div",
        }
    }

    /// The operation on doubles.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            F64Op::Add => a + b,
            F64Op::Sub => a - b,
            F64Op::Mul => a * b,
            F64Op::Div => a / b,
        }
    }
}

/// An IEEE comparison of two unboxed doubles (ordered: false when either
/// is NaN). Only the comparisons Float has inline rows for
/// (`lst_bytecode::inline_ops`: `<`, `>`, `=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum F64Compare {
    Less,
    Greater,
    Equal,
}

impl F64Compare {
    pub const ALL: [F64Compare; 3] = [F64Compare::Less, F64Compare::Greater, F64Compare::Equal];

    /// Its instruction's name in the IR's text (`f64_lt` …).
    pub fn name(self) -> &'static str {
        match self {
            F64Compare::Less => "f64_lt",
            F64Compare::Greater => "f64_gt",
            F64Compare::Equal => "f64_eq",
        }
    }

    /// Whether it holds for `a` and `b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            F64Compare::Less => a < b,
            F64Compare::Greater => a > b,
            F64Compare::Equal => a == b,
        }
    }
}

/// The selectors of `sendBinary`, which the VM knows without a literal,
/// in the order of `lst_bytecode::BINARY_SPECIALS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Less,
    LessEqual,
    Plus,
    Minus,
    Times,
    Greater,
    GreaterEqual,
    Equal,
    NotEqual,
    FloorDiv,
    FloorMod,
}

impl Special {
    pub const ALL: [Special; 11] = [
        Special::Less,
        Special::LessEqual,
        Special::Plus,
        Special::Minus,
        Special::Times,
        Special::Greater,
        Special::GreaterEqual,
        Special::Equal,
        Special::NotEqual,
        Special::FloorDiv,
        Special::FloorMod,
    ];

    /// `sendBinary k`'s special. (`ALL` follows the bytecode's table, in
    /// order: `selector` indexes that table by the variant.)
    pub fn of_index(k: usize) -> Option<Special> {
        const { assert!(Special::ALL.len() == lst_bytecode::BINARY_SPECIALS.len()) };
        Special::ALL.get(k).copied()
    }

    pub fn selector(self) -> &'static str {
        lst_bytecode::BINARY_SPECIALS[self as usize]
    }
}

/// A comparison of two SmallInts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compare {
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Equal,
    NotEqual,
}

impl Compare {
    pub const ALL: [Compare; 6] = [
        Compare::Less,
        Compare::LessEqual,
        Compare::Greater,
        Compare::GreaterEqual,
        Compare::Equal,
        Compare::NotEqual,
    ];

    /// Its instruction's name in the IR's text (`int_lt` …).
    pub fn name(self) -> &'static str {
        match self {
            Compare::Less => "int_lt",
            Compare::LessEqual => "int_le",
            Compare::Greater => "int_gt",
            Compare::GreaterEqual => "int_ge",
            Compare::Equal => "int_eq",
            Compare::NotEqual => "int_ne",
        }
    }

    /// Whether it holds for `a` and `b`.
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Compare::Less => a < b,
            Compare::LessEqual => a <= b,
            Compare::Greater => a > b,
            Compare::GreaterEqual => a >= b,
            Compare::Equal => a == b,
            Compare::NotEqual => a != b,
        }
    }
}

/// What a quick method does, as an inline path at a send tests it (the
/// VM's `jit_runtime::quick`; a method answering `self` is left to the
/// send stub).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuickKind {
    /// Answers a constant.
    Constant,
    /// Answers an instance variable of the receiver.
    Getter,
    /// Stores its argument into an instance variable; answers the
    /// receiver.
    Setter,
}

impl QuickKind {
    pub const ALL: [QuickKind; 3] = [QuickKind::Constant, QuickKind::Getter, QuickKind::Setter];

    /// Its name in the IR's text.
    pub fn name(self) -> &'static str {
        match self {
            QuickKind::Constant => "constant",
            QuickKind::Getter => "getter",
            QuickKind::Setter => "setter",
        }
    }

    pub fn of_name(name: &str) -> Option<QuickKind> {
        QuickKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Who receives a send's message: the selector is a literal of the
/// method, or one of the VM's special selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    Literal(u8),
    Special(Special),
}

/// The interpreter's view at an instruction that may leave native code:
/// the bytecode offset `pc` (meaning depends on the instruction, see
/// [`Inst`] and [`Terminator::Primitive`]) and the operand-stack values,
/// bottom first.
///
/// A back end that keeps stack values in registers writes `stack` into
/// the VM frame and sets the frame's pc to `pc` before it leaves native
/// code; the interpreter then goes on at `pc` with exactly that stack.
///
/// In code inlined from another method (see [`InlinedFrame`]) the state
/// is chained: `pc` and `stack` are then the innermost inlined
/// activation's, and `inlined` describes that activation and its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub pc: u16,
    pub stack: Vec<Value>,
    /// The inlined activation `pc` and `stack` belong to (`None`: they are
    /// the function's own).
    pub inlined: Option<Box<InlinedFrame>>,
}

/// An activation of an inlined method, as a chained [`State`] names it:
/// leaving native code at such a state means materializing it as a real
/// VM frame (above its caller's) that the interpreter resumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlinedFrame {
    /// The inlined method (a [`ConstKind::Method`] constant), or, for
    /// a block's body inlined at its activation, the block's home method
    /// (a [`ConstKind::Block`] constant: `receiver` is then the Block
    /// object, `args` and `temps` are empty, since the block's parameters
    /// and temporaries are its home's). A `Selector::Literal` of a send
    /// whose state this is indexes this method's literals.
    pub method: ConstId,
    pub receiver: Value,
    pub args: Vec<Value>,
    /// The values of all its temporaries, in order.
    pub temps: Vec<Value>,
    /// The caller's state at the inlined send: the pc after that send and
    /// the stack below its receiver and arguments (the original send's
    /// state), itself possibly chained.
    pub caller: State,
}

impl State {
    /// A state of the function's own activation.
    pub fn new(pc: u16, stack: Vec<Value>) -> State {
        State {
            pc,
            stack,
            inlined: None,
        }
    }

    /// The values it reads, all of type obj: the stack, then, for a
    /// chained state, the inlined frame's receiver, arguments and
    /// temporaries and its caller's values.
    pub fn uses(&self) -> Vec<(Value, Type)> {
        self.values().into_iter().map(|v| (v, Type::Obj)).collect()
    }

    /// The values it reads, in the order of [`State::uses`].
    pub fn values(&self) -> Vec<Value> {
        let mut values = self.stack.clone();
        if let Some(frame) = &self.inlined {
            values.push(frame.receiver);
            values.extend(&frame.args);
            values.extend(&frame.temps);
            values.extend(frame.caller.values());
        }
        values
    }

    /// The values it reads, to rename them (in the order of
    /// [`State::uses`]).
    pub fn values_mut(&mut self) -> Vec<&mut Value> {
        let mut values: Vec<&mut Value> = self.stack.iter_mut().collect();
        if let Some(frame) = &mut self.inlined {
            let InlinedFrame {
                receiver,
                args,
                temps,
                caller,
                ..
            } = &mut **frame;
            values.push(receiver);
            values.extend(args.iter_mut());
            values.extend(temps.iter_mut());
            values.extend(caller.values_mut());
        }
        values
    }

    /// The inlined activations, innermost first (empty when it is not
    /// chained).
    pub fn frames(&self) -> Vec<&InlinedFrame> {
        let mut frames = vec![];
        let mut at = self;
        while let Some(frame) = &at.inlined {
            frames.push(&**frame);
            at = &frame.caller;
        }
        frames
    }

    /// The state of the function's own activation at the end of the chain
    /// (itself when not chained).
    pub fn root(&self) -> &State {
        match &self.inlined {
            None => self,
            Some(frame) => frame.caller.root(),
        }
    }

    /// Whether it is chained (inside inlined code).
    pub fn is_chained(&self) -> bool {
        self.inlined.is_some()
    }
}

/// A constant of the compiled unit (see [`Function::constants`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConstId(pub u32);

impl fmt::Display for ConstId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}", self.0)
    }
}

/// What a unit constant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstKind {
    /// A class (what a `class_is` guard compares with).
    Class,
    /// A method (an inlined method, named by chained states).
    Method,
    /// Any other object: a literal of an inlined method.
    Object,
    /// A method whose block body is inlined at an activation: an
    /// inlined frame naming it is that block's activation.
    Block,
}

impl ConstKind {
    pub const ALL: [ConstKind; 4] = [
        ConstKind::Class,
        ConstKind::Method,
        ConstKind::Object,
        ConstKind::Block,
    ];

    /// Its name in the IR's text.
    pub fn name(self) -> &'static str {
        match self {
            ConstKind::Class => "class",
            ConstKind::Method => "method",
            ConstKind::Object => "object",
            ConstKind::Block => "block",
        }
    }

    pub fn of_name(name: &str) -> Option<ConstKind> {
        ConstKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A heap value the compiled unit refers to. The IR does not know the
/// value: `handle` is the embedder's own index into its table of heap
/// values (opaque here), `name` is for printing (`Point`, `Point>>x`,
/// `500`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constant {
    pub kind: ConstKind,
    pub name: String,
    pub handle: u32,
}

/// An instruction. Operands are values; results are listed in
/// [`InstData::results`]. Those for which [`Inst::has_state`] holds carry
/// a [`State`] whose pc and stack are documented on each; the stack never
/// includes the instruction's own operands unless that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// The receiver.
    SelfRef,
    /// Argument N (1-based, as `pushArgument`).
    Arg(u8),
    /// Temporary N of the method's frame (shared with its blocks).
    /// State: pc after the `pushTemporary`, the stack before the push.
    Temp(u8),
    /// Temporary N := value.
    /// State: pc after the `assignTemporary`, the stack before it (the
    /// value on top).
    SetTemp(u8, Value),
    /// Instance variable N of the receiver.
    /// State: pc after the `pushInstance`, the stack before the push.
    Ivar(u8),
    /// Instance variable N of the receiver := value (the copying collector
    /// needs no write barrier).
    /// State: pc after the `assignInstance`, the stack before it (the value
    /// on top).
    SetIvar(u8, Value),
    /// Literal N of the method.
    Literal(u8),
    Nil,
    True,
    False,
    /// A SmallInt constant.
    Int(i64),
    /// bool: the two values are the same object.
    Same(Value, Value),
    /// bool: the value is a SmallInt (its tag says so).
    IsInt(Value),
    /// bool: both values are SmallInts.
    BothInt(Value, Value),
    /// (sum, overflowed): SmallInt a + b. The operands must be SmallInts
    /// (a tag test dominates it); the sum is a tagged SmallInt when
    /// `overflowed` is false and meaningless otherwise. Back ends work
    /// on the tagged words (e.g. a + (b − tag)).
    IntAdd(Value, Value),
    /// (difference, overflowed): SmallInt a − b, as [`Inst::IntAdd`].
    IntSub(Value, Value),
    /// (product, overflowed): SmallInt a × b, as [`Inst::IntAdd`].
    IntMul(Value, Value),
    /// (quotient, failed): SmallInt a // b, rounded toward negative
    /// infinity. `failed` when b is 0 or the quotient does not fit a
    /// SmallInt (the quotient is then meaningless).
    IntFloorDiv(Value, Value),
    /// (modulo, failed): SmallInt `a \\ b`, with the sign of b (floored);
    /// `failed` when b is 0.
    IntFloorMod(Value, Value),
    /// (quotient, failed): SmallInt a quo: b, rounded toward zero; fails
    /// as [`Inst::IntFloorDiv`].
    IntQuo(Value, Value),
    /// (remainder, failed): SmallInt a rem: b, with the sign of a
    /// (truncated); `failed` when b is 0.
    IntRem(Value, Value),
    /// bool: the comparison of two SmallInts (their tagged words compare
    /// as the integers do).
    IntCompare(Compare, Value, Value),
    /// obj: SmallInt a & b (bitwise; the and of two tagged words is
    /// tagged). Never fails.
    IntBitAnd(Value, Value),
    /// obj: SmallInt a | b (bitwise). Never fails.
    IntBitOr(Value, Value),
    /// bool: the value is a Float (a reference whose class is the VM's
    /// Float class; never in an image without Float).
    IsFloat(Value),
    /// (answer, failed): Float operation OP (a Float row of
    /// `lst_bytecode::inline_ops`) on a, a Float (a guard dominates it), and
    /// b, a Float or a SmallInt (converted as `asFloat` would): a new Float
    /// for arithmetic, true or false for a comparison. `failed` when b is
    /// neither, when OP's validity word is 0, or when the new Float
    /// cannot be allocated without a collection (or GC stress is on); the
    /// answer is then meaningless. It never collects nor leaves native
    /// code.
    FloatOp(InlineOp, Value, Value),
    /// (float, failed): the double a Float holds. `failed` when the value
    /// is not a Float (a reference of the VM's Float class with 8 bytes);
    /// the float is then meaningless. Never leaves native code.
    UnboxFloat(Value),
    /// (float, failed): as [`Inst::UnboxFloat`], but a SmallInt is
    /// accepted too, converted as `asFloat` would (the nearest double).
    UnboxNumber(Value),
    /// float: IEEE arithmetic on two floats (see [`F64Op`]). Never fails.
    F64(F64Op, Value, Value),
    /// bool: an IEEE comparison of two floats (see [`F64Compare`]).
    F64Compare(F64Compare, Value, Value),
    /// (object, failed): a new Float holding the float, allocated inline
    /// without a collection: `failed` when that would need a collection
    /// or GC stress is on (the object is then meaningless). It never
    /// collects nor leaves native code.
    BoxFloat(Value),
    /// obj: a new Float holding the float, allocated by the runtime, which
    /// may collect (so every obj value live across it must be in its
    /// state's stack, which back ends spill and reload as a send's). The
    /// unboxed-loop pass ([`crate::semantic::loops`]) writes its unboxed
    /// temporaries back with it when leaving its loop copy, a rare path.
    /// State: a pc in the loop (reported if the heap is exhausted) and the
    /// live obj values.
    BoxFloatGc(Value),
    /// bool: the VM's safepoint countdown is decremented (as a
    /// [`Inst::Safepoint`] does) and ran out: a `safepoint` right after it
    /// then runs its slow path. It lets an unboxed loop copy reach a
    /// safepoint only after writing its temporaries back. Never folded.
    CountdownTick,
    /// bool: the VM's "still valid" word for the inline operation: its
    /// receiver class still answers the selector with the primitive the
    /// operation stands for (see `lst_bytecode::inline_ops`). The word
    /// changes when an image redefines a method, so this is read each
    /// time, never folded.
    InlineValid(InlineOp),
    /// obj: the value's class (SmallInt's class for a SmallInt).
    ClassOf(Value),
    /// bool: the inline cache of the send whose state's pc is `send` (a
    /// send of this function) holds, in its first primitive way, `class`
    /// with exactly the primitive method `op` stands for. The cache
    /// changes as the program runs, so this is read each time.
    SitePrim {
        op: ObjectOp,
        class: Value,
        send: u16,
    },
    /// bool: `object` is a pointer object (a reference without bytes) and
    /// `index` a SmallInt from 1 to its number of slots. Any values.
    IndexOk(Value, Value),
    /// obj: slot `index` (a SmallInt, 1-based) of `object`; an
    /// [`Inst::IndexOk`] of the two dominates it.
    LoadSlot(Value, Value),
    /// Slot `index` of `object` := `value`, as [`Inst::LoadSlot`]. Every
    /// store of a reference into the heap in compiled code is this
    /// operation's (back ends select `SetIvar` and `SetTemp` into a heap
    /// context with the same store): the hook of a future write barrier.
    /// Today a plain store.
    StoreRef {
        object: Value,
        index: Value,
        value: Value,
    },
    /// obj: the SmallInt number of slots (or bytes) of a reference (a
    /// guard dominates it).
    SizeOf(Value),
    /// (object, failed): a new instance of class `a` with `b` nil slots, as
    /// the `new:` primitive makes it, but never with a collection:
    /// `failed` when `b` is not a SmallInt the primitive takes or the new
    /// object does not fit without collecting (or GC stress is on); the
    /// object is then meaningless. It never leaves native code.
    NewSlots(Value, Value),
    /// bool: `object` is a reference and the first method way of the
    /// inline cache of the send at `send` (as [`Inst::SitePrim`]) holds
    /// its class with a quick method of `kind`. Read each time.
    QuickWay {
        kind: QuickKind,
        object: Value,
        send: u16,
    },
    /// obj: the constant of the quick method in that way (a
    /// [`Inst::QuickWay`] of kind constant dominates it).
    QuickConstant {
        send: u16,
    },
    /// (value, failed): the instance variable of `object` that way's
    /// getter answers; `failed` unless `object` is a pointer object with
    /// it. A [`Inst::QuickWay`] of kind getter dominates it.
    QuickGet {
        object: Value,
        send: u16,
    },
    /// bool `failed`: stores `value` into the instance variable that
    /// way's setter names (a heap store of a reference, as
    /// [`Inst::StoreRef`]); fails, storing nothing, unless `object` is a
    /// pointer object with it. A [`Inst::QuickWay`] of kind setter
    /// dominates it.
    QuickSet {
        object: Value,
        value: Value,
        send: u16,
    },
    /// bool: the negation.
    Not(Value),
    /// bool: both conditions hold (a guard's tag test and validity word).
    And(Value, Value),
    /// obj: true or false from a bool.
    BoolObj(Value),
    /// A message send: the receiver and arguments are values (no argument
    /// Array); the result is the answer. `to_super` sends start the lookup
    /// in the superclass of the method's class.
    /// State: pc after the send instruction (where the caller resumes
    /// with the answer pushed), the stack below the receiver and arguments.
    Send {
        selector: Selector,
        receiver: Value,
        args: Vec<Value>,
        to_super: bool,
    },
    /// A new Block whose parameters go to temporaries from `arg_location`
    /// and whose body starts at bytecode offset `body`.
    /// State: pc at the end of the body (where the interpreter goes on
    /// after `pushBlock`), the stack before the push.
    MakeBlock {
        arg_location: u8,
        body: u16,
    },
    /// obj: the unit constant's object (e.g. a literal of an inlined
    /// method). It cannot change while the unit runs (the collector
    /// updates it in place).
    Const(ConstId),
    /// bool: the value's class (SmallInt's class for a SmallInt) is the
    /// class constant.
    ClassIs(Value, ConstId),
    /// bool: the compiled unit's validity word is still set. The VM clears
    /// it when a method is installed that may change what an inlined send
    /// would find, so this is read each time, never folded.
    UnitValid,
    /// bool: the deopt-stress countdown (`lst --jit-deopt-stress N`, a VM
    /// word) ran out: it is decremented, and when it reaches zero it
    /// starts again at N, a forced guard failure is counted and the
    /// answer is true. Only [`crate::stress`] makes it, as an extra
    /// failure condition of a guard; it changes VM state, so it is never
    /// folded, shared or dropped.
    StressTick,
    /// Polls for GC, preemption and Ctrl-C (method entry, loop back-edges).
    /// State: at entry, the entry offset and an empty stack; before a
    /// backward branch, the branch instruction's own offset and the stack
    /// before it executes (for a conditional one, the condition on top).
    Safepoint,
}

impl Inst {
    /// The types of the results this instruction defines.
    pub fn result_types(&self) -> &'static [Type] {
        use Inst::*;
        match self {
            SetTemp(..) | SetIvar(..) | Safepoint | StoreRef { .. } => &[],
            Same(..)
            | IsInt(..)
            | BothInt(..)
            | IntCompare(..)
            | InlineValid(..)
            | Not(..)
            | And(..)
            | IsFloat(..)
            | SitePrim { .. }
            | IndexOk(..)
            | QuickWay { .. }
            | QuickSet { .. }
            | ClassIs(..)
            | UnitValid
            | StressTick
            | CountdownTick
            | F64Compare(..) => &[Type::Bool],
            UnboxFloat(_) | UnboxNumber(_) => &[Type::Float, Type::Bool],
            F64(..) => &[Type::Float],
            BoxFloat(_) => &[Type::Obj, Type::Bool],
            fast if fast.is_fallible_fast_path() => &[Type::Obj, Type::Bool],
            _ => &[Type::Obj],
        }
    }

    /// Whether it is a fast path that answers an object and a failure
    /// flag (true when it did not apply, and the code takes its
    /// fallback): the SmallInt and Float arithmetic, `new_slots` and
    /// `quick_get`.
    pub fn is_fallible_fast_path(&self) -> bool {
        use Inst::*;
        matches!(
            self,
            IntAdd(..)
                | IntSub(..)
                | IntMul(..)
                | IntFloorDiv(..)
                | IntFloorMod(..)
                | IntQuo(..)
                | IntRem(..)
                | FloatOp(..)
                | NewSlots(..)
                | QuickGet { .. }
        )
    }

    /// Whether it does more than define its results: a store, a send, a
    /// new block or a safepoint (which may change what a load reads, or
    /// leave native code). Anything else can be dropped when its results
    /// are unused.
    pub fn has_effect(&self) -> bool {
        use Inst::*;
        matches!(
            self,
            SetTemp(..)
                | SetIvar(..)
                | StoreRef { .. }
                | QuickSet { .. }
                | Send { .. }
                | MakeBlock { .. }
                | StressTick
                | CountdownTick
                | Safepoint
        )
    }

    /// Whether it may leave native code, and so carries a [`State`].
    pub fn has_state(&self) -> bool {
        use Inst::*;
        matches!(
            self,
            Temp(_)
                | SetTemp(..)
                | Ivar(_)
                | SetIvar(..)
                | Send { .. }
                | MakeBlock { .. }
                | BoxFloatGc(_)
                | Safepoint
        )
    }

    /// The operands, with the type each must have.
    pub fn operands(&self) -> Vec<(Value, Type)> {
        use Inst::*;
        let obj = |v: &Value| (*v, Type::Obj);
        match self {
            SetTemp(_, v) | SetIvar(_, v) => vec![obj(v)],
            IsInt(a)
            | IsFloat(a)
            | ClassOf(a)
            | SizeOf(a)
            | UnboxFloat(a)
            | UnboxNumber(a)
            | ClassIs(a, _) => {
                vec![obj(a)]
            }
            BoxFloat(x) | BoxFloatGc(x) => vec![(*x, Type::Float)],
            F64(_, a, b) | F64Compare(_, a, b) => vec![(*a, Type::Float), (*b, Type::Float)],
            SitePrim { class, .. } => vec![obj(class)],
            QuickWay { object, .. } | QuickGet { object, .. } => vec![obj(object)],
            QuickSet { object, value, .. } => vec![obj(object), obj(value)],
            IndexOk(a, b) | LoadSlot(a, b) | NewSlots(a, b) => vec![obj(a), obj(b)],
            StoreRef {
                object,
                index,
                value,
            } => vec![obj(object), obj(index), obj(value)],
            IntCompare(_, a, b) | FloatOp(_, a, b) => vec![obj(a), obj(b)],
            Same(a, b)
            | BothInt(a, b)
            | IntAdd(a, b)
            | IntSub(a, b)
            | IntMul(a, b)
            | IntFloorDiv(a, b)
            | IntFloorMod(a, b)
            | IntQuo(a, b)
            | IntRem(a, b)
            | IntBitAnd(a, b)
            | IntBitOr(a, b) => vec![obj(a), obj(b)],
            BoolObj(c) | Not(c) => vec![(*c, Type::Bool)],
            And(c, d) => vec![(*c, Type::Bool), (*d, Type::Bool)],
            Send { receiver, args, .. } => std::iter::once(receiver).chain(args).map(obj).collect(),
            _ => vec![],
        }
    }
}

impl Inst {
    /// Whether it reads only what cannot change while the method runs
    /// (`self`, an argument, a literal, a constant): its value can be
    /// computed again anywhere, e.g. after a call, instead of being kept.
    pub fn is_recomputable(&self) -> bool {
        use Inst::*;
        matches!(
            self,
            SelfRef | Arg(_) | Literal(_) | Nil | True | False | Int(_) | Const(_)
        )
    }

    /// The operands, to rename them (in the order of [`Inst::operands`]).
    pub fn operands_mut(&mut self) -> Vec<&mut Value> {
        use Inst::*;
        match self {
            SelfRef
            | Arg(_)
            | Temp(_)
            | Ivar(_)
            | Literal(_)
            | Nil
            | True
            | False
            | Int(_)
            | InlineValid(_)
            | QuickConstant { .. }
            | MakeBlock { .. }
            | Const(_)
            | UnitValid
            | StressTick
            | CountdownTick
            | Safepoint => vec![],
            SetTemp(_, v)
            | SetIvar(_, v)
            | IsInt(v)
            | IsFloat(v)
            | Not(v)
            | BoolObj(v)
            | ClassOf(v)
            | SizeOf(v)
            | UnboxFloat(v)
            | UnboxNumber(v)
            | ClassIs(v, _)
            | BoxFloat(v)
            | BoxFloatGc(v) => vec![v],
            SitePrim { class, .. } => vec![class],
            QuickWay { object, .. } | QuickGet { object, .. } => vec![object],
            QuickSet { object, value, .. } => vec![object, value],
            StoreRef {
                object,
                index,
                value,
            } => vec![object, index, value],
            Same(a, b)
            | BothInt(a, b)
            | IntAdd(a, b)
            | IntSub(a, b)
            | IntMul(a, b)
            | IntFloorDiv(a, b)
            | IntFloorMod(a, b)
            | IntQuo(a, b)
            | IntRem(a, b)
            | IntCompare(_, a, b)
            | IntBitAnd(a, b)
            | IntBitOr(a, b)
            | FloatOp(_, a, b)
            | IndexOk(a, b)
            | LoadSlot(a, b)
            | NewSlots(a, b)
            | F64(_, a, b)
            | F64Compare(_, a, b)
            | And(a, b) => vec![a, b],
            Send { receiver, args, .. } => std::iter::once(receiver).chain(args).collect(),
        }
    }
}

/// An instruction with the values it defines and, if it may leave native
/// code ([`Inst::has_state`]), the interpreter's state there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstData {
    pub results: Vec<Value>,
    pub inst: Inst,
    pub state: Option<State>,
}

impl InstData {
    /// The values its state reads (none without a state), all obj.
    pub fn state_uses(&self) -> Vec<(Value, Type)> {
        self.state.as_ref().map_or(vec![], State::uses)
    }

    /// Everything it reads: its operands, then its state's values.
    pub fn uses(&self) -> Vec<(Value, Type)> {
        let mut uses = self.inst.operands();
        uses.extend(self.state_uses());
        uses
    }
}

/// A jump to a block with arguments for its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCall {
    pub block: BlockId,
    pub args: Vec<Value>,
}

/// How a block ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminator {
    Jump(BlockCall),
    /// On a bool condition.
    Branch {
        cond: Value,
        then: BlockCall,
        otherwise: BlockCall,
    },
    /// Return the value to the sender (`stackReturn`, `selfReturn`; in a
    /// block body, to the sender of `value`).
    Return(Value),
    /// Non-local return from a block: to the sender of its home method.
    BlockReturn(Value),
    /// Run primitive N: on success the method returns its answer; on
    /// failure control goes on at `fail`.
    /// State: pc of the `doPrimitive` itself, the stack below its arguments.
    Primitive {
        number: u8,
        args: Vec<Value>,
        fail: BlockCall,
        state: State,
    },
}

impl Terminator {
    /// The blocks it may go to, with their arguments.
    pub fn successors(&self) -> Vec<&BlockCall> {
        match self {
            Terminator::Jump(c) => vec![c],
            Terminator::Branch {
                then, otherwise, ..
            } => vec![then, otherwise],
            Terminator::Primitive { fail, .. } => vec![fail],
            Terminator::Return(_) | Terminator::BlockReturn(_) => vec![],
        }
    }

    /// The same calls, to retarget them or change their arguments.
    pub fn successors_mut(&mut self) -> Vec<&mut BlockCall> {
        match self {
            Terminator::Jump(c) => vec![c],
            Terminator::Branch {
                then, otherwise, ..
            } => vec![then, otherwise],
            Terminator::Primitive { fail, .. } => vec![fail],
            Terminator::Return(_) | Terminator::BlockReturn(_) => vec![],
        }
    }

    /// The values it reads directly (not block arguments nor its state's
    /// values), with types.
    pub fn operands(&self) -> Vec<(Value, Type)> {
        match self {
            Terminator::Branch { cond, .. } => vec![(*cond, Type::Bool)],
            Terminator::Return(v) | Terminator::BlockReturn(v) => vec![(*v, Type::Obj)],
            Terminator::Primitive { args, .. } => args.iter().map(|v| (*v, Type::Obj)).collect(),
            Terminator::Jump(_) => vec![],
        }
    }

    /// The interpreter's state if it may leave native code (a primitive).
    pub fn state(&self) -> Option<&State> {
        match self {
            Terminator::Primitive { state, .. } => Some(state),
            _ => None,
        }
    }

    /// The values its state reads (none without a state), all obj.
    pub fn state_uses(&self) -> Vec<(Value, Type)> {
        self.state().map_or(vec![], State::uses)
    }

    /// Every value it reads (operands, block arguments, its state's
    /// values), to rename them.
    pub fn values_mut(&mut self) -> Vec<&mut Value> {
        match self {
            Terminator::Jump(c) => c.args.iter_mut().collect(),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => std::iter::once(cond)
                .chain(then.args.iter_mut())
                .chain(otherwise.args.iter_mut())
                .collect(),
            Terminator::Return(v) | Terminator::BlockReturn(v) => vec![v],
            Terminator::Primitive {
                args, fail, state, ..
            } => args
                .iter_mut()
                .chain(fail.args.iter_mut())
                .chain(state.values_mut())
                .collect(),
        }
    }
}

/// A basic block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub id: BlockId,
    /// Parameters (obj, for operand-stack values, or float).
    pub params: Vec<Value>,
    /// The type of each parameter, in the order of `params` (obj or
    /// float).
    pub param_types: Vec<Type>,
    pub insts: Vec<InstData>,
    pub terminator: Terminator,
}

/// What a function computes: a method, or the body of a block inside one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Method,
    /// A block body starting at this bytecode offset.
    BlockBody {
        start: u16,
    },
}

/// A function: one method or block body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// `Class>>selector`, for printing.
    pub name: String,
    pub kind: Kind,
    /// Arguments of the method (excluding the receiver).
    pub arg_count: u8,
    /// The method's temporaries (including its blocks').
    pub temp_count: u8,
    /// Blocks; the first is the entry and has no parameters.
    pub blocks: Vec<Block>,
    /// The unit's constants, indexed by [`ConstId`] (classes, methods and
    /// literals of inlined methods).
    pub constants: Vec<Constant>,
}

impl Block {
    /// A block whose parameters are all obj.
    pub fn new(
        id: BlockId,
        params: Vec<Value>,
        insts: Vec<InstData>,
        terminator: Terminator,
    ) -> Block {
        let param_types = vec![Type::Obj; params.len()];
        Block {
            id,
            params,
            param_types,
            insts,
            terminator,
        }
    }

    /// The parameters with their types.
    pub fn typed_params(&self) -> impl Iterator<Item = (Value, Type)> + '_ {
        self.params
            .iter()
            .copied()
            .zip(self.param_types.iter().copied())
    }
}

impl Function {
    /// The block with this id.
    pub fn block(&self, id: BlockId) -> Option<&Block> {
        self.blocks.iter().find(|b| b.id == id)
    }

    /// The constant `k`.
    pub fn constant(&self, k: ConstId) -> Option<&Constant> {
        self.constants.get(k.0 as usize)
    }
}

/// Adds `c` to a function's table of `constants` (or finds an equal one)
/// and names it.
pub fn add_constant(constants: &mut Vec<Constant>, c: Constant) -> ConstId {
    let at = constants.iter().position(|k| *k == c).unwrap_or_else(|| {
        constants.push(c);
        constants.len() - 1
    });
    ConstId(at as u32)
}

#[cfg(test)]
mod special_tests {
    use super::Special;

    /// `sendBinary k` names `Special::ALL[k]`, whose selector is the
    /// bytecode table's entry `k`.
    #[test]
    fn specials_follow_the_bytecode_table() {
        for (k, s) in Special::ALL.iter().enumerate() {
            assert_eq!(*s as usize, k);
            assert_eq!(Special::of_index(k), Some(*s));
            assert_eq!(s.selector(), lst_bytecode::BINARY_SPECIALS[k]);
        }
        assert_eq!(Special::of_index(Special::ALL.len()), None);
    }
}
