//! The object heap: allocation, object access, and a precise moving
//! collector (Cheney copying between two spaces, growing on demand).
//!
//! # Object layout
//! Every object starts with two words:
//! * word 0, the header: bits 0–31 the size (slots for pointer objects,
//!   bytes for byte objects), bits 32–39 flags ([`BYTES`], [`FORWARDED`]),
//!   bits 40–63 the identity hash;
//! * word 1, the class (a [`Value`]).
//!
//! Pointer objects then hold one [`Value`] per slot; byte objects hold their
//! bytes, padded to a whole word.
//!
//! # References are addresses, access is by index
//! A reference is the address of word 0, so identity is a word compare and
//! compiled code can use it directly. The heap turns an address into an index
//! into its `Vec<u64>` with a bounds check, so this module needs no `unsafe`:
//! a stale reference makes a panic ("dangling reference"), never a wild read.
//!
//! # Roots
//! The collector's roots are exactly: [`Heap::roots`] (the VM's named
//! objects and globals), the handle stack ([`Heap::push_handle`]), and the
//! slices the caller passes to [`Heap::collect`] (the VM stack). A `Value`
//! held anywhere else across an allocation is stale afterwards.
//!
//! # Weak references
//! [`Heap::collect_with_weak`] also takes a [`WeakRefs`]: references that
//! do not keep their objects alive. After each copy it is asked to update
//! them: a reference to an object that survived gets its new address, one
//! to an object that did not gets `None` (the holder drops it).
//!
//! This module must not know about classes, methods or the interpreter.

use crate::value::Value;
use std::time::Instant;

/// Header flag: the object holds bytes, not values.
pub const BYTES: u64 = 1 << 32;
/// Header flag (during a collection): word 1 holds the forwarding address.
pub const FORWARDED: u64 = 2 << 32;
/// The header's size field (its low 32 bits).
pub const SIZE_MASK: u64 = 0xFFFF_FFFF;
const HASH_SHIFT: u32 = 40;
/// Each new object's identity hash is the previous one's plus this, masked.
const HASH_STEP: u32 = 0x9E37;
const HASH_MASK: u32 = 0xFF_FFFF;
/// Words before an object's first slot.
pub const HEADER_WORDS: usize = 2;
/// The word of an object that holds its header, and the one that holds
/// its class (indices from the object's address, in words).
pub const HEADER_WORD: usize = 0;
pub const CLASS_WORD: usize = 1;
/// Bytes per heap word.
pub const WORD_BYTES: usize = std::mem::size_of::<u64>();

/// The heap cannot satisfy an allocation even after collecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("out of memory: {requested_bytes} bytes requested, heap limit {limit_bytes} bytes")]
pub struct OutOfMemory {
    pub requested_bytes: usize,
    pub limit_bytes: usize,
}

/// Collector statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcStats {
    pub collections: u64,
    pub allocated_words: u64,
    pub copied_words: u64,
    pub nanos: u128,
    pub live_words: usize,
}

/// Byte offsets of a [`Heap`]'s allocation state (all `u64` but
/// `next_hash`, a `u32`), and the identity-hash sequence `bump` follows:
/// an object at word index `top` of the space at address `base` fits if
/// `top + size <= words`; it takes hash `(next_hash + hash_step) &
/// hash_mask`, stored at bit `hash_shift` of its header word.
#[derive(Clone, Copy, Debug)]
pub struct AllocLayout {
    pub base: usize,
    pub top: usize,
    pub words: usize,
    pub next_hash: usize,
    pub allocated_words: usize,
    pub hash_step: u32,
    pub hash_mask: u32,
    pub hash_shift: u32,
}

