//! The image builder: the project's Smalltalk sources (image-builder
//! format, see `docs/image-sources.md`) → a fresh VM holding the classes,
//! their methods and the globals, ready to be saved as an image.
//!
//! Steps: read every file into commands; make nil, true and false; make
//! every class and metaclass (instance sizes summed along the superclass
//! chains); check the VM-known layouts; fill the globals; compile every
//! method through the one compiler ([`Vm::compile_into`]); run `System
//! initialize` if it exists. Every problem is reported with its file and line.

use crate::heap::{Heap, HeapConfig};
use crate::layout;
use crate::link::Origin;
use crate::roots::{IMAGE_ROOTS, Root};
use crate::value::Value;
use crate::vm::{Options, Vm};
use std::collections::HashMap;

/// One source file.
pub struct Source {
    pub name: String,
    pub text: String,
}

/// What the builder found wrong, all of it.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct BuildError(pub Vec<String>);

struct ClassDef {
    name: String,
    superclass: Option<String>,
    ivars: Vec<String>,
    class_ivars: Vec<String>,
    place: String,
}

struct MethodDef {
    class: String,
    meta: bool,
    text: String,
    file: usize,
    first_line: usize,
}

#[derive(Default)]
struct Program {
    classes: Vec<ClassDef>,
    methods: Vec<MethodDef>,
    globals: Vec<(String, String, String)>,
}

/// VM-known classes and the instance variables the VM relies on, in order.
const VM_LAYOUTS: &[(&str, &[&str])] = &[
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
    ),
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
    ),
    (
        "Context",
        &[
            "method",
            "arguments",
            "temporaries",
            "stack",
            "bytePointer",
            "stackTop",
            "previousContext",
        ],
    ),
    ("Process", &["context", "state", "result"]),
    ("Dictionary", &["keys", "values"]),
    ("Char", &["value"]),
];

/// Classes the VM cannot run without.
const REQUIRED: &[&str] = &[
    "Object",
    "Class",
    "Undefined",
    "True",
    "False",
    "SmallInt",
    "Integer",
    "Array",
    "Block",
    "Context",
    "String",
    "Symbol",
    "ByteArray",
    "Char",
    "Method",
    "Dictionary",
    "Process",
];

/// Reads every `*.st` file of `dir`, in name order; each is named
/// `label/FILE` in diagnostics.
pub fn read_sources(dir: &std::path::Path, label: &str) -> std::io::Result<Vec<Source>> {
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|x| x == "st"));
    paths.sort();
    paths
        .iter()
        .map(|p| {
            Ok(Source {
                name: format!(
                    "{label}/{}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ),
                text: std::fs::read_to_string(p)?,
            })
        })
        .collect()
}

/// Builds a VM from sources (read in the order given).
pub fn build(sources: &[Source], options: Options) -> Result<Vm, BuildError> {
    let program = parse_sources(sources)?;
    let mut vm = bootstrap(&program, options)?;
    compile_methods(&mut vm, &program, sources)?;
    initialize(&mut vm)?;
    Ok(vm)
}

// -- Reading the sources ---------------------------------------------------------

