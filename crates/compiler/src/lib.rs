//! lst-compiler: Little Smalltalk source → AST (and, next, → LST bytecode).
//!
//! [`lexer`] turns text into tokens with byte spans, [`parser`] builds the
//! [`ast`] with error recovery (a syntax error is a [`Diagnostic`] and
//! parsing goes on at the next statement), [`diagnostic`] renders errors
//! with file, line, column, the offending line and a caret. This crate
//! knows nothing about the heap: literals are plain data.

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod parser;

pub use diagnostic::Diagnostic;
pub use parser::{parse_expression, parse_method};
