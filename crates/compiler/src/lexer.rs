//! Source text → tokens with byte spans.
//!
//! The lexer never fails: malformed input becomes an [`Tok::Error`] token
//! carrying a message, which the parser reports and recovers from.

use crate::diagnostic::Span;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// `foo`, `Foo`.
    Ident(String),
    /// `at:` (an identifier immediately followed by a colon).
    Keyword(String),
    /// `+`, `<=`, `~~`, `|`, `<`, `-` … (also the bars around temporaries).
    Binary(String),
    Integer(i64),
    /// Decimal digits (with sign) of an integer too large for 64 bits.
    LargeInteger(String),
    Float(f64),
    Char(u8),
    String(Vec<u8>),
    /// `#foo`, `#at:put:`, `#+`.
    Symbol(String),
    /// `#(`.
    ArrayStart,
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// `:` (block parameters).
    Colon,
    Caret,
    Period,
    Semicolon,
    /// `<-` or `:=`.
    Assign,
    /// Something that is not Little Smalltalk.
    Error(String),
    Eof,
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
    /// Whitespace or a comment came right before it (to tell `a -1` from `a - 1`).
    pub spaced: bool,
}

const BINARY_CHARS: &[u8] = b"+-*/\\<>=~@%|&?,";

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Splits `source` into tokens, ending with [`Tok::Eof`].
pub fn tokenize(source: &str) -> Vec<Token> {
    let mut lx = Lexer {
        s: source.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        let spaced = lx.skip_space_and_comments();
        let start = lx.pos;
        let tok = match lx.peek(0) {
            None => {
                out.push(Token {
                    tok: Tok::Eof,
                    span: Span::new(start, start),
                    spaced,
                });
                return out;
            }
            Some(c) => lx.token(c),
        };
        out.push(Token {
            tok,
            span: Span::new(start, lx.pos),
            spaced,
        });
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.pos + ahead).copied()
    }

    fn skip_space_and_comments(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek(0) {
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'"') => {
                    self.pos += 1;
                    while let Some(c) = self.peek(0) {
                        self.pos += 1;
                        if c == b'"' {
                            break;
                        }
                    }
                }
                _ => return self.pos > start,
            }
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek(0).is_some_and(&f) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    fn token(&mut self, c: u8) -> Tok {
        match c {
            c if is_ident_start(c) => {
                let name = self.take_while(is_ident_char).to_string();
                // `at:` is a keyword, but `x:=` is an identifier then `:=`.
                if self.peek(0) == Some(b':') && self.peek(1) != Some(b'=') {
                    self.pos += 1;
                    Tok::Keyword(name + ":")
                } else {
                    Tok::Ident(name)
                }
            }
            c if c.is_ascii_digit() => self.number(),
            b'$' => match self.peek(1) {
                Some(ch) => {
                    self.pos += 2;
                    Tok::Char(ch)
                }
                None => {
                    self.pos += 1;
                    Tok::Error("`$` at the end of the input".into())
                }
            },
            b'\'' => self.string(),
            b'#' => self.symbol(),
            b'(' => self.one(Tok::LParen),
            b')' => self.one(Tok::RParen),
            b'[' => self.one(Tok::LBracket),
            b']' => self.one(Tok::RBracket),
            b'^' => self.one(Tok::Caret),
            b'.' => self.one(Tok::Period),
            b';' => self.one(Tok::Semicolon),
            b':' if self.peek(1) == Some(b'=') => {
                self.pos += 2;
                Tok::Assign
            }
            b':' => self.one(Tok::Colon),
            b'<' if self.peek(1) == Some(b'-') => {
                self.pos += 2;
                Tok::Assign
            }
            c if BINARY_CHARS.contains(&c) => {
                let op = self
                    .take_while(|c| BINARY_CHARS.contains(&c) && c != b'|')
                    .to_string();
                if op.is_empty() {
                    // `|` stands alone (temporaries bars, `a | b`).
                    self.one(Tok::Binary("|".into()))
                } else {
                    Tok::Binary(op)
                }
            }
            other => {
                self.pos += 1;
                Tok::Error(format!("unexpected character {:?}", other as char))
            }
        }
    }

    fn one(&mut self, t: Tok) -> Tok {
        self.pos += 1;
        t
    }

    /// `123`, `16r1F`, `1.5`, `2e10`, `1.5e-3`.
    fn number(&mut self) -> Tok {
        let digits = self.take_while(|c| c.is_ascii_digit()).to_string();
        if self.peek(0) == Some(b'r') && self.peek(1).is_some_and(|c| c.is_ascii_alphanumeric()) {
            let Ok(radix) = digits.parse::<u32>() else {
                return Tok::Error("bad radix".into());
            };
            if !(2..=36).contains(&radix) {
                return Tok::Error(format!("radix {radix} is not between 2 and 36"));
            }
            self.pos += 1;
            let body = self
                .take_while(|c| c.is_ascii_alphanumeric())
                .to_ascii_uppercase();
            return match i64::from_str_radix(&body, radix) {
                Ok(n) => Tok::Integer(n),
                Err(_) => Tok::Error(format!(
                    "`{body}` is not a base-{radix} integer of at most 64 bits"
                )),
            };
        }
        let mut text = digits;
        let mut float = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            text.push('.');
            text.push_str(self.take_while(|c| c.is_ascii_digit()));
            float = true;
        }
        if self.peek(0) == Some(b'e') {
            let sign = usize::from(self.peek(1) == Some(b'-'));
            if self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                text.push('e');
                if sign == 1 {
                    text.push('-');
                }
                text.push_str(self.take_while(|c| c.is_ascii_digit()));
                float = true;
            }
        }
        if float {
            return match text.parse::<f64>() {
                Ok(f) => Tok::Float(f),
                Err(_) => Tok::Error(format!("`{text}` is not a number")),
            };
        }
        match text.parse::<i64>() {
            Ok(n) => Tok::Integer(n),
            Err(_) => Tok::LargeInteger(text),
        }
    }

    /// `'it''s'`.
    fn string(&mut self) -> Tok {
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek(0) {
                None => return Tok::Error("unterminated string".into()),
                Some(b'\'') if self.peek(1) == Some(b'\'') => {
                    bytes.push(b'\'');
                    self.pos += 2;
                }
                Some(b'\'') => {
                    self.pos += 1;
                    return Tok::String(bytes);
                }
                Some(c) => {
                    bytes.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `#foo`, `#at:put:`, `#+`, `#'any text'`, `#(`.
    fn symbol(&mut self) -> Tok {
        self.pos += 1;
        match self.peek(0) {
            Some(b'(') => self.one(Tok::ArrayStart),
            // LLST symbols may start with a digit (`#2`).
            Some(c) if is_ident_char(c) => {
                let name = self
                    .take_while(|c| is_ident_char(c) || c == b':')
                    .to_string();
                Tok::Symbol(name)
            }
            Some(b'\'') => match self.string() {
                Tok::String(b) => Tok::Symbol(String::from_utf8_lossy(&b).into_owned()),
                other => other,
            },
            Some(c) if BINARY_CHARS.contains(&c) => {
                Tok::Symbol(self.take_while(|c| BINARY_CHARS.contains(&c)).to_string())
            }
            _ => Tok::Error("`#` must start a symbol or a literal array".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_the_little_smalltalk_vocabulary() {
        use Tok::*;
        assert_eq!(
            toks(
                "x <- 3 + y at: 1 put: $a. ^ #foo:bar: , 'it''s' \"note\" #( 1 $b ) 16rFF 2.5 1e3 x:=2"
            ),
            vec![
                Ident("x".into()),
                Assign,
                Integer(3),
                Binary("+".into()),
                Ident("y".into()),
                Keyword("at:".into()),
                Integer(1),
                Keyword("put:".into()),
                Char(b'a'),
                Period,
                Caret,
                Symbol("foo:bar:".into()),
                Binary(",".into()),
                String(b"it's".to_vec()),
                ArrayStart,
                Integer(1),
                Char(b'b'),
                RParen,
                Integer(255),
                Float(2.5),
                Float(1000.0),
                Ident("x".into()),
                Assign,
                Integer(2),
                Eof
            ]
        );
    }

    #[test]
    fn bars_stand_alone_and_big_numbers_are_kept() {
        use Tok::*;
        assert_eq!(
            toks("||"),
            vec![Binary("|".into()), Binary("|".into()), Eof]
        );
        assert_eq!(
            toks("123456789012345678901234567890"),
            vec![LargeInteger("123456789012345678901234567890".into()), Eof]
        );
        assert!(matches!(toks("'open")[0], Error(_)));
        assert!(matches!(toks("{")[0], Error(_)));
    }
}
