//! Images in LLST's format whose class objects have fewer slots than their
//! metaclass declares (issue 17, item 15). Little Smalltalk v5's image
//! builder allocates every class object with 6 slots, even where the
//! metaclass declares class-side variables; its `initSingletons` then
//! stores into such a variable, past the end of the class object. lst's
//! loader gives each class object the slots its metaclass declares, so
//! the store lands in a real slot (and stores stay bounds-checked).
//!
//! The image here is written from a small description with that shape: a
//! class `Gui` written with 6 slots whose metaclass `MetaGui` declares 7
//! (class-side variable `theInstance`), and a boot method that runs
//! `Gui resetInstance` (`theInstance <- 42`) and answers `Gui instance`.

mod common;
mod support;

use common::options;
use lst_bytecode::{Op, encode};
use lst_vm::roots::Root;
use lst_vm::value::Value;
use lst_vm::{ExitStatus, Vm};
use support::llst_writer::{ImageWriter, Ref};

/// Slots the image builder gives every class object (LST v5's ClassSize).
const CLASS_OBJECT_SLOTS: usize = 6;
/// The slot of `Gui`'s class-side variable `theInstance`.
const THE_INSTANCE: u8 = CLASS_OBJECT_SLOTS as u8;

/// A method: selector, bytecode, literals.
struct MethodDesc {
    selector: &'static str,
    code: Vec<u8>,
    literals: Vec<Ref>,
}

fn code(insns: &[(Op, u8)]) -> Vec<u8> {
    let mut out = vec![];
    for &(op, arg) in insns {
        encode(&mut out, op, arg, 0);
    }
    out
}

/// The image under construction and the objects the test looks up.
struct Lst5Like {
    w: ImageWriter,
    /// Class name → (class, metaclass).
    classes: Vec<(&'static str, Ref, Ref)>,
    symbols: Vec<(String, Ref)>,
}

impl Lst5Like {
    fn class(&self, name: &str) -> Ref {
        self.classes.iter().find(|c| c.0 == name).unwrap().1
    }
    fn meta(&self, name: &str) -> Ref {
        self.classes.iter().find(|c| c.0 == name).unwrap().2
    }

    fn symbol(&mut self, name: &str) -> Ref {
        if let Some(&(_, s)) = self.symbols.iter().find(|s| s.0 == name) {
            return s;
        }
        let class = self.class("Symbol");
        let s = self.w.bytes(class, name.as_bytes());
        self.symbols.push((name.to_string(), s));
        s
    }

    /// A new instance of `class` with `fields`.
    fn instance(&mut self, class: &str, fields: Vec<Ref>) -> Ref {
        let class = self.class(class);
        self.w.slots(class, fields)
    }

    fn array(&mut self, items: Vec<Ref>) -> Ref {
        let class = self.class("Array");
        self.w.slots(class, items)
    }

