//! Tab completion at the REPL's prompt: the word before the cursor is
//! completed from the image's global names and selectors (and from the
//! REPL's commands after a `:`). When several candidates fit, the editor
//! (configured with `CompletionType::List` in `console::edit_line`)
//! completes their common prefix and lists them on the next Tab.

use rustyline::Context;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use std::rc::Rc;

/// The completion helper for one line.
pub struct Completion {
    words: Rc<[String]>,
}

impl Completion {
    pub fn new(words: Rc<[String]>) -> Self {
        Completion { words }
    }

    /// Where the word before `pos` starts, and the words it may complete to.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return (pos, vec![]);
        }
        let found = if start == 0 && prefix.starts_with(':') {
            super::help::COMMANDS
                .iter()
                .filter(|c| c.starts_with(prefix))
                .map(|c| c.to_string())
                .collect()
        } else {
            self.words
                .iter()
                .filter(|w| w.starts_with(prefix))
                .cloned()
                .collect()
        };
        (start, found)
    }
}

impl Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl rustyline::Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion() -> Completion {
        let words = ["printNl", "printString", "printString:", "Object", "size"];
        Completion::new(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn every_word_with_the_prefix_is_a_candidate() {
        let c = completion();
        assert_eq!(
            c.candidates("3 print", 7),
            (
                2,
                vec![
                    "printNl".into(),
                    "printString".into(),
                    "printString:".into()
                ]
            )
        );
        assert_eq!(c.candidates("Obj", 3), (0, vec!["Object".into()]));
        assert_eq!(c.candidates("3 ", 2), (2, vec![]));
    }

    #[test]
    fn repl_commands_complete_after_a_colon() {
        let c = completion();
        assert_eq!(c.candidates(":sel", 4), (0, vec![":selectors".into()]));
        assert_eq!(c.candidates(":s", 2).1.len(), 2);
    }
}
