//! The Dictionaries the VM itself reads and writes: method dictionaries
//! and the globals. Two layouts are understood:
//!
//! * **sorted** (LLST's images): `keys` and `values` are parallel Arrays,
//!   the keys Symbols sorted by their bytes; found by binary search, and a
//!   new key is inserted in place (O(n), as LLST does).
//! * **hashed** (lst's own image, see `image/20-collections.st`): `keys`
//!   and `values` are parallel Arrays of one capacity with `nil` for a free
//!   slot, and a third slot `tally` (a SmallInt) counts the keys. A key
//!   lives at its hash modulo the capacity or in the next free slot after
//!   it (linear probing, wrapping around); the table doubles when more
//!   than three quarters full, so inserting is amortized O(1).
//!
//! A Dictionary is hashed when it has a `tally` slot holding a SmallInt.
//! The hash the VM computes for a key is the one the image's `hash`
//! answers for the keys the VM itself stores (Symbols): [`bytes_hash`] for
//! byte objects (Symbols, Strings, LargeIntegers), the value for a
//! SmallInt or a Char, the identity hash otherwise (a key whose class
//! overrides `hash` otherwise, such as a Float put into the globals from
//! Smalltalk, is rehashed by the VM under its identity hash).

use crate::heap::OutOfMemory;
use crate::layout::dictionary::{KEYS, TALLY, VALUES};
use crate::value::Value;
use crate::vm::Vm;

/// The capacity of a new, empty hashed Dictionary.
pub const INITIAL_CAPACITY: usize = 8;

/// The hash of a byte object's bytes (FNV-1a, shifted to 62 bits so it
/// is a non-negative SmallInt): primitive 118, `String>>hash`.
pub fn bytes_hash(bytes: &[u8]) -> i64 {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (h >> 2) as i64
}

/// Whether a hashed table holding `tally` keys in `capacity` slots must
/// grow (the image's `Dictionary>>at:put:` uses the same rule).
fn must_grow(tally: usize, capacity: usize) -> bool {
    tally * 4 > capacity * 3
}

impl Vm {
    /// Whether `dict` has the hashed layout (a SmallInt `tally` slot).
    pub fn is_hashed_dictionary(&self, dict: Value) -> bool {
        dict.is_ref()
            && !self.heap.is_bytes(dict)
            && self.heap.get(dict, TALLY).is_some_and(|t| t.is_int())
    }

    /// The `keys` and `values` Arrays of a Dictionary, if it has both.
    fn dictionary_arrays(&self, dict: Value) -> Option<(Value, Value)> {
        if !dict.is_ref() || self.heap.is_bytes(dict) {
            return None;
        }
        let keys = self.heap.get(dict, KEYS)?;
        let values = self.heap.get(dict, VALUES)?;
        let is_array = |a: Value| a.is_ref() && a != self.nil() && !self.heap.is_bytes(a);
        (is_array(keys) && is_array(values)).then_some((keys, values))
    }

    /// The hash the image's `hash` answers for `key` (see the module doc).
    fn key_hash(&self, key: Value) -> i64 {
        if let Some(n) = key.as_int() {
            n
        } else if self.heap.class_of_object(key) == self.root(crate::roots::Root::CharClass) {
            self.heap.get(key, 0).and_then(|v| v.as_int()).unwrap_or(0)
        } else if self.heap.is_bytes(key) {
            bytes_hash(self.heap.bytes(key))
        } else {
            i64::from(self.heap.identity_hash(key))
        }
    }

    /// Looks up the value of the key with these bytes (a Symbol or String
    /// key) in a sorted or hashed Dictionary.
    pub fn dictionary_find(&self, dict: Value, key: &[u8]) -> Option<Value> {
        let (keys, values) = self.dictionary_arrays(dict)?;
        let at = if self.is_hashed_dictionary(dict) {
            self.hashed_slot(keys, key).ok()?
        } else {
            self.sorted_slot(keys, key).ok()?
        };
        self.heap.get(values, at)
    }

    /// Where the key with bytes `key` is in a hashed table (`Ok`), or the
    /// free slot where it would go (`Err`; `Err(usize::MAX)` if the table
    /// is full, which a well-formed one never is).
    fn hashed_slot(&self, keys: Value, key: &[u8]) -> Result<usize, usize> {
        let ks = self.heap.slots(keys);
        let n = ks.len();
        if n == 0 {
            return Err(usize::MAX);
        }
        let nil = self.nil();
        let mut i = bytes_hash(key).rem_euclid(n as i64) as usize;
        for _ in 0..n {
            let k = ks[i];
            if k == nil {
                return Err(i);
            }
            if k.is_ref() && self.heap.is_bytes(k) && self.heap.bytes(k) == key {
                return Ok(i);
            }
            i = (i + 1) % n;
        }
        Err(usize::MAX)
    }

