//! Readable views of heap objects for tools: method listings and short
//! descriptions of values. Used by the CLI and tests; never by execution.

use crate::layout;
use crate::value::Value;
use crate::vm::Vm;

impl Vm {
    /// A short description of a value, as a literal would read.
    pub fn describe(&self, v: Value) -> String {
        if let Some(n) = v.as_int() {
            return n.to_string();
        }
        let class = self.class_of(v);
        let name = self.class_name(class);
        match name.as_str() {
            "Symbol" => format!("#{}", self.text_of(v)),
            "String" => format!("'{}'", self.text_of(v)),
            _ if v == self.nil() => "nil".into(),
            _ if self.is_class_shaped(v) && self.class_name(v) != "?" => self.class_name(v),
            _ => format!("a {name}"),
        }
    }

    /// The bytecode listing of `class>>selector`, if the class defines it.
    pub fn disassemble(&self, class: Value, selector: &str) -> Option<String> {
        let methods = self.heap.get(class, layout::class::METHODS)?;
        let method = self.dictionary_find(methods, selector.as_bytes())?;
        let code = self.heap.get(method, layout::method::BYTECODES)?;
        let literals = self.heap.get(method, layout::method::LITERALS)?;
        let get = |i| self.heap.get(method, i).unwrap_or(self.nil());
        let mut out = format!(
            "{} (stackSize {}, temporarySize {})\n",
            self.method_name(method),
            self.describe(get(layout::method::STACK_SIZE)),
            self.describe(get(layout::method::TEMPORARY_SIZE))
        );
        if code.is_int() || !self.heap.is_bytes(code) {
            out.push_str("<bytecodes are not a byte object>\n");
            return Some(out);
        }
        let literal = |i: usize| self.heap.get(literals, i).map(|v| self.describe(v));
        out.push_str(&lst_bytecode::disasm(self.heap.bytes(code), &literal));
        Some(out)
    }
}

impl Vm {
    /// Every method reachable from the globals' classes and metaclasses:
    /// (class name, selector, bytecodes).
    pub fn all_methods(&self) -> Vec<(String, String, Vec<u8>)> {
        let mut out = Vec::new();
        let globals = self.root(crate::roots::Root::Globals);
        let Some(values) = self.heap.get(globals, layout::dictionary::VALUES) else {
            return out;
        };
        for &g in self.heap.slots(values) {
            if !self.is_class_shaped(g) {
                continue;
            }
            for class in [g, self.class_of(g)] {
                let Some(methods) = self.heap.get(class, layout::class::METHODS) else {
                    continue;
                };
                let Some(ms) = self.heap.get(methods, layout::dictionary::VALUES) else {
                    continue;
                };
                for &m in self.heap.slots(ms) {
                    let code = self.heap.get(m, layout::method::BYTECODES).unwrap_or(m);
                    if code.is_ref() && self.heap.is_bytes(code) {
                        let sel = self.text_of(self.heap.get(m, layout::method::NAME).unwrap_or(m));
                        out.push((self.class_name(class), sel, self.heap.bytes(code).to_vec()));
                    }
                }
            }
        }
        out
    }
}

impl Vm {
    /// The source text of every method that has one: (class, selector, text).
    pub fn all_method_sources(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let globals = self.root(crate::roots::Root::Globals);
        let Some(values) = self.heap.get(globals, layout::dictionary::VALUES) else {
            return out;
        };
        for &g in self.heap.slots(values) {
            if !self.is_class_shaped(g) {
                continue;
            }
            for class in [g, self.class_of(g)] {
                let Some(methods) = self.heap.get(class, layout::class::METHODS) else {
                    continue;
                };
                let Some(ms) = self.heap.get(methods, layout::dictionary::VALUES) else {
                    continue;
                };
                for &m in self.heap.slots(ms) {
                    let text = self.heap.get(m, layout::method::TEXT).unwrap_or(m);
                    if text.is_ref() && self.heap.is_bytes(text) {
                        let sel = self.text_of(self.heap.get(m, layout::method::NAME).unwrap_or(m));
                        out.push((self.class_name(class), sel, self.text_of(text)));
                    }
                }
            }
        }
        out
    }
}
