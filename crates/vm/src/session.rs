//! What a host does with a VM on lst's own image: evaluate source as a
//! top-level process, print values with their `printString`, define
//! globals from the REPL, and list names for completion. The CLI, the
//! tests and the image builder use these; the interpreter does not.

use crate::layout;
use crate::link::{CompileError, Origin};
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;

/// The result of evaluating source.
#[derive(Debug)]
pub enum Evaluation {
    /// It ran and answered this value (valid until the next allocation).
    Value(Value),
    /// It did not compile; the rendered diagnostics.
    CompileError(String),
    /// It stopped on a Smalltalk error, which Smalltalk has reported.
    Failed,
}

impl Vm {
    /// Compiles `source` (temporaries and statements) and runs it with
    /// receiver nil as a top-level process. `Err` is a VM failure.
    pub fn evaluate(&mut self, source: &str, origin: Origin) -> Result<Evaluation, String> {
        let method = match self.compile_doit(source, origin) {
            Ok(m) => m,
            Err(CompileError::Diagnostics(d)) => return Ok(Evaluation::CompileError(d)),
            Err(CompileError::OutOfMemory(e)) => return Err(e.to_string()),
        };
        let nil = self.nil();
        Ok(match self.run_method(method, &[nil])? {
            Some(v) => Evaluation::Value(v),
            None => Evaluation::Failed,
        })
    }

    /// Like [`Vm::evaluate`], for the REPL: names assigned without a
    /// declaration become REPL variables (globals that are not classes),
    /// which later lines, and blocks kept from earlier ones, read and
    /// assign as they run.
    pub fn evaluate_in_workspace(
        &mut self,
        source: &str,
        origin: Origin,
    ) -> Result<Evaluation, String> {
        let variables = self.repl_variables();
        let (method, new) = match self.compile_workspace_doit(source, origin, &variables) {
            Ok(m) => m,
            Err(CompileError::Diagnostics(d)) => return Ok(Evaluation::CompileError(d)),
            Err(CompileError::OutOfMemory(e)) => return Err(e.to_string()),
        };
        let h = self.heap.push_handle(method);
        for name in &new {
            let nil = self.nil();
            if let Err(e) = self.set_global(name, nil) {
                self.heap.release_handles(h);
                return Err(e);
            }
        }
        let method = self.heap.handle(h);
        self.heap.release_handles(h);
        let nil = self.nil();
        Ok(match self.run_method(method, &[nil])? {
            Some(v) => Evaluation::Value(v),
            None => Evaluation::Failed,
        })
    }

    /// The globals that are not classes: the REPL's variables (and the
    /// image's own, such as `Transcript`).
    fn repl_variables(&self) -> Vec<String> {
        let globals = self.root(Root::Globals);
        let slots = |field| self.heap.get(globals, field).map(|a| self.heap.slots(a));
        let (Some(keys), Some(values)) = (
            slots(layout::dictionary::KEYS),
            slots(layout::dictionary::VALUES),
        ) else {
            return vec![];
        };
        keys.iter()
            .zip(values)
            .filter(|&(k, &v)| k.is_ref() && !self.is_class_shaped(v))
            .map(|(&k, _)| self.text_of(k))
            .collect()
    }

    /// `value printString`, run as a top-level process; `None` if that
    /// failed (Smalltalk reported why) or did not answer a String.
    pub fn print_string(&mut self, value: Value) -> Result<Option<String>, String> {
        let h = self.heap.push_handle(value);
        let origin = Origin {
            label: "printString",
            first_line: 1,
        };
        let compiled = lst_compiler::compile_method("printIt: x ^ x printString", &[])
            .map_err(|d| format!("{d:?}"))?;
        let class = self.root(Root::UndefinedClass);
        let method = self.link_method(&compiled, class, origin);
        let value = self.heap.handle(h);
        self.heap.release_handles(h);
        let method = method.map_err(|e| e.to_string())?;
        let nil = self.nil();
        Ok(self
            .run_method(method, &[nil, value])?
            .filter(|s| s.is_ref() && self.heap.is_bytes(*s))
            .map(|s| self.text_of(s)))
    }

    /// Makes (or sets) the global `name`, as the REPL does for `name := expr`
    /// when `name` is not yet a global.
    pub fn set_global(&mut self, name: &str, value: Value) -> Result<(), String> {
        let h = self.heap.push_handle(value);
        let r = self.set_global_inner(name, h);
        self.heap.release_handles(h);
        r
    }

    fn set_global_inner(&mut self, name: &str, h: usize) -> Result<(), String> {
        // The globals are kept like a method dictionary: sorted keys, the
        // value replaced when the key is there, inserted in place if not.
        let symbol = self.intern(name.as_bytes()).map_err(|e| e.to_string())?;
        // Read after the allocation, which may have moved them.
        let (globals, value) = (self.root(Root::Globals), self.heap.handle(h));
        self.dictionary_insert(globals, symbol, value)
            .map_err(|e| e.to_string())
    }

    /// Global names and every selector of every class, for completion.
    pub fn completion_words(&self) -> Vec<String> {
        let mut words = vec![];
        let globals = self.root(Root::Globals);
        if let Some(keys) = self.heap.get(globals, layout::dictionary::KEYS) {
            words.extend(self.heap.slots(keys).iter().map(|&k| self.text_of(k)));
        }
        words.extend(
            self.methods_of_globals()
                .into_iter()
                .map(|(_, m)| self.text_of(self.heap.get(m, layout::method::NAME).unwrap_or(m))),
        );
        words.sort();
        words.dedup();
        words
    }
}