    /// Where the key with bytes `key` is in sorted keys (`Ok`), or where it
    /// would be inserted (`Err`).
    fn sorted_slot(&self, keys: Value, key: &[u8]) -> Result<usize, usize> {
        let ks = self.heap.slots(keys);
        let bytes_of = |k: Value| -> &[u8] { if k.is_ref() { self.heap.bytes(k) } else { &[] } };
        let at = ks.partition_point(|&k| bytes_of(k) < key);
        match ks.get(at) {
            Some(&k) if k.is_ref() && self.heap.bytes(k) == key => Ok(at),
            _ => Err(at),
        }
    }

    /// Every (key, value) of a sorted or hashed Dictionary, in table order
    /// (free slots skipped).
    pub fn dictionary_entries(&self, dict: Value) -> Vec<(Value, Value)> {
        let Some((keys, values)) = self.dictionary_arrays(dict) else {
            return vec![];
        };
        let nil = self.nil();
        let hashed = self.is_hashed_dictionary(dict);
        self.heap
            .slots(keys)
            .iter()
            .zip(self.heap.slots(values))
            .filter(|&(&k, _)| !hashed || k != nil)
            .map(|(&k, &v)| (k, v))
            .collect()
    }

    /// A new empty Dictionary of the image's `Dictionary` class: hashed if
    /// that class declares the `tally` slot, else sorted.
    pub fn new_dictionary(&mut self) -> Result<Value, OutOfMemory> {
        let class = self.global("Dictionary").unwrap_or(self.nil());
        self.new_dictionary_of(class)
    }

    /// A new empty Dictionary of `class`: hashed if `class` declares the
    /// `tally` slot, else sorted.
    pub fn new_dictionary_of(&mut self, class: Value) -> Result<Value, OutOfMemory> {
        let size = self
            .heap
            .get(class, crate::layout::class::INSTANCE_SIZE)
            .and_then(|v| v.as_usize())
            .unwrap_or(2)
            .clamp(2, 64);
        let dict = self.alloc_slots(class, size)?;
        let hashed = size > TALLY;
        let capacity = if hashed { INITIAL_CAPACITY } else { 0 };
        let h = self.heap.push_handle(dict);
        let r = self.fill_dictionary(h, capacity, hashed);
        let dict = self.heap.handle(h);
        self.heap.release_handles(h);
        r.map(|()| dict)
    }

    /// Gives the Dictionary in handle `h` new empty `keys` and `values` of
    /// `capacity` slots (and a zero tally if hashed).
    fn fill_dictionary(
        &mut self,
        h: usize,
        capacity: usize,
        hashed: bool,
    ) -> Result<(), OutOfMemory> {
        for field in [KEYS, VALUES] {
            let a = self.new_array(capacity)?;
            let dict = self.heap.handle(h);
            self.heap.set(dict, field, a);
        }
        if hashed {
            let dict = self.heap.handle(h);
            self.heap.set(dict, TALLY, Value::small(0));
        }
        Ok(())
    }

    /// Sets `key` (a Symbol) to `value` in a sorted or hashed Dictionary
    /// (method dictionaries, the globals), adding the key if it is new.
    pub fn dictionary_insert(
        &mut self,
        dict: Value,
        key: Value,
        value: Value,
    ) -> Result<(), OutOfMemory> {
        let mark = self.heap.handle_mark();
        let handles = [dict, key, value].map(|v| self.heap.push_handle(v));
        let r = if self.is_hashed_dictionary(dict) {
            self.hashed_insert(handles)
        } else {
            self.sorted_insert(handles)
        };
        self.heap.release_handles(mark);
        r
    }

