//! SmallInt operations compiled code may do inline instead of sending:
//! `a - b`, `a * b`, `a < b` … with two SmallInts do what SmallInt's
//! primitive method for that selector would, as long as SmallInt still
//! answers the selector with that primitive.
//!
//! [`INT_OPS`] lists each operation with the selector and the primitive it
//! stands for. [`NativeRegs::int_ops`](super::boundary::NativeRegs) holds a
//! word per operation, 1 while SmallInt's method for the selector is a
//! primitive method running exactly that primitive on (receiver,
//! argument) (or (argument, receiver) for a swapped one). Compiled code
//! tests the word with the tags; the words are recomputed whenever method
//! dictionaries may have changed, so redefining `SmallInt>>-` turns the
//! inline path off everywhere at once.
//!
//! This module must not generate code; it owns the table and the words.

use crate::roots::Root;
use crate::vm::Vm;

/// What an inline operation computes on two SmallInts `a` (receiver) and
/// `b` (argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOp {
    /// a + b, a − b, a × b: fall back to the send on overflow.
    Add,
    Sub,
    Mul,
    /// a < b, a > b, a = b: true or false.
    Less,
    Greater,
    Equal,
    /// a & b, a | b: never fail.
    BitAnd,
    BitOr,
    /// a // b, a \\ b (rounding toward negative infinity): fall back to
    /// the send when b is 0 (and a // b on overflow).
    FloorDiv,
    FloorMod,
    /// a quo: b, a rem: b (rounding toward zero): the same fallbacks.
    Quo,
    Rem,
}

/// One inlinable operation: its selector, what it computes (`Op`), and
/// the primitive (number, and whether it takes (argument, receiver)) the
/// receiver class's method must run. `float_ops` uses it too.
pub struct OpDef<Op> {
    pub selector: &'static str,
    pub op: Op,
    pub primitive: u8,
    pub swapped: bool,
}

/// An [`OpDef`], for the tables.
pub(super) const fn def<Op>(
    selector: &'static str,
    op: Op,
    primitive: u8,
    swapped: bool,
) -> OpDef<Op> {
    OpDef {
        selector,
        op,
        primitive,
        swapped,
    }
}

/// The index in `defs` of a selector's operation.
pub(super) fn op_index<Op>(defs: &[OpDef<Op>], selector: &[u8]) -> Option<usize> {
    defs.iter().position(|d| d.selector.as_bytes() == selector)
}

/// The operations; an operation's word in `int_ops` is its index here.
pub const INT_OPS: [OpDef<IntOp>; 12] = [
    def("+", IntOp::Add, 10, false),
    def("-", IntOp::Sub, 16, false),
    def("*", IntOp::Mul, 15, false),
    def("<", IntOp::Less, 13, false),
    def(">", IntOp::Greater, 13, true),
    def("=", IntOp::Equal, 14, false),
    def("bitAnd:", IntOp::BitAnd, 37, false),
    def("bitOr:", IntOp::BitOr, 36, false),
    def("//", IntOp::FloorDiv, 65, false),
    def("\\\\", IntOp::FloorMod, 66, false),
    def("quo:", IntOp::Quo, 11, false),
    def("rem:", IntOp::Rem, 12, false),
];

/// The index in [`INT_OPS`] of a selector's operation.
pub fn int_op_index(selector: &[u8]) -> Option<usize> {
    op_index(&INT_OPS, selector)
}

impl Vm {
    /// Recomputes which inline operations are valid (see the module doc),
    /// SmallInt's and Float's (`float_ops`).
    pub(super) fn refresh_inline_ops(&mut self) {
        self.native_regs.int_ops = self.primitive_words(self.root(Root::SmallIntClass), &INT_OPS);
        self.refresh_float_ops();
    }

    /// One word per operation of `ops`, 1 if `class`'s method for its
    /// selector is a primitive method running exactly its primitive on
    /// (receiver, argument), or on (argument, receiver) if swapped, else 0.
    pub(super) fn primitive_words<Op, const N: usize>(
        &mut self,
        class: crate::value::Value,
        ops: &[OpDef<Op>; N],
    ) -> [u64; N] {
        let mut words = [0; N];
        for (i, d) in ops.iter().enumerate() {
            let (selector, primitive, swapped) = (d.selector, d.primitive, d.swapped);
            let Some(selector) = self.find_symbol(selector.as_bytes()) else {
                continue;
            };
            let Ok(Some((_, parts))) = self.lookup(selector, class) else {
                continue;
            };
            let order: [u8; 2] = if swapped { [1, 0] } else { [0, 1] };
            let valid = parts
                .primitive
                .is_some_and(|p| p.number == primitive && p.argc == 2 && p.args[..2] == order);
            words[i] = u64::from(valid);
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_distinct() {
        for (i, d) in INT_OPS.iter().enumerate() {
            assert_eq!(int_op_index(d.selector.as_bytes()), Some(i));
        }
        assert_eq!(int_op_index(b"foo:"), None);
    }
}
