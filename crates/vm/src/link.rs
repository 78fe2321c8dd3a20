//! Linking compiled code into the heap: the compiler's heap-free output
//! ([`CompiledMethod`]) becomes a `Method` object, literals become objects,
//! Symbols are interned, globals are bound to their current values (as in
//! LLST), and methods are installed into class method dictionaries.
//!
//! This is the only road from source to runnable code: primitives 110/111,
//! the image builder and the CLI all compile through [`Vm::compile_into`]
//! and [`Vm::compile_doit`]. Every allocation may move objects, so values
//! that must survive one are kept in heap handles.

use crate::heap::OutOfMemory;
use crate::layout;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use lst_compiler::ast::Literal;
use lst_compiler::{CompiledMethod, Diagnostic, LiteralValue};
use std::collections::HashMap;

/// Why source could not become a method.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Syntax or semantic errors, rendered with place, line and caret.
    #[error("{0}")]
    Diagnostics(String),
    #[error(transparent)]
    OutOfMemory(#[from] OutOfMemory),
}

/// Where source came from, for diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// A file name, or a label such as `Point>>x:`.
    pub label: &'a str,
    /// The line number of the source's first line.
    pub first_line: usize,
}

/// The VM's symbol table: bytes → index into `Heap::symbols`.
#[derive(Default)]
pub struct SymbolTable {
    index: HashMap<Box<[u8]>, usize>,
    scanned: bool,
}

impl Vm {
    // -- Symbols ------------------------------------------------------------------

    /// The Symbol with these bytes, made if there is none yet.
    pub fn intern(&mut self, bytes: &[u8]) -> Result<Value, OutOfMemory> {
        self.scan_symbols();
        if let Some(&i) = self.symbols.index.get(bytes) {
            return Ok(self.heap.symbols[i]);
        }
        let class = match self.root(Root::SymbolClass) {
            c if c == self.nil() => self.root(Root::StringClass),
            c => c,
        };
        let s = self.alloc_bytes(class, bytes.len())?;
        self.heap.bytes_mut(s).copy_from_slice(bytes);
        self.heap.symbols.push(s);
        self.symbols
            .index
            .insert(bytes.into(), self.heap.symbols.len() - 1);
        Ok(s)
    }

    /// Registers every Symbol already in the heap (once per VM), so that
    /// interning finds the image's own Symbols.
    fn scan_symbols(&mut self) {
        if self.symbols.scanned {
            return;
        }
        self.symbols.scanned = true;
        let class = self.root(Root::SymbolClass);
        let found: Vec<Value> = self
            .heap
            .objects()
            .filter(|&o| self.heap.class_of_object(o) == class && self.heap.is_bytes(o))
            .collect();
        for s in found {
            let key: Box<[u8]> = self.heap.bytes(s).into();
            if !self.symbols.index.contains_key(&key) {
                self.heap.symbols.push(s);
                self.symbols.index.insert(key, self.heap.symbols.len() - 1);
            }
        }
    }

    // -- Compiling ----------------------------------------------------------------

    /// Compiles `source` as a method of `class` and installs it. Answers the Method.
    pub fn compile_into(
        &mut self,
        class: Value,
        source: &str,
        origin: Origin,
    ) -> Result<Value, CompileError> {
        let ivars = self.instance_variable_names(class);
        let compiled =
            lst_compiler::compile_method(source, &ivars).map_err(|d| render(&d, source, origin))?;
        let h = self.heap.push_handle(class);
        let method = self.link_method(&compiled, class, origin);
        let class = self.heap.handle(h);
        self.heap.release_handles(h);
        let method = method?;
        let h = self.heap.push_handle(method);
        let r = self.install_method(class, method);
        let method = self.heap.handle(h);
        self.heap.release_handles(h);
        r?;
        Ok(method)
    }

    /// Compiles statements as a method `doIt` of `Undefined` (run with
    /// receiver nil), not installed anywhere.
    pub fn compile_doit(&mut self, source: &str, origin: Origin) -> Result<Value, CompileError> {
        let compiled =
            lst_compiler::compile_doit(source, &[]).map_err(|d| render(&d, source, origin))?;
        let class = self.root(Root::UndefinedClass);
        self.link_method(&compiled, class, origin)
    }

