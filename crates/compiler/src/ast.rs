//! The syntax tree of Little Smalltalk methods and expressions.

use crate::diagnostic::Span;

/// A name with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A literal value, independent of any heap.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// An integer that fits in 64 bits.
    Integer(i64),
    /// An integer too large for 64 bits, as decimal digits (with sign).
    LargeInteger(String),
    Float(f64),
    Char(u8),
    String(Vec<u8>),
    Symbol(String),
    Array(Vec<Literal>),
    /// `true`, `false`, `nil` inside a literal array.
    True,
    False,
    Nil,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A variable or pseudo-variable (`self`, `super`, `nil`, `true`, `false`).
    Var(Name),
    Assign {
        target: Name,
        value: Box<Expr>,
    },
    Literal {
        value: Literal,
        span: Span,
    },
    Block(Block),
    Send(Send),
    /// `receiver m1; m2 m3; …`: each part's first message goes to the same
    /// receiver, later messages of a part to the result before them.
    Cascade {
        receiver: Box<Expr>,
        messages: Vec<Vec<Message>>,
        span: Span,
    },
    /// `<N args…>`: run primitive N; on failure, go on.
    Primitive {
        number: u8,
        args: Vec<Expr>,
        span: Span,
    },
}

/// A message: selector and arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub selector: String,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// A message sent to a receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct Send {
    pub receiver: Box<Expr>,
    pub message: Message,
}

/// `[:a :b | | t | statements]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub params: Vec<Name>,
    pub temps: Vec<Name>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    Expr(Expr),
    Return { value: Expr, span: Span },
}

/// A method: pattern, temporaries, statements.
#[derive(Clone, Debug, PartialEq)]
pub struct Method {
    pub selector: String,
    pub params: Vec<Name>,
    pub temps: Vec<Name>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Var(n) => n.span,
            Expr::Assign { target, value } => target.span.to(value.span()),
            Expr::Literal { span, .. }
            | Expr::Cascade { span, .. }
            | Expr::Primitive { span, .. } => *span,
            Expr::Block(b) => b.span,
            Expr::Send(s) => s.receiver.span().to(s.message.span),
        }
    }
}
