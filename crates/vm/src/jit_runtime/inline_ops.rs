//! The words that say which inline operations compiled code may still do.
//!
//! The operations themselves are one table, `lst_bytecode::inline_ops`
//! ([`INLINE_OPS`]): a selector, a receiver class (SmallInt or Float) and
//! the primitive, by name, the class's method must run. This module
//! resolves those names through the VM's primitive table (`prims`) and
//! keeps [`NativeRegs::inline_ops`](super::boundary::NativeRegs): a word
//! per operation, 1 while the receiver class's method for the selector is
//! a primitive method running exactly that primitive on (receiver,
//! argument) (or (argument, receiver) for a swapped one), else 0.
//! Compiled code tests the word (the IR's `inline_valid`); the words are
//! recomputed whenever method dictionaries may have changed, so
//! redefining `SmallInt>>-` turns the inline path off everywhere at once.
//!
//! This module must not generate code; it owns the words.

use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
pub use lst_bytecode::inline_ops::{INLINE_OPS, InlineOp, InlineOpDef, Receiver};

/// The number of validity words.
pub const WORDS: usize = INLINE_OPS.len();

impl Vm {
    /// Recomputes which inline operations are valid (see the module doc);
    /// a Float operation is never valid in an image without Float.
    pub(super) fn refresh_inline_ops(&mut self) {
        let float = self.root(Root::FloatClass);
        self.native_regs.float_class = float;
        let mut words = [0; WORDS];
        for (word, def) in words.iter_mut().zip(&INLINE_OPS) {
            let class = match def.receiver {
                Receiver::SmallInt => self.root(Root::SmallIntClass),
                Receiver::Float => float,
            };
            *word = u64::from(class != self.nil() && self.runs_primitive(class, def));
        }
        self.native_regs.inline_ops = words;
    }

    /// Whether `class`'s method for `def`'s selector is a primitive method
    /// running exactly `def`'s primitive on (receiver, argument), or on
    /// (argument, receiver) if swapped.
    fn runs_primitive(&mut self, class: Value, def: &InlineOpDef) -> bool {
        let Some(number) = crate::prims::number_of(def.primitive) else {
            return false;
        };
        let Some(selector) = self.find_symbol(def.selector.as_bytes()) else {
            return false;
        };
        let Ok(Some((_, parts))) = self.lookup(selector, class) else {
            return false;
        };
        let order: [u8; 2] = if def.swapped { [1, 0] } else { [0, 1] };
        parts
            .primitive
            .is_some_and(|p| p.number == number && p.argc == 2 && p.args[..2] == order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every primitive the table names is in the VM's primitive table,
    /// and takes (at least) the receiver and the argument.
    #[test]
    fn every_primitive_name_resolves() {
        for def in &INLINE_OPS {
            let number = crate::prims::number_of(def.primitive)
                .unwrap_or_else(|| panic!("{:?}: no primitive {:?}", def.op, def.primitive));
            let p = crate::prims::lookup(number).expect("resolved");
            assert_eq!(p.arity, 2, "{:?}", def.op);
        }
    }
}
