//! Which selectors SmallInt may answer inline: a reader of the one table
//! of inline operations (`lst_bytecode::inline_ops`, see
//! [`super::inline_ops`] for the words that say they are still valid).

use super::inline_ops::{InlineOp, Receiver};

/// The SmallInt operation for `selector`, if any.
pub fn int_op(selector: &[u8]) -> Option<InlineOp> {
    InlineOp::of_selector(Receiver::SmallInt, selector)
}

/// The index of `selector`'s SmallInt operation in the table (and in
/// `NativeRegs::inline_ops`).
pub fn int_op_index(selector: &[u8]) -> Option<usize> {
    int_op(selector).map(|op| op as usize)
}
