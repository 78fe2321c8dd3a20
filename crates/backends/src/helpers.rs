//! The runtime helpers compiled code calls, listed once, with their
//! Cranelift signatures derived from their Rust types (no call site writes
//! a signature by hand: the lesson of Tamarin's CallInfo tables).
//!
//! The helpers themselves live in `lst_vm::jit_runtime::helpers`, beside
//! the interpreter code they reuse; this module only describes them to
//! Cranelift.

use cranelift_codegen::ir::{AbiParam, Signature, Type, types};
use cranelift_codegen::isa::CallConv;
use lst_vm::Vm;
use lst_vm::jit_runtime::helpers as vm_helpers;

/// A Rust type that crosses the boundary as one machine word (or less).
pub trait ClifType {
    fn clif(pointer: Type) -> Type;
}

impl ClifType for u64 {
    fn clif(_: Type) -> Type {
        types::I64
    }
}

impl ClifType for i64 {
    fn clif(_: Type) -> Type {
        types::I64
    }
}

impl ClifType for *mut Vm {
    fn clif(pointer: Type) -> Type {
        pointer
    }
}

/// A Rust function pointer that Cranelift code can call.
pub trait HostFn: Copy {
    fn signature(pointer: Type, call_conv: CallConv) -> Signature;
    fn address(self) -> *const u8;
}

macro_rules! impl_host_fn {
    ($($arg:ident),*) => {
        impl<R: ClifType, $($arg: ClifType),*> HostFn for unsafe extern "C" fn($($arg),*) -> R {
            fn signature(pointer: Type, call_conv: CallConv) -> Signature {
                let mut sig = Signature::new(call_conv);
                $(sig.params.push(AbiParam::new($arg::clif(pointer)));)*
                sig.returns.push(AbiParam::new(R::clif(pointer)));
                sig
            }
            fn address(self) -> *const u8 {
                self as *const u8
            }
        }
    };
}

impl_host_fn!(A);
impl_host_fn!(A, B);
impl_host_fn!(A, B, C);
impl_host_fn!(A, B, C, D);
impl_host_fn!(A, B, C, D, E);

/// The SystemV signature of host function `f`.
fn signature_of<F: HostFn>(_: F, pointer: Type) -> Signature {
    F::signature(pointer, CallConv::SystemV)
}

/// One helper: its symbol name, address and signature.
#[derive(Clone)]
pub struct Helper {
    pub name: &'static str,
    pub address: *const u8,
    pub signature: Signature,
}

/// Names a helper of `lst_vm::jit_runtime::helpers`; the `_`s give its arity,
/// the types come from the function itself.
macro_rules! helpers {
    ($($name:ident: fn($($arg:tt),*);)*) => {
        /// Which helper (an index into [`all`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum Id { $($name),* }

        /// Every helper, in [`Id`] order.
        pub fn all(pointer: Type) -> Vec<Helper> {
            vec![$({
                let f = vm_helpers::$name as unsafe extern "C" fn($($arg),*) -> _;
                Helper {
                    name: stringify!($name),
                    address: f.address(),
                    signature: signature_of(f, pointer),
                }
            }),*]
        }
    };
}

helpers! {
    lst_send_site: fn(_, _, _);
    lst_send_direct: fn(_, _, _);
    lst_return: fn(_, _, _);
    lst_block_return: fn(_, _, _, _);
    lst_primitive: fn(_, _, _, _, _);
    lst_make_block: fn(_, _, _, _, _);
    lst_safepoint: fn(_, _, _);
    lst_trap: fn(_, _, _, _);
    lst_deopt: fn(_, _, _);
    lst_new_slots: fn(_, _, _);
    lst_tier_up: fn(_, _, _, _);
    lst_inlined_exit: fn(_, _, _, _);
    lst_inlined_poll: fn(_);
    lst_box_float: fn(_, _, _, _);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_rust_types() {
        let hs = all(types::I64);
        let send = &hs[Id::lst_send_site as usize];
        assert_eq!(send.name, "lst_send_site");
        assert_eq!(send.signature.params.len(), 3);
        assert_eq!(send.signature.returns.len(), 1);
        assert_eq!(hs[Id::lst_return as usize].signature.params.len(), 3);
        assert!(hs.iter().all(|h| !h.address.is_null()));
    }
}