/// The object heap.
pub struct Heap {
    /// The active space. Never resized in place: its address is part of
    /// every reference into it.
    space: Vec<u64>,
    /// `space.len()`, where compiled code can read it (see
    /// [`AllocLayout`]).
    words: usize,
    /// The previous space, kept for the next collection to copy into: a
    /// fresh space costs a page fault and a cleared page per 4 KiB the
    /// first time it is touched.
    spare: Vec<u64>,
    base: u64,
    /// Words in use (the bump pointer).
    top: usize,
    /// Size of the next to-space, adjusted after each collection.
    target_words: usize,
    initial_words: usize,
    max_words: usize,
    /// Extra words granted once so that an out-of-memory error can still be
    /// reported by Smalltalk code.
    reserve_words: usize,
    reserve_in_use: bool,
    /// Named roots owned by the VM (nil, true, false, globals, classes…).
    pub roots: Vec<Value>,
    /// Every interned Symbol (strong roots: symbols are never freed).
    pub symbols: Vec<Value>,
    handles: Vec<Value>,
    next_hash: u32,
    pub stats: GcStats,
}

/// References held outside the heap that must not keep their objects
/// alive (type feedback, for one): updated by the collector after it has
/// copied everything the roots reach.
pub trait WeakRefs {
    /// Updates every weak reference: `forward(v)` answers `v`'s new value
    /// (a SmallInt unchanged), or `None` if `v`'s object died.
    fn update(&mut self, forward: &dyn Fn(Value) -> Option<Value>);
}

/// No weak references.
pub struct NoWeakRefs;

impl WeakRefs for NoWeakRefs {
    fn update(&mut self, _: &dyn Fn(Value) -> Option<Value>) {}
}

/// Heap sizes, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct HeapConfig {
    pub initial_bytes: usize,
    pub max_bytes: usize,
}

impl Default for HeapConfig {
    fn default() -> Self {
        HeapConfig {
            initial_bytes: 8 << 20,
            max_bytes: 4 << 30,
        }
    }
}

fn words_for_bytes(n: usize) -> usize {
    n.div_ceil(8)
}

/// Words an object occupies, from its header.
#[inline(always)]
fn object_words(header: u64) -> usize {
    let size = (header & SIZE_MASK) as usize;
    HEADER_WORDS
        + if header & BYTES != 0 {
            words_for_bytes(size)
        } else {
            size
        }
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Heap {{ used: {} words of {}, limit {} }}",
            self.top,
            self.space.len(),
            self.max_words
        )
    }
}

impl Heap {
    pub fn new(config: HeapConfig) -> Heap {
        let initial_words = (config.initial_bytes / 8).max(1024);
        let max_words = (config.max_bytes / 8).max(initial_words);
        let space = vec![0u64; initial_words];
        let base = space.as_ptr() as u64;
        Heap {
            words: space.len(),
            space,
            spare: Vec::new(),
            base,
            top: 0,
            target_words: initial_words,
            initial_words,
            max_words,
            reserve_words: (1 << 20) / 8,
            reserve_in_use: false,
            roots: Vec::new(),
            symbols: Vec::new(),
            handles: Vec::new(),
            next_hash: 1,
            stats: GcStats::default(),
        }
    }

    // -- Addresses -----------------------------------------------------------

    /// The index of `obj`'s header word. Panics on a value that is not a
    /// reference into the active space (a VM bug: a stale or forged value).
    #[inline(always)]
    fn index(&self, obj: Value) -> usize {
        let off = obj.raw().wrapping_sub(self.base);
        let i = (off >> 3) as usize;
        if off & 7 != 0 || i >= self.top {
            self.dangling(obj)
        }
        i
    }

    #[cold]
    #[inline(never)]
    fn dangling(&self, obj: Value) -> ! {
        panic!(
            "dangling reference {obj:?} (heap at {:#x}, {} words)",
            self.base, self.top
        )
    }

