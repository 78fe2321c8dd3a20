//! SmallInt operations compiled code may do inline instead of sending:
//! `a - b`, `a * b`, `a < b` … with two SmallInts do what SmallInt's
//! primitive method for that selector would, as long as SmallInt still
//! answers the selector with that primitive.
//!
//! [`INT_OPS`] lists each operation with the selector and the primitive it
//! stands for. [`NativeRegs::int_ops`](super::native::NativeRegs) holds one
//! bit per operation, set while SmallInt's method for the selector is a
//! primitive method running exactly that primitive on (receiver,
//! argument) (or (argument, receiver) for a swapped one). Compiled code
//! tests the bit with the tags; the bits are recomputed whenever method
//! dictionaries may have changed, so redefining `SmallInt>>-` turns the
//! inline path off everywhere at once.
//!
//! This module must not generate code; it owns the table and the bits.

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

/// One inlinable operation: its selector, and the primitive (number, and
/// whether it takes (argument, receiver)) SmallInt's method must run.
pub struct IntOpDef {
    pub selector: &'static str,
    pub op: IntOp,
    pub primitive: u8,
    pub swapped: bool,
}

/// The operations; an operation's bit in `int_ops` is its index here.
pub const INT_OPS: [IntOpDef; 12] = [
    IntOpDef {
        selector: "+",
        op: IntOp::Add,
        primitive: 10,
        swapped: false,
    },
    IntOpDef {
        selector: "-",
        op: IntOp::Sub,
        primitive: 16,
        swapped: false,
    },
    IntOpDef {
        selector: "*",
        op: IntOp::Mul,
        primitive: 15,
        swapped: false,
    },
    IntOpDef {
        selector: "<",
        op: IntOp::Less,
        primitive: 13,
        swapped: false,
    },
    IntOpDef {
        selector: ">",
        op: IntOp::Greater,
        primitive: 13,
        swapped: true,
    },
    IntOpDef {
        selector: "=",
        op: IntOp::Equal,
        primitive: 14,
        swapped: false,
    },
    IntOpDef {
        selector: "bitAnd:",
        op: IntOp::BitAnd,
        primitive: 37,
        swapped: false,
    },
    IntOpDef {
        selector: "bitOr:",
        op: IntOp::BitOr,
        primitive: 36,
        swapped: false,
    },
    IntOpDef {
        selector: "//",
        op: IntOp::FloorDiv,
        primitive: 65,
        swapped: false,
    },
    IntOpDef {
        selector: "\\\\",
        op: IntOp::FloorMod,
        primitive: 66,
        swapped: false,
    },
    IntOpDef {
        selector: "quo:",
        op: IntOp::Quo,
        primitive: 11,
        swapped: false,
    },
    IntOpDef {
        selector: "rem:",
        op: IntOp::Rem,
        primitive: 12,
        swapped: false,
    },
];

/// The index in [`INT_OPS`] of a selector's operation.
pub fn int_op_index(selector: &[u8]) -> Option<usize> {
    INT_OPS
        .iter()
        .position(|d| d.selector.as_bytes() == selector)
}

impl Vm {
    /// Recomputes which inline operations are valid (see the module doc),
    /// SmallInt's and Float's (`float_ops`).
    pub(crate) fn refresh_int_ops(&mut self) {
        let ops = INT_OPS.iter().map(|d| (d.selector, d.primitive, d.swapped));
        self.native_regs.int_ops = self.primitive_bits(self.root(Root::SmallIntClass), ops);
        self.refresh_float_ops();
    }

    /// One bit per (selector, primitive, swapped) of `ops`, set if
    /// `class`'s method for the selector is a primitive method running
    /// exactly that primitive on (receiver, argument), or on (argument,
    /// receiver) if swapped.
    pub(crate) fn primitive_bits<'a>(
        &mut self,
        class: crate::value::Value,
        ops: impl Iterator<Item = (&'a str, u8, bool)>,
    ) -> u64 {
        let mut bits = 0u64;
        for (i, (selector, primitive, swapped)) in ops.enumerate() {
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
            if valid {
                bits |= 1 << i;
            }
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_distinct_and_fit_the_mask() {
        assert!(INT_OPS.len() <= 64);
        for (i, d) in INT_OPS.iter().enumerate() {
            assert_eq!(int_op_index(d.selector.as_bytes()), Some(i));
        }
        assert_eq!(int_op_index(b"foo:"), None);
    }
}
