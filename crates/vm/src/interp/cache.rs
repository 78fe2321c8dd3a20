//! The global method cache: (selector, class) → method and its checked
//! parts (bytecodes, literals, temporary count), direct-mapped; and in
//! front of it the interpreter's send-site cache: (bytecodes, literals,
//! send offset, receiver class) → the same, so that a send whose site has
//! seen its receiver's class neither reads its selector nor hashes it.
//!
//! Keys are object addresses, so the cache is flushed at every collection
//! (objects move) and whenever a method dictionary may have changed
//! (primitive 34). Installing a method flushes the caches only if some
//! lookup of its selector may be cached: the cache remembers, in a bit
//! set, every selector it has held since its last flush (every cached
//! lookup, the inline caches' included, passes through it), so loading
//! many new methods does not empty the caches each time. The send-site
//! cache is flushed with the method cache and filled only from its hits,
//! so it never holds a lookup the method cache could not. A third cache,
//! of block bodies, keeps what activating one checks of its method (its
//! parts, the body's recorded parameter count); it is flushed with them.

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
    function: Option<crate::prims::PrimFn>,
    native: u32,
}

/// Entries of the send-site cache.
const SITES: usize = 2048;

/// A send site (the `Send` step at offset `at` of the method running
/// bytecodes `code` with literals `literals`) and a receiver class, with
/// what the method cache answered for them.
#[derive(Clone, Copy, Default)]
struct Site {
    code: u64,
    literals: u64,
    at: usize,
    class: u64,
    hit: Option<(Value, MethodParts)>,
}

/// Entries of the block cache.
const BLOCKS: usize = 256;

/// A block body (the method holding it and the body's offset), with its
/// recorded parameter count and its method's checked parts.
#[derive(Clone, Copy, Default)]
struct BlockEntry {
    method: u64,
    body: usize,
    arity: Option<usize>,
    parts: Option<MethodParts>,
}

pub struct MethodCache {
    entries: Box<[Entry; ENTRIES]>,
    sites: Box<[Site; SITES]>,
    blocks: Box<[BlockEntry; BLOCKS]>,
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
            sites: Box::new([Site::default(); SITES]),
            blocks: Box::new([BlockEntry::default(); BLOCKS]),
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
                function: e.function,
                native: e.native,
            };
            (Value::from_raw(e.method), parts)
        })
    }

    /// The entry of a send site and receiver class: the class is part of
    /// the key, so a polymorphic site keeps one entry per class it sees
    /// rather than evicting one class's entry for the next.
    #[inline(always)]
    fn site_slot(code: Value, at: usize, class: Value) -> usize {
        let h = ((code.raw() >> 3) as usize).wrapping_add(at) ^ (class.raw() >> 3) as usize;
        (h ^ h >> 11) & (SITES - 1)
    }

    /// What the send site at `at` in the method running `code` and
    /// `literals` answered for receivers of `class`, if it is cached.
    #[inline(always)]
    pub(crate) fn probe_site(
        &self,
        code: Value,
        literals: Value,
        at: usize,
        class: Value,
    ) -> Option<(Value, MethodParts)> {
        let e = &self.sites[Self::site_slot(code, at, class)];
        if e.code == code.raw()
            && e.at == at
            && e.class == class.raw()
            && e.literals == literals.raw()
        {
            e.hit
        } else {
            None
        }
    }

    /// Remembers a method-cache hit for a send site (see [`Self::probe_site`]).
    pub(crate) fn insert_site(
        &mut self,
        code: Value,
        literals: Value,
        at: usize,
        class: Value,
        hit: (Value, MethodParts),
    ) {
        self.sites[Self::site_slot(code, at, class)] = Site {
            code: code.raw(),
            literals: literals.raw(),
            at,
            class: class.raw(),
            hit: Some(hit),
        };
    }

    #[inline(always)]
    fn block_slot(method: Value, body: usize) -> usize {
        ((method.raw() >> 3) as usize).wrapping_add(body) & (BLOCKS - 1)
    }

    /// The parameter count and method parts cached for the block body at
    /// `body` of `method`.
    #[inline(always)]
    pub(crate) fn probe_block(
        &self,
        method: Value,
        body: usize,
    ) -> Option<(Option<usize>, MethodParts)> {
        let e = &self.blocks[Self::block_slot(method, body)];
        if e.method == method.raw() && e.body == body {
            e.parts.map(|parts| (e.arity, parts))
        } else {
            None
        }
    }

    /// Remembers a block body's parameter count and method parts (see
    /// [`Self::probe_block`]).
    pub(crate) fn insert_block(
        &mut self,
        method: Value,
        body: usize,
        arity: Option<usize>,
        parts: MethodParts,
    ) {
        self.blocks[Self::block_slot(method, body)] = BlockEntry {
            method: method.raw(),
            body,
            arity,
            parts: Some(parts),
        };
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
            function: parts.function,
            native: parts.native,
        };
    }

    pub fn flush(&mut self) {
        self.entries.fill(Entry::default());
        self.sites.fill(Site::default());
        self.blocks.fill(BlockEntry::default());
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
        self.invalidate_inlined(Some(selector));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(code: i64) -> MethodParts {
        MethodParts {
            code: Value::small(code),
            literals: Value::small(0),
            temps: 0,
            primitive: None,
            function: None,
            native: 0,
        }
    }

    #[test]
    fn a_polymorphic_site_keeps_an_entry_per_receiver_class() {
        let mut cache = MethodCache::new();
        let (code, literals) = (Value::from_raw(0x1000), Value::from_raw(0x2000));
        let classes: Vec<Value> = (0..4)
            .map(|i| Value::from_raw(0x8000 + 0x400 * i))
            .collect();
        for (i, &class) in classes.iter().enumerate() {
            let hit = (Value::from_raw(0x100 * (i as u64 + 1)), parts(i as i64));
            cache.insert_site(code, literals, 12, class, hit);
        }
        for (i, &class) in classes.iter().enumerate() {
            let (method, found) = cache.probe_site(code, literals, 12, class).unwrap();
            assert_eq!(method, Value::from_raw(0x100 * (i as u64 + 1)));
            assert_eq!(found.code, Value::small(i as i64));
        }
        // Another site, or the same one with other literals, is not hit.
        assert!(cache.probe_site(code, literals, 13, classes[0]).is_none());
        assert!(cache.probe_site(code, code, 12, classes[0]).is_none());
        cache.flush();
        assert!(cache.probe_site(code, literals, 12, classes[0]).is_none());
    }

    #[test]
    fn block_entries_are_kept_by_method_and_body_until_a_flush() {
        let mut cache = MethodCache::new();
        let method = Value::from_raw(0x4000);
        cache.insert_block(method, 7, Some(2), parts(3));
        let (arity, found) = cache.probe_block(method, 7).unwrap();
        assert_eq!((arity, found.code), (Some(2), Value::small(3)));
        assert!(cache.probe_block(method, 8).is_none());
        assert!(cache.probe_block(Value::from_raw(0x4008), 7).is_none());
        cache.flush();
        assert!(cache.probe_block(method, 7).is_none());
    }
}
