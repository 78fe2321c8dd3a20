//! The global method cache: (selector, class) → method and its checked
//! parts (bytecodes, literals, temporary count), direct-mapped.
//!
//! Keys are object addresses, so the cache is flushed at every collection
//! (objects move) and whenever a method dictionary may have changed
//! (primitive 34).

use super::frame::MethodParts;
use crate::value::Value;

const ENTRIES: usize = 2048;

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
    }
}
