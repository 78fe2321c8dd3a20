//! LLST image files (32-bit, LLST / Little Smalltalk v5 format) → heap.
//!
//! # Format
//! No header: the file is a depth-first sequence of records, of which the
//! top level holds exactly fifteen (the roots, see [`crate::roots`]). Every
//! count is a *word*: bytes summed while the byte read is 0xFF.
//!
//! | type | record | payload |
//! |---|---|---|
//! | 0 | invalid | — |
//! | 1 | pointer object | word N, class record, N field records |
//! | 2 | SmallInt | 4 bytes, little-endian, untagged |
//! | 3 | byte object | word N, N words (one byte each), class record |
//! | 4 | earlier object | word K: the K-th object read (0-based) |
//! | 5 | nil | — (object 0) |
//!
//! An object is numbered when its header is read, before its class and
//! fields, so records may refer back to objects still being read.
//!
//! Loading is two passes: [`parse`] reads the records into a flat table
//! (iteratively, so hostile nesting cannot overflow the Rust stack) and
//! checks every reference; [`load`] checks the shapes the VM relies on and
//! only then allocates. A malformed file is an [`ImageError`] naming the
//! byte offset and the problem, never a panic.
//!
//! # Class objects shorter than their metaclass declares
//! Little Smalltalk v5's image builder (which also built LLST's images)
//! writes every class object with 6 slots, even where its metaclass
//! declares class-side variables (LST v5's `GuiPrimitives`, LLST's
//! `Scheduler`); those VMs then store past the end of the object without
//! a check. lst checks every store, so the loader gives each class object
//! the slots its metaclass declares: the ones written, then nil
//! ([`grow_class_objects`]).

use crate::heap::{Heap, HeapConfig};
use crate::layout;
use crate::roots::IMAGE_ROOTS;
use crate::value::Value;

/// A malformed image: where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed image at byte offset {offset}: {problem}")]
pub struct ImageError {
    pub offset: usize,
    pub problem: String,
}

fn err<T>(offset: usize, problem: impl Into<String>) -> Result<T, ImageError> {
    Err(ImageError {
        offset,
        problem: problem.into(),
    })
}

/// A reference read from the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    Obj(usize),
    Int(i32),
}

/// An object as read from the file.
#[derive(Debug)]
pub struct Record {
    /// Byte offset of the record's type word.
    pub offset: usize,
    pub class: Ref,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    Slots(Vec<Ref>),
    Bytes(Vec<u8>),
}

