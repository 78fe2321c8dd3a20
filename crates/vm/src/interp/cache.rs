//! The global method cache: (selector, class) → method and its checked
//! parts (bytecodes, literals, temporary count), direct-mapped.
//!
//! Keys are object addresses, so the cache is flushed at every collection
//! (objects move) and whenever a method dictionary may have changed
//! (primitive 34). Installing a method flushes the caches only if some
//! lookup of its selector may be cached: the cache remembers, in a bit
//! set, every selector it has held since its last flush (every cached
//! lookup, the inline caches' included, passes through it), so loading
//! many new methods does not empty the caches each time.

use super::frame::MethodParts;
use crate::value::Value;
use crate::vm::Vm;

const ENTRIES: usize = 2048;

/// Words of the bit set of selectors held since the last flush.
const SEEN_WORDS: usize = 256;

#[derive(Clone, Copy, Default)]
struct Entry {
    selector: u64,
    class: u64,
    method: u64,
    code: u64,
    literals: u64,
    temps: usize,
    primitive: Option<super::frame::PrimitiveMethod>,
    native: u32,
}

pub struct MethodCache {
    entries: Box<[Entry; ENTRIES]>,
    /// One bit per selector hash: set when an entry for a selector with
    /// that hash was inserted since the last flush.
    seen: Box<[u64; SEEN_WORDS]>,
}

impl Default for MethodCache {
    fn default() -> Self {
        Self::new()
    }
}

impl MethodCache {
    pub fn new() -> MethodCache {
        MethodCache {
            entries: Box::new([Entry::default(); ENTRIES]),
            seen: Box::new([0; SEEN_WORDS]),
        }
    }

    /// The word and bit of `selector` in the `seen` set.
    #[inline(always)]
    fn seen_bit(selector: Value) -> (usize, u64) {
        let h = (selector.raw() >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 50;
        ((h / 64) as usize % SEEN_WORDS, 1 << (h % 64))
    }

    /// Whether an entry for `selector` may have been cached since the
    /// last flush (false: certainly not).
    pub(crate) fn may_have_held(&self, selector: Value) -> bool {
        let (word, bit) = Self::seen_bit(selector);
        self.seen[word] & bit != 0
    }

    #[inline(always)]
    fn slot(selector: Value, class: Value) -> usize {
        let h = selector.raw() ^ class.raw().rotate_left(17);
        ((h >> 3) ^ (h >> 15)) as usize & (ENTRIES - 1)
    }

    #[inline(always)]
    pub(crate) fn probe(&self, selector: Value, class: Value) -> Option<(Value, MethodParts)> {
        let e = &self.entries[Self::slot(selector, class)];
        (e.selector == selector.raw() && e.class == class.raw() && e.selector != 0).then(|| {
            let parts = MethodParts {
                code: Value::from_raw(e.code),
                literals: Value::from_raw(e.literals),
                temps: e.temps,
                primitive: e.primitive,
                native: e.native,
            };
            (Value::from_raw(e.method), parts)
        })
    }

    pub(crate) fn insert(
        &mut self,
        selector: Value,
        class: Value,
        method: Value,
        parts: MethodParts,
    ) {
        let (word, bit) = Self::seen_bit(selector);
        self.seen[word] |= bit;
        self.entries[Self::slot(selector, class)] = Entry {
            selector: selector.raw(),
            class: class.raw(),
            method: method.raw(),
            code: parts.code.raw(),
            literals: parts.literals.raw(),
            temps: parts.temps,
            primitive: parts.primitive,
            native: parts.native,
        };
    }

    pub fn flush(&mut self) {
        self.entries.fill(Entry::default());
        self.seen.fill(0);
    }
}

impl Vm {
    /// After `method` was installed under `selector`: flushes every cache
    /// if one may hold a lookup of `selector` (now stale) or `selector`
    /// names an operation compiled code runs inline (`int_ops`,
    /// `float_ops`); otherwise they are all still right and are kept, and
    /// the JIT's quick-selector index learns the new method.
    pub(crate) fn method_installed(&mut self, selector: Value, method: Value) {
        let inline_op = {
            let bytes = self.heap.bytes(selector);
            crate::jit_runtime::int_ops::int_op_index(bytes).is_some()
                || crate::jit_runtime::float_ops::float_op_index(bytes).is_some()
        };
        if inline_op || self.cache.may_have_held(selector) {
            self.flush_caches();
        } else {
            self.index_quick_method(method);
        }
    }
}
