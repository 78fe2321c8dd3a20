//! The VM stack's storage: one allocation of [`Value`] slots and a length,
//! laid out (`repr(C)`) so that compiled code can read and write both
//! through the offsets in [`crate::jit_runtime::boundary::Layout`].
//!
//! The interpreter uses it like a `Vec<Value>` (push, pop, truncate,
//! indexing through `Deref`). The allocation is zeroed and sized for the
//! configured stack limit plus its red zone up front, so pages are touched
//! only as deep as programs recurse. It grows (moves) only if a push goes
//! past that, which the frame-push checks make rare; compiled code reloads
//! `base` after every call into the runtime, so a move is harmless.
//!
//! This module owns the memory and nothing else: it knows nothing of
//! frames.

use crate::value::Value;
use std::ops::{Deref, DerefMut};

/// A growable array of stack slots with a C-compatible head.
#[repr(C)]
pub struct Stack {
    /// The first slot; valid for `cap` slots, all initialized.
    base: *mut Value,
    /// Slots in use.
    len: usize,
    cap: usize,
}

// SAFETY: a Stack owns its allocation alone (like a Vec), so moving it to
// another thread moves the only access to it.
unsafe impl Send for Stack {}

impl Stack {
    /// Byte offset of the base pointer, for compiled code.
    pub const BASE_OFFSET: usize = std::mem::offset_of!(Stack, base);
    /// Byte offset of the length, for compiled code.
    pub const LEN_OFFSET: usize = std::mem::offset_of!(Stack, len);

    /// A stack with room for `cap` slots (zeroed lazily by the OS).
    pub fn with_capacity(cap: usize) -> Stack {
        let cap = cap.max(1);
        // `vec![0u64; n]` asks the allocator for zeroed memory (calloc),
        // which the OS provides lazily.
        let mut words = std::mem::ManuallyDrop::new(vec![0u64; cap]);
        let base = words.as_mut_ptr().cast::<Value>();
        // The Vec's own capacity, which `drop` hands back to it.
        let cap = words.capacity();
        Stack { base, len: 0, cap }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn push(&mut self, v: Value) {
        if self.len == self.cap {
            self.grow(1);
        }
        let i = self.len;
        self.len += 1;
        self[i] = v;
    }

    #[inline(always)]
    pub fn pop(&mut self) -> Option<Value> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: `len < cap` and every slot below `cap` is initialized.
        Some(unsafe { *self.base.add(self.len) })
    }

    /// Drops the slots from `n` up (no effect if `n >= len`).
    #[inline(always)]
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Sets the length to `n` after compiled code wrote the slots below it.
    /// `n` must not exceed the capacity (checked).
    pub fn set_len(&mut self, n: usize) {
        assert!(n <= self.cap, "stack length past its capacity");
        self.len = n;
    }

    pub fn extend_from_slice(&mut self, vs: &[Value]) {
        if self.cap - self.len < vs.len() {
            self.grow(vs.len());
        }
        let at = self.len;
        self.len += vs.len();
        self[at..].copy_from_slice(vs);
    }

    /// Appends `N` values; inlined, so that a frame header is written in
    /// place rather than copied by a call.
    #[inline(always)]
    pub fn push_all<const N: usize>(&mut self, vs: [Value; N]) {
        if self.cap - self.len < N {
            self.grow(N);
        }
        let at = self.len;
        self.len += N;
        self[at..at + N].copy_from_slice(&vs);
    }

    pub fn extend(&mut self, vs: impl IntoIterator<Item = Value>) {
        for v in vs {
            self.push(v);
        }
    }

    /// Slots that may be used without growing.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Moves the slots to an allocation with room for `more` beyond `len`.
    #[cold]
    fn grow(&mut self, more: usize) {
        let cap = (self.cap * 2).max(self.len + more);
        let mut bigger = Stack::with_capacity(cap);
        bigger.extend_from_slice(self);
        std::mem::swap(self, &mut bigger);
    }
}

impl Deref for Stack {
    type Target = [Value];
    #[inline(always)]
    fn deref(&self) -> &[Value] {
        // SAFETY: `base` is valid for `cap >= len` initialized slots, owned
        // by this Stack; the borrow of `self` keeps it alive and unmoved.
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }
}

impl DerefMut for Stack {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Value] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: `base` and `cap` are the pointer and capacity of the
        // `Vec<u64>` made in `with_capacity` (Value is a transparent u64),
        // which this Stack owned alone; `cap` elements were initialized.
        drop(unsafe { Vec::from_raw_parts(self.base.cast::<u64>(), self.cap, self.cap) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_and_grows() {
        let mut s = Stack::with_capacity(2);
        s.extend_from_slice(&[Value::small(1), Value::small(2), Value::small(3)]);
        s.push(Value::small(4));
        assert_eq!(s.len(), 4);
        assert_eq!(s[2], Value::small(3));
        assert_eq!(s.pop(), Some(Value::small(4)));
        s.truncate(1);
        assert_eq!(&s[..], &[Value::small(1)]);
        assert_eq!(s.pop(), Some(Value::small(1)));
        assert_eq!(s.pop(), None);
    }
}
