//! Object primitives: identity, class, size, indexed access, instantiation,
//! byte-object copies and bulk replacement.

use super::{Args, PrimResult};
use crate::vm::Vm;

/// Largest object the primitives will create (slots or bytes).
const MAX_OBJECT: i64 = u32::MAX as i64;

fn is_pointers(vm: &Vm, v: crate::value::Value) -> bool {
    v.is_ref() && !vm.heap.is_bytes(v)
}
fn is_bytes(vm: &Vm, v: crate::value::Value) -> bool {
    v.is_ref() && vm.heap.is_bytes(v)
}

/// A 1-based index into an object of `size` elements, as 0-based.
fn index(i: Option<i64>, size: usize) -> Option<usize> {
    let i = usize::try_from(i?).ok()?;
    (1..=size).contains(&i).then(|| i - 1)
}

/// 1: `a == b`.
pub fn identical(vm: &mut Vm, a: Args) -> PrimResult {
    Ok(Some(vm.boolean(a.get(vm, 0) == a.get(vm, 1))))
}

/// 2: the class of anything.
pub fn class(vm: &mut Vm, a: Args) -> PrimResult {
    Ok(Some(vm.class_of(a.get(vm, 0))))
}

/// 4: slots or bytes; 0 for a SmallInt.
pub fn size(vm: &mut Vm, a: Args) -> PrimResult {
    let v = a.get(vm, 0);
    let n = if v.is_int() { 0 } else { vm.heap.size(v) };
    Ok(Some(crate::value::Value::small(n as i64)))
}

/// 24: `<24 array index>`.
pub fn array_at(vm: &mut Vm, a: Args) -> PrimResult {
    let array = a.get(vm, 0);
    if !is_pointers(vm, array) {
        return Ok(None);
    }
    Ok(index(a.int(vm, 1), vm.heap.size(array)).and_then(|i| vm.heap.get(array, i)))
}

/// 5: `<5 value array index>`; answers the array.
pub fn array_at_put(vm: &mut Vm, a: Args) -> PrimResult {
    let (value, array) = (a.get(vm, 0), a.get(vm, 1));
    if !is_pointers(vm, array) {
        return Ok(None);
    }
    let Some(i) = index(a.int(vm, 2), vm.heap.size(array)) else {
        return Ok(None);
    };
    vm.heap.set(array, i, value);
    Ok(Some(array))
}

/// 21: `<21 string index>`: a byte as a SmallInt.
pub fn string_at(vm: &mut Vm, a: Args) -> PrimResult {
    let s = a.get(vm, 0);
    if !is_bytes(vm, s) {
        return Ok(None);
    }
    let bytes = vm.heap.bytes(s);
    Ok(index(a.int(vm, 1), bytes.len()).map(|i| crate::value::Value::small(bytes[i] as i64)))
}

/// 22: `<22 value string index>`: stores a byte (0–255; LLST would keep
/// the low byte of anything, we fail instead); answers the string.
pub fn string_at_put(vm: &mut Vm, a: Args) -> PrimResult {
    let (value, s) = (a.get(vm, 0), a.get(vm, 1));
    let Some(byte) = value.as_int().filter(|b| (0..=255).contains(b)) else {
        return Ok(None);
    };
    if !is_bytes(vm, s) {
        return Ok(None);
    }
    let Some(i) = index(a.int(vm, 2), vm.heap.size(s)) else {
        return Ok(None);
    };
    vm.heap.bytes_mut(s)[i] = byte as u8;
    Ok(Some(s))
}

fn class_and_size(vm: &Vm, a: Args) -> Option<(crate::value::Value, usize)> {
    let n = a.int(vm, 1)?;
    vm.instance_shape(a.get(vm, 0), n)
}

impl Vm {
    /// `(class, n)` if primitives 7 and 20 can make an instance of
    /// `class` with `n` slots or bytes.
    fn instance_shape(
        &self,
        class: crate::value::Value,
        n: i64,
    ) -> Option<(crate::value::Value, usize)> {
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n as i64 <= MAX_OBJECT)?;
        self.is_class_shaped(class).then_some((class, n))
    }

    /// Primitive 7's object if the heap has room for it now (and GC
    /// stress is off): never collects. `None` also where primitive 7
    /// fails.
    pub(crate) fn new_object_without_collecting(
        &mut self,
        class: crate::value::Value,
        n: i64,
    ) -> Option<crate::value::Value> {
        let (class, n) = self.instance_shape(class, n)?;
        if self.options.gc_stress {
            return None;
        }
        let nil = self.nil();
        self.heap.alloc_slots(class, n, nil)
    }
}

/// 7: `<7 class size>`: a new pointer object of `size` nil slots.
pub fn new_object(vm: &mut Vm, a: Args) -> PrimResult {
    let Some((class, n)) = class_and_size(vm, a) else {
        return Ok(None);
    };
    Ok(Some(vm.alloc_slots(class, n)?))
}

/// 20: `<20 class size>`: a new zeroed byte object.
pub fn new_bytes(vm: &mut Vm, a: Args) -> PrimResult {
    let Some((class, n)) = class_and_size(vm, a) else {
        return Ok(None);
    };
    Ok(Some(vm.alloc_bytes(class, n)?))
}

