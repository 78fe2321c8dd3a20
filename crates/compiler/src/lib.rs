//! lst-compiler: Little Smalltalk source → LST bytecode.
//!
//! [`lexer`] turns text into tokens with byte spans, [`parser`] builds the
//! [`ast`] with error recovery (a syntax error is a [`Diagnostic`] and
//! parsing goes on at the next statement), [`diagnostic`] renders errors
//! with file, line, column, the offending line and a caret, and [`codegen`]
//! turns the AST into bytecode; [`workspace`] compiles REPL doIts whose
//! variables outlive them. This crate knows nothing about the heap:
//! literals are plain data, globals are names.

pub mod ast;
pub mod codegen;
pub mod diagnostic;
pub mod lexer;
pub mod parser;
pub mod workspace;

pub use codegen::{
    CompiledMethod, LiteralValue, compile_doit, compile_method, compile_method_like_llst,
};
pub use diagnostic::Diagnostic;
pub use parser::{parse_expression, parse_method};
pub use workspace::{Workspace, WorkspaceDoit, compile_workspace_doit};

/// Selector arity lives with the bytecode set; re-exported for callers of the compiler.
pub use lst_bytecode::selector_arity;
