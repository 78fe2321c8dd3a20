//! Which selectors Float may answer inline: a reader of the one table of
//! inline operations (`lst_bytecode::inline_ops`, see
//! [`super::inline_ops`] for the words that say they are still valid).
//! An arithmetic result is a new Float, which compiled code allocates
//! itself without a collection (it falls back to the send when the heap
//! is full).

use super::inline_ops::{InlineOp, Receiver};

/// The Float operation for `selector`, if any.
pub fn float_op(selector: &[u8]) -> Option<InlineOp> {
    InlineOp::of_selector(Receiver::Float, selector)
}

/// The index of `selector`'s Float operation in the table (and in
/// `NativeRegs::inline_ops`).
pub fn float_op_index(selector: &[u8]) -> Option<usize> {
    float_op(selector).map(|op| op as usize)
}

/// The Float operations, in table order.
pub fn float_ops() -> impl Iterator<Item = InlineOp> {
    super::inline_ops::INLINE_OPS
        .iter()
        .filter(|d| d.receiver == Receiver::Float)
        .map(|d| d.op)
}

/// The position of Float operation `op` among [`float_ops`] (back ends
/// keep one function per Float operation).
pub fn float_position(op: InlineOp) -> Option<usize> {
    float_ops().position(|o| o == op)
}
