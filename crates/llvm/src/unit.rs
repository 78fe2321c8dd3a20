//! One compile unit (a method, or a block body in it) as the selector
//! takes it: the same IR the Cranelift pipeline builds
//! (`lst_backends::jit::read_unit`: translate, the semantic lowering with
//! the same facts, fold), and the facts about the method besides the IR.
//! The selector handles every fast path, so it asks for all of them
//! (the object and quick-method ops as well as SmallInt and Float, and
//! unboxed Float regions unless `--jit-opt` switched them off).
//! Reads the heap only; generates no code.

use lst_backends::jit::{FastPaths, UnitIr, read_unit};
use lst_backends::optimizations::Optimizations;
use lst_jit::ir::{Function, Inst};
use lst_vm::value::Value;
use lst_vm::vm::Vm;

/// A unit's IR and its method's facts.
pub struct Unit {
    pub ir: Function,
    pub bytecodes: Vec<u8>,
    pub literal_count: usize,
    /// How many unboxed Float regions the region pass made.
    pub unboxed_regions: u32,
}

impl Unit {
    /// Reads the unit `(method, start)` (start 0: the method itself)
    /// with the optimizations `opts`.
    pub fn read(vm: &Vm, method: Value, start: u16, opts: Optimizations) -> Result<Unit, String> {
        // No speculative inlining: this back end does not lower its ops.
        let paths = FastPaths {
            inline: false,
            ..FastPaths::optimizing(opts)
        };
        let UnitIr {
            ir,
            bytecodes,
            literal_count,
            unboxed_regions,
            ..
        } = read_unit(vm, method, start, paths)?;
        Ok(Unit {
            ir,
            bytecodes,
            literal_count,
            unboxed_regions,
        })
    }

    /// How many sends the unit makes (one send site each).
    pub fn sends(&self) -> usize {
        self.ir
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|d| matches!(d.inst, Inst::Send { .. }))
            .count()
    }
}
