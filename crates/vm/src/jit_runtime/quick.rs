//! Quick methods: methods whose whole body answers a constant, the
//! receiver, an instance variable, or stores its argument into one
//! (`^ 3`, `^ self`, `^ name`, `name: x  name := x`). A send to one can be
//! answered without a frame; the JIT's send stub does that for the
//! methods its inline caches hold (`inline_cache::Way::quick`).
//!
//! Only the bytecodes LLST's compilers and lst's own emit for these
//! bodies are recognized. This module must not run anything; it only
//! reads a method's bytecodes.

use crate::value::Value;
use crate::vm::Vm;
use lst_bytecode::Op;
use rustc_hash::FxHashSet;

/// What a quick method does (see the module doc). The numbers are the
/// `Way::quick` codes compiled code tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quick {
    /// Answers a constant (a pushConstant, or a literal).
    Constant(Value),
    /// Answers the receiver.
    Receiver,
    /// Answers instance variable `i` of the receiver.
    Getter(usize),
    /// Stores its argument into instance variable `i`; answers the
    /// receiver.
    Setter(usize),
}

/// `Way::quick` codes (0: not quick, push a frame).
pub const QUICK_CONSTANT: u64 = 1;
pub const QUICK_RECEIVER: u64 = 2;
pub const QUICK_GETTER: u64 = 3;
pub const QUICK_SETTER: u64 = 4;

impl Quick {
    /// The `Way::quick` code and operand (a raw value or a slot index).
    pub fn code(self) -> (u64, u64) {
        match self {
            Quick::Constant(v) => (QUICK_CONSTANT, v.raw()),
            Quick::Receiver => (QUICK_RECEIVER, 0),
            Quick::Getter(i) => (QUICK_GETTER, i as u64),
            Quick::Setter(i) => (QUICK_SETTER, i as u64),
        }
    }
}

/// The selectors some class's quick method answers to (see
/// [`Vm::may_be_quick`]), by name: names outlive the collections that
/// move Symbols. Rebuilt after method dictionaries may have changed.
#[derive(Debug, Default)]
pub struct QuickSelectors {
    /// Selectors of getters and constants.
    readers: FxHashSet<Box<[u8]>>,
    /// Selectors of setters.
    setters: FxHashSet<Box<[u8]>>,
}

impl Vm {
    /// Whether a send of `selector` with `nvals` values (receiver
    /// included) may reach a getter or constant (1) or a setter (2): some
    /// class reachable from the globals has one for it. The JIT inlines a
    /// quick path only at such sends; a quick method the answer misses
    /// (added later, in a class no global names) is still answered by the
    /// send stub, only not inline. `true` until [`Self::index_quick_selectors`]
    /// has run.
    pub fn may_be_quick(&self, selector: &[u8], nvals: usize) -> bool {
        let Some(q) = self.quick_selectors.as_ref() else {
            return true;
        };
        match nvals {
            1 => q.readers.contains(selector),
            2 => q.setters.contains(selector),
            _ => false,
        }
    }

    /// Builds the index [`Self::may_be_quick`] reads, unless it is built
    /// (the JIT's compiles do, first).
    pub fn index_quick_selectors(&mut self) {
        if self.quick_selectors.is_some() {
            return;
        }
        let mut q = QuickSelectors::default();
        for (_, m) in self.methods_of_globals() {
            let get = |i| self.heap.get(m, i).unwrap_or(self.nil());
            let name = get(crate::layout::method::NAME);
            if !name.is_ref() || !self.heap.is_bytes(name) {
                continue;
            }
            let code = get(crate::layout::method::BYTECODES);
            let literals = get(crate::layout::method::LITERALS);
            let set = match self.quick_method(code, literals, 2) {
                Some(Quick::Getter(_) | Quick::Constant(_)) => &mut q.readers,
                Some(Quick::Setter(_)) => &mut q.setters,
                _ => continue,
            };
            set.insert(self.heap.bytes(name).into());
        }
        self.quick_selectors = Some(q);
    }

    /// Adds a newly installed method to the index [`Self::may_be_quick`]
    /// reads, if the index is built and the method is quick.
    pub(crate) fn index_quick_method(&mut self, m: Value) {
        if self.quick_selectors.is_none() {
            return;
        }
        let get = |i| self.heap.get(m, i).unwrap_or(self.nil());
        let name = get(crate::layout::method::NAME);
        if !name.is_ref() || !self.heap.is_bytes(name) {
            return;
        }
        let code = get(crate::layout::method::BYTECODES);
        let literals = get(crate::layout::method::LITERALS);
        let quick = self.quick_method(code, literals, 2);
        let name: Box<[u8]> = self.heap.bytes(name).into();
        let Some(q) = self.quick_selectors.as_mut() else {
            return;
        };
        match quick {
            Some(Quick::Getter(_) | Quick::Constant(_)) => q.readers.insert(name),
            Some(Quick::Setter(_)) => q.setters.insert(name),
            _ => false,
        };
    }

    /// What the method with bytecodes `code` and `literals` does, if it is
    /// quick, for a send of `nvals` values.
    pub(super) fn quick_method(&self, code: Value, literals: Value, nvals: usize) -> Option<Quick> {
        if !code.is_ref() || !self.heap.is_bytes(code) {
            return None;
        }
        let bytes = self.heap.bytes(code);
        let mut insns = [None; 4];
        let mut pc = 0;
        for slot in insns.iter_mut() {
            let Ok(i) = lst_bytecode::decode_at(bytes, pc) else {
                break;
            };
            *slot = Some((i.op, usize::from(i.arg)));
            pc += i.len as usize;
        }
        let op = |n: usize| insns[n].map(|(op, _)| op);
        let arg = |n: usize| insns[n].map_or(0, |(_, a)| a);
        let x = arg(0);
        match (op(0)?, op(1)) {
            (Op::SelfReturn, _) => Some(Quick::Receiver),
            (Op::PushArgument, Some(Op::StackReturn)) if x == 0 => Some(Quick::Receiver),
            (Op::PushInstance, Some(Op::StackReturn)) => Some(Quick::Getter(x)),
            (Op::PushConstant, Some(Op::StackReturn)) => self.constant(x).map(Quick::Constant),
            (Op::PushLiteral, Some(Op::StackReturn)) => self
                .heap
                .get(literals, x)
                .filter(|_| literals.is_ref() && !self.heap.is_bytes(literals))
                .map(Quick::Constant),
            (Op::PushArgument, Some(Op::AssignInstance))
                if x == 1
                    && nvals == 2
                    && op(2) == Some(Op::PopTop)
                    && op(3) == Some(Op::SelfReturn) =>
            {
                Some(Quick::Setter(arg(1)))
            }
            _ => None,
        }
    }
}
