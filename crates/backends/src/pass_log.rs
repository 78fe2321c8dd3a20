//! The IR of one unit after each pass of the compile driver
//! ([`crate::jit::read_unit_logged`]), kept only when asked for: what
//! `lst disasm --jit` prints so a wrong answer or a missed fast path can
//! be traced to the pass that made it, in the manner of LuaJIT's `-jdump`.
//!
//! This module records and formats; it runs no pass and decides nothing
//! about which passes run.

use lst_jit::ir::Function;

/// The IR text after each pass, in pipeline order; empty unless made by
/// [`PassLog::recording`].
#[derive(Debug, Default)]
pub struct PassLog {
    on: bool,
    stages: Vec<(&'static str, String)>,
}

impl PassLog {
    /// A log that keeps nothing (what compiles use).
    pub fn off() -> PassLog {
        PassLog::default()
    }

    /// A log that keeps the IR after every pass.
    pub fn recording() -> PassLog {
        PassLog {
            on: true,
            stages: Vec::new(),
        }
    }

    /// Note the IR `f` as it stands after the pass named `pass`.
    pub fn after(&mut self, pass: &'static str, f: &Function) {
        if self.on {
            self.stages.push((pass, f.to_string()));
        }
    }

    /// The passes and the IR after each, in order.
    pub fn stages(&self) -> &[(&'static str, String)] {
        &self.stages
    }

    /// Every stage as text: the first in full, each later one in full
    /// when its pass changed the IR, or one line saying it did not.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut previous: Option<&str> = None;
        for (pass, ir) in &self.stages {
            if previous == Some(ir.as_str()) {
                out.push_str(&format!("; after {pass}: unchanged\n"));
            } else {
                out.push_str(&format!("; after {pass}\n{ir}"));
            }
            previous = Some(ir);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lst_jit::parse::parse_function;

    fn function(text: &str) -> Function {
        parse_function(text).expect("the test IR parses")
    }

    const RETURN_SELF: &str = "method T>>m args 0 temps 0\nbb0:\n    v0 = self\n    return v0\n";
    const RETURN_NIL: &str = "method T>>m args 0 temps 0\nbb0:\n    v0 = nil\n    return v0\n";

    #[test]
    fn an_off_log_keeps_nothing() {
        let mut log = PassLog::off();
        log.after("translate", &function(RETURN_SELF));
        assert!(log.stages().is_empty());
        assert_eq!(log.render(), "");
    }

    #[test]
    fn a_pass_that_changes_nothing_gets_one_line() {
        let mut log = PassLog::recording();
        log.after("translate", &function(RETURN_SELF));
        log.after("fold", &function(RETURN_SELF));
        log.after("lower", &function(RETURN_NIL));
        let text = log.render();
        assert!(text.starts_with("; after translate\nmethod T>>m"), "{text}");
        assert!(text.contains("; after fold: unchanged\n"), "{text}");
        assert!(text.contains("; after lower\nmethod T>>m"), "{text}");
        assert!(text.contains("v0 = nil"), "{text}");
        assert_eq!(log.stages().len(), 3);
    }
}
