//! Readable views of heap objects for tools: method listings and short
//! descriptions of values. Used by the CLI, tests and error messages;
//! never to decide what a program does.

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

    /// Whether `receiver`'s class or a superclass has a method for
    /// `selector` (looked up without the method cache).
    pub fn understands(&self, receiver: Value, selector: &str) -> bool {
        let mut class = self.class_of(receiver);
        for _ in 0..10_000 {
            if !self.is_class_shaped(class) {
                return false;
            }
            let methods = self.heap.get(class, layout::class::METHODS);
            if methods.is_some_and(|m| self.dictionary_find(m, selector.as_bytes()).is_some()) {
                return true;
            }
            class = self
                .heap
                .get(class, layout::class::PARENT)
                .unwrap_or(self.nil());
        }
        false
    }

    /// [`Vm::describe`], shortened for error messages.
    pub fn describe_short(&self, v: Value) -> String {
        shortened(&self.describe(v), DESCRIBED_CHARS, "characters")
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

/// Most characters of a value that an error message shows.
pub const DESCRIBED_CHARS: usize = 100;

/// `text` if it has at most `max` characters; else its first `max`,
/// then `… (N unit)` with its full length.
pub fn shortened(text: &str, max: usize, unit: &str) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({n} {unit})")
}

/// One method of the image, as tools see it.
#[derive(Clone, Debug)]
pub struct MethodInfo {
    pub class: String,
    pub selector: String,
    pub bytecodes: Vec<u8>,
    /// The source text, if the method keeps one.
    pub text: Option<String>,
    /// Each literal as [`Vm::describe`] shows it.
    pub literals: Vec<String>,
    /// The instance variable names of the class, inherited first.
    pub instance_variables: Vec<String>,
    /// The method's temporaries (its `temporarySize`; 0 if not a SmallInt).
    pub temporary_size: usize,
}

impl Vm {
    /// Every (class, method) reachable from the globals' classes and metaclasses.
    pub fn methods_of_globals(&self) -> Vec<(Value, Value)> {
        let mut out = Vec::new();
        let globals = self.root(crate::roots::Root::Globals);
        for (_, g) in self.dictionary_entries(globals) {
            if !self.is_class_shaped(g) {
                continue;
            }
            for class in [g, self.class_of(g)] {
                let Some(methods) = self.heap.get(class, layout::class::METHODS) else {
                    continue;
                };
                let entries = self.dictionary_entries(methods);
                out.extend(entries.into_iter().map(|(_, m)| (class, m)));
            }
        }
        out
    }

    /// The instance variable names of `class`, inherited first.
    pub fn instance_variable_names(&self, class: Value) -> Vec<String> {
        let mut chain = vec![];
        let mut c = class;
        while self.is_class_shaped(c) && chain.len() < 10_000 {
            chain.push(c);
            c = self
                .heap
                .get(c, layout::class::PARENT)
                .unwrap_or(self.nil());
        }
        let mut names = vec![];
        for &c in chain.iter().rev() {
            if let Some(vars) = self.heap.get(c, layout::class::VARIABLES)
                && vars.is_ref()
                && !self.heap.is_bytes(vars)
            {
                names.extend(self.heap.slots(vars).iter().map(|&v| self.text_of(v)));
            }
        }
        names
    }

    /// Every method whose bytecodes are a byte object.
    pub fn all_methods(&self) -> Vec<MethodInfo> {
        self.methods_of_globals()
            .into_iter()
            .filter_map(|(class, m)| self.method_info(class, m))
            .collect()
    }

    /// `class`'s own method for `selector`, as tools see it.
    pub fn find_method_info(&self, class: Value, selector: &str) -> Option<MethodInfo> {
        let methods = self.heap.get(class, layout::class::METHODS)?;
        let method = self.dictionary_find(methods, selector.as_bytes())?;
        self.method_info(class, method)
    }

    fn method_info(&self, class: Value, m: Value) -> Option<MethodInfo> {
        let get = |i| self.heap.get(m, i).unwrap_or(self.nil());
        let code = get(layout::method::BYTECODES);
        if !code.is_ref() || !self.heap.is_bytes(code) {
            return None;
        }
        let text = get(layout::method::TEXT);
        let literals = get(layout::method::LITERALS);
        let literals = if literals.is_ref() && !self.heap.is_bytes(literals) {
            self.heap
                .slots(literals)
                .iter()
                .map(|&v| self.describe(v))
                .collect()
        } else {
            vec![]
        };
        Some(MethodInfo {
            class: self.class_name(class),
            selector: self.text_of(get(layout::method::NAME)),
            bytecodes: self.heap.bytes(code).to_vec(),
            text: (text.is_ref() && self.heap.is_bytes(text)).then(|| self.text_of(text)),
            literals,
            instance_variables: self.instance_variable_names(class),
            temporary_size: get(layout::method::TEMPORARY_SIZE)
                .as_int()
                .map_or(0, |n| n.clamp(0, 255) as usize),
        })
    }

    /// The source text of every method that has one: (class, selector, text).
    pub fn all_method_sources(&self) -> Vec<(String, String, String)> {
        self.all_methods()
            .into_iter()
            .filter_map(|m| Some((m.class, m.selector, m.text?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::shortened;

    #[test]
    fn shortened_keeps_short_text_and_cuts_long_text_on_a_character() {
        assert_eq!(shortened("abc", 3, "characters"), "abc");
        assert_eq!(shortened("abcd", 3, "digits"), "abc… (4 digits)");
        assert_eq!(shortened("ééé", 2, "characters"), "éé… (3 characters)");
    }
}