fn parse_sources(sources: &[Source]) -> Result<Program, BuildError> {
    let mut p = Program::default();
    let mut errors = vec![];
    for (file, src) in sources.iter().enumerate() {
        let mut lines = src.text.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            let place = format!("{}:{}", src.name, n + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.first().copied() {
                None | Some("COMMENT") => {}
                Some("CLASS") if words.len() >= 3 => {
                    let (ivars, class_ivars) = match words[3..].iter().position(|w| *w == "|") {
                        Some(bar) => (&words[3..3 + bar], &words[4 + bar..]),
                        None => (&words[3..], &[][..]),
                    };
                    p.classes.push(ClassDef {
                        name: words[1].into(),
                        superclass: (words[2] != "nil").then(|| words[2].into()),
                        ivars: ivars.iter().map(|s| s.to_string()).collect(),
                        class_ivars: class_ivars.iter().map(|s| s.to_string()).collect(),
                        place,
                    });
                }
                Some("METHOD") if words.len() == 2 || (words.len() == 3 && words[2] == "class") => {
                    let mut text = String::new();
                    let mut closed = false;
                    for (_, l) in lines.by_ref() {
                        if l.trim_end() == "!" {
                            closed = true;
                            break;
                        }
                        text.push_str(l);
                        text.push('\n');
                    }
                    if !closed {
                        errors.push(format!("{place}: METHOD without a closing `!` line"));
                    }
                    p.methods.push(MethodDef {
                        class: words[1].into(),
                        meta: words.len() == 3,
                        text,
                        file,
                        first_line: n + 2,
                    });
                }
                Some("GLOBAL") if words.len() == 3 => {
                    p.globals.push((words[1].into(), words[2].into(), place))
                }
                Some(_) => errors.push(format!(
                    "{place}: expected CLASS Name Super vars…, METHOD Name [class], GLOBAL name Class or COMMENT, found `{}`",
                    line.trim()
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(BuildError(errors))
    }
}

// -- Making the classes --------------------------------------------------------------

/// The classes in definition order, merged by name (a later CLASS line
/// for the same name redefines its superclass and variables).
fn merged_classes(p: &Program) -> Vec<&ClassDef> {
    let mut order: Vec<&ClassDef> = vec![];
    for c in &p.classes {
        match order.iter_mut().find(|d| d.name == c.name) {
            Some(d) => *d = c,
            None => order.push(c),
        }
    }
    order
}

/// Every instance variable of `name`, inherited first, and the same for
/// its class side.
fn all_vars<'a>(
    defs: &HashMap<&str, &'a ClassDef>,
    name: &str,
    side: fn(&'a ClassDef) -> &'a [String],
) -> Result<Vec<String>, String> {
    let mut chain = vec![];
    let mut at = Some(name);
    while let Some(n) = at {
        let d = defs
            .get(n)
            .ok_or_else(|| format!("class {n} (superclass of {name}) is not defined"))?;
        if chain.len() > defs.len() {
            return Err(format!(
                "{}: the superclass chain of {name} has a cycle",
                d.place
            ));
        }
        chain.push(*d);
        at = d.superclass.as_deref();
    }
    Ok(chain
        .iter()
        .rev()
        .flat_map(|d| side(d).iter().cloned())
        .collect())
}

fn bootstrap(p: &Program, options: Options) -> Result<Vm, BuildError> {
    let classes = merged_classes(p);
    let defs: HashMap<&str, &ClassDef> = classes.iter().map(|c| (c.name.as_str(), *c)).collect();
    let mut errors: Vec<String> = REQUIRED
        .iter()
        .filter(|r| !defs.contains_key(**r))
        .map(|r| format!("the sources do not define the class {r}, which the VM needs"))
        .collect();
    let mut layouts = vec![];
    for c in &classes {
        let ivars = all_vars(&defs, &c.name, |d| &d.ivars);
        let cvars = all_vars(&defs, &c.name, |d| &d.class_ivars);
        match (ivars, cvars) {
            (Ok(i), Ok(cv)) => layouts.push((*c, i, cv)),
            (Err(e), _) | (_, Err(e)) => errors.push(format!("{}: {e}", c.place)),
        }
    }
    for (name, want) in VM_LAYOUTS {
        if let Some((c, have, _)) = layouts.iter().find(|(c, ..)| c.name == *name)
            && !have
                .iter()
                .map(String::as_str)
                .take(want.len())
                .eq(want.iter().copied())
        {
            errors.push(format!(
                "{}: the VM needs {name}'s instance variables to start {}, not {}",
                c.place,
                want.join(" "),
                have.join(" ")
            ));
        }
    }
    if !errors.is_empty() {
        return Err(BuildError(errors));
    }
    let class_slots = layouts
        .iter()
        .find(|(c, ..)| c.name == "Class")
        .map_or(0, |(_, ivars, _)| ivars.len());

    // nil, true and false first; their classes are set once the classes exist.
    let placeholder = Value::small(0);
    let mut heap = Heap::new(HeapConfig {
        initial_bytes: 64 << 20,
        ..options.heap
    });
    let nil = heap
        .alloc_slots(placeholder, 0, placeholder)
        .expect("fresh heap");
    let t = heap.alloc_slots(placeholder, 0, nil).expect("fresh heap");
    let f = heap.alloc_slots(placeholder, 0, nil).expect("fresh heap");
    heap.roots = vec![nil; IMAGE_ROOTS];
    heap.roots[Root::True as usize] = t;
    heap.roots[Root::False as usize] = f;
    let mut vm = Vm::with_heap(heap, options);

    // Classes and metaclasses: (class, metaclass) handles by name.
    let mut handles: HashMap<&str, (usize, usize)> = HashMap::new();
    for (c, _, cvars) in &layouts {
        let meta = vm.alloc_slots(placeholder, class_slots).map_err(oom)?;
        let hm = vm.heap.push_handle(meta);
        let class = vm
            .alloc_slots(placeholder, class_slots + cvars.len())
            .map_err(oom)?;
        let hc = vm.heap.push_handle(class);
        handles.insert(c.name.as_str(), (hc, hm));
    }
    for (c, ivars, cvars) in &layouts {
        let (hc, hm) = handles[c.name.as_str()];
        let superclass = c.superclass.as_deref().map(|s| handles[s]);
        let own_cvars = &c.class_ivars;
        let class_size = class_slots + cvars.len();
        // The class object.
        fill_class(
            &mut vm,
            hc,
            &c.name,
            superclass.map(|s| s.0),
            ivars.len(),
            &c.ivars,
        )?;
        // Its metaclass: an instance of Class, below the superclass's metaclass
        // (or below Class for a root class).
        let meta_parent = superclass.map_or(handles["Class"].0, |s| s.1);
        let meta_name = format!("Meta{}", c.name);
        fill_class(
            &mut vm,
            hm,
            &meta_name,
            Some(meta_parent),
            class_size,
            own_cvars,
        )?;
        let (class, meta) = (vm.heap.handle(hc), vm.heap.handle(hm));
        vm.heap.set_class(class, meta);
        let class_class = vm.heap.handle(handles["Class"].0);
        vm.heap.set_class(meta, class_class);
    }
    let class_named = |vm: &Vm, n: &str| vm.heap.handle(handles[n].0);
    for (obj, class) in [
        (Root::Nil, "Undefined"),
        (Root::True, "True"),
        (Root::False, "False"),
    ] {
        let (o, c) = (vm.root(obj), class_named(&vm, class));
        vm.heap.set_class(o, c);
    }
    fill_globals(
        &mut vm,
        &layouts.iter().map(|l| l.0).collect::<Vec<_>>(),
        &handles,
        p,
    )?;
    for &(hc, hm) in handles.values() {
        for h in [hc, hm] {
            let class = vm.heap.handle(h);
            vm.ensure_method_dictionary(class).map_err(oom)?;
        }
    }
    for (root, class) in [
        (Root::SmallIntClass, "SmallInt"),
        (Root::IntegerClass, "Integer"),
        (Root::ArrayClass, "Array"),
        (Root::BlockClass, "Block"),
        (Root::ContextClass, "Context"),
        (Root::StringClass, "String"),
    ] {
        vm.heap.roots[root as usize] = class_named(&vm, class);
    }
    vm.find_named_roots();
    // LLST's three special selectors are image roots (the rest of
    // `BINARY_SPECIALS` find_named_roots has set).
    let llst_specials = crate::roots::BINARY_SPECIAL_ROOTS
        .into_iter()
        .zip(lst_bytecode::BINARY_SPECIALS)
        .take(lst_bytecode::LLST_BINARY_SPECIALS);
    for (root, selector) in llst_specials.chain([
        (Root::SelectorDoesNotUnderstand, "doesNotUnderstand:"),
        (Root::SelectorError, "error:"),
        (Root::SelectorValue, "value"),
        (Root::SelectorMain, "main"),
    ]) {
        vm.heap.roots[root as usize] = vm.intern(selector.as_bytes()).map_err(oom)?;
    }
    fill_char_table(&mut vm)?;
    vm.heap.release_handles(0);
    Ok(vm)
}

fn oom(e: crate::heap::OutOfMemory) -> BuildError {
    BuildError(vec![format!("building the image: {e}")])
}

/// Sets a class object's fields (its method dictionary is made once
/// Dictionary exists).
fn fill_class(
    vm: &mut Vm,
    h: usize,
    name: &str,
    parent: Option<usize>,
    size: usize,
    own_vars: &[String],
) -> Result<(), BuildError> {
    let sym = vm.intern(name.as_bytes()).map_err(oom)?;
    let hs = vm.heap.push_handle(sym);
    let vars = vm.new_array(own_vars.len()).map_err(oom)?;
    let hv = vm.heap.push_handle(vars);
    for (i, v) in own_vars.iter().enumerate() {
        let s = vm.intern(v.as_bytes()).map_err(oom)?;
        let vars = vm.heap.handle(hv);
        vm.heap.set(vars, i, s);
    }
    let nil = vm.nil();
    let class = vm.heap.handle(h);
    let parent = parent.map_or(nil, |p| vm.heap.handle(p));
    use layout::class as c;
    for (field, value) in [
        (c::NAME, vm.heap.handle(hs)),
        (c::PARENT, parent),
        (c::METHODS, nil),
        (c::INSTANCE_SIZE, Value::small(size as i64)),
        (c::VARIABLES, vm.heap.handle(hv)),
    ] {
        vm.heap.set(class, field, value);
    }
    vm.heap.release_handles(hs);
    Ok(())
}

/// The globals Dictionary: every class, `globals` and `Smalltalk` (the
/// Dictionary itself), and the GLOBAL lines' instances. Also gives the
/// method dictionaries their class and the Arrays their class.
fn fill_globals(
    vm: &mut Vm,
    classes: &[&ClassDef],
    handles: &HashMap<&str, (usize, usize)>,
    p: &Program,
) -> Result<(), BuildError> {
    let array_class = vm.heap.handle(handles["Array"].0);
    let symbol_class = vm.heap.handle(handles["Symbol"].0);
    // The Symbols and Arrays made before their classes existed.
    let objects: Vec<Value> = vm.heap.objects().collect();
    let nil = vm.nil();
    for o in objects {
        if vm.heap.class_of_object(o) == nil {
            let class = if vm.heap.is_bytes(o) {
                symbol_class
            } else {
                array_class
            };
            vm.heap.set_class(o, class);
        }
    }
    vm.heap.roots[Root::ArrayClass as usize] = array_class;
    vm.heap.roots[Root::SymbolClass as usize] = vm.heap.handle(handles["Symbol"].0);
    vm.heap.roots[Root::StringClass as usize] = vm.heap.handle(handles["String"].0);
    vm.heap.roots[Root::ByteArrayClass as usize] = vm.heap.handle(handles["ByteArray"].0);

    let mut entries: Vec<(String, Value)> = vec![];
    for c in classes {
        entries.push((c.name.clone(), vm.heap.handle(handles[c.name.as_str()].0)));
    }
    let mut errors = vec![];
    let first_global = vm.heap.handle_mark();
    for (name, class, place) in &p.globals {
        let Some(&(hc, _)) = handles.get(class.as_str()) else {
            errors.push(format!("{place}: GLOBAL {name}: no class {class}"));
            continue;
        };
        let class = vm.heap.handle(hc);
        let size = vm
            .heap
            .get(class, layout::class::INSTANCE_SIZE)
            .and_then(|v| v.as_int());
        let obj = vm
            .alloc_slots(class, size.unwrap_or(0) as usize)
            .map_err(oom)?;
        vm.heap.push_handle(obj);
    }
    if !errors.is_empty() {
        return Err(BuildError(errors));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut names: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    names.extend(["globals".to_string(), "Smalltalk".to_string()]);
    names.extend(p.globals.iter().map(|g| g.0.clone()));
    names.sort();
    names.dedup();
    let dict = vm
        .new_dictionary_of(vm.heap.handle(handles["Dictionary"].0))
        .map_err(oom)?;
    vm.heap.roots[Root::Globals as usize] = dict;
    for name in &names {
        let sym = vm.intern(name.as_bytes()).map_err(oom)?;
        let dict = vm.root(Root::Globals);
        let value = if name == "globals" || name == "Smalltalk" {
            dict
        } else if let Some(k) = p.globals.iter().position(|g| &g.0 == name) {
            vm.heap.handle(first_global + k)
        } else {
            vm.heap.handle(handles[name.as_str()].0)
        };
        vm.dictionary_insert(dict, sym, value).map_err(oom)?;
    }
    Ok(())
}

/// If `Char`'s class side has a `chars` variable, fills it with the 256
/// Chars (so `$a == (Char value: 97)`, as in LLST).
fn fill_char_table(vm: &mut Vm) -> Result<(), BuildError> {
    let class = vm.root(Root::CharClass);
    let meta = vm.class_of(class);
    let Some(slot) = vm
        .instance_variable_names(meta)
        .iter()
        .position(|v| v == "chars")
    else {
        return Ok(());
    };
    let table = vm.new_array(256).map_err(oom)?;
    let h = vm.heap.push_handle(table);
    for b in 0..256 {
        let c = vm.alloc_slots(vm.root(Root::CharClass), 1).map_err(oom)?;
        vm.heap.set(c, 0, Value::small(b));
        let table = vm.heap.handle(h);
        vm.heap.set(table, b as usize, c);
    }
    let table = vm.heap.handle(h);
    vm.heap.release_handles(h);
    let class = vm.root(Root::CharClass);
    vm.heap.set(class, slot, table);
    Ok(())
}

// -- Methods and initialisation ------------------------------------------------------

fn compile_methods(vm: &mut Vm, p: &Program, sources: &[Source]) -> Result<(), BuildError> {
    let mut errors = vec![];
    for m in &p.methods {
        let file = &sources[m.file].name;
        let Some(class) = vm.global(&m.class).filter(|&c| vm.is_class_shaped(c)) else {
            errors.push(format!(
                "{file}:{}: METHOD for an undefined class {}",
                m.first_line - 1,
                m.class
            ));
            continue;
        };
        let class = if m.meta { vm.class_of(class) } else { class };
        let origin = Origin {
            label: file,
            first_line: m.first_line,
        };
        if let Err(e) = vm.compile_into(class, &m.text, origin) {
            errors.push(e.to_string());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(BuildError(errors))
    }
}

/// Runs `System initialize` when the image defines it.
fn initialize(vm: &mut Vm) -> Result<(), BuildError> {
    let Some(system) = vm.global("System") else {
        return Ok(());
    };
    let meta = vm.class_of(system);
    let methods = vm
        .heap
        .get(meta, layout::class::METHODS)
        .unwrap_or(vm.nil());
    if vm.dictionary_find(methods, b"initialize").is_none() {
        return Ok(());
    }
    let origin = Origin {
        label: "System initialize",
        first_line: 1,
    };
    let method = vm
        .compile_doit("System initialize", origin)
        .map_err(|e| BuildError(vec![e.to_string()]))?;
    let nil = vm.nil();
    match vm.run_method(method, &[nil]) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(BuildError(vec![
            "System initialize failed (see the error above)".into(),
        ])),
        Err(e) => Err(BuildError(vec![format!("System initialize: {e}")])),
    }
}

/// For the crate's unit tests: a VM on lst's own image, built from the
/// repository's `image/` sources, without GC stress.
#[cfg(test)]
pub(crate) fn own_image_vm() -> Vm {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = read_sources(std::path::Path::new(dir), "image").expect("the image sources");
    let options = Options {
        gc_stress: false,
        ..Default::default()
    };
    build(&sources, options).expect("the image builds")
}
