//! The global method cache: (selector, class) → method, direct-mapped.
//!
//! Keys are object addresses, so the cache is flushed at every collection
//! (objects move) and whenever a method dictionary may have changed
//! (primitive 34).

use crate::value::Value;

const ENTRIES: usize = 2048;

#[derive(Clone, Copy, Default)]
struct Entry {
    selector: u64,
    class: u64,
    method: u64,
}

pub struct MethodCache {
    entries: Box<[Entry; ENTRIES]>,
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
        }
    }

    #[inline(always)]
    fn slot(selector: Value, class: Value) -> usize {
        let h = selector.raw() ^ class.raw().rotate_left(17);
        ((h >> 3) ^ (h >> 15)) as usize & (ENTRIES - 1)
    }

    #[inline(always)]
    pub fn probe(&self, selector: Value, class: Value) -> Option<Value> {
        let e = &self.entries[Self::slot(selector, class)];
        (e.selector == selector.raw() && e.class == class.raw() && e.selector != 0)
            .then(|| crate::value::Value::from_raw(e.method))
    }

    pub fn insert(&mut self, selector: Value, class: Value, method: Value) {
        self.entries[Self::slot(selector, class)] = Entry {
            selector: selector.raw(),
            class: class.raw(),
            method: method.raw(),
        };
    }

    pub fn flush(&mut self) {
        self.entries.fill(Entry::default());
    }
}