    /// A Dictionary with Symbol keys sorted by their bytes.
    fn dictionary(&mut self, mut entries: Vec<(&'static str, Ref)>) -> Ref {
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let keys = entries.iter().map(|e| self.symbol(e.0)).collect();
        let keys = self.array(keys);
        let values = self.array(entries.iter().map(|e| e.1).collect());
        let class = self.class("Dictionary");
        self.w.slots(class, vec![keys, values])
    }

    fn method(&mut self, owner: Ref, m: MethodDesc) -> Ref {
        let name = self.symbol(m.selector);
        let bytes_class = self.class("ByteArray");
        let bytes = self.w.bytes(bytes_class, &m.code);
        let literals = self.array(m.literals);
        let class = self.class("Method");
        self.w.slots(
            class,
            vec![
                name,
                bytes,
                literals,
                Ref::Int(8),
                Ref::Int(0),
                owner,
                Ref::Nil,
                Ref::Nil,
            ],
        )
    }

    /// Installs `methods` in `owner`'s method dictionary.
    fn methods(&mut self, owner: Ref, methods: Vec<MethodDesc>) {
        let entries = methods
            .into_iter()
            .map(|m| (m.selector, self.method(owner, m)))
            .collect();
        let dict = self.dictionary(entries);
        self.w.set_field(owner, 2, dict);
    }
}

/// (name, instance variables, class-side variables).
const CLASSES: &[(&str, &[&str], &[&str])] = &[
    (
        "Class",
        &[
            "name",
            "parentClass",
            "methods",
            "size",
            "variables",
            "package",
        ],
        &[],
    ),
    ("Object", &[], &[]),
    ("Undefined", &[], &[]),
    ("True", &[], &[]),
    ("False", &[], &[]),
    ("SmallInt", &[], &[]),
    ("Integer", &[], &[]),
    ("Array", &[], &[]),
    ("Block", &[], &[]),
    ("Context", &[], &[]),
    ("String", &[], &[]),
    ("Symbol", &[], &[]),
    ("ByteArray", &[], &[]),
    ("Dictionary", &["keys", "values"], &[]),
    (
        "Method",
        &[
            "name",
            "byteCodes",
            "literals",
            "stackSize",
            "temporarySize",
            "class",
            "text",
            "package",
        ],
        &[],
    ),
    ("Gui", &[], &["theInstance"]),
];

/// The image bytes: every class object written with 6 slots, whatever
/// its metaclass declares; `resetInstance` stores into slot `store_slot`
/// of the class object (6 is `theInstance`).
fn lst5_like_image(store_slot: u8) -> Vec<u8> {
    let mut img = Lst5Like {
        w: ImageWriter::default(),
        classes: vec![],
        symbols: vec![],
    };
    // Classes and metaclasses first (their classes are patched below).
    for &(name, _, _) in CLASSES {
        let class = img.w.slots(Ref::Nil, vec![Ref::Nil; CLASS_OBJECT_SLOTS]);
        let meta = img.w.slots(Ref::Nil, vec![Ref::Nil; CLASS_OBJECT_SLOTS]);
        img.classes.push((name, class, meta));
    }
    let class_class = img.class("Class");
    let object = img.class("Object");
    for &(name, ivars, cvars) in CLASSES {
        let (class, meta) = (img.class(name), img.meta(name));
        img.w.set_class(class, meta);
        img.w.set_class(meta, class_class);
        let parent = if name == "Object" { Ref::Nil } else { object };
        let meta_parent = if name == "Object" {
            class_class
        } else {
            img.meta("Object")
        };
        let own = [
            (class, name.to_string(), parent, ivars),
            (meta, format!("Meta{name}"), meta_parent, cvars),
        ];
        for (obj, obj_name, parent, vars) in own {
            let sym = img.symbol(&obj_name);
            let vars: Vec<Ref> = vars.iter().map(|v| img.symbol(v)).collect();
            let size = if obj == meta {
                CLASS_OBJECT_SLOTS + vars.len()
            } else {
                vars.len()
            };
            let vars = img.array(vars);
            img.w.set_field(obj, 0, sym);
            img.w.set_field(obj, 1, parent);
            img.w.set_field(obj, 3, Ref::Int(size as i32));
            img.w.set_field(obj, 4, vars);
        }
    }
    for &(name, _, _) in CLASSES {
        let (class, meta) = (img.class(name), img.meta(name));
        img.methods(class, vec![]);
        img.methods(meta, vec![]);
    }
    // MetaGui>>resetInstance: theInstance <- 42. MetaGui>>instance: ^ theInstance.
    let theinstance = THE_INSTANCE;
    let gui_meta = img.meta("Gui");
    img.methods(
        gui_meta,
        vec![
            MethodDesc {
                selector: "instance",
                code: code(&[(Op::PushInstance, theinstance), (Op::StackReturn, 0)]),
                literals: vec![],
            },
            MethodDesc {
                selector: "resetInstance",
                code: code(&[
                    (Op::PushLiteral, 0),
                    (Op::AssignInstance, store_slot),
                    (Op::PopTop, 0),
                    (Op::SelfReturn, 0),
                ]),
                literals: vec![Ref::Int(42)],
            },
        ],
    );
    // The boot method: Gui resetInstance. ^ Gui instance
    let gui = img.class("Gui");
    let reset = img.symbol("resetInstance");
    let instance = img.symbol("instance");
    let undefined = img.class("Undefined");
    let boot = img.method(
        undefined,
        MethodDesc {
            selector: "boot",
            code: code(&[
                (Op::PushLiteral, 0),
                (Op::MarkArguments, 1),
                (Op::SendMessage, 1),
                (Op::PopTop, 0),
                (Op::PushLiteral, 0),
                (Op::MarkArguments, 1),
                (Op::SendMessage, 2),
                (Op::StackReturn, 0),
            ]),
            literals: vec![gui, reset, instance],
        },
    );
    let nil = img.instance("Undefined", vec![]);
    let true_object = img.instance("True", vec![]);
    let false_object = img.instance("False", vec![]);
    let globals: Vec<(&'static str, Ref)> = CLASSES
        .iter()
        .map(|&(name, _, _)| (name, img.class(name)))
        .collect();
    let globals = img.dictionary(globals);
    let selectors = ["<", "<=", "+", "doesNotUnderstand:"].map(|s| img.symbol(s));
    let roots = [
        nil,
        true_object,
        false_object,
        globals,
        img.class("SmallInt"),
        img.class("Integer"),
        img.class("Array"),
        img.class("Block"),
        img.class("Context"),
        img.class("String"),
        boot,
        selectors[0],
        selectors[1],
        selectors[2],
        selectors[3],
    ];
    img.w.write(&roots)
}

fn global(vm: &Vm, name: &str) -> Value {
    vm.global(name)
        .unwrap_or_else(|| panic!("no global {name}"))
}

#[test]
fn a_class_object_gets_the_slots_its_metaclass_declares() {
    let vm =
        Vm::from_llst_image(&lst5_like_image(THE_INSTANCE), options()).expect("the image loads");
    let gui = global(&vm, "Gui");
    assert_eq!(vm.heap.size(gui), CLASS_OBJECT_SLOTS + 1);
    assert_eq!(vm.heap.get(gui, CLASS_OBJECT_SLOTS), Some(vm.nil()));
    // Classes whose metaclass declares nothing more keep their 6 slots.
    assert_eq!(vm.heap.size(global(&vm, "Object")), CLASS_OBJECT_SLOTS);
}

#[test]
fn the_store_into_the_class_side_variable_works() {
    let mut vm =
        Vm::from_llst_image(&lst5_like_image(THE_INSTANCE), options()).expect("the image loads");
    vm.set_output(Box::new(std::io::sink()));
    assert_eq!(vm.boot(), Ok(ExitStatus::Returned));
    assert_eq!(vm.root(Root::LastResult), Value::small(42));
    let gui = global(&vm, "Gui");
    assert_eq!(vm.heap.get(gui, CLASS_OBJECT_SLOTS), Some(Value::small(42)));
}

#[test]
fn a_store_past_the_declared_slots_is_still_refused() {
    let mut vm = Vm::from_llst_image(&lst5_like_image(THE_INSTANCE + 1), options())
        .expect("the image loads");
    vm.set_output(Box::new(std::io::sink()));
    assert_eq!(vm.boot(), Ok(ExitStatus::Error));
    let why = vm.last_fatal().unwrap_or_default();
    assert!(
        why.starts_with("instance variable index out of range"),
        "{why}"
    );
}

#[test]
fn llst_scheduler_gets_the_slot_its_metaclass_declares() {
    let Some(bytes) = lst_test_images::read("DecodeAllMethods.image") else {
        return;
    };
    let vm = Vm::from_llst_image(&bytes, options()).expect("the image loads");
    let scheduler = global(&vm, "Scheduler");
    let declared = vm
        .heap
        .get(vm.class_of(scheduler), lst_vm::layout::class::INSTANCE_SIZE)
        .and_then(|v| v.as_int());
    assert_eq!(declared, Some(7));
    assert_eq!(vm.heap.size(scheduler), 7);
}
