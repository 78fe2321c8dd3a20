//! Float operations compiled code may do inline instead of sending:
//! `a + b`, `a * b`, `a < b` … with `a` a Float and `b` a Float or a
//! SmallInt do what Float's primitive method for that selector would, as
//! long as Float still answers the selector with that primitive.
//!
//! This is the Float twin of [`super::int_ops`], with the same table type
//! ([`OpDef`]): [`FLOAT_OPS`] lists each operation with the selector and
//! the primitive it stands for, and
//! [`NativeRegs::float_ops`](super::boundary::NativeRegs) holds one word
//! (1 or 0) per operation, recomputed whenever method dictionaries may
//! have changed.
//! An arithmetic result is a new Float, which compiled code allocates
//! itself without a collection (it falls back to the send when the heap
//! is full).
//!
//! This module must not generate code; it owns the table and the words.

use super::int_ops::{OpDef, def, op_index};
use crate::roots::Root;
use crate::vm::Vm;

/// What an inline operation computes on doubles `a` (receiver) and `b`
/// (argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatOp {
    /// a + b, a − b, a × b, a ÷ b: a new Float (IEEE: no failure).
    Add,
    Sub,
    Mul,
    Div,
    /// a < b, a > b, a = b: true or false.
    Less,
    Greater,
    Equal,
}

/// The operations; an operation's word in `float_ops` is its index here.
/// The primitive numbers are this VM's (`prims::float`).
pub const FLOAT_OPS: [OpDef<FloatOp>; 7] = [
    def("+", FloatOp::Add, 80, false),
    def("-", FloatOp::Sub, 81, false),
    def("*", FloatOp::Mul, 82, false),
    def("/", FloatOp::Div, 83, false),
    def("<", FloatOp::Less, 84, false),
    def(">", FloatOp::Greater, 84, true),
    def("=", FloatOp::Equal, 85, false),
];

/// The index in [`FLOAT_OPS`] of a selector's operation.
pub fn float_op_index(selector: &[u8]) -> Option<usize> {
    op_index(&FLOAT_OPS, selector)
}

impl Vm {
    /// Recomputes which inline Float operations are valid (none if the
    /// image has no Float class).
    pub(super) fn refresh_float_ops(&mut self) {
        let class = self.root(Root::FloatClass);
        self.native_regs.float_class = class;
        self.native_regs.float_ops = if class == self.nil() {
            [0; FLOAT_OPS.len()]
        } else {
            self.primitive_words(class, &FLOAT_OPS)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_distinct() {
        for (i, d) in FLOAT_OPS.iter().enumerate() {
            assert_eq!(float_op_index(d.selector.as_bytes()), Some(i));
        }
        assert_eq!(float_op_index(b"foo:"), None);
    }
}