    /// Every object, in address order.
    pub fn objects(&self) -> impl Iterator<Item = Value> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= self.top {
                return None;
            }
            let obj = Value::from_raw(self.base + (i as u64) * 8);
            i += object_words(self.space[i]);
            Some(obj)
        })
    }

    // -- Snapshots (image files) ------------------------------------------------

    /// The words in use and the address of the first, for writing an image.
    pub fn snapshot(&self) -> (u64, &[u64]) {
        (self.base, &self.space[..self.top])
    }

    /// The next identity hash to hand out (saved in images).
    pub fn next_hash(&self) -> u32 {
        self.next_hash
    }

    /// A heap holding a copy of `words`, objects laid out as
    /// [`Heap::snapshot`] gives them. References are not moved here: the
    /// caller (`image::native`), which has checked the words and knows
    /// which of them are references, relocates them through
    /// [`Heap::words_mut`] and [`Heap::base`].
    pub fn from_words(config: HeapConfig, words: Vec<u64>, next_hash: u32) -> Heap {
        let mut heap = Heap::new(HeapConfig {
            initial_bytes: config.initial_bytes.max(words.len() * 8 * 2),
            max_bytes: config.max_bytes.max(words.len() * 8 * 2),
        });
        heap.space[..words.len()].copy_from_slice(&words);
        heap.top = words.len();
        heap.next_hash = next_hash.max(1);
        heap
    }

    /// The address of the first word (references are this plus 8 × index).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Raw words of the active space, for relocating a loaded image.
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.space[..self.top]
    }

    /// True when `v` is a reference to an object in this heap (for
    /// verification; the interpreter trusts its roots).
    pub fn contains(&self, v: Value) -> bool {
        let off = v.raw().wrapping_sub(self.base);
        v.is_ref() && off & 7 == 0 && ((off >> 3) as usize) < self.top
    }

    // -- Object access ------------------------------------------------------------

    #[inline(always)]
    fn header(&self, obj: Value) -> u64 {
        // A SmallInt reads as an empty pointer object.
        if obj.is_int() {
            0
        } else {
            self.space[self.index(obj)]
        }
    }

    /// The object's class.
    #[inline(always)]
    pub fn class_of_object(&self, obj: Value) -> Value {
        Value::from_raw(self.space[self.index(obj) + CLASS_WORD])
    }

    /// Replaces an object's class (image loading, `become`-free class change).
    pub fn set_class(&mut self, obj: Value, class: Value) {
        let at = self.index(obj);
        self.space[at + CLASS_WORD] = class.raw();
    }

    /// Slot count of a pointer object or byte count of a byte object.
    #[inline(always)]
    pub fn size(&self, obj: Value) -> usize {
        (self.header(obj) & SIZE_MASK) as usize
    }

    #[inline(always)]
    pub fn is_bytes(&self, obj: Value) -> bool {
        self.header(obj) & BYTES != 0
    }

    /// The identity hash assigned at allocation.
    pub fn identity_hash(&self, obj: Value) -> u32 {
        (self.header(obj) >> HASH_SHIFT) as u32
    }

    /// Slot `i` of a pointer object; `None` for byte objects or out of range.
    #[inline(always)]
    pub fn get(&self, obj: Value, i: usize) -> Option<Value> {
        if obj.is_int() {
            return None;
        }
        let at = self.index(obj);
        let h = self.space[at];
        if h & BYTES != 0 || i >= (h & SIZE_MASK) as usize {
            return None;
        }
        Some(Value::from_raw(self.space[at + HEADER_WORDS + i]))
    }

    /// Stores into slot `i` of a pointer object; `false` if it has no such slot.
    #[inline(always)]
    pub fn set(&mut self, obj: Value, i: usize, v: Value) -> bool {
        if obj.is_int() {
            return false;
        }
        let at = self.index(obj);
        let h = self.space[at];
        if h & BYTES != 0 || i >= (h & SIZE_MASK) as usize {
            return false;
        }
        self.space[at + HEADER_WORDS + i] = v.raw();
        true
    }

    /// All slots of a pointer object (empty for byte objects).
    #[inline]
    pub fn slots(&self, obj: Value) -> &[Value] {
        if obj.is_int() {
            return &[];
        }
        let at = self.index(obj);
        let h = self.space[at];
        if h & BYTES != 0 {
            return &[];
        }
        let n = (h & SIZE_MASK) as usize;
        bytemuck::cast_slice(&self.space[at + HEADER_WORDS..at + HEADER_WORDS + n])
    }

    /// The bytes of a byte object (empty for pointer objects).
    #[inline]
    pub fn bytes(&self, obj: Value) -> &[u8] {
        if obj.is_int() {
            return &[];
        }
        let at = self.index(obj);
        let h = self.space[at];
        if h & BYTES == 0 {
            return &[];
        }
        let n = (h & SIZE_MASK) as usize;
        let words = &self.space[at + HEADER_WORDS..at + HEADER_WORDS + words_for_bytes(n)];
        &bytemuck::cast_slice(words)[..n]
    }

    /// Where a byte object's bytes start in [`Heap::space_bytes`], and how
    /// many there are. Valid until the next collection.
    #[inline(always)]
    pub fn byte_range(&self, obj: Value) -> (usize, usize) {
        if obj.is_int() {
            return (0, 0);
        }
        let at = self.index(obj);
        let n = (self.space[at] & SIZE_MASK) as usize;
        (
            (at + HEADER_WORDS) * 8,
            if self.space[at] & BYTES != 0 { n } else { 0 },
        )
    }

    /// The whole active space as bytes (for reading the current method's
    /// bytecodes through a cached [`Heap::byte_range`]).
    #[inline(always)]
    pub fn space_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(&self.space[..self.top])
    }

    /// The bytes of a byte object, writable (empty for pointer objects).
    pub fn bytes_mut(&mut self, obj: Value) -> &mut [u8] {
        if obj.is_int() {
            return &mut [];
        }
        let at = self.index(obj);
        let h = self.space[at];
        if h & BYTES == 0 {
            return &mut [];
        }
        let n = (h & SIZE_MASK) as usize;
        let words = &mut self.space[at + HEADER_WORDS..at + HEADER_WORDS + words_for_bytes(n)];
        &mut bytemuck::cast_slice_mut(words)[..n]
    }

    /// Copies `count` slots between pointer objects (overlap-safe). The caller
    /// has checked the ranges.
    pub fn copy_slots(
        &mut self,
        dst: Value,
        dst_at: usize,
        src: Value,
        src_at: usize,
        count: usize,
    ) {
        let s = self.index(src) + HEADER_WORDS + src_at;
        let d = self.index(dst) + HEADER_WORDS + dst_at;
        self.space.copy_within(s..s + count, d);
    }

    /// Copies `count` bytes between byte objects (overlap-safe).
    pub fn copy_bytes(
        &mut self,
        dst: Value,
        dst_at: usize,
        src: Value,
        src_at: usize,
        count: usize,
    ) {
        if src == dst {
            self.bytes_mut(dst)
                .copy_within(src_at..src_at + count, dst_at);
        } else {
            let tmp = self.bytes(src)[src_at..src_at + count].to_vec();
            self.bytes_mut(dst)[dst_at..dst_at + count].copy_from_slice(&tmp);
        }
    }

    // -- Allocation ----------------------------------------------------------------

    /// Allocates a pointer object of `slots` slots, each set to `fill`.
    /// `None` when the active space is full: collect and retry.
    #[inline]
    pub fn alloc_slots(&mut self, class: Value, slots: usize, fill: Value) -> Option<Value> {
        let at = self.bump(HEADER_WORDS + slots, slots as u64)?;
        self.space[at + CLASS_WORD] = class.raw();
        self.space[at + HEADER_WORDS..at + HEADER_WORDS + slots].fill(fill.raw());
        Some(Value::from_raw(self.base + 8 * at as u64))
    }

    /// Allocates a zeroed byte object of `len` bytes. `None` when full.
    #[inline]
    pub fn alloc_bytes(&mut self, class: Value, len: usize) -> Option<Value> {
        let words = words_for_bytes(len);
        let at = self.bump(HEADER_WORDS + words, BYTES | len as u64)?;
        self.space[at + CLASS_WORD] = class.raw();
        self.space[at + HEADER_WORDS..at + HEADER_WORDS + words].fill(0);
        Some(Value::from_raw(self.base + 8 * at as u64))
    }

    /// Takes `words` words at the top of the active space for an object
    /// whose header has `size_and_flags`. Compiled code does the same
    /// for the Floats it boxes, at the offsets of [`Heap::alloc_layout`]:
    /// a change here must be made there too.
    #[inline(always)]
    fn bump(&mut self, words: usize, size_and_flags: u64) -> Option<usize> {
        if (size_and_flags & SIZE_MASK) != (size_and_flags & SIZE_MASK) as u32 as u64
            || words > self.space.len() - self.top
        {
            return None;
        }
        let at = self.top;
        self.top += words;
        self.next_hash = self.next_hash.wrapping_add(HASH_STEP) & HASH_MASK;
        self.space[at] = size_and_flags | (self.next_hash as u64) << HASH_SHIFT;
        self.stats.allocated_words += words as u64;
        Some(at)
    }

    /// Where the allocation state is in a `Heap`, for compiled code that
    /// allocates without calling into Rust.
    pub fn alloc_layout() -> AllocLayout {
        use std::mem::offset_of;
        AllocLayout {
            base: offset_of!(Heap, base),
            top: offset_of!(Heap, top),
            words: offset_of!(Heap, words),
            next_hash: offset_of!(Heap, next_hash),
            allocated_words: offset_of!(Heap, stats) + offset_of!(GcStats, allocated_words),
            hash_step: HASH_STEP,
            hash_mask: HASH_MASK,
            hash_shift: HASH_SHIFT,
        }
    }

    /// Words needed for an object, for [`Heap::collect`]'s `want`.
    pub fn words_for(slots_or_bytes: usize, bytes: bool) -> usize {
        HEADER_WORDS
            + if bytes {
                words_for_bytes(slots_or_bytes)
            } else {
                slots_or_bytes
            }
    }

    /// True if an object of `words` words fits without collecting.
    pub fn fits(&self, words: usize) -> bool {
        words <= self.space.len() - self.top
    }

    // -- Handles ---------------------------------------------------------------------

    /// Protects `v` across allocations; returns its handle index.
    pub fn push_handle(&mut self, v: Value) -> usize {
        self.handles.push(v);
        self.handles.len() - 1
    }
    /// The current value of handle `i`.
    pub fn handle(&self, i: usize) -> Value {
        self.handles[i]
    }
    /// Releases handles down to `len` (a value [`Heap::handle_mark`] returned).
    pub fn release_handles(&mut self, len: usize) {
        self.handles.truncate(len);
    }
    pub fn handle_mark(&self) -> usize {
        self.handles.len()
    }

    // -- Collection ------------------------------------------------------------------

    /// Bytes in use and the limit, for statistics and messages.
    pub fn used_bytes(&self) -> usize {
        self.top * 8
    }
    pub fn limit_bytes(&self) -> usize {
        self.max_words * 8
    }

    /// Collects, then makes sure `want` more words fit. The roots are
    /// [`Heap::roots`], the handles, and every value in `stacks`.
    pub fn collect(&mut self, stacks: &mut [&mut [Value]], want: usize) -> Result<(), OutOfMemory> {
        self.collect_with_weak(stacks, &mut NoWeakRefs, want)
    }

    /// [`Heap::collect`], then updates the weak references `weak` (see
    /// [`WeakRefs`]).
    pub fn collect_with_weak(
        &mut self,
        stacks: &mut [&mut [Value]],
        weak: &mut dyn WeakRefs,
        want: usize,
    ) -> Result<(), OutOfMemory> {
        let limit = self.max_words
            + if self.reserve_in_use {
                self.reserve_words
            } else {
                0
            };
        // Room for everything in use (the most that can survive); if the
        // survivors leave no room for `want`, the space grows below.
        let to_words = self.target_words.min(limit).max(self.top);
        self.copy_into(to_words, stacks, weak);
        let live = self.top;
        self.target_words = (3 * live + want).max(self.initial_words).min(limit);
        if self.fits(want) {
            if self.reserve_in_use && live + want + self.reserve_words < self.max_words {
                self.reserve_in_use = false;
            }
            return Ok(());
        }
        // Everything survived: grow now rather than at the next collection.
        if live + want <= limit {
            self.copy_into(self.target_words.max(live + want), stacks, weak);
            return Ok(());
        }
        Err(OutOfMemory {
            requested_bytes: want * 8,
            limit_bytes: limit * 8,
        })
    }

    /// Grants the emergency reserve once, so that an out-of-memory error can
    /// be raised as a Smalltalk error. False if it is already in use.
    pub fn grant_reserve(&mut self) -> bool {
        if self.reserve_in_use {
            return false;
        }
        self.reserve_in_use = true;
        true
    }

    /// Takes the emergency reserve back (the process that needed it has
    /// finished); the next collection enforces the normal limit again.
    pub fn return_reserve(&mut self) {
        self.reserve_in_use = false;
    }

    fn copy_into(&mut self, to_words: usize, stacks: &mut [&mut [Value]], weak: &mut dyn WeakRefs) {
        let started = Instant::now();
        let to = self.take_spare(to_words.max(HEADER_WORDS));
        let mut c = Copier {
            from_base: self.base,
            from_top: self.top,
            to_base: to.as_ptr() as u64,
            from: std::mem::replace(&mut self.space, to),
            free: 0,
        };
        for r in self
            .roots
            .iter_mut()
            .chain(self.symbols.iter_mut())
            .chain(self.handles.iter_mut())
        {
            *r = c.forward(&mut self.space, *r);
        }
        for stack in stacks.iter_mut() {
            for r in stack.iter_mut() {
                *r = c.forward(&mut self.space, *r);
            }
        }
        c.scan(&mut self.space);
        weak.update(&|v| c.survivor(v));
        self.base = c.to_base;
        self.words = self.space.len();
        self.top = c.free;
        self.stats.collections += 1;
        self.stats.copied_words += c.free as u64;
        self.stats.live_words = c.free;
        self.stats.nanos += started.elapsed().as_nanos();
        // No reference into the old space survives: it becomes the spare.
        self.spare = c.from;
    }

    /// A space of at least `words` words: the spare if it is big enough
    /// and not much bigger, else a new one. Its contents are garbage; the
    /// copy and the allocators write every word they hand out.
    fn take_spare(&mut self, words: usize) -> Vec<u64> {
        let spare = std::mem::take(&mut self.spare);
        if spare.len() >= words && spare.len() <= words + words / 2 {
            spare
        } else {
            drop(spare);
            vec![0u64; words]
        }
    }
}

