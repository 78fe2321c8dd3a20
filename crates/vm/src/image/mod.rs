//! Image files → heap. `llst` reads LLST's own 32-bit images unmodified.

pub mod llst;
