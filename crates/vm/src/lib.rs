//! lst-vm: the runtime core of lst.
//!
//! Values and the heap ([`value`], [`heap`]), the object layouts the VM
//! relies on ([`layout`], [`roots`], [`dictionary`]), image loading ([`image`]), the
//! interpreter ([`interp`]), the runtime half of the JIT beside it
//! ([`jit_runtime`]), the type feedback both record for the optimizer
//! ([`feedback`]) and the primitives ([`prims`]).

pub mod dictionary;
pub mod feedback;
pub mod heap;
pub mod image;
pub mod interp;
pub mod jit_runtime;
pub mod layout;
pub mod link;
pub mod numbers;
pub mod prims;
pub mod roots;
pub mod session;
pub mod value;
pub mod vm;

pub use interp::ExitStatus;
pub use vm::{Console, Options, ReaderConsole, Vm};
pub mod debug;