    /// [`Vm::dictionary_insert`] into a hashed table; `h` holds the
    /// dictionary, the key and the value.
    fn hashed_insert(&mut self, h: [usize; 3]) -> Result<(), OutOfMemory> {
        let [h_dict, h_key, h_value] = h;
        let (dict, key) = (self.heap.handle(h_dict), self.heap.handle(h_key));
        let Some((keys, values)) = self.dictionary_arrays(dict) else {
            return Ok(());
        };
        let found = self.hashed_slot(keys, self.heap.bytes(key));
        let value = self.heap.handle(h_value);
        let at = match found {
            Ok(at) => {
                self.heap.set(values, at, value);
                return Ok(());
            }
            Err(usize::MAX) => {
                self.grow_hashed(h_dict)?;
                return self.hashed_insert(h);
            }
            Err(at) => at,
        };
        self.heap.set(keys, at, key);
        self.heap.set(values, at, value);
        let tally = self.tally(dict) + 1;
        self.heap.set(dict, TALLY, Value::small(tally as i64));
        if must_grow(tally, self.heap.size(keys)) {
            self.grow_hashed(h_dict)?;
        }
        Ok(())
    }

    /// A hashed Dictionary's key count.
    fn tally(&self, dict: Value) -> usize {
        self.heap
            .get(dict, TALLY)
            .and_then(|t| t.as_usize())
            .unwrap_or(0)
    }

    /// Rehashes the hashed Dictionary in handle `h_dict` into tables of
    /// twice the capacity.
    fn grow_hashed(&mut self, h_dict: usize) -> Result<(), OutOfMemory> {
        let dict = self.heap.handle(h_dict);
        let Some((keys, values)) = self.dictionary_arrays(dict) else {
            return Ok(());
        };
        let capacity = (self.heap.size(keys) * 2).max(INITIAL_CAPACITY);
        let mark = self.heap.handle_mark();
        let old = [keys, values].map(|a| self.heap.push_handle(a));
        let r = self.fill_dictionary(h_dict, capacity, true);
        if r.is_ok() {
            let old = old.map(|h| self.heap.handle(h));
            self.rehash_into(self.heap.handle(h_dict), old);
        }
        self.heap.release_handles(mark);
        r
    }

    /// Puts the entries of the old `[keys, values]` tables into the hashed
    /// Dictionary `dict`, whose tables are empty and larger. Allocates
    /// nothing, so no object moves meanwhile.
    fn rehash_into(&mut self, dict: Value, old: [Value; 2]) {
        let Some((keys, values)) = self.dictionary_arrays(dict) else {
            return;
        };
        let (n, nil) = (self.heap.size(keys), self.nil());
        let mut tally = 0;
        for i in 0..self.heap.size(old[0]) {
            let k = self.heap.get(old[0], i).unwrap_or(nil);
            if k == nil {
                continue;
            }
            let v = self.heap.get(old[1], i).unwrap_or(nil);
            let mut at = self.key_hash(k).rem_euclid(n as i64) as usize;
            while self.heap.get(keys, at) != Some(nil) {
                at = (at + 1) % n;
            }
            self.heap.set(keys, at, k);
            self.heap.set(values, at, v);
            tally += 1;
        }
        self.heap.set(dict, TALLY, Value::small(tally));
    }

    /// [`Vm::dictionary_insert`] into sorted keys (LLST's layout): the
    /// key goes in its place in copies of `keys` and `values` one longer.
    fn sorted_insert(&mut self, h: [usize; 3]) -> Result<(), OutOfMemory> {
        let [h_dict, h_key, h_value] = h;
        let (dict, key) = (self.heap.handle(h_dict), self.heap.handle(h_key));
        let Some((keys, values)) = self.dictionary_arrays(dict) else {
            return Ok(());
        };
        let at = match self.sorted_slot(keys, self.heap.bytes(key)) {
            Ok(at) => {
                let value = self.heap.handle(h_value);
                self.heap.set(values, at, value);
                return Ok(());
            }
            Err(at) => at,
        };
        for (field, h_item) in [(KEYS, h_key), (VALUES, h_value)] {
            let dict = self.heap.handle(h_dict);
            let old = self.heap.get(dict, field).unwrap_or(dict);
            let n = self.heap.size(old);
            let class = self.heap.class_of_object(old);
            let h_old = self.heap.push_handle(old);
            let new = self.alloc_slots(class, n + 1)?;
            let old = self.heap.handle(h_old);
            for i in 0..n {
                let v = self.heap.slots(old)[i];
                self.heap.set(new, if i < at { i } else { i + 1 }, v);
            }
            let item = self.heap.handle(h_item);
            self.heap.set(new, at, item);
            let dict = self.heap.handle(h_dict);
            self.heap.set(dict, field, new);
        }
        Ok(())
    }
}