/// The state of one Cheney copy.
struct Copier {
    from: Vec<u64>,
    from_base: u64,
    from_top: usize,
    to_base: u64,
    free: usize,
}

impl Copier {
    #[inline]
    fn forward(&mut self, to: &mut [u64], v: Value) -> Value {
        if v.is_int() {
            return v;
        }
        let off = v.raw().wrapping_sub(self.from_base);
        let i = (off >> 3) as usize;
        assert!(
            off & 7 == 0 && i < self.from_top,
            "collector found a dangling reference {v:?}"
        );
        let h = self.from[i];
        if h & FORWARDED != 0 {
            return Value::from_raw(self.from[i + CLASS_WORD]);
        }
        let n = object_words(h);
        to[self.free..self.free + n].copy_from_slice(&self.from[i..i + n]);
        let new = self.to_base + 8 * self.free as u64;
        self.free += n;
        self.from[i] = h | FORWARDED;
        self.from[i + CLASS_WORD] = new;
        Value::from_raw(new)
    }

    /// After the scan: the new value of weak reference `v`, or `None` if
    /// its object was not copied (nothing strong reaches it) or `v` is
    /// not a reference into the old space.
    fn survivor(&self, v: Value) -> Option<Value> {
        if v.is_int() {
            return Some(v);
        }
        let off = v.raw().wrapping_sub(self.from_base);
        let i = (off >> 3) as usize;
        if off & 7 != 0 || i >= self.from_top {
            return None;
        }
        let h = self.from[i];
        (h & FORWARDED != 0).then(|| Value::from_raw(self.from[i + CLASS_WORD]))
    }

