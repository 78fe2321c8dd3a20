//! lst-vm: the runtime core of lst.
//!
//! Values and the heap ([`value`], [`heap`]), the object layouts the VM
//! relies on ([`layout`], [`roots`]), image loading ([`image`]), the
//! interpreter ([`interp`]) and the primitives ([`prims`]).

pub mod heap;
pub mod image;
pub mod layout;
pub mod roots;
pub mod value;
