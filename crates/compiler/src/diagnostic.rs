//! Compile errors with a place: rendering as `file:line:col`, the line and a caret.

use std::fmt::Write;

/// A byte range in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One syntax (or later, semantic) error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
}

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    let at = at.min(source.len());
    let before = &source[..source.floor_char_boundary(at)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
        }
    }

    /// `file:line:col: error: message`, then the offending line and a caret
    /// under the start of the span. `first_line` is the line number of the
    /// source's first line in the file (for methods inside a larger file).
    pub fn render(&self, file: &str, source: &str, first_line: usize) -> String {
        let (line, col) = line_col(source, self.span.start);
        let text = source.lines().nth(line - 1).unwrap_or("");
        let mut out = format!(
            "{file}:{}:{col}: error: {}\n",
            line + first_line - 1,
            self.message
        );
        let (shown, caret) = excerpt(text, col);
        let _ = writeln!(out, "  {shown}");
        let rest = shown.chars().count().saturating_sub(caret - 1).max(1);
        let width = self.span.end.saturating_sub(self.span.start).clamp(1, rest);
        let _ = writeln!(out, "  {}{}", " ".repeat(caret - 1), "^".repeat(width));
        out
    }
}

/// How many characters of the offending line are echoed either side of
/// the error's column.
const EXCERPT_RADIUS: usize = 60;

/// The part of `line` echoed under an error at column `col` (1-based, in
/// characters): at most [`EXCERPT_RADIUS`] characters either side, with
/// `…` where the line is cut; and the column of the error in that part.
fn excerpt(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let at = (col - 1).min(chars.len());
    let start = at.saturating_sub(EXCERPT_RADIUS);
    let end = (at + EXCERPT_RADIUS).min(chars.len());
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, at - start + 1 + usize::from(start > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_place_line_and_caret() {
        let src = "foo\n    ^ 3 + ]\n";
        let d = Diagnostic::new("expected an expression", Span::new(14, 15));
        assert_eq!(
            d.render("x.st", src, 10),
            "x.st:11:11: error: expected an expression\n      ^ 3 + ]\n            ^\n"
        );
    }

    #[test]
    fn a_long_line_is_cut_around_the_error() {
        let src = format!("{}]{}", "(".repeat(1000), ")".repeat(1000));
        let d = Diagnostic::new("expected an expression", Span::new(1000, 1001));
        let text = d.render("x.st", &src, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "x.st:1:1001: error: expected an expression");
        let expected = format!("  …{}]{}…", "(".repeat(60), ")".repeat(59));
        assert_eq!(lines[1], expected);
        assert_eq!(lines[2], format!("  {}^", " ".repeat(61)));
    }
}
