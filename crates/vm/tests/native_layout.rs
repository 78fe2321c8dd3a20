//! The numbers compiled code takes from `Vm::native_layout()` about
//! tagged words and objects describe what the VM really does: SmallInts
//! tagged by `Value` decode with the layout's tag numbers, and the words
//! of real heap objects, read at the layout's offsets, hold their header
//! (size, bytes flag, identity hash) and class.

use lst_vm::Vm;
use lst_vm::heap::{Heap, HeapConfig};
use lst_vm::value::{SMALLINT_MAX, SMALLINT_MIN, Value};

/// The word at byte `offset` from object `obj` of `heap`.
fn word_at(heap: &Heap, obj: Value, offset: i32) -> u64 {
    let at = (obj.raw() - heap.base()) as usize;
    let at = at
        .checked_add_signed(offset as isize)
        .expect("inside the object");
    let bytes = &heap.space_bytes()[at..at + 8];
    u64::from_le_bytes(bytes.try_into().unwrap())
}

fn small_heap() -> Heap {
    Heap::new(HeapConfig {
        initial_bytes: 1 << 16,
        max_bytes: 1 << 20,
    })
}

#[test]
fn smallints_decode_with_the_layouts_tag() {
    let lay = Vm::native_layout();
    for n in [0, 1, -1, 42, -42, SMALLINT_MAX, SMALLINT_MIN] {
        let word = Value::int(n).unwrap().raw() as i64;
        assert_eq!(word & lay.tag_mask, lay.smallint_tag, "tag of {n}");
        assert_eq!(word >> lay.tag_bits, n, "value of {n}");
        assert_eq!((n << lay.tag_bits) | lay.smallint_tag, word, "tagging {n}");
    }
    // The tag bits of a SmallInt are all set, so the `and` of two words
    // tells whether both are SmallInts.
    assert_eq!(lay.smallint_tag, lay.tag_mask);
    assert_ne!(lay.tag_mask, 0);
}

#[test]
fn references_have_clear_tag_bits() {
    let lay = Vm::native_layout();
    let mut heap = small_heap();
    let class = heap
        .alloc_slots(Value::small(0), 0, Value::small(0))
        .unwrap();
    for len in 0..4 {
        let obj = heap.alloc_bytes(class, len).unwrap();
        assert_eq!(obj.raw() as i64 & lay.tag_mask, 0);
    }
}

#[test]
fn objects_read_through_the_layouts_offsets() {
    let lay = Vm::native_layout();
    let mut heap = small_heap();
    let class = heap
        .alloc_slots(Value::small(0), 1, Value::small(0))
        .unwrap();
    let slots = heap.alloc_slots(class, 3, Value::small(5)).unwrap();
    assert!(heap.set(slots, 0, Value::small(7)));
    let bytes = heap.alloc_bytes(class, 5).unwrap();

    let header = word_at(&heap, slots, lay.header_word);
    assert_eq!(header & lay.size_mask, 3);
    assert_eq!(header & lay.bytes_flag, 0);
    assert_eq!(word_at(&heap, slots, lay.class_word), class.raw());
    assert_eq!(word_at(&heap, slots, lay.first_slot), Value::small(7).raw());
    assert_eq!(
        word_at(&heap, slots, lay.first_slot + 16),
        Value::small(5).raw()
    );

    let header = word_at(&heap, bytes, lay.header_word);
    assert_eq!(header & lay.size_mask, 5);
    assert_ne!(header & lay.bytes_flag, 0);
    assert_eq!(
        word_at(&heap, bytes, lay.class_word),
        heap.class_of_object(bytes).raw()
    );
}

#[test]
fn a_float_sized_byte_object_has_the_layouts_float_header() {
    let lay = Vm::native_layout();
    let mut heap = small_heap();
    let class = heap
        .alloc_slots(Value::small(0), 0, Value::small(0))
        .unwrap();
    let float = heap.alloc_bytes(class, size_of::<f64>()).unwrap();
    let header = word_at(&heap, float, lay.header_word);
    assert_eq!(header & (lay.size_mask | lay.bytes_flag), lay.float_header);
}

#[test]
fn identity_hashes_follow_the_layouts_sequence() {
    let lay = Vm::native_layout();
    let a = lay.alloc;
    let mut heap = small_heap();
    let class = heap
        .alloc_slots(Value::small(0), 0, Value::small(0))
        .unwrap();
    let first = heap.alloc_bytes(class, 8).unwrap();
    let second = heap.alloc_bytes(class, 8).unwrap();
    for obj in [first, second] {
        let header = word_at(&heap, obj, lay.header_word);
        assert_eq!((header >> a.hash_shift) as u32, heap.identity_hash(obj));
    }
    let next = heap.identity_hash(first).wrapping_add(a.hash_step) & a.hash_mask;
    assert_eq!(heap.identity_hash(second), next);
}