/// 23: `<23 object class>`: a copy of a byte object with another class.
pub fn clone_bytes(vm: &mut Vm, a: Args) -> PrimResult {
    let (original, class) = (a.get(vm, 0), a.get(vm, 1));
    if !is_bytes(vm, original) || !vm.is_class_shaped(class) {
        return Ok(None);
    }
    let n = vm.heap.size(original);
    let copy = vm.alloc_bytes(class, n)?;
    let original = a.get(vm, 0); // the allocation may have moved it
    vm.heap.copy_bytes(copy, 0, original, 0, n);
    Ok(Some(copy))
}

/// 32: `Integer new: n` answers n itself (LLST has no boxed integers).
pub fn integer_new(vm: &mut Vm, a: Args) -> PrimResult {
    let v = a.get(vm, 0);
    Ok(v.is_int().then_some(v))
}

/// 38: `<38 start stop source sourceStart destination>`: copies
/// `source[sourceStart…]` over `destination[start..stop]` (1-based,
/// overlap-safe) between two byte objects or two pointer objects.
pub fn bulk_replace(vm: &mut Vm, a: Args) -> PrimResult {
    let (Some(start), Some(stop), Some(src_start)) = (a.int(vm, 0), a.int(vm, 1), a.int(vm, 3))
    else {
        return Ok(None);
    };
    let (src, dst) = (a.get(vm, 2), a.get(vm, 4));
    let count = stop - start + 1;
    if start < 1 || stop < 1 || src_start < 1 || count < 1 || src.is_int() || dst.is_int() {
        return Ok(None);
    }
    let (start, stop, src_start, count) = (
        start as usize - 1,
        stop as usize,
        src_start as usize - 1,
        count as usize,
    );
    if vm.heap.size(dst) < stop || vm.heap.size(src) < src_start + count {
        return Ok(None);
    }
    match (vm.heap.is_bytes(src), vm.heap.is_bytes(dst)) {
        (true, true) => vm.heap.copy_bytes(dst, start, src, src_start, count),
        (false, false) => vm.heap.copy_slots(dst, start, src, src_start, count),
        _ => return Ok(None),
    }
    Ok(Some(dst))
}

/// 114: the Symbol with a byte object's bytes.
pub fn intern(vm: &mut Vm, a: Args) -> PrimResult {
    let s = a.get(vm, 0);
    if !is_bytes(vm, s) {
        return Ok(None);
    }
    let bytes = vm.heap.bytes(s).to_vec();
    Ok(Some(vm.intern(&bytes)?))
}

/// 116: identity hash (a SmallInt ≥ 0; a SmallInt hashes to itself).
pub fn identity_hash(vm: &mut Vm, a: Args) -> PrimResult {
    let v = a.get(vm, 0);
    if let Some(n) = v.as_int() {
        return Ok(crate::value::Value::int(n.abs()));
    }
    Ok(Some(crate::value::Value::small(i64::from(
        vm.heap.identity_hash(v),
    ))))
}

/// 118: a hash of a byte object's bytes (FNV-1a, 62 bits).
pub fn bytes_hash(vm: &mut Vm, a: Args) -> PrimResult {
    let s = a.get(vm, 0);
    if !is_bytes(vm, s) {
        return Ok(None);
    }
    let h = crate::dictionary::bytes_hash(vm.heap.bytes(s));
    Ok(Some(crate::value::Value::small(h)))
}

/// 119: -1, 0 or 1: the bytewise order of two byte objects.
pub fn bytes_compare(vm: &mut Vm, a: Args) -> PrimResult {
    let (x, y) = (a.get(vm, 0), a.get(vm, 1));
    if !is_bytes(vm, x) || !is_bytes(vm, y) {
        return Ok(None);
    }
    let order = vm.heap.bytes(x).cmp(vm.heap.bytes(y)) as i64;
    Ok(Some(crate::value::Value::small(order)))
}

/// 124: the number of parameters of a Block (lst's images record it).
pub fn block_arity(vm: &mut Vm, a: Args) -> PrimResult {
    let blk = a.get(vm, 0);
    if !blk.is_ref() || vm.heap.class_of_object(blk) != vm.root(crate::roots::Root::BlockClass) {
        return Ok(None);
    }
    Ok(vm
        .block_arity(blk)
        .map(|n| crate::value::Value::small(n as i64)))
}

/// 121: a shallow copy of any object.
pub fn shallow_copy(vm: &mut Vm, a: Args) -> PrimResult {
    let v = a.get(vm, 0);
    if v.is_int() {
        return Ok(None);
    }
    let (class, n) = (vm.heap.class_of_object(v), vm.heap.size(v));
    let copy = if vm.heap.is_bytes(v) {
        let c = vm.alloc_bytes(class, n)?;
        let v = a.get(vm, 0);
        let bytes = vm.heap.bytes(v).to_vec();
        vm.heap.bytes_mut(c).copy_from_slice(&bytes);
        c
    } else {
        let c = vm.alloc_slots(class, n)?;
        let v = a.get(vm, 0);
        for i in 0..n {
            let x = vm.heap.slots(v)[i];
            vm.heap.set(c, i, x);
        }
        c
    };
    Ok(Some(copy))
}