/// The parsed file: every object, and the fifteen roots.
#[derive(Debug)]
pub struct Parsed {
    pub objects: Vec<Record>,
    pub roots: Vec<Ref>,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, ImageError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => err(self.pos, "truncated: the file ends inside a record"),
        }
    }

    fn word(&mut self) -> Result<usize, ImageError> {
        let start = self.pos;
        let mut sum = 0usize;
        loop {
            let b = self.byte()?;
            sum += b as usize;
            if b != 0xFF {
                return Ok(sum);
            }
            if sum > u32::MAX as usize {
                return err(start, "a count word exceeds 32 bits");
            }
        }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// Where a record's value goes.
enum Slot {
    Root(usize),
    Field(usize, usize),
    Class(usize),
}

/// Reads the records of an LLST image.
pub fn parse(data: &[u8]) -> Result<Parsed, ImageError> {
    let mut r = Reader { data, pos: 0 };
    let mut objects: Vec<Record> = Vec::new();
    let mut roots = vec![Ref::Int(0); IMAGE_ROOTS];
    let mut work: Vec<Slot> = (0..IMAGE_ROOTS).rev().map(Slot::Root).collect();
    while let Some(slot) = work.pop() {
        let at = r.pos;
        let value = match r.word()? {
            1 => {
                let n = r.word()?;
                // Each field takes at least one byte, the class another.
                if n >= r.remaining() {
                    return err(
                        at,
                        format!(
                            "object claims {n} fields but only {} bytes remain",
                            r.remaining()
                        ),
                    );
                }
                let idx = objects.len();
                objects.push(Record {
                    offset: at,
                    class: Ref::Int(0),
                    body: Body::Slots(vec![Ref::Int(0); n]),
                });
                work.extend((0..n).rev().map(|i| Slot::Field(idx, i)));
                work.push(Slot::Class(idx));
                Ref::Obj(idx)
            }
            2 => {
                let mut b = [0u8; 4];
                for x in &mut b {
                    *x = r.byte()?;
                }
                Ref::Int(i32::from_le_bytes(b))
            }
            3 => {
                let n = r.word()?;
                if n > r.remaining() {
                    return err(
                        at,
                        format!(
                            "byte object claims {n} bytes but only {} remain",
                            r.remaining()
                        ),
                    );
                }
                let mut bytes = Vec::with_capacity(n);
                for _ in 0..n {
                    let b_at = r.pos;
                    let w = r.word()?;
                    let Ok(b) = u8::try_from(w) else {
                        return err(b_at, format!("byte value {w} is out of range"));
                    };
                    bytes.push(b);
                }
                let idx = objects.len();
                objects.push(Record {
                    offset: at,
                    class: Ref::Int(0),
                    body: Body::Bytes(bytes),
                });
                work.push(Slot::Class(idx));
                Ref::Obj(idx)
            }
            4 => {
                let k = r.word()?;
                if k >= objects.len() {
                    return err(
                        at,
                        format!(
                            "reference to object {k}, but only {} objects precede it",
                            objects.len()
                        ),
                    );
                }
                Ref::Obj(k)
            }
            5 => {
                if objects.is_empty() {
                    return err(
                        at,
                        "nil reference before any object (nil must be the first object)",
                    );
                }
                Ref::Obj(0)
            }
            0 => return err(at, "invalid record (type 0)"),
            t => return err(at, format!("unknown record type {t}")),
        };
        match slot {
            Slot::Root(i) => roots[i] = value,
            Slot::Field(o, i) => {
                if let Body::Slots(f) = &mut objects[o].body {
                    f[i] = value;
                }
            }
            Slot::Class(o) => objects[o].class = value,
        }
    }
    Ok(Parsed { objects, roots })
}

fn is_class_shaped(p: &Parsed, r: Ref) -> bool {
    matches!(r, Ref::Obj(k) if matches!(&p.objects[k].body, Body::Slots(f) if f.len() >= layout::class::MIN_SLOTS))
}

/// Checks the shapes the VM relies on.
pub fn validate(p: &Parsed) -> Result<(), ImageError> {
    let Some(first) = p.objects.first() else {
        return err(0, "the image holds no objects");
    };
    if p.roots[0] != Ref::Obj(0) {
        return err(first.offset, "the first root (nil) is not the first object");
    }
    for rec in &p.objects {
        if !is_class_shaped(p, rec.class) {
            let what = match rec.class {
                Ref::Int(n) => format!("the SmallInt {n}"),
                Ref::Obj(k) => format!(
                    "object {k} (at byte {}), which is not class-shaped",
                    p.objects[k].offset
                ),
            };
            return err(rec.offset, format!("the object's class is {what}"));
        }
    }
    let root_at = |i: usize| match p.roots[i] {
        Ref::Obj(k) => p.objects[k].offset,
        Ref::Int(_) => 0,
    };
    for (i, name) in [(3, "globals"), (10, "initial method")] {
        let ok = matches!(p.roots[i], Ref::Obj(k) if matches!(&p.objects[k].body, Body::Slots(f) if f.len() >= 2));
        if !ok {
            return err(
                root_at(i),
                format!("root {i} ({name}) is not a pointer object"),
            );
        }
    }
    for (i, name) in [
        (4, "SmallInt"),
        (5, "Integer"),
        (6, "Array"),
        (7, "Block"),
        (8, "Context"),
        (9, "String"),
    ] {
        if !is_class_shaped(p, p.roots[i]) {
            return err(
                root_at(i),
                format!("root {i} (class {name}) is not a class"),
            );
        }
    }
    for (i, name) in [
        (11, "#<"),
        (12, "#<="),
        (13, "#+"),
        (14, "#doesNotUnderstand:"),
    ] {
        let ok = matches!(p.roots[i], Ref::Obj(k) if matches!(p.objects[k].body, Body::Bytes(_)));
        if !ok {
            return err(
                root_at(i),
                format!("root {i} (selector {name}) is not a symbol"),
            );
        }
    }
    Ok(())
}

/// Most slots a class object may be given: more is a malformed image.
const MAX_CLASS_SLOTS: usize = 1 << 16;
/// Most slots the loader may add to class objects in all.
const MAX_ADDED_SLOTS: usize = 1 << 20;

/// The class of `r`'s class, if `r` is an object (validated images only).
fn class_of_class(p: &Parsed, r: Ref) -> Option<usize> {
    let Ref::Obj(k) = r else { return None };
    let Ref::Obj(c) = p.objects[k].class else {
        return None;
    };
    match p.objects[c].class {
        Ref::Obj(cc) => Some(cc),
        Ref::Int(_) => None,
    }
}

/// Gives every class object (an object whose class's class is `Class`,
/// the class of the class of SmallInt) the slots its metaclass declares
/// in its instance-size slot, when that is more than it has: the
/// existing slots, then nil. Validated images only.
pub fn grow_class_objects(p: &mut Parsed) -> Result<(), ImageError> {
    let Some(class_class) = class_of_class(p, p.roots[4]) else {
        return Ok(());
    };
    let mut added = 0;
    for k in 0..p.objects.len() {
        if class_of_class(p, Ref::Obj(k)) != Some(class_class) {
            continue;
        }
        let Ref::Obj(meta) = p.objects[k].class else {
            continue;
        };
        let declared = match &p.objects[meta].body {
            Body::Slots(f) => match f.get(layout::class::INSTANCE_SIZE) {
                Some(&Ref::Int(n)) => usize::try_from(n).unwrap_or(0),
                _ => 0,
            },
            Body::Bytes(_) => 0,
        };
        let offset = p.objects[k].offset;
        if let Body::Slots(fields) = &mut p.objects[k].body
            && declared > fields.len()
        {
            added += declared - fields.len();
            if declared > MAX_CLASS_SLOTS || added > MAX_ADDED_SLOTS {
                return err(
                    offset,
                    format!(
                        "the class object's metaclass declares {declared} slots, more than the loader gives \
                         (at most {MAX_CLASS_SLOTS} each, {MAX_ADDED_SLOTS} added in all)"
                    ),
                );
            }
            fields.resize(declared, Ref::Obj(0));
        }
    }
    Ok(())
}

/// Parses, validates and materializes an LLST image in a new heap. The
/// heap's roots hold the fifteen image roots; the caller adds the rest.
pub fn load(data: &[u8], config: HeapConfig) -> Result<Heap, ImageError> {
    let mut parsed = parse(data)?;
    validate(&parsed)?;
    grow_class_objects(&mut parsed)?;
    let words: usize = parsed
        .objects
        .iter()
        .map(|o| match &o.body {
            Body::Slots(f) => Heap::words_for(f.len(), false),
            Body::Bytes(b) => Heap::words_for(b.len(), true),
        })
        .sum();
    let config = HeapConfig {
        initial_bytes: config.initial_bytes.max(words * 8 * 2),
        max_bytes: config.max_bytes.max(words * 8 * 4),
    };
    let mut heap = Heap::new(config);
    // Pass 1: allocate every object (class and fields are patched below).
    let mut addr = Vec::with_capacity(parsed.objects.len());
    for o in &parsed.objects {
        let v = match &o.body {
            Body::Slots(f) => heap.alloc_slots(Value::small(0), f.len(), Value::small(0)),
            Body::Bytes(b) => heap.alloc_bytes(Value::small(0), b.len()),
        };
        addr.push(v.expect("the heap was sized for the whole image"));
    }
    let resolve = |r: Ref| match r {
        Ref::Obj(k) => addr[k],
        Ref::Int(n) => Value::small(n as i64),
    };
    // Pass 2: classes, fields and bytes.
    for (o, &v) in parsed.objects.iter().zip(&addr) {
        heap.set_class(v, resolve(o.class));
        match &o.body {
            Body::Slots(f) => {
                for (i, &r) in f.iter().enumerate() {
                    heap.set(v, i, resolve(r));
                }
            }
            Body::Bytes(b) => heap.bytes_mut(v).copy_from_slice(b),
        }
    }
    heap.roots = parsed.roots.iter().map(|&r| resolve(r)).collect();
    Ok(heap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal well-formed image: nil is an instance of a class-shaped
    /// object whose class is itself; every root is nil or that class or a
    /// one-byte symbol.
    pub(crate) fn tiny_image() -> Vec<u8> {
        let mut v = vec![1, 0]; // nil: 0 fields
        v.extend([1, 5]); // its class: 5 fields
        v.extend([4, 1]); // class of the class: itself
        v.extend([5, 5, 5, 5, 5]); // its fields: nil
        v.extend([5, 5]); // true, false
        v.extend([4, 1]); // globals: the class (2+ slots)
        v.extend([4, 1, 4, 1, 4, 1, 4, 1, 4, 1, 4, 1]); // six classes
        v.extend([4, 1]); // initial method
        for _ in 0..4 {
            v.extend([3, 1, b'x', 4, 1]); // symbols
        }
        v
    }

    #[test]
    fn tiny_image_loads() {
        let heap = load(&tiny_image(), HeapConfig::default()).unwrap();
        assert_eq!(heap.roots.len(), IMAGE_ROOTS);
        let nil = heap.roots[0];
        assert_eq!(heap.size(nil), 0);
        let cls = heap.class_of_object(nil);
        assert_eq!(heap.class_of_object(cls), cls);
        assert_eq!(heap.bytes(heap.roots[14]), b"x");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let img = tiny_image();
        for len in 0..img.len() {
            let e = load(&img[..len], HeapConfig::default()).unwrap_err();
            assert!(e.offset <= len, "{e}");
        }
    }

    /// `tiny_image` with the class's instance size (slot 3) set to `n`.
    fn tiny_image_declaring(n: i32) -> Vec<u8> {
        let img = tiny_image();
        let mut v = img[..9].to_vec();
        v.push(2);
        v.extend(n.to_le_bytes());
        v.extend(&img[10..]);
        v
    }

    #[test]
    fn class_objects_grow_to_the_declared_size_within_bounds() {
        // The class is its own metaclass: declaring 7 slots grows it
        // (and nil, whose class's class is the same class) to 7.
        let heap = load(&tiny_image_declaring(7), HeapConfig::default()).unwrap();
        let cls = heap.class_of_object(heap.roots[0]);
        assert_eq!(heap.size(cls), 7);
        assert_eq!(heap.get(cls, 6), Some(heap.roots[0]));
        let e = load(&tiny_image_declaring(1 << 30), HeapConfig::default()).unwrap_err();
        assert!(e.problem.contains("declares 1073741824 slots"), "{e}");
    }

    #[test]
    fn malformed_records_are_named() {
        let mut img = tiny_image();
        img[2] = 9;
        assert_eq!(
            load(&img, HeapConfig::default()).unwrap_err().problem,
            "unknown record type 9"
        );
        let mut img = tiny_image();
        img[5] = 40; // class of the class: object 40 does not exist
        let e = load(&img, HeapConfig::default()).unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.problem.contains("reference to object 40"), "{e}");
        let mut img = tiny_image();
        img[3] = 1; // the class now has 1 field: not class-shaped
        let e = load(&img, HeapConfig::default()).unwrap_err();
        assert!(
            e.problem.contains("not class-shaped") || e.problem.contains("fields"),
            "{e}"
        );
    }
}
