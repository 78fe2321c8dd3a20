//! Field indices of the objects the VM reads and writes: the single
//! definition shared by the loader, the interpreter, the primitives and
//! (later) the JIT. These follow LLST's layouts so one VM serves LLST images
//! and our own.
//!
//! This module holds numbers only; it does no heap access.

/// `Class` (and every metaclass): name, superclass, method dictionary,
/// instance size, instance variable names, then class-specific slots.
pub mod class {
    pub const NAME: usize = 0;
    pub const PARENT: usize = 1;
    pub const METHODS: usize = 2;
    pub const INSTANCE_SIZE: usize = 3;
    pub const VARIABLES: usize = 4;
    /// The fewest slots an object must have to serve as a class.
    pub const MIN_SLOTS: usize = 5;
}

/// `Method`.
pub mod method {
    pub const NAME: usize = 0;
    pub const BYTECODES: usize = 1;
    pub const LITERALS: usize = 2;
    pub const STACK_SIZE: usize = 3;
    pub const TEMPORARY_SIZE: usize = 4;
    pub const CLASS: usize = 5;
    pub const TEXT: usize = 6;
    pub const SLOTS: usize = 8;
    /// lst's own images only (LLST's Methods have 8 slots): an Array of
    /// (block body offset, parameter count) pairs, flattened, so that the
    /// VM can check a block's argument count and answer `numArgs`.
    pub const BLOCK_ARITIES: usize = 8;
}

/// `Context` (a method activation as an object).
pub mod context {
    pub const METHOD: usize = 0;
    /// Receiver (slot 0 of the array) and arguments.
    pub const ARGUMENTS: usize = 1;
    pub const TEMPORARIES: usize = 2;
    pub const STACK: usize = 3;
    pub const BYTE_POINTER: usize = 4;
    pub const STACK_TOP: usize = 5;
    pub const PREVIOUS: usize = 6;
    pub const SLOTS: usize = 7;
}

/// `Block`: a Context plus where its parameters go, its home context and
/// where its body starts.
pub mod block {
    pub const ARGUMENT_LOCATION: usize = 7;
    pub const CREATING_CONTEXT: usize = 8;
    pub const BODY_POINTER: usize = 9;
    pub const SLOTS: usize = 10;
}

/// `Process`.
pub mod process {
    pub const CONTEXT: usize = 0;
    pub const STATE: usize = 1;
    pub const RESULT: usize = 2;
    pub const SLOTS: usize = 3;
}

/// `Dictionary`: keys and parallel values; sorted in LLST's images,
/// hashed (with a `tally`) in lst's own (see [`crate::dictionary`]).
pub mod dictionary {
    pub const KEYS: usize = 0;
    pub const VALUES: usize = 1;
    /// lst's own images only: the number of keys of a hashed Dictionary.
    pub const TALLY: usize = 2;
}