    fn scan(&mut self, to: &mut [u64]) {
        let mut scan = 0;
        while scan < self.free {
            let h = to[scan];
            let n = object_words(h);
            let first = scan + 1;
            let last = if h & BYTES != 0 { scan + 2 } else { scan + n };
            for j in first..last {
                let old = Value::from_raw(to[j]);
                let new = self.forward(to, old);
                to[j] = new.raw();
            }
            scan += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_heap() -> Heap {
        Heap::new(HeapConfig {
            initial_bytes: 64 << 10,
            max_bytes: 1 << 20,
        })
    }

    #[test]
    fn objects_survive_collection_with_their_graph() {
        let mut h = small_heap();
        let cls = h.alloc_slots(Value::small(0), 0, Value::small(0)).unwrap();
        h.roots.push(cls);
        let a = h.alloc_slots(cls, 2, Value::small(7)).unwrap();
        let s = h.alloc_bytes(cls, 5).unwrap();
        h.bytes_mut(s).copy_from_slice(b"hello");
        h.set(a, 1, s);
        let _garbage = h.alloc_slots(cls, 100, Value::small(0)).unwrap();
        let mut stack = vec![a];
        let hash = h.identity_hash(a);
        h.collect(&mut [&mut stack], 0).unwrap();
        let a2 = stack[0];
        assert_ne!(a2, a, "the object moved");
        assert_eq!(h.identity_hash(a2), hash);
        assert_eq!(h.get(a2, 0), Some(Value::small(7)));
        let s2 = h.get(a2, 1).unwrap();
        assert_eq!(h.bytes(s2), b"hello");
        assert_eq!(h.class_of_object(a2), h.roots[0]);
        assert_eq!(h.stats.live_words, 2 + 4 + 3);
    }

    #[test]
    fn accessors_treat_small_ints_as_empty_objects() {
        let h = small_heap();
        let n = Value::small(12);
        assert_eq!((h.size(n), h.is_bytes(n), h.get(n, 0)), (0, false, None));
        assert!(h.slots(n).is_empty() && h.bytes(n).is_empty());
    }

    #[test]
    fn cycles_are_copied_once() {
        let mut h = small_heap();
        let a = h.alloc_slots(Value::small(0), 1, Value::small(0)).unwrap();
        h.set(a, 0, a);
        h.roots.push(a);
        h.collect(&mut [], 0).unwrap();
        let a2 = h.roots[0];
        assert_eq!(h.get(a2, 0), Some(a2));
        assert_eq!(h.stats.live_words, 3);
    }

    /// Weak references as a plain list (`None`: dropped).
    struct WeakList(Vec<Option<Value>>);

    impl WeakRefs for WeakList {
        fn update(&mut self, forward: &dyn Fn(Value) -> Option<Value>) {
            for r in self.0.iter_mut() {
                *r = r.and_then(forward);
            }
        }
    }

    #[test]
    fn weak_references_follow_survivors_and_drop_the_dead() {
        let mut h = small_heap();
        let kept = h.alloc_slots(Value::small(0), 1, Value::small(7)).unwrap();
        let dead = h.alloc_slots(Value::small(0), 1, Value::small(8)).unwrap();
        h.roots.push(kept);
        let mut weak = WeakList(vec![Some(kept), Some(dead), Some(Value::small(5))]);
        h.collect_with_weak(&mut [], &mut weak, 0).unwrap();
        let kept = h.roots[0];
        assert_eq!(weak.0, vec![Some(kept), None, Some(Value::small(5))]);
        assert_eq!(h.get(kept, 0), Some(Value::small(7)));
        // Only the strongly held object was copied.
        assert_eq!(h.stats.live_words, 3);
    }

    #[test]
    fn grows_then_reports_exhaustion() {
        let mut h = small_heap();
        let mut keep = Vec::new();
        let err = loop {
            match h.alloc_slots(Value::small(0), 1000, Value::small(0)) {
                Some(v) => keep.push(v),
                None => {
                    if let Err(e) = h.collect(&mut [&mut keep], 1002) {
                        break e;
                    }
                }
            }
        };
        assert_eq!(err.limit_bytes, 1 << 20);
        assert!(keep.len() > 100);
        assert!(h.grant_reserve());
        h.collect(&mut [&mut keep], 1002).unwrap();
        assert!(
            h.alloc_slots(Value::small(0), 1000, Value::small(0))
                .is_some()
        );
    }

    #[test]
    #[should_panic(expected = "dangling reference")]
    fn stale_reference_panics_instead_of_reading_freed_memory() {
        let mut h = small_heap();
        let a = h.alloc_slots(Value::small(0), 1, Value::small(0)).unwrap();
        h.collect(&mut [], 0).unwrap();
        let _ = h.get(a, 0);
    }
}
