//! The VM's named roots: the objects the VM itself must find (nil, the
//! booleans, the globals dictionary, the classes it instantiates, the
//! selectors it sends). They live in [`crate::heap::Heap::roots`], indexed
//! by [`Root`], so the collector updates them.
//!
//! The first fifteen are the fifteen top-level records of an LLST image, in
//! file order; the rest are found by name after loading.

macro_rules! define_roots {
    ($($name:ident),* $(,)?) => {
        /// Index of a named root in `Heap::roots`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Root { $($name,)* }
        /// How many named roots there are.
        pub const ROOT_COUNT: usize = [$(Root::$name),*].len();
    };
}

define_roots! {
    // The fifteen image roots, in file order.
    Nil, True, False, Globals, SmallIntClass, IntegerClass, ArrayClass, BlockClass,
    ContextClass, StringClass, InitialMethod, SelectorLess, SelectorLessEqual, SelectorPlus,
    SelectorDoesNotUnderstand,
    // Found by name after loading (nil when the image lacks them).
    ProcessClass, SymbolClass, ByteArrayClass, CharClass, ClassClass, UndefinedClass,
    SelectorError, SelectorValue, SelectorMain, FloatClass, LargeIntegerClass, MethodClass,
    // Held by the VM: the value the last top-level run answered.
    LastResult,
    // Found by name after loading: the selectors of lst's own binary
    // special sends (after LLST's three above; see
    // `lst_bytecode::BINARY_SPECIALS`). Last, so that images saved before
    // they were added still load (see `image::native`).
    SelectorMinus, SelectorTimes, SelectorGreater, SelectorGreaterEqual, SelectorEqual,
    SelectorNotEqual, SelectorFloorDiv, SelectorFloorMod,
}

/// The root holding the selector `sendBinary k` sends, in the order of
/// `lst_bytecode::BINARY_SPECIALS`.
pub const BINARY_SPECIAL_ROOTS: [Root; 11] = [
    Root::SelectorLess,
    Root::SelectorLessEqual,
    Root::SelectorPlus,
    Root::SelectorMinus,
    Root::SelectorTimes,
    Root::SelectorGreater,
    Root::SelectorGreaterEqual,
    Root::SelectorEqual,
    Root::SelectorNotEqual,
    Root::SelectorFloorDiv,
    Root::SelectorFloorMod,
];

/// The number of roots stored in an LLST image file.
pub const IMAGE_ROOTS: usize = 15;
