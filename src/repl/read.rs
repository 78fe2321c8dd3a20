//! Reading the REPL's input as entries: lines are gathered until an entry
//! is whole. An expression continues while brackets, a string or a comment
//! are open; a method in file syntax (`!Class` or `=Class`, the method,
//! then a line `!`) continues to its closing `!`; a `:command` is one line.
//! Lines come from a terminal (line editing, `-> ` and `.. ` prompts) or
//! from a pipe; both go through [`next_entry`].

use super::complete::Completion;
use crate::console;
use anyhow::Result;
use rustyline::error::ReadlineError;
use std::io::{self, BufRead};

/// The prompt for a new entry.
pub const PROMPT: &str = "-> ";
/// The prompt for the lines that continue an entry.
pub const CONTINUATION_PROMPT: &str = ".. ";

/// What reading a line gave.
pub enum Line {
    Text(String),
    /// Ctrl-C at the prompt: the entry being typed is dropped.
    Interrupted,
    End,
}

/// A source of lines.
pub trait Lines {
    /// The next line; `continuing` if it continues an open entry.
    fn line(&mut self, continuing: bool) -> Result<Line>;
    /// The number of the line read last (1 for the first).
    fn line_number(&self) -> usize;
}

/// A whole entry and the number of its first line.
pub struct Entry {
    pub text: String,
    pub first_line: usize,
}

/// Reads lines until they make a whole entry; `None` at the end of input.
/// At the end, an open entry is given as it is (evaluating it reports
/// what is missing).
pub fn next_entry(lines: &mut dyn Lines) -> Result<Option<Entry>> {
    let mut text = String::new();
    let mut first_line = 0;
    loop {
        match lines.line(!text.is_empty())? {
            Line::End if text.trim().is_empty() => return Ok(None),
            Line::End => break,
            Line::Interrupted => text.clear(),
            Line::Text(line) if text.is_empty() && line.trim().is_empty() => {}
            Line::Text(line) => {
                if text.is_empty() {
                    first_line = lines.line_number();
                }
                text.push_str(&line);
                text.push('\n');
                if !needs_more(&text) {
                    break;
                }
            }
        }
    }
    text.truncate(text.trim_end().len());
    Ok(Some(Entry { text, first_line }))
}

/// True while `text`, the lines of an entry so far, is not a whole entry.
pub fn needs_more(text: &str) -> bool {
    if is_command(text) {
        false
    } else if is_method_chunk(text) {
        !text.lines().skip(1).any(|l| l.trim() == "!")
    } else {
        super::incomplete(text)
    }
}

/// `:help`, `:selectors …`: a REPL command.
pub fn is_command(text: &str) -> bool {
    text.trim_start().starts_with(':')
}

/// `!Class` or `=Class` (the class side) on the first line: a method in
/// the file syntax of `File fileIn:`.
pub fn is_method_chunk(text: &str) -> bool {
    text.trim_start().starts_with(['!', '='])
}

/// Lines from a pipe (or any reader).
pub struct Piped<R> {
    reader: R,
    number: usize,
}

impl<R: BufRead> Piped<R> {
    pub fn new(reader: R) -> Self {
        Piped { reader, number: 0 }
    }
}

impl<R: BufRead> Lines for Piped<R> {
    fn line(&mut self, _continuing: bool) -> Result<Line> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(Line::End);
        }
        self.number += 1;
        let end = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(end);
        Ok(Line::Text(line))
    }

    fn line_number(&self) -> usize {
        self.number
    }
}

/// Lines typed at the terminal, with completion of `words`.
pub struct Terminal {
    pub words: std::rc::Rc<[String]>,
    number: usize,
}

impl Terminal {
    pub fn new(words: Vec<String>) -> Self {
        Terminal {
            words: words.into(),
            number: 0,
        }
    }
}

impl Lines for Terminal {
    fn line(&mut self, continuing: bool) -> Result<Line> {
        let prompt = if continuing {
            CONTINUATION_PROMPT
        } else {
            PROMPT
        };
        let helper = Completion::new(self.words.clone());
        match console::edit_line(prompt, Some(helper)) {
            Ok(line) => {
                self.number += 1;
                Ok(Line::Text(line))
            }
            Err(ReadlineError::Interrupted) => Ok(Line::Interrupted),
            Err(ReadlineError::Eof) => Ok(Line::End),
            Err(e) => Err(io::Error::other(e).into()),
        }
    }

    fn line_number(&self) -> usize {
        self.number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(input: &str) -> Vec<(String, usize)> {
        let mut lines = Piped::new(input.as_bytes());
        let mut out = vec![];
        while let Some(e) = next_entry(&mut lines).unwrap() {
            out.push((e.text, e.first_line));
        }
        out
    }

    #[test]
    fn open_brackets_continue_and_blank_lines_are_skipped() {
        assert_eq!(
            entries("\n#(1 2\n3) size\n3 + 4\n"),
            [("#(1 2\n3) size".into(), 2), ("3 + 4".into(), 4)]
        );
    }

    #[test]
    fn a_method_in_file_syntax_continues_to_its_closing_bang() {
        let input = "!Object\nfoo\n\t^ [ 1 ]\n\n!\n=Object class\nbar ^ 2\n!\n3\n";
        assert_eq!(
            entries(input),
            [
                ("!Object\nfoo\n\t^ [ 1 ]\n\n!".into(), 1),
                ("=Object class\nbar ^ 2\n!".into(), 6),
                ("3".into(), 9)
            ]
        );
    }

    #[test]
    fn commands_are_one_line_and_open_input_at_the_end_is_kept() {
        assert_eq!(
            entries(":source Object>>(\n(3 +"),
            [(":source Object>>(".into(), 1), ("(3 +".into(), 2)]
        );
    }
}
