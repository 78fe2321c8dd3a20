//! Tokens → AST, with error recovery.
//!
//! ```text
//! method     := pattern temps? statements
//! pattern    := ident | binary ident | (keyword ident)+
//! temps      := '|' ident* '|'
//! statements := (statement '.'?)*        (LLST does not require the `.`)
//! statement  := '^' expr | expr
//! expr       := ident ('<-' | ':=') expr | cascade
//! cascade    := keywordExpr (';' messages?)*   (each part may chain messages)
//! keywordExpr:= binaryExpr (keyword binaryExpr)*
//! binaryExpr := unaryExpr (binary unaryExpr)*
//! unaryExpr  := primary ident*
//! primary    := ident | literal | block | '(' expr ')' | '<' integer primary* '>'
//! block      := '[' (':' ident)* '|'? temps? statements ']'
//! ```
//! A syntax error becomes a [`Diagnostic`]; the parser then skips to the
//! end of the statement (a `.` or the enclosing `]` at the same depth) and
//! goes on, so one run reports every independent error.

use crate::ast::*;
use crate::diagnostic::{Diagnostic, Span};
use crate::lexer::{Tok, Token, tokenize};

/// Parses a method definition (pattern, temporaries, statements).
pub fn parse_method(source: &str) -> Result<Method, Vec<Diagnostic>> {
    let mut p = Parser::new(source);
    let method = p.method();
    p.finish(method)
}

/// Parses statements with no pattern (a REPL line, a file-in expression),
/// with optional leading temporaries; answers them as a method named `doIt`.
pub fn parse_expression(source: &str) -> Result<Method, Vec<Diagnostic>> {
    let mut p = Parser::new(source);
    let start = p.span();
    let temps = p.temps();
    let body = p.statements(false);
    p.expect_eof();
    let method = Method {
        selector: "doIt".into(),
        params: vec![],
        temps,
        body,
        span: start.to(p.span()),
    };
    p.finish(method)
}

/// Marks that an error was recorded and the caller should recover.
struct Failed;

type PResult<T> = Result<T, Failed>;

/// Deepest nesting of parentheses, blocks and literal arrays accepted
/// (deeper input is a diagnostic, not a Rust stack overflow).
pub const MAX_NESTING: usize = 256;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    depth: usize,
}

impl Parser {
    fn new(source: &str) -> Parser {
        Parser {
            toks: tokenize(source),
            pos: 0,
            diags: Vec::new(),
            depth: 0,
        }
    }

    fn finish(self, method: Method) -> Result<Method, Vec<Diagnostic>> {
        if self.diags.is_empty() {
            Ok(method)
        } else {
            Err(self.diags)
        }
    }

    fn tok(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn peek_tok(&self, ahead: usize) -> &Tok {
        &self.toks[(self.pos + ahead).min(self.toks.len() - 1)].tok
    }
    fn span(&self) -> Span {
        self.toks[self.pos].span
    }
    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].span
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_bar(&self) -> bool {
        matches!(self.tok(), Tok::Binary(b) if b == "|")
    }

    fn error<T>(&mut self, message: impl Into<String>) -> PResult<T> {
        let span = self.span();
        let message = match self.tok() {
            Tok::Error(e) => e.clone(),
            _ => message.into(),
        };
        self.diags.push(Diagnostic::new(message, span));
        Err(Failed)
    }

    fn expect_eof(&mut self) {
        if !matches!(self.tok(), Tok::Eof) {
            let _ = self.error::<()>("expected the end of the input");
        }
    }

    // -- Methods --------------------------------------------------------------

    fn method(&mut self) -> Method {
        let start = self.span();
        let (selector, params) = match self.pattern() {
            Ok(p) => p,
            Err(Failed) => (String::from("?"), Vec::new()),
        };
        let temps = self.temps();
        let body = self.statements(false);
        self.expect_eof();
        Method {
            selector,
            params,
            temps,
            body,
            span: start.to(self.prev_span()),
        }
    }

    fn pattern(&mut self) -> PResult<(String, Vec<Name>)> {
        match self.tok().clone() {
            Tok::Ident(name) => {
                self.bump();
                Ok((name, vec![]))
            }
            Tok::Binary(op) => {
                self.bump();
                let arg = self.name("an argument name after the binary selector")?;
                Ok((op, vec![arg]))
            }
            Tok::Keyword(_) => {
                let mut selector = String::new();
                let mut params = Vec::new();
                while let Tok::Keyword(k) = self.tok().clone() {
                    self.bump();
                    selector.push_str(&k);
                    params.push(self.name("an argument name after the keyword")?);
                }
                Ok((selector, params))
            }
            _ => self.error("expected a method pattern (a selector and its argument names)"),
        }
    }

