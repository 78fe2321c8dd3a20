//! Image files → heap. `llst` reads LLST's own 32-bit images unmodified;
//! `native` reads and writes lst's own 64-bit format; `builder` makes a
//! new image from the project's Smalltalk sources.

pub mod builder;
pub mod llst;
pub mod native;
