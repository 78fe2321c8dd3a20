//! Helpers shared by the vm crate's integration tests.

pub mod llst_writer;