    fn name(&mut self, what: &str) -> PResult<Name> {
        match self.tok().clone() {
            Tok::Ident(text) => {
                let span = self.bump().span;
                Ok(Name { text, span })
            }
            _ => self.error(format!("expected {what}")),
        }
    }

    /// `| a b |`, or nothing.
    fn temps(&mut self) -> Vec<Name> {
        if !self.is_bar() {
            return Vec::new();
        }
        self.bump();
        let mut names = Vec::new();
        while let Tok::Ident(text) = self.tok().clone() {
            let span = self.bump().span;
            names.push(Name { text, span });
        }
        if self.is_bar() {
            self.bump();
        } else {
            let _ = self.error::<()>("expected `|` to close the temporaries");
        }
        names
    }

    // -- Statements -----------------------------------------------------------

    /// Statements up to the end of input (or `]` in a block).
    fn statements(&mut self, in_block: bool) -> Vec<Stmt> {
        let mut body = Vec::new();
        loop {
            match self.tok() {
                Tok::Eof => break,
                Tok::RBracket if in_block => break,
                Tok::Period => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            match self.statement() {
                Ok(s) => body.push(s),
                Err(Failed) => self.recover(in_block),
            }
            // LLST's compiler takes a new statement where one could start,
            // `.` or not: `[ … ] ifTrue: [ … ]` newline `^ x` is two statements.
            match self.tok() {
                Tok::Period => {
                    self.bump();
                }
                Tok::Eof => break,
                Tok::RBracket if in_block => break,
                t if starts_statement(t) => {}
                _ => {
                    let _ = self.error::<()>("expected `.` between statements");
                    self.recover(in_block);
                }
            }
        }
        body
    }

    /// Skips to the end of the current statement: a `.` or `]` at this
    /// bracket depth, or the end of input.
    fn recover(&mut self, in_block: bool) {
        let mut depth = 0usize;
        loop {
            match self.tok() {
                Tok::Eof => return,
                Tok::Period if depth == 0 => return,
                // The `]` that closes the block being parsed ends its statement;
                // a stray closer outside any bracket is skipped.
                Tok::RBracket if depth == 0 && in_block => return,
                Tok::RBracket | Tok::RParen if depth == 0 => {}
                Tok::LBracket | Tok::LParen | Tok::ArrayStart => depth += 1,
                Tok::RBracket | Tok::RParen => depth -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn statement(&mut self) -> PResult<Stmt> {
        if matches!(self.tok(), Tok::Caret) {
            let start = self.bump().span;
            let value = self.expr()?;
            let span = start.to(value.span());
            return Ok(Stmt::Return { value, span });
        }
        Ok(Stmt::Expr(self.expr()?))
    }

    // -- Expressions ----------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        if self.depth >= MAX_NESTING {
            return self.error(format!("expression nested more than {MAX_NESTING} deep"));
        }
        self.depth += 1;
        let e = self.expr_inner();
        self.depth -= 1;
        e
    }

    fn expr_inner(&mut self) -> PResult<Expr> {
        if let (Tok::Ident(text), Tok::Assign) = (self.tok().clone(), self.peek_tok(1)) {
            let span = self.bump().span;
            self.bump();
            let value = self.expr()?;
            return Ok(Expr::Assign {
                target: Name { text, span },
                value: Box::new(value),
            });
        }
        let first = self.keyword_expr()?;
        if !matches!(self.tok(), Tok::Semicolon) {
            return Ok(first);
        }
        let Expr::Send(send) = first else {
            return self.error("a cascade (`;`) must follow a message send");
        };
        let span_start = send.receiver.span();
        let mut messages = vec![vec![send.message]];
        while matches!(self.tok(), Tok::Semicolon) {
            self.bump();
            // LLST accepts a trailing `;` with no message.
            if matches!(
                self.tok(),
                Tok::Period | Tok::RBracket | Tok::RParen | Tok::Eof
            ) {
                break;
            }
            messages.push(self.cascade_part()?);
        }
        let span = span_start.to(self.prev_span());
        Ok(Expr::Cascade {
            receiver: send.receiver,
            messages,
            span,
        })
    }

    /// One part of a cascade: a message to the cascade's receiver, then
    /// unary, binary and keyword messages to each result in turn.
    fn cascade_part(&mut self) -> PResult<Vec<Message>> {
        let mut chain = vec![self.cascade_message()?];
        let mut last = chain[0].selector.clone();
        while !last.ends_with(':')
            && matches!(self.tok(), Tok::Ident(_) | Tok::Binary(_) | Tok::Keyword(_))
        {
            let m = self.cascade_message()?;
            last = m.selector.clone();
            chain.push(m);
        }
        Ok(chain)
    }

    /// One message: unary, binary or keyword.
    fn cascade_message(&mut self) -> PResult<Message> {
        let start = self.span();
        match self.tok().clone() {
            Tok::Ident(sel) => {
                self.bump();
                Ok(Message {
                    selector: sel,
                    args: vec![],
                    span: start,
                })
            }
            Tok::Binary(op) => {
                self.bump();
                let arg = self.unary_expr()?;
                Ok(Message {
                    selector: op,
                    args: vec![arg],
                    span: start.to(self.prev_span()),
                })
            }
            Tok::Keyword(_) => {
                let (selector, args) = self.keyword_parts()?;
                Ok(Message {
                    selector,
                    args,
                    span: start.to(self.prev_span()),
                })
            }
            _ => self.error("expected a message after `;`"),
        }
    }

    fn keyword_parts(&mut self) -> PResult<(String, Vec<Expr>)> {
        let mut selector = String::new();
        let mut args = Vec::new();
        while let Tok::Keyword(k) = self.tok().clone() {
            self.bump();
            selector.push_str(&k);
            args.push(self.binary_expr()?);
        }
        Ok((selector, args))
    }

    fn keyword_expr(&mut self) -> PResult<Expr> {
        let receiver = self.binary_expr()?;
        if !matches!(self.tok(), Tok::Keyword(_)) {
            return Ok(receiver);
        }
        let start = self.span();
        let (selector, args) = self.keyword_parts()?;
        let span = start.to(self.prev_span());
        Ok(send(receiver, selector, args, span))
    }

    fn binary_expr(&mut self) -> PResult<Expr> {
        let mut left = self.unary_expr()?;
        while let Tok::Binary(op) = self.tok().clone() {
            let span = self.bump().span;
            let right = self.unary_expr()?;
            left = send(left, op, vec![right], span);
        }
        Ok(left)
    }

    fn unary_expr(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        while let Tok::Ident(sel) = self.tok().clone() {
            // `x foo` newline `y <- 1`: `y` starts the next statement.
            if matches!(self.peek_tok(1), Tok::Assign) {
                break;
            }
            let span = self.bump().span;
            e = send(e, sel, vec![], span);
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let span = self.span();
        match self.tok().clone() {
            Tok::Ident(text) => {
                self.bump();
                Ok(Expr::Var(Name { text, span }))
            }
            Tok::LParen => {
                self.bump();
                let e = self.expr()?;
                if !matches!(self.tok(), Tok::RParen) {
                    return self.error("expected `)`");
                }
                self.bump();
                Ok(e)
            }
            Tok::LBracket => self.block().map(Expr::Block),
            Tok::Binary(op) if op == "<" && matches!(self.peek_tok(1), Tok::Integer(_)) => {
                self.primitive()
            }
            Tok::Binary(op) if op == "-" && self.is_negative_literal() => {
                self.bump();
                let lit = self.literal_token()?;
                Ok(Expr::Literal {
                    value: negate(lit),
                    span: span.to(self.prev_span()),
                })
            }
            _ => {
                let value = self.literal_token()?;
                Ok(Expr::Literal {
                    value,
                    span: span.to(self.prev_span()),
                })
            }
        }
    }

    /// `-` written directly before a number, where an operand is expected.
    fn is_negative_literal(&self) -> bool {
        let next = &self.toks[(self.pos + 1).min(self.toks.len() - 1)];
        !next.spaced
            && matches!(
                next.tok,
                Tok::Integer(_) | Tok::LargeInteger(_) | Tok::Float(_)
            )
    }

    /// A literal token (numbers, characters, strings, symbols, `#( … )`).
    fn literal_token(&mut self) -> PResult<Literal> {
        let lit = match self.tok().clone() {
            Tok::Integer(n) => Literal::Integer(n),
            Tok::LargeInteger(d) => Literal::LargeInteger(d),
            Tok::Float(f) => Literal::Float(f),
            Tok::Char(c) => Literal::Char(c),
            Tok::String(s) => Literal::String(s),
            Tok::Symbol(s) => Literal::Symbol(s),
            Tok::ArrayStart => {
                self.bump();
                return self.array_body();
            }
            _ => return self.error("expected an expression"),
        };
        self.bump();
        Ok(lit)
    }

    /// The elements of a literal array, after `#(` or a nested `(`.
    fn array_body(&mut self) -> PResult<Literal> {
        if self.depth >= MAX_NESTING {
            return self.error(format!("literal array nested more than {MAX_NESTING} deep"));
        }
        self.depth += 1;
        let a = self.array_items();
        self.depth -= 1;
        a
    }

    fn array_items(&mut self) -> PResult<Literal> {
        let mut items = Vec::new();
        loop {
            let item = match self.tok().clone() {
                Tok::RParen => {
                    self.bump();
                    return Ok(Literal::Array(items));
                }
                Tok::LParen | Tok::ArrayStart => {
                    self.bump();
                    items.push(self.array_body()?);
                    continue;
                }
                Tok::Ident(name) => match name.as_str() {
                    "true" => Literal::True,
                    "false" => Literal::False,
                    "nil" => Literal::Nil,
                    _ => Literal::Symbol(name),
                },
                Tok::Keyword(k) => {
                    // `at:put:` inside an array is one symbol.
                    let mut s = k;
                    self.bump();
                    while let Tok::Keyword(more) = self.tok().clone() {
                        s.push_str(&more);
                        self.bump();
                    }
                    items.push(Literal::Symbol(s));
                    continue;
                }
                Tok::Binary(op) if op == "-" && self.is_negative_literal() => {
                    self.bump();
                    let lit = self.literal_token()?;
                    items.push(negate(lit));
                    continue;
                }
                Tok::Binary(op) => Literal::Symbol(op),
                Tok::Eof => return self.error("unterminated literal array: expected `)`"),
                _ => {
                    items.push(self.literal_token()?);
                    continue;
                }
            };
            self.bump();
            items.push(item);
        }
    }

    /// `<N args…>`.
    fn primitive(&mut self) -> PResult<Expr> {
        let start = self.bump().span;
        let Tok::Integer(n) = self.tok().clone() else {
            return self.error("expected a primitive number");
        };
        let Ok(number) = u8::try_from(n) else {
            return self.error("primitive numbers go from 0 to 255");
        };
        self.bump();
        let mut args = Vec::new();
        loop {
            match self.tok() {
                Tok::Binary(op) if op == ">" => {
                    let end = self.bump().span;
                    return Ok(Expr::Primitive {
                        number,
                        args,
                        span: start.to(end),
                    });
                }
                Tok::Eof => return self.error("expected `>` to close the primitive"),
                _ => args.push(self.primary()?),
            }
        }
    }

    /// `[:a :b | | t | statements]`.
    fn block(&mut self) -> PResult<Block> {
        let start = self.bump().span;
        let mut params = Vec::new();
        while matches!(self.tok(), Tok::Colon) {
            self.bump();
            params.push(self.name("a block parameter name after `:`")?);
        }
        if !params.is_empty() {
            if self.is_bar() {
                self.bump();
            } else if !matches!(self.tok(), Tok::RBracket) {
                return self.error("expected `|` after the block parameters");
            }
        }
        let temps = self.temps();
        let body = self.statements(true);
        if !matches!(self.tok(), Tok::RBracket) {
            return self.error("expected `]` to close the block");
        }
        let end = self.bump().span;
        Ok(Block {
            params,
            temps,
            body,
            span: start.to(end),
        })
    }
}

/// Tokens that begin a statement.
fn starts_statement(t: &Tok) -> bool {
    !matches!(
        t,
        Tok::Keyword(_)
            | Tok::RParen
            | Tok::RBracket
            | Tok::Colon
            | Tok::Period
            | Tok::Semicolon
            | Tok::Assign
            | Tok::Eof
    ) && !matches!(t, Tok::Binary(op) if op != "<" && op != "-")
}

fn send(receiver: Expr, selector: String, args: Vec<Expr>, span: Span) -> Expr {
    let span = span.to(args.last().map_or(span, Expr::span));
    Expr::Send(Send {
        receiver: Box::new(receiver),
        message: Message {
            selector,
            args,
            span,
        },
    })
}

fn negate(lit: Literal) -> Literal {
    match lit {
        Literal::Integer(n) => Literal::Integer(-n),
        Literal::LargeInteger(d) => Literal::LargeInteger(format!("-{d}")),
        Literal::Float(f) => Literal::Float(-f),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(src: &str) -> Method {
        parse_method(src).unwrap_or_else(|d| panic!("{d:?}"))
    }

    #[test]
    fn a_stray_closer_after_an_error_is_skipped_not_counted() {
        // Recovery skips `)` or `]` outside any bracket and stops at the
        // `.`, so the error in the next statement is reported too.
        for src in ["foo 3 + ) . ^ 1 +", "foo 3 + ] ] . ^ 1 +"] {
            let errors = parse_method(src).expect_err(src);
            assert_eq!(errors.len(), 2, "{src}: {errors:?}");
        }
    }

    #[test]
    fn parses_patterns_temps_and_precedence() {
        let m = method("at: i put: v | t | t <- i + 1 * 2. ^ self foo: t bar baz: v");
        assert_eq!(m.selector, "at:put:");
        assert_eq!(m.params.len(), 2);
        assert_eq!(m.temps[0].text, "t");
        let Stmt::Expr(Expr::Assign { value, .. }) = &m.body[0] else {
            panic!()
        };
        let Expr::Send(mul) = value.as_ref() else {
            panic!()
        };
        assert_eq!(
            mul.message.selector, "*",
            "binary operators go left to right"
        );
        let Stmt::Return {
            value: Expr::Send(kw),
            ..
        } = &m.body[1]
        else {
            panic!()
        };
        assert_eq!(kw.message.selector, "foo:baz:");
    }

    #[test]
    fn parses_blocks_cascades_primitives_and_literals() {
        let m = method(
            "value: a <8 a self>. ^ [:x :y | | t | x] value; yourself. #(1 -2 $c foo at:put: (3) #(4) true) size. 3 -1. 3 - 1",
        );
        assert!(matches!(
            m.body[0],
            Stmt::Expr(Expr::Primitive { number: 8, .. })
        ));
        let Stmt::Return {
            value: Expr::Cascade { messages, .. },
            ..
        } = &m.body[1]
        else {
            panic!("{:?}", m.body[1])
        };
        assert_eq!(messages.len(), 2);
        let Stmt::Expr(Expr::Send(size)) = &m.body[2] else {
            panic!()
        };
        let Expr::Literal {
            value: Literal::Array(items),
            ..
        } = size.receiver.as_ref()
        else {
            panic!()
        };
        assert_eq!(items[1], Literal::Integer(-2));
        assert_eq!(items[4], Literal::Symbol("at:put:".into()));
        assert_eq!(items[7], Literal::True);
        // `3 -1` and `3 - 1` are both a subtraction (a binary operator is expected there).
        for s in &m.body[3..5] {
            let Stmt::Expr(Expr::Send(sub)) = s else {
                panic!("{s:?}")
            };
            assert_eq!(sub.message.selector, "-");
        }
    }

    #[test]
    fn reports_every_error_and_recovers() {
        let errs = parse_method("foo\n  ^ 3 + .\n  x := ].\n  ^ 4").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].message, "expected an expression");
        let src = "foo\n  ^ 3 + .\n  x := ].\n  ^ 4";
        assert!(
            errs[0]
                .render("f.st", src, 1)
                .starts_with("f.st:2:9: error: expected an expression")
        );
        assert!(parse_expression("| a | a <- 3. a + 4").is_ok());
        assert!(parse_expression("(1 + 2").is_err());
        assert!(parse_expression("#(1 2").is_err());
        assert!(parse_expression("[:x x]").is_err());
    }

    #[test]
    fn deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
        for src in [
            "(".repeat(100_000),
            "[".repeat(100_000),
            "#(".repeat(100_000),
            "x foo: (".repeat(50_000),
        ] {
            let errs = parse_expression(&src).unwrap_err();
            assert!(
                errs.iter().any(|d| d.message.contains("nested more than")),
                "{:?}",
                &errs[..1]
            );
        }
        assert!(parse_expression(&format!("{}3{}", "(".repeat(200), ")".repeat(200))).is_ok());
    }

    #[test]
    fn accepts_llst_leniencies() {
        // Missing periods between statements, `#2`, chained cascade parts, a trailing `;`.
        let m = method("foo | a b |\n  a <- self bar\n  b <- a baz\n  [ a ] value\n  ^ b");
        assert_eq!(m.body.len(), 4);
        let m = method("foo ^ [ x at: #2 ; class printString. x location: #0; ] value");
        let Stmt::Return {
            value: Expr::Send(s),
            ..
        } = &m.body[0]
        else {
            panic!()
        };
        let Expr::Block(b) = s.receiver.as_ref() else {
            panic!()
        };
        let Stmt::Expr(Expr::Cascade { messages, .. }) = &b.body[0] else {
            panic!("{:?}", b.body[0])
        };
        assert_eq!(messages[1].len(), 2);
    }
}
