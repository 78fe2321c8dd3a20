//! Writes LLST-format image files (the format of LLST and Little
//! Smalltalk v5) from objects described in Rust, so tests can make small
//! images of a chosen shape.
//!
//! Objects are added to an [`ImageWriter`] and referred to by [`Ref`];
//! [`ImageWriter::write`] emits the fifteen roots depth-first, each object
//! in full where it is first reached and as a back-reference afterwards.

#![allow(dead_code)]

use std::collections::HashMap;

/// A reference to an object added to the writer, a SmallInt, or nil.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    Obj(usize),
    Int(i32),
    Nil,
}

#[derive(Debug)]
enum Body {
    Slots(Vec<Ref>),
    Bytes(Vec<u8>),
}

#[derive(Debug)]
struct Object {
    class: Ref,
    body: Body,
}

/// The objects of an image under construction.
#[derive(Default)]
pub struct ImageWriter {
    objects: Vec<Object>,
}

impl ImageWriter {
    /// Adds a pointer object of `class` with `fields`.
    pub fn slots(&mut self, class: Ref, fields: Vec<Ref>) -> Ref {
        self.objects.push(Object {
            class,
            body: Body::Slots(fields),
        });
        Ref::Obj(self.objects.len() - 1)
    }

    /// Adds a byte object of `class`.
    pub fn bytes(&mut self, class: Ref, bytes: &[u8]) -> Ref {
        self.objects.push(Object {
            class,
            body: Body::Bytes(bytes.to_vec()),
        });
        Ref::Obj(self.objects.len() - 1)
    }

    /// Sets the class of `obj` (for classes made before their metaclass).
    pub fn set_class(&mut self, obj: Ref, class: Ref) {
        if let Ref::Obj(i) = obj {
            self.objects[i].class = class;
        }
    }

    /// Sets field `i` of the pointer object `obj`.
    pub fn set_field(&mut self, obj: Ref, i: usize, value: Ref) {
        if let Ref::Obj(o) = obj
            && let Body::Slots(f) = &mut self.objects[o].body
        {
            f[i] = value;
        }
    }

    /// The image file: `roots` (the first must be nil's object) in order.
    pub fn write(&self, roots: &[Ref; 15]) -> Vec<u8> {
        let mut out = Emitter {
            objects: &self.objects,
            numbered: HashMap::new(),
            nil: roots[0],
            bytes: vec![],
        };
        for &r in roots {
            out.emit(r);
        }
        out.bytes
    }
}

struct Emitter<'a> {
    objects: &'a [Object],
    /// Writer index → index in the file (order of first emission).
    numbered: HashMap<usize, usize>,
    nil: Ref,
    bytes: Vec<u8>,
}

impl Emitter<'_> {
    fn word(&mut self, mut n: usize) {
        while n >= 255 {
            self.bytes.push(255);
            n -= 255;
        }
        self.bytes.push(n as u8);
    }

    fn emit(&mut self, r: Ref) {
        let i = match r {
            Ref::Int(n) => {
                self.word(2);
                self.bytes.extend_from_slice(&n.to_le_bytes());
                return;
            }
            Ref::Nil => return self.word(5),
            Ref::Obj(i) if r == self.nil && self.numbered.contains_key(&i) => {
                return self.word(5);
            }
            Ref::Obj(i) => i,
        };
        if let Some(&k) = self.numbered.get(&i) {
            self.word(4);
            return self.word(k);
        }
        let k = self.numbered.len();
        self.numbered.insert(i, k);
        let object = &self.objects[i];
        match &object.body {
            Body::Slots(fields) => {
                self.word(1);
                self.word(fields.len());
                self.emit(object.class);
                for &f in fields {
                    self.emit(f);
                }
            }
            Body::Bytes(b) => {
                self.word(3);
                self.word(b.len());
                for &x in b {
                    self.word(x as usize);
                }
                self.emit(object.class);
            }
        }
    }
}
