//! Speculative inlining at the optimizing level, the embedder's half:
//! the oracle that offers `lst_jit::inline` the methods type feedback
//! names, and what the compile driver keeps of its answers for the back
//! end (the heap values behind the IR's constants, the selectors the unit
//! depends on, the shape of each inlined method) and for `--jit-stats`.
//!
//! This module reads the heap and the feedback table without changing
//! them (no lookups that fill caches, no allocation) and generates no code.

use crate::lower::InlinedMethod;
use lst_vm::value::Value;

/// What inlining made of a unit, for the back end and the statistics.
#[derive(Clone, Debug, Default)]
pub struct UnitInlining {
    /// The heap values behind the IR's constants, by handle: the unit's
    /// constant pool.
    pub constants: Vec<Value>,
    /// The selectors whose lookups the inlined sends assumed.
    pub selectors: Vec<Value>,
    /// The methods inlined, by constant handle (`None` for other
    /// constants).
    pub methods: Vec<Option<InlinedMethod>>,
    /// Sends inlined.
    pub inlined: u32,
    /// Why sends were not, one reason per send.
    pub refused: Vec<String>,
}
