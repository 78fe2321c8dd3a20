//! Compiled block bodies by `(method, body)`: a direct-mapped table that
//! compiled code reads to activate a block (`aBlock value: x`) without
//! the runtime.
//!
//! A `value…` send reaches a block through `Block>>value…`, a primitive
//! method (primitive 8), so the send-site ways, which hold compiled
//! methods, never cover it; and one site (the `value:` in `do:`) sees the
//! blocks of many methods, so the table is keyed by the block's body, not
//! by the site. The runtime fills an entry each time it activates a block
//! whose body is compiled ([`Vm::fill_block_entry`]); the send stub then
//! does what `Vm::activate_block` does for any block object of that body:
//! checks the object, stores the arguments into its home's temporaries,
//! pushes the frame and tail-calls the body's code.
//!
//! Entries hold object addresses, so the table is emptied with the send
//! sites (after a collection, after a method-cache flush).
//!
//! This module must not generate code; it owns the table's layout,
//! filling and flushing.

use super::boundary::Resume;
use crate::interp::frame::{H_CODE, H_CONTEXT, H_LITERALS, H_METHOD};
use crate::layout::block;
use crate::vm::Vm;
use std::cell::Cell;

/// Entries in the table (a power of two).
pub const BLOCK_ENTRIES: usize = 256;

/// One compiled block body.
#[repr(C)]
#[derive(Debug, Default)]
pub struct BlockEntry {
    /// The block's method (0: the entry is empty).
    pub method: Cell<u64>,
    /// The block's BODY_POINTER, as stored (a tagged SmallInt).
    pub body: Cell<u64>,
    /// The argument count a `value…` send was accepted with.
    pub arity: Cell<u64>,
    /// The method's bytecodes and literals (for the frame header).
    pub code: Cell<u64>,
    pub literals: Cell<u64>,
    /// The body's compiled entry and its continuation number.
    pub entry: Cell<u64>,
    pub k: Cell<u64>,
}

/// The table (boxed in the tier: compiled code holds its address).
pub type BlockTable = [BlockEntry; BLOCK_ENTRIES];

/// A new, empty table.
pub fn new_table() -> Box<BlockTable> {
    Box::new(std::array::from_fn(|_| BlockEntry::default()))
}

/// The hash of [`slot_of`]: the method's address loses its alignment bits
/// (objects are word-aligned), the body offset (a SmallInt) its tag.
pub const HASH_METHOD_SHIFT: u32 = crate::heap::WORD_BYTES.trailing_zeros();
pub const HASH_BODY_SHIFT: u32 = crate::value::TAG_BITS;

/// The slot of `(method, body)` (raw words); compiled code computes the
/// same from [`BlockLayout`]'s `hash_*` fields.
pub fn slot_of(method: u64, body: u64) -> usize {
    (((method >> HASH_METHOD_SHIFT) ^ (body >> HASH_BODY_SHIFT)) as usize) & (BLOCK_ENTRIES - 1)
}

/// Offsets of [`BlockEntry`] fields and of the Block slots compiled code
/// reads.
#[derive(Clone, Copy, Debug)]
pub struct BlockLayout {
    pub size: i32,
    pub method: i32,
    pub body: i32,
    pub arity: i32,
    pub code: i32,
    pub literals: i32,
    pub entry: i32,
    pub k: i32,
    /// Slot numbers in a Block object.
    pub slot_method: usize,
    pub slot_arguments: usize,
    pub slot_temporaries: usize,
    pub slot_argument_location: usize,
    pub slot_body: usize,
    /// Slots a Block object has at least.
    pub slots: usize,
    /// [`slot_of`]'s hash: shifts of the method and body words, and the
    /// mask of the table index.
    pub hash_method_shift: i64,
    pub hash_body_shift: i64,
    pub hash_mask: i64,
}

impl BlockLayout {
    pub fn new() -> BlockLayout {
        use std::mem::{offset_of, size_of};
        let off = |n: usize| i32::try_from(n).expect("entry offsets are small");
        BlockLayout {
            size: off(size_of::<BlockEntry>()),
            method: off(offset_of!(BlockEntry, method)),
            body: off(offset_of!(BlockEntry, body)),
            arity: off(offset_of!(BlockEntry, arity)),
            code: off(offset_of!(BlockEntry, code)),
            literals: off(offset_of!(BlockEntry, literals)),
            entry: off(offset_of!(BlockEntry, entry)),
            k: off(offset_of!(BlockEntry, k)),
            slot_method: crate::layout::context::METHOD,
            slot_arguments: crate::layout::context::ARGUMENTS,
            slot_temporaries: crate::layout::context::TEMPORARIES,
            slot_argument_location: block::ARGUMENT_LOCATION,
            slot_body: block::BODY_POINTER,
            slots: block::SLOTS,
            hash_method_shift: i64::from(HASH_METHOD_SHIFT),
            hash_body_shift: i64::from(HASH_BODY_SHIFT),
            hash_mask: (BLOCK_ENTRIES - 1) as i64,
        }
    }
}

impl Default for BlockLayout {
    fn default() -> Self {
        Self::new()
    }
}

impl Vm {
    /// Empties the block table (objects moved, or methods changed).
    pub(super) fn flush_block_entries(&mut self) {
        if let Some(t) = self.jit.as_ref() {
            t.blocks.iter().for_each(|e| e.method.set(0));
        }
    }

    /// A `value…` send of `nvals` values just activated the block in the
    /// current frame, and nothing moved since: if the frame runs compiled
    /// from its body's start, records the body so that compiled code can
    /// activate blocks of it directly.
    pub(super) fn fill_block_entry(&mut self, nvals: usize) {
        let hp = self.hp;
        let blk = self.header(hp, H_CONTEXT);
        if !self.is_block_object(blk) {
            return;
        }
        let Some(record) = self.native_record(self.pc) else {
            return;
        };
        if record.resume != Resume::Start as u32 {
            return;
        }
        let Some(body) = self.heap.get(blk, block::BODY_POINTER) else {
            return;
        };
        let method = self.header(hp, H_METHOD);
        let (code, literals) = (self.header(hp, H_CODE), self.header(hp, H_LITERALS));
        let Some(t) = self.jit.as_ref() else {
            return;
        };
        let e = &t.blocks[slot_of(method.raw(), body.raw())];
        e.body.set(body.raw());
        e.arity.set(nvals as u64 - 1);
        e.code.set(code.raw());
        e.literals.set(literals.raw());
        e.entry.set(record.code as u64);
        e.k.set(u64::from(record.k));
        e.method.set(method.raw());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiled code hashes with `BlockLayout`'s numbers; they must find
    /// the slot `slot_of` finds.
    #[test]
    fn the_layout_hash_is_slot_of() {
        let l = BlockLayout::new();
        for (method, body) in [
            (0x7f00_1234_5678u64, 41u64),
            (8, 3),
            (u64::MAX - 7, 1 << 20 | 1),
        ] {
            let by_layout = ((method >> l.hash_method_shift) ^ (body >> l.hash_body_shift))
                & l.hash_mask as u64;
            assert_eq!(by_layout as usize, slot_of(method, body));
        }
    }
}