    /// Compiles statements as a `doIt` of `Undefined` in which undeclared
    /// names are REPL variables kept in the global dictionary `globals`
    /// (see `lst_compiler::workspace`): those of `variables` and those it
    /// assigns. Answers the Method and the variables it assigns first.
    pub fn compile_workspace_doit(
        &mut self,
        source: &str,
        origin: Origin,
        variables: &[String],
    ) -> Result<(Value, Vec<String>), CompileError> {
        let is_class = |name: &str| self.global(name).is_some_and(|v| self.is_class_shaped(v));
        let workspace = lst_compiler::Workspace {
            dictionary: "globals",
            variables,
            fixed: &is_class,
        };
        let doit = lst_compiler::compile_workspace_doit(source, &workspace)
            .map_err(|d| render(&d, source, origin))?;
        let class = self.root(Root::UndefinedClass);
        let method = self.link_method(&doit.method, class, origin)?;
        Ok((method, doit.new_variables))
    }

    /// Makes the Method object for `cm`, defined in `class`.
    pub fn link_method(
        &mut self,
        cm: &CompiledMethod,
        class: Value,
        origin: Origin,
    ) -> Result<Value, CompileError> {
        let mark = self.heap.handle_mark();
        let r = self.link_method_inner(cm, class, origin);
        self.heap.release_handles(mark);
        r
    }

    fn link_method_inner(
        &mut self,
        cm: &CompiledMethod,
        class: Value,
        origin: Origin,
    ) -> Result<Value, CompileError> {
        let h_class = self.heap.push_handle(class);
        let missing: Vec<Diagnostic> = cm
            .literals
            .iter()
            .filter_map(|l| match l {
                LiteralValue::Global { name, span } if self.global(name).is_none() => Some(
                    Diagnostic::new(format!("undefined variable `{name}`"), *span),
                ),
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            return Err(render(&missing, &cm.source, origin));
        }
        let literals = self.new_array(cm.literals.len())?;
        let h_lits = self.heap.push_handle(literals);
        for (i, lit) in cm.literals.iter().enumerate() {
            let v = self.literal_object(lit, &cm.source, origin)?;
            let lits = self.heap.handle(h_lits);
            self.heap.set(lits, i, v);
        }
        let code = self.alloc_bytes(self.root(Root::ByteArrayClass), cm.bytecodes.len())?;
        self.heap.bytes_mut(code).copy_from_slice(&cm.bytecodes);
        let h_code = self.heap.push_handle(code);
        let selector = self.intern(cm.selector.as_bytes())?;
        let h_sel = self.heap.push_handle(selector);
        let text = self.new_string(cm.source.as_bytes())?;
        let h_text = self.heap.push_handle(text);
        let arities = self.new_array(cm.block_arities.len() * 2)?;
        for (i, &(body, n)) in cm.block_arities.iter().enumerate() {
            self.heap.set(arities, 2 * i, Value::small(i64::from(body)));
            self.heap
                .set(arities, 2 * i + 1, Value::small(i64::from(n)));
        }
        let h_arities = self.heap.push_handle(arities);
        let method_class = self.root(Root::MethodClass);
        if method_class == self.nil() {
            return Err(CompileError::Diagnostics(
                "this image has no Method class".into(),
            ));
        }
        // The Method class may declare more slots than the VM's 8 (ours
        // adds blockArities).
        let size = self
            .heap
            .get(method_class, layout::class::INSTANCE_SIZE)
            .and_then(|v| v.as_usize())
            .unwrap_or(0)
            .clamp(layout::method::SLOTS, 64);
        let method = self.alloc_slots(method_class, size)?;
        if size > layout::method::BLOCK_ARITIES {
            let arities = self.heap.handle(h_arities);
            self.heap
                .set(method, layout::method::BLOCK_ARITIES, arities);
        }
        use layout::method as m;
        for (field, value) in [
            (m::NAME, self.heap.handle(h_sel)),
            (m::BYTECODES, self.heap.handle(h_code)),
            (m::LITERALS, self.heap.handle(h_lits)),
            (m::STACK_SIZE, Value::small(cm.stack_size as i64)),
            (m::TEMPORARY_SIZE, Value::small(cm.temp_size as i64)),
            (m::CLASS, self.heap.handle(h_class)),
            (m::TEXT, self.heap.handle(h_text)),
        ] {
            self.heap.set(method, field, value);
        }
        Ok(method)
    }

    /// The object a literal denotes (may allocate).
    fn literal_object(
        &mut self,
        lit: &LiteralValue,
        source: &str,
        origin: Origin,
    ) -> Result<Value, CompileError> {
        match lit {
            LiteralValue::Selector(s) => Ok(self.intern(s.as_bytes())?),
            LiteralValue::Global { name, span } => self.global(name).ok_or_else(|| {
                let d = Diagnostic::new(format!("undefined variable `{name}`"), *span);
                render(&[d], source, origin)
            }),
            LiteralValue::Constant(c) => self.constant_object(c).map_err(|e| match e {
                ConstantError::Memory(m) => CompileError::OutOfMemory(m),
                ConstantError::Unsupported(what) => CompileError::Diagnostics(format!(
                    "{}: this image cannot represent {what} literals",
                    origin.label
                )),
            }),
        }
    }

    fn constant_object(&mut self, c: &Literal) -> Result<Value, ConstantError> {
        Ok(match c {
            Literal::Integer(n) => match Value::int(*n) {
                Some(v) => v,
                None => self
                    .new_integer(&(*n).into())?
                    .ok_or(ConstantError::Unsupported("large integer"))?,
            },
            Literal::LargeInteger(digits) => {
                let n: num_bigint::BigInt = digits
                    .parse()
                    .map_err(|_| ConstantError::Unsupported("malformed integer"))?;
                self.new_integer(&n)?
                    .ok_or(ConstantError::Unsupported("large integer"))?
            }
            Literal::Float(x) => self
                .new_float(*x)?
                .ok_or(ConstantError::Unsupported("Float"))?,
            Literal::Char(b) => self.char_object(*b)?,
            Literal::String(bytes) => self.new_string(bytes)?,
            Literal::Symbol(s) => self.intern(s.as_bytes())?,
            Literal::True => self.root(Root::True),
            Literal::False => self.root(Root::False),
            Literal::Nil => self.nil(),
            Literal::Array(items) => {
                let a = self.new_array(items.len())?;
                let h = self.heap.push_handle(a);
                for (i, item) in items.iter().enumerate() {
                    let v = self.constant_object(item);
                    let v = match v {
                        Ok(v) => v,
                        Err(e) => {
                            self.heap.release_handles(h);
                            return Err(e);
                        }
                    };
                    let a = self.heap.handle(h);
                    self.heap.set(a, i, v);
                }
                let a = self.heap.handle(h);
                self.heap.release_handles(h);
                a
            }
        })
    }

    /// The Char for byte `b`: the image's cached one (the class-side
    /// `chars` table LLST keeps) if there is one, else a new Char.
    pub fn char_object(&mut self, b: u8) -> Result<Value, OutOfMemory> {
        let class = self.root(Root::CharClass);
        let meta = self.class_of(class);
        let vars = self.instance_variable_names(meta);
        if let Some(i) = vars.iter().position(|v| v == "chars") {
            let table = self.heap.get(class, i).unwrap_or(self.nil());
            if let Some(c) = table
                .is_ref()
                .then(|| self.heap.get(table, b as usize))
                .flatten()
                .filter(|c| c.is_ref() && self.heap.class_of_object(*c) == class)
            {
                return Ok(c);
            }
        }
        let c = self.alloc_slots(class, 1)?;
        self.heap.set(c, 0, Value::small(i64::from(b)));
        Ok(c)
    }

    // -- Installing -----------------------------------------------------------------

    /// Adds `method` to `class`'s method dictionary under its selector
    /// (replacing a method of the same selector), keeping the keys sorted
    /// by their bytes, and flushes the method cache.
    pub fn install_method(&mut self, class: Value, method: Value) -> Result<(), OutOfMemory> {
        let mark = self.heap.handle_mark();
        let r = self.install_method_inner(class, method);
        self.heap.release_handles(mark);
        self.flush_caches();
        r
    }

    fn install_method_inner(&mut self, class: Value, method: Value) -> Result<(), OutOfMemory> {
        let h_class = self.heap.push_handle(class);
        let h_method = self.heap.push_handle(method);
        let dict = self.method_dictionary(h_class)?;
        let method = self.heap.handle(h_method);
        let selector = self
            .heap
            .get(method, layout::method::NAME)
            .unwrap_or(method);
        self.dictionary_insert(dict, selector, method)
    }

    /// Sets `key` (a Symbol) to `value` in a Dictionary whose keys are
    /// sorted by their bytes (method dictionaries, the globals), adding the
    /// key in its place if it is new.
    pub fn dictionary_insert(
        &mut self,
        dict: Value,
        key: Value,
        value: Value,
    ) -> Result<(), OutOfMemory> {
        let mark = self.heap.handle_mark();
        let r = self.dictionary_insert_inner(dict, key, value);
        self.heap.release_handles(mark);
        r
    }

    fn dictionary_insert_inner(
        &mut self,
        dict: Value,
        key: Value,
        value: Value,
    ) -> Result<(), OutOfMemory> {
        let (h_dict, h_key, h_value) = (
            self.heap.push_handle(dict),
            self.heap.push_handle(key),
            self.heap.push_handle(value),
        );
        let bytes: Vec<u8> = self.heap.bytes(key).to_vec();
        let keys = self
            .heap
            .get(dict, layout::dictionary::KEYS)
            .unwrap_or(dict);
        let values = self
            .heap
            .get(dict, layout::dictionary::VALUES)
            .unwrap_or(dict);
        let ks = self.heap.slots(keys);
        let at = ks.partition_point(|&k| k.is_ref() && self.heap.bytes(k) < bytes.as_slice());
        if ks
            .get(at)
            .is_some_and(|&k| k.is_ref() && self.heap.bytes(k) == bytes)
        {
            self.heap.set(values, at, value);
            return Ok(());
        }
        for (field, h_item) in [
            (layout::dictionary::KEYS, h_key),
            (layout::dictionary::VALUES, h_value),
        ] {
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

    /// Gives `class` an empty method dictionary if it has none.
    pub fn ensure_method_dictionary(&mut self, class: Value) -> Result<(), OutOfMemory> {
        let h = self.heap.push_handle(class);
        let r = self.method_dictionary(h).map(|_| ());
        self.heap.release_handles(h);
        r
    }

    /// The class's method dictionary, made (empty) if it has none.
    fn method_dictionary(&mut self, h_class: usize) -> Result<Value, OutOfMemory> {
        let class = self.heap.handle(h_class);
        let dict = self
            .heap
            .get(class, layout::class::METHODS)
            .unwrap_or(self.nil());
        if dict.is_ref() && dict != self.nil() {
            return Ok(dict);
        }
        let dict_class = self.global("Dictionary").unwrap_or(self.nil());
        let dict = self.alloc_slots(dict_class, 2)?;
        let h = self.heap.push_handle(dict);
        for field in [layout::dictionary::KEYS, layout::dictionary::VALUES] {
            let a = self.new_array(0)?;
            let dict = self.heap.handle(h);
            self.heap.set(dict, field, a);
        }
        let dict = self.heap.handle(h);
        let class = self.heap.handle(h_class);
        self.heap.set(class, layout::class::METHODS, dict);
        Ok(dict)
    }
}

enum ConstantError {
    Memory(OutOfMemory),
    Unsupported(&'static str),
}

impl From<OutOfMemory> for ConstantError {
    fn from(e: OutOfMemory) -> Self {
        ConstantError::Memory(e)
    }
}

/// Renders diagnostics for `source` as one text.
fn render(diags: &[Diagnostic], source: &str, origin: Origin) -> CompileError {
    CompileError::Diagnostics(
        diags
            .iter()
            .map(|d| d.render(origin.label, source, origin.first_line))
            .collect(),
    )
}
